#!/bin/bash
# airlock scan --git over a history where one value sits in every version
# of a file: one finding per value and path, at the commit that brought it
# in, with the newest commit still holding it and a count; the JSON lists
# every occurrence.  The value itself is printed nowhere.
. "$(dirname "$0")/lib.sh"

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

rnd() {	# rnd N: N random alphanumerics
	head -c 4096 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c "$1"
}
K="ghp_$(rnd 36)"	# the documentation's example key
L="ghp_$(rnd 36)"	# a second value in the same file
R="$T_ROOT/repo"
git init -q -b main "$R"
cd "$R" || exit 1

# 60 commits, each a new version of docs/api.md.  K is in versions 1-40
# (twice in each), L in versions 30-60; commit 25 also copies K into
# examples/k.env, which stays.
python3 - "$K" "$L" <<'PY' | git fast-import --quiet
import sys
k, l = (s.encode() for s in sys.argv[1:3])
out = sys.stdout.buffer
for i in range(1, 61):
    t = 1700000000 + 3600 * i
    out.write(b"commit refs/heads/main\nauthor Doc <doc@example.com> %d +0000\n" % t)
    out.write(b"committer Doc <doc@example.com> %d +0000\n" % t)
    msg = b"docs %02d" % i
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    body = b"# API\n\nRevision %d.\n" % i
    if i <= 40:
        body += b"\n    token = \"" + k + b"\"\n\nAgain: `" + k + b"`\n"
    if i >= 30:
        body += b"\nOther: GH = " + l + b"\n"
    files = [(b"docs/api.md", body)]
    if i == 25:
        files.append((b"examples/k.env", b"TOKEN=" + k + b"\n"))
    for path, data in files:
        out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path, len(data), data))
    out.write(b"\n")
out.write(b"done\n")
PY
git checkout -q main
mapfile -t C < <(git log --reverse --format=%H main)
expect_eq "${#C[@]}" 60 "generated history"

run "$AL" scan --no-config --git
expect_rc 1 "history scan finds the values"
cat "$OUT" >>"$ALL_OUTPUT"
expect_eq "$(grep -c 'github-pat' "$OUT")" 3 "one finding per value and path"
expect_out "docs/api.md:5:14: github-pat ghp_...${K: -2} (commit ${C[0]:0:12}, Doc <doc@example.com>, " "K at its first commit"
expect_out "seen 80 times, last in commit ${C[39]:0:12})" "K: count and last commit"
expect_out "seen 31 times, last in commit ${C[59]:0:12})" "L: count and last commit"
expect_out "examples/k.env:1:7: github-pat ghp_...${K: -2} (commit ${C[24]:0:12}, Doc <doc@example.com>, " "K elsewhere is its own finding"

run "$AL" scan --no-config --git --format json
expect_rc 1 "json history scan"
cat "$OUT" >>"$ALL_OUTPUT"
got=$(python3 - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["findings"] if x["path"] == "docs/api.md" and x["line"] == 5][0]
occ = f["occurrences"]
print(f["count"], len(occ), f["commit"] == occ[0]["commit"],
      f["last_commit"] == occ[-1]["commit"], len({o["commit"] for o in occ}),
      sorted({o["line"] for o in occ}), d["summary"]["findings"])
PY
)
expect_eq "$got" "80 80 True True 40 [5, 7] 3" "json keeps every occurrence"
expect_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([x["commit"] for x in d["findings"] if x["path"]=="docs/api.md" and x["line"]==5][0], [x["last_commit"] for x in d["findings"] if x["path"]=="docs/api.md" and x["line"]==5][0])' "$OUT")" "${C[0]} ${C[39]}" "json first and last commits"

# A range scans the lines its commits add: K's copy and L, once each.
run "$AL" scan --no-config --git "${C[0]}..${C[39]}"
expect_rc 1 "range scan"
cat "$OUT" >>"$ALL_OUTPUT"
expect_eq "$(grep -c 'github-pat' "$OUT")" 2 "range: one finding per value and path"

# Outside git nothing is grouped: the working tree's file holds L once.
run "$AL" scan --no-config docs
expect_rc 1 "tree scan"
cat "$OUT" >>"$ALL_OUTPUT"
expect_eq "$(grep -c 'github-pat' "$OUT")" 1 "tree: the value in the last version"

check_no_leak "$K"
check_no_leak "$L"
done_testing
