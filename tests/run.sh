#!/usr/bin/env bash
# Runs every test of the project: the Rust unit and integration tests (against
# kinesalite, kinesis-mock, moto and the misbehaving loopback server they
# start themselves), the benchmark in quick mode, a short coverage-guided fuzz
# run, the Kotlin tests on the JVM and the Swift tests on Linux, each against
# the real native library, the release tooling and the GitHub workflows
# (actionlint), the mobile library's 4 MiB budget, and `cargo publish --dry-run`.
#
# First installs what it needs (.ci/install.sh: quick when already done; as
# root, for apt and the Swift chroot). SKIP_INSTALL=1 skips that; SKIP_KOTLIN=1,
# SKIP_SWIFT=1, SKIP_BENCH=1, SKIP_FUZZ=1 or SKIP_PUBLISH=1 leave a part out.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

start=$SECONDS
if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
  printf '==> installing what the tests need (.ci/install.sh)\n'
  bash .ci/install.sh || { echo "tests/run.sh: .ci/install.sh failed"; exit 1; }
fi
passed=0
failed=0
failures=()
step() {
  local name="$1"
  shift
  printf '\n==> %s\n' "$name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

step "cargo test (unit + integration)" cargo test --locked --all-features

if [[ "${SKIP_BENCH:-0}" != 1 ]]; then
  # Quick mode only: it checks that the benchmark runs and its functional
  # checks hold; it asserts no timing.
  step "benchmark (quick)" cargo bench --locked --bench perf -- --quick
fi

if [[ "${SKIP_FUZZ:-0}" != 1 ]]; then
  if cargo +nightly --version >/dev/null 2>&1 && cargo +nightly fuzz --version >/dev/null 2>&1; then
    step "cargo fuzz (short)" env FUZZ_TIME="${FUZZ_TIME:-20}" bash fuzz/run.sh
  else
    echo "==> cargo fuzz: skipped (needs a nightly toolchain and cargo-fuzz; tests/fuzz_inputs.rs ran instead)"
  fi
fi

if [[ "${SKIP_KOTLIN:-0}" != 1 ]]; then
  step "Kotlin bindings on the JVM + Android compile check" bash bindings/kotlin-test.sh
fi

if [[ "${SKIP_SWIFT:-0}" != 1 ]]; then
  step "Swift bindings on Linux" bash bindings/swift-test.sh
fi

step "mobile library within 4 MiB (stripped release-mobile)" bash tests/size-check.sh

step "release tooling + GitHub workflows (actionlint)" bash tests/release-checks.sh

if [[ "${SKIP_PUBLISH:-0}" != 1 ]]; then
  # Packages the crate as crates.io would get it and builds that package (in target/package,
  # reusing target/'s dependencies). --allow-dirty: also on a work tree with changes.
  step "cargo publish --dry-run" cargo publish --dry-run --locked --allow-dirty
fi

echo
echo "tests/run.sh: $((SECONDS - start)) s"
for name in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $name"; done
echo "suites: $passed passed, $failed failed"
[[ "$failed" == 0 ]]
