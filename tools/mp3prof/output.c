// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof-monitor output formats: table, CSV, JSON lines and the classic
 * course monitor's "<jiffies> <minor> <major> <cpu time>" lines.
 *
 * Copyright (C) 2025 The mp3prof authors
 */

#include "output.h"

#define NSEC_PER_SEC	1000000000ULL

/* ns to jiffies at @hz without overflowing 64 bits. */
static __u64 ns_to_jiffies(__u64 ns, __u32 hz)
{
	return ns / NSEC_PER_SEC * hz + ns % NSEC_PER_SEC * hz / NSEC_PER_SEC;
}

void mp3_out_begin(struct mp3_out *o)
{
	switch (o->fmt) {
	case MP3_FMT_TABLE:
		fprintf(o->f, "%8s %9s %9s %7s %9s %6s %6s\n", "seq",
			"time_s", "minor", "major", "cpu_ms", "cpu_%",
			"nprocs");
		break;
	case MP3_FMT_CSV:
		fprintf(o->f,
			"seq,jiffies,time_ns,min_flt,maj_flt,cpu_ns,nr_procs,nr_exited,work_ns\n");
		break;
	default:
		break;
	}
}

/*
 * Length of the interval a sample covers: the distance to the previous
 * sample if that one is known and close, else the nominal period (first
 * sample, lost samples in between, or sampling restarted after a pause).
 */
static __u64 interval_ns(const struct mp3_out *o,
			 const struct mp3prof_sample *s)
{
	__u64 d;

	if (o->have_prev && o->prev_seq + 1 == s->seq && s->time_ns > o->prev_ns) {
		d = s->time_ns - o->prev_ns;
		if (d <= 4 * o->period_ns)
			return d;
	}
	return o->period_ns;
}

static void print_table(struct mp3_out *o, const struct mp3prof_sample *s)
{
	__u64 iv = interval_ns(o, s);

	fprintf(o->f, "%8llu %9.3f %9llu %7llu %9.3f %6.1f %6u\n", s->seq,
		(double)(s->time_ns - o->first_ns) / NSEC_PER_SEC,
		s->min_flt, s->maj_flt, (double)s->cpu_ns / 1e6,
		100.0 * (double)s->cpu_ns / (double)iv, s->nr_procs);
}

static void print_classic(struct mp3_out *o, const struct mp3prof_sample *s)
{
	__u64 total = ns_to_jiffies(o->cpu_ns, o->hz);

	/*
	 * Print the difference of the rounded-down running total so that
	 * sub-jiffy remainders are carried, not dropped, from sample to
	 * sample: the printed values add up to the total CPU time.
	 */
	fprintf(o->f, "%llu %llu %llu %llu\n", s->jiffies, s->min_flt,
		s->maj_flt, total - o->cpu_jiffies);
	o->cpu_jiffies = total;
}

void mp3_out_sample(struct mp3_out *o, const struct mp3prof_sample *s)
{
	if (!o->samples)
		o->first_ns = s->time_ns;
	o->samples++;
	o->min_flt += s->min_flt;
	o->maj_flt += s->maj_flt;
	o->cpu_ns += s->cpu_ns;

	switch (o->fmt) {
	case MP3_FMT_TABLE:
		print_table(o, s);
		break;
	case MP3_FMT_CSV:
		fprintf(o->f, "%llu,%llu,%llu,%llu,%llu,%llu,%u,%u,%llu\n",
			s->seq, s->jiffies, s->time_ns, s->min_flt,
			s->maj_flt, s->cpu_ns, s->nr_procs, s->nr_exited,
			s->work_ns);
		break;
	case MP3_FMT_JSON:
		fprintf(o->f, "{\"seq\":%llu,\"jiffies\":%llu,\"time_ns\":%llu,",
			s->seq, s->jiffies, s->time_ns);
		fprintf(o->f, "\"min_flt\":%llu,\"maj_flt\":%llu,\"cpu_ns\":%llu,",
			s->min_flt, s->maj_flt, s->cpu_ns);
		fprintf(o->f, "\"nr_procs\":%u,\"nr_exited\":%u,\"work_ns\":%llu}\n",
			s->nr_procs, s->nr_exited, s->work_ns);
		break;
	case MP3_FMT_CLASSIC:
		print_classic(o, s);
		break;
	}

	o->have_prev = true;
	o->prev_seq = s->seq;
	o->prev_ns = s->time_ns;
}

void mp3_out_lost(struct mp3_out *o, __u64 n)
{
	if (!n)
		return;
	o->lost += n;
	fflush(o->f);
	fprintf(stderr, "mp3prof-monitor: lost %llu sample%s: overwritten before being read\n",
		n, n == 1 ? "" : "s");
}

void mp3_out_end(struct mp3_out *o)
{
	switch (o->fmt) {
	case MP3_FMT_TABLE:
		fprintf(o->f,
			"# %llu samples, %llu lost, minor %llu, major %llu, cpu %.3f ms\n",
			o->samples, o->lost, o->min_flt, o->maj_flt,
			(double)o->cpu_ns / 1e6);
		break;
	case MP3_FMT_CLASSIC:
		fprintf(o->f, "read %llu profiled data\n", o->samples);
		break;
	default:
		break;
	}
	fflush(o->f);
}
