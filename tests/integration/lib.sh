# SPDX-License-Identifier: MIT
# lib.sh - shared harness of the filesystem integration tests (fs_*.sh).
#
# Sourced by a test script right after `set -eu`:
#
#   . "$(dirname "$0")/lib.sh"
#   it_init fs_files          # skip checks (exit 77), work dir, EXIT trap
#   it_cluster_start          # 3 chunkd daemons a b c on ipc:// endpoints
#   it_mkfs
#   it_mount "$IT_MNT"        # quorumfs CONFIG MNT, returns once mounted
#
# Environment: QFS_BIN (build/bin, required), QFS_SRC (source tree),
# QFS_IT_KEEP=1 keeps the work dir after a failure, QFS_IT_FOREGROUND=1
# runs quorumfs with -f in the background with its log in the work dir
# (background mode logs to syslog, which CI does not keep),
# QFS_IT_TCP=1 uses tcp://127.0.0.1 endpoints instead of ipc://.
# QFS_IT_MOUNT_WRAP is a command prefix quorumfs runs under (word-split; it
# must exec quorumfs), e.g. "env LD_PRELOAD=... FAKETIME=+2s" (fs_skew.sh).
#
# Everything the harness starts is recorded by pid or path and undone by the
# EXIT/INT/TERM trap: mounts unmounted (fusermount3 -u, retried, then -uz),
# mount servers and daemons killed BY PID (never by name), work dir removed
# (--one-file-system, so a mount that could not be undone is never walked).
# Every wait is bounded.

IT_NAME=${IT_NAME:-test}
IT_WORK=""
IT_CONF=""
IT_MNT=""
IT_FAILED=0
IT_T0=$(date +%s)
IT_DAEMONS=""		# names, in start order
declare -A IT_DPID=()	# name -> pid of the running daemon ("" when stopped)
declare -A IT_DEP=()	# name -> endpoint
declare -A IT_DDIR=()	# name -> data dir
declare -A IT_DWRAP=()	# name -> command the daemon runs under, e.g. "ip netns exec NS"
			# (it must exec chunkd, so the recorded pid is chunkd's)
IT_EXIT_HOOKS=""	# functions it_cleanup runs once mounts and daemons are gone
IT_MOUNTS=""		# mount points we mounted (space separated, no blanks in paths)
declare -A IT_MPID=()	# mount point -> pid of its quorumfs server

# ---- output and checks -------------------------------------------------------

it_log() { printf '[%s] %s\n' "$IT_NAME" "$*"; }

it_fail() {
	printf '[%s] FAIL: %s\n' "$IT_NAME" "$*" >&2
	IT_FAILED=1
	exit 1
}

# it_fail_soft WHY: report a failed check but go on with the script (for a
# check whose failure does not invalidate the ones after it); the script
# still fails at it_done or exit.
IT_SOFT_FAILS=0
it_fail_soft() {
	printf '[%s] FAIL (continuing): %s\n' "$IT_NAME" "$*" >&2
	IT_SOFT_FAILS=$((IT_SOFT_FAILS + 1))
}

# it_done: the end of a script: exit 1 when a soft check failed.
it_done() {
	if [ "$IT_SOFT_FAILS" -ne 0 ]; then
		IT_FAILED=1
		printf '[%s] FAIL: %s check(s) failed (see FAIL lines above)\n' "$IT_NAME" "$IT_SOFT_FAILS" >&2
		exit 1
	fi
	it_log "all checks passed in $(it_elapsed) s"
}

# it_on_exit FN: run FN in the EXIT trap, after the mounts and daemons are
# gone (e.g. to delete network namespaces the test made). FN must not fail.
it_on_exit() { IT_EXIT_HOOKS="$IT_EXIT_HOOKS $1"; }

# it_skip WHY: exit 77, which ctest reports as skipped.
it_skip() {
	printf '[%s] SKIP: %s\n' "$IT_NAME" "$*"
	exit 77
}

# it_check_eq WHAT EXPECTED GOT
it_check_eq() {
	if [ "$2" = "$3" ]; then
		it_log "ok: $1"
	else
		it_fail "$1: expected '$2', got '$3'"
	fi
}

# it_check_ne WHAT UNEXPECTED GOT
it_check_ne() {
	if [ "$2" != "$3" ]; then
		it_log "ok: $1"
	else
		it_fail "$1: expected something other than '$2'"
	fi
}

# it_check WHAT CMD...: CMD must succeed (bounded by the caller's timeout).
it_check() {
	local what=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		it_log "ok: $what"
	else
		it_fail "$what: expected success of '$*', got exit $rc: $(printf '%s' "$out" | head -c 2000)"
	fi
}

# it_check_fails WHAT MESSAGE CMD...: CMD must fail and its output contain
# MESSAGE (e.g. the strerror text "Directory not empty").
it_check_fails() {
	local what=$1 msg=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		it_fail "$what: expected '$*' to fail with '$msg', but it succeeded"
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		it_fail "$what: '$*' timed out (exit $rc), expected failure with '$msg'"
	fi
	case $out in
	*"$msg"*) it_log "ok: $what (failed with: $msg)" ;;
	*) it_fail "$what: expected failure with '$msg', got exit $rc: $(printf '%s' "$out" | head -c 2000)" ;;
	esac
}

# _it_err STATUS LINE COMMAND: the ERR trap (set -e is about to exit). Names
# the line of the test script, also when the command failed inside a lib.sh
# helper.
_it_err() {
	local where="line $2" i
	[ "$IT_FAILED" -ne 0 ] && return
	for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
		if [ "${BASH_SOURCE[i + 1]:-}" = "$0" ]; then
			where="$(basename "$0"):${BASH_LINENO[i]} (in ${FUNCNAME[i]})"
			break
		fi
	done
	printf '[%s] FAIL: %s: `%s` exited with status %s%s\n' "$IT_NAME" "$where" "$3" "$1" \
		"$([ "$1" -eq 124 ] && echo ' (timed out)')" >&2
	IT_FAILED=1
}

# tmo SECONDS CMD...: run CMD with a deadline (TERM, then KILL 5 s later).
tmo() {
	local s=$1
	shift
	timeout -k 5 "$s" "$@"
}

# it_sha FILE: the sha256 of FILE (60 s bound), or "ERROR(...)".
it_sha() {
	local out
	if out=$(tmo 60 sha256sum -- "$1" 2>&1); then
		printf '%s' "${out%% *}"
	else
		printf 'ERROR(%s)' "$(printf '%s' "$out" | tr '\n' ' ' | head -c 200)"
	fi
}

# it_now_ms: the time in ms (for durations).
it_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# it_timed WHAT CMD...: run CMD (30 s bound): its exit status in T_RC, its
# output in T_OUT, its duration in T_MS; the slowest run so far in
# IT_WORST_MS and IT_WORST_WHAT (set IT_WORST_MS=0 to start over).
# shellcheck disable=SC2034 # T_* and IT_WORST_WHAT are read by the scripts
IT_WORST_MS=0
IT_WORST_WHAT=""
# shellcheck disable=SC2034
it_timed() {
	local what=$1 t0
	shift
	t0=$(it_now_ms)
	T_RC=0
	T_OUT=$(tmo 30 "$@" 2>&1) || T_RC=$?
	T_MS=$(($(it_now_ms) - t0))
	if [ "$T_MS" -gt "$IT_WORST_MS" ]; then
		IT_WORST_MS=$T_MS
		IT_WORST_WHAT=$what
	fi
}

# it_elapsed: seconds since the script started.
it_elapsed() { echo $(($(date +%s) - IT_T0)); }

# ---- setup and cleanup ---------------------------------------------------------

# it_init NAME: check the environment (skip with 77), make the work dir,
# install the trap.
it_init() {
	IT_NAME=$1
	[ "$(id -u)" -eq 0 ] || it_skip "needs root"
	[ -c /dev/fuse ] || it_skip "no /dev/fuse"
	command -v fusermount3 >/dev/null 2>&1 || it_skip "no fusermount3 (package fuse3)"
	command -v timeout >/dev/null 2>&1 || it_skip "no timeout(1)"
	: "${QFS_BIN:?QFS_BIN must point at the bin directory of the build}"
	local b
	for b in chunkd mkfs.quorumfs quorumfs; do
		[ -x "$QFS_BIN/$b" ] || it_skip "$QFS_BIN/$b is not built"
	done
	# ipc:// paths must fit sockaddr_un (108 bytes): keep the work dir short.
	local base=${TMPDIR:-/tmp}
	[ "${#base}" -le 40 ] || base=/tmp
	IT_WORK=$(mktemp -d "$base/qfs-it.XXXXXX")
	trap it_cleanup EXIT
	# A raw command that fails under set -e says where, not just exits.
	set -E
	trap '_it_err $? $LINENO "$BASH_COMMAND"' ERR
	trap 'it_log "interrupted"; exit 130' INT
	trap 'it_log "terminated"; exit 143' TERM
	IT_CONF=$IT_WORK/cluster.conf
	IT_MNT=$IT_WORK/mnt
	mkdir -p "$IT_MNT"
	it_log "work dir $IT_WORK"
	_it_watchdog_start
}

# The watchdog: ctest kills a test that runs past its TIMEOUT with SIGKILL,
# and then no trap runs and daemons and mounts are left behind. So every
# script has its own, shorter budget (QFS_IT_BUDGET, default 240 s, ctest's
# TIMEOUT is 300): when it runs out, the watchdog TERMs the script, KILLs
# the script's children (a command stuck on the mount only dies of SIGKILL)
# and the EXIT trap cleans up as usual. It waits with bash's read -t on a
# FIFO, so it has no child of its own to leave behind.
IT_WATCHDOG=""
_it_watchdog_start() {
	local budget=${QFS_IT_BUDGET:-240} main=$$
	mkfifo "$IT_WORK/.watchdog"
	(
		trap - EXIT INT TERM ERR
		set +e
		read -r -t "$budget" <>"$IT_WORK/.watchdog"
		printf '[%s] FAIL: time budget of %s s exceeded: stopping the test\n' "$IT_NAME" "$budget" >&2
		kill -TERM "$main" 2>/dev/null
		sleep 2
		_it_kill_children "$main" "$BASHPID"
	) &
	IT_WATCHDOG=$!
}

# _it_kill_children PID EXCEPT: SIGKILL every child of PID but EXCEPT (by
# pid, from /proc; never by name).
_it_kill_children() {
	local p st ppid
	for p in /proc/[0-9]*; do
		{ st=$(cat "$p/stat"); } 2>/dev/null || continue
		st=${st##*) }		# after "pid (comm) ": "S ppid ..."
		ppid=$(echo "$st" | cut -d' ' -f2)
		[ "$ppid" = "$1" ] && [ "${p#/proc/}" != "$2" ] && kill -KILL "${p#/proc/}" 2>/dev/null
	done
}

# it_cleanup: the EXIT trap. Runs even after a failed check.
it_cleanup() {
	local rc=$? mnt name pid
	trap - EXIT INT TERM ERR
	set +e
	if [ -n "$IT_WATCHDOG" ]; then
		kill -KILL "$IT_WATCHDOG" 2>/dev/null
		wait "$IT_WATCHDOG" 2>/dev/null
	fi
	if [ "$rc" -eq 0 ] && [ "$IT_SOFT_FAILS" -ne 0 ]; then
		rc=1
	fi
	[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && IT_FAILED=1
	if [ "$IT_FAILED" -ne 0 ] && [ -n "$IT_WORK" ]; then
		for name in $IT_DAEMONS; do
			if [ -s "$IT_WORK/$name.log" ]; then
				it_log "--- last lines of chunkd $name log:"
				tail -n 15 "$IT_WORK/$name.log"
			fi
		done
		for mnt in "$IT_WORK"/mount-*.log; do
			[ -s "$mnt" ] || continue
			it_log "--- last lines of $(basename "$mnt"):"
			tail -n 30 "$mnt"
		done
	fi
	for mnt in $IT_MOUNTS; do
		it_umount "$mnt" >/dev/null 2>&1
	done
	for name in $IT_DAEMONS; do
		pid=${IT_DPID[$name]:-}
		[ -n "$pid" ] || continue
		kill -CONT "$pid" 2>/dev/null	# a SIGSTOPped daemon cannot act on TERM
		kill -TERM "$pid" 2>/dev/null
	done
	for name in $IT_DAEMONS; do
		pid=${IT_DPID[$name]:-}
		[ -n "$pid" ] || continue
		_it_wait_gone "$pid" 50 || kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		IT_DPID[$name]=""
	done
	for name in $IT_EXIT_HOOKS; do
		"$name"
	done
	if [ -n "$IT_WORK" ] && [ -d "$IT_WORK" ]; then
		if [ "$IT_FAILED" -ne 0 ] && [ "${QFS_IT_KEEP:-0}" = 1 ]; then
			it_log "kept work dir $IT_WORK"
		elif grep -q " $IT_WORK" /proc/self/mounts; then
			it_log "WARNING: something is still mounted under $IT_WORK; not removing it"
		else
			tmo 60 rm -rf --one-file-system "$IT_WORK"
		fi
	fi
	it_log "finished in $(it_elapsed) s: $([ "$rc" -eq 0 ] && echo PASS || { [ "$rc" -eq 77 ] && echo SKIP || echo "FAIL (exit $rc)"; })"
	exit "$rc"
}

# _it_wait_gone PID TENTHS: wait until PID has exited (at most TENTHS/10 s).
_it_wait_gone() {
	local i=0
	while kill -0 "$1" 2>/dev/null; do
		# a zombie child counts as gone
		if [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]; then
			return 0
		fi
		[ "$i" -ge "$2" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

# ---- daemons in network namespaces (fs_partition, fs_chaos) ------------------

IT_NET=10.$((100 + $$ % 100)) # a /16 picked from our pid: two runs do not share it
IT_NETS=""		     # namespaces made
IT_VETHS=""		     # host ends of the veth pairs made

# Exit hook: delete every namespace and veth made (the daemons are gone).
it_net_cleanup() {
	local v ns
	for v in $IT_VETHS; do
		ip link del "$v" 2>/dev/null || true
	done
	for ns in $IT_NETS; do
		ip netns del "$ns" 2>/dev/null || true
	done
	for ns in $IT_NETS; do
		ip netns list 2>/dev/null | grep -qw "$ns" && it_log "WARNING: namespace $ns is left"
	done
	IT_NETS="" IT_VETHS=""
	return 0
}

# it_net_daemon NAME INDEX: define daemon NAME in namespace qfsit-PID-NAME,
# reached over veth qfPID-INDEX (host IT_NET.INDEX.1/30) <-> eth0 (inside,
# IT_NET.INDEX.2/30) at tcp://IT_NET.INDEX.2:7100 (start it with
# it_daemon_start after it_cluster_write_config). Returns 1 when the
# namespace or the veth cannot be made (ip(8) and nsenter(1) needed).
it_net_daemon() {
	local name=$1 i=$2 ns=qfsit-$$-$1 v=qf$$-$2
	[ -n "$IT_NETS" ] || it_on_exit it_net_cleanup
	ip netns add "$ns" 2>/dev/null || return 1
	IT_NETS="$IT_NETS $ns"
	ip link add "$v" type veth peer name eth0 netns "$ns" 2>/dev/null || return 1
	IT_VETHS="$IT_VETHS $v"
	ip addr add "$IT_NET.$i.1/30" dev "$v" &&
		ip link set "$v" up &&
		ip -n "$ns" addr add "$IT_NET.$i.2/30" dev eth0 &&
		ip -n "$ns" link set eth0 up &&
		ip -n "$ns" link set lo up || return 1
	IT_DAEMONS="$IT_DAEMONS $name"
	IT_DDIR[$name]=$IT_WORK/data-$name
	IT_DEP[$name]=tcp://$IT_NET.$i.2:7100
	# nsenter, not `ip netns exec`: that makes a mount namespace too, and a
	# daemon restarted while the volume is mounted would keep a copy of the
	# FUSE mount alive there, so quorumfs would never see the unmount
	IT_DWRAP[$name]="nsenter --net=/run/netns/$ns"
}

# it_net_cut NAME / it_net_heal NAME: daemon NAME's end of its link down / up.
it_net_cut() { ip -n "qfsit-$$-$1" link set eth0 down; }
it_net_heal() { ip -n "qfsit-$$-$1" link set eth0 up; }

# ---- daemons -------------------------------------------------------------------

# it_cluster_write_config [NAMES...]: cluster config with N=3 W=2 R=2.
it_cluster_write_config() {
	local name i=0
	{
		echo "; written by tests/integration/lib.sh"
		echo "[cluster]"
		echo "replicas = 3"
		echo "write_quorum = 2"
		echo "read_quorum = 2"
		echo "timeout_ms = ${QFS_IT_TIMEOUT_MS:-1000}"
		for name in "$@"; do
			echo "[daemon $name]"
			echo "endpoint = ${IT_DEP[$name]}"
		done
	} >"$IT_CONF"
}

# it_cluster_start [NAMES...]: define daemons (default a b c), write the
# config and start them all.
it_cluster_start() {
	local names=${*:-a b c} name port=0
	[ -n "${QFS_IT_TCP:-}" ] && port=$(_it_free_port_base)
	for name in $names; do
		IT_DAEMONS="$IT_DAEMONS $name"
		IT_DDIR[$name]=$IT_WORK/data-$name
		if [ -n "${QFS_IT_TCP:-}" ]; then
			IT_DEP[$name]=tcp://127.0.0.1:$port
			port=$((port + 1))
		else
			IT_DEP[$name]=ipc://$IT_WORK/$name.sock
		fi
	done
	# shellcheck disable=SC2086
	it_cluster_write_config $names
	for name in $names; do
		it_daemon_start "$name"
	done
	it_log "cluster up: $names (config $IT_CONF)"
}

# A base port with 8 free ports after it (only for QFS_IT_TCP=1).
_it_free_port_base() {
	local p
	for p in $(shuf -i 20000-60000 -n 20); do
		if ! ss -Htln 2>/dev/null | grep -q ":$p "; then
			echo "$p"
			return
		fi
	done
	echo 31700
}

# it_daemon_start NAME: start chunkd NAME on its data dir; wait until it
# serves its endpoint (10 s bound).
it_daemon_start() {
	local name=$1 ep=${IT_DEP[$1]} i=0 pid
	[ -z "${IT_DPID[$name]:-}" ] || it_fail "daemon $name is already running"
	# A killed daemon leaves its ipc socket file behind: remove it, so the
	# wait below sees the new one.
	case $ep in ipc://*) rm -f "${ep#ipc://}" ;; esac
	# shellcheck disable=SC2086
	${IT_DWRAP[$name]:-} "$QFS_BIN/chunkd" --name "$name" --listen "$ep" \
		--data "${IT_DDIR[$name]}" ${QFS_IT_CHUNKD_ARGS:-} >>"$IT_WORK/$name.log" 2>&1 &
	pid=$!
	IT_DPID[$name]=$pid
	while :; do
		kill -0 "$pid" 2>/dev/null || {
			tail -n 20 "$IT_WORK/$name.log" >&2
			IT_DPID[$name]=""
			it_fail "chunkd $name exited at startup"
		}
		# shellcheck disable=SC2086
		case $ep in
		ipc://*) [ -S "${ep#ipc://}" ] && break ;;
		tcp://*) ${IT_DWRAP[$name]:-} ss -Htln 2>/dev/null | grep -q ":${ep##*:} " && break ;;
		esac
		[ "$i" -ge 100 ] && it_fail "chunkd $name did not start listening on $ep within 10 s"
		sleep 0.1
		i=$((i + 1))
	done
}

# it_daemon_stop NAME: SIGTERM, wait (10 s), then SIGKILL.
it_daemon_stop() {
	local name=$1 pid=${IT_DPID[$1]:-}
	[ -n "$pid" ] || it_fail "daemon $name is not running"
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || true
	if ! _it_wait_gone "$pid" 100; then
		it_log "chunkd $name ignored SIGTERM for 10 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	IT_DPID[$name]=""
}

# it_daemon_kill NAME: kill -9.
it_daemon_kill() {
	local name=$1 pid=${IT_DPID[$1]:-}
	[ -n "$pid" ] || it_fail "daemon $name is not running"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	IT_DPID[$name]=""
}

# it_daemon_pause NAME / it_daemon_resume NAME: SIGSTOP / SIGCONT.
it_daemon_pause() { kill -STOP "${IT_DPID[$1]:?daemon $1 is not running}"; }
it_daemon_resume() { kill -CONT "${IT_DPID[$1]:?daemon $1 is not running}"; }

# ---- the filesystem ----------------------------------------------------------

# it_mkfs [ARGS...]: format the cluster (60 s bound).
it_mkfs() {
	local out rc=0
	out=$(tmo 60 "$QFS_BIN/mkfs.quorumfs" "$@" "$IT_CONF" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || it_fail "mkfs.quorumfs $* $IT_CONF: exit $rc: $out"
	it_log "mkfs: $out"
}

# _it_find_server MNT: pid of the quorumfs process serving MNT, found by
# its exact command line (our config and mount point, unique to this work
# dir), or nothing.
_it_find_server() {
	local p args
	for p in /proc/[0-9]*; do
		{ args=$(tr '\0' '\n' <"$p/cmdline"); } 2>/dev/null || continue
		case $args in
		"$QFS_BIN/quorumfs"*) ;;
		*) continue ;;
		esac
		if printf '%s\n' "$args" | grep -qxF "$IT_CONF" &&
			printf '%s\n' "$args" | grep -qxF "$1"; then
			echo "${p#/proc/}"
			return
		fi
	done
}

_it_is_mounted() { grep -q " $1 fuse" /proc/self/mounts; }

# it_mount MNT [CONFIG] [-o OPTS]: mount the cluster on MNT (created if
# missing). Returns once mounted (quorumfs's background mode waits for the
# child); 60 s bound. Extra options after the mount point go to quorumfs.
it_mount() {
	local mnt=$1 conf=$IT_CONF out rc=0 pid i=0 log
	shift
	if [ "${1:-}" != "" ] && [ "${1#-}" = "$1" ]; then
		conf=$1
		shift
	fi
	mkdir -p "$mnt"
	log=$IT_WORK/mount-$(basename "$mnt").log
	if [ "${QFS_IT_FOREGROUND:-0}" = 1 ]; then
		# shellcheck disable=SC2086
		${QFS_IT_MOUNT_WRAP:-} "$QFS_BIN/quorumfs" "$conf" "$mnt" -f "$@" >>"$log" 2>&1 &
		pid=$!
		while ! _it_is_mounted "$mnt"; do
			kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; it_fail "quorumfs exited before mounting $mnt"; }
			[ "$i" -ge 600 ] && { kill -KILL "$pid"; it_fail "quorumfs did not mount $mnt within 60 s"; }
			sleep 0.1
			i=$((i + 1))
		done
	else
		# shellcheck disable=SC2086
		out=$(tmo 60 ${QFS_IT_MOUNT_WRAP:-} "$QFS_BIN/quorumfs" "$conf" "$mnt" "$@" 2>&1) || rc=$?
		printf '%s\n' "$out" >>"$log"
		if [ "$rc" -ne 0 ]; then
			pid=$(_it_find_server "$mnt")
			if [ -n "$pid" ]; then
				kill -KILL "$pid" 2>/dev/null || true
			fi
			_it_is_mounted "$mnt" && fusermount3 -uz "$mnt" 2>/dev/null
			it_fail "quorumfs $conf $mnt $*: exit $rc: $out"
		fi
		_it_is_mounted "$mnt" || it_fail "quorumfs returned 0 but $mnt is not mounted"
		pid=$(_it_find_server "$mnt")
	fi
	IT_MOUNTS="$IT_MOUNTS $mnt"
	IT_MPID[$mnt]=${pid:-}
	it_log "mounted $mnt $* (server pid ${pid:-unknown})"
}

# it_umount MNT: fusermount3 -u, retried for ~10 s while busy, then -uz;
# then wait for the server to exit (10 s), else kill -9 it. Returns 1 when
# the plain unmount never succeeded.
it_umount() {
	local mnt=$1 i=0 pid=${IT_MPID[$1]:-} ok=0 m
	while _it_is_mounted "$mnt"; do
		if tmo 20 fusermount3 -u "$mnt" 2>/dev/null; then
			break
		fi
		if [ "$i" -ge 20 ]; then
			it_log "fusermount3 -u $mnt kept failing: lazy unmount"
			tmo 20 fusermount3 -uz "$mnt" 2>/dev/null || true
			ok=1
			break
		fi
		sleep 0.5
		i=$((i + 1))
	done
	if [ -n "$pid" ] && ! _it_wait_gone "$pid" 100; then
		it_log "quorumfs server $pid still running 10 s after unmounting $mnt: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		ok=1
	fi
	# a killed server can leave the mount behind ("not connected")
	_it_is_mounted "$mnt" && { tmo 20 fusermount3 -uz "$mnt" 2>/dev/null || true; }
	local rest=""
	for m in $IT_MOUNTS; do
		[ "$m" = "$mnt" ] || rest="$rest $m"
	done
	IT_MOUNTS=$rest
	IT_MPID[$mnt]=""
	return "$ok"
}

# it_umount_check MNT: unmount and fail the test when it was not clean.
it_umount_check() {
	it_umount "$1" || it_fail "unmounting $1 was not clean (lazy unmount or SIGKILL needed)"
	it_log "unmounted $1"
}

# it_remount MNT [OPTS...]: unmount cleanly and mount again.
it_remount() {
	local mnt=$1
	shift
	it_umount_check "$mnt"
	it_mount "$mnt" "$@"
}

# it_make_file PATH SIZE [SEED]: deterministic content of SIZE bytes on
# local disk: every 8-byte word holds its own index and a hash of it and the
# seed, so a block read back from the wrong offset or the wrong file never
# compares equal. (perl is Essential in Debian.)
it_make_file() {
	local path=$1 size=$2 seed=${3:-0}
	perl -e '
		my ($size, $seed) = @ARGV; my $i = 0; my $left = $size;
		binmode STDOUT;
		while ($left > 0) {
			my $buf = "";
			for (1 .. 8192) {
				$buf .= pack("NN", $i, (($i * 2654435761) ^ ($seed * 40503 + 977)) & 0xffffffff);
				$i++;
			}
			my $n = $left < length($buf) ? $left : length($buf);
			print substr($buf, 0, $n); $left -= $n;
		}' "$size" "$seed" >"$path"
	[ "$(stat -c %s "$path")" -eq "$size" ] || it_fail "cannot make a $size-byte file at $path"
}

# ---- fsck.quorumfs -----------------------------------------------------------

# fsck ARGS...: run fsck.quorumfs on the cluster (bounded); exit code in FRC,
# stdout and stderr in FOUT. IT_FSCK_ARGS go first (e.g. --json).
fsck() {
	FRC=0
	# shellcheck disable=SC2086
	FOUT=$(tmo 120 "$QFS_BIN/fsck.quorumfs" --no-progress ${IT_FSCK_ARGS:-} "$@" "$IT_CONF" 2>&1) ||
		FRC=$?
}

# jval NAME: the first integer field NAME of the JSON report in $FOUT
jval() { printf '%s\n' "$FOUT" | sed -n "s/^ *\"$1\": *\([0-9]*\).*/\1/p" | head -n 1; }

# fsck_expect CODE ARGS...: fsck must exit CODE; a test may define
# fsck_note to add figures of the report to the log line.
fsck_expect() {
	local want=$1 note=""
	shift
	fsck "$@"
	[ "$FRC" = "$want" ] ||
		it_fail "fsck.quorumfs $*: expected exit $want, got $FRC: $(printf '%s' "$FOUT" | tail -n 40)"
	declare -F fsck_note >/dev/null && note=" ($(fsck_note))"
	it_log "ok: fsck.quorumfs $* exits $want$note"
}
