/* SPDX-License-Identifier: MIT */
/*
 * record.h - record metadata, per-kind values, checksums and merge.
 *
 * Every stored record is a proto_meta plus a value. Values are split into
 * PROTO_BLOCK_SIZE blocks, each with an xxh3 checksum computed by the writer;
 * the record checksum (meta.sum) is xxh3 over the little-endian block sums.
 *
 * Merge is one pure function per kind, shared by daemon and client, and it is
 * commutative, associative and idempotent:
 *  - SUPER, LINK, XATTR, DIRENT, CHUNK: last writer wins by version; equal
 *    versions are ordered by tombstone flag, then record checksum, so even
 *    malformed duplicates merge the same way everywhere.
 *  - INODE: a product of registers, each with its own version (attr, atime, mtime,
 *    size group, parent, symlink target, deletion). The size group orders by
 *    (truncate epoch, size, version), so concurrent extensions never undo
 *    each other. The record version is the newest register version; the
 *    inode is a tombstone when its deletion register is newer than all
 *    others; ctime is the wall-clock part of the newest non-deletion register.
 * nlink is not stored: it is the number of live LINK records of the inode.
 */
#ifndef QFS_PROTO_RECORD_H
#define QFS_PROTO_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/key.h"
#include "proto/version.h"
#include "proto/wire.h"

#define PROTO_REC_TOMBSTONE 0x1u /* deleted: no value */
#define PROTO_REC_CORRUPT 0x2u	 /* replies only: a block failed its checksum */
#define PROTO_REC_MASK 0x3u

#define PROTO_META_LEN 40 /* encoded size of struct proto_meta */

struct proto_meta {
	struct proto_version ver;
	uint32_t flags;	 /* PROTO_REC_* */
	uint64_t epoch;	 /* CHUNK: truncate epoch it was written in; else 0 */
	uint32_t len;	 /* value length in bytes */
	uint64_t sum;	 /* record checksum, see above */
};

/* A record in memory: metadata and a borrowed value of meta.len bytes. */
struct proto_rec {
	struct proto_meta meta;
	const uint8_t *val;
};

void proto_meta_encode(struct proto_wr *w, const struct proto_meta *m);
/* Returns 0 or -EBADMSG (short, unknown flag bits). */
int proto_meta_decode(struct proto_rd *r, struct proto_meta *m);

/* Largest value a record of @kind may carry. */
uint32_t proto_value_max(uint8_t kind);

static inline uint32_t proto_nblocks(uint32_t len)
{
	return (len + PROTO_BLOCK_SIZE - 1) / PROTO_BLOCK_SIZE;
}

/* xxh3 of one block. */
uint64_t proto_block_sum(const void *p, size_t len);
/* Fill @sums[proto_nblocks(len)] for a value; returns the record checksum. */
uint64_t proto_value_sums(const void *val, uint32_t len, uint64_t *sums);
/* Record checksum of a block-sum array. */
uint64_t proto_sums_combine(const uint64_t *sums, uint32_t n);

/* ---- per-kind values ---- */

#define PROTO_FORMAT_VERSION 1
#define PROTO_SUPER_LEN 40

struct proto_super {
	uint32_t format;	/* PROTO_FORMAT_VERSION */
	uint32_t chunk_size;	/* bytes, multiple of PROTO_BLOCK_SIZE, <= PROTO_CHUNK_MAX */
	uint8_t volume_id[16];
	uint64_t created_ms;
	uint64_t reserved;
};

void proto_super_encode(struct proto_wr *w, const struct proto_super *s);
/* Returns 0, -EBADMSG (length, chunk size or format out of range). */
int proto_super_decode(const void *buf, size_t len, struct proto_super *s);

#define PROTO_DIRENT_LEN 9

struct proto_dirent {
	uint64_t ino;
	uint8_t type; /* DT_REG, DT_DIR, DT_LNK, DT_FIFO, ... */
};

void proto_dirent_encode(struct proto_wr *w, const struct proto_dirent *d);
int proto_dirent_decode(const void *buf, size_t len, struct proto_dirent *d);

#define PROTO_TARGET_MAX 4095 /* symlink target bytes */
#define PROTO_TRUNC_MAX 16    /* truncation points kept in the size group */

/*
 * A truncation point: the truncate that started @epoch cut the file to @size.
 * The size group keeps them as a stack with sizes increasing with epoch: a
 * chunk written in epoch e has valid bytes only below the size of the first
 * point with epoch > e (older bytes past it read as zeros).
 */
struct proto_trunc {
	uint64_t epoch;
	uint64_t size;
};

/*
 * Canonical stack of the union of @a[na] and @b[nb] (either may be empty;
 * counts over PROTO_TRUNC_MAX are clamped): points made redundant by a
 * later, smaller cut are dropped, and past PROTO_TRUNC_MAX the oldest go.
 * Writes @out (which may alias @a or @b) and returns its count. To record a
 * truncate, pass the inode's stack and the one new point.
 */
unsigned proto_trunc_normalize(const struct proto_trunc *a, unsigned na,
			       const struct proto_trunc *b, unsigned nb,
			       struct proto_trunc out[PROTO_TRUNC_MAX]);

/*
 * End (a file offset) of the valid bytes of a chunk written in @chunk_epoch,
 * for an inode whose size group has epoch @inode_epoch and truncation stack
 * @t[n]: UINT64_MAX when the chunk is of the current epoch or newer (only
 * the size limits it), else the size of the first point with an epoch above
 * @chunk_epoch, or 0 when none survives (nothing of it can be trusted).
 */
uint64_t proto_trunc_valid_end(const struct proto_trunc *t, unsigned n, uint64_t inode_epoch,
			       uint64_t chunk_epoch);

struct proto_inode {
	struct proto_version attr_ver;
	uint32_t mode, uid, gid, rdev;

	struct proto_version atime_ver; /* atime alone: reads never race writes */
	int64_t atime_sec;
	uint32_t atime_nsec;

	struct proto_version mtime_ver; /* mtime alone: a directory change needs no read */
	int64_t mtime_sec;
	uint32_t mtime_nsec;

	struct proto_version size_ver;
	uint64_t epoch; /* truncate epoch */
	uint64_t size;
	uint8_t ntrunc; /* truncation points, oldest first */
	struct proto_trunc trunc[PROTO_TRUNC_MAX];

	struct proto_version parent_ver;
	uint64_t parent; /* last directory it was linked into (fsck cycles) */

	struct proto_version target_ver;
	uint16_t target_len;
	char target[PROTO_TARGET_MAX + 1]; /* symlink target, NUL-terminated */

	struct proto_version del_ver; /* deletion register; zero when never deleted */
};

void proto_inode_encode(struct proto_wr *w, const struct proto_inode *ino);
/* Returns 0 or -EBADMSG (length, nsec >= 1e9, target too long). */
int proto_inode_decode(const void *buf, size_t len, struct proto_inode *ino);
/* Newest register version (the record version). */
struct proto_version proto_inode_version(const struct proto_inode *ino);
bool proto_inode_is_deleted(const struct proto_inode *ino);
/* ctime in ms: wall-clock part of the newest non-deletion register. */
uint64_t proto_inode_ctime_ms(const struct proto_inode *ino);
/* @out = merge of @a and @b (any may alias). */
void proto_inode_merge(const struct proto_inode *a, const struct proto_inode *b,
		       struct proto_inode *out);
/* Fill meta (ver, flags, len, sum, epoch = size epoch) for an encoded inode. */
void proto_inode_meta(const struct proto_inode *ino, const uint8_t *val, uint32_t len,
		      struct proto_meta *m);

/* ---- merge ---- */

/* LWW order of two metas: -1, 0, 1 (version, then tombstone, then sum). */
int proto_lww_cmp(const struct proto_meta *a, const struct proto_meta *b);

/*
 * Merge records @a and @b of @kind into @out. For LWW kinds @out is a copy
 * of the winner (its val borrows from @a or @b). For INODE the merged value
 * is written to @buf (reset first) and out->val points into it; an INODE
 * value that does not decode loses to one that does.
 * Returns 0, -ENOMEM (buf) or -EINVAL (unknown kind).
 */
int proto_merge(uint8_t kind, const struct proto_rec *a, const struct proto_rec *b,
		struct proto_rec *out, struct proto_wr *buf);

#endif
