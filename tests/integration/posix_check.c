// SPDX-License-Identifier: MIT
/*
 * posix_check.c - POSIX and Linux semantics that shell tools cannot check
 * well, run against a mounted QuorumFS directory:
 *
 *     posix_check MOUNTED_DIR
 *
 * tests/integration/fs_posix.sh mounts a cluster and runs it. Every test
 * works in its own directory under MOUNTED_DIR/posix.PID (removed at the
 * end) and states the behaviour a local filesystem (ext4) has; where
 * QuorumFS differs on purpose (plain fallocate, ACL xattrs) the test states
 * the documented answer. Exit status: the number of failed tests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define CS (1024 * 1024) /* chunk size of a default mkfs */

static char g_base[PATH_MAX];

/* ---- helpers ---- */

/* Fail the test when @cond is false, with a printf-style message that
 * starts with the caller's line. */
static void check_at(int line, int cond, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (cond)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_msg("posix_check.c:%d: %s", line, msg);
}
#define check(...) check_at(__LINE__, __VA_ARGS__)

/* The call returned -1 with errno @want. */
static void check_err(int line, long rc, int err, int want, const char *what)
{
	check_at(line, rc == -1 && err == want, "%s: expected -1 with %s, got %ld with %s",
		 what, strerror(want), rc, rc == -1 ? strerror(err) : "no error");
}

/* The call returned 0 or more. */
static void check_ok(int line, long rc, int err, const char *what)
{
	check_at(line, rc >= 0, "%s: expected success, got %ld with %s", what, rc, strerror(err));
}

/* OK(call): the call succeeds; ERR(call, E): it fails with errno E. */
#define OK(call)                                                                        \
	do {                                                                            \
		long r_;                                                                \
		errno = 0;                                                              \
		r_ = (long)(call);                                                      \
		check_ok(__LINE__, r_, errno, #call);                                   \
	} while (0)
#define ERR(call, e)                                                                    \
	do {                                                                            \
		long r_;                                                                \
		errno = 0;                                                              \
		r_ = (long)(call);                                                      \
		check_err(__LINE__, r_, errno, (e), #call);                             \
	} while (0)

/* The test's own directory MOUNT/posix.PID/NAME, created; path into @buf. */
static const char *tdir(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", g_base, name);
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", buf, strerror(errno));
	return buf;
}

static char *pjoin(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
	return buf;
}

/* Write @len bytes of @buf at @off, all of them. */
static void pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		check(n > 0, "pwrite(%zu bytes at %lld): %s", len, (long long)off,
		      n < 0 ? strerror(errno) : "wrote 0");
		p += n;
		len -= (size_t)n;
		off += n;
	}
}

/* Read exactly @len bytes at @off (short only at EOF); returns bytes read. */
static size_t pread_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		check(n >= 0, "pread(%zu bytes at %lld): %s", len - got, (long long)(off + got),
		      n < 0 ? strerror(errno) : "");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* A deterministic pattern: byte i of stream @seed. */
static void pattern(unsigned char *buf, size_t len, uint64_t start, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (start + i) * 2654435761u + seed * 40503u;

		buf[i] = (unsigned char)(x ^ (x >> 11) ^ (x >> 23));
	}
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		fail_msg("out of memory (%zu bytes)", n);
	return p;
}

/* Make file @path of @len bytes of pattern @seed; returns nothing. */
static void make_file(const char *path, size_t len, unsigned seed)
{
	unsigned char *buf = xmalloc(len ? len : 1);
	int fd;

	pattern(buf, len, 0, seed);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	check(fd >= 0, "create %s: %s", path, strerror(errno));
	if (len)
		pwrite_all(fd, buf, len, 0);
	OK(close(fd));
	free(buf);
}

/* Bytes [off, off+len) of @path are pattern @seed (from stream offset
 * @poff) or, when @zero, all zero. */
static void expect_range(const char *path, off_t off, size_t len, bool zero, unsigned seed,
			 uint64_t poff)
{
	unsigned char *got = xmalloc(len), *want = xmalloc(len);
	size_t n;
	int fd;

	fd = open(path, O_RDONLY);
	check(fd >= 0, "open %s: %s", path, strerror(errno));
	n = pread_all(fd, got, len, off);
	close(fd);
	check(n == len, "%s: expected %zu bytes at %lld, got %zu", path, len, (long long)off, n);
	if (zero)
		memset(want, 0, len);
	else
		pattern(want, len, poff, seed);
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			fail_msg("%s: byte at %lld: expected 0x%02x, got 0x%02x", path,
				 (long long)(off + (off_t)i), want[i], got[i]);
	free(got);
	free(want);
}

static off_t file_size(const char *path)
{
	struct stat st;

	check(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	return st.st_size;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p) < 0 ? -1 : 0;
}

/* ---- group setup / teardown ---- */

static int group_setup(void **state)
{
	(void)state;
	if (mkdir(g_base, 0755) < 0) {
		fprintf(stderr, "posix_check: mkdir %s: %s\n", g_base, strerror(errno));
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (nftw(g_base, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0) {
		fprintf(stderr, "posix_check: cannot remove %s: %s\n", g_base, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the tests ---- */

static void test_excl_and_enoent(void **state)
{
	char d[PATH_MAX], f[PATH_MAX], g[PATH_MAX];
	int fd;

	(void)state;
	tdir("excl", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	fd = open(f, O_CREAT | O_EXCL | O_WRONLY, 0644);
	check(fd >= 0, "O_CREAT|O_EXCL of a new name: %s", strerror(errno));
	close(fd);
	ERR(open(f, O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	/* O_CREAT without O_EXCL opens the existing file */
	fd = open(f, O_CREAT | O_WRONLY, 0644);
	check(fd >= 0, "O_CREAT of an existing name: %s", strerror(errno));
	close(fd);
	ERR(mkdir(f, 0755), EEXIST);
	ERR(symlink("x", f), EEXIST);
	ERR(mknod(f, S_IFIFO | 0644, 0), EEXIST);

	pjoin(g, sizeof(g), d, "missing");
	ERR(open(g, O_RDONLY), ENOENT);
	ERR(open(pjoin(g, sizeof(g), d, "missing/x"), O_CREAT | O_WRONLY, 0644), ENOENT);
	ERR(unlink(pjoin(g, sizeof(g), d, "missing")), ENOENT);
	ERR(rmdir(g), ENOENT);
	ERR(rename(g, f), ENOENT);
	ERR(link(g, pjoin(g, sizeof(g), d, "l")), ENOENT);
	ERR(readlink(f, g, sizeof(g)), EINVAL); /* not a symlink */
}

static void test_enotdir_eisdir(void **state)
{
	char d[PATH_MAX], f[PATH_MAX], sub[PATH_MAX], p[PATH_MAX];
	char buf[16];
	int fd;

	(void)state;
	tdir("notdir", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	make_file(f, 10, 1);
	pjoin(sub, sizeof(sub), d, "sub");
	OK(mkdir(sub, 0755));

	ERR(open(pjoin(p, sizeof(p), f, "x"), O_RDONLY), ENOTDIR);
	ERR(open(pjoin(p, sizeof(p), f, "x"), O_CREAT | O_WRONLY, 0644), ENOTDIR);
	ERR(mkdir(pjoin(p, sizeof(p), f, "x"), 0755), ENOTDIR);
	ERR(rmdir(f), ENOTDIR);
	ERR(open(f, O_RDONLY | O_DIRECTORY), ENOTDIR);
	ERR(rename(sub, f), ENOTDIR); /* directory over a file */

	ERR(open(sub, O_WRONLY), EISDIR);
	ERR(open(sub, O_RDWR), EISDIR);
	ERR(unlink(sub), EISDIR);
	ERR(rename(f, sub), EISDIR); /* file over a directory */
	fd = open(sub, O_RDONLY | O_DIRECTORY);
	check(fd >= 0, "open a directory O_RDONLY: %s", strerror(errno));
	ERR(read(fd, buf, sizeof(buf)), EISDIR);
	close(fd);
	ERR(link(sub, pjoin(p, sizeof(p), d, "dirlink")), EPERM);

	/* rename of a directory over a non-empty one */
	OK(mkdir(pjoin(p, sizeof(p), d, "full"), 0755));
	make_file(pjoin(p, sizeof(p), d, "full/inside"), 1, 2);
	errno = 0;
	int rc = rename(sub, pjoin(p, sizeof(p), d, "full"));
	check(rc == -1 && (errno == ENOTEMPTY || errno == EEXIST),
	      "rename a directory over a non-empty one: expected ENOTEMPTY, got %d (%s)", rc,
	      strerror(errno));
	ERR(rmdir(pjoin(p, sizeof(p), d, "full")), ENOTEMPTY);
	/* a directory into its own subtree */
	OK(mkdir(pjoin(p, sizeof(p), d, "sub/child"), 0755));
	ERR(rename(sub, pjoin(p, sizeof(p), d, "sub/child/loop")), EINVAL);
}

static void test_nametoolong(void **state)
{
	char d[PATH_MAX], p[PATH_MAX], q[PATH_MAX], name[300];
	int fd;

	(void)state;
	tdir("names", d, sizeof(d));
	memset(name, 'n', 255);
	name[255] = '\0';
	pjoin(p, sizeof(p), d, name);
	fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
	check(fd >= 0, "create a 255-byte name: %s", strerror(errno));
	close(fd);
	struct stat st;
	OK(stat(p, &st));

	memset(name, 'm', 256);
	name[256] = '\0';
	pjoin(p, sizeof(p), d, name);
	ERR(open(p, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	ERR(stat(p, &st), ENAMETOOLONG);
	ERR(mkdir(p, 0755), ENAMETOOLONG);
	ERR(symlink("target", p), ENAMETOOLONG);
	ERR(mknod(p, S_IFIFO | 0644, 0), ENAMETOOLONG);
	make_file(pjoin(q, sizeof(q), d, "short"), 1, 3);
	ERR(rename(q, p), ENAMETOOLONG);
	ERR(link(q, p), ENAMETOOLONG);
}

static int renameat2_sys(const char *a, const char *b, unsigned flags)
{
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static void test_rename_noreplace_exchange(void **state)
{
	char d[PATH_MAX], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], sub[PATH_MAX];

	(void)state;
	tdir("rename2", d, sizeof(d));
	pjoin(a, sizeof(a), d, "a");
	pjoin(b, sizeof(b), d, "b");
	pjoin(c, sizeof(c), d, "c");
	make_file(a, 1000, 11);
	make_file(b, 3 * CS + 7, 12);

	ERR(renameat2_sys(a, b, RENAME_NOREPLACE), EEXIST);
	expect_range(a, 0, 1000, false, 11, 0);
	expect_range(b, 0, 3 * CS + 7, false, 12, 0);
	OK(renameat2_sys(a, c, RENAME_NOREPLACE));
	ERR(access(a, F_OK), ENOENT);
	expect_range(c, 0, 1000, false, 11, 0);

	OK(renameat2_sys(c, b, RENAME_EXCHANGE));
	check(file_size(b) == 1000, "after RENAME_EXCHANGE b has a's size: got %lld",
	      (long long)file_size(b));
	check(file_size(c) == 3 * CS + 7, "after RENAME_EXCHANGE c has b's size: got %lld",
	      (long long)file_size(c));
	expect_range(b, 0, 1000, false, 11, 0);
	expect_range(c, 0, 3 * CS + 7, false, 12, 0);
	ERR(renameat2_sys(c, a, RENAME_EXCHANGE), ENOENT); /* a is gone */

	/* exchange a file and a directory */
	pjoin(sub, sizeof(sub), d, "sub");
	OK(mkdir(sub, 0755));
	make_file(pjoin(a, sizeof(a), d, "sub/inner"), 5, 13);
	OK(renameat2_sys(b, sub, RENAME_EXCHANGE));
	expect_range(pjoin(a, sizeof(a), d, "b/inner"), 0, 5, false, 13, 0);
	expect_range(sub, 0, 1000, false, 11, 0);
	ERR(renameat2_sys(sub, b, RENAME_NOREPLACE | RENAME_EXCHANGE), EINVAL);
}

static void test_seek_data_hole(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	unsigned char buf[4096];
	off_t r, end = 3 * CS + 4096;
	int fd;

	(void)state;
	tdir("seek", d, sizeof(d));
	pjoin(f, sizeof(f), d, "holes");
	pattern(buf, sizeof(buf), 0, 21);
	fd = open(f, O_CREAT | O_TRUNC | O_RDWR, 0644);
	check(fd >= 0, "create: %s", strerror(errno));
	pwrite_all(fd, buf, sizeof(buf), 0);
	pwrite_all(fd, buf, sizeof(buf), 3 * CS);
	OK(close(fd));

	fd = open(f, O_RDONLY);
	check(fd >= 0, "open: %s", strerror(errno));
	r = lseek(fd, 0, SEEK_DATA);
	check(r == 0, "SEEK_DATA from 0: expected 0, got %lld (%s)", (long long)r,
	      r < 0 ? strerror(errno) : "");
	r = lseek(fd, 0, SEEK_HOLE);
	/* the hole may start anywhere from the end of the data to the next
	 * chunk boundary: QuorumFS tracks holes per chunk */
	check(r >= 4096 && r <= CS, "SEEK_HOLE from 0: expected 4096..%d, got %lld (%s)", CS,
	      (long long)r, r < 0 ? strerror(errno) : "");
	r = lseek(fd, CS, SEEK_DATA);
	check(r == 3 * CS, "SEEK_DATA from 1 MiB: expected %d, got %lld (%s)", 3 * CS,
	      (long long)r, r < 0 ? strerror(errno) : "");
	r = lseek(fd, 2 * CS + 5, SEEK_DATA);
	check(r == 3 * CS, "SEEK_DATA from inside the hole: expected %d, got %lld (%s)", 3 * CS,
	      (long long)r, r < 0 ? strerror(errno) : "");
	r = lseek(fd, 3 * CS, SEEK_HOLE);
	check(r == end, "SEEK_HOLE in the last chunk: expected EOF %lld, got %lld (%s)",
	      (long long)end, (long long)r, r < 0 ? strerror(errno) : "");
	errno = 0;
	r = lseek(fd, end, SEEK_DATA);
	check(r == -1 && errno == ENXIO, "SEEK_DATA at EOF: expected ENXIO, got %lld (%s)",
	      (long long)r, strerror(errno));
	errno = 0;
	r = lseek(fd, end + 10, SEEK_HOLE);
	check(r == -1 && errno == ENXIO, "SEEK_HOLE past EOF: expected ENXIO, got %lld (%s)",
	      (long long)r, strerror(errno));
	close(fd);
	expect_range(f, 4096, 3 * CS - 4096, true, 0, 0);
}

static void test_punch_hole(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	off_t size = 3 * CS + 100;
	int fd;

	(void)state;
	tdir("punch", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	make_file(f, (size_t)size, 31);
	fd = open(f, O_RDWR);
	check(fd >= 0, "open: %s", strerror(errno));
	/* a small range across the end of chunk 0, then all of chunk 2 */
	OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, CS - 100, 200));
	OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * CS, CS));
	/* PUNCH_HOLE needs KEEP_SIZE (as on every Linux filesystem) */
	ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10), EOPNOTSUPP);
	OK(close(fd));
	check(file_size(f) == size, "size after punching: expected %lld, got %lld",
	      (long long)size, (long long)file_size(f));
	expect_range(f, 0, CS - 100, false, 31, 0);
	expect_range(f, CS - 100, 200, true, 0, 0);
	expect_range(f, CS + 100, CS - 100, false, 31, CS + 100);
	expect_range(f, 2 * CS, CS, true, 0, 0);
	expect_range(f, 3 * CS, 100, false, 31, 3 * CS);
}

static void test_zero_range(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	off_t size = 2 * CS + 10;
	int fd;

	(void)state;
	tdir("zero", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	make_file(f, (size_t)size, 41);
	fd = open(f, O_RDWR);
	check(fd >= 0, "open: %s", strerror(errno));
	OK(fallocate(fd, FALLOC_FL_ZERO_RANGE, 5000, CS));
	OK(close(fd));
	check(file_size(f) == size, "size after ZERO_RANGE inside: expected %lld, got %lld",
	      (long long)size, (long long)file_size(f));
	expect_range(f, 0, 5000, false, 41, 0);
	expect_range(f, 5000, CS, true, 0, 0);
	expect_range(f, 5000 + CS, (size_t)(size - 5000 - CS), false, 41, 5000 + CS);
	/* past EOF without KEEP_SIZE the file grows; with KEEP_SIZE it does not */
	fd = open(f, O_RDWR);
	check(fd >= 0, "open: %s", strerror(errno));
	OK(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, size - 5, 1000));
	OK(close(fd));
	check(file_size(f) == size,
	      "ZERO_RANGE|KEEP_SIZE past EOF keeps the size: expected %lld, got %lld",
	      (long long)size, (long long)file_size(f));
	expect_range(f, size - 5, 5, true, 0, 0);
	fd = open(f, O_RDWR);
	check(fd >= 0, "open: %s", strerror(errno));
	OK(fallocate(fd, FALLOC_FL_ZERO_RANGE, size, 1000));
	OK(close(fd));
	check(file_size(f) == size + 1000,
	      "ZERO_RANGE past EOF grows the file: expected %lld, got %lld",
	      (long long)(size + 1000), (long long)file_size(f));
	expect_range(f, size - 5, 1005, true, 0, 0);
}

static void test_fallocate_plain(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	int fd, rc;

	(void)state;
	tdir("falloc", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	fd = open(f, O_CREAT | O_RDWR, 0644);
	check(fd >= 0, "create: %s", strerror(errno));
	/* DESIGN.md: replicas cannot promise space, so no preallocation */
	ERR(fallocate(fd, 0, 0, 4096), EOPNOTSUPP);
	ERR(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096), EOPNOTSUPP);
	/* and glibc's posix_fallocate then emulates it by writing */
	rc = posix_fallocate(fd, 0, 10000);
	check(rc == 0, "posix_fallocate (glibc emulation): expected 0, got %s", strerror(rc));
	OK(close(fd));
	check(file_size(f) == 10000, "size after posix_fallocate: expected 10000, got %lld",
	      (long long)file_size(f));
	expect_range(f, 0, 10000, true, 0, 0);
}

static void test_copy_file_range(void **state)
{
	char d[PATH_MAX], s[PATH_MAX], t[PATH_MAX];
	size_t len = 3 * CS + 5, done = 0;
	loff_t in = 0, out = 0;
	int fi, fo;

	(void)state;
	tdir("cfr", d, sizeof(d));
	pjoin(s, sizeof(s), d, "src");
	pjoin(t, sizeof(t), d, "dst");
	make_file(s, len, 51);
	fi = open(s, O_RDONLY);
	fo = open(t, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	check(fi >= 0 && fo >= 0, "open: %s", strerror(errno));
	while (done < len) {
		ssize_t n = copy_file_range(fi, &in, fo, &out, len - done, 0);

		check(n > 0, "copy_file_range at %zu: %s", done,
		      n < 0 ? strerror(errno) : "0 bytes");
		done += (size_t)n;
	}
	/* a second copy at unaligned offsets, into the middle of the copy */
	in = 1000;
	out = CS - 7;
	done = 0;
	while (done < 2 * CS) {
		ssize_t n = copy_file_range(fi, &in, fo, &out, 2 * CS - done, 0);

		check(n > 0, "copy_file_range (offsets) at %zu: %s", done,
		      n < 0 ? strerror(errno) : "0 bytes");
		done += (size_t)n;
	}
	OK(close(fi));
	OK(close(fo));
	check(file_size(t) == (off_t)len, "size of the copy: expected %zu, got %lld", len,
	      (long long)file_size(t));
	expect_range(t, 0, CS - 7, false, 51, 0);
	expect_range(t, CS - 7, 2 * CS, false, 51, 1000);
	expect_range(t, 3 * CS - 7, 12, false, 51, 3 * CS - 7);
}

static void test_append(void **state)
{
	char d[PATH_MAX], f[PATH_MAX], buf[8];
	int fa, fw;

	(void)state;
	tdir("append", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	make_file(f, 1000, 61);
	fa = open(f, O_WRONLY | O_APPEND);
	check(fa >= 0, "open O_APPEND: %s", strerror(errno));
	OK(lseek(fa, 0, SEEK_SET));
	check(write(fa, "XYZ", 3) == 3, "append write: %s", strerror(errno));
	check(file_size(f) == 1003, "size after append: expected 1003, got %lld",
	      (long long)file_size(f));
	/* pwrite on an O_APPEND fd appends too (Linux) */
	check(pwrite(fa, "P", 1, 0) == 1, "pwrite on O_APPEND: %s", strerror(errno));
	/* another fd makes the file longer: the next append goes after that */
	fw = open(f, O_WRONLY);
	check(fw >= 0, "open: %s", strerror(errno));
	check(pwrite(fw, "W", 1, 1999) == 1, "pwrite at 1999: %s", strerror(errno));
	OK(close(fw));
	check(write(fa, "END", 3) == 3, "append write: %s", strerror(errno));
	OK(close(fa));
	check(file_size(f) == 2003, "size: expected 2003, got %lld", (long long)file_size(f));
	expect_range(f, 0, 1000, false, 61, 0);
	fa = open(f, O_RDONLY);
	check(fa >= 0, "open: %s", strerror(errno));
	check(pread(fa, buf, 4, 1000) == 4 && !memcmp(buf, "XYZP", 4),
	      "bytes at 1000: expected XYZP, got %.4s", buf);
	check(pread(fa, buf, 4, 1999) == 4 && !memcmp(buf, "WEND", 4),
	      "bytes at 1999: expected WEND, got %.4s", buf);
	close(fa);
	expect_range(f, 1004, 995, true, 0, 0);
}

static void test_unaligned_io(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	size_t len = 3 * CS / 2 + 333; /* spans two chunk boundaries */
	off_t off = CS - 3333;
	unsigned char *w = xmalloc(len), *r = xmalloc(len);
	int fd;

	(void)state;
	tdir("unaligned", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	pattern(w, len, (uint64_t)off, 71);
	fd = open(f, O_CREAT | O_TRUNC | O_RDWR, 0644);
	check(fd >= 0, "create: %s", strerror(errno));
	pwrite_all(fd, w, len, off);
	/* read back through the same fd before close, at another odd offset */
	check(pread_all(fd, r, 7777, off + 11) == 7777, "short pread");
	check(!memcmp(r, w + 11, 7777), "pread before close differs from what was written");
	/* small overwrites at odd offsets on both sides of the boundary */
	pwrite_all(fd, "ab", 2, CS - 1);
	memcpy(w + (CS - 1 - off), "ab", 2);
	pwrite_all(fd, "cdefg", 5, 2 * CS - 2);
	memcpy(w + (2 * CS - 2 - off), "cdefg", 5);
	OK(close(fd));
	check(file_size(f) == off + (off_t)len, "size: expected %lld, got %lld",
	      (long long)(off + (off_t)len), (long long)file_size(f));
	expect_range(f, 0, (size_t)off, true, 0, 0);
	fd = open(f, O_RDONLY);
	check(fd >= 0, "open: %s", strerror(errno));
	check(pread_all(fd, r, len, off) == len, "short pread after reopen");
	for (size_t i = 0; i < len; i++)
		if (r[i] != w[i])
			fail_msg("byte at %lld after reopen: expected 0x%02x, got 0x%02x",
				 (long long)(off + (off_t)i), w[i], r[i]);
	/* a read across EOF is short, a read past EOF is empty */
	check(pread(fd, r, 100, off + (off_t)len - 10) == 10, "read across EOF is not 10 bytes");
	check(pread(fd, r, 100, off + (off_t)len + 10) == 0, "read past EOF is not empty");
	close(fd);
	free(w);
	free(r);
}

static void test_utimensat(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	struct timespec ts[2], now;
	struct stat st, st2;

	(void)state;
	tdir("utimens", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	make_file(f, 10, 81);
	ts[0].tv_sec = 1000000000;
	ts[0].tv_nsec = 123456789;
	ts[1].tv_sec = 1100000000;
	ts[1].tv_nsec = 987654321;
	OK(utimensat(AT_FDCWD, f, ts, 0));
	OK(stat(f, &st));
	check(st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123456789,
	      "atime: expected 1000000000.123456789, got %lld.%09ld",
	      (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
	check(st.st_mtim.tv_sec == 1100000000 && st.st_mtim.tv_nsec == 987654321,
	      "mtime: expected 1100000000.987654321, got %lld.%09ld",
	      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);

	/* UTIME_OMIT keeps atime, UTIME_NOW sets mtime to now */
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_NOW;
	clock_gettime(CLOCK_REALTIME, &now);
	OK(utimensat(AT_FDCWD, f, ts, 0));
	OK(stat(f, &st2));
	check(st2.st_atim.tv_sec == 1000000000 && st2.st_atim.tv_nsec == 123456789,
	      "UTIME_OMIT changed atime to %lld.%09ld", (long long)st2.st_atim.tv_sec,
	      st2.st_atim.tv_nsec);
	check(st2.st_mtim.tv_sec >= now.tv_sec - 2 && st2.st_mtim.tv_sec <= now.tv_sec + 2,
	      "UTIME_NOW: mtime %lld is not now (%lld)", (long long)st2.st_mtim.tv_sec,
	      (long long)now.tv_sec);
	check(st2.st_ctim.tv_sec >= now.tv_sec - 2, "ctime did not move with utimensat");

	/* the other way round, and NULL (both now) through a file descriptor */
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_sec = 1200000000;
	ts[1].tv_nsec = 5;
	OK(utimensat(AT_FDCWD, f, ts, 0));
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_OMIT;
	OK(utimensat(AT_FDCWD, f, ts, 0)); /* both OMIT: nothing changes */
	OK(stat(f, &st2));
	check(st2.st_mtim.tv_sec == 1200000000 && st2.st_mtim.tv_nsec == 5,
	      "mtime: expected 1200000000.000000005, got %lld.%09ld",
	      (long long)st2.st_mtim.tv_sec, st2.st_mtim.tv_nsec);
	check(st2.st_atim.tv_sec >= now.tv_sec - 2, "UTIME_NOW atime %lld is not now",
	      (long long)st2.st_atim.tv_sec);
	int fd = open(f, O_RDWR);
	check(fd >= 0, "open: %s", strerror(errno));
	OK(futimens(fd, NULL));
	OK(close(fd));
	OK(stat(f, &st2));
	check(st2.st_mtim.tv_sec >= now.tv_sec - 2, "futimens(NULL): mtime %lld is not now",
	      (long long)st2.st_mtim.tv_sec);

}

/* The times set on an fd with buffered writes survive the close (tar sets
 * mtime with futimens before it closes the file it extracted). */
static void test_futimens_before_close(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	struct timespec ts[2];
	struct statx stx;
	int fd;

	(void)state;
	tdir("futimens", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	check(fd >= 0, "create: %s", strerror(errno));
	check(write(fd, "data written before futimens", 28) == 28, "write: %s", strerror(errno));
	ts[0].tv_sec = ts[1].tv_sec = 1300000000;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	OK(futimens(fd, ts));
	OK(close(fd));
	/* AT_STATX_FORCE_SYNC: ask the filesystem, not the kernel's cache */
	OK(statx(AT_FDCWD, f, AT_STATX_FORCE_SYNC, STATX_MTIME | STATX_SIZE, &stx));
	check(stx.stx_size == 28, "size: expected 28, got %llu", (unsigned long long)stx.stx_size);
	check(stx.stx_mtime.tv_sec == 1300000000,
	      "futimens before close: expected mtime 1300000000 after close, got %lld "
	      "(the flush at close overwrote it)", (long long)stx.stx_mtime.tv_sec);
}

static void test_fsync(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	int fd, dfd;

	(void)state;
	tdir("fsync", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	fd = open(f, O_CREAT | O_RDWR, 0644);
	check(fd >= 0, "create: %s", strerror(errno));
	check(write(fd, "durable", 7) == 7, "write: %s", strerror(errno));
	OK(fsync(fd));
	check(write(fd, "more", 4) == 4, "write: %s", strerror(errno));
	OK(fdatasync(fd));
	OK(fsync(fd)); /* nothing buffered: still 0 */
	OK(close(fd));
	dfd = open(d, O_RDONLY | O_DIRECTORY);
	check(dfd >= 0, "open dir: %s", strerror(errno));
	OK(fsync(dfd)); /* fsyncdir */
	OK(syncfs(dfd)); /* FUSE does not see it; it must not fail */
	OK(close(dfd));
	check(file_size(f) == 11, "size: expected 11, got %lld", (long long)file_size(f));
}

static void test_locks(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	struct flock fl;
	int fd1, fd2, status;
	pid_t pid;

	(void)state;
	tdir("locks", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	make_file(f, 1000, 91);
	fd1 = open(f, O_RDWR);
	fd2 = open(f, O_RDWR);
	check(fd1 >= 0 && fd2 >= 0, "open: %s", strerror(errno));

	/* BSD locks belong to the open file description */
	OK(flock(fd1, LOCK_EX | LOCK_NB));
	ERR(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	ERR(flock(fd2, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	OK(flock(fd1, LOCK_UN));
	OK(flock(fd2, LOCK_SH | LOCK_NB));
	OK(flock(fd1, LOCK_SH | LOCK_NB)); /* shared with shared */
	OK(flock(fd1, LOCK_UN));
	OK(flock(fd2, LOCK_UN));

	/* OFD locks: a second fd of the same process conflicts */
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 100;
	OK(fcntl(fd1, F_OFD_SETLK, &fl));
	fl.l_start = 50;
	ERR(fcntl(fd2, F_OFD_SETLK, &fl), EAGAIN);
	fl.l_start = 100;
	OK(fcntl(fd2, F_OFD_SETLK, &fl)); /* adjacent range: no conflict */
	fl.l_type = F_UNLCK;
	fl.l_start = 0;
	fl.l_len = 0;
	OK(fcntl(fd1, F_OFD_SETLK, &fl));
	OK(fcntl(fd2, F_OFD_SETLK, &fl));

	/* POSIX record locks: another process conflicts, F_GETLK names us */
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 100;
	OK(fcntl(fd1, F_SETLK, &fl));
	/* the same process through a second fd: same owner, no conflict */
	fl.l_start = 50;
	OK(fcntl(fd2, F_SETLK, &fl));
	fl.l_start = 0;
	fl.l_len = 150;
	fflush(NULL);
	pid = fork();
	check(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct flock c;
		int cfd = open(f, O_RDWR), code = 0;

		memset(&c, 0, sizeof(c));
		c.l_type = F_WRLCK;
		c.l_whence = SEEK_SET;
		c.l_start = 50;
		c.l_len = 100;
		if (cfd < 0)
			_exit(10);
		if (fcntl(cfd, F_SETLK, &c) == 0 || (errno != EAGAIN && errno != EACCES))
			code |= 1;
		if (fcntl(cfd, F_GETLK, &c) < 0 || c.l_type != F_WRLCK || c.l_pid != getppid())
			code |= 2;
		c.l_type = F_WRLCK;
		c.l_start = 150;
		c.l_len = 100;
		if (fcntl(cfd, F_SETLK, &c) < 0)
			code |= 4;
		_exit(code);
	}
	check(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "POSIX lock in a child: exit %d (1: F_SETLK did not conflict, 2: F_GETLK did not "
	      "report our lock, 4: a free range could not be locked, 10: open failed)",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	fl.l_type = F_UNLCK;
	OK(fcntl(fd1, F_SETLK, &fl));
	OK(close(fd1));
	OK(close(fd2));
}

static void test_xattr(void **state)
{
	char d[PATH_MAX], f[PATH_MAX], buf[4096];
	/* a valid POSIX ACL blob (version 2: user::rw- group::r-- other::r--),
	 * so the kernel's own format check passes and the filesystem answers */
	static const unsigned char acl[] = {
		2, 0, 0, 0,
		0x01, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
		0x04, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
		0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
	};
	ssize_t n;

	(void)state;
	tdir("xattr", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	make_file(f, 1, 101);

	OK(setxattr(f, "user.a", "alpha", 5, XATTR_CREATE));
	ERR(setxattr(f, "user.a", "again", 5, XATTR_CREATE), EEXIST);
	ERR(setxattr(f, "user.b", "beta", 4, XATTR_REPLACE), ENODATA);
	OK(setxattr(f, "user.a", "ALPHA!", 6, XATTR_REPLACE));
	OK(setxattr(f, "user.b", "", 0, 0)); /* empty value */
	n = getxattr(f, "user.a", NULL, 0);
	check(n == 6, "getxattr size query: expected 6, got %zd (%s)", n, strerror(errno));
	ERR(getxattr(f, "user.a", buf, 3), ERANGE);
	n = getxattr(f, "user.a", buf, sizeof(buf));
	check(n == 6 && !memcmp(buf, "ALPHA!", 6), "getxattr: expected ALPHA!, got %zd '%.*s'", n,
	      n > 0 ? (int)n : 0, buf);
	n = getxattr(f, "user.b", buf, sizeof(buf));
	check(n == 0, "empty xattr: expected length 0, got %zd (%s)", n, strerror(errno));
	ERR(getxattr(f, "user.none", buf, sizeof(buf)), ENODATA);

	n = listxattr(f, buf, sizeof(buf));
	check(n == (ssize_t)sizeof("user.a") + (ssize_t)sizeof("user.b"),
	      "listxattr: expected %zu bytes, got %zd (%s)",
	      sizeof("user.a") + sizeof("user.b"), n, strerror(errno));
	bool has_a = false, has_b = false;
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(buf + i) + 1) {
		has_a |= !strcmp(buf + i, "user.a");
		has_b |= !strcmp(buf + i, "user.b");
	}
	check(has_a && has_b, "listxattr does not list user.a and user.b");
	n = listxattr(f, NULL, 0);
	check(n == (ssize_t)sizeof("user.a") + (ssize_t)sizeof("user.b"),
	      "listxattr size query: got %zd", n);
	ERR(listxattr(f, buf, 3), ERANGE);

	OK(removexattr(f, "user.a"));
	ERR(getxattr(f, "user.a", buf, sizeof(buf)), ENODATA);
	ERR(removexattr(f, "user.a"), ENODATA);
	n = listxattr(f, buf, sizeof(buf));
	check(n == (ssize_t)sizeof("user.b"), "listxattr after remove: expected %zu, got %zd",
	      sizeof("user.b"), n);

	/* a 64 KiB value, the Linux maximum, and one byte more */
	char *big = xmalloc(65536);
	memset(big, 'v', 65536);
	OK(setxattr(f, "user.big", big, 65536, 0));
	n = getxattr(f, "user.big", NULL, 0);
	check(n == 65536, "64 KiB xattr: size %zd", n);
	ERR(setxattr(f, "user.toobig", big, 65537, 0), E2BIG);
	free(big);
	/* a 255-byte attribute name, "user." included, is the maximum (the
	 * kernel refuses longer ones with ERANGE before the filesystem) */
	char name[300];
	snprintf(name, sizeof(name), "user.%0250d", 0);
	OK(setxattr(f, name, "x", 1, 0));
	snprintf(name, sizeof(name), "user.%0251d", 0);
	ERR(setxattr(f, name, "x", 1, 0), ERANGE);

	/* xattrs on a directory and, through lsetxattr, on a symlink (Linux
	 * refuses user.* on symlinks) */
	OK(setxattr(d, "user.dir", "yes", 3, 0));
	n = getxattr(d, "user.dir", buf, sizeof(buf));
	check(n == 3 && !memcmp(buf, "yes", 3), "xattr on a directory: got %zd", n);
	char l[PATH_MAX];
	OK(symlink("file", pjoin(l, sizeof(l), d, "link")));
	ERR(lsetxattr(l, "user.x", "1", 1, 0), EPERM);

	/* ACLs are not enforced, so they are refused (DESIGN.md) */
	ERR(setxattr(f, "system.posix_acl_access", acl, sizeof(acl), 0), EOPNOTSUPP);
	ERR(setxattr(d, "system.posix_acl_default", acl, sizeof(acl), 0), EOPNOTSUPP);
}

static void test_unlink_open(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	unsigned char buf[100];
	struct stat st;
	int fd;

	(void)state;
	tdir("unlinkopen", d, sizeof(d));
	pjoin(f, sizeof(f), d, "file");
	make_file(f, 2 * CS, 111);
	fd = open(f, O_RDWR);
	check(fd >= 0, "open: %s", strerror(errno));
	OK(unlink(f));
	ERR(access(f, F_OK), ENOENT);
	OK(fstat(fd, &st));
	check(st.st_nlink == 0, "st_nlink of an unlinked open file: expected 0, got %lu",
	      (unsigned long)st.st_nlink);
	/* still readable and writable through the descriptor */
	check(pread_all(fd, buf, sizeof(buf), CS + 5) == sizeof(buf), "short read");
	unsigned char want[100];
	pattern(want, sizeof(want), CS + 5, 111);
	check(!memcmp(buf, want, sizeof(buf)), "data of the unlinked file changed");
	pwrite_all(fd, "still here", 10, 0);
	check(pread_all(fd, buf, 10, 0) == 10 && !memcmp(buf, "still here", 10),
	      "write to an unlinked open file did not read back");
	/* the name can be reused at once */
	make_file(f, 3, 112);
	expect_range(f, 0, 3, false, 112, 0);
	OK(close(fd));
	expect_range(f, 0, 3, false, 112, 0);
}

static void test_readdir_offsets(void **state)
{
	char d[PATH_MAX], p[PATH_MAX];
	struct dirent *de;
	long pos = -1;
	int count = 0, after = 0, n = 300;
	DIR *dir;

	(void)state;
	tdir("readdir", d, sizeof(d));
	for (int i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "entry-%03d", i);
		make_file(pjoin(p, sizeof(p), d, name), 0, 0);
	}
	/* telldir in the middle, read on, seekdir back: the same rest */
	dir = opendir(d);
	check(dir != NULL, "opendir: %s", strerror(errno));
	static char names[400][NAME_MAX + 1];
	int k = 0;
	while ((de = readdir(dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (count == n / 2)
			pos = telldir(dir);
		if (count >= n / 2 + 1 && k < 400)
			snprintf(names[k++], sizeof(names[0]), "%s", de->d_name);
		count++;
	}
	check(count == n, "readdir: expected %d entries, got %d", n, count);
	seekdir(dir, pos);
	while ((de = readdir(dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		check(after < k && !strcmp(de->d_name, names[after]),
		      "after seekdir: entry %d is %s, expected %s", after, de->d_name,
		      after < k ? names[after] : "(end)");
		after++;
	}
	check(after == k, "after seekdir: expected %d entries, got %d", k, after);
	closedir(dir);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_excl_and_enoent),
		cmocka_unit_test(test_enotdir_eisdir),
		cmocka_unit_test(test_nametoolong),
		cmocka_unit_test(test_rename_noreplace_exchange),
		cmocka_unit_test(test_seek_data_hole),
		cmocka_unit_test(test_punch_hole),
		cmocka_unit_test(test_zero_range),
		cmocka_unit_test(test_fallocate_plain),
		cmocka_unit_test(test_copy_file_range),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_unaligned_io),
		cmocka_unit_test(test_utimensat),
		cmocka_unit_test(test_futimens_before_close),
		cmocka_unit_test(test_fsync),
		cmocka_unit_test(test_locks),
		cmocka_unit_test(test_xattr),
		cmocka_unit_test(test_unlink_open),
		cmocka_unit_test(test_readdir_offsets),
	};
	struct stat st;

	if (argc != 2) {
		fprintf(stderr, "usage: posix_check MOUNTED_DIR\n");
		return 2;
	}
	if (stat(argv[1], &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "posix_check: %s is not a directory\n", argv[1]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(g_base, sizeof(g_base), "%s/posix.%ld", argv[1], (long)getpid());
	return cmocka_run_group_tests_name("posix_check", tests, group_setup, group_teardown);
}
