// SPDX-License-Identifier: MIT
/*
 * statahead.c - lookups answered from a directory read ahead.
 *
 * A program that stats the files of a directory one by one (find, rsync,
 * tar c, a backup tool, a build checking timestamps) sends the kernel's
 * LOOKUP for each name, and each costs two quorum round trips: the entry,
 * then the inode. When SA_TRIGGER lookups in one directory had to ask
 * the replicas, with no write by this client in between, the lookup
 * that saw the last of them also reads the directory ahead: up to SA_WINDOW
 * entries in LIST pages, then their inodes with QFS_GETATTR_PARALLEL reads
 * in flight. Later lookups of those names are answered from memory.
 * Directories are followed separately (up to SA_DIRS of them, least
 * recently used first out), so a program that goes round several
 * directories in turn is read ahead in each.
 *
 * An answer is used only while it is fresh in both senses the kernel's own
 * caches give (docs/consistency.md): younger than the mount's attribute and
 * entry timeouts, and read after the last write this client completed
 * (qfs_quorum_writes() unchanged since the window was read), so this client
 * always sees its own changes. A name missing from the window is looked up
 * as usual: the window never answers "absent". A directory longer than a
 * window is read window by window as lookups miss past its end (a
 * directory keeps up to SA_DIR_WINDOWS of them). Memory is bounded by
 * SA_WINDOWS_MAX windows.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/call.h"
#include "fs/fs_priv.h"
#include "fs/statahead.h"

#define SA_WINDOW 512	  /* entries read ahead at once */
#define SA_PAGE 256	  /* entries per LIST page */
#define SA_TRIGGER 4	  /* lookups in one directory that asked the replicas */
#define SA_DIRS 32	  /* directories followed at once */
#define SA_DIR_WINDOWS 4  /* windows one directory may hold (2,048 entries) */
#define SA_WINDOWS_MAX 32 /* windows over all directories: ~2 MiB */

struct sa_entry {
	uint64_t hash;	   /* proto_name_hash63 of the name */
	int rc;		   /* of its getattr */
	uint32_t name_off; /* into the window's names */
	struct qfs_attr attr;
};

struct sa_window {
	uint64_t at_ns;	 /* when its reading started */
	uint64_t writes; /* qfs_quorum_writes() then */
	bool more;	 /* the directory goes on after it */
	uint8_t last[PROTO_KEY_MAX]; /* its last key, where the next starts */
	size_t last_len;
	int n;
	struct sa_entry ents[SA_WINDOW];
	size_t names_len;
	char names[SA_WINDOW * 16]; /* NUL-terminated; the window ends when full */
};

/* What is known of one directory. */
struct sa_dir {
	uint64_t dir;	      /* 0: free slot */
	uint64_t used_ns;     /* last lookup: the least recent goes first */
	uint64_t miss_writes; /* lookups that asked the replicas, after which write */
	unsigned misses;      /* and how many since */
	struct sa_window *win[SA_DIR_WINDOWS]; /* in directory order up to tail */
	int nwin;
};

struct qfs_statahead {
	uint64_t ttl_ns;	/* immutable */
	pthread_mutex_t lock;	/* everything below */
	bool filling;		/* a read-ahead runs (one at a time) */
	int nwin;		/* windows over all directories */
	struct sa_dir dirs[SA_DIRS];
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
	for (int i = 0; i < SA_DIRS; i++)
		for (int k = 0; k < sa->dirs[i].nwin; k++)
			free(sa->dirs[i].win[k]);
	free(sa);
}

/* Forget the windows of @d (sa->lock held). */
static void sa_forget(struct qfs_statahead *sa, struct sa_dir *d)
{
	for (int k = 0; k < d->nwin; k++)
		free(d->win[k]);
	sa->nwin -= d->nwin;
	d->nwin = 0;
}

/* The slot of @dir; with @make, a new one (a free or the least recently used
 * slot) when it has none. NULL otherwise. sa->lock held. */
static struct sa_dir *sa_dir(struct qfs_statahead *sa, uint64_t dir, bool make)
{
	struct sa_dir *d = NULL, *lru = &sa->dirs[0];

	for (int i = 0; i < SA_DIRS; i++) {
		if (sa->dirs[i].dir == dir)
			return &sa->dirs[i];
		if (!sa->dirs[i].dir && !d)
			d = &sa->dirs[i];
		if (sa->dirs[i].used_ns < lru->used_ns)
			lru = &sa->dirs[i];
	}
	if (!make)
		return NULL;
	if (!d)
		d = lru;
	sa_forget(sa, d);
	memset(d, 0, sizeof(*d));
	d->dir = dir;
	d->used_ns = qfs_now_ns();
	return d;
}

/* Window @w may answer (sa->lock held). */
static bool sa_fresh(struct qfs_fs *fs, const struct sa_window *w)
{
	return qfs_now_ns() - w->at_ns < fs->sa->ttl_ns && qfs_quorum_writes(fs->q) == w->writes;
}

/* The last window of @d read, when it may answer (sa->lock held). */
static const struct sa_window *sa_tail(struct qfs_fs *fs, const struct sa_dir *d)
{
	return d->nwin && sa_fresh(fs, d->win[d->nwin - 1]) ? d->win[d->nwin - 1] : NULL;
}

bool qfs_sa_lookup(struct qfs_fs *fs, uint64_t parent, const char *name, struct qfs_attr *a)
{
	struct qfs_statahead *sa = fs->sa;
	struct sa_dir *d;
	uint64_t h;
	bool hit = false;

	if (!sa)
		return false;
	h = proto_name_hash63(name, strlen(name));
	pthread_mutex_lock(&sa->lock);
	d = sa_dir(sa, parent, false);
	for (int k = 0; d && k < d->nwin && !hit; k++) {
		const struct sa_window *w = d->win[k];

		if (!sa_fresh(fs, w))
			continue;
		d->used_ns = qfs_now_ns();
		for (int i = 0; i < w->n; i++) {
			const struct sa_entry *e = &w->ents[i];

			if (e->hash == h && e->rc == 0 && !strcmp(w->names + e->name_off, name)) {
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
	if (w->n == SA_WINDOW || w->names_len + e->key.name_len + 1u > sizeof(w->names)) {
		w->more = true; /* full: the next window starts here */
		return 1;
	}
	w->last_len = proto_key_encode(&e->key, w->last);
	if ((e->meta.flags & PROTO_REC_TOMBSTONE) || proto_dirent_decode(e->val, e->meta.len, &d) < 0)
		return 0; /* gone, or damaged (fsck's): looked up as usual */
	se = &w->ents[w->n++];
	se->hash = e->key.sub;
	se->attr.ino = d.ino;
	se->name_off = (uint32_t)w->names_len;
	memcpy(w->names + w->names_len, e->key.name, e->key.name_len + 1u);
	w->names_len += e->key.name_len + 1u;
	return 0;
}

/*
 * Read the window of @dir that starts after key @from (@from_len 0: the
 * directory's first) into @w: its entries, then their attributes.
 */
static int sa_read(struct qfs_fs *fs, uint64_t dir, const uint8_t *from, size_t from_len,
		   struct sa_window *w)
{
	uint64_t inos[SA_PAGE];
	struct qfs_attr attrs[SA_PAGE];
	int rcs[SA_PAGE];
	bool more = true, after = from_len > 0;
	int rc;

	w->n = 0;
	w->names_len = 0;
	w->more = false;
	if (from_len) {
		memcpy(w->last, from, from_len);
		w->last_len = from_len;
	} else {
		w->last_len = qfs_dirent_start_key(dir, 0, w->last);
	}
	while (more && !w->more) {
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

/*
 * Add @w to the windows of @dir (the first one when @first: the others go)
 * if nothing was written since @writes (it might miss a write of ours).
 * Beyond SA_DIR_WINDOWS the directory's oldest goes, beyond SA_WINDOWS_MAX
 * the least recently used directory's. sa->lock held. Returns what is left
 * to free.
 */
static struct sa_window *sa_install(struct qfs_fs *fs, uint64_t dir, uint64_t writes,
				    bool first, struct sa_window *w)
{
	struct qfs_statahead *sa = fs->sa;
	struct sa_dir *d;

	if (qfs_quorum_writes(fs->q) != writes)
		return w;
	d = sa_dir(sa, dir, true);
	if (first)
		sa_forget(sa, d);
	if (d->nwin == SA_DIR_WINDOWS) {
		free(d->win[0]);
		memmove(d->win, d->win + 1, (SA_DIR_WINDOWS - 1) * sizeof(d->win[0]));
		d->nwin--;
		sa->nwin--;
	}
	while (sa->nwin >= SA_WINDOWS_MAX) {
		struct sa_dir *lru = NULL;

		for (int i = 0; i < SA_DIRS; i++)
			if (sa->dirs[i].nwin && &sa->dirs[i] != d &&
			    (!lru || sa->dirs[i].used_ns < lru->used_ns))
				lru = &sa->dirs[i];
		if (!lru)
			break;
		sa_forget(sa, lru);
	}
	d->win[d->nwin++] = w;
	sa->nwin++;
	d->used_ns = qfs_now_ns();
	return NULL;
}

void qfs_sa_missed(struct qfs_fs *fs, uint64_t parent)
{
	struct qfs_statahead *sa = fs->sa;
	uint8_t from[PROTO_KEY_MAX];
	size_t from_len = 0;
	const struct sa_window *tail;
	struct sa_window *w;
	struct sa_dir *d;
	uint64_t writes, at;

	if (!sa)
		return;
	writes = qfs_quorum_writes(fs->q);
	pthread_mutex_lock(&sa->lock);
	d = sa_dir(sa, parent, true);
	d->used_ns = qfs_now_ns();
	if (d->misses && d->miss_writes == writes) {
		d->misses++;
	} else {
		d->miss_writes = writes;
		d->misses = 1;
	}
	/* Its last window fresh and the directory's end: the name is newer
	 * than the windows, nothing more to read. */
	tail = sa_tail(fs, d);
	if (sa->filling || d->misses < SA_TRIGGER || (tail && !tail->more)) {
		pthread_mutex_unlock(&sa->lock);
		return;
	}
	if (tail) { /* the name lies past the windows: read the next one */
		memcpy(from, tail->last, tail->last_len);
		from_len = tail->last_len;
	}
	sa->filling = true;
	d->misses = 0;
	pthread_mutex_unlock(&sa->lock);

	at = qfs_now_ns();
	w = malloc(sizeof(*w));
	if (w && sa_read(fs, parent, from, from_len, w) == 0) {
		w->at_ns = at;
		w->writes = writes;
	} else {
		free(w);
		w = NULL;
	}

	pthread_mutex_lock(&sa->lock);
	if (w)
		w = sa_install(fs, parent, writes, from_len == 0, w);
	sa->filling = false;
	pthread_mutex_unlock(&sa->lock);
	free(w);
}
