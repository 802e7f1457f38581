#!/bin/sh
# Installs the Debian packages zkplug needs to build (and, with --test, to run
# its test suite), skipping those already present. Needs root or sudo.
#   scripts/install-deps.sh          build dependencies
#   scripts/install-deps.sh --test   build and test dependencies
set -eu

# libsasl2-modules carries the DIGEST-MD5 plugin Cyrus SASL loads at run time.
BUILD_PKGS="build-essential cmake pkg-config liblua5.4-dev libnng-dev zlib1g-dev libcmocka-dev libsasl2-dev libsasl2-modules"
TEST_PKGS="libzookeeper-mt-dev zookeeper zookeeper-bin python3-kazoo python3-pure-sasl nng-utils python3 python3-pytest python3-mock python3-objgraph python3-pytest-timeout iproute2 util-linux procps"

pkgs=$BUILD_PKGS
[ "${1:-}" = "--test" ] && pkgs="$pkgs $TEST_PKGS"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "installing:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
