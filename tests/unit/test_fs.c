// SPDX-License-Identifier: MIT
/*
 * test_fs.c - the filesystem library (fs/fs.h) over a simulated cluster:
 * two clients racing on `mkdir -p` converge on one inode per level, and
 * truncate-then-extend reads zeros where old data was, across the chunk
 * epochs and truncation points of docs/design-notes.md, and sequential
 * readahead never serves bytes older than a write, a truncate or (after a
 * reopen) another client's write, within its memory bounds.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs/fs.h"
#include "fs/fs_priv.h" /* readahead window, budget and counters */
#include "tests/unit/sim_transport.h"

#define CS (64u * 1024) /* small chunks: many chunk boundaries, fast tests */

struct fx {
	struct qfs_cluster *cl;
	struct sim *s;
	struct qfs_fs *fs[2]; /* two clients of one cluster */
};

static const struct qfs_cred root_cred = { 0, 0, 022 };

static int fx_setup_cs(void **state, uint32_t cs)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct qfs_quorum *q;
	char err[256] = "";

	assert_non_null(f);
	f->cl = sim_cluster(3, 3, 2, 2, 2000);
	assert_int_equal(sim_new(3, &f->s), 0);
	/* format through a first client, then open two filesystems */
	assert_int_equal(qfs_quorum_open_transport(f->cl, NULL, sim_transport(f->s), &q, err,
						   sizeof(err)), 0);
	assert_int_equal(qfs_mkfs(q, cs, false, err, sizeof(err)), 0);
	assert_int_equal(qfs_mkfs(q, cs, false, err, sizeof(err)), -EEXIST);
	assert_int_equal(qfs_fs_open_quorum(q, NULL, &f->fs[0], err, sizeof(err)), 0);
	assert_int_equal(qfs_quorum_open_transport(f->cl, NULL, sim_transport(f->s), &q, err,
						   sizeof(err)), 0);
	assert_int_equal(qfs_fs_open_quorum(q, NULL, &f->fs[1], err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_cs(state, CS);
}

static int fx_setup_1m(void **state)
{
	return fx_setup_cs(state, 1024 * 1024);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	qfs_fs_close(f->fs[0]);
	qfs_fs_close(f->fs[1]);
	sim_free(f->s);
	free(f->cl);
	free(f);
	return 0;
}

/* ---- mkdir -p from two clients at once ---- */

struct mkdirp {
	struct qfs_fs *fs;
	pthread_barrier_t *go;
	uint64_t ino[4];
	int rc;
};

static void *mkdirp_thread(void *arg)
{
	static const char *const names[] = { "a", "b", "c", "d" };
	struct mkdirp *m = arg;
	uint64_t parent = PROTO_ROOT_INO;
	struct qfs_attr a;

	pthread_barrier_wait(m->go);
	for (int i = 0; i < 4; i++) {
		int rc = qfs_mkdir(m->fs, parent, names[i], 0755, &root_cred, &a);

		if (rc == -EEXIST) /* what mkdir -p does when it loses the race */
			rc = qfs_lookup(m->fs, parent, names[i], &a);
		if (rc < 0) {
			m->rc = rc;
			return NULL;
		}
		m->ino[i] = a.ino;
		parent = a.ino;
	}
	return NULL;
}

static int count_entry(void *arg, const struct qfs_dirent *d)
{
	int *n = arg;

	if (strcmp(d->name, ".") && strcmp(d->name, ".."))
		(*n)++;
	return 0;
}

static void test_fs_mkdir_p_race_converges(void **state)
{
	struct fx *f = *state;
	pthread_barrier_t go;
	struct mkdirp m[2] = { { .fs = f->fs[0], .go = &go }, { .fs = f->fs[1], .go = &go } };
	pthread_t t[2];
	int entries = 0;

	/* Slow replicas: both clients see each name absent before either writes it. */
	for (int i = 0; i < 3; i++)
		sim_set_delay(f->s, i, 10);
	for (int round = 0; round < 3; round++) {
		pthread_barrier_init(&go, NULL, 2);
		for (int i = 0; i < 2; i++) {
			memset(m[i].ino, 0, sizeof(m[i].ino));
			assert_int_equal(pthread_create(&t[i], NULL, mkdirp_thread, &m[i]), 0);
		}
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&go);
		assert_int_equal(m[0].rc, 0);
		assert_int_equal(m[1].rc, 0);
		for (int i = 0; i < 4; i++)
			assert_true(m[0].ino[i] == m[1].ino[i]);
	}
	for (int i = 0; i < 3; i++)
		sim_set_delay(f->s, i, 0);
	/* one "a" in the root, one "b" in a: nothing orphaned by the race */
	assert_int_equal(qfs_readdir(f->fs[0], PROTO_ROOT_INO, 0, count_entry, &entries), 0);
	assert_int_equal(entries, 1);
	entries = 0;
	assert_int_equal(qfs_readdir(f->fs[1], m[0].ino[0], 0, count_entry, &entries), 0);
	assert_int_equal(entries, 1);
}

/* ---- truncate ---- */

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static struct qfs_file *create_file(struct qfs_fs *fs, const char *name, uint64_t *ino)
{
	struct qfs_file *fh;
	struct qfs_attr a;

	assert_int_equal(qfs_create(fs, PROTO_ROOT_INO, name, 0644, true, QFS_O_WRITE,
				    &root_cred, &a, &fh), 0);
	*ino = a.ino;
	return fh;
}

static void write_all(struct qfs_file *fh, const uint8_t *p, size_t len, uint64_t off)
{
	assert_int_equal(qfs_file_write(fh, p, len, off), (ssize_t)len);
}

static void truncate_to(struct qfs_fs *fs, uint64_t ino, uint64_t size)
{
	struct qfs_setattr s = { .mask = QFS_SET_SIZE, .size = size };
	struct qfs_attr a;

	assert_int_equal(qfs_setattr(fs, ino, &s, NULL, &a), 0);
	assert_int_equal(a.size, size);
}

/* Read the whole file through a fresh open of client @fs. */
static uint8_t *read_back(struct qfs_fs *fs, uint64_t ino, size_t len)
{
	uint8_t *buf = malloc(len + 1);
	struct qfs_file *fh;
	bool changed;

	assert_non_null(buf);
	assert_int_equal(qfs_file_open(fs, ino, 0, &fh, &changed), 0);
	assert_int_equal(qfs_file_read(fh, buf, len + 1, 0), (ssize_t)len);
	assert_int_equal(qfs_file_release(fh), 0);
	return buf;
}

static void test_fs_truncate_then_extend_reads_zeros(void **state)
{
	struct fx *f = *state;
	const size_t len = 5 * CS + 123;
	uint8_t *src = malloc(len), *got;
	struct qfs_file *fh;
	uint64_t ino;
	size_t cut = CS + 100;

	assert_non_null(src);
	fill(src, len, 1);
	fh = create_file(f->fs[0], "t1", &ino);
	write_all(fh, src, len, 0);
	assert_int_equal(qfs_file_release(fh), 0);

	truncate_to(f->fs[0], ino, cut);
	truncate_to(f->fs[0], ino, len);
	/* the other client, which never saw the old data, reads zeros past the cut */
	got = read_back(f->fs[1], ino, len);
	assert_memory_equal(got, src, cut);
	assert_true(all_zero(got + cut, len - cut));
	free(got);
	free(src);
}

static void test_fs_truncate_points_keep_newer_data(void **state)
{
	struct fx *f = *state;
	const size_t len = 8 * CS;
	uint8_t *src = malloc(len), *mid = malloc(len), *got;
	struct qfs_file *fh;
	bool changed;
	uint64_t ino;

	assert_non_null(src);
	assert_non_null(mid);
	fill(src, len, 3);
	fill(mid, len, 99);
	fh = create_file(f->fs[0], "t2", &ino);
	write_all(fh, src, len, 0);
	assert_int_equal(qfs_file_release(fh), 0);

	/* cut to 1 CS, rewrite chunks 2..7 in the new epoch, cut again to 5 CS */
	truncate_to(f->fs[0], ino, CS);
	assert_int_equal(qfs_file_open(f->fs[0], ino, QFS_O_WRITE, &fh, &changed), 0);
	write_all(fh, mid + 2 * CS, 6 * CS, 2 * CS);
	assert_int_equal(qfs_file_release(fh), 0);
	truncate_to(f->fs[0], ino, 5 * CS);
	truncate_to(f->fs[0], ino, len);

	got = read_back(f->fs[1], ino, len);
	assert_memory_equal(got, src, CS);			/* survived both cuts */
	assert_true(all_zero(got + CS, CS));			/* old epoch, cut at 1 CS */
	assert_memory_equal(got + 2 * CS, mid + 2 * CS, 3 * CS); /* newer, below 5 CS */
	assert_true(all_zero(got + 5 * CS, 3 * CS));		/* cut at 5 CS */
	free(got);

	/* a small write into an old-epoch chunk keeps its zeros (read-modify-write) */
	assert_int_equal(qfs_file_open(f->fs[0], ino, QFS_O_WRITE, &fh, &changed), 0);
	write_all(fh, (const uint8_t *)"XYZ", 3, CS + 10);
	assert_int_equal(qfs_file_release(fh), 0);
	got = read_back(f->fs[1], ino, len);
	assert_true(all_zero(got + CS, 10));
	assert_memory_equal(got + CS + 10, "XYZ", 3);
	assert_true(all_zero(got + CS + 13, CS - 13));
	assert_memory_equal(got, src, CS);
	free(got);
	free(src);
	free(mid);
}

static void test_fs_small_writes_patch_and_append(void **state)
{
	struct fx *f = *state;
	uint8_t *src = malloc(3 * CS), *got;
	struct qfs_file *fh;
	bool changed;
	uint64_t ino;

	assert_non_null(src);
	fill(src, 3 * CS, 7);
	fh = create_file(f->fs[0], "p1", &ino);
	write_all(fh, src, 3 * CS, 0);
	assert_int_equal(qfs_file_release(fh), 0);

	/* 4 KiB writes inside existing chunks go out as PATCHes */
	sim_reset_counts(f->s);
	assert_int_equal(qfs_file_open(f->fs[0], ino, QFS_O_WRITE, &fh, &changed), 0);
	memset(src + CS + 4096, 0xab, 4096);
	write_all(fh, src + CS + 4096, 4096, CS + 4096);
	memset(src + 2 * CS - 2, 0xcd, 4);		/* across a chunk boundary */
	write_all(fh, src + 2 * CS - 2, 4, 2 * CS - 2);
	assert_int_equal(qfs_file_flush(fh), 0);
	assert_true(sim_count(f->s, 0, PROTO_OP_PATCH) + sim_count(f->s, 1, PROTO_OP_PATCH) +
			    sim_count(f->s, 2, PROTO_OP_PATCH) >= 3 * 2);
	assert_int_equal(qfs_file_release(fh), 0);

	/* O_APPEND lands at the end, through the other client */
	assert_int_equal(qfs_file_open(f->fs[1], ino, QFS_O_WRITE | QFS_O_APPEND, &fh, &changed),
			 0);
	assert_true(changed);
	write_all(fh, (const uint8_t *)"tail", 4, 0);
	assert_int_equal(qfs_file_release(fh), 0);

	got = read_back(f->fs[0], ino, 3 * CS + 4);
	assert_memory_equal(got, src, 3 * CS);
	assert_memory_equal(got + 3 * CS, "tail", 4);
	free(got);

	/* punch chunk 1 out whole (a tombstone), then write a few bytes into it */
	assert_int_equal(qfs_file_open(f->fs[0], ino, QFS_O_WRITE, &fh, &changed), 0);
	assert_int_equal(qfs_file_fallocate(fh, QFS_FALLOC_PUNCH_HOLE | QFS_FALLOC_KEEP_SIZE, CS,
					    CS), 0);
	write_all(fh, (const uint8_t *)"hole", 4, CS + 100);
	assert_int_equal(qfs_file_release(fh), 0);
	got = read_back(f->fs[1], ino, 3 * CS + 4);
	assert_memory_equal(got, src, CS);
	assert_true(all_zero(got + CS, 100));
	assert_memory_equal(got + CS + 100, "hole", 4);
	assert_true(all_zero(got + CS + 104, CS - 104));
	assert_memory_equal(got + 2 * CS, src + 2 * CS, CS);
	free(got);
	free(src);
}

static void test_fs_namespace_basics(void **state)
{
	struct fx *f = *state;
	struct qfs_attr a, b;
	uint64_t ino, replaced, gone;
	struct qfs_file *fh;
	bool last;

	fh = create_file(f->fs[0], "n1", &ino);
	assert_int_equal(qfs_file_release(fh), 0);
	assert_int_equal(qfs_link(f->fs[0], ino, PROTO_ROOT_INO, "n2", &a), 0);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(qfs_getattr(f->fs[1], ino, &b), 0);
	assert_int_equal(b.nlink, 2);
	assert_int_equal(qfs_unlink(f->fs[1], PROTO_ROOT_INO, "n1", &last, &gone), 0);
	assert_false(last);
	assert_int_equal(qfs_getattr(f->fs[0], ino, &b), 0);
	assert_int_equal(b.nlink, 1);
	assert_int_equal(qfs_lookup(f->fs[0], PROTO_ROOT_INO, "n1", &b), -ENOENT);

	/* rename over an existing file replaces it; NOREPLACE refuses */
	fh = create_file(f->fs[0], "n3", &ino);
	assert_int_equal(qfs_file_release(fh), 0);
	assert_int_equal(qfs_rename(f->fs[0], PROTO_ROOT_INO, "n3", PROTO_ROOT_INO, "n2",
				    QFS_RENAME_NOREPLACE, &replaced), -EEXIST);
	assert_int_equal(qfs_rename(f->fs[0], PROTO_ROOT_INO, "n3", PROTO_ROOT_INO, "n2", 0,
				    &replaced), 0);
	assert_true(replaced != 0);
	assert_int_equal(qfs_lookup(f->fs[1], PROTO_ROOT_INO, "n2", &b), 0);
	assert_true(b.ino == ino);
	assert_int_equal(qfs_getattr(f->fs[1], replaced, &b), -ENOENT);

	/* rmdir of a non-empty directory, and a directory moved into itself */
	assert_int_equal(qfs_mkdir(f->fs[0], PROTO_ROOT_INO, "d1", 0755, &root_cred, &a), 0);
	assert_int_equal(qfs_mkdir(f->fs[0], a.ino, "d2", 0755, &root_cred, &b), 0);
	assert_int_equal(qfs_rmdir(f->fs[1], PROTO_ROOT_INO, "d1"), -ENOTEMPTY);
	assert_int_equal(qfs_rename(f->fs[0], PROTO_ROOT_INO, "d1", b.ino, "x", 0, &replaced),
			 -EINVAL);
	assert_int_equal(qfs_rmdir(f->fs[1], a.ino, "d2"), 0);
	assert_int_equal(qfs_rmdir(f->fs[1], PROTO_ROOT_INO, "d1"), 0);
	assert_int_equal(qfs_lookup(f->fs[0], PROTO_ROOT_INO, "d1", &b), -ENOENT);
	assert_int_equal(qfs_mkdir(f->fs[0], PROTO_ROOT_INO, "bad/name", 0755, &root_cred, &a),
			 -EINVAL);
}

/* GET requests all replicas received since the last reset. */
static unsigned gets(struct fx *f)
{
	return sim_count(f->s, 0, PROTO_OP_GET) + sim_count(f->s, 1, PROTO_OP_GET) +
	       sim_count(f->s, 2, PROTO_OP_GET);
}

/* unlink reuses the answer of the lookup just before it (one read fewer),
 * but never one that a namespace change of this client made stale. */
static void test_fs_unlink_after_lookup(void **state)
{
	struct fx *f = *state;
	struct qfs_file *fh;
	struct qfs_attr a;
	uint64_t ino, ino2, gone, replaced;
	unsigned cold, warm;
	struct proto_key key;
	struct proto_meta meta;
	uint8_t *val;
	int tombs = 0;
	bool last;

	fh = create_file(f->fs[0], "u1", &ino);
	assert_int_equal(qfs_file_release(fh), 0);
	fh = create_file(f->fs[0], "u2", &ino2);
	assert_int_equal(qfs_file_release(fh), 0);

	/* without a lookup first, then right after one */
	sim_reset_counts(f->s);
	assert_int_equal(qfs_unlink(f->fs[0], PROTO_ROOT_INO, "u1", &last, &gone), 0);
	cold = gets(f);
	assert_true(last);
	assert_true(gone == ino);
	assert_int_equal(qfs_lookup(f->fs[0], PROTO_ROOT_INO, "u2", &a), 0);
	sim_reset_counts(f->s);
	assert_int_equal(qfs_unlink(f->fs[0], PROTO_ROOT_INO, "u2", &last, &gone), 0);
	warm = gets(f);
	assert_true(gone == ino2);
	assert_true(warm < cold);
	assert_int_equal(qfs_lookup(f->fs[1], PROTO_ROOT_INO, "u2", &a), -ENOENT);
	assert_int_equal(qfs_getattr(f->fs[1], ino2, &a), -ENOENT);

	/* a rename by this client between the lookup and the unlink */
	fh = create_file(f->fs[0], "u3", &ino);
	write_all(fh, (const uint8_t *)"some bytes", 10, 0);
	assert_int_equal(qfs_file_release(fh), 0);
	assert_int_equal(qfs_lookup(f->fs[0], PROTO_ROOT_INO, "u3", &a), 0);
	assert_int_equal(qfs_rename(f->fs[0], PROTO_ROOT_INO, "u3", PROTO_ROOT_INO, "u4", 0,
				    &replaced), 0);
	assert_int_equal(qfs_unlink(f->fs[0], PROTO_ROOT_INO, "u3", &last, &gone), -ENOENT);
	assert_int_equal(qfs_lookup(f->fs[1], PROTO_ROOT_INO, "u4", &a), 0);
	assert_true(a.ino == ino);

	/* a lookup that found the name absent is no reason to unlink it */
	assert_int_equal(qfs_lookup(f->fs[0], PROTO_ROOT_INO, "u5", &a), -ENOENT);
	assert_int_equal(qfs_unlink(f->fs[0], PROTO_ROOT_INO, "u5", &last, &gone), -ENOENT);

	/* a small file's chunk is freed with its inode */
	assert_int_equal(qfs_lookup(f->fs[0], PROTO_ROOT_INO, "u4", &a), 0);
	assert_int_equal(a.size, 10);
	assert_int_equal(qfs_unlink(f->fs[0], PROTO_ROOT_INO, "u4", &last, &gone), 0);
	assert_true(last);
	assert_int_equal(qfs_getattr(f->fs[1], ino, &a), -ENOENT);
	proto_key_chunk(&key, ino, 0);
	for (int i = 0; i < 3; i++) {
		if (sim_get(f->s, i, &key, &meta, &val) == 0) {
			tombs += (meta.flags & PROTO_REC_TOMBSTONE) != 0;
			free(val);
		}
	}
	assert_true(tombs >= 2);
}

/* The kernel asks for security.capability before every write: an open
 * file whose open saw no xattr answers without a round trip, until this
 * client sets one; other attributes are always read. */
static void test_fs_capability_probe_of_open_file(void **state)
{
	struct fx *f = *state;
	struct qfs_file *fh, *fh2;
	char buf[16];
	uint64_t ino;
	bool changed;

	fh = create_file(f->fs[0], "cap", &ino);
	assert_int_equal(qfs_file_release(fh), 0);
	assert_int_equal(qfs_file_open(f->fs[0], ino, QFS_O_WRITE, &fh, &changed), 0);
	sim_reset_counts(f->s);
	usleep(1100 * 1000); /* past the inode cache's second */
	assert_int_equal(qfs_getxattr(f->fs[0], ino, "security.capability", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(gets(f), 0);
	assert_int_equal(qfs_getxattr(f->fs[0], ino, "user.other", buf, sizeof(buf)), -ENODATA);
	assert_true(gets(f) > 0);

	/* set by this client: seen at once */
	assert_int_equal(qfs_setxattr(f->fs[0], ino, "security.capability", "cap1", 4, 0), 0);
	assert_int_equal(qfs_getxattr(f->fs[0], ino, "security.capability", buf, sizeof(buf)), 4);
	assert_int_equal(qfs_file_release(fh), 0);

	/* set by another client: seen from the next open on */
	assert_int_equal(qfs_removexattr(f->fs[0], ino, "security.capability"), 0);
	assert_int_equal(qfs_file_open(f->fs[0], ino, QFS_O_WRITE, &fh, &changed), 0);
	usleep(5000); /* clients' versions are ordered by their clocks (ms) */
	assert_int_equal(qfs_setxattr(f->fs[1], ino, "security.capability", "cap2", 4, 0), 0);
	assert_int_equal(qfs_file_open(f->fs[0], ino, 0, &fh2, &changed), 0);
	assert_int_equal(qfs_getxattr(f->fs[0], ino, "security.capability", buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "cap2", 4);
	assert_int_equal(qfs_file_release(fh2), 0);
	assert_int_equal(qfs_file_release(fh), 0);
}

/* An open for reading fetches a small file's content with its inode: the
 * read that follows asks nothing; bigger files, this client's own buffered
 * writes and another client's new data all read right. */
static void test_fs_open_prefetch(void **state)
{
	struct fx *f = *state;
	static uint8_t big[CS + 100], got[CS + 100];
	struct qfs_file *w, *r;
	struct proto_key ck;
	uint8_t small[100];
	uint64_t ino, ino2;
	bool changed;

	memset(small, 's', sizeof(small));
	w = create_file(f->fs[1], "pf", &ino);
	write_all(w, small, sizeof(small), 0);
	assert_int_equal(qfs_file_release(w), 0);

	assert_int_equal(qfs_file_open(f->fs[0], ino, 0, &r, &changed), 0);
	sim_reset_counts(f->s);
	assert_int_equal(qfs_file_read(r, got, sizeof(got), 0), sizeof(small));
	assert_memory_equal(got, small, sizeof(small));
	assert_int_equal(gets(f), 0);
	assert_int_equal(qfs_file_release(r), 0);

	/* another client rewrites it: the next open sees the new bytes */
	memset(small, 't', sizeof(small));
	assert_int_equal(qfs_file_open(f->fs[1], ino, QFS_O_WRITE, &w, &changed), 0);
	write_all(w, small, sizeof(small), 0);
	assert_int_equal(qfs_file_release(w), 0);
	assert_int_equal(qfs_file_open(f->fs[0], ino, 0, &r, &changed), 0);
	assert_int_equal(qfs_file_read(r, got, sizeof(got), 0), sizeof(small));
	assert_memory_equal(got, small, sizeof(small));
	assert_int_equal(qfs_file_release(r), 0);

	/* a buffered write of this client is read by a new read-only handle */
	assert_int_equal(qfs_file_open(f->fs[0], ino, QFS_O_WRITE, &w, &changed), 0);
	write_all(w, (const uint8_t *)"own", 3, 0);
	assert_int_equal(qfs_file_open(f->fs[0], ino, 0, &r, &changed), 0);
	assert_int_equal(qfs_file_read(r, got, 3, 0), 3);
	assert_memory_equal(got, "own", 3);
	assert_int_equal(qfs_file_release(r), 0);
	assert_int_equal(qfs_file_release(w), 0);

	/* the fetch fails (every copy corrupt) while the inode reads fine: the
	 * open succeeds and the read fails whole, never returns other bytes */
	proto_key_chunk(&ck, ino, 0);
	for (int i = 0; i < 3; i++)
		sim_set_corrupt(f->s, i, &ck, true);
	assert_int_equal(qfs_file_open(f->fs[0], ino, 0, &r, &changed), 0);
	assert_int_equal(qfs_file_read(r, got, sizeof(got), 0), -EIO);
	assert_int_equal(qfs_file_release(r), 0);
	for (int i = 0; i < 3; i++)
		sim_set_corrupt(f->s, i, &ck, false);

	/* more than a chunk: the prefetch is not the whole chunk */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	w = create_file(f->fs[1], "pf2", &ino2);
	write_all(w, big, sizeof(big), 0);
	assert_int_equal(qfs_file_release(w), 0);
	assert_int_equal(qfs_file_open(f->fs[0], ino2, 0, &r, &changed), 0);
	assert_int_equal(qfs_file_read(r, got, sizeof(got), 0), sizeof(big));
	assert_memory_equal(got, big, sizeof(big));
	assert_int_equal(qfs_file_release(r), 0);
}

/* A read whose second chunk fails must fail whole: FUSE would take a short
 * count for the end of the file and silently truncate it. */
static void test_fs_read_error_is_never_short(void **state)
{
	struct fx *f = *state;
	const size_t len = 2 * CS + 500;
	uint8_t *src = malloc(len), *buf = malloc(len);
	struct proto_key key;
	struct qfs_file *fh;
	bool changed;
	uint64_t ino;

	assert_non_null(src);
	assert_non_null(buf);
	fill(src, len, 3);
	fh = create_file(f->fs[0], "short", &ino);
	write_all(fh, src, len, 0);
	assert_int_equal(qfs_file_release(fh), 0);

	proto_key_chunk(&key, ino, 1);
	for (int i = 0; i < 3; i++)
		sim_set_corrupt(f->s, i, &key, true); /* no good copy of chunk 1 */
	assert_int_equal(qfs_file_open(f->fs[1], ino, 0, &fh, &changed), 0);
	assert_int_equal(qfs_file_read(fh, buf, CS, 0), (ssize_t)CS);
	assert_memory_equal(buf, src, CS);
	assert_int_equal(qfs_file_read(fh, buf, 2 * CS, CS / 2), -EIO);
	assert_int_equal(qfs_file_read(fh, buf, 500, 2 * CS), 500);
	assert_memory_equal(buf, src + 2 * CS, 500);
	assert_int_equal(qfs_file_release(fh), 0);
	free(src);
	free(buf);
}


/* ---- sequential readahead ---- */

static struct qfs_ra_stats ra_stats(struct qfs_fs *fs)
{
	struct qfs_ra_stats st;

	qfs_file_ra_stats(fs, &st);
	return st;
}

/* Read [off, off + len) of @fh in @step-byte reads, as a sequential reader. */
static void read_seq(struct qfs_file *fh, uint8_t *dst, uint64_t off, size_t len, size_t step)
{
	for (size_t done = 0; done < len; done += step) {
		size_t n = len - done < step ? len - done : step;

		assert_int_equal(qfs_file_read(fh, dst + done, n, off + done), (ssize_t)n);
	}
}

/* Sequential reads across many chunk boundaries (reads straddling them too)
 * return what was written, served in part from chunks fetched ahead. */
static void test_fs_readahead_sequential_matches(void **state)
{
	struct fx *f = *state;
	const size_t len = 11 * CS + 777;
	uint8_t *src = malloc(len), *got = malloc(len);
	struct qfs_ra_stats st;
	struct qfs_file *fh;
	bool changed;
	uint64_t ino;

	assert_non_null(src);
	assert_non_null(got);
	fill(src, len, 11);
	fh = create_file(f->fs[0], "seq", &ino);
	write_all(fh, src, len, 0);
	assert_int_equal(qfs_file_release(fh), 0);

	assert_int_equal(qfs_file_open(f->fs[1], ino, 0, &fh, &changed), 0);
	read_seq(fh, got, 0, len, 12345); /* not a divisor of CS: reads straddle */
	assert_memory_equal(got, src, len);
	st = ra_stats(f->fs[1]);
	assert_true(st.started > 0);
	assert_true(st.used > 0);
	assert_true(st.peak <= QFS_RA_WINDOW * CS);
	assert_int_equal(qfs_file_release(fh), 0);
	assert_int_equal(ra_stats(f->fs[1]).bytes, 0); /* release ends everything */
	free(src);
	free(got);
}

/* A write and a truncate between sequential reads are seen by the next
 * read, although the chunks they changed were being fetched ahead. */
static void test_fs_readahead_sees_write_and_truncate(void **state)
{
	struct fx *f = *state;
	const size_t len = 8 * CS;
	uint8_t *src = malloc(len), *got = malloc(len), *patch = malloc(CS);
	struct qfs_file *fh, *rd;
	struct qfs_ra_stats st;
	bool changed;
	uint64_t ino;

	assert_non_null(src);
	assert_non_null(got);
	assert_non_null(patch);
	fill(src, len, 21);
	fh = create_file(f->fs[0], "rw", &ino);
	write_all(fh, src, len, 0);
	assert_int_equal(qfs_file_flush(fh), 0);

	/* a second handle of the same client reads sequentially: chunks 1.. ahead */
	assert_int_equal(qfs_file_open(f->fs[0], ino, 0, &rd, &changed), 0);
	read_seq(rd, got, 0, CS, CS / 4);
	assert_memory_equal(got, src, CS);
	st = ra_stats(f->fs[0]);
	assert_true(st.started > 0);

	/* the writer changes a chunk fetched ahead, partly (PATCH) and whole */
	fill(patch, CS, 99);
	write_all(fh, patch, 1000, 2 * CS + 50);
	memcpy(src + 2 * CS + 50, patch, 1000);
	write_all(fh, patch, CS, 3 * CS);
	memcpy(src + 3 * CS, patch, CS);
	assert_int_equal(qfs_file_flush(fh), 0);
	read_seq(rd, got + CS, CS, 4 * CS, CS / 4);
	assert_memory_equal(got + CS, src + CS, 4 * CS);

	/* truncate inside the window, then extend: zeros past the cut */
	assert_true(ra_stats(f->fs[0]).bytes > 0); /* chunks 5.. are ahead again */
	truncate_to(f->fs[0], ino, 5 * CS + 10);
	truncate_to(f->fs[0], ino, len);
	read_seq(rd, got + 5 * CS, 5 * CS, 3 * CS, CS / 4);
	assert_memory_equal(got + 5 * CS, src + 5 * CS, 10);
	assert_true(all_zero(got + 5 * CS + 10, 3 * CS - 10));

	assert_int_equal(qfs_file_release(rd), 0);
	assert_int_equal(qfs_file_release(fh), 0);
	assert_int_equal(ra_stats(f->fs[0]).bytes, 0);
	free(src);
	free(got);
	free(patch);
}

/* Two clients: one reads sequentially (chunks ahead in flight), the other
 * overwrites the file; a reopen on the reader then sees the new data, also
 * while its first handle stays open. */
static void test_fs_readahead_other_client_after_reopen(void **state)
{
	struct fx *f = *state;
	const size_t len = 6 * CS + 300;
	uint8_t *old = malloc(len), *neu = malloc(len), *got = malloc(len);
	struct qfs_file *fh, *r1, *r2;
	bool changed;
	uint64_t ino;

	assert_non_null(old);
	assert_non_null(neu);
	assert_non_null(got);
	fill(old, len, 31);
	fill(neu, len, 77);
	fh = create_file(f->fs[0], "two", &ino);
	write_all(fh, old, len, 0);
	assert_int_equal(qfs_file_release(fh), 0);

	assert_int_equal(qfs_file_open(f->fs[1], ino, 0, &r1, &changed), 0);
	read_seq(r1, got, 0, 2 * CS, CS / 8);
	assert_memory_equal(got, old, 2 * CS);
	assert_true(ra_stats(f->fs[1]).started > 0);

	assert_int_equal(qfs_file_open(f->fs[0], ino, QFS_O_WRITE, &fh, &changed), 0);
	write_all(fh, neu, len, 0);
	assert_int_equal(qfs_file_release(fh), 0);

	assert_int_equal(qfs_file_open(f->fs[1], ino, 0, &r2, &changed), 0);
	assert_true(changed);
	read_seq(r2, got, 0, len, CS / 8);
	assert_memory_equal(got, neu, len);
	assert_int_equal(qfs_file_release(r2), 0);
	assert_int_equal(qfs_file_release(r1), 0);

	/* and after a plain close and reopen */
	assert_int_equal(qfs_file_open(f->fs[0], ino, QFS_O_WRITE, &fh, &changed), 0);
	write_all(fh, old, len, 0);
	assert_int_equal(qfs_file_release(fh), 0);
	free(got);
	got = read_back(f->fs[1], ino, len);
	assert_memory_equal(got, old, len);
	assert_int_equal(ra_stats(f->fs[1]).bytes, 0);
	free(old);
	free(neu);
	free(got);
}

/* Many sequential readers at once (1 MiB chunks): what is fetched ahead
 * stays within the window per open inode and the budget of the mount, and
 * every reader still reads its file right. */
static void test_fs_readahead_memory_bounded(void **state)
{
	enum { NFILES = 6 };
	const uint32_t cs = 1024 * 1024;
	const size_t len = 6 * (size_t)cs;
	struct fx *f = *state;
	struct qfs_file *fh[NFILES];
	uint8_t *src[NFILES], *got = malloc(len);
	uint64_t ino[NFILES];
	struct qfs_ra_stats st;
	bool changed;

	assert_non_null(got);
	assert_true(NFILES * QFS_RA_WINDOW * (uint64_t)cs > QFS_RA_MOUNT_BYTES);
	for (int i = 0; i < NFILES; i++) {
		char name[16];

		src[i] = malloc(len);
		assert_non_null(src[i]);
		fill(src[i], len, (uint8_t)(40 + i));
		snprintf(name, sizeof(name), "m%d", i);
		fh[i] = create_file(f->fs[0], name, &ino[i]);
		write_all(fh[i], src[i], len, 0);
		assert_int_equal(qfs_file_release(fh[i]), 0);
	}
	for (int i = 0; i < NFILES; i++)
		assert_int_equal(qfs_file_open(f->fs[1], ino[i], 0, &fh[i], &changed), 0);
	/* round robin, 128 KiB at a time, as the kernel reads */
	for (size_t off = 0; off < len; off += 128 * 1024) {
		for (int i = 0; i < NFILES; i++) {
			assert_int_equal(qfs_file_read(fh[i], got, 128 * 1024, off), 128 * 1024);
			assert_memory_equal(got, src[i] + off, 128 * 1024);
			st = ra_stats(f->fs[1]);
			assert_true(st.bytes <= QFS_RA_MOUNT_BYTES);
		}
	}
	st = ra_stats(f->fs[1]);
	assert_true(st.started > 0);
	assert_true(st.peak <= QFS_RA_MOUNT_BYTES);
	for (int i = 0; i < NFILES; i++) {
		for (int k = 0; k < QFS_RA_WINDOW; k++)
			assert_true(fh[i]->oi->ra[k].op == NULL ||
				    fh[i]->oi->ra[k].charged == cs);
		assert_int_equal(qfs_file_release(fh[i]), 0);
		free(src[i]);
	}
	assert_int_equal(ra_stats(f->fs[1]).bytes, 0);
	free(got);
}

/* A 4 KiB O_DIRECT overwrite inside the file costs its PATCH and no inode
 * write (mtime waits for the flush); one that grows the file writes the size. */
static void test_fs_direct_overwrite_skips_inode_write(void **state)
{
	struct fx *f = *state;
	const size_t len = 4 * CS;
	uint8_t *src = malloc(len), *got;
	struct qfs_file *fh;
	struct qfs_attr a;
	bool changed;
	uint64_t ino;
	unsigned puts;

	assert_non_null(src);
	fill(src, len, 5);
	fh = create_file(f->fs[0], "direct", &ino);
	write_all(fh, src, len, 0);
	assert_int_equal(qfs_file_release(fh), 0);

	assert_int_equal(qfs_file_open(f->fs[0], ino, QFS_O_WRITE | QFS_O_DIRECT, &fh, &changed),
			 0);
	sim_reset_counts(f->s);
	write_all(fh, src, 4096, CS + 8192);
	puts = 0;
	for (int i = 0; i < 3; i++)
		puts += sim_count(f->s, i, PROTO_OP_PUT);
	assert_int_equal(puts, 0);
	/* growing the file: the size goes out before the write returns */
	write_all(fh, src, 4096, len);
	assert_int_equal(qfs_getattr(f->fs[1], ino, &a), 0);
	assert_int_equal(a.size, len + 4096);
	assert_int_equal(qfs_file_release(fh), 0);
	memcpy(src + CS + 8192, src, 4096);
	got = read_back(f->fs[1], ino, len + 4096);
	assert_memory_equal(got, src, len);
	assert_memory_equal(got + len, src, 4096);
	free(got);
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fs_mkdir_p_race_converges, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_truncate_then_extend_reads_zeros,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_truncate_points_keep_newer_data, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_small_writes_patch_and_append, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_namespace_basics, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_unlink_after_lookup, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_capability_probe_of_open_file, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_open_prefetch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_read_error_is_never_short, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_readahead_sequential_matches, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_readahead_sees_write_and_truncate,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_readahead_other_client_after_reopen,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_readahead_memory_bounded, fx_setup_1m,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_direct_overwrite_skips_inode_write,
						fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
