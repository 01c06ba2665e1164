// SPDX-License-Identifier: MIT
/*
 * fsck.c - fsck.quorumfs CONFIG [-n | -y] [--json] [--progress | --no-progress]
 *
 * The replica pass: first every daemon's DIGEST buckets are compared
 * (fsck_digest.c); the keys of the buckets that do not agree on every
 * replica (all of them with --full, or when a daemon has no digests) are
 * walked with SCAN, one page per daemon in memory, and the streams are
 * merge-joined in key order (the
 * smallest current key is examined, then every cursor that showed it
 * advances), so memory does not grow with the keyspace. For each key, its N
 * replicas (ring placement) are classified against the newest clean copy
 * any daemon holds (proto_lww_cmp): ok, missing, stale (older, or an INODE
 * whose registers differ) or corrupt (CORRUPT flag). Copies held by daemons
 * outside the key's N replicas are reported as misplaced and left alone.
 * With -y every missing, stale or corrupt replica gets the newest record:
 * read whole from a daemon that holds it and PUT (a merge: it can only ever
 * make a replica newer, so running on a live cluster is safe); an INODE is
 * read through qfs_quorum_get (which merges every register) and the merged
 * record PUT to all its replicas.
 *
 * Exit codes as fsck(8): 0 clean, 1 errors corrected, 4 errors left
 * uncorrected, 8 operational error (a daemon of the layout did not answer
 * SCAN: nothing is repaired then; one the layout no longer names is
 * skipped), 16 usage. Misplaced copies are reported but do not
 * change the exit code (they are extra copies, not damage).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/call.h"
#include "fs/config.h"
#include "fs/quorum.h"
#include "fs/quorum_heal.h"
#include "fs/quorum_scan.h"
#include "mount-tools/fsck.h"
#include "proto/layout.h"
#include "proto/log.h"

/* enum qfs_heal_state: what one replica holds compared with the newest copy */
static const char *const fsck_state_name[] = { "ok", "missing", "stale", "corrupt" };

static void fsck_usage(FILE *f)
{
	fprintf(f,
		"usage: fsck.quorumfs CONFIG [-n | -y] [--json] [--progress | --no-progress]\n"
		"                     [--grace SECONDS] [--quick] [--full]\n"
		"  -n             report only, change nothing (the default)\n"
		"  -y             repair: write the newest record to every missing, stale\n"
		"                 or corrupt replica\n"
		"  --json         print a JSON summary on stdout instead of text\n"
		"  --no-progress  no progress line on stderr (default: when it is a terminal)\n"
		"  --grace SECONDS  tombstones older than this may be purged (default 604800)\n"
		"  --quick        only the keys in the daemons' pending-repair indexes:\n"
		"                 repaired, then dropped from the index (-y)\n"
		"  --full         scan every key, even in buckets whose digests agree\n"
		"                 (also the only pass that purges tombstones there)\n"
		"exit: 0 clean, 1 errors corrected, 4 errors left uncorrected,\n"
		"      8 operational error, 16 usage error\n");
}

/* Encoded key order: memcmp, then length (as the store orders keys). */
static int fsck_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static void fsck_progress(struct fsck *f, bool last)
{
	uint64_t now = qfs_now_ns();
	double secs;

	if (!f->progress || (!last && now - f->last_progress_ns < FSCK_PROGRESS_NS))
		return;
	f->last_progress_ns = now;
	secs = (double)(now - f->t0_ns) / 1e9;
	fprintf(stderr,
		"\rfsck.quorumfs: %" PRIu64 " keys, %" PRIu64 " missing, %" PRIu64
		" stale, %" PRIu64 " corrupt, %" PRIu64 " repaired, %.0f keys/s   %s",
		f->st.keys, f->st.missing, f->st.stale, f->st.corrupt, f->st.repaired,
		secs > 0 ? (double)f->st.keys / secs : 0.0, last ? "\n" : "");
	fflush(stderr);
}

void fsck_say(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	if (f->json)
		return;
	if (f->progress)
		fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

const char *fsck_ver(const struct proto_meta *m, char *buf, size_t len)
{
	snprintf(buf, len, "%016" PRIx64 ".%016" PRIx64 "%s", m->ver.hlc, m->ver.writer,
		 (m->flags & PROTO_REC_TOMBSTONE) ? "(deleted)" : "");
	return buf;
}

/*
 * Examine one key: @has[d] says whether daemon d showed it, @meta[d] what
 * it holds. Counts, reports and (with -y) repairs; a tombstone that every
 * replica holds goes to fsck_tomb_key(). Returns true when every replica
 * holds the newest copy afterwards (fsck.h).
 */
bool fsck_key(struct fsck *f, const struct proto_key *key, const bool *has,
	      const struct proto_meta *meta)
{
	const struct qfs_cluster *cl = f->cl;
	int res[QFS_MAX_REPLICAS];
	bool is_rep[QFS_MAX_DAEMONS] = { false };
	struct qfs_heal_key hk;
	char ks[96], v1[64], v2[64];
	bool whole = true;
	int rc;

	f->st.keys++;
	proto_key_str(key, ks, sizeof(ks));
	/* no tombstone grace: fsck reports a replica without a tombstone */
	qfs_heal_classify(f->q, key, has, meta, 0, &hk);
	for (int i = 0; i < hk.n; i++) {
		int d = hk.reps[i];

		is_rep[d] = true;
		f->st.replicas_checked++;
		switch (hk.state[i]) {
		case QFS_HEAL_OK:
			continue;
		case QFS_HEAL_MISSING:
			f->st.missing++;
			break;
		case QFS_HEAL_CORRUPT:
			f->st.corrupt++;
			break;
		case QFS_HEAL_STALE:
			f->st.stale++;
			fsck_say(f, "%s on %s: stale (holds %s, newest %s)\n", ks,
				 cl->daemons[d].name, fsck_ver(&meta[d], v1, sizeof(v1)),
				 fsck_ver(&hk.best, v2, sizeof(v2)));
			continue;
		}
		fsck_say(f, "%s on %s: %s\n", ks, cl->daemons[d].name,
			 fsck_state_name[hk.state[i]]);
	}
	/* every daemon holds the superblock (fs.c, mkfs_seed_super) */
	for (int d = 0; key->kind != PROTO_KIND_SUPER && d < cl->ndaemons; d++) {
		if (has[d] && !is_rep[d]) {
			f->st.misplaced++;
			fsck_say(f, "%s on %s: misplaced (not one of its %d replicas; left in place)\n",
				 ks, cl->daemons[d].name, hk.n);
		}
	}
	if (!hk.nbad) {
		/* every replica holds the newest copy: a tombstone may be collected */
		if (hk.have_best && (hk.best.flags & PROTO_REC_TOMBSTONE))
			fsck_tomb_key(f, key, &hk.best, hk.reps, hk.n, has);
		return true;
	}
	if (!f->repair || !hk.have_best) {
		for (int i = 0; i < hk.nbad; i++)
			fsck_rebuild_left(f, hk.bad[i], 1);
	}
	if (!f->repair) {
		f->st.left += (uint64_t)hk.nbad;
		return false;
	}
	if (!hk.have_best) {
		fsck_say(f, "%s: no clean copy on any daemon: cannot repair\n", ks);
		f->st.failed += (uint64_t)hk.nbad;
		f->st.left += (uint64_t)hk.nbad;
		return false;
	}
	rc = qfs_heal_repair(f->q, key, has, meta, &hk, res);
	for (int i = 0; i < hk.nbad; i++) {
		int e = rc ? rc : res[i];

		if (!e) {
			f->st.repaired++;
			fsck_say(f, "%s on %s: repaired\n", ks, cl->daemons[hk.bad[i]].name);
		} else {
			f->st.failed++;
			f->st.left++;
			fsck_rebuild_left(f, hk.bad[i], 1);
			fsck_say(f, "%s on %s: repair failed: %s\n", ks,
				 cl->daemons[hk.bad[i]].name, strerror(-e));
			whole = false;
		}
	}
	return whole;
}

bool fsck_member(const struct fsck *f, int d)
{
	static struct proto_layout pl;	/* large; fsck is single-threaded */
	const char *name = f->cl->daemons[d].name;

	qfs_quorum_layout_get(f->q, &pl);
	return proto_layout_find(&pl.cur, name) >= 0 ||
	       (pl.has_prev && proto_layout_find(&pl.prev, name) >= 0);
}

/*
 * A SCAN of daemon @d failed with @err: reported; true when the pass must
 * stop (a member of the layout), false when it goes on without @d.
 */
static bool fsck_scan_failed(struct fsck *f, int d, int err)
{
	const struct qfs_cluster *cl = f->cl;

	if (fsck_member(f, d)) {
		fprintf(stderr, "fsck.quorumfs: daemon %s (%s): SCAN failed: %s\n",
			cl->daemons[d].name, cl->daemons[d].endpoint, strerror(-err));
		return true;
	}
	fprintf(stderr, "fsck.quorumfs: daemon %s (%s): SCAN failed: %s; it is not in the "
		"layout: skipped\n", cl->daemons[d].name, cl->daemons[d].endpoint,
		strerror(-err));
	qfs_scan_end(&f->cur[d]);
	f->cur[d].has = false;
	return false;
}

/*
 * The merge-join over every daemon's SCAN stream. Returns 0, or -errno
 * when a daemon of the layout stopped answering (reported; the pass is
 * abandoned). A daemon outside the layout that does not answer is skipped.
 */
static int fsck_replica_pass(struct fsck *f)
{
	const struct qfs_cluster *cl = f->cl;
	struct proto_meta meta[QFS_MAX_DAEMONS];
	bool has[QFS_MAX_DAEMONS];
	struct proto_key key;
	int failed = 0;

	failed = fsck_digest_plan(f);
	if (failed)
		return failed;
	if (f->dg.used && f->dg.differ + f->dg.straddle == 0)
		return 0; /* every bucket agrees: no key to read */
	for (int d = 0; d < cl->ndaemons; d++) {
		if (f->dg.used)
			f->scan_err[d] = qfs_scan_begin_buckets(f->q, d, FSCK_PAGE, f->dg.map,
								&f->cur[d]);
		else
			f->scan_err[d] = qfs_scan_begin(f->q, d, FSCK_PAGE, &f->cur[d]);
		if (f->scan_err[d] && fsck_scan_failed(f, d, f->scan_err[d]))
			failed = f->scan_err[d];
	}
	if (failed) {
		fprintf(stderr, "fsck.quorumfs: not every daemon answers: nothing checked or "
				"repaired\n");
		return failed;
	}
	for (;;) {
		const struct qfs_scan_cur *min = NULL;

		for (int d = 0; d < cl->ndaemons; d++) {
			const struct qfs_scan_cur *c = &f->cur[d];

			if (c->has && (!min || fsck_keycmp(c->key, c->key_len, min->key,
							   min->key_len) < 0))
				min = c;
		}
		if (!min)
			return 0;
		key = min->e.key;
		for (int d = 0; d < cl->ndaemons; d++) {
			struct qfs_scan_cur *c = &f->cur[d];

			has[d] = c->has && fsck_keycmp(c->key, c->key_len, min->key, min->key_len) == 0;
			if (has[d])
				meta[d] = c->e.meta;
		}
		/* advance first: min points into a cursor */
		for (int d = 0; d < cl->ndaemons; d++) {
			if (!has[d])
				continue;
			f->scan_err[d] = qfs_scan_advance(&f->cur[d]);
			if (f->scan_err[d] && fsck_scan_failed(f, d, f->scan_err[d]))
				failed = f->scan_err[d];
		}
		if (failed) {
			fprintf(stderr, "fsck.quorumfs: pass abandoned after %" PRIu64 " keys\n",
				f->st.keys);
			return failed;
		}
		fsck_key(f, &key, has, meta);
		fsck_progress(f, false);
	}
}

static int fsck_exit_code(const struct fsck *f, int pass_rc)
{
	if (pass_rc)
		return FSCK_EXIT_OPERATIONAL;
	/* a daemon still rebuilding counts in no quorum: an error left */
	if (f->st.left || f->ns.left || fsck_rebuild_still(f))
		return FSCK_EXIT_UNCORRECTED;
	if (f->st.repaired || f->ns.fixed || f->rb.nrebuilt)
		return FSCK_EXIT_CORRECTED;
	return FSCK_EXIT_CLEAN;
}

/* json_object_set_new that tolerates a NULL value. */
static void fsck_jset(json_t *o, const char *k, json_t *v)
{
	if (o && v)
		json_object_set_new(o, k, v);
}

static void fsck_report_json(const struct fsck *f, int code)
{
	json_t *o = json_object(), *un = json_array();

	fsck_jset(o, "keys", json_integer((json_int_t)f->st.keys));
	fsck_jset(o, "replicas_checked", json_integer((json_int_t)f->st.replicas_checked));
	fsck_jset(o, "missing", json_integer((json_int_t)f->st.missing));
	fsck_jset(o, "stale", json_integer((json_int_t)f->st.stale));
	fsck_jset(o, "corrupt", json_integer((json_int_t)f->st.corrupt));
	fsck_jset(o, "misplaced", json_integer((json_int_t)f->st.misplaced));
	fsck_jset(o, "repaired", json_integer((json_int_t)f->st.repaired));
	fsck_jset(o, "failed", json_integer((json_int_t)f->st.failed));
	fsck_jset(o, "purged", json_integer((json_int_t)f->st.purged));
	fsck_jset(o, "purgeable", json_integer((json_int_t)f->st.purgeable));
	fsck_jset(o, "pending", fsck_pending_json(f));
	fsck_jset(o, "digest", fsck_digest_json(f));
	for (int d = 0; un && d < f->cl->ndaemons; d++)
		if (f->scan_err[d])
			json_array_append_new(un, json_string(f->cl->daemons[d].name));
	fsck_jset(o, "unreachable", un);
	fsck_jset(o, "rebuilding", fsck_rebuild_json(f, false));
	fsck_jset(o, "rebuilt", fsck_rebuild_json(f, true));
	fsck_jset(o, "namespace", fsck_ns_json(f));
	fsck_jset(o, "repair", json_boolean(f->repair));
	fsck_jset(o, "exit", json_integer(code));
	if (!o || json_dumpf(o, stdout, JSON_INDENT(2)) < 0)
		fprintf(stderr, "fsck.quorumfs: cannot write the JSON report\n");
	else
		putchar('\n');
	json_decref(o);
}

static void fsck_report_text(const struct fsck *f)
{
	printf("fsck.quorumfs: %" PRIu64 " keys, %" PRIu64 " replicas checked: %" PRIu64
	       " missing, %" PRIu64 " stale, %" PRIu64 " corrupt, %" PRIu64 " misplaced; %" PRIu64
	       " repaired, %" PRIu64 " failed, %" PRIu64 " left uncorrected\n",
	       f->st.keys, f->st.replicas_checked, f->st.missing, f->st.stale, f->st.corrupt,
	       f->st.misplaced, f->st.repaired, f->st.failed, f->st.left);
}

/* A decimal count of seconds, at most 100 years. Returns 0 or -EINVAL. */
static int fsck_parse_seconds(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > 3153600000ull)
		return -EINVAL;
	*out = v;
	return 0;
}

enum { OPT_JSON = 256, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_GRACE, OPT_QUICK, OPT_FULL };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "full", no_argument, NULL, OPT_FULL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct qfs_quorum_opts qo = { 0 };
	struct qfs_cluster *cl = NULL;
	bool no = false, yes = false;
	int progress = -1; /* -1: when stderr is a terminal */
	struct fsck *f;
	char err[1024];
	int c, rc, code;

	f = calloc(1, sizeof(*f));
	if (!f) {
		fprintf(stderr, "fsck.quorumfs: out of memory\n");
		return FSCK_EXIT_OPERATIONAL;
	}
	f->grace_s = FSCK_GRACE_DEFAULT_S;
	while ((c = getopt_long(argc, argv, "nyh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			no = true;
			break;
		case 'y':
			yes = true;
			break;
		case OPT_JSON:
			f->json = true;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_NO_PROGRESS:
			progress = 0;
			break;
		case OPT_QUICK:
			f->quick = true;
			break;
		case OPT_FULL:
			f->full = true;
			break;
		case OPT_GRACE:
			if (fsck_parse_seconds(optarg, &f->grace_s)) {
				fprintf(stderr, "fsck.quorumfs: --grace %s: not a number of seconds "
						"(0 to 3153600000)\n", optarg);
				free(f);
				return FSCK_EXIT_USAGE;
			}
			break;
		case 'h':
			fsck_usage(stdout);
			free(f);
			return 0;
		default:
			fsck_usage(stderr);
			free(f);
			return FSCK_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (no && yes)) {
		if (no && yes)
			fprintf(stderr, "fsck.quorumfs: -n and -y exclude each other\n");
		fsck_usage(stderr);
		free(f);
		return FSCK_EXIT_USAGE;
	}
	f->repair = yes;
	f->progress = progress < 0 ? isatty(STDERR_FILENO) : progress;
	qlog_level = QLOG_ERR;

	code = FSCK_EXIT_OPERATIONAL;
	if (qfs_config_load(argv[optind], &cl, err, sizeof(err)) < 0) {
		fprintf(stderr, "fsck.quorumfs: %s\n", err);
		goto out_free;
	}
	f->cl = cl;
	rc = qfs_quorum_open(cl, &qo, &f->q, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "fsck.quorumfs: %s\n", err);
		goto out_config;
	}
	/* every daemon the cluster's layout names (it may have grown since
	 * the config was written), in the indexes placement uses */
	f->cl = qfs_quorum_cluster(f->q);
	f->t0_ns = qfs_now_ns();
	if (f->quick) {
		/* only what writes missed: no namespace pass, no REBUILT */
		rc = fsck_pending_pass(f);
	} else {
		fsck_rebuild_start(f);
		rc = fsck_replica_pass(f);
		for (int d = 0; d < f->cl->ndaemons; d++)
			qfs_scan_end(&f->cur[d]);
		f->replica_ms = (qfs_now_ns() - f->t0_ns) / 1000000;
		fsck_digest_free(f);
		if (rc == 0)
			rc = fsck_ns_pass(f);
		fsck_rebuild_finish(f, rc);
	}
	fsck_progress(f, true);
	code = fsck_exit_code(f, rc);
	if (f->json) {
		fsck_report_json(f, code);
	} else {
		fsck_report_text(f);
		fsck_digest_report_text(f);
		fsck_pending_report_text(f);
		fsck_ns_report_text(f);
		fsck_rebuild_report_text(f);
	}
	if (f->repair && (f->st.repaired || f->ns.fixed || f->ns.garbage_freed))
		qfs_quorum_sync_all(f->q);
	qfs_quorum_close(f->q);
out_config:
	qfs_config_free(cl);
out_free:
	free(f);
	return code;
}
