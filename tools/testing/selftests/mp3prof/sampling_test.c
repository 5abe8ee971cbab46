// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof sampling tests: when samples are taken, and that the numbers in
 * the listing and in the ring match what the sampled processes measured
 * themselves (CLOCK_PROCESS_CPUTIME_ID, getrusage()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

#define MS	1000000ULL

FIXTURE(sampling) {
	struct mp3_ring r;
};

FIXTURE_SETUP(sampling)
{
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	self->r.fd = -1;
	ASSERT_EQ(0, mp3_prepare())
		TH_LOG("processes are registered already and cannot be removed");
	ASSERT_EQ(0, mp3_ring_open(&self->r, 0));
	/* a previous test may still have its last sample pending */
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 3000))
		TH_LOG("samples are taken with nothing registered");
}

FIXTURE_TEARDOWN(sampling)
{
	mp3_cleanup();
	mp3_ring_close(&self->r);
}

/*
 * The listing and the ring agree: the counters listed, summed over the
 * processes, equal the sum of the records taken since @h0 (nothing else
 * was registered since then and nothing was unregistered).
 */
static void check_sums(struct __test_metadata *_metadata,
		       const struct mp3_ring *r, uint64_t h0, uint64_t h1,
		       const struct mp3_entry *ents, int n)
{
	struct mp3_sum sum;
	uint64_t cpu = 0, min = 0, maj = 0;
	int i;

	for (i = 0; i < n; i++) {
		cpu += ents[i].cpu_ns;
		min += ents[i].min_flt;
		maj += ents[i].maj_flt;
	}
	ASSERT_EQ(0, mp3_ring_sum(r, h0, h1, &sum));
	EXPECT_EQ(min, sum.min_flt);
	EXPECT_EQ(maj, sum.maj_flt);
	EXPECT_EQ(cpu, sum.cpu_ns);
	EXPECT_EQ(n, sum.last_procs);
	EXPECT_EQ(0, sum.exited);
}

TEST_F(sampling, idle_no_samples)
{
	uint64_t h = mp3_head(&self->r);

	mp3_msleep(600);
	EXPECT_EQ(h, mp3_head(&self->r));
}

TEST_F(sampling, start_stop)
{
	struct mp3_worker w;
	struct mp3_sum sum;
	uint64_t h0, h1;

	ASSERT_EQ(0, mp3_worker_start(&w));
	h0 = mp3_head(&self->r);
	ASSERT_EQ(0, mp3_register(w.pid));
	/* the first registration starts sampling */
	ASSERT_EQ(0, mp3_wait_samples(&self->r, 3, 2000));
	h1 = mp3_head(&self->r);
	ASSERT_EQ(0, mp3_ring_sum(&self->r, h0, h1, &sum));
	EXPECT_EQ(1, sum.max_procs);
	EXPECT_EQ(1, sum.last_procs);
	EXPECT_EQ(0, sum.exited);

	/* the last removal stops it */
	ASSERT_EQ(0, mp3_unregister(w.pid));
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 2000))
		TH_LOG("samples continue after the last unregistration");
	h1 = mp3_head(&self->r);
	mp3_msleep(400);
	EXPECT_EQ(h1, mp3_head(&self->r));

	/* and it starts again */
	ASSERT_EQ(0, mp3_register(w.pid));
	EXPECT_EQ(0, mp3_wait_samples(&self->r, 2, 2000));
	ASSERT_EQ(0, mp3_unregister(w.pid));
	EXPECT_EQ(0, mp3_wait_idle(&self->r, 300, 2000));
	mp3_worker_stop(&w);
}

TEST_F(sampling, registration_baseline)
{
	struct mp3_worker w;
	struct mp3_wrep rep;
	struct mp3_entry e;
	struct mp3_sum sum;
	uint64_t h0, h1;

	ASSERT_EQ(0, mp3_worker_start(&w));
	/* activity before the registration is not counted */
	ASSERT_EQ(0, mp3_worker_do(&w, MP3_OP_TOUCH, 1, 1000, &rep));
	ASSERT_EQ(0, mp3_worker_do(&w, MP3_OP_BUSY, 1, 100, &rep));
	ASSERT_LE(1000, rep.min_flt);
	ASSERT_EQ(0, mp3_wait_sleeping(w.pid));

	h0 = mp3_head(&self->r);
	ASSERT_EQ(0, mp3_register(w.pid));
	ASSERT_EQ(0, mp3_wait_samples(&self->r, 3, 2000));
	/* the worker sleeps in read() all along: exactly nothing */
	ASSERT_EQ(1, mp3_snapshot(&self->r, &e, 1, &h1));
	EXPECT_EQ(w.pid, e.pid);
	EXPECT_EQ(0, e.cpu_ns);
	EXPECT_EQ(0, e.min_flt);
	EXPECT_EQ(0, e.maj_flt);
	ASSERT_EQ(0, mp3_ring_sum(&self->r, h0, h1, &sum));
	EXPECT_EQ(0, sum.cpu_ns);
	EXPECT_EQ(0, sum.min_flt);
	EXPECT_EQ(0, sum.maj_flt);
	EXPECT_LE(3, sum.nr);
}

static void minor_faults(struct __test_metadata *_metadata,
			 const struct mp3_ring *r, int nthreads)
{
	const long pages = 1000;
	struct mp3_worker w;
	struct mp3_wrep rep;
	struct mp3_entry e;
	uint64_t h0, h1;

	ASSERT_EQ(0, mp3_worker_start(&w));
	h0 = mp3_head(r);
	ASSERT_EQ(0, mp3_register(w.pid));
	ASSERT_EQ(0, mp3_wait_samples(r, 1, 2000));

	/* each thread touches fresh pages, then exits */
	ASSERT_EQ(0, mp3_worker_do(&w, MP3_OP_TOUCH, nthreads, pages, &rep));
	ASSERT_LE(nthreads * pages, rep.d_min_flt);

	ASSERT_EQ(1, mp3_snapshot(r, &e, 1, &h1));
	TH_LOG("%d threads: %llu minor faults listed, %llu counted, %llu in all",
	       nthreads, e.min_flt, (unsigned long long)rep.d_min_flt,
	       (unsigned long long)rep.min_flt);
	EXPECT_EQ(w.pid, e.pid);
	EXPECT_LE(rep.d_min_flt, e.min_flt);
	EXPECT_GE(rep.min_flt, e.min_flt);
	EXPECT_GE(rep.maj_flt, e.maj_flt);
	EXPECT_GE(rep.cpu_ns + 20 * MS, e.cpu_ns);
	check_sums(_metadata, r, h0, h1, &e, 1);
	mp3_worker_stop(&w);
}

TEST_F(sampling, minor_faults_1thread)
{
	minor_faults(_metadata, &self->r, 1);
}

TEST_F(sampling, minor_faults_4threads)
{
	minor_faults(_metadata, &self->r, 4);
}

static void cpu_time(struct __test_metadata *_metadata,
		     const struct mp3_ring *r, int nthreads)
{
	const long busy_ms = 300;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct mp3_worker w;
	struct mp3_wrep rep;
	struct mp3_entry e;
	uint64_t h0, h1, par;

	ASSERT_EQ(0, mp3_worker_start(&w));
	h0 = mp3_head(r);
	ASSERT_EQ(0, mp3_register(w.pid));
	ASSERT_EQ(0, mp3_wait_samples(r, 1, 2000));

	ASSERT_EQ(0, mp3_worker_do(&w, MP3_OP_BUSY, nthreads, busy_ms, &rep));
	ASSERT_EQ(1, mp3_snapshot(r, &e, 1, &h1));
	TH_LOG("%d threads: %llu ms CPU listed, %llu measured in %llu ms (%llu in all)",
	       nthreads, e.cpu_ns / MS, (unsigned long long)rep.d_cpu_ns / MS,
	       (unsigned long long)rep.d_wall_ns / MS,
	       (unsigned long long)rep.cpu_ns / MS);
	EXPECT_EQ(w.pid, e.pid);
	/* the worker burnt its CPU time inside the registration */
	EXPECT_LE(rep.d_cpu_ns * 3 / 4, e.cpu_ns);
	EXPECT_GE(rep.cpu_ns * 5 / 4 + 20 * MS, e.cpu_ns);
	/* and cannot have used more than its threads could in that time */
	par = nthreads < ncpus ? nthreads : ncpus;
	EXPECT_GE(rep.d_wall_ns * par * 11 / 10 + 50 * MS, e.cpu_ns);
	check_sums(_metadata, r, h0, h1, &e, 1);
	mp3_worker_stop(&w);
}

TEST_F(sampling, cpu_time_1thread)
{
	cpu_time(_metadata, &self->r, 1);
}

TEST_F(sampling, cpu_time_2threads)
{
	cpu_time(_metadata, &self->r, 2);
}

#define NR_WORKERS 3

TEST_F(sampling, several_processes)
{
	struct mp3_worker w[NR_WORKERS];
	struct mp3_wrep rep[NR_WORKERS];
	struct mp3_entry ents[NR_WORKERS + 1];
	uint64_t h0, h1;
	int i, j, n;

	for (i = 0; i < NR_WORKERS; i++)
		ASSERT_EQ(0, mp3_worker_start(&w[i]));
	h0 = mp3_head(&self->r);
	for (i = 0; i < NR_WORKERS; i++)
		ASSERT_EQ(0, mp3_register(w[i].pid));
	ASSERT_EQ(0, mp3_wait_samples(&self->r, 1, 2000));
	for (i = 0; i < NR_WORKERS; i++)
		ASSERT_EQ(0, mp3_worker_do(&w[i], MP3_OP_TOUCH, 1, 300 * (i + 1), &rep[i]));
	ASSERT_EQ(0, mp3_worker_do(&w[0], MP3_OP_BUSY, 1, 100, &rep[0]));

	n = mp3_snapshot(&self->r, ents, NR_WORKERS + 1, &h1);
	ASSERT_EQ(NR_WORKERS, n);
	for (i = 0; i < NR_WORKERS; i++) {
		for (j = 0; j < n && ents[j].pid != w[i].pid; j++)
			;
		ASSERT_GT(n, j) TH_LOG("worker %d not listed", w[i].pid);
		EXPECT_LE(300 * (i + 1), ents[j].min_flt);
		EXPECT_GE(rep[i].min_flt, ents[j].min_flt);
		EXPECT_GE(rep[i].cpu_ns + 20 * MS, ents[j].cpu_ns);
	}
	check_sums(_metadata, &self->r, h0, h1, ents, n);
	for (i = 0; i < NR_WORKERS; i++)
		mp3_worker_stop(&w[i]);
}

FIXTURE(exit) {
	struct mp3_ring r;
};

FIXTURE_VARIANT(exit) {
	bool reap;	/* reap the process at once, or leave a zombie */
	int nthreads;
};

FIXTURE_VARIANT_ADD(exit, reaped) {
	.reap = true,
	.nthreads = 1,
};

FIXTURE_VARIANT_ADD(exit, zombie) {
	.reap = false,
	.nthreads = 1,
};

FIXTURE_VARIANT_ADD(exit, reaped_threads) {
	.reap = true,
	.nthreads = 3,
};

FIXTURE_SETUP(exit)
{
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	self->r.fd = -1;
	ASSERT_EQ(0, mp3_prepare());
	ASSERT_EQ(0, mp3_ring_open(&self->r, 0));
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 3000));
}

FIXTURE_TEARDOWN(exit)
{
	mp3_cleanup();
	mp3_ring_close(&self->r);
}

TEST_F(exit, removed_and_last_interval_counted)
{
	const long pages = 1000;
	struct mp3prof_sample last;
	struct mp3_worker w;
	struct mp3_wrep rep;
	struct mp3_sum sum;
	uint64_t h0, h1;
	int status;

	ASSERT_EQ(0, mp3_worker_start(&w));
	h0 = mp3_head(&self->r);
	ASSERT_EQ(0, mp3_register(w.pid));
	ASSERT_EQ(0, mp3_wait_samples(&self->r, 1, 2000));

	/* touch pages and exit at once: that interval still counts */
	ASSERT_EQ(0, mp3_worker_do(&w, MP3_OP_TOUCH_EXIT, variant->nthreads, pages, &rep));
	if (variant->reap) {
		ASSERT_EQ(w.pid, waitpid(w.pid, &status, 0));
		mp3_untrack_child(w.pid);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}

	/* the exit is noticed and sampling stops, as nothing is left */
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 3000))
		TH_LOG("sampling continues after the registered process exited");
	EXPECT_EQ(0, mp3_count());
	EXPECT_EQ(0, mp3_lookup(w.pid, NULL));
	mp3_untrack_reg(w.pid);

	h1 = mp3_head(&self->r);
	ASSERT_LT(h0, h1);
	ASSERT_EQ(0, mp3_ring_sum(&self->r, h0, h1, &sum));
	TH_LOG("%llu samples, %llu minor faults, process counted %llu (%llu in all)",
	       (unsigned long long)sum.nr, (unsigned long long)sum.min_flt,
	       (unsigned long long)rep.d_min_flt, (unsigned long long)rep.min_flt);
	EXPECT_LE(rep.d_min_flt, sum.min_flt);
	/* exit itself may fault a little, but not a second time all over */
	EXPECT_GE(rep.min_flt + 64, sum.min_flt);
	EXPECT_LE(rep.d_cpu_ns * 3 / 4, sum.cpu_ns);
	EXPECT_EQ(1, sum.exited);
	EXPECT_EQ(1, sum.max_procs);
	ASSERT_EQ(0, mp3_ring_get(&self->r, h1 - 1, &last));
	EXPECT_EQ(1, last.nr_exited);
	EXPECT_EQ(1, last.nr_procs);

	if (!variant->reap) {
		/* still a zombie, and still not listed */
		EXPECT_EQ('Z', mp3_proc_state(w.pid));
		EXPECT_EQ(0, mp3_count());
		ASSERT_EQ(w.pid, waitpid(w.pid, &status, 0));
		mp3_untrack_child(w.pid);
	} else {
		EXPECT_EQ(-ESRCH, mp3_cmd('U', w.pid));
	}
}

/* ------------------------------------------------------------ pid reuse */

struct clone_args_v1 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size;
};

/* What the process that gets the recycled number does: be busy, then exit. */
static void __noreturn reuse_child(void)
{
	size_t ps = mp3_page_size();
	uint64_t end = mp3_now_ns() + 3000 * MS;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (mp3_now_ns() < end) {
		char *m = mmap(NULL, 64 * ps, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t i;

		if (m == MAP_FAILED)
			break;
		for (i = 0; i < 64 * ps; i += ps)
			m[i] = 1;
		munmap(m, 64 * ps);
	}
	syscall(SYS_exit_group, 0);
	for (;;)
		;
}

/* A new process numbered @want: its pid, 0 if we could not, or -errno. */
static pid_t spawn_with_pid(pid_t want, bool *cycled)
{
	struct clone_args_v1 args = { .exit_signal = SIGCHLD };
	long long pid_max;
	pid_t tid = want, pid;
	long i;

	*cycled = false;
	args.set_tid = (uintptr_t)&tid;
	args.set_tid_size = 1;
	pid = syscall(__NR_clone3, &args, sizeof(args));
	if (pid == 0)
		reuse_child();
	if (pid > 0)
		return pid;
	if (errno == EEXIST)
		return 0;

	/* no set_tid (not privileged): go round the pid space */
	pid_max = mp3_read_ull("/proc/sys/kernel/pid_max");
	if (pid_max <= 0 || pid_max > 70000)
		return 0;
	*cycled = true;
	for (i = 0; i < 70000; i++) {
		pid = fork();
		if (pid < 0)
			return -errno;
		if (pid == 0) {
			if (getpid() == want)
				reuse_child();
			_exit(0);
		}
		if (pid == want)
			return pid;
		waitpid(pid, NULL, 0);
	}
	return 0;
}

TEST_F_TIMEOUT(sampling, pid_reuse_not_sampled, 300)
{
	struct mp3prof_sample last;
	struct mp3_sum sum;
	uint64_t h0, h1;
	bool cycled;
	pid_t a, b;

	a = mp3_spawn_sleeper();
	ASSERT_LT(0, a);
	ASSERT_EQ(0, mp3_wait_sleeping(a));
	h0 = mp3_head(&self->r);
	ASSERT_EQ(0, mp3_register(a));
	ASSERT_EQ(0, mp3_wait_samples(&self->r, 2, 2000));

	/* right after a sample: most of a period before the next one */
	ASSERT_EQ(0, mp3_wait_samples(&self->r, 1, 2000));
	mp3_kill_reap(a);
	b = spawn_with_pid(a, &cycled);
	ASSERT_LE(0, b);
	if (b == 0)
		SKIP(return, "could not get pid %d again", a);
	mp3_track_child(b);
	TH_LOG("pid %d reused %s", a, cycled ? "after cycling" : "with clone3()");

	/* the registration ended with the old process: nothing to sample */
	ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 3000))
		TH_LOG("still sampling: the new process %d is sampled", b);
	EXPECT_EQ(0, mp3_count());
	EXPECT_EQ(0, mp3_lookup(b, NULL));
	mp3_untrack_reg(a);

	h1 = mp3_head(&self->r);
	ASSERT_EQ(0, mp3_ring_sum(&self->r, h0, h1, &sum));
	EXPECT_EQ(1, sum.exited);
	EXPECT_EQ(1, sum.max_procs);
	/* the new process touches pages all the time; the old one slept */
	EXPECT_GT(64, sum.min_flt);
	ASSERT_EQ(0, mp3_ring_get(&self->r, h1 - 1, &last));
	EXPECT_EQ(1, last.nr_exited);

	/* the new process is a process of its own, not registered yet */
	if (mp3_proc_state(b) && mp3_proc_state(b) != 'Z') {
		EXPECT_EQ(-ENOENT, mp3_cmd('U', b));
		EXPECT_EQ(0, mp3_register(b));
		EXPECT_EQ(1, mp3_lookup(b, NULL));
		EXPECT_EQ(0, mp3_unregister(b));
	}
	mp3_kill_reap(b);
}

/* ------------------------------------------------------------ major faults */

#define MAJ_PAGES 256

/* How many of the first MAJ_PAGES pages of @fd are in the page cache, or -1. */
static int maj_resident(int fd)
{
	size_t len = MAJ_PAGES * mp3_page_size();
	unsigned char vec[MAJ_PAGES];
	int i, resident = 0;
	char *m;

	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	if (mincore(m, len, vec)) {
		munmap(m, len);
		return -1;
	}
	munmap(m, len);
	for (i = 0; i < MAJ_PAGES; i++)
		resident += vec[i] & 1;
	return resident;
}

/* The majflt field of /proc/PID/stat (the 10th after the comm), or -1. */
static long long maj_proc_majflt(pid_t pid)
{
	unsigned long long v = 0;
	char path[64], *buf = NULL, *p;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (mp3_read_file(path, &buf, 4096) < 0)
		return -1;
	p = strrchr(buf, ')');
	for (field = 2; p && field < 12; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &v) != 1) {
		free(buf);
		return -1;
	}
	free(buf);
	return v;
}

/*
 * A file of MAJ_PAGES pages on a disk-backed file system (the harness
 * guest has an ext2 disk at /var/tmp) with at most half of them in the page
 * cache, or -1; *@absent = the pages not in the page cache.  fsync() then
 * POSIX_FADV_DONTNEED drops them; if that leaves too many, drop_caches is
 * tried (root only).
 */
static int evicted_file(int *absent)
{
	static const char * const fixed[] = { "/var/tmp", "/tmp", ".", "/root" };
	const char *dirs[ARRAY_SIZE(fixed) + 1] = { getenv("TMPDIR") };
	size_t ps = mp3_page_size(), len = MAJ_PAGES * ps, i;
	char path[4096];
	unsigned int d;

	for (d = 0; d < ARRAY_SIZE(fixed); d++)
		dirs[d + 1] = fixed[d];
	for (d = 0; d < ARRAY_SIZE(dirs); d++) {
		struct statfs sfs;
		int fd, resident;
		char *buf;

		if (!dirs[d] || statfs(dirs[d], &sfs) ||
		    sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)
			continue;
		snprintf(path, sizeof(path), "%s/mp3prof_majXXXXXX", dirs[d]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		unlink(path);
		buf = malloc(len);
		if (!buf) {
			close(fd);
			return -1;
		}
		for (i = 0; i < len; i++)
			buf[i] = i;
		if (write(fd, buf, len) != (ssize_t)len || fsync(fd)) {
			free(buf);
			close(fd);
			continue;
		}
		free(buf);
		posix_fadvise(fd, 0, len, POSIX_FADV_DONTNEED);
		resident = maj_resident(fd);
		if (resident >= MAJ_PAGES / 2 &&
		    !mp3_write_str_file("/proc/sys/vm/drop_caches", "3"))
			resident = maj_resident(fd);
		if (resident >= 0 && resident < MAJ_PAGES / 2) {
			*absent = MAJ_PAGES - resident;
			return fd;
		}
		close(fd);
	}
	return -1;
}

/*
 * Read back a file whose page cache was dropped through a mapping, one
 * major fault per page (MADV_RANDOM: no readahead), and compare what
 * mp3prof sampled with what the process counted itself: getrusage() in the
 * worker and /proc/PID/stat.
 */
TEST_F(sampling, major_faults)
{
	struct mp3_worker w;
	struct mp3_wrep rep;
	struct mp3_entry e;
	long long maj0, maj1;
	uint64_t h0, h1;
	int absent = 0, fd = evicted_file(&absent);

	if (fd < 0)
		SKIP(return, "no file system where page cache can be dropped");
	ASSERT_EQ(0, mp3_worker_start(&w));
	ASSERT_EQ(0, mp3_wait_sleeping(w.pid));
	maj0 = maj_proc_majflt(w.pid);
	ASSERT_LE(0, maj0);
	h0 = mp3_head(&self->r);
	ASSERT_EQ(0, mp3_register(w.pid));
	ASSERT_EQ(0, mp3_wait_samples(&self->r, 1, 2000));
	ASSERT_EQ(0, mp3_worker_do(&w, MP3_OP_READ_FILE, fd, MAJ_PAGES, &rep));
	close(fd);
	if (!rep.d_maj_flt)
		SKIP(return, "reading the file caused no major fault");

	ASSERT_EQ(1, mp3_snapshot(&self->r, &e, 1, &h1));
	maj1 = maj_proc_majflt(w.pid);
	TH_LOG("%d of %d pages evicted; major faults: mp3prof %llu, /proc %lld",
	       absent, MAJ_PAGES, e.maj_flt, maj1 - maj0);
	TH_LOG("getrusage: %llu over the read, %llu in all",
	       (unsigned long long)rep.d_maj_flt, (unsigned long long)rep.maj_flt);
	/* every evicted page came back through one major fault */
	EXPECT_LE((uint64_t)absent, rep.d_maj_flt);
	/* the worker's own count and /proc's agree */
	EXPECT_EQ(rep.maj_flt, (uint64_t)maj1);
	/* mp3prof counted exactly the major faults since the registration */
	EXPECT_EQ((unsigned long long)(maj1 - maj0), e.maj_flt);
	EXPECT_LE(rep.d_maj_flt, e.maj_flt);
	EXPECT_GE(rep.min_flt, e.min_flt);
	/* and its samples add up to that */
	check_sums(_metadata, &self->r, h0, h1, &e, 1);
	mp3_worker_stop(&w);
}

/* ------------------------------------------------------------ rate */

struct rate_result {
	int64_t drift_ns;	/* earliest phase, end of window - start */
	uint64_t skipped;	/* grid slots without a sample */
	unsigned int backwards;	/* time_ns not increasing */
	uint64_t span_ns;
};

/*
 * Where @t falls on the grid of period @period through @t0: in
 * (-period / 2, period / 2], and the slot it is nearest to in @slot.
 */
static int64_t grid_phase(uint64_t t, uint64_t t0, uint64_t period, uint64_t *slot)
{
	uint64_t d = t - t0;

	*slot = (d + period / 2) / period;
	return (int64_t)(d - *slot * period);
}

/* Collect @n samples with a sleeper registered and measure them. */
static int measure_rate(const struct mp3_ring *r, uint64_t n, struct rate_result *res)
{
	const struct mp3prof_header *hdr = r->hdr;
	uint64_t period = hdr->period_ns, h0, first, k, slot, prev_slot = 0;
	int64_t min_a = INT64_MAX, min_b = INT64_MAX;
	struct mp3prof_sample *s = calloc(n, sizeof(*s));
	int ret = 0;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	pid = mp3_spawn_sleeper();
	if (!s || pid < 0) {
		ret = -ENOMEM;
		goto out;
	}
	h0 = mp3_head(r);
	ret = mp3_register(pid);
	if (ret)
		goto out;
	/* leave out the first sample after the registration */
	first = h0 + 1;
	if (mp3_wait_head(r, first + n, n * period / MS * 3 / 2 + 2000) < 0)
		ret = -ETIMEDOUT;
	for (k = 0; k < n && !ret; k++)
		ret = mp3_ring_get(r, first + k, &s[k]);
	mp3_unregister(pid);
	mp3_kill_reap(pid);
	if (ret)
		goto out;

	/*
	 * Sample k is due at start + k * period of CLOCK_MONOTONIC; a late
	 * sample is late on its own, and a stalled machine skips whole slots,
	 * but neither moves the grid.  So measured from the first sample's
	 * time stamp, the samples at the end of the window are as close to a
	 * grid point as those at its start: the earliest phase of each third
	 * is the grid's own offset plus the shortest latency, which does not
	 * grow.  Only CLOCK_MONOTONIC (the records' time stamps) is used:
	 * nothing is assumed of how jiffies track it.
	 */
	for (k = 0; k < n; k++) {
		int64_t ph = grid_phase(s[k].time_ns, s[0].time_ns, period, &slot);

		if (k < n / 3)
			min_a = ph < min_a ? ph : min_a;
		else if (k >= n - n / 3)
			min_b = ph < min_b ? ph : min_b;
		if (k) {
			res->backwards += s[k].time_ns <= s[k - 1].time_ns;
			if (slot > prev_slot + 1)
				res->skipped += slot - prev_slot - 1;
		}
		prev_slot = slot;
	}
	res->drift_ns = min_b - min_a;
	res->span_ns = s[n - 1].time_ns - s[0].time_ns;
out:
	free(s);
	return ret;
}

TEST_F_TIMEOUT(sampling, rate_long_run, 60)
{
	const struct mp3prof_header *hdr = self->r.hdr;
	uint64_t rate = hdr->rate, hz = hdr->hz, n;
	struct rate_result res;
	int64_t tol_ns;
	int attempt;

	ASSERT_LT(0, rate);
	ASSERT_LT(0, hz);
	ASSERT_EQ(MP3_NSEC / rate, hdr->period_ns);
	/* three seconds' worth, well inside the ring */
	n = 3 * rate + 1;
	if (n > hdr->nr_records / 2)
		n = hdr->nr_records / 2;
	ASSERT_LE(12, n);
	/*
	 * Without high-resolution timers a timer expires at a tick, so the
	 * shortest latency of a third may differ by a tick from the other's;
	 * a jiffies grid drifted 7.5 ms in these 3 s at 20 Hz (-0.25 %).
	 */
	tol_ns = 2 * (MP3_NSEC / hz) + 2 * MS;

	/* a stall of the (virtual) machine longer than a third: retry once */
	for (attempt = 0; attempt < 2; attempt++) {
		ASSERT_EQ(0, measure_rate(&self->r, n, &res));
		TH_LOG("HZ=%llu rate=%llu: %llu samples/%llu ms, drift %lld us, %llu slots skipped",
		       (unsigned long long)hz, (unsigned long long)rate,
		       (unsigned long long)n, (unsigned long long)res.span_ns / MS,
		       (long long)res.drift_ns / 1000,
		       (unsigned long long)res.skipped);
		if (llabs(res.drift_ns) <= tol_ns)
			break;
		ASSERT_EQ(0, mp3_wait_idle(&self->r, 300, 3000));
	}
	EXPECT_EQ(0, res.backwards);
	EXPECT_GE(tol_ns, llabs(res.drift_ns));
}

TEST_HARNESS_MAIN
