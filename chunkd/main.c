// SPDX-License-Identifier: MIT
/*
 * main.c - chunkd startup and shutdown: the command line, then an ordered
 * table of steps (signals, identity, store, sockets, threads), each with its
 * undo; the reactor runs on the main thread until SIGTERM or SIGINT, and the
 * steps are undone in reverse order: workers stopped and joined (the writer
 * syncs what it committed), sockets closed, store closed. SIGHUP reloads the
 * CURVE allow list (--allow) without a restart.
 *
 * Exit status: 0 after a clean stop, 1 when startup or the reactor failed,
 * 2 for a bad command line (the message names the option).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "chunkd/server.h"
#include "chunkd/zap.h"
#include "proto/keyfile.h"
#include "proto/log.h"

#define CHK_EXIT_USAGE 2
#define CHK_DEFAULT_THREADS 4
#define CHK_DEFAULT_SCRUB_RATE 8
#define CHK_DEFAULT_MAX_SKEW_MS 5000
#define CHK_MAX_SKEW_LIMIT_MS (24ull * 3600 * 1000)
#define CHK_SCRUB_RATE_MAX (1ull << 20) /* MiB/s */
#define CHK_TOMB_GRACE_MAX_S 3153600000ull /* 100 years */

static void chk_usage(FILE *f)
{
	fprintf(f,
		"usage: chunkd --name NAME --listen ENDPOINT [--listen ENDPOINT...] --data DIR\n"
		"              [--sync commit|always|none] [--threads N] [--capacity SIZE]\n"
		"              [--scrub-rate MiB/s] [--max-skew-ms MS]\n"
		"              [--curve-secret FILE --allow FILE]\n"
		"              [--tombstone-grace SECONDS] [--accept-stale]\n"
		"              [--log-level err|warn|info|debug] [--syslog]\n"
		"\n"
		"  --name NAME          daemon name in the cluster: 1..64 of [A-Za-z0-9._-]\n"
		"  --listen ENDPOINT    ZeroMQ endpoint to serve (tcp://HOST:PORT, ipc://PATH);\n"
		"                       repeat for more (up to %d)\n"
		"  --data DIR           store directory, created if missing\n"
		"  --sync MODE          commit (default): durable at SYNC and every %d ms;\n"
		"                       always: durable before every reply; none: never synced\n"
		"  --threads N          reader threads, 1..%d (default %d)\n"
		"  --capacity SIZE      bytes the store may use, suffix K, M, G or T (binary);\n"
		"                       default: the filesystem's size\n"
		"  --scrub-rate MIBS    background checksum scrub speed, 0 = off (default %d)\n"
		"  --max-skew-ms MS     refuse versions further ahead of our clock (default %d)\n"
		"  --curve-secret FILE  serve CURVE only, with this daemon's secret key (Z85,\n"
		"                       mode 0600, from 'qfs keygen'); needs --allow\n"
		"  --allow FILE         client public keys admitted (one Z85 key a line, '#'\n"
		"                       comments); SIGHUP reloads it\n"
		"  --tombstone-grace S  confirmed tombstones are purged S seconds after the\n"
		"                       delete; a store down longer refuses to start\n"
		"                       (default %llu = 7 days)\n"
		"  --accept-stale       start even if the store was down longer than the grace\n"
		"                       period (see chunkd(8): wipe it or run fsck first)\n"
		"  --log-level LEVEL    err, warn, info (default) or debug\n"
		"  --syslog             log to syslog instead of stderr\n"
		"  --version, --help\n",
		CHK_LISTEN_MAX, CHK_SYNC_INTERVAL_MS, CHK_THREADS_MAX, CHK_DEFAULT_THREADS,
		CHK_DEFAULT_SCRUB_RATE, CHK_DEFAULT_MAX_SKEW_MS,
		(unsigned long long)CHK_TOMB_GRACE_DEFAULT_S);
}

/* Print "chunkd: --opt: why" and the usage hint; returns the usage exit code. */
static int chk_bad_arg(const char *opt, const char *arg, const char *why)
{
	if (arg)
		fprintf(stderr, "chunkd: --%s '%s': %s\n", opt, arg, why);
	else
		fprintf(stderr, "chunkd: --%s: %s\n", opt, why);
	fprintf(stderr, "try 'chunkd --help'\n");
	return CHK_EXIT_USAGE;
}

/*
 * Parse a whole decimal number in [min, max] with an optional binary suffix
 * (K, M, G, T) when @suffix is true. Returns 0 or -EINVAL / -ERANGE.
 */
static int chk_parse_u64(const char *s, bool suffix, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL; /* strtoull would accept " -1" and "+1" */
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s)
		return -EINVAL;
	if (suffix && *end) {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		case 'T':
			shift = 40;
			break;
		default:
			return -EINVAL;
		}
		end++;
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	v <<= shift;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool chk_name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > CHK_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

enum {
	OPT_NAME = 'n',
	OPT_LISTEN = 'l',
	OPT_DATA = 'd',
	OPT_SYNC = 's',
	OPT_THREADS = 't',
	OPT_CAPACITY = 'c',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_SCRUB = 256,
	OPT_SKEW,
	OPT_LOGLEVEL,
	OPT_SYSLOG,
	OPT_CURVE_SECRET,
	OPT_ALLOW,
	OPT_TOMB_GRACE,
	OPT_ACCEPT_STALE,
};

static const struct option chk_longopts[] = {
	{ "name", required_argument, NULL, OPT_NAME },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "data", required_argument, NULL, OPT_DATA },
	{ "sync", required_argument, NULL, OPT_SYNC },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "capacity", required_argument, NULL, OPT_CAPACITY },
	{ "scrub-rate", required_argument, NULL, OPT_SCRUB },
	{ "max-skew-ms", required_argument, NULL, OPT_SKEW },
	{ "log-level", required_argument, NULL, OPT_LOGLEVEL },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "curve-secret", required_argument, NULL, OPT_CURVE_SECRET },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "tombstone-grace", required_argument, NULL, OPT_TOMB_GRACE },
	{ "accept-stale", no_argument, NULL, OPT_ACCEPT_STALE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/*
 * Fill @o from argv. Returns 0, or an exit code: CHK_EXIT_USAGE after a
 * message on stderr, or -1 when --help / --version was printed (exit 0).
 */
static int chk_parse_args(int argc, char **argv, struct chk_opts *o)
{
	bool have_name = false;
	uint64_t v;
	int c, lvl;

	memset(o, 0, sizeof(*o));
	o->sync = CHK_SYNC_COMMIT;
	o->threads = CHK_DEFAULT_THREADS;
	o->scrub_rate = CHK_DEFAULT_SCRUB_RATE;
	o->max_skew_ms = CHK_DEFAULT_MAX_SKEW_MS;
	o->log_level = QLOG_INFO;
	o->tombstone_grace_s = CHK_TOMB_GRACE_DEFAULT_S;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":n:l:d:s:t:c:hV", chk_longopts, NULL)) != -1) {
		switch (c) {
		case OPT_NAME:
			if (!chk_name_ok(optarg))
				return chk_bad_arg("name", optarg,
						   "want 1..64 characters of [A-Za-z0-9._-]");
			snprintf(o->name, sizeof(o->name), "%s", optarg);
			have_name = true;
			break;
		case OPT_LISTEN:
			if (o->nlisten == CHK_LISTEN_MAX)
				return chk_bad_arg("listen", optarg, "too many endpoints");
			if (!strstr(optarg, "://"))
				return chk_bad_arg("listen", optarg,
						   "want an endpoint like tcp://0.0.0.0:7700");
			o->listen[o->nlisten++] = optarg;
			break;
		case OPT_DATA:
			if (!optarg[0])
				return chk_bad_arg("data", optarg, "empty directory name");
			o->data_dir = optarg;
			break;
		case OPT_SYNC:
			if (!strcmp(optarg, "commit"))
				o->sync = CHK_SYNC_COMMIT;
			else if (!strcmp(optarg, "always"))
				o->sync = CHK_SYNC_ALWAYS;
			else if (!strcmp(optarg, "none"))
				o->sync = CHK_SYNC_NONE;
			else
				return chk_bad_arg("sync", optarg, "want commit, always or none");
			break;
		case OPT_THREADS:
			if (chk_parse_u64(optarg, false, 1, CHK_THREADS_MAX, &v))
				return chk_bad_arg("threads", optarg, "want a number from 1 to 64");
			o->threads = (unsigned)v;
			break;
		case OPT_CAPACITY:
			if (chk_parse_u64(optarg, true, 1, UINT64_MAX, &v))
				return chk_bad_arg("capacity", optarg,
						   "want bytes > 0, suffix K, M, G or T");
			o->capacity = v;
			break;
		case OPT_SCRUB:
			if (chk_parse_u64(optarg, false, 0, CHK_SCRUB_RATE_MAX, &v))
				return chk_bad_arg("scrub-rate", optarg,
						   "want MiB/s from 0 (off) to 1048576");
			o->scrub_rate = v;
			break;
		case OPT_SKEW:
			if (chk_parse_u64(optarg, false, 0, CHK_MAX_SKEW_LIMIT_MS, &v))
				return chk_bad_arg("max-skew-ms", optarg,
						   "want milliseconds from 0 to 86400000");
			o->max_skew_ms = v;
			break;
		case OPT_LOGLEVEL:
			lvl = qlog_parse_level(optarg);
			if (lvl < 0)
				return chk_bad_arg("log-level", optarg,
						   "want err, warn, info or debug");
			o->log_level = lvl;
			break;
		case OPT_SYSLOG:
			o->use_syslog = true;
			break;
		case OPT_CURVE_SECRET:
			if (!optarg[0])
				return chk_bad_arg("curve-secret", optarg, "empty file name");
			o->curve_secret = optarg;
			break;
		case OPT_ALLOW:
			if (!optarg[0])
				return chk_bad_arg("allow", optarg, "empty file name");
			o->allow_file = optarg;
			break;
		case OPT_TOMB_GRACE:
			if (chk_parse_u64(optarg, false, 1, CHK_TOMB_GRACE_MAX_S, &v))
				return chk_bad_arg("tombstone-grace", optarg,
						   "want seconds from 1 to 3153600000");
			o->tombstone_grace_s = v;
			break;
		case OPT_ACCEPT_STALE:
			o->accept_stale = true;
			break;
		case OPT_HELP:
			chk_usage(stdout);
			return -1;
		case OPT_VERSION:
			printf("chunkd %s\n", QFS_VERSION);
			return -1;
		case ':':
			fprintf(stderr, "chunkd: option %s needs a value\n", argv[optind - 1]);
			fprintf(stderr, "try 'chunkd --help'\n");
			return CHK_EXIT_USAGE;
		default:
			fprintf(stderr, "chunkd: unknown option %s\n", argv[optind - 1]);
			fprintf(stderr, "try 'chunkd --help'\n");
			return CHK_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "chunkd: unexpected argument '%s'\n", argv[optind]);
		fprintf(stderr, "try 'chunkd --help'\n");
		return CHK_EXIT_USAGE;
	}
	if (!have_name)
		return chk_bad_arg("name", NULL, "missing (required)");
	if (!o->nlisten)
		return chk_bad_arg("listen", NULL, "missing (required)");
	if (!o->data_dir)
		return chk_bad_arg("data", NULL, "missing (required)");
	/* a CURVE server without a ZAP allow list would admit every client */
	if (o->curve_secret && !o->allow_file)
		return chk_bad_arg("allow", NULL,
				   "missing: --curve-secret needs --allow FILE (the client "
				   "public keys to admit)");
	if (o->allow_file && !o->curve_secret)
		return chk_bad_arg("curve-secret", NULL,
				   "missing: --allow needs --curve-secret FILE (this daemon's "
				   "secret key)");
	return 0;
}

/* ---- startup steps; each undo runs only if its init succeeded ---- */

static int chk_init_signals(struct chk_daemon *d)
{
	sigset_t set;

	/* blocked before any thread starts, so every thread inherits the mask
	 * and SIGTERM/SIGINT/SIGHUP only ever reach the reactor's signalfd */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sigfd < 0)
		return -errno;
	return 0;
}

static void chk_fini_signals(struct chk_daemon *d)
{
	close(d->sigfd);
	d->sigfd = -1;
}

static int chk_init_identity(struct chk_daemon *d)
{
	uint64_t boot = 0;

	while (!boot) {
		if (getrandom(&boot, sizeof(boot), 0) != (ssize_t)sizeof(boot))
			return -errno;
	}
	d->boot = boot;
	d->start_ms = proto_wall_ms();
	proto_hlc_init(&d->clock);
	return 0;
}

/*
 * CURVE keys: the secret key file (mode 0600 or stricter) and the allow
 * list, read before the store is touched so that a key problem is the
 * first and only error an administrator sees. Plaintext: nothing to do.
 */
static int chk_init_keys(struct chk_daemon *d)
{
	char err[512];
	int rc;

	if (!d->o.curve_secret) {
		qlog_warn("no --curve-secret: serving plaintext, every peer is admitted");
		return 0;
	}
	rc = proto_keyfile_read(d->o.curve_secret, true, d->curve_sec, err, sizeof(err));
	if (rc < 0) {
		qlog_err("--curve-secret %s", err);
		return rc;
	}
	if (zmq_curve_public(d->curve_pub, d->curve_sec) < 0) {
		rc = -zmq_errno();
		qlog_err("--curve-secret %s: cannot derive the public key: %s", d->o.curve_secret,
			 zmq_strerror(-rc));
		goto out_wipe;
	}
	rc = chk_zap_new(d->o.allow_file, &d->zap);
	if (rc < 0)
		goto out_wipe;
	qlog_info("CURVE on: public key %s (the public_key of this daemon in the config)",
		  d->curve_pub);
	return 0;
out_wipe:
	memset(d->curve_sec, 0, sizeof(d->curve_sec));
	return rc;
}

static void chk_fini_keys(struct chk_daemon *d)
{
	chk_zap_free(d->zap);
	d->zap = NULL;
	memset(d->curve_sec, 0, sizeof(d->curve_sec));
}

/*
 * A store that was down for longer than the tombstone grace period may hold
 * records whose tombstones the other replicas have collected meanwhile:
 * served again, they would come back to life (read repair and fsck would
 * copy them to the others). Refuse to start unless --accept-stale.
 */
static int chk_check_downtime(struct chk_daemon *d)
{
	uint64_t last = chk_store_alive_prev(d->store), now = proto_wall_ms();
	uint64_t grace_ms = d->o.tombstone_grace_s * 1000;

	if (!last || now <= last || now - last <= grace_ms)
		return 0;
	if (d->o.accept_stale) {
		qlog_warn("store in %s was down %" PRIu64 " s, longer than the tombstone grace "
			  "period (%" PRIu64 " s): starting anyway (--accept-stale)",
			  d->o.data_dir, (now - last) / 1000, d->o.tombstone_grace_s);
		return 0;
	}
	qlog_err("store in %s was down %" PRIu64 " s, longer than the tombstone grace period "
		 "(%" PRIu64 " s): it may hold files deleted meanwhile, and serving them would "
		 "bring them back. Wipe the store (remove %s), start the daemon and let "
		 "fsck.quorumfs -y refill it; or, if nothing was deleted while it was down "
		 "(or deleted files may come back), start it with --accept-stale",
		 d->o.data_dir, (now - last) / 1000, d->o.tombstone_grace_s, d->o.data_dir);
	return -ESTALE;
}

static int chk_init_store(struct chk_daemon *d)
{
	struct chk_store_opts so = {
		.dir = d->o.data_dir,
		.sync = d->o.sync,
		.capacity = d->o.capacity,
	};
	uint8_t sid[PROTO_ID_LEN], vid[PROTO_ID_LEN];
	char hex[2 * PROTO_ID_LEN + 1];
	uint32_t flags;
	int rc, i;

	rc = chk_store_open(&so, &d->store);
	if (rc < 0) {
		qlog_err("cannot open store in %s: %s", d->o.data_dir, strerror(-rc));
		return rc;
	}
	rc = chk_check_downtime(d);
	if (rc < 0) {
		chk_store_close(d->store);
		d->store = NULL;
		return rc;
	}
	chk_store_identity(d->store, sid, vid, &flags);
	for (i = 0; i < PROTO_ID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", sid[i]);
	qlog_info("store %s in %s%s, boot verifier %016" PRIx64, hex, d->o.data_dir,
		  (flags & PROTO_STORE_FRESH) ? " (fresh)" : "", d->boot);
	return 0;
}

static void chk_fini_store(struct chk_daemon *d)
{
	chk_store_close(d->store);
	d->store = NULL;
}

static int chk_start(struct chk_worker *w, void *(*fn)(void *), const char *what)
{
	int rc = pthread_create(&w->tid, NULL, fn, w);

	if (rc) {
		qlog_err("cannot start %s thread: %s", what, strerror(rc));
		return -rc;
	}
	w->started = true;
	return 0;
}

static void chk_fini_threads(struct chk_daemon *d)
{
	unsigned i;

	atomic_store(&d->stop, true);
	if (d->scrubber.started)
		pthread_join(d->scrubber.tid, NULL);
	for (i = 0; i < d->o.threads; i++)
		if (d->readers[i].started)
			pthread_join(d->readers[i].tid, NULL);
	if (d->writer.started)
		pthread_join(d->writer.tid, NULL);
}

static int chk_init_threads(struct chk_daemon *d)
{
	unsigned i;
	int rc;

	rc = chk_start(&d->writer, chk_writer_main, "writer");
	for (i = 0; rc == 0 && i < d->o.threads; i++)
		rc = chk_start(&d->readers[i], chk_reader_main, "reader");
	if (rc == 0 && d->o.scrub_rate)
		rc = chk_start(&d->scrubber, chk_scrub_main, "scrubber");
	if (rc < 0)
		chk_fini_threads(d);
	return rc;
}

static const struct chk_step {
	const char *name;
	int (*init)(struct chk_daemon *d);
	void (*fini)(struct chk_daemon *d);
} chk_steps[] = {
	{ "signals", chk_init_signals, chk_fini_signals },
	{ "identity", chk_init_identity, NULL },
	{ "keys", chk_init_keys, chk_fini_keys },
	{ "store", chk_init_store, chk_fini_store },
	{ "sockets", chk_server_sockets, chk_server_close_sockets },
	{ "threads", chk_init_threads, chk_fini_threads },
};

#define CHK_NSTEPS (sizeof(chk_steps) / sizeof(chk_steps[0]))

int main(int argc, char **argv)
{
	static struct chk_daemon daemon_state;
	struct chk_daemon *d = &daemon_state;
	size_t done;
	int rc;

	rc = chk_parse_args(argc, argv, &d->o);
	if (rc)
		return rc < 0 ? 0 : rc;
	qlog_init("chunkd", d->o.use_syslog, d->o.log_level);
	d->sigfd = -1;

	for (done = 0; done < CHK_NSTEPS; done++) {
		rc = chk_steps[done].init(d);
		if (rc < 0) {
			qlog_err("startup failed at %s: %s", chk_steps[done].name, strerror(-rc));
			if (chk_steps[done].fini && !strcmp(chk_steps[done].name, "sockets"))
				chk_steps[done].fini(d); /* sockets undo a partial setup too */
			break;
		}
	}
	if (done == CHK_NSTEPS) {
		qlog_info("chunkd %s '%s' up: %u readers, sync %s, max skew %" PRIu64 " ms",
			  QFS_VERSION, d->o.name, d->o.threads,
			  d->o.sync == CHK_SYNC_COMMIT ? "commit" :
			  d->o.sync == CHK_SYNC_ALWAYS ? "always" : "none",
			  d->o.max_skew_ms);
		rc = chk_reactor_run(d);
	}
	while (done-- > 0)
		if (chk_steps[done].fini)
			chk_steps[done].fini(d);
	if (rc == 0)
		qlog_info("stopped cleanly");
	return rc < 0 ? 1 : 0;
}
