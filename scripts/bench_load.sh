#!/bin/sh
# Interleaved runs of BenchmarkLoad: ROUNDS rounds, each running every
# (table size, mode) case of DB once with -benchtime BENCHTIME, the modes in
# alternating order. The test binary is built from the working tree unless
# BIN names one (go test -c). Output: the raw benchmark lines, to be
# summarized with scripts/bench_load.py.
#
#   scripts/bench_load.sh mysql 5 3000x > testdata/bench-load-mysql.txt
#
# FIRST_ROUND=1 starts with the other order (to interleave separate calls);
# SIZES=100000 runs only that table size.
set -eu
db=$1 rounds=$2 benchtime=$3
bin=${BIN:-}
if [ -z "$bin" ]; then
	bin=$(mktemp)
	go test -c -o "$bin" .
fi
i=${FIRST_ROUND:-0}
rounds=$((rounds + i))
while [ "$i" -lt "$rounds" ]; do
	i=$((i + 1))
	modes="audited plain"
	[ $((i % 2)) -eq 0 ] && modes="plain audited"
	for size in ${SIZES:-50 100000}; do
		for mode in $modes; do
			"$bin" -test.run '^$' -test.bench "^BenchmarkLoad/$db/table_$size/$mode\$" \
				-test.benchtime "$benchtime" -test.count 1 | grep -E '^(Benchmark|--- FAIL|FAIL|    )' || true
		done
	done
done
