#!/usr/bin/env bash
# ctest entry point: installs the npm clients if needed (`npm ci`, from package-lock.json) and runs
# the node:test acceptance tests against the given parley binary.
# Usage: run.sh PATH/TO/parley
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export PARLEY_BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node/npm not installed: run scripts/install-deps.sh" >&2
  exit 77
fi
cd "$here"
if [ ! -d node_modules/@deepgram/sdk ] || [ ! -d node_modules/ws ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-concurrency=1 test/
