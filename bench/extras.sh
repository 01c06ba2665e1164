# SPDX-License-Identifier: MIT
#
# bench/extras.sh - the extra rows of the performance issue, sourced by
# bench/fsbench after bench/lib.sh and its workloads (w_seq, w_files):
#
#   hung    sequential write healthy, then with one of three daemons stopped
#           (SIGSTOP) 1 s after the write starts: throughput ratio, per-op
#           latency (fio's JSON and per-I/O latency log)
#   curve   sequential write and small files, plaintext and CURVE clusters,
#           each against the local directory
#   scale   sequential write and small files on clusters of 3, 6, 12 ...
#           daemons (N=3 on each)
#   memory  a large file written and read back; client and daemon RssAnon
#           sampled every second against the store's size
#
# Each extra brings its cluster up and down itself (cluster_up/cluster_down
# in bench/lib.sh), waits for a quiet machine before every measurement
# (wait_load) and records the load with its figures. Results go to
# TMP/extras.md (and --out FILE).

command -v jq >/dev/null 2>&1 || die "the extra rows need jq"

HUNG_AFTER=${HUNG_AFTER:-1}	# seconds between the start of fio and SIGSTOP
HUNG_VICTIM=b			# the daemon that is stopped
TIMEOUT_MS=1000			# timeout_ms of the cluster config (bench/lib.sh)

md() { printf '%s\n' "$*" >>"$TMP/extras.md"; }
load1() { cut -d' ' -f1 /proc/loadavg; }
val() { tail_val "$@"; }	# KEY SIDE RUN: the recorded value
jqn() { jq -r "$2" "$1" 2>/dev/null; }	# FILE EXPR
# ratio A B [DIGITS]: A / B, "-" when either is missing or an error
ratio() {
	awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
		if (a == "" || b == "" || a == "ERR" || b == "ERR" || b + 0 == 0) { print "-"; exit }
		printf "%.*f", d, a / b }'
}
# med KEY SIDE RUNPREFIX: median over the runs PREFIX.1, PREFIX.2, ...
med() {
	awk -v k="$1" -v s="$2" -v p="$3." '$1 == k && $2 == s && index($3, p) == 1 && $4 != "ERR" { v[++m] = $4 }
		END {
			if (m == 0) { print "ERR"; exit }
			for (i = 2; i <= m; i++) { x = v[i]; j = i - 1; while (j > 0 && v[j] > x) { v[j + 1] = v[j]; j-- } v[j + 1] = x }
			if (m % 2) print v[(m + 1) / 2]; else print (v[m / 2] + v[m / 2 + 1]) / 2
		}' "$TMP/results"
}
# allruns KEY SIDE RUNPREFIX: every run's value, "a / b / c"
allruns() {
	awk -v k="$1" -v s="$2" -v p="$3." '$1 == k && $2 == s && index($3, p) == 1 { printf "%s%s", sep, $4; sep = " / " }' "$TMP/results"
}

# ---- hung: one daemon stopped during the sequential write ---------------------

# hung_write MODE RUN: the sequential write on the mount (fio as in w_seq,
# plus a per-I/O latency log; fio's JSON has no entry for the end_fsync, so
# its time is the job's runtime minus the last write's completion); with
# MODE=hung, daemon HUNG_VICTIM is stopped
# HUNG_AFTER s after fio starts and continued once fio is done. Then
# `qfs sync` (after SIGCONT), timed apart. The client is remounted and the
# caches dropped before, so every write starts from the same state.
hung_write() {
	local mode=$1 run=$2 f js lat t0 t1 tstop="" fpid rc=0 slow0 vpid o1 o2 o100 s100
	local id="$mode.$run"
	f=$MNT/hung-$id.bin
	js=$TMP/fio-hung-$id.json
	lat=$TMP/lat-hung-$id
	vpid=${DPID[$HUNG_VICTIM]}
	wait_load
	drop_caches mount
	is_mounted || { record hung_mibs mount "$id" ERR; return 1; }
	record load mount "$id" "$(load1)"
	slow0=$(grep -c 'suspect' "$TMP/quorumfs.log")
	t0=$(now)
	tmo $((120 + SEQ_MIB)) fio --name=seqwrite --filename="$f" --rw=write --bs=1M --size="${SEQ_MIB}M" \
		--end_fsync=1 "${FIO_COMMON[@]}" --write_lat_log="$lat" --log_avg_msec=0 \
		--output="$js" 2>"$TMP/fio-hung.err" &
	fpid=$!
	if [ "$mode" = hung ]; then
		sleep "$HUNG_AFTER"
		kill -STOP "$vpid" && tstop=$(now)
	fi
	wait "$fpid" || rc=$?
	t1=$(now)
	[ "$mode" = hung ] && kill -CONT "$vpid"
	if [ "$rc" -ne 0 ]; then
		echo "hung $id: fio exit $rc: $(tail -n 3 "$TMP/fio-hung.err" | tr '\n' ' ')" >>"$TMP/errors"
		record hung_mibs mount "$id" ERR
	else
		record hung_mibs mount "$id" "$(awk -v m="$SEQ_MIB" -v s="$(secs "$t0" "$t1")" 'BEGIN { printf "%.1f", m / s }')"
		record hung_fio_mibs mount "$id" "$(jqn "$js" '.jobs[0].write.bw / 1024 * 10 | floor / 10')"
		record hung_lat_max mount "$id" "$(jqn "$js" '.jobs[0].write.lat_ns.max / 1e6 | floor')"
		record hung_lat_p999 mount "$id" "$(jqn "$js" '.jobs[0].write.clat_ns.percentile["99.900000"] / 1e6 | floor')"
		record hung_lat_p50 mount "$id" "$(jqn "$js" '.jobs[0].write.clat_ns.percentile["50.000000"] / 1e6 * 10 | floor / 10')"
		record hung_fsync_ms mount "$id" "$(($(jqn "$js" '.jobs[0].job_runtime') - $(tail -n 1 "${lat}_lat.1.log" | cut -d, -f1)))"
		# per-I/O log: "msec, nsec, ddir, bs, offset": writes over 1 s and
		# over 2 x timeout, and the time spent in writes over 100 ms
		awk -F', *' -v t="$TIMEOUT_MS" '{ ms = $2 / 1e6; if (ms > 1000) a++; if (ms > 2 * t) b++; if (ms > 100) { c++; s += ms } }
			END { printf "%d %d %d %.0f\n", a, b, c, s }' "${lat}_lat.1.log" >"$TMP/hung.slow"
		read -r o1 o2 o100 s100 <"$TMP/hung.slow"
		record hung_over1s mount "$id" "$o1"
		record hung_over2t mount "$id" "$o2"
		record hung_slow mount "$id" "$o100/${s100}ms"
	fi
	[ -n "$tstop" ] && record hung_stop_at mount "$id" "$(secs "$t0" "$tstop")"
	record hung_suspect mount "$id" "$(($(grep -c 'suspect' "$TMP/quorumfs.log") - slow0))"
	local dt
	if dt=$(timed hung-qfs-sync mount "$id" 300 "$BIN/qfs" sync "$CONF"); then
		record hung_qfssync mount "$id" "$dt"
	else
		record hung_qfssync mount "$id" ERR
	fi
	say "#   $id: $(val hung_mibs mount "$id") MiB/s (fio $(val hung_fio_mibs mount "$id")), write lat max $(val hung_lat_max mount "$id") ms, p99.9 $(val hung_lat_p999 mount "$id") ms, final fsync $(val hung_fsync_ms mount "$id") ms, writes > 1 s: $(val hung_over1s mount "$id"), qfs sync after: $(val hung_qfssync mount "$id") s, load $(val load mount "$id")"
	step hung-rm mount "$id" 300 rm -f "$f"
}

x_hung() {
	local run mode id worst_hung
	say "# --hung: ${SEQ_MIB} MiB sequential write, healthy then daemon $HUNG_VICTIM stopped ${HUNG_AFTER} s after the start; runs: $RUNS"
	cluster_up 3
	for run in $(seq "$RUNS"); do
		for mode in healthy hung; do
			hung_write "$mode" "$run"
		done
	done
	cluster_down

	local h s r lat fs worst met_t met_l
	h=$(med hung_mibs mount healthy)
	s=$(med hung_mibs mount hung)
	r=$(ratio "$s" "$h")
	worst=$(awk '($1 == "hung_lat_max" || $1 == "hung_fsync_ms") && $2 == "mount" && $4 != "ERR" && $4 > m { m = $4 } END { print m + 0 }' "$TMP/results")
	worst_hung=$(awk '($1 == "hung_lat_max" || $1 == "hung_fsync_ms") && index($3, "hung.") == 1 && $4 != "ERR" && $4 > m { m = $4 } END { print m + 0 }' "$TMP/results")
	met_t=$(awk -v r="$r" 'BEGIN { print (r != "-" && r >= 0.6) ? "met" : "NOT MET" }')
	met_l=$(awk -v w="$worst_hung" -v t="$TIMEOUT_MS" 'BEGIN { print (w <= 2 * t) ? "met" : "NOT MET" }')
	md "#### One daemon hung (SIGSTOP) during the sequential write"
	md ""
	md "fio \`--rw=write --bs=1M --size=${SEQ_MIB}M --ioengine=psync --end_fsync=1\` on the mount (3 daemons, N=3 W=2 R=2, timeout_ms=$TIMEOUT_MS); client remounted and caches dropped before each write; \"hung\": \`kill -STOP\` of daemon $HUNG_VICTIM ${HUNG_AFTER} s after fio starts, \`kill -CONT\` when fio has finished, then \`qfs sync\`. MiB/s = size / wall time of fio (its final fsync included, \`qfs sync\` not). Latency = fio's per-write \`lat\` (submission to completion, from its per-I/O log); \"final fsync\" = fio's job runtime minus the completion time of the last write (the JSON has no entry for end_fsync)."
	md ""
	md "| run | load | MiB/s | fio MiB/s | write lat p50 / p99.9 / max, ms | final fsync, ms | writes > 1 s / > 2 s | writes > 100 ms (count/total) | SIGSTOP at | suspect warnings | qfs sync after, s |"
	md "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for run in $(seq "$RUNS"); do
		for mode in healthy hung; do
			id=$mode.$run
			md "| $id | $(val load mount "$id") | $(val hung_mibs mount "$id") | $(val hung_fio_mibs mount "$id") | $(val hung_lat_p50 mount "$id") / $(val hung_lat_p999 mount "$id") / $(val hung_lat_max mount "$id") | $(val hung_fsync_ms mount "$id") | $(val hung_over1s mount "$id") / $(val hung_over2t mount "$id") | $(val hung_slow mount "$id") | $(val hung_stop_at mount "$id") | $(val hung_suspect mount "$id") | $(val hung_qfssync mount "$id") |"
		done
	done
	md ""
	md "| target | measured | |"
	md "| --- | --- | --- |"
	md "| hung / healthy throughput >= 0.60 | $s / $h MiB/s (medians) = **$r** | $met_t |"
	md "| no op over 2 x timeout (${TIMEOUT_MS} ms x 2) | slowest write or fsync with a daemon hung: **$worst_hung ms** (all runs, healthy included: up to $worst ms) | $met_l |"
	md ""
}

# ---- curve: plaintext and CURVE clusters against the local directory --------

x_curve() {
	local run mode k key label unit
	say "# --curve: seq ${SEQ_MIB} MiB and ${NFILES} files on local, a plaintext and a CURVE cluster; runs: $RUNS"
	for run in $(seq "$RUNS"); do
		wait_load
		record load local "clocal.$run" "$(load1)"
		w_seq local "$LOCAL" "clocal.$run"
		w_files local "$LOCAL" "clocal.$run"
		for mode in plain curve; do
			cluster_up 3 $([ "$mode" = curve ] && echo curve)
			if [ "$mode" = curve ] && ! grep -q 'CURVE on' "$TMP/chunkd-a.log"; then
				echo "curve run $run: chunkd a did not log 'CURVE on'" >>"$TMP/errors"
			fi
			wait_load
			record load mount "$mode.$run" "$(load1)"
			w_seq mount "$MNT" "$mode.$run"
			w_files mount "$MNT" "$mode.$run"
			cluster_down
		done
	done

	md "#### CURVE on: sequential write and small files"
	md ""
	md "The same workloads as the main table (fio ${SEQ_MIB} MiB + \`qfs sync\`; ${NFILES} files of 4 KiB in ${NDIRS} dirs + sync + \`qfs sync\`, then stat / read back cold and delete), on the local directory, on a plaintext cluster and on a CURVE cluster (keys from \`qfs keygen\`: one pair per daemon and one for the client, \`chunkd --curve-secret --allow\`, \`public_key\` per daemon and \`[client]\` key files in the config); 3 daemons, N=3 W=2 R=2, each cluster fresh. Medians of $RUNS run(s); load (1 min) before each: local $(allruns load local clocal), plaintext $(allruns load mount plain), CURVE $(allruns load mount curve)."
	md ""
	md "| workload | unit | local | plaintext | ratio | CURVE | ratio | CURVE / plaintext |"
	md "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	for k in "seqwrite|sequential write ${SEQ_MIB} MiB + qfs sync|MiB/s" "seqread|sequential read, cold|MiB/s" \
		"create|create ${NFILES} x 4 KiB + sync|files/s" "stat|stat, cold|ops/s" \
		"readback|read back, cold|files/s" "delete|delete|files/s"; do
		IFS='|' read -r key label unit <<<"$k"
		local l p c
		l=$(med "$key" local clocal)
		p=$(med "$key" mount plain)
		c=$(med "$key" mount curve)
		md "| $label | $unit | $l | $p | $(ratio "$p" "$l") | $c | $(ratio "$c" "$l") | $(ratio "$c" "$p") |"
	done
	md ""
	md "Targets of the main table for these rows: sequential write >= 0.30, create >= 0.15 (the CURVE ratio column)."
	md ""
}

# ---- scale: 3, 6, 12 ... daemons -----------------------------------------------

# client_threads_socks: "THREADS SOCKETS" of the running client
client_threads_socks() {
	local t s
	t=$(awk '/^Threads/ { print $2 }' "/proc/$QPID/status" 2>/dev/null)
	s=$(find "/proc/$QPID/fd" -lname 'socket:*' 2>/dev/null | wc -l)
	echo "${t:-?} ${s:-?}"
}

# daemons_cpu: CPU seconds (user + system) used so far by all running daemons
daemons_cpu() {
	local n t=0 hz
	hz=$(getconf CLK_TCK)
	for n in $NAMES; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/${DPID[$n]}/stat" 2>/dev/null || echo 0)))
	done
	awk -v t="$t" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'
}

x_scale() {
	local SEQ_MIB=$SEQ_MIB run n id k th so key label unit c0
	local -a counts
	[ "$QUICK" = 1 ] || SEQ_MIB=${SEQ_MIB_SET:-512}
	IFS=, read -r -a counts <<<"$SCALE_LIST"
	say "# --scale ${SCALE_LIST}: seq ${SEQ_MIB} MiB and ${NFILES} files per cluster size; runs: $RUNS"
	for run in $(seq "$RUNS"); do
		wait_load
		record load local "slocal.$run" "$(load1)"
		w_seq local "$LOCAL" "slocal.$run"
		w_files local "$LOCAL" "slocal.$run"
		for n in "${counts[@]}"; do
			id=n$n.$run
			cluster_up "$n"
			wait_load
			# what the idle daemons cost: their CPU over 10 s of nothing
			c0=$(daemons_cpu)
			sleep 10
			record idle_cpu mount "$id" "$(awk -v a="$c0" -v b="$(daemons_cpu)" 'BEGIN { printf "%.1f", (b - a) * 10 }')"
			record load mount "$id" "$(load1)"
			MEM_CLIENT_MAX=0
			c0=$(daemons_cpu)
			w_seq mount "$MNT" "$id"
			w_files mount "$MNT" "$id"
			record work_cpu mount "$id" "$(awk -v a="$c0" -v b="$(daemons_cpu)" 'BEGIN { printf "%.1f", b - a }')"
			record client_rss mount "$id" "$MEM_CLIENT_MAX"
			read -r th so <<<"$(client_threads_socks)"
			record client_threads mount "$id" "$th"
			record client_socks mount "$id" "$so"
			record store_mib mount "$id" "$(du -sm "$TMP"/data-* | awk '{ s += $1; n++ } END { printf "%.0f", s / n }')"
			cluster_down
		done
	done

	local base_w base_c w c line
	base_w=$(med seqwrite mount "n${counts[0]}")
	base_c=$(med create mount "n${counts[0]}")
	md "#### Scaling: ${SCALE_LIST// /,} daemons at N=3"
	md ""
	md "Each cluster fresh (mkfs), all daemons on 127.0.0.1 with default options, N=3 W=2 R=2, the default 256 ring points per daemon; the main table's sequential write (${SEQ_MIB} MiB + \`qfs sync\`, then a cold read) and small files (${NFILES} x 4 KiB). Medians of $RUNS run(s); every run's value in brackets. Load (1 min) before each cluster: $(for n in "${counts[@]}"; do printf '%s daemons %s; ' "$n" "$(allruns load mount "n$n")"; done)local $(allruns load local slocal)."
	md ""
	line="| workload | unit | local"
	for n in "${counts[@]}"; do line="$line | $n daemons | vs ${counts[0]}"; done
	md "$line |"
	line="| --- | --- | ---:"
	for n in "${counts[@]}"; do line="$line | ---: | ---:"; done
	md "$line |"
	for k in "seqwrite|sequential write ${SEQ_MIB} MiB + qfs sync|MiB/s" "seqread|sequential read, cold|MiB/s" \
		"create|create ${NFILES} x 4 KiB + sync|files/s" "stat|stat, cold|ops/s" \
		"readback|read back, cold|files/s" "delete|delete|files/s"; do
		IFS='|' read -r key label unit <<<"$k"
		line="| $label | $unit | $(med "$key" local slocal)"
		for n in "${counts[@]}"; do
			line="$line | $(med "$key" mount "n$n") [$(allruns "$key" mount "n$n")] | $(ratio "$(med "$key" mount "n$n")" "$(med "$key" mount "n${counts[0]}")")"
		done
		md "$line |"
	done
	line="| client RssAnon max / threads / sockets | kB | -"
	for n in "${counts[@]}"; do line="$line | $(med client_rss mount "n$n") / $(med client_threads mount "n$n") / $(med client_socks mount "n$n") | -"; done
	md "$line |"
	line="| daemons' CPU while idle (10 s after mkfs and mount), all daemons | % of one CPU | -"
	for n in "${counts[@]}"; do line="$line | $(med idle_cpu mount "n$n") [$(allruns idle_cpu mount "n$n")] | -"; done
	md "$line |"
	line="| daemons' CPU for the workloads above, all daemons | CPU s | -"
	for n in "${counts[@]}"; do line="$line | $(med work_cpu mount "n$n") [$(allruns work_cpu mount "n$n")] | -"; done
	md "$line |"
	line="| store per daemon at the end (files deleted) | MiB | -"
	for n in "${counts[@]}"; do line="$line | $(med store_mib mount "n$n") | -"; done
	md "$line |"
	md ""
	md "| target: within ±15 % of ${counts[0]} daemons | $(for n in "${counts[@]:1}"; do printf '%s daemons | ' "$n"; done)"
	md "| --- | $(for n in "${counts[@]:1}"; do printf -- '--- | '; done)"
	for k in seqwrite create; do
		line="| $k"
		for n in "${counts[@]:1}"; do
			c=$(ratio "$(med "$k" mount "n$n")" "$(med "$k" mount "n${counts[0]}")")
			w=$(awk -v r="$c" 'BEGIN { print (r != "-" && r >= 0.85 && r <= 1.15) ? "met" : "NOT MET" }')
			line="$line | $c ($w)"
		done
		md "$line |"
	done
	md ""
	: "$base_w" "$base_c"
}

# ---- memory: a large file written and read back ---------------------------------

# mem_sampler FILE: every second, "EPOCH PHASE CLIENT_KB A_KB B_KB C_KB
# STORE_A_MIB" (RssAnon; the client's pid from TMP/qpid, which mount_fs
# rewrites at every mount; the phase from TMP/phase). Runs in the background
# until stopped by pid.
mem_sampler() {
	local q ph line n
	trap - EXIT
	while :; do
		q=$(cat "$TMP/qpid" 2>/dev/null)
		ph=$(cat "$TMP/phase" 2>/dev/null)
		line="$(date +%s) ${ph:--} $(rss_anon "$q")"
		[ -n "$(rss_anon "$q")" ] || line="$line-"
		for n in $NAMES; do
			line="$line $(rss_anon "${DPID[$n]}")"
		done
		line="$line $(du -sm "$TMP/data-a" 2>/dev/null | cut -f1)"
		echo "$line" >>"$1"
		sleep 1
	done
}

x_memory() {
	local gib=$MEM_GIB mib f js t0 t1 spid w r ph
	local -a vf
	[ "$QUICK" = 1 ] && [ -z "${MEM_GIB_SET:-}" ] && gib=1
	mib=$((gib * 1024))
	say "# --memory: ${gib} GiB written and read back, RssAnon sampled every second"
	cluster_up 3
	wait_load
	record load mount mem.1 "$(load1)"
	f=$MNT/mem.bin
	vf=(--name=mem --filename="$f" --rw=write --bs=1M --size="${mib}M" --verify=crc32c --verify_state_save=0 "${FIO_COMMON[@]}")
	echo idle >"$TMP/phase"
	: >"$TMP/mem.samples"
	bg_start mem_sampler "$TMP/mem.samples"
	spid=${BG_PIDS##* }
	sleep 2
	echo write >"$TMP/phase"
	js=$TMP/fio-mem-write.json
	t0=$(now)
	if step memwrite mount mem.1 $((300 + mib / 20)) fio "${vf[@]}" --do_verify=0 --end_fsync=1 --output="$js" &&
		step memwrite mount mem.1 600 "$BIN/qfs" sync "$CONF"; then
		t1=$(now)
		w=$(awk -v m="$mib" -v s="$(secs "$t0" "$t1")" 'BEGIN { printf "%.1f", m / s }')
	else
		w=ERR
	fi
	record mem_write_mibs mount mem.1 "$w"
	echo remount >"$TMP/phase"
	drop_caches mount
	record load mount mem.read "$(load1)"
	echo read >"$TMP/phase"
	js=$TMP/fio-mem-read.json
	if step memread mount mem.1 $((300 + mib / 20)) fio "${vf[@]}" --verify_only --output="$js"; then
		r=$(jqn "$js" '.jobs[0].read.bw / 1024 * 10 | floor / 10')
	else
		r=ERR	# includes a verify failure (fio exits 1)
	fi
	record mem_read_mibs mount mem.1 "$r"
	echo done >"$TMP/phase"
	sleep 2
	bg_stop "$spid"
	local store_end
	store_end=$(du -sh "$TMP"/data-a "$TMP"/data-b "$TMP"/data-c 2>/dev/null | awk '{ printf "%s%s", sep, $1; sep = " / " }')
	say "#   ${gib} GiB: write $w MiB/s, read back (verified) $r MiB/s; samples in mem.samples"
	cluster_down

	local S=$TMP/mem.samples
	md "#### Memory: a ${gib} GiB file written and read back"
	md ""
	md "One fio job on the mount (3 daemons, N=3 W=2 R=2): \`--rw=write --bs=1M --size=${mib}M --verify=crc32c --do_verify=0 --verify_state_save=0 --end_fsync=1\`, then \`qfs sync\` (write: $w MiB/s including it), remount and drop caches, then the same job with \`--verify_only\` (reads every block back cold and checks its crc32c: $r MiB/s$([ "$r" = ERR ] && echo ', FAILED, see errors')). RssAnon (kB, /proc/PID/status; RSS would count LMDB's mapped file) of the client and of each daemon sampled every second ($(wc -l <"$S") samples), against daemon a's store size (\`du -sm\` of its data directory). Load (1 min) before the write $(val load mount mem.1), before the read $(val load mount mem.read). Stores at the end: $store_end."
	md ""
	md "| store of daemon a (GiB, first sample at or over) | phase | client RssAnon kB | daemon a / b / c RssAnon kB |"
	md "| ---: | --- | ---: | ---: |"
	awk -v g="$gib" '$7 ~ /^[0-9]+$/ {
			for (i = 1; i <= g; i++) if (!(i in seen) && $7 >= i * 1024) { seen[i] = 1; printf "| %d | %s | %s | %s / %s / %s |\n", i, $2, $3, $4, $5, $6 } }' "$S" >>"$TMP/extras.md"
	awk '{ if ($3 ~ /^[0-9]+$/) { if ($3 > cm[$2]) cm[$2] = $3 }
			for (i = 4; i <= 6; i++) if ($i > dm[$2]) dm[$2] = $i; seen[$2] = 1 }
		END { for (p in seen) printf "%s %d %d\n", p, cm[p], dm[p] }' "$S" >"$TMP/mem.max"
	md ""
	md "| phase | client RssAnon max, kB | daemon RssAnon max (any), kB |"
	md "| --- | ---: | ---: |"
	for ph in idle write remount read done; do
		awk -v p="$ph" '$1 == p { printf "| %s | %d | %d |\n", $1, $2, $3 }' "$TMP/mem.max" >>"$TMP/extras.md"
	done
	# targets: the client bounded (its max over the whole write, and reading
	# back, within 10 % + 4 MiB of its max over the first GiB); daemons flat
	# (their max while the store grows, i.e. over the write from 1 GiB on,
	# within 10 % + 4 MiB of their value at 1 GiB). The read back runs at a
	# constant store size: its daemon figure is reported, not judged here.
	awk -v g="$gib" '
		$7 ~ /^[0-9]+$/ && $7 >= 1024 && !got {	# the first sample at 1 GiB
			got = 1
			d1 = $4; if ($5 > d1) d1 = $5; if ($6 > d1) d1 = $6
		}
		$2 == "write" && $7 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ {
			if ($7 < 1024 || !c1) { if ($3 > c1) c1 = $3 }
			if ($3 > cw) cw = $3 }
		$2 == "read" && $3 ~ /^[0-9]+$/ { if ($3 > cr) cr = $3 }
		got && $2 == "write" && $4 ~ /^[0-9]+$/ { for (i = 4; i <= 6; i++) if ($i > dw) dw = $i }
		$2 == "read" && $4 ~ /^[0-9]+$/ { for (i = 4; i <= 6; i++) if ($i > dr) dr = $i }
		END {
			if (!dw) dw = d1	# the store reached 1 GiB only at the end of the write
			cl = (c1 && cw <= c1 * 1.10 + 4096 && cr <= c1 * 1.10 + 4096) ? "met" : "NOT MET"
			dl = (d1 && dw <= d1 * 1.10 + 4096) ? "met" : "NOT MET"
			printf "| client memory bounded for a %d GiB file | max %d kB while writing the first GiB, %d kB over the whole write, %d kB reading back | %s |\n", g, c1, cw, cr, cl
			printf "| chunkd memory flat as the store grows from 1 to %d GiB | %d kB (largest daemon) when the store reached 1 GiB, at most %d kB while it grew to the end of the write (%+.0f %%); %d kB reading the file back (store constant) | %s |\n", g, d1, dw, (d1 ? (dw - d1) * 100 / d1 : 0), dr, dl
		}' "$S" >"$TMP/mem.targets"
	md ""
	md "| target | measured | |"
	md "| --- | --- | --- |"
	cat "$TMP/mem.targets" >>"$TMP/extras.md"
	md ""
	md "(\"bounded\" and \"flat\" taken as: no more than 10 % + 4 MiB above the value at 1 GiB.)"
	md ""
}

# ---- run ----------------------------------------------------------------------

run_extras() {
	local x
	print_header "extras:$EXTRAS $([ "$QUICK" = 1 ] && echo '--quick ')"
	[ "$CAN_DROP" = 1 ] || say "# WARNING: caches are NOT dropped (not root)"
	: >"$TMP/extras.md"
	md "### fsbench$(for x in $EXTRAS; do printf ' --%s' "$x"; done) run of $START"
	md ""
	md "Machine: $(nproc) cpus, $MEM_TOTAL RAM, kernel $(uname -r), $(fio --version); disk: $DISK. Build: $BUILD_LINE. Load average (1/5/15 min) at start: $LOAD_START."
	md ""
	for x in $EXTRAS; do
		"x_$x"
	done
	LOAD_END=$(loadavg)
	say "# load average at end: $LOAD_END  ($(uptime))"
	md "Load average at the end ($(date -u '+%H:%M UTC')): $LOAD_END."
	report_problems
	if [ "$NERR" -gt 0 ]; then
		md ""
		md "Errors and warnings:"
		md ""
		sed 's/^/- /' "$TMP/errors" >>"$TMP/extras.md"
	fi
	echo
	cat "$TMP/extras.md"
	if [ -n "$OUT" ]; then
		cp "$TMP/extras.md" "$OUT" && echo "# markdown written to $OUT"
	fi
	return 0
}
