#!/bin/bash
# airlock scan end to end: paths, .gitignore, allow markers, .airlock.yaml,
# staged changes, git ranges and history, baselines, stdin, formats, errors.
. "$(dirname "$0")/lib.sh"

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Ada Tester" GIT_AUTHOR_EMAIL=ada@example.com
export GIT_COMMITTER_NAME="Ada Tester" GIT_COMMITTER_EMAIL=ada@example.com

rnd() {	# rnd N: N random alphanumerics
	head -c 4096 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c "$1"
}
GHP="ghp_$(rnd 36)"
GLPAT="glpat-$(rnd 20)"
STRIPE="sk_live_$(rnd 32)"
W="$T_ROOT/w"
mkdir -p "$W"
cd "$W" || exit 1

# ---- a clean tree ------------------------------------------------------
printf 'print("hello")\n' >clean.py
run "$AL" scan --no-config clean.py
expect_rc 0 "clean file"
expect_empty "$OUT" "clean stdout"

# ---- a secret in a file: location, preview, no value -------------------
printf 'import os\n\nTOKEN = "%s"\n' "$GHP" >app.py
run "$AL" scan --no-config app.py
expect_rc 1 "token found"
expect_out "app.py:3:10: github-pat ghp_...${GHP: -2}"
expect_err "1 finding in 1 file"
check_no_leak "$GHP"

run "$AL" scan --no-config --json app.py
expect_rc 1 "json"
got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); f=d["findings"][0]; print(f["rule"], f["line"], f["column"], f["severity"], f["category"], d["summary"]["files"], "fingerprint" in f)' "$OUT")
expect_eq "$got" "github-pat 3 10 error secret 1 False" "json finding"

# ---- the rule list and docs/rules.md stay in step ----------------------
run "$AL" scan --list-rules --no-config
expect_rc 0 "list rules"
n=$(wc -l <"$OUT")
[ "$n" -ge 150 ] && pass || fail "only $n rules listed"
run "$AL" scan --list-rules --format markdown --no-config
expect_rc 0 "list rules markdown"
# The page is the generated list followed by hand-written sections.
if head -n "$(wc -l <"$OUT")" "$AIRLOCK_SRC/docs/rules.md" | diff -q "$OUT" - >/dev/null; then pass; else
	fail "docs/rules.md is stale: regenerate with airlock scan --list-rules --format markdown --no-config"
fi

# ---- airlock:allow on the line -----------------------------------------
printf 'KEY = "%s"  # airlock:allow test fixture\n' "$STRIPE" >allowed.py
run "$AL" scan --no-config allowed.py
expect_rc 0 "airlock:allow"

# ---- directories inside a git work tree honour .gitignore --------------
git init -q repo
mkdir -p repo/src repo/build
printf 'build/\n*.log\n' >repo/.gitignore
printf 'const t = "%s";\n' "$GHP" >repo/src/main.js
printf 'token=%s\n' "$GLPAT" >repo/build/out.txt
printf 'token=%s\n' "$GLPAT" >repo/debug.log
printf '\x00\x01binary %s\n' "$GHP" >repo/src/blob.bin
run "$AL" scan --no-config repo
expect_rc 1 "repo scan"
expect_out "repo/src/main.js:1:12: github-pat"
if grep -q "gitlab-pat" "$OUT"; then fail "ignored files were scanned"; else pass; fi
if grep -q "blob.bin" "$OUT"; then fail "binary file scanned"; else pass; fi
run "$AL" scan --no-config --no-ignore repo
expect_rc 1 "no-ignore"
expect_out "repo/build/out.txt:1:7: gitlab-pat"
expect_out "repo/debug.log:1:7: gitlab-pat"

# ---- .airlock.yaml ------------------------------------------------------
cd repo || exit 1
cat >.airlock.yaml <<'EOF'
# test configuration
disable: [unsafe-echo-secret-shell]
allow:
  paths: ['fixtures/*']
rules:
  - id: acme-token
    description: ACME internal token
    regex: '\b(acme_[a-z0-9]{24})\b'
    entropy: 3
    examples:
      positive: ['key = acme_k2j4h5g6f7d8s9a0q1w2e3r4']
      negative: ['key = acme_short']
EOF
mkdir -p fixtures
printf 'T=%s\n' "$GHP" >fixtures/sample.env
printf 'echo "$DEPLOY_TOKEN"\nid=acme_z9y8x7w6v5u4t3s2r1q0p9o8\n' >run.sh
run "$AL" scan run.sh fixtures
expect_rc 1 "config scan"
expect_out "run.sh:2:4: acme-token acme...o8"
if grep -q "unsafe-echo-secret-shell" "$OUT"; then fail "disabled rule ran"; else pass; fi
if grep -q fixtures "$OUT"; then fail "allowlisted path reported"; else pass; fi
run "$AL" scan --no-config run.sh
expect_out "run.sh:1:1: unsafe-echo-secret-shell"

cp .airlock.yaml good.yaml
printf 'disable: [no-such-rule]\n' >.airlock.yaml
run "$AL" scan run.sh
expect_rc 2 "unknown disabled rule"
expect_err "disable: no rule named 'no-such-rule'"
printf 'rules:\n  - id: x\n    regex: "a"\n    bogus: 1\n' >.airlock.yaml
run "$AL" scan run.sh
expect_rc 2 "unknown rule key"
expect_err ".airlock.yaml:4: rule 'x': unknown key 'bogus'"
printf 'allow:\n  paths: [a\n' >.airlock.yaml
run "$AL" scan run.sh
expect_rc 2 "invalid yaml"
expect_err ".airlock.yaml:3:"
printf 'rules:\n  - id: broken\n    regex: "(unclosed"\n    examples: {positive: [x]}\n' >.airlock.yaml
run "$AL" scan run.sh
expect_rc 2 "bad user regex"
expect_err "rule 'broken': invalid regex"
printf 'rules:\n  - id: weak\n    regex: "wk_[0-9]{4}"\n    examples:\n      positive: ["wk_12"]\n' >.airlock.yaml
run "$AL" scan run.sh
expect_rc 2 "user rule failing its example"
expect_err "rule 'weak' (line 2): positive example 1 does not match"
mv good.yaml .airlock.yaml

# ---- staged changes: only what a commit would add ----------------------
git add .gitignore .airlock.yaml src/main.js
git commit -qm "initial" --no-verify
printf 'line one\nline two\npassword = "%s"\n' "Zq8-$(rnd 14)" >staged.py
git add staged.py
mkdir -p "sp dir"
printf 'token=%s\n' "$GLPAT" >"sp dir/k e y.env"
git add "sp dir"
printf 'AWS="%s"\n' "AKIA$(rnd 16 | tr 'a-z' 'A-Z' | tr '01890' 'ABCDE')" >unstaged.py
run "$AL" scan --staged
expect_rc 1 "staged"
expect_out "staged.py:3:13: generic-password"
expect_out "sp dir/k e y.env:1:7: gitlab-pat"
if grep -q unstaged.py "$OUT"; then fail "unstaged file scanned"; else pass; fi
git commit -qm "add staged.py" --no-verify
run "$AL" scan --staged
expect_rc 0 "nothing staged"

# Removing a secret is not adding one.
sed -i '3d' staged.py
git add staged.py
run "$AL" scan --staged
expect_rc 0 "deletion staged"
git commit -qm "remove the password" --no-verify

# ---- git ranges and the whole history ----------------------------------
printf 'stripe = "%s"\n' "$STRIPE" >pay.rb
git add pay.rb
git commit -qm "payments" --no-verify
run "$AL" scan --git HEAD~1..HEAD
expect_rc 1 "range"
expect_out "pay.rb:1:11: stripe-live-secret-key sk_l...${STRIPE: -2}"
expect_out "Ada Tester <ada@example.com>"
git rm -q pay.rb
git commit -qm "drop payments" --no-verify
run "$AL" scan --git HEAD~1..HEAD
expect_rc 0 "range without additions"
run "$AL" scan --git --json
expect_rc 1 "history"
got=$(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
print(sorted(set((f["rule"], f["path"]) for f in d["findings"])))
f=[f for f in d["findings"] if f["path"]=="pay.rb"][0]
print(len(f["commit"]), f["author"], f["date"][:2])' "$OUT")
# The example in .airlock.yaml is a real match of its own rule.
expect_eq "$got" "[('acme-token', '.airlock.yaml'), ('generic-password', 'staged.py'), ('github-pat', 'src/main.js'), ('gitlab-pat', 'sp dir/k e y.env'), ('stripe-live-secret-key', 'pay.rb')]
40 Ada Tester <ada@example.com> 20" "history findings"
run "$AL" scan --git -x
expect_rc 2 "range that looks like an option"
run "$AL" scan --git no-such-branch..HEAD
expect_rc 2 "bad range"
expect_err "git log failed"

# ---- baselines ---------------------------------------------------------
run "$AL" scan --write-baseline base.json src
expect_rc 0 "write baseline"
expect_err "wrote 1 finding to base.json"
run "$AL" scan --baseline base.json src
expect_rc 0 "baseline accepts"
check_no_leak "$GHP" base.json
printf 'const u = "%s";\n' "$GLPAT" >>src/main.js
run "$AL" scan --baseline base.json src
expect_rc 1 "new finding past the baseline"
expect_out "src/main.js:2:12: gitlab-pat"
if grep -q github-pat "$OUT"; then fail "accepted finding reported"; else pass; fi
run "$AL" scan --baseline missing.json src
expect_rc 2 "missing baseline"
expect_err "no baseline at missing.json"

# ---- stdin, sizes, errors ----------------------------------------------
printf 'agent said: %s\n' "$GLPAT" >"$T_ROOT/stdin.txt"
run_in "$T_ROOT/stdin.txt" "$AL" scan --no-config --stdin --stdin-name agent-output
expect_rc 1 "stdin"
expect_out "agent-output:1:13: gitlab-pat"
run "$AL" scan --no-config --max-size 10 ../app.py
expect_rc 0 "over max size is skipped"
expect_err "1 skipped"
run "$AL" scan --no-config /nonexistent/file
expect_rc 2 "nothing readable"
expect_err "cannot read /nonexistent/file"
run "$AL" scan --staged --stdin
expect_rc 2 "two sources"
expect_err "give one source"
run "$AL" scan --format xml
expect_rc 2 "bad format"
expect_err "bad --format 'xml'"

# ---- files read whole whatever their size ------------------------------
# The secret ends each file: sizes at and around page multiples (where a
# read stopping short is not taken for the end) and past the read buffer
# (mapped).
mkdir -p "$T_ROOT/sizes"
for size in 4095 4096 4097 8192 12288 262144 262145 300000; do
	python3 - "$T_ROOT/sizes/f$size.txt" "$size" "$GLPAT" <<'PY'
import sys
path, size, tok = sys.argv[1], int(sys.argv[2]), sys.argv[3]
last = ("t = %s\n" % tok).encode()
fill = size - len(last)
body = (b"# filler line\n" * (fill // 14 + 1))[:fill - 1] + b"\n"
open(path, "wb").write(body + last)
PY
done
run "$AL" scan --no-config --no-ignore "$T_ROOT/sizes"
expect_rc 1 "files of every size"
got=$(grep -c "gitlab-pat glpa" "$OUT")
expect_eq "$got" 8 "a finding at the end of every file"

# Outside any repository no git process is started (it could only say so),
# and a finding is still reported.
if command -v strace >/dev/null; then
	mkdir -p "$T_ROOT/nogit"
	printf 'token = "%s"\n' "$GHP" >"$T_ROOT/nogit/a.py"
	cd "$T_ROOT/nogit" || exit 1
	# LeakSanitizer cannot run under ptrace: the sanitizer build skips it.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    run strace -f -qq -e trace=execve -o "$T_ROOT/execs" "$AL" scan .
	expect_rc 1 "finding outside a repository"
	grep -q 'execve("[^"]*/git"' "$T_ROOT/execs" &&
	    fail "git was run outside a repository: $(grep git "$T_ROOT/execs" | head -3)" ||
	    pass
	# Inside one, git still decides what is ignored.
	git -C "$T_ROOT/nogit" init -q
	printf 'a.py\n' >"$T_ROOT/nogit/.gitignore"
	run "$AL" scan .
	expect_rc 0 "ignored file skipped inside a repository"
fi
# ---- unsafe-code rules: code, not documentation ----------------------
mkdir -p "$T_ROOT/docs" && cd "$T_ROOT/docs" || exit 1
code='const agent = new https.Agent({ rejectUnauthorized: false });
fetch(u, { agent, headers: { Authorization: `Bearer ${token}` } });'
printf '# Client\n\n```js\n%s\n```\n' "$code" >README.md
printf '%s\n' "$code" >client.js
run "$AL" scan --no-config .
expect_rc 1 "the code is reported"
expect_eq "$(cut -d' ' -f1-2 "$OUT")" "client.js:1:33: unsafe-tls-reject-unauthorized-js" "the README showing it is not"

cd "$T_ROOT" || exit 1
run "$AL" scan --staged
expect_rc 2 "staged outside a repository"
check_no_leak "$GHP"
check_no_leak "$STRIPE"
done_testing
