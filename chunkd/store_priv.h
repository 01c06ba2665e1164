/* SPDX-License-Identifier: MIT */
/*
 * store_priv.h - the store's state and helpers shared by store*.c only.
 *
 * Lock order: a stripe lock (st->stripes[]) before st->env_lock before
 * st->ctr_lock. Only the writer thread takes stripe and env locks for
 * writing. The writer holds env_lock for reading from batch_begin to the end
 * of the batch, and the write lock of every stripe it touched until the
 * batch commits or aborts, so readers never see uncommitted body bytes.
 */
#ifndef QFS_CHUNKD_STORE_PRIV_H
#define QFS_CHUNKD_STORE_PRIV_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "chunkd/store.h"
#include "proto/key.h"
#include "proto/record.h"

#define CHK_STRIPES 256
#define CHK_MAP_SIZE_DEFAULT (64ULL << 30)
#define CHK_RESERVE_MIN (1ULL << 20)
/* COMMIT: past this many bodies written since the last sync, the next sync is
 * one syncfs() of the data filesystem instead of an fdatasync per body. */
#define CHK_FSYNC_MAX 32
/* Body files the writer keeps open between batches (more while a batch
 * holds them), so a stream of PATCHes does not open and close each time. */
#define CHK_FDC_MAX 64
/* Free space of the filesystem is sampled at most this often, or at every
 * batch once less than the reserve plus CHK_STATFS_SLACK is left. */
#define CHK_STATFS_MS 100
#define CHK_STATFS_SLACK (256LL << 20)
/* COMMIT: a body write at least this large starts its writeback at once. */
#define CHK_WRITEBACK_MIN (256u * 1024)

/* Counters kept in the "meta" DB, updated in the same transaction as records. */
struct chk_counters {
	uint64_t next_id;    /* next body id (ids are never reused) */
	uint64_t body_bytes; /* sum of body lengths */
	uint64_t records;    /* live (non-tombstone) records */
	uint64_t chunks;     /* live chunk records */
	uint64_t tombstones;
	uint64_t corrupt;
};

/*
 * Chunks of at most this many bytes keep their bytes in the index record
 * (no body file): a file per small chunk costs far more than its bytes (an
 * inode, a directory entry, its syncs), while rewriting a value this small
 * in a PATCH costs about what writing the patch in place would.
 */
#define CHK_INLINE_MAX 8192

/* A record as stored in "recs": meta, then a body reference or the value. */
struct chk_rec {
	struct proto_meta meta;
	uint64_t body;	/* CHUNK: body file id, 0 = none (empty, tombstone or inline) */
	uint16_t nsums; /* CHUNK: proto_nblocks(meta.len) */
	uint64_t sums[PROTO_CHUNK_BLOCKS];
	/* others, and inline chunks (body 0, len > 0): meta.len bytes, borrowed
	 * from LMDB (valid while its transaction is) or from the writer */
	const uint8_t *val;
};

/* An inline chunk: its bytes are in the record (r->val), not in a body file. */
static inline bool chk_rec_inline(const struct chk_rec *r)
{
	return r->body == 0 && r->meta.len > 0 && !(r->meta.flags & PROTO_REC_TOMBSTONE);
}

/* A body file the batch opened: written, created, or to fsync. */
struct chk_touched {
	uint64_t id;
	int fd;	      /* owned here when created, else borrowed from the fd cache */
	bool created; /* unlinked if the batch aborts */
};

/* An open body file in the writer's fd cache (store_write.c). */
struct chk_fdc {
	uint64_t id;
	int fd;
	uint64_t used; /* LRU clock */
	bool busy;     /* touched by the open batch: never evicted */
	bool dirty;    /* COMMIT: written since the last sync point */
};

/*
 * Pre-image of an in-place write, restored if the batch aborts. The same
 * pre-image is appended to the undo journal (DIR/undo) before the write, so
 * that an open after a crash can restore it too (store_undo.c).
 */
struct chk_undo {
	int fd;
	uint64_t off;
	uint64_t old_len; /* file length before the write */
	size_t len;	  /* bytes in old (may be 0 when the write extended the file) */
	uint8_t *old;
	uint64_t jr_off; /* journal offset of its record (where a rollback resumes) */
};

/* What one undo journal record holds (store_undo.c has the byte layout). */
struct chk_undo_rec {
	const uint8_t *key; /* encoded key */
	size_t key_len;
	uint64_t body;		 /* body file written in place */
	struct proto_version base; /* version the old bytes belong to */
	struct proto_version ver;  /* version the write creates */
	uint64_t off;
	uint64_t old_len; /* body length before the write */
	const uint8_t *old;
	uint32_t len;
};

/*
 * A sync point in the making (COMMIT mode). The writer captures it (state
 * READY: the index's txnid and meta pages, a pin on that snapshot, the
 * bodies written since the last sync point and the bodies superseded before
 * it), the sync thread makes it durable (bodies, then the index, then
 * meta.snap) and frees the superseded bodies (RUNNING, then DONE with @rc),
 * and the writer adopts it (the pin moves). Fields are the writer's while
 * IDLE or DONE and the sync thread's while READY or RUNNING; @state is under
 * st->sync_lock.
 */
enum chk_job_state { CHK_JOB_IDLE, CHK_JOB_READY, CHK_JOB_RUNNING, CHK_JOB_DONE };

struct chk_sync_job {
	enum chk_job_state state;
	int rc;
	uint64_t txnid; /* the snapshot made durable */
	uint64_t seq;	/* its meta.snap sequence number */
	MDB_txn *pin;	/* read transaction on it */
	int index_fd;	/* data.mdb (LMDB's fd; the env outlives the job) */
	uint32_t psize;
	uint8_t *pages; /* its two meta pages, 2 * psize bytes */
	bool syncfs;	/* bodies: one syncfs, or fdatasync of @fds */
	struct chk_job_fd {
		uint64_t id;
		int fd; /* a dup(), closed by the sync thread */
	} *fds;
	size_t nfds, cap_fds;
	uint64_t dirs[CHK_STRIPES / 64]; /* bodies/xx to fsync (not with syncfs) */
	uint64_t *freed; /* superseded bodies, unlinked once it is durable */
	size_t nfreed, cap_freed;
	uint64_t t0; /* when it was captured (us) */
};

/* Writer-thread state of the open batch. */
struct chk_batch {
	bool active;
	MDB_txn *txn;
	struct chk_counters ctr;
	bool volume_set;
	uint8_t volume[PROTO_ID_LEN];
	bool rebuild_chg; /* the batch sets the rebuilding state to rebuild_val */
	bool dg_flush;	  /* chk_digest_prepare wrote every changed bucket */
	bool dg_lag;	  /* ... or marked the DB lagging */
	bool rebuild_val;
	int64_t fs_avail; /* free bytes at batch start minus growth so far */
	uint64_t held[CHK_STRIPES / 64];
	struct chk_touched *touched;
	size_t ntouched, cap_touched;
	struct chk_undo *undo;
	size_t nundo, cap_undo;
	uint64_t *doomed; /* bodies to unlink once the batch commits */
	size_t ndoomed, cap_doomed;
	struct proto_wr val;   /* record encode buffer */
	struct proto_wr merged; /* INODE merge output */
	struct proto_wr jrec;  /* undo journal record buffer */
	uint8_t *pbuf;	       /* PATCH block buffer */
	size_t cap_pbuf;
	/* digest changes of the batch, written to DB "digest" at commit
	 * (store_digest.c): one entry per changed record */
	struct chk_dg_delta {
		uint32_t bucket;
		uint64_t delta;
	} *dg;
	size_t ndg, cap_dg;
};

/* Where an operation started inside the batch, to undo just that one. */
struct chk_mark {
	size_t ntouched, nundo, ndoomed, ndg;
	struct chk_counters ctr;
	bool volume_set;
	uint8_t volume[PROTO_ID_LEN];
	bool rebuild_chg, rebuild_val;
	int64_t fs_avail;
};

struct chk_store {
	int dfd; /* data directory; immutable */
	char *dir;
	enum chk_sync_mode sync;
	uint64_t map_size;
	uint64_t capacity, reserve; /* immutable after open */
	struct timespec opened;	    /* CLOCK_MONOTONIC */

	pthread_rwlock_t env_lock; /* write-held only to reopen the env */
	MDB_env *env;		   /* env_lock */
	MDB_dbi recs, meta;	   /* env_lock */
	MDB_dbi pending, tombs;	   /* env_lock; store_pending.c, store_tomb.c */
	MDB_dbi digest;		   /* env_lock; store_digest.c */

	/* Per-bucket digests (store_digest.c): the committed sums, kept in
	 * memory and written to DB "digest" at most every CHK_DIGEST_FLUSH_MS;
	 * the buckets changed since, and whether the DB on disk lags them. */
	pthread_mutex_t dg_lock;   /* leaf lock */
	uint64_t *dg_mem;	   /* [PROTO_DIGEST_BUCKETS]; dg_lock */
	uint8_t *dg_dirty;	   /* PROTO_DIGEST_BITMAP_LEN; writer only */
	bool dg_lagging;	   /* writer only: meta "digest" says 0 */
	uint64_t dg_flush_ms;	   /* writer only: last write of the DB */
	uint64_t alive_prev_ms;	   /* last-alive stamp found at open (0: none); immutable */
	bool reopened;		   /* writer only: the env was reopened once */
	atomic_bool failed;	   /* sticky: a sync failed, everything -EIO */

	pthread_rwlock_t stripes[CHK_STRIPES];

	uint8_t store_id[PROTO_ID_LEN]; /* immutable */
	bool fresh;			/* immutable */

	pthread_mutex_t ctr_lock;
	struct chk_counters ctr; /* committed values; ctr_lock */
	bool has_volume;	 /* ctr_lock */
	uint8_t volume_id[PROTO_ID_LEN]; /* ctr_lock */
	bool rebuilding;	 /* ctr_lock: PROTO_STORE_REBUILDING (store_rebuild.c) */
	uint8_t *layout;	 /* ctr_lock: encoded cluster layout, NULL = none (store_layout.c) */
	size_t layout_len;	 /* ctr_lock */
	uint64_t layout_version; /* ctr_lock: 0 = none */

	struct chk_batch b; /* writer only */

	/* Free space of the data filesystem (writer only): last sample, minus
	 * what committed batches have grown since, and when it was taken. */
	int64_t fs_avail;
	uint64_t fs_avail_ms; /* CLOCK_MONOTONIC ms; 0 = never sampled */

	/* Undo journal DIR/undo (writer only): records of the open batch start
	 * at offset 0; jr_gen tells them from older, longer batches' leftovers. */
	int jfd;
	uint64_t jr_off;
	uint64_t jr_gen;

	/* Open body files (writer only); in COMMIT mode the dirty ones are the
	 * bodies written since the last sync point. */
	struct chk_fdc *fdc;
	size_t nfdc, cap_fdc;
	uint64_t fdc_clock;

	/*
	 * COMMIT mode, writer only. Since the last sync point: whether a dirty
	 * body left the fd cache or more than CHK_FSYNC_MAX are dirty (then the
	 * sync is one syncfs), the directories of new bodies, bodies superseded
	 * (unlinked only after the next sync point, since the synced index
	 * still names them), and whether anything was committed at all.
	 */
	bool use_syncfs;
	uint64_t dirty_dirs[CHK_STRIPES / 64]; /* bodies/xx needing fsync */
	uint64_t *deferred;
	size_t ndeferred, cap_deferred;
	bool dirty;

	/*
	 * COMMIT mode: the last sync point S (LMDB runs with MDB_NOSYNC). @pin is
	 * a read transaction on S, so LMDB never reuses a page of S's tree and S
	 * stays whole on disk whatever unsynced commits do; DIR/index/meta.snap
	 * holds S's two meta pages, written back over data.mdb's after an
	 * unclean reboot (store_snap.c). @spare is the reset read transaction the
	 * next sync point pins. Writer only (and open/close).
	 */
	MDB_txn *pin, *spare;
	int snap_fd;
	uint64_t snap_seq; /* sequence number of the newest slot written */

	/* COMMIT mode: the sync thread and the sync point it is making durable
	 * (store_sync.c). */
	pthread_t sync_thread;
	bool sync_thread_up;	  /* immutable after open */
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond; /* job handed over, job done, stop */
	bool sync_stop;		  /* sync_lock */
	struct chk_sync_job job;  /* see struct chk_sync_job for who owns what */

	/* Sync points taken, the time they took and the time the writer waited
	 * for them (logged at close; writer only). */
	uint64_t n_syncs, sync_us, sync_us_max, sync_wait_us;
};

/* Grow an array to hold @n + 1 elements of @size bytes; 0 or -ENOMEM. */
int chk_grow(void **arr, size_t *cap, size_t n, size_t size);

/* LMDB or errno code to a negative errno (MDB_MAP_FULL is -ENOSPC). */
int chk_mdb_err(int rc);

/*
 * Writer thread, inside a chk_run() op: encode @key into @kb / @k and begin
 * the request's nested transaction in *txn (commit or abort it). 0 or -errno.
 */
int chk_key_txn(struct chk_store *st, const struct proto_key *key, uint8_t kb[PROTO_KEY_MAX],
		MDB_val *k, MDB_txn **txn);

/*
 * Writer thread, inside a chk_run() op: set record @name of DB "meta" to
 * @len bytes at @val in a nested transaction of the request. 0 or -errno.
 */
int chk_meta_set(struct chk_store *st, const char *name, const void *val, size_t len);

unsigned chk_stripe(const struct proto_key *key);

/* Decode a stored record of @kind; -EIO (logged) when it is damaged. */
int chk_rec_decode(uint8_t kind, const void *buf, size_t len, struct chk_rec *r);
void chk_rec_encode(struct proto_wr *w, uint8_t kind, const struct chk_rec *r);

/* Short read transaction under env_lock; chk_read_end() ends both. */
int chk_read_begin(struct chk_store *st, MDB_txn **txn);
void chk_read_end(struct chk_store *st, MDB_txn *txn);

/* Approximate bytes used by the LMDB data file. */
uint64_t chk_index_bytes(struct chk_store *st);

/* Store the counters (and the volume id when @volume) in the write txn @txn. */
int chk_meta_save(struct chk_store *st, MDB_txn *txn, const struct chk_counters *c,
		  const uint8_t *volume);

/*
 * Run @op (with @arg) as one request in the open batch, or in a batch of its
 * own when none is open; a failed request is undone alone. Writer thread.
 */
int chk_run(struct chk_store *st, int (*op)(struct chk_store *, const void *), const void *arg);

/* Move the batch counters @c by @sign (+1/-1) for a record of @kind with @m. */
void chk_account(struct chk_counters *c, uint8_t kind, const struct proto_meta *m, int sign);

/* A key range of one DB (LIST, SCAN, DIGEST, PENDING_LIST); store_read.c. */
struct chk_range {
	const uint8_t *lo; /* inclusive (or exclusive with after) */
	size_t lo_len;
	bool after;
	const uint8_t *hi; /* exclusive; NULL = no bound */
	size_t hi_len;
	const MDB_dbi *dbi; /* NULL = recs; read under env_lock */
};

/*
 * Iterate [lo, hi) in one read transaction calling @fn for each entry until
 * it returns non-zero (1 = stop, < 0 = error). Returns 0, 1 or the error.
 */
int chk_range_walk(struct chk_store *st, const struct chk_range *rg,
		   int (*fn)(void *ctx, const MDB_val *k, const MDB_val *v), void *ctx);

/* Open: read the stored cluster layout into memory (store_layout.c). */
int chk_layout_load(struct chk_store *st);

/*
 * ---- per-bucket digests (store_digest.c) ----
 *
 * Every write that changes "recs" calls chk_digest_update() from inside its
 * request (chk_run; @txn is the request's nested transaction): the change
 * is kept with the batch, undone with a failed request, and written to DB
 * "digest" in the batch's transaction at commit. The record stored under
 * canonical key bytes @k goes from @old to @nw (NULL: absent before / after;
 * the metas as stored, CORRUPT flag included). A new code path that deletes
 * or rewrites records (e.g. DROP) must call it too, or DIGEST lies.
 * Returns 0 or -errno (-EIO for an undecodable key). Writer thread.
 */
int chk_digest_update(struct chk_store *st, MDB_txn *txn, const MDB_val *k,
		      const struct proto_meta *old, const struct proto_meta *nw);

/*
 * Batch commit, before the transaction commits: when the batch changes a
 * digest and DB "digest" is in step, mark it lagging (meta "digest" 0, in
 * the same transaction); every CHK_DIGEST_FLUSH_MS (or with @force) write
 * every changed bucket and mark it in step again. 0 or -errno.
 */
int chk_digest_prepare(struct chk_store *st, bool force);
/* After the commit succeeded: the batch's changes join the in-memory sums. */
void chk_digest_committed(struct chk_store *st);
/* Close: write the digests out if they lag (a batch of its own). */
int chk_digest_close(struct chk_store *st);

/* Open: sum every record into DB "digest" if an older release left it
 * empty (once; committed before anything else writes). 0 or -errno. */
int chk_digest_open(struct chk_store *st);

/* Open: read the last-alive stamp into st->alive_prev_ms (store_tomb.c). */
int chk_alive_load(struct chk_store *st);

/* Durably record (@on) or clear the rebuilding state in the write txn @txn. */
int chk_meta_rebuilding_save(struct chk_store *st, MDB_txn *txn, bool on);

/* Undo and end the open batch (writer thread). */
void chk_batch_abort(struct chk_store *st);

/* Close every body file of the writer's fd cache (store close). */
void chk_fdc_close_all(struct chk_store *st);

/* Reopen the env once after MDB_PANIC (writer thread, no batch open). */
int chk_env_reopen(struct chk_store *st);

/* Microseconds and milliseconds of CLOCK_MONOTONIC. */
uint64_t chk_now_us(void);
uint64_t chk_now_ms(void);

/* ---- undo journal (store_undo.c) ---- */

/*
 * Open DIR/undo at store open: apply what an interrupted batch left in it
 * (the index must be open), then empty it. 0 or -errno.
 */
int chk_undo_open(struct chk_store *st);
void chk_undo_close(struct chk_store *st);

/* Append @r at st->jr_off (before the in-place write it describes). */
int chk_undo_log(struct chk_store *st, const struct chk_undo_rec *r);

/* The batch ended (committed or undone): its records are dead. */
void chk_undo_reset(struct chk_store *st);

/* CHK_SYNC_ALWAYS: make the batch's records durable with its bodies. */
int chk_undo_sync(struct chk_store *st);

/* ---- sync points: meta.snap and the pin (store_snap.c, COMMIT mode) ---- */

/*
 * After an unclean reboot of a COMMIT-mode store, before LMDB opens the
 * index: write the meta pages of the last sync point back over data.mdb's.
 * 0 (also when there is nothing to restore) or -errno.
 */
int chk_snap_restore(struct chk_store *st);

/* Writer, no batch open: capture the current snapshot into @j (txnid, meta
 * pages, a pin on it). 0 or -errno (logged). */
int chk_snap_capture(struct chk_store *st, struct chk_sync_job *j);

/* Sync thread: write @j's meta pages into the next meta.snap slot, durably. */
int chk_snap_save(struct chk_store *st, const struct chk_sync_job *j);

/* Writer: @j is durable; its pin replaces the old one. */
void chk_snap_adopt(struct chk_store *st, struct chk_sync_job *j);

/* Writer: @j failed or is dropped; release its pin. */
void chk_snap_drop(struct chk_store *st, struct chk_sync_job *j);

/* Release the pins and meta.snap (before the env closes). */
void chk_snap_close(struct chk_store *st);

/* ---- sync points: the sync thread (store_sync.c, COMMIT mode) ---- */

/* Start the sync thread (store open, COMMIT mode). 0 or -errno. */
int chk_sync_init(struct chk_store *st);
/* Stop it (after the last sync point; store close). */
void chk_sync_fini(struct chk_store *st);

/*
 * Writer, no batch open: make the current state a sync point and wait until
 * it is durable. Used by chk_store_sync(), at open, and before the env is
 * reopened. 0 or -EIO (the store is then disabled).
 */
int chk_sync_point(struct chk_store *st);

/* Writer: adopt a finished sync point, if any (batch begin). */
void chk_sync_reap(struct chk_store *st);

/* Writer: wait for the running sync point, if any, and adopt it. */
void chk_sync_drain(struct chk_store *st);

#endif
