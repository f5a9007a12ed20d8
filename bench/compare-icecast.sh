#!/usr/bin/env bash
# Runs the same load against Icecast and against jukebox-server on this machine, and prints the
# figures side by side with their ratios.
#
# Usage: bench/compare-icecast.sh [--radio | --relay] [-n LISTENERS] [-d SECONDS] [-s SONG_FILE] [-r ROUNDS]
#                                 [-o OUT_DIR]
# Defaults: 1000 listeners, 30 s, music/01-morning-scale.mp3 (128 kbit/s CBR), 3 rounds (--radio,
# --relay).
#
# Without --radio: on-demand streaming. Icecast is fed the song in a loop at real time by ffmpeg;
# jukebox-server serves a folder holding only that song and each listener PLAYs it. One run each.
#
# With --radio: a live station, in ROUNDS rounds; each round measures, one after the other, each
# on a freshly started server:
#   (a) Icecast fed the song in a loop by ffmpeg (-re), ICY listeners with Icy-MetaData: 1;
#   (b) Icecast fed jukebox's station by ffmpeg relaying /radio (needs jukebox-server --http);
#   (c) jukebox's station, native listeners that TUNE;
#   (d) jukebox's /radio, ICY listeners with Icy-MetaData: 1 (needs --http).
# The station plays a folder of two copies of the song under two names (a one-song library is
# not enough for its shuffle, which never repeats the song on the air), so every setup streams
# the same music at 128 kbit/s. Then a table: a row per setup, medians over the rounds, CPU of
# the server process only (Icecast's in (a) and (b), jukebox-server's in (c) and (d)) per
# listener-second, its ratio to (a), the same above the server's idle rate (measured for 5 s
# before anyone connects: a station encodes whether anybody listens), first audio byte, lag
# behind live, underruns, RSS per listener.
#
# With --relay: relaying a station, in ROUNDS rounds. One origin, a jukebox station on
# 127.0.0.1 (the same two-copies folder, with --http), runs throughout; each round measures, one
# after the other, a freshly started relay on a host of its own:
#   (a) Icecast relaying Icecast: an Icecast master on 127.0.0.1 fed the origin's /radio by
#       ffmpeg (as (b) above), and a second Icecast on 127.0.0.3 configured as a relay of it
#       (<relay> of its mount, <on-demand>0</on-demand>, shoutcast metadata); ICY listeners with
#       Icy-MetaData: 1 on the second; CPU of the relaying Icecast only;
#   (b) jukebox relaying jukebox: jukebox-server --relay jukebox://ORIGIN on 127.0.0.2, native
#       listeners that TUNE to it; CPU of the relay process only;
#   (c) the same kind of relay (a fresh one), ICY listeners on its /radio.
# The table is --radio's, a row per setup. Lag there is measured against each relay's own live
# edge; what the hop adds comes from `jukebox-bench hop`, run during (b)'s measured window: a
# RELAY probe on the origin and one on the relay time each chunk (the relay keeps the origin's
# Position ms, RFC §7.6.1), giving the edge delay per chunk, and 5 TUNE listeners on each give
# the lag behind the origin's live edge of an origin listener and of a relay listener under load
# (their difference: added by the hop). Those 5 listeners and the probe also load the relay in
# (b), 1% of 500. Icecast's hop is not timed: an ICY body carries no station time.
#
# JUKEBOX_SERVER=path runs that jukebox-server binary instead of building this checkout's (for
# a build whose main.rs starts the station). Installs icecast2 and ffmpeg from Debian if
# missing. Every process this script starts is stopped by PID when it ends. All traffic stays
# on loopback: 127.0.0.1, and 127.0.0.2 and .3 for --relay's relays. JSON reports are kept in
# OUT_DIR if given.
set -euo pipefail
cd "$(dirname "$0")/.."

radio=
relay=
args=()
for arg in "$@"; do
  case "$arg" in
    --radio) radio=1 ;;
    --relay) relay=1 ;;
    *) args+=("$arg") ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"

listeners=1000
duration=30
song=music/01-morning-scale.mp3
rounds=3
out=
while getopts "n:d:s:r:o:" opt; do
  case "$opt" in
    n) listeners=$OPTARG ;;
    d) duration=$OPTARG ;;
    s) song=$OPTARG ;;
    r) rounds=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,47p' "$0"; exit 2 ;;
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
if [ -n "${JUKEBOX_SERVER:-}" ]; then
  cargo build --release --quiet -p jukebox-bench
  server_bin=$JUKEBOX_SERVER
else
  cargo build --release --quiet -p jukebox-server -p jukebox-bench
  server_bin=./target/release/jukebox-server
fi
bench=./target/release/jukebox-bench

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Stops the processes given by PID, and forgets them.
stop() {
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
  forget "$@"
}

# Forgets the processes given by PID, which have ended.
forget() {
  local keep=() pid gone
  for pid in "${pids[@]}"; do
    gone=
    for g in "$@"; do [ "$pid" = "$g" ] && gone=1; done
    [ -z "$gone" ] && keep+=("$pid")
  done
  pids=("${keep[@]+"${keep[@]}"}")
}

# A free TCP port on address $1 (127.0.0.1 if not given).
free_port() { python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "${1:-127.0.0.1}"; }
ice_port=$(free_port)
jb_port=$(free_port)
http_port=$(free_port)
ice_relay_port=$(free_port 127.0.0.3)
relay_port=$(free_port 127.0.0.2)
relay_http_port=$(free_port 127.0.0.2)
password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

# Icecast refuses to run as root unless told which user to become.
user=$(id -un); group=$(id -gn)
if [ "$(id -u)" -eq 0 ]; then user=nobody; group=nogroup; fi

# Writes an Icecast configuration to $1 for one listening on $2:$3, logging under $4; $5, if
# given, is more XML inside <icecast> (a <relay>).
write_icecast_config() {
  local file=$1 addr=$2 port=$3 logdir=$4 more=${5:-}
  mkdir -p "$logdir"
  chown "$user:$group" "$logdir" 2>/dev/null || true
  cat > "$file" <<XML
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
  <hostname>$addr</hostname>
  <listen-socket><port>$port</port><bind-address>$addr</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>$logdir</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>-</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot><changeowner><user>$user</user><group>$group</group></changeowner></security>
$more
</icecast>
XML
  if [ "$(id -u)" -ne 0 ]; then
    sed -i '/<changeowner>/d' "$file"
  fi
}
write_icecast_config "$work/icecast.xml" 127.0.0.1 "$ice_port" "$work/log"
# For --relay: a second Icecast that relays the first's mount, as its README section shows.
write_icecast_config "$work/icecast-relay.xml" 127.0.0.3 "$ice_relay_port" "$work/log-relay" "  <relay>
    <server>127.0.0.1</server>
    <port>$ice_port</port>
    <mount>/jukebox.mp3</mount>
    <local-mount>/jukebox.mp3</local-mount>
    <on-demand>0</on-demand>
    <relay-shoutcast-metadata>1</relay-shoutcast-metadata>
  </relay>"
ulimit -n "$(ulimit -Hn)"

# Starts Icecast with configuration $1 (the master's if not given); sets ice_pid.
start_icecast() {
  icecast2 -c "${1:-$work/icecast.xml}" >>"$work/icecast.out" 2>&1 &
  ice_pid=$!; pids+=("$ice_pid")
  sleep 1
}

# Feeds Icecast's /jukebox.mp3 from $1 (a file, looped at real time, or a live URL); sets
# feed_pid.
start_feed() {
  local input=(-re -stream_loop -1 -i "$1")
  case "$1" in http://*) input=(-i "$1") ;; esac
  ffmpeg -nostdin -loglevel error "${input[@]}" -c:a copy -content_type audio/mpeg \
    -f mp3 "icecast://source:$password@127.0.0.1:$ice_port/jukebox.mp3" >>"$work/ffmpeg.out" 2>&1 &
  feed_pid=$!; pids+=("$feed_pid")
}

# Waits until URL $1 answers 200 (curl gives up after 1 s on a live stream; the status code is
# what matters).
wait_live() {
  local code
  for _ in $(seq 50); do
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1" 2>/dev/null || true)
    if [ "$code" = 200 ]; then return 0; fi
    sleep 0.2
  done
  echo "$1 did not go live; the logs:" >&2
  cat "$work/icecast.out" "$work/ffmpeg.out" "$work/log/error.log" "$work/log-relay/error.log" \
    "$work/jukebox-server.log" "$work/jukebox-relay.log" >&2 2>/dev/null || true
  return 1
}

# Starts jukebox-server on folder $1 with any further arguments; sets jb_pid.
start_jukebox() {
  local music=$1; shift
  "$server_bin" "$music" "$jb_port" --bind 127.0.0.1 --db none --max-clients $((listeners + 100)) "$@" \
    2>>"$work/jukebox-server.log" &
  jb_pid=$!; pids+=("$jb_pid")
}

if [ -z "$radio" ] && [ -z "$relay" ]; then
  start_icecast
  start_feed "$song"
  mkdir -p "$work/music"
  cp "$song" "$work/music/"
  start_jukebox "$work/music"
  wait_live "http://127.0.0.1:$ice_port/jukebox.mp3"

  echo "== Icecast $(icecast2 -v 2>&1 | head -1 | awk '{print $2}'), $listeners listeners, ${duration} s"
  "$bench" icy "http://127.0.0.1:$ice_port/jukebox.mp3" -n "$listeners" -d "$duration" \
    --ramp 500 --server-pid "$ice_pid" --json "$work/icecast.json" || true
  echo "== jukebox-server, $listeners listeners, ${duration} s"
  "$bench" native "127.0.0.1:$jb_port" --song 1 -n "$listeners" -d "$duration" \
    --ramp 500 --server-pid "$jb_pid" --json "$work/jukebox.json" || true
  echo "== side by side (ratio: jukebox over Icecast)"
  "$bench" compare "$work/icecast.json" "$work/jukebox.json"
  exit 0
fi

# --radio and --relay
mkdir -p "$work/station"
cp "$song" "$work/station/a-$(basename "$song")"
cp "$song" "$work/station/b-$(basename "$song")"
[ -n "$out" ] && mkdir -p "$out"
results=${out:-$work}

# Whether the station at $1 (the server's if not given) answers a TUNE: waits up to 10 s for
# it to go on the air.
station_on_air() {
  for _ in $(seq 20); do
    if "$bench" radio "${1:-127.0.0.1:$jb_port}" -n 1 -d 0.5 >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  return 1
}

has_http=
if "$server_bin" --help 2>/dev/null | grep -q -- '--http'; then has_http=1; fi
if [ -z "$has_http" ]; then
  echo "note: $server_bin has no --http option: skipping (b) Icecast relaying /radio and (d) jukebox /radio (ICY)" >&2
fi
has_radio=1
start_jukebox "$work/station"
if ! station_on_air; then
  has_radio=
  echo "note: $server_bin does not run its station (TUNE fails): skipping (b), (c) and (d);" \
    "build one whose main.rs starts it and pass JUKEBOX_SERVER=path" >&2
fi
stop "$jb_pid"

common=(-n "$listeners" -d "$duration" --ramp 500 --idle-secs 5)
label_a="Icecast (ffmpeg)"
label_b="Icecast (relaying jukebox /radio)"
label_c="jukebox TUNE (native)"
label_d="jukebox /radio (ICY)"
files=()
# The station with HTTP on, with room for every listener from this one address.
start_station_with_http() {
  start_jukebox "$work/station" --http "127.0.0.1:$http_port" \
    --http-max-connections $((listeners + 100)) --http-max-per-address $((listeners + 100))
  station_on_air
}

if [ -n "$relay" ]; then
  if [ -z "$has_http" ] || [ -z "$has_radio" ]; then
    echo "--relay needs a jukebox-server that runs its station and serves --http" >&2
    exit 1
  fi
  if ! "$server_bin" --help 2>/dev/null | grep -q -- '--relay'; then
    echo "--relay needs a jukebox-server that relays (--relay URL)" >&2
    exit 1
  fi
  label_ra="Icecast relay (of Icecast fed /radio)"
  label_rb="jukebox relay TUNE (native)"
  label_rc="jukebox relay /radio (ICY)"
  relay_url="http://127.0.0.3:$ice_relay_port/jukebox.mp3"
  # A relay of the origin on 127.0.0.2, with HTTP and room for every listener; sets relay_pid.
  start_relay() {
    "$server_bin" --relay "jukebox://127.0.0.1:$jb_port" "$relay_port" --bind 127.0.0.2 --db none \
      --max-clients $((listeners + 100)) --http "127.0.0.2:$relay_http_port" \
      --http-max-connections $((listeners + 100)) --http-max-per-address $((listeners + 100)) \
      2>>"$work/jukebox-relay.log" &
    relay_pid=$!; pids+=("$relay_pid")
  }
  # The hop is timed inside (b)'s measured window: after the idle 5 s and the ramp, for the
  # window less the hop's 3 s warm-up and a margin.
  hop_delay=$((5 + (listeners + 499) / 500 + 1))
  hop_secs=$((duration > 9 ? duration - 5 : 3))

  start_station_with_http
  origin_pid=$jb_pid
  echo "== $rounds round(s) of $listeners listeners, ${duration} s each, relaying a jukebox station on" \
    "127.0.0.1; Icecast $(icecast2 -v 2>&1 | head -1 | awk '{print $2}')"
  hops=() hop_json=()
  for round in $(seq "$rounds"); do
    echo "-- round $round: (a) $label_ra"
    start_icecast
    master_pid=$ice_pid
    start_feed "http://127.0.0.1:$http_port/radio"
    wait_live "http://127.0.0.1:$ice_port/jukebox.mp3"
    start_icecast "$work/icecast-relay.xml"
    wait_live "$relay_url"
    "$bench" icy "$relay_url" --metadata "${common[@]}" --server-pid "$ice_pid" \
      --label "$label_ra" --json "$results/ra-$round.json" || true
    files+=("$results/ra-$round.json")
    stop "$ice_pid" "$feed_pid" "$master_pid"

    echo "-- round $round: (b) $label_rb, and the hop timed from ${hop_delay} s for $((hop_secs + 3)) s"
    start_relay
    station_on_air "127.0.0.2:$relay_port"
    (sleep "$hop_delay" && exec "$bench" hop --origin "127.0.0.1:$jb_port" --relay "127.0.0.2:$relay_port" \
      -d "$hop_secs" --label "round $round, relay under (b)'s load" --json "$results/hop-$round.json") \
      >"$work/hop-$round.out" 2>&1 &
    hop_pid=$!; pids+=("$hop_pid")
    "$bench" radio "127.0.0.2:$relay_port" "${common[@]}" --server-pid "$relay_pid" \
      --label "$label_rb" --json "$results/rb-$round.json" || true
    files+=("$results/rb-$round.json")
    wait "$hop_pid" || true
    forget "$hop_pid"
    hops+=("$work/hop-$round.out")
    [ -s "$results/hop-$round.json" ] && hop_json+=("$results/hop-$round.json")
    stop "$relay_pid"

    echo "-- round $round: (c) $label_rc"
    start_relay
    wait_live "http://127.0.0.2:$relay_http_port/radio"
    "$bench" icy "http://127.0.0.2:$relay_http_port/radio" --metadata "${common[@]}" --server-pid "$relay_pid" \
      --label "$label_rc" --json "$results/rc-$round.json" || true
    files+=("$results/rc-$round.json")
    stop "$relay_pid"
  done
  stop "$origin_pid"

  echo
  echo "== $listeners listeners, ${duration} s, medians of $rounds round(s); times in ms, lag in s"
  "$bench" table "${files[@]}"
  echo
  echo "== latency added by the hop (jukebox-bench hop, 5 TUNE listeners on each of origin and relay)"
  cat "${hops[@]}"
  if [ ${#hop_json[@]} -gt 1 ]; then
    python3 - "${hop_json[@]}" <<'PY'
import json, statistics, sys
hops = [json.load(open(path)) for path in sys.argv[1:]]
def median(f):
    values = [f(h) for h in hops if h["edge_delay"] and h["origin_lag"] and h["relay_lag"]]
    return statistics.median(values) / 1000 if values else float("nan")
print(f"medians of {len(hops)} rounds: edge delay p50 {median(lambda h: h['edge_delay']['p50_us']):.1f} ms,"
      f" p99 {median(lambda h: h['edge_delay']['p99_us']):.1f} ms; added to a listener p50"
      f" {median(lambda h: h['relay_lag']['p50_us'] - h['origin_lag']['p50_us']):+.1f} ms")
PY
  fi
  exit 0
fi

echo "== $rounds round(s) of $listeners listeners, ${duration} s each; Icecast $(icecast2 -v 2>&1 | head -1 | awk '{print $2}')"
for round in $(seq "$rounds"); do
  echo "-- round $round: (a) $label_a"
  start_icecast
  start_feed "$song"
  wait_live "http://127.0.0.1:$ice_port/jukebox.mp3"
  "$bench" icy "http://127.0.0.1:$ice_port/jukebox.mp3" --metadata "${common[@]}" --server-pid "$ice_pid" \
    --label "$label_a" --json "$results/a-$round.json" || true
  files+=("$results/a-$round.json")
  stop "$feed_pid" "$ice_pid"

  if [ -n "$has_http" ] && [ -n "$has_radio" ]; then
    echo "-- round $round: (b) $label_b"
    start_station_with_http
    start_icecast
    start_feed "http://127.0.0.1:$http_port/radio"
    wait_live "http://127.0.0.1:$ice_port/jukebox.mp3"
    "$bench" icy "http://127.0.0.1:$ice_port/jukebox.mp3" --metadata "${common[@]}" --server-pid "$ice_pid" \
      --label "$label_b" --json "$results/b-$round.json" || true
    files+=("$results/b-$round.json")
    stop "$feed_pid" "$ice_pid" "$jb_pid"
  fi

  if [ -n "$has_radio" ]; then
    echo "-- round $round: (c) $label_c"
    start_jukebox "$work/station"
    station_on_air
    "$bench" radio "127.0.0.1:$jb_port" "${common[@]}" --server-pid "$jb_pid" \
      --label "$label_c" --json "$results/c-$round.json" || true
    files+=("$results/c-$round.json")
    stop "$jb_pid"
  fi

  if [ -n "$has_http" ] && [ -n "$has_radio" ]; then
    echo "-- round $round: (d) $label_d"
    start_station_with_http
    wait_live "http://127.0.0.1:$http_port/radio"
    "$bench" icy "http://127.0.0.1:$http_port/radio" --metadata "${common[@]}" --server-pid "$jb_pid" \
      --label "$label_d" --json "$results/d-$round.json" || true
    files+=("$results/d-$round.json")
    stop "$jb_pid"
  fi
done

echo
echo "== $listeners listeners, ${duration} s, medians of $rounds round(s); times in ms, lag in s"
"$bench" table "${files[@]}"
