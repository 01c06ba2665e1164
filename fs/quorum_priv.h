/* SPDX-License-Identifier: MIT */
/*
 * quorum_priv.h - what fs/quorum*.c share: the quorum handle, replica
 * placement with health and rebuilding state, and the request/reply helpers
 * every operation uses. Private to fs/quorum*.c.
 */
#ifndef QFS_FS_QUORUM_PRIV_H
#define QFS_FS_QUORUM_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/call.h"
#include "fs/quorum.h"
#include "fs/ring.h"
#include "proto/layout.h"
#include "proto/msg.h"
#include "proto/version.h"

struct qfs_quorum {
	struct qfs_cluster *cl;	      /* own copy; immutable */
	struct qfs_transport *t;      /* thread-safe per call.h */
	unsigned n, w, r;	      /* immutable; n <= ndaemons */
	unsigned timeout_ms;	      /* immutable */
	bool degraded_read;	      /* immutable; see struct qfs_quorum_opts */
	bool hinted_handoff;	      /* immutable; see struct qfs_quorum_opts */
	_Atomic uint64_t degraded_log_ns; /* last degraded-read warning (rate limit) */
	uint64_t writer;	      /* random per open; immutable */
	struct proto_hlc clock;	      /* lock-free */
	atomic_bool have_volume;      /* a volume exists (read or written) */
	bool volume_at_open;	      /* immutable after the open's HELLOs: a daemon
				       * had the volume, so NOVOLUME means emptied */
	pthread_mutex_t rb_lock;      /* protects st[]; leaf lock */
	struct qfs_q_store {	      /* what we know of daemon i's store */
		uint64_t hellos;      /* info.hellos last looked at (~0: none) */
		bool trusted;	      /* store_id: the store that counts in quorums */
		uint8_t store_id[PROTO_ID_LEN];
		bool seen_rb;	      /* rb_id: the last store seen empty or rebuilding */
		uint8_t rb_id[PROTO_ID_LEN];
		bool rebuilding;      /* takes writes, counts toward neither R nor W */
	} st[QFS_MAX_DAEMONS];

	struct qfs_pend *pend;	      /* quorum_pending.c; set at open, freed at close */
	struct qfs_repairer *repairer; /* quorum_repairer.c; NULL when off */

	pthread_mutex_t boot_lock;    /* protects boot_*; leaf lock */
	uint64_t boot_seen[QFS_MAX_DAEMONS]; /* verifier of the last SYNC reply (HELLO at open) */
	bool boot_down[QFS_MAX_DAEMONS];     /* missed the last SYNC */
	uint64_t boot_epoch;	      /* bumped when a daemon may have lost unsynced writes */
	_Atomic uint64_t writes_done; /* PUTs and PATCHes finished (qfs_quorum_writes) */
	struct qfs_q_lay *_Atomic lay; /* quorum_layout.c: the layout placing keys */
	struct qfs_q_lay *lay_old;    /* retired views (still read by ops in flight) */
	pthread_mutex_t lay_lock;     /* serializes layout switches and q->cl growth */
	pthread_mutex_t lay_refresh_lock; /* one refresh at a time (watch thread and
				       * operations refused as stale); taken before
				       * lay_lock, never under it */
	struct qfs_q_watch *watch;    /* quorum_layout.c: re-probe thread; freed by
				       * qfs_q_lay_free (the transport hook uses it) */
	uint64_t tomb_grace_ms;	      /* immutable; see qfs_quorum_opts.tomb_grace_s */

	pthread_mutex_t sb_lock;      /* protects have_sb and sb */
	bool have_sb;
	struct proto_super sb;
};

/*
 * Room for the replicas of one key: during a layout transition they are
 * the union of the old and the new preference lists.
 */
#define QFS_Q_PLACE_MAX (2 * QFS_MAX_REPLICAS)

/*
 * ---- quorum_layout.c: the layout that places keys ----
 *
 * A view is immutable once published in q->lay; a switch publishes a new
 * one and keeps the old until close (operations in flight may hold it).
 * Daemon indexes in map[] are transport indexes (q->cl->daemons[], which
 * only grows: daemons a newer layout names are added to the transport).
 */
struct qfs_q_lay {
	struct proto_layout *pl;     /* the layout record (from a daemon or the config) */
	struct qfs_cluster *cl;	     /* current layout as a cluster */
	struct qfs_ring *ring;
	int map[QFS_MAX_DAEMONS];    /* cl index -> transport index */
	struct qfs_cluster *pcl;     /* previous layout (transition), else NULL */
	struct qfs_ring *pring;
	int pmap[QFS_MAX_DAEMONS];
	struct qfs_q_lay *older;     /* q->lay_old chain */
};

/* The view of the config file (open, before any HELLO). 0 or -errno. */
int qfs_q_lay_init(struct qfs_quorum *q, char *err, size_t errlen);
/*
 * HELLO every known daemon; when one holds a newer layout, fetch it
 * (LAYOUT_GET), add its daemons to the transport and switch to it.
 * @at_open: N/W/R may change (nothing placed yet). Returns 0 or -errno.
 */
int qfs_q_lay_refresh(struct qfs_quorum *q, bool at_open, char *err, size_t errlen);
/*
 * Start / stop the thread that refreshes every QFS_Q_LAYOUT_PROBE_MS, and
 * at once when a reply header shows a newer layout version (the start
 * installs the transport's layout hook; the stop removes it).
 */
int qfs_q_lay_watch_start(struct qfs_quorum *q);
void qfs_q_lay_watch_stop(struct qfs_quorum *q);
void qfs_q_lay_free(struct qfs_quorum *q);

/* The version of view @l as the u32 sent in request headers. */
uint32_t qfs_q_lay_version(const struct qfs_q_lay *l);

/*
 * Refresh the layout now, on the calling thread (bounded by about two
 * timeouts: HELLO all, LAYOUT_GET, HELLO of the daemons it adds), unless
 * the view is already newer than @lver. Returns 0 when the view is newer
 * than @lver afterwards, else -errno (logged: why no newer view).
 */
int qfs_q_lay_catch_up(struct qfs_quorum *q, uint32_t lver);

/*
 * Stale-layout retry, for operations placed by view version @lver that
 * ended with @rc. Daemons refuse (PROTO_ST_STALE_LAYOUT) a request routed
 * by an older layout than they store; such a reply counts as neither an
 * answer nor a failure of the daemon, so the operation fails short of its
 * quorum (-EIO, or -EROFS with degraded reads) and every reply header
 * carries the daemon's newer version. qfs_q_lay_retry() is true when @rc
 * is such a failure, a newer version than @lver was seen, and the view was
 * refreshed past @lver (qfs_q_lay_catch_up): the caller then runs the
 * whole operation once more, placed anew. After that second run,
 * qfs_q_lay_retried() turns a failure that is still stale into -EIO and
 * logs it; other results pass unchanged. @what names the operation in logs.
 */
bool qfs_q_lay_retry(struct qfs_quorum *q, uint32_t lver, int rc, const char *what);
int qfs_q_lay_retried(struct qfs_quorum *q, uint32_t lver, int rc, const char *what);

/*
 * The replicas of @token in view @l as transport indexes, into
 * @out[QFS_Q_PLACE_MAX]: the preference list, or during a transition the
 * old list first (complete: it holds everything acknowledged before the
 * transition) then the new list's daemons not in it (maybe still being
 * filled). Returns the number filled.
 */
int qfs_q_lay_union(const struct qfs_q_lay *l, uint64_t token, int *out);

/*
 * HELLO daemons 0..@nd-1 in one call and wait for it with @wake/@arg (see
 * qfs_call_wait) until @deadline. *out gets the call (the caller reads its
 * replies and drops it with qfs_call_put). 0 or -errno.
 */
int qfs_q_hello_call(struct qfs_quorum *q, int nd, uint64_t deadline, qfs_wake_fn wake,
		     void *arg, struct qfs_call **out);

/*
 * W and R for a key placed on @n replicas (a union of two lists of N
 * during a transition): n - N more than configured. Any W + e of the N + e
 * replicas include W of each list (and R + e include R of each), since
 * each list misses only e of them: so a write reaches W in both lists and
 * a read sees R of each, and "absent" is never taken from the new list's
 * replicas alone.
 */
unsigned qfs_q_wneed(const struct qfs_quorum *q, int n);
unsigned qfs_q_rneed(const struct qfs_quorum *q, int n);

/* One replica of a key as an operation sees it. */
struct qfs_replica {
	int daemon;
	bool suspect;	 /* transport fails RPCs to it at once */
	bool rebuilding; /* takes writes, counts toward neither R nor W */
};

/*
 * Whether daemon @i (transport state @di) is rebuilding, as its latest HELLO
 * tells: its store is empty or rebuilding (NOVOLUME while the volume
 * existed at open, or REBUILDING), it never answered a HELLO, or it answers
 * with a store id we never saw it refilled under. Takes q->rb_lock.
 */
bool qfs_q_rebuilding(struct qfs_quorum *q, int i, const struct qfs_daemon_info *di);

/*
 * Fill @out[QFS_Q_PLACE_MAX] with the replicas of @token (the union of the
 * new and old preference lists during a layout transition; use
 * qfs_q_wneed / qfs_q_rneed with the count): counting and healthy ones
 * first (ring order), then suspect ones, rebuilding ones last. Returns the
 * number filled; *ncount gets the number that count toward quorums, and
 * *lver (when not NULL) the version of the view that placed them: the
 * caller puts it in each call's layout (struct qfs_call) so that daemons
 * holding a newer layout refuse the requests.
 */
int qfs_q_place(struct qfs_quorum *q, uint64_t token, struct qfs_replica *out, int *ncount,
		uint32_t *lver);

/*
 * Hinted handoff (q->hinted_handoff): when fewer than W of the @n replicas
 * in @reps (from qfs_q_place) are healthy and counting, the next distinct
 * daemons on the ring beyond the preference list that answered a HELLO and
 * are neither suspect nor rebuilding, as many as W is short (at most @max),
 * into @out. They count toward W. None during a layout transition, or
 * when the option is off. Returns the number filled.
 */
int qfs_q_fallbacks(struct qfs_quorum *q, uint64_t token, const struct qfs_replica *reps,
		    int n, struct qfs_replica *out, int max);

/*
 * Degraded reads only: true when fewer than W of the @n replicas in @reps
 * (from qfs_q_place) could acknowledge, so a write is refused with -EROFS
 * before anything is sent (a write that reached one replica only would
 * show up in degraded reads). Always false without degraded reads.
 */
bool qfs_q_read_only(const struct qfs_quorum *q, const struct qfs_replica *reps, int n);

/* Hedge: how long a read step waits before asking one more replica. */
uint64_t qfs_q_hedge_ns(const struct qfs_quorum *q);

/* Earlier of now + @ns and @deadline. */
uint64_t qfs_q_until(uint64_t ns, uint64_t deadline);

/* Error for a write that missed its quorum: -ENOSPC, -ETIME or -EIO from
 * the statuses of the completed RPCs of @c (call it after the wait); -EROFS
 * instead of -EIO with degraded reads on. */
int qfs_q_write_error(const struct qfs_quorum *q, struct qfs_call *c);

/* Snapshot which RPCs of @c are done (true in @done[]). */
void qfs_q_done_snapshot(struct qfs_call *c, bool *done, int *nrpc);

/* A full record fetched from one replica. */
struct qfs_full {
	struct proto_meta meta;
	uint16_t nsums;
	uint64_t sums[PROTO_CHUNK_BLOCKS];
	uint8_t *val; /* malloc'ed, meta.len bytes (NULL when empty) */
};

void qfs_full_free(struct qfs_full *f);

/*
 * Decode and verify a GET reply (status OK) into @rep and check every block
 * of @data against its sum. Returns 0, -EBADMSG (malformed) or -EBADE (a
 * block or the CORRUPT flag).
 */
int qfs_q_check_get(struct qfs_quorum *q, const struct qfs_rpc *rpc, struct proto_get_rep *rep);

/*
 * GET the whole record @key from @daemon within @deadline into @f.
 * Returns 0, -ENOENT, -EBADE (corrupt), -ETIMEDOUT / -EHOSTDOWN / -EIO.
 */
int qfs_q_fetch_whole(struct qfs_quorum *q, const struct proto_key *key, int daemon,
		      uint64_t deadline, struct qfs_full *f);

/*
 * A call (room for @cap RPCs) that carries a copy of @val (meta->len bytes,
 * or nothing when @val is NULL) as its DATA, for qfs_q_put_add() to target.
 * Returns 0 or -ENOMEM.
 */
int qfs_q_put_call(const struct proto_meta *meta, const void *val, int cap, uint64_t deadline,
		   struct qfs_call **out);
/* Add a PUT of the call's record to @daemon; returns the index or -errno. */
int qfs_q_put_add(struct qfs_call *c, const struct proto_key *key,
		  const struct proto_meta *meta, const uint64_t *sums, int daemon, bool counts);
/* The same with PUT flags @put_flags (PROTO_PUT_*). */
int qfs_q_put_add_flags(struct qfs_call *c, const struct proto_key *key,
			const struct proto_meta *meta, const uint64_t *sums, int daemon,
			bool counts, uint32_t put_flags);

/* ---- quorum_pending.c: pending-repair index and tombstone confirmations ---- */

struct qfs_pend;

/* Start the flusher thread (open). 0 or -errno. */
int qfs_pend_start(struct qfs_quorum *q);
/* Send what is queued and stop the flusher (close, before the transport). */
void qfs_pend_stop(struct qfs_quorum *q);
/* Free it (close, after the transport: no completion can run any more). */
void qfs_pend_free(struct qfs_quorum *q);

/*
 * Before submitting write call @c (PUT of @m, or a PATCH to version m->ver
 * when @patch) of @key: once all its RPCs completed, queue a PENDING_ADD
 * when some replicas missed it, or a TOMB_CONFIRM when every one of the N
 * took a tombstone. The RPCs past the first @nown go to hinted-handoff
 * fallbacks (qfs_q_fallbacks): a fallback that took the write always gets
 * a PENDING_ADD (naming the key's own replicas when none missed it), so
 * the repairer hands its copy back. Returns 0 or -ENOMEM (the write goes
 * on regardless).
 */
int qfs_pend_watch(struct qfs_quorum *q, struct qfs_call *c, const struct proto_key *key,
		   const struct proto_meta *m, bool patch, int nown);

/* ---- quorum_repairer.c: background repair of the pending-repair indexes ---- */

struct qfs_repairer;

/* Start the repairer thread at @rate keys/s (0: nothing). 0 or -errno. */
int qfs_repairer_start(struct qfs_quorum *q, unsigned rate);
/* Stop and free it (close, before the flusher). NULL repairer: no-op. */
void qfs_repairer_stop(struct qfs_quorum *q);

/* Remember a superblock that reached W replicas (qfs_quorum_put). */
void qfs_q_super_written(struct qfs_quorum *q, const void *val, uint32_t len);

/* Errno of a completed (NULL: missing) RPC that was not answered OK, else 0
 * (fs/quorum_scan.c). */
int qfs_scan_rpc_err(const struct qfs_rpc *rpc);

/* Encoded key bytes order: memcmp, then length. */
int qfs_q_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

#endif
