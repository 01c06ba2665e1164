// SPDX-License-Identifier: MIT
/*
 * fsckgen.c - fill a cluster with many small records quickly, or damage
 * some, for measuring fsck.quorumfs (DIGEST skipping) and for its tests.
 *
 *   fsckgen CONFIG FIRST COUNT [DAEMON...]
 *
 * Writes COUNT chunk records CHUNK(1000000 + i / 16, i % 16) for i in
 * [FIRST, FIRST + COUNT), 100 bytes each, every one with a fresh version.
 * Without DAEMON names: through the quorum (qfs_quorum_put, 4 threads),
 * and for each i that is a multiple of 16 the file's INODE (a sparse file
 * of 16 chunks), LINK and DIRENT "gINO" in the root directory, so that the
 * namespace pass finds a sound tree.
 * With names: PUT only to those daemons (qfs_scan_put_to), so the other
 * replicas miss the record (missing if new, stale if it existed): damage.
 * Exits 0, or 1 with a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "fs/config.h"
#include "fs/quorum.h"
#include "fs/quorum_scan.h"
#include "proto/record.h"

#define GEN_THREADS 4
#define GEN_LEN 100

struct gen {
	struct qfs_quorum *q;
	uint64_t first, count;
	int to[QFS_MAX_DAEMONS], nto;
	int rc;
};

/* The namespace records of file @ino: INODE, LINK and DIRENT in the root. */
static int gen_file(struct gen *g, uint64_t ino)
{
	struct proto_inode *in = calloc(1, sizeof(*in));
	struct proto_dirent de = { .ino = ino, .type = DT_REG };
	struct proto_meta m = { 0 };
	struct proto_super sb;
	struct proto_key k;
	struct proto_wr w;
	char name[32];
	int rc;

	if (!in)
		return -ENOMEM;
	rc = qfs_quorum_super(g->q, &sb);
	m.ver = qfs_quorum_version(g->q);
	in->attr_ver = in->atime_ver = in->mtime_ver = in->size_ver = in->parent_ver = m.ver;
	in->mode = S_IFREG | 0644;
	in->atime_sec = in->mtime_sec = (int64_t)(m.ver.hlc >> 16) / 1000;
	in->parent = 1;
	in->size = 15ULL * sb.chunk_size + GEN_LEN;
	if (!rc)
		rc = qfs_quorum_put_inode(g->q, ino, in);
	free(in);
	snprintf(name, sizeof(name), "g%" PRIu64, ino);
	if (!rc)
		rc = proto_key_link(&k, ino, 1, name, strlen(name));
	if (!rc)
		rc = qfs_quorum_put(g->q, &k, &m, NULL);
	if (!rc)
		rc = proto_key_dirent(&k, 1, name, strlen(name));
	if (rc)
		return rc < 0 ? rc : -EINVAL;
	proto_wr_init(&w);
	proto_dirent_encode(&w, &de);
	m.len = (uint32_t)w.len;
	rc = w.bad ? -ENOMEM : qfs_quorum_put(g->q, &k, &m, w.buf);
	proto_wr_free(&w);
	return rc;
}

static int gen_one(struct gen *g, uint64_t i)
{
	uint8_t val[GEN_LEN];
	struct proto_meta m = { 0 };
	struct proto_key k;
	int res[QFS_MAX_DAEMONS], rc;

	proto_key_chunk(&k, 1000000 + i / 16, i % 16);
	m.ver = qfs_quorum_version(g->q);
	m.len = GEN_LEN;
	for (int j = 0; j < GEN_LEN; j++)
		val[j] = (uint8_t)(i * 31 + (uint64_t)j + m.ver.hlc);
	if (!g->nto) {
		rc = i % 16 ? 0 : gen_file(g, 1000000 + i / 16);
		return rc ? rc : qfs_quorum_put(g->q, &k, &m, val);
	}
	rc = qfs_scan_put_to(g->q, &k, &m, val, g->to, g->nto, res);
	for (int d = 0; !rc && d < g->nto; d++)
		rc = res[d];
	return rc;
}

static void *gen_run(void *arg)
{
	struct gen *g = arg;

	for (uint64_t i = g->first; i < g->first + g->count && !g->rc; i++)
		g->rc = gen_one(g, i);
	return NULL;
}

static int gen_parse(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end || end == s ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	struct qfs_quorum_opts qo = { .need_volume = true };
	struct gen g[GEN_THREADS] = { 0 };
	pthread_t th[GEN_THREADS];
	bool started[GEN_THREADS];
	struct qfs_cluster *cl = NULL;
	struct qfs_quorum *q = NULL;
	uint64_t first, count;
	int nth = GEN_THREADS, code = 1;
	char err[1024];

	if (argc < 4 || gen_parse(argv[2], &first) || gen_parse(argv[3], &count)) {
		fprintf(stderr, "usage: fsckgen CONFIG FIRST COUNT [DAEMON...]\n");
		return 2;
	}
	if (qfs_config_load(argv[1], &cl, err, sizeof(err)) < 0) {
		fprintf(stderr, "fsckgen: %s\n", err);
		return 1;
	}
	if (qfs_quorum_open(cl, &qo, &q, err, sizeof(err)) < 0) {
		fprintf(stderr, "fsckgen: %s\n", err);
		goto out_cl;
	}
	for (int t = 0; t < nth; t++) {
		g[t].q = q;
		g[t].first = first + count * (uint64_t)t / (uint64_t)nth;
		g[t].count = first + count * (uint64_t)(t + 1) / (uint64_t)nth - g[t].first;
		for (int a = 4; a < argc; a++) {
			int d;

			for (d = 0; d < cl->ndaemons && strcmp(cl->daemons[d].name, argv[a]); d++)
				;
			if (d == cl->ndaemons) {
				fprintf(stderr, "fsckgen: no daemon %s\n", argv[a]);
				goto out_q;
			}
			g[t].to[g[t].nto++] = d;
		}
	}
	for (int t = 0; t < nth; t++) {
		started[t] = pthread_create(&th[t], NULL, gen_run, &g[t]) == 0;
		if (!started[t])
			g[t].rc = -EAGAIN;
	}
	code = 0;
	for (int t = 0; t < nth; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		if (g[t].rc) {
			fprintf(stderr, "fsckgen: write failed: %s\n", strerror(-g[t].rc));
			code = 1;
		}
	}
	qfs_quorum_sync_all(q);
out_q:
	qfs_quorum_close(q);
out_cl:
	qfs_config_free(cl);
	return code;
}
