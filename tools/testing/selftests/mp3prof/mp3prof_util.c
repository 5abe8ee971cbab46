// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the mp3prof selftests: see mp3prof_util.h.
 */
#define _GNU_SOURCE
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "mp3prof_util.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open	434	/* the same on every architecture */
#endif

bool mp3_loaded(void)
{
	return access(MP3_STATUS, F_OK) == 0 && access(MP3_DEV, F_OK) == 0;
}

/* ---------------------------------------------------------------- time */

uint64_t mp3_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * MP3_NSEC + ts.tv_nsec;
}

uint64_t mp3_proc_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * MP3_NSEC + ts.tv_nsec;
}

uint64_t mp3_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * MP3_NSEC + ts.tv_nsec;
}

void mp3_msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* --------------------------------------------------- small file helpers */

/* Read a whole file with reads of @chunk bytes; NUL terminated, caller frees. */
ssize_t mp3_read_fd_all(int fd, char **out, size_t chunk)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (cap - len < chunk) {
			char *nb;

			cap = 2 * cap + chunk;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, chunk);
		if (n < 0) {
			n = -errno;
			free(buf);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	*out = buf;
	return len;
}

ssize_t mp3_read_file(const char *path, char **out, size_t chunk)
{
	int fd = open(path, O_RDONLY);
	ssize_t ret;

	if (fd < 0)
		return -errno;
	ret = mp3_read_fd_all(fd, out, chunk);
	close(fd);
	return ret;
}

/* Read an unsigned number from a sysfs/procfs file, -errno on failure. */
long long mp3_read_ull(const char *path)
{
	char *buf = NULL;
	long long v;
	ssize_t n = mp3_read_file(path, &buf, 64);

	if (n < 0)
		return n;
	v = strtoll(buf, NULL, 10);
	free(buf);
	return v;
}

int mp3_write_str_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

/* --------------------------------------- tracking, for cleanup on failure */

#define MP3_TRACK_MAX	4096

static pid_t mp3_children[MP3_TRACK_MAX];
static int mp3_nr_children;
static pid_t mp3_regs[MP3_TRACK_MAX];
static int mp3_nr_regs;

static void mp3_track(pid_t *tab, int *nr, pid_t pid)
{
	if (*nr < MP3_TRACK_MAX)
		tab[(*nr)++] = pid;
}

static void mp3_untrack(pid_t *tab, int *nr, pid_t pid)
{
	int i;

	for (i = 0; i < *nr; i++) {
		if (tab[i] == pid) {
			tab[i] = tab[--(*nr)];
			return;
		}
	}
}

void mp3_track_child(pid_t pid)
{
	mp3_track(mp3_children, &mp3_nr_children, pid);
}

void mp3_untrack_child(pid_t pid)
{
	mp3_untrack(mp3_children, &mp3_nr_children, pid);
}

void mp3_track_reg(pid_t pid)
{
	mp3_track(mp3_regs, &mp3_nr_regs, pid);
}

void mp3_untrack_reg(pid_t pid)
{
	mp3_untrack(mp3_regs, &mp3_nr_regs, pid);
}

/* ------------------------------------------------------ control file */

/* One write() on an open control file: 0, -errno, or -EPROTO on a short count. */
int mp3_write_fd(int fd, const void *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

int mp3_write_raw(const void *buf, size_t len)
{
	int fd = open(MP3_STATUS, O_WRONLY);
	int ret;

	if (fd < 0)
		return -errno;
	ret = mp3_write_fd(fd, buf, len);
	close(fd);
	return ret;
}

int mp3_write_str(const char *s)
{
	return mp3_write_raw(s, strlen(s));
}

/* "R <pid>\n" or "U <pid>\n" through a fresh open: 0 or -errno. */
int mp3_cmd(char op, long long pid)
{
	char buf[MP3_CMD_MAX];

	snprintf(buf, sizeof(buf), "%c %lld\n", op, pid);
	return mp3_write_str(buf);
}

int mp3_cmd_fd(int fd, char op, long long pid)
{
	char buf[MP3_CMD_MAX];
	int len = snprintf(buf, sizeof(buf), "%c %lld\n", op, pid);

	return mp3_write_fd(fd, buf, len);
}

/* Register/unregister and remember it for mp3_cleanup(). */
int mp3_register(pid_t pid)
{
	int ret = mp3_cmd('R', pid);

	if (!ret)
		mp3_track_reg(pid);
	return ret;
}

int mp3_unregister(pid_t pid)
{
	int ret = mp3_cmd('U', pid);

	if (!ret)
		mp3_untrack_reg(pid);
	return ret;
}

const char *mp3_parse_ull(const char *p, unsigned long long *v)
{
	unsigned long long x = 0;

	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9') {
		unsigned int d = *p++ - '0';

		if (x > (~0ULL - d) / 10)
			return NULL;
		x = x * 10 + d;
	}
	*v = x;
	return p;
}

/*
 * Parse a listing strictly: each line is "<pid>: <cpu> <minflt> <majflt>\n".
 * Returns the number of lines (which may exceed @max: only the first @max
 * are stored), or -EBADMSG if a line is malformed.
 */
int mp3_parse_list(const char *buf, size_t len,
		   struct mp3_entry *ents, int max)
{
	const char *p = buf, *end = buf + len;
	int n = 0;

	while (p < end) {
		struct mp3_entry e;
		unsigned long long pid;

		p = mp3_parse_ull(p, &pid);
		if (!p || pid == 0 || pid > INT32_MAX || *p++ != ':' || *p++ != ' ')
			return -EBADMSG;
		p = mp3_parse_ull(p, &e.cpu_ns);
		if (!p || *p++ != ' ')
			return -EBADMSG;
		p = mp3_parse_ull(p, &e.min_flt);
		if (!p || *p++ != ' ')
			return -EBADMSG;
		p = mp3_parse_ull(p, &e.maj_flt);
		if (!p || p >= end || *p++ != '\n')
			return -EBADMSG;
		e.pid = pid;
		if (n < max)
			ents[n] = e;
		n++;
	}
	return n;
}

/* Read and parse the listing: number of entries or -errno/-EBADMSG. */
int mp3_list(struct mp3_entry *ents, int max)
{
	char *buf = NULL;
	ssize_t len = mp3_read_file(MP3_STATUS, &buf, 65536);
	int n;

	if (len < 0)
		return len;
	n = mp3_parse_list(buf, len, ents, max);
	free(buf);
	return n;
}

/* 1 and *e filled if @pid is listed, 0 if not, -errno on error. */
int mp3_lookup(pid_t pid, struct mp3_entry *e)
{
	struct mp3_entry ents[512];
	int n = mp3_list(ents, 512), i;

	if (n < 0)
		return n;
	if (n > 512)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		if (ents[i].pid == pid) {
			if (e)
				*e = ents[i];
			return 1;
		}
	}
	return 0;
}

int mp3_count(void)
{
	struct mp3_entry e;

	return mp3_list(&e, 0);
}

/* -------------------------------------------------------------- ring */

size_t mp3_page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

size_t mp3_ring_full_len(const struct mp3prof_header *h)
{
	size_t ps = mp3_page_size();
	size_t len = (size_t)h->header_size + (size_t)h->nr_records * h->record_size;

	return (len + ps - 1) & ~(ps - 1);
}

/*
 * Map the ring of @fd: the first page, check the header, then the whole
 * ring.  0, -errno, or -EPROTO for a bad header.
 */
int mp3_ring_map(struct mp3_ring *r, int fd)
{
	size_t ps = mp3_page_size();
	struct mp3prof_header *h;
	void *p;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	p = mmap(NULL, ps, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	h = p;
	if (h->magic != MP3PROF_MAGIC || h->version != MP3PROF_ABI_VERSION ||
	    h->record_size != sizeof(struct mp3prof_sample) ||
	    h->header_size != ps || !h->nr_records ||
	    (h->nr_records & (h->nr_records - 1))) {
		munmap(p, ps);
		return -EPROTO;
	}
	r->len = mp3_ring_full_len(h);
	munmap(p, ps);
	p = mmap(NULL, r->len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r->hdr = p;
	r->base = (const char *)p + r->hdr->header_size;
	r->fd = fd;
	return 0;
}

/* Open /dev/mp3prof (O_RDONLY | @oflags) and map the default ring. */
int mp3_ring_open(struct mp3_ring *r, int oflags)
{
	int fd = open(MP3_DEV, O_RDONLY | oflags), ret;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (fd < 0)
		return -errno;
	ret = mp3_ring_map(r, fd);
	if (ret)
		close(fd);
	return ret;
}

void mp3_ring_close(struct mp3_ring *r)
{
	if (r->hdr)
		munmap(r->hdr, r->len);
	if (r->fd >= 0)
		close(r->fd);
	r->hdr = NULL;
	r->fd = -1;
}

/*
 * Copy record @s with the seq protocol: 0, -EAGAIN if not written yet,
 * -ESTALE if it was overwritten (or is being rewritten).
 */
int mp3_ring_get_rec(const struct mp3_ring *r, uint64_t s, union mp3_rec *out)
{
	const union mp3_rec *rec;
	uint64_t s1, s2;

	if (s >= mp3_head(r))
		return -EAGAIN;
	rec = (const void *)(r->base + (s & (r->hdr->nr_records - 1)) *
			     (size_t)r->hdr->record_size);
	s1 = __atomic_load_n(&rec->h.seq, __ATOMIC_ACQUIRE);
	memcpy(out, rec, sizeof(*out));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s2 = __atomic_load_n(&rec->h.seq, __ATOMIC_RELAXED);
	if (s1 != s || s2 != s || out->h.seq != s)
		return -ESTALE;
	return 0;
}

int mp3_ring_get(const struct mp3_ring *r, uint64_t s, struct mp3prof_sample *out)
{
	union mp3_rec rec;
	int ret = mp3_ring_get_rec(r, s, &rec);

	if (!ret)
		*out = rec.s;
	return ret;
}

int mp3_ring_get_sample(const struct mp3_ring *r, uint64_t s,
			struct mp3prof_sample *out,
			struct mp3prof_proc_record *procs, unsigned int max,
			uint64_t *next)
{
	bool per_proc = r->hdr->flags & MP3PROF_HDR_PER_PROCESS;
	union mp3_rec rec;
	uint32_t i, n;
	int ret;

	ret = mp3_ring_get_rec(r, s, &rec);
	if (ret)
		return ret;
	if (rec.h.type != MP3PROF_RECORD_SAMPLE)
		return -EBADMSG;
	*out = rec.s;
	n = per_proc ? out->nr_procs : 0;
	if (next)
		*next = s + 1 + n;
	for (i = 0; i < n; i++) {
		ret = mp3_ring_get_rec(r, s + 1 + i, &rec);
		if (ret)
			return ret;
		if (rec.h.type != MP3PROF_RECORD_PROC)
			return -EBADMSG;
		if (i < max)
			procs[i] = rec.p;
	}
	/* The sample was not overwritten while its records were read. */
	ret = mp3_ring_get_rec(r, s, &rec);
	if (ret)
		return ret;
	return n > max ? -E2BIG : 0;
}

int mp3_ring_next_sample(const struct mp3_ring *r, uint64_t *pos, uint64_t end,
			 struct mp3prof_sample *out,
			 struct mp3prof_proc_record *procs, unsigned int max,
			 uint64_t *lost)
{
	union mp3_rec rec;
	uint64_t next;
	int ret;

	while (*pos < end) {
		ret = mp3_ring_get_rec(r, *pos, &rec);
		if (ret == -EAGAIN)
			return 0;	/* @end is past the head */
		if (ret == -ESTALE || rec.h.type == MP3PROF_RECORD_PROC) {
			/* lost, or a process record of a lost sample */
			if (lost)
				(*lost)++;
			(*pos)++;
			continue;
		}
		ret = mp3_ring_get_sample(r, *pos, out, procs, max, &next);
		if (ret == -ESTALE) {
			if (lost)
				(*lost)++;
			(*pos)++;
			continue;
		}
		if (ret == 0 || ret == -E2BIG)
			*pos = next;
		return ret ? ret : 1;
	}
	return 0;
}

/* Wait until head >= @target: the head, or -ETIMEDOUT. */
int64_t mp3_wait_head(const struct mp3_ring *r, uint64_t target,
		      unsigned int timeout_ms)
{
	uint64_t end = mp3_now_ns() + timeout_ms * 1000000ULL, h;

	for (;;) {
		h = mp3_head(r);
		if (h >= target)
			return h;
		if (mp3_now_ns() > end)
			return -ETIMEDOUT;
		mp3_msleep(2);
	}
}

/* Wait for @n more samples: 0 or -ETIMEDOUT. */
int mp3_wait_samples(const struct mp3_ring *r, unsigned int n,
		     unsigned int timeout_ms)
{
	int64_t h = mp3_wait_head(r, mp3_head(r) + n, timeout_ms);

	return h < 0 ? h : 0;
}

/* Wait for hdr->samples to grow by @n: 0 or -ETIMEDOUT. */
int mp3_wait_nr_samples(const struct mp3_ring *r, unsigned int n,
			unsigned int timeout_ms)
{
	uint64_t end = mp3_now_ns() + timeout_ms * 1000000ULL;
	uint64_t want = __atomic_load_n(&r->hdr->samples, __ATOMIC_ACQUIRE) + n;

	while (__atomic_load_n(&r->hdr->samples, __ATOMIC_ACQUIRE) < want) {
		if (mp3_now_ns() > end)
			return -ETIMEDOUT;
		mp3_msleep(2);
	}
	return 0;
}

/* hdr->samples now. */
uint64_t mp3_nr_samples(const struct mp3_ring *r)
{
	return __atomic_load_n(&r->hdr->samples, __ATOMIC_ACQUIRE);
}

/*
 * Wait for hdr->samples to exceed @since, read before what must be
 * followed by a sample (a REMOVE: the next sample may be taken as soon as
 * the REMOVE returns): 0 or -ETIMEDOUT.
 */
int mp3_wait_samples_past(const struct mp3_ring *r, uint64_t since,
			  unsigned int timeout_ms)
{
	uint64_t end = mp3_now_ns() + timeout_ms * 1000000ULL;

	while (mp3_nr_samples(r) <= since) {
		if (mp3_now_ns() > end)
			return -ETIMEDOUT;
		mp3_msleep(2);
	}
	return 0;
}

/*
 * Wait until head has not moved for @quiet_ms: 0, or -ETIMEDOUT if it is
 * still moving after @timeout_ms.
 */
int mp3_wait_idle(const struct mp3_ring *r, unsigned int quiet_ms,
		  unsigned int timeout_ms)
{
	uint64_t end = mp3_now_ns() + timeout_ms * 1000000ULL;
	uint64_t h = mp3_head(r), since = mp3_now_ns();

	for (;;) {
		uint64_t now = mp3_now_ns(), h2 = mp3_head(r);

		if (h2 != h) {
			h = h2;
			since = now;
		} else if (now - since >= quiet_ms * 1000000ULL) {
			return 0;
		}
		if (now > end)
			return -ETIMEDOUT;
		mp3_msleep(5);
	}
}

/* Sum records [from, to): 0, or the error of the first unreadable one. */
int mp3_ring_sum(const struct mp3_ring *r, uint64_t from,
		 uint64_t to, struct mp3_sum *sum)
{
	struct mp3prof_sample s;
	uint64_t i;
	int ret;

	memset(sum, 0, sizeof(*sum));
	for (i = from; i < to; i++) {
		ret = mp3_ring_get(r, i, &s);
		if (ret)
			return ret;
		sum->cpu_ns += s.cpu_ns;
		sum->min_flt += s.min_flt;
		sum->maj_flt += s.maj_flt;
		sum->work_ns += s.work_ns;
		sum->exited += s.nr_exited;
		if (s.nr_procs > sum->max_procs)
			sum->max_procs = s.nr_procs;
		sum->last_procs = s.nr_procs;
		sum->last_exited = s.nr_exited;
		sum->nr++;
	}
	return 0;
}

/*
 * Take the listing at a point where no sample is being taken: wait for a new
 * sample, give it a fifth of a period to complete, and read the listing
 * between two equal loads of head.  Returns the number of entries (only
 * the first @max stored) and the head in *head, or -errno.
 */
int mp3_snapshot(const struct mp3_ring *r, struct mp3_entry *ents,
		 int max, uint64_t *head)
{
	unsigned int settle = r->hdr->period_ns / 5000000 + 1;
	int tries, n = -EAGAIN;

	for (tries = 0; tries < 10; tries++) {
		uint64_t h1, h2;

		if (mp3_wait_samples(r, 1, 2000))
			return -ETIMEDOUT;
		mp3_msleep(settle);
		h1 = mp3_head(r);
		n = mp3_list(ents, max);
		h2 = mp3_head(r);
		if (n < 0)
			return n;
		if (h1 == h2) {
			*head = h1;
			return n;
		}
	}
	return -EAGAIN;
}

/* ----------------------------------------------------------- sessions */

#define MP3_IOC_SIZE_MASK	((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)

int mp3_ioctl_sized(int fd, unsigned long cmd, const void *arg, size_t size)
{
	unsigned long c = (cmd & ~MP3_IOC_SIZE_MASK) |
			  (((unsigned long)size << _IOC_SIZESHIFT) & MP3_IOC_SIZE_MASK);
	int ret = ioctl(fd, c, arg);

	return ret < 0 ? -errno : ret;
}

int mp3_session_configure_raw(int fd, const void *cfg, size_t size)
{
	return mp3_ioctl_sized(fd, MP3PROF_IOC_SESSION, cfg, size);
}

int mp3_session_configure(int fd, uint64_t flags, uint64_t period_ns,
			  uint32_t ring_pages, uint32_t max_procs)
{
	struct mp3prof_session_config cfg = {
		.flags = flags,
		.period_ns = period_ns,
		.ring_pages = ring_pages,
		.max_procs = max_procs,
	};

	return ioctl(fd, MP3PROF_IOC_SESSION, &cfg) ? -errno : 0;
}

int mp3_session_open(uint64_t flags, uint64_t period_ns, uint32_t ring_pages,
		     uint32_t max_procs)
{
	int fd = open(MP3_DEV, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = mp3_session_configure(fd, flags, period_ns, ring_pages, max_procs);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int mp3_session_map(struct mp3_ring *r, int fd)
{
	int ret = mp3_ring_map(r, fd);

	if (ret)
		return ret;
	if (!(r->hdr->flags & MP3PROF_HDR_SESSION)) {
		munmap(r->hdr, r->len);
		memset(r, 0, sizeof(*r));
		r->fd = -1;
		return -EPROTO;
	}
	return 0;
}

int mp3_session_start(struct mp3_ring *r, uint64_t flags, uint64_t period_ns,
		      uint32_t ring_pages, uint32_t max_procs)
{
	int fd = mp3_session_open(flags, period_ns, ring_pages, max_procs), ret;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (fd < 0)
		return fd;
	ret = mp3_session_map(r, fd);
	if (ret)
		close(fd);
	return ret;
}

int mp3_pidfd_open(pid_t pid)
{
	int fd = syscall(__NR_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

int mp3_session_target(int fd, unsigned long cmd, uint32_t flags, int32_t pidfd,
		       int32_t pid, uint32_t reserved)
{
	struct mp3prof_target t = {
		.flags = flags,
		.pidfd = pidfd,
		.pid = pid,
		.__reserved = reserved,
	};

	return ioctl(fd, cmd, &t) ? -errno : 0;
}

int mp3_session_add_pidfd(int fd, int pidfd)
{
	return mp3_session_target(fd, MP3PROF_IOC_ADD, 0, pidfd, 0, 0);
}

int mp3_session_add_pid(int fd, pid_t pid)
{
	return mp3_session_target(fd, MP3PROF_IOC_ADD, MP3PROF_TARGET_PID, 0, pid, 0);
}

int mp3_session_remove_pidfd(int fd, int pidfd)
{
	return mp3_session_target(fd, MP3PROF_IOC_REMOVE, 0, pidfd, 0, 0);
}

int mp3_session_remove_pid(int fd, pid_t pid)
{
	return mp3_session_target(fd, MP3PROF_IOC_REMOVE, MP3PROF_TARGET_PID, 0, pid, 0);
}

static int mp3_session_by_pidfd(int fd, unsigned long cmd, pid_t pid)
{
	int pidfd = mp3_pidfd_open(pid), ret;

	if (pidfd < 0)
		return pidfd;
	ret = mp3_session_target(fd, cmd, 0, pidfd, 0, 0);
	close(pidfd);
	return ret;
}

int mp3_session_add(int fd, pid_t pid)
{
	return mp3_session_by_pidfd(fd, MP3PROF_IOC_ADD, pid);
}

int mp3_session_remove(int fd, pid_t pid)
{
	return mp3_session_by_pidfd(fd, MP3PROF_IOC_REMOVE, pid);
}

int mp3_session_sum(const struct mp3_ring *r, uint64_t from, uint64_t to,
		    pid_t pid, struct mp3_sum *sum)
{
	union mp3_rec rec;
	uint64_t i;
	int ret;

	memset(sum, 0, sizeof(*sum));
	for (i = from; i < to; i++) {
		ret = mp3_ring_get_rec(r, i, &rec);
		if (ret)
			return ret;
		if (rec.h.type == MP3PROF_RECORD_SAMPLE) {
			sum->samples++;
			if (rec.s.nr_procs > sum->max_procs)
				sum->max_procs = rec.s.nr_procs;
			sum->last_procs = rec.s.nr_procs;
			if (pid)
				continue;
			sum->cpu_ns += rec.s.cpu_ns;
			sum->min_flt += rec.s.min_flt;
			sum->maj_flt += rec.s.maj_flt;
			sum->work_ns += rec.s.work_ns;
			sum->exited += rec.s.nr_exited;
			sum->last_exited = rec.s.nr_exited;
			sum->nr++;
		} else if (rec.h.type == MP3PROF_RECORD_PROC) {
			if (!pid || rec.p.pid != (uint32_t)pid)
				continue;
			sum->cpu_ns += rec.p.cpu_ns;
			sum->min_flt += rec.p.min_flt;
			sum->maj_flt += rec.p.maj_flt;
			sum->exited += !!(rec.p.flags & MP3PROF_PROC_EXITED);
			sum->nr++;
		} else {
			return -EBADMSG;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ processes */

/* Process state letter from /proc/PID/stat, or 0. */
char mp3_proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Wait (at most 2 s) until @pid sleeps: 0 or -ETIMEDOUT. */
int mp3_wait_sleeping(pid_t pid)
{
	int i;

	for (i = 0; i < 1000; i++) {
		char st = mp3_proc_state(pid);

		if (st == 'S')
			return 0;
		mp3_msleep(2);
	}
	return -ETIMEDOUT;
}

/* A child that only sleeps, killed with its parent. */
pid_t mp3_fork_sleeper(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		for (;;)
			pause();
	}
	if (pid > 0)
		mp3_track_child(pid);
	return pid;
}

/*
 * A sleeper, returned once it sleeps: on its way to pause() it still takes
 * copy-on-write and page cache faults, which tests of an idle process must
 * not see.
 */
pid_t mp3_spawn_sleeper(void)
{
	pid_t pid = mp3_fork_sleeper();

	if (pid > 0 && mp3_wait_sleeping(pid))
		fprintf(stderr, "# sleeper %d is not asleep after 2 s\n", pid);
	return pid;
}

void mp3_kill_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	mp3_untrack_child(pid);
}

/*
 * Worker: a child process that executes commands sent through a pipe and
 * reports its own CPU time and fault counts, so tests compare mp3prof's
 * numbers against what the process itself measured.
 */
struct mp3_thread_arg {
	const struct mp3_wcmd *c;
	int err;
};

/* Fault in @n fresh anonymous pages, one fault each: 0 or -errno. */
int mp3_touch_pages(size_t n)
{
	size_t ps = mp3_page_size(), len = n * ps, i;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return -errno;
	madvise(m, len, MADV_NOHUGEPAGE);	/* one fault per page: no THP */
	for (i = 0; i < len; i += ps)
		m[i] = 1;
	munmap(m, len);
	return 0;
}

/*
 * Spin until this thread used @ms of CPU time, bounded by wall time in
 * case it hardly gets a CPU.
 */
void mp3_burn_ms(uint64_t ms)
{
	uint64_t t0 = mp3_thread_cpu_ns(), w0 = mp3_now_ns(), x = 0;
	uint64_t want = ms * 1000000ULL;

	while (mp3_thread_cpu_ns() - t0 < want &&
	       mp3_now_ns() - w0 < 20 * want + 5 * MP3_NSEC) {
		int i;

		for (i = 0; i < 10000; i++) {
			x += i;
			__asm__ __volatile__("" : "+r" (x));	/* keep the loop */
		}
	}
}

static void *mp3_thread_fn(void *p)
{
	struct mp3_thread_arg *a = p;
	const struct mp3_wcmd *c = a->c;
	size_t ps = mp3_page_size();

	if (c->op == MP3_OP_TOUCH || c->op == MP3_OP_TOUCH_EXIT) {
		int ret = mp3_touch_pages(c->arg);

		if (ret) {
			a->err = -ret;
			return NULL;
		}
	} else if (c->op == MP3_OP_BUSY) {
		mp3_burn_ms(c->arg);
	} else if (c->op == MP3_OP_READ_FILE) {
		size_t len = c->arg * ps, i;
		char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, c->fd, 0);

		if (m == MAP_FAILED) {
			a->err = errno;
			return NULL;
		}
		/* no readahead: every page is its own major fault */
		madvise(m, len, MADV_RANDOM);
		for (i = 0; i < len; i += ps)
			(void)__atomic_load_n(&m[i], __ATOMIC_RELAXED);
		munmap(m, len);
	}
	return NULL;
}

static void mp3_worker_stats(uint64_t *cpu, uint64_t *min, uint64_t *maj)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*cpu = mp3_proc_cpu_ns();
	*min = ru.ru_minflt;
	*maj = ru.ru_majflt;
}

static void mp3_worker_exec(const struct mp3_wcmd *c, struct mp3_wrep *rep)
{
	struct mp3_thread_arg args[64];
	pthread_t th[64];
	uint64_t c0, mi0, ma0, w0 = mp3_now_ns();
	int n = c->nthreads < 1 ? 1 : c->nthreads > 64 ? 64 : c->nthreads, i;

	memset(rep, 0, sizeof(*rep));
	mp3_worker_stats(&c0, &mi0, &ma0);
	if (c->op != MP3_OP_NOP) {
		for (i = 0; i < n; i++)
			args[i] = (struct mp3_thread_arg){ .c = c };
		if (n == 1) {
			mp3_thread_fn(&args[0]);
		} else {
			for (i = 0; i < n; i++) {
				if (pthread_create(&th[i], NULL, mp3_thread_fn, &args[i])) {
					args[i].err = EAGAIN;
					th[i] = 0;
				}
			}
			for (i = 0; i < n; i++)
				if (th[i])
					pthread_join(th[i], NULL);
		}
		for (i = 0; i < n; i++)
			if (args[i].err)
				rep->err = args[i].err;
	}
	mp3_worker_stats(&rep->cpu_ns, &rep->min_flt, &rep->maj_flt);
	rep->d_cpu_ns = rep->cpu_ns - c0;
	rep->d_min_flt = rep->min_flt - mi0;
	rep->d_maj_flt = rep->maj_flt - ma0;
	rep->d_wall_ns = mp3_now_ns() - w0;
}

/* Start a worker; returns 0 once it waits for commands, or -errno. */
int mp3_worker_start(struct mp3_worker *w)
{
	int cmd[2], rep[2];
	pid_t parent = getpid();
	char c;

	if (pipe2(cmd, O_CLOEXEC) || pipe2(rep, O_CLOEXEC))
		return -errno;
	w->pid = fork();
	if (w->pid < 0)
		return -errno;
	if (w->pid == 0) {
		struct mp3_wcmd wc;
		struct mp3_wrep wr;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		close(cmd[1]);
		close(rep[0]);
		c = 'r';
		if (write(rep[1], &c, 1) != 1)
			_exit(1);
		while (read(cmd[0], &wc, sizeof(wc)) == sizeof(wc)) {
			mp3_worker_exec(&wc, &wr);
			if (write(rep[1], &wr, sizeof(wr)) != sizeof(wr))
				_exit(1);
			if (wc.op == MP3_OP_TOUCH_EXIT)
				_exit(0);
		}
		_exit(0);
	}
	mp3_track_child(w->pid);
	close(cmd[0]);
	close(rep[1]);
	w->cmd = cmd[1];
	w->rep = rep[0];
	if (read(w->rep, &c, 1) != 1)
		return -EPIPE;
	return mp3_wait_sleeping(w->pid);
}

/* Run one command in the worker and wait (at most 60 s) for the reply. */
int mp3_worker_do(struct mp3_worker *w, int op, int nthreads,
		  long arg, struct mp3_wrep *rep)
{
	struct mp3_wcmd c = { .op = op, .nthreads = nthreads, .arg = arg };
	struct pollfd pfd = { .fd = w->rep, .events = POLLIN };

	if (op == MP3_OP_READ_FILE) {
		c.fd = nthreads;
		c.nthreads = 1;
	}
	if (write(w->cmd, &c, sizeof(c)) != sizeof(c))
		return -EPIPE;
	if (poll(&pfd, 1, 60000) != 1)
		return -ETIMEDOUT;
	if (read(w->rep, rep, sizeof(*rep)) != sizeof(*rep))
		return -EPIPE;
	return rep->err ? -rep->err : 0;
}

void mp3_worker_stop(struct mp3_worker *w)
{
	if (w->pid > 0) {
		close(w->cmd);
		close(w->rep);
		mp3_kill_reap(w->pid);
	}
	w->pid = 0;
}

/* ------------------------------------------------------------- cleanup */

/*
 * Unregister what we registered, kill and reap our children, then
 * unregister anything still listed: the tests assume nothing else is
 * registered.
 */
void mp3_cleanup(void)
{
	struct mp3_entry ents[512];
	int i, n;

	while (mp3_nr_regs) {
		mp3_cmd('U', mp3_regs[0]);
		mp3_untrack_reg(mp3_regs[0]);
	}
	while (mp3_nr_children)
		mp3_kill_reap(mp3_children[0]);
	n = mp3_list(ents, 512);
	for (i = 0; i < n && i < 512; i++)
		mp3_cmd('U', ents[i].pid);
}

/*
 * Start of every test: drop leftovers of an earlier failed test (exited
 * processes leave the listing at the next sample, so wait up to 2 s).
 * Returns the number of processes still listed.
 */
int mp3_prepare(void)
{
	int i, n = mp3_count();

	for (i = 0; n != 0 && i < 100; i++) {
		mp3_cleanup();
		mp3_msleep(20);
		n = mp3_count();
	}
	return n;
}
