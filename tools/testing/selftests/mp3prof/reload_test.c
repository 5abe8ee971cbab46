// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof module reload: unload and load the module many times with
 * processes registered, files open, mappings alive and sampling running in
 * between.  Open files and mappings of /dev/mp3prof pin the module;
 * registrations and open /proc/mp3prof/status files do not, and unloading
 * frees them.  Also a tiny, fast ring (buffer_pages=1, rate=HZ) hammered by
 * readers, where records are overwritten all the time.  Sessions pin the
 * module through their files and, once ended, the mappings of their
 * rings; a freshly loaded default ring has every slot busy.
 *
 * Needs root and the module file: $MP3PROF_KO, or /lib/modules/mp3prof.ko
 * where the test guest's /init loads it from.  Leaves the module loaded with
 * default parameters, as it found it.
 *
 * Environment:
 *   MP3PROF_KO            the module file
 *   MP3PROF_RELOAD_COUNT  unload/load cycles (default 100)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#define DEFAULT_RATE	20
#define DEFAULT_PAGES	128

static char ko_path[4096];

static const char *find_ko(void)
{
	const char *env = getenv("MP3PROF_KO");
	struct utsname u;

	if (env && *env)
		return access(env, R_OK) ? NULL : env;
	if (!access("/lib/modules/mp3prof.ko", R_OK))
		return "/lib/modules/mp3prof.ko";
	if (!uname(&u)) {
		snprintf(ko_path, sizeof(ko_path),
			 "/lib/modules/%s/kernel/drivers/misc/mp3prof/mp3prof.ko", u.release);
		if (!access(ko_path, R_OK))
			return ko_path;
	}
	return NULL;
}

static bool is_loaded(void)
{
	return access("/sys/module/mp3prof/initstate", F_OK) == 0;
}

/* finit_module(): 0 or -errno. */
static int load(const char *params)
{
	const char *ko = find_ko();
	int fd, ret = 0;

	if (!ko)
		return -ENOENT;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(__NR_finit_module, fd, params, 0))
		ret = -errno;
	close(fd);
	return ret;
}

static int unload(void)
{
	return syscall(__NR_delete_module, "mp3prof", O_NONBLOCK) ? -errno : 0;
}

static long long param(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), MP3_PARAMS "%s", name);
	return mp3_read_ull(path);
}

/* Loaded with the parameters /init uses (none), whatever it was before. */
static int restore_default(void)
{
	int ret;

	if (is_loaded() && param("rate") == DEFAULT_RATE &&
	    param("buffer_pages") == DEFAULT_PAGES)
		return 0;
	if (is_loaded()) {
		ret = unload();
		if (ret)
			return ret;
	}
	return load("");
}

FIXTURE(reload) {
	pid_t kid;
	struct mp3_ring r;	/* closed by the teardown, to allow unloading */
	int ctl;
};

FIXTURE_SETUP(reload)
{
	self->r.fd = -1;
	self->ctl = -1;
	if (geteuid() != 0)
		SKIP(return, "must be run as root");
	if (!find_ko())
		SKIP(return, "no mp3prof.ko (set MP3PROF_KO)");
	if (access("/sys/module/mp3prof", F_OK) == 0 && !is_loaded())
		SKIP(return, "mp3prof is built in");
	if (!is_loaded())
		ASSERT_EQ(0, load(""));
	ASSERT_TRUE(mp3_loaded());
	ASSERT_EQ(0, mp3_prepare());
	self->kid = mp3_spawn_sleeper();
	ASSERT_LT(0, self->kid);
}

FIXTURE_TEARDOWN(reload)
{
	int ret;

	mp3_ring_close(&self->r);
	if (self->ctl >= 0)
		close(self->ctl);
	mp3_cleanup();
	ret = restore_default();
	if (ret)
		TH_LOG("could not reload mp3prof with default parameters: %s",
		       strerror(-ret));
}

/* Expect the module to be pinned now. */
#define EXPECT_PINNED() do {						\
	int __ret = unload();						\
	EXPECT_TRUE(__ret == -EWOULDBLOCK || __ret == -EBUSY)		\
		TH_LOG("delete_module() while held: %s",		\
		       __ret ? strerror(-__ret) : "succeeded");		\
	if (!__ret)							\
		ASSERT_EQ(0, load(""));					\
} while (0)

/* A child that faults pages until killed. */
static pid_t spawn_busy(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		for (;;) {
			size_t ps = mp3_page_size(), i;
			char *m = mmap(NULL, 8 * ps, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (m == MAP_FAILED)
				continue;
			for (i = 0; i < 8 * ps; i += ps)
				m[i] = 1;
			munmap(m, 8 * ps);
		}
	}
	if (pid > 0)
		mp3_track_child(pid);
	return pid;
}

TEST_F_TIMEOUT(reload, unload_load_loop, 3600)
{
	static const char * const bad[] = {
		"rate=0", "rate=100000", "rate=abc", "buffer_pages=0",
		"buffer_pages=65537", "max_procs=-1", "rate=",
	};
	const char *env = getenv("MP3PROF_RELOAD_COUNT");
	int count = env ? atoi(env) : 100, i, ret;
	unsigned int hz;
	uint64_t t0 = mp3_now_ns();
	pid_t busy = 0;

	{
		struct mp3_ring r;

		ASSERT_EQ(0, mp3_ring_open(&r, 0));
		hz = r.hdr->hz;
		mp3_ring_close(&r);
	}
	busy = spawn_busy();
	ASSERT_LT(0, busy);

	for (i = 0; i < count; i++) {
		struct mp3_ring *rp = &self->r;
		char params[64] = "", buf[8];
		void *map = MAP_FAILED;
		size_t len = 0;

		/* registrations never pin the module */
		ASSERT_EQ(0, mp3_cmd('R', self->kid)) TH_LOG("cycle %d", i);
		if (i % 2)
			ASSERT_EQ(0, mp3_cmd('R', getpid()));

		switch (i % 5) {
		case 0:	/* map, read, unmap, close */
			ASSERT_EQ(0, mp3_ring_open(rp, 0));
			EXPECT_EQ(MP3PROF_MAGIC, rp->hdr->magic);
			mp3_ring_close(rp);
			break;
		case 1:	/* a mapping outliving its file pins the module */
			ASSERT_EQ(0, mp3_ring_open(rp, 0));
			close(rp->fd);
			rp->fd = -1;
			EXPECT_PINNED();
			EXPECT_EQ(MP3PROF_MAGIC, rp->hdr->magic);
			mp3_ring_close(rp);
			break;
		case 2:	/* so does an open file */
			rp->fd = open(MP3_DEV, O_RDONLY);
			ASSERT_LE(0, rp->fd);
			map = mmap(NULL, mp3_page_size(), PROT_READ, MAP_SHARED, rp->fd, 0);
			ASSERT_NE(MAP_FAILED, map);
			len = mp3_page_size();
			munmap(map, len);
			EXPECT_PINNED();
			close(rp->fd);
			rp->fd = -1;
			break;
		case 3:	/* an open control file does not: it goes stale */
			self->ctl = open(MP3_STATUS, O_RDWR);
			ASSERT_LE(0, self->ctl);
			EXPECT_LE(0, read(self->ctl, buf, 3));
			break;
		case 4:	/* unload while sampling runs */
			ASSERT_EQ(0, mp3_cmd('R', busy));
			ASSERT_EQ(0, mp3_ring_open(rp, 0));
			EXPECT_EQ(0, mp3_wait_samples(rp, 1, 5000));
			mp3_ring_close(rp);
			break;
		}

		ret = unload();
		ASSERT_EQ(0, ret) TH_LOG("cycle %d: delete_module() with registrations: %s",
					 i, strerror(-ret));
		EXPECT_FALSE(mp3_loaded());
		EXPECT_EQ(-1, access(MP3_STATUS, F_OK));
		EXPECT_EQ(-1, access(MP3_DEV, F_OK));
		if (self->ctl >= 0) {
			EXPECT_EQ(-1, write(self->ctl, "U 1", 3));
			EXPECT_EQ(EIO, errno);
			EXPECT_EQ(-1, read(self->ctl, buf, sizeof(buf)));
			close(self->ctl);
			self->ctl = -1;
		}

		/* refused parameters leave nothing behind */
		if (i % 10 == 9) {
			const char *p = bad[(i / 10) % ARRAY_SIZE(bad)];

			ret = load(p);
			EXPECT_EQ(-EINVAL, ret) TH_LOG("load with \"%s\": %s", p,
						       ret ? strerror(-ret) : "loaded");
			if (!ret)
				ASSERT_EQ(0, unload());
			EXPECT_FALSE(is_loaded());
		}

		if (i % 10 == 3)
			snprintf(params, sizeof(params), "rate=%u buffer_pages=1", hz);
		else if (i % 10 == 6)
			snprintf(params, sizeof(params), "rate=1 buffer_pages=3 max_procs=2");
		ret = load(params);
		ASSERT_EQ(0, ret) TH_LOG("cycle %d: load \"%s\": %s", i, params, strerror(-ret));
		ASSERT_TRUE(mp3_loaded());
		EXPECT_EQ(0, mp3_count());
		if (params[0]) {
			ASSERT_EQ(0, mp3_ring_open(rp, 0));
			EXPECT_EQ(i % 10 == 3 ? hz : 1, rp->hdr->rate);
			EXPECT_EQ(i % 10 == 3 ? 64 : 128, rp->hdr->nr_records);
			EXPECT_EQ(0, rp->hdr->head);
			mp3_ring_close(rp);
		}
	}
	mp3_kill_reap(busy);
	ksft_print_msg("mp3prof-reload: reloads=%d seconds=%llu\n", count,
		       (unsigned long long)((mp3_now_ns() - t0) / MP3_NSEC));
	mp3_cleanup();
	ASSERT_EQ(0, restore_default());
}

#define READERS	2

struct reader {
	const struct mp3_ring *r;
	int *stop;		/* read with __atomic_load_n() */
	uint64_t valid, stale, bad;
	char why[160];
	/* newest records compared with the clock, and found over 1 s old */
	uint64_t clock_next, clock_checked, clock_off;
	char clock_why[80];
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
	uint32_t nr = r->hdr->nr_records;

	while (!__atomic_load_n(rd->stop, __ATOMIC_RELAXED)) {
		uint64_t head = mp3_head(r), s, from = head > nr ? head - nr : 0;
		struct mp3prof_sample prev = { 0 }, cur;
		bool have_prev = false;

		for (s = from; s < head; s++) {
			uint64_t dj, now;

			if (mp3_ring_get(r, s, &cur)) {
				rd->stale++;
				have_prev = false;
				continue;
			}
			rd->valid++;
			/*
			 * time_ns is CLOCK_MONOTONIC when the counters were
			 * read: never later than now, and the newest record
			 * is recent.  A stalled virtual CPU can delay a
			 * sample for a while: only a systematic lag fails
			 * (see the test).  Nothing is assumed of jiffies but
			 * that they do not go backwards.
			 */
			now = mp3_now_ns();
			if (cur.time_ns > now)
				reader_bad(rd, "time_ns is in the future", s);
			if (s + 1 == head && s >= rd->clock_next) {
				rd->clock_next = s + 1;
				rd->clock_checked++;
				if (now - cur.time_ns > MP3_NSEC && !rd->clock_off++)
					snprintf(rd->clock_why, sizeof(rd->clock_why),
						 "record %llu: %llu us old",
						 (unsigned long long)s,
						 (unsigned long long)(now - cur.time_ns) / 1000);
			}
			if (cur.nr_procs > 2 || cur.nr_exited > cur.nr_procs)
				reader_bad(rd, "nr_procs/nr_exited inconsistent", s);
			/* equal is possible: the clock may be jiffies-based */
			dj = cur.jiffies - prev.jiffies;
			if (have_prev && (cur.time_ns < prev.time_ns || (int64_t)dj < 0))
				reader_bad(rd, "time goes backwards", s);
			prev = cur;
			have_prev = true;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(reload, tiny_fast_ring, 120)
{
	struct reader rd[READERS];
	pthread_t th[READERS];
	int stop = 0;
	struct mp3_ring *r = &self->r;
	char params[64];
	unsigned int hz;
	uint64_t h;
	int i;

	ASSERT_EQ(0, mp3_ring_open(r, 0));
	hz = r->hdr->hz;
	mp3_ring_close(r);
	ASSERT_EQ(0, unload());
	snprintf(params, sizeof(params), "rate=%u buffer_pages=1", hz);
	ASSERT_EQ(0, load(params));
	ASSERT_EQ(0, mp3_ring_open(r, 0));
	ASSERT_EQ(64, r->hdr->nr_records);

	for (i = 0; i < 2; i++) {
		pid_t pid = spawn_busy();

		ASSERT_LT(0, pid);
		ASSERT_EQ(0, mp3_register(pid));
	}
	for (i = 0; i < READERS; i++) {
		rd[i] = (struct reader){ .r = r, .stop = &stop };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, reader_fn, &rd[i]));
	}
	mp3_msleep(2000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	h = mp3_head(r);
	mp3_cleanup();
	for (i = 0; i < READERS; i++) {
		TH_LOG("reader %d: %llu valid, %llu lost or busy copies", i,
		       (unsigned long long)rd[i].valid, (unsigned long long)rd[i].stale);
		EXPECT_EQ(0, rd[i].bad) TH_LOG("reader %d: %s", i, rd[i].why);
		EXPECT_LT(0, rd[i].valid);
		if (rd[i].clock_off)
			TH_LOG("reader %d: newest record over 1 s old %llu of %llu times, first %s",
			       i, (unsigned long long)rd[i].clock_off,
			       (unsigned long long)rd[i].clock_checked, rd[i].clock_why);
		EXPECT_LE(rd[i].clock_off * 10, rd[i].clock_checked);
	}
	TH_LOG("%llu samples, the ring wrapped %llu times", (unsigned long long)h,
	       (unsigned long long)h / 64);
	EXPECT_LT(64, h);
	mp3_ring_close(r);
}

/*
 * A session's file pins the module, and so does a mapping of its ring
 * after the file was closed (the ring outlives its session); neither is
 * left once closed and unmapped.
 */
TEST_F_TIMEOUT(reload, session_pins_module, 120)
{
	struct mp3_ring *r = &self->r;
	int fd, ret;

	/* an open file that became a session, not yet mapped */
	fd = mp3_session_open(MP3PROF_SESSION_PER_PROCESS, 10 * 1000000ULL, 4, 0);
	ASSERT_LE(0, fd);
	EXPECT_PINNED();
	ASSERT_EQ(0, mp3_session_add(fd, self->kid));
	EXPECT_PINNED();
	close(fd);
	ret = unload();
	ASSERT_EQ(0, ret) TH_LOG("after the session's file was closed: %s", strerror(-ret));
	ASSERT_EQ(0, load(""));

	/* mapped and sampling, then the file closed: the mapping still pins */
	ASSERT_EQ(0, mp3_session_start(r, MP3PROF_SESSION_PER_PROCESS, 10 * 1000000ULL, 4, 0));
	ASSERT_EQ(0, mp3_session_add(r->fd, self->kid));
	ASSERT_EQ(0, mp3_wait_samples(r, 2, 5000));
	EXPECT_PINNED();
	close(r->fd);
	r->fd = -1;
	EXPECT_TRUE(mp3_hdr_flags(r) & MP3PROF_HDR_ENDED);
	EXPECT_PINNED();
	EXPECT_EQ(MP3PROF_MAGIC, r->hdr->magic);
	EXPECT_LT(0, mp3_head(r));
	mp3_ring_close(r);
	ret = unload();
	ASSERT_EQ(0, ret) TH_LOG("after the ended session's ring was unmapped: %s",
				 strerror(-ret));
	ASSERT_EQ(0, load(""));

	/* a session in a child that exits with it open: nothing stays */
	if (fork() == 0) {
		fd = mp3_session_open(0, 0, 1, 0);
		_exit(fd < 0 || mp3_session_add(fd, self->kid) ? 1 : 0);
	}
	ASSERT_LT(0, wait(&ret));
	EXPECT_EQ(0, ret);
	ret = unload();
	ASSERT_EQ(0, ret) TH_LOG("after a session's process exited: %s", strerror(-ret));
	ASSERT_EQ(0, load(""));
}

/*
 * A freshly loaded module's default ring has no record: every slot's seq
 * is MP3PROF_SEQ_BUSY until its record is written, so slot 0 never reads
 * as a valid record 0 of zeros.
 */
TEST_F_TIMEOUT(reload, fresh_default_ring_busy, 60)
{
	struct mp3_ring *r = &self->r;
	struct mp3prof_sample s;
	uint64_t h, i;

	ASSERT_EQ(0, unload());
	ASSERT_EQ(0, load(""));
	ASSERT_EQ(0, mp3_ring_open(r, 0));
	EXPECT_EQ(0, mp3_head(r));
	for (i = 0; i < r->hdr->nr_records; i++)
		ASSERT_EQ(MP3PROF_SEQ_BUSY, *(const uint64_t *)(r->base + i * r->hdr->record_size))
			TH_LOG("slot %llu", (unsigned long long)i);
	EXPECT_EQ(-EAGAIN, mp3_ring_get(r, 0, &s));

	ASSERT_EQ(0, mp3_register(self->kid));
	ASSERT_EQ(0, mp3_wait_samples(r, 3, 5000));
	ASSERT_EQ(0, mp3_unregister(self->kid));
	ASSERT_EQ(0, mp3_wait_idle(r, 200, 5000));
	h = mp3_head(r);
	ASSERT_GT(r->hdr->nr_records, h);
	for (i = 0; i < r->hdr->nr_records; i++)
		EXPECT_EQ(i < h ? i : MP3PROF_SEQ_BUSY,
			  *(const uint64_t *)(r->base + i * r->hdr->record_size))
			TH_LOG("slot %llu, head %llu", (unsigned long long)i,
			       (unsigned long long)h);
	EXPECT_EQ(0, mp3_ring_get(r, 0, &s));
	EXPECT_EQ(1, s.nr_procs);
	mp3_ring_close(r);
}

TEST_HARNESS_MAIN
