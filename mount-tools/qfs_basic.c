// SPDX-License-Identifier: MIT
/*
 * qfs_basic.c - `qfs sync`, `qfs df` and `qfs replicas`: the subcommands
 * that need only the quorum layer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/config.h"
#include "fs/quorum.h"
#include "mount-tools/qfs_cmds.h"
#include "proto/log.h"

/* Load CONFIG and connect; prints the error and returns non-zero on failure. */
static int connect_cluster(const char *cmd, const char *path, struct qfs_cluster **cl,
			   struct qfs_quorum **q)
{
	struct qfs_quorum_opts qo = { 0 };
	char err[1024];

	if (qfs_config_load(path, cl, err, sizeof(err)) < 0) {
		fprintf(stderr, "qfs %s: %s\n", cmd, err);
		return 1;
	}
	if (qfs_quorum_open(*cl, &qo, q, err, sizeof(err)) < 0) {
		fprintf(stderr, "qfs %s: %s\n", cmd, err);
		qfs_config_free(*cl);
		return 1;
	}
	return 0;
}

static int do_sync(struct qfs_quorum *q)
{
	int rc = qfs_quorum_sync_all(q);

	if (rc < 0)
		fprintf(stderr, "qfs sync: not every daemon answered: %s\n", strerror(-rc));
	return rc < 0 ? 1 : 0;
}

static int do_df(struct qfs_quorum *q)
{
	struct qfs_space sp;
	int rc = qfs_quorum_space(q, &sp);

	if (rc < 0) {
		fprintf(stderr, "qfs df: %s\n", strerror(-rc));
		return 1;
	}
	printf("%-14s %14s %14s %14s %5s\n", "", "size", "used", "avail", "use%");
	printf("%-14s %14llu %14llu %14llu %4llu%%\n", "usable(bytes)",
	       (unsigned long long)sp.total, (unsigned long long)sp.used,
	       (unsigned long long)sp.free,
	       sp.total ? (unsigned long long)(100 * (sp.total - sp.free) / sp.total) : 0ULL);
	return 0;
}

/* Print each replica of @key; returns how many hold it (tombstones too). */
static int print_replicas(struct qfs_quorum *q, const struct qfs_cluster *cl,
			  const struct proto_key *key, const char *label)
{
	struct qfs_replica_state rs[QFS_MAX_REPLICAS];
	int n = qfs_quorum_replicas(q, key, rs, QFS_MAX_REPLICAS), held = 0;

	if (n < 0) {
		printf("%s ? %s\n", label, strerror(-n));
		return 0;
	}
	for (int i = 0; i < n; i++) {
		const char *name = cl->daemons[rs[i].daemon].name;

		held += rs[i].err == 0 || rs[i].err == -EBADE;
		if (rs[i].err == 0 && (rs[i].meta.flags & PROTO_REC_CORRUPT))
			printf("%s %s corrupt\n", label, name);
		else if (rs[i].err == 0)
			printf("%s %s %016" PRIx64 ".%016" PRIx64 "%s\n", label, name,
			       rs[i].meta.ver.hlc, rs[i].meta.ver.writer,
			       (rs[i].meta.flags & PROTO_REC_TOMBSTONE) ? " tombstone" : "");
		else if (rs[i].err == -ENOENT)
			printf("%s %s absent\n", label, name);
		else if (rs[i].err == -EBADE)
			printf("%s %s corrupt\n", label, name);
		else
			printf("%s %s unreachable\n", label, name);
	}
	return held;
}

/* A decimal inode number, or 0. */
static uint64_t parse_ino(const char *s)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	return errno || *end ? 0 : (uint64_t)v;
}

static int do_replicas(struct qfs_quorum *q, const struct qfs_cluster *cl, const char *arg)
{
	struct proto_super sb;
	struct proto_key key;
	struct stat st;
	char label[64];
	uint64_t ino = parse_ino(arg), nchunks = 0;
	bool by_ino = ino != 0;

	if (!by_ino) {
		if (stat(arg, &st) < 0) {
			fprintf(stderr, "qfs replicas: %s: %s\n", arg, strerror(errno));
			return 1;
		}
		ino = (uint64_t)st.st_ino;
	}
	if (qfs_quorum_super(q, &sb) < 0) {
		fprintf(stderr, "qfs replicas: no superblock readable\n");
		return 1;
	}
	if (!by_ino && S_ISREG(st.st_mode))
		nchunks = ((uint64_t)st.st_size + sb.chunk_size - 1) / sb.chunk_size;
	proto_key_inode(&key, ino);
	snprintf(label, sizeof(label), "inode:%" PRIu64, ino);
	print_replicas(q, cl, &key, label);
	for (uint64_t k = 0; by_ino ? k < 4096 : k < nchunks; k++) {
		proto_key_chunk(&key, ino, k);
		snprintf(label, sizeof(label), "chunk:%" PRIu64 "/%" PRIu64, ino, k);
		if (!print_replicas(q, cl, &key, label) && by_ino)
			break; /* no replica has it: past the last chunk */
	}
	return 0;
}

/* Run @fn on the cluster of argv[1] (argv[2] is passed as @arg). */
static int with_cluster(int argc, char **argv, int nargs, int (*fn)(struct qfs_quorum *,
								     const struct qfs_cluster *,
								     const char *))
{
	struct qfs_cluster *cl;
	struct qfs_quorum *q;
	int rc;

	if (argc != nargs) {
		fprintf(stderr, "usage: qfs %s CONFIG%s\n", argv[0],
			nargs == 3 ? " PATH|INODE" : "");
		return 2;
	}
	if (connect_cluster(argv[0], argv[1], &cl, &q))
		return 1;
	rc = fn(q, cl, nargs == 3 ? argv[2] : NULL);
	qfs_quorum_close(q);
	qfs_config_free(cl);
	return rc;
}

static int sync_fn(struct qfs_quorum *q, const struct qfs_cluster *cl, const char *arg)
{
	(void)cl;
	(void)arg;
	return do_sync(q);
}

static int df_fn(struct qfs_quorum *q, const struct qfs_cluster *cl, const char *arg)
{
	(void)cl;
	(void)arg;
	return do_df(q);
}

int qfs_cmd_sync(int argc, char **argv)
{
	return with_cluster(argc, argv, 2, sync_fn);
}

int qfs_cmd_df(int argc, char **argv)
{
	return with_cluster(argc, argv, 2, df_fn);
}

int qfs_cmd_replicas(int argc, char **argv)
{
	return with_cluster(argc, argv, 3, do_replicas);
}
