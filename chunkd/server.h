/* SPDX-License-Identifier: MIT */
/*
 * server.h - what the chunkd threads share: the daemon, its queues, its
 * internal envelope. Private to the chunkd daemon sources (not the store, not tests).
 *
 * Threads and socket ownership (one thread per ZeroMQ socket):
 *   reactor  ROUTER on every --listen endpoint; PUSH "chk-write" (connect),
 *            PUSH "chk-read" (bind), PULL "chk-reply" (bind), a signalfd.
 *   zap      REP on inproc://zeromq.zap.01 (with --curve-secret; zap.h),
 *            bound before the ROUTER exists.
 *   writer   PULL "chk-write" (bind), PUSH "chk-reply" (connect).
 *   readers  PULL "chk-read", PUSH "chk-reply", PUSH "chk-write" (notes).
 *   scrubber PUSH "chk-write" (notes).
 * Every socket is created by main before the threads start and is used, then
 * closed, by its owner thread only (pthread_create is the memory fence that
 * ZeroMQ asks for when a socket migrates).
 *
 * A request travels from the reactor to a worker as: ENVELOPE, the routing
 * frames, ARGS, DATA. ENVELOPE is a struct chk_env copied raw (same process,
 * never on a network). A reply travels from a worker to the reactor exactly as
 * the ROUTER must emit it: routing frames, HEADER, ARGS, DATA; the reactor
 * moves the frames over without looking at them. A corruption note (from a
 * reader or the scrubber to the writer) is one ENVELOPE frame of kind MARK.
 */
#ifndef QFS_CHUNKD_SERVER_H
#define QFS_CHUNKD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "chunkd/store.h"
#include "proto/keyfile.h"
#include "proto/msg.h"
#include "proto/version.h"
#include "proto/zmsg.h"

#define CHK_LISTEN_MAX 16
#define CHK_THREADS_MAX 64
#define CHK_NAME_MAX PROTO_DAEMON_NAME_MAX

#define CHK_EP_WRITE "inproc://chk-write"
#define CHK_EP_READ "inproc://chk-read"
#define CHK_EP_REPLY "inproc://chk-reply"

/* Queue bounds: messages per inproc queue and on the ROUTER, and DATA bytes
 * accepted for the writer but not yet applied (a flood gets BUSY). */
#define CHK_HWM 1000
#define CHK_WRITE_INFLIGHT_MAX (256ull << 20)
/* Group commit: the writer takes at most this much into one store batch. */
#define CHK_BATCH_MAX 256
#define CHK_BATCH_BYTES (64u << 20)
/* A worker waits this long for the reactor to take a reply, then drops it. */
#define CHK_REPLY_TIMEOUT_MS 2000
/* How often a blocked worker looks at the stop flag. */
#define CHK_POLL_MS 100
/* ZMQ_MAXMSGSIZE: PROTO_FRAME_MAX bounds the largest frame (a DATA body). */
#define CHK_FRAME_MAX PROTO_FRAME_MAX

struct chk_opts {
	char name[CHK_NAME_MAX + 1];
	const char *listen[CHK_LISTEN_MAX];
	int nlisten;
	const char *data_dir;
	enum chk_sync_mode sync;
	unsigned threads;	/* reader threads */
	uint64_t capacity;	/* bytes; 0 = filesystem size */
	uint64_t scrub_rate;	/* MiB/s; 0 = scrubber off */
	uint64_t max_skew_ms;
	int log_level;
	bool use_syslog;
	const char *curve_secret;	/* --curve-secret FILE, NULL = plaintext */
	const char *allow_file;		/* --allow FILE, set iff curve_secret */
	uint64_t tombstone_grace_s;	/* --tombstone-grace: confirmed tombstones live this long */
	bool accept_stale;		/* --accept-stale: start even if down past the grace */
};

enum chk_env_kind {
	CHK_ENV_REQ = 1,  /* a client request follows */
	CHK_ENV_MARK = 2, /* mark @key at @ver corrupt (writer only) */
};

/* Internal envelope; never leaves the process. */
struct chk_env {
	uint8_t kind;	/* enum chk_env_kind */
	uint8_t nroute; /* routing frames that follow (REQ) */
	struct proto_hdr hdr;
	struct proto_key key;	  /* MARK */
	struct proto_version ver; /* MARK */
};

struct chk_zap;

struct chk_worker {
	struct chk_daemon *d;
	pthread_t tid;
	bool started;
	int idx;
	void *in;    /* PULL: requests */
	void *reply; /* PUSH to the reactor */
	void *note;  /* PUSH to the writer (readers, scrubber) */
};

struct chk_daemon {
	struct chk_opts o;			/* immutable after startup */
	struct chk_store *store;		/* thread-safe per store.h */
	void *zctx;
	uint64_t boot;				/* boot verifier, never 0 */
	uint64_t start_ms;
	struct proto_hlc clock;			/* lock-free */
	atomic_bool stop;			/* set by the reactor on a signal */
	int sigfd;

	/* CURVE (--curve-secret): Z85 keys, "" when plaintext; immutable */
	char curve_sec[PROTO_KEY_Z85_LEN + 1];
	char curve_pub[PROTO_KEY_Z85_LEN + 1];
	struct chk_zap *zap;			/* ZAP handler (zap.h), NULL if plaintext */

	/* reactor sockets */
	void *router, *to_write, *to_read, *replies;

	struct chk_worker writer;
	struct chk_worker *readers;		/* o.threads of them */
	struct chk_worker scrubber;

	/* counters (relaxed atomics; logged, never trusted for logic) */
	atomic_uint_fast64_t n_dropped;		/* malformed, unanswerable */
	atomic_uint_fast64_t n_badreq;		/* malformed, answered */
	atomic_uint_fast64_t n_busy;		/* refused with BUSY */
	atomic_uint_fast64_t n_reply_lost;	/* reply dropped by a worker */
	atomic_uint_fast64_t write_inflight;	/* DATA bytes queued to the writer */
};

/* ---- server.c: the reactor and helpers shared by workers ---- */

/* Create, configure and bind/connect every socket; 0 or -errno (logged). */
int chk_server_sockets(struct chk_daemon *d);
/* Close what chk_server_sockets() created and the threads did not close. */
void chk_server_close_sockets(struct chk_daemon *d);
/* The reactor loop; returns when a signal asks to stop (0) or on error. */
int chk_reactor_run(struct chk_daemon *d);

/* Set an option on a fresh socket; 0 or -errno. */
int chk_sockopt_int(void *s, int opt, int val);

/*
 * Receive one envelope message on @sock, waiting at most @timeout_ms (0: do
 * not wait; -1: forever); -EAGAIN when none came. REQ: the frames go to @m
 * and @m->hdr is set. @m is always left safe for proto_zmsg_close().
 * Returns 0 or -errno.
 */
int chk_env_recv(void *sock, struct chk_env *env, struct proto_zmsg *m, int timeout_ms);

/*
 * Send a reply for request @m (its routing frames and reqid) on a worker's
 * PUSH socket: status @st, ARGS @args/@alen, DATA either @data_msg (consumed)
 * or nothing. Never fails the caller: a reply that cannot be sent is counted.
 */
void chk_reply(struct chk_daemon *d, void *sock, const struct proto_zmsg *m, uint16_t st,
	       const void *args, size_t alen, zmq_msg_t *data_msg);

/* Ask the writer to mark @key at @ver corrupt; 0 or -errno (dropped). */
int chk_note_corrupt(void *note_sock, const struct proto_key *key,
		     const struct proto_version *ver);

/* True when @hlc is too far ahead of this daemon's clock. */
bool chk_skewed(const struct chk_daemon *d, uint64_t hlc);

/* The layout version this daemon stores (0: none), as the u32 that every
 * reply header carries. Reads the store's memory copy: cheap, any thread. */
uint32_t chk_layout_version(const struct chk_daemon *d);

/*
 * True when request @h was routed by a layout older than the one this
 * daemon stores: a non-zero header layout below chk_layout_version() on an
 * opcode that reads or writes records (every one but HELLO, SYNC, STAT,
 * LAYOUT_GET, LAYOUT_SET). It is answered PROTO_ST_STALE_LAYOUT without
 * being applied. A newer version than ours is served: we may have missed
 * an apply while down. The writer asks at apply time, so a LAYOUT_SET
 * and the writes around it are judged in the order they are applied.
 */
bool chk_layout_stale(const struct chk_daemon *d, const struct proto_hdr *h);

/* ---- repair.c: pending-repair index and tombstone collection (writer thread) ---- */

#define CHK_TOMB_GRACE_DEFAULT_S (7ull * 24 * 3600)
#define CHK_TOMB_TICK_MIN_MS 1000   /* collector and last-alive stamp period bounds */
#define CHK_TOMB_TICK_MAX_MS 60000
#define CHK_TOMB_GC_MAX 1024	    /* tombstones examined per tick */

/* Apply a PENDING_ADD, PENDING_DEL, TOMB_CONFIRM or PURGE batch inside the
 * writer's open batch; returns the wire status, *count the entries that
 * took effect. */
uint16_t chk_apply_repair(struct chk_daemon *d, const struct proto_zmsg *m, uint32_t *count);

/* Period of chk_tomb_tick(): a quarter of the grace, within the bounds above. */
uint64_t chk_tomb_tick_ms(const struct chk_daemon *d);

/* Stamp the store alive and collect confirmed tombstones past the grace, in a
 * batch of its own (no batch open). *more: call again soon. 0 or -errno. */
int chk_tomb_tick(struct chk_daemon *d, bool *more);

/* ---- worker threads ---- */

void *chk_writer_main(void *arg);  /* struct chk_worker * */
void *chk_reader_main(void *arg);  /* struct chk_worker * */
void *chk_scrub_main(void *arg);   /* struct chk_worker * */

#endif
