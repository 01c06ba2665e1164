// SPDX-License-Identifier: MIT
/*
 * store_undo.c - the undo journal, DIR/undo: pre-images of the in-place
 * body writes of the open batch, so that a crash between such a write and
 * its batch's commit cannot leave an acknowledged version with bytes of a
 * version that never committed.
 *
 * A PATCH writes into the body file in place before its batch's LMDB
 * transaction commits. If the daemon dies in between, the index still names
 * version N with N's block checksums while the file holds N+1's bytes. So
 * before each in-place write the writer appends a record {key, body id, the
 * version the old bytes belong to (base), the version the write creates,
 * offset, old body length, old bytes} with an xxh3 of the record. A plain
 * pwrite is enough against kill -9 (the page cache survives the process);
 * CHK_SYNC_ALWAYS also fdatasyncs the journal with the batch's bodies.
 *
 * Records of a batch start at offset 0 and carry the batch's generation
 * number; when the batch ends the offset goes back to 0 and the generation
 * moves on, so reading stops at the first record that is torn, foreign or
 * of an older generation (leftovers of a longer earlier batch). At open, the
 * records of the last generation are undone newest first, one body at a
 * time: only when the index still names that body at the base version of
 * the body's first record in the batch (the batch never committed; a
 * committed batch moved the version on, an aborted one already put the
 * bytes back, which makes the rewrite harmless). Then the journal is
 * emptied. Writer thread only, except chk_undo_open (store open).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkd/body.h"
#include "chunkd/store_priv.h"
#include "proto/log.h"

#define CHK_UNDO_FILE "undo"
#define CHK_UNDO_MAGIC 0x314a5551u /* "QUJ1" */
/* magic u32, total u32, gen u64, body u64, base hlc/writer, ver hlc/writer,
 * off u64, old_len u64, len u32, key_len u16; then key, old bytes, xxh3 u64 */
#define CHK_UNDO_HDR 78
#define CHK_UNDO_MAX (CHK_UNDO_HDR + PROTO_KEY_MAX + PROTO_CHUNK_MAX + 8)

int chk_undo_log(struct chk_store *st, const struct chk_undo_rec *r)
{
	struct proto_wr *w = &st->b.jrec;
	size_t total = CHK_UNDO_HDR + r->key_len + r->len + 8;
	int rc;

	w->len = 0;
	w->bad = false;
	proto_put_u32(w, CHK_UNDO_MAGIC);
	proto_put_u32(w, (uint32_t)total);
	proto_put_u64(w, st->jr_gen);
	proto_put_u64(w, r->body);
	proto_put_u64(w, r->base.hlc);
	proto_put_u64(w, r->base.writer);
	proto_put_u64(w, r->ver.hlc);
	proto_put_u64(w, r->ver.writer);
	proto_put_u64(w, r->off);
	proto_put_u64(w, r->old_len);
	proto_put_u32(w, r->len);
	proto_put_u16(w, (uint16_t)r->key_len);
	proto_put_bytes(w, r->key, r->key_len);
	if (r->len)
		proto_put_bytes(w, r->old, r->len);
	if (w->bad)
		return -ENOMEM;
	proto_put_u64(w, proto_block_sum(w->buf, w->len));
	if (w->bad)
		return -ENOMEM;
	rc = chk_body_pwrite(st->jfd, w->buf, w->len, st->jr_off);
	if (rc) {
		qlog_err("write undo journal: %s", strerror(-rc));
		return rc;
	}
	st->jr_off += w->len;
	return 0;
}

void chk_undo_reset(struct chk_store *st)
{
	if (st->jr_off == 0)
		return; /* nothing written: the generation may stay */
	st->jr_off = 0;
	st->jr_gen++;
}

int chk_undo_sync(struct chk_store *st)
{
	if (st->jr_off == 0)
		return 0;
	return fdatasync(st->jfd) < 0 ? -errno : 0;
}

/* ---- recovery at open ---- */

struct chk_jrec {
	uint64_t off; /* of the record in the journal */
	uint32_t total;
	uint64_t body;
	struct proto_version base;
	int8_t apply; /* per body, decided once: -1 unknown, 0 skip, 1 undo */
};

/* Check the record in @buf (@total bytes); *r borrows its fields from @buf. */
static bool chk_jrec_parse(const uint8_t *buf, size_t total, struct chk_undo_rec *r, uint64_t *gen)
{
	struct proto_rd rd;
	uint64_t sum;

	proto_rd_init(&rd, buf, total - 8);
	if (proto_get_u32(&rd) != CHK_UNDO_MAGIC || proto_get_u32(&rd) != total)
		return false;
	sum = 0; /* the trailing xxh3, little-endian */
	for (int i = 7; i >= 0; i--)
		sum = sum << 8 | buf[total - 8 + (size_t)i];
	if (sum != proto_block_sum(buf, total - 8))
		return false;
	*gen = proto_get_u64(&rd);
	r->body = proto_get_u64(&rd);
	r->base.hlc = proto_get_u64(&rd);
	r->base.writer = proto_get_u64(&rd);
	r->ver.hlc = proto_get_u64(&rd);
	r->ver.writer = proto_get_u64(&rd);
	r->off = proto_get_u64(&rd);
	r->old_len = proto_get_u64(&rd);
	r->len = proto_get_u32(&rd);
	r->key_len = proto_get_u16(&rd);
	if (rd.bad || r->key_len == 0 || r->key_len > PROTO_KEY_MAX || r->len > PROTO_CHUNK_MAX ||
	    CHK_UNDO_HDR + r->key_len + r->len + 8 != total)
		return false;
	r->key = proto_get_bytes(&rd, r->key_len);
	r->old = r->len ? proto_get_bytes(&rd, r->len) : NULL;
	if (rd.bad || r->off > PROTO_CHUNK_MAX || r->len > PROTO_CHUNK_MAX - r->off ||
	    r->old_len > PROTO_CHUNK_MAX || r->body == 0)
		return false;
	return true;
}

/* Read the record at @off of at most @left bytes into a new buffer (NULL: none there). */
static int chk_jrec_read(int fd, uint64_t off, uint64_t left, uint8_t **out, uint32_t *total)
{
	uint8_t hdr[8], *buf;
	uint32_t magic, n;

	*out = NULL;
	if (left < CHK_UNDO_HDR + 1 + 8)
		return 0;
	if (chk_body_pread(fd, hdr, sizeof(hdr), off))
		return 0;
	magic = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
		(uint32_t)hdr[3] << 24;
	n = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 |
	    (uint32_t)hdr[7] << 24;
	if (magic != CHK_UNDO_MAGIC || n < CHK_UNDO_HDR + 1 + 8 || n > CHK_UNDO_MAX || n > left)
		return 0;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	if (chk_body_pread(fd, buf, n, off)) {
		free(buf);
		return 0;
	}
	*out = buf;
	*total = n;
	return 0;
}

/* Roll @first's body back? 1 only if the index still names it at @first's base version. */
static int chk_jrec_decide(struct chk_store *st, MDB_txn *txn, const struct chk_undo_rec *first)
{
	MDB_val k = { .mv_size = first->key_len, .mv_data = (void *)first->key }, v;
	struct chk_rec *r;
	int rc, apply = 0;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = mdb_get(txn, st->recs, &k, &v);
	if (rc == 0 && chk_rec_decode(PROTO_KIND_CHUNK, v.mv_data, v.mv_size, r) == 0)
		apply = r->body == first->body && !(r->meta.flags & PROTO_REC_TOMBSTONE) &&
			proto_version_cmp(&r->meta.ver, &first->base) == 0;
	else if (rc != 0 && rc != MDB_NOTFOUND)
		apply = chk_mdb_err(rc);
	free(r);
	return apply;
}

/* Put one record's old bytes back and cut the body to its old length. */
static int chk_jrec_undo(struct chk_store *st, const struct chk_undo_rec *r)
{
	int fd, rc;

	fd = chk_body_open(st->dfd, r->body, true);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd; /* gone: the record reads as corrupt anyway */
	rc = r->len ? chk_body_pwrite(fd, r->old, r->len, r->off) : 0;
	if (!rc && ftruncate(fd, (off_t)r->old_len) < 0)
		rc = -errno;
	if (!rc && fdatasync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int chk_undo_recover(struct chk_store *st, uint64_t size)
{
	struct chk_jrec *recs = NULL, *tmp;
	size_t n = 0, cap = 0, undone = 0;
	uint64_t off = 0, gen = 0, g;
	struct chk_undo_rec r;
	MDB_txn *txn = NULL;
	uint8_t *buf;
	uint32_t total;
	int rc = 0;

	/* Index the records of the last batch, in journal order. */
	for (;;) {
		rc = chk_jrec_read(st->jfd, off, size - off, &buf, &total);
		if (rc || !buf)
			break;
		if (!chk_jrec_parse(buf, total, &r, &g) || (n && g != gen)) {
			free(buf);
			break;
		}
		gen = g;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			tmp = realloc(recs, cap * sizeof(*recs));
			if (!tmp) {
				free(buf);
				rc = -ENOMEM;
				break;
			}
			recs = tmp;
		}
		recs[n++] = (struct chk_jrec){
			.off = off, .total = total, .body = r.body, .base = r.base, .apply = -1
		};
		free(buf);
		off += total;
	}
	if (rc || n == 0)
		goto out;

	rc = chk_read_begin(st, &txn);
	if (rc)
		goto out;
	/* Newest first; each body's fate is decided by its first record. */
	for (size_t i = n; i-- > 0 && !rc;) {
		size_t first = 0;

		while (recs[first].body != recs[i].body)
			first++;
		if (recs[first].apply < 0) {
			rc = chk_jrec_read(st->jfd, recs[first].off, recs[first].total, &buf,
					   &total);
			if (rc || !buf) {
				rc = rc ? rc : -EIO;
				break;
			}
			chk_jrec_parse(buf, total, &r, &g);
			rc = chk_jrec_decide(st, txn, &r);
			free(buf);
			if (rc < 0)
				break;
			recs[first].apply = (int8_t)rc;
			rc = 0;
		}
		if (!recs[first].apply)
			continue;
		rc = chk_jrec_read(st->jfd, recs[i].off, recs[i].total, &buf, &total);
		if (rc || !buf) {
			rc = rc ? rc : -EIO;
			break;
		}
		chk_jrec_parse(buf, total, &r, &g);
		rc = chk_jrec_undo(st, &r);
		free(buf);
		if (rc)
			qlog_err("undo journal: restore body %016" PRIx64 ": %s", r.body,
				 strerror(-rc));
		else
			undone++;
	}
	chk_read_end(st, txn);
	if (undone)
		qlog_warn("undo journal: put back %zu in-place writes of a batch that never "
			  "committed",
			  undone);
out:
	free(recs);
	return rc;
}

int chk_undo_open(struct chk_store *st)
{
	struct stat sb;
	int rc;

	st->jfd = openat(st->dfd, CHK_UNDO_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (st->jfd < 0)
		return -errno;
	if (fstat(st->jfd, &sb) < 0)
		return -errno;
	if (sb.st_size > 0) {
		rc = chk_undo_recover(st, (uint64_t)sb.st_size);
		if (rc)
			return rc;
		if (ftruncate(st->jfd, 0) < 0 || fdatasync(st->jfd) < 0)
			return -errno;
	}
	st->jr_off = 0;
	if (getrandom(&st->jr_gen, sizeof(st->jr_gen), 0) != sizeof(st->jr_gen))
		st->jr_gen = chk_now_ms();
	return 0;
}

void chk_undo_close(struct chk_store *st)
{
	if (st->jfd >= 0)
		close(st->jfd);
	st->jfd = -1;
}
