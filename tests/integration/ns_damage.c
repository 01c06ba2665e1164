// SPDX-License-Identifier: MIT
/*
 * ns_damage.c - write raw namespace records to a cluster, to build the
 * damaged namespaces fs_fsck_ns.sh gives fsck.quorumfs. Test helper only.
 *
 *   ns_damage CONFIG < SCRIPT
 *
 * One operation per line (inode numbers in decimal, written with quorum
 * through fs/quorum.h, each with a fresh version):
 *   inode INO dir|file PARENT SIZE EPOCH   live inode; EPOCH > 0 adds the
 *                                          truncation point (EPOCH, SIZE)
 *   delinode INO                           deletion register
 *   link INO PARENT NAME                   live LINK
 *   dirent DIR NAME INO dir|file           live entry
 *   chunk INO INDEX EPOCH LEN              chunk of LEN bytes 'x'
 * Exits 0, or 1 with a message naming the line that failed.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/config.h"
#include "fs/quorum.h"
#include "proto/record.h"

static uint32_t mode_of(const char *t)
{
	return strcmp(t, "dir") == 0 ? S_IFDIR | 0755 : S_IFREG | 0644;
}

/* One script line. Returns 0, -EINVAL (bad line) or the write's errno. */
static int run_line(struct qfs_quorum *q, char *line)
{
	static struct proto_inode in;
	char op[16], a[256], b[256];
	uint64_t x, y, z, e;
	struct proto_meta m = { 0 };
	struct proto_key k;
	struct timespec now;
	int rc;

	m.ver = qfs_quorum_version(q);
	memset(&in, 0, sizeof(in));
	clock_gettime(CLOCK_REALTIME, &now);
	if (sscanf(line, "%15s", op) != 1)
		return 0;
	if (!strcmp(op, "inode") &&
	    sscanf(line, "%*s %" SCNu64 " %255s %" SCNu64 " %" SCNu64 " %" SCNu64, &x, a, &y, &z,
		   &e) == 5) {
		in.attr_ver = in.atime_ver = in.mtime_ver = in.size_ver = in.parent_ver = m.ver;
		in.mode = mode_of(a);
		in.atime_sec = in.mtime_sec = now.tv_sec;
		in.parent = y;
		in.size = z;
		in.epoch = e;
		if (e) {
			in.ntrunc = 1;
			in.trunc[0].epoch = e;
			in.trunc[0].size = z;
		}
		return qfs_quorum_put_inode(q, x, &in);
	}
	if (!strcmp(op, "delinode") && sscanf(line, "%*s %" SCNu64, &x) == 1) {
		in.del_ver = m.ver;
		return qfs_quorum_put_inode(q, x, &in);
	}
	if (!strcmp(op, "link") && sscanf(line, "%*s %" SCNu64 " %" SCNu64 " %255s", &x, &y, a) == 3) {
		rc = proto_key_link(&k, x, y, a, strlen(a));
		return rc < 0 ? rc : qfs_quorum_put(q, &k, &m, NULL);
	}
	if (!strcmp(op, "dirent") &&
	    sscanf(line, "%*s %" SCNu64 " %255s %" SCNu64 " %255s", &x, a, &y, b) == 4) {
		struct proto_dirent d = { .ino = y, .type = (uint8_t)IFTODT(mode_of(b)) };
		struct proto_wr w;

		rc = proto_key_dirent(&k, x, a, strlen(a));
		if (rc < 0)
			return rc;
		proto_wr_init(&w);
		proto_dirent_encode(&w, &d);
		m.len = (uint32_t)w.len;
		rc = w.bad ? -ENOMEM : qfs_quorum_put(q, &k, &m, w.buf);
		proto_wr_free(&w);
		return rc;
	}
	if (!strcmp(op, "chunk") &&
	    sscanf(line, "%*s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &x, &y, &e, &z) == 4) {
		uint8_t *val;

		if (z == 0 || z > PROTO_CHUNK_MAX)
			return -EINVAL;
		val = malloc(z);
		if (!val)
			return -ENOMEM;
		memset(val, 'x', z);
		proto_key_chunk(&k, x, y);
		m.epoch = e;
		m.len = (uint32_t)z;
		rc = qfs_quorum_put(q, &k, &m, val);
		free(val);
		return rc;
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct qfs_quorum_opts qo = { .need_volume = true };
	struct qfs_cluster *cl = NULL;
	struct qfs_quorum *q = NULL;
	char err[1024], line[1024];
	int rc, n = 0, code = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: ns_damage CONFIG < SCRIPT\n");
		return 2;
	}
	if (qfs_config_load(argv[1], &cl, err, sizeof(err)) < 0) {
		fprintf(stderr, "ns_damage: %s\n", err);
		return 1;
	}
	if (qfs_quorum_open(cl, &qo, &q, err, sizeof(err)) < 0) {
		fprintf(stderr, "ns_damage: %s\n", err);
		goto out;
	}
	while (fgets(line, sizeof(line), stdin)) {
		n++;
		rc = run_line(q, line);
		if (rc < 0) {
			fprintf(stderr, "ns_damage: line %d: %s: %s", n, strerror(-rc), line);
			goto out;
		}
	}
	code = 0;
out:
	qfs_quorum_close(q);
	qfs_config_free(cl);
	return code;
}
