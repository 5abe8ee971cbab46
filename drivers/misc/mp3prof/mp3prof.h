/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mp3prof internal interfaces.
 *
 * Lifetimes, in one place:
 * - struct mp3prof_session: one per open file of /dev/mp3prof, created by
 *   open() and freed by release().  A file that calls MP3PROF_IOC_SESSION
 *   samples its own processes into its own ring; release() stops its
 *   sampling and drops its processes.  The default session is created at
 *   module load, holds the processes of /proc/mp3prof/status and is freed
 *   at module unload; files that never became a session map its ring.
 * - struct mp3prof_ring: a session's ring is owned by an anonymous file
 *   that the session and every mapping of the ring hold, so the ring stays
 *   readable after its session ended, until the last mapping goes.  That
 *   file pins the module.  The default session's ring has no such file:
 *   it lives as long as the module, and its mappings hold the
 *   /dev/mp3prof file they were made from.
 * - struct mp3prof_proc: a sampled process, owned by its session and
 *   protected by the session's lock.  It holds the process's struct pid
 *   (a recycled pid number never names it), a reference to the thread
 *   group leader of the time (which keeps ->signal, where exited threads
 *   leave their counters) and the credentials it was added with.
 */
#ifndef _MP3PROF_H
#define _MP3PROF_H

#include <linux/atomic.h>
#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <uapi/linux/mp3prof.h>

struct cred;
struct file;
struct mem_cgroup;
struct pid;
struct pid_namespace;
struct task_struct;
struct vm_area_struct;

/**
 * struct mp3prof_counts - Cumulative counters
 * @min_flt:	Minor faults.
 * @maj_flt:	Major faults.
 * @cpu_ns:	CPU time in ns.
 */
struct mp3prof_counts {
	u64	min_flt;
	u64	maj_flt;
	u64	cpu_ns;
};

static inline void mp3prof_counts_add(struct mp3prof_counts *a,
				      const struct mp3prof_counts *b)
{
	a->min_flt += b->min_flt;
	a->maj_flt += b->maj_flt;
	a->cpu_ns += b->cpu_ns;
}

/* *d = now - then - sub (if @sub), each counter at least 0. */
static inline void mp3prof_counts_diff(struct mp3prof_counts *d,
				       const struct mp3prof_counts *now,
				       const struct mp3prof_counts *then,
				       const struct mp3prof_counts *sub)
{
	struct mp3prof_counts b = *then;

	if (sub)
		mp3prof_counts_add(&b, sub);
	d->min_flt = now->min_flt > b.min_flt ? now->min_flt - b.min_flt : 0;
	d->maj_flt = now->maj_flt > b.maj_flt ? now->maj_flt - b.maj_flt : 0;
	d->cpu_ns = now->cpu_ns > b.cpu_ns ? now->cpu_ns - b.cpu_ns : 0;
}

/* Largest ring, in data pages. */
#define MP3PROF_MAX_DATA_PAGES	65536

/* mp3prof_proc.state */
enum mp3prof_proc_state {
	MP3PROF_ACTIVE,		/* sampled */
	MP3PROF_EXCLUDED,	/* tree only: not reported, kept until reaped */
	MP3PROF_GONE,		/* its last record is due in the next sample */
};

/**
 * struct mp3prof_proc - A process sampled by a session
 * @node:	Entry in the session's tree of processes, keyed by @pid.
 * @list:	Entry in the session's list of processes, or in its list of
 *		processes whose last record is due (state GONE).
 * @children:	Whole tree: the processes of the session that are its
 *		children, linked by @sibling.
 * @sibling:	Entry in @parent's @children.
 * @parent:	Whole tree: the process of the session whose child it is, or
 *		NULL.
 * @pid:	The process's thread group id.
 * @leader:	The group leader at the time it was added (pins ->signal).
 * @cred:	Credentials it was added with; the permission is checked
 *		again with them after an exec.
 * @exec_id:	The process's self_exec_id when the permission was checked.
 * @tree:	Whole tree: identifies the added process whose tree it
 *		belongs to.
 * @state:	enum mp3prof_proc_state.
 * @added:	Added by MP3PROF_IOC_ADD or "R", not found as a descendant.
 * @rec_flags:	MP3PROF_PROC_* flags for its next record.
 * @base:	Counters when it was added (for the /proc listing).
 * @own:	Its own counters at the last sample.
 * @kids:	Whole tree: what its reaped children left in signal_struct,
 *		as of the last sample that accounted them.
 * @pending:	Whole tree: what its children that were sampled on their own
 *		reported, still to be taken out of @kids growth.
 * @delta:	What its next record reports.
 * @now_own:	Scratch: its own counters read by this sample.
 * @now_kids:	Scratch: its children's counters read by this sample.
 * @released:	Scratch: it was released (reaped) when this sample began.
 * @ign:	Whole tree: it ignored SIGCHLD at the last sample.
 * @now_ign:	Scratch: it ignores SIGCHLD at this sample.
 * @final:	Scratch: this sample accounts it for the last time.
 * @defer:	Scratch: a child of it is being reaped; @kids is not
 *		accounted this time.
 * @dropped:	Scratch: an exec took away the permission to sample it.
 * @doomed:	Scratch: to be freed after this sample.
 */
struct mp3prof_proc {
	struct rb_node		node;
	struct list_head	list;
	struct list_head	children;
	struct list_head	sibling;
	struct mp3prof_proc	*parent;
	struct pid		*pid;
	struct task_struct	*leader;
	const struct cred	*cred;
	u64			exec_id;
	u32			tree;
	u8			state;
	bool			added;
	u16			rec_flags;
	struct mp3prof_counts	base;
	struct mp3prof_counts	own;
	struct mp3prof_counts	kids;
	struct mp3prof_counts	pending;
	struct mp3prof_counts	delta;
	struct mp3prof_counts	now_own;
	struct mp3prof_counts	now_kids;
	bool			released;
	bool			ign;
	bool			now_ign;
	bool			final;
	bool			defer;
	bool			dropped;
	bool			doomed;
};

/**
 * struct mp3prof_ring - A sample ring
 * @hdr:	The buffer: header page, then the records.
 * @records:	First record.
 * @size:	Size of the buffer in bytes.
 * @mask:	nr_records - 1.
 * @file:	Session rings: the anonymous file that owns the ring.
 */
struct mp3prof_ring {
	struct mp3prof_header	*hdr;
	void			*records;
	size_t			size;
	u32			mask;
	struct file		*file;
};

/**
 * struct mp3prof_session - Per open file state, and the default session
 * @lock:	Protects everything below but the read()/poll() state.
 * @is_session:	The file called MP3PROF_IOC_SESSION (always true for the
 *		default session).
 * @is_default:	The default session.
 * @mapped:	The ring was mapped: the configuration is final.
 * @mapped_default: This file mapped the default ring.
 * @flags:	MP3PROF_SESSION_* flags.
 * @period_ns:	Sampling period.
 * @max_procs:	Most processes sampled at once.
 * @ring:	The ring, once configured.
 * @wait:	Readers waiting for the head to move.
 * @head:	The ring's head, for read() and poll(): unlike @ring, it stays
 *		valid for the file's lifetime.
 * @seen:	read()/poll(): the head last returned by read() on this file.
 * @procs:	The processes, keyed by struct pid.
 * @list:	The processes, in the order they are sampled and reported.
 * @gone:	Per-process sessions: processes whose last record is due in
 *		the next sample.
 * @carry:	Other sessions: what removed processes did since the last
 *		sample, due in the next sample.
 * @carry_nr:	Number of processes in @carry.
 * @nr_procs:	Number of processes in @procs.
 * @next_tree:	Next value for mp3prof_proc.tree.
 * @untracked:	A descendant could not be sampled on its own since the
 *		last sample (the process limit).
 * @pid_ns:	Pid namespace of the session's owner, for its records.
 * @memcg:	Memory cgroup of the owner, charged for what the sampling
 *		work allocates for the session.
 * @timer:	Fires at each sample's deadline and queues @work.
 * @work:	Takes a sample.
 * @active:	Sampling runs (@timer or @work pending).
 * @dying:	The session ends: sampling must not be restarted.
 * @start:	CLOCK_MONOTONIC time of sample 0 of the current run.
 * @slot:	Number of the next sample of the current run.
 */
struct mp3prof_session {
	struct mutex		lock;	/* see above */
	bool			is_session;
	bool			is_default;
	bool			mapped;
	bool			mapped_default;
	u64			flags;
	u64			period_ns;
	unsigned int		max_procs;
	struct mp3prof_ring	*ring;
	wait_queue_head_t	wait;
	u64			head;
	u64			seen;
	struct rb_root		procs;
	struct list_head	list;
	struct list_head	gone;
	struct mp3prof_counts	carry;
	unsigned int		carry_nr;
	unsigned int		nr_procs;
	u32			next_tree;
	bool			untracked;
	struct pid_namespace	*pid_ns;
	struct mem_cgroup	*memcg;
	struct hrtimer		timer;
	struct work_struct	work;
	bool			active;
	bool			dying;
	ktime_t			start;
	u64			slot;
};

/* core.c */
bool mp3prof_charge_proc(void);
void mp3prof_uncharge_proc(void);
struct mp3prof_session *mp3prof_default_session(void);

/* session.c */
struct mp3prof_session *mp3prof_session_alloc(void);
void mp3prof_session_free(struct mp3prof_session *s);
int mp3prof_session_configure(struct mp3prof_session *s,
			      const struct mp3prof_session_config *cfg,
			      unsigned int global_max);
int mp3prof_session_init_default(struct mp3prof_session *s, u64 period_ns,
				 unsigned int data_pages, unsigned int max_procs);
int mp3prof_add(struct mp3prof_session *s, struct pid *pid,
		const struct cred *cred);
int mp3prof_remove(struct mp3prof_session *s, struct pid *pid);
void mp3prof_proc_free(struct mp3prof_session *s, struct mp3prof_proc *p);
struct mp3prof_proc *mp3prof_find(struct mp3prof_session *s,
				  struct pid *pid);
bool mp3prof_pid_less(struct rb_node *a, const struct rb_node *b);

/* sample.c */
bool mp3prof_ignores_sigchld(struct task_struct *t);
void mp3prof_fold_released(struct mp3prof_session *s, u32 tree);
bool mp3prof_read_own(struct mp3prof_proc *p, struct mp3prof_counts *own,
		      struct mp3prof_counts *kids);
void mp3prof_sampling_init(struct mp3prof_session *s);
void mp3prof_sampling_start(struct mp3prof_session *s);
void mp3prof_sampling_stop(struct mp3prof_session *s);
void mp3prof_discover(struct mp3prof_session *s, struct mp3prof_proc *only);

/* perm.c */
int mp3prof_may_monitor(const struct cred *cred, struct task_struct *task);
bool mp3prof_exec_check(struct mp3prof_proc *p);

/* ring.c */
struct mp3prof_ring *mp3prof_ring_alloc(unsigned int data_pages,
					u64 period_ns, u32 flags,
					unsigned int max_procs, bool owned);
void mp3prof_ring_free(struct mp3prof_ring *ring);
void mp3prof_ring_put(struct mp3prof_ring *ring);
u64 mp3prof_ring_head(const struct mp3prof_ring *ring);
void *mp3prof_ring_slot(struct mp3prof_ring *ring, u64 nr);
void mp3prof_ring_commit(struct mp3prof_ring *ring, u64 head, u64 work_ns);
int mp3prof_ring_mmap(struct mp3prof_ring *ring, struct vm_area_struct *vma);

/* procfs.c: the course's /proc/mp3prof/status */
#ifdef CONFIG_MP3PROF_PROCFS
int mp3prof_procfs_init(void);
void mp3prof_procfs_exit(void);
#else
static inline int mp3prof_procfs_init(void) { return 0; }
static inline void mp3prof_procfs_exit(void) { }
#endif

/* classic.c: the course's buffer, /dev/mp3prof_classic */
#ifdef CONFIG_MP3PROF_CLASSIC
int mp3prof_classic_init(void);
void mp3prof_classic_register(void);
void mp3prof_classic_deregister(void);
void mp3prof_classic_free(void);
void mp3prof_classic_publish(unsigned long jif, const struct mp3prof_counts *sum);
#else
static inline int mp3prof_classic_init(void) { return 0; }
static inline void mp3prof_classic_register(void) { }
static inline void mp3prof_classic_deregister(void) { }
static inline void mp3prof_classic_free(void) { }
static inline void mp3prof_classic_publish(unsigned long jif,
					   const struct mp3prof_counts *sum) { }
#endif

#endif /* _MP3PROF_H */
