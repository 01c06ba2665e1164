// SPDX-License-Identifier: MIT
/*
 * test_chunkd_faults.c - chunkd under hostile input and failures: 10,000
 * garbage multipart messages, peers that vanish in the middle of a message,
 * kill -9 during a pipelined stream of PUTs and PATCHes (nothing
 * acknowledged may be lost), a store capped by --capacity and one on a full
 * 32 MiB tmpfs (ENOSPC, earlier records intact, tombstones still accepted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/status.h"
#include "tests/integration/chunkd_harness.h"

static uint8_t *mkbuf(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	chkh_fill(p, len, seed);
	return p;
}

static void check_get(struct chkh_client *c, const struct proto_key *k,
		      const struct proto_version *ver, const uint8_t *img, uint32_t len)
{
	struct proto_get_rep rep;
	void *data;
	size_t dl;

	assert_int_equal(chkh_get(c, k, 0, PROTO_GET_WHOLE, &rep, &data, &dl), PROTO_ST_OK);
	assert_true(rep.meta.ver.hlc == ver->hlc);
	assert_true(rep.meta.ver.writer == ver->writer);
	assert_int_equal(dl, len);
	if (len)
		assert_memory_equal(data, img, len);
	free(data);
}

/* Records written before an attack and checked after it. */
#define KEEP_N 8
struct kept {
	struct proto_key k[KEEP_N];
	struct proto_version v[KEEP_N];
	uint8_t *val[KEEP_N];
	uint32_t len[KEEP_N];
};

static void keep_put(struct chkh_client *c, struct kept *kp, uint64_t ino)
{
	for (int i = 0; i < KEEP_N; i++) {
		kp->len[i] = 1000 + (uint32_t)i * 30000;
		kp->val[i] = mkbuf(kp->len[i], ino * 100 + (uint64_t)i);
		proto_key_chunk(&kp->k[i], ino, (uint64_t)i);
		kp->v[i] = (struct proto_version){ chkh_hlc_now(), 11 };
		assert_int_equal(chkh_put(c, &kp->k[i], kp->v[i].hlc, kp->v[i].writer, 0,
					  kp->val[i], kp->len[i], NULL),
				 PROTO_ST_OK);
	}
}

static void keep_check(struct chkh_client *c, struct kept *kp)
{
	for (int i = 0; i < KEEP_N; i++)
		check_get(c, &kp->k[i], &kp->v[i], kp->val[i], kp->len[i]);
}

static void keep_free(struct kept *kp)
{
	for (int i = 0; i < KEEP_N; i++)
		free(kp->val[i]);
}

/* The daemon answers HELLO and a fresh PUT/GET round trip. */
static void check_healthy(struct chkh_daemon *d)
{
	struct proto_hello_rep h;
	struct chkh_client c;
	struct proto_key k;
	struct proto_version v = { chkh_hlc_now(), 99 };
	uint8_t val[777];

	assert_true(chkh_alive(d));
	assert_int_equal(chkh_connect(&c, d->ep), 0);
	assert_int_equal(chkh_hello(&c, &h), PROTO_ST_OK);
	proto_key_chunk(&k, 424242, 1);
	chkh_fill(val, sizeof(val), v.hlc);
	assert_int_equal(chkh_put(&c, &k, v.hlc, v.writer, 0, val, sizeof(val), NULL),
			 PROTO_ST_OK);
	check_get(&c, &k, &v, val, sizeof(val));
	chkh_close(&c);
}

/* Alive and answering HELLO (for a store that refuses new data). */
static void check_healthy_readonly(struct chkh_daemon *d)
{
	struct proto_hello_rep h;
	struct chkh_client c;

	assert_true(chkh_alive(d));
	assert_int_equal(chkh_connect(&c, d->ep), 0);
	assert_int_equal(chkh_hello(&c, &h), PROTO_ST_OK);
	chkh_close(&c);
}

static void garbage_header(uint8_t *hb, uint64_t *rs, uint32_t alen, uint32_t dlen)
{
	struct proto_hdr h = {
		.version = PROTO_VERSION,
		.opcode = (uint8_t)(1 + chkh_rand(rs) % (PROTO_OP_MAX - 1)),
		.reqid = chkh_rand(rs),
		.args_len = alen,
		.data_len = dlen,
	};

	proto_hdr_encode(&h, hb);
	switch (chkh_rand(rs) % 8) {
	case 0: /* a random byte flipped anywhere */
		hb[chkh_rand(rs) % PROTO_HDR_LEN] ^= (uint8_t)(1u << (chkh_rand(rs) % 8));
		break;
	case 1: /* unknown opcode */
		hb[5] = (uint8_t)(PROTO_OP_MAX + chkh_rand(rs) % 200);
		break;
	case 2: /* lengths that lie */
		hb[12] ^= 1;
		break;
	default:
		break;
	}
}

static void test_chunkd_garbage(void **state)
{
	struct chkh_daemon d = { .extra = { "--log-level", "err", "--threads", "2" } };
	struct chkh_client c, g;
	struct kept kp;
	uint64_t rs = 0x1234;
	uint8_t *buf = mkbuf(70000, 5);
	int sent = 0, replies = 0;

	(void)state;
	assert_int_equal(chkh_start(&d, "garbage", chkh_mkdir("garbage")), 0);
	assert_int_equal(chkh_connect(&c, d.ep), 0);
	keep_put(&c, &kp, 31);
	assert_int_equal(chkh_connect(&g, d.ep), 0);

	for (int i = 0; i < 10000; i++) {
		int kind = (int)(chkh_rand(&rs) % 4), nf, rc = 0;

		if (kind == 0) {
			/* random frame count, random bytes */
			nf = 1 + (int)(chkh_rand(&rs) % 7);
			for (int j = 0; j < nf && rc >= 0; j++) {
				size_t n = chkh_rand(&rs) % 3 ? chkh_rand(&rs) % 64 :
								 chkh_rand(&rs) % 5000;
				uint8_t tmp[64];

				chkh_fill(tmp, sizeof(tmp), chkh_rand(&rs));
				rc = zmq_send(g.sock, n <= 64 ? tmp : buf, n,
					      (j + 1 < nf ? ZMQ_SNDMORE : 0));
			}
		} else {
			/* a (mostly) valid header with random ARGS and DATA */
			uint32_t alen = (uint32_t)(chkh_rand(&rs) % 600);
			uint32_t dlen = chkh_rand(&rs) % 4 ? 0 : (uint32_t)(chkh_rand(&rs) % 70000);
			uint8_t hb[PROTO_HDR_LEN], args[600];
			size_t off = chkh_rand(&rs) % 1000;

			chkh_fill(args, sizeof(args), chkh_rand(&rs));
			if (kind == 3 && alen > 4) {
				/* plausible key prefix: u16 len + a chunk key */
				args[0] = 17;
				args[1] = 0;
				args[2] = 2;
			}
			garbage_header(hb, &rs, alen, dlen);
			nf = chkh_rand(&rs) % 16 ? 3 : 2 + (int)(chkh_rand(&rs) % 3);
			rc = zmq_send(g.sock, hb, sizeof(hb), ZMQ_SNDMORE);
			if (rc >= 0)
				rc = zmq_send(g.sock, args, alen, (nf > 2 ? ZMQ_SNDMORE : 0));
			if (rc >= 0 && nf > 2)
				rc = zmq_send(g.sock, buf + (off < 70000 - dlen ? off : 0), dlen,
					      nf > 3 ? ZMQ_SNDMORE : 0);
			for (int j = 3; j < nf && rc >= 0; j++)
				rc = zmq_send(g.sock, args, 5, j + 1 < nf ? ZMQ_SNDMORE : 0);
		}
		if (rc >= 0)
			sent++;
		/* take replies as they come so our own queue never fills */
		for (;;) {
			struct chkh_reply r;
			int rrc = chkh_recv(&g, &r, 0);

			if (rrc == -ETIMEDOUT)
				break;
			if (rrc == -EOPNOTSUPP) {
				/* BADOP echoes the unknown opcode: our header decoder
				 * refuses it, but the reqid is there to match */
				chkh_reply_free(&r);
				replies++;
				continue;
			}
			assert_int_equal(rrc, 0);
			/* an error status to garbage, never OK */
			if (r.m.hdr.opcode != PROTO_OP_HELLO && r.m.hdr.opcode != PROTO_OP_STAT &&
			    r.m.hdr.opcode != PROTO_OP_SYNC && r.m.hdr.opcode != PROTO_OP_DIGEST &&
			    r.m.hdr.opcode != PROTO_OP_SCAN && r.m.hdr.opcode != PROTO_OP_LIST &&
			    r.status == PROTO_ST_OK)
				fail_msg("garbage %s #%llu answered OK", proto_op_name(r.m.hdr.opcode),
					 (unsigned long long)r.m.hdr.reqid);
			replies++;
			chkh_reply_free(&r);
		}
	}
	assert_true(sent > 9000);
	/* the daemon is still there, answers, and lost nothing */
	check_healthy(&d);
	keep_check(&c, &kp);
	{
		struct proto_stat_rep s;

		assert_int_equal(chkh_stat(&c, &s), PROTO_ST_OK);
		assert_true(s.corrupt == 0);
	}
	print_message("garbage: %d sent, %d answered\n", sent, replies);
	chkh_close(&g);
	chkh_close(&c);
	keep_free(&kp);
	free(buf);
	assert_int_equal(chkh_stop(&d), 0);
}

static int tcp_connect(const char *ep)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	const char *colon = strrchr(ep, ':');
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_port = htons((uint16_t)atoi(colon + 1));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* ZMTP 3.0 greeting and READY for a DEALER with the NULL mechanism. */
static void zmtp_handshake(int fd)
{
	uint8_t greet[64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L' };
	static const uint8_t ready[] = { 0x04, 26, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o',
					 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0, 0,
					 6, 'D', 'E', 'A', 'L', 'E', 'R' };
	uint8_t in[64];

	(void)!write(fd, greet, sizeof(greet));
	(void)!write(fd, ready, sizeof(ready));
	(void)!read(fd, in, sizeof(in)); /* their greeting; content not needed */
}

static void test_chunkd_disconnect_mid_message(void **state)
{
	struct chkh_daemon d = { .extra = { "--log-level", "err" } };
	uint8_t junk[4096];
	struct chkh_client c;
	struct kept kp;

	(void)state;
	assert_int_equal(chkh_start(&d, "midmsg", chkh_mkdir("midmsg")), 0);
	assert_int_equal(chkh_connect(&c, d.ep), 0);
	keep_put(&c, &kp, 41);
	chkh_fill(junk, sizeof(junk), 77);

	for (int i = 0; i < 20; i++) {
		int fd = tcp_connect(d.ep);

		switch (i % 4) {
		case 0: /* half a greeting */
			(void)!write(fd, "\xff\0\0\0", 4);
			break;
		case 1: /* no ZMTP at all */
			(void)!write(fd, junk, sizeof(junk));
			break;
		case 2: { /* a long frame announced as 1 MiB, 4 KiB sent */
			uint8_t fh[9] = { 0x02, 0, 0, 0, 0, 0, 0x10, 0, 0 };

			zmtp_handshake(fd);
			(void)!write(fd, fh, sizeof(fh));
			(void)!write(fd, junk, sizeof(junk));
			break;
		}
		case 3: { /* a valid HEADER frame with MORE, then nothing */
			struct proto_hdr h = { .version = PROTO_VERSION, .opcode = PROTO_OP_PUT,
					       .reqid = 5, .args_len = 100, .data_len = 100000 };
			uint8_t f[2 + PROTO_HDR_LEN];

			zmtp_handshake(fd);
			f[0] = 0x01;
			f[1] = PROTO_HDR_LEN;
			proto_hdr_encode(&h, f + 2);
			(void)!write(fd, f, sizeof(f));
			break;
		}
		}
		close(fd);
	}
	/* a ZeroMQ client that dies with messages queued */
	for (int i = 0; i < 5; i++) {
		struct chkh_client g;
		uint8_t *big = mkbuf(1 << 20, 3);

		assert_int_equal(chkh_connect(&g, d.ep), 0);
		for (int j = 0; j < 4; j++)
			zmq_send(g.sock, big, 1 << 20, ZMQ_DONTWAIT);
		chkh_close(&g);
		free(big);
	}
	check_healthy(&d);
	keep_check(&c, &kp);
	keep_free(&kp);
	chkh_close(&c);
	assert_int_equal(chkh_stop(&d), 0);
}

/* ---- kill -9 during a pipelined stream ---- */

#define CHAINS 4
#define CHAIN_LEN (256 * 1024)
#define CHAIN_MAX 4000
#define PUTS_MAX 20000
#define INFLIGHT 48

struct chain {
	struct proto_key k;
	struct proto_version v[CHAIN_MAX + 1];
	uint32_t off[CHAIN_MAX];
	int sent;  /* patches sent */
	int acked; /* highest index acknowledged (v[acked] stored) */
};

struct putrec {
	struct proto_key k;
	struct proto_version v;
	uint32_t len;
	bool acked;
};

enum { REQ_PUT = 1, REQ_PATCH = 2 };
struct pending {
	uint64_t reqid;
	int type, idx, chain;
};

static uint64_t patch_seed(int chain, int i)
{
	return 5000000ull + (uint64_t)chain * 100000 + (uint64_t)i;
}

static uint64_t put_seed(int i)
{
	return 9000000ull + (uint64_t)i;
}

/* Image of @ch after its first @n patches. */
static void chain_image(const struct chain *ch, int c, int n, uint8_t *img)
{
	uint8_t p[4096];

	chkh_fill(img, CHAIN_LEN, 777 + (uint64_t)c);
	for (int i = 0; i < n; i++) {
		chkh_fill(p, sizeof(p), patch_seed(c, i));
		memcpy(img + ch->off[i], p, sizeof(p));
	}
}

static void test_chunkd_kill9_stream(void **state)
{
	struct chkh_daemon d = { .extra = { "--log-level", "warn" } };
	struct chain *ch = calloc(CHAINS, sizeof(*ch));
	struct putrec *puts = calloc(PUTS_MAX, sizeof(*puts));
	struct pending pend[4096];
	uint8_t *img = malloc(CHAIN_LEN), *val = malloc(64 * 1024);
	struct chkh_client c;
	uint64_t rs = 99, t_end;
	int npend = 0, nputs = 0, acked_puts = 0, acked_patches = 0, i, round = 0;

	(void)state;
	assert_non_null(ch);
	assert_non_null(puts);
	assert_non_null(img);
	assert_non_null(val);
	assert_int_equal(chkh_start(&d, "kill9", chkh_mkdir("kill9")), 0);
	assert_int_equal(chkh_connect(&c, d.ep), 0);
	for (i = 0; i < CHAINS; i++) {
		proto_key_chunk(&ch[i].k, 51, (uint64_t)i);
		ch[i].v[0] = (struct proto_version){ chkh_hlc_now(), 21 };
		chkh_fill(img, CHAIN_LEN, 777 + (uint64_t)i);
		assert_int_equal(chkh_put(&c, &ch[i].k, ch[i].v[0].hlc, 21, 0, img, CHAIN_LEN, NULL),
				 PROTO_ST_OK);
	}

	t_end = proto_wall_ms() + 1500;
	while (proto_wall_ms() < t_end) {
		/* fill the pipe */
		while (npend < INFLIGHT) {
			struct pending *p = &pend[npend];
			struct proto_wr w;
			int rc;

			proto_wr_init(&w);
			if (round++ % 2 == 0 && nputs < PUTS_MAX) {
				struct putrec *pr = &puts[nputs];
				struct proto_put_req *q = malloc(sizeof(*q));

				assert_non_null(q);
				pr->len = 1 + (uint32_t)(chkh_rand(&rs) % (64 * 1024));
				chkh_fill(val, pr->len, put_seed(nputs));
				proto_key_chunk(&pr->k, 52, (uint64_t)nputs);
				pr->v = (struct proto_version){ chkh_hlc_now(), 22 };
				chkh_make_put(q, &pr->k, pr->v.hlc, 22, 0, 0, val, pr->len);
				proto_encode_put_req(&w, q);
				free(q);
				rc = chkh_send(&c, PROTO_OP_PUT, w.buf, w.len, val, pr->len,
					       &p->reqid);
				p->type = REQ_PUT;
				p->idx = nputs++;
			} else {
				int cn = (int)(chkh_rand(&rs) % CHAINS);
				struct chain *cc = &ch[cn];
				struct proto_patch_req q;
				uint8_t pb[4096];
				int n = cc->sent;

				if (n >= CHAIN_MAX) {
					proto_wr_free(&w);
					break;
				}
				cc->off[n] = (uint32_t)(chkh_rand(&rs) % (CHAIN_LEN - 4096));
				cc->v[n + 1] = (struct proto_version){ chkh_hlc_now(), 21 };
				chkh_fill(pb, sizeof(pb), patch_seed(cn, n));
				memset(&q, 0, sizeof(q));
				q.key = cc->k;
				q.base = cc->v[n];
				q.ver = cc->v[n + 1];
				q.offset = cc->off[n];
				q.sum = proto_block_sum(pb, sizeof(pb));
				proto_encode_patch_req(&w, &q);
				rc = chkh_send(&c, PROTO_OP_PATCH, w.buf, w.len, pb, sizeof(pb),
					       &p->reqid);
				p->type = REQ_PATCH;
				p->chain = cn;
				p->idx = n + 1;
				cc->sent++;
			}
			proto_wr_free(&w);
			assert_int_equal(rc, 0);
			npend++;
		}
		/* collect what came back */
		for (;;) {
			struct chkh_reply r;

			if (chkh_recv(&c, &r, npend >= INFLIGHT ? 1000 : 0) < 0)
				break;
			for (i = 0; i < npend; i++)
				if (pend[i].reqid == r.m.hdr.reqid)
					break;
			assert_true(i < npend);
			assert_int_equal(r.status, PROTO_ST_OK);
			if (pend[i].type == REQ_PUT) {
				puts[pend[i].idx].acked = true;
				acked_puts++;
			} else {
				struct chain *cc = &ch[pend[i].chain];

				/* replies of one chain come back in order */
				assert_int_equal(pend[i].idx, cc->acked + 1);
				cc->acked = pend[i].idx;
				acked_patches++;
			}
			pend[i] = pend[--npend];
			chkh_reply_free(&r);
			if (npend < INFLIGHT / 2)
				break;
		}
	}
	/* kill with requests in flight */
	assert_true(npend > 0);
	chkh_kill9(&d);
	chkh_close(&c);
	print_message("kill -9 with %d in flight; %d puts and %d patches acknowledged\n", npend,
		      acked_puts, acked_patches);
	assert_true(acked_puts > 100 && acked_patches > 100);

	assert_int_equal(chkh_restart(&d), 0);
	assert_int_equal(chkh_connect(&c, d.ep), 0);
	for (i = 0; i < nputs; i++) {
		if (!puts[i].acked)
			continue;
		chkh_fill(val, puts[i].len, put_seed(i));
		check_get(&c, &puts[i].k, &puts[i].v, val, puts[i].len);
	}
	for (i = 0; i < CHAINS; i++) {
		struct proto_get_rep rep;
		void *data;
		size_t dl;
		int j, rc;

		rc = chkh_get(&c, &ch[i].k, 0, PROTO_GET_WHOLE, &rep, &data, &dl);
		if (rc != PROTO_ST_OK) {
			struct proto_meta m;

			memset(&m, 0, sizeof(m));
			chkh_head(&c, &ch[i].k, &m);
			for (j = 0; j <= ch[i].sent; j++)
				if (ch[i].v[j].hlc == m.ver.hlc)
					break;
			fail_msg("chain %d: get %s; stored patch %d, acked %d, sent %d", i,
				 proto_st_name((uint16_t)rc), j, ch[i].acked, ch[i].sent);
		}
		/* the acknowledged patch, or a later one that was in flight */
		for (j = ch[i].acked; j <= ch[i].sent; j++)
			if (ch[i].v[j].hlc == rep.meta.ver.hlc)
				break;
		assert_true(j <= ch[i].sent);
		chain_image(&ch[i], i, j, img);
		assert_int_equal(dl, CHAIN_LEN);
		assert_memory_equal(data, img, CHAIN_LEN);
		free(data);
	}
	check_healthy(&d);
	chkh_close(&c);
	assert_int_equal(chkh_stop(&d), 0);
	free(ch);
	free(puts);
	free(img);
	free(val);
}

/* ---- a full store ---- */

/* Fill with 256 KiB chunks until NOSPC; check the aftermath. */
static void fill_until_full(struct chkh_daemon *d, uint64_t ino, int max_puts)
{
	const uint32_t len = 256 * 1024;
	struct proto_version *vs = calloc((size_t)max_puts, sizeof(*vs));
	uint8_t *v = malloc(len);
	struct chkh_client c;
	int i, rc = PROTO_ST_OK, n;

	assert_non_null(vs);
	assert_non_null(v);
	assert_int_equal(chkh_connect(&c, d->ep), 0);
	for (i = 0; i < max_puts; i++) {
		struct proto_key k;

		proto_key_chunk(&k, ino, (uint64_t)i);
		chkh_fill(v, len, ino * 1000 + (uint64_t)i);
		vs[i] = (struct proto_version){ chkh_hlc_now(), 31 };
		rc = chkh_put(&c, &k, vs[i].hlc, 31, 0, v, len, NULL);
		if (rc != PROTO_ST_OK)
			break;
	}
	n = i;
	print_message("store full after %d x 256 KiB\n", n);
	assert_int_equal(rc, PROTO_ST_NOSPC);
	assert_true(n > 0);
	/* again, and a PATCH: still refused, nothing crashes */
	{
		struct proto_key k;
		struct proto_version nv = { chkh_hlc_now(), 31 };

		proto_key_chunk(&k, ino, (uint64_t)n);
		assert_int_equal(chkh_put(&c, &k, chkh_hlc_now(), 31, 0, v, len, NULL),
				 PROTO_ST_NOSPC);
		(void)nv;
	}
	/* what was acknowledged is intact */
	for (i = 0; i < n; i++) {
		struct proto_key k;

		proto_key_chunk(&k, ino, (uint64_t)i);
		chkh_fill(v, len, ino * 1000 + (uint64_t)i);
		check_get(&c, &k, &vs[i], v, len);
	}
	/* deletes still work on a full store */
	for (i = 0; i < 3 && i < n; i++) {
		struct proto_key k;
		struct proto_version tv = { chkh_hlc_now(), 32 };
		struct proto_meta m;

		proto_key_chunk(&k, ino, (uint64_t)i);
		assert_int_equal(chkh_put(&c, &k, tv.hlc, tv.writer, PROTO_REC_TOMBSTONE, NULL, 0,
					  NULL),
				 PROTO_ST_OK);
		assert_int_equal(chkh_head(&c, &k, &m), PROTO_ST_OK);
		assert_true(m.flags & PROTO_REC_TOMBSTONE);
	}
	{
		struct proto_key k;

		proto_key_chunk(&k, ino + 1, 0); /* a tombstone for a key never seen */
		assert_int_equal(chkh_put(&c, &k, chkh_hlc_now(), 33, PROTO_REC_TOMBSTONE, NULL, 0,
					  NULL),
				 PROTO_ST_OK);
	}
	assert_int_equal(chkh_sync(&c, NULL), PROTO_ST_OK);
	chkh_close(&c);
	check_healthy_readonly(d);
	free(vs);
	free(v);
}

static void test_chunkd_capacity(void **state)
{
	struct chkh_daemon d = { .extra = { "--log-level", "warn", "--capacity", "8M" } };

	(void)state;
	assert_int_equal(chkh_start(&d, "cap", chkh_mkdir("cap")), 0);
	fill_until_full(&d, 61, 200);
	/* the refusal survives a restart, and the records too */
	assert_int_equal(chkh_stop(&d), 0);
	assert_int_equal(chkh_restart(&d), 0);
	{
		struct chkh_client c;
		struct proto_key k;
		struct proto_meta m;

		assert_int_equal(chkh_connect(&c, d.ep), 0);
		proto_key_chunk(&k, 61, 5);
		assert_int_equal(chkh_head(&c, &k, &m), PROTO_ST_OK);
		assert_int_equal(m.len, 256 * 1024);
		chkh_close(&c);
	}
	assert_int_equal(chkh_stop(&d), 0);
}

static void test_chunkd_small_fs(void **state)
{
	struct chkh_daemon d = { .extra = { "--log-level", "warn" } };
	const char *mnt;

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	mnt = chkh_mkdir("tmpfs");
	assert_non_null(mnt);
	if (mount("chkh", mnt, "tmpfs", 0, "size=32m") != 0) {
		print_message("cannot mount tmpfs: %s\n", strerror(errno));
		skip();
		return;
	}
	chkh_track_mount(mnt);
	if (chkh_start(&d, "smallfs", mnt) < 0) {
		umount2(mnt, MNT_DETACH);
		fail_msg("chunkd did not start on tmpfs");
	}
	fill_until_full(&d, 71, 400);
	assert_int_equal(chkh_stop(&d), 0);
	assert_int_equal(umount2(mnt, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunkd_garbage),
		cmocka_unit_test(test_chunkd_disconnect_mid_message),
		cmocka_unit_test(test_chunkd_kill9_stream),
		cmocka_unit_test(test_chunkd_capacity),
		cmocka_unit_test(test_chunkd_small_fs),
	};

	if (access(getenv("QFS_BIN") ? getenv("QFS_BIN") : "./bin", X_OK) != 0)
		return 77;
	return cmocka_run_group_tests_name("chunkd_faults", tests, NULL, NULL);
}
