#!/bin/bash
# Libraries loaded at run time (docs/dependencies.md): a command maps
# libmicrohttpd and ICU only when it uses them, and every command that uses
# one still works.  No command maps libcurl: the broker client speaks HTTP
# on the Unix socket itself.  The dynamic loader's own log (LD_DEBUG=files)
# says which files each process mapped.
#
# A build configured with -DAIRLOCK_DL_MISSING="microhttpd;icui18n"
# asks for files that do not exist instead; there this test checks the
# errors: each command names the library and what needs it, exits with its
# usual failure status and leaves nothing behind.
. "$(dirname "$0")/lib.sh"

# traced NAME CMD...: like run, with the loader's log of every process in
# $T_ROOT/ld-NAME.<pid>.
traced() {
	_n=$1
	shift
	LD_DEBUG=files LD_DEBUG_OUTPUT="$T_ROOT/ld-$_n" "$@" >"$OUT" 2>"$ERR"
	RC=$?
	cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
}
# mapped NAME: the library files the processes of traced NAME mapped.
mapped() {
	cat "$T_ROOT"/ld-"$1".* 2>/dev/null | grep -o 'file=lib[^ ]*' |
	    sed 's/^file=//' | sort -u
}
# expect_maps NAME PREFIX: a file starting with PREFIX was mapped.
expect_maps() {
	if mapped "$1" | grep -q "^$2"; then pass; else
		fail "$1 did not map $2*; mapped: $(mapped "$1" | tr '\n' ' ')"
	fi
}
# expect_no_maps NAME PREFIX...: no file starting with any PREFIX was.
expect_no_maps() {
	_n=$1
	shift
	[ -n "$(mapped "$_n")" ] || { fail "$_n: no loader log"; return; }
	for _p in "$@"; do
		if mapped "$_n" | grep -q "^$_p"; then
			fail "$_n mapped $(mapped "$_n" | grep "^$_p" | tr '\n' ' ')"
		else
			pass
		fi
	done
}
LAZY="libcurl libmicrohttpd libicu"

MISSING=$(sed -n 's/^AIRLOCK_DL_MISSING:STRING=//p' \
    "${AIRLOCK_BUILD:-/nonexistent}/CMakeCache.txt" 2>/dev/null)
NOFILE="airlock-missing: cannot open shared object file: No such file or directory"

# --- commands that need none of them map none of them ---------------------
traced version "$AL" --version
expect_rc 0 "--version"
expect_no_maps version $LAZY
echo 'nothing to see here' >"$T_ROOT/clean.txt"
traced scan "$AL" scan --stdin <"$T_ROOT/clean.txt"
expect_rc 0 "scan --stdin"
expect_no_maps scan $LAZY
traced help "$AL" help scan
expect_rc 0 "help scan"
expect_no_maps help $LAZY

# A policy without a time window needs no ICU; one with a window does.
cat >"$T_ROOT/plain.yaml" <<'EOF'
version: 1
rules:
  - id: all
    effect: allow
    secrets: ["*"]
EOF
cat >"$T_ROOT/window.yaml" <<'EOF'
version: 1
rules:
  - id: office-hours
    effect: allow
    secrets: ["*"]
    when:
      days: [mon-fri]
      hours: "09:00-18:00"
      timezone: Europe/Paris
EOF
traced lint-plain "$AL" policy lint "$T_ROOT/plain.yaml"
expect_rc 0 "lint without a window"
expect_no_maps lint-plain $LAZY

init_vault
V=$(canary)
add_secret deploy-token "$V"

case ";$MISSING;" in
*";microhttpd;"*|*";icui18n;"*)
	# --- a build whose lazy libraries are missing -----------------------
	case ";$MISSING;" in *";icui18n;"*)
		run "$AL" policy lint "$T_ROOT/window.yaml"
		expect_rc 2 "lint with a window, no ICU"
		expect_err "a policy with time windows ('when') needs ICU (libicui18n.so."
		expect_err "$NOFILE"
		;;
	esac
	case ";$MISSING;" in *";microhttpd;"*)
		run "$AL" serve --foreground
		expect_rc 2 "serve without libmicrohttpd"
		expect_err "airlock serve needs libmicrohttpd (libmicrohttpd.so."
		expect_err "$NOFILE"
		expect_eq "$([ -e "$AIRLOCK_SOCKET" ] && echo yes || echo no)" \
		    no "socket left behind"
		run "$AL" serve
		expect_rc 2 "background serve without libmicrohttpd"
		expect_err "airlock serve needs libmicrohttpd (libmicrohttpd.so."
		;;
	esac
	check_no_leak "$V"
	done_testing
	;;
esac

traced lint-window "$AL" policy lint "$T_ROOT/window.yaml"
expect_rc 0 "lint with a window"
expect_maps lint-window libicui18n
expect_no_maps lint-window libcurl libmicrohttpd
# Deciding through the window works (a Wednesday and a Sunday, 10:00 Paris).
run "$AL" policy check --file "$T_ROOT/window.yaml" --as unix:uid:1 \
    --secret x --at 2024-06-12T08:00:00Z
expect_rc 0 "inside the window"
expect_out "allow"
run "$AL" policy check --file "$T_ROOT/window.yaml" --as unix:uid:1 \
    --secret x --at 2024-06-16T08:00:00Z
expect_rc 1 "outside the window"

# --- the broker maps libmicrohttpd; the default policy needs no ICU -------
# (The detached broker closes every inherited descriptor, the loader's log
# included: read what it maps from /proc instead.)
run "$AL" serve
expect_rc 0 "serve"
BPID=$(cat "$AIRLOCK_HOME/airlockd.pid" 2>/dev/null)
grep -o 'lib[^/ ]*\.so[.0-9]*$' "/proc/$BPID/maps" 2>/dev/null | sort -u |
    sed 's/^/file=/' >"$T_ROOT/ld-serve.maps"
expect_maps serve libmicrohttpd
expect_no_maps serve libcurl libicu

# --- run and lease map none of them, and work -----------------------------
traced run "$AL" run -e TOKEN=deploy-token -- sh -c \
    'test "$TOKEN" = "$1" && echo same' sh "$V"
expect_rc 0 "run"
expect_out same
expect_no_maps run $LAZY
traced lease "$AL" lease ls
expect_rc 0 "lease ls"
expect_no_maps lease $LAZY
check_no_leak "$V" "$T_ROOT"/ld-*

done_testing
