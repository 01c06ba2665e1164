// SPDX-License-Identifier: MIT
/*
 * merge.c - the pure merge function of every record kind.
 *
 * Each merge is the join of a total order (LWW kinds) or a product of total
 * orders (INODE registers), which is what makes it commutative, associative
 * and idempotent: ties on a version are broken by comparing every remaining
 * field, so two different records never compare equal and the result never
 * depends on argument order, even for malformed duplicates. For INODE the
 * records whose value decodes form one semilattice that absorbs the
 * undecodable ones, which are ordered among themselves like LWW records.
 */
#include <errno.h>
#include <string.h>

#include "proto/record.h"

#define PROTO_CMP(a, b)                                                                    \
	do {                                                                               \
		if ((a) != (b))                                                            \
			return (a) < (b) ? -1 : 1;                                         \
	} while (0)

int proto_lww_cmp(const struct proto_meta *a, const struct proto_meta *b)
{
	int c = proto_version_cmp(&a->ver, &b->ver);

	if (c)
		return c;
	/* A tombstone wins a tie: a delete is never undone by its twin. */
	PROTO_CMP(a->flags & PROTO_REC_TOMBSTONE, b->flags & PROTO_REC_TOMBSTONE);
	PROTO_CMP(a->sum, b->sum);
	PROTO_CMP(a->flags, b->flags);
	PROTO_CMP(a->epoch, b->epoch);
	PROTO_CMP(a->len, b->len);
	return 0;
}

/* Total order on whole records: metadata, then the value bytes. */
static int proto_rec_cmp(const struct proto_rec *a, const struct proto_rec *b)
{
	int c = proto_lww_cmp(&a->meta, &b->meta);

	if (c || a->meta.len == 0 || a->val == b->val)
		return c;
	if (!a->val || !b->val)
		return a->val ? 1 : -1;
	c = memcmp(a->val, b->val, a->meta.len);
	return c < 0 ? -1 : c > 0;
}

/* ---- INODE registers: each compare is a total order over the register ---- */

static int proto_attr_cmp(const struct proto_inode *a, const struct proto_inode *b)
{
	int c = proto_version_cmp(&a->attr_ver, &b->attr_ver);

	if (c)
		return c;
	PROTO_CMP(a->mode, b->mode);
	PROTO_CMP(a->uid, b->uid);
	PROTO_CMP(a->gid, b->gid);
	PROTO_CMP(a->rdev, b->rdev);
	return 0;
}

static int proto_atime_cmp(const struct proto_inode *a, const struct proto_inode *b)
{
	int c = proto_version_cmp(&a->atime_ver, &b->atime_ver);

	if (c)
		return c;
	PROTO_CMP(a->atime_sec, b->atime_sec);
	PROTO_CMP(a->atime_nsec, b->atime_nsec);
	return 0;
}

static int proto_mtime_cmp(const struct proto_inode *a, const struct proto_inode *b)
{
	int c = proto_version_cmp(&a->mtime_ver, &b->mtime_ver);

	if (c)
		return c;
	PROTO_CMP(a->mtime_sec, b->mtime_sec);
	PROTO_CMP(a->mtime_nsec, b->mtime_nsec);
	return 0;
}

/* Higher truncate epoch wins; same epoch, larger size; then the version. */
static int proto_size_cmp(const struct proto_inode *a, const struct proto_inode *b)
{
	PROTO_CMP(a->epoch, b->epoch);
	PROTO_CMP(a->size, b->size);
	return proto_version_cmp(&a->size_ver, &b->size_ver);
}

static int proto_parent_cmp(const struct proto_inode *a, const struct proto_inode *b)
{
	int c = proto_version_cmp(&a->parent_ver, &b->parent_ver);

	if (c)
		return c;
	PROTO_CMP(a->parent, b->parent);
	return 0;
}

static int proto_target_cmp(const struct proto_inode *a, const struct proto_inode *b)
{
	int c = proto_version_cmp(&a->target_ver, &b->target_ver);

	if (c)
		return c;
	PROTO_CMP(a->target_len, b->target_len);
	c = memcmp(a->target, b->target, a->target_len);
	return c < 0 ? -1 : c > 0;
}

void proto_inode_merge(const struct proto_inode *a, const struct proto_inode *b,
		       struct proto_inode *out)
{
	struct proto_inode m;
	const struct proto_inode *w;

	memset(&m, 0, sizeof(m));
	w = proto_attr_cmp(a, b) >= 0 ? a : b;
	m.attr_ver = w->attr_ver;
	m.mode = w->mode;
	m.uid = w->uid;
	m.gid = w->gid;
	m.rdev = w->rdev;

	w = proto_atime_cmp(a, b) >= 0 ? a : b;
	m.atime_ver = w->atime_ver;
	m.atime_sec = w->atime_sec;
	m.atime_nsec = w->atime_nsec;

	w = proto_mtime_cmp(a, b) >= 0 ? a : b;
	m.mtime_ver = w->mtime_ver;
	m.mtime_sec = w->mtime_sec;
	m.mtime_nsec = w->mtime_nsec;

	w = proto_size_cmp(a, b) >= 0 ? a : b;
	m.size_ver = w->size_ver;
	m.epoch = w->epoch;
	m.size = w->size;
	/* A truncate is never undone: the cuts of both sides are kept. */
	m.ntrunc = (uint8_t)proto_trunc_normalize(a->trunc, a->ntrunc, b->trunc, b->ntrunc,
						  m.trunc);

	w = proto_parent_cmp(a, b) >= 0 ? a : b;
	m.parent_ver = w->parent_ver;
	m.parent = w->parent;

	w = proto_target_cmp(a, b) >= 0 ? a : b;
	m.target_ver = w->target_ver;
	m.target_len = w->target_len;
	memcpy(m.target, w->target, w->target_len);
	m.target[m.target_len] = '\0';

	m.del_ver = proto_version_cmp(&a->del_ver, &b->del_ver) >= 0 ? a->del_ver : b->del_ver;
	*out = m;
}

/*
 * INODE: decode both values before touching @buf, since either may point
 * into it (merging into the buffer of a previous merge). The result is
 * always re-encoded, so it is the canonical form of the merged inode.
 */
static int proto_merge_inode(const struct proto_rec *a, const struct proto_rec *b,
			     struct proto_rec *out, struct proto_wr *buf)
{
	struct proto_inode ia, ib;
	bool oka, okb;

	oka = (a->val || a->meta.len == 0) &&
	      proto_inode_decode(a->val, a->meta.len, &ia) == 0;
	okb = (b->val || b->meta.len == 0) &&
	      proto_inode_decode(b->val, b->meta.len, &ib) == 0;
	if (!oka && !okb) {
		*out = proto_rec_cmp(a, b) >= 0 ? *a : *b;
		return 0;
	}
	if (!oka)
		ia = ib;
	else if (!okb)
		ib = ia;
	proto_inode_merge(&ia, &ib, &ia);

	buf->len = 0;
	buf->bad = false;
	proto_inode_encode(buf, &ia);
	if (buf->bad)
		return -ENOMEM;
	proto_inode_meta(&ia, buf->buf, (uint32_t)buf->len, &out->meta);
	out->val = buf->buf;
	return 0;
}

int proto_merge(uint8_t kind, const struct proto_rec *a, const struct proto_rec *b,
		struct proto_rec *out, struct proto_wr *buf)
{
	switch (kind) {
	case PROTO_KIND_INODE:
		return proto_merge_inode(a, b, out, buf);
	case PROTO_KIND_SUPER:
	case PROTO_KIND_LINK:
	case PROTO_KIND_XATTR:
	case PROTO_KIND_DIRENT:
	case PROTO_KIND_CHUNK:
		*out = proto_rec_cmp(a, b) >= 0 ? *a : *b;
		return 0;
	default:
		return -EINVAL;
	}
}
