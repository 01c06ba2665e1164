#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_namespace.sh - names through a real mount: rename (over a file, over an
# empty and a non-empty directory, between directories), hard links and
# st_nlink, symlinks, chmod/chown/touch -d, deep trees, rmdir of a non-empty
# directory, FIFOs, xattrs (setfattr/getfattr), a 2,000-entry directory
# (readdir paging) and statfs. The namespace is checked again after a
# remount, so it comes from the daemons and not from the kernel's caches.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_namespace
it_cluster_start
it_mkfs
it_mount "$IT_MNT"
M=$IT_MNT
export TZ=UTC

content() { tmo 10 cat "$1" 2>&1; }

# ---- rename ----
echo old-a >"$M/ra"
echo old-b >"$M/rb"
tmo 10 mv -f "$M/ra" "$M/rb"
it_check_eq "rename over a file: target has the source's content" "old-a" "$(content "$M/rb")"
it_check_eq "rename over a file: source name is gone" "absent" "$([ -e "$M/ra" ] && echo present || echo absent)"
it_check_eq "rename over a file: one entry left" "rb" "$(cd "$M" && ls -d r?)"

mkdir "$M/rdir_src" "$M/rdir_empty" "$M/rdir_full"
echo inside >"$M/rdir_src/f"
echo keep >"$M/rdir_full/keep"
tmo 10 mv -T "$M/rdir_src" "$M/rdir_empty"
it_check_eq "rename a directory over an empty one: its content moved" "inside" "$(content "$M/rdir_empty/f")"
it_check_eq "rename a directory over an empty one: source gone" "absent" "$([ -e "$M/rdir_src" ] && echo present || echo absent)"
out=$(tmo 10 mv -T "$M/rdir_empty" "$M/rdir_full" 2>&1) && it_fail "rename over a non-empty directory: expected ENOTEMPTY/EEXIST, it succeeded"
case $out in
*"Directory not empty"* | *"File exists"*) it_log "ok: rename over a non-empty directory fails ($out)" ;;
*) it_fail "rename over a non-empty directory: expected 'Directory not empty', got: $out" ;;
esac
it_check_eq "failed rename left the target alone" "keep" "$(content "$M/rdir_full/keep")"
it_check_eq "failed rename left the source alone" "inside" "$(content "$M/rdir_empty/f")"

# mv between directories, of a file and of a subtree
mkdir -p "$M/from/sub/deeper" "$M/to"
echo moved-file >"$M/from/file"
echo moved-deep >"$M/from/sub/deeper/leaf"
tmo 10 mv "$M/from/file" "$M/to/"
tmo 10 mv "$M/from/sub" "$M/to/"
it_check_eq "mv between directories: file" "moved-file" "$(content "$M/to/file")"
it_check_eq "mv between directories: subtree" "moved-deep" "$(content "$M/to/sub/deeper/leaf")"
it_check_eq "mv between directories: source directory empty" "" "$(ls -A "$M/from")"
it_check_eq "moved directory's .. is its new parent" "$(stat -c %i "$M/to")" "$(stat -c %i "$M/to/sub/..")"
tmo 10 mv "$M/to/file" "$M/to/renamed"
it_check_eq "rename in place" "moved-file" "$(content "$M/to/renamed")"

# ---- hard links ----
echo linked >"$M/h1"
it_check_eq "new file: st_nlink" 1 "$(stat -c %h "$M/h1")"
tmo 10 ln "$M/h1" "$M/to/h2"
it_check_eq "after ln: st_nlink of the first name" 2 "$(stat -c %h "$M/h1")"
it_check_eq "after ln: st_nlink of the second name" 2 "$(stat -c %h "$M/to/h2")"
it_check_eq "hard link: same inode" "$(stat -c %i "$M/h1")" "$(stat -c %i "$M/to/h2")"
echo more >>"$M/to/h2"
it_check_eq "hard link: a write through one name shows through the other" "linked
more" "$(content "$M/h1")"
tmo 10 rm "$M/h1"
it_check_eq "after rm of one name: st_nlink" 1 "$(stat -c %h "$M/to/h2")"
it_check_eq "after rm of one name: the data stays" "linked
more" "$(content "$M/to/h2")"

# ---- symlinks ----
echo target-data >"$M/starget"
tmo 10 ln -s starget "$M/slink"
tmo 10 ln -s /nonexistent/dangling/target "$M/sdangle"
long=$(printf 'x%.0s' $(seq 1 1000))
tmo 10 ln -s "$long" "$M/slong"
it_check_eq "readlink" "starget" "$(readlink "$M/slink")"
it_check_eq "symlink: file type" "symbolic link" "$(stat -c %F "$M/slink")"
it_check_eq "reading through a symlink" "target-data" "$(content "$M/slink")"
it_check_eq "dangling symlink: readlink" "/nonexistent/dangling/target" "$(readlink "$M/sdangle")"
it_check_eq "dangling symlink: -L true, -e false" "L!e" \
	"$([ -L "$M/sdangle" ] && printf L)$([ -e "$M/sdangle" ] && printf e || printf '!e')"
it_check_eq "1000-byte symlink target" "$long" "$(readlink "$M/slong")"
it_check_eq "symlink size is its target's length" 7 "$(stat -c %s "$M/slink")"

# ---- chmod, chown, touch -d ----
echo attrs >"$M/attrs"
tmo 10 chmod 640 "$M/attrs"
it_check_eq "chmod 640" "640" "$(stat -c %a "$M/attrs")"
tmo 10 chmod 4751 "$M/attrs"
it_check_eq "chmod 4751 (setuid)" "4751" "$(stat -c %a "$M/attrs")"
tmo 10 chown 1234:5678 "$M/attrs"
it_check_eq "chown 1234:5678" "1234:5678" "$(stat -c %u:%g "$M/attrs")"
it_check_eq "chown cleared the setuid bit (as on a local fs)" "751" "$(stat -c %a "$M/attrs")"
tmo 10 touch -m -d '2001-02-03 04:05:06.789 UTC' "$M/attrs"
it_check_eq "touch -m -d: mtime" "2001-02-03 04:05:06.789000000 +0000" "$(stat -c %y "$M/attrs")"
tmo 10 touch -a -d '1999-12-31 23:59:59.5 UTC' "$M/attrs"
it_check_eq "touch -a -d: atime" "1999-12-31 23:59:59.500000000 +0000" "$(stat -c %x "$M/attrs")"
it_check_eq "touch -a left mtime alone" "2001-02-03 04:05:06.789000000 +0000" "$(stat -c %y "$M/attrs")"
ctime_before=$(stat -c %Z "$M/attrs")
mkdir "$M/dattrs"
tmo 10 chmod 700 "$M/dattrs"
tmo 10 chown 42:43 "$M/dattrs"
tmo 10 touch -d '2010-01-01 00:00:00 UTC' "$M/dattrs"
it_check_eq "directory chmod/chown/touch" "700 42:43 1262304000" "$(stat -c '%a %u:%g %Y' "$M/dattrs")"
# a file created with a umask gets the mode asked for minus the umask
(umask 027 && echo u >"$M/umasked" && mkdir "$M/umaskdir")
it_check_eq "umask 027: new file mode" "640" "$(stat -c %a "$M/umasked")"
it_check_eq "umask 027: new directory mode" "750" "$(stat -c %a "$M/umaskdir")"

# ---- a 30-deep tree ----
deep=$M/deep
for i in $(seq -w 1 30); do deep=$deep/d$i; done
tmo 60 mkdir -p "$deep"
echo bottom >"$deep/leaf"
it_check_eq "30-deep tree: entries" 32 "$(tmo 60 find "$M/deep" | wc -l)"
it_check_eq "30-deep tree: leaf" "bottom" "$(content "$deep/leaf")"
tmo 60 rm -rf "$M/deep"
it_check_eq "rm -rf of the deep tree" "absent" "$([ -e "$M/deep" ] && echo present || echo absent)"

# ---- rmdir ----
mkdir -p "$M/nonempty/child"
it_check_fails "rmdir of a non-empty directory" "Directory not empty" tmo 10 rmdir "$M/nonempty"
it_check_fails "rmdir of a file" "Not a directory" tmo 10 rmdir "$M/rb"
tmo 10 rmdir "$M/nonempty/child"
tmo 10 rmdir "$M/nonempty"
it_check_eq "rmdir once empty" "absent" "$([ -e "$M/nonempty" ] && echo present || echo absent)"
it_check_fails "rm of a missing file" "No such file or directory" tmo 10 rm "$M/nonempty"

# ---- FIFO ----
tmo 10 mkfifo "$M/fifo"
it_check_eq "mkfifo: file type" "fifo" "$(stat -c %F "$M/fifo")"
tmo 10 sh -c "echo through-the-fifo >'$M/fifo'" &
writer=$!
it_check_eq "data through the FIFO" "through-the-fifo" "$(tmo 10 cat "$M/fifo")"
wait "$writer"

# ---- xattrs ----
if command -v setfattr >/dev/null 2>&1 && command -v getfattr --absolute-names >/dev/null 2>&1; then
	echo x >"$M/xf"
	tmo 10 setfattr -n user.color -v blue "$M/xf"
	tmo 10 setfattr -n user.empty "$M/xf"
	tmo 10 setfattr -n user.bin -v 0x00ff00ff "$M/xf"
	it_check_eq "getfattr --absolute-names of a set xattr" "blue" "$(tmo 10 getfattr --absolute-names --only-values -n user.color "$M/xf")"
	it_check_eq "binary xattr value" "0x00ff00ff" \
		"$(tmo 10 getfattr --absolute-names -e hex -n user.bin "$M/xf" | sed -n 's/^user.bin=//p')"
	it_check_eq "xattr list" "user.bin user.color user.empty" \
		"$(tmo 10 getfattr --absolute-names -d -m '^user\.' "$M/xf" | sed -n '/^user\./{s/=.*//;p}' | sort | tr '\n' ' ' | sed 's/ $//')"
	tmo 10 setfattr -n user.color -v green "$M/xf"
	it_check_eq "xattr replaced" "green" "$(tmo 10 getfattr --absolute-names --only-values -n user.color "$M/xf")"
	tmo 10 setfattr -x user.color "$M/xf"
	it_check_fails "removed xattr is gone" "No such attribute" tmo 10 getfattr --absolute-names -n user.color "$M/xf"
	mkdir "$M/xd"
	tmo 10 setfattr -n user.onadir -v yes "$M/xd"
	it_check_eq "xattr on a directory" "yes" "$(tmo 10 getfattr --absolute-names --only-values -n user.onadir "$M/xd")"
	big=$(printf 'v%.0s' $(seq 1 4000))
	tmo 10 setfattr -n user.big -v "$big" "$M/xf"
	it_check_eq "4000-byte xattr value" "$big" "$(tmo 10 getfattr --absolute-names --only-values -n user.big "$M/xf")"
	XATTRS=1
else
	it_log "SKIPPED the xattr part: setfattr/getfattr --absolute-names missing (Debian package 'attr')"
	XATTRS=0
fi

# ---- a directory of 2,000 files (readdir paging) ----
mkdir "$M/many"
seq -f 'file-%04g' 1 2000 >"$IT_WORK/many.expected"
(cd "$M/many" && tmo 120 xargs touch <"$IT_WORK/many.expected")
it_check_eq "ls of a 2,000-file directory: count" 2000 "$(tmo 60 ls "$M/many" | wc -l)"
it_check_eq "ls -f (no sort) counts . and .. once" 2002 "$(tmo 60 ls -f "$M/many" | wc -l)"
it_check "readdir returns exactly the 2,000 names, no duplicates" \
	diff "$IT_WORK/many.expected" <(tmo 60 ls -f "$M/many" | grep -v '^\.\.\?$' | sort)
it_check_eq "find sees 2,000 regular files" 2000 "$(tmo 60 find "$M/many" -type f | wc -l)"

# ---- statfs ----
df_out=$(tmo 10 df -P "$M" | tail -n 1)
it_log "df: $df_out"
size_kb=$(echo "$df_out" | awk '{print $2}')
[ "$size_kb" -gt 0 ] 2>/dev/null || it_fail "df: expected a size > 0, got '$size_kb'"
it_log "ok: df reports $size_kb KiB"
it_check_eq "statfs: name length" 255 "$(tmo 10 stat -f -c %l "$M")"
it_check "df -i works" tmo 10 df -i "$M"

# ---- all of it again after a remount ----
it_remount "$M"
it_check_eq "after remount: renamed file" "old-a" "$(content "$M/rb")"
it_check_eq "after remount: moved subtree" "moved-deep" "$(content "$M/to/sub/deeper/leaf")"
it_check_eq "after remount: st_nlink" 1 "$(stat -c %h "$M/to/h2")"
it_check_eq "after remount: readlink" "starget" "$(readlink "$M/slink")"
it_check_eq "after remount: dangling readlink" "/nonexistent/dangling/target" "$(readlink "$M/sdangle")"
it_check_eq "after remount: mode, owner, mtime" "751 1234:5678 2001-02-03 04:05:06.789000000 +0000" \
	"$(stat -c '%a %u:%g %y' "$M/attrs")"
it_check_eq "after remount: atime" "1999-12-31 23:59:59.500000000 +0000" "$(stat -c %x "$M/attrs")"
it_check_eq "after remount: ctime kept" "$ctime_before" "$(stat -c %Z "$M/attrs")"
it_check_eq "after remount: fifo" "fifo" "$(stat -c %F "$M/fifo")"
it_check_eq "after remount: 2,000 entries" 2000 "$(tmo 60 ls "$M/many" | wc -l)"
it_check_eq "after remount: deep tree gone" "absent" "$([ -e "$M/deep" ] && echo present || echo absent)"
if [ "$XATTRS" = 1 ]; then
	it_check_eq "after remount: xattr" "yes" "$(tmo 10 getfattr --absolute-names --only-values -n user.onadir "$M/xd")"
fi
it_check_eq "after remount: root listing" \
	"attrs dattrs fifo from many rb rdir_empty rdir_full sdangle slink slong starget to umaskdir umasked$([ "$XATTRS" = 1 ] && echo ' xd xf')" \
	"$(ls "$M" | sort | tr '\n' ' ' | sed 's/ $//')"
tmo 120 rm -rf "${M:?}"/*
it_check_eq "rm -rf of everything leaves the root empty" "" "$(ls -A "$M")"
it_umount_check "$M"
it_done
