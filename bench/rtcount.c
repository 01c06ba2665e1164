// SPDX-License-Identifier: MIT
/*
 * rtcount.c - how many round trips each metadata operation costs.
 *
 * The filesystem library runs over the simulated cluster of the unit tests
 * (tests/unit/sim_transport.c: 3 replicas, N=3 W=2 R=2), every replica
 * answering after the same delay D. An operation that takes T then made
 * about T / D round trips one after the other (requests sent together to
 * several replicas, or in flight together, cost one D); the simulator also
 * counts every request. The calls follow what the kernel sends for the
 * workloads of bench/fsbench (a LOOKUP before a create, FLUSH and RELEASE
 * at close, ...), so the figures say where the per-file time of the small
 * file benchmarks goes, independent of the machine's speed.
 *
 * Lookups run with and without statahead (fs/statahead.c; the mount's
 * default is on).
 *
 *   rtcount [FILES] [DELAY_MS]      defaults: 50 files, 2 ms
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/fs.h"
#include "tests/unit/sim_transport.h"

#define NREPLICAS 3

static const struct qfs_cred root_cred = { 0, 0, 022 };

struct bench {
	struct qfs_cluster *cl;
	struct sim *s;
	struct qfs_fs *fs;
	struct qfs_fs *old[8]; /* earlier clients: closing one stops the transport */
	int nold;
	uint64_t dir;
	int files;
	unsigned delay_ms;
	double t0;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "rtcount: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

/* A client with empty caches, as after a remount. The earlier one stays
 * open until the end (its quorum's close would stop the shared transport). */
static void client_open(struct bench *b, const struct qfs_fs_opts *opts)
{
	struct qfs_quorum *q;
	char err[256] = "";
	int rc;

	if (b->fs) {
		if (b->nold == (int)(sizeof(b->old) / sizeof(b->old[0])))
			die("too many clients", -EMFILE);
		b->old[b->nold++] = b->fs;
	}
	rc = qfs_quorum_open_transport(b->cl, NULL, sim_transport(b->s), &q, err, sizeof(err));
	if (rc < 0)
		die(err, rc);
	rc = qfs_fs_open_quorum(q, opts, &b->fs, err, sizeof(err));
	if (rc < 0)
		die(err, rc);
}

static void start(struct bench *b)
{
	sim_reset_counts(b->s);
	b->t0 = now_ms();
}

static void report(struct bench *b, const char *what)
{
	double per = (now_ms() - b->t0) / b->files;
	unsigned reqs = 0;

	for (int i = 0; i < NREPLICAS; i++)
		reqs += sim_count(b->s, i, 0);
	printf("| %s | %.1f | %.1f |\n", what, per / b->delay_ms, (double)reqs / b->files);
}

static void name_of(char *buf, size_t len, int i)
{
	snprintf(buf, len, "f%05d", i);
}

/* LOOKUP (absent), CREATE, WRITE 4 KiB, FLUSH, RELEASE. */
static void create_files(struct bench *b)
{
	static char data[4096];
	struct qfs_attr a;
	struct qfs_file *f;
	char name[32];

	memset(data, 'x', sizeof(data));
	start(b);
	for (int i = 0; i < b->files; i++) {
		name_of(name, sizeof(name), i);
		if (qfs_lookup(b->fs, b->dir, name, &a) != -ENOENT)
			die("lookup before create", -EEXIST);
		int rc = qfs_create(b->fs, b->dir, name, 0644, true, QFS_O_WRITE, &root_cred, &a,
				    &f);
		if (rc < 0)
			die("create", rc);
		if (qfs_file_write(f, data, sizeof(data), 0) != (ssize_t)sizeof(data))
			die("write", -EIO);
		rc = qfs_file_flush(f);
		if (rc < 0)
			die("flush", rc);
		rc = qfs_file_release(f);
		if (rc < 0)
			die("release", rc);
	}
	report(b, "create + write 4 KiB + close");
}

/* lstat by name with cold caches: one LOOKUP. */
static void stat_files(struct bench *b, const char *what)
{
	struct qfs_attr a;
	char name[32];

	start(b);
	for (int i = 0; i < b->files; i++) {
		name_of(name, sizeof(name), i);
		int rc = qfs_lookup(b->fs, b->dir, name, &a);
		if (rc < 0)
			die("lookup", rc);
	}
	report(b, what);
}

/* LOOKUP, OPEN, READ, FLUSH, RELEASE. */
static void read_files(struct bench *b, const char *what)
{
	static char buf[8192];
	struct qfs_attr a;
	struct qfs_file *f;
	char name[32];
	bool changed;

	start(b);
	for (int i = 0; i < b->files; i++) {
		name_of(name, sizeof(name), i);
		int rc = qfs_lookup(b->fs, b->dir, name, &a);
		if (rc < 0)
			die("lookup", rc);
		rc = qfs_file_open(b->fs, a.ino, 0, &f, &changed);
		if (rc < 0)
			die("open", rc);
		if (qfs_file_read(f, buf, sizeof(buf), 0) != 4096)
			die("read", -EIO);
		qfs_file_flush(f);
		qfs_file_release(f);
	}
	report(b, what);
}

/* LOOKUP (the kernel's entry expired), UNLINK. */
static void delete_files(struct bench *b)
{
	struct qfs_attr a;
	uint64_t ino;
	char name[32];
	bool last;

	start(b);
	for (int i = 0; i < b->files; i++) {
		name_of(name, sizeof(name), i);
		int rc = qfs_lookup(b->fs, b->dir, name, &a);
		if (rc < 0)
			die("lookup", rc);
		rc = qfs_unlink(b->fs, b->dir, name, &last, &ino);
		if (rc < 0)
			die("unlink", rc);
	}
	report(b, "delete (LOOKUP, UNLINK)");
}

/* LOOKUP (absent), MKDIR. */
static void mkdirs(struct bench *b)
{
	struct qfs_attr a;
	char name[32];

	start(b);
	for (int i = 0; i < b->files; i++) {
		snprintf(name, sizeof(name), "d%05d", i);
		if (qfs_lookup(b->fs, b->dir, name, &a) != -ENOENT)
			die("lookup before mkdir", -EEXIST);
		int rc = qfs_mkdir(b->fs, b->dir, name, 0755, &root_cred, &a);
		if (rc < 0)
			die("mkdir", rc);
	}
	report(b, "mkdir (LOOKUP, MKDIR)");
}

int main(int argc, char **argv)
{
	struct bench b = { .files = argc > 1 ? atoi(argv[1]) : 50,
			   .delay_ms = argc > 2 ? (unsigned)atoi(argv[2]) : 2 };
	struct qfs_quorum *q;
	struct qfs_attr a;
	char err[256] = "";
	int rc;

	if (b.files < 1 || b.files > 100000 || b.delay_ms < 1 || b.delay_ms > 100) {
		fprintf(stderr, "usage: rtcount [FILES 1..100000] [DELAY_MS 1..100]\n");
		return 2;
	}
	b.cl = sim_cluster(NREPLICAS, 3, 2, 2, 10000);
	if (sim_new(NREPLICAS, &b.s) < 0)
		die("simulator", -ENOMEM);
	rc = qfs_quorum_open_transport(b.cl, NULL, sim_transport(b.s), &q, err, sizeof(err));
	if (rc < 0)
		die(err, rc);
	rc = qfs_mkfs(q, 1u << 20, false, err, sizeof(err));
	if (rc < 0)
		die(err, rc);
	rc = qfs_fs_open_quorum(q, NULL, &b.fs, err, sizeof(err));
	if (rc < 0)
		die(err, rc);
	rc = qfs_mkdir(b.fs, 1, "bench", 0755, &root_cred, &a);
	if (rc < 0)
		die("mkdir bench", rc);
	b.dir = a.ino;
	for (int i = 0; i < NREPLICAS; i++)
		sim_set_delay(b.s, i, b.delay_ms);

	printf("%d files, replicas answer after %u ms (N=3 W=2 R=2)\n\n", b.files, b.delay_ms);
	printf("| operation | sequential round trips per file | requests per file (all replicas) |\n");
	printf("| --- | ---: | ---: |\n");
	create_files(&b);
	client_open(&b, NULL);
	stat_files(&b, "stat (LOOKUP, cold), nostatahead");
	client_open(&b, &(struct qfs_fs_opts){ .statahead_ms = 60000 });
	stat_files(&b, "stat (LOOKUP, cold), statahead");
	client_open(&b, NULL);
	read_files(&b, "read back (LOOKUP, OPEN, READ, close; cold), nostatahead");
	client_open(&b, &(struct qfs_fs_opts){ .statahead_ms = 60000 });
	read_files(&b, "read back (LOOKUP, OPEN, READ, close; cold), statahead");
	delete_files(&b);
	mkdirs(&b);

	qfs_fs_close(b.fs);
	for (int i = 0; i < b.nold; i++)
		qfs_fs_close(b.old[i]);
	sim_free(b.s);
	free(b.cl);
	return 0;
}
