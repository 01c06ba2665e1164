/* SPDX-License-Identifier: MIT */
/*
 * zap.h - chunkd's ZAP handler: admits CURVE clients whose public key is in
 * the allow list (--allow FILE), refuses every other.
 *
 * libzmq 4.3 admits every CURVE client when no handler is bound on
 * inproc://zeromq.zap.01, so chk_zap_bind() must succeed before the ROUTER
 * is created; chunkd refuses to start otherwise. The handler runs on its
 * own thread, which owns the ZAP socket. The allow list is swapped whole
 * under a mutex: a reload either installs the complete new list or keeps
 * the old one.
 */
#ifndef QFS_CHUNKD_ZAP_H
#define QFS_CHUNKD_ZAP_H

#define CHK_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define CHK_ZAP_DOMAIN "quorumfs"

struct chk_zap;

/*
 * Load the allow list from @allow_path. Returns 0 and the handler (not yet
 * bound) in *out, or -errno after logging "FILE:LINE: why".
 */
int chk_zap_new(const char *allow_path, struct chk_zap **out);

/*
 * Bind the ZAP socket in @zctx and start the handler thread. Returns 0 or
 * -errno (logged). Call before any CURVE server socket exists in @zctx.
 */
int chk_zap_bind(struct chk_zap *z, void *zctx);

/* Stop the thread (it closes its socket); before zmq_ctx_term. NULL is a no-op. */
void chk_zap_stop(struct chk_zap *z);

/*
 * Read the allow list again (SIGHUP). On success the new list replaces the
 * old one atomically; on error the old list stays and the reason is logged.
 * Returns 0 or -errno. Any thread; not concurrently with itself.
 */
int chk_zap_reload(struct chk_zap *z);

/* Stop if needed and free; NULL is a no-op. */
void chk_zap_free(struct chk_zap *z);

#endif
