#!/usr/bin/env bash
# Installs the linters of the GitHub workflows (.github/workflows/):
#   - actionlint (a Go module, built with `go install` into .ci/bin, gitignored)
#   - shellcheck (Debian package), which actionlint runs on every `run:` script
# Idempotent: with the right versions in place it does no network work.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACTIONLINT_VERSION=1.7.12
bin="$repo/.ci/bin"

if [[ "$("$bin/actionlint" -version 2>/dev/null | head -1)" == "v$ACTIONLINT_VERSION" ]]; then
  echo "install-actionlint: actionlint $ACTIONLINT_VERSION up to date"
else
  command -v go >/dev/null 2>&1 || { echo "install-actionlint: needs Go (go install)" >&2; exit 1; }
  mkdir -p "$bin"
  echo "install-actionlint: go install github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
  GOBIN="$bin" GOFLAGS=-buildvcs=false go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
fi

if command -v shellcheck >/dev/null 2>&1; then
  echo "install-actionlint: shellcheck $(shellcheck --version | sed -n 's/^version: //p') present"
else
  echo "install-actionlint: installing shellcheck (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
fi
