#!/usr/bin/env bash
# Benchmark of the Kotlin save path on the JVM (bindings/kotlin-bench, issue 10):
#
#   1. mvn install (bindings/kotlin, tests skipped)   the Kotlin layer + generated bindings as a jar
#      in the local Maven repository (skipped with SKIP_INSTALL=1: kotlin-test.sh just did it)
#   2. mvn package (bindings/kotlin-bench)            the JMH benchmarks (Java, annotation processing)
#   3. SaveBenchmark (JMH, -prof gc)                  ns and bytes allocated per record saved, next to
#                                                     a ConcurrentLinkedQueue offer of the same bytes
#   4. SaveLatency                                    every call of 100,000 timed, 1,000 saves in a loop
#
# Usage: bash bindings/kotlin-bench.sh [--quick]
#   full (default): JMH 2 forks x 5 x 1 s after 5 x 1 s of warm-up; 50,000 + 100,000 timed saves.
#     A few minutes. The README's table comes from it.
#   --quick: the CI smoke run (kotlin-test.sh): every benchmark briefly. Asserts no timing; fails
#     only if something breaks, or if a save allocates more than 256 bytes on the Java heap.
#
# Needs the native library and the generated bindings (bindings/generate.sh kotlin), Java 17 +
# Maven with JMH prefetched (.ci/install-maven.sh). Environment: MVN_ARGS, SKIP_INSTALL=1,
# CARGO_TARGET_DIR, JMH_ARGS (extra JMH options, e.g. "-p" or a benchmark regexp).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
generated="$target_dir/bindings/kotlin"
native_dir="$target_dir/release"
read -r -a mvn_args <<< "${MVN_ARGS:-}"
read -r -a jmh_extra <<< "${JMH_ARGS:-}"
quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "kotlin-bench.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
log() { echo "[kotlin-bench] $*" >&2; }
start=$SECONDS

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  log "mvn install (bindings/kotlin, tests skipped)"
  mvn -B -q -ntp "${mvn_args[@]}" -f bindings/kotlin/pom.xml install -DskipTests \
    -Duniffi.generated.dir="$generated" -Dnative.lib.dir="$native_dir"
fi
log "mvn package (bindings/kotlin-bench)"
mvn -B -q -ntp "${mvn_args[@]}" -f bindings/kotlin-bench/pom.xml package dependency:build-classpath \
  -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime
classpath="$repo/bindings/kotlin-bench/target/classes:$(cat bindings/kotlin-bench/target/classpath.txt)"
jvm_flags=(-Djna.library.path="$native_dir")

if [ "$quick" = 1 ]; then
  jmh=(-f 1 -wi 1 -w 200ms -i 1 -r 300ms)
  latency=(--quick)
else
  jmh=(-f 2 -wi 5 -w 1s -i 5 -r 1s)
  latency=()
fi
log "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
log "SaveBenchmark (JMH ${jmh[*]} -prof gc)"
java "${jvm_flags[@]}" -cp "$classpath" org.openjdk.jmh.Main "${jmh[@]}" -prof gc -foe true \
  -jvmArgsAppend "${jvm_flags[*]}" "${jmh_extra[@]}" 'dev.kinesisrecorder.bench.SaveBenchmark'
log "SaveLatency ${latency[*]}"
java "${jvm_flags[@]}" -cp "$classpath" dev.kinesisrecorder.bench.SaveLatency "${latency[@]}"
log "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
log "done in $((SECONDS - start)) s"
