#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_files.sh - file contents through a real mount: sizes around the chunk
# size written with cp and dd, sparse files, truncate both ways (truncate
# epochs), appends from separate opens, overwrites in the middle, and all of
# it again after a remount (so it comes from the daemons, not the page cache).
#
# Every operation on the mount is also done on a reference copy on local
# disk ($IT_WORK/ref); a check compares the sha256 of the two.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_files
it_cluster_start
it_mkfs
it_mount "$IT_MNT"

CS=$((1024 * 1024))	# chunk size (mkfs default)
M=$IT_MNT
REF=$IT_WORK/ref
SRC=$IT_WORK/src
mkdir -p "$REF" "$SRC"

# same NAME: the mount's copy and the reference copy must be identical
same() {
	local name=$1 want got
	want=$(it_sha "$REF/$name")
	got=$(it_sha "$M/$name")
	[ "$want" = "$got" ] || it_fail "$name: expected sha256 $want (size $(stat -c %s "$REF/$name")), got $got (size $(stat -c %s "$M/$name" 2>&1))"
	got=$(stat -c %s "$M/$name")
	[ "$got" = "$(stat -c %s "$REF/$name")" ] || it_fail "$name: expected size $(stat -c %s "$REF/$name"), got $got"
	it_log "ok: $name identical ($(stat -c %s "$REF/$name") bytes)"
}

# zeros NAME OFF LEN: bytes [OFF, OFF+LEN) of the mount's NAME are all zero
zeros() {
	local nz
	nz=$(tmo 60 dd if="$M/$1" bs=64K skip="$2" count="$3" iflag=skip_bytes,count_bytes \
		status=none | tr -d '\0' | wc -c)
	[ "$nz" -eq 0 ] || it_fail "$1: expected zeros in [$2, $(($2 + $3))), got $nz non-zero bytes"
	it_log "ok: $1 reads zeros in [$2, $(($2 + $3)))"
}

# ---- 1. sizes around the chunk size, written three ways ----
sizes="0 1 $((CS - 1)) $CS $((CS + 1)) $((10 * CS + 7))"
seed=0
for sz in $sizes; do
	seed=$((seed + 1))
	it_make_file "$SRC/s$sz" "$sz" "$seed"
	cp "$SRC/s$sz" "$REF/cp_$sz"
	cp "$SRC/s$sz" "$REF/dd4k_$sz"
	cp "$SRC/s$sz" "$REF/dd1m_$sz"
	tmo 60 cp "$SRC/s$sz" "$M/cp_$sz"
	tmo 60 dd if="$SRC/s$sz" of="$M/dd4k_$sz" bs=4k status=none
	tmo 60 dd if="$SRC/s$sz" of="$M/dd1m_$sz" bs=1M status=none
	same "cp_$sz"
	same "dd4k_$sz"
	same "dd1m_$sz"
done

# ---- 2. sparse files ----
# a block at 0 and one at 3 MiB + 100: a hole of whole and partial chunks
it_make_file "$SRC/blk" 4096 77
for d in "$M" "$REF"; do
	tmo 60 dd if="$SRC/blk" of="$d/sparse_seek" bs=4096 status=none
	tmo 60 dd if="$SRC/blk" of="$d/sparse_seek" bs=1 seek=$((3 * CS + 100)) conv=notrunc status=none
done
same sparse_seek
zeros sparse_seek 4096 $((3 * CS + 100 - 4096))
# past EOF in one step: a file that starts with a hole
for d in "$M" "$REF"; do
	tmo 60 dd if="$SRC/blk" of="$d/sparse_head" bs=4096 seek=$((2 * CS / 4096 + 3)) status=none
done
same sparse_head
zeros sparse_head 0 $((2 * CS + 3 * 4096))
# truncate -s up: the new tail is a hole
for d in "$M" "$REF"; do
	head -c 1000 "$SRC/blk" >"$d/sparse_trunc"
	tmo 60 truncate -s $((2 * CS + 5)) "$d/sparse_trunc"
done
same sparse_trunc
zeros sparse_trunc 1000 $((2 * CS + 5 - 1000))

# ---- 3. truncate both ways: old data must not come back ----
it_make_file "$SRC/t3m" $((3 * CS + 12345)) 91
for d in "$M" "$REF"; do
	tmo 60 cp "$SRC/t3m" "$d/trunc_small"
	tmo 60 truncate -s 1000 "$d/trunc_small"
done
same trunc_small
for d in "$M" "$REF"; do tmo 60 truncate -s $((3 * CS + 12345)) "$d/trunc_small"; done
same trunc_small
zeros trunc_small 1000 $((3 * CS + 12345 - 1000))
# shrink to the middle of chunk 1, extend, shrink to a chunk boundary, extend
for d in "$M" "$REF"; do
	tmo 60 cp "$SRC/t3m" "$d/trunc_mid"
	tmo 60 truncate -s $((CS + 500)) "$d/trunc_mid"
	tmo 60 truncate -s $((4 * CS)) "$d/trunc_mid"
done
same trunc_mid
zeros trunc_mid $((CS + 500)) $((3 * CS - 500))
for d in "$M" "$REF"; do
	tmo 60 truncate -s $((2 * CS)) "$d/trunc_mid"
	tmo 60 truncate -s $((3 * CS)) "$d/trunc_mid"
done
same trunc_mid
zeros trunc_mid $((CS + 500)) $((2 * CS - 500))
# shrink, then write past the new end: the gap reads zeros
for d in "$M" "$REF"; do
	tmo 60 cp "$SRC/t3m" "$d/trunc_write"
	tmo 60 truncate -s 100 "$d/trunc_write"
	tmo 60 dd if="$SRC/blk" of="$d/trunc_write" bs=4096 seek=$((2 * CS / 4096)) conv=notrunc status=none
done
same trunc_write
zeros trunc_write 100 $((2 * CS - 100))
# truncate to zero through O_TRUNC (shell >) then a short write
for d in "$M" "$REF"; do
	tmo 60 cp "$SRC/t3m" "$d/trunc_otrunc"
	tmo 10 sh -c "printf 'short\n' >'$d/trunc_otrunc'"
done
same trunc_otrunc

# ---- 4. appends from separate opens ----
for d in "$M" "$REF"; do
	tmo 10 sh -c "echo first line >>'$d/append'"
	tmo 10 sh -c "echo second line >>'$d/append'"
	tmo 60 sh -c "cat '$SRC/s$((CS + 1))' >>'$d/append'"
	tmo 10 sh -c "echo last line >>'$d/append'"
done
same append
it_check_eq "append: first two lines" "first line
second line" "$(head -n 2 "$M/append")"

# ---- 5. overwrite in the middle (conv=notrunc) ----
it_make_file "$SRC/patch" 5000 55
for d in "$M" "$REF"; do
	tmo 60 cp "$SRC/s$((10 * CS + 7))" "$d/overwrite"
	# 5000 bytes straddling the end of chunk 0, byte-granular
	tmo 60 dd if="$SRC/patch" of="$d/overwrite" bs=1 seek=$((CS - 2000)) conv=notrunc status=none
	# one aligned 4 KiB block inside chunk 5
	tmo 60 dd if="$SRC/blk" of="$d/overwrite" bs=4096 seek=$((5 * CS / 4096 + 1)) conv=notrunc status=none
	# the last 3 bytes of the file and 4 past it
	printf 'ABCDEFG' | tmo 60 dd of="$d/overwrite" bs=1 seek=$((10 * CS + 4)) conv=notrunc status=none
done
same overwrite

# ---- 6. remount: everything comes back from the daemons ----
nfiles=$(find "$REF" -type f | wc -l)
it_remount "$M"
it_check_eq "file count after remount" "$nfiles" "$(find "$M" -type f | wc -l)"
for f in "$REF"/*; do
	same "$(basename "$f")"
done
zeros trunc_small 1000 $((3 * CS + 12345 - 1000))
zeros sparse_seek 4096 $((3 * CS + 100 - 4096))
it_umount_check "$M"
it_done
