#!/usr/bin/env bash
# Kotlin bindings verified on the JVM, and the Android library compiled and run on the JVM:
#
#   1. bindings/generate.sh kotlin   builds target/release/libkinesis_recorder.so and generates
#                                    the Kotlin bindings into target/bindings/kotlin
#   2. mvn install (bindings/kotlin) JUnit 5 tests on the JVM, loading that library, against a
#                                    kinesalite server the tests start on loopback; then the jar
#                                    into the local Maven repository, for the benchmark
#   2b. bindings/kotlin-bench.sh --quick
#                                    the JMH benchmark of the save path, briefly (no timing
#                                    asserted; fails if a save allocates over 256 bytes)
#   3. mvn test (android/pom.xml)    android/compile-check: the Android glue + sample + shared
#                                    layer + bindings compiled against the Android 15 framework
#                                    (android-all, API 35); android/jvm-tests: the Robolectric
#                                    suite (offline) and the ProGuard shrink check, both with that
#                                    library against kinesalite
#
# Needs: a Rust toolchain, Java 17 + Maven with the dependencies prefetched
# (.ci/install-maven.sh), node + tests/servers/node_modules (.ci/install-servers.sh).
#
# Environment: MVN_ARGS (extra Maven flags, e.g. "-o"), SKIP_GENERATE=1 (reuse
# target/bindings/kotlin and the built library), SKIP_BENCH=1, SKIP_ANDROID=1, CARGO_TARGET_DIR.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
generated="$target_dir/bindings/kotlin"
native_dir="$target_dir/release"
read -r -a mvn_args <<< "${MVN_ARGS:-}"
start=$SECONDS

log() { echo "[kotlin-test] $*" >&2; }

if [ "${SKIP_GENERATE:-0}" != 1 ]; then
  log "generating the Kotlin bindings (bindings/generate.sh kotlin)"
  bash bindings/generate.sh kotlin
fi
[ -f "$generated/dev/kinesisrecorder/ffi/kinesis_recorder.kt" ] || { log "missing generated bindings in $generated"; exit 1; }
[ -f "$native_dir/libkinesis_recorder.so" ] || [ -f "$native_dir/libkinesis_recorder.dylib" ] || {
  log "missing the native library in $native_dir"; exit 1; }

log "JVM tests (mvn install, bindings/kotlin)"
mvn -B -ntp "${mvn_args[@]}" -f bindings/kotlin/pom.xml install \
  -Duniffi.generated.dir="$generated" -Dnative.lib.dir="$native_dir"

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  log "save-path benchmark, quick (bindings/kotlin-bench.sh --quick)"
  SKIP_INSTALL=1 bash bindings/kotlin-bench.sh --quick
fi

if [ "${SKIP_ANDROID:-0}" != 1 ]; then
  log "Android: compile check, Robolectric suite, shrink check (mvn test, android/pom.xml)"
  mvn -B -ntp "${mvn_args[@]}" -f android/pom.xml test \
    -Duniffi.generated.dir="$generated" -Dnative.lib.dir="$native_dir"
fi

log "done in $((SECONDS - start)) s"
