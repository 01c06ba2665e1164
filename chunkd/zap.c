// SPDX-License-Identifier: MIT
/*
 * zap.c - the ZAP handler of chunkd (ZeroMQ RFC 27): one thread with a REP
 * socket on inproc://zeromq.zap.01 answers every authentication request of
 * the CURVE ROUTER with 200 when the client's public key is in the allow
 * list and 400 otherwise. Every request gets exactly one reply, also a
 * malformed one (500), because a REP socket that skips a reply is stuck.
 *
 * The allow list is a sorted array of binary keys; the reactor replaces it
 * on SIGHUP (chk_zap_reload) under @lock, the handler thread looks keys up
 * under the same lock. Refusals are logged with the peer address and the
 * refused public key (public, so safe to log; the administrator needs it to
 * admit the client), at most once per CHK_ZAP_LOG_MS per address.
 */
#include "chunkd/zap.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "proto/keyfile.h"
#include "proto/log.h"
#include "proto/version.h"

#define CHK_ZAP_POLL_MS 100		/* how often the thread looks at @stop */
#define CHK_ZAP_FRAMES 7		/* a CURVE request: 6 frames + client key */
#define CHK_ZAP_LOG_MS 10000		/* one refusal line per address per 10 s */
#define CHK_ZAP_SEEN 64			/* addresses remembered for rate limiting */
#define CHK_ZAP_ADDR_MAX 63

struct chk_zap_seen {
	char addr[CHK_ZAP_ADDR_MAX + 1];
	uint64_t last_ms;
	uint64_t suppressed;	/* refusals not logged since last_ms */
};

struct chk_zap {
	char *path;				/* immutable */
	pthread_mutex_t lock;			/* protects keys, nkeys; leaf lock */
	uint8_t (*keys)[PROTO_KEY_BIN_LEN];
	size_t nkeys;

	void *sock;				/* REP; the thread's once started */
	pthread_t tid;
	bool started;
	atomic_bool stop;

	struct chk_zap_seen seen[CHK_ZAP_SEEN];	/* handler thread only */
};

int chk_zap_new(const char *allow_path, struct chk_zap **out)
{
	char err[512];
	struct chk_zap *z;
	int rc;

	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->path = strdup(allow_path);
	if (!z->path) {
		free(z);
		return -ENOMEM;
	}
	pthread_mutex_init(&z->lock, NULL);
	atomic_init(&z->stop, false);
	rc = proto_allow_read(z->path, &z->keys, &z->nkeys, err, sizeof(err));
	if (rc < 0) {
		qlog_err("%s", err);
		chk_zap_free(z);
		return rc;
	}
	if (!z->nkeys)
		qlog_warn("%s: allow list is empty: every client will be refused", z->path);
	else
		qlog_info("allow list %s: %zu client key%s", z->path, z->nkeys,
			  z->nkeys == 1 ? "" : "s");
	*out = z;
	return 0;
}

int chk_zap_reload(struct chk_zap *z)
{
	uint8_t (*keys)[PROTO_KEY_BIN_LEN] = NULL, (*old)[PROTO_KEY_BIN_LEN];
	char err[512];
	size_t n = 0;
	int rc;

	rc = proto_allow_read(z->path, &keys, &n, err, sizeof(err));
	if (rc < 0) {
		qlog_err("allow list not reloaded, keeping the previous one (%zu keys): %s",
			 z->nkeys, err);
		return rc;
	}
	pthread_mutex_lock(&z->lock);
	old = z->keys;
	z->keys = keys;
	z->nkeys = n;
	pthread_mutex_unlock(&z->lock);
	free(old);
	qlog_info("allow list %s reloaded: %zu client key%s%s", z->path, n, n == 1 ? "" : "s",
		  n ? "" : " (every client will be refused)");
	return 0;
}

static bool chk_zap_allowed(struct chk_zap *z, const uint8_t *key)
{
	bool ok;

	pthread_mutex_lock(&z->lock);
	ok = proto_allow_has((const uint8_t(*)[PROTO_KEY_BIN_LEN])z->keys, z->nkeys, key);
	pthread_mutex_unlock(&z->lock);
	return ok;
}

/* Copy a frame into @dst as printable text (others become '?'). */
static void chk_zap_text(char *dst, size_t cap, zmq_msg_t *f)
{
	const unsigned char *p = zmq_msg_data(f);
	size_t n = zmq_msg_size(f), i;

	if (n > cap - 1)
		n = cap - 1;
	for (i = 0; i < n; i++)
		dst[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	dst[n] = '\0';
}

static bool chk_zap_is(zmq_msg_t *f, const char *s)
{
	size_t n = strlen(s);

	return zmq_msg_size(f) == n && memcmp(zmq_msg_data(f), s, n) == 0;
}

/* Log a refusal of @key from @addr, rate-limited per address. */
static void chk_zap_log_refusal(struct chk_zap *z, const char *addr, const char *why)
{
	uint64_t now = proto_wall_ms(), h = 1469598103934665603ull;
	struct chk_zap_seen *s;

	for (const char *p = addr; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	s = &z->seen[h % CHK_ZAP_SEEN];
	if (!strcmp(s->addr, addr) && now - s->last_ms < CHK_ZAP_LOG_MS) {
		s->suppressed++;
		return;
	}
	if (!strcmp(s->addr, addr) && s->suppressed)
		qlog_warn("refused client at %s: %s (and %" PRIu64 " more refusals since)",
			  addr, why, s->suppressed);
	else
		qlog_warn("refused client at %s: %s", addr, why);
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->last_ms = now;
	s->suppressed = 0;
}

/* Answer one ZAP request; every request gets exactly one reply. */
static void chk_zap_handle(struct chk_zap *z)
{
	zmq_msg_t f[CHK_ZAP_FRAMES];
	int nf = 0, more = 1;
	const char *status = "500", *text = "malformed request";
	char addr[CHK_ZAP_ADDR_MAX + 1] = "?", why[160], user[PROTO_KEY_Z85_LEN + 1] = "";

	while (more) {
		zmq_msg_t extra, *m = nf < CHK_ZAP_FRAMES ? &f[nf] : &extra;

		zmq_msg_init(m);
		if (zmq_msg_recv(m, z->sock, 0) < 0) {
			zmq_msg_close(m);
			if (!nf)
				return;	/* nothing received: nothing to answer */
			break;
		}
		more = zmq_msg_more(m);
		if (m == &extra) {
			zmq_msg_close(m);
			nf = CHK_ZAP_FRAMES + 1; /* too many frames */
		} else {
			nf++;
		}
	}
	if (nf >= 4 && nf <= CHK_ZAP_FRAMES)
		chk_zap_text(addr, sizeof(addr), &f[3]);	/* the peer's address */
	if (nf == CHK_ZAP_FRAMES && chk_zap_is(&f[0], "1.0")) {
		if (!chk_zap_is(&f[5], "CURVE") || zmq_msg_size(&f[6]) != PROTO_KEY_BIN_LEN) {
			status = "400";
			text = "CURVE required";
			chk_zap_log_refusal(z, addr, "not a CURVE client");
		} else if (chk_zap_allowed(z, zmq_msg_data(&f[6]))) {
			status = "200";
			text = "OK";
			zmq_z85_encode(user, zmq_msg_data(&f[6]), PROTO_KEY_BIN_LEN);
			qlog_debug("admitted client %s at %s", user, addr);
		} else {
			char key[PROTO_KEY_Z85_LEN + 1];

			status = "400";
			text = "key not in the allow list";
			zmq_z85_encode(key, zmq_msg_data(&f[6]), PROTO_KEY_BIN_LEN);
			snprintf(why, sizeof(why), "public key %s is not in %s", key, z->path);
			chk_zap_log_refusal(z, addr, why);
		}
	} else {
		chk_zap_log_refusal(z, addr, "malformed ZAP request");
	}

	/* version, request id (echoed), status, text, user id, metadata */
	zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
	if (nf >= 2 && nf <= CHK_ZAP_FRAMES)
		zmq_send(z->sock, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
	else
		zmq_send(z->sock, "", 0, ZMQ_SNDMORE);
	zmq_send(z->sock, status, 3, ZMQ_SNDMORE);
	zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(z->sock, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(z->sock, "", 0, 0);
	for (int i = 0; i < nf && i < CHK_ZAP_FRAMES; i++)
		zmq_msg_close(&f[i]);
}

static void *chk_zap_main(void *arg)
{
	struct chk_zap *z = arg;
	zmq_pollitem_t it = { z->sock, 0, ZMQ_POLLIN, 0 };

	while (!atomic_load(&z->stop)) {
		int rc = zmq_poll(&it, 1, CHK_ZAP_POLL_MS);

		if (rc < 0) {
			if (zmq_errno() == EINTR)
				continue;
			qlog_err("zap poll: %s", zmq_strerror(zmq_errno()));
			break;
		}
		if (rc > 0 && (it.revents & ZMQ_POLLIN))
			chk_zap_handle(z);
	}
	zmq_close(z->sock);
	z->sock = NULL;
	return NULL;
}

int chk_zap_bind(struct chk_zap *z, void *zctx)
{
	int zero = 0, rc;

	z->sock = zmq_socket(zctx, ZMQ_REP);
	if (!z->sock) {
		rc = -zmq_errno();
		qlog_err("zap socket: %s", zmq_strerror(-rc));
		return rc;
	}
	zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_bind(z->sock, CHK_ZAP_ENDPOINT) < 0) {
		rc = -zmq_errno();
		qlog_err("cannot bind the ZAP handler on %s: %s", CHK_ZAP_ENDPOINT,
			 zmq_strerror(-rc));
		goto out_close;
	}
	/* pthread_create is the fence ZeroMQ needs when the socket changes thread */
	rc = -pthread_create(&z->tid, NULL, chk_zap_main, z);
	if (rc) {
		qlog_err("cannot start the zap thread: %s", strerror(-rc));
		goto out_close;
	}
	z->started = true;
	return 0;
out_close:
	zmq_close(z->sock);
	z->sock = NULL;
	return rc;
}

void chk_zap_stop(struct chk_zap *z)
{
	if (!z)
		return;
	if (z->started) {
		atomic_store(&z->stop, true);
		pthread_join(z->tid, NULL);
		z->started = false;
	} else if (z->sock) {
		zmq_close(z->sock);
		z->sock = NULL;
	}
}

void chk_zap_free(struct chk_zap *z)
{
	if (!z)
		return;
	chk_zap_stop(z);
	pthread_mutex_destroy(&z->lock);
	free(z->keys);
	free(z->path);
	free(z);
}
