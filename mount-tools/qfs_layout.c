// SPDX-License-Identifier: MIT
/*
 * qfs_layout.c - `qfs layout show|add|remove|set-weight|set-zone|apply|abort
 * CONFIG`: stage a new cluster layout and apply it.
 *
 * Changes are staged in CONFIG.staged (the whole target layout, encoded as
 * daemons store it, with the version it was derived from), so several
 * changes make one new layout version. `apply` estimates how much data
 * moves (a sample of 100,000 tokens placed on both rings, scaled by the
 * records and bytes the daemons report), then sends LAYOUT_SET of version
 * base+1 with previous = base to every daemon of both layouts: a compare-
 * and-swap on the version, so two operators cannot both win. The daemons
 * of the base layout are asked first; a refusal there stops the apply.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "fs/call.h"
#include "fs/layout.h"
#include "fs/quorum.h"
#include "fs/quorum_scan.h"
#include "fs/ring.h"
#include "mount-tools/qfs_cmds.h"
#include "proto/status.h"

#define MNT_LAY_SAMPLES 100000

/* Open @path's cluster; the layout in use goes to *pl (malloc'ed). */
static int mnt_lay_open(const char *path, struct qfs_cluster **cl, struct qfs_quorum **q,
			struct proto_layout **pl)
{
	struct qfs_quorum_opts qo = { 0 };
	char err[1024];
	int rc;

	rc = qfs_config_load(path, cl, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "qfs layout: %s\n", err);
		return rc;
	}
	rc = qfs_quorum_open(*cl, &qo, q, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "qfs layout: %s\n", err);
		qfs_config_free(*cl);
		return rc;
	}
	*pl = malloc(sizeof(**pl));
	if (!*pl) {
		qfs_quorum_close(*q);
		qfs_config_free(*cl);
		return -ENOMEM;
	}
	qfs_quorum_layout_get(*q, *pl);
	return 0;
}

static void mnt_lay_staged_path(const char *config, char *out, size_t len)
{
	snprintf(out, len, "%s.staged", config);
}

/* Read the staged layout: 0, -ENOENT (none) or -errno. */
static int mnt_lay_staged_read(const char *config, struct proto_layout *st)
{
	static uint8_t buf[PROTO_ARGS_MAX];
	char path[4200];
	size_t n;
	FILE *f;
	int rc;

	mnt_lay_staged_path(config, path, sizeof(path));
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	rc = proto_layout_decode(buf, n, st);
	if (rc)
		fprintf(stderr, "qfs layout: %s is damaged (%s): 'qfs layout abort' drops it\n",
			path, strerror(-rc));
	return rc;
}

static int mnt_lay_staged_write(const char *config, const struct proto_layout *st)
{
	char path[4200], tmp[4300];
	struct proto_wr w;
	FILE *f;
	int rc = 0;

	mnt_lay_staged_path(config, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	proto_wr_init(&w);
	proto_layout_encode(&w, st);
	f = fopen(tmp, "wb");
	if (w.bad || !f || fwrite(w.buf, 1, w.len, f) != w.len)
		rc = -EIO;
	if (f && fclose(f))
		rc = -EIO;
	if (!rc && rename(tmp, path))
		rc = -errno;
	proto_wr_free(&w);
	if (rc)
		fprintf(stderr, "qfs layout: cannot write %s: %s\n", path, strerror(-rc));
	return rc;
}

static void mnt_lay_print(const char *title, const struct proto_layout_ring *r)
{
	printf("%s v%" PRIu64 ": N=%u W=%u R=%u vnodes=%u, %u daemons\n", title, r->version, r->n,
	       r->w, r->r, r->vnodes, r->ndaemons);
	for (int i = 0; i < r->ndaemons; i++)
		printf("  %-16s %-40s weight %-5u zone %s\n", r->d[i].name, r->d[i].endpoint,
		       r->d[i].weight, r->d[i].zone[0] ? r->d[i].zone : "-");
}

static int mnt_lay_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* Apply one edit (@argv after CONFIG) to @st->cur; 0 or 2 (usage, printed). */
static int mnt_lay_edit(const char *sub, int argc, char **argv, struct proto_layout *st)
{
	struct proto_layout_ring *r = &st->cur;
	int i = argc >= 1 ? proto_layout_find(r, argv[0]) : -1;
	unsigned v;

	if (!strcmp(sub, "add")) {
		struct proto_layout_daemon *d;

		if (argc < 2 || i >= 0 || r->ndaemons >= PROTO_LAYOUT_DAEMONS_MAX) {
			fprintf(stderr, "qfs layout add: %s\n",
				i >= 0 ? "a daemon has that name already" : "NAME ENDPOINT needed");
			return 2;
		}
		d = &r->d[r->ndaemons];
		memset(d, 0, sizeof(*d));
		d->weight = 100;
		snprintf(d->name, sizeof(d->name), "%s", argv[0]);
		snprintf(d->endpoint, sizeof(d->endpoint), "%s", argv[1]);
		if (strlen(argv[0]) > PROTO_LAYOUT_NAME_MAX ||
		    strlen(argv[1]) > PROTO_LAYOUT_ENDPOINT_MAX) {
			fprintf(stderr, "qfs layout add: name or endpoint too long\n");
			return 2;
		}
		for (int a = 2; a < argc; a += 2) {
			const char *val = a + 1 < argc ? argv[a + 1] : NULL;

			if (!strcmp(argv[a], "--weight") &&
			    !mnt_lay_uint(val, 1, PROTO_LAYOUT_WEIGHT_MAX, &v))
				d->weight = v;
			else if (!strcmp(argv[a], "--zone") && val &&
				 strlen(val) <= PROTO_LAYOUT_NAME_MAX)
				snprintf(d->zone, sizeof(d->zone), "%s", val);
			else if (!strcmp(argv[a], "--public-key") && val &&
				 strlen(val) == PROTO_LAYOUT_KEY_LEN)
				snprintf(d->public_key, sizeof(d->public_key), "%s", val);
			else {
				fprintf(stderr, "qfs layout add: bad option '%s'\n", argv[a]);
				return 2;
			}
		}
		r->ndaemons++;
	} else if (!strcmp(sub, "remove")) {
		if (argc != 1 || i < 0) {
			fprintf(stderr, "qfs layout remove: no daemon '%s'\n", argc ? argv[0] : "");
			return 2;
		}
		memmove(&r->d[i], &r->d[i + 1], (size_t)(r->ndaemons - i - 1) * sizeof(r->d[0]));
		r->ndaemons--;
	} else if (!strcmp(sub, "set-zone")) {
		/* "-" clears it: the daemon is a zone of its own again */
		if (argc != 2 || i < 0 || strlen(argv[1]) > PROTO_LAYOUT_NAME_MAX) {
			fprintf(stderr, "qfs layout set-zone: NAME (known) and ZONE (- for none)\n");
			return 2;
		}
		snprintf(r->d[i].zone, sizeof(r->d[i].zone), "%s",
			 strcmp(argv[1], "-") ? argv[1] : "");
	} else {
		if (argc != 2 || i < 0 || mnt_lay_uint(argv[1], 1, PROTO_LAYOUT_WEIGHT_MAX, &v)) {
			fprintf(stderr, "qfs layout set-weight: NAME (known) and WEIGHT 1..%u\n",
				PROTO_LAYOUT_WEIGHT_MAX);
			return 2;
		}
		r->d[i].weight = v;
	}
	if (proto_layout_check(st)) {
		fprintf(stderr, "qfs layout %s: the result is not a valid layout (N=%u needs at "
			"least N daemons; names and endpoints unique; CURVE keys on all or none)\n",
			sub, r->n);
		return 2;
	}
	return 0;
}

/* Fraction of sampled tokens whose replica set differs between @a and @b. */
static int mnt_lay_moved(const struct qfs_cluster *base, const struct proto_layout_ring *a,
			 const struct proto_layout_ring *b, double *keys, double *copies)
{
	struct qfs_cluster *ca = malloc(sizeof(*ca)), *cb = malloc(sizeof(*cb));
	struct qfs_ring *ra = NULL, *rb = NULL;
	uint64_t changed = 0, placements = 0;
	int rc = -ENOMEM;

	if (!ca || !cb)
		goto out;
	rc = qfs_layout_to_cluster(base, a, ca);
	if (!rc)
		rc = qfs_layout_to_cluster(base, b, cb);
	if (!rc)
		rc = qfs_ring_build(ca, &ra);
	if (!rc)
		rc = qfs_ring_build(cb, &rb);
	for (uint64_t s = 0; !rc && s < MNT_LAY_SAMPLES; s++) {
		int ia[QFS_MAX_REPLICAS], ib[QFS_MAX_REPLICAS], na, nb, miss = 0;
		uint64_t tok = XXH3_64bits(&s, sizeof(s));

		na = qfs_ring_place(ra, tok, ia, a->n);
		nb = qfs_ring_place(rb, tok, ib, b->n);
		for (int j = 0; j < nb; j++) {
			bool found = false;

			for (int k = 0; k < na; k++)
				found |= !strcmp(ca->daemons[ia[k]].name, cb->daemons[ib[j]].name);
			miss += !found;
		}
		changed += miss > 0;
		placements += (uint64_t)miss;
	}
	*keys = (double)changed / MNT_LAY_SAMPLES;
	*copies = (double)placements / MNT_LAY_SAMPLES;
out:
	qfs_ring_free(ra);
	qfs_ring_free(rb);
	free(ca);
	free(cb);
	return rc;
}

/* LAYOUT_SET @l with @expect on @daemon; 0, -ESTALE (*stored set) or -errno. */
static int mnt_lay_set(struct qfs_quorum *q, int daemon, uint64_t expect,
		       const struct proto_layout *l, uint64_t *stored)
{
	uint64_t deadline = qfs_deadline_ms(10000);
	const struct qfs_rpc *rpc;
	struct proto_wr w;
	struct qfs_call *c;
	int rc;

	*stored = 0;
	rc = qfs_call_new(1, deadline, qfs_accept_reply, NULL, 0, &c);
	if (rc)
		return rc;
	proto_wr_init(&w);
	proto_encode_layout_set_req(&w, expect, l);
	rc = qfs_call_add(c, daemon, PROTO_OP_LAYOUT_SET, true, &w, 0, 0);
	if (rc >= 0) {
		qfs_call_set_need(c, 1);
		qfs_quorum_submit(q, c);
		qfs_call_wait(c, deadline, qfs_call_all_done, NULL);
		rpc = qfs_call_result(c, 0);
		if (!rpc)
			rc = -ETIMEDOUT;
		else if (rpc->err)
			rc = rpc->err;
		else if (proto_decode_layout_version(rpc->rargs, rpc->rargs_len, rpc->rdata_len,
						     stored))
			rc = rpc->status == PROTO_ST_OK ? -EBADMSG : -proto_st_to_errno(rpc->status);
		else
			rc = rpc->status == PROTO_ST_OK ? 0
			     : rpc->status == PROTO_ST_CONFLICT ? -ESTALE : -EIO;
		if (rc > 0)
			rc = -rc;
	}
	qfs_call_put(c);
	return rc;
}

/* Transport index of daemon @i of @r, adding it to the transport when the
 * config does not name it; -errno when it cannot be reached. */
static int mnt_lay_index(struct qfs_quorum *q, const struct proto_layout_ring *r, int i)
{
	struct qfs_cluster *one;
	struct proto_layout_ring r1;
	int d = qfs_quorum_daemon_index(q, r->d[i].name);

	if (d >= 0)
		return d;
	one = calloc(1, sizeof(*one));
	if (!one)
		return -ENOMEM;
	r1 = *r;
	r1.d[0] = r->d[i];
	r1.ndaemons = 1;
	r1.n = r1.w = r1.r = 1;
	if (!qfs_layout_to_cluster(one, &r1, one))
		d = qfs_quorum_daemon_add(q, &one->daemons[0]);
	free(one);
	return d;
}

int mnt_layout_push(struct qfs_quorum *q, const struct proto_layout *base,
		    const struct proto_layout *next, int *took)
{
	/* a daemon the base's previous layout names alone (being removed)
	 * gets the new version too: it must not keep handing out the base
	 * to clients whose config names it */
	const struct proto_layout_ring *rings[3] = { &base->cur, &next->cur, &base->prev };
	int fails = 0;

	*took = 0;
	/*
	 * New members get the superblock before any daemon hands out a layout
	 * that names them: a mount switches as soon as one reply shows the new
	 * version, and a member without the volume would count in no quorum
	 * then (a transition needs W + e of its N + e replicas).
	 */
	for (int i = 0; i < next->cur.ndaemons; i++) {
		const char *name = next->cur.d[i].name;
		int d, rc;

		if (proto_layout_find(&base->cur, name) >= 0)
			continue;
		d = mnt_lay_index(q, &next->cur, i);
		if (d < 0)
			continue; /* reported by the loop below */
		/* mkfs's flag: a new member is complete for what it owns
		 * (nothing yet), not a wiped store being refilled */
		rc = qfs_quorum_seed_super(q, d, PROTO_PUT_MKFS);
		if (rc && rc != -ENOENT)
			fprintf(stderr, "daemon %s: cannot give it the superblock: %s\n", name,
				strerror(-rc));
	}
	/* the base layout's daemons first: the first refusal means another apply won */
	for (int k = 0; k < (base->has_prev ? 3 : 2); k++) {
		for (int i = 0; i < rings[k]->ndaemons; i++) {
			const char *name = rings[k]->d[i].name;
			uint64_t stored;
			int d, rc;

			if (k >= 1 && proto_layout_find(&base->cur, name) >= 0)
				continue;
			if (k == 2 && proto_layout_find(&next->cur, name) >= 0)
				continue;
			d = mnt_lay_index(q, rings[k], i);
			if (d < 0) {
				fprintf(stderr, "daemon %s: not reachable from this client\n", name);
				fails++;
				continue;
			}
			/* seeded above; again in case that failed (it says so) */
			rc = k == 1 ? qfs_quorum_seed_super(q, d, PROTO_PUT_MKFS) : 0;
			if (rc && rc != -ENOENT) {
				fprintf(stderr, "daemon %s: cannot give it the superblock: %s\n", name,
					strerror(-rc));
				fails++;
				continue;
			}
			rc = mnt_lay_set(q, d, k != 1 ? base->cur.version : 0, next, &stored);
			/* a daemon that never stored a layout runs the config's (the base),
			 * and a new or leaving daemon may hold anything older; so may a
			 * member that was down when an earlier version was pushed (it
			 * holds an older one, never a rival of the base: that would be
			 * newer), and it must not refuse every later apply */
			if (rc == -ESTALE && (k ? stored < next->cur.version
						: stored < base->cur.version))
				rc = mnt_lay_set(q, d, stored, next, &stored);
			if (k == 0 && rc && rc != -ESTALE &&
			    proto_layout_find(&next->cur, name) < 0) {
				/* removed by this change, and down: a dead daemon is
				 * removed exactly so; it places no key any more */
				fprintf(stderr, "daemon %s (removed): layout_set: %s (ignored)\n",
					name, strerror(-rc));
				continue;
			}
			if (k == 2) {
				/* leaving (maybe dead): it places no key any more */
				if (rc)
					fprintf(stderr, "daemon %s (leaving): layout_set: %s\n", name,
						strerror(-rc));
				continue;
			}
			if (rc == -ESTALE) {
				fprintf(stderr, "daemon %s holds layout v%" PRIu64 ", not v%" PRIu64
					": another layout was applied meanwhile%s\n", name, stored,
					base->cur.version, fails ? "" : "; nothing changed");
				return fails ? -EIO : -ESTALE;
			}
			if (rc) {
				fprintf(stderr, "daemon %s: layout_set: %s\n", name, strerror(-rc));
				fails++;
			} else {
				(*took)++;
			}
		}
	}
	return fails ? -EIO : 0;
}

static int mnt_lay_apply(const char *config, struct qfs_quorum *q, const struct qfs_cluster *cl,
			 const struct proto_layout *cur, struct proto_layout *st)
{
	struct proto_layout *next = malloc(sizeof(*next));
	struct qfs_space sp = { 0 };
	double keys, copies;
	char path[4200];
	int rc, took;

	if (!next)
		return 1;
	if (cur->has_prev) {
		fprintf(stderr, "qfs layout apply: layout v%" PRIu64 " is still in transition: "
			"run 'qfs rebalance %s' first\n", cur->cur.version, config);
		free(next);
		return 1;
	}
	if (st->cur.version != cur->cur.version) {
		fprintf(stderr, "qfs layout apply: changes were staged on v%" PRIu64
			" but the cluster is at v%" PRIu64 ": 'qfs layout abort' and stage again\n",
			st->cur.version, cur->cur.version);
		free(next);
		return 1;
	}
	if (cur->cur.version + 2 > PROTO_LAYOUT_VERSION_MAX) {
		/* the transition and the rebalance that retires it take two */
		fprintf(stderr, "qfs layout apply: layout v%" PRIu64 " is too close to the last "
			"version the protocol carries (2^32 - 1)\n", cur->cur.version);
		free(next);
		return 1;
	}
	memset(next, 0, sizeof(*next));
	next->cur = st->cur;
	next->cur.version = cur->cur.version + 1;
	next->has_prev = true;
	next->prev = cur->cur;
	rc = mnt_lay_moved(cl, &cur->cur, &next->cur, &keys, &copies);
	if (!rc)
		rc = proto_layout_check(next);
	if (rc) {
		fprintf(stderr, "qfs layout apply: %s\n", strerror(-rc));
		free(next);
		return 1;
	}
	qfs_quorum_space(q, &sp);
	printf("layout v%" PRIu64 " -> v%" PRIu64 ": estimate (100000 sampled keys): %.1f%% of "
	       "keys change replicas, %.2f new copies per key\n", cur->cur.version,
	       next->cur.version, 100 * keys, copies);
	printf("estimated to move: about %.0f records, %.1f MiB (of %" PRIu64 " records, %.1f MiB)\n",
	       copies * (double)sp.records, copies * (double)sp.used / (1 << 20), sp.records,
	       (double)sp.used / (1 << 20));
	rc = mnt_layout_push(q, cur, next, &took);
	free(next);
	if (rc == -ESTALE)
		return 1;
	if (rc && !took) {
		fprintf(stderr, "qfs layout apply: no daemon took it; run apply again\n");
		return 4;
	}
	/* in effect once one member holds it (clients take the newest) */
	mnt_lay_staged_path(config, path, sizeof(path));
	unlink(path);
	if (rc) {
		fprintf(stderr, "qfs layout apply: layout v%" PRIu64 " is in effect, but not "
			"every daemon took it (see above): 'qfs rebalance %s' gives it to them "
			"once they answer\n", cur->cur.version + 1, config);
		return 4;
	}
	printf("applied layout v%" PRIu64 " (transition); now run 'qfs rebalance %s'\n",
	       cur->cur.version + 1, config);
	return 0;
}

int qfs_cmd_layout_edit(int argc, char **argv)
{
	const char *sub = argv[0], *config = argc >= 2 ? argv[1] : NULL;
	struct proto_layout *cur = NULL, *st;
	struct qfs_cluster *cl = NULL;
	struct qfs_quorum *q = NULL;
	char path[4200];
	int rc, ret = 0;

	if (!config) {
		fprintf(stderr, "usage: qfs layout %s CONFIG ...\n", sub);
		return 2;
	}
	if (!strcmp(sub, "abort")) {
		mnt_lay_staged_path(config, path, sizeof(path));
		if (unlink(path) && errno != ENOENT) {
			perror(path);
			return 1;
		}
		return 0;
	}
	st = malloc(sizeof(*st));
	if (!st)
		return 1;
	if (mnt_lay_open(config, &cl, &q, &cur)) {
		free(st);
		return 8;
	}
	rc = mnt_lay_staged_read(config, st);
	if (rc == -ENOENT) {
		memset(st, 0, sizeof(*st));
		st->cur = cur->cur;
	} else if (rc) {
		ret = 1;
		goto out;
	}
	if (!strcmp(sub, "show")) {
		mnt_lay_print("current layout", &cur->cur);
		if (cur->has_prev)
			mnt_lay_print("in transition from", &cur->prev);
		if (rc == 0)
			mnt_lay_print("staged changes on", &st->cur);
	} else if (!strcmp(sub, "apply")) {
		ret = rc == -ENOENT ? (fprintf(stderr, "qfs layout apply: nothing staged\n"), 1)
				    : mnt_lay_apply(config, q, cl, cur, st);
	} else {
		ret = mnt_lay_edit(sub, argc - 2, argv + 2, st);
		if (!ret && mnt_lay_staged_write(config, st))
			ret = 1;
		if (!ret)
			mnt_lay_print("staged", &st->cur);
	}
out:
	free(st);
	free(cur);
	qfs_quorum_close(q);
	qfs_config_free(cl);
	return ret;
}
