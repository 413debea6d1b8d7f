#!/usr/bin/env bash
# The mobile library's size budget: the stripped x86_64 `release-mobile`
# cdylib (the proxy for one Android ABI) must stay within 4 MiB. Builds it
# (LTO, a few minutes) and fails with the figures when it does not fit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
budget=$((4 * 1024 * 1024))
# The mobile feature compiles `trace!` events out (Cargo.toml): the crate's own
# events must stay at debug or above to reach the app's log sink.
if grep -rnE '\btrace!' src; then
  echo "size-check: trace! in src/ would be compiled out of the mobile library; log at debug" >&2
  exit 1
fi
cargo build --locked --profile release-mobile --no-default-features --features mobile --lib
lib=target/release-mobile/libkinesis_recorder.so
size=$(stat -c %s "$lib")
echo "size-check: $lib is $size bytes; budget $budget, margin $((budget - size))"
if ((size > budget)); then
  echo "size-check: over the 4 MiB budget by $((size - budget)) bytes" >&2
  exit 1
fi
