// SPDX-License-Identifier: MIT
/*
 * test_proto_key.c - key constructors, canonical encoding and its order,
 * strict decoding (every rejection), name checks, partition bounds and
 * placement tokens.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include <cmocka.h>

#include "proto/key.h"

static size_t enc(const struct proto_key *k, uint8_t *b)
{
	return proto_key_encode(k, b);
}

static void check_roundtrip(const struct proto_key *k)
{
	uint8_t b[PROTO_KEY_MAX + 1], b2[PROTO_KEY_MAX];
	struct proto_key d;
	size_t n = enc(k, b);

	assert_true(n >= 1 && n <= PROTO_KEY_MAX);
	assert_int_equal(proto_key_decode(b, n, &d), 0);
	assert_true(proto_key_equal(k, &d));
	assert_int_equal(enc(&d, b2), n);
	assert_memory_equal(b, b2, n);
	/* Every truncation and one trailing byte are refused. */
	for (size_t i = 0; i < n; i++) {
		int rc = proto_key_decode(b, i, &d);

		/* Cutting a name short leaves a valid shorter name only for
		 * XATTR/LINK/DIRENT; the DIRENT hash then mismatches. */
		if (rc == 0)
			assert_true((k->kind == PROTO_KIND_XATTR || k->kind == PROTO_KIND_LINK) &&
				    i > (k->kind == PROTO_KIND_XATTR ? 10u : 18u));
		else
			assert_true(rc == -EBADMSG || rc == -EINVAL);
	}
	b[n] = 'x';
	if (k->kind == PROTO_KIND_SUPER || k->kind == PROTO_KIND_INODE ||
	    k->kind == PROTO_KIND_CHUNK ||
	    (k->kind == PROTO_KIND_DIRENT && k->name_len < PROTO_NAME_MAX))
		assert_int_equal(proto_key_decode(b, n + 1, &d), -EBADMSG);
}

static void test_proto_key_roundtrip(void **state)
{
	struct proto_key k;
	char name[PROTO_NAME_MAX];

	(void)state;
	proto_key_super(&k);
	check_roundtrip(&k);
	proto_key_inode(&k, 1);
	check_roundtrip(&k);
	proto_key_inode(&k, UINT64_MAX);
	check_roundtrip(&k);
	proto_key_chunk(&k, 42, 0);
	check_roundtrip(&k);
	proto_key_chunk(&k, 42, UINT64_MAX);
	check_roundtrip(&k);
	assert_int_equal(proto_key_link(&k, 7, 1, "a", 1), 0);
	check_roundtrip(&k);
	assert_int_equal(proto_key_xattr(&k, 7, "user.x", 6), 0);
	check_roundtrip(&k);
	assert_int_equal(proto_key_xattr(&k, 7, ".", 1), 0); /* xattr names may be "." */
	check_roundtrip(&k);
	assert_int_equal(proto_key_dirent(&k, 1, "hello.txt", 9), 0);
	assert_int_equal(k.sub, proto_name_hash63("hello.txt", 9));
	check_roundtrip(&k);
	memset(name, 'n', sizeof(name));
	assert_int_equal(proto_key_dirent(&k, 9, name, PROTO_NAME_MAX), 0);
	check_roundtrip(&k);
	assert_int_equal(proto_key_link(&k, 9, 3, name, PROTO_NAME_MAX), 0);
	uint8_t b[PROTO_KEY_MAX];
	assert_int_equal(enc(&k, b), PROTO_KEY_MAX);
	check_roundtrip(&k);
	/* Byte-exact encodings. */
	proto_key_chunk(&k, 0x0102, 3);
	const uint8_t want_chunk[] = { 2, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 3 };
	assert_int_equal(enc(&k, b), sizeof(want_chunk));
	assert_memory_equal(b, want_chunk, sizeof(want_chunk));
	proto_key_inode(&k, 5);
	const uint8_t want_inode[] = { 1, 0, 0, 0, 0, 0, 0, 0, 5, 1 };
	assert_int_equal(enc(&k, b), sizeof(want_inode));
	assert_memory_equal(b, want_inode, sizeof(want_inode));
	assert_int_equal(proto_key_xattr(&k, 5, "u", 1), 0);
	const uint8_t want_xattr[] = { 1, 0, 0, 0, 0, 0, 0, 0, 5, 3, 'u' };
	assert_int_equal(enc(&k, b), sizeof(want_xattr));
	assert_memory_equal(b, want_xattr, sizeof(want_xattr));
}

static void test_proto_key_name_check(void **state)
{
	char name[PROTO_NAME_MAX + 2];

	(void)state;
	memset(name, 'a', sizeof(name));
	assert_int_equal(proto_name_check("a", 1), 0);
	assert_int_equal(proto_name_check("...", 3), 0);
	assert_int_equal(proto_name_check(".a", 2), 0);
	assert_int_equal(proto_name_check(name, PROTO_NAME_MAX), 0);
	assert_int_equal(proto_name_check(name, PROTO_NAME_MAX + 1), -ENAMETOOLONG);
	assert_int_equal(proto_name_check("", 0), -EINVAL);
	assert_int_equal(proto_name_check(".", 1), -EINVAL);
	assert_int_equal(proto_name_check("..", 2), -EINVAL);
	assert_int_equal(proto_name_check("a/b", 3), -EINVAL);
	assert_int_equal(proto_name_check("/", 1), -EINVAL);
	assert_int_equal(proto_name_check("a\0b", 3), -EINVAL);
	assert_int_equal(proto_xattr_name_check("user.a", 6), 0);
	assert_int_equal(proto_xattr_name_check("a/b", 3), 0);
	assert_int_equal(proto_xattr_name_check("", 0), -EINVAL);
	assert_int_equal(proto_xattr_name_check("a\0", 2), -EINVAL);
	assert_int_equal(proto_xattr_name_check(name, PROTO_NAME_MAX + 1), -ENAMETOOLONG);

	struct proto_key k;
	assert_int_equal(proto_key_dirent(&k, 1, "..", 2), -EINVAL);
	assert_int_equal(proto_key_link(&k, 1, 2, "a/b", 3), -EINVAL);
	assert_int_equal(proto_key_dirent(&k, 1, name, PROTO_NAME_MAX + 1), -ENAMETOOLONG);
	assert_int_equal(proto_key_xattr(&k, 1, "", 0), -EINVAL);
	assert_true(proto_name_hash63("x", 1) >> 63 == 0);
	assert_int_equal(proto_name_hash63("x", 1), XXH3_64bits("x", 1) & INT64_MAX);
}

/* Build meta key bytes by hand: 01 ino 'sub' [u64] name. */
static size_t raw_meta(uint8_t *b, uint64_t ino, uint8_t sub, const uint64_t *h,
		       const char *name, size_t nlen)
{
	size_t n = 10;

	b[0] = 1;
	proto_be64_put(b + 1, ino);
	b[9] = sub;
	if (h) {
		proto_be64_put(b + 10, *h);
		n += 8;
	}
	memcpy(b + n, name, nlen);
	return n + nlen;
}

static void test_proto_key_decode_rejects(void **state)
{
	uint8_t b[1024];
	struct proto_key k;
	char name[400];
	uint64_t h;
	size_t n;

	(void)state;
	memset(b, 0, sizeof(b));
	assert_int_equal(proto_key_decode(b, 0, &k), -EBADMSG);
	for (unsigned first = 3; first < 256; first++) {
		b[0] = (uint8_t)first;
		assert_int_equal(proto_key_decode(b, 1, &k), -EBADMSG);
		assert_int_equal(proto_key_decode(b, 17, &k), -EBADMSG);
	}
	/* Unknown meta sub-kinds. */
	for (unsigned sub = 0; sub < 256; sub++) {
		if (sub >= 1 && sub <= 4)
			continue;
		n = raw_meta(b, 5, (uint8_t)sub, NULL, "", 0);
		assert_int_equal(proto_key_decode(b, n, &k), -EBADMSG);
	}
	/* Inode 0 in every kind but SUPER. */
	n = raw_meta(b, 0, 1, NULL, "", 0);
	assert_int_equal(proto_key_decode(b, n, &k), -EBADMSG);
	n = raw_meta(b, 0, 3, NULL, "x", 1);
	assert_int_equal(proto_key_decode(b, n, &k), -EBADMSG);
	proto_key_chunk(&k, 0, 1);
	n = proto_key_encode(&k, b);
	assert_int_equal(proto_key_decode(b, n, &k), -EBADMSG);
	/* LINK to parent 0. */
	h = 0;
	n = raw_meta(b, 5, 2, &h, "x", 1);
	assert_int_equal(proto_key_decode(b, n, &k), -EBADMSG);
	/* DIRENT hash not matching its name, even by one bit. */
	h = proto_name_hash63("x", 1) ^ 1;
	n = raw_meta(b, 5, 4, &h, "x", 1);
	assert_int_equal(proto_key_decode(b, n, &k), -EBADMSG);
	h = proto_name_hash63("x", 1) | (1ULL << 63);
	n = raw_meta(b, 5, 4, &h, "x", 1);
	assert_int_equal(proto_key_decode(b, n, &k), -EBADMSG);
	/* Bad names in LINK, DIRENT and XATTR keys. */
	const struct {
		const char *s;
		size_t n;
		int rc;
	} bad[] = {
		{ "", 0, -EINVAL },	{ ".", 1, -EINVAL },   { "..", 2, -EINVAL },
		{ "a/b", 3, -EINVAL },	{ "a\0b", 3, -EINVAL }, { "/", 1, -EINVAL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h = proto_name_hash63(bad[i].s, bad[i].n);
		n = raw_meta(b, 5, 4, &h, bad[i].s, bad[i].n);
		assert_int_equal(proto_key_decode(b, n, &k), bad[i].rc);
		h = 9;
		n = raw_meta(b, 5, 2, &h, bad[i].s, bad[i].n);
		assert_int_equal(proto_key_decode(b, n, &k), bad[i].rc);
	}
	n = raw_meta(b, 5, 3, NULL, "", 0);
	assert_int_equal(proto_key_decode(b, n, &k), -EINVAL);
	n = raw_meta(b, 5, 3, NULL, "a\0", 2);
	assert_int_equal(proto_key_decode(b, n, &k), -EINVAL);
	memset(name, 'z', sizeof(name));
	for (size_t len = PROTO_NAME_MAX + 1; len <= sizeof(name); len += 50) {
		h = proto_name_hash63(name, len);
		n = raw_meta(b, 5, 4, &h, name, len);
		assert_int_equal(proto_key_decode(b, n, &k), -ENAMETOOLONG);
		h = 3;
		n = raw_meta(b, 5, 2, &h, name, len);
		assert_int_equal(proto_key_decode(b, n, &k), -ENAMETOOLONG);
		n = raw_meta(b, 5, 3, NULL, name, len);
		assert_int_equal(proto_key_decode(b, n, &k), -ENAMETOOLONG);
	}
	/* SUPER with trailing bytes, CHUNK of wrong length. */
	b[0] = 0;
	assert_int_equal(proto_key_decode(b, 2, &k), -EBADMSG);
	b[0] = 2;
	memset(b + 1, 1, 17);
	assert_int_equal(proto_key_decode(b, 16, &k), -EBADMSG);
	assert_int_equal(proto_key_decode(b, 18, &k), -EBADMSG);
}

static int cmp_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c ? c : (al < bl ? -1 : al > bl);
}

static void test_proto_key_order_and_partition(void **state)
{
	struct proto_key ks[8];
	uint8_t b[8][PROTO_KEY_MAX], lo[9], hi[9];
	size_t n[8];

	(void)state;
	proto_key_super(&ks[0]);
	proto_key_inode(&ks[1], 7);
	proto_key_link(&ks[2], 7, 1, "zz", 2);
	proto_key_xattr(&ks[3], 7, "user.a", 6);
	proto_key_dirent(&ks[4], 7, "b", 1);
	proto_key_inode(&ks[5], 8);
	proto_key_chunk(&ks[6], 7, 0);
	proto_key_chunk(&ks[7], 7, 1);
	for (int i = 0; i < 8; i++)
		n[i] = proto_key_encode(&ks[i], b[i]);
	for (int i = 0; i + 1 < 8; i++)
		assert_true(cmp_bytes(b[i], n[i], b[i + 1], n[i + 1]) < 0);

	proto_partition_bounds(7, lo, hi);
	for (int i = 1; i <= 4; i++) {
		assert_true(cmp_bytes(lo, 9, b[i], n[i]) <= 0);
		assert_true(cmp_bytes(b[i], n[i], hi, 9) < 0);
		assert_int_equal(proto_key_token(&ks[i]), proto_partition_token(7));
	}
	assert_true(cmp_bytes(b[5], n[5], hi, 9) >= 0);
	assert_true(cmp_bytes(b[0], n[0], lo, 9) < 0);

	/* The last inode's partition still has an upper bound. */
	struct proto_key k;
	uint8_t kb[PROTO_KEY_MAX];
	size_t kn;
	proto_partition_bounds(UINT64_MAX, lo, hi);
	assert_int_equal(proto_key_dirent(&k, UINT64_MAX, "\xff\xff", 2), 0);
	kn = proto_key_encode(&k, kb);
	assert_true(cmp_bytes(lo, 9, kb, kn) <= 0);
	assert_true(cmp_bytes(kb, kn, hi, 9) < 0);
	proto_key_chunk(&k, 0, 0);
	kn = proto_key_encode(&k, kb);
	assert_true(cmp_bytes(hi, 9, kb, kn) <= 0);

	/* Tokens: xxh3 over BE ino, or BE ino + BE index. */
	uint8_t t[16];
	proto_be64_put(t, 7);
	proto_be64_put(t + 8, 1);
	assert_int_equal(proto_partition_token(7), XXH3_64bits(t, 8));
	assert_int_equal(proto_key_token(&ks[7]), XXH3_64bits(t, 16));
	assert_int_not_equal(proto_key_token(&ks[6]), proto_key_token(&ks[7]));
	assert_int_equal(proto_key_token(&ks[0]), proto_partition_token(0));
}

static void test_proto_key_str_equal(void **state)
{
	struct proto_key a, b;
	char s[64];

	(void)state;
	proto_key_chunk(&a, 42, 3);
	assert_string_equal(proto_key_str(&a, s, sizeof(s)), "chunk(42,3)");
	proto_key_inode(&a, 1);
	assert_string_equal(proto_key_str(&a, s, sizeof(s)), "inode(1)");
	proto_key_super(&a);
	assert_string_equal(proto_key_str(&a, s, sizeof(s)), "super");
	proto_key_xattr(&a, 2, "user.\x01", 6);
	assert_string_equal(proto_key_str(&a, s, sizeof(s)), "xattr(2,user.?)");
	proto_key_dirent(&a, 2, "f", 1);
	proto_key_str(&a, s, 8);
	assert_int_equal(strlen(s), 7);
	proto_key_dirent(&b, 2, "f", 1);
	assert_true(proto_key_equal(&a, &b));
	proto_key_dirent(&b, 2, "g", 1);
	assert_false(proto_key_equal(&a, &b));
	proto_key_link(&b, 2, 1, "f", 1);
	assert_false(proto_key_equal(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_key_roundtrip),
		cmocka_unit_test(test_proto_key_name_check),
		cmocka_unit_test(test_proto_key_decode_rejects),
		cmocka_unit_test(test_proto_key_order_and_partition),
		cmocka_unit_test(test_proto_key_str_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
