// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof user space: map an mp3prof ring, validate its header by the
 * compatibility rule of include/uapi/linux/mp3prof.h, read its typed
 * records with the seq protocol, and drive sessions (MP3PROF_IOC_SESSION,
 * MP3PROF_IOC_ADD, MP3PROF_IOC_REMOVE).
 *
 * Copyright (C) 2025 The mp3prof authors
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ring.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open	434	/* the same on every architecture */
#endif

#define PARANOID_FILE	"/proc/sys/kernel/perf_event_paranoid"

/*
 * The compatibility rule: the magic, exactly our version, and sizes at
 * least ours (a later kernel may grow the header and the records; we read
 * the fields we know).  Unknown flags are ignored.  Sizes must keep the
 * 64-bit seq fields aligned.
 */
static int ring_check(const struct mp3prof_header *h, const char *path)
{
	if (h->magic != MP3PROF_MAGIC) {
		fprintf(stderr, "%s: bad magic 0x%08x, not an mp3prof ring\n",
			path, h->magic);
		return -1;
	}
	if (h->version != MP3PROF_ABI_VERSION) {
		fprintf(stderr,
			"%s: ABI version %u not supported (this monitor knows %u)\n",
			path, h->version, MP3PROF_ABI_VERSION);
		return -1;
	}
	if (h->header_size < sizeof(*h) || h->header_size % 8) {
		fprintf(stderr, "%s: bad header size %u (at least %zu, a multiple of 8)\n",
			path, h->header_size, sizeof(*h));
		return -1;
	}
	if (h->record_size < sizeof(union mp3_record) || h->record_size % 8) {
		fprintf(stderr, "%s: bad record size %u (at least %zu, a multiple of 8)\n",
			path, h->record_size, sizeof(union mp3_record));
		return -1;
	}
	if (!h->nr_records || (h->nr_records & (h->nr_records - 1))) {
		fprintf(stderr, "%s: %u records is not a power of two\n",
			path, h->nr_records);
		return -1;
	}
	if (!h->hz || !h->rate) {
		fprintf(stderr, "%s: bad header (hz %u, rate %u)\n", path,
			h->hz, h->rate);
		return -1;
	}
	return 0;
}

static int dev_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		fprintf(stderr,
			"%s: %s \xe2\x80\x94 is the mp3prof module loaded? (modprobe mp3prof)\n",
			path, strerror(errno));
	else
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	return -1;
}

/* A ring image in a regular file must hold the whole ring. */
static int check_file_size(int fd, size_t len, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size >= len)
		return 0;
	fprintf(stderr, "%s: truncated ring: %lld bytes, the header says %zu\n",
		path, (long long)st.st_size, len);
	return -1;
}

/* Map the ring of @ring->fd: one page to learn the sizes, then all of it. */
static int ring_map(struct mp3_ring *ring, const char *path)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct mp3prof_header h;
	void *map;

	map = mmap(NULL, page, PROT_READ, MAP_SHARED, ring->fd, 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "%s: mmap: %s\n", path, strerror(errno));
		return -1;
	}
	memcpy(&h, map, sizeof(h));
	munmap(map, page);
	if (ring_check(&h, path))
		return -1;

	ring->map_len = h.header_size + (size_t)h.nr_records * h.record_size;
	if (check_file_size(ring->fd, ring->map_len, path))
		return -1;
	map = mmap(NULL, ring->map_len, PROT_READ, MAP_SHARED, ring->fd, 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "%s: mmap of %zu bytes: %s\n", path,
			ring->map_len, strerror(errno));
		return -1;
	}
	ring->hdr = map;
	ring->records = (const char *)map + h.header_size;
	ring->mask = h.nr_records - 1;
	ring->record_size = h.record_size;
	return 0;
}

int mp3_ring_open(struct mp3_ring *ring, const char *path)
{
	memset(ring, 0, sizeof(*ring));
	ring->fd = dev_open(path);
	if (ring->fd < 0)
		return -1;
	if (ring_map(ring, path)) {
		mp3_ring_close(ring);
		return -1;
	}
	return 0;
}

static void explain_session(const char *path, const struct mp3_session_opts *o,
			    int err)
{
	if (err == ENOTTY)
		fprintf(stderr,
			"%s: not an mp3prof device with sessions (MP3PROF_IOC_SESSION: %s); an older driver?\n",
			path, strerror(err));
	else if (err == EINVAL)
		fprintf(stderr,
			"%s: session configuration refused (period %llu ns%s%s): %s\n",
			path, (unsigned long long)o->period_ns,
			o->tree ? ", whole tree" : "",
			o->per_process ? ", per process" : "", strerror(err));
	else
		fprintf(stderr, "%s: MP3PROF_IOC_SESSION: %s\n", path,
			strerror(err));
}

int mp3_session_open(struct mp3_ring *ring, const char *path,
		     const struct mp3_session_opts *opts)
{
	struct mp3prof_session_config cfg = {
		.period_ns = opts->period_ns,
	};

	if (opts->tree)
		cfg.flags |= MP3PROF_SESSION_TREE;
	if (opts->per_process)
		cfg.flags |= MP3PROF_SESSION_PER_PROCESS;

	memset(ring, 0, sizeof(*ring));
	ring->fd = dev_open(path);
	if (ring->fd < 0)
		return -1;
	if (ioctl(ring->fd, MP3PROF_IOC_SESSION, &cfg)) {
		explain_session(path, opts, errno);
		goto err;
	}
	if (ring_map(ring, path))
		goto err;
	return 0;
err:
	mp3_ring_close(ring);
	return -1;
}

void mp3_ring_close(struct mp3_ring *ring)
{
	if (ring->hdr)
		munmap((void *)ring->hdr, ring->map_len);
	if (ring->fd >= 0)
		close(ring->fd);
	ring->hdr = NULL;
	ring->fd = -1;
}

__u64 mp3_ring_head(const struct mp3_ring *ring)
{
	return __atomic_load_n(&ring->hdr->head, __ATOMIC_ACQUIRE);
}

__u32 mp3_ring_flags(const struct mp3_ring *ring)
{
	return __atomic_load_n(&ring->hdr->flags, __ATOMIC_RELAXED);
}

bool mp3_ring_get(const struct mp3_ring *ring, __u64 seq,
		  union mp3_record *out)
{
	const union mp3_record *r;

	r = (const void *)(ring->records + (seq & ring->mask) * ring->record_size);
	if (__atomic_load_n(&r->h.seq, __ATOMIC_ACQUIRE) != seq)
		return false;
	memcpy(out, r, sizeof(*out));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&r->h.seq, __ATOMIC_RELAXED) == seq;
}

int mp3_pidfd_open(pid_t pid)
{
	long fd = syscall(__NR_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

static int session_target(struct mp3_ring *ring, unsigned long cmd, pid_t pid,
			  int pidfd)
{
	struct mp3prof_target t = { .pidfd = pidfd };

	if (pidfd < 0) {
		t.flags = MP3PROF_TARGET_PID;
		t.pidfd = 0;
		t.pid = pid;
	}
	return ioctl(ring->fd, cmd, &t) ? -errno : 0;
}

int mp3_session_add(struct mp3_ring *ring, pid_t pid, int pidfd)
{
	return session_target(ring, MP3PROF_IOC_ADD, pid, pidfd);
}

int mp3_session_remove(struct mp3_ring *ring, pid_t pid, int pidfd)
{
	return session_target(ring, MP3PROF_IOC_REMOVE, pid, pidfd);
}

static int read_paranoid(void)
{
	FILE *f = fopen(PARANOID_FILE, "re");
	int v;

	if (!f)
		return -100;
	if (fscanf(f, "%d", &v) != 1)
		v = -100;
	fclose(f);
	return v;
}

void mp3_explain_add(const char *prog, pid_t pid, int err)
{
	int paranoid;

	fprintf(stderr, "%s: cannot profile pid %d: %s", prog, pid,
		strerror(-err));
	switch (-err) {
	case EPERM:
		fputs("\n  mp3prof applies perf_event_open()'s rule: ", stderr);
		paranoid = read_paranoid();
		if (paranoid > 2)
			fprintf(stderr,
				"kernel.perf_event_paranoid is %d, which allows it only with\n"
				"  CAP_SYS_ADMIN (as root: sysctl kernel.perf_event_paranoid=2).  Otherwise\n",
				paranoid);
		fputs("it needs CAP_PERFMON, or ptrace read access to the process\n"
		      "  (the same user and a dumpable process, or CAP_SYS_PTRACE; Yama and other\n"
		      "  LSMs may refuse it)\n", stderr);
		return;
	case ESRCH:
		fputs(" (no such process, or it is exiting, or it is a thread)\n",
		      stderr);
		return;
	case EEXIST:
		fputs(" (already in the session: listed twice, or a descendant of another one)\n",
		      stderr);
		return;
	case ENOSPC:
		fputs(" (process limit reached: the session's or the module's max_procs)\n",
		      stderr);
		return;
	default:
		fputc('\n', stderr);
	}
}
