//! Property tests of the codec: every message survives encode → decode, whether read from a
//! blocking reader or from a byte slice, and no input of any shape makes a decoder panic or
//! allocate more than the frame limit.

use jukebox_protocol::frame::{HEADER_LEN, Kind};
use jukebox_protocol::relay::MAX_HOPS;
use jukebox_protocol::{
    Audio, EndOfStream, ErrorCode, ErrorReply, FrameError, Goodbye, GoodbyeReason, LibraryChanged, ListPage,
    MAX_PAYLOAD_LEN, Message, NowPlaying, Paused, Playing, QueueEntry, QueuePage, Queued, Request, RequestId,
    Resumed, Scanning, SongEntry, SongId, Stopped, StreamId, Track, TrackChanged, Tuned, read_message,
};
use jukebox_protocol::{Event, Subscribed, Subsystems};
use jukebox_protocol::{Gapless, Hop, NodeId, Redirect, Relayed, ReplayGain, SongInfo};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Short enough that the encoder never truncates, with non-ASCII characters.
    "[a-zA-Z0-9 éü♪–]{0,40}"
}

fn stream_id() -> impl Strategy<Value = StreamId> {
    (1..=u32::MAX).prop_map(StreamId)
}

fn song_entry() -> impl Strategy<Value = SongEntry> {
    (1..=u32::MAX, any::<u32>(), any::<u64>(), text(), text(), text()).prop_map(
        |(id, duration_ms, size, title, artist, album)| SongEntry {
            id: SongId(id),
            duration_ms,
            size,
            title,
            artist,
            album,
        },
    )
}

fn track() -> impl Strategy<Value = Track> {
    (1..=u32::MAX, any::<u32>(), text(), text()).prop_map(|(song, duration_ms, title, artist)| Track {
        song: SongId(song),
        duration_ms,
        title,
        artist,
    })
}

/// The radio family (RFC §6.1.6-6.3.4).
fn radio_message() -> impl Strategy<Value = Message> {
    let id = any::<u32>().prop_map(RequestId);
    prop_oneof![
        id.clone().prop_map(|id| Message::Request(Request::Tune { id })),
        id.clone().prop_map(|id| Message::Request(Request::Queue { id })),
        (id.clone(), any::<u32>())
            .prop_map(|(id, s)| Message::Request(Request::RequestSong { id, song: SongId(s) })),
        (id.clone(), stream_id(), any::<u16>(), any::<u32>()).prop_map(
            |(id, stream, bitrate_kbps, sample_rate)| Message::Tuned(Tuned {
                id,
                stream,
                bitrate_kbps,
                sample_rate
            })
        ),
        (id.clone(), 1..=u32::MAX, 1..=u32::MAX).prop_map(|(id, song, place)| Message::Queued(Queued {
            id,
            song: SongId(song),
            place
        })),
        (
            id,
            any::<bool>(),
            prop::option::of(
                (track(), any::<u32>()).prop_map(|(track, elapsed_ms)| NowPlaying { track, elapsed_ms })
            ),
            prop::collection::vec(
                (track(), any::<bool>()).prop_map(|(track, mine)| QueueEntry { track, mine }),
                0..20
            )
        )
            .prop_map(|(id, last, now, entries)| Message::QueuePage(QueuePage {
                id,
                last,
                now,
                entries
            })),
        (stream_id(), any::<u64>(), any::<u32>(), track()).prop_map(
            |(stream, offset, position_ms, track)| {
                Message::TrackChanged(TrackChanged { stream, offset, position_ms, track })
            }
        ),
    ]
}

/// The relay family (RFC §6.1.9, §6.2.10, §6.2.11).
fn relay_message() -> impl Strategy<Value = Message> {
    let id = any::<u32>().prop_map(RequestId);
    let node = (1..=u64::MAX).prop_map(NodeId);
    let address = "[a-z0-9.:\\[\\]]{1,40}";
    prop_oneof![
        (id.clone(), node.clone(), any::<u16>())
            .prop_map(|(id, node, port)| Message::Request(Request::Relay { id, node, port })),
        (
            id.clone(),
            stream_id(),
            any::<u16>(),
            any::<u32>(),
            node.clone(),
            prop::collection::vec(
                (node, address).prop_map(|(node, address)| Hop { node, address }),
                0..=MAX_HOPS
            )
        )
            .prop_map(|(id, stream, bitrate_kbps, sample_rate, node, path)| {
                Message::Relayed(Relayed { id, stream, bitrate_kbps, sample_rate, node, path })
            }),
        (id, address, text()).prop_map(|(id, address, text)| Message::Redirect(Redirect {
            id,
            address,
            text
        })),
    ]
}

/// PAUSE, RESUME and SEEK, and their replies (RFC §6.1.10-6.1.12, §6.2.12, §6.2.13).
fn pause_seek_message() -> impl Strategy<Value = Message> {
    let id = any::<u32>().prop_map(RequestId);
    prop_oneof![
        id.clone().prop_map(|id| Message::Request(Request::Pause { id })),
        id.clone().prop_map(|id| Message::Request(Request::Resume { id })),
        (id.clone(), any::<u32>(), any::<u32>()).prop_map(|(id, song, position_ms)| {
            Message::Request(Request::Seek { id, song: SongId(song), position_ms })
        }),
        (id.clone(), stream_id(), any::<u32>())
            .prop_map(|(id, stream, position_ms)| Message::Paused(Paused { id, stream, position_ms })),
        (id, stream_id(), any::<u32>()).prop_map(|(id, stream, position_ms)| Message::Resumed(Resumed {
            id,
            stream,
            position_ms
        })),
    ]
}

/// INFO, SEARCH and SONG_INFO (RFC §6.1.13, §6.1.14, §6.2.14).
/// Any ReplayGain, as SONG_INFO and PLAYING carry it.
fn replay_gain() -> impl Strategy<Value = ReplayGain> {
    (
        prop::option::of(any::<i32>()),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<i32>()),
        prop::option::of(any::<u32>()),
        any::<bool>(),
    )
        .prop_map(|(track_gain, track_peak, album_gain, album_peak, from_lame)| {
            let mut gain = ReplayGain { track_gain, track_peak, album_gain, album_peak, from_lame: false };
            // The LAME bit means nothing without a value, and is not sent then.
            gain.from_lame = from_lame && gain.is_known();
            gain
        })
}

fn info_message() -> impl Strategy<Value = Message> {
    let id = any::<u32>().prop_map(RequestId);
    let gain = replay_gain();
    let numbers = (
        1..=u32::MAX,
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
        any::<(u16, u16, u8)>(),
        prop::option::of(any::<(u16, u16)>().prop_map(|(delay, padding)| Gapless { delay, padding })),
        any::<(u16, u16, u16)>(),
    );
    let texts = (text(), text(), text(), text(), "[A-Za-z0-9. ]{0,9}");
    prop_oneof![
        (id.clone(), any::<u32>())
            .prop_map(|(id, s)| Message::Request(Request::Info { id, song: SongId(s) })),
        (id.clone(), prop_oneof![text(), "[a-zé ]{0,500}"])
            .prop_map(|(id, text)| Message::Request(Request::Search { id, text })),
        (id, numbers, gain, texts).prop_map(
            |(
                id,
                (
                    song,
                    duration_ms,
                    size,
                    sample_rate,
                    (bitrate_kbps, average_kbps, channels),
                    gapless,
                    (track, track_total, year),
                ),
                gain,
                (title, artist, album, genre, encoder),
            )| {
                Message::SongInfo(SongInfo {
                    id,
                    song: SongId(song),
                    duration_ms,
                    size,
                    sample_rate,
                    bitrate_kbps,
                    average_kbps,
                    channels,
                    gapless,
                    track,
                    track_total,
                    year,
                    gain,
                    title,
                    artist,
                    album,
                    genre,
                    encoder,
                })
            }
        ),
    ]
}

/// An EVENT of any subsystem: the three this version knows, and a newer one (any other
/// single bit), which decodes as [`Event::Other`].
fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        any::<u32>().prop_map(|scan| Event::Library { scan }),
        prop::option::of(1..=u32::MAX).prop_map(|song| Event::StationSong { song: song.map(SongId) }),
        any::<u32>().prop_map(|waiting| Event::StationQueue { waiting }),
        (3..32u32, any::<u32>()).prop_map(|(bit, value)| Event::Other { subsystem: 1 << bit, value }),
    ]
}

/// SUBSCRIBE, SUBSCRIBED and EVENT (RFC §6.1.15, §6.2.15, §6.3.5).
fn event_message() -> impl Strategy<Value = Message> {
    let id = any::<u32>().prop_map(RequestId);
    prop_oneof![
        (id.clone(), any::<u32>())
            .prop_map(|(id, mask)| Message::Request(Request::Subscribe { id, mask: Subsystems(mask) })),
        (id, any::<u32>())
            .prop_map(|(id, mask)| Message::Subscribed(Subscribed { id, mask: Subsystems(mask) })),
        event().prop_map(Message::Event),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        3 => core_message(),
        1 => radio_message(),
        1 => relay_message(),
        1 => pause_seek_message(),
        1 => info_message(),
        1 => event_message()
    ]
}

fn core_message() -> impl Strategy<Value = Message> {
    let id = any::<u32>().prop_map(RequestId);
    prop_oneof![
        id.clone().prop_map(|id| Message::Request(Request::Ping { id })),
        id.clone().prop_map(|id| Message::Request(Request::List { id })),
        id.clone().prop_map(|id| Message::Request(Request::Stop { id })),
        id.clone().prop_map(|id| Message::Request(Request::Rescan { id })),
        (id.clone(), any::<u32>()).prop_map(|(id, scan)| Message::Scanning(Scanning { id, scan })),
        any::<[u32; 5]>().prop_map(|[scan, songs, added, removed, updated]| {
            Message::LibraryChanged(LibraryChanged { scan, songs, added, removed, updated })
        }),
        (id.clone(), any::<u32>())
            .prop_map(|(id, s)| Message::Request(Request::Play { id, song: SongId(s) })),
        id.clone().prop_map(|id| Message::Pong { id }),
        (id.clone(), any::<bool>(), prop::collection::vec(song_entry(), 0..20))
            .prop_map(|(id, last, songs)| Message::ListPage(ListPage { id, last, songs })),
        (
            (id.clone(), stream_id(), 1..=u32::MAX, any::<u32>(), any::<u64>()),
            (text(), text(), any::<u32>(), replay_gain())
        )
            .prop_map(
                |((id, stream, song, duration_ms, total_bytes), (title, artist, start_ms, gain))| {
                    Message::Playing(Playing {
                        id,
                        stream,
                        song: SongId(song),
                        duration_ms,
                        total_bytes,
                        title,
                        artist,
                        start_ms,
                        gain,
                    })
                }
            ),
        (id.clone(), prop::option::of(stream_id()))
            .prop_map(|(id, stream)| Message::Stopped(Stopped { id, stream })),
        (id, any::<u16>(), text()).prop_map(|(id, code, message)| Message::Error(ErrorReply {
            id,
            code: ErrorCode::from_u16(code),
            message
        })),
        (stream_id(), any::<u64>(), any::<u32>(), prop::collection::vec(any::<u8>(), 0..4000)).prop_map(
            |(stream, offset, position_ms, data)| Message::Audio(Audio { stream, offset, position_ms, data })
        ),
        (stream_id(), any::<u64>())
            .prop_map(|(stream, total_bytes)| Message::EndOfStream(EndOfStream { stream, total_bytes })),
        (any::<u16>(), text()).prop_map(|(reason, text)| Message::Goodbye(Goodbye {
            reason: GoodbyeReason::from_u16(reason),
            text
        })),
    ]
}

proptest! {
    #[test]
    fn every_message_round_trips_through_a_reader(messages in prop::collection::vec(message(), 1..8)) {
        let mut bytes = Vec::new();
        for m in &messages {
            m.encode(&mut bytes).expect("fits a frame");
        }
        let mut reader = bytes.as_slice();
        let mut scratch = Vec::new();
        for m in &messages {
            let decoded = read_message(&mut reader, &mut scratch).expect("decodes").expect("a frame");
            prop_assert_eq!(&decoded, m);
        }
        prop_assert!(read_message(&mut reader, &mut scratch).expect("clean end").is_none());
    }

    #[test]
    fn every_message_round_trips_through_a_slice(m in message()) {
        let bytes = m.to_bytes().expect("fits a frame");
        let (decoded, used) = Message::decode_from_slice(&bytes).expect("decodes").expect("whole");
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(decoded, m);
    }

    #[test]
    fn every_truncation_is_an_error_or_a_request_for_more(m in message(), cut in 0usize..64) {
        let bytes = m.to_bytes().expect("fits a frame");
        let cut = cut.min(bytes.len().saturating_sub(1));
        prop_assert_eq!(Message::decode_from_slice(&bytes[..cut]), Ok(None));
        let mut reader = &bytes[..cut];
        prop_assert!(read_message(&mut reader, &mut Vec::new()).is_err() || cut == 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_overallocate(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut scratch = Vec::new();
        let mut reader = bytes.as_slice();
        while let Ok(Some(_)) = read_message(&mut reader, &mut scratch) {}
        prop_assert!(scratch.capacity() <= MAX_PAYLOAD_LEN as usize);
        let _ = Message::decode_from_slice(&bytes);
    }

    #[test]
    fn any_payload_under_a_valid_header_decodes_or_is_refused_with_its_length(
        kind in prop_oneof![
            4 => prop::sample::select(Kind::ALL.iter().map(|k| k.to_u8()).collect::<Vec<_>>()),
            1 => any::<u8>(),
        ],
        payload in prop::collection::vec(any::<u8>(), 0..600),
        next in any::<u32>(),
    ) {
        // A well-framed header with a random payload reaches every payload decoder (random
        // bytes alone pass the length check about once in 2^15), then a PING follows.
        let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&[kind, 0]);
        bytes.extend_from_slice(&payload);
        let frame_len = bytes.len();
        Message::Request(Request::Ping { id: RequestId(next) }).encode(&mut bytes).expect("fits");
        match Message::decode_from_slice(&bytes) {
            Ok(Some((_, used))) => prop_assert_eq!(used, frame_len),
            Err(FrameError::Malformed { frame_len: skip, kind: k, .. }) => {
                prop_assert_eq!((skip, k), (frame_len, kind));
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
        // Skipping the frame by its length always lands on the next one.
        let (after, _) = Message::decode_from_slice(&bytes[frame_len..]).expect("in step").expect("whole");
        prop_assert_eq!(after, Message::Request(Request::Ping { id: RequestId(next) }));
    }

    #[test]
    fn a_corrupted_encoding_never_panics_and_keeps_the_framing(
        m in message(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = m.to_bytes().expect("fits a frame");
        let payload_len = bytes.len() - HEADER_LEN;
        prop_assume!(payload_len > 0);
        for (at, value) in flips {
            bytes[HEADER_LEN + at.index(payload_len)] = value;
        }
        match Message::decode_from_slice(&bytes) {
            Ok(Some((_, used))) => prop_assert_eq!(used, bytes.len()),
            Err(FrameError::Malformed { frame_len, .. }) => prop_assert_eq!(frame_len, bytes.len()),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn a_search_longer_than_a_text_field_is_refused(extra in 1usize..64) {
        // A client's query is a text field: past MAX_TEXT_LEN it is malformed, not read.
        let text = "a".repeat(1024 + extra);
        let mut bytes = vec![0, 0, 0, 0, Kind::Search.to_u8(), 0, 0, 0, 0, 1];
        bytes.extend_from_slice(&(text.len() as u16).to_be_bytes());
        bytes.extend_from_slice(text.as_bytes());
        let len = (bytes.len() - HEADER_LEN) as u32;
        bytes[..4].copy_from_slice(&len.to_be_bytes());
        let refused = matches!(Message::decode_from_slice(&bytes), Err(FrameError::Malformed { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn a_shortened_payload_is_refused_not_misread(m in message()) {
        // Cut the payload by one byte and fix the length: kinds with a fixed tail must refuse.
        let mut bytes = m.to_bytes().expect("fits a frame");
        prop_assume!(!matches!(m, Message::Audio(_)) && bytes.len() > 6);
        bytes.pop();
        let len = (bytes.len() - 6) as u32;
        bytes[..4].copy_from_slice(&len.to_be_bytes());
        prop_assert!(Message::decode_from_slice(&bytes).is_err());
    }
}

proptest! {
    #[test]
    fn a_playing_of_an_older_edition_decodes_with_start_ms_0_and_no_gain(
        id in any::<u32>(), stream in stream_id(), song in 1..=u32::MAX, title in text(), artist in text(),
        start_ms in any::<u32>(),
    ) {
        // A server of the first edition of version 1 ends PLAYING after Artist, one of the
        // second after Start ms (RFC §14 rule 1).
        let playing = Playing {
            id: RequestId(id),
            stream,
            song: SongId(song),
            duration_ms: 1,
            total_bytes: 2,
            title,
            artist,
            start_ms,
            gain: ReplayGain { track_gain: Some(-520), ..ReplayGain::default() },
        };
        let full = Message::Playing(playing.clone()).to_bytes().expect("fits a frame");
        let cut = |fields: usize| {
            let mut bytes = full[..full.len() - fields].to_vec();
            let len = (bytes.len() - HEADER_LEN) as u32;
            bytes[..4].copy_from_slice(&len.to_be_bytes());
            Message::decode_from_slice(&bytes).expect("decodes").expect("whole").0
        };
        let second = Playing { gain: ReplayGain::default(), ..playing.clone() };
        prop_assert_eq!(cut(17), Message::Playing(second.clone()));
        prop_assert_eq!(cut(21), Message::Playing(Playing { start_ms: 0, ..second }));
        for partial in [1, 5, 16, 18, 20] {
            let mut bytes = full[..full.len() - partial].to_vec();
            let len = (bytes.len() - HEADER_LEN) as u32;
            bytes[..4].copy_from_slice(&len.to_be_bytes());
            prop_assert!(Message::decode_from_slice(&bytes).is_err(), "a field cut short is malformed");
        }
    }

    #[test]
    fn an_event_is_decoded_whatever_its_value_and_refused_unless_it_names_one_subsystem(
        subsystem in any::<u32>(),
        value in any::<u32>(),
    ) {
        // A receiver never panics on an EVENT, and reads one bit as one subsystem (RFC §6.3.5).
        let mut bytes = vec![0, 0, 0, 8, Kind::Event.to_u8(), 0];
        bytes.extend_from_slice(&subsystem.to_be_bytes());
        bytes.extend_from_slice(&value.to_be_bytes());
        match Message::decode_from_slice(&bytes) {
            Ok(Some((Message::Event(event), 14))) => {
                prop_assert_eq!(subsystem.count_ones(), 1);
                prop_assert_eq!(event.subsystem(), Subsystems(subsystem));
                prop_assert_eq!(event.subsystem().known().is_empty(), matches!(event, Event::Other { .. }));
                prop_assert_eq!(Message::Event(event).to_bytes().expect("fits"), bytes);
            }
            Err(FrameError::Malformed { frame_len: 14, .. }) => prop_assert_ne!(subsystem.count_ones(), 1),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn a_mask_grants_only_what_this_version_knows(mask in any::<u32>()) {
        let known = Subsystems(mask).known();
        prop_assert!(Subsystems::KNOWN.contains(known));
        prop_assert!(Subsystems(mask).contains(known));
        prop_assert_eq!(known.iter().fold(Subsystems::NONE, |all, one| all | one), known);
        prop_assert!(known.iter().all(|one| one.name().is_some()));
    }

    #[test]
    fn the_new_error_codes_round_trip(code in prop::sample::select(vec![0x0019u16, 0x001A, 0x001B])) {
        let decoded = ErrorCode::from_u16(code);
        prop_assert!(!matches!(decoded, ErrorCode::Other(_)));
        prop_assert_eq!(decoded.to_u16(), code);
    }
}
