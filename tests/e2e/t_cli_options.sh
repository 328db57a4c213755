#!/bin/bash
# Options as users of git, ripgrep and gitleaks type them: after operands,
# "--" ending them, long options spelled in full only; `airlock run`'s own
# failures are all 125, and run without secrets is a redacting boundary.
. "$(dirname "$0")/lib.sh"

export XDG_CACHE_HOME="$T_ROOT/cache"
W="$T_ROOT/work"
mkdir -p "$W"
cd "$W" || exit 1
GH="ghp_$(head -c 300 /dev/urandom | tr -dc A-Za-z0-9 | head -c 36)"
printf 'TOKEN = "%s"\n' "$GH" >leak.py

# Options after the paths: the report is SARIF, not text.
for opts in "--format sarif" "--format=sarif"; do
	# shellcheck disable=SC2086
	run "$AL" scan . $opts
	expect_rc 1 "scan . $opts"
	if jq -e '.version == "2.1.0"' "$OUT" >/dev/null 2>&1; then pass; else
		fail "scan . $opts: not SARIF: $(head -c 200 "$OUT")"
	fi
	expect_empty "$ERR" "scan . $opts stderr"
done
run "$AL" scan leak.py --json
expect_rc 1 "scan PATH --json"
if jq -e '.findings | length == 1' "$OUT" >/dev/null 2>&1; then pass; else
	fail "scan PATH --json: not one JSON finding: $(head -c 200 "$OUT")"
fi
run "$AL" scan leak.py --quiet
expect_rc 1 "scan PATH --quiet"
expect_empty "$ERR" "scan PATH --quiet stderr"

# gitleaks' -q and --report-path habit: -q, -o FILE.
run "$AL" scan leak.py -q -o "$T_ROOT/report.sarif" --format sarif
expect_rc 1 "scan -q -o FILE"
expect_empty "$OUT" "stdout with -o"
expect_empty "$ERR" "stderr with -q"
if jq -e '.version == "2.1.0"' "$T_ROOT/report.sarif" >/dev/null 2>&1; then
	pass; else fail "-o FILE holds no SARIF"; fi
run "$AL" scan leak.py -o "$T_ROOT/no/such/dir/r.txt"
expect_rc 2 "-o into a missing directory"

# "--" ends the options: a file named like an option is a path.
printf 'K = "%s"\n' "$GH" >./--json
run "$AL" scan --quiet -- --json
expect_rc 1 "scan -- --json scans the file"
expect_out "github-pat"
rm -f ./--json

# Long options are matched in full, never abbreviated.
run "$AL" scan . --form sarif
expect_rc 2 "scan --form (an abbreviation)"
expect_err "unknown option '--form'"
run "$AL" scan --secrets . 
expect_rc 2 "scan --secrets (prefix of --secrets-only)"
expect_err "unknown option '--secrets'"
run "$AL" audit --js
expect_rc 2 "audit --js"
expect_err "unknown option '--js'"
run "$AL" run --tas T -- true
expect_rc 125 "run --tas"
expect_err "unknown option '--tas'"

# run: every failure of its own is 125 (the command's 2 stays 2).
run "$AL" run --bogus -- true
expect_rc 125 "run with an unknown option"
run "$AL" run
expect_rc 125 "run without a command"
run "$AL" run --ttl forever -- true
expect_rc 125 "run with a bad duration"
run "$AL" run -- sh -c 'exit 2'
expect_rc 2 "the command's own 2"
run "$AL" run --help
expect_rc 0 "run --help"

# run without secrets: rule hits masked, no vault or broker needed.
run "$AL" run -- sh -c "echo token $GH; exit 3"
expect_rc 3 "run without secrets keeps the command's status"
expect_out "token [REDACTED:github-pat]"
if grep -qF -- "$GH" "$OUT"; then fail "run without secrets: token shown"
else pass; fi
if [ -e "$AIRLOCK_HOME" ]; then
	fail "run without secrets created $AIRLOCK_HOME"
else pass; fi

# Options after the operand in commands with a broker.
init_vault
V=$(canary)
add_secret deploy-token "$V"
run "$AL" secret show deploy-token --json
expect_rc 0 "secret show NAME --json"
expect_out '"name": "deploy-token"'
run "$AL" audit verify --json
expect_rc 0 "audit verify --json"
check_no_leak "$V"
done_testing
