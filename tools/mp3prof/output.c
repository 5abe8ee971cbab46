// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof-monitor output formats: table, CSV, JSON lines and the classic
 * course monitor's "<jiffies> <minor> <major> <cpu time>" lines.
 *
 * With per_process, each sample's row is followed by one row per process
 * (its struct mp3prof_proc_record), in a layout whose rows are all alike:
 * the table and CSV gain pid, ppid and flags columns (CSV also a leading
 * "kind" column, "sample" or "proc"), JSON objects a "kind" member.
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
	o->begun = true;
	switch (o->fmt) {
	case MP3_FMT_TABLE:
		if (o->per_process)
			fprintf(o->f, "%8s %9s %8s %8s %9s %7s %9s %6s %6s %s\n",
				"seq", "time_s", "pid", "ppid", "minor", "major",
				"cpu_ms", "cpu_%", "nprocs", "flags");
		else
			fprintf(o->f, "%8s %9s %9s %7s %9s %6s %6s\n", "seq",
				"time_s", "minor", "major", "cpu_ms", "cpu_%",
				"nprocs");
		break;
	case MP3_FMT_CSV:
		if (o->per_process)
			fprintf(o->f,
				"kind,seq,jiffies,time_ns,pid,ppid,flags,min_flt,maj_flt,cpu_ns,nr_procs,nr_exited,work_ns\n");
		else
			fprintf(o->f,
				"seq,jiffies,time_ns,min_flt,maj_flt,cpu_ns,nr_procs,nr_exited,work_ns\n");
		break;
	default:
		break;
	}
}

/*
 * Length of the interval a sample covers: the distance to the previous
 * sample if that one was read, nothing was lost since and it is close,
 * else the nominal period (first sample, lost records in between, or
 * sampling restarted after a pause).
 */
static __u64 interval_ns(const struct mp3_out *o,
			 const struct mp3prof_sample *s)
{
	__u64 d;

	if (o->have_prev && s->time_ns > o->prev_ns) {
		d = s->time_ns - o->prev_ns;
		if (d <= 4 * o->period_ns)
			return d;
	}
	return o->period_ns;
}

static double pct(const struct mp3_out *o, __u64 cpu_ns)
{
	return 100.0 * (double)cpu_ns / (double)o->iv_ns;
}

static double secs(const struct mp3_out *o, const struct mp3prof_sample *s)
{
	return (double)(s->time_ns - o->first_ns) / NSEC_PER_SEC;
}

/* MP3PROF_PROC_* flags as words, "-" for none. */
static const char *proc_flags(__u16 flags, char *buf, size_t len)
{
	static const char *const names[] = { "exited", "removed", "dropped", "new" };
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
		if (!(flags & (1U << i)))
			continue;
		n += snprintf(buf + n, len - n, "%s%s", n ? "," : "", names[i]);
		if (n >= len)
			break;
	}
	return buf[0] ? buf : "-";
}

static void print_table(struct mp3_out *o, const struct mp3prof_sample *s)
{
	if (o->per_process) {
		fprintf(o->f, "%8llu %9.3f %8s %8s %9llu %7llu %9.3f %6.1f %6u %s\n",
			s->seq, secs(o, s), "all", "-", s->min_flt, s->maj_flt,
			(double)s->cpu_ns / 1e6, pct(o, s->cpu_ns), s->nr_procs,
			s->flags & MP3PROF_SAMPLE_UNTRACKED ? "untracked" : "-");
		return;
	}
	fprintf(o->f, "%8llu %9.3f %9llu %7llu %9.3f %6.1f %6u\n", s->seq,
		secs(o, s), s->min_flt, s->maj_flt, (double)s->cpu_ns / 1e6,
		pct(o, s->cpu_ns), s->nr_procs);
}

static void print_csv(struct mp3_out *o, const struct mp3prof_sample *s)
{
	if (o->per_process)
		fprintf(o->f, "sample,%llu,%llu,%llu,0,0,%u,%llu,%llu,%llu,%u,%u,%u\n",
			s->seq, s->jiffies, s->time_ns, s->flags, s->min_flt,
			s->maj_flt, s->cpu_ns, s->nr_procs, s->nr_exited,
			s->work_ns);
	else
		fprintf(o->f, "%llu,%llu,%llu,%llu,%llu,%llu,%u,%u,%u\n",
			s->seq, s->jiffies, s->time_ns, s->min_flt,
			s->maj_flt, s->cpu_ns, s->nr_procs, s->nr_exited,
			s->work_ns);
}

static void print_json(struct mp3_out *o, const struct mp3prof_sample *s)
{
	fputc('{', o->f);
	if (o->per_process)
		fprintf(o->f, "\"kind\":\"sample\",");
	fprintf(o->f, "\"seq\":%llu,\"jiffies\":%llu,\"time_ns\":%llu,",
		s->seq, s->jiffies, s->time_ns);
	if (o->per_process)
		fprintf(o->f, "\"flags\":%u,", s->flags);
	fprintf(o->f, "\"min_flt\":%llu,\"maj_flt\":%llu,\"cpu_ns\":%llu,",
		s->min_flt, s->maj_flt, s->cpu_ns);
	fprintf(o->f, "\"nr_procs\":%u,\"nr_exited\":%u,\"work_ns\":%u}\n",
		s->nr_procs, s->nr_exited, s->work_ns);
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
	o->iv_ns = interval_ns(o, s);

	switch (o->fmt) {
	case MP3_FMT_TABLE:
		print_table(o, s);
		break;
	case MP3_FMT_CSV:
		print_csv(o, s);
		break;
	case MP3_FMT_JSON:
		print_json(o, s);
		break;
	case MP3_FMT_CLASSIC:
		print_classic(o, s);
		break;
	}

	o->have_prev = true;
	o->prev_ns = s->time_ns;
}

void mp3_out_proc(struct mp3_out *o, const struct mp3prof_sample *s,
		  const struct mp3prof_proc_record *p)
{
	char buf[64];

	if (!o->per_process)
		return;
	o->procs++;
	switch (o->fmt) {
	case MP3_FMT_TABLE:
		fprintf(o->f, "%8llu %9.3f %8u %8u %9llu %7llu %9.3f %6.1f %6s %s\n",
			s->seq, secs(o, s), p->pid, p->ppid, p->min_flt,
			p->maj_flt, (double)p->cpu_ns / 1e6, pct(o, p->cpu_ns),
			"-", proc_flags(p->flags, buf, sizeof(buf)));
		break;
	case MP3_FMT_CSV:
		fprintf(o->f, "proc,%llu,%llu,%llu,%u,%u,%u,%llu,%llu,%llu,0,0,0\n",
			s->seq, s->jiffies, s->time_ns, p->pid, p->ppid,
			p->flags, p->min_flt, p->maj_flt, p->cpu_ns);
		break;
	case MP3_FMT_JSON:
		fprintf(o->f,
			"{\"kind\":\"proc\",\"seq\":%llu,\"jiffies\":%llu,\"time_ns\":%llu,",
			s->seq, s->jiffies, s->time_ns);
		fprintf(o->f, "\"pid\":%u,\"ppid\":%u,\"flags\":%u,", p->pid,
			p->ppid, p->flags);
		fprintf(o->f, "\"min_flt\":%llu,\"maj_flt\":%llu,\"cpu_ns\":%llu}\n",
			p->min_flt, p->maj_flt, p->cpu_ns);
		break;
	case MP3_FMT_CLASSIC:
		break;
	}
}

void mp3_out_gap(struct mp3_out *o)
{
	o->have_prev = false;
}

void mp3_out_lost(struct mp3_out *o, __u64 n)
{
	const char *what = o->lost_is_samples ? "sample" : "record";

	if (!n)
		return;
	o->lost += n;
	fflush(o->f);
	fprintf(stderr, "mp3prof-monitor: lost %llu %s%s: overwritten before being read\n",
		n, what, n == 1 ? "" : "s");
}

void mp3_out_end(struct mp3_out *o)
{
	if (!o->begun)
		return;
	switch (o->fmt) {
	case MP3_FMT_TABLE:
		fprintf(o->f,
			"# %llu samples, %llu lost, minor %llu, major %llu, cpu %.3f ms",
			o->samples, o->lost, o->min_flt, o->maj_flt,
			(double)o->cpu_ns / 1e6);
		if (o->per_process)
			fprintf(o->f, ", %llu process rows", o->procs);
		fputc('\n', o->f);
		break;
	case MP3_FMT_CLASSIC:
		fprintf(o->f, "read %llu profiled data\n", o->samples);
		break;
	default:
		break;
	}
	fflush(o->f);
}
