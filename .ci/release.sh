#!/usr/bin/env bash
# Release tooling: one version across the crate, the Android library (AAR), the Kotlin JVM
# artifact and the Swift package, and the edits a release makes.
#
# Usage: .ci/release.sh COMMAND [ARGS]        (ROOT=DIR works on a copy of the repository)
#   check-versions [--expect X.Y.Z]   every place that states the version agrees (with X.Y.Z,
#                                     whose CHANGELOG section must then carry a date: a release)
#   set-version X.Y.Z                 writes X.Y.Z in every such place; adds a CHANGELOG section
#   pin-xcframework URL CHECKSUM      sets `releaseXCFramework` in Package.swift (release job)
#   notes X.Y.Z                       prints the CHANGELOG section of X.Y.Z (release notes)
#   files                             lists the files that state the version
#
# The Swift package has no version field: SwiftPM versions are git tags, made by the release
# workflow from Cargo.toml's version. What the repository says about it (the install snippet in
# ios/README.md, the example app's version, a pinned XCFramework URL) is checked here.
set -euo pipefail

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VERSION_RE='[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?'

# Where the version is written: file | text before it (ERE) | text after it (ERE) | first|all.
# `first`: only the first match counts (a pom's own version, the newest CHANGELOG section).
PLACES=(
  'Cargo.toml|^version = "|"|first'
  'bindings/kotlin/pom.xml|^  <version>|</version>|first'
  'android/compile-check/pom.xml|^  <version>|</version>|first'
  'android/pom.xml|^  <version>|</version>|first'
  'android/jvm-tests/pom.xml|^  <version>|</version>|first'
  'android/kinesis-recorder/build.gradle.kts|^version = "|"|first'
  'android/kinesis-recorder/build.gradle.kts|kinesis-recorder-android:|"|all'
  'android/sample/build.gradle.kts|versionName = "|"|all'
  'android/README.md|kinesis-recorder-android:|"|all'
  'ios/README.md|kinesis-recorder", from: "|"|all'
  'ios/Example/project.yml|MARKETING_VERSION: "|"|all'
  'CHANGELOG.md|^## \[|\]|first'
)

die() { echo "release.sh: $*" >&2; exit 1; }

# versions_in FILE PREFIX SUFFIX MODE: the versions found, one per line.
versions_in() {
  local found
  found="$(grep -oE "$2$VERSION_RE$3" "$ROOT/$1" | sed -E "s|^$2($VERSION_RE)$3\$|\1|")" || true
  if [ "$4" = first ]; then head -n 1 <<<"$found"; else printf '%s\n' "$found"; fi
}

# The crate's entry in Cargo.lock.
lock_version() {
  awk '/^name = "kinesis-recorder"$/ { getline; gsub(/^version = "|"$/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# The release a pinned XCFramework URL points to (nothing while it is nil).
pinned_version() {
  grep -E '^let releaseXCFramework' "$ROOT/Package.swift" | grep -oE "/download/v?$VERSION_RE/" \
    | sed -E 's#^/download/v?##; s#/$##' || true
}

check_versions() {
  local expect="" want place file prefix suffix mode v failed=0
  if [ "${1:-}" = --expect ]; then
    expect="${2:?--expect needs a version}"
    [[ "$expect" =~ ^$VERSION_RE$ ]] || die "not a version: $expect"
  fi
  want="$expect"
  [ -n "$want" ] || want="$(versions_in Cargo.toml '^version = "' '"' first)"
  [ -n "$want" ] || die "no version in Cargo.toml"

  report() { # report FILE VERSION
    if [ "$2" = "$want" ]; then
      printf '  %-44s %s\n' "$1" "$2"
    else
      printf '  %-44s %s   <-- expected %s\n' "$1" "${2:-(none found)}" "$want"
      failed=1
    fi
  }
  echo "versions (expected $want):"
  for place in "${PLACES[@]}"; do
    IFS='|' read -r file prefix suffix mode <<<"$place"
    [ -f "$ROOT/$file" ] || { report "$file" "(missing file)"; continue; }
    local any=0
    while IFS= read -r v; do
      [ -n "$v" ] || continue
      any=1
      report "$file" "$v"
    done < <(versions_in "$file" "$prefix" "$suffix" "$mode")
    [ "$any" = 1 ] || report "$file" ""
  done
  report Cargo.lock "$(lock_version)"
  v="$(pinned_version)"
  [ -z "$v" ] || report "Package.swift (releaseXCFramework)" "$v"

  if [ -n "$expect" ] && ! grep -qE "^## \[$want\] - [0-9]{4}-[0-9]{2}-[0-9]{2}\$" "$ROOT/CHANGELOG.md"; then
    echo "  CHANGELOG.md: the section of a release needs its date: '## [$want] - YYYY-MM-DD'"
    failed=1
  fi
  if [ "$failed" = 1 ]; then
    echo "release.sh: versions disagree (fix them, or run .ci/release.sh set-version X.Y.Z)" >&2
    return 1
  fi
  echo "versions agree: $want"
}

set_version() {
  local new="${1:?set-version needs a version}" place file prefix suffix mode tmp
  [[ "$new" =~ ^$VERSION_RE$ ]] || die "not a version: $new"
  for place in "${PLACES[@]}"; do
    IFS='|' read -r file prefix suffix mode <<<"$place"
    [ "$file" = CHANGELOG.md ] && continue
    # perl -i: the same in-place edit on Linux and macOS.
    if [ "$mode" = first ]; then
      P="$prefix" S="$suffix" V="$VERSION_RE" N="$new" \
        perl -pi -e '$done ||= s/($ENV{P})$ENV{V}($ENV{S})/$1$ENV{N}$3/' "$ROOT/$file"
    else
      P="$prefix" S="$suffix" V="$VERSION_RE" N="$new" \
        perl -pi -e 's/($ENV{P})$ENV{V}($ENV{S})/$1$ENV{N}$3/g' "$ROOT/$file"
    fi
  done
  tmp="$(mktemp)"
  awk -v new="$new" '
    /^name = "kinesis-recorder"$/ { print; getline; print "version = \"" new "\""; next } { print }
  ' "$ROOT/Cargo.lock" >"$tmp"
  cat "$tmp" >"$ROOT/Cargo.lock"
  rm -f "$tmp"
  if ! grep -qE "^## \[$new\]" "$ROOT/CHANGELOG.md"; then
    tmp="$(mktemp)"
    awk -v new="$new" '
      !done && /^## \[/ { print "## [" new "] - Unreleased\n"; done = 1 } { print }
    ' "$ROOT/CHANGELOG.md" >"$tmp"
    cat "$tmp" >"$ROOT/CHANGELOG.md"
    rm -f "$tmp"
  fi
  echo "version set to $new; date its CHANGELOG section when releasing"
}

pin_xcframework() {
  local url="${1:?pin-xcframework needs URL CHECKSUM}" checksum="${2:?pin-xcframework needs URL CHECKSUM}"
  local file="$ROOT/Package.swift" count tmp
  [[ "$url" =~ ^https://[^\"[:space:]]+\.zip$ ]] || die "not an https URL of a .zip: $url"
  [[ "$checksum" =~ ^[0-9a-f]{64}$ ]] || die "not a SwiftPM checksum (64 hex digits): $checksum"
  count="$(grep -cE '^let releaseXCFramework: \(url: String, checksum: String\)\? = ' "$file" || true)"
  [ "$count" = 1 ] || die "expected one 'let releaseXCFramework' line in Package.swift, found $count"
  tmp="$(mktemp)"
  sed -E "s#^(let releaseXCFramework: \(url: String, checksum: String\)\? = ).*#\1(url: \"$url\", checksum: \"$checksum\")#" \
    "$file" >"$tmp"
  cat "$tmp" >"$file"
  rm -f "$tmp"
  grep -E '^let releaseXCFramework' "$file"
}

notes() {
  local version="${1:?notes needs a version}" text
  text="$(awk -v v="$version" '
    index($0, "## [" v "]") == 1 { on = 1; next }
    on && /^## \[/ { exit }
    on { print }
  ' "$ROOT/CHANGELOG.md" | sed -e '/./,$!d')"
  [ -n "$text" ] || die "no CHANGELOG.md section for $version"
  printf '%s\n' "$text"
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  check-versions) check_versions "$@" ;;
  set-version) set_version "$@" ;;
  pin-xcframework) pin_xcframework "$@" ;;
  notes) notes "$@" ;;
  files) for place in "${PLACES[@]}"; do echo "${place%%|*}"; done | sort -u; echo Cargo.lock; echo Package.swift ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
