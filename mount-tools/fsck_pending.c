// SPDX-License-Identifier: MIT
/*
 * fsck_pending.c - the quick pass (fsck.quorumfs --quick): heal only the
 * keys that writes missed on some replica, as recorded in the daemons'
 * pending-repair indexes (PENDING_LIST), so a run costs time proportional
 * to what was missed rather than to the size of the stores.
 *
 * Every daemon's index is opened first; if one does not answer, nothing is
 * checked (exit 8, as the full pass). Then, daemon by daemon, each listed
 * key is read with a HEAD on every daemon and handed to fsck_key(), the
 * replica pass's own per-key check and repair. With -y an entry is dropped
 * (PENDING_DEL, in batches) from the index that listed it once the key is
 * on every replica; the delete carries the entry's stamp, so an entry that
 * a new write missed after it was listed stays for the next run.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mount-tools/fsck.h"

/* PENDING_DEL the @n entries of @del from daemon @d; counts what went. */
static void fsck_pending_del(struct fsck *f, int d, struct proto_batch_ent *del, int *n)
{
	int res;

	if (!*n)
		return;
	if (qfs_scan_batch(f->q, PROTO_OP_PENDING_DEL, del, *n, &d, 1, &res) || res < 0)
		fprintf(stderr, "fsck.quorumfs: daemon %s: PENDING_DEL failed: %s\n",
			f->cl->daemons[d].name, strerror(res < 0 ? -res : ENOMEM));
	else
		f->pq.deleted += (uint64_t)res;
	*n = 0;
}

/* Check (and with -y repair) every key of daemon @d's index (cursor @cur). */
static int fsck_pending_daemon(struct fsck *f, int d, struct qfs_scan_cur *cur,
			       struct proto_batch_ent *del)
{
	const struct qfs_cluster *cl = f->cl;
	struct proto_meta meta[QFS_MAX_DAEMONS];
	bool has[QFS_MAX_DAEMONS];
	int err[QFS_MAX_DAEMONS];
	int ndel = 0, rc = 0;

	while (cur->has) {
		struct proto_batch_ent e = cur->pend;
		bool answered = true;
		char ks[96];

		f->pq.entries++;
		rc = qfs_scan_head_all(f->q, &e.key, has, meta, err);
		for (int k = 0; !rc && k < cl->ndaemons; k++) {
			if (!err[k])
				continue;
			answered = false;
			fsck_say(f, "%s: daemon %s did not answer: %s; kept for the next run\n",
				 proto_key_str(&e.key, ks, sizeof(ks)), cl->daemons[k].name,
				 strerror(-err[k]));
			break;
		}
		if (rc || !answered) {
			f->pq.unchecked++;
			f->st.left++;
		} else if (fsck_key(f, &e.key, has, meta)) {
			f->pq.whole++;
			if (f->repair) {
				del[ndel++] = e;
				if (ndel == PROTO_BATCH_MAX)
					fsck_pending_del(f, d, del, &ndel);
			}
		}
		rc = qfs_scan_advance(cur);
		if (rc) {
			fprintf(stderr, "fsck.quorumfs: daemon %s: PENDING_LIST failed: %s\n",
				cl->daemons[d].name, strerror(-rc));
			break;
		}
	}
	fsck_pending_del(f, d, del, &ndel);
	return rc;
}

int fsck_pending_pass(struct fsck *f)
{
	const struct qfs_cluster *cl = f->cl;
	struct proto_batch_ent *del;
	int failed = 0, rc = 0;

	del = calloc(PROTO_BATCH_MAX, sizeof(*del));
	if (!del)
		return -ENOMEM;
	for (int d = 0; d < cl->ndaemons; d++) {
		f->scan_err[d] = qfs_pending_begin(f->q, d, FSCK_PAGE, &f->cur[d]);
		if (f->scan_err[d]) {
			fprintf(stderr, "fsck.quorumfs: daemon %s (%s): PENDING_LIST failed: %s\n",
				cl->daemons[d].name, cl->daemons[d].endpoint,
				strerror(-f->scan_err[d]));
			failed = f->scan_err[d];
		}
	}
	if (failed) {
		fprintf(stderr, "fsck.quorumfs: not every daemon answers: nothing checked or "
				"repaired\n");
		rc = failed;
		goto out;
	}
	f->pq.ran = true;
	for (int d = 0; d < cl->ndaemons && !rc; d++) {
		rc = fsck_pending_daemon(f, d, &f->cur[d], del);
		f->scan_err[d] = rc;
	}
out:
	for (int d = 0; d < cl->ndaemons; d++)
		qfs_scan_end(&f->cur[d]);
	free(del);
	return rc;
}

void fsck_pending_report_text(const struct fsck *f)
{
	if (f->st.purgeable)
		printf("fsck.quorumfs: %" PRIu64 " tombstones past the grace period on every "
		       "replica, %" PRIu64 " purged\n", f->st.purgeable, f->st.purged);
	if (!f->quick)
		return;
	printf("fsck.quorumfs --quick: %" PRIu64 " pending-repair entries, %" PRIu64
	       " keys whole after the check, %" PRIu64 " entries dropped, %" PRIu64
	       " unchecked\n", f->pq.entries, f->pq.whole, f->pq.deleted, f->pq.unchecked);
}

struct json_t *fsck_pending_json(const struct fsck *f)
{
	if (!f->quick)
		return NULL;
	return json_pack("{s:I, s:I, s:I, s:I}", "entries", (json_int_t)f->pq.entries, "whole",
			 (json_int_t)f->pq.whole, "deleted", (json_int_t)f->pq.deleted,
			 "unchecked", (json_int_t)f->pq.unchecked);
}
