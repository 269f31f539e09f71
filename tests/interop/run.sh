#!/usr/bin/env bash
# Drives the official SDKs against examples/signed_echo.rs on loopback, one scheme at a time:
#   PyPI tencentcloud-sdk-python-common  -> --scheme tencent-cloud (TC3, HmacSHA1, HmacSHA256;
#                                           temporary credentials: Credential(id, key, token))
#   PyPI aliyun-python-sdk-core          -> --scheme aliyun-rpc   (GET, POST form; StsTokenCredential)
#   npm  aliyun-api-gateway              -> --scheme aliyun-apigw (GET query, POST form, POST JSON + MD5)
# Installs the clients itself (a venv and tests/interop/node_modules). Any failure fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

venv="${INTEROP_VENV:-/var/tmp/tollgate-interop-venv}"
if ! "$venv/bin/python" -c 'import tencentcloud, aliyunsdkcore' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
(cd "$here" && npm ci --silent --no-audit --no-fund)

cargo build --quiet --example signed_echo
bin="${CARGO_TARGET_DIR:-target}/debug/examples/signed_echo"

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

KEY_ID="AKIDinterop0000000000000000000000001"
APP_KEY="203999001"
SECRET="interopSecret-0000000000000000000001"
# temporary keys (STS): one with a valid and an expired token, another whose token is
# sent with the first (a mismatch); read by the clients from the environment
export STS_KEY="STS.interopTemporaryKey0001" STS_SECRET="interopStsSecret-0001"
export STS_TOKEN="CAISinteropValidToken/0001+==" STS_OLD_TOKEN="CAISinteropExpiredToken"
export STS_OTHER_KEY="STS.interopTemporaryKey0002" STS_OTHER_TOKEN="CAISinteropOtherKeyToken"
printf '{"%s": "%s", "%s": "%s", "%s": {"secret": "%s", "tokens": {"%s": 4102444800, "%s": 1000000000}}, "%s": {"secret": "x", "tokens": {"%s": 4102444800}}}\n' \
  "$KEY_ID" "$SECRET" "$APP_KEY" "$SECRET" "$STS_KEY" "$STS_SECRET" "$STS_TOKEN" "$STS_OLD_TOKEN" \
  "$STS_OTHER_KEY" "$STS_OTHER_TOKEN" > "$work/credentials.json"

start() {
  "$bin" --scheme "$1" --listen 127.0.0.1:0 --credentials "$work/credentials.json" >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 100); do
    line=$(head -n1 "$work/out" 2>/dev/null || true)
    case "$line" in "listening on http://"*) endpoint=${line#listening on http://}; return 0 ;; esac
    sleep 0.1
  done
  echo "signed_echo --scheme $1 did not start"; cat "$work/out" "$work/err"; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }

status=0
start tencent-cloud
"$venv/bin/python" "$here/tencent_cloud.py" "$endpoint" "$KEY_ID" "$SECRET" || status=1
stop
start aliyun-rpc
"$venv/bin/python" "$here/aliyun_rpc.py" "$endpoint" "$KEY_ID" "$SECRET" || status=1
stop
start aliyun-apigw
node "$here/aliyun_apigw.js" "$endpoint" "$APP_KEY" "$SECRET" || status=1
stop
exit $status
