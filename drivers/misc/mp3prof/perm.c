// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof permissions: the rule of perf_event_open().
 *
 * Sampling a process hands out its fault counts and CPU time as a time
 * series, which is what "perf stat -p" does; so whoever may count events
 * of a process with perf_event_open() may sample it, nobody else:
 * perf_event_paranoid, the perf_event LSM hook, and CAP_PERFMON or ptrace
 * read access, all applied by perf_allow_task().  Like perf, the check is
 * made again when a sampled process execs, and a process that exec'd a
 * program which changed its credentials (setuid, setgid, file
 * capabilities) is not sampled any more.
 */
#include <linux/cred.h>
#include <linux/perf_event.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>

#include "mp3prof.h"

/**
 * mp3prof_may_monitor() - May the owner of @cred sample @task?
 * @cred: Credentials of whoever asks: a session's owner, or the opener of
 *	  the control file (so that handing the descriptor to a more
 *	  privileged program grants nothing).
 * @task: The thread group leader of the process.
 *
 * The caller holds @task->signal->exec_update_lock, as perf_event_open()
 * does, so that an exec cannot change the credentials checked.
 *
 * Return: 0 or -EPERM.
 */
int mp3prof_may_monitor(const struct cred *cred, struct task_struct *task)
{
	const struct cred *old = override_creds(cred);
	int ret;

	ret = perf_allow_task(task);
	revert_creds(old);
	return ret ? -EPERM : 0;
}

/**
 * mp3prof_exec_check() - Check a sampled process again after an exec
 * @p: The process.
 *
 * Cheap unless the process exec'd since the last check.  An exec that is
 * still under way (exec_update_lock held) is checked at the next sample.
 *
 * Return: false if the process may not be sampled any more.
 */
bool mp3prof_exec_check(struct mp3prof_proc *p)
{
	struct rw_semaphore *lock = &p->leader->signal->exec_update_lock;
	struct task_struct *task;
	bool ok = true;
	u64 id;

	rcu_read_lock();
	task = pid_task(p->pid, PIDTYPE_TGID);
	id = task ? READ_ONCE(task->self_exec_id) : p->exec_id;
	rcu_read_unlock();
	if (id == p->exec_id || !down_read_trylock(lock))
		return true;

	task = get_pid_task(p->pid, PIDTYPE_TGID);
	if (task) {
		ok = !mp3prof_may_monitor(p->cred, task);
		id = task->self_exec_id;
		put_task_struct(task);
	}
	up_read(lock);
	if (ok)
		p->exec_id = id;
	return ok;
}
