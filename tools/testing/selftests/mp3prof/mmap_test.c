// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof /dev/mp3prof tests: what may be mapped and how, the header, the
 * records and their sequence protocol, read() and poll() of the head.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/time.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#define MS	1000000ULL

FIXTURE(ring) {
	struct mp3_ring r;
	size_t ps;
	size_t full;	/* largest mapping allowed */
};

FIXTURE_SETUP(ring)
{
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	self->r.fd = -1;
	self->ps = mp3_page_size();
	ASSERT_EQ(0, mp3_prepare())
		TH_LOG("processes are registered already and cannot be removed");
	ASSERT_EQ(0, mp3_ring_open(&self->r, 0));
	self->full = self->r.len;
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 3000));
}

FIXTURE_TEARDOWN(ring)
{
	mp3_cleanup();
	mp3_ring_close(&self->r);
}

/* Map @len at @off of a fresh fd opened with @oflags: 0 or -errno. */
static int try_map(size_t len, int prot, int flags, off_t off, int oflags)
{
	int fd = open(MP3_DEV, oflags), ret = 0;
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

/* Take a few samples with a sleeping child registered, then stop. */
static int make_samples(const struct mp3_ring *r, unsigned int n)
{
	pid_t pid = mp3_spawn_sleeper();
	int ret;

	if (pid < 0)
		return -errno;
	ret = mp3_register(pid);
	if (!ret)
		ret = mp3_wait_samples(r, n, 2000);
	mp3_unregister(pid);
	mp3_kill_reap(pid);
	if (!ret)
		ret = mp3_wait_idle(r, 300, 3000);
	return ret;
}

TEST_F(ring, header_fields)
{
	const struct mp3prof_header *h;
	long long param;
	void *p;
	int fd;

	fd = open(MP3_DEV, O_RDONLY);
	ASSERT_LE(0, fd);
	/* mapping only the first page is allowed */
	p = mmap(NULL, self->ps, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	h = p;
	EXPECT_EQ(MP3PROF_MAGIC, h->magic);
	EXPECT_EQ(MP3PROF_ABI_VERSION, h->version);
	EXPECT_EQ(self->ps, h->header_size);
	EXPECT_EQ(sizeof(struct mp3prof_sample), h->record_size);
	EXPECT_EQ(64, h->record_size);
	EXPECT_LT(0, h->nr_records);
	EXPECT_EQ(0, h->nr_records & (h->nr_records - 1));
	EXPECT_LT(0, h->rate);
	EXPECT_GE(h->hz, h->rate);
	EXPECT_EQ(0, h->flags);
	EXPECT_EQ(MP3_NSEC / h->rate, h->period_ns);
	TH_LOG("%u records, rate %u, HZ %u, head %llu, work %llu ns",
	       h->nr_records, h->rate, h->hz, (unsigned long long)h->head,
	       (unsigned long long)h->work_ns);
	param = mp3_read_ull(MP3_PARAMS "rate");
	if (param > 0)
		EXPECT_EQ(param, h->rate);
	/* same view as the full mapping of another open file */
	EXPECT_EQ(mp3_head(&self->r), h->head);
	EXPECT_EQ(0, memcmp(h, self->r.hdr, sizeof(*h)));
	munmap(p, self->ps);
	close(fd);
}

TEST_F(ring, map_lengths)
{
	size_t hs = self->r.hdr->header_size;

	EXPECT_EQ(0, try_map(self->full, PROT_READ, MAP_SHARED, 0, O_RDONLY));
	EXPECT_EQ(0, try_map(self->full - 1, PROT_READ, MAP_SHARED, 0, O_RDONLY));
	EXPECT_EQ(0, try_map(1, PROT_READ, MAP_SHARED, 0, O_RDONLY));
	EXPECT_EQ(0, try_map(hs + 1, PROT_READ, MAP_SHARED, 0, O_RDONLY));
	EXPECT_EQ(0, try_map(self->full - self->ps, PROT_READ, MAP_SHARED, 0, O_RDONLY));
	/* MAP_SHARED_VALIDATE is a shared mapping too */
	EXPECT_EQ(0, try_map(self->full, PROT_READ, MAP_SHARED_VALIDATE, 0, O_RDONLY));

	EXPECT_EQ(-EINVAL, try_map(self->full + 1, PROT_READ, MAP_SHARED, 0, O_RDONLY));
	EXPECT_EQ(-EINVAL, try_map(self->full + self->ps, PROT_READ, MAP_SHARED, 0, O_RDONLY));
	EXPECT_EQ(-EINVAL, try_map(2 * self->full, PROT_READ, MAP_SHARED, 0, O_RDONLY));
	EXPECT_EQ(-EINVAL, try_map(64 * self->full, PROT_READ, MAP_SHARED, 0, O_RDONLY));
}

TEST_F(ring, map_offset)
{
	EXPECT_EQ(-EINVAL, try_map(self->ps, PROT_READ, MAP_SHARED, self->ps, O_RDONLY));
	EXPECT_EQ(-EINVAL, try_map(self->full - self->ps, PROT_READ, MAP_SHARED,
				   self->ps, O_RDONLY));
	EXPECT_EQ(-EINVAL, try_map(self->ps, PROT_READ, MAP_SHARED, self->full, O_RDONLY));
	EXPECT_EQ(-EINVAL, try_map(self->ps, PROT_READ, MAP_SHARED,
				   self->full + self->ps, O_RDONLY));
}

TEST_F(ring, map_private)
{
	EXPECT_EQ(-EINVAL, try_map(self->ps, PROT_READ, MAP_PRIVATE, 0, O_RDONLY));
	EXPECT_EQ(-EINVAL, try_map(self->full, PROT_READ, MAP_PRIVATE, 0, O_RDONLY));
	/* copy-on-write copies would be writable */
	EXPECT_EQ(-EINVAL, try_map(self->ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0, O_RDONLY));
}

TEST_F(ring, map_write_exec)
{
	int ret, fd;

	/* the VFS refuses a writable shared mapping of an O_RDONLY file */
	EXPECT_EQ(-EACCES, try_map(self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, 0, O_RDONLY));
	EXPECT_EQ(-EPERM, try_map(self->ps, PROT_READ | PROT_EXEC, MAP_SHARED, 0, O_RDONLY));
	EXPECT_EQ(-EPERM, try_map(self->ps, PROT_EXEC, MAP_SHARED, 0, O_RDONLY));

	/* the driver refuses it on a file opened for writing too */
	fd = open(MP3_DEV, O_RDWR);
	if (fd < 0) {
		TH_LOG("cannot open %s read-write (%s): writable mapping not tried",
		       MP3_DEV, strerror(errno));
		return;
	}
	close(fd);
	ret = try_map(self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, 0, O_RDWR);
	EXPECT_EQ(-EPERM, ret);
	ret = try_map(self->ps, PROT_WRITE, MAP_SHARED, 0, O_RDWR);
	EXPECT_EQ(-EPERM, ret);
	ret = try_map(self->full, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, 0, O_RDWR);
	EXPECT_EQ(-EPERM, ret);
	/* and read-only is fine there */
	EXPECT_EQ(0, try_map(self->full, PROT_READ, MAP_SHARED, 0, O_RDWR));
}

TEST_F(ring, mprotect_mremap)
{
	int fd = open(MP3_DEV, O_RDONLY);
	char *p, *q;

	ASSERT_LE(0, fd);
	p = mmap(NULL, self->full, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);

	EXPECT_EQ(-1, mprotect(p, self->full, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, self->ps, PROT_WRITE));
	EXPECT_EQ(EACCES, errno);

	/* cannot grow, in place or moving */
	q = mremap(p, self->full, self->full + self->ps, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	if (q != MAP_FAILED)
		p = q;
	q = mremap(p, self->full, self->full + self->ps, 0);
	EXPECT_EQ(MAP_FAILED, q);
	if (q != MAP_FAILED)
		p = q;

	/* the mapping still works */
	EXPECT_EQ(MP3PROF_MAGIC, ((struct mp3prof_header *)p)->magic);
	munmap(p, self->full);

	/* nor when only the header page was mapped */
	p = mmap(NULL, self->ps, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	q = mremap(p, self->ps, 2 * self->ps, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	if (q != MAP_FAILED)
		p = q;
	EXPECT_EQ(-1, mprotect(p, self->ps, PROT_READ | PROT_WRITE));
	munmap(p, self->ps);
	close(fd);
}

TEST_F(ring, mapping_outlives_fd)
{
	struct mp3_ring r2;
	uint64_t h;
	pid_t pid;

	ASSERT_EQ(0, mp3_ring_open(&r2, 0));
	close(r2.fd);
	r2.fd = -1;
	/* the other mapping goes away too: r2 stands alone */
	mp3_ring_close(&self->r);
	self->r = r2;

	h = mp3_head(&r2);
	pid = mp3_spawn_sleeper();
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, mp3_register(pid));
	EXPECT_EQ(0, mp3_wait_samples(&r2, 2, 2000));
	EXPECT_LT(h, mp3_head(&r2));
	EXPECT_EQ(MP3PROF_MAGIC, r2.hdr->magic);
}

TEST_F(ring, fork_shares_mapping)
{
	struct mp3_ring *r = &self->r;
	int go[2], status;
	pid_t child, pid;
	char c = 0;

	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		uint64_t h;

		/* no harness asserts here: report through the exit code */
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(10);
		if (r->hdr->magic != MP3PROF_MAGIC)
			_exit(11);
		h = mp3_head(r);
		if (mp3_wait_head(r, h + 2, 2000) < 0)
			_exit(12);
		_exit(0);
	}
	mp3_track_child(child);
	close(go[0]);

	/* the child keeps its copy of the mapping whatever the parent does */
	munmap(r->hdr, r->len);
	r->hdr = NULL;
	close(r->fd);
	r->fd = -1;
	pid = mp3_spawn_sleeper();
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, mp3_register(pid));
	ASSERT_EQ(1, write(go[1], &c, 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	mp3_untrack_child(child);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 10 = no go, 11 = bad magic, 12 = head did not move");
	close(go[1]);
}

TEST_F(ring, records_consistent)
{
	const struct mp3_ring *r = &self->r;
	uint64_t t0, t1, h0, h1, s, w0, w1, work = 0;
	struct mp3prof_sample prev = { 0 }, cur;
	struct mp3prof_sample busy;
	pid_t pid;

	pid = mp3_spawn_sleeper();
	ASSERT_LT(0, pid);
	w0 = mp3_hdr_work_ns(r);
	h0 = mp3_head(r);
	t0 = mp3_now_ns();
	ASSERT_EQ(0, mp3_register(pid));
	ASSERT_EQ(0, mp3_wait_samples(r, 10, 3000));
	ASSERT_EQ(0, mp3_unregister(pid));
	ASSERT_EQ(0, mp3_wait_idle(r, 300, 3000));
	t1 = mp3_now_ns();
	h1 = mp3_head(r);
	w1 = mp3_hdr_work_ns(r);

	for (s = h0; s < h1; s++) {
		ASSERT_EQ(0, mp3_ring_get(r, s, &cur)) TH_LOG("record %llu",
							      (unsigned long long)s);
		EXPECT_EQ(s, cur.seq);
		EXPECT_LE(t0, cur.time_ns);
		EXPECT_GE(t1, cur.time_ns);
		EXPECT_EQ(1, cur.nr_procs);
		EXPECT_EQ(0, cur.nr_exited);
		/* the sleeping child does nothing */
		EXPECT_EQ(0, cur.min_flt);
		EXPECT_EQ(0, cur.maj_flt);
		EXPECT_LT(cur.work_ns, r->hdr->period_ns);
		if (s > h0) {
			/*
			 * Nothing is assumed of how jiffies track the clock
			 * (the grid is CLOCK_MONOTONIC), only that neither
			 * goes backwards.
			 */
			EXPECT_LT(prev.time_ns, cur.time_ns);
			EXPECT_LE(prev.jiffies, cur.jiffies);
		}
		work += cur.work_ns;
		prev = cur;
	}
	/* the header's total covers these samples */
	EXPECT_LE(w0 + work, w1);
	EXPECT_LT(w0, w1);

	/* records not written yet are refused by the protocol */
	EXPECT_EQ(-EAGAIN, mp3_ring_get(r, h1, &busy));
	EXPECT_EQ(-EAGAIN, mp3_ring_get(r, h1 + r->hdr->nr_records, &busy));
	/* a record number from a lap ahead does not match the slot */
	if (h1 > 1) {
		const struct mp3prof_sample *slot = (const void *)(r->base +
			((h1 - 1) & (r->hdr->nr_records - 1)) * r->hdr->record_size);

		EXPECT_EQ(h1 - 1, __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE));
	}
}

TEST_F(ring, read_nonblock)
{
	const struct mp3_ring *r = &self->r;
	struct pollfd pfd;
	uint64_t v, v2;
	char small[8];
	ssize_t n;
	pid_t pid;
	int fd;

	if (mp3_head(r) == 0)
		ASSERT_EQ(0, make_samples(r, 1));
	fd = open(MP3_DEV, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);

	/* buffers smaller than the head are refused */
	EXPECT_EQ(-1, read(fd, small, 4));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, read(fd, small, 7));
	EXPECT_EQ(EINVAL, errno);

	/* nothing read yet on this file: the head at once */
	ASSERT_EQ(8, read(fd, &v, 8));
	EXPECT_EQ(mp3_head(r), v);
	/* nothing sampled since: EAGAIN, and poll() says so too */
	EXPECT_EQ(-1, read(fd, &v2, 8));
	EXPECT_EQ(EAGAIN, errno);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	EXPECT_EQ(0, poll(&pfd, 1, 200));
	EXPECT_EQ(-1, read(fd, small, 4));
	EXPECT_EQ(EINVAL, errno);

	/* a registration makes samples: POLLIN, then a new head */
	pid = mp3_spawn_sleeper();
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, mp3_register(pid));
	pfd.revents = 0;
	ASSERT_EQ(1, poll(&pfd, 1, 2000));
	EXPECT_TRUE(pfd.revents & POLLIN);
	ASSERT_EQ(8, read(fd, &v2, 8));
	EXPECT_LT(v, v2);
	EXPECT_GE(mp3_head(r), v2);
	v = v2;
	/* never the same value twice in a row */
	n = read(fd, &v2, 8);
	EXPECT_TRUE(n == 8 ? v2 != v : errno == EAGAIN);
	close(fd);
}

TEST_F(ring, read_blocks)
{
	const struct mp3_ring *r = &self->r;
	uint64_t v, prev, t0, t;
	pid_t pid;
	int fd, i;

	if (mp3_head(r) == 0)
		ASSERT_EQ(0, make_samples(r, 1));
	fd = open(MP3_DEV, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, read(fd, &prev, 8));

	pid = mp3_spawn_sleeper();
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, mp3_register(pid));
	/* each read waits for a sample of its own */
	t0 = mp3_now_ns();
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(8, read(fd, &v, 8));
		EXPECT_LT(prev, v);
		EXPECT_GE(mp3_head(r), v);
		prev = v;
	}
	t = mp3_now_ns() - t0;
	/* ten reads needed about nine periods at least */
	EXPECT_LE(8 * r->hdr->period_ns, t);
	close(fd);
}

struct delayed_reg {
	pid_t pid;
	int ret;
};

static void *register_later(void *p)
{
	struct delayed_reg *d = p;

	mp3_msleep(300);
	d->ret = mp3_cmd('R', d->pid);
	return NULL;
}

static void sigalrm_nop(int sig)
{
}

TEST_F(ring, read_wakeup)
{
	const struct mp3_ring *r = &self->r;
	struct sigaction sa = { .sa_handler = sigalrm_nop };
	struct itimerval it = { .it_value = { .tv_sec = 5 } };
	struct delayed_reg d = { 0 };
	uint64_t v, prev, t0, t;
	pthread_t th;
	ssize_t n;
	int fd;

	if (mp3_head(r) == 0)
		ASSERT_EQ(0, make_samples(r, 1));
	fd = open(MP3_DEV, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, read(fd, &prev, 8));

	/* a blocked read() is woken by the first sample after idling */
	d.pid = mp3_spawn_sleeper();
	ASSERT_LT(0, d.pid);
	mp3_track_reg(d.pid);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));	/* no SA_RESTART */
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	ASSERT_EQ(0, pthread_create(&th, NULL, register_later, &d));
	t0 = mp3_now_ns();
	n = read(fd, &v, 8);
	t = mp3_now_ns() - t0;
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	pthread_join(th, NULL);
	ASSERT_EQ(0, d.ret);
	ASSERT_EQ(8, n) TH_LOG("read: %s after %llu ms", strerror(errno),
			       (unsigned long long)t / MS);
	EXPECT_LT(prev, v);
	EXPECT_LE(250 * MS, t);
	close(fd);
}

TEST_F(ring, read_interrupted)
{
	const struct mp3_ring *r = &self->r;
	struct sigaction sa = { .sa_handler = sigalrm_nop };
	struct itimerval it = { .it_value = { .tv_usec = 300000 } };
	uint64_t v, t0, t;
	int fd;

	if (mp3_head(r) == 0)
		ASSERT_EQ(0, make_samples(r, 1));
	fd = open(MP3_DEV, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, read(fd, &v, 8));

	/* nothing registered: the read sleeps until a signal comes */
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	t0 = mp3_now_ns();
	EXPECT_EQ(-1, read(fd, &v, 8));
	EXPECT_EQ(EINTR, errno);
	t = mp3_now_ns() - t0;
	EXPECT_LE(250 * MS, t);
	EXPECT_GE(5000 * MS, t);
	close(fd);
}

TEST_F(ring, independent_files)
{
	const struct mp3_ring *r = &self->r;
	struct pollfd pfd[2];
	uint64_t a, b;
	int fa, fb;
	pid_t pid;

	if (mp3_head(r) == 0)
		ASSERT_EQ(0, make_samples(r, 1));
	fa = open(MP3_DEV, O_RDONLY | O_NONBLOCK);
	fb = open(MP3_DEV, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);

	ASSERT_EQ(8, read(fa, &a, 8));
	/* what fa read does not count for fb */
	pfd[0] = (struct pollfd){ .fd = fa, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = fb, .events = POLLIN };
	ASSERT_EQ(1, poll(pfd, 2, 0));
	EXPECT_EQ(0, pfd[0].revents);
	EXPECT_TRUE(pfd[1].revents & POLLIN);
	ASSERT_EQ(8, read(fb, &b, 8));
	EXPECT_EQ(a, b);
	EXPECT_EQ(-1, read(fa, &a, 8));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, read(fb, &b, 8));
	EXPECT_EQ(EAGAIN, errno);

	/* both see the next sample */
	pid = mp3_spawn_sleeper();
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, mp3_register(pid));
	ASSERT_EQ(0, mp3_wait_samples(r, 1, 2000));
	pfd[0].revents = 0;
	pfd[1].revents = 0;
	ASSERT_EQ(2, poll(pfd, 2, 2000));
	EXPECT_TRUE(pfd[0].revents & POLLIN);
	EXPECT_TRUE(pfd[1].revents & POLLIN);
	close(fa);
	close(fb);
}

TEST_HARNESS_MAIN
