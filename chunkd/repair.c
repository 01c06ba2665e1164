// SPDX-License-Identifier: MIT
/*
 * repair.c - the writer thread's side of the pending-repair index and of
 * tombstone collection: applying PENDING_ADD, PENDING_DEL, TOMB_CONFIRM and
 * PURGE batches, and the periodic tick that purges confirmed tombstones past
 * --tombstone-grace and refreshes the store's last-alive stamp. Everything
 * here runs on the writer thread, inside the batch it has open (ticks in a
 * batch of their own), so these writes are group-committed like PUTs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chunkd/server.h"
#include "proto/log.h"
#include "proto/status.h"

/* Apply one decoded entry of @op; *took says whether it took effect. */
static int chk_repair_one(struct chk_daemon *d, uint8_t op, const struct proto_batch_ent *e,
			  uint64_t stamp, bool *took)
{
	*took = false;
	switch (op) {
	case PROTO_OP_PENDING_ADD:
		*took = true;
		return chk_store_pending_add(d->store, e, stamp);
	case PROTO_OP_PENDING_DEL:
		return chk_store_pending_del(d->store, &e->key, e->stamp, took);
	case PROTO_OP_TOMB_CONFIRM:
		return chk_store_tomb_confirm(d->store, &e->key, &e->ver, took);
	case PROTO_OP_PURGE:
		return chk_store_purge(d->store, &e->key, &e->ver, took);
	case PROTO_OP_DROP:
		return chk_store_drop(d->store, &e->key, &e->ver, took);
	default:
		return -EOPNOTSUPP;
	}
}

uint16_t chk_apply_repair(struct chk_daemon *d, const struct proto_zmsg *m, uint32_t *count)
{
	struct proto_batch_ent *e;
	struct proto_rd r;
	uint64_t stamp = 0;
	uint16_t n;
	int rc;

	*count = 0;
	rc = proto_decode_batch_req(m->hdr.opcode, zmq_msg_data((zmq_msg_t *)&m->args),
				    zmq_msg_size((zmq_msg_t *)&m->args),
				    zmq_msg_size((zmq_msg_t *)&m->data), &r, &n);
	if (rc < 0)
		return proto_st_from_errno(rc);
	e = malloc(sizeof(*e));
	if (!e)
		return PROTO_ST_NOMEM;
	if (m->hdr.opcode == PROTO_OP_PENDING_ADD)
		stamp = proto_hlc_next(&d->clock, proto_wall_ms());
	for (uint16_t i = 0; i < n && rc == 0; i++) {
		bool took;

		rc = proto_batch_next(&r, m->hdr.opcode, e);
		if (!rc)
			rc = chk_repair_one(d, m->hdr.opcode, e, stamp, &took);
		if (!rc && took)
			(*count)++;
	}
	free(e);
	if (rc < 0) {
		/* entries before the failed one stay applied: each is idempotent */
		qlog_debug("%s: %s", proto_op_name(m->hdr.opcode), strerror(-rc));
		return proto_st_from_errno(rc);
	}
	if (m->hdr.opcode == PROTO_OP_PURGE && *count)
		qlog_info("purge: %" PRIu32 " tombstones dropped on request", *count);
	return PROTO_ST_OK;
}

uint64_t chk_tomb_tick_ms(const struct chk_daemon *d)
{
	uint64_t ms = d->o.tombstone_grace_s * 1000 / 4;

	if (ms < CHK_TOMB_TICK_MIN_MS)
		ms = CHK_TOMB_TICK_MIN_MS;
	return ms > CHK_TOMB_TICK_MAX_MS ? CHK_TOMB_TICK_MAX_MS : ms;
}

int chk_tomb_tick(struct chk_daemon *d, bool *more)
{
	uint64_t now = proto_wall_ms();
	unsigned purged = 0;
	int rc;

	*more = false;
	rc = chk_store_batch_begin(d->store);
	if (rc)
		return rc;
	rc = chk_store_alive(d->store, now);
	if (!rc)
		rc = chk_store_tomb_gc(d->store, now, d->o.tombstone_grace_s * 1000,
				       CHK_TOMB_GC_MAX, &purged, more);
	if (rc) {
		/* the batch holds nothing else: drop it */
		chk_store_batch_commit(d->store);
		return rc;
	}
	rc = chk_store_batch_commit(d->store);
	if (!rc && purged)
		qlog_info("collected %u tombstones past the %" PRIu64 " s grace period", purged,
			  d->o.tombstone_grace_s);
	return rc;
}
