/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mp3prof internal interfaces.
 */
#ifndef _MP3PROF_H
#define _MP3PROF_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <uapi/linux/mp3prof.h>

struct file;
struct pid;
struct task_struct;

/**
 * struct mp3prof_counts - Cumulative counters of one process
 * @min_flt:	Minor faults.
 * @maj_flt:	Major faults.
 * @cpu_ns:	CPU time in ns.
 */
struct mp3prof_counts {
	u64	min_flt;
	u64	maj_flt;
	u64	cpu_ns;
};

/**
 * struct mp3prof_proc - A registered process
 * @hnode:	Entry in the registry hash, keyed by @pid.
 * @node:	Entry in the registry list, in registration order.
 * @pid:	The process's thread group id; identifies it even after its
 *		number is recycled.
 * @leader:	Reference to the group leader at registration.  It pins
 *		->signal, where the counters of exited threads accumulate, so
 *		the final interval of an exited process can still be read.
 * @base:	Counters at registration.
 * @last:	Counters at the last sample.
 */
struct mp3prof_proc {
	struct hlist_node	hnode;
	struct list_head	node;
	struct pid		*pid;
	struct task_struct	*leader;
	struct mp3prof_counts	base;
	struct mp3prof_counts	last;
};

/* core.c: the registry, protected by mp3prof_lock */
extern struct mutex mp3prof_lock;
extern struct list_head mp3prof_procs;
extern unsigned int mp3prof_rate;
int mp3prof_register(struct pid *pid, struct task_struct *leader);
int mp3prof_unregister(struct pid *pid);
void mp3prof_remove(struct mp3prof_proc *p);

/* control.c: /proc/mp3prof/status */
int mp3prof_control_init(void);
void mp3prof_control_exit(void);

/* sample.c */
bool mp3prof_read_counts(const struct mp3prof_proc *p,
			 struct mp3prof_counts *c);
void mp3prof_sampling_start(void);
void mp3prof_sampling_carry(struct mp3prof_proc *p);
void mp3prof_sampling_exit(void);

/* ring.c: the sample ring and /dev/mp3prof */
int mp3prof_ring_init(unsigned int data_pages, unsigned int rate);
void mp3prof_ring_exit(void);
void mp3prof_ring_publish(struct mp3prof_sample *s);

#endif /* _MP3PROF_H */
