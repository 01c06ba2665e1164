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
 * Write a whole body (or a large part of one) in pieces of at most
 * CHK_BODY_WRITE_MAX bytes. The page cache sizes its folios after the write
 * that creates them, and a later 4 KiB in-place write into a 1 MiB folio
 * costs several times one into a 64 KiB folio (the filesystem walks every
 * block of the folio), so bodies that PATCH may touch are written this way.
 */
#define CHK_BODY_WRITE_MAX (64u * 1024)
int chk_body_pwrite_pieces(int fd, const void *buf, size_t len, uint64_t off);

/*
 * Start writing [off, off + len) of @fd back to the disk without waiting
 * for it (sync_file_range), so that a later fdatasync or syncfs finds less
 * to do. Durability still needs that sync; failures are ignored here (the
 * sync reports them).
 */
void chk_body_writeback(int fd, uint64_t off, uint64_t len);

/*
 * Remove every body file whose id is not in @ids (sorted ascending, @n
 * entries). Names that are not 16 hex digits are left alone. Returns the
 * number of files removed or -errno.
 */
int64_t chk_body_sweep(int dfd, const uint64_t *ids, size_t n);

#endif
