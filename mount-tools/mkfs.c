// SPDX-License-Identifier: MIT
/*
 * mkfs.c - `mkfs.quorumfs CONFIG [--chunk-size SIZE] [--force]`: write the
 * superblock and the root directory of a new volume to the cluster.
 * Refuses to format an existing volume without --force.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/config.h"
#include "fs/fs.h"
#include "mount-tools/tool.h"
#include "proto/log.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: mkfs.quorumfs CONFIG [--chunk-size SIZE] [--force]\n"
		     "  --chunk-size SIZE  bytes per chunk, K/M suffixes (default 1M)\n"
		     "  --force            format even if a volume exists\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct qfs_quorum_opts qo = { 0 };
	struct qfs_cluster *cl = NULL;
	struct qfs_quorum *q = NULL;
	uint64_t chunk = 1024 * 1024;
	bool force = false;
	char err[1024];
	int c, rc;

	qlog_init("mkfs.quorumfs", false, QLOG_WARN);
	while ((c = getopt_long(argc, argv, "c:fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (mnt_parse_size(optarg, &chunk) < 0 || chunk > PROTO_CHUNK_MAX) {
				fprintf(stderr, "mkfs.quorumfs: bad --chunk-size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	rc = qfs_config_load(argv[optind], &cl, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "mkfs.quorumfs: %s\n", err);
		return 1;
	}
	rc = qfs_quorum_open(cl, &qo, &q, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "mkfs.quorumfs: %s\n", err);
		goto out;
	}
	rc = qfs_mkfs(q, (uint32_t)chunk, force, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "mkfs.quorumfs: %s\n", err);
	else
		printf("formatted %s: chunk size %llu, %d daemons, N=%u W=%u R=%u\n", cl->path,
		       (unsigned long long)chunk, cl->ndaemons, cl->n, cl->w, cl->r);
	qfs_quorum_close(q);
out:
	qfs_config_free(cl);
	return rc == -EEXIST ? 3 : rc < 0 ? 1 : 0;
}
