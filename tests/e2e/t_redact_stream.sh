#!/bin/bash
# airlock redact on wrapped encodings (xxd -p, basenc, base64 and PEM line
# widths), and what it holds back: the same for a value's prefix as for any
# other bytes, so timing its output tells nothing about the value.
. "$(dirname "$0")/lib.sh"
init_vault
T=$(canary)$(canary)
add_secret deploy-token "$T"

# --- wrapped encodings ----------------------------------------------------
if command -v xxd >/dev/null; then
	printf '%s' "$T" | xxd -p >"$T_ROOT/xxd"
	[ "$(wc -l <"$T_ROOT/xxd")" -ge 2 ] || fail "xxd -p did not wrap"
	run_in "$T_ROOT/xxd" "$AL" redact --secret deploy-token
	expect_rc 0 "redact of xxd -p"
	expect_eq "$(cat "$OUT")" "[REDACTED:deploy-token]" "xxd -p, wrapped"
fi
printf '%s' "$T" | basenc --base16 >"$T_ROOT/b16"
run_in "$T_ROOT/b16" "$AL" redact --secret deploy-token
expect_eq "$(cat "$OUT")" "[REDACTED:deploy-token]" "basenc --base16, wrapped"
for w in 20 64 76; do
	{ echo "begin"; printf '%s' "$T$T" | base64 -w "$w"; echo "end"; } |
	    sed 's/$/\r/' >"$T_ROOT/b64"
	run_in "$T_ROOT/b64" "$AL" redact --secret deploy-token
	expect_eq "$(tr -d '\r' <"$OUT")" "begin
[REDACTED:deploy-token]
end" "base64 -w $w with CRLF"
done

# --- holding back ---------------------------------------------------------
# A probe that begins the value and one that does not, written after a
# byte no value contains, then that byte again: what comes out after each
# pause must be the same for both.
cat >"$T_ROOT/probe.py" <<'PY'
import os, select, subprocess, sys, time
v = os.environ["V"].encode()
p = subprocess.Popen([os.environ["AL"], "redact", "--no-rules", "--secret",
                      "deploy-token"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, bufsize=0)
fd = p.stdout.fileno()
def drain(want, limit=5.0):
    # Read until want bytes came (or the limit passed), then a little more
    # to see that nothing else follows: the 50 ms idle flush may come late
    # on a busy machine, but it must not release more than want.
    out = b""
    end = time.time() + limit
    while len(out) < want and time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if r:
            out += os.read(fd, 65536)
    while True:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            return out
        out += os.read(fd, 65536)
def probe(s):
    # The probe is the last word at the pause: only the first byte goes.
    p.stdin.write(b"\x01" + s); a = drain(1)
    p.stdin.write(b"\x01"); b = drain(len(s) + 1)
    return (len(a), len(b))
bad = 0
for n in (6, 12, 20, 40, 60):
    pre = v[:n]
    other = pre[:-1] + (b"Q" if pre[-1:] != b"Q" else b"R")
    a, b = probe(pre), probe(other)
    if a != b or a != (1, n + 1):
        print("prefix of %d held as %s, other as %s" % (n, a, b))
        bad += 1
p.stdin.close()
rest = p.stdout.read()
p.wait()
sys.exit(1 if bad else 0)
PY
V="$T" AL="$AL" python3 "$T_ROOT/probe.py" >"$OUT" 2>"$ERR"
RC=$?
expect_rc 0 "a prefix of the value is held like any other text: $(cat "$OUT")"

# At the end of input only a whole value is masked, never its start.
printf 'x %s' "${T:0:12}" >"$T_ROOT/cut"
run_in "$T_ROOT/cut" "$AL" redact --no-rules --secret deploy-token
expect_eq "$(cat "$OUT")" "x ${T:0:12}" "a cut value is not masked"
printf 'x %s' "$T" >"$T_ROOT/whole"
run_in "$T_ROOT/whole" "$AL" redact --no-rules --secret deploy-token
expect_eq "$(cat "$OUT")" "x [REDACTED:deploy-token]" "a whole value is"

check_no_leak "$T"
done_testing
