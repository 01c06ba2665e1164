// SPDX-License-Identifier: MIT
/*
 * fsck_ns.c - fsck.quorumfs's namespace pass: the tree as the records
 * define it (docs/fsck.md, "Namespace pass").
 *
 * A name is a live DIRENT in a live directory. The filesystem writes a
 * LINK before every name it makes and removes a name before its LINK
 * (fs/dir.c), so a crash leaves extra LINKs, never names without one; the
 * entry is therefore the truth, and the LINK set is made to match it:
 *  - an entry to a missing or deleted inode (dangling), or an entry of a
 *    deleted directory, is removed (with its LINK);
 *  - an entry without a LINK gets one (so a file left under two names by
 *    an interrupted rename keeps both, with nlink 2);
 *  - a LINK without its entry is removed;
 *  - a directory has one name: the newest entry is kept, others removed;
 *  - a live inode with no name: moved to /lost+found as "#<ino>" when it
 *    still had a LINK whose entry was never removed (an interrupted create,
 *    a lost name), when it is a directory with entries, or when its parent
 *    chain loops (a cycle from racing renames); with no such LINK it was
 *    unlinked: deleted once older than --grace (it may be open on a
 *    client until then), else counted as in grace;
 *  - a chunk of a missing or deleted inode, or past EOF (an old truncate
 *    epoch at or past the cut, or the current epoch past the size and older
 *    than --grace), is tombstoned.
 * Records younger than NS_SETTLE_MS are left alone (an operation in
 * flight), and every repair re-reads its records through the quorum first
 * (fsck_ns_fix.c).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mount-tools/fsck_ns_priv.h"

/* ---- report lines ---- */

/*
 * Account for one problem of kind @kind whose repair answered @rc (-n:
 * NS_FIX_DONE, nothing is tried) and print "namespace: WHAT[: outcome]".
 */
static void ns_problem(struct ns *ns, uint64_t *kind, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void ns_problem(struct ns *ns, uint64_t *kind, int rc, const char *fmt, ...)
{
	struct fsck_ns_stats *st = &ns->f->ns;
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (rc == NS_FIX_BUSY) {
		st->busy++;
		fsck_say(ns->f, "namespace: %s: changed since the scan, left alone\n", what);
		return;
	}
	(*kind)++;
	st->found++;
	if (!ns->f->repair) {
		st->left++;
		fsck_say(ns->f, "namespace: %s\n", what);
	} else if (rc == NS_FIX_DONE) {
		st->fixed++;
		fsck_say(ns->f, "namespace: %s: fixed\n", what);
	} else {
		st->failed++;
		st->left++;
		fsck_say(ns->f, "namespace: %s: repair failed: %s\n", what, strerror(-rc));
	}
}

/*
 * Garbage a normal workload leaves (chunks past a truncation, chunks of
 * deleted inodes): reported and freed with -y like a problem, but not
 * damage, so it never changes the exit code: a weekly `fsck -n` after
 * ordinary use exits 0.
 */
static void ns_garbage(struct ns *ns, uint64_t *kind, int rc, const char *what)
{
	struct fsck_ns_stats *st = &ns->f->ns;

	if (rc == NS_FIX_BUSY) {
		st->busy++;
		fsck_say(ns->f, "namespace: %s: changed since the scan, left alone\n", what);
		return;
	}
	(*kind)++;
	st->garbage++;
	if (!ns->f->repair) {
		fsck_say(ns->f, "namespace: %s (garbage, -y frees it)\n", what);
	} else if (rc == NS_FIX_DONE) {
		st->garbage_freed++;
		fsck_say(ns->f, "namespace: %s: freed\n", what);
	} else {
		fsck_say(ns->f, "namespace: %s: not freed: %s\n", what, strerror(-rc));
	}
}

/* Path of directory @dir by its kept names: "/a/b", or "<inode N>/b" when
 * its chain does not reach the root within 32 levels. */
static const char *ns_dir_path(struct ns *ns, uint64_t dir, char *buf, size_t len)
{
	uint32_t up[32];
	int n = 0, off;
	struct ns_ino *i = ns_ino_find(ns, dir);

	while (i && i->ino != PROTO_ROOT_INO && i->keep != NS_NONE && n < 32) {
		up[n++] = i->keep;
		i = ns_ino_find(ns, ns->dents[i->keep].dir);
	}
	if (i && i->ino == PROTO_ROOT_INO)
		off = snprintf(buf, len, "%s", n ? "" : "/");
	else
		off = snprintf(buf, len, "<inode %" PRIu64 ">", i ? i->ino : dir);
	while (n-- > 0 && off >= 0 && (size_t)off < len) {
		const struct ns_dent *d = &ns->dents[up[n]];

		off += snprintf(buf + off, len - (size_t)off, "/%.*s", (int)d->name_len,
				ns_name(ns, d->name_off));
	}
	return buf;
}

/* "DIR/NAME" of an entry. */
static const char *ns_dent_path(struct ns *ns, const struct ns_dent *d, char *buf, size_t len)
{
	char dir[512];

	ns_dir_path(ns, d->dir, dir, sizeof(dir));
	snprintf(buf, len, "%s%s%.*s", dir, strcmp(dir, "/") ? "/" : "", (int)d->name_len,
		 ns_name(ns, d->name_off));
	return buf;
}

/* ---- the checks ---- */

/* Entries: which name a live inode (names[]), which dangle or sit in a
 * deleted directory. Returns 0 or -ENOMEM. */
static int ns_index_names(struct ns *ns)
{
	size_t total = 0;

	for (size_t k = 0; k < ns->ndents; k++) {
		struct ns_dent *d = &ns->dents[k];
		struct ns_ino *dir = ns_ino_find(ns, d->dir), *t;

		if (!ns_settled(ns, d->ver_ms))
			d->flags |= NS_D_RECENT;
		if (!dir || dir->state == NS_BAD)
			continue;
		if (!ns_is_dir(dir)) {
			d->flags |= NS_D_DEADDIR;
			continue;
		}
		t = ns_ino_find(ns, d->ino);
		if (t && t->state == NS_BAD)
			continue;
		if (!t || t->state != NS_LIVE) {
			d->flags |= NS_D_DANGLING;
			continue;
		}
		t->nname++;
		total++;
	}
	ns->names = malloc((total ? total : 1) * sizeof(*ns->names));
	if (!ns->names)
		return -ENOMEM;
	total = 0;
	for (size_t k = 0; k < ns->ninos; k++) {
		ns->inos[k].name_first = (uint32_t)total;
		total += ns->inos[k].nname;
		ns->inos[k].nname = 0;
	}
	for (size_t k = 0; k < ns->ndents; k++) {
		struct ns_dent *d = &ns->dents[k];
		struct ns_ino *t;

		if (d->flags & (NS_D_DEADDIR | NS_D_DANGLING))
			continue;
		t = ns_ino_find(ns, d->ino);
		if (!t || t->state != NS_LIVE || !ns_is_dir(ns_ino_find(ns, d->dir)))
			continue;
		d->flags |= NS_D_NAME;
		ns->names[t->name_first + t->nname++] = (uint32_t)k;
	}
	return 0;
}

/* LINK key order within an inode: parent, then name (shorter first on a
 * common prefix). */
static int ns_link_cmp(const struct ns *ns, const struct ns_link *l, uint64_t parent,
		       const char *name, size_t len)
{
	int c;

	if (l->parent != parent)
		return l->parent < parent ? -1 : 1;
	c = memcmp(ns_name(ns, l->name_off), name, l->name_len < len ? l->name_len : len);
	if (c)
		return c;
	return l->name_len < len ? -1 : l->name_len > len ? 1 : 0;
}

/* Pair every name with its LINK (binary search in the inode's links). */
static void ns_match_links(struct ns *ns)
{
	for (size_t k = 0; k < ns->ninos; k++) {
		const struct ns_ino *t = &ns->inos[k];

		for (uint32_t j = 0; j < t->nname; j++) {
			struct ns_dent *d = &ns->dents[ns->names[t->name_first + j]];
			size_t lo = 0, hi = t->nlink;

			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				struct ns_link *l = &ns->links[t->link_first + mid];
				int c = ns_link_cmp(ns, l, d->dir, ns_name(ns, d->name_off),
						    d->name_len);

				if (c == 0) {
					l->flags |= NS_L_MATCHED;
					d->flags |= NS_D_LINKED;
					break;
				}
				if (c < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
		}
	}
}

/* Is the entry of LINK @l one that is removed with its LINK (dangling, or
 * of a deleted directory)? A linear look at that directory's entries: only
 * unmatched LINKs ask. */
static bool ns_link_goes_with_entry(const struct ns *ns, struct ns_ino *dir,
				    const struct ns_link *l)
{
	for (uint32_t j = 0; dir && j < dir->ndent; j++) {
		const struct ns_dent *d = &ns->dents[dir->dent_first + j];

		if (d->ino == l->ino && d->name_len == l->name_len &&
		    !memcmp(ns_name(ns, d->name_off), ns_name(ns, l->name_off), l->name_len))
			return d->flags & (NS_D_DANGLING | NS_D_DEADDIR);
	}
	return false;
}

/* Unmatched LINKs: stray; those of live inodes are looked up (quorum) to
 * tell a removed name (stale) from one never written. 0 or -errno. */
static int ns_classify_links(struct ns *ns)
{
	for (size_t k = 0; k < ns->nlinks; k++) {
		struct ns_link *l = &ns->links[k];
		struct ns_ino *t = ns_ino_find(ns, l->ino);
		int rc;

		if (l->flags & NS_L_MATCHED || !t || t->state == NS_BAD)
			continue;
		if (!ns_link_goes_with_entry(ns, ns_ino_find(ns, l->parent), l))
			l->flags |= NS_L_STRAY;
		if (t->state != NS_LIVE)
			continue;
		rc = ns_link_classify(ns, l);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A directory keeps one name: the newest entry (the root none). */
static void ns_pick_keepers(struct ns *ns)
{
	for (size_t k = 0; k < ns->ninos; k++) {
		struct ns_ino *t = &ns->inos[k];
		uint32_t best = NS_NONE;

		if (!ns_is_dir(t) || !t->nname)
			continue;
		for (uint32_t j = 0; j < t->nname && t->ino != PROTO_ROOT_INO; j++) {
			uint32_t di = ns->names[t->name_first + j];

			if (best == NS_NONE || ns->dents[di].ver_ms > ns->dents[best].ver_ms)
				best = di;
		}
		t->keep = best;
		for (uint32_t j = 0; j < t->nname; j++) {
			uint32_t di = ns->names[t->name_first + j];

			if (di != best)
				ns->dents[di].flags |= NS_D_EXTRA;
		}
	}
}

/* Mark @start and everything under it reached (kept names only for
 * directories); @queue has room for every inode. */
static void ns_bfs(struct ns *ns, struct ns_ino *start, uint32_t *queue)
{
	size_t head = 0, tail = 0;

	start->flags |= NS_I_REACHED;
	queue[tail++] = (uint32_t)(start - ns->inos);
	while (head < tail) {
		const struct ns_ino *dir = &ns->inos[queue[head++]];

		for (uint32_t j = 0; j < dir->ndent; j++) {
			uint32_t di = dir->dent_first + j;
			const struct ns_dent *d = &ns->dents[di];
			struct ns_ino *t;

			if (d->flags & (NS_D_DANGLING | NS_D_DEADDIR))
				continue;
			t = ns_ino_find(ns, d->ino);
			if (!t || t->state != NS_LIVE || (t->flags & NS_I_REACHED))
				continue;
			if (ns_is_dir(t) && t->keep != di)
				continue;
			t->flags |= NS_I_REACHED;
			if (ns_is_dir(t))
				queue[tail++] = (uint32_t)(t - ns->inos);
		}
	}
}

/* Newest stamp of an orphan: its inode, and its LINKs (a stale LINK's
 * stamp includes the removal of its entry). */
static uint64_t ns_orphan_ms(const struct ns *ns, const struct ns_ino *t)
{
	uint64_t ms = t->ver_ms;

	for (uint32_t j = 0; j < t->nlink; j++)
		if (ns->links[t->link_first + j].ver_ms > ms)
			ms = ns->links[t->link_first + j].ver_ms;
	return ms;
}

/* What becomes of unreachable inode @t (not in a cycle). */
static void ns_orphan_decide(struct ns *ns, struct ns_ino *t)
{
	bool named = ns_is_dir(t) && t->ndent > 0;
	uint64_t ms = ns_orphan_ms(ns, t);

	for (uint32_t j = 0; j < t->nlink && !named; j++)
		if (!(ns->links[t->link_first + j].flags & NS_L_STALE))
			named = true;
	if (!ns_settled(ns, ms))
		ns->f->ns.busy++;
	else if (named)
		t->flags |= NS_I_MOVE;
	else if (ms + ns->f->grace_s * 1000 <= ns->now_ms)
		t->flags |= NS_I_DELETE;
	else
		t->flags |= NS_I_GRACE;
}

/*
 * Reachability: from the root, then from the top of every directory chain
 * left over (a directory without a name, or one whose parent chain loops),
 * which is attached to /lost+found (or, with -n, as if it were). Then
 * other inodes without a name. Returns 0 or -ENOMEM.
 */
static int ns_reach(struct ns *ns, struct ns_ino *root)
{
	uint32_t *queue = malloc((ns->ninos ? ns->ninos : 1) * sizeof(*queue));

	if (!queue)
		return -ENOMEM;
	ns_bfs(ns, root, queue);
	for (size_t k = 0; k < ns->ninos; k++) {
		struct ns_ino *t = &ns->inos[k], *cur = t, *top = NULL;
		bool cycle = false;

		if (!ns_is_dir(t) || (t->flags & NS_I_REACHED))
			continue;
		for (size_t steps = 0; steps <= ns->ninos; steps++) {
			if (cur->flags & NS_I_REACHED)
				break; /* under a chain attached meanwhile */
			if (cur->flags & NS_I_WALK) {
				top = cur;
				cycle = true;
				break;
			}
			cur->flags |= NS_I_WALK;
			if (cur->keep == NS_NONE) {
				top = cur;
				break;
			}
			cur = ns_ino_find(ns, ns->dents[cur->keep].dir);
		}
		for (cur = t; cur && (cur->flags & NS_I_WALK);) {
			cur->flags &= (uint8_t)~NS_I_WALK;
			cur = cur->keep == NS_NONE ? NULL : ns_ino_find(ns, ns->dents[cur->keep].dir);
		}
		if (!top)
			continue;
		if (!cycle)
			ns_orphan_decide(ns, top);
		else if (!ns_settled(ns, top->ver_ms) || !ns_settled(ns, ns->dents[top->keep].ver_ms))
			ns->f->ns.busy++;
		else
			top->flags |= NS_I_MOVE | NS_I_CYCLE;
		ns_bfs(ns, top, queue);
	}
	free(queue);
	for (size_t k = 0; k < ns->ninos; k++) {
		struct ns_ino *t = &ns->inos[k];

		if (t->state == NS_LIVE && !(t->flags & NS_I_REACHED) && t->ino != PROTO_ROOT_INO)
			ns_orphan_decide(ns, t);
	}
	return 0;
}

/* ---- the repairs, in an order that never leaves less than it found ---- */

static void ns_do_entries(struct ns *ns)
{
	struct fsck_ns_stats *st = &ns->f->ns;
	char path[1024];

	/* names without LINKs first: a name is the truth */
	for (size_t k = 0; k < ns->ndents; k++) {
		const struct ns_dent *d = &ns->dents[k];

		if (!(d->flags & NS_D_NAME) || (d->flags & (NS_D_LINKED | NS_D_EXTRA)))
			continue;
		if (d->flags & NS_D_RECENT) {
			st->busy++;
			continue;
		}
		ns_problem(ns, &st->missing_links, ns->f->repair ? ns_fix_missing_link(ns, d) : 0,
			   "%s: entry without its LINK (inode %" PRIu64 "): LINK restored",
			   ns_dent_path(ns, d, path, sizeof(path)), d->ino);
	}
}

static void ns_do_moves(struct ns *ns)
{
	struct fsck_ns_stats *st = &ns->f->ns;

	for (size_t k = 0; k < ns->ninos; k++) {
		const struct ns_ino *t = &ns->inos[k];
		uint64_t *kind = (t->flags & NS_I_CYCLE) ? &st->cycles : &st->lost_found;

		if (!(t->flags & NS_I_MOVE))
			continue;
		ns_problem(ns, kind, ns->f->repair ? ns_fix_move(ns, t) : 0,
			   "%s %" PRIu64 ": %s: moved to /%s/#%" PRIu64,
			   ns_is_dir(t) ? "directory" : "inode", t->ino,
			   (t->flags & NS_I_CYCLE) ? "its parent chain loops (a cycle)"
						   : "reachable from no directory",
			   NS_LOST_FOUND, t->ino);
	}
}

static void ns_do_removals(struct ns *ns)
{
	struct fsck_ns_stats *st = &ns->f->ns;
	char path[1024];

	for (size_t k = 0; k < ns->ndents; k++) {
		const struct ns_dent *d = &ns->dents[k];
		uint32_t why = d->flags & (NS_D_EXTRA | NS_D_DEADDIR | NS_D_DANGLING);
		uint64_t *kind;
		const char *what;

		if (!why)
			continue;
		if (d->flags & NS_D_RECENT) {
			st->busy++;
			continue;
		}
		if (why & NS_D_DEADDIR) {
			why = NS_D_DEADDIR;
			kind = &st->dead_dir_entries;
			what = "entry of a deleted directory";
		} else if (why & NS_D_DANGLING) {
			why = NS_D_DANGLING;
			kind = &st->dangling;
			what = "entry to a missing or deleted inode";
		} else {
			kind = &st->extra_dir_names;
			what = d->ino == PROTO_ROOT_INO ? "a name of the root directory"
							: "a second name of a directory";
		}
		ns_problem(ns, kind, ns->f->repair ? ns_fix_remove_entry(ns, d, why) : 0,
			   "%s: %s (inode %" PRIu64 "): removed",
			   ns_dent_path(ns, d, path, sizeof(path)), what, d->ino);
	}
}

static void ns_do_links(struct ns *ns)
{
	struct fsck_ns_stats *st = &ns->f->ns;

	for (size_t k = 0; k < ns->nlinks; k++) {
		const struct ns_link *l = &ns->links[k];

		if (!(l->flags & NS_L_STRAY))
			continue;
		if (!ns_settled(ns, l->ver_ms)) {
			st->busy++;
			continue;
		}
		ns_problem(ns, &st->stray_links, ns->f->repair ? ns_fix_stray_link(ns, l) : 0,
			   "link(%" PRIu64 ", %" PRIu64 ", %.*s): no entry of that name (%s): removed",
			   l->ino, l->parent, (int)l->name_len, ns_name(ns, l->name_off),
			   (l->flags & NS_L_STALE) ? "the name was removed" : "never made or lost");
	}
}

static void ns_do_deletes(struct ns *ns)
{
	struct fsck_ns_stats *st = &ns->f->ns;

	for (size_t k = 0; k < ns->ninos; k++) {
		struct ns_ino *t = &ns->inos[k];
		int rc;

		if (t->flags & NS_I_GRACE) {
			st->in_grace++;
			fsck_say(ns->f, "namespace: inode %" PRIu64 ": no name and no link, younger "
					"than --grace (maybe open on a client): left\n", t->ino);
		}
		if (!(t->flags & NS_I_DELETE))
			continue;
		rc = ns->f->repair ? ns_fix_delete(ns, t) : 0;
		ns_problem(ns, &st->orphans_deleted, rc,
			   "inode %" PRIu64 ": no name and no link for longer than --grace: deleted",
			   t->ino);
		if (ns->f->repair && rc == NS_FIX_DONE)
			t->state = NS_DELETED; /* its chunks go in the chunk step */
	}
}

static void ns_do_chunks(struct ns *ns)
{
	struct fsck_ns_stats *st = &ns->f->ns;

	for (size_t k = 0; k < ns->nchunks; k++) {
		struct ns_chunk *c = &ns->chunks[k];
		const struct ns_ino *t = ns_ino_find(ns, c->ino);
		uint64_t ms = c->ver.hlc >> 16;
		char what[160];
		bool orphan;

		if (c->tomb)
			continue;
		st->chunks++;
		if (t && (t->state == NS_BAD || ((t->flags & NS_I_DELETE) && !ns->f->repair)))
			continue; /* undecodable, or freed with its inode by -y */
		orphan = !t || t->state == NS_ABSENT || t->state == NS_DELETED;
		if (!orphan && (!S_ISREG(t->mode) ||
				!ns_chunk_dead(ns, c->index, c->epoch, t->size, t->epoch,
					       ns->truncs + t->trunc_first, t->ntrunc, ms)))
			continue;
		if (!ns_settled(ns, ms)) {
			st->busy++;
			continue;
		}
		snprintf(what, sizeof(what), "chunk(%" PRIu64 ",%" PRIu64 ") epoch %" PRIu64 ": %s",
			 c->ino, c->index, c->epoch,
			 orphan ? "its inode is missing or deleted" : "past the end of the file");
		ns_garbage(ns, orphan ? &st->chunks_orphaned : &st->chunks_past_eof,
			   ns->f->repair ? ns_fix_chunk(ns, c) : 0, what);
	}
}

static void ns_count(struct ns *ns)
{
	struct fsck_ns_stats *st = &ns->f->ns;

	for (size_t k = 0; k < ns->ninos; k++) {
		st->inodes += ns->inos[k].state == NS_LIVE;
		st->dirs += ns_is_dir(&ns->inos[k]);
		if (ns->inos[k].state == NS_BAD) {
			st->bad_records++;
			st->found++;
			st->left++;
			fsck_say(ns->f, "namespace: inode %" PRIu64 ": undecodable record: left as "
					"is\n", ns->inos[k].ino);
		}
	}
	st->entries = ns->ndents;
	st->links = ns->nlinks;
}

int fsck_ns_pass(struct fsck *f)
{
	struct ns ns = { .f = f };
	struct ns_ino *root;
	int rc;

	rc = ns_load(&ns);
	if (rc < 0)
		goto out;
	ns_count(&ns);
	root = ns_ino_find(&ns, PROTO_ROOT_INO);
	if (!ns_is_dir(root)) {
		f->ns.found++;
		f->ns.left++;
		fsck_say(f, "namespace: the root directory is missing or not a directory: "
			    "namespace not checked (mkfs.quorumfs makes it)\n");
		f->ns.ran = true;
		goto out;
	}
	rc = ns_index_names(&ns);
	if (rc < 0)
		goto out;
	ns_match_links(&ns);
	rc = ns_classify_links(&ns);
	if (rc < 0)
		goto out;
	ns_pick_keepers(&ns);
	rc = ns_reach(&ns, root);
	if (rc < 0)
		goto out;
	ns_do_entries(&ns);
	ns_do_moves(&ns);
	ns_do_removals(&ns);
	ns_do_links(&ns);
	ns_do_deletes(&ns);
	ns_do_chunks(&ns);
	f->ns.ran = true;
out:
	if (rc < 0)
		fprintf(stderr, "fsck.quorumfs: namespace pass abandoned: %s\n", strerror(-rc));
	ns_free(&ns);
	return rc;
}

/* ---- reports ---- */

void fsck_ns_report_text(const struct fsck *f)
{
	const struct fsck_ns_stats *st = &f->ns;

	if (!st->ran)
		return;
	printf("fsck.quorumfs: namespace: %" PRIu64 " inodes (%" PRIu64 " directories), %" PRIu64
	       " entries, %" PRIu64 " links, %" PRIu64 " chunks: %" PRIu64 " problems, %" PRIu64
	       " fixed, %" PRIu64 " failed, %" PRIu64 " left uncorrected (%" PRIu64
	       " in grace, %" PRIu64 " busy); %" PRIu64 " garbage chunks, %" PRIu64 " freed\n",
	       st->inodes, st->dirs, st->entries, st->links, st->chunks, st->found, st->fixed,
	       st->failed, st->left, st->in_grace, st->busy, st->garbage, st->garbage_freed);
}

json_t *fsck_ns_json(const struct fsck *f)
{
	const struct fsck_ns_stats *st = &f->ns;
	const struct {
		const char *name;
		uint64_t v;
	} fields[] = {
		{ "inodes", st->inodes },
		{ "directories", st->dirs },
		{ "entries", st->entries },
		{ "links", st->links },
		{ "chunks", st->chunks },
		{ "dangling", st->dangling },
		{ "dead_dir_entries", st->dead_dir_entries },
		{ "missing_links", st->missing_links },
		{ "stray_links", st->stray_links },
		{ "extra_dir_names", st->extra_dir_names },
		{ "lost_found", st->lost_found },
		{ "cycles", st->cycles },
		{ "orphans_deleted", st->orphans_deleted },
		{ "chunks_past_eof", st->chunks_past_eof },
		{ "chunks_orphaned", st->chunks_orphaned },
		{ "bad_records", st->bad_records },
		{ "in_grace", st->in_grace },
		{ "busy", st->busy },
		{ "found", st->found },
		{ "fixed", st->fixed },
		{ "failed", st->failed },
		{ "left", st->left },
		{ "garbage", st->garbage },
		{ "garbage_freed", st->garbage_freed },
	};
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "checked", json_boolean(st->ran));
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
		json_object_set_new(o, fields[k].name, json_integer((json_int_t)fields[k].v));
	return o;
}
