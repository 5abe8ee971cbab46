// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof - per-process page fault and CPU time profiler
 *
 * Processes are registered through /proc/mp3prof/status (control.c).  While
 * at least one is registered, a delayed work samples their fault and CPU
 * time counters at a fixed rate (sample.c) and appends the sums to a ring
 * that user space maps read-only through /dev/mp3prof (ring.c).
 *
 * This file holds the module parameters and the registry.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pid.h>
#include <linux/sched/task.h>
#include <linux/slab.h>

#include "mp3prof.h"

#define MP3PROF_HASH_BITS	10
#define MP3PROF_MAX_DATA_PAGES	65536

static int mp3prof_set_rate(const char *val, const struct kernel_param *kp)
{
	unsigned int rate;
	int ret;

	ret = kstrtouint(val, 0, &rate);
	if (ret)
		return ret;
	/* The work is driven by jiffies timers: more than HZ is not possible. */
	if (rate < 1 || rate > HZ)
		return -EINVAL;
	*(unsigned int *)kp->arg = rate;
	return 0;
}

static const struct kernel_param_ops mp3prof_rate_ops = {
	.set = mp3prof_set_rate,
	.get = param_get_uint,
};

unsigned int mp3prof_rate = 20;
module_param_cb(rate, &mp3prof_rate_ops, &mp3prof_rate, 0444);
MODULE_PARM_DESC(rate, "Samples per second, 1 to HZ (default 20)");

static unsigned int buffer_pages = 128;
module_param(buffer_pages, uint, 0444);
MODULE_PARM_DESC(buffer_pages,
		 "Size of the sample ring in pages, header excluded (default 128)");

static unsigned int max_procs = 65536;
module_param(max_procs, uint, 0644);
MODULE_PARM_DESC(max_procs, "Most processes registered at once (default 65536)");

/* Protects the registry and the sampling state in sample.c. */
DEFINE_MUTEX(mp3prof_lock);
LIST_HEAD(mp3prof_procs);
static DEFINE_HASHTABLE(mp3prof_hash, MP3PROF_HASH_BITS);
static unsigned int mp3prof_nr_procs;

static struct mp3prof_proc *mp3prof_find(struct pid *pid)
{
	struct mp3prof_proc *p;

	lockdep_assert_held(&mp3prof_lock);
	hash_for_each_possible(mp3prof_hash, p, hnode, (unsigned long)pid)
		if (p->pid == pid)
			return p;
	return NULL;
}

/**
 * mp3prof_register() - Add a process to the registry
 * @pid: Thread group id of the process.
 * @leader: Its group leader.
 *
 * On success the registry owns the caller's references to @pid and @leader.
 *
 * Return: 0, -EEXIST if the process is registered already, -ENOSPC if
 * max_procs processes are registered, or -ENOMEM.
 */
int mp3prof_register(struct pid *pid, struct task_struct *leader)
{
	struct mp3prof_proc *p;
	int ret = 0;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	p->leader = leader;

	mutex_lock(&mp3prof_lock);
	if (mp3prof_find(pid)) {
		ret = -EEXIST;
	} else if (mp3prof_nr_procs >= READ_ONCE(max_procs)) {
		ret = -ENOSPC;
	} else {
		mp3prof_read_counts(p, &p->base);
		p->last = p->base;
		hash_add(mp3prof_hash, &p->hnode, (unsigned long)pid);
		list_add_tail(&p->node, &mp3prof_procs);
		mp3prof_nr_procs++;
		mp3prof_sampling_start();
	}
	mutex_unlock(&mp3prof_lock);

	if (ret)
		kfree(p);
	return ret;
}

/**
 * mp3prof_unregister() - Remove a process from the registry
 * @pid: Thread group id of the process.
 *
 * What the process did since the last sample goes into the next sample, so
 * the samples cover exactly the time the process was registered.
 *
 * Return: 0, or -ENOENT if the process is not registered.
 */
int mp3prof_unregister(struct pid *pid)
{
	struct mp3prof_proc *p;

	mutex_lock(&mp3prof_lock);
	p = mp3prof_find(pid);
	if (!p) {
		mutex_unlock(&mp3prof_lock);
		return -ENOENT;
	}
	mp3prof_sampling_carry(p);
	mp3prof_remove(p);
	mutex_unlock(&mp3prof_lock);
	return 0;
}

/**
 * mp3prof_remove() - Unlink a process from the registry and free it
 * @p: The process.
 */
void mp3prof_remove(struct mp3prof_proc *p)
{
	lockdep_assert_held(&mp3prof_lock);
	hash_del(&p->hnode);
	list_del(&p->node);
	mp3prof_nr_procs--;
	put_task_struct(p->leader);
	put_pid(p->pid);
	kfree(p);
}

static int __init mp3prof_init(void)
{
	int ret;

	if (!buffer_pages || buffer_pages > MP3PROF_MAX_DATA_PAGES) {
		pr_err("buffer_pages must be 1 to %u\n", MP3PROF_MAX_DATA_PAGES);
		return -EINVAL;
	}

	ret = mp3prof_ring_init(buffer_pages, mp3prof_rate);
	if (ret)
		return ret;
	ret = mp3prof_control_init();
	if (ret)
		mp3prof_ring_exit();
	return ret;
}

static void __exit mp3prof_exit(void)
{
	struct mp3prof_proc *p, *tmp;

	/* No new registrations, and no mappings: the module is unused. */
	mp3prof_control_exit();
	mp3prof_sampling_exit();

	mutex_lock(&mp3prof_lock);
	list_for_each_entry_safe(p, tmp, &mp3prof_procs, node)
		mp3prof_remove(p);
	mutex_unlock(&mp3prof_lock);
	mp3prof_ring_exit();
}

module_init(mp3prof_init);
module_exit(mp3prof_exit);

MODULE_DESCRIPTION("Per-process page fault and CPU time profiler");
MODULE_LICENSE("GPL");
