#!/usr/bin/env bash
# Runs every test of the project: the Rust unit and integration tests (against
# kinesalite, moto and the misbehaving loopback server they start
# themselves), the benchmark's quick mode, the Kotlin tests on the JVM and the
# Swift tests on Linux, each against the real native library.
#
# Needs what .ci/run installs (servers, Maven dependencies, the Swift chroot).
# Set SKIP_KOTLIN=1 or SKIP_SWIFT=1 to leave a platform out locally.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo test (unit + integration)"
cargo test --locked --all-features

if [[ -x bindings/kotlin-test.sh && "${SKIP_KOTLIN:-0}" != 1 ]]; then
  step "Kotlin bindings on the JVM"
  bash bindings/kotlin-test.sh
fi

if [[ -x bindings/swift-test.sh && "${SKIP_SWIFT:-0}" != 1 ]]; then
  step "Swift bindings on Linux"
  bash bindings/swift-test.sh
fi
