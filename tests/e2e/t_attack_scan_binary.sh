#!/bin/bash
# Files git takes for binary -- a NUL byte, or a "binary" or "-diff"
# attribute the commit itself adds in .gitattributes -- are committed all
# the same: `scan --staged` (the pre-commit hook) finds a vault value in
# them, the rules still find a token in a text file such an attribute
# covers (`scan --git RANGE` too), and `sweep --git` finds the values in
# the history.  A real binary file is still skipped and counted by the
# rules, and a clean one blocks nothing.
. "$(dirname "$0")/lib.sh"
init_vault
V=$(canary)
add_secret bin-token "$V"
GHP=ghp_$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 36)
[ ${#GHP} -eq 40 ] || { fail "could not make a token shape"; done_testing; }
R="$T_ROOT/repo"
git init -q "$R"
cd "$R" || exit 1
git config user.email t@example.com
git config user.name t
export V GHP

# staged WHAT SETUP: stage what SETUP writes, run `scan --staged`, reset.
staged() {
	_w=$1
	shift
	sh -c "$1"
	git add -A
	run "$AL" scan --staged
	git reset -q --hard
	git clean -qfdx
	_=$_w
}

staged "NUL" 'printf "x\0\nkey=%s\n" "$V" >data.bin'
expect_rc 1 "a value after a NUL byte"
expect_out "data.bin:2:5: bin-token (known value)"
staged "NUL, same line" 'printf "x\0key=%s\0\n" "$V" >data.bin'
expect_rc 1 "a value between NUL bytes"
expect_out "bin-token (known value)"
staged "-diff" 'echo "*.txt -diff" >.gitattributes; printf "key=%s\n" "$V" >conf.txt'
expect_rc 1 "a value in a file the commit marks -diff"
expect_out "conf.txt:1:5: bin-token (known value)"
staged "binary" 'echo "*.txt binary" >.gitattributes; printf "key=%s\n" "$V" >conf.txt'
expect_rc 1 "a value in a file the commit marks binary"
expect_out "conf.txt:1:5: bin-token (known value)"
staged "rule, -diff" 'echo "*.py -diff" >.gitattributes; printf "token = \"%s\"\n" "$GHP" >t.py'
expect_rc 1 "a token in a file the commit marks -diff"
expect_out "t.py:1:10: github-pat"
staged "clean binary" 'head -c 20000 /dev/urandom >noise.bin; printf "\0" >>noise.bin'
expect_rc 0 "a clean binary file"
expect_err "1 skipped"

# History: the same files, committed past the hook.
git commit -q --allow-empty -m base
echo "*.txt -diff" >.gitattributes
printf 'key=%s\n' "$V" >conf.txt
printf 'x\0key=%s\n' "$V" >data.bin
echo "*.py binary" >>.gitattributes
printf 'token = "%s"\n' "$GHP" >t.py
git add -A
git commit -q --no-verify -m secrets
run "$AL" scan --git HEAD~1..HEAD
expect_rc 1 "scan --git RANGE: a token in a file marked binary"
expect_out "t.py:1:10: github-pat"
run "$AL" sweep --git .
expect_out "git@$(git rev-parse --short=12 HEAD):conf.txt" "sweep --git: a value in a -diff file"
expect_out "git@$(git rev-parse --short=12 HEAD):data.bin" "sweep --git: a value in a binary file"

cd "$T_ROOT" || exit 1
rm -rf "$R"
check_no_leak "$V"
done_testing
