#!/usr/bin/env node
// Starts kinesis-local (kinesis-mock, Scala.js build) on loopback only.
//
//   node tests/servers/kinesis_mock.js [PORT]
//
// PORT (plain HTTP) comes from argv[2], else $KINESIS_MOCK_PLAIN_PORT, else $PORT,
// else 0 (a free port picked by the launcher just before start). kinesis-mock always opens a TLS port too: it takes
// $KINESIS_MOCK_TLS_PORT, default 0 here (ephemeral) instead of its 4567.
//
// kinesis-mock 0.6.2 hard-codes the host 0.0.0.0 (no setting changes it) and then
// calls net.Server#listen(port, cb), which binds every interface. This launcher
// runs it in-process and patches net.Server#listen so that any wildcard or missing
// host becomes 127.0.0.1: both its ports bind loopback only.
//
// Other kinesis-mock settings pass through the environment (INITIALIZE_STREAMS,
// AWS_REGION, AWS_ACCOUNT_ID, SHARD_LIMIT, LOG_LEVEL, ...). The *_DURATION settings
// (CREATE_STREAM_DURATION etc.) default to 0ms here instead of 500ms.
//
// Prints exactly one line `LISTENING <plain port>` to stdout once both ports accept
// connections. Exits on SIGTERM/SIGINT/SIGHUP, and when stdin reaches EOF if stdin
// is a pipe, socket or terminal. A stdin of /dev/null or a file is ignored.
'use strict'

const fs = require('fs')
const net = require('net')
const tty = require('tty')
const path = require('path')

const pkgDir = path.join(__dirname, 'node_modules', 'kinesis-local')
const mainJs = path.join(pkgDir, 'main.js')
if (!fs.existsSync(mainJs)) {
  process.stderr.write('kinesis-local is not installed: run `npm ci --prefix tests/servers`\n')
  process.exit(2)
}

const portArg = process.argv[2] || process.env.KINESIS_MOCK_PLAIN_PORT || process.env.PORT || '0'
const port = Number(portArg)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`invalid port: ${portArg}\n`)
  process.exit(2)
}

if (!process.env.KINESIS_MOCK_TLS_PORT) process.env.KINESIS_MOCK_TLS_PORT = '0'
if (!process.env.KINESIS_MOCK_CERT_PATH) process.env.KINESIS_MOCK_CERT_PATH = path.join(pkgDir, 'server.json')
for (const name of [
  'CREATE_STREAM_DURATION', 'DELETE_STREAM_DURATION', 'REGISTER_STREAM_CONSUMER_DURATION',
  'DEREGISTER_STREAM_CONSUMER_DURATION', 'START_STREAM_ENCRYPTION_DURATION',
  'STOP_STREAM_ENCRYPTION_DURATION', 'MERGE_SHARDS_DURATION', 'SPLIT_SHARD_DURATION',
  'UPDATE_SHARD_COUNT_DURATION', 'UPDATE_STREAM_MODE_DURATION',
]) {
  if (!process.env[name]) process.env[name] = '0ms'
}

// Keep stdout for the LISTENING line alone: kinesis-mock's own output (logs at
// LOG_LEVEL=DEBUG and so on) goes to stderr.
const writeStdout = process.stdout.write.bind(process.stdout)
process.stdout.write = process.stderr.write.bind(process.stderr)

const LOOPBACK = '127.0.0.1'
const WILDCARD = new Set(['0.0.0.0', '::', '::0', '0:0:0:0:0:0:0:0', '[::]'])

// Both of kinesis-mock's servers are plain net.Server objects (TLS is layered on
// the sockets), so the plain one is told apart by its port number.
let plainPort = null
let plainReady = false
let tlsReady = false
let announced = false
function maybeAnnounce() {
  if (!announced && plainReady && tlsReady) {
    announced = true
    writeStdout(`LISTENING ${plainPort}\n`)
  }
}

const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb])
    if (typeof args[1] === 'string') {
      if (WILDCARD.has(args[1])) args[1] = LOOPBACK
    } else {
      args.splice(1, 0, LOOPBACK)
    }
  } else if (first && typeof first === 'object' && !Array.isArray(first) && first.path === undefined &&
             first.fd === undefined && first._handle === undefined) {
    // listen({port, host, ...}[, cb])
    if (!first.host || WILDCARD.has(first.host)) args[0] = Object.assign({}, first, { host: LOOPBACK })
  } else if (first === undefined || typeof first === 'function') {
    // listen([cb]): random port on every interface
    args.unshift(0, LOOPBACK)
  }
  this.once('listening', () => {
    const addr = this.address()
    if (addr && typeof addr === 'object' && addr.port === plainPort) plainReady = true
    else tlsReady = true
    maybeAnnounce()
  })
  return origListen.apply(this, args)
}

let stopping = false
function stop(code) {
  if (stopping) return
  stopping = true
  process.exit(code)
}
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

// Port 0 for the plain port: take a free loopback port first (kinesis-mock must be
// told a number so that its plain server can be recognised).
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    origListen.call(probe, 0, LOOPBACK, () => {
      const p = probe.address().port
      probe.close(() => resolve(p))
    })
  })
}

;(port === 0 ? freePort() : Promise.resolve(port)).then((p) => {
  plainPort = p
  process.env.KINESIS_MOCK_PLAIN_PORT = String(p)
  // kinesis-mock reads server.json (and a relative PERSIST_PATH) from the working
  // directory: run it from its own package folder.
  process.chdir(pkgDir)
  require(mainJs)
}, (err) => {
  process.stderr.write(`kinesis-mock launcher failed: ${err}\n`)
  process.exit(1)
})
