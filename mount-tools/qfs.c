// SPDX-License-Identifier: MIT
/*
 * qfs.c - `qfs COMMAND CONFIG`: the operator's view of a cluster.
 *
 *   qfs sync CONFIG   ask every daemon to make acknowledged writes durable
 *                     (FUSE never sees sync(2) or syncfs(2))
 *   qfs df CONFIG     usable capacity: raw free space / N, daemons that
 *                     share one filesystem counted once
 *   qfs replicas CONFIG PATH|INODE
 *                     what each replica holds for the inode and every chunk
 *                     of PATH (a file in a mount of CONFIG's volume) or of a
 *                     decimal inode number (chunks until every replica says
 *                     absent; nothing is read through a quorum, so nothing
 *                     is repaired): one line per replica,
 *                     "KEY DAEMON VERSION|absent|corrupt|unreachable"
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
#include "proto/log.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: qfs sync CONFIG\n"
		     "       qfs df CONFIG\n"
		     "       qfs replicas CONFIG PATH|INODE\n");
}

static int cmd_sync(struct qfs_quorum *q)
{
	int rc = qfs_quorum_sync_all(q);

	if (rc < 0)
		fprintf(stderr, "qfs sync: not every daemon answered: %s\n", strerror(-rc));
	return rc < 0 ? 1 : 0;
}

static int cmd_df(struct qfs_quorum *q)
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

static int cmd_replicas(struct qfs_quorum *q, const struct qfs_cluster *cl, const char *arg)
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

int main(int argc, char **argv)
{
	struct qfs_quorum_opts qo = { 0 };
	struct qfs_cluster *cl = NULL;
	struct qfs_quorum *q = NULL;
	char err[1024];
	int rc;

	qlog_init("qfs", false, QLOG_WARN);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (!((argc == 3 && (!strcmp(argv[1], "sync") || !strcmp(argv[1], "df"))) ||
	      (argc == 4 && !strcmp(argv[1], "replicas")))) {
		usage(stderr);
		return 2;
	}
	rc = qfs_config_load(argv[2], &cl, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "qfs: %s\n", err);
		return 1;
	}
	rc = qfs_quorum_open(cl, &qo, &q, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "qfs: %s\n", err);
		qfs_config_free(cl);
		return 1;
	}
	if (!strcmp(argv[1], "sync"))
		rc = cmd_sync(q);
	else if (!strcmp(argv[1], "df"))
		rc = cmd_df(q);
	else
		rc = cmd_replicas(q, cl, argv[3]);
	qfs_quorum_close(q);
	qfs_config_free(cl);
	return rc;
}
