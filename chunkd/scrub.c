// SPDX-License-Identifier: MIT
/*
 * scrub.c - the background scrubber: walks every chunk of the store with
 * chk_store_scrub_next(), verifying block checksums at no more than
 * --scrub-rate MiB/s, and sends each corrupt finding to the writer (the only
 * thread that may mark a record). A pass that reaches the end of the store
 * rests CHK_SCRUB_PAUSE_S, then starts over. It reads through the store's
 * read API only, so it runs concurrently with the writer and the readers.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "chunkd/server.h"
#include "proto/log.h"

#define CHK_SCRUB_PAUSE_S 60
#define CHK_SCRUB_ERR_PAUSE_S 5

/* Sleep @ns nanoseconds in slices, returning early when the daemon stops. */
static void chk_scrub_sleep(struct chk_daemon *d, uint64_t ns)
{
	const uint64_t slice = (uint64_t)CHK_POLL_MS * 1000000;

	while (ns && !atomic_load(&d->stop)) {
		uint64_t step = ns < slice ? ns : slice;
		struct timespec ts = { .tv_sec = (time_t)(step / 1000000000),
				       .tv_nsec = (long)(step % 1000000000) };

		nanosleep(&ts, NULL);
		ns -= step;
	}
}

void *chk_scrub_main(void *arg)
{
	struct chk_worker *w = arg;
	struct chk_daemon *d = w->d;
	const uint64_t rate = d->o.scrub_rate << 20; /* bytes per second, > 0 */
	uint8_t cursor[PROTO_KEY_MAX];
	uint16_t cursor_len = 0;
	uint64_t pass_bytes = 0, pass_bad = 0;
	struct proto_key bad_key;
	struct proto_version bad_ver;
	char kb[96];
	int64_t n;
	bool bad;

	while (!atomic_load(&d->stop)) {
		bad = false;
		n = chk_store_scrub_next(d->store, cursor, &cursor_len, &bad_key, &bad_ver, &bad);
		if (n < 0) {
			qlog_warn("scrub: %s", strerror((int)-n));
			chk_scrub_sleep(d, CHK_SCRUB_ERR_PAUSE_S * 1000000000ull);
			continue;
		}
		if (bad) {
			pass_bad++;
			qlog_warn("scrub: %s is corrupt",
				  proto_key_str(&bad_key, kb, sizeof(kb)));
			if (chk_note_corrupt(w->note, &bad_key, &bad_ver) < 0)
				qlog_warn("scrub: corruption note dropped (writer queue full)");
		}
		if (n == 0) {
			if (pass_bytes)
				qlog_info("scrub pass done: %" PRIu64 " bytes, %" PRIu64 " corrupt",
					  pass_bytes, pass_bad);
			pass_bytes = pass_bad = 0;
			cursor_len = 0;
			chk_scrub_sleep(d, CHK_SCRUB_PAUSE_S * 1000000000ull);
			continue;
		}
		pass_bytes += (uint64_t)n;
		/* n bytes at @rate bytes/s; n <= 4 MiB so this cannot overflow */
		chk_scrub_sleep(d, (uint64_t)n * 1000000000ull / rate);
	}
	zmq_close(w->note);
	w->note = NULL;
	return NULL;
}
