#!/usr/bin/env bash
# Builds jukebox, serves music/ on 127.0.0.1, and opens the client REPL; the server stops when
# the client exits. Extra arguments go to the client (e.g. --output wav:session.wav).
# The port is 12345 unless JUKEBOX_PORT says otherwise; the server's log is target/jukebox-server.log.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh build
echo "Building jukebox (the first build takes a minute or two) ..." >&2
cargo build --release --bin jukebox-server --bin jukebox-client

port="${JUKEBOX_PORT:-12345}"
log=target/jukebox-server.log
./target/release/jukebox-server music "$port" --bind 127.0.0.1 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT

# Wait until the server listens, or report why it did not start.
for _ in $(seq 100); do
  grep -q "listening on" "$log" && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "the server did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.05
done

./target/release/jukebox-client 127.0.0.1 "$port" "$@"
