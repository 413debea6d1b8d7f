#!/usr/bin/env bash
# Installs everything tests/run.sh needs; tests/run.sh calls it first, so the README's test
# command works on a fresh machine. Every installer is idempotent and returns in seconds when
# everything is in place. Parts left out of tests/run.sh (SKIP_KOTLIN=1, SKIP_SWIFT=1,
# SKIP_FUZZ=1) are not installed either.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash .ci/install-servers.sh        # kinesalite, kinesis-mock (npm); moto (PyPI, .ci/.venv)
bash .ci/install-sqlite.sh         # Debian's libsqlite3-dev: the system-SQLite build (as on Apple platforms)
if [[ "${SKIP_KOTLIN:-0}" != 1 ]]; then
  bash .ci/install-maven.sh        # Java 17 + Maven; Kotlin compiler, JNA, coroutines, JUnit, android-all
fi
if [[ "${SKIP_SWIFT:-0}" != 1 ]]; then
  bash .ci/install-swift.sh        # Swift 6 in a Debian trixie chroot
fi
bash .ci/install-actionlint.sh     # actionlint (Go) + shellcheck, for .github/workflows
# Coverage-guided fuzzing needs a nightly toolchain; where there is one, get cargo-fuzz.
if [[ "${SKIP_FUZZ:-0}" != 1 ]] && cargo +nightly --version >/dev/null 2>&1 \
  && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked || echo "install: cargo-fuzz not installed; the fuzz step will be skipped"
fi
