// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof user space: map /dev/mp3prof, validate the header and read
 * records with the seq protocol of include/uapi/linux/mp3prof.h.
 *
 * Copyright (C) 2025 The mp3prof authors
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

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
	if (h->record_size != sizeof(struct mp3prof_sample)) {
		fprintf(stderr, "%s: record size %u, expected %zu\n",
			path, h->record_size, sizeof(struct mp3prof_sample));
		return -1;
	}
	if (h->header_size < sizeof(*h) || h->header_size % 8) {
		fprintf(stderr, "%s: bad header size %u\n", path,
			h->header_size);
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

int mp3_ring_open(struct mp3_ring *ring, const char *path)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct mp3prof_header h;
	void *map;

	memset(ring, 0, sizeof(*ring));
	ring->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ring->fd < 0) {
		int err = errno;

		if (err == ENOENT)
			fprintf(stderr,
				"%s: %s \xe2\x80\x94 is the mp3prof module loaded? (modprobe mp3prof)\n",
				path, strerror(err));
		else
			fprintf(stderr, "%s: %s\n", path, strerror(err));
		return -1;
	}

	/* Map one page to learn the sizes, then the whole ring. */
	map = mmap(NULL, page, PROT_READ, MAP_SHARED, ring->fd, 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "%s: mmap: %s\n", path, strerror(errno));
		goto err;
	}
	memcpy(&h, map, sizeof(h));
	munmap(map, page);
	if (ring_check(&h, path))
		goto err;

	ring->map_len = h.header_size + (size_t)h.nr_records * h.record_size;
	map = mmap(NULL, ring->map_len, PROT_READ, MAP_SHARED, ring->fd, 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "%s: mmap of %zu bytes: %s\n", path,
			ring->map_len, strerror(errno));
		goto err;
	}
	ring->hdr = map;
	ring->records = (const char *)map + h.header_size;
	ring->mask = h.nr_records - 1;
	return 0;
err:
	close(ring->fd);
	ring->fd = -1;
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

bool mp3_ring_get(const struct mp3_ring *ring, __u64 seq,
		  struct mp3prof_sample *out)
{
	const struct mp3prof_sample *r;

	r = (const void *)(ring->records +
			   (seq & ring->mask) * ring->hdr->record_size);
	if (__atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) != seq)
		return false;
	memcpy(out, r, sizeof(*out));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&r->seq, __ATOMIC_RELAXED) == seq;
}

int mp3_ring_wait(struct mp3_ring *ring, __u64 *head)
{
	ssize_t n;

	ring->syscalls++;
	n = read(ring->fd, head, sizeof(*head));
	if (n == sizeof(*head))
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mp3_ring_wait_past(struct mp3_ring *ring, __u64 old, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = ring->fd, .events = POLLIN };
	__u64 head;
	int left, ret;

	while (mp3_ring_head(ring) <= old) {
		left = (int)(end - now_ms());
		if (left <= 0)
			return 0;
		ring->syscalls++;
		ret = poll(&pfd, 1, left);
		if (ret < 0 && errno != EINTR)
			return -1;
		/* Readable: consume the wake-up so poll() sleeps again. */
		if (ret > 0 && mp3_ring_wait(ring, &head))
			return -1;
	}
	return 1;
}

int mp3_control(char cmd, int pid)
{
	char buf[32];
	int fd, len, ret = 0;

	fd = open(MP3PROF_STATUS, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%c %d", cmd, pid);
	errno = 0;
	if (write(fd, buf, len) != len)
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}
