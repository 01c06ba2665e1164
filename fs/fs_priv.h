/* SPDX-License-Identifier: MIT */
/*
 * fs_priv.h - state shared by the .c files of fs/ .
 *
 * struct qfs_fs holds the quorum connection, the superblock and the table of
 * open inodes. An open inode (struct qfs_open_inode) is shared by every
 * handle of it in this client: it keeps the inode as last read, the write
 * buffer of one chunk, a cache of the last chunk read whole, the chunks a
 * sequential reader fetches ahead (readahead), and the versions of the
 * chunks it wrote last.
 */
#ifndef QFS_FS_FS_PRIV_H
#define QFS_FS_FS_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "fs/fs.h"
#include "proto/record.h"

#define QFS_OPEN_BUCKETS 1024

#define QFS_VC_SLOTS 1024 /* at most, chunk versions remembered per open inode */
#define QFS_WB_INFLIGHT 4 /* chunks a sequential writer keeps in flight */

/*
 * Readahead (file.c): a reader of an open inode that goes on sequentially
 * gets the next QFS_RA_WINDOW chunks fetched in the background, each a
 * whole-chunk quorum read (qfs_quorum_get_begin). Memory: at most
 * QFS_RA_WINDOW chunks per open inode and QFS_RA_MOUNT_BYTES per mount, in
 * flight or fetched and not yet read; a chunk that does not fit is simply
 * not fetched ahead.
 */
#define QFS_RA_WINDOW 4
#define QFS_RA_MOUNT_BYTES (16u << 20)

struct qfs_ra_slot {
	struct qfs_get_op *op; /* NULL: free */
	uint64_t index;	       /* chunk being fetched */
	uint32_t charged;      /* bytes counted in fs->ra_bytes */
};

/* Readahead counters of a mount (qfs_file_ra_stats). */
struct qfs_ra_stats {
	uint64_t bytes;	  /* charged now: in flight or fetched, not yet read */
	uint64_t peak;	  /* most ever charged at once */
	uint64_t started; /* chunk reads started ahead */
	uint64_t used;	  /* of those, the ones a read then consumed */
	uint64_t dropped; /* ended unused: random access, write, truncate, close */
};

struct qfs_chunk_ver {
	bool valid;
	uint64_t index;
	struct proto_version ver;
	uint64_t epoch;
	uint32_t len;
};

struct qfs_open_inode {
	uint64_t ino;		      /* immutable */
	struct qfs_open_inode *next;  /* bucket chain, protected by fs->open_lock */
	unsigned refs;		      /* handles; protected by fs->open_lock */
	bool unlinked;		      /* delete at last release; fs->open_lock */

	pthread_mutex_t lock;	      /* everything below; take after open_lock */
	struct proto_inode inode;     /* merged inode as last read or written */
	bool have_inode;
	int8_t xattrs_at_open;	      /* the last open's read: -1 unknown, 0 none, 1 some */
	uint64_t size;		      /* size including buffered writes */
	bool size_dirty;	      /* size/mtime to write at flush */

	/* write buffer: dirty bytes [wb_lo, wb_hi) of chunk wb_index */
	uint8_t *wb;		      /* chunk_size bytes, NULL when unused */
	uint64_t wb_index;
	uint32_t wb_lo, wb_hi;	      /* wb_lo == wb_hi: empty */

	/* read cache: valid bytes [0, rc_len) of chunk rc_index, zeros after */
	uint8_t *rc;
	uint64_t rc_index;
	uint32_t rc_len;
	bool rc_valid;
	uint64_t last_read_end;	      /* sequential detection */
	unsigned ra_run;	      /* reads in a row near the previous one */
	struct qfs_ra_slot ra[QFS_RA_WINDOW]; /* chunks fetched ahead */

	/* whole-chunk PUTs of a sequential writer still in flight, oldest first */
	struct qfs_put_op *inflight[QFS_WB_INFLIGHT];
	int ninflight;

	/* versions of chunks this client wrote last: PATCH bases without a read */
	struct qfs_chunk_ver *vc;     /* nvc slots (a power of two, at most
				       * QFS_VC_SLOTS), NULL before the first write */
	unsigned nvc;

	/* writes since the last fsync (file_sync.c) */
	bool unsynced;
	uint64_t sync_epoch;	      /* qfs_quorum_boot_epoch() at the first of them */
	uint64_t dirty_lo, dirty_hi;  /* chunk indexes they touched */
};

struct qfs_file {
	struct qfs_fs *fs;
	struct qfs_open_inode *oi;
	unsigned flags; /* QFS_O_* */
};

/* A recently read inode: the base of setattr's read-modify-write. */
struct qfs_icache_ent {
	uint64_t ino; /* 0: empty */
	uint32_t nlink;
	int8_t xattrs; /* -1 unknown, 0 none, 1 some */
	uint64_t at_ns;
	struct proto_inode inode;
};

/* What a lookup just found for a name: create reuses an "absent" answer and
 * unlink a "present" one instead of asking again (the kernel looks a name up
 * right before creating or removing it). Taken once, then forgotten. */
struct qfs_lookup_memo {
	uint64_t parent; /* 0: empty */
	uint64_t at_ns;
	bool live;	 /* present: ino and type; absent: replaced */
	uint64_t ino;
	uint8_t type;	 /* DT_* */
	struct proto_version replaced; /* tombstone version, or zero */
	char name[PROTO_NAME_MAX + 1];
};

#define QFS_MEMO_SLOTS 64
#define QFS_MEMO_TTL_NS 100000000ull /* 100 ms: a lookup-then-create/unlink, not a cache */

#define QFS_ICACHE_SLOTS 512
#define QFS_ICACHE_TTL_NS 1000000000ull /* trusted this long (as attr_timeout) */

struct qfs_fs {
	struct qfs_quorum *q;
	struct proto_super sb;
	uint32_t chunk_size;
	bool read_only;

	pthread_mutex_t open_lock; /* the open table, refs, unlinked */
	struct qfs_open_inode *open[QFS_OPEN_BUCKETS];

	struct qfs_statahead *sa; /* NULL: off (statahead.c) */
	uint64_t open_attr_ns;	  /* getattr of a file open here may use a read this
				   * young (qfs_getattr); 0: always read */

	pthread_mutex_t icache_lock; /* icache and memo; a leaf lock */
	struct qfs_icache_ent *icache;
	struct qfs_lookup_memo memo[QFS_MEMO_SLOTS];

	/* readahead of every open inode (file.c): atomics, no lock */
	atomic_uint_fast64_t ra_bytes, ra_peak, ra_started, ra_used, ra_dropped;
};

/* ---- fs/inode.c ---- */

/* Read the merged inode of @ino (-ENOENT when absent or deleted); @nlink,
 * when not NULL, gets the number of live LINK records. */
int qfs_inode_read(struct qfs_fs *fs, uint64_t ino, struct proto_inode *inode,
		   uint32_t *nlink);
/* The inode cache: remember, look up (younger than @max_age_ns, at most
 * QFS_ICACHE_TTL_NS), forget. */
void qfs_icache_put(struct qfs_fs *fs, uint64_t ino, const struct proto_inode *inode,
		    uint32_t nlink, int xattrs);
/* -1 unknown, 0 the inode has no xattr, 1 it has some (fresh entries only). */
int qfs_icache_xattrs(struct qfs_fs *fs, uint64_t ino);
bool qfs_icache_get(struct qfs_fs *fs, uint64_t ino, uint64_t max_age_ns,
		    struct proto_inode *inode, uint32_t *nlink);
void qfs_icache_drop(struct qfs_fs *fs, uint64_t ino);

/* Write the registers of @inode that have a non-zero version (merge does the rest). */
int qfs_inode_write(struct qfs_fs *fs, uint64_t ino, const struct proto_inode *inode);
/* Fill a qfs_attr from an inode; @size overrides the inode size when not 0. */
void qfs_inode_to_attr(struct qfs_fs *fs, uint64_t ino, const struct proto_inode *inode,
		       uint32_t nlink, struct qfs_attr *a);
/* Attributes as this client sees them: the size includes its buffered
 * writes, which the cluster has not seen yet. */
void qfs_attr_add_buffered(struct qfs_fs *fs, struct qfs_attr *a);
/* Set only the times register of @ino to mtime = now (directory changed). */
int qfs_inode_touch_dir(struct qfs_fs *fs, uint64_t dir);
/* Bytes of chunk @index written in @chunk_epoch that are still valid
 * (older-epoch bytes at or past a later truncate size read as zeros). */
uint32_t qfs_inode_valid_len(const struct qfs_fs *fs, const struct proto_inode *inode,
			     uint64_t index, uint64_t chunk_epoch);

/*
 * A batch of independent record writes sent together (one round trip).
 * Add records, then qfs_batch_run() writes them all and frees the batch.
 */
struct qfs_batch {
	int n;
	int err;				/* first error while adding */
	struct qfs_put puts[QFS_PUT_MANY_MAX];
	struct proto_key keys[QFS_PUT_MANY_MAX];
	struct proto_meta metas[QFS_PUT_MANY_MAX];
	struct proto_wr vals[QFS_PUT_MANY_MAX];
};

void qfs_batch_init(struct qfs_batch *b);
/* Add a record with the given value (NULL/0: empty), or a tombstone. */
void qfs_batch_add(struct qfs_fs *fs, struct qfs_batch *b, const struct proto_key *key,
		   bool tombstone, const void *val, uint32_t len);
/* Add the registers of @inode that have a non-zero version. */
void qfs_batch_add_inode(struct qfs_batch *b, uint64_t ino, const struct proto_inode *inode);
/* Add "directory @dir changed": its mtime register set to now. */
void qfs_batch_add_touch(struct qfs_fs *fs, struct qfs_batch *b, uint64_t dir);
/* Write every record of the batch; 0 or the first error. Frees the batch. */
int qfs_batch_run(struct qfs_fs *fs, struct qfs_batch *b);

/* Encoded key where the entries of @dir whose name hash is >= @hash start
 * (PROTO_KEY_MAX bytes at @buf); returns its length. */
size_t qfs_dirent_start_key(uint64_t dir, uint64_t hash, uint8_t *buf);

/* A record with an empty value (LINK) or a tombstone, written with quorum. */
int qfs_put_simple(struct qfs_fs *fs, const struct proto_key *key, bool tombstone,
		   const void *val, uint32_t len);

/* ---- fs/file.c ---- */

/* True when @ino is open here and its last open saw no extended attribute
 * at all, and this client set none since (close-to-open, like the data). */
bool qfs_file_no_xattrs(struct qfs_fs *fs, uint64_t ino);
/* This client set or removed an extended attribute of @ino. */
void qfs_file_xattrs_changed(struct qfs_fs *fs, uint64_t ino);

/* Wait for and drop every chunk still being read ahead (before the quorum
 * closes: files may still be open when a mount goes away). */
void qfs_file_ra_stop_all(struct qfs_fs *fs);

/* Open inode of @ino if this client has it open (a reference is taken). */
struct qfs_open_inode *qfs_open_find(struct qfs_fs *fs, uint64_t ino);
void qfs_open_put(struct qfs_fs *fs, struct qfs_open_inode *oi);
/* Open a file this client just created from @inode (no quorum read). */
int qfs_file_open_new(struct qfs_fs *fs, uint64_t ino, const struct proto_inode *inode,
		      unsigned flags, struct qfs_file **out);
/* The mount's readahead counters (tests, debugging). */
void qfs_file_ra_stats(struct qfs_fs *fs, struct qfs_ra_stats *out);
/* file_sync.c: note a write of chunk @index (oi->lock held), and fsync's
 * SYNC with re-established writes after a daemon restart (no lock held;
 * 0 or -EIO). */
void qfs_sync_note(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t index);
int qfs_file_sync_oi(struct qfs_fs *fs, struct qfs_open_inode *oi);

/* Truncate @ino to @size (O(1): new epoch when shrinking). */
int qfs_file_truncate(struct qfs_fs *fs, uint64_t ino, struct qfs_open_inode *oi,
		      uint64_t size);

static inline struct timespec qfs_ms_to_ts(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000 };
	return ts;
}

#endif
