// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof's course buffer (CONFIG_MP3PROF_CLASSIC): /dev/mp3prof_classic.
 *
 * The course's monitor maps 128 pages of its profiler's device read-write,
 * as an array of unsigned long quadruples [jiffies, minor faults, major
 * faults, CPU time], starting all -1.  It prints every quadruple that is
 * not -1 and writes -1 back into it, and wraps after 12000 of them.  This
 * device holds the default session's samples in exactly that layout, so
 * that monitor runs unmodified.  CPU time is in jiffies, the remainder
 * carried to the next sample, as "mp3prof-monitor --classic" prints it.
 *
 * The buffer is shared and writable by design: the device is for root
 * only (mode 0600), and the proper, read-only ring is /dev/mp3prof.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/printk.h>
#include <linux/jiffies.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "mp3prof.h"

#define MP3PROF_CLASSIC_PAGES	128
#define MP3PROF_CLASSIC_SAMPLES	12000
#define MP3PROF_CLASSIC_SIZE	(MP3PROF_CLASSIC_PAGES * PAGE_SIZE)

/**
 * struct mp3prof_classic - The course buffer
 * @misc:	/dev/mp3prof_classic.
 * @buf:	The buffer, MP3PROF_CLASSIC_SAMPLES quadruples.
 * @next:	Quadruple the next sample goes to.
 * @carry_ns:	CPU time not yet reported in whole jiffies.
 * @registered:	@misc was registered.
 *
 * @next and @carry_ns are only used by the default session's sampling
 * work, under its lock.
 */
struct mp3prof_classic {
	struct miscdevice	misc;
	unsigned long		*buf;
	unsigned int		next;
	u64			carry_ns;
	bool			registered;
};

static struct mp3prof_classic mp3prof_classic;

/**
 * mp3prof_classic_publish() - Write a default-session sample
 * @jif: The sample's jiffies.
 * @sum: Its sums.
 *
 * Called by the default session's sampling work, with its lock held.
 */
void mp3prof_classic_publish(unsigned long jif, const struct mp3prof_counts *sum)
{
	struct mp3prof_classic *c = &mp3prof_classic;
	unsigned long *q = c->buf + 4 * c->next;
	u64 ns = sum->cpu_ns + c->carry_ns, tick = TICK_NSEC;

	c->carry_ns = do_div(ns, tick);
	WRITE_ONCE(q[1], sum->min_flt);
	WRITE_ONCE(q[2], sum->maj_flt);
	WRITE_ONCE(q[3], ns);
	/* The monitor looks at the first word: the others before it. */
	smp_wmb();
	WRITE_ONCE(q[0], jif);
	c->next = (c->next + 1) % MP3PROF_CLASSIC_SAMPLES;
}

/* After madvise(MADV_DONTNEED), as for the ring: map the page back. */
static vm_fault_t mp3prof_classic_fault(struct vm_fault *vmf)
{
	if (vmf->pgoff >= MP3PROF_CLASSIC_PAGES)
		return VM_FAULT_SIGBUS;
	vmf->page = vmalloc_to_page((void *)mp3prof_classic.buf +
				    (vmf->pgoff << PAGE_SHIFT));
	get_page(vmf->page);
	return 0;
}

static const struct vm_operations_struct mp3prof_classic_vm_ops = {
	.fault = mp3prof_classic_fault,
};

static int mp3prof_classic_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long size = vma->vm_end - vma->vm_start, off;
	int ret;

	if (vma->vm_pgoff || size > MP3PROF_CLASSIC_SIZE)
		return -EINVAL;
	/* The monitor writes -1 into the buffer the kernel fills. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP, VM_MAYEXEC);
	vma->vm_ops = &mp3prof_classic_vm_ops;
	for (off = 0; off < size; off += PAGE_SIZE) {
		ret = vm_insert_page(vma, vma->vm_start + off,
				     vmalloc_to_page((void *)mp3prof_classic.buf + off));
		if (ret)
			return ret;
	}
	return 0;
}

static const struct file_operations mp3prof_classic_fops = {
	.owner		= THIS_MODULE,
	.mmap		= mp3prof_classic_mmap,
};

static struct mp3prof_classic mp3prof_classic = {
	.misc = {
		.minor	= MISC_DYNAMIC_MINOR,
		.name	= "mp3prof_classic",
		.fops	= &mp3prof_classic_fops,
		/* A buffer everyone writes to must not be open to all. */
		.mode	= 0600,
	},
};

/**
 * mp3prof_classic_init() - Allocate the course buffer, all -1
 *
 * Return: 0 or -ENOMEM.
 */
int mp3prof_classic_init(void)
{
	mp3prof_classic.buf = vmalloc_user(MP3PROF_CLASSIC_SIZE);
	if (!mp3prof_classic.buf)
		return -ENOMEM;
	memset(mp3prof_classic.buf, 0xff, MP3PROF_CLASSIC_SIZE);
	return 0;
}

/**
 * mp3prof_classic_register() - Create /dev/mp3prof_classic
 *
 * Without it the driver works on: it warns and the buffer goes unused.
 */
void mp3prof_classic_register(void)
{
	int ret = misc_register(&mp3prof_classic.misc);

	if (ret)
		pr_warn("no /dev/mp3prof_classic: %d\n", ret);
	mp3prof_classic.registered = !ret;
}

/**
 * mp3prof_classic_deregister() - Remove /dev/mp3prof_classic
 */
void mp3prof_classic_deregister(void)
{
	if (mp3prof_classic.registered)
		misc_deregister(&mp3prof_classic.misc);
}

/**
 * mp3prof_classic_free() - Free the course buffer
 *
 * Called once the default session no longer samples.
 */
void mp3prof_classic_free(void)
{
	vfree(mp3prof_classic.buf);
}
