/* SPDX-License-Identifier: MIT */
/*
 * fs.h - the QuorumFS filesystem library: inodes, directories, files.
 *
 * Every operation works on inode numbers and goes to the cluster through
 * the quorum layer (fs/quorum.h); nothing here knows about FUSE, so the
 * mount binary and the tools link the same code. Calls are synchronous and
 * thread-safe: the caller's thread waits while the engine thread does the
 * network I/O. Errors are negative errnos, as a local filesystem gives them.
 *
 * Namespace writes keep crashes recoverable (DESIGN.md): create writes the
 * inode and its LINK before the directory entry; unlink tombstones the entry
 * before the LINK; rename writes the new entry before tombstoning the old.
 */
#ifndef QFS_FS_FS_H
#define QFS_FS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/config.h"
#include "fs/quorum.h"

struct qfs_fs;
struct qfs_file;

struct qfs_fs_opts {
	unsigned w, r, timeout_ms; /* 0 = from the config */
	bool read_only;
	bool degraded_read; /* see struct qfs_quorum_opts */
	bool hinted_handoff; /* see struct qfs_quorum_opts */
	unsigned repair_rate;  /* background repair keys/s, 0 = off (qfs_quorum_opts) */
	unsigned tomb_grace_s; /* 0 = QFS_TOMB_GRACE_DEFAULT_S (qfs_quorum_opts) */
	unsigned statahead_ms; /* lookups read a directory ahead, answers live
				* this long; 0 = off (fs/statahead.c) */
	unsigned open_attr_ms; /* getattr of a file open here answered from a
				* read this young (the open's); 0 = always read */
};

/*
 * Connect to the cluster of @cl and read the superblock. Returns 0 or -errno
 * with a message in @err (-ENOENT: not formatted; -EIO: no quorum; -ETIME:
 * clock skew). @cl must outlive the fs.
 */
int qfs_fs_open(const struct qfs_cluster *cl, const struct qfs_fs_opts *opts,
		struct qfs_fs **out, char *err, size_t errlen);
void qfs_fs_close(struct qfs_fs *fs); /* NULL is a no-op; flushes nothing */

/* The same over an open quorum, which the fs then owns (unit tests run the
 * filesystem over a simulated cluster this way). */
int qfs_fs_open_quorum(struct qfs_quorum *q, const struct qfs_fs_opts *opts,
		       struct qfs_fs **out, char *err, size_t errlen);

struct qfs_quorum *qfs_fs_quorum(struct qfs_fs *fs);
uint32_t qfs_fs_chunk_size(const struct qfs_fs *fs);

/*
 * Format: write a superblock (chunk size @chunk_size, new volume id) and the
 * root directory. -EEXIST when a volume exists and !force.
 */
int qfs_mkfs(struct qfs_quorum *q, uint32_t chunk_size, bool force, char *err, size_t errlen);

struct qfs_attr {
	uint64_t ino;
	uint32_t mode, uid, gid, rdev, nlink;
	uint64_t size, blocks; /* blocks of 512 bytes */
	struct timespec atime, mtime, ctime;
};

/* Who asks: new inodes take these ids. */
struct qfs_cred {
	uint32_t uid, gid;
	uint32_t umask;
};

/* Attributes of @ino: a quorum read, or for a file open on this client the
 * read its open (or a later one) made at most open_attr_ms ago. */
int qfs_getattr(struct qfs_fs *fs, uint64_t ino, struct qfs_attr *a);
int qfs_lookup(struct qfs_fs *fs, uint64_t parent, const char *name, struct qfs_attr *a);

/*
 * Attributes of @n inodes at once (readdirplus): up to QFS_GETATTR_PARALLEL
 * reads in flight together. rcs[i] gets 0 or -errno for inos[i].
 */
#define QFS_GETATTR_PARALLEL 8
void qfs_getattr_many(struct qfs_fs *fs, const uint64_t *inos, struct qfs_attr *attrs, int *rcs,
		      int n);

#define QFS_SET_MODE 0x01
#define QFS_SET_UID 0x02
#define QFS_SET_GID 0x04
#define QFS_SET_SIZE 0x08
#define QFS_SET_ATIME 0x10
#define QFS_SET_MTIME 0x20
#define QFS_SET_ATIME_NOW 0x40
#define QFS_SET_MTIME_NOW 0x80
#define QFS_SET_CTIME 0x100

struct qfs_setattr {
	unsigned mask; /* QFS_SET_* */
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime;
};

/* chmod, chown, truncate, utimens. @f (may be NULL) is the open handle used. */
int qfs_setattr(struct qfs_fs *fs, uint64_t ino, const struct qfs_setattr *s,
		struct qfs_file *f, struct qfs_attr *a);

/*
 * Create a regular file, FIFO, socket or device node (@mode has the type).
 * @excl: fail with -EEXIST when the name exists (O_EXCL); otherwise an
 * existing regular file is returned as is (O_CREAT without O_EXCL).
 */
int qfs_mknod(struct qfs_fs *fs, uint64_t parent, const char *name, uint32_t mode,
	      uint32_t rdev, bool excl, const struct qfs_cred *c, struct qfs_attr *a);
/* O_CREAT: create (or, without @excl, open an existing) regular file and
 * open it with QFS_O_* @flags in one step. */
int qfs_create(struct qfs_fs *fs, uint64_t parent, const char *name, uint32_t mode, bool excl,
	       unsigned flags, const struct qfs_cred *c, struct qfs_attr *a,
	       struct qfs_file **out);
int qfs_mkdir(struct qfs_fs *fs, uint64_t parent, const char *name, uint32_t mode,
	      const struct qfs_cred *c, struct qfs_attr *a);
int qfs_symlink(struct qfs_fs *fs, uint64_t parent, const char *name, const char *target,
		const struct qfs_cred *c, struct qfs_attr *a);
/* Copy the target into @buf (NUL-terminated); returns its length or -errno. */
int qfs_readlink(struct qfs_fs *fs, uint64_t ino, char *buf, size_t size);
int qfs_link(struct qfs_fs *fs, uint64_t ino, uint64_t newparent, const char *newname,
	     struct qfs_attr *a);
/*
 * Remove a name. When the last link of a file goes and @open_elsewhere is
 * false the inode and its chunks are deleted; else the caller deletes it
 * at the last release with qfs_forget_unlinked().
 * *last is set when that was the last link.
 */
int qfs_unlink(struct qfs_fs *fs, uint64_t parent, const char *name, bool *last,
	       uint64_t *ino_out);
int qfs_rmdir(struct qfs_fs *fs, uint64_t parent, const char *name);
/* Delete an unlinked inode and its chunks (no links left). */
int qfs_delete_inode(struct qfs_fs *fs, uint64_t ino);

#define QFS_RENAME_NOREPLACE 0x1
#define QFS_RENAME_EXCHANGE 0x2
/* *replaced_ino gets the inode whose last link the rename removed (0 if none). */
int qfs_rename(struct qfs_fs *fs, uint64_t parent, const char *name, uint64_t newparent,
	       const char *newname, unsigned flags, uint64_t *replaced_ino);

/*
 * One directory entry for qfs_readdir's callback. @off is the offset that
 * resumes after this entry. Return non-zero to stop (the entry was not
 * consumed and will come again at the same offset).
 */
struct qfs_dirent {
	const char *name;
	uint64_t ino;
	uint32_t type; /* DT_* */
	int64_t off;
};
typedef int (*qfs_dirent_fn)(void *arg, const struct qfs_dirent *d);

/* List directory @ino from offset @off ("." and ".." first). 0 or -errno. */
int qfs_readdir(struct qfs_fs *fs, uint64_t ino, int64_t off, qfs_dirent_fn fn, void *arg);

int qfs_getxattr(struct qfs_fs *fs, uint64_t ino, const char *name, void *buf, size_t size);
int qfs_setxattr(struct qfs_fs *fs, uint64_t ino, const char *name, const void *val,
		 size_t size, int flags);
/* NUL-separated names into @buf; returns the total length or -errno (-ERANGE). */
int qfs_listxattr(struct qfs_fs *fs, uint64_t ino, char *buf, size_t size);
int qfs_removexattr(struct qfs_fs *fs, uint64_t ino, const char *name);

struct qfs_statfs {
	uint64_t bsize, blocks, bfree, files, ffree;
	uint32_t namemax;
};
int qfs_statfs(struct qfs_fs *fs, struct qfs_statfs *st);
int qfs_sync_all(struct qfs_fs *fs);

/* ---- open files (fs/file.c) ---- */

#define QFS_O_APPEND 0x1
#define QFS_O_DIRECT 0x2
#define QFS_O_TRUNC 0x4
#define QFS_O_WRITE 0x8

/*
 * Open inode @ino: re-reads the inode with a read quorum (close-to-open).
 * *changed tells whether it differs from what this client last saw, so the
 * caller can drop cached pages. Handles of one inode share one write buffer.
 */
int qfs_file_open(struct qfs_fs *fs, uint64_t ino, unsigned flags, struct qfs_file **out,
		  bool *changed);
/* Bytes read (short only at the end of the file), or -errno when any part
 * of the range failed. */
ssize_t qfs_file_read(struct qfs_file *f, void *buf, size_t size, uint64_t off);
/* Buffered unless O_DIRECT; errors of buffered data come back at flush/fsync. */
ssize_t qfs_file_write(struct qfs_file *f, const void *buf, size_t size, uint64_t off);
/* Drain the write buffer to W replicas (close). */
int qfs_file_flush(struct qfs_file *f);
/* flush, then SYNC the replicas written (fsync). */
int qfs_file_fsync(struct qfs_file *f, bool datasync);
/* Last reference of the handle; flushes. *deleted when the inode went with it. */
int qfs_file_release(struct qfs_file *f);

#define QFS_FALLOC_PUNCH_HOLE 0x1
#define QFS_FALLOC_ZERO_RANGE 0x2
#define QFS_FALLOC_KEEP_SIZE 0x4
int qfs_file_fallocate(struct qfs_file *f, unsigned mode, uint64_t off, uint64_t len);
/* SEEK_DATA / SEEK_HOLE; returns the offset or -ENXIO. */
int64_t qfs_file_lseek(struct qfs_file *f, int64_t off, int whence);

/* Mark inode @ino unlinked-while-open: deleted at its last release. */
void qfs_file_mark_unlinked(struct qfs_fs *fs, uint64_t ino);
/* True when this client has the inode open. */
bool qfs_file_is_open(struct qfs_fs *fs, uint64_t ino);

#endif
