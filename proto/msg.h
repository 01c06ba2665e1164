/* SPDX-License-Identifier: MIT */
/*
 * msg.h - the ARGS frame of every request and reply, encoded and validated.
 *
 * Encoders append to a proto_wr (check w->bad afterwards). Decoders take the
 * ARGS bytes and the DATA frame length from the (already validated) header,
 * check every field and reject with a distinct errno:
 *   -EBADMSG       truncated, trailing bytes, bad flag bits or counts
 *   -EMSGSIZE      a length field beyond its limit
 *   -EINVAL        name empty, with '/' or NUL, "." or ".."
 *   -ENAMETOOLONG  name over 255 bytes
 *   -EFBIG         body over the maximum for its kind
 * A decoded struct may borrow from the ARGS buffer only where noted.
 *
 * Common encodings: key = u16 len + canonical key bytes (proto/key.h);
 * version = u64 hlc + u64 writer; meta = 40 bytes (proto/record.h);
 * sums = u16 count + count * u64.
 */
#ifndef QFS_PROTO_MSG_H
#define QFS_PROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/key.h"
#include "proto/record.h"
#include "proto/version.h"
#include "proto/wire.h"

#define PROTO_DAEMON_NAME_MAX 64
#define PROTO_ID_LEN 16

/* ---- HELLO ---- */

struct proto_hello_req {
	uint16_t min_version, max_version; /* protocol versions the client speaks */
	uint64_t clock;			   /* client hlc, absorbed by the daemon */
	uint8_t volume_id[PROTO_ID_LEN];   /* expected volume; zeros = unknown */
};

#define PROTO_STORE_FRESH 0x1u	  /* store created empty when this daemon started */
#define PROTO_STORE_NOVOLUME 0x2u /* no superblock stored yet */
#define PROTO_STORE_FOREIGN 0x4u  /* store holds a different volume than asked */
#define PROTO_STORE_REBUILDING 0x8u /* being refilled: counts toward no quorum */
#define PROTO_STORE_MASK 0xFu

struct proto_hello_rep {
	uint16_t version; /* protocol version chosen */
	char name[PROTO_DAEMON_NAME_MAX + 1];
	uint8_t store_id[PROTO_ID_LEN];
	uint8_t volume_id[PROTO_ID_LEN];
	uint64_t layout_version;
	uint64_t clock;	     /* daemon hlc now */
	uint64_t boot;	     /* boot verifier, new at every daemon start */
	uint32_t store_flags; /* PROTO_STORE_* */
	uint32_t max_skew_ms;
	uint32_t chunk_max;  /* PROTO_CHUNK_MAX */
	uint32_t block_size; /* PROTO_BLOCK_SIZE */
};

void proto_encode_hello_req(struct proto_wr *w, const struct proto_hello_req *q);
int proto_decode_hello_req(const void *a, size_t len, size_t data_len,
			   struct proto_hello_req *q);
void proto_encode_hello_rep(struct proto_wr *w, const struct proto_hello_rep *p);
int proto_decode_hello_rep(const void *a, size_t len, size_t data_len,
			   struct proto_hello_rep *p);

/* ---- SYNC (request args empty) and the verifier reply shared by writes ---- */

struct proto_sync_rep {
	uint64_t boot;
};

int proto_decode_sync_req(const void *a, size_t len, size_t data_len);
void proto_encode_sync_rep(struct proto_wr *w, const struct proto_sync_rep *p);
int proto_decode_sync_rep(const void *a, size_t len, size_t data_len,
			  struct proto_sync_rep *p);

/* ---- PUT: merge a record; DATA = the value (meta.len bytes) ---- */

#define PROTO_PUT_MKFS 0x1u /* SUPER only: mkfs's; a store adopting it is not rebuilding */
#define PROTO_PUT_MASK 0x1u

struct proto_put_req {
	struct proto_key key;
	struct proto_meta meta; /* CORRUPT flag refused; TOMBSTONE => len 0 */
	uint32_t flags;		/* PROTO_PUT_*; unknown bits, or MKFS on a non-SUPER key, refused */
	uint16_t nsums;		/* == proto_nblocks(meta.len) */
	uint64_t sums[PROTO_CHUNK_BLOCKS];
};

/* Reply to PUT and PATCH: the version stored after the request. */
struct proto_write_rep {
	struct proto_version stored;
	uint32_t flags; /* PROTO_REC_* of the stored record */
	uint64_t boot;
};

void proto_encode_put_req(struct proto_wr *w, const struct proto_put_req *q);
/* Also checks: data_len == meta.len, meta.len <= proto_value_max(kind),
 * nsums consistent, meta.sum == proto_sums_combine(sums). */
int proto_decode_put_req(const void *a, size_t len, size_t data_len, struct proto_put_req *q);
void proto_encode_write_rep(struct proto_wr *w, const struct proto_write_rep *p);
int proto_decode_write_rep(const void *a, size_t len, size_t data_len,
			   struct proto_write_rep *p);

/* ---- GET: a whole record or the blocks covering a byte range ---- */

#define PROTO_GET_WHOLE 0xffffffffu /* length meaning "to the end" */

struct proto_get_req {
	struct proto_key key;
	uint32_t offset; /* bytes; 0 for non-chunk records */
	uint32_t length; /* bytes, or PROTO_GET_WHOLE */
};

/* DATA = bytes of blocks [first_block, first_block + nsums), the last one
 * possibly short (value end). Non-chunk records: the whole value. */
struct proto_get_rep {
	struct proto_meta meta;
	uint16_t first_block;
	uint16_t nsums;
	uint64_t sums[PROTO_CHUNK_BLOCKS];
};

void proto_encode_get_req(struct proto_wr *w, const struct proto_get_req *q);
int proto_decode_get_req(const void *a, size_t len, size_t data_len, struct proto_get_req *q);
void proto_encode_get_rep(struct proto_wr *w, const struct proto_get_rep *p);
/* Also checks that data_len is exactly the bytes of the blocks named. */
int proto_decode_get_rep(const void *a, size_t len, size_t data_len, struct proto_get_rep *p);

/* ---- PATCH: conditional range write into a chunk; DATA = the bytes ---- */

struct proto_patch_req {
	struct proto_key key; /* CHUNK only */
	struct proto_version base; /* apply only if stored version == base (zero: absent) */
	struct proto_version ver;  /* version the chunk takes */
	uint64_t epoch;		   /* truncate epoch of the new version */
	uint32_t offset;	   /* offset + data_len <= PROTO_CHUNK_MAX, data_len >= 1 */
	uint64_t sum;		   /* xxh3 of the DATA bytes */
};

void proto_encode_patch_req(struct proto_wr *w, const struct proto_patch_req *q);
int proto_decode_patch_req(const void *a, size_t len, size_t data_len,
			   struct proto_patch_req *q);
/* Reply: proto_write_rep; status OK (applied or already applied) or CONFLICT. */

/* ---- HEAD: metadata only ---- */

struct proto_head_req {
	struct proto_key key;
};

void proto_encode_head_req(struct proto_wr *w, const struct proto_head_req *q);
int proto_decode_head_req(const void *a, size_t len, size_t data_len,
			  struct proto_head_req *q);
void proto_encode_head_rep(struct proto_wr *w, const struct proto_meta *m);
int proto_decode_head_rep(const void *a, size_t len, size_t data_len, struct proto_meta *m);

/* ---- LIST (one partition, with values) and SCAN (whole store, metadata) ---- */

#define PROTO_LIST_AFTER 0x1u /* start key is exclusive (resume after it) */
#define PROTO_LIST_MASK 0x1u
#define PROTO_LIST_MAX_ENTRIES 4096
#define PROTO_REPLY_SOFT_MAX (512u * 1024) /* a page stops growing past this */

struct proto_list_req {
	uint64_t ino;	  /* partition; never 0 */
	uint8_t kind;	  /* 0 = every kind of the partition, else only this kind */
	uint8_t flags;	  /* PROTO_LIST_* */
	uint32_t max;	  /* 1..PROTO_LIST_MAX_ENTRIES */
	uint16_t start_len; /* 0 = from the partition start */
	uint8_t start[PROTO_KEY_MAX];
};

/* SCAN only: the request ends with a bitmap of DIGEST buckets (bit b of
 * byte b / 8 = bucket b) and the reply lists only keys of those buckets. */
#define PROTO_SCAN_BUCKETS 0x2u
#define PROTO_SCAN_MASK (PROTO_LIST_MASK | PROTO_SCAN_BUCKETS)

struct proto_scan_req {
	uint8_t flags;	  /* PROTO_LIST_*, PROTO_SCAN_BUCKETS (SCAN only) */
	uint32_t max;	  /* 1..PROTO_LIST_MAX_ENTRIES */
	uint16_t start_len; /* 0 = from the first key */
	uint8_t start[PROTO_KEY_MAX];
	const uint8_t *buckets; /* PROTO_SCAN_BUCKETS: PROTO_DIGEST_BITMAP_LEN bytes,
				 * borrowed from the ARGS buffer (decode) or the caller */
};

/* Whether bucket @b is set in a SCAN bitmap. */
static inline bool proto_scan_has_bucket(const uint8_t *map, uint32_t b)
{
	return map[b / 8] & (1u << (b % 8));
}

/* One entry of a LIST or SCAN reply; val borrows from the ARGS buffer. */
struct proto_entry {
	struct proto_key key;
	struct proto_meta meta;
	const uint8_t *val; /* LIST: meta.len bytes (NULL for tombstones); SCAN: NULL */
};

void proto_encode_list_req(struct proto_wr *w, const struct proto_list_req *q);
int proto_decode_list_req(const void *a, size_t len, size_t data_len, struct proto_list_req *q);
void proto_encode_scan_req(struct proto_wr *w, const struct proto_scan_req *q);
/* Also the request of PENDING_LIST, which refuses PROTO_SCAN_BUCKETS
 * (proto_decode_pending_list_req). */
int proto_decode_scan_req(const void *a, size_t len, size_t data_len, struct proto_scan_req *q);
int proto_decode_pending_list_req(const void *a, size_t len, size_t data_len,
				  struct proto_scan_req *q);

/*
 * A filtered SCAN (PROTO_SCAN_BUCKETS) reply starts with u8 more, then the
 * resume position (u16 length 0..PROTO_KEY_MAX + bytes: the last key the
 * daemon looked at, which the next request starts AFTER; empty when none),
 * then the entries. A daemon may stop after looking at many keys without
 * finding one, so a page may hold no entry and still say more.
 */
void proto_encode_scan_resume(struct proto_wr *w, const uint8_t *pos, uint16_t len);
/* After proto_page_begin on a filtered reply: read the resume position into
 * @pos / *len. 0 or -EBADMSG / -EMSGSIZE. */
int proto_page_resume(struct proto_rd *r, uint8_t pos[PROTO_KEY_MAX], uint16_t *len);

/*
 * Page replies: u8 more, then entries until the frame ends. Entry encoding:
 * key, meta, and for LIST the value (meta.len bytes).
 */
void proto_encode_page_head(struct proto_wr *w, bool more);
void proto_encode_entry(struct proto_wr *w, const struct proto_entry *e, bool with_value);
/* Start reading a page reply; returns 0 or -EBADMSG; sets *more. */
int proto_page_begin(struct proto_rd *r, const void *a, size_t len, bool *more);
/* Next entry: 1 got one, 0 end of page, or a negative errno. */
int proto_page_next(struct proto_rd *r, bool with_value, struct proto_entry *e);

/*
 * ---- DIGEST: per-bucket hashes of a daemon's records, kept up to date ----
 *
 * The 64-bit token space (proto_key_token) is cut into PROTO_DIGEST_BUCKETS
 * equal buckets by the token's top 16 bits. A bucket's digest is the
 * wrapping sum (mod 2^64) of proto_entry_hash() over every record of the
 * store whose key falls in it (0 when it holds none). The daemon keeps the
 * sums as it writes, so a request costs no walk of the records.
 */
#define PROTO_DIGEST_BITS 16
#define PROTO_DIGEST_BUCKETS (1u << PROTO_DIGEST_BITS) /* 65536 */
#define PROTO_DIGEST_BITMAP_LEN (PROTO_DIGEST_BUCKETS / 8) /* 8192 bytes */

/* The bucket of placement token @token. */
static inline uint32_t proto_digest_bucket(uint64_t token)
{
	return (uint32_t)(token >> (64 - PROTO_DIGEST_BITS));
}

/* Buckets [first, first + count): count 1..PROTO_DIGEST_BUCKETS, first + count
 * <= PROTO_DIGEST_BUCKETS. */
struct proto_digest_req {
	uint32_t first;
	uint32_t count;
};

/* One digest per bucket of the request; @raw borrows the reply's ARGS
 * (count x u64 little-endian): read them with proto_digest_at(). */
struct proto_digest_rep {
	uint32_t first;
	uint32_t count;
	const uint8_t *raw;
};

/* Hash of one record's identity for DIGEST. */
uint64_t proto_entry_hash(const uint8_t *key, size_t key_len, const struct proto_meta *m);

void proto_encode_digest_req(struct proto_wr *w, const struct proto_digest_req *q);
int proto_decode_digest_req(const void *a, size_t len, size_t data_len,
			    struct proto_digest_req *q);
/* Reply: first, count, then @d[count] (count as in the request). */
void proto_encode_digest_rep(struct proto_wr *w, uint32_t first, uint32_t count,
			     const uint64_t *d);
int proto_decode_digest_rep(const void *a, size_t len, size_t data_len,
			    struct proto_digest_rep *p);
/* Digest @i (0 <= i < p->count) of a decoded reply. */
uint64_t proto_digest_at(const struct proto_digest_rep *p, uint32_t i);

/* ---- REBUILT: a rebuilding store was refilled (fsck); it counts again ---- */

/* Request: the volume and the store (ids from HELLO) the caller refilled, so
 * a stray or late REBUILT cannot clear another volume's store, nor a store
 * that replaced the refilled one (both XVOLUME); all-zero ids refused. */
struct proto_rebuilt_req {
	uint8_t volume_id[PROTO_ID_LEN];
	uint8_t store_id[PROTO_ID_LEN];
};

/* Reply: the store's PROTO_STORE_* flags once the request was applied. */
struct proto_rebuilt_rep {
	uint32_t store_flags;
};

void proto_encode_rebuilt_req(struct proto_wr *w, const struct proto_rebuilt_req *q);
int proto_decode_rebuilt_req(const void *a, size_t len, size_t data_len,
			     struct proto_rebuilt_req *q);
void proto_encode_rebuilt_rep(struct proto_wr *w, const struct proto_rebuilt_rep *p);
int proto_decode_rebuilt_rep(const void *a, size_t len, size_t data_len,
			     struct proto_rebuilt_rep *p);

/* ---- STAT ---- */

struct proto_stat_rep {
	uint64_t capacity;   /* bytes the store may use (--capacity or fs size) */
	uint64_t used;	     /* bytes used by bodies and index */
	uint64_t fs_free;    /* free bytes on the data directory's filesystem */
	uint64_t records;    /* live records */
	uint64_t chunks;     /* live chunk records */
	uint64_t tombstones;
	uint64_t corrupt;    /* records with a failed block */
	uint64_t uptime_s;
	uint64_t fs_id;	     /* statvfs f_fsid: daemons sharing a filesystem share it */
	char software[33];   /* e.g. "0.1.0" */
};

int proto_decode_stat_req(const void *a, size_t len, size_t data_len);
void proto_encode_stat_rep(struct proto_wr *w, const struct proto_stat_rep *p);
int proto_decode_stat_rep(const void *a, size_t len, size_t data_len, struct proto_stat_rep *p);

/*
 * ---- the pending-repair index and tombstone collection (ops 12..16) ----
 *
 * PENDING_ADD, PENDING_DEL, TOMB_CONFIRM and PURGE carry a batch: u16 count
 * (1..PROTO_BATCH_MAX), then count entries, each laid out per opcode:
 *   PENDING_ADD   key, u8 n (1..PROTO_PENDING_MISSED_MAX), n x (u8 len, name)
 *   PENDING_DEL   key, u64 stamp (non-zero)
 *   TOMB_CONFIRM  key, version (non-zero)
 *   PURGE         key, version (non-zero)
 *   DROP          key, version (non-zero): remove the record, whatever it is,
 *                 if the stored version is exactly this one (rebalance)
 * Names are daemon names (1..64 printable ASCII, as in HELLO). Their reply
 * ARGS is a count (u32): entries stored, removed, marked or purged.
 * PENDING_LIST has the SCAN request layout (proto_scan_req) and a page reply
 * whose entries are: key, u64 stamp, u8 n, n x (u8 len, name).
 */

#define PROTO_BATCH_MAX 1024
#define PROTO_PENDING_MISSED_MAX 8

/* One batch or PENDING_LIST entry; which fields are used depends on the op. */
struct proto_batch_ent {
	struct proto_key key;
	struct proto_version ver; /* TOMB_CONFIRM, PURGE, DROP */
	uint64_t stamp;		  /* PENDING_DEL, PENDING_LIST: daemon hlc of the last add */
	uint8_t nmissed;	  /* PENDING_ADD, PENDING_LIST */
	char missed[PROTO_PENDING_MISSED_MAX][PROTO_DAEMON_NAME_MAX + 1];
};

/* Start a batch request of @n entries (1..PROTO_BATCH_MAX). */
void proto_encode_batch_head(struct proto_wr *w, uint16_t n);
/* Append @e laid out for @op (a batch opcode, or PENDING_LIST for page entries). */
void proto_encode_batch_ent(struct proto_wr *w, uint8_t op, const struct proto_batch_ent *e);

/*
 * Validate a whole batch request of @op: count in range, every entry valid,
 * no trailing bytes, DATA empty. On success *n is the count and @first reads
 * the first entry (use proto_batch_next). Returns 0, -EBADMSG, -EMSGSIZE,
 * -EINVAL/-ENAMETOOLONG (a key's name) or -EOPNOTSUPP (@op has no batch).
 */
int proto_decode_batch_req(uint8_t op, const void *a, size_t len, size_t data_len,
			   struct proto_rd *first, uint16_t *n);

/* Read and validate one entry laid out for @op; 0 or -errno (r turns bad). */
int proto_batch_next(struct proto_rd *r, uint8_t op, struct proto_batch_ent *e);

/* Next PENDING_LIST page entry (after proto_page_begin): 1, 0 at the end, or -errno. */
int proto_pending_page_next(struct proto_rd *r, struct proto_batch_ent *e);

/* Reply to PENDING_ADD, PENDING_DEL, TOMB_CONFIRM and PURGE: how many took effect. */
void proto_encode_count_rep(struct proto_wr *w, uint32_t n);
int proto_decode_count_rep(const void *a, size_t len, size_t data_len, uint32_t *n);

#endif
