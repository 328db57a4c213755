#!/bin/bash
# The pre-commit hook (`airlock scan --staged`) searches the staged changes
# for the values stored in the vault, in any encoding the redactor knows,
# not only for the scanner's rules: a vault value base64-encoded in a staged
# file blocks the commit, is reported by its secret's name only, and marks
# the secret exposed; with a broker running, the live lease a waiting
# `airlock run` holds is revoked at once.  A file with no value commits; a
# vault that cannot be opened still gets its rules run, and says known
# values were not checked.
T_OWN_SESSION=1
. "$(dirname "$0")/lib.sh"

PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	t_cleanup
}
trap cleanup EXIT

export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com
export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME="$T_ROOT/userhome"
mkdir -p "$HOME"

init_vault
V=$(canary)
add_secret deploy-token "$V"
O=$(canary)
add_secret other-token "$O"
ME=$(id -u)
cat >"$AIRLOCK_HOME/policy.yaml" <<EOF2
version: 1
rules:
  - id: owner
    effect: allow
    callers: ["unix:uid:$ME"]
    secrets: ["*"]
EOF2
chmod 600 "$AIRLOCK_HOME/policy.yaml"



REPO="$T_ROOT/repo"
git init -q "$REPO"
cd "$REPO" || exit 1
git commit -q --allow-empty -m init
run "$AL" hook install
expect_rc 0 "hook install"

# A run holds a live lease of deploy-token (a command that waits), one of
# other-token too; the broker they started is running.
"$AL" run -e T=deploy-token -- sleep 41 >"$T_ROOT/run1.out" 2>&1 &
PIDS="$PIDS $!"
"$AL" run -e T=other-token -- sleep 41 >"$T_ROOT/run2.out" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do
	[ -n "$(live_of deploy-token)" ] && [ -n "$(live_of other-token)" ] &&
	    break
	sleep 0.1
done
LEASE=$(live_of deploy-token)
[ -n "$LEASE" ] && pass || fail "no live lease of deploy-token"
[ -n "$(live_of other-token)" ] && pass || fail "no live lease of other-token"

# ---- a file with no value commits -----------------------------------------
printf 'hello\n' >readme.txt
git add readme.txt
run git commit -qm clean
expect_rc 0 "a commit with no value"

# ---- a vault value, base64-encoded: no rule knows it, the vault does ------
B64=$(printf %s "$V" | base64 -w0)
printf 'ok\nblob = %s\n' "$B64" >conf.txt
git add conf.txt
run "$AL" scan --staged --no-known-values
expect_rc 0 "the rules alone do not see it"
run git commit -qm leak
expect_rc 1 "the commit is refused"
# git shows what the hook prints on its stderr.
expect_err "conf.txt:2:8: deploy-token (known value)" "named by its secret"
expect_err "commit blocked"
expect_err "airlock: scan: secret 'deploy-token' is now exposed (found in pre-commit: conf.txt)"
expect_err "airlock: scan: 1 lease of 'deploy-token' revoked"
git rev-parse -q --verify HEAD~1 >/dev/null && pass || fail "no commit before"
expect_eq "$(git log --format=%s -1)" "clean" "the leak was not committed"

# The secret is exposed, with where; its lease is revoked; the other lives.
run "$AL" secret ls
expect_out "exposed"
run "$AL" secret show deploy-token --json
expect_out '"status": "exposed"'
expect_out '"exposed-where": "pre-commit: conf.txt"'
api_get "/v1/leases/$LEASE" >"$OUT"
expect_out '"state":"revoked"' "the run's lease is revoked"
expect_eq "$(live_of deploy-token)" "" "lease ls lists no live lease of it"
[ -n "$(live_of other-token)" ] && pass || fail "other-token's lease was ended"
run "$AL" run -e T=deploy-token -- true
expect_rc 125 "a new lease is refused"
expect_err "secret 'deploy-token' is exposed since 20"

# The audit log has the exposure with its source and where.
run "$AL" audit --json
got=$(python3 -c 'import json,sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
x = [e for e in ev if e.get("event") == "secret_exposed" and e.get("secret") == "deploy-token"]
print(len(x), x[0]["detail"]["source"], x[0]["detail"]["where"])' "$OUT")
expect_eq "$got" "1 pre-commit pre-commit: conf.txt" "audited exposure"

# airlock:allow does not accept a known value.
printf 'blob = %s # airlock:allow\n' "$B64" >conf.txt
git add conf.txt
run "$AL" scan --staged
expect_rc 1 "airlock:allow on the line"
expect_out "conf.txt:1:8: deploy-token (known value)"
expect_err "neither airlock:allow nor a baseline accepts a known value"

# JSON and SARIF carry it by name.
run "$AL" scan --staged --json
expect_rc 1 "json"
got=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
k = d["known_values"]
print(len(k), k[0]["secret"], k[0]["path"], k[0]["line"])' "$OUT")
expect_eq "$got" "1 deploy-token conf.txt 1" "json known_values"
run "$AL" scan --staged --format sarif
expect_rc 1 "sarif"
got=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
r = d["runs"][0]
ids = [x["id"] for x in r["tool"]["driver"]["rules"]]
res = [x for x in r["results"] if x["ruleId"] == "airlock/known-value"]
print(len(res), "airlock/known-value" in ids, "deploy-token" in res[0]["message"]["text"],
      res[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])' "$OUT")
expect_eq "$got" "1 True True conf.txt" "sarif result"
git reset -q conf.txt
rm -f conf.txt

# ---- hex, with no broker running: marked by the CLI ----------------------
for p in $PIDS; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
"$AL" stop >>"$ALL_OUTPUT" 2>&1
HEX=$(printf %s "$O" | od -An -tx1 | tr -d ' \n')
printf 'x = "%s"\n' "$HEX" >other.txt
git add other.txt
run git commit -qm hex
expect_rc 1 "a hex value is refused"
expect_err "other.txt:1:6: other-token (known value)"
run "$AL" secret show other-token --json
expect_out '"exposed-where": "pre-commit: other.txt"'
git reset -q other.txt
rm -f other.txt

# ---- a vault that cannot be opened: rules still run, said so ---------------
GHP="ghp_$(head -c 4096 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)"
printf 'token = "%s"\n' "$GHP" >gh.txt
git add gh.txt
PW=$(canary)
run env AIRLOCK_HOME="$T_ROOT/pw" "$AL" init --passphrase-fd 3 3<<<"$PW"
expect_rc 0 "init a passphrase vault"
run env AIRLOCK_HOME="$T_ROOT/pw" AIRLOCK_SOCKET="$T_ROOT/pw/airlockd.sock" \
    git commit -qm gh
expect_rc 1 "a rule hit is refused"
expect_err "known values were not checked"
expect_err "gh.txt:1:10: github-pat ghp_"
git reset -q gh.txt
rm -f gh.txt

for f in "$T_ROOT"/*.out; do cat "$f" >>"$ALL_OUTPUT"; done
check_no_leak "$V" "$REPO/.git/hooks"
check_no_leak "$O"
check_no_leak "$GHP" "$T_ROOT/pw"
check_no_leak "$PW"
done_testing
