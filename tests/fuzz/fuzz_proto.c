// SPDX-License-Identifier: MIT
/*
 * fuzz_proto.c - libFuzzer targets for every proto/ decoder. Each binary is
 * this file built with FUZZ_WHICH naming one of the functions below.
 *
 * The only acceptable outcomes are a clean error or success; on success
 * the decoded value is re-encoded and must give back the same bytes (every
 * encoding is canonical), so a decoder that accepts something the encoder
 * cannot produce is found as well. Message inputs start with a u32 DATA
 * length (little-endian), the rest is the ARGS frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/layout.h"
#include "proto/msg.h"
#include "proto/record.h"
#include "proto/wire.h"

#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c))                                                                  \
			__builtin_trap();                                                  \
	} while (0)

/* Split input into DATA length and ARGS. */
static bool split(const uint8_t **p, size_t *n, size_t *dlen)
{
	if (*n < 4)
		return false;
	*dlen = (size_t)(*p)[0] | (size_t)(*p)[1] << 8 | (size_t)(*p)[2] << 16 |
		(size_t)(*p)[3] << 24;
	*p += 4;
	*n -= 4;
	return true;
}

/* The re-encoding in @w must equal the decoded input. */
static void same(struct proto_wr *w, const uint8_t *p, size_t n)
{
	CHECK(!w->bad);
	CHECK(w->len == n);
	CHECK(n == 0 || memcmp(w->buf, p, n) == 0);
	proto_wr_free(w);
}

static void fuzz_hdr(const uint8_t *p, size_t n)
{
	struct proto_hdr h;
	uint8_t b[PROTO_HDR_LEN];

	if (proto_hdr_decode(p, n, &h) == 0) {
		proto_hdr_encode(&h, b);
		CHECK(memcmp(b, p, PROTO_HDR_LEN) == 0);
	}
}

#define FUZZ_MSG(name, type, dec, enc)                                                     \
	static void fuzz_##name(const uint8_t *p, size_t n)                                \
	{                                                                                  \
		static type v;                                                             \
		struct proto_wr w;                                                         \
		size_t dlen;                                                               \
                                                                                           \
		if (!split(&p, &n, &dlen))                                                 \
			return;                                                            \
		if (dec(p, n, dlen, &v) != 0)                                              \
			return;                                                            \
		proto_wr_init(&w);                                                         \
		enc(&w, &v);                                                               \
		same(&w, p, n);                                                            \
	}

FUZZ_MSG(hello_req, struct proto_hello_req, proto_decode_hello_req, proto_encode_hello_req)
FUZZ_MSG(hello_rep, struct proto_hello_rep, proto_decode_hello_rep, proto_encode_hello_rep)
FUZZ_MSG(sync_rep, struct proto_sync_rep, proto_decode_sync_rep, proto_encode_sync_rep)
FUZZ_MSG(put_req, struct proto_put_req, proto_decode_put_req, proto_encode_put_req)
FUZZ_MSG(write_rep, struct proto_write_rep, proto_decode_write_rep, proto_encode_write_rep)
FUZZ_MSG(get_req, struct proto_get_req, proto_decode_get_req, proto_encode_get_req)
FUZZ_MSG(get_rep, struct proto_get_rep, proto_decode_get_rep, proto_encode_get_rep)
FUZZ_MSG(patch_req, struct proto_patch_req, proto_decode_patch_req, proto_encode_patch_req)
FUZZ_MSG(head_req, struct proto_head_req, proto_decode_head_req, proto_encode_head_req)
FUZZ_MSG(head_rep, struct proto_meta, proto_decode_head_rep, proto_encode_head_rep)
FUZZ_MSG(list_req, struct proto_list_req, proto_decode_list_req, proto_encode_list_req)
FUZZ_MSG(scan_req, struct proto_scan_req, proto_decode_scan_req, proto_encode_scan_req)
FUZZ_MSG(digest_req, struct proto_digest_req, proto_decode_digest_req, proto_encode_digest_req)
/* DIGEST reply: its digests borrow the input, re-encoded through proto_digest_at. */
static void enc_digest_rep(struct proto_wr *w, const struct proto_digest_rep *p)
{
	proto_put_u32(w, p->first);
	proto_put_u32(w, p->count);
	for (uint32_t i = 0; i < p->count; i++)
		proto_put_u64(w, proto_digest_at(p, i));
}

FUZZ_MSG(digest_rep, struct proto_digest_rep, proto_decode_digest_rep, enc_digest_rep)
FUZZ_MSG(pending_list_req, struct proto_scan_req, proto_decode_pending_list_req,
	 proto_encode_scan_req)
FUZZ_MSG(stat_rep, struct proto_stat_rep, proto_decode_stat_rep, proto_encode_stat_rep)
FUZZ_MSG(rebuilt_req, struct proto_rebuilt_req, proto_decode_rebuilt_req,
	 proto_encode_rebuilt_req)
FUZZ_MSG(rebuilt_rep, struct proto_rebuilt_rep, proto_decode_rebuilt_rep,
	 proto_encode_rebuilt_rep)

/*
 * Batches of the pending-repair index and tombstone ops: first byte picks
 * the op, then DATA length and ARGS. Re-encoding what was read must give
 * back the input.
 */
static void fuzz_batch_req(const uint8_t *p, size_t n)
{
	static const uint8_t ops[] = { PROTO_OP_PENDING_ADD, PROTO_OP_PENDING_DEL,
				       PROTO_OP_TOMB_CONFIRM, PROTO_OP_PURGE, PROTO_OP_DROP };
	static struct proto_batch_ent e;
	struct proto_wr w;
	struct proto_rd r;
	uint16_t cnt;
	size_t dlen;
	uint8_t op;

	if (n < 1)
		return;
	op = ops[p[0] % sizeof(ops)];
	p++;
	n--;
	if (!split(&p, &n, &dlen))
		return;
	if (proto_decode_batch_req(op, p, n, dlen, &r, &cnt) != 0)
		return;
	proto_wr_init(&w);
	proto_encode_batch_head(&w, cnt);
	for (uint16_t i = 0; i < cnt; i++) {
		CHECK(proto_batch_next(&r, op, &e) == 0);
		proto_encode_batch_ent(&w, op, &e);
	}
	CHECK(r.left == 0);
	same(&w, p, n);
}

/* The cluster layout record (a daemon's disk, LAYOUT_GET's reply). */
static void fuzz_layout(const uint8_t *p, size_t n)
{
	static struct proto_layout l;
	struct proto_wr w;

	if (proto_layout_decode(p, n, &l) != 0)
		return;
	CHECK(proto_layout_check(&l) == 0);
	proto_wr_init(&w);
	proto_layout_encode(&w, &l);
	same(&w, p, n);
}

/* LAYOUT_SET's request: u64 expected version, then the layout. */
static void fuzz_layout_set_req(const uint8_t *p, size_t n)
{
	static struct proto_layout l;
	struct proto_wr w;
	uint64_t expect;
	size_t dlen;

	if (!split(&p, &n, &dlen))
		return;
	if (proto_decode_layout_set_req(p, n, dlen, &expect, &l) != 0)
		return;
	CHECK(dlen == 0 && proto_layout_check(&l) == 0);
	proto_wr_init(&w);
	proto_encode_layout_set_req(&w, expect, &l);
	same(&w, p, n);
}

/* A PENDING_LIST page reply, and the count reply of the batch ops. */
static void fuzz_pending_page(const uint8_t *p, size_t n)
{
	static struct proto_batch_ent e;
	struct proto_wr w;
	struct proto_rd r;
	uint32_t cnt;
	bool more;
	int rc;

	if (proto_decode_count_rep(p, n, 0, &cnt) == 0) {
		proto_wr_init(&w);
		proto_encode_count_rep(&w, cnt);
		same(&w, p, n);
	}
	if (proto_page_begin(&r, p, n, &more) != 0)
		return;
	proto_wr_init(&w);
	proto_encode_page_head(&w, more);
	while ((rc = proto_pending_page_next(&r, &e)) == 1)
		proto_encode_batch_ent(&w, PROTO_OP_PENDING_LIST, &e);
	if (rc == 0)
		same(&w, p, n);
	else
		proto_wr_free(&w);
}

/* Requests with empty ARGS. */
static void fuzz_empty_req(const uint8_t *p, size_t n)
{
	size_t dlen;

	if (!split(&p, &n, &dlen))
		return;
	CHECK((proto_decode_sync_req(p, n, dlen) == 0) == (n == 0 && dlen == 0));
	CHECK((proto_decode_stat_req(p, n, dlen) == 0) == (n == 0 && dlen == 0));
}

static void fuzz_key(const uint8_t *p, size_t n)
{
	struct proto_key k;
	uint8_t b[PROTO_KEY_MAX];
	char s[64];

	if (proto_key_decode(p, n, &k) != 0)
		return;
	CHECK(proto_key_encode(&k, b) == n);
	CHECK(memcmp(b, p, n) == 0);
	proto_key_str(&k, s, sizeof(s));
	(void)proto_key_token(&k);
}

static void fuzz_value(const uint8_t *p, size_t n)
{
	struct proto_inode *ino = malloc(sizeof(*ino));
	struct proto_super s;
	struct proto_dirent d;
	struct proto_wr w;

	if (!ino)
		return;
	if (proto_inode_decode(p, n, ino) == 0) {
		proto_wr_init(&w);
		proto_inode_encode(&w, ino);
		same(&w, p, n);
		(void)proto_inode_ctime_ms(ino);
		(void)proto_inode_is_deleted(ino);
	}
	free(ino);
	if (proto_super_decode(p, n, &s) == 0) {
		proto_wr_init(&w);
		proto_super_encode(&w, &s);
		same(&w, p, n);
	}
	if (proto_dirent_decode(p, n, &d) == 0) {
		proto_wr_init(&w);
		proto_dirent_encode(&w, &d);
		same(&w, p, n);
	}
}

static void fuzz_page(const uint8_t *p, size_t n, bool with_value)
{
	struct proto_entry e;
	struct proto_rd r;
	struct proto_wr w;
	bool more;
	int rc;

	if (proto_page_begin(&r, p, n, &more) != 0)
		return;
	proto_wr_init(&w);
	proto_encode_page_head(&w, more);
	while ((rc = proto_page_next(&r, with_value, &e)) == 1)
		proto_encode_entry(&w, &e, with_value);
	if (rc == 0)
		same(&w, p, n);
	else
		proto_wr_free(&w);
}

static void fuzz_page_list(const uint8_t *p, size_t n)
{
	fuzz_page(p, n, true);
}

static void fuzz_page_scan(const uint8_t *p, size_t n)
{
	fuzz_page(p, n, false);
}

/* A filtered SCAN reply: more, resume position, entries. */
static void fuzz_page_scan_buckets(const uint8_t *p, size_t n)
{
	uint8_t pos[PROTO_KEY_MAX];
	struct proto_entry e;
	struct proto_rd r;
	struct proto_wr w;
	uint16_t plen;
	bool more;
	int rc;

	if (proto_page_begin(&r, p, n, &more) != 0 || proto_page_resume(&r, pos, &plen) != 0)
		return;
	CHECK(plen <= PROTO_KEY_MAX);
	proto_wr_init(&w);
	proto_encode_page_head(&w, more);
	proto_encode_scan_resume(&w, pos, plen);
	while ((rc = proto_page_next(&r, false, &e)) == 1)
		proto_encode_entry(&w, &e, false);
	if (rc == 0)
		same(&w, p, n);
	else
		proto_wr_free(&w);
}

/*
 * Merge laws on fuzzed records: input = kind byte, then three records,
 * each a 40-byte meta followed by meta.len value bytes (clipped).
 */
static bool take_rec(const uint8_t **p, size_t *n, struct proto_rec *r)
{
	struct proto_rd rd;

	proto_rd_init(&rd, *p, *n);
	if (proto_meta_decode(&rd, &r->meta) != 0)
		return false;
	if (r->meta.len > rd.left)
		r->meta.len = (uint32_t)rd.left;
	r->val = proto_get_bytes(&rd, r->meta.len);
	*p = rd.p;
	*n = rd.left;
	return true;
}

static bool rec_same(const struct proto_rec *a, const struct proto_rec *b)
{
	return a->meta.ver.hlc == b->meta.ver.hlc && a->meta.ver.writer == b->meta.ver.writer &&
	       a->meta.flags == b->meta.flags && a->meta.epoch == b->meta.epoch &&
	       a->meta.len == b->meta.len && a->meta.sum == b->meta.sum &&
	       (a->meta.len == 0 || memcmp(a->val, b->val, a->meta.len) == 0);
}

static void fuzz_merge(const uint8_t *p, size_t n)
{
	struct proto_rec a, b, c, ab, ba, ab_c, bc, a_bc, t1, t2;
	struct proto_wr w[7];
	uint8_t kind;

	if (n < 1)
		return;
	kind = p[0] % PROTO_KIND_MAX;
	p++;
	n--;
	if (!take_rec(&p, &n, &a) || !take_rec(&p, &n, &b) || !take_rec(&p, &n, &c))
		return;
	for (int i = 0; i < 7; i++)
		proto_wr_init(&w[i]);
	CHECK(proto_merge(kind, &a, &b, &ab, &w[0]) == 0);
	CHECK(proto_merge(kind, &b, &a, &ba, &w[1]) == 0);
	CHECK(rec_same(&ab, &ba));
	CHECK(proto_merge(kind, &ab, &c, &ab_c, &w[2]) == 0);
	CHECK(proto_merge(kind, &b, &c, &bc, &w[3]) == 0);
	CHECK(proto_merge(kind, &a, &bc, &a_bc, &w[4]) == 0);
	CHECK(rec_same(&ab_c, &a_bc));
	/* Idempotent on a merge result (merge(a, a) may canonicalize a). */
	CHECK(proto_merge(kind, &a, &a, &t1, &w[5]) == 0);
	CHECK(proto_merge(kind, &t1, &t1, &t2, &w[6]) == 0);
	CHECK(rec_same(&t1, &t2));
	for (int i = 0; i < 7; i++)
		proto_wr_free(&w[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_WHICH(data, size);
	return 0;
}
