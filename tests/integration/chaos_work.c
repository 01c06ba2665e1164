// SPDX-License-Identifier: MIT
/*
 * chaos_work.c - the random workload of fs_chaos.sh, run against a mounted
 * QuorumFS directory and a plain local directory (the model) at once.
 * Test helper only.
 *
 *   chaos_work run MNT MODEL SEED SECONDS [CHUNK_SIZE] [MAX_OPS]
 *   chaos_work verify MNT MODEL
 *
 * run: every operation is chosen from the model's tree (so it is valid),
 * applied to the model first and then, identically, to the mount: creates,
 * whole-file rewrites (O_TRUNC), writes at random offsets (small ones and
 * ones that cross chunk boundaries), appends, truncates that shrink and
 * grow, renames of files and directories (within and across directories,
 * over an existing file or empty directory), hard links, unlinks, mkdir,
 * rmdir, and checks (a file read back, plain or O_DIRECT; stat; readdir)
 * that compare the mount with the model. The sequence of operations
 * depends only on SEED (names are sorted, contents come from the seed), so
 * a failure is reproduced by the same seed; SECONDS only decides where it
 * stops. ANY error on the mount, or a check that differs, ends the run:
 * the message names the seed, the operation number and what it did, and
 * the last operations before it are printed. Exit status 0, 1 (the mount
 * failed or differs) or 2 (usage, or the model itself failed).
 *
 * verify: the two trees must be equal: the same names and types, modes,
 * sizes and bytes, nlink, and the same grouping of names into inodes (hard
 * links). Prints a summary; exit 0 equal, 1 different, 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CW_MAX_NAMES 60	 /* file names in the tree, at most */
#define CW_MAX_DIRS 16	 /* directories besides the root */
#define CW_MAX_DEPTH 3	 /* mkdir only below this depth */
#define CW_HISTORY 24	 /* operations printed after a failure */
#define CW_SLOW_MS 1000	 /* an operation slower than this is counted */

enum cw_op {
	CW_CREATE,
	CW_REWRITE,
	CW_WRITE,
	CW_WRITE_CROSS,
	CW_APPEND,
	CW_TRUNC_SHRINK,
	CW_TRUNC_GROW,
	CW_RENAME,
	CW_RENAME_OVER,
	CW_RENAME_DIR,
	CW_LINK,
	CW_UNLINK,
	CW_MKDIR,
	CW_RMDIR,
	CW_READ,
	CW_STAT,
	CW_READDIR,
	CW_NOPS
};

static const char *const cw_op_name[CW_NOPS] = {
	[CW_CREATE] = "create",		[CW_REWRITE] = "rewrite",
	[CW_WRITE] = "write",		[CW_WRITE_CROSS] = "write_cross",
	[CW_APPEND] = "append",		[CW_TRUNC_SHRINK] = "trunc_shrink",
	[CW_TRUNC_GROW] = "trunc_grow",	[CW_RENAME] = "rename",
	[CW_RENAME_OVER] = "rename_over", [CW_RENAME_DIR] = "rename_dir",
	[CW_LINK] = "link",		[CW_UNLINK] = "unlink",
	[CW_MKDIR] = "mkdir",		[CW_RMDIR] = "rmdir",
	[CW_READ] = "read",		[CW_STAT] = "stat",
	[CW_READDIR] = "readdir",
};

/* relative weights of the operations (when they apply) */
static const unsigned cw_weight[CW_NOPS] = {
	[CW_CREATE] = 10,	[CW_REWRITE] = 4,	[CW_WRITE] = 12,
	[CW_WRITE_CROSS] = 10,	[CW_APPEND] = 5,	[CW_TRUNC_SHRINK] = 5,
	[CW_TRUNC_GROW] = 4,	[CW_RENAME] = 6,	[CW_RENAME_OVER] = 3,
	[CW_RENAME_DIR] = 3,	[CW_LINK] = 5,		[CW_UNLINK] = 6,
	[CW_MKDIR] = 3,		[CW_RMDIR] = 2,		[CW_READ] = 10,
	[CW_STAT] = 3,		[CW_READDIR] = 3,
};

/* One operation, fully decided before it is applied to either tree. */
struct cw_act {
	enum cw_op op;
	char a[PATH_MAX];	/* relative path of the object */
	char b[PATH_MAX];	/* rename / link: relative target path */
	uint64_t off;		/* write: offset; truncate: new size */
	uint64_t len;		/* write: bytes */
	uint64_t dseed;		/* write: content seed */
	bool sync;		/* fsync before close */
	bool via_fd;		/* truncate: ftruncate on an open fd */
	bool direct;		/* read: O_DIRECT */
};

/* The model's tree, re-read before every operation (sorted, so the
 * choices depend only on the seed). dirs[0] is the root "". */
struct cw_tree {
	char files[CW_MAX_NAMES * 2][PATH_MAX];
	uint64_t fsize[CW_MAX_NAMES * 2];
	int nfiles;
	char dirs[CW_MAX_DIRS * 2 + 1][PATH_MAX];
	int dentries[CW_MAX_DIRS * 2 + 1];	/* entries in the directory */
	int ndirs;
};

static uint64_t cw_rng;
static uint64_t cw_seed;
static uint64_t cw_chunk = 1024 * 1024;
static unsigned long cw_opno;
static char cw_hist[CW_HISTORY][PATH_MAX * 2 + 128];
static uint8_t *cw_buf, *cw_rbuf, *cw_mbuf;
static uint64_t cw_bufsz;

/* xorshift64*: the one random source of the workload */
static uint64_t cw_rand(void)
{
	cw_rng ^= cw_rng >> 12;
	cw_rng ^= cw_rng << 25;
	cw_rng ^= cw_rng >> 27;
	return cw_rng * 2685821657736338717ULL;
}

/* uniform in [lo, hi] */
static uint64_t cw_range(uint64_t lo, uint64_t hi)
{
	return lo + cw_rand() % (hi - lo + 1);
}

static uint64_t cw_max_size(void)
{
	return 4 * cw_chunk + cw_chunk / 2;
}

/* Fill cw_buf[0..len) from @dseed (independent of the main stream). */
static void cw_fill(uint64_t dseed, uint64_t len)
{
	uint64_t x = dseed * 0x9E3779B97F4A7C15ULL + 1;

	for (uint64_t i = 0; i < len; i += 8) {
		uint64_t v;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 2685821657736338717ULL;
		memcpy(cw_buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static double cw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void cw_path(char *out, const char *root, const char *rel)
{
	int n = rel[0] ? snprintf(out, PATH_MAX, "%s/%s", root, rel)
		       : snprintf(out, PATH_MAX, "%s", root);

	if (n < 0 || n >= PATH_MAX)
		abort(); /* the tree is a few short names deep */
}

static int cw_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The sorted entry names of directory @path (without . and ..) in a
 * malloc'd array of malloc'd strings. Returns the count, or -errno.
 */
static int cw_list(const char *path, char ***out)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **v = NULL;
	int n = 0, cap = 0, rc;

	if (!d)
		return -errno;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv)
				abort();
			v = nv;
		}
		v[n] = strdup(de->d_name);
		if (!v[n])
			abort();
		n++;
		errno = 0;
	}
	rc = errno ? -errno : 0;
	closedir(d);
	if (rc) {
		for (int i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return rc;
	}
	if (n)
		qsort(v, (size_t)n, sizeof(*v), cw_strcmp);
	*out = v;
	return n;
}

static void cw_list_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Add the model directory @rel (index @di in t->dirs) and everything below. */
static int cw_scan_dir(const char *model, struct cw_tree *t, int di)
{
	char path[PATH_MAX], rel[PATH_MAX], **names = NULL;
	int n;

	cw_path(path, model, t->dirs[di]);
	n = cw_list(path, &names);
	if (n < 0)
		return n;
	t->dentries[di] = n;
	for (int i = 0; i < n; i++) {
		struct stat st;

		if (t->dirs[di][0])
			snprintf(rel, sizeof(rel), "%s/%s", t->dirs[di], names[i]);
		else
			snprintf(rel, sizeof(rel), "%s", names[i]);
		cw_path(path, model, rel);
		if (lstat(path, &st) < 0) {
			cw_list_free(names, n);
			return -errno;
		}
		if (S_ISDIR(st.st_mode) && t->ndirs < (int)(sizeof(t->dirs) / sizeof(t->dirs[0]))) {
			int nd = t->ndirs++;
			int rc;

			snprintf(t->dirs[nd], PATH_MAX, "%s", rel);
			rc = cw_scan_dir(model, t, nd);
			if (rc < 0) {
				cw_list_free(names, n);
				return rc;
			}
		} else if (S_ISREG(st.st_mode) &&
			   t->nfiles < (int)(sizeof(t->files) / sizeof(t->files[0]))) {
			snprintf(t->files[t->nfiles], PATH_MAX, "%s", rel);
			t->fsize[t->nfiles++] = (uint64_t)st.st_size;
		}
	}
	cw_list_free(names, n);
	return 0;
}

static int cw_scan(const char *model, struct cw_tree *t)
{
	t->nfiles = 0;
	t->ndirs = 1;
	t->dirs[0][0] = '\0';
	return cw_scan_dir(model, t, 0);
}

static int cw_depth(const char *rel)
{
	int d = rel[0] ? 1 : 0;

	for (const char *p = rel; *p; p++)
		d += *p == '/';
	return d;
}

/* True when directory @rel is @anc or lies below it. */
static bool cw_within(const char *rel, const char *anc)
{
	size_t n = strlen(anc);

	if (!anc[0])
		return true;
	return !strncmp(rel, anc, n) && (rel[n] == '\0' || rel[n] == '/');
}

static void cw_join(char *out, const char *dir, const char *name)
{
	int n = dir[0] ? snprintf(out, PATH_MAX, "%s/%s", dir, name)
		       : snprintf(out, PATH_MAX, "%s", name);

	if (n < 0 || n >= PATH_MAX)
		abort(); /* the tree is at most CW_MAX_DEPTH + 2 short names deep */
}

/* A new name in directory @dir, e.g. "f17" (unique: a counter). */
static void cw_new_name(char *out, const char *dir, char prefix)
{
	static unsigned long counter;
	char name[32];

	snprintf(name, sizeof(name), "%c%lu", prefix, ++counter);
	cw_join(out, dir, name);
}

/* ---- choosing an operation ---- */

static bool cw_applicable(const struct cw_tree *t, enum cw_op op)
{
	int names = t->nfiles, empty = 0;

	for (int i = 1; i < t->ndirs; i++)
		empty += t->dentries[i] == 0;
	switch (op) {
	case CW_CREATE:
	case CW_LINK:
		return names < CW_MAX_NAMES && (op == CW_CREATE || t->nfiles > 0);
	case CW_MKDIR:
		return t->ndirs - 1 < CW_MAX_DIRS;
	case CW_RMDIR:
		return empty > 0;
	case CW_RENAME_DIR:
		return t->ndirs > 1;
	case CW_RENAME_OVER:
		return t->nfiles > 1;
	case CW_READDIR:
		return true;
	default:
		return t->nfiles > 0;
	}
}

/* Decide the next operation from the model's tree @t. */
static void cw_choose(const struct cw_tree *t, struct cw_act *x)
{
	unsigned total = 0, r;
	int fi, di;

	memset(x, 0, sizeof(*x));
	for (int op = 0; op < CW_NOPS; op++)
		total += cw_applicable(t, op) ? cw_weight[op] : 0;
	r = (unsigned)cw_range(0, total - 1);
	for (int op = 0; op < CW_NOPS; op++) {
		unsigned w = cw_applicable(t, op) ? cw_weight[op] : 0;

		if (r < w) {
			x->op = op;
			break;
		}
		r -= w;
	}
	fi = t->nfiles ? (int)cw_range(0, (uint64_t)t->nfiles - 1) : -1;
	di = (int)cw_range(0, (uint64_t)t->ndirs - 1);
	x->dseed = cw_rand();
	x->sync = cw_range(0, 9) == 0;
	switch (x->op) {
	case CW_CREATE:
	case CW_REWRITE: {
		uint64_t pick = cw_range(0, 9);

		if (x->op == CW_CREATE)
			cw_new_name(x->a, t->dirs[di], 'f');
		else
			snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		/* 40% small, 10% empty, else up to the maximum */
		x->len = pick < 4 ? cw_range(1, 4096) : pick < 5 ? 0 : cw_range(1, cw_max_size());
		break;
	}
	case CW_WRITE:
		snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		x->len = cw_range(1, 4096);
		/* anywhere up to half a chunk past EOF (a hole) */
		x->off = cw_range(0, t->fsize[fi] + cw_chunk / 2);
		if (x->off + x->len > cw_max_size())
			x->off = cw_max_size() - x->len;
		break;
	case CW_WRITE_CROSS: {
		/* starts before a chunk boundary and ends past it (maybe the next) */
		uint64_t k = cw_range(1, 3), before = cw_range(1, cw_chunk / 2);

		snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		x->off = k * cw_chunk - before;
		x->len = before + cw_range(1, cw_chunk + cw_chunk / 2);
		if (x->off + x->len > cw_max_size())
			x->len = cw_max_size() - x->off;
		break;
	}
	case CW_APPEND:
		snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		x->len = cw_range(1, cw_range(0, 1) ? 2048 : cw_chunk);
		if (t->fsize[fi] + x->len > cw_max_size())
			x->len = t->fsize[fi] < cw_max_size() ? cw_max_size() - t->fsize[fi] : 0;
		break;
	case CW_TRUNC_SHRINK:
		snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		x->off = cw_range(0, 3) == 0 ? (t->fsize[fi] / cw_chunk) * cw_chunk
					     : cw_range(0, t->fsize[fi]);
		x->via_fd = cw_range(0, 1);
		break;
	case CW_TRUNC_GROW:
		snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		x->off = t->fsize[fi] + cw_range(1, cw_chunk + cw_chunk / 2);
		if (x->off > cw_max_size())
			x->off = cw_max_size();
		x->via_fd = cw_range(0, 1);
		break;
	case CW_RENAME:
		snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		cw_new_name(x->b, t->dirs[di], 'r');
		break;
	case CW_RENAME_OVER: {
		int fj = (int)cw_range(0, (uint64_t)t->nfiles - 2);

		if (fj >= fi)
			fj++;
		/* two names of one inode make it a successful no-op: also fine */
		snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		snprintf(x->b, PATH_MAX, "%s", t->files[fj]);
		break;
	}
	case CW_RENAME_DIR: {
		int si = (int)cw_range(1, (uint64_t)t->ndirs - 1), tries = 0, ti = 0;

		snprintf(x->a, PATH_MAX, "%s", t->dirs[si]);
		/* the new parent: not the source nor below it */
		do {
			di = (int)cw_range(0, (uint64_t)t->ndirs - 1);
		} while (cw_within(t->dirs[di], x->a) && ++tries < 16);
		if (cw_within(t->dirs[di], x->a))
			di = 0; /* the root is never below a directory */
		/* one time in four over an empty directory outside the source */
		if (cw_range(0, 3) == 0) {
			for (int i = 1; i < t->ndirs; i++) {
				int j = 1 + (int)((i + si) % (t->ndirs - 1));

				if (j != si && t->dentries[j] == 0 && !cw_within(t->dirs[j], x->a)) {
					ti = j;
					break;
				}
			}
		}
		if (ti)
			snprintf(x->b, PATH_MAX, "%s", t->dirs[ti]);
		else
			cw_new_name(x->b, t->dirs[di], 'd');
		break;
	}
	case CW_LINK:
		snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		cw_new_name(x->b, t->dirs[di], 'l');
		break;
	case CW_UNLINK:
	case CW_STAT:
		snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		break;
	case CW_READ:
		snprintf(x->a, PATH_MAX, "%s", t->files[fi]);
		x->direct = cw_range(0, 1);
		break;
	case CW_MKDIR:
		while (cw_depth(t->dirs[di]) >= CW_MAX_DEPTH)
			di = (int)cw_range(0, (uint64_t)t->ndirs - 1);
		cw_new_name(x->a, t->dirs[di], 'd');
		break;
	case CW_RMDIR: {
		int k = (int)cw_range(0, (uint64_t)t->ndirs - 2);

		for (int i = 0; i < t->ndirs - 1; i++) {
			int j = 1 + (k + i) % (t->ndirs - 1);

			if (t->dentries[j] == 0) {
				snprintf(x->a, PATH_MAX, "%s", t->dirs[j]);
				break;
			}
		}
		break;
	}
	case CW_READDIR:
		snprintf(x->a, PATH_MAX, "%s", t->dirs[di]);
		break;
	default:
		break;
	}
}

static void cw_describe(const struct cw_act *x, char *out, size_t size)
{
	switch (x->op) {
	case CW_RENAME:
	case CW_RENAME_OVER:
	case CW_RENAME_DIR:
	case CW_LINK:
		snprintf(out, size, "%s /%s -> /%s", cw_op_name[x->op], x->a, x->b);
		break;
	case CW_TRUNC_SHRINK:
	case CW_TRUNC_GROW:
		snprintf(out, size, "%s /%s to %" PRIu64 "%s", cw_op_name[x->op], x->a, x->off,
			 x->via_fd ? " (ftruncate)" : "");
		break;
	case CW_CREATE:
	case CW_REWRITE:
	case CW_APPEND:
	case CW_WRITE:
	case CW_WRITE_CROSS:
		snprintf(out, size, "%s /%s off %" PRIu64 " len %" PRIu64 "%s", cw_op_name[x->op],
			 x->a, x->off, x->len, x->sync ? " +fsync" : "");
		break;
	case CW_READ:
		snprintf(out, size, "read /%s%s", x->a, x->direct ? " (O_DIRECT)" : "");
		break;
	default:
		snprintf(out, size, "%s /%s", cw_op_name[x->op], x->a);
		break;
	}
}

/* ---- applying an operation to one tree ---- */

static int cw_write_full(int fd, const uint8_t *p, uint64_t len, uint64_t off, bool append)
{
	while (len) {
		ssize_t n = append ? write(fd, p, len) : pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (uint64_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* close(), whose error counts (FUSE FLUSH reports the write-back) */
static int cw_close(int fd, int rc)
{
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc;
}

/* Apply a mutating operation under @root. Returns 0 or -errno; *where says
 * which syscall failed. */
static int cw_apply(const char *root, const struct cw_act *x, const char **where)
{
	char pa[PATH_MAX], pb[PATH_MAX];
	int fd, rc = 0, flags;

	cw_path(pa, root, x->a);
	cw_path(pb, root, x->b);
	switch (x->op) {
	case CW_CREATE:
	case CW_REWRITE:
	case CW_WRITE:
	case CW_WRITE_CROSS:
	case CW_APPEND:
		flags = x->op == CW_CREATE	? O_WRONLY | O_CREAT | O_EXCL
			: x->op == CW_REWRITE	? O_WRONLY | O_TRUNC
			: x->op == CW_APPEND	? O_WRONLY | O_APPEND
						: O_WRONLY;
		*where = "open";
		fd = open(pa, flags | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		*where = "write";
		rc = cw_write_full(fd, cw_buf, x->len, x->off, x->op == CW_APPEND);
		if (!rc && x->sync) {
			*where = "fsync";
			rc = fsync(fd) < 0 ? -errno : 0;
		}
		if (!rc)
			*where = "close";
		return cw_close(fd, rc);
	case CW_TRUNC_SHRINK:
	case CW_TRUNC_GROW:
		if (!x->via_fd) {
			*where = "truncate";
			return truncate(pa, (off_t)x->off) < 0 ? -errno : 0;
		}
		*where = "open";
		fd = open(pa, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		*where = "ftruncate";
		rc = ftruncate(fd, (off_t)x->off) < 0 ? -errno : 0;
		if (!rc)
			*where = "close";
		return cw_close(fd, rc);
	case CW_RENAME:
	case CW_RENAME_OVER:
	case CW_RENAME_DIR:
		*where = "rename";
		return rename(pa, pb) < 0 ? -errno : 0;
	case CW_LINK:
		*where = "link";
		return link(pa, pb) < 0 ? -errno : 0;
	case CW_UNLINK:
		*where = "unlink";
		return unlink(pa) < 0 ? -errno : 0;
	case CW_MKDIR:
		*where = "mkdir";
		return mkdir(pa, 0755) < 0 ? -errno : 0;
	case CW_RMDIR:
		*where = "rmdir";
		return rmdir(pa) < 0 ? -errno : 0;
	default:
		return -EINVAL;
	}
}

/* Read all of @path into @buf (cw_bufsz bytes at most); size in *len. */
static int cw_read_all(const char *path, bool direct, uint8_t *buf, uint64_t *len,
		       const char **where)
{
	uint64_t got = 0;
	int fd, rc = 0;

	*where = "open";
	fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (fd < 0)
		return -errno;
	*where = "read";
	for (;;) {
		ssize_t n;

		if (got >= cw_bufsz) {
			rc = -EFBIG;
			break;
		}
		n = pread(fd, buf + got, cw_bufsz - got, (off_t)got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		got += (uint64_t)n;
	}
	*len = got;
	if (!rc)
		*where = "close";
	return cw_close(fd, rc);
}

/* ---- checks of the mount against the model ---- */

static char cw_why[PATH_MAX + 256];

/* Compare file @rel in both trees. Returns 0, 1 (differs, cw_why says how)
 * or -errno from the mount (*where) or -EUCLEAN (the model failed). */
static int cw_cmp_file(const char *mnt, const char *model, const char *rel, bool direct,
		       const char **where)
{
	char pm[PATH_MAX], pl[PATH_MAX];
	uint64_t nm = 0, nl = 0;
	const char *w2;
	int rc;

	cw_path(pm, mnt, rel);
	cw_path(pl, model, rel);
	if (cw_read_all(pl, false, cw_mbuf, &nl, &w2) < 0)
		return -EUCLEAN;
	rc = cw_read_all(pm, direct, cw_rbuf, &nm, where);
	if (rc < 0)
		return rc;
	if (nm != nl) {
		snprintf(cw_why, sizeof(cw_why), "/%s: %" PRIu64 " bytes on the mount, %" PRIu64
			 " in the model", rel, nm, nl);
		return 1;
	}
	if (memcmp(cw_rbuf, cw_mbuf, nl)) {
		uint64_t i = 0;

		while (cw_rbuf[i] == cw_mbuf[i])
			i++;
		snprintf(cw_why, sizeof(cw_why), "/%s (%" PRIu64 " bytes): first difference at "
			 "byte %" PRIu64 " (chunk %" PRIu64 " offset %" PRIu64 ")", rel, nl, i,
			 i / cw_chunk, i % cw_chunk);
		return 1;
	}
	return 0;
}

static int cw_check(const char *mnt, const char *model, const struct cw_act *x,
		    const char **where)
{
	char pm[PATH_MAX], pl[PATH_MAX];
	struct stat sm, sl;

	cw_path(pm, mnt, x->a);
	cw_path(pl, model, x->a);
	switch (x->op) {
	case CW_READ:
		return cw_cmp_file(mnt, model, x->a, x->direct, where);
	case CW_STAT:
		if (stat(pl, &sl) < 0)
			return -EUCLEAN;
		*where = "stat";
		if (stat(pm, &sm) < 0)
			return -errno;
		if (sm.st_size != sl.st_size || sm.st_nlink != sl.st_nlink ||
		    sm.st_mode != sl.st_mode) {
			snprintf(cw_why, sizeof(cw_why), "/%s: size %jd nlink %ju mode %o on the "
				 "mount, %jd %ju %o in the model", x->a, (intmax_t)sm.st_size,
				 (uintmax_t)sm.st_nlink, sm.st_mode, (intmax_t)sl.st_size,
				 (uintmax_t)sl.st_nlink, sl.st_mode);
			return 1;
		}
		return 0;
	case CW_READDIR: {
		char **vm = NULL, **vl = NULL;
		int nm, nl, rc = 0;

		nl = cw_list(pl, &vl);
		if (nl < 0)
			return -EUCLEAN;
		*where = "readdir";
		nm = cw_list(pm, &vm);
		if (nm < 0) {
			cw_list_free(vl, nl);
			return nm;
		}
		for (int i = 0; !rc && i < (nm > nl ? nm : nl); i++) {
			if (i >= nm || i >= nl || strcmp(vm[i], vl[i])) {
				snprintf(cw_why, sizeof(cw_why), "/%s: %d entries on the mount, %d in "
					 "the model; first difference: '%s' vs '%s'", x->a, nm, nl,
					 i < nm ? vm[i] : "(end)", i < nl ? vl[i] : "(end)");
				rc = 1;
			}
		}
		cw_list_free(vm, nm);
		cw_list_free(vl, nl);
		return rc;
	}
	default:
		return -EINVAL;
	}
}

static bool cw_is_check(enum cw_op op)
{
	return op == CW_READ || op == CW_STAT || op == CW_READDIR;
}

static void cw_alloc(void)
{
	cw_bufsz = cw_max_size() + 2 * cw_chunk;
	if (posix_memalign((void **)&cw_buf, 4096, cw_bufsz) ||
	    posix_memalign((void **)&cw_rbuf, 4096, cw_bufsz) ||
	    posix_memalign((void **)&cw_mbuf, 4096, cw_bufsz)) {
		fprintf(stderr, "chaos_work: out of memory\n");
		exit(2);
	}
}

static void cw_print_history(void)
{
	unsigned long first = cw_opno >= CW_HISTORY ? cw_opno - CW_HISTORY + 1 : 1;

	fprintf(stderr, "chaos_work: the last operations (seed %" PRIu64 "):\n", cw_seed);
	for (unsigned long i = first; i <= cw_opno; i++)
		fprintf(stderr, "  #%lu %s\n", i, cw_hist[i % CW_HISTORY]);
}

static int cw_run(const char *mnt, const char *model, double seconds, unsigned long max_ops)
{
	static struct cw_tree t;
	unsigned long count[CW_NOPS] = { 0 }, slow = 0;
	double t0 = cw_now_ms(), worst = 0;
	char worst_what[PATH_MAX * 2 + 128] = "";
	uint64_t bytes = 0;
	struct cw_act x;
	int rc;

	cw_alloc();
	while (cw_now_ms() - t0 < seconds * 1000 && (!max_ops || cw_opno < max_ops)) {
		const char *where = "?";
		char *desc;
		double s;

		rc = cw_scan(model, &t);
		if (rc < 0) {
			fprintf(stderr, "chaos_work: cannot read the model: %s\n", strerror(-rc));
			return 2;
		}
		cw_choose(&t, &x);
		cw_opno++;
		desc = cw_hist[cw_opno % CW_HISTORY];
		cw_describe(&x, desc, sizeof(cw_hist[0]));
		if (cw_is_check(x.op)) {
			s = cw_now_ms();
			rc = cw_check(mnt, model, &x, &where);
			s = cw_now_ms() - s;
			if (rc == -EUCLEAN) {
				fprintf(stderr, "chaos_work: op #%lu %s: the model failed\n", cw_opno,
					desc);
				return 2;
			}
			if (rc == 1) {
				cw_print_history();
				fprintf(stderr, "chaos_work: seed %" PRIu64 " op #%lu %s: the mount "
					"differs from the model: %s\n", cw_seed, cw_opno, desc, cw_why);
				return 1;
			}
		} else {
			cw_fill(x.dseed, x.len);
			rc = cw_apply(model, &x, &where);
			if (rc < 0) {
				fprintf(stderr, "chaos_work: op #%lu %s: the model failed in %s: %s\n",
					cw_opno, desc, where, strerror(-rc));
				return 2;
			}
			s = cw_now_ms();
			rc = cw_apply(mnt, &x, &where);
			s = cw_now_ms() - s;
			bytes += x.len;
		}
		if (rc < 0) {
			cw_print_history();
			fprintf(stderr, "chaos_work: seed %" PRIu64 " op #%lu %s: %s on the mount "
				"failed after %.0f ms: %s\n", cw_seed, cw_opno, desc, where, s,
				strerror(-rc));
			return 1;
		}
		count[x.op]++;
		if (s > worst) {
			worst = s;
			snprintf(worst_what, sizeof(worst_what), "#%lu %s", cw_opno, desc);
		}
		slow += s > CW_SLOW_MS;
	}
	printf("chaos_work: seed %" PRIu64 ": %lu ops in %.1f s, %" PRIu64 " bytes written\n",
	       cw_seed, cw_opno, (cw_now_ms() - t0) / 1000, bytes);
	printf("ops:");
	for (int op = 0; op < CW_NOPS; op++)
		printf(" %s=%lu", cw_op_name[op], count[op]);
	printf("\nslowest: %.0f ms (%s); over %d ms: %lu\n", worst, worst_what, CW_SLOW_MS, slow);
	rc = cw_scan(model, &t);
	printf("model: %d dirs, %d file names\n", t.ndirs, t.nfiles);
	return 0;
}

/* ---- verify ---- */

struct cw_pair {
	dev_t dl;
	ino_t il;	/* inode in the model */
	ino_t im;	/* inode on the mount */
};

struct cw_vstate {
	const char *mnt, *model;
	unsigned long dirs, names, diffs, linked;
	uint64_t bytes;
	struct cw_pair *pairs;
	size_t npairs, cap;
};

static void cw_vdiff(struct cw_vstate *v, const char *rel, const char *what, const char *arg)
{
	if (v->diffs++ < 30)
		fprintf(stderr, "chaos_work: verify: /%s: %s%s\n", rel, what, arg);
}

static int cw_verify_dir(struct cw_vstate *v, const char *rel)
{
	char pm[PATH_MAX], pl[PATH_MAX], sub[PATH_MAX], **vm = NULL, **vl = NULL;
	int nm, nl, i = 0, j = 0;

	cw_path(pm, v->mnt, rel);
	cw_path(pl, v->model, rel);
	nl = cw_list(pl, &vl);
	if (nl < 0) {
		cw_vdiff(v, rel, "the model cannot be listed: ", strerror(-nl));
		return 2;
	}
	nm = cw_list(pm, &vm);
	if (nm < 0) {
		cw_vdiff(v, rel, "listing the mount failed: ", strerror(-nm));
		cw_list_free(vl, nl);
		return 1;
	}
	v->dirs++;
	while (i < nm || j < nl) {
		int c = i >= nm ? 1 : j >= nl ? -1 : strcmp(vm[i], vl[j]);
		struct stat sm, sl;

		if (c < 0) {
			cw_join(sub, rel, vm[i++]);
			cw_vdiff(v, sub, "on the mount, not in the model", "");
			continue;
		}
		if (c > 0) {
			cw_join(sub, rel, vl[j++]);
			cw_vdiff(v, sub, "in the model, not on the mount", "");
			continue;
		}
		cw_join(sub, rel, vl[j]);
		i++;
		j++;
		v->names++;
		cw_path(pl, v->model, sub);
		cw_path(pm, v->mnt, sub);
		if (lstat(pl, &sl) < 0 || lstat(pm, &sm) < 0) {
			cw_vdiff(v, sub, "lstat failed: ", strerror(errno));
			continue;
		}
		if ((sm.st_mode & S_IFMT) != (sl.st_mode & S_IFMT)) {
			cw_vdiff(v, sub, "not the same type", "");
			continue;
		}
		if (sm.st_mode != sl.st_mode) {
			char m[64];

			snprintf(m, sizeof(m), "mode %o on the mount, %o in the model", sm.st_mode,
				 sl.st_mode);
			cw_vdiff(v, sub, m, "");
		}
		if (S_ISDIR(sl.st_mode)) {
			int rc = cw_verify_dir(v, sub);

			if (rc == 2) {
				cw_list_free(vm, nm);
				cw_list_free(vl, nl);
				return 2;
			}
			continue;
		}
		if (sm.st_nlink != sl.st_nlink) {
			char m[64];

			snprintf(m, sizeof(m), "nlink %ju on the mount, %ju in the model",
				 (uintmax_t)sm.st_nlink, (uintmax_t)sl.st_nlink);
			cw_vdiff(v, sub, m, "");
		}
		if (v->npairs == v->cap) {
			struct cw_pair *np;

			v->cap = v->cap ? v->cap * 2 : 64;
			np = realloc(v->pairs, v->cap * sizeof(*np));
			if (!np)
				abort();
			v->pairs = np;
		}
		v->pairs[v->npairs++] = (struct cw_pair){ sl.st_dev, sl.st_ino, sm.st_ino };
		{
			const char *where;
			int rc = cw_cmp_file(v->mnt, v->model, sub, false, &where);

			if (rc == 1)
				cw_vdiff(v, sub, cw_why, "");
			else if (rc < 0)
				cw_vdiff(v, sub, "reading failed: ", strerror(-rc));
			else
				v->bytes += (uint64_t)sl.st_size;
		}
	}
	cw_list_free(vm, nm);
	cw_list_free(vl, nl);
	return 0;
}

static int cw_pair_cmp_l(const void *a, const void *b)
{
	const struct cw_pair *x = a, *y = b;

	return x->il < y->il ? -1 : x->il > y->il ? 1 : x->im < y->im ? -1 : x->im > y->im;
}

static int cw_pair_cmp_m(const void *a, const void *b)
{
	const struct cw_pair *x = a, *y = b;

	return x->im < y->im ? -1 : x->im > y->im ? 1 : x->il < y->il ? -1 : x->il > y->il;
}

/* The names of one model inode are the names of one mount inode, and back. */
static void cw_verify_links(struct cw_vstate *v)
{
	size_t n = v->npairs;

	qsort(v->pairs, n, sizeof(*v->pairs), cw_pair_cmp_l);
	for (size_t i = 1; i < n; i++) {
		if (v->pairs[i].il == v->pairs[i - 1].il) {
			if (v->pairs[i].im != v->pairs[i - 1].im)
				cw_vdiff(v, "(hard links)", "names of one model inode are "
					 "different inodes on the mount", "");
			else if (i == 1 || v->pairs[i - 2].il != v->pairs[i].il)
				v->linked++;
		}
	}
	qsort(v->pairs, n, sizeof(*v->pairs), cw_pair_cmp_m);
	for (size_t i = 1; i < n; i++)
		if (v->pairs[i].im == v->pairs[i - 1].im && v->pairs[i].il != v->pairs[i - 1].il)
			cw_vdiff(v, "(hard links)", "names of different model inodes are one "
				 "inode on the mount", "");
}

static int cw_verify(const char *mnt, const char *model)
{
	struct cw_vstate v = { .mnt = mnt, .model = model };
	int rc;

	cw_alloc();
	rc = cw_verify_dir(&v, "");
	if (rc == 2)
		return 2;
	cw_verify_links(&v);
	free(v.pairs);
	printf("verify: %lu dirs, %lu names, %lu files, %lu with hard links, %" PRIu64
	       " bytes compared: %lu difference(s)\n", v.dirs, v.names, (unsigned long)v.npairs,
	       v.linked, v.bytes, v.diffs);
	return v.diffs ? 1 : 0;
}

/* A decimal number or fail (no atoi on arguments). */
static uint64_t cw_num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "chaos_work: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "verify"))
		return cw_verify(argv[2], argv[3]);
	if (argc >= 6 && argc <= 8 && !strcmp(argv[1], "run")) {
		cw_seed = cw_num(argv[4], "seed");
		cw_rng = cw_seed * 0x9E3779B97F4A7C15ULL ^ 0xD1B54A32D192ED03ULL;
		if (!cw_rng)
			cw_rng = 1;
		if (argc >= 7)
			cw_chunk = cw_num(argv[6], "chunk size");
		if (cw_chunk < 4096 || cw_chunk > 64ULL * 1024 * 1024) {
			fprintf(stderr, "chaos_work: chunk size out of range\n");
			return 2;
		}
		setvbuf(stdout, NULL, _IOLBF, 0);
		return cw_run(argv[2], argv[3], (double)cw_num(argv[5], "seconds"),
			      argc >= 8 ? cw_num(argv[7], "max ops") : 0);
	}
	fprintf(stderr, "usage: chaos_work run MNT MODEL SEED SECONDS [CHUNK_SIZE] [MAX_OPS]\n"
			"       chaos_work verify MNT MODEL\n");
	return 2;
}
