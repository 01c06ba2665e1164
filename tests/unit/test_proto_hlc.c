// SPDX-License-Identifier: MIT
/*
 * test_proto_hlc.c - version order and the hybrid logical clock: monotonic
 * when the wall clock steps backwards, across 16-bit counter overflow and
 * across threads; observe(); the skew bound.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "proto/version.h"

static void test_proto_hlc_version_cmp(void **state)
{
	struct proto_version a = { 5, 1 }, b = { 5, 2 }, c = { 6, 0 }, z = { 0, 0 };

	(void)state;
	assert_int_equal(proto_version_cmp(&a, &b), -1);
	assert_int_equal(proto_version_cmp(&b, &a), 1);
	assert_int_equal(proto_version_cmp(&b, &c), -1);
	assert_int_equal(proto_version_cmp(&a, &a), 0);
	assert_int_equal(proto_version_cmp(&z, &a), -1);
	assert_true(proto_version_is_zero(&z));
	assert_false(proto_version_is_zero(&a));
	assert_int_equal(PROTO_HLC_MS(PROTO_HLC_MAKE(1234, 0xffff)), 1234);
	assert_int_equal(PROTO_HLC_MAKE(1, 0x1ffff), PROTO_HLC_MAKE(1, 0xffff));
}

static void test_proto_hlc_backwards(void **state)
{
	struct proto_hlc c;
	uint64_t t, prev;

	(void)state;
	proto_hlc_init(&c);
	t = proto_hlc_next(&c, 10000000);
	assert_int_equal(t, PROTO_HLC_MAKE(10000000, 0));
	prev = t;
	/* The wall clock steps back an hour: the clock keeps counting. */
	for (int i = 0; i < 1000; i++) {
		t = proto_hlc_next(&c, 10000000 - 3600 * 1000 + (uint64_t)i);
		assert_true(t > prev);
		prev = t;
	}
	assert_int_equal(prev, PROTO_HLC_MAKE(10000000, 1000));
	/* Wall clock catches up: the counter resets at the new ms. */
	t = proto_hlc_next(&c, 10000001);
	assert_int_equal(t, PROTO_HLC_MAKE(10000001, 0));
	t = proto_hlc_next(&c, 0);
	assert_int_equal(t, PROTO_HLC_MAKE(10000001, 1));
}

static void test_proto_hlc_counter_overflow(void **state)
{
	struct proto_hlc c;
	uint64_t t, prev = 0;

	(void)state;
	proto_hlc_init(&c);
	for (uint32_t i = 0; i < 0x10000 + 10; i++) {
		t = proto_hlc_next(&c, 5000);
		assert_true(t > prev);
		prev = t;
	}
	/* 65536 stamps in ms 5000, then the counter carried into ms 5001. */
	assert_int_equal(prev, PROTO_HLC_MAKE(5001, 9));
	proto_hlc_init(&c);
	proto_hlc_observe(&c, PROTO_HLC_MAKE(7, 0xffff));
	assert_int_equal(proto_hlc_next(&c, 7), PROTO_HLC_MAKE(8, 0));
}

static void test_proto_hlc_observe(void **state)
{
	struct proto_hlc c;
	uint64_t t;

	(void)state;
	proto_hlc_init(&c);
	proto_hlc_observe(&c, PROTO_HLC_MAKE(9000, 3));
	t = proto_hlc_next(&c, 8000);
	assert_int_equal(t, PROTO_HLC_MAKE(9000, 4));
	proto_hlc_observe(&c, PROTO_HLC_MAKE(1, 0)); /* older: ignored */
	assert_int_equal(proto_hlc_next(&c, 8000), PROTO_HLC_MAKE(9000, 5));
	/* A real wall clock is well past 2020. */
	assert_true(proto_wall_ms() > 1577836800000ULL);
	t = proto_hlc_next(&c, proto_wall_ms());
	assert_true(PROTO_HLC_MS(t) > 1577836800000ULL);
}

static void test_proto_hlc_skew(void **state)
{
	(void)state;
	assert_false(proto_hlc_too_far_ahead(PROTO_HLC_MAKE(1000, 0), 1000, 5000));
	assert_false(proto_hlc_too_far_ahead(PROTO_HLC_MAKE(6000, 0xffff), 1000, 5000));
	assert_true(proto_hlc_too_far_ahead(PROTO_HLC_MAKE(6001, 0), 1000, 5000));
	assert_false(proto_hlc_too_far_ahead(PROTO_HLC_MAKE(0, 0), 1000, 5000));
	assert_false(proto_hlc_too_far_ahead(PROTO_HLC_MAKE(10, 0), 1000, 0));
	assert_true(proto_hlc_too_far_ahead(PROTO_HLC_MAKE(1001, 0), 1000, 0));
	assert_true(proto_hlc_too_far_ahead(UINT64_MAX, 0, 5000));
	assert_false(proto_hlc_too_far_ahead(UINT64_MAX, UINT64_MAX, 0));
	assert_false(proto_hlc_too_far_ahead(UINT64_MAX, 0, UINT64_MAX));
}

#define NTHREADS 4
#define PER_THREAD 50000

struct hlc_arg {
	struct proto_hlc *c;
	uint64_t *out;
};

static void *hlc_worker(void *p)
{
	struct hlc_arg *a = p;

	for (int i = 0; i < PER_THREAD; i++)
		a->out[i] = proto_hlc_next(a->c, 100 + (uint64_t)(i % 7)); /* jittery wall */
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_proto_hlc_threads(void **state)
{
	struct proto_hlc c;
	pthread_t th[NTHREADS];
	struct hlc_arg args[NTHREADS];
	uint64_t *all = calloc(NTHREADS * PER_THREAD, sizeof(uint64_t));

	(void)state;
	assert_non_null(all);
	proto_hlc_init(&c);
	for (int i = 0; i < NTHREADS; i++) {
		args[i].c = &c;
		args[i].out = all + i * PER_THREAD;
		assert_int_equal(pthread_create(&th[i], NULL, hlc_worker, &args[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		for (int j = 1; j < PER_THREAD; j++)
			assert_true(args[i].out[j] > args[i].out[j - 1]);
	qsort(all, NTHREADS * PER_THREAD, sizeof(uint64_t), cmp_u64);
	for (int i = 1; i < NTHREADS * PER_THREAD; i++)
		assert_true(all[i] > all[i - 1]); /* never issued twice */
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_hlc_version_cmp),
		cmocka_unit_test(test_proto_hlc_backwards),
		cmocka_unit_test(test_proto_hlc_counter_overflow),
		cmocka_unit_test(test_proto_hlc_observe),
		cmocka_unit_test(test_proto_hlc_skew),
		cmocka_unit_test(test_proto_hlc_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
