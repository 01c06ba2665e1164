// SPDX-License-Identifier: MIT
/*
 * dir.c - the namespace: lookup, create, mkdir, symlink, link, unlink,
 * rmdir, rename and readdir over DIRENT, LINK and INODE records.
 *
 * Write order keeps every crash recoverable by fsck (DESIGN.md): a new name
 * is written after the inode and LINK it points to; a removed name is
 * tombstoned before its LINK; rename writes the new entry before it
 * tombstones the old one. Inode numbers of mkdir and non-exclusive create
 * derive from (parent, name, version of the entry they replace), so two
 * clients racing on `mkdir -p a/b` converge on one inode.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#include "fs/call.h"
#include "fs/fs_priv.h"
#include "fs/statahead.h"
#include "proto/log.h"

#define DIR_PAGE 256

/* Read the entry @name of @dir. 0 when live; -ENOENT when absent or deleted
 * (*ver then holds the tombstone's version, or zero). */
static int dirent_read(struct qfs_fs *fs, uint64_t dir, const char *name,
		       struct proto_dirent *d, struct proto_version *ver)
{
	struct proto_key key;
	struct qfs_rec rec;
	int rc;

	memset(ver, 0, sizeof(*ver));
	rc = proto_key_dirent(&key, dir, name, strlen(name));
	if (rc < 0)
		return rc;
	rc = qfs_quorum_get(fs->q, &key, 0, PROTO_GET_WHOLE, &rec);
	if (rc < 0)
		return rc;
	*ver = rec.meta.ver;
	if (rec.meta.flags & PROTO_REC_TOMBSTONE)
		rc = -ENOENT;
	else if (proto_dirent_decode(rec.val, rec.val_len, d) < 0)
		rc = -EIO;
	qfs_rec_free(&rec);
	return rc;
}

static struct qfs_lookup_memo *memo_slot(struct qfs_fs *fs, uint64_t parent, const char *name)
{
	uint64_t h = proto_name_hash63(name, strlen(name)) ^ (parent * 0x9e3779b97f4a7c15ULL);

	return &fs->memo[h % QFS_MEMO_SLOTS];
}

/* Remember what a lookup found for @name in @parent: the entry @d when
 * @live, else the tombstone version @replaced (zero when never written). */
static void memo_put(struct qfs_fs *fs, uint64_t parent, const char *name, bool live,
		    const struct proto_dirent *d, const struct proto_version *replaced)
{
	struct qfs_lookup_memo *n;

	pthread_mutex_lock(&fs->icache_lock);
	n = memo_slot(fs, parent, name);
	n->parent = parent;
	n->at_ns = qfs_now_ns();
	n->live = live;
	n->ino = live ? d->ino : 0;
	n->type = live ? d->type : 0;
	n->replaced = *replaced;
	snprintf(n->name, sizeof(n->name), "%s", name);
	pthread_mutex_unlock(&fs->icache_lock);
}

/* Take a fresh answer for @name of the kind @live, if a lookup just gave
 * one: its tombstone version (absent) or its entry (present). Any answer
 * for the name is forgotten. */
static bool memo_take(struct qfs_fs *fs, uint64_t parent, const char *name, bool live,
		     struct proto_dirent *d, struct proto_version *replaced)
{
	struct qfs_lookup_memo *n;
	bool hit = false;

	pthread_mutex_lock(&fs->icache_lock);
	n = memo_slot(fs, parent, name);
	if (n->parent == parent && n->live == live && !strcmp(n->name, name) &&
	    qfs_now_ns() - n->at_ns < QFS_MEMO_TTL_NS) {
		if (live) {
			memset(d, 0, sizeof(*d));
			d->ino = n->ino;
			d->type = n->type;
		} else {
			*replaced = n->replaced;
		}
		hit = true;
	}
	if (n->parent == parent && !strcmp(n->name, name))
		n->parent = 0;
	pthread_mutex_unlock(&fs->icache_lock);
	return hit;
}

/* Any namespace change of @name in @parent by this client: forget what a
 * lookup said about it. */
static void memo_forget(struct qfs_fs *fs, uint64_t parent, const char *name)
{
	struct proto_dirent d;

	memo_take(fs, parent, name, false, &d, &(struct proto_version){ 0 });
}

static void batch_dirent(struct qfs_fs *fs, struct qfs_batch *b, uint64_t dir,
			 const char *name, uint64_t ino, uint32_t mode)
{
	struct proto_dirent d = { .ino = ino, .type = (uint8_t)IFTODT(mode) };
	struct proto_key key;
	struct proto_wr w;

	if (proto_key_dirent(&key, dir, name, strlen(name)) < 0) {
		b->err = -EINVAL;
		return;
	}
	memo_forget(fs, dir, name); /* the name exists now */
	proto_wr_init(&w);
	proto_dirent_encode(&w, &d);
	if (w.bad)
		b->err = -ENOMEM;
	else
		qfs_batch_add(fs, b, &key, false, w.buf, (uint32_t)w.len);
	proto_wr_free(&w);
}

static void batch_dirent_remove(struct qfs_fs *fs, struct qfs_batch *b, uint64_t dir,
				const char *name)
{
	struct proto_key key;

	memo_forget(fs, dir, name); /* the name is going */
	if (proto_key_dirent(&key, dir, name, strlen(name)) < 0)
		b->err = -EINVAL;
	else
		qfs_batch_add(fs, b, &key, true, NULL, 0);
}

static void batch_link(struct qfs_fs *fs, struct qfs_batch *b, uint64_t ino, uint64_t parent,
		       const char *name, bool tombstone)
{
	struct proto_key key;

	if (proto_key_link(&key, ino, parent, name, strlen(name)) < 0)
		b->err = -EINVAL;
	else
		qfs_batch_add(fs, b, &key, tombstone, NULL, 0);
}

/* Inode register "parent", for fsck's cycle detection. */
static void batch_parent(struct qfs_fs *fs, struct qfs_batch *b, uint64_t ino, uint64_t parent)
{
	struct proto_inode inode;

	memset(&inode, 0, sizeof(inode));
	inode.parent_ver = qfs_quorum_version(fs->q);
	inode.parent = parent;
	qfs_batch_add_inode(b, ino, &inode);
}

/* Inode number for a new name: random for exclusive creates, else derived. */
static uint64_t new_ino(uint64_t parent, const char *name, const struct proto_version *replaced,
			bool random)
{
	uint8_t buf[8 + 16 + PROTO_NAME_MAX];
	size_t len = strlen(name);
	uint64_t ino;

	if (random) {
		if (getrandom(&ino, sizeof(ino), 0) != (ssize_t)sizeof(ino))
			ino = XXH3_64bits_withSeed(name, len, (uint64_t)time(NULL) ^ parent);
	} else {
		proto_be64_put(buf, parent);
		proto_be64_put(buf + 8, replaced->hlc);
		proto_be64_put(buf + 16, replaced->writer);
		memcpy(buf + 24, name, len);
		ino = XXH3_64bits(buf, 24 + len);
	}
	if (ino <= PROTO_ROOT_INO)
		ino += 2;
	return ino;
}

int qfs_lookup(struct qfs_fs *fs, uint64_t parent, const char *name, struct qfs_attr *a)
{
	struct proto_version ver;
	struct proto_dirent d;
	int rc;

	rc = proto_name_check(name, strlen(name));
	if (rc < 0)
		return rc;
	if (qfs_sa_lookup(fs, parent, name, a))
		return 0;
	rc = dirent_read(fs, parent, name, &d, &ver);
	if (rc == 0 || rc == -ENOENT)
		memo_put(fs, parent, name, rc == 0, &d, &ver);
	if (rc < 0)
		return rc;
	rc = qfs_getattr(fs, d.ino, a);
	if (rc == 0)
		qfs_sa_missed(fs, parent);
	return rc;
}

/*
 * Shared by mknod, create, mkdir and symlink. Returns 0 with the new inode
 * in *created (when not NULL), 1 when a regular file of that name existed
 * and !excl (its attributes in @a), or -errno.
 */
static int create_node(struct qfs_fs *fs, uint64_t parent, const char *name, uint32_t mode,
		       uint32_t rdev, const char *target, bool excl, const struct qfs_cred *c,
		       struct qfs_attr *a, struct proto_inode *created)
{
	struct proto_version replaced;
	struct proto_dirent d;
	struct proto_inode inode;
	struct qfs_batch b;
	struct timespec now;
	uint64_t ino;
	int rc;

	if (fs->read_only)
		return -EROFS;
	rc = proto_name_check(name, strlen(name));
	if (rc < 0)
		return rc;
	/* The kernel looked the name up just before: trust that answer for a
	 * moment rather than ask again (a racing creator on another client is
	 * the cross-client race docs/consistency.md already describes). */
	rc = memo_take(fs, parent, name, false, &d, &replaced)
		     ? -ENOENT
		     : dirent_read(fs, parent, name, &d, &replaced);
	if (rc == 0) {
		/* O_CREAT without O_EXCL opens an existing file. */
		if (excl || !S_ISREG(mode))
			return -EEXIST;
		rc = qfs_getattr(fs, d.ino, a);
		return rc < 0 ? rc : 1;
	}
	if (rc != -ENOENT)
		return rc;

	ino = new_ino(parent, name, &replaced, excl && S_ISREG(mode));
	clock_gettime(CLOCK_REALTIME, &now);
	memset(&inode, 0, sizeof(inode));
	inode.attr_ver = qfs_quorum_version(fs->q);
	inode.mtime_ver = inode.atime_ver = inode.size_ver = inode.parent_ver = inode.attr_ver;
	inode.mode = mode;
	inode.uid = c->uid;
	inode.gid = c->gid;
	inode.rdev = rdev;
	inode.atime_sec = inode.mtime_sec = now.tv_sec;
	inode.atime_nsec = inode.mtime_nsec = (uint32_t)now.tv_nsec;
	inode.parent = parent;
	if (target) {
		inode.target_ver = inode.attr_ver;
		inode.target_len = (uint16_t)strlen(target);
		memcpy(inode.target, target, inode.target_len + 1);
	}
	/* The inode and its LINK first, then the name that points at them. */
	qfs_batch_init(&b);
	qfs_batch_add_inode(&b, ino, &inode);
	batch_link(fs, &b, ino, parent, name, false);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	batch_dirent(fs, &b, parent, name, ino, mode);
	qfs_batch_add_touch(fs, &b, parent);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	qfs_inode_to_attr(fs, ino, &inode, 1, a);
	qfs_icache_put(fs, ino, &inode, 1, 0); /* new: no xattrs */
	if (created)
		*created = inode;
	return 0;
}

int qfs_mknod(struct qfs_fs *fs, uint64_t parent, const char *name, uint32_t mode,
	      uint32_t rdev, bool excl, const struct qfs_cred *c, struct qfs_attr *a)
{
	if (S_ISDIR(mode) || S_ISLNK(mode))
		return -EINVAL;
	int rc = create_node(fs, parent, name, mode, rdev, NULL, excl, c, a, NULL);

	return rc > 0 ? 0 : rc;
}

int qfs_create(struct qfs_fs *fs, uint64_t parent, const char *name, uint32_t mode, bool excl,
	       unsigned flags, const struct qfs_cred *c, struct qfs_attr *a,
	       struct qfs_file **out)
{
	struct proto_inode inode;
	bool changed;
	int rc;

	rc = create_node(fs, parent, name, S_IFREG | (mode & 07777), 0, NULL, excl, c, a,
			 &inode);
	if (rc < 0)
		return rc;
	if (rc > 0) /* it existed: a normal open */
		return qfs_file_open(fs, a->ino, flags, out, &changed);
	return qfs_file_open_new(fs, a->ino, &inode, flags, out);
}

int qfs_mkdir(struct qfs_fs *fs, uint64_t parent, const char *name, uint32_t mode,
	      const struct qfs_cred *c, struct qfs_attr *a)
{
	return create_node(fs, parent, name, S_IFDIR | (mode & 07777), 0, NULL, false, c, a,
			   NULL);
}

int qfs_symlink(struct qfs_fs *fs, uint64_t parent, const char *name, const char *target,
		const struct qfs_cred *c, struct qfs_attr *a)
{
	size_t len = strlen(target);

	if (len == 0)
		return -ENOENT;
	if (len > PROTO_TARGET_MAX)
		return -ENAMETOOLONG;
	return create_node(fs, parent, name, S_IFLNK | 0777, 0, target, true, c, a, NULL);
}

int qfs_readlink(struct qfs_fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct proto_inode inode;
	int rc;

	rc = qfs_inode_read(fs, ino, &inode, NULL);
	if (rc < 0)
		return rc;
	if (!S_ISLNK(inode.mode))
		return -EINVAL;
	if (size <= inode.target_len)
		return -ENAMETOOLONG;
	memcpy(buf, inode.target, inode.target_len);
	buf[inode.target_len] = '\0';
	return inode.target_len;
}

int qfs_link(struct qfs_fs *fs, uint64_t ino, uint64_t newparent, const char *newname,
	     struct qfs_attr *a)
{
	struct proto_version ver;
	struct proto_dirent d;
	struct proto_inode inode;
	struct qfs_batch b;
	uint32_t nlink;
	int rc;

	if (fs->read_only)
		return -EROFS;
	rc = proto_name_check(newname, strlen(newname));
	if (rc < 0)
		return rc;
	rc = qfs_inode_read(fs, ino, &inode, &nlink);
	if (rc < 0)
		return rc;
	if (S_ISDIR(inode.mode))
		return -EPERM;
	rc = dirent_read(fs, newparent, newname, &d, &ver);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	qfs_batch_init(&b);
	batch_link(fs, &b, ino, newparent, newname, false);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	batch_dirent(fs, &b, newparent, newname, ino, inode.mode);
	qfs_batch_add_touch(fs, &b, newparent);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	qfs_inode_to_attr(fs, ino, &inode, nlink + 1, a);
	qfs_attr_add_buffered(fs, a);
	qfs_icache_drop(fs, ino);
	return 0;
}

/* Tombstone one chunk or xattr record found while deleting an inode. */
static int delete_xattr_entry(void *arg, const struct proto_entry *e)
{
	struct qfs_fs *fs = arg;

	if (e->meta.flags & PROTO_REC_TOMBSTONE)
		return 0;
	return qfs_put_simple(fs, &e->key, true, NULL, 0);
}

/*
 * Free chunks [@from, @nchunks) of a deleted inode: tombstones in batches
 * that are in flight together. Best effort: a chunk that cannot be
 * tombstoned now is garbage for fsck to collect, not a reason to fail the
 * unlink whose name is already gone. Returns how many could not be freed.
 */
static uint64_t free_chunks(struct qfs_fs *fs, uint64_t ino, uint64_t from, uint64_t nchunks)
{
	struct qfs_batch b;
	struct proto_key key;
	uint64_t failed = 0;

	qfs_batch_init(&b);
	for (uint64_t k = from; k < nchunks; k++) {
		proto_key_chunk(&key, ino, k);
		qfs_batch_add(fs, &b, &key, true, NULL, 0);
		if (b.n == QFS_PUT_MANY_MAX || k + 1 == nchunks) {
			int n = b.n;

			if (qfs_batch_run(fs, &b) < 0)
				failed += (uint64_t)n; /* some of them, at most */
		}
	}
	if (failed)
		qlog_warn("inode %016llx deleted; up to %llu of its %llu chunks are left for fsck",
			  (unsigned long long)ino, (unsigned long long)failed,
			  (unsigned long long)nchunks);
	return failed;
}

/*
 * Delete inode @ino as last read (@inode, @xattrs as qfs_icache_xattrs
 * says: -1 unknown, 0 none): its deletion register and the tombstones of its
 * first chunks go out together in one round trip (a small file's only
 * one); if that batch fails, the register is sent again alone, since only
 * it decides the outcome. Its xattrs are looked for only when it may have
 * some.
 */
static int delete_known(struct qfs_fs *fs, uint64_t ino, const struct proto_inode *inode,
			int xattrs)
{
	uint64_t nchunks = (inode->size + fs->chunk_size - 1) / fs->chunk_size;
	uint64_t along = nchunks < QFS_PUT_MANY_MAX - 1 ? nchunks : QFS_PUT_MANY_MAX - 1;
	struct proto_inode del;
	struct proto_key key;
	struct qfs_batch b;
	bool more;
	int rc;

	memset(&del, 0, sizeof(del));
	del.del_ver = qfs_quorum_version(fs->q);
	qfs_batch_init(&b);
	qfs_batch_add_inode(&b, ino, &del);
	for (uint64_t k = 0; k < along; k++) {
		proto_key_chunk(&key, ino, k);
		qfs_batch_add(fs, &b, &key, true, NULL, 0);
	}
	rc = qfs_batch_run(fs, &b);
	if (rc < 0 && along > 0) {
		along = 0; /* free them below, best effort */
		qfs_batch_add_inode(&b, ino, &del);
		rc = qfs_batch_run(fs, &b);
	}
	qfs_icache_drop(fs, ino);
	if (rc < 0)
		return rc;
	/* Chunks of older epochs past EOF are left to fsck's collection. */
	free_chunks(fs, ino, along, nchunks);
	if (xattrs != 0 && qfs_quorum_list(fs->q, ino, PROTO_KIND_XATTR, NULL, 0, false, 0,
					   delete_xattr_entry, fs, &more) < 0)
		qlog_warn("inode %016llx deleted; its xattrs are left for fsck",
			  (unsigned long long)ino);
	return 0;
}

int qfs_delete_inode(struct qfs_fs *fs, uint64_t ino)
{
	struct proto_inode inode;
	uint32_t nlink;
	int rc;

	rc = qfs_inode_read(fs, ino, &inode, &nlink);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	return delete_known(fs, ino, &inode, qfs_icache_xattrs(fs, ino));
}

/*
 * @ino lost a link: read it once, and when no link is left delete it now,
 * or at its last close if this client has it open. *last (may be NULL)
 * tells whether that was its last link.
 */
static int drop_link(struct qfs_fs *fs, uint64_t ino, bool *last)
{
	struct proto_inode inode;
	uint32_t nlink = 0;
	int rc;

	if (last)
		*last = false;
	qfs_icache_drop(fs, ino);
	rc = qfs_inode_read(fs, ino, &inode, &nlink);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (nlink > 0 && !S_ISDIR(inode.mode))
		return 0;
	if (last)
		*last = true;
	if (qfs_file_is_open(fs, ino)) {
		qfs_file_mark_unlinked(fs, ino);
		return 0;
	}
	return delete_known(fs, ino, &inode, qfs_icache_xattrs(fs, ino));
}

int qfs_unlink(struct qfs_fs *fs, uint64_t parent, const char *name, bool *last,
	       uint64_t *ino_out)
{
	struct proto_version ver;
	struct proto_dirent d;
	struct qfs_batch b;
	int rc;

	if (fs->read_only)
		return -EROFS;
	*last = false;
	/* The kernel looked the name up just before: trust that answer for a
	 * moment, as create does. */
	rc = memo_take(fs, parent, name, true, &d, &ver) ? 0
							 : dirent_read(fs, parent, name, &d, &ver);
	if (rc < 0)
		return rc;
	if (d.type == DT_DIR)
		return -EISDIR;
	*ino_out = d.ino;
	/* The name goes first, its LINK after: a crash leaves an orphan, never
	 * a name pointing at nothing. */
	qfs_batch_init(&b);
	batch_dirent_remove(fs, &b, parent, name);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	batch_link(fs, &b, d.ino, parent, name, true);
	qfs_batch_add_touch(fs, &b, parent);
	rc = qfs_batch_run(fs, &b);
	qfs_icache_drop(fs, d.ino);
	if (rc < 0)
		return rc;
	return drop_link(fs, d.ino, last);
}

static int find_live(void *arg, const struct proto_entry *e)
{
	(void)arg;
	return (e->meta.flags & PROTO_REC_TOMBSTONE) ? 0 : 1;
}

/* 0 when directory @ino has no live entry, -ENOTEMPTY, or -errno. */
static int dir_empty(struct qfs_fs *fs, uint64_t ino)
{
	bool more;
	int rc;

	rc = qfs_quorum_list(fs->q, ino, PROTO_KIND_DIRENT, NULL, 0, false, 0, find_live, NULL,
			     &more);
	if (rc == 1)
		return -ENOTEMPTY;
	return rc;
}

int qfs_rmdir(struct qfs_fs *fs, uint64_t parent, const char *name)
{
	struct proto_version ver;
	struct proto_dirent d;
	struct qfs_batch b;
	int rc;

	if (fs->read_only)
		return -EROFS;
	if (!strcmp(name, "."))
		return -EINVAL;
	if (!strcmp(name, ".."))
		return -ENOTEMPTY;
	rc = dirent_read(fs, parent, name, &d, &ver);
	if (rc < 0)
		return rc;
	if (d.type != DT_DIR)
		return -ENOTDIR;
	rc = dir_empty(fs, d.ino);
	if (rc < 0)
		return rc;
	qfs_batch_init(&b);
	batch_dirent_remove(fs, &b, parent, name);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	batch_link(fs, &b, d.ino, parent, name, true);
	qfs_batch_add_touch(fs, &b, parent);
	rc = qfs_batch_run(fs, &b);
	qfs_icache_drop(fs, d.ino);
	return rc < 0 ? rc : qfs_delete_inode(fs, d.ino);
}

/* -EINVAL when directory @dir is @newparent or one of its ancestors. */
static int check_not_ancestor(struct qfs_fs *fs, uint64_t dir, uint64_t newparent)
{
	struct proto_inode inode;
	uint64_t cur = newparent;

	for (int depth = 0; depth < 4096; depth++) {
		if (cur == dir)
			return -EINVAL;
		if (cur == PROTO_ROOT_INO)
			return 0;
		if (qfs_inode_read(fs, cur, &inode, NULL) < 0)
			return 0; /* a vanished ancestor: fsck's business */
		cur = inode.parent;
	}
	return -ELOOP;
}

static int rename_exchange(struct qfs_fs *fs, uint64_t parent, const char *name,
			   const struct proto_dirent *src, uint64_t newparent, const char *newname,
			   const struct proto_dirent *dst)
{
	uint32_t smode = (uint32_t)DTTOIF(src->type), dmode = (uint32_t)DTTOIF(dst->type);
	struct qfs_batch b;
	int rc;

	if (src->type == DT_DIR && parent != newparent) {
		rc = check_not_ancestor(fs, src->ino, newparent);
		if (rc < 0)
			return rc;
	}
	if (dst->type == DT_DIR && parent != newparent) {
		rc = check_not_ancestor(fs, dst->ino, parent);
		if (rc < 0)
			return rc;
	}
	/* New links, then the swapped names, then the old links go. */
	qfs_batch_init(&b);
	batch_link(fs, &b, src->ino, newparent, newname, false);
	batch_link(fs, &b, dst->ino, parent, name, false);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	batch_dirent(fs, &b, newparent, newname, src->ino, smode);
	batch_dirent(fs, &b, parent, name, dst->ino, dmode);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	batch_link(fs, &b, src->ino, parent, name, true);
	batch_link(fs, &b, dst->ino, newparent, newname, true);
	if (src->type == DT_DIR)
		batch_parent(fs, &b, src->ino, newparent);
	if (dst->type == DT_DIR)
		batch_parent(fs, &b, dst->ino, parent);
	qfs_batch_add_touch(fs, &b, parent);
	if (newparent != parent)
		qfs_batch_add_touch(fs, &b, newparent);
	return qfs_batch_run(fs, &b);
}

int qfs_rename(struct qfs_fs *fs, uint64_t parent, const char *name, uint64_t newparent,
	       const char *newname, unsigned flags, uint64_t *replaced_ino)
{
	struct proto_version ver;
	struct proto_dirent src, dst;
	struct qfs_batch b;
	bool have_dst;
	int rc;

	*replaced_ino = 0;
	if (fs->read_only)
		return -EROFS;
	if ((flags & QFS_RENAME_NOREPLACE) && (flags & QFS_RENAME_EXCHANGE))
		return -EINVAL;
	rc = proto_name_check(newname, strlen(newname));
	if (rc < 0)
		return rc;
	rc = dirent_read(fs, parent, name, &src, &ver);
	if (rc < 0)
		return rc;
	rc = dirent_read(fs, newparent, newname, &dst, &ver);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	have_dst = rc == 0;

	if (flags & QFS_RENAME_EXCHANGE) {
		if (!have_dst)
			return -ENOENT;
		return rename_exchange(fs, parent, name, &src, newparent, newname, &dst);
	}
	if (have_dst) {
		if (flags & QFS_RENAME_NOREPLACE)
			return -EEXIST;
		if (dst.ino == src.ino)
			return 0; /* hard links to one inode: POSIX says do nothing */
		if (dst.type == DT_DIR && src.type != DT_DIR)
			return -EISDIR;
		if (dst.type != DT_DIR && src.type == DT_DIR)
			return -ENOTDIR;
		if (dst.type == DT_DIR) {
			rc = dir_empty(fs, dst.ino);
			if (rc < 0)
				return rc;
		}
	}
	if (src.type == DT_DIR && parent != newparent) {
		rc = check_not_ancestor(fs, src.ino, newparent);
		if (rc < 0)
			return rc;
	}

	/* New name first, old name last: a crash leaves two names, never none. */
	qfs_batch_init(&b);
	batch_link(fs, &b, src.ino, newparent, newname, false);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	batch_dirent(fs, &b, newparent, newname, src.ino, (uint32_t)DTTOIF(src.type));
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	batch_dirent_remove(fs, &b, parent, name);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0)
		return rc;
	batch_link(fs, &b, src.ino, parent, name, true);
	if (src.type == DT_DIR && parent != newparent)
		batch_parent(fs, &b, src.ino, newparent);
	qfs_batch_add_touch(fs, &b, parent);
	if (newparent != parent)
		qfs_batch_add_touch(fs, &b, newparent);
	if (have_dst)
		batch_link(fs, &b, dst.ino, newparent, newname, true);
	rc = qfs_batch_run(fs, &b);
	if (rc < 0 || !have_dst)
		return rc;

	/* The replaced inode lost a link. */
	rc = drop_link(fs, dst.ino, NULL);
	if (rc == 0)
		*replaced_ino = dst.ino;
	return rc;
}

/* ---- readdir ---- */

/*
 * Offsets: 0 start, 1 after ".", 2 after "..", and for entries their 63-bit
 * name hash (at least 3), so an offset stays valid whatever else changes in
 * the directory. Two names with one hash would share an offset; with 63 bits
 * that needs billions of entries, and then a resumed listing may skip one.
 */
#define DIR_OFF_FIRST 3

struct readdir_walk {
	qfs_dirent_fn fn;
	void *arg;
	bool stopped;
	uint8_t last[PROTO_KEY_MAX];
	size_t last_len;
};

static int readdir_entry(void *arg, const struct proto_entry *e)
{
	struct readdir_walk *rw = arg;
	struct proto_dirent d;
	struct qfs_dirent de;

	if (e->key.kind != PROTO_KIND_DIRENT)
		return 0;
	rw->last_len = proto_key_encode(&e->key, rw->last);
	if (e->meta.flags & PROTO_REC_TOMBSTONE)
		return 0;
	if (proto_dirent_decode(e->val, e->meta.len, &d) < 0)
		return 0; /* a damaged entry: fsck reports it */
	de.name = e->key.name;
	de.ino = d.ino;
	de.type = d.type;
	de.off = (int64_t)(e->key.sub < DIR_OFF_FIRST ? DIR_OFF_FIRST : e->key.sub);
	if (rw->fn(rw->arg, &de)) {
		rw->stopped = true;
		return 1;
	}
	return 0;
}

size_t qfs_dirent_start_key(uint64_t dir, uint64_t hash, uint8_t *buf)
{
	buf[0] = 0x01;
	proto_be64_put(buf + 1, dir);
	buf[9] = PROTO_KIND_DIRENT;
	proto_be64_put(buf + 10, hash);
	return 1 + 8 + 1 + 8;
}

int qfs_readdir(struct qfs_fs *fs, uint64_t ino, int64_t off, qfs_dirent_fn fn, void *arg)
{
	struct readdir_walk rw = { .fn = fn, .arg = arg };
	struct qfs_dirent dot = { .type = DT_DIR };
	struct proto_inode inode;
	bool more = true, after = false;
	int rc;

	if (off < 0)
		return -EINVAL;
	if (off < 2) {
		rc = qfs_inode_read(fs, ino, &inode, NULL);
		if (rc < 0)
			return rc;
		if (!S_ISDIR(inode.mode))
			return -ENOTDIR;
		if (off == 0) {
			dot.name = ".";
			dot.ino = ino;
			dot.off = 1;
			if (fn(arg, &dot))
				return 0;
		}
		dot.name = "..";
		dot.ino = inode.parent ? inode.parent : ino;
		dot.off = 2;
		if (fn(arg, &dot))
			return 0;
		off = 2;
	}
	/* Start at the first entry whose hash is above the offset. */
	rw.last_len = qfs_dirent_start_key(ino, off < DIR_OFF_FIRST ? 0 : (uint64_t)off + 1,
					   rw.last);

	while (more && !rw.stopped) {
		rc = qfs_quorum_list(fs->q, ino, PROTO_KIND_DIRENT, rw.last, rw.last_len, after,
				     DIR_PAGE, readdir_entry, &rw, &more);
		if (rc < 0)
			return rc;
		after = true;
	}
	return 0;
}
