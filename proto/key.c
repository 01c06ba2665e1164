// SPDX-License-Identifier: MIT
/*
 * key.c - record keys: constructors, canonical big-endian encoding whose
 * memcmp order is the store order, strict decoding of untrusted key bytes,
 * name validation and ring placement tokens.
 *
 * Invariants: a decoded key re-encodes to exactly the bytes it came from
 * (there is one encoding per key); name holds name_len bytes and a NUL; a
 * DIRENT's sub is always proto_name_hash63() of its name; no key but SUPER
 * has inode 0. Every key of one inode's metadata (INODE, LINK, XATTR,
 * DIRENT) has the same token, so they are placed on the same replicas.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "proto/key.h"

/* Leading byte of each encoded key family, and the sub-kind of a meta key. */
#define PROTO_KB_SUPER 0x00
#define PROTO_KB_META 0x01
#define PROTO_KB_CHUNK 0x02
#define PROTO_KS_INODE 0x01
#define PROTO_KS_LINK 0x02
#define PROTO_KS_XATTR 0x03
#define PROTO_KS_DIRENT 0x04

uint64_t proto_name_hash63(const char *name, size_t len)
{
	return XXH3_64bits(name, len) & 0x7fffffffffffffffULL;
}

int proto_name_check(const char *name, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > PROTO_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	return 0;
}

int proto_xattr_name_check(const char *name, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > PROTO_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '\0', len))
		return -EINVAL;
	return 0;
}

static void proto_key_reset(struct proto_key *k, uint8_t kind, uint64_t ino, uint64_t sub)
{
	k->kind = kind;
	k->ino = ino;
	k->sub = sub;
	k->name_len = 0;
	k->name[0] = '\0';
}

static void proto_key_set_name(struct proto_key *k, const char *name, size_t len)
{
	memcpy(k->name, name, len);
	k->name[len] = '\0';
	k->name_len = (uint16_t)len;
}

void proto_key_super(struct proto_key *k)
{
	proto_key_reset(k, PROTO_KIND_SUPER, 0, 0);
}

void proto_key_inode(struct proto_key *k, uint64_t ino)
{
	proto_key_reset(k, PROTO_KIND_INODE, ino, 0);
}

void proto_key_chunk(struct proto_key *k, uint64_t ino, uint64_t index)
{
	proto_key_reset(k, PROTO_KIND_CHUNK, ino, index);
}

int proto_key_link(struct proto_key *k, uint64_t ino, uint64_t parent, const char *name,
		   size_t len)
{
	int rc = proto_name_check(name, len);

	if (rc)
		return rc;
	proto_key_reset(k, PROTO_KIND_LINK, ino, parent);
	proto_key_set_name(k, name, len);
	return 0;
}

int proto_key_xattr(struct proto_key *k, uint64_t ino, const char *name, size_t len)
{
	int rc = proto_xattr_name_check(name, len);

	if (rc)
		return rc;
	proto_key_reset(k, PROTO_KIND_XATTR, ino, 0);
	proto_key_set_name(k, name, len);
	return 0;
}

int proto_key_dirent(struct proto_key *k, uint64_t dir, const char *name, size_t len)
{
	int rc = proto_name_check(name, len);

	if (rc)
		return rc;
	proto_key_reset(k, PROTO_KIND_DIRENT, dir, proto_name_hash63(name, len));
	proto_key_set_name(k, name, len);
	return 0;
}

/*
 * Encoding of a key built by the constructors. A caller that filled the
 * struct by hand with an unknown kind or a name_len over PROTO_NAME_MAX gets
 * the bytes clamped rather than an overflow of @out.
 */
size_t proto_key_encode(const struct proto_key *k, uint8_t out[PROTO_KEY_MAX])
{
	size_t n, nl = k->name_len > PROTO_NAME_MAX ? PROTO_NAME_MAX : k->name_len;

	switch (k->kind) {
	case PROTO_KIND_CHUNK:
		out[0] = PROTO_KB_CHUNK;
		proto_be64_put(out + 1, k->ino);
		proto_be64_put(out + 9, k->sub);
		return 17;
	case PROTO_KIND_INODE:
	case PROTO_KIND_LINK:
	case PROTO_KIND_XATTR:
	case PROTO_KIND_DIRENT:
		break;
	default:
		out[0] = PROTO_KB_SUPER;
		return 1;
	}
	out[0] = PROTO_KB_META;
	proto_be64_put(out + 1, k->ino);
	n = 10;
	switch (k->kind) {
	case PROTO_KIND_INODE:
		out[9] = PROTO_KS_INODE;
		return n;
	case PROTO_KIND_LINK:
		out[9] = PROTO_KS_LINK;
		proto_be64_put(out + 10, k->sub);
		n += 8;
		break;
	case PROTO_KIND_XATTR:
		out[9] = PROTO_KS_XATTR;
		break;
	default: /* DIRENT */
		out[9] = PROTO_KS_DIRENT;
		proto_be64_put(out + 10, k->sub);
		n += 8;
		break;
	}
	memcpy(out + n, k->name, nl);
	return n + nl;
}

/*
 * Checks the structure first (-EBADMSG), then the name; so a LINK whose
 * name is 300 bytes is -ENAMETOOLONG, not a length error, whatever the
 * overall key length.
 */
int proto_key_decode(const void *buf, size_t len, struct proto_key *k)
{
	const uint8_t *p = buf;
	const char *name;
	size_t nlen;
	int rc;

	proto_key_reset(k, PROTO_KIND_SUPER, 0, 0);
	if (len == 0)
		return -EBADMSG;
	switch (p[0]) {
	case PROTO_KB_SUPER:
		return len == 1 ? 0 : -EBADMSG;
	case PROTO_KB_CHUNK:
		if (len != 17)
			return -EBADMSG;
		proto_key_reset(k, PROTO_KIND_CHUNK, proto_be64_get(p + 1), proto_be64_get(p + 9));
		return k->ino ? 0 : -EBADMSG;
	case PROTO_KB_META:
		break;
	default:
		return -EBADMSG;
	}
	if (len < 10)
		return -EBADMSG;
	k->ino = proto_be64_get(p + 1);
	if (k->ino == 0)
		return -EBADMSG;
	switch (p[9]) {
	case PROTO_KS_INODE:
		k->kind = PROTO_KIND_INODE;
		return len == 10 ? 0 : -EBADMSG;
	case PROTO_KS_XATTR:
		name = (const char *)p + 10;
		nlen = len - 10;
		rc = proto_xattr_name_check(name, nlen);
		if (rc)
			return rc;
		k->kind = PROTO_KIND_XATTR;
		proto_key_set_name(k, name, nlen);
		return 0;
	case PROTO_KS_LINK:
	case PROTO_KS_DIRENT:
		break;
	default:
		return -EBADMSG;
	}
	if (len < 18)
		return -EBADMSG;
	k->sub = proto_be64_get(p + 10);
	name = (const char *)p + 18;
	nlen = len - 18;
	rc = proto_name_check(name, nlen);
	if (rc)
		return rc;
	if (p[9] == PROTO_KS_LINK) {
		if (k->sub == 0)
			return -EBADMSG; /* parent inode 0 */
		k->kind = PROTO_KIND_LINK;
	} else {
		if (k->sub != proto_name_hash63(name, nlen))
			return -EBADMSG;
		k->kind = PROTO_KIND_DIRENT;
	}
	proto_key_set_name(k, name, nlen);
	return 0;
}

void proto_partition_bounds(uint64_t ino, uint8_t lo[9], uint8_t hi[9])
{
	lo[0] = PROTO_KB_META;
	proto_be64_put(lo + 1, ino);
	if (ino == UINT64_MAX) {
		hi[0] = PROTO_KB_META + 1;
		proto_be64_put(hi + 1, 0);
	} else {
		hi[0] = PROTO_KB_META;
		proto_be64_put(hi + 1, ino + 1);
	}
}

uint64_t proto_partition_token(uint64_t ino)
{
	uint8_t b[8];

	proto_be64_put(b, ino);
	return XXH3_64bits(b, sizeof(b));
}

uint64_t proto_key_token(const struct proto_key *k)
{
	uint8_t b[16];

	if (k->kind == PROTO_KIND_CHUNK) {
		proto_be64_put(b, k->ino);
		proto_be64_put(b + 8, k->sub);
		return XXH3_64bits(b, sizeof(b));
	}
	return proto_partition_token(k->kind == PROTO_KIND_SUPER ? 0 : k->ino);
}

bool proto_key_equal(const struct proto_key *a, const struct proto_key *b)
{
	if (a->kind != b->kind || a->ino != b->ino || a->sub != b->sub ||
	    a->name_len != b->name_len)
		return false;
	if (a->name_len > PROTO_NAME_MAX)
		return false;
	return memcmp(a->name, b->name, a->name_len) == 0;
}

/* Names are shown with bytes outside printable ASCII as '?' and cut at 32. */
static void proto_key_name_str(const struct proto_key *k, char out[40])
{
	size_t n = k->name_len > PROTO_NAME_MAX ? PROTO_NAME_MAX : k->name_len;
	size_t i, m = n > 32 ? 32 : n;

	for (i = 0; i < m; i++) {
		unsigned char c = (unsigned char)k->name[i];

		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (m < n)
		memcpy(out + i, "...", 4);
	else
		out[i] = '\0';
}

const char *proto_key_str(const struct proto_key *k, char *buf, size_t size)
{
	char nm[40];

	if (!buf || size == 0)
		return buf;
	switch (k->kind) {
	case PROTO_KIND_SUPER:
		snprintf(buf, size, "super");
		break;
	case PROTO_KIND_INODE:
		snprintf(buf, size, "inode(%" PRIu64 ")", k->ino);
		break;
	case PROTO_KIND_LINK:
		proto_key_name_str(k, nm);
		snprintf(buf, size, "link(%" PRIu64 ",%" PRIu64 ",%s)", k->ino, k->sub, nm);
		break;
	case PROTO_KIND_XATTR:
		proto_key_name_str(k, nm);
		snprintf(buf, size, "xattr(%" PRIu64 ",%s)", k->ino, nm);
		break;
	case PROTO_KIND_DIRENT:
		proto_key_name_str(k, nm);
		snprintf(buf, size, "dirent(%" PRIu64 ",%016" PRIx64 ",%s)", k->ino, k->sub, nm);
		break;
	case PROTO_KIND_CHUNK:
		snprintf(buf, size, "chunk(%" PRIu64 ",%" PRIu64 ")", k->ino, k->sub);
		break;
	default:
		snprintf(buf, size, "kind%u?", k->kind);
		break;
	}
	return buf;
}
