// SPDX-License-Identifier: MIT
/*
 * wire.c - the fixed HEADER frame and the bounded little-endian reader and
 * growable writer every codec in proto/ is built on.
 *
 * Invariants: a proto_rd never reads past p + left; once bad it stays bad and
 * every get returns 0 (or NULL). A proto_wr never writes past cap; once an
 * allocation fails it stays bad and later puts are no-ops, so encoders only
 * check w->bad at the end. The header is encoded field by field, never
 * memcpy'd from a struct.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/status.h"
#include "proto/wire.h"

static const char *const proto_op_names[PROTO_OP_MAX] = {
	[PROTO_OP_HELLO] = "hello", [PROTO_OP_SYNC] = "sync",	  [PROTO_OP_PUT] = "put",
	[PROTO_OP_GET] = "get",	    [PROTO_OP_PATCH] = "patch",	  [PROTO_OP_HEAD] = "head",
	[PROTO_OP_LIST] = "list",   [PROTO_OP_SCAN] = "scan",	  [PROTO_OP_DIGEST] = "digest",
	[PROTO_OP_STAT] = "stat",
	[PROTO_OP_REBUILT] = "rebuilt",
	[PROTO_OP_PENDING_ADD] = "pending_add",
	[PROTO_OP_PENDING_LIST] = "pending_list",
	[PROTO_OP_PENDING_DEL] = "pending_del",
	[PROTO_OP_TOMB_CONFIRM] = "tomb_confirm",
	[PROTO_OP_PURGE] = "purge",
	[PROTO_OP_DROP] = "drop",
	[PROTO_OP_LAYOUT_GET] = "layout_get",
	[PROTO_OP_LAYOUT_SET] = "layout_set",
};

const char *proto_op_name(unsigned op)
{
	if (op >= PROTO_OP_MAX || !proto_op_names[op])
		return "?";
	return proto_op_names[op];
}

static void proto_le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void proto_le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void proto_le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void proto_hdr_encode(const struct proto_hdr *h, uint8_t buf[PROTO_HDR_LEN])
{
	proto_le32_put(buf + 0, PROTO_MAGIC);
	buf[4] = h->version;
	buf[5] = h->opcode;
	proto_le16_put(buf + 6, h->flags);
	proto_le16_put(buf + 8, h->status);
	proto_le16_put(buf + 10, 0);
	proto_le32_put(buf + 12, h->args_len);
	proto_le64_put(buf + 16, h->reqid);
	proto_le32_put(buf + 24, h->data_len);
	proto_le32_put(buf + 28, h->layout);
}

/*
 * Checks run in the order a peer needs to understand the refusal: magic,
 * version, then the fields. @h is filled before any check (when the frame
 * has the right size) so that a receiver can still echo reqid and opcode.
 */
int proto_hdr_decode(const void *buf, size_t len, struct proto_hdr *h)
{
	struct proto_rd r;
	uint32_t magic;
	uint16_t rsv16;

	memset(h, 0, sizeof(*h));
	if (len != PROTO_HDR_LEN)
		return -EBADMSG;
	proto_rd_init(&r, buf, len);
	magic = proto_get_u32(&r);
	h->version = proto_get_u8(&r);
	h->opcode = proto_get_u8(&r);
	h->flags = proto_get_u16(&r);
	h->status = proto_get_u16(&r);
	rsv16 = proto_get_u16(&r);
	h->args_len = proto_get_u32(&r);
	h->reqid = proto_get_u64(&r);
	h->data_len = proto_get_u32(&r);
	h->layout = proto_get_u32(&r);
	if (r.bad || r.left != 0)
		return -EBADMSG;
	if (magic != PROTO_MAGIC)
		return -EPROTO;
	if (h->version != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (rsv16 != 0 || (h->flags & ~PROTO_HF_MASK))
		return -EBADMSG;
	if (h->opcode == 0 || h->opcode >= PROTO_OP_MAX)
		return -EOPNOTSUPP;
	/* Requests carry no status; replies carry a known one. */
	if (!(h->flags & PROTO_HF_REPLY) && h->status != 0)
		return -EBADMSG;
	if (h->status >= PROTO_ST_MAX)
		return -EBADMSG;
	if (h->args_len > PROTO_ARGS_MAX || h->data_len > PROTO_DATA_MAX)
		return -EMSGSIZE;
	return 0;
}

uint8_t proto_get_u8(struct proto_rd *r)
{
	uint8_t v;

	if (r->bad || r->left < 1) {
		r->bad = true;
		return 0;
	}
	v = r->p[0];
	r->p += 1;
	r->left -= 1;
	return v;
}

uint16_t proto_get_u16(struct proto_rd *r)
{
	uint16_t v;

	if (r->bad || r->left < 2) {
		r->bad = true;
		return 0;
	}
	v = (uint16_t)(r->p[0] | (uint16_t)r->p[1] << 8);
	r->p += 2;
	r->left -= 2;
	return v;
}

uint32_t proto_get_u32(struct proto_rd *r)
{
	uint32_t v;

	if (r->bad || r->left < 4) {
		r->bad = true;
		return 0;
	}
	v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
	    (uint32_t)r->p[3] << 24;
	r->p += 4;
	r->left -= 4;
	return v;
}

uint64_t proto_get_u64(struct proto_rd *r)
{
	uint64_t v = 0;

	if (r->bad || r->left < 8) {
		r->bad = true;
		return 0;
	}
	for (int i = 7; i >= 0; i--)
		v = v << 8 | r->p[i];
	r->p += 8;
	r->left -= 8;
	return v;
}

const uint8_t *proto_get_bytes(struct proto_rd *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || r->left < n) {
		r->bad = true;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

void proto_wr_init(struct proto_wr *w)
{
	w->buf = NULL;
	w->len = 0;
	w->cap = 0;
	w->bad = false;
}

void proto_wr_free(struct proto_wr *w)
{
	if (!w)
		return;
	free(w->buf);
	proto_wr_init(w);
}

/* Make room for @n more bytes; returns the write position or NULL (bad). */
static uint8_t *proto_wr_room(struct proto_wr *w, size_t n)
{
	size_t need, cap;
	uint8_t *nb;

	if (w->bad)
		return NULL;
	if (n > SIZE_MAX - w->len) {
		w->bad = true;
		return NULL;
	}
	need = w->len + n;
	if (need > w->cap) {
		cap = w->cap ? w->cap : 256;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->bad = true;
			return NULL;
		}
		w->buf = nb;
		w->cap = cap;
	}
	return w->buf + w->len;
}

void proto_put_u8(struct proto_wr *w, uint8_t v)
{
	uint8_t *p = proto_wr_room(w, 1);

	if (!p)
		return;
	p[0] = v;
	w->len += 1;
}

void proto_put_u16(struct proto_wr *w, uint16_t v)
{
	uint8_t *p = proto_wr_room(w, 2);

	if (!p)
		return;
	proto_le16_put(p, v);
	w->len += 2;
}

void proto_put_u32(struct proto_wr *w, uint32_t v)
{
	uint8_t *p = proto_wr_room(w, 4);

	if (!p)
		return;
	proto_le32_put(p, v);
	w->len += 4;
}

void proto_put_u64(struct proto_wr *w, uint64_t v)
{
	uint8_t *p = proto_wr_room(w, 8);

	if (!p)
		return;
	proto_le64_put(p, v);
	w->len += 8;
}

void proto_put_bytes(struct proto_wr *w, const void *src, size_t n)
{
	uint8_t *p;

	if (n == 0)
		return;
	p = proto_wr_room(w, n);
	if (!p)
		return;
	memcpy(p, src, n);
	w->len += n;
}

void proto_be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

uint64_t proto_be64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}
