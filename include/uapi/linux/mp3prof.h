/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mp3prof: per-process page fault and CPU time profiler.
 *
 * /dev/mp3prof exposes a read-only ring of samples.  Map it with
 * mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0): the first header_size bytes
 * hold struct mp3prof_header, followed by nr_records records of record_size
 * bytes each.  Mapping only the first page to learn the sizes is allowed.
 *
 * A reader waits for new samples with poll() or read(): read() of a __u64
 * returns the current mp3prof_header.head and remembers it for that open
 * file; it blocks (or fails with EAGAIN under O_NONBLOCK) until head differs
 * from the value last returned on that file.  poll() reports EPOLLIN while
 * head differs from that value.  The samples themselves are read from the
 * mapping without system calls.
 */
#ifndef _UAPI_LINUX_MP3PROF_H
#define _UAPI_LINUX_MP3PROF_H

#include <linux/types.h>

#define MP3PROF_MAGIC		0x4d503350	/* "MP3P" */
#define MP3PROF_ABI_VERSION	1

/* Value of mp3prof_sample.seq while the kernel rewrites that record. */
#define MP3PROF_SEQ_BUSY	(~(__u64)0)

/**
 * struct mp3prof_header - Description of the mapped sample ring
 * @magic:		MP3PROF_MAGIC.
 * @version:		MP3PROF_ABI_VERSION.  A reader must refuse a version
 *			it does not know.
 * @header_size:	Size of the header area; the first record starts at
 *			this offset in the mapping.
 * @record_size:	Size of one record, sizeof(struct mp3prof_sample) for
 *			this ABI version.
 * @nr_records:		Number of records in the ring, a power of two.
 * @rate:		Configured sampling rate, in samples per second.
 * @hz:			The kernel's HZ, to interpret mp3prof_sample.jiffies.
 * @flags:		Reserved, 0.
 * @period_ns:		Nominal interval between two samples, in nanoseconds.
 * @head:		Number of records ever written.  Record number s lives in
 *			slot s & (nr_records - 1).  The kernel writes a record
 *			completely before it increments @head with release
 *			semantics, so a reader loads @head with acquire
 *			semantics.  When the ring is full the oldest record is
 *			overwritten.
 * @work_ns:		Total time the kernel spent taking samples, in
 *			nanoseconds, so the profiler's own cost is visible.
 *
 * All fields but @head and @work_ns are constant while the module is loaded.
 */
struct mp3prof_header {
	__u32	magic;
	__u32	version;
	__u32	header_size;
	__u32	record_size;
	__u32	nr_records;
	__u32	rate;
	__u32	hz;
	__u32	flags;
	__u64	period_ns;
	__u64	head;
	__u64	work_ns;
};

/**
 * struct mp3prof_sample - One sample, summed over the registered processes
 * @seq:	Record number, counting from 0.  A reader that wants record s
 *		loads @seq with acquire semantics, copies the record, issues a
 *		read barrier and loads @seq again; the copy is valid only if
 *		both loads return s.  Anything else means the record was
 *		overwritten (or is being rewritten: MP3PROF_SEQ_BUSY) and
 *		record s is lost.
 * @jiffies:	The kernel's jiffies when the sample was taken.
 * @time_ns:	CLOCK_MONOTONIC time when the sample was taken, in ns.
 * @min_flt:	Minor page faults since the previous sample.
 * @maj_flt:	Major page faults since the previous sample.
 * @cpu_ns:	CPU time (user + system) since the previous sample, in ns.
 * @nr_procs:	Number of processes sampled, including those that exited
 *		since the previous sample and were accounted one last time.
 * @nr_exited:	Number of those processes that had exited and were
 *		unregistered by this sample.
 * @work_ns:	Time the kernel spent taking this sample, in ns.
 *
 * Fault and CPU time deltas cover all threads of each process, including
 * threads that exited, as /proc/PID/stat does.
 */
struct mp3prof_sample {
	__u64	seq;
	__u64	jiffies;
	__u64	time_ns;
	__u64	min_flt;
	__u64	maj_flt;
	__u64	cpu_ns;
	__u32	nr_procs;
	__u32	nr_exited;
	__u64	work_ns;
};

#endif /* _UAPI_LINUX_MP3PROF_H */
