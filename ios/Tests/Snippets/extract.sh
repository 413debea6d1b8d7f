#!/usr/bin/env bash
# Extracts the Swift snippets of Markdown files into Swift sources that the
# compiler can check (bindings/swift-test.sh type-checks them against the
# package, with Prelude.swift declaring the app's own names they use).
#
# Usage: ios/Tests/Snippets/extract.sh OUT_DIR FILE.md...
#
# Every ```swift block becomes OUT_DIR/<file>_<line>.swift: Foundation,
# KinesisRecorder and its own `import` lines at the top, the rest inside
# `func snippet_<file>_<line>() async throws { }`.
# A block right after the line
#   <!-- swift snippet not compiled: REASON -->
# is skipped (a Package.swift fragment, code for Apple platforms only); the
# script lists the skipped blocks with their reasons.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 OUT_DIR FILE.md..." >&2
  exit 2
fi
out="$1"
shift
mkdir -p "$out"
rm -f "$out"/*.swift

for md in "$@"; do
  name="$(echo "$md" | tr -c 'A-Za-z0-9\n' '_')"
  awk -v out="$out" -v name="$name" -v md="$md" '
    function flush_block(   file, i) {
      file = out "/" name "_" start ".swift"
      printf "// %s, line %d\nimport Foundation\nimport KinesisRecorder\n", md, start > file
      for (i = 1; i <= nimports; i++) print imports[i] > file
      printf "func snippet_%s_%d() async throws {\n", name, start > file
      for (i = 1; i <= nbody; i++) print "    " body[i] > file
      print "}" > file
      close(file)
      compiled++
    }
    /^```swift[[:space:]]*$/ && !inside {
      inside = 1; start = NR + 1; nimports = 0; nbody = 0
      skip = (previous ~ /^<!-- swift snippet not compiled: .*-->$/)
      if (skip) { reason = previous; sub(/^<!-- swift snippet not compiled: /, "", reason); sub(/ *-->$/, "", reason) }
      next
    }
    /^```[[:space:]]*$/ && inside {
      inside = 0
      if (skip) printf "skipped %s:%d (%s)\n", md, start, reason
      else flush_block()
      next
    }
    inside && /^import [A-Za-z_]+[[:space:]]*$/ { imports[++nimports] = $0; next }
    inside { body[++nbody] = $0; next }
    NF { previous = $0 }
    END { printf "%s: %d snippets extracted\n", md, compiled }
  ' "$md"
done
