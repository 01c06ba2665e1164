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
	/* tombstones on all N replicas past --grace (fsck_tomb.c): not errors */
	uint64_t purgeable, purged, purge_failed;
};

/* The quick pass over the pending-repair indexes (fsck_pending.c). */
struct fsck_quick {
	bool ran;
	uint64_t entries;	/* listed, over every daemon */
	uint64_t whole;		/* of those: key on every replica after the check */
	uint64_t deleted;	/* entries dropped from an index (-y) */
	uint64_t unchecked;	/* keys some daemon did not answer HEAD for: left */
};

/*
 * Namespace pass (fsck_ns*.c, docs/fsck.md "Namespace pass"): each problem
 * is counted once under its kind, then as fixed or left.
 */
struct fsck_ns_stats {
	bool ran;				/* the pass ran to the end */
	uint64_t inodes, dirs, entries, links, chunks;	/* live records examined */
	uint64_t dangling;			/* entries to missing or deleted inodes */
	uint64_t dead_dir_entries;		/* entries of a deleted directory */
	uint64_t missing_links;			/* entries without their LINK */
	uint64_t stray_links;			/* LINKs without their entry */
	uint64_t extra_dir_names;		/* a directory's second name */
	uint64_t lost_found;			/* unreachable inodes moved to /lost+found */
	uint64_t cycles;			/* of those: directories in a cycle */
	uint64_t orphans_deleted;		/* unreachable, no link, past --grace */
	uint64_t chunks_past_eof, chunks_orphaned;
	uint64_t bad_records;			/* undecodable values: reported, left */
	uint64_t in_grace;			/* orphans younger than --grace: not errors */
	uint64_t busy;				/* changed since the scan, or too recent */
	uint64_t found, fixed, failed, left;
	uint64_t garbage, garbage_freed;	/* chunks_past_eof + chunks_orphaned: not errors */
};

/*
 * Rebuilding daemons (fsck_rebuild.c): the ones rebuilding when the run
 * started, what the replica pass left bad on each daemon, and which were
 * declared refilled (REBUILT) at the end of a complete -y pass.
 */
struct fsck_rebuild {
	int n;					/* daemons rebuilding at start */
	bool at_start[QFS_MAX_DAEMONS];
	uint8_t store_id[QFS_MAX_DAEMONS][PROTO_ID_LEN]; /* their store then */
	uint64_t boot[QFS_MAX_DAEMONS];		/* and their boot verifier */
	uint64_t left[QFS_MAX_DAEMONS];		/* bad replicas left on each daemon */
	bool rebuilt[QFS_MAX_DAEMONS];		/* REBUILT accepted */
	int nrebuilt;
};

/*
 * DIGEST planning of the replica pass (fsck_digest.c): which buckets are
 * known to agree, so that only the keys of the others are scanned.
 */
struct fsck_digest {
	bool used;			/* digests decided what the pass scans */
	const char *why_not;		/* else why not ("--full", a daemon's error) */
	uint64_t empty;			/* buckets no daemon has a key in */
	uint64_t clean;			/* non-empty, every replica equal, no stray copy */
	uint64_t differ;		/* replicas disagree or a copy is misplaced */
	uint64_t straddle;		/* a ring point changes the replicas inside it */
	uint64_t fetch_ms, plan_ms;	/* DIGEST round trip, classification */
	uint8_t *map;			/* PROTO_DIGEST_BITMAP_LEN: buckets to scan */
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
	bool quick;			/* --quick: the pending-repair pass only */
	struct fsck_quick pq;
	struct fsck_ns_stats ns;	/* namespace pass */
	struct fsck_rebuild rb;		/* rebuilding daemons */
	bool full;			/* --full: scan every key, ignore DIGEST */
	struct fsck_digest dg;		/* DIGEST planning (fsck_digest.c) */
	uint64_t replica_ms;		/* time the replica pass took (with planning) */
};

#define FSCK_GRACE_DEFAULT_S (7u * 24 * 3600) /* --grace when not given */

/* One report line on stdout (text mode only; nothing with --json). */
void fsck_say(struct fsck *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Whether daemon @d is named by the layout in use (the current one or, in a
 * transition, the previous one). One outside it was removed: it holds no
 * replica that counts, so when it is down (a dead host removed from the
 * layout, still named by the config) the passes go on without it.
 */
bool fsck_member(const struct fsck *f, int d);

/* "HLC.writer" of @m into @buf, "(deleted)" appended for a tombstone. */
const char *fsck_ver(const struct proto_meta *m, char *buf, size_t len);

/*
 * The namespace pass (fsck_ns.c), run after a successful replica pass:
 * dangling entries, orphans, LINK sets, directory cycles, chunks past EOF
 * or of deleted inodes; repaired with -y. Fills f->ns. Returns 0, or -errno
 * when the records could not be read (an operational error).
 */
int fsck_ns_pass(struct fsck *f);
/* Its summary line (text mode) and its "namespace" JSON object (NULL on ENOMEM). */
void fsck_ns_report_text(const struct fsck *f);
struct json_t;
struct json_t *fsck_ns_json(const struct fsck *f);

/*
 * Rebuilding daemons (fsck_rebuild.c). start: after open, note (and say)
 * which daemons are rebuilding. left: the replica pass left @n bad replicas
 * on daemon @daemon. finish: after a complete pass (@pass_rc 0) with -y,
 * send REBUILT to each daemon that was rebuilding at start, reachable
 * throughout, on the same store, with nothing left on it. still: how many
 * are still rebuilding (an error left, for the exit code). json: the
 * "rebuilding" (still) or "rebuilt" (@rebuilt) names (NULL on ENOMEM).
 */
void fsck_rebuild_start(struct fsck *f);
void fsck_rebuild_left(struct fsck *f, int daemon, uint64_t n);
void fsck_rebuild_finish(struct fsck *f, int pass_rc);
int fsck_rebuild_still(const struct fsck *f);
void fsck_rebuild_report_text(const struct fsck *f);
struct json_t *fsck_rebuild_json(const struct fsck *f, bool rebuilt);

/*
 * Examine one key of the replica pass (fsck.c): @has[d] / @meta[d] what
 * daemon d holds (ndaemons entries). Counts and reports each bad replica,
 * repairs them with -y, and hands a tombstone that every replica holds to
 * fsck_tomb_key(). Returns true when every replica holds the newest copy
 * afterwards (nothing was bad, or every repair succeeded).
 */
bool fsck_key(struct fsck *f, const struct proto_key *key, const bool *has,
	      const struct proto_meta *meta);

/*
 * fsck_tomb.c: tombstone @best of @key is on all @n replicas @reps; if it is
 * older than --grace, on the full N, and no daemon outside @reps holds a
 * copy (@has), count it purgeable and with -y PURGE it on every replica.
 */
void fsck_tomb_key(struct fsck *f, const struct proto_key *key, const struct proto_meta *best,
		   const int *reps, int n, const bool *has);

/*
 * fsck_digest.c: fetch every daemon's bucket digests and set f->dg.map to
 * the buckets whose keys must be scanned (the rest agree: equal digests on
 * the bucket's replicas, 0 on every other daemon). Sets f->dg.used, or
 * leaves it false with f->dg.why_not when a daemon has no digests (older,
 * unreachable): the pass then scans everything. Returns 0 or -ENOMEM.
 */
int fsck_digest_plan(struct fsck *f);
void fsck_digest_report_text(const struct fsck *f);
struct json_t *fsck_digest_json(const struct fsck *f); /* NULL on ENOMEM */
void fsck_digest_free(struct fsck *f);

/*
 * fsck_pending.c, --quick: list every daemon's pending-repair index, run
 * fsck_key() on each key listed (HEAD on every daemon), and with -y drop
 * the entry from the index that listed it once the key is whole. Returns 0,
 * or -errno when a daemon did not answer PENDING_LIST (nothing repaired).
 */
int fsck_pending_pass(struct fsck *f);
void fsck_pending_report_text(const struct fsck *f);
/* The "pending" object of --json (NULL without --quick). */
struct json_t *fsck_pending_json(const struct fsck *f);

#endif
