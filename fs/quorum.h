/* SPDX-License-Identifier: MIT */
/*
 * quorum.h - records read and written with quorums over the cluster.
 *
 * The layer every filesystem operation and tool goes through. A write goes
 * to all N replicas of the key (ring placement) and succeeds on W
 * acknowledgements; the rest complete in the background. A read asks R
 * replicas (for chunks: data from one, versions from the others via HEAD,
 * in one round trip), asks the remaining replicas when some do not answer,
 * merges with proto_merge and, when replicas disagree, writes the newest
 * record back until it is on W replicas before returning (blocking
 * read-repair); remaining stale replicas are repaired in the background.
 * Every call has one deadline (timeout_ms) across all its steps: success or
 * -EIO (or a more precise errno listed per call), never a hang.
 *
 * Daemons whose store has no volume (wiped or new: PROTO_STORE_NOVOLUME at
 * HELLO while the volume exists) are "rebuilding": they receive writes but
 * count toward neither R nor W. Thread-safe: any thread may call anything.
 */
#ifndef QFS_FS_QUORUM_H
#define QFS_FS_QUORUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/config.h"
#include "proto/msg.h"

struct qfs_quorum;

struct qfs_quorum_opts {
	unsigned w, r;	     /* 0 = from the config */
	unsigned timeout_ms; /* 0 = from the config */
	bool need_volume;    /* fail open when no superblock is readable (mount) */
	/*
	 * Degraded reads (opt-in, weaker than quorum reads): a read that gets
	 * fewer than R answers but at least one is served from the newest
	 * answer instead of failing with -EIO, and a write that misses W
	 * returns -EROFS instead of -EIO. Open then needs one daemon, not W.
	 */
	bool degraded_read;
	/*
	 * Hinted handoff (opt-in, as Dynamo): a PUT that cannot reach W among
	 * the key's N replicas because some are suspect or rebuilding also goes
	 * to the next healthy daemons on the ring (fallbacks), which count
	 * toward W; the pending-repair entry they get makes the background
	 * repairer hand the copy back to the N and DROP it from the fallback.
	 * Reads never ask fallbacks. PATCH is unchanged.
	 */
	bool hinted_handoff;
	/*
	 * Background repair (fs/quorum_repairer.c): keys per second taken
	 * from the daemons' pending-repair indexes and healed on all N
	 * replicas; 0 = off (tools). The mount sets QFS_REPAIR_RATE_DEFAULT.
	 */
	unsigned repair_rate;
	/*
	 * Tombstones older than this may have been purged by a daemon
	 * (chunkd --tombstone-grace): read-repair does not write them back to
	 * a replica that holds nothing. 0 = QFS_TOMB_GRACE_DEFAULT_S. Keep it
	 * at most the smallest --tombstone-grace of the daemons.
	 */
	unsigned tomb_grace_s;
};

#define QFS_REPAIR_RATE_DEFAULT 100  /* keys/s of the mount's repairer */
#define QFS_REPAIR_RATE_MAX 100000
#define QFS_TOMB_GRACE_DEFAULT_S 3600 /* below chunkd's default of 7 days */

/*
 * Connect to every daemon of @cl (starting the engine thread), say HELLO,
 * check clock skew against each answering daemon and learn the volume.
 * Returns 0, or -errno with a message in @err: -ETIME (our clock is outside
 * a daemon's skew bound; the message gives both clocks), -EIO (fewer than W
 * daemons answer), -EACCES (fewer than W answer and some refused our CURVE
 * key: the message names each and why), -ENOENT (need_volume and no
 * superblock).
 */
int qfs_quorum_open(const struct qfs_cluster *cl, const struct qfs_quorum_opts *opts,
		    struct qfs_quorum **out, char *err, size_t errlen);
void qfs_quorum_close(struct qfs_quorum *q); /* NULL is a no-op */

/* A fresh version from the client's HLC and its writer id. */
struct proto_version qfs_quorum_version(struct qfs_quorum *q);

/* Superblock as read at open (or after qfs_quorum_put of one). */
int qfs_quorum_super(struct qfs_quorum *q, struct proto_super *sb);

/* A record read from the cluster. */
struct qfs_rec {
	struct proto_meta meta; /* merged metadata (meta.len = full value length) */
	uint8_t *val;		/* malloc'ed: the value, or the requested chunk range */
	uint32_t off;		/* chunk reads: offset of val[0] in the chunk */
	uint32_t val_len;	/* bytes in val */
};

void qfs_rec_free(struct qfs_rec *r); /* frees r->val, zeroes r */

/*
 * Write a record: @meta gives ver, flags, epoch and len (@val has len
 * bytes; checksums are computed here). Returns 0 on W acknowledgements,
 * -ENOSPC when replicas are full, -ETIME on a skew refusal, else -EIO.
 */
int qfs_quorum_put(struct qfs_quorum *q, const struct proto_key *key,
		   const struct proto_meta *meta, const void *val);

/*
 * Write the registers of @inode that carry a non-zero version as INODE(@ino)
 * (the daemons merge them with what they hold, so the others are kept).
 * Returns as qfs_quorum_put(), or -ENOMEM.
 */
int qfs_quorum_put_inode(struct qfs_quorum *q, uint64_t ino, const struct proto_inode *inode);

/* qfs_quorum_put() with PUT flags @put_flags (PROTO_PUT_MKFS: mkfs's
 * superblock; -EINVAL on any other key or an unknown bit). */
int qfs_quorum_put_flags(struct qfs_quorum *q, const struct proto_key *key,
			 const struct proto_meta *meta, const void *val, uint32_t put_flags);

/*
 * A PUT in flight: begin sends it (the value is copied, the caller may reuse
 * its buffer at once), end waits for W acknowledgements under the deadline
 * set at begin and frees it. Streams of chunk writes keep several in flight.
 * Every begun op must be ended. Returns as qfs_quorum_put().
 */
struct qfs_put_op;
int qfs_quorum_put_begin(struct qfs_quorum *q, const struct proto_key *key,
			 const struct proto_meta *meta, const void *val, struct qfs_put_op **op);
int qfs_quorum_put_end(struct qfs_quorum *q, struct qfs_put_op *op);

/* One record of a qfs_quorum_put_many() batch. */
struct qfs_put {
	const struct proto_key *key;
	const struct proto_meta *meta;
	const void *val;
};

#define QFS_PUT_MANY_MAX 8

/*
 * Write up to QFS_PUT_MANY_MAX independent records at once, all in flight
 * together under one deadline (one round trip instead of @n). Returns 0
 * when every one reached W, else the first error as qfs_quorum_put() gives
 * it; the others may have been written. Use it only for records whose
 * relative order does not matter for crash safety.
 */
int qfs_quorum_put_many(struct qfs_quorum *q, const struct qfs_put *puts, int n);

/*
 * Read the newest record of @key; for a CHUNK only bytes [off, off+len)
 * (clipped to the record length) are returned, len PROTO_GET_WHOLE for all,
 * and len 0 reads the metadata alone (HEAD on every replica asked).
 * Tombstones are returned (meta.flags has PROTO_REC_TOMBSTONE). Returns 0,
 * -ENOENT when a read quorum says the key is absent, -EIO.
 */
int qfs_quorum_get(struct qfs_quorum *q, const struct proto_key *key, uint32_t off,
		   uint32_t len, struct qfs_rec *out);

/*
 * qfs_quorum_get() in flight (readahead): begin starts it in the background
 * (the key is copied) and returns 0 or -errno (-EAGAIN: no thread); end
 * waits for it, gives its result as qfs_quorum_get() would (into @out, or
 * freed when @out is NULL) and frees the op. The read is the synchronous
 * one, deadline and read-repair included. Every begun op must be ended,
 * before qfs_quorum_close(). done tells whether end would return at once.
 */
struct qfs_get_op;
int qfs_quorum_get_begin(struct qfs_quorum *q, const struct proto_key *key, uint32_t off,
			 uint32_t len, struct qfs_get_op **op);
bool qfs_quorum_get_done(struct qfs_get_op *op);
int qfs_quorum_get_end(struct qfs_quorum *q, struct qfs_get_op *op, struct qfs_rec *out);

/*
 * Conditional range write into a chunk: replicas at @base become @ver with
 * @data at @off. Replicas older than @base are repaired first (full copy
 * from one that has base), then patched. Returns 0 once W replicas hold
 * @ver, -ESTALE when a replica holds a version other than base and ver that
 * is newer than base (a concurrent writer: *stored is set; re-read and
 * retry), -ENOSPC, -EIO.
 */
int qfs_quorum_patch(struct qfs_quorum *q, const struct proto_key *key,
		     const struct proto_version *base, const struct proto_version *ver,
		     uint64_t epoch, uint32_t off, const void *data, uint32_t len,
		     struct proto_version *stored);

/* Called once per merged entry, in key order; non-zero return stops the walk
 * and is returned by qfs_quorum_list. */
typedef int (*qfs_entry_fn)(void *arg, const struct proto_entry *e);

/*
 * Walk partition @ino (only records of @kind, 0 = all) in key order from
 * @start (encoded key, exclusive when @after; NULL = the beginning), the
 * records of R replicas merged per key (tombstones included). Stops after
 * @max entries (0 = no limit) and sets *more when entries remain. Divergent
 * entries are repaired in the background. Returns 0, the callback's
 * non-zero value, or -EIO.
 */
int qfs_quorum_list(struct qfs_quorum *q, uint64_t ino, uint8_t kind, const uint8_t *start,
		    size_t start_len, bool after, uint32_t max, qfs_entry_fn fn, void *arg,
		    bool *more);

/* What one replica holds for a key (tools, tests): HEAD of each replica. */
struct qfs_replica_state {
	int daemon;		/* index into cl->daemons */
	bool rebuilding;	/* counts toward no quorum */
	int err;		/* 0, -ENOENT, -EBADE (corrupt), -ETIMEDOUT, -EHOSTDOWN */
	struct proto_meta meta; /* when err == 0 */
};

/*
 * Ask each of the key's N replicas (in preference order) for its metadata,
 * without merging or repairing anything. Fills up to @max entries and
 * returns how many, or -errno.
 */
int qfs_quorum_replicas(struct qfs_quorum *q, const struct proto_key *key,
			struct qfs_replica_state *out, int max);

/*
 * SYNC every daemon that is not suspect. Returns 0 when each answered OK,
 * or when the only failures are daemons that did not answer (down or cut
 * off, like a suspect one) and at least W did; else -EIO. Each reply's
 * boot verifier is compared with the one seen before: a daemon that
 * restarted, or that answered the previous SYNC and misses this one, bumps
 * qfs_quorum_boot_epoch() (it may have lost writes it acknowledged).
 */
int qfs_quorum_sync_all(struct qfs_quorum *q);

/*
 * A counter that moves whenever a SYNC finds that some daemon may have
 * lost acknowledged writes that were not yet synced (see above). A writer
 * notes it before its first unsynced write; if it moved by the time its
 * SYNC returned, the writes may sit durably on fewer than W replicas and
 * must be re-established (docs/consistency.md, "fsync and restarts").
 */
uint64_t qfs_quorum_boot_epoch(struct qfs_quorum *q);

/* PUTs and PATCHes this quorum finished so far (successful or not): a
 * cache of what it read is valid while this does not change. */
uint64_t qfs_quorum_writes(struct qfs_quorum *q);

/* Cluster capacity for statfs: usable bytes = raw / N (daemons that share a
 * filesystem, same fs_id, counted once for total and free; used is every
 * store's own bytes, summed, / N). */
struct qfs_space {
	uint64_t total, free, used, records;
};
int qfs_quorum_space(struct qfs_quorum *q, struct qfs_space *sp);

/* ---- the layout in use (fs/quorum_layout.c) ---- */

struct proto_layout;

/* Copy the layout that places keys now (the newest a daemon holds, or the
 * config's as version layout_version) into @out (large). Returns 0. */
int qfs_quorum_layout_get(struct qfs_quorum *q, struct proto_layout *out);

/*
 * Preference list of @token in the current layout (@prev false) or in the
 * previous one of a transition (@prev true; 0 entries when there is none),
 * as transport daemon indexes (qfs_quorum_daemon_name). Up to @max.
 */
int qfs_quorum_place_in(struct qfs_quorum *q, uint64_t token, bool prev, int *out, int max);

/* Daemons known to the transport (config and every layout seen) and names. */
int qfs_quorum_ndaemons(struct qfs_quorum *q);
/*
 * The transport's daemon table: the config's daemons, then those every
 * layout seen added, in transport index order (the indexes placement and
 * scans use). Valid until close; it only grows (a tool that adds no daemon
 * itself sees it change only when a mount-less layout switch adds one).
 */
const struct qfs_cluster *qfs_quorum_cluster(struct qfs_quorum *q);
const char *qfs_quorum_daemon_name(struct qfs_quorum *q, int i);
/* Connect to daemon @d too (a layout about to name it); its index or -errno. */
int qfs_quorum_daemon_add(struct qfs_quorum *q, const struct qfs_daemon_conf *d);
/*
 * Give daemon @daemon the volume's superblock (every daemon holds it, not
 * only its ring replicas). @put_flags PROTO_PUT_MKFS: as mkfs does, for an
 * empty daemon that is complete as it is (a new volume, or joining the
 * layout), so it counts at once; 0: a refill (it stays rebuilding until
 * REBUILT). 0 or -errno.
 */
int qfs_quorum_seed_super(struct qfs_quorum *q, int daemon, uint32_t put_flags);
/* Transport index of the daemon called @name, or -1. */
int qfs_quorum_daemon_index(struct qfs_quorum *q, const char *name);

struct qfs_call;
/* Hand call @c to the quorum's transport (tools that build their own RPCs). */
void qfs_quorum_submit(struct qfs_quorum *q, struct qfs_call *c);

/* ---- administration: `qfs status` and `qfs layout` (fs/quorum_admin.c) ---- */

struct qfs_transport;

/* What one daemon answered to qfs_quorum_probe(). */
struct qfs_daemon_report {
	/*
	 * 0: it answered HELLO. Else why not: -ETIMEDOUT (no answer before
	 * the deadline: host down, firewall, daemon hung), -EHOSTDOWN (no
	 * connection: nothing listens there), -EACCES (CURVE handshake
	 * refused: wrong key), -EPROTO (HELLO refused; @status says why),
	 * -EBADMSG (malformed reply).
	 */
	int err;
	uint16_t status;	      /* wire status of a refused HELLO */
	const char *refusal;	      /* -EACCES: why, static (qfs_engine_refusal) */
	double latency_ms;	      /* HELLO round trip once connected; < 0: unknown */
	struct proto_hello_rep hello; /* when err == 0 */
	int64_t skew_ms;	      /* daemon clock minus ours, when err == 0 */
	bool rebuilding;	      /* REBUILDING, or NOVOLUME while another daemon
				       * has the volume: counts toward no quorum */
	int stat_err;		      /* 0 (@stat valid), -ETIMEDOUT, -EPROTO, -EBADMSG */
	bool stat_retried;	      /* a failed STAT was asked once more */
	struct proto_stat_rep stat;
	uint64_t free_bytes;	      /* min(capacity - used, fs_free), when stat_err == 0 */
};

/*
 * Ask every daemon of @cl for HELLO, then (once it answered) for a second
 * HELLO, whose round trip is the latency, and STAT; all within one
 * deadline of @timeout_ms (0: the config's), so an unreachable endpoint
 * never makes it wait longer. Needs no quorum and no volume: it works on a
 * cluster that is half down. Fills @out[cl->ndaemons]. Returns 0 (each
 * entry says how its daemon fared), or -errno with a message in @err when
 * the sockets cannot be set up (e.g. unreadable key files).
 */
int qfs_quorum_probe(const struct qfs_cluster *cl, unsigned timeout_ms,
		     struct qfs_daemon_report *out, char *err, size_t errlen);

/* qfs_quorum_probe() over @t (unit tests); @t stays the caller's. */
int qfs_quorum_probe_transport(const struct qfs_cluster *cl, struct qfs_transport *t,
			       unsigned timeout_ms, struct qfs_daemon_report *out);

/* Which parts of the ring have a write and a read quorum. */
struct qfs_coverage {
	size_t nranges;		/* ring ranges examined: one per ring point */
	unsigned min_usable;	/* fewest usable replicas of any range */
	size_t below_w, below_r; /* ranges with fewer than W / R usable replicas */
	double below_w_share;	/* fraction of all keys in ranges below W */
	double below_r_share;	/* fraction of all keys in ranges below R */
};

/*
 * For every range of @cl's ring (placement changes only at ring points),
 * count the usable replicas among its N (usable[i]: daemon i answered and
 * is not rebuilding) against cl->w and cl->r. Pure: no I/O. Returns 0,
 * -ENOMEM or -EINVAL (no daemons).
 */
int qfs_quorum_coverage(const struct qfs_cluster *cl, const bool *usable,
			struct qfs_coverage *out);

/* One daemon's place on the ring (qfs layout). */
struct qfs_layout_row {
	uint64_t points;      /* ring points it owns */
	double ring_share;    /* fraction of the token space it is primary for */
	double replica_share; /* fraction of the token space it holds one of N copies of */
	double sample_share;  /* fraction of @samples chunk keys it is primary for */
};

/*
 * Fill @out[cl->ndaemons] from @cl's ring; @samples chunk keys (of
 * consecutive inodes and chunk indexes, placed as real chunks are) give
 * sample_share. Pure. Returns 0, -ENOMEM or -EINVAL.
 */
int qfs_quorum_layout(const struct qfs_cluster *cl, uint32_t samples,
		      struct qfs_layout_row *out);

#endif
