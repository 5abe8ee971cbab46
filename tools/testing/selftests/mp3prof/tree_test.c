// SPDX-License-Identifier: GPL-2.0
/*
 * mp3prof whole-tree sessions (MP3PROF_SESSION_TREE | PER_PROCESS): the
 * samples of a session add up to what the added process and its
 * descendants really used, and each process's records to its own part.
 *
 * Every test forks a root that measures its own counters, then blocks; the
 * test adds it while it sleeps and lets it go, so the session counts the
 * root from a known point (its base).  Every process of the tree enters
 * itself in a table shared with the test process; whoever reaps it stores
 * what wait4() reported for it: its own usage and its reaped children's,
 * as the kernel accounts them at the reaping, exit included.  That is the
 * reference: "the root's own usage plus RUSAGE_CHILDREN, as of its exit".
 * Each process also reports getrusage() right before it exits; what it
 * used after that (the exit itself, 10 to 20 ms of CPU in the debug guest
 * under TCG) is logged, and used where no wait4() exists (children of a
 * parent that ignores SIGCHLD).
 *
 * Allowed differences, per process involved: 2 faults, and one tick
 * (1e9 / hdr->hz) of CPU time plus REF_SLACK_NS for the references
 * themselves: a process's getrusage() before it is added and the ADD that
 * reads its baseline are not the same instant, and on a loaded debug guest
 * the CPU time between them (the ADD ioctl of another process, a context
 * switch) reached 9 ms.  A child counted twice or lost is tens of ms.
 */
#define REF_SLACK_NS	(10 * 1000 * 1000LL)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mp3prof_util.h"

#define MS		1000000ULL
#define PERIOD_NS	(50 * MS)
#define RING_PAGES	512		/* 32768 records: nothing is overwritten */
#define TT_MAX		64		/* processes of one tree */

#define TREE_FLAGS	(MP3PROF_SESSION_TREE | MP3PROF_SESSION_PER_PROCESS)

/* A member of the tree must live across a sample (or need not). */
#define SLOW		1
#define FAST		0

struct usage {
	int64_t min_flt, maj_flt, cpu_ns;
};

/* A process of the tree. */
struct member {
	pid_t pid, ppid;
	pid_t reaper;		/* who wait4()ed it; 0: nobody (yet) */
	int slow;		/* waited for two samples before exiting */
	int done;		/* end and kids are written */
	int status;		/* wait4() status */
	struct usage base;	/* when the session started counting it (0: birth) */
	struct usage end;	/* its own usage right before it exited */
	struct usage kids;	/* its RUSAGE_CHILDREN then */
	struct usage reaped;	/* what wait4() reported */
	int aux;		/* it added itself to the aux session */
	struct usage aux_base;	/* its usage right before that */
	struct usage aux_after;	/* and right after the ADD returned */
};

/* Shared between the test process and the tree. */
struct shared {
	int err;		/* first failure in the tree: source line */
	int nr;
	struct member m[TT_MAX];
	int root_reaped;	/* set by the test once it reaped the root */
	int release;		/* set by the root: held children may exit */
	pid_t daemon;		/* the double-forked grandchild */
};

static struct shared *sh;
static struct mp3_ring ring;	/* the session's mapping, inherited by the tree */
/*
 * A second, plain per-process session that children of a parent which
 * ignores SIGCHLD add themselves to: no wait4() measures them, this does
 * (from their ADD to their last schedule).
 */
static struct mp3_ring aux;

/* ------------------------------------------------------ in the tree */

#define TREE_FAIL() tree_fail(__LINE__)

static void tree_fail(int line)
{
	__atomic_compare_exchange_n(&sh->err, &(int){ 0 }, line, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	_exit(1);
}

static void usage_self(struct usage *u)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	u->min_flt = ru.ru_minflt;
	u->maj_flt = ru.ru_majflt;
	u->cpu_ns = mp3_proc_cpu_ns();	/* exact, not rounded to us */
}

static void usage_ru(struct usage *u, const struct rusage *ru)
{
	u->min_flt = ru->ru_minflt;
	u->maj_flt = ru->ru_majflt;
	u->cpu_ns = (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * MP3_NSEC +
		    (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1000ULL;
}

static void usage_kids(struct usage *u)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	usage_ru(u, &ru);
}

static struct member *member_of(pid_t pid)
{
	int i;

	for (i = 0; i < sh->nr && i < TT_MAX; i++)
		if (sh->m[i].pid == pid)
			return &sh->m[i];
	return NULL;
}

/*
 * wait4() for @pid (WNOHANG if @nohang) and store what it reported in its
 * entry: @pid, 0 if it has not exited, or -errno.
 */
static pid_t reap_member(pid_t pid, bool nohang)
{
	struct member *m;
	struct rusage ru;
	int status;
	pid_t r;

	do
		r = wait4(pid, &status, nohang ? WNOHANG : 0, &ru);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r < 0 ? -errno : 0;
	m = member_of(pid);
	if (m) {
		usage_ru(&m->reaped, &ru);
		m->status = status;
		__atomic_store_n(&m->reaper, getpid(), __ATOMIC_RELEASE);
	}
	return r;
}

/*
 * The base of a process that the test adds (or that exists at the ADD):
 * taken right before it blocks in read() until the ADD is done.  The
 * paths it takes from here to the sleep run once before, so that they
 * fault nothing between the base and the ADD.
 */
static void usage_base(struct usage *u)
{
	int p[2];
	char c;

	usage_self(u);
	if (pipe(p) || write(p[1], "w", 1) != 1 || read(p[0], &c, 1) != 1)
		TREE_FAIL();
	close(p[0]);
	close(p[1]);
	usage_self(u);
}

/* Enter the calling process in the table; base stays 0: from its birth. */
static struct member *member_new(int slow)
{
	int i = __atomic_fetch_add(&sh->nr, 1, __ATOMIC_SEQ_CST);
	struct member *m;

	if (i >= TT_MAX)
		TREE_FAIL();
	m = &sh->m[i];
	m->pid = getpid();
	m->ppid = getppid();
	m->slow = slow;
	return m;
}

/* The last thing a member does before _exit(). */
static void member_end(struct member *m)
{
	usage_self(&m->end);
	usage_kids(&m->kids);
	__atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
}

static void touch_pages(long n)
{
	if (mp3_touch_pages(n))
		TREE_FAIL();
}

/* Wait until @n more samples were taken (so a sample saw us alive). */
static void tree_wait_samples(unsigned int n)
{
	if (mp3_wait_nr_samples(&ring, n, 30000))
		TREE_FAIL();
}

/*
 * Wait until a sample was just taken: a child forked right after it has
 * most of a period to live and die unseen.
 */
static void tree_sync_sample(void)
{
	tree_wait_samples(1);
}

static void tree_reap(pid_t pid)
{
	struct member *m;

	if (reap_member(pid, false) != pid)
		TREE_FAIL();
	m = member_of(pid);
	if (!m || !WIFEXITED(m->status) || WEXITSTATUS(m->status))
		TREE_FAIL();
}

struct kid {
	int slow;
	long pages;
	uint64_t ms;
	void (*fn)(void);	/* then this, if set (the child's own children) */
	bool hold;		/* then wait for sh->release */
	bool aux;		/* first add itself to the aux session */
};

/* A child that works, optionally runs kid->fn, and exits. */
static pid_t spawn_kid(const struct kid *k)
{
	pid_t pid = fork();

	if (pid < 0)
		TREE_FAIL();
	if (pid == 0) {
		struct member *m;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		m = member_new(k->slow);
		if (k->aux) {
			/* Run that code once (EBADF), then take the base. */
			mp3_session_add(-1, getpid());
			usage_base(&m->aux_base);
			if (mp3_session_add(aux.fd, getpid()))
				TREE_FAIL();
			usage_self(&m->aux_after);
			m->aux = 1;
		}
		touch_pages(k->pages);
		mp3_burn_ms(k->ms);
		if (k->fn)
			k->fn();
		if (k->slow)
			tree_wait_samples(2);
		while (k->hold && !__atomic_load_n(&sh->release, __ATOMIC_ACQUIRE))
			mp3_msleep(1);
		member_end(m);
		_exit(0);
	}
	return pid;
}

/*
 * @nslow children that live across samples, concurrently, and @nfast ones
 * forked right after a sample and reaped at once, one after the other.
 */
static void kids_work(int nslow, int nfast, long pages, uint64_t ms,
		      void (*fn)(void))
{
	struct kid slow = { SLOW, pages, ms, fn }, fast = { FAST, pages / 4, 1, NULL };
	pid_t pids[TT_MAX];
	int i;

	for (i = 0; i < nslow; i++)
		pids[i] = spawn_kid(&slow);
	for (i = 0; i < nfast; i++) {
		tree_sync_sample();
		tree_reap(spawn_kid(&fast));
	}
	for (i = 0; i < nslow; i++)
		tree_reap(pids[i]);
}

/* ------------------------------------------------------ the test side */

/* Per process seen in the records. */
struct pinfo {
	pid_t pid, ppid_first, ppid_last;
	int nrec;
	int nr_final;		/* records with EXITED, REMOVED or DROPPED */
	int after_final;	/* records after such a one */
	uint16_t first_flags, last_flags, all_flags;
	int64_t first_sample, last_sample;
	struct usage sum;
};

struct parsed {
	int err;		/* of the first unreadable sample */
	uint64_t head;
	int64_t samples;
	struct usage total;
	int sum_mismatch;	/* samples whose records do not sum to them */
	int exited_mismatch;	/* nr_exited != EXITED records */
	int untracked;		/* samples with MP3PROF_SAMPLE_UNTRACKED */
	uint32_t max_nr_procs;
	int n;
	struct pinfo p[TT_MAX];
};

static struct pinfo *pinfo_of(struct parsed *pa, pid_t pid, bool add)
{
	int i;

	for (i = 0; i < pa->n; i++)
		if (pa->p[i].pid == pid)
			return &pa->p[i];
	if (!add || pa->n == TT_MAX)
		return NULL;
	memset(&pa->p[pa->n], 0, sizeof(pa->p[0]));
	pa->p[pa->n].pid = pid;
	return &pa->p[pa->n++];
}

#define FINAL_FLAGS (MP3PROF_PROC_EXITED | MP3PROF_PROC_REMOVED | MP3PROF_PROC_DROPPED)

/* Read the whole ring @r from record 0. */
static void parse_ring(const struct mp3_ring *r, struct parsed *pa)
{
	static struct mp3prof_proc_record procs[TT_MAX + 8];
	struct mp3prof_sample s;
	uint64_t pos = 0, next;
	uint32_t i, nex;
	int ret;

	memset(pa, 0, sizeof(*pa));
	pa->head = mp3_head(r);
	if (pa->head >= r->hdr->nr_records) {
		pa->err = -ENOSPC;	/* records were overwritten */
		return;
	}
	while (pos < pa->head) {
		struct usage sum = { 0 };

		ret = mp3_ring_get_sample(r, pos, &s, procs, TT_MAX + 8, &next);
		if (ret) {
			pa->err = ret;
			return;
		}
		pa->total.min_flt += s.min_flt;
		pa->total.maj_flt += s.maj_flt;
		pa->total.cpu_ns += s.cpu_ns;
		pa->untracked += !!(s.flags & MP3PROF_SAMPLE_UNTRACKED);
		if (s.nr_procs > pa->max_nr_procs)
			pa->max_nr_procs = s.nr_procs;
		for (i = 0, nex = 0; i < s.nr_procs; i++) {
			struct mp3prof_proc_record *r = &procs[i];
			struct pinfo *p = pinfo_of(pa, r->pid, true);

			sum.min_flt += r->min_flt;
			sum.maj_flt += r->maj_flt;
			sum.cpu_ns += r->cpu_ns;
			nex += !!(r->flags & MP3PROF_PROC_EXITED);
			if (!p) {
				pa->err = -E2BIG;
				return;
			}
			if (!p->nrec) {
				p->first_flags = r->flags;
				p->ppid_first = r->ppid;
				p->first_sample = pa->samples;
			}
			if (p->nr_final)
				p->after_final++;
			p->nrec++;
			p->nr_final += !!(r->flags & FINAL_FLAGS);
			p->last_flags = r->flags;
			p->all_flags |= r->flags;
			p->ppid_last = r->ppid;
			p->last_sample = pa->samples;
			p->sum.min_flt += r->min_flt;
			p->sum.maj_flt += r->maj_flt;
			p->sum.cpu_ns += r->cpu_ns;
		}
		if (sum.min_flt != (int64_t)s.min_flt || sum.maj_flt != (int64_t)s.maj_flt ||
		    sum.cpu_ns != (int64_t)s.cpu_ns)
			pa->sum_mismatch++;
		if (nex != s.nr_exited)
			pa->exited_mismatch++;
		pa->samples++;
		pos = next;
	}
}

static void parse(struct parsed *pa)
{
	parse_ring(&ring, pa);
}

/* Every process seen has had its last record, @root included. */
static bool all_closed(const struct parsed *pa, pid_t root)
{
	int i;

	if (pa->err)
		return true;
	for (i = 0; i < pa->n; i++)
		if (!pa->p[i].nr_final)
			return false;
	return pa->n && (!root || pinfo_of((struct parsed *)pa, root, false));
}

static struct usage usage_sub(struct usage a, struct usage b)
{
	return (struct usage){ a.min_flt - b.min_flt, a.maj_flt - b.maj_flt,
			       a.cpu_ns - b.cpu_ns };
}

static struct usage usage_add(struct usage a, struct usage b)
{
	return (struct usage){ a.min_flt + b.min_flt, a.maj_flt + b.maj_flt,
			       a.cpu_ns + b.cpu_ns };
}

/* What a member reported it used while counted, before its exit. */
static struct usage member_own(const struct member *m)
{
	return usage_sub(m->end, m->base);
}

/* What wait4() reported for it, less what was not counted. */
static struct usage member_life(const struct member *m)
{
	return usage_sub(m->reaped, m->base);
}

static bool reaped_by(const struct member *c, const struct member *m)
{
	return __atomic_load_n(&c->reaper, __ATOMIC_ACQUIRE) == m->pid;
}

static bool in_tree(pid_t pid)
{
	return pid && member_of(pid);
}

/*
 * Within @nprocs processes' worth of slack: 2 faults and one tick of CPU
 * plus REF_SLACK_NS each.  Logs and returns false if not.
 */
#define EXPECT_NEAR(want, got, nprocs, what) do {				\
	int64_t __tick = MP3_NSEC / ring.hdr->hz + REF_SLACK_NS;		\
	struct usage __w = (want), __g = (got);					\
	int64_t __n = (nprocs);							\
	const char *__what = (what);						\
	EXPECT_LE(llabs(__g.min_flt - __w.min_flt), 2 * __n)			\
		TH_LOG("%s: %lld minor faults, expected %lld (+-%lld)", __what,	\
		       (long long)__g.min_flt, (long long)__w.min_flt,		\
		       (long long)(2 * __n));					\
	EXPECT_LE(llabs(__g.maj_flt - __w.maj_flt), 2 * __n)			\
		TH_LOG("%s: %lld major faults, expected %lld (+-%lld)", __what,	\
		       (long long)__g.maj_flt, (long long)__w.maj_flt,		\
		       (long long)(2 * __n));					\
	EXPECT_LE(llabs(__g.cpu_ns - __w.cpu_ns), __tick * __n)			\
		TH_LOG("%s: %lld ns CPU, expected %lld (+-%lld)", __what,		\
		       (long long)__g.cpu_ns, (long long)__w.cpu_ns,		\
		       (long long)(__tick * __n));				\
} while (0)

#define LOG_USAGE(what, want, got) do {						\
	struct usage __w = (want), __g = (got);					\
	TH_LOG("%s: minflt %lld vs %lld (%+lld), majflt %lld vs %lld, "		\
	       "cpu %lld vs %lld ns (%+lld)", what,				\
	       (long long)__g.min_flt, (long long)__w.min_flt,			\
	       (long long)(__g.min_flt - __w.min_flt),				\
	       (long long)__g.maj_flt, (long long)__w.maj_flt,			\
	       (long long)__g.cpu_ns, (long long)__w.cpu_ns,			\
	       (long long)(__g.cpu_ns - __w.cpu_ns));				\
} while (0)

FIXTURE(tree) {
	struct parsed *pa;
	pid_t root;
	pid_t test_pid;
};

FIXTURE_SETUP(tree)
{
	self->root = 0;
	self->test_pid = getpid();
	ring.fd = -1;
	ring.hdr = NULL;
	aux.fd = -1;
	aux.hdr = NULL;
	sh = MAP_FAILED;
	self->pa = NULL;
	if (!mp3_loaded())
		SKIP(return, "mp3prof not loaded");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	self->pa = calloc(1, sizeof(*self->pa));
	ASSERT_NE(NULL, self->pa);
}

FIXTURE_TEARDOWN(tree)
{
	/* The tree dies with its root (PR_SET_PDEATHSIG); the daemon not. */
	if (self->root > 0) {
		kill(self->root, SIGKILL);
		waitpid(self->root, NULL, 0);
	}
	if (sh != MAP_FAILED && sh->daemon > 0) {
		kill(sh->daemon, SIGKILL);
		waitpid(sh->daemon, NULL, 0);
	}
	if (ring.hdr)
		mp3_ring_close(&ring);
	if (aux.hdr)
		mp3_ring_close(&aux);
	if (sh != MAP_FAILED)
		munmap(sh, sizeof(*sh));
	free(self->pa);
}

/* Start the session: 0 or -errno. */
static int session_period(uint64_t flags, uint32_t max_procs, uint64_t period_ns)
{
	return mp3_session_start(&ring, flags, period_ns, RING_PAGES, max_procs);
}

static int session(uint64_t flags, uint32_t max_procs)
{
	return session_period(flags, max_procs, PERIOD_NS);
}

/*
 * Fork the root.  It runs @pre (before it is added: children that exist at
 * ADD time), takes its base, tells us, and blocks until @go is written;
 * then runs @work and exits.  Returns the root's pid and *go, or -1.
 */
static pid_t fork_root(void (*pre)(void), void (*work)(void), int *go)
{
	int rdy[2], gp[2];
	pid_t pid;
	char c;

	if (pipe(rdy) || pipe(gp))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct member *m;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(rdy[0]);
		close(gp[1]);
		m = member_new(SLOW);
		if (pre)
			pre();
		usage_base(&m->base);
		if (write(rdy[1], "r", 1) != 1 || read(gp[0], &c, 1) != 1)
			TREE_FAIL();
		work();
		member_end(m);
		_exit(0);
	}
	close(rdy[1]);
	close(gp[0]);
	*go = gp[1];
	if (read(rdy[0], &c, 1) != 1) {
		close(rdy[0]);
		return -1;
	}
	close(rdy[0]);
	return pid;
}

/*
 * Wait at most @ms for our child @pid to exit and reap it (its entry gets
 * what wait4() said): 0 if it exited with status 0, else its wait status
 * or -errno.
 */
static int wait_exit(pid_t pid, unsigned int ms)
{
	uint64_t end = mp3_now_ns() + ms * MS;
	struct member *m;

	for (;;) {
		pid_t r = reap_member(pid, true);

		if (r == pid)
			break;
		if (r < 0)
			return r;
		if (mp3_now_ns() > end)
			return -ETIMEDOUT;
		mp3_msleep(5);
	}
	m = member_of(pid);
	if (!m)
		return -ENOENT;
	return WIFEXITED(m->status) && !WEXITSTATUS(m->status) ? 0 :
	       (m->status ? m->status : -EPROTO);
}

/*
 * Wait until every process seen has had its last record, then check that
 * the session went idle: no sample for 4 periods.  Parses into @pa.
 */
static int wait_closed_ring(const struct mp3_ring *r, struct parsed *pa,
			    pid_t root, unsigned int ms)
{
	uint64_t end = mp3_now_ns() + ms * MS, head;

	for (;;) {
		parse_ring(r, pa);
		if (all_closed(pa, root))
			break;
		if (mp3_now_ns() > end)
			return -ETIMEDOUT;
		mp3_msleep(20);
	}
	head = pa->head;
	mp3_msleep(4 * r->hdr->period_ns / MS);
	parse_ring(r, pa);
	return pa->head == head ? 0 : -EBUSY;
}

static int wait_closed(struct parsed *pa, pid_t root, unsigned int ms)
{
	return wait_closed_ring(&ring, pa, root, ms);
}

/* Run @work in a root added to the session; the root is reaped. */
#define RUN_ROOT(pre, work) do {						\
	int __go;								\
	self->root = fork_root(pre, work, &__go);				\
	ASSERT_LT(0, self->root);						\
	ASSERT_EQ(0, mp3_wait_sleeping(self->root));				\
	ASSERT_EQ(0, mp3_session_add(ring.fd, self->root));			\
	ASSERT_EQ(1, write(__go, "g", 1));					\
	close(__go);								\
	ASSERT_EQ(0, wait_exit(self->root, 60000))				\
		TH_LOG("root failed, tree error at line %d", sh->err);		\
	self->root = 0;								\
	ASSERT_EQ(0, sh->err) TH_LOG("tree failed at line %d", sh->err);	\
} while (0)

/* The ring was read whole, and its records are consistent. */
#define CHECK_RING(pa) do {							\
	const struct parsed *__pa = (pa);					\
	ASSERT_EQ(0, __pa->err) TH_LOG("reading the ring: %s",		\
				       strerror(-__pa->err));			\
	EXPECT_EQ(0, __pa->sum_mismatch)					\
		TH_LOG("samples whose records do not sum to them");		\
	EXPECT_EQ(0, __pa->exited_mismatch)					\
		TH_LOG("samples whose nr_exited is not their EXITED records");	\
	for (int __i = 0; __i < __pa->n; __i++) {				\
		EXPECT_EQ(0, __pa->p[__i].after_final)				\
			TH_LOG("pid %d has records after its last",		\
			       __pa->p[__i].pid);				\
		EXPECT_EQ(1, __pa->p[__i].nr_final)				\
			TH_LOG("pid %d: %d last records", __pa->p[__i].pid,	\
			       __pa->p[__i].nr_final);				\
	}									\
} while (0)

/*
 * Each member with records: NEW first (unless it is the added root, ppid
 * 0), EXITED last, its parent as ppid.  Its records sum to what wait4()
 * reported for it, less its base, less what wait4() reported for the
 * children it reaped that had records of their own (those are in its
 * children counters, but the session counted them on their own; @tree
 * false: all its children are taken out).  Members nobody reaped (their
 * parent ignored SIGCHLD) are left to the caller.  Every SLOW member had
 * records.  Returns the number of FAST members that never had a record.
 */
static int check_members(struct __test_metadata *_metadata,
			 struct parsed *pa, pid_t root, bool tree)
{
	int i, j, unseen_fast = 0;

	for (i = 0; i < sh->nr; i++) {
		struct member *m = &sh->m[i];
		struct pinfo *p = pinfo_of(pa, m->pid, false);
		struct usage want = member_life(m);
		int nprocs = 1;
		char what[64];

		EXPECT_TRUE(m->done) TH_LOG("member %d did not finish", m->pid);
		if (!p) {
			if (tree) {
				EXPECT_FALSE(m->slow)
					TH_LOG("pid %d lived across samples but has no record",
					       m->pid);
			}
			unseen_fast += !m->slow;
			continue;
		}
		if (m->pid == root) {
			EXPECT_EQ(0, p->ppid_first);
			EXPECT_FALSE(p->all_flags & MP3PROF_PROC_NEW);
		} else {
			EXPECT_TRUE(p->first_flags & MP3PROF_PROC_NEW)
				TH_LOG("pid %d: first record flags %#x", m->pid,
				       p->first_flags);
			EXPECT_EQ(m->ppid, p->ppid_first)
				TH_LOG("pid %d: ppid", m->pid);
		}
		EXPECT_TRUE(p->last_flags & MP3PROF_PROC_EXITED)
			TH_LOG("pid %d: last record flags %#x", m->pid, p->last_flags);
		if (!m->reaper)
			continue;
		for (j = 0; j < sh->nr; j++) {
			struct member *c = &sh->m[j];

			if (!reaped_by(c, m))
				continue;
			nprocs++;
			if (!tree || pinfo_of(pa, c->pid, false))
				want = usage_sub(want, c->reaped);
			else
				want = usage_sub(want, c->base);
		}
		snprintf(what, sizeof(what), "records of pid %d", m->pid);
		EXPECT_NEAR(want, p->sum, nprocs, what);
	}
	return unseen_fast;
}

/*
 * What the whole session should have counted: what wait4() reported for
 * the members reaped outside the tree (the root, a daemon), less the
 * bases.  Members nobody reaped are not in it.
 */
static struct usage tree_expect(void)
{
	struct usage u = { 0 };
	int i;

	for (i = 0; i < sh->nr; i++) {
		struct member *m = &sh->m[i];

		if (m->reaper && !in_tree(m->reaper))
			u = usage_add(u, m->reaped);
		u = usage_sub(u, m->base);
	}
	return u;
}

/* The root's own getrusage() and RUSAGE_CHILDREN right before its exit. */
static struct usage root_report(pid_t root)
{
	struct member *m = member_of(root);

	return usage_add(member_own(m), m->kids);
}

/* CPU time of exits: what wait4() has beyond the last report. */
static void exit_costs(int64_t *max, int64_t *sum, int *n)
{
	int i;

	*max = *sum = 0;
	*n = 0;
	for (i = 0; i < sh->nr; i++) {
		struct member *m = &sh->m[i];
		int64_t d;

		if (!m->reaper || !m->done)
			continue;
		d = m->reaped.cpu_ns - m->end.cpu_ns - m->kids.cpu_ns;
		if (d > *max)
			*max = d;
		*sum += d;
		(*n)++;
	}
}

#define LOG_EXITS() do {							\
	int64_t __max, __sum;							\
	int __n;								\
	exit_costs(&__max, &__sum, &__n);					\
	if (__n)								\
		TH_LOG("CPU after the last report (the exit): mean %lld ns, "	\
		       "max %lld ns over %d processes", (long long)__sum / __n,	\
		       (long long)__max, __n);					\
} while (0)

/* Total and per process, logged and checked. */
#define CHECK_TOTAL(pa, root) do {						\
	const struct parsed *__pt = (pa);					\
	LOG_USAGE("total vs wait4() of the root since ADD", tree_expect(),	\
		  __pt->total);							\
	LOG_USAGE("total vs the root's getrusage(SELF) + RUSAGE_CHILDREN "	\
		  "before its exit", root_report(root), __pt->total);		\
	LOG_EXITS();								\
	EXPECT_NEAR(tree_expect(), __pt->total, sh->nr, "tree total");		\
} while (0)

/* ------------------------------------------------------------ the tests */

#define NSLOW		10
#define NFAST		10
#define KID_PAGES	64
#define KID_MS		10
#define ROOT_PAGES	128
#define ROOT_MS		20

static void work_kids(void)
{
	touch_pages(ROOT_PAGES);
	mp3_burn_ms(ROOT_MS);
	kids_work(NSLOW, NFAST, KID_PAGES, KID_MS, NULL);
	touch_pages(ROOT_PAGES / 2);
}

/*
 * A root forks and reaps K = 20 children, 10 living across samples and 10
 * forked right after a sample and reaped at once: the session's total is
 * the root's usage since ADD plus its RUSAGE_CHILDREN.
 */
TEST_F_TIMEOUT(tree, children, 120)
{
	struct parsed *pa = self->pa;
	pid_t root;
	int unseen;

	/* A long period: the fast children have room to live and die unseen. */
	ASSERT_EQ(0, session_period(TREE_FLAGS, 0, 4 * PERIOD_NS));
	EXPECT_EQ(MP3PROF_HDR_SESSION | MP3PROF_HDR_PER_PROCESS | MP3PROF_HDR_TREE,
		  mp3_hdr_flags(&ring) & ~MP3PROF_HDR_ENDED);
	RUN_ROOT(NULL, work_kids);
	root = sh->m[0].pid;
	ASSERT_EQ(1 + NSLOW + NFAST, sh->nr);
	ASSERT_EQ(0, wait_closed(pa, root, 10000));
	CHECK_RING(pa);

	CHECK_TOTAL(pa, root);
	unseen = check_members(_metadata, pa, root, true);
	TH_LOG("%d samples, %d of %d fast children never sampled on their own",
	       (int)pa->samples, unseen, NFAST);
	/* Counted through their parent: at least one really was. */
	EXPECT_LT(0, unseen);
	EXPECT_EQ(0, pa->untracked);
}

/*
 * Without MP3PROF_SESSION_TREE the same workload reports only the root's
 * own usage: what its children did is missed, as the issue measured.
 */
TEST_F_TIMEOUT(tree, no_tree, 120)
{
	struct parsed *pa = self->pa;
	struct usage own;
	struct member *m;
	pid_t root;

	ASSERT_EQ(0, session(MP3PROF_SESSION_PER_PROCESS, 0));
	RUN_ROOT(NULL, work_kids);
	m = &sh->m[0];
	root = m->pid;
	ASSERT_EQ(0, wait_closed(pa, root, 10000));
	CHECK_RING(pa);

	EXPECT_EQ(1, pa->n) TH_LOG("only the root has records");
	EXPECT_EQ(1, pa->max_nr_procs);
	/* The root's own usage: wait4() less its children's part. */
	own = usage_sub(member_life(m), m->kids);
	LOG_USAGE("no-tree total vs the root's own usage", own, pa->total);
	LOG_USAGE("no-tree total vs wait4() of the root since ADD", tree_expect(),
		  pa->total);
	EXPECT_NEAR(own, pa->total, 1, "no-tree total");
	check_members(_metadata, pa, root, false);
	/* The children's part is large and really missing. */
	EXPECT_LT(NSLOW * KID_PAGES, m->kids.min_flt);
	EXPECT_LT(pa->total.min_flt + NSLOW * KID_PAGES / 2, tree_expect().min_flt);
	EXPECT_LT(pa->total.cpu_ns + NSLOW * KID_MS * MS / 2, tree_expect().cpu_ns);
}

#define NGC		4	/* grandchildren per child */

static void work_grandkids(void)
{
	kids_work(NGC / 2, NGC / 2, KID_PAGES / 2, KID_MS / 2, NULL);
}

static void work_three_levels(void)
{
	touch_pages(ROOT_PAGES);
	kids_work(3, 0, KID_PAGES, KID_MS, work_grandkids);
}

/*
 * Grandchildren: three children each fork and reap four children of their
 * own (two across samples, two fast).  The total is still the root's
 * usage plus its RUSAGE_CHILDREN (which has the grandchildren through the
 * children's), and a grandchild's records name its parent.
 */
TEST_F_TIMEOUT(tree, grandchildren, 120)
{
	struct parsed *pa = self->pa;
	pid_t root;
	int i, unseen, gc_seen = 0;

	ASSERT_EQ(0, session_period(TREE_FLAGS, 0, 4 * PERIOD_NS));
	RUN_ROOT(NULL, work_three_levels);
	root = sh->m[0].pid;
	ASSERT_EQ(1 + 3 + 3 * NGC, sh->nr);
	ASSERT_EQ(0, wait_closed(pa, root, 10000));
	CHECK_RING(pa);

	CHECK_TOTAL(pa, root);
	unseen = check_members(_metadata, pa, root, true);
	for (i = 0; i < sh->nr; i++) {
		struct member *m = &sh->m[i];
		struct pinfo *p = pinfo_of(pa, m->pid, false);

		if (m->pid == root || m->ppid == root || !p)
			continue;
		gc_seen++;
		EXPECT_NE(root, p->ppid_first);
	}
	EXPECT_LE(3 * NGC / 2, gc_seen) TH_LOG("grandchildren with records");
	TH_LOG("%d grandchildren with records, %d fast ones never sampled", gc_seen,
	       unseen);
}

/*
 * The daemon: the grandchild D of the root double-forks away (its parent
 * C exits, D is reparented to the test process, a child subreaper), and
 * outlives the root.
 */
static void daemon_body(struct member *c)
{
	struct member *d = member_new(SLOW);

	sh->daemon = getpid();
	touch_pages(KID_PAGES);
	mp3_burn_ms(KID_MS);
	/* Sampled as C's child... */
	tree_wait_samples(2);
	__atomic_store_n(&c->slow, 2, __ATOMIC_RELEASE);	/* C may go */
	while (getppid() == c->pid)
		mp3_msleep(1);
	/* ...then without a parent in the session, after the root is gone. */
	while (!__atomic_load_n(&sh->root_reaped, __ATOMIC_ACQUIRE))
		mp3_msleep(1);
	/*
	 * The subreaper's now.  Not right after getppid() changed: C's exit
	 * may still be going through its children, and would send the new
	 * parent death signal at once.
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	tree_wait_samples(2);
	touch_pages(KID_PAGES);
	mp3_burn_ms(KID_MS);
	tree_wait_samples(2);
	member_end(d);
	_exit(0);
}

static void work_daemon(void)
{
	pid_t c = fork();

	if (c < 0)
		TREE_FAIL();
	if (c == 0) {
		struct member *m;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		m = member_new(SLOW);
		touch_pages(KID_PAGES);
		if (fork() == 0)
			daemon_body(m);
		while (__atomic_load_n(&m->slow, __ATOMIC_ACQUIRE) != 2)
			mp3_msleep(1);
		m->slow = SLOW;
		member_end(m);
		_exit(0);
	}
	tree_reap(c);
	touch_pages(ROOT_PAGES / 2);
}

TEST_F_TIMEOUT(tree, double_fork_daemon, 120)
{
	struct parsed *pa = self->pa;
	struct member *c, *d;
	struct pinfo *pr, *pc, *pd;
	pid_t root;
	int ret;

	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_EQ(0, session(TREE_FLAGS, 0));
	RUN_ROOT(NULL, work_daemon);
	__atomic_store_n(&sh->root_reaped, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(3, sh->nr);
	root = sh->m[0].pid;
	c = &sh->m[1];
	d = &sh->m[2];
	ASSERT_EQ(c->pid, d->ppid);
	ret = wait_exit(d->pid, 60000);
	ASSERT_EQ(0, ret) TH_LOG("daemon failed: status %#x, tree error at line %d",
				 ret, sh->err);
	sh->daemon = 0;
	ASSERT_EQ(0, sh->err) TH_LOG("tree failed at line %d", sh->err);
	ASSERT_EQ(0, wait_closed(pa, root, 10000));
	CHECK_RING(pa);

	pr = pinfo_of(pa, root, false);
	pc = pinfo_of(pa, c->pid, false);
	pd = pinfo_of(pa, d->pid, false);
	ASSERT_NE(NULL, pr);
	ASSERT_NE(NULL, pc);
	ASSERT_NE(NULL, pd);
	/* Sampled as C's child, then without a parent... */
	EXPECT_EQ(c->pid, pd->ppid_first);
	EXPECT_TRUE(pd->first_flags & MP3PROF_PROC_NEW);
	EXPECT_EQ(0, pd->ppid_last);
	EXPECT_TRUE(pd->last_flags & MP3PROF_PROC_EXITED);
	/* ...and still after the root's exit. */
	EXPECT_LT(pr->last_sample + 1, pd->last_sample)
		TH_LOG("root's last sample %lld, daemon's %lld",
		       (long long)pr->last_sample, (long long)pd->last_sample);
	EXPECT_EQ(root, pc->ppid_first);
	/* Its records are its own usage, from birth, once. */
	LOG_USAGE("daemon's records vs wait4() of it", member_life(d), pd->sum);
	check_members(_metadata, pa, root, true);
	/* The root's wait4() has C, not D (C never reaped it): both count. */
	EXPECT_EQ(self->test_pid, d->reaper);
	CHECK_TOTAL(pa, root);
}

/*
 * A child that exists when the root is added is counted from the ADD:
 * what it did before is in the root's RUSAGE_CHILDREN but not in the
 * session.
 */
#define PRE_PAGES	1024
#define PRE_MS		100

static int pre_go[2];

static void pre_child(void)
{
	pid_t pid;
	char c;

	if (pipe(pre_go))
		TREE_FAIL();
	pid = fork();
	if (pid < 0)
		TREE_FAIL();
	if (pid == 0) {
		struct member *m;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		m = member_new(SLOW);
		touch_pages(PRE_PAGES);
		mp3_burn_ms(PRE_MS);
		usage_base(&m->base);
		/* Sleep before the root reports ready: both sleep at ADD. */
		__atomic_store_n(&m->done, 2, __ATOMIC_RELEASE);
		if (read(pre_go[0], &c, 1) != 1)
			TREE_FAIL();
		m->done = 0;
		touch_pages(KID_PAGES);
		mp3_burn_ms(KID_MS);
		tree_wait_samples(2);
		member_end(m);
		_exit(0);
	}
	while (__atomic_load_n(&sh->nr, __ATOMIC_ACQUIRE) < 2 ||
	       __atomic_load_n(&sh->m[1].done, __ATOMIC_ACQUIRE) != 2)
		mp3_msleep(1);
	if (mp3_wait_sleeping(pid))
		TREE_FAIL();
}

static void work_existing(void)
{
	if (write(pre_go[1], "g", 1) != 1)
		TREE_FAIL();
	touch_pages(ROOT_PAGES / 2);
	tree_reap(sh->m[1].pid);
}

TEST_F_TIMEOUT(tree, existing_child, 120)
{
	struct parsed *pa = self->pa;
	struct member *x;
	struct pinfo *px;
	pid_t root;

	ASSERT_EQ(0, session(TREE_FLAGS, 0));
	RUN_ROOT(pre_child, work_existing);
	root = sh->m[0].pid;
	x = &sh->m[1];
	ASSERT_EQ(2, sh->nr);
	ASSERT_EQ(0, wait_closed(pa, root, 10000));
	CHECK_RING(pa);

	px = pinfo_of(pa, x->pid, false);
	ASSERT_NE(NULL, px);
	EXPECT_TRUE(px->first_flags & MP3PROF_PROC_NEW);
	EXPECT_EQ(root, px->ppid_first);
	LOG_USAGE("existing child's records vs wait4() of it since ADD",
		  member_life(x), px->sum);
	check_members(_metadata, pa, root, true);
	CHECK_TOTAL(pa, root);
	/* Its work before the ADD is in the root's wait4(), not in the session. */
	EXPECT_LT(PRE_PAGES, sh->m[0].reaped.min_flt - pa->total.min_flt);
	EXPECT_LT(PRE_MS * MS / 2, sh->m[0].reaped.cpu_ns - pa->total.cpu_ns);
}

/*
 * Children the kernel reaped (their parent ignored SIGCHLD): what the aux
 * session measured for them is their real usage.  Those with records in
 * the tree session must have exactly that there; the others were lost (the
 * admin guide says so).  Adds what the tree session should have counted
 * for them to *want, what it could not to *lost; returns how many had
 * records.
 */
static int check_autoreaped(struct __test_metadata *_metadata,
			    struct parsed *pa, struct parsed *apa,
			    struct usage *want, struct usage *lost)
{
	int i, seen = 0;

	for (i = 0; i < sh->nr; i++) {
		struct member *c = &sh->m[i];
		struct pinfo *p, *b;
		struct usage real;
		char what[64];

		if (!c->aux)
			continue;
		EXPECT_EQ(0, c->reaper) TH_LOG("pid %d was reaped by %d", c->pid,
					       c->reaper);
		b = pinfo_of(apa, c->pid, false);
		EXPECT_NE(NULL, b) TH_LOG("pid %d not in the aux session", c->pid);
		if (!b)
			continue;
		EXPECT_TRUE(b->last_flags & MP3PROF_PROC_EXITED);
		real = usage_add(c->aux_base, b->sum);
		p = pinfo_of(pa, c->pid, false);
		/*
		 * The aux ADD read its baseline somewhere in the ioctl, so
		 * the truth lies in [aux_base, aux_after] + the aux records:
		 * expect the point of that interval nearest to what the tree
		 * session recorded (the ioctl took 131 ms of CPU once, on the
		 * preempt kernel).
		 */
		if (p) {
			int64_t lo = real.cpu_ns, hi = real.cpu_ns +
				     c->aux_after.cpu_ns - c->aux_base.cpu_ns;

			real.cpu_ns = p->sum.cpu_ns < lo ? lo : p->sum.cpu_ns > hi ? hi :
				      p->sum.cpu_ns;
			if (hi - lo > 2 * REF_SLACK_NS)
				TH_LOG("pid %d: its aux ADD took %lld ns of CPU", c->pid,
				       (long long)(hi - lo));
		}
		if (!p) {
			*lost = usage_add(*lost, real);
			continue;
		}
		seen++;
		*want = usage_add(*want, real);
		snprintf(what, sizeof(what), "records of autoreaped pid %d", c->pid);
		EXPECT_NEAR(real, p->sum, 1, what);
	}
	return seen;
}

/*
 * A root that ignores SIGCHLD from the start: its children are reaped by
 * the kernel and leave nothing in its counters.  A sampled child is
 * counted once, exit included (as the aux session measured it); the
 * root's records are its own usage, nothing of those children.  Children
 * that lived and died between two samples are lost, as the admin guide
 * says; the test logs how much.
 */
static void work_autoreap(void)
{
	struct kid slow = { SLOW, KID_PAGES, KID_MS, NULL, false, true };
	struct kid fast = { FAST, KID_PAGES / 4, 1, NULL, false, true };
	int i;

	signal(SIGCHLD, SIG_IGN);
	touch_pages(ROOT_PAGES);
	for (i = 0; i < NSLOW / 2; i++)
		spawn_kid(&slow);
	for (i = 0; i < NFAST / 2; i++) {
		pid_t pid;

		tree_sync_sample();
		pid = spawn_kid(&fast);
		/* Returns ECHILD once the kernel reaped it. */
		while (waitpid(pid, NULL, 0) >= 0 || errno == EINTR)
			;
	}
	while (wait(NULL) >= 0 || errno == EINTR)
		;
	if (errno != ECHILD)
		TREE_FAIL();
}

TEST_F_TIMEOUT(tree, sigchld_ignored, 120)
{
	struct parsed *pa = self->pa, *apa = calloc(1, sizeof(*apa));
	struct usage want, lost = { 0 };
	int unseen, seen;
	pid_t root;

	ASSERT_NE(NULL, apa);
	ASSERT_EQ(0, session(TREE_FLAGS, 0));
	ASSERT_EQ(0, mp3_session_start(&aux, MP3PROF_SESSION_PER_PROCESS, PERIOD_NS,
				       RING_PAGES, 0));
	RUN_ROOT(NULL, work_autoreap);
	root = sh->m[0].pid;
	ASSERT_EQ(1 + NSLOW / 2 + NFAST / 2, sh->nr);
	ASSERT_EQ(0, wait_closed(pa, root, 10000));
	CHECK_RING(pa);
	ASSERT_EQ(0, wait_closed_ring(&aux, apa, 0, 10000));
	CHECK_RING(apa);

	/* The kernel reaped them: the root's counters never had them. */
	EXPECT_EQ(0, sh->m[0].kids.min_flt);
	EXPECT_EQ(0, sh->m[0].kids.cpu_ns);
	unseen = check_members(_metadata, pa, root, true);
	want = tree_expect();
	seen = check_autoreaped(_metadata, pa, apa, &want, &lost);
	LOG_USAGE("total vs the root's wait4() + the aux session's children", want,
		  pa->total);
	LOG_EXITS();
	TH_LOG("%d autoreaped children sampled, %d never (lost: %lld minor faults, %lld ns)",
	       seen, unseen, (long long)lost.min_flt, (long long)lost.cpu_ns);
	EXPECT_EQ(NSLOW / 2 + NFAST / 2 - unseen, seen);
	EXPECT_NEAR(want, pa->total, sh->nr, "total");
	free(apa);
}

/*
 * A parent that reaps sampled children with wait() and then ignores
 * SIGCHLD, before the driver's next sample.  wait4() put the children in
 * its children counters; the session counted them on their own, so their
 * part must come out of the parent's growth, as for any reaped child.
 */
static void work_reap_then_ignore(void)
{
	struct kid k = { SLOW, KID_PAGES, KID_MS, NULL, true };
	pid_t pids[3];
	int i;

	touch_pages(ROOT_PAGES);
	for (i = 0; i < 3; i++)
		pids[i] = spawn_kid(&k);
	tree_wait_samples(3);
	/* All three exit at once, are reaped, then SIGCHLD is ignored. */
	__atomic_store_n(&sh->release, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 3; i++)
		tree_reap(pids[i]);
	signal(SIGCHLD, SIG_IGN);
	tree_wait_samples(2);
}

TEST_F_TIMEOUT(tree, sigchld_ignored_after_reaping, 120)
{
	struct parsed *pa = self->pa;
	pid_t root;

	ASSERT_EQ(0, session(TREE_FLAGS, 0));
	RUN_ROOT(NULL, work_reap_then_ignore);
	root = sh->m[0].pid;
	ASSERT_EQ(4, sh->nr);
	ASSERT_EQ(0, wait_closed(pa, root, 10000));
	CHECK_RING(pa);
	CHECK_TOTAL(pa, root);
	check_members(_metadata, pa, root, true);
}

/*
 * The other way round: a parent ignores SIGCHLD while a sampled child
 * exits (the kernel reaps it, nothing goes to the parent's counters), then
 * restores SIG_DFL and forks and reaps a short child of its own, all
 * before the driver's next sample.  The short child must be counted
 * through the parent, the first one by its own records (as the aux
 * session measured it).  A long period leaves room for all that.
 */
static void work_ignore_then_reap(void)
{
	struct kid slow = { SLOW, KID_PAGES, KID_MS, NULL, false, true };
	struct kid fast = { FAST, KID_PAGES / 4, 1, NULL };
	pid_t pid;

	touch_pages(ROOT_PAGES);
	signal(SIGCHLD, SIG_IGN);
	/* It exits right after a sample. */
	pid = spawn_kid(&slow);
	while (waitpid(pid, NULL, 0) >= 0 || errno == EINTR)
		;
	signal(SIGCHLD, SIG_DFL);
	tree_reap(spawn_kid(&fast));
	tree_wait_samples(2);
}

TEST_F_TIMEOUT(tree, sigchld_default_after_ignoring, 120)
{
	struct parsed *pa = self->pa, *apa = calloc(1, sizeof(*apa));
	struct usage want, lost = { 0 };
	pid_t root;

	ASSERT_NE(NULL, apa);
	ASSERT_EQ(0, session_period(TREE_FLAGS, 0, 200 * MS));
	ASSERT_EQ(0, mp3_session_start(&aux, MP3PROF_SESSION_PER_PROCESS, PERIOD_NS,
				       RING_PAGES, 0));
	RUN_ROOT(NULL, work_ignore_then_reap);
	root = sh->m[0].pid;
	ASSERT_EQ(3, sh->nr);
	ASSERT_EQ(0, wait_closed(pa, root, 10000));
	CHECK_RING(pa);
	ASSERT_EQ(0, wait_closed_ring(&aux, apa, 0, 10000));
	CHECK_RING(apa);

	check_members(_metadata, pa, root, true);
	want = tree_expect();
	EXPECT_EQ(1, check_autoreaped(_metadata, pa, apa, &want, &lost));
	LOG_USAGE("total vs the root's wait4() + the aux session's child", want,
		  pa->total);
	EXPECT_NEAR(want, pa->total, sh->nr, "total");
	free(apa);
}

/*
 * REMOVE of the root removes its descendants: their last records carry
 * REMOVED, and then nothing more is recorded while they go on working.
 */
static int rm_go[2];

/* Wait for the go, then work until killed. */
static void rm_work(void)
{
	char c;

	member_new(SLOW);
	if (read(rm_go[0], &c, 1) != 1)
		TREE_FAIL();
	for (;;) {
		touch_pages(16);
		mp3_burn_ms(5);
	}
}

/* A child of the root; the first one has a child of its own. */
static void rm_kid_body(bool grandchild)
{
	if (grandchild) {
		pid_t pid = fork();

		if (pid < 0)
			TREE_FAIL();
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			rm_work();
		}
	}
	rm_work();
}

static void work_remove(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		pid_t pid = fork();

		if (pid < 0)
			TREE_FAIL();
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			rm_kid_body(i == 0);
		}
	}
	for (;;)
		pause();
}

TEST_F_TIMEOUT(tree, remove_root, 120)
{
	struct parsed *pa = self->pa;
	uint64_t head, samples, n0;
	pid_t root;
	int i, go;

	ASSERT_EQ(0, pipe(rm_go));
	ASSERT_EQ(0, session(TREE_FLAGS, 0));
	root = fork_root(NULL, work_remove, &go);
	ASSERT_LT(0, root);
	self->root = root;
	ASSERT_EQ(0, mp3_wait_sleeping(root));
	ASSERT_EQ(0, mp3_session_add(ring.fd, root));
	ASSERT_EQ(1, write(go, "g", 1));
	close(go);
	/* Wait until all five have records. */
	for (i = 0; i < 1000; i++) {
		parse(pa);
		if (sh->nr == 5 && pa->n == 5)
			break;
		mp3_msleep(10);
	}
	ASSERT_EQ(5, sh->nr);
	ASSERT_EQ(5, pa->n) TH_LOG("processes with records");
	ASSERT_EQ(0, sh->err);

	/* A descendant is in the session, but not added. */
	EXPECT_EQ(-EEXIST, mp3_session_add(ring.fd, sh->m[1].pid));
	EXPECT_EQ(-EINVAL, mp3_session_remove(ring.fd, sh->m[1].pid));
	n0 = mp3_nr_samples(&ring);
	ASSERT_EQ(0, mp3_session_remove(ring.fd, root));
	EXPECT_EQ(-ENOENT, mp3_session_remove(ring.fd, root));
	EXPECT_EQ(-ENOENT, mp3_session_remove(ring.fd, sh->m[1].pid));
	ASSERT_EQ(0, mp3_wait_samples_past(&ring, n0, 10000));
	parse(pa);
	CHECK_RING(pa);
	head = pa->head;
	samples = ring.hdr->samples;
	for (i = 0; i < pa->n; i++) {
		EXPECT_TRUE(pa->p[i].last_flags & MP3PROF_PROC_REMOVED)
			TH_LOG("pid %d: last flags %#x", pa->p[i].pid,
			       pa->p[i].last_flags);
		EXPECT_EQ(pa->samples - 1, pa->p[i].last_sample)
			TH_LOG("pid %d: not in the sample after REMOVE", pa->p[i].pid);
		EXPECT_NE(NULL, member_of(pa->p[i].pid));
	}
	/* They all work now, for 10 periods: nothing is recorded. */
	for (i = 0; i < 4; i++)
		ASSERT_EQ(1, write(rm_go[1], "g", 1));
	mp3_msleep(10 * PERIOD_NS / MS);
	for (i = 1; i < 5; i++)
		EXPECT_NE(0, mp3_proc_state(sh->m[i].pid)) TH_LOG("pid %d is gone",
								  sh->m[i].pid);
	EXPECT_EQ(head, mp3_head(&ring));
	EXPECT_EQ(samples, ring.hdr->samples);
	EXPECT_EQ(0, sh->err);
}

/*
 * A tree larger than the session's max_procs: the others are counted
 * through their parent when it reaps them, and the samples say so.
 */
#define SMALL_MAX	4

static void work_many(void)
{
	struct kid k = { SLOW, KID_PAGES, KID_MS, NULL, true };
	pid_t pids[10];
	int i;

	touch_pages(ROOT_PAGES);
	/* All ten alive at once for 3 samples, then they all go. */
	for (i = 0; i < 10; i++)
		pids[i] = spawn_kid(&k);
	tree_wait_samples(3);
	__atomic_store_n(&sh->release, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 10; i++)
		tree_reap(pids[i]);
}

TEST_F_TIMEOUT(tree, max_procs, 120)
{
	struct parsed *pa = self->pa;
	pid_t root;
	int i, seen = 0;

	ASSERT_EQ(0, session(TREE_FLAGS, SMALL_MAX));
	EXPECT_EQ(SMALL_MAX, ring.hdr->max_procs);
	RUN_ROOT(NULL, work_many);
	root = sh->m[0].pid;
	ASSERT_EQ(11, sh->nr);
	ASSERT_EQ(0, wait_closed(pa, root, 10000));
	CHECK_RING(pa);

	EXPECT_LE(pa->max_nr_procs, SMALL_MAX);
	EXPECT_LT(0, pa->untracked) TH_LOG("no sample says MP3PROF_SAMPLE_UNTRACKED");
	for (i = 1; i < sh->nr; i++)
		seen += !!pinfo_of(pa, sh->m[i].pid, false);
	TH_LOG("%d of 10 children sampled on their own, %d samples UNTRACKED", seen,
	       pa->untracked);
	EXPECT_GT(10, seen);
	CHECK_TOTAL(pa, root);
	/* The untracked ones are in their parent's records. */
	for (i = 0; i < sh->nr; i++)
		sh->m[i].slow = FAST;	/* not all get records here */
	check_members(_metadata, pa, root, true);
}

TEST_HARNESS_MAIN
