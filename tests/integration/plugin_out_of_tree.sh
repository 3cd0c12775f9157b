#!/usr/bin/env bash
# plugin_out_of_tree: the SDK workflow of examples/minimal_extension/README.md, end to end.
#   1. `cmake --install` the Parley build into a temporary prefix;
#   2. build examples/minimal_extension against it with find_package(parley), out of tree;
#   3. run the example graph with the installed `parley` and the plugin on the addon path.
# Usage: plugin_out_of_tree.sh CMAKE BUILD_DIR SOURCE_DIR PARLEY_BIN [GENERATOR [CXX [CONFIG]]]
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

cmake_bin=$1 build_dir=$2 source_dir=$3 build_parley=$4 generator=${5:-} cxx=${6:-} config=${7:-}
make_tmp
prefix=$TMP/sdk
plugin_build=$TMP/plugin-build

# 1. Install the SDK.
install_args=(--install "$build_dir" --prefix "$prefix")
[[ -n "$config" ]] && install_args+=(--config "$config")
"$cmake_bin" "${install_args[@]}" >"$TMP/install.log" 2>&1 ||
  { show "$TMP/install.log"; fail "cmake --install failed"; }
for f in bin/parley include/parley/addon.h include/parley/extension.h \
  lib/cmake/parley/parleyConfig.cmake lib/cmake/parley/ParleyPlugin.cmake; do
  [[ -e "$prefix/$f" ]] || fail "the SDK install lacks $f"
done
# The installed parley must find the installed libparley by itself (RPATH $ORIGIN/../lib).
ldd "$prefix/bin/parley" >"$TMP/ldd.txt"
assert_matches "$TMP/ldd.txt" "libparley\.so[.0-9]* => $prefix/" "installed parley uses installed libparley"

# 2. Build the example plugin against the installed package only.
configure_args=(-S "$source_dir/examples/minimal_extension" -B "$plugin_build"
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
[[ -n "$generator" ]] && configure_args+=(-G "$generator")
[[ -n "$cxx" ]] && configure_args+=(-DCMAKE_CXX_COMPILER="$cxx")
"$cmake_bin" "${configure_args[@]}" >"$TMP/configure.log" 2>&1 ||
  { show "$TMP/configure.log"; fail "configuring examples/minimal_extension failed"; }
# find_package must have used the SDK just installed, not some other Parley on the machine.
assert_contains "$plugin_build/CMakeCache.txt" "parley_DIR:PATH=$prefix/lib" "parley package location"
"$cmake_bin" --build "$plugin_build" -j 2 >"$TMP/build.log" 2>&1 ||
  { show "$TMP/build.log"; fail "building examples/minimal_extension failed"; }
plugin_dir=$plugin_build
[[ -f "$plugin_dir/minimal_extension.so" ]] || fail "no minimal_extension.so in $plugin_dir"

cd "$source_dir"
installed=$prefix/bin/parley

# The addons are not built into Parley: without the addon path they are unknown...
"$build_parley" addons >"$TMP/addons_builtin.txt"
assert_not_contains "$TMP/addons_builtin.txt" "uppercase" "built-in addon list"
# ...and with it they are listed with the library they came from.
"$installed" --addon-path "$plugin_dir" addons >"$TMP/addons.txt" 2>"$TMP/addons.err"
assert_contains "$TMP/addons.txt" "uppercase  (from $plugin_dir/minimal_extension.so)" "addons list"
assert_contains "$TMP/addons.txt" "text_source  (from $plugin_dir/minimal_extension.so)" "addons list"
assert_contains "$TMP/addons.txt" "suffix: string = \"\"" "uppercase manifest property"
assert_contains "$TMP/addons.txt" "log_sink" "built-in addons still listed"
[[ ! -s "$TMP/addons.err" ]] || { show "$TMP/addons.err"; fail "loading the plugin printed errors"; }

# The graph validates against the plugin's manifests.
"$installed" --addon-path "$plugin_dir" graph validate examples/minimal_extension/graph.json \
  >"$TMP/validate.txt"
assert_contains "$TMP/validate.txt" "ok (1 graph: minimal_extension [3 nodes])" "graph validate"

# 3. Run the graph: text_source -> uppercase -> log_sink, stopping by itself.
out=$TMP/out.jsonl
rc=0
timeout 60 "$installed" --addon-path "$plugin_dir" run examples/minimal_extension/graph.json \
  --set log.path="$out" >"$TMP/run.out" 2>"$TMP/run.err" || rc=$?
assert_rc 0 "$rc" "parley run with the plugin" "$TMP/run.err"
[[ -f "$out" ]] || { show "$TMP/run.err"; fail "log_sink wrote no $out"; }
assert_contains "$out" '"text":"HELLO, PARLEY!"' "upper-cased first line with suffix"
assert_contains "$out" '"text":"PLUGINS LOAD WITHOUT REBUILDING PARLEY!"' "upper-cased second line"
assert_not_contains "$out" 'Hello, Parley' "original text must not reach the sink"
# Exactly the two lines, in order, with the fields text_source set, sent by the uppercase node.
python3 - "$out" <<'PY' || { show "$out"; fail "log_sink output is not the two expected messages"; }
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
data = [m for m in msgs if m.get("kind") == "data"]
assert [m["name"] for m in data] == ["text_data", "text_data"], data
assert [m["source"] for m in data] == ["upper", "upper"], data
assert [m["properties"]["turn_id"] for m in data] == [1, 2], data
assert all(m["properties"]["end_of_segment"] is True for m in data), data
PY
assert_contains "$TMP/run.err" "stopping: graph finished" "graph stopped by text_source"

# The same through PARLEY_ADDON_PATH, with the suffix overridden on the command line.
out2=$TMP/out2.jsonl
rc=0
PARLEY_ADDON_PATH="$plugin_dir" timeout 60 "$installed" run examples/minimal_extension/graph.json \
  --set log.path="$out2" --set upper.suffix=" (via env)" >/dev/null 2>"$TMP/run2.err" || rc=$?
assert_rc 0 "$rc" "parley run with PARLEY_ADDON_PATH" "$TMP/run2.err"
assert_contains "$out2" '"text":"HELLO, PARLEY (via env)"' "suffix override through --set"

echo "plugin_out_of_tree: ok"
