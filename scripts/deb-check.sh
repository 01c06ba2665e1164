#!/bin/sh
# deb-check.sh BUILD_DIR - check the quorumfs .deb that `make deb` built:
#  1. dpkg-deb -c lists every program, man page, example and the unit;
#  2. dpkg-deb -I shows the Depends on the Debian 12 runtime packages;
#  3. (root only) dpkg -i installs it for real, the installed programs run,
#     systemd-analyze verify accepts chunkd@.service, dpkg -r removes it.
# Step 3 changes the system, which is why it is here and not in `make test`.
# A quorumfs package that was already installed is left alone (step 3 skipped).
set -eu
BUILD=${1:-build-deb}
deb=$(find "$BUILD" -maxdepth 1 -name 'quorumfs_*.deb' | sort | tail -n 1)
[ -n "$deb" ] || { echo "deb-check: no quorumfs_*.deb in $BUILD (run make deb)" >&2; exit 1; }
fail=0
bad() { echo "deb-check: FAIL: $*" >&2; fail=1; }
echo "deb-check: $deb"

files=$(dpkg-deb -c "$deb" | awk '{ print $NF }')
for f in ./usr/bin/quorumfs ./usr/bin/qfs ./usr/sbin/chunkd ./usr/sbin/mkfs.quorumfs \
	./usr/sbin/mount.quorumfs ./usr/share/man/man8/chunkd.8 ./usr/share/man/man8/quorumfs.8 \
	./usr/share/man/man8/mount.quorumfs.8 ./usr/share/man/man8/mkfs.quorumfs.8 \
	./usr/share/man/man8/qfs.8 ./usr/share/man/man5/quorumfs.conf.5 \
	./etc/quorumfs/cluster.conf.example ./etc/quorumfs/chunkd.env.example \
	./lib/systemd/system/chunkd@.service ./usr/share/doc/quorumfs/admin-guide.md \
	./usr/share/doc/quorumfs/examples/mnt-data.mount; do
	printf '%s\n' "$files" | grep -qxF "$f" || bad "$f is not in the package"
done
if printf '%s\n' "$files" | grep -qx './etc/quorumfs/cluster.conf'; then
	bad "the package ships a real /etc/quorumfs/cluster.conf"
fi
[ "$fail" = 0 ] && echo "deb-check: ok: every expected file is in the package"

info=$(dpkg-deb -I "$deb")
depends=$(printf '%s\n' "$info" | sed -n 's/^ Depends: //p')
echo "deb-check: Depends: $depends"
for p in libfuse3-3 fuse3 libzmq5 libxxhash0 liblmdb0 libinih1 libjansson4; do
	printf '%s\n' "$depends" | tr ',' '\n' | grep -q "^ *$p\( \|$\)" || bad "Depends lacks $p"
done
for p in libfuse3-3 fuse3 libzmq5 libxxhash0 liblmdb0 libinih1 libjansson4; do
	apt-cache show "$p" >/dev/null 2>&1 || bad "Depends names $p, which apt does not know"
done
printf '%s\n' "$info" | grep -q 'conffiles' || bad "no conffiles in the control archive"
[ "$fail" = 0 ] && echo "deb-check: ok: Depends and control files"

if [ "$(id -u)" -ne 0 ]; then
	echo "deb-check: not root: skipping dpkg -i / dpkg -r"
	exit "$fail"
fi
if dpkg-query -W -f='${Status}' quorumfs 2>/dev/null | grep -q "ok installed"; then
	echo "deb-check: a quorumfs package is already installed: not touching it (skipping dpkg -i)"
	exit "$fail"
fi
installed=0
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ "$installed" = 1 ] && dpkg -r quorumfs >/dev/null && echo "deb-check: removed (dpkg -r quorumfs)"
}
trap cleanup EXIT
if ! dpkg -i "$deb"; then
	bad "dpkg -i failed (missing dependencies? apt-get install ./$deb resolves them)"
	dpkg -r quorumfs >/dev/null 2>&1 || true
	exit 1
fi
installed=1
/usr/bin/quorumfs --help >/dev/null || bad "quorumfs --help"
/usr/bin/qfs --help >/dev/null || bad "qfs --help"
/usr/sbin/chunkd --version >/dev/null || bad "chunkd --version"
/usr/sbin/mkfs.quorumfs --help >/dev/null || bad "mkfs.quorumfs --help"
/usr/sbin/mount.quorumfs -f /etc/quorumfs/cluster.conf.example /mnt | grep -q /usr/bin/quorumfs ||
	bad "mount.quorumfs -f does not find /usr/bin/quorumfs"
/usr/bin/qfs layout /etc/quorumfs/cluster.conf.example >/dev/null || bad "qfs layout of the example config"
getent passwd quorumfs >/dev/null || bad "postinst did not create the quorumfs user"
if command -v systemd-analyze >/dev/null 2>&1; then
	for u in chunkd@a.service /usr/share/doc/quorumfs/examples/mnt-data.mount; do
		out=$(systemd-analyze verify "$u" 2>&1) || bad "systemd-analyze verify $u: $out"
		[ -z "$out" ] || echo "deb-check: systemd-analyze verify $u says: $out"
	done
	echo "deb-check: ok: systemd-analyze verify accepts chunkd@.service and the mount unit"
fi
[ "$fail" = 0 ] && echo "deb-check: ok: installed, the programs run"
exit "$fail"
