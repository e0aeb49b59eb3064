#!/usr/bin/env bash
# Longer fuzzing of the companion's parsers (tests/hostile/fuzz_targets.py) than the suite's bounded
# run: each target for FUZZ_SECONDS (default 600), keeping its corpus between runs in
# var/fuzz/corpus/<target> and any crash, hang or leak in var/fuzz/crashes/<target>/.
# A crash found: copy it into tests/hostile/fuzz_regressions/<target>/, fix the parser, commit both.
#   scripts/fuzz-nightly.sh [target ...]     (default: every target)
# Exit status: 0 when no target found anything, 1 otherwise (the findings are listed).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-600}
OUT=${FUZZ_DIR:-var/fuzz}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <("$PY" -c 'import sys; sys.path.insert(0, "tests/hostile"); import fuzz_targets; print("\n".join(sorted(fuzz_targets.TARGETS)))')
fi
found=0
for t in "${targets[@]}"; do
  mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t" "$OUT/logs"
  echo "==> $t for ${SECONDS_PER_TARGET}s"
  "$PY" tests/hostile/fuzz_targets.py "$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$OUT/crashes/$t/" "$OUT/corpus/$t" >"$OUT/logs/$t.log" 2>&1
  rc=$?
  n=$(find "$OUT/crashes/$t" -type f | wc -l)
  if [ "$rc" != 0 ] || [ "$n" != 0 ]; then
    found=1
    echo "    FOUND (exit $rc): $(find "$OUT/crashes/$t" -type f | tr '\n' ' ')"
    grep -A3 "Uncaught Python exception\|Timeout:\|ERROR: libFuzzer" "$OUT/logs/$t.log" | head -8 | sed 's/^/    /'
  else
    echo "    nothing found ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$OUT/logs/$t.log" | awk '{print $2}') inputs)"
  fi
done
exit $found
