#!/bin/sh
# Check the allowed arrows between components (see docs/architecture.md):
# a component may include only its own private headers and the public headers
# of the components it is allowed to use.
set -eu
cd "$(dirname "$0")/.."

allowed() {
	case "$1" in
	base)     echo "base error" ;;
	vault)    echo "base error vault" ;;
	policy)   echo "base error policy" ;;
	identity) echo "base error identity" ;;
	lease)    echo "base error lease" ;;
	audit)    echo "base error audit" ;;
	redact)   echo "base error redact scan" ;;
	scan)     echo "base error scan" ;;
	client)   echo "base error client api" ;;
	broker)   echo "base error broker api vault policy identity lease audit redact proxy engine" ;;
	proxy)    echo "base error proxy redact" ;;
	exec)     echo "base error exec client redact" ;;
	mcp)      echo "base error mcp client exec scan redact vault" ;;
	guard)    echo "base error guard redact" ;;
	sweep)    echo "base error sweep redact" ;;
	report)   echo "base error report" ;;
	cli)      echo "*" ;;
	*)        echo "base error $1" ;;
	esac
}

status=0
for dir in src/*/; do
	comp=$(basename "$dir")
	ok=$(allowed "$comp")
	[ "$ok" = "*" ] && continue
	for f in "$dir"*.c "$dir"*.h; do
		[ -e "$f" ] || continue
		grep -o '#include "airlock/[a-z_]*\.h"' "$f" |
		    sed 's/.*airlock\/\([a-z_]*\)\.h"/\1/' | while read -r dep; do
			case " $ok " in
			*" $dep "*) ;;
			*) echo "layers: $f includes airlock/$dep.h; $comp may not use $dep" >&2
			   echo x ;;
			esac
		done
		grep -o '#include "[^"]*_int\.h"' "$f" | while read -r inc; do
			h=$(echo "$inc" | sed 's/#include "\(.*\)"/\1/')
			case "$h" in
			*/*) echo "layers: $f reaches into another component: $h" >&2; echo x ;;
			esac
		done
	done
done > /tmp/airlock-layers.$$
if [ -s /tmp/airlock-layers.$$ ]; then status=1; fi
rm -f /tmp/airlock-layers.$$
exit $status
