#!/bin/sh
# run --proxy against direct: one large HTTPS download (curl) through the
# proxy and straight to the server, with the CPU each party used per GB
# (on a machine whose cores are all busy, that decides the ratio), and N
# small requests on one kept-alive connection (curl with many URLs), with
# their per-request times.
# Usage: bench/proxy.sh [MB] [N]   (AIRLOCK_BUILD: the build directory)
set -eu
BUILD=${AIRLOCK_BUILD:-build}
MB=${1:-1024}
N=${2:-500}
BUILD=$(cd "$BUILD" && pwd)
AL="$BUILD/src/cli/airlock"
ECHO="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/helpers/https_echo.py"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-proxy.XXXXXX")
export AIRLOCK_HOME="$DIR/home"
export AIRLOCK_SOCKET="$AIRLOCK_HOME/airlockd.sock"
SRV=""
SRV2=""
cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null || true
	[ -n "$SRV2" ] && kill "$SRV2" 2>/dev/null || true
	[ -f "$AIRLOCK_HOME/airlockd.pid" ] &&
		kill "$(cat "$AIRLOCK_HOME/airlockd.pid")" 2>/dev/null || true
	sleep 0.2
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE	# sh runs no EXIT trap on a signal
cd "$DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -days 1 -subj /CN=bench-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout srv.key -out srv.csr -subj /CN=bench 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out srv.pem -days 1 -extfile ext 2>/dev/null
mkdir www
# Incompressible bytes, as most large downloads are (archives, images).
head -c $((MB * 1024 * 1024)) /dev/urandom >www/big
echo small >www/small
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd www && exec openssl s_server -quiet -WWW -accept "127.0.0.1:$PORT" \
    -cert ../srv.pem -key ../srv.key -naccept 100000 >/dev/null 2>&1) &
SRV=$!
sleep 0.5
export AIRLOCK_UPSTREAM_CA_FILE="$DIR/ca.pem"
"$AL" init >/dev/null 2>&1
head -c 24 /dev/urandom | base64 | "$AL" secret add bench --owner bench \
    --purpose bench --host 127.0.0.1 >/dev/null
U="https://127.0.0.1:$PORT"

# One download by curl: its bytes per second and the CPU seconds it used.
CURL_CPU='import resource, subprocess, sys
r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download}"]
    + sys.argv[1:], stdout=subprocess.PIPE, text=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.stdout.strip(), u.ru_utime + u.ru_stime)'
# CPU seconds a process has used (its ended threads included).
cpu() {
	awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat"
}
# The broker, started now so that its CPU can be read around the download.
"$AL" run --no-rules --proxy -e T=bench -- true
BROKER=$(cat "$AIRLOCK_HOME/airlockd.pid")
s0=$(cpu "$SRV")
direct=$(python3 -c "$CURL_CPU" --cacert ca.pem "$U/big")
s1=$(cpu "$SRV")
b1=$(cpu "$BROKER")
proxied=$("$AL" run --no-rules --proxy -e T=bench -- python3 -c "$CURL_CPU" \
    "$U/big" | tail -n 1)
s2=$(cpu "$SRV")
b2=$(cpu "$BROKER")
python3 - "$MB" "$direct" "$proxied" "$s0" "$s1" "$s2" "$b1" "$b2" <<'EOF'
import sys
mb = int(sys.argv[1])
d, dc = (float(x) for x in sys.argv[2].split())
p, pc = (float(x) for x in sys.argv[3].split())
s0, s1, s2, b1, b2 = (float(x) for x in sys.argv[4:9])
gb = mb / 1024
print(f"download {mb} MB: direct {d/1e6:.0f} MB/s, proxied {p/1e6:.0f} MB/s, "
      f"ratio {p/d:.2f}")
print(f"CPU per GB: direct: curl {dc/gb:.2f} s, server {(s1-s0)/gb:.2f} s; "
      f"proxied: broker {(b2-b1)/gb:.2f} s, curl {pc/gb:.2f} s, "
      f"server {(s2-s1)/gb:.2f} s")
EOF

# Small requests: N URLs on one kept-alive connection to a small HTTP/1.1
# server; curl reports each transfer's total time (the first includes the
# TLS handshakes).
python3 "$ECHO" srv.pem srv.key 127.0.0.1 echo.port echo.log &
SRV2=$!
while [ ! -s echo.port ]; do sleep 0.05; done
U="https://127.0.0.1:$(cat echo.port)"
urls=$(i=0; while [ $i -lt "$N" ]; do printf '%s ' "$U/small"; i=$((i+1)); done)
# shellcheck disable=SC2086
curl -s -w '\nT=%{time_total}\n' --cacert ca.pem $urls |
    sed -n 's/^T=//p' >direct.t
# shellcheck disable=SC2086
"$AL" run --no-rules --proxy -e T=bench -- \
    curl -s -w '\nT=%{time_total}\n' $urls | sed -n 's/^T=//p' >proxied.t
python3 - direct.t proxied.t <<'EOF'
import sys
def load(f):
    v = [float(x) for x in open(f).read().split() if x]
    return v[0], sorted(v[1:])
def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p))] * 1000
d0, d = load(sys.argv[1])
p0, p = load(sys.argv[2])
print(f"small requests, kept alive ({len(d)}): direct p50 {pct(d,.5):.2f} ms "
      f"p99 {pct(d,.99):.2f} ms; proxied p50 {pct(p,.5):.2f} ms "
      f"p99 {pct(p,.99):.2f} ms; added p50 {pct(p,.5)-pct(d,.5):.2f} ms "
      f"p99 {pct(p,.99)-pct(d,.99):.2f} ms")
print(f"first request (connection and TLS): direct {d0*1000:.1f} ms, "
      f"proxied {p0*1000:.1f} ms")
EOF

# Lease decisions while the proxy moves bulk bytes: lease cycles (request,
# use, revoke) from 16 clients alone, then during 16 parallel proxied
# downloads (the proxy's threads, not the broker's loop, carry the bytes).
if [ -x "$BUILD/bench/bench_broker" ]; then
	BB="$BUILD/bench/bench_broker"
	echo "lease cycles, 16 clients, 5 s, idle proxy:"
	"$BB" "$AIRLOCK_HOME" bench 16 5
	"$AL" run --no-rules --proxy -e T=bench -- sh -c '
		i=0; while [ $i -lt 16 ]; do
			curl -s -o /dev/null "'"https://127.0.0.1:$PORT/big"'" &
			i=$((i+1))
		done; wait' &
	DL=$!
	sleep 1
	echo "lease cycles, 16 clients, 5 s, during 16 proxied downloads:"
	"$BB" "$AIRLOCK_HOME" bench 16 5
	kill "$DL" 2>/dev/null || true
	wait "$DL" 2>/dev/null || true
fi
