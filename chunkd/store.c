// SPDX-License-Identifier: MIT
/*
 * store.c - opening and closing the store: the data directory, the LMDB
 * environment, identity, the dirty marker, the orphan sweep, STAT, and the
 * record encoding shared by the other store*.c files.
 *
 * DIR/index is the LMDB environment (DBs "recs", "meta", "digest"; meta.snap, the
 * last sync point in CHK_SYNC_COMMIT), DIR/bodies/xx hold the chunk bodies,
 * DIR/undo is the undo journal, DIR/dirty exists while the store is open and
 * names the kernel boot and the sync mode. A marker found at open means the
 * last run did not close cleanly: the undo journal is applied and orphaned
 * body files are swept. When the machine has rebooted since (a power loss or
 * a crash of the kernel) and that run used CHK_SYNC_COMMIT, the index is
 * first rolled back to its last sync point; when it used CHK_SYNC_NONE (LMDB
 * may be corrupt), the whole store is wiped and starts again with a new
 * store id. See docs/storage.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "chunkd/body.h"
#include "chunkd/store_priv.h"
#include "proto/log.h"

/* 2: chunks of up to CHK_INLINE_MAX bytes may be inline. 3: DB "digest"
 * is kept with every write (store_digest.c), so a release that would write
 * without keeping it must refuse the store. Formats 1 and 2 are upgraded at
 * open (no inline chunk; digests summed once), so older code refuses them. */
#define CHK_FORMAT 3
#define CHK_MARKER "dirty"
#define CHK_BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define CHK_BOOT_ID_MAX 64
/* Test hook: a boot id that replaces the kernel's, to make a reopen look
 * like the first open after a reboot (tests/unit/test_store.c). */
#define CHK_BOOT_ID_ENV "QFS_TEST_BOOT_ID"

/* Keys of the "meta" DB. */
#define CHK_META_ID "store_id"
#define CHK_META_FORMAT "format"
#define CHK_META_CTR "counters"
#define CHK_META_VOLUME "volume_id"
/* Present (one byte, 1) while the store is rebuilding: it gained its volume
 * from a SUPER that was not mkfs's and has not been declared refilled. */
#define CHK_META_REBUILDING "rebuilding"

int chk_mdb_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_TXN_FULL:
	case MDB_READERS_FULL:
		return -EAGAIN;
	default:
		if (rc > 0 && rc < 4096)
			return -rc; /* an errno from the OS */
		return -EIO;
	}
}

int chk_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? 2 * *cap : 16;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

unsigned chk_stripe(const struct proto_key *key)
{
	return (unsigned)(proto_key_token(key) % CHK_STRIPES);
}

int chk_rec_decode(uint8_t kind, const void *buf, size_t len, struct chk_rec *r)
{
	struct proto_rd rd;

	proto_rd_init(&rd, buf, len);
	memset(r, 0, offsetof(struct chk_rec, sums));
	r->val = NULL;
	if (proto_meta_decode(&rd, &r->meta) < 0)
		goto bad;
	if (kind == PROTO_KIND_CHUNK) {
		r->body = proto_get_u64(&rd);
		r->nsums = proto_get_u16(&rd);
		if (rd.bad || r->meta.len > PROTO_CHUNK_MAX ||
		    r->nsums != proto_nblocks(r->meta.len))
			goto bad;
		for (unsigned i = 0; i < r->nsums; i++)
			r->sums[i] = proto_get_u64(&rd);
		if (r->body != 0 && (r->meta.len == 0 || (r->meta.flags & PROTO_REC_TOMBSTONE)))
			goto bad;
		if (chk_rec_inline(r)) {
			if (r->meta.len > CHK_INLINE_MAX)
				goto bad;
			r->val = proto_get_bytes(&rd, r->meta.len);
		}
	} else {
		r->val = proto_get_bytes(&rd, r->meta.len);
		if (r->meta.len == 0)
			r->val = NULL;
	}
	if (rd.bad || rd.left != 0)
		goto bad;
	/* Only an INODE tombstone keeps a value: its registers still merge. */
	if ((r->meta.flags & PROTO_REC_TOMBSTONE) && r->meta.len != 0 &&
	    kind != PROTO_KIND_INODE)
		goto bad;
	return 0;
bad:
	qlog_err("damaged index record of kind %u (%zu bytes)", kind, len);
	return -EIO;
}

void chk_rec_encode(struct proto_wr *w, uint8_t kind, const struct chk_rec *r)
{
	w->len = 0;
	w->bad = false;
	proto_meta_encode(w, &r->meta);
	if (kind == PROTO_KIND_CHUNK) {
		proto_put_u64(w, r->body);
		proto_put_u16(w, r->nsums);
		for (unsigned i = 0; i < r->nsums; i++)
			proto_put_u64(w, r->sums[i]);
		if (chk_rec_inline(r))
			proto_put_bytes(w, r->val, r->meta.len);
	} else if (r->meta.len > 0) {
		proto_put_bytes(w, r->val, r->meta.len);
	}
}

int chk_read_begin(struct chk_store *st, MDB_txn **txn)
{
	int rc;

	if (atomic_load(&st->failed))
		return -EIO;
	pthread_rwlock_rdlock(&st->env_lock);
	rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
	if (rc) {
		pthread_rwlock_unlock(&st->env_lock);
		qlog_warn("read transaction: %s", mdb_strerror(rc));
		return chk_mdb_err(rc);
	}
	return 0;
}

void chk_read_end(struct chk_store *st, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&st->env_lock);
}

uint64_t chk_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t chk_now_ms(void)
{
	return chk_now_us() / 1000;
}

uint64_t chk_index_bytes(struct chk_store *st)
{
	MDB_envinfo info;
	MDB_stat ms;

	if (mdb_env_info(st->env, &info) || mdb_env_stat(st->env, &ms))
		return 0;
	return ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
}

/* ---- the dirty marker ---- */

/* What the marker of the previous run says. */
struct chk_prev {
	bool unclean; /* it did not close cleanly */
	bool reboot;  /* ... and the machine has booted since (or we cannot tell) */
	int mode;     /* its enum chk_sync_mode; CHK_SYNC_NONE when unreadable */
};

/* The marker's word for each mode; "sync" is also what COMMIT-mode runs of
 * earlier releases wrote (every commit synced: LMDB stays whole). */
static const char *const chk_mode_word[] = {
	[CHK_SYNC_COMMIT] = "commit",
	[CHK_SYNC_ALWAYS] = "sync",
	[CHK_SYNC_NONE] = "nosync",
};

static void chk_boot_id(char out[CHK_BOOT_ID_MAX])
{
	const char *fake = getenv(CHK_BOOT_ID_ENV);
	ssize_t n = -1;
	int fd;

	if (fake && *fake) {
		snprintf(out, CHK_BOOT_ID_MAX, "%s", fake);
		out[strcspn(out, "\n")] = '\0';
		return;
	}
	fd = open(CHK_BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, out, CHK_BOOT_ID_MAX - 1);
		close(fd);
	}
	if (n <= 0) {
		strcpy(out, "unknown");
		return;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/* Read the marker of the previous run into *prev (all false when there is none). */
static int chk_marker_check(struct chk_store *st, struct chk_prev *prev)
{
	char buf[2 * CHK_BOOT_ID_MAX], boot[CHK_BOOT_ID_MAX];
	ssize_t n;
	char *nl;
	int fd;

	memset(prev, 0, sizeof(*prev));
	fd = openat(st->dfd, CHK_MARKER, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	prev->unclean = true;
	prev->mode = CHK_SYNC_NONE; /* an unreadable marker may be from an unsynced run */
	chk_boot_id(boot);
	nl = strchr(buf, '\n');
	if (nl) {
		*nl = '\0';
		for (int m = CHK_SYNC_COMMIT; m <= CHK_SYNC_NONE; m++) {
			size_t wl = strlen(chk_mode_word[m]);

			if (strncmp(nl + 1, chk_mode_word[m], wl) == 0 &&
			    strcmp(nl + 1 + wl, "\n") == 0)
				prev->mode = m;
		}
	}
	prev->reboot = !nl || strcmp(buf, boot) != 0 || strcmp(boot, "unknown") == 0;
	return 0;
}

static int chk_sync_dfd(struct chk_store *st)
{
	return fsync(st->dfd) < 0 ? -errno : 0;
}

static int chk_marker_write(struct chk_store *st)
{
	char boot[CHK_BOOT_ID_MAX], buf[2 * CHK_BOOT_ID_MAX];
	int fd, len, rc = 0;

	chk_boot_id(boot);
	len = snprintf(buf, sizeof(buf), "%s\n%s\n", boot, chk_mode_word[st->sync]);
	fd = openat(st->dfd, CHK_MARKER ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = chk_body_pwrite(fd, buf, (size_t)len, 0);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (!rc && renameat(st->dfd, CHK_MARKER ".tmp", st->dfd, CHK_MARKER) < 0)
		rc = -errno;
	if (!rc)
		rc = chk_sync_dfd(st);
	return rc;
}

/* Remove the index and every body: the store starts over with a new id. */
static int chk_wipe(struct chk_store *st)
{
	static const char *const files[] = { "index/data.mdb", "index/lock.mdb",
					     "index/meta.snap", "undo" };
	int64_t n;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (unlinkat(st->dfd, files[i], 0) < 0 && errno != ENOENT)
			return -errno;
	n = chk_body_sweep(st->dfd, NULL, 0);
	if (n < 0)
		return (int)n;
	return chk_sync_dfd(st);
}

/* ---- the environment ---- */

/*
 * Open the LMDB environment and make the state it opened durable: after a
 * kill -9 the unsynced tail of the last run is only in the page cache, and
 * this run's sync point (or, in ALWAYS mode, its synced commits) must not
 * build on pages that never reached the disk. In COMMIT mode that state
 * becomes the first sync point (saved meta pages, pinned) before anything is
 * committed.
 *
 * ALWAYS: every commit fully durable (LMDB's own sync). COMMIT: MDB_NOSYNC,
 * made safe by the sync points of store_snap.c. NONE: MDB_NOSYNC, wiped
 * after an unclean reboot.
 */
static int chk_env_open(struct chk_store *st)
{
	unsigned flags = MDB_NOTLS;
	char *path;
	int rc;

	if (st->sync != CHK_SYNC_ALWAYS)
		flags |= MDB_NOSYNC;
	if (asprintf(&path, "%s/index", st->dir) < 0)
		return -ENOMEM;
	rc = mdb_env_create(&st->env);
	if (rc) {
		free(path);
		return chk_mdb_err(rc);
	}
	mdb_env_set_maxdbs(st->env, 8);
	mdb_env_set_maxreaders(st->env, 512);
	rc = mdb_env_set_mapsize(st->env, st->map_size);
	if (!rc)
		rc = mdb_env_open(st->env, path, flags, 0600);
	free(path);
	if (!rc) {
		mdb_reader_check(st->env, NULL); /* slots left by a killed process */
		rc = mdb_env_sync(st->env, 1);
	}
	if (rc) {
		qlog_err("open index in %s: %s", st->dir, mdb_strerror(rc));
		mdb_env_close(st->env);
		st->env = NULL;
		if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH ||
		    rc == MDB_PANIC)
			return -EIO;
		return chk_mdb_err(rc);
	}
	if (st->sync == CHK_SYNC_COMMIT) {
		rc = chk_sync_point(st);
		if (rc) {
			chk_snap_close(st);
			mdb_env_close(st->env);
			st->env = NULL;
			return rc;
		}
	}
	return 0;
}

/* Open (or create) the named databases. */
static int chk_env_dbs(struct chk_store *st)
{
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		goto fail;
	rc = mdb_dbi_open(txn, "recs", MDB_CREATE, &st->recs);
	if (!rc)
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta);
	/* pending-repair index and confirmed tombstones: older releases ignore them */
	if (!rc)
		rc = mdb_dbi_open(txn, "pending", MDB_CREATE, &st->pending);
	if (!rc)
		rc = mdb_dbi_open(txn, "tombs", MDB_CREATE, &st->tombs);
	/* per-bucket digests (store_digest.c): format 3 */
	if (!rc)
		rc = mdb_dbi_open(txn, "digest", MDB_CREATE, &st->digest);
	if (rc) {
		mdb_txn_abort(txn);
		goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		goto fail;
	return 0;
fail:
	qlog_err("open index databases in %s: %s", st->dir, mdb_strerror(rc));
	if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH ||
	    rc == MDB_PANIC)
		return -EIO;
	return chk_mdb_err(rc);
}

/* Close the environment (and its pin first). */
static void chk_env_close(struct chk_store *st)
{
	chk_snap_close(st);
	if (st->env)
		mdb_env_close(st->env);
	st->env = NULL;
}

int chk_env_reopen(struct chk_store *st)
{
	int rc;

	if (st->reopened) {
		qlog_err("index failed again after a reopen: store disabled");
		atomic_store(&st->failed, true);
		return -EIO;
	}
	st->reopened = true;
	qlog_err("index hit a fatal error: reopening it");
	chk_sync_drain(st); /* the sync thread uses the index's fd */
	pthread_rwlock_wrlock(&st->env_lock);
	chk_env_close(st);
	rc = chk_env_open(st);
	if (!rc) {
		rc = chk_env_dbs(st);
		if (rc)
			chk_env_close(st);
	}
	pthread_rwlock_unlock(&st->env_lock);
	if (rc) {
		qlog_err("reopen index: %s", strerror(-rc));
		atomic_store(&st->failed, true);
		return -EIO;
	}
	return 0;
}

/* ---- identity and counters in "meta" ---- */

static int chk_meta_put(MDB_txn *txn, MDB_dbi dbi, const char *name, const void *p, size_t n)
{
	MDB_val k = { .mv_size = strlen(name), .mv_data = (void *)name };
	MDB_val v = { .mv_size = n, .mv_data = (void *)p };

	return chk_mdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

static int chk_meta_get(MDB_txn *txn, MDB_dbi dbi, const char *name, MDB_val *v)
{
	MDB_val k = { .mv_size = strlen(name), .mv_data = (void *)name };

	return chk_mdb_err(mdb_get(txn, dbi, &k, v));
}

int chk_meta_save(struct chk_store *st, MDB_txn *txn, const struct chk_counters *c,
		  const uint8_t *volume)
{
	struct proto_wr w;
	int rc;

	proto_wr_init(&w);
	proto_put_u64(&w, c->next_id);
	proto_put_u64(&w, c->body_bytes);
	proto_put_u64(&w, c->records);
	proto_put_u64(&w, c->chunks);
	proto_put_u64(&w, c->tombstones);
	proto_put_u64(&w, c->corrupt);
	rc = w.bad ? -ENOMEM : chk_meta_put(txn, st->meta, CHK_META_CTR, w.buf, w.len);
	proto_wr_free(&w);
	if (!rc && volume)
		rc = chk_meta_put(txn, st->meta, CHK_META_VOLUME, volume, PROTO_ID_LEN);
	return rc;
}

int chk_meta_rebuilding_save(struct chk_store *st, MDB_txn *txn, bool on)
{
	static const uint8_t one = 1;
	MDB_val k = { .mv_size = strlen(CHK_META_REBUILDING), .mv_data = CHK_META_REBUILDING };
	int rc;

	if (on)
		return chk_meta_put(txn, st->meta, CHK_META_REBUILDING, &one, 1);
	rc = chk_mdb_err(mdb_del(txn, st->meta, &k, NULL));
	return rc == -ENOENT ? 0 : rc;
}

static int chk_meta_create(struct chk_store *st, MDB_txn *txn)
{
	uint8_t fmt[4] = { CHK_FORMAT, 0, 0, 0 };
	int rc;

	if (getrandom(st->store_id, PROTO_ID_LEN, 0) != PROTO_ID_LEN)
		return -errno;
	memset(&st->ctr, 0, sizeof(st->ctr));
	st->ctr.next_id = 1;
	st->fresh = true;
	rc = chk_meta_put(txn, st->meta, CHK_META_ID, st->store_id, PROTO_ID_LEN);
	if (!rc)
		rc = chk_meta_put(txn, st->meta, CHK_META_FORMAT, fmt, sizeof(fmt));
	if (!rc)
		rc = chk_meta_save(st, txn, &st->ctr, NULL);
	return rc;
}

static int chk_meta_load(struct chk_store *st)
{
	struct proto_rd rd;
	bool upgrade;
	MDB_txn *txn;
	MDB_val v;
	int rc;

	rc = chk_mdb_err(mdb_txn_begin(st->env, NULL, 0, &txn));
	if (rc)
		return rc;
	rc = chk_meta_get(txn, st->meta, CHK_META_ID, &v);
	if (rc == -ENOENT) {
		rc = chk_meta_create(st, txn);
		if (rc)
			goto abort;
		return chk_mdb_err(mdb_txn_commit(txn));
	}
	if (rc)
		goto abort;
	if (v.mv_size != PROTO_ID_LEN)
		goto damaged;
	memcpy(st->store_id, v.mv_data, PROTO_ID_LEN);
	rc = chk_meta_get(txn, st->meta, CHK_META_FORMAT, &v);
	if (rc || v.mv_size != 4 ||
	    ((uint8_t *)v.mv_data)[0] > CHK_FORMAT || ((uint8_t *)v.mv_data)[0] == 0) {
		qlog_err("store in %s has an unknown format", st->dir);
		goto damaged;
	}
	upgrade = ((uint8_t *)v.mv_data)[0] != CHK_FORMAT;
	if (chk_meta_get(txn, st->meta, CHK_META_CTR, &v))
		goto damaged;
	proto_rd_init(&rd, v.mv_data, v.mv_size);
	st->ctr.next_id = proto_get_u64(&rd);
	st->ctr.body_bytes = proto_get_u64(&rd);
	st->ctr.records = proto_get_u64(&rd);
	st->ctr.chunks = proto_get_u64(&rd);
	st->ctr.tombstones = proto_get_u64(&rd);
	st->ctr.corrupt = proto_get_u64(&rd);
	if (rd.bad || rd.left != 0 || st->ctr.next_id == 0)
		goto damaged;
	rc = chk_meta_get(txn, st->meta, CHK_META_VOLUME, &v);
	if (rc == 0) {
		if (v.mv_size != PROTO_ID_LEN)
			goto damaged;
		memcpy(st->volume_id, v.mv_data, PROTO_ID_LEN);
		st->has_volume = true;
	} else if (rc != -ENOENT) {
		goto abort;
	}
	rc = chk_meta_get(txn, st->meta, CHK_META_REBUILDING, &v);
	if (rc == 0) {
		if (v.mv_size != 1 || ((uint8_t *)v.mv_data)[0] != 1)
			goto damaged;
		st->rebuilding = true;
		qlog_warn("store in %s is rebuilding: clients count it in no quorum until "
			  "fsck.quorumfs -y has refilled it", st->dir);
	} else if (rc != -ENOENT) {
		goto abort;
	}
	if (upgrade) {
		uint8_t fmt[4] = { CHK_FORMAT, 0, 0, 0 };

		rc = chk_meta_put(txn, st->meta, CHK_META_FORMAT, fmt, sizeof(fmt));
		if (rc)
			goto abort;
		qlog_info("store in %s upgraded to format %d", st->dir, CHK_FORMAT);
		st->dirty = true;
		return chk_mdb_err(mdb_txn_commit(txn));
	}
	mdb_txn_abort(txn);
	return 0;
damaged:
	qlog_err("damaged store metadata in %s", st->dir);
	rc = -EIO;
abort:
	mdb_txn_abort(txn);
	return rc;
}

static int chk_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Remove body files no record refers to: bodies of a batch that was cut off
 * by a crash, or superseded bodies whose unlink was lost. Reads every chunk
 * record once (open after an unclean stop only).
 */
static int chk_sweep(struct chk_store *st)
{
	uint64_t *ids = NULL, *tmp;
	size_t n = 0, cap = 0;
	uint8_t first = 0x02; /* every CHUNK key starts with it (proto/key.h) */
	MDB_val k = { .mv_size = 1, .mv_data = &first }, v;
	MDB_cursor *cur;
	MDB_txn *txn;
	int64_t removed;
	int rc;

	rc = chk_mdb_err(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return rc;
	rc = chk_mdb_err(mdb_cursor_open(txn, st->recs, &cur));
	if (rc)
		goto out_txn;
	for (int op = MDB_SET_RANGE; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		struct chk_rec r;

		if (((uint8_t *)k.mv_data)[0] != first)
			break;
		if (chk_rec_decode(PROTO_KIND_CHUNK, v.mv_data, v.mv_size, &r) || !r.body)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			tmp = realloc(ids, cap * sizeof(*ids));
			if (!tmp) {
				rc = -ENOMEM;
				goto out_cur;
			}
			ids = tmp;
		}
		ids[n++] = r.body;
	}
	rc = rc == MDB_NOTFOUND ? 0 : chk_mdb_err(rc);
out_cur:
	mdb_cursor_close(cur);
out_txn:
	mdb_txn_abort(txn);
	if (rc) {
		free(ids);
		return rc;
	}
	if (n)
		qsort(ids, n, sizeof(*ids), chk_u64_cmp);
	removed = chk_body_sweep(st->dfd, ids, n);
	free(ids);
	if (removed < 0)
		return (int)removed;
	if (removed)
		qlog_info("removed %" PRId64 " orphaned body files", removed);
	return 0;
}

static int chk_capacity_init(struct chk_store *st, uint64_t capacity)
{
	struct statvfs sv;

	if (fstatvfs(st->dfd, &sv) < 0)
		return -errno;
	st->fs_avail = (int64_t)((uint64_t)sv.f_bavail * sv.f_frsize);
	st->fs_avail_ms = chk_now_ms();
	st->capacity = capacity ? capacity : (uint64_t)sv.f_blocks * sv.f_frsize;
	st->reserve = st->capacity / 100;
	if (st->reserve < CHK_RESERVE_MIN)
		st->reserve = CHK_RESERVE_MIN;
	if (st->reserve > st->capacity / 4)
		st->reserve = st->capacity / 4;
	return 0;
}

static void chk_store_free(struct chk_store *st)
{
	for (unsigned i = 0; i < CHK_STRIPES; i++)
		pthread_rwlock_destroy(&st->stripes[i]);
	pthread_rwlock_destroy(&st->env_lock);
	pthread_mutex_destroy(&st->ctr_lock);
	pthread_mutex_destroy(&st->sync_lock);
	pthread_cond_destroy(&st->sync_cond);
	free(st->job.pages);
	free(st->job.fds);
	free(st->job.freed);
	proto_wr_free(&st->b.val);
	proto_wr_free(&st->b.merged);
	proto_wr_free(&st->b.jrec);
	free(st->b.touched);
	free(st->b.undo);
	free(st->b.doomed);
	free(st->b.dg);
	free(st->dg_mem);
	free(st->dg_dirty);
	pthread_mutex_destroy(&st->dg_lock);
	free(st->fdc);
	free(st->b.pbuf);
	free(st->deferred);
	free(st->layout);
	chk_undo_close(st);
	if (st->snap_fd >= 0)
		close(st->snap_fd);
	if (st->dfd >= 0)
		close(st->dfd);
	free(st->dir);
	free(st);
}

int chk_store_open(const struct chk_store_opts *opts, struct chk_store **out)
{
	pthread_rwlockattr_t attr;
	struct chk_store *st;
	struct chk_prev prev;
	int rc;

	*out = NULL;
	if (!opts || !opts->dir || opts->sync > CHK_SYNC_NONE)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->dfd = st->jfd = st->snap_fd = -1;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->env_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	for (unsigned i = 0; i < CHK_STRIPES; i++)
		pthread_rwlock_init(&st->stripes[i], NULL);
	pthread_mutex_init(&st->ctr_lock, NULL);
	pthread_mutex_init(&st->dg_lock, NULL);
	pthread_mutex_init(&st->sync_lock, NULL);
	pthread_cond_init(&st->sync_cond, NULL);
	proto_wr_init(&st->b.val);
	proto_wr_init(&st->b.merged);
	proto_wr_init(&st->b.jrec);
	st->sync = opts->sync;
	st->map_size = opts->map_size ? opts->map_size : CHK_MAP_SIZE_DEFAULT;
	clock_gettime(CLOCK_MONOTONIC, &st->opened);
	st->dir = strdup(opts->dir);
	if (!st->dir) {
		rc = -ENOMEM;
		goto fail;
	}
	if (mkdir(st->dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		goto fail_log;
	}
	st->dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dfd < 0) {
		rc = -errno;
		goto fail_log;
	}
	rc = chk_marker_check(st, &prev);
	if (rc)
		goto fail_log;
	if (prev.unclean && prev.reboot && prev.mode == CHK_SYNC_NONE) {
		qlog_warn("store in %s was not synced before a reboot: wiping it", st->dir);
		rc = chk_wipe(st);
	} else if (prev.unclean && prev.reboot && prev.mode == CHK_SYNC_COMMIT) {
		qlog_warn("store in %s was not closed cleanly before a reboot", st->dir);
		rc = chk_snap_restore(st);
	} else if (prev.unclean) {
		qlog_warn("store in %s was not closed cleanly", st->dir);
	}
	if (rc)
		goto fail_log;
	if (mkdirat(st->dfd, "index", 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		goto fail_log;
	}
	rc = chk_body_mkdirs(st->dfd);
	if (!rc)
		rc = chk_sync_dfd(st);
	/* after a kill -9 the last run's unsynced bodies are only in the page
	 * cache: make them durable before a sync point names them */
	if (!rc && prev.unclean && syncfs(st->dfd) < 0)
		rc = -errno;
	if (rc)
		goto fail_log;
	/*
	 * The index opens (and its state becomes durable, the first sync point
	 * in COMMIT mode) before the marker names this run: until then the old
	 * marker, if any, still describes what is on disk. Nothing is committed
	 * before the marker is written.
	 */
	rc = chk_env_open(st);
	if (rc)
		goto fail_log;
	rc = chk_marker_write(st);
	if (rc)
		goto fail_env;
	rc = chk_env_dbs(st);
	if (!rc)
		rc = chk_meta_load(st);
	if (!rc)
		rc = chk_digest_open(st);
	if (!rc)
		rc = chk_alive_load(st);
	if (!rc)
		rc = chk_layout_load(st);
	if (!rc)
		rc = chk_undo_open(st);
	if (!rc && (prev.unclean || st->fresh))
		rc = chk_sweep(st);
	if (!rc)
		rc = chk_capacity_init(st, opts->capacity);
	/* A new store's identity (or an upgrade) is durable before anyone hears of it. */
	if (st->fresh)
		st->dirty = true;
	if (!rc && st->dirty)
		rc = chk_store_sync(st);
	if (!rc && st->sync == CHK_SYNC_COMMIT)
		rc = chk_sync_init(st);
	if (rc)
		goto fail_marker;
	if (st->fresh)
		qlog_info("created a new store in %s", st->dir);
	*out = st;
	return 0;

fail_marker:
	if (!prev.unclean) /* else keep it: the next open must still know */
		unlinkat(st->dfd, CHK_MARKER, 0);
fail_env:
	chk_env_close(st);
fail_log:
	qlog_err("open store %s: %s", opts->dir, strerror(-rc));
fail:
	chk_store_free(st);
	return rc;
}

void chk_store_close(struct chk_store *st)
{
	bool clean;

	if (!st)
		return;
	if (st->b.active)
		chk_batch_abort(st);
	clean = !atomic_load(&st->failed);
	/* the digests in step on disk, so that the next open need not sum them */
	if (clean && chk_digest_close(st))
		clean = false;
	/* COMMIT: a last sync point (bodies, index, meta.snap, deferred frees) */
	if (clean && st->sync != CHK_SYNC_NONE && chk_store_sync(st))
		clean = false;
	if (clean && mdb_env_sync(st->env, 1))
		clean = false;
	/* NONE never fsyncs its bodies: one syncfs makes the clean state whole. */
	if (clean && st->sync == CHK_SYNC_NONE && syncfs(st->dfd) < 0)
		clean = false;
	chk_sync_fini(st);
	chk_fdc_close_all(st);
	chk_env_close(st);
	if (st->n_syncs)
		qlog_info("store in %s: %" PRIu64 " sync points, %" PRIu64 " ms each on average "
			  "(longest %" PRIu64 " ms), writer waited %" PRIu64 " ms for them",
			  st->dir, st->n_syncs, st->sync_us / 1000 / st->n_syncs,
			  st->sync_us_max / 1000, st->sync_wait_us / 1000);
	if (clean) {
		unlinkat(st->dfd, CHK_MARKER, 0);
		chk_sync_dfd(st);
	} else {
		qlog_err("store in %s closed after a failure: marked unclean", st->dir);
	}
	chk_store_free(st);
}

void chk_store_identity(struct chk_store *st, uint8_t store_id[PROTO_ID_LEN],
			uint8_t volume_id[PROTO_ID_LEN], uint32_t *flags)
{
	uint32_t f = st->fresh ? PROTO_STORE_FRESH : 0;

	memcpy(store_id, st->store_id, PROTO_ID_LEN);
	pthread_mutex_lock(&st->ctr_lock);
	if (st->has_volume)
		memcpy(volume_id, st->volume_id, PROTO_ID_LEN);
	else
		memset(volume_id, 0, PROTO_ID_LEN);
	if (!st->has_volume)
		f |= PROTO_STORE_NOVOLUME;
	if (st->rebuilding)
		f |= PROTO_STORE_REBUILDING;
	pthread_mutex_unlock(&st->ctr_lock);
	*flags = f;
}

int chk_store_stat(struct chk_store *st, struct proto_stat_rep *rep)
{
	struct chk_counters c;
	struct timespec now;
	struct statvfs sv;

	memset(rep, 0, sizeof(*rep));
	if (fstatvfs(st->dfd, &sv) < 0)
		return -errno;
	pthread_mutex_lock(&st->ctr_lock);
	c = st->ctr;
	pthread_mutex_unlock(&st->ctr_lock);
	pthread_rwlock_rdlock(&st->env_lock);
	rep->used = c.body_bytes + chk_index_bytes(st);
	pthread_rwlock_unlock(&st->env_lock);
	clock_gettime(CLOCK_MONOTONIC, &now);
	rep->capacity = st->capacity;
	rep->fs_free = (uint64_t)sv.f_bavail * sv.f_frsize;
	rep->records = c.records;
	rep->chunks = c.chunks;
	rep->tombstones = c.tombstones;
	rep->corrupt = c.corrupt;
	rep->uptime_s = (uint64_t)(now.tv_sec - st->opened.tv_sec);
	rep->fs_id = (uint64_t)sv.f_fsid;
	snprintf(rep->software, sizeof(rep->software), "%s", QFS_VERSION);
	return 0;
}

int chk_key_txn(struct chk_store *st, const struct proto_key *key, uint8_t kb[PROTO_KEY_MAX],
		MDB_val *k, MDB_txn **txn)
{
	k->mv_data = kb;
	k->mv_size = proto_key_encode(key, kb);
	return chk_mdb_err(mdb_txn_begin(st->env, st->b.txn, 0, txn));
}

int chk_meta_set(struct chk_store *st, const char *name, const void *val, size_t len)
{
	MDB_txn *txn;
	int rc;

	rc = chk_mdb_err(mdb_txn_begin(st->env, st->b.txn, 0, &txn));
	if (rc)
		return rc;
	rc = chk_meta_put(txn, st->meta, name, val, len);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return chk_mdb_err(mdb_txn_commit(txn));
}
