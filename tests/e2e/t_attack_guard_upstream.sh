#!/bin/bash
# `airlock guard --upstream`: plain http:// is for a loopback host only, and
# a name that merely starts like one (127.0.0.1.nip.io, localhost.example,
# a user name "localhost@" before the host) is not one; an https:// URL
# with a user name before '@' is refused too (the host is what follows).
# Loopback addresses and https:// URLs still start a guard.
. "$(dirname "$0")/lib.sh"
init_vault
V=$(canary)
add_secret up-token "$V"

for u in http://127.0.0.1.nip.io http://127.0.0.1.nip.io:8080/v1 \
    http://localhost.example.com http://127.example.com 'http://[::1].example' \
    http://localhost@example.com http://127.1 http://127.0.0.1000; do
	run timeout 10 "$AL" guard --upstream "$u"
	expect_rc 2 "plain http to '$u'"
	expect_err "plain http:// only to a loopback host"
done
for u in https://api.anthropic.com@example.com https://user:pw@api.openai.com; do
	run timeout 10 "$AL" guard --upstream "$u"
	expect_rc 2 "a user name in '$u'"
	expect_err "has a user name ('@')"
done
for u in http://127.0.0.1:9 http://localhost:9 'http://[::1]:9/v1' https://api.anthropic.com; do
	"$AL" guard --upstream "$u" >"$T_ROOT/g.out" 2>"$T_ROOT/g.err" &
	GP=$!
	for _ in $(seq 200); do [ -s "$T_ROOT/g.out" ] && break; sleep 0.05; done
	case "$(head -1 "$T_ROOT/g.out")" in
	http://127.0.0.1:*) pass ;;
	*) fail "guard --upstream $u did not start: $(head -c 300 "$T_ROOT/g.err")" ;;
	esac
	kill "$GP" 2>/dev/null
	wait "$GP" 2>/dev/null
	cat "$T_ROOT/g.out" "$T_ROOT/g.err" >>"$ALL_OUTPUT"
done
check_no_leak "$V"
done_testing
