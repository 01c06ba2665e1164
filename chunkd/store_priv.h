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
#define CHK_UNSYNCED_MAX 1024 /* COMMIT mode syncs early past this many open bodies */

/* Counters kept in the "meta" DB, updated in the same transaction as records. */
struct chk_counters {
	uint64_t next_id;    /* next body id (ids are never reused) */
	uint64_t body_bytes; /* sum of body lengths */
	uint64_t records;    /* live (non-tombstone) records */
	uint64_t chunks;     /* live chunk records */
	uint64_t tombstones;
	uint64_t corrupt;
};

/* A record as stored in "recs": meta, then a body reference or the value. */
struct chk_rec {
	struct proto_meta meta;
	uint64_t body;	/* CHUNK: body file id, 0 = none (empty or tombstone) */
	uint16_t nsums; /* CHUNK: proto_nblocks(meta.len) */
	uint64_t sums[PROTO_CHUNK_BLOCKS];
	const uint8_t *val; /* others: meta.len bytes, borrowed from LMDB */
};

/* A body file the batch opened: written, created, or to fsync. */
struct chk_touched {
	uint64_t id;
	int fd;
	bool created; /* unlinked if the batch aborts */
};

/* Pre-image of an in-place write, restored if the batch aborts. */
struct chk_undo {
	int fd;
	uint64_t off;
	uint64_t old_len; /* file length before the write */
	size_t len;	  /* bytes in old (may be 0 when the write extended the file) */
	uint8_t *old;
};

/* Writer-thread state of the open batch. */
struct chk_batch {
	bool active;
	MDB_txn *txn;
	struct chk_counters ctr;
	bool volume_set;
	uint8_t volume[PROTO_ID_LEN];
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
};

/* Where an operation started inside the batch, to undo just that one. */
struct chk_mark {
	size_t ntouched, nundo, ndoomed;
	struct chk_counters ctr;
	bool volume_set;
	uint8_t volume[PROTO_ID_LEN];
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
	bool reopened;		   /* writer only: the env was reopened once */
	atomic_bool failed;	   /* sticky: a sync failed, everything -EIO */

	pthread_rwlock_t stripes[CHK_STRIPES];

	uint8_t store_id[PROTO_ID_LEN]; /* immutable */
	bool fresh;			/* immutable */

	pthread_mutex_t ctr_lock;
	struct chk_counters ctr; /* committed values; ctr_lock */
	bool has_volume;	 /* ctr_lock */
	uint8_t volume_id[PROTO_ID_LEN]; /* ctr_lock */

	struct chk_batch b; /* writer only */

	/* COMMIT mode: bodies written since the last chk_store_sync (writer only) */
	struct chk_touched *unsynced;
	size_t nunsynced, cap_unsynced;
	uint64_t dirty_dirs[CHK_STRIPES / 64]; /* bodies/xx needing fsync */
};

/* LMDB or errno code to a negative errno (MDB_MAP_FULL is -ENOSPC). */
int chk_mdb_err(int rc);

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

/* Undo and end the open batch (writer thread). */
void chk_batch_abort(struct chk_store *st);

/* Reopen the env once after MDB_PANIC (writer thread, no batch open). */
int chk_env_reopen(struct chk_store *st);

#endif
