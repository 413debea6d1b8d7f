#!/usr/bin/env bash
# Checks the release tooling and the GitHub workflows, and that each check fails when it should:
#   - .ci/release.sh check-versions passes on the repository, and fails (naming the file) when
#     any one place states another version; set-version moves every place at once; a release
#     needs a dated CHANGELOG section
#   - pin-xcframework writes a Package.swift that SwiftPM still reads, and refuses bad input;
#     SwiftPM's checksum is the SHA-256 the release job compares (both with the Swift toolchain,
#     skipped with SKIP_SWIFT=1)
#   - notes prints a version's CHANGELOG section
#   - actionlint (+ shellcheck) passes on .github/workflows and fails on a broken workflow;
#     the repository's scripts pass shellcheck at warning level
# Needs .ci/install-actionlint.sh (and .ci/install-swift.sh unless SKIP_SWIFT=1).
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo" || exit 1
release=(bash "$repo/.ci/release.sh")
actionlint="$repo/.ci/bin/actionlint"
work="$(mktemp -d "${TMPDIR:-/tmp}/release-checks.XXXXXX")"
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
check() { # check NAME COMMAND...: the command must succeed
  if "${@:2}" >"$work/out" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $1"
    sed 's/^/    /' "$work/out"
  fi
}
refuses() { # refuses NAME PATTERN COMMAND...: the command must fail, saying PATTERN
  if "${@:3}" >"$work/out" 2>&1; then
    failed=$((failed + 1))
    echo "FAILED (succeeded, should have failed): $1"
    sed 's/^/    /' "$work/out"
  elif ! grep -qE -- "$2" "$work/out"; then
    failed=$((failed + 1))
    echo "FAILED (no '$2' in the output): $1"
    sed 's/^/    /' "$work/out"
  else
    passed=$((passed + 1))
  fi
}
# A copy of the files that state the version (and Package.swift, CHANGELOG.md).
fresh_copy() {
  rm -rf "$work/copy"
  local f
  while IFS= read -r f; do
    mkdir -p "$work/copy/$(dirname "$f")"
    cp "$repo/$f" "$work/copy/$f"
  done < <("${release[@]}" files)
}
in_copy() { ROOT="$work/copy" "$@"; }

version="$("${release[@]}" check-versions | sed -n 's/^versions agree: //p')"
check "versions agree in the repository" "${release[@]}" check-versions
[ -n "$version" ] || { echo "FAILED: no version read"; exit 1; }

# One place at a time states another version: the check names that file.
while IFS= read -r file; do
  [ "$file" = Package.swift ] && continue
  fresh_copy
  if [ "$file" = Cargo.lock ]; then
    perl -0pi -e 's/(name = "kinesis-recorder"\nversion = ")[^"]+/${1}9.9.9/' "$work/copy/$file"
  else
    # The first occurrence only: in a pom, the project's own version.
    perl -pi -e "\$done ||= s/\\Q$version\\E/9.9.9/" "$work/copy/$file"
  fi
  refuses "a different version in $file is caught" "$file .*9\.9\.9" in_copy "${release[@]}" check-versions
done < <("${release[@]}" files)

fresh_copy
check "set-version moves every place" in_copy "${release[@]}" set-version 2.3.4-rc.1
check "... and they agree" in_copy "${release[@]}" check-versions
refuses "a release needs a dated CHANGELOG section" "needs its date" \
  in_copy "${release[@]}" check-versions --expect 2.3.4-rc.1
sed -i 's/^## \[2\.3\.4-rc\.1\] - Unreleased$/## [2.3.4-rc.1] - 2026-12-01/' "$work/copy/CHANGELOG.md"
check "set-version + a dated section = a release" in_copy "${release[@]}" check-versions --expect 2.3.4-rc.1
refuses "a tag that is not the version is caught" "expected 2\.3\.5" \
  in_copy "${release[@]}" check-versions --expect 2.3.5

fresh_copy
url="https://github.com/example/kinesis-recorder/releases/download/$version/KinesisRecorderFFI.xcframework.zip"
sum="$(printf 'xcframework' | sha256sum | cut -d' ' -f1)"
check "pin-xcframework" in_copy "${release[@]}" pin-xcframework "$url" "$sum"
check "... writes url and checksum" grep -qxF \
  "let releaseXCFramework: (url: String, checksum: String)? = (url: \"$url\", checksum: \"$sum\")" \
  "$work/copy/Package.swift"
check "... which check-versions reads" in_copy "${release[@]}" check-versions
in_copy "${release[@]}" pin-xcframework "${url/download\/$version/download/0.0.9}" "$sum" >/dev/null
refuses "a pinned URL of another version is caught" "Package.swift \(releaseXCFramework\) +0\.0\.9" in_copy "${release[@]}" check-versions
refuses "pin-xcframework refuses a bad checksum" "64 hex" in_copy "${release[@]}" pin-xcframework "$url" abc
refuses "pin-xcframework refuses plain http" "https" \
  in_copy "${release[@]}" pin-xcframework "${url/https/http}" "$sum"

check "notes prints the version's CHANGELOG section" bash -c \
  "'${release[0]}' '${release[1]}' notes '$version' | grep -q '^### '"
refuses "notes of an unknown version" "no CHANGELOG.md section" "${release[@]}" notes 0.0.0

if [ "${SKIP_SWIFT:-0}" != 1 ]; then
  # The pinned manifest still compiles (the tuple is type-checked on every platform).
  fresh_copy
  in_copy "${release[@]}" pin-xcframework "$url" "$sum" >/dev/null
  check "SwiftPM reads the pinned Package.swift" \
    bash "$repo/.ci/swift.sh" "$work/copy" swift package dump-package
  printf 'a zip stands here' >"$work/copy/KinesisRecorderFFI.xcframework.zip"
  expected="$(sha256sum "$work/copy/KinesisRecorderFFI.xcframework.zip" | cut -d' ' -f1)"
  check "swift package compute-checksum is the SHA-256 the release job compares" bash -c \
    "bash '$repo/.ci/swift.sh' '$work/copy' swift package compute-checksum KinesisRecorderFFI.xcframework.zip \
      | grep -qx '$expected'"
else
  echo "release-checks: SwiftPM checks skipped (SKIP_SWIFT=1)"
fi

check "actionlint + shellcheck pass on .github/workflows" "$actionlint"
# The repository's own scripts, at warning level (the info-level notes are style).
scripts=()
while IFS= read -r f; do scripts+=("$f"); done < <(
  git ls-files --cached --others --exclude-standard -- '*.sh' .ci/run | sort)
check "shellcheck (warnings) passes on the repository's ${#scripts[@]} scripts" \
  shellcheck --severity=warning "${scripts[@]}"
cat >"$work/broken.yml" <<'YAML'
on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    needs: missing
    steps:
      - run: echo $UNQUOTED
YAML
refuses "actionlint fails on a broken workflow" "needs job \"missing\"" "$actionlint" "$work/broken.yml"
refuses "... and shellcheck reports through it" "SC2086" "$actionlint" "$work/broken.yml"

echo "release checks: $passed passed, $failed failed"
[ "$failed" = 0 ]
