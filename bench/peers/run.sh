#!/usr/bin/env bash
# Benchmarks scimitar against peer SCIM servers with one workload.
#
#   cargo build --release -p scimitar -p scimitar-bench
#   bench/peers/run.sh [--users N] [--requests N] [--concurrency N] [--peers "scim2-server scimmy"]
#
# Installs each peer from its package registry, at pinned versions, into
# bench/peers/.work (override with PEERS_WORK); starts it on 127.0.0.1 with
# in-memory storage; runs scimitar-bench against scimitar and then, back to
# back, against the peer; stops the peer. Prints one table per server and the
# ratios. Every request goes to 127.0.0.1; every phase is bounded in count
# and time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${PEERS_WORK:-$here/.work}"
bench="${BENCH_BIN:-$root/target/release/scimitar-bench}"
scimitar="${SCIMITAR_BIN:-$root/target/release/scimitar}"
users=1000
requests=1000
concurrency=16
budget=600
peers="scim2-server scimmy"
token="bench-$RANDOM$RANDOM"

while [ $# -gt 0 ]; do
    case "$1" in
        --users) users="$2"; shift 2 ;;
        --requests) requests="$2"; shift 2 ;;
        --concurrency) concurrency="$2"; shift 2 ;;
        --phase-budget) budget="$2"; shift 2 ;;
        --peers) peers="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

for bin in "$bench" "$scimitar"; do
    if [ ! -x "$bin" ]; then
        echo "$bin not found: cargo build --release -p scimitar -p scimitar-bench" >&2
        exit 1
    fi
done

mkdir -p "$work/results"
results="$work/results"
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

install_scim2_server() {
    # scim2-server needs Python 3.11 or later.
    if [ ! -x "$work/venv/bin/python" ]; then
        python3 -m venv "$work/venv"
    fi
    "$work/venv/bin/pip" install --quiet --disable-pip-version-check \
        -r "$here/scim2-server/requirements.txt"
}

install_scimmy() {
    mkdir -p "$work/scimmy"
    cp "$here/scimmy/package.json" "$here/scimmy/package-lock.json" "$here/scimmy/server.mjs" "$work/scimmy/"
    (cd "$work/scimmy" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a peer in the background; sets pid and base.
start_peer() {
    local name="$1" port
    port="$(free_port)"
    case "$name" in
        scim2-server)
            "$work/venv/bin/python" "$here/scim2-server/app.py" "$port" "$token" >"$work/$name.log" 2>&1 &
            base="http://127.0.0.1:$port/v2" ;;
        scimmy)
            node "$work/scimmy/server.mjs" "$port" "$token" >"$work/$name.log" 2>&1 &
            base="http://127.0.0.1:$port/scim/v2" ;;
        *) echo "unknown peer $name" >&2; exit 2 ;;
    esac
    pid=$!
    for _ in $(seq 1 120); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name did not start:" >&2
            cat "$work/$name.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "$name did not listen on $port within 60 s" >&2
    exit 1
}

stop_peer() {
    cleanup
    pid=""
}

common=(--users "$users" --requests "$requests" --concurrency "$concurrency" --phase-budget "$budget")
pairs=()

echo "machine: $(nproc) cores; $(uptime)"
if command -v dotnet >/dev/null; then
    echo "note: dotnet is installed, but no .NET SCIM peer is wired into this script"
else
    echo "note: no .NET peer: the dotnet SDK is not on this machine nor in its Debian archive, and NuGet is out of reach"
fi

for peer in $peers; do
    echo
    echo "== installing $peer (pinned) into $work"
    case "$peer" in
        scim2-server) install_scim2_server ;;
        scimmy) install_scimmy ;;
        *) echo "unknown peer $peer" >&2; exit 2 ;;
    esac

    echo "== scimitar (before $peer); $(uptime)"
    SCIMITAR_BIN="$scimitar" "$bench" "${common[@]}" --json "$results/scimitar-vs-$peer.json" \
        | tee "$results/scimitar-vs-$peer.md" \
        || echo "warning: a scimitar phase failed (see the n/a rows above)"

    start_peer "$peer"
    echo "== $peer at $base (pid $pid); $(uptime)"
    "$bench" "${common[@]}" --target-url "$base" --token "$token" --peer-pid "$pid" \
        --peer-name "$peer" --json "$results/$peer.json" | tee "$results/$peer.md"
    stop_peer
    pairs+=("$results/scimitar-vs-$peer.json" "$results/$peer.json")
done

echo
echo "== ratios; $(uptime)"
python3 "$here/summary.py" "${pairs[@]}" | tee "$results/summary.md"
