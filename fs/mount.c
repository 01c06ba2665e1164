// SPDX-License-Identifier: MIT
/*
 * mount.c - the `quorumfs` mount binary.
 *
 *   quorumfs CONFIG MOUNTPOINT [-f] [-d] [-s] [-o OPTIONS]
 *
 * The argument order is mount.fuse3's, so `mount -t fuse.quorumfs CONFIG MNT`
 * and fstab lines work. Without -f the process forks first (the engine
 * thread must be born in the process that serves the mount), and the parent
 * waits until the child has connected and mounted, then exits 0, or prints
 * the child's error and exits 1: a failed mount never looks like success.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/config.h"
#include "fs/fuse_ops.h"
#include "fs/mount_opts.h"
#include "proto/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: quorumfs CONFIG MOUNTPOINT [-f] [-d] [-s] [-o OPTION[,OPTION...]]\n"
		"  -f  stay in the foreground, log to stderr\n"
		"  -d  debug log (implies -f)\n"
		"  -s  single-threaded\n"
		"options: r=N w=N timeout_ms=MS attr_timeout=S entry_timeout=S\n"
		"  negative_timeout=S writeback_cache ino32 ro degraded_read nostatahead allow_other\n"
		"  hinted_handoff\n"
		"  repair_rate=KEYS_PER_S (0 = no background repair) tomb_grace=S\n"
		"  default_permissions log_file=/PATH (and the usual mount options,\n"
		"  ignored or passed on)\n");
}

/* Write the outcome to the waiting parent: status byte then message. */
static void report(int fd, int status, const char *msg)
{
	char buf[1024];
	size_t len;

	if (fd < 0)
		return;
	buf[0] = (char)status;
	len = (size_t)snprintf(buf + 1, sizeof(buf) - 1, "%s", msg ? msg : "");
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	if (write(fd, buf, len + 1) < 0)
		qlog_warn("cannot report to the parent: %s", strerror(errno));
	close(fd);
}

/* Parent side: wait for the child's word and exit with it. */
static int wait_child(int fd)
{
	char buf[1024];
	ssize_t n;

	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		fprintf(stderr, "quorumfs: the mount process died before mounting\n");
		return 1;
	}
	buf[n] = '\0';
	if (buf[0] != 0) {
		fprintf(stderr, "quorumfs: %s\n", buf + 1);
		return 1;
	}
	return 0;
}

static int serve(struct mnt_opts *o, int ready_fd)
{
	struct fsc_mount m = { 0 };
	struct qfs_fs_opts fo = { 0 };
	struct qfs_cluster *cl = NULL;
	struct fuse_session *se = NULL;
	struct fuse_loop_config *lc = NULL;
	char err[1024];
	int rc;

	rc = qfs_config_load(o->config, &cl, err, sizeof(err));
	if (rc < 0) {
		report(ready_fd, 1, err);
		return 1;
	}
	if (o->w || o->r) {
		rc = qfs_config_set_quorums(cl, o->w, o->r, err, sizeof(err));
		if (rc < 0) {
			report(ready_fd, 1, err);
			goto out_config;
		}
	}
	if (qfs_config_weak_quorum(cl))
		qlog_warn("read_quorum %u + write_quorum %u <= replicas %u: reads may miss "
			  "the latest write", cl->r, cl->w, cl->n);
	fo.timeout_ms = o->timeout_ms;
	fo.read_only = o->read_only;
	fo.degraded_read = o->degraded_read;
	fo.hinted_handoff = o->hinted_handoff;
	fo.repair_rate = o->repair_rate;
	fo.tomb_grace_s = o->tomb_grace_s;
	/* Statahead answers live no longer than the kernel keeps what a
	 * lookup returned (docs/consistency.md). */
	if (!o->no_statahead)
		fo.statahead_ms = (unsigned)(1000 * (o->attr_timeout < o->entry_timeout
							 ? o->attr_timeout
							 : o->entry_timeout));
	/* a GETATTR right after an open: its read, if the kernel may cache
	 * attributes that long anyway */
	fo.open_attr_ms = o->attr_timeout < 0.1 ? (unsigned)(1000 * o->attr_timeout) : 100;
	rc = qfs_fs_open(cl, &fo, &m.fs, err, sizeof(err));
	if (rc < 0) {
		report(ready_fd, 1, err);
		goto out_config;
	}
	m.attr_timeout = o->attr_timeout;
	m.entry_timeout = o->entry_timeout;
	m.negative_timeout = o->negative_timeout;
	m.writeback_cache = o->writeback_cache;
	m.ino32 = o->ino32;
	m.read_only = o->read_only;

	se = fuse_session_new(&o->fuse_args, &fsc_ops, sizeof(fsc_ops), &m);
	if (!se) {
		report(ready_fd, 1, "cannot create the FUSE session (bad -o option?)");
		rc = -EINVAL;
		goto out_fs;
	}
	m.se = se;
	if (fuse_set_signal_handlers(se) != 0) {
		report(ready_fd, 1, "cannot install signal handlers");
		rc = -EIO;
		goto out_session;
	}
	if (fuse_session_mount(se, o->mountpoint) != 0) {
		snprintf(err, sizeof(err), "cannot mount on %s (is /dev/fuse there, and the "
			 "directory empty and not mounted?)", o->mountpoint);
		report(ready_fd, 1, err);
		rc = -EIO;
		goto out_signals;
	}
	qlog_info("mounted %s on %s (N=%u W=%u R=%u)", cl->path, o->mountpoint, cl->n, cl->w,
		  cl->r);
	if (ready_fd >= 0) {
		report(ready_fd, 0, NULL);
		/* Daemon: detach from the terminal, log to syslog from now on. */
		if (setsid() < 0)
			qlog_warn("setsid: %s", strerror(errno));
		int null = open("/dev/null", O_RDWR);
		int log = o->log_file ? open(o->log_file, O_WRONLY | O_APPEND | O_CREAT |
					     O_CLOEXEC, 0600) : -1;

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(log >= 0 ? log : null, 2);
			if (null > 2)
				close(null);
		}
		if (log >= 0) {
			close(log);
			qlog_init("quorumfs", false, QLOG_INFO);
		}
		if (chdir("/") < 0)
			qlog_warn("chdir /: %s", strerror(errno));
	}

	if (o->single_thread) {
		rc = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		fuse_loop_cfg_set_max_threads(lc, 64);
		fuse_loop_cfg_set_idle_threads(lc, 16);
		rc = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	fuse_session_unmount(se);
	rc = rc < 0 ? rc : 0;
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_fs:
	qfs_fs_close(m.fs);
out_config:
	qfs_config_free(cl);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct mnt_opts o;
	char err[512];
	int pipefd[2];
	pid_t pid;
	int rc;

	rc = mnt_opts_parse(argc, argv, &o, err, sizeof(err));
	if (rc == 1) {
		usage(stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "quorumfs: %s\n", err);
		usage(stderr);
		return 2;
	}
	if (o.foreground) {
		qlog_init("quorumfs", false, o.debug ? QLOG_DEBUG : QLOG_INFO);
		rc = serve(&o, -1);
		mnt_opts_free(&o);
		return rc;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		perror("quorumfs: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("quorumfs: fork");
		return 1;
	}
	if (pid > 0) {
		close(pipefd[1]);
		rc = wait_child(pipefd[0]);
		mnt_opts_free(&o);
		return rc;
	}
	close(pipefd[0]);
	qlog_init("quorumfs", true, QLOG_INFO);
	rc = serve(&o, pipefd[1]);
	mnt_opts_free(&o);
	return rc;
}
