#!/usr/bin/env bash
# The mobile library's size budget: the stripped x86_64 `release-mobile`
# cdylib (the proxy for one Android ABI) must stay within 4 MiB. Builds it
# (LTO, a few minutes) and fails with the figures when it does not fit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
budget=$((4 * 1024 * 1024))
cargo build --locked --profile release-mobile --no-default-features --features ffi --lib
lib=target/release-mobile/libkinesis_recorder.so
size=$(stat -c %s "$lib")
echo "size-check: $lib is $size bytes; budget $budget, margin $((budget - size))"
if ((size > budget)); then
  echo "size-check: over the 4 MiB budget by $((size - budget)) bytes" >&2
  exit 1
fi
