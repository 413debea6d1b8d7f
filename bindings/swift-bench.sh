#!/usr/bin/env bash
# Save-path benchmark of the Swift bindings on Linux (ios/Bench/KinesisRecorderBench, issue 10):
# single saves timed one by one, and 1,000 saves in a loop, next to an in-memory baseline.
#
# Usage: bindings/swift-bench.sh [--quick] [--skip-generate]
#   full (default): release build of the benchmark; 50,000 warm-up + 100,000 timed saves.
#   --quick: debug build, brief; what bindings/swift-test.sh runs in CI (no timing asserted).
#   --skip-generate: reuse the library and generated sources of the last bindings/generate.sh swift.
#
# Swift runs natively when `swift` is on PATH, else through .ci/swift.sh (Debian trixie chroot).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo"
quick=0
generate=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --skip-generate) generate=0 ;;
    *) echo "swift-bench.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
[ "$generate" = 1 ] && bindings/generate.sh swift
if [ "$quick" = 1 ]; then
  run=(swift run KinesisRecorderBench --quick)
else
  run=(swift run -c release KinesisRecorderBench)
fi
echo "[swift-bench] load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)" >&2
runner="${SWIFT_RUNNER:-}"
if [ -z "$runner" ]; then
  if command -v swift >/dev/null 2>&1; then runner=native; else runner=chroot; fi
fi
if [ "$runner" = native ]; then
  (cd "$repo" && "${run[@]}")
else
  .ci/swift.sh "$repo" "${run[@]}"
fi
