#!/usr/bin/env bash
# Installs every Debian package Parley needs to build, run and test. Idempotent: packages that are
# already present are skipped, so `make run` / `make test` can call it every time at no cost.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git python3
  libboost-dev libboost-system-dev libssl-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libsqlite3-dev libsoxr-dev libturbojpeg0-dev libhowardhinnant-date-dev tzdata
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us pocketsphinx-testdata pocketsphinx
  libespeak-ng-dev espeak-ng-data
  libwebrtc-audio-processing-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format
)

# tests/node (third-party clients of `parley model-serve`: @deepgram/sdk, ws): Node.js and npm,
# unless an existing Node.js (e.g. NodeSource's nodejs, which bundles npm) already provides them.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
