// SPDX-License-Identifier: MIT
/*
 * layout.c - encode and strictly decode the cluster layout record
 * (proto/layout.h). Every byte comes from a daemon's disk or the network:
 * lengths are bounded before they are used, every field is range checked,
 * and a layout that would not load from a config file is refused too.
 */
#include <errno.h>
#include <string.h>

#include "proto/layout.h"

static bool proto_lay_name_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Printable ASCII without blanks, starting with tcp:// or ipc:// and more. */
static bool proto_lay_endpoint_ok(const char *s, size_t n)
{
	if (n <= 6 || (strncmp(s, "tcp://", 6) && strncmp(s, "ipc://", 6)))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

/* Z85 alphabet (ZeroMQ RFC 32). */
static bool proto_lay_z85_ok(const char *s, size_t n)
{
	static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(z85, s[i]))
			return false;
	return true;
}

static int proto_lay_ring_check(const struct proto_layout_ring *r)
{
	uint64_t points = 0;
	int keys = 0;

	/* a version must fit the header's u32 layout field (wire.h) */
	if (r->version == 0 || r->version > PROTO_LAYOUT_VERSION_MAX || r->vnodes < 1 ||
	    r->vnodes > PROTO_LAYOUT_VNODES_MAX)
		return -ERANGE;
	if (r->ndaemons < 1 || r->ndaemons > PROTO_LAYOUT_DAEMONS_MAX)
		return -EMSGSIZE;
	if (r->n < 1 || r->n > PROTO_LAYOUT_REPLICAS_MAX || r->n > r->ndaemons || r->w < 1 ||
	    r->w > r->n || r->r < 1 || r->r > r->n)
		return -ERANGE;
	for (int i = 0; i < r->ndaemons; i++) {
		const struct proto_layout_daemon *d = &r->d[i];
		size_t nl = strnlen(d->name, sizeof(d->name)), el;
		size_t kl = strnlen(d->public_key, sizeof(d->public_key));
		size_t zl = strnlen(d->zone, sizeof(d->zone));
		uint64_t p;

		el = strnlen(d->endpoint, sizeof(d->endpoint));
		if (nl < 1 || nl > PROTO_LAYOUT_NAME_MAX || !proto_lay_name_ok(d->name, nl) ||
		    el > PROTO_LAYOUT_ENDPOINT_MAX || !proto_lay_endpoint_ok(d->endpoint, el) ||
		    zl > PROTO_LAYOUT_NAME_MAX || !proto_lay_name_ok(d->zone, zl) ||
		    (kl != 0 && kl != PROTO_LAYOUT_KEY_LEN) ||
		    !proto_lay_z85_ok(d->public_key, kl))
			return -EBADMSG;
		if (d->weight < 1 || d->weight > PROTO_LAYOUT_WEIGHT_MAX)
			return -ERANGE;
		keys += kl != 0;
		for (int j = 0; j < i; j++)
			if (!strcmp(r->d[j].name, d->name) || !strcmp(r->d[j].endpoint, d->endpoint))
				return -EBADMSG;
		p = (uint64_t)r->vnodes * d->weight / 100;
		points += p ? p : 1;
	}
	if (keys != 0 && keys != r->ndaemons)
		return -EBADMSG;
	if (points > PROTO_LAYOUT_POINTS_MAX)
		return -ERANGE;
	return 0;
}

int proto_layout_check(const struct proto_layout *l)
{
	int rc = proto_lay_ring_check(&l->cur);

	if (rc || !l->has_prev)
		return rc;
	rc = proto_lay_ring_check(&l->prev);
	if (rc)
		return rc;
	return l->prev.version < l->cur.version ? 0 : -ERANGE;
}

int proto_layout_find(const struct proto_layout_ring *r, const char *name)
{
	for (int i = 0; i < r->ndaemons; i++)
		if (!strcmp(r->d[i].name, name))
			return i;
	return -1;
}

static void proto_lay_put_str(struct proto_wr *w, const char *s, size_t max, bool wide)
{
	size_t n = strnlen(s, max);

	if (wide)
		proto_put_u16(w, (uint16_t)n);
	else
		proto_put_u8(w, (uint8_t)n);
	proto_put_bytes(w, s, n);
}

static void proto_lay_put_ring(struct proto_wr *w, const struct proto_layout_ring *r)
{
	proto_put_u64(w, r->version);
	proto_put_u8(w, r->n);
	proto_put_u8(w, r->w);
	proto_put_u8(w, r->r);
	proto_put_u16(w, r->vnodes);
	proto_put_u16(w, r->ndaemons);
	for (int i = 0; i < r->ndaemons; i++) {
		const struct proto_layout_daemon *d = &r->d[i];

		proto_lay_put_str(w, d->name, PROTO_LAYOUT_NAME_MAX, false);
		proto_lay_put_str(w, d->endpoint, PROTO_LAYOUT_ENDPOINT_MAX, true);
		proto_lay_put_str(w, d->public_key, PROTO_LAYOUT_KEY_LEN, false);
		proto_lay_put_str(w, d->zone, PROTO_LAYOUT_NAME_MAX, false);
		proto_put_u16(w, (uint16_t)d->weight);
	}
}

void proto_layout_encode(struct proto_wr *w, const struct proto_layout *l)
{
	proto_put_u8(w, PROTO_LAYOUT_FORMAT);
	proto_put_u8(w, l->has_prev ? PROTO_LAYOUT_PREV : 0);
	proto_lay_put_ring(w, &l->cur);
	if (l->has_prev)
		proto_lay_put_ring(w, &l->prev);
}

/* A string of at most @max bytes (no NUL inside) into @out[max + 1]. */
static int proto_lay_get_str(struct proto_rd *r, char *out, size_t max, bool wide)
{
	size_t n = wide ? proto_get_u16(r) : proto_get_u8(r);
	const uint8_t *p;

	if (r->bad)
		return -EBADMSG;
	if (n > max)
		return -EMSGSIZE;
	p = proto_get_bytes(r, n);
	if (!p || memchr(p, 0, n))
		return -EBADMSG;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int proto_lay_get_ring(struct proto_rd *r, struct proto_layout_ring *g)
{
	int rc;

	g->version = proto_get_u64(r);
	g->n = proto_get_u8(r);
	g->w = proto_get_u8(r);
	g->r = proto_get_u8(r);
	g->vnodes = proto_get_u16(r);
	g->ndaemons = proto_get_u16(r);
	if (r->bad)
		return -EBADMSG;
	if (g->ndaemons < 1 || g->ndaemons > PROTO_LAYOUT_DAEMONS_MAX)
		return -EMSGSIZE;
	for (int i = 0; i < g->ndaemons; i++) {
		struct proto_layout_daemon *d = &g->d[i];

		rc = proto_lay_get_str(r, d->name, PROTO_LAYOUT_NAME_MAX, false);
		if (!rc)
			rc = proto_lay_get_str(r, d->endpoint, PROTO_LAYOUT_ENDPOINT_MAX, true);
		if (!rc)
			rc = proto_lay_get_str(r, d->public_key, PROTO_LAYOUT_KEY_LEN, false);
		if (!rc)
			rc = proto_lay_get_str(r, d->zone, PROTO_LAYOUT_NAME_MAX, false);
		if (rc)
			return rc;
		d->weight = proto_get_u16(r);
		if (r->bad)
			return -EBADMSG;
	}
	return proto_lay_ring_check(g);
}

static int proto_lay_decode_rd(struct proto_rd *r, struct proto_layout *l)
{
	uint8_t fmt, flags;
	int rc;

	fmt = proto_get_u8(r);
	flags = proto_get_u8(r);
	if (r->bad || fmt != PROTO_LAYOUT_FORMAT || (flags & ~PROTO_LAYOUT_FLAGS_MASK))
		return -EBADMSG;
	l->has_prev = flags & PROTO_LAYOUT_PREV;
	rc = proto_lay_get_ring(r, &l->cur);
	if (!rc && l->has_prev)
		rc = proto_lay_get_ring(r, &l->prev);
	if (rc)
		return rc;
	if (l->has_prev && l->prev.version >= l->cur.version)
		return -ERANGE;
	return 0;
}

int proto_layout_decode(const void *buf, size_t len, struct proto_layout *l)
{
	struct proto_rd r;
	int rc;

	memset(l, 0, sizeof(*l));
	proto_rd_init(&r, buf, len);
	rc = proto_lay_decode_rd(&r, l);
	if (!rc && r.left)
		rc = -EBADMSG;
	return rc;
}

void proto_encode_layout_set_req(struct proto_wr *w, uint64_t expect, const struct proto_layout *l)
{
	proto_put_u64(w, expect);
	proto_layout_encode(w, l);
}

int proto_decode_layout_set_req(const void *a, size_t len, size_t data_len, uint64_t *expect,
				struct proto_layout *l)
{
	struct proto_rd r;
	int rc;

	if (data_len)
		return -EBADMSG;
	memset(l, 0, sizeof(*l));
	proto_rd_init(&r, a, len);
	*expect = proto_get_u64(&r);
	if (r.bad)
		return -EBADMSG;
	rc = proto_lay_decode_rd(&r, l);
	if (!rc && r.left)
		rc = -EBADMSG;
	return rc;
}

void proto_encode_layout_version(struct proto_wr *w, uint64_t version)
{
	proto_put_u64(w, version);
}

int proto_decode_layout_version(const void *a, size_t len, size_t data_len, uint64_t *version)
{
	struct proto_rd r;

	proto_rd_init(&r, a, len);
	*version = proto_get_u64(&r);
	return r.bad || r.left || data_len ? -EBADMSG : 0;
}
