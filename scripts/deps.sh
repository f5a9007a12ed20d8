#!/usr/bin/env bash
# Installs, from Debian/Ubuntu packages, what building and testing jukebox needs beyond Rust:
#   libasound2-dev, pkg-config   build: rodio plays through ALSA
#   make                          build: mp3lame-sys builds LAME with its own configure and make
#   sox, lame                     tests: make MP3s; also music/make-samples.sh
#   tmux                          tests: drive the REPL in a real terminal
#   chromium, chromium-driver     tests: the radio page in a real browser (server/tests/browser.rs)
#   python3-venv                  tests: a venv for selenium, which drives that browser
#   ffmpeg, mpv, mpg123, curl,    tests: real players and clients of the HTTP radio
#   vlc-bin, vlc-plugin-base        (server/tests/http.rs)
#   icecast2                      tests: the real Icecast that --icecast feeds (server/tests/icecast.rs)
# and, for the browser test, Python's selenium (pinned, from PyPI) in target/browser-venv,
# where server/tests/browser.rs looks for it.
# Usage: scripts/deps.sh [build|test]   (default: test). Installs only what is missing.
set -euo pipefail

# selenium and what it needs, pinned so that every machine drives the browser alike.
SELENIUM=(selenium==4.51.0 attrs==26.1.0 certifi==2026.10.18 h11==0.16.0 idna==3.20
  outcome==1.3.0.post0 PySocks==1.7.1 sniffio==1.3.1 sortedcontainers==2.4.0 trio==0.35.0
  trio-websocket==0.12.2 typing_extensions==4.16.0 urllib3==2.8.0 websocket-client==1.9.2
  wsproto==1.3.2)

want=(libasound2-dev pkg-config make)
if [ "${1:-test}" = test ]; then
  want+=(sox lame tmux chromium chromium-driver python3-venv)
  want+=(ffmpeg mpv mpg123 vlc-bin vlc-plugin-base curl)
  want+=(icecast2)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
install_packages() {
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "jukebox needs these packages, and this system has no apt-get: ${missing[*]}" >&2
    exit 1
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "installing ${missing[*]} needs root (or sudo)" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "Installing ${missing[*]} ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# selenium in target/browser-venv, made with the system's Python (the one python3-venv is for).
install_selenium() {
  local venv
  venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/browser-venv"
  local want_version="${SELENIUM[0]#selenium==}"
  if "$venv/bin/python" -c "import selenium, sys; sys.exit(selenium.__version__ != '$want_version')" 2>/dev/null; then
    return 0
  fi
  local python=/usr/bin/python3
  [ -x "$python" ] || python=python3
  echo "Installing selenium $want_version into $venv ..." >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${SELENIUM[@]}"
}

install_packages
if [ "${1:-test}" = test ]; then
  install_selenium
fi
