#!/usr/bin/env node
// A tiny, independent Kinesis client for the demo: creates a stream and reads
// every record back, with plain HTTP (JSON 1.1) and no code of this project.
//
//   node tests/servers/kinesis_admin.js ENDPOINT create STREAM [SHARDS]
//   node tests/servers/kinesis_admin.js ENDPOINT read STREAM
//
// Local servers check only that a SigV4 Authorization header is present, so a
// fixed one is sent.
'use strict'

const [endpoint, command, stream, shards] = process.argv.slice(2)

async function call(action, body) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': `Kinesis_20131202.${action}`,
      'X-Amz-Date': new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, ''),
      Authorization: 'AWS4-HMAC-SHA256 Credential=demo/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${action}: HTTP ${response.status} ${text}`)
  return text ? JSON.parse(text) : {}
}

async function main() {
  if (command === 'create') {
    await call('CreateStream', { StreamName: stream, ShardCount: Number(shards || 1) })
    for (let i = 0; i < 100; i++) {
      const d = await call('DescribeStreamSummary', { StreamName: stream })
      if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') return
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`stream ${stream} never became ACTIVE`)
  } else if (command === 'read') {
    const { Shards } = await call('ListShards', { StreamName: stream })
    for (const shard of Shards) {
      let { ShardIterator } = await call('GetShardIterator', {
        StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON',
      })
      while (ShardIterator) {
        const page = await call('GetRecords', { ShardIterator, Limit: 10000 })
        if (page.Records.length === 0) break
        for (const r of page.Records) {
          console.log(`${r.PartitionKey}\t${Buffer.from(r.Data, 'base64').toString('utf8')}`)
        }
        ShardIterator = page.NextShardIterator
      }
    }
  } else {
    throw new Error('usage: kinesis_admin.js ENDPOINT create|read STREAM [SHARDS]')
  }
}

main().catch((e) => { console.error(String(e)); process.exit(1) })
