// SPDX-License-Identifier: MIT
/*
 * statahead.c - lookups answered from a directory read ahead.
 *
 * A program that stats the files of a directory one by one (find, rsync,
 * tar c, a backup tool, a build checking timestamps) sends the kernel's
 * LOOKUP for each name, and each costs two quorum round trips: the entry,
 * then the inode. When SA_TRIGGER lookups in a row in one directory had to
 * ask the replicas, with no write by this client in between, the lookup
 * that saw the last of them also reads the directory ahead: up to SA_WINDOW
 * entries in LIST pages, then their inodes with QFS_GETATTR_PARALLEL reads
 * in flight. Later lookups of those names are answered from memory.
 *
 * An answer is used only while it is fresh in both senses the kernel's own
 * caches give (docs/consistency.md): younger than the mount's attribute and
 * entry timeouts, and read after the last write this client completed
 * (qfs_quorum_writes() unchanged since the window was read), so this client
 * always sees its own changes. A name missing from the window is looked up
 * as usual: the window never answers "absent". One window per mount; a
 * directory longer than the window is read window by window as lookups
 * miss past its end.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/call.h"
#include "fs/fs_priv.h"
#include "fs/statahead.h"

#define SA_WINDOW 1024	  /* entries read ahead at once */
#define SA_PAGE 256	  /* entries per LIST page */
#define SA_TRIGGER 4	  /* lookups in a row that asked the replicas */

struct sa_entry {
	uint64_t hash; /* proto_name_hash63 of the name */
	int rc;	       /* of its getattr */
	struct qfs_attr attr;
	char name[PROTO_NAME_MAX + 1];
};

struct sa_window {
	uint64_t dir;	 /* 0: empty */
	uint64_t at_ns;	 /* when its reading started */
	uint64_t writes; /* qfs_quorum_writes() then */
	bool more;	 /* the directory goes on after it */
	uint8_t last[PROTO_KEY_MAX]; /* its last key, where the next starts */
	size_t last_len;
	int n;
	struct sa_entry ents[SA_WINDOW];
};

struct qfs_statahead {
	uint64_t ttl_ns;	 /* immutable */
	pthread_mutex_t lock;	 /* everything below */
	struct sa_window *win;	 /* NULL until the first read-ahead */
	bool filling;		 /* a read-ahead runs (one at a time) */
	uint64_t miss_dir;	 /* lookups that asked the replicas: where, */
	uint64_t miss_writes;	 /* after which write, */
	unsigned misses;	 /* and how many in a row */
};

int qfs_sa_new(unsigned ttl_ms, struct qfs_statahead **out)
{
	struct qfs_statahead *sa;

	*out = NULL;
	if (!ttl_ms)
		return 0;
	sa = calloc(1, sizeof(*sa));
	if (!sa)
		return -ENOMEM;
	sa->ttl_ns = (uint64_t)ttl_ms * 1000000ull;
	pthread_mutex_init(&sa->lock, NULL);
	*out = sa;
	return 0;
}

void qfs_sa_free(struct qfs_statahead *sa)
{
	if (!sa)
		return;
	pthread_mutex_destroy(&sa->lock);
	free(sa->win);
	free(sa);
}

/* Fresh window of @dir (sa->lock held). */
static bool sa_fresh(struct qfs_fs *fs, const struct sa_window *w, uint64_t dir)
{
	const struct qfs_statahead *sa = fs->sa;

	return w && w->dir == dir && qfs_now_ns() - w->at_ns < sa->ttl_ns &&
	       qfs_quorum_writes(fs->q) == w->writes;
}

bool qfs_sa_lookup(struct qfs_fs *fs, uint64_t parent, const char *name, struct qfs_attr *a)
{
	struct qfs_statahead *sa = fs->sa;
	uint64_t h;
	bool hit = false;

	if (!sa)
		return false;
	h = proto_name_hash63(name, strlen(name));
	pthread_mutex_lock(&sa->lock);
	if (sa_fresh(fs, sa->win, parent)) {
		for (int i = 0; i < sa->win->n; i++) {
			const struct sa_entry *e = &sa->win->ents[i];

			if (e->hash == h && e->rc == 0 && !strcmp(e->name, name)) {
				*a = e->attr;
				hit = true;
				break;
			}
		}
	}
	pthread_mutex_unlock(&sa->lock);
	if (hit)
		qfs_attr_add_buffered(fs, a); /* a write this client still buffers */
	return hit;
}

static int sa_entry_cb(void *arg, const struct proto_entry *e)
{
	struct sa_window *w = arg;
	struct sa_entry *se;
	struct proto_dirent d;

	if (e->key.kind != PROTO_KIND_DIRENT)
		return 0;
	if (w->n == SA_WINDOW) {
		w->more = true;
		return 1;
	}
	w->last_len = proto_key_encode(&e->key, w->last);
	if ((e->meta.flags & PROTO_REC_TOMBSTONE) || proto_dirent_decode(e->val, e->meta.len, &d) < 0)
		return 0; /* gone, or damaged (fsck's): looked up as usual */
	se = &w->ents[w->n++];
	se->hash = e->key.sub;
	se->attr.ino = d.ino;
	memcpy(se->name, e->key.name, e->key.name_len + 1u);
	return 0;
}

/*
 * Read the window of @dir that starts after @from (NULL: the directory's
 * first) into @w: its entries, then their attributes. 0 or -errno.
 */
static int sa_read(struct qfs_fs *fs, uint64_t dir, const struct sa_window *from,
		   struct sa_window *w)
{
	uint64_t inos[SA_PAGE];
	struct qfs_attr attrs[SA_PAGE];
	int rcs[SA_PAGE];
	bool more = true, after = from != NULL;
	int rc = 0;

	w->dir = dir;
	w->n = 0;
	w->more = false;
	if (from) {
		memcpy(w->last, from->last, from->last_len);
		w->last_len = from->last_len;
	} else {
		w->last_len = qfs_dirent_start_key(dir, 0, w->last);
	}
	while (more && w->n < SA_WINDOW && !w->more) {
		rc = qfs_quorum_list(fs->q, dir, PROTO_KIND_DIRENT, w->last, w->last_len, after,
				     SA_PAGE, sa_entry_cb, w, &more);
		if (rc < 0)
			return rc;
		after = true;
	}
	w->more = w->more || more;
	for (int i = 0; i < w->n; i += SA_PAGE) {
		int n = w->n - i < SA_PAGE ? w->n - i : SA_PAGE;

		for (int k = 0; k < n; k++)
			inos[k] = w->ents[i + k].attr.ino;
		qfs_getattr_many(fs, inos, attrs, rcs, n);
		for (int k = 0; k < n; k++) {
			w->ents[i + k].rc = rcs[k];
			if (rcs[k] == 0)
				w->ents[i + k].attr = attrs[k];
		}
	}
	return 0;
}

void qfs_sa_missed(struct qfs_fs *fs, uint64_t parent)
{
	struct qfs_statahead *sa = fs->sa;
	uint64_t writes, at;
	struct sa_window *w, *old;
	bool next;

	if (!sa)
		return;
	writes = qfs_quorum_writes(fs->q);
	pthread_mutex_lock(&sa->lock);
	if (parent == sa->miss_dir && writes == sa->miss_writes) {
		sa->misses++;
	} else {
		sa->miss_dir = parent;
		sa->miss_writes = writes;
		sa->misses = 1;
	}
	/* A fresh window of this directory that holds all of it: the name is
	 * newer than the window, nothing more to read. */
	next = sa_fresh(fs, sa->win, parent);
	if (sa->filling || sa->misses < SA_TRIGGER || (next && !sa->win->more)) {
		pthread_mutex_unlock(&sa->lock);
		return;
	}
	sa->filling = true;
	sa->misses = 0;
	pthread_mutex_unlock(&sa->lock);

	w = malloc(sizeof(*w));
	at = qfs_now_ns();
	/* sa->win is only replaced by the one filling, which is us */
	if (w && sa_read(fs, parent, next ? sa->win : NULL, w) == 0) {
		w->at_ns = at;
		w->writes = writes;
	} else {
		free(w);
		w = NULL;
	}

	pthread_mutex_lock(&sa->lock);
	old = NULL;
	if (w && qfs_quorum_writes(fs->q) == writes) { /* nothing written meanwhile */
		old = sa->win;
		sa->win = w;
		w = NULL;
	}
	sa->filling = false;
	pthread_mutex_unlock(&sa->lock);
	free(old);
	free(w);
}
