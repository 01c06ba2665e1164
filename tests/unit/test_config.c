// SPDX-License-Identifier: MIT
/*
 * test_config.c - unit tests of fs/config.c: a good file with every key,
 * the defaults, comments, each refusal with its exact "FILE:LINE:" prefix,
 * the weak-quorum predicate and quorum overrides. Files are written into a
 * fresh temporary directory as "cluster.conf".
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs/config.h"
#include "fs/ring.h"

#define KEY_A "rq:rt2%0$:/3p.k(:Z>x6PB!yrfOv1R-s)=Z)6ZN"
#define KEY_B "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define THREE_DAEMONS                                                                         \
	"[daemon a]\nendpoint = tcp://127.0.0.1:7001\n"                                       \
	"[daemon b]\nendpoint = tcp://127.0.0.1:7002\n"                                       \
	"[daemon c]\nendpoint = tcp://127.0.0.1:7003\n"

static char tmpdir[] = "/tmp/qfs-test-config-XXXXXX";
static char conf_path[4096];
static char err[512];

static int setup_dir(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/cluster.conf", tmpdir);
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	unlink(conf_path);
	return rmdir(tmpdir);
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static struct qfs_cluster *load_ok(const char *text)
{
	struct qfs_cluster *cl = NULL;
	int rc;

	write_conf(text);
	rc = qfs_config_load(conf_path, &cl, err, sizeof(err));
	if (rc)
		print_error("unexpected error %d: %s\n", rc, err);
	assert_int_equal(rc, 0);
	assert_non_null(cl);
	return cl;
}

/*
 * Load @text and expect -EINVAL with the message "PATH:LINE: @msg"
 * ("PATH: @msg" for @line 0). @msg is a prefix of the message.
 */
static void expect_err(const char *text, int line, const char *msg)
{
	struct qfs_cluster *cl = (void *)1;
	char want[8192];
	int rc;

	write_conf(text);
	rc = qfs_config_load(conf_path, &cl, err, sizeof(err));
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", conf_path, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", conf_path, msg);
	if (rc != -EINVAL || strncmp(err, want, strlen(want)))
		print_error("want rc -EINVAL and \"%s...\"\n got rc %d and \"%s\"\n", want, rc,
			    err);
	assert_int_equal(rc, -EINVAL);
	assert_null(cl);
	assert_memory_equal(err, want, strlen(want));
}

static void test_config_good_file(void **state)
{
	struct qfs_cluster *cl;
	char want[4200];

	(void)state;
	cl = load_ok("; QuorumFS cluster\n"
		     "# full-line comments may start with '#' too\n"
		     "[cluster]\n"
		     "replicas = 3          ; N\n"
		     "write_quorum = 2\n"
		     "read_quorum: 2\n"
		     "timeout_ms = 2500\n"
		     "vnodes = 128\n"
		     "layout_version = 4294967295\n"
		     "\n"
		     "[client]\n"
		     "public_key_file = keys/client.pub\n"
		     "secret_key_file = /etc/quorumfs/client.key\n"
		     "\n"
		     "[daemon store-1]\n"
		     "  endpoint = tcp://10.0.0.1:7001\n"
		     "  public_key = " KEY_A "\n"
		     "  zone = rack-1\n"
		     "  weight = 200\n"
		     "[ daemon   store_2.b ]   ; indented name\n"
		     "\tendpoint = ipc:///run/quorumfs/s2.sock\n"
		     "\tpublic_key = " KEY_B "\n"
		     "[daemon s3]\n"
		     "endpoint = tcp://[::1]:7003\n"
		     "public_key = " KEY_A "\n");
	assert_string_equal(cl->path, conf_path);
	assert_int_equal(cl->n, 3);
	assert_int_equal(cl->w, 2);
	assert_int_equal(cl->r, 2);
	assert_int_equal(cl->timeout_ms, 2500);
	assert_int_equal(cl->vnodes, 128);
	assert_true(cl->layout_version == UINT32_MAX);
	snprintf(want, sizeof(want), "%s/keys/client.pub", tmpdir);
	assert_string_equal(cl->client_public_key_file, want);
	assert_string_equal(cl->client_secret_key_file, "/etc/quorumfs/client.key");
	assert_int_equal(cl->ndaemons, 3);

	assert_string_equal(cl->daemons[0].name, "store-1");
	assert_string_equal(cl->daemons[0].endpoint, "tcp://10.0.0.1:7001");
	assert_string_equal(cl->daemons[0].public_key, KEY_A);
	assert_string_equal(cl->daemons[0].zone, "rack-1");
	assert_int_equal(cl->daemons[0].weight, 200);
	assert_int_equal(cl->daemons[0].line, 15);

	assert_string_equal(cl->daemons[1].name, "store_2.b");
	assert_string_equal(cl->daemons[1].endpoint, "ipc:///run/quorumfs/s2.sock");
	assert_string_equal(cl->daemons[1].public_key, KEY_B);
	assert_string_equal(cl->daemons[1].zone, "");
	assert_int_equal(cl->daemons[1].weight, 100);
	assert_int_equal(cl->daemons[1].line, 20);

	assert_string_equal(cl->daemons[2].endpoint, "tcp://[::1]:7003");
	assert_int_equal(qfs_config_find(cl, "s3"), 2);
	assert_int_equal(qfs_config_find(cl, "store_2.b"), 1);
	assert_int_equal(qfs_config_find(cl, "nope"), -1);
	assert_false(qfs_config_weak_quorum(cl));
	qfs_config_free(cl);
	qfs_config_free(NULL);
}

static void test_config_defaults(void **state)
{
	struct qfs_cluster *cl;

	(void)state;
	cl = load_ok(THREE_DAEMONS);
	assert_int_equal(cl->n, 3);
	assert_int_equal(cl->w, 2);
	assert_int_equal(cl->r, 2);
	assert_int_equal(cl->timeout_ms, 1000);
	assert_int_equal(cl->vnodes, 256);
	assert_true(cl->layout_version == 1);
	assert_string_equal(cl->client_public_key_file, "");
	assert_string_equal(cl->client_secret_key_file, "");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cl->daemons[i].weight, 100);
		assert_string_equal(cl->daemons[i].zone, "");
		assert_string_equal(cl->daemons[i].public_key, "");
	}
	qfs_config_free(cl);

	/* Quorums default to a majority of the configured N. */
	cl = load_ok("[cluster]\nreplicas = 1\n[daemon a]\nendpoint = ipc://a\n");
	assert_int_equal(cl->w, 1);
	assert_int_equal(cl->r, 1);
	qfs_config_free(cl);
	cl = load_ok("[cluster]\nreplicas = 4\n" THREE_DAEMONS
		     "[daemon d]\nendpoint = tcp://127.0.0.1:7004\n");
	assert_int_equal(cl->w, 3);
	assert_int_equal(cl->r, 3);
	qfs_config_free(cl);
	cl = load_ok("[cluster]\nreplicas = 5\nread_quorum = 1\n" THREE_DAEMONS
		     "[daemon d]\nendpoint = tcp://127.0.0.1:7004\n"
		     "[daemon e]\nendpoint = tcp://127.0.0.1:7005\n");
	assert_int_equal(cl->w, 3);
	assert_int_equal(cl->r, 1);
	qfs_config_free(cl);
}

static void test_config_comments_and_layout(void **state)
{
	struct qfs_cluster *cl;

	(void)state;
	/* BOM, CRLF, ';' comments inline and alone, blank and indented lines. */
	cl = load_ok("\xEF\xBB\xBF; first line after a BOM\r\n"
		     "[cluster] ; the cluster\r\n"
		     "   ; indented comment\r\n"
		     "timeout_ms = 30000 ; thirty seconds\r\n"
		     "\r\n"
		     "    vnodes = 64\r\n"
		     "    replicas = 2\r\n" THREE_DAEMONS);
	assert_int_equal(cl->timeout_ms, 30000);
	assert_int_equal(cl->vnodes, 64);
	assert_int_equal(cl->n, 2);
	assert_int_equal(cl->w, 2);
	qfs_config_free(cl);

	/* '#' and ';' are part of a value unless ';' follows a blank. */
	cl = load_ok("[daemon a]\nendpoint = ipc:///tmp/x;y#z\nzone=z1 ; comment\n"
		     "[daemon b]\nendpoint = tcp://h:1\n"
		     "[daemon c]\nendpoint = tcp://h:2\n");
	assert_string_equal(cl->daemons[0].endpoint, "ipc:///tmp/x;y#z");
	assert_string_equal(cl->daemons[0].zone, "z1");
	assert_int_equal(qfs_config_find(cl, "a"), 0);
	qfs_config_free(cl);
	expect_err("[daemon a]\nendpoint = ipc://a\nzone=z1;still\n", 3, "zone 'z1;still'");

	/* An inline '#' is not a comment: the number is refused with a hint. */
	expect_err("[cluster]\ntimeout_ms = 500 # half a second\n" THREE_DAEMONS, 2,
		   "timeout_ms = '500 # half a second': expected a decimal number in "
		   "10..600000 (inline comments start with ';', not '#')");
}

static void test_config_quorum_errors(void **state)
{
	(void)state;
	expect_err("[cluster]\nreplicas = 3\n; three copies\nwrite_quorum = 4\n" THREE_DAEMONS, 4,
		   "write_quorum = 4 exceeds replicas = 3");
	expect_err("[cluster]\nwrite_quorum = 4\n" THREE_DAEMONS, 2,
		   "write_quorum = 4 exceeds replicas = 3");
	expect_err("[cluster]\nread_quorum = 3\nreplicas = 2\n" THREE_DAEMONS, 2,
		   "read_quorum = 3 exceeds replicas = 2");
	expect_err("[cluster]\nreplicas = 8\n" THREE_DAEMONS, 2,
		   "replicas = 8 is out of range 1..7");
	expect_err("[cluster]\nreplicas = 0\n" THREE_DAEMONS, 2,
		   "replicas = 0 is out of range 1..7");
	expect_err("[cluster]\nwrite_quorum = 0\n" THREE_DAEMONS, 2,
		   "write_quorum = 0 is out of range 1..7");
	expect_err("[cluster]\ntimeout_ms = 100\nreplicas = 4\n" THREE_DAEMONS, 3,
		   "replicas = 4 exceeds the number of daemons (3)");
	expect_err("[cluster]\ntimeout_ms = 100\n[daemon a]\nendpoint = ipc://a\n", 1,
		   "replicas = 3 (the default) exceeds the number of daemons (1)");
	expect_err("[daemon a]\nendpoint = ipc://a\n", 0,
		   "replicas = 3 (the default) exceeds the number of daemons (1)");
	expect_err("[cluster]\nreplicas = 1\n", 0, "no [daemon NAME] section");
	expect_err("", 0, "no [daemon NAME] section");
}

static void test_config_number_errors(void **state)
{
	static const struct {
		const char *line;
		const char *msg;
	} cases[] = {
		{ "timeout_ms = 3x", "timeout_ms = '3x': expected a decimal number in 10..600000" },
		{ "timeout_ms = -1", "timeout_ms = '-1': expected a decimal number" },
		{ "timeout_ms = +100", "timeout_ms = '+100': expected a decimal number" },
		{ "timeout_ms = 0x100", "timeout_ms = '0x100': expected a decimal number" },
		{ "timeout_ms = 1e3", "timeout_ms = '1e3': expected a decimal number" },
		{ "timeout_ms = 1 000", "timeout_ms = '1 000': expected a decimal number" },
		{ "timeout_ms =", "timeout_ms = '': expected a decimal number" },
		{ "timeout_ms = 9", "timeout_ms = 9 is out of range 10..600000" },
		{ "timeout_ms = 600001", "timeout_ms = 600001 is out of range 10..600000" },
		{ "timeout_ms = 4294967306", "timeout_ms = 4294967306 is out of range 10..600000" },
		{ "vnodes = 0", "vnodes = 0 is out of range 1..4096" },
		{ "vnodes = 4097", "vnodes = 4097 is out of range 1..4096" },
		{ "layout_version = 0", "layout_version = 0 is out of range 1..4294967295" },
		{ "layout_version = 4294967296",
		  "layout_version = 4294967296 is out of range 1..4294967295" },
		{ "layout_version = 99999999999999999999999999",
		  "layout_version = '99999999999999999999999999': expected a decimal number" },
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[cluster]\n%s\n%s", cases[i].line, THREE_DAEMONS);
		expect_err(text, 2, cases[i].msg);
	}
	expect_err("[daemon a]\nendpoint = ipc://a\nweight = 0\n", 3,
		   "weight = 0 is out of range 1..10000");
	expect_err("[daemon a]\nendpoint = ipc://a\nweight = 10001\n", 3,
		   "weight = 10001 is out of range 1..10000");
}

static void test_config_section_and_key_errors(void **state)
{
	(void)state;
	expect_err("[cluster]\n[clients]\n", 2, "unknown section [clients]");
	expect_err("[daemonx]\n", 1, "unknown section [daemonx]");
	expect_err("[daemon]\n", 1, "unknown section [daemon]");
	expect_err("[daemon a/b]\nendpoint = ipc://a\n", 1, "daemon name 'a/b' must be");
	expect_err("[cluster]\nreplica = 3\n", 2, "unknown key 'replica' in [cluster]");
	expect_err("[cluster]\nendpoint = tcp://h:1\n", 2, "unknown key 'endpoint' in [cluster]");
	expect_err("[daemon a]\nreplicas = 3\n", 2, "unknown key 'replicas' in [daemon NAME]");
	expect_err("[client]\nsecret_key = x\n", 2, "unknown key 'secret_key' in [client]");
	expect_err("replicas = 3\n[cluster]\n", 1, "key 'replicas' before any section");
	expect_err("[cluster]\nvnodes = 8\nvnodes = 16\n", 3,
		   "duplicate key 'vnodes' (first at line 2)");
	expect_err("[cluster]\nvnodes = 8\n[cluster]\n", 3,
		   "duplicate section [cluster] (first at line 1)");
	expect_err("[cluster]\nreplicas 3\n", 2, "expected 'key = value'");
	expect_err("[cluster]\nreplicas ; = 3\n", 2, "expected 'key = value'");
	expect_err("[cluster\nreplicas = 3\n", 1, "section header without ']'");
	expect_err("[cluster] x\n", 1, "unexpected text after section header");
	expect_err("[cluster]\n[client]\npublic_key_file = a.pub\n" THREE_DAEMONS, 3,
		   "public_key_file without secret_key_file");
	expect_err("[client]\nsecret_key_file = a.key\n" THREE_DAEMONS, 2,
		   "secret_key_file without public_key_file");
	expect_err("[client]\nsecret_key_file =\n" THREE_DAEMONS, 2, "secret_key_file is empty");
}

static void test_config_daemon_errors(void **state)
{
	(void)state;
	expect_err("[daemon a]\nendpoint = tcp://h:1\n\n[daemon b]\nzone = z\n"
		   "[daemon c]\nendpoint = tcp://h:3\n",
		   4, "[daemon b] has no endpoint");
	expect_err("[daemon a]\nendpoint = tcp://h:1\n[daemon b]\nendpoint = tcp://h:2\n"
		   "[daemon a]\nendpoint = tcp://h:3\n",
		   5, "duplicate daemon name 'a' (first at line 1)");
	expect_err("[daemon a]\nendpoint = tcp://h:1\n[daemon b]\nzone = z\n"
		   "endpoint = tcp://h:1\n",
		   5, "endpoint tcp://h:1 is already used by [daemon a] (line 1)");
	expect_err("[daemon a]\nendpoint = http://h:1\n", 2,
		   "endpoint 'http://h:1' must start with tcp:// or ipc://");
	expect_err("[daemon a]\nendpoint = tcp://h\n", 2,
		   "endpoint 'tcp://h': expected tcp://HOST:PORT");
	expect_err("[daemon a]\nendpoint = tcp://:1\n", 2, "endpoint 'tcp://:1': expected");
	expect_err("[daemon a]\nendpoint = tcp://h:0\n", 2, "endpoint 'tcp://h:0': expected");
	expect_err("[daemon a]\nendpoint = tcp://h:65536\n", 2, "endpoint 'tcp://h:65536'");
	expect_err("[daemon a]\nendpoint = tcp://h:1x\n", 2, "endpoint 'tcp://h:1x'");
	expect_err("[daemon a]\nendpoint = ipc://\n", 2, "endpoint 'ipc://': expected ipc://PATH");
	expect_err("[daemon a]\nendpoint = ipc://a b\n", 2,
		   "endpoint 'ipc://a b' contains whitespace");
	expect_err("[daemon a]\nendpoint = ipc://a\npublic_key = abc\n", 3,
		   "public_key must be 40 Z85 characters");
	expect_err("[daemon a]\nendpoint = ipc://a\npublic_key = "
		   "rq:rt2%0$:/3p.k(:Z>x6PB!yrfOv1R-s)=Z)6Z~\n",
		   3, "public_key must be 40 Z85 characters");
	expect_err("[daemon a]\nendpoint = ipc://a\npublic_key = " KEY_A "\n"
		   "[daemon b]\nendpoint = ipc://b\n",
		   4, "[daemon b] has no public_key but [daemon a] has one");
	expect_err("[daemon a]\nendpoint = ipc://a\nzone = rack 1\n", 3, "zone 'rack 1' must be");
}

static void test_config_limits(void **state)
{
	char *text, *p;
	size_t size = 256 * 80;
	char line[400];

	(void)state;
	/* A line longer than libinih's buffer is refused, not split. */
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "endpoint = ipc://", 17);
	text = malloc(size + sizeof(line) + 64);
	assert_non_null(text);
	snprintf(text, size, "[daemon a]\n%s\n", line);
	expect_err(text, 2, "line longer than");

	/* QFS_MAX_DAEMONS daemons load; one more is refused at its header. */
	p = text;
	p += sprintf(p, "[cluster]\nreplicas = 7\nvnodes = 16\n");
	for (int i = 0; i < QFS_MAX_DAEMONS; i++)
		p += sprintf(p, "[daemon d%d]\nendpoint = tcp://h:%d\n", i, 1000 + i);
	{
		struct qfs_cluster *cl = load_ok(text);

		assert_int_equal(cl->ndaemons, QFS_MAX_DAEMONS);
		assert_int_equal(cl->n, 7);
		assert_int_equal(cl->w, 4);
		qfs_config_free(cl);
	}
	sprintf(p, "[daemon extra]\nendpoint = tcp://h:1\n");
	expect_err(text, 4 + 2 * QFS_MAX_DAEMONS, "too many daemons (max 256)");

	/* The ring's size is bounded before anything is allocated. */
	p = text;
	p += sprintf(p, "[cluster]\nvnodes = 4096\n");
	for (int i = 0; i < 11; i++)
		p += sprintf(p, "[daemon d%d]\nendpoint = tcp://h:%d\nweight = 10000\n", i, i + 1);
	expect_err(text, 2, "the ring would have 4505600 points (max 4194304)");
	free(text);
}

static void test_config_missing_file(void **state)
{
	struct qfs_cluster *cl = (void *)1;
	char path[4200];

	(void)state;
	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	assert_int_equal(qfs_config_load(path, &cl, err, sizeof(err)), -ENOENT);
	assert_null(cl);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
	/* No error buffer at all is fine too. */
	assert_int_equal(qfs_config_load(path, &cl, NULL, 0), -ENOENT);
}

static void test_config_weak_quorum(void **state)
{
	struct qfs_cluster *cl;

	(void)state;
	cl = load_ok("[cluster]\nwrite_quorum = 1\n" THREE_DAEMONS);
	assert_int_equal(cl->w, 1);
	assert_int_equal(cl->r, 2);
	assert_true(qfs_config_weak_quorum(cl)); /* 1 + 2 <= 3 */
	qfs_config_free(cl);

	cl = load_ok("[cluster]\nwrite_quorum = 1\nread_quorum = 3\n" THREE_DAEMONS);
	assert_false(qfs_config_weak_quorum(cl));
	qfs_config_free(cl);

	cl = load_ok("[cluster]\nreplicas = 2\nwrite_quorum = 1\nread_quorum = 1\n" THREE_DAEMONS);
	assert_true(qfs_config_weak_quorum(cl));
	qfs_config_free(cl);
}

static void test_config_set_quorums(void **state)
{
	struct qfs_cluster *cl;

	(void)state;
	cl = load_ok(THREE_DAEMONS);
	assert_int_equal(qfs_config_set_quorums(cl, 0, 0, err, sizeof(err)), 0);
	assert_int_equal(cl->w, 2);
	assert_int_equal(cl->r, 2);

	assert_int_equal(qfs_config_set_quorums(cl, 3, 0, err, sizeof(err)), 0);
	assert_int_equal(cl->w, 3);
	assert_int_equal(cl->r, 2);

	assert_int_equal(qfs_config_set_quorums(cl, 1, 1, err, sizeof(err)), 0);
	assert_true(qfs_config_weak_quorum(cl));

	/* Refused overrides leave both values alone. */
	assert_int_equal(qfs_config_set_quorums(cl, 4, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "write_quorum = 4 exceeds replicas = 3");
	assert_int_equal(qfs_config_set_quorums(cl, 2, 5, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "read_quorum = 5 exceeds replicas = 3");
	assert_int_equal(qfs_config_set_quorums(cl, 2, 5, NULL, 0), -EINVAL);
	assert_int_equal(cl->w, 1);
	assert_int_equal(cl->r, 1);
	qfs_config_free(cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_good_file),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_comments_and_layout),
		cmocka_unit_test(test_config_quorum_errors),
		cmocka_unit_test(test_config_number_errors),
		cmocka_unit_test(test_config_section_and_key_errors),
		cmocka_unit_test(test_config_daemon_errors),
		cmocka_unit_test(test_config_limits),
		cmocka_unit_test(test_config_missing_file),
		cmocka_unit_test(test_config_weak_quorum),
		cmocka_unit_test(test_config_set_quorums),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
