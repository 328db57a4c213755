#!/bin/bash
# The command-line contract: help on every command, usage errors exit 2.
. "$(dirname "$0")/lib.sh"

run "$AL" --help
expect_rc 0 "airlock --help"
expect_out "usage: airlock"
expect_out "secret"

run "$AL"
expect_rc 2 "airlock with no command"

run "$AL" --version
expect_rc 0 "--version"
expect_out "airlock "

# Every command listed by `airlock --help` has help, the same both ways,
# and a page under docs/commands/.
cmds=$("$AL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF>1 && $1 != "Commands:" {print $1}')
[ "$(echo "$cmds" | wc -w)" -ge 4 ] || fail "could not list the commands: $cmds"
for cmd in $cmds; do
	[ -f "$AIRLOCK_SRC/docs/commands/$cmd.md" ] ||
	    fail "no docs/commands/$cmd.md"
	run "$AL" help "$cmd"
	expect_rc 0 "help $cmd"
	expect_out "usage: airlock $cmd"
	cp "$OUT" "$T_ROOT/help1"
	run "$AL" "$cmd" --help
	expect_rc 0 "$cmd --help"
	cmp -s "$OUT" "$T_ROOT/help1" || fail "'$cmd --help' differs from 'help $cmd'"
done

run "$AL" secret add --help
expect_rc 0 "secret add --help"
expect_out "usage: airlock secret add"

run "$AL" frobnicate
expect_rc 2 "unknown command"
expect_err "unknown command 'frobnicate'"

run "$AL" help frobnicate
expect_rc 2 "help for an unknown command"

run "$AL" init --bogus
expect_rc 2 "unknown option"
expect_err "unknown option '--bogus'"
expect_err "airlock help init"

run "$AL" secret ls --owner
expect_rc 2 "option without its value"
expect_err "option '--owner' needs a value"

run "$AL" secret frob
expect_rc 2 "unknown subcommand"
expect_err "unknown subcommand 'secret frob'"

run "$AL" secret show
expect_rc 2 "missing NAME"
expect_err "'secret show' needs a NAME"

run "$AL" secret ls --value-file /etc/hostname
expect_rc 2 "option not for this subcommand"
expect_err "'secret ls' does not take --value-file"

# Nothing was written anywhere by usage errors.
[ -e "$AIRLOCK_HOME" ] && fail "usage errors created $AIRLOCK_HOME"
done_testing
