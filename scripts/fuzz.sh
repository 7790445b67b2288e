#!/usr/bin/env bash
# Runs libFuzzer targets (make fuzz): scripts/fuzz.sh SECONDS NAME...
# Each target runs SECONDS on its seeds (tests/fuzz/corpus/NAME, in git) and
# what earlier runs found (build/fuzz/corpus/NAME); a crash stops the run with
# the target's output and the input saved as build/fuzz/crash-*.  At the end a
# table: executions, executions per second, coverage (edges, features), corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="$1"; shift
out=build/fuzz
rows=()
for name in "$@"; do
	bin="$out/fuzz_$name"
	mkdir -p "$out/corpus/$name" "tests/fuzz/corpus/$name"
	log="$out/$name.log"
	if ! "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/crash-$name-" "$out/corpus/$name" "tests/fuzz/corpus/$name" \
		>"$log" 2>&1; then
		tail -n 60 "$log" >&2
		echo "fuzz: $name: FAILED (input saved as $out/crash-$name-*; log $log)" >&2
		exit 1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	last=$(grep -aE '^#[0-9]+' "$log" | tail -n 1 || true)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
	rows+=("$(printf '%-10s %8ss %12s %10s %8s %8s %8s' "$name" "$secs" "${execs:-?}" \
		"${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
done
printf '%-10s %9s %12s %10s %8s %8s %8s\n' target time execs exec/s cov ft corpus
printf '%s\n' "${rows[@]}"
