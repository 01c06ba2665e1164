// SPDX-License-Identifier: MIT
/*
 * quorum_rebuild.c - rebuilding daemons as fsck.quorumfs sees them: the
 * store each daemon described in its latest HELLO, and the REBUILT request
 * that ends a store's rebuilding state once fsck has refilled it.
 *
 * REBUILT names both the volume (from the superblock read at open) and the
 * store id the caller saw at the start of its pass, so a store that was
 * wiped again in between (a new store id) is never declared refilled.
 */
#include <errno.h>
#include <string.h>

#include "fs/quorum_priv.h"
#include "fs/quorum_scan.h"

void qfs_scan_store(struct qfs_quorum *q, int daemon, struct qfs_scan_store *out)
{
	struct qfs_daemon_info di;

	q->t->ops->info(q->t, daemon, &di);
	memset(out, 0, sizeof(*out));
	out->known = di.hello;
	out->suspect = di.suspect;
	out->rebuilding = di.hello && qfs_q_rebuilding(q, daemon, &di);
	out->flags = di.store_flags;
	out->boot = di.boot;
	memcpy(out->store_id, di.store_id, PROTO_ID_LEN);
}

int qfs_scan_rebuilt(struct qfs_quorum *q, int daemon, const uint8_t store_id[PROTO_ID_LEN],
		     uint32_t *flags)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	struct proto_rebuilt_req rq;
	struct proto_rebuilt_rep rr;
	const struct qfs_rpc *rpc;
	struct proto_super sb;
	struct qfs_call *c;
	struct proto_wr w;
	int rc;

	if (qfs_quorum_super(q, &sb))
		return -ENOENT;
	memcpy(rq.volume_id, sb.volume_id, PROTO_ID_LEN);
	memcpy(rq.store_id, store_id, PROTO_ID_LEN);
	proto_wr_init(&w);
	proto_encode_rebuilt_req(&w, &rq);
	rc = qfs_scan_one(q, daemon, PROTO_OP_REBUILT, &w, deadline, &c, &rpc);
	if (rc)
		return rc;
	if (proto_decode_rebuilt_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &rr))
		rc = -EBADMSG;
	else
		*flags = rr.store_flags;
	qfs_call_put(c);
	return rc;
}
