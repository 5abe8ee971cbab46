// SPDX-License-Identifier: GPL-2.0-only
/*
 * mp3prof's course interface (CONFIG_MP3PROF_PROCFS): /proc/mp3prof/status.
 *
 * "R <pid>" (or a bare "<pid>") adds a process to the default session,
 * "U <pid>" removes it; reading lists the default session's processes.  The format is that of
 * the classic MP3 page fault profiler assignment, extended with the fault
 * counts, so that its programs keep working.  New programs use sessions on
 * /dev/mp3prof instead.
 */
#include <linux/ctype.h>
#include <linux/cred.h>
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
 * The credentials checked are those of whoever opened the file, not of the
 * writer, so that handing the descriptor to a more privileged program (a
 * setuid binary's stdout, say) grants nothing.
 */
static int mp3prof_command(struct file *file, char cmd, int nr)
{
	struct mp3prof_session *s = mp3prof_default_session();
	struct task_struct *leader;
	struct pid *pid;
	int ret;

	pid = find_get_pid(nr);
	if (!pid)
		return -ESRCH;
	if (cmd == 'R') {
		ret = mp3prof_add(s, pid, file->f_cred);
		put_pid(pid);
		return ret;
	}

	/* Only a thread group leader's pid names a process. */
	leader = get_pid_task(pid, PIDTYPE_TGID);
	/* Anyone may remove a process that exited. */
	if (leader && atomic_read(&leader->signal->live) &&
	    mp3prof_may_monitor(file->f_cred, leader)) {
		ret = -EPERM;
	} else {
		ret = mp3prof_remove(s, pid);
		/* A number that names no process is ESRCH, as for "R". */
		if (ret == -ENOENT && !leader)
			ret = -ESRCH;
	}
	if (leader)
		put_task_struct(leader);
	put_pid(pid);
	return ret;
}

/*
 * Parse "R <pid>" or "U <pid>", or a bare "<pid>", which registers it as
 * in the course's first assignment (MP1); surrounding white space is
 * ignored.
 */
static int mp3prof_parse(char *buf, size_t len, char *cmd, int *nr)
{
	char *s;

	if (strnlen(buf, len) != len)
		return -EINVAL;
	s = strim(buf);
	if (isdigit(s[0])) {
		*cmd = 'R';
	} else if ((s[0] == 'R' || s[0] == 'U') && isspace(s[1])) {
		*cmd = s[0];
		s = skip_spaces(s + 1);
	} else {
		return -EINVAL;
	}
	if (kstrtoint(s, 10, nr) || *nr <= 0)
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

/*
 * Would the reader see the process's /proc/PID/stat?  The rule of procfs's
 * hidepid= and gid= mount options (has_pid_permissions()), applied with
 * the opener's credentials.
 */
static bool mp3prof_visible(struct seq_file *m, struct mp3prof_proc *p)
{
	struct proc_fs_info *fs_info = proc_sb_info(file_inode(m->file)->i_sb);
	const struct cred *old;
	struct task_struct *task;
	bool ok;

	if (fs_info->hide_pid < HIDEPID_NO_ACCESS)
		return true;
	task = get_pid_task(p->pid, PIDTYPE_TGID);
	if (!task)
		return false;
	old = override_creds(m->file->f_cred);
	ok = (fs_info->hide_pid != HIDEPID_NOT_PTRACEABLE &&
	      in_group_p(fs_info->pid_gid)) ||
	     ptrace_may_access(task, PTRACE_MODE_READ_FSCREDS);
	revert_creds(old);
	put_task_struct(task);
	return ok;
}

static void *mp3prof_seq_start(struct seq_file *m, loff_t *pos)
{
	struct mp3prof_session *s = mp3prof_default_session();

	mutex_lock(&s->lock);
	return seq_list_start(&s->list, *pos);
}

static void *mp3prof_seq_next(struct seq_file *m, void *v, loff_t *pos)
{
	return seq_list_next(v, &mp3prof_default_session()->list, pos);
}

static void mp3prof_seq_stop(struct seq_file *m, void *v)
{
	mutex_unlock(&mp3prof_default_session()->lock);
}

static int mp3prof_seq_show(struct seq_file *m, void *v)
{
	struct mp3prof_proc *p = list_entry(v, struct mp3prof_proc, list);
	struct proc_fs_info *fs_info = proc_sb_info(file_inode(m->file)->i_sb);
	pid_t nr = pid_nr_ns(p->pid, fs_info->pid_ns);

	/* As in this /proc: numbered by its pid namespace, hidepid= applies. */
	if (!nr || !mp3prof_visible(m, p))
		return SEQ_SKIP;
	seq_printf(m, "%d: %llu %llu %llu\n", nr,
		   p->own.cpu_ns - p->base.cpu_ns,
		   p->own.min_flt - p->base.min_flt,
		   p->own.maj_flt - p->base.maj_flt);
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
	return seq_open(file, &mp3prof_seq_ops);
}

static const struct proc_ops mp3prof_status_ops = {
	.proc_open	= mp3prof_status_open,
	.proc_read	= seq_read,
	.proc_lseek	= seq_lseek,
	.proc_write	= mp3prof_status_write,
	.proc_release	= seq_release,
};

/**
 * mp3prof_procfs_init() - Create /proc/mp3prof/status
 *
 * Return: 0 or -ENOMEM.
 */
int mp3prof_procfs_init(void)
{
	mp3prof_dir = proc_mkdir("mp3prof", NULL);
	if (!mp3prof_dir)
		return -ENOMEM;
	if (!proc_create("status", MP3PROF_STATUS_MODE, mp3prof_dir,
			 &mp3prof_status_ops)) {
		proc_remove(mp3prof_dir);
		return -ENOMEM;
	}
	return 0;
}

/**
 * mp3prof_procfs_exit() - Remove /proc/mp3prof, waiting for its users
 */
void mp3prof_procfs_exit(void)
{
	proc_remove(mp3prof_dir);
}
