// SPDX-License-Identifier: MIT
/*
 * inode.c - reading and writing inode records and turning them into attributes.
 *
 * An inode is read together with its LINK records in one ordered LIST of its
 * partition (INODE sorts first, then LINKs), so stat costs one quorum round
 * trip and nlink is counted, never stored. Writes send only the registers
 * that change (the others carry the zero version, which every stored
 * register beats), so concurrent updates of different registers never undo
 * each other.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "fs/call.h"
#include "fs/fs_priv.h"
#include "proto/log.h"

#define INODE_PAGE 64 /* entries per LIST page while counting links */

struct inode_scan {
	struct proto_inode *inode;
	bool found;
	bool deleted;
	uint32_t nlink;
	bool past_links;			/* reached XATTR/DIRENT: stop */
	int xattrs;				/* -1 unknown, 0 none, 1 some */
	uint8_t last[PROTO_KEY_MAX];		/* resume point */
	size_t last_len;
	int err;
};

static int inode_scan_entry(void *arg, const struct proto_entry *e)
{
	struct inode_scan *s = arg;

	if (e->key.kind != PROTO_KIND_INODE && e->key.kind != PROTO_KIND_LINK) {
		/* XATTR sorts right after LINK: the first record past the links
		 * tells whether the inode has extended attributes at all. */
		if (e->key.kind == PROTO_KIND_XATTR)
			s->xattrs = (e->meta.flags & PROTO_REC_TOMBSTONE) ? -1 : 1;
		else
			s->xattrs = 0;
		s->past_links = true;
		return 1;
	}
	s->last_len = proto_key_encode(&e->key, s->last);
	if (e->key.kind == PROTO_KIND_INODE) {
		if (e->meta.flags & PROTO_REC_TOMBSTONE) {
			s->deleted = true;
			return 0;
		}
		if (proto_inode_decode(e->val, e->meta.len, s->inode) < 0) {
			s->err = -EIO;
			return 1;
		}
		s->found = true;
		s->deleted = proto_inode_is_deleted(s->inode);
		return 0;
	}
	if (!(e->meta.flags & PROTO_REC_TOMBSTONE))
		s->nlink++;
	return 0;
}

int qfs_inode_read(struct qfs_fs *fs, uint64_t ino, struct proto_inode *inode,
		   uint32_t *nlink)
{
	struct inode_scan s = { .inode = inode, .xattrs = -1 };
	struct proto_key key;
	bool more = true;
	int rc;

	memset(inode, 0, sizeof(*inode));
	proto_key_inode(&key, ino);
	s.last_len = proto_key_encode(&key, s.last);
	rc = qfs_quorum_list(fs->q, ino, 0, s.last, s.last_len, false, INODE_PAGE,
			     inode_scan_entry, &s, &more);
	/* Files with many hard links: keep counting page by page. */
	while (rc == 0 && more && !s.past_links && nlink)
		rc = qfs_quorum_list(fs->q, ino, 0, s.last, s.last_len, true, INODE_PAGE,
				     inode_scan_entry, &s, &more);
	if (rc < 0)
		return rc;
	if (s.err)
		return s.err;
	if (rc == 0 && !more && !s.past_links)
		s.xattrs = 0; /* the partition ended with the links */
	if (!s.found || s.deleted) {
		qfs_icache_drop(fs, ino);
		return -ENOENT;
	}
	if (nlink) {
		*nlink = s.nlink;
		qfs_icache_put(fs, ino, inode, s.nlink, s.xattrs);
	}
	return 0;
}

/* ---- the inode cache ---- */

static struct qfs_icache_ent *icache_slot(struct qfs_fs *fs, uint64_t ino)
{
	return &fs->icache[(ino * 0x9e3779b97f4a7c15ULL >> 40) % QFS_ICACHE_SLOTS];
}

void qfs_icache_put(struct qfs_fs *fs, uint64_t ino, const struct proto_inode *inode,
		    uint32_t nlink, int xattrs)
{
	struct qfs_icache_ent *e;

	if (!fs->icache)
		return;
	pthread_mutex_lock(&fs->icache_lock);
	e = icache_slot(fs, ino);
	e->ino = ino;
	e->nlink = nlink;
	e->xattrs = (int8_t)xattrs;
	e->at_ns = qfs_now_ns();
	e->inode = *inode;
	pthread_mutex_unlock(&fs->icache_lock);
}

bool qfs_icache_get(struct qfs_fs *fs, uint64_t ino, uint64_t max_age_ns,
		    struct proto_inode *inode, uint32_t *nlink)
{
	struct qfs_icache_ent *e;
	bool hit = false;

	if (!fs->icache)
		return false;
	pthread_mutex_lock(&fs->icache_lock);
	e = icache_slot(fs, ino);
	if (e->ino == ino && qfs_now_ns() - e->at_ns < max_age_ns) {
		*inode = e->inode;
		*nlink = e->nlink;
		hit = true;
	}
	pthread_mutex_unlock(&fs->icache_lock);
	return hit;
}

int qfs_icache_xattrs(struct qfs_fs *fs, uint64_t ino)
{
	struct qfs_icache_ent *e;
	int x = -1;

	if (!fs->icache)
		return -1;
	pthread_mutex_lock(&fs->icache_lock);
	e = icache_slot(fs, ino);
	if (e->ino == ino && qfs_now_ns() - e->at_ns < QFS_ICACHE_TTL_NS)
		x = e->xattrs;
	pthread_mutex_unlock(&fs->icache_lock);
	return x;
}

void qfs_icache_drop(struct qfs_fs *fs, uint64_t ino)
{
	struct qfs_icache_ent *e;

	if (!fs->icache)
		return;
	pthread_mutex_lock(&fs->icache_lock);
	e = icache_slot(fs, ino);
	if (e->ino == ino)
		e->ino = 0;
	pthread_mutex_unlock(&fs->icache_lock);
}

int qfs_inode_write(struct qfs_fs *fs, uint64_t ino, const struct proto_inode *inode)
{
	if (fs->read_only)
		return -EROFS;
	return qfs_quorum_put_inode(fs->q, ino, inode);
}

int qfs_put_simple(struct qfs_fs *fs, const struct proto_key *key, bool tombstone,
		   const void *val, uint32_t len)
{
	struct proto_meta m = { 0 };

	if (fs->read_only)
		return -EROFS;
	m.ver = qfs_quorum_version(fs->q);
	if (tombstone) {
		m.flags = PROTO_REC_TOMBSTONE;
		len = 0;
		val = NULL;
	}
	m.len = len;
	return qfs_quorum_put(fs->q, key, &m, val);
}

int qfs_inode_touch_dir(struct qfs_fs *fs, uint64_t dir)
{
	struct qfs_batch b;

	qfs_batch_init(&b);
	qfs_batch_add_touch(fs, &b, dir);
	return qfs_batch_run(fs, &b);
}

/* ---- batches ---- */

void qfs_batch_init(struct qfs_batch *b)
{
	b->n = 0;
	b->err = 0;
}

/* Next free slot with its value buffer reset, or NULL (and b->err). */
static int batch_slot(struct qfs_batch *b)
{
	if (b->n == QFS_PUT_MANY_MAX) {
		b->err = -E2BIG; /* a bug: batches are small and fixed */
		return -1;
	}
	proto_wr_init(&b->vals[b->n]);
	memset(&b->metas[b->n], 0, sizeof(b->metas[b->n]));
	return b->n++;
}

void qfs_batch_add(struct qfs_fs *fs, struct qfs_batch *b, const struct proto_key *key,
		   bool tombstone, const void *val, uint32_t len)
{
	int i = batch_slot(b);

	if (i < 0)
		return;
	b->keys[i] = *key;
	b->metas[i].ver = qfs_quorum_version(fs->q);
	if (tombstone)
		b->metas[i].flags = PROTO_REC_TOMBSTONE;
	else if (len)
		proto_put_bytes(&b->vals[i], val, len);
	b->metas[i].len = (uint32_t)b->vals[i].len;
}

void qfs_batch_add_inode(struct qfs_batch *b, uint64_t ino, const struct proto_inode *inode)
{
	int i = batch_slot(b);

	if (i < 0)
		return;
	proto_key_inode(&b->keys[i], ino);
	proto_inode_encode(&b->vals[i], inode);
	proto_inode_meta(inode, b->vals[i].buf, (uint32_t)b->vals[i].len, &b->metas[i]);
}

void qfs_batch_add_touch(struct qfs_fs *fs, struct qfs_batch *b, uint64_t dir)
{
	struct proto_inode inode;
	struct timespec now;

	memset(&inode, 0, sizeof(inode));
	clock_gettime(CLOCK_REALTIME, &now);
	inode.mtime_ver = qfs_quorum_version(fs->q);
	inode.mtime_sec = now.tv_sec;
	inode.mtime_nsec = (uint32_t)now.tv_nsec;
	qfs_batch_add_inode(b, dir, &inode);
}

int qfs_batch_run(struct qfs_fs *fs, struct qfs_batch *b)
{
	int rc = b->err;

	for (int i = 0; i < b->n; i++) {
		if (b->vals[i].bad && !rc)
			rc = -ENOMEM;
		b->puts[i].key = &b->keys[i];
		b->puts[i].meta = &b->metas[i];
		b->puts[i].val = b->vals[i].buf;
	}
	if (!rc && fs->read_only)
		rc = -EROFS;
	if (!rc && b->n)
		rc = qfs_quorum_put_many(fs->q, b->puts, b->n);
	for (int i = 0; i < b->n; i++)
		proto_wr_free(&b->vals[i]);
	b->n = 0;
	return rc;
}

void qfs_inode_to_attr(struct qfs_fs *fs, uint64_t ino, const struct proto_inode *inode,
		       uint32_t nlink, struct qfs_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = inode->mode;
	a->uid = inode->uid;
	a->gid = inode->gid;
	a->rdev = inode->rdev;
	/* Directory link counts are not maintained: 1 tells find(1) so. */
	a->nlink = (inode->mode & 0170000) == 0040000 ? 1 : nlink;
	a->size = inode->size;
	if ((inode->mode & 0170000) == 0120000)
		a->size = inode->target_len;
	a->blocks = (a->size + 511) / 512;
	a->atime.tv_sec = inode->atime_sec;
	a->atime.tv_nsec = inode->atime_nsec;
	a->mtime.tv_sec = inode->mtime_sec;
	a->mtime.tv_nsec = inode->mtime_nsec;
	a->ctime = qfs_ms_to_ts(proto_inode_ctime_ms(inode));
	(void)fs;
}

uint32_t qfs_inode_valid_len(const struct qfs_fs *fs, const struct proto_inode *inode,
			     uint64_t index, uint64_t chunk_epoch)
{
	uint64_t start = index * fs->chunk_size;
	uint64_t end = proto_trunc_valid_end(inode->trunc, inode->ntrunc, inode->epoch,
					     chunk_epoch);

	/* No truncation point after the chunk's epoch survives: end 0, trust nothing. */
	if (end <= start)
		return 0;
	return end - start >= fs->chunk_size ? fs->chunk_size : (uint32_t)(end - start);
}
