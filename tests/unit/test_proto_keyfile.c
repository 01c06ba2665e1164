// SPDX-License-Identifier: MIT
/*
 * test_proto_keyfile.c - CURVE key files and allow lists: a key with
 * surrounding whitespace, short, overlong, two keys, bad alphabet, a secret
 * key file open to group or others (refused, with the chmod fix named), and
 * allow lists with comments, blank lines, trailing comments, a '#' inside a
 * key, duplicates, a bad line named FILE:LINE, and a group-writable file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <zmq.h>

#include "proto/keyfile.h"

/* Real keys from zmq_curve_keypair; K2 contains '#' twice. */
#define K1 "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define K2 "q/oZ)xZ#x0uKd.jJ#{G=JmEwVERWk=mCsf:@[XI8"

static char dir[64];

static const char *put(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void test_proto_keyfile_read(void **state)
{
	char z[PROTO_KEY_Z85_LEN + 1], err[512];
	const char *p;

	(void)state;
	p = put("k1", "  " K1 "\n\n", 0600);
	assert_int_equal(proto_keyfile_read(p, true, z, err, sizeof(err)), 0);
	assert_string_equal(z, K1);
	p = put("k2", K2, 0644);
	assert_int_equal(proto_keyfile_read(p, false, z, err, sizeof(err)), 0);
	assert_string_equal(z, K2);

	static const char *const bad[] = {
		"", "\n", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\n", K1 "x\n",
		K1 "\n" K2 "\n", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf,\n",
		"rq:rM>}U?@Lns47E1%kR.o@n %FcmmsL/@{H8]yf7\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = put("bad", bad[i], 0600);
		assert_int_equal(proto_keyfile_read(p, true, z, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, p));
		assert_null(strstr(err, "rq:rM")); /* never echo key material */
	}
	assert_int_equal(proto_keyfile_read("/nonexistent/k", true, z, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(proto_keyfile_read(dir, false, z, err, sizeof(err)), -EINVAL);
	assert_int_equal(proto_keyfile_read("", true, z, err, sizeof(err)), -EINVAL);
}

static void test_proto_keyfile_secret_mode(void **state)
{
	static const mode_t open_modes[] = { 0644, 0640, 0604, 0620, 0602, 0660, 0666 };
	char z[PROTO_KEY_Z85_LEN + 1], err[512], fix[160];
	const char *p;

	(void)state;
	for (size_t i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
		p = put("sec", K1 "\n", open_modes[i]);
		assert_int_equal(proto_keyfile_read(p, true, z, err, sizeof(err)), -EPERM);
		snprintf(fix, sizeof(fix), "chmod 600 %s", p);
		assert_non_null(strstr(err, fix));
		/* the same file is fine as a public key */
		assert_int_equal(proto_keyfile_read(p, false, z, err, sizeof(err)), 0);
	}
	p = put("sec", K1 "\n", 0400);
	assert_int_equal(proto_keyfile_read(p, true, z, err, sizeof(err)), 0);
}

static void test_proto_keyfile_allow(void **state)
{
	uint8_t (*keys)[PROTO_KEY_BIN_LEN] = NULL, b1[PROTO_KEY_BIN_LEN], b2[PROTO_KEY_BIN_LEN];
	uint8_t other[PROTO_KEY_BIN_LEN] = { 1 };
	char err[512];
	size_t n = 99;
	const char *p;

	(void)state;
	p = put("allow", "# clients\n\n   \n" K1 "\n\t" K2 "   # has '#' inside\n" K1
			 "#x\n# " K2 " commented out\n",
		0644);
	/* "K1#x" is not a key followed by a comment: it must be an error */
	assert_int_equal(proto_allow_read(p, &keys, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":6:"));

	p = put("allow", "# clients\n\n   \n" K1 "\n\t" K2 "   # has '#' inside\n" K1
			 " # again\n# " K2 " commented out\n",
		0644);
	assert_int_equal(proto_allow_read(p, &keys, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2); /* the duplicate is gone */
	assert_non_null(zmq_z85_decode(b1, K1));
	assert_non_null(zmq_z85_decode(b2, K2));
	assert_true(proto_allow_has((const uint8_t(*)[PROTO_KEY_BIN_LEN])keys, n, b1));
	assert_true(proto_allow_has((const uint8_t(*)[PROTO_KEY_BIN_LEN])keys, n, b2));
	assert_false(proto_allow_has((const uint8_t(*)[PROTO_KEY_BIN_LEN])keys, n, other));
	free(keys);

	p = put("allow", "# nobody\n", 0600);
	assert_int_equal(proto_allow_read(p, &keys, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_false(proto_allow_has((const uint8_t(*)[PROTO_KEY_BIN_LEN])keys, n, b1));
	free(keys);

	p = put("allow", K1 "\n" K2 "\nnot-a-key\n", 0644);
	assert_int_equal(proto_allow_read(p, &keys, &n, err, sizeof(err)), -EINVAL);
	{
		char where[160];

		snprintf(where, sizeof(where), "%s:3:", p);
		assert_non_null(strstr(err, where));
	}
	p = put("allow", K1 "\n", 0664);
	assert_int_equal(proto_allow_read(p, &keys, &n, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "chmod go-w"));
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/qfs-keyfile.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const names[] = { "k1", "k2", "bad", "sec", "allow" };
	char path[128];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_keyfile_read),
		cmocka_unit_test(test_proto_keyfile_secret_mode),
		cmocka_unit_test(test_proto_keyfile_allow),
	};

	return cmocka_run_group_tests_name("proto_keyfile", tests, setup, teardown);
}
