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
#include "proto/msg.h"
#include "proto/version.h"

struct qfs_quorum {
	struct qfs_cluster *cl;	      /* own copy; immutable */
	struct qfs_ring *ring;	      /* immutable */
	struct qfs_transport *t;      /* thread-safe per call.h */
	unsigned n, w, r;	      /* immutable; n <= ndaemons */
	unsigned timeout_ms;	      /* immutable */
	uint64_t writer;	      /* random per open; immutable */
	struct proto_hlc clock;	      /* lock-free */
	atomic_bool have_volume;      /* a volume exists: NOVOLUME daemons rebuild */
	/* per daemon, from the HELLO at open; immutable afterwards */
	bool rebuild[QFS_MAX_DAEMONS]; /* NOVOLUME while the volume existed */
	uint64_t boot[QFS_MAX_DAEMONS]; /* boot verifier (0: did not answer) */

	pthread_mutex_t sb_lock;      /* protects have_sb and sb */
	bool have_sb;
	struct proto_super sb;
};

/* One replica of a key as an operation sees it. */
struct qfs_replica {
	int daemon;
	bool suspect;	 /* transport fails RPCs to it at once */
	bool rebuilding; /* takes writes, counts toward neither R nor W */
};

/*
 * Fill @out[q->n] with the replicas of @token: counting and healthy ones
 * first (ring order), then suspect ones, rebuilding ones last. Returns the
 * number filled; *ncount gets the number that count toward quorums.
 */
int qfs_q_place(struct qfs_quorum *q, uint64_t token, struct qfs_replica *out, int *ncount);

/* Hedge: how long a read step waits before asking one more replica. */
uint64_t qfs_q_hedge_ns(const struct qfs_quorum *q);

/* Earlier of now + @ns and @deadline. */
uint64_t qfs_q_until(uint64_t ns, uint64_t deadline);

/* Error for a write that missed its quorum: -ENOSPC, -ETIME or -EIO from
 * the statuses of the completed RPCs of @c (call it after the wait). */
int qfs_q_write_error(struct qfs_call *c);

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

/* Remember a superblock that reached W replicas (qfs_quorum_put). */
void qfs_q_super_written(struct qfs_quorum *q, const void *val, uint32_t len);

/* Encoded key bytes order: memcmp, then length. */
int qfs_q_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

#endif
