#!/usr/bin/env bash
# cli_graph_validate: `parley graph validate` reports every problem of a broken graph, each with the
# file and the JSON path, and exits 1; a good graph exits 0 and says ok.
# Usage: cli_graph_validate.sh PARLEY_BIN SOURCE_DIR
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

parley=$1 source_dir=$2
make_tmp
cd "$source_dir"

broken=tests/integration/data/broken_graph.json
rc=0
"$parley" graph validate "$broken" >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
assert_rc 1 "$rc" "validating $broken" "$TMP/out.txt" "$TMP/err.txt"

# One line per problem: "<file>: <json path>: <what is wrong>".
expected=(
  "$broken: /nodes/0/property/realtime: property 'realtime' of addon 'wav_source': expected bool, got string \"sometimes\""
  "$broken: /nodes/1/property/gain: unknown property 'gain' for addon 'echo' (known: none)"
  "$broken: /nodes/2/name: duplicate node name 'echo'"
  "$broken: /nodes/3/addon: unknown addon 'no_such_addon' (available: "
  "$broken: /nodes/5/property/path: missing required property 'path' (string) of addon 'wav_sink'"
  "$broken: /connections/0/audio_frame/0/dest/1: destination 'nowhere' is not a node of this graph"
  "$broken: /connections/1/data/0/dest/0: node 'sink' (addon 'wav_sink') does not accept data 'text_data'"
  "7 problems in $broken"
)
for line in "${expected[@]}"; do
  assert_contains "$TMP/out.txt" "$line" "graph validate problem list"
done
# Nothing else is reported (no spurious problems, no duplicates).
lines=$(wc -l <"$TMP/out.txt")
[[ "$lines" == "${#expected[@]}" ]] ||
  { show "$TMP/out.txt"; fail "expected ${#expected[@]} lines of output, got $lines"; }

# A good graph.
rc=0
"$parley" graph validate graphs/echo.json >"$TMP/ok.txt" 2>"$TMP/ok.err" || rc=$?
assert_rc 0 "$rc" "validating graphs/echo.json" "$TMP/ok.txt" "$TMP/ok.err"
assert_contains "$TMP/ok.txt" "graphs/echo.json: ok (1 graph: echo [4 nodes])" "good graph"

# A file that does not exist is a problem too, not a crash.
rc=0
"$parley" graph validate "$TMP/missing.json" >"$TMP/missing.txt" 2>&1 || rc=$?
assert_rc 1 "$rc" "validating a missing file" "$TMP/missing.txt"
assert_contains "$TMP/missing.txt" "$TMP/missing.json" "missing file named"

echo "cli_graph_validate: ok"
