/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mp3prof-monitor output formats.
 *
 * Copyright (C) 2025 The mp3prof authors
 */
#ifndef _MP3PROF_OUTPUT_H
#define _MP3PROF_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include <linux/mp3prof.h>

enum mp3_format {
	MP3_FMT_TABLE,
	MP3_FMT_CSV,
	MP3_FMT_JSON,
	MP3_FMT_CLASSIC,
};

struct mp3_out {
	enum mp3_format fmt;
	FILE *f;
	__u32 hz;
	__u64 period_ns;
	__u64 samples;	/* samples printed */
	__u64 lost;		/* samples lost */
	bool have_prev;
	__u64 prev_seq;
	__u64 prev_ns;
	__u64 first_ns;
	__u64 min_flt;	/* totals over the printed samples */
	__u64 maj_flt;
	__u64 cpu_ns;
	__u64 cpu_jiffies;	/* classic: jiffies printed so far */
};

void mp3_out_begin(struct mp3_out *o);
void mp3_out_sample(struct mp3_out *o, const struct mp3prof_sample *s);
void mp3_out_lost(struct mp3_out *o, __u64 n);
void mp3_out_end(struct mp3_out *o);

#endif /* _MP3PROF_OUTPUT_H */
