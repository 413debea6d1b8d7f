#!/usr/bin/env bash
# Run a command with the Swift 6 toolchain from the trixie chroot.
#
# Usage: .ci/swift.sh DIR COMMAND [ARGS...]
#   e.g. .ci/swift.sh /work/main/bindings/swift swift test
#        LD_LIBRARY_PATH=$PWD/target/debug .ci/swift.sh bindings/swift swift build
#
# - Ensures the chroot exists and is mounted (runs install-swift.sh, which is
#   quick when everything is already in place).
# - The repo root is bind-mounted at the same absolute path inside the chroot,
#   so any absolute path under the repo works identically inside. A DIR outside
#   the repo is bind-mounted at its own path too; further host dirs can be
#   made visible with SWIFT_EXTRA_MOUNTS=/a:/b.
# - DIR may be relative (to the caller's cwd).
# - Inside: clean environment with PATH, LANG, HOME (default /root inside the
#   chroot, writable; override with SWIFT_HOME), plus LD_LIBRARY_PATH, LIBRARY_PATH,
#   CPATH, CI, TERM, RUST_BACKTRACE when set, plus any variable named in
#   SWIFT_PASS_ENV (space-separated names).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 DIR COMMAND [ARGS...]" >&2
  exit 2
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$HERE/.." && pwd -P)"
ROOT="${SWIFT_CHROOT:-/opt/swift-trixie}"
ROOT="${ROOT%/}"

DIR="$(cd "$1" && pwd -P)"
shift

extra=()
case "$DIR/" in
  "$REPO_ROOT"/*) ;;
  *) extra+=("$DIR") ;;
esac

bash "$HERE/install-swift.sh" "${extra[@]}"

envs=(
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  "LANG=C.UTF-8"
  "HOME=${SWIFT_HOME:-/root}"
)
for v in LD_LIBRARY_PATH LIBRARY_PATH CPATH CI TERM RUST_BACKTRACE ${SWIFT_PASS_ENV:-}; do
  if [ -n "${!v+x}" ]; then envs+=("$v=${!v}"); fi
done

exec chroot "$ROOT" /usr/bin/env -i "${envs[@]}" \
  /bin/bash -c 'mkdir -p "$HOME" && cd "$1" && shift && exec "$@"' swift-chroot "$DIR" "$@"
