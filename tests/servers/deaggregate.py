#!/usr/bin/env python3
"""De-aggregates Kinesis records with aws-kinesis-agg, the published KPL
de-aggregation module for Python (the one Lambda functions use), so the
tests check the recorder's aggregates with code that is not the recorder's.

    .ci/.venv/bin/python tests/servers/deaggregate.py < kinesis-records.json

Input: a JSON list of the Kinesis records as a reader got them:
{"partition_key": str, "data": base64}.
Output: a JSON list of the user records, in order:
{"record": index of the Kinesis record that carried it, "aggregated": bool,
 "partition_key": str, "explicit_hash_key": str or null, "data": base64,
 "hash_key": the 128-bit hash key that routes it to a shard (its explicit
 hash key, else the MD5 of its partition key), in decimal}.
Exits 1 if a record that starts with the KPL magic number does not
de-aggregate (the module itself would pass it on silently).
"""
import base64
import hashlib
import json
import sys

from aws_kinesis_agg import MAGIC
from aws_kinesis_agg.deaggregator import iter_deaggregate_records


def text(value):
    return value.decode("ascii") if isinstance(value, bytes) else value


def main():
    users = []
    for index, record in enumerate(json.load(sys.stdin)):
        lambda_record = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "sequenceNumber": str(index),
                "approximateArrivalTimestamp": 0,
                "partitionKey": record["partition_key"],
                "data": record["data"],
            }
        }
        for user in iter_deaggregate_records(lambda_record):
            kinesis = user["kinesis"]
            aggregated = bool(kinesis.get("aggregated"))
            data = text(kinesis["data"])
            if not aggregated and base64.b64decode(data).startswith(MAGIC):
                sys.exit(f"Kinesis record {index} starts with the KPL magic number but does not de-aggregate")
            key = kinesis["partitionKey"]
            hash_key = kinesis.get("explicitHashKey")
            if hash_key is None:
                hash_key = str(int.from_bytes(hashlib.md5(key.encode("utf-8")).digest(), "big"))
            users.append(
                {
                    "record": index,
                    "aggregated": aggregated,
                    "partition_key": key,
                    "explicit_hash_key": kinesis.get("explicitHashKey"),
                    "data": data,
                    "hash_key": hash_key,
                }
            )
    json.dump(users, sys.stdout)


main()
