/* SPDX-License-Identifier: MIT */
/*
 * body.h - chunk body files under DIR/bodies, private to the store.
 *
 * A body is one file per chunk version, DIR/bodies/XX/<16 hex id>, where XX
 * is the low byte of the id in hex. Paths are built from the integer id
 * only, never from key names, so nothing from the wire reaches a path. The
 * store owns the ids (a counter in its index); this module only does file
 * I/O and returns 0 or -errno, never leaving errno for the caller.
 */
#ifndef QFS_CHUNKD_BODY_H
#define QFS_CHUNKD_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHK_BODY_DIRS 256
#define CHK_BODY_PATH_MAX 64 /* "bodies/xx/" + 16 hex + NUL, relative */

/* Relative path of body @id ("bodies/xx/0123456789abcdef") into @buf. */
void chk_body_path(uint64_t id, char buf[CHK_BODY_PATH_MAX]);

/* Create DIR/bodies and its 256 subdirectories if missing (@dfd = DIR). */
int chk_body_mkdirs(int dfd);

/* Open body @id for reading, or for writing (O_RDWR); returns an fd or -errno. */
int chk_body_open(int dfd, uint64_t id, bool write);
/* Create body @id exclusively (O_RDWR | O_CREAT | O_EXCL); returns an fd or -errno. */
int chk_body_create(int dfd, uint64_t id);
int chk_body_unlink(int dfd, uint64_t id);

/* fsync the directory holding body @id (after creating or unlinking it). */
int chk_body_sync_dir(int dfd, uint64_t id);

/* Full pread/pwrite: 0, -EIO on a short read (end of file), or -errno. */
int chk_body_pread(int fd, void *buf, size_t len, uint64_t off);
int chk_body_pwrite(int fd, const void *buf, size_t len, uint64_t off);

/*
 * Reserve disk blocks for [off, off + len) without changing the file size,
 * so that a later pwrite cannot fail with ENOSPC half way. Filesystems that
 * cannot preallocate return 0 (the pwrite then reports ENOSPC itself).
 */
int chk_body_reserve(int fd, uint64_t off, uint64_t len);

/*
 * Remove every body file whose id is not in @ids (sorted ascending, @n
 * entries). Names that are not 16 hex digits are left alone. Returns the
 * number of files removed or -errno.
 */
int64_t chk_body_sweep(int dfd, const uint64_t *ids, size_t n);

#endif
