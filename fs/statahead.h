/* SPDX-License-Identifier: MIT */
/*
 * statahead.h - lookups answered from a directory read ahead (statahead.c).
 */
#ifndef QFS_FS_STATAHEAD_H
#define QFS_FS_STATAHEAD_H

#include <stdbool.h>
#include <stdint.h>

struct qfs_fs;
struct qfs_attr;
struct qfs_statahead;

/* A statahead whose answers live @ttl_ms at most; 0 with *out = NULL when
 * @ttl_ms is 0 (off), or -ENOMEM. */
int qfs_sa_new(unsigned ttl_ms, struct qfs_statahead **out);
void qfs_sa_free(struct qfs_statahead *sa); /* NULL is a no-op */

/* true with the attributes of @name in @parent when a fresh read-ahead
 * window holds them. */
bool qfs_sa_lookup(struct qfs_fs *fs, uint64_t parent, const char *name, struct qfs_attr *a);

/* A lookup of an existing name in @parent had to ask the replicas: after a
 * few of those in one directory, with no write by this client in between,
 * read the directory ahead (in the caller's thread). */
void qfs_sa_missed(struct qfs_fs *fs, uint64_t parent);

#endif
