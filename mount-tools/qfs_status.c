// SPDX-License-Identifier: MIT
/*
 * qfs_status.c - `qfs status CONFIG [--json]` and `qfs layout CONFIG`: what
 * each daemon says about itself, whether every part of the ring still has
 * a write and a read quorum, and how the ring divides the keys.
 *
 * status exits 0 when every ring range has a write quorum of usable
 * replicas (answering, not rebuilding, answering under its configured
 * name), 1 when some range has not (or nothing could be asked), 2 for a
 * bad command line or config. It never waits longer than the config's
 * timeout_ms for a daemon (fs/quorum_admin.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/config.h"
#include "fs/quorum.h"
#include "mount-tools/qfs_cmds.h"
#include "proto/log.h"
#include "proto/status.h"

#define MNT_LAYOUT_SAMPLES 100000
#define MNT_LAYOUT_TOLERANCE 0.15 /* RING% off WEIGHT% by more: advise more vnodes */

/* Load @path; prints the error. 0 or 2 (the exit code for a bad config). */
static int mnt_load(const char *cmd, const char *path, struct qfs_cluster **cl)
{
	char err[1024];

	if (qfs_config_load(path, cl, err, sizeof(err)) < 0) {
		fprintf(stderr, "qfs %s: %s\n", cmd, err);
		return 2;
	}
	return 0;
}

/* "1.5 GiB" style size into @buf; returns @buf. */
static const char *mnt_size(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double x = (double)v;
	int u = 0;

	while (x >= 1024 && u < 6) {
		x /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.1f %s", x, unit[u]);
	return buf;
}

/* "2d03h", "4h05m", "6m07s", "8s" into @buf; returns @buf. */
static const char *mnt_uptime(uint64_t s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRIu64 "s", s);
	return buf;
}

/* The daemon answered under the name the config gives its endpoint. */
static bool mnt_name_ok(const struct qfs_daemon_conf *dc, const struct qfs_daemon_report *d)
{
	return d->err != 0 || !strcmp(dc->name, d->hello.name);
}

/* Counts toward quorums: answered, under its own name, not rebuilding. */
static bool mnt_usable(const struct qfs_daemon_conf *dc, const struct qfs_daemon_report *d)
{
	return d->err == 0 && !d->rebuilding && mnt_name_ok(dc, d);
}

static bool mnt_skewed(const struct qfs_daemon_report *d)
{
	int64_t s = d->skew_ms < 0 ? -d->skew_ms : d->skew_ms;

	return d->err == 0 && s > (int64_t)d->hello.max_skew_ms;
}

/*
 * Why daemon @d cannot be used, with what to do, into @buf; "" when it
 * can. @timeout_ms is the deadline the probe had.
 */
static const char *mnt_problem(const struct qfs_daemon_conf *dc,
			       const struct qfs_daemon_report *d, unsigned timeout_ms,
			       char *buf, size_t len)
{
	switch (d->err) {
	case 0:
		if (!mnt_name_ok(dc, d))
			snprintf(buf, len, "answers as '%s', not '%s': the endpoint of another "
				 "daemon? fix endpoint in [daemon %s]", d->hello.name, dc->name,
				 dc->name);
		else if (d->rebuilding)
			snprintf(buf, len, "%s: rebuilding, counts toward no quorum until "
				 "fsck.quorumfs -y has refilled it",
				 (d->hello.store_flags & PROTO_STORE_REBUILDING)
					 ? "store is being refilled (a new or wiped disk)"
					 : "store has no volume while the others have one");
		else if (mnt_skewed(d))
			snprintf(buf, len, "clock differs from ours by %" PRId64 " ms (bound %"
				 PRIu32 " ms): writes will be refused; fix NTP", d->skew_ms,
				 d->hello.max_skew_ms);
		else
			buf[0] = '\0';
		break;
	case -ETIMEDOUT:
		snprintf(buf, len, "no answer within %u ms: host down, firewall, or chunkd hung? "
			 "check that chunkd runs there and the endpoint is reachable", timeout_ms);
		break;
	case -EHOSTDOWN:
		snprintf(buf, len, "cannot connect: is chunkd running and listening on %s?",
			 dc->endpoint);
		break;
	case -EACCES:
		snprintf(buf, len, "%s: check public_key in [daemon %s] and that this client's "
			 "public key is in the daemon's allow file",
			 d->refusal ? d->refusal : "refused at the security layer", dc->name);
		break;
	case -EPROTO:
		if (d->status == PROTO_ST_BADVERSION)
			snprintf(buf, len, "speaks another protocol version than %u: upgrade the "
				 "older side", PROTO_VERSION);
		else
			snprintf(buf, len, "refused HELLO: %s", proto_st_name(d->status));
		break;
	case -EBADMSG:
		snprintf(buf, len, "malformed HELLO reply: is that endpoint a chunkd?");
		break;
	default:
		snprintf(buf, len, "%s", strerror(-d->err));
		break;
	}
	return buf;
}

/* The store flags of @d as words; fills @words, returns how many. */
static int mnt_flags(const struct qfs_daemon_conf *dc, const struct qfs_daemon_report *d,
		     const char *words[6])
{
	int n = 0;

	if (d->err)
		return 0;
	if (d->hello.store_flags & PROTO_STORE_FRESH)
		words[n++] = "fresh";
	if (d->hello.store_flags & PROTO_STORE_NOVOLUME)
		words[n++] = "novolume";
	if (d->rebuilding)
		words[n++] = "rebuilding";
	if (d->hello.store_flags & PROTO_STORE_FOREIGN)
		words[n++] = "foreign";
	if (mnt_skewed(d))
		words[n++] = "skew";
	if (!mnt_name_ok(dc, d))
		words[n++] = "wrong-name";
	return n;
}

static const char *mnt_yes(bool b)
{
	return b ? "yes" : "NO";
}

/*
 * Progress of rebuilding daemon @i: its records over the most any usable
 * daemon holds (with N = daemons every replica holds every key; with more
 * daemons it is an estimate). < 0 when unknown.
 */
static double mnt_rebuild_progress(const struct qfs_cluster *cl,
				   const struct qfs_daemon_report *d, int i)
{
	uint64_t most = 0;

	if (!d[i].rebuilding || d[i].stat_err)
		return -1;
	for (int j = 0; j < cl->ndaemons; j++)
		if (j != i && d[j].err == 0 && d[j].stat_err == 0 && !d[j].rebuilding &&
		    d[j].stat.records > most)
			most = d[j].stat.records;
	if (!most)
		return -1;
	return d[i].stat.records >= most ? 1.0 : (double)d[i].stat.records / (double)most;
}

static void print_table(const struct qfs_cluster *cl, const struct qfs_daemon_report *d,
			const struct qfs_coverage *cov, int reachable, unsigned timeout_ms)
{
	char used[32], avail[32], up[32], lat[32], why[512];
	bool problems = false;

	printf("cluster %s: N=%u W=%u R=%u, %d of %d daemons reachable\n", cl->path, cl->n,
	       cl->w, cl->r, reachable, cl->ndaemons);
	printf("write quorum everywhere: %s   read quorum everywhere: %s   "
	       "(fewest usable replicas of any ring range: %u of %u)\n",
	       mnt_yes(cov->below_w == 0), mnt_yes(cov->below_r == 0), cov->min_usable, cl->n);
	if (cov->below_w)
		printf("  %zu of %zu ring ranges (%.1f%% of keys) have fewer than W=%u usable "
		       "replicas: writes there fail\n", cov->below_w, cov->nranges,
		       100 * cov->below_w_share, cl->w);
	if (cov->below_r)
		printf("  %zu of %zu ring ranges (%.1f%% of keys) have fewer than R=%u usable "
		       "replicas: reads there fail\n", cov->below_r, cov->nranges,
		       100 * cov->below_r_share, cl->r);
	printf("\n%-12s %-28s %-7s %8s %5s %10s %10s %9s %7s %7s %s\n", "NAME", "ENDPOINT",
	       "STATE", "RTT_MS", "PROTO", "USED", "FREE", "RECORDS", "CORRUPT", "UPTIME",
	       "FLAGS");
	for (int i = 0; i < cl->ndaemons; i++) {
		const struct qfs_daemon_conf *dc = &cl->daemons[i];
		const char *words[6];
		int nw = mnt_flags(dc, &d[i], words);
		bool st = d[i].err == 0 && d[i].stat_err == 0;

		if (d[i].latency_ms >= 0)
			snprintf(lat, sizeof(lat), "%.2f", d[i].latency_ms);
		else
			snprintf(lat, sizeof(lat), "-");
		printf("%-12s %-28s %-7s %8s ", dc->name, dc->endpoint,
		       d[i].err ? "DOWN" : d[i].rebuilding ? "rebuild" : "up", lat);
		if (d[i].err)
			printf("%5s ", "-");
		else
			printf("%5u ", d[i].hello.version);
		if (st)
			printf("%10s %10s %9" PRIu64 " %7" PRIu64 " %7s ",
			       mnt_size(d[i].stat.used, used, sizeof(used)),
			       mnt_size(d[i].free_bytes, avail, sizeof(avail)), d[i].stat.records,
			       d[i].stat.corrupt, mnt_uptime(d[i].stat.uptime_s, up, sizeof(up)));
		else
			printf("%10s %10s %9s %7s %7s ", "-", "-", "-", "-", "-");
		for (int k = 0; k < nw; k++)
			printf("%s%s", k ? "," : "", words[k]);
		printf("%s\n", nw ? "" : "-");
	}
	for (int i = 0; i < cl->ndaemons; i++) {
		mnt_problem(&cl->daemons[i], &d[i], timeout_ms, why, sizeof(why));
		if (why[0]) {
			if (!problems)
				printf("\n");
			problems = true;
			printf("%s: %s\n", cl->daemons[i].name, why);
		} else if (d[i].err == 0 && d[i].stat_err) {
			printf("%s: answered HELLO but not STAT (%s)\n", cl->daemons[i].name,
			       strerror(-d[i].stat_err));
		}
		if (mnt_rebuild_progress(cl, d, i) >= 0)
			printf("%s: rebuilding: holds %" PRIu64 " records, %.0f%% of what a "
			       "healthy replica holds\n", cl->daemons[i].name, d[i].stat.records,
			       100 * mnt_rebuild_progress(cl, d, i));
		if (d[i].err == 0 && d[i].stat_err == 0 && d[i].stat.corrupt)
			printf("%s: %" PRIu64 " corrupt records: reads repair them from other "
			       "replicas\n", cl->daemons[i].name, d[i].stat.corrupt);
	}
}

/* json_object_set_new that tolerates a NULL value (allocation failure). */
static void jset(json_t *o, const char *k, json_t *v)
{
	if (v)
		json_object_set_new(o, k, v);
}

static json_t *jsize_or_null(bool have, uint64_t v)
{
	return have ? json_integer((json_int_t)v) : json_null();
}

static int print_json(const struct qfs_cluster *cl, const struct qfs_daemon_report *d,
		      const struct qfs_coverage *cov, int reachable, unsigned timeout_ms)
{
	json_t *root = json_object(), *c = json_object(), *arr = json_array();
	char why[512];
	int rc;

	if (!root || !c || !arr) {
		json_decref(root);
		json_decref(c);
		json_decref(arr);
		return -ENOMEM;
	}
	jset(c, "config", json_string(cl->path));
	jset(c, "n", json_integer(cl->n));
	jset(c, "w", json_integer(cl->w));
	jset(c, "r", json_integer(cl->r));
	jset(c, "daemons", json_integer(cl->ndaemons));
	jset(c, "reachable", json_integer(reachable));
	jset(c, "write_quorum_everywhere", json_boolean(cov->below_w == 0));
	jset(c, "read_quorum_everywhere", json_boolean(cov->below_r == 0));
	jset(c, "min_usable_replicas", json_integer(cov->min_usable));
	jset(c, "ring_ranges", json_integer((json_int_t)cov->nranges));
	jset(c, "ranges_below_write_quorum", json_integer((json_int_t)cov->below_w));
	jset(c, "ranges_below_read_quorum", json_integer((json_int_t)cov->below_r));
	jset(c, "keys_below_write_quorum", json_real(cov->below_w_share));
	jset(c, "keys_below_read_quorum", json_real(cov->below_r_share));
	jset(root, "cluster", c);
	for (int i = 0; i < cl->ndaemons; i++) {
		const struct qfs_daemon_conf *dc = &cl->daemons[i];
		bool up = d[i].err == 0, st = up && d[i].stat_err == 0;
		json_t *o = json_object(), *fl = json_array();
		const char *words[6];
		int nw = mnt_flags(dc, &d[i], words);

		if (!o || !fl) {
			json_decref(o);
			json_decref(fl);
			continue;
		}
		jset(o, "name", json_string(dc->name));
		jset(o, "endpoint", json_string(dc->endpoint));
		jset(o, "reachable", json_boolean(up));
		jset(o, "usable", json_boolean(mnt_usable(dc, &d[i])));
		jset(o, "rebuilding", json_boolean(d[i].rebuilding));
		jset(o, "rebuild_progress", mnt_rebuild_progress(cl, d, i) >= 0
						    ? json_real(mnt_rebuild_progress(cl, d, i))
						    : json_null());
		mnt_problem(dc, &d[i], timeout_ms, why, sizeof(why));
		jset(o, "error", why[0] ? json_string(why) : json_null());
		jset(o, "latency_ms", up && d[i].latency_ms >= 0 ? json_real(d[i].latency_ms)
								  : json_null());
		jset(o, "protocol", up ? json_integer(d[i].hello.version) : json_null());
		jset(o, "reported_name", up ? json_string(d[i].hello.name) : json_null());
		jset(o, "clock_skew_ms", up ? json_integer(d[i].skew_ms) : json_null());
		jset(o, "used_bytes", jsize_or_null(st, d[i].stat.used));
		jset(o, "free_bytes", jsize_or_null(st, d[i].free_bytes));
		jset(o, "capacity_bytes", jsize_or_null(st, d[i].stat.capacity));
		jset(o, "fs_free_bytes", jsize_or_null(st, d[i].stat.fs_free));
		jset(o, "records", jsize_or_null(st, d[i].stat.records));
		jset(o, "chunks", jsize_or_null(st, d[i].stat.chunks));
		jset(o, "tombstones", jsize_or_null(st, d[i].stat.tombstones));
		jset(o, "corrupt", jsize_or_null(st, d[i].stat.corrupt));
		jset(o, "uptime_s", jsize_or_null(st, d[i].stat.uptime_s));
		jset(o, "software", st ? json_string(d[i].stat.software) : json_null());
		for (int k = 0; k < nw; k++)
			json_array_append_new(fl, json_string(words[k]));
		jset(o, "flags", fl);
		json_array_append_new(arr, o);
	}
	jset(root, "daemons", arr);
	rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
	printf("\n");
	json_decref(root);
	return rc ? -EIO : 0;
}

int qfs_cmd_status(int argc, char **argv)
{
	struct qfs_daemon_report *d;
	struct qfs_coverage cov;
	struct qfs_cluster *cl;
	const char *path = NULL;
	bool json = false, *usable;
	int reachable = 0, rc;
	unsigned timeout_ms;
	char err[1024];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] != '-' && !path) {
			path = argv[i];
		} else {
			path = NULL;
			break;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: qfs status CONFIG [--json]\n");
		return 2;
	}
	if (mnt_load("status", path, &cl))
		return 2;
	qlog_level = QLOG_ERR; /* the table says what the transport would warn about */
	timeout_ms = cl->timeout_ms ? cl->timeout_ms : 1000;
	d = calloc((size_t)cl->ndaemons, sizeof(*d));
	usable = calloc((size_t)cl->ndaemons, sizeof(*usable));
	if (!d || !usable) {
		fprintf(stderr, "qfs status: out of memory\n");
		rc = 1;
		goto out;
	}
	rc = qfs_quorum_probe(cl, timeout_ms, d, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "qfs status: %s\n", err);
		rc = 1;
		goto out;
	}
	for (int i = 0; i < cl->ndaemons; i++) {
		reachable += d[i].err == 0;
		usable[i] = mnt_usable(&cl->daemons[i], &d[i]);
	}
	rc = qfs_quorum_coverage(cl, usable, &cov);
	if (rc < 0) {
		fprintf(stderr, "qfs status: cannot build the ring: %s\n", strerror(-rc));
		rc = 1;
		goto out;
	}
	if (json) {
		if (print_json(cl, d, &cov, reachable, timeout_ms) < 0) {
			fprintf(stderr, "qfs status: cannot write the JSON\n");
			rc = 1;
			goto out;
		}
	} else {
		print_table(cl, d, &cov, reachable, timeout_ms);
	}
	rc = cov.below_w ? 1 : 0;
out:
	free(usable);
	free(d);
	qfs_config_free(cl);
	return rc;
}

/*
 * Number the zones of @cl as fs/ring.c does: daemons sharing a non-empty
 * zone share an index, a daemon without a zone is a zone of its own. Fills
 * @zone[ndaemons] when non-NULL; returns the number of zones.
 */
static int mnt_zones(const struct qfs_cluster *cl, int *zone)
{
	int idx[QFS_MAX_DAEMONS], nzones = 0;

	for (int i = 0; i < cl->ndaemons; i++) {
		int j = 0;

		if (cl->daemons[i].zone[0])
			for (j = 0; j < i && strcmp(cl->daemons[j].zone, cl->daemons[i].zone); j++)
				;
		idx[i] = cl->daemons[i].zone[0] && j < i ? idx[j] : nzones++;
		if (zone)
			zone[i] = idx[i];
	}
	return nzones;
}

/* Per zone: daemons, weight share and share of all replicas (qfs layout). */
static void mnt_layout_zones(const struct qfs_cluster *cl, const struct qfs_layout_row *rows,
			     double wsum, int nzones)
{
	int zone[QFS_MAX_DAEMONS];
	unsigned spread = cl->n < (unsigned)nzones ? cl->n : (unsigned)nzones;

	mnt_zones(cl, zone);
	printf("\n%-12s %7s %7s %7s\n", "ZONE", "DAEMONS", "WEIGHT%", "HOLDS%");
	for (int z = 0; z < nzones; z++) {
		double w = 0, held = 0;
		int nd = 0, first = -1;

		for (int i = 0; i < cl->ndaemons; i++) {
			if (zone[i] != z)
				continue;
			if (first < 0)
				first = i;
			nd++;
			w += cl->daemons[i].weight;
			held += rows[i].replica_share;
		}
		/* a daemon without a zone is shown under its own name */
		printf("%-12s %7d %7.2f %7.2f\n", cl->daemons[first].zone[0] ?
		       cl->daemons[first].zone : cl->daemons[first].name, nd, 100 * w / wsum,
		       100 * held / cl->n);
	}
	printf("\nEvery key has its %u replicas in %u distinct zones (a daemon without a zone is "
	       "a zone of its own).\nZONE HOLDS%%: its share of all replicas%s.\n", cl->n, spread,
	       cl->n <= (unsigned)nzones ? ", at most 1/N since a zone holds one copy of a key"
					 : "");
}

int qfs_cmd_layout(int argc, char **argv)
{
	struct qfs_layout_row *rows;
	struct qfs_cluster *cl;
	uint64_t total = 0;
	double wsum = 0;
	int rc, nzones, off = 0;

	/* show|add|remove|set-weight|set-zone|apply|abort: staging new layouts (qfs_layout.c) */
	if (argc >= 2 && (!strcmp(argv[1], "show") || !strcmp(argv[1], "add") ||
			  !strcmp(argv[1], "remove") || !strcmp(argv[1], "set-weight") ||
			  !strcmp(argv[1], "set-zone") ||
			  !strcmp(argv[1], "apply") || !strcmp(argv[1], "abort")))
		return qfs_cmd_layout_edit(argc - 1, argv + 1);
	if (argc != 2) {
		fprintf(stderr, "usage: qfs layout CONFIG\n");
		return 2;
	}
	if (mnt_load("layout", argv[1], &cl))
		return 2;
	rows = calloc((size_t)cl->ndaemons, sizeof(*rows));
	if (!rows) {
		fprintf(stderr, "qfs layout: out of memory\n");
		qfs_config_free(cl);
		return 1;
	}
	rc = qfs_quorum_layout(cl, MNT_LAYOUT_SAMPLES, rows);
	if (rc < 0) {
		fprintf(stderr, "qfs layout: cannot build the ring: %s\n", strerror(-rc));
		rc = 1;
		goto out;
	}
	for (int i = 0; i < cl->ndaemons; i++) {
		total += rows[i].points;
		wsum += cl->daemons[i].weight;
	}
	nzones = mnt_zones(cl, NULL);
	printf("cluster %s: N=%u W=%u R=%u, %d daemons in %d zones, vnodes %u, %" PRIu64
	       " ring points, layout_version %" PRIu64 "\n\n", cl->path, cl->n, cl->w, cl->r,
	       cl->ndaemons, nzones, cl->vnodes, total, cl->layout_version);
	printf("%-12s %-28s %-8s %6s %7s %7s %7s %9s %7s\n", "NAME", "ENDPOINT", "ZONE",
	       "WEIGHT", "WEIGHT%", "POINTS", "RING%", "PRIMARY%", "HOLDS%");
	for (int i = 0; i < cl->ndaemons; i++) {
		const struct qfs_daemon_conf *dc = &cl->daemons[i];

		printf("%-12s %-28s %-8s %6" PRIu32 " %7.2f %7" PRIu64 " %7.2f %9.2f %7.2f\n",
		       dc->name, dc->endpoint, dc->zone[0] ? dc->zone : "-", dc->weight,
		       100.0 * dc->weight / wsum, rows[i].points, 100 * rows[i].ring_share,
		       100 * rows[i].sample_share, 100 * rows[i].replica_share);
	}
	printf("\nWEIGHT%%: its share of the total weight, what RING%% and PRIMARY%% should be; "
	       "RING%%: share of\nthe token space it is the primary for; PRIMARY%%: share of %d "
	       "sample chunk keys it is the\nprimary for; HOLDS%%: share of all keys it keeps a "
	       "copy of (the column sums to N x 100%%).\n", MNT_LAYOUT_SAMPLES);
	if (nzones < cl->ndaemons)
		mnt_layout_zones(cl, rows, wsum, nzones);
	for (int i = 0; i < cl->ndaemons; i++) {
		double ratio = rows[i].ring_share * wsum / cl->daemons[i].weight;

		if (ratio < 1 - MNT_LAYOUT_TOLERANCE || ratio > 1 + MNT_LAYOUT_TOLERANCE) {
			if (!off++)
				printf("\n");
			printf("%s: primary for %.2fx its weight share (more than %.0f%% off): "
			       "raise vnodes (docs/configuration.md)\n", cl->daemons[i].name, ratio,
			       100 * MNT_LAYOUT_TOLERANCE);
		}
	}
	rc = 0;
out:
	free(rows);
	qfs_config_free(cl);
	return rc;
}
