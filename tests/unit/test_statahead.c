// SPDX-License-Identifier: MIT
/*
 * test_statahead.c - lookups answered from a directory read ahead
 * (fs/statahead.c) over a simulated cluster: the answers equal what the
 * replicas hold, the entries stop being read one by one, this client's own
 * writes are seen at once, another client's once the answers expire, and a
 * name the window lacks is still found; and a GETATTR right after an open
 * is answered by the open's read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "fs/fs.h"
#include "tests/unit/sim_transport.h"

#define NFILES 600 /* more than a read-ahead window (512) */
#define TTL_MS 300

struct fx {
	struct qfs_cluster *cl;
	struct sim *s;
	struct qfs_fs *sa;    /* client with statahead */
	struct qfs_fs *other; /* client without */
	uint64_t dir;
};

static const struct qfs_cred root_cred = { 0, 0, 022 };

static void name_of(char *buf, size_t len, int i)
{
	snprintf(buf, len, "file-%04d", i);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct qfs_fs_opts so = { .statahead_ms = TTL_MS, .open_attr_ms = 100 };
	struct qfs_quorum *q;
	struct qfs_attr a;
	char err[256] = "", name[32];

	assert_non_null(f);
	f->cl = sim_cluster(3, 3, 2, 2, 2000);
	assert_int_equal(sim_new(3, &f->s), 0);
	assert_int_equal(qfs_quorum_open_transport(f->cl, NULL, sim_transport(f->s), &q, err,
						   sizeof(err)), 0);
	assert_int_equal(qfs_mkfs(q, 64 * 1024, false, err, sizeof(err)), 0);
	assert_int_equal(qfs_fs_open_quorum(q, NULL, &f->other, err, sizeof(err)), 0);
	assert_int_equal(qfs_quorum_open_transport(f->cl, NULL, sim_transport(f->s), &q, err,
						   sizeof(err)), 0);
	assert_int_equal(qfs_fs_open_quorum(q, &so, &f->sa, err, sizeof(err)), 0);
	assert_int_equal(qfs_mkdir(f->other, 1, "d", 0755, &root_cred, &a), 0);
	f->dir = a.ino;
	for (int i = 0; i < NFILES; i++) {
		name_of(name, sizeof(name), i);
		assert_int_equal(qfs_mknod(f->other, f->dir, name, S_IFREG | 0600 | (i % 2 ? 044 : 0),
					   0, true, &root_cred, &a), 0);
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	qfs_fs_close(f->sa);
	qfs_fs_close(f->other);
	sim_free(f->s);
	free(f->cl);
	free(f);
	return 0;
}

static unsigned gets(struct fx *f)
{
	unsigned n = 0;

	for (int i = 0; i < 3; i++)
		n += sim_count(f->s, i, PROTO_OP_GET);
	return n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Stat every file: each answer equals the other client's, and after the
 * first few the entries are no longer read one by one. */
static void test_sa_answers_match_and_save_reads(void **state)
{
	struct fx *f = *state;
	static struct qfs_attr seen[NFILES];
	struct qfs_attr a, b;
	char name[32];
	unsigned plain, ahead;

	sim_reset_counts(f->s);
	for (int i = 0; i < 20; i++) { /* without statahead: one GET per entry */
		name_of(name, sizeof(name), i);
		assert_int_equal(qfs_lookup(f->other, f->dir, name, &a), 0);
	}
	plain = gets(f);
	sim_reset_counts(f->s);
	for (int i = 0; i < NFILES; i++) {
		name_of(name, sizeof(name), i);
		assert_int_equal(qfs_lookup(f->sa, f->dir, name, &seen[i]), 0);
	}
	ahead = gets(f);
	assert_true(ahead < plain); /* fewer entry reads for 600 lookups than for 20 */
	for (int i = 0; i < NFILES; i++) {
		name_of(name, sizeof(name), i);
		assert_int_equal(qfs_lookup(f->other, f->dir, name, &b), 0);
		assert_true(seen[i].ino == b.ino);
		assert_int_equal(seen[i].mode, b.mode);
		assert_int_equal(seen[i].nlink, 1);
	}
	assert_int_equal(qfs_lookup(f->sa, f->dir, "absent", &a), -ENOENT);
}

/* A program that goes round several directories in turn (find, a build):
 * each directory is read ahead. */
static void test_sa_round_robin(void **state)
{
	struct fx *f = *state;
	uint64_t dirs[3];
	struct qfs_attr a;
	char name[32];
	unsigned ahead;

	for (int d = 0; d < 3; d++) {
		snprintf(name, sizeof(name), "rr%d", d);
		assert_int_equal(qfs_mkdir(f->other, 1, name, 0755, &root_cred, &a), 0);
		dirs[d] = a.ino;
		for (int i = 0; i < 40; i++) {
			name_of(name, sizeof(name), i);
			assert_int_equal(qfs_mknod(f->other, dirs[d], name, S_IFREG | 0600, 0, true,
						   &root_cred, &a), 0);
		}
	}
	sim_reset_counts(f->s);
	for (int i = 0; i < 40; i++) {
		for (int d = 0; d < 3; d++) {
			name_of(name, sizeof(name), i);
			assert_int_equal(qfs_lookup(f->sa, dirs[d], name, &a), 0);
		}
	}
	ahead = gets(f);
	/* 4 lookups per directory ask the replicas (2 entry reads each, R=2) */
	assert_true(ahead <= 3 * 4 * 3);
}

/* This client's own change is seen at once, another's once answers expire;
 * a name created after the window was read is still found. */
static void test_sa_freshness(void **state)
{
	struct fx *f = *state;
	struct qfs_setattr s = { .mask = QFS_SET_MODE };
	struct qfs_attr a;
	char name[32];

	for (int i = 0; i < 8; i++) { /* enough misses to read ahead */
		name_of(name, sizeof(name), i);
		assert_int_equal(qfs_lookup(f->sa, f->dir, name, &a), 0);
	}
	/* own write: chmod through this client */
	name_of(name, sizeof(name), 10);
	assert_int_equal(qfs_lookup(f->sa, f->dir, name, &a), 0);
	s.mode = 0700;
	assert_int_equal(qfs_setattr(f->sa, a.ino, &s, NULL, &a), 0);
	assert_int_equal(qfs_lookup(f->sa, f->dir, name, &a), 0);
	assert_int_equal(a.mode & 07777, 0700);

	/* read ahead again, then another client changes a file */
	for (int i = 20; i < 28; i++) {
		name_of(name, sizeof(name), i);
		assert_int_equal(qfs_lookup(f->sa, f->dir, name, &a), 0);
	}
	name_of(name, sizeof(name), 30);
	assert_int_equal(qfs_lookup(f->other, f->dir, name, &a), 0);
	s.mode = 0711;
	assert_int_equal(qfs_setattr(f->other, a.ino, &s, NULL, &a), 0);
	sleep_ms(TTL_MS + 50);
	assert_int_equal(qfs_lookup(f->sa, f->dir, name, &a), 0);
	assert_int_equal(a.mode & 07777, 0711);

	/* a name the window does not hold */
	for (int i = 40; i < 48; i++) {
		name_of(name, sizeof(name), i);
		assert_int_equal(qfs_lookup(f->sa, f->dir, name, &a), 0);
	}
	assert_int_equal(qfs_mknod(f->other, f->dir, "late", S_IFREG | 0600, 0, true, &root_cred,
				   &a), 0);
	assert_int_equal(qfs_lookup(f->sa, f->dir, "late", &a), 0);

	/* a name removed by this client is gone at once */
	{
		uint64_t ino;
		bool last;

		name_of(name, sizeof(name), 50);
		assert_int_equal(qfs_unlink(f->sa, f->dir, name, &last, &ino), 0);
		assert_int_equal(qfs_lookup(f->sa, f->dir, name, &a), -ENOENT);
	}
}

static unsigned lists(struct fx *f)
{
	unsigned n = 0;

	for (int i = 0; i < 3; i++)
		n += sim_count(f->s, i, PROTO_OP_LIST);
	return n;
}

/* A GETATTR right after an open (the kernel sends one when the open found
 * the file changed) is answered by the open's read; later ones, and files
 * not open here, read the inode. */
static void test_sa_getattr_after_open(void **state)
{
	struct fx *f = *state;
	struct qfs_file *fh;
	struct qfs_attr a;
	char name[32];
	bool changed;

	name_of(name, sizeof(name), 3);
	assert_int_equal(qfs_lookup(f->other, f->dir, name, &a), 0);
	assert_int_equal(qfs_file_open(f->sa, a.ino, 0, &fh, &changed), 0);
	sim_reset_counts(f->s);
	assert_int_equal(qfs_getattr(f->sa, a.ino, &a), 0);
	assert_int_equal(lists(f), 0);
	assert_int_equal(a.nlink, 1);
	sleep_ms(150);
	assert_int_equal(qfs_getattr(f->sa, a.ino, &a), 0);
	assert_true(lists(f) > 0);
	assert_int_equal(qfs_file_release(fh), 0);
	sim_reset_counts(f->s);
	assert_int_equal(qfs_getattr(f->sa, a.ino, &a), 0); /* read 150 ms ago, closed */
	assert_true(lists(f) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sa_answers_match_and_save_reads, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_sa_round_robin, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sa_freshness, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sa_getattr_after_open, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
