//! INFO and SEARCH through the real server binary and a real socket (RFC §6.1.13, §6.1.14):
//! the encoder delay and padding of a `lame`-encoded file, checked against what ffprobe reads
//! from the same file; ReplayGain from ID3v2 TXXX frames and from the LAME tag; a search that
//! ignores case and accents and spans several pages.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Binary, Client, synthetic_audio};
use id3::TagLike;
use id3::frame::ExtendedText;
use jukebox_protocol::{ErrorCode, Message, Request, SongEntry, SongId, SongInfo};

/// Encodes `seconds` of a stereo tone with the `lame` command at 128 kbit/s: its file has an
/// Info header with a LAME tag.
fn lame_song(path: &Path, seconds: f32) {
    let raw = path.with_extension("raw");
    let samples = (seconds * 44_100.0) as usize;
    let pcm: Vec<u8> = (0..samples)
        .flat_map(|i| {
            let v = ((i as f32 * 330.0 * std::f32::consts::TAU / 44_100.0).sin() * 12_000.0) as i16;
            [v, v]
        })
        .flat_map(i16::to_le_bytes)
        .collect();
    std::fs::write(&raw, pcm).unwrap();
    let status = Command::new("lame")
        .args(["--quiet", "-r", "-s", "44.1", "--bitwidth", "16", "--signed", "--little-endian", "-b", "128"])
        .arg(&raw)
        .arg(path)
        .status();
    assert!(status.is_ok_and(|s| s.success()), "this test needs lame (apt-get install lame)");
    std::fs::remove_file(raw).unwrap();
}

/// The encoder delay and padding that ffprobe (FFmpeg's MP3 demuxer) reads from the LAME tag:
/// its debug log says `pad DELAY PADDING`. An independent reader of the same bytes.
fn ffprobe_delay_and_padding(path: &Path) -> (u16, u16) {
    let output = Command::new("ffprobe").args(["-v", "debug", "-i"]).arg(path).output();
    let output = output.expect("this test needs ffprobe (apt-get install ffmpeg)");
    let log = String::from_utf8_lossy(&output.stderr);
    let line =
        log.lines().find_map(|l| l.split("] pad ").nth(1)).unwrap_or_else(|| panic!("no pad line: {log}"));
    let mut numbers = line.split_whitespace().map(|n| n.parse().expect("a number"));
    (numbers.next().expect("delay"), numbers.next().expect("padding"))
}

fn info(client: &mut Client, song: u32) -> Message {
    let id = client.request(|id| Request::Info { id, song: SongId(song) });
    loop {
        match client.recv_skipping_audio().1 {
            Message::SongInfo(info) if info.id == id => return Message::SongInfo(info),
            Message::Error(error) if error.id == id => return Message::Error(error),
            // The end of a stream that plays meanwhile.
            Message::EndOfStream(_) => {}
            other => panic!("not an answer to INFO {id:?}: {other:?}"),
        }
    }
}

fn song_info(client: &mut Client, song: u32) -> SongInfo {
    match info(client, song) {
        Message::SongInfo(info) => info,
        other => panic!("INFO {song} failed: {other:?}"),
    }
}

/// The pages of a SEARCH reply, checked as the RFC says they must be.
fn search(client: &mut Client, text: &str) -> (Vec<SongEntry>, usize) {
    let id = client.request(|id| Request::Search { id, text: text.into() });
    let (mut songs, mut pages) = (Vec::new(), 0);
    loop {
        match client.recv_skipping_audio().1 {
            Message::ListPage(page) if page.id == id => {
                pages += 1;
                songs.extend(page.songs);
                if page.last {
                    assert!(songs.windows(2).all(|w| w[0].id < w[1].id), "in ascending id order");
                    return (songs, pages);
                }
            }
            other => panic!("not a page of SEARCH {id:?}: {other:?}"),
        }
    }
}

#[test]
fn info_reports_the_lame_tag_as_ffprobe_reads_it_and_the_tagged_replaygain() {
    let dir = tempfile::tempdir().unwrap();
    // 1: LAME's own ReplayGain estimate only. 2: ID3v2 ReplayGain frames, which win.
    let plain = dir.path().join("1-plain.mp3");
    lame_song(&plain, 2.0);
    let tagged = dir.path().join("2-tagged.mp3");
    lame_song(&tagged, 3.0);
    let mut tag = id3::Tag::new();
    tag.set_title("Halo");
    tag.set_artist("Beyoncé");
    tag.set_album("I Am... Sasha Fierce");
    tag.set_track(3);
    tag.set_total_tracks(12);
    tag.set_year(2008);
    tag.set_genre("Pop");
    for (description, value) in [
        ("REPLAYGAIN_TRACK_GAIN", "-6.20 dB"),
        ("REPLAYGAIN_TRACK_PEAK", "0.988235"),
        ("REPLAYGAIN_ALBUM_GAIN", "-5.10 dB"),
        ("REPLAYGAIN_ALBUM_PEAK", "1.000000"),
    ] {
        tag.add_frame(ExtendedText { description: description.into(), value: value.into() });
    }
    tag.write_to_path(&tagged, id3::Version::Id3v24).unwrap();

    let server = Binary::start(dir.path(), &["--db", "none"]);
    server.wait_for_log("scan 1 of");
    let mut client = Client::connect(server.addr);

    let one = song_info(&mut client, 1);
    let (delay, padding) = ffprobe_delay_and_padding(&plain);
    assert_eq!(one.gapless.map(|g| (g.delay, g.padding)), Some((delay, padding)), "as ffprobe reads it");
    assert_eq!(delay, 576, "LAME 3.100's delay");
    assert_eq!((one.sample_rate, one.channels, one.bitrate_kbps, one.average_kbps), (44_100, 2, 128, 128));
    assert!(one.encoder.starts_with("LAME"), "{}", one.encoder);
    assert!(one.gain.from_lame && one.gain.track_gain.is_some_and(|g| g < 0), "{:?}", one.gain);
    assert_eq!((one.title.as_str(), one.track, one.year), ("1-plain", 0, 0));

    let two = song_info(&mut client, 2);
    assert_eq!(two.gapless.map(|g| (g.delay, g.padding)), Some(ffprobe_delay_and_padding(&tagged)));
    assert_eq!(
        (
            two.gain.track_gain,
            two.gain.track_peak,
            two.gain.album_gain,
            two.gain.album_peak,
            two.gain.from_lame
        ),
        (Some(-620), Some(988_235), Some(-510), Some(1_000_000), false)
    );
    assert_eq!((two.title.as_str(), two.artist.as_str()), ("Halo", "Beyoncé"));
    assert_eq!((two.track, two.track_total, two.year, two.genre.as_str()), (3, 12, 2008, "Pop"));
    // What LIST says of the song, INFO says alike.
    let listed = client.list().into_iter().find(|s| s.id == SongId(2)).expect("song 2 is listed");
    assert_eq!((listed.duration_ms, listed.size, listed.album), (two.duration_ms, two.size, two.album));

    match info(&mut client, 3) {
        Message::Error(error) => assert_eq!(error.code, ErrorCode::NoSuchSong),
        other => panic!("INFO of no song answered {other:?}"),
    }
    // INFO is not a stream: a song plays on through it.
    client.play(1);
    assert!(matches!(client.recv_skipping_audio().1, Message::Playing(_)));
    assert_eq!(song_info(&mut client, 2).title, "Halo");
}

#[test]
fn search_ignores_case_and_accents_and_pages_like_list() {
    let dir = tempfile::tempdir().unwrap();
    // 150 songs with long titles, 100 of them by Motörhead: more than one page of them (a
    // page holds 64 KiB).
    let long = "x".repeat(900);
    for n in 0..150u32 {
        let path = dir.path().join(format!("{n:03}.mp3"));
        std::fs::write(&path, synthetic_audio(20, n as u8)).unwrap();
        let mut tag = id3::Tag::new();
        let (artist, album) =
            if n % 3 == 0 { ("Beyoncé", "B'Day") } else { ("Motörhead", "Ace of Spades") };
        tag.set_title(format!("Song {n} {long}"));
        tag.set_artist(artist);
        tag.set_album(album);
        tag.write_to_path(&path, id3::Version::Id3v24).unwrap();
    }
    let server = Binary::start(dir.path(), &["--db", "none"]);
    server.wait_for_log("scan 1 of");
    let mut client = Client::connect(server.addr);
    let all = client.list();
    assert_eq!(all.len(), 150);

    let (motorhead, pages) = search(&mut client, "MOTORHEAD");
    let expected: Vec<_> = all.iter().filter(|s| s.artist == "Motörhead").cloned().collect();
    assert_eq!(motorhead, expected, "every Motörhead song, as LIST gives it");
    assert!(pages > 1, "100 entries of 1 KB take more than one page");

    let (beyonce, _) = search(&mut client, "beyonce  BDAY");
    assert!(beyonce.is_empty(), "B'Day is not BDAY: {} found", beyonce.len());
    let (beyonce, _) = search(&mut client, "beyonce b'day song 7");
    let titles: Vec<&str> = beyonce.iter().map(|s| s.title.split(' ').nth(1).unwrap()).collect();
    let expected: Vec<String> =
        (0..150).filter(|n| n % 3 == 0 && n.to_string().contains('7')).map(|n| n.to_string()).collect();
    assert_eq!(titles, expected, "every word must match, and a word may be part of one");

    let (everything, pages) = search(&mut client, "   ");
    assert_eq!(everything, all, "no words list every song");
    assert!(pages > 1);
    let (none, pages) = search(&mut client, "lanterns");
    assert_eq!((none.len(), pages), (0, 1), "no match is one empty last page");
}
