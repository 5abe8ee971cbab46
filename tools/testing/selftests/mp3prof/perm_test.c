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
#include <sys/syscall.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

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

/*
 * Open the control file as nobody and keep it open until the test process
 * has taken a copy with pidfd_getfd() (no AF_UNIX needed in the guest).
 */
static pid_t nobody_opener(int *fd_out)
{
	int ready[2], done[2], fd, pidfd;
	char c = 0;
	pid_t pid;

	if (pipe(ready) || pipe(done))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (drop_to_nobody())
			_exit(1);
		fd = open(MP3_STATUS, O_WRONLY);
		if (fd < 0 || write(ready[1], &fd, sizeof(fd)) != sizeof(fd))
			_exit(2);
		_exit(read(done[0], &c, 1) == 1 ? 0 : 3);
	}
	*fd_out = -1;
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

TEST_HARNESS_MAIN
