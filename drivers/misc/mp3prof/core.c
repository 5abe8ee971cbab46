// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof - per-process page fault and CPU time profiler
 *
 * Every open file of /dev/mp3prof may become a profiling session with its
 * own processes, rate and ring (session.c).  A session's sampling work
 * reads the fault and CPU time counters of its processes on a fixed grid
 * (sample.c) and appends the sums, and optionally one record per process,
 * to a ring that user space maps read-only (ring.c).  Permissions follow
 * perf_event_open() (perm.c).  With CONFIG_MP3PROF_PROCFS the course's
 * /proc/mp3prof/status feeds a default session (procfs.c), whose ring is
 * what a file that never became a session maps.
 *
 * This file holds the module parameters, the device and its file
 * operations.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/uaccess.h>

#include "mp3prof.h"

#define MP3PROF_MAX_RATE	1000

static int mp3prof_set_rate(const char *val, const struct kernel_param *kp)
{
	unsigned int rate;
	int ret;

	ret = kstrtouint(val, 0, &rate);
	if (ret)
		return ret;
	if (rate < 1 || rate > MP3PROF_MAX_RATE)
		return -EINVAL;
	*(unsigned int *)kp->arg = rate;
	return 0;
}

static const struct kernel_param_ops mp3prof_rate_ops = {
	.set = mp3prof_set_rate,
	.get = param_get_uint,
};

static unsigned int rate = 20;
module_param_cb(rate, &mp3prof_rate_ops, &rate, 0444);
MODULE_PARM_DESC(rate, "Samples per second of the default session, 1 to 1000 (default 20)");

static unsigned int buffer_pages = 128;
module_param(buffer_pages, uint, 0444);
MODULE_PARM_DESC(buffer_pages,
		 "Size of the default session's ring in pages, header excluded (default 128)");

static unsigned int max_procs = 65536;
module_param(max_procs, uint, 0644);
MODULE_PARM_DESC(max_procs, "Most processes sampled at once by all sessions (default 65536)");

/**
 * struct mp3prof_device - The driver's one instance
 * @misc:	/dev/mp3prof.
 * @nr_procs:	Processes sampled by all sessions together, at most the
 *		module parameter max_procs.
 * @dflt:	The default session (CONFIG_MP3PROF_PROCFS), or NULL.
 */
struct mp3prof_device {
	struct miscdevice	misc;
	atomic_t		nr_procs;
	struct mp3prof_session	*dflt;
};

static struct mp3prof_device mp3prof_dev;

/**
 * mp3prof_charge_proc() - Count one more sampled process against the cap
 *
 * Return: false if max_procs processes are sampled already.
 */
bool mp3prof_charge_proc(void)
{
	int n = atomic_read(&mp3prof_dev.nr_procs);

	do {
		if ((unsigned int)n >= READ_ONCE(max_procs))
			return false;
	} while (!atomic_try_cmpxchg(&mp3prof_dev.nr_procs, &n, n + 1));
	return true;
}

/**
 * mp3prof_uncharge_proc() - Undo mp3prof_charge_proc()
 */
void mp3prof_uncharge_proc(void)
{
	atomic_dec(&mp3prof_dev.nr_procs);
}

/**
 * mp3prof_default_session() - The session of /proc/mp3prof/status
 *
 * Return: the default session, which exists while the module is loaded.
 */
struct mp3prof_session *mp3prof_default_session(void)
{
	return mp3prof_dev.dflt;
}

static int mp3prof_open(struct inode *inode, struct file *file)
{
	struct mp3prof_session *s;

	s = mp3prof_session_alloc();
	if (!s)
		return -ENOMEM;
	file->private_data = s;
	return nonseekable_open(inode, file);
}

static int mp3prof_release(struct inode *inode, struct file *file)
{
	mp3prof_session_free(file->private_data);
	return 0;
}

/* The session whose ring a file follows: its own, or the default one. */
static struct mp3prof_session *mp3prof_follows(struct mp3prof_session *s)
{
	/* Pairs with the release in mp3prof_session_configure(). */
	return smp_load_acquire(&s->is_session) ? s : mp3prof_dev.dflt;
}

static u64 mp3prof_head(struct mp3prof_session *s)
{
	/* Pairs with the release in mp3prof_emit(). */
	return smp_load_acquire(&s->head);
}

/*
 * read() hands out the head so that a reader can sleep until new samples
 * exist; the samples themselves are read from the mapping.
 */
static ssize_t mp3prof_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos)
{
	struct mp3prof_session *s = file->private_data, *r;
	u64 head;
	int ret;

	r = mp3prof_follows(s);
	if (!r)
		return -EINVAL;
	if (count < sizeof(head))
		return -EINVAL;
	for (;;) {
		head = mp3prof_head(r);
		if (head != READ_ONCE(s->seen))
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(r->wait,
					       mp3prof_head(r) != READ_ONCE(s->seen));
		if (ret)
			return ret;
	}
	if (copy_to_user(buf, &head, sizeof(head)))
		return -EFAULT;
	WRITE_ONCE(s->seen, head);
	return sizeof(head);
}

/* As for eventfd: readable until read() takes the new head. */
static __poll_t mp3prof_poll(struct file *file, poll_table *wait)
{
	struct mp3prof_session *s = file->private_data, *r;

	r = mp3prof_follows(s);
	if (!r)
		return EPOLLERR;
	poll_wait(file, &r->wait, wait);
	if (mp3prof_head(r) != READ_ONCE(s->seen))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static int mp3prof_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mp3prof_session *s = file->private_data;
	int ret;

	mutex_lock(&s->lock);
	if (s->is_session) {
		ret = mp3prof_ring_mmap(s->ring, vma);
		if (!ret)
			s->mapped = true;
	} else if (mp3prof_dev.dflt) {
		ret = mp3prof_ring_mmap(mp3prof_dev.dflt->ring, vma);
		if (!ret)
			s->mapped_default = true;
	} else {
		ret = -EINVAL;
	}
	mutex_unlock(&s->lock);
	return ret;
}

/* A pidfd or, for shells, a pid number in the caller's pid namespace. */
static struct pid *mp3prof_target_pid(const struct mp3prof_target *t)
{
	unsigned int f_flags;
	struct pid *pid;

	if ((t->flags & ~MP3PROF_TARGET_PID) || t->__reserved)
		return ERR_PTR(-EINVAL);
	if (t->flags & MP3PROF_TARGET_PID) {
		if (t->pidfd || t->pid <= 0)
			return ERR_PTR(-EINVAL);
		pid = find_get_pid(t->pid);
		return pid ?: ERR_PTR(-ESRCH);
	}
	if (t->pid)
		return ERR_PTR(-EINVAL);
	if (t->pidfd < 0)
		return ERR_PTR(-EBADF);
	return pidfd_get_pid(t->pidfd, &f_flags);
}

static long mp3prof_ioctl_target(struct file *file, unsigned int cmd,
				 void __user *uarg, size_t usize)
{
	struct mp3prof_session *s = file->private_data;
	struct mp3prof_target t;
	struct pid *pid;
	long ret;

	if (usize < MP3PROF_TARGET_SIZE_VER0)
		return -EINVAL;
	ret = copy_struct_from_user(&t, sizeof(t), uarg, usize);
	if (ret)
		return ret;
	/* Only a session has processes of its own. */
	if (!smp_load_acquire(&s->is_session))
		return -EINVAL;
	pid = mp3prof_target_pid(&t);
	if (IS_ERR(pid))
		return PTR_ERR(pid);
	if (_IOC_NR(cmd) == _IOC_NR(MP3PROF_IOC_ADD))
		ret = mp3prof_add(s, pid, file->f_cred);
	else
		ret = mp3prof_remove(s, pid);
	put_pid(pid);
	return ret;
}

/*
 * The argument structs are extensible, as for clone3() and openat2(): the
 * size encoded in the command is the caller's, so commands are matched
 * without it and copy_struct_from_user() checks the rest.
 */
#define MP3PROF_IOC_BASE(cmd)	((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

static long mp3prof_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mp3prof_session *s = file->private_data;
	void __user *uarg = (void __user *)arg;
	size_t usize = _IOC_SIZE(cmd);
	struct mp3prof_session_config cfg;
	long ret;

	switch (MP3PROF_IOC_BASE(cmd)) {
	case MP3PROF_IOC_BASE(MP3PROF_IOC_SESSION):
		if (usize < MP3PROF_SESSION_CONFIG_SIZE_VER0)
			return -EINVAL;
		ret = copy_struct_from_user(&cfg, sizeof(cfg), uarg, usize);
		if (ret)
			return ret;
		return mp3prof_session_configure(s, &cfg, READ_ONCE(max_procs));
	case MP3PROF_IOC_BASE(MP3PROF_IOC_ADD):
	case MP3PROF_IOC_BASE(MP3PROF_IOC_REMOVE):
		return mp3prof_ioctl_target(file, cmd, uarg, usize);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations mp3prof_fops = {
	.owner		= THIS_MODULE,
	.open		= mp3prof_open,
	.release	= mp3prof_release,
	.read		= mp3prof_read,
	.poll		= mp3prof_poll,
	.mmap		= mp3prof_mmap,
	.unlocked_ioctl	= mp3prof_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct mp3prof_device mp3prof_dev = {
	.misc = {
		.minor	= MISC_DYNAMIC_MINOR,
		.name	= "mp3prof",
		.fops	= &mp3prof_fops,
		/* Every open is a session of its own; permission is per process. */
		.mode	= 0666,
	},
};

static int __init mp3prof_init(void)
{
	struct mp3prof_session *dflt = NULL;
	int ret;

	if (!buffer_pages || buffer_pages > MP3PROF_MAX_DATA_PAGES) {
		pr_err("buffer_pages must be 1 to %u\n", MP3PROF_MAX_DATA_PAGES);
		return -EINVAL;
	}

	if (IS_ENABLED(CONFIG_MP3PROF_PROCFS)) {
		dflt = mp3prof_session_alloc();
		if (!dflt)
			return -ENOMEM;
		ret = mp3prof_session_init_default(dflt, NSEC_PER_SEC / rate,
						   buffer_pages, max_procs);
		if (ret)
			goto free_default;
		mp3prof_dev.dflt = dflt;
	}

	ret = mp3prof_classic_init();
	if (ret)
		goto free_default;

	/* What users can reach comes last: nothing reaches a failed init. */
	ret = mp3prof_procfs_init();
	if (ret)
		goto free_classic;
	ret = misc_register(&mp3prof_dev.misc);
	if (ret)
		goto procfs_exit;
	/* Optional, and after it nothing may fail: /dev/mp3prof is open. */
	mp3prof_classic_register();
	return 0;

procfs_exit:
	mp3prof_procfs_exit();
free_classic:
	/* The default session never sampled: nothing was registered. */
	mp3prof_classic_free();
free_default:
	mp3prof_dev.dflt = NULL;
	if (dflt)
		mp3prof_session_free(dflt);
	return ret;
}

static void __exit mp3prof_exit(void)
{
	/* No open file or mapping is left: the module is unused. */
	mp3prof_classic_deregister();
	misc_deregister(&mp3prof_dev.misc);
	mp3prof_procfs_exit();
	if (mp3prof_dev.dflt)
		mp3prof_session_free(mp3prof_dev.dflt);
	/* After the default session: its sampling writes the buffer. */
	mp3prof_classic_free();
}

module_init(mp3prof_init);
module_exit(mp3prof_exit);

MODULE_DESCRIPTION("Per-process page fault and CPU time profiler");
MODULE_LICENSE("GPL");
