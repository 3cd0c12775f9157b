#!/usr/bin/env bash
# Session-server benchmarks for docs/benchmarks.md, "Session server": `parley loadgen` against a local
# `parley serve` running the echo agent, in thread and in process isolation, for a list of user
# counts; plus warm session start latency (starts spread out, one at a time).
# Usage: bench/server_bench.sh [BUILD_DIR=build]
# Environment: ISOLATIONS (thread,process), THREAD_USERS (100,250,500), PROCESS_USERS (25,50,100),
#              SECONDS_PER_RUN (20), RAMP_MS (5000), START_USERS (50), WAV (a pocketsphinx sample)
# Loopback only; every run is bounded by its user count and duration.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/${1:-build}"
parley="$build/apps/parley/parley"
wav="${WAV:-/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav}"
seconds="${SECONDS_PER_RUN:-20}"
ramp="${RAMP_MS:-5000}"
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# serve ISOLATION: starts a server, sets PORT and PID.
serve() {
  local fifo="$tmp/fifo"
  rm -f "$fifo" && mkfifo "$fifo"
  echo "\$ parley --log-level warn serve --host 127.0.0.1 --port 0 --isolation $1 --workers-max 5000 --worker-quit-timeout -1"
  "$parley" --log-level warn serve --host 127.0.0.1 --port 0 --isolation "$1" \
    --graphs-dir "$root/graphs" --log-path "$tmp" --workers-max 5000 --worker-quit-timeout -1 \
    >"$fifo" 2>"$tmp/server-$1.log" &
  PID=$!
  pids+=("$PID")
  PORT="$(grep -m1 -o 'listening on [^ ]*' "$fifo" | sed 's/.*://')"
  cat "$fifo" >/dev/null &
}

loadgen() {  # USERS DURATION RAMP_MS
  echo "\$ parley loadgen --server http://127.0.0.1:\$PORT --users $1 --wav \$WAV --duration $2" \
    "--ramp-ms $3 --server-pid \$SERVER_PID   # load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$parley" --log-level warn loadgen --server "http://127.0.0.1:$PORT" --users "$1" \
    --wav "$wav" --duration "$2" --ramp-ms "$3" --server-pid "$PID" || true
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for iso in $(tr ',' ' ' <<<"${ISOLATIONS:-thread,process}"); do
  serve "$iso"
  echo "## $iso isolation: warm start latency (${START_USERS:-50} starts over 10 s, 1 s each)"
  loadgen "${START_USERS:-50}" 1 10000
  if [[ "$iso" == thread ]]; then users="${THREAD_USERS:-100,250,500}"; else users="${PROCESS_USERS:-25,50,100}"; fi
  for n in $(tr ',' ' ' <<<"$users"); do
    echo "## $iso isolation: $n users, $seconds s, starts over $ramp ms"
    loadgen "$n" "$seconds" "$ramp"
  done
  kill "$PID"
  wait "$PID" 2>/dev/null || true
done
