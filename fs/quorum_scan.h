/* SPDX-License-Identifier: MIT */
/*
 * quorum_scan.h - per-daemon access for fsck.quorumfs: walk one daemon's
 * whole store in key order (SCAN pages), the replica list of a key, and
 * copying a record from one daemon to others (GET whole, then PUT), with
 * no quorum logic and no merging. Thread-safe as quorum.h; one cursor is
 * used by one thread at a time.
 */
#ifndef QFS_FS_QUORUM_SCAN_H
#define QFS_FS_QUORUM_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/quorum.h"
#include "proto/msg.h"
#include "proto/wire.h"

struct qfs_call;

/*
 * One daemon's SCAN stream, one page in memory at a time. After
 * qfs_scan_begin() and each qfs_scan_advance() returning 0, @has says
 * whether @e (with @key / @key_len its encoded key) is the current entry.
 */
struct qfs_scan_cur {
	struct qfs_quorum *q;
	int daemon;
	uint8_t op;			/* PROTO_OP_SCAN, or PENDING_LIST (qfs_pending_begin) */
	uint32_t page_max;		/* entries per SCAN page */
	struct qfs_call *c;		/* owns the current page */
	struct proto_rd rd;		/* over the page's reply ARGS */
	bool more;			/* the daemon has entries after this page */
	bool has;			/* e is valid */
	struct proto_entry e;		/* SCAN: the entry */
	struct proto_batch_ent pend;	/* PENDING_LIST: the entry (e.key is its key too) */
	uint8_t key[PROTO_KEY_MAX];	/* encoded key of e (or the last one read) */
	size_t key_len;
	uint64_t pages;			/* SCAN round trips so far */
	/* filtered SCAN (qfs_scan_begin_buckets): the bitmap (borrowed) and
	 * where the daemon said the next page resumes */
	const uint8_t *buckets;
	uint8_t resume[PROTO_KEY_MAX];
	uint16_t resume_len;
};

/*
 * Start walking daemon @daemon from its first key, @page_max entries per
 * page (1..PROTO_LIST_MAX_ENTRIES). Returns 0 (cur->has false: empty
 * store), -ETIMEDOUT / -EHOSTDOWN (no answer), -EPROTO (refused),
 * -EBADMSG or -ENOMEM. Call qfs_scan_end() whatever it returns.
 */
int qfs_scan_begin(struct qfs_quorum *q, int daemon, uint32_t page_max,
		   struct qfs_scan_cur *cur);

/*
 * Walk daemon @daemon's pending-repair index (PENDING_LIST pages) the same
 * way: after each step cur->pend (and cur->e.key) is the current entry.
 * Returns as qfs_scan_begin(); -EPROTO with an older daemon (BADOP).
 */
int qfs_pending_begin(struct qfs_quorum *q, int daemon, uint32_t page_max,
		      struct qfs_scan_cur *cur);

/*
 * The same walk, but the daemon lists only keys whose DIGEST bucket is set
 * in @buckets (PROTO_DIGEST_BITMAP_LEN bytes, borrowed until
 * qfs_scan_end): it still reads its whole index, the network carries only
 * those keys. Returns as qfs_scan_begin(); -EPROTO from an older daemon.
 */
int qfs_scan_begin_buckets(struct qfs_quorum *q, int daemon, uint32_t page_max,
			   const uint8_t *buckets, struct qfs_scan_cur *cur);

/* Move to the next entry, fetching the next page when this one is used up.
 * Returns 0 or an errno as qfs_scan_begin(). */
int qfs_scan_advance(struct qfs_scan_cur *cur);

void qfs_scan_end(struct qfs_scan_cur *cur); /* frees the page; idempotent */

/*
 * DIGEST of every bucket of every daemon, asked of all at once: @out[d]
 * (PROTO_DIGEST_BUCKETS entries each, the caller's) gets daemon d's, err[d]
 * 0 or why it has none (-ETIMEDOUT, -EHOSTDOWN, -EOPNOTSUPP from a daemon
 * without per-bucket digests, -EBADMSG). Returns 0 or -ENOMEM.
 */
int qfs_scan_digest_all(struct qfs_quorum *q, uint64_t **out, int *err);

/*
 * Whether all keys of DIGEST bucket @bucket have the same replicas (as a
 * set) in the current layout; then *n and @out[max] (transport indexes)
 * get them. False when a ring point inside the bucket changes the set.
 */
bool qfs_scan_bucket_place(struct qfs_quorum *q, uint32_t bucket, int *out, int max, int *n);

/* Number of replicas per key (N, at most the number of daemons). */
unsigned qfs_scan_nreplicas(const struct qfs_quorum *q);

/* The N replicas of @key in preference order into @out[max]; returns how many. */
int qfs_scan_place(const struct qfs_quorum *q, const struct proto_key *key, int *out, int max);

struct qfs_call;
struct qfs_rpc;

/*
 * One request @op with ARGS @w (taken over) to @daemon, waited for until
 * @deadline. 0 with the call in *@cp (the caller puts it) and its answer,
 * status OK, in *@rpcp; or -errno (qfs_scan_rpc_err) with nothing to put.
 */
int qfs_scan_one(struct qfs_quorum *q, int daemon, uint8_t op, struct proto_wr *w,
		 uint64_t deadline, struct qfs_call **cp, const struct qfs_rpc **rpcp);

/*
 * Copy record @key as daemon @from holds it to each daemon of @to[nto]:
 * GET the whole record from @from (checking every block; skipped for an
 * empty value, whose metadata @want is enough) and check it
 * is @want (proto_lww_cmp), then PUT it to all of @to at once. @res[i] gets
 * 0 (the daemon stored it, or holds something newer), or -errno for
 * @to[i]. Returns 0 when the record was read (look at @res), -ESTALE (the
 * source no longer holds @want), -EBADE (the source copy is corrupt),
 * -ENOENT, -ETIMEDOUT, -EIO, -ENOMEM.
 */
int qfs_scan_copy(struct qfs_quorum *q, const struct proto_key *key,
		  const struct proto_meta *want, int from, const int *to, int nto, int *res);

/*
 * Merge every clean copy of @key that some daemon holds (@has[d] and
 * @meta[d] from qfs_scan_head_all; one GET per distinct copy) with
 * proto_merge, and PUT the merge to each daemon of @to[nto] whose copy
 * differs from it. For INODE, whose registers merge: copying the newest
 * copy alone (qfs_scan_copy) can leave a register of an older copy behind.
 * *merged gets the merge's metadata; @res[i] 1 (@to[i] held the merge
 * already), 0 (it took it: it now holds the merge or more) or -errno.
 * Returns 0 (look at @res), -ESTALE (a copy changed since the HEAD),
 * -ENOENT (no clean copy), -ENOMEM or the -errno of a GET. In
 * fs/quorum_layout.c (rebalance).
 */
int qfs_scan_merge_to(struct qfs_quorum *q, const struct proto_key *key, const bool *has,
		      const struct proto_meta *meta, const int *to, int nto,
		      struct proto_meta *merged, int *res);

/*
 * PUT the record (@meta, @val of meta->len bytes; sums computed here) to
 * each daemon of @to[nto], waiting for every answer; @res[i] as in
 * qfs_scan_copy(). Returns 0 or -ENOMEM.
 */
int qfs_scan_put_to(struct qfs_quorum *q, const struct proto_key *key,
		    const struct proto_meta *meta, const void *val, const int *to, int nto,
		    int *res);

/*
 * HEAD @key on every daemon at once: has[d] and meta[d] what daemon d
 * holds; err[d] 0 (answered, also NOENT) or why it did not answer.
 * Returns 0 or -ENOMEM.
 */
int qfs_scan_head_all(struct qfs_quorum *q, const struct proto_key *key, bool *has,
		      struct proto_meta *meta, int *err);

/*
 * Send batch op @op (PENDING_DEL, PURGE, ...) of @e[n] (n 1..PROTO_BATCH_MAX)
 * to each daemon of @to[nto] and wait: @res[i] is the count daemon to[i]
 * applied, or -errno. Returns 0 or -ENOMEM / -EINVAL.
 */
int qfs_scan_batch(struct qfs_quorum *q, uint8_t op, const struct proto_batch_ent *e, int n,
		   const int *to, int nto, int *res);

/* ---- rebuilding daemons (fs/quorum_rebuild.c) ---- */

/* Daemon @daemon's store as its latest HELLO described it. */
struct qfs_scan_store {
	bool known;			/* it answered a HELLO */
	bool suspect;			/* the transport fails RPCs to it */
	bool rebuilding;		/* counts toward no quorum (see quorum.c) */
	uint32_t flags;			/* PROTO_STORE_* */
	uint64_t boot;			/* boot verifier */
	uint8_t store_id[PROTO_ID_LEN];
};

void qfs_scan_store(struct qfs_quorum *q, int daemon, struct qfs_scan_store *out);

/*
 * Tell @daemon that its store @store_id was refilled (REBUILT, naming the
 * volume read at open), wait for the answer within the quorum's timeout.
 * Returns 0 with the store's PROTO_STORE_* flags afterwards in *flags, or
 * -ENOENT (no superblock known), -EXDEV (another volume or store: it was
 * replaced), -EINVAL (the store has no volume), -ETIMEDOUT, -EHOSTDOWN,
 * -EIO, -EBADMSG, -ENOMEM.
 */
int qfs_scan_rebuilt(struct qfs_quorum *q, int daemon, const uint8_t store_id[PROTO_ID_LEN],
		     uint32_t *flags);

#endif
