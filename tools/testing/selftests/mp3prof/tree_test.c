// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof whole-tree sessions: placeholder until the real tests land.
 */
#define _GNU_SOURCE
#include "../kselftest_harness.h"
#include "mp3prof_util.h"

TEST(placeholder)
{
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	SKIP(return, "whole-tree tests not written yet");
}

TEST_HARNESS_MAIN
