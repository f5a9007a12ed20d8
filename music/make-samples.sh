#!/usr/bin/env bash
# make-samples.sh - synthesize the four sample songs in this folder.
#
# Everything is generated from nothing but `sox` synthesis (no samples, no
# recordings) and encoded with `lame`.  The output is deterministic: sox runs
# in repeatable mode (-R, fixed seed for the noise generators and dither) and
# lame is deterministic for identical input, so re-running this script
# reproduces byte-identical .mp3 files (with the same sox/lame versions).
#
# Usage:  bash music/make-samples.sh      (works from any directory)
# Needs:  sox, lame  (Debian/Ubuntu: apt-get install sox lame)
#
# The songs and this script are dedicated to the public domain (CC0 1.0).
set -euo pipefail

OUT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

missing=()
for tool in sox soxi lame awk; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "error: required tool(s) not found: ${missing[*]}" >&2
    echo "install them first, e.g. on Debian/Ubuntu:  sudo apt-get install sox lame" >&2
    exit 1
fi

SR=44100                       # every song is 44.1 kHz - the client's tests rely on it
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# sox: -R = repeatable mode (fixed PRNG seed for noise and dither).
SOX=(sox -R)
FLOAT=(-e floating-point -b 32)   # intermediate files: 32-bit float WAV

counter=0
declare -A CACHE=()
UNIT=0.25                      # length of one duration unit in seconds (set per song)

# calc EXPR -> float result (bash has no floating point)
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# note INSTRUMENT NOTES SECONDS OUTFILE
#   NOTES is a note name (C4, F#3, Bb2), several joined with '+' for a chord,
#   or 'r' for a rest.  Drum instruments ignore the note name (use 'x').
#   Every generated file is exactly SECONDS long.
note() {
    local inst=$1 notes=$2 d=$3 out=$4
    if [[ $notes == r ]]; then
        "${SOX[@]}" -r "$SR" -c 1 -n "${FLOAT[@]}" "$out" trim 0 "$d"
        return
    fi
    local -a ns specs=() fx
    IFS=+ read -ra ns <<<"$notes"
    local wave n
    # drum hits: a short sound of HIT seconds, then silence up to $d
    local hit=0
    case $inst in kick) hit=0.25 ;; snare) hit=0.18 ;; hat) hit=0.06 ;; brush) hit=0.30 ;; esac
    local -a fill=(trim 0 "$d")
    if awk "BEGIN { exit !($d > $hit) }"; then fill=(pad 0 "$(calc "$d-$hit")"); fi
    case $inst in
        pluck) wave=pluck
               fx=(fade q 0.003 "$d" 0.03) ;;
        bell)  wave=sine
               fx=(fade q 0.004 "$d" "$(calc "($d)*0.9")") ;;
        chip)  wave=square
               fx=(lowpass 2500 fade t 0.004 "$d" "$(calc "($d)*0.6")") ;;
        bass)  wave=square
               fx=(lowpass 450 fade t 0.01 "$d" 0.04) ;;
        tbass) wave=triangle
               fx=(fade t 0.01 "$d" "$(calc "($d)*0.3")") ;;
        pad)   wave=sine
               fx=(fade h "$(calc "($d)/4")" "$d" "$(calc "($d)/3")") ;;
        kick)  "${SOX[@]}" -r "$SR" -c 1 -n "${FLOAT[@]}" "$out" \
                   synth $hit sine 150:42 vol 0.5 fade q 0.002 $hit 0.22 "${fill[@]}"
               return ;;
        snare) "${SOX[@]}" -r "$SR" -c 2 -n "${FLOAT[@]}" -c 1 "$out" \
                   synth $hit whitenoise sine 190 remix - vol 0.5 highpass 300 lowpass 7000 \
                   fade q 0.001 $hit 0.17 "${fill[@]}"
               return ;;
        hat)   "${SOX[@]}" -r "$SR" -c 1 -n "${FLOAT[@]}" "$out" \
                   synth $hit whitenoise vol 0.5 highpass 7000 fade q 0.001 $hit 0.055 "${fill[@]}"
               return ;;
        brush) "${SOX[@]}" -r "$SR" -c 1 -n "${FLOAT[@]}" "$out" \
                   synth $hit pinknoise vol 0.5 highpass 600 lowpass 4000 fade t 0.03 $hit 0.26 "${fill[@]}"
               return ;;
        *) echo "unknown instrument: $inst" >&2; exit 1 ;;
    esac
    for n in "${ns[@]}"; do specs+=("$wave" "$n"); done
    "${SOX[@]}" -r "$SR" -c "${#ns[@]}" -n -c 1 "${FLOAT[@]}" "$out" \
        synth "$d" "${specs[@]}" remix - vol 0.5 "${fx[@]}"
}

# track OUTFILE INSTRUMENT "NOTES:UNITS NOTES:UNITS ..."
#   Renders a sequence of notes back to back and normalizes it to -1 dBFS,
#   so the mix weights below are meaningful.
track() {
    local out=$1 inst=$2 tok notes units d key f
    local -a parts=()
    for tok in $3; do
        notes=${tok%%:*} units=${tok##*:}
        d=$(calc "$units*$UNIT")
        key="$inst|$notes|$d"
        if [[ -z ${CACHE[$key]:-} ]]; then
            counter=$((counter + 1))
            f="$TMP/n$counter.wav"
            note "$inst" "$notes" "$d" "$f"
            CACHE[$key]=$f
        fi
        parts+=("${CACHE[$key]}")
    done
    "${SOX[@]}" "${parts[@]}" "${FLOAT[@]}" "$out" gain -n -1
}

# rep N "STRING" -> STRING repeated N times
rep() { local i s=""; for ((i = 0; i < $1; i++)); do s+=" $2"; done; printf '%s' "$s"; }

# mix OUTFILE CHANNELS "FILE:LEFT:RIGHT" ...   (for mono, RIGHT is ignored)
#   Places each track in the stereo field with the given gains and sums them.
#   Keep the gains per channel summing to <= 1 to avoid clipping.
mix() {
    local out=$1 ch=$2 spec file l r
    shift 2
    local -a inputs=()
    for spec in "$@"; do
        IFS=: read -r file l r <<<"$spec"
        counter=$((counter + 1))
        if ((ch == 2)); then
            "${SOX[@]}" "$file" "${FLOAT[@]}" "$TMP/m$counter.wav" remix "1v$l" "1v$r"
        else
            "${SOX[@]}" "$file" "${FLOAT[@]}" "$TMP/m$counter.wav" vol "$l"
        fi
        inputs+=(-v 1 "$TMP/m$counter.wav")
    done
    "${SOX[@]}" -m "${inputs[@]}" "${FLOAT[@]}" "$out"
}

# master IN OUT.wav CHANNELS REVERB_PERCENT FADE_IN FADE_OUT
#   Adds a 1.5 s reverb tail, fades, normalizes to -1.5 dBFS and writes a
#   16-bit 44.1 kHz WAV.  The fade end is given explicitly because sox's
#   reverb turns mono into stereo, which makes `fade ... -0` miscount the
#   length (it cut the mono song in half).
master() {
    local -a down=()
    (($3 == 1)) && down=(remix -)
    local end
    end=$(calc "$(soxi -D "$1") + 1.5")
    "${SOX[@]}" "$1" -r "$SR" -c "$3" -b 16 -e signed-integer "$2" \
        gain -6 pad 0 1.5 reverb "$4" 50 80 "${down[@]}" fade t "$5" "$end" "$6" gain -n -1.5
}

# encode WAV MP3 LAME_OPTIONS...
encode() {
    local wav=$1 mp3=$2
    shift 2
    lame --quiet --resample 44.1 "$@" "$wav" "$OUT_DIR/$mp3"
    echo "wrote $OUT_DIR/$mp3"
}

ARTIST="The Jukebox Synths"
ALBUM="Jukebox Sample Tunes"
YEAR=2025
TAGCOMMENT="CC0 1.0 - made with sox"
# Tags: lame writes an ID3v1(.1) tag by default; --add-id3v2 adds an ID3v2.3
# tag as well.  --id3v2-latin1 keeps the v2 text frames in ISO-8859-1: with
# lame's default UTF-16 frames the (empty) COMM description has no BOM and
# mpg123 complains "Incorrect BOM value".  Song 4 uses --id3v1-only.

# ---------------------------------------------------------------------------
# 1. Morning Scale - C major, 120 bpm, unit = one eighth note (0.25 s).
#    A plucked C-major scale up and down, a little tune, pad chords,
#    triangle bass, kick + hi-hat.  Stereo, CBR 128 kbps, ID3v2 + ID3v1.
# ---------------------------------------------------------------------------
UNIT=0.25
s=$TMP/s1
track "$s-mel.wav" pluck "
  C4:1 D4:1 E4:1 F4:1 G4:1 A4:1 B4:1 C5:1   C5:1 B4:1 A4:1 G4:1 F4:1 E4:1 D4:1 C4:1
  E4:2 G4:2 C5:2 G4:2                       A4:2 G4:2 E4:4
  E4:1 F4:1 G4:1 A4:1 B4:1 C5:1 D5:1 E5:1   E5:1 D5:1 C5:1 B4:1 A4:1 G4:1 F4:1 E4:1
  F4:2 A4:2 C5:2 A4:2                       G4:2 B4:1 D5:1 C5:4
  C5:2 G4:2 E4:2 G4:2                       F4:2 A4:2 G4:4
  E4:1 D4:1 C4:2 G4:2 B4:2                  C5:8"
track "$s-pad.wav" pad "
  C3+E3+G3:8  B2+D3+G3:8  A2+C3+F3:8  C3+E3+G3:8
  A2+C3+E3:8  B2+E3+G3:8  A2+C3+F3:8  B2+D3+G3:8
  C3+E3+G3:8  A2+C3+F3:8  B2+D3+G3:8  C3+E3+G3:8"
track "$s-bass.wav" tbass "
  C2:4 G2:4  G2:4 D2:4  F2:4 C2:4  C2:4 G2:4
  A2:4 E2:4  E2:4 B2:4  F2:4 C2:4  G2:4 D2:4
  C2:4 G2:4  F2:4 C2:4  G2:4 D2:4  C2:8"
track "$s-kick.wav" kick "$(rep 11 'x:4 x:4') x:8"
track "$s-hat.wav" hat "r:32 $(rep 28 'r:1 x:1') r:8"
mix "$s-mix.wav" 2 "$s-mel.wav:0.30:0.20" "$s-pad.wav:0.12:0.18" \
    "$s-bass.wav:0.20:0.20" "$s-kick.wav:0.28:0.28" "$s-hat.wav:0.05:0.10"
master "$s-mix.wav" "$s.wav" 2 35 0.05 1.5
encode "$s.wav" 01-morning-scale.mp3 -b 128 -m j --add-id3v2 --id3v2-latin1 \
    --tt "Morning Scale" --ta "$ARTIST" --tl "$ALBUM" --ty "$YEAR" \
    --tn 1/4 --tg Electronic --tc "$TAGCOMMENT"

# ---------------------------------------------------------------------------
# 2. Lanterns in the Rain - A minor, 100 bpm, unit = one sixteenth (0.15 s).
#    Plucked arpeggios over Am-F-C-G, a slow bell melody, soft brush on
#    2 and 4.  Stereo, VBR (-V 4), ID3v2 + ID3v1.
# ---------------------------------------------------------------------------
UNIT=0.15
s=$TMP/s2
arp() { rep 2 "$1:1 $2:1 $3:1 $4:1 $5:1 $4:1 $3:1 $2:1"; }
am=$(arp A3 C4 E4 A4 C5); ff=$(arp F3 A3 C4 F4 A4)
cc=$(arp C4 E4 G4 C5 E5); gg=$(arp G3 B3 D4 G4 B4)
track "$s-arp.wav" pluck "$am $ff $cc $gg $am $ff $cc $gg $am $ff $cc $gg A3+E4+A4:16"
track "$s-bell.wav" bell "
  r:64
  E5:8 D5:8  C5:8 A4:8  G5:8 E5:8  D5:12 B4:4
  A5:8 E5:8  F5:6 E5:2 C5:8  E5:6 D5:2 C5:8  B4:8 G4:8
  A4:16"
track "$s-pad.wav" pad "$(rep 3 'A2+E3:16 F2+C3:16 C3+G3:16 G2+D3:16') A2+E3:16"
track "$s-brush.wav" brush "r:64 $(rep 16 'r:4 x:4') r:16"
mix "$s-mix.wav" 2 "$s-arp.wav:0.22:0.34" "$s-bell.wav:0.34:0.22" \
    "$s-pad.wav:0.30:0.30" "$s-brush.wav:0.08:0.06"
master "$s-mix.wav" "$s.wav" 2 60 0.5 3
encode "$s.wav" 02-lanterns-in-the-rain.mp3 -V 4 -m j --add-id3v2 --id3v2-latin1 \
    --tt "Lanterns in the Rain" --ta "$ARTIST" --tl "$ALBUM" --ty "$YEAR" \
    --tn 2/4 --tg Electronic --tc "$TAGCOMMENT"

# ---------------------------------------------------------------------------
# 3. Tin Robot Shuffle - E major 12-bar boogie, 125 bpm shuffle,
#    unit = one triplet eighth (0.16 s; a swung pair is 2+1 units).
#    Square-wave boogie bass, chiptune riff, kick/snare/shuffled hat.
#    MONO, CBR 64 kbps, ID3v2 + ID3v1.
# ---------------------------------------------------------------------------
UNIT=0.16
s=$TMP/s3
boog() { printf ' %s:2 %s:1 %s:2 %s:1 %s:2 %s:1 %s:2 %s:1' "$@"; }
bE=$(boog E2 G#2 B2 C#3 D3 C#3 B2 G#2)
bA=$(boog A2 C#3 E3 F#3 G3 F#3 E3 C#3)
bB=$(boog B2 D#3 F#3 G#3 A3 G#3 F#3 D#3)
rE="B4:2 B4:1 G#4:2 E4:1 r:3 E5:2 D5:1"
rA="C#5:2 C#5:1 A4:2 E4:1 r:3 A4:2 G4:1"
rB="D#5:2 D#5:1 B4:2 F#4:1 r:3 A4:2 F#4:1"
track "$s-bass.wav" bass "r:12 $bE $bE $bE $bE $bA $bA $bE $bE $bB $bA $bE $bB E2+E3:6 r:6"
track "$s-chip.wav" chip "r:12 r:48 $rA $rA $rE $rE $rB $rA $rE $rB E4+G#4+B4+E5:6 r:6"
track "$s-kick.wav" kick "$(rep 26 'x:6') x:6 r:6"
track "$s-snare.wav" snare "$(rep 26 'r:3 x:3') r:12"
track "$s-hat.wav" hat "$(rep 52 'x:2 x:1') r:12"
mix "$s-mix.wav" 1 "$s-bass.wav:0.30" "$s-chip.wav:0.22" "$s-kick.wav:0.26" \
    "$s-snare.wav:0.14" "$s-hat.wav:0.08"
master "$s-mix.wav" "$s.wav" 1 20 0.02 1
encode "$s.wav" 03-tin-robot-shuffle.mp3 -b 64 -m m --add-id3v2 --id3v2-latin1 \
    --tt "Tin Robot Shuffle" --ta "$ARTIST" --tl "$ALBUM" --ty "$YEAR" \
    --tn 3/4 --tg Electronic --tc "$TAGCOMMENT"

# ---------------------------------------------------------------------------
# 4. Evening Lullaby - F major waltz (3/4), 100 bpm, unit = one eighth (0.3 s).
#    Music-box bell melody, oom-pah-pah bass and chords.
#    Stereo, CBR 96 kbps, ONLY an ID3v1 tag (exercises the tag-reader fallback).
# ---------------------------------------------------------------------------
UNIT=0.3
s=$TMP/s4
track "$s-mel.wav" bell "
  A4:2 A4:2 C5:2   G4:4 E4:2    F4:2 A4:2 C5:2   D5:4 C5:2
  C5:2 A4:2 F4:2   G4:2 A4:1 G4:1 E4:2   F4:6    E4:2 G4:2 Bb4:2
  D5:2 D5:2 F5:2   C5:4 A4:2    Bb4:2 A4:2 G4:2  A4:4 C5:2
  D5:2 F5:2 D5:2   Bb4:4 G4:2   C5:2 E4:2 G4:2   F4:6
  F4+A4+C5:12"
waltz() { printf ' %s:2 %s:2 %s:2' "$1" "$2" "$2"; }
track "$s-bass.wav" tbass "
  F2:2 r:4  C2:2 r:4  F2:2 r:4  Bb1:2 r:4
  F2:2 r:4  C2:2 r:4  F2:2 r:4  C2:2 r:4
  Bb1:2 r:4 F2:2 r:4  C2:2 r:4  F2:2 r:4
  D2:2 r:4  G2:2 r:4  C2:2 r:4  F2:2 r:4
  F1+F2:12"
track "$s-chords.wav" pluck "
  $(waltz r A3+C4+F4) $(waltz r G3+Bb3+E4) $(waltz r A3+C4+F4) $(waltz r Bb3+D4+F4)
  $(waltz r A3+C4+F4) $(waltz r G3+C4+E4)  $(waltz r A3+C4+F4) $(waltz r G3+Bb3+E4)
  $(waltz r Bb3+D4+F4) $(waltz r A3+C4+F4) $(waltz r G3+Bb3+E4) $(waltz r A3+C4+F4)
  $(waltz r A3+D4+F4) $(waltz r G3+Bb3+D4) $(waltz r G3+Bb3+E4) $(waltz r A3+C4+F4)
  r:12"
mix "$s-mix.wav" 2 "$s-mel.wav:0.40:0.34" "$s-bass.wav:0.30:0.30" "$s-chords.wav:0.22:0.30"
master "$s-mix.wav" "$s.wav" 2 50 0.05 2.5
encode "$s.wav" 04-evening-lullaby.mp3 -b 96 -m j --id3v1-only \
    --tt "Evening Lullaby" --ta "$ARTIST" --tl "$ALBUM" --ty "$YEAR" \
    --tn 4/4 --tg Electronic --tc "$TAGCOMMENT"
