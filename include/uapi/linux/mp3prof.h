/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mp3prof: per-process page fault and CPU time profiler.
 *
 * Every open of /dev/mp3prof may become a profiling session: the
 * MP3PROF_IOC_SESSION ioctl configures it (sampling period, ring size,
 * flags), MP3PROF_IOC_ADD and MP3PROF_IOC_REMOVE add and remove processes,
 * named by a pidfd or by a pid number, and the session's sample ring is
 * mapped from the same file.  Closing the file ends the session; its ring
 * stays readable until the last mapping of it goes.  A file that never
 * became a session maps the ring of the default session instead, whose
 * processes are registered through /proc/mp3prof/status
 * (CONFIG_MP3PROF_PROCFS).
 *
 * Map a ring with mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0): the first
 * header_size bytes hold struct mp3prof_header, followed by nr_records
 * records of record_size bytes each.  Mapping only the first page to learn
 * the sizes is allowed.
 *
 * Compatibility rule for readers: check magic, and refuse a version other
 * than MP3PROF_ABI_VERSION.  Within a version, later kernels may make the
 * header and the records larger: locate records with header_size and
 * record_size from the header, never with sizeof, and ignore the bytes
 * past the fields you know.  Unknown bits in flags fields are to be
 * ignored.
 *
 * A reader waits for new records with read() or poll(), as with eventfd:
 * read() of a __u64 returns the current mp3prof_header.head and remembers
 * it for that open file; it blocks (or fails with EAGAIN under O_NONBLOCK)
 * until head differs from the value last returned on that file.  poll()
 * reports EPOLLIN while head differs from that value, so a reader woken by
 * poll() read()s to consume the wake-up.  The records themselves are read
 * from the mapping without system calls.
 */
#ifndef _UAPI_LINUX_MP3PROF_H
#define _UAPI_LINUX_MP3PROF_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MP3PROF_MAGIC		0x4d503350	/* "MP3P" */
#define MP3PROF_ABI_VERSION	2

/* Value of a record's seq while the kernel writes that slot. */
#define MP3PROF_SEQ_BUSY	(~(__u64)0)

/* mp3prof_header.flags */
#define MP3PROF_HDR_SESSION	(1U << 0)	/* a session's ring, not the default one */
#define MP3PROF_HDR_PER_PROCESS	(1U << 1)	/* MP3PROF_SESSION_PER_PROCESS */
#define MP3PROF_HDR_TREE	(1U << 2)	/* MP3PROF_SESSION_TREE */
#define MP3PROF_HDR_ENDED	(1U << 3)	/* the session ended: no more records */

/**
 * struct mp3prof_header - Description of a mapped sample ring
 * @magic:		MP3PROF_MAGIC.
 * @version:		MP3PROF_ABI_VERSION.  A reader must refuse a version
 *			it does not know.
 * @header_size:	Size of the header area; the first record starts at
 *			this offset in the mapping.  At least
 *			sizeof(struct mp3prof_header).
 * @record_size:	Size of one record slot, at least 64.
 * @nr_records:		Number of record slots in the ring, a power of two.
 * @rate:		Samples per second, rounded to the nearest integer:
 *			NSEC_PER_SEC / @period_ns.
 * @hz:			The kernel's HZ, to interpret mp3prof_sample.jiffies.
 * @flags:		MP3PROF_HDR_* flags.  Only MP3PROF_HDR_ENDED changes
 *			while the ring is mapped.
 * @period_ns:		Interval between two samples, in nanoseconds.
 * @head:		Number of records ever written.  Record number s lives
 *			in slot s & (nr_records - 1).  The kernel writes all
 *			records of a sample before it moves @head past them
 *			with release semantics, so a reader loads @head with
 *			acquire semantics.  When the ring is full the oldest
 *			records are overwritten.
 * @work_ns:		Total time the kernel spent taking samples, in
 *			nanoseconds, so the profiler's own cost is visible.
 * @samples:		Number of samples ever written (each is one
 *			struct mp3prof_sample, followed in a per-process
 *			session by its struct mp3prof_proc_record records).
 * @max_procs:		Most processes the session samples at once.
 * @__reserved0:	Zero.
 * @__reserved:		Zero; room for later fields.
 *
 * All fields but @head, @work_ns, @samples and @flags are constant while
 * the ring exists.
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
	__u64	samples;
	__u32	max_procs;
	__u32	__reserved0;
	__u64	__reserved[8];
};

/* Record types, mp3prof_sample.type and mp3prof_proc_record.type */
#define MP3PROF_RECORD_SAMPLE	1
#define MP3PROF_RECORD_PROC	2

/* mp3prof_sample.flags */
#define MP3PROF_SAMPLE_UNTRACKED	(1U << 0)	/* see struct mp3prof_sample */

/**
 * struct mp3prof_sample - One sample: the sums over the sampled processes
 * @seq:	Record number, counting from 0.  A reader that wants record s
 *		loads @seq with acquire semantics, copies the record, issues a
 *		read barrier and loads @seq again; the copy is valid only if
 *		both loads return s.  Anything else means the record was
 *		overwritten (or is being written: MP3PROF_SEQ_BUSY) and
 *		record s is lost.  Every record type starts with @seq,
 *		@type and @flags.
 * @type:	MP3PROF_RECORD_SAMPLE.
 * @flags:	MP3PROF_SAMPLE_UNTRACKED: in a whole-tree session, some new
 *		descendants were not sampled individually because the
 *		session's process limit was reached.  Their usage is still
 *		counted, in the sample that notices that their parent
 *		reaped them.
 * @nr_procs:	Number of processes sampled, including those that exited
 *		or were removed since the previous sample and were accounted
 *		one last time.  In a per-process session exactly @nr_procs
 *		struct mp3prof_proc_record records follow this one.
 * @jiffies:	The kernel's jiffies when the sample was taken.
 * @time_ns:	CLOCK_MONOTONIC time when the counters were read, in ns.
 * @min_flt:	Minor page faults since the previous sample.
 * @maj_flt:	Major page faults since the previous sample.
 * @cpu_ns:	CPU time (user + system) since the previous sample, in ns,
 *		exact to @time_ns (running threads included).
 * @nr_exited:	Number of the sampled processes that had exited (and are
 *		not sampled any more).
 * @work_ns:	Time the kernel spent taking this sample, in ns (saturates
 *		at 2^32 - 1).
 *
 * Fault and CPU time deltas cover all threads of each process, including
 * threads that exited, as /proc/PID/stat does.  A process that exited is
 * accounted for the last time once all its threads were scheduled out for
 * good, so its samples sum to what wait4() reports for it.
 */
struct mp3prof_sample {
	__u64	seq;
	__u16	type;
	__u16	flags;
	__u32	nr_procs;
	__u64	jiffies;
	__u64	time_ns;
	__u64	min_flt;
	__u64	maj_flt;
	__u64	cpu_ns;
	__u32	nr_exited;
	__u32	work_ns;
};

/* mp3prof_proc_record.flags */
#define MP3PROF_PROC_EXITED	(1U << 0)	/* exited: its last record */
#define MP3PROF_PROC_REMOVED	(1U << 1)	/* removed: its last record */
#define MP3PROF_PROC_DROPPED	(1U << 2)	/* lost the permission: last record */
#define MP3PROF_PROC_NEW	(1U << 3)	/* first record of a descendant */

/**
 * struct mp3prof_proc_record - One process's part of a sample
 * @seq:	Record number, as in struct mp3prof_sample.
 * @type:	MP3PROF_RECORD_PROC.
 * @flags:	MP3PROF_PROC_* flags.  A DROPPED process is no longer
 *		sampled and the interval in which it exec'd is not
 *		reported: its deltas are 0.
 * @pid:	The process's id in the pid namespace of the session's
 *		owner (the task that created the session).
 * @ppid:	In a whole-tree session, the id of the sampled process whose
 *		child it is; 0 for a process added with MP3PROF_IOC_ADD.
 * @__reserved0: Zero.
 * @min_flt:	Minor page faults since the previous sample.
 * @maj_flt:	Major page faults since the previous sample.
 * @cpu_ns:	CPU time since the previous sample, in ns.
 * @__reserved: Zero.
 *
 * The records of one sample sum exactly to its struct mp3prof_sample.
 * A pid appears once per sample, except for a process removed and added
 * again between two samples: a REMOVED record ends each registration
 * that ended, and a record without it is the current one.  In a whole-tree
 * session a process's deltas include what its children
 * that were never sampled individually left when it reaped them.
 */
struct mp3prof_proc_record {
	__u64	seq;
	__u16	type;
	__u16	flags;
	__u32	pid;
	__u32	ppid;
	__u32	__reserved0;
	__u64	min_flt;
	__u64	maj_flt;
	__u64	cpu_ns;
	__u64	__reserved[2];
};

#define MP3PROF_IOC_MAGIC	0xB9

/* mp3prof_session_config.flags */
#define MP3PROF_SESSION_PER_PROCESS	(1ULL << 0)	/* a record per process per sample */
#define MP3PROF_SESSION_TREE		(1ULL << 1)	/* include descendants */

/* Sampling periods a session may choose: 1 kHz to 1 Hz. */
#define MP3PROF_PERIOD_MIN_NS	1000000ULL
#define MP3PROF_PERIOD_MAX_NS	1000000000ULL

/**
 * struct mp3prof_session_config - Argument of MP3PROF_IOC_SESSION
 * @flags:	MP3PROF_SESSION_* flags; any other bit is EINVAL.
 * @period_ns:	Sampling period in ns, MP3PROF_PERIOD_MIN_NS to
 *		MP3PROF_PERIOD_MAX_NS; 0 selects 50 ms.
 * @ring_pages:	Pages for the records, the header page excluded, 1 to
 *		65536; 0 selects 128.  The number of records is rounded down
 *		to a power of two.
 * @max_procs:	Most processes (descendants included) the session samples
 *		at once, 1 to the module parameter max_procs; 0 selects
 *		1024 or max_procs, whichever is smaller.  A per-process
 *		session also needs room for a sample and all its records in
 *		the ring: max_procs < nr_records / 2.
 *
 * The struct is extensible: the size is that of the ioctl command (see
 * MP3PROF_IOC_SESSION).  A larger struct from newer user space is accepted
 * if the bytes this kernel does not know are zero, else E2BIG; one smaller
 * than MP3PROF_SESSION_CONFIG_SIZE_VER0 is EINVAL.
 */
struct mp3prof_session_config {
	__u64	flags;
	__u64	period_ns;
	__u32	ring_pages;
	__u32	max_procs;
};

#define MP3PROF_SESSION_CONFIG_SIZE_VER0	24

/* mp3prof_target.flags */
#define MP3PROF_TARGET_PID	(1U << 0)	/* @pid names the process, not @pidfd */

/**
 * struct mp3prof_target - Argument of MP3PROF_IOC_ADD and MP3PROF_IOC_REMOVE
 * @flags:	0: @pidfd names the process (a pidfd of a thread group
 *		leader, from pidfd_open() or clone3()).  MP3PROF_TARGET_PID:
 *		@pid does, a process id in the caller's pid namespace.  Any
 *		other bit is EINVAL.
 * @pidfd:	The pidfd, or 0 with MP3PROF_TARGET_PID.
 * @pid:	The process id with MP3PROF_TARGET_PID, else 0.
 * @__reserved:	Zero.
 *
 * Extensible like struct mp3prof_session_config;
 * MP3PROF_TARGET_SIZE_VER0 is the smallest size.
 */
struct mp3prof_target {
	__u32	flags;
	__s32	pidfd;
	__s32	pid;
	__u32	__reserved;
};

#define MP3PROF_TARGET_SIZE_VER0	16

/*
 * MP3PROF_IOC_SESSION: make this open file a session, or reconfigure a
 * session that was never mapped and has no process.  EBUSY once mapped, or
 * if the file has mapped the default ring.
 *
 * MP3PROF_IOC_ADD: sample a process in this session.  Its counters are
 * taken as of now: the samples cover only what it does from now on.
 * MP3PROF_IOC_REMOVE: stop sampling it; what it did since the previous
 * sample goes into the next sample.
 *
 * The size encoded in the command is the size of the struct passed, so
 * user space compiled against a newer header passes its larger struct with
 * the same command numbers.
 */
#define MP3PROF_IOC_SESSION	_IOW(MP3PROF_IOC_MAGIC, 0x00, struct mp3prof_session_config)
#define MP3PROF_IOC_ADD		_IOW(MP3PROF_IOC_MAGIC, 0x01, struct mp3prof_target)
#define MP3PROF_IOC_REMOVE	_IOW(MP3PROF_IOC_MAGIC, 0x02, struct mp3prof_target)

#endif /* _UAPI_LINUX_MP3PROF_H */
