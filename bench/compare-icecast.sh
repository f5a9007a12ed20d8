#!/usr/bin/env bash
# Runs the same load against Icecast and against jukebox-server, one after the other on this
# machine, and prints both rows and their ratios (CPU per listener-second, RSS per listener,
# time to first audio byte).
#
# Usage: bench/compare-icecast.sh [-n LISTENERS] [-d SECONDS] [-s SONG_FILE]
# Defaults: 1000 listeners, 30 s, music/01-morning-scale.mp3 (128 kbit/s CBR).
#
# Installs icecast2 and ffmpeg from Debian if missing. Icecast gets a generated config in a
# temporary folder (listener limit raised, logs there) and is fed the song in a loop at real
# time by ffmpeg; jukebox-server serves a folder holding only that song. Every process this
# script starts is stopped by PID when it ends. All traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

listeners=1000
duration=30
song=music/01-morning-scale.mp3
while getopts "n:d:s:" opt; do
  case "$opt" in
    n) listeners=$OPTARG ;;
    d) duration=$OPTARG ;;
    s) song=$OPTARG ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done

missing=()
command -v icecast2 >/dev/null || missing+=(icecast2)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=(); [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  echo "Installing ${missing[*]} ..." >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cargo build --release --quiet -p jukebox-server -p jukebox-bench

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ice_port=$(free_port)
jb_port=$(free_port)
password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

# Icecast refuses to run as root unless told which user to become.
user=$(id -un); group=$(id -gn)
if [ "$(id -u)" -eq 0 ]; then user=nobody; group=nogroup; fi
mkdir -p "$work/log"
chown "$user:$group" "$work/log" 2>/dev/null || true
cat > "$work/icecast.xml" <<XML
<icecast>
  <limits>
    <clients>$((listeners + 100))</clients>
    <sources>2</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>65536</burst-size>
  </limits>
  <authentication>
    <source-password>$password</source-password>
    <admin-user>admin</admin-user>
    <admin-password>$password</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>$ice_port</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>$work/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>-</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot><changeowner><user>$user</user><group>$group</group></changeowner></security>
</icecast>
XML
if [ "$(id -u)" -ne 0 ]; then
  sed -i '/<changeowner>/d' "$work/icecast.xml"
fi

ulimit -n "$(ulimit -Hn)"
icecast2 -c "$work/icecast.xml" >"$work/icecast.out" 2>&1 &
ice_pid=$!; pids+=("$ice_pid")
sleep 1
ffmpeg -nostdin -loglevel error -re -stream_loop -1 -i "$song" -c:a copy -content_type audio/mpeg \
  -f mp3 "icecast://source:$password@127.0.0.1:$ice_port/jukebox.mp3" >"$work/ffmpeg.out" 2>&1 &
pids+=("$!")

mkdir -p "$work/music"
cp "$song" "$work/music/"
./target/release/jukebox-server "$work/music" "$jb_port" --bind 127.0.0.1 --max-clients $((listeners + 100)) \
  2>"$work/jukebox-server.log" &
jb_pid=$!; pids+=("$jb_pid")

# Wait for the mount to go live.
# (curl gives up after 1 s on a live stream; the status code is what matters.)
live=
for _ in $(seq 50); do
  code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$ice_port/jukebox.mp3" 2>/dev/null || true)
  if [ "$code" = 200 ]; then live=1; break; fi
  sleep 0.2
done
if [ -z "$live" ]; then
  echo "Icecast's mount did not go live; its logs:" >&2
  cat "$work/icecast.out" "$work/ffmpeg.out" "$work/log/error.log" >&2 2>/dev/null || true
  exit 1
fi

echo "== Icecast $(icecast2 -v 2>&1 | head -1 | awk '{print $2}'), $listeners listeners, ${duration} s"
./target/release/jukebox-bench icy "http://127.0.0.1:$ice_port/jukebox.mp3" -n "$listeners" -d "$duration" \
  --ramp 500 --server-pid "$ice_pid" --json "$work/icecast.json" || true
echo "== jukebox-server, $listeners listeners, ${duration} s"
./target/release/jukebox-bench native "127.0.0.1:$jb_port" --song 1 -n "$listeners" -d "$duration" \
  --ramp 500 --server-pid "$jb_pid" --json "$work/jukebox.json" || true
echo "== side by side (ratio: jukebox over Icecast)"
./target/release/jukebox-bench compare "$work/icecast.json" "$work/jukebox.json"
