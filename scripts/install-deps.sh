#!/bin/sh
# Install the Debian 12 packages QuorumFS needs to build, test and run,
# only those missing. Needs root (or sudo) when something is missing.
set -e
PKGS="cmake make gcc clang pkg-config libzmq3-dev liblmdb-dev libxxhash-dev
libfuse3-dev fuse3 libcmocka-dev libinih-dev libjansson-dev fio rsync git iproute2 procps attr
jq libfaketime"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
