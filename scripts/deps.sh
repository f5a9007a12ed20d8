#!/usr/bin/env bash
# Installs, from Debian/Ubuntu packages, what building and testing jukebox needs beyond Rust:
#   libasound2-dev, pkg-config   build: rodio plays through ALSA
#   sox, lame                     tests: make MP3s; also music/make-samples.sh
#   tmux                          tests: drive the REPL in a real terminal
# Usage: scripts/deps.sh [build|test]   (default: test). Installs only what is missing.
set -euo pipefail

want=(libasound2-dev pkg-config)
if [ "${1:-test}" = test ]; then
  want+=(sox lame tmux)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "jukebox needs these packages, and this system has no apt-get: ${missing[*]}" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "installing ${missing[*]} needs root (or sudo)" >&2; exit 1; }
  sudo=(sudo)
fi
echo "Installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
