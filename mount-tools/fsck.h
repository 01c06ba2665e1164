/* SPDX-License-Identifier: MIT */
/*
 * fsck.h - the state shared by fsck.quorumfs's passes (fsck.c holds main
 * and the replica pass; each further pass lives in its own fsck_*.c).
 */
#ifndef QFS_FSCK_H
#define QFS_FSCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/config.h"
#include "fs/quorum.h"
#include "fs/quorum_scan.h"

#define FSCK_EXIT_CLEAN 0
#define FSCK_EXIT_CORRECTED 1
#define FSCK_EXIT_UNCORRECTED 4
#define FSCK_EXIT_OPERATIONAL 8
#define FSCK_EXIT_USAGE 16

#define FSCK_PAGE 1024			/* SCAN entries per page */
#define FSCK_PROGRESS_NS 200000000ull	/* progress line refresh */

struct fsck_stats {
	uint64_t keys, replicas_checked;
	uint64_t missing, stale, corrupt, misplaced;
	uint64_t repaired, failed, left;	/* left: found and not repaired */
};

struct fsck {
	struct qfs_quorum *q;
	const struct qfs_cluster *cl;
	bool repair, json, progress;
	struct qfs_scan_cur cur[QFS_MAX_DAEMONS];
	int scan_err[QFS_MAX_DAEMONS];	/* 0 or why daemon i's SCAN failed */
	struct fsck_stats st;
	uint64_t t0_ns, last_progress_ns;
	uint64_t grace_s;		/* --grace: tombstones older than this may go */
};

#define FSCK_GRACE_DEFAULT_S (7u * 24 * 3600) /* --grace when not given */

/* One report line on stdout (text mode only; nothing with --json). */
void fsck_say(struct fsck *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "HLC.writer" of @m into @buf, "(deleted)" appended for a tombstone. */
const char *fsck_ver(const struct proto_meta *m, char *buf, size_t len);

#endif
