#!/usr/bin/env bash
# Measures how long jukebox-server takes to scan a large library: the first scan (no index),
# a restart (index present, nothing changed), and a restart after 1% of the files changed.
# With --cold (root only) the page cache is dropped before each run, as after a reboot.
#
# Usage: bench/scan-library.sh [-n SONGS] [--cold] [--keep DIR]
# Defaults: 10000 songs, copies of the four sample songs in music/ (about 480 KB each, 4.8 GB
# in all), in 100 folders, written to a temporary folder that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

songs=10000
cold=
keep=
while [ $# -gt 0 ]; do
  case "$1" in
    -n) songs=$2; shift 2 ;;
    --cold) cold=1; shift ;;
    --keep) keep=$2; shift 2 ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
  esac
done
if [ -n "$cold" ] && [ "$(id -u)" -ne 0 ]; then
  echo "--cold drops the page cache, which needs root" >&2
  exit 2
fi

cargo build --release --quiet -p jukebox-server
work=${keep:-$(mktemp -d)}
mkdir -p "$work/music"
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -z "$keep" ] && rm -rf "$work"
}
trap cleanup EXIT

samples=(music/*.mp3)
if [ ! -f "$work/music/.made-$songs" ]; then
  echo "writing $songs songs to $work/music ..." >&2
  for ((i = 0; i < songs; i++)); do
    folder="$work/music/$(printf 'artist-%02d' $((i % 100)))"
    mkdir -p "$folder"
    cp "${samples[$((i % ${#samples[@]}))]}" "$folder/$(printf 'song-%05d.mp3' "$i")"
  done
  touch "$work/music/.made-$songs"
fi

# Starts the server, waits for its first scan to finish, prints the line, stops it.
run() {
  local label=$1
  [ -n "$cold" ] && sync && echo 3 >/proc/sys/vm/drop_caches
  local started; started=$(date +%s.%N)
  ./target/release/jukebox-server "$work/music" 0 --bind 127.0.0.1 --db "$work/index.json" \
    2>"$work/server.log" &
  server=$!
  local listening=
  while ! grep -q "scan 1 of" "$work/server.log"; do
    [ -z "$listening" ] && grep -q "listening on" "$work/server.log" && \
      listening=$(awk "BEGIN{print $(date +%s.%N) - $started}")
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.01
  done
  local done_at; done_at=$(awk "BEGIN{print $(date +%s.%N) - $started}")
  kill "$server"; wait "$server" 2>/dev/null || true; server=
  printf '%-34s listening after %5.2f s, scan done after %6.2f s: %s\n' "$label" "${listening:-0}" \
    "$done_at" "$(grep -o 'scan 1 of.*' "$work/server.log" | sed 's/^scan 1 of [^:]*: //')"
}

rm -f "$work/index.json"
run "first scan (no index)"
run "restart (index, nothing changed)"
for ((i = 0; i < songs; i += 100)); do
  touch "$work/music/$(printf 'artist-%02d' $((i % 100)))/$(printf 'song-%05d.mp3' "$i")"
done
run "restart (1% of files touched)"
echo "index: $(du -h "$work/index.json" | cut -f1) for $songs songs"
