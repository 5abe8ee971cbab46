// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof sampling: a delayed work that runs at a fixed rate while at least
 * one process is registered and sums the registered processes' counters.
 */
#include <linux/jiffies.h>
#include <linux/math64.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seqlock.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include "mp3prof.h"

static void mp3prof_sample_work(struct work_struct *work);
static DECLARE_DELAYED_WORK(mp3prof_work, mp3prof_sample_work);

/* All below are protected by mp3prof_lock. */
static bool mp3prof_active;
static unsigned long mp3prof_grid_start;
static u64 mp3prof_grid_k;
static struct mp3prof_counts mp3prof_carry;
static unsigned int mp3prof_carry_nr;

/*
 * A thread's exit_state is set at the end of do_exit(), after exit_mm() and
 * the rest of the teardown, whose CPU time is the process's too: only when
 * every thread has one are the counters final.  signal->live drops to zero
 * too early for that.
 */
static bool mp3prof_sum_threads(struct signal_struct *sig,
				struct mp3prof_counts *c)
{
	struct task_struct *t;
	bool alive = false;

	c->min_flt = sig->min_flt;
	c->maj_flt = sig->maj_flt;
	c->cpu_ns = sig->sum_sched_runtime;
	__for_each_thread(sig, t) {
		c->min_flt += READ_ONCE(t->min_flt);
		c->maj_flt += READ_ONCE(t->maj_flt);
		c->cpu_ns += READ_ONCE(t->se.sum_exec_runtime);
		alive |= !READ_ONCE(t->exit_state);
	}
	return alive;
}

/**
 * mp3prof_read_counts() - Read the cumulative counters of a process
 * @p: The process.
 * @c: Filled with the counters.
 *
 * Sums the live threads and what exited threads left in signal_struct, the
 * way thread_group_cputime() and /proc/PID/stat do, without writing to any
 * task.  CPU time is sum_exec_runtime: exact to the last tick or context
 * switch of each thread.  The first pass is lockless; only if a thread
 * exited meanwhile, moving its counters into signal_struct, the second pass
 * takes stats_lock.  The 64-bit loads are why the driver depends on 64BIT.
 *
 * Return: false once every thread of the process has finished exiting; the
 * counters are final then.
 */
bool mp3prof_read_counts(const struct mp3prof_proc *p, struct mp3prof_counts *c)
{
	struct signal_struct *sig = p->leader->signal;
	unsigned long flags;
	unsigned int seq;
	bool alive;

	rcu_read_lock();
	seq = read_seqbegin(&sig->stats_lock);
	alive = mp3prof_sum_threads(sig, c);
	if (read_seqretry(&sig->stats_lock, seq)) {
		read_seqlock_excl_irqsave(&sig->stats_lock, flags);
		alive = mp3prof_sum_threads(sig, c);
		read_sequnlock_excl_irqrestore(&sig->stats_lock, flags);
	}
	rcu_read_unlock();

	return alive;
}

/*
 * Sample k is due at grid_start + k / rate seconds.  Deriving every deadline
 * from k instead of adding a rounded period each time keeps the long-run
 * rate exact: at HZ=250 and 20 Hz the delays alternate 12 and 13 jiffies.
 */
static unsigned long mp3prof_next_delay(void)
{
	unsigned long now = jiffies, due;

	due = mp3prof_grid_start + div_u64(mp3prof_grid_k * HZ, mp3prof_rate);
	if (time_after_eq(now, due + HZ / mp3prof_rate)) {
		/*
		 * A whole period late (a stalled system): skip the missed
		 * slots but keep the grid, so that no drift accumulates.
		 */
		mp3prof_grid_k = div_u64((u64)(now - mp3prof_grid_start) *
					 mp3prof_rate, HZ) + 1;
		due = mp3prof_grid_start +
		      div_u64(mp3prof_grid_k * HZ, mp3prof_rate);
	}
	return time_after(due, now) ? due - now : 0;
}

/**
 * mp3prof_sampling_start() - Start sampling unless it is running
 *
 * Called with mp3prof_lock held after a registration.
 */
void mp3prof_sampling_start(void)
{
	lockdep_assert_held(&mp3prof_lock);
	if (mp3prof_active)
		return;
	mp3prof_active = true;
	mp3prof_grid_start = jiffies;
	mp3prof_grid_k = 1;
	schedule_delayed_work(&mp3prof_work, mp3prof_next_delay());
}

/* Add what @p did since the last sample to @sum; @now becomes @p->last. */
static void mp3prof_add_delta(struct mp3prof_counts *sum, struct mp3prof_proc *p,
			      const struct mp3prof_counts *now)
{
	sum->min_flt += now->min_flt - p->last.min_flt;
	sum->maj_flt += now->maj_flt - p->last.maj_flt;
	sum->cpu_ns += now->cpu_ns - p->last.cpu_ns;
	p->last = *now;
}

/**
 * mp3prof_sampling_carry() - Account the last interval of a process being
 * unregistered in the next sample
 * @p: The process.
 *
 * Called with mp3prof_lock held.
 */
void mp3prof_sampling_carry(struct mp3prof_proc *p)
{
	struct mp3prof_counts now;

	lockdep_assert_held(&mp3prof_lock);
	mp3prof_read_counts(p, &now);
	mp3prof_add_delta(&mp3prof_carry, p, &now);
	mp3prof_carry_nr++;
}

/**
 * mp3prof_sampling_exit() - Stop sampling for good
 *
 * Called on module unload, once no registration can happen any more.
 */
void mp3prof_sampling_exit(void)
{
	cancel_delayed_work_sync(&mp3prof_work);
}

static void mp3prof_sample_work(struct work_struct *work)
{
	struct mp3prof_sample s = {};
	struct mp3prof_proc *p, *tmp;
	struct mp3prof_counts now, sum;
	unsigned long start_jiffies = jiffies;
	u64 start = ktime_get_ns();

	mutex_lock(&mp3prof_lock);
	sum = mp3prof_carry;
	s.nr_procs = mp3prof_carry_nr;
	mp3prof_carry = (struct mp3prof_counts){};
	mp3prof_carry_nr = 0;

	list_for_each_entry_safe(p, tmp, &mp3prof_procs, node) {
		bool alive = mp3prof_read_counts(p, &now);

		mp3prof_add_delta(&sum, p, &now);
		s.nr_procs++;
		if (!alive) {
			s.nr_exited++;
			mp3prof_remove(p);
		}
		cond_resched();
	}

	if (s.nr_procs) {
		s.min_flt = sum.min_flt;
		s.maj_flt = sum.maj_flt;
		s.cpu_ns = sum.cpu_ns;
		s.jiffies = start_jiffies;
		s.time_ns = start;
		s.work_ns = ktime_get_ns() - start;
		mp3prof_ring_publish(&s);
	}

	if (list_empty(&mp3prof_procs)) {
		mp3prof_active = false;
	} else {
		mp3prof_grid_k++;
		schedule_delayed_work(&mp3prof_work, mp3prof_next_delay());
	}
	mutex_unlock(&mp3prof_lock);
}
