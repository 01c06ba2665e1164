/* SPDX-License-Identifier: MIT */
/*
 * call.h - a call (a set of RPCs sent together) and the transport that
 * carries it: the seam between the quorum logic and the sockets.
 *
 * A call holds up to @cap RPCs, each to one daemon, and one DATA buffer that
 * the call owns (RPCs point into it), so RPCs that are still in flight when
 * the waiter has returned keep valid memory. The waiter builds the RPCs,
 * submits the call to a transport (the real engine in fs/engine.c, or the
 * simulation of the unit tests) and sleeps on the call's condvar; the
 * transport completes each RPC exactly once (a reply, -ETIMEDOUT at the
 * deadline, -EHOSTDOWN for a suspect daemon) and broadcasts. The waiter may
 * add RPCs to a call it already submitted and submit it again (hedged reads):
 * the transport sends only the RPCs it has not seen.
 *
 * Lifetime: refcounted. The creator holds one reference, the transport one
 * per RPC until it completes (and one per zero-copy DATA frame). The last
 * qfs_call_put() frees the call, its request buffers and the reply copies.
 *
 * Locking: call->lock protects the counters and each RPC's state and
 * results. Results are written once, before state becomes QFS_RPC_DONE, and
 * are read-only afterwards, so a waiter that saw DONE under the lock may
 * read them without it. The lock is a leaf: nothing else is taken under it.
 */
#ifndef QFS_FS_CALL_H
#define QFS_FS_CALL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/config.h"
#include "proto/msg.h"
#include "proto/version.h"

struct qfs_call;

enum qfs_rpc_state {
	QFS_RPC_NEW = 0, /* built by the waiter, not seen by the transport */
	QFS_RPC_SENT,	 /* taken by the transport (queued or on the wire) */
	QFS_RPC_DONE,	 /* completed; results valid and immutable */
};

struct qfs_rpc {
	/* request: set by the waiter before submit, immutable afterwards */
	int daemon;		/* index into cl->daemons */
	uint8_t op;		/* enum proto_op */
	bool counts;		/* an accepted reply counts toward call->need */
	uint8_t *args;		/* malloc'ed ARGS frame, owned by the call */
	size_t args_len;
	const uint8_t *data;	/* DATA frame: inside call->data, or NULL */
	size_t data_len;
	int tag;		/* free for the caller (e.g. which step sent it) */

	/* state and results: protected by call->lock, immutable once DONE */
	enum qfs_rpc_state state;
	bool accepted;		/* call->accept() said yes */
	int err;		/* 0 (a reply came), -ETIMEDOUT, -EHOSTDOWN, -ENOMEM */
	uint16_t status;	/* wire status when err == 0 */
	uint8_t *rargs;		/* malloc'ed copy of the reply ARGS (or NULL) */
	size_t rargs_len;
	uint8_t *rdata;		/* malloc'ed copy of the reply DATA (or NULL) */
	size_t rdata_len;
};

/*
 * Runs once when every RPC of a call has completed (set before submit):
 * the completing thread calls it without call->lock, so it must not block
 * (it may be the engine thread). Results are immutable by then.
 */
typedef void (*qfs_done_fn)(struct qfs_call *c, void *arg);

/* Decides whether a completed RPC is "accepted". Called with call->lock held. */
typedef bool (*qfs_accept_fn)(const struct qfs_call *c, const struct qfs_rpc *rpc);

/* Accept OK replies (writes). */
bool qfs_accept_ok(const struct qfs_call *c, const struct qfs_rpc *rpc);
/* Accept any reply, whatever its status (reads). */
bool qfs_accept_reply(const struct qfs_call *c, const struct qfs_rpc *rpc);

struct qfs_call {
	pthread_mutex_t lock;
	pthread_cond_t cond;	 /* broadcast on every RPC completion */
	atomic_int refs;

	/* immutable after creation */
	uint64_t deadline_ns;	 /* CLOCK_MONOTONIC; RPCs fail at it */
	qfs_accept_fn accept;
	struct proto_version want; /* for accept functions that need a version */
	uint8_t *data;		 /* DATA buffer owned by the call (may be NULL) */
	size_t data_len;
	int cap;		 /* room in rpc[] */
	uint32_t layout;	 /* layout version the RPCs were placed by, sent in
				  * every request header; 0 = not placed by a
				  * layout (admin, tools). Set before the first submit */
	qfs_done_fn on_done;	 /* optional; set before submit (qfs_call_on_done) */
	void *done_arg;		 /* owned by the call: free()d with it */

	/* protected by lock */
	unsigned need;		 /* wake when this many counting RPCs accepted */
	int nrpc;		 /* RPCs built so far */
	int ndone;		 /* RPCs completed */
	unsigned naccepted;	 /* counting RPCs accepted */
	unsigned npending;	 /* counting RPCs not yet completed */
	bool done_ran;		 /* on_done was called */
	struct qfs_rpc rpc[];	 /* cap entries */
};

/* Monotonic clock in nanoseconds. */
uint64_t qfs_now_ns(void);

/* Deadline @ms milliseconds from now. */
static inline uint64_t qfs_deadline_ms(unsigned ms)
{
	return qfs_now_ns() + (uint64_t)ms * 1000000ull;
}

/*
 * Create a call with room for @cap RPCs, failing them at @deadline_ns. When
 * @data is not NULL its @data_len bytes are copied into the call's own DATA
 * buffer. Returns 0 and the call (one reference) in *out, or -ENOMEM.
 */
int qfs_call_new(int cap, uint64_t deadline_ns, qfs_accept_fn accept, const void *data,
		 size_t data_len, struct qfs_call **out);

void qfs_call_get(struct qfs_call *c);
void qfs_call_put(struct qfs_call *c); /* NULL is a no-op; frees at the last reference */

/*
 * Append an RPC to @daemon: @op with ARGS from @w (taken over: @w is reset),
 * DATA = the call's buffer range [doff, doff + dlen) (dlen 0: none).
 * Safe before or after submit. Returns the RPC index, or -ENOSPC (call full),
 * -ENOMEM (@w went bad).
 */
int qfs_call_add(struct qfs_call *c, int daemon, uint8_t op, bool counts, struct proto_wr *w,
		 size_t doff, size_t dlen);

/*
 * Complete RPC @idx (transports only; exactly once per RPC): @err 0 with
 * the reply's status, ARGS and DATA (copied here), or a negative errno.
 * Updates the counters and wakes the waiter. Takes call->lock.
 */
void qfs_call_complete(struct qfs_call *c, int idx, int err, uint16_t status,
		       const void *rargs, size_t rargs_len, const void *rdata, size_t rdata_len);

/* Predicate evaluated with call->lock held. */
typedef bool (*qfs_wake_fn)(const struct qfs_call *c, void *arg);

/*
 * The default wake condition: @need counting RPCs accepted, or that became
 * impossible (accepted + pending < need), or every RPC completed.
 */
bool qfs_call_quorum_reached(const struct qfs_call *c, void *arg);

/*
 * Every RPC completed (answered, failed or timed out). For calls that want
 * each daemon's answer: one refusal must not end the wait for the others.
 */
bool qfs_call_all_done(const struct qfs_call *c, void *arg);

/*
 * Sleep until @wake (NULL: the default) holds or the monotonic clock
 * reaches @until_ns. Returns true when the condition holds.
 */
bool qfs_call_wait(struct qfs_call *c, uint64_t until_ns, qfs_wake_fn wake, void *arg);

/* RPC @idx once it is DONE (its results are then immutable), else NULL. */
const struct qfs_rpc *qfs_call_result(struct qfs_call *c, int idx);

/*
 * Call @fn(c, @arg) once every RPC of @c has completed (the write's late
 * replies included). @arg is malloc'ed and owned by the call from now on.
 * Only before submit, and only for calls whose RPCs are all added by then.
 */
void qfs_call_on_done(struct qfs_call *c, qfs_done_fn fn, void *arg);

/* Set the number of accepted counting RPCs that the default condition wants. */
void qfs_call_set_need(struct qfs_call *c, unsigned need);

/* Snapshot of a daemon as the transport sees it. */
struct qfs_daemon_info {
	bool hello;		/* answered a HELLO at least once */
	bool suspect;		/* RPCs to it fail at once with -EHOSTDOWN */
	bool auth_failed;	/* CURVE handshake refused */
	uint32_t handshake_err;	/* ZMQ_PROTOCOL_ERROR_* of the last failed handshake, 0 = none */
	uint32_t store_flags;	/* PROTO_STORE_* from the last HELLO */
	uint8_t store_id[PROTO_ID_LEN]; /* store id from the last HELLO */
	uint64_t hellos;	/* HELLO replies taken so far: changes with each one */
	uint64_t boot;		/* boot verifier from the last HELLO */
	uint64_t clock;		/* daemon hlc at the last HELLO */
	uint32_t max_skew_ms;
};

struct qfs_transport;

struct qfs_transport_ops {
	/*
	 * Take every RPC of @c still in state NEW (marks them SENT, takes a
	 * call reference for each) and complete each one later, exactly
	 * once. Never blocks on the network. Returns 0 or -errno (then the
	 * RPCs were completed with that error).
	 */
	int (*submit)(struct qfs_transport *t, struct qfs_call *c);
	/* Current state of daemon @i. */
	void (*info)(struct qfs_transport *t, int i, struct qfs_daemon_info *out);
	/* Stop, fail what is in flight, free. */
	void (*close)(struct qfs_transport *t);
	/*
	 * Optional (NULL: the transport has a fixed set): add a daemon that a
	 * newer cluster layout names. Returns its index (the existing one for
	 * a known name) or -errno. ndaemons grows once the transport took it;
	 * info() of the new index reports no HELLO until it answered one.
	 */
	int (*add)(struct qfs_transport *t, const struct qfs_daemon_conf *dc);
};

/*
 * Called by a transport, from its own thread, when a reply showed a layout
 * version higher than any before (qfs_transport_layout_seen). Must not
 * block: it may only wake someone.
 */
typedef void (*qfs_layout_hook_fn)(void *arg, uint32_t version);

struct qfs_transport {
	const struct qfs_transport_ops *ops;
	int ndaemons;
	/* highest layout version a reply header carried (daemons put the one
	 * they store in every reply); relaxed atomic, only grows */
	_Atomic uint32_t layout_seen;
	/* set once by the owner (the quorum) before its first submit: store
	 * layout_arg first, then the hook (release); NULL = nobody listens */
	void *layout_arg;
	_Atomic(qfs_layout_hook_fn) layout_hook;
};

/*
 * Transports call this with the layout field of every reply header: it
 * raises t->layout_seen and, when @version is higher than any seen before,
 * calls the hook (on the calling thread). Any thread.
 */
void qfs_transport_layout_seen(struct qfs_transport *t, uint32_t version);

struct qfs_quorum;
struct qfs_quorum_opts;

/*
 * qfs_quorum_open() over the transport @t instead of the real engine (unit
 * tests, tools with their own sockets). The quorum takes ownership of @t
 * (closed by qfs_quorum_close, or here on failure). Defined in fs/quorum.c.
 */
int qfs_quorum_open_transport(const struct qfs_cluster *cl, const struct qfs_quorum_opts *opts,
			      struct qfs_transport *t, struct qfs_quorum **out, char *err,
			      size_t errlen);

#endif
