/* SPDX-License-Identifier: MIT */
/*
 * layout.h - the cluster layout as daemons store it (proto/layout.h) and as
 * the rest of fs/ uses it (struct qfs_cluster): conversions both ways, and
 * the staged-change file of `qfs layout`. Pure functions; no I/O except
 * the staging file.
 */
#ifndef QFS_FS_LAYOUT_H
#define QFS_FS_LAYOUT_H

#include "fs/config.h"
#include "proto/layout.h"

/* The daemons, N/W/R, vnodes and layout_version of @cl as a layout ring. */
void qfs_layout_from_cluster(const struct qfs_cluster *cl, struct proto_layout_ring *out);

/*
 * @base (path, timeout, client keys) with the daemons, N/W/R, vnodes and
 * version of @r. Returns 0 or -EINVAL (@r does not fit a cluster).
 */
int qfs_layout_to_cluster(const struct qfs_cluster *base, const struct proto_layout_ring *r,
			  struct qfs_cluster *out);

#endif
