#!/usr/bin/env python3
"""Write a git fast-import stream of N commits built from a corpus tree.

    scan_history.py CORPUS_DIR N | git fast-import --quiet

Commit i changes one file of the corpus (the content plus a line naming the
commit), so every commit adds one new blob and the history has N distinct
blobs of realistic source.  Dates advance one minute per commit.
"""
import os
import sys


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    files = []
    for d, _, names in os.walk(root):
        for name in sorted(names):
            if name != "labels.json":
                files.append(os.path.join(d, name))
    files.sort()
    out = sys.stdout.buffer
    t0 = 1700000000
    for i in range(n):
        path = files[i % len(files)]
        rel = os.path.relpath(path, root)
        data = open(path, "rb").read() + b"# revision %d\n" % i
        msg = b"change %d" % i
        out.write(b"commit refs/heads/main\n")
        out.write(b"author Bench <bench@example.com> %d +0000\n" % (t0 + 60 * i))
        out.write(b"committer Bench <bench@example.com> %d +0000\n" % (t0 + 60 * i))
        out.write(b"data %d\n%s\n" % (len(msg), msg))
        out.write(b"M 100644 inline %s\ndata %d\n" % (rel.encode(), len(data)))
        out.write(data)
        out.write(b"\n")
    out.write(b"done\n")


if __name__ == "__main__":
    main()
