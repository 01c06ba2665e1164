/* SPDX-License-Identifier: MIT */
/*
 * chunkd_harness.h - start and stop real chunkd processes for integration
 * tests, and talk to them with a blocking DEALER client.
 *
 * Daemons are started with fork/exec from $QFS_BIN/chunkd on 127.0.0.1 with
 * a free port, their output going to a log file in the harness's mkdtemp
 * directory. Every started pid and every mount is remembered, and an atexit
 * handler plus fatal-signal handlers kill (by pid, SIGKILL) what is still
 * running, unmount, and remove the directory, so a failing or interrupted
 * test leaves nothing behind. Every receive has a timeout: no test can hang.
 * Not thread-safe: tests drive the harness from one thread.
 */
#ifndef QFS_TESTS_CHUNKD_HARNESS_H
#define QFS_TESTS_CHUNKD_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/msg.h"
#include "proto/zmsg.h"

#define CHKH_ARGS_MAX 24
#define CHKH_TIMEOUT_MS 10000

struct chkh_daemon {
	pid_t pid;			/* 0 when not running */
	char name[PROTO_DAEMON_NAME_MAX + 1];
	char dir[4096];			/* --data */
	char ep[128];			/* tcp://127.0.0.1:PORT */
	char log[4096];			/* stdout and stderr of the daemon */
	const char *extra[CHKH_ARGS_MAX]; /* more options, NULL-terminated */
};

struct chkh_client {
	void *ctx;
	void *sock; /* DEALER */
	uint64_t next_reqid;
	uint32_t layout;      /* header layout of every request sent (0: none) */
	uint32_t last_layout; /* header layout of the last reply received */
};

/* A reply: decoded header and owned frames (release with chkh_reply_free). */
struct chkh_reply {
	struct proto_zmsg m;
	uint16_t status;
	const void *args;
	size_t alen;
	const void *data;
	size_t dlen;
};

/* The harness's private temporary directory (created on first use). */
const char *chkh_tmpdir(void);
/* A new empty directory under chkh_tmpdir(); returns a static-lifetime copy. */
const char *chkh_mkdir(const char *prefix);

/*
 * Start chunkd named @name on a fresh port with data in @d->dir (created) and
 * the options in @d->extra; waits until it answers HELLO. Returns 0 or -errno
 * (the log is printed on failure).
 */
int chkh_start(struct chkh_daemon *d, const char *name, const char *dir);
/* Start again on the same port and directory. */
int chkh_restart(struct chkh_daemon *d);
/* SIGTERM, wait up to 10 s, then SIGKILL. Returns the exit status (or -1). */
int chkh_stop(struct chkh_daemon *d);
/* SIGKILL and reap. */
void chkh_kill9(struct chkh_daemon *d);
/* True while the process is running. */
bool chkh_alive(struct chkh_daemon *d);

/*
 * Run chunkd with @argv (argv[0] is replaced by the binary), wait at most
 * @timeout_ms, capture stderr into @err. Returns the exit status, or -1 if it
 * had to be killed.
 */
int chkh_run(const char *const *argv, char *err, size_t errlen, int timeout_ms);

/* Remember a mount point so the exit handler unmounts it. */
void chkh_track_mount(const char *path);

/* ---- client ---- */

int chkh_connect(struct chkh_client *c, const char *ep);
void chkh_close(struct chkh_client *c);

/* Send one request; *reqid gets its id. Returns 0 or -errno. */
int chkh_send(struct chkh_client *c, uint8_t op, const void *args, size_t alen,
	      const void *data, size_t dlen, uint64_t *reqid);
/* Receive any reply within @timeout_ms; 0, -ETIMEDOUT or -errno. */
int chkh_recv(struct chkh_client *c, struct chkh_reply *r, int timeout_ms);
/* Send and wait for the reply with the same reqid (others dropped). */
int chkh_call(struct chkh_client *c, uint8_t op, const void *args, size_t alen,
	      const void *data, size_t dlen, struct chkh_reply *r);
void chkh_reply_free(struct chkh_reply *r);

/* ---- request helpers (return the wire status, or -errno on transport) ---- */

int chkh_hello(struct chkh_client *c, struct proto_hello_rep *rep);
int chkh_sync(struct chkh_client *c, uint64_t *boot);
/* Fill a PUT request for @val; flags PROTO_REC_*. */
void chkh_make_put(struct proto_put_req *q, const struct proto_key *k, uint64_t hlc,
		   uint64_t writer, uint32_t flags, uint64_t epoch, const void *val, uint32_t len);
int chkh_put(struct chkh_client *c, const struct proto_key *k, uint64_t hlc, uint64_t writer,
	     uint32_t flags, const void *val, uint32_t len, struct proto_write_rep *rep);
int chkh_patch(struct chkh_client *c, const struct proto_key *k,
	       const struct proto_version *base, const struct proto_version *ver,
	       uint32_t off, const void *data, uint32_t len, struct proto_write_rep *rep);
/* GET; *data malloc'ed (caller frees). */
int chkh_get(struct chkh_client *c, const struct proto_key *k, uint32_t off, uint32_t len,
	     struct proto_get_rep *rep, void **data, size_t *dlen);
int chkh_head(struct chkh_client *c, const struct proto_key *k, struct proto_meta *m);
int chkh_stat(struct chkh_client *c, struct proto_stat_rep *rep);

/* Deterministic pseudo-random bytes for @seed. */
void chkh_fill(void *buf, size_t len, uint64_t seed);
uint64_t chkh_rand(uint64_t *state);

/* Wall clock HLC for versions made by tests. */
uint64_t chkh_hlc_now(void);

#endif
