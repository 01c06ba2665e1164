// SPDX-License-Identifier: MIT
/*
 * store_snap.c - what makes a sync point of a CHK_SYNC_COMMIT store safe
 * against a power loss: the pin and meta.snap. Running LMDB with MDB_NOSYNC
 * is otherwise unsafe: a later commit may reuse a page of the last synced
 * snapshot, and that reuse (or a new meta page naming pages that never
 * reached the disk) can be on disk while the rest is not.
 *
 *   - The pin: when a sync point S is captured the writer opens a read
 *     transaction on S. LMDB reuses a freed page only when every reader is
 *     newer than the transaction that freed it (mdb_find_oldest in
 *     mdb_page_alloc), so from then on no page of S's tree, nor of any later
 *     snapshot, is written over. When S is durable its pin replaces the
 *     previous sync point's (chk_snap_adopt), whose pages may then be reused.
 *   - meta.snap: S's two meta pages (pages 0 and 1 of data.mdb, read right
 *     after S committed) are saved once S's bodies and pages are durable
 *     (chk_snap_save). After an unclean reboot they are written back over
 *     data.mdb's before mdb_env_open (chk_snap_restore): LMDB 0.9 checks both
 *     for P_META, MDB_MAGIC and its version and opens the one with the larger
 *     txnid (mdb_env_read_header), which is S, instead of a newer meta whose
 *     pages may be missing.
 *
 * meta.snap has two slots written alternately (pwrite + fdatasync), so a
 * torn write leaves the previous good copy, whose snapshot is still pinned
 * until the new one is durable. A slot is a 4 KiB header (magic, version,
 * page size, sequence, txnid, xxh3 of header and pages) and the two pages,
 * at a fixed stride whatever the page size. The pages are copied raw; this
 * file reads four fields of LMDB 0.9's page layout (flags, magic, page size,
 * txnid) only to check them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkd/body.h"
#include "chunkd/store_priv.h"
#include "proto/log.h"

#define CHK_SNAP_FILE "index/meta.snap"
#define CHK_SNAP_MAGIC 0x50414e534d534651ull /* "QFSMSNAP" */
#define CHK_SNAP_VERSION 1
#define CHK_SNAP_HDR 4096
#define CHK_SNAP_PSIZE_MAX 65536
#define CHK_SNAP_SUM_OFF 40
#define CHK_SNAP_STRIDE (CHK_SNAP_HDR + 2 * CHK_SNAP_PSIZE_MAX) /* slot i at i * stride */

/* LMDB 0.9 data file layout (mdb.c: MDB_page, MDB_meta), host byte order. */
#define CHK_MDB_FLAGS_OFF 10 /* u16 mp_flags */
#define CHK_MDB_P_META 0x08
#define CHK_MDB_MAGIC_OFF 16 /* u32 mm_magic, after the 16-byte page header */
#define CHK_MDB_MAGIC 0xBEEFC0DEu
#define CHK_MDB_PSIZE_OFF 40  /* u32 mm_dbs[FREE_DBI].md_pad = mm_psize */
#define CHK_MDB_TXNID_OFF 144 /* u64 mm_txnid */

struct chk_meta_page {
	bool valid; /* a P_META page with the LMDB magic */
	uint32_t psize;
	uint64_t txnid;
};

static void chk_meta_parse(const uint8_t *p, struct chk_meta_page *m)
{
	uint16_t flags;
	uint32_t magic;

	memcpy(&flags, p + CHK_MDB_FLAGS_OFF, sizeof(flags));
	memcpy(&magic, p + CHK_MDB_MAGIC_OFF, sizeof(magic));
	memcpy(&m->psize, p + CHK_MDB_PSIZE_OFF, sizeof(m->psize));
	memcpy(&m->txnid, p + CHK_MDB_TXNID_OFF, sizeof(m->txnid));
	m->valid = (flags & CHK_MDB_P_META) && magic == CHK_MDB_MAGIC;
}

/* The newer valid meta of the pair at @pages (2 * @psize bytes); false if either is bad. */
static bool chk_meta_pair(const uint8_t *pages, uint32_t psize, uint64_t *txnid)
{
	struct chk_meta_page a, b;

	chk_meta_parse(pages, &a);
	chk_meta_parse(pages + psize, &b);
	if (!a.valid || !b.valid || a.psize != psize || b.psize != psize)
		return false;
	*txnid = a.txnid > b.txnid ? a.txnid : b.txnid;
	return true;
}

static uint64_t chk_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void chk_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Slot header: magic u64, version u32, psize u32, seq u64, txnid u64, pad, sum u64 at 40. */
static uint64_t chk_slot_sum(uint8_t *slot, size_t len)
{
	uint8_t saved[8];
	uint64_t sum;

	memcpy(saved, slot + CHK_SNAP_SUM_OFF, 8);
	memset(slot + CHK_SNAP_SUM_OFF, 0, 8);
	sum = proto_block_sum(slot, len);
	memcpy(slot + CHK_SNAP_SUM_OFF, saved, 8);
	return sum;
}

struct chk_slot {
	bool valid;
	uint64_t seq, txnid;
	uint32_t psize;
	uint8_t *pages; /* 2 * psize bytes, owned */
};

/* Read slot @i of meta.snap; a short, torn or foreign slot is just invalid. */
static int chk_slot_read(int fd, unsigned i, struct chk_slot *s)
{
	uint64_t off = (uint64_t)i * CHK_SNAP_STRIDE, txnid;
	uint8_t hdr[CHK_SNAP_HDR], *buf;
	size_t len;
	ssize_t n;

	memset(s, 0, sizeof(*s));
	n = pread(fd, hdr, sizeof(hdr), (off_t)off);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(hdr) || chk_le64(hdr) != CHK_SNAP_MAGIC)
		return 0;
	memcpy(&s->psize, hdr + 12, 4);
	if (hdr[8] != CHK_SNAP_VERSION || s->psize == 0 || s->psize > CHK_SNAP_PSIZE_MAX)
		return 0;
	len = CHK_SNAP_HDR + 2 * (size_t)s->psize;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, len, (off_t)off);
	if (n < 0) {
		free(buf);
		return -errno;
	}
	if ((size_t)n == len && chk_slot_sum(buf, len) == chk_le64(buf + CHK_SNAP_SUM_OFF) &&
	    chk_meta_pair(buf + CHK_SNAP_HDR, s->psize, &txnid) && txnid == chk_le64(buf + 24)) {
		s->valid = true;
		s->seq = chk_le64(buf + 16);
		s->txnid = txnid;
		s->pages = malloc(2 * (size_t)s->psize);
		if (!s->pages) {
			free(buf);
			return -ENOMEM;
		}
		memcpy(s->pages, buf + CHK_SNAP_HDR, 2 * (size_t)s->psize);
	}
	free(buf);
	return 0;
}

/* The newest valid slot of meta.snap into *best (pages owned by the caller). */
static int chk_snap_load(int fd, struct chk_slot *best)
{
	struct chk_slot s[2];
	int rc;

	memset(best, 0, sizeof(*best));
	rc = chk_slot_read(fd, 0, &s[0]);
	if (rc)
		return rc;
	rc = chk_slot_read(fd, 1, &s[1]);
	if (rc) {
		free(s[0].pages);
		return rc;
	}
	if (s[1].valid && (!s[0].valid || s[1].seq > s[0].seq)) {
		*best = s[1];
		free(s[0].pages);
	} else {
		*best = s[0];
		free(s[1].pages);
	}
	return 0;
}

int chk_snap_restore(struct chk_store *st)
{
	struct chk_slot slot;
	uint64_t cur = 0;
	uint8_t *now = NULL;
	bool cur_ok = false;
	int sfd, dfd = -1, rc;
	size_t len;

	sfd = openat(st->dfd, CHK_SNAP_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (sfd < 0) {
		if (errno != ENOENT)
			return -errno;
		/* no sync point ever recorded: that run committed nothing unsynced */
		qlog_warn("unclean reboot: no saved sync point in %s, index opened as is", st->dir);
		return 0;
	}
	rc = chk_snap_load(sfd, &slot);
	close(sfd);
	if (rc)
		return rc;
	if (!slot.valid) {
		qlog_warn("unclean reboot: %s/%s holds no valid sync point, index opened as is",
			  st->dir, CHK_SNAP_FILE);
		return 0;
	}
	len = 2 * (size_t)slot.psize;
	dfd = openat(st->dfd, "index/data.mdb", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0) {
		rc = errno == ENOENT ? 0 : -errno;
		if (!rc)
			qlog_warn("unclean reboot: %s has no index to roll back", st->dir);
		goto out;
	}
	now = malloc(len);
	if (!now) {
		rc = -ENOMEM;
		goto out;
	}
	if (pread(dfd, now, len, 0) == (ssize_t)len)
		cur_ok = chk_meta_pair(now, slot.psize, &cur);
	if (cur_ok && cur < slot.txnid) {
		/* an index older than its own sync point: not ours to touch */
		qlog_err("unclean reboot: index at txn %" PRIu64 " is older than the sync "
			 "point (txn %" PRIu64 "): left as is",
			 cur, slot.txnid);
		rc = 0;
		goto out;
	}
	if (cur_ok && memcmp(now, slot.pages, len) == 0) {
		qlog_warn("unclean reboot: index already at the last sync, txn %" PRIu64,
			  slot.txnid);
		rc = 0;
		goto out;
	}
	rc = chk_body_pwrite(dfd, slot.pages, len, 0);
	if (!rc && fdatasync(dfd) < 0)
		rc = -errno;
	if (rc) {
		qlog_err("unclean reboot: rolling the index back failed: %s", strerror(-rc));
		goto out;
	}
	if (cur_ok)
		qlog_warn("unclean reboot: index rolled back to the last sync, txn %" PRIu64
			  " (was %" PRIu64 ")",
			  slot.txnid, cur);
	else
		qlog_warn("unclean reboot: index rolled back to the last sync, txn %" PRIu64
			  " (its meta pages were damaged)",
			  slot.txnid);
out:
	if (dfd >= 0)
		close(dfd);
	free(now);
	free(slot.pages);
	return rc;
}

/* Open meta.snap (created on first use) and learn its newest sequence number. */
static int chk_snap_open(struct chk_store *st)
{
	struct chk_slot slot;
	bool created = false;
	int fd, rc;

	fd = openat(st->dfd, CHK_SNAP_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = openat(st->dfd, CHK_SNAP_FILE, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		created = true;
	}
	if (fd < 0)
		return -errno;
	rc = chk_snap_load(fd, &slot);
	if (rc) {
		close(fd);
		return rc;
	}
	free(slot.pages);
	st->snap_seq = slot.valid ? slot.seq : 0;
	st->snap_fd = fd;
	if (created) {
		int ifd = openat(st->dfd, "index", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (ifd < 0)
			return -errno;
		rc = fsync(ifd) < 0 ? -errno : 0;
		close(ifd);
	}
	return rc;
}

int chk_snap_capture(struct chk_store *st, struct chk_sync_job *j)
{
	MDB_envinfo info;
	uint64_t got;
	MDB_stat ms;
	int rc;

	if (st->snap_fd < 0) {
		rc = chk_snap_open(st);
		if (rc) {
			qlog_err("open %s/%s: %s", st->dir, CHK_SNAP_FILE, strerror(-rc));
			return rc;
		}
	}
	rc = mdb_env_info(st->env, &info);
	if (!rc)
		rc = mdb_env_stat(st->env, &ms);
	if (!rc)
		rc = mdb_env_get_fd(st->env, &j->index_fd);
	if (rc) {
		qlog_err("sync point: %s", mdb_strerror(rc));
		return chk_mdb_err(rc);
	}
	if (ms.ms_psize == 0 || ms.ms_psize > CHK_SNAP_PSIZE_MAX)
		return -EINVAL;
	if (!j->pages) {
		j->pages = malloc(2 * (size_t)CHK_SNAP_PSIZE_MAX);
		if (!j->pages)
			return -ENOMEM;
	}
	j->psize = ms.ms_psize;
	j->txnid = (uint64_t)info.me_last_txnid;
	j->seq = st->snap_seq + 1;
	rc = chk_body_pread(j->index_fd, j->pages, 2 * (size_t)j->psize, 0);
	if (rc) {
		qlog_err("sync point: read index meta pages: %s", strerror(-rc));
		return rc;
	}
	if (!chk_meta_pair(j->pages, j->psize, &got) || got != j->txnid) {
		/* the layout is not LMDB 0.9's: restoring these pages would be unsafe */
		qlog_err("index meta pages do not name txn %" PRIu64 ": cannot save a sync point",
			 j->txnid);
		return -EIO;
	}
	/* Pin this snapshot: from now on no page of its tree is reused. */
	if (st->spare) {
		j->pin = st->spare;
		st->spare = NULL;
		rc = mdb_txn_renew(j->pin);
		if (rc) {
			mdb_txn_abort(j->pin);
			j->pin = NULL;
		}
	} else {
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &j->pin);
		if (rc)
			j->pin = NULL;
	}
	if (!rc && mdb_txn_id(j->pin) != j->txnid)
		rc = MDB_BAD_TXN; /* a commit slipped in: cannot happen on the writer */
	if (rc) {
		qlog_err("sync point: pin txn %" PRIu64 ": %s", j->txnid, mdb_strerror(rc));
		chk_snap_drop(st, j);
		return chk_mdb_err(rc);
	}
	return 0;
}

int chk_snap_save(struct chk_store *st, const struct chk_sync_job *j)
{
	size_t len = CHK_SNAP_HDR + 2 * (size_t)j->psize;
	uint8_t *slot;
	int rc;

	slot = calloc(1, len);
	if (!slot)
		return -ENOMEM;
	memcpy(slot + CHK_SNAP_HDR, j->pages, 2 * (size_t)j->psize);
	chk_put_le64(slot, CHK_SNAP_MAGIC);
	slot[8] = CHK_SNAP_VERSION;
	memcpy(slot + 12, &j->psize, 4);
	chk_put_le64(slot + 16, j->seq);
	chk_put_le64(slot + 24, j->txnid);
	chk_put_le64(slot + CHK_SNAP_SUM_OFF, chk_slot_sum(slot, len));
	rc = chk_body_pwrite(st->snap_fd, slot, len, (j->seq & 1) * (uint64_t)CHK_SNAP_STRIDE);
	if (!rc && fdatasync(st->snap_fd) < 0)
		rc = -errno;
	free(slot);
	return rc;
}

void chk_snap_adopt(struct chk_store *st, struct chk_sync_job *j)
{
	/* Only now may the pages of the previous sync point be reused. */
	if (st->pin) {
		mdb_txn_reset(st->pin);
		if (st->spare)
			mdb_txn_abort(st->spare);
		st->spare = st->pin;
	}
	st->pin = j->pin;
	j->pin = NULL;
	st->snap_seq = j->seq;
}

void chk_snap_drop(struct chk_store *st, struct chk_sync_job *j)
{
	if (!j->pin)
		return;
	mdb_txn_reset(j->pin);
	if (st->spare)
		mdb_txn_abort(st->spare);
	st->spare = j->pin;
	j->pin = NULL;
}

void chk_snap_close(struct chk_store *st)
{
	if (st->job.pin)
		mdb_txn_abort(st->job.pin);
	if (st->pin)
		mdb_txn_abort(st->pin);
	if (st->spare)
		mdb_txn_abort(st->spare);
	st->job.pin = st->pin = st->spare = NULL;
	if (st->snap_fd >= 0)
		close(st->snap_fd);
	st->snap_fd = -1;
}
