// SPDX-License-Identifier: GPL-2.0
/*
 * work: load generator for mp3prof, with the command line of the classic
 * MP3 assignment's work program:
 *
 *	work <memory MB> <R|L> <accesses per iteration>
 *
 * Registers itself with mp3prof, allocates the memory in fresh 1 MB blocks
 * and runs 20 iterations of writes, each followed by a sleep.  R: every
 * access writes one byte at a uniformly random offset of the allocation.
 * L: one access in five does that, the others step to the next byte in the
 * page of the last access (good locality, almost never a fault).
 *
 * Environment: WORK_SEED (PRNG seed; default from pid and time),
 * WORK_ITER_SLEEP_MS (sleep after each iteration, default 1000).
 *
 * Copyright (C) 2025 The mp3prof authors
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>

#define WORK_STATUS	"/proc/mp3prof/status"
#define BLOCK_SHIFT	20		/* 1 MB blocks */
#define BLOCK_SIZE	(1024UL * 1024)
#define PAGE_MASK_4K	4095UL
#define ITERATIONS	20
#define MAX_MB		1024

static __u64 rng_state;

/* xorshift64* */
static __u64 rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void print_usage(void)
{
	fprintf(stderr,
		"Usage: work <memory MB, 1..%d> <R|L> <accesses per iteration, >= 1>\n"
		"  R: random writes over the whole allocation\n"
		"  L: 20%% random writes, 80%% writes next to the last one\n"
		"Environment: WORK_SEED, WORK_ITER_SLEEP_MS (default 1000)\n",
		MAX_MB);
	exit(2);
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *val)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*val = strtoul(s, &end, 10);
	if (errno || *end || *val > max)
		return -1;
	return 0;
}

static int control(char cmd)
{
	char buf[32];
	int fd, len, ret = 0;

	fd = open(WORK_STATUS, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	len = snprintf(buf, sizeof(buf), "%c %d", cmd, (int)getpid());
	errno = 0;
	if (write(fd, buf, len) != len)
		ret = errno ? errno : EIO;
	close(fd);
	return ret;
}

static void sleep_ms(unsigned long ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	unsigned long mb, accesses, sleep = 1000, i, j;
	char **blocks;
	__u64 size, pos = 0, r;
	bool registered;
	const char *env;
	char mode;
	int err;

	if (argc != 4 || parse_ulong(argv[1], MAX_MB, &mb) || !mb ||
	    (strcmp(argv[2], "R") && strcmp(argv[2], "L")) ||
	    parse_ulong(argv[3], ~0UL, &accesses) || !accesses)
		print_usage();
	mode = argv[2][0];

	env = getenv("WORK_ITER_SLEEP_MS");
	if (env && parse_ulong(env, 3600000, &sleep)) {
		fprintf(stderr, "work: bad WORK_ITER_SLEEP_MS '%s'\n", env);
		return 2;
	}
	env = getenv("WORK_SEED");
	if (env)
		rng_state = strtoull(env, NULL, 0);
	else
		rng_state = ((__u64)getpid() << 32) ^ (__u64)time(NULL);
	if (!rng_state)
		rng_state = 0x9e3779b97f4a7c15ULL;	/* xorshift needs != 0 */

	/* The monitor may have registered us already: EEXIST is fine. */
	err = control('R');
	registered = !err || err == EEXIST;
	if (!registered)
		fprintf(stderr,
			"work: warning: cannot register with mp3prof (%s): %s; continuing\n",
			WORK_STATUS, strerror(err));

	size = (__u64)mb << BLOCK_SHIFT;
	blocks = calloc(mb, sizeof(*blocks));
	if (!blocks) {
		perror("work: calloc");
		return 1;
	}
	for (i = 0; i < mb; i++) {
		/* One malloc per block: fresh, untouched memory. */
		blocks[i] = malloc(BLOCK_SIZE);
		if (!blocks[i]) {
			fprintf(stderr, "work: out of memory after %lu MB\n", i);
			return 1;
		}
	}

	for (i = 1; i <= ITERATIONS; i++) {
		for (j = 0; j < accesses; j++) {
			r = rng_next();
			if (mode == 'R' || r % 5 == 0) {
				/* Top bits are the best of xorshift64*. */
				pos = (r >> 32) * size >> 32;
			} else {
				/* Next byte, wrapping within the same page. */
				pos = (pos & ~PAGE_MASK_4K) |
				      ((pos + 1) & PAGE_MASK_4K);
			}
			blocks[pos >> BLOCK_SHIFT][pos & (BLOCK_SIZE - 1)] = (char)r;
		}
		/* The writes are the point: keep the compiler from dropping them. */
		asm volatile("" : : "r" (blocks) : "memory");
		printf("[%d] iteration %lu/%d done\n", (int)getpid(), i,
		       ITERATIONS);
		fflush(stdout);
		sleep_ms(sleep);
	}

	for (i = 0; i < mb; i++)
		free(blocks[i]);
	free(blocks);

	if (registered) {
		err = control('U');
		/* ENOENT: someone (the monitor) unregistered us already. */
		if (err && err != ENOENT)
			fprintf(stderr, "work: warning: cannot unregister: %s\n",
				strerror(err));
	}
	return 0;
}
