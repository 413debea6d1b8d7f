#!/usr/bin/env bash
# Coverage-guided fuzzing of the recorder with cargo-fuzz (libFuzzer, nightly).
#
#   bash fuzz/run.sh            short run: 60 s per target (CI)
#   FUZZ_TIME=3600 bash fuzz/run.sh   long run: an hour per target
#
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
time_per_target="${FUZZ_TIME:-60}"
targets=(put_records_response record_validation save_record)
for target in "${targets[@]}"; do
  echo "==> cargo fuzz run $target (${time_per_target}s)"
  mkdir -p "fuzz/corpus/$target"
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$time_per_target" -print_final_stats=1 2>&1 | tail -n 25
done
