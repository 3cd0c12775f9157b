#!/usr/bin/env bash
# cli_run_echo: `parley run graphs/echo.json` plays a WAV through the echo stage into a new WAV and
# stops by itself at the end of the input; the output holds exactly the input's samples.
# Usage: cli_run_echo.sh PARLEY_BIN SOURCE_DIR
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

parley=$1 source_dir=$2
input=/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav
if [[ ! -f "$input" ]]; then
  echo "SKIP: $input not found (install pocketsphinx-en-us test data)"
  exit 77
fi
make_tmp
cd "$source_dir"
unset PARLEY_DEMO_WAV  # the graph's default input is the file above

out=$TMP/e.wav
rc=0
# `timeout` turns a graph that never stops into a failure instead of a hung test.
timeout 120 "$parley" run graphs/echo.json --set source.realtime=false --set sink.path="$out" \
  >"$TMP/run.out" 2>"$TMP/run.err" || rc=$?
assert_rc 0 "$rc" "parley run graphs/echo.json" "$TMP/run.err"
[[ -f "$out" ]] || { show "$TMP/run.err"; fail "no WAV written to $out"; }
assert_contains "$TMP/run.err" "stopping: graph finished" "graph stops at the end of the input"

# Same format, same number of samples and, since echo and wav_sink pass audio through untouched
# at the input's own rate, the same samples.
python3 - "$input" "$out" <<'PY'
import sys, wave
def read(path):
    with wave.open(path, "rb") as w:
        return w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes(), w.readframes(w.getnframes())
a, b = read(sys.argv[1]), read(sys.argv[2])
print(f"input  {sys.argv[1]}: {a[0]} ch, {a[1] * 8} bit, {a[2]} Hz, {a[3]} samples")
print(f"output {sys.argv[2]}: {b[0]} ch, {b[1] * 8} bit, {b[2]} Hz, {b[3]} samples")
if a[:3] != b[:3]:
    sys.exit(f"FAIL: output format {b[:3]} differs from input {a[:3]}")
if a[3] != b[3]:
    sys.exit(f"FAIL: output has {b[3]} samples, input has {a[3]}")
if a[4] != b[4]:
    first = next(i for i in range(min(len(a[4]), len(b[4]))) if a[4][i] != b[4][i])
    sys.exit(f"FAIL: output samples differ from the input from byte {first}")
PY

# log_sink (stdout) saw the audio: its summary counts the frames the echo stage sent on.
assert_matches "$TMP/run.out" '"summary":\{.*"audio_frame:pcm_frame":[1-9][0-9]*' "log_sink summary"

echo "cli_run_echo: ok"
