/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mp3prof user space: map /dev/mp3prof and read its samples.
 *
 * Copyright (C) 2025 The mp3prof authors
 */
#ifndef _MP3PROF_RING_H
#define _MP3PROF_RING_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/mp3prof.h>

#define MP3PROF_DEV		"/dev/mp3prof"
#define MP3PROF_STATUS		"/proc/mp3prof/status"

struct mp3_ring {
	int fd;
	const struct mp3prof_header *hdr;
	const char *records;	/* first record */
	size_t map_len;
	__u64 mask;		/* nr_records - 1 */
	__u64 syscalls;	/* read() and poll() calls made on fd */
};

/*
 * Open and map @path, validate its header.  On error print a message on
 * stderr and return -1.
 */
int mp3_ring_open(struct mp3_ring *ring, const char *path);
void mp3_ring_close(struct mp3_ring *ring);

/* Current head (records ever written), loaded with acquire semantics. */
__u64 mp3_ring_head(const struct mp3_ring *ring);

/*
 * Copy record @seq into @out with the seq protocol.  Return false if the
 * record was overwritten (or is being rewritten): it is lost.
 */
bool mp3_ring_get(const struct mp3_ring *ring, __u64 seq,
		  struct mp3prof_sample *out);

/*
 * Sleep in read() until the head differs from the value the last read()
 * returned.  Return the new head, or -1 with errno set (EINTR on a signal).
 */
int mp3_ring_wait(struct mp3_ring *ring, __u64 *head);

/*
 * Wait at most @timeout_ms for the head to pass @old.  Return 1 if it did,
 * 0 on timeout, -1 with errno set.
 */
int mp3_ring_wait_past(struct mp3_ring *ring, __u64 old, int timeout_ms);

/* Write "R <pid>" or "U <pid>" to the control file: 0 or -errno. */
int mp3_control(char cmd, int pid);

#endif /* _MP3PROF_RING_H */
