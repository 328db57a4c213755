#!/usr/bin/env python3
"""Score airlock scan on a corpus made by gen.py.

    evaluate.py AIRLOCK DIR [--min-recall R] [--min-precision P] [--verbose]
                [--all-rules] [--fix-re REGEX] [--by-rule]

A finding counts as a true positive when a planted secret starts on its
line (same path); anything else it reports is a false positive.  Prints
recall, precision and the misses per rule; exits 1 below a threshold.
With --all-rules the unsafe-handling rules run too; with --fix-re a label
marked "fix" counts as found only when a finding on its line has a
description matching REGEX (it names how to keep the value out of the
file).  --by-rule prints found/total per label rule.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("airlock")
    ap.add_argument("dir")
    ap.add_argument("--min-recall", type=float, default=0)
    ap.add_argument("--min-precision", type=float, default=0)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--all-rules", action="store_true")
    ap.add_argument("--fix-re")
    ap.add_argument("--by-rule", action="store_true")
    a = ap.parse_args()
    labels = json.load(open(os.path.join(a.dir, "labels.json")))
    argv = [os.path.abspath(a.airlock), "scan", "--no-config", "--no-ignore",
            "--format", "json", "."]
    if not a.all_rules:
        argv.insert(4, "--secrets-only")
    p = subprocess.run(argv,
                       cwd=a.dir, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        print("airlock scan failed (%d): %s" % (p.returncode, p.stderr), file=sys.stderr)
        return 2
    found = json.loads(p.stdout)["findings"]
    truth = {(l["path"], l["line"]): l["rule"] for l in labels}
    got = collections.defaultdict(list)
    desc = collections.defaultdict(list)
    for f in found:
        got[(f["path"], f["line"])].append(f["rule"])
        desc[(f["path"], f["line"])].append(f["description"])
    if a.fix_re:
        fix = re.compile(a.fix_re)
        for l in labels:
            k = (l["path"], l["line"])
            if l.get("fix") and k in got and not any(fix.search(d) for d in desc[k]):
                print("  no fix named at %s:%d %s" % (k[0], k[1], got[k]))
                del got[k]
                got[k + ("nofix",)] = []
    tp = sum(1 for k in truth if k in got)
    fp_keys = [k for k in got if k not in truth and len(k) == 2]
    recall = tp / len(truth) if truth else 1.0
    precision = tp / (tp + len(fp_keys)) if tp + len(fp_keys) else 1.0
    misses = collections.Counter(truth[k] for k in truth if k not in got)
    fps = collections.Counter(r for k in fp_keys for r in got[k])
    print("secrets %d, found %d, false positives %d" % (len(truth), tp, len(fp_keys)))
    print("recall %.4f precision %.4f" % (recall, precision))
    if a.by_rule:
        total = collections.Counter(truth.values())
        hit = collections.Counter(truth[k] for k in truth if k in got)
        for rule in sorted(total):
            print("  %-40s %d/%d" % (rule, hit[rule], total[rule]))
    for rule, n in misses.most_common():
        print("  missed %-40s %d" % (rule, n))
    for rule, n in fps.most_common():
        print("  false  %-40s %d" % (rule, n))
    if a.verbose:
        for k in sorted(fp_keys)[:40]:
            print("  FP %s:%d %s" % (k[0], k[1], got[k]))
        for k in sorted(truth):
            if k not in got:
                print("  FN %s:%d %s" % (k[0], k[1], truth[k]))
    ok = recall >= a.min_recall and precision >= a.min_precision
    if not ok:
        print("below the thresholds (recall >= %.2f, precision >= %.2f)" % (a.min_recall, a.min_precision))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
