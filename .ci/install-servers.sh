#!/usr/bin/env bash
# Installs the local Kinesis-compatible servers that the integration tests run
# (see tests/servers/). Idempotent: a second run with nothing changed does no
# network work.
#   - kinesalite + kinesis-local (npm): `npm ci --prefix tests/servers`
#   - moto[server] + boto3 (PyPI): into the venv .ci/.venv (gitignored)
#   - aws-kinesis-agg (PyPI, with protobuf and six, which it imports): the
#     published KPL de-aggregation module, into the same venv
#     (tests/servers/deaggregate.py)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

MOTO_VERSION=5.2.5
BOTO3_VERSION=1.44.8
KINESIS_AGG_VERSION=1.2.3
PROTOBUF_VERSION=7.36.2
SIX_VERSION=1.17.0

# --- npm: kinesalite 3.3.3, kinesis-local 0.6.2 (pinned in package-lock.json)
stamp=tests/servers/node_modules/.install-stamp
want="$(sha256sum tests/servers/package-lock.json | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "install-servers: npm packages up to date"
else
  npm ci --prefix tests/servers --no-audit --no-fund
  echo "$want" > "$stamp"
fi

# --- PyPI: moto[server], boto3, aws-kinesis-agg in .ci/.venv
venv=.ci/.venv
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
if "$venv/bin/python" - "$MOTO_VERSION" "$BOTO3_VERSION" "$KINESIS_AGG_VERSION" "$PROTOBUF_VERSION" "$SIX_VERSION" \
  <<'PY' 2>/dev/null
import sys, importlib.metadata as m
import moto.server  # the server extra's app imports
import aws_kinesis_agg.deaggregator  # imports protobuf and six
want = dict(zip(["moto", "boto3", "aws-kinesis-agg", "protobuf", "six"], sys.argv[1:]))
ok = all(m.version(name) == version for name, version in want.items()) and m.version("flask")
sys.exit(0 if ok else 1)
PY
then
  echo "install-servers: moto $MOTO_VERSION, boto3 $BOTO3_VERSION, aws-kinesis-agg $KINESIS_AGG_VERSION up to date"
else
  "$venv/bin/python" -m pip install --disable-pip-version-check -q \
    "moto[server]==$MOTO_VERSION" "boto3==$BOTO3_VERSION" "aws-kinesis-agg==$KINESIS_AGG_VERSION" \
    "protobuf==$PROTOBUF_VERSION" "six==$SIX_VERSION"
fi
