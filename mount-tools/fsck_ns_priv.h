/* SPDX-License-Identifier: MIT */
/*
 * fsck_ns_priv.h - the namespace pass's in-memory view, shared by
 * fsck_ns.c (checks and report), fsck_ns_load.c (reading the records) and
 * fsck_ns_fix.c (repairs). Private to those files.
 *
 * The view is compact: one struct ns_ino per inode (found in an open
 * addressing table keyed by inode number), one struct ns_dent per live
 * directory entry, one struct ns_link per live LINK, one struct ns_chunk
 * per live chunk, names in one arena. A directory's entries and an
 * inode's links are contiguous (each partition is read in key order), so
 * they are ranges, not lists. Bytes per record are given in docs/fsck.md.
 */
#ifndef QFS_FSCK_NS_PRIV_H
#define QFS_FSCK_NS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mount-tools/fsck.h"
#include "proto/record.h"

#define NS_NONE UINT32_MAX
#define NS_SETTLE_MS 5000u	/* records younger than this are left alone */
#define NS_LIST_PAGE 1024	/* LIST entries per page while loading */
#define NS_MAX_DEPTH 4096	/* parent chains longer than this are not walked */
#define NS_LOST_FOUND "lost+found"

enum ns_state { NS_ABSENT, NS_LIVE, NS_DELETED, NS_BAD };

/* ns_ino.flags */
#define NS_I_REACHED 0x01	/* reachable from the root (or will be, once moved) */
#define NS_I_MOVE 0x02		/* to be moved to /lost+found */
#define NS_I_CYCLE 0x04		/* ...because its parent chain loops */
#define NS_I_DELETE 0x08	/* an orphan with no link, past the grace period */
#define NS_I_WALK 0x10		/* on the parent chain being walked */
#define NS_I_GRACE 0x20		/* an orphan inside the grace period */

struct ns_ino {
	uint64_t ino;
	uint64_t parent;	/* parent register */
	uint64_t size, epoch;	/* size group */
	uint64_t ver_ms;	/* wall-clock ms of its newest register */
	uint32_t mode;
	uint32_t dent_first, ndent;	/* its entries (a directory's), in ns->dents */
	uint32_t link_first, nlink;	/* its live LINKs, in ns->links */
	uint32_t name_first, nname;	/* ns->names[]: live entries naming it */
	uint32_t trunc_first;		/* its truncation points, in ns->truncs */
	uint32_t keep;			/* a directory's one name (a dent), or NS_NONE */
	uint8_t ntrunc;
	uint8_t state;			/* enum ns_state */
	uint8_t flags;			/* NS_I_* */
};

/* ns_dent.flags */
#define NS_D_LINKED 0x01	/* a live LINK backs it */
#define NS_D_DANGLING 0x02	/* target missing or deleted */
#define NS_D_DEADDIR 0x04	/* in a deleted (or missing) directory */
#define NS_D_EXTRA 0x08		/* a directory's name other than the kept one */
#define NS_D_RECENT 0x10	/* younger than NS_SETTLE_MS */
#define NS_D_NAME 0x20		/* a name: live, in a live directory, of a live inode */

struct ns_dent {
	uint64_t dir, ino;	/* where, and what it names */
	uint64_t ver_ms;
	uint32_t name_off;	/* in ns->arena */
	uint16_t name_len;
	uint8_t type;		/* DT_* */
	uint8_t flags;		/* NS_D_* */
};

/* ns_link.flags */
#define NS_L_MATCHED 0x01	/* a live entry in a live directory names it */
#define NS_L_STALE 0x02		/* its entry was removed after it was written */
#define NS_L_STRAY 0x04		/* unmatched: to be tombstoned */

struct ns_link {
	uint64_t ino, parent;
	uint64_t ver_ms;
	uint32_t name_off;
	uint16_t name_len;
	uint8_t flags;		/* NS_L_* */
};

/* ns_chunk.fix */
enum { NS_C_OK, NS_C_PAST_EOF, NS_C_ORPHAN };

struct ns_chunk {
	uint64_t ino, index, epoch;
	struct proto_version ver;	/* newest copy any daemon showed */
	uint8_t tomb;			/* that copy is a tombstone */
	uint8_t fix;			/* NS_C_* */
};

/* Open addressing table: slots hold an array index + 1 (0 = empty). */
struct ns_map {
	uint32_t *slot;
	size_t cap, n;		/* cap: power of two, load kept under 1/2 */
};

struct ns {
	struct fsck *f;
	uint32_t chunk_size;
	uint64_t now_ms;

	struct ns_ino *inos;
	size_t ninos, cap_inos;
	struct ns_map ino_map;

	struct ns_dent *dents;
	size_t ndents, cap_dents;
	struct ns_link *links;
	size_t nlinks, cap_links;
	uint32_t *names;		/* dent indexes grouped by target (ns_ino.name_*) */
	struct proto_trunc *truncs;
	size_t ntruncs, cap_truncs;

	struct ns_chunk *chunks;
	size_t nchunks, cap_chunks;
	struct ns_map chunk_map;

	char *arena;			/* names, not NUL-terminated */
	size_t arena_len, arena_cap;

	uint64_t lf_ino;		/* /lost+found, 0 until known */
	bool lf_checked;		/* looked for (and, with -y, made) */
};

/* ---- fsck_ns_load.c ---- */

/* The inode @ino of the view, or NULL. */
struct ns_ino *ns_ino_find(struct ns *ns, uint64_t ino);
/* Read every record the pass needs: SCAN each daemon for partitions and
 * chunks, then LIST each partition through the quorum. 0 or -errno. */
int ns_load(struct ns *ns);
void ns_free(struct ns *ns);

static inline const char *ns_name(const struct ns *ns, uint32_t off)
{
	return ns->arena + off;
}

/* Older than NS_SETTLE_MS: no operation in flight still writes it. */
static inline bool ns_settled(const struct ns *ns, uint64_t ms)
{
	return ms + NS_SETTLE_MS <= ns->now_ms;
}

static inline bool ns_is_dir(const struct ns_ino *i)
{
	return i && i->state == NS_LIVE && (i->mode & 0170000) == 0040000;
}

/* ---- fsck_ns_fix.c: every repair re-reads through the quorum first ---- */

/* Outcome of one repair: done, left alone because the records changed (or
 * are too recent), or failed with an errno. */
#define NS_FIX_DONE 0
#define NS_FIX_BUSY 1

int ns_fix_missing_link(struct ns *ns, const struct ns_dent *d);
int ns_fix_remove_entry(struct ns *ns, const struct ns_dent *d, uint32_t why);
int ns_fix_stray_link(struct ns *ns, const struct ns_link *l);
int ns_fix_move(struct ns *ns, const struct ns_ino *i);
int ns_fix_delete(struct ns *ns, const struct ns_ino *i);
int ns_fix_chunk(struct ns *ns, const struct ns_chunk *c);
/* Classify an unmatched LINK by its entry's quorum state: sets NS_L_STALE
 * (and moves ver_ms up to the entry's stamp) when the entry was removed or
 * given to another inode after the LINK was written. 0 or -errno. */
int ns_link_classify(struct ns *ns, struct ns_link *l);
/* Is chunk (@index, @epoch) of an inode with this size group garbage? */
bool ns_chunk_dead(const struct ns *ns, uint64_t index, uint64_t epoch, uint64_t size,
		   uint64_t inode_epoch, const struct proto_trunc *t, unsigned nt,
		   uint64_t chunk_ms);

#endif
