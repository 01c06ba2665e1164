// SPDX-License-Identifier: MIT
/*
 * fsck_ns_load.c - read the records the namespace pass checks into its
 * compact view (fsck_ns_priv.h).
 *
 * Two steps. First every daemon's store is walked with SCAN (one page in
 * memory at a time), only to learn which inode partitions exist and which
 * chunks are live: a SCAN entry carries no value and one daemon's copy may
 * be stale, so nothing is decided from it. Then each partition is read
 * with qfs_quorum_list, the R replicas merged per key as every client reads
 * them: the INODE (its size group, mode, parent register, deletion), its
 * live LINKs and, for a directory, its live entries. Tombstoned entries and
 * LINKs are not kept (the repairs read them back when they matter).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/quorum.h"
#include "fs/quorum_scan.h"
#include "mount-tools/fsck_ns_priv.h"
#include "proto/msg.h"

/* ---- the tables ---- */

static uint64_t ns_mix(uint64_t a, uint64_t b)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL) * 0xbf58476d1ce4e5b9ULL;

	return h ^ (h >> 31);
}

/* Grow a table to at least twice its count; @key gives the keys of
 * existing entries. Returns 0 or -ENOMEM. */
static int ns_map_grow(struct ns_map *m, const struct ns *ns,
		       uint64_t (*hash)(const struct ns *ns, uint32_t idx))
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	uint32_t *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->slot[i])
			continue;
		j = hash(ns, m->slot[i] - 1) & (cap - 1);
		while (slot[j])
			j = (j + 1) & (cap - 1);
		slot[j] = m->slot[i];
	}
	free(m->slot);
	m->slot = slot;
	m->cap = cap;
	return 0;
}

/* Make room for one more element in an array. Returns 0 or -ENOMEM. */
static int ns_reserve(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 1024;
	if (ncap > UINT32_MAX - 1)
		return -ENOMEM; /* indexes are 32-bit */
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static uint64_t ns_ino_hash(const struct ns *ns, uint32_t idx)
{
	return ns_mix(ns->inos[idx].ino, 0);
}

static uint64_t ns_chunk_hash(const struct ns *ns, uint32_t idx)
{
	return ns_mix(ns->chunks[idx].ino, ns->chunks[idx].index + 1);
}

struct ns_ino *ns_ino_find(struct ns *ns, uint64_t ino)
{
	const struct ns_map *m = &ns->ino_map;

	if (!m->cap)
		return NULL;
	for (size_t j = ns_mix(ino, 0) & (m->cap - 1); m->slot[j]; j = (j + 1) & (m->cap - 1))
		if (ns->inos[m->slot[j] - 1].ino == ino)
			return &ns->inos[m->slot[j] - 1];
	return NULL;
}

/* Add inode @ino (absent until its INODE is read) unless known. */
static int ns_ino_add(struct ns *ns, uint64_t ino)
{
	struct ns_map *m = &ns->ino_map;
	struct ns_ino *i;
	size_t j;
	int rc;

	if (ns_ino_find(ns, ino))
		return 0;
	if ((m->n + 1) * 2 > m->cap && (rc = ns_map_grow(m, ns, ns_ino_hash)) < 0)
		return rc;
	rc = ns_reserve((void **)&ns->inos, &ns->cap_inos, ns->ninos, sizeof(*ns->inos));
	if (rc < 0)
		return rc;
	i = &ns->inos[ns->ninos];
	memset(i, 0, sizeof(*i));
	i->ino = ino;
	i->keep = NS_NONE;
	i->state = NS_ABSENT;
	for (j = ns_mix(ino, 0) & (m->cap - 1); m->slot[j]; j = (j + 1) & (m->cap - 1))
		;
	m->slot[j] = (uint32_t)++ns->ninos;
	m->n++;
	return 0;
}

/* Remember chunk @k as one daemon shows it: the newest copy wins. */
static int ns_chunk_add(struct ns *ns, const struct proto_key *k, const struct proto_meta *m)
{
	struct ns_map *map = &ns->chunk_map;
	struct ns_chunk *c;
	size_t j;
	int rc;

	if ((map->n + 1) * 2 > map->cap && (rc = ns_map_grow(map, ns, ns_chunk_hash)) < 0)
		return rc;
	for (j = ns_mix(k->ino, k->sub + 1) & (map->cap - 1); map->slot[j];
	     j = (j + 1) & (map->cap - 1)) {
		c = &ns->chunks[map->slot[j] - 1];
		if (c->ino != k->ino || c->index != k->sub)
			continue;
		if (proto_version_cmp(&m->ver, &c->ver) > 0 ||
		    (proto_version_cmp(&m->ver, &c->ver) == 0 && (m->flags & PROTO_REC_TOMBSTONE))) {
			c->ver = m->ver;
			c->epoch = m->epoch;
			c->tomb = !!(m->flags & PROTO_REC_TOMBSTONE);
		}
		return 0;
	}
	rc = ns_reserve((void **)&ns->chunks, &ns->cap_chunks, ns->nchunks, sizeof(*ns->chunks));
	if (rc < 0)
		return rc;
	c = &ns->chunks[ns->nchunks];
	memset(c, 0, sizeof(*c));
	c->ino = k->ino;
	c->index = k->sub;
	c->epoch = m->epoch;
	c->ver = m->ver;
	c->tomb = !!(m->flags & PROTO_REC_TOMBSTONE);
	map->slot[j] = (uint32_t)++ns->nchunks;
	map->n++;
	return 0;
}

/* Copy a name into the arena; returns its offset or NS_NONE (ENOMEM). */
static uint32_t ns_arena_add(struct ns *ns, const char *name, size_t len)
{
	uint32_t off;

	if (ns->arena_len + len > ns->arena_cap) {
		size_t cap = ns->arena_cap ? ns->arena_cap * 2 : 65536;
		char *p;

		while (cap < ns->arena_len + len)
			cap *= 2;
		if (cap > UINT32_MAX)
			return NS_NONE;
		p = realloc(ns->arena, cap);
		if (!p)
			return NS_NONE;
		ns->arena = p;
		ns->arena_cap = cap;
	}
	off = (uint32_t)ns->arena_len;
	memcpy(ns->arena + off, name, len);
	ns->arena_len += len;
	return off;
}

/* ---- step 1: which partitions and chunks exist (SCAN of every daemon) ---- */

static int ns_scan_daemon(struct ns *ns, int d)
{
	struct fsck *f = ns->f;
	struct qfs_scan_cur cur;
	int rc;

	rc = qfs_scan_begin(f->q, d, FSCK_PAGE, &cur);
	while (rc == 0 && cur.has) {
		const struct proto_key *k = &cur.e.key;

		if (k->kind == PROTO_KIND_CHUNK)
			rc = ns_chunk_add(ns, k, &cur.e.meta);
		else if (k->kind != PROTO_KIND_SUPER)
			rc = ns_ino_add(ns, k->ino);
		if (rc == 0)
			rc = qfs_scan_advance(&cur);
	}
	qfs_scan_end(&cur);
	if (rc < 0 && !fsck_member(f, d)) {
		/* removed from the layout (and down): nothing it holds counts */
		fprintf(stderr, "fsck.quorumfs: namespace pass: daemon %s: SCAN failed: %s; "
			"it is not in the layout: skipped\n", f->cl->daemons[d].name,
			strerror(-rc));
		return 0;
	}
	if (rc < 0)
		fprintf(stderr, "fsck.quorumfs: namespace pass: daemon %s: SCAN failed: %s\n",
			f->cl->daemons[d].name, strerror(-rc));
	return rc;
}

/* ---- step 2: each partition through the quorum ---- */

struct ns_part {
	struct ns *ns;
	struct ns_ino *i;
	struct proto_inode inode;	/* decode buffer */
	uint8_t last[PROTO_KEY_MAX];	/* resume point */
	size_t last_len;
	int err;
};

static int ns_part_inode(struct ns_part *p, const struct proto_entry *e)
{
	struct ns *ns = p->ns;
	struct ns_ino *i = p->i;
	int rc;

	i->ver_ms = e->meta.ver.hlc >> 16;
	if (proto_inode_decode(e->val, e->meta.len, &p->inode) < 0) {
		i->state = NS_BAD;
		return 0;
	}
	i->state = (e->meta.flags & PROTO_REC_TOMBSTONE) || proto_inode_is_deleted(&p->inode)
			   ? NS_DELETED
			   : NS_LIVE;
	i->mode = p->inode.mode;
	i->parent = p->inode.parent;
	i->size = p->inode.size;
	i->epoch = p->inode.epoch;
	i->trunc_first = (uint32_t)ns->ntruncs;
	for (unsigned t = 0; t < p->inode.ntrunc; t++) {
		rc = ns_reserve((void **)&ns->truncs, &ns->cap_truncs, ns->ntruncs,
				sizeof(*ns->truncs));
		if (rc < 0)
			return rc;
		ns->truncs[ns->ntruncs++] = p->inode.trunc[t];
		i->ntrunc++;
	}
	return 0;
}

static int ns_part_link(struct ns_part *p, const struct proto_entry *e)
{
	struct ns *ns = p->ns;
	struct ns_link *l;
	int rc;

	if (e->meta.flags & PROTO_REC_TOMBSTONE)
		return 0;
	rc = ns_reserve((void **)&ns->links, &ns->cap_links, ns->nlinks, sizeof(*ns->links));
	if (rc < 0)
		return rc;
	l = &ns->links[ns->nlinks];
	memset(l, 0, sizeof(*l));
	l->ino = e->key.ino;
	l->parent = e->key.sub;
	l->ver_ms = e->meta.ver.hlc >> 16;
	l->name_len = e->key.name_len;
	l->name_off = ns_arena_add(ns, e->key.name, e->key.name_len);
	if (l->name_off == NS_NONE)
		return -ENOMEM;
	if (!p->i->nlink)
		p->i->link_first = (uint32_t)ns->nlinks;
	p->i->nlink++;
	ns->nlinks++;
	return 0;
}

static int ns_part_dirent(struct ns_part *p, const struct proto_entry *e)
{
	struct ns *ns = p->ns;
	struct proto_dirent de;
	struct ns_dent *d;
	int rc;

	if (e->meta.flags & PROTO_REC_TOMBSTONE)
		return 0;
	if (proto_dirent_decode(e->val, e->meta.len, &de) < 0) {
		char ks[96];

		ns->f->ns.bad_records++;
		ns->f->ns.found++;
		ns->f->ns.left++;
		fsck_say(ns->f, "namespace: %s: undecodable entry: left as is\n",
			 proto_key_str(&e->key, ks, sizeof(ks)));
		return 0;
	}
	rc = ns_reserve((void **)&ns->dents, &ns->cap_dents, ns->ndents, sizeof(*ns->dents));
	if (rc < 0)
		return rc;
	d = &ns->dents[ns->ndents];
	memset(d, 0, sizeof(*d));
	d->dir = e->key.ino;
	d->ino = de.ino;
	d->type = de.type;
	d->ver_ms = e->meta.ver.hlc >> 16;
	d->name_len = e->key.name_len;
	d->name_off = ns_arena_add(ns, e->key.name, e->key.name_len);
	if (d->name_off == NS_NONE)
		return -ENOMEM;
	if (!p->i->ndent)
		p->i->dent_first = (uint32_t)ns->ndents;
	p->i->ndent++;
	ns->ndents++;
	return 0;
}

static int ns_part_entry(void *arg, const struct proto_entry *e)
{
	struct ns_part *p = arg;
	int rc = 0;

	p->last_len = proto_key_encode(&e->key, p->last);
	if (e->key.kind == PROTO_KIND_INODE)
		rc = ns_part_inode(p, e);
	else if (e->key.kind == PROTO_KIND_LINK)
		rc = ns_part_link(p, e);
	else if (e->key.kind == PROTO_KIND_DIRENT)
		rc = ns_part_dirent(p, e);
	if (rc < 0) {
		p->err = rc;
		return 1;
	}
	return 0;
}

/* Read partition @i (INODE, LINKs, entries; XATTRs skipped) page by page. */
static int ns_read_partition(struct ns *ns, struct ns_ino *i, struct ns_part *p)
{
	bool more = true, after = false;
	int rc;

	p->ns = ns;
	p->i = i;
	p->err = 0;
	p->last_len = 0;
	while (more) {
		rc = qfs_quorum_list(ns->f->q, i->ino, 0, p->last_len ? p->last : NULL, p->last_len,
				     after, NS_LIST_PAGE, ns_part_entry, p, &more);
		if (p->err)
			return p->err;
		if (rc < 0) {
			fprintf(stderr, "fsck.quorumfs: namespace pass: inode %" PRIu64
					": cannot read its records: %s\n", i->ino, strerror(-rc));
			return rc;
		}
		after = true;
	}
	return 0;
}

int ns_load(struct ns *ns)
{
	struct fsck *f = ns->f;
	struct proto_super sb;
	struct ns_part *p;
	struct timespec now;
	int rc;

	rc = qfs_quorum_super(f->q, &sb);
	if (rc < 0) {
		fprintf(stderr, "fsck.quorumfs: namespace pass: no superblock: %s\n", strerror(-rc));
		return rc;
	}
	ns->chunk_size = sb.chunk_size;
	clock_gettime(CLOCK_REALTIME, &now);
	ns->now_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	rc = ns_ino_add(ns, PROTO_ROOT_INO);
	for (int d = 0; rc == 0 && d < f->cl->ndaemons; d++)
		rc = ns_scan_daemon(ns, d);
	if (rc < 0)
		return rc;
	p = malloc(sizeof(*p)); /* a proto_inode is over 4 KiB */
	if (!p)
		return -ENOMEM;
	for (size_t k = 0; rc == 0 && k < ns->ninos; k++)
		rc = ns_read_partition(ns, &ns->inos[k], p);
	free(p);
	return rc;
}

void ns_free(struct ns *ns)
{
	free(ns->inos);
	free(ns->ino_map.slot);
	free(ns->dents);
	free(ns->links);
	free(ns->names);
	free(ns->truncs);
	free(ns->chunks);
	free(ns->chunk_map.slot);
	free(ns->arena);
	memset(ns, 0, sizeof(*ns));
}
