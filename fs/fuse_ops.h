/* SPDX-License-Identifier: MIT */
/*
 * fuse_ops.h - the FUSE low-level glue: one callback per operation, each a
 * thin translation to fs/fs.h that replies exactly once.
 */
#ifndef QFS_FS_FUSE_OPS_H
#define QFS_FS_FUSE_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "fs/fs.h"

/* Mount-wide settings; immutable once the session runs. */
struct fsc_mount {
	struct qfs_fs *fs;
	struct fuse_session *se; /* set before the loop starts */
	double attr_timeout;	 /* seconds the kernel may cache attributes */
	double entry_timeout;	 /* seconds the kernel may cache names */
	double negative_timeout; /* seconds it may cache "no such name" */
	bool writeback_cache;	 /* opt-in: single-client use only */
	bool ino32;		 /* fold st_ino to 32 bits for old programs */
	bool read_only;
};

extern const struct fuse_lowlevel_ops fsc_ops;

#endif
