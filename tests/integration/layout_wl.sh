# SPDX-License-Identifier: MIT
# layout_wl.sh - what the layout tests (fs_layout, fs_layout_faults,
# fs_layout_stale) share, sourced after lib.sh once the mount is up:
#
#   put N              write file N of random bytes through the mount at
#                      $M/w/fN and into the model $MODEL/fN; prints the ms
#   wl_start           the workload in the background: rewrite a random
#                      file of 1..NF, read back (cmp) another, pause
#                      WL_PAUSE s, until stopped; wl.stat holds steps done,
#                      the slowest write and the slowest read in ms (a
#                      restart goes on from it); errors go to wl.err
#   wl_stop            stop it after its current step (also an exit hook)
#   wl_fail WHY        wl_stop, then it_fail
#   layout_fsck_clean WHAT
#                      fsck.quorumfs -n --full --json exits 0 with 0
#                      missing, stale, corrupt and misplaced: every key is
#                      on exactly the N daemons of its list
#
# Variables: M, MODEL, NF (files), PUT_KIB_MIN and PUT_KIB_SPAN (file
# sizes, KiB), WL_PAUSE (seconds between steps, 0 for none).

PUT_KIB_MIN=${PUT_KIB_MIN:-30}
PUT_KIB_SPAN=${PUT_KIB_SPAN:-270}
WL_PAUSE=${WL_PAUSE:-0}
WL=""

put() {
	local n=$1 t0 kib=$((PUT_KIB_MIN + RANDOM % PUT_KIB_SPAN))
	head -c $((kib * 1024)) /dev/urandom >"$MODEL/f$n.new"
	t0=$(it_now_ms)
	cp "$MODEL/f$n.new" "$M/w/f$n.tmp" && mv "$M/w/f$n.tmp" "$M/w/f$n" || return 1
	mv "$MODEL/f$n.new" "$MODEL/f$n"
	echo $(($(it_now_ms) - t0))
}

_wl_main() {
	local i=0 n ms t0 worst=0 worst_rd=0
	[ -s "$IT_WORK/wl.stat" ] && read -r i worst worst_rd <"$IT_WORK/wl.stat"
	while [ ! -e "$IT_WORK/stop" ]; do
		n=$((1 + RANDOM % NF))
		ms=$(put "$n") || { echo "write f$n failed" >>"$IT_WORK/wl.err"; return; }
		[ "$ms" -gt "$worst" ] && worst=$ms
		n=$((1 + RANDOM % NF))
		t0=$(it_now_ms)
		cmp -s "$M/w/f$n" "$MODEL/f$n" || { echo "f$n differs" >>"$IT_WORK/wl.err"; return; }
		ms=$(($(it_now_ms) - t0))
		[ "$ms" -gt "$worst_rd" ] && worst_rd=$ms
		i=$((i + 1))
		echo "$i $worst $worst_rd" >"$IT_WORK/wl.stat"
		[ "$WL_PAUSE" = 0 ] || sleep "$WL_PAUSE"
	done
}

wl_start() {
	rm -f "$IT_WORK/stop"
	_wl_main &
	WL=$!
}

# Stop the workload before anything that fails the test: the cleanup
# unmounts first, and a cp still running then reports ENOENT, which reads
# like a filesystem error but is not one.
wl_stop() {
	touch "$IT_WORK/stop"
	[ -n "$WL" ] || return 0
	tmo 60 tail --pid="$WL" -f /dev/null || kill "$WL" 2>/dev/null || true
	WL=""
}
it_on_exit wl_stop

wl_fail() {
	wl_stop
	it_fail "$@"
}

layout_fsck_clean() {
	local what=$1 rc=0 out
	out=$(tmo 120 "$QFS_BIN/fsck.quorumfs" -n --full --json --no-progress "$IT_CONF" \
		2>"$IT_WORK/fsck.err") || rc=$?
	it_log "$what: fsck: $(printf '%s' "$out" |
		jq -c '{keys, replicas_checked, missing, stale, corrupt, misplaced, unreachable, exit}' 2>&1)"
	[ "$rc" -eq 0 ] || it_log "$what: fsck stderr: $(tail -n 5 "$IT_WORK/fsck.err")"
	it_check_eq "$what: fsck -n --full exit" 0 "$rc"
	it_check_eq "$what: fsck missing/stale/corrupt/misplaced" "0 0 0 0" \
		"$(printf '%s' "$out" | jq -r '"\(.missing) \(.stale) \(.corrupt) \(.misplaced)"')"
	LAYOUT_FSCK_OUT=$out
}
