#!/usr/bin/env bash
# Install a Swift 6 toolchain (Debian trixie's `swiftlang`, Swift 6.0.x with
# Foundation, XCTest, swift-testing and SwiftPM) into a trixie chroot on a
# Debian bookworm host, and set up the bind mounts it needs.
#
# Idempotent: the chroot is only created when the swift binary inside it is
# missing; mounts are only added when absent (or stale). When everything is in
# place it returns in well under a second.
#
# Environment:
#   SWIFT_CHROOT        chroot directory           (default /opt/swift-trixie)
#   SWIFT_MIRROR        Debian mirror              (default http://deb.debian.org/debian)
#   SWIFT_EXTRA_MOUNTS  colon-separated host dirs to bind at the same path inside
#
# The repository root (derived from this script's location) is always
# bind-mounted at the same absolute path inside the chroot, so /work/main,
# /tmp/ci, ... look identical inside and outside.
#
# Usage: bash .ci/install-swift.sh [EXTRA_DIR...]   (extra dirs get bind-mounted too)
#        bash .ci/install-swift.sh --umount         (detach all mounts under the chroot;
#        do this before ever deleting it: rm -rf would follow the repo bind mount)
set -euo pipefail

ROOT="${SWIFT_CHROOT:-/opt/swift-trixie}"
ROOT="${ROOT%/}"
case "$ROOT" in /?*) ;; *) echo "SWIFT_CHROOT must be an absolute path other than /" >&2; exit 1 ;; esac
MIRROR="${SWIFT_MIRROR:-http://deb.debian.org/debian}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PACKAGES=(swiftlang libc6-dev ca-certificates)

log() { echo "[install-swift] $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  echo "install-swift.sh must run as root (debootstrap/chroot/mount)" >&2
  exit 1
fi

# Serialise concurrent callers (e.g. two swift.sh runs at once).
mkdir -p /run/lock
exec 9>/run/lock/swift-chroot.lock
flock 9

# --- mounts ------------------------------------------------------------------
# bind_same HOSTDIR: bind HOSTDIR at the same path inside the chroot. A mount
# that points to a different (e.g. deleted and re-created) directory is replaced.
bind_same() {
  local src dst
  src="$(cd "$1" && pwd -P)"
  dst="$ROOT$src"
  mkdir -p "$dst"
  # Already visible (own mount, or through a mount of a parent dir)?
  if [ "$(stat -c %d:%i "$src")" = "$(stat -c %d:%i "$dst" 2>/dev/null || true)" ]; then
    return 0
  fi
  if mountpoint -q "$dst"; then
    log "replacing stale mount $dst"
    umount -l "$dst"
  fi
  mount --bind "$src" "$dst"
}

ensure_mounts() {
  mkdir -p "$ROOT/proc" "$ROOT/sys" "$ROOT/dev"
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/sys" || mount --bind /sys "$ROOT/sys"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  mkdir -p "$ROOT/dev/pts"
  if [ -d /dev/pts ] && mountpoint -q /dev/pts && ! mountpoint -q "$ROOT/dev/pts"; then
    mount --bind /dev/pts "$ROOT/dev/pts"
  fi
  if [ -d /dev/shm ] && mountpoint -q /dev/shm && ! mountpoint -q "$ROOT/dev/shm"; then
    mount --bind /dev/shm "$ROOT/dev/shm"
  fi
  bind_same "$REPO_ROOT"
  local d
  if [ -n "${SWIFT_EXTRA_MOUNTS:-}" ]; then
    IFS=: read -r -a extra <<<"$SWIFT_EXTRA_MOUNTS"
    for d in "${extra[@]}"; do [ -n "$d" ] && bind_same "$d"; done
  fi
  for d in "$@"; do bind_same "$d"; done
  # DNS for apt inside the chroot (harmless when already current).
  if [ -f /etc/resolv.conf ] && ! cmp -s /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null; then
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  fi
}

umount_all() {
  local m
  for m in $(awk -v r="$ROOT/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m"
  done
}

if [ "${1:-}" = "--umount" ]; then
  umount_all
  log "unmounted everything under $ROOT"
  exit 0
fi

# --- install -----------------------------------------------------------------
# /usr/bin/swift in the chroot is an absolute symlink (meaningless from the
# host), so test the real binary it points to.
SWIFT_BIN="$ROOT/usr/libexec/swift/bin/swift"
if [ ! -x "$SWIFT_BIN" ]; then
  log "installing Swift chroot at $ROOT"
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  if [ ! -f "$ROOT/.debootstrap-done" ]; then
    # A half-finished debootstrap cannot be resumed: start afresh, but never
    # delete through live bind mounts.
    if [ -d "$ROOT" ]; then
      umount_all
      # Bind mounts of the same filesystem are not stopped by
      # --one-file-system: refuse to delete while anything is still mounted.
      if grep -q " $ROOT/" /proc/mounts; then
        echo "mounts remain under $ROOT; not deleting it" >&2
        exit 1
      fi
      rm -rf --one-file-system "$ROOT"
    fi
    mkdir -p "$ROOT"
    log "debootstrap trixie ($MIRROR)"
    debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >&2
    log "debootstrap done after ${SECONDS}s"
    touch "$ROOT/.debootstrap-done"
  fi
  ensure_mounts "$@"
  # Do not start services inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    bash -c 'dpkg --configure -a && apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null && apt-get clean' \
    bash "${PACKAGES[@]}" >&2
  chroot "$ROOT" /usr/bin/swift --version >&2
  log "done after ${SECONDS}s"
else
  ensure_mounts "$@"
fi
