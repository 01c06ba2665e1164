/* SPDX-License-Identifier: MIT */
/*
 * version.h - record versions and the hybrid logical clock (HLC).
 *
 * A version is (hlc, writer). hlc packs 48 bits of wall-clock milliseconds
 * over a 16-bit logical counter, so plain integer order is HLC order and a
 * counter overflow carries into the millisecond part by itself. writer is a
 * random 64-bit id per mount (or per tool run) that breaks ties. The zero
 * version means "absent": every real version compares greater.
 */
#ifndef QFS_PROTO_VERSION_H
#define QFS_PROTO_VERSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct proto_version {
	uint64_t hlc;	 /* ms << 16 | counter */
	uint64_t writer; /* tie-break: random per writer */
};

#define PROTO_HLC_MS(h) ((h) >> 16)
#define PROTO_HLC_MAKE(ms, ctr) (((uint64_t)(ms) << 16) | ((uint64_t)(ctr) & 0xffff))

/* -1, 0 or 1 as @a is older than, equal to or newer than @b. */
int proto_version_cmp(const struct proto_version *a, const struct proto_version *b);

static inline bool proto_version_is_zero(const struct proto_version *v)
{
	return v->hlc == 0 && v->writer == 0;
}

/* One clock per process; lock-free, safe from any thread. */
struct proto_hlc {
	_Atomic uint64_t last; /* highest hlc issued or observed */
};

/* Wall clock in milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t proto_wall_ms(void);

void proto_hlc_init(struct proto_hlc *c);

/*
 * Next timestamp: greater than every value this clock issued or observed and
 * not below @wall_ms. Pass proto_wall_ms(); tests pass their own wall clock
 * to step it backwards.
 */
uint64_t proto_hlc_next(struct proto_hlc *c, uint64_t wall_ms);

/* Absorb a timestamp seen on a peer so later proto_hlc_next() exceed it. */
void proto_hlc_observe(struct proto_hlc *c, uint64_t hlc);

/*
 * True when @hlc is more than @max_skew_ms ahead of @wall_ms: daemons refuse
 * such versions (PROTO_ST_SKEW) so one bad clock cannot poison a volume.
 */
bool proto_hlc_too_far_ahead(uint64_t hlc, uint64_t wall_ms, uint64_t max_skew_ms);

#endif
