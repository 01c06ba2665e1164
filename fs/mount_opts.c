// SPDX-License-Identifier: MIT
/*
 * mount_opts.c - parse `quorumfs CONFIG MOUNTPOINT [-f] [-d] [-s] [-o OPTS]`.
 *
 * Options of ours are validated strictly; the mount flags mount(8) and
 * mount.fuse3 pass along are handed to libfuse or, where they only concern
 * mount(8) (_netdev, noauto, nofail, ...), ignored. Anything else is an
 * error, so a typo in fstab is reported instead of silently dropped.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/mount_opts.h"
#include "fs/quorum.h"

/* Mount flags libfuse understands itself. */
static const char *const fuse_passed[] = {
	"allow_other", "allow_root", "default_permissions", "dev", "nodev", "suid", "nosuid",
	"exec", "noexec", "atime", "noatime", "relatime", "norelatime", "strictatime",
	"sync", "async", "dirsync", NULL,
};

/* Options only mount(8) or fstab care about. */
static const char *const ignored[] = {
	"rw", "defaults", "_netdev", "auto", "noauto", "user", "nouser", "users", "nofail",
	"owner", "group", "comment", NULL,
};

static bool in_list(const char *const *list, const char *opt)
{
	for (; *list; list++)
		if (!strcmp(*list, opt))
			return true;
	return false;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || v < 0 || v > 86400)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Append ",opt" to the libfuse option string. */
static int add_fuse_opt(struct mnt_opts *o, const char *opt)
{
	char buf[PATH_MAX + 64];

	snprintf(buf, sizeof(buf), "-o%s", opt);
	return fuse_opt_add_arg(&o->fuse_args, buf) == 0 ? 0 : -ENOMEM;
}

static int parse_one(struct mnt_opts *o, char *opt, char *err, size_t errlen)
{
	char *val = strchr(opt, '=');
	int rc = 0;

	if (val)
		*val++ = '\0';
	if (!strcmp(opt, "r") && val)
		rc = parse_uint(val, 1, 7, &o->r);
	else if (!strcmp(opt, "w") && val)
		rc = parse_uint(val, 1, 7, &o->w);
	else if (!strcmp(opt, "timeout_ms") && val)
		rc = parse_uint(val, 10, 600000, &o->timeout_ms);
	else if (!strcmp(opt, "repair_rate") && val)
		rc = parse_uint(val, 0, QFS_REPAIR_RATE_MAX, &o->repair_rate);
	else if (!strcmp(opt, "tomb_grace") && val)
		rc = parse_uint(val, 1, 3153600000u, &o->tomb_grace_s);
	else if (!strcmp(opt, "attr_timeout") && val)
		rc = parse_seconds(val, &o->attr_timeout);
	else if (!strcmp(opt, "entry_timeout") && val)
		rc = parse_seconds(val, &o->entry_timeout);
	else if (!strcmp(opt, "negative_timeout") && val)
		rc = parse_seconds(val, &o->negative_timeout);
	else if (!strcmp(opt, "log_file") && val && *val == '/') {
		free(o->log_file);
		o->log_file = strdup(val);
		return o->log_file ? 0 : -ENOMEM;
	} else if (!strcmp(opt, "writeback_cache") && !val)
		o->writeback_cache = true;
	else if (!strcmp(opt, "ino32") && !val)
		o->ino32 = true;
	else if (!strcmp(opt, "degraded_read") && !val)
		o->degraded_read = true;
	else if (!strcmp(opt, "hinted_handoff") && !val)
		o->hinted_handoff = true;
	else if (!strcmp(opt, "nostatahead") && !val)
		o->no_statahead = true;
	else if (!strcmp(opt, "ro") && !val) {
		o->read_only = true;
		return add_fuse_opt(o, "ro");
	} else if (!val && in_list(fuse_passed, opt))
		return add_fuse_opt(o, opt);
	else if (in_list(ignored, opt) || !strncmp(opt, "x-", 2))
		return 0;
	else {
		snprintf(err, errlen, "unknown mount option '%s%s%s'", opt, val ? "=" : "",
			 val ? val : "");
		return -EINVAL;
	}
	if (rc < 0)
		snprintf(err, errlen, "bad value '%s' for mount option %s", val, opt);
	return rc;
}

static int parse_list(struct mnt_opts *o, const char *list, char *err, size_t errlen)
{
	char *copy = strdup(list), *save = NULL, *opt;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (opt = strtok_r(copy, ",", &save); opt && rc == 0; opt = strtok_r(NULL, ",", &save))
		rc = parse_one(o, opt, err, errlen);
	free(copy);
	return rc;
}

int mnt_opts_parse(int argc, char **argv, struct mnt_opts *o, char *err, size_t errlen)
{
	char fsname[PATH_MAX + 32];
	int npos = 0, rc = 0;

	memset(o, 0, sizeof(*o));
	o->attr_timeout = 1.0;
	o->entry_timeout = 1.0;
	o->negative_timeout = 0.0;
	o->repair_rate = QFS_REPAIR_RATE_DEFAULT;
	if (fuse_opt_add_arg(&o->fuse_args, "quorumfs") != 0)
		return -ENOMEM;

	for (int i = 1; i < argc && rc == 0; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		if (!strcmp(a, "-f")) {
			o->foreground = true;
		} else if (!strcmp(a, "-d")) {
			o->foreground = o->debug = true;
			rc = fuse_opt_add_arg(&o->fuse_args, "-d") ? -ENOMEM : 0;
		} else if (!strcmp(a, "-s")) {
			o->single_thread = true;
		} else if (!strcmp(a, "-o")) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "-o needs an option list");
				return -EINVAL;
			}
			rc = parse_list(o, argv[++i], err, errlen);
		} else if (!strncmp(a, "-o", 2)) {
			rc = parse_list(o, a + 2, err, errlen);
		} else if (a[0] == '-') {
			snprintf(err, errlen, "unknown flag '%s'", a);
			return -EINVAL;
		} else if (npos == 0) {
			o->config = a;
			npos++;
		} else if (npos == 1) {
			o->mountpoint = a;
			npos++;
		} else {
			snprintf(err, errlen, "unexpected argument '%s'", a);
			return -EINVAL;
		}
	}
	if (rc < 0)
		return rc;
	if (npos != 2) {
		snprintf(err, errlen, "need CONFIG and MOUNTPOINT");
		return -EINVAL;
	}
	snprintf(fsname, sizeof(fsname), "fsname=%s,subtype=quorumfs", o->config);
	/* A comma in the config path would split the option: refuse it. */
	if (strchr(o->config, ',')) {
		snprintf(err, errlen, "the config path may not contain ','");
		return -EINVAL;
	}
	return add_fuse_opt(o, fsname);
}

void mnt_opts_free(struct mnt_opts *o)
{
	free(o->log_file);
	o->log_file = NULL;
	fuse_opt_free_args(&o->fuse_args);
}
