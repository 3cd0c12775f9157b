# shellcheck shell=bash
# Helpers shared by the integration test scripts (sourced, not run): a temporary directory removed
# at exit, and assertions that print what was expected and what was actually there.

# Creates $TMP (removed at exit unless PARLEY_TEST_KEEP_TMP=1, handy when debugging a failure).
make_tmp() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/parley-test.XXXXXX")
  if [[ "${PARLEY_TEST_KEEP_TMP:-0}" == 1 ]]; then
    echo "keeping $TMP" >&2
  else
    trap 'rm -rf "$TMP"' EXIT
  fi
}

# fail MESSAGE...: prints the message and ends the test.
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# show FILE: prints a file indented, for failure context.
show() {
  echo "---- $1:" >&2
  sed 's/^/  | /' "$1" >&2
}

# assert_contains FILE TEXT WHAT: FILE must contain TEXT (a fixed string).
assert_contains() {
  if ! grep -qF -- "$2" "$1"; then
    echo "FAIL: $3: expected to find: $2" >&2
    show "$1"
    exit 1
  fi
}

# assert_matches FILE REGEX WHAT: FILE must have a line matching the extended regex.
assert_matches() {
  if ! grep -qE -- "$2" "$1"; then
    echo "FAIL: $3: expected a line matching: $2" >&2
    show "$1"
    exit 1
  fi
}

# assert_not_contains FILE TEXT WHAT: FILE must not contain TEXT.
assert_not_contains() {
  if grep -qF -- "$2" "$1"; then
    echo "FAIL: $3: did not expect: $2" >&2
    show "$1"
    exit 1
  fi
}

# assert_rc EXPECTED ACTUAL WHAT [FILES...]: exit status check, showing FILES on failure.
assert_rc() {
  local expected=$1 actual=$2 what=$3
  shift 3
  if [[ "$actual" != "$expected" ]]; then
    echo "FAIL: $what: exit status $actual, expected $expected" >&2
    local f
    for f in "$@"; do show "$f"; done
    exit 1
  fi
}
