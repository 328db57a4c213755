#!/bin/bash
# The README's five-minute tour, run as written: every command of its code
# blocks, in order, in a fresh $AIRLOCK_HOME.  Two lines stand for the
# reader's own setup and are replaced: `make build && export PATH=...`
# (PATH gets the directory of the binary under test) and `cd ~/src/...`
# (a scratch git repository stands for "your project").  Also: `make demo`
# runs the binary that `make build` builds, and `airlock scan .` in the
# source tree is quiet (its own examples are allowlisted).
. "$(dirname "$0")/lib.sh"

README="$AIRLOCK_SRC/README.md"
PROJECT="$T_ROOT/your-project"
mkdir -p "$PROJECT"
git init -q "$PROJECT"
printf 'print("hello")\n' >"$PROJECT/main.py"
export XDG_CACHE_HOME="$T_ROOT/cache"
# agent setup must not touch the real user's configuration.
export HOME="$T_ROOT/user"
mkdir -p "$HOME"

# The tour's code blocks: from "## Five-minute tour" to the next heading
# or prose paragraph after them, continuation lines joined.
awk '/^## Five-minute tour/ { on = 1; next }
    on && /^## / { exit }
    on && /^```sh/ { code = 1; next }
    on && /^```/ { code = 0; next }
    on && code { print }' "$README" |
    sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta' >"$T_ROOT/tour.txt"
ncmd=$(grep -cv -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$T_ROOT/tour.txt")
if [ "$ncmd" -lt 8 ]; then
	fail "README tour: found only $ncmd commands"
fi

script="$T_ROOT/tour.sh"
{
	echo 'cd "$AIRLOCK_SRC"'
	while IFS= read -r line; do
		line=${line#"${line%%[![:space:]]*}"}
		cmd=${line%%  #*}	# the tour's comments follow two spaces
		case $cmd in
		'' | '#'*) continue ;;
		'make build'*)
			printf 'export PATH=%q:"$PATH"\n' "$(dirname "$AL")"
			continue ;;
		'cd '*)
			printf 'cd %q || exit 1\n' "$PROJECT"
			continue ;;
		esac
		printf '%s\n' "$cmd"
		printf 'rc=$?; [ $rc -eq 0 ] || { echo "tour step failed (exit $rc): %s" >&2; exit 1; }\n' \
		    "${cmd//%/%%}"
	done <"$T_ROOT/tour.txt"
} >"$script"

VALUE=$(canary)
printf '%s\n' "$VALUE" >"$T_ROOT/value"
AIRLOCK_SRC="$AIRLOCK_SRC" run_in "$T_ROOT/value" bash "$script"
expect_rc 0 "the README tour"
expect_out "uploading with token [REDACTED:deploy-token]"
expect_err "created the vault"
if [ -f "$PROJECT/.mcp.json" ]; then pass; else
	fail "agent setup wrote no .mcp.json in the project"
fi
if [ -x "$PROJECT/.git/hooks/pre-commit" ]; then pass; else
	fail "hook install wrote no pre-commit hook in the project"
fi
check_no_leak "$VALUE" "$PROJECT"

# `make demo` runs the binary that `make build` produces.
bin=$(make -s -n -C "$AIRLOCK_SRC" demo \
    BUILD="$(realpath --relative-to="$AIRLOCK_SRC" "$AIRLOCK_BUILD")" \
    2>/dev/null | sed -n 's/^AIRLOCK_BIN=\([^ ]*\) .*/\1/p')
if [ -n "$bin" ] && [ "$bin" -ef "$AL" ]; then pass; else
	fail "make demo runs '$bin', not the built binary $AL"
fi

# The source tree's own rule examples and fixtures are allowlisted.
(cd "$AIRLOCK_SRC" && "$AL" scan --quiet . >"$OUT" 2>"$ERR")
RC=$?
expect_rc 0 "airlock scan . in the source tree"
done_testing
