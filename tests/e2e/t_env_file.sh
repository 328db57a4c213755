#!/bin/bash
# Env files and env-style names: `secret import .env` takes a .env into the
# vault (values from the file only), `run --env-file` leases its
# VAR=airlock:NAME lines and passes the others, names may be GITHUB_TOKEN or
# work/aws/key and policy globs follow; the MCP run tool's env_file too.
. "$(dirname "$0")/lib.sh"

init_vault
export XDG_CACHE_HOME="$T_ROOT/cache"
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
W="$T_ROOT/proj"
mkdir -p "$W"
cd "$W" || exit 1
GH=$(canary)
DB=$(canary)
PLAIN=$(canary)

# --- names: upper case and a hierarchy -----------------------------------
add_secret GITHUB_TOKEN "$GH"
run "$AL" secret show GITHUB_TOKEN --json
expect_rc 0 "an upper-case name"
expect_out '"name": "GITHUB_TOKEN"'
for bad in 'a//b' '/a' 'a/' 'a/../b' 'a b'; do
	run_in /dev/null "$AL" secret add "$bad" --owner o --purpose p
	expect_rc 2 "invalid name '$bad'"
	expect_err "invalid secret name"
done

# --- secret import --------------------------------------------------------
cat >.env <<ENV
# the project's settings
export DB_PASSWORD="$DB"
API_URL=https://api.example.com  # not a secret, imported all the same
GITHUB_TOKEN=airlock:GITHUB_TOKEN
ENV
run "$AL" secret import .env --owner platform --purpose "the web app" \
    --prefix work/
expect_rc 0 "secret import"
expect_err "imported 2 secrets from .env"
run "$AL" secret ls --json
expect_out '"name": "work/DB_PASSWORD"'
expect_out '"name": "work/API_URL"'
if grep -qF '"name": "work/GITHUB_TOKEN"' "$OUT"; then
	fail "an airlock: reference was imported as a secret"
else pass; fi
# Without --owner and no terminal: refused, nothing stored.
run "$AL" secret import .env --purpose p --prefix other/
expect_rc 2 "import without --owner, no terminal"
expect_err "needs --owner"
run "$AL" secret ls --json
if grep -qF 'other/' "$OUT"; then fail "a refused import stored secrets"
else pass; fi
# An invalid resulting name stores nothing.
printf 'GOOD=value12345\n9BAD=x\n' >bad.env
run "$AL" secret import bad.env --owner o --purpose p
expect_rc 2 "a line that is not VAR=VALUE"
expect_err "bad.env:2:"

# --- run --env-file -------------------------------------------------------
cat >.env.airlock <<ENV
# shared with the team: names, never values
DB_PASSWORD=airlock:work/DB_PASSWORD
TOKEN='airlock://GITHUB_TOKEN'
PLAIN="$PLAIN"
GREETING=hello world  # a comment
ENV
run "$AL" run --env-file .env.airlock -- sh -c \
    'echo "db=$DB_PASSWORD tok=$TOKEN greeting=$GREETING"; echo "$PLAIN" >plain.out'
expect_rc 0 "run --env-file"
expect_out "db=[REDACTED:work/DB_PASSWORD] tok=[REDACTED:GITHUB_TOKEN] greeting=hello world"
expect_eq "$(cat plain.out)" "$PLAIN" "a plain line is passed as it is"
rm -f plain.out
# -e and --env-file together; an unknown secret in the file is 125.
printf 'X=airlock:no-such\n' >missing.env
run "$AL" run --env-file missing.env -- true
expect_rc 125 "an unknown secret in the env file"
# Named by a fingerprint only: a value typed as a name is never repeated.
expect_err "no secret by that name (name fingerprint"
# A malformed line: its number, never its content.
printf 'OK=1\nthis line holds %s\n' "$PLAIN" >broken.env
run "$AL" run --env-file broken.env -- true
expect_rc 125 "a malformed env file"
expect_err "broken.env:2: expected VAR=VALUE"
if grep -qF -- "$PLAIN" "$ERR"; then fail "the malformed line was quoted"
else pass; fi
run "$AL" run --env-file nonexistent.env -- true
expect_rc 125 "a missing env file"

# --- policy globs follow the hierarchy ------------------------------------
cat >"$T_ROOT/policy.yaml" <<YAML
version: 1
rules:
  - id: no-work
    effect: deny
    secrets: ["work/*"]
  - id: mine
    effect: allow
    callers: ["unix:uid:$(id -u)"]
    secrets: ["GITHUB_*", "work/*"]
YAML
chmod 600 "$T_ROOT/policy.yaml"
run "$AL" policy lint "$T_ROOT/policy.yaml"
expect_rc 0 "a policy with GITHUB_* and work/*"
run "$AL" policy check --file "$T_ROOT/policy.yaml" \
    --as "unix:uid:$(id -u)" --secret work/DB_PASSWORD
expect_rc 1 "work/* denies work/DB_PASSWORD"
expect_out "no-work"
run "$AL" policy check --file "$T_ROOT/policy.yaml" \
    --as "unix:uid:$(id -u)" --secret GITHUB_TOKEN
expect_rc 0 "GITHUB_* allows GITHUB_TOKEN"

# --- the MCP run tool's env_file ------------------------------------------
"$PY" - "$AL" "$W" >"$OUT" 2>"$ERR" <<'PY'
import json, subprocess, sys
al, cwd = sys.argv[1], sys.argv[2]
p = subprocess.Popen([al, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     text=True)
def send(m):
    p.stdin.write(json.dumps(m) + "\n"); p.stdin.flush()
def reply(i):
    while True:
        m = json.loads(p.stdout.readline())
        if m.get("id") == i:
            return m
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "t", "version": "1"}}})
reply(1)
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
    "name": "run", "arguments": {"command": "echo db=$DB_PASSWORD g=$GREETING",
    "env_file": ".env.airlock", "cwd": cwd}}})
print(json.dumps(reply(2)))
send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
    "name": "run", "arguments": {"command": "true",
    "env_file": "broken.env", "cwd": cwd}}})
print(json.dumps(reply(3)))
p.stdin.close(); p.wait()
PY
RC=$?
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_rc 0 "the MCP exchange"
expect_out 'db=[REDACTED:work/DB_PASSWORD] g=hello world'
expect_out 'broken.env:2: expected VAR=VALUE'

check_no_leak "$GH"
check_no_leak "$DB"
check_no_leak "$PLAIN" "$W/.env.airlock.none"
done_testing
