#!/usr/bin/env bash
# The end-to-end demo: records saved while offline wait in SQLite, survive a
# failed submission, then drain to a real Kinesis-compatible server (kinesalite,
# started here on loopback) and are read back by an independent client.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[[ -d tests/servers/node_modules/kinesalite ]] || npm ci --prefix tests/servers --no-audit --no-fund >/dev/null
cargo build --release --bin kinesis-recorder
cli() { target/release/kinesis-recorder "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

work="$(mktemp -d)"
server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=AKIDDEMO AWS_SECRET_ACCESS_KEY=demo-secret AWS_REGION=us-east-1
db="$work/events.db"

say "Offline: save 1,200 events (nothing listens yet)"
seq 1 1200 | sed 's/^/{"event":"tap","n":/; s/$/}/' | cli record --db "$db" --stream demo-events
printf 'boot\nshutdown\n' | cli record --db "$db" --stream demo-events --partition-key device-42
cli status --db "$db"

say "Still offline: a submission fails and keeps every record"
cli submit --db "$db" --endpoint http://127.0.0.1:1 || echo "(exit $? as expected: records kept)"
cli status --db "$db"

say "Online: start kinesalite on loopback and create the stream"
coproc SERVER { exec node tests/servers/kinesalite.js 0; }
server_pid=$SERVER_PID
read -r line <&"${SERVER[0]}"
endpoint="http://127.0.0.1:${line#LISTENING }"
echo "kinesalite at $endpoint"
node tests/servers/kinesis_admin.js "$endpoint" create demo-events 2

say "Drain"
cli submit --db "$db" --endpoint "$endpoint"
cli status --db "$db"

say "Read back with an independent client"
node tests/servers/kinesis_admin.js "$endpoint" read demo-events > "$work/read.tsv"
echo "records read back: $(wc -l < "$work/read.tsv")"
grep device-42 "$work/read.tsv"
[[ "$(wc -l < "$work/read.tsv")" -eq 1202 ]] && echo "all 1202 records arrived"
