// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof benchmarks, run inside the QEMU guest by tooling/bench/guest.sh.
 *
 *   bench info                      guest configuration (I| lines)
 *   bench procs N                   P1 sampling cost vs /proc polling, and
 *                                   P4 register/unregister/list cost, with
 *                                   N idle processes
 *   bench rate SECS RATE            P2 rate accuracy of the loaded module
 *   bench fault MB REPS             P3 fault cost, registered vs not
 *   bench follow SAMPLES REPS       P5 syscalls/wakeups of a follow reader
 *   bench monitor PATH SECS REPS    P5 the same for mp3prof-monitor --syscalls
 *   bench sessions S N              P6 sampling cost of S sessions of N idle
 *                                   processes against 1 session of S*N, and
 *                                   of an idle session
 *
 * Results are printed one per line, for tooling/bench/run.sh to tabulate:
 *   R|bench|metric|unit|median|min|max|goal|met
 *   I|key|value
 * Everything else (progress, raw figures) goes to stderr.  Absolute times in
 * a TCG guest mean little: the figures that matter are ratios and per-item
 * costs measured side by side in the same run.
 *
 * Build: gcc -O2 -static -I<tree>/include/uapi -o bench bench.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
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
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

	snprintf(bench, sizeof(bench), "P4");
	snprintf(metric, sizeof(metric), "N=%d register (one write each)", n);
	result_s(bench, metric, "ns/proc", stats_of(reg, P4_REPS), "-", "-");
	snprintf(metric, sizeof(metric), "N=%d unregister (one write each)", n);
	result_s(bench, metric, "ns/proc", stats_of(unreg, P4_REPS), "-", "-");
	snprintf(metric, sizeof(metric), "N=%d read status listing", n);
	result_s(bench, metric, "ns/entry", stats_of(list, P4_REPS), "-", "-");
	return 0;
}

/* ---------------------------------------------------------- P2: the rate */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define P2_WINDOWS	5

static int cmd_rate(double secs, unsigned int rate)
{
	uint64_t *t, *jf, *iv, first, head, next, deadline, lost = 0;
	double win[P2_WINDOWS], err, drift_end, dmin = 0, dmax = 0, jdrift_max = 0;
	double period_ns = (double)NSEC / rate, span, p99;
	size_t cap = (size_t)(secs * rate * 1.5) + 64, n = 0, i, w;
	unsigned int hz, restarts = 0;
	char metric[96], goal[64];
	struct ring r;
	pid_t child;

	t = calloc(cap, sizeof(*t));
	jf = calloc(cap, sizeof(*jf));
	iv = calloc(cap, sizeof(*iv));
	if (!t || !jf || !iv)
		die("out of memory");
	ring_open(&r);
	hz = r.hdr->hz;
	if (r.hdr->rate != rate)
		die("module rate is %u, expected %u", r.hdr->rate, rate);

	child = idle_fork();
	first = ring_head(&r);
	ctl_must('R', child);
	deadline = now_ns() + (uint64_t)(secs * NSEC);
	next = first;
	/* Follow the ring like a monitor: one read() per wake-up. */
	while (now_ns() < deadline) {
		head = ring_wait(&r);
		if (head - next > r.mask + 1) {
			lost += head - next - (r.mask + 1);
			next = head - (r.mask + 1);
		}
		for (; next < head && n < cap; next++) {
			struct mp3prof_sample s;

			if (!ring_get(&r, next, &s)) {
				lost++;
				continue;
			}
			t[n] = s.time_ns;
			jf[n] = s.jiffies;
			n++;
		}
	}
	ctl_must('U', child);
	idle_kill(child);
	ring_close(&r);
	if (n < 2 * P2_WINDOWS + 1)
		die("only %zu samples", n);

	span = (double)(t[n - 1] - t[0]);
	err = ((n - 1) * NSEC / span - rate) / rate * 100;
	drift_end = (double)(t[n - 1] - t[0]) - (n - 1) * period_ns;
	for (i = 0; i < n; i++) {
		double d = (double)(t[i] - t[0]) - i * period_ns;
		/* Sample i is number i + 1 of the grid, due floor((i+1) HZ / rate). */
		double jd = (double)(jf[i] - jf[0]) -
			    (double)(((i + 1) * (uint64_t)hz) / rate - hz / rate);

		dmin = d < dmin ? d : dmin;
		dmax = d > dmax ? d : dmax;
		if (fabs(jd) > fabs(jdrift_max))
			jdrift_max = jd;
		if (i) {
			iv[i - 1] = t[i] - t[i - 1];
			if (jf[i] - jf[i - 1] > (hz + rate - 1) / rate + 1)
				restarts++;
		}
	}
	for (w = 0; w < P2_WINDOWS; w++) {
		size_t a = w * (n - 1) / P2_WINDOWS, b = (w + 1) * (n - 1) / P2_WINDOWS;

		win[w] = ((double)(b - a) * NSEC / (t[b] - t[a]) - rate) / rate * 100;
	}
	{
		double mean = span / (n - 1);
		struct stats ws = stats_of(win, P2_WINDOWS);

		qsort(iv, n - 1, sizeof(*iv), cmp_u64);
		p99 = iv[(size_t)ceil(0.99 * (n - 1)) - 1];
		note("rate %u: %zu samples in %.1f s (expected %.0f), %" PRIu64
		     " lost; interval mean %.3f ms p99 %.3f ms min %.3f ms max %.3f ms;"
		     " rate error %+.4f%%; drift at end %+.3f ms, range %+.3f..%+.3f ms;"
		     " jiffies drift max %+.0f; late intervals %u",
		     rate, n, secs, secs * rate, lost, mean / 1e6, p99 / 1e6,
		     iv[0] / 1e6, iv[n - 2] / 1e6, err, drift_end / 1e6,
		     dmin / 1e6, dmax / 1e6, jdrift_max, restarts);

		snprintf(metric, sizeof(metric), "%u Hz, %.0f s: samples (expected %.0f)",
			 rate, secs, secs * rate);
		result("P2", metric, "samples", n, n, n, "-", "-");
		snprintf(metric, sizeof(metric), "%u Hz: interval mean / p99 / max", rate);
		result("P2", metric, "ms", mean / 1e6, p99 / 1e6, iv[n - 2] / 1e6,
		       "-", "-");
		snprintf(metric, sizeof(metric),
			 "%u Hz: long-run rate error (min/max: %d windows)",
			 rate, P2_WINDOWS);
		result("P2", metric, "%", err, ws.min, ws.max, "abs(err) <= 0.1",
		       fabs(err) <= 0.1 ? "yes" : "no");
		snprintf(metric, sizeof(metric),
			 "%u Hz: drift t_k - (t_0 + k/rate) at end (min/max over the run)",
			 rate);
		snprintf(goal, sizeof(goal), "abs(end) <= 1 jiffy (%.0f ms)", 1e3 / hz);
		result("P2", metric, "ms", drift_end / 1e6, dmin / 1e6,
		       dmax / 1e6, goal,
		       fabs(drift_end) <= (double)NSEC / hz ? "yes" : "no");
		{
			double jspan = (double)(jf[n - 1] - jf[0]);
			double jerr = ((n - 1) * (double)hz / jspan - rate) / rate * 100;
			double tick = (jspan * NSEC / hz / span - 1) * 100;

			snprintf(metric, sizeof(metric),
				 "%u Hz: rate error in jiffies ((samples-1) HZ / (jiffies_last - jiffies_first))",
				 rate);
			result("P2", metric, "%", jerr, jerr, jerr, "-", "-");
			snprintf(metric, sizeof(metric),
				 "%u Hz: guest jiffies vs CLOCK_MONOTONIC over the run (tick loss)",
				 rate);
			result("P2", metric, "%", tick, tick, tick, "-", "-");
		}
		snprintf(metric, sizeof(metric),
			 "%u Hz: jiffies of sample k - grid (max deviation; intervals > 1 jiffy late: %u)",
			 rate, restarts);
		result("P2", metric, "jiffies", jdrift_max, jdrift_max, jdrift_max,
		       "-", "-");
		if (lost)
			note("rate %u: %" PRIu64 " samples lost", rate, lost);
	}
	return 0;
}

/* ------------------------------------------------------ P3: fault path */

static double fault_run(size_t len, bool registered, long *faults)
{
	struct rusage ru0, ru1;
	size_t page = getpagesize(), off;
	uint64_t t0, t1;
	char *p;

	if (registered)
		ctl_must('R', getpid());
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
	if (registered)
		ctl_must('U', getpid());
	*faults = ru1.ru_minflt - ru0.ru_minflt;
	return (double)(t1 - t0) / (*faults ? *faults : 1);
}

static int cmd_fault(long mb, int reps)
{
	double *a = calloc(reps, sizeof(double)), *b = calloc(reps, sizeof(double));
	double *pair = calloc(reps, sizeof(double));
	long avail_kb = 0, faults;
	size_t len;
	struct stats as, bs, ps;
	char metric[96], line[256];
	FILE *f;
	int k;

	if (!a || !b || !pair)
		die("out of memory");
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

	fault_run(len, false, &faults);		/* warm-up */
	fault_run(len, true, &faults);
	for (k = 0; k < reps; k++) {
		/* A B, then B A: neither always runs first. */
		if (k % 2) {
			b[k] = fault_run(len, true, &faults);
			a[k] = fault_run(len, false, &faults);
		} else {
			a[k] = fault_run(len, false, &faults);
			b[k] = fault_run(len, true, &faults);
		}
		pair[k] = (b[k] - a[k]) / a[k] * 100;
		note("fault rep %d: %ld faults, not registered %.1f ns/fault, registered %.1f ns/fault (%+.2f%%)",
		     k, faults, a[k], b[k], pair[k]);
	}
	as = stats_of(a, reps);
	bs = stats_of(b, reps);
	ps = stats_of(pair, reps);
	snprintf(metric, sizeof(metric), "%ld MiB fresh pages, not registered", mb);
	result_s("P3", metric, "ns/fault", as, "-", "-");
	snprintf(metric, sizeof(metric), "%ld MiB fresh pages, registered", mb);
	result_s("P3", metric, "ns/fault", bs, "-", "-");
	result("P3", "difference of the medians", "%",
	       (bs.med - as.med) / as.med * 100, (bs.med - as.med) / as.med * 100,
	       (bs.med - as.med) / as.med * 100, "<= 1",
	       (bs.med - as.med) / as.med * 100 <= 1 ? "yes" : "no");
	result_s("P3", "difference per adjacent pair (registered - not)", "%", ps,
		 "median <= 1", ps.med <= 1 ? "yes" : "no");
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

/* A session of its own on a new file, mapped like ring_open() maps. */
static void session_open(struct ring *r)
{
	struct mp3prof_session_config cfg = { 0 };
	struct mp3prof_header *h;
	size_t len, page = getpagesize();

	memset(r, 0, sizeof(*r));
	r->fd = open(DEV, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		die("%s: %s", DEV, strerror(errno));
	if (ioctl(r->fd, MP3PROF_IOC_SESSION, &cfg))
		die("MP3PROF_IOC_SESSION: %s", strerror(errno));
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

static void session_add(struct ring *r, pid_t pid)
{
	struct mp3prof_target t = { .flags = MP3PROF_TARGET_PID, .pid = pid };

	if (ioctl(r->fd, MP3PROF_IOC_ADD, &t))
		die("MP3PROF_IOC_ADD %d: %s", pid, strerror(errno));
}

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

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench info | procs N | rate SECS RATE | fault MB REPS |\n"
		"       follow SAMPLES REPS | monitor PATH SECS REPS | sessions S N\n");
	exit(2);
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
	if (!strcmp(argv[1], "rate") && argc == 4)
		return cmd_rate(atof(argv[2]), atoi(argv[3]));
	if (!strcmp(argv[1], "fault") && argc == 4)
		return cmd_fault(atol(argv[2]), atoi(argv[3]));
	if (!strcmp(argv[1], "follow") && argc == 4)
		return cmd_follow(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(argv[1], "monitor") && argc == 5)
		return cmd_monitor(argv[2], argv[3], atoi(argv[4]));
	if (!strcmp(argv[1], "sessions") && argc == 4)
		return cmd_sessions(atoi(argv[2]), atoi(argv[3]));
	usage();
	return 2;
}
