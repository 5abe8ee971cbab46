// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof control file tests: registration commands, their errors and the
 * listing read through /proc/mp3prof/status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#define MAX_PROCS_PARAM	MP3_PARAMS "max_procs"

/* max_procs value to put back in teardown, or -1 */
static long long saved_max_procs = -1;

FIXTURE(control) {
	pid_t pid;	/* an idle child to register */
};

FIXTURE_SETUP(control)
{
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	ASSERT_EQ(0, mp3_prepare())
		TH_LOG("processes are registered already and cannot be removed");
	self->pid = mp3_spawn_sleeper();
	ASSERT_GT(self->pid, 0);
}

FIXTURE_TEARDOWN(control)
{
	char buf[32];

	mp3_cleanup();
	if (saved_max_procs >= 0) {
		snprintf(buf, sizeof(buf), "%lld", saved_max_procs);
		mp3_write_str_file(MAX_PROCS_PARAM, buf);
		saved_max_procs = -1;
	}
}

/* Write @len bytes of @buf, expect @err (0 or negative errno). */
static void expect_write(struct __test_metadata *_metadata, int line, int err,
			 const char *buf, size_t len)
{
	int ret = mp3_write_raw(buf, len);

	EXPECT_EQ(err, ret)
		TH_LOG("line %d: write of \"%.*s\" (%zu bytes): %s", line,
		       (int)len, buf, len, ret ? strerror(-ret) : "success");
}

#define EXPECT_WRITE(err, buf, len) \
	expect_write(_metadata, __LINE__, err, buf, len)

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

TEST_F(control, register_unregister)
{
	struct mp3_entry e;
	char cmd[64], *buf = NULL;
	int fd, len;

	/* nothing registered: the listing is empty */
	ASSERT_EQ(0, mp3_read_file(MP3_STATUS, &buf, 4096));
	free(buf);

	fd = open(MP3_STATUS, O_WRONLY);
	ASSERT_LE(0, fd);
	len = snprintf(cmd, sizeof(cmd), "R %d\n", self->pid);
	/* a successful write returns the full count */
	ASSERT_EQ(len, write(fd, cmd, len));
	mp3_track_reg(self->pid);

	ASSERT_EQ(1, mp3_lookup(self->pid, &e));
	EXPECT_EQ(self->pid, e.pid);
	EXPECT_EQ(1, mp3_count());

	/* several commands through one open file, one per write() */
	len = snprintf(cmd, sizeof(cmd), "U %d\n", self->pid);
	ASSERT_EQ(len, write(fd, cmd, len));
	EXPECT_EQ(0, mp3_lookup(self->pid, NULL));
	EXPECT_EQ(0, mp3_count());

	len = snprintf(cmd, sizeof(cmd), "R %d", self->pid);
	ASSERT_EQ(len, write(fd, cmd, len));
	EXPECT_EQ(1, mp3_lookup(self->pid, NULL));
	len = snprintf(cmd, sizeof(cmd), "U %d", self->pid);
	ASSERT_EQ(len, write(fd, cmd, len));
	EXPECT_EQ(0, mp3_count());
	close(fd);
}

TEST_F(control, accepted_syntax)
{
	static const char * const fmts[][2] = {
		{ "R %d", "U %d" },
		{ "R %d\n", "U %d\n" },
		{ "R  %d", "U     %d\n" },
		{ "R %d   ", "U %d \t\n" },
		{ "R %d \t\n", "U %d\t" },
		{ "R %d\n\n", "U  %d \t\n\n" },
	};
	char buf[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fmts); i++) {
		snprintf(buf, sizeof(buf), fmts[i][0], self->pid);
		EXPECT_WRITE(0, buf, strlen(buf));
		EXPECT_EQ(1, mp3_lookup(self->pid, NULL))
			TH_LOG("not registered by \"%s\"", buf);
		snprintf(buf, sizeof(buf), fmts[i][1], self->pid);
		EXPECT_WRITE(0, buf, strlen(buf));
		EXPECT_EQ(0, mp3_count())
			TH_LOG("not unregistered by \"%s\"", buf);
	}
	mp3_cleanup();
}

/*
 * MP1, the course's first assignment, registers with a bare pid
 * ("echo 1234 > /proc/mp3prof/status") and reads "<pid>: <cpu time>".
 */
TEST_F(control, bare_pid_mp1)
{
	static const char * const fmts[] = {
		"%d", "%d\n", "  %d\n", "\t%d \t\n", "%d\n\n", "\t\n%d\n",
	};
	static const char * const bad[] = {
		"%d %d", "%dx", "%d R", "x%d", "-%d", "0", "00", "%d.0", "0x%x",
	};
	struct mp3_entry e;
	char buf[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fmts); i++) {
		snprintf(buf, sizeof(buf), fmts[i], self->pid);
		EXPECT_WRITE(0, buf, strlen(buf));
		EXPECT_EQ(1, mp3_lookup(self->pid, &e))
			TH_LOG("not registered by \"%s\"", buf);
		/* a bare pid only ever registers: "U" is still needed */
		EXPECT_WRITE(-EEXIST, buf, strlen(buf));
		EXPECT_EQ(1, mp3_count());
		EXPECT_EQ(0, mp3_unregister(self->pid));
		EXPECT_EQ(0, mp3_count());
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(buf, sizeof(buf), bad[i], self->pid, self->pid);
		EXPECT_WRITE(-EINVAL, buf, strlen(buf));
	}
	EXPECT_EQ(0, mp3_count());

	/* an unknown pid: the errno "R" gives */
	EXPECT_WRITE(-ESRCH, "2147483647", 10);

	/* MP1's reader: "<pid>: <cpu time>", the CPU time first */
	snprintf(buf, sizeof(buf), "%d\n", self->pid);
	EXPECT_WRITE(0, buf, strlen(buf));
	ASSERT_EQ(1, mp3_lookup(self->pid, &e));
	EXPECT_EQ(self->pid, e.pid);
	EXPECT_EQ(0, mp3_unregister(self->pid));
}

TEST_F(control, malformed_einval)
{
	/* each gets the pid (up to twice) where it has %d */
	static const char * const bad[] = {
		"", "\n", " ", "\t\n", "R", "R ", "R\n", "R\t\n", "U", "U\t\n",
		"R%d", "R%d\n", "X %d", "r %d", "u %d", "RR %d", "RU %d",
		"R: %d", "R %d %d", "R %d x", "R %dx", "R %d.0", "R x%d",
		"R -%d", "R --%d", "R 0", "R 00", "R -0", "R -1",
		"R %d\nU %d\n", "R %d\nR %d", "R 0x%x", "R %d,",
		"R 99999999999999999999999", "R 18446744073709551617",
		"R 2147483648", "U x", "U 0", "U -%d", "U %d %d", "U%d",
	};
	char buf[128];
	unsigned int i;
	int len;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		len = snprintf(buf, sizeof(buf), bad[i], self->pid, self->pid);
		EXPECT_WRITE(-EINVAL, buf, len);
	}

	/* numbers that wrap to the pid when truncated to 32 bits */
	len = snprintf(buf, sizeof(buf), "R %lld", (1LL << 32) + self->pid);
	EXPECT_WRITE(-EINVAL, buf, len);
	len = snprintf(buf, sizeof(buf), "R %lld", -(1LL << 32) + self->pid);
	EXPECT_WRITE(-EINVAL, buf, len);

	/* embedded NUL bytes */
	len = snprintf(buf, sizeof(buf), "R %d", self->pid);
	EXPECT_WRITE(-EINVAL, buf, len + 1);		/* "R pid\0" */
	buf[len + 1] = '\n';
	EXPECT_WRITE(-EINVAL, buf, len + 2);		/* "R pid\0\n" */
	buf[len + 1] = '1';
	EXPECT_WRITE(-EINVAL, buf, len + 2);		/* "R pid\01" */
	len = snprintf(buf, sizeof(buf), "R %d", self->pid);
	buf[1] = '\0';
	EXPECT_WRITE(-EINVAL, buf, len);		/* "R\0pid" */
	len = snprintf(buf, sizeof(buf), "R %d", self->pid);
	buf[len - 1] = '\0';
	EXPECT_WRITE(-EINVAL, buf, len);		/* last digit a NUL */
	len = snprintf(buf, sizeof(buf), "_R %d", self->pid);
	buf[0] = '\0';
	EXPECT_WRITE(-EINVAL, buf, len);		/* "\0R pid" */

	/* nothing of this registered anything */
	EXPECT_EQ(0, mp3_count());

	/* nor do malformed commands unregister anything */
	ASSERT_EQ(0, mp3_register(self->pid));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (bad[i][0] != 'U')
			continue;
		len = snprintf(buf, sizeof(buf), bad[i], self->pid, self->pid);
		EXPECT_WRITE(-EINVAL, buf, len);
	}
	len = snprintf(buf, sizeof(buf), "U %d", self->pid);
	EXPECT_WRITE(-EINVAL, buf, len + 1);		/* "U pid\0" */
	EXPECT_EQ(1, mp3_lookup(self->pid, NULL));
	EXPECT_EQ(1, mp3_count());
	EXPECT_EQ(0, mp3_unregister(self->pid));
}

TEST_F(control, write_length_limit)
{
	char buf[65536];
	int len;

	/* exactly MP3_CMD_MAX bytes, padded with trailing white space */
	memset(buf, ' ', sizeof(buf));
	len = snprintf(buf, sizeof(buf), "R %d", self->pid);
	buf[len] = ' ';
	buf[MP3_CMD_MAX - 1] = '\n';
	EXPECT_WRITE(0, buf, MP3_CMD_MAX);
	EXPECT_EQ(1, mp3_lookup(self->pid, NULL));
	buf[0] = 'U';
	EXPECT_WRITE(0, buf, MP3_CMD_MAX);
	EXPECT_EQ(0, mp3_count());

	/* one more byte and the same command is refused */
	buf[0] = 'R';
	buf[MP3_CMD_MAX - 1] = ' ';
	buf[MP3_CMD_MAX] = '\n';
	EXPECT_WRITE(-EINVAL, buf, MP3_CMD_MAX + 1);
	EXPECT_WRITE(-EINVAL, buf, 4096);
	EXPECT_WRITE(-EINVAL, buf, 4097);
	EXPECT_WRITE(-EINVAL, buf, sizeof(buf));
	EXPECT_EQ(0, mp3_count());

	/* and an over-long unregister leaves the registration alone */
	ASSERT_EQ(0, mp3_register(self->pid));
	buf[0] = 'U';
	EXPECT_WRITE(-EINVAL, buf, MP3_CMD_MAX + 1);
	EXPECT_EQ(1, mp3_lookup(self->pid, NULL));
	EXPECT_EQ(0, mp3_unregister(self->pid));
}

TEST_F(control, no_such_process)
{
	long long pid_max;
	pid_t gone;

	/* a reaped child's number is free */
	gone = fork();
	ASSERT_LE(0, gone);
	if (!gone)
		_exit(0);
	ASSERT_EQ(gone, waitpid(gone, NULL, 0));
	if (kill(gone, 0) == 0)
		SKIP(return, "pid %d was reused at once", gone);

	EXPECT_EQ(-ESRCH, mp3_cmd('R', gone));
	EXPECT_EQ(-ESRCH, mp3_cmd('U', gone));

	/* pid_max itself is never allocated */
	pid_max = mp3_read_ull("/proc/sys/kernel/pid_max");
	if (pid_max > 0 && pid_max <= INT32_MAX &&
	    kill(pid_max, 0) && errno == ESRCH) {
		EXPECT_EQ(-ESRCH, mp3_cmd('R', pid_max));
		EXPECT_EQ(-ESRCH, mp3_cmd('U', pid_max));
	}
	EXPECT_EQ(-ESRCH, mp3_cmd('R', INT32_MAX));
	EXPECT_EQ(0, mp3_count());

	/* the errors do not disturb an existing registration */
	ASSERT_EQ(0, mp3_register(self->pid));
	EXPECT_EQ(-ESRCH, mp3_cmd('R', gone));
	EXPECT_EQ(-ESRCH, mp3_cmd('U', gone));
	EXPECT_EQ(1, mp3_count());
	EXPECT_EQ(0, mp3_unregister(self->pid));
}

struct thread_sync {
	pid_t tid;
	int pipe[2];
};

static void *tid_thread(void *p)
{
	struct thread_sync *s = p;
	char c;

	__atomic_store_n(&s->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	/* live until the test closes the pipe */
	while (read(s->pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

TEST_F(control, thread_id_esrch)
{
	struct thread_sync s = { 0 };
	pthread_t th;
	pid_t tid;
	int i;

	ASSERT_EQ(0, pipe(s.pipe));
	ASSERT_EQ(0, pthread_create(&th, NULL, tid_thread, &s));
	for (i = 0; i < 2000 && !__atomic_load_n(&s.tid, __ATOMIC_ACQUIRE); i++)
		mp3_msleep(1);
	tid = __atomic_load_n(&s.tid, __ATOMIC_ACQUIRE);
	ASSERT_NE(0, tid);
	ASSERT_NE(getpid(), tid);

	/* a thread that is not the group leader does not name a process */
	EXPECT_EQ(-ESRCH, mp3_cmd('R', tid));
	EXPECT_EQ(-ESRCH, mp3_cmd('U', tid));
	EXPECT_EQ(0, mp3_count());

	/* its process, by the leader's id, is fine */
	EXPECT_EQ(0, mp3_register(getpid()));
	EXPECT_EQ(-ESRCH, mp3_cmd('U', tid));
	EXPECT_EQ(1, mp3_lookup(getpid(), NULL));
	EXPECT_EQ(0, mp3_lookup(tid, NULL));
	EXPECT_EQ(0, mp3_unregister(getpid()));

	close(s.pipe[1]);
	pthread_join(th, NULL);
	close(s.pipe[0]);
}

TEST_F(control, already_registered)
{
	struct mp3_entry ents[4];

	ASSERT_EQ(0, mp3_register(self->pid));
	EXPECT_EQ(-EEXIST, mp3_cmd('R', self->pid));
	EXPECT_EQ(-EEXIST, mp3_cmd('R', self->pid));
	ASSERT_EQ(1, mp3_list(ents, 4));
	EXPECT_EQ(self->pid, ents[0].pid);
	EXPECT_EQ(0, mp3_unregister(self->pid));
	EXPECT_EQ(-ENOENT, mp3_cmd('U', self->pid));
	EXPECT_EQ(0, mp3_count());
}

TEST_F(control, not_registered_enoent)
{
	pid_t other = mp3_spawn_sleeper();

	ASSERT_LT(0, other);
	EXPECT_EQ(-ENOENT, mp3_cmd('U', self->pid));
	EXPECT_EQ(-ENOENT, mp3_cmd('U', getpid()));

	/* with something else registered */
	ASSERT_EQ(0, mp3_register(other));
	EXPECT_EQ(-ENOENT, mp3_cmd('U', self->pid));
	EXPECT_EQ(1, mp3_count());
	EXPECT_EQ(1, mp3_lookup(other, NULL));
	EXPECT_EQ(0, mp3_unregister(other));
	EXPECT_EQ(0, mp3_count());
}

TEST_F(control, self_registration)
{
	struct mp3_entry e;

	ASSERT_EQ(0, mp3_register(getpid()));
	ASSERT_EQ(1, mp3_lookup(getpid(), &e));
	EXPECT_EQ(getpid(), e.pid);
	EXPECT_EQ(0, mp3_unregister(getpid()));
	EXPECT_EQ(0, mp3_count());
}

TEST_F(control, several_processes)
{
	struct mp3_entry ents[8];
	long long want[4], got[4];
	int i, n;

	want[0] = self->pid;
	for (i = 1; i < 4; i++) {
		want[i] = mp3_spawn_sleeper();
		ASSERT_LT(0, want[i]);
	}
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, mp3_register(want[i]));
	n = mp3_list(ents, 8);
	ASSERT_EQ(4, n);
	for (i = 0; i < 4; i++)
		got[i] = ents[i].pid;
	qsort(want, 4, sizeof(want[0]), cmp_ll);
	qsort(got, 4, sizeof(got[0]), cmp_ll);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(want[i], got[i]);

	/* unregister one in the middle */
	EXPECT_EQ(0, mp3_unregister(want[1]));
	EXPECT_EQ(3, mp3_count());
	EXPECT_EQ(0, mp3_lookup(want[1], NULL));
	for (i = 0; i < 4; i++)
		if (i != 1)
			EXPECT_EQ(0, mp3_unregister(want[i]));
	EXPECT_EQ(0, mp3_count());
}

TEST_F_TIMEOUT(control, max_procs_enospc, 180)
{
	long long max = mp3_read_ull(MAX_PROCS_PARAM);
	pid_t *pids, extra;
	int i;

	if (max < 0)
		SKIP(return, "cannot read %s", MAX_PROCS_PARAM);
	if (max > 512) {
		/* make it small for the test if we may */
		if (geteuid() != 0 || mp3_write_str_file(MAX_PROCS_PARAM, "8"))
			SKIP(return, "max_procs is %lld and cannot be lowered", max);
		saved_max_procs = max;
		max = mp3_read_ull(MAX_PROCS_PARAM);
		ASSERT_EQ(8, max);
	}
	pids = calloc(max + 1, sizeof(*pids));
	ASSERT_NE(NULL, pids);
	pids[0] = self->pid;
	for (i = 1; i <= max; i++) {
		pids[i] = mp3_spawn_sleeper();
		ASSERT_LT(0, pids[i]);
	}
	for (i = 0; i < max; i++)
		ASSERT_EQ(0, mp3_register(pids[i])) TH_LOG("registration %d", i);
	EXPECT_EQ(max, mp3_count());

	extra = pids[max];
	EXPECT_EQ(-ENOSPC, mp3_cmd('R', extra));
	EXPECT_EQ(-ENOSPC, mp3_cmd('R', getpid()));
	EXPECT_EQ(max, mp3_count());
	EXPECT_EQ(0, mp3_lookup(extra, NULL));
	/* being full does not hide the other errors */
	EXPECT_EQ(-EEXIST, mp3_cmd('R', pids[0]));

	/* room again after one leaves */
	EXPECT_EQ(0, mp3_unregister(pids[0]));
	EXPECT_EQ(0, mp3_register(extra));
	EXPECT_EQ(-ENOSPC, mp3_cmd('R', pids[0]));
	EXPECT_EQ(max, mp3_count());

	for (i = 1; i <= max; i++)
		EXPECT_EQ(0, mp3_unregister(pids[i]));
	EXPECT_EQ(0, mp3_count());
	free(pids);
}

#define LARGE_NR	400

/* Read the listing with @chunk byte reads and compare the pid set. */
static int check_listing(struct __test_metadata *_metadata, size_t chunk,
			 const long long *sorted, int nr)
{
	struct mp3_entry *ents = calloc(nr + 1, sizeof(*ents));
	long long *got = calloc(nr + 1, sizeof(*got));
	char *buf = NULL;
	ssize_t len;
	int n, i, bad = 0;

	len = mp3_read_file(MP3_STATUS, &buf, chunk);
	EXPECT_LT(0, len) TH_LOG("read with %zu byte buffers", chunk);
	if (len <= 0 || !ents || !got)
		goto out;
	n = mp3_parse_list(buf, len, ents, nr + 1);
	EXPECT_EQ(nr, n) TH_LOG("read with %zu byte buffers", chunk);
	if (n != nr)
		goto out;
	for (i = 0; i < n; i++)
		got[i] = ents[i].pid;
	qsort(got, n, sizeof(*got), cmp_ll);
	for (i = 0; i < n; i++)
		bad += got[i] != sorted[i];
	EXPECT_EQ(0, bad) TH_LOG("read with %zu byte buffers: wrong pids", chunk);
out:
	free(buf);
	free(ents);
	free(got);
	return len;
}

TEST_F_TIMEOUT(control, large_list, 400)
{
	static const size_t chunks[] = { 1, 7, 100, 4095, 4096, 65536 };
	long long max = mp3_read_ull(MAX_PROCS_PARAM);
	long long *pids;
	char *a = NULL, *b = NULL;
	int nr = LARGE_NR, i, fd, tries;
	ssize_t len = 0, n;
	off_t offs[5];

	if (max > 0 && max < nr)
		nr = max;
	pids = calloc(nr, sizeof(*pids));
	ASSERT_NE(NULL, pids);
	pids[0] = self->pid;
	/* fork them all, then wait: they fall asleep in parallel */
	for (i = 1; i < nr; i++) {
		pids[i] = mp3_fork_sleeper();
		ASSERT_LT(0, pids[i]) TH_LOG("fork %d failed", i);
	}
	for (i = 1; i < nr; i++)
		EXPECT_EQ(0, mp3_wait_sleeping(pids[i]));
	for (i = 0; i < nr; i++)
		ASSERT_EQ(0, mp3_register(pids[i])) TH_LOG("registration %d", i);
	qsort(pids, nr, sizeof(*pids), cmp_ll);

	for (i = 0; i < (int)ARRAY_SIZE(chunks); i++)
		len = check_listing(_metadata, chunks[i], pids, nr);
	TH_LOG("%d processes listed in %zd bytes", nr, len);

	/*
	 * lseek() and pread() in the seq_file.  The numbers may change
	 * between reads if a sample lands in between, so retry.
	 */
	fd = open(MP3_STATUS, O_RDONLY);
	ASSERT_LE(0, fd);
	for (tries = 0; tries < 5; tries++) {
		bool same = true;

		free(a);
		a = NULL;
		ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
		len = mp3_read_fd_all(fd, &a, 65536);
		ASSERT_LT(0, len);
		offs[0] = 1;
		offs[1] = 13;
		offs[2] = len / 2;
		offs[3] = len - 1;
		offs[4] = len;
		for (i = 0; i < 5 && same; i++) {
			ASSERT_EQ(offs[i], lseek(fd, offs[i], SEEK_SET));
			n = mp3_read_fd_all(fd, &b, 4096);
			ASSERT_LE(0, n);
			same = n == len - offs[i] && !memcmp(b, a + offs[i], n);
			free(b);
		}
		if (same) {
			char pb[16];

			n = pread(fd, pb, sizeof(pb), len / 2);
			ASSERT_EQ(sizeof(pb) < (size_t)(len - len / 2) ?
				  (ssize_t)sizeof(pb) : len - len / 2, n);
			if (!memcmp(pb, a + len / 2, n))
				break;
		}
	}
	EXPECT_GT(5, tries) TH_LOG("lseek()/pread() data differ from a sequential read");
	close(fd);
	free(a);

	for (i = 0; i < nr; i++)
		EXPECT_EQ(0, mp3_unregister(pids[i]));
	EXPECT_EQ(0, mp3_count());
	free(pids);
}

#define RACE_THREADS	4
#define RACE_OPS	300

struct race_arg {
	pid_t pid;
	int seed;
	int r_ok, r_exist, u_ok, u_noent, other, last_err;
};

static void *race_thread(void *p)
{
	struct race_arg *a = p;
	unsigned int seed = a->seed;
	int fd = open(MP3_STATUS, O_WRONLY), i, ret;

	if (fd < 0) {
		a->other++;
		a->last_err = errno;
		return NULL;
	}
	for (i = 0; i < RACE_OPS; i++) {
		bool reg = rand_r(&seed) & 1;

		ret = mp3_cmd_fd(fd, reg ? 'R' : 'U', a->pid);
		if (reg && !ret)
			a->r_ok++;
		else if (reg && ret == -EEXIST)
			a->r_exist++;
		else if (!reg && !ret)
			a->u_ok++;
		else if (!reg && ret == -ENOENT)
			a->u_noent++;
		else
			a->other++, a->last_err = -ret;
	}
	close(fd);
	return NULL;
}

TEST_F_TIMEOUT(control, concurrent_register_unregister, 120)
{
	struct race_arg args[RACE_THREADS];
	pthread_t th[RACE_THREADS];
	int i, r_ok = 0, u_ok = 0, present;

	mp3_track_reg(self->pid);
	for (i = 0; i < RACE_THREADS; i++) {
		args[i] = (struct race_arg){ .pid = self->pid, .seed = i + 1 };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, race_thread, &args[i]));
	}
	for (i = 0; i < RACE_THREADS; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, args[i].other)
			TH_LOG("unexpected error %s", strerror(args[i].last_err));
		r_ok += args[i].r_ok;
		u_ok += args[i].u_ok;
	}
	present = mp3_lookup(self->pid, NULL);
	ASSERT_LE(0, present);
	/* every success changed the state: the count of them tells it */
	EXPECT_EQ(present, r_ok - u_ok);
	EXPECT_EQ(present, mp3_count());
	if (present)
		EXPECT_EQ(0, mp3_unregister(self->pid));
	EXPECT_EQ(0, mp3_count());
}

TEST_HARNESS_MAIN
