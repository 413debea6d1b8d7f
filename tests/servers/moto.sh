#!/usr/bin/env bash
# Starts moto's server (Kinesis, Firehose, IAM, ... emulator) on loopback only.
#
#   bash tests/servers/moto.sh [PORT]
#
# PORT comes from $1, else $MOTO_PORT, else $PORT, else 0 (ephemeral). Binds
# 127.0.0.1 only. Uses the moto of .ci/.venv (made by .ci/install-servers.sh) when
# present, else python3's. Runs moto in one process, in-process rather than through
# the moto_server script, but with the very app that `moto_server -H 127.0.0.1 -p
# PORT` serves (werkzeug make_server, threaded, MotoRequestHandler), so that port
# 0 works and no child can outlive the launcher.
#
# Prints `LISTENING <port>` to stdout once moto answers HTTP.
#
# MOTO_VERIFY_SIGV4=1: moto then checks SigV4 signatures (INITIAL_NO_AUTH_ACTION_COUNT=0).
# moto only accepts keys that exist in the server (IAM user keys, or keys from
# sts:AssumeRole), and a fresh server has none, so this script first makes them
# with auth still off: IAM user `recorder-test` and role `recorder-test-role`, both
# with an inline policy allowing "*", one access key of the user, and one
# AssumeRole session (12 h; moto never expires it). It then turns verification on
# (POST /moto-api/reset-auth 0, the same as INITIAL_NO_AUTH_ACTION_COUNT=0) and
# prints, before the LISTENING line:
#   CREDENTIALS <access key id> <secret access key>
#   SESSION_CREDENTIALS <access key id> <secret access key> <session token>
# The first pair must be sent without a session token; the second needs its token.
# Any other key, a wrong token, or a wrong signature gets HTTP 403 with an XML body
# (Content-Type text/html, <Code>SignatureDoesNotMatch</Code> or
# <Code>InvalidClientTokenId</Code>), not the JSON error of the Kinesis protocol.
# moto does not check the request time (no skew limit). With auth on, a request
# without an Authorization header gets HTTP 500; with auth off, moto routes such a
# request by host and answers as S3. moto picks the service (and the region) from
# the credential scope of the Authorization header.
#
# MOTO_IDENTITY_POOL=1: also creates a Cognito identity pool that allows guests
# (moto's GetId needs an existing pool) and prints, before the LISTENING line:
#   IDENTITY_POOL <identity pool id>
# moto answers GetId and GetCredentialsForIdentity unsigned (routed by X-Amz-Target),
# mints a new identity id at every GetId, and gives fixed credentials
# (TESTACCESSKEY12345 / ABCSECRETKEY / ABC12345) that expire after 90 seconds.
#
# Request logging (one stderr line per request) is off unless MOTO_ACCESS_LOG=1.
#
# Stops moto on SIGTERM/SIGINT/SIGHUP, and when stdin reaches EOF if stdin is a
# pipe, socket or terminal (a stdin of /dev/null or a file is ignored).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [[ -x "$repo/.ci/.venv/bin/python" ]] && "$repo/.ci/.venv/bin/python" -c 'import moto.server' 2>/dev/null; then
  python="$repo/.ci/.venv/bin/python"
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import moto.server' 2>/dev/null; then
  python="$(command -v python3)"
else
  echo "moto[server] is not installed: run .ci/install-servers.sh" >&2
  exit 2
fi

port="${1:-${MOTO_PORT:-${PORT:-0}}}"
if ! [[ "$port" =~ ^[0-9]+$ ]] || (( port > 65535 )); then
  echo "invalid port: $port" >&2
  exit 2
fi

export MOTO_VERIFY_SIGV4="${MOTO_VERIFY_SIGV4:-0}"
# moto needs some region in its environment for its own boto3 use.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# Auth stays off while the IAM user is made; it is switched on after.
unset INITIAL_NO_AUTH_ACTION_COUNT

exec "$python" -c '
import json, os, re, signal, stat, sys, threading, urllib.parse, urllib.request

port = int(sys.argv[1])
import logging
if os.environ.get("MOTO_ACCESS_LOG") != "1":
    # one stderr line per request can fill a pipe that the harness does not drain
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
port = server.server_address[1]
os.environ["MOTO_PORT"] = str(port)  # moto builds some URLs from it
threading.Thread(target=server.serve_forever, daemon=True).start()

base = f"http://127.0.0.1:{port}"
urllib.request.urlopen(base + "/moto-api/data.json", timeout=30).read()

if os.environ.get("MOTO_IDENTITY_POOL") == "1":
    # CreateIdentityPool is a signed call: with auth off, moto reads only the scope
    req = urllib.request.Request(base + "/", method="POST", data=json.dumps(
        {"IdentityPoolName": "recorder_test", "AllowUnauthenticatedIdentities": True}).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityService.CreateIdentityPool",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/cognito-identity/aws4_request, SignedHeaders=host, Signature=0",
        "X-Amz-Date": "20240101T000000Z",
    })
    pool = json.loads(urllib.request.urlopen(req, timeout=30).read())["IdentityPoolId"]
    print(f"IDENTITY_POOL {pool}", flush=True)

if os.environ.get("MOTO_VERIFY_SIGV4") == "1":
    def query(service, action, version, **params):
        # auth is still off here: moto reads only the key id and the scope
        body = urllib.parse.urlencode({"Action": action, "Version": version, **params}).encode()
        req = urllib.request.Request(base + "/", data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0",
            "X-Amz-Date": "20240101T000000Z",
        })
        return urllib.request.urlopen(req, timeout=30).read().decode()
    def tag(name, xml):
        return re.search(f"<{name}>([^<]+)</{name}>", xml).group(1)
    allow_all = json.dumps({"Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    iam = lambda action, **p: query("iam", action, "2010-05-08", **p)
    user_arn = tag("Arn", iam("CreateUser", UserName="recorder-test"))
    iam("PutUserPolicy", UserName="recorder-test", PolicyName="allow-all", PolicyDocument=allow_all)
    out = iam("CreateAccessKey", UserName="recorder-test")
    akid, secret = tag("AccessKeyId", out), tag("SecretAccessKey", out)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]})
    role_arn = tag("Arn", iam("CreateRole", RoleName="recorder-test-role", AssumeRolePolicyDocument=trust))
    iam("PutRolePolicy", RoleName="recorder-test-role", PolicyName="allow-all", PolicyDocument=allow_all)
    out = query("sts", "AssumeRole", "2011-06-15", RoleArn=role_arn, RoleSessionName="recorder-test",
                DurationSeconds="43200")
    s_akid, s_secret, s_token = tag("AccessKeyId", out), tag("SecretAccessKey", out), tag("SessionToken", out)
    # = INITIAL_NO_AUTH_ACTION_COUNT=0 from now on
    urllib.request.urlopen(urllib.request.Request(base + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}), timeout=30).read()
    print(f"CREDENTIALS {akid} {secret}", flush=True)
    print(f"SESSION_CREDENTIALS {s_akid} {s_secret} {s_token}", flush=True)

print(f"LISTENING {port}", flush=True)

def stop(*_):
    os._exit(0)
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, stop)

try:
    mode = os.fstat(0).st_mode
    watch = os.isatty(0) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
except OSError:
    watch = False
if watch:
    # a harness that drops its end of the pipe stops the server
    while os.read(0, 65536):
        pass
    stop()
else:
    threading.Event().wait()
' "$port"
