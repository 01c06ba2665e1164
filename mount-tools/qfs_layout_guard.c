// SPDX-License-Identifier: MIT
/*
 * qfs_layout_guard.c - whether a layout version is out of service: the
 * rule `qfs rebalance` checks before it copies keys and before it drops
 * copies (docs/consistency.md, "Changing the layout").
 *
 * Daemons refuse a request routed by a layout older than the one they
 * store (PROTO_ST_STALE_LAYOUT). So once fewer than min(W, R) daemons of a
 * ring still hold a version below V, no preference list of that ring has
 * W (or R) daemons that would serve a request routed by a layout older
 * than V: such a mount can no longer complete a write or a read there, and
 * has to fetch V first. A daemon that does not answer counts as lagging.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/call.h"
#include "fs/quorum.h"
#include "fs/quorum_scan.h"
#include "mount-tools/qfs_cmds.h"
#include "proto/layout.h"

#define MNT_GUARD_TIMEOUT_MS 5000

/* The layout version daemon @d stores, from a HELLO; 0 or -errno. */
static int mnt_guard_version(struct qfs_quorum *q, int d, uint64_t *ver)
{
	struct proto_hello_req hq = { .min_version = PROTO_VERSION, .max_version = PROTO_VERSION };
	const struct qfs_rpc *rpc;
	struct proto_hello_rep hr;
	struct proto_wr w;
	struct qfs_call *c;
	int rc;

	proto_wr_init(&w);
	proto_encode_hello_req(&w, &hq);
	rc = qfs_scan_one(q, d, PROTO_OP_HELLO, &w, qfs_deadline_ms(MNT_GUARD_TIMEOUT_MS), &c,
			  &rpc);
	if (rc)
		return rc;
	rc = proto_decode_hello_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &hr);
	qfs_call_put(c);
	if (rc)
		return rc > 0 ? -rc : rc;
	*ver = hr.layout_version;
	return 0;
}

int mnt_layout_retired(struct qfs_quorum *q, const struct proto_layout_ring *ring,
		       uint64_t version, const char *why)
{
	unsigned limit = ring->w < ring->r ? ring->w : ring->r, lagging = 0;

	for (int i = 0; i < ring->ndaemons; i++) {
		const char *name = ring->d[i].name;
		int d = qfs_quorum_daemon_index(q, name), rc = -ENOENT;
		uint64_t ver = 0;

		if (d >= 0)
			rc = mnt_guard_version(q, d, &ver);
		if (rc == 0 && ver >= version)
			continue;
		lagging++;
		if (rc)
			fprintf(stderr, "daemon %s: cannot tell its layout version: %s\n", name,
				strerror(-rc));
		else
			fprintf(stderr, "daemon %s holds layout v%" PRIu64 ", not v%" PRIu64 " yet\n",
				name, ver, version);
	}
	if (lagging < limit)
		return 0;
	fprintf(stderr, "%u of the %u daemons of layout v%" PRIu64 " may still serve a request "
		"routed by a layout older than v%" PRIu64 " (at most %u may, min(W, R) - 1): %s\n",
		lagging, ring->ndaemons, ring->version, version, limit - 1, why);
	return -EAGAIN;
}
