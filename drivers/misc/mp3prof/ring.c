// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof sample ring and /dev/mp3prof.
 *
 * One vmalloc_user() buffer: a header page (struct mp3prof_header) followed
 * by a power-of-two number of records.  The sampling work is the only
 * writer; readers map the buffer read-only and use the record sequence
 * numbers to detect records overwritten under them.
 */
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "mp3prof.h"

static struct mp3prof_header *mp3prof_hdr;
static struct mp3prof_sample *mp3prof_records;
static size_t mp3prof_size;
static DECLARE_WAIT_QUEUE_HEAD(mp3prof_wait);

/**
 * struct mp3prof_reader - State of one open /dev/mp3prof
 * @seen: The head last returned by read().
 */
struct mp3prof_reader {
	u64	seen;
};

/**
 * mp3prof_ring_publish() - Append a sample to the ring
 * @s: The sample; its seq is filled in.
 *
 * Called by the sampling work only, so there is a single writer.  The
 * record is marked busy while it is rewritten, then gets its sequence
 * number, then the head moves: see struct mp3prof_sample for the reader's
 * side.
 */
void mp3prof_ring_publish(struct mp3prof_sample *s)
{
	u64 head = mp3prof_hdr->head;
	struct mp3prof_sample *r;

	r = &mp3prof_records[head & (mp3prof_hdr->nr_records - 1)];
	WRITE_ONCE(r->seq, MP3PROF_SEQ_BUSY);
	smp_wmb();	/* busy mark before the new contents */
	s->seq = MP3PROF_SEQ_BUSY;
	*r = *s;
	/* Pairs with the reader's acquire of seq: contents before seq. */
	smp_store_release(&r->seq, head);
	/* Pairs with mp3prof_head() and the reader's acquire of head. */
	smp_store_release(&mp3prof_hdr->head, head + 1);
	WRITE_ONCE(mp3prof_hdr->work_ns, mp3prof_hdr->work_ns + s->work_ns);
	s->seq = head;

	wake_up_interruptible_poll(&mp3prof_wait, EPOLLIN | EPOLLRDNORM);
}

static int mp3prof_open(struct inode *inode, struct file *file)
{
	struct mp3prof_reader *reader;

	reader = kzalloc(sizeof(*reader), GFP_KERNEL_ACCOUNT);
	if (!reader)
		return -ENOMEM;
	file->private_data = reader;
	return nonseekable_open(inode, file);
}

static int mp3prof_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static u64 mp3prof_head(void)
{
	/* Pairs with the release in mp3prof_ring_publish(). */
	return smp_load_acquire(&mp3prof_hdr->head);
}

/*
 * read() hands out the head so that a reader can sleep until new samples
 * exist; the samples themselves are read from the mapping.
 */
static ssize_t mp3prof_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos)
{
	struct mp3prof_reader *reader = file->private_data;
	u64 head;
	int ret;

	if (count < sizeof(head))
		return -EINVAL;

	for (;;) {
		head = mp3prof_head();
		if (head != READ_ONCE(reader->seen))
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(mp3prof_wait,
					       mp3prof_head() != READ_ONCE(reader->seen));
		if (ret)
			return ret;
	}

	if (copy_to_user(buf, &head, sizeof(head)))
		return -EFAULT;
	WRITE_ONCE(reader->seen, head);
	return sizeof(head);
}

static __poll_t mp3prof_poll(struct file *file, poll_table *wait)
{
	struct mp3prof_reader *reader = file->private_data;

	poll_wait(file, &mp3prof_wait, wait);
	if (mp3prof_head() != READ_ONCE(reader->seen))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

/*
 * mmap() maps every page up front; this only runs when the mapping's
 * owner dropped pages with madvise(MADV_DONTNEED) and touches them again.
 */
static vm_fault_t mp3prof_vm_fault(struct vm_fault *vmf)
{
	if (vmf->pgoff >= mp3prof_size >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;
	vmf->page = vmalloc_to_page((void *)mp3prof_hdr +
				    (vmf->pgoff << PAGE_SHIFT));
	get_page(vmf->page);
	return 0;
}

static const struct vm_operations_struct mp3prof_vm_ops = {
	.fault = mp3prof_vm_fault,
};

static int mp3prof_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long size = vma->vm_end - vma->vm_start;

	if (vma->vm_pgoff || size > mp3prof_size)
		return -EINVAL;
	/* A private mapping would let its owner write to copies of the pages. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & (VM_WRITE | VM_EXEC))
		return -EPERM;

	vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP, VM_MAYWRITE | VM_MAYEXEC);
	vma->vm_ops = &mp3prof_vm_ops;
	return remap_vmalloc_range(vma, mp3prof_hdr, 0);
}

static const struct file_operations mp3prof_fops = {
	.owner		= THIS_MODULE,
	.open		= mp3prof_open,
	.release	= mp3prof_release,
	.read		= mp3prof_read,
	.poll		= mp3prof_poll,
	.mmap		= mp3prof_mmap,
};

static struct miscdevice mp3prof_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mp3prof",
	.fops	= &mp3prof_fops,
	.mode	= 0444,
};

/**
 * mp3prof_ring_init() - Allocate the ring and register /dev/mp3prof
 * @data_pages: Pages for the records; the record count is rounded down to
 *		a power of two.
 * @rate: Sampling rate, recorded in the header.
 *
 * Return: 0 or a negative errno.
 */
int mp3prof_ring_init(unsigned int data_pages, unsigned int rate)
{
	unsigned long nr_records;
	int ret;

	BUILD_BUG_ON(sizeof(struct mp3prof_header) > PAGE_SIZE);
	BUILD_BUG_ON(!is_power_of_2(sizeof(struct mp3prof_sample)));

	nr_records = rounddown_pow_of_two((unsigned long)data_pages * PAGE_SIZE /
					  sizeof(struct mp3prof_sample));
	mp3prof_size = PAGE_SIZE +
		PAGE_ALIGN(nr_records * sizeof(struct mp3prof_sample));
	mp3prof_hdr = vmalloc_user(mp3prof_size);
	if (!mp3prof_hdr)
		return -ENOMEM;
	mp3prof_records = (void *)mp3prof_hdr + PAGE_SIZE;

	*mp3prof_hdr = (struct mp3prof_header) {
		.magic		= MP3PROF_MAGIC,
		.version	= MP3PROF_ABI_VERSION,
		.header_size	= PAGE_SIZE,
		.record_size	= sizeof(struct mp3prof_sample),
		.nr_records	= nr_records,
		.rate		= rate,
		.hz		= HZ,
		.period_ns	= div_u64(NSEC_PER_SEC, rate),
	};

	ret = misc_register(&mp3prof_misc);
	if (ret)
		vfree(mp3prof_hdr);
	return ret;
}

/**
 * mp3prof_ring_exit() - Unregister /dev/mp3prof and free the ring
 *
 * Only called on module unload: open files and mappings pin the module.
 */
void mp3prof_ring_exit(void)
{
	misc_deregister(&mp3prof_misc);
	vfree(mp3prof_hdr);
}
