// SPDX-License-Identifier: MIT
/*
 * chunkd_harness.c - real chunkd processes for integration tests, and a
 * blocking test client. See chunkd_harness.h.
 *
 * Cleanup is the invariant: every child pid and mount point goes into a
 * small table before anything can fail, and the atexit handler and the
 * fatal-signal handlers walk that table (kill by pid, umount, rm -r). The
 * signal path only uses async-signal-safe calls (kill, umount2, _exit after
 * re-raising); the directory is removed by the normal exit path.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "proto/status.h"
#include "proto/version.h"
#include "tests/integration/chunkd_harness.h"

#define CHKH_PIDS_MAX 64
#define CHKH_MOUNTS_MAX 8

static char chkh_root[PATH_MAX];
static volatile pid_t chkh_pids[CHKH_PIDS_MAX];
static char chkh_mounts[CHKH_MOUNTS_MAX][PATH_MAX];
static volatile int chkh_nmounts;
static bool chkh_inited;

static void chkh_pid_add(pid_t pid)
{
	for (int i = 0; i < CHKH_PIDS_MAX; i++) {
		if (!chkh_pids[i]) {
			chkh_pids[i] = pid;
			return;
		}
	}
}

static void chkh_pid_del(pid_t pid)
{
	for (int i = 0; i < CHKH_PIDS_MAX; i++)
		if (chkh_pids[i] == pid)
			chkh_pids[i] = 0;
}

static void chkh_kill_all(void)
{
	for (int i = 0; i < CHKH_PIDS_MAX; i++) {
		pid_t p = chkh_pids[i];

		if (p > 0) {
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
			chkh_pids[i] = 0;
		}
	}
	for (int i = chkh_nmounts - 1; i >= 0; i--)
		umount2(chkh_mounts[i], MNT_DETACH);
	chkh_nmounts = 0;
}

static int chkh_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void chkh_atexit(void)
{
	chkh_kill_all();
	if (chkh_root[0] && !getenv("CHKH_KEEP"))
		nftw(chkh_root, chkh_rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void chkh_on_signal(int sig)
{
	/* async-signal-safe: kill by pid, detach mounts, then die of @sig */
	for (int i = 0; i < CHKH_PIDS_MAX; i++)
		if (chkh_pids[i] > 0)
			kill(chkh_pids[i], SIGKILL);
	for (int i = chkh_nmounts - 1; i >= 0; i--)
		umount2(chkh_mounts[i], MNT_DETACH);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void chkh_init(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	const char *base = getenv("TMPDIR");

	if (chkh_inited)
		return;
	chkh_inited = true;
	snprintf(chkh_root, sizeof(chkh_root), "%s/chkh.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(chkh_root)) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(chkh_atexit);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], chkh_on_signal);
	signal(SIGPIPE, SIG_IGN);
}

const char *chkh_tmpdir(void)
{
	chkh_init();
	return chkh_root;
}

const char *chkh_mkdir(const char *prefix)
{
	static char bufs[64][PATH_MAX];
	static int next;
	char *p = bufs[next++ % 64];

	snprintf(p, PATH_MAX, "%s/%s.XXXXXX", chkh_tmpdir(), prefix);
	if (!mkdtemp(p))
		return NULL;
	return p;
}

void chkh_track_mount(const char *path)
{
	if (chkh_nmounts < CHKH_MOUNTS_MAX) {
		snprintf(chkh_mounts[chkh_nmounts], PATH_MAX, "%s", path);
		chkh_nmounts++;
	}
}

static const char *chkh_bin(void)
{
	static char path[PATH_MAX];
	const char *dir = getenv("QFS_BIN");

	snprintf(path, sizeof(path), "%s/chunkd", dir && *dir ? dir : "./bin");
	return path;
}

/* A TCP port that was free a moment ago (bind to 0, read it back, close). */
static int chkh_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd, port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static uint64_t chkh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void chkh_print_log(const struct chkh_daemon *d)
{
	char line[512];
	FILE *f = fopen(d->log, "r");

	if (!f)
		return;
	fprintf(stderr, "---- %s ----\n", d->log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static pid_t chkh_spawn(const char *const *argv, const char *out_path, int err_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = out_path ? open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (err_fd >= 0)
			dup2(err_fd, 2);
		execv(chkh_bin(), (char *const *)argv);
		_exit(127);
	}
	if (pid > 0)
		chkh_pid_add(pid);
	return pid;
}

/* Wait for HELLO on @d->ep for up to CHKH_TIMEOUT_MS; 0, or -errno. */
static int chkh_wait_ready(struct chkh_daemon *d)
{
	uint64_t end = chkh_now_ms() + CHKH_TIMEOUT_MS;
	struct proto_hello_rep rep;
	struct chkh_client c;

	while (chkh_now_ms() < end) {
		int st;

		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			chkh_pid_del(d->pid);
			d->pid = 0;
			return -ECHILD;
		}
		if (chkh_connect(&c, d->ep) == 0) {
			int rc = chkh_hello(&c, &rep);

			chkh_close(&c);
			if (rc == PROTO_ST_OK)
				return 0;
		}
		usleep(20000);
	}
	return -ETIMEDOUT;
}

static int chkh_exec(struct chkh_daemon *d)
{
	const char *argv[CHKH_ARGS_MAX + 16];
	int n = 0;

	argv[n++] = "chunkd";
	argv[n++] = "--name";
	argv[n++] = d->name;
	argv[n++] = "--listen";
	argv[n++] = d->ep;
	argv[n++] = "--data";
	argv[n++] = d->dir;
	for (int i = 0; i < CHKH_ARGS_MAX && d->extra[i]; i++)
		argv[n++] = d->extra[i];
	argv[n] = NULL;
	d->pid = chkh_spawn(argv, d->log, -1);
	if (d->pid < 0) {
		d->pid = 0;
		return -errno;
	}
	return chkh_wait_ready(d);
}

int chkh_start(struct chkh_daemon *d, const char *name, const char *dir)
{
	int rc = -EADDRINUSE;

	chkh_init();
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	if (snprintf(d->log, sizeof(d->log), "%s/%s.log", chkh_root, name) >= (int)sizeof(d->log))
		return -ENAMETOOLONG;
	for (int tries = 0; tries < 5; tries++) {
		int port = chkh_free_port();

		if (port < 0)
			return -EADDRNOTAVAIL;
		snprintf(d->ep, sizeof(d->ep), "tcp://127.0.0.1:%d", port);
		rc = chkh_exec(d);
		if (rc != -ECHILD)
			break; /* ECHILD: it exited, maybe the port was taken */
	}
	if (rc < 0) {
		fprintf(stderr, "chunkd %s did not start: %s\n", name, strerror(-rc));
		chkh_print_log(d);
		if (d->pid)
			chkh_kill9(d);
	}
	return rc;
}

int chkh_restart(struct chkh_daemon *d)
{
	int rc = -ECHILD;

	/* the old process's port may linger a moment: retry on early exit */
	for (int tries = 0; tries < 20 && rc == -ECHILD; tries++) {
		rc = chkh_exec(d);
		if (rc == -ECHILD)
			usleep(100000);
	}
	if (rc < 0) {
		fprintf(stderr, "chunkd %s did not restart: %s\n", d->name, strerror(-rc));
		chkh_print_log(d);
		if (d->pid)
			chkh_kill9(d);
	}
	return rc;
}

bool chkh_alive(struct chkh_daemon *d)
{
	int st;

	if (!d->pid)
		return false;
	if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
		chkh_pid_del(d->pid);
		d->pid = 0;
		return false;
	}
	return true;
}

int chkh_stop(struct chkh_daemon *d)
{
	uint64_t end;
	int st = 0;

	if (!d->pid)
		return -1;
	kill(d->pid, SIGTERM);
	end = chkh_now_ms() + CHKH_TIMEOUT_MS;
	while (chkh_now_ms() < end) {
		pid_t r = waitpid(d->pid, &st, WNOHANG);

		if (r == d->pid) {
			chkh_pid_del(d->pid);
			d->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(10000);
	}
	fprintf(stderr, "chunkd %s ignored SIGTERM: killing\n", d->name);
	chkh_kill9(d);
	return -1;
}

void chkh_kill9(struct chkh_daemon *d)
{
	if (!d->pid)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	chkh_pid_del(d->pid);
	d->pid = 0;
}

int chkh_run(const char *const *argv, char *err, size_t errlen, int timeout_ms)
{
	uint64_t end = chkh_now_ms() + (uint64_t)timeout_ms;
	int pfd[2], st = 0, status = -1;
	size_t got = 0;
	pid_t pid;

	chkh_init();
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = chkh_spawn(argv, NULL, pfd[1]);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -1;
	}
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int left = (int)(end > chkh_now_ms() ? end - chkh_now_ms() : 0);
		ssize_t n;

		if (left == 0 || poll(&p, 1, left) <= 0)
			break;
		n = read(pfd[0], err + got, errlen - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got >= errlen - 1)
			break;
	}
	err[got] = 0;
	close(pfd[0]);
	while (chkh_now_ms() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			chkh_pid_del(pid);
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	chkh_pid_del(pid);
	return status;
}

/* ---- client ---- */

int chkh_connect(struct chkh_client *c, const char *ep)
{
	int zero = 0, tmo = 2000;

	memset(c, 0, sizeof(*c));
	c->next_reqid = 1;
	c->ctx = zmq_ctx_new();
	if (!c->ctx)
		return -errno;
	c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
	if (!c->sock)
		goto fail;
	zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(c->sock, ZMQ_SNDTIMEO, &tmo, sizeof(tmo));
	if (zmq_connect(c->sock, ep) < 0)
		goto fail;
	return 0;
fail:
	chkh_close(c);
	return -EIO;
}

void chkh_close(struct chkh_client *c)
{
	if (c->sock)
		zmq_close(c->sock);
	if (c->ctx)
		zmq_ctx_term(c->ctx);
	c->sock = c->ctx = NULL;
}

int chkh_send(struct chkh_client *c, uint8_t op, const void *args, size_t alen,
	      const void *data, size_t dlen, uint64_t *reqid)
{
	struct proto_hdr h = { .version = PROTO_VERSION, .opcode = op };

	h.reqid = c->next_reqid++;
	h.layout = c->layout;
	if (reqid)
		*reqid = h.reqid;
	return proto_zsend(c->sock, NULL, &h, args, alen, data, dlen, NULL, 0);
}

int chkh_recv(struct chkh_client *c, struct chkh_reply *r, int timeout_ms)
{
	zmq_pollitem_t it = { c->sock, 0, ZMQ_POLLIN, 0 };
	int rc;

	memset(r, 0, sizeof(*r));
	zmq_msg_init(&r->m.args);
	zmq_msg_init(&r->m.data);
	rc = zmq_poll(&it, 1, timeout_ms);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	rc = proto_zrecv(c->sock, &r->m, ZMQ_DONTWAIT, 0);
	if (rc < 0)
		return rc;
	r->status = r->m.hdr.status;
	c->last_layout = r->m.hdr.layout;
	r->args = zmq_msg_data(&r->m.args);
	r->alen = zmq_msg_size(&r->m.args);
	r->data = zmq_msg_data(&r->m.data);
	r->dlen = zmq_msg_size(&r->m.data);
	return 0;
}

void chkh_reply_free(struct chkh_reply *r)
{
	proto_zmsg_close(&r->m);
}

int chkh_call(struct chkh_client *c, uint8_t op, const void *args, size_t alen,
	      const void *data, size_t dlen, struct chkh_reply *r)
{
	uint64_t id, end;
	int rc;

	rc = chkh_send(c, op, args, alen, data, dlen, &id);
	if (rc < 0)
		return rc;
	end = chkh_now_ms() + CHKH_TIMEOUT_MS;
	for (;;) {
		uint64_t now = chkh_now_ms();

		if (now >= end)
			return -ETIMEDOUT;
		rc = chkh_recv(c, r, (int)(end - now));
		if (rc < 0)
			return rc;
		if (r->m.hdr.reqid == id)
			return 0;
		chkh_reply_free(r); /* a late reply to an earlier request */
	}
}

/* ---- request helpers ---- */

int chkh_hello(struct chkh_client *c, struct proto_hello_rep *rep)
{
	struct proto_hello_req q = { .min_version = 1, .max_version = PROTO_VERSION };
	struct chkh_reply r;
	struct proto_wr w;
	int rc;

	q.clock = PROTO_HLC_MAKE(proto_wall_ms(), 0);
	proto_wr_init(&w);
	proto_encode_hello_req(&w, &q);
	rc = chkh_call(c, PROTO_OP_HELLO, w.buf, w.len, NULL, 0, &r);
	proto_wr_free(&w);
	if (rc < 0)
		return rc;
	rc = r.status;
	if (rc == PROTO_ST_OK && proto_decode_hello_rep(r.args, r.alen, r.dlen, rep) < 0)
		rc = -EBADMSG;
	chkh_reply_free(&r);
	return rc;
}

int chkh_sync(struct chkh_client *c, uint64_t *boot)
{
	struct proto_sync_rep p;
	struct chkh_reply r;
	int rc;

	rc = chkh_call(c, PROTO_OP_SYNC, NULL, 0, NULL, 0, &r);
	if (rc < 0)
		return rc;
	rc = r.status;
	if (proto_decode_sync_rep(r.args, r.alen, r.dlen, &p) == 0 && boot)
		*boot = p.boot;
	chkh_reply_free(&r);
	return rc;
}

void chkh_make_put(struct proto_put_req *q, const struct proto_key *k, uint64_t hlc,
		   uint64_t writer, uint32_t flags, uint64_t epoch, const void *val, uint32_t len)
{
	memset(q, 0, sizeof(*q));
	q->key = *k;
	q->meta.ver.hlc = hlc;
	q->meta.ver.writer = writer;
	q->meta.flags = flags;
	q->meta.epoch = epoch;
	q->meta.len = len;
	q->nsums = (uint16_t)proto_nblocks(len);
	q->meta.sum = proto_value_sums(val, len, q->sums);
}

static int chkh_write_reply(struct chkh_client *c, uint8_t op, struct proto_wr *w,
			    const void *data, size_t dlen, struct proto_write_rep *rep)
{
	struct chkh_reply r;
	int rc;

	if (w->bad)
		return -ENOMEM;
	rc = chkh_call(c, op, w->buf, w->len, data, dlen, &r);
	if (rc < 0)
		return rc;
	rc = r.status;
	if (rep) {
		memset(rep, 0, sizeof(*rep));
		if (r.alen && proto_decode_write_rep(r.args, r.alen, r.dlen, rep) < 0)
			rc = -EBADMSG;
	}
	chkh_reply_free(&r);
	return rc;
}

int chkh_put(struct chkh_client *c, const struct proto_key *k, uint64_t hlc, uint64_t writer,
	     uint32_t flags, const void *val, uint32_t len, struct proto_write_rep *rep)
{
	struct proto_put_req *q = malloc(sizeof(*q));
	struct proto_wr w;
	int rc;

	if (!q)
		return -ENOMEM;
	chkh_make_put(q, k, hlc, writer, flags, 0, val, len);
	proto_wr_init(&w);
	proto_encode_put_req(&w, q);
	rc = chkh_write_reply(c, PROTO_OP_PUT, &w, val, len, rep);
	proto_wr_free(&w);
	free(q);
	return rc;
}

int chkh_patch(struct chkh_client *c, const struct proto_key *k,
	       const struct proto_version *base, const struct proto_version *ver,
	       uint32_t off, const void *data, uint32_t len, struct proto_write_rep *rep)
{
	struct proto_patch_req q;
	struct proto_wr w;
	int rc;

	memset(&q, 0, sizeof(q));
	q.key = *k;
	if (base)
		q.base = *base;
	q.ver = *ver;
	q.offset = off;
	q.sum = proto_block_sum(data, len);
	proto_wr_init(&w);
	proto_encode_patch_req(&w, &q);
	rc = chkh_write_reply(c, PROTO_OP_PATCH, &w, data, len, rep);
	proto_wr_free(&w);
	return rc;
}

int chkh_get(struct chkh_client *c, const struct proto_key *k, uint32_t off, uint32_t len,
	     struct proto_get_rep *rep, void **data, size_t *dlen)
{
	struct proto_get_req q = { .key = *k, .offset = off, .length = len };
	struct chkh_reply r;
	struct proto_wr w;
	int rc;

	*data = NULL;
	*dlen = 0;
	proto_wr_init(&w);
	proto_encode_get_req(&w, &q);
	rc = chkh_call(c, PROTO_OP_GET, w.buf, w.len, NULL, 0, &r);
	proto_wr_free(&w);
	if (rc < 0)
		return rc;
	rc = r.status;
	if (rc == PROTO_ST_OK) {
		if (proto_decode_get_rep(r.args, r.alen, r.dlen, rep) < 0) {
			rc = -EBADMSG;
		} else if (r.dlen) {
			*data = malloc(r.dlen);
			if (*data) {
				memcpy(*data, r.data, r.dlen);
				*dlen = r.dlen;
			} else {
				rc = -ENOMEM;
			}
		}
	}
	chkh_reply_free(&r);
	return rc;
}

int chkh_head(struct chkh_client *c, const struct proto_key *k, struct proto_meta *m)
{
	struct proto_head_req q = { .key = *k };
	struct chkh_reply r;
	struct proto_wr w;
	int rc;

	proto_wr_init(&w);
	proto_encode_head_req(&w, &q);
	rc = chkh_call(c, PROTO_OP_HEAD, w.buf, w.len, NULL, 0, &r);
	proto_wr_free(&w);
	if (rc < 0)
		return rc;
	rc = r.status;
	if (rc == PROTO_ST_OK && proto_decode_head_rep(r.args, r.alen, r.dlen, m) < 0)
		rc = -EBADMSG;
	chkh_reply_free(&r);
	return rc;
}

int chkh_stat(struct chkh_client *c, struct proto_stat_rep *rep)
{
	struct chkh_reply r;
	int rc;

	rc = chkh_call(c, PROTO_OP_STAT, NULL, 0, NULL, 0, &r);
	if (rc < 0)
		return rc;
	rc = r.status;
	if (rc == PROTO_ST_OK && proto_decode_stat_rep(r.args, r.alen, r.dlen, rep) < 0)
		rc = -EBADMSG;
	chkh_reply_free(&r);
	return rc;
}

uint64_t chkh_rand(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void chkh_fill(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t s = seed, v = 0;

	for (size_t i = 0; i < len; i++) {
		if ((i & 7) == 0)
			v = chkh_rand(&s);
		p[i] = (uint8_t)(v >> ((i & 7) * 8));
	}
}

uint64_t chkh_hlc_now(void)
{
	static uint64_t last;
	uint64_t h = PROTO_HLC_MAKE(proto_wall_ms(), 0);

	if (h <= last)
		h = last + 1;
	last = h;
	return h;
}
