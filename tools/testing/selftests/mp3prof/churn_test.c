// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof process churn: many short-lived processes and threads register
 * themselves and exit concurrently while readers map, poll, read and remap
 * /dev/mp3prof, and unloading the module is attempted (and must fail) while
 * it is held open.  Afterwards the registry must be empty and the samples
 * must count every process that exited registered exactly once.
 *
 * Also the pid reuse window: a registered process dies and its number goes
 * to a new process before the next sample notices.
 *
 * Environment:
 *   MP3PROF_CHURN_COUNT  number of processes (default 1000)
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
#include <sys/syscall.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

#define SPAWNERS	4
#define IN_FLIGHT	4	/* children per spawner alive at once */
#define READERS		2
#define DEFAULT_COUNT	1000
#define FAULT_PAGES	8

enum mode {
	EXIT_REGISTERED,	/* registers itself, exits */
	LEADER_GONE,		/* a thread registers; the leader exits first */
	PARENT_UNREGISTERS,	/* registers itself, the parent unregisters it */
	SELF_UNREGISTERS,	/* registers and unregisters itself, exits */
	NR_MODES
};

struct churn {
	int per_spawner;
	int stop;		/* readers and the unloader: __atomic_load_n() */
	/* spawner results */
	int spawned[SPAWNERS], failed[SPAWNERS], exited_reg[SPAWNERS];
	int last_status[SPAWNERS], parent_u_err[SPAWNERS];
	/* reader results */
	uint64_t h0;
	uint64_t sum_exited;	/* reader 0, every record from h0 on */
	uint64_t next;		/* reader 0's next record */
	uint64_t lost;		/* records reader 0 could not read */
	uint64_t reads[READERS], remaps[READERS], polls[READERS];
	int reader_err[READERS];
	/* unloader */
	int unload_tries, unload_bad_errno;
	bool unload_ok;		/* delete_module() succeeded: very bad */
};

/* ------------------------------------------------------------- children */

static int reg_self(char op)
{
	char buf[32];
	int fd = open(MP3_STATUS, O_WRONLY), len, ret = 0;

	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%c %d\n", op, getpid());
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

static void fault_pages(void)
{
	size_t ps = mp3_page_size(), i;
	char *m = mmap(NULL, FAULT_PAGES * ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return;
	for (i = 0; i < FAULT_PAGES * ps; i += ps)
		m[i] = 1;
	munmap(m, FAULT_PAGES * ps);
}

static void *faulter(void *p)
{
	fault_pages();
	return NULL;
}

static void *registrar(void *p)
{
	if (reg_self('R'))
		_exit(11);
	fault_pages();
	return NULL;
}

/* The child's life; returns its exit code (0 = all went as expected). */
static int child_main(enum mode mode, bool threads, int ready_fd)
{
	pthread_t th[2];
	int i, n = threads ? 2 : 0, sig;
	sigset_t set;
	char c = 'r';

	if (mode == LEADER_GONE) {
		if (pthread_create(&th[0], NULL, registrar, NULL) ||
		    pthread_create(&th[1], NULL, faulter, NULL))
			return 12;
		/* the process lives on in its threads; exits with 0 after them */
		pthread_exit(NULL);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (reg_self('R'))
		return 10;
	for (i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, faulter, NULL))
			return 12;
	fault_pages();
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	if (mode == PARENT_UNREGISTERS) {
		if (write(ready_fd, &c, 1) != 1)
			return 13;
		/* the parent unregisters us, then says go */
		if (sigwait(&set, &sig))
			return 15;
	} else if (mode == SELF_UNREGISTERS) {
		if (reg_self('U'))
			return 14;
	}
	return 0;
}

struct spawner {
	struct churn *c;
	int idx;
};

static void *spawner_fn(void *p)
{
	struct spawner *sp = p;
	struct churn *c = sp->c;
	int idx = sp->idx, done = 0, ctl = open(MP3_STATUS, O_WRONLY);

	while (done < c->per_spawner) {
		pid_t pid[IN_FLIGHT];
		int ready[IN_FLIGHT][2], mode[IN_FLIGHT];
		int k, n = c->per_spawner - done < IN_FLIGHT ? c->per_spawner - done : IN_FLIGHT;

		for (k = 0; k < n; k++) {
			int i = (done + k) * SPAWNERS + idx;

			mode[k] = i % NR_MODES;
			ready[k][0] = -1;
			ready[k][1] = -1;
			if (mode[k] == PARENT_UNREGISTERS && pipe2(ready[k], O_CLOEXEC)) {
				c->failed[idx]++;
				mode[k] = EXIT_REGISTERED;
			}
			pid[k] = fork();
			if (pid[k] == 0)
				_exit(child_main(mode[k], i % 8 == 0, ready[k][1]));
			if (ready[k][1] >= 0)
				close(ready[k][1]);
			if (pid[k] < 0)
				c->failed[idx]++;
			else
				c->spawned[idx]++;
		}
		for (k = 0; k < n; k++) {
			char ch;

			if (pid[k] <= 0 || mode[k] != PARENT_UNREGISTERS)
				continue;
			if (read(ready[k][0], &ch, 1) == 1) {
				int ret = mp3_cmd_fd(ctl, 'U', pid[k]);

				if (ret) {
					c->parent_u_err[idx] = -ret;
					c->failed[idx]++;
				}
			}
			kill(pid[k], SIGUSR1);
		}
		for (k = 0; k < n; k++) {
			int status;

			if (ready[k][0] >= 0)
				close(ready[k][0]);
			if (pid[k] <= 0)
				continue;
			if (waitpid(pid[k], &status, 0) != pid[k] ||
			    !WIFEXITED(status) || WEXITSTATUS(status)) {
				c->failed[idx]++;
				c->last_status[idx] = status;
			} else if (mode[k] == EXIT_REGISTERED || mode[k] == LEADER_GONE) {
				c->exited_reg[idx]++;
			}
		}
		done += n;
	}
	close(ctl);
	return NULL;
}

/* -------------------------------------------------------------- readers */

struct reader_arg {
	struct churn *c;
	int idx;
};

static void *reader_fn(void *p)
{
	struct reader_arg *ra = p;
	struct churn *c = ra->c;
	int idx = ra->idx, iter = 0;
	struct mp3_ring r;

	if (mp3_ring_open(&r, O_NONBLOCK)) {
		c->reader_err[idx] = errno ? errno : EIO;
		return NULL;
	}
	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		struct pollfd pfd = { .fd = r.fd, .events = POLLIN };
		struct mp3prof_sample s;
		uint64_t head;

		c->polls[idx]++;
		if (poll(&pfd, 1, 20) == 1 && read(r.fd, &head, 8) == 8) {
			c->reads[idx]++;
			if (idx == 0) {
				/* the accountant: every record, in order */
				for (; c->next < head; c->next++) {
					if (mp3_ring_get(&r, c->next, &s))
						c->lost++;
					else
						c->sum_exited += s.nr_exited;
				}
			} else if (head) {
				mp3_ring_get(&r, head - 1, &s);
			}
		}
		if (++iter % 16 == 0) {
			/* remap, keeping the file (and reader 0's place) */
			size_t len = r.len;

			munmap(r.hdr, len);
			r.hdr = mmap(NULL, len, PROT_READ, MAP_SHARED, r.fd, 0);
			if (r.hdr == MAP_FAILED) {
				c->reader_err[idx] = errno;
				r.hdr = NULL;
				break;
			}
			r.base = (const char *)r.hdr + r.hdr->header_size;
			c->remaps[idx]++;
		}
		if (idx && iter % 64 == 0) {
			/* reopen: a new file, new mapping */
			mp3_ring_close(&r);
			if (mp3_ring_open(&r, O_NONBLOCK)) {
				c->reader_err[idx] = errno ? errno : EIO;
				return NULL;
			}
		}
	}
	mp3_ring_close(&r);
	return NULL;
}

/* Keep trying to unload the module while holding /dev/mp3prof open. */
static void *unloader_fn(void *p)
{
	struct churn *c = p;
	int fd = open(MP3_DEV, O_RDONLY);

	if (fd < 0)
		return NULL;
	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		long ret = syscall(__NR_delete_module, "mp3prof", O_NONBLOCK);

		c->unload_tries++;
		if (ret == 0) {
			c->unload_ok = true;
			break;
		}
		if (errno == EPERM || errno == ENOENT)
			break;	/* not allowed, or built in: nothing to test */
		if (errno != EWOULDBLOCK && errno != EBUSY)
			c->unload_bad_errno = errno;
		mp3_msleep(20);
	}
	close(fd);
	return NULL;
}

FIXTURE(churn) {
	struct mp3_ring r;
};

FIXTURE_SETUP(churn)
{
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	self->r.fd = -1;
	ASSERT_EQ(0, mp3_prepare())
		TH_LOG("processes are registered already and cannot be removed");
	ASSERT_EQ(0, mp3_ring_open(&self->r, 0));
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 5000));
}

FIXTURE_TEARDOWN(churn)
{
	mp3_cleanup();
	mp3_ring_close(&self->r);
}

TEST_F_TIMEOUT(churn, register_and_exit, 3600)
{
	const char *env = getenv("MP3PROF_CHURN_COUNT");
	int total = env ? atoi(env) : DEFAULT_COUNT;
	struct churn *c = calloc(1, sizeof(*c));
	struct spawner sp[SPAWNERS];
	struct reader_arg ra[READERS];
	pthread_t sth[SPAWNERS], rth[READERS], uth;
	uint64_t t0, h1, expect = 0, spawned = 0, failed = 0;
	struct mp3_sum sum;
	int i, n;

	ASSERT_NE(NULL, c);
	c->per_spawner = (total + SPAWNERS - 1) / SPAWNERS;
	c->h0 = mp3_head(&self->r);
	c->next = c->h0;
	t0 = mp3_now_ns();

	for (i = 0; i < READERS; i++) {
		ra[i] = (struct reader_arg){ c, i };
		ASSERT_EQ(0, pthread_create(&rth[i], NULL, reader_fn, &ra[i]));
	}
	ASSERT_EQ(0, pthread_create(&uth, NULL, unloader_fn, c));
	for (i = 0; i < SPAWNERS; i++) {
		sp[i] = (struct spawner){ c, i };
		ASSERT_EQ(0, pthread_create(&sth[i], NULL, spawner_fn, &sp[i]));
	}
	for (i = 0; i < SPAWNERS; i++) {
		pthread_join(sth[i], NULL);
		spawned += c->spawned[i];
		failed += c->failed[i];
		expect += c->exited_reg[i];
		if (c->failed[i])
			TH_LOG("spawner %d: %d failures, last wait status 0x%x, U error %d",
			       i, c->failed[i], c->last_status[i], c->parent_u_err[i]);
	}
	TH_LOG("%llu processes in %llu ms, %llu exited registered",
	       (unsigned long long)spawned,
	       (unsigned long long)(mp3_now_ns() - t0) / 1000000,
	       (unsigned long long)expect);

	/* every child is reaped: the next sample or two empty the registry */
	for (i = 0; i < 3 && mp3_count() != 0; i++)
		mp3_wait_samples(&self->r, 1, 2000);
	n = mp3_count();
	EXPECT_EQ(0, n) TH_LOG("%d processes still listed %d samples after the churn", n, i);
	EXPECT_EQ(0, mp3_wait_idle(&self->r, 300, 5000));
	h1 = mp3_head(&self->r);

	__atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < READERS; i++)
		pthread_join(rth[i], NULL);
	pthread_join(uth, NULL);
	ksft_print_msg("mp3prof-churn: processes=%llu exited_registered=%llu\n",
		       (unsigned long long)spawned, (unsigned long long)expect);
	ksft_print_msg("mp3prof-churn: samples=%llu seconds=%llu\n",
		       (unsigned long long)(h1 - c->h0),
		       (unsigned long long)((mp3_now_ns() - t0) / MP3_NSEC));

	EXPECT_EQ(0, failed) TH_LOG("children that did not register/exit as expected");
	EXPECT_EQ(total <= 0 ? 0 : (uint64_t)c->per_spawner * SPAWNERS, spawned);
	for (i = 0; i < READERS; i++) {
		EXPECT_EQ(0, c->reader_err[i]) TH_LOG("reader %d: %s", i,
						      strerror(c->reader_err[i]));
		TH_LOG("reader %d: %llu polls, %llu reads, %llu remaps", i,
		       (unsigned long long)c->polls[i], (unsigned long long)c->reads[i],
		       (unsigned long long)c->remaps[i]);
	}
	EXPECT_FALSE(c->unload_ok) TH_LOG("mp3prof was unloaded while /dev/mp3prof was open");
	EXPECT_EQ(0, c->unload_bad_errno) TH_LOG("delete_module: %s",
						 strerror(c->unload_bad_errno));
	TH_LOG("%d unload attempts refused", c->unload_tries);

	/* each process that exited registered was counted once */
	if (h1 - c->h0 <= self->r.hdr->nr_records) {
		ASSERT_EQ(0, mp3_ring_sum(&self->r, c->h0, h1, &sum));
		EXPECT_EQ(expect, sum.exited);
	}
	/* and the reader that followed the ring agrees */
	for (; c->next < h1; c->next++) {
		struct mp3prof_sample s;

		if (mp3_ring_get(&self->r, c->next, &s))
			c->lost++;
		else
			c->sum_exited += s.nr_exited;
	}
	EXPECT_EQ(0, c->lost) TH_LOG("records lost to the reader");
	EXPECT_EQ(expect, c->sum_exited);
	free(c);
}

/* ------------------------------------------------------------ pid reuse */

struct clone_args_v1 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size;
};

/* A sleeping child numbered @want, 0 if the number is taken, or -errno. */
static pid_t sleeper_with_pid(pid_t want)
{
	struct clone_args_v1 args = { .exit_signal = SIGCHLD };
	pid_t tid = want, pid;

	args.set_tid = (uintptr_t)&tid;
	args.set_tid_size = 1;
	pid = syscall(__NR_clone3, &args, sizeof(args));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	if (pid > 0) {
		mp3_track_child(pid);
		return pid;
	}
	return errno == EEXIST ? 0 : -errno;
}

/*
 * A registered process dies and a new process gets its number before the
 * next sample removes the registration.  The new process is a different
 * process: "U" of the number does not touch the old registration (ENOENT),
 * "R" registers the new one (not EEXIST), and the next sample retires the
 * old one alone.
 */
TEST_F_TIMEOUT(churn, pid_reuse_window, 120)
{
	struct mp3_entry ents[4];
	struct mp3_sum sum;
	uint64_t h0, h1;
	int attempt, n, i, hits;
	pid_t a = 0, b = 0;

	for (attempt = 0; attempt < 20; attempt++) {
		a = mp3_spawn_sleeper();
		ASSERT_LT(0, a);
		ASSERT_EQ(0, mp3_wait_sleeping(a));
		ASSERT_EQ(0, mp3_register(a));
		ASSERT_EQ(0, mp3_wait_samples(&self->r, 1, 2000));
		/* right after a sample: as much of a period as we can get */
		ASSERT_EQ(0, mp3_wait_samples(&self->r, 1, 2000));
		h0 = mp3_head(&self->r);
		mp3_kill_reap(a);
		mp3_untrack_reg(a);
		b = sleeper_with_pid(a);
		if (b == -EPERM || b == -EINVAL || b == -E2BIG)
			SKIP(return, "clone3() with set_tid: %s", strerror(-b));
		ASSERT_LE(0, b);
		if (b > 0 && mp3_head(&self->r) == h0 && mp3_lookup(a, NULL) == 1)
			break;	/* the old registration is still there */
		if (b > 0)
			mp3_kill_reap(b);
		b = 0;
		ASSERT_EQ(0, mp3_wait_idle(&self->r, 200, 3000));
		EXPECT_EQ(0, mp3_count());
	}
	if (!b)
		SKIP(return, "never got the number back before the next sample");
	TH_LOG("pid %d reused after %d attempts", a, attempt);

	/* the number names the new process now, which is not registered */
	EXPECT_EQ(-ENOENT, mp3_cmd('U', b));
	EXPECT_EQ(0, mp3_register(b));
	EXPECT_EQ(-EEXIST, mp3_cmd('R', b));

	/* the next sample retires the old registration, and only that */
	ASSERT_EQ(0, mp3_wait_samples(&self->r, 2, 2000));
	n = mp3_list(ents, ARRAY_SIZE(ents));
	hits = 0;
	for (i = 0; i < n && i < (int)ARRAY_SIZE(ents); i++)
		hits += ents[i].pid == b;
	EXPECT_EQ(1, n);
	EXPECT_EQ(1, hits);
	h1 = mp3_head(&self->r);
	ASSERT_EQ(0, mp3_ring_sum(&self->r, h0, h1, &sum));
	EXPECT_EQ(1, sum.exited);
	EXPECT_EQ(1, sum.last_procs);
	EXPECT_EQ(0, mp3_unregister(b));
	EXPECT_EQ(0, mp3_count());
	mp3_kill_reap(b);
}

TEST_HARNESS_MAIN
