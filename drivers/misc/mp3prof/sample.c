// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof sampling.
 *
 * Each session samples on its own CLOCK_MONOTONIC grid: sample k of a run
 * is due at start + k * period.  An hrtimer fires at the deadline and
 * queues the session's work, which takes the sample in process context
 * and arms the timer for the next slot.  Sampling runs only while the
 * session has processes.
 *
 * Whole-tree sessions.  The tree of an added process is the process and
 * its descendants; each of them is sampled as a process of the session
 * (found by scanning the task list for children of the session's
 * processes, so nothing hooks fork or exit).  A process's value is its own
 * counters plus what its reaped children left in its signal_struct
 * (cmin_flt, cmaj_flt, cutime + cstime).  When a sampled child is reaped
 * by a sampled parent, the child's final value moves into the parent's
 * children counters: the parent's growth there is reduced by that value
 * (->pending), so nothing is counted twice, while children that lived and
 * died between two samples are counted once, through their parent.  The
 * reaping is not atomic with respect to a reader: between the child's
 * EXIT_DEAD and its release the parent's counters may or may not include
 * it, so a parent with a child in that state has its children counters
 * accounted one sample later (->defer).
 */
#include <linux/cred.h>
#include <linux/jiffies.h>
#include <linux/memcontrol.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/cputime.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seqlock.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "mp3prof.h"

/*
 * New descendants are taken this many per scan of the task list, and at
 * most MP3PROF_DISCOVER_SCANS scans per sample.  The others are found by
 * later samples or, if they exit first, counted through their parent.
 */
#define MP3PROF_DISCOVER_BATCH	16
#define MP3PROF_DISCOVER_SCANS	8

/*
 * Has @t been scheduled out for good?  Its exit_state is set in
 * exit_notify(), before do_task_dead() schedules it out and the scheduler
 * accounts its last slice; ->on_cpu drops after that, with release
 * semantics (finish_task()), as try_to_wake_up() relies on.
 */
static bool mp3prof_thread_done(struct task_struct *t)
{
	if (!READ_ONCE(t->exit_state) || READ_ONCE(t->__state) != TASK_DEAD)
		return false;
#ifdef CONFIG_SMP
	/* Pairs with the release in finish_task(): the last slice is in. */
	return !smp_load_acquire(&t->on_cpu);
#else
	return true;
#endif
}

/*
 * A thread's exit_state is set at the end of do_exit(), after exit_mm() and
 * the rest of the teardown, whose CPU time is the process's too; the last
 * slice is accounted when it has scheduled out for good.  Only then are
 * the counters final.  Threads that were released already left their
 * counters in signal_struct.
 */
static void mp3prof_sum(struct signal_struct *sig, struct mp3prof_counts *own,
			struct mp3prof_counts *kids, bool *alive, bool *done)
{
	struct task_struct *t;

	*alive = false;
	*done = true;
	own->min_flt = sig->min_flt;
	own->maj_flt = sig->maj_flt;
	own->cpu_ns = sig->sum_sched_runtime;
	__for_each_thread(sig, t) {
		own->min_flt += READ_ONCE(t->min_flt);
		own->maj_flt += READ_ONCE(t->maj_flt);
		/* With the pending runtime of a thread running now. */
		own->cpu_ns += task_sched_runtime(t);
		*alive |= !READ_ONCE(t->exit_state);
		*done &= mp3prof_thread_done(t);
	}
	kids->min_flt = sig->cmin_flt;
	kids->maj_flt = sig->cmaj_flt;
	kids->cpu_ns = sig->cutime + sig->cstime;
}

/**
 * mp3prof_read_own() - Read the cumulative counters of a process
 * @p: The process.
 * @own: Filled with its own counters: its live threads plus what its exited
 *	 threads left in signal_struct, as /proc/PID/stat sums them.
 * @kids: Filled with what its reaped children left (their CPU time is the
 *	  sum of their runtimes: cputime_adjust() scales it so).
 *
 * Nothing is written to any task.  CPU time is exact to now:
 * task_sched_runtime() adds what a running thread did since its last tick
 * or context switch, as clock_gettime(CLOCK_THREAD_CPUTIME_ID) does; that
 * costs a runqueue lock per running thread.  thread_group_cputime() leaves
 * that pending time out and does not sum faults, so this sums the threads
 * itself, the same way, under stats_lock's seqcount.  The first pass is
 * lockless; only if the counters changed meanwhile under stats_lock (a
 * thread exited, or a child was reaped), the second pass takes it.  The
 * 64-bit loads are why the driver depends on 64BIT.
 *
 * Return: true once every thread of the process has exited and been
 * scheduled out for good: the counters are final then.
 */
bool mp3prof_read_own(struct mp3prof_proc *p, struct mp3prof_counts *own,
		      struct mp3prof_counts *kids)
{
	struct signal_struct *sig = p->leader->signal;
	unsigned long flags;
	bool alive, done;
	unsigned int seq;

	rcu_read_lock();
	seq = read_seqbegin(&sig->stats_lock);
	mp3prof_sum(sig, own, kids, &alive, &done);
	if (read_seqretry(&sig->stats_lock, seq)) {
		read_seqlock_excl_irqsave(&sig->stats_lock, flags);
		mp3prof_sum(sig, own, kids, &alive, &done);
		read_sequnlock_excl_irqrestore(&sig->stats_lock, flags);
	}
	rcu_read_unlock();
	return !alive && done;
}

static bool mp3prof_tree(const struct mp3prof_session *s)
{
	return s->flags & MP3PROF_SESSION_TREE;
}

static void mp3prof_link(struct mp3prof_proc *p, struct mp3prof_proc *parent)
{
	if (p->parent)
		list_del_init(&p->sibling);
	p->parent = parent;
	if (parent) {
		list_add_tail(&p->sibling, &parent->children);
		if (!p->added)
			p->tree = parent->tree;
	}
}

/* Under RCU: the session's process whose child @t is, if any. */
static struct mp3prof_proc *mp3prof_parent_of(struct mp3prof_session *s,
					      struct task_struct *t)
{
	return mp3prof_find(s, task_tgid(rcu_dereference(t->real_parent)));
}

/*
 * Take @t, a new child of @parent, as a process of the session.  A child
 * that was running when its tree was added is counted from now on, one
 * forked later from its start.
 */
static bool mp3prof_adopt(struct mp3prof_session *s,
			  struct mp3prof_proc *parent, struct task_struct *t,
			  struct pid *pid, u64 since)
{
	struct mp3prof_proc *p;

	if (s->nr_procs >= s->max_procs || !mp3prof_charge_proc()) {
		s->untracked = true;
		goto drop;
	}
	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p) {
		mp3prof_uncharge_proc();
		s->untracked = true;
		goto drop;
	}
	INIT_LIST_HEAD(&p->children);
	INIT_LIST_HEAD(&p->sibling);
	p->pid = pid;
	p->leader = t;
	p->cred = get_cred(parent->cred);
	/* An exec since the fork is checked at the next sample. */
	p->exec_id = READ_ONCE(t->parent_exec_id);
	p->state = MP3PROF_ACTIVE;
	p->rec_flags = MP3PROF_PROC_NEW;
	p->ign = mp3prof_ignores_sigchld(t);
	if (t->start_time < since) {
		mp3prof_read_own(p, &p->own, &p->kids);
		p->base = p->own;
	}
	mp3prof_link(p, parent);
	rb_add(&p->node, &s->procs, mp3prof_pid_less);
	list_add_tail(&p->list, &s->list);
	s->nr_procs++;
	return true;
drop:
	put_task_struct(t);
	put_pid(pid);
	return false;
}

/**
 * mp3prof_discover() - Find the session's new descendants
 * @s: A whole-tree session.
 * @only: Only look for descendants of this process (just added), until
 *	  all of them are found; NULL: one scan for every process.
 *
 * Also updates who is whose parent: a process reparented to a process
 * outside the session stays sampled, without a parent.
 *
 * Called with @s->lock held.
 */
void mp3prof_discover(struct mp3prof_session *s, struct mp3prof_proc *only)
{
	struct { struct task_struct *t; struct pid *pid; } found[MP3PROF_DISCOVER_BATCH];
	struct mp3prof_proc *p, *parent;
	struct task_struct *t;
	unsigned int n, i, adopted, scans = 0;
	u64 since;

	lockdep_assert_held(&s->lock);
	since = only ? ktime_get_ns() : 0;
	do {
		n = 0;
		rcu_read_lock();
		for_each_process(t) {
			if (mp3prof_find(s, task_tgid(t)))
				continue;
			parent = mp3prof_parent_of(s, t);
			if (!parent || parent->state != MP3PROF_ACTIVE ||
			    (only && parent->tree != only->tree))
				continue;
			/* Being reaped: its parent's counters will have it. */
			if (READ_ONCE(t->exit_state) & EXIT_DEAD)
				continue;
			get_task_struct(t);
			found[n].t = t;
			found[n].pid = get_pid(task_tgid(t));
			if (++n == ARRAY_SIZE(found))
				break;
		}
		rcu_read_unlock();

		adopted = 0;
		for (i = 0; i < n; i++) {
			rcu_read_lock();
			parent = mp3prof_parent_of(s, found[i].t);
			rcu_read_unlock();
			if (!parent) {
				put_task_struct(found[i].t);
				put_pid(found[i].pid);
				continue;
			}
			adopted += mp3prof_adopt(s, parent, found[i].t,
						 found[i].pid, since);
		}
	} while (adopted && (only || (n == ARRAY_SIZE(found) &&
				      ++scans < MP3PROF_DISCOVER_SCANS)));

	if (only)
		return;
	/* Who is whose parent now. */
	list_for_each_entry(p, &s->list, list) {
		rcu_read_lock();
		t = pid_task(p->pid, PIDTYPE_TGID);
		parent = t ? mp3prof_parent_of(s, t) : p->parent;
		rcu_read_unlock();
		if (parent != p->parent && parent != p)
			mp3prof_link(p, parent);
	}
}

/* Under RCU: has the process been released (reaped)? */
static bool mp3prof_released(const struct mp3prof_proc *p)
{
	return !pid_has_task(p->pid, PIDTYPE_TGID);
}

/* Under RCU: is the process being reaped (or gone)? */
static bool mp3prof_reaping(const struct mp3prof_proc *p)
{
	struct task_struct *t = pid_task(p->pid, PIDTYPE_TGID);

	return !t || (READ_ONCE(t->exit_state) & EXIT_DEAD);
}

/**
 * mp3prof_ignores_sigchld() - Are @t's children reaped by the kernel?
 * @t: A process, or NULL.
 *
 * Return: whether @t ignores SIGCHLD (SIG_IGN or SA_NOCLDWAIT): its
 * children exiting now are released at once, and their usage never goes
 * to its children counters.
 */
bool mp3prof_ignores_sigchld(struct task_struct *t)
{
	struct sighand_struct *sighand;
	struct k_sigaction *ka;
	bool ignored = false;

	rcu_read_lock();
	sighand = t ? rcu_dereference(t->sighand) : NULL;
	if (sighand) {
		ka = &sighand->action[SIGCHLD - 1];
		ignored = READ_ONCE(ka->sa.sa_handler) == SIG_IGN ||
			  (READ_ONCE(ka->sa.sa_flags) & SA_NOCLDWAIT);
	}
	rcu_read_unlock();
	return ignored;
}

enum mp3prof_fold {
	MP3PROF_NOT_FOLDED,
	MP3PROF_FOLDED,
	MP3PROF_FOLD_MAYBE,
};

/*
 * Was @p, released, reaped by its parent with wait(), so that its usage
 * went to the parent's children counters?  Not if the parent ignored
 * SIGCHLD when @p exited: then the kernel released it at once.  The
 * parent's disposition is known at the samples; if it changed in between,
 * it depends on when @p exited (see mp3prof_fold_fits()).
 */
static enum mp3prof_fold mp3prof_folded(const struct mp3prof_proc *p)
{
	if (p->leader->exit_signal != SIGCHLD)
		return MP3PROF_FOLDED;
	if (p->parent->ign != p->parent->now_ign)
		return MP3PROF_FOLD_MAYBE;
	return p->parent->now_ign ? MP3PROF_NOT_FOLDED : MP3PROF_FOLDED;
}

/*
 * Did the parent's children counters grow by at least what @p did, beyond
 * what is already explained by other children?  Then @p was reaped into
 * them.  Faults decide (a reaped child's faults are final at its reaping;
 * its CPU time may still miss its last slice), CPU time only for a child
 * that did no fault.
 */
static bool mp3prof_fold_fits(const struct mp3prof_proc *p)
{
	const struct mp3prof_proc *parent = p->parent;
	struct mp3prof_counts avail, v = p->now_own;

	mp3prof_counts_add(&v, &p->now_kids);
	mp3prof_counts_diff(&avail, &parent->now_kids, &parent->kids,
			    &parent->pending);
	if (v.min_flt + v.maj_flt)
		return avail.min_flt + avail.maj_flt >= v.min_flt + v.maj_flt;
	return avail.cpu_ns >= v.cpu_ns / 2;
}

static void mp3prof_fold(struct mp3prof_proc *p)
{
	mp3prof_counts_add(&p->parent->pending, &p->now_own);
	mp3prof_counts_add(&p->parent->pending, &p->now_kids);
}

/*
 * Note which processes (all, or those of @tree) were released and how
 * they handle SIGCHLD, before their counters are read: which children had
 * been released is looked at before their parents' counters, which are
 * being reaped into.
 */
static void mp3prof_note_released(struct mp3prof_session *s, bool all, u32 tree)
{
	struct mp3prof_proc *p;

	rcu_read_lock();
	list_for_each_entry(p, &s->list, list) {
		if (!all && (p->tree != tree || p->state != MP3PROF_ACTIVE))
			continue;
		p->released = mp3prof_released(p);
		p->now_ign = mp3prof_ignores_sigchld(pid_task(p->pid, PIDTYPE_TGID));
	}
	rcu_read_unlock();
	smp_rmb();	/* released before the counters */
}

/**
 * mp3prof_fold_released() - Account reapings before a tree is removed
 * @s: The session, with @s->lock held.
 * @tree: The tree about to be removed between two samples.
 *
 * A process of @tree that its parent reaped since the last sample is in
 * the parent's children counters now, and its own last delta is still to
 * be reported: take its value out of the parent's growth, as the next
 * sample would have done (mp3prof_deltas()), so that it is not counted
 * twice.
 */
void mp3prof_fold_released(struct mp3prof_session *s, u32 tree)
{
	struct mp3prof_proc *p;
	enum mp3prof_fold fold;

	mp3prof_note_released(s, false, tree);
	list_for_each_entry(p, &s->list, list) {
		if (p->tree != tree || p->state != MP3PROF_ACTIVE ||
		    !p->released || !p->parent)
			continue;
		mp3prof_read_own(p, &p->now_own, &p->now_kids);
		fold = mp3prof_folded(p);
		if (fold == MP3PROF_FOLD_MAYBE) {
			mp3prof_read_own(p->parent, &p->parent->now_own,
					 &p->parent->now_kids);
			if (!mp3prof_fold_fits(p))
				fold = MP3PROF_NOT_FOLDED;
		}
		if (fold != MP3PROF_NOT_FOLDED)
			mp3prof_fold(p);
	}
}

/*
 * Read every process and decide which are final.  For a whole-tree
 * session the order matters: which processes had been released is looked
 * at before their parent's counters are read, which are being reaped
 * after.  A process whose parent is here is final when it is released
 * (its parent's counters have it then), any other when all its threads
 * are done.
 */
static void mp3prof_read_all(struct mp3prof_session *s)
{
	bool tree = mp3prof_tree(s), done;
	struct mp3prof_proc *p, *c;

	if (tree)
		mp3prof_note_released(s, true, 0);
	list_for_each_entry(p, &s->list, list) {
		done = mp3prof_read_own(p, &p->now_own, &p->now_kids);
		if (!tree)
			p->now_kids = (struct mp3prof_counts){};
		p->final = p->parent ? p->released : done;
		p->defer = false;
		p->dropped = false;
		p->doomed = false;
		cond_resched();
	}
	if (!tree)
		return;
	smp_rmb();	/* the counters before being reaped */
	rcu_read_lock();
	list_for_each_entry(p, &s->list, list) {
		if (p->final)
			continue;
		list_for_each_entry(c, &p->children, sibling)
			if (!c->released && mp3prof_reaping(c))
				p->defer = true;
	}
	rcu_read_unlock();
}

/* What each process did since the previous sample. */
static void mp3prof_deltas(struct mp3prof_session *s)
{
	struct mp3prof_counts own, kids;
	struct mp3prof_proc *p;

	/*
	 * A child reaped by its parent here moved into the parent's counters:
	 * first those that surely did, then those that did if the parent's
	 * counters grew enough for them too.
	 */
	list_for_each_entry(p, &s->list, list)
		if (p->final && p->parent && mp3prof_folded(p) == MP3PROF_FOLDED)
			mp3prof_fold(p);
	list_for_each_entry(p, &s->list, list)
		if (p->final && p->parent &&
		    mp3prof_folded(p) == MP3PROF_FOLD_MAYBE && mp3prof_fold_fits(p))
			mp3prof_fold(p);

	list_for_each_entry(p, &s->list, list) {
		p->ign = p->now_ign;	/* for the next sample's mp3prof_folded() */
		if (p->state != MP3PROF_ACTIVE)
			continue;
		mp3prof_counts_diff(&own, &p->now_own, &p->own, NULL);
		p->own = p->now_own;
		if (!p->defer) {
			mp3prof_counts_diff(&kids, &p->now_kids, &p->kids, &p->pending);
			mp3prof_counts_add(&own, &kids);
			p->kids = p->now_kids;
			p->pending = (struct mp3prof_counts){};
		}
		p->delta = own;
		if (p->final) {
			p->rec_flags |= MP3PROF_PROC_EXITED;
		} else if (!mp3prof_exec_check(p)) {
			/* The interval may hold the new program's work. */
			p->delta = (struct mp3prof_counts){};
			p->rec_flags |= MP3PROF_PROC_DROPPED;
			p->dropped = true;
		}
	}
}

static void mp3prof_emit_proc(struct mp3prof_session *s,
			      struct mp3prof_proc *p, u64 nr)
{
	struct mp3prof_proc_record *r = mp3prof_ring_slot(s->ring, nr);

	*r = (struct mp3prof_proc_record) {
		.seq	 = MP3PROF_SEQ_BUSY,
		.type	 = MP3PROF_RECORD_PROC,
		.flags	 = p->rec_flags,
		.pid	 = pid_nr_ns(p->pid, s->pid_ns),
		.ppid	 = p->parent ? pid_nr_ns(p->parent->pid, s->pid_ns) : 0,
		.min_flt = p->delta.min_flt,
		.maj_flt = p->delta.maj_flt,
		.cpu_ns	 = p->delta.cpu_ns,
	};
	/* Pairs with the reader's acquire of seq: contents before seq. */
	smp_store_release(&r->seq, nr);
}

/* Write the sample and, per process, its records; wake the readers. */
static void mp3prof_emit(struct mp3prof_session *s, u64 time_ns,
			 unsigned long jif, u64 start)
{
	bool per_proc = s->flags & MP3PROF_SESSION_PER_PROCESS;
	struct mp3prof_ring *ring = s->ring;
	u64 head = READ_ONCE(ring->hdr->head), nr = head + 1, work_ns;
	struct mp3prof_sample *rec;
	struct mp3prof_counts sum = s->carry;
	u32 nr_procs = s->carry_nr, nr_exited = 0;
	struct list_head *lists[] = { &s->gone, &s->list };
	struct mp3prof_proc *p;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(lists); i++) {
		list_for_each_entry(p, lists[i], list) {
			if (p->state == MP3PROF_EXCLUDED)
				continue;
			mp3prof_counts_add(&sum, &p->delta);
			nr_procs++;
			nr_exited += !!(p->rec_flags & MP3PROF_PROC_EXITED);
			if (per_proc)
				mp3prof_emit_proc(s, p, nr++);
			p->rec_flags = 0;
		}
	}
	s->carry = (struct mp3prof_counts){};
	s->carry_nr = 0;
	if (!nr_procs)
		return;

	work_ns = ktime_get_ns() - start;
	rec = mp3prof_ring_slot(ring, head);
	*rec = (struct mp3prof_sample) {
		.seq		= MP3PROF_SEQ_BUSY,
		.type		= MP3PROF_RECORD_SAMPLE,
		.flags		= s->untracked ? MP3PROF_SAMPLE_UNTRACKED : 0,
		.nr_procs	= nr_procs,
		.jiffies	= jif,
		.time_ns	= time_ns,
		.min_flt	= sum.min_flt,
		.maj_flt	= sum.maj_flt,
		.cpu_ns		= sum.cpu_ns,
		.nr_exited	= nr_exited,
		.work_ns	= min_t(u64, work_ns, U32_MAX),
	};
	s->untracked = false;
	if (s->is_default)
		mp3prof_classic_publish(jif, &sum);
	/* Pairs with the reader's acquire of seq: contents before seq. */
	smp_store_release(&rec->seq, head);
	mp3prof_ring_commit(ring, nr, work_ns);
	/* Pairs with mp3prof_head(): read() returns heads of records written. */
	smp_store_release(&s->head, nr);
	wake_up_interruptible_poll(&s->wait, EPOLLIN | EPOLLRDNORM);
}

/* Mark @p's children that are only kept for @p's sake. */
static void mp3prof_doom_excluded(struct mp3prof_proc *p)
{
	struct mp3prof_proc *c;

	list_for_each_entry(c, &p->children, sibling) {
		if (c->state == MP3PROF_EXCLUDED && !c->doomed) {
			c->doomed = true;
			mp3prof_doom_excluded(c);
		}
	}
}

/* Free what the sample accounted for the last time. */
static void mp3prof_reap(struct mp3prof_session *s)
{
	struct mp3prof_proc *p, *tmp;

	list_for_each_entry_safe(p, tmp, &s->gone, list)
		mp3prof_proc_free(s, p);

	list_for_each_entry(p, &s->list, list) {
		if (p->dropped && p->parent)
			/* Kept until reaped, to take it out of its parent. */
			p->state = MP3PROF_EXCLUDED;
		else if (p->final || p->dropped ||
			 (p->state == MP3PROF_EXCLUDED && !p->parent))
			p->doomed = true;
	}
	list_for_each_entry(p, &s->list, list)
		if (p->doomed)
			mp3prof_doom_excluded(p);
	list_for_each_entry_safe(p, tmp, &s->list, list)
		if (p->doomed)
			mp3prof_proc_free(s, p);
}

static void mp3prof_take_sample(struct mp3prof_session *s)
{
	u64 start = ktime_get_ns(), time_ns;
	unsigned long jif;

	lockdep_assert_held(&s->lock);
	if (mp3prof_tree(s)) {
		/* New descendants are the owner's to pay for, not the worker's. */
		struct mem_cgroup *old = set_active_memcg(s->memcg);

		mp3prof_discover(s, NULL);
		set_active_memcg(old);
	}
	/* The time stamps say when the counters were read. */
	time_ns = ktime_get_ns();
	jif = jiffies;
	mp3prof_read_all(s);
	mp3prof_deltas(s);
	mp3prof_emit(s, time_ns, jif, start);
	mp3prof_reap(s);
}

/*
 * Sample k of a run is due at start + k * period.  Deriving every deadline
 * from k instead of adding the period to the last one keeps the long-run
 * rate exact.
 */
static void mp3prof_arm(struct mp3prof_session *s)
{
	ktime_t now = ktime_get(), due;

	s->slot++;
	due = ktime_add_ns(s->start, s->slot * s->period_ns);
	if (ktime_after(now, ktime_add_ns(due, s->period_ns))) {
		/*
		 * A whole period late (a stalled system): skip the missed
		 * slots but keep the grid, so that no drift accumulates.
		 */
		s->slot = div64_u64(ktime_sub(now, s->start), s->period_ns) + 1;
		due = ktime_add_ns(s->start, s->slot * s->period_ns);
	}
	hrtimer_start(&s->timer, due, HRTIMER_MODE_ABS);
}

static enum hrtimer_restart mp3prof_timer_fn(struct hrtimer *timer)
{
	struct mp3prof_session *s = container_of(timer, struct mp3prof_session,
						 timer);

	/* Sampling sleeps and takes locks: it runs in process context. */
	queue_work(system_unbound_wq, &s->work);
	return HRTIMER_NORESTART;
}

static void mp3prof_work_fn(struct work_struct *work)
{
	struct mp3prof_session *s = container_of(work, struct mp3prof_session,
						 work);

	mutex_lock(&s->lock);
	if (s->active && !s->dying) {
		mp3prof_take_sample(s);
		if (s->nr_procs)
			mp3prof_arm(s);
		else
			s->active = false;
	}
	mutex_unlock(&s->lock);
}

/**
 * mp3prof_sampling_init() - Prepare a session's sampling
 * @s: The session.
 */
void mp3prof_sampling_init(struct mp3prof_session *s)
{
	hrtimer_init(&s->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	s->timer.function = mp3prof_timer_fn;
	INIT_WORK(&s->work, mp3prof_work_fn);
}

/**
 * mp3prof_sampling_start() - Start sampling unless it runs
 * @s: The session, with @s->lock held, after a process was added.
 */
void mp3prof_sampling_start(struct mp3prof_session *s)
{
	lockdep_assert_held(&s->lock);
	if (s->active || s->dying)
		return;
	s->active = true;
	s->start = ktime_get();
	s->slot = 0;
	mp3prof_arm(s);
}

/**
 * mp3prof_sampling_stop() - Stop sampling for good
 * @s: The session, which is ending.
 */
void mp3prof_sampling_stop(struct mp3prof_session *s)
{
	mutex_lock(&s->lock);
	s->dying = true;
	mutex_unlock(&s->lock);
	/* The work sees ->dying and does not arm the timer again. */
	hrtimer_cancel(&s->timer);
	cancel_work_sync(&s->work);
}
