/* SPDX-License-Identifier: MIT */
/*
 * key.h - record keys, their canonical ordered encoding and placement tokens.
 *
 * A key is encoded into big-endian bytes whose memcmp order is the store's
 * order (the same bytes go on the wire and into LMDB):
 *
 *   SUPER              00
 *   INODE(i)           01 i:8 01
 *   LINK(i,parent,nm)  01 i:8 02 parent:8 name
 *   XATTR(i,nm)        01 i:8 03 name
 *   DIRENT(d,h,nm)     01 d:8 04 h:8 name      (h = proto_name_hash63(name))
 *   CHUNK(i,k)         02 i:8 k:8
 *
 * So an inode, its links, xattrs and (for a directory) its entries are one
 * contiguous range: the partition of i, placed on the ring by i alone, and a
 * directory listing is one ordered range scan resumable at the name hash.
 * CHUNK(i,k) is placed by (i,k) so a file's chunks spread over the cluster.
 */
#ifndef QFS_PROTO_KEY_H
#define QFS_PROTO_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

enum proto_kind {
	PROTO_KIND_SUPER = 0,
	PROTO_KIND_INODE = 1,
	PROTO_KIND_LINK = 2,
	PROTO_KIND_XATTR = 3,
	PROTO_KIND_DIRENT = 4,
	PROTO_KIND_CHUNK = 5,
	PROTO_KIND_MAX
};

#define PROTO_KEY_MAX (1 + 8 + 1 + 8 + PROTO_NAME_MAX) /* 273 bytes */
#define PROTO_ROOT_INO 1ULL

struct proto_key {
	uint8_t kind;	   /* enum proto_kind */
	uint64_t ino;	   /* inode, or the directory for DIRENT; 0 for SUPER */
	uint64_t sub;	   /* LINK: parent; DIRENT: name hash; CHUNK: index */
	uint16_t name_len; /* LINK, XATTR, DIRENT */
	char name[PROTO_NAME_MAX + 1]; /* NUL-terminated copy */
};

/* 63-bit hash of a name (xxh3, top bit clear): the readdir offset. */
uint64_t proto_name_hash63(const char *name, size_t len);

/*
 * Validate a file name: 0, -EINVAL (empty, contains '/' or NUL, "." or
 * ".."), -ENAMETOOLONG (over PROTO_NAME_MAX bytes).
 */
int proto_name_check(const char *name, size_t len);

/* Validate an xattr name: non-empty, no NUL, at most PROTO_NAME_MAX bytes. */
int proto_xattr_name_check(const char *name, size_t len);

/* Constructors; the named ones validate the name and return 0 or -errno. */
void proto_key_super(struct proto_key *k);
void proto_key_inode(struct proto_key *k, uint64_t ino);
void proto_key_chunk(struct proto_key *k, uint64_t ino, uint64_t index);
int proto_key_link(struct proto_key *k, uint64_t ino, uint64_t parent, const char *name,
		   size_t len);
int proto_key_xattr(struct proto_key *k, uint64_t ino, const char *name, size_t len);
int proto_key_dirent(struct proto_key *k, uint64_t dir, const char *name, size_t len);

/* Encode @k into @out; returns the length (1..PROTO_KEY_MAX). */
size_t proto_key_encode(const struct proto_key *k, uint8_t out[PROTO_KEY_MAX]);

/*
 * Decode and validate canonical key bytes. Returns 0, -EBADMSG (unknown
 * kind, wrong length, DIRENT hash not matching its name, inode 0),
 * -EINVAL / -ENAMETOOLONG (bad name).
 */
int proto_key_decode(const void *buf, size_t len, struct proto_key *k);

/*
 * Encoded bounds of inode @ino's partition (INODE, LINK, XATTR, DIRENT):
 * every key of it is >= lo and < hi. Both are 9 bytes.
 */
void proto_partition_bounds(uint64_t ino, uint8_t lo[9], uint8_t hi[9]);

/* Placement token of a key: xxh3 of its partition (ino, or ino and index). */
uint64_t proto_key_token(const struct proto_key *k);

/* Token of inode @ino's metadata partition (same as proto_key_token of its keys). */
uint64_t proto_partition_token(uint64_t ino);

bool proto_key_equal(const struct proto_key *a, const struct proto_key *b);

/* Short printable form for logs, e.g. "chunk(42,3)"; returns @buf. */
const char *proto_key_str(const struct proto_key *k, char *buf, size_t size);

#endif
