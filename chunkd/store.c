// SPDX-License-Identifier: MIT
/*
 * store.c - opening and closing the store: the data directory, the LMDB
 * environment, identity, the dirty marker, the orphan sweep, STAT, and the
 * record encoding shared by the other store*.c files.
 *
 * DIR/index is the LMDB environment (DBs "recs" and "meta"), DIR/bodies/xx
 * hold the chunk bodies, DIR/dirty exists while the store is open and names
 * the kernel boot and the sync mode. A marker found at open means the last
 * run did not close cleanly: orphaned body files are swept, and when that run
 * used CHK_SYNC_NONE under another boot (a power loss or reboot may have
 * corrupted LMDB), the whole store is wiped and starts again with a new store
 * id. See docs/storage.md.
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

#define CHK_FORMAT 1
#define CHK_MARKER "dirty"
#define CHK_BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define CHK_BOOT_ID_MAX 64

/* Keys of the "meta" DB. */
#define CHK_META_ID "store_id"
#define CHK_META_FORMAT "format"
#define CHK_META_CTR "counters"
#define CHK_META_VOLUME "volume_id"

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
		if ((r->meta.len > 0) != (r->body != 0))
			goto bad;
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

uint64_t chk_index_bytes(struct chk_store *st)
{
	MDB_envinfo info;
	MDB_stat ms;

	if (mdb_env_info(st->env, &info) || mdb_env_stat(st->env, &ms))
		return 0;
	return ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
}

/* ---- the dirty marker ---- */

static void chk_boot_id(char out[CHK_BOOT_ID_MAX])
{
	ssize_t n = -1;
	int fd;

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

/*
 * Read the marker of the previous run. *unclean is set when one exists;
 * *wipe when that run was unsynced (NONE) and the machine has rebooted since.
 */
static int chk_marker_check(struct chk_store *st, bool *unclean, bool *wipe)
{
	char buf[2 * CHK_BOOT_ID_MAX], boot[CHK_BOOT_ID_MAX];
	ssize_t n;
	char *nl;
	int fd;

	*unclean = *wipe = false;
	fd = openat(st->dfd, CHK_MARKER, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	*unclean = true;
	chk_boot_id(boot);
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	/* An unreadable marker may be from an unsynced run: treat it as one. */
	if (!nl || strcmp(nl + 1, "nosync\n") == 0)
		*wipe = strcmp(buf, boot) != 0 || strcmp(boot, "unknown") == 0;
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
	len = snprintf(buf, sizeof(buf), "%s\n%s\n", boot,
		       st->sync == CHK_SYNC_NONE ? "nosync" : "sync");
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
	static const char *const files[] = { "index/data.mdb", "index/lock.mdb" };
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

static int chk_env_open(struct chk_store *st)
{
	/*
	 * ALWAYS: every commit fully durable. COMMIT: one fdatasync per batch
	 * and no separate meta sync (LMDB keeps its integrity; a power loss may
	 * undo the last batch, which SYNC and the timer bound). NONE: no sync.
	 */
	unsigned flags = MDB_NOTLS;

	if (st->sync == CHK_SYNC_NONE)
		flags |= MDB_NOSYNC;
	else if (st->sync == CHK_SYNC_COMMIT)
		flags |= MDB_NOMETASYNC;
	char *path;
	MDB_txn *txn;
	int rc;

	if (asprintf(&path, "%s/index", st->dir) < 0)
		return -ENOMEM;
	rc = mdb_env_create(&st->env);
	if (rc) {
		free(path);
		return chk_mdb_err(rc);
	}
	mdb_env_set_maxdbs(st->env, 4);
	mdb_env_set_maxreaders(st->env, 512);
	rc = mdb_env_set_mapsize(st->env, st->map_size);
	if (!rc)
		rc = mdb_env_open(st->env, path, flags, 0600);
	free(path);
	if (rc)
		goto fail;
	mdb_reader_check(st->env, NULL); /* slots left by a killed process */
	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		goto fail;
	rc = mdb_dbi_open(txn, "recs", MDB_CREATE, &st->recs);
	if (!rc)
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta);
	if (rc) {
		mdb_txn_abort(txn);
		goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		goto fail;
	return 0;
fail:
	qlog_err("open index in %s: %s", st->dir, mdb_strerror(rc));
	mdb_env_close(st->env);
	st->env = NULL;
	if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH ||
	    rc == MDB_PANIC)
		return -EIO;
	return chk_mdb_err(rc);
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
	pthread_rwlock_wrlock(&st->env_lock);
	mdb_env_close(st->env);
	st->env = NULL;
	rc = chk_env_open(st);
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
	if (rc || v.mv_size != 4 || ((uint8_t *)v.mv_data)[0] != CHK_FORMAT) {
		qlog_err("store in %s has an unknown format", st->dir);
		goto damaged;
	}
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
	proto_wr_free(&st->b.val);
	proto_wr_free(&st->b.merged);
	free(st->b.touched);
	free(st->b.undo);
	free(st->b.doomed);
	free(st->unsynced);
	if (st->dfd >= 0)
		close(st->dfd);
	free(st->dir);
	free(st);
}

int chk_store_open(const struct chk_store_opts *opts, struct chk_store **out)
{
	pthread_rwlockattr_t attr;
	struct chk_store *st;
	bool unclean = false, wipe = false;
	int rc;

	*out = NULL;
	if (!opts || !opts->dir || opts->sync > CHK_SYNC_NONE)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->dfd = -1;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->env_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	for (unsigned i = 0; i < CHK_STRIPES; i++)
		pthread_rwlock_init(&st->stripes[i], NULL);
	pthread_mutex_init(&st->ctr_lock, NULL);
	proto_wr_init(&st->b.val);
	proto_wr_init(&st->b.merged);
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
	rc = chk_marker_check(st, &unclean, &wipe);
	if (rc)
		goto fail_log;
	if (wipe) {
		qlog_warn("store in %s was not synced before a reboot: wiping it", st->dir);
		rc = chk_wipe(st);
		if (rc)
			goto fail_log;
	} else if (unclean) {
		qlog_warn("store in %s was not closed cleanly", st->dir);
	}
	if (mkdirat(st->dfd, "index", 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		goto fail_log;
	}
	rc = chk_body_mkdirs(st->dfd);
	if (!rc)
		rc = chk_sync_dfd(st);
	if (!rc)
		rc = chk_marker_write(st);
	if (rc)
		goto fail_log;
	rc = chk_env_open(st);
	if (rc)
		goto fail_marker;
	rc = chk_meta_load(st);
	if (!rc && (unclean || st->fresh))
		rc = chk_sweep(st);
	if (!rc)
		rc = chk_capacity_init(st, opts->capacity);
	if (rc)
		goto fail_env;
	if (st->fresh)
		qlog_info("created a new store in %s", st->dir);
	*out = st;
	return 0;

fail_env:
	mdb_env_close(st->env);
fail_marker:
	if (!unclean) /* else keep it: the next open must still know */
		unlinkat(st->dfd, CHK_MARKER, 0);
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
	if (clean && st->sync != CHK_SYNC_NONE && chk_store_sync(st))
		clean = false;
	if (clean && mdb_env_sync(st->env, 1))
		clean = false;
	/* NONE never fsyncs its bodies: one syncfs makes the clean state whole. */
	if (clean && st->sync == CHK_SYNC_NONE && syncfs(st->dfd) < 0)
		clean = false;
	for (size_t i = 0; i < st->nunsynced; i++)
		close(st->unsynced[i].fd);
	mdb_env_close(st->env);
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
