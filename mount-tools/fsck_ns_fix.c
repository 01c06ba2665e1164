// SPDX-License-Identifier: MIT
/*
 * fsck_ns_fix.c - the namespace pass's repairs, each safe on a live,
 * mounted cluster.
 *
 * The view the checks worked from (fsck_ns_load.c) may be seconds old, so
 * every repair first reads the records it is about to change through the
 * quorum (the newest version) and acts only when they are still in the bad
 * state and older than NS_SETTLE_MS (an operation in flight writes its
 * records within milliseconds); otherwise it answers NS_FIX_BUSY. Writes
 * are the filesystem's own quorum writes (qfs_quorum_put: W replicas) with
 * fresh versions, in the order fs/dir.c uses: a name is written after its
 * LINK, and removed before it.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#include "fs/quorum.h"
#include "mount-tools/fsck_ns_priv.h"
#include "proto/msg.h"

/* ---- quorum reads ---- */

/* The inode's state as the quorum has it; @out (may be NULL) gets it. */
static int ns_q_inode(struct ns *ns, uint64_t ino, struct proto_inode *out, uint64_t *ver_ms)
{
	struct proto_inode *tmp = out ? out : malloc(sizeof(*tmp));
	struct proto_key key;
	struct qfs_rec rec;
	int rc, state;

	if (!tmp)
		return -ENOMEM;
	proto_key_inode(&key, ino);
	rc = qfs_quorum_get(ns->f->q, &key, 0, PROTO_GET_WHOLE, &rec);
	if (rc == -ENOENT) {
		state = NS_ABSENT;
	} else if (rc < 0) {
		state = rc;
	} else {
		if (ver_ms)
			*ver_ms = rec.meta.ver.hlc >> 16;
		if (proto_inode_decode(rec.val, rec.val_len, tmp) < 0)
			state = NS_BAD;
		else if ((rec.meta.flags & PROTO_REC_TOMBSTONE) || proto_inode_is_deleted(tmp))
			state = NS_DELETED;
		else
			state = NS_LIVE;
		qfs_rec_free(&rec);
	}
	if (!out)
		free(tmp);
	return state;
}

/*
 * Entry @name of @dir: 0 when live (@d filled), -ENOENT when absent or a
 * tombstone (*tomb_ms then its age stamp, else 0), or -errno.
 * *ver_ms gets the live entry's stamp.
 */
static int ns_q_dirent(struct ns *ns, uint64_t dir, const char *name, size_t len,
		       struct proto_dirent *d, uint64_t *ms)
{
	struct proto_key key;
	struct qfs_rec rec;
	int rc;

	*ms = 0;
	rc = proto_key_dirent(&key, dir, name, len);
	if (rc < 0)
		return rc;
	rc = qfs_quorum_get(ns->f->q, &key, 0, PROTO_GET_WHOLE, &rec);
	if (rc < 0)
		return rc;
	*ms = rec.meta.ver.hlc >> 16;
	if (rec.meta.flags & PROTO_REC_TOMBSTONE)
		rc = -ENOENT;
	else if (proto_dirent_decode(rec.val, rec.val_len, d) < 0)
		rc = -EBADMSG;
	qfs_rec_free(&rec);
	return rc;
}

/* LINK(@ino, @parent, @name): 1 live, 0 absent or tombstone, or -errno. */
static int ns_q_link(struct ns *ns, uint64_t ino, uint64_t parent, const char *name, size_t len)
{
	struct proto_key key;
	struct qfs_rec rec;
	int rc;

	rc = proto_key_link(&key, ino, parent, name, len);
	if (rc < 0)
		return rc;
	rc = qfs_quorum_get(ns->f->q, &key, 0, PROTO_GET_WHOLE, &rec);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	rc = !(rec.meta.flags & PROTO_REC_TOMBSTONE);
	qfs_rec_free(&rec);
	return rc;
}

/* A record with a fresh version: an empty value, a tombstone or @val. */
static int ns_q_put(struct ns *ns, const struct proto_key *key, bool tomb, const void *val,
		    uint32_t len)
{
	struct proto_meta m = { 0 };

	m.ver = qfs_quorum_version(ns->f->q);
	if (tomb) {
		m.flags = PROTO_REC_TOMBSTONE;
		val = NULL;
		len = 0;
	}
	m.len = len;
	return qfs_quorum_put(ns->f->q, key, &m, val);
}

static int ns_q_put_dirent(struct ns *ns, uint64_t dir, const char *name, uint64_t ino,
			   uint8_t type)
{
	struct proto_dirent de = { .ino = ino, .type = type };
	struct proto_key key;
	struct proto_wr w;
	int rc;

	rc = proto_key_dirent(&key, dir, name, strlen(name));
	if (rc < 0)
		return rc;
	proto_wr_init(&w);
	proto_dirent_encode(&w, &de);
	rc = w.bad ? -ENOMEM : ns_q_put(ns, &key, false, w.buf, (uint32_t)w.len);
	proto_wr_free(&w);
	return rc;
}

static int ns_q_put_link(struct ns *ns, uint64_t ino, uint64_t parent, const char *name,
			 size_t len, bool tomb)
{
	struct proto_key key;
	int rc;

	rc = proto_key_link(&key, ino, parent, name, len);
	return rc < 0 ? rc : ns_q_put(ns, &key, tomb, NULL, 0);
}

/* Is entry @name of @dir still live, naming @ino, and settled? 0 when so,
 * NS_FIX_BUSY when not, or -errno. */
static int ns_q_entry_still(struct ns *ns, uint64_t dir, const char *name, size_t len,
			    uint64_t ino)
{
	struct proto_dirent de;
	uint64_t ms;
	int rc;

	rc = ns_q_dirent(ns, dir, name, len, &de, &ms);
	if (rc == -ENOENT || (rc == 0 && (de.ino != ino || !ns_settled(ns, ms))))
		return NS_FIX_BUSY;
	return rc;
}

/* Remove a name as unlink does: the entry first, then its LINK (if live). */
static int ns_q_remove_name(struct ns *ns, uint64_t dir, const char *name, size_t len,
			    uint64_t ino)
{
	struct proto_key key;
	int rc;

	rc = proto_key_dirent(&key, dir, name, len);
	if (rc == 0)
		rc = ns_q_put(ns, &key, true, NULL, 0);
	if (rc == 0)
		rc = ns_q_link(ns, ino, dir, name, len);
	if (rc <= 0)
		return rc;
	return ns_q_put_link(ns, ino, dir, name, len, true);
}

/* ---- what the quorum says an inode's names are ---- */

struct ns_names {
	struct ns *ns;
	uint64_t ino;
	int count;		/* live LINKs whose entry is live in a live directory */
	uint64_t parent;	/* the first such entry's directory */
	int live_links;
	uint64_t newest_ms;	/* newest LINK (live or not) */
	int err;
};

static int ns_names_link(void *arg, const struct proto_entry *e)
{
	struct ns_names *n = arg;
	struct proto_dirent d;
	uint64_t ms;
	int rc;

	if (e->key.kind != PROTO_KIND_LINK)
		return 0;
	if ((e->meta.ver.hlc >> 16) > n->newest_ms)
		n->newest_ms = e->meta.ver.hlc >> 16;
	if (e->meta.flags & PROTO_REC_TOMBSTONE)
		return 0;
	n->live_links++;
	rc = ns_q_dirent(n->ns, e->key.sub, e->key.name, e->key.name_len, &d, &ms);
	if (rc == -ENOENT || (rc == 0 && d.ino != n->ino))
		return 0;
	if (rc == 0)
		rc = ns_q_inode(n->ns, e->key.sub, NULL, NULL);
	if (rc < 0) {
		n->err = rc;
		return 1;
	}
	if (rc != NS_LIVE)
		return 0; /* an entry of a deleted directory names nothing */
	if (!n->count++)
		n->parent = e->key.sub;
	return 0;
}

/*
 * Count inode @ino's names through the quorum, by its LINKs: every way the
 * filesystem names an inode writes the LINK first, so a name made since
 * the scan is found this way. 0 or -errno.
 */
static int ns_q_names(struct ns *ns, uint64_t ino, struct ns_names *n)
{
	bool more;
	int rc;

	memset(n, 0, sizeof(*n));
	n->ns = ns;
	n->ino = ino;
	rc = qfs_quorum_list(ns->f->q, ino, PROTO_KIND_LINK, NULL, 0, false, 0, ns_names_link, n,
			     &more);
	if (n->err)
		return n->err;
	return rc < 0 ? rc : 0;
}

/* ---- /lost+found ---- */

/*
 * Find /lost+found, or make it (mode 0700, as e2fsck does): an inode and
 * its LINK, then the entry, as mkdir writes them. Its number derives from
 * the name and the entry it replaces, so two fsck runs racing converge.
 */
static int ns_lost_found(struct ns *ns)
{
	struct proto_dirent d;
	struct proto_inode *inode;
	struct timespec now;
	uint8_t buf[8 + 8 + sizeof(NS_LOST_FOUND)];
	uint64_t ms, ino;
	int rc;

	if (ns->lf_ino)
		return 0;
	rc = ns_q_dirent(ns, PROTO_ROOT_INO, NS_LOST_FOUND, strlen(NS_LOST_FOUND), &d, &ms);
	if (rc == 0) {
		rc = ns_q_inode(ns, d.ino, NULL, NULL);
		if (rc < 0)
			return rc;
		if (rc != NS_LIVE || d.type != DT_DIR) {
			fsck_say(ns->f, "namespace: /%s exists but is not a directory: nothing can be "
					"moved there\n", NS_LOST_FOUND);
			return -ENOTDIR;
		}
		ns->lf_ino = d.ino;
		return 0;
	}
	if (rc != -ENOENT)
		return rc;
	proto_be64_put(buf, PROTO_ROOT_INO);
	proto_be64_put(buf + 8, ms);
	memcpy(buf + 16, NS_LOST_FOUND, sizeof(NS_LOST_FOUND));
	ino = XXH3_64bits(buf, sizeof(buf));
	if (ino <= PROTO_ROOT_INO)
		ino += 2;
	inode = calloc(1, sizeof(*inode));
	if (!inode)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &now);
	inode->attr_ver = qfs_quorum_version(ns->f->q);
	inode->mtime_ver = inode->atime_ver = inode->size_ver = inode->parent_ver =
		inode->attr_ver;
	inode->mode = S_IFDIR | 0700;
	inode->atime_sec = inode->mtime_sec = now.tv_sec;
	inode->atime_nsec = inode->mtime_nsec = (uint32_t)now.tv_nsec;
	inode->parent = PROTO_ROOT_INO;
	rc = qfs_quorum_put_inode(ns->f->q, ino, inode);
	free(inode);
	if (rc == 0)
		rc = ns_q_put_link(ns, ino, PROTO_ROOT_INO, NS_LOST_FOUND, strlen(NS_LOST_FOUND),
				   false);
	if (rc == 0)
		rc = ns_q_put_dirent(ns, PROTO_ROOT_INO, NS_LOST_FOUND, ino, DT_DIR);
	if (rc < 0)
		return rc;
	fsck_say(ns->f, "namespace: created /%s (inode %" PRIu64 ")\n", NS_LOST_FOUND, ino);
	ns->lf_ino = ino;
	return 0;
}

/* ---- repairs ---- */

int ns_fix_missing_link(struct ns *ns, const struct ns_dent *d)
{
	const char *name = ns_name(ns, d->name_off);
	int rc;

	rc = ns_q_entry_still(ns, d->dir, name, d->name_len, d->ino);
	if (rc)
		return rc;
	rc = ns_q_inode(ns, d->ino, NULL, NULL);
	if (rc < 0)
		return rc;
	if (rc != NS_LIVE)
		return NS_FIX_BUSY;
	rc = ns_q_link(ns, d->ino, d->dir, name, d->name_len);
	if (rc != 0)
		return rc < 0 ? rc : NS_FIX_BUSY;
	return ns_q_put_link(ns, d->ino, d->dir, name, d->name_len, false);
}

/*
 * Remove entry @d (dangling, of a deleted directory, or a directory's
 * extra name): still live, still naming d->ino, and still bad: the target
 * still missing or deleted (dangling), the directory still deleted, or the
 * directory still named elsewhere (extra name). Then its LINK goes too.
 */
int ns_fix_remove_entry(struct ns *ns, const struct ns_dent *d, uint32_t why)
{
	const char *name = ns_name(ns, d->name_off);
	struct ns_names nm;
	int rc;

	rc = ns_q_entry_still(ns, d->dir, name, d->name_len, d->ino);
	if (rc)
		return rc;
	if (why == NS_D_DANGLING) {
		rc = ns_q_inode(ns, d->ino, NULL, NULL);
		if (rc < 0)
			return rc;
		if (rc != NS_ABSENT && rc != NS_DELETED)
			return NS_FIX_BUSY;
	} else if (why == NS_D_DEADDIR) {
		rc = ns_q_inode(ns, d->dir, NULL, NULL);
		if (rc < 0)
			return rc;
		if (rc != NS_ABSENT && rc != NS_DELETED)
			return NS_FIX_BUSY;
	} else if (d->ino != PROTO_ROOT_INO) {
		/* an extra name: only while another one is left */
		rc = ns_q_names(ns, d->ino, &nm);
		if (rc < 0)
			return rc;
		if (nm.count < 2)
			return NS_FIX_BUSY;
	}
	return ns_q_remove_name(ns, d->dir, name, d->name_len, d->ino);
}

int ns_link_classify(struct ns *ns, struct ns_link *l)
{
	struct proto_dirent de;
	uint64_t ms;
	int rc;

	rc = ns_q_dirent(ns, l->parent, ns_name(ns, l->name_off), l->name_len, &de, &ms);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	/* removed (a tombstone) or taken over (a rename or create onto it) later */
	if ((rc == -ENOENT || de.ino != l->ino) && ms > l->ver_ms) {
		l->flags |= NS_L_STALE;
		l->ver_ms = ms;
	}
	return 0;
}

int ns_fix_stray_link(struct ns *ns, const struct ns_link *l)
{
	const char *name = ns_name(ns, l->name_off);
	struct proto_dirent de;
	struct proto_key key;
	struct qfs_rec rec;
	uint64_t ms;
	int rc;

	rc = proto_key_link(&key, l->ino, l->parent, name, l->name_len);
	if (rc < 0)
		return rc;
	rc = qfs_quorum_get(ns->f->q, &key, 0, PROTO_GET_WHOLE, &rec);
	if (rc == -ENOENT)
		return NS_FIX_BUSY;
	if (rc < 0)
		return rc;
	ms = rec.meta.ver.hlc >> 16;
	rc = (rec.meta.flags & PROTO_REC_TOMBSTONE) || !ns_settled(ns, ms);
	qfs_rec_free(&rec);
	if (rc)
		return NS_FIX_BUSY;
	/* still without its entry (in a live directory)? */
	rc = ns_q_dirent(ns, l->parent, name, l->name_len, &de, &ms);
	if (rc == 0 && de.ino == l->ino) {
		rc = ns_q_inode(ns, l->parent, NULL, NULL);
		if (rc < 0)
			return rc;
		if (rc == NS_LIVE)
			return NS_FIX_BUSY;
	} else if (rc < 0 && rc != -ENOENT) {
		return rc;
	}
	return ns_q_put(ns, &key, true, NULL, 0);
}

/*
 * Is @ino still cut off from the root? Walks its names up through the
 * quorum (the first name at each level): 1 when a level has no name or the
 * walk comes back to a directory it passed, 0 when it reaches the root,
 * -errno. A chain deeper than NS_MAX_DEPTH counts as reachable (left alone).
 */
static int ns_q_unreachable(struct ns *ns, uint64_t ino)
{
	uint64_t seen[64], cur = ino;
	size_t nseen = 0;
	struct ns_names nm;
	int rc;

	for (int depth = 0; depth < NS_MAX_DEPTH; depth++) {
		if (cur == PROTO_ROOT_INO)
			return 0;
		for (size_t k = 0; k < nseen; k++)
			if (seen[k] == cur)
				return 1;
		if (nseen < 64)
			seen[nseen++] = cur;
		rc = ns_q_names(ns, cur, &nm);
		if (rc < 0)
			return rc;
		if (nm.count == 0)
			return 1;
		cur = nm.parent;
	}
	return 0;
}

/*
 * Move @i into /lost+found as "#<ino>": re-check that it is live and still
 * unreachable, write its LINK, then the entry, then its parent register;
 * a directory in a cycle then loses its old name (entry first, then LINK).
 * Other LINKs it still has are stray and go in the stray-LINK step.
 */
int ns_fix_move(struct ns *ns, const struct ns_ino *i)
{
	struct proto_inode *inode;
	struct proto_dirent de;
	char name[32];
	uint64_t ms;
	bool live;
	int rc;

	inode = malloc(sizeof(*inode));
	if (!inode)
		return -ENOMEM;
	rc = ns_q_inode(ns, i->ino, inode, &ms);
	live = rc == NS_LIVE && (inode->mode & 0170000) == (i->mode & 0170000) &&
	       ns_settled(ns, ms);
	free(inode);
	if (rc < 0)
		return rc;
	if (!live)
		return NS_FIX_BUSY;
	rc = ns_q_unreachable(ns, i->ino);
	if (rc <= 0)
		return rc < 0 ? rc : NS_FIX_BUSY;
	rc = ns_lost_found(ns);
	if (rc < 0)
		return rc;
	snprintf(name, sizeof(name), "#%" PRIu64, i->ino);
	rc = ns_q_dirent(ns, ns->lf_ino, name, strlen(name), &de, &ms);
	if (rc == 0 && de.ino != i->ino)
		return -EEXIST;
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rc = ns_q_put_link(ns, i->ino, ns->lf_ino, name, strlen(name), false);
	if (rc == 0)
		rc = ns_q_put_dirent(ns, ns->lf_ino, name, i->ino, (uint8_t)IFTODT(i->mode));
	if (rc == 0) {
		struct proto_inode *p = calloc(1, sizeof(*p));

		if (!p)
			return -ENOMEM;
		p->parent_ver = qfs_quorum_version(ns->f->q);
		p->parent = ns->lf_ino;
		rc = qfs_quorum_put_inode(ns->f->q, i->ino, p);
		free(p);
	}
	if (rc < 0 || !(i->flags & NS_I_CYCLE) || i->keep == NS_NONE)
		return rc;
	/* break the cycle: the old name goes (entry, then LINK) */
	const struct ns_dent *d = &ns->dents[i->keep];
	const char *old = ns_name(ns, d->name_off);

	rc = ns_q_entry_still(ns, d->dir, old, d->name_len, i->ino);
	if (rc)
		return rc == NS_FIX_BUSY ? 0 : rc; /* already gone or renamed */
	return ns_q_remove_name(ns, d->dir, old, d->name_len, i->ino);
}

static int ns_tomb_xattr(void *arg, const struct proto_entry *e)
{
	struct ns *ns = arg;

	if (e->key.kind != PROTO_KIND_XATTR || (e->meta.flags & PROTO_REC_TOMBSTONE))
		return 0;
	return ns_q_put(ns, &e->key, true, NULL, 0) < 0 ? -EIO : 0;
}

/*
 * Delete orphan @i (no name, no live LINK, older than the grace period, as
 * the quorum says now): its deletion register, then tombstones for its
 * xattrs. Its chunks are then chunks of a deleted inode, freed by the
 * chunk step of the same run.
 */
int ns_fix_delete(struct ns *ns, const struct ns_ino *i)
{
	struct proto_inode *del;
	struct ns_names nm;
	uint64_t ms = 0, grace_ms = ns->f->grace_s * 1000;
	bool more;
	int rc;

	rc = ns_q_inode(ns, i->ino, NULL, &ms);
	if (rc < 0)
		return rc;
	if (rc != NS_LIVE)
		return NS_FIX_BUSY;
	rc = ns_q_names(ns, i->ino, &nm);
	if (rc < 0)
		return rc;
	if (nm.newest_ms > ms)
		ms = nm.newest_ms; /* when it lost its last link */
	if (nm.live_links || ms + grace_ms > ns->now_ms || !ns_settled(ns, ms))
		return NS_FIX_BUSY;
	del = calloc(1, sizeof(*del));
	if (!del)
		return -ENOMEM;
	del->del_ver = qfs_quorum_version(ns->f->q);
	rc = qfs_quorum_put_inode(ns->f->q, i->ino, del);
	free(del);
	if (rc < 0)
		return rc;
	rc = qfs_quorum_list(ns->f->q, i->ino, PROTO_KIND_XATTR, NULL, 0, false, 0, ns_tomb_xattr,
			     ns, &more);
	return rc > 0 ? -EIO : rc;
}

bool ns_chunk_dead(const struct ns *ns, uint64_t index, uint64_t epoch, uint64_t size,
		   uint64_t inode_epoch, const struct proto_trunc *t, unsigned nt,
		   uint64_t chunk_ms)
{
	uint64_t start, end = proto_trunc_valid_end(t, nt, inode_epoch, epoch);

	if (index > INT64_MAX / ns->chunk_size)
		return true; /* past the largest size a file can have */
	start = index * ns->chunk_size;
	if (end != UINT64_MAX)
		return end <= start; /* an old epoch: nothing of it is readable */
	/* the current epoch past EOF: a writer's size may still be coming */
	return start >= size && chunk_ms + ns->f->grace_s * 1000 <= ns->now_ms;
}

/*
 * Tombstone chunk @c: still live as the quorum has it, and still garbage
 * against the inode as the quorum has it now.
 */
int ns_fix_chunk(struct ns *ns, const struct ns_chunk *c)
{
	struct proto_inode *inode;
	struct proto_key key;
	struct qfs_rec rec;
	uint64_t epoch, ms;
	int rc;

	proto_key_chunk(&key, c->ino, c->index);
	rc = qfs_quorum_get(ns->f->q, &key, 0, 0, &rec); /* metadata only */
	if (rc == -ENOENT)
		return NS_FIX_BUSY;
	if (rc < 0)
		return rc;
	epoch = rec.meta.epoch;
	ms = rec.meta.ver.hlc >> 16;
	rc = (rec.meta.flags & PROTO_REC_TOMBSTONE) || !ns_settled(ns, ms);
	qfs_rec_free(&rec);
	if (rc)
		return NS_FIX_BUSY;
	inode = malloc(sizeof(*inode));
	if (!inode)
		return -ENOMEM;
	rc = ns_q_inode(ns, c->ino, inode, NULL);
	if (rc == NS_LIVE)
		rc = ns_chunk_dead(ns, c->index, epoch, inode->size, inode->epoch, inode->trunc,
				   inode->ntrunc, ms)
			     ? 0
			     : NS_FIX_BUSY;
	else if (rc == NS_ABSENT || rc == NS_DELETED)
		rc = 0;
	else if (rc == NS_BAD)
		rc = NS_FIX_BUSY;
	free(inode);
	if (rc)
		return rc;
	return ns_q_put(ns, &key, true, NULL, 0);
}
