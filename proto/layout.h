/* SPDX-License-Identifier: MIT */
/*
 * layout.h - the cluster layout record that daemons store and hand out
 * (LAYOUT_GET / LAYOUT_SET): the daemons (name, endpoint, CURVE key, zone,
 * weight), N/W/R, vnodes, the layout version, and optionally the previous
 * layout while the cluster moves from one to the other.
 *
 * Encoding (little-endian, docs/protocol.md "Layouts"):
 *   u8  format  PROTO_LAYOUT_FORMAT
 *   u8  flags   PROTO_LAYOUT_PREV (a previous layout follows)
 *   ring        the current layout
 *   ring        the previous one, only with PROTO_LAYOUT_PREV
 * ring = u64 version, u8 n, u8 w, u8 r, u16 vnodes, u16 ndaemons, then per
 * daemon: u8 len + name, u16 len + endpoint, u8 len + public key (0 or 40),
 * u8 len + zone (0..64), u16 weight.
 * The decoder is strict: every field in range, names and endpoints unique,
 * CURVE keys on every daemon or on none, previous version < version, no
 * trailing bytes. Encoding is canonical (decode then encode gives the input).
 */
#ifndef QFS_PROTO_LAYOUT_H
#define QFS_PROTO_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

#define PROTO_LAYOUT_FORMAT 1
#define PROTO_LAYOUT_PREV 0x1u
#define PROTO_LAYOUT_FLAGS_MASK 0x1u
#define PROTO_LAYOUT_DAEMONS_MAX 256
#define PROTO_LAYOUT_REPLICAS_MAX 7
#define PROTO_LAYOUT_VNODES_MAX 4096
#define PROTO_LAYOUT_WEIGHT_MAX 10000
#define PROTO_LAYOUT_NAME_MAX 64
#define PROTO_LAYOUT_ENDPOINT_MAX 255
#define PROTO_LAYOUT_KEY_LEN 40
#define PROTO_LAYOUT_POINTS_MAX (1u << 22) /* sum of vnodes * weight / 100 */
/* Layout versions travel in the u32 header field "layout" (wire.h). */
#define PROTO_LAYOUT_VERSION_MAX UINT32_MAX

struct proto_layout_daemon {
	char name[PROTO_LAYOUT_NAME_MAX + 1];	      /* [A-Za-z0-9._-], 1..64 */
	char endpoint[PROTO_LAYOUT_ENDPOINT_MAX + 1]; /* tcp://... or ipc://..., no blanks */
	char public_key[PROTO_LAYOUT_KEY_LEN + 1];    /* Z85, "" = plaintext */
	char zone[PROTO_LAYOUT_NAME_MAX + 1];	      /* "" = a zone of its own */
	uint32_t weight;			      /* 1..10000 */
};

struct proto_layout_ring {
	uint64_t version; /* 1..PROTO_LAYOUT_VERSION_MAX */
	uint8_t n, w, r;  /* 1 <= w, r <= n <= min(7, ndaemons) */
	uint16_t vnodes;  /* 1..4096 */
	uint16_t ndaemons;
	struct proto_layout_daemon d[PROTO_LAYOUT_DAEMONS_MAX];
};

struct proto_layout {
	bool has_prev;
	struct proto_layout_ring cur;
	struct proto_layout_ring prev; /* when has_prev; prev.version < cur.version */
};

/* Append @l to @w (check w->bad). @l must be valid (proto_layout_check). */
void proto_layout_encode(struct proto_wr *w, const struct proto_layout *l);

/*
 * Decode @len bytes into @l (large: allocate it). Returns 0, -EBADMSG
 * (truncated, trailing bytes, unknown format or flags, bad characters,
 * duplicates), -EMSGSIZE (a length or count over its limit) or -ERANGE
 * (a number out of range).
 */
int proto_layout_decode(const void *buf, size_t len, struct proto_layout *l);

/* Check a layout built in memory with the decoder's rules; 0 or as decode. */
int proto_layout_check(const struct proto_layout *l);

/* Index of the daemon called @name in @r, or -1. */
int proto_layout_find(const struct proto_layout_ring *r, const char *name);

/*
 * LAYOUT_SET request ARGS: u64 expected version (0: none stored yet), then
 * the layout. Its reply and LAYOUT_GET's error replies carry u64 stored
 * version; LAYOUT_GET's OK reply carries the layout. LAYOUT_GET's request
 * ARGS are empty.
 */
void proto_encode_layout_set_req(struct proto_wr *w, uint64_t expect, const struct proto_layout *l);
int proto_decode_layout_set_req(const void *a, size_t len, size_t data_len, uint64_t *expect,
				struct proto_layout *l);
void proto_encode_layout_version(struct proto_wr *w, uint64_t version);
int proto_decode_layout_version(const void *a, size_t len, size_t data_len, uint64_t *version);

#endif
