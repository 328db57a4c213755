#!/bin/bash
# airlock policy check|lint|show, the default policy written by init, and
# the examples in docs/policy.md (run here, byte for byte).
. "$(dirname "$0")/lib.sh"
: "${AIRLOCK_SRC:?AIRLOCK_SRC must point at the source tree}"
DATA="$AIRLOCK_SRC/tests/data/policy"
ME="unix:uid:$(id -u)"

# ---- before init: the built-in default applies ---------------------------
run "$AL" policy show
expect_rc 0 "show without a file"
expect_out "# No policy file at $AIRLOCK_HOME/policy.yaml: this built-in default applies."
expect_out "callers: [\"$ME\"]"
run "$AL" policy check --as "$ME" --secret api-token
expect_rc 0 "check against the built-in default"
expect_out "policy    built-in default (no policy.yaml)"
run "$AL" policy lint
expect_rc 2 "lint without a file"
expect_err "no policy at $AIRLOCK_HOME/policy.yaml (the built-in default applies: see \`airlock policy show\`)"

# ---- init writes the default, mode 0600; a failed init writes nothing ----
run "$AL" init --passphrase-fd 97
expect_rc 2 "init with a closed descriptor"
[ -e "$AIRLOCK_HOME/policy.yaml" ] && fail "a failed init wrote policy.yaml" || pass
run "$AL" init
expect_rc 0 "init"
expect_eq "$(stat -c %a "$AIRLOCK_HOME/policy.yaml")" 600 "policy.yaml mode"
run "$AL" policy show --default
expect_eq "$(cat "$AIRLOCK_HOME/policy.yaml")" "$(cat "$OUT")" "written default"
run "$AL" policy show
expect_eq "$(cat "$OUT")" "$(cat "$AIRLOCK_HOME/policy.yaml")" "show prints the file"
run "$AL" policy lint
expect_rc 0 "lint of the default"
expect_eq "$(cat "$OUT")" "$AIRLOCK_HOME/policy.yaml: ok" "lint ok line"

# ---- check: allow, approval (labels from the vault), default deny --------
run "$AL" policy check --as "$ME" --secret api-token
expect_rc 0 "owner may lease"
expect_out "decision  allow"
expect_out "rule      owner-any-secret ($AIRLOCK_HOME/policy.yaml:24)"
expect_out "max_ttl   15m"
expect_out "max_uses  unlimited"

value=$(canary)
add_secret pay-key "$value" --label approval=required --label env=prod
run "$AL" policy check --as "$ME" --secret pay-key
expect_rc 1 "labelled secret needs approval"
expect_out "decision  approval"
expect_out "rule      owner-approval-required ($AIRLOCK_HOME/policy.yaml:16)"
expect_out "approvers $ME"
expect_out "labels*   approval=required"
expect_out "(* labels read from the vault)"
run "$AL" policy check --as "$ME" --secret pay-key --label env=prod
expect_rc 0 "--label replaces the vault's labels"
run "$AL" policy check --as unix:uid:4242 --as unix:exe:/usr/bin/node --secret pay-key --json
expect_rc 1 "another uid is denied"
expect_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["decision"], d["rule"], d["line"], d["max_ttl"], d["reason"])' "$OUT")" \
    "deny None None None no rule matched (default deny)" "json deny"
check_no_leak "$value"

# ---- an unsafe policy file is refused, and reported by lint --------------
chmod 0664 "$AIRLOCK_HOME/policy.yaml"
run "$AL" policy check --as "$ME" --secret api-token
expect_rc 2 "group-writable policy"
expect_err "airlock: error: $AIRLOCK_HOME/policy.yaml is writable by group or others (mode 0664): run \`chmod go-w $AIRLOCK_HOME/policy.yaml\`"
run "$AL" policy lint
expect_rc 1 "lint flags the mode"
expect_out "is writable by group or others (mode 0664)"
chmod 0600 "$AIRLOCK_HOME/policy.yaml"

# ---- init keeps a policy that already exists -----------------------------
home2="$T_ROOT/home2"
mkdir -m 700 "$home2"
printf 'rules: []\n' >"$home2/policy.yaml"
chmod 600 "$home2/policy.yaml"
AIRLOCK_HOME="$home2" run "$AL" init
expect_rc 0 "init with an existing policy"
expect_eq "$(cat "$home2/policy.yaml")" "rules: []" "existing policy kept"

# ---- lint: every error with its line, text and JSON ----------------------
run "$AL" policy lint "$DATA/bad-top.yaml"
expect_rc 1 "lint finds errors"
expect_eq "$(cat "$OUT")" "$DATA/bad-top.yaml:1: unsupported version '2' (this airlock reads version 1)
$DATA/bad-top.yaml:1: missing 'rules' (a list; \`rules: []\` denies everything)
$DATA/bad-top.yaml:2: unknown key 'rule' (expected version or rules)" "lint text"
run "$AL" policy lint "$DATA/bad-rules.yaml" --json
expect_rc 1 "lint --json"
expect_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], len(d["errors"]), d["errors"][0]["line"], d["errors"][0]["message"])' "$OUT")" \
    "False 22 5 unknown key 'max_tll'" "lint json"
run "$AL" policy lint "$T_ROOT/missing.yaml"
expect_rc 2 "lint of a missing file"
expect_err "cannot open $T_ROOT/missing.yaml"
run "$AL" policy check --file "$DATA/bad-rules.yaml" --as "$ME" --secret x
expect_rc 2 "check refuses a bad policy"
expect_err "bad-rules.yaml:5: unknown key 'max_tll' (and more errors: run \`airlock policy lint\`)"

# ---- usage errors name the problem and exit 2 ----------------------------
usage() {	# usage EXPECTED-STDERR ARGS...
	_want=$1
	shift
	run "$AL" policy "$@"
	expect_rc 2 "policy $*"
	expect_err "$_want"
}
# Without --as: the caller itself ("would I get it?").
run "$AL" policy check --secret x
expect_err "deciding for you, as the broker sees this shell"
expect_out "decision"
usage "'policy check' needs --secret NAME" check --as "$ME"
usage "--as: expected a selector kind:key:value such as unix:uid:1000, got 'uid=0'" check --as uid=0 --secret x
usage "--label: expected KEY=VALUE, got 'env'" check --as "$ME" --secret x --label env
usage "--at: expected a date such as 2027-01-31" check --as "$ME" --secret x --at yesterday
usage "'policy lint' does not take --as" lint --as "$ME"
usage "unknown option '--frobnicate'" check --frobnicate
usage "option '--secret' needs a value" check --as "$ME" --secret
usage "unknown subcommand 'enforce' (check, lint, show or reload)" enforce
usage "missing subcommand (check, lint or show)"
usage "unexpected argument 'extra'" show extra
run "$AL" policy check --help
expect_rc 0 "check --help"
expect_out "usage: airlock policy check"
run "$AL" help policy
expect_rc 0 "help policy"
expect_out "Exit status: check: 0 allowed, 1 denied or approval needed, 2 error;"

# ---- docs/policy.md: examples are the test files, sessions are real ------
DOC="$AIRLOCK_SRC/docs/policy.md"
python3 - "$DOC" "$T_ROOT/doc" <<'EOF' || fail "cannot extract docs/policy.md examples"
import os, re, sys
text = open(sys.argv[1]).read()
out = sys.argv[2]
os.makedirs(out)
n = 0
for m in re.finditer(r'<!-- example: (\S+) -->\n```yaml\n(.*?)```\n', text, re.S):
    n += 1
    with open(os.path.join(out, 'example-%d' % n), 'w') as f:
        f.write(m.group(1) + '\n' + m.group(2))
s = 0
for m in re.finditer(r'```console\n\$ (.*?)\n(.*?)```\n', text, re.S):
    s += 1
    with open(os.path.join(out, 'session-%d.cmd' % s), 'w') as f:
        f.write(m.group(1) + '\n')
    with open(os.path.join(out, 'session-%d.out' % s), 'w') as f:
        f.write(m.group(2))
EOF
nex=0
for ex in "$T_ROOT"/doc/example-*; do
	nex=$((nex + 1))
	file=$(head -1 "$ex")
	expect_eq "$(tail -n +2 "$ex")" "$(cat "$AIRLOCK_SRC/$file")" "docs example $file"
	run "$AL" policy lint "$AIRLOCK_SRC/$file"
	expect_rc 0 "docs example $file lints clean"
done
expect_eq "$nex" 3 "examples in docs/policy.md"
nsess=0
for cmd in "$T_ROOT"/doc/session-*.cmd; do
	nsess=$((nsess + 1))
	got=$(cd "$AIRLOCK_SRC" && airlock() { "$AL" "$@"; } && eval "$(cat "$cmd")" 2>&1)
	expect_eq "$got" "$(cat "${cmd%.cmd}.out")" "docs session: $(cat "$cmd")"
done
expect_eq "$nsess" 5 "sessions in docs/policy.md"

done_testing
