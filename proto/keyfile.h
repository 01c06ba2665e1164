/* SPDX-License-Identifier: MIT */
/*
 * keyfile.h - CURVE key files, shared by chunkd, the client engine and the
 * tools: one Z85 key (40 characters) per file, surrounding whitespace
 * allowed. A secret key file must not be readable or writable by group or
 * others; reading one that is fails with a message that names the fix.
 * Allow lists (chunkd --allow) hold one Z85 public key per line.
 */
#ifndef QFS_PROTO_KEYFILE_H
#define QFS_PROTO_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_KEY_Z85_LEN 40	/* Z85 text of a 32-byte CURVE key */
#define PROTO_KEY_BIN_LEN 32

/* True when @s is exactly PROTO_KEY_Z85_LEN characters that Z85-decode. */
bool proto_key_z85_valid(const char *s, size_t len);

/*
 * Read the one Z85 key of @path into @z85 (NUL-terminated). With @secret the
 * file must be a regular file with no group or other permission bits
 * (st_mode & 077), else -EPERM. Returns 0, or -errno with a message naming
 * the file and what to do in @err: -EPERM (mode), -EINVAL (not one Z85 key),
 * or the errno of open/read.
 */
int proto_keyfile_read(const char *path, bool secret, char z85[PROTO_KEY_Z85_LEN + 1],
		       char *err, size_t errlen);

/*
 * Parse allow-list text @path: one Z85 public key per line, optionally
 * followed by whitespace and a '#' comment; a line that is not a key and
 * starts with '#' is a comment; blank lines are ignored. ('#' is a Z85
 * digit, so a key may contain one.) The file must not be writable by
 * group or others (-EPERM). Returns 0 and a malloc'ed array of *n keys
 * (PROTO_KEY_BIN_LEN bytes each, sorted, duplicates removed; free() it) in
 * *keys, or -errno with "FILE:LINE: why" (or "FILE: why") in @err. An empty
 * list is valid (it admits nobody).
 */
int proto_allow_read(const char *path, uint8_t (**keys)[PROTO_KEY_BIN_LEN], size_t *n,
		     char *err, size_t errlen);

/* True when @key (PROTO_KEY_BIN_LEN bytes) is in the sorted list. */
bool proto_allow_has(const uint8_t (*keys)[PROTO_KEY_BIN_LEN], size_t n, const uint8_t *key);

#endif
