/* SPDX-License-Identifier: MIT */
/*
 * log.h - the shared logger: levels, stderr or syslog, thread-safe.
 *
 * The macros test the level before evaluating their arguments; debug
 * arguments must have no side effects. Messages are lower case, no period.
 */
#ifndef QFS_PROTO_LOG_H
#define QFS_PROTO_LOG_H

#include <stdbool.h>

enum qlog_level { QLOG_ERR = 0, QLOG_WARN, QLOG_INFO, QLOG_DEBUG };

extern int qlog_level;

/* @ident names the program; @use_syslog sends lines to syslog(3). */
void qlog_init(const char *ident, bool use_syslog, int level);
/* Parse "err|warn|info|debug"; returns the level or -EINVAL. */
int qlog_parse_level(const char *s);
void qlog_write(int level, const char *func, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define qlog_at(lvl, ...)                                                                  \
	do {                                                                               \
		if ((lvl) <= qlog_level)                                                   \
			qlog_write((lvl), __func__, __LINE__, __VA_ARGS__);                \
	} while (0)
#define qlog_err(...) qlog_at(QLOG_ERR, __VA_ARGS__)
#define qlog_warn(...) qlog_at(QLOG_WARN, __VA_ARGS__)
#define qlog_info(...) qlog_at(QLOG_INFO, __VA_ARGS__)
#define qlog_debug(...) qlog_at(QLOG_DEBUG, __VA_ARGS__)

#endif
