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
	bool per_process;	/* a row per process after each sample's row */
	bool lost_is_samples;	/* the ring has no per-process records */
	FILE *f;
	bool begun;		/* mp3_out_begin() was called */
	__u32 hz;
	__u64 period_ns;
	__u64 samples;		/* samples printed */
	__u64 procs;		/* per-process rows printed */
	__u64 lost;		/* records lost */
	bool have_prev;		/* the previous sample was read, none lost since */
	__u64 prev_ns;
	__u64 first_ns;
	__u64 iv_ns;		/* interval the current sample covers */
	__u64 min_flt;		/* totals over the printed samples */
	__u64 maj_flt;
	__u64 cpu_ns;
	__u64 cpu_jiffies;	/* classic: jiffies printed so far */
};

void mp3_out_begin(struct mp3_out *o);
void mp3_out_sample(struct mp3_out *o, const struct mp3prof_sample *s);
/* A per-process record @p of sample @s, printed after @s. */
void mp3_out_proc(struct mp3_out *o, const struct mp3prof_sample *s,
		  const struct mp3prof_proc_record *p);
/* Records were lost here: the next sample's interval is not known. */
void mp3_out_gap(struct mp3_out *o);
/* Report @n lost records on stderr (nothing if 0). */
void mp3_out_lost(struct mp3_out *o, __u64 n);
/* The summary, if mp3_out_begin() was called. */
void mp3_out_end(struct mp3_out *o);

#endif /* _MP3PROF_OUTPUT_H */
