#!/usr/bin/env node
// Starts kinesalite (an in-memory Kinesis Data Streams emulator) on loopback only.
//
//   node tests/servers/kinesalite.js [PORT]
//
// PORT comes from argv[2], else $KINESALITE_PORT, else $PORT, else 0 (ephemeral).
// Binds 127.0.0.1 only (kinesalite's own CLI binds every interface). The store is
// kinesalite's default in-memory one (memdown): nothing is written to disk.
// Streams become ACTIVE at once (createStreamMs/deleteStreamMs/updateStreamMs = 0).
//
// Prints exactly one line `LISTENING <port>` to stdout when it accepts connections.
// Exits on SIGTERM/SIGINT/SIGHUP, and when stdin reaches EOF if stdin is a pipe,
// socket or terminal (so a test harness that spawns it with a piped stdin and
// drops the child cleans it up). A stdin of /dev/null or a file is ignored.
'use strict'

const fs = require('fs')
const tty = require('tty')
const path = require('path')

let kinesalite
try {
  kinesalite = require(path.join(__dirname, 'node_modules', 'kinesalite'))
} catch (e) {
  process.stderr.write('kinesalite is not installed: run `npm ci --prefix tests/servers`\n' + e + '\n')
  process.exit(2)
}

const portArg = process.argv[2] || process.env.KINESALITE_PORT || process.env.PORT || '0'
const port = Number(portArg)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`invalid port: ${portArg}\n`)
  process.exit(2)
}

const server = kinesalite({
  createStreamMs: 0,
  deleteStreamMs: 0,
  updateStreamMs: 0,
  // no `path`: kinesalite uses memdown (in memory) unless a path is given
})

let stopping = false
function stop(code) {
  if (stopping) return
  stopping = true
  // close() also closes the store; do not wait for keep-alive sockets
  const t = setTimeout(() => process.exit(code), 500)
  t.unref()
  try {
    server.close(() => process.exit(code))
  } catch (e) {
    process.exit(code)
  }
}

server.on('error', (err) => {
  process.stderr.write(`kinesalite failed: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`)
})

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => stop(0))

function stdinIsWatchable() {
  try {
    if (tty.isatty(0)) return true
    const st = fs.fstatSync(0)
    return st.isFIFO() || st.isSocket()
  } catch (e) {
    return false
  }
}

if (stdinIsWatchable()) {
  process.stdin.on('data', () => {})
  process.stdin.on('end', () => stop(0))
  process.stdin.on('error', () => stop(0))
  process.stdin.resume()
}
