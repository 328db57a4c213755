#!/bin/sh
# Install the Debian packages airlock needs to build, test and demo.
# Idempotent: a fast no-op when everything is present.  Uses sudo only when
# not run as root.  Set AIRLOCK_DEPS_EXTRA to add packages.  The
# PostgreSQL server runs the dynamic-credential tests (throwaway clusters).
set -eu

PKGS="build-essential cmake pkg-config git clang
libsodium-dev libsqlite3-dev libjansson-dev libyaml-dev libmicrohttpd-dev
libcurl4-openssl-dev libpcre2-dev libvectorscan-dev libpq-dev libssl-dev
libcmocka-dev libicu-dev sqlite3 curl python3 python3-jsonschema strace
node-llhttp zlib1g-dev openssl python3-requests postgresql
python3-cryptography python3-websockets
${AIRLOCK_DEPS_EXTRA:-}"
# Node runs the MCP client tests; a machine may already carry its own build.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
	PKGS="$PKGS nodejs npm"
# Headless Chromium renders `airlock report`'s HTML in its test.
PKGS="$PKGS chromium"

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null |
	    grep -q '^install ok installed$'
}
missing=""
for p in $PKGS; do
	installed "$p" || missing="$missing $p"
done
# The sanitizer and libFuzzer runtimes come with clang only as a
# recommendation: name the package of the clang that is (or will be) here.
major=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' |
    head -1)
[ -n "$major" ] || major=$(apt-cache depends clang 2>/dev/null |
    sed -n 's/.*Depends: clang-\([0-9]*\)$/\1/p' | head -1)
[ -n "$major" ] && ! installed "libclang-rt-$major-dev" &&
	apt-cache show "libclang-rt-$major-dev" >/dev/null 2>&1 &&
	missing="$missing libclang-rt-$major-dev"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps.sh: missing packages:$missing (run as root or install sudo)" >&2
	exit 1
fi
echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
