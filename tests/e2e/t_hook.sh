#!/bin/bash
# airlock hook install|uninstall|status: the git pre-commit hook blocks a
# commit that adds a secret, keeps an existing hook, honours core.hooksPath.
. "$(dirname "$0")/lib.sh"

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com
export GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
TOK="ghp_$(head -c 4096 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)"
R="$T_ROOT/repo"
git init -q "$R"
cd "$R" || exit 1

run "$AL" hook status
expect_rc 1 "status before install"
expect_out "pre-commit: not installed"

# An existing hook is kept and still runs (first).
printf '#!/bin/sh\necho previous-hook-ran >>"%s/prev.log"\n' "$T_ROOT" >.git/hooks/pre-commit
chmod +x .git/hooks/pre-commit
run "$AL" hook install
expect_rc 0 "install"
expect_err "installed the pre-commit hook in $R/.git/hooks/pre-commit; the previous hook runs first as pre-commit.pre-airlock"
[ -x .git/hooks/pre-commit.pre-airlock ] && pass || fail "previous hook not kept"
run "$AL" hook status
expect_rc 0 "status after install"

printf 'x = 1\n' >ok.py
git add ok.py
run git commit -qm clean
expect_rc 0 "clean commit passes the hook"
expect_eq "$(cat "$T_ROOT/prev.log")" "previous-hook-ran" "previous hook ran"

printf 'token = "%s"\n' "$TOK" >leak.py
git add leak.py
run git commit -qm leak
expect_rc 1 "commit with a secret is blocked"
expect_err "leak.py:1:10: github-pat"	# git shows hook output on stderr
expect_err "airlock: commit blocked"
expect_err "git commit --no-verify"
if git log --format=%s | grep -q leak; then fail "the commit happened"; else pass; fi
run git commit -qm leak --no-verify
expect_rc 0 "--no-verify bypasses"

# Installing twice refreshes, never wraps itself.
run "$AL" hook install
expect_rc 0 "reinstall"
expect_err "installed the pre-commit hook"
grep -q "previous-hook-ran" .git/hooks/pre-commit.pre-airlock && pass || fail "saved hook lost on reinstall"

run "$AL" hook uninstall
expect_rc 0 "uninstall"
grep -q previous-hook-ran .git/hooks/pre-commit && pass || fail "previous hook not restored"
[ -e .git/hooks/pre-commit.pre-airlock ] && fail "saved copy left behind" || pass

# core.hooksPath is honoured, even from a subdirectory.
git config core.hooksPath .githooks
mkdir -p sub
cd sub || exit 1
run "$AL" hook install
expect_rc 0 "install with core.hooksPath"
[ -x "$R/.githooks/pre-commit" ] && pass || fail "hook not in core.hooksPath"
cd "$R" || exit 1
printf 'key = "%s"\n' "$TOK" >leak2.py
git add leak2.py
run git commit -qm leak2
expect_rc 1 "hooksPath hook blocks"

# Errors.
run "$AL" hook
expect_rc 2 "no subcommand"
expect_err "missing subcommand"
run "$AL" hook frobnicate
expect_rc 2 "unknown subcommand"
expect_err "unknown subcommand 'frobnicate'"
cd "$T_ROOT" || exit 1
run "$AL" hook install
expect_rc 2 "outside a repository"
expect_err "not inside a git repository"
check_no_leak "$TOK"
done_testing
