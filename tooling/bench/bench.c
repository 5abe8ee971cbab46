// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof benchmarks, run inside the QEMU guest by tooling/bench/guest.sh.
 *
 *   bench info                      guest configuration (I| lines)
 *   bench procs N                   P1 sampling cost vs /proc polling, and
 *                                   P4 register/unregister/list cost, with
 *                                   N idle processes
 *   bench rate SECS RATE...         P2 rate accuracy: one session per rate,
 *                                   all at once, on one idle process
 *   bench fault MB TRIPLES [PERF]   P3 fault cost: not watched, watched by
 *                                   mp3prof, watched by perf stat
 *   bench follow SAMPLES REPS       P5 syscalls/wakeups of a follow reader
 *   bench monitor PATH SECS REPS    P5 the same for mp3prof-monitor --syscalls
 *   bench sessions S N              P6 sampling cost of S sessions of N idle
 *                                   processes against 1 session of S*N, and
 *                                   of an idle session
 *   bench cpu SECS ROUNDS SAMPLES   P7 CPU time of a spinning thread per
 *                                   sample, and the cost of the exact read
 *   bench compare N REPS PERF PIDSTAT
 *                                   P8 cost per sample per process of
 *                                   mp3prof, perf stat -I, pidstat, cgroup
 *   bench accuracy SECS PERF RATE...
 *                                   P9 error of 50 ms deltas: mp3prof vs
 *                                   cgroup v2 (faults, CPU) and perf (CPU)
 *   bench exit REPS PAGES PERF PIDSTAT
 *                                   P10 what each tool reports of a
 *                                   process that exits
 *   bench p1old N REPS OLD.ko NEW.ko LABEL
 *                                   P1 kernel cost per process of this
 *                                   module and of an older one, in turn
 *   (PERF, PIDSTAT: paths of the tools, or - when they are not there)
 *
 * Results are printed one per line, for tooling/bench/run.sh to tabulate:
 *   R|bench|metric|unit|median|min|max|goal|met
 *   I|key|value
 * Everything else (progress, raw figures) goes to stderr.  Absolute times in
 * a TCG guest mean little: the figures that matter are ratios and per-item
 * costs measured side by side in the same run.
 *
 * Build: gcc -O2 -static -I<tree>/include/uapi -o bench bench.c -lm -lpthread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>
#include <linux/mp3prof.h>

#define DEV	"/dev/mp3prof"
#define STATUS	"/proc/mp3prof/status"
#define NSEC	1000000000ULL

/* ------------------------------------------------------------------ util */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { ns / NSEC, ns % NSEC };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	double med, min, max, mean;
	int n;
};

static struct stats stats_of(const double *v, int n)
{
	struct stats s = { NAN, NAN, NAN, NAN, n };
	double *t, sum = 0;
	int i;

	if (n <= 0)
		return s;
	t = malloc(n * sizeof(*t));
	if (!t)
		die("out of memory");
	memcpy(t, v, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_dbl);
	for (i = 0; i < n; i++)
		sum += t[i];
	s.min = t[0];
	s.max = t[n - 1];
	s.med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	s.mean = sum / n;
	free(t);
	return s;
}

/* One table row.  goal/met may be "-". */
static void result(const char *bench, const char *metric, const char *unit,
		   double med, double min, double max, const char *goal,
		   const char *met)
{
	printf("R|%s|%s|%s|%.6g|%.6g|%.6g|%s|%s\n", bench, metric, unit,
	       med, min, max, goal, met);
	fflush(stdout);
}

static void result_s(const char *bench, const char *metric, const char *unit,
		     struct stats s, const char *goal, const char *met)
{
	result(bench, metric, unit, s.med, s.min, s.max, goal, met);
}

static void info(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("I|%s|", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

static void write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%ld\n", v) < 0 || fclose(f))
		note("cannot write %ld to %s: %s", v, path, strerror(errno));
}

/* ------------------------------------------------------------- the ring */

struct ring {
	int fd;
	volatile struct mp3prof_header *hdr;
	const char *base;
	uint64_t mask;
	uint64_t reads;		/* read() calls on fd */
};

static void ring_open(struct ring *r)
{
	struct mp3prof_header *h;
	size_t len, page = getpagesize();

	memset(r, 0, sizeof(*r));
	r->fd = open(DEV, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		die("%s: %s", DEV, strerror(errno));
	h = mmap(NULL, page, PROT_READ, MAP_SHARED, r->fd, 0);
	if (h == MAP_FAILED)
		die("mmap %s: %s", DEV, strerror(errno));
	if (h->magic != MP3PROF_MAGIC || h->version != MP3PROF_ABI_VERSION ||
	    h->record_size != sizeof(struct mp3prof_sample))
		die("%s: unknown ABI", DEV);
	len = h->header_size + (size_t)h->nr_records * h->record_size;
	munmap(h, page);
	r->base = mmap(NULL, len, PROT_READ, MAP_SHARED, r->fd, 0);
	if (r->base == MAP_FAILED)
		die("mmap %s: %s", DEV, strerror(errno));
	r->hdr = (volatile struct mp3prof_header *)r->base;
	r->mask = r->hdr->nr_records - 1;
}

static void ring_close(struct ring *r)
{
	munmap((void *)r->base, r->hdr->header_size +
	       (size_t)r->hdr->nr_records * r->hdr->record_size);
	close(r->fd);
}

static uint64_t ring_head(const struct ring *r)
{
	return __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE);
}

static bool ring_get(const struct ring *r, uint64_t seq,
		     struct mp3prof_sample *out)
{
	const struct mp3prof_sample *rec = (const void *)(r->base +
		r->hdr->header_size + (seq & r->mask) * r->hdr->record_size);

	if (__atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE) != seq)
		return false;
	memcpy(out, rec, sizeof(*out));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&rec->seq, __ATOMIC_RELAXED) == seq;
}

/* Block in read() until the head moves; return the new head. */
static uint64_t ring_wait(struct ring *r)
{
	uint64_t head;
	ssize_t n;

	do {
		r->reads++;
		n = read(r->fd, &head, sizeof(head));
	} while (n < 0 && errno == EINTR);
	if (n != sizeof(head))
		die("read %s: %s", DEV, n < 0 ? strerror(errno) : "short read");
	return head;
}

/* Wait until at least @target records were ever written. */
static uint64_t ring_wait_for(struct ring *r, uint64_t target)
{
	uint64_t head = ring_head(r);

	while (head < target)
		head = ring_wait(r);
	return head;
}

/* ------------------------------------------------------- the control file */

static int ctl_fd = -1;

static int ctl(char cmd, int pid)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%c %d\n", cmd, pid);

	if (ctl_fd < 0) {
		ctl_fd = open(STATUS, O_RDWR | O_CLOEXEC);
		if (ctl_fd < 0)
			die("%s: %s", STATUS, strerror(errno));
	}
	if (write(ctl_fd, buf, len) != len)
		return -errno;
	return 0;
}

static void ctl_must(char cmd, int pid)
{
	int ret = ctl(cmd, pid);

	if (ret)
		die("\"%c %d\" > %s: %s", cmd, pid, STATUS, strerror(-ret));
}

/* ---------------------------------------------------- idle child processes */

/*
 * Idle processes are clone(CLONE_VM) children sharing our address space, on
 * tiny stacks: 10000 of them cost a kernel stack and a task_struct each,
 * no page tables.  They are separate thread groups, so each one is a process
 * to register.  The child only makes raw pause() system calls: it must not
 * touch libc state it shares with us.
 */
#define CHILD_STACK	2048

static int idle_child(void *arg)
{
	(void)arg;
	for (;;) {
		long ret;

		__asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_pause)
				 : "rcx", "r11", "memory");
	}
	return 0;
}

struct children {
	pid_t *pids;
	int n;
	char *stacks;
	size_t stacks_len;
};

static void raise_limits(long n)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	if (setrlimit(RLIMIT_NPROC, &rl))
		note("setrlimit NPROC: %s", strerror(errno));
	rl.rlim_cur = rl.rlim_max = n + 1024;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		note("setrlimit NOFILE %ld: %s", n + 1024, strerror(errno));
	if (read_long("/proc/sys/kernel/threads-max") < n + 4096)
		write_long("/proc/sys/kernel/threads-max", n + 4096);
	if (read_long("/proc/sys/kernel/pid_max") < 4 * n + 32768)
		write_long("/proc/sys/kernel/pid_max", 4 * n + 32768);
}

static void children_spawn(struct children *c, int n)
{
	int i;

	c->n = 0;
	c->pids = calloc(n, sizeof(*c->pids));
	c->stacks_len = (size_t)n * CHILD_STACK;
	c->stacks = mmap(NULL, c->stacks_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!c->pids || c->stacks == MAP_FAILED)
		die("out of memory for %d children", n);
	for (i = 0; i < n; i++) {
		char *top = c->stacks + (size_t)(i + 1) * CHILD_STACK - 64;
		pid_t pid = clone(idle_child, top, CLONE_VM | SIGCHLD, NULL);

		if (pid < 0)
			die("clone child %d of %d: %s", i, n, strerror(errno));
		c->pids[c->n++] = pid;
	}
}

static void children_kill(struct children *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		kill(c->pids[i], SIGKILL);
	for (i = 0; i < c->n; i++)
		while (waitpid(c->pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	munmap(c->stacks, c->stacks_len);
	free(c->pids);
	c->n = 0;
}

/* One idle forked child, for benchmarks that need something registered. */
static pid_t idle_fork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		for (;;)
			pause();
	}
	return pid;
}

static void idle_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* ------------------------------------------------------------------ info */

static int cmd_info(void)
{
	struct utsname u;
	char buf[4096];
	struct ring r;

	uname(&u);
	info("kernel", "%s %s", u.release, u.version);
	info("cpus", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	info("mem_mib", "%ld", (long)(sysconf(_SC_PHYS_PAGES) *
				     (sysconf(_SC_PAGESIZE) / 1024) / 1024));
	if (!read_file("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		       buf, sizeof(buf)))
		info("clocksource", "%s", buf);
	ring_open(&r);
	info("hz", "%u", r.hdr->hz);
	info("rate", "%u", r.hdr->rate);
	info("nr_records", "%u", r.hdr->nr_records);
	ring_close(&r);
	if (!read_file("/proc/cpuinfo", buf, sizeof(buf))) {
		char *m = strstr(buf, "model name");

		if (m) {
			char *e = strchr(m, '\n');

			if (e)
				*e = '\0';
			m = strchr(m, ':');
			info("cpu", "%s", m ? m + 2 : "?");
		}
	}
	return 0;
}

/* ----------------------------------------------------- P1 + P4: N procs */

/* pidstat-style parse of /proc/PID/stat: minflt, majflt, utime, stime. */
struct pstat {
	unsigned long long minflt, majflt, utime, stime;
};

static int parse_stat(const char *buf, struct pstat *ps)
{
	const char *p = strrchr(buf, ')');

	if (!p)
		return -1;
	/* Fields after the comm: 3 state ... 10 minflt 12 majflt 14 utime 15 stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %llu %*u %llu %llu",
		   &ps->minflt, &ps->majflt, &ps->utime, &ps->stime) != 4)
		return -1;
	return 0;
}

/* One polling round, pidstat's way: open, read, close, parse. */
static uint64_t poll_open_read(const pid_t *pids, int n, struct pstat *sum)
{
	uint64_t t0 = now_ns();
	char path[64], buf[1024];
	int i;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < n; i++) {
		struct pstat ps;
		ssize_t len;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/stat", pids[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (!parse_stat(buf, &ps)) {
			sum->minflt += ps.minflt;
			sum->majflt += ps.majflt;
			sum->utime += ps.utime;
			sum->stime += ps.stime;
		}
	}
	return now_ns() - t0;
}

/* One polling round with the files kept open: pread at offset 0, parse. */
static uint64_t poll_pread(const int *fds, int n, struct pstat *sum)
{
	uint64_t t0 = now_ns();
	char buf[1024];
	int i;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < n; i++) {
		struct pstat ps;
		ssize_t len = pread(fds[i], buf, sizeof(buf) - 1, 0);

		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (!parse_stat(buf, &ps)) {
			sum->minflt += ps.minflt;
			sum->majflt += ps.majflt;
			sum->utime += ps.utime;
			sum->stime += ps.stime;
		}
	}
	return now_ns() - t0;
}

static uint64_t register_all(const struct children *c)
{
	uint64_t t0 = now_ns();
	int i;

	for (i = 0; i < c->n; i++)
		ctl_must('R', c->pids[i]);
	return now_ns() - t0;
}

static uint64_t unregister_all(const struct children *c)
{
	uint64_t t0 = now_ns();
	int i;

	for (i = 0; i < c->n; i++)
		ctl_must('U', c->pids[i]);
	return now_ns() - t0;
}

/* Read the whole listing; returns the time, *lines gets the line count. */
static uint64_t read_listing(char *buf, size_t len, long *lines)
{
	uint64_t t0 = now_ns(), t;
	ssize_t n;
	long nl = 0;
	int fd;

	fd = open(STATUS, O_RDONLY);
	if (fd < 0)
		die("%s: %s", STATUS, strerror(errno));
	while ((n = read(fd, buf, len)) > 0) {
		char *p = buf, *e = buf + n;

		while ((p = memchr(p, '\n', e - p))) {
			nl++;
			p++;
		}
	}
	if (n < 0)
		die("read %s: %s", STATUS, strerror(errno));
	close(fd);
	t = now_ns() - t0;
	*lines = nl;
	return t;
}

#define P4_REPS		5
#define P1_SKIP		2	/* samples skipped after registration */
#define P1_BLOCKS	5	/* kernel cost: 5 blocks ... */
#define P1_BLOCK_LEN	10	/* ... of 10 samples: 50 samples */

static int cmd_procs(int n)
{
	double reg[P4_REPS], unreg[P4_REPS], list[P4_REPS];
	double kblock[P1_BLOCKS], *ksample, *uo, *up;
	int rounds = n >= 1000 ? 7 : 15, i, k;
	uint64_t head0, w0, w1, h1;
	struct children c;
	char bench[16], metric[96], *lbuf;
	size_t lbuf_len = 1 << 20;
	struct stats ks, kbs, uos, ups;
	struct ring r;
	int *fds;

	snprintf(bench, sizeof(bench), "P1");
	raise_limits(n);
	lbuf = malloc(lbuf_len);
	ksample = calloc(P1_BLOCKS * P1_BLOCK_LEN, sizeof(double));
	uo = calloc(rounds, sizeof(double));
	up = calloc(rounds, sizeof(double));
	fds = calloc(n, sizeof(int));
	if (!lbuf || !ksample || !uo || !up || !fds)
		die("out of memory");

	ring_open(&r);
	note("N=%d: spawning idle processes", n);
	{
		uint64_t t0 = now_ns();

		children_spawn(&c, n);
		note("N=%d: spawned in %.3f s", n, (now_ns() - t0) / 1e9);
	}

	/* P4: register, list, unregister, P4_REPS times. */
	for (k = 0; k < P4_REPS; k++) {
		long lines;

		reg[k] = (double)register_all(&c) / n;
		list[k] = (double)read_listing(lbuf, lbuf_len, &lines) / n;
		if (lines != n)
			note("N=%d: listing has %ld lines, expected %d", n, lines, n);
		unreg[k] = (double)unregister_all(&c) / n;
		note("N=%d rep %d: register %.0f ns/proc, list %.0f ns/entry, unregister %.0f ns/proc",
		     n, k, reg[k], list[k], unreg[k]);
	}

	/* P1 kernel: register all, take the records of full samples. */
	register_all(&c);
	head0 = ring_head(&r);
	w0 = r.hdr->work_ns;
	h1 = ring_wait_for(&r, head0 + P1_SKIP + P1_BLOCKS * P1_BLOCK_LEN);
	w1 = r.hdr->work_ns;
	for (i = 0; i < P1_BLOCKS * P1_BLOCK_LEN; i++) {
		struct mp3prof_sample s;
		uint64_t seq = head0 + P1_SKIP + i;

		if (!ring_get(&r, seq, &s))
			die("sample %" PRIu64 " lost", seq);
		if (s.nr_procs != (unsigned int)n)
			note("sample %" PRIu64 ": nr_procs %u, expected %d", seq,
			     s.nr_procs, n);
		ksample[i] = (double)s.work_ns;
	}
	for (k = 0; k < P1_BLOCKS; k++)
		kblock[k] = stats_of(ksample + k * P1_BLOCK_LEN, P1_BLOCK_LEN).mean;
	ks = stats_of(ksample, P1_BLOCKS * P1_BLOCK_LEN);
	kbs = stats_of(kblock, P1_BLOCKS);
	note("N=%d: kernel work_ns over %d samples: mean %.0f median %.0f min %.0f max %.0f; header work_ns delta/sample %.0f",
	     n, ks.n, ks.mean, ks.med, ks.min, ks.max,
	     (double)(w1 - w0) / (h1 - head0));
	unregister_all(&c);

	/* P1 user space: poll the same pids, 20 Hz, both methods interleaved. */
	for (i = 0; i < n; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/stat", c.pids[i]);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			die("%s: %s", path, strerror(errno));
	}
	{
		struct pstat s1, s2;
		uint64_t next = now_ns();

		poll_open_read(c.pids, n, &s1);		/* warm-up */
		poll_pread(fds, n, &s2);
		for (k = 0; k < rounds; k++) {
			next += NSEC / 20;
			uo[k] = (double)poll_open_read(c.pids, n, &s1);
			up[k] = (double)poll_pread(fds, n, &s2);
			if (now_ns() < next)
				sleep_ns(next - now_ns());
			else
				next = now_ns();
		}
	}
	for (i = 0; i < n; i++)
		close(fds[i]);
	uos = stats_of(uo, rounds);
	ups = stats_of(up, rounds);
	note("N=%d: user open/read/close round median %.0f ns, pread round median %.0f ns (%d rounds)",
	     n, uos.med, ups.med, rounds);
	children_kill(&c);
	ring_close(&r);

	/* Per process per round. */
	snprintf(metric, sizeof(metric), "N=%d kernel sample (mean of %d-sample blocks)", n, P1_BLOCK_LEN);
	result(bench, metric, "ns/proc/round", kbs.med / n, kbs.min / n, kbs.max / n, "-", "-");
	snprintf(metric, sizeof(metric), "N=%d user open+read+close", n);
	result(bench, metric, "ns/proc/round", uos.med / n, uos.min / n, uos.max / n, "-", "-");
	snprintf(metric, sizeof(metric), "N=%d user pread (fds kept open)", n);
	result(bench, metric, "ns/proc/round", ups.med / n, ups.min / n, ups.max / n, "-", "-");
	snprintf(metric, sizeof(metric), "N=%d ratio open+read+close / kernel", n);
	result(bench, metric, "x", uos.med / kbs.med, uos.min / kbs.max,
	       uos.max / kbs.min, n == 1000 ? ">= 50" : "-",
	       n == 1000 ? (uos.med / kbs.med >= 50 ? "yes" : "no") : "-");
	snprintf(metric, sizeof(metric), "N=%d ratio pread / kernel", n);
	result(bench, metric, "x", ups.med / kbs.med, ups.min / kbs.max,
	       ups.max / kbs.min, "-", "-");
	snprintf(metric, sizeof(metric), "N=%d kernel work_ns per sample (%d samples)", n, ks.n);
	result(bench, metric, "us/round", ks.med / 1e3, ks.min / 1e3, ks.max / 1e3, "-", "-");
	if (n == 1000) {
		/*
		 * Against the committed 2026-11-22 run (jiffies grid, CPU time
		 * as of the last tick): 1086 ns per process per round, and
		 * 76790 ns for the open+read+close poller in that same run.
		 * The old kernel cannot run beside this one, so the first row
		 * compares absolute figures of two runs; the second divides out
		 * the guest's speed with each run's own /proc poller.
		 */
		double now = kbs.med / n, then = 1086, r = now / then;
		double rn = (kbs.med / uos.med) / (1086.0 / 76790);

		result(bench, "N=1000 kernel cost / the 2026-11-22 run's 1086 ns (absolute, two runs)",
		       "x", r, kbs.min / n / then, kbs.max / n / then, "<= 1.2", r <= 1.2 ? "yes" : "no");
		result(bench, "N=1000 (kernel / open+read+close poller) / the same ratio on 2026-11-22 (1086 / 76790)",
		       "x", rn, (kbs.min / uos.max) / (1086.0 / 76790),
		       (kbs.max / uos.min) / (1086.0 / 76790), "-", "-");
	}

	snprintf(bench, sizeof(bench), "P4");
	snprintf(metric, sizeof(metric), "N=%d register (one write each)", n);
	result_s(bench, metric, "ns/proc", stats_of(reg, P4_REPS), "-", "-");
	snprintf(metric, sizeof(metric), "N=%d unregister (one write each)", n);
	result_s(bench, metric, "ns/proc", stats_of(unreg, P4_REPS), "-", "-");
	snprintf(metric, sizeof(metric), "N=%d read status listing", n);
	result_s(bench, metric, "ns/entry", stats_of(list, P4_REPS), "-", "-");
	return 0;
}

/* ------------------------------------------------------------- sessions */

/*
 * A session of its own on a new file, mapped like ring_open() maps.
 * period_ns, ring_pages and max_procs 0 select the driver's defaults.
 */
static void session_open_cfg(struct ring *r, uint64_t flags, uint64_t period_ns,
			     uint32_t ring_pages, uint32_t max_procs)
{
	struct mp3prof_session_config cfg = {
		.flags = flags, .period_ns = period_ns,
		.ring_pages = ring_pages, .max_procs = max_procs,
	};
	struct mp3prof_header *h;
	size_t len, page = getpagesize();

	memset(r, 0, sizeof(*r));
	r->fd = open(DEV, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		die("%s: %s", DEV, strerror(errno));
	if (ioctl(r->fd, MP3PROF_IOC_SESSION, &cfg))
		die("MP3PROF_IOC_SESSION (period %" PRIu64 " ns, %u pages, %u procs): %s",
		    period_ns, ring_pages, max_procs, strerror(errno));
	h = mmap(NULL, page, PROT_READ, MAP_SHARED, r->fd, 0);
	if (h == MAP_FAILED)
		die("mmap session: %s", strerror(errno));
	len = h->header_size + (size_t)h->nr_records * h->record_size;
	munmap(h, page);
	r->base = mmap(NULL, len, PROT_READ, MAP_SHARED, r->fd, 0);
	if (r->base == MAP_FAILED)
		die("mmap session: %s", strerror(errno));
	r->hdr = (volatile struct mp3prof_header *)r->base;
	r->mask = r->hdr->nr_records - 1;
}

static void session_open(struct ring *r)
{
	session_open_cfg(r, 0, 0, 0, 0);
}

static void session_add(struct ring *r, pid_t pid)
{
	struct mp3prof_target t = { .flags = MP3PROF_TARGET_PID, .pid = pid };

	if (ioctl(r->fd, MP3PROF_IOC_ADD, &t))
		die("MP3PROF_IOC_ADD %d: %s", pid, strerror(errno));
}

/* Any record type: the first 64 bytes of slot @seq, if still valid. */
static bool ring_get_rec(const struct ring *r, uint64_t seq, void *out)
{
	const uint64_t *rec = (const void *)(r->base + r->hdr->header_size +
		(seq & r->mask) * r->hdr->record_size);

	if (__atomic_load_n(rec, __ATOMIC_ACQUIRE) != seq)
		return false;
	memcpy(out, rec, 64);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(rec, __ATOMIC_RELAXED) == seq;
}

/* ---------------------------------------------------------- more util */

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * NSEC + ts->tv_nsec;
}

/* CPU time of this thread, ns. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts_ns(&ts);
}

/*
 * CPU time of another process (all its threads), ns: its process CPU
 * clock, exact to now like /proc/PID/schedstat, where /proc/PID/stat has
 * only clock ticks (10 ms).
 */
static uint64_t proc_cpu_ns(pid_t pid)
{
	struct timespec ts;
	clockid_t clk;

	if (clock_getcpuclockid(pid, &clk) || clock_gettime(clk, &ts))
		return 0;
	return ts_ns(&ts);
}

/* utime + stime of a process from /proc/PID/stat, in clock ticks. */
static long long proc_stat_ticks(pid_t pid)
{
	char path[64], buf[1024];
	struct pstat ps;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) || parse_stat(buf, &ps))
		return -1;
	return (long long)(ps.utime + ps.stime);
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		note("sched_setaffinity(%d): %s", cpu, strerror(errno));
}

static int nr_cpus(void)
{
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* p in [0, 1] of n sorted values: the smallest value >= a fraction p. */
static double pct_sorted(const double *v, int n, double p)
{
	int i = (int)ceil(p * n) - 1;

	if (n <= 0)
		return NAN;
	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static double pct(const double *v, int n, double p)
{
	double *t = malloc((n ? n : 1) * sizeof(*t)), x;

	if (!t)
		die("out of memory");
	memcpy(t, v, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_dbl);
	x = pct_sorted(t, n, p);
	free(t);
	return x;
}

/* Student's t quantile t(0.975, df), Cornish-Fisher (exact to 1e-3 for df >= 3). */
static double t975(int df)
{
	static const double small[] = { 0, 12.706, 4.303, 3.182, 4 };
	double z = 1.959964, d = df;

	if (df < 1)
		return NAN;
	if (df <= 3)
		return small[df];
	return z + (z * z * z + z) / (4 * d) +
	       (5 * pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * d * d) +
	       (3 * pow(z, 7) + 19 * pow(z, 5) + 17 * z * z * z - 15 * z) / (384 * d * d * d);
}

struct ci {
	double mean, lo, hi;		/* paired t */
	double blo, bhi;		/* bootstrap percentile, of the mean */
};

/* 95 % confidence intervals of the mean of @d (paired differences). */
static struct ci ci95(const double *d, int n)
{
	struct ci c = { NAN, NAN, NAN, NAN, NAN };
	double sum = 0, ss = 0, *bm;
	unsigned int seed = 12345;
	int i, b, B = 4000;

	if (n < 2)
		return c;
	for (i = 0; i < n; i++)
		sum += d[i];
	c.mean = sum / n;
	for (i = 0; i < n; i++)
		ss += (d[i] - c.mean) * (d[i] - c.mean);
	c.lo = c.mean - t975(n - 1) * sqrt(ss / (n - 1) / n);
	c.hi = c.mean + t975(n - 1) * sqrt(ss / (n - 1) / n);
	bm = malloc(B * sizeof(*bm));
	if (!bm)
		die("out of memory");
	for (b = 0; b < B; b++) {
		double s = 0;

		for (i = 0; i < n; i++)
			s += d[rand_r(&seed) % n];
		bm[b] = s / n;
	}
	qsort(bm, B, sizeof(*bm), cmp_dbl);
	c.blo = bm[(int)(0.025 * B)];
	c.bhi = bm[(int)(0.975 * B) - 1];
	free(bm);
	return c;
}

/* "a,b,c" of the pids, for perf -p and pidstat -p. */
static char *pid_list(const pid_t *pids, int n)
{
	char *s = malloc((size_t)n * 12 + 1), *p;
	int i;

	if (!s)
		die("out of memory");
	p = s;
	*p = '\0';
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s%d", i ? "," : "", pids[i]);
	return s;
}

/* ------------------------------------------- other tools: perf, pidstat */

/* A tool running with its stdout and stderr into a pipe we read. */
struct tool {
	pid_t pid;
	int fd;
	char buf[1 << 16];
	size_t len;
	bool eof;
};

static void tool_start(struct tool *t, char *const argv[])
{
	int pfd[2];

	memset(t, 0, sizeof(*t));
	if (pipe2(pfd, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	t->pid = fork();
	if (t->pid < 0)
		die("fork: %s", strerror(errno));
	if (!t->pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	t->fd = pfd[0];
}

/*
 * Next line of the tool's output into @line, waiting at most @timeout_ms.
 * Returns 1 for a line, 0 on timeout, -1 at end of output.
 */
static int tool_line(struct tool *t, char *line, size_t size, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;

	for (;;) {
		char *nl = memchr(t->buf, '\n', t->len);
		struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
		ssize_t n;
		int64_t left;

		if (nl) {
			size_t l = nl - t->buf;

			if (l >= size)
				l = size - 1;
			memcpy(line, t->buf, l);
			line[l] = '\0';
			t->len -= nl + 1 - t->buf;
			memmove(t->buf, nl + 1, t->len);
			return 1;
		}
		if (t->len == sizeof(t->buf))	/* a line too long: drop it */
			t->len = 0;
		if (t->eof)
			return -1;
		left = (int64_t)(deadline - now_ns());
		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, (int)(left / 1000000) + 1) <= 0)
			continue;
		n = read(t->fd, t->buf + t->len, sizeof(t->buf) - t->len);
		if (n <= 0)
			t->eof = true;
		else
			t->len += n;
	}
}

/* Stop the tool (signal @sig), drain its output, reap it. */
static int tool_stop(struct tool *t, int sig, bool echo)
{
	char line[4096];
	int st = 0;

	if (t->pid <= 0)
		return -1;
	kill(t->pid, sig);
	while (tool_line(t, line, sizeof(line), 5000) > 0)
		if (echo)
			note("  | %s", line);
	close(t->fd);
	waitpid(t->pid, &st, 0);
	t->pid = 0;
	return st;
}

/*
 * An interval line of perf stat -I -x, for @event: "ts,value,unit,event,...".
 * Returns true with *ts (s) and *val (NAN if "<not counted>").
 */
static bool perf_line(const char *line, const char *event, double *ts, double *val)
{
	char ev[64];
	const char *p = line, *q;
	int field;

	while (*p == ' ')
		p++;
	if (!(*p >= '0' && *p <= '9'))
		return false;
	*ts = strtod(p, NULL);
	p = strchr(p, ',');
	if (!p)
		return false;
	p++;
	*val = (*p >= '0' && *p <= '9') ? strtod(p, NULL) : NAN;
	/* Field 4 is the event name. */
	for (field = 2, q = p; field < 4 && q; field++) {
		q = strchr(q, ',');
		if (q)
			q++;
	}
	if (!q)
		return false;
	snprintf(ev, sizeof(ev), "%.*s", (int)strcspn(q, ","), q);
	return !strcmp(ev, event);
}

/* ------------------------------------------------------------- cgroups */

#define CGROOT	"/sys/fs/cgroup"

static bool cg_available(void)
{
	char buf[256];

	return !read_file(CGROOT "/cgroup.controllers", buf, sizeof(buf)) &&
	       strstr(buf, "memory");
}

static void cg_make(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), CGROOT "/%s", name);
	if (mkdir(path, 0755) && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
}

static void cg_move(const char *name, pid_t pid)
{
	char path[256];

	snprintf(path, sizeof(path), CGROOT "/%s/cgroup.procs", name);
	write_long(path, pid);
}

/* Move every process of cgroup @name back to the root and remove it. */
static void cg_remove(const char *name)
{
	char path[256], buf[1 << 16], *p;

	snprintf(path, sizeof(path), CGROOT "/%s/cgroup.procs", name);
	for (int tries = 0; tries < 5; tries++) {
		if (read_file(path, buf, sizeof(buf)) || !buf[0])
			break;
		for (p = strtok(buf, "\n"); p; p = strtok(NULL, "\n"))
			write_long(CGROOT "/cgroup.procs", atol(p));
	}
	snprintf(path, sizeof(path), CGROOT "/%s", name);
	for (int tries = 0; tries < 50 && rmdir(path) && errno == EBUSY; tries++)
		sleep_ns(NSEC / 50);
}

/* Value of "key N" in a flat-keyed cgroup file's text. */
static long long cg_key(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return atoll(p + kl + 1);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* open + read + close, like cat: the text of a cgroup file. */
static int cg_read(const char *name, const char *file, char *buf, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), CGROOT "/%s/%s", name, file);
	return read_file(path, buf, len);
}


/* ---------------------------------------------------------- P2: the rate */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define P2_WINDOWS	5

struct rate_run {
	unsigned int rate;
	struct ring r;
	uint64_t *t, t_add, next, lost;
	size_t n, cap;
};

/* Collect the records of @rr written so far with time_ns <= @until. */
static void rate_collect(struct rate_run *rr, uint64_t until)
{
	uint64_t head = ring_head(&rr->r);

	if (head - rr->next > rr->r.mask + 1) {
		rr->lost += head - rr->next - (rr->r.mask + 1);
		rr->next = head - (rr->r.mask + 1);
	}
	for (; rr->next < head && rr->n < rr->cap; rr->next++) {
		struct mp3prof_sample s;

		if (!ring_get(&rr->r, rr->next, &s)) {
			rr->lost++;
			continue;
		}
		if (s.time_ns > until)
			break;
		rr->t[rr->n++] = s.time_ns;
	}
}

static void rate_report(struct rate_run *rr, double secs, uint64_t deadline)
{
	unsigned int rate = rr->rate;
	double period = (double)NSEC / rate, span, err, slope_err, drift_end;
	double dmin = 0, dmax = 0, win[P2_WINDOWS], *ivd, expected;
	uint64_t *t = rr->t, *iv;
	size_t n = rr->n, i, w;
	long skipped;
	char metric[160], goal[64];
	size_t windows = P2_WINDOWS;
	struct stats ws;

	if (n < 3) {
		note("rate %u: only %zu samples", rate, n);
		snprintf(metric, sizeof(metric), "%u Hz: samples", rate);
		result("P2", metric, "samples", n, n, n, ">= 3", "no");
		return;
	}
	if (n - 1 < 2 * P2_WINDOWS)
		windows = 1;
	iv = calloc(n, sizeof(*iv));
	ivd = calloc(n, sizeof(*ivd));
	if (!iv || !ivd)
		die("out of memory");
	/* Sample k of the session is due at start + k * period, k >= 1. */
	expected = floor((double)(deadline - rr->t_add) / period);
	span = (double)(t[n - 1] - t[0]);
	err = ((n - 1) * (double)NSEC / span - rate) / rate * 100;
	drift_end = span - (n - 1) * period;
	skipped = lround(span / period) - (long)(n - 1);
	{
		/* Least-squares slope of t_k over k: the period really kept. */
		double mk = (n - 1) / 2.0, mt = 0, sxy = 0, sxx = 0;

		for (i = 0; i < n; i++)
			mt += (double)(t[i] - t[0]) / n;
		for (i = 0; i < n; i++) {
			sxy += (i - mk) * ((double)(t[i] - t[0]) - mt);
			sxx += (i - mk) * (i - mk);
		}
		slope_err = (period / (sxy / sxx) - 1) * 100;
	}
	for (i = 0; i < n; i++) {
		double d = (double)(t[i] - t[0]) - i * period;

		dmin = d < dmin ? d : dmin;
		dmax = d > dmax ? d : dmax;
		if (i) {
			iv[i - 1] = t[i] - t[i - 1];
			ivd[i - 1] = (double)iv[i - 1] / 1e6;
		}
	}
	for (w = 0; w < windows; w++) {
		size_t a = w * (n - 1) / windows, b = (w + 1) * (n - 1) / windows;

		win[w] = ((double)(b - a) * NSEC / (t[b] - t[a]) - rate) / rate * 100;
	}
	ws = stats_of(win, windows);
	qsort(iv, n - 1, sizeof(*iv), cmp_u64);
	qsort(ivd, n - 1, sizeof(*ivd), cmp_dbl);
	note("rate %u: %zu samples in %.1f s (expected %.0f), %" PRIu64
	     " lost, %ld slots skipped; interval p50 %.3f p99 %.3f min %.3f max %.3f ms;"
	     " rate error %+.5f%% (slope %+.5f%%); drift at end %+.3f ms, range %+.3f..%+.3f ms",
	     rate, n, secs, expected, rr->lost, skipped, pct_sorted(ivd, n - 1, 0.5),
	     pct_sorted(ivd, n - 1, 0.99), ivd[0], ivd[n - 2], err, slope_err,
	     drift_end / 1e6, dmin / 1e6, dmax / 1e6);

	snprintf(metric, sizeof(metric), "%u Hz, %.0f s: samples (expected %.0f; slots skipped: %ld)",
		 rate, secs, expected, skipped);
	result("P2", metric, "samples", n, n, n, "-", "-");
	snprintf(metric, sizeof(metric), "%u Hz: interval p50 (min / max)", rate);
	result("P2", metric, "ms", pct_sorted(ivd, n - 1, 0.5), ivd[0], ivd[n - 2], "-", "-");
	snprintf(metric, sizeof(metric), "%u Hz: interval p99", rate);
	if (rate == 20) {
		snprintf(goal, sizeof(goal), "<= period + 1 ms (%.0f ms)", period / 1e6 + 1);
		result("P2", metric, "ms", pct_sorted(ivd, n - 1, 0.99), pct_sorted(ivd, n - 1, 0.99),
		       pct_sorted(ivd, n - 1, 0.99), goal,
		       pct_sorted(ivd, n - 1, 0.99) <= period / 1e6 + 1 ? "yes" : "no");
	} else {
		result("P2", metric, "ms", pct_sorted(ivd, n - 1, 0.99), pct_sorted(ivd, n - 1, 0.99),
		       pct_sorted(ivd, n - 1, 0.99), "-", "-");
	}
	snprintf(metric, sizeof(metric),
		 "%u Hz: long-run rate error vs CLOCK_MONOTONIC, first to last sample (min/max: %zu windows)",
		 rate, windows);
	result("P2", metric, "%", err, ws.min, ws.max, rate == 20 ? "abs <= 0.01" : "-",
	       rate == 20 ? (fabs(err) <= 0.01 ? "yes" : "no") : "-");
	snprintf(metric, sizeof(metric), "%u Hz: rate error from the least-squares slope of time_ns over k", rate);
	result("P2", metric, "%", slope_err, slope_err, slope_err, "-", "-");
	snprintf(metric, sizeof(metric),
		 "%u Hz: drift t_k - (t_0 + k period) at the end (min/max over the run)", rate);
	snprintf(goal, sizeof(goal), "abs(end) <= 1 period (%.4g ms)", period / 1e6);
	result("P2", metric, "ms", drift_end / 1e6, dmin / 1e6, dmax / 1e6, goal,
	       fabs(drift_end) <= period ? "yes" : "no");
	if (rr->lost)
		note("rate %u: %" PRIu64 " samples lost", rate, rr->lost);
	free(iv);
	free(ivd);
}

/*
 * The reference for what the guest's timers allow: a user thread sleeping
 * with clock_nanosleep(TIMER_ABSTIME) to the deadlines of a grid of the
 * same period, its wake-up times recorded.
 */
struct ref_timer {
	uint64_t period, deadline, *t, *late;
	size_t n, cap;
};

static void *ref_timer_fn(void *arg)
{
	struct ref_timer *rt = arg;
	uint64_t next = now_ns();

	while (rt->n < rt->cap) {
		struct timespec ts;

		next += rt->period;
		if (next > rt->deadline)
			break;
		ts.tv_sec = next / NSEC;
		ts.tv_nsec = next % NSEC;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		rt->t[rt->n] = now_ns();
		rt->late[rt->n] = rt->t[rt->n] - next;
		rt->n++;
	}
	return NULL;
}

static void ref_timer_report(struct ref_timer *rt, unsigned int rate)
{
	double *iv = calloc(rt->n + 1, sizeof(double)), *late = calloc(rt->n + 1, sizeof(double));
	char metric[192];
	size_t i;

	if (!iv || !late)
		die("out of memory");
	for (i = 0; i < rt->n; i++) {
		late[i] = rt->late[i] / 1e6;
		if (i)
			iv[i - 1] = (rt->t[i] - rt->t[i - 1]) / 1e6;
	}
	if (rt->n > 2) {
		snprintf(metric, sizeof(metric),
			 "%u Hz reference, a user thread's clock_nanosleep(TIMER_ABSTIME) on a grid of the same period: interval p99 (min / max)",
			 rate);
		result("P2", metric, "ms", pct(iv, rt->n - 1, 0.99), pct(iv, rt->n - 1, 0),
		       pct(iv, rt->n - 1, 1), "-", "-");
		snprintf(metric, sizeof(metric),
			 "%u Hz reference: that thread's wake-up after its deadline, p50 (p99 / max)", rate);
		result("P2", metric, "ms", pct(late, rt->n, 0.5), pct(late, rt->n, 0.99),
		       pct(late, rt->n, 1), "-", "-");
	}
	free(iv);
	free(late);
}

/*
 * P2: sessions at the given rates, run concurrently on one idle process,
 * for @secs; a reader follows every session with poll() + read().  A
 * reference thread sleeps on a grid of the first rate meanwhile.
 */
static int cmd_rate(double secs, int nr, char **rates)
{
	struct rate_run *rr = calloc(nr, sizeof(*rr));
	struct pollfd *pfd = calloc(nr, sizeof(*pfd));
	struct ref_timer ref = { 0 };
	pthread_t ref_th;
	uint64_t deadline;
	pid_t child;
	int i;

	if (!rr || !pfd)
		die("out of memory");
	child = idle_fork();
	for (i = 0; i < nr; i++) {
		uint64_t period;
		uint32_t pages;

		rr[i].rate = atoi(rates[i]);
		if (!rr[i].rate)
			die("bad rate %s", rates[i]);
		period = NSEC / rr[i].rate;
		/* Two seconds of records, at least the default 128 pages. */
		pages = rr[i].rate * 2 * 64 / 4096 + 1;
		if (pages < 128)
			pages = 128;
		session_open_cfg(&rr[i].r, 0, period, pages, 1);
		rr[i].cap = (size_t)(secs * rr[i].rate * 1.2) + 64;
		rr[i].t = calloc(rr[i].cap, sizeof(*rr[i].t));
		if (!rr[i].t)
			die("out of memory");
		pfd[i].fd = rr[i].r.fd;
		pfd[i].events = POLLIN;
	}
	deadline = now_ns() + (uint64_t)(secs * NSEC);
	ref.period = NSEC / rr[0].rate;
	ref.deadline = deadline;
	ref.cap = (size_t)(secs * rr[0].rate) + 16;
	ref.t = calloc(ref.cap, sizeof(*ref.t));
	ref.late = calloc(ref.cap, sizeof(*ref.late));
	if (!ref.t || !ref.late || pthread_create(&ref_th, NULL, ref_timer_fn, &ref))
		die("reference timer thread");
	for (i = 0; i < nr; i++) {
		rr[i].t_add = now_ns();
		session_add(&rr[i].r, child);
	}
	while (now_ns() < deadline) {
		if (poll(pfd, nr, 100) <= 0)
			continue;
		for (i = 0; i < nr; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			ring_wait(&rr[i].r);	/* consumes the wake-up */
			rate_collect(&rr[i], deadline);
		}
	}
	/* A sample due just before the deadline is written a little later. */
	sleep_ns(NSEC / 20);
	for (i = 0; i < nr; i++) {
		rate_collect(&rr[i], deadline);
		ring_close(&rr[i].r);
	}
	idle_kill(child);
	pthread_join(ref_th, NULL);
	for (i = 0; i < nr; i++) {
		rate_report(&rr[i], secs, deadline);
		if (!i)
			ref_timer_report(&ref, rr[0].rate);
		free(rr[i].t);
	}
	free(ref.t);
	free(ref.late);
	free(rr);
	free(pfd);
	return 0;
}

/* ------------------------------- P1 against the module before a change */

/* Replace the loaded mp3prof module by @ko. */
static void module_swap(const char *ko)
{
	char cmd[512];

	if (ctl_fd >= 0) {
		close(ctl_fd);
		ctl_fd = -1;
	}
	if (system("grep -q '^mp3prof ' /proc/modules && rmmod mp3prof"))
		note("rmmod mp3prof failed (not loaded?)");
	snprintf(cmd, sizeof(cmd), "insmod '%s'", ko);
	if (system(cmd))
		die("%s failed", cmd);
}

#define P1OLD_SAMPLES	20

/* Median work_ns per process of the loaded module's default session. */
static double p1_module_cost(const struct children *c)
{
	double w[P1OLD_SAMPLES];
	uint64_t head0;
	struct ring r;
	int i;

	ring_open(&r);
	register_all(c);
	head0 = ring_head(&r);
	ring_wait_for(&r, head0 + P1_SKIP + P1OLD_SAMPLES);
	for (i = 0; i < P1OLD_SAMPLES; i++) {
		struct mp3prof_sample s;

		if (!ring_get(&r, head0 + P1_SKIP + i, &s))
			die("sample lost");
		w[i] = (double)s.work_ns / c->n;
	}
	unregister_all(c);
	ring_close(&r);
	close(ctl_fd);
	ctl_fd = -1;
	return stats_of(w, P1OLD_SAMPLES).med;
}

/*
 * P1 in the same run against the driver before a change (@old_ko, built
 * from commit @label against this kernel): the same N idle processes in
 * the default session of each module in turn, the order alternating.
 */
static int cmd_p1old(int n, int reps, const char *old_ko, const char *new_ko,
		     const char *label)
{
	double *o = calloc(reps, sizeof(double)), *m = calloc(reps, sizeof(double));
	struct stats so, sm;
	struct children c;
	char metric[192];
	int k;

	if (!o || !m)
		die("out of memory");
	raise_limits(n);
	children_spawn(&c, n);
	for (k = 0; k < reps; k++) {
		if (k % 2) {
			module_swap(old_ko);
			o[k] = p1_module_cost(&c);
			module_swap(new_ko);
			m[k] = p1_module_cost(&c);
		} else {
			module_swap(new_ko);
			m[k] = p1_module_cost(&c);
			module_swap(old_ko);
			o[k] = p1_module_cost(&c);
		}
		note("P1 vs %s, N=%d rep %d: %.0f ns/proc/sample now, %.0f before", label, n, k, m[k], o[k]);
	}
	module_swap(new_ko);
	children_kill(&c);
	so = stats_of(o, reps);
	sm = stats_of(m, reps);
	snprintf(metric, sizeof(metric), "N=%d same run: kernel cost per process per sample, the driver of %s (before the exact CPU read)",
		 n, label);
	result("P1", metric, "ns/proc/round", so.med, so.min, so.max, "-", "-");
	snprintf(metric, sizeof(metric), "N=%d same run: kernel cost per process per sample, this series", n);
	result("P1", metric, "ns/proc/round", sm.med, sm.min, sm.max, "-", "-");
	snprintf(metric, sizeof(metric), "N=%d same run: this series / %s", n, label);
	result("P1", metric, "x", sm.med / so.med, sm.min / so.max, sm.max / so.min, "<= 1.2",
	       sm.med / so.med <= 1.2 ? "yes" : "no");
	free(o);
	free(m);
	return 0;
}

/* ------------------------------------------------------ P3: fault path */

/* Touch every page of a fresh anonymous mapping; ns per minor fault. */
static double touch_run(size_t len, long *faults)
{
	struct rusage ru0, ru1;
	size_t page = getpagesize(), off;
	uint64_t t0, t1;
	char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		die("mmap %zu: %s", len, strerror(errno));
	madvise(p, len, MADV_NOHUGEPAGE);
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_ns();
	for (off = 0; off < len; off += page)
		((volatile char *)p)[off] = 1;
	t1 = now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	munmap(p, len);
	*faults = ru1.ru_minflt - ru0.ru_minflt;
	return (double)(t1 - t0) / (*faults ? *faults : 1);
}

/* perf stat -I 50 on this process, attached: its first interval was printed. */
static void perf_attach_self(struct tool *t, const char *perf)
{
	char pid[16], line[4096];
	char *argv[] = { (char *)perf, "stat", "-I", "50", "-x", ",", "-e",
			 "minor-faults,major-faults,task-clock", "-p", pid, NULL };
	double ts, v;
	int got;

	snprintf(pid, sizeof(pid), "%d", getpid());
	tool_start(t, argv);
	while ((got = tool_line(t, line, sizeof(line), 30000)) > 0)
		if (perf_line(line, "task-clock", &ts, &v))
			return;
	die("perf stat -p %s printed no interval (%s)", pid, got ? "it ended" : "timeout");
}

enum { W_NONE, W_MP3PROF, W_PERF, W_KINDS };
static const char *const watch_name[] = { "not watched", "watched by mp3prof (20 Hz session)",
					  "watched by perf stat -I 50" };

static double fault_watched(int kind, size_t len, struct ring *sess, const char *perf,
			    long *faults)
{
	struct tool t;
	double v;

	switch (kind) {
	case W_MP3PROF:
		session_open_cfg(sess, 0, 0, 0, 1);
		session_add(sess, getpid());
		v = touch_run(len, faults);
		ring_close(sess);
		return v;
	case W_PERF:
		perf_attach_self(&t, perf);
		v = touch_run(len, faults);
		tool_stop(&t, SIGINT, false);
		return v;
	default:
		return touch_run(len, faults);
	}
}

/*
 * P3: runs not watched (A), watched by mp3prof (B) and by perf stat (C),
 * in triples whose order cycles through all 6 permutations; differences
 * within a triple, with 95 % confidence intervals of their mean.
 */
static int cmd_fault(long mb, int triples, const char *perf)
{
	static const int perm[6][3] = { {0, 1, 2}, {1, 2, 0}, {2, 0, 1},
					{0, 2, 1}, {2, 1, 0}, {1, 0, 2} };
	int kinds = perf ? W_KINDS : W_PERF, k, j;
	double *v[W_KINDS], *d[W_KINDS];
	long avail_kb = 0, faults = 0;
	struct ring sess;
	char metric[160], line[256], goal[64];
	size_t len;
	FILE *f;

	for (j = 0; j < W_KINDS; j++) {
		v[j] = calloc(triples, sizeof(double));
		d[j] = calloc(triples, sizeof(double));
		if (!v[j] || !d[j])
			die("out of memory");
	}
	f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &avail_kb) == 1)
			break;
	if (f)
		fclose(f);
	if (avail_kb && mb * 1024 > avail_kb * 6 / 10) {
		note("only %ld MiB available: touching %ld MiB instead of %ld",
		     avail_kb / 1024, avail_kb * 6 / 10 / 1024, mb);
		mb = avail_kb * 6 / 10 / 1024;
	}
	len = (size_t)mb << 20;

	for (j = 0; j < kinds; j++)		/* warm-up */
		fault_watched(j, len, &sess, perf, &faults);
	for (k = 0; k < triples; k++) {
		for (j = 0; j < 3; j++) {
			int kind = perm[k % 6][j];

			if (kind < kinds)
				v[kind][k] = fault_watched(kind, len, &sess, perf, &faults);
		}
		for (j = 1; j < kinds; j++)
			d[j][k] = (v[j][k] - v[0][k]) / v[0][k] * 100;
		note("fault rep %d: %ld faults; ns/fault not watched %.1f, mp3prof %.1f (%+.2f%%), perf %.1f (%+.2f%%)",
		     k, faults, v[0][k], v[1][k], d[1][k], perf ? v[2][k] : NAN,
		     perf ? d[2][k] : NAN);
	}

	for (j = 0; j < kinds; j++) {
		snprintf(metric, sizeof(metric), "%ld MiB of fresh pages, %s", mb, watch_name[j]);
		result_s("P3", metric, "ns/fault", stats_of(v[j], triples), "-", "-");
	}
	for (j = 1; j < kinds; j++) {
		struct stats s = stats_of(d[j], triples);
		struct ci c = ci95(d[j], triples);
		const char *who = j == W_MP3PROF ? "mp3prof" : "perf stat";

		snprintf(metric, sizeof(metric), "%s - not watched, per triple (%d triples)", who, triples);
		result_s("P3", metric, "%", s, "-", "-");
		snprintf(metric, sizeof(metric),
			 "%s - not watched: mean and its 95%% CI, paired t (min/max = CI)", who);
		if (j == W_MP3PROF) {
			snprintf(goal, sizeof(goal), "CI contains 0 (half-width %.2g %%)",
				 (c.hi - c.lo) / 2);
			result("P3", metric, "%", c.mean, c.lo, c.hi, goal,
			       c.lo <= 0 && c.hi >= 0 ? "yes" : "no");
		} else {
			result("P3", metric, "%", c.mean, c.lo, c.hi, "reported", "-");
		}
		snprintf(metric, sizeof(metric),
			 "%s - not watched: mean and its 95%% CI, bootstrap (min/max = CI)", who);
		result("P3", metric, "%", c.mean, c.blo, c.bhi, "-", "-");
		note("%s: mean difference %+.2f%%, 95%% CI %+.2f..%+.2f%% (t), %+.2f..%+.2f%% (bootstrap); "
		     "+-2%% needs about %.0f triples at this spread",
		     who, c.mean, c.lo, c.hi, c.blo, c.bhi,
		     pow(1.96 * (c.hi - c.lo) / 2 / t975(triples - 1) * sqrt(triples) / 2, 2));
	}
	for (j = 0; j < W_KINDS; j++) {
		free(v[j]);
		free(d[j]);
	}
	return 0;
}

/* ------------------------------------------------- P5: consumer cost */

static int cmd_follow(int samples, int reps)
{
	double *sc = calloc(reps, sizeof(double)), *wk = calloc(reps, sizeof(double));
	double *cs = calloc(reps, sizeof(double));
	uint64_t lost = 0;
	struct ring r;
	pid_t child;
	int k;

	if (!sc || !wk || !cs)
		die("out of memory");
	ring_open(&r);
	child = idle_fork();
	ctl_must('R', child);
	ring_wait(&r);		/* sync: head now matches what read() returned */
	for (k = 0; k < reps; k++) {
		uint64_t next = ring_head(&r), got = 0, wakeups = 0, reads0 = r.reads;
		struct rusage ru0, ru1;

		getrusage(RUSAGE_SELF, &ru0);
		while (got < (uint64_t)samples) {
			uint64_t head = ring_wait(&r);

			wakeups++;
			if (head - next > r.mask + 1) {
				lost += head - next - (r.mask + 1);
				next = head - (r.mask + 1);
			}
			for (; next < head; next++) {
				struct mp3prof_sample s;

				if (ring_get(&r, next, &s))
					got++;
				else
					lost++;
			}
		}
		getrusage(RUSAGE_SELF, &ru1);
		sc[k] = (double)(r.reads - reads0) / got;
		wk[k] = (double)wakeups / got;
		cs[k] = (double)((ru1.ru_nvcsw - ru0.ru_nvcsw) +
				 (ru1.ru_nivcsw - ru0.ru_nivcsw)) / got;
		note("follow rep %d: %" PRIu64 " samples, %" PRIu64 " read() calls, %" PRIu64
		     " wake-ups, %ld context switches", k, got, r.reads - reads0,
		     wakeups, (ru1.ru_nvcsw - ru0.ru_nvcsw) + (ru1.ru_nivcsw - ru0.ru_nivcsw));
	}
	ctl_must('U', child);
	idle_kill(child);
	ring_close(&r);
	result_s("P5", "bench follow reader: syscalls per sample", "syscalls/sample",
		 stats_of(sc, reps), "-", "-");
	result_s("P5", "bench follow reader: wake-ups (read() returns) per sample",
		 "wakeups/sample", stats_of(wk, reps), "-", "-");
	result_s("P5", "bench follow reader: context switches per sample (getrusage)",
		 "switches/sample", stats_of(cs, reps), "-", "-");
	if (lost)
		note("follow: %" PRIu64 " samples lost", lost);
	return 0;
}

static int cmd_monitor(const char *path, const char *secs, int reps)
{
	double *v = calloc(reps, sizeof(double));
	pid_t child = idle_fork();
	int k, got = 0;

	if (!v)
		die("out of memory");
	ctl_must('R', child);
	for (k = 0; k < reps; k++) {
		unsigned long long calls, samples, lost;
		char line[512];
		int pfd[2], st;
		FILE *f;
		pid_t pid;
		bool ok = false;

		if (pipe(pfd))
			die("pipe: %s", strerror(errno));
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (!pid) {
			dup2(pfd[1], 2);
			close(pfd[0]);
			close(pfd[1]);
			execl(path, path, "-d", secs, "--syscalls", "-o", "/dev/null",
			      (char *)NULL);
			_exit(127);
		}
		close(pfd[1]);
		f = fdopen(pfd[0], "r");
		while (fgets(line, sizeof(line), f)) {
			char *p = strstr(line, " syscalls (read/poll) for ");

			if (p && sscanf(strchr(line, ':') + 1, " %llu syscalls (read/poll) for %llu samples",
					&calls, &samples) == 2 && samples) {
				p = strstr(line, "), ");
				lost = p ? strtoull(p + 3, NULL, 10) : 0;
				v[got++] = (double)calls / samples;
				ok = true;
				note("monitor rep %d: %llu syscalls for %llu samples, %llu lost",
				     k, calls, samples, lost);
			} else {
				fprintf(stderr, "monitor: %s", line);
			}
		}
		fclose(f);
		waitpid(pid, &st, 0);
		if (!ok)
			note("monitor rep %d: no --syscalls line (status %d)", k, st);
	}
	ctl_must('U', child);
	idle_kill(child);
	if (got)
		result_s("P5", "mp3prof-monitor -d --syscalls: syscalls per sample",
			 "syscalls/sample", stats_of(v, got), "-", "-");
	else
		result("P5", "mp3prof-monitor -d --syscalls: syscalls per sample",
		       "syscalls/sample", NAN, NAN, NAN, "-", "no output");
	return 0;
}

/* ------------------------------------------------------ P6: sessions */

#define P6_SAMPLES	50	/* samples per session, after P1_SKIP */

/*
 * Kernel cost per process per sample of @ns sessions sharing the children
 * @c equally: each session's records' work_ns / its processes, pooled over
 * all sessions' samples.  Returns the stats over P1_BLOCKS blocks.
 */
static struct stats sessions_cost(struct children *c, int ns)
{
	int per = c->n / ns, i, k, b, got = 0;
	double *v = calloc((size_t)ns * P6_SAMPLES, sizeof(double));
	double blocks[P1_BLOCKS];
	struct ring *r = calloc(ns, sizeof(*r));

	if (!v || !r)
		die("out of memory");
	for (i = 0; i < ns; i++) {
		session_open(&r[i]);
		for (k = 0; k < per; k++)
			session_add(&r[i], c->pids[i * per + k]);
	}
	for (i = 0; i < ns; i++) {
		ring_wait_for(&r[i], P1_SKIP + P6_SAMPLES);
		for (k = 0; k < P6_SAMPLES; k++) {
			struct mp3prof_sample s;

			if (!ring_get(&r[i], P1_SKIP + k, &s))
				die("session %d: sample %d lost", i, P1_SKIP + k);
			if (s.nr_procs != (unsigned int)per)
				note("session %d sample %d: nr_procs %u, expected %d",
				     i, k, s.nr_procs, per);
			v[got++] = (double)s.work_ns / per;
		}
	}
	for (i = 0; i < ns; i++)
		ring_close(&r[i]);
	/* Blocks of consecutive samples of every session. */
	for (b = 0; b < P1_BLOCKS; b++) {
		double sum = 0;
		int n = 0;

		for (i = 0; i < ns; i++)
			for (k = b * P6_SAMPLES / P1_BLOCKS;
			     k < (b + 1) * P6_SAMPLES / P1_BLOCKS; k++, n++)
				sum += v[i * P6_SAMPLES + k];
		blocks[b] = sum / n;
	}
	free(v);
	free(r);
	return stats_of(blocks, P1_BLOCKS);
}

static int cmd_sessions(int ns, int n)
{
	struct stats one, many;
	struct children c;
	struct ring idle;
	uint64_t w;
	char metric[128];
	double ratio;

	raise_limits((long)ns * n);
	children_spawn(&c, ns * n);
	one = sessions_cost(&c, 1);
	many = sessions_cost(&c, ns);
	children_kill(&c);

	snprintf(metric, sizeof(metric), "1 session x %d processes: cost per process per sample",
		 ns * n);
	result("P6", metric, "ns", one.med, one.min, one.max, "-", "-");
	snprintf(metric, sizeof(metric), "%d sessions x %d processes: cost per process per sample",
		 ns, n);
	result("P6", metric, "ns", many.med, many.min, many.max, "-", "-");
	ratio = many.med / one.med;
	snprintf(metric, sizeof(metric), "%d x %d against 1 x %d (median / median)",
		 ns, n, ns * n);
	result("P6", metric, "x", ratio, many.min / one.max, many.max / one.min,
	       "<= 1.2", ratio <= 1.2 ? "yes" : "no");

	/* An idle session (no process) takes no sample and costs nothing. */
	session_open(&idle);
	sleep_ns(2 * NSEC);
	w = idle.hdr->work_ns;
	result("P6", "idle session: samples taken in 2 s", "samples",
	       (double)idle.hdr->samples, (double)idle.hdr->samples,
	       (double)idle.hdr->samples, "0", !idle.hdr->samples && !w ? "yes" : "no");
	ring_close(&idle);
	return 0;
}

/* ------------------------------------- P7: CPU time of a running thread */

static void futex_wait(volatile int *addr, int val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT, val, NULL, NULL, 0);
}

static void futex_wake(volatile int *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* A process that spins on the last CPU until killed. */
static pid_t spinner_fork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		volatile unsigned long x = 0;

		if (nr_cpus() > 1)
			pin_cpu(nr_cpus() - 1);
		for (;;)
			x++;
	}
	return pid;
}

#define CPU_THREADS	8

/* Shared with the threads' process: per thread 0 = sleep, 1 = spin. */
struct spin_ctl {
	volatile int mode[CPU_THREADS];
	volatile int ready;
};

static struct spin_ctl *spin_ctl;

static void *spin_thread(void *arg)
{
	volatile int *mode = &spin_ctl->mode[(long)arg];
	volatile unsigned long x = 0;

	__atomic_add_fetch(&spin_ctl->ready, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		int m = *mode;

		if (m)
			while (*mode == m)
				x++;
		else
			futex_wait(mode, 0);
	}
	return NULL;
}

static void spin_set(int spinning)
{
	int i;

	for (i = 0; i < CPU_THREADS; i++) {
		spin_ctl->mode[i] = i < spinning;
		futex_wake(&spin_ctl->mode[i]);
	}
}

/* Per-sample ratio cpu_ns / interval of a session on the spinner. */
static int p7_accuracy(double secs)
{
	size_t cap = (size_t)(secs * 20) + 64, n = 0;
	double *ratio = calloc(cap, sizeof(double)), *err = calloc(cap, sizeof(double));
	uint64_t deadline, next, prev_t = 0;
	struct stats rs;
	struct ring r;
	pid_t spin;

	if (!ratio || !err)
		die("out of memory");
	spin = spinner_fork();
	/* The reader stays off the spinner's CPU. */
	if (nr_cpus() > 1)
		pin_cpu(0);
	sleep_ns(NSEC / 10);
	session_open_cfg(&r, 0, 0, 0, 1);
	session_add(&r, spin);
	next = 0;
	deadline = now_ns() + (uint64_t)(secs * NSEC);
	while (now_ns() < deadline && n < cap) {
		uint64_t head = ring_wait(&r);

		for (; next < head; next++) {
			struct mp3prof_sample s;

			if (!ring_get(&r, next, &s))
				die("P7: sample %" PRIu64 " lost", next);
			/* The first sample's delta runs from the ADD, not from a sample. */
			if (prev_t && n < cap) {
				ratio[n] = (double)s.cpu_ns / (double)(s.time_ns - prev_t);
				err[n] = fabs(ratio[n] - 1) * 100;
				n++;
			}
			prev_t = s.time_ns;
		}
	}
	ring_close(&r);
	idle_kill(spin);
	if (n < 10)
		die("P7: only %zu samples", n);
	rs = stats_of(ratio, n);
	note("P7: %zu samples, cpu_ns/interval median %.5f min %.5f max %.5f; error p50 %.3f%% p99 %.3f%%",
	     n, rs.med, rs.min, rs.max, pct(err, n, 0.5), pct(err, n, 0.99));
	result("P7", "spinning thread: cpu_ns / (time_ns - previous time_ns), per sample", "x",
	       rs.med, rs.min, rs.max, "-", "-");
	result("P7", "per-sample error abs(ratio - 1): median (min / max)", "%",
	       pct(err, n, 0.5), pct(err, n, 0), pct(err, n, 1), "<= 2",
	       pct(err, n, 0.5) <= 2 ? "yes" : "no");
	result("P7", "per-sample error abs(ratio - 1): p99", "%", pct(err, n, 0.99),
	       pct(err, n, 0.99), pct(err, n, 0.99), "<= 5",
	       pct(err, n, 0.99) <= 5 ? "yes" : "no");
	free(ratio);
	free(err);
	return 0;
}

#define WQ_CPUMASK	"/sys/devices/virtual/workqueue/cpumask"

/*
 * The cost of reading a running thread's CPU time exactly: a session at
 * 100 Hz on one process of CPU_THREADS threads on the last CPU, while the
 * sampling work runs on CPU 0 (the unbound workqueues' cpumask).  Blocks
 * of samples in four states: A, all threads sleeping and the last CPU idle;
 * D, all sleeping while another process spins on the last CPU; B, one
 * thread spinning; C, all spinning (only one can be on the CPU, the others
 * are runnable).  task_sched_runtime() takes the runqueue lock and updates
 * the runtime only for a thread on a CPU, so B - D is the exact read of one
 * running thread.  D - A is what a busy vCPU costs the other one in this
 * guest (the host runs both vCPU threads), nothing of mp3prof's.
 */
enum { ST_A, ST_D, ST_B, ST_C, ST_N };

static int cpu_read_cost(int rounds, int per_block)
{
	static const char *const st_name[ST_N] = {
		"A: 8 threads sleeping, that CPU idle",
		"D: 8 threads sleeping, another process spinning on that CPU",
		"B: 1 of the 8 threads spinning on that CPU",
		"C: all 8 spinning there (1 on the CPU, 7 runnable)",
	};
	double *blk[ST_N], diff[3][64];
	char oldmask[64] = "", metric[160];
	int st, i, k, got;
	pid_t child, other;
	struct ring r;

	if (rounds > 64)
		rounds = 64;
	for (st = 0; st < ST_N; st++)
		if (!(blk[st] = calloc(rounds, sizeof(double))))
			die("out of memory");
	spin_ctl = mmap(NULL, sizeof(*spin_ctl), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (spin_ctl == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	memset((void *)spin_ctl, 0, sizeof(*spin_ctl));
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (!child) {
		pthread_t th;
		long t;

		if (nr_cpus() > 1)
			pin_cpu(nr_cpus() - 1);
		for (t = 1; t < CPU_THREADS; t++)
			if (pthread_create(&th, NULL, spin_thread, (void *)t))
				_exit(1);
		spin_thread((void *)0);
		_exit(0);
	}
	other = spinner_fork();
	kill(other, SIGSTOP);
	while (spin_ctl->ready < CPU_THREADS)
		sleep_ns(NSEC / 100);
	if (nr_cpus() > 1 && !read_file(WQ_CPUMASK, oldmask, sizeof(oldmask))) {
		FILE *f = fopen(WQ_CPUMASK, "w");

		if (!f || fprintf(f, "1\n") < 0 || fclose(f)) {
			note("cannot set %s: the sampling may run on the spinning CPU", WQ_CPUMASK);
			oldmask[0] = '\0';
		}
	}
	pin_cpu(0);
	session_open_cfg(&r, 0, NSEC / 100, 0, 1);
	session_add(&r, child);
	ring_wait_for(&r, 3);
	for (k = 0; k < rounds; k++) {
		for (st = 0; st < ST_N; st++) {
			double *w = calloc(per_block, sizeof(double));
			uint64_t first;

			spin_set(st == ST_B ? 1 : st == ST_C ? CPU_THREADS : 0);
			kill(other, st == ST_D ? SIGCONT : SIGSTOP);
			first = ring_wait_for(&r, ring_head(&r) + 3);
			ring_wait_for(&r, first + per_block);
			for (i = got = 0; i < per_block; i++) {
				struct mp3prof_sample s;

				if (ring_get(&r, first + i, &s))
					w[got++] = s.work_ns;
			}
			blk[st][k] = stats_of(w, got).med;
			free(w);
		}
		diff[0][k] = blk[ST_B][k] - blk[ST_D][k];
		diff[1][k] = blk[ST_C][k] - blk[ST_D][k];
		diff[2][k] = blk[ST_D][k] - blk[ST_A][k];
		note("exact-read cost round %d: work_ns per sample median: A %.0f, D %.0f, B %.0f, C %.0f",
		     k, blk[ST_A][k], blk[ST_D][k], blk[ST_B][k], blk[ST_C][k]);
	}
	spin_set(0);
	ring_close(&r);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	if (oldmask[0]) {
		FILE *f = fopen(WQ_CPUMASK, "w");

		if (f) {
			fprintf(f, "%s\n", oldmask);
			fclose(f);
		}
	}
	{
		cpu_set_t all;

		CPU_ZERO(&all);
		for (i = 0; i < nr_cpus(); i++)
			CPU_SET(i, &all);
		sched_setaffinity(0, sizeof(all), &all);
	}
	for (st = 0; st < ST_N; st++) {
		snprintf(metric, sizeof(metric), "exact-read cost: work_ns per sample, %s", st_name[st]);
		result_s("P7", metric, "ns", stats_of(blk[st], rounds), "-", "-");
	}
	result_s("P7", "exact CPU read per running thread: B - D, per round", "ns",
		 stats_of(diff[0], rounds), "-", "-");
	result_s("P7", "8 spinning threads (1 running, 7 runnable): C - D, per round", "ns",
		 stats_of(diff[1], rounds), "-", "-");
	result_s("P7", "a busy other vCPU (host contention, not mp3prof): D - A, per round", "ns",
		 stats_of(diff[2], rounds), "-", "-");
	result("P7", "sleeping thread: A / 8 (all of the sample's work, per thread)", "ns",
	       stats_of(blk[ST_A], rounds).med / CPU_THREADS, stats_of(blk[ST_A], rounds).min / CPU_THREADS,
	       stats_of(blk[ST_A], rounds).max / CPU_THREADS, "-", "-");
	for (st = 0; st < ST_N; st++)
		free(blk[st]);
	munmap((void *)spin_ctl, sizeof(*spin_ctl));
	return 0;
}

static int cmd_cpu(double secs, int rounds, int per_block)
{
	p7_accuracy(secs);
	return cpu_read_cost(rounds, per_block);
}

/* --------------------- P8: cost against perf stat, pidstat and cgroup v2 */

#define P8_SAMPLES	20	/* mp3prof samples per block, after 2 */
#define P8_PERF_SKIP	3	/* perf intervals skipped after its start */
#define P8_PERF_IVS	20	/* perf intervals measured */
#define P8_PIDSTAT_IVS	3	/* pidstat reports measured, after 1 */
#define P8_CG_ROUNDS	20	/* cgroup polling rounds */

struct p8 {
	double work, reader, total;	/* mp3prof ns per sample per process */
	double perf, perf_iv;		/* perf ns per interval per process; ms */
	double pidstat;			/* ns per report per process */
	double cg_round;		/* ns per round (memory.stat + cpu.stat) */
};

/*
 * Each figure of a block is the median of its items (samples, intervals,
 * reports, rounds): in a TCG guest the host may stop a vCPU for
 * milliseconds, which the guest sees as time spent by whatever ran there.
 */
static void p8_mp3prof(const struct children *c, struct p8 *o)
{
	double w[P8_SAMPLES], rd[P8_SAMPLES];
	uint64_t h0;
	struct ring r;
	int i;

	session_open_cfg(&r, 0, 0, 0, c->n);
	for (i = 0; i < c->n; i++)
		session_add(&r, c->pids[i]);
	ring_wait_for(&r, 2);
	h0 = ring_wait(&r);
	for (i = 0; i < P8_SAMPLES; i++) {
		uint64_t c0 = thread_cpu_ns(), head;
		struct mp3prof_sample s;

		/* One read() per sample at 20 Hz, and the copy. */
		head = ring_wait_for(&r, h0 + i + 1);
		if (!ring_get(&r, h0 + i, &s))
			die("P8: sample lost");
		rd[i] = (double)(thread_cpu_ns() - c0);
		if (s.nr_procs != (unsigned int)c->n)
			note("P8: sample with %u processes, expected %d", s.nr_procs, c->n);
		w[i] = s.work_ns;
		(void)head;
	}
	ring_close(&r);
	o->work = stats_of(w, P8_SAMPLES).med / c->n;
	o->reader = stats_of(rd, P8_SAMPLES).med;
	o->total = o->work + o->reader / c->n;
}

static void p8_perf(const char *perf, const char *pids, int n, struct p8 *o)
{
	char *argv[] = { (char *)perf, "stat", "-I", "50", "-x", ",", "-e",
			 "minor-faults,major-faults,task-clock", "-p", (char *)pids, NULL };
	double ts, v, pts = 0, cpu[P8_PERF_IVS], iv[P8_PERF_IVS];
	uint64_t pc = 0, c0 = 0, c;
	long long k0 = 0;
	char line[4096];
	int ivs = 0, got, m = 0;
	struct tool t;

	tool_start(&t, argv);
	while ((got = tool_line(&t, line, sizeof(line), 120000)) > 0) {
		if (!perf_line(line, "task-clock", &ts, &v)) {
			/* Other events' interval lines start with the time stamp. */
			if (!(line[0] >= '0' && line[0] <= '9') && !strstr(line, "print interval"))
				note("perf: %s", line);
			continue;
		}
		ivs++;
		c = proc_cpu_ns(t.pid);
		if (ivs == P8_PERF_SKIP) {
			c0 = c;
			k0 = proc_stat_ticks(t.pid);
		} else if (ivs > P8_PERF_SKIP) {
			cpu[m] = (double)(c - pc);
			iv[m] = (ts - pts) * 1e3;
			if (++m == P8_PERF_IVS)
				break;
		}
		pc = c;
		pts = ts;
	}
	if (m == P8_PERF_IVS) {
		o->perf = stats_of(cpu, m).med / n;
		o->perf_iv = stats_of(iv, m).med;
		note("perf N=%d: CPU per interval median %.0f us, mean %.0f us (/proc/PID/stat ticks: %.0f us), interval median %.2f ms",
		     n, stats_of(cpu, m).med / 1e3, (double)(pc - c0) / m / 1e3,
		     (double)(proc_stat_ticks(t.pid) - k0) * 1e6 / sysconf(_SC_CLK_TCK) / m, o->perf_iv);
	} else {
		o->perf = o->perf_iv = NAN;
		note("perf N=%d: %s after %d intervals", n, got ? "ended" : "timeout", ivs);
	}
	tool_stop(&t, SIGINT, false);
}

static void p8_pidstat(const char *pidstat, const char *pids, int n, struct p8 *o)
{
	char *argv[] = { (char *)pidstat, "-h", "-r", "-u", "1", "-p", (char *)pids, NULL };
	double cpu[P8_PIDSTAT_IVS];
	char line[4096];
	uint64_t pc = 0, c;
	int reports = 0, got, m = 0;
	struct tool t;

	tool_start(&t, argv);
	while ((got = tool_line(&t, line, sizeof(line), 60000)) > 0) {
		if (strncmp(line, "# Time", 6))
			continue;
		c = proc_cpu_ns(t.pid);
		if (++reports > 1) {
			cpu[m++] = (double)(c - pc);
			if (m == P8_PIDSTAT_IVS)
				break;
		}
		pc = c;
	}
	if (m == P8_PIDSTAT_IVS) {
		o->pidstat = stats_of(cpu, m).med / n;
	} else {
		o->pidstat = NAN;
		note("pidstat N=%d: %s after %d reports", n, got ? "ended" : "timeout", reports);
	}
	tool_stop(&t, SIGKILL, false);
}

static void p8_cgroup(const char *cg, struct p8 *o)
{
	static char buf[1 << 16];
	double cost[P8_CG_ROUNDS];
	uint64_t next = now_ns();
	int k;

	for (k = 0; k < P8_CG_ROUNDS; k++) {
		uint64_t c0 = thread_cpu_ns();

		if (cg_read(cg, "memory.stat", buf, sizeof(buf)) || cg_key(buf, "pgfault") < 0)
			die("read %s/memory.stat: %s", cg, strerror(errno));
		if (cg_read(cg, "cpu.stat", buf, sizeof(buf)) || cg_key(buf, "usage_usec") < 0)
			die("read %s/cpu.stat: %s", cg, strerror(errno));
		cost[k] = (double)(thread_cpu_ns() - c0);
		next += NSEC / 20;
		if (now_ns() < next)
			sleep_ns(next - now_ns());
		else
			next = now_ns();
	}
	o->cg_round = stats_of(cost, P8_CG_ROUNDS).med;
}

static void p8_row(int n, const char *what, const char *unit, double *v, int reps,
		   double scale)
{
	char metric[192];
	struct stats s = stats_of(v, reps);

	snprintf(metric, sizeof(metric), "N=%d %s", n, what);
	result("P8", metric, unit, s.med * scale, s.min * scale, s.max * scale, "-", "-");
}

static void p8_ratio(int n, const char *what, double *num, double *den, int reps,
		     const char *goal, double need)
{
	struct stats a = stats_of(num, reps), b = stats_of(den, reps);
	double r = a.med / b.med;
	char metric[192];

	snprintf(metric, sizeof(metric), "N=%d %s", n, what);
	result("P8", metric, "x", r, a.min / b.max, a.max / b.min, goal,
	       need > 0 ? (r >= need ? "yes" : "no") : "-");
}

/*
 * P8: N idle processes watched by mp3prof (a 20 Hz session), perf stat
 * -I 50, pidstat 1 and a cgroup poller at 20 Hz, one after the other in
 * each repetition.
 */
static int cmd_compare(int n, int reps, const char *perf, const char *pidstat)
{
	struct p8 *o = calloc(reps, sizeof(*o));
	double *v[12];
	bool cg = cg_available(), use_pidstat = pidstat && n >= 10;
	struct children c;
	char *pids, goal[32];
	int k, j;

	for (j = 0; j < 12; j++)
		if (!(v[j] = calloc(reps, sizeof(double))))
			die("out of memory");
	raise_limits(3L * n + 64);
	children_spawn(&c, n);
	pids = pid_list(c.pids, n);
	if (cg) {
		cg_make("bench-set");
		for (k = 0; k < n; k++)
			cg_move("bench-set", c.pids[k]);
	} else {
		note("no cgroup v2 with the memory controller at " CGROOT ": no cgroup figures");
	}
	for (k = 0; k < reps; k++) {
		p8_mp3prof(&c, &o[k]);
		if (perf)
			p8_perf(perf, pids, n, &o[k]);
		if (use_pidstat)
			p8_pidstat(pidstat, pids, n, &o[k]);
		if (cg)
			p8_cgroup("bench-set", &o[k]);
		note("compare N=%d rep %d: mp3prof %.0f ns/proc/sample (+ reader %.1f us/sample), perf %.0f ns/proc/interval"
		     " (interval %.2f ms), pidstat %.0f ns/proc/report, cgroup %.1f us/round",
		     n, k, o[k].work, o[k].reader / 1e3, o[k].perf, o[k].perf_iv, o[k].pidstat,
		     o[k].cg_round / 1e3);
		v[0][k] = o[k].work;
		v[1][k] = o[k].reader;
		v[2][k] = o[k].total;
		v[3][k] = o[k].perf;
		v[4][k] = o[k].perf_iv;
		v[5][k] = o[k].pidstat;
		v[6][k] = o[k].cg_round;
		v[7][k] = o[k].cg_round / n;
	}
	if (cg)
		cg_remove("bench-set");
	children_kill(&c);
	free(pids);

	p8_row(n, "mp3prof: kernel work_ns per sample per process", "ns", v[0], reps, 1);
	p8_row(n, "mp3prof: its reader's CPU per sample (read() + wake-up + copy)", "us", v[1], reps, 1e-3);
	p8_row(n, "mp3prof incl. its reader: per sample per process", "ns", v[2], reps, 1);
	if (perf) {
		p8_row(n, "perf stat -I 50: perf's CPU per interval per process", "ns", v[3], reps, 1);
		p8_row(n, "perf stat -I 50: interval length (asked: 50 ms)", "ms", v[4], reps, 1);
		snprintf(goal, sizeof(goal), n == 1000 ? ">= 10" : "-");
		p8_ratio(n, "ratio perf stat / mp3prof incl. reader", v[3], v[2], reps, goal,
			 n == 1000 ? 10 : 0);
		p8_ratio(n, "ratio perf stat / mp3prof kernel work", v[3], v[0], reps, "-", 0);
	}
	if (use_pidstat) {
		p8_row(n, "pidstat -h -r -u 1: pidstat's CPU per report per process", "ns", v[5], reps, 1);
		snprintf(goal, sizeof(goal), n == 1000 ? ">= 50" : "-");
		p8_ratio(n, "ratio pidstat / mp3prof incl. reader", v[5], v[2], reps, goal,
			 n == 1000 ? 50 : 0);
	}
	if (cg) {
		p8_row(n, "cgroup v2, all N in one cgroup: memory.stat + cpu.stat, poller CPU per round", "us",
		       v[6], reps, 1e-3);
		p8_row(n, "cgroup v2, the same round / N (aggregate only: no per-process view)", "ns",
		       v[7], reps, 1);
		p8_ratio(n, "ratio cgroup round / N / mp3prof incl. reader", v[7], v[2], reps, "-", 0);
	}
	for (j = 0; j < 12; j++)
		free(v[j]);
	free(o);
	return 0;
}

/* ------------------------- P9: accuracy of a 50 ms delta, P10: exit */

/* A process faulting at a steady rate; every fault's time is logged. */
struct flog {
	volatile int go, stop;
	volatile uint64_t n;
	uint64_t cap;
	struct { uint64_t b, a; } e[];	/* before / after the touch */
};

static struct flog *flog_new(uint64_t cap, size_t *len)
{
	struct flog *l;

	*len = sizeof(*l) + cap * sizeof(l->e[0]);
	l = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	l->cap = cap;
	return l;
}

#define FAULT_BUF_PAGES	1024

static pid_t faulter_fork(struct flog *l, size_t len, unsigned int rate)
{
	pid_t pid = fork();
	size_t page = getpagesize(), off;
	uint64_t next, k = 0;
	struct timespec ts;
	char *buf;

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid)
		return pid;
	/* No fault but the touches once it goes: the log and stack are in. */
	for (off = 0; off < len; off += page)
		((volatile char *)l)[off] = ((volatile char *)l)[off];
	buf = mmap(NULL, FAULT_BUF_PAGES * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		_exit(1);
	madvise(buf, FAULT_BUF_PAGES * page, MADV_NOHUGEPAGE);
	while (!l->go)
		sleep_ns(NSEC / 1000);
	next = now_ns();
	while (!l->stop && k < l->cap) {
		next += NSEC / rate;
		ts.tv_sec = next / NSEC;
		ts.tv_nsec = next % NSEC;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		if (k && k % FAULT_BUF_PAGES == 0)
			madvise(buf, FAULT_BUF_PAGES * page, MADV_DONTNEED);
		l->e[k].b = now_ns();
		((volatile char *)buf)[(k % FAULT_BUF_PAGES) * page] = 1;
		l->e[k].a = now_ns();
		__atomic_store_n(&l->n, ++k, __ATOMIC_RELEASE);
	}
	_exit(0);
}

/* Faults surely done by @t (finished by then) and possibly done (begun). */
static uint64_t flog_lo(const struct flog *l, uint64_t n, uint64_t t)
{
	uint64_t lo = 0, hi = n;

	while (lo < hi) {
		uint64_t m = (lo + hi) / 2;

		if (l->e[m].a <= t)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

static uint64_t flog_hi(const struct flog *l, uint64_t n, uint64_t t)
{
	uint64_t lo = 0, hi = n;

	while (lo < hi) {
		uint64_t m = (lo + hi) / 2;

		if (l->e[m].b <= t)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/*
 * Error of a measured delta over [t0, t1]: each end is read at some
 * instant of [xb, xa]; the true delta lies between the fewest and the
 * most faults those instants allow; 0 if the measurement is in between.
 */
static double flog_err(const struct flog *l, uint64_t n, uint64_t t0b, uint64_t t0a,
		       uint64_t t1b, uint64_t t1a, double measured, double *truth)
{
	double tlo = (double)flog_lo(l, n, t1b) - (double)flog_hi(l, n, t0a);
	double thi = (double)flog_hi(l, n, t1a) - (double)flog_lo(l, n, t0b);

	*truth = (tlo + thi) / 2;
	if (measured < tlo)
		return measured - tlo;
	if (measured > thi)
		return measured - thi;
	return 0;
}

struct errs {
	double *rel, *abs_;
	int n, cap;
};

static void errs_add(struct errs *e, double err, double truth)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 256;
		e->rel = realloc(e->rel, e->cap * sizeof(double));
		e->abs_ = realloc(e->abs_, e->cap * sizeof(double));
		if (!e->rel || !e->abs_)
			die("out of memory");
	}
	e->abs_[e->n] = fabs(err);
	e->rel[e->n] = truth > 0 ? fabs(err) / truth * 100 : (err ? 100 : 0);
	e->n++;
}

static double errs_report(const char *bench, const char *what, struct errs *e)
{
	char metric[192];
	double p99;

	if (!e->n) {
		snprintf(metric, sizeof(metric), "%s: no deltas", what);
		result(bench, metric, "%", NAN, NAN, NAN, "-", "-");
		return NAN;
	}
	p99 = pct(e->rel, e->n, 0.99);
	note("%s: %d deltas, abs error p50 %.2f p99 %.2f max %.2f; relative p50 %.2f%% p99 %.2f%% max %.2f%%",
	     what, e->n, pct(e->abs_, e->n, 0.5), pct(e->abs_, e->n, 0.99), pct(e->abs_, e->n, 1),
	     pct(e->rel, e->n, 0.5), p99, pct(e->rel, e->n, 1));
	snprintf(metric, sizeof(metric), "%s: abs(error) / truth, median (min / max; %d deltas)", what, e->n);
	result(bench, metric, "%", pct(e->rel, e->n, 0.5), pct(e->rel, e->n, 0), pct(e->rel, e->n, 1),
	       "-", "-");
	snprintf(metric, sizeof(metric), "%s: abs(error) / truth, p99", what);
	result(bench, metric, "%", p99, p99, p99, "-", "-");
	return p99;
}

#define P9_MAX_RATES	4

/*
 * P9: processes faulting at steady known rates, each in a cgroup of its
 * own, and a spinning process in another, watched at the same time by a
 * per-process mp3prof session at 20 Hz, a 20 Hz poller of the cgroups'
 * memory.stat / cpu.stat and perf stat -I 50 on the spinner's task-clock.
 */
static int cmd_accuracy(double secs, const char *perf, int nr, char **rates)
{
	static char buf[1 << 16];
	struct flog *log[P9_MAX_RATES];
	size_t loglen[P9_MAX_RATES];
	pid_t fpid[P9_MAX_RATES], spin;
	unsigned int rate[P9_MAX_RATES];
	char cgname[P9_MAX_RATES][32], metric[192];
	struct { uint64_t b, a; long long v; } *poll_f[P9_MAX_RATES], *poll_c;
	struct errs fe_m[P9_MAX_RATES] = {}, fe_c[P9_MAX_RATES] = {}, ce[3] = {};
	uint64_t t_go, t_end, next, nlog[P9_MAX_RATES];
	int rounds = (int)(secs * 20) + 8, k, i, np = 0;
	bool cg = cg_available();
	struct tool pt = { .pid = 0 };
	struct ring r;
	char spid[16];

	if (nr > P9_MAX_RATES)
		nr = P9_MAX_RATES;
	if (!cg)
		note("P9: no cgroup v2 memory controller: mp3prof only");
	/*
	 * The poller, the faulters and perf on CPU 0, the spinner alone on
	 * the last CPU, so that it really runs all of every interval.
	 */
	if (nr_cpus() > 1)
		pin_cpu(0);
	for (i = 0; i < nr; i++) {
		rate[i] = atoi(rates[i]);
		log[i] = flog_new((uint64_t)((secs + 2) * rate[i]) + 16, &loglen[i]);
		fpid[i] = faulter_fork(log[i], loglen[i], rate[i]);
		snprintf(cgname[i], sizeof(cgname[i]), "bench-f%u", rate[i]);
		if (cg) {
			cg_make(cgname[i]);
			cg_move(cgname[i], fpid[i]);
		}
		poll_f[i] = calloc(rounds, sizeof(*poll_f[i]));
	}
	poll_c = calloc(rounds, sizeof(*poll_c));
	spin = spinner_fork();
	if (cg) {
		cg_make("bench-spin");
		cg_move("bench-spin", spin);
	}
	session_open_cfg(&r, MP3PROF_SESSION_PER_PROCESS, 0, 1024, nr + 1);
	for (i = 0; i < nr; i++)
		session_add(&r, fpid[i]);
	session_add(&r, spin);
	if (perf) {
		char line[4096];
		double ts, v;
		char *argv[] = { (char *)perf, "stat", "-I", "50", "-x", ",", "-e", "task-clock",
				 "-p", spid, NULL };

		snprintf(spid, sizeof(spid), "%d", spin);
		tool_start(&pt, argv);
		while (tool_line(&pt, line, sizeof(line), 30000) > 0 &&
		       !perf_line(line, "task-clock", &ts, &v))
			;
	}
	sleep_ns(NSEC / 5);
	for (i = 0; i < nr; i++)
		log[i]->go = 1;
	t_go = now_ns();
	/* Poll the cgroups on a 50 ms grid, each file's read time stamped. */
	next = t_go;
	for (k = 0; k < rounds - 8 && now_ns() < t_go + (uint64_t)(secs * NSEC); k++) {
		for (i = 0; cg && i < nr; i++) {
			poll_f[i][k].b = now_ns();
			if (cg_read(cgname[i], "memory.stat", buf, sizeof(buf)))
				die("read %s/memory.stat: %s", cgname[i], strerror(errno));
			poll_f[i][k].a = now_ns();
			poll_f[i][k].v = cg_key(buf, "pgfault");
		}
		if (cg) {
			poll_c[k].b = now_ns();
			if (cg_read("bench-spin", "cpu.stat", buf, sizeof(buf)))
				die("read bench-spin/cpu.stat: %s", strerror(errno));
			poll_c[k].a = now_ns();
			poll_c[k].v = cg_key(buf, "usage_usec");
		}
		np = k + 1;
		next += NSEC / 20;
		if (now_ns() < next)
			sleep_ns(next - now_ns());
		else
			next = now_ns();
	}
	t_end = now_ns();
	for (i = 0; i < nr; i++) {
		log[i]->stop = 1;
		waitpid(fpid[i], NULL, 0);
		nlog[i] = __atomic_load_n(&log[i]->n, __ATOMIC_ACQUIRE);
		note("P9: faulter at %u/s logged %" PRIu64 " faults in %.2f s", rate[i], nlog[i],
		     (t_end - t_go) / 1e9);
	}

	/* mp3prof: the per-process records, deltas inside the steady window. */
	{
		uint64_t head = ring_head(&r), seq, prev_t[P9_MAX_RATES + 1] = {};
		uint64_t st = 0;

		for (seq = head > r.mask + 1 ? head - r.mask - 1 : 0; seq < head; seq++) {
			union { struct mp3prof_sample s; struct mp3prof_proc_record p; } u;

			if (!ring_get_rec(&r, seq, &u))
				continue;
			if (u.s.type == MP3PROF_RECORD_SAMPLE) {
				st = u.s.time_ns;
				continue;
			}
			for (i = 0; i <= nr; i++) {
				pid_t who = i < nr ? fpid[i] : spin;
				double truth, e;

				if ((pid_t)u.p.pid != who)
					continue;
				if (prev_t[i] && prev_t[i] > t_go + NSEC / 5 && st < t_end) {
					if (i < nr) {
						e = flog_err(log[i], nlog[i], prev_t[i], prev_t[i], st, st,
							     (double)u.p.min_flt, &truth);
						errs_add(&fe_m[i], e, truth);
					} else {
						truth = (double)(st - prev_t[i]);
						e = ((double)u.p.cpu_ns - truth) / truth;
						errs_add(&ce[0], (double)u.p.cpu_ns - truth, truth);
						if (fabs(e) < 0.01)
							e = 0;
					}
					if (e)
						note("P9: mp3prof record %" PRIu64 " (process %d of the sample, pid %d) off: "
						     "%s %.0f, truth %.1f, sample at %.3f s",
						     seq, i + 1, who, i < nr ? "faults" : "cpu_ns",
						     i < nr ? (double)u.p.min_flt : (double)u.p.cpu_ns,
						     truth, (st - t_go) / 1e9);
				}
				prev_t[i] = st;
			}
		}
	}
	ring_close(&r);
	/* The cgroup poller's deltas. */
	for (k = 1; cg && k < np; k++) {
		double truth, e;

		if (poll_f[0][k - 1].b < t_go + NSEC / 5)
			continue;
		for (i = 0; i < nr; i++) {
			e = flog_err(log[i], nlog[i], poll_f[i][k - 1].b, poll_f[i][k - 1].a,
				     poll_f[i][k].b, poll_f[i][k].a,
				     (double)(poll_f[i][k].v - poll_f[i][k - 1].v), &truth);
			errs_add(&fe_c[i], e, truth);
		}
		truth = ((double)(poll_c[k].a + poll_c[k].b) - (double)(poll_c[k - 1].a + poll_c[k - 1].b)) / 2;
		errs_add(&ce[1], (double)(poll_c[k].v - poll_c[k - 1].v) * 1000 - truth, truth);
	}
	/* perf: task-clock per interval against its own interval stamps. */
	if (perf) {
		char line[4096];
		double ts, v, pts = -1;
		int skip = 4;

		kill(pt.pid, SIGINT);
		while (tool_line(&pt, line, sizeof(line), 5000) > 0) {
			if (!perf_line(line, "task-clock", &ts, &v))
				continue;
			if (pts >= 0 && !isnan(v) && --skip < 0)
				errs_add(&ce[2], v / 1e3 - (ts - pts), ts - pts);
			pts = ts;
		}
		tool_stop(&pt, SIGINT, false);
	}
	idle_kill(spin);
	if (cg) {
		for (i = 0; i < nr; i++)
			cg_remove(cgname[i]);
		cg_remove("bench-spin");
	}

	for (i = 0; i < nr; i++) {
		double pm, pc;

		snprintf(metric, sizeof(metric), "%u faults/s, mp3prof 50 ms fault delta", rate[i]);
		pm = errs_report("P9", metric, &fe_m[i]);
		if (cg) {
			snprintf(metric, sizeof(metric), "%u faults/s, cgroup memory.stat pgfault 50 ms delta",
				 rate[i]);
			pc = errs_report("P9", metric, &fe_c[i]);
			snprintf(metric, sizeof(metric),
				 "%u faults/s: p99 relative error, mp3prof vs cgroup (min = mp3prof, max = cgroup)",
				 rate[i]);
			result("P9", metric, "%", pm, pm, pc, "mp3prof < cgroup",
			       pm < pc ? "yes" : "no");
		}
		munmap(log[i], loglen[i]);
		free(poll_f[i]);
	}
	errs_report("P9", "spinning process, mp3prof cpu_ns per 50 ms sample vs time_ns interval", &ce[0]);
	if (cg)
		errs_report("P9", "spinning process, cgroup cpu.stat usage_usec per 50 ms vs read interval", &ce[1]);
	if (perf)
		errs_report("P9", "spinning process, perf stat -I 50 task-clock vs its interval stamps", &ce[2]);
	free(poll_c);
	return 0;
}

/*
 * P10: lossless at exit.  A child faults K pages, sleeps 1.5 s, faults K
 * more and exits at once; its parent reaps it at once.  Each tool's sum of
 * what it reported against the truth (wait4()'s ru_minflt minus the count
 * /proc/PID/stat showed while the child waited to start).
 */
static int cmd_exit(int reps, long pages, const char *perf, const char *pidstat)
{
	double *v[5];
	static const char *const name[5] = {
		"mp3prof (per-process session, sum of the child's records)",
		"perf stat -I 50 -e minor-faults (sum of its intervals)",
		"pidstat -h -r 1 (sum of minflt/s x 1 s)",
		"cgroup memory.stat pgfault, read right after the reaping",
		"cgroup memory.stat pgfault, read 2.5 s after the reaping",
	};
	bool cg = cg_available();
	char metric[192];
	int k, j;

	for (j = 0; j < 5; j++)
		if (!(v[j] = calloc(reps, sizeof(double))))
			die("out of memory");
	for (k = 0; k < reps; k++) {
		int go[2], col = -1;
		long m0 = 0, pg0 = 0, pg1 = 0, pg2 = 0;
		struct tool pt = { .pid = 0 }, ps = { .pid = 0 };
		char spid[16], line[4096], buf[1 << 14];
		double sum_perf = 0, sum_ps = 0, ts, val, truth;
		uint64_t sum_m = 0, seq;
		struct rusage ru;
		struct ring r;
		bool exited = false;
		pid_t child;
		int st;

		if (pipe(go))
			die("pipe: %s", strerror(errno));
		child = fork();
		if (child < 0)
			die("fork: %s", strerror(errno));
		if (!child) {
			size_t page = getpagesize(), off;
			char c, *p;

			close(go[1]);
			p = mmap(NULL, 2 * pages * page, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED || read(go[0], &c, 1) != 1)
				_exit(1);
			for (off = 0; off < pages * page; off += page)
				((volatile char *)p)[off] = 1;
			sleep_ns(3 * NSEC / 2);
			for (; off < 2 * pages * page; off += page)
				((volatile char *)p)[off] = 1;
			_exit(0);
		}
		close(go[0]);
		snprintf(spid, sizeof(spid), "%d", child);
		if (cg) {
			cg_make("bench-exit");
			cg_move("bench-exit", child);
			if (!cg_read("bench-exit", "memory.stat", buf, sizeof(buf)))
				pg0 = cg_key(buf, "pgfault");
		}
		session_open_cfg(&r, MP3PROF_SESSION_PER_PROCESS, 0, 0, 1);
		session_add(&r, child);
		if (perf) {
			char *argv[] = { (char *)perf, "stat", "-I", "50", "-x", ",", "-e",
					 "minor-faults", "-p", spid, NULL };

			tool_start(&pt, argv);
			while (tool_line(&pt, line, sizeof(line), 30000) > 0 &&
			       !perf_line(line, "minor-faults", &ts, &val))
				;
		}
		if (pidstat) {
			char *argv[] = { (char *)pidstat, "-h", "-r", "1", "-p", spid, NULL };

			tool_start(&ps, argv);
		}
		sleep_ns(NSEC / 5);
		/*
		 * The child is blocked in read() since before the ADD: its
		 * count now is the one every tool started from.
		 */
		{
			char path[64], sb[1024];
			struct pstat ps0;

			snprintf(path, sizeof(path), "/proc/%d/stat", child);
			if (read_file(path, sb, sizeof(sb)) || parse_stat(sb, &ps0))
				die("P10: %s unreadable", path);
			m0 = ps0.minflt;
		}
		if (write(go[1], "g", 1) != 1)
			die("P10: child did not start");
		if (wait4(child, &st, 0, &ru) != child)
			die("wait4: %s", strerror(errno));
		truth = ru.ru_minflt - m0;
		if (cg && !cg_read("bench-exit", "memory.stat", buf, sizeof(buf)))
			pg1 = cg_key(buf, "pgfault");
		/* mp3prof: every record of the child, up to its EXITED one. */
		for (int w = 0; w < 40 && !exited; w++) {
			uint64_t head = ring_head(&r);

			sum_m = 0;
			for (seq = 0; seq < head; seq++) {
				union { struct mp3prof_sample s; struct mp3prof_proc_record p; } u;

				if (!ring_get_rec(&r, seq, &u))
					die("P10: record %" PRIu64 " lost", seq);
				if (u.p.type == MP3PROF_RECORD_PROC && (pid_t)u.p.pid == child) {
					sum_m += u.p.min_flt;
					exited |= !!(u.p.flags & MP3PROF_PROC_EXITED);
				}
			}
			if (!exited)
				sleep_ns(NSEC / 20);
		}
		ring_close(&r);
		if (!exited)
			note("P10: no EXITED record for the child");
		sleep_ns(5 * NSEC / 2);
		if (cg && !cg_read("bench-exit", "memory.stat", buf, sizeof(buf)))
			pg2 = cg_key(buf, "pgfault");
		if (perf) {
			/* perf notices the exit itself; SIGINT if it did not. */
			while (tool_line(&pt, line, sizeof(line), 1000) > 0)
				if (perf_line(line, "minor-faults", &ts, &val) && !isnan(val))
					sum_perf += val;
			tool_stop(&pt, SIGINT, false);
		}
		if (pidstat) {
			while (tool_line(&ps, line, sizeof(line), 100) > 0) {
				if (!strncmp(line, "# Time", 6)) {
					char *tok, *save;
					int i = 0;

					for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++)
						if (!strcmp(tok, "minflt/s"))
							col = i - 1;	/* "#" is a token of its own */
				} else if (col > 0 && line[0] >= '0' && line[0] <= '9') {
					char *tok, *save;
					int i = 0;

					for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++)
						if (i == col)
							sum_ps += atof(tok);
				}
			}
			tool_stop(&ps, SIGKILL, false);
		}
		if (cg)
			cg_remove("bench-exit");
		close(go[1]);
		v[0][k] = sum_m / truth;
		v[1][k] = perf ? sum_perf / truth : NAN;
		v[2][k] = pidstat ? sum_ps / truth : NAN;
		v[3][k] = cg ? (pg1 - pg0) / truth : NAN;
		v[4][k] = cg ? (pg2 - pg0) / truth : NAN;
		note("P10 rep %d: truth %.0f faults; mp3prof %" PRIu64 ", perf %.0f, pidstat %.0f, cgroup %ld then %ld",
		     k, truth, sum_m, sum_perf, sum_ps, pg1 - pg0, pg2 - pg0);
	}
	for (j = 0; j < 5; j++) {
		if ((j == 1 && !perf) || (j == 2 && !pidstat) || (j >= 3 && !cg))
			continue;
		snprintf(metric, sizeof(metric), "%s / true faults", name[j]);
		result_s("P10", metric, "x", stats_of(v[j], reps), j == 0 ? "1" : "reported",
			 j == 0 ? (stats_of(v[j], reps).min == 1 && stats_of(v[j], reps).max == 1 ? "yes" : "no")
				: "-");
		free(v[j]);
	}
	return 0;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench info | procs N | rate SECS RATE... | fault MB TRIPLES [PERF] |\n"
		"       follow SAMPLES REPS | monitor PATH SECS REPS | sessions S N |\n"
		"       cpu SECS ROUNDS SAMPLES | compare N REPS PERF|- PIDSTAT|- |\n"
		"       accuracy SECS PERF|- RATE... | exit REPS PAGES PERF|- PIDSTAT|- |\n"
		"       p1old N REPS OLD.ko NEW.ko LABEL\n");
	exit(2);
}

/* "-" or "" for a tool that is not there. */
static const char *tool_arg(const char *s)
{
	return !s || !*s || !strcmp(s, "-") ? NULL : s;
}

int main(int argc, char **argv)
{
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "info"))
		return cmd_info();
	if (!strcmp(argv[1], "procs") && argc == 3)
		return cmd_procs(atoi(argv[2]));
	if (!strcmp(argv[1], "rate") && argc >= 4)
		return cmd_rate(atof(argv[2]), argc - 3, argv + 3);
	if (!strcmp(argv[1], "fault") && (argc == 4 || argc == 5))
		return cmd_fault(atol(argv[2]), atoi(argv[3]), tool_arg(argc == 5 ? argv[4] : NULL));
	if (!strcmp(argv[1], "follow") && argc == 4)
		return cmd_follow(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(argv[1], "monitor") && argc == 5)
		return cmd_monitor(argv[2], argv[3], atoi(argv[4]));
	if (!strcmp(argv[1], "sessions") && argc == 4)
		return cmd_sessions(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(argv[1], "cpu") && argc == 5)
		return cmd_cpu(atof(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(argv[1], "compare") && argc == 6)
		return cmd_compare(atoi(argv[2]), atoi(argv[3]), tool_arg(argv[4]), tool_arg(argv[5]));
	if (!strcmp(argv[1], "accuracy") && argc >= 5)
		return cmd_accuracy(atof(argv[2]), tool_arg(argv[3]), argc - 4, argv + 4);
	if (!strcmp(argv[1], "p1old") && argc == 7)
		return cmd_p1old(atoi(argv[2]), atoi(argv[3]), argv[4], argv[5], argv[6]);
	if (!strcmp(argv[1], "exit") && argc == 6)
		return cmd_exit(atoi(argv[2]), atol(argv[3]), tool_arg(argv[4]), tool_arg(argv[5]));
	usage();
	return 2;
}
