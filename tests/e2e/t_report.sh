#!/bin/bash
# airlock report end to end: the inventory from the vault and the audit log
# (leases, last use, an exposure found by sweep with its time to revoke and
# rotate, what needs attention), as JSON, CSV and HTML; the HTML rendered
# in headless Chromium holds every secret's row and fetches nothing.
. "$(dirname "$0")/lib.sh"

export HOME="$T_ROOT/h"
mkdir -p "$HOME"
cd "$T_ROOT" || exit 1
BUILD=$(cd "$(dirname "$AL")/../.." && pwd)

init_vault
VA=$(canary)
add_secret leaked-token "$VA"
add_secret short-lived "$(canary)" --expires 3d
# Markup in a field must be shown, never run or fetched.
printf '%s\n' "$(canary)" | "$AL" secret add markup-test --owner \
    'ops <b>team</b>' --purpose '<img src="http://evil.invalid/p.png">' \
    --rotate-every 30d >>"$ALL_OUTPUT" 2>&1 || fail "add markup-test"

run "$AL" run -e T=short-lived -- true
expect_rc 0 "a lease of short-lived"
printf 'echo %s\n' "$VA" >"$HOME/.bash_history"
run "$AL" sweep
expect_rc 1 "sweep marks leaked-token exposed"

# ---- JSON: the rows and the exposure, before rotation --------------------
run "$AL" report --format json
expect_rc 0 "report json"
got=$(python3 - "$OUT" <<'EOF'
import json, sys
d = {s["name"]: s for s in json.load(open(sys.argv[1]))["secrets"]}
a, b, c = d["leaked-token"], d["short-lived"], d["markup-test"]
e = a["exposures"][0]
print(len(d), a["status"], len(a["exposures"]), e["where"].endswith(".bash_history"),
    e["time_to_revoke_ms"] is not None, e["time_to_rotate_ms"], a["attention"],
    b["leases"], b["last_used"] is not None, b["attention"], c["rotation_due"] is not None)
EOF
)
expect_eq "$got" "3 exposed 1 True True None exposed, not rotated 1 True expires soon True" "json rows"

# ---- rotation: the time to rotate is reported ----------------------------
printf '%s\n' "$(canary)" | "$AL" secret rotate leaked-token >>"$ALL_OUTPUT" 2>&1 ||
    fail "rotate"
run "$AL" report --format json
got=$(python3 -c 'import json,sys; d={s["name"]: s for s in json.load(open(sys.argv[1]))["secrets"]}; e=d["leaked-token"]["exposures"][0]; print(e["time_to_rotate_ms"] is not None and e["time_to_rotate_ms"] >= 0, d["leaked-token"]["attention"] == "")' "$OUT")
expect_eq "$got" "True True" "time to rotate"

# ---- CSV: the same rows --------------------------------------------------
run "$AL" report --format csv
expect_rc 0 "report csv"
got=$(python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(len(r), sorted(x["name"] for x in r), [x["exposures"] for x in r if x["name"]=="leaked-token"])' "$OUT")
expect_eq "$got" "3 ['leaked-token', 'markup-test', 'short-lived'] ['1']" "csv rows"

# ---- HTML: self-contained ------------------------------------------------
run "$AL" report -o "$T_ROOT/report.html"
expect_rc 0 "report html"
expect_eq "$(stat -c %a "$T_ROOT/report.html")" 600 "report mode"
if grep -qiE '(src|href)="|@import|url\(' "$T_ROOT/report.html"; then
	fail "the page refers to something outside: $(grep -oiE '(src|href)="[^ ]*|@import|url\([^)]*' "$T_ROOT/report.html" | head -3)"
else pass; fi
grep -c '<svg id="chart-' "$T_ROOT/report.html" | grep -qx 4 && pass ||
    fail "four charts expected"
check_no_leak "$VA" "$T_ROOT/report.html"

# ---- in a real browser ---------------------------------------------------
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
	echo "t_report: SKIPPED the browser checks: chromium is not installed (scripts/deps.sh installs it)"
	done_testing
fi
# Every request Chromium makes goes to this recorder; its own background
# services (Google update and account hosts) are not the page's.
cat >"$T_ROOT/rec.py" <<'EOF'
import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(50)
open(sys.argv[1], "w").write(str(s.getsockname()[1]) + "\n")
def serve(c):
	try:
		line = c.recv(4096).split(b"\r\n", 1)[0]
		open(sys.argv[2], "ab").write(line + b"\n")
		c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	finally:
		c.close()
while True:
	c, _ = s.accept()
	threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
python3 "$T_ROOT/rec.py" "$T_ROOT/rec.port" "$T_ROOT/rec.log" &
RECPID=$!
for _ in $(seq 50); do [ -s "$T_ROOT/rec.port" ] && break; sleep 0.1; done
PORT=$(cat "$T_ROOT/rec.port")
browse() {	# browse URL ARGS...: Chromium, headless, every request recorded
	_u=$1
	shift
	: >"$T_ROOT/rec.log"
	timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu \
	    --no-first-run --disable-background-networking \
	    --disable-component-update --disable-sync --disable-default-apps \
	    --user-data-dir="$T_ROOT/chrome" \
	    --proxy-server="http://127.0.0.1:$PORT" \
	    --proxy-bypass-list='<-loopback>' "$@" "$_u" 2>/dev/null
	sleep 0.3
}
page_requests() {
	grep -vE '(^CONNECT |//)([a-z0-9-]+\.)*(google|googleapis|gstatic)\.com[:/]' \
	    "$T_ROOT/rec.log" || true
}

# The recorder sees what a page fetches (else the check below proves nothing).
printf '<html><body><img src="http://fetch.invalid/x.png"></body></html>\n' \
    >"$T_ROOT/control.html"
browse "file://$T_ROOT/control.html" --dump-dom >/dev/null
if page_requests | grep -q fetch.invalid; then pass; else
	fail "the recorder did not see the control page's fetch: $(cat "$T_ROOT/rec.log")"
fi

browse "file://$T_ROOT/report.html" --dump-dom >"$T_ROOT/dom.html"
req=$(page_requests)
expect_eq "$req" "" "requests made by the report page"
for n in leaked-token short-lived markup-test; do
	if grep -q "<tr class=\"secret\" id=\"secret-$n\"" "$T_ROOT/dom.html"
	then pass; else fail "the rendered DOM lacks the row of $n"; fi
done
n=$(grep -o '<tr class="secret"' "$T_ROOT/dom.html" | wc -l)
expect_eq "$n" 3 "rows in the rendered DOM"
grep -q '&lt;img src=' "$T_ROOT/dom.html" && pass ||
    fail "markup in a field was not shown as text"
grep -q '<img' "$T_ROOT/dom.html" && fail "a field became an element" || pass

mkdir -p "$BUILD/test-artifacts"
browse "file://$T_ROOT/report.html" --window-size=1400,1100 \
    --screenshot="$BUILD/test-artifacts/report.png" >/dev/null
[ -s "$BUILD/test-artifacts/report.png" ] && pass ||
    fail "no screenshot at $BUILD/test-artifacts/report.png"
echo "t_report: screenshot in $BUILD/test-artifacts/report.png"
kill "$RECPID" 2>/dev/null
wait "$RECPID" 2>/dev/null

done_testing
