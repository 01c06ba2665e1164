// SPDX-License-Identifier: MIT
/*
 * status.c - the one table that maps wire statuses to errno and back.
 *
 * Each status has exactly one errno and each errno a decoder returns has
 * exactly one status, so a decoder error sent back as a status reaches the
 * peer as the same errno. Unknown values fold to PROTO_ST_IO / EIO.
 */
#include <errno.h>
#include <stdlib.h>

#include "proto/status.h"

static const struct {
	int err;
	const char *name;
} proto_st_table[PROTO_ST_MAX] = {
	[PROTO_ST_OK] = { 0, "ok" },
	[PROTO_ST_BADMSG] = { EBADMSG, "badmsg" },
	[PROTO_ST_BADMAGIC] = { EPROTO, "badmagic" },
	[PROTO_ST_BADVERSION] = { EPROTONOSUPPORT, "badversion" },
	[PROTO_ST_BADOP] = { EOPNOTSUPP, "badop" },
	[PROTO_ST_TOOLONG] = { EMSGSIZE, "toolong" },
	[PROTO_ST_BADNAME] = { EINVAL, "badname" },
	[PROTO_ST_NAMETOOLONG] = { ENAMETOOLONG, "nametoolong" },
	[PROTO_ST_TOOBIG] = { EFBIG, "toobig" },
	[PROTO_ST_NOENT] = { ENOENT, "noent" },
	[PROTO_ST_CONFLICT] = { ESTALE, "conflict" },
	[PROTO_ST_SKEW] = { ETIME, "skew" },
	[PROTO_ST_NOSPC] = { ENOSPC, "nospc" },
	[PROTO_ST_CORRUPT] = { EBADE, "corrupt" },
	[PROTO_ST_IO] = { EIO, "io" },
	[PROTO_ST_NOMEM] = { ENOMEM, "nomem" },
	[PROTO_ST_XVOLUME] = { EXDEV, "xvolume" },
	[PROTO_ST_BUSY] = { EAGAIN, "busy" },
	[PROTO_ST_INVAL] = { EINVAL, "inval" },
	[PROTO_ST_STALE_LAYOUT] = { EREMCHG, "stale_layout" },
};

int proto_st_to_errno(uint16_t st)
{
	if (st >= PROTO_ST_MAX)
		return EIO;
	return proto_st_table[st].err;
}

/*
 * EINVAL maps to BADNAME, not INVAL: decoders return -EINVAL only for bad
 * names (proto/msg.h). A daemon that refuses a well-formed request as not
 * allowed answers PROTO_ST_INVAL directly.
 */
uint16_t proto_st_from_errno(int err)
{
	if (err < 0)
		err = -err;
	if (err == 0)
		return PROTO_ST_OK;
	if (err == EWOULDBLOCK)
		return PROTO_ST_BUSY;
	if (err == ENOTSUP)
		return PROTO_ST_BADOP;
	for (unsigned st = 1; st < PROTO_ST_MAX; st++)
		if (proto_st_table[st].err == err)
			return (uint16_t)st;
	return PROTO_ST_IO;
}

const char *proto_st_name(uint16_t st)
{
	if (st >= PROTO_ST_MAX)
		return "unknown";
	return proto_st_table[st].name;
}
