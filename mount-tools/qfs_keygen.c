// SPDX-License-Identifier: MIT
/*
 * qfs_keygen.c - `qfs keygen NAME [--dir DIR]`: make a CURVE key pair for a
 * daemon or a client. NAME.key holds the Z85 secret key (mode 0600) and
 * NAME.pub the Z85 public key (mode 0644), 40 characters and a newline
 * each; the public key is also printed. Both files are created with O_EXCL:
 * an existing key is never overwritten (losing a daemon's secret key means
 * reconfiguring every client). Needs no cluster config.
 *
 * Exit status: 0 done, 1 the files could not be written, 2 bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "mount-tools/qfs_cmds.h"
#include "proto/keyfile.h"

#define KEYGEN_NAME_MAX 64

static int keygen_usage(const char *why)
{
	if (why)
		fprintf(stderr, "qfs keygen: %s\n", why);
	fprintf(stderr, "usage: qfs keygen NAME [--dir DIR]\n"
			"  writes DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub (public);\n"
			"  DIR defaults to the current directory\n");
	return 2;
}

/* NAME becomes part of a file name: [A-Za-z0-9._-], not starting with '.'. */
static bool keygen_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > KEYGEN_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == n;
}

/*
 * Create @path exclusively with @mode and write @z85 and a newline, synced.
 * Returns 0 or -errno (message printed).
 */
static int keygen_write(const char *path, const char *z85, mode_t mode)
{
	char line[PROTO_KEY_Z85_LEN + 2];
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		rc = -errno;
		if (errno == EEXIST)
			fprintf(stderr,
				"qfs keygen: %s already exists; refusing to overwrite a key "
				"(remove it first if you really mean to replace it)\n",
				path);
		else
			fprintf(stderr, "qfs keygen: cannot create %s: %s\n", path,
				strerror(errno));
		return rc;
	}
	/* the umask may have removed bits, never added any: set them exactly */
	memcpy(line, z85, PROTO_KEY_Z85_LEN);
	line[PROTO_KEY_Z85_LEN] = '\n';
	line[PROTO_KEY_Z85_LEN + 1] = '\0';
	if (fchmod(fd, mode) < 0 ||
	    write(fd, line, PROTO_KEY_Z85_LEN + 1) != PROTO_KEY_Z85_LEN + 1 || fsync(fd) < 0) {
		rc = errno ? -errno : -EIO;
		fprintf(stderr, "qfs keygen: cannot write %s: %s\n", path, strerror(-rc));
	}
	memset(line, 0, sizeof(line));
	if (close(fd) < 0 && !rc) {
		rc = -errno;
		fprintf(stderr, "qfs keygen: cannot write %s: %s\n", path, strerror(-rc));
	}
	if (rc)
		unlink(path);
	return rc;
}

int qfs_cmd_keygen(int argc, char **argv)
{
	char pub[PROTO_KEY_Z85_LEN + 1], sec[PROTO_KEY_Z85_LEN + 1];
	char keypath[4096], pubpath[4096];
	const char *name = NULL, *dir = ".";
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir")) {
			if (++i == argc)
				return keygen_usage("--dir needs a directory");
			dir = argv[i];
		} else if (!strncmp(argv[i], "--dir=", 6)) {
			dir = argv[i] + 6;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			keygen_usage(NULL);
			return 0;
		} else if (argv[i][0] == '-' || name) {
			fprintf(stderr, "qfs keygen: unexpected argument '%s'\n", argv[i]);
			return keygen_usage(NULL);
		} else {
			name = argv[i];
		}
	}
	if (!name)
		return keygen_usage("missing NAME");
	if (!keygen_name_ok(name))
		return keygen_usage("NAME must be 1..64 characters of [A-Za-z0-9._-], not "
				    "starting with '.' or '-'");
	if (!dir[0])
		return keygen_usage("--dir is empty");
	if (snprintf(keypath, sizeof(keypath), "%s/%s.key", dir, name) >= (int)sizeof(keypath) ||
	    snprintf(pubpath, sizeof(pubpath), "%s/%s.pub", dir, name) >= (int)sizeof(pubpath)) {
		fprintf(stderr, "qfs keygen: path too long\n");
		return 2;
	}
	/* check both before writing either: never leave half a pair behind */
	if (access(pubpath, F_OK) == 0) {
		fprintf(stderr,
			"qfs keygen: %s already exists; refusing to overwrite a key "
			"(remove it first if you really mean to replace it)\n",
			pubpath);
		return 1;
	}
	if (zmq_curve_keypair(pub, sec) < 0) {
		fprintf(stderr, "qfs keygen: cannot make a key pair: %s\n",
			zmq_strerror(zmq_errno()));
		return 1;
	}
	rc = keygen_write(keypath, sec, 0600);
	memset(sec, 0, sizeof(sec));
	if (rc < 0)
		return 1;
	rc = keygen_write(pubpath, pub, 0644);
	if (rc < 0) {
		unlink(keypath); /* we just made it: no half pair */
		return 1;
	}
	printf("%s\n", pub);
	fprintf(stderr,
		"qfs keygen: wrote %s (secret, mode 0600: keep it private) and %s (public)\n",
		keypath, pubpath);
	return 0;
}
