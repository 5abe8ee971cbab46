// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof control file fuzzer.
 *
 * Several threads write random and adversarial commands to
 * /proc/mp3prof/status, one write() or pwrite() per command.  Every command
 * is checked against a model of the documented grammar and errors: each
 * writer owns a few live processes (children, or the test process itself)
 * and knows exactly whether each is registered; dead pids and pids above
 * pid_max must give ESRCH; one child is shared by all writers, so its
 * commands race and only the number of successes is known.  After every
 * batch the listing must hold exactly the processes the accepted commands
 * registered.
 *
 * Environment:
 *   MP3PROF_FUZZ_SEED   seed (default: from the clock; always printed)
 *   MP3PROF_FUZZ_COUNT  number of commands (default 100000)
 *   MP3PROF_FUZZ_SOAK   1: soak mode, 2000000 commands unless
 *                       MP3PROF_FUZZ_COUNT says otherwise, with progress
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

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
 * The documented grammar: "R <pid>" or "U <pid>", surrounding white space
 * ignored, a positive decimal int, no NUL, at most 64 bytes.  0 with the
 * command and number, or -EINVAL.
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
	if (end - i < 3 || (b[i] != 'R' && b[i] != 'U') || !k_isspace(b[i + 1]))
		return -EINVAL;
	*cmd = b[i];
	i += 1;
	while (i < end && k_isspace(b[i]))
		i++;
	if (i < end && b[i] == '+')	/* kstrtoint() takes one '+' */
		i++;
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

TEST_HARNESS_MAIN
