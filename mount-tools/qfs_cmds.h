/* SPDX-License-Identifier: MIT */
/*
 * qfs_cmds.h - the subcommands of `qfs`, one function each.
 *
 * Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit code. Commands that need the
 * cluster load the config themselves, so `qfs keygen` works without one.
 */
#ifndef QFS_MOUNT_TOOLS_QFS_CMDS_H
#define QFS_MOUNT_TOOLS_QFS_CMDS_H

#include <stdint.h>

int qfs_cmd_sync(int argc, char **argv);	/* qfs_basic.c */
int qfs_cmd_df(int argc, char **argv);		/* qfs_basic.c */
int qfs_cmd_replicas(int argc, char **argv);	/* qfs_basic.c */
int qfs_cmd_status(int argc, char **argv);	/* qfs_status.c */
int qfs_cmd_keygen(int argc, char **argv);	/* qfs_keygen.c */
int qfs_cmd_layout(int argc, char **argv);	/* qfs_status.c */
int qfs_cmd_layout_edit(int argc, char **argv); /* qfs_layout.c: show|add|remove|... */
int qfs_cmd_rebalance(int argc, char **argv);	/* qfs_rebalance.c */

struct qfs_quorum;
struct proto_layout;
/* LAYOUT_SET @next on every daemon of @base and @next, CAS on base's version
 * (qfs_layout.c); *took counts the daemons that hold it now (a removed one
 * that is down is skipped). 0, -ESTALE (another layout won), -EIO (some
 * failed). */
int mnt_layout_push(struct qfs_quorum *q, const struct proto_layout *base,
		    const struct proto_layout *next, int *took);

struct proto_layout_ring;
/*
 * Whether every request routed by a layout older than @version is refused
 * on the daemons of @ring (qfs_layout_guard.c): 0 when fewer than
 * min(W, R) of them hold (or may hold: no answer) an older version, so no
 * preference list of @ring can serve such a request; else -EAGAIN, with
 * the lagging daemons and @why on stderr.
 */
int mnt_layout_retired(struct qfs_quorum *q, const struct proto_layout_ring *ring,
		       uint64_t version, const char *why);

#endif
