// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof sessions: MP3PROF_IOC_SESSION, MP3PROF_IOC_ADD and
 * MP3PROF_IOC_REMOVE, session rings and their records, and what the ABI 2
 * changed for the default ring (slots start busy, the poll() contract,
 * READ_IMPLIES_EXEC mappings, "U" of another user's zombie).
 *
 * Most cases need root: they become other users, create pid namespaces
 * and change the module parameter max_procs and perf_event_paranoid, which
 * the teardown puts back.  Children never use the harness's ASSERTs (an
 * ASSERT in a forked child would run the teardown there): they report
 * through shared memory or their exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#define MS		1000000ULL
#define NOBODY		65534
#define OTHER_UID	65533
#define PARANOID	"/proc/sys/kernel/perf_event_paranoid"
#define MAX_PROCS_PARAM	MP3_PARAMS "max_procs"
#define VER0		MP3PROF_SESSION_CONFIG_SIZE_VER0
#define PER_PROC	MP3PROF_SESSION_PER_PROCESS
#define MAXP		64	/* process records read per sample */

#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL
#endif

/* ----------------------------------------------------------- parameters */

/*
 * What the tests changed, put back by the fixture's teardown.  That runs
 * in the parent (FIXTURE_TEARDOWN_PARENT): this harness does not run a
 * child's teardown after a failed ASSERT, and a max_procs of 1 left
 * behind would fail every later test.  So the saved values live in the
 * fixture data, which the harness shares with the test process.
 */
struct saved_params {
	long long max_procs;	/* -1: not changed */
	char paranoid[32];	/* "": not changed */
};

static struct saved_params *saved;	/* the test process's fixture data */

static int set_max_procs(long long v)
{
	char buf[32];

	if (saved->max_procs < 0) {
		saved->max_procs = mp3_read_ull(MAX_PROCS_PARAM);
		if (saved->max_procs < 0)
			return saved->max_procs;
	}
	snprintf(buf, sizeof(buf), "%lld", v);
	return mp3_write_str_file(MAX_PROCS_PARAM, buf);
}

static int set_paranoid(int v)
{
	char buf[32], *old = NULL;
	ssize_t n;

	if (!saved->paranoid[0]) {
		n = mp3_read_file(PARANOID, &old, 32);
		if (n <= 0)
			return n ? n : -EIO;
		snprintf(saved->paranoid, sizeof(saved->paranoid), "%s", old);
		free(old);
	}
	snprintf(buf, sizeof(buf), "%d", v);
	return mp3_write_str_file(PARANOID, buf);
}

static void restore_params(struct saved_params *sp)
{
	char buf[32];

	if (sp->max_procs >= 0) {
		snprintf(buf, sizeof(buf), "%lld", sp->max_procs);
		mp3_write_str_file(MAX_PROCS_PARAM, buf);
		sp->max_procs = -1;
	}
	if (sp->paranoid[0]) {
		mp3_write_str_file(PARANOID, sp->paranoid);
		sp->paranoid[0] = 0;
	}
}

/* -------------------------------------------------------------- helpers */

/* Shared with children, which report here instead of asserting. */
struct shared {
	int step;			/* how far a child got */
	int err[32];			/* 0 or -errno of each call */
	pid_t pid[16];
	uint64_t val[16];
	int nr_pids;
	uint32_t pids_seen[64];		/* distinct pids in records */
	int flags_seen;
	int outside_done;		/* the parent is done with a child */
	uint64_t t0, t1;
};

static struct shared *shared_new(void)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sh == MAP_FAILED)
		return NULL;
	memset(sh, 0, sizeof(*sh));
	memset(sh->err, 0x7f, sizeof(sh->err));	/* not run */
	return sh;
}

static int become(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		return -errno;
	/* credential changes clear it; our own children stay ours to watch */
	prctl(PR_SET_DUMPABLE, 1);
	return 0;
}

/* A child that spins until killed. */
static pid_t spawn_busy(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		uint64_t x = 0;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		for (;;)
			__atomic_store_n(&x, x + 1, __ATOMIC_RELAXED);
	}
	if (pid > 0)
		mp3_track_child(pid);
	return pid;
}

/* A child that exits at once, left a zombie (not reaped). */
static pid_t spawn_zombie(void)
{
	siginfo_t si;
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return pid;
	mp3_track_child(pid);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT))
		return -errno;
	return pid;
}

static bool in_set(const uint32_t *set, int n, uint32_t v)
{
	int i;

	for (i = 0; i < n; i++)
		if (set[i] == v)
			return true;
	return false;
}

/*
 * The first sample at or after record @from whose time stamp is at least
 * @after, with its records: 0, -ETIMEDOUT, or an error of
 * mp3_ring_next_sample().
 */
static int sample_after(const struct mp3_ring *r, uint64_t *from, uint64_t after,
			struct mp3prof_sample *s, struct mp3prof_proc_record *p,
			unsigned int timeout_ms)
{
	uint64_t end = mp3_now_ns() + timeout_ms * MS;
	int ret;

	for (;;) {
		ret = mp3_ring_next_sample(r, from, mp3_head(r), s, p, MAXP, NULL);
		if (ret < 0)
			return ret;
		if (ret == 1 && s->time_ns >= after)
			return 0;
		if (ret == 0) {
			if (mp3_now_ns() > end)
				return -ETIMEDOUT;
			mp3_msleep(2);
		}
	}
}

/*
 * The pids that a session samples now, from the records of a sample taken
 * after this call: those of its records without a last-record flag.
 * Returns their number (sorted in @pids), or -errno.
 */
static int sampled_now(const struct mp3_ring *r, uint32_t *pids, int max)
{
	struct mp3prof_proc_record p[MAXP];
	struct mp3prof_sample s;
	uint64_t pos = mp3_head(r);
	uint32_t i;
	int ret, n = 0;

	ret = sample_after(r, &pos, mp3_now_ns(), &s, p, 5000);
	if (ret)
		return ret;
	for (i = 0; i < s.nr_procs && i < MAXP; i++) {
		if (p[i].flags & (MP3PROF_PROC_EXITED | MP3PROF_PROC_REMOVED |
				  MP3PROF_PROC_DROPPED))
			continue;
		if (n < max)
			pids[n] = p[i].pid;
		n++;
	}
	return n;
}

/* Sorted, as sampled_now() sorts. */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int sampled_now_sorted(const struct mp3_ring *r, uint32_t *pids, int max)
{
	int n = sampled_now(r, pids, max);

	if (n > 0)
		qsort(pids, n < max ? n : max, sizeof(*pids), cmp_u32);
	return n;
}

/* The default ring has not moved: nothing here feeds the default session. */
static uint64_t default_head(void)
{
	struct mp3_ring d;
	uint64_t h;

	if (mp3_ring_open(&d, 0))
		return ~0ULL;
	h = mp3_head(&d);
	mp3_ring_close(&d);
	return h;
}

/* ------------------------------------------------------------- fixture */

FIXTURE(sess) {
	struct shared *sh;
	struct saved_params saved;
};

FIXTURE_SETUP(sess)
{
	self->saved.max_procs = -1;
	self->saved.paranoid[0] = 0;
	saved = &self->saved;
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	if (geteuid() != 0)
		SKIP(return, "must be run as root");
	ASSERT_EQ(0, mp3_prepare())
		TH_LOG("processes are registered already and cannot be removed");
	self->sh = shared_new();
	ASSERT_NE(NULL, self->sh);
}

/* In the parent: the test process's children died with it (PDEATHSIG). */
FIXTURE_TEARDOWN_PARENT(sess)
{
	restore_params(&self->saved);
	mp3_cleanup();
	if (self->sh)
		munmap(self->sh, sizeof(*self->sh));
}

/* ------------------------------------------------ MP3PROF_IOC_SESSION */

/* A file that is not a session: ADD is EINVAL. */
static bool unbound(int fd)
{
	return mp3_session_add_pid(fd, getpid()) == -EINVAL;
}

/*
 * ... and it maps the default ring (after which it can never become a
 * session: only for files about to be closed).
 */
static bool maps_default(int fd)
{
	struct mp3prof_header *h;
	bool ret;

	h = mmap(NULL, mp3_page_size(), PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return false;
	ret = h->magic == MP3PROF_MAGIC && !(h->flags & MP3PROF_HDR_SESSION);
	munmap(h, mp3_page_size());
	return ret;
}

/* Records in a ring of @pages pages: a power of two. */
static uint32_t nr_records(uint32_t pages)
{
	uint64_t n = (uint64_t)pages * mp3_page_size() / 64, p = 1;

	while (p * 2 <= n)
		p *= 2;
	return p;
}

TEST_F(sess, config_size_versioning)
{
	static unsigned char big[16383];
	unsigned char buf[128] = { 0 };
	struct mp3prof_session_config *cfg = (void *)buf;
	struct mp3_ring r;
	int fd;

	fd = open(MP3_DEV, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, mp3_session_configure_raw(fd, buf, 0));
	EXPECT_EQ(-EINVAL, mp3_session_configure_raw(fd, buf, 8));
	EXPECT_EQ(-EINVAL, mp3_session_configure_raw(fd, buf, VER0 - 1));
	/* a bad size is refused before the pointer is looked at */
	EXPECT_EQ(-EINVAL, mp3_session_configure_raw(fd, NULL, VER0 - 1));
	EXPECT_EQ(-EFAULT, mp3_session_configure_raw(fd, NULL, VER0));
	EXPECT_EQ(-EFAULT, mp3_session_configure_raw(fd, NULL, sizeof(buf)));
	/* a newer struct: any non-zero byte the kernel does not know */
	buf[VER0] = 1;
	EXPECT_EQ(-E2BIG, mp3_session_configure_raw(fd, buf, VER0 + 1));
	buf[VER0] = 0;
	buf[sizeof(buf) - 1] = 0x80;
	EXPECT_EQ(-E2BIG, mp3_session_configure_raw(fd, buf, sizeof(buf)));
	big[sizeof(big) - 1] = 1;
	EXPECT_EQ(-E2BIG, mp3_session_configure_raw(fd, big, sizeof(big)));
	EXPECT_TRUE(unbound(fd)) TH_LOG("a refused configuration made a session");

	/* zero tails are fine, up to the largest size a command encodes */
	buf[sizeof(buf) - 1] = 0;
	cfg->period_ns = 20 * MS;
	EXPECT_EQ(0, mp3_session_configure_raw(fd, buf, sizeof(buf)));
	big[sizeof(big) - 1] = 0;
	memcpy(big, buf, VER0);
	EXPECT_EQ(0, mp3_session_configure_raw(fd, big, sizeof(big)));
	cfg->period_ns = 10 * MS;
	cfg->ring_pages = 2;
	cfg->max_procs = 5;
	EXPECT_EQ(0, mp3_session_configure_raw(fd, buf, VER0));

	/* the last one counts */
	ASSERT_EQ(0, mp3_session_map(&r, fd));
	EXPECT_EQ(10 * MS, r.hdr->period_ns);
	EXPECT_EQ(100, r.hdr->rate);
	EXPECT_EQ(2 * mp3_page_size() / 64, r.hdr->nr_records);
	EXPECT_EQ(5, r.hdr->max_procs);
	EXPECT_EQ(MP3PROF_HDR_SESSION, r.hdr->flags);
	mp3_ring_close(&r);
}

struct cfg_case {
	uint64_t flags, period;
	uint32_t pages, max;
	int err;
	const char *what;
};

/*
 * The fields' limits, each on a fresh file (which stays unbound when
 * refused) and on a configured session (whose configuration stays).
 */
TEST_F(sess, config_fields)
{
	long long gmax = mp3_read_ull(MAX_PROCS_PARAM);
	size_t ps = mp3_page_size();
	const struct cfg_case cases[] = {
		{ 1ULL << 2, 0, 0, 0, -EINVAL, "unknown flag bit 2" },
		{ 1ULL << 63, 0, 0, 0, -EINVAL, "unknown flag bit 63" },
		{ ~0ULL, 0, 0, 0, -EINVAL, "all flags" },
		{ 0, 1, 0, 0, -EINVAL, "period 1 ns" },
		{ 0, MP3PROF_PERIOD_MIN_NS - 1, 0, 0, -EINVAL, "period under 1 ms" },
		{ 0, MP3PROF_PERIOD_MAX_NS + 1, 0, 0, -EINVAL, "period over 1 s" },
		{ 0, ~0ULL, 0, 0, -EINVAL, "period 2^64 - 1" },
		{ 0, 0, 65537, 0, -EINVAL, "65537 ring pages" },
		{ 0, 0, ~0U, 0, -EINVAL, "2^32 - 1 ring pages" },
		{ 0, 0, 0, gmax + 1, -EINVAL, "max_procs over the module's" },
		{ 0, 0, 0, ~0U, -EINVAL, "max_procs 2^32 - 1" },
		{ PER_PROC, 0, 1, ps / 64 / 2, -EINVAL,
		  "per-process max_procs = nr_records / 2" },
		{ PER_PROC, 0, 0, 4096, -EINVAL,
		  "per-process max_procs 4096 in 8192 records" },
		{ PER_PROC, 0, 1, ps / 64 / 2 - 1, 0, "per-process, fits" },
		{ 0, 0, 1, ps / 64, 0, "not per-process: no ring constraint" },
		{ 0, MP3PROF_PERIOD_MIN_NS, 0, 0, 0, "period 1 ms" },
		{ 0, MP3PROF_PERIOD_MAX_NS, 0, 0, 0, "period 1 s" },
		{ 0, 0, 0, gmax, 0, "max_procs = the module's" },
		{ MP3PROF_SESSION_TREE, 0, 3, 1, 0, "tree" },
		{ PER_PROC | MP3PROF_SESSION_TREE, 7 * MS, 0, 0, 0, "per-process tree" },
	};
	unsigned int i;
	int kept;

	ASSERT_LT(0, gmax);
	/* a session whose configuration the refused ones must not touch */
	kept = mp3_session_open(PER_PROC, 30 * MS, 4, 7);
	ASSERT_LE(0, kept);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct cfg_case *c = &cases[i];
		uint64_t period = c->period ?: 50 * MS;
		uint32_t pages = c->pages ?: 128;
		uint32_t nr = nr_records(pages), max, flags;
		struct mp3_ring r;
		int fd = open(MP3_DEV, O_RDONLY), ret;

		ASSERT_LE(0, fd);
		ret = mp3_session_configure(fd, c->flags, c->period, c->pages, c->max);
		EXPECT_EQ(c->err, ret) TH_LOG("%s: %s", c->what, strerror(-ret));
		ret = mp3_session_configure(kept, c->flags, c->period, c->pages, c->max);
		EXPECT_EQ(c->err, ret) TH_LOG("%s, reconfiguring a session", c->what);
		if (c->err) {
			EXPECT_TRUE(unbound(fd) && maps_default(fd))
				TH_LOG("%s: refused, yet a session", c->what);
			close(fd);
			/* @kept was reconfigured by the accepted ones: put it back */
			continue;
		}
		ASSERT_EQ(0, mp3_session_map(&r, fd)) TH_LOG("%s", c->what);
		max = c->max ?: (gmax < 1024 ? gmax : 1024);
		if ((c->flags & PER_PROC) && !c->max && max >= nr / 2)
			max = nr / 2 - 1;
		flags = MP3PROF_HDR_SESSION;
		if (c->flags & PER_PROC)
			flags |= MP3PROF_HDR_PER_PROCESS;
		if (c->flags & MP3PROF_SESSION_TREE)
			flags |= MP3PROF_HDR_TREE;
		EXPECT_EQ(MP3PROF_MAGIC, r.hdr->magic);
		EXPECT_EQ(MP3PROF_ABI_VERSION, r.hdr->version);
		EXPECT_EQ(ps, r.hdr->header_size);
		EXPECT_EQ(64, r.hdr->record_size);
		EXPECT_EQ(nr, r.hdr->nr_records) TH_LOG("%s", c->what);
		EXPECT_EQ(period, r.hdr->period_ns) TH_LOG("%s", c->what);
		EXPECT_EQ((MP3_NSEC + period / 2) / period, r.hdr->rate) TH_LOG("%s", c->what);
		EXPECT_EQ(max, r.hdr->max_procs) TH_LOG("%s", c->what);
		EXPECT_EQ(flags, r.hdr->flags) TH_LOG("%s", c->what);
		EXPECT_LT(0, r.hdr->hz);
		EXPECT_EQ(0, r.hdr->head);
		EXPECT_EQ(0, r.hdr->samples);
		EXPECT_EQ(0, r.hdr->work_ns);
		mp3_ring_close(&r);
		ASSERT_EQ(0, mp3_session_configure(kept, PER_PROC, 30 * MS, 4, 7));
	}

	/* what the refused ones left of @kept: its last good configuration */
	{
		struct mp3_ring r;

		ASSERT_EQ(0, mp3_session_map(&r, kept));
		EXPECT_EQ(30 * MS, r.hdr->period_ns);
		EXPECT_EQ(4 * ps / 64, r.hdr->nr_records);
		EXPECT_EQ(7, r.hdr->max_procs);
		EXPECT_EQ(MP3PROF_HDR_SESSION | MP3PROF_HDR_PER_PROCESS, r.hdr->flags);
		mp3_ring_close(&r);
	}
}

static void *thread_sleep(void *p)
{
	pid_t *tid = p;

	__atomic_store_n(tid, gettid(), __ATOMIC_RELEASE);
	for (;;)
		pause();
	return NULL;
}

/* Every documented error of ADD and REMOVE; none changes the session. */
TEST_F_TIMEOUT(sess, target_errors, 60)
{
	uint32_t want[2], got[8];
	unsigned char buf[32] = { 0 };
	struct mp3prof_target *t = (void *)buf;
	struct mp3_ring r;
	pid_t k1, k2, k3, zombie, reaped, tid = 0;
	int pfd1, pfd2, pfd3, zfd, rfd, tfd, efd, nullfd, closed, unb, n;
	uint64_t h;
	pthread_t th;

	k1 = mp3_spawn_sleeper();
	k2 = mp3_spawn_sleeper();
	k3 = mp3_spawn_sleeper();
	ASSERT_LT(0, k1);
	ASSERT_LT(0, k2);
	ASSERT_LT(0, k3);
	pfd1 = mp3_pidfd_open(k1);
	pfd2 = mp3_pidfd_open(k2);
	pfd3 = mp3_pidfd_open(k3);
	ASSERT_LE(0, pfd1);
	ASSERT_LE(0, pfd2);
	ASSERT_LE(0, pfd3);
	zombie = spawn_zombie();
	ASSERT_LT(0, zombie);
	zfd = mp3_pidfd_open(zombie);
	ASSERT_LE(0, zfd) TH_LOG("pidfd_open() of a zombie: %s", strerror(-zfd));
	reaped = fork();
	ASSERT_LE(0, reaped);
	if (!reaped)
		_exit(0);
	rfd = mp3_pidfd_open(reaped);	/* may fail if it is gone already */
	ASSERT_EQ(reaped, waitpid(reaped, NULL, 0));
	if (rfd < 0) {
		/* a pidfd taken before it exited: from a zombie */
		pid_t z2 = spawn_zombie();

		ASSERT_LT(0, z2);
		rfd = mp3_pidfd_open(z2);
		ASSERT_LE(0, rfd);
		ASSERT_EQ(z2, waitpid(z2, NULL, 0));
		mp3_untrack_child(z2);
		reaped = z2;
	}
	ASSERT_EQ(0, pthread_create(&th, NULL, thread_sleep, &tid));
	while (!__atomic_load_n(&tid, __ATOMIC_ACQUIRE))
		mp3_msleep(1);
	tfd = syscall(__NR_pidfd_open, tid, PIDFD_THREAD);	/* 6.9+ */
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	nullfd = open("/dev/null", O_RDONLY);
	ASSERT_LE(0, nullfd);
	closed = dup(nullfd);
	ASSERT_LE(0, closed);
	close(closed);

	ASSERT_EQ(0, mp3_session_start(&r, PER_PROC, 10 * MS, 8, 0));
	ASSERT_EQ(0, mp3_session_add_pidfd(r.fd, pfd1));

	/* sizes: of the command, like the session config */
	t->pidfd = pfd2;
	EXPECT_EQ(-EINVAL, mp3_ioctl_sized(r.fd, MP3PROF_IOC_ADD, buf, 0));
	EXPECT_EQ(-EINVAL, mp3_ioctl_sized(r.fd, MP3PROF_IOC_ADD, buf, 8));
	EXPECT_EQ(-EINVAL, mp3_ioctl_sized(r.fd, MP3PROF_IOC_ADD, buf,
					   MP3PROF_TARGET_SIZE_VER0 - 1));
	EXPECT_EQ(-EINVAL, mp3_ioctl_sized(r.fd, MP3PROF_IOC_REMOVE, buf, 4));
	EXPECT_EQ(-EFAULT, mp3_ioctl_sized(r.fd, MP3PROF_IOC_ADD, NULL,
					   MP3PROF_TARGET_SIZE_VER0));
	buf[sizeof(buf) - 1] = 1;
	EXPECT_EQ(-E2BIG, mp3_ioctl_sized(r.fd, MP3PROF_IOC_ADD, buf, sizeof(buf)));
	EXPECT_EQ(-E2BIG, mp3_ioctl_sized(r.fd, MP3PROF_IOC_REMOVE, buf, sizeof(buf)));

	/* fields */
	EXPECT_EQ(-EINVAL, mp3_session_target(r.fd, MP3PROF_IOC_ADD, 2, pfd2, 0, 0));
	EXPECT_EQ(-EINVAL, mp3_session_target(r.fd, MP3PROF_IOC_ADD, 1U << 31, pfd2, 0, 0));
	EXPECT_EQ(-EINVAL, mp3_session_target(r.fd, MP3PROF_IOC_ADD, 0, pfd2, 0, 1));
	EXPECT_EQ(-EINVAL, mp3_session_target(r.fd, MP3PROF_IOC_ADD, 0, pfd2, k2, 0));
	EXPECT_EQ(-EINVAL, mp3_session_target(r.fd, MP3PROF_IOC_ADD,
					      MP3PROF_TARGET_PID, pfd2, k2, 0));
	EXPECT_EQ(-EINVAL, mp3_session_target(r.fd, MP3PROF_IOC_ADD,
					      MP3PROF_TARGET_PID, 0, k2, 1));
	EXPECT_EQ(-EINVAL, mp3_session_add_pid(r.fd, 0));
	EXPECT_EQ(-EINVAL, mp3_session_add_pid(r.fd, -1));
	EXPECT_EQ(-EINVAL, mp3_session_add_pid(r.fd, INT_MIN));
	EXPECT_EQ(-EINVAL, mp3_session_remove_pid(r.fd, 0));
	EXPECT_EQ(-EINVAL, mp3_session_target(r.fd, MP3PROF_IOC_REMOVE, 0, pfd1, 0, 1));

	/* descriptors that are no pidfd */
	EXPECT_EQ(-EBADF, mp3_session_add_pidfd(r.fd, -1));
	EXPECT_EQ(-EBADF, mp3_session_add_pidfd(r.fd, INT_MIN));
	EXPECT_EQ(-EBADF, mp3_session_add_pidfd(r.fd, efd));
	EXPECT_EQ(-EBADF, mp3_session_add_pidfd(r.fd, nullfd));
	EXPECT_EQ(-EBADF, mp3_session_add_pidfd(r.fd, r.fd));
	EXPECT_EQ(-EBADF, mp3_session_add_pidfd(r.fd, closed));
	EXPECT_EQ(-EBADF, mp3_session_add_pidfd(r.fd, 1 << 20));
	EXPECT_EQ(-EBADF, mp3_session_remove_pidfd(r.fd, efd));
	EXPECT_EQ(-EBADF, mp3_session_remove_pidfd(r.fd, -1));

	/* processes that cannot be added */
	EXPECT_EQ(-ESRCH, mp3_session_add_pidfd(r.fd, zfd)) TH_LOG("zombie by pidfd");
	EXPECT_EQ(-ESRCH, mp3_session_add_pid(r.fd, zombie)) TH_LOG("zombie by pid");
	EXPECT_EQ(-ESRCH, mp3_session_add_pidfd(r.fd, rfd)) TH_LOG("reaped, by pidfd");
	if (kill(reaped, 0) && errno == ESRCH)
		EXPECT_EQ(-ESRCH, mp3_session_add_pid(r.fd, reaped)) TH_LOG("reaped, by pid");
	EXPECT_EQ(-ESRCH, mp3_session_add_pid(r.fd, tid)) TH_LOG("thread id");
	if (tfd < 0)
		TH_LOG("no thread pidfds (PIDFD_THREAD): %s", strerror(errno));
	EXPECT_EQ(-ESRCH, tfd >= 0 ? mp3_session_add_pidfd(r.fd, tfd) : -ESRCH)
		TH_LOG("thread pidfd");
	EXPECT_EQ(-ESRCH, mp3_session_add_pid(r.fd, 1 << 30));

	/* twice; and removing what is not there */
	EXPECT_EQ(-EEXIST, mp3_session_add_pidfd(r.fd, pfd1));
	EXPECT_EQ(-EEXIST, mp3_session_add_pid(r.fd, k1));
	EXPECT_EQ(-ENOENT, mp3_session_remove_pidfd(r.fd, pfd3));
	EXPECT_EQ(-ENOENT, mp3_session_remove_pid(r.fd, k3));
	EXPECT_EQ(-ENOENT, mp3_session_remove_pidfd(r.fd, zfd));
	EXPECT_EQ(-ENOENT, mp3_session_remove_pidfd(r.fd, rfd));
	EXPECT_EQ(-ENOENT, mp3_session_remove_pid(r.fd, tid));
	EXPECT_EQ(-ESRCH, mp3_session_remove_pid(r.fd, 1 << 30));

	/* commands that do not exist */
	EXPECT_EQ(-1, ioctl(r.fd, _IO(MP3PROF_IOC_MAGIC, 3)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(r.fd, _IOW(MP3PROF_IOC_MAGIC, 3, struct mp3prof_target), t));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(r.fd, _IO(MP3PROF_IOC_MAGIC, 0)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(r.fd, _IOR(MP3PROF_IOC_MAGIC, 0,
				       struct mp3prof_session_config), buf));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(r.fd, _IOWR(MP3PROF_IOC_MAGIC, 1, struct mp3prof_target), t));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(r.fd, _IOW('X', 1, struct mp3prof_target), t));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(r.fd, TCGETS, buf));
	EXPECT_EQ(ENOTTY, errno);

	/* a file that is not a session has no processes of its own */
	unb = open(MP3_DEV, O_RDONLY);
	ASSERT_LE(0, unb);
	EXPECT_EQ(-EINVAL, mp3_session_add_pidfd(unb, pfd2));
	EXPECT_EQ(-EINVAL, mp3_session_add_pid(unb, k2));
	EXPECT_EQ(-EINVAL, mp3_session_add_pidfd(unb, -1));
	EXPECT_EQ(-EINVAL, mp3_session_remove_pidfd(unb, pfd1));
	EXPECT_EQ(-EINVAL, mp3_session_remove_pid(unb, k1));
	EXPECT_TRUE(unbound(unb) && maps_default(unb));
	close(unb);

	/* a larger struct with a zero tail is fine */
	memset(buf, 0, sizeof(buf));
	t->pidfd = pfd2;
	EXPECT_EQ(0, mp3_ioctl_sized(r.fd, MP3PROF_IOC_ADD, buf, sizeof(buf)));

	/* none of it changed what the session samples: k1 and k2 */
	want[0] = k1 < k2 ? k1 : k2;
	want[1] = k1 < k2 ? k2 : k1;
	n = sampled_now_sorted(&r, got, ARRAY_SIZE(got));
	ASSERT_EQ(2, n);
	EXPECT_EQ(want[0], got[0]);
	EXPECT_EQ(want[1], got[1]);
	h = mp3_head(&r);
	EXPECT_EQ(0, mp3_wait_head(&r, h + 1, 5000) < 0) TH_LOG("sampling stopped");

	/* removing them works by pid and by pidfd, once */
	EXPECT_EQ(0, mp3_session_remove_pid(r.fd, k1));
	EXPECT_EQ(0, mp3_session_remove_pidfd(r.fd, pfd2));
	EXPECT_EQ(-ENOENT, mp3_session_remove_pidfd(r.fd, pfd1));
	EXPECT_EQ(-ENOENT, mp3_session_remove_pid(r.fd, k2));
	mp3_ring_close(&r);
	close(pfd1);
	close(pfd2);
	close(pfd3);
	close(zfd);
	close(rfd);
	if (tfd >= 0)
		close(tfd);
	close(efd);
	close(nullfd);
}

/*
 * Reconfiguring: allowed while the session was never mapped, has no
 * process and sampling is idle, with a new ring; else EBUSY, which
 * changes nothing.
 */
TEST_F_TIMEOUT(sess, reconfigure, 60)
{
	struct mp3_ring r, d;
	uint64_t head, h;
	pid_t k;
	int fd, i, ret;

	k = mp3_spawn_sleeper();
	ASSERT_LT(0, k);

	/* before mmap, with no process: a new ring each time */
	fd = open(MP3_DEV, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mp3_session_configure(fd, 0, 10 * MS, 1, 0));
	ASSERT_EQ(0, mp3_session_configure(fd, PER_PROC, 100 * MS, 4, 9));

	/* with a process: EBUSY; after it was removed, once sampling is idle */
	ASSERT_EQ(0, mp3_session_add(fd, k));
	EXPECT_EQ(-EBUSY, mp3_session_configure(fd, 0, 10 * MS, 1, 0));
	ASSERT_EQ(0, mp3_session_remove(fd, k));
	/* its last record is due in the next sample: still busy */
	EXPECT_EQ(-EBUSY, mp3_session_configure(fd, 0, 10 * MS, 1, 0));
	for (i = 0; i < 50; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		ret = mp3_session_configure(fd, 0, 20 * MS, 2, 3);
		if (ret != -EBUSY)
			break;
		poll(&pfd, 1, 200);
		if (read(fd, &head, sizeof(head)) < 0 && errno != EAGAIN)
			break;
	}
	ASSERT_EQ(0, ret) TH_LOG("reconfiguring an idle session: %s", strerror(-ret));
	/* the new ring has no record and read() starts over */
	EXPECT_EQ(-1, read(fd, &head, sizeof(head)));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, mp3_session_map(&r, fd));
	EXPECT_EQ(20 * MS, r.hdr->period_ns);
	EXPECT_EQ(2 * mp3_page_size() / 64, r.hdr->nr_records);
	EXPECT_EQ(3, r.hdr->max_procs);
	EXPECT_EQ(MP3PROF_HDR_SESSION, r.hdr->flags);
	EXPECT_EQ(0, r.hdr->head);
	EXPECT_EQ(0, r.hdr->samples);

	/* once mapped, never again, mapping or not; and nothing changes */
	EXPECT_EQ(-EBUSY, mp3_session_configure(fd, 0, 10 * MS, 1, 0));
	ASSERT_EQ(0, mp3_session_add(fd, k));
	EXPECT_EQ(-EBUSY, mp3_session_configure(fd, 0, 10 * MS, 1, 0));
	EXPECT_EQ(0, mp3_wait_samples(&r, 2, 5000));
	h = mp3_head(&r);
	munmap(r.hdr, r.len);
	r.hdr = NULL;
	EXPECT_EQ(-EBUSY, mp3_session_configure(fd, 0, 10 * MS, 1, 0));
	EXPECT_EQ(-EEXIST, mp3_session_add(fd, k));
	ASSERT_EQ(0, mp3_session_map(&r, fd));
	EXPECT_EQ(20 * MS, r.hdr->period_ns);
	EXPECT_EQ(3, r.hdr->max_procs);
	EXPECT_LE(h, mp3_head(&r));
	EXPECT_EQ(0, mp3_wait_samples(&r, 2, 5000)) TH_LOG("sampling stopped");
	mp3_ring_close(&r);

	/* a file that mapped the default ring stays a follower of it */
	ASSERT_EQ(0, mp3_ring_open(&d, 0));
	EXPECT_EQ(-EBUSY, mp3_session_configure(d.fd, 0, 0, 0, 0));
	EXPECT_EQ(-EBUSY, mp3_session_configure(d.fd, PER_PROC, 10 * MS, 1, 1));
	EXPECT_EQ(0, d.hdr->flags & MP3PROF_HDR_SESSION);
	EXPECT_EQ(-EINVAL, mp3_session_add(d.fd, k));
	munmap(d.hdr, d.len);
	d.hdr = NULL;
	EXPECT_EQ(-EBUSY, mp3_session_configure(d.fd, 0, 0, 0, 0));
	EXPECT_TRUE(unbound(d.fd) && maps_default(d.fd));
	mp3_ring_close(&d);
}

/* ------------------------------------------------------------ isolation */

struct iso_arg {
	struct shared *sh;
	pid_t busy;		/* root's, which nobody may not add */
	int ms;			/* how long to sample */
};

/*
 * As uid 65534: a session of its own sampling its own sleeper.  Reports the
 * sleeper's pid (pid[0]), the CPU time (val[0]), faults (val[1]) and
 * samples (val[2]) of the session over @ms, the pids in its records and
 * its errors.
 */
static int nobody_session(void *p)
{
	struct iso_arg *a = p;
	struct shared *sh = a->sh;
	struct mp3prof_proc_record recs[MAXP];
	struct mp3prof_sample s;
	struct mp3_ring r;
	uint64_t pos = 0, lost = 0;
	pid_t kid;
	int ret, i;

	if (become(NOBODY))
		return 1;
	sh->step = 1;
	kid = fork();
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	if (kid < 0 || mp3_wait_sleeping(kid))
		return 2;
	sh->pid[0] = kid;
	sh->err[0] = mp3_session_start(&r, PER_PROC, 20 * MS, 16, 0);
	if (sh->err[0])
		return 3;
	sh->err[1] = mp3_session_add(r.fd, kid);
	sh->err[2] = mp3_session_add(r.fd, a->busy);	/* root's: EPERM */
	sh->err[3] = mp3_session_add_pid(r.fd, a->busy);
	sh->err[4] = mp3_session_add_pid(r.fd, 1);	/* init: EPERM */
	sh->t0 = mp3_now_ns();
	mp3_msleep(a->ms);
	sh->t1 = mp3_now_ns();
	for (;;) {
		ret = mp3_ring_next_sample(&r, &pos, mp3_head(&r), &s, recs, MAXP, &lost);
		if (ret <= 0)
			break;
		sh->val[0] += s.cpu_ns;
		sh->val[1] += s.min_flt + s.maj_flt;
		sh->val[2]++;
		for (i = 0; i < (int)s.nr_procs && i < MAXP; i++)
			if (!in_set(sh->pids_seen, sh->nr_pids, recs[i].pid) &&
			    sh->nr_pids < (int)ARRAY_SIZE(sh->pids_seen))
				sh->pids_seen[sh->nr_pids++] = recs[i].pid;
	}
	sh->err[5] = ret;
	sh->val[3] = lost;
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	sh->step = 10;
	return 0;
}

/*
 * Two sessions of two users at once: root's samples a busy process,
 * nobody's a sleeping one.  Neither sees the other's process or its CPU
 * time, and the default ring sees neither.
 */
TEST_F_TIMEOUT(sess, two_users_isolated, 60)
{
	struct iso_arg a = { .sh = self->sh, .ms = 1500 };
	struct mp3prof_proc_record recs[MAXP];
	struct mp3prof_sample s;
	struct mp3_ring r;
	uint64_t pos = 0, cpu = 0, dh, lost = 0;
	int ret, status, i, samples = 0;
	pid_t child;

	ASSERT_EQ(0, set_paranoid(2));
	a.busy = spawn_busy();
	ASSERT_LT(0, a.busy);
	dh = default_head();
	ASSERT_EQ(0, mp3_session_start(&r, PER_PROC, 20 * MS, 16, 0));
	ASSERT_EQ(0, mp3_session_add(r.fd, a.busy));

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0)
		_exit(nobody_session(&a));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("nobody's child failed at step %d (status %#x)", self->sh->step, status);
	ASSERT_EQ(10, self->sh->step);
	EXPECT_EQ(0, self->sh->err[0]);
	EXPECT_EQ(0, self->sh->err[1])
		TH_LOG("nobody adding its own process: %s", strerror(-self->sh->err[1]));
	EXPECT_EQ(-EPERM, self->sh->err[2]) TH_LOG("nobody adding root's process by pidfd");
	EXPECT_EQ(-EPERM, self->sh->err[3]) TH_LOG("nobody adding root's process by pid");
	EXPECT_EQ(-EPERM, self->sh->err[4]) TH_LOG("nobody adding init");
	EXPECT_EQ(0, self->sh->err[5]);

	/* root's session over the same time */
	for (;;) {
		ret = mp3_ring_next_sample(&r, &pos, mp3_head(&r), &s, recs, MAXP, &lost);
		if (ret <= 0)
			break;
		for (i = 0; i < (int)s.nr_procs && i < MAXP; i++)
			EXPECT_EQ((uint32_t)a.busy, recs[i].pid)
				TH_LOG("root's session has a record of pid %u", recs[i].pid);
		if (s.time_ns <= self->sh->t0 || s.time_ns > self->sh->t1)
			continue;
		cpu += s.cpu_ns;
		samples++;
	}
	EXPECT_EQ(0, ret);
	TH_LOG("%llu ms: root's %d samples, %llu ms CPU; nobody's %llu, %llu us, %llu faults",
	       (unsigned long long)(self->sh->t1 - self->sh->t0) / MS, samples,
	       (unsigned long long)cpu / MS, (unsigned long long)self->sh->val[2],
	       (unsigned long long)self->sh->val[0] / 1000,
	       (unsigned long long)self->sh->val[1]);
	/* nobody's session saw its sleeper only, and nothing of the busy loop */
	EXPECT_EQ(1, self->sh->nr_pids);
	for (i = 0; i < self->sh->nr_pids; i++)
		EXPECT_EQ((uint32_t)self->sh->pid[0], self->sh->pids_seen[i]);
	EXPECT_LE(10, self->sh->val[2]) TH_LOG("nobody's session hardly sampled");
	EXPECT_LE(100 * MS, cpu) TH_LOG("the busy loop got little CPU: the check means little");
	EXPECT_GT(cpu / 50, self->sh->val[0]);
	EXPECT_GE(5 * MS, self->sh->val[0]);
	EXPECT_EQ(dh, default_head()) TH_LOG("the default ring took samples");
	mp3_ring_close(&r);
}

/* -------------------------------------------------- per-process records */

struct proc_seen {
	uint32_t pid;
	int records, last_flags_at;	/* records seen; index of a last-record flag */
	uint16_t last_flags;
	uint64_t min_flt, maj_flt, cpu_ns;
	bool after_last;		/* a record after its last one */
};

static struct proc_seen *seen_of(struct proc_seen *ps, int *n, uint32_t pid)
{
	int i;

	for (i = 0; i < *n; i++)
		if (ps[i].pid == pid)
			return &ps[i];
	if (*n >= 16)
		return NULL;
	memset(&ps[*n], 0, sizeof(ps[*n]));
	ps[*n].pid = pid;
	ps[*n].last_flags_at = -1;
	return &ps[(*n)++];
}

/*
 * Walk every sample of @r: each is followed by exactly nr_procs process
 * records that sum exactly to it; nr_exited counts the EXITED ones; no
 * pid twice in a sample; a record with a last-record flag is the last of
 * its pid.  Fills @ps with what each pid did.
 */
static void check_records(struct __test_metadata *_metadata,
			  const struct mp3_ring *r, struct proc_seen *ps, int *nps,
			  uint64_t *nr_samples)
{
	struct mp3prof_proc_record recs[MAXP];
	struct mp3prof_sample s;
	uint64_t pos = 0, lost = 0, end = mp3_head(r), prev_time = 0;
	int ret, sample = 0;

	for (;;) {
		uint64_t min = 0, maj = 0, cpu = 0, at = pos;
		uint32_t i, exited = 0;

		ret = mp3_ring_next_sample(r, &pos, end, &s, recs, MAXP, &lost);
		if (ret <= 0)
			break;
		EXPECT_EQ(0, s.flags);
		EXPECT_LT(0, s.nr_procs);
		EXPECT_LT(prev_time, s.time_ns);
		prev_time = s.time_ns;
		for (i = 0; i < s.nr_procs; i++) {
			const struct mp3prof_proc_record *p = &recs[i];
			struct proc_seen *x = seen_of(ps, nps, p->pid);
			uint32_t j;

			EXPECT_EQ(at + 1 + i, p->seq);
			EXPECT_EQ(0, p->ppid);
			EXPECT_EQ(0, p->__reserved0);
			EXPECT_EQ(0, p->__reserved[0] | p->__reserved[1]);
			EXPECT_EQ(0, p->flags & ~(MP3PROF_PROC_EXITED | MP3PROF_PROC_REMOVED))
				TH_LOG("sample %d: pid %u flags %#x", sample, p->pid, p->flags);
			for (j = 0; j < i; j++)
				EXPECT_NE(recs[j].pid, p->pid) TH_LOG("pid %u twice", p->pid);
			min += p->min_flt;
			maj += p->maj_flt;
			cpu += p->cpu_ns;
			exited += !!(p->flags & MP3PROF_PROC_EXITED);
			ASSERT_NE(NULL, x);
			if (x->last_flags)
				x->after_last = true;
			x->records++;
			x->min_flt += p->min_flt;
			x->maj_flt += p->maj_flt;
			x->cpu_ns += p->cpu_ns;
			if (p->flags) {
				x->last_flags = p->flags;
				x->last_flags_at = sample;
			}
		}
		EXPECT_EQ(s.min_flt, min) TH_LOG("sample %d", sample);
		EXPECT_EQ(s.maj_flt, maj) TH_LOG("sample %d", sample);
		EXPECT_EQ(s.cpu_ns, cpu) TH_LOG("sample %d", sample);
		EXPECT_EQ(s.nr_exited, exited) TH_LOG("sample %d", sample);
		/* the next record is the next sample */
		if (pos < end) {
			union mp3_rec next;

			if (!mp3_ring_get_rec(r, pos, &next))
				EXPECT_EQ(MP3PROF_RECORD_SAMPLE, next.h.type);
		}
		sample++;
	}
	EXPECT_EQ(0, ret);
	EXPECT_EQ(0, lost) TH_LOG("the ring is large enough to lose nothing");
	EXPECT_EQ(end, pos);
	*nr_samples = sample;
}

/* Wait until a record of @pid carries @flag: 0 or -ETIMEDOUT. */
static int wait_flag(const struct mp3_ring *r, uint64_t *pos, uint32_t pid,
		     uint16_t flag, unsigned int timeout_ms)
{
	struct mp3prof_proc_record recs[MAXP];
	struct mp3prof_sample s;
	uint64_t end = mp3_now_ns() + timeout_ms * MS;
	uint32_t i;
	int ret;

	for (;;) {
		ret = mp3_ring_next_sample(r, pos, mp3_head(r), &s, recs, MAXP, NULL);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			if (mp3_now_ns() > end)
				return -ETIMEDOUT;
			mp3_msleep(2);
			continue;
		}
		for (i = 0; i < s.nr_procs && i < MAXP; i++)
			if (recs[i].pid == pid && (recs[i].flags & flag))
				return 0;
	}
}

/*
 * Three workers: one faults and is removed at the end, one is removed
 * early, one is killed.  Every record is where it belongs, each carries
 * the right last-record flag once, and the working one's records add up
 * to what it measured itself.
 */
TEST_F_TIMEOUT(sess, per_process_records, 120)
{
	struct mp3_worker w[3];
	struct mp3_wrep before, rep;
	struct proc_seen ps[16];
	struct mp3_ring r;
	uint64_t pos = 0, samples;
	int i, nps = 0;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mp3_worker_start(&w[i]));
	ASSERT_EQ(0, mp3_worker_do(&w[0], MP3_OP_NOP, 1, 0, &before));
	ASSERT_EQ(0, mp3_session_start(&r, PER_PROC, 10 * MS, 64, 8));
	ASSERT_EQ(0, mp3_session_add(r.fd, w[0].pid));
	ASSERT_EQ(0, mp3_session_add_pid(r.fd, w[1].pid));
	ASSERT_EQ(0, mp3_session_add(r.fd, w[2].pid));

	ASSERT_EQ(0, mp3_worker_do(&w[0], MP3_OP_TOUCH, 1, 300, &rep));
	ASSERT_EQ(0, mp3_worker_do(&w[2], MP3_OP_BUSY, 1, 30, &rep));
	ASSERT_EQ(0, mp3_wait_nr_samples(&r, 3, 5000));
	ASSERT_EQ(0, mp3_session_remove_pid(r.fd, w[1].pid));
	ASSERT_EQ(0, wait_flag(&r, &pos, w[1].pid, MP3PROF_PROC_REMOVED, 5000));
	ASSERT_EQ(0, mp3_worker_do(&w[0], MP3_OP_TOUCH, 2, 100, &rep));
	mp3_kill_reap(w[2].pid);
	ASSERT_EQ(0, wait_flag(&r, &pos, w[2].pid, MP3PROF_PROC_EXITED, 5000));
	ASSERT_EQ(0, mp3_worker_do(&w[0], MP3_OP_BUSY, 1, 20, &rep));
	ASSERT_EQ(0, mp3_wait_nr_samples(&r, 2, 5000));
	ASSERT_EQ(0, mp3_session_remove(r.fd, w[0].pid));
	ASSERT_EQ(0, wait_flag(&r, &pos, w[0].pid, MP3PROF_PROC_REMOVED, 5000));
	/* nothing left: sampling stops */
	ASSERT_EQ(0, mp3_wait_idle(&r, 100, 5000));

	check_records(_metadata, &r, ps, &nps, &samples);
	TH_LOG("%llu samples, %llu records", (unsigned long long)samples,
	       (unsigned long long)mp3_head(&r));
	EXPECT_EQ(samples, r.hdr->samples);
	ASSERT_EQ(3, nps);
	for (i = 0; i < nps; i++) {
		struct proc_seen *x = &ps[i];
		uint16_t want = x->pid == (uint32_t)w[2].pid ? MP3PROF_PROC_EXITED :
				MP3PROF_PROC_REMOVED;

		EXPECT_TRUE(x->pid == (uint32_t)w[0].pid || x->pid == (uint32_t)w[1].pid ||
			    x->pid == (uint32_t)w[2].pid) TH_LOG("pid %u", x->pid);
		EXPECT_EQ(want, x->last_flags) TH_LOG("pid %u", x->pid);
		EXPECT_FALSE(x->after_last) TH_LOG("pid %u has records after its last", x->pid);
		EXPECT_LT(1, x->records);
		if (x->pid == (uint32_t)w[0].pid) {
			/*
			 * What it did between the NOP and its last reply, which
			 * the records' interval contains: faults exact (+-2);
			 * CPU time within two ticks, the two clocks having been
			 * seen up to 5.2 ms (1.3 ticks at HZ 250) apart in both
			 * directions in the TCG guest, one busy thread too.
			 */
			uint64_t dmin = rep.min_flt - before.min_flt;
			uint64_t dcpu = rep.cpu_ns - before.cpu_ns;
			uint64_t tick = MP3_NSEC / r.hdr->hz;

			TH_LOG("worker: %llu faults, %llu us CPU measured; %llu, %llu us recorded",
			       (unsigned long long)dmin, (unsigned long long)dcpu / 1000,
			       (unsigned long long)x->min_flt,
			       (unsigned long long)x->cpu_ns / 1000);
			EXPECT_LE(500, x->min_flt);
			EXPECT_LE(dmin, x->min_flt + 2);
			EXPECT_GE(dmin + 2, x->min_flt);
			EXPECT_LE(dcpu, x->cpu_ns + 2 * tick);
			EXPECT_GE(dcpu + 2 * tick + 50 * MS, x->cpu_ns);
		}
	}
	mp3_ring_close(&r);
	for (i = 0; i < 3; i++)
		if (i != 2)
			mp3_worker_stop(&w[i]);
}

/*
 * Records number processes in the pid namespace of the session's owner:
 * an owner inside a new pid namespace sees the namespace's numbers, and
 * cannot add a process outside it.
 */
static int ns_owner(struct shared *sh, int outside_pidfd)
{
	struct mp3prof_proc_record recs[MAXP];
	struct mp3prof_sample s;
	struct mp3_ring r;
	uint64_t pos = 0;
	int i, ret, n = 0;
	pid_t kid;
	int p[2];

	sh->pid[0] = getpid();		/* 1 */
	if (pipe(p))
		return 1;
	kid = fork();
	if (kid == 0) {
		char buf[32];
		ssize_t len;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* our number outside: /proc is the initial namespace's */
		len = readlink("/proc/self", buf, sizeof(buf) - 1);
		if (len > 0) {
			buf[len] = 0;
			sh->pid[2] = atoi(buf);
		}
		close(p[0]);
		close(p[1]);
		for (;;)
			pause();
	}
	if (kid < 0)
		return 2;
	sh->pid[1] = kid;		/* 2 */
	close(p[1]);
	mp3_wait_sleeping(kid);
	sh->err[0] = mp3_session_start(&r, PER_PROC, 10 * MS, 8, 0);
	if (sh->err[0])
		return 3;
	sh->err[1] = mp3_session_add_pid(r.fd, kid);
	sh->err[2] = mp3_session_add_pid(r.fd, getpid());
	sh->err[3] = mp3_session_add_pidfd(r.fd, outside_pidfd);
	sh->err[4] = mp3_wait_nr_samples(&r, 3, 5000);
	for (;;) {
		ret = mp3_ring_next_sample(&r, &pos, mp3_head(&r), &s, recs, MAXP, NULL);
		if (ret <= 0)
			break;
		for (i = 0; i < (int)s.nr_procs && i < MAXP; i++) {
			if (recs[i].ppid)
				sh->flags_seen |= 1;
			if (!in_set(sh->pids_seen, n, recs[i].pid) &&
			    n < (int)ARRAY_SIZE(sh->pids_seen))
				sh->pids_seen[n++] = recs[i].pid;
		}
	}
	sh->nr_pids = n;
	sh->err[5] = ret;
	sh->step = 10;
	/* the session outside samples the kid too: until it is done */
	for (i = 0; i < 2000 && !__atomic_load_n(&sh->outside_done, __ATOMIC_ACQUIRE); i++)
		mp3_msleep(5);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	return 0;
}

TEST_F_TIMEOUT(sess, pid_namespace_numbers, 60)
{
	struct shared *sh = self->sh;
	uint32_t got[8];
	struct mp3_ring r;
	pid_t outside, c1;
	int pfd, status, i, n;

	outside = mp3_spawn_sleeper();
	ASSERT_LT(0, outside);
	pfd = mp3_pidfd_open(outside);
	ASSERT_LE(0, pfd);

	c1 = fork();
	ASSERT_LE(0, c1);
	if (c1 == 0) {
		pid_t c2;

		if (unshare(CLONE_NEWPID))
			_exit(100);
		c2 = fork();
		if (c2 == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			_exit(ns_owner(sh, pfd));
		}
		if (c2 < 0 || waitpid(c2, &status, 0) != c2)
			_exit(101);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 102);
	}
	/* meanwhile our session samples the same process, by its number here */
	for (i = 0; i < 1000 && !sh->pid[2]; i++) {
		if (waitpid(c1, &status, WNOHANG) == c1) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 100)
				SKIP(return, "unshare(CLONE_NEWPID): no pid namespaces");
			ASSERT_TRUE(0) TH_LOG("the namespace's owner ended early: %#x, step %d",
					      status, sh->step);
		}
		mp3_msleep(5);
	}
	ASSERT_LT(0, sh->pid[2]) TH_LOG("the namespace's child did not start");
	ASSERT_EQ(0, mp3_session_start(&r, PER_PROC, 10 * MS, 8, 0));
	EXPECT_EQ(0, mp3_session_add_pid(r.fd, sh->pid[2]));
	n = sampled_now(&r, got, ARRAY_SIZE(got));
	EXPECT_EQ(1, n);
	EXPECT_EQ((uint32_t)sh->pid[2], got[0]);
	__atomic_store_n(&sh->outside_done, 1, __ATOMIC_RELEASE);

	ASSERT_EQ(c1, waitpid(c1, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("owner failed, step %d", sh->step);
	ASSERT_EQ(10, sh->step);
	EXPECT_EQ(1, sh->pid[0]);
	EXPECT_EQ(2, sh->pid[1]);
	EXPECT_NE(2, sh->pid[2]);
	EXPECT_EQ(0, sh->err[0]);
	EXPECT_EQ(0, sh->err[1]) TH_LOG("adding pid 2 of the namespace");
	EXPECT_EQ(0, sh->err[2]) TH_LOG("adding itself, pid 1");
	EXPECT_EQ(-ESRCH, sh->err[3]) TH_LOG("adding a process outside its namespace");
	EXPECT_EQ(0, sh->err[4]);
	EXPECT_EQ(0, sh->err[5]);
	EXPECT_EQ(0, sh->flags_seen) TH_LOG("ppid set in a session that is no tree");
	EXPECT_EQ(2, sh->nr_pids);
	for (i = 0; i < sh->nr_pids; i++)
		EXPECT_TRUE(sh->pids_seen[i] == 1 || sh->pids_seen[i] == 2)
			TH_LOG("the namespace's session numbers a process %u", sh->pids_seen[i]);
	mp3_ring_close(&r);
	close(pfd);
}

/* ------------------------------------------------------------- lifetime */

/* fork() shares the file, so the child's ADD is the parent's session's. */
TEST_F_TIMEOUT(sess, fork_shares_session, 60)
{
	uint32_t got[8];
	struct mp3_ring r;
	pid_t k, child;
	int status, n;

	k = mp3_spawn_sleeper();
	ASSERT_LT(0, k);
	ASSERT_EQ(0, mp3_session_start(&r, PER_PROC, 10 * MS, 8, 0));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		int ret = mp3_session_add(r.fd, k);

		/* the configuration is final for the child too: it was mapped */
		if (!ret && mp3_session_configure(r.fd, 0, 0, 0, 0) != -EBUSY)
			ret = -EPROTO;
		_exit(ret ? 1 : 0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the child's copy of the file closed: the session goes on */
	n = sampled_now(&r, got, ARRAY_SIZE(got));
	ASSERT_EQ(1, n);
	EXPECT_EQ((uint32_t)k, got[0]);
	EXPECT_EQ(0, r.hdr->flags & MP3PROF_HDR_ENDED);
	EXPECT_EQ(-EEXIST, mp3_session_add(r.fd, k));
	EXPECT_EQ(0, mp3_session_remove_pid(r.fd, k));
	mp3_ring_close(&r);
}

/*
 * Closing the session's file ends it, mapped or not: the ring stays
 * readable with HDR_ENDED set, its head stops, and the processes no longer
 * count against the module's max_procs.
 */
TEST_F_TIMEOUT(sess, close_while_mapped, 60)
{
	struct mp3prof_proc_record p[MAXP];
	struct mp3prof_sample s;
	struct mp3_ring r;
	pid_t k1, k2;
	uint64_t h, samples, i;
	int other;

	k1 = mp3_spawn_sleeper();
	k2 = mp3_spawn_sleeper();
	ASSERT_LT(0, k1);
	ASSERT_LT(0, k2);
	ASSERT_EQ(0, mp3_session_start(&r, PER_PROC, 10 * MS, 8, 0));
	other = mp3_session_open(0, 10 * MS, 1, 0);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, mp3_session_add(r.fd, k1));
	ASSERT_EQ(0, mp3_wait_nr_samples(&r, 3, 5000));

	/* all sessions together: one process */
	ASSERT_EQ(0, set_max_procs(1));
	EXPECT_EQ(-ENOSPC, mp3_session_add(other, k2));
	EXPECT_EQ(-ENOSPC, mp3_cmd('R', k2));

	ASSERT_EQ(0, close(r.fd));
	r.fd = -1;
	EXPECT_TRUE(mp3_hdr_flags(&r) & MP3PROF_HDR_ENDED);
	h = mp3_head(&r);
	samples = r.hdr->samples;
	mp3_msleep(300);
	EXPECT_EQ(h, mp3_head(&r)) TH_LOG("an ended session's ring moved");
	EXPECT_EQ(samples, r.hdr->samples);
	/* still readable: every record written */
	ASSERT_LT(0, h);
	for (i = 0; i < h; i++) {
		union mp3_rec rec;

		ASSERT_EQ(0, mp3_ring_get_rec(&r, i, &rec))
			TH_LOG("record %llu", (unsigned long long)i);
	}
	ASSERT_EQ(0, mp3_ring_get_sample(&r, h - 2, &s, p, MAXP, NULL));
	EXPECT_EQ(1, s.nr_procs);
	EXPECT_EQ((uint32_t)k1, p[0].pid);

	/* the ended session's process is not counted any more */
	EXPECT_EQ(0, mp3_session_add(other, k2));
	EXPECT_EQ(-ENOSPC, mp3_session_add(other, k1));
	EXPECT_EQ(0, mp3_session_remove(other, k2));
	close(other);
	mp3_ring_close(&r);
}

/* ----------------------------------------------------------------- idle */

FIXTURE(idle) {
	struct mp3_ring r;
};

FIXTURE_VARIANT(idle) {
	bool per_process;
	bool exits;	/* the process exits instead of being removed */
};

FIXTURE_VARIANT_ADD(idle, removed) {
	.per_process = true,
};

FIXTURE_VARIANT_ADD(idle, exited) {
	.per_process = true,
	.exits = true,
};

FIXTURE_VARIANT_ADD(idle, removed_sums_only) {
};

FIXTURE_VARIANT_ADD(idle, exited_sums_only) {
	.exits = true,
};

FIXTURE_SETUP(idle)
{
	self->r.fd = -1;
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
}

FIXTURE_TEARDOWN(idle)
{
	mp3_ring_close(&self->r);
	mp3_cleanup();
}

/*
 * A session samples only while it has processes: no sample before the
 * first ADD, and none after the last process left (even at 1 kHz).
 */
TEST_F_TIMEOUT(idle, no_process_no_sample, 60)
{
	struct mp3_ring *r = &self->r;
	struct mp3prof_proc_record p[MAXP];
	struct mp3prof_sample s;
	uint64_t h, pos;
	pid_t k;

	ASSERT_EQ(0, mp3_session_start(r, variant->per_process ? PER_PROC : 0,
				       MP3PROF_PERIOD_MIN_NS, 64, 0));
	mp3_msleep(300);
	EXPECT_EQ(0, mp3_head(r));
	EXPECT_EQ(0, r->hdr->samples);
	EXPECT_EQ(0, r->hdr->work_ns);

	k = mp3_spawn_sleeper();
	ASSERT_LT(0, k);
	ASSERT_EQ(0, mp3_session_add(r->fd, k));
	ASSERT_EQ(0, mp3_wait_nr_samples(r, 5, 5000));
	if (variant->exits)
		mp3_kill_reap(k);
	else
		ASSERT_EQ(0, mp3_session_remove(r->fd, k));
	ASSERT_EQ(0, mp3_wait_idle(r, 100, 5000)) TH_LOG("sampling does not stop");
	h = mp3_head(r);
	mp3_msleep(300);
	EXPECT_EQ(h, mp3_head(r)) TH_LOG("sampling went on with no process");

	/* the last sample accounted the process one last time */
	pos = h - (variant->per_process ? 2 : 1);
	ASSERT_EQ(0, mp3_ring_get_sample(r, pos, &s, p, MAXP, NULL));
	EXPECT_EQ(1, s.nr_procs);
	EXPECT_EQ(variant->exits ? 1 : 0, s.nr_exited);
	if (variant->per_process) {
		EXPECT_EQ((uint32_t)k, p[0].pid);
		EXPECT_EQ(variant->exits ? MP3PROF_PROC_EXITED : MP3PROF_PROC_REMOVED,
			  p[0].flags);
	}
	if (!variant->exits) {
		mp3_kill_reap(k);
		/* gone for the session: a dead process changes nothing */
		mp3_msleep(100);
		EXPECT_EQ(h, mp3_head(r));
	}
}

/* --------------------------------------------------------------- limits */

/* The session's own limit, max_procs of its configuration. */
static void session_limit(struct __test_metadata *_metadata, bool per_process)
{
	struct mp3_ring r;
	pid_t k[4];
	uint64_t head;
	int i, ret;

	for (i = 0; i < 4; i++) {
		k[i] = mp3_spawn_sleeper();
		ASSERT_LT(0, k[i]);
	}
	ASSERT_EQ(0, mp3_session_start(&r, per_process ? PER_PROC : 0,
				       MP3PROF_PERIOD_MAX_NS, 1, 3));
	EXPECT_EQ(3, r.hdr->max_procs);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mp3_session_add(r.fd, k[i]));
	EXPECT_EQ(-ENOSPC, mp3_session_add(r.fd, k[3]));
	EXPECT_EQ(-ENOSPC, mp3_session_add_pid(r.fd, k[3]));
	/* the refusal changed nothing */
	EXPECT_EQ(-EEXIST, mp3_session_add(r.fd, k[0]));
	EXPECT_EQ(-ENOENT, mp3_session_remove(r.fd, k[3]));

	/* wait for a sample, then there is a second before the next one */
	ASSERT_LT(0, mp3_wait_head(&r, 1, 5000));
	head = mp3_head(&r);
	ASSERT_EQ(0, mp3_session_remove(r.fd, k[1]));
	ret = mp3_session_add(r.fd, k[3]);
	if (per_process && head == mp3_head(&r)) {
		/* its last record is due: it still counts */
		EXPECT_EQ(-ENOSPC, ret);
		ASSERT_LT(0, mp3_wait_head(&r, head + 1, 5000));
		ret = mp3_session_add(r.fd, k[3]);
	}
	EXPECT_EQ(0, ret);
	EXPECT_EQ(-ENOSPC, mp3_session_add(r.fd, k[1]));
	mp3_ring_close(&r);
}

TEST_F_TIMEOUT(sess, session_limit_sums_only, 30)
{
	session_limit(_metadata, false);
}

TEST_F_TIMEOUT(sess, session_limit_per_process, 30)
{
	session_limit(_metadata, true);
}

/* The module's max_procs caps all sessions together, the default one too. */
TEST_F_TIMEOUT(sess, global_cap, 30)
{
	struct mp3_ring a, b;
	pid_t k[3];
	int i;

	for (i = 0; i < 3; i++) {
		k[i] = mp3_spawn_sleeper();
		ASSERT_LT(0, k[i]);
	}
	ASSERT_EQ(0, set_max_procs(2));
	ASSERT_EQ(0, mp3_session_start(&a, PER_PROC, 100 * MS, 4, 0));
	ASSERT_EQ(0, mp3_session_start(&b, 0, 100 * MS, 4, 0));
	EXPECT_EQ(2, a.hdr->max_procs);
	EXPECT_EQ(-EINVAL, mp3_session_open(0, 0, 0, 3));
	ASSERT_EQ(0, mp3_session_add(a.fd, k[0]));
	ASSERT_EQ(0, mp3_session_add(b.fd, k[1]));
	EXPECT_EQ(-ENOSPC, mp3_session_add(a.fd, k[2]));
	EXPECT_EQ(-ENOSPC, mp3_session_add(b.fd, k[2]));
	EXPECT_EQ(-ENOSPC, mp3_cmd('R', k[2]));
	/* the same process in two sessions counts twice */
	EXPECT_EQ(-ENOSPC, mp3_session_add(b.fd, k[0]));
	/* removing from a session that reports sums only frees at once */
	ASSERT_EQ(0, mp3_session_remove(b.fd, k[1]));
	EXPECT_EQ(0, mp3_session_add(a.fd, k[2]));
	EXPECT_EQ(-ENOSPC, mp3_session_add(b.fd, k[1]));
	/* and raising the cap applies at once */
	ASSERT_EQ(0, set_max_procs(3));
	EXPECT_EQ(0, mp3_session_add(b.fd, k[1]));
	mp3_ring_close(&a);
	mp3_ring_close(&b);
	/* closing the sessions released everything */
	EXPECT_EQ(0, mp3_register(k[0]));
	EXPECT_EQ(0, mp3_register(k[1]));
	EXPECT_EQ(0, mp3_register(k[2]));
}

/* --------------------------------------------------------------- period */

FIXTURE(period) {
	struct mp3_ring r;
};

FIXTURE_VARIANT(period) {
	unsigned int ms;	/* the period */
	unsigned int run_ms;	/* how long to sample */
};

FIXTURE_VARIANT_ADD(period, p1ms) {
	.ms = 1,
	.run_ms = 1000,
};

FIXTURE_VARIANT_ADD(period, p10ms) {
	.ms = 10,
	.run_ms = 1500,
};

FIXTURE_VARIANT_ADD(period, p100ms) {
	.ms = 100,
	.run_ms = 3000,
};

FIXTURE_SETUP(period)
{
	self->r.fd = -1;
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
}

FIXTURE_TEARDOWN(period)
{
	mp3_ring_close(&self->r);
	mp3_cleanup();
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Samples lie on the session's own CLOCK_MONOTONIC grid, start + k * period
 * from the ADD that started sampling: never before their slot (a hard
 * bound: no sample comes early, none more often than the period), each in
 * a slot of its own, and late only by the scheduling latency, so that the
 * time between two samples is mostly a multiple of the period (slots may
 * be skipped on a stalled machine).  Only the records' own time stamps and
 * CLOCK_MONOTONIC are used, never jiffies.
 */
TEST_F_TIMEOUT(period, on_the_grid, 60)
{
	struct mp3_ring *r = &self->r;
	uint64_t p = variant->ms * MS, t0, t1, now, pos = 0, lost = 0;
	uint64_t *times, *late, skipped = 0, within = 0, nd, i, n = 0;
	uint64_t tol = p / 4, dt, m, res;
	struct mp3prof_sample s;
	pid_t k;
	int ret;

	k = mp3_spawn_sleeper();
	ASSERT_LT(0, k);
	ASSERT_EQ(0, mp3_session_start(r, 0, p, 64, 0));
	EXPECT_EQ(p, r->hdr->period_ns);
	EXPECT_EQ(1000 / variant->ms, r->hdr->rate);
	t0 = mp3_now_ns();
	ASSERT_EQ(0, mp3_session_add(r->fd, k));
	t1 = mp3_now_ns();
	mp3_msleep(variant->run_ms);
	ASSERT_EQ(0, mp3_session_remove(r->fd, k));
	ASSERT_EQ(0, mp3_wait_idle(r, 100 + 3 * variant->ms, 5000));
	now = mp3_now_ns();

	times = calloc(r->hdr->nr_records, sizeof(*times));
	late = calloc(r->hdr->nr_records, sizeof(*late));
	ASSERT_NE(NULL, times);
	ASSERT_NE(NULL, late);
	while ((ret = mp3_ring_next_sample(r, &pos, mp3_head(r), &s, NULL, 0, &lost)) == 1)
		times[n++] = s.time_ns;
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, lost);
	ASSERT_LE(3, n);

	for (i = 0; i < n; i++) {
		/* sample i is in slot i + 1 or later: start + (i + 1) p */
		EXPECT_LE(t0 + (i + 1) * p, times[i])
			TH_LOG("sample %llu at +%llu us, before its slot",
			       (unsigned long long)i,
			       (unsigned long long)(times[i] - t0) / 1000);
		EXPECT_GE(now, times[i]);
		/* lateness after its slot, plus the time ADD took to start */
		late[i] = (times[i] - t0) % p;
		if (i == 0)
			continue;
		ASSERT_LT(times[i - 1], times[i]);
		dt = times[i] - times[i - 1];
		m = (dt + p / 2) / p;
		res = dt > m * p ? dt - m * p : m * p - dt;

		/*
		 * A late sample followed by one on time may be less than a
		 * period apart: the grid, not the gaps, is the guarantee.
		 */
		if (m > 1)
			skipped += m - 1;
		within += res <= tol;
	}
	nd = n - 1;
	qsort(late, n, sizeof(*late), cmp_u64);
	TH_LOG("%llu samples in %u ms at %u ms: %llu skipped; %llu of %llu gaps within %llu us",
	       (unsigned long long)n, variant->run_ms, variant->ms,
	       (unsigned long long)skipped, (unsigned long long)within,
	       (unsigned long long)nd, (unsigned long long)tol / 1000);
	TH_LOG("ADD took %llu us, first sample %llu us later; late: median %llu us, 90th %llu us",
	       (unsigned long long)(t1 - t0) / 1000,
	       (unsigned long long)(times[0] - t0) / 1000,
	       (unsigned long long)late[n / 2] / 1000,
	       (unsigned long long)late[n * 9 / 10] / 1000);
	/*
	 * Most gaps are whole periods: no period added to a late sample (a
	 * grid restarted at each sample would make every gap a period plus
	 * a latency).  Half: a loaded machine delays many samples.
	 */
	EXPECT_LE(nd, within * 2);
	/* at most one slot in two skipped, where a sample is cheap enough */
	if (variant->ms >= 10)
		EXPECT_LE(skipped, nd + 1);
	free(times);
	free(late);
}

/* ------------------------------------------------------ the ring's slots */

/* No slot holds a valid record before it is written: seq is BUSY. */
TEST_F(sess, slots_start_busy)
{
	struct mp3_ring r, d;
	union mp3_rec rec;
	uint64_t h, i;
	pid_t k;

	ASSERT_EQ(0, mp3_session_start(&r, PER_PROC, 10 * MS, 4, 0));
	for (i = 0; i < r.hdr->nr_records; i++)
		ASSERT_EQ(MP3PROF_SEQ_BUSY, *(const uint64_t *)(r.base + i * 64))
			TH_LOG("slot %llu", (unsigned long long)i);
	EXPECT_EQ(-EAGAIN, mp3_ring_get_rec(&r, 0, &rec));

	k = mp3_spawn_sleeper();
	ASSERT_LT(0, k);
	ASSERT_EQ(0, mp3_session_add(r.fd, k));
	ASSERT_EQ(0, mp3_wait_nr_samples(&r, 3, 5000));
	ASSERT_EQ(0, mp3_session_remove(r.fd, k));
	ASSERT_EQ(0, mp3_wait_idle(&r, 100, 5000));
	h = mp3_head(&r);
	ASSERT_GT(r.hdr->nr_records, h);
	for (i = 0; i < r.hdr->nr_records; i++) {
		uint64_t seq = *(const uint64_t *)(r.base + i * 64);

		EXPECT_EQ(i < h ? i : MP3PROF_SEQ_BUSY, seq)
			TH_LOG("slot %llu of %llu written", (unsigned long long)i,
			       (unsigned long long)h);
	}
	mp3_ring_close(&r);

	/* the default ring: what was never written is busy too */
	ASSERT_EQ(0, mp3_ring_open(&d, 0));
	h = mp3_head(&d);
	if (h >= d.hdr->nr_records) {
		TH_LOG("the default ring wrapped already: reload_test checks a fresh one");
	} else {
		for (i = h; i < d.hdr->nr_records; i++)
			EXPECT_EQ(MP3PROF_SEQ_BUSY, *(const uint64_t *)(d.base + i * 64))
				TH_LOG("default ring slot %llu, head %llu",
				       (unsigned long long)i, (unsigned long long)h);
	}
	mp3_ring_close(&d);
}

/* --------------------------------------------------------- poll, read */

FIXTURE(pollc) {
	struct mp3_ring r;
	pid_t k;
};

FIXTURE_VARIANT(pollc) {
	bool session;
};

FIXTURE_VARIANT_ADD(pollc, session) {
	.session = true,
};

FIXTURE_VARIANT_ADD(pollc, default_ring) {
	.session = false,
};

FIXTURE_SETUP(pollc)
{
	self->r.fd = -1;
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	ASSERT_EQ(0, mp3_prepare());
	self->k = mp3_spawn_sleeper();
	ASSERT_LT(0, self->k);
	if (variant->session) {
		ASSERT_EQ(0, mp3_session_start(&self->r, 0, 20 * MS, 4, 0));
		ASSERT_EQ(0, mp3_session_add(self->r.fd, self->k));
	} else {
		ASSERT_EQ(0, mp3_ring_open(&self->r, 0));
		ASSERT_EQ(0, mp3_register(self->k));
	}
}

FIXTURE_TEARDOWN(pollc)
{
	mp3_ring_close(&self->r);
	mp3_cleanup();
}

/*
 * The eventfd contract: poll() reports EPOLLIN while the head differs from
 * what read() last returned on this file.  A poll() + read() loop wakes
 * once per new head, with no spinning; a reader that only polls sees
 * EPOLLIN at once, every time, until it reads.
 */
TEST_F_TIMEOUT(pollc, one_wakeup_per_head, 60)
{
	struct mp3_ring *r = &self->r;
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	uint64_t polls = 0, reads = 0, timeouts = 0, spurious = 0;
	uint64_t last = 0, v, s0, s1, end, h;
	int i, n, ready = 0;

	s0 = __atomic_load_n(&r->hdr->samples, __ATOMIC_ACQUIRE);
	end = mp3_now_ns() + MP3_NSEC;
	while (mp3_now_ns() < end) {
		n = poll(&pfd, 1, 1000);
		polls++;
		if (n == 0) {
			timeouts++;
			continue;
		}
		ASSERT_EQ(1, n);
		ASSERT_EQ(POLLIN, pfd.revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL));
		ASSERT_EQ(sizeof(v), read(r->fd, &v, sizeof(v)));
		reads++;
		if (v <= last)
			spurious++;
		EXPECT_GE(mp3_head(r), v);
		last = v;
	}
	s1 = __atomic_load_n(&r->hdr->samples, __ATOMIC_ACQUIRE);
	TH_LOG("%llu samples in 1 s: %llu polls, %llu reads, %llu timeouts",
	       (unsigned long long)(s1 - s0), (unsigned long long)polls,
	       (unsigned long long)reads, (unsigned long long)timeouts);
	EXPECT_EQ(0, timeouts);
	EXPECT_EQ(0, spurious) TH_LOG("read() returned a head twice");
	EXPECT_EQ(polls, reads);
	/* at most one wake-up per sample (the first may be an older head) */
	EXPECT_GE(s1 - s0 + 1, reads);
	EXPECT_LE(5, reads);

	/* poll() only: EPOLLIN every time, at once */
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	for (i = 0; i < 1000; i++)
		ready += poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
	EXPECT_EQ(1000, ready);
	/* read() consumes it: nothing until the head moves again */
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(sizeof(v), read(r->fd, &v, sizeof(v)));
		h = mp3_head(r);
		n = poll(&pfd, 1, 0);
		if (h == v && mp3_head(r) == h)
			break;
	}
	ASSERT_GT(10, i) TH_LOG("the head never stayed put");
	EXPECT_EQ(0, n);
	ASSERT_EQ(0, fcntl(r->fd, F_SETFL, O_NONBLOCK));
	errno = 0;
	n = read(r->fd, &v, sizeof(v));
	if (mp3_head(r) == h) {
		EXPECT_EQ(-1, n);
		EXPECT_EQ(EAGAIN, errno);
	}
	/* and the next sample wakes it */
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 5000));
	EXPECT_EQ(sizeof(v), read(r->fd, &v, sizeof(v)));
	EXPECT_LT(h, v);
}

/* A fresh session has no head to hand out: read() would block. */
TEST_F(sess, fresh_session_read)
{
	struct pollfd pfd;
	uint64_t v;
	int fd;

	fd = mp3_session_open(0, 0, 1, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(fd, &v, sizeof(v)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, read(fd, &v, 4));
	EXPECT_EQ(EINVAL, errno);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	EXPECT_EQ(0, poll(&pfd, 1, 100));
	close(fd);
}

/* ----------------------------------------------------- READ_IMPLIES_EXEC */

/* Permissions of the mapping at @addr in /proc/self/maps, e.g. "r--s". */
static int maps_perms(const void *addr, char *perms)
{
	char *buf = NULL, *line, *save = NULL;
	unsigned long start;
	int ret = -ENOENT;

	if (mp3_read_file("/proc/self/maps", &buf, 65536) < 0)
		return -EIO;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%lx-%*x %4s", &start, perms) == 2 &&
		    start == (unsigned long)addr) {
			ret = 0;
			break;
		}
	}
	free(buf);
	return ret;
}

/*
 * PROT_READ means PROT_READ | PROT_EXEC for a READ_IMPLIES_EXEC process:
 * it still maps the ring, without exec, and cannot add exec later.
 */
TEST_F(sess, read_implies_exec_mapping)
{
	struct mp3_ring r, d;
	struct statvfs sv;
	char perms[8];
	int old;
	void *anon;

	old = personality(0xffffffff);
	ASSERT_NE(-1, old);
	if (!statvfs(MP3_DEV, &sv) && (sv.f_flag & ST_NOEXEC))
		TH_LOG("%s is on a noexec mount: mmap() adds no PROT_EXEC to test", MP3_DEV);
	ASSERT_NE(-1, personality(old | READ_IMPLIES_EXEC));
	/* it applies: a readable anonymous mapping is executable */
	anon = mmap(NULL, mp3_page_size(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	ASSERT_EQ(0, maps_perms(anon, perms));
	ASSERT_STREQ("r-xp", perms);
	munmap(anon, mp3_page_size());

	ASSERT_EQ(0, mp3_session_start(&r, 0, 0, 1, 0)) TH_LOG("session ring");
	ASSERT_EQ(0, maps_perms(r.hdr, perms));
	EXPECT_STREQ("r--s", perms);
	EXPECT_EQ(0, mprotect(r.hdr, r.len, PROT_READ));
	ASSERT_EQ(0, maps_perms(r.hdr, perms));
	EXPECT_STREQ("r--s", perms);
	EXPECT_EQ(-1, mprotect(r.hdr, r.len, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	mp3_ring_close(&r);

	ASSERT_EQ(0, mp3_ring_open(&d, 0)) TH_LOG("default ring");
	ASSERT_EQ(0, maps_perms(d.hdr, perms));
	EXPECT_STREQ("r--s", perms);
	mp3_ring_close(&d);

	/* without the personality, asking for exec is refused */
	ASSERT_NE(-1, personality(old));
	d.fd = open(MP3_DEV, O_RDONLY);
	ASSERT_LE(0, d.fd);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, mp3_page_size(), PROT_READ | PROT_EXEC,
				   MAP_SHARED, d.fd, 0));
	EXPECT_EQ(EPERM, errno);
	close(d.fd);
}

/* ---------------------------------------------- "U" of another's zombie */

/*
 * The docs promise that anyone may unregister a process that exited: for
 * an exited, not yet reaped process of another user too.  Root registers
 * a process of uid 65534; it exits and stays a zombie; uid 65533 (no
 * access to 65534's processes at perf_event_paranoid 2: "U" of the live
 * one is EPERM) writes "U pid" with a control file it opened itself.
 * The default session drops an exited process at its next sample by
 * itself (then "U" is ENOENT), so the zombie's "U" is timed right after a
 * sample, and tried again if the sample won the race.
 */
TEST_F_TIMEOUT(sess, unregister_zombie_of_other_user, 120)
{
	struct shared *sh = self->sh;
	struct mp3_ring d;
	int tries, ok = 0, enoent = 0, eperm = 0, other = 0;

	ASSERT_EQ(0, set_paranoid(2));
	ASSERT_EQ(0, mp3_ring_open(&d, 0));
	for (tries = 0; tries < 8 && !ok; tries++) {
		int zp[2], up[2], gp[2], status, ret;
		pid_t z, live, u;
		siginfo_t si;
		uint64_t h;
		char c;

		ASSERT_EQ(0, pipe(zp));
		ASSERT_EQ(0, pipe(up));
		ASSERT_EQ(0, pipe(gp));
		/* the zombie-to-be and a live process, both of uid 65534 */
		z = fork();
		ASSERT_LE(0, z);
		if (z == 0) {
			if (become(NOBODY))
				_exit(1);
			if (read(zp[0], &c, 1) != 1)
				_exit(2);
			_exit(0);
		}
		mp3_track_child(z);
		live = fork();
		ASSERT_LE(0, live);
		if (live == 0) {
			if (become(NOBODY))
				_exit(1);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		mp3_track_child(live);
		ASSERT_EQ(0, mp3_wait_sleeping(z));
		ASSERT_EQ(0, mp3_wait_sleeping(live));
		ASSERT_EQ(0, mp3_register(z));
		ASSERT_EQ(0, mp3_register(live));

		/* uid 65533 opens the control file, then waits for the go */
		u = fork();
		ASSERT_LE(0, u);
		if (u == 0) {
			int fd;

			close(up[0]);
			close(gp[1]);
			if (become(OTHER_UID))
				_exit(1);
			fd = open(MP3_STATUS, O_WRONLY);
			if (fd < 0)
				_exit(2);
			sh->err[0] = mp3_cmd_fd(fd, 'U', live);
			if (write(up[1], "r", 1) != 1 || read(gp[0], &c, 1) != 1)
				_exit(3);
			sh->err[1] = mp3_cmd_fd(fd, 'U', z);
			_exit(0);
		}
		close(up[1]);
		close(gp[0]);
		ASSERT_EQ(1, read(up[0], &c, 1));
		/* right after a sample: the next one is 50 ms away */
		h = mp3_head(&d);
		ASSERT_LT(0, mp3_wait_head(&d, h + 1, 5000));
		ASSERT_EQ(1, write(zp[1], "x", 1));	/* z exits */
		memset(&si, 0, sizeof(si));
		ASSERT_EQ(0, waitid(P_PID, z, &si, WEXITED | WNOWAIT));
		ASSERT_EQ(1, write(gp[1], "g", 1));
		ASSERT_EQ(u, waitpid(u, &status, 0));
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("uid %d's child: status %#x", OTHER_UID, status);
		close(up[0]);
		close(gp[1]);
		close(zp[0]);
		close(zp[1]);

		EXPECT_EQ(-EPERM, sh->err[0])
			TH_LOG("uid %d removed a live process of uid %d", OTHER_UID, NOBODY);
		ret = sh->err[1];
		if (ret == 0)
			ok++;
		else if (ret == -ENOENT)
			enoent++;
		else if (ret == -EPERM)
			eperm++;
		else
			other++;
		/* gone from the listing either way */
		EXPECT_EQ(0, mp3_lookup(z, NULL));
		mp3_untrack_reg(z);
		EXPECT_EQ(0, mp3_unregister(live));
		mp3_kill_reap(z);
		mp3_kill_reap(live);
	}
	TH_LOG("%d tries: %d removed, %d already dropped by the sampler (ENOENT), %d EPERM",
	       tries, ok, enoent, eperm);
	EXPECT_EQ(0, eperm) TH_LOG("\"U\" of an exited process refused");
	EXPECT_EQ(0, other);
	EXPECT_LT(0, ok) TH_LOG("the sampler always dropped the zombie first");
	mp3_ring_close(&d);
}

TEST_HARNESS_MAIN
