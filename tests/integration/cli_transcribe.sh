#!/usr/bin/env bash
# cli_transcribe: `parley transcribe` prints the words of a LibriVox recording as
# "[start-end] text" lines and exits 0 at the end of the file (with and without WebRTC VAD, and
# as JSON lines); a missing or non-WAV file fails with a message naming it.
# graphs/transcribe.json, the same pipeline as a graph file, runs with `parley run` and stops by
# itself after the last final.
# Usage: cli_transcribe.sh PARLEY_BIN SOURCE_DIR
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

parley=$1 source_dir=$2
input=/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav
if [[ ! -f "$input" || ! -d /usr/share/pocketsphinx/model/en-us ]]; then
  echo "SKIP: needs pocketsphinx-testdata and pocketsphinx-en-us"
  exit 77
fi
make_tmp

# Reference: "he was not an ill disposed young man". PocketSphinx hears "illness those" for "ill
# disposed"; the other words are reliable.
for mode in vad no-vad; do
  flags=()
  [[ $mode == no-vad ]] && flags=(--no-vad)
  rc=0
  timeout 120 "$parley" transcribe "${flags[@]}" "$input" >"$TMP/$mode.out" 2>"$TMP/$mode.err" || rc=$?
  assert_rc 0 "$rc" "parley transcribe ${flags[*]} $input" "$TMP/$mode.out" "$TMP/$mode.err"
  assert_matches "$TMP/$mode.out" '^\[[0-9]+\.[0-9]{2}-[0-9]+\.[0-9]{2}\] ' "[start-end] text lines ($mode)"
  assert_contains "$TMP/$mode.out" "he was not an" "transcript ($mode)"
  assert_contains "$TMP/$mode.out" "young man" "transcript ($mode)"
  # stdout holds the transcript only; routine logs stay quiet.
  if grep -qvE '^\[[0-9.]+-[0-9.]+\] ' "$TMP/$mode.out"; then
    show "$TMP/$mode.out"
    fail "stdout has lines other than transcripts ($mode)"
  fi
done

# --json: one asr_result per line with the contract's fields and word times.
rc=0
timeout 120 "$parley" transcribe --json "$input" >"$TMP/json.out" 2>"$TMP/json.err" || rc=$?
assert_rc 0 "$rc" "parley transcribe --json" "$TMP/json.err"
python3 - "$TMP/json.out" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert lines, "no JSON lines"
for r in lines:
    for key in ("text", "final", "start_ms", "duration_ms", "language", "turn_id", "words"):
        assert key in r, f"missing {key}: {r}"
    assert r["final"] is True and r["language"] == "en-US", r
text = " ".join(r["text"] for r in lines)
assert "young man" in text, text
words = [w for r in lines for w in r["words"]]
assert all(w["end_ms"] > w["start_ms"] for w in words), words
assert 0 <= words[0]["start_ms"] and words[-1]["end_ms"] <= 3100, words
PY

# A missing file: non-zero exit and a message naming it.
rc=0
"$parley" transcribe "$TMP/missing.wav" >"$TMP/missing.out" 2>"$TMP/missing.err" || rc=$?
[[ $rc -ne 0 ]] || fail "parley transcribe of a missing file exited 0"
assert_contains "$TMP/missing.err" "$TMP/missing.wav" "error names the missing file"
[[ ! -s "$TMP/missing.out" ]] || { show "$TMP/missing.out"; fail "output for a missing file"; }

# Not a WAV file.
echo "hello" >"$TMP/text.wav"
rc=0
"$parley" transcribe "$TMP/text.wav" >"$TMP/bad.out" 2>"$TMP/bad.err" || rc=$?
[[ $rc -ne 0 ]] || fail "parley transcribe of a text file exited 0"
assert_contains "$TMP/bad.err" "$TMP/text.wav" "error names the bad file"

# The graph file: log_sink's JSON lines hold partials, the final and asr_done; the graph stops.
cd "$source_dir"
rc=0
"$parley" graph validate graphs/transcribe.json >"$TMP/validate.out" 2>&1 || rc=$?
assert_rc 0 "$rc" "parley graph validate graphs/transcribe.json" "$TMP/validate.out"
rc=0
PARLEY_TRANSCRIBE_WAV=$input timeout 120 "$parley" run graphs/transcribe.json \
  >"$TMP/graph.out" 2>"$TMP/graph.err" || rc=$?
assert_rc 0 "$rc" "parley run graphs/transcribe.json" "$TMP/graph.out" "$TMP/graph.err"
assert_contains "$TMP/graph.err" "stopping: graph finished" "the graph stops at the end of the file"
python3 - "$TMP/graph.out" <<'PY'
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
results = [m["properties"] for m in msgs if m.get("name") == "asr_result"]
finals = [r for r in results if r["final"]]
assert any(not r["final"] for r in results), "no partial results"
assert len(finals) == 1 and "young man" in finals[0]["text"], finals
assert msgs[-1]["name"] == "asr_done", msgs[-1]
PY

echo "cli_transcribe: ok"
