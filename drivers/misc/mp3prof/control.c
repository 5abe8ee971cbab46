// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof control file: /proc/mp3prof/status.
 *
 * "R <pid>" registers a process, "U <pid>" unregisters it; reading lists
 * the registered processes.  The format is that of the classic MP3 page
 * fault profiler assignment, extended with the fault counts.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/proc_fs.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "mp3prof.h"

/*
 * Anyone may write: every command is checked against its target process,
 * as the classic assignment's world-writable status file expects.
 */
#define MP3PROF_STATUS_MODE	0666

/* Longest command accepted, "R 4194304" with plenty of room for spaces. */
#define MP3PROF_CMD_MAX		64

static struct proc_dir_entry *mp3prof_dir;

/*
 * The same rule as perf_event_open() for a task: CAP_PERFMON, or ptrace
 * read access.  The check uses the credentials of whoever opened the file,
 * not of the writer, so that handing the descriptor to a more privileged
 * program (a setuid binary's stdout, say) grants nothing.
 */
static bool mp3prof_may_monitor(struct file *file, struct task_struct *task)
{
	const struct cred *old = override_creds(file->f_cred);
	bool ok;

	ok = perfmon_capable() ||
	     ptrace_may_access(task, PTRACE_MODE_READ_REALCREDS);
	revert_creds(old);
	return ok;
}

static int mp3prof_command(struct file *file, char cmd, int nr)
{
	struct task_struct *leader;
	struct pid *pid;
	int ret;

	pid = find_get_pid(nr);
	if (!pid)
		return -ESRCH;
	/* Only a thread group leader's pid names a process. */
	leader = get_pid_task(pid, PIDTYPE_TGID);
	if (leader && !mp3prof_may_monitor(file, leader)) {
		ret = -EPERM;
	} else if (cmd == 'U') {
		ret = mp3prof_unregister(pid);
		/* A number that names no process is ESRCH, as for "R". */
		if (ret == -ENOENT && !leader)
			ret = -ESRCH;
	} else if (!leader || !atomic_read(&leader->signal->live)) {
		ret = -ESRCH;
	} else {
		ret = mp3prof_register(pid, leader);
		if (!ret)
			return 0;	/* the registry owns both references now */
	}
	if (leader)
		put_task_struct(leader);
	put_pid(pid);
	return ret;
}

/* Parse "R <pid>" or "U <pid>", with optional surrounding white space. */
static int mp3prof_parse(char *buf, size_t len, char *cmd, int *nr)
{
	char *s;

	if (strnlen(buf, len) != len)
		return -EINVAL;
	s = strim(buf);
	if ((s[0] != 'R' && s[0] != 'U') || !isspace(s[1]))
		return -EINVAL;
	*cmd = s[0];
	if (kstrtoint(skip_spaces(s + 1), 10, nr) || *nr <= 0)
		return -EINVAL;
	return 0;
}

static ssize_t mp3prof_status_write(struct file *file, const char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	char buf[MP3PROF_CMD_MAX + 1];
	char cmd;
	int nr, ret;

	if (!count || count > MP3PROF_CMD_MAX)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';

	ret = mp3prof_parse(buf, count, &cmd, &nr);
	if (!ret)
		ret = mp3prof_command(file, cmd, nr);
	return ret ? ret : count;
}

static void *mp3prof_seq_start(struct seq_file *m, loff_t *pos)
{
	mutex_lock(&mp3prof_lock);
	return seq_list_start(&mp3prof_procs, *pos);
}

static void *mp3prof_seq_next(struct seq_file *m, void *v, loff_t *pos)
{
	return seq_list_next(v, &mp3prof_procs, pos);
}

static void mp3prof_seq_stop(struct seq_file *m, void *v)
{
	mutex_unlock(&mp3prof_lock);
}

static int mp3prof_seq_show(struct seq_file *m, void *v)
{
	struct mp3prof_proc *p = list_entry(v, struct mp3prof_proc, node);
	pid_t nr = pid_nr_ns(p->pid, m->private);

	/* Not visible in the reader's pid namespace. */
	if (!nr)
		return SEQ_SKIP;
	seq_printf(m, "%d: %llu %llu %llu\n", nr,
		   p->last.cpu_ns - p->base.cpu_ns,
		   p->last.min_flt - p->base.min_flt,
		   p->last.maj_flt - p->base.maj_flt);
	return 0;
}

static const struct seq_operations mp3prof_seq_ops = {
	.start	= mp3prof_seq_start,
	.next	= mp3prof_seq_next,
	.stop	= mp3prof_seq_stop,
	.show	= mp3prof_seq_show,
};

static int mp3prof_status_open(struct inode *inode, struct file *file)
{
	struct seq_file *m;
	int ret;

	ret = seq_open(file, &mp3prof_seq_ops);
	if (ret)
		return ret;
	m = file->private_data;
	m->private = get_pid_ns(task_active_pid_ns(current));
	return 0;
}

static int mp3prof_status_release(struct inode *inode, struct file *file)
{
	struct seq_file *m = file->private_data;

	put_pid_ns(m->private);
	return seq_release(inode, file);
}

static const struct proc_ops mp3prof_status_ops = {
	.proc_open	= mp3prof_status_open,
	.proc_read	= seq_read,
	.proc_lseek	= seq_lseek,
	.proc_write	= mp3prof_status_write,
	.proc_release	= mp3prof_status_release,
};

/**
 * mp3prof_control_init() - Create /proc/mp3prof/status
 *
 * Return: 0 or -ENOMEM.
 */
int mp3prof_control_init(void)
{
	mp3prof_dir = proc_mkdir("mp3prof", NULL);
	if (!mp3prof_dir)
		return -ENOMEM;
	if (!proc_create("status", MP3PROF_STATUS_MODE, mp3prof_dir, &mp3prof_status_ops)) {
		proc_remove(mp3prof_dir);
		return -ENOMEM;
	}
	return 0;
}

/**
 * mp3prof_control_exit() - Remove /proc/mp3prof, waiting for its users
 */
void mp3prof_control_exit(void)
{
	proc_remove(mp3prof_dir);
}
