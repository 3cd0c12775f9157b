#!/usr/bin/env bash
# cli_say: `parley say "text" -o out.wav` writes a 16-bit mono WAV at the requested rate holding
# speech of a plausible length and level, and exits 0; an unknown voice and empty text exit
# non-zero with a message saying what was wrong.
# Usage: cli_say.sh PARLEY_BIN SOURCE_DIR
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

parley=$1 source_dir=$2
make_tmp
cd "$source_dir"  # graphs/say.json is found relative to the working directory

text="Hello from Parley. This sentence was spoken by eSpeak NG and written to a file."
out=$TMP/say.wav
rc=0
timeout 60 "$parley" say "$text" -o "$out" >"$TMP/say.out" 2>"$TMP/say.err" || rc=$?
if [[ $rc -ne 0 ]] && grep -q "eSpeak NG data file" "$TMP/say.err"; then
  echo "SKIP: eSpeak NG data is not installed"
  exit 77
fi
assert_rc 0 "$rc" "parley say" "$TMP/say.err"
assert_matches "$TMP/say.out" "^wrote $out: [0-9.]+ s of 16000 Hz mono" "summary line"

# 16 kHz mono 16-bit; 14 words at 175 wpm last about 4-5 s; speech, not silence or clipping.
python3 - "$out" 16000 2.5 8.0 <<'PY'
import array, math, sys, wave
path, rate, lo, hi = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
with wave.open(path, "rb") as w:
    ch, width, fr, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
    pcm = array.array("h", w.readframes(n))
secs = n / fr
rms = math.sqrt(sum(s * s for s in pcm) / max(len(pcm), 1)) / 32768
print(f"{path}: {ch} ch, {width * 8} bit, {fr} Hz, {secs:.2f} s, rms {rms:.3f}")
if (ch, width, fr) != (1, 2, rate):
    sys.exit(f"FAIL: format {(ch, width * 8, fr)}, expected (1, 16, {rate})")
if not lo <= secs <= hi:
    sys.exit(f"FAIL: {secs:.2f} s of audio, expected {lo}..{hi} s")
if not 0.02 <= rms <= 0.5:
    sys.exit(f"FAIL: rms {rms:.3f} is not speech level")
PY

# Options reach the graph: a slower rate at 22.05 kHz gives a longer file at that rate.
slow=$TMP/slow.wav
rc=0
timeout 60 "$parley" say "$text" -o "$slow" --rate 100 --pitch 30 --sample-rate 22050 \
  --voice en-gb >"$TMP/slow.out" 2>"$TMP/slow.err" || rc=$?
assert_rc 0 "$rc" "parley say --rate 100 --sample-rate 22050 --voice en-gb" "$TMP/slow.err"
python3 - "$slow" 22050 5.0 14.0 <<'PY'
import sys, wave
path, rate, lo, hi = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
with wave.open(path, "rb") as w:
    fr, secs = w.getframerate(), w.getnframes() / w.getframerate()
print(f"{path}: {fr} Hz, {secs:.2f} s")
if fr != rate or not lo <= secs <= hi:
    sys.exit(f"FAIL: {fr} Hz, {secs:.2f} s; expected {rate} Hz, {lo}..{hi} s")
PY

# An unknown voice: non-zero, and the message names the voice.
rc=0
timeout 60 "$parley" say "hi" -o "$TMP/bad.wav" --voice xx-nope >"$TMP/bad.out" 2>"$TMP/bad.err" ||
  rc=$?
[[ $rc -ne 0 ]] || fail "parley say --voice xx-nope exited 0"
assert_contains "$TMP/bad.err" "no voice or language 'xx-nope'" "bad voice message"

# Empty text: usage error before anything runs.
rc=0
"$parley" say "   " -o "$TMP/empty.wav" >"$TMP/empty.out" 2>"$TMP/empty.err" || rc=$?
assert_rc 2 "$rc" "parley say with empty text" "$TMP/empty.err"
assert_contains "$TMP/empty.err" "the text is empty" "empty text message"
[[ ! -e "$TMP/empty.wav" ]] || fail "a WAV file was written for empty text"

echo "cli_say: ok"
