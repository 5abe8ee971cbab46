// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof fuzzers: the control file and the session ioctls.
 *
 * Control file (fuzz.control_file): several threads write random and
 * adversarial commands to /proc/mp3prof/status, one write() or pwrite()
 * per command.  Every command is checked against a model of the
 * documented grammar and errors: each writer owns a few live processes
 * (children, or the test process itself) and knows exactly whether each is
 * registered; dead pids and pids above pid_max must give ESRCH; one child
 * is shared by all writers, so its commands race and only the number of
 * successes is known.  After every batch the listing must hold exactly the
 * processes the accepted commands registered.
 *
 * Session ioctls (ioctl_fuzz.sessions): threads issue random
 * MP3PROF_IOC_SESSION, ADD and REMOVE calls (and unknown commands, mmaps,
 * closes) with random sizes, flags, tails, bad pointers and descriptors
 * (pidfds of live, exited and reaped processes and of a thread, other
 * descriptors, -1, closed ones) on sessions of their own in every state
 * (unbound, following the default ring, configured, mapped, ended), each
 * result checked against a model of the documented errors and state.
 * After every batch the sessions' registries must be what the model says:
 * through the API (ADD of a sampled process is EEXIST, REMOVE of another
 * ENOENT) and, for mapped per-process sessions, through the process
 * records of a sample taken after the batch.
 *
 * Environment:
 *   MP3PROF_FUZZ_SEED   seed (default: from the clock; always printed)
 *   MP3PROF_FUZZ_COUNT  number of commands, and of ioctl calls (default
 *                       100000 each)
 *   MP3PROF_FUZZ_SOAK   1: soak mode, 2000000 commands unless
 *                       MP3PROF_FUZZ_COUNT says otherwise, with progress
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#define NR_WRITERS	4
#define OWN_PER_WRITER	2	/* live children per writer */
#define NR_DEAD		6
#define BATCH		1000	/* commands between two listing checks */
#define DEFAULT_COUNT	100000ULL
#define SOAK_COUNT	2000000ULL
#define BIG_LEN		(1024 * 1024)
#define MAX_FAILS	8

/* What the model expects of a write, besides 0 and -errno. */
#define EXP_UNKNOWN	1	/* a pid the model knows nothing about */
#define EXP_SHARED	2	/* the shared child: 0 or EEXIST/ENOENT */

struct target {
	pid_t pid;
	bool reg;
};

struct fuzz;

struct writer {
	struct fuzz *f;
	pthread_t th;
	int idx;
	int fd;
	uint64_t rng;
	struct target own[OWN_PER_WRITER + 1];
	int nr_own;
	/* statistics */
	uint64_t writes, ok, einval, esrch, eexist, enoent, efault;
	uint64_t shared_r_ok, shared_u_ok;
	int nr_fails;
	char fails[MAX_FAILS][320];
};

struct fuzz {
	struct writer w[NR_WRITERS];
	pid_t dead[NR_DEAD];
	int nr_dead;
	long long pid_max;
	pid_t shared;
	uint64_t per_writer;	/* commands per writer per batch */
	uint64_t batches;
	int batch_done;		/* writers done with the current batch */
	int failed;		/* a writer saw a mismatch: stop after the batch */
	int stop;		/* no more batches */
	pthread_barrier_t start, end;
	char *big;		/* BIG_LEN bytes of a padded command */
	char *guard;		/* one readable page, then a PROT_NONE page */
	size_t ps;
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline unsigned int rn(uint64_t *s, unsigned int n)
{
	return (rnd(s) >> 32) % n;
}

/* The kernel's isspace(): lib/ctype.c marks 9-13, 32 and 160 as space. */
static inline bool k_isspace(unsigned char c)
{
	return c == ' ' || (c >= 9 && c <= 13) || c == 0xa0;
}

/*
 * The documented grammar: "R <pid>" or "U <pid>", or a bare "<pid>" (MP1's
 * registration), surrounding white space ignored, a positive decimal int,
 * no NUL, at most 64 bytes.  0 with the command and number, or -EINVAL.
 */
static int model_parse(const unsigned char *b, size_t len, char *cmd, long long *nr)
{
	size_t i = 0, end = len;
	long long v = 0;

	if (!len || len > MP3_CMD_MAX || memchr(b, 0, len))
		return -EINVAL;
	while (i < end && k_isspace(b[i]))
		i++;
	while (end > i && k_isspace(b[end - 1]))
		end--;
	if (i < end && b[i] >= '0' && b[i] <= '9') {
		*cmd = 'R';	/* a bare pid: no sign */
	} else {
		if (end - i < 3 || (b[i] != 'R' && b[i] != 'U') || !k_isspace(b[i + 1]))
			return -EINVAL;
		*cmd = b[i];
		i += 1;
		while (i < end && k_isspace(b[i]))
			i++;
		if (i < end && b[i] == '+')	/* kstrtoint() takes one '+' */
			i++;
	}
	if (i == end)
		return -EINVAL;
	for (; i < end; i++) {
		if (b[i] < '0' || b[i] > '9')
			return -EINVAL;	/* including any '-': never positive */
		v = v * 10 + (b[i] - '0');
		if (v > INT32_MAX)
			return -EINVAL;
	}
	if (v == 0)
		return -EINVAL;
	*nr = v;
	return 0;
}

static struct target *own_target(struct writer *w, long long nr)
{
	int i;

	for (i = 0; i < w->nr_own; i++)
		if (w->own[i].pid == nr)
			return &w->own[i];
	return NULL;
}

static bool is_dead(const struct fuzz *f, long long nr)
{
	int i;

	if (nr >= f->pid_max)
		return true;
	for (i = 0; i < f->nr_dead; i++)
		if (f->dead[i] == nr)
			return true;
	return false;
}

/* Expected result of writing @b[0..len) as writer @w. */
static int model_expect(struct writer *w, const void *b, size_t len,
			char *cmd, long long *nr)
{
	struct target *t;
	int ret = model_parse(b, len, cmd, nr);

	if (ret)
		return ret;
	t = own_target(w, *nr);
	if (t) {
		if (*cmd == 'R')
			return t->reg ? -EEXIST : 0;
		return t->reg ? 0 : -ENOENT;
	}
	if (*nr == w->f->shared)
		return EXP_SHARED;
	if (is_dead(w->f, *nr))
		return -ESRCH;
	return EXP_UNKNOWN;
}

/* One write of a command. */
struct wr {
	const void *ptr;
	size_t len;
	off_t off;
	bool pw;	/* pwrite() at @off: seq_file refuses it (ESPIPE) */
	bool seek;	/* lseek() to @off, then write(): the offset is ignored */
	int preset;	/* 0: ask the model; else the expected -errno */
};

struct op {
	unsigned char buf[2][160];
	struct wr w[2];
	int nr;
	const char *what;
};

static const char spaces[] = { ' ', ' ', ' ', '\t', '\n', '\v', '\f', '\r', (char)0xa0 };

static size_t put_spaces(uint64_t *r, unsigned char *p, unsigned int max)
{
	unsigned int n = rn(r, max + 1), i;

	for (i = 0; i < n; i++)
		p[i] = spaces[rn(r, sizeof(spaces))];
	return n;
}

/* A target pid for @w: mostly its own, also the shared, dead and huge ones. */
static long long pick_pid(struct writer *w)
{
	struct fuzz *f = w->f;
	unsigned int k = rn(&w->rng, 100);

	if (k < 60)
		return w->own[rn(&w->rng, w->nr_own)].pid;
	if (k < 75)
		return f->shared;
	if (k < 90 && f->nr_dead)
		return f->dead[rn(&w->rng, f->nr_dead)];
	if (k < 95)
		return f->pid_max + rn(&w->rng, 3);
	return f->pid_max + (rnd(&w->rng) % (INT32_MAX - f->pid_max + 1));
}

/* A well-formed command in one of many spellings; returns its length. */
static size_t fmt_cmd(uint64_t *r, unsigned char *p, char cmd, long long nr)
{
	size_t n = 0;

	if (rn(r, 4) == 0)
		n += put_spaces(r, p + n, 3);
	p[n++] = cmd;
	p[n++] = spaces[rn(r, sizeof(spaces))];
	if (rn(r, 4) == 0)
		n += put_spaces(r, p + n, 3);
	if (rn(r, 10) == 0)
		p[n++] = '+';
	if (rn(r, 10) == 0) {
		unsigned int z = 1 + rn(r, 3);

		while (z--)
			p[n++] = '0';
	}
	n += sprintf((char *)p + n, "%lld", nr);
	if (rn(r, 2) == 0)
		p[n++] = '\n';
	else if (rn(r, 4) == 0)
		n += put_spaces(r, p + n, 3);
	return n;
}

static const char * const numbers[] = {
	"0", "00", "-0", "+0", "-1", "-2147483648", "2147483648", "4294967295",
	"4294967296", "9223372036854775807", "9223372036854775808",
	"18446744073709551615", "18446744073709551616", "99999999999999999999999",
	"+", "-", "+-1", "-+1", "++1", "0x10", "1e3", "1.0", "\xd9\xa1", "",
};

static const char alphabet[] = "RU ru0123456789+-\t\n\v\f\r\0xX.";

/* Fill @op with a random command (not yet checked against the model). */
static void gen(struct writer *w, struct op *op)
{
	struct fuzz *f = w->f;
	uint64_t *r = &w->rng;
	unsigned int kind = rn(r, 100), i, n;
	unsigned char *b = op->buf[0];
	char cmd = rn(r, 2) ? 'R' : 'U';
	long long nr = pick_pid(w);
	size_t len;

	memset(op->w, 0, sizeof(op->w));
	op->nr = 1;
	op->w[0].ptr = b;

	if (kind < 35) {
		op->what = "valid";
		op->w[0].len = fmt_cmd(r, b, cmd, nr);
	} else if (kind < 60) {
		op->what = "mutated";
		len = fmt_cmd(r, b, cmd, nr);
		n = 1 + rn(r, 3);
		while (n--) {
			unsigned int at = len ? rn(r, len) : 0;

			switch (rn(r, 7)) {
			case 0:	/* flip bits */
				if (len)
					b[at] ^= 1 << rn(r, 8);
				break;
			case 1:	/* insert a byte */
				if (len < 100) {
					memmove(b + at + 1, b + at, len - at);
					b[at] = alphabet[rn(r, sizeof(alphabet))];
					len++;
				}
				break;
			case 2:	/* delete a byte */
				if (len) {
					memmove(b + at, b + at + 1, len - at - 1);
					len--;
				}
				break;
			case 3:	/* embedded NUL */
				if (len)
					b[at] = 0;
				break;
			case 4:	/* change case */
				if (len && b[at] >= 'A' && b[at] <= 'Z')
					b[at] += 'a' - 'A';
				else if (len && b[at] >= 'a' && b[at] <= 'z')
					b[at] -= 'a' - 'A';
				break;
			case 5:	/* an extra field */
				len += sprintf((char *)b + len, " %d", rn(r, 2) ?
					       (int)nr : (int)rn(r, 100));
				break;
			default: /* truncate */
				len = at;
				break;
			}
		}
		op->w[0].len = len;
	} else if (kind < 70) {
		op->what = "alphabet";
		len = rn(r, 72);
		for (i = 0; i < len; i++)
			b[i] = alphabet[rn(r, sizeof(alphabet))];
		op->w[0].len = len;
	} else if (kind < 75) {
		op->what = "bytes";
		len = rn(r, 72);
		for (i = 0; i < len; i++)
			b[i] = rnd(r) >> 56;
		if (len > 2 && rn(r, 2)) {
			b[0] = cmd;
			b[1] = ' ';
		}
		op->w[0].len = len;
	} else if (kind < 85) {
		op->what = "number";
		len = 0;
		if (rn(r, 3) == 0)
			len += put_spaces(r, b, 2);
		len += sprintf((char *)b + len, "%c%c%s", cmd,
			       spaces[rn(r, sizeof(spaces))],
			       numbers[rn(r, ARRAY_SIZE(numbers))]);
		if (rn(r, 2))
			b[len++] = '\n';
		op->w[0].len = len;
	} else if (kind < 91) {
		/* one command in two writes: two commands, both judged alone */
		op->what = "split";
		len = fmt_cmd(r, b, cmd, nr);
		n = 1 + rn(r, len - 1);
		memcpy(op->buf[1], b + n, len - n);
		op->w[0].len = n;
		op->w[1].ptr = op->buf[1];
		op->w[1].len = len - n;
		op->nr = 2;
	} else if (kind < 95) {
		op->what = "long";
		switch (rn(r, 4)) {
		case 0:
			len = MP3_CMD_MAX + 1;
			break;
		case 1:
			len = MP3_CMD_MAX + 1 + rn(r, 200);
			break;
		case 2:
			len = 4096 + rn(r, 2) - rn(r, 2);
			break;
		default:
			len = 1 + rn(r, BIG_LEN);
			if (len <= MP3_CMD_MAX)
				len += MP3_CMD_MAX;
			break;
		}
		/* a valid command padded with trailing spaces */
		op->w[0].ptr = f->big;
		op->w[0].len = len;
	} else if (kind < 98) {
		op->what = "efault";
		len = rn(r, 70);
		if (rn(r, 2)) {
			op->w[0].ptr = NULL;
		} else {
			/* straddles the end of a readable page */
			n = 1 + rn(r, len ? len : 1);
			op->w[0].ptr = f->guard + f->ps - (n < len ? n : 0);
		}
		op->w[0].len = len;
		op->w[0].preset = !len || len > MP3_CMD_MAX ? -EINVAL : -EFAULT;
	} else {
		op->what = "zero";
		op->w[0].len = 0;
	}

	for (i = 0; i < (unsigned int)op->nr; i++) {
		struct wr *x = &op->w[i];

		if (rn(r, 4))
			continue;
		switch (rn(r, 4)) {
		case 0:
			x->off = 1 + 2 * rn(r, 1000);	/* odd */
			break;
		case 1:
			x->off = rnd(r) >> 2;		/* huge */
			break;
		case 2:
			x->off = -1 - (off_t)rn(r, 10);	/* negative */
			break;
		default:
			x->off = rn(r, 65);
			break;
		}
		if (rn(r, 2)) {
			/* pwrite64() checks the offset, then FMODE_PWRITE */
			x->pw = true;
			x->preset = x->off < 0 ? -EINVAL : -ESPIPE;
		} else {
			/* the file position does not matter to the command */
			x->seek = true;
		}
	}
}

/* True if no write of @op has an outcome the model cannot tell. */
static bool op_known(struct writer *w, const struct op *op)
{
	char cmd;
	long long nr;
	int i;

	for (i = 0; i < op->nr; i++) {
		if (op->w[i].preset || !op->w[i].ptr)
			continue;
		if (model_expect(w, op->w[i].ptr, op->w[i].len, &cmd, &nr) == EXP_UNKNOWN)
			return false;
	}
	return true;
}

static void report(struct writer *w, const struct wr *x, const char *what,
		   int exp, int got, long long nr)
{
	char hex[3 * 24 + 1] = "";
	size_t i, n = x->len < 24 ? x->len : 24;

	if (w->nr_fails < MAX_FAILS) {
		if (x->ptr && x->ptr != w->f->big && x->ptr >= (const void *)4096 &&
		    (x->ptr < (const void *)w->f->guard ||
		     x->ptr >= (const void *)(w->f->guard + w->f->ps)))
			for (i = 0; i < n; i++)
				sprintf(hex + 3 * i, "%02x ", ((const unsigned char *)x->ptr)[i]);
		snprintf(w->fails[w->nr_fails], sizeof(w->fails[0]),
			 "writer %d, %s write of %zu bytes at %lld%s [%s]: expected %s (pid %lld), got %s",
			 w->idx, what, x->len, (long long)x->off,
			 x->pw ? " (pwrite)" : x->seek ? " (lseek)" : "",
			 hex, exp == EXP_SHARED ? "0/EEXIST/ENOENT" :
			 exp ? strerror(-exp) : "success",
			 nr, got ? strerror(-got) : "success");
	}
	w->nr_fails++;
	__atomic_store_n(&w->f->failed, 1, __ATOMIC_RELAXED);
}

static void count(struct writer *w, int got)
{
	switch (got) {
	case 0:
		w->ok++;
		break;
	case -EINVAL:
		w->einval++;
		break;
	case -ESRCH:
		w->esrch++;
		break;
	case -EEXIST:
		w->eexist++;
		break;
	case -ENOENT:
		w->enoent++;
		break;
	case -EFAULT:
		w->efault++;
		break;
	}
}

static void run_op(struct writer *w, const struct op *op)
{
	int i;

	for (i = 0; i < op->nr; i++) {
		const struct wr *x = &op->w[i];
		long long nr = 0;
		char cmd = 0;
		int exp, got;
		ssize_t n;

		exp = x->preset ? x->preset :
		      model_expect(w, x->ptr, x->len, &cmd, &nr);
		if (x->seek)
			lseek(w->fd, x->off, SEEK_SET);
		if (x->pw)
			n = pwrite(w->fd, x->ptr, x->len, x->off);
		else
			n = write(w->fd, x->ptr, x->len);
		got = n < 0 ? -errno : (size_t)n == x->len ? 0 : -EPROTO;
		w->writes++;
		count(w, got);

		if (exp == EXP_SHARED) {
			if (got == 0 && cmd == 'R')
				w->shared_r_ok++;
			else if (got == 0)
				w->shared_u_ok++;
			else if (got != (cmd == 'R' ? -EEXIST : -ENOENT))
				report(w, x, op->what, exp, got, nr);
			continue;
		}
		if (got != exp) {
			/* a dead pid recycled by somebody else is no driver bug */
			if (exp == -ESRCH && nr < w->f->pid_max && kill(nr, 0) == 0) {
				if (!got && cmd == 'R')
					mp3_cmd('U', nr);
				continue;
			}
			report(w, x, op->what, exp, got, nr);
			continue;
		}
		if (!got && !x->preset) {
			struct target *t = own_target(w, nr);

			if (t)
				t->reg = cmd == 'R';
		}
	}
}

static void *writer_fn(void *p)
{
	struct writer *w = p;
	struct fuzz *f = w->f;
	struct op op;
	uint64_t i;

	for (;;) {
		pthread_barrier_wait(&f->start);
		if (__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE))
			break;
		for (i = 0; i < f->per_writer; i++) {
			int tries = 0;

			do {
				gen(w, &op);
			} while (!op_known(w, &op) && ++tries < 100);
			if (tries < 100)
				run_op(w, &op);
		}
		__atomic_add_fetch(&f->batch_done, 1, __ATOMIC_RELEASE);
		pthread_barrier_wait(&f->end);
	}
	return NULL;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* The pids that must be listed now, sorted; returns how many. */
static int expected_listing(struct fuzz *f, pid_t *out)
{
	uint64_t r = 0, u = 0;
	int i, j, n = 0;

	for (i = 0; i < NR_WRITERS; i++) {
		for (j = 0; j < f->w[i].nr_own; j++)
			if (f->w[i].own[j].reg)
				out[n++] = f->w[i].own[j].pid;
		r += f->w[i].shared_r_ok;
		u += f->w[i].shared_u_ok;
	}
	if (r == u + 1)
		out[n++] = f->shared;
	else if (r != u)
		return -1;	/* more successes of one kind than possible */
	qsort(out, n, sizeof(*out), cmp_pid);
	return n;
}

FIXTURE(fuzz) {
	struct fuzz f;
	pid_t kids[NR_WRITERS * OWN_PER_WRITER + 1];
	int nr_kids;
};

FIXTURE_SETUP(fuzz)
{
	struct fuzz *f = &self->f;
	int i;

	memset(f, 0, sizeof(*f));
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	ASSERT_EQ(0, mp3_prepare())
		TH_LOG("processes are registered already and cannot be removed");
	f->pid_max = mp3_read_ull("/proc/sys/kernel/pid_max");
	ASSERT_LT(0, f->pid_max);
	ASSERT_GE(INT32_MAX, f->pid_max);
	ASSERT_LE(16, mp3_read_ull(MP3_PARAMS "max_procs"));
	f->ps = mp3_page_size();

	/* dead pids: children reaped at once */
	for (i = 0; i < NR_DEAD; i++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(0);
		ASSERT_EQ(pid, waitpid(pid, NULL, 0));
		if (kill(pid, 0) && errno == ESRCH)
			f->dead[f->nr_dead++] = pid;
	}
	for (i = 0; i < NR_WRITERS * OWN_PER_WRITER + 1; i++) {
		self->kids[i] = mp3_spawn_sleeper();
		ASSERT_LT(0, self->kids[i]);
		self->nr_kids++;
	}
	f->shared = self->kids[NR_WRITERS * OWN_PER_WRITER];
	/* the shared child may be left registered by the racing writers */
	mp3_track_reg(f->shared);

	f->big = mmap(NULL, BIG_LEN, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f->big);
	memset(f->big, ' ', BIG_LEN);
	memcpy(f->big, "R ", 2);
	i = sprintf(f->big + 2, "%d", self->kids[0]);
	f->big[2 + i] = ' ';
	f->guard = mmap(NULL, 2 * f->ps, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f->guard);
	sprintf(f->guard + f->ps - 16, "    R %d", self->kids[0]);
	ASSERT_EQ(0, mprotect(f->guard + f->ps, f->ps, PROT_NONE));
}

FIXTURE_TEARDOWN(fuzz)
{
	int i;

	for (i = 0; i < NR_WRITERS; i++) {
		int j;

		for (j = 0; j < self->f.w[i].nr_own; j++)
			if (self->f.w[i].own[j].reg)
				mp3_cmd('U', self->f.w[i].own[j].pid);
	}
	mp3_cleanup();
	if (self->f.big && self->f.big != MAP_FAILED)
		munmap(self->f.big, BIG_LEN);
	if (self->f.guard && self->f.guard != MAP_FAILED)
		munmap(self->f.guard, 2 * self->f.ps);
}

TEST_F_TIMEOUT(fuzz, control_file, 7200)
{
	struct fuzz *f = &self->f;
	uint64_t seed, total, done = 0, t0, tot_ok = 0, s;
	pid_t want[NR_WRITERS * OWN_PER_WRITER + 2];
	struct mp3_entry ents[64];
	pid_t got[64];
	bool soak = env_u64("MP3PROF_FUZZ_SOAK", 0);
	int i, j, n, m;

	seed = env_u64("MP3PROF_FUZZ_SEED", mp3_now_ns() ^ ((uint64_t)getpid() << 32));
	total = env_u64("MP3PROF_FUZZ_COUNT", soak ? SOAK_COUNT : DEFAULT_COUNT);
	f->per_writer = BATCH / NR_WRITERS;
	f->batches = (total + BATCH - 1) / BATCH;
	TH_LOG("seed %llu (MP3PROF_FUZZ_SEED=%llu reproduces), %llu commands, %d writers",
	       (unsigned long long)seed, (unsigned long long)seed,
	       (unsigned long long)(f->batches * BATCH), NR_WRITERS);
	TH_LOG("%d live targets, %d dead pids, pid_max %lld",
	       self->nr_kids + 1, f->nr_dead, f->pid_max);

	ASSERT_EQ(0, pthread_barrier_init(&f->start, NULL, NR_WRITERS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&f->end, NULL, NR_WRITERS + 1));
	s = seed;
	for (i = 0; i < NR_WRITERS; i++) {
		struct writer *w = &f->w[i];

		w->f = f;
		w->idx = i;
		w->rng = splitmix64(&s) | 1;
		for (j = 0; j < OWN_PER_WRITER; j++)
			w->own[w->nr_own++].pid = self->kids[i * OWN_PER_WRITER + j];
		if (i == 0)
			w->own[w->nr_own++].pid = getpid();
		w->fd = open(MP3_STATUS, i & 1 ? O_RDWR : O_WRONLY);
		ASSERT_LE(0, w->fd);
	}
	for (i = 0; i < NR_WRITERS; i++)
		ASSERT_EQ(0, pthread_create(&f->w[i].th, NULL, writer_fn, &f->w[i]));

	t0 = mp3_now_ns();
	for (s = 0; s < f->batches; s++) {
		int fails = 0;

		pthread_barrier_wait(&f->start);
		/* read the listing while the writers change it */
		while (__atomic_load_n(&f->batch_done, __ATOMIC_ACQUIRE) < NR_WRITERS) {
			n = mp3_list(ents, ARRAY_SIZE(ents));
			if (n < 0 || n > (int)ARRAY_SIZE(want))
				fails++;
		}
		f->batch_done = 0;
		/* quiescent: the listing must be exactly what the model says */
		n = mp3_list(ents, ARRAY_SIZE(ents));
		m = expected_listing(f, want);
		pthread_barrier_wait(&f->end);
		done += BATCH;

		EXPECT_EQ(0, fails) TH_LOG("a listing read during batch %llu failed",
					   (unsigned long long)s);
		ASSERT_LE(0, m) TH_LOG("the shared child was registered twice");
		ASSERT_EQ(m, n) TH_LOG("batch %llu: %d listed, %d registered",
				       (unsigned long long)s, n, m);
		for (i = 0; i < n; i++)
			got[i] = ents[i].pid;
		qsort(got, n, sizeof(*got), cmp_pid);
		for (i = 0; i < n; i++)
			ASSERT_EQ(want[i], got[i])
				TH_LOG("batch %llu: listing differs from the model",
				       (unsigned long long)s);
		if (__atomic_load_n(&f->failed, __ATOMIC_RELAXED))
			break;
		if (soak && done % 100000 == 0)
			ksft_print_msg("mp3prof-fuzz: %llu commands, %llu s\n",
				       (unsigned long long)done,
				       (unsigned long long)((mp3_now_ns() - t0) / MP3_NSEC));
	}
	/* let the writers go */
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	pthread_barrier_wait(&f->start);
	for (i = 0; i < NR_WRITERS; i++) {
		struct writer *w = &f->w[i];

		pthread_join(w->th, NULL);
		close(w->fd);
		for (j = 0; j < w->nr_fails && j < MAX_FAILS; j++)
			TH_LOG("%s", w->fails[j]);
		EXPECT_EQ(0, w->nr_fails) TH_LOG("writer %d: %d unexpected results",
						 i, w->nr_fails);
		tot_ok += w->ok;
		TH_LOG("writer %d: %llu writes: %llu ok, %llu EINVAL, %llu ESRCH", i,
		       (unsigned long long)w->writes, (unsigned long long)w->ok,
		       (unsigned long long)w->einval, (unsigned long long)w->esrch);
		TH_LOG("writer %d: %llu EEXIST, %llu ENOENT, %llu EFAULT", i,
		       (unsigned long long)w->eexist, (unsigned long long)w->enoent,
		       (unsigned long long)w->efault);
	}
	ksft_print_msg("mp3prof-fuzz: commands=%llu accepted=%llu seed=%llu seconds=%llu\n",
		       (unsigned long long)done, (unsigned long long)tot_ok,
		       (unsigned long long)seed,
		       (unsigned long long)((mp3_now_ns() - t0) / MP3_NSEC));
	EXPECT_LT(0, tot_ok);
}

/* ====================================================== session ioctls */

#define IF_THREADS	2
#define IF_SESSIONS	3	/* per thread */
#define IF_BATCH	1000	/* calls per thread between two checks */
#define IF_LIVE		7	/* sampleable targets: */
#define IF_SELF		4	/* 0-3 sleepers, the test process, */
#define IF_P		5	/* a sleeper with a child */
#define IF_C		6	/* and that child */
#define IF_AREA		16384	/* argument area, a PROT_NONE page after it */
#define IF_ENDED	4
#define IF_MS		1000000ULL

#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL
#endif

enum tkind {
	TK_LIVE,	/* one of the IF_LIVE processes */
	TK_ZOMBIE,	/* exited, not reaped */
	TK_REAPED,	/* exited and reaped */
	TK_THREAD,	/* a thread of the test process (not its leader) */
	TK_NOTPIDFD,	/* a descriptor that is no pidfd */
	TK_CLOSED,	/* a descriptor number that is not open */
	TK_NONE,	/* a pid number above pid_max */
};

struct itarget {
	int kind;
	int bit;	/* TK_LIVE: which one */
	pid_t pid;	/* 0: none to name it by */
	int fd;		/* pidfd (or other descriptor); -1: none */
};

enum { SS_UNBOUND, SS_DEFAULT, SS_SESSION, SS_MAPPED };

struct isess {
	int fd;
	int state;
	uint64_t flags, period;
	uint32_t max;
	uint32_t added;		/* added with ADD */
	uint32_t desc;		/* sampled as a descendant (C under P) */
	int pending;		/* per-process: last records that may be due */
	bool active;		/* sampling may run although nothing is added */
	uint64_t last_head;	/* what read() last returned on the file */
	uint64_t mark;		/* the head after the last REMOVE */
	struct mp3_ring r;	/* SS_MAPPED */
	uint64_t pos;		/* next record to check */
};

struct iended {
	struct mp3_ring r;
	uint64_t head;
};

/* Accepted results of one call: 0 or -errno values. */
struct acc {
	int n;
	int v[8];
};

static void acc_add(struct acc *a, int e)
{
	int i;

	for (i = 0; i < a->n; i++)
		if (a->v[i] == e)
			return;
	if (a->n < (int)ARRAY_SIZE(a->v))
		a->v[a->n++] = e;
}

static bool acc_has(const struct acc *a, int e)
{
	int i;

	for (i = 0; i < a->n; i++)
		if (a->v[i] == e)
			return true;
	return false;
}

struct ifuzz;

struct ithread {
	struct ifuzz *f;
	pthread_t th;
	int idx;
	uint64_t rng;
	uint64_t calls;
	struct isess s[IF_SESSIONS];
	struct iended ended[IF_ENDED];
	int nr_ended;
	unsigned char *area, *guard;
	/* statistics */
	uint64_t nr_ok, nr_einval, nr_e2big, nr_efault, nr_ebadf, nr_esrch;
	uint64_t nr_eexist, nr_enoent, nr_enospc, nr_ebusy, nr_enotty;
	uint64_t nr_checks, nr_record_checks, nr_lost, nr_closed;
	int nr_fails;
	char fails[MAX_FAILS][320];
};

struct ifuzz {
	struct ithread t[IF_THREADS];
	struct itarget tg[32];
	int ntg;
	pid_t live[IF_LIVE];
	uint64_t per_thread;	/* calls per thread */
	long long gmax;
	int failed;
};

static void ifail(struct ithread *t, const char *fmt, ...)
{
	va_list ap;

	if (t->nr_fails < MAX_FAILS) {
		va_start(ap, fmt);
		vsnprintf(t->fails[t->nr_fails], sizeof(t->fails[0]), fmt, ap);
		va_end(ap);
	}
	t->nr_fails++;
	__atomic_store_n(&t->f->failed, 1, __ATOMIC_RELAXED);
}

static void icount(struct ithread *t, int ret)
{
	switch (ret) {
	case 0:
		t->nr_ok++;
		break;
	case -EINVAL:
		t->nr_einval++;
		break;
	case -E2BIG:
		t->nr_e2big++;
		break;
	case -EFAULT:
		t->nr_efault++;
		break;
	case -EBADF:
		t->nr_ebadf++;
		break;
	case -ESRCH:
		t->nr_esrch++;
		break;
	case -EEXIST:
		t->nr_eexist++;
		break;
	case -ENOENT:
		t->nr_enoent++;
		break;
	case -ENOSPC:
		t->nr_enospc++;
		break;
	case -EBUSY:
		t->nr_ebusy++;
		break;
	case -ENOTTY:
		t->nr_enotty++;
		break;
	}
}

static const char *errname(int e)
{
	return e ? strerror(-e) : "success";
}

static void icheck(struct ithread *t, const char *what, const struct acc *a, int ret)
{
	char exp[128] = "";
	int i, n = 0;

	icount(t, ret);
	if (acc_has(a, ret))
		return;
	for (i = 0; i < a->n; i++)
		n += snprintf(exp + n, sizeof(exp) - n, "%s%s", i ? "/" : "",
			      errname(a->v[i]));
	ifail(t, "thread %d call %llu: %s: expected %s, got %s", t->idx,
	      (unsigned long long)t->calls, what, exp, errname(ret));
}

static uint32_t present(const struct isess *s)
{
	return s->added | s->desc;
}

static bool is_session(const struct isess *s)
{
	return s->state == SS_SESSION || s->state == SS_MAPPED;
}

/* The session's head, through read() (which any session's file has). */
static uint64_t cur_head(struct isess *s)
{
	uint64_t v;

	if (read(s->fd, &v, sizeof(v)) == sizeof(v))
		s->last_head = v;
	return s->last_head;
}

static uint32_t pow2_floor(uint64_t n)
{
	uint64_t p = 1;

	while (p * 2 <= n)
		p *= 2;
	return p;
}

/* The documented limits: 0 and the effective max_procs, or -EINVAL. */
static int cfg_valid(const struct mp3prof_session_config *c, long long gmax,
		     uint32_t *max)
{
	uint64_t period = c->period_ns ?: 50 * IF_MS;
	uint64_t pages = c->ring_pages ?: 128;
	bool per_proc = c->flags & MP3PROF_SESSION_PER_PROCESS;
	uint32_t nr, m = c->max_procs;

	if (c->flags & ~(MP3PROF_SESSION_PER_PROCESS | MP3PROF_SESSION_TREE))
		return -EINVAL;
	if (period < MP3PROF_PERIOD_MIN_NS || period > MP3PROF_PERIOD_MAX_NS)
		return -EINVAL;
	if (pages > 65536 || m > gmax)
		return -EINVAL;
	if (!m)
		m = gmax < 1024 ? gmax : 1024;
	nr = pow2_floor(pages * 4096 / 64);
	if (per_proc && m >= nr / 2) {
		if (c->max_procs)
			return -EINVAL;
		m = nr / 2 - 1;
	}
	if (!m)
		return -EINVAL;
	*max = m;
	return 0;
}

/*
 * Where the argument goes: normally at the start of the area, whose rest
 * is zero; or NULL; or straddling the end of the readable area by
 * @*readable bytes.  Returns the pointer.
 */
static unsigned char *place(struct ithread *t, const void *obj, size_t objsz,
			    size_t size, int where, size_t *readable)
{
	unsigned char *p;

	if (where == 1) {
		*readable = 0;
		return NULL;
	}
	if (where == 2 && size) {
		*readable = rn(&t->rng, size);	/* less than size: faults */
		p = t->guard - *readable;
		memcpy(p, obj, objsz < *readable ? objsz : *readable);
		return p;
	}
	*readable = size;
	memcpy(t->area, obj, objsz);
	return t->area;
}

static void unplace(struct ithread *t, unsigned char *p, size_t size, size_t readable)
{
	/*
	 * The object was copied whole even when @size is smaller: clear at
	 * least sizeof of the largest one, or its bytes past @size would be
	 * the next argument's non-zero tail.
	 */
	if (size < 64)
		size = 64;
	if (p == t->area)
		memset(t->area, 0, size < IF_AREA ? size : IF_AREA);
	else if (p)
		memset(p, 0, readable);
}

static size_t pick_size(struct ithread *t, size_t ver0)
{
	unsigned int k = rn(&t->rng, 100);

	if (k < 75)
		return ver0;
	if (k < 85)
		return rn(&t->rng, ver0);
	if (k < 97)
		return ver0 + 1 + rn(&t->rng, 64);
	return 16383;	/* the largest a command encodes */
}

/* Size, pointer and tail errors of a size-versioned argument; false: none. */
static bool arg_errors(struct acc *a, size_t size, size_t ver0, unsigned char *p,
		       size_t readable, bool tail)
{
	if (size < ver0) {
		acc_add(a, -EINVAL);
		return true;
	}
	if (!p || readable < size) {
		acc_add(a, -EFAULT);
		return true;
	}
	if (tail) {
		acc_add(a, -E2BIG);
		return true;
	}
	return false;
}

static void op_session(struct ithread *t, struct isess *s)
{
	static const uint64_t periods[] = {
		0, 1 * IF_MS, 2 * IF_MS, 5 * IF_MS, 10 * IF_MS, 20 * IF_MS, 50 * IF_MS,
	};
	static const uint64_t bad_periods[] = {
		1, MP3PROF_PERIOD_MIN_NS - 1, MP3PROF_PERIOD_MAX_NS + 1, ~0ULL,
	};
	struct mp3prof_session_config c = { 0 };
	uint64_t *rng = &t->rng;
	unsigned int k = rn(rng, 100);
	size_t size, readable;
	unsigned char *p;
	bool tail = false;
	struct acc a = { 0 };
	uint32_t max = 0;
	int ret, where = 0;

	c.flags = rn(rng, 4);
	if (rn(rng, 10) == 0)
		c.flags |= 1ULL << (2 + rn(rng, 62));
	if (k < 80)
		c.period_ns = periods[rn(rng, ARRAY_SIZE(periods))];
	else if (k < 85)
		c.period_ns = rn(rng, 2) ? MP3PROF_PERIOD_MIN_NS : MP3PROF_PERIOD_MAX_NS;
	else
		c.period_ns = bad_periods[rn(rng, ARRAY_SIZE(bad_periods))];
	k = rn(rng, 100);
	c.ring_pages = k < 90 ? rn(rng, 17) : k < 95 ? 65537 : 65537 + rn(rng, 1 << 30);
	k = rn(rng, 100);
	c.max_procs = k < 40 ? 0 : k < 80 ? 1 + rn(rng, 8) : k < 90 ? 9 + rn(rng, 2000) :
		      k < 95 ? t->f->gmax + 1 : ~0U;

	size = pick_size(t, MP3PROF_SESSION_CONFIG_SIZE_VER0);
	k = rn(rng, 100);
	if (k < 3)
		where = 1;
	else if (k < 6)
		where = 2;
	p = place(t, &c, sizeof(c), size, where, &readable);
	if (p == t->area && size > sizeof(c) && rn(rng, 2)) {
		t->area[sizeof(c) + rn(rng, size - sizeof(c))] = 1 + rn(rng, 255);
		tail = true;
	}

	if (!arg_errors(&a, size, MP3PROF_SESSION_CONFIG_SIZE_VER0, p, readable, tail)) {
		ret = cfg_valid(&c, t->f->gmax, &max);
		if (ret) {
			acc_add(&a, ret);
		} else if (s->state == SS_DEFAULT || s->state == SS_MAPPED ||
			   (s->state == SS_SESSION && present(s))) {
			acc_add(&a, -EBUSY);
		} else if (s->state == SS_SESSION && (s->pending || s->active)) {
			acc_add(&a, 0);
			acc_add(&a, -EBUSY);
		} else {
			acc_add(&a, 0);
		}
	}
	ret = mp3_ioctl_sized(s->fd, MP3PROF_IOC_SESSION, p, size);
	unplace(t, p, size, readable);
	icheck(t, "SESSION", &a, ret);
	if (!ret && acc_has(&a, 0)) {
		s->state = SS_SESSION;
		s->flags = c.flags;
		s->period = c.period_ns ?: 50 * IF_MS;
		s->max = max;
		s->added = 0;
		s->desc = 0;
		s->pending = 0;
		s->active = false;
		s->last_head = 0;	/* a new ring */
		s->mark = 0;
	}
}

static const struct itarget *pick_target(struct ithread *t, bool by_pid)
{
	struct ifuzz *f = t->f;
	const struct itarget *g;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		unsigned int k = rn(&t->rng, 100);
		int want = k < 60 ? TK_LIVE : k < 68 ? TK_ZOMBIE : k < 76 ? TK_REAPED :
			   k < 84 ? TK_THREAD : k < 90 ? TK_NOTPIDFD : k < 95 ? TK_CLOSED :
			   TK_NONE;

		g = &f->tg[rn(&t->rng, f->ntg)];
		if (g->kind != want && rn(&t->rng, 4))
			continue;
		if (by_pid ? g->pid > 0 : g->fd >= 0)
			return g;
	}
	return &f->tg[0];
}

/* Expected results of ADD/REMOVE of a well-formed target; false if unknown. */
static bool target_expect(struct ithread *t, struct isess *s, bool add, bool by_pid,
			  const struct itarget *g, struct acc *a)
{
	uint32_t bit, n;

	switch (g->kind) {
	case TK_LIVE:
		break;
	case TK_ZOMBIE:
	case TK_THREAD:
		acc_add(a, add ? -ESRCH : -ENOENT);
		return true;
	case TK_REAPED:
		acc_add(a, add || by_pid ? -ESRCH : -ENOENT);
		return true;
	case TK_NONE:
		acc_add(a, -ESRCH);
		return true;
	default:
		acc_add(a, -EBADF);
		return true;
	}
	bit = 1U << g->bit;
	if (!add) {
		acc_add(a, (s->added & bit) ? 0 : (s->desc & bit) ? -EINVAL : -ENOENT);
		return true;
	}
	if (present(s) & bit) {
		acc_add(a, -EEXIST);
		return true;
	}
	n = __builtin_popcount(present(s));
	if (s->flags & MP3PROF_SESSION_TREE) {
		/* what the model does not follow: see op_target() */
		if (g->bit == IF_SELF)
			return false;
		if (g->bit == IF_P && (s->added & (1U << IF_C)))
			return false;
		if (g->bit == IF_P && n < s->max && n + s->pending + 2 > s->max)
			return false;
	}
	if (n >= s->max) {
		acc_add(a, -ENOSPC);
	} else if (n + s->pending >= s->max) {
		acc_add(a, -ENOSPC);
		acc_add(a, 0);
	} else {
		acc_add(a, 0);
	}
	return true;
}

/*
 * ADD or REMOVE.  The model leaves out what depends on when samples are
 * taken: in a whole-tree session it never adds the test process (all
 * targets would be its descendants), nor P while its child C is added on
 * its own (C's parent link appears at a later sample), nor P when C might
 * not fit.
 */
static bool op_target(struct ithread *t, struct isess *s, bool add)
{
	struct mp3prof_target x = { 0 };
	uint64_t *rng = &t->rng;
	bool by_pid = rn(rng, 100) < 40, tail = false;
	const struct itarget *g = pick_target(t, by_pid);
	size_t size, readable, tail_at = 0;
	unsigned char *p;
	struct acc a = { 0 };
	unsigned int k;
	int ret, where = 0;
	bool known = true;
	uint64_t head;

	if (by_pid) {
		x.flags = MP3PROF_TARGET_PID;
		x.pid = g->pid;
	} else {
		x.pidfd = g->fd;
	}
	if (rn(rng, 4) == 0) {
		switch (rn(rng, 7)) {
		case 0:
			x.flags |= 1U << (1 + rn(rng, 31));
			break;
		case 1:
			x.__reserved = 1 + rn(rng, 1000);
			break;
		case 2:	/* both */
			x.pid = g->pid ?: 1;
			x.pidfd = g->fd >= 0 ? g->fd : 3;
			break;
		case 3:
			x.flags = MP3PROF_TARGET_PID;
			x.pidfd = 0;
			x.pid = -(int)rn(rng, 3);
			break;
		case 4:
			x.flags = 0;
			x.pid = 0;
			x.pidfd = rn(rng, 2) ? -1 : INT32_MIN;
			break;
		case 5:
			x.flags = 0;
			x.pid = 0;
			x.pidfd = 1 << 20;
			break;
		default:
			x.flags = MP3PROF_TARGET_PID;
			x.pidfd = 0;
			x.pid = INT32_MIN;
			break;
		}
	}
	size = pick_size(t, MP3PROF_TARGET_SIZE_VER0);
	k = rn(rng, 100);
	if (k < 2)
		where = 1;
	else if (k < 4)
		where = 2;
	if (where == 0 && size > sizeof(x) && rn(rng, 2)) {
		tail = true;
		tail_at = sizeof(x) + rn(rng, size - sizeof(x));
	}

	/* the expected results, before anything is done */
	readable = where == 0 ? size : where == 1 ? 0 : rn(rng, size ?: 1);
	if (!arg_errors(&a, size, MP3PROF_TARGET_SIZE_VER0, where == 1 ? NULL : t->area,
			readable, tail)) {
		if (!is_session(s)) {
			acc_add(&a, -EINVAL);
		} else if ((x.flags & ~MP3PROF_TARGET_PID) || x.__reserved) {
			acc_add(&a, -EINVAL);
		} else if (x.flags) {
			if (x.pidfd || x.pid <= 0)
				acc_add(&a, -EINVAL);
			else if (x.pid == g->pid)
				known = target_expect(t, s, add, true, g, &a);
			else
				acc_add(&a, -ESRCH);
		} else if (x.pid) {
			acc_add(&a, -EINVAL);
		} else if (x.pidfd < 0) {
			acc_add(&a, -EBADF);
		} else if (x.pidfd == g->fd) {
			known = target_expect(t, s, add, false, g, &a);
		} else {
			acc_add(&a, -EBADF);	/* fd 3 or 1 << 20: no pidfd */
		}
	}
	if (!known)
		return false;	/* regenerate */

	if (where == 1) {
		p = NULL;
	} else if (where == 2) {
		p = t->guard - readable;
		memcpy(p, &x, sizeof(x) < readable ? sizeof(x) : readable);
	} else {
		p = t->area;
		memcpy(p, &x, sizeof(x));
		if (tail)
			p[tail_at] = 1 + rn(rng, 255);
	}
	/* before: the sample after a REMOVE may come as soon as it returns */
	head = cur_head(s);
	ret = mp3_ioctl_sized(s->fd, add ? MP3PROF_IOC_ADD : MP3PROF_IOC_REMOVE, p, size);
	unplace(t, p, size, readable);
	if (!acc_has(&a, ret) && (g->kind == TK_REAPED || g->kind == TK_NONE) &&
	    x.flags && g->pid && kill(g->pid, 0) == 0) {
		/* somebody else's process got the number: no driver bug */
		if (!ret && add)
			mp3_session_remove_pid(s->fd, g->pid);
		return true;
	}
	icheck(t, add ? "ADD" : "REMOVE", &a, ret);
	if (ret || g->kind != TK_LIVE || !acc_has(&a, 0))
		return true;
	if (add) {
		s->added |= 1U << g->bit;
		if ((s->flags & MP3PROF_SESSION_TREE) && g->bit == IF_P &&
		    !(present(s) & (1U << IF_C)))
			s->desc |= 1U << IF_C;
		s->active = true;
	} else {
		uint32_t gone = 1U << g->bit;

		if ((s->flags & MP3PROF_SESSION_TREE) && g->bit == IF_P)
			gone |= s->desc & (1U << IF_C);
		s->added &= ~gone;
		s->desc &= ~gone;
		if (s->flags & MP3PROF_SESSION_PER_PROCESS)
			s->pending += __builtin_popcount(gone);
		/* a sample after this accounts what was removed */
		s->mark = head;
	}
	return true;
}

static void op_unknown(struct ithread *t, struct isess *s)
{
	unsigned int dir = rn(&t->rng, 4), nr = rn(&t->rng, 256);
	unsigned long cmd;
	struct acc a = { 0 };
	int ret;

	if (dir == _IOC_WRITE && nr <= 2)
		nr = 3 + rn(&t->rng, 253);
	cmd = _IOC(dir, MP3PROF_IOC_MAGIC, nr, rn(&t->rng, 1 << _IOC_SIZEBITS));
	if (rn(&t->rng, 8) == 0)
		cmd = TCGETS;
	acc_add(&a, -ENOTTY);
	ret = ioctl(s->fd, cmd, t->area) < 0 ? -errno : 0;
	icheck(t, "unknown command", &a, ret);
}

/* Bad mappings change nothing; a good one makes the configuration final. */
static void op_mmap(struct ithread *t, struct isess *s)
{
	size_t ps = mp3_page_size();
	struct acc a = { 0 };
	void *m;
	int ret;

	switch (rn(&t->rng, 4)) {
	case 0:
		m = mmap(NULL, ps, PROT_READ, MAP_PRIVATE, s->fd, 0);
		acc_add(&a, -EINVAL);
		break;
	case 1:
		m = mmap(NULL, ps, PROT_READ, MAP_SHARED, s->fd, ps);
		acc_add(&a, -EINVAL);
		break;
	case 2:
		m = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
		acc_add(&a, -EACCES);	/* the file is read-only */
		break;
	default:
		if (s->state == SS_SESSION) {
			ret = mp3_session_map(&s->r, s->fd);
			acc_add(&a, 0);
			icheck(t, "session mmap", &a, ret);
			if (!ret) {
				s->state = SS_MAPPED;
				s->pos = 0;
			}
			return;
		}
		m = mmap(NULL, ps, PROT_READ, MAP_SHARED, s->fd, 0);
		acc_add(&a, 0);
		break;
	}
	ret = m == MAP_FAILED ? -errno : 0;
	if (m != MAP_FAILED)
		munmap(m, ps);
	icheck(t, "mmap", &a, ret);
	if (!ret && s->state == SS_UNBOUND)
		s->state = SS_DEFAULT;
}

static int isess_open(struct isess *s)
{
	memset(s, 0, sizeof(*s));
	s->r.fd = -1;
	s->fd = open(MP3_DEV, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	return s->fd < 0 ? -errno : 0;
}

/* Close the file: a mapped ring ends and stays readable. */
static void op_close(struct ithread *t, struct isess *s)
{
	if (s->state == SS_MAPPED && t->nr_ended < IF_ENDED) {
		struct iended *e = &t->ended[t->nr_ended++];

		close(s->fd);
		e->r = s->r;
		e->r.fd = -1;
		e->head = mp3_head(&e->r);
		if (!(mp3_hdr_flags(&e->r) & MP3PROF_HDR_ENDED))
			ifail(t, "thread %d: closed session's ring not ENDED", t->idx);
	} else {
		if (s->state == SS_MAPPED)
			munmap(s->r.hdr, s->r.len);
		close(s->fd);
	}
	if (isess_open(s))
		ifail(t, "thread %d: open: %s", t->idx, strerror(errno));
}

static void one_op(struct ithread *t)
{
	struct isess *s = &t->s[rn(&t->rng, IF_SESSIONS)];
	unsigned int k = rn(&t->rng, 1000);
	int tries;

	if (k < 220) {
		op_session(t, s);
	} else if (k < 580) {
		for (tries = 0; tries < 100 && !op_target(t, s, true); tries++)
			;
	} else if (k < 880) {
		for (tries = 0; tries < 100 && !op_target(t, s, false); tries++)
			;
	} else if (k < 940) {
		op_unknown(t, s);
	} else if (k < 990) {
		op_mmap(t, s);
	} else {
		op_close(t, s);
	}
	t->calls++;
}

/* The newest sample of a ring with its records: 0 or -errno. */
static int newest_sample(const struct mp3_ring *r, struct mp3prof_sample *smp,
			 struct mp3prof_proc_record *procs, unsigned int max)
{
	int tries, ret = -ESTALE;

	for (tries = 0; tries < 20; tries++) {
		uint64_t h = mp3_head(r), i, next;
		uint64_t low = h > r->hdr->nr_records ? h - r->hdr->nr_records : 0;
		union mp3_rec rec;

		for (i = h; i-- > low;) {
			if (mp3_ring_get_rec(r, i, &rec))
				break;
			if (rec.h.type != MP3PROF_RECORD_SAMPLE)
				continue;
			ret = mp3_ring_get_sample(r, i, smp, procs, max, &next);
			if (!ret && next != h)
				ret = -EPROTO;	/* not the newest after all */
			break;
		}
		if (ret != -ESTALE)
			return ret;
	}
	return ret;
}

/* Every record of a mapped session since the last check. */
static void check_records(struct ithread *t, struct isess *s, int si)
{
	struct mp3prof_proc_record recs[64];
	struct mp3prof_sample smp;
	bool per_proc = s->flags & MP3PROF_SESSION_PER_PROCESS;
	bool tree = s->flags & MP3PROF_SESSION_TREE;
	uint64_t end = mp3_head(&s->r), lost = 0;
	struct ifuzz *f = t->f;
	int ret;

	if (end - s->pos > s->r.hdr->nr_records)
		s->pos = end - s->r.hdr->nr_records;
	/*
	 * A process removed and added again before a sample leaves a REMOVED
	 * record each time: a sample may hold up to the session's limit of
	 * records, more than recs[]; such a sample is counted, not checked.
	 */
	while ((ret = mp3_ring_next_sample(&s->r, &s->pos, end, &smp, recs,
					   ARRAY_SIZE(recs), &lost)) == 1 || ret == -E2BIG) {
		uint64_t min = 0, maj = 0, cpu = 0;
		uint32_t i, j;

		if (smp.nr_exited)
			ifail(t, "thread %d session %d: nr_exited %u", t->idx, si, smp.nr_exited);
		if (!per_proc)
			continue;
		if (smp.nr_procs > s->max)
			ifail(t, "thread %d session %d: %u processes", t->idx, si, smp.nr_procs);
		if (ret == -E2BIG) {
			t->nr_lost++;
			continue;
		}
		for (i = 0; i < smp.nr_procs; i++) {
			const struct mp3prof_proc_record *p = &recs[i];
			uint16_t ok = MP3PROF_PROC_REMOVED;

			if (tree && p->pid == (uint32_t)f->live[IF_C])
				ok |= MP3PROF_PROC_NEW;
			if (p->flags & ~ok)
				ifail(t, "thread %d session %d: pid %u flags %#x", t->idx, si,
				      p->pid, p->flags);
			if (p->ppid && !(tree && p->pid == (uint32_t)f->live[IF_C] &&
					 p->ppid == (uint32_t)f->live[IF_P]))
				ifail(t, "thread %d session %d: pid %u ppid %u", t->idx, si,
				      p->pid, p->ppid);
			/*
			 * Twice only as the last record of a removal and that
			 * of the same process added again (and maybe removed
			 * again) before this sample: one of them is REMOVED.
			 */
			for (j = 0; j < i; j++)
				if (recs[j].pid == p->pid &&
				    !((recs[j].flags | p->flags) & MP3PROF_PROC_REMOVED))
					ifail(t, "thread %d session %d: pid %u twice", t->idx,
					      si, p->pid);
			min += p->min_flt;
			maj += p->maj_flt;
			cpu += p->cpu_ns;
		}
		if (min != smp.min_flt || maj != smp.maj_flt || cpu != smp.cpu_ns)
			ifail(t, "thread %d session %d: records do not sum to sample %llu",
			      t->idx, si, (unsigned long long)smp.seq);
	}
	if (ret < 0)
		ifail(t, "thread %d session %d: bad ring: %s", t->idx, si, strerror(-ret));
	t->nr_lost += lost;
}

/* Wait for a sample taken after now: 1, 0 if none came. */
static int sample_after_now(struct isess *s, unsigned int timeout_ms)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	uint64_t h = cur_head(s);

	if (poll(&pfd, 1, timeout_ms) != 1)
		return 0;
	return cur_head(s) != h;
}

/*
 * After a batch: what each session samples is what the model says.  Via
 * the API on every session; via the records of a sample taken now on
 * mapped per-process ones; and pending last records and idle sampling
 * are settled by waiting for a sample.
 */
static void check_sessions(struct ithread *t)
{
	struct ifuzz *f = t->f;
	int si, b, i;

	for (si = 0; si < IF_SESSIONS; si++) {
		struct isess *s = &t->s[si];
		uint32_t want = present(s);
		int ret;

		if (!is_session(s)) {
			ret = mp3_session_add_pid(s->fd, f->live[0]);
			if (ret != -EINVAL)
				ifail(t, "thread %d session %d: not a session, ADD gives %s",
				      t->idx, si, errname(ret));
			continue;
		}
		for (b = 0; b < IF_LIVE; b++) {
			uint32_t bit = 1U << b;

			if (want & bit) {
				ret = mp3_session_add_pid(s->fd, f->live[b]);
				if (ret != -EEXIST)
					ifail(t, "thread %d session %d: pid %d not sampled: ADD %s",
					      t->idx, si, b, errname(ret));
			}
			if (!(s->added & bit)) {
				int exp = (s->desc & bit) ? -EINVAL : -ENOENT;

				ret = mp3_session_remove_pid(s->fd, f->live[b]);
				if (ret != exp)
					ifail(t, "thread %d session %d: pid %d: REMOVE %s, not %s",
					      t->idx, si, b, errname(ret), errname(exp));
			}
		}
		t->nr_checks++;
		if (s->state == SS_MAPPED)
			check_records(t, s, si);
		/* a sample since the last REMOVE accounted what it removed */
		if (cur_head(s) != s->mark) {
			s->pending = 0;
			if (!want)
				s->active = false;
		}
		if (s->period > 100 * IF_MS || !(want || s->pending || s->active))
			continue;
		ret = sample_after_now(s, 3 * s->period / IF_MS + 3000);
		if (!ret) {
			ifail(t, "thread %d session %d: stopped (%#x, %d pending, %s)",
			      t->idx, si, want, s->pending, s->active ? "active" : "idle");
			continue;
		}
		s->pending = 0;
		if (!want)
			s->active = false;
		if (s->state != SS_MAPPED || !want)
			continue;
		/* the newest sample, taken after the batch: exactly the model's */
		{
			struct mp3prof_proc_record recs[16];
			struct mp3prof_sample smp;
			uint32_t seen = 0, n = 0;

			if (!(s->flags & MP3PROF_SESSION_PER_PROCESS)) {
				/* one more: no removed process is carried in it */
				if (sample_after_now(s, 3 * s->period / IF_MS + 3000) != 1 ||
				    newest_sample(&s->r, &smp, recs, 0))
					continue;
				if (smp.nr_procs != (uint32_t)__builtin_popcount(want))
					ifail(t, "thread %d session %d: %u sampled, model %d",
					      t->idx, si, smp.nr_procs, __builtin_popcount(want));
				continue;
			}
			ret = newest_sample(&s->r, &smp, recs, ARRAY_SIZE(recs));
			if (ret) {
				t->nr_lost++;
				continue;
			}
			for (i = 0; i < (int)smp.nr_procs; i++) {
				if (recs[i].flags & MP3PROF_PROC_REMOVED)
					continue;
				for (b = 0; b < IF_LIVE; b++)
					if (recs[i].pid == (uint32_t)f->live[b])
						break;
				if (b == IF_LIVE)
					ifail(t, "thread %d session %d: record of pid %u",
					      t->idx, si, recs[i].pid);
				else
					seen |= 1U << b;
				n++;
			}
			if (seen != want || n != (uint32_t)__builtin_popcount(want))
				ifail(t, "thread %d session %d: records %#x (%u), model %#x",
				      t->idx, si, seen, n, want);
			t->nr_record_checks++;
		}
	}
	/* ended sessions: readable, and their head does not move */
	for (i = 0; i < t->nr_ended; i++) {
		struct iended *e = &t->ended[i];

		if (mp3_head(&e->r) != e->head)
			ifail(t, "thread %d: an ended session's head moved", t->idx);
		if (!(mp3_hdr_flags(&e->r) & MP3PROF_HDR_ENDED))
			ifail(t, "thread %d: ended session not ENDED", t->idx);
		munmap(e->r.hdr, e->r.len);
		t->nr_closed++;
	}
	t->nr_ended = 0;
}

static void *ifuzz_fn(void *p)
{
	struct ithread *t = p;
	uint64_t done = 0;

	while (done < t->f->per_thread && !__atomic_load_n(&t->f->failed, __ATOMIC_RELAXED)) {
		uint64_t i;

		for (i = 0; i < IF_BATCH && done < t->f->per_thread; i++, done++)
			one_op(t);
		check_sessions(t);
	}
	return NULL;
}

/* A sleeper that forks a sleeping child: *child gets its pid. */
static pid_t spawn_parent_sleeper(pid_t *child)
{
	pid_t parent = getpid(), pid;
	int pp[2];

	if (pipe(pp))
		return -errno;
	pid = fork();
	if (pid == 0) {
		pid_t c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		c = fork();
		if (c == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		if (write(pp[1], &c, sizeof(c)) != sizeof(c))
			_exit(1);
		for (;;)
			pause();
	}
	close(pp[1]);
	if (pid > 0) {
		mp3_track_child(pid);
		if (read(pp[0], child, sizeof(*child)) != sizeof(*child))
			*child = -1;
	}
	close(pp[0]);
	return pid;
}

static void *ifuzz_thread_target(void *p)
{
	pid_t *tid = p;

	__atomic_store_n(tid, gettid(), __ATOMIC_RELEASE);
	for (;;)
		pause();
	return NULL;
}

FIXTURE(ioctl_fuzz) {
	struct ifuzz f;
};

FIXTURE_SETUP(ioctl_fuzz)
{
	struct ifuzz *f = &self->f;
	long long pid_max;
	pthread_t th;
	pid_t tid = 0, c = -1, z;
	int i, fd;

	memset(f, 0, sizeof(*f));
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	if (geteuid() != 0)
		SKIP(return, "must be run as root (to add the fuzzer's targets as root does)");
	ASSERT_EQ(0, mp3_prepare());
	f->gmax = mp3_read_ull(MP3_PARAMS "max_procs");
	ASSERT_LE(IF_THREADS * IF_SESSIONS * IF_LIVE * 2, f->gmax)
		TH_LOG("max_procs is too small for the fuzzer's sessions");
	pid_max = mp3_read_ull("/proc/sys/kernel/pid_max");
	ASSERT_LT(0, pid_max);

	for (i = 0; i < 4; i++) {
		f->live[i] = mp3_spawn_sleeper();
		ASSERT_LT(0, f->live[i]);
	}
	f->live[IF_SELF] = getpid();
	f->live[IF_P] = spawn_parent_sleeper(&c);
	ASSERT_LT(0, f->live[IF_P]);
	ASSERT_LT(0, c);
	f->live[IF_C] = c;
	ASSERT_EQ(0, mp3_wait_sleeping(f->live[IF_P]));
	ASSERT_EQ(0, mp3_wait_sleeping(c));
	for (i = 0; i < IF_LIVE; i++) {
		fd = mp3_pidfd_open(f->live[i]);
		ASSERT_LE(0, fd);
		f->tg[f->ntg++] = (struct itarget){ TK_LIVE, i, f->live[i], fd };
	}
	for (i = 0; i < 2; i++) {
		z = fork();
		ASSERT_LE(0, z);
		if (!z)
			_exit(0);
		mp3_track_child(z);
		fd = mp3_pidfd_open(z);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, waitid(P_PID, z, &(siginfo_t){ 0 }, WEXITED | WNOWAIT));
		f->tg[f->ntg++] = (struct itarget){ TK_ZOMBIE, 0, z, fd };
	}
	for (i = 0; i < 2; i++) {
		z = fork();
		ASSERT_LE(0, z);
		if (!z)
			_exit(0);
		fd = mp3_pidfd_open(z);
		ASSERT_LE(0, fd);
		ASSERT_EQ(z, waitpid(z, NULL, 0));
		f->tg[f->ntg++] = (struct itarget){ TK_REAPED, 0, z, fd };
	}
	ASSERT_EQ(0, pthread_create(&th, NULL, ifuzz_thread_target, &tid));
	while (!__atomic_load_n(&tid, __ATOMIC_ACQUIRE))
		mp3_msleep(1);
	fd = syscall(__NR_pidfd_open, tid, PIDFD_THREAD);
	f->tg[f->ntg++] = (struct itarget){ TK_THREAD, 0, tid, fd };
	fd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, fd);
	f->tg[f->ntg++] = (struct itarget){ TK_NOTPIDFD, 0, 0, fd };
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	f->tg[f->ntg++] = (struct itarget){ TK_NOTPIDFD, 0, 0, fd };
	fd = open(MP3_DEV, O_RDONLY | O_CLOEXEC);	/* an mp3prof file */
	ASSERT_LE(0, fd);
	f->tg[f->ntg++] = (struct itarget){ TK_NOTPIDFD, 0, 0, fd };
	fd = dup(fd);
	ASSERT_LE(0, fd);
	close(fd);
	f->tg[f->ntg++] = (struct itarget){ TK_CLOSED, 0, 0, fd };
	f->tg[f->ntg++] = (struct itarget){ TK_NONE, 0, pid_max + 1, -1 };
	f->tg[f->ntg++] = (struct itarget){ TK_NONE, 0, INT32_MAX, -1 };
}

FIXTURE_TEARDOWN(ioctl_fuzz)
{
	mp3_cleanup();
}

TEST_F_TIMEOUT(ioctl_fuzz, sessions, 7200)
{
	struct ifuzz *f = &self->f;
	bool soak = env_u64("MP3PROF_FUZZ_SOAK", 0);
	uint64_t seed, total, s, t0, calls = 0, ok = 0;
	size_t ps = mp3_page_size();
	int i, j;

	seed = env_u64("MP3PROF_FUZZ_SEED", mp3_now_ns() ^ ((uint64_t)getpid() << 32));
	total = env_u64("MP3PROF_FUZZ_COUNT", soak ? SOAK_COUNT : DEFAULT_COUNT);
	f->per_thread = (total + IF_THREADS - 1) / IF_THREADS;
	TH_LOG("seed %llu (MP3PROF_FUZZ_SEED=%llu reproduces), %llu ioctl calls, %d threads",
	       (unsigned long long)seed, (unsigned long long)seed,
	       (unsigned long long)(f->per_thread * IF_THREADS), IF_THREADS);

	s = seed ^ 0x5e55105e55105eULL;
	for (i = 0; i < IF_THREADS; i++) {
		struct ithread *t = &f->t[i];

		t->f = f;
		t->idx = i;
		t->rng = splitmix64(&s) | 1;
		t->area = mmap(NULL, IF_AREA + ps, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, t->area);
		t->guard = t->area + IF_AREA;
		ASSERT_EQ(0, mprotect(t->guard, ps, PROT_NONE));
		for (j = 0; j < IF_SESSIONS; j++)
			ASSERT_EQ(0, isess_open(&t->s[j]));
	}
	t0 = mp3_now_ns();
	for (i = 0; i < IF_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&f->t[i].th, NULL, ifuzz_fn, &f->t[i]));
	for (i = 0; i < IF_THREADS; i++)
		pthread_join(f->t[i].th, NULL);

	for (i = 0; i < IF_THREADS; i++) {
		struct ithread *t = &f->t[i];

		for (j = 0; j < t->nr_fails && j < MAX_FAILS; j++)
			TH_LOG("%s", t->fails[j]);
		EXPECT_EQ(0, t->nr_fails) TH_LOG("thread %d: %d unexpected results",
						 i, t->nr_fails);
		TH_LOG("%d: %llu calls, %llu ok, %llu EINVAL, %llu E2BIG",
		       i, (unsigned long long)t->calls, (unsigned long long)t->nr_ok,
		       (unsigned long long)t->nr_einval, (unsigned long long)t->nr_e2big);
		TH_LOG("%d: %llu EFAULT, %llu EBADF, %llu ESRCH",
		       i, (unsigned long long)t->nr_efault, (unsigned long long)t->nr_ebadf,
		       (unsigned long long)t->nr_esrch);
		TH_LOG("%d: %llu EEXIST, %llu ENOENT, %llu ENOSPC, %llu EBUSY, %llu ENOTTY",
		       i, (unsigned long long)t->nr_eexist, (unsigned long long)t->nr_enoent,
		       (unsigned long long)t->nr_enospc, (unsigned long long)t->nr_ebusy,
		       (unsigned long long)t->nr_enotty);
		TH_LOG("%d: %llu registry checks, %llu by records, %llu records lost, %llu ended",
		       i, (unsigned long long)t->nr_checks,
		       (unsigned long long)t->nr_record_checks,
		       (unsigned long long)t->nr_lost, (unsigned long long)t->nr_closed);
		calls += t->calls;
		ok += t->nr_ok;
		EXPECT_LT(0, t->nr_record_checks);
		for (j = 0; j < IF_SESSIONS; j++) {
			if (t->s[j].state == SS_MAPPED)
				munmap(t->s[j].r.hdr, t->s[j].r.len);
			close(t->s[j].fd);
		}
		munmap(t->area, IF_AREA + ps);
	}
	ksft_print_msg("mp3prof-ioctl-fuzz: calls=%llu accepted=%llu seed=%llu seconds=%llu\n",
		       (unsigned long long)calls, (unsigned long long)ok,
		       (unsigned long long)seed,
		       (unsigned long long)((mp3_now_ns() - t0) / MP3_NSEC));
	EXPECT_LT(0, ok);
}

TEST_HARNESS_MAIN
