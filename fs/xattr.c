// SPDX-License-Identifier: MIT
/*
 * xattr.c - extended attributes as XATTR(ino, name) records in the inode's
 * partition (listed with one ordered LIST). POSIX ACL attributes are refused
 * with EOPNOTSUPP: QuorumFS does not enforce ACLs, and storing them would
 * make tools believe it does.
 */
#include <errno.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs/fs_priv.h"

static bool is_acl(const char *name)
{
	return !strcmp(name, "system.posix_acl_access") ||
	       !strcmp(name, "system.posix_acl_default");
}

static int xattr_key(uint64_t ino, const char *name, struct proto_key *key)
{
	size_t len = strlen(name);

	if (len > PROTO_NAME_MAX)
		return -ERANGE;
	if (is_acl(name))
		return -EOPNOTSUPP;
	return proto_key_xattr(key, ino, name, len) < 0 ? -EINVAL : 0;
}

/* Read one attribute: 0 with @rec filled, -ENODATA when absent or removed. */
static int xattr_read(struct qfs_fs *fs, uint64_t ino, const char *name, struct qfs_rec *rec)
{
	struct proto_key key;
	int rc;

	rc = xattr_key(ino, name, &key);
	if (rc < 0)
		return rc;
	/* A fresh stat saw no xattr at all: skip the round trip (the kernel asks
	 * for security.capability on every write and chown). For that probe
	 * the open of the file is enough, close-to-open like the data: a
	 * capability another client sets while the file is open here is seen
	 * from the next open on. */
	if (qfs_icache_xattrs(fs, ino) == 0 ||
	    (!strcmp(name, "security.capability") && qfs_file_no_xattrs(fs, ino)))
		return -ENODATA;
	rc = qfs_quorum_get(fs->q, &key, 0, PROTO_GET_WHOLE, rec);
	if (rc == -ENOENT)
		return -ENODATA;
	if (rc == 0 && (rec->meta.flags & PROTO_REC_TOMBSTONE)) {
		qfs_rec_free(rec);
		return -ENODATA;
	}
	return rc;
}

int qfs_getxattr(struct qfs_fs *fs, uint64_t ino, const char *name, void *buf, size_t size)
{
	struct qfs_rec rec;
	int rc;

	rc = xattr_read(fs, ino, name, &rec);
	if (rc < 0)
		return rc;
	rc = (int)rec.val_len;
	if (size) {
		if (size < rec.val_len)
			rc = -ERANGE;
		else
			memcpy(buf, rec.val, rec.val_len);
	}
	qfs_rec_free(&rec);
	return rc;
}

int qfs_setxattr(struct qfs_fs *fs, uint64_t ino, const char *name, const void *val,
		 size_t size, int flags)
{
	struct proto_key key;
	struct qfs_rec rec;
	int rc;

	if (fs->read_only)
		return -EROFS;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (size > PROTO_VALUE_MAX)
		return -E2BIG;
	rc = xattr_key(ino, name, &key);
	if (rc < 0)
		return rc;
	if (flags) {
		rc = xattr_read(fs, ino, name, &rec);
		if (rc == 0)
			qfs_rec_free(&rec);
		if (rc == 0 && (flags & XATTR_CREATE))
			return -EEXIST;
		if (rc == -ENODATA && (flags & XATTR_REPLACE))
			return -ENODATA;
		if (rc < 0 && rc != -ENODATA)
			return rc;
	}
	qfs_file_xattrs_changed(fs, ino);
	rc = qfs_put_simple(fs, &key, false, val, (uint32_t)size);
	qfs_icache_drop(fs, ino); /* after the write: a racing stat cannot undo it */
	return rc;
}

int qfs_removexattr(struct qfs_fs *fs, uint64_t ino, const char *name)
{
	struct proto_key key;
	struct qfs_rec rec;
	int rc;

	if (fs->read_only)
		return -EROFS;
	rc = xattr_read(fs, ino, name, &rec);
	if (rc < 0)
		return rc;
	qfs_rec_free(&rec);
	rc = xattr_key(ino, name, &key);
	if (rc == 0)
		rc = qfs_put_simple(fs, &key, true, NULL, 0);
	qfs_icache_drop(fs, ino);
	return rc;
}

struct xattr_list {
	char *buf;
	size_t size, len;
	bool range;
};

static int xattr_list_entry(void *arg, const struct proto_entry *e)
{
	struct xattr_list *xl = arg;

	if (e->meta.flags & PROTO_REC_TOMBSTONE)
		return 0;
	if (xl->size) {
		if (xl->len + e->key.name_len + 1 > xl->size) {
			xl->range = true;
			return 1;
		}
		memcpy(xl->buf + xl->len, e->key.name, e->key.name_len);
		xl->buf[xl->len + e->key.name_len] = '\0';
	}
	xl->len += e->key.name_len + 1;
	return 0;
}

int qfs_listxattr(struct qfs_fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct xattr_list xl = { .buf = buf, .size = size };
	bool more;
	int rc;

	rc = qfs_quorum_list(fs->q, ino, PROTO_KIND_XATTR, NULL, 0, false, 0, xattr_list_entry,
			     &xl, &more);
	if (rc < 0)
		return rc;
	if (xl.range)
		return -ERANGE;
	return (int)xl.len;
}
