#!/usr/bin/env bash
# Builds KinesisRecorderFFI.xcframework (the Rust core as static libraries, with
# its C header and module map) and the generated Swift sources, for the root
# Package.swift on Apple platforms. Runs on macOS with Xcode and rustup.
#
# Usage: ios/build-xcframework.sh [--no-macos] [--zip]
#   --no-macos  only the iOS slices (device + simulator); without a macOS
#               slice `swift test` cannot run on the Mac itself
#   --zip       also write ios/build/KinesisRecorderFFI.xcframework.zip and print
#               its SwiftPM checksum (for `releaseXCFramework` in Package.swift)
#
# Apps that link the XCFramework without SwiftPM add libsqlite3.tbd, Security and
# SystemConfiguration to their target (Package.swift does this for SwiftPM).
#
# Output (gitignored):
#   ios/build/KinesisRecorderFFI.xcframework
#       ios-arm64                          aarch64-apple-ios
#       ios-arm64_x86_64-simulator         aarch64-apple-ios-sim + x86_64-apple-ios (lipo)
#       macos-arm64_x86_64                 aarch64-apple-darwin + x86_64-apple-darwin (lipo)
#   ios/Sources/KinesisRecorder/Generated/KinesisRecorder.swift
#
# Environment:
#   PROFILE                     cargo profile (default: release-mobile, see Cargo.toml)
#   IPHONEOS_DEPLOYMENT_TARGET  default 15.0 (Package.swift: .iOS(.v15))
#   MACOSX_DEPLOYMENT_TARGET    default 12.0 (Package.swift: .macOS(.v12))
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo"

with_macos=1
zip=0
for arg in "$@"; do
  case "$arg" in
    --no-macos) with_macos=0 ;;
    --zip) zip=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-xcframework.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "[xcframework] $*" >&2; }
die() { echo "build-xcframework.sh: $*" >&2; exit 1; }

[ "$(uname -s)" = Darwin ] || die "needs macOS with Xcode (xcodebuild, lipo); on Linux use bindings/generate.sh"
for tool in cargo rustup xcodebuild lipo; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

profile="${PROFILE:-release-mobile}"
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-15.0}"
export MACOSX_DEPLOYMENT_TARGET="${MACOSX_DEPLOYMENT_TARGET:-12.0}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
build="$repo/ios/build"
name=KinesisRecorderFFI
lib=libkinesis_recorder.a

ios_targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
mac_targets=(aarch64-apple-darwin x86_64-apple-darwin)
targets=("${ios_targets[@]}")
if [ "$with_macos" = 1 ]; then targets+=("${mac_targets[@]}"); fi

# --- Rust static libraries -------------------------------------------------------
installed="$(rustup target list --installed)"
missing=()
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "rustup target add ${missing[*]}"
  rustup target add "${missing[@]}"
fi

for t in "${targets[@]}"; do
  log "cargo build --profile $profile --target $t"
  # The mobile feature (the FFI, no trace-level logging): the CLI's dependencies stay out of the app.
  cargo build --profile "$profile" --lib --no-default-features --features mobile --target "$t"
done
slice() { echo "$target_dir/$1/$profile/$lib"; }

# SQLite is the system's on Apple platforms (Cargo.toml: `bundled-sqlite` is not built for
# them; Package.swift links libsqlite3): a private copy would define sqlite3_* symbols that
# clash with the app's GRDB, SQLCipher or system SQLite.
for t in "${targets[@]}"; do
  if nm -gU "$(slice "$t")" 2>/dev/null | grep -q ' T _sqlite3_open_v2$'; then
    die "$(slice "$t") defines sqlite3_open_v2: SQLite was compiled in (is another crate enabling rusqlite's \"bundled\"?)"
  fi
done

# --- Swift sources, header and module map ---------------------------------------
# Generated from a host build of the same crate (the metadata is identical);
# this also copies KinesisRecorder.swift into ios/Sources/KinesisRecorder/Generated.
log "generating the Swift bindings"
"$repo/bindings/generate.sh" swift
generated="$target_dir/bindings/swift"

# Headers in a subfolder named after the module: clang finds
# Headers/KinesisRecorderFFI/module.modulemap, and two XCFrameworks that each
# ship a top-level module.modulemap cannot collide in one app.
headers="$build/headers"
rm -rf "$headers"
mkdir -p "$headers/$name"
cp "$generated/$name.h" "$headers/$name/$name.h"
cp "$generated/$name.modulemap" "$headers/$name/module.modulemap"

# --- fat libraries per platform -----------------------------------------------------
mkdir -p "$build/ios-simulator" "$build/macos"
log "lipo: iOS simulator (arm64 + x86_64)"
lipo -create "$(slice aarch64-apple-ios-sim)" "$(slice x86_64-apple-ios)" -output "$build/ios-simulator/$lib"
args=(-library "$(slice aarch64-apple-ios)" -headers "$headers"
      -library "$build/ios-simulator/$lib" -headers "$headers")
if [ "$with_macos" = 1 ]; then
  log "lipo: macOS (arm64 + x86_64)"
  lipo -create "$(slice aarch64-apple-darwin)" "$(slice x86_64-apple-darwin)" -output "$build/macos/$lib"
  args+=(-library "$build/macos/$lib" -headers "$headers")
fi

# --- XCFramework ----------------------------------------------------------------------
out="$build/$name.xcframework"
rm -rf "$out"
log "xcodebuild -create-xcframework -> ${out#"$repo"/}"
xcodebuild -create-xcframework "${args[@]}" -output "$out"

if [ "$zip" = 1 ]; then
  rm -f "$out.zip"
  (cd "$build" && ditto -c -k --sequesterRsrc --keepParent "$name.xcframework" "$name.xcframework.zip")
  checksum="$(swift package --package-path "$repo" compute-checksum "$out.zip")"
  log "zip: ${out#"$repo"/}.zip"
  echo "checksum: $checksum"
fi

log "done: open Package.swift in Xcode, or \`swift test\` (macOS slice) / \`xcodebuild test -scheme KinesisRecorder -destination 'platform=iOS Simulator,name=iPhone 16'\`"
