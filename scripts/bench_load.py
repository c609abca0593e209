#!/usr/bin/env python3
"""Summarize BenchmarkLoad output: per case, the median ops/s and retries per
1,000 operations with their range over the runs, and audited/plain ratios.

    python3 scripts/bench_load.py testdata/bench-load-mysql.txt [more files]
"""
import re
import statistics
import sys
from collections import defaultdict

LINE = re.compile(r'^BenchmarkLoad/(\w+)/table_(\d+)/(\w+)-\d+\s+(\d+)\s+[\d.]+ ns/op\s+([\d.]+) ops/s\s+([\d.]+) retries/1000ops')


def main(paths):
    runs = defaultdict(list)  # (db, size, mode) -> [(ops/s, retries/1000)]
    for path in paths:
        for line in open(path):
            m = LINE.match(line)
            if m:
                db, size, mode = m.group(1), int(m.group(2)), m.group(3)
                runs[(db, size, mode)].append((float(m.group(5)), float(m.group(6))))

    def med(xs):
        return statistics.median(xs)

    print('| db | rows | mode | runs | ops/s median (min–max) | retries/1000 ops median (min–max) |')
    print('|---|---|---|---|---|---|')
    for (db, size, mode), rs in sorted(runs.items()):
        ops = [r[0] for r in rs]
        ret = [r[1] for r in rs]
        print(f'| {db} | {size:,} | {mode} | {len(rs)} | {med(ops):.0f} ({min(ops):.0f}–{max(ops):.0f}) '
              f'| {med(ret):.1f} ({min(ret):.1f}–{max(ret):.1f}) |')
    print()
    print('| db | rows | audited/plain ops/s (ratio of medians) | per-round ratios (min–max) |')
    print('|---|---|---|---|')
    for (db, size, mode), rs in sorted(runs.items()):
        if mode != 'audited' or (db, size, 'plain') not in runs:
            continue
        plain = runs[(db, size, 'plain')]
        a, p = med([r[0] for r in rs]), med([r[0] for r in plain])
        pairs = [x[0] / y[0] for x, y in zip(rs, plain)]
        print(f'| {db} | {size:,} | {a / p:.2f} | {min(pairs):.2f}–{max(pairs):.2f} |')


if __name__ == '__main__':
    main(sys.argv[1:])
