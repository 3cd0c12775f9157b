#!/usr/bin/env bash
# asr_accuracy.sh: word error rate of `parley transcribe` (the streaming path: wav_source →
# webrtc_vad → pocketsphinx_asr, and with --no-vad PocketSphinx's own endpointing) against the
# Debian `pocketsphinx_continuous` tool, same en-US model, on every LibriVox recording of
# pocketsphinx-testdata. Prints a markdown table (parley_wer) for docs/benchmarks.md.
#
# Usage: bench/asr_accuracy.sh [BUILD_DIR] [DATA_DIR]     (ALIGN=1 also prints the alignments)
set -euo pipefail

build=${1:-build}
data=${2:-/usr/share/pocketsphinx/test/data/librivox}
model=/usr/share/pocketsphinx/model/en-us
parley=$build/apps/parley/parley
wer=$build/bench/parley_wer
for tool in "$parley" "$wer"; do
  [[ -x "$tool" ]] || { echo "asr_accuracy: $tool not built (ninja -C $build parley_cli parley_wer)" >&2; exit 1; }
done
command -v pocketsphinx_continuous >/dev/null ||
  { echo "asr_accuracy: pocketsphinx_continuous not found (apt-get install pocketsphinx)" >&2; exit 1; }
[[ -f "$data/transcription" ]] ||
  { echo "asr_accuracy: no $data/transcription (apt-get install pocketsphinx-testdata)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One line per utterance in the Sphinx transcription format: "words (utterance_id)".
strip_times() { sed -E 's/^\[[0-9.]+-[0-9.]+\] //' | tr '\n' ' ' | sed -E 's/ +$//'; }

# Long-form case: all recordings in one file, 1 s of silence between them, so that utterance
# splitting (VAD or decoder endpointing) matters; its reference is the references joined.
long_id=all_five_1s_apart
python3 - "$data" "$tmp/$long_id.wav" "$tmp/reference" <<'PY'
import glob, os, re, sys, wave
data, out, ref_out = sys.argv[1:]
refs = {}
for line in open(os.path.join(data, "transcription")):
    m = re.match(r"(.*)\((\S+)\)\s*$", line)
    if m:
        refs[m.group(2)] = m.group(1).replace("<s>", "").replace("</s>", "").split()
wavs = sorted(glob.glob(os.path.join(data, "*.wav")))
with wave.open(out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    for i, path in enumerate(wavs):
        with wave.open(path) as r:
            if i: w.writeframes(b"\0\0" * 16000)
            w.writeframes(r.readframes(r.getnframes()))
with open(ref_out, "w") as f:
    for path in wavs:
        utt = os.path.basename(path)[:-4]
        f.write(" ".join(refs[utt]) + f" ({utt})\n")
words = [w for p in wavs for w in refs[os.path.basename(p)[:-4]]]
with open(ref_out + ".long", "w") as f:
    f.write(" ".join(words) + " (all_five_1s_apart)\n")
PY

for wav in "$data"/*.wav "$tmp/$long_id.wav"; do
  id=$(basename "$wav" .wav)
  # pocketsphinx_continuous prints one line per utterance it finds in the file.
  text=$(pocketsphinx_continuous -infile "$wav" -hmm "$model/en-us" -lm "$model/en-us.lm.bin" \
    -dict "$model/cmudict-en-us.dict" 2>/dev/null | tr '\n' ' ' | sed -E 's/ +$//')
  echo "$text ($id)" >>"$tmp/continuous.hyp"
  text=$("$parley" transcribe "$wav" | strip_times)
  echo "$text ($id)" >>"$tmp/parley.hyp"
  text=$("$parley" transcribe --no-vad "$wav" | strip_times)
  echo "$text ($id)" >>"$tmp/parley_novad.hyp"
done

args=()
[[ "${ALIGN:-0}" == 1 ]] && args+=(--align)
hyps=("pocketsphinx_continuous=$tmp/continuous.hyp" "parley transcribe=$tmp/parley.hyp"
  "parley transcribe --no-vad=$tmp/parley_novad.hyp")
echo "Each recording on its own (one sentence each):"
echo
"$wer" "${args[@]}" --markdown "$tmp/reference" "${hyps[@]}"
echo
echo "Long form: the five recordings in one file, 1 s of silence between them (utterance splitting):"
echo
"$wer" "${args[@]}" --markdown "$tmp/reference.long" "${hyps[@]}"
if [[ "${SHOW:-0}" == 1 ]]; then
  for h in continuous parley parley_novad; do echo "== $h"; cat "$tmp/$h.hyp"; done
fi
