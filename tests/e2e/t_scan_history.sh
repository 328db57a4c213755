#!/bin/bash
# airlock scan --git (whole history): every blob once, attributed to the
# commit that introduced it (id, author, date), the same with any number
# of threads; blobs re-added later keep their first commit; size limits
# and allowlisted paths apply to history too.
. "$(dirname "$0")/lib.sh"

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

rnd() {	# rnd N: N random alphanumerics
	head -c 4096 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c "$1"
}
SA="ghp_$(rnd 36)"
SB="glpat-$(rnd 20)"
SC="ghp_$(rnd 36)"
SD="ghp_$(rnd 36)"
R="$T_ROOT/repo"
git init -q -b main "$R"
cd "$R" || exit 1

# 300 commits (more than a few batches of blobs per thread), one blob each.
# Secret A arrives in commit 20 (Alice), is deleted in 90 and re-added,
# byte for byte, in 120 (Carol): one blob, first seen in 20.  Secret B
# arrives in 130 (Bob).  C sits in an allowlisted path, D in a blob over
# the size limit.
python3 - "$SA" "$SB" "$SC" "$SD" <<'PY' | git fast-import --quiet
import sys
sa, sb, sc, sd = (s.encode() for s in sys.argv[1:5])
out = sys.stdout.buffer
who = {20: b"Alice <alice@example.com>", 120: b"Carol <carol@example.com>",
       130: b"Bob <bob@example.com>"}
for i in range(1, 301):
    t = 1700000000 + 3600 * i
    a = who.get(i, b"Bench <bench@example.com>")
    out.write(b"commit refs/heads/main\nauthor %s %d +0200\n" % (a, t))
    out.write(b"committer Bench <bench@example.com> %d +0000\n" % t)
    msg = b"change %03d" % i
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    body = b"x = %d\n" % i + b"filler line of ordinary code\n" * (i % 7)
    files = [(b"f%d.txt" % (i % 10), body)]
    if i in (20, 120):
        files.append((b"a.env", b"# setup\ntoken = \"" + sa + b"\"\n"))
    if i == 130:
        files.append((b"b.env", b"GITLAB = " + sb + b"\n"))
    if i == 140:
        files.append((b"fixtures/c.env", b"t = " + sc + b"\n"))
    if i == 150:
        files.append((b"big.txt", b"k = " + sd + b"\n" + b"y" * 5000 + b"\n"))
    for path, data in files:
        out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path, len(data), data))
    if i == 90:
        out.write(b"D a.env\n")
    out.write(b"\n")
out.write(b"done\n")
PY
git checkout -q main
printf 'allow:\n  paths: ["fixtures/*"]\n' >"$T_ROOT/cfg.yaml"

mapfile -t C < <(git log --reverse --format=%H main)
expect_eq "${#C[@]}" 300 "generated history"
want="a.env ${C[19]} Alice <alice@example.com> $(git log -1 --format=%aI "${C[19]}")
b.env ${C[129]} Bob <bob@example.com> $(git log -1 --format=%aI "${C[129]}")"

summary() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for f in d["findings"]:
    print(f["path"], f["commit"], f["author"], f["date"])
s = d["summary"]
print("files", s["files"], "skipped", s["skipped"], "commits", s["commits"])' "$1"
}

for th in 1 2 3; do
	run "$AL" scan --config "$T_ROOT/cfg.yaml" --max-size 4000 --git \
	    --threads "$th" --json
	expect_rc 1 "history, $th thread(s)"
	got=$(summary "$OUT")
	# 300 + a.env + b.env blobs scanned; c.env and big.txt skipped.
	expect_eq "$got" "$want
files 302 skipped 2 commits 300" "attribution, $th thread(s)"
done

# Without the limit and the allowlist, C and D are found where they came in.
run "$AL" scan --no-config --git --json
expect_rc 1 "history, no config"
got=$(summary "$OUT" | cut -d' ' -f1,2 | LC_ALL=C sort)
expect_eq "$got" "a.env ${C[19]}
b.env ${C[129]}
big.txt ${C[149]}
files 304
fixtures/c.env ${C[139]}" "every secret blob"

# A blob git cannot produce (a damaged store) is counted and named, not
# passed over in silence; the rest of the history is still scanned.
obj=$(git rev-parse "${C[129]}:b.env")
mkdir -p "$T_ROOT/packs"
mv .git/objects/pack/* "$T_ROOT/packs/"
for p in "$T_ROOT"/packs/*.pack; do git unpack-objects -q <"$p"; done
f=".git/objects/${obj:0:2}/${obj:2}"
chmod u+w "$f"
printf 'not a zlib stream' >"$f"
run "$AL" scan --no-config --git --json
expect_rc 1 "damaged object store"
expect_err "cannot read b.env (blob $obj) from git: skipped"
got=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["files"], s["errors"], s["findings"])' "$OUT")
expect_eq "$got" "303 1 3" "damaged object store: the rest scanned"

# Blobs bigger than the pipe's buffer (read into their own buffer) and
# small ones (scanned where they lie in it) side by side, over several
# commits: each secret is found, in its blob and commit.
SE="ghp_$(rnd 36)"
SF="glpat-$(rnd 20)"
R2="$T_ROOT/repo2"
git init -q -b main "$R2"
cd "$R2" || exit 1
python3 - "$SE" "$SF" <<'PY' | git fast-import --quiet
import sys
se, sf = (s.encode() for s in sys.argv[1:3])
out = sys.stdout.buffer
files = {1: [(b"big.txt", b"z = 1\n" * 300000 + b"k = " + se + b"\n")],
         2: [(b"small.txt", b"q = 2\n" * 10 + b"t = " + sf + b"\n")],
         3: [(b"big2.txt", b"w = 3\n" * 400000)]}
for i in (1, 2, 3):
    t = 1700000000 + 3600 * i
    out.write(b"commit refs/heads/main\nauthor A <a@example.com> %d +0000\n" % t)
    out.write(b"committer A <a@example.com> %d +0000\n" % t)
    out.write(b"data 1\n%d\n" % i)
    for path, data in files[i]:
        out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path, len(data), data))
    out.write(b"\n")
out.write(b"done\n")
PY
mapfile -t C2 < <(git log --reverse --format=%H main)
for th in 1 2; do
	run "$AL" scan --no-config --git --threads "$th" --json
	expect_rc 1 "big and small blobs, $th thread(s)"
	got=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for f in d["findings"]:
    print(f["path"], f["line"], f["commit"])
print(d["summary"]["files"], d["summary"]["bytes"])' "$OUT")
	expect_eq "$got" "big.txt 300001 ${C2[0]}
small.txt 11 ${C2[1]}
3 4200136" "big and small blobs, $th thread(s)"
done

check_no_leak "$SA"
check_no_leak "$SB"
check_no_leak "$SC"
check_no_leak "$SD"
check_no_leak "$SE"
check_no_leak "$SF"
done_testing
