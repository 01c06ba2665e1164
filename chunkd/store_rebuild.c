// SPDX-License-Identifier: MIT
/*
 * store_rebuild.c - leaving the rebuilding state (REBUILT).
 *
 * A store enters "rebuilding" when it adopts its volume from a SUPER PUT
 * that is not mkfs's (store_write.c: a new or wiped disk that a read-repair
 * or fsck gave the superblock): it then holds almost none of the volume's
 * data, and HELLO says PROTO_STORE_REBUILDING so that clients count it in
 * no quorum. The state lives in the "meta" DB (store.c), so a restart does
 * not forget it, and only a REBUILT naming the store's volume and the store
 * itself (a wiped disk has a new store id) clears it,
 * in a batch like any write: nothing changes unless the batch commits.
 */
#include <errno.h>
#include <string.h>

#include "chunkd/store_priv.h"
#include "proto/log.h"

struct chk_rebuilt_args {
	const uint8_t *volume_id, *store_id;
};

static int chk_rebuilt_op(struct chk_store *st, const void *arg)
{
	const struct chk_rebuilt_args *a = arg;
	const uint8_t *vol = a->volume_id;
	bool has, same, rebuilding;

	if (memcmp(a->store_id, st->store_id, PROTO_ID_LEN))
		return -EXDEV; /* meant for a store this one replaced */

	/* the volume as the batch sees it: a SUPER earlier in it may set it */
	pthread_mutex_lock(&st->ctr_lock);
	has = st->b.volume_set || st->has_volume;
	same = !memcmp(st->b.volume_set ? st->b.volume : st->volume_id, vol, PROTO_ID_LEN);
	rebuilding = st->b.rebuild_chg ? st->b.rebuild_val : st->rebuilding;
	pthread_mutex_unlock(&st->ctr_lock);
	if (!has)
		return -EINVAL;
	if (!same)
		return -EXDEV;
	if (!rebuilding)
		return 0;
	st->b.rebuild_chg = true;
	st->b.rebuild_val = false;
	qlog_info("store in %s declared refilled: leaving the rebuilding state", st->dir);
	return 0;
}

int chk_store_rebuilt(struct chk_store *st, const uint8_t volume_id[PROTO_ID_LEN],
		      const uint8_t store_id[PROTO_ID_LEN])
{
	struct chk_rebuilt_args a = { .volume_id = volume_id, .store_id = store_id };

	return chk_run(st, chk_rebuilt_op, &a);
}
