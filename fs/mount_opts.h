/* SPDX-License-Identifier: MIT */
/*
 * mount_opts.h - the command line of `quorumfs` and its -o options.
 */
#ifndef QFS_FS_MOUNT_OPTS_H
#define QFS_FS_MOUNT_OPTS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>

struct mnt_opts {
	const char *config;	/* cluster config file */
	const char *mountpoint;
	bool foreground, debug, single_thread;
	unsigned w, r, timeout_ms; /* 0 = from the config */
	double attr_timeout, entry_timeout, negative_timeout;
	bool writeback_cache, ino32, read_only;
	bool no_statahead; /* lookups never read a directory ahead */
	bool degraded_read;	/* serve reads below R; writes missing W: EROFS */
	bool hinted_handoff;	/* PUTs short of W also go to fallback daemons */
	unsigned repair_rate;	/* background repair keys/s; 0 = off */
	unsigned tomb_grace_s;	/* 0 = the default (QFS_TOMB_GRACE_DEFAULT_S) */
	char *log_file;		/* background mode: log here instead of syslog */
	struct fuse_args fuse_args; /* options handed to libfuse */
};

/*
 * Parse argv. Returns 0, 1 for --help, or -EINVAL with a message in @err
 * naming the bad argument. Free with mnt_opts_free().
 */
int mnt_opts_parse(int argc, char **argv, struct mnt_opts *o, char *err, size_t errlen);
void mnt_opts_free(struct mnt_opts *o);

#endif
