#!/usr/bin/env bash
# plugin_errors: broken plugins on the addon path are each reported on stderr with the file and the
# cause, and Parley keeps going: the built-in addons and a good plugin beside them still load, and
# a graph using the good plugin still runs.
#   no_entry_point.so   a shared library without parley_plugin_info
#   wrong_abi.so        a plugin declaring ABI version 999
#   bad_manifest.so     a plugin whose addon manifest is malformed
#   not_a_library.so    text, not ELF (written here)
#   minimal_extension.so  the good example plugin
# Usage: plugin_errors.sh PARLEY_BIN TEST_PLUGIN_DIR SOURCE_DIR
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

parley=$1 built_plugins=$2 source_dir=$3
make_tmp
dir=$TMP/plugins
mkdir "$dir"
for p in no_entry_point wrong_abi bad_manifest minimal_extension; do
  [[ -f "$built_plugins/$p.so" ]] || fail "$built_plugins/$p.so is missing (build the tests first)"
  cp "$built_plugins/$p.so" "$dir/"
done
printf 'this is a text file, not a shared library\n%.0s' {1..20} >"$dir/not_a_library.so"

rc=0
"$parley" --addon-path "$dir" --addon-path "$TMP/no_such_dir" addons >"$TMP/out.txt" 2>"$TMP/err.txt" ||
  rc=$?
assert_rc 0 "$rc" "parley addons with broken plugins" "$TMP/err.txt"

# Each failure names the file and says what is wrong.
assert_contains "$TMP/err.txt" \
  "plugin '$dir/no_entry_point.so' has no parley_plugin_info entry point (declare one with PARLEY_PLUGIN" \
  "missing entry point"
assert_matches "$TMP/err.txt" \
  "plugin '$dir/wrong_abi\.so' was built for Parley ABI version 999, this Parley has ABI version [0-9]+: rebuild the plugin" \
  "wrong ABI version"
assert_contains "$TMP/err.txt" "plugin '$dir/not_a_library.so' failed to load: " "not a shared library"
assert_matches "$TMP/err.txt" "not_a_library\.so.*(invalid ELF header|file too short)" \
  "dlopen's cause for a non-ELF file"
assert_matches "$TMP/err.txt" "plugin '$dir/bad_manifest\.so' \(bad_manifest\): .*properties" \
  "malformed manifest"
assert_contains "$TMP/err.txt" "addon path directory '$TMP/no_such_dir' cannot be read" \
  "missing addon directory"
# One error line per problem, at error level, and nothing about the good plugin.
errors=$(grep -c " error \[parley\] " "$TMP/err.txt" || true)
[[ "$errors" == 5 ]] || { show "$TMP/err.txt"; fail "expected 5 error lines, got $errors"; }
assert_not_contains "$TMP/err.txt" "minimal_extension.so" "the good plugin loads cleanly"

# Everything else is still there.
for addon in echo log_sink wav_sink wav_source; do
  grep -qx "$addon" "$TMP/out.txt" || { show "$TMP/out.txt"; fail "built-in addon $addon not listed"; }
done
assert_contains "$TMP/out.txt" "uppercase  (from $dir/minimal_extension.so)" "good plugin beside bad ones"
assert_not_contains "$TMP/out.txt" "bad_manifest" "addon with a malformed manifest"

# And a graph using the good plugin runs to completion despite the broken neighbours.
cd "$source_dir"
rc=0
timeout 60 "$parley" --addon-path "$dir" run examples/minimal_extension/graph.json \
  --set log.path="$TMP/run.jsonl" >/dev/null 2>"$TMP/run.err" || rc=$?
assert_rc 0 "$rc" "parley run with broken plugins on the addon path" "$TMP/run.err"
assert_contains "$TMP/run.jsonl" '"text":"HELLO, PARLEY!"' "graph output"

echo "plugin_errors: ok"
