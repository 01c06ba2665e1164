/* SPDX-License-Identifier: MIT */
/*
 * sim_transport.h - a simulated cluster for the quorum unit tests: N
 * in-memory replica stores behind a struct qfs_transport.
 *
 * Requests are decoded and replies encoded with the real proto/ codec, and a
 * replica applies PUT by proto_merge and PATCH by the conditional rules of
 * chunkd/store.h, so the quorum layer sees what real daemons would answer.
 * Each replica has knobs: a reply delay (served by the simulator's own
 * thread, so delays are real time), drop (requests are never answered and
 * fail at the call's deadline, as the engine would time them out), dead
 * (suspect: fails at once with -EHOSTDOWN), store flags for HELLO, a clock
 * skew, a page size limit for LIST, NOSPC, and per-key corruption. A
 * cluster layout (LAYOUT_GET, HELLO's layout_version) can be set: each
 * replica then refuses requests placed by an older layout with
 * STALE_LAYOUT and puts its version in every reply, as chunkd does.
 * All functions are thread-safe.
 */
#ifndef QFS_TESTS_SIM_TRANSPORT_H
#define QFS_TESTS_SIM_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/call.h"
#include "proto/msg.h"

struct sim;
struct qfs_cluster;

/*
 * A cluster config of @nd daemons named d0, d1, ... (tcp endpoints that are
 * never dialled: the simulator carries the traffic), 64 virtual nodes,
 * quorums @n/@w/@r and @timeout_ms. Aborts the test on ENOMEM; free() it.
 */
struct qfs_cluster *sim_cluster(int nd, unsigned n, unsigned w, unsigned r,
				unsigned timeout_ms);

/* A simulator of @n replicas; 0 or -ENOMEM. */
int sim_new(int n, struct sim **out);
/* Stop the thread and free everything (after the quorum was closed). */
void sim_free(struct sim *s);
/* The transport to give to qfs_quorum_open_transport (the quorum's close
 * only stops it; sim_free frees it). */
struct qfs_transport *sim_transport(struct sim *s);

void sim_set_delay(struct sim *s, int i, unsigned ms);
void sim_set_drop(struct sim *s, int i, bool drop);
void sim_set_dead(struct sim *s, int i, bool dead);
/* Store flags replica @i reports in HELLO; the transport's info() shows
 * them as a new HELLO (info.hellos changes). */
void sim_set_flags(struct sim *s, int i, uint32_t store_flags);
/* Replica @i now has another store (a new store id) with @store_flags:
 * a daemon wiped and restarted. */
void sim_new_store(struct sim *s, int i, uint32_t store_flags);
void sim_set_skew(struct sim *s, int i, int64_t ms);
void sim_set_page_max(struct sim *s, int i, uint32_t max);
void sim_set_nospc(struct sim *s, int i, bool nospc);
void sim_set_corrupt(struct sim *s, int i, const struct proto_key *key, bool corrupt);

/* Store a record directly on replica @i (test setup); sums computed here. */
int sim_put(struct sim *s, int i, const struct proto_key *key, const struct proto_meta *meta,
	    const void *val);
/* Look a record up on replica @i: 0 with *meta and a malloc'ed copy of the
 * value in *val (may be NULL), or -ENOENT. */
int sim_get(struct sim *s, int i, const struct proto_key *key, struct proto_meta *meta,
	    uint8_t **val);
struct proto_layout;
/*
 * Every replica hands out layout @l (LAYOUT_GET, HELLO) and refuses
 * requests placed by an older version. 0 or -ENOMEM.
 */
int sim_set_layout(struct sim *s, const struct proto_layout *l);
/* Replica @i checks requests against (and reports) @version instead. */
void sim_set_layout_check(struct sim *s, int i, uint32_t version);
/* Requests replica @i refused with STALE_LAYOUT. */
unsigned sim_stale(struct sim *s, int i);

/* Requests of @op replica @i received (0 = every op). */
unsigned sim_count(struct sim *s, int i, uint8_t op);
void sim_reset_counts(struct sim *s);

#endif
