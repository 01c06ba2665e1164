// SPDX-License-Identifier: MIT
/*
 * layout.c - convert between the stored cluster layout (proto/layout.h)
 * and struct qfs_cluster, so ring.c places keys of either the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/layout.h"

void qfs_layout_from_cluster(const struct qfs_cluster *cl, struct proto_layout_ring *out)
{
	memset(out, 0, sizeof(*out));
	out->version = cl->layout_version ? cl->layout_version : 1;
	out->n = (uint8_t)cl->n;
	out->w = (uint8_t)cl->w;
	out->r = (uint8_t)cl->r;
	out->vnodes = (uint16_t)cl->vnodes;
	out->ndaemons = (uint16_t)cl->ndaemons;
	for (int i = 0; i < cl->ndaemons && i < PROTO_LAYOUT_DAEMONS_MAX; i++) {
		const struct qfs_daemon_conf *d = &cl->daemons[i];
		struct proto_layout_daemon *o = &out->d[i];

		snprintf(o->name, sizeof(o->name), "%s", d->name);
		snprintf(o->endpoint, sizeof(o->endpoint), "%s", d->endpoint);
		snprintf(o->public_key, sizeof(o->public_key), "%s", d->public_key);
		snprintf(o->zone, sizeof(o->zone), "%s", d->zone);
		o->weight = d->weight;
	}
}

int qfs_layout_to_cluster(const struct qfs_cluster *base, const struct proto_layout_ring *r,
			  struct qfs_cluster *out)
{
	if (r->ndaemons < 1 || r->ndaemons > QFS_MAX_DAEMONS || r->n < 1 ||
	    r->n > QFS_MAX_REPLICAS || r->n > r->ndaemons)
		return -EINVAL;
	if (out != base)
		memcpy(out, base, sizeof(*out));
	out->n = r->n;
	out->w = r->w;
	out->r = r->r;
	out->vnodes = r->vnodes;
	out->layout_version = r->version;
	out->ndaemons = r->ndaemons;
	for (int i = 0; i < r->ndaemons; i++) {
		struct qfs_daemon_conf *d = &out->daemons[i];

		memset(d, 0, sizeof(*d));
		snprintf(d->name, sizeof(d->name), "%s", r->d[i].name);
		snprintf(d->endpoint, sizeof(d->endpoint), "%s", r->d[i].endpoint);
		snprintf(d->public_key, sizeof(d->public_key), "%s", r->d[i].public_key);
		snprintf(d->zone, sizeof(d->zone), "%s", r->d[i].zone);
		d->weight = r->d[i].weight;
	}
	return 0;
}
