#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_curve.sh - CURVE end to end with real daemons and a real mount:
# `qfs keygen` (modes, never overwrites), chunkd's refusals at startup
# (--curve-secret without --allow exits 2, a secret key readable by others,
# a bad allow-list line named FILE:LINE), a client with a listed key that
# mkfs's, mounts, writes and reads; a plaintext peer that gets no answer
# while the daemon keeps serving a good client; a client with an unlisted
# key, with no key at all, without [client] keys, or with a loose secret key
# file, each refused with a clear message well within 2 x timeout_ms (never
# a hang); SIGHUP adding the unlisted key lets that client in without a
# restart, and a broken allow list on SIGHUP keeps the old one.
#
# Usage: fs_curve.sh PROBE (the test_curve_probe binary).
# shellcheck disable=SC2119 # it_mkfs takes optional arguments
set -eu
. "$(dirname "$0")/lib.sh"
PROBE=${1:?usage: fs_curve.sh PATH/TO/test_curve_probe}
it_init fs_curve
QFS=$QFS_BIN/qfs
[ -x "$QFS" ] || it_skip "$QFS is not built"
[ -x "$PROBE" ] || it_skip "$PROBE is not built"

TMO=1500			# timeout_ms of every config below
LIMIT=$((2 * TMO))		# a refusal must come well before 2 x timeout_ms
K=$IT_WORK/keys
mkdir -p "$K"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- qfs keygen ---------------------------------------------------------------
for n in a b c client intruder; do
	out=$(tmo 10 "$QFS" keygen "$n" --dir "$K" 2>/dev/null)
	it_check_eq "keygen $n prints the public key" "$(cat "$K/$n.pub")" "$out"
done
it_check_eq "secret key mode" 600 "$(stat -c %a "$K/a.key")"
it_check_eq "public key mode" 644 "$(stat -c %a "$K/a.pub")"
it_check_eq "secret key file size (40 Z85 + newline)" 41 "$(stat -c %s "$K/a.key")"
it_check_eq "public key file size" 41 "$(stat -c %s "$K/a.pub")"
it_check_ne "key pairs differ" "$(cat "$K/a.pub")" "$(cat "$K/b.pub")"
before=$(sha256sum <"$K/a.key")
it_check_fails "keygen refuses to overwrite" "refusing to overwrite" tmo 10 "$QFS" keygen a --dir "$K"
it_check_eq "existing secret key unchanged" "$before" "$(sha256sum <"$K/a.key")"
(umask 000 && tmo 10 "$QFS" keygen loose --dir "$K" >/dev/null 2>&1)
it_check_eq "secret key mode 0600 whatever the umask" 600 "$(stat -c %a "$K/loose.key")"

# The allow list: comments, blank lines, a trailing comment.
{
	echo "# clients admitted by the test daemons"
	echo
	echo "  $(cat "$K/client.pub")   # the test client"
} >"$K/allow"

# ---- chunkd refuses bad key setups -------------------------------------------
run_chunkd() {	# run_chunkd ARGS...: a chunkd that must exit by itself (10 s bound)
	tmo 10 "$QFS_BIN/chunkd" --name x --listen "ipc://$IT_WORK/x.sock" --data "$IT_WORK/data-x" "$@"
}
rc=0
out=$(run_chunkd --curve-secret "$K/a.key" 2>&1) || rc=$?
it_check_eq "chunkd --curve-secret without --allow exits 2" 2 "$rc"
case $out in *"--curve-secret needs --allow"*) it_log "ok: message: $out" ;;
*) it_fail "no clear message for --curve-secret without --allow: $out" ;; esac
rc=0
out=$(run_chunkd --allow "$K/allow" 2>&1) || rc=$?
it_check_eq "chunkd --allow without --curve-secret exits 2" 2 "$rc"

cp "$K/a.key" "$K/open.key"
chmod 644 "$K/open.key"
it_check_fails "chunkd refuses a secret key readable by others" "chmod 600 $K/open.key" \
	run_chunkd --curve-secret "$K/open.key" --allow "$K/allow"
{ cat "$K/allow"; echo "not-a-key"; } >"$K/allow.bad"
it_check_fails "chunkd names the bad allow-list line" "$K/allow.bad:4:" \
	run_chunkd --curve-secret "$K/a.key" --allow "$K/allow.bad"

# ---- a CURVE cluster ---------------------------------------------------------
# lib.sh's it_cluster_start gives every daemon the same options; each of ours
# has its own secret key, so define the daemons and start them one by one.
for n in a b c; do
	IT_DAEMONS="$IT_DAEMONS $n"
	IT_DDIR[$n]=$IT_WORK/data-$n
	IT_DEP[$n]=ipc://$IT_WORK/$n.sock
done

# write_conf FILE [CLIENT] [nokeys|wrongkeys]: the cluster config; CLIENT
# names the key pair in [client] (none: no [client] section); nokeys: no
# public_key; wrongkeys: every daemon's public_key is another key's.
write_conf() {
	local f=$1 client=${2:-} nokeys=${3:-} n
	{
		echo "[cluster]"
		echo "replicas = 3"
		echo "write_quorum = 2"
		echo "read_quorum = 2"
		echo "timeout_ms = $TMO"
		if [ -n "$client" ]; then
			echo "[client]"
			echo "public_key_file = keys/$client.pub"	# relative to the config
			echo "secret_key_file = keys/$client.key"
		fi
		for n in a b c; do
			echo "[daemon $n]"
			echo "endpoint = ${IT_DEP[$n]}"
			case $nokeys in
			nokeys) ;;
			wrongkeys) echo "public_key = $(cat "$K/intruder.pub")" ;;
			*) echo "public_key = $(cat "$K/$n.pub")" ;;
			esac
		done
	} >"$f"
}
write_conf "$IT_CONF" client
for n in a b c; do
	QFS_IT_CHUNKD_ARGS="--curve-secret $K/$n.key --allow $K/allow" it_daemon_start "$n"
done
grep -qF "CURVE on: public key $(cat "$K/a.pub")" "$IT_WORK/a.log" ||
	it_fail "chunkd a does not log its CURVE public key"
it_log "CURVE cluster up"

# ---- a listed client works: mkfs, mount, write, read -------------------------
it_mkfs
it_mount "$IT_MNT"
it_make_file "$IT_WORK/src" $((3 * 1024 * 1024 + 12345)) 7
tmo 60 cp "$IT_WORK/src" "$IT_MNT/file"
it_check_eq "file written over CURVE reads back" "$(it_sha "$IT_WORK/src")" "$(it_sha "$IT_MNT/file")"
it_umount_check "$IT_MNT"
it_mount "$IT_MNT"
it_check_eq "file reads back after a remount" "$(it_sha "$IT_WORK/src")" "$(it_sha "$IT_MNT/file")"

# ---- a plaintext peer gets nothing; the daemon keeps serving -----------------
"$PROBE" plain "${IT_DEP[a]}" 2000 >"$IT_WORK/plain.out" 2>&1 &
plain=$!
sleep 0.3
it_check "a CURVE client with a listed key is answered while a plaintext peer waits" \
	tmo 10 "$PROBE" curve "${IT_DEP[a]}" "$K/a.pub" "$K/client.pub" "$K/client.key" 3000
rc=0
wait "$plain" || rc=$?
it_check_eq "plaintext HELLO to a CURVE daemon gets no answer" 0 "$rc"
it_check "the mount still works after the plaintext peer" tmo 30 cmp "$IT_WORK/src" "$IT_MNT/file"
rc=0
tmo 10 "$PROBE" curve "${IT_DEP[a]}" "$K/a.pub" "$K/intruder.pub" "$K/intruder.key" 3000 || rc=$?
it_check_eq "an unlisted key is refused at the handshake (HANDSHAKE_FAILED_AUTH)" 3 "$rc"

# ---- refused clients fail fast with a clear message --------------------------
# refused WHAT MESSAGE CMD...: CMD fails with MESSAGE (alternatives split
# by '|') in under LIMIT ms.
refused() {
	local what=$1 msg=$2 t0 dt out rc=0 alt found=0
	shift 2
	t0=$(now_ms)
	out=$(tmo 30 "$@" 2>&1) || rc=$?
	dt=$(($(now_ms) - t0))
	[ "$rc" -ne 0 ] || it_fail "$what: '$*' succeeded"
	IFS='|' read -ra alts <<<"$msg"
	for alt in "${alts[@]}"; do
		case $out in *"$alt"*) found=1 ;; esac
	done
	[ "$found" = 1 ] ||
		it_fail "$what: expected '$msg', got exit $rc: $(printf '%s' "$out" | head -c 1500)"
	[ "$dt" -lt "$LIMIT" ] || it_fail "$what: took $dt ms (limit $LIMIT ms = 2 x timeout_ms)"
	it_log "ok: $what in $dt ms: $(printf '%s' "$out" | tail -n 1 | head -c 300)"
}
write_conf "$IT_WORK/intruder.conf" intruder
mkdir -p "$IT_WORK/mnt2"
refused "qfs df with an unlisted key" "daemon a refused our CURVE key (not in its allow-list)" \
	"$QFS" df "$IT_WORK/intruder.conf"
refused "mount with an unlisted key" "refused our CURVE key (not in its allow-list)" \
	"$QFS_BIN/quorumfs" "$IT_WORK/intruder.conf" "$IT_WORK/mnt2"
grep -F "public key $(cat "$K/intruder.pub") is not in" "$IT_WORK/a.log" | grep -q "refused client at " ||
	it_fail "chunkd a did not log the refused key"
it_log "ok: chunkd logs the refused key and the peer address"

write_conf "$IT_WORK/plain.conf" "" nokeys
# the daemon either sees our plaintext greeting first and closes, or we see
# its CURVE greeting first: either way the message says CURVE is the issue
refused "qfs df without any key against CURVE daemons" \
	"one side uses CURVE and the other plaintext|it probably requires CURVE" \
	"$QFS" df "$IT_WORK/plain.conf"

write_conf "$IT_WORK/wrongsrv.conf" client wrongkeys
refused "a wrong public_key for the daemons" "matches its --curve-secret" \
	"$QFS" df "$IT_WORK/wrongsrv.conf"

write_conf "$IT_WORK/noclient.conf" ""
refused "daemons with public_key but [client] without keys" "[client] names no key pair" \
	"$QFS" df "$IT_WORK/noclient.conf"

cp "$K/client.key" "$K/open-client.key"
cp "$K/client.pub" "$K/open-client.pub"
chmod 640 "$K/open-client.key"
write_conf "$IT_WORK/open.conf" open-client
refused "a client secret key readable by the group" "chmod 600 $K/open-client.key" \
	"$QFS" df "$IT_WORK/open.conf"
refused "mount with a client secret key readable by the group" "chmod 600" \
	"$QFS_BIN/quorumfs" "$IT_WORK/open.conf" "$IT_WORK/mnt2"

# ---- SIGHUP ------------------------------------------------------------------
# hup_all PATTERN: SIGHUP every daemon (by pid) and wait for PATTERN in its log.
hup_all() {
	local n i c0
	for n in a b c; do
		c0=$(grep -cF "$1" "$IT_WORK/$n.log" || true)
		kill -HUP "${IT_DPID[$n]}"
		i=0
		while [ "$(grep -cF "$1" "$IT_WORK/$n.log" || true)" -le "$c0" ]; do
			[ "$i" -lt 50 ] || it_fail "chunkd $n did not log '$1' within 5 s of SIGHUP"
			sleep 0.1
			i=$((i + 1))
		done
	done
}
cp "$K/allow" "$K/allow.good"
{ cat "$K/allow.good"; echo "garbage"; } >"$K/allow"
hup_all "allow list not reloaded, keeping the previous one"
it_log "ok: a broken allow list on SIGHUP is refused and logged"
it_check "the listed client still works after a refused reload" tmo 30 "$QFS" df "$IT_CONF"
refused "the unlisted key is still refused after a refused reload" "refused our CURVE key" \
	"$QFS" df "$IT_WORK/intruder.conf"

{ cat "$K/allow.good"; cat "$K/intruder.pub"; } >"$K/allow"
hup_all "reloaded: 2 client keys"
it_check "after SIGHUP the previously unlisted key is admitted" tmo 30 "$QFS" df "$IT_WORK/intruder.conf"
it_mount "$IT_WORK/mnt2" "$IT_WORK/intruder.conf"
it_check_eq "the newly admitted client reads the file" "$(it_sha "$IT_WORK/src")" "$(it_sha "$IT_WORK/mnt2/file")"
it_umount_check "$IT_WORK/mnt2"
for n in a b c; do
	kill -0 "${IT_DPID[$n]}" || it_fail "chunkd $n died"
done
it_log "ok: no daemon was restarted"
it_umount_check "$IT_MNT"
it_done
