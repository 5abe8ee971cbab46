/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the mp3prof selftests; the code is in mp3prof_util.c,
 * which the Makefile links into every program.
 *
 * Include after _GNU_SOURCE is defined and after "../kselftest_harness.h".
 *
 * Everything here runs in the single process that executes one test (the
 * harness forks one per test), so the small tables that remember children
 * and registrations for mp3_cleanup() are per test.
 *
 * Conventions: functions return 0 (or a count, a descriptor, a pid) on
 * success and -errno on failure; nothing here asserts.
 */
#ifndef _MP3PROF_UTIL_H
#define _MP3PROF_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/mp3prof.h>

#define MP3_STATUS	"/proc/mp3prof/status"
#define MP3_DEV		"/dev/mp3prof"
#define MP3_PARAMS	"/sys/module/mp3prof/parameters/"
#define MP3_CMD_MAX	64	/* longest write the control file accepts */
#define MP3_NSEC	1000000000ULL

/* /proc/mp3prof/status and /dev/mp3prof exist. */
bool mp3_loaded(void);

/* ---------------------------------------------------------------- time */

uint64_t mp3_now_ns(void);		/* CLOCK_MONOTONIC */
uint64_t mp3_proc_cpu_ns(void);		/* CLOCK_PROCESS_CPUTIME_ID */
uint64_t mp3_thread_cpu_ns(void);	/* CLOCK_THREAD_CPUTIME_ID */
int mp3_touch_pages(size_t n);
void mp3_burn_ms(uint64_t ms);
void mp3_msleep(unsigned int ms);	/* restarted after signals */

/* --------------------------------------------------- small file helpers */

/* Read a whole file with reads of @chunk bytes; NUL terminated, caller frees. */
ssize_t mp3_read_fd_all(int fd, char **out, size_t chunk);
ssize_t mp3_read_file(const char *path, char **out, size_t chunk);
/* An unsigned number from a sysfs/procfs file, or -errno. */
long long mp3_read_ull(const char *path);
int mp3_write_str_file(const char *path, const char *s);

/* --------------------------------------- tracking, for cleanup on failure */

/* Children that mp3_cleanup() kills and reaps. */
void mp3_track_child(pid_t pid);
void mp3_untrack_child(pid_t pid);
/* Registrations of the default session that mp3_cleanup() undoes. */
void mp3_track_reg(pid_t pid);
void mp3_untrack_reg(pid_t pid);

/* ------------------------------------------------------ control file */

/* One write() on an open control file: 0, -errno, or -EPROTO on a short count. */
int mp3_write_fd(int fd, const void *buf, size_t len);
int mp3_write_raw(const void *buf, size_t len);	/* through a fresh open */
int mp3_write_str(const char *s);
/* "R <pid>\n" or "U <pid>\n" through a fresh open (or @fd): 0 or -errno. */
int mp3_cmd(char op, long long pid);
int mp3_cmd_fd(int fd, char op, long long pid);
/* mp3_cmd() 'R'/'U' that remember it for mp3_cleanup(). */
int mp3_register(pid_t pid);
int mp3_unregister(pid_t pid);

/* One line of the listing. */
struct mp3_entry {
	long long pid;
	unsigned long long cpu_ns;
	unsigned long long min_flt;
	unsigned long long maj_flt;
};

/* Parse a decimal number: the end of it, or NULL. */
const char *mp3_parse_ull(const char *p, unsigned long long *v);
/*
 * Parse a listing strictly: each line is "<pid>: <cpu> <minflt> <majflt>\n".
 * Returns the number of lines (which may exceed @max: only the first @max
 * are stored), or -EBADMSG if a line is malformed.
 */
int mp3_parse_list(const char *buf, size_t len, struct mp3_entry *ents, int max);
/* Read and parse the listing: number of entries or -errno/-EBADMSG. */
int mp3_list(struct mp3_entry *ents, int max);
/* 1 and *e filled if @pid is listed, 0 if not, -errno on error. */
int mp3_lookup(pid_t pid, struct mp3_entry *e);
int mp3_count(void);	/* number of listed processes, or -errno */

/* -------------------------------------------------------------- ring */

/* A mapped ring: of the default session or of a session. */
struct mp3_ring {
	int fd;			/* the file it was mapped from, or -1 */
	size_t len;		/* mapped length */
	struct mp3prof_header *hdr;
	const char *base;	/* first record */
};

size_t mp3_page_size(void);
/* Length of the whole ring that @h describes, page aligned. */
size_t mp3_ring_full_len(const struct mp3prof_header *h);
/*
 * Map the ring of the open /dev/mp3prof file @fd: the first page, check the
 * header (magic, version, sizes), then the whole ring.  Sets r->fd = @fd
 * on success (mp3_ring_close() closes it), leaves @fd open on failure.
 * 0, -errno, or -EPROTO for a bad header.
 */
int mp3_ring_map(struct mp3_ring *r, int fd);
/* Open /dev/mp3prof (O_RDONLY | @oflags) and map the default ring. */
int mp3_ring_open(struct mp3_ring *r, int oflags);
/* Unmap and close what is still mapped or open (r->fd may be -1). */
void mp3_ring_close(struct mp3_ring *r);

/* The head, loaded with acquire semantics. */
static inline uint64_t mp3_head(const struct mp3_ring *r)
{
	return __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE);
}

static inline uint64_t mp3_hdr_work_ns(const struct mp3_ring *r)
{
	return __atomic_load_n(&r->hdr->work_ns, __ATOMIC_RELAXED);
}

static inline uint32_t mp3_hdr_flags(const struct mp3_ring *r)
{
	return __atomic_load_n(&r->hdr->flags, __ATOMIC_RELAXED);
}

/*
 * Copy record @s as a struct mp3prof_sample with the seq protocol, whatever
 * its type: 0, -EAGAIN if not written yet, -ESTALE if it was overwritten
 * (or is being rewritten).
 */
int mp3_ring_get(const struct mp3_ring *r, uint64_t s, struct mp3prof_sample *out);

/* Any record: every type starts with seq, type and flags. */
union mp3_rec {
	struct {
		uint64_t seq;
		uint16_t type;
		uint16_t flags;
	} h;
	struct mp3prof_sample s;
	struct mp3prof_proc_record p;
	unsigned char raw[64];
};

/* mp3_ring_get() for any record type; see out->h.type. */
int mp3_ring_get_rec(const struct mp3_ring *r, uint64_t s, union mp3_rec *out);

/*
 * Copy the sample at record number @s and, in a per-process ring, its
 * nr_procs process records (at most @max of them into @procs, which may be
 * NULL if @max is 0).  *next (if not NULL) is set to the record number
 * after the sample's last record whenever the sample itself was read.
 * Returns 0; -EAGAIN if record @s is not written yet; -ESTALE if it or one
 * of its process records was lost; -EBADMSG if record @s is not a sample
 * or a record that should be one of its process records is not; -E2BIG if
 * it has more than @max process records (*out and *next are set).
 */
int mp3_ring_get_sample(const struct mp3_ring *r, uint64_t s,
			struct mp3prof_sample *out,
			struct mp3prof_proc_record *procs, unsigned int max,
			uint64_t *next);

/*
 * Walk the samples from record number *pos to @end: reads the next whole
 * sample at or after *pos as mp3_ring_get_sample() does and moves *pos
 * past it.  Records that were lost are skipped (counted in *lost if not
 * NULL) up to the next readable sample.  Returns 1 with a sample, 0 when
 * *pos reached @end, -EBADMSG or -E2BIG as mp3_ring_get_sample().
 */
int mp3_ring_next_sample(const struct mp3_ring *r, uint64_t *pos, uint64_t end,
			 struct mp3prof_sample *out,
			 struct mp3prof_proc_record *procs, unsigned int max,
			 uint64_t *lost);

/* Wait until head >= @target: the head, or -ETIMEDOUT. */
int64_t mp3_wait_head(const struct mp3_ring *r, uint64_t target,
		      unsigned int timeout_ms);
/* Wait for the head to move @n records on: 0 or -ETIMEDOUT. */
int mp3_wait_samples(const struct mp3_ring *r, unsigned int n,
		     unsigned int timeout_ms);
/* Wait for hdr->samples to grow by @n: 0 or -ETIMEDOUT. */
int mp3_wait_nr_samples(const struct mp3_ring *r, unsigned int n,
			unsigned int timeout_ms);
uint64_t mp3_nr_samples(const struct mp3_ring *r);
int mp3_wait_samples_past(const struct mp3_ring *r, uint64_t since,
			  unsigned int timeout_ms);
/*
 * Wait until head has not moved for @quiet_ms: 0, or -ETIMEDOUT if it is
 * still moving after @timeout_ms.
 */
int mp3_wait_idle(const struct mp3_ring *r, unsigned int quiet_ms,
		  unsigned int timeout_ms);

struct mp3_sum {
	uint64_t cpu_ns, min_flt, maj_flt, work_ns;
	uint64_t nr;		/* records summed */
	uint32_t max_procs;	/* largest nr_procs seen */
	uint64_t exited;	/* sum of nr_exited (mp3_session_sum(): EXITED records) */
	uint32_t last_procs, last_exited;
	uint64_t samples;	/* sample records seen (mp3_session_sum()) */
};

/*
 * Sum records [from, to) of the default ring, every record taken as a
 * sample: 0, or the error of the first unreadable one.
 */
int mp3_ring_sum(const struct mp3_ring *r, uint64_t from, uint64_t to,
		 struct mp3_sum *sum);

/*
 * Take the listing at a point where no sample is being taken: wait for a new
 * sample, give it a fifth of a period to complete, and read the listing
 * between two equal loads of head.  Returns the number of entries (only
 * the first @max stored) and the head in *head, or -errno.
 */
int mp3_snapshot(const struct mp3_ring *r, struct mp3_entry *ents, int max,
		 uint64_t *head);

/* ----------------------------------------------------------- sessions */

/*
 * ioctl(@fd, @cmd with its size field replaced by @size, @arg): the
 * size-versioning of MP3PROF_IOC_*.  0 (or the ioctl's result) or -errno.
 */
int mp3_ioctl_sized(int fd, unsigned long cmd, const void *arg, size_t size);

/* MP3PROF_IOC_SESSION on @fd with @size bytes of @cfg (raw, any size). */
int mp3_session_configure_raw(int fd, const void *cfg, size_t size);
/* MP3PROF_IOC_SESSION on @fd with a struct mp3prof_session_config. */
int mp3_session_configure(int fd, uint64_t flags, uint64_t period_ns,
			  uint32_t ring_pages, uint32_t max_procs);
/*
 * Open /dev/mp3prof (O_RDONLY | O_CLOEXEC) and make it a session with
 * mp3_session_configure(): the descriptor, or -errno (nothing left open).
 */
int mp3_session_open(uint64_t flags, uint64_t period_ns, uint32_t ring_pages,
		     uint32_t max_procs);
/* mp3_ring_map() of a session's file; -EPROTO unless HDR_SESSION is set. */
int mp3_session_map(struct mp3_ring *r, int fd);
/*
 * mp3_session_open() + mp3_session_map(): 0 with r->fd the session, or
 * -errno (nothing left open, r->fd = -1).  mp3_ring_close() ends it.
 */
int mp3_session_start(struct mp3_ring *r, uint64_t flags, uint64_t period_ns,
		      uint32_t ring_pages, uint32_t max_procs);

/* pidfd_open(@pid, 0): the pidfd or -errno. */
int mp3_pidfd_open(pid_t pid);

/*
 * MP3PROF_IOC_ADD or MP3PROF_IOC_REMOVE (@cmd) with a struct
 * mp3prof_target of these fields: 0 or -errno.
 */
int mp3_session_target(int fd, unsigned long cmd, uint32_t flags, int32_t pidfd,
		       int32_t pid, uint32_t reserved);
/* MP3PROF_IOC_ADD/REMOVE by pidfd (flags 0) or pid (MP3PROF_TARGET_PID). */
int mp3_session_add_pidfd(int fd, int pidfd);
int mp3_session_add_pid(int fd, pid_t pid);
int mp3_session_remove_pidfd(int fd, int pidfd);
int mp3_session_remove_pid(int fd, pid_t pid);
/* Add/remove @pid through a pidfd opened (and closed) for the call. */
int mp3_session_add(int fd, pid_t pid);
int mp3_session_remove(int fd, pid_t pid);

/*
 * Sum the records [from, to) of a session's ring (from and to at sample
 * boundaries: heads are): @pid 0 sums the samples (nr = samples =
 * sample records, exited = sum of nr_exited); else the process records of
 * @pid in its owner's pid namespace (nr = its records, samples = sample
 * records seen, exited = its records with MP3PROF_PROC_EXITED).
 * max_procs/last_procs are the samples' nr_procs in both cases.  0, or
 * the error of the first unreadable record.
 */
int mp3_session_sum(const struct mp3_ring *r, uint64_t from, uint64_t to,
		    pid_t pid, struct mp3_sum *sum);

/* ------------------------------------------------------------ processes */

/* Process state letter from /proc/PID/stat, or 0. */
char mp3_proc_state(pid_t pid);
/* Wait (at most 2 s) until @pid sleeps: 0 or -ETIMEDOUT. */
int mp3_wait_sleeping(pid_t pid);
/* A child that only sleeps, killed with its parent (tracked). */
pid_t mp3_fork_sleeper(void);
/*
 * A sleeper, returned once it sleeps: on its way to pause() it still takes
 * copy-on-write and page cache faults, which tests of an idle process must
 * not see.
 */
pid_t mp3_spawn_sleeper(void);
/* SIGKILL, reap and untrack a child (nothing for @pid <= 0). */
void mp3_kill_reap(pid_t pid);

/*
 * Worker: a child process that executes commands sent through a pipe and
 * reports its own CPU time and fault counts, so tests compare mp3prof's
 * numbers against what the process itself measured.
 */
enum mp3_op {
	MP3_OP_NOP,		/* just report */
	MP3_OP_TOUCH,		/* touch @arg fresh pages in @nthreads threads each */
	MP3_OP_BUSY,		/* spin @arg ms of CPU time in @nthreads threads each */
	MP3_OP_TOUCH_EXIT,	/* MP3_OP_TOUCH, reply, then _exit(0) */
	MP3_OP_READ_FILE,	/* read @arg pages of file descriptor @fd via mmap */
};

struct mp3_wcmd {
	int op;
	int nthreads;
	int fd;
	long arg;
};

struct mp3_wrep {
	int err;		/* 0 or errno of a failed step */
	/* deltas over the command */
	uint64_t d_cpu_ns, d_min_flt, d_maj_flt, d_wall_ns;
	/* process totals when the reply was sent */
	uint64_t cpu_ns, min_flt, maj_flt;
};

struct mp3_worker {
	pid_t pid;
	int cmd;	/* parent writes commands */
	int rep;	/* parent reads replies */
};

/* Start a worker; returns 0 once it waits for commands, or -errno. */
int mp3_worker_start(struct mp3_worker *w);
/*
 * Run one command in the worker and wait (at most 60 s) for the reply.
 * For MP3_OP_READ_FILE, @nthreads is the file descriptor.
 */
int mp3_worker_do(struct mp3_worker *w, int op, int nthreads, long arg,
		  struct mp3_wrep *rep);
void mp3_worker_stop(struct mp3_worker *w);

/* ------------------------------------------------------------- cleanup */

/*
 * Unregister what we registered, kill and reap our children, then
 * unregister anything still listed: the tests assume nothing else is
 * registered.
 */
void mp3_cleanup(void);
/*
 * Start of every test: drop leftovers of an earlier failed test (exited
 * processes leave the listing at the next sample, so wait up to 2 s).
 * Returns the number of processes still listed.
 */
int mp3_prepare(void);

#endif /* _MP3PROF_UTIL_H */
