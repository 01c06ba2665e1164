// SPDX-License-Identifier: MIT
/*
 * qfs.c - `qfs COMMAND CONFIG`: the operator's view of a cluster.
 *
 *   qfs sync CONFIG   ask every daemon to make acknowledged writes durable
 *                     (FUSE never sees sync(2) or syncfs(2))
 *   qfs df CONFIG     usable capacity: raw free space / N, daemons that
 *                     share one filesystem counted once
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/config.h"
#include "fs/quorum.h"
#include "proto/log.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: qfs sync CONFIG\n"
		     "       qfs df CONFIG\n");
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
	if (argc != 3 || (strcmp(argv[1], "sync") && strcmp(argv[1], "df"))) {
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
	rc = !strcmp(argv[1], "sync") ? cmd_sync(q) : cmd_df(q);
	qfs_quorum_close(q);
	qfs_config_free(cl);
	return rc;
}
