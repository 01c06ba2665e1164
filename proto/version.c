// SPDX-License-Identifier: MIT
/*
 * version.c - version order and the hybrid logical clock.
 *
 * The clock is one atomic word: the highest hlc issued or observed. Every
 * update is a compare-and-swap loop that only ever raises it, so the clock
 * is monotonic across threads and across wall-clock steps backwards, and a
 * 16-bit counter overflow simply carries into the millisecond bits.
 */
#include <time.h>

#include "proto/version.h"

int proto_version_cmp(const struct proto_version *a, const struct proto_version *b)
{
	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	if (a->writer != b->writer)
		return a->writer < b->writer ? -1 : 1;
	return 0;
}

uint64_t proto_wall_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	if (ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void proto_hlc_init(struct proto_hlc *c)
{
	atomic_init(&c->last, 0);
}

uint64_t proto_hlc_next(struct proto_hlc *c, uint64_t wall_ms)
{
	uint64_t wall = PROTO_HLC_MAKE(wall_ms & 0xffffffffffffULL, 0);
	uint64_t old = atomic_load(&c->last);
	uint64_t next;

	do {
		next = old + 1 > wall ? old + 1 : wall;
	} while (!atomic_compare_exchange_weak(&c->last, &old, next));
	return next;
}

void proto_hlc_observe(struct proto_hlc *c, uint64_t hlc)
{
	uint64_t old = atomic_load(&c->last);

	while (old < hlc && !atomic_compare_exchange_weak(&c->last, &old, hlc))
		;
}

bool proto_hlc_too_far_ahead(uint64_t hlc, uint64_t wall_ms, uint64_t max_skew_ms)
{
	uint64_t ms = PROTO_HLC_MS(hlc);

	return ms > wall_ms && ms - wall_ms > max_skew_ms;
}
