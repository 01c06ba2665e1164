#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_tools.sh - ordinary tools on a real mount: a real source tree through
# tar (content with diff -r, metadata with tar --compare), through rsync -a
# (and a second rsync that must find nothing to do), and git (init, add,
# commit, gc, fsck --full, clone out of the mount).
#
# The tree is a fixed part of /usr/include, not all of it: the whole of
# /usr/include depends on what is installed (on a developer machine with
# llvm and node headers it is 130 MB / 9,000 files and took ~75 s to copy at
# the time of writing, on CI a few MB). The part used is what every Debian
# build host has (linux-libc-dev and libc6-dev): include/linux,
# include/asm-generic, include/<multiarch> and the top-level *.h files,
# about 1,500 entries / 10 MB, copied in ~11 s. rsync and git use smaller,
# fixed parts of include/linux (~170 entries) to keep the script near 40 s.
# shellcheck disable=SC2119,SC2086 # optional helper arguments; $LIST and $RLIST split on purpose
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_tools
it_cluster_start
it_mkfs
it_mount "$IT_MNT"
M=$IT_MNT

# ---- the tree ----
LIST="include/linux include/asm-generic"
ma=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)
[ -n "$ma" ] && [ -d "/usr/include/$ma" ] && LIST="$LIST include/$ma"
[ -d /usr/include/linux ] || it_skip "/usr/include/linux is missing (package linux-libc-dev)"
LIST="$LIST $(cd /usr && ls -d include/*.h 2>/dev/null | tr '\n' ' ')"
nentries=$(cd /usr && find $LIST | wc -l)
it_log "tree: $(echo "$LIST" | awk '{print $1, $2, $3}') + top-level *.h: $nentries entries, $(cd /usr && du -sch --apparent-size $LIST | tail -n 1 | cut -f1)"

RLIST="include/asm-generic include/linux/netfilter include/linux/usb include/linux/tc_act"
for d in $RLIST; do [ -d "/usr/$d" ] || it_skip "/usr/$d is missing"; done

# diff_tree DEST [ITEMS]: every item (default LIST) under DEST equals the
# one under /usr
diff_tree() {
	local item out
	for item in ${2:-$LIST}; do
		if ! out=$(tmo 120 diff -r --no-dereference "/usr/$item" "$1/$item" 2>&1); then
			it_fail "diff -r /usr/$item $1/$item: expected no difference, got: $(printf '%s' "$out" | head -n 20)"
		fi
	done
	it_log "ok: diff -r finds no difference under $1"
}

# ---- tar ----
t0=$(date +%s)
mkdir "$M/tar"
(cd /usr && tmo 180 tar -cf - $LIST) | tmo 180 tar -C "$M/tar" -xf -
it_log "tar -x of $nentries entries took $(($(date +%s) - t0)) s"
it_check_eq "entries after tar -x" "$nentries" "$(cd "$M/tar" && tmo 60 find $LIST | wc -l)"
diff_tree "$M/tar"
# tar --compare: content, size, mode, owner, mtime and symlink targets
if out=$( (cd /usr && tmo 180 tar -cf - $LIST) | tmo 180 tar -C "$M/tar" --compare -f - 2>&1); then
	it_log "ok: tar --compare finds no difference (mode, owner, mtime, size, content)"
else
	it_fail_soft "tar --compare: expected no difference, got $(printf '%s\n' "$out" | wc -l) lines like: $(printf '%s' "$out" | head -n 5)"
fi

# ---- rsync ----
if command -v rsync >/dev/null 2>&1; then
	t0=$(date +%s)
	mkdir "$M/rsync"
	(cd /usr && tmo 180 rsync -aR $RLIST "$M/rsync/")
	it_log "rsync -a of $(cd /usr && find $RLIST | wc -l) entries took $(($(date +%s) - t0)) s"
	diff_tree "$M/rsync" "$RLIST"
	out=$(cd /usr && tmo 180 rsync -aRi $RLIST "$M/rsync/" 2>&1)
	it_check_eq "a second rsync -a finds nothing to transfer (times, sizes, modes kept)" "" "$out"
	# change one file in the mount: rsync must put it back
	echo "/* changed */" >>"$M/rsync/include/asm-generic/errno.h"
	out=$(cd /usr && tmo 180 rsync -aRi $RLIST "$M/rsync/" 2>&1)
	it_check_eq "rsync -a repairs exactly the changed file" ">f.st...... include/asm-generic/errno.h" "$out"
	diff_tree "$M/rsync" "$RLIST"
else
	it_log "SKIPPED the rsync part: rsync is not installed"
fi

# ---- git ----
if command -v git >/dev/null 2>&1; then
	export HOME=$IT_WORK GIT_CONFIG_NOSYSTEM=1
	export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
	R=$M/repo
	mkdir "$R"
	tmo 30 git -C "$R" init -q
	git -C "$R" config user.name "QuorumFS Test"
	git -C "$R" config user.email "test@quorumfs.invalid"
	for d in $RLIST; do tmo 60 cp -r "/usr/$d" "$R/"; done
	t0=$(date +%s)
	tmo 120 git -C "$R" add -A
	tmo 60 git -C "$R" commit -q -m "first"
	echo "/* second */" >>"$R/asm-generic/errno.h"
	tmo 60 git -C "$R" mv asm-generic/ioctl.h asm-generic/ioctl-renamed.h
	tmo 60 git -C "$R" commit -q -a -m "second"
	it_log "git add + 2 commits took $(($(date +%s) - t0)) s"
	it_check_eq "git log" "2" "$(git -C "$R" rev-list --count HEAD)"
	it_check_eq "git status is clean" "" "$(tmo 60 git -C "$R" status --porcelain)"
	it_check "git fsck --full (loose objects)" tmo 120 git -C "$R" fsck --full --strict
	tmo 120 git -C "$R" gc -q
	it_check "git fsck --full (after gc)" tmo 120 git -C "$R" fsck --full --strict
	it_check_eq "git status still clean after gc" "" "$(tmo 60 git -C "$R" status --porcelain)"
	tmo 120 git clone -q "$R" "$IT_WORK/clone"
	it_check "clone out of the mount has the same tree" \
		tmo 60 diff -r --exclude=.git "$R" "$IT_WORK/clone"
	it_check_eq "same HEAD in the clone" "$(git -C "$R" rev-parse HEAD)" \
		"$(git -C "$IT_WORK/clone" rev-parse HEAD)"
else
	it_log "SKIPPED the git part: git is not installed"
fi

# ---- after a remount ----
it_remount "$M"
diff_tree "$M/tar"
if command -v git >/dev/null 2>&1; then
	it_check "after remount: git fsck --full" tmo 120 git -C "$M/repo" fsck --full --strict
fi
tmo 120 rm -rf "${M:?}"/*
it_check_eq "rm -rf of everything" "" "$(ls -A "$M")"
it_umount_check "$M"
it_done
