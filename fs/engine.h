/* SPDX-License-Identifier: MIT */
/*
 * engine.h - the real transport: one thread that owns a ZeroMQ DEALER per
 * daemon and drives every RPC of every call (see fs/call.h).
 *
 * Other threads submit calls through a mutex-protected queue and wake the
 * engine with an eventfd that it polls beside its sockets. The engine keeps
 * a table reqid -> (call, RPC), fails RPCs at their deadline, drops late
 * replies by request id, bounds the bytes in flight per daemon (RPCs over
 * the bound wait in a per-daemon queue) and runs the failure detector:
 * a daemon is suspect after two consecutive timeouts, or when its socket
 * has no connection (socket monitor, ZeroMQ heartbeats for hung peers);
 * RPCs to a suspect daemon fail at once with -EHOSTDOWN, and the engine
 * probes it with HELLO every QFS_ENG_PROBE_MS until it answers. Every HELLO
 * reply updates the daemon's info (store id, flags, boot). Every request
 * header carries its call's layout version (qfs_call.layout) and every
 * reply's layout version goes to qfs_transport_layout_seen().
 */
#ifndef QFS_FS_ENGINE_H
#define QFS_FS_ENGINE_H

#include <stddef.h>

#include "fs/call.h"
#include "fs/config.h"

#define QFS_ENG_PROBE_MS 500			/* HELLO probe period for suspects */
/* HELLO period for a daemon that has not said what its store is yet, or
 * whose store has no volume or is rebuilding: the quorum layer learns when
 * that changes (fs/quorum.c) without waiting for a disconnect. */
#define QFS_ENG_REHELLO_MS 1000
#define QFS_ENG_SUSPECT_TIMEOUTS 2		/* consecutive timeouts => suspect */
#define QFS_ENG_INFLIGHT_MAX (64u << 20)	/* request bytes in flight per daemon */
#define QFS_ENG_SNDHWM 1000			/* messages queued per DEALER */
#define QFS_ENG_HEARTBEAT_IVL_MS 500
#define QFS_ENG_HEARTBEAT_TIMEOUT_MS 1500

/*
 * Create the sockets for every daemon of @cl (CURVE when the daemon has a
 * public key; the client key pair is read from the configured files, which
 * must be set, the secret one mode 0600, or -EINVAL / -EPERM) and
 * start the engine thread. Connections are made in the background. Returns
 * 0 and the transport in *out (closed through its ops), or -errno with a
 * message in @err.
 */
int qfs_engine_open(const struct qfs_cluster *cl, struct qfs_transport **out, char *err,
		    size_t errlen);

/*
 * Why daemon with transport state @info refuses us at the security layer
 * ("refused our CURVE key (not in its allow-list)", a CURVE/plaintext
 * mismatch, a CURVE key that does not match), or NULL when it does not.
 * The string is static.
 */
const char *qfs_engine_refusal(const struct qfs_daemon_info *info);

#endif
