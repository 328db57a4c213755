#!/usr/bin/env python3
"""Score airlock scan on a corpus made by gen.py.

    evaluate.py AIRLOCK DIR [--min-recall R] [--min-precision P] [--verbose]

A finding counts as a true positive when a planted secret starts on its
line (same path); anything else it reports is a false positive.  Prints
recall, precision and the misses per rule; exits 1 below a threshold.
"""
import argparse
import collections
import json
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("airlock")
    ap.add_argument("dir")
    ap.add_argument("--min-recall", type=float, default=0)
    ap.add_argument("--min-precision", type=float, default=0)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    labels = json.load(open(os.path.join(a.dir, "labels.json")))
    p = subprocess.run([os.path.abspath(a.airlock), "scan", "--no-config", "--no-ignore",
                        "--secrets-only", "--format", "json", "."],
                       cwd=a.dir, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        print("airlock scan failed (%d): %s" % (p.returncode, p.stderr), file=sys.stderr)
        return 2
    found = json.loads(p.stdout)["findings"]
    truth = {(l["path"], l["line"]): l["rule"] for l in labels}
    got = collections.defaultdict(list)
    for f in found:
        got[(f["path"], f["line"])].append(f["rule"])
    tp = sum(1 for k in truth if k in got)
    fp_keys = [k for k in got if k not in truth]
    recall = tp / len(truth) if truth else 1.0
    precision = tp / (tp + len(fp_keys)) if tp + len(fp_keys) else 1.0
    misses = collections.Counter(truth[k] for k in truth if k not in got)
    fps = collections.Counter(r for k in fp_keys for r in got[k])
    print("secrets %d, found %d, false positives %d" % (len(truth), tp, len(fp_keys)))
    print("recall %.4f precision %.4f" % (recall, precision))
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
