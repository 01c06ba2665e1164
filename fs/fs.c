// SPDX-License-Identifier: MIT
/*
 * fs.c - opening a volume, formatting one, and the whole-volume calls
 * (getattr, lookup, statfs, sync).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/fs_priv.h"
#include "fs/statahead.h"
#include "fs/quorum_scan.h"
#include "proto/log.h"

int qfs_fs_open_quorum(struct qfs_quorum *q, const struct qfs_fs_opts *opts,
		       struct qfs_fs **out, char *err, size_t errlen)
{
	struct qfs_fs *fs;
	int rc;

	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		qfs_quorum_close(q);
		return -ENOMEM;
	}
	fs->q = q;
	fs->read_only = opts && opts->read_only;
	pthread_mutex_init(&fs->open_lock, NULL);
	pthread_mutex_init(&fs->icache_lock, NULL);
	fs->icache = calloc(QFS_ICACHE_SLOTS, sizeof(*fs->icache)); /* NULL: no cache */
	if (opts && qfs_sa_new(opts->statahead_ms, &fs->sa) < 0)
		fs->sa = NULL; /* no memory: lookups ask the replicas */
	if (opts)
		fs->open_attr_ns = (uint64_t)opts->open_attr_ms * 1000000ull;
	rc = qfs_quorum_super(q, &fs->sb);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the superblock: %s (run mkfs.quorumfs?)",
			 strerror(-rc));
		qfs_fs_close(fs);
		return rc;
	}
	fs->chunk_size = fs->sb.chunk_size;
	*out = fs;
	return 0;
}

int qfs_fs_open(const struct qfs_cluster *cl, const struct qfs_fs_opts *opts,
		struct qfs_fs **out, char *err, size_t errlen)
{
	struct qfs_quorum_opts qo = { .need_volume = true };
	struct qfs_quorum *q;
	int rc;

	if (opts) {
		qo.w = opts->w;
		qo.r = opts->r;
		qo.timeout_ms = opts->timeout_ms;
		qo.degraded_read = opts->degraded_read;
		qo.hinted_handoff = opts->hinted_handoff;
		qo.repair_rate = opts->repair_rate;
		qo.tomb_grace_s = opts->tomb_grace_s;
	}
	rc = qfs_quorum_open(cl, &qo, &q, err, errlen);
	if (rc < 0)
		return rc;
	rc = qfs_fs_open_quorum(q, opts, out, err, errlen);
	if (rc < 0 && !strstr(err, cl->path)) {
		char tmp[512];

		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "%s: %s", cl->path, tmp);
	}
	return rc;
}

void qfs_fs_close(struct qfs_fs *fs)
{
	if (!fs)
		return;
	qfs_file_ra_stop_all(fs);
	qfs_quorum_close(fs->q);
	pthread_mutex_destroy(&fs->open_lock);
	pthread_mutex_destroy(&fs->icache_lock);
	free(fs->icache);
	qfs_sa_free(fs->sa);
	free(fs);
}

struct qfs_quorum *qfs_fs_quorum(struct qfs_fs *fs)
{
	return fs->q;
}

uint32_t qfs_fs_chunk_size(const struct qfs_fs *fs)
{
	return fs->chunk_size;
}

/* Tombstone every entry of the root directory (mkfs --force). */
static int clear_root_entry(void *arg, const struct proto_entry *e)
{
	struct qfs_quorum *q = arg;
	struct proto_meta m = { 0 };

	if (e->meta.flags & PROTO_REC_TOMBSTONE)
		return 0;
	m.ver = qfs_quorum_version(q);
	m.flags = PROTO_REC_TOMBSTONE;
	return qfs_quorum_put(q, &e->key, &m, NULL);
}

/*
 * Every daemon holds the superblock, not only its N ring replicas: a daemon
 * without one reports "no volume" and would count as an emptied store
 * (rebuilding) in every mount. One that cannot take it now stays so until
 * fsck.quorumfs -y refills it.
 */
static void mkfs_seed_super(struct qfs_quorum *q, const struct proto_key *key)
{
	const struct qfs_cluster *cl = qfs_quorum_cluster(q);
	int reps[QFS_MAX_REPLICAS], n = qfs_scan_place(q, key, reps, QFS_MAX_REPLICAS);

	for (int d = 0; d < cl->ndaemons; d++) {
		bool rep = false;
		int rc;

		for (int i = 0; i < n; i++)
			rep = rep || reps[i] == d;
		if (rep)
			continue;
		rc = qfs_quorum_seed_super(q, d, PROTO_PUT_MKFS);
		if (rc)
			qlog_warn("daemon %s did not take the superblock (%s): it counts as "
				  "rebuilding until fsck.quorumfs -y refills it",
				  cl->daemons[d].name, strerror(-rc));
	}
}

int qfs_mkfs(struct qfs_quorum *q, uint32_t chunk_size, bool force, char *err, size_t errlen)
{
	struct proto_super sb = { 0 };
	struct proto_inode root;
	struct proto_meta m = { 0 };
	struct proto_key key;
	struct proto_wr w;
	struct timespec now;
	bool more, fresh;
	int rc;

	if (chunk_size < PROTO_BLOCK_SIZE || chunk_size > PROTO_CHUNK_MAX ||
	    chunk_size % PROTO_BLOCK_SIZE) {
		snprintf(err, errlen, "chunk size %u must be a multiple of %u between %u and %u",
			 chunk_size, PROTO_BLOCK_SIZE, PROTO_BLOCK_SIZE, PROTO_CHUNK_MAX);
		return -EINVAL;
	}
	rc = qfs_quorum_super(q, &sb);
	fresh = rc != 0;
	if (rc == 0 && !force) {
		snprintf(err, errlen, "a volume already exists (chunk size %u); "
			 "use --force to format it again", sb.chunk_size);
		return -EEXIST;
	}
	if (rc == 0) {
		/* Keep the volume id: the daemons are bound to it. */
		rc = qfs_quorum_list(q, PROTO_ROOT_INO, PROTO_KIND_DIRENT, NULL, 0, false, 0,
				     clear_root_entry, q, &more);
		if (rc < 0) {
			snprintf(err, errlen, "cannot clear the old root directory: %s",
				 strerror(rc < 0 ? -rc : EIO));
			return rc;
		}
	} else if (getrandom(sb.volume_id, sizeof(sb.volume_id), 0) !=
		   (ssize_t)sizeof(sb.volume_id)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -EIO;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	sb.format = PROTO_FORMAT_VERSION;
	sb.chunk_size = chunk_size;
	sb.created_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;

	proto_wr_init(&w);
	proto_super_encode(&w, &sb);
	m.ver = qfs_quorum_version(q);
	m.len = (uint32_t)w.len;
	proto_key_super(&key);
	/* A new volume: its daemons take it as mkfs's (PROTO_PUT_MKFS), not as
	 * a refill of an emptied store, so none of them starts rebuilding. */
	rc = w.bad ? -ENOMEM
		   : qfs_quorum_put_flags(q, &key, &m, w.buf, fresh ? PROTO_PUT_MKFS : 0);
	proto_wr_free(&w);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write the superblock: %s", strerror(-rc));
		return rc;
	}
	if (fresh)
		mkfs_seed_super(q, &key);

	memset(&root, 0, sizeof(root));
	root.attr_ver = qfs_quorum_version(q);
	root.mode = S_IFDIR | 0755;
	root.mtime_ver = root.atime_ver = root.size_ver = root.parent_ver = root.attr_ver;
	root.atime_sec = root.mtime_sec = now.tv_sec;
	root.atime_nsec = root.mtime_nsec = (uint32_t)now.tv_nsec;
	root.parent = PROTO_ROOT_INO;
	proto_wr_init(&w);
	proto_inode_encode(&w, &root);
	proto_inode_meta(&root, w.buf, (uint32_t)w.len, &m);
	proto_key_inode(&key, PROTO_ROOT_INO);
	rc = w.bad ? -ENOMEM : qfs_quorum_put(q, &key, &m, w.buf);
	proto_wr_free(&w);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write the root directory: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

int qfs_getattr(struct qfs_fs *fs, uint64_t ino, struct qfs_attr *a)
{
	struct proto_inode inode;
	uint32_t nlink = 0;
	int rc;

	/* The kernel asks right after an open whose read is as fresh (its
	 * attributes were invalidated when the file had changed). */
	if (fs->open_attr_ns && qfs_file_is_open(fs, ino) &&
	    qfs_icache_get(fs, ino, fs->open_attr_ns, &inode, &nlink)) {
		qfs_inode_to_attr(fs, ino, &inode, nlink, a);
		qfs_attr_add_buffered(fs, a);
		return 0;
	}
	rc = qfs_inode_read(fs, ino, &inode, &nlink);
	if (rc < 0)
		return rc;
	qfs_inode_to_attr(fs, ino, &inode, nlink, a);
	qfs_attr_add_buffered(fs, a);
	return 0;
}

struct getattr_many {
	struct qfs_fs *fs;
	const uint64_t *inos;
	struct qfs_attr *attrs;
	int *rcs;
	int n;
	_Atomic int next; /* next index to take */
};

/* Take indexes until none is left: run by the caller and its helpers. */
static void *getattr_worker(void *arg)
{
	struct getattr_many *g = arg;
	int i;

	while ((i = atomic_fetch_add(&g->next, 1)) < g->n)
		g->rcs[i] = qfs_getattr(g->fs, g->inos[i], &g->attrs[i]);
	return NULL;
}

void qfs_getattr_many(struct qfs_fs *fs, const uint64_t *inos, struct qfs_attr *attrs, int *rcs,
		      int n)
{
	struct getattr_many g = { .fs = fs, .inos = inos, .attrs = attrs, .rcs = rcs, .n = n };
	pthread_t th[QFS_GETATTR_PARALLEL - 1];
	int nth = 0;

	atomic_init(&g.next, 0);
	/* Each helper thread keeps one quorum read in flight; the engine thread
	 * overlaps their round trips. Thread creation (tens of microseconds)
	 * is small next to a round trip. */
	while (nth < QFS_GETATTR_PARALLEL - 1 && nth + 1 < n &&
	       pthread_create(&th[nth], NULL, getattr_worker, &g) == 0)
		nth++;
	getattr_worker(&g);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
}

void qfs_attr_add_buffered(struct qfs_fs *fs, struct qfs_attr *a)
{
	struct qfs_open_inode *oi = qfs_open_find(fs, a->ino);

	if (!oi)
		return;
	pthread_mutex_lock(&oi->lock);
	if (oi->size_dirty && oi->size > a->size) {
		a->size = oi->size;
		a->blocks = (a->size + 511) / 512;
	}
	pthread_mutex_unlock(&oi->lock);
	qfs_open_put(fs, oi);
}

int qfs_statfs(struct qfs_fs *fs, struct qfs_statfs *st)
{
	struct qfs_space sp;
	int rc;

	rc = qfs_quorum_space(fs->q, &sp);
	if (rc < 0)
		return rc;
	memset(st, 0, sizeof(*st));
	st->bsize = 4096;
	st->blocks = sp.total / st->bsize;
	st->bfree = sp.free / st->bsize;
	/* No inode table: report plenty, as btrfs does. */
	st->files = sp.records + st->bfree;
	st->ffree = st->bfree;
	st->namemax = PROTO_NAME_MAX;
	return 0;
}

int qfs_sync_all(struct qfs_fs *fs)
{
	return qfs_quorum_sync_all(fs->q);
}
