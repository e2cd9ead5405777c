#!/usr/bin/env bash
# Single requests with wrk, as the speed issue measures them: a fresh
# SQLite file, one tenant of USERS users created over HTTP, then each
# operation for SECONDS with 16 connections on one wrk thread, and the
# server's CPU per request read from /proc/PID/stat.
#
#   cargo build --release -p scimitar
#   bench/wrk.sh                 # 10,000 users, 10 s per operation
#   USERS=100000 SECONDS_EACH=10 bench/wrk.sh
#
# Needs wrk (Debian: apt-get install wrk), curl and python3. Env:
# SCIMITAR_BIN (default target/release/scimitar), USERS, SECONDS_EACH,
# PORT (8099).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SCIMITAR_BIN:-target/release/scimitar}
users=${USERS:-10000}
seconds=${SECONDS_EACH:-10}
port=${PORT:-8099}
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

export SCIMITAR_DATABASE_URL="sqlite://$work/bench.db"
"$bin" migrate 2>/dev/null
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
tenant=$("$bin" tenant create --name Bench | field id)
key=$("$bin" apikey create --tenant "$tenant" | field key)
"$bin" serve --listen "127.0.0.1:$port" --rate-limit-per-second 0 >"$work/server.out" 2>/dev/null &
pid=$!
for _ in $(seq 100); do grep -q listening "$work/server.out" && break; sleep 0.1; done
base="http://127.0.0.1:$port/scim/v2"

# The users, over 8 kept connections.
python3 - "$port" "$key" "$users" <<'EOF'
import http.client, json, sys, threading
port, key, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def create(lo, hi):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(lo, hi):
        body = json.dumps({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"user{i}@bench.example", "displayName": f"User {i}",
            "name": {"givenName": "U", "familyName": f"N{i}"},
            "title": "Engineer", "active": True, "externalId": f"ext-{i}"})
        c.request("POST", "/scim/v2/Users", body, {
            "Authorization": "Bearer " + key, "Content-Type": "application/scim+json"})
        r = c.getresponse(); r.read()
        if r.status != 201:
            sys.exit(f"creating user {i}: {r.status}")
threads = [threading.Thread(target=create, args=(k * n // 8, (k + 1) * n // 8)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
EOF
id=$(curl -s -H "Authorization: Bearer $key" "$base/Users?count=1&startIndex=$((users / 2))" |
  python3 -c "import json,sys; print(json.load(sys.stdin)['Resources'][0]['id'])")

# One Lua script per method: the key, and a body per request.
cat >"$work/get.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $key"
EOF
cat >"$work/patch.lua" <<EOF
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/scim+json"
n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
    .. '"Operations":[{"op":"replace","path":"title","value":"T' .. n .. '"}]}')
end
EOF
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/scim+json"
n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
    .. '"userName":"wrk' .. n .. '@bench.example","displayName":"W","active":true}')
end
EOF

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
echo "| operation ($users users) | req/s | server CPU ms/req |"
echo "| --- | ---: | ---: |"
measure() {
  local name=$1 script=$2 path=$3 before after out requests rps
  before=$(cpu)
  out=$(wrk -t1 -c16 -d"${seconds}s" -s "$work/$script" "$base$path")
  after=$(cpu)
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  echo "| $name | $rps | $(python3 -c "print(f'{($after - $before) * 10 / $requests:.3f}')") |"
}
measure "GET /Users/{id}" get.lua "/Users/$id"
measure "GET /Users?filter=userName eq" get.lua "/Users?filter=userName%20eq%20%22user7@bench.example%22"
measure "GET /Users?startIndex=1&count=100" get.lua "/Users?startIndex=1&count=100"
measure "PATCH /Users/{id} (title; 16 at once on one user)" patch.lua "/Users/$id"
measure "POST /Users" post.lua "/Users"
echo "peak server RSS: $(awk '/VmHWM/ {print $2 / 1024 " MB"}' "/proc/$pid/status")"
