#!/usr/bin/env bash
# Builds jukebox, serves music/ on 127.0.0.1, and opens the client REPL; the server stops when
# the client exits. Extra arguments go to the client (e.g. --output wav:session.wav).
# The port is 12345 unless JUKEBOX_PORT says otherwise; the server's log is target/jukebox-server.log.
# The radio is on, and HTTP too, on port 8080 unless JUKEBOX_HTTP_PORT says otherwise: the
# script prints the URLs of the web page and of the stream for any player.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh build
echo "Building jukebox (the first build takes a minute or two) ..." >&2
cargo build --release --bin jukebox-server --bin jukebox-client

port="${JUKEBOX_PORT:-12345}"
http_port="${JUKEBOX_HTTP_PORT:-8080}"
log=target/jukebox-server.log
./target/release/jukebox-server music "$port" --bind 127.0.0.1 --http "$http_port" 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT

# Wait until the server listens, or report why it did not start.
for _ in $(seq 100); do
  grep -q "listening on" "$log" && grep -q "HTTP on" "$log" && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "the server did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.05
done

cat >&2 <<EOF
The radio is on the air while the client runs:
  web page:  http://127.0.0.1:$http_port/
  stream:    http://127.0.0.1:$http_port/radio   (mpv, vlc, ffplay, a browser)
  playlists: http://127.0.0.1:$http_port/radio.m3u and http://127.0.0.1:$http_port/radio.pls
EOF
./target/release/jukebox-client 127.0.0.1 "$port" "$@"
