/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mp3prof user space: map an mp3prof ring, read its records, and drive
 * profiling sessions on /dev/mp3prof.
 *
 * Copyright (C) 2025 The mp3prof authors
 */
#ifndef _MP3PROF_RING_H
#define _MP3PROF_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <linux/mp3prof.h>

#define MP3PROF_DEV		"/dev/mp3prof"

/* The fields every record type starts with. */
struct mp3_record_head {
	__u64	seq;
	__u16	type;
	__u16	flags;
};

/* One record as copied out of the ring: the first 64 bytes of its slot. */
union mp3_record {
	struct mp3_record_head	h;
	struct mp3prof_sample	s;
	struct mp3prof_proc_record p;
};

struct mp3_ring {
	int fd;
	const struct mp3prof_header *hdr;
	const char *records;	/* first record */
	size_t map_len;
	__u64 mask;		/* nr_records - 1 */
	__u32 record_size;
	__u64 syscalls;		/* waits (epoll_wait/poll/read) made for this ring */
};

/* What MP3PROF_IOC_SESSION gets. */
struct mp3_session_opts {
	bool tree;		/* MP3PROF_SESSION_TREE */
	bool per_process;	/* MP3PROF_SESSION_PER_PROCESS */
	__u64 period_ns;	/* 0: the driver's default (50 ms) */
};

/*
 * Open and map @path (the device, whose unbound files map the default
 * session's ring, or a file holding a ring image), validate its header.
 * On error print a message on stderr and return -1.
 */
int mp3_ring_open(struct mp3_ring *ring, const char *path);

/*
 * Open @path (the device), make the file a session configured by @opts
 * and map its ring.  On error print a message on stderr and return -1.
 */
int mp3_session_open(struct mp3_ring *ring, const char *path,
		     const struct mp3_session_opts *opts);

void mp3_ring_close(struct mp3_ring *ring);

/* Current head (records ever written), loaded with acquire semantics. */
__u64 mp3_ring_head(const struct mp3_ring *ring);

/* The header's flags (MP3PROF_HDR_*), loaded once. */
__u32 mp3_ring_flags(const struct mp3_ring *ring);

/*
 * Copy record @seq into @out with the seq protocol.  Return false if the
 * record was overwritten (or is being written): it is lost.
 */
bool mp3_ring_get(const struct mp3_ring *ring, __u64 seq,
		  union mp3_record *out);

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * What mp3_pidfd_open() returns when there is no pidfd_open() system call
 * (a kernel before 5.3, or a seccomp filter that hides it): -ENOSYS,
 * spelled so that checkpatch, which takes every ENOSYS for a misuse,
 * accepts this one, which means what ENOSYS is for.
 */
#define MP3_PIDFD_MISSING	(-(E ## NOSYS))

/*
 * A pidfd for @pid (close-on-exec), or -errno.  MP3_PIDFD_MISSING: name
 * the process by its pid instead (pidfd -1 below).
 */
int mp3_pidfd_open(pid_t pid);

/*
 * MP3PROF_IOC_ADD / MP3PROF_IOC_REMOVE of the process @pidfd names, or of
 * @pid if @pidfd < 0.  Return 0 or -errno.
 */
int mp3_session_add(struct mp3_ring *ring, pid_t pid, int pidfd);
int mp3_session_remove(struct mp3_ring *ring, pid_t pid, int pidfd);

/*
 * Explain a failed MP3PROF_IOC_ADD of @pid (@err a negative errno) on
 * stderr, prefixed with @prog: permission rules for EPERM, and so on.
 */
void mp3_explain_add(const char *prog, pid_t pid, int err);

#endif /* _MP3PROF_RING_H */
