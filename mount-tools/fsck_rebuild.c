// SPDX-License-Identifier: MIT
/*
 * fsck_rebuild.c - rebuilding daemons in fsck.quorumfs.
 *
 * A daemon whose store is new or was wiped is "rebuilding" (docs/quorum.md):
 * it takes writes but counts in no quorum. The replica pass treats it as the
 * replica it is, so every key it should hold and lacks shows as missing and
 * -y writes it there. When that pass went over every key (no operational
 * error), left nothing bad on the daemon, and the daemon was reachable on
 * the same store and the same boot from start to end, fsck sends it REBUILT
 * (naming the volume and that store), which ends the rebuilding state
 * durably. Anything less leaves it rebuilding, and the run does not count as
 * clean (exit 4), so the next run tries again.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "mount-tools/fsck.h"
#include "proto/msg.h"

void fsck_rebuild_start(struct fsck *f)
{
	struct fsck_rebuild *rb = &f->rb;

	for (int d = 0; d < f->cl->ndaemons; d++) {
		struct qfs_scan_store s;

		qfs_scan_store(f->q, d, &s);
		if (!s.known || !s.rebuilding)
			continue;
		rb->at_start[d] = true;
		memcpy(rb->store_id[d], s.store_id, PROTO_ID_LEN);
		rb->boot[d] = s.boot;
		rb->n++;
		fsck_say(f, "daemon %s is rebuilding (%s): counted in no quorum until refilled%s\n",
			 f->cl->daemons[d].name,
			 (s.flags & PROTO_STORE_REBUILDING) ? "being refilled" : "empty store",
			 f->repair ? "" : "; fsck -y refills it");
	}
}

void fsck_rebuild_left(struct fsck *f, int daemon, uint64_t n)
{
	if (daemon >= 0 && daemon < QFS_MAX_DAEMONS)
		f->rb.left[daemon] += n;
}

/* Why daemon @d cannot be declared refilled now; NULL when it can. */
static const char *fsck_rebuild_blocker(struct fsck *f, int d)
{
	struct qfs_scan_store s;

	if (f->scan_err[d])
		return "its SCAN failed";
	if (f->rb.left[d])
		return "replicas were left bad on it";
	qfs_scan_store(f->q, d, &s);
	if (s.suspect)
		return "it stopped answering";
	if (memcmp(s.store_id, f->rb.store_id[d], PROTO_ID_LEN) || s.boot != f->rb.boot[d])
		return "it restarted during the pass";
	return NULL;
}

/*
 * REBUILT names the volume, so a refilled daemon must hold the superblock;
 * the replica pass gives it only to its ring replicas, every daemon needs it.
 */
static int fsck_rebuild_super(struct fsck *f, int d)
{
	struct qfs_scan_store s;

	qfs_scan_store(f->q, d, &s);
	if (!(s.flags & PROTO_STORE_NOVOLUME))
		return 0;
	return qfs_quorum_seed_super(f->q, d, 0);
}

void fsck_rebuild_finish(struct fsck *f, int pass_rc)
{
	struct fsck_rebuild *rb = &f->rb;

	if (!rb->n || !f->repair)
		return;
	for (int d = 0; d < f->cl->ndaemons; d++) {
		const char *name = f->cl->daemons[d].name, *why;
		uint32_t flags = 0;
		int rc;

		if (!rb->at_start[d])
			continue;
		why = pass_rc ? "the pass did not check every key" : fsck_rebuild_blocker(f, d);
		if (why) {
			fsck_say(f, "daemon %s stays rebuilding: %s\n", name, why);
			continue;
		}
		rc = fsck_rebuild_super(f, d);
		if (rc == 0)
			rc = qfs_scan_rebuilt(f->q, d, rb->store_id[d], &flags);
		if (rc == 0 && (flags & (PROTO_STORE_REBUILDING | PROTO_STORE_NOVOLUME)))
			rc = -EAGAIN; /* accepted, yet it still says so */
		if (rc) {
			fprintf(stderr, "fsck.quorumfs: daemon %s: REBUILT failed: %s\n", name,
				strerror(-rc));
			continue;
		}
		rb->rebuilt[d] = true;
		rb->nrebuilt++;
		fsck_say(f, "daemon %s: refilled, no longer rebuilding: counted in quorums again\n",
			 name);
	}
}

int fsck_rebuild_still(const struct fsck *f)
{
	int n = 0;

	for (int d = 0; d < f->cl->ndaemons; d++)
		n += f->rb.at_start[d] && !f->rb.rebuilt[d];
	return n;
}

void fsck_rebuild_report_text(const struct fsck *f)
{
	if (!f->rb.n)
		return;
	printf("fsck.quorumfs: %d daemon(s) rebuilding at start, %d refilled, %d still "
	       "rebuilding\n", f->rb.n, f->rb.nrebuilt, fsck_rebuild_still(f));
}

json_t *fsck_rebuild_json(const struct fsck *f, bool rebuilt)
{
	json_t *a = json_array();

	for (int d = 0; a && d < f->cl->ndaemons; d++) {
		if (!f->rb.at_start[d] || f->rb.rebuilt[d] != rebuilt)
			continue;
		json_array_append_new(a, json_string(f->cl->daemons[d].name));
	}
	return a;
}
