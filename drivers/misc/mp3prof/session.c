// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof sessions: their configuration and the processes they sample.
 *
 * A session is the state of one open file of /dev/mp3prof, in the manner
 * of kcov: MP3PROF_IOC_SESSION configures it and allocates its ring, which
 * is then mapped; MP3PROF_IOC_ADD and MP3PROF_IOC_REMOVE change the set of
 * processes, and sampling runs while the set is not empty.
 */
#include <linux/cred.h>
#include <linux/log2.h>
#include <linux/memcontrol.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rbtree.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>

#include "mp3prof.h"

#define MP3PROF_DEFAULT_PERIOD_NS	(50 * NSEC_PER_MSEC)
#define MP3PROF_DEFAULT_PAGES		128
#define MP3PROF_DEFAULT_MAX_PROCS	1024

static int mp3prof_pid_cmp(const void *key, const struct rb_node *n)
{
	unsigned long a = (unsigned long)key;
	unsigned long b = (unsigned long)rb_entry(n, struct mp3prof_proc, node)->pid;

	return a < b ? -1 : a > b;
}

/* rb_add() order of struct mp3prof_proc: by the address of its pid. */
bool mp3prof_pid_less(struct rb_node *a, const struct rb_node *b)
{
	return mp3prof_pid_cmp(rb_entry(a, struct mp3prof_proc, node)->pid, b) < 0;
}

/**
 * mp3prof_find() - Look a process up in a session
 * @s: The session, with @s->lock held.
 * @pid: The process's thread group id.
 *
 * Return: the process, or NULL.
 */
struct mp3prof_proc *mp3prof_find(struct mp3prof_session *s, struct pid *pid)
{
	struct rb_node *n = rb_find(pid, &s->procs, mp3prof_pid_cmp);

	return n ? rb_entry(n, struct mp3prof_proc, node) : NULL;
}

/**
 * mp3prof_session_alloc() - Allocate the state of an open file
 *
 * Return: the new session, not configured, or NULL.
 */
struct mp3prof_session *mp3prof_session_alloc(void)
{
	struct mp3prof_session *s;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return NULL;
	mutex_init(&s->lock);
	init_waitqueue_head(&s->wait);
	s->procs = RB_ROOT;
	INIT_LIST_HEAD(&s->list);
	INIT_LIST_HEAD(&s->gone);
	mp3prof_sampling_init(s);
	return s;
}

/**
 * mp3prof_session_free() - End a session and free it
 * @s: The session.
 *
 * Its ring is freed when its last mapping goes.
 */
void mp3prof_session_free(struct mp3prof_session *s)
{
	struct mp3prof_proc *p, *tmp;

	mp3prof_sampling_stop(s);
	mutex_lock(&s->lock);
	list_for_each_entry_safe(p, tmp, &s->gone, list)
		mp3prof_proc_free(s, p);
	list_for_each_entry_safe(p, tmp, &s->list, list)
		mp3prof_proc_free(s, p);
	mutex_unlock(&s->lock);
	if (s->ring)
		mp3prof_ring_put(s->ring);
	if (s->pid_ns)
		put_pid_ns(s->pid_ns);
	mem_cgroup_put(s->memcg);
	mutex_destroy(&s->lock);
	kfree(s);
}

/**
 * mp3prof_session_configure() - MP3PROF_IOC_SESSION
 * @s: The file's session.
 * @cfg: The configuration, its size already checked.
 * @global_max: The module parameter max_procs.
 *
 * The caller becomes the session's owner: its pid namespace numbers the
 * records, its memory cgroup pays for the session.
 *
 * Return: 0, -EINVAL for a bad configuration, -EBUSY once the ring was
 * mapped or a process added, or -ENOMEM.
 */
int mp3prof_session_configure(struct mp3prof_session *s,
			      const struct mp3prof_session_config *cfg,
			      unsigned int global_max)
{
	u64 period = cfg->period_ns ?: MP3PROF_DEFAULT_PERIOD_NS;
	unsigned int pages = cfg->ring_pages ?: MP3PROF_DEFAULT_PAGES;
	bool per_proc = cfg->flags & MP3PROF_SESSION_PER_PROCESS;
	unsigned int max = cfg->max_procs;
	struct mp3prof_ring *ring;
	unsigned long nr;
	u32 hdr_flags;
	int ret = 0;

	if (cfg->flags & ~(MP3PROF_SESSION_PER_PROCESS | MP3PROF_SESSION_TREE))
		return -EINVAL;
	if (period < MP3PROF_PERIOD_MIN_NS || period > MP3PROF_PERIOD_MAX_NS)
		return -EINVAL;
	if (pages > MP3PROF_MAX_DATA_PAGES || max > global_max)
		return -EINVAL;
	if (!max)
		max = min(MP3PROF_DEFAULT_MAX_PROCS, global_max);
	/* A sample and its records must fit in the ring, with room to read. */
	nr = rounddown_pow_of_two((unsigned long)pages * PAGE_SIZE /
				  sizeof(struct mp3prof_sample));
	if (per_proc && max >= nr / 2) {
		if (cfg->max_procs)
			return -EINVAL;
		max = nr / 2 - 1;
	}
	if (!max)
		return -EINVAL;

	hdr_flags = MP3PROF_HDR_SESSION;
	if (per_proc)
		hdr_flags |= MP3PROF_HDR_PER_PROCESS;
	if (cfg->flags & MP3PROF_SESSION_TREE)
		hdr_flags |= MP3PROF_HDR_TREE;

	mutex_lock(&s->lock);
	if (s->mapped || s->mapped_default || s->nr_procs || s->active) {
		ret = -EBUSY;
		goto out;
	}
	ring = mp3prof_ring_alloc(pages, period, hdr_flags, max, true);
	if (IS_ERR(ring)) {
		ret = PTR_ERR(ring);
		goto out;
	}
	if (s->ring)
		mp3prof_ring_put(s->ring);
	s->ring = ring;
	s->flags = cfg->flags;
	s->period_ns = period;
	s->max_procs = max;
	s->seen = 0;
	/* Pairs with mp3prof_head(): the new ring has no record yet. */
	smp_store_release(&s->head, 0);
	if (!s->is_session) {
		s->pid_ns = get_pid_ns(task_active_pid_ns(current));
		s->memcg = get_mem_cgroup_from_mm(current->mm);
		/*
		 * Pairs with mp3prof_follows(): read() and poll() follow this
		 * session's ring from now on.
		 */
		smp_store_release(&s->is_session, true);
	}
out:
	mutex_unlock(&s->lock);
	return ret;
}

/**
 * mp3prof_session_init_default() - Set the default session up
 * @s: A new session.
 * @period_ns: Sampling period (module parameter rate).
 * @data_pages: Ring size (module parameter buffer_pages).
 * @max_procs: Recorded in the header; the global cap applies.
 *
 * Return: 0 or -ENOMEM.
 */
int mp3prof_session_init_default(struct mp3prof_session *s, u64 period_ns,
				 unsigned int data_pages, unsigned int max_procs)
{
	struct mp3prof_ring *ring;

	ring = mp3prof_ring_alloc(data_pages, period_ns, 0, max_procs, false);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	s->ring = ring;
	s->period_ns = period_ns;
	s->max_procs = UINT_MAX;
	s->is_default = true;
	s->is_session = true;
	return 0;
}

/**
 * mp3prof_add() - Add a process to a session
 * @s: The session.
 * @pid: Thread group id of the process; the session takes its own
 *	 reference.
 * @cred: Credentials to check the permission with.
 *
 * Return: 0; -ESRCH if @pid names no process (or a thread that is not
 * its group leader, or one the session's owner cannot see), or it is
 * exiting; -EPERM if @cred may not monitor it; -EEXIST if the session
 * samples it already; -ENOSPC if the session's or the global process
 * limit is reached; -ENOMEM; -EINTR.
 */
int mp3prof_add(struct mp3prof_session *s, struct pid *pid,
		const struct cred *cred)
{
	struct task_struct *leader;
	struct mp3prof_proc *p;
	u64 exec_id;
	int ret;

	leader = get_pid_task(pid, PIDTYPE_TGID);
	if (!leader)
		return -ESRCH;
	/* As perf_event_open(): no exec may change the credentials checked. */
	ret = down_read_interruptible(&leader->signal->exec_update_lock);
	if (ret)
		goto put_task;
	ret = mp3prof_may_monitor(cred, leader);
	exec_id = leader->self_exec_id;
	up_read(&leader->signal->exec_update_lock);
	if (ret)
		goto put_task;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p) {
		ret = -ENOMEM;
		goto put_task;
	}
	INIT_LIST_HEAD(&p->children);
	INIT_LIST_HEAD(&p->sibling);
	p->leader = leader;
	p->exec_id = exec_id;
	p->state = MP3PROF_ACTIVE;
	p->added = true;

	mutex_lock(&s->lock);
	if (!atomic_read(&leader->signal->live) ||
	    (s->pid_ns && !pid_nr_ns(pid, s->pid_ns))) {
		ret = -ESRCH;
	} else if (mp3prof_find(s, pid)) {
		ret = -EEXIST;
	} else if (s->nr_procs >= s->max_procs || !mp3prof_charge_proc()) {
		ret = -ENOSPC;
	} else {
		p->pid = get_pid(pid);
		p->cred = get_cred(cred);
		mp3prof_read_own(p, &p->own, &p->kids);
		if (!(s->flags & MP3PROF_SESSION_TREE))
			p->kids = (struct mp3prof_counts){};
		p->base = p->own;
		p->ign = mp3prof_ignores_sigchld(leader);
		p->tree = s->next_tree++;
		rb_add(&p->node, &s->procs, mp3prof_pid_less);
		list_add_tail(&p->list, &s->list);
		s->nr_procs++;
		if (s->flags & MP3PROF_SESSION_TREE)
			mp3prof_discover(s, p);
		mp3prof_sampling_start(s);
	}
	mutex_unlock(&s->lock);
	if (!ret)
		return 0;
	kfree(p);
put_task:
	put_task_struct(leader);
	return ret;
}

/*
 * Stop sampling @p; what it did since the last sample is due in the next
 * sample (in a per-process session with its own record, so it counts
 * against the process limits until then).
 */
static void mp3prof_retire(struct mp3prof_session *s, struct mp3prof_proc *p)
{
	struct mp3prof_counts own, kids, d;

	mp3prof_read_own(p, &own, &kids);
	mp3prof_counts_diff(&p->delta, &own, &p->own, NULL);
	if (s->flags & MP3PROF_SESSION_TREE) {
		mp3prof_counts_diff(&d, &kids, &p->kids, &p->pending);
		mp3prof_counts_add(&p->delta, &d);
	}
	if (!(s->flags & MP3PROF_SESSION_PER_PROCESS)) {
		/* Only the sum is reported: the process can go now. */
		mp3prof_counts_add(&s->carry, &p->delta);
		s->carry_nr++;
		mp3prof_proc_free(s, p);
		return;
	}
	p->own = own;
	p->rec_flags |= MP3PROF_PROC_REMOVED;
	p->state = MP3PROF_GONE;
	rb_erase(&p->node, &s->procs);
	RB_CLEAR_NODE(&p->node);
	list_move_tail(&p->list, &s->gone);
}

/**
 * mp3prof_remove() - Remove an added process from a session
 * @s: The session.
 * @pid: Thread group id of the process.
 *
 * In a whole-tree session its descendants go with it, unless it is itself
 * a descendant of another added process: then it stays, as that.  What
 * the processes did since the last sample goes into the next sample, so
 * the samples cover exactly the time they were in the session.
 *
 * Return: 0, -ENOENT if the session does not sample the process, or
 * -EINVAL if it samples it only as a descendant of an added process.
 */
int mp3prof_remove(struct mp3prof_session *s, struct pid *pid)
{
	struct mp3prof_proc *p, *q, *tmp, *c, *ctmp;
	u32 tree;
	int ret = 0;

	mutex_lock(&s->lock);
	p = mp3prof_find(s, pid);
	if (!p || p->state != MP3PROF_ACTIVE) {
		ret = -ENOENT;
	} else if (!p->added) {
		ret = -EINVAL;
	} else if (p->parent) {
		tree = p->tree;
		p->added = false;
		list_for_each_entry(q, &s->list, list)
			if (q->tree == tree)
				q->tree = p->parent->tree;
	} else {
		tree = p->tree;
		if (s->flags & MP3PROF_SESSION_TREE)
			mp3prof_fold_released(s, tree);
		list_for_each_entry_safe(q, tmp, &s->list, list) {
			if (q->tree != tree)
				continue;
			/* Whatever stays in the session has no parent here. */
			list_for_each_entry_safe(c, ctmp, &q->children, sibling) {
				list_del_init(&c->sibling);
				c->parent = NULL;
			}
			if (q->parent) {
				list_del_init(&q->sibling);
				q->parent = NULL;
			}
			if (q->state == MP3PROF_EXCLUDED)
				mp3prof_proc_free(s, q);
			else
				mp3prof_retire(s, q);
		}
	}
	mutex_unlock(&s->lock);
	return ret;
}

/**
 * mp3prof_proc_free() - Forget a process
 * @s: Its session, with @s->lock held.
 * @p: The process.
 */
void mp3prof_proc_free(struct mp3prof_session *s, struct mp3prof_proc *p)
{
	struct mp3prof_proc *c, *tmp;

	lockdep_assert_held(&s->lock);
	list_for_each_entry_safe(c, tmp, &p->children, sibling) {
		list_del_init(&c->sibling);
		c->parent = NULL;
	}
	if (p->parent)
		list_del(&p->sibling);
	if (!RB_EMPTY_NODE(&p->node))
		rb_erase(&p->node, &s->procs);
	list_del(&p->list);
	s->nr_procs--;
	mp3prof_uncharge_proc();
	put_cred(p->cred);
	put_task_struct(p->leader);
	put_pid(p->pid);
	kfree(p);
}
