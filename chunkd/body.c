// SPDX-License-Identifier: MIT
/*
 * body.c - chunk body files: paths from integer ids, full reads and writes,
 * early writeback, directory syncs and the orphan sweep.
 *
 * Every call works relative to the data directory fd (openat family), so a
 * body path is never longer than "bodies/xx/<16 hex>" and never contains a
 * byte that came from the network. Callers own the fds they get back. The
 * store holds the locks; nothing here is shared state.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkd/body.h"
#include "proto/log.h"

void chk_body_path(uint64_t id, char buf[CHK_BODY_PATH_MAX])
{
	snprintf(buf, CHK_BODY_PATH_MAX, "bodies/%02x/%016" PRIx64, (unsigned)(id & 0xff), id);
}

static void chk_body_dir_path(uint64_t id, char buf[CHK_BODY_PATH_MAX])
{
	snprintf(buf, CHK_BODY_PATH_MAX, "bodies/%02x", (unsigned)(id & 0xff));
}

int chk_body_mkdirs(int dfd)
{
	char path[CHK_BODY_PATH_MAX];

	if (mkdirat(dfd, "bodies", 0700) < 0 && errno != EEXIST)
		return -errno;
	for (unsigned i = 0; i < CHK_BODY_DIRS; i++) {
		chk_body_dir_path(i, path);
		if (mkdirat(dfd, path, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

int chk_body_open(int dfd, uint64_t id, bool write)
{
	char path[CHK_BODY_PATH_MAX];
	int fd;

	chk_body_path(id, path);
	fd = openat(dfd, path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

int chk_body_create(int dfd, uint64_t id)
{
	char path[CHK_BODY_PATH_MAX];
	int fd;

	chk_body_path(id, path);
	fd = openat(dfd, path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	return fd < 0 ? -errno : fd;
}

int chk_body_unlink(int dfd, uint64_t id)
{
	char path[CHK_BODY_PATH_MAX];

	chk_body_path(id, path);
	return unlinkat(dfd, path, 0) < 0 ? -errno : 0;
}

int chk_body_sync_dir(int dfd, uint64_t id)
{
	char path[CHK_BODY_PATH_MAX];
	int fd, rc = 0;

	chk_body_dir_path(id, path);
	fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int chk_body_pread(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* file shorter than its record says */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int chk_body_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int chk_body_pwrite_pieces(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		size_t n = len < CHK_BODY_WRITE_MAX ? len : CHK_BODY_WRITE_MAX;
		int rc = chk_body_pwrite(fd, p, n, off);

		if (rc)
			return rc;
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

void chk_body_writeback(int fd, uint64_t off, uint64_t len)
{
	if (len)
		(void)sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
}

static bool chk_body_parse_name(const char *name, uint64_t *id)
{
	uint64_t v = 0;

	if (strlen(name) != 16)
		return false;
	for (int i = 0; i < 16; i++) {
		char c = name[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*id = v;
	return true;
}

static bool chk_body_known(const uint64_t *ids, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ids[mid] == id)
			return true;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int64_t chk_body_sweep(int dfd, const uint64_t *ids, size_t n)
{
	char path[CHK_BODY_PATH_MAX];
	int64_t removed = 0;

	for (unsigned i = 0; i < CHK_BODY_DIRS; i++) {
		struct dirent *de;
		DIR *d;
		int fd;

		chk_body_dir_path(i, path);
		fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		d = fdopendir(fd);
		if (!d) {
			int rc = -errno;

			close(fd);
			return rc;
		}
		while ((de = readdir(d)) != NULL) {
			uint64_t id;

			if (!chk_body_parse_name(de->d_name, &id) || (id & 0xff) != i)
				continue;
			if (chk_body_known(ids, n, id))
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) == 0)
				removed++;
			else
				qlog_warn("unlink orphan body %016" PRIx64 ": %s", id,
					  strerror(errno));
		}
		closedir(d);
	}
	return removed;
}
