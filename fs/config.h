/* SPDX-License-Identifier: MIT */
/*
 * config.h - the cluster configuration file shared by clients, daemons and tools.
 *
 * One INI file (libinih):
 *   [cluster]  replicas, write_quorum, read_quorum, timeout_ms, vnodes,
 *              layout_version
 *   [client]   public_key_file, secret_key_file (CURVE, optional)
 *   [daemon NAME] endpoint (required), public_key, zone, weight
 * Every error names the file and line. The loaded struct is immutable and
 * may be shared by any number of threads.
 */
#ifndef QFS_FS_CONFIG_H
#define QFS_FS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QFS_MAX_DAEMONS 256
#define QFS_MAX_REPLICAS 7
#define QFS_ENDPOINT_MAX 255
#define QFS_KEY_Z85_LEN 40

struct qfs_daemon_conf {
	char name[65];			     /* [A-Za-z0-9._-], 1..64 bytes */
	char endpoint[QFS_ENDPOINT_MAX + 1]; /* tcp://host:port or ipc://path */
	char public_key[QFS_KEY_Z85_LEN + 1]; /* Z85 CURVE key, "" = plaintext */
	char zone[65];			     /* failure domain, "" = own zone */
	uint32_t weight;		     /* relative capacity, default 100 */
	int line;			     /* line of the section header */
};

struct qfs_cluster {
	char path[4096];     /* file it was loaded from */
	unsigned n, w, r;    /* replicas, write quorum, read quorum */
	unsigned timeout_ms; /* per-operation deadline */
	unsigned vnodes;     /* virtual nodes per daemon at weight 100 */
	uint64_t layout_version; /* 1..PROTO_LAYOUT_VERSION_MAX (u32 on the wire) */
	char client_public_key_file[4096];
	char client_secret_key_file[4096];
	int ndaemons;
	struct qfs_daemon_conf daemons[QFS_MAX_DAEMONS];
};

/*
 * Load and validate @path. Returns 0 and a new cluster in *out (free with
 * qfs_config_free), or -errno with a message "FILE:LINE: what is wrong" in
 * @err. Refuses W > N, R > N, N > number of daemons, duplicate names or
 * endpoints, unknown sections or keys, bad numbers.
 */
int qfs_config_load(const char *path, struct qfs_cluster **out, char *err, size_t errlen);
void qfs_config_free(struct qfs_cluster *cl); /* NULL is a no-op */

/* Override W and R (mount options); 0 keeps the configured value. Same checks. */
int qfs_config_set_quorums(struct qfs_cluster *cl, unsigned w, unsigned r, char *err,
			   size_t errlen);

/* True when R + W <= N: reads may miss the latest write (callers warn). */
bool qfs_config_weak_quorum(const struct qfs_cluster *cl);

/* Index of the daemon called @name, or -1. */
int qfs_config_find(const struct qfs_cluster *cl, const char *name);

#endif
