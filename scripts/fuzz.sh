#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs every libFuzzer target of the fuzz build for FUZZ_SECONDS each (default 60), growing a
# scratch copy of its corpus under build/fuzz/corpus/. New crashes are left as crash-* files in
# build/fuzz/; copy interesting inputs into fuzz/corpus/<name>/ by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
status=0
for bin in build/fuzz/fuzz/fuzz_*; do
  [[ -x "$bin" ]] || continue
  name="${bin##*/fuzz_}"
  work="build/fuzz/corpus/$name"
  mkdir -p "$work"
  echo "== fuzz $name for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=build/fuzz/ \
      "$work" "fuzz/corpus/$name" 2>build/fuzz/"$name".log; then
    echo "!! $name found a crash: see build/fuzz/$name.log" >&2
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build/fuzz/"$name".log || true
done
exit $status
