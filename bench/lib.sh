# SPDX-License-Identifier: MIT
#
# bench/lib.sh - the setup shared by bench/fsbench and its extra rows
# (bench/extras.sh): sourced, not run. It owns the temporary directory, the
# chunkd daemons, the mount and their cleanup.
#
# The caller sets ROOT, BIN, KEEP and WAIT_LOAD/WAIT_MAX, then sources this
# file, which checks the tools, makes the temporary directory TMP (mktemp -d
# under BENCH_TMP, default the parent of the work tree) with private copies
# of the binaries and installs the EXIT trap. Nothing is started yet:
#
#   cluster_up COUNT [curve]   COUNT chunkd on tcp://127.0.0.1 (free ports,
#                              names a, b, c, ...), config N=3 W=2 R=2
#                              timeout_ms=1000 (CURVE keys from `qfs keygen`
#                              with "curve"), mkfs.quorumfs, mount on MNT
#   cluster_down               unmount (fusermount3 -u), stop the daemons by
#                              pid, remove their data directories
#   step/timed/record          run one bounded step, log its failure, keep
#                              its value in TMP/results
#   wait_load                  wait for the 1-minute load to fall below
#                              WAIT_LOAD (if set)
#   bg_start CMD...            a background helper (sampler) stopped by pid
#                              at cleanup
#
# Everything started is stopped by pid in the EXIT trap (also on Ctrl-C),
# which then removes TMP unless KEEP=1.

# ---- checks ------------------------------------------------------------------

die() { echo "fsbench: $*" >&2; exit 2; }
for b in chunkd quorumfs mkfs.quorumfs qfs; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is not built (run make, or set BIN)"
done
for c in fio fusermount3 timeout perl tar ss; do
	command -v "$c" >/dev/null 2>&1 || die "needs $c"
done
[ -c /dev/fuse ] || die "no /dev/fuse"
CAN_DROP=1
if [ "$(id -u)" -ne 0 ] || [ ! -w /proc/sys/vm/drop_caches ]; then
	CAN_DROP=0
	echo "fsbench: WARNING: not root: the page cache is not dropped (the mount is still remounted)" >&2
fi

# ---- helpers -----------------------------------------------------------------

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
tmo() {
	local s=$1
	shift
	timeout -k 10 "$s" "$@"
}
say() { printf '%s\n' "$*" | tee -a "$TMP/fsbench.log"; }

# ---- wait for a quiet machine --------------------------------------------------

# wait_load: if WAIT_LOAD is set, wait (polling every 15 s, up to WAIT_MAX s)
# until the 1-minute load average is below it; go on anyway after that.
wait_load() {
	local waited=0 l1
	[ -n "$WAIT_LOAD" ] || return 0
	while :; do
		l1=$(cut -d' ' -f1 /proc/loadavg)
		if awk -v l="$l1" -v m="$WAIT_LOAD" 'BEGIN { exit !(l < m) }'; then
			echo "# load $l1 < $WAIT_LOAD after ${waited} s of waiting: starting"
			break
		fi
		if [ "$waited" -ge "$WAIT_MAX" ]; then
			echo "# load still $l1 (>= $WAIT_LOAD) after ${waited} s: starting anyway"
			break
		fi
		echo "# load $l1 >= $WAIT_LOAD: waiting ($waited/$WAIT_MAX s)"
		sleep 15
		waited=$((waited + 15))
	done
}

# ---- setup -------------------------------------------------------------------

BENCH_TMP=${BENCH_TMP:-$(dirname "$ROOT")}
[ -w "$BENCH_TMP" ] || BENCH_TMP=$ROOT
TMP=$(mktemp -d "$BENCH_TMP/fsbench.XXXXXX") || die "cannot make a temporary directory in $BENCH_TMP"
LOCAL=$TMP/local
MNT=$TMP/mnt
CONF=$TMP/cluster.conf
mkdir -p "$LOCAL" "$MNT" "$TMP/bin"
# Run private copies of the binaries: a rebuild of $BIN during the run (the
# client is started again at every remount) must not mix versions.
BIN_SRC=$BIN
BUILD_INFO=""
for b in chunkd quorumfs mkfs.quorumfs qfs; do
	cp "$BIN_SRC/$b" "$TMP/bin/$b" || { rm -rf "$TMP"; die "cannot copy $BIN_SRC/$b"; }
	BUILD_INFO="$BUILD_INFO $b $(date -u -r "$BIN_SRC/$b" '+%H:%M:%S')"
done
BIN=$TMP/bin
: >"$TMP/results"
: >"$TMP/errors"
NAMES=""	# the running daemons (cluster_up)
ALL_NAMES="a b c d e f g h i j k l m n o p"
declare -A DPID=() DPORT=()
BG_PIDS=""	# background helpers (bg_start)
QPID=""
MOUNTED=0
MOUNT_OK=1	# 0 once the mount could not be (re)established: mount steps are skipped

is_mounted() { grep -q " $MNT fuse" /proc/self/mounts; }

wait_gone() {	# PID TENTHS
	local i=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
		[ "$i" -ge "$2" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

# umount_fs: fusermount3 -u, retried while busy (~10 s), then -uz; wait for
# the server (20 s), else SIGKILL it by pid. Returns 1 when not clean.
umount_fs() {
	local i=0 ok=0
	while is_mounted; do
		tmo 30 fusermount3 -u "$MNT" 2>>"$TMP/umount.err" && break
		if [ "$i" -ge 20 ]; then
			echo "fusermount3 -u $MNT kept failing: lazy unmount ($(tail -n1 "$TMP/umount.err"))" >>"$TMP/errors"
			tmo 30 fusermount3 -uz "$MNT" 2>/dev/null
			ok=1
			break
		fi
		sleep 0.5
		i=$((i + 1))
	done
	if [ -n "$QPID" ]; then
		if ! wait_gone "$QPID" 200; then
			echo "quorumfs (pid $QPID) still running 20 s after unmount: SIGKILL" >>"$TMP/errors"
			kill -KILL "$QPID" 2>/dev/null
			ok=1
		fi
		wait "$QPID" 2>/dev/null
		QPID=""
	fi
	is_mounted && { tmo 30 fusermount3 -uz "$MNT" 2>/dev/null; ok=1; }
	MOUNTED=0
	return "$ok"
}

# mount_fs: quorumfs CONFIG MNT -f in the background (default options); wait
# until the kernel shows the mount (60 s).
mount_fs() {
	local i=0
	"$BIN/quorumfs" "$CONF" "$MNT" -f >>"$TMP/quorumfs.log" 2>&1 &
	QPID=$!
	echo "$QPID" >"$TMP/qpid"	# for background samplers (bench/extras.sh)
	while ! is_mounted; do
		if ! kill -0 "$QPID" 2>/dev/null; then
			wait "$QPID" 2>/dev/null
			echo "quorumfs exited before mounting: $(tail -n 3 "$TMP/quorumfs.log" | tr '\n' ' ')" >>"$TMP/errors"
			QPID=""
			MOUNT_OK=0
			return 1
		fi
		if [ "$i" -ge 600 ]; then
			echo "quorumfs did not mount within 60 s: SIGKILL" >>"$TMP/errors"
			kill -KILL "$QPID" 2>/dev/null
			wait "$QPID" 2>/dev/null
			QPID=""
			MOUNT_OK=0
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	MOUNTED=1
	return 0
}

remount_fs() {
	umount_fs || say "# WARNING: unmount was not clean (see errors)"
	mount_fs
}

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	set +e
	exec 1>&"$SAVED_OUT" 2>&"$SAVED_ERR"
	for pid in $BG_PIDS; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ "$MOUNTED" = 1 ] || is_mounted; then
		umount_fs >/dev/null 2>&1
	fi
	stop_daemons
	if [ "$KEEP" = 1 ]; then
		echo "fsbench: kept $TMP"
	elif grep -q " $TMP" /proc/self/mounts; then
		echo "fsbench: WARNING: something is still mounted under $TMP; not removing it" >&2
	else
		tmo 300 rm -rf --one-file-system "$TMP"
	fi
	exit "$rc"
}
# A signal's trap runs inside whatever command was running, with its
# redirections: put stdout and stderr back first.
exec {SAVED_OUT}>&1 {SAVED_ERR}>&2
trap cleanup EXIT
trap 'exec 1>&"$SAVED_OUT" 2>&"$SAVED_ERR"; echo "fsbench: interrupted: cleaning up" >&2; exit 130' INT
trap 'exec 1>&"$SAVED_OUT" 2>&"$SAVED_ERR"; echo "fsbench: terminated: cleaning up" >&2; exit 143' TERM

# drop_caches SIDE: for the mount, unmount and mount again (the client's
# caches); then sync and drop the kernel's page, dentry and inode caches
# (which also drops the daemons' cached store files).
drop_caches() {
	if [ "$1" = mount ] && [ "$MOUNT_OK" = 1 ]; then
		remount_fs
	fi
	tmo 300 sync
	if [ "$CAN_DROP" = 1 ]; then
		echo 3 >/proc/sys/vm/drop_caches
	fi
}

# free_ports N: N distinct free tcp ports on 127.0.0.1.
free_ports() {
	python3 - "$1" <<'EOF' 2>/dev/null && return
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss:
    s.close()
EOF
	local p got=""
	for p in $(shuf -i 20000-60000 -n 50); do
		ss -Htln 2>/dev/null | grep -q ":$p " && continue
		got="$got $p"
		[ "$(echo $got | wc -w)" -ge "$1" ] && break
	done
	echo $got
}

# stop_daemons: TERM every running daemon by pid (CONT first, in case one
# was stopped with SIGSTOP), KILL what is left after 10 s.
stop_daemons() {
	local n pid
	for n in $NAMES; do
		pid=${DPID[$n]:-}
		[ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	done
	for n in $NAMES; do
		pid=${DPID[$n]:-}
		[ -n "$pid" ] || continue
		wait_gone "$pid" 100 || kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		DPID[$n]=""
	done
}

# make_keys: CURVE key pairs for every daemon and the client with
# `qfs keygen` in TMP/keys (once), and the daemons' allow file.
make_keys() {
	local n
	[ -f "$TMP/keys/client.pub" ] && return 0
	mkdir -p "$TMP/keys" && chmod 700 "$TMP/keys"
	for n in client $ALL_NAMES; do
		"$BIN/qfs" keygen "$n" --dir "$TMP/keys" >>"$TMP/keygen.log" 2>&1 ||
			die "qfs keygen $n failed: $(tail -n 1 "$TMP/keygen.log")"
	done
	{
		echo "# fsbench: the client admitted by the daemons"
		cat "$TMP/keys/client.pub"
	} >"$TMP/keys/allow"
	chmod 644 "$TMP/keys/allow"
}

# start_cluster COUNT [curve]: COUNT chunkd (names a, b, c, ...) on free
# ports of 127.0.0.1, each with its own data directory TMP/data-NAME, and
# the config CONF (N=3 W=2 R=2, timeout_ms=1000); with "curve", every
# daemon has a key pair and admits only the client's key.
start_cluster() {
	local count=$1 curve=${2:-} ports n i=0 p
	local -a names curve_args
	read -r -a names <<<"$ALL_NAMES"
	if [ "$count" -lt 3 ] || [ "$count" -gt "${#names[@]}" ]; then
		die "cluster of $count daemons: 3..${#names[@]}"
	fi
	NAMES="${names[*]:0:$count}"
	[ "$curve" = curve ] && make_keys
	read -r -a ports <<<"$(free_ports "$count")"
	[ "${#ports[@]}" -eq "$count" ] || die "could not find $count free ports"
	{
		echo "; fsbench cluster: $count daemons, N=3 W=2 R=2 on 127.0.0.1${curve:+, CURVE}"
		echo "[cluster]"
		echo "replicas = 3"
		echo "write_quorum = 2"
		echo "read_quorum = 2"
		echo "timeout_ms = 1000"
		if [ "$curve" = curve ]; then
			echo "[client]"
			echo "public_key_file = keys/client.pub"
			echo "secret_key_file = keys/client.key"
		fi
		for n in $NAMES; do
			DPORT[$n]=${ports[$i]}
			i=$((i + 1))
			echo "[daemon $n]"
			echo "endpoint = tcp://127.0.0.1:${DPORT[$n]}"
			[ "$curve" = curve ] && echo "public_key = $(tr -d ' \n' <"$TMP/keys/$n.pub")"
		done
	} >"$CONF"
	for n in $NAMES; do
		curve_args=()
		[ "$curve" = curve ] && curve_args=(--curve-secret "$TMP/keys/$n.key" --allow "$TMP/keys/allow")
		"$BIN/chunkd" --name "$n" --listen "tcp://127.0.0.1:${DPORT[$n]}" \
			--data "$TMP/data-$n" "${curve_args[@]}" >>"$TMP/chunkd-$n.log" 2>&1 &
		DPID[$n]=$!
	done
	for n in $NAMES; do
		i=0
		p=${DPORT[$n]}
		while ! ss -Htln 2>/dev/null | grep -q ":$p "; do
			kill -0 "${DPID[$n]}" 2>/dev/null || { tail -n 20 "$TMP/chunkd-$n.log" >&2; DPID[$n]=""; die "chunkd $n exited at startup"; }
			[ "$i" -ge 100 ] && die "chunkd $n did not listen on port $p within 10 s"
			sleep 0.1
			i=$((i + 1))
		done
	done
}

# cluster_up COUNT [curve]: start_cluster, mkfs.quorumfs, mount on MNT.
cluster_up() {
	start_cluster "$@"
	say "# chunkd $NAMES on 127.0.0.1 ports $(for n in $NAMES; do printf '%s ' "${DPORT[$n]}"; done)(pids $(for n in $NAMES; do printf '%s ' "${DPID[$n]}"; done| sed 's/ $//'))${2:+, CURVE}"
	step mkfs - 0 120 "$BIN/mkfs.quorumfs" "$CONF" || die "mkfs.quorumfs failed: $(tail -n 1 "$TMP/errors")"
	MOUNT_OK=1
	mount_fs || die "cannot mount: $(tail -n 1 "$TMP/errors")"
	say "# mounted $MNT (quorumfs pid $QPID, default options)"
}

# cluster_down: unmount, stop the daemons, remove their data directories
# (our own, under TMP).
cluster_down() {
	local n
	umount_fs || say "# WARNING: unmount was not clean (see errors)"
	stop_daemons
	for n in $NAMES; do
		tmo 600 rm -rf --one-file-system "${TMP:?}/data-$n"
	done
	NAMES=""
}

# bg_start CMD...: run CMD in the background; cleanup stops it by pid.
# Prints nothing; the pid is the last word of BG_PIDS.
bg_start() {
	"$@" &
	BG_PIDS="$BG_PIDS $!"
}

# bg_stop PID: stop one background helper.
bg_stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	BG_PIDS=$(echo "$BG_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

rss_anon() { awk '/^RssAnon/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# sample_mem: remember the largest client and daemon RssAnon seen (kB).
MEM_CLIENT_MAX=0
MEM_DAEMON_MAX=0
sample_mem() {
	local r n
	if [ -n "$QPID" ]; then
		r=$(rss_anon "$QPID")
		[ -n "$r" ] && [ "$r" -gt "$MEM_CLIENT_MAX" ] && MEM_CLIENT_MAX=$r
	fi
	for n in $NAMES; do
		r=$(rss_anon "${DPID[$n]}")
		[ -n "$r" ] && [ "$r" -gt "$MEM_DAEMON_MAX" ] && MEM_DAEMON_MAX=$r
	done
}

# print_header WHAT: the first lines of the log (machine, build, load);
# sets START, LOAD_START, DISK, MEM_TOTAL and BUILD_LINE.
print_header() {
	local git_info git_dirty
	START=$(date -u '+%Y-%m-%d %H:%M UTC')
	LOAD_START=$(loadavg)
	DISK="$(df -h --output=source,fstype,size,avail "$TMP" | tail -1 | tr -s ' ')"
	MEM_TOTAL=$(free -h | awk '/^Mem:/ { print $2 }')
	say "# fsbench $1$START: $(nproc) cpus, ${MEM_TOTAL} RAM, kernel $(uname -r), $(fio --version)"
	say "# temp dir $TMP on $DISK (local side and the daemons' data on the same filesystem)"
	git_info=$(git -C "$ROOT" log -1 --format='%h %cI' 2>/dev/null)
	git_dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | wc -l)
	BUILD_LINE="binaries copied from $BIN_SRC (built$BUILD_INFO UTC); work tree at ${git_info:-?} with $git_dirty modified file(s)"
	say "# $BUILD_LINE"
	say "# load average at start: $LOAD_START  ($(uptime))"
}

# report_problems: print the errors and warnings of the run, and the
# warning and error lines of the client and daemon logs; sets NERR.
report_problems() {
	local lg c
	NERR=$(wc -l <"$TMP/errors")
	if [ "$NERR" -gt 0 ]; then
		say ""
		say "# $NERR error(s) or warning(s):"
		sed 's/^/#   /' "$TMP/errors" | tee -a "$TMP/fsbench.log"
	fi
	for lg in "$TMP"/quorumfs.log "$TMP"/chunkd-*.log; do
		[ -s "$lg" ] || continue
		c=$(grep -ci 'warn\|err\|fail' "$lg")
		[ "$c" -gt 0 ] && {
			say "# $(basename "$lg"): $c warning/error line(s), last:"
			grep -i 'warn\|err\|fail' "$lg" | tail -n 5 | sed 's/^/#   /' | tee -a "$TMP/fsbench.log"
		}
	done
	return 0
}

# record KEY SIDE RUN VALUE ("ERR" for a failed step)
record() { echo "$1 $2 $3 $4" >>"$TMP/results"; }

# step KEY SIDE RUN TIMEOUT CMD...: run CMD bounded; on failure log the error
# (exit status, the last lines of its stderr) and return 1.
step() {
	local key=$1 side=$2 run=$3 t=$4 rc=0
	shift 4
	if [ "$side" = mount ] && ! is_mounted; then
		printf 'run %s, %s, %s: `%s` not run: %s is not mounted\n' "$run" "$side" "$key" "$*" "$MNT" >>"$TMP/errors"
		return 1
	fi
	tmo "$t" "$@" 2>"$TMP/step.err" >"$TMP/step.out" || rc=$?
	if [ "$rc" -ne 0 ]; then
		local why="exit $rc"
		[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && why="timed out after ${t} s (exit $rc)"
		{
			printf 'run %s, %s, %s: `%s` %s' "$run" "$side" "$key" "$*" "$why"
			[ -s "$TMP/step.err" ] && printf ': %s' "$(tail -n 5 "$TMP/step.err" | tr '\n' ' ' | head -c 600)"
			printf '\n'
		} >>"$TMP/errors"
		say "#   ERROR: $(tail -n 1 "$TMP/errors")" >&2
		return 1
	fi
	[ -s "$TMP/step.err" ] && {
		printf 'run %s, %s, %s: `%s` succeeded but wrote to stderr: %s\n' "$run" "$side" "$key" "$*" \
			"$(tail -n 5 "$TMP/step.err" | tr '\n' ' ' | head -c 600)" >>"$TMP/errors"
	}
	return 0
}

# timed KEY SIDE RUN TIMEOUT CMD...: like step, prints the elapsed seconds.
timed() {
	local t0 t1
	t0=$(now)
	step "$@" || return 1
	t1=$(now)
	secs "$t0" "$t1"
}

# fsync_side SIDE RUN KEY: sync(1), and on the mount `qfs sync CONFIG` (sync(2)
# never reaches a FUSE filesystem).
sync_side() {
	step "$3" "$1" "$2" 300 sync || return 1
	if [ "$1" = mount ]; then
		step "$3" "$1" "$2" 300 "$BIN/qfs" sync "$CONF" || return 1
	fi
}

fio_json() {	# FILE EXPR: a number from fio's JSON output
	jq -r "$2" "$1" 2>/dev/null || python3 -c 'import json,sys; print(eval("j"+sys.argv[2], {"j": json.load(open(sys.argv[1]))}))' "$1" "$3"
}

FIO_COMMON=(--ioengine=psync --fallocate=none --output-format=json)
