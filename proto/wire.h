/* SPDX-License-Identifier: MIT */
/*
 * wire.h - the fixed header frame and safe little-endian readers/writers.
 *
 * Every message is exactly three ZeroMQ frames: HEADER, ARGS, DATA. HEADER is
 * PROTO_HDR_LEN bytes (layout below); ARGS holds the opcode's fields encoded
 * by proto/msg.c; DATA carries record bytes untouched (possibly empty), so a
 * 1 MiB body is never copied into an args buffer. The header states both
 * lengths, and a receiver checks frame count and sizes before decoding.
 *
 * HEADER layout, little-endian:
 *   0  u32 magic      PROTO_MAGIC
 *   4  u8  version    PROTO_VERSION
 *   5  u8  opcode     enum proto_op
 *   6  u16 flags      PROTO_HF_*
 *   8  u16 status     enum proto_status (replies; 0 in requests)
 *  10  u16 reserved   must be 0
 *  12  u32 args_len   length of the ARGS frame
 *  16  u64 reqid      chosen by the requester, echoed in the reply
 *  24  u32 data_len   length of the DATA frame
 *  28  u32 layout     the sender's cluster layout version: in a reply the
 *                     version the daemon stores (0: none); in a request the
 *                     version of the layout that routed it (0: not routed
 *                     by a layout). docs/protocol.md section 2.
 */
#ifndef QFS_PROTO_WIRE_H
#define QFS_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC 0x31534651u /* "QFS1" on the wire */
#define PROTO_VERSION 1
#define PROTO_HDR_LEN 32
#define PROTO_FRAMES 3

#define PROTO_HF_REPLY 0x0001u /* set in every reply */
#define PROTO_HF_MASK 0x0001u

/* Limits that bound every allocation driven by the wire. */
#define PROTO_NAME_MAX 255		   /* bytes of a file or xattr name */
#define PROTO_BLOCK_SIZE (64u * 1024)	   /* checksum granule of a body */
#define PROTO_CHUNK_MAX (4u * 1024 * 1024) /* largest chunk body */
#define PROTO_CHUNK_BLOCKS (PROTO_CHUNK_MAX / PROTO_BLOCK_SIZE)
#define PROTO_VALUE_MAX (64u * 1024)	   /* largest non-chunk record value */
#define PROTO_ARGS_MAX (1024u * 1024)	   /* largest ARGS frame */
#define PROTO_DATA_MAX PROTO_CHUNK_MAX	   /* largest DATA frame */
/* ZMQ_MAXMSGSIZE: the largest frame (DATA, 4 MiB) plus slack. */
#define PROTO_FRAME_MAX \
	((PROTO_DATA_MAX > PROTO_ARGS_MAX ? PROTO_DATA_MAX : PROTO_ARGS_MAX) + 4096)

enum proto_op {
	PROTO_OP_HELLO = 1,
	PROTO_OP_SYNC = 2,
	PROTO_OP_PUT = 3,
	PROTO_OP_GET = 4,
	PROTO_OP_PATCH = 5,
	PROTO_OP_HEAD = 6,
	PROTO_OP_LIST = 7,
	PROTO_OP_SCAN = 8,
	PROTO_OP_DIGEST = 9,
	PROTO_OP_STAT = 10,
	PROTO_OP_REBUILT = 11,	   /* a rebuilding store was refilled: count it again */
	PROTO_OP_PENDING_ADD = 12,  /* record keys some replicas missed */
	PROTO_OP_PENDING_LIST = 13, /* page through the pending-repair index */
	PROTO_OP_PENDING_DEL = 14,  /* drop repaired keys from the index */
	PROTO_OP_TOMB_CONFIRM = 15, /* every replica holds these tombstones */
	PROTO_OP_PURGE = 16,	   /* drop tombstones past the grace period */
	PROTO_OP_DROP = 17,	   /* drop a copy this daemon no longer owns */
	PROTO_OP_LAYOUT_GET = 18,  /* the cluster layout this daemon holds */
	PROTO_OP_LAYOUT_SET = 19,  /* replace it, compare-and-swap on its version */
	PROTO_OP_MAX
};

/* Lower-case opcode name for logs ("put"); "?" when out of range. */
const char *proto_op_name(unsigned op);

struct proto_hdr {
	uint8_t version;
	uint8_t opcode;
	uint16_t flags;
	uint16_t status;
	uint32_t args_len;
	uint64_t reqid;
	uint32_t data_len;
	uint32_t layout; /* layout version (see above); 0 = none / not routed */
};

/* Encode @h (magic added) into @buf of PROTO_HDR_LEN bytes. */
void proto_hdr_encode(const struct proto_hdr *h, uint8_t buf[PROTO_HDR_LEN]);

/*
 * Decode and validate a header frame of @len bytes. Returns 0, or
 * -EBADMSG (wrong length, reserved bits), -EPROTO (magic),
 * -EPROTONOSUPPORT (version), -EOPNOTSUPP (opcode), -EMSGSIZE (lengths over
 * PROTO_ARGS_MAX / PROTO_DATA_MAX).
 */
int proto_hdr_decode(const void *buf, size_t len, struct proto_hdr *h);

/* Bounded reader with a sticky error: reads past the end return 0 and set bad. */
struct proto_rd {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static inline void proto_rd_init(struct proto_rd *r, const void *buf, size_t len)
{
	r->p = buf;
	r->left = len;
	r->bad = false;
}

uint8_t proto_get_u8(struct proto_rd *r);
uint16_t proto_get_u16(struct proto_rd *r);
uint32_t proto_get_u32(struct proto_rd *r);
uint64_t proto_get_u64(struct proto_rd *r);
/* Borrow @n bytes from the buffer; NULL (and bad) if fewer remain. */
const uint8_t *proto_get_bytes(struct proto_rd *r, size_t n);

/* Growable writer; on allocation failure it turns bad and later puts are no-ops. */
struct proto_wr {
	uint8_t *buf;
	size_t len;
	size_t cap;
	bool bad;
};

void proto_wr_init(struct proto_wr *w);
void proto_wr_free(struct proto_wr *w);
void proto_put_u8(struct proto_wr *w, uint8_t v);
void proto_put_u16(struct proto_wr *w, uint16_t v);
void proto_put_u32(struct proto_wr *w, uint32_t v);
void proto_put_u64(struct proto_wr *w, uint64_t v);
void proto_put_bytes(struct proto_wr *w, const void *p, size_t n);

/* Big-endian helpers for ordered key bytes. */
void proto_be64_put(uint8_t *p, uint64_t v);
uint64_t proto_be64_get(const uint8_t *p);

#endif
