#!/usr/bin/env bash
# Generates the Kotlin and Swift bindings of kinesis-recorder from the built
# native library (UniFFI library mode). Generated code is build output and is
# never committed.
#
# Usage: bindings/generate.sh [--debug] [kotlin|swift|all]     (default: all)
#
#   kotlin -> target/bindings/kotlin/   (package dev.kinesisrecorder.ffi)
#   swift  -> target/bindings/swift/    (KinesisRecorder.swift, KinesisRecorderFFI.h,
#                                        KinesisRecorderFFI.modulemap)
#             and the SwiftPM layout the root Package.swift uses (gitignored):
#               ios/Sources/KinesisRecorder/Generated/KinesisRecorder.swift
#               ios/build/KinesisRecorderFFI/{KinesisRecorderFFI.h,module.modulemap}
#               ios/build/lib/libkinesis_recorder.so   (Linux hosts only)
#
# Environment:
#   PROFILE          cargo profile of the library (default: release; --debug = dev)
#   CARGO            cargo command (default: cargo)
#   SKIP_CARGO_BUILD=1  use the library and bindgen already in target/ (no cargo build)
#   CARGO_BUILD_ARGS extra arguments of both cargo builds; tests/run.sh passes
#                    "--all-features --tests" with PROFILE=dev, the build `cargo test
#                    --all-features` just made: nothing is compiled again
#
# The names come from uniffi.toml at the repository root: in library mode
# uniffi-bindgen 0.32 reads the crate's own uniffi.toml (found through
# `cargo metadata`). Its `--config` flag takes a *global* config file
# ([defaults]/[crates.*]) and ignores an old-style uniffi.toml, so it is not
# passed; the script checks the expected file names instead.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

profile="${PROFILE:-release}"
lang=all
for arg in "$@"; do
  case "$arg" in
    --debug) profile=dev ;;
    kotlin|swift|all) lang="$arg" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "generate.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

case "$profile" in
  dev|debug) profile=dev; profile_dir=debug ;;
  *) profile_dir="$profile" ;;
esac

case "$(uname -s)" in
  Darwin) lib_ext=dylib ;;
  *) lib_ext=so ;;
esac

cargo="${CARGO:-cargo}"
read -r -a build_args <<< "${CARGO_BUILD_ARGS:-}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
lib="$target_dir/$profile_dir/libkinesis_recorder.$lib_ext"
bindgen="$target_dir/$profile_dir/uniffi-bindgen"

log() { echo "[generate] $*" >&2; }

if [ "${SKIP_CARGO_BUILD:-0}" != 1 ]; then
  # The bindgen binary first, the library last: building the binary also
  # builds (and copies to target/<profile>/) the library with the `bindgen`
  # feature; the final `--lib` build puts the plain library back in place.
  log "cargo build --profile $profile ${build_args[*]} --features bindgen --bin uniffi-bindgen"
  "$cargo" build --profile "$profile" "${build_args[@]}" --features bindgen --bin uniffi-bindgen
  log "cargo build --profile $profile ${build_args[*]} --lib"
  "$cargo" build --profile "$profile" "${build_args[@]}" --lib
fi
for f in "$lib" "$bindgen"; do
  [ -f "$f" ] || { echo "generate.sh: missing $f (run without SKIP_CARGO_BUILD)" >&2; exit 1; }
done

# generate LANGUAGE OUT_DIR
generate() {
  rm -rf "$2"
  mkdir -p "$2"
  log "uniffi-bindgen generate --language $1 --out-dir ${2#"$repo"/}"
  # --metadata-no-deps: every exported type lives in this crate.
  "$bindgen" generate "$lib" --language "$1" --out-dir "$2" --no-format --metadata-no-deps
}

require() {
  local f
  for f in "$@"; do
    [ -f "$f" ] || { echo "generate.sh: expected $f; is uniffi.toml applied?" >&2; exit 1; }
  done
}

if [ "$lang" = kotlin ] || [ "$lang" = all ]; then
  out="$target_dir/bindings/kotlin"
  generate kotlin "$out"
  require "$out/dev/kinesisrecorder/ffi/kinesis_recorder.kt"
  log "kotlin: ${out#"$repo"/}/dev/kinesisrecorder/ffi/kinesis_recorder.kt"
fi

if [ "$lang" = swift ] || [ "$lang" = all ]; then
  out="$target_dir/bindings/swift"
  generate swift "$out"
  require "$out/KinesisRecorder.swift" "$out/KinesisRecorderFFI.h" "$out/KinesisRecorderFFI.modulemap"

  # SwiftPM layout (see Package.swift). SwiftPM only compiles sources inside
  # the target's folder, hence the copy into Sources/KinesisRecorder/Generated.
  gen_src="$repo/ios/Sources/KinesisRecorder/Generated"
  ffi_dir="$repo/ios/build/KinesisRecorderFFI"
  rm -rf "$gen_src" "$ffi_dir"
  mkdir -p "$gen_src" "$ffi_dir"
  cp "$out/KinesisRecorder.swift" "$gen_src/KinesisRecorder.swift"
  cp "$out/KinesisRecorderFFI.h" "$ffi_dir/KinesisRecorderFFI.h"
  cp "$out/KinesisRecorderFFI.modulemap" "$ffi_dir/module.modulemap"
  if [ "$lib_ext" = so ]; then
    # Linux: the system-library target links this copy (a stable path,
    # whatever the profile) and the test binary finds it through its rpath.
    mkdir -p "$repo/ios/build/lib"
    cp "$lib" "$repo/ios/build/lib/libkinesis_recorder.so.tmp"
    mv -f "$repo/ios/build/lib/libkinesis_recorder.so.tmp" "$repo/ios/build/lib/libkinesis_recorder.so"
  fi
  log "swift: ${out#"$repo"/} and the SwiftPM layout under ios/"
fi
