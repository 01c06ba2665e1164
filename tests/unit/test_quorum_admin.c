// SPDX-License-Identifier: MIT
/*
 * test_quorum_admin.c - unit tests of fs/quorum_admin.c: quorum coverage of
 * the ring (exact per ring range, checked against 100,000 sampled keys),
 * the layout shares, and the probe over the simulated cluster (a dead
 * daemon, a daemon that never answers and still costs only the deadline,
 * STAT figures, rebuilding daemons).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include <cmocka.h>

#include "fs/quorum.h"
#include "fs/ring.h"
#include "sim_transport.h"

#define TIMEOUT_MS 300

static void test_quorum_admin_coverage_all_up(void **state)
{
	struct qfs_cluster *cl = sim_cluster(3, 3, 2, 2, TIMEOUT_MS);
	bool usable[3] = { true, true, true };
	struct qfs_coverage cov;

	(void)state;
	assert_int_equal(qfs_quorum_coverage(cl, usable, &cov), 0);
	assert_int_equal(cov.nranges, 3 * 64);
	assert_int_equal(cov.min_usable, 3);
	assert_int_equal(cov.below_w, 0);
	assert_int_equal(cov.below_r, 0);
	usable[1] = false;
	assert_int_equal(qfs_quorum_coverage(cl, usable, &cov), 0);
	assert_int_equal(cov.min_usable, 2);
	assert_int_equal(cov.below_w, 0);
	usable[2] = false;
	assert_int_equal(qfs_quorum_coverage(cl, usable, &cov), 0);
	assert_int_equal(cov.min_usable, 1);
	assert_int_equal(cov.below_w, cov.nranges);
	assert_int_equal(cov.below_r, cov.nranges);
	assert_true(cov.below_w_share > 0.999999 && cov.below_w_share < 1.000001);
	free(cl);
}

/* With 5 daemons and 2 down only some ranges lose W: the share matches sampling. */
static void test_quorum_admin_coverage_matches_sampling(void **state)
{
	struct qfs_cluster *cl = sim_cluster(5, 3, 2, 1, TIMEOUT_MS);
	bool usable[5] = { true, false, true, false, true };
	struct qfs_coverage cov;
	struct qfs_ring *ring;
	int idx[3], below = 0;

	(void)state;
	assert_int_equal(qfs_quorum_coverage(cl, usable, &cov), 0);
	assert_true(cov.below_w > 0 && cov.below_w < cov.nranges);
	assert_int_equal(cov.below_r, 0); /* R=1: one of three is always there */
	assert_int_equal(cov.min_usable, 1);
	assert_int_equal(qfs_ring_build(cl, &ring), 0);
	for (uint64_t i = 0; i < 100000; i++) {
		uint64_t tok = XXH3_64bits(&i, sizeof(i));
		int n = qfs_ring_place(ring, tok, idx, 3), good = 0;

		for (int k = 0; k < n; k++)
			good += usable[idx[k]];
		below += good < 2;
	}
	assert_true(cov.below_w_share > below / 100000.0 - 0.01);
	assert_true(cov.below_w_share < below / 100000.0 + 0.01);
	qfs_ring_free(ring);
	free(cl);
}

static void test_quorum_admin_layout_shares(void **state)
{
	struct qfs_cluster *cl = sim_cluster(4, 3, 2, 2, TIMEOUT_MS);
	struct qfs_layout_row rows[4];
	double ring = 0, rep = 0, smp = 0;

	(void)state;
	cl->daemons[3].weight = 200;
	assert_int_equal(qfs_quorum_layout(cl, 20000, rows), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(rows[i].points, i == 3 ? 128 : 64);
		assert_true(rows[i].replica_share <= 1.000001);
		ring += rows[i].ring_share;
		rep += rows[i].replica_share;
		smp += rows[i].sample_share;
		/* sampled keys follow the ring's arcs */
		assert_true(rows[i].sample_share > rows[i].ring_share - 0.03);
		assert_true(rows[i].sample_share < rows[i].ring_share + 0.03);
	}
	assert_true(ring > 0.999999 && ring < 1.000001);
	assert_true(rep > 2.999999 && rep < 3.000001);
	assert_true(smp > 0.999999 && smp < 1.000001);
	/* weight 200 of 500: about 40% of primaries */
	assert_true(rows[3].ring_share > 0.3 && rows[3].ring_share < 0.5);
	free(cl);
}

static void test_quorum_admin_probe(void **state)
{
	struct qfs_cluster *cl = sim_cluster(4, 3, 2, 2, TIMEOUT_MS);
	struct qfs_daemon_report d[4];
	struct sim *s;
	uint64_t t0;

	(void)state;
	assert_int_equal(sim_new(4, &s), 0);
	sim_set_dead(s, 1, true);
	sim_set_drop(s, 2, true);
	sim_set_flags(s, 3, PROTO_STORE_NOVOLUME | PROTO_STORE_FRESH);
	sim_set_delay(s, 0, 5);
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_probe_transport(cl, sim_transport(s), 0, d), 0);
	/* the daemon that never answers costs the deadline, not more */
	assert_true(qfs_now_ns() - t0 < (TIMEOUT_MS + 200) * 1000000ull);

	assert_int_equal(d[0].err, 0);
	assert_int_equal(d[0].hello.version, PROTO_VERSION);
	assert_true(d[0].latency_ms >= 4.0);
	assert_int_equal(d[0].stat_err, 0);
	assert_int_equal(d[0].stat.capacity, 1000);
	assert_int_equal(d[0].free_bytes, 900);
	assert_false(d[0].rebuilding);

	assert_int_equal(d[1].err, -EHOSTDOWN);
	assert_int_equal(d[2].err, -ETIMEDOUT);
	assert_true(d[2].latency_ms < 0);

	/* no volume while d0 has one: rebuilding */
	assert_int_equal(d[3].err, 0);
	assert_true(d[3].rebuilding);
	assert_int_equal(d[3].hello.store_flags, PROTO_STORE_NOVOLUME | PROTO_STORE_FRESH);

	/* it got the volume from a refill, not from mkfs: still rebuilding */
	sim_set_flags(s, 3, PROTO_STORE_REBUILDING);
	sim_set_dead(s, 1, false);
	sim_set_drop(s, 2, false);
	assert_int_equal(qfs_quorum_probe_transport(cl, sim_transport(s), 0, d), 0);
	assert_true(d[3].rebuilding);
	assert_false(d[1].rebuilding);
	/* declared refilled (REBUILT): counts again */
	sim_set_flags(s, 3, 0);
	assert_int_equal(qfs_quorum_probe_transport(cl, sim_transport(s), 0, d), 0);
	assert_false(d[3].rebuilding);
	sim_transport(s)->ops->close(sim_transport(s));
	sim_free(s);
	free(cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quorum_admin_coverage_all_up),
		cmocka_unit_test(test_quorum_admin_coverage_matches_sampling),
		cmocka_unit_test(test_quorum_admin_layout_shares),
		cmocka_unit_test(test_quorum_admin_probe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
