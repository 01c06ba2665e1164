// SPDX-License-Identifier: MIT
/*
 * fsck_digest.c - skipping the DIGEST buckets that already agree.
 *
 * Every daemon keeps, per bucket of the token space (the top 16 bits of a
 * key's placement token), the sum of a hash of (key, version, flags,
 * checksum) of every record it holds (docs/storage.md "Digests"). One
 * DIGEST request per daemon fetches all 65536 of them. A bucket is clean
 * when every key in it has the same replica set (no ring point inside it
 * changes the set: qfs_scan_bucket_place), its replicas' digests are equal
 * and every other daemon's is 0 (no misplaced copy). Equal sums of hashes
 * mean the replicas hold the same records with the odds of a 64-bit
 * collision; a bucket no daemon has a key in is clean too. The replica pass
 * then merge-joins only the keys of the other buckets (a SCAN filtered on
 * the bitmap built here, fsck.c); on a healthy cluster whose buckets all
 * agree it reads no key at all.
 *
 * What a bucket cannot show: a key that no daemon holds (nothing to find
 * either way). Tombstones in clean buckets are not seen, so fsck purges
 * them only on a --full pass (daemons collect confirmed ones themselves).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fs/call.h"
#include "mount-tools/fsck.h"

/* Whether bucket @b agrees: see the top of the file. */
static bool fsck_digest_clean(struct fsck *f, uint64_t *const *dg, uint32_t b)
{
	int reps[QFS_MAX_REPLICAS], n, nd = f->cl->ndaemons;
	bool is_rep[QFS_MAX_DAEMONS] = { false }, any = false;

	for (int d = 0; d < nd; d++)
		any |= dg[d][b] != 0;
	if (!any) {
		f->dg.empty++;
		return true;
	}
	if (!qfs_scan_bucket_place(f->q, b, reps, QFS_MAX_REPLICAS, &n)) {
		f->dg.straddle++;
		return false;
	}
	for (int i = 0; i < n; i++) {
		if (reps[i] < 0 || reps[i] >= nd || dg[reps[i]][b] != dg[reps[0]][b]) {
			f->dg.differ++;
			return false;
		}
		is_rep[reps[i]] = true;
	}
	for (int d = 0; d < nd; d++) {
		if (!is_rep[d] && dg[d][b] != 0) {
			f->dg.differ++;
			return false;
		}
	}
	f->dg.clean++;
	return true;
}

int fsck_digest_plan(struct fsck *f)
{
	int nd = f->cl->ndaemons, err[QFS_MAX_DAEMONS], rc = 0;
	uint64_t *dg[QFS_MAX_DAEMONS] = { NULL }, t0 = qfs_now_ns(), t1;

	memset(&f->dg, 0, sizeof(f->dg));
	if (f->full) {
		f->dg.why_not = "--full";
		return 0;
	}
	f->dg.map = calloc(1, PROTO_DIGEST_BITMAP_LEN);
	if (!f->dg.map)
		return -ENOMEM;
	for (int d = 0; d < nd; d++) {
		dg[d] = malloc(PROTO_DIGEST_BUCKETS * sizeof(*dg[d]));
		if (!dg[d]) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = qfs_scan_digest_all(f->q, dg, err);
	if (rc)
		goto out;
	t1 = qfs_now_ns();
	f->dg.fetch_ms = (t1 - t0) / 1000000;
	for (int d = 0; d < nd; d++) {
		if (err[d]) {
			/* an older daemon, or one not answering: SCAN everything
			 * (the pass then reports the daemon if it is down) */
			fsck_say(f, "daemon %s: no DIGEST (%s): scanning every key\n",
				 f->cl->daemons[d].name, strerror(-err[d]));
			f->dg.why_not = "a daemon has no digests";
			goto out;
		}
	}
	for (uint32_t b = 0; b < PROTO_DIGEST_BUCKETS; b++)
		if (!fsck_digest_clean(f, dg, b))
			f->dg.map[b / 8] |= (uint8_t)(1u << (b % 8));
	f->dg.plan_ms = (qfs_now_ns() - t1) / 1000000;
	f->dg.used = true;
out:
	for (int d = 0; d < nd; d++)
		free(dg[d]);
	if (!f->dg.used) {
		free(f->dg.map);
		f->dg.map = NULL;
	}
	return rc;
}

void fsck_digest_free(struct fsck *f)
{
	free(f->dg.map);
	f->dg.map = NULL;
}

void fsck_digest_report_text(const struct fsck *f)
{
	const struct fsck_digest *g = &f->dg;

	if (f->quick)
		return;
	if (!g->used) {
		printf("fsck.quorumfs: digests not used (%s): every key scanned in %" PRIu64
		       " ms\n", g->why_not ? g->why_not : "?", f->replica_ms);
		return;
	}
	printf("fsck.quorumfs: digests: %" PRIu64 " buckets agree, %" PRIu64 " empty, %" PRIu64
	       " differ, %" PRIu64 " straddle a ring point; %" PRIu64 " keys scanned in %" PRIu64
	       " ms\n",
	       g->clean, g->empty, g->differ, g->straddle, f->st.keys, f->replica_ms);
}

json_t *fsck_digest_json(const struct fsck *f)
{
	const struct fsck_digest *g = &f->dg;
	json_t *o;

	if (f->quick)
		return NULL;
	o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "used", g->used,
		      "buckets_clean", (json_int_t)g->clean, "buckets_empty", (json_int_t)g->empty,
		      "buckets_differ", (json_int_t)g->differ,
		      "buckets_straddle", (json_int_t)g->straddle,
		      "fetch_ms", (json_int_t)g->fetch_ms, "plan_ms", (json_int_t)g->plan_ms,
		      "replica_ms", (json_int_t)f->replica_ms);
	if (o && !g->used && g->why_not)
		json_object_set_new(o, "why_not", json_string(g->why_not));
	return o;
}
