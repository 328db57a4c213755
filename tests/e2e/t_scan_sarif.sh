#!/bin/bash
# airlock scan --format sarif validates against the SARIF 2.1.0 schema, for
# file findings, unsafe-code warnings, history findings and fingerprints.
. "$(dirname "$0")/lib.sh"

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Ada Tester" GIT_AUTHOR_EMAIL=ada@example.com
export GIT_COMMITTER_NAME="Ada Tester" GIT_COMMITTER_EMAIL=ada@example.com
SCHEMA="$AIRLOCK_SRC/tests/data/scan/sarif-schema-2.1.0.json"

# A Python that has jsonschema (scripts/deps.sh installs python3-jsonschema).
PY=""
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import jsonschema' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { fail "no python3 with jsonschema (run scripts/deps.sh)"; done_testing; }

validate() {	# validate FILE WHAT
	if "$PY" - "$SCHEMA" "$1" <<'PYEOF' >"$T_ROOT/v.out" 2>&1; then pass; else fail "$2: $(head -c 800 "$T_ROOT/v.out")"; fi
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
jsonschema.Draft4Validator.check_schema(schema)
errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=str)
for e in errors[:5]:
    print(list(e.absolute_path), e.message)
sys.exit(1 if errors else 0)
PYEOF
}

rnd() { head -c 4096 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c "$1"; }
TOK="ghp_$(rnd 36)"
W="$T_ROOT/w"
mkdir -p "$W/dir with space" "$W/.github/workflows"
cd "$W" || exit 1
git init -q .
printf 'token = "%s"\n' "$TOK" >"dir with space/conf.py"
printf 'jobs:\n  x:\n    steps:\n      - run: echo "${{ secrets.DEPLOY_TOKEN }}"\n' >.github/workflows/ci.yml
git add -A && git commit -qm one

run "$AL" scan --no-config --format sarif .
expect_rc 1 "sarif paths"
cp "$OUT" "$T_ROOT/paths.sarif"
validate "$T_ROOT/paths.sarif" "SARIF of a path scan"
got=$("$PY" -c '
import json,sys
d=json.load(open(sys.argv[1])); r=d["runs"][0]
rules=r["tool"]["driver"]["rules"]
print(d["version"], len(rules) >= 150, sorted((x["ruleId"], x["level"], x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], x["locations"][0]["physicalLocation"]["region"]["startLine"]) for x in r["results"]))
print(all(rules[x["ruleIndex"]]["id"] == x["ruleId"] for x in r["results"]))' "$T_ROOT/paths.sarif")
expect_eq "$got" "2.1.0 True [('github-pat', 'error', 'dir%20with%20space/conf.py', 1), ('unsafe-echo-secret-actions', 'warning', '.github/workflows/ci.yml', 4)]
True" "SARIF results"

# With a baseline key, results carry partialFingerprints.
run "$AL" scan --no-config --write-baseline "$T_ROOT/b.json" .github
expect_rc 0 "baseline for fingerprints"
run "$AL" scan --no-config --format sarif --baseline "$T_ROOT/b.json" .
expect_rc 1 "sarif with fingerprints"
cp "$OUT" "$T_ROOT/fp.sarif"
validate "$T_ROOT/fp.sarif" "SARIF with fingerprints"
got=$("$PY" -c '
import json,sys
r=json.load(open(sys.argv[1]))["runs"][0]["results"]
print([(x["ruleId"], x["partialFingerprints"]["airlock/v1"].startswith("github-pat:dir with space/conf.py:")) for x in r])' "$T_ROOT/fp.sarif")
expect_eq "$got" "[('github-pat', True)]" "fingerprinted results"
printf '# more\n' >>"dir with space/conf.py"
run "$AL" scan --no-config --format sarif --git
expect_rc 1 "sarif history"
cp "$OUT" "$T_ROOT/hist.sarif"
validate "$T_ROOT/hist.sarif" "SARIF of a history scan"
if grep -q '"commit"' "$T_ROOT/hist.sarif"; then pass; else fail "history SARIF lacks commits"; fi

# Clean scans are valid SARIF too (an empty results array).
printf 'x = 1\n' >"$T_ROOT/clean.py"
run "$AL" scan --no-config --format sarif "$T_ROOT/clean.py"
expect_rc 0 "sarif clean"
cp "$OUT" "$T_ROOT/clean.sarif"
validate "$T_ROOT/clean.sarif" "SARIF of a clean scan"
check_no_leak "$TOK"
done_testing
