// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof-monitor: print the samples of the mp3prof sample ring.
 *
 * Reads the samples straight from the read-only mapping of /dev/mp3prof;
 * in follow mode it sleeps in read() of the ring head, one system call per
 * wake-up.  Optionally runs a command, registered with mp3prof before it
 * execs, and follows the samples until it exits.
 *
 * Copyright (C) 2025 The mp3prof authors
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "ring.h"

#define NSEC_PER_SEC	1000000000ULL

/* Set by signal handlers: accessed with __atomic builtins only. */
static int stop_requested;
static int child_changed;
static pid_t child_pid;

static const char usage_text[] =
	"Usage: mp3prof-monitor [OPTION]... [[--] CMD [ARG]...]\n"
	"Print the samples of the mp3prof ring (" MP3PROF_DEV ").\n"
	"\n"
	"Without -f, print the samples now in the ring and exit.  With CMD, run it,\n"
	"register it (\"R <pid>\" to " MP3PROF_STATUS ") before it execs, print\n"
	"the samples taken until it exits and exit with its status.\n"
	"\n"
	"  -f, --follow          print new samples as they come, until SIGINT or\n"
	"                        SIGTERM (only samples taken from now on)\n"
	"  -d, --duration SECS   follow for SECS seconds (implies -f)\n"
	"      --csv             CSV: a header line, then one row per sample:\n"
	"                        seq,jiffies,time_ns,min_flt,maj_flt,cpu_ns,\n"
	"                        nr_procs,nr_exited,work_ns\n"
	"      --json            one JSON object per line per sample, same fields\n"
	"      --classic         the course monitor's format, one line per sample\n"
	"                        \"<jiffies> <minor faults> <major faults> <cpu time>\"\n"
	"                        with the CPU time in jiffies (user + system, at the\n"
	"                        kernel's HZ, remainders carried to the next sample),\n"
	"                        and \"read <N> profiled data\" after the last one\n"
	"  -o, --output FILE     write the samples to FILE instead of stdout\n"
	"      --syscalls        at exit, print on stderr the read()/poll() calls\n"
	"                        made while following and the samples read\n"
	"  -D, --device PATH     ring device (default " MP3PROF_DEV ")\n"
	"  -h, --help            show this help\n"
	"\n"
	"The default output is a table: seq, time since the first sample (s), minor\n"
	"and major faults, CPU time (ms) and CPU utilisation (% of one CPU) in the\n"
	"interval, and the number of processes sampled.  Samples overwritten before\n"
	"they could be read are reported on stderr as \"lost N samples\".\n"
	"Exit status: 0, 1 on errors, 2 on bad usage, CMD's status with CMD.\n";

static void print_usage(FILE *f)
{
	fputs(usage_text, f);
}

static void on_stop(int sig)
{
	int saved = errno;

	__atomic_store_n(&stop_requested, 1, __ATOMIC_RELAXED);
	/* Forward to the command, which decides when we stop. */
	if (child_pid > 0 && sig != SIGINT)
		kill(child_pid, sig);
	/* Kick a read() we might enter just after the flag was checked. */
	alarm(1);
	errno = saved;
}

static void on_chld(int sig)
{
	(void)sig;
	__atomic_store_n(&child_changed, 1, __ATOMIC_RELAXED);
	alarm(1);
}

static void on_alarm(int sig)
{
	(void)sig;
	/* Keep kicking until the main loop sees why it was woken. */
	alarm(1);
}

static void set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	/* No SA_RESTART: a signal must end a blocking read(). */
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Print records *next .. head - 1; count and report the lost ones. */
static void drain(struct mp3_ring *ring, struct mp3_out *out, __u64 *next)
{
	__u64 head = mp3_ring_head(ring), nr = ring->mask + 1, lost = 0;
	struct mp3prof_sample s;

	if (head - *next > nr) {
		lost = head - nr - *next;
		*next = head - nr;
	}
	for (; *next < head; (*next)++) {
		if (mp3_ring_get(ring, *next, &s))
			mp3_out_sample(out, &s);
		else
			lost++;
	}
	mp3_out_lost(out, lost);
	fflush(out->f);
}

static bool child_exited(pid_t pid)
{
	siginfo_t si = { .si_pid = 0 };

	/* Leave it a zombie: its pid must stay valid for "U <pid>". */
	if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

static pid_t start_cmd(char **argv)
{
	int pfd[2], ret;
	pid_t pid;
	char c;

	if (pipe2(pfd, O_CLOEXEC)) {
		perror("pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (!pid) {
		/* Wait until the parent registered us, then exec. */
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(127);
		close(pfd[0]);
		execvp(argv[0], argv);
		fprintf(stderr, "mp3prof-monitor: %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(pfd[0]);
	ret = mp3_control('R', pid);
	if (ret) {
		fprintf(stderr, "mp3prof-monitor: cannot register pid %d (%s): %s\n",
			pid, MP3PROF_STATUS, strerror(-ret));
		close(pfd[1]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	c = 'x';
	if (write(pfd[1], &c, 1) != 1)
		perror("write");
	close(pfd[1]);
	return pid;
}

/*
 * After the command exited: unregister it if the driver did not notice
 * yet, and wait for the sample that accounts its last interval.
 */
static void finish_cmd(struct mp3_ring *ring, pid_t pid)
{
	__u64 head;
	int ret, wait_ms;

	ret = mp3_control('U', pid);
	if (ret && ret != -ENOENT && ret != -ESRCH)
		fprintf(stderr, "mp3prof-monitor: cannot unregister pid %d: %s\n",
			pid, strerror(-ret));
	head = mp3_ring_head(ring);
	/*
	 * Our "U" put its last interval into the next sample.  Otherwise the
	 * driver removed it already, or it unregistered itself and the next
	 * sample, if sampling still runs, carries its last interval.
	 */
	wait_ms = ret ? (int)(2 * ring->hdr->period_ns / 1000000) + 100 : 2000;
	if (mp3_ring_wait_past(ring, head, wait_ms) < 0)
		perror("mp3prof-monitor: poll");
}

static int cmd_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

enum { OPT_CSV = 256, OPT_JSON, OPT_CLASSIC, OPT_SYSCALLS };

static const struct option options[] = {
	{ "follow",	no_argument,		NULL, 'f' },
	{ "duration",	required_argument,	NULL, 'd' },
	{ "output",	required_argument,	NULL, 'o' },
	{ "device",	required_argument,	NULL, 'D' },
	{ "csv",	no_argument,		NULL, OPT_CSV },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "classic",	no_argument,		NULL, OPT_CLASSIC },
	{ "syscalls",	no_argument,		NULL, OPT_SYSCALLS },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 },
};

int main(int argc, char **argv)
{
	const char *device = MP3PROF_DEV, *output = NULL;
	struct mp3_out out = { .fmt = MP3_FMT_TABLE };
	bool follow = false, syscalls = false;
	__u64 next, deadline = 0;
	double duration = 0;
	struct mp3_ring ring;
	int opt, status, ret = 0;
	char *end;

	while ((opt = getopt_long(argc, argv, "+fd:o:D:h", options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			follow = true;
			break;
		case 'd':
			errno = 0;
			duration = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(duration > 0) ||
			    duration > 1e9) {
				fprintf(stderr, "mp3prof-monitor: bad duration '%s'\n",
					optarg);
				return 2;
			}
			follow = true;
			break;
		case 'o':
			output = optarg;
			break;
		case 'D':
			device = optarg;
			break;
		case OPT_CSV:
			out.fmt = MP3_FMT_CSV;
			break;
		case OPT_JSON:
			out.fmt = MP3_FMT_JSON;
			break;
		case OPT_CLASSIC:
			out.fmt = MP3_FMT_CLASSIC;
			break;
		case OPT_SYSCALLS:
			syscalls = true;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	if (optind < argc && duration > 0) {
		fprintf(stderr, "mp3prof-monitor: --duration cannot be used with a command\n");
		return 2;
	}

	if (mp3_ring_open(&ring, device))
		return 1;
	out.f = stdout;
	if (output) {
		out.f = fopen(output, "we");
		if (!out.f) {
			fprintf(stderr, "mp3prof-monitor: %s: %s\n", output,
				strerror(errno));
			return 1;
		}
	}
	out.hz = ring.hdr->hz;
	out.period_ns = ring.hdr->period_ns;
	if (!out.period_ns)
		out.period_ns = NSEC_PER_SEC / ring.hdr->rate;

	mp3_out_begin(&out);
	next = mp3_ring_head(&ring);
	if (!follow && optind == argc) {
		/* Everything still in the ring. */
		next = next > ring.mask ? next - ring.mask - 1 : 0;
		drain(&ring, &out, &next);
		goto done;
	}

	set_handler(SIGALRM, on_alarm);
	set_handler(SIGINT, on_stop);
	set_handler(SIGTERM, on_stop);
	set_handler(SIGHUP, on_stop);
	if (optind < argc) {
		set_handler(SIGCHLD, on_chld);
		child_pid = start_cmd(argv + optind);
		if (child_pid < 0) {
			ret = 1;
			goto done;
		}
	} else if (duration > 0) {
		deadline = now_ns() + (__u64)(duration * NSEC_PER_SEC);
		alarm((unsigned int)duration + 1);
	}

	/* The first read() returns at once unless the head is still 0. */
	for (;;) {
		__u64 head;

		drain(&ring, &out, &next);
		if (child_pid > 0) {
			if (__atomic_exchange_n(&child_changed, 0,
						__ATOMIC_RELAXED)) {
				if (child_exited(child_pid))
					break;
			}
		} else if (__atomic_load_n(&stop_requested, __ATOMIC_RELAXED) ||
			   (deadline && now_ns() >= deadline)) {
			break;
		}
		if (mp3_ring_wait(&ring, &head) && errno != EINTR) {
			perror("mp3prof-monitor: read");
			ret = 1;
			break;
		}
	}
	if (child_pid > 0) {
		finish_cmd(&ring, child_pid);
		drain(&ring, &out, &next);
		if (waitpid(child_pid, &status, 0) == child_pid)
			ret = cmd_status(status);
		else
			ret = 1;
	}
	alarm(0);
done:
	mp3_out_end(&out);
	if (syscalls)
		fprintf(stderr,
			"mp3prof-monitor: %llu syscalls (read/poll) for %llu samples (%.3f per sample), %llu lost\n",
			ring.syscalls, out.samples,
			out.samples ? (double)ring.syscalls / out.samples : 0.0,
			out.lost);
	if (output && fclose(out.f)) {
		perror(output);
		ret = ret ? ret : 1;
	}
	mp3_ring_close(&ring);
	return ret;
}
