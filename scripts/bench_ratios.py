#!/usr/bin/env python3
"""Medians and ratios of BenchmarkWrite output, as the table in BENCHMARKS.md.

    go test -run '^$' -bench BenchmarkWrite -count 10 -benchtime 100x . > bench.txt
    python3 scripts/bench_ratios.py bench.txt

benchstat compares two runs of the same benchmarks (benchstat old.txt new.txt);
this script pivots one run by mode: audited against lean hand-written auditing
(manual) and hand-written auditing with a locked read of old values (locked).
"""
import collections
import re
import statistics
import sys

LINE = re.compile(r"BenchmarkWrite/(\w+)/(\w+)/(\w+)-\d+\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op")


def fmt(ns):
    return f"{ns / 1e6:.2f} ms" if ns >= 1e6 else f"{ns / 1e3:.0f} µs"


def main(path):
    runs = collections.defaultdict(lambda: collections.defaultdict(list))
    for line in open(path):
        m = LINE.match(line)
        if m:
            db, op, mode, ns, _, allocs = m.groups()
            runs[(db, op)][mode].append((float(ns), int(allocs)))
    print("| db | op | plain | manual (lean) | locked | audited | audited/manual | audited/locked | allocs plain / manual / locked / audited |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (db, op), modes in runs.items():
        if not {"plain", "manual", "audited"} <= set(modes):
            continue
        t = {k: statistics.median(x[0] for x in v) for k, v in modes.items()}
        a = {k: statistics.median(x[1] for x in v) for k, v in modes.items()}
        locked = fmt(t["locked"]) if "locked" in t else "-"
        vs_locked = f"{t['audited'] / t['locked']:.2f}" if "locked" in t else "-"
        allocs_locked = f"{a['locked']:.0f}" if "locked" in a else "-"
        print(f"| {db} | {op} | {fmt(t['plain'])} | {fmt(t['manual'])} | {locked} | {fmt(t['audited'])} | "
              f"{t['audited'] / t['manual']:.2f} | {vs_locked} | "
              f"{a['plain']:.0f} / {a['manual']:.0f} / {allocs_locked} / {a['audited']:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
