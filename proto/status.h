/* SPDX-License-Identifier: MIT */
/*
 * status.h - wire status codes and their mapping to errno.
 *
 * A reply header carries one of these. They are converted to errno only at
 * the edges: proto_st_to_errno() in clients, proto_st_from_errno() in chunkd.
 * Decoders report distinct negative errnos (see proto/msg.h), which map here
 * one to one, so a peer learns exactly what was wrong with its request.
 */
#ifndef QFS_PROTO_STATUS_H
#define QFS_PROTO_STATUS_H

#include <stdint.h>

enum proto_status {
	PROTO_ST_OK = 0,
	PROTO_ST_BADMSG = 1,	  /* truncated, trailing bytes, bad field  (EBADMSG) */
	PROTO_ST_BADMAGIC = 2,	  /* header magic wrong                    (EPROTO) */
	PROTO_ST_BADVERSION = 3,  /* protocol version not spoken (EPROTONOSUPPORT) */
	PROTO_ST_BADOP = 4,	  /* unknown opcode                    (EOPNOTSUPP) */
	PROTO_ST_TOOLONG = 5,	  /* absurd length or frame size         (EMSGSIZE) */
	PROTO_ST_BADNAME = 6,	  /* empty name, '/', NUL, "." or ".."     (EINVAL) */
	PROTO_ST_NAMETOOLONG = 7, /* name over 255 bytes             (ENAMETOOLONG) */
	PROTO_ST_TOOBIG = 8,	  /* body over the maximum chunk size       (EFBIG) */
	PROTO_ST_NOENT = 9,	  /* no such record                        (ENOENT) */
	PROTO_ST_CONFLICT = 10,	  /* PATCH base version differs            (ESTALE) */
	PROTO_ST_SKEW = 11,	  /* version too far ahead of daemon clock (ETIME) */
	PROTO_ST_NOSPC = 12,	  /* store full                            (ENOSPC) */
	PROTO_ST_CORRUPT = 13,	  /* checksum mismatch                    (EBADE) */
	PROTO_ST_IO = 14,	  /* local I/O error                          (EIO) */
	PROTO_ST_NOMEM = 15,	  /* out of memory                         (ENOMEM) */
	PROTO_ST_XVOLUME = 16,	  /* record belongs to another volume      (EXDEV) */
	PROTO_ST_BUSY = 17,	  /* daemon overloaded, retry later        (EAGAIN) */
	PROTO_ST_INVAL = 18,	  /* well formed but not allowed here (EINVAL) */
	PROTO_ST_STALE_LAYOUT = 19, /* routed by a layout older than the daemon's (EREMCHG) */
	PROTO_ST_MAX
};

/* Positive errno for a wire status; unknown statuses map to EIO. */
int proto_st_to_errno(uint16_t st);

/* Wire status for a negative or positive errno; unknown ones map to PROTO_ST_IO. */
uint16_t proto_st_from_errno(int err);

/* Short lower-case name of a status, for logs ("conflict"); never NULL. */
const char *proto_st_name(uint16_t st);

#endif
