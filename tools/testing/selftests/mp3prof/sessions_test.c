// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof sessions: MP3PROF_IOC_SESSION, MP3PROF_IOC_ADD/REMOVE, session
 * rings.
 */
#define _GNU_SOURCE
#include "../kselftest_harness.h"
#include "mp3prof_util.h"

TEST(config_size)
{
	unsigned char buf[64] = { 0 };
	int fd;

	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	fd = open(MP3_DEV, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, mp3_session_configure_raw(fd, buf, MP3PROF_SESSION_CONFIG_SIZE_VER0 - 1));
	EXPECT_EQ(0, mp3_session_configure_raw(fd, buf, sizeof(buf)));
	close(fd);
}

TEST_HARNESS_MAIN
