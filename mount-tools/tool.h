/* SPDX-License-Identifier: MIT */
/*
 * tool.h - small helpers shared by the command-line tools.
 */
#ifndef QFS_MOUNT_TOOLS_TOOL_H
#define QFS_MOUNT_TOOLS_TOOL_H

#include <stdint.h>

/* Parse "123", "64K", "1M", "2G", "1T" (powers of 1024). 0 or -EINVAL. */
int mnt_parse_size(const char *s, uint64_t *out);

#endif
