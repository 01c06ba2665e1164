// SPDX-License-Identifier: MIT
/*
 * fuzz_seeds.c - write a small seed corpus of valid inputs for every fuzz
 * target: DIR/<target>/seed-N. Run by scripts/fuzz.sh before fuzzing so no
 * binary corpus needs to be kept in the tree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "proto/layout.h"
#include "proto/msg.h"
#include "proto/record.h"
#include "proto/status.h"
#include "proto/wire.h"

static const char *g_dir;

static void put_seed(const char *target, int n, const uint8_t *p, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", g_dir, target);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/seed-%d", g_dir, target, n);
	f = fopen(path, "wb");
	if (!f || (len && fwrite(p, 1, len, f) != len) || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* A message seed: u32 DATA length, then the ARGS. */
static void put_msg(const char *target, int n, struct proto_wr *w, uint32_t dlen)
{
	struct proto_wr s;

	proto_wr_init(&s);
	proto_put_u32(&s, dlen);
	proto_put_bytes(&s, w->buf, w->len);
	put_seed(target, n, s.buf, s.len);
	proto_wr_free(&s);
	proto_wr_free(w);
}

int main(int argc, char **argv)
{
	static uint8_t val[3 * PROTO_BLOCK_SIZE];
	struct proto_wr w;
	struct proto_key k;
	uint8_t kb[PROTO_KEY_MAX];
	int i;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR\n");
		return 2;
	}
	g_dir = argv[1];
	if (mkdir(g_dir, 0755) && errno != EEXIST) {
		perror(g_dir);
		return 1;
	}
	for (size_t j = 0; j < sizeof(val); j++)
		val[j] = (uint8_t)(j * 13);

	struct proto_hdr h = { .version = PROTO_VERSION, .opcode = PROTO_OP_PUT, .args_len = 70,
			       .reqid = 5, .data_len = 4096 };
	uint8_t hb[PROTO_HDR_LEN];
	proto_hdr_encode(&h, hb);
	put_seed("hdr", 0, hb, sizeof(hb));
	/* a request routed by layout 7, and a daemon at 8 refusing it */
	h.layout = 7;
	proto_hdr_encode(&h, hb);
	put_seed("hdr", 1, hb, sizeof(hb));
	h.flags = PROTO_HF_REPLY;
	h.status = PROTO_ST_STALE_LAYOUT;
	h.args_len = h.data_len = 0;
	h.layout = 8;
	proto_hdr_encode(&h, hb);
	put_seed("hdr", 2, hb, sizeof(hb));

	struct proto_hello_req hq = { .min_version = 1, .max_version = 1, .clock = 1ULL << 40 };
	proto_wr_init(&w);
	proto_encode_hello_req(&w, &hq);
	put_msg("hello_req", 0, &w, 0);

	struct proto_hello_rep hp = { .version = 1, .name = "node1", .layout_version = 1,
				      .clock = 1ULL << 40, .boot = 9, .store_flags = 1,
				      .max_skew_ms = 5000, .chunk_max = PROTO_CHUNK_MAX,
				      .block_size = PROTO_BLOCK_SIZE };
	proto_wr_init(&w);
	proto_encode_hello_rep(&w, &hp);
	put_msg("hello_rep", 0, &w, 0);

	proto_wr_init(&w);
	put_msg("empty_req", 0, &w, 0);

	struct proto_sync_rep sr = { .boot = 3 };
	proto_wr_init(&w);
	proto_encode_sync_rep(&w, &sr);
	put_msg("sync_rep", 0, &w, 0);

	static struct proto_put_req pq;
	proto_key_chunk(&pq.key, 42, 1);
	pq.meta.ver = (struct proto_version){ 1ULL << 20, 7 };
	pq.meta.len = 2 * PROTO_BLOCK_SIZE + 10;
	pq.nsums = (uint16_t)proto_nblocks(pq.meta.len);
	pq.meta.sum = proto_value_sums(val, pq.meta.len, pq.sums);
	proto_wr_init(&w);
	proto_encode_put_req(&w, &pq);
	put_msg("put_req", 0, &w, pq.meta.len);
	proto_key_dirent(&pq.key, 1, "file.txt", 8);
	pq.meta.len = 9;
	pq.nsums = 1;
	pq.meta.sum = proto_value_sums(val, 9, pq.sums);
	proto_wr_init(&w);
	proto_encode_put_req(&w, &pq);
	put_msg("put_req", 1, &w, 9);

	struct proto_write_rep wr = { .stored = { 5, 6 }, .flags = 1, .boot = 2 };
	proto_wr_init(&w);
	proto_encode_write_rep(&w, &wr);
	put_msg("write_rep", 0, &w, 0);

	struct proto_get_req gq = { .offset = 4096, .length = 8192 };
	proto_key_chunk(&gq.key, 3, 0);
	proto_wr_init(&w);
	proto_encode_get_req(&w, &gq);
	put_msg("get_req", 0, &w, 0);

	static struct proto_get_rep gp;
	gp.meta.ver.hlc = 99;
	gp.meta.len = 2 * PROTO_BLOCK_SIZE + 10;
	gp.nsums = 3;
	gp.meta.sum = proto_value_sums(val, gp.meta.len, gp.sums);
	proto_wr_init(&w);
	proto_encode_get_rep(&w, &gp);
	put_msg("get_rep", 0, &w, gp.meta.len);

	struct proto_patch_req pt = { .base = { 1, 1 }, .ver = { 2, 1 }, .offset = 100, .sum = 1 };
	proto_key_chunk(&pt.key, 3, 0);
	proto_wr_init(&w);
	proto_encode_patch_req(&w, &pt);
	put_msg("patch_req", 0, &w, 4096);

	struct proto_head_req hr;
	proto_key_xattr(&hr.key, 3, "user.mime", 9);
	proto_wr_init(&w);
	proto_encode_head_req(&w, &hr);
	put_msg("head_req", 0, &w, 0);
	proto_wr_init(&w);
	proto_encode_head_rep(&w, &gp.meta);
	put_msg("head_rep", 0, &w, 0);

	struct proto_list_req lq = { .ino = 1, .kind = PROTO_KIND_DIRENT, .max = 100 };
	proto_key_dirent(&k, 1, "a", 1);
	lq.start_len = (uint16_t)proto_key_encode(&k, lq.start);
	proto_wr_init(&w);
	proto_encode_list_req(&w, &lq);
	put_msg("list_req", 0, &w, 0);

	struct proto_scan_req sq = { .flags = PROTO_LIST_AFTER, .max = 4096 };
	sq.start_len = lq.start_len;
	memcpy(sq.start, lq.start, lq.start_len);
	proto_wr_init(&w);
	proto_encode_scan_req(&w, &sq);
	put_msg("scan_req", 0, &w, 0);

	proto_wr_init(&w);
	proto_encode_scan_req(&w, &sq);
	put_msg("pending_list_req", 0, &w, 0);
	static uint8_t bmap[PROTO_DIGEST_BITMAP_LEN] = { 0x81 };
	sq.flags |= PROTO_SCAN_BUCKETS;
	sq.buckets = bmap;
	proto_wr_init(&w);
	proto_encode_scan_req(&w, &sq);
	put_msg("scan_req", 1, &w, 0);

	struct proto_digest_req dq = { .first = 4096, .count = 4 };
	proto_wr_init(&w);
	proto_encode_digest_req(&w, &dq);
	put_msg("digest_req", 0, &w, 0);
	static const uint64_t dv[4] = { 1, 0, 0x1234, ~0ULL };
	proto_wr_init(&w);
	proto_encode_digest_rep(&w, 4096, 4, dv);
	put_msg("digest_rep", 0, &w, 0);

	struct proto_stat_rep st = { .capacity = 1 << 30, .used = 1 << 20, .software = "0.1.0" };
	proto_wr_init(&w);
	proto_encode_stat_rep(&w, &st);
	put_msg("stat_rep", 0, &w, 0);

	struct proto_rebuilt_req rq = { .volume_id = { 1, 2, 3 }, .store_id = { 4, 5 } };
	proto_wr_init(&w);
	proto_encode_rebuilt_req(&w, &rq);
	put_msg("rebuilt_req", 0, &w, 0);
	struct proto_rebuilt_rep rp = { .store_flags = PROTO_STORE_FRESH };
	proto_wr_init(&w);
	proto_encode_rebuilt_rep(&w, &rp);
	put_msg("rebuilt_rep", 0, &w, 0);

	/* Pending-repair and tombstone batches (op byte first) and a list page. */
	{
		static const uint8_t bops[] = { PROTO_OP_PENDING_ADD, PROTO_OP_PENDING_DEL,
						PROTO_OP_TOMB_CONFIRM, PROTO_OP_PURGE,
						PROTO_OP_DROP };
		struct proto_batch_ent be = { .ver = { 7, 8 }, .stamp = 9, .nmissed = 1 };

		strcpy(be.missed[0], "c");
		proto_key_chunk(&be.key, 2, 3);
		for (unsigned b = 0; b < sizeof(bops); b++) {
			proto_wr_init(&w);
			proto_put_u8(&w, b);
			proto_put_u32(&w, 0);
			proto_encode_batch_head(&w, 1);
			proto_encode_batch_ent(&w, bops[b], &be);
			put_seed("batch_req", (int)b, w.buf, w.len);
			proto_wr_free(&w);
		}
		proto_wr_init(&w);
		proto_encode_page_head(&w, false);
		proto_encode_batch_ent(&w, PROTO_OP_PENDING_LIST, &be);
		put_seed("pending_page", 0, w.buf, w.len);
		proto_wr_free(&w);
	}

	/* A layout in transition (3 daemons to 4, zones and weights), alone and
	 * in a LAYOUT_SET request. */
	{
		static struct proto_layout l;
		static const char *names[] = { "a", "b", "c", "d" };

		memset(&l, 0, sizeof(l));
		for (int r = 0; r < 2; r++) {
			struct proto_layout_ring *g = r ? &l.prev : &l.cur;

			g->version = r ? 1 : 2;
			g->n = 3;
			g->w = g->r = 2;
			g->vnodes = 256;
			g->ndaemons = r ? 3 : 4;
			for (int d = 0; d < g->ndaemons; d++) {
				snprintf(g->d[d].name, sizeof(g->d[d].name), "%s", names[d]);
				snprintf(g->d[d].endpoint, sizeof(g->d[d].endpoint),
					 "tcp://10.0.0.%d:7070", d + 1);
				snprintf(g->d[d].zone, sizeof(g->d[d].zone), "z%d", d % 3);
				g->d[d].weight = 100 * (unsigned)(d + 1);
			}
		}
		l.has_prev = true;
		proto_wr_init(&w);
		proto_layout_encode(&w, &l);
		put_seed("layout", 0, w.buf, w.len);
		proto_wr_free(&w);
		proto_wr_init(&w);
		proto_encode_layout_set_req(&w, 1, &l);
		put_msg("layout_set_req", 0, &w, 0);
	}

	/* Keys of every kind. */
	i = 0;
	proto_key_super(&k);
	put_seed("key", i++, kb, proto_key_encode(&k, kb));
	proto_key_inode(&k, 77);
	put_seed("key", i++, kb, proto_key_encode(&k, kb));
	proto_key_link(&k, 77, 1, "name", 4);
	put_seed("key", i++, kb, proto_key_encode(&k, kb));
	proto_key_xattr(&k, 77, "user.x", 6);
	put_seed("key", i++, kb, proto_key_encode(&k, kb));
	proto_key_dirent(&k, 77, "entry", 5);
	put_seed("key", i++, kb, proto_key_encode(&k, kb));
	proto_key_chunk(&k, 77, 5);
	put_seed("key", i++, kb, proto_key_encode(&k, kb));

	/* Values: an inode (symlink), a superblock, a dirent. */
	struct proto_inode *ino = calloc(1, sizeof(*ino));
	ino->attr_ver = (struct proto_version){ 1ULL << 20, 1 };
	ino->mode = 0120777;
	ino->size = 4;
	ino->target_len = 4;
	memcpy(ino->target, "/tmp", 4);
	proto_wr_init(&w);
	proto_inode_encode(&w, ino);
	put_seed("value", 0, w.buf, w.len);
	proto_wr_free(&w);
	struct proto_super sb = { .format = 1, .chunk_size = 1 << 20, .created_ms = 1 };
	proto_wr_init(&w);
	proto_super_encode(&w, &sb);
	put_seed("value", 1, w.buf, w.len);
	proto_wr_free(&w);
	struct proto_dirent de = { .ino = 5, .type = 8 };
	proto_wr_init(&w);
	proto_dirent_encode(&w, &de);
	put_seed("value", 2, w.buf, w.len);
	proto_wr_free(&w);

	/* Pages. */
	for (int with = 0; with < 2; with++) {
		struct proto_entry e = { 0 };

		proto_wr_init(&w);
		proto_encode_page_head(&w, true);
		proto_key_inode(&e.key, 9);
		e.meta.ver.hlc = 4;
		e.meta.len = 5;
		e.val = (const uint8_t *)"abcde";
		proto_encode_entry(&w, &e, with);
		proto_key_dirent(&e.key, 9, "x", 1);
		proto_encode_entry(&w, &e, with);
		put_seed(with ? "page_list" : "page_scan", 0, w.buf, w.len);
		proto_wr_free(&w);
	}
	{
		struct proto_entry e = { 0 };

		proto_wr_init(&w);
		proto_encode_page_head(&w, true);
		proto_key_inode(&e.key, 9);
		proto_encode_scan_resume(&w, (const uint8_t *)"\x01", 1);
		e.meta.ver.hlc = 4;
		proto_encode_entry(&w, &e, false);
		put_seed("page_scan_buckets", 0, w.buf, w.len);
		proto_wr_free(&w);
	}

	/* Merge: kind INODE, three records (the same inode, three versions). */
	proto_wr_init(&w);
	proto_put_u8(&w, PROTO_KIND_INODE);
	for (int r = 0; r < 3; r++) {
		struct proto_wr v;
		struct proto_meta m;

		ino->size_ver = (struct proto_version){ (uint64_t)r + 1, 2 };
		ino->size = 100u * (uint64_t)r;
		proto_wr_init(&v);
		proto_inode_encode(&v, ino);
		proto_inode_meta(ino, v.buf, (uint32_t)v.len, &m);
		proto_meta_encode(&w, &m);
		proto_put_bytes(&w, v.buf, v.len);
		proto_wr_free(&v);
	}
	put_seed("merge", 0, w.buf, w.len);
	proto_wr_free(&w);
	free(ino);
	return 0;
}
