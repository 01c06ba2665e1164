// SPDX-License-Identifier: MIT
/*
 * qfs_rebalance.c - `qfs rebalance CONFIG [--rate MB/s]`: finish a layout
 * transition in the foreground.
 *
 * 1. (layout in transition) Check that the previous layout is out of
 *    service: fewer than min(W, R) of its daemons may still hold an older
 *    version (mnt_layout_retired), so a mount that still routes by it is
 *    refused (STALE_LAYOUT) and cannot add a version after a key is copied.
 *    Then SCAN every known daemon; each key whose new preference list
 *    differs from its old one (once, by a set of key hashes) is copied in
 *    its newest version to the new replicas that lack it (qfs_scan_copy),
 *    and checked there with a second HEAD of every daemon.
 * 2. When every such key is in place, LAYOUT_SET the layout without its
 *    previous one (version + 1, CAS), and check the same rule on the new
 *    layout's daemons: a mount still in the transition can no longer write
 *    the old lists alone, nor complete any operation on the new ones.
 * 3. After a short drain (settle_ms, see below), SCAN again and DROP each
 *    copy held by a daemon outside its key's list, at exactly the version
 *    it holds, once the list holds that version or a newer one.
 * No state is kept: killed at any point, running it again resumes (step 1
 * skips keys already in place; without a transition it does step 3 only,
 * after giving the current layout to a member that missed it while down).
 * Exit 0 when done, 4 when something is left for a rerun (a key not
 * placed, a copy not dropped, a member that could not be scanned).
 *
 * `qfs rebalance CONFIG --status` changes nothing: it SCANs every daemon and
 * says whether a transition is open, how many keys changed lists (at most
 * that many to copy) and how many copies lie outside their lists (to drop).
 * Exit 0 when nothing is left, 1 when something is.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "fs/call.h"
#include "fs/quorum.h"
#include "fs/quorum_scan.h"
#include "mount-tools/qfs_cmds.h"
#include "proto/layout.h"

/*
 * Safety does not rest on a wait any more: daemons refuse requests routed
 * by an older layout than theirs, and a write a daemon accepted before it
 * stored the new version is applied before the LAYOUT_SET reply leaves
 * (one writer queue). The drain after retiring (one timeout_ms plus a
 * margin) only lets what carries no layout version (background repairs
 * placed by a mount's previous view, queued pending-repair batches) end
 * before copies are dropped, so fewer copies are left for the next run.
 */
#define QFS_RB_MARGIN_MS 500
#define QFS_RB_PAGE 1024
#define QFS_RB_TRIES 5
#define QFS_RB_SAY_MAX 10	/* keys named one by one; a dead target fails them all */

struct mnt_rb {
	struct qfs_quorum *q;
	unsigned settle_ms;	/* drain after retiring; see QFS_RB_MARGIN_MS */
	double rate;		/* bytes per second, 0 = unlimited */
	struct timespec t0;
	double rate_t0;		/* elapsed seconds when the rate budget started */
	uint64_t rate_bytes0;	/* bytes copied by then */
	double next_progress;	/* elapsed seconds of the next progress line */
	uint64_t *set;		/* open addressing, 0 = empty */
	size_t set_cap, set_n;
	uint64_t scanned, changed, needed, copies, bytes, drops, kept, fails;
};

static double mnt_rb_elapsed(const struct mnt_rb *rb)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - rb->t0.tv_sec) + (now.tv_nsec - rb->t0.tv_nsec) / 1e9;
}

/* Insert @h; true when it was there already (or no memory: treat as new). */
static bool mnt_rb_seen(struct mnt_rb *rb, uint64_t h)
{
	size_t i;

	h |= 1; /* 0 marks an empty slot */
	if (2 * (rb->set_n + 1) > rb->set_cap) {
		size_t cap = rb->set_cap ? 2 * rb->set_cap : 4096;
		uint64_t *ns = calloc(cap, sizeof(*ns));

		if (!ns)
			return false;
		for (size_t j = 0; j < rb->set_cap; j++) {
			if (!rb->set[j])
				continue;
			for (i = rb->set[j] & (cap - 1); ns[i]; i = (i + 1) & (cap - 1))
				;
			ns[i] = rb->set[j];
		}
		free(rb->set);
		rb->set = ns;
		rb->set_cap = cap;
	}
	for (i = h & (rb->set_cap - 1); rb->set[i]; i = (i + 1) & (rb->set_cap - 1))
		if (rb->set[i] == h)
			return true;
	rb->set[i] = h;
	rb->set_n++;
	return false;
}

static bool mnt_rb_in(const int *l, int n, int d)
{
	for (int i = 0; i < n; i++)
		if (l[i] == d)
			return true;
	return false;
}

static void mnt_rb_throttle(struct mnt_rb *rb)
{
	double ahead;

	if (rb->rate <= 0)
		return;
	ahead = (double)(rb->bytes - rb->rate_bytes0) / rb->rate -
		(mnt_rb_elapsed(rb) - rb->rate_t0);
	if (ahead > 0.001)
		nanosleep(&(struct timespec){ .tv_sec = (time_t)ahead,
					      .tv_nsec = (long)((ahead - (time_t)ahead) * 1e9) },
			  NULL);
}

/*
 * At most once a second, a progress line on stdout (@what: the step), so an
 * operator, or a test that kills the run, sees it is moving.
 */
static void mnt_rb_progress(struct mnt_rb *rb, const char *what, int d)
{
	double now = mnt_rb_elapsed(rb);

	if (now < rb->next_progress)
		return;
	rb->next_progress = now + 1;
	printf("progress: %s %s, %.1f s, %" PRIu64 " records scanned (%.0f/s), %" PRIu64
	       " copies (%.1f MiB, %.1f MiB/s), %" PRIu64 " dropped, %" PRIu64 " failed\n", what,
	       qfs_quorum_daemon_name(rb->q, d), now, rb->scanned, (double)rb->scanned / now,
	       rb->copies, (double)rb->bytes / (1 << 20), (double)rb->bytes / (1 << 20) / now,
	       rb->drops, rb->fails);
	fflush(stdout);
}

/* Count the copies @res[nto] reports made; false when one failed. */
static bool mnt_rb_count(struct mnt_rb *rb, const int *res, int nto, uint32_t len)
{
	bool ok = true;

	for (int i = 0; i < nto; i++) {
		ok &= res[i] >= 0;
		if (res[i] == 0) {
			rb->copies++;
			rb->bytes += len;
		}
	}
	mnt_rb_throttle(rb);
	return ok;
}

/*
 * Make the daemons @nl[nn] hold the newest version of @key any daemon has
 * (*newest), copying it where it lacks, and check it. An INODE held in
 * several different copies gets the merge of all of them (its registers
 * merge: the newest copy alone may lack a register of an older one); a PUT
 * the daemon took is the check, since it merges. An LWW kind is copied
 * from the newest copy and checked by a second HEAD: each daemon of the
 * list then holds what was copied, or a newer write. 0 or -errno.
 */
static int mnt_rb_place(struct mnt_rb *rb, const struct proto_key *key, const int *nl, int nn,
			struct proto_meta *newest)
{
	static bool has[QFS_MAX_DAEMONS];
	static struct proto_meta meta[QFS_MAX_DAEMONS];
	static int err[QFS_MAX_DAEMONS];
	int nd = qfs_quorum_ndaemons(rb->q);
	struct proto_meta floor;
	bool copied = false;

	for (int t = 0; t < QFS_RB_TRIES; t++) {
		int to[QFS_MAX_REPLICAS], res[QFS_MAX_REPLICAS], nto = 0, from = -1, copies = 0, rc;

		rc = qfs_scan_head_all(rb->q, key, has, meta, err);
		if (rc)
			return rc;
		for (int d = 0; d < nd; d++) {
			if (!has[d] || (meta[d].flags & PROTO_REC_CORRUPT))
				continue;
			copies += from < 0 || proto_lww_cmp(&meta[d], &meta[from]) != 0;
			if (from < 0 || proto_lww_cmp(&meta[d], newest) > 0 ||
			    (proto_lww_cmp(&meta[d], newest) == 0 && mnt_rb_in(nl, nn, d))) {
				*newest = meta[d];
				from = d;
			}
		}
		if (from < 0)
			return 0; /* gone everywhere meanwhile (never a tombstone: nothing to keep) */
		if (key->kind == PROTO_KIND_INODE && copies > 1) {
			rc = qfs_scan_merge_to(rb->q, key, has, meta, nl, nn, newest, res);
			if (rc == -ESTALE)
				continue; /* written meanwhile: look again */
			if (rc)
				return rc;
			return mnt_rb_count(rb, res, nn, newest->len) ? 0 : -EIO;
		}
		if (!copied)
			floor = *newest;
		for (int i = 0; i < nn; i++)
			if (!has[nl[i]] || proto_lww_cmp(&meta[nl[i]], &floor) < 0)
				to[nto++] = nl[i];
		if (!nto)
			return 0; /* in place, as this HEAD shows */
		rc = qfs_scan_copy(rb->q, key, newest, from, to, nto, res);
		if (rc == -ESTALE)
			continue; /* written meanwhile: look again */
		if (rc)
			return rc;
		if (!mnt_rb_count(rb, res, nto, newest->len))
			return -EIO;
		floor = *newest;
		copied = true;
	}
	return -EAGAIN;
}

/* Step 1 on daemon @d: copy its keys whose list changed. */
static int mnt_rb_copy_from(struct mnt_rb *rb, int d)
{
	struct qfs_scan_cur cur;
	int rc;

	rc = qfs_scan_begin(rb->q, d, QFS_RB_PAGE, &cur);
	while (!rc && cur.has) {
		int nl[QFS_MAX_REPLICAS], ol[QFS_MAX_REPLICAS], nn, no, add = 0;
		uint64_t tok = proto_key_token(&cur.e.key);
		struct proto_meta newest = cur.e.meta;

		rb->scanned++;
		nn = qfs_quorum_place_in(rb->q, tok, false, nl, QFS_MAX_REPLICAS);
		no = qfs_quorum_place_in(rb->q, tok, true, ol, QFS_MAX_REPLICAS);
		for (int i = 0; i < nn; i++)
			add += !mnt_rb_in(ol, no, nl[i]);
		if (add && !mnt_rb_seen(rb, XXH3_64bits(cur.key, cur.key_len))) {
			rb->changed++;
			rb->needed += (uint64_t)add;
			int prc = mnt_rb_place(rb, &cur.e.key, nl, nn, &newest);

			if (prc && ++rb->fails > QFS_RB_SAY_MAX) {
				if (rb->fails == QFS_RB_SAY_MAX + 1)
					fprintf(stderr, "qfs rebalance: more keys could not be "
						"placed (not listed)\n");
			} else if (prc) {
				char ks[96];

				fprintf(stderr, "qfs rebalance: %s: could not place it on its new "
					"replicas: %s\n", proto_key_str(&cur.e.key, ks, sizeof(ks)),
					strerror(-prc));
			}
		}
		mnt_rb_progress(rb, "copying from", d);
		rc = qfs_scan_advance(&cur);
	}
	qfs_scan_end(&cur);
	return rc;
}

/* Step 3 on daemon @d: drop the copies it holds outside their lists. */
static int mnt_rb_drop_from(struct mnt_rb *rb, int d)
{
	struct qfs_scan_cur cur;
	int rc;

	rc = qfs_scan_begin(rb->q, d, QFS_RB_PAGE, &cur);
	while (!rc && cur.has) {
		int nl[QFS_MAX_REPLICAS], nn, res[1];
		struct proto_meta newest = cur.e.meta;
		struct proto_batch_ent e;

		rb->scanned++;
		nn = qfs_quorum_place_in(rb->q, proto_key_token(&cur.e.key), false, nl,
					 QFS_MAX_REPLICAS);
		/* every daemon keeps the superblock: without it, it counts as emptied */
		if (!mnt_rb_in(nl, nn, d) && cur.e.key.kind != PROTO_KIND_SUPER) {
			memset(&e, 0, sizeof(e));
			e.key = cur.e.key;
			e.ver = cur.e.meta.ver;
			if (mnt_rb_place(rb, &cur.e.key, nl, nn, &newest) ||
			    proto_version_cmp(&newest.ver, &e.ver) < 0) {
				rb->fails++;
			} else if (qfs_scan_batch(rb->q, PROTO_OP_DROP, &e, 1, &d, 1, res) ||
				   res[0] < 0) {
				rb->fails++;
			} else {
				rb->drops += (uint64_t)res[0];
				rb->kept += res[0] == 0; /* written meanwhile: next run */
			}
		}
		mnt_rb_progress(rb, "dropping on", d);
		rc = qfs_scan_advance(&cur);
	}
	qfs_scan_end(&cur);
	return rc;
}

/*
 * The drain after retiring (QFS_RB_MARGIN_MS). The rate budget starts over
 * afterwards: time spent waiting is no licence for a burst of settle_ms x
 * rate bytes.
 */
static void mnt_rb_settle(struct mnt_rb *rb)
{
	nanosleep(&(struct timespec){ .tv_sec = rb->settle_ms / 1000,
				      .tv_nsec = rb->settle_ms % 1000 * 1000000L },
		  NULL);
	rb->rate_t0 = mnt_rb_elapsed(rb);
	rb->rate_bytes0 = rb->bytes;
}

static void mnt_rb_report(struct mnt_rb *rb, const char *what)
{
	printf("%s: %.1f s, %" PRIu64 " records scanned, %" PRIu64 " keys changed lists (%" PRIu64
	       " new placements needed), %" PRIu64 " copies (%.1f MiB), %" PRIu64
	       " dropped, %" PRIu64 " kept, %" PRIu64 " failed\n",
	       what, mnt_rb_elapsed(rb), rb->scanned, rb->changed, rb->needed, rb->copies,
	       (double)rb->bytes / (1 << 20), rb->drops, rb->kept, rb->fails);
	fflush(stdout);
}

/* --status: what a rebalance would still do, from a SCAN of every daemon. */
static int mnt_rb_status(struct mnt_rb *rb, const struct proto_layout *pl)
{
	uint64_t changed = 0, outside = 0;
	int unscanned = 0;

	for (int d = 0; d < qfs_quorum_ndaemons(rb->q); d++) {
		struct qfs_scan_cur cur;
		int rc = qfs_scan_begin(rb->q, d, QFS_RB_PAGE, &cur);

		while (!rc && cur.has) {
			int nl[QFS_MAX_REPLICAS], ol[QFS_MAX_REPLICAS], nn, no;
			uint64_t tok = proto_key_token(&cur.e.key);

			rb->scanned++;
			nn = qfs_quorum_place_in(rb->q, tok, false, nl, QFS_MAX_REPLICAS);
			if (!mnt_rb_in(nl, nn, d) && cur.e.key.kind != PROTO_KIND_SUPER)
				outside++;
			if (pl->has_prev) {
				no = qfs_quorum_place_in(rb->q, tok, true, ol, QFS_MAX_REPLICAS);
				for (int i = 0; i < nn; i++) {
					if (mnt_rb_in(ol, no, nl[i]))
						continue;
					if (!mnt_rb_seen(rb, XXH3_64bits(cur.key, cur.key_len)))
						changed++;
					break;
				}
			}
			rc = qfs_scan_advance(&cur);
		}
		qfs_scan_end(&cur);
		if (rc) {
			unscanned++;
			fprintf(stderr, "qfs rebalance: scan of %s: %s (not counted)\n",
				qfs_quorum_daemon_name(rb->q, d), strerror(-rc));
		}
	}
	if (pl->has_prev)
		printf("layout v%" PRIu64 " in transition from v%" PRIu64 "\n", pl->cur.version,
		       pl->prev.version);
	else
		printf("layout v%" PRIu64 ", no transition\n", pl->cur.version);
	printf("%" PRIu64 " records scanned in %.1f s: %" PRIu64 " keys changed lists (at most "
	       "that many to copy), %" PRIu64 " copies outside their lists (to drop)%s\n",
	       rb->scanned, mnt_rb_elapsed(rb), changed, outside,
	       unscanned ? "; some daemons not scanned" : "");
	return pl->has_prev || outside || unscanned ? 1 : 0;
}

int qfs_cmd_rebalance(int argc, char **argv)
{
	struct qfs_quorum_opts qo = { 0 };
	struct proto_layout *pl = NULL, *next = NULL;
	struct qfs_cluster *cl = NULL;
	struct mnt_rb rb = { 0 };
	char err[1024];
	int rc, ret = 0, took;

	bool status = argc == 3 && !strcmp(argv[2], "--status");

	if (argc != 2 && !status && !(argc == 4 && !strcmp(argv[2], "--rate"))) {
		fprintf(stderr, "usage: qfs rebalance CONFIG [--rate MB/s | --status]\n");
		return 2;
	}
	if (argc == 4) {
		char *end;

		rb.rate = strtod(argv[3], &end) * (1 << 20);
		if (*end || !(rb.rate > 0) || rb.rate > 1e12) {
			fprintf(stderr, "qfs rebalance: --rate wants a positive number of MB/s\n");
			return 2;
		}
	}
	if (qfs_config_load(argv[1], &cl, err, sizeof(err)) < 0) {
		fprintf(stderr, "qfs rebalance: %s\n", err);
		return 8;
	}
	if (qfs_quorum_open(cl, &qo, &rb.q, err, sizeof(err)) < 0) {
		fprintf(stderr, "qfs rebalance: %s\n", err);
		qfs_config_free(cl);
		return 8;
	}
	rb.settle_ms = cl->timeout_ms + QFS_RB_MARGIN_MS;
	pl = malloc(sizeof(*pl));
	next = malloc(sizeof(*next));
	if (!pl || !next) {
		ret = 8;
		goto out;
	}
	qfs_quorum_layout_get(rb.q, pl);
	clock_gettime(CLOCK_MONOTONIC, &rb.t0);
	rb.next_progress = 1;
	if (status) {
		ret = mnt_rb_status(&rb, pl);
		goto out;
	}
	if (pl->has_prev) {
		printf("layout v%" PRIu64 " in transition from v%" PRIu64
		       ": copying moved keys\n", pl->cur.version, pl->prev.version);
		/* every mount must write both lists before a key is copied: one
		 * still writing the old list only could add a version after it.
		 * Daemons refuse it once they hold this version: give it to any
		 * that missed the apply, then check that enough hold it */
		mnt_layout_push(rb.q, pl, pl, &took);
		if (mnt_layout_retired(rb.q, &pl->prev, pl->cur.version,
				       "not copying; run qfs rebalance again once they answer")) {
			ret = 4;
			goto out;
		}
		for (int d = 0; d < qfs_quorum_ndaemons(rb.q); d++) {
			rc = mnt_rb_copy_from(&rb, d);
			if (rc)
				fprintf(stderr, "qfs rebalance: scan of %s: %s (its keys are "
					"found on the other replicas)\n",
					qfs_quorum_daemon_name(rb.q, d), strerror(-rc));
		}
		mnt_rb_report(&rb, "copied");
		if (rb.fails) {
			fprintf(stderr, "qfs rebalance: %" PRIu64 " keys not in place: the old "
				"layout stays; run qfs rebalance again\n", rb.fails);
			ret = 4;
			goto out;
		}
		if (pl->cur.version >= PROTO_LAYOUT_VERSION_MAX) {
			fprintf(stderr, "qfs rebalance: layout v%" PRIu64 " is the last version "
				"that fits the protocol (2^32 - 1): cannot retire it\n",
				pl->cur.version);
			ret = 4;
			goto out;
		}
		memset(next, 0, sizeof(*next));
		next->cur = pl->cur;
		next->cur.version = pl->cur.version + 1;
		rc = mnt_layout_push(rb.q, pl, next, &took);
		if (rc == -ESTALE || (rc && !took)) {
			fprintf(stderr, "qfs rebalance: could not retire the old layout; run qfs "
				"rebalance again\n");
			ret = 4;
			goto out;
		}
		/* copies outside the new lists may go once no mount can complete
		 * an operation routed by the transition: refused by the daemons
		 * that store the new version */
		if (mnt_layout_retired(rb.q, &next->cur, next->cur.version,
				       "copies are kept; run qfs rebalance again once they answer")) {
			ret = 4;
			goto out;
		}
		printf("layout v%" PRIu64 " in place (previous retired)\n", next->cur.version);
		mnt_rb_settle(&rb);
	} else if (pl->cur.version > 1) {
		/* a member that was down when the last version was pushed still
		 * holds an older one (maybe the transition): bring it up to date,
		 * or it refuses the next apply (qfs_layout.c) and serves mounts
		 * that still route by the transition */
		rc = mnt_layout_push(rb.q, pl, pl, &took);
		if (rc)
			fprintf(stderr, "qfs rebalance: not every daemon holds layout v%" PRIu64
				" (see above)\n", pl->cur.version);
		if (mnt_layout_retired(rb.q, &pl->cur, pl->cur.version,
				       "copies are kept; run qfs rebalance again once they answer")) {
			ret = 4;
			goto out;
		}
	}
	for (int d = 0; d < qfs_quorum_ndaemons(rb.q); d++) {
		const char *name = qfs_quorum_daemon_name(rb.q, d);

		rc = mnt_rb_drop_from(&rb, d);
		if (rc && proto_layout_find(&pl->cur, name) >= 0) {
			/* a member: what it holds outside its lists is still there */
			fprintf(stderr, "qfs rebalance: scan of %s: %s (copies it holds are "
				"left: run qfs rebalance again once it is back)\n", name,
				strerror(-rc));
			ret = 4;
		} else if (rc) {
			fprintf(stderr, "qfs rebalance: scan of %s: %s (not in the layout: "
				"skipped)\n", name, strerror(-rc));
		}
	}
	mnt_rb_report(&rb, "done");
	if (rb.fails) {
		fprintf(stderr, "qfs rebalance: %" PRIu64 " copies not dropped: run qfs "
			"rebalance again\n", rb.fails);
		ret = 4;
	}
out:
	free(rb.set);
	free(pl);
	free(next);
	qfs_quorum_close(rb.q);
	qfs_config_free(cl);
	return ret;
}
