// SPDX-License-Identifier: MIT
/*
 * test_proto_wire.c - the HEADER frame codec, the bounded reader and
 * growable writer, big-endian helpers, opcode names and the status table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/status.h"
#include "proto/wire.h"

static void make_hdr(struct proto_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->version = PROTO_VERSION;
	h->opcode = PROTO_OP_GET;
	h->flags = 0;
	h->status = 0;
	h->args_len = 1234;
	h->reqid = 0x0102030405060708ULL;
	h->data_len = 5678;
	h->layout = 0x0a0b0c0d;
}

static void test_proto_wire_hdr_roundtrip(void **state)
{
	uint8_t b[PROTO_HDR_LEN];
	struct proto_hdr h, d;

	(void)state;
	make_hdr(&h);
	proto_hdr_encode(&h, b);
	/* Byte-exact layout: magic "QFS1", little-endian fields. */
	assert_memory_equal(b, "QFS1", 4);
	assert_int_equal(b[4], PROTO_VERSION);
	assert_int_equal(b[5], PROTO_OP_GET);
	assert_int_equal(b[12], 1234 & 0xff);
	assert_int_equal(b[13], 1234 >> 8);
	assert_int_equal(b[16], 0x08);
	assert_int_equal(b[23], 0x01);
	/* 10..11 reserved; 28..31 the layout version, little-endian */
	assert_int_equal(b[10], 0);
	assert_int_equal(b[11], 0);
	assert_memory_equal(b + 28, "\x0d\x0c\x0b\x0a", 4);
	assert_int_equal(proto_hdr_decode(b, sizeof(b), &d), 0);
	assert_int_equal(d.layout, 0x0a0b0c0d);
	assert_int_equal(d.version, h.version);
	assert_int_equal(d.opcode, h.opcode);
	assert_int_equal(d.flags, h.flags);
	assert_int_equal(d.status, h.status);
	assert_int_equal(d.args_len, h.args_len);
	assert_int_equal(d.reqid, h.reqid);
	assert_int_equal(d.data_len, h.data_len);

	/* A reply with a status and the maximum lengths. */
	h.flags = PROTO_HF_REPLY;
	h.status = PROTO_ST_INVAL;
	h.args_len = PROTO_ARGS_MAX;
	h.data_len = PROTO_DATA_MAX;
	for (unsigned op = 1; op < PROTO_OP_MAX; op++) {
		h.opcode = (uint8_t)op;
		proto_hdr_encode(&h, b);
		assert_int_equal(proto_hdr_decode(b, sizeof(b), &d), 0);
		assert_int_equal(d.opcode, op);
		assert_int_equal(d.status, PROTO_ST_INVAL);
	}
}

static void test_proto_wire_hdr_rejects(void **state)
{
	uint8_t b[PROTO_HDR_LEN + 1], c[PROTO_HDR_LEN];
	struct proto_hdr h, d;

	(void)state;
	make_hdr(&h);
	proto_hdr_encode(&h, b);
	b[PROTO_HDR_LEN] = 0;
	for (size_t n = 0; n < PROTO_HDR_LEN; n++)
		assert_int_equal(proto_hdr_decode(b, n, &d), -EBADMSG);
	assert_int_equal(proto_hdr_decode(b, PROTO_HDR_LEN + 1, &d), -EBADMSG);

	memcpy(c, b, sizeof(c));
	c[0] ^= 1;
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EPROTO);
	/* Fields are still filled so the receiver can echo reqid/opcode. */
	assert_int_equal(d.reqid, h.reqid);
	assert_int_equal(d.opcode, PROTO_OP_GET);

	memcpy(c, b, sizeof(c));
	c[4] = PROTO_VERSION + 1;
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EPROTONOSUPPORT);
	c[4] = 0;
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EPROTONOSUPPORT);

	for (unsigned op = 0; op < 256; op++) {
		memcpy(c, b, sizeof(c));
		c[5] = (uint8_t)op;
		assert_int_equal(proto_hdr_decode(c, sizeof(c), &d),
				 op >= 1 && op < PROTO_OP_MAX ? 0 : -EOPNOTSUPP);
	}

	for (int bit = 0; bit < 16; bit++) {
		memcpy(c, b, sizeof(c));
		c[6 + bit / 8] |= (uint8_t)(1u << (bit % 8));
		if ((1u << bit) & PROTO_HF_MASK)
			continue;
		assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EBADMSG);
	}
	/* Reserved words. */
	for (int i = 10; i < 12; i++) {
		memcpy(c, b, sizeof(c));
		c[i] = 1;
		assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EBADMSG);
	}
	/* 28..31 is the layout version: any value, in requests and replies */
	for (int i = 28; i < 32; i++) {
		memcpy(c, b, sizeof(c));
		c[i] = 0xff;
		assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), 0);
	}
	memcpy(c, b, sizeof(c));
	memset(c + 28, 0xff, 4);
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), 0);
	assert_int_equal(d.layout, UINT32_MAX);
	memset(c + 28, 0, 4);
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), 0);
	assert_int_equal(d.layout, 0);
	/* A request carries no status; a reply only a known one. */
	h.status = PROTO_ST_IO;
	proto_hdr_encode(&h, c);
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EBADMSG);
	h.flags = PROTO_HF_REPLY;
	h.status = PROTO_ST_MAX;
	proto_hdr_encode(&h, c);
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EBADMSG);
	h.status = 0xffff;
	proto_hdr_encode(&h, c);
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EBADMSG);

	/* Absurd lengths. */
	make_hdr(&h);
	h.args_len = PROTO_ARGS_MAX + 1;
	proto_hdr_encode(&h, c);
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EMSGSIZE);
	make_hdr(&h);
	h.data_len = PROTO_DATA_MAX + 1;
	proto_hdr_encode(&h, c);
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EMSGSIZE);
	h.data_len = 0xffffffffu;
	proto_hdr_encode(&h, c);
	assert_int_equal(proto_hdr_decode(c, sizeof(c), &d), -EMSGSIZE);
}

static void test_proto_wire_reader_sticky(void **state)
{
	const uint8_t b[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	struct proto_rd r;

	(void)state;
	proto_rd_init(&r, b, sizeof(b));
	assert_int_equal(proto_get_u8(&r), 1);
	assert_int_equal(proto_get_u16(&r), 0x0302);
	assert_int_equal(proto_get_u32(&r), 0x07060504);
	assert_int_equal(proto_get_u64(&r), 0x0f0e0d0c0b0a0908ULL);
	assert_false(r.bad);
	assert_int_equal(r.left, 0);
	assert_int_equal(proto_get_u8(&r), 0);
	assert_true(r.bad);

	proto_rd_init(&r, b, 3);
	assert_int_equal(proto_get_u32(&r), 0);
	assert_true(r.bad);
	/* Sticky: even a read that would fit fails now. */
	assert_int_equal(proto_get_u8(&r), 0);
	assert_null(proto_get_bytes(&r, 0));
	assert_int_equal(r.left, 3);

	proto_rd_init(&r, b, 4);
	assert_non_null(proto_get_bytes(&r, 4));
	assert_null(proto_get_bytes(&r, 1));
	proto_rd_init(&r, b, 4);
	assert_null(proto_get_bytes(&r, SIZE_MAX));
	assert_true(r.bad);
	proto_rd_init(&r, b, 1);
	assert_int_equal(proto_get_u16(&r), 0);
	proto_rd_init(&r, b, 7);
	assert_int_equal(proto_get_u64(&r), 0);
	assert_true(r.bad);
}

static void test_proto_wire_writer(void **state)
{
	struct proto_wr w;
	uint8_t big[1000];

	(void)state;
	proto_wr_init(&w);
	proto_put_u8(&w, 0xaa);
	proto_put_u16(&w, 0x1234);
	proto_put_u32(&w, 0xdeadbeef);
	proto_put_u64(&w, 0x1122334455667788ULL);
	proto_put_bytes(&w, NULL, 0);
	assert_false(w.bad);
	assert_int_equal(w.len, 15);
	const uint8_t want[] = { 0xaa, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde, 0x88,
				 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 };
	assert_memory_equal(w.buf, want, sizeof(want));
	memset(big, 7, sizeof(big));
	for (int i = 0; i < 100; i++)
		proto_put_bytes(&w, big, sizeof(big));
	assert_false(w.bad);
	assert_int_equal(w.len, 15 + 100 * sizeof(big));
	assert_int_equal(w.buf[w.len - 1], 7);
	proto_wr_free(&w);
	assert_null(w.buf);
	proto_wr_free(NULL);

	/* Once bad, puts are no-ops. */
	proto_wr_init(&w);
	w.bad = true;
	proto_put_u64(&w, 1);
	assert_int_equal(w.len, 0);
	proto_wr_free(&w);
}

static void test_proto_wire_be64(void **state)
{
	uint8_t b[8];

	(void)state;
	proto_be64_put(b, 0x0102030405060708ULL);
	const uint8_t want[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	assert_memory_equal(b, want, 8);
	assert_int_equal(proto_be64_get(b), 0x0102030405060708ULL);
	proto_be64_put(b, UINT64_MAX);
	assert_int_equal(proto_be64_get(b), UINT64_MAX);
}

static void test_proto_wire_op_names(void **state)
{
	(void)state;
	assert_string_equal(proto_op_name(PROTO_OP_HELLO), "hello");
	assert_string_equal(proto_op_name(PROTO_OP_PUT), "put");
	assert_string_equal(proto_op_name(PROTO_OP_STAT), "stat");
	assert_string_equal(proto_op_name(0), "?");
	assert_string_equal(proto_op_name(PROTO_OP_MAX), "?");
	assert_string_equal(proto_op_name(~0u), "?");
}

static void test_proto_wire_status_map(void **state)
{
	(void)state;
	for (uint16_t st = 0; st < PROTO_ST_MAX; st++) {
		int e = proto_st_to_errno(st);

		assert_non_null(proto_st_name(st));
		assert_string_not_equal(proto_st_name(st), "unknown");
		if (st == PROTO_ST_INVAL)
			continue; /* EINVAL goes back as BADNAME, see status.c */
		assert_int_equal(proto_st_from_errno(e), st);
		assert_int_equal(proto_st_from_errno(-e), st);
	}
	assert_int_equal(proto_st_to_errno(PROTO_ST_OK), 0);
	assert_int_equal(proto_st_to_errno(PROTO_ST_CONFLICT), ESTALE);
	assert_int_equal(PROTO_ST_STALE_LAYOUT, 19);
	assert_int_equal(PROTO_ST_MAX, 20);
	assert_int_equal(proto_st_to_errno(PROTO_ST_STALE_LAYOUT), EREMCHG);
	assert_int_equal(proto_st_from_errno(-EREMCHG), PROTO_ST_STALE_LAYOUT);
	assert_string_equal(proto_st_name(PROTO_ST_STALE_LAYOUT), "stale_layout");
	assert_int_equal(proto_st_to_errno(PROTO_ST_MAX), EIO);
	assert_int_equal(proto_st_to_errno(0xffff), EIO);
	assert_int_equal(proto_st_from_errno(-EBADMSG), PROTO_ST_BADMSG);
	assert_int_equal(proto_st_from_errno(-EPROTO), PROTO_ST_BADMAGIC);
	assert_int_equal(proto_st_from_errno(-EPROTONOSUPPORT), PROTO_ST_BADVERSION);
	assert_int_equal(proto_st_from_errno(-EOPNOTSUPP), PROTO_ST_BADOP);
	assert_int_equal(proto_st_from_errno(-EMSGSIZE), PROTO_ST_TOOLONG);
	assert_int_equal(proto_st_from_errno(-EINVAL), PROTO_ST_BADNAME);
	assert_int_equal(proto_st_from_errno(-ENAMETOOLONG), PROTO_ST_NAMETOOLONG);
	assert_int_equal(proto_st_from_errno(-EFBIG), PROTO_ST_TOOBIG);
	assert_int_equal(proto_st_from_errno(-ENOTDIR), PROTO_ST_IO);
	assert_int_equal(proto_st_from_errno(0), PROTO_ST_OK);
	assert_string_equal(proto_st_name(PROTO_ST_CONFLICT), "conflict");
	assert_string_equal(proto_st_name(999), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_wire_hdr_roundtrip),
		cmocka_unit_test(test_proto_wire_hdr_rejects),
		cmocka_unit_test(test_proto_wire_reader_sticky),
		cmocka_unit_test(test_proto_wire_writer),
		cmocka_unit_test(test_proto_wire_be64),
		cmocka_unit_test(test_proto_wire_op_names),
		cmocka_unit_test(test_proto_wire_status_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
