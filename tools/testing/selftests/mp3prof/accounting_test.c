// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof lossless accounting: the samples taken while a process was
 * registered add up to exactly what the process did while registered, as
 * the process measured it itself (/proc/self/stat, CLOCK_PROCESS_CPUTIME_ID)
 * and as wait4() reports it after its exit.  Nothing is lost at the exit,
 * nothing is counted after an unregistration.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#define MS		1000000ULL
#define PAGES		2000
#define BUSY_MS		300
#define AFTER_PAGES	500	/* work after "U", not to be counted */
#define AFTER_MS	100
#define BIG_PAGES	16384	/* left mapped: a long exit_mmap() */

/* What the child measured, in memory shared with the parent. */
struct acct {
	int step;		/* how far the child got */
	int err;
	uint64_t cy, ca;	/* own CPU time before the sleep, after "R" */
	uint64_t min0, maj0;	/* /proc/self/stat right after "R" */
	uint64_t cu0, cu1;	/* own CPU time around "U" */
	uint64_t min_u, maj_u;	/* /proc/self/stat right before "U" */
};

/* minflt and majflt from a /proc/PID/stat read through @fd. */
static int stat_faults(int fd, uint64_t *min, uint64_t *maj)
{
	char buf[1024], *p;
	unsigned long long v[10];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	int i;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2;
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt */
	for (i = 0; i < 10; i++) {
		while (*p == ' ')
			p++;
		if (i == 0) {
			p++;
			v[0] = 0;
			continue;
		}
		v[i] = strtoull(p, &p, 10);
	}
	*min = v[7];
	*maj = v[9];
	return 0;
}

struct work {
	long pages;
	uint64_t ms;
};

static void *work_thread(void *p)
{
	struct work *w = p;

	mp3_touch_pages(w->pages);
	mp3_burn_ms(w->ms);
	return NULL;
}

/* The registered work: @nthreads threads, or the calling one. */
static void do_work(int nthreads, long pages, uint64_t ms)
{
	struct work w = { pages / (nthreads ? nthreads : 1), ms / (nthreads ? nthreads : 1) };
	pthread_t th[4];
	int i;

	if (!nthreads) {
		work_thread(&w);
		return;
	}
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, work_thread, &w);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
}

/* Touch @n pages and leave them mapped. */
static void leave_mapped(long n)
{
	size_t ps = mp3_page_size(), len = n * ps, i;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return;
	madvise(m, len, MADV_NOHUGEPAGE);
	for (i = 0; i < len; i += ps)
		m[i] = 1;
}

static int child(struct acct *a, int nthreads, bool unreg, bool big)
{
	struct timespec sl = { 0, 2000000 };
	char cmd[32];
	int ctl, st, len;

	ctl = open(MP3_STATUS, O_WRONLY);
	st = open("/proc/self/stat", O_RDONLY);
	if (ctl < 0 || st < 0)
		return 1;
	/* warm up: code pages, stack, the stat buffer */
	mp3_touch_pages(4);
	mp3_burn_ms(2);
	if (stat_faults(st, &a->min0, &a->maj0))
		return 2;
	a->step = 1;

	/*
	 * Sleep just before registering: the context switch brings the
	 * kernel's sum_exec_runtime up to date, so the driver's baseline
	 * lags our own clock by at most the time between cy and ca.
	 */
	a->cy = mp3_proc_cpu_ns();
	nanosleep(&sl, NULL);
	len = snprintf(cmd, sizeof(cmd), "R %d\n", getpid());
	if (write(ctl, cmd, len) != len) {
		a->err = errno;
		return 3;
	}
	a->ca = mp3_proc_cpu_ns();
	if (stat_faults(st, &a->min0, &a->maj0))
		return 4;
	a->step = 2;

	do_work(nthreads, PAGES, BUSY_MS);
	if (big)
		leave_mapped(BIG_PAGES);
	a->step = 3;

	if (unreg) {
		len = snprintf(cmd, sizeof(cmd), "U %d\n", getpid());
		if (stat_faults(st, &a->min_u, &a->maj_u))
			return 5;
		a->cu0 = mp3_proc_cpu_ns();
		if (write(ctl, cmd, len) != len) {
			a->err = errno;
			return 6;
		}
		a->cu1 = mp3_proc_cpu_ns();
		/* none of this may be counted */
		do_work(nthreads, AFTER_PAGES, AFTER_MS);
	}
	a->step = 4;
	return 0;
}

static uint64_t tv_ns(const struct timeval *tv)
{
	return tv->tv_sec * MP3_NSEC + tv->tv_usec * 1000ULL;
}

static int64_t diff(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b);
}

FIXTURE(acct) {
	struct mp3_ring r;
	struct acct *a;
};

FIXTURE_VARIANT(acct) {
	int nthreads;
	bool unreg;
	bool big;	/* exit with much memory mapped: a long exit */
};

FIXTURE_VARIANT_ADD(acct, exit_registered) {
	.nthreads = 0,
	.unreg = false,
};

FIXTURE_VARIANT_ADD(acct, unregister_before_exit) {
	.nthreads = 0,
	.unreg = true,
};

FIXTURE_VARIANT_ADD(acct, threads_exit_registered) {
	.nthreads = 2,
	.unreg = false,
};

FIXTURE_VARIANT_ADD(acct, threads_unregister_before_exit) {
	.nthreads = 2,
	.unreg = true,
};

FIXTURE_VARIANT_ADD(acct, long_exit_registered) {
	.nthreads = 0,
	.unreg = false,
	.big = true,
};

FIXTURE_SETUP(acct)
{
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	self->r.fd = -1;
	self->a = MAP_FAILED;
	ASSERT_EQ(0, mp3_prepare())
		TH_LOG("processes are registered already and cannot be removed");
	ASSERT_EQ(0, mp3_ring_open(&self->r, 0));
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 5000));
	self->a = mmap(NULL, sizeof(*self->a), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->a);
	memset(self->a, 0, sizeof(*self->a));
}

FIXTURE_TEARDOWN(acct)
{
	mp3_cleanup();
	mp3_ring_close(&self->r);
	if (self->a != MAP_FAILED)
		munmap(self->a, sizeof(*self->a));
}

TEST_F_TIMEOUT(acct, samples_sum_to_rusage, 120)
{
	const struct acct *a = self->a;
	uint64_t h0, h1, final, want_cpu;
	uint64_t want_min, want_maj, slack;
	struct rusage ru;
	struct mp3_sum sum;
	int status;
	pid_t pid;

	/* nothing is registered: every sample from h0 on is the child's */
	h0 = mp3_head(&self->r);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(child(self->a, variant->nthreads, variant->unreg, variant->big));
	}
	mp3_track_child(pid);
	mp3_track_reg(pid);
	ASSERT_EQ(pid, wait4(pid, &status, 0, &ru));
	mp3_untrack_child(pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child failed at step %d: %s", a->step, strerror(a->err));

	/* the exit is noticed (or the U was), and sampling stops */
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 5000));
	EXPECT_EQ(0, mp3_count());
	mp3_untrack_reg(pid);
	h1 = mp3_head(&self->r);
	ASSERT_LT(h0, h1);
	ASSERT_GE(self->r.hdr->nr_records, h1 - h0);
	ASSERT_EQ(0, mp3_ring_sum(&self->r, h0, h1, &sum));

	final = tv_ns(&ru.ru_utime) + tv_ns(&ru.ru_stime);
	if (variant->unreg) {
		want_cpu = a->cu1 - a->ca;
		want_min = a->min_u - a->min0;
		want_maj = a->maj_u - a->maj0;
		/* the work after U did happen, and is not in the samples */
		EXPECT_LE(AFTER_PAGES, ru.ru_minflt - a->min_u);
		EXPECT_LE(AFTER_MS * MS * 3 / 4, final - a->cu1);
	} else {
		want_cpu = final - a->ca;
		want_min = ru.ru_minflt - a->min0;
		want_maj = ru.ru_majflt - a->maj0;
	}
	/*
	 * CPU time is exact at both ends: the driver reads a process's CPU
	 * time to the instant (as CLOCK_PROCESS_CPUTIME_ID does) while "R"
	 * is written, so its baseline lies between cy and ca; at "U" between
	 * cu0 and cu1; at the exit after the last schedule, so the final
	 * read is wait4()'s.  Allowed: those windows, and 2 us for rusage's
	 * microsecond rounding of utime and stime.  Faults: exact.
	 */
	slack = (a->ca - a->cy) + (variant->unreg ? a->cu1 - a->cu0 : 0) + 2000;
	TH_LOG("%llu samples: cpu %llu us, child %llu us, diff %lld us, slack %llu us",
	       (unsigned long long)sum.nr, (unsigned long long)sum.cpu_ns / 1000,
	       (unsigned long long)want_cpu / 1000,
	       (long long)diff(sum.cpu_ns, want_cpu) / 1000,
	       (unsigned long long)slack / 1000);
	TH_LOG("minflt %llu (child %llu), majflt %llu (child %llu), exited %llu",
	       (unsigned long long)sum.min_flt, (unsigned long long)want_min,
	       (unsigned long long)sum.maj_flt, (unsigned long long)want_maj,
	       (unsigned long long)sum.exited);

	EXPECT_LE(PAGES + (variant->big ? BIG_PAGES : 0), sum.min_flt);
	EXPECT_EQ(want_min, sum.min_flt);
	EXPECT_EQ(want_maj, sum.maj_flt);
	EXPECT_LE(BUSY_MS * MS * 3 / 4, sum.cpu_ns);
	EXPECT_GE(slack, (uint64_t)llabs(diff(sum.cpu_ns, want_cpu)));
	EXPECT_EQ(variant->unreg ? 0 : 1, sum.exited);
	EXPECT_EQ(1, sum.max_procs);
}

TEST_HARNESS_MAIN
