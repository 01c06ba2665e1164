// SPDX-License-Identifier: MIT
/*
 * msg.c - encoders and strict decoders of the ARGS frame of every request
 * and reply (layouts in docs/protocol.md).
 *
 * Each decoder reads the fixed structure first, refusing a count or length
 * over its limit before it is used (-EMSGSIZE); then requires the ARGS to be
 * consumed exactly and the DATA length to match (-EBADMSG); only then
 * validates keys, names, flags and ranges. Nothing is allocated: variable
 * parts are bounded arrays in the decoded struct or borrowed pointers.
 */
#include <errno.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "proto/msg.h"

/* ---- common pieces ---- */

static void proto_put_version(struct proto_wr *w, const struct proto_version *v)
{
	proto_put_u64(w, v->hlc);
	proto_put_u64(w, v->writer);
}

static void proto_get_version(struct proto_rd *r, struct proto_version *v)
{
	v->hlc = proto_get_u64(r);
	v->writer = proto_get_u64(r);
}

static void proto_put_key(struct proto_wr *w, const struct proto_key *k)
{
	uint8_t kb[PROTO_KEY_MAX];
	size_t n = proto_key_encode(k, kb);

	proto_put_u16(w, (uint16_t)n);
	proto_put_bytes(w, kb, n);
}

/*
 * Borrow the bytes of a key (u16 length + bytes). A length over
 * PROTO_KEY_MAX is -ENAMETOOLONG when the bytes are there and hold a named
 * key whose name is too long, else -EMSGSIZE. Truncation shows in r->bad.
 */
static int proto_get_key(struct proto_rd *r, const uint8_t **kb, uint16_t *kl)
{
	struct proto_key k;

	*kb = NULL;
	*kl = proto_get_u16(r);
	if (r->bad)
		return 0;
	if (*kl > PROTO_KEY_MAX) {
		if (*kl <= r->left && proto_key_decode(r->p, *kl, &k) == -ENAMETOOLONG)
			return -ENAMETOOLONG;
		return -EMSGSIZE;
	}
	*kb = proto_get_bytes(r, *kl);
	return 0;
}

/* A key position (LIST/SCAN/DIGEST start or end): raw bytes, bounded. */
static int proto_get_pos(struct proto_rd *r, uint16_t *len, uint8_t out[PROTO_KEY_MAX])
{
	const uint8_t *p;

	*len = proto_get_u16(r);
	if (r->bad)
		return 0;
	if (*len > PROTO_KEY_MAX)
		return -EMSGSIZE;
	p = proto_get_bytes(r, *len);
	if (p && *len)
		memcpy(out, p, *len);
	return 0;
}

static void proto_put_pos(struct proto_wr *w, uint16_t len, const uint8_t *p)
{
	if (len > PROTO_KEY_MAX)
		len = PROTO_KEY_MAX;
	proto_put_u16(w, len);
	proto_put_bytes(w, p, len);
}

static void proto_put_sums(struct proto_wr *w, uint16_t n, const uint64_t *sums)
{
	if (n > PROTO_CHUNK_BLOCKS)
		n = PROTO_CHUNK_BLOCKS;
	proto_put_u16(w, n);
	for (uint16_t i = 0; i < n; i++)
		proto_put_u64(w, sums[i]);
}

static int proto_get_sums(struct proto_rd *r, uint16_t *n, uint64_t *sums)
{
	*n = proto_get_u16(r);
	if (r->bad)
		return 0;
	if (*n > PROTO_CHUNK_BLOCKS)
		return -EMSGSIZE;
	for (uint16_t i = 0; i < *n; i++)
		sums[i] = proto_get_u64(r);
	return 0;
}

/* The ARGS were consumed exactly and DATA has the expected length. */
static int proto_rd_done(const struct proto_rd *r, size_t data_len, size_t want)
{
	if (r->bad || r->left != 0 || data_len != want)
		return -EBADMSG;
	return 0;
}

/* Bytes printable without escaping: daemon names and software strings. */
static bool proto_printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return false;
	return true;
}

/* ---- HELLO ---- */

void proto_encode_hello_req(struct proto_wr *w, const struct proto_hello_req *q)
{
	proto_put_u16(w, q->min_version);
	proto_put_u16(w, q->max_version);
	proto_put_u64(w, q->clock);
	proto_put_bytes(w, q->volume_id, PROTO_ID_LEN);
}

int proto_decode_hello_req(const void *a, size_t len, size_t data_len,
			   struct proto_hello_req *q)
{
	struct proto_rd r;
	const uint8_t *id;
	int rc;

	proto_rd_init(&r, a, len);
	q->min_version = proto_get_u16(&r);
	q->max_version = proto_get_u16(&r);
	q->clock = proto_get_u64(&r);
	id = proto_get_bytes(&r, PROTO_ID_LEN);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	memcpy(q->volume_id, id, PROTO_ID_LEN);
	if (q->min_version == 0 || q->min_version > q->max_version)
		return -EBADMSG;
	return 0;
}

void proto_encode_hello_rep(struct proto_wr *w, const struct proto_hello_rep *p)
{
	size_t n = strnlen(p->name, PROTO_DAEMON_NAME_MAX);

	proto_put_u16(w, p->version);
	proto_put_u8(w, (uint8_t)n);
	proto_put_bytes(w, p->name, n);
	proto_put_bytes(w, p->store_id, PROTO_ID_LEN);
	proto_put_bytes(w, p->volume_id, PROTO_ID_LEN);
	proto_put_u64(w, p->layout_version);
	proto_put_u64(w, p->clock);
	proto_put_u64(w, p->boot);
	proto_put_u32(w, p->store_flags);
	proto_put_u32(w, p->max_skew_ms);
	proto_put_u32(w, p->chunk_max);
	proto_put_u32(w, p->block_size);
}

int proto_decode_hello_rep(const void *a, size_t len, size_t data_len,
			   struct proto_hello_rep *p)
{
	const uint8_t *name, *sid, *vid;
	struct proto_rd r;
	uint8_t nlen;
	int rc;

	proto_rd_init(&r, a, len);
	p->version = proto_get_u16(&r);
	nlen = proto_get_u8(&r);
	if (!r.bad && nlen > PROTO_DAEMON_NAME_MAX)
		return -EMSGSIZE;
	name = proto_get_bytes(&r, nlen);
	sid = proto_get_bytes(&r, PROTO_ID_LEN);
	vid = proto_get_bytes(&r, PROTO_ID_LEN);
	p->layout_version = proto_get_u64(&r);
	p->clock = proto_get_u64(&r);
	p->boot = proto_get_u64(&r);
	p->store_flags = proto_get_u32(&r);
	p->max_skew_ms = proto_get_u32(&r);
	p->chunk_max = proto_get_u32(&r);
	p->block_size = proto_get_u32(&r);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	memcpy(p->name, name, nlen);
	p->name[nlen] = '\0';
	memcpy(p->store_id, sid, PROTO_ID_LEN);
	memcpy(p->volume_id, vid, PROTO_ID_LEN);
	if (nlen == 0 || !proto_printable(name, nlen))
		return -EBADMSG;
	if (p->version == 0 || (p->store_flags & ~PROTO_STORE_MASK))
		return -EBADMSG;
	if (p->block_size != PROTO_BLOCK_SIZE || p->chunk_max < p->block_size ||
	    p->chunk_max > PROTO_CHUNK_MAX || p->chunk_max % p->block_size != 0)
		return -EBADMSG;
	return 0;
}

/* ---- SYNC ---- */

int proto_decode_sync_req(const void *a, size_t len, size_t data_len)
{
	(void)a;
	return len == 0 && data_len == 0 ? 0 : -EBADMSG;
}

void proto_encode_sync_rep(struct proto_wr *w, const struct proto_sync_rep *p)
{
	proto_put_u64(w, p->boot);
}

int proto_decode_sync_rep(const void *a, size_t len, size_t data_len,
			  struct proto_sync_rep *p)
{
	struct proto_rd r;

	proto_rd_init(&r, a, len);
	p->boot = proto_get_u64(&r);
	return proto_rd_done(&r, data_len, 0);
}

/* ---- PUT and the write reply ---- */

void proto_encode_put_req(struct proto_wr *w, const struct proto_put_req *q)
{
	proto_put_key(w, &q->key);
	proto_meta_encode(w, &q->meta);
	proto_put_u32(w, q->flags);
	proto_put_sums(w, q->nsums, q->sums);
}

int proto_decode_put_req(const void *a, size_t len, size_t data_len, struct proto_put_req *q)
{
	const uint8_t *kb;
	struct proto_rd r;
	uint16_t kl;
	int rc, mrc;

	proto_rd_init(&r, a, len);
	rc = proto_get_key(&r, &kb, &kl);
	if (rc)
		return rc;
	mrc = proto_meta_decode(&r, &q->meta);
	q->flags = proto_get_u32(&r);
	rc = proto_get_sums(&r, &q->nsums, q->sums);
	if (rc)
		return rc;
	if (r.bad || r.left != 0 || mrc)
		return -EBADMSG;
	rc = proto_key_decode(kb, kl, &q->key);
	if (rc)
		return rc;
	if (q->meta.len > proto_value_max(q->key.kind))
		return -EFBIG;
	if (data_len != q->meta.len)
		return -EBADMSG;
	if ((q->meta.flags & PROTO_REC_CORRUPT) || proto_version_is_zero(&q->meta.ver))
		return -EBADMSG;
	/* Only an INODE tombstone keeps a value: its registers must merge. */
	if ((q->meta.flags & PROTO_REC_TOMBSTONE) && q->meta.len != 0 &&
	    q->key.kind != PROTO_KIND_INODE)
		return -EBADMSG;
	if (q->meta.epoch != 0 && q->key.kind != PROTO_KIND_CHUNK &&
	    q->key.kind != PROTO_KIND_INODE)
		return -EBADMSG;
	if ((q->flags & ~PROTO_PUT_MASK) ||
	    ((q->flags & PROTO_PUT_MKFS) && q->key.kind != PROTO_KIND_SUPER))
		return -EBADMSG;
	if (q->nsums != proto_nblocks(q->meta.len) ||
	    q->meta.sum != proto_sums_combine(q->sums, q->nsums))
		return -EBADMSG;
	return 0;
}

void proto_encode_write_rep(struct proto_wr *w, const struct proto_write_rep *p)
{
	proto_put_version(w, &p->stored);
	proto_put_u32(w, p->flags);
	proto_put_u64(w, p->boot);
}

int proto_decode_write_rep(const void *a, size_t len, size_t data_len,
			   struct proto_write_rep *p)
{
	struct proto_rd r;
	int rc;

	proto_rd_init(&r, a, len);
	proto_get_version(&r, &p->stored);
	p->flags = proto_get_u32(&r);
	p->boot = proto_get_u64(&r);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	return (p->flags & ~PROTO_REC_MASK) ? -EBADMSG : 0;
}

/* ---- GET ---- */

void proto_encode_get_req(struct proto_wr *w, const struct proto_get_req *q)
{
	proto_put_key(w, &q->key);
	proto_put_u32(w, q->offset);
	proto_put_u32(w, q->length);
}

int proto_decode_get_req(const void *a, size_t len, size_t data_len, struct proto_get_req *q)
{
	const uint8_t *kb;
	struct proto_rd r;
	uint16_t kl;
	int rc;

	proto_rd_init(&r, a, len);
	rc = proto_get_key(&r, &kb, &kl);
	if (rc)
		return rc;
	q->offset = proto_get_u32(&r);
	q->length = proto_get_u32(&r);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	rc = proto_key_decode(kb, kl, &q->key);
	if (rc)
		return rc;
	if (q->key.kind != PROTO_KIND_CHUNK)
		return q->offset == 0 && q->length == PROTO_GET_WHOLE ? 0 : -EBADMSG;
	if (q->length == 0)
		return -EBADMSG;
	if (q->offset > PROTO_CHUNK_MAX)
		return -EMSGSIZE;
	if (q->length != PROTO_GET_WHOLE && q->length > PROTO_CHUNK_MAX - q->offset)
		return -EMSGSIZE;
	return 0;
}

void proto_encode_get_rep(struct proto_wr *w, const struct proto_get_rep *p)
{
	proto_meta_encode(w, &p->meta);
	proto_put_u16(w, p->first_block);
	proto_put_sums(w, p->nsums, p->sums);
}

int proto_decode_get_rep(const void *a, size_t len, size_t data_len, struct proto_get_rep *p)
{
	uint64_t start, end;
	struct proto_rd r;
	uint32_t nb;
	int rc, mrc;

	proto_rd_init(&r, a, len);
	mrc = proto_meta_decode(&r, &p->meta);
	p->first_block = proto_get_u16(&r);
	rc = proto_get_sums(&r, &p->nsums, p->sums);
	if (rc)
		return rc;
	if (r.bad || r.left != 0 || mrc)
		return -EBADMSG;
	if (p->meta.len > PROTO_CHUNK_MAX)
		return -EFBIG;
	nb = proto_nblocks(p->meta.len);
	if ((uint32_t)p->first_block + p->nsums > nb)
		return -EBADMSG;
	start = (uint64_t)p->first_block * PROTO_BLOCK_SIZE;
	end = (uint64_t)(p->first_block + p->nsums) * PROTO_BLOCK_SIZE;
	if (end > p->meta.len)
		end = p->meta.len;
	if (data_len != (p->nsums ? end - start : 0))
		return -EBADMSG;
	if (p->first_block == 0 && p->nsums == nb &&
	    p->meta.sum != proto_sums_combine(p->sums, p->nsums))
		return -EBADMSG;
	return 0;
}

/* ---- PATCH ---- */

void proto_encode_patch_req(struct proto_wr *w, const struct proto_patch_req *q)
{
	proto_put_key(w, &q->key);
	proto_put_version(w, &q->base);
	proto_put_version(w, &q->ver);
	proto_put_u64(w, q->epoch);
	proto_put_u32(w, q->offset);
	proto_put_u64(w, q->sum);
}

int proto_decode_patch_req(const void *a, size_t len, size_t data_len,
			   struct proto_patch_req *q)
{
	const uint8_t *kb;
	struct proto_rd r;
	uint16_t kl;
	int rc;

	proto_rd_init(&r, a, len);
	rc = proto_get_key(&r, &kb, &kl);
	if (rc)
		return rc;
	proto_get_version(&r, &q->base);
	proto_get_version(&r, &q->ver);
	q->epoch = proto_get_u64(&r);
	q->offset = proto_get_u32(&r);
	q->sum = proto_get_u64(&r);
	if (r.bad || r.left != 0)
		return -EBADMSG;
	rc = proto_key_decode(kb, kl, &q->key);
	if (rc)
		return rc;
	if (q->key.kind != PROTO_KIND_CHUNK || data_len == 0)
		return -EBADMSG;
	if (proto_version_cmp(&q->ver, &q->base) <= 0)
		return -EBADMSG; /* also refuses a zero version */
	if (q->offset > PROTO_CHUNK_MAX || data_len > PROTO_CHUNK_MAX - q->offset)
		return -EFBIG;
	return 0;
}

/* ---- HEAD ---- */

void proto_encode_head_req(struct proto_wr *w, const struct proto_head_req *q)
{
	proto_put_key(w, &q->key);
}

int proto_decode_head_req(const void *a, size_t len, size_t data_len,
			  struct proto_head_req *q)
{
	const uint8_t *kb;
	struct proto_rd r;
	uint16_t kl;
	int rc;

	proto_rd_init(&r, a, len);
	rc = proto_get_key(&r, &kb, &kl);
	if (rc)
		return rc;
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	return proto_key_decode(kb, kl, &q->key);
}

void proto_encode_head_rep(struct proto_wr *w, const struct proto_meta *m)
{
	proto_meta_encode(w, m);
}

int proto_decode_head_rep(const void *a, size_t len, size_t data_len, struct proto_meta *m)
{
	struct proto_rd r;
	int rc, mrc;

	proto_rd_init(&r, a, len);
	mrc = proto_meta_decode(&r, m);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc || mrc)
		return -EBADMSG;
	return m->len > PROTO_CHUNK_MAX ? -EFBIG : 0;
}

/* ---- LIST and SCAN ---- */

static int proto_check_max(uint32_t max)
{
	if (max == 0)
		return -EBADMSG;
	return max > PROTO_LIST_MAX_ENTRIES ? -EMSGSIZE : 0;
}

void proto_encode_list_req(struct proto_wr *w, const struct proto_list_req *q)
{
	proto_put_u64(w, q->ino);
	proto_put_u8(w, q->kind);
	proto_put_u8(w, q->flags);
	proto_put_u32(w, q->max);
	proto_put_pos(w, q->start_len, q->start);
}

/*
 * The start is a position, not necessarily a whole key (a readdir resumes
 * at "01 dir 04 hash"), so it is only checked to lie inside the partition.
 */
int proto_decode_list_req(const void *a, size_t len, size_t data_len, struct proto_list_req *q)
{
	uint8_t lo[9], hi[9];
	struct proto_rd r;
	int rc;

	proto_rd_init(&r, a, len);
	q->ino = proto_get_u64(&r);
	q->kind = proto_get_u8(&r);
	q->flags = proto_get_u8(&r);
	q->max = proto_get_u32(&r);
	rc = proto_get_pos(&r, &q->start_len, q->start);
	if (rc)
		return rc;
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	if (q->ino == 0 || (q->flags & ~PROTO_LIST_MASK))
		return -EBADMSG;
	if (q->kind != 0 && (q->kind < PROTO_KIND_INODE || q->kind > PROTO_KIND_DIRENT))
		return -EBADMSG;
	rc = proto_check_max(q->max);
	if (rc)
		return rc;
	if (q->start_len) {
		proto_partition_bounds(q->ino, lo, hi);
		if (q->start_len < 9 || memcmp(q->start, lo, 9) != 0)
			return -EBADMSG;
	}
	return 0;
}

void proto_encode_scan_req(struct proto_wr *w, const struct proto_scan_req *q)
{
	proto_put_u8(w, q->flags);
	proto_put_u32(w, q->max);
	proto_put_pos(w, q->start_len, q->start);
	if ((q->flags & PROTO_SCAN_BUCKETS) && q->buckets)
		proto_put_bytes(w, q->buckets, PROTO_DIGEST_BITMAP_LEN);
}

/* SCAN and PENDING_LIST requests; @mask is the flags the opcode allows. */
static int proto_decode_scan_like(const void *a, size_t len, size_t data_len, uint8_t mask,
				  struct proto_scan_req *q)
{
	struct proto_rd r;
	int rc;

	proto_rd_init(&r, a, len);
	q->flags = proto_get_u8(&r);
	q->max = proto_get_u32(&r);
	q->buckets = NULL;
	rc = proto_get_pos(&r, &q->start_len, q->start);
	if (rc)
		return rc;
	if (!r.bad && (q->flags & PROTO_SCAN_BUCKETS & mask))
		q->buckets = proto_get_bytes(&r, PROTO_DIGEST_BITMAP_LEN);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	if (q->flags & ~mask)
		return -EBADMSG;
	return proto_check_max(q->max);
}

int proto_decode_scan_req(const void *a, size_t len, size_t data_len, struct proto_scan_req *q)
{
	return proto_decode_scan_like(a, len, data_len, PROTO_SCAN_MASK, q);
}

int proto_decode_pending_list_req(const void *a, size_t len, size_t data_len,
				  struct proto_scan_req *q)
{
	return proto_decode_scan_like(a, len, data_len, PROTO_LIST_MASK, q);
}

void proto_encode_scan_resume(struct proto_wr *w, const uint8_t *pos, uint16_t len)
{
	proto_put_pos(w, len, pos);
}

int proto_page_resume(struct proto_rd *r, uint8_t pos[PROTO_KEY_MAX], uint16_t *len)
{
	int rc = proto_get_pos(r, len, pos);

	if (rc)
		r->bad = true;
	else if (r->bad)
		rc = -EBADMSG;
	return rc;
}

void proto_encode_page_head(struct proto_wr *w, bool more)
{
	proto_put_u8(w, more ? 1 : 0);
}

void proto_encode_entry(struct proto_wr *w, const struct proto_entry *e, bool with_value)
{
	proto_put_key(w, &e->key);
	proto_meta_encode(w, &e->meta);
	if (with_value && e->meta.len)
		proto_put_bytes(w, e->val, e->meta.len);
}

int proto_page_begin(struct proto_rd *r, const void *a, size_t len, bool *more)
{
	uint8_t m;

	proto_rd_init(r, a, len);
	m = proto_get_u8(r);
	*more = m == 1;
	if (r->bad || m > 1) {
		r->bad = true;
		return -EBADMSG;
	}
	return 0;
}

/*
 * A bad entry makes the reader bad, so a caller that goes on after an
 * error gets -EBADMSG rather than entries from a misaligned position.
 */
int proto_page_next(struct proto_rd *r, bool with_value, struct proto_entry *e)
{
	const uint8_t *kb;
	uint16_t kl;
	int rc;

	e->val = NULL;
	if (r->bad)
		return -EBADMSG;
	if (r->left == 0)
		return 0;
	rc = proto_get_key(r, &kb, &kl);
	if (!rc && proto_meta_decode(r, &e->meta))
		rc = -EBADMSG;
	if (!rc && r->bad)
		rc = -EBADMSG;
	if (!rc)
		rc = proto_key_decode(kb, kl, &e->key);
	if (!rc && e->meta.len > proto_value_max(e->key.kind))
		rc = -EFBIG;
	if (!rc && with_value && e->meta.len) {
		e->val = proto_get_bytes(r, e->meta.len);
		if (!e->val)
			rc = -EBADMSG;
	}
	if (rc) {
		r->bad = true;
		e->val = NULL;
		return rc;
	}
	return 1;
}

/* ---- DIGEST ---- */

uint64_t proto_entry_hash(const uint8_t *key, size_t key_len, const struct proto_meta *m)
{
	XXH3_state_t st;
	uint8_t b[28];
	struct proto_wr w = { .buf = b, .len = 0, .cap = sizeof(b), .bad = false };

	XXH3_64bits_reset(&st);
	proto_put_u16(&w, (uint16_t)key_len);
	XXH3_64bits_update(&st, b, w.len);
	XXH3_64bits_update(&st, key, key_len);
	w.len = 0;
	proto_put_u64(&w, m->ver.hlc);
	proto_put_u64(&w, m->ver.writer);
	proto_put_u32(&w, m->flags);
	proto_put_u64(&w, m->sum);
	XXH3_64bits_update(&st, b, w.len);
	return XXH3_64bits_digest(&st);
}

void proto_encode_digest_req(struct proto_wr *w, const struct proto_digest_req *q)
{
	proto_put_u32(w, q->first);
	proto_put_u32(w, q->count);
}

/* A bucket range: count 1..PROTO_DIGEST_BUCKETS, inside the bucket space. */
static int proto_digest_range_check(uint32_t first, uint32_t count)
{
	if (count == 0 || first >= PROTO_DIGEST_BUCKETS)
		return -EBADMSG;
	if (count > PROTO_DIGEST_BUCKETS - first)
		return -EMSGSIZE;
	return 0;
}

int proto_decode_digest_req(const void *a, size_t len, size_t data_len,
			    struct proto_digest_req *q)
{
	struct proto_rd r;
	int rc;

	proto_rd_init(&r, a, len);
	q->first = proto_get_u32(&r);
	q->count = proto_get_u32(&r);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	return proto_digest_range_check(q->first, q->count);
}

void proto_encode_digest_rep(struct proto_wr *w, uint32_t first, uint32_t count,
			     const uint64_t *d)
{
	proto_put_u32(w, first);
	proto_put_u32(w, count);
	for (uint32_t i = 0; i < count; i++)
		proto_put_u64(w, d[i]);
}

int proto_decode_digest_rep(const void *a, size_t len, size_t data_len,
			    struct proto_digest_rep *p)
{
	struct proto_rd r;
	int rc;

	proto_rd_init(&r, a, len);
	p->first = proto_get_u32(&r);
	p->count = proto_get_u32(&r);
	p->raw = NULL;
	if (r.bad)
		return -EBADMSG;
	rc = proto_digest_range_check(p->first, p->count);
	if (rc)
		return rc;
	p->raw = proto_get_bytes(&r, (size_t)p->count * 8);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		p->raw = NULL;
	return rc;
}

uint64_t proto_digest_at(const struct proto_digest_rep *p, uint32_t i)
{
	const uint8_t *b = p->raw + (size_t)i * 8;
	uint64_t v = 0;

	for (int k = 7; k >= 0; k--)
		v = v << 8 | b[k];
	return v;
}

/* ---- REBUILT ---- */

void proto_encode_rebuilt_req(struct proto_wr *w, const struct proto_rebuilt_req *q)
{
	proto_put_bytes(w, q->volume_id, PROTO_ID_LEN);
	proto_put_bytes(w, q->store_id, PROTO_ID_LEN);
}

int proto_decode_rebuilt_req(const void *a, size_t len, size_t data_len,
			     struct proto_rebuilt_req *q)
{
	static const uint8_t zero[PROTO_ID_LEN];
	const uint8_t *vid, *sid;
	struct proto_rd r;
	int rc;

	proto_rd_init(&r, a, len);
	vid = proto_get_bytes(&r, PROTO_ID_LEN);
	sid = proto_get_bytes(&r, PROTO_ID_LEN);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	if (!memcmp(vid, zero, PROTO_ID_LEN) || !memcmp(sid, zero, PROTO_ID_LEN))
		return -EBADMSG; /* a volume and a store must be named */
	memcpy(q->volume_id, vid, PROTO_ID_LEN);
	memcpy(q->store_id, sid, PROTO_ID_LEN);
	return 0;
}

void proto_encode_rebuilt_rep(struct proto_wr *w, const struct proto_rebuilt_rep *p)
{
	proto_put_u32(w, p->store_flags);
}

int proto_decode_rebuilt_rep(const void *a, size_t len, size_t data_len,
			     struct proto_rebuilt_rep *p)
{
	struct proto_rd r;
	int rc;

	proto_rd_init(&r, a, len);
	p->store_flags = proto_get_u32(&r);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	return (p->store_flags & ~PROTO_STORE_MASK) ? -EBADMSG : 0;
}

/* ---- STAT ---- */

int proto_decode_stat_req(const void *a, size_t len, size_t data_len)
{
	(void)a;
	return len == 0 && data_len == 0 ? 0 : -EBADMSG;
}

#define PROTO_SOFTWARE_MAX 32

void proto_encode_stat_rep(struct proto_wr *w, const struct proto_stat_rep *p)
{
	size_t n = strnlen(p->software, PROTO_SOFTWARE_MAX);

	proto_put_u64(w, p->capacity);
	proto_put_u64(w, p->used);
	proto_put_u64(w, p->fs_free);
	proto_put_u64(w, p->records);
	proto_put_u64(w, p->chunks);
	proto_put_u64(w, p->tombstones);
	proto_put_u64(w, p->corrupt);
	proto_put_u64(w, p->uptime_s);
	proto_put_u64(w, p->fs_id);
	proto_put_u8(w, (uint8_t)n);
	proto_put_bytes(w, p->software, n);
}

int proto_decode_stat_rep(const void *a, size_t len, size_t data_len, struct proto_stat_rep *p)
{
	struct proto_rd r;
	const uint8_t *sw;
	uint8_t n;
	int rc;

	proto_rd_init(&r, a, len);
	p->capacity = proto_get_u64(&r);
	p->used = proto_get_u64(&r);
	p->fs_free = proto_get_u64(&r);
	p->records = proto_get_u64(&r);
	p->chunks = proto_get_u64(&r);
	p->tombstones = proto_get_u64(&r);
	p->corrupt = proto_get_u64(&r);
	p->uptime_s = proto_get_u64(&r);
	p->fs_id = proto_get_u64(&r);
	n = proto_get_u8(&r);
	if (!r.bad && n > PROTO_SOFTWARE_MAX)
		return -EMSGSIZE;
	sw = proto_get_bytes(&r, n);
	rc = proto_rd_done(&r, data_len, 0);
	if (rc)
		return rc;
	if (!proto_printable(sw, n))
		return -EBADMSG;
	memcpy(p->software, sw, n);
	p->software[n] = '\0';
	return 0;
}

/* ---- pending-repair index and tombstone collection (ops 12..16) ---- */

static bool proto_batch_op(uint8_t op)
{
	return op == PROTO_OP_PENDING_ADD || op == PROTO_OP_PENDING_DEL ||
	       op == PROTO_OP_TOMB_CONFIRM || op == PROTO_OP_PURGE || op == PROTO_OP_DROP;
}

void proto_encode_batch_head(struct proto_wr *w, uint16_t n)
{
	proto_put_u16(w, n);
}

void proto_encode_batch_ent(struct proto_wr *w, uint8_t op, const struct proto_batch_ent *e)
{
	proto_put_key(w, &e->key);
	if (op == PROTO_OP_TOMB_CONFIRM || op == PROTO_OP_PURGE || op == PROTO_OP_DROP) {
		proto_put_version(w, &e->ver);
		return;
	}
	if (op == PROTO_OP_PENDING_DEL || op == PROTO_OP_PENDING_LIST)
		proto_put_u64(w, e->stamp);
	if (op == PROTO_OP_PENDING_ADD || op == PROTO_OP_PENDING_LIST) {
		uint8_t n = e->nmissed > PROTO_PENDING_MISSED_MAX ? PROTO_PENDING_MISSED_MAX
								  : e->nmissed;

		proto_put_u8(w, n);
		for (uint8_t i = 0; i < n; i++) {
			size_t l = strnlen(e->missed[i], PROTO_DAEMON_NAME_MAX);

			proto_put_u8(w, (uint8_t)l);
			proto_put_bytes(w, e->missed[i], l);
		}
	}
}

/* u8 n, n x (u8 len, printable name): the replicas that missed a key. */
static int proto_get_missed(struct proto_rd *r, struct proto_batch_ent *e)
{
	e->nmissed = proto_get_u8(r);
	if (r->bad)
		return -EBADMSG;
	if (e->nmissed > PROTO_PENDING_MISSED_MAX)
		return -EMSGSIZE;
	if (e->nmissed == 0)
		return -EBADMSG;
	for (uint8_t i = 0; i < e->nmissed; i++) {
		uint8_t l = proto_get_u8(r);
		const uint8_t *p;

		if (r->bad)
			return -EBADMSG;
		if (l > PROTO_DAEMON_NAME_MAX)
			return -EMSGSIZE;
		p = proto_get_bytes(r, l);
		if (!p || l == 0 || !proto_printable(p, l))
			return -EBADMSG;
		memcpy(e->missed[i], p, l);
		e->missed[i][l] = '\0';
	}
	return 0;
}

int proto_batch_next(struct proto_rd *r, uint8_t op, struct proto_batch_ent *e)
{
	const uint8_t *kb;
	uint16_t kl;
	int rc;

	memset(&e->ver, 0, sizeof(e->ver));
	e->stamp = 0;
	e->nmissed = 0;
	rc = proto_get_key(r, &kb, &kl);
	if (!rc && r->bad)
		rc = -EBADMSG;
	if (!rc)
		rc = proto_key_decode(kb, kl, &e->key);
	if (rc)
		goto bad;
	if (op == PROTO_OP_TOMB_CONFIRM || op == PROTO_OP_PURGE || op == PROTO_OP_DROP) {
		proto_get_version(r, &e->ver);
		if (r->bad || proto_version_is_zero(&e->ver))
			rc = -EBADMSG;
	} else if (op == PROTO_OP_PENDING_ADD || op == PROTO_OP_PENDING_DEL ||
		   op == PROTO_OP_PENDING_LIST) {
		if (op != PROTO_OP_PENDING_ADD) {
			e->stamp = proto_get_u64(r);
			if (r->bad || e->stamp == 0)
				rc = -EBADMSG;
		}
		if (!rc && op != PROTO_OP_PENDING_DEL)
			rc = proto_get_missed(r, e);
	} else {
		rc = -EOPNOTSUPP;
	}
	if (!rc)
		return 0;
bad:
	r->bad = true;
	return rc;
}

int proto_decode_batch_req(uint8_t op, const void *a, size_t len, size_t data_len,
			   struct proto_rd *first, uint16_t *n)
{
	struct proto_batch_ent e;
	struct proto_rd r;
	int rc = 0;

	if (!proto_batch_op(op))
		return -EOPNOTSUPP;
	proto_rd_init(&r, a, len);
	*n = proto_get_u16(&r);
	if (r.bad || data_len != 0 || *n == 0)
		return -EBADMSG;
	if (*n > PROTO_BATCH_MAX)
		return -EMSGSIZE;
	*first = r;
	for (uint16_t i = 0; !rc && i < *n; i++)
		rc = proto_batch_next(&r, op, &e);
	if (rc)
		return rc;
	return r.left != 0 ? -EBADMSG : 0;
}

int proto_pending_page_next(struct proto_rd *r, struct proto_batch_ent *e)
{
	int rc;

	if (r->bad)
		return -EBADMSG;
	if (r->left == 0)
		return 0;
	rc = proto_batch_next(r, PROTO_OP_PENDING_LIST, e);
	return rc ? rc : 1;
}

void proto_encode_count_rep(struct proto_wr *w, uint32_t n)
{
	proto_put_u32(w, n);
}

int proto_decode_count_rep(const void *a, size_t len, size_t data_len, uint32_t *n)
{
	struct proto_rd r;

	proto_rd_init(&r, a, len);
	*n = proto_get_u32(&r);
	return proto_rd_done(&r, data_len, 0);
}
