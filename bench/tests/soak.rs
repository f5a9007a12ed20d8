//! A three-second soak against an in-process server: a few real listeners with every mix, next
//! to two hostile connections of each kind. The listeners must be unharmed, the quick hostile
//! kinds must have been closed by the server as RFC.md says, and the server must let go of every
//! thread and file afterwards. The process measured is this test's own, which holds the server.

use std::path::Path;
use std::time::{Duration, Instant};

use jukebox_bench::hostile::HostileKind;
use jukebox_bench::soak::{SoakConfig, SoakReport, Tolerance};
use jukebox_bench::{Mix, RunConfig, Target, driver};
use jukebox_server::{Catalog, Server};

#[test]
fn listeners_are_unharmed_by_every_kind_of_hostile_connection() {
    let music = Path::new(env!("CARGO_MANIFEST_DIR")).join("../music");
    let server =
        Server::bind("127.0.0.1:0".parse().unwrap(), Catalog::scanned(&music).unwrap()).unwrap().spawn();
    let hostile = 2 * HostileKind::ALL.len() as u64;
    let config = SoakConfig {
        run: RunConfig {
            target: Target::Native { addr: server.addr, song: None },
            listeners: 10,
            duration: Duration::from_secs(3),
            ramp_per_sec: 200,
            prebuffer: Duration::from_millis(200),
            mix: Mix {
                list_every: Some(Duration::from_millis(500)),
                switch_every: Some(Duration::from_millis(700)),
                stop_every: Some(Duration::from_millis(1500)),
                churn_every: Some(Duration::from_secs(2)),
                keepalive: true,
            },
            server_pid: Some(std::process::id()),
            idle: Duration::ZERO,
            seed: 11,
            label: None,
        },
        hostile,
        sample_every: Duration::from_secs(1),
        tolerance: Tolerance { threads: 2, fds: 4 },
    };
    let started = Instant::now();
    let mut printed = Vec::new();
    let report = driver::soak(&config, |sample| printed.push(*sample)).expect("the soak completes");
    eprint!("{}", report.summary());
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());

    // The real listeners.
    let l = &report.listener_report;
    assert!(l.failed.is_empty(), "listener failures: {:?}", l.failed);
    assert_eq!((l.connected, l.pending, l.errors), (10, 0, 0));
    assert_eq!(l.stale_bytes, 0, "audio of an old stream followed the reply that ended it");
    assert_eq!(l.underruns, 0);
    assert!(l.switches > 10 && l.reconnects > 0 && l.audio_bytes > 10 * 16_000);
    assert!(report.problems().is_empty(), "{:?}", report.problems());

    // Samples at 0, 1, 2 and 3 s, handed out as they were taken.
    assert_eq!(printed, report.samples);
    let elapsed: Vec<u64> = report.samples.iter().map(|s| s.elapsed_secs.round() as u64).collect();
    assert_eq!(elapsed, [0, 1, 2, 3]);
    let last = report.samples.last().expect("samples");
    assert_eq!(last.listeners, 10);
    assert!(last.hostile > hostile / 2, "{last:?}");
    assert!(last.server.threads > report.before.threads && last.server.fds > report.before.fds);

    // Every kind was opened; the ones the server closes at once were closed, and nothing ended
    // in a way the server should not allow.
    let tally = |kind: HostileKind| &report.hostile_tally[&kind];
    for kind in HostileKind::ALL {
        assert!(tally(kind).opened >= 2, "{kind:?}: {:?}", tally(kind));
    }
    assert_eq!(report.unexpected_hostile(), 0, "{}", report.summary());
    let ended = |kind: HostileKind, label: &str| tally(kind).endings.get(label).map_or(0, |e| e.count);
    let by_server =
        |kind: HostileKind| ended(kind, "closed by the server") + ended(kind, "reset by the server");
    assert!(by_server(HostileKind::Garbage) >= 2, "{:?}", tally(HostileKind::Garbage));
    let protocol_error = ended(HostileKind::Oversized, "GOODBYE PROTOCOL_ERROR, closed by the server")
        + ended(HostileKind::Oversized, "GOODBYE PROTOCOL_ERROR, reset by the server");
    assert!(protocol_error >= 2, "{:?}", tally(HostileKind::Oversized));
    assert!(ended(HostileKind::Vanisher, "closed by us, as planned") >= 2);
    assert!(tally(HostileKind::Flooder).bytes_received > 100_000, "{:?}", tally(HostileKind::Flooder));
    assert!(tally(HostileKind::NonReader).bytes_sent > 2 * 14, "PLAY repeated");

    // Afterwards the server holds what it held before, and the report survives JSON.
    assert_eq!(report.server_lost, None);
    let after = report.after.expect("the server was read after the soak");
    assert!(after.threads <= report.before.threads + 2, "{report:?}");
    assert!(after.fds <= report.before.fds + 4, "{report:?}");
    let json = serde_json::to_string(&report).expect("serialises");
    let back: SoakReport = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back.hostile_tally.len(), HostileKind::ALL.len());
}
