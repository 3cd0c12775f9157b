#!/usr/bin/env bash
# Model-server benchmarks for docs/benchmarks.md, "Model server": echo round trips of
# `parley model-serve` next to a Node `ws` echo server under the same C++ client, idle connections
# and memory per connection, and concurrent real-time /v1/listen streams.
# Usage: bench/model_server_bench.sh [BUILD_DIR=build] (needs node + tests/node's npm packages)
# Environment: CONNS (1,100,1000), SECONDS_PER_RUN (10), IDLE_CONNS (5000), STREAMS (1,2,4,6,8),
#              LISTEN_SECONDS (30)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/${1:-build}"
parley="$build/apps/parley/parley"
bench="$build/bench/model_server_bench"
streams="${STREAMS:-1,2,4,6,8}"
max_streams="$(tr ',' '\n' <<<"$streams" | sort -n | tail -1)"

(cd "$root/tests/node" && { [ -d node_modules/ws ] || npm ci --no-audit --no-fund --loglevel=error; })

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start CMD...: runs CMD, waits for its "listening on HOST:PORT" line, sets PORT and PID.
start() {
  local out
  out="$(mktemp)"
  "$@" >"$out" 2>/dev/null &
  PID=$!
  pids+=("$PID")
  PORT=""
  for _ in $(seq 200); do
    PORT="$(grep -m1 -o 'listening on [^ ]*' "$out" | sed 's/.*://' || true)"
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  rm -f "$out"
  [ -n "$PORT" ] || { echo "$1 did not start" >&2; exit 1; }
}

start "$parley" model-serve --host 127.0.0.1 --port 0 --decoders "$max_streams" \
  --warm-decoders "$max_streams" --log-level warn
parley_port=$PORT parley_pid=$PID
NODE_PATH="$root/tests/node/node_modules" start node "$root/bench/node_ws_echo.cjs" 0
node_port=$PORT node_pid=$PID
until curl -sf "http://127.0.0.1:$parley_port/ping" >/dev/null; do sleep 0.2; done

echo "## Echo round trip (one ${SIZE:-64}-byte text message per connection every 100 ms)"
"$bench" echo "parley=ws://127.0.0.1:$parley_port/invocations-bidirectional-stream" \
  "node-ws=ws://127.0.0.1:$node_port/" --conns "${CONNS:-1,100,1000}" \
  --seconds "${SECONDS_PER_RUN:-10}" --size "${SIZE:-64}"

echo
echo "## Idle connections (parley)"
"$bench" idle "ws://127.0.0.1:$parley_port/invocations-bidirectional-stream" \
  --conns "${IDLE_CONNS:-5000}" --pid "$parley_pid"
echo
echo "## Idle connections (node ws)"
"$bench" idle "ws://127.0.0.1:$node_port/" --conns "${IDLE_CONNS:-5000}" --pid "$node_pid"

echo
echo "## Concurrent real-time /v1/listen streams"
"$bench" listen "ws://127.0.0.1:$parley_port/v1/listen" --streams "$streams" \
  --seconds "${LISTEN_SECONDS:-30}"
