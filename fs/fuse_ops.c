// SPDX-License-Identifier: MIT
/*
 * fuse_ops.c - FUSE low-level callbacks over the filesystem library.
 *
 * Every callback replies exactly once: fuse_reply_err(req, -rc) on failure.
 * The library is stateless per inode outside open files, so lookup counts
 * need no bookkeeping here and forget only replies. FUSE threads call the
 * library synchronously; the engine thread does the network I/O meanwhile.
 * Locks (getlk/setlk/flock) are not implemented on purpose: the kernel then
 * keeps POSIX and BSD locks locally, which is what the design promises.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fuse_ops.h"
#include "proto/log.h"

static struct fsc_mount *fsc_mount(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct qfs_file *fsc_file(struct fuse_file_info *fi)
{
	return (struct qfs_file *)(uintptr_t)fi->fh;
}

static void fsc_cred(fuse_req_t req, struct qfs_cred *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	c->uid = ctx->uid;
	c->gid = ctx->gid;
	c->umask = ctx->umask;
}

static void fsc_stat(const struct fsc_mount *m, const struct qfs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = m->ino32 ? (ino_t)((a->ino ^ (a->ino >> 32)) & 0xffffffffu) : a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blksize = 65536;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

static void fsc_reply_entry(fuse_req_t req, const struct qfs_attr *a)
{
	struct fsc_mount *m = fsc_mount(req);
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = a->ino;
	e.attr_timeout = m->attr_timeout;
	e.entry_timeout = m->entry_timeout;
	fsc_stat(m, a, &e.attr);
	fuse_reply_entry(req, &e);
}

static void fsc_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fsc_mount *m = userdata;

	conn->max_write = 1024 * 1024;
	conn->max_readahead = 1024 * 1024;
	if (conn->max_background < 64)
		conn->max_background = 64;
	conn->congestion_threshold = conn->max_background * 3 / 4;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* We clear setuid/setgid on write, truncate and chown ourselves, so the
	 * kernel need not read security.capability (a round trip) every write. */
	if (conn->capable & FUSE_CAP_HANDLE_KILLPRIV)
		conn->want |= FUSE_CAP_HANDLE_KILLPRIV;
	if (m->writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void fsc_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsc_mount *m = fsc_mount(req);
	struct qfs_attr a;
	int rc;

	rc = qfs_lookup(m->fs, parent, name, &a);
	if (rc == -ENOENT && m->negative_timeout > 0) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = m->negative_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fsc_reply_entry(req, &a);
}

static void fsc_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void fsc_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

static void fsc_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsc_mount *m = fsc_mount(req);
	struct qfs_attr a;
	struct stat st;
	int rc;

	(void)fi;
	rc = qfs_getattr(m->fs, ino, &a);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fsc_stat(m, &a, &st);
	fuse_reply_attr(req, &st, m->attr_timeout);
}

static void fsc_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	struct fsc_mount *m = fsc_mount(req);
	struct qfs_setattr s = { 0 };
	struct qfs_attr a;
	struct stat st;
	int rc;

	if (to_set & FUSE_SET_ATTR_MODE) {
		s.mask |= QFS_SET_MODE;
		s.mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		s.mask |= QFS_SET_UID;
		s.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		s.mask |= QFS_SET_GID;
		s.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		s.mask |= QFS_SET_SIZE;
		s.size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		s.mask |= QFS_SET_ATIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME) {
		s.mask |= QFS_SET_ATIME;
		s.atime = attr->st_atim;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		s.mask |= QFS_SET_MTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME) {
		s.mask |= QFS_SET_MTIME;
		s.mtime = attr->st_mtim;
	}
	rc = qfs_setattr(m->fs, ino, &s, fi ? fsc_file(fi) : NULL, &a);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fsc_stat(m, &a, &st);
	fuse_reply_attr(req, &st, m->attr_timeout);
}

static void fsc_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PROTO_TARGET_MAX + 1];
	int rc;

	rc = qfs_readlink(fsc_mount(req)->fs, ino, buf, sizeof(buf));
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, buf);
}

static void fsc_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      dev_t rdev)
{
	struct qfs_cred c;
	struct qfs_attr a;
	int rc;

	fsc_cred(req, &c);
	rc = qfs_mknod(fsc_mount(req)->fs, parent, name, mode, (uint32_t)rdev, true, &c, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fsc_reply_entry(req, &a);
}

static void fsc_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct qfs_cred c;
	struct qfs_attr a;
	int rc;

	fsc_cred(req, &c);
	rc = qfs_mkdir(fsc_mount(req)->fs, parent, name, mode, &c, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fsc_reply_entry(req, &a);
}

static void fsc_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct qfs_cred c;
	struct qfs_attr a;
	int rc;

	fsc_cred(req, &c);
	rc = qfs_symlink(fsc_mount(req)->fs, parent, name, link, &c, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fsc_reply_entry(req, &a);
}

static void fsc_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct qfs_attr a;
	int rc;

	rc = qfs_link(fsc_mount(req)->fs, ino, newparent, newname, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fsc_reply_entry(req, &a);
}

static void fsc_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	uint64_t ino = 0;
	bool last;
	int rc;

	rc = qfs_unlink(fsc_mount(req)->fs, parent, name, &last, &ino);
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fsc_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int rc = qfs_rmdir(fsc_mount(req)->fs, parent, name);

	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fsc_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	unsigned qflags = 0;
	uint64_t replaced;
	int rc;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (flags & RENAME_NOREPLACE)
		qflags |= QFS_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		qflags |= QFS_RENAME_EXCHANGE;
	rc = qfs_rename(fsc_mount(req)->fs, parent, name, newparent, newname, qflags, &replaced);
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static unsigned fsc_open_flags(int flags)
{
	unsigned q = 0;

	if (flags & O_APPEND)
		q |= QFS_O_APPEND;
	if (flags & O_DIRECT)
		q |= QFS_O_DIRECT;
	if (flags & O_TRUNC)
		q |= QFS_O_TRUNC;
	if ((flags & O_ACCMODE) != O_RDONLY)
		q |= QFS_O_WRITE;
	return q;
}

static void fsc_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsc_mount *m = fsc_mount(req);
	struct qfs_file *f;
	bool changed;
	int rc;

	rc = qfs_file_open(m->fs, ino, fsc_open_flags(fi->flags), &f, &changed);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)f;
	/* Close-to-open: keep the page cache only if nobody changed the file,
	 * and forget the kernel's cached size when somebody did. An offset of
	 * -1 invalidates attributes only: it touches no page and waits on no
	 * writeback, so it cannot deadlock inside a handler. */
	fi->keep_cache = !changed;
	if (changed && m->se)
		fuse_lowlevel_notify_inval_inode(m->se, ino, -1, 0);
	if (fuse_reply_open(req, fi) == -ENOENT)
		qfs_file_release(f); /* the opener was interrupted */
}

static void fsc_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	struct fsc_mount *m = fsc_mount(req);
	struct fuse_entry_param e;
	struct qfs_file *f;
	struct qfs_cred c;
	struct qfs_attr a;
	int rc;

	fsc_cred(req, &c);
	rc = qfs_create(m->fs, parent, name, mode, (fi->flags & O_EXCL) != 0,
			fsc_open_flags(fi->flags), &c, &a, &f);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (fi->flags & O_TRUNC)
		a.size = 0;
	fi->fh = (uintptr_t)f;
	memset(&e, 0, sizeof(e));
	e.ino = a.ino;
	e.attr_timeout = m->attr_timeout;
	e.entry_timeout = m->entry_timeout;
	fsc_stat(m, &a, &e.attr);
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		qfs_file_release(f);
}

static void fsc_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	ssize_t n;
	char *buf;

	(void)ino;
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = qfs_file_read(fsc_file(fi), buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void fsc_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	ssize_t n;

	(void)ino;
	n = qfs_file_write(fsc_file(fi), buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void fsc_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int rc = qfs_file_flush(fsc_file(fi));

	(void)ino;
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fsc_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	qfs_file_release(fsc_file(fi));
	fuse_reply_err(req, 0);
}

static void fsc_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int rc = qfs_file_fsync(fsc_file(fi), datasync != 0);

	(void)ino;
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fsc_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs_attr a;
	int rc;

	rc = qfs_getattr(fsc_mount(req)->fs, ino, &a);
	if (rc == 0 && !S_ISDIR(a.mode))
		rc = -ENOTDIR;
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

struct fsc_dirbuf {
	fuse_req_t req;
	struct fsc_mount *m;
	char *buf;
	size_t size, used;
};

static int fsc_dir_add(void *arg, const struct qfs_dirent *d)
{
	struct fsc_dirbuf *db = arg;
	struct stat st;
	size_t len;

	memset(&st, 0, sizeof(st));
	st.st_ino = d->ino;
	st.st_mode = (mode_t)d->type << 12;
	len = fuse_add_direntry(db->req, db->buf + db->used, db->size - db->used, d->name, &st,
				d->off);
	if (len > db->size - db->used)
		return 1;
	db->used += len;
	return 0;
}

/*
 * readdirplus, in two steps so the entries' attributes are read in
 * parallel: collect the entries that may fit, stat them all at once, then
 * fill the buffer in order. Entries that do not fit come again at the next
 * call, which resumes after the last one added.
 */
#define FSC_PLUS_BATCH 64

struct fsc_plus_ent {
	char name[PROTO_NAME_MAX + 1];
	uint64_t ino;
	uint32_t type;
	int64_t off;
};

struct fsc_plus_collect {
	struct fsc_plus_ent *ents;
	int n, max;
};

static int fsc_plus_collect(void *arg, const struct qfs_dirent *d)
{
	struct fsc_plus_collect *pc = arg;
	struct fsc_plus_ent *e;

	if (pc->n == pc->max)
		return 1;
	e = &pc->ents[pc->n++];
	snprintf(e->name, sizeof(e->name), "%s", d->name);
	e->ino = d->ino;
	e->type = d->type;
	e->off = d->off;
	return 0;
}

static void fsc_do_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	struct fsc_mount *m = fsc_mount(req);
	struct fsc_plus_collect pc = { .max = FSC_PLUS_BATCH };
	uint64_t inos[FSC_PLUS_BATCH];
	struct qfs_attr attrs[FSC_PLUS_BATCH];
	int rcs[FSC_PLUS_BATCH], nstat = 0, k = 0, rc;
	size_t used = 0;
	char *buf;

	buf = malloc(size ? size : 1);
	pc.ents = calloc(FSC_PLUS_BATCH, sizeof(*pc.ents));
	if (!buf || !pc.ents) {
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	rc = qfs_readdir(m->fs, ino, off, fsc_plus_collect, &pc);
	if (rc < 0 && pc.n == 0) {
		fuse_reply_err(req, -rc);
		goto out;
	}
	for (int i = 0; i < pc.n; i++)
		if (strcmp(pc.ents[i].name, ".") && strcmp(pc.ents[i].name, ".."))
			inos[nstat++] = pc.ents[i].ino;
	qfs_getattr_many(m->fs, inos, attrs, rcs, nstat);

	for (int i = 0; i < pc.n; i++) {
		const struct fsc_plus_ent *pe = &pc.ents[i];
		struct fuse_entry_param e;
		size_t len;

		memset(&e, 0, sizeof(e));
		if (strcmp(pe->name, ".") && strcmp(pe->name, "..")) {
			int j = k++;

			if (rcs[j] < 0)
				continue; /* vanished meanwhile: skip it */
			e.ino = attrs[j].ino;
			e.attr_timeout = m->attr_timeout;
			e.entry_timeout = m->entry_timeout;
			fsc_stat(m, &attrs[j], &e.attr);
		} else {
			e.attr.st_ino = pe->ino;
			e.attr.st_mode = (mode_t)pe->type << 12;
		}
		len = fuse_add_direntry_plus(req, buf + used, size - used, pe->name, &e, pe->off);
		if (len > size - used)
			break; /* not added: the kernel counts no lookup for it */
		used += len;
	}
	fuse_reply_buf(req, buf, used);
out:
	free(pc.ents);
	free(buf);
}

static void fsc_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	struct fsc_dirbuf db = { .req = req, .m = fsc_mount(req), .size = size };
	int rc;

	db.buf = malloc(size ? size : 1);
	if (!db.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = qfs_readdir(db.m->fs, ino, off, fsc_dir_add, &db);
	if (rc < 0 && db.used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, db.buf, db.used);
	free(db.buf);
}

static void fsc_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	(void)fi;
	fsc_do_readdir(req, ino, size, off);
}

static void fsc_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    struct fuse_file_info *fi)
{
	(void)fi;
	fsc_do_readdirplus(req, ino, size, off);
}

static void fsc_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void fsc_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	int rc = qfs_sync_all(fsc_mount(req)->fs);

	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fsc_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct qfs_statfs s;
	struct statvfs st;
	int rc;

	(void)ino;
	rc = qfs_statfs(fsc_mount(req)->fs, &s);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	memset(&st, 0, sizeof(st));
	st.f_bsize = st.f_frsize = s.bsize;
	st.f_blocks = s.blocks;
	st.f_bfree = st.f_bavail = s.bfree;
	st.f_files = s.files;
	st.f_ffree = st.f_favail = s.ffree;
	st.f_namemax = s.namemax;
	fuse_reply_statfs(req, &st);
}

static void fsc_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	int rc = qfs_setxattr(fsc_mount(req)->fs, ino, name, value, size, flags);

	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fsc_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf = NULL;
	int rc;

	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	rc = qfs_getxattr(fsc_mount(req)->fs, ino, name, buf, size);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)rc);
	else
		fuse_reply_xattr(req, (size_t)rc);
	free(buf);
}

static void fsc_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = NULL;
	int rc;

	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	rc = qfs_listxattr(fsc_mount(req)->fs, ino, buf, size);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)rc);
	else
		fuse_reply_xattr(req, (size_t)rc);
	free(buf);
}

static void fsc_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	int rc = qfs_removexattr(fsc_mount(req)->fs, ino, name);

	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fsc_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			  struct fuse_file_info *fi)
{
	unsigned q = 0;
	int rc;

	(void)ino;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (mode & FALLOC_FL_KEEP_SIZE)
		q |= QFS_FALLOC_KEEP_SIZE;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		q |= QFS_FALLOC_PUNCH_HOLE;
	if (mode & FALLOC_FL_ZERO_RANGE)
		q |= QFS_FALLOC_ZERO_RANGE;
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	rc = qfs_file_fallocate(fsc_file(fi), q, (uint64_t)off, (uint64_t)len);
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fsc_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		      struct fuse_file_info *fi)
{
	int64_t r;

	(void)ino;
	r = qfs_file_lseek(fsc_file(fi), off, whence);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_lseek(req, r);
}

static void fsc_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
				struct fuse_file_info *fi_in, fuse_ino_t ino_out,
				off_t off_out, struct fuse_file_info *fi_out, size_t len,
				int flags)
{
	const size_t step = 1024 * 1024;
	size_t done = 0;
	char *buf;
	int rc = 0;

	(void)ino_in;
	(void)ino_out;
	if (flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	buf = malloc(step);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	while (done < len) {
		size_t want = len - done < step ? len - done : step;
		ssize_t n = qfs_file_read(fsc_file(fi_in), buf, want, (uint64_t)off_in + done);

		if (n <= 0) {
			rc = (int)n;
			break;
		}
		n = qfs_file_write(fsc_file(fi_out), buf, (size_t)n, (uint64_t)off_out + done);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		done += (size_t)n;
	}
	free(buf);
	if (rc < 0 && done == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, done);
}

const struct fuse_lowlevel_ops fsc_ops = {
	.init = fsc_init,
	.lookup = fsc_lookup,
	.forget = fsc_forget,
	.forget_multi = fsc_forget_multi,
	.getattr = fsc_getattr,
	.setattr = fsc_setattr,
	.readlink = fsc_readlink,
	.mknod = fsc_mknod,
	.mkdir = fsc_mkdir,
	.symlink = fsc_symlink,
	.link = fsc_link,
	.unlink = fsc_unlink,
	.rmdir = fsc_rmdir,
	.rename = fsc_rename,
	.open = fsc_open,
	.create = fsc_create,
	.read = fsc_read,
	.write = fsc_write,
	.flush = fsc_flush,
	.release = fsc_release,
	.fsync = fsc_fsync,
	.opendir = fsc_opendir,
	.readdir = fsc_readdir,
	.readdirplus = fsc_readdirplus,
	.releasedir = fsc_releasedir,
	.fsyncdir = fsc_fsyncdir,
	.statfs = fsc_statfs,
	.setxattr = fsc_setxattr,
	.getxattr = fsc_getxattr,
	.listxattr = fsc_listxattr,
	.removexattr = fsc_removexattr,
	.fallocate = fsc_fallocate,
	.lseek = fsc_lseek,
	.copy_file_range = fsc_copy_file_range,
};
