#!/usr/bin/env bash
# Installs Debian's SQLite library and headers (libsqlite3-dev), for the tests that build the
# recorder as Apple platforms do: linked to the system's SQLite instead of compiling it in
# (Cargo feature `bundled-sqlite` off; tests/run.sh). Idempotent: nothing to do when present.
set -euo pipefail

if dpkg -s libsqlite3-dev >/dev/null 2>&1; then
  echo "install-sqlite: libsqlite3-dev $(dpkg-query -W -f='${Version}' libsqlite3-dev) present"
else
  echo "install-sqlite: installing libsqlite3-dev (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsqlite3-dev >/dev/null
fi
