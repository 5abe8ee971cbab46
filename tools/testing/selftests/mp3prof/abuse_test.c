// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof /dev/mp3prof mapping abuse: what user space may do to its
 * read-only mapping of the ring (fork, mremap, mprotect, madvise, partial
 * munmap, /proc/PID/mem) must neither fault the mapping, nor let anybody
 * write to the ring, nor disturb the kernel.  And readers hammering the
 * mapping while samples are written never see a torn record.
 * mmap_test.c covers what mmap() itself accepts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define MS	1000000ULL

FIXTURE(abuse) {
	struct mp3_ring r;
	size_t ps;
};

FIXTURE_SETUP(abuse)
{
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	self->r.fd = -1;
	self->ps = mp3_page_size();
	ASSERT_EQ(0, mp3_prepare())
		TH_LOG("processes are registered already and cannot be removed");
	ASSERT_EQ(0, mp3_ring_open(&self->r, 0));
}

FIXTURE_TEARDOWN(abuse)
{
	mp3_cleanup();
	mp3_ring_close(&self->r);
}

/* A child that faults fresh pages and burns CPU until killed. */
static pid_t spawn_busy(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		size_t ps = mp3_page_size();

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		for (;;) {
			char *m = mmap(NULL, 16 * ps, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			size_t i;

			if (m != MAP_FAILED) {
				for (i = 0; i < 16 * ps; i += ps)
					m[i] = 1;
				munmap(m, 16 * ps);
			}
		}
	}
	if (pid > 0)
		mp3_track_child(pid);
	return pid;
}

/* Make samples exist: register a busy child (left registered). */
static int start_sampling(const struct mp3_ring *r, unsigned int n)
{
	pid_t pid = spawn_busy();
	int ret;

	if (pid < 0)
		return -errno;
	ret = mp3_register(pid);
	return ret ? ret : mp3_wait_samples(r, n, 5000);
}

/* Read one byte every @step bytes. */
static void read_pages(const char *map, size_t len, size_t step)
{
	unsigned int sink = 0;
	size_t i;

	for (i = 0; i < len; i += step)
		sink += __atomic_load_n((const unsigned char *)map + i, __ATOMIC_RELAXED);
	__asm__ __volatile__("" : : "r" (sink));
}

/* Read every page of a mapping that starts at the header: 0 if it is sane. */
static int touch_all(const char *map, size_t len, size_t step)
{
	const struct mp3prof_header *h = (const void *)map;

	read_pages(map, len, step);
	if (h->magic != MP3PROF_MAGIC || h->version != MP3PROF_ABI_VERSION)
		return 1;
	return 0;
}

/*
 * Run @fn in a child, so that a fault of the mapping is reported instead
 * of killing the test: its exit code, or 128 + the signal.
 */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct map_arg {
	const struct mp3_ring *r;
	size_t ps;
};

/* Child of fork(): read the header and every record the seq protocol allows. */
static int child_reads_ring(void *p)
{
	const struct map_arg *a = p;
	const struct mp3_ring *r = a->r;
	struct mp3prof_sample s;
	uint64_t head = mp3_head(r), i, from, valid = 0;

	if (touch_all((const char *)r->hdr, r->len, a->ps))
		return 10;
	from = head > r->hdr->nr_records ? head - r->hdr->nr_records : 0;
	for (i = from; i < head; i++) {
		int ret = mp3_ring_get(r, i, &s);

		if (ret == 0)
			valid++;
		else if (ret != -ESTALE)
			return 11;
	}
	if (head && !valid)
		return 12;
	/* the child's own mapping changes are its own */
	if (munmap((char *)r->hdr + a->ps, r->len - a->ps))
		return 13;
	if (mp3_wait_head(r, head + 1, 5000) < 0)
		return 14;
	return 0;
}

TEST_F(abuse, fork_child_reads)
{
	struct map_arg a = { &self->r, self->ps };
	uint64_t h;
	int ret;

	ASSERT_EQ(0, start_sampling(&self->r, 2));
	ret = in_child(child_reads_ring, &a);
	EXPECT_EQ(0, ret)
		TH_LOG("child: 10 header, 11 record, 12 empty, 13 munmap, 14 stuck, >128 signal");
	/* a child that exits holding the mapping */
	ret = fork();
	ASSERT_LE(0, ret);
	if (ret == 0)
		_exit(touch_all((const char *)self->r.hdr, self->r.len, self->ps));
	ASSERT_EQ(ret, waitpid(ret, &ret, 0));
	EXPECT_TRUE(WIFEXITED(ret) && WEXITSTATUS(ret) == 0);

	/* the parent's mapping is untouched */
	EXPECT_EQ(0, touch_all((const char *)self->r.hdr, self->r.len, self->ps));
	h = mp3_head(&self->r);
	EXPECT_LE(0, mp3_wait_head(&self->r, h + 2, 5000));
}

TEST_F(abuse, mremap_split_move)
{
	size_t ps = self->ps, full = self->r.len;
	char *p, *q, *dst;
	int fd = self->r.fd;

	if (full < 4 * ps)
		SKIP(return, "ring of %zu pages too small", full / ps);
	p = mmap(NULL, full, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);

	/* shrinking is fine, growing back is not */
	q = mremap(p, full, full - ps, 0);
	ASSERT_EQ(p, q);
	EXPECT_EQ(MAP_FAILED, mremap(p, full - ps, full, 0));
	EXPECT_EQ(MAP_FAILED, mremap(p, full - ps, full, MREMAP_MAYMOVE));
	/* MREMAP_DONTUNMAP is for anonymous memory */
	q = mremap(p, ps, ps, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	EXPECT_EQ(MAP_FAILED, q);
	if (q != MAP_FAILED)
		munmap(q, ps);
	EXPECT_EQ(0, touch_all(p, full - ps, ps));

	/* a hole in the middle splits the mapping; both halves still read */
	ASSERT_EQ(0, munmap(p + 2 * ps, ps));
	EXPECT_EQ(0, touch_all(p, 2 * ps, ps));
	read_pages(p + 3 * ps, full - 4 * ps, ps);

	/* move the tail elsewhere, same size: the same pages */
	dst = mmap(NULL, full, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	q = mremap(p + 3 * ps, full - 4 * ps, full - 4 * ps,
		   MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, q) TH_LOG("mremap move: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(q, (char *)self->r.hdr + 3 * ps, ps));
	/* and it cannot grow where it landed either */
	EXPECT_EQ(MAP_FAILED, mremap(q, full - 4 * ps, full - 3 * ps, 0));
	/* the header half still works */
	EXPECT_EQ(MP3PROF_MAGIC, ((struct mp3prof_header *)p)->magic);
	munmap(p, 2 * ps);
	munmap(dst, full);
}

TEST_F(abuse, mprotect_exec_none)
{
	size_t ps = self->ps, full = self->r.len;
	char *p = mmap(NULL, full, PROT_READ, MAP_SHARED, self->r.fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	/* mmap_test.c tries PROT_WRITE; exec is refused the same way */
	EXPECT_EQ(-1, mprotect(p, full, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p + ps, ps, PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, ps, PROT_READ | PROT_WRITE | PROT_EXEC));
	/* taking access away and giving it back is fine */
	EXPECT_EQ(0, mprotect(p, full, PROT_NONE));
	EXPECT_EQ(0, mprotect(p, full, PROT_READ));
	EXPECT_EQ(0, touch_all(p, full, ps));
	/* on part of it: splits the mapping */
	EXPECT_EQ(0, mprotect(p + ps, ps, PROT_NONE));
	EXPECT_EQ(-1, mprotect(p + ps, ps, PROT_EXEC));
	EXPECT_EQ(0, mprotect(p + ps, ps, PROT_READ));
	EXPECT_EQ(0, touch_all(p, full, ps));
	/* mlock() of the special mapping is harmless */
	if (mlock(p, full) == 0)
		munlock(p, full);
	EXPECT_EQ(0, touch_all(p, full, ps));
	munmap(p, full);
}

struct madv_arg {
	int fd;
	size_t len, ps;
	int advice;
	int ret, err;	/* madvise() result, shared with the parent */
};

static int child_madvise(void *p)
{
	struct madv_arg *a = p;
	char *m = mmap(NULL, a->len, PROT_READ, MAP_SHARED, a->fd, 0);
	char copy[64];

	if (m == MAP_FAILED)
		return 20;
	if (touch_all(m, a->len, a->ps))
		return 21;
	memcpy(copy, m, sizeof(copy));
	a->ret = madvise(m, a->len, a->advice);
	a->err = errno;
	/* whatever madvise() said, the mapping reads the same ring */
	if (touch_all(m, a->len, a->ps))
		return 22;
	if (memcmp(copy, m, offsetof(struct mp3prof_header, head)))
		return 23;
	munmap(m, a->len);
	return 0;
}

static const struct {
	int advice;
	const char *name;
} advices[] = {
	{ MADV_NORMAL, "MADV_NORMAL" },
	{ MADV_RANDOM, "MADV_RANDOM" },
	{ MADV_SEQUENTIAL, "MADV_SEQUENTIAL" },
	{ MADV_WILLNEED, "MADV_WILLNEED" },
	{ MADV_DONTFORK, "MADV_DONTFORK" },
	{ MADV_DOFORK, "MADV_DOFORK" },
	{ MADV_DODUMP, "MADV_DODUMP" },
	{ MADV_DONTDUMP, "MADV_DONTDUMP" },
	{ MADV_HUGEPAGE, "MADV_HUGEPAGE" },
	{ MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE" },
	{ MADV_MERGEABLE, "MADV_MERGEABLE" },
	{ MADV_FREE, "MADV_FREE" },
	{ MADV_REMOVE, "MADV_REMOVE" },
	{ MADV_WIPEONFORK, "MADV_WIPEONFORK" },
	{ MADV_COLD, "MADV_COLD" },
	{ MADV_PAGEOUT, "MADV_PAGEOUT" },
	{ MADV_POPULATE_READ, "MADV_POPULATE_READ" },
	{ MADV_DONTNEED, "MADV_DONTNEED" },
};

TEST_F_TIMEOUT(abuse, madvise_then_read, 120)
{
	struct madv_arg *a;
	unsigned int i;
	int ret;

	/* MADV_NORMAL cannot fail where madvise() exists */
	if (madvise((void *)self->r.hdr, self->ps, MADV_NORMAL))
		SKIP(return, "no madvise() (CONFIG_ADVISE_SYSCALLS=n?): %s", strerror(errno));
	a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_EQ(0, start_sampling(&self->r, 1));
	for (i = 0; i < ARRAY_SIZE(advices); i++) {
		*a = (struct madv_arg){ .fd = self->r.fd, .len = self->r.len,
					.ps = self->ps, .advice = advices[i].advice };
		ret = in_child(child_madvise, a);
		TH_LOG("%s: madvise %s, mapping %s", advices[i].name,
		       a->ret ? strerror(a->err) : "ok",
		       ret == 0 ? "reads fine" : ret > 128 ? strsignal(ret - 128) : "broken");
		EXPECT_EQ(0, ret)
			TH_LOG("%s: the mapping %s after madvise() returned %s",
			       advices[i].name,
			       ret > 128 ? "faults" : "reads garbage",
			       a->ret ? strerror(a->err) : "0");
	}
	/* nothing of that reached the ring or the other mappings */
	EXPECT_EQ(0, touch_all((const char *)self->r.hdr, self->r.len, self->ps));
	EXPECT_LE(0, mp3_wait_head(&self->r, mp3_head(&self->r) + 1, 5000));
	munmap(a, sizeof(*a));
}

TEST_F(abuse, proc_mem_write_refused)
{
	const struct mp3prof_header *h = self->r.hdr;
	struct mp3prof_header before = *h;
	uint32_t evil = 0xdeadbeef;
	struct iovec local = { &evil, sizeof(evil) };
	struct iovec remote = { (void *)&h->magic, sizeof(evil) };
	char buf[64];
	int fd;

	/* reading through /proc/self/mem is reading the mapping */
	fd = open("/proc/self/mem", O_RDWR);
	if (fd < 0)
		SKIP(return, "/proc/self/mem: %s", strerror(errno));
	if (pread(fd, buf, sizeof(buf), (off_t)(uintptr_t)h) == sizeof(buf))
		EXPECT_EQ(0, memcmp(buf, h, offsetof(struct mp3prof_header, head)));
	/* FOLL_FORCE writes to a shared read-only mapping are refused */
	EXPECT_EQ(-1, pwrite(fd, &evil, sizeof(evil), (off_t)(uintptr_t)&h->magic));
	EXPECT_EQ(-1, pwrite(fd, &evil, sizeof(evil), (off_t)(uintptr_t)&h->head));
	close(fd);
	EXPECT_EQ(-1, process_vm_writev(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(MP3PROF_MAGIC, h->magic);
	EXPECT_EQ(0, memcmp(&before, h, offsetof(struct mp3prof_header, head)));
}

#define READERS		2
#define MAX_SEEN	4096

struct reader {
	const struct mp3_ring *r;
	uint64_t from;		/* first record of the test */
	uint64_t t0;		/* CLOCK_MONOTONIC before it */
	int *stop;		/* read with __atomic_load_n() */
	size_t ps;
	/* results */
	uint64_t loops, valid, stale, bad, backwards;
	char why[160];
	struct mp3prof_sample *seen;	/* valid copy of record from + i */
	uint8_t *have;
};

static void reader_bad(struct reader *rd, const char *what, uint64_t s)
{
	if (!rd->bad++)
		snprintf(rd->why, sizeof(rd->why), "record %llu: %s",
			 (unsigned long long)s, what);
}

static void *reader_fn(void *p)
{
	struct reader *rd = p;
	const struct mp3_ring *r = rd->r;
	const struct mp3prof_header *h = r->hdr;
	uint32_t nr = h->nr_records;

	while (!__atomic_load_n(rd->stop, __ATOMIC_RELAXED)) {
		uint64_t head = mp3_head(r), s, from;
		struct mp3prof_sample prev = { 0 }, cur;
		bool have_prev = false;

		/* the whole mapping, every cache line */
		if (touch_all((const char *)h, r->len, 64))
			reader_bad(rd, "header changed", 0);
		from = head > nr ? head - nr : 0;
		if (from < rd->from)
			from = rd->from;
		for (s = from; s < head; s++) {
			int ret = mp3_ring_get(r, s, &cur);
			uint64_t dj;

			if (ret) {
				rd->stale++;
				have_prev = false;
				continue;
			}
			rd->valid++;
			if (cur.time_ns < rd->t0 || cur.time_ns > mp3_now_ns())
				reader_bad(rd, "time_ns out of the test's time", s);
			if (cur.nr_exited > cur.nr_procs || cur.nr_procs > 2)
				reader_bad(rd, "nr_procs/nr_exited inconsistent", s);
			if (cur.work_ns > cur.time_ns - rd->t0 + MP3_NSEC)
				reader_bad(rd, "work_ns absurd", s);
			/* equal is possible: the clock may be jiffies-based */
			dj = cur.jiffies - prev.jiffies;
			if (have_prev && (cur.time_ns < prev.time_ns || (int64_t)dj < 0)) {
				rd->backwards++;
				reader_bad(rd, "time goes backwards", s);
			}
			if (s - rd->from < MAX_SEEN) {
				rd->seen[s - rd->from] = cur;
				rd->have[s - rd->from] = 1;
			}
			prev = cur;
			have_prev = true;
		}
		rd->loops++;
	}
	return NULL;
}

TEST_F_TIMEOUT(abuse, readers_never_see_torn_records, 120)
{
	struct reader rd[READERS];
	pthread_t th[READERS];
	int stop = 0;
	uint64_t t0, h0, h1, s, n, mismatches = 0;
	unsigned int ms = 3000;
	const char *env = getenv("MP3PROF_ABUSE_MS");
	int i;

	if (env)
		ms = atoi(env);
	t0 = mp3_now_ns();
	h0 = mp3_head(&self->r);
	/* two busy processes keep the samples non-trivial */
	for (i = 0; i < 2; i++) {
		pid_t pid = spawn_busy();

		ASSERT_LT(0, pid);
		ASSERT_EQ(0, mp3_register(pid));
	}
	for (i = 0; i < READERS; i++) {
		rd[i] = (struct reader){ .r = &self->r, .from = h0, .t0 = t0,
					 .stop = &stop, .ps = self->ps };
		rd[i].seen = calloc(MAX_SEEN, sizeof(*rd[i].seen));
		rd[i].have = calloc(MAX_SEEN, 1);
		ASSERT_NE(NULL, rd[i].seen);
		ASSERT_NE(NULL, rd[i].have);
		ASSERT_EQ(0, pthread_create(&th[i], NULL, reader_fn, &rd[i]));
	}
	mp3_msleep(ms);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	mp3_cleanup();
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 5000));
	h1 = mp3_head(&self->r);

	/*
	 * Whatever a reader accepted must be what the record holds now that
	 * the writer is done with it: a torn copy would differ.
	 */
	for (s = h0; s < h1 && s - h0 < MAX_SEEN; s++) {
		struct mp3prof_sample now;

		if (mp3_ring_get(&self->r, s, &now))
			continue;	/* overwritten since: a small ring */
		for (i = 0; i < READERS; i++)
			if (rd[i].have[s - h0] && memcmp(&rd[i].seen[s - h0], &now, sizeof(now)))
				mismatches++;
	}
	n = 0;
	for (i = 0; i < READERS; i++) {
		TH_LOG("reader %d: %llu passes, %llu valid, %llu stale or busy copies",
		       i, (unsigned long long)rd[i].loops, (unsigned long long)rd[i].valid,
		       (unsigned long long)rd[i].stale);
		EXPECT_EQ(0, rd[i].bad) TH_LOG("reader %d: %s", i, rd[i].why);
		n += rd[i].valid;
		free(rd[i].seen);
		free(rd[i].have);
	}
	TH_LOG("%llu samples while reading", (unsigned long long)(h1 - h0));
	EXPECT_EQ(0, mismatches) TH_LOG("accepted copies that differ from the record");
	EXPECT_LT(h0 + 2, h1);
	EXPECT_LT(0, n);
}

TEST_HARNESS_MAIN
