// SPDX-License-Identifier: MIT
/*
 * record.c - record metadata, block checksums and the per-kind values
 * (SUPER, DIRENT, INODE): their exact encodings and strict decoders.
 *
 * Invariants: every value decoder checks the exact length first, then each
 * field's range, and re-encoding a decoded value gives back the same bytes
 * (one encoding per value), which proto_merge() relies on. Checksums are
 * xxh3: per PROTO_BLOCK_SIZE block, and the record sum is xxh3 over the
 * little-endian block sums, so a sum never depends on host byte order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "proto/record.h"

/*
 * Fixed part of an encoded INODE value; PROTO_TRUNC_LEN bytes per truncation
 * point and the symlink target come on top.
 */
#define PROTO_INODE_FIXED_LEN 179
#define PROTO_TRUNC_LEN 16

void proto_meta_encode(struct proto_wr *w, const struct proto_meta *m)
{
	proto_put_u64(w, m->ver.hlc);
	proto_put_u64(w, m->ver.writer);
	proto_put_u32(w, m->flags);
	proto_put_u64(w, m->epoch);
	proto_put_u32(w, m->len);
	proto_put_u64(w, m->sum);
}

int proto_meta_decode(struct proto_rd *r, struct proto_meta *m)
{
	m->ver.hlc = proto_get_u64(r);
	m->ver.writer = proto_get_u64(r);
	m->flags = proto_get_u32(r);
	m->epoch = proto_get_u64(r);
	m->len = proto_get_u32(r);
	m->sum = proto_get_u64(r);
	if (r->bad || (m->flags & ~PROTO_REC_MASK))
		return -EBADMSG;
	return 0;
}

uint32_t proto_value_max(uint8_t kind)
{
	switch (kind) {
	case PROTO_KIND_CHUNK:
		return PROTO_CHUNK_MAX;
	case PROTO_KIND_SUPER:
	case PROTO_KIND_INODE:
	case PROTO_KIND_LINK:
	case PROTO_KIND_XATTR:
	case PROTO_KIND_DIRENT:
		return PROTO_VALUE_MAX;
	default:
		return 0;
	}
}

uint64_t proto_block_sum(const void *p, size_t len)
{
	return XXH3_64bits(p, len);
}

uint64_t proto_sums_combine(const uint64_t *sums, uint32_t n)
{
	XXH3_state_t st;
	uint8_t b[8 * 64];
	uint32_t i = 0, k;

	XXH3_64bits_reset(&st);
	while (i < n) {
		for (k = 0; k < 64 && i < n; k++, i++)
			for (int j = 0; j < 8; j++)
				b[8 * k + j] = (uint8_t)(sums[i] >> (8 * j));
		XXH3_64bits_update(&st, b, 8 * k);
	}
	return XXH3_64bits_digest(&st);
}

uint64_t proto_value_sums(const void *val, uint32_t len, uint64_t *sums)
{
	const uint8_t *p = val;
	uint32_t n = proto_nblocks(len);

	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = i * PROTO_BLOCK_SIZE;
		uint32_t bl = len - off < PROTO_BLOCK_SIZE ? len - off : PROTO_BLOCK_SIZE;

		sums[i] = proto_block_sum(p + off, bl);
	}
	return proto_sums_combine(sums, n);
}

/* Record checksum of a value without a caller-provided sums array. */
static uint64_t proto_value_sum(const uint8_t *val, uint32_t len)
{
	XXH3_state_t st;
	uint32_t n = proto_nblocks(len);
	uint8_t b[8];

	XXH3_64bits_reset(&st);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = i * PROTO_BLOCK_SIZE;
		uint32_t bl = len - off < PROTO_BLOCK_SIZE ? len - off : PROTO_BLOCK_SIZE;
		uint64_t s = proto_block_sum(val + off, bl);

		for (int j = 0; j < 8; j++)
			b[j] = (uint8_t)(s >> (8 * j));
		XXH3_64bits_update(&st, b, sizeof(b));
	}
	return XXH3_64bits_digest(&st);
}

/* ---- SUPER ---- */

void proto_super_encode(struct proto_wr *w, const struct proto_super *s)
{
	proto_put_u32(w, s->format);
	proto_put_u32(w, s->chunk_size);
	proto_put_bytes(w, s->volume_id, sizeof(s->volume_id));
	proto_put_u64(w, s->created_ms);
	proto_put_u64(w, s->reserved);
}

int proto_super_decode(const void *buf, size_t len, struct proto_super *s)
{
	struct proto_rd r;
	const uint8_t *id;

	if (len != PROTO_SUPER_LEN)
		return -EBADMSG;
	proto_rd_init(&r, buf, len);
	s->format = proto_get_u32(&r);
	s->chunk_size = proto_get_u32(&r);
	id = proto_get_bytes(&r, sizeof(s->volume_id));
	s->created_ms = proto_get_u64(&r);
	s->reserved = proto_get_u64(&r);
	if (r.bad || r.left != 0)
		return -EBADMSG;
	memcpy(s->volume_id, id, sizeof(s->volume_id));
	if (s->format < 1 || s->format > PROTO_FORMAT_VERSION)
		return -EBADMSG;
	if (s->chunk_size == 0 || s->chunk_size > PROTO_CHUNK_MAX ||
	    s->chunk_size % PROTO_BLOCK_SIZE != 0)
		return -EBADMSG;
	if (s->reserved != 0)
		return -EBADMSG;
	return 0;
}

/* ---- DIRENT ---- */

void proto_dirent_encode(struct proto_wr *w, const struct proto_dirent *d)
{
	proto_put_u64(w, d->ino);
	proto_put_u8(w, d->type);
}

/* Types a directory entry may name (dirent.h DT_* values). */
static bool proto_dt_valid(uint8_t t)
{
	switch (t) {
	case 1:	 /* DT_FIFO */
	case 2:	 /* DT_CHR */
	case 4:	 /* DT_DIR */
	case 6:	 /* DT_BLK */
	case 8:	 /* DT_REG */
	case 10: /* DT_LNK */
	case 12: /* DT_SOCK */
		return true;
	default:
		return false;
	}
}

int proto_dirent_decode(const void *buf, size_t len, struct proto_dirent *d)
{
	struct proto_rd r;

	if (len != PROTO_DIRENT_LEN)
		return -EBADMSG;
	proto_rd_init(&r, buf, len);
	d->ino = proto_get_u64(&r);
	d->type = proto_get_u8(&r);
	if (r.bad || r.left != 0)
		return -EBADMSG;
	if (d->ino == 0 || !proto_dt_valid(d->type))
		return -EBADMSG;
	return 0;
}

/* ---- INODE ---- */

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

static int proto_trunc_order(const void *a, const void *b)
{
	const struct proto_trunc *x = a, *y = b;

	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1; /* same epoch: smaller size last */
	return 0;
}

/*
 * Keeping a point only when its size is below every later point's size
 * makes the stack a function of the cut each epoch sees, so
 * union-then-normalize is a semilattice join (while under PROTO_TRUNC_MAX
 * points); the result has epochs and sizes both strictly increasing.
 */
unsigned proto_trunc_normalize(const struct proto_trunc *a, unsigned na,
			       const struct proto_trunc *b, unsigned nb,
			       struct proto_trunc out[PROTO_TRUNC_MAX])
{
	struct proto_trunc all[2 * PROTO_TRUNC_MAX], keep[2 * PROTO_TRUNC_MAX];
	unsigned n = 0, k = 0, i;
	uint64_t min = 0;

	na = na > PROTO_TRUNC_MAX ? PROTO_TRUNC_MAX : na;
	nb = nb > PROTO_TRUNC_MAX ? PROTO_TRUNC_MAX : nb;
	for (i = 0; i < na; i++)
		all[n++] = a[i];
	for (i = 0; i < nb; i++)
		all[n++] = b[i];
	qsort(all, n, sizeof(all[0]), proto_trunc_order);
	for (i = n; i-- > 0;) {
		if (k == 0 || all[i].size < min) {
			keep[k++] = all[i];
			min = all[i].size;
		}
	}
	/* keep[] is newest first: take the newest PROTO_TRUNC_MAX, oldest first. */
	n = k > PROTO_TRUNC_MAX ? PROTO_TRUNC_MAX : k;
	for (i = 0; i < n; i++)
		out[i] = keep[n - 1 - i];
	return n;
}

uint64_t proto_trunc_valid_end(const struct proto_trunc *t, unsigned n, uint64_t inode_epoch,
			       uint64_t chunk_epoch)
{
	if (chunk_epoch >= inode_epoch)
		return UINT64_MAX;
	for (unsigned i = 0; i < n && i < PROTO_TRUNC_MAX; i++)
		if (t[i].epoch > chunk_epoch)
			return t[i].size;
	return 0;
}

void proto_inode_encode(struct proto_wr *w, const struct proto_inode *ino)
{
	uint16_t tl = ino->target_len > PROTO_TARGET_MAX ? PROTO_TARGET_MAX : ino->target_len;
	struct proto_trunc tr[PROTO_TRUNC_MAX];
	unsigned nt;

	proto_put_version(w, &ino->attr_ver);
	proto_put_u32(w, ino->mode);
	proto_put_u32(w, ino->uid);
	proto_put_u32(w, ino->gid);
	proto_put_u32(w, ino->rdev);
	proto_put_version(w, &ino->atime_ver);
	proto_put_u64(w, (uint64_t)ino->atime_sec);
	proto_put_u32(w, ino->atime_nsec);
	proto_put_version(w, &ino->mtime_ver);
	proto_put_u64(w, (uint64_t)ino->mtime_sec);
	proto_put_u32(w, ino->mtime_nsec);
	proto_put_version(w, &ino->size_ver);
	proto_put_u64(w, ino->epoch);
	proto_put_u64(w, ino->size);
	nt = proto_trunc_normalize(ino->trunc, ino->ntrunc, NULL, 0, tr);
	proto_put_u8(w, (uint8_t)nt);
	for (unsigned i = 0; i < nt; i++) {
		proto_put_u64(w, tr[i].epoch);
		proto_put_u64(w, tr[i].size);
	}
	proto_put_version(w, &ino->parent_ver);
	proto_put_u64(w, ino->parent);
	proto_put_version(w, &ino->del_ver);
	proto_put_version(w, &ino->target_ver);
	proto_put_u16(w, tl);
	proto_put_bytes(w, ino->target, tl);
}

/* A mode is its file type bits and permission bits, nothing else. */
static bool proto_mode_valid(const struct proto_inode *ino)
{
	if (ino->mode & ~(uint32_t)(S_IFMT | 07777))
		return false;
	if (proto_version_is_zero(&ino->attr_ver))
		return true; /* register never written */
	switch (ino->mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

int proto_inode_decode(const void *buf, size_t len, struct proto_inode *ino)
{
	struct proto_rd r;
	const uint8_t *t;

	memset(ino, 0, sizeof(*ino));
	if (len < PROTO_INODE_FIXED_LEN ||
	    len > PROTO_INODE_FIXED_LEN + PROTO_TRUNC_MAX * PROTO_TRUNC_LEN + PROTO_TARGET_MAX)
		return -EBADMSG;
	proto_rd_init(&r, buf, len);
	proto_get_version(&r, &ino->attr_ver);
	ino->mode = proto_get_u32(&r);
	ino->uid = proto_get_u32(&r);
	ino->gid = proto_get_u32(&r);
	ino->rdev = proto_get_u32(&r);
	proto_get_version(&r, &ino->atime_ver);
	ino->atime_sec = (int64_t)proto_get_u64(&r);
	ino->atime_nsec = proto_get_u32(&r);
	proto_get_version(&r, &ino->mtime_ver);
	ino->mtime_sec = (int64_t)proto_get_u64(&r);
	ino->mtime_nsec = proto_get_u32(&r);
	proto_get_version(&r, &ino->size_ver);
	ino->epoch = proto_get_u64(&r);
	ino->size = proto_get_u64(&r);
	ino->ntrunc = proto_get_u8(&r);
	if (ino->ntrunc > PROTO_TRUNC_MAX)
		return -EBADMSG;
	for (unsigned i = 0; i < ino->ntrunc; i++) {
		ino->trunc[i].epoch = proto_get_u64(&r);
		ino->trunc[i].size = proto_get_u64(&r);
	}
	proto_get_version(&r, &ino->parent_ver);
	ino->parent = proto_get_u64(&r);
	proto_get_version(&r, &ino->del_ver);
	proto_get_version(&r, &ino->target_ver);
	ino->target_len = proto_get_u16(&r);
	if (r.bad || r.left != ino->target_len)
		return -EBADMSG; /* also bounds target_len by len */
	t = proto_get_bytes(&r, ino->target_len);
	if (!t || ino->target_len > PROTO_TARGET_MAX || memchr(t, '\0', ino->target_len))
		return -EBADMSG;
	memcpy(ino->target, t, ino->target_len);
	ino->target[ino->target_len] = '\0';
	if (ino->atime_nsec >= 1000000000u || ino->mtime_nsec >= 1000000000u)
		return -EBADMSG;
	if (ino->size > (uint64_t)INT64_MAX || !proto_mode_valid(ino))
		return -EBADMSG;
	/* Truncation points: canonical stack, none newer than the size group. */
	for (unsigned i = 0; i < ino->ntrunc; i++) {
		const struct proto_trunc *tp = &ino->trunc[i];

		if (tp->size > (uint64_t)INT64_MAX || tp->epoch > ino->epoch)
			return -EBADMSG;
		if (i && (tp->epoch <= tp[-1].epoch || tp->size <= tp[-1].size))
			return -EBADMSG;
	}
	return 0;
}

/* The registers other than deletion, in a fixed order. */
#define PROTO_INODE_REGS 6

static void proto_inode_regs(const struct proto_inode *ino,
			     const struct proto_version *v[PROTO_INODE_REGS])
{
	v[0] = &ino->attr_ver;
	v[1] = &ino->atime_ver;
	v[2] = &ino->mtime_ver;
	v[3] = &ino->size_ver;
	v[4] = &ino->parent_ver;
	v[5] = &ino->target_ver;
}

struct proto_version proto_inode_version(const struct proto_inode *ino)
{
	const struct proto_version *v[PROTO_INODE_REGS];
	struct proto_version best = ino->del_ver;

	proto_inode_regs(ino, v);
	for (int i = 0; i < PROTO_INODE_REGS; i++)
		if (proto_version_cmp(v[i], &best) > 0)
			best = *v[i];
	return best;
}

bool proto_inode_is_deleted(const struct proto_inode *ino)
{
	const struct proto_version *v[PROTO_INODE_REGS];

	if (proto_version_is_zero(&ino->del_ver))
		return false;
	proto_inode_regs(ino, v);
	for (int i = 0; i < PROTO_INODE_REGS; i++)
		if (proto_version_cmp(&ino->del_ver, v[i]) <= 0)
			return false;
	return true;
}

uint64_t proto_inode_ctime_ms(const struct proto_inode *ino)
{
	const struct proto_version *v[PROTO_INODE_REGS];
	uint64_t best = 0;

	proto_inode_regs(ino, v);
	for (int i = 0; i < PROTO_INODE_REGS; i++)
		if (v[i]->hlc > best)
			best = v[i]->hlc;
	return PROTO_HLC_MS(best);
}

void proto_inode_meta(const struct proto_inode *ino, const uint8_t *val, uint32_t len,
		      struct proto_meta *m)
{
	m->ver = proto_inode_version(ino);
	m->flags = proto_inode_is_deleted(ino) ? PROTO_REC_TOMBSTONE : 0;
	m->epoch = ino->epoch;
	m->len = len;
	m->sum = proto_value_sum(val, len);
}
