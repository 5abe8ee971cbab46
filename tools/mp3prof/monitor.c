// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof-monitor: profile a command or running processes with mp3prof.
 *
 * "-- CMD" and "-p PID" use a private session: the monitor's own open file
 * of /dev/mp3prof, configured with MP3PROF_IOC_SESSION, to which the
 * processes are added by pidfd; its ring holds their samples and nobody
 * else's.  Without them the monitor follows the default session of the
 * course interface (/proc/mp3prof/status), as the course's monitor did.
 *
 * The samples are read straight from the read-only mapping of the ring.
 * While following, the monitor sleeps in epoll_pwait() on the ring file
 * (edge-triggered: every new sample wakes it once), a signalfd and the
 * pidfds of the processes it waits for: one system call per wake-up.
 *
 * Copyright (C) 2025 The mp3prof authors
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "ring.h"

#define PROG		"mp3prof-monitor"
#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_MSEC	1000000ULL
#define MAX_RATE	1000
/* Without pidfds, how often -p looks whether its processes still exist. */
#define NOPIDFD_POLL_MS	200

/* epoll data of the descriptors the monitor waits on */
enum { EV_RING, EV_SIGNAL, EV_TARGET };

struct target {
	pid_t pid;
	int pidfd;		/* -1 without pidfd_open() */
	bool added;		/* MP3PROF_IOC_ADD succeeded: REMOVE it at the end */
	bool gone;		/* it exited */
};

struct monitor {
	/* options */
	const char *device;
	const char *output;
	bool follow;
	bool syscalls;
	bool global;
	bool tree;
	bool per_process;
	unsigned int rate;
	double duration;
	char **cmd;
	pid_t *pids;
	int nr_pids;

	struct mp3_ring ring;
	struct mp3_out out;
	__u64 next;		/* next record to read */
	bool synced;		/* a sample was read: orphan records are losses */
	bool have_cur;		/* @cur is the sample the next records belong to */
	struct mp3prof_sample cur;

	int epfd;
	int sigfd;
	sigset_t oldmask;	/* the mask to give the command */
	struct sigaction oldact[3];	/* and the dispositions of stop_sigs */
	struct target *targets;
	int nr_targets;
	int nr_live;
	pid_t child;		/* CMD, or 0 */
	bool stop;		/* SIGINT/SIGTERM/SIGHUP without CMD */
	__u64 deadline;		/* -d, CLOCK_MONOTONIC ns, or 0 */
};

static const char usage_text[] =
	"Usage: " PROG " [OPTION]... [--] CMD [ARG]...\n"
	"       " PROG " [OPTION]... -p PID[,PID]...\n"
	"       " PROG " [OPTION]... [--global] [-f | -d SECS]\n"
	"Profile page faults and CPU time with mp3prof (" MP3PROF_DEV ").\n"
	"\n"
	"With CMD, run it in a private session: CMD and, by default, every process it\n"
	"creates (the whole tree), added before CMD execs; print the samples until\n"
	"CMD exits, including the one that accounts its last interval, and exit with\n"
	"CMD's status.  With -p, profile running processes (and their descendants)\n"
	"in a private session until they all exited, SIGINT or SIGTERM, or -d.  A\n"
	"private session samples only its own processes, at its own rate.\n"
	"With neither, read the default session of the course interface (processes\n"
	"registered with \"R <pid>\" in /proc/mp3prof/status): the samples now in\n"
	"its ring, or with -f/-d the new ones.\n"
	"\n"
	"  -p, --pid PID[,PID]...  profile these running processes (repeatable)\n"
	"      --no-tree         only CMD or the PIDs themselves, not their children\n"
	"  -r, --rate HZ         samples per second of the private session, 1 to 1000\n"
	"                        (default 20)\n"
	"      --global          read the default session (what happens without CMD\n"
	"                        and -p; not allowed with them)\n"
	"  -f, --follow          default session: print new samples as they come,\n"
	"                        until SIGINT or SIGTERM\n"
	"  -d, --duration SECS   follow for at most SECS seconds (not with CMD)\n"
	"      --per-process     after each sample, one row per process sampled: its\n"
	"                        pid, ppid (in the whole tree: the sampled process whose\n"
	"                        child it is; 0 for a process added by CMD or -p),\n"
	"                        flags and its share of the faults and CPU time; the\n"
	"                        rows of a sample add up to the sample's row\n"
	"      --csv             CSV: a header line, then one row per sample:\n"
	"                        seq,jiffies,time_ns,min_flt,maj_flt,cpu_ns,\n"
	"                        nr_procs,nr_exited,work_ns\n"
	"                        With --per-process every row has the columns\n"
	"                        kind,seq,jiffies,time_ns,pid,ppid,flags,min_flt,\n"
	"                        maj_flt,cpu_ns,nr_procs,nr_exited,work_ns\n"
	"                        kind is \"sample\" (pid and ppid 0) or \"proc\" (seq,\n"
	"                        jiffies and time_ns of its sample; nr_procs,\n"
	"                        nr_exited and work_ns 0); flags are the record's:\n"
	"                        sample 1 untracked; proc 1 exited, 2 removed,\n"
	"                        4 dropped (lost the permission), 8 new\n"
	"      --json            one JSON object per line per sample, same fields; with\n"
	"                        --per-process also \"kind\", \"flags\" and proc objects\n"
	"      --classic         the course monitor's format, one line per sample\n"
	"                        \"<jiffies> <minor faults> <major faults> <cpu time>\"\n"
	"                        with the CPU time in jiffies (user + system, at the\n"
	"                        kernel's HZ, remainders carried to the next sample),\n"
	"                        and \"read <N> profiled data\" after the last one\n"
	"  -o, --output FILE     write the samples to FILE instead of stdout\n"
	"      --syscalls        at exit, print on stderr the waits (epoll_wait)\n"
	"                        made while following and the samples read\n"
	"  -D, --device PATH     the device (default " MP3PROF_DEV "); without CMD\n"
	"                        and -p also a file holding a ring image\n"
	"  -h, --help            show this help\n"
	"\n"
	"The default output is a table: seq, time since the first sample (s), minor\n"
	"and major faults, CPU time (ms) and CPU utilisation (% of one CPU) in the\n"
	"interval, and the number of processes sampled; --per-process adds pid, ppid\n"
	"and flags columns (\"all\" marks the sample's row).  Records overwritten\n"
	"before they could be read are reported on stderr (\"lost N samples\", or\n"
	"\"records\" with --per-process).  SIGTERM and SIGHUP are forwarded to CMD.\n"
	"Profiling needs what perf_event_open() needs: see kernel.perf_event_paranoid.\n"
	"Exit status: 0, 1 on errors, 2 on bad usage, CMD's status with CMD.\n";

static void print_usage(FILE *f)
{
	fputs(usage_text, f);
}

static int usage_error(const char *msg)
{
	fprintf(stderr, PROG ": %s\n", msg);
	fputs("Try '" PROG " --help'.\n", stderr);
	return 2;
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* ---------------------------------------------------------------- reading */

/* One record read: print it.  Return 1 if it counts as lost, else 0. */
static int take_record(struct monitor *m, const union mp3_record *r)
{
	switch (r->h.type) {
	case MP3PROF_RECORD_SAMPLE:
		m->cur = r->s;
		m->have_cur = true;
		m->synced = true;
		mp3_out_sample(&m->out, &r->s);
		return 0;
	case MP3PROF_RECORD_PROC:
		/* Sample s is followed by records s + 1 .. s + nr_procs. */
		if (m->have_cur && r->p.seq > m->cur.seq &&
		    r->p.seq - m->cur.seq <= m->cur.nr_procs) {
			mp3_out_proc(&m->out, &m->cur, &r->p);
			return 0;
		}
		/* Its sample was lost (or overwritten before we started). */
		return m->synced;
	default:
		/* A record type of a later kernel. */
		return 0;
	}
}

/*
 * A record was lost.  The sample whose records follow stays known: which
 * records belong to it is told by their seq numbers.
 */
static void record_lost(struct monitor *m)
{
	m->synced = true;
	mp3_out_gap(&m->out);
}

/* Print records m->next .. head - 1; count and report the lost ones. */
static void drain(struct monitor *m)
{
	struct mp3_ring *ring = &m->ring;
	__u64 head = mp3_ring_head(ring), nr = ring->mask + 1, lost = 0;
	union mp3_record r;

	if (head - m->next > nr) {
		lost = head - nr - m->next;
		m->next = head - nr;
		record_lost(m);
	}
	for (; m->next < head; m->next++) {
		if (mp3_ring_get(ring, m->next, &r)) {
			lost += take_record(m, &r);
		} else {
			lost++;
			record_lost(m);
		}
	}
	mp3_out_lost(&m->out, lost);
	fflush(m->out.f);
}

/* ---------------------------------------------------------------- waiting */

static int epoll_add(struct monitor *m, int fd, __u32 events, __u64 data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static const int stop_sigs[3] = { SIGINT, SIGTERM, SIGHUP };

/*
 * Signals arrive through a signalfd: blocked, they cannot interrupt
 * anything between a check and the wait, and the command gets the mask
 * and dispositions the monitor started with.  An ignored signal never
 * reaches a signalfd, and a shell starts background commands with SIGINT
 * ignored: the stop signals get their default disposition here (blocked,
 * it never runs), so "kill -INT" stops a monitor started with "&".
 */
static int setup_wait(struct monitor *m)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t set;
	int i;

	sigemptyset(&set);
	for (i = 0; i < 3; i++)
		sigaddset(&set, stop_sigs[i]);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, &m->oldmask)) {
		perror(PROG ": sigprocmask");
		return -1;
	}
	for (i = 0; i < 3; i++)
		sigaction(stop_sigs[i], &dfl, &m->oldact[i]);
	m->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->sigfd < 0 || m->epfd < 0) {
		perror(PROG ": signalfd/epoll_create1");
		return -1;
	}
	if (epoll_add(m, m->sigfd, EPOLLIN, EV_SIGNAL)) {
		perror(PROG ": epoll_ctl");
		return -1;
	}
	/*
	 * Edge-triggered: the driver wakes the file's waiters once per
	 * sample, and each wake-up reports the file once, without the read()
	 * a level-triggered poll() would need to consume it.
	 */
	if (epoll_add(m, m->ring.fd, EPOLLIN | EPOLLET, EV_RING)) {
		fprintf(stderr, PROG ": %s: cannot wait for new records: %s\n",
			m->device, strerror(errno));
		return -1;
	}
	return 0;
}

static void target_gone(struct monitor *m, struct target *t)
{
	if (t->gone)
		return;
	t->gone = true;
	m->nr_live--;
	if (t->pidfd >= 0)
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, t->pidfd, NULL);
}

/* Has the child exited?  Leave it a zombie: it is reaped at the very end. */
static bool child_exited(pid_t pid)
{
	siginfo_t si = { .si_pid = 0 };

	if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

/* Without a pidfd: does @pid still run (not a zombie)? */
static bool pid_running(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (kill(pid, 0) && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/* Targets without a pidfd: look whether they still exist. */
static void check_nopidfd(struct monitor *m)
{
	int i;

	for (i = 0; i < m->nr_targets; i++) {
		struct target *t = &m->targets[i];

		if (t->gone || t->pidfd >= 0)
			continue;
		if (t->pid == m->child ? child_exited(t->pid) : !pid_running(t->pid))
			target_gone(m, t);
	}
}

static void on_signal(struct monitor *m)
{
	struct signalfd_siginfo si;

	while (read(m->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			check_nopidfd(m);
			break;
		case SIGTERM:
		case SIGHUP:
			/* Forwarded: the command decides when we stop. */
			if (m->child > 0) {
				kill(m->child, si.ssi_signo);
				break;
			}
			m->stop = true;
			break;
		case SIGINT:
			/*
			 * A terminal's ^C reaches the command too: wait for
			 * it to exit.
			 */
			if (m->child <= 0)
				m->stop = true;
			break;
		}
	}
}

static bool have_nopidfd(const struct monitor *m)
{
	int i;

	for (i = 0; i < m->nr_targets; i++)
		if (!m->targets[i].gone && m->targets[i].pidfd < 0 &&
		    m->targets[i].pid != m->child)
			return true;
	return false;
}

/*
 * Wait at most @timeout_ms (-1: no limit) for a new sample, a signal or a
 * process exit, and take note of them.  Return -1 on errors.
 */
static int wait_events(struct monitor *m, int timeout_ms)
{
	struct epoll_event ev[8];
	int n, i;

	if (have_nopidfd(m) && (timeout_ms < 0 || timeout_ms > NOPIDFD_POLL_MS))
		timeout_ms = NOPIDFD_POLL_MS;
	m->ring.syscalls++;
	n = epoll_wait(m->epfd, ev, ARRAY_SIZE(ev), timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		perror(PROG ": epoll_wait");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ev[i].data.u64 == EV_SIGNAL)
			on_signal(m);
		else if (ev[i].data.u64 >= EV_TARGET)
			target_gone(m, &m->targets[ev[i].data.u64 - EV_TARGET]);
	}
	if (have_nopidfd(m))
		check_nopidfd(m);
	return 0;
}

static int ms_until(__u64 end)
{
	__u64 now = now_ns();

	if (now >= end)
		return 0;
	if ((end - now) / NSEC_PER_MSEC >= INT_MAX)
		return INT_MAX;
	return (int)((end - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
}

/* Wait at most @timeout_ms for the head to pass @old: 1 if it did, else 0. */
static int wait_past(struct monitor *m, __u64 old, int timeout_ms)
{
	__u64 end = now_ns() + (__u64)timeout_ms * NSEC_PER_MSEC;
	int left;

	while (mp3_ring_head(&m->ring) <= old) {
		left = ms_until(end);
		if (!left || wait_events(m, left))
			return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- sessions */

static void explain_pidfd(pid_t pid, int err)
{
	fprintf(stderr, PROG ": cannot profile pid %d: pidfd_open: %s%s\n", pid,
		strerror(-err), err == -ESRCH ? " (no such process)" :
		err == -EINVAL ? " (a thread id, not a process?)" : "");
}

/* Add @t to the session; watch it for its exit. */
static int add_target(struct monitor *m, struct target *t)
{
	int ret;

	t->pidfd = mp3_pidfd_open(t->pid);
	if (t->pidfd == MP3_PIDFD_MISSING) {
		t->pidfd = -1;
	} else if (t->pidfd < 0) {
		explain_pidfd(t->pid, t->pidfd);
		t->pidfd = -1;
		return -1;
	}
	ret = mp3_session_add(&m->ring, t->pid, t->pidfd);
	if (ret == -EEXIST && !m->child) {
		/* Listed twice, or a descendant of another -p process. */
		fprintf(stderr,
			PROG ": pid %d is in the session already (listed twice, or a descendant)\n",
			t->pid);
		ret = 0;
	} else if (!ret) {
		t->added = true;
	}
	if (ret) {
		mp3_explain_add(PROG, t->pid, ret);
		return -1;
	}
	m->nr_live++;
	if (t->pidfd >= 0 &&
	    epoll_add(m, t->pidfd, EPOLLIN, EV_TARGET + (t - m->targets))) {
		perror(PROG ": epoll_ctl");
		return -1;
	}
	return 0;
}

static int add_pids(struct monitor *m)
{
	int i;

	m->targets = calloc(m->nr_pids, sizeof(*m->targets));
	if (!m->targets) {
		perror(PROG);
		return -1;
	}
	for (i = 0; i < m->nr_pids; i++) {
		m->targets[i].pid = m->pids[i];
		m->targets[i].pidfd = -1;
		m->nr_targets++;
		if (add_target(m, &m->targets[i]))
			return -1;
	}
	return 0;
}

/*
 * Fork CMD; it waits on a pipe until it is in the session, then execs, so
 * the session sees all of it.
 */
static int start_cmd(struct monitor *m)
{
	int pfd[2], i;
	pid_t pid;
	char c;

	m->targets = calloc(1, sizeof(*m->targets));
	if (!m->targets || pipe2(pfd, O_CLOEXEC)) {
		perror(PROG);
		return -1;
	}
	fflush(m->out.f);
	pid = fork();
	if (pid < 0) {
		perror(PROG ": fork");
		return -1;
	}
	if (!pid) {
		for (i = 0; i < 3; i++)
			sigaction(stop_sigs[i], &m->oldact[i], NULL);
		sigprocmask(SIG_SETMASK, &m->oldmask, NULL);
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(127);
		close(pfd[0]);
		execvp(m->cmd[0], m->cmd);
		fprintf(stderr, PROG ": %s: %s\n", m->cmd[0], strerror(errno));
		_exit(127);
	}
	close(pfd[0]);
	m->child = pid;
	m->targets[0].pid = pid;
	m->targets[0].pidfd = -1;
	m->nr_targets = 1;
	if (add_target(m, &m->targets[0])) {
		/* The child reads EOF and exits without running CMD. */
		close(pfd[1]);
		waitpid(pid, NULL, 0);
		m->child = 0;
		return -1;
	}
	c = 'x';
	if (write(pfd[1], &c, 1) != 1)
		perror(PROG ": write");
	close(pfd[1]);
	return 0;
}

/*
 * All processes exited: make sure their last interval is in the ring.
 * REMOVE puts what a process did since the last sample into the next
 * sample; ENOENT means the driver already wrote its last record.  The
 * head is read after the REMOVE, so any later sample was taken after it.
 */
static void account_last(struct monitor *m)
{
	__u64 head = 0;
	bool wait = false;
	int i, ret, ms;

	for (i = 0; i < m->nr_targets; i++) {
		struct target *t = &m->targets[i];

		if (!t->added)
			continue;
		ret = mp3_session_remove(&m->ring, t->pid, t->pidfd);
		if (!ret) {
			head = mp3_ring_head(&m->ring);
			wait = true;
		} else if (ret != -ENOENT && ret != -ESRCH) {
			fprintf(stderr, PROG ": cannot remove pid %d: %s\n",
				t->pid, strerror(-ret));
		}
	}
	if (!wait)
		return;
	/* two periods, and time for a loaded machine to run the sampler */
	ms = (int)(2 * m->ring.hdr->period_ns / NSEC_PER_MSEC) + 2000;
	if (!wait_past(m, head, ms))
		fprintf(stderr,
			"%s: no sample within %d ms of the exit: the last interval is missing\n",
			PROG, ms);
}

static int cmd_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

/* ---------------------------------------------------------------- main */

/* Follow the ring until the processes exited, a signal or the deadline. */
static int follow(struct monitor *m)
{
	bool session = m->nr_targets > 0;

	for (;;) {
		drain(m);
		if (session && !m->nr_live) {
			account_last(m);
			drain(m);
			return 0;
		}
		if (m->stop || (m->deadline && now_ns() >= m->deadline))
			return 0;
		if (wait_events(m, m->deadline ? ms_until(m->deadline) : -1))
			return 1;
	}
}

static int open_ring(struct monitor *m)
{
	struct mp3_session_opts opts = {
		.tree = m->tree,
		.per_process = m->per_process,
		.period_ns = m->rate ? NSEC_PER_SEC / m->rate : 0,
	};

	if (m->cmd || m->nr_pids)
		return mp3_session_open(&m->ring, m->device, &opts);
	if (mp3_ring_open(&m->ring, m->device))
		return -1;
	if (m->per_process &&
	    !(mp3_ring_flags(&m->ring) & MP3PROF_HDR_PER_PROCESS)) {
		fprintf(stderr,
			"%s: %s: no per-process records in this ring (the default session has none)\n",
			PROG, m->device);
		return -1;
	}
	return 0;
}

static int setup_output(struct monitor *m)
{
	const struct mp3prof_header *h = m->ring.hdr;

	m->out.f = stdout;
	if (m->output) {
		m->out.f = fopen(m->output, "we");
		if (!m->out.f) {
			fprintf(stderr, PROG ": %s: %s\n", m->output,
				strerror(errno));
			return -1;
		}
	}
	m->out.per_process = m->per_process;
	m->out.lost_is_samples = !(mp3_ring_flags(&m->ring) & MP3PROF_HDR_PER_PROCESS);
	m->out.hz = h->hz;
	m->out.period_ns = h->period_ns ? h->period_ns : NSEC_PER_SEC / h->rate;
	return 0;
}

static int run(struct monitor *m)
{
	int ret = 0, status;

	if (!m->follow && !m->cmd && !m->nr_pids) {
		/* Everything still in the ring. */
		mp3_out_begin(&m->out);
		m->next = mp3_ring_head(&m->ring);
		m->next = m->next > m->ring.mask ? m->next - m->ring.mask - 1 : 0;
		drain(m);
		return 0;
	}
	if (setup_wait(m))
		return 1;
	if (m->cmd ? start_cmd(m) : m->nr_pids ? add_pids(m) : 0)
		return 1;
	/* A session's ring starts empty; the default one: new samples only. */
	mp3_out_begin(&m->out);
	m->next = m->nr_targets ? 0 : mp3_ring_head(&m->ring);
	m->synced = true;
	if (m->duration > 0)
		m->deadline = now_ns() + (__u64)(m->duration * NSEC_PER_SEC);

	ret = follow(m);
	if (m->child > 0) {
		if (waitpid(m->child, &status, 0) == m->child)
			ret = ret ? ret : cmd_status(status);
		else
			ret = 1;
	}
	return ret;
}

static int parse_pids(struct monitor *m, const char *arg)
{
	const char *p = arg;
	char *end;
	long v;

	for (;;) {
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || end == p || v <= 0 || v > INT_MAX ||
		    (*end && *end != ',')) {
			fprintf(stderr, PROG ": bad pid list '%s'\n", arg);
			return -1;
		}
		m->pids = realloc(m->pids, (m->nr_pids + 1) * sizeof(*m->pids));
		if (!m->pids) {
			perror(PROG);
			return -1;
		}
		m->pids[m->nr_pids++] = (pid_t)v;
		if (!*end)
			return 0;
		p = end + 1;
	}
}

enum {
	OPT_CSV = 256, OPT_JSON, OPT_CLASSIC, OPT_SYSCALLS, OPT_GLOBAL,
	OPT_NO_TREE, OPT_PER_PROCESS,
};

static const struct option options[] = {
	{ "pid",	 required_argument,	NULL, 'p' },
	{ "rate",	 required_argument,	NULL, 'r' },
	{ "no-tree",	 no_argument,		NULL, OPT_NO_TREE },
	{ "per-process", no_argument,		NULL, OPT_PER_PROCESS },
	{ "global",	 no_argument,		NULL, OPT_GLOBAL },
	{ "follow",	 no_argument,		NULL, 'f' },
	{ "duration",	 required_argument,	NULL, 'd' },
	{ "output",	 required_argument,	NULL, 'o' },
	{ "device",	 required_argument,	NULL, 'D' },
	{ "csv",	 no_argument,		NULL, OPT_CSV },
	{ "json",	 no_argument,		NULL, OPT_JSON },
	{ "classic",	 no_argument,		NULL, OPT_CLASSIC },
	{ "syscalls",	 no_argument,		NULL, OPT_SYSCALLS },
	{ "help",	 no_argument,		NULL, 'h' },
	{ NULL,		 0,			NULL, 0 },
};

static int parse_duration(struct monitor *m, const char *arg)
{
	char *end;

	errno = 0;
	m->duration = strtod(arg, &end);
	if (errno || end == arg || *end || !(m->duration > 0) ||
	    m->duration > 1e9) {
		fprintf(stderr, PROG ": bad duration '%s'\n", arg);
		return -1;
	}
	m->follow = true;
	return 0;
}

static int parse_rate(struct monitor *m, const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > MAX_RATE) {
		fprintf(stderr, PROG ": bad rate '%s' (1 to %d samples per second)\n",
			arg, MAX_RATE);
		return -1;
	}
	m->rate = (unsigned int)v;
	return 0;
}

/* Parse the command line; return -1 to go on, else the exit status. */
static int parse_args(struct monitor *m, int argc, char **argv)
{
	bool no_tree = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "+p:r:fd:o:D:h", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_pids(m, optarg))
				return 2;
			break;
		case 'r':
			if (parse_rate(m, optarg))
				return 2;
			break;
		case OPT_NO_TREE:
			no_tree = true;
			break;
		case OPT_PER_PROCESS:
			m->per_process = true;
			break;
		case OPT_GLOBAL:
			m->global = true;
			break;
		case 'f':
			m->follow = true;
			break;
		case 'd':
			if (parse_duration(m, optarg))
				return 2;
			break;
		case 'o':
			m->output = optarg;
			break;
		case 'D':
			m->device = optarg;
			break;
		case OPT_CSV:
			m->out.fmt = MP3_FMT_CSV;
			break;
		case OPT_JSON:
			m->out.fmt = MP3_FMT_JSON;
			break;
		case OPT_CLASSIC:
			m->out.fmt = MP3_FMT_CLASSIC;
			break;
		case OPT_SYSCALLS:
			m->syscalls = true;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		m->cmd = argv + optind;
	m->tree = !no_tree;

	if (m->cmd && m->nr_pids)
		return usage_error("give a command or -p, not both");
	if (m->global && (m->cmd || m->nr_pids))
		return usage_error("--global reads the default session: not with a command or -p");
	if (m->cmd && m->duration > 0)
		return usage_error("--duration cannot be used with a command");
	if (!m->cmd && !m->nr_pids && (no_tree || m->rate))
		return usage_error("--no-tree and --rate need a private session (CMD or -p)");
	if (m->per_process && m->out.fmt == MP3_FMT_CLASSIC)
		return usage_error("--classic has no per-process rows: not with --per-process");
	return -1;
}

int main(int argc, char **argv)
{
	struct monitor m = {
		.device = MP3PROF_DEV,
		.out = { .fmt = MP3_FMT_TABLE },
		.epfd = -1,
		.sigfd = -1,
	};
	int ret;

	ret = parse_args(&m, argc, argv);
	if (ret >= 0)
		return ret;
	if (open_ring(&m))
		return 1;
	if (setup_output(&m)) {
		mp3_ring_close(&m.ring);
		return 1;
	}

	ret = run(&m);

	mp3_out_end(&m.out);
	if (m.syscalls)
		fprintf(stderr,
			"%s: %llu syscalls (read/poll) for %llu samples (%.3f per sample), %llu lost\n",
			PROG, m.ring.syscalls, m.out.samples,
			m.out.samples ? (double)m.ring.syscalls / m.out.samples : 0.0,
			m.out.lost);
	if (m.output && fclose(m.out.f)) {
		perror(m.output);
		ret = ret ? ret : 1;
	}
	mp3_ring_close(&m.ring);
	return ret;
}
