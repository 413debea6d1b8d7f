"""Firehose with an S3 destination on a moto server, set up and read back with
boto3: the tests' client, independent of the recorder.

  python firehose_admin.py ENDPOINT create BUCKET STREAM...
      creates BUCKET and, per STREAM, a Direct PUT delivery stream that writes
      to BUCKET under the prefix STREAM/
  python firehose_admin.py ENDPOINT read BUCKET PREFIX DIR
      writes each object under PREFIX to DIR/<n> (n from 0, in key order) and
      prints one line per object: `<n> <size> <key>`

moto writes one object per PutRecordBatch call, at once, holding the records
joined as they are. Run it with the Python of .ci/.venv (boto3 is installed
there by .ci/install-servers.sh).
"""

import os
import sys

import boto3

endpoint, command, *args = sys.argv[1:]
session = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="AKIDTEST",
    aws_secret_access_key="admin-secret",
)
s3 = boto3.client("s3", **session)

if command == "create":
    bucket, *streams = args
    s3.create_bucket(Bucket=bucket)
    firehose = boto3.client("firehose", **session)
    for stream in streams:
        firehose.create_delivery_stream(
            DeliveryStreamName=stream,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose-test",
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "Prefix": f"{stream}/",
            },
        )
elif command == "read":
    bucket, prefix, out = args
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    for n, key in enumerate(sorted(keys)):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with open(os.path.join(out, str(n)), "wb") as f:
            f.write(body)
        print(n, len(body), key)
else:
    sys.exit(f"unknown command {command!r}")
