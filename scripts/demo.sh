#!/bin/sh
# Local demo cluster: three chunkd daemons on 127.0.0.1:7101-7103 with their
# stores in ./demo/{a,b,c}, the shared config in ./demo/cluster.conf, and the
# filesystem mounted at ./mnt.   usage: demo.sh start|stop|status
set -e
cd "$(dirname "$0")/.."
TOP=$(pwd)
BIN=$TOP/build/bin
DEMO=$TOP/demo
MNT=$TOP/mnt
NAMES="a b c"

port_of() { case $1 in a) echo 7101 ;; b) echo 7102 ;; c) echo 7103 ;; esac; }

write_config() {
	cat >"$DEMO/cluster.conf" <<EOC
; QuorumFS demo cluster: N=3 replicas, writes need 2, reads ask 2
[cluster]
replicas = 3
write_quorum = 2
read_quorum = 2
timeout_ms = 1000

[daemon a]
endpoint = tcp://127.0.0.1:7101
[daemon b]
endpoint = tcp://127.0.0.1:7102
[daemon c]
endpoint = tcp://127.0.0.1:7103
EOC
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
	mkdir -p "$DEMO" "$MNT"
	write_config
	for n in $NAMES; do
		if running "$DEMO/$n.pid"; then
			echo "chunkd $n already running (pid $(cat "$DEMO/$n.pid"))"
			continue
		fi
		"$BIN/chunkd" --name "$n" --listen "tcp://127.0.0.1:$(port_of $n)" \
			--data "$DEMO/$n" >"$DEMO/$n.log" 2>&1 &
		echo $! >"$DEMO/$n.pid"
		echo "started chunkd $n on 127.0.0.1:$(port_of $n) (pid $!, log demo/$n.log)"
	done
	sleep 0.5
	if [ ! -x "$BIN/quorumfs" ]; then
		echo "the filesystem client is not built yet: daemons only"
		return 0
	fi
	# mkfs exits 3 when the volume exists: then keep it.
	rc=0
	"$BIN/mkfs.quorumfs" "$DEMO/cluster.conf" || rc=$?
	case $rc in
	0) ;;
	3) echo "the demo volume exists: keeping it" ;;
	*) echo "mkfs.quorumfs failed (see demo/*.log)" >&2; exit 1 ;;
	esac
	if mountpoint -q "$MNT"; then
		echo "already mounted at $MNT"
	else
		"$BIN/quorumfs" "$DEMO/cluster.conf" "$MNT"
		echo "mounted at $MNT — try: cp -r /usr/include/linux mnt/ && ls mnt"
		echo "cluster health: build/bin/qfs status demo/cluster.conf"
		echo "stop with: make stop"
	fi
}

stop() {
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" || fusermount3 -uz "$MNT"
		echo "unmounted $MNT"
	fi
	for n in $NAMES; do
		f="$DEMO/$n.pid"
		if running "$f"; then
			kill "$(cat "$f")"
			echo "stopped chunkd $n"
		fi
		rm -f "$f"
	done
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
