#!/usr/bin/env python3
"""Medians and ratios of BenchmarkWrite output, as the table in BENCHMARKS.md.

    go test -run '^$' -bench BenchmarkWrite -count 10 -benchtime 100x . > bench.txt
    python3 scripts/bench_ratios.py bench.txt

benchstat compares two runs of the same benchmarks (benchstat old.txt new.txt);
this script pivots one run by mode: audited/plain and audited/manual.
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
    print("| db | op | plain | manual | audited | manual/plain | audited/plain | audited/manual | allocs plain / manual / audited |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (db, op), modes in runs.items():
        if set(modes) != {"plain", "manual", "audited"}:
            continue
        t = {k: statistics.median(x[0] for x in v) for k, v in modes.items()}
        a = {k: statistics.median(x[1] for x in v) for k, v in modes.items()}
        print(f"| {db} | {op} | {fmt(t['plain'])} | {fmt(t['manual'])} | {fmt(t['audited'])} | "
              f"{t['manual'] / t['plain']:.2f} | {t['audited'] / t['plain']:.2f} | {t['audited'] / t['manual']:.2f} | "
              f"{a['plain']:.0f} / {a['manual']:.0f} / {a['audited']:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
