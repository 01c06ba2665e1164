// SPDX-License-Identifier: MIT
/*
 * test_proto_log.c - the shared logger: level parsing, the level gate that
 * skips argument evaluation, and one complete line per call on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/log.h"

static int side_effect(int *n)
{
	return ++*n;
}

static void test_proto_log_levels(void **state)
{
	(void)state;
	assert_int_equal(qlog_parse_level("err"), QLOG_ERR);
	assert_int_equal(qlog_parse_level("WARN"), QLOG_WARN);
	assert_int_equal(qlog_parse_level("info"), QLOG_INFO);
	assert_int_equal(qlog_parse_level("debug"), QLOG_DEBUG);
	assert_int_equal(qlog_parse_level("error"), QLOG_ERR);
	assert_int_equal(qlog_parse_level("loud"), -EINVAL);
	assert_int_equal(qlog_parse_level(""), -EINVAL);
	assert_int_equal(qlog_parse_level(NULL), -EINVAL);
}

static void test_proto_log_lines(void **state)
{
	char tmpl[] = "/tmp/qlogXXXXXX", buf[8192];
	int fd, saved, n = 0;
	ssize_t got;
	char *big;

	(void)state;
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	unlink(tmpl);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);

	qlog_init("qtest", false, QLOG_WARN);
	qlog_debug("not shown %d", side_effect(&n));
	assert_int_equal(n, 0); /* arguments not evaluated below the level */
	qlog_warn("shown %d", side_effect(&n));
	assert_int_equal(n, 1);
	qlog_err("with newline\n");
	big = malloc(5000);
	memset(big, 'b', 4999);
	big[4999] = '\0';
	qlog_err("%s", big);
	free(big);

	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(got > 0);
	buf[got] = '\0';
	assert_null(strstr(buf, "not shown"));
	assert_non_null(strstr(buf, "qtest["));
	assert_non_null(strstr(buf, " warn test_proto_log_lines:"));
	assert_non_null(strstr(buf, "shown 1\n"));
	assert_non_null(strstr(buf, "with newline\n"));
	assert_null(strstr(buf, "with newline\n\n"));
	/* Three lines, the long one cut but still ending in a newline. */
	int lines = 0;
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 3);
	assert_true(buf[got - 1] == '\n');
	assert_true(got < 4000);
	qlog_init(NULL, false, QLOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_log_levels),
		cmocka_unit_test(test_proto_log_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
