// SPDX-License-Identifier: MIT
/*
 * config.c - load and validate the cluster configuration file.
 *
 * The file is INI, parsed by libinih; this module owns the meaning of every
 * section and key and the checks between them. libinih gives its handler no
 * line number (Debian builds it with INI_HANDLER_LINENO=0) and truncates
 * section names to 49 bytes, so we feed it through ini_parse_stream() with
 * our own line reader (conf_read_line), which counts lines exactly as libinih
 * does, reads section headers itself, strips leading whitespace (so indented
 * keys are keys, never libinih "continuation" lines) and refuses lines longer
 * than libinih's buffer instead of letting them be split silently.
 *
 * Invariants of a loaded struct qfs_cluster: 1 <= w, r <= n <=
 * min(ndaemons, QFS_MAX_REPLICAS); 1 <= ndaemons <= QFS_MAX_DAEMONS; daemon
 * names and endpoints are unique; every daemon has an endpoint; either every
 * daemon has a public key or none has; the ring has at most
 * QFS_RING_MAX_POINTS points. Errors stop at the first problem and read
 * "FILE:LINE: message" ("FILE: message" when no single line is to blame).
 */
#include "fs/config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/ring.h"
#include "proto/layout.h"

#define QFS_CONF_TIMEOUT_MIN 10u
#define QFS_CONF_TIMEOUT_MAX 600000u
#define QFS_CONF_VNODES_MAX 4096u
#define QFS_CONF_WEIGHT_MAX 10000u
#define QFS_CONF_NAME_MAX 64

static const char qfs_z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

enum qfs_conf_sect { QFS_SECT_NONE, QFS_SECT_CLUSTER, QFS_SECT_CLIENT, QFS_SECT_DAEMON };

/* Keys that may appear once per section; the index of their line slot. */
enum qfs_conf_slot {
	QFS_K_REPLICAS,
	QFS_K_WRITE_QUORUM,
	QFS_K_READ_QUORUM,
	QFS_K_TIMEOUT_MS,
	QFS_K_VNODES,
	QFS_K_LAYOUT_VERSION,
	QFS_K_PUBLIC_KEY_FILE,
	QFS_K_SECRET_KEY_FILE,
	QFS_K_GLOBAL_MAX,
	/* per daemon, indexes into qfs_conf_ctx.dlines[i] */
	QFS_K_ENDPOINT = 0,
	QFS_K_PUBLIC_KEY,
	QFS_K_ZONE,
	QFS_K_WEIGHT,
	QFS_K_DAEMON_MAX
};

struct qfs_conf_ctx {
	const char *path;
	FILE *f;
	struct qfs_cluster *cl;
	int lineno;			/* lines handed to libinih so far */
	enum qfs_conf_sect sect;	/* section of the line being parsed */
	struct qfs_daemon_conf *d;	/* current [daemon NAME], or NULL */
	int cluster_line, client_line;	/* section header lines, 0 = absent */
	int lines[QFS_K_GLOBAL_MAX];	/* line of each key, 0 = not set */
	int dlines[QFS_MAX_DAEMONS][QFS_K_DAEMON_MAX];
	char *err;
	size_t errlen;
	int rc;				/* first error, 0 while all is well */
};

struct qfs_conf_key {
	const char *name;
	enum qfs_conf_sect sect;
	int slot;
	int (*set)(struct qfs_conf_ctx *ctx, const char *key, const char *val);
};

/* Format "PATH:LINE: msg" (or "PATH: msg" for @line 0) into @err, if any room. */
static void qfs_conf_vfmt(char *err, size_t errlen, const char *path, int line,
			  const char *fmt, va_list ap)
{
	int n;

	if (!err || !errlen)
		return;
	if (!path)
		n = 0;
	else if (line > 0)
		n = snprintf(err, errlen, "%s:%d: ", path, line);
	else
		n = snprintf(err, errlen, "%s: ", path);
	if (n < 0)
		n = 0;
	if ((size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

/* Record the first error of a load; later ones are consequences. Returns @rc. */
__attribute__((format(printf, 4, 5))) static int qfs_conf_err(struct qfs_conf_ctx *ctx, int rc,
							       int line, const char *fmt, ...)
{
	va_list ap;

	if (ctx->rc)
		return ctx->rc;
	ctx->rc = rc;
	va_start(ap, fmt);
	qfs_conf_vfmt(ctx->err, ctx->errlen, ctx->path, line, fmt, ap);
	va_end(ap);
	return rc;
}

__attribute__((format(printf, 3, 4))) static void qfs_conf_msg(char *err, size_t errlen,
							       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qfs_conf_vfmt(err, errlen, NULL, 0, fmt, ap);
	va_end(ap);
}

/*
 * Strict unsigned decimal: digits only (no sign, space, base prefix or
 * trailing junk), no overflow. Returns 0, -EINVAL (not a number) or -ERANGE
 * (overflow or outside [min, max]).
 */
static int qfs_conf_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned digit;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		digit = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		v = v * 10 + digit;
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Parse @val for @key into *out within [min, max], or record why not. */
static int qfs_conf_number(struct qfs_conf_ctx *ctx, const char *key, const char *val,
			   uint64_t min, uint64_t max, uint64_t *out)
{
	int rc = qfs_conf_parse_u64(val, min, max, out);

	if (rc == 0)
		return 0;
	if (rc == -ERANGE && strlen(val) <= 20)
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno, "%s = %s is out of range %llu..%llu",
				    key, val, (unsigned long long)min, (unsigned long long)max);
	return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
			    "%s = '%.64s': expected a decimal number in %llu..%llu%s", key, val,
			    (unsigned long long)min, (unsigned long long)max,
			    strchr(val, '#') ? " (inline comments start with ';', not '#')" : "");
}

/* Names and zones: 1..64 bytes of [A-Za-z0-9._-]. */
static bool qfs_conf_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > QFS_CONF_NAME_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	       len;
}

static int qfs_conf_set_u32(struct qfs_conf_ctx *ctx, const char *key, const char *val,
			    uint64_t min, uint64_t max, unsigned *out)
{
	uint64_t v;
	int rc = qfs_conf_number(ctx, key, val, min, max, &v);

	if (rc == 0)
		*out = (unsigned)v;
	return rc;
}

static int qfs_conf_replicas(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	return qfs_conf_set_u32(ctx, key, val, 1, QFS_MAX_REPLICAS, &ctx->cl->n);
}

static int qfs_conf_write_quorum(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	return qfs_conf_set_u32(ctx, key, val, 1, QFS_MAX_REPLICAS, &ctx->cl->w);
}

static int qfs_conf_read_quorum(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	return qfs_conf_set_u32(ctx, key, val, 1, QFS_MAX_REPLICAS, &ctx->cl->r);
}

static int qfs_conf_timeout(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	return qfs_conf_set_u32(ctx, key, val, QFS_CONF_TIMEOUT_MIN, QFS_CONF_TIMEOUT_MAX,
				&ctx->cl->timeout_ms);
}

static int qfs_conf_vnodes(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	return qfs_conf_set_u32(ctx, key, val, 1, QFS_CONF_VNODES_MAX, &ctx->cl->vnodes);
}

/* Layout versions travel in a u32 header field (proto/wire.h): 1..2^32-1. */
static int qfs_conf_layout(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	return qfs_conf_number(ctx, key, val, 1, PROTO_LAYOUT_VERSION_MAX,
			       &ctx->cl->layout_version);
}

/*
 * A key file path; a relative one is taken relative to the directory of the
 * config file, so a mount started from any working directory finds it.
 */
static int qfs_conf_key_file(struct qfs_conf_ctx *ctx, const char *key, const char *val,
			     char *dst, size_t size)
{
	const char *slash = strrchr(ctx->path, '/');
	int n;

	if (!*val)
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno, "%s is empty", key);
	if (val[0] == '/' || !slash)
		n = snprintf(dst, size, "%s", val);
	else
		n = snprintf(dst, size, "%.*s/%s", (int)(slash - ctx->path), ctx->path, val);
	if (n < 0 || (size_t)n >= size)
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno, "%s: path too long", key);
	return 0;
}

static int qfs_conf_pub_file(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	return qfs_conf_key_file(ctx, key, val, ctx->cl->client_public_key_file,
				 sizeof(ctx->cl->client_public_key_file));
}

static int qfs_conf_sec_file(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	return qfs_conf_key_file(ctx, key, val, ctx->cl->client_secret_key_file,
				 sizeof(ctx->cl->client_secret_key_file));
}

/*
 * tcp://HOST:PORT (PORT 1..65535; HOST may be a bracketed IPv6 address) or
 * ipc://PATH; no whitespace; at most QFS_ENDPOINT_MAX bytes.
 */
static int qfs_conf_endpoint(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	struct qfs_cluster *cl = ctx->cl;
	size_t len = strlen(val);
	int i;

	if (len > QFS_ENDPOINT_MAX)
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
				    "endpoint is %zu bytes long (max %d)", len, QFS_ENDPOINT_MAX);
	if (strpbrk(val, " \t\r\n\v\f"))
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
				    "endpoint '%s' contains whitespace", val);
	if (!strncmp(val, "tcp://", 6)) {
		const char *host = val + 6, *colon = strrchr(host, ':');
		uint64_t port;

		if (!colon || colon == host ||
		    qfs_conf_parse_u64(colon + 1, 1, 65535, &port) < 0)
			return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
					    "endpoint '%s': expected tcp://HOST:PORT with PORT in 1..65535",
					    val);
	} else if (!strncmp(val, "ipc://", 6)) {
		if (!val[6])
			return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
					    "endpoint '%s': expected ipc://PATH", val);
	} else {
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
				    "endpoint '%s' must start with tcp:// or ipc://", val);
	}
	for (i = 0; i < cl->ndaemons - 1; i++)
		if (!strcmp(cl->daemons[i].endpoint, val))
			return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
					    "endpoint %s is already used by [daemon %s] (line %d)",
					    val, cl->daemons[i].name, cl->daemons[i].line);
	memcpy(ctx->d->endpoint, val, len + 1);
	return 0;
}

static int qfs_conf_public_key(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	size_t len = strlen(val);

	if (len != QFS_KEY_Z85_LEN || strspn(val, qfs_z85_chars) != len)
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
				    "public_key must be %d Z85 characters (qfs keygen prints one)",
				    QFS_KEY_Z85_LEN);
	memcpy(ctx->d->public_key, val, len + 1);
	return 0;
}

static int qfs_conf_zone(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	if (!qfs_conf_name_ok(val))
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
				    "zone '%.64s' must be 1..64 characters of [A-Za-z0-9._-]", val);
	strcpy(ctx->d->zone, val);
	return 0;
}

static int qfs_conf_weight(struct qfs_conf_ctx *ctx, const char *key, const char *val)
{
	return qfs_conf_set_u32(ctx, key, val, 1, QFS_CONF_WEIGHT_MAX, &ctx->d->weight);
}

static const struct qfs_conf_key qfs_conf_keys[] = {
	{ "replicas", QFS_SECT_CLUSTER, QFS_K_REPLICAS, qfs_conf_replicas },
	{ "write_quorum", QFS_SECT_CLUSTER, QFS_K_WRITE_QUORUM, qfs_conf_write_quorum },
	{ "read_quorum", QFS_SECT_CLUSTER, QFS_K_READ_QUORUM, qfs_conf_read_quorum },
	{ "timeout_ms", QFS_SECT_CLUSTER, QFS_K_TIMEOUT_MS, qfs_conf_timeout },
	{ "vnodes", QFS_SECT_CLUSTER, QFS_K_VNODES, qfs_conf_vnodes },
	{ "layout_version", QFS_SECT_CLUSTER, QFS_K_LAYOUT_VERSION, qfs_conf_layout },
	{ "public_key_file", QFS_SECT_CLIENT, QFS_K_PUBLIC_KEY_FILE, qfs_conf_pub_file },
	{ "secret_key_file", QFS_SECT_CLIENT, QFS_K_SECRET_KEY_FILE, qfs_conf_sec_file },
	{ "endpoint", QFS_SECT_DAEMON, QFS_K_ENDPOINT, qfs_conf_endpoint },
	{ "public_key", QFS_SECT_DAEMON, QFS_K_PUBLIC_KEY, qfs_conf_public_key },
	{ "zone", QFS_SECT_DAEMON, QFS_K_ZONE, qfs_conf_zone },
	{ "weight", QFS_SECT_DAEMON, QFS_K_WEIGHT, qfs_conf_weight },
};

static const char *qfs_conf_sect_name(enum qfs_conf_sect s)
{
	switch (s) {
	case QFS_SECT_CLUSTER:
		return "[cluster]";
	case QFS_SECT_CLIENT:
		return "[client]";
	case QFS_SECT_DAEMON:
		return "[daemon NAME]";
	default:
		return "no section";
	}
}

/* libinih handler: one "key = value" of the current section. 1 = go on. */
static int qfs_conf_handler(void *user, const char *section, const char *key, const char *val)
{
	struct qfs_conf_ctx *ctx = user;
	const struct qfs_conf_key *k = NULL;
	size_t i;
	int *line;

	(void)section; /* truncated by libinih; ctx->sect is exact */
	if (ctx->rc)
		return 0;
	if (ctx->sect == QFS_SECT_NONE) {
		qfs_conf_err(ctx, -EINVAL, ctx->lineno,
			     "key '%s' before any section ([cluster], [client], [daemon NAME])",
			     key);
		return 0;
	}
	for (i = 0; i < sizeof(qfs_conf_keys) / sizeof(qfs_conf_keys[0]); i++) {
		if (qfs_conf_keys[i].sect == ctx->sect && !strcmp(qfs_conf_keys[i].name, key)) {
			k = &qfs_conf_keys[i];
			break;
		}
	}
	if (!k) {
		qfs_conf_err(ctx, -EINVAL, ctx->lineno, "unknown key '%s' in %s", key,
			     qfs_conf_sect_name(ctx->sect));
		return 0;
	}
	if (k->sect == QFS_SECT_DAEMON)
		line = &ctx->dlines[ctx->d - ctx->cl->daemons][k->slot];
	else
		line = &ctx->lines[k->slot];
	if (*line) {
		qfs_conf_err(ctx, -EINVAL, ctx->lineno, "duplicate key '%s' (first at line %d)",
			     key, *line);
		return 0;
	}
	*line = ctx->lineno;
	return k->set(ctx, key, val) == 0;
}

/* Start section @name (brackets and blanks removed) at the current line. */
static int qfs_conf_section(struct qfs_conf_ctx *ctx, const char *name)
{
	struct qfs_cluster *cl = ctx->cl;
	struct qfs_daemon_conf *d;
	const char *dname;
	int i;

	ctx->d = NULL;
	if (!strcmp(name, "cluster") || !strcmp(name, "client")) {
		bool cluster = !strcmp(name, "cluster");
		int *first = cluster ? &ctx->cluster_line : &ctx->client_line;

		if (*first)
			return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
					    "duplicate section [%s] (first at line %d)", name,
					    *first);
		*first = ctx->lineno;
		ctx->sect = cluster ? QFS_SECT_CLUSTER : QFS_SECT_CLIENT;
		return 0;
	}
	if (strncmp(name, "daemon", 6) || (name[6] != ' ' && name[6] != '\t'))
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
				    "unknown section [%.80s] (expected [cluster], [client] or "
				    "[daemon NAME])",
				    name);
	dname = name + 6 + strspn(name + 6, " \t");
	if (!qfs_conf_name_ok(dname))
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
				    "daemon name '%.80s' must be 1..64 characters of [A-Za-z0-9._-]",
				    dname);
	for (i = 0; i < cl->ndaemons; i++)
		if (!strcmp(cl->daemons[i].name, dname))
			return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
					    "duplicate daemon name '%s' (first at line %d)", dname,
					    cl->daemons[i].line);
	if (cl->ndaemons == QFS_MAX_DAEMONS)
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno, "too many daemons (max %d)",
				    QFS_MAX_DAEMONS);
	d = &cl->daemons[cl->ndaemons++];
	strcpy(d->name, dname);
	d->weight = 100;
	d->line = ctx->lineno;
	ctx->sect = QFS_SECT_DAEMON;
	ctx->d = d;
	return 0;
}

/* Start of libinih's inline comment in @s (a ';' after a blank), or the end of @s. */
static char *qfs_conf_comment(char *s)
{
	char *p;

	for (p = s; *p; p++)
		if (*p == ';' && (p == s || p[-1] == ' ' || p[-1] == '\t'))
			break;
	return p;
}

/*
 * A section header line: "[name]" with optional blanks and ';'/'#'
 * comment after it. Returns 0 or -EINVAL (error recorded).
 */
static int qfs_conf_header(struct qfs_conf_ctx *ctx, char *line)
{
	char *end = strchr(line, ']'), *name, *tail;
	size_t len;

	if (!end)
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno, "section header without ']'");
	tail = end + 1 + strspn(end + 1, " \t\r\n");
	if (*tail && *tail != ';' && *tail != '#')
		return qfs_conf_err(ctx, -EINVAL, ctx->lineno,
				    "unexpected text after section header");
	name = line + 1 + strspn(line + 1, " \t");
	len = (size_t)(end - name);
	while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	name[len] = '\0';
	return qfs_conf_section(ctx, name);
}

/*
 * libinih reader: like fgets(), one line per call, so ctx->lineno matches
 * libinih's count. Handles section headers itself (libinih then sees a
 * comment line), drops leading blanks and a UTF-8 BOM, refuses NUL bytes
 * and lines that do not fit libinih's @num-byte buffer. Returns NULL at EOF
 * or after the first error, which stops libinih.
 */
static char *qfs_conf_read_line(char *str, int num, void *stream)
{
	struct qfs_conf_ctx *ctx = stream;
	size_t len = 0, skip;
	int c = 0;

	if (ctx->rc || num < 3)
		return NULL;
	while (len < (size_t)num - 1 && (c = getc(ctx->f)) != EOF) {
		if (c == '\0') {
			qfs_conf_err(ctx, -EINVAL, ctx->lineno + 1, "NUL byte in line");
			return NULL;
		}
		str[len++] = (char)c;
		if (c == '\n')
			break;
	}
	if (len == 0)
		return NULL;
	str[len] = '\0';
	ctx->lineno++;
	if (c != '\n' && c != EOF) {
		c = getc(ctx->f);
		if (c != EOF && c != '\n') {
			qfs_conf_err(ctx, -EINVAL, ctx->lineno, "line longer than %d bytes",
				     num - 1);
			return NULL;
		}
	}
	if (ctx->lineno == 1 && !strncmp(str, "\xEF\xBB\xBF", 3))
		memmove(str, str + 3, (len -= 3) + 1);
	skip = strspn(str, " \t\r\v\f");
	memmove(str, str + skip, len - skip + 1);
	if (str[0] == '[') {
		if (qfs_conf_header(ctx, str) < 0)
			return NULL;
		strcpy(str, ";\n"); /* libinih sees a comment: no section of its own */
	} else if (str[0] && str[0] != '\n' && str[0] != ';' && str[0] != '#') {
		char *cmt = qfs_conf_comment(str);
		char *eq = strpbrk(str, "=:");

		if (!eq || eq > cmt) {
			qfs_conf_err(ctx, -EINVAL, ctx->lineno, "expected 'key = value'");
			return NULL;
		}
	}
	return str;
}

/* Checks between keys and sections, once the whole file has been read. */
static int qfs_conf_validate(struct qfs_conf_ctx *ctx)
{
	struct qfs_cluster *cl = ctx->cl;
	const struct qfs_daemon_conf *keyed = NULL;
	uint64_t points = 0;
	int i, line;

	if (cl->ndaemons == 0)
		return qfs_conf_err(ctx, -EINVAL, 0,
				    "no [daemon NAME] section: at least one daemon is required");
	for (i = 0; i < cl->ndaemons; i++) {
		const struct qfs_daemon_conf *d = &cl->daemons[i];
		uint64_t p = (uint64_t)cl->vnodes * d->weight / 100;

		if (!d->endpoint[0])
			return qfs_conf_err(ctx, -EINVAL, d->line, "[daemon %s] has no endpoint",
					    d->name);
		if (d->public_key[0] && !keyed)
			keyed = d;
		points += p ? p : 1;
	}
	for (i = 0; keyed && i < cl->ndaemons; i++) {
		const struct qfs_daemon_conf *d = &cl->daemons[i];

		if (!d->public_key[0])
			return qfs_conf_err(ctx, -EINVAL, d->line,
					    "[daemon %s] has no public_key but [daemon %s] has one "
					    "(use CURVE on every daemon or on none)",
					    d->name, keyed->name);
	}
	if (!cl->client_public_key_file[0] != !cl->client_secret_key_file[0]) {
		bool pub = cl->client_public_key_file[0];

		return qfs_conf_err(ctx, -EINVAL,
				    ctx->lines[pub ? QFS_K_PUBLIC_KEY_FILE : QFS_K_SECRET_KEY_FILE],
				    "%s without %s", pub ? "public_key_file" : "secret_key_file",
				    pub ? "secret_key_file" : "public_key_file");
	}
	if (!ctx->lines[QFS_K_WRITE_QUORUM])
		cl->w = cl->n / 2 + 1;
	if (!ctx->lines[QFS_K_READ_QUORUM])
		cl->r = cl->n / 2 + 1;
	if (cl->w > cl->n)
		return qfs_conf_err(ctx, -EINVAL, ctx->lines[QFS_K_WRITE_QUORUM],
				    "write_quorum = %u exceeds replicas = %u", cl->w, cl->n);
	if (cl->r > cl->n)
		return qfs_conf_err(ctx, -EINVAL, ctx->lines[QFS_K_READ_QUORUM],
				    "read_quorum = %u exceeds replicas = %u", cl->r, cl->n);
	if (cl->n > (unsigned)cl->ndaemons) {
		line = ctx->lines[QFS_K_REPLICAS];
		return qfs_conf_err(ctx, -EINVAL, line ? line : ctx->cluster_line,
				    "replicas = %u%s exceeds the number of daemons (%d)", cl->n,
				    line ? "" : " (the default)", cl->ndaemons);
	}
	if (points > QFS_RING_MAX_POINTS) {
		line = ctx->lines[QFS_K_VNODES];
		return qfs_conf_err(ctx, -EINVAL, line ? line : ctx->cluster_line,
				    "the ring would have %llu points (max %u): lower vnodes or the "
				    "daemon weights",
				    (unsigned long long)points, QFS_RING_MAX_POINTS);
	}
	return 0;
}

int qfs_config_load(const char *path, struct qfs_cluster **out, char *err, size_t errlen)
{
	struct qfs_conf_ctx *ctx;
	struct qfs_cluster *cl;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (strlen(path) >= sizeof(cl->path)) {
		qfs_conf_msg(err, errlen, "%.64s...: path too long", path);
		return -ENAMETOOLONG;
	}
	cl = calloc(1, sizeof(*cl));
	ctx = calloc(1, sizeof(*ctx));
	if (!cl || !ctx) {
		qfs_conf_msg(err, errlen, "%s: out of memory", path);
		rc = -ENOMEM;
		goto out_free;
	}
	strcpy(cl->path, path);
	cl->n = 3;
	cl->timeout_ms = 1000;
	cl->vnodes = 256;
	cl->layout_version = 1;

	ctx->path = cl->path;
	ctx->cl = cl;
	ctx->err = err;
	ctx->errlen = errlen;
	ctx->f = fopen(path, "re");
	if (!ctx->f) {
		rc = -errno;
		qfs_conf_msg(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
		goto out_free;
	}
	rc = ini_parse_stream(qfs_conf_read_line, ctx, qfs_conf_handler, ctx);
	if (ctx->rc) {
		rc = ctx->rc;
	} else if (rc > 0) {
		rc = qfs_conf_err(ctx, -EINVAL, rc, "syntax error");
	} else if (rc < 0) {
		rc = qfs_conf_err(ctx, -ENOMEM, 0, "out of memory");
	} else if (ferror(ctx->f)) {
		rc = qfs_conf_err(ctx, -EIO, 0, "read error");
	} else {
		rc = qfs_conf_validate(ctx);
	}
	fclose(ctx->f);
	if (rc == 0) {
		*out = cl;
		cl = NULL;
	}
out_free:
	free(ctx);
	free(cl);
	return rc;
}

void qfs_config_free(struct qfs_cluster *cl)
{
	free(cl);
}

int qfs_config_set_quorums(struct qfs_cluster *cl, unsigned w, unsigned r, char *err,
			   size_t errlen)
{
	unsigned nw = w ? w : cl->w, nr = r ? r : cl->r;

	if (err && errlen)
		err[0] = '\0';
	if (nw > cl->n) {
		qfs_conf_msg(err, errlen, "write_quorum = %u exceeds replicas = %u", nw, cl->n);
		return -EINVAL;
	}
	if (nr > cl->n) {
		qfs_conf_msg(err, errlen, "read_quorum = %u exceeds replicas = %u", nr, cl->n);
		return -EINVAL;
	}
	cl->w = nw;
	cl->r = nr;
	return 0;
}

bool qfs_config_weak_quorum(const struct qfs_cluster *cl)
{
	return cl->r + cl->w <= cl->n;
}

int qfs_config_find(const struct qfs_cluster *cl, const char *name)
{
	int i;

	for (i = 0; i < cl->ndaemons; i++)
		if (!strcmp(cl->daemons[i].name, name))
			return i;
	return -1;
}
