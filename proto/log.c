// SPDX-License-Identifier: MIT
/*
 * log.c - the shared logger: one line per call, to stderr with a UTC
 * timestamp, level, program and function prefix, or to syslog(3).
 *
 * Thread-safe without a lock: each line is formatted into a stack buffer and
 * written with a single write(2), so lines from concurrent threads never
 * interleave. qlog_init() is meant to run once at startup, before threads.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "proto/log.h"

#define QLOG_LINE_MAX 1024

int qlog_level = QLOG_INFO;
static bool qlog_syslog;
static char qlog_ident[32] = "qfs";

static const char *const qlog_names[] = { "err", "warn", "info", "debug" };
static const int qlog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void qlog_init(const char *ident, bool use_syslog, int level)
{
	if (ident && *ident)
		snprintf(qlog_ident, sizeof(qlog_ident), "%s", ident);
	if (level < QLOG_ERR)
		level = QLOG_ERR;
	if (level > QLOG_DEBUG)
		level = QLOG_DEBUG;
	qlog_level = level;
	qlog_syslog = use_syslog;
	if (use_syslog)
		openlog(qlog_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int qlog_parse_level(const char *s)
{
	if (!s)
		return -EINVAL;
	for (int i = QLOG_ERR; i <= QLOG_DEBUG; i++)
		if (strcasecmp(s, qlog_names[i]) == 0)
			return i;
	if (strcasecmp(s, "error") == 0)
		return QLOG_ERR;
	if (strcasecmp(s, "warning") == 0)
		return QLOG_WARN;
	return -EINVAL;
}

void qlog_write(int level, const char *func, int line, const char *fmt, ...)
{
	char buf[QLOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;
	size_t n = 0;
	va_list ap;
	int rc, saved = errno;

	if (level < QLOG_ERR)
		level = QLOG_ERR;
	if (level > QLOG_DEBUG)
		level = QLOG_DEBUG;
	if (!qlog_syslog) {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
		rc = snprintf(buf + n, sizeof(buf) - n, ".%03ldZ %s[%d] %s %s:%d: ",
			      (long)(tv.tv_usec / 1000), qlog_ident, (int)getpid(),
			      qlog_names[level], func, line);
	} else {
		rc = snprintf(buf, sizeof(buf), "%s:%d: ", func, line);
	}
	if (rc > 0)
		n += (size_t)rc;
	if (n >= sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	va_start(ap, fmt);
	rc = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (rc > 0)
		n += (size_t)rc < sizeof(buf) - n - 1 ? (size_t)rc : sizeof(buf) - n - 2;
	while (n > 0 && buf[n - 1] == '\n')
		n--;

	if (qlog_syslog) {
		buf[n] = '\0';
		syslog(qlog_prio[level], "%s", buf);
	} else {
		buf[n++] = '\n';
		/* One write per line; a short write to stderr is not retried. */
		if (write(STDERR_FILENO, buf, n) < 0)
			(void)0;
	}
	errno = saved;
}
