#!/bin/bash
# Passphrase-locked vaults: Argon2id, wrong passphrase, key changes.
. "$(dirname "$0")/lib.sh"

P1="pass-$(canary)"
P2="pass-$(canary)"
C=$(canary)

run "$AL" init --passphrase-fd 3 3<<<"$P1"
expect_rc 0 "init --passphrase-fd"
[ -e "$AIRLOCK_HOME/master.key" ] && fail "a passphrase vault wrote master.key"

printf '%s\n' "$C" >"$T_ROOT/in"
run_in "$T_ROOT/in" "$AL" secret add api --owner o --purpose p --passphrase-fd 3 3<<<"$P1"
expect_rc 0 "add with the passphrase"

run_in "$T_ROOT/in" "$AL" secret add api2 --owner o --purpose p --passphrase-fd 3 3<<<"wrong-$P1"
expect_rc 2 "wrong passphrase"
expect_err "wrong passphrase for the vault in $AIRLOCK_HOME"
run "$AL" secret show api2
expect_rc 2 "nothing stored with a wrong passphrase"

# Without a terminal and without --passphrase-fd there is no way to ask.
run_in "$T_ROOT/in" setsid "$AL" secret add api3 --owner o --purpose p
expect_rc 2 "no passphrase source"
expect_err "no terminal to ask on"
expect_err "give it with --passphrase-fd N (stdin may carry the value)"

run "$AL" secret add api4 --owner o --purpose p --passphrase-fd 99
expect_rc 2 "closed descriptor"
expect_err "--passphrase-fd: descriptor 99 is not open"

# Metadata needs no passphrase.
run "$AL" secret ls
expect_rc 0 "ls on a passphrase vault"
expect_out api

run "$AL" doctor --passphrase-fd 3 3<<<"$P1"
expect_rc 0 "doctor checks records with the passphrase"
expect_out "the secret record opens"

# Change the passphrase, then switch to a key file and back.
run "$AL" key change --passphrase-fd 3 --new-passphrase-fd 4 3<<<"$P1" 4<<<"$P2"
expect_rc 0 "key change to a new passphrase"
run "$AL" doctor --passphrase-fd 3 3<<<"$P1"
expect_rc 1 "the old passphrase no longer works"
expect_out "wrong passphrase"
run "$AL" doctor --passphrase-fd 3 3<<<"$P2"
expect_rc 0 "the new passphrase works"
expect_out "the secret record opens"

run "$AL" key change --key-file --passphrase-fd 3 3<<<"$P2"
expect_rc 0 "switch to a key file"
expect_eq "$(stat -c %a "$AIRLOCK_HOME/master.key")" 600 "new master.key mode"
run "$AL" doctor
expect_rc 0 "key file opens the records"
expect_out "the secret record opens"

run "$AL" key change --passphrase --new-passphrase-fd 4 4<<<"$P1"
expect_rc 0 "switch back to a passphrase"
[ -e "$AIRLOCK_HOME/master.key" ] && fail "master.key left after switching to a passphrase"
run "$AL" doctor --passphrase-fd 3 3<<<"$P1"
expect_rc 0 "passphrase opens the records again"

run "$AL" key change --passphrase --key-file
expect_rc 2 "exclusive options"

for v in "$C" "$P1" "$P2"; do
	check_no_leak "$v"
done
done_testing
