#!/bin/bash
# The scanner on real trees that hold no live secret, all there on a fresh
# Debian machine after scripts/deps.sh: Debian's Python packages, Python's
# standard library, /usr/share (documentation, man pages, Perl, locale and
# data files) and /usr/include must give at most 5 findings per 100 MB
# together, and no location may be reported twice.
. "$(dirname "$0")/lib.sh"

MAX_PER_100MB=5
total_f=0
total_b=0
stdlib=/usr/lib/python3	# Debian's Python standard library: /usr/lib/python3.N
for d in /usr/lib/python3.[0-9]*; do [ -f "$d/os.py" ] && stdlib=$d; done
for t in /usr/lib/python3/dist-packages "$stdlib" /usr/share /usr/include; do
	if [ ! -d "$t" ]; then
		echo "# $t: not here"
		continue
	fi
	run "$AL" scan --no-config --no-ignore --format json "$t"
	case $RC in 0|1) pass ;; *) fail "scan $t: exit $RC: $(cat "$ERR")" ;; esac
	got=$(python3 - "$OUT" "$t" <<'PY'
import collections, json, sys
d = json.load(open(sys.argv[1]))
f = d["findings"]
dup = [k for k, n in collections.Counter((x["path"], x["line"], x["column"]) for x in f).items() if n > 1]
print(len(f), d["summary"]["bytes"], len(dup))
for x in f:
    print("# %s:%d %s" % (x["path"], x["line"], x["rule"]), file=sys.stderr)
PY
)
	read -r nf nb ndup <<<"$got"
	echo "# $t: $nf findings in $nb bytes"
	expect_eq "$ndup" 0 "$t: no location reported twice"
	total_f=$((total_f + nf))
	total_b=$((total_b + nb))
done
if [ "$total_b" -lt 5000000 ]; then
	fail "less than 5 MB of real files to scan ($total_b bytes)"
else
	per=$(python3 -c "print('%.2f' % ($total_f * 1e8 / $total_b))")
	echo "# $total_f findings in $total_b bytes: $per per 100 MB"
	python3 -c "import sys; sys.exit(0 if $total_f * 1e8 / $total_b <= $MAX_PER_100MB else 1)" &&
	    pass || fail "$per findings per 100 MB (at most $MAX_PER_100MB)"
fi
done_testing
