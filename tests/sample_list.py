#!/usr/bin/env python3
"""A sample list for lirf deposit --deposit-samples, by a seeded rule.

    python3 tests/sample_list.py LABELS --class C --count N --seed S > list.txt

LABELS is an IDX labels file (gzip or plain), e.g. Fashion-MNIST's
train-labels-idx1-ubyte.gz; indices are positions in it, which is the order
lirf reads the training split. The rule: the indices i of class C, ranked by
SHA-256 of the text "S:i" (hex, ascending), the first N of them, written
ascending, one a line, under a comment saying how they were chosen. Only the
standard library; the same list on any machine and any Python 3.
"""
import argparse
import gzip
import hashlib
import struct
import sys


def labels(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic, n = struct.unpack(">II", raw[:8])
    if magic != 0x801 or len(raw) != 8 + n:
        sys.exit(f"{path}: not an IDX labels file")
    return raw[8:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("labels")
    ap.add_argument("--class", dest="cls", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    a = ap.parse_args()
    of_class = [i for i, y in enumerate(labels(a.labels)) if y == a.cls]
    if a.count < 1 or a.count > len(of_class):
        sys.exit(f"--count {a.count}: class {a.cls} has {len(of_class)} samples")
    rank = sorted(of_class, key=lambda i: hashlib.sha256(f"{a.seed}:{i}".encode()).hexdigest())
    print(f"# {a.count} of the {len(of_class)} training samples of class {a.cls}: the first by "
          f"SHA-256 of \"{a.seed}:<index>\" (tests/sample_list.py --seed {a.seed})")
    for i in sorted(rank[:a.count]):
        print(i)


if __name__ == "__main__":
    main()
