// SPDX-License-Identifier: MIT
/*
 * replica_check.c - compare the daemons' stores key by key, independently
 * of fsck.quorumfs. Test helper only (fs_chaos.sh).
 *
 *   replica_check CONFIG
 *
 * Walks every daemon's whole store with SCAN (fs/quorum_scan.h) in key
 * order, merge-joined, and for each key looks at the N daemons the ring
 * places it on: each must hold the key, and all of them the same metadata
 * (version and writer, flags, truncate epoch, length and record checksum).
 * A copy on a daemon outside the key's N is counted as misplaced. Prints
 * one line per bad key (the first 20) and a summary line:
 *
 *   replica_check: K keys, E replicas expected: M missing, D differ, X misplaced
 *
 * Exit 0 when nothing is missing and nothing differs, 1 otherwise, 2 when
 * a daemon cannot be scanned or on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/config.h"
#include "fs/quorum.h"
#include "fs/quorum_scan.h"
#include "proto/key.h"
#include "proto/log.h"

#define RC_MAX_DAEMONS 64
#define RC_REPORT 20

/* Encoded key order: memcmp, then length (as the store orders keys). */
static int rc_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static bool rc_meta_eq(const struct proto_meta *a, const struct proto_meta *b)
{
	return a->ver.hlc == b->ver.hlc && a->ver.writer == b->ver.writer &&
	       a->flags == b->flags && a->epoch == b->epoch && a->len == b->len &&
	       a->sum == b->sum;
}

int main(int argc, char **argv)
{
	static struct qfs_scan_cur cur[RC_MAX_DAEMONS];
	struct qfs_quorum_opts qo = { .need_volume = true };
	struct qfs_cluster *cl = NULL;
	struct qfs_quorum *q = NULL;
	uint64_t keys = 0, expected = 0, missing = 0, differ = 0, misplaced = 0, bad = 0;
	char err[1024];
	int nd, code = 2, rc;

	if (argc != 2) {
		fprintf(stderr, "usage: replica_check CONFIG\n");
		return 2;
	}
	qlog_level = QLOG_ERR;
	if (qfs_config_load(argv[1], &cl, err, sizeof(err)) < 0) {
		fprintf(stderr, "replica_check: %s\n", err);
		return 2;
	}
	nd = cl->ndaemons;
	if (nd > RC_MAX_DAEMONS) {
		fprintf(stderr, "replica_check: more than %d daemons\n", RC_MAX_DAEMONS);
		goto out_config;
	}
	if (qfs_quorum_open(cl, &qo, &q, err, sizeof(err)) < 0) {
		fprintf(stderr, "replica_check: %s\n", err);
		goto out_config;
	}
	for (int d = 0; d < nd; d++) {
		rc = qfs_scan_begin(q, d, 1024, &cur[d]);
		if (rc < 0) {
			fprintf(stderr, "replica_check: scan of %s: %s\n", cl->daemons[d].name,
				strerror(-rc));
			goto out_scan;
		}
	}
	for (;;) {
		const struct qfs_scan_cur *min = NULL;
		bool has[RC_MAX_DAEMONS], placed[RC_MAX_DAEMONS] = { false };
		int rep[RC_MAX_DAEMONS], nrep, ref = -1;
		bool key_bad = false;
		char ks[160], line[1024];
		size_t len = 0;

		for (int d = 0; d < nd; d++)
			if (cur[d].has && (!min || rc_keycmp(cur[d].key, cur[d].key_len, min->key,
							     min->key_len) < 0))
				min = &cur[d];
		if (!min)
			break;
		keys++;
		proto_key_str(&min->e.key, ks, sizeof(ks));
		for (int d = 0; d < nd; d++)
			has[d] = cur[d].has && rc_keycmp(cur[d].key, cur[d].key_len, min->key,
							 min->key_len) == 0;
		nrep = qfs_scan_place(q, &min->e.key, rep, RC_MAX_DAEMONS);
		len += (size_t)snprintf(line, sizeof(line), "%s:", ks);
		for (int i = 0; i < nrep; i++) {
			int d = rep[i];

			placed[d] = true;
			expected++;
			if (!has[d]) {
				missing++;
				key_bad = true;
				if (len < sizeof(line))
					len += (size_t)snprintf(line + len, sizeof(line) - len,
								" %s missing", cl->daemons[d].name);
				continue;
			}
			if (ref < 0) {
				ref = d;
			} else if (!rc_meta_eq(&cur[d].e.meta, &cur[ref].e.meta)) {
				differ++;
				key_bad = true;
			}
		}
		for (int d = 0; d < nd; d++) {
			if (has[d] && !placed[d])
				misplaced++;
			if (has[d] && len < sizeof(line))
				len += (size_t)snprintf(line + len, sizeof(line) - len,
							" %s v%" PRIx64 ".%u f%x e%" PRIu64
							" l%u s%016" PRIx64 "%s",
							cl->daemons[d].name, cur[d].e.meta.ver.hlc,
							(unsigned)cur[d].e.meta.ver.writer,
							cur[d].e.meta.flags, cur[d].e.meta.epoch,
							cur[d].e.meta.len, cur[d].e.meta.sum,
							placed[d] ? "" : " (misplaced)");
		}
		if (key_bad && bad++ < RC_REPORT)
			printf("%s\n", line);
		for (int d = 0; d < nd; d++) {
			if (!has[d])
				continue;
			rc = qfs_scan_advance(&cur[d]);
			if (rc < 0) {
				fprintf(stderr, "replica_check: scan of %s: %s\n",
					cl->daemons[d].name, strerror(-rc));
				goto out_scan;
			}
		}
	}
	printf("replica_check: %" PRIu64 " keys, %" PRIu64 " replicas expected: %" PRIu64
	       " missing, %" PRIu64 " differ, %" PRIu64 " misplaced\n",
	       keys, expected, missing, differ, misplaced);
	code = missing || differ ? 1 : 0;
out_scan:
	for (int d = 0; d < nd; d++)
		qfs_scan_end(&cur[d]);
	qfs_quorum_close(q);
out_config:
	qfs_config_free(cl);
	return code;
}
