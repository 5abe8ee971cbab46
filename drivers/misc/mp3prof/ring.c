// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof sample rings.
 *
 * A ring is one vmalloc'ed buffer: a header page (struct mp3prof_header)
 * followed by a power-of-two number of 64-byte record slots.  The sampling
 * work of its session is the only writer; readers map it read-only and use
 * the slots' sequence numbers to detect records overwritten under them.
 *
 * A session's ring belongs to an anonymous file.  Its mappings hold that
 * file instead of the session's, so that closing the session's file ends
 * the session while the ring stays readable until it is unmapped.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/personality.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "mp3prof.h"

#define MP3PROF_RECORD_SIZE	64

static int mp3prof_ring_release(struct inode *inode, struct file *file)
{
	mp3prof_ring_free(file->private_data);
	return 0;
}

static const struct file_operations mp3prof_ring_fops = {
	.owner		= THIS_MODULE,
	.release	= mp3prof_ring_release,
};

/**
 * mp3prof_ring_alloc() - Allocate a ring
 * @data_pages: Pages for the records; the record count is rounded down to a
 *		power of two.
 * @period_ns: Sampling period, recorded in the header.
 * @flags: MP3PROF_HDR_* flags for the header.
 * @max_procs: The session's process limit, recorded in the header.
 * @owned: Give the ring an owning file (session rings).
 *
 * The memory is charged to the caller's memory cgroup.
 *
 * Return: the ring or an ERR_PTR().
 */
struct mp3prof_ring *mp3prof_ring_alloc(unsigned int data_pages,
					u64 period_ns, u32 flags,
					unsigned int max_procs, bool owned)
{
	struct mp3prof_ring *ring;
	unsigned long nr, i;
	struct file *file;

	BUILD_BUG_ON(sizeof(struct mp3prof_header) > PAGE_SIZE);
	BUILD_BUG_ON(sizeof(struct mp3prof_sample) != MP3PROF_RECORD_SIZE);
	BUILD_BUG_ON(sizeof(struct mp3prof_proc_record) != MP3PROF_RECORD_SIZE);

	ring = kzalloc(sizeof(*ring), GFP_KERNEL_ACCOUNT);
	if (!ring)
		return ERR_PTR(-ENOMEM);
	nr = rounddown_pow_of_two((unsigned long)data_pages * PAGE_SIZE /
				  MP3PROF_RECORD_SIZE);
	ring->size = PAGE_SIZE + PAGE_ALIGN(nr * MP3PROF_RECORD_SIZE);
	ring->hdr = __vmalloc(ring->size, GFP_KERNEL_ACCOUNT | __GFP_ZERO |
			      __GFP_NOWARN);
	if (!ring->hdr) {
		kfree(ring);
		return ERR_PTR(-ENOMEM);
	}
	ring->records = (void *)ring->hdr + PAGE_SIZE;
	ring->mask = nr - 1;

	*ring->hdr = (struct mp3prof_header) {
		.magic		= MP3PROF_MAGIC,
		.version	= MP3PROF_ABI_VERSION,
		.header_size	= PAGE_SIZE,
		.record_size	= MP3PROF_RECORD_SIZE,
		.nr_records	= nr,
		.rate		= div64_u64(NSEC_PER_SEC + period_ns / 2, period_ns),
		.hz		= HZ,
		.flags		= flags,
		.period_ns	= period_ns,
		.max_procs	= max_procs,
	};
	/* No slot holds a valid record before the first sample. */
	for (i = 0; i < nr; i++)
		*(u64 *)(ring->records + i * MP3PROF_RECORD_SIZE) = MP3PROF_SEQ_BUSY;

	if (owned) {
		file = anon_inode_getfile("[mp3prof_ring]", &mp3prof_ring_fops,
					  ring, O_RDONLY);
		if (IS_ERR(file)) {
			mp3prof_ring_free(ring);
			return ERR_CAST(file);
		}
		ring->file = file;
	}
	return ring;
}

/**
 * mp3prof_ring_free() - Free a ring that has no owning file
 * @ring: The ring.
 */
void mp3prof_ring_free(struct mp3prof_ring *ring)
{
	vfree(ring->hdr);
	kfree(ring);
}

/**
 * mp3prof_ring_put() - Drop a session's reference to its ring
 * @ring: The ring.
 *
 * Marks the ring ended; it is freed when its last mapping goes.
 */
void mp3prof_ring_put(struct mp3prof_ring *ring)
{
	struct mp3prof_header *hdr = ring->hdr;

	WRITE_ONCE(hdr->flags, hdr->flags | MP3PROF_HDR_ENDED);
	if (ring->file)
		fput(ring->file);
	else
		mp3prof_ring_free(ring);
}

/**
 * mp3prof_ring_head() - Number of records written to a ring
 * @ring: The ring.
 *
 * Return: the head, loaded with acquire semantics.
 */
u64 mp3prof_ring_head(const struct mp3prof_ring *ring)
{
	/* Pairs with the release in mp3prof_ring_commit(). */
	return smp_load_acquire(&ring->hdr->head);
}

/**
 * mp3prof_ring_slot() - Start rewriting a record slot
 * @ring: The ring.
 * @nr: Number of the record to be written there.
 *
 * Marks the slot busy; the caller fills it in and then stores @nr in its
 * seq with smp_store_release().  See struct mp3prof_sample for the
 * reader's side.
 *
 * Return: the slot.
 */
void *mp3prof_ring_slot(struct mp3prof_ring *ring, u64 nr)
{
	u64 *slot = ring->records + (nr & ring->mask) * MP3PROF_RECORD_SIZE;

	WRITE_ONCE(*slot, MP3PROF_SEQ_BUSY);
	smp_wmb();	/* busy mark before the new contents */
	return slot;
}

/**
 * mp3prof_ring_commit() - Publish the records written so far
 * @ring: The ring.
 * @head: The new head: one past the last record written.
 * @work_ns: What the sample cost, added to the header's total.
 */
void mp3prof_ring_commit(struct mp3prof_ring *ring, u64 head, u64 work_ns)
{
	struct mp3prof_header *hdr = ring->hdr;

	/* Pairs with mp3prof_ring_head() and the readers' acquire. */
	smp_store_release(&hdr->head, head);
	WRITE_ONCE(hdr->work_ns, hdr->work_ns + work_ns);
	WRITE_ONCE(hdr->samples, hdr->samples + 1);
}

/*
 * mmap() maps every page up front; this only runs when the mapping's
 * owner dropped pages with madvise(MADV_DONTNEED) and touches them again.
 */
static vm_fault_t mp3prof_vm_fault(struct vm_fault *vmf)
{
	struct mp3prof_ring *ring = vmf->vma->vm_private_data;

	if (vmf->pgoff >= ring->size >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;
	vmf->page = vmalloc_to_page((void *)ring->hdr +
				    (vmf->pgoff << PAGE_SHIFT));
	get_page(vmf->page);
	return 0;
}

static const struct vm_operations_struct mp3prof_vm_ops = {
	.fault = mp3prof_vm_fault,
};

/**
 * mp3prof_ring_mmap() - Map a ring read-only
 * @ring: The ring.
 * @vma: The new mapping.
 *
 * Return: 0 or a negative errno.
 */
int mp3prof_ring_mmap(struct mp3prof_ring *ring, struct vm_area_struct *vma)
{
	unsigned long size = vma->vm_end - vma->vm_start, off;
	int ret;

	if (vma->vm_pgoff || size > ring->size)
		return -EINVAL;
	/* A private mapping would let its owner write to copies of the pages. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	/*
	 * PROT_READ implies PROT_EXEC for READ_IMPLIES_EXEC processes: they
	 * get a mapping without VM_EXEC instead of an error.
	 */
	if ((vma->vm_flags & VM_EXEC) &&
	    (current->personality & READ_IMPLIES_EXEC))
		vm_flags_clear(vma, VM_EXEC);
	if (vma->vm_flags & (VM_WRITE | VM_EXEC))
		return -EPERM;

	vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP, VM_MAYWRITE | VM_MAYEXEC);
	vma->vm_ops = &mp3prof_vm_ops;
	vma->vm_private_data = ring;
	for (off = 0; off < size; off += PAGE_SIZE) {
		ret = vm_insert_page(vma, vma->vm_start + off,
				     vmalloc_to_page((void *)ring->hdr + off));
		if (ret)
			return ret;
	}
	if (ring->file)
		vma_set_file(vma, ring->file);
	return 0;
}
