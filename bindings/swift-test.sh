#!/usr/bin/env bash
# Builds the library, generates the Swift bindings and runs the Swift package's
# XCTest suite against the real native library and a real local Kinesis
# server (kinesalite).
#
# Usage: bindings/swift-test.sh [--debug] [--skip-generate] [-- SWIFT_TEST_ARGS...]
#   --debug          build the Rust library with the dev profile (faster to build)
#   --skip-generate  reuse the generated sources and library from the last run
#   e.g. bindings/swift-test.sh --debug -- --filter ValidationTests
#
# kinesalite and moto run on the host (node and Python are not in the Swift
# chroot) on ephemeral 127.0.0.1 ports; the tests get them as KINESIS_ENDPOINT
# and MOTO_ENDPOINT (loopback is shared with the chroot). Swift runs natively
# when `swift` is on PATH (macOS, or a Linux with a toolchain), else through
# .ci/swift.sh (Debian trixie chroot); SWIFT_RUNNER=native|chroot forces one.
# On Linux it then type-checks the example app's model, and the save-path
# benchmark runs briefly (bindings/swift-bench.sh --quick; SKIP_BENCH=1 skips
# it). The exit code is swift test's, or the type check's or the benchmark's if one failed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo"

gen_args=()
generate=1
test_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) gen_args+=(--debug) ;;
    --skip-generate) generate=0 ;;
    --) shift; test_args=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "swift-test.sh: unknown argument: $1 (swift test arguments go after --)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[swift-test] $*" >&2; }
started=$SECONDS

if [ "$generate" = 1 ]; then
  bindings/generate.sh ${gen_args[@]+"${gen_args[@]}"} swift
fi

# --- kinesalite and moto on the host ---------------------------------------------
if [ ! -d tests/servers/node_modules/kinesalite ] || [ ! -x .ci/.venv/bin/python ]; then
  log "kinesalite or moto missing: running .ci/install-servers.sh"
  bash .ci/install-servers.sh
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/kinesalite.XXXXXX")"
server_log="$work/log"
server_pid=""
moto_pid=""
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
  exec 3>&- 4>&- 2>/dev/null || true
  for pid in "$server_pid" "$moto_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# kinesalite's stdin is a FIFO this script holds open on fd 3: kinesalite.js
# exits when it closes, so the server cannot outlive the script even if the
# trap does not run. (A FIFO rather than >(...): works with macOS's bash 3.2.)
mkfifo "$work/stdin"
node tests/servers/kinesalite.js 0 <"$work/stdin" >"$server_log" 2>&1 &
server_pid=$!
exec 3>"$work/stdin"
port=""
for _ in $(seq 1 300); do
  port="$(sed -n 's/^LISTENING \([0-9][0-9]*\)$/\1/p' "$server_log")"
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  log "kinesalite did not start:"
  cat "$server_log" >&2
  exit 1
fi
export KINESIS_ENDPOINT="http://127.0.0.1:$port"
log "kinesalite (pid $server_pid) at $KINESIS_ENDPOINT"

# moto (Kinesis and Cognito Identity for the built-in Cognito provider's
# tests; Firehose with S3 for the Firehose round trip), held the same way on
# fd 4: moto.sh exits when its stdin closes.
mkfifo "$work/moto-stdin"
bash tests/servers/moto.sh 0 <"$work/moto-stdin" >"$work/moto-log" 2>&1 &
moto_pid=$!
exec 4>"$work/moto-stdin"
moto_port=""
for _ in $(seq 1 600); do
  moto_port="$(sed -n 's/^LISTENING \([0-9][0-9]*\)$/\1/p' "$work/moto-log")"
  [ -n "$moto_port" ] && break
  kill -0 "$moto_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$moto_port" ]; then
  log "moto did not start:"
  cat "$work/moto-log" >&2
  exit 1
fi
export MOTO_ENDPOINT="http://127.0.0.1:$moto_port"
log "moto (pid $moto_pid) at $MOTO_ENDPOINT"

# --- swift test ------------------------------------------------------------------
runner="${SWIFT_RUNNER:-}"
if [ -z "$runner" ]; then
  if command -v swift >/dev/null 2>&1; then runner=native; else runner=chroot; fi
fi
log "swift test (${runner}) ${test_args[*]+"${test_args[*]}"}"
set +e
if [ "$runner" = native ]; then
  swift test --package-path "$repo" ${test_args[@]+"${test_args[@]}"}
else
  SWIFT_PASS_ENV="${SWIFT_PASS_ENV:-} KINESIS_ENDPOINT MOTO_ENDPOINT" .ci/swift.sh "$repo" swift test ${test_args[@]+"${test_args[@]}"}
fi
status=$?
if [ "$status" = 0 ] && [ "$(uname -s)" = Linux ]; then
  # The example app's model (the package's API, Observation) type-checks against the package just
  # built; its SwiftUI views need Apple's SDK (the Apple workflow builds the whole app).
  log "type-checking ios/Example/Sources/ExampleModel.swift"
  # shellcheck disable=SC2016  # expanded by the shell that runs it (in the chroot)
  typecheck='swiftc -typecheck -swift-version 5 -I "$(swift build --show-bin-path)/Modules" \
    -I ios/build/KinesisRecorderFFI -Xcc -fmodule-map-file=ios/build/KinesisRecorderFFI/module.modulemap \
    ios/Example/Sources/ExampleModel.swift'
  if [ "$runner" = native ]; then
    bash -c "$typecheck"
  else
    .ci/swift.sh "$repo" bash -c "$typecheck"
  fi
  status=$?
fi
set -e
log "swift test exited with $status"
if [ "$status" = 0 ] && [ "${SKIP_BENCH:-0}" != 1 ]; then
  log "save-path benchmark, quick (bindings/swift-bench.sh --quick)"
  SWIFT_RUNNER="$runner" bash bindings/swift-bench.sh --quick --skip-generate || status=$?
fi
log "exited with $status after $((SECONDS - started)) s in total"
exit "$status"
