// SPDX-License-Identifier: MIT
/*
 * keyfile.c - reading CURVE key files and allow lists (see keyfile.h).
 *
 * Keys are data, never paths or format strings: a file's content is checked
 * against the Z85 alphabet and decoded before it is used, and error messages
 * never echo a line of a key file (a secret key pasted into the wrong file
 * must not end up in a log). Files are bounded before they are read.
 * '#' is one of the 85 Z85 digits: allow-list comments are recognised only
 * where a key cannot be (see proto_allow_read).
 */
#include "proto/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define PROTO_KEYFILE_MAX 4096			/* a key file is 41 bytes */
#define PROTO_ALLOW_MAX_BYTES (16u << 20)	/* ~400k keys */
#define PROTO_ALLOW_LINE_MAX 1024

static const char proto_z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

bool proto_key_z85_valid(const char *s, size_t len)
{
	char buf[PROTO_KEY_Z85_LEN + 1];
	uint8_t bin[PROTO_KEY_BIN_LEN];
	bool ok;

	if (len != PROTO_KEY_Z85_LEN)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	ok = strspn(buf, proto_z85_chars) == len && zmq_z85_decode(bin, buf) != NULL;
	memset(bin, 0, sizeof(bin));
	memset(buf, 0, sizeof(buf));
	return ok;
}

static bool proto_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim @s/@len in place; returns the start of the trimmed text. */
static char *proto_trim(char *s, size_t *len)
{
	while (*len && proto_space(s[0])) {
		s++;
		(*len)--;
	}
	while (*len && proto_space(s[*len - 1]))
		(*len)--;
	return s;
}

/*
 * Open @path for reading and check it: a regular file, at most @max bytes,
 * and no mode bits in @forbid. Returns the fd or -errno (message in @err).
 */
static int proto_key_open(const char *path, const char *what, mode_t forbid, off_t max,
			  char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot stat %s: %s", path, what, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: %s is not a regular file", path, what);
		goto out_close;
	}
	if (st.st_mode & forbid) {
		rc = -EPERM;
		if (forbid == 077)
			snprintf(err, errlen,
				 "%s: %s is accessible by group or others (mode %04o); "
				 "refusing to use it: run 'chmod 600 %s'",
				 path, what, (unsigned)(st.st_mode & 07777), path);
		else
			snprintf(err, errlen,
				 "%s: %s is writable by group or others (mode %04o); "
				 "refusing to use it: run 'chmod go-w %s'",
				 path, what, (unsigned)(st.st_mode & 07777), path);
		goto out_close;
	}
	if (st.st_size > max) {
		rc = -EFBIG;
		snprintf(err, errlen, "%s: %s is %lld bytes, more than %lld", path, what,
			 (long long)st.st_size, (long long)max);
		goto out_close;
	}
	return fd;
out_close:
	close(fd);
	return rc;
}

/* Read all of @fd (at most @cap - 1 bytes) into @buf, NUL-terminated. */
static ssize_t proto_read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n < cap - 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

int proto_keyfile_read(const char *path, bool secret, char z85[PROTO_KEY_Z85_LEN + 1],
		       char *err, size_t errlen)
{
	const char *what = secret ? "secret key file" : "public key file";
	char buf[PROTO_KEYFILE_MAX + 1], *s;
	size_t len;
	ssize_t n;
	int fd, rc = 0;

	if (!path || !path[0]) {
		snprintf(err, errlen, "no %s configured", what);
		return -EINVAL;
	}
	fd = proto_key_open(path, what, secret ? 077 : 0, PROTO_KEYFILE_MAX, err, errlen);
	if (fd < 0)
		return fd;
	n = proto_read_all(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read %s: %s", path, what, strerror((int)-n));
		return (int)n;
	}
	len = (size_t)n;
	s = proto_trim(buf, &len);
	if (!proto_key_z85_valid(s, len)) {
		snprintf(err, errlen,
			 "%s: not a CURVE key file: expected one Z85 key of %d characters "
			 "(as written by 'qfs keygen')",
			 path, PROTO_KEY_Z85_LEN);
		rc = -EINVAL;
	} else {
		memcpy(z85, s, PROTO_KEY_Z85_LEN);
		z85[PROTO_KEY_Z85_LEN] = '\0';
	}
	memset(buf, 0, sizeof(buf));
	return rc;
}

static int proto_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, PROTO_KEY_BIN_LEN);
}

int proto_allow_read(const char *path, uint8_t (**keys)[PROTO_KEY_BIN_LEN], size_t *n,
		     char *err, size_t errlen)
{
	uint8_t (*k)[PROTO_KEY_BIN_LEN] = NULL;
	size_t nk = 0, cap = 0, i, out;
	char *buf, *line, *next;
	ssize_t got;
	int fd, lineno = 0, rc = 0;

	/* writable by others would let anyone admit their own key */
	fd = proto_key_open(path, "allow list", 022, PROTO_ALLOW_MAX_BYTES, err, errlen);
	if (fd < 0)
		return fd;
	buf = malloc(PROTO_ALLOW_MAX_BYTES + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	got = proto_read_all(fd, buf, PROTO_ALLOW_MAX_BYTES + 1);
	close(fd);
	if (got < 0) {
		rc = (int)got;
		snprintf(err, errlen, "%s: cannot read allow list: %s", path, strerror(-rc));
		goto out_free;
	}
	if (memchr(buf, '\0', (size_t)got)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: allow list contains a NUL byte", path);
		goto out_free;
	}
	for (line = buf; line && *line; line = next) {
		char *hash, *s, z[PROTO_KEY_Z85_LEN + 1];
		size_t len, word;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		len = strlen(line);
		if (len > PROTO_ALLOW_LINE_MAX) {
			rc = -EINVAL;
			snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
				 PROTO_ALLOW_LINE_MAX);
			goto out_free;
		}
		s = proto_trim(line, &len);
		/*
		 * '#' is a Z85 digit, so a key may contain one: a line is a
		 * key when its first word is one, and a comment follows a key
		 * only after whitespace.
		 */
		word = strcspn(s, " \t\r\v\f");
		if (word == PROTO_KEY_Z85_LEN && proto_key_z85_valid(s, word)) {
			hash = s + word + strspn(s + word, " \t\r\v\f");
			if (*hash && *hash != '#') {
				rc = -EINVAL;
				snprintf(err, errlen,
					 "%s:%d: unexpected text after the key (a comment "
					 "starts with '#')",
					 path, lineno);
				goto out_free;
			}
			len = word;
		} else if (!len || s[0] == '#') {
			continue;
		}
		if (!proto_key_z85_valid(s, len)) {
			rc = -EINVAL;
			snprintf(err, errlen,
				 "%s:%d: expected one Z85 public key of %d characters "
				 "(a .pub file written by 'qfs keygen'), got %zu characters",
				 path, lineno, PROTO_KEY_Z85_LEN, len);
			goto out_free;
		}
		if (nk == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			void *p = realloc(k, ncap * sizeof(*k));

			if (!p) {
				rc = -ENOMEM;
				snprintf(err, errlen, "%s: out of memory", path);
				goto out_free;
			}
			k = p;
			cap = ncap;
		}
		memcpy(z, s, PROTO_KEY_Z85_LEN);
		z[PROTO_KEY_Z85_LEN] = '\0';
		zmq_z85_decode(k[nk++], z); /* validated above */
	}
	if (nk)
		qsort(k, nk, sizeof(*k), proto_key_cmp);
	for (i = 0, out = 0; i < nk; i++)
		if (!out || memcmp(k[out - 1], k[i], PROTO_KEY_BIN_LEN))
			memmove(k[out++], k[i], PROTO_KEY_BIN_LEN);
	*keys = k;
	*n = out;
	k = NULL;
out_free:
	free(k);
	free(buf);
	return rc;
}

bool proto_allow_has(const uint8_t (*keys)[PROTO_KEY_BIN_LEN], size_t n, const uint8_t *key)
{
	return n && bsearch(key, keys, n, PROTO_KEY_BIN_LEN, proto_key_cmp) != NULL;
}
