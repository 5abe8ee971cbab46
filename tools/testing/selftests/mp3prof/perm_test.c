// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof permission and pid namespace tests.  These need root to become
 * another user and to create namespaces.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#define SPERIOD_NS	(20 * 1000000ULL)	/* the sessions' period */

#define NOBODY		65534

/*
 * Results of what a child did as another user or in another namespace.
 * Children do not use the harness asserts: they fill this in, shared with
 * the test process, which checks it.
 */
struct result {
	int step;		/* how far the child got */
	int err[16];		/* 0 or -errno of each command */
	int nr_listed;
	long long listed[16];
	pid_t pid[4];
};

FIXTURE(perm) {
	struct result *res;
};

FIXTURE_SETUP(perm)
{
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	if (geteuid() != 0)
		SKIP(return, "must be run as root");
	ASSERT_EQ(0, mp3_prepare())
		TH_LOG("processes are registered already and cannot be removed");
	self->res = mmap(NULL, sizeof(*self->res), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->res);
	memset(self->res, 0, sizeof(*self->res));
	memset(self->res->err, 0x7f, sizeof(self->res->err));	/* not run */
}

FIXTURE_TEARDOWN(perm)
{
	mp3_cleanup();
	/* children may have registered init with a privileged file */
	mp3_cmd('U', 1);
	if (self->res != MAP_FAILED)
		munmap(self->res, sizeof(*self->res));
}

/* Become NOBODY for good, without capabilities: 0 or -errno. */
static int drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -errno;
	/* credential changes clear it; our own children stay ours to watch */
	prctl(PR_SET_DUMPABLE, 1);
	return 0;
}

/* Fork, run @fn(@arg) in the child, return its exit status or -1. */
static int run_child(int (*fn)(struct result *res, void *arg), struct result *res,
		     void *arg)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(fn(res, arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void fill_listing(struct result *res)
{
	struct mp3_entry ents[16];
	int i, n = mp3_list(ents, 16);

	res->nr_listed = n;
	for (i = 0; i < n && i < 16; i++)
		res->listed[i] = ents[i].pid;
}

static bool listed(const struct result *res, long long pid)
{
	int i;

	for (i = 0; i < res->nr_listed && i < 16; i++)
		if (res->listed[i] == pid)
			return true;
	return false;
}

static int nobody_cmds(struct result *res, void *arg)
{
	pid_t root_pid = *(pid_t *)arg, grandchild;

	if (drop_to_nobody())
		return 1;
	res->step = 1;
	res->err[0] = mp3_cmd('R', 1);
	res->err[1] = mp3_cmd('R', root_pid);
	res->err[2] = mp3_cmd('U', root_pid);	/* registered by root */
	res->err[3] = mp3_cmd('R', getpid());
	fill_listing(res);
	res->err[4] = mp3_cmd('R', getpid());	/* EEXIST: allowed to know */
	res->err[5] = mp3_cmd('U', getpid());

	/* a child of our own, same user */
	grandchild = mp3_spawn_sleeper();
	if (grandchild < 0)
		return 2;
	res->pid[0] = grandchild;
	res->err[6] = mp3_cmd('R', grandchild);
	res->err[7] = mp3_cmd('U', grandchild);
	mp3_kill_reap(grandchild);
	res->step = 2;
	return 0;
}

TEST_F(perm, nobody)
{
	struct result *res = self->res;
	pid_t root_pid;

	root_pid = mp3_spawn_sleeper();
	ASSERT_LT(0, root_pid);
	ASSERT_EQ(0, mp3_register(root_pid));

	ASSERT_EQ(0, run_child(nobody_cmds, res, &root_pid));
	ASSERT_EQ(2, res->step);
	EXPECT_EQ(-EPERM, res->err[0]) TH_LOG("R 1 as nobody");
	EXPECT_EQ(-EPERM, res->err[1]) TH_LOG("R of a root process as nobody");
	EXPECT_EQ(-EPERM, res->err[2]) TH_LOG("U of a root process as nobody");
	EXPECT_EQ(0, res->err[3]) TH_LOG("R of itself as nobody");
	EXPECT_EQ(2, res->nr_listed);
	EXPECT_TRUE(listed(res, root_pid));
	EXPECT_EQ(-EEXIST, res->err[4]);
	EXPECT_EQ(0, res->err[5]) TH_LOG("U of itself as nobody");
	EXPECT_EQ(0, res->err[6]) TH_LOG("R of its child as nobody");
	EXPECT_EQ(0, res->err[7]) TH_LOG("U of its child as nobody");

	/* the refusals changed nothing */
	EXPECT_EQ(1, mp3_lookup(root_pid, NULL));
	EXPECT_EQ(0, mp3_lookup(1, NULL));
	EXPECT_EQ(1, mp3_count());
	EXPECT_EQ(0, mp3_unregister(root_pid));
}

static int become_nobody(int cap, pid_t parent);

/*
 * A file opened by NOBODY, the control file or (@session) a session, kept
 * open until the test process has taken a copy with pidfd_getfd() (no
 * AF_UNIX needed in the guest).  Returns the opener's pid and the copy in
 * *fd_out.
 */
static pid_t nobody_fd(bool session, int *fd_out)
{
	int ready[2], done[2], fd, pidfd;
	pid_t parent = getpid(), pid;
	char c = 0;

	*fd_out = -1;
	if (pipe(ready) || pipe(done))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (session ? become_nobody(-1, parent) : drop_to_nobody())
			_exit(1);
		if (session)
			fd = mp3_session_open(MP3PROF_SESSION_PER_PROCESS, SPERIOD_NS, 0, 0);
		else
			fd = open(MP3_STATUS, O_WRONLY);
		if (fd < 0 || write(ready[1], &fd, sizeof(fd)) != sizeof(fd))
			_exit(2);
		_exit(read(done[0], &c, 1) == 1 ? 0 : 3);
	}
	if (read(ready[0], &fd, sizeof(fd)) == sizeof(fd)) {
		pidfd = syscall(SYS_pidfd_open, pid, 0);
		if (pidfd >= 0) {
			*fd_out = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
			close(pidfd);
		}
	}
	if (write(done[1], &c, 1) != 1)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	close(done[0]);
	close(done[1]);
	return pid;
}

/* The control file opened by NOBODY. */
static pid_t nobody_opener(int *fd_out)
{
	return nobody_fd(false, fd_out);
}

/* Open the control file as root, then use it as nobody. */
static int root_opener(struct result *res, void *arg)
{
	int fd = open(MP3_STATUS, O_WRONLY);

	if (fd < 0)
		return 1;
	if (drop_to_nobody())
		return 2;
	res->step = 1;
	res->err[0] = mp3_cmd_fd(fd, 'R', 1);
	fill_listing(res);
	res->err[1] = mp3_cmd('U', 1);		/* own open: refused */
	res->err[2] = mp3_cmd_fd(fd, 'U', 1);
	close(fd);
	res->step = 2;
	return 0;
}

TEST_F(perm, opener_credentials)
{
	struct result *res = self->res;
	pid_t pid;
	int fd;

	/* the check uses the credentials of whoever opened the file */
	ASSERT_LT(0, nobody_opener(&fd));
	ASSERT_LE(0, fd) TH_LOG("pidfd_getfd: %s", strerror(errno));
	pid = mp3_spawn_sleeper();
	ASSERT_LT(0, pid);

	/* root writes, through a file nobody opened */
	EXPECT_EQ(-EPERM, mp3_cmd_fd(fd, 'R', 1)) TH_LOG("R 1 by root through nobody's file");
	EXPECT_EQ(-EPERM, mp3_cmd_fd(fd, 'R', pid)) TH_LOG("R of a root process, same");
	EXPECT_EQ(0, mp3_count());
	/* its own open is privileged */
	ASSERT_EQ(0, mp3_register(1));
	ASSERT_EQ(0, mp3_register(pid));
	EXPECT_EQ(-EPERM, mp3_cmd_fd(fd, 'U', 1)) TH_LOG("U 1 by root through nobody's file");
	EXPECT_EQ(-EPERM, mp3_cmd_fd(fd, 'U', pid));
	EXPECT_EQ(2, mp3_count());
	EXPECT_EQ(0, mp3_unregister(1));
	EXPECT_EQ(0, mp3_unregister(pid));
	close(fd);

	/* nobody writes, through a file root opened */
	memset(res, 0, sizeof(*res));
	ASSERT_EQ(0, run_child(root_opener, res, NULL));
	ASSERT_EQ(2, res->step);
	EXPECT_EQ(0, res->err[0]) TH_LOG("R 1 by nobody through root's file");
	EXPECT_EQ(1, res->nr_listed);
	EXPECT_TRUE(listed(res, 1));
	EXPECT_EQ(-EPERM, res->err[1]) TH_LOG("U 1 by nobody through its own file");
	EXPECT_EQ(0, res->err[2]) TH_LOG("U 1 by nobody through root's file");
	EXPECT_EQ(0, mp3_count());
}

static int set_caps(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { { 0 } };

	data[cap / 32].effective = 1U << (cap % 32);
	data[cap / 32].permitted = 1U << (cap % 32);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/* As nobody with only capability @arg. */
static int capable_nobody(struct result *res, void *arg)
{
	int cap = *(int *)arg;

	if (prctl(PR_SET_KEEPCAPS, 1) || setgroups(0, NULL) ||
	    setresgid(NOBODY, NOBODY, NOBODY) || setresuid(NOBODY, NOBODY, NOBODY))
		return 1;
	res->err[0] = set_caps(cap);
	if (res->err[0])
		return 2;
	res->step = 1;
	res->err[1] = mp3_cmd('R', 1);
	res->err[2] = mp3_cmd('U', 1);
	res->step = 2;
	return 0;
}

TEST_F(perm, capabilities)
{
	static const int caps[] = { CAP_PERFMON, CAP_SYS_ADMIN };
	struct result *res = self->res;
	unsigned int i;
	int cap, ret;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		cap = caps[i];
		memset(res, 0, sizeof(*res));
		ret = run_child(capable_nobody, res, &cap);
		if (ret == 2 && res->err[0] == -EINVAL) {
			TH_LOG("capability %d unknown here", cap);
			continue;
		}
		ASSERT_EQ(0, ret);
		ASSERT_EQ(2, res->step);
		EXPECT_EQ(0, res->err[1]) TH_LOG("R 1 as nobody with capability %d", cap);
		EXPECT_EQ(0, res->err[2]) TH_LOG("U 1 as nobody with capability %d", cap);
		EXPECT_EQ(0, mp3_count());
	}
}

/* ------------------------------------------------------------ pid namespace */

struct ns_arg {
	pid_t outer;	/* a registered process outside the namespace */
	int ready[2];	/* namespace init -> test: registered */
	int go[2];	/* test -> namespace init: go on */
};

/* pid 1 of the new namespace */
static int ns_init(struct result *res, struct ns_arg *a)
{
	pid_t child;
	char c = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	res->pid[0] = getpid();
	/*
	 * A /proc of our own, so that whether the driver goes by the
	 * writer's namespace or by /proc's, the answer is the same.
	 */
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		res->err[7] = -errno;
	else
		res->err[7] = 0;
	child = fork();
	if (child < 0)
		return 4;
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	res->pid[1] = child;
	res->step = 1;

	res->err[0] = mp3_cmd('R', 1);		/* ourselves, not init */
	res->err[1] = mp3_cmd('R', child);	/* 2 */
	res->err[2] = mp3_cmd('R', a->outer);	/* not in here */
	res->err[3] = mp3_cmd('U', a->outer);
	fill_listing(res);

	if (write(a->ready[1], &c, 1) != 1 || read(a->go[0], &c, 1) != 1)
		return 5;
	res->step = 2;
	res->err[4] = mp3_cmd('U', child);
	res->err[5] = mp3_cmd('U', 1);
	res->err[6] = mp3_count();
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	res->step = 3;
	return 0;
}

static int ns_parent(struct result *res, void *arg)
{
	struct ns_arg *a = arg;
	pid_t pid;
	int status;

	if (unshare(CLONE_NEWPID))
		return 1;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0)
		_exit(ns_init(res, a));
	if (waitpid(pid, &status, 0) != pid)
		return 2;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

/* The last number of "NSpid:" in /proc/PID/status, or -1. */
static long long ns_pid_of(pid_t pid)
{
	char path[64], *buf = NULL, *p, *end;
	long long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (mp3_read_file(path, &buf, 4096) < 0)
		return -1;
	p = strstr(buf, "NSpid:");
	if (p) {
		end = strchr(p, '\n');
		if (end)
			*end = '\0';
		p = strrchr(p, '\t');
		if (p)
			v = atoll(p + 1);
	}
	free(buf);
	return v;
}

TEST_F_TIMEOUT(perm, pid_namespace, 60)
{
	struct result *res = self->res;
	struct mp3_entry ents[8];
	struct pollfd pfd;
	struct ns_arg a;
	pid_t child;
	int i, n, status, inner = 0;
	char c = 0;

	a.outer = mp3_spawn_sleeper();
	ASSERT_LT(0, a.outer);
	ASSERT_LT(2, a.outer);
	ASSERT_EQ(0, mp3_register(a.outer));
	ASSERT_EQ(0, pipe(a.ready));
	ASSERT_EQ(0, pipe(a.go));

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(ns_parent(res, &a));
	}
	mp3_track_child(child);

	pfd = (struct pollfd){ .fd = a.ready[0], .events = POLLIN };
	if (poll(&pfd, 1, 20000) != 1 || read(a.ready[0], &c, 1) != 1) {
		ASSERT_EQ(child, waitpid(child, &status, 0));
		mp3_untrack_child(child);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
			SKIP(return, "cannot create a pid namespace");
		ASSERT_TRUE(0) TH_LOG("namespace child failed, status %#x, step %d",
				      status, res->step);
	}

	/* inside: registered by namespace pid, sees only its own */
	ASSERT_EQ(1, res->step);
	if (res->err[7])
		TH_LOG("no /proc of the namespace's own (%s): using the outer one",
		       strerror(-res->err[7]));
	EXPECT_EQ(1, res->pid[0]);
	EXPECT_EQ(2, res->pid[1]);
	EXPECT_EQ(0, res->err[0]) TH_LOG("R 1 in the namespace");
	EXPECT_EQ(0, res->err[1]) TH_LOG("R 2 in the namespace");
	EXPECT_EQ(-ESRCH, res->err[2]) TH_LOG("R of an outside pid in the namespace");
	EXPECT_EQ(-ESRCH, res->err[3]) TH_LOG("U of an outside pid in the namespace");
	EXPECT_EQ(2, res->nr_listed);
	EXPECT_TRUE(listed(res, 1));
	EXPECT_TRUE(listed(res, 2));
	EXPECT_FALSE(listed(res, a.outer));

	/* outside: the same processes by their outer pids, and not init */
	n = mp3_list(ents, 8);
	EXPECT_EQ(3, n);
	for (i = 0; i < n && i < 8; i++) {
		long long nsp;

		EXPECT_NE(1, ents[i].pid);
		if (ents[i].pid == a.outer)
			continue;
		nsp = ns_pid_of(ents[i].pid);
		EXPECT_TRUE(nsp == 1 || nsp == 2)
			TH_LOG("listed pid %lld is %lld in its namespace", ents[i].pid, nsp);
		inner++;
	}
	EXPECT_EQ(2, inner);
	EXPECT_EQ(1, mp3_lookup(a.outer, NULL));

	ASSERT_EQ(1, write(a.go[1], &c, 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	mp3_untrack_child(child);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("namespace child status %#x, step %d", status, res->step);
	EXPECT_EQ(3, res->step);
	EXPECT_EQ(0, res->err[4]) TH_LOG("U 2 in the namespace");
	EXPECT_EQ(0, res->err[5]) TH_LOG("U 1 in the namespace");
	EXPECT_EQ(0, res->err[6]) TH_LOG("listing in the namespace after U");

	/* only the outside registration is left */
	n = mp3_list(ents, 8);
	EXPECT_EQ(1, n);
	EXPECT_EQ(a.outer, ents[0].pid);
	EXPECT_EQ(0, mp3_unregister(a.outer));
}

/* ----------------------------------------------- sessions: perf's rule */

#define PARANOID	"/proc/sys/kernel/perf_event_paranoid"
#define HELPER_ARG	"--mp3prof-exec-helper"

/* What a child did with sessions, shared with the test process. */
struct sres {
	int step;
	int err[16];
	int fd;			/* a session descriptor the child hands over */
	pid_t pid;		/* the child's */
	int nr_seen;
	pid_t seen[8];		/* pids of the records of the child's ring */
	uint32_t max_procs;	/* largest nr_procs of its samples */
	uint64_t samples;
	uint64_t ring_cpu;	/* CPU time its ring reported */
	uint64_t own_cpu;	/* CPU time it used from before the ADD */
};

FIXTURE(psess) {
	struct sres *res;
	char paranoid[32];	/* saved perf_event_paranoid, "" if none */
	char dir[64];		/* the exec helpers' directory, "" if none */
	bool mounted;		/* a tmpfs of our own on dir */
	pid_t helper;
	int pidfd;
	struct mp3_ring r;
};

static int write_paranoid(int level)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d\n", level);
	return mp3_write_str_file(PARANOID, buf);
}

FIXTURE_SETUP(psess)
{
	char *buf = NULL;

	self->res = MAP_FAILED;
	self->paranoid[0] = '\0';
	self->dir[0] = '\0';
	self->mounted = false;
	self->helper = 0;
	self->pidfd = -1;
	memset(&self->r, 0, sizeof(self->r));
	self->r.fd = -1;
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	if (geteuid() != 0)
		SKIP(return, "must be run as root");
	ASSERT_EQ(0, mp3_prepare());
	self->res = mmap(NULL, sizeof(*self->res), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->res);
	memset(self->res, 0, sizeof(*self->res));
	memset(self->res->err, 0x7f, sizeof(self->res->err));	/* not run */
	if (mp3_read_file(PARANOID, &buf, 32) > 0) {
		snprintf(self->paranoid, sizeof(self->paranoid), "%s", buf);
		free(buf);
	}
}

FIXTURE_TEARDOWN(psess)
{
	char path[96];

	if (self->helper > 0) {
		kill(self->helper, SIGKILL);
		waitpid(self->helper, NULL, 0);
	}
	if (self->pidfd >= 0)
		close(self->pidfd);
	if (self->r.hdr || self->r.fd >= 0)
		mp3_ring_close(&self->r);
	mp3_cleanup();
	if (self->paranoid[0])
		mp3_write_str_file(PARANOID, self->paranoid);
	if (self->dir[0]) {
		snprintf(path, sizeof(path), "%s/suid", self->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/plain", self->dir);
		unlink(path);
		if (self->mounted)
			umount2(self->dir, MNT_DETACH);
		rmdir(self->dir);
	}
	if (self->res != MAP_FAILED)
		munmap(self->res, sizeof(*self->res));
}

/*
 * Become NOBODY; with @cap >= 0 keep that one capability.  The parent
 * death signal is set again (credential changes clear it).  0 or 1.
 */
static int become_nobody(int cap, pid_t parent)
{
	if (cap < 0) {
		if (drop_to_nobody())
			return 1;
	} else if (prctl(PR_SET_KEEPCAPS, 1) || setgroups(0, NULL) ||
		   setresgid(NOBODY, NOBODY, NOBODY) ||
		   setresuid(NOBODY, NOBODY, NOBODY) || set_caps(cap)) {
		return 1;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return getppid() == parent ? 0 : 1;
}

/* Fork, run @fn(@res, @arg) in the child, return its exit status or -1. */
static int run_schild(int (*fn)(struct sres *res, void *arg), struct sres *res,
		      void *arg)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		res->pid = getpid();
		_exit(fn(res, arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A sleeper that runs as NOBODY, tracked for mp3_cleanup(). */
static pid_t spawn_nobody_sleeper(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		if (become_nobody(-1, parent))
			_exit(1);
		for (;;)
			pause();
	}
	if (pid > 0) {
		mp3_track_child(pid);
		mp3_wait_sleeping(pid);
	}
	return pid;
}

/*
 * Walk a session's ring up to record @end (0: the head): the distinct
 * pids of its records, the largest nr_procs, and the CPU time of @pid's
 * records (all if @pid is 0) into @res.  0 or the walker's error.
 */
static int scan_ring(const struct mp3_ring *r, pid_t pid, uint64_t end,
		     struct sres *res)
{
	struct mp3prof_proc_record procs[16];
	struct mp3prof_sample s;
	uint64_t pos = 0;
	uint32_t i;
	int ret, j;

	res->nr_seen = 0;
	res->max_procs = 0;
	res->samples = 0;
	res->ring_cpu = 0;
	if (!end)
		end = mp3_head(r);
	while ((ret = mp3_ring_next_sample(r, &pos, end, &s, procs, 16, NULL)) == 1) {
		res->samples++;
		if (s.nr_procs > res->max_procs)
			res->max_procs = s.nr_procs;
		for (i = 0; i < s.nr_procs; i++) {
			if (!pid || procs[i].pid == (uint32_t)pid)
				res->ring_cpu += procs[i].cpu_ns;
			for (j = 0; j < res->nr_seen; j++)
				if (res->seen[j] == (pid_t)procs[i].pid)
					break;
			if (j == res->nr_seen && j < 8)
				res->seen[res->nr_seen++] = procs[i].pid;
		}
	}
	return ret;
}

struct adds_arg {
	int cap;		/* the one capability kept, or -1 */
	pid_t target;		/* a root process */
	pid_t parent;
};

/* As NOBODY (with @cap): a session of its own, and what it may add. */
static int try_adds(struct sres *res, void *arg)
{
	struct adds_arg *a = arg;
	int fd;

	if (become_nobody(a->cap, a->parent))
		return 3;
	fd = mp3_session_open(MP3PROF_SESSION_PER_PROCESS, 0, 0, 0);
	if (fd < 0) {
		res->err[0] = fd;
		return 2;
	}
	res->err[0] = mp3_session_add(fd, getpid());		/* itself */
	res->err[1] = mp3_session_add_pid(fd, getpid());	/* again, by pid */
	res->err[2] = mp3_session_add(fd, a->target);		/* root's */
	res->err[3] = mp3_session_add_pid(fd, 1);		/* init */
	close(fd);
	res->step = 1;
	return 0;
}

/*
 * perf_event_paranoid as perf_event_open() applies it: above 2 only
 * CAP_SYS_ADMIN (CAP_PERFMON is not enough), at 2 and below CAP_PERFMON or
 * ptrace read access (an unprivileged user may add its own processes).
 */
TEST_F_TIMEOUT(psess, paranoid, 60)
{
	static const struct {
		int level, cap, self_err, root_err;
	} cases[] = {
		{ 3, -1,		-EPERM,	-EPERM },
		{ 3, CAP_PERFMON,	-EPERM,	-EPERM },
		{ 3, CAP_SYS_ADMIN,	0,	0 },
		{ 2, -1,		0,	-EPERM },
		{ 2, CAP_PERFMON,	0,	0 },
		{ 1, -1,		0,	-EPERM },
	};
	struct sres *res = self->res;
	struct adds_arg a = { .parent = getpid() };
	unsigned int i;
	int fd, ret, want;

	if (!self->paranoid[0])
		SKIP(return, "no %s", PARANOID);
	a.target = mp3_spawn_sleeper();
	ASSERT_LT(0, a.target);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ASSERT_EQ(0, write_paranoid(cases[i].level));
		memset(res, 0, sizeof(*res));
		a.cap = cases[i].cap;
		ret = run_schild(try_adds, res, &a);
		if (ret == 3 && a.cap >= 0) {
			TH_LOG("capability %d unknown here", a.cap);
			continue;
		}
		ASSERT_EQ(0, ret) TH_LOG("case %u", i);
		ASSERT_EQ(1, res->step);
		EXPECT_EQ(cases[i].self_err, res->err[0])
			TH_LOG("paranoid %d, cap %d: ADD of itself", cases[i].level, a.cap);
		want = -EEXIST;
		if (cases[i].self_err)
			want = -EPERM;
		EXPECT_EQ(want, res->err[1])
			TH_LOG("paranoid %d, cap %d: ADD of itself again", cases[i].level,
			       a.cap);
		EXPECT_EQ(cases[i].root_err, res->err[2])
			TH_LOG("paranoid %d, cap %d: ADD of a root process",
			       cases[i].level, a.cap);
		EXPECT_EQ(cases[i].root_err, res->err[3])
			TH_LOG("paranoid %d, cap %d: ADD of init", cases[i].level, a.cap);
	}

	/* Root may add anything at 3. */
	ASSERT_EQ(0, write_paranoid(3));
	fd = mp3_session_open(MP3PROF_SESSION_PER_PROCESS, 0, 0, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, mp3_session_add(fd, a.target));
	EXPECT_EQ(0, mp3_session_add_pid(fd, 1));
	close(fd);
}

/* A session opened by NOBODY (see nobody_fd()). */
static pid_t nobody_session(int *fd_out)
{
	return nobody_fd(true, fd_out);
}

struct fd_arg {
	int fd;			/* root's session */
	pid_t target, parent;
};

/* As NOBODY, through a session root opened (inherited over fork). */
static int nobody_uses_root_session(struct sres *res, void *arg)
{
	struct fd_arg *a = arg;
	int fd;

	if (become_nobody(-1, a->parent))
		return 1;
	res->err[0] = mp3_session_add(a->fd, a->target);
	res->err[1] = mp3_session_add_pid(a->fd, 1);
	fd = mp3_session_open(MP3PROF_SESSION_PER_PROCESS, 0, 0, 0);
	if (fd < 0)
		return 2;
	res->err[2] = mp3_session_add(fd, getpid());	/* its own file */
	close(fd);
	res->step = 1;
	return 0;
}

/*
 * ADD checks the credentials of whoever opened the session (file->f_cred),
 * not the caller's: a file handed to root grants root nothing, a file root
 * opened keeps root's rights in an unprivileged process.
 */
TEST_F_TIMEOUT(psess, opener_credentials, 60)
{
	struct sres *res = self->res;
	struct fd_arg a = { .parent = getpid() };
	pid_t nob;
	int fd, i;
	bool seen_target = false, seen_init = false;

	if (!self->paranoid[0])
		SKIP(return, "no %s", PARANOID);
	ASSERT_EQ(0, write_paranoid(2));
	a.target = mp3_spawn_sleeper();
	ASSERT_LT(0, a.target);
	nob = spawn_nobody_sleeper();
	ASSERT_LT(0, nob);

	/* Root calls ADD on a session NOBODY opened. */
	ASSERT_LT(0, nobody_session(&fd));
	ASSERT_LE(0, fd) TH_LOG("pidfd_getfd: %s", strerror(errno));
	EXPECT_EQ(-EPERM, mp3_session_add(fd, a.target))
		TH_LOG("root adds a root process through nobody's session");
	EXPECT_EQ(-EPERM, mp3_session_add_pid(fd, 1))
		TH_LOG("root adds init through nobody's session");
	EXPECT_EQ(0, mp3_session_add(fd, nob))
		TH_LOG("root adds a nobody process through nobody's session");
	close(fd);

	/* NOBODY calls ADD on a session root opened, even at paranoid 3. */
	ASSERT_EQ(0, write_paranoid(3));
	ASSERT_EQ(0, mp3_session_start(&self->r, MP3PROF_SESSION_PER_PROCESS,
				       SPERIOD_NS, 0, 0));
	a.fd = self->r.fd;
	ASSERT_EQ(0, run_schild(nobody_uses_root_session, res, &a));
	ASSERT_EQ(1, res->step);
	EXPECT_EQ(0, res->err[0]) TH_LOG("nobody adds a root process through root's session");
	EXPECT_EQ(0, res->err[1]) TH_LOG("nobody adds init through root's session");
	EXPECT_EQ(-EPERM, res->err[2]) TH_LOG("nobody adds itself through its own, paranoid 3");
	/* And they are sampled. */
	ASSERT_EQ(0, mp3_wait_nr_samples(&self->r, 2, 10000));
	ASSERT_EQ(0, scan_ring(&self->r, 0, 0, res));
	for (i = 0; i < res->nr_seen; i++) {
		seen_target |= res->seen[i] == a.target;
		seen_init |= res->seen[i] == 1;
	}
	EXPECT_TRUE(seen_target);
	EXPECT_TRUE(seen_init);
	EXPECT_EQ(2, res->nr_seen);
}

/* ------------------------------------------------------ setuid exec */

/* The exec'd helper: report the effective uid, then burn CPU. */
static int exec_helper(int fd)
{
	uint64_t end = mp3_now_ns() + 30 * MP3_NSEC, x = 0;
	int euid = geteuid();

	if (write(fd, &euid, sizeof(euid)) != sizeof(euid))
		return 1;
	while (mp3_now_ns() < end) {
		int i;

		for (i = 0; i < 100000; i++) {
			x += i;
			__asm__ __volatile__("" : "+r" (x));
		}
	}
	return 0;
}

static int copy_exe(const char *to, mode_t mode)
{
	int in = open("/proc/self/exe", O_RDONLY), out;
	char buf[65536];
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0700);
	if (out < 0) {
		close(in);
		return -errno;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			n = -1;
			break;
		}
	/* chown() clears the set-user-ID bit: mode last. */
	if (n < 0 || fchown(out, 0, 0) || fchmod(out, mode))
		n = -errno;
	close(in);
	close(out);
	return n < 0 ? n : 0;
}

/*
 * Copies of this program in a directory where set-user-ID works: dir/suid
 * (root, 04755) and dir/plain (0755).  /tmp is used unless it is mounted
 * nosuid; then a tmpfs of our own, in a mount namespace of our own.
 */
static int setup_helpers(struct _test_data_psess *self)
{
	char path[96];
	struct statvfs st;
	int ret;

	snprintf(self->dir, sizeof(self->dir), "/tmp/mp3prof-exec-XXXXXX");
	if (!mkdtemp(self->dir)) {
		self->dir[0] = '\0';
		return -errno;
	}
	if (statvfs(self->dir, &st))
		return -errno;
	if (st.f_flag & ST_NOSUID) {
		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tmpfs", self->dir, "tmpfs", 0, "mode=0755"))
			return -errno;
		self->mounted = true;
	}
	if (chmod(self->dir, 0755))
		return -errno;
	snprintf(path, sizeof(path), "%s/suid", self->dir);
	ret = copy_exe(path, 04755);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/plain", self->dir);
	return copy_exe(path, 0755);
}

struct exec_arg {
	char path[96];
	int ready[2], go[2], rep[2];
	pid_t parent;
};

/*
 * As NOBODY: a session of its own with itself added, sampled twice; hand
 * the session over, then exec the helper.
 */
static int exec_child(struct sres *res, struct exec_arg *a)
{
	char fdstr[16], c;
	struct mp3_ring r;

	if (become_nobody(-1, a->parent))
		return 1;
	if (mp3_session_start(&r, MP3PROF_SESSION_PER_PROCESS, SPERIOD_NS, 0, 0))
		return 2;
	res->err[0] = mp3_session_add(r.fd, getpid());
	if (res->err[0])
		return 3;
	if (mp3_wait_nr_samples(&r, 2, 10000))
		return 4;
	res->fd = r.fd;
	if (write(a->ready[1], "r", 1) != 1 || read(a->go[0], &c, 1) != 1)
		return 5;
	snprintf(fdstr, sizeof(fdstr), "%d", a->rep[1]);
	/* The session's fd is O_CLOEXEC: the test's copy keeps it alive. */
	execl(a->path, a->path, HELPER_ARG, fdstr, (char *)NULL);
	res->err[1] = -errno;
	return 6;
}

static uint64_t cpu_of(pid_t pid)
{
	struct timespec ts;
	clockid_t clk;

	if (clock_getcpuclockid(pid, &clk) || clock_gettime(clk, &ts))
		return 0;
	return ts.tv_sec * MP3_NSEC + ts.tv_nsec;
}

/* Records of @pid in [from, head): count, flags seen, CPU, last flags. */
struct pid_recs {
	int nr;
	uint16_t all_flags, last_flags;
	uint64_t cpu, min_flt, maj_flt;
	uint64_t last_rec;	/* record number of its last record */
	uint64_t head;
};

static int pid_records(const struct mp3_ring *r, uint64_t from, pid_t pid,
		       struct pid_recs *pr)
{
	struct mp3prof_proc_record procs[16];
	struct mp3prof_sample s;
	uint64_t pos = from, start;
	uint32_t i;
	int ret;

	memset(pr, 0, sizeof(*pr));
	pr->head = mp3_head(r);
	for (;;) {
		start = pos;
		ret = mp3_ring_next_sample(r, &pos, pr->head, &s, procs, 16, NULL);
		if (ret != 1)
			return ret;
		for (i = 0; i < s.nr_procs; i++) {
			if (procs[i].pid != (uint32_t)pid)
				continue;
			pr->nr++;
			pr->all_flags |= procs[i].flags;
			pr->last_flags = procs[i].flags;
			pr->cpu += procs[i].cpu_ns;
			pr->min_flt = procs[i].min_flt;
			pr->maj_flt = procs[i].maj_flt;
			pr->last_rec = start + 1 + i;
		}
	}
}

/*
 * NOBODY (paranoid 2) adds itself to its own session and execs a copy of
 * this program: set-user-ID root (@suid), or not.
 */
static void exec_case(struct __test_metadata *_metadata,
		      struct _test_data_psess *self, bool suid)
{
	struct sres *res = self->res;
	struct exec_arg a = { .parent = getpid() };
	struct pollfd pfd;
	struct pid_recs pr;
	union mp3_rec rec;
	uint64_t head, samples, cpu0, end;
	pid_t pid;
	int fd, euid = -1, ret;

	if (!self->paranoid[0])
		SKIP(return, "no %s", PARANOID);
	ASSERT_EQ(0, write_paranoid(2));
	ret = setup_helpers(self);
	ASSERT_EQ(0, ret) TH_LOG("exec helpers in %s: %s", self->dir, strerror(-ret));
	snprintf(a.path, sizeof(a.path), "%s/%s", self->dir, suid ? "suid" : "plain");
	ASSERT_EQ(0, pipe2(a.ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(a.go, O_CLOEXEC));
	ASSERT_EQ(0, pipe(a.rep));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(exec_child(res, &a));
	}
	self->helper = pid;
	pfd = (struct pollfd){ .fd = a.ready[0], .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 20000)) TH_LOG("child: err %d", res->err[0]);
	ASSERT_EQ(0, res->err[0]) TH_LOG("nobody adds itself, paranoid 2");

	/* Our copy of its session: it outlives the exec. */
	self->pidfd = mp3_pidfd_open(pid);
	ASSERT_LE(0, self->pidfd);
	fd = syscall(SYS_pidfd_getfd, self->pidfd, res->fd, 0);
	ASSERT_LE(0, fd) TH_LOG("pidfd_getfd: %s", strerror(errno));
	ASSERT_EQ(0, mp3_session_map(&self->r, fd));
	ASSERT_EQ(0, pid_records(&self->r, 0, pid, &pr));
	ASSERT_LE(2, pr.nr) TH_LOG("sampled before the exec");
	ASSERT_EQ(1, write(a.go[1], "g", 1));

	pfd = (struct pollfd){ .fd = a.rep[0], .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 20000)) TH_LOG("exec failed: %d", res->err[1]);
	ASSERT_EQ(sizeof(euid), read(a.rep[0], &euid, sizeof(euid)));
	/* The helper runs, with the credentials the exec gave it. */
	ASSERT_EQ(suid ? 0 : NOBODY, euid);
	head = mp3_head(&self->r);

	if (!suid) {
		/* Same credentials: still sampled, with its CPU time. */
		ASSERT_EQ(0, mp3_wait_nr_samples(&self->r, 5, 10000));
		ASSERT_EQ(0, pid_records(&self->r, head, pid, &pr));
		EXPECT_LE(4, pr.nr);
		EXPECT_EQ(0, pr.all_flags) TH_LOG("flags %#x after a plain exec",
						  pr.all_flags);
		EXPECT_LT(0, pr.cpu);
		EXPECT_EQ(-EEXIST, mp3_session_add(self->r.fd, pid));
		return;
	}

	/* Set-user-ID: its next record is its last, DROPPED, with 0 deltas. */
	end = mp3_now_ns() + 10 * MP3_NSEC;
	for (;;) {
		ASSERT_EQ(0, pid_records(&self->r, 0, pid, &pr));
		if (pr.all_flags & MP3PROF_PROC_DROPPED)
			break;
		ASSERT_GT(end, mp3_now_ns()) TH_LOG("no DROPPED record after 10 s");
		mp3_msleep(10);
	}
	EXPECT_EQ(MP3PROF_PROC_DROPPED, pr.last_flags);
	EXPECT_EQ(pr.last_rec + 1, pr.head) TH_LOG("the DROPPED record is the last");
	EXPECT_EQ(0, pr.min_flt);
	EXPECT_EQ(0, pr.maj_flt);
	/* pr.cpu sums all its records: check the last one alone. */
	ASSERT_EQ(0, mp3_ring_get_rec(&self->r, pr.last_rec, &rec));
	EXPECT_EQ(0, rec.p.cpu_ns);

	/* Never again, while it keeps burning CPU. */
	head = mp3_head(&self->r);
	samples = self->r.hdr->samples;
	cpu0 = cpu_of(pid);
	mp3_msleep(15 * SPERIOD_NS / 1000000);
	EXPECT_LT(cpu0 + SPERIOD_NS, cpu_of(pid)) TH_LOG("the helper does not run");
	EXPECT_EQ(head, mp3_head(&self->r));
	EXPECT_EQ(samples, self->r.hdr->samples);
	/* And its (nobody's) session may not add it back. */
	EXPECT_EQ(-EPERM, mp3_session_add(self->r.fd, pid));
}

TEST_F_TIMEOUT(psess, setuid_exec_drops, 60)
{
	exec_case(_metadata, self, true);
}

TEST_F_TIMEOUT(psess, plain_exec_kept, 60)
{
	exec_case(_metadata, self, false);
}

/* ------------------------------------------------------------ isolation */

struct iso_arg {
	pid_t busy, parent;
};

/* As NOBODY: its own session, with only itself in it. */
static int nobody_isolated(struct sres *res, void *arg)
{
	struct iso_arg *a = arg;
	struct mp3_ring r;
	uint64_t c0, h;
	int i;

	if (become_nobody(-1, a->parent))
		return 1;
	if (mp3_session_start(&r, MP3PROF_SESSION_PER_PROCESS |
			      MP3PROF_SESSION_TREE, SPERIOD_NS, 0, 0))
		return 2;
	res->err[0] = mp3_session_add(r.fd, a->busy);
	res->err[1] = mp3_session_add_pid(r.fd, 1);
	res->err[2] = mp3_session_remove(r.fd, a->busy);
	c0 = mp3_proc_cpu_ns();
	res->err[3] = mp3_session_add(r.fd, getpid());
	/* Sleep in read() for ten samples. */
	for (i = 0; i < 10; i++)
		if (read(r.fd, &h, sizeof(h)) != sizeof(h))
			return 3;
	res->own_cpu = mp3_proc_cpu_ns() - c0;
	/* The samples up to h were taken before that. */
	res->err[4] = scan_ring(&r, 0, h, res);
	mp3_ring_close(&r);
	res->step = 1;
	return 0;
}

/*
 * Two users' sessions are isolated: NOBODY cannot add root's processes to
 * its session, and its ring holds only its own pid and its own CPU time,
 * while root's busy loop runs in root's session beside it.
 */
TEST_F_TIMEOUT(psess, users_isolated, 60)
{
	struct sres *res = self->res;
	struct iso_arg a = { .parent = getpid() };
	struct sres mine;
	uint64_t h0, n0;

	if (self->paranoid[0])
		ASSERT_EQ(0, write_paranoid(2));
	a.busy = fork();
	ASSERT_LE(0, a.busy);
	if (a.busy == 0) {
		uint64_t x = 0;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			__asm__ __volatile__("" : "+r" (x));
	}
	mp3_track_child(a.busy);
	ASSERT_EQ(0, mp3_session_start(&self->r, MP3PROF_SESSION_PER_PROCESS,
				       SPERIOD_NS, 0, 0));
	ASSERT_EQ(0, mp3_session_add(self->r.fd, a.busy));
	h0 = mp3_head(&self->r);

	ASSERT_EQ(0, run_schild(nobody_isolated, res, &a));
	ASSERT_EQ(1, res->step);
	EXPECT_EQ(-EPERM, res->err[0]) TH_LOG("nobody adds root's busy loop");
	EXPECT_EQ(-EPERM, res->err[1]) TH_LOG("nobody adds init");
	EXPECT_EQ(-ENOENT, res->err[2]) TH_LOG("nobody removes root's busy loop");
	EXPECT_EQ(0, res->err[3]) TH_LOG("nobody adds itself");
	EXPECT_EQ(0, res->err[4]);
	/* Its ring: itself only, and no more CPU than it used itself. */
	EXPECT_EQ(1, res->nr_seen);
	EXPECT_EQ(res->pid, res->seen[0]);
	EXPECT_EQ(1, res->max_procs);
	EXPECT_LE(10, res->samples);
	EXPECT_LE(res->ring_cpu, res->own_cpu);

	/*
	 * Root's ring: the busy loop only, burning meanwhile.  The sample
	 * after the REMOVE has its last record; it may be taken as soon as
	 * the REMOVE lets go of the session, before a wait could begin.
	 */
	n0 = mp3_nr_samples(&self->r);
	ASSERT_EQ(0, mp3_session_remove(self->r.fd, a.busy));
	ASSERT_EQ(0, mp3_wait_samples_past(&self->r, n0, 10000));
	memset(&mine, 0, sizeof(mine));
	ASSERT_EQ(0, scan_ring(&self->r, 0, 0, &mine));
	EXPECT_EQ(1, mine.nr_seen);
	EXPECT_EQ(a.busy, mine.seen[0]);
	TH_LOG("nobody's session: %llu ns CPU (it used %llu ns); root's busy loop: %llu ns",
	       (unsigned long long)res->ring_cpu, (unsigned long long)res->own_cpu,
	       (unsigned long long)mine.ring_cpu);
	EXPECT_LT(10 * res->ring_cpu, mine.ring_cpu);
	(void)h0;
}

/* ---------------------------------------------------------------- hidepid */

/* Views of the listing: /proc, then procfs mounts with these options. */
static const char *const hp_opts[] = {
	"hidepid=invisible",
	"hidepid=invisible,gid=65534",
	"hidepid=ptraceable,gid=65534",
};

#define HP_VIEWS	(1 + ARRAY_SIZE(hp_opts))

struct hp_arg {
	char dir[ARRAY_SIZE(hp_opts)][64];
	pid_t a, b;		/* root's and nobody's registered process */
};

static void hp_path(const struct hp_arg *h, int view, char *buf, size_t len)
{
	if (!view)
		snprintf(buf, len, "%s", MP3_STATUS);
	else
		snprintf(buf, len, "%s/mp3prof/status", h->dir[view - 1]);
}

/* err[2 * view] and err[2 * view + 1]: A and B listed (1/0) or -errno. */
static void hp_read(struct result *res, const struct hp_arg *h)
{
	struct mp3_entry ents[16];
	char path[96], *buf;
	int view, i, n;
	ssize_t len;

	for (view = 0; view < (int)HP_VIEWS; view++) {
		buf = NULL;
		hp_path(h, view, path, sizeof(path));
		len = mp3_read_file(path, &buf, 4096);
		if (len < 0) {
			res->err[2 * view] = len;
			res->err[2 * view + 1] = len;
			continue;
		}
		n = mp3_parse_list(buf, len, ents, 16);
		free(buf);
		res->err[2 * view] = 0;
		res->err[2 * view + 1] = 0;
		for (i = 0; i < n && i < 16; i++) {
			if (ents[i].pid == h->a)
				res->err[2 * view] = 1;
			if (ents[i].pid == h->b)
				res->err[2 * view + 1] = 1;
		}
	}
}

static int nobody_reads(struct result *res, void *arg)
{
	if (drop_to_nobody())
		return 1;
	hp_read(res, arg);
	res->step = 1;
	return 0;
}

/*
 * The default session's listing honours the hidepid= and gid= options of
 * the procfs it is read through, with the reader's credentials.
 */
TEST_F_TIMEOUT(perm, hidepid, 60)
{
	struct result *res = self->res;
	struct hp_arg h;
	unsigned int i, created = 0;
	int mounted = 0;
	/* A and B listed, per view, as nobody reads them */
	static const int want[HP_VIEWS][2] = {
		{ 1, 1 },	/* /proc: no hidepid */
		{ 0, 1 },	/* invisible: only its own */
		{ 1, 1 },	/* invisible, but in gid= */
		{ 0, 1 },	/* ptraceable: gid= does not help */
	};

	memset(&h, 0, sizeof(h));
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	for (i = 0; i < ARRAY_SIZE(hp_opts); i++) {
		snprintf(h.dir[i], sizeof(h.dir[i]), "/tmp/mp3prof-proc-XXXXXX");
		if (!mkdtemp(h.dir[i]))
			break;
		created++;
		chmod(h.dir[i], 0755);
		if (mount("proc", h.dir[i], "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  hp_opts[i])) {
			TH_LOG("mount -t proc -o %s: %s", hp_opts[i], strerror(errno));
			break;
		}
		mounted++;
	}
	if (mounted == (int)ARRAY_SIZE(hp_opts)) {
		h.a = mp3_spawn_sleeper();
		ASSERT_LT(0, h.a);
		h.b = spawn_nobody_sleeper();
		ASSERT_LT(0, h.b);
		ASSERT_EQ(0, mp3_register(h.a));
		ASSERT_EQ(0, mp3_register(h.b));

		ASSERT_EQ(0, run_child(nobody_reads, res, &h));
		ASSERT_EQ(1, res->step);
		for (i = 0; i < HP_VIEWS; i++) {
			EXPECT_EQ(want[i][0], res->err[2 * i])
				TH_LOG("nobody, view %u: root's process", i);
			EXPECT_EQ(want[i][1], res->err[2 * i + 1])
				TH_LOG("nobody, view %u: nobody's process", i);
		}
		/* Root may ptrace both: sees both everywhere. */
		memset(res, 0, sizeof(*res));
		hp_read(res, &h);
		for (i = 0; i < 2 * HP_VIEWS; i++)
			EXPECT_EQ(1, res->err[i]) TH_LOG("root, view %u", i / 2);
	}
	for (i = 0; i < created; i++) {
		if ((int)i < mounted)
			umount2(h.dir[i], MNT_DETACH);
		rmdir(h.dir[i]);
	}
	ASSERT_EQ((int)ARRAY_SIZE(hp_opts), mounted);
}

int main(int argc, char **argv)
{
	/* The exec helper of setuid_exec_drops and plain_exec_kept. */
	if (argc == 3 && !strcmp(argv[1], HELPER_ARG))
		return exec_helper(atoi(argv[2]));
	return test_harness_run(argc, argv);
}
