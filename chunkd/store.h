/* SPDX-License-Identifier: MIT */
/*
 * store.h - the daemon's records on local disk.
 *
 * An LMDB environment holds the ordered index: every key with its metadata,
 * small values inline, and for chunks the per-block checksums and the id of
 * the body file (chunks of up to 8 KiB are inline too). Chunk bodies live in
 * files under DIR/bodies, written whole into a new file by PUT (copy on
 * write) and updated in place by PATCH, the block checksums committed after
 * the data; an undo journal puts in-place bytes back after a crash before
 * the commit. In CHK_SYNC_COMMIT a sync thread makes sync points durable
 * while writes go on. See docs/storage.md.
 *
 * Threads: write calls (batch_*, put, patch, sync, sync_start, mark_corrupt)
 * come from one writer thread only; read calls (get, head, list, scan,
 * digest, stat, scrub_next) from any thread, concurrently with the writer. A
 * read never sees a body half-written by the writer (per-key striped locks).
 */
#ifndef QFS_CHUNKD_STORE_H
#define QFS_CHUNKD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

enum chk_sync_mode {
	CHK_SYNC_COMMIT = 0, /* durable at SYNC and every CHK_SYNC_INTERVAL_MS */
	CHK_SYNC_ALWAYS,     /* durable before each write is acknowledged */
	CHK_SYNC_NONE,	     /* never synced; wiped after an unclean reboot */
};

#define CHK_SYNC_INTERVAL_MS 200

struct chk_store_opts {
	const char *dir;	 /* data directory, created if missing */
	enum chk_sync_mode sync;
	uint64_t capacity;	 /* bytes; 0 = the filesystem's size */
	uint64_t map_size;	 /* LMDB map size; 0 = default (64 GiB) */
};

struct chk_store;

/*
 * Open or create the store in opts->dir. A new (or emptied) directory gets
 * a fresh random store id and reports PROTO_STORE_FRESH. Returns 0 or
 * -errno (-EIO for a damaged index, with a logged reason).
 */
int chk_store_open(const struct chk_store_opts *opts, struct chk_store **out);
void chk_store_close(struct chk_store *st); /* NULL is a no-op */

/* Identity for HELLO: store id, volume id (zeros until a SUPER is stored),
 * PROTO_STORE_* flags. */
void chk_store_identity(struct chk_store *st, uint8_t store_id[PROTO_ID_LEN],
			uint8_t volume_id[PROTO_ID_LEN], uint32_t *flags);

/*
 * The store was refilled (REBUILT request, from fsck after a complete
 * pass): leave the rebuilding state, durably once the batch commits.
 * @volume_id and @store_id must be this store's. Returns 0 (also when it
 * was not rebuilding), -EINVAL (the store has no volume), -EXDEV (another
 * volume or another store), or an error of the commit. Writer thread,
 * inside or outside a batch.
 */
int chk_store_rebuilt(struct chk_store *st, const uint8_t volume_id[PROTO_ID_LEN],
		      const uint8_t store_id[PROTO_ID_LEN]);

/* ---- writer thread only ---- */

/* Start a batch of writes that chk_store_batch_commit() makes visible at once. */
int chk_store_batch_begin(struct chk_store *st);

/*
 * Merge a record (PUT). @sums has proto_nblocks(meta->len) entries and
 * @val meta->len bytes; the store verifies them (-EBADE on mismatch). On
 * success @rep holds the version and flags stored after the merge (which
 * may be the older stored record's if it wins). Returns 0 or -errno:
 * -ENOSPC (full; tombstones still pass while the reserve lasts), -EXDEV
 * (a SUPER of another volume), -EIO, -ENOMEM. A failed call leaves the
 * batch as it was before the call.
 */
int chk_store_put(struct chk_store *st, const struct proto_put_req *q, const void *val,
		  struct proto_write_rep *rep);

/*
 * Conditional range write (PATCH): applied when the stored version equals
 * q->base (zero base: the chunk is absent or a tombstone), a success without
 * change when it already equals q->ver, else -ESTALE with rep->stored set.
 * @data has @len bytes with xxh3 q->sum (-EBADE if not).
 */
int chk_store_patch(struct chk_store *st, const struct proto_patch_req *q, const void *data,
		    uint32_t len, struct proto_write_rep *rep);

/* Record that a chunk failed its checksum (from reads or the scrubber). */
int chk_store_mark_corrupt(struct chk_store *st, const struct proto_key *key,
			   const struct proto_version *ver);

/* Commit the batch; in CHK_SYNC_ALWAYS mode also make it durable. On
 * failure every write of the batch is undone and the error returned. */
int chk_store_batch_commit(struct chk_store *st);

/* Make every committed write durable and wait for it (SYNC request, close). */
int chk_store_sync(struct chk_store *st);

/*
 * Start making every committed write durable without waiting (the periodic
 * timer). In CHK_SYNC_COMMIT only one sync runs at a time: 1 when one was
 * still under way and writes since wait for the next call, else 0. Other
 * modes sync at once. Returns 0, 1 or -EIO.
 */
int chk_store_sync_start(struct chk_store *st);

/* ---- any thread ---- */

/*
 * Read a record or the blocks of a chunk covering [q->offset, q->offset +
 * q->length). On success *data is malloc'ed (NULL when empty) and owned by
 * the caller. -ENOENT when absent (a tombstone is returned, not ENOENT);
 * -EBADE when a covered block fails its checksum (the record is then
 * marked corrupt through the writer's queue by the caller).
 */
int chk_store_get(struct chk_store *st, const struct proto_get_req *q,
		  struct proto_get_rep *rep, void **data, size_t *data_len);

/* Metadata only; CORRUPT flag set when known bad. 0 or -ENOENT. */
int chk_store_head(struct chk_store *st, const struct proto_key *key, struct proto_meta *m);

/* One page of a partition (LIST) or of the whole store (SCAN), encoded as a
 * page reply into @out (proto_encode_page_head + entries). */
int chk_store_list(struct chk_store *st, const struct proto_list_req *q, struct proto_wr *out);
int chk_store_scan(struct chk_store *st, const struct proto_scan_req *q, struct proto_wr *out);

/*
 * DIGEST: the digests of buckets [@first, @first + @count) into @out[count]
 * (0 for an empty bucket), from one snapshot of the index. Kept up to date
 * by every write (store_digest.c), so this reads at most @count small
 * entries. Returns 0, -EINVAL (range outside PROTO_DIGEST_BUCKETS) or -EIO.
 */
int chk_store_digest(struct chk_store *st, uint32_t first, uint32_t count, uint64_t *out);

int chk_store_stat(struct chk_store *st, struct proto_stat_rep *rep);

/*
 * Scrubber step: verify the next chunk after *cursor (cursor_len bytes, 0 =
 * start over) and advance the cursor. Returns bytes verified (0 at the end
 * of the store), or -errno. *bad is set when a block failed; the caller then
 * calls chk_store_mark_corrupt() from the writer thread.
 */
int64_t chk_store_scrub_next(struct chk_store *st, uint8_t cursor[PROTO_KEY_MAX],
			     uint16_t *cursor_len, struct proto_key *bad_key,
			     struct proto_version *bad_ver, bool *bad);

/*
 * ---- the pending-repair index and tombstone collection ----
 * (store_pending.c, store_tomb.c; write calls from the writer thread only,
 * inside or outside a batch like chk_store_put)
 */

/*
 * Record that the replicas named in @e (e->nmissed names) missed @e->key:
 * the entry takes @stamp (the daemon's hlc now) and the union of the names
 * already recorded (at most PROTO_PENDING_MISSED_MAX; the newest win).
 * Returns 0, -EINVAL, -ENOSPC, -EIO, -ENOMEM.
 */
int chk_store_pending_add(struct chk_store *st, const struct proto_batch_ent *e,
			  uint64_t stamp);

/*
 * Drop the entry of @key if its stamp is at most @stamp (the repairer saw
 * it, and no write missed a replica since). *removed says whether it went.
 * Returns 0 (also when there is no entry) or -errno.
 */
int chk_store_pending_del(struct chk_store *st, const struct proto_key *key, uint64_t stamp,
			  bool *removed);

/* One page of the pending index in key order, encoded as a PENDING_LIST
 * reply into @out (page head + entries). Any thread. */
int chk_store_pending_list(struct chk_store *st, const struct proto_scan_req *q,
			   struct proto_wr *out);

/*
 * Every replica holds the tombstone @key at @ver: remember it, so that
 * chk_store_tomb_gc() may purge it after the grace period. Only a stored
 * tombstone of exactly @ver is marked (*marked). Returns 0 or -errno.
 */
int chk_store_tomb_confirm(struct chk_store *st, const struct proto_key *key,
			   const struct proto_version *ver, bool *marked);

/*
 * Drop @key from the store if what it holds is a tombstone of exactly @ver
 * (fsck's PURGE); anything else is left alone (*purged false). 0 or -errno.
 */
int chk_store_purge(struct chk_store *st, const struct proto_key *key,
		    const struct proto_version *ver, bool *purged);

/*
 * Purge up to @max confirmed tombstones whose version is older than
 * @now_ms - @grace_ms (wall clock), and forget confirmations that no longer
 * match the stored record. *purged counts what went; *more is set when the
 * walk stopped at @max. Returns 0 or -errno.
 */
int chk_store_tomb_gc(struct chk_store *st, uint64_t now_ms, uint64_t grace_ms, unsigned max,
		      unsigned *purged, bool *more);

/* Durably note that the daemon is alive at @now_ms (wall clock), so the
 * next start can tell how long it was down. Writer thread. */
int chk_store_alive(struct chk_store *st, uint64_t now_ms);

/*
 * DROP (rebalance): remove @key, whatever its kind or flags, if its stored
 * version is exactly @ver; anything else is left alone (*dropped false).
 * A chunk body is freed after the commit. Writer thread. 0 or -errno.
 */
int chk_store_drop(struct chk_store *st, const struct proto_key *key,
		   const struct proto_version *ver, bool *dropped);

/* Version of the cluster layout the store holds (0: none). Any thread. */
uint64_t chk_store_layout_version(struct chk_store *st);

/* A malloc'ed copy of the encoded layout in *buf; 0, -ENOENT (none) or -ENOMEM. */
int chk_store_layout_get(struct chk_store *st, uint8_t **buf, size_t *len);

/*
 * LAYOUT_SET: store the encoded, validated layout @buf (version taken from
 * it) if the stored version is @expect and the new one is newer; the same
 * bytes stored already count as success. *stored gets the version held
 * afterwards. Writer thread, outside a batch (commits its own). Returns 0,
 * -ESTALE (the compare failed) or -errno.
 */
int chk_store_layout_set(struct chk_store *st, uint64_t expect, const uint8_t *buf, size_t len,
			 uint64_t *stored);

/* The last-alive stamp found when the store was opened; 0 for a new store
 * or one written by a release without stamps. Any thread. */
uint64_t chk_store_alive_prev(const struct chk_store *st);

#endif
