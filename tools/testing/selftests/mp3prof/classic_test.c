// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof's course buffer, /dev/mp3prof_classic (CONFIG_MP3PROF_CLASSIC):
 * a reader that does exactly what the course's monitor does (open read-
 * write, map 128 pages read-write and shared, print every quadruple that
 * is not -1 and write -1 back, count them), checked against the ring's
 * records of the same samples; and the buffer's bad input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#define CLASSIC_DEV	"/dev/mp3prof_classic"
#define CLASSIC_PAGES	128
#define CLASSIC_SAMPLES	12000	/* the course monitor wraps its index here */

FIXTURE(classic) {
	struct mp3_ring r;
	unsigned long *buf;
	size_t len;
	int fd;
};

FIXTURE_SETUP(classic)
{
	self->r.fd = -1;
	self->buf = MAP_FAILED;
	self->fd = -1;
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	if (access(CLASSIC_DEV, F_OK))
		SKIP(return, "no %s (CONFIG_MP3PROF_CLASSIC)", CLASSIC_DEV);
	if (geteuid())
		SKIP(return, "needs root");
	ASSERT_EQ(0, mp3_prepare());
	ASSERT_EQ(0, mp3_ring_open(&self->r, 0));
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 5000));
	/* As the course's monitor opens and maps it. */
	self->len = CLASSIC_PAGES * mp3_page_size();
	self->fd = open(CLASSIC_DEV, O_RDWR | O_SYNC);
	ASSERT_LE(0, self->fd);
	self->buf = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(classic)
{
	mp3_cleanup();
	if (self->buf != MAP_FAILED)
		munmap(self->buf, self->len);
	if (self->fd >= 0)
		close(self->fd);
	mp3_ring_close(&self->r);
}

/*
 * The course monitor's loop: every quadruple that is not -1 is printed
 * (here: stored) and cleared.  Returns how many it read.
 */
static int monitor_read(unsigned long *buf, unsigned long (*out)[4], int max)
{
	int i, j, n = 0;

	for (i = 0; i < CLASSIC_SAMPLES; i++) {
		unsigned long *q = buf + 4 * i;

		if (q[0] == (unsigned long)-1)
			continue;
		if (n < max)
			memcpy(out[n], q, sizeof(out[n]));
		n++;
		for (j = 0; j < 4; j++)
			q[j] = (unsigned long)-1;
	}
	return n;
}

TEST_F_TIMEOUT(classic, monitor_reads_the_samples, 60)
{
	unsigned long (*q)[4] = calloc(CLASSIC_SAMPLES, sizeof(*q));
	uint64_t h0, h1, s, tick = MP3_NSEC / self->r.hdr->hz, ns = 0, jif = 0;
	struct mp3_worker w;
	struct mp3_wrep rep;
	int n, i, first;

	ASSERT_NE(NULL, q);
	/* What earlier tests' samples left: the monitor clears it. */
	monitor_read(self->buf, q, 0);
	EXPECT_EQ(0, monitor_read(self->buf, q, 0));

	h0 = mp3_head(&self->r);
	ASSERT_EQ(0, mp3_worker_start(&w));
	ASSERT_EQ(0, mp3_register(w.pid));
	ASSERT_EQ(0, mp3_worker_do(&w, MP3_OP_TOUCH, 1, 1000, &rep));
	ASSERT_EQ(0, mp3_worker_do(&w, MP3_OP_BUSY, 1, 200, &rep));
	ASSERT_EQ(0, mp3_wait_samples(&self->r, 3, 3000));
	ASSERT_EQ(0, mp3_unregister(w.pid));
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 5000));
	mp3_worker_stop(&w);
	h1 = mp3_head(&self->r);
	ASSERT_LT(h0, h1);
	ASSERT_GT(CLASSIC_SAMPLES, h1 - h0);

	n = monitor_read(self->buf, q, CLASSIC_SAMPLES);
	TH_LOG("read %d profiled data (%llu samples in the ring)", n,
	       (unsigned long long)(h1 - h0));
	EXPECT_EQ(h1 - h0, (uint64_t)n);
	/* All cleared: the next pass finds nothing. */
	EXPECT_EQ(0, monitor_read(self->buf, q, 0));

	/*
	 * The buffer wraps at CLASSIC_SAMPLES, so the oldest quadruple is the
	 * one whose jiffies match record h0, wherever it is in the buffer.
	 */
	first = -1;
	for (i = 0; i < n; i++) {
		struct mp3prof_sample rec;

		ASSERT_EQ(0, mp3_ring_get(&self->r, h0, &rec));
		if (q[i][0] == rec.jiffies && q[i][1] == rec.min_flt) {
			first = i;
			break;
		}
	}
	ASSERT_LE(0, first) TH_LOG("no quadruple matches record %llu",
				   (unsigned long long)h0);
	for (s = h0; s < h1; s++) {
		unsigned long *e = q[(first + s - h0) % n];
		struct mp3prof_sample rec;

		ASSERT_EQ(0, mp3_ring_get(&self->r, s, &rec));
		EXPECT_EQ(rec.jiffies, e[0]) TH_LOG("record %llu", (unsigned long long)s);
		EXPECT_EQ(rec.min_flt, e[1]);
		EXPECT_EQ(rec.maj_flt, e[2]);
		/* CPU time in jiffies, the remainder carried to the next one */
		EXPECT_GE(rec.cpu_ns / tick + 1, e[3]);
		ns += rec.cpu_ns;
		jif += e[3];
	}
	/*
	 * The carry loses less than one jiffy over all of them, and the
	 * remainder carried in from the samples before h0 adds at most one.
	 */
	EXPECT_GE(ns / tick + 1, jif);
	EXPECT_LE(ns / tick, jif + 1);
	EXPECT_LE(200 * 1000000ULL / tick / 2, jif);
	free(q);
}

TEST_F(classic, starts_all_minus_one_after_clear)
{
	size_t i, longs = self->len / sizeof(unsigned long);
	unsigned long (*q)[4] = calloc(1, sizeof(*q));

	ASSERT_NE(NULL, q);
	monitor_read(self->buf, q, 0);
	/* Nothing is sampled: the whole buffer, past the last slot too, is -1. */
	for (i = 0; i < longs; i++)
		ASSERT_EQ((unsigned long)-1, self->buf[i]) TH_LOG("long %zu", i);
	free(q);
}

static int try_map(size_t len, int prot, int flags, off_t off)
{
	int fd = open(CLASSIC_DEV, O_RDWR), ret = 0;
	void *p;

	if (fd < 0)
		return -errno;
	p = mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		ret = -errno;
	else
		munmap(p, len);
	close(fd);
	return ret;
}

TEST_F(classic, bad_mappings)
{
	size_t ps = mp3_page_size();

	EXPECT_EQ(-EINVAL, try_map(self->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0));
	EXPECT_EQ(-EINVAL, try_map(self->len + ps, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	EXPECT_EQ(-EINVAL, try_map(ps, PROT_READ | PROT_WRITE, MAP_SHARED, ps));
	EXPECT_EQ(-EPERM, try_map(ps, PROT_READ | PROT_EXEC, MAP_SHARED, 0));
	/* Smaller and read-only are fine. */
	EXPECT_EQ(0, try_map(ps, PROT_READ, MAP_SHARED, 0));
	EXPECT_EQ(0, try_map(self->len, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
}

TEST_F(classic, root_only)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		if (open(CLASSIC_DEV, O_RDWR) >= 0 || open(CLASSIC_DEV, O_RDONLY) >= 0)
			_exit(1);
		_exit(errno == EACCES ? 0 : 3);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("1: opened by uid 65534, 3: other errno");
}

TEST_HARNESS_MAIN
