//! `jukebox-bench`: a load generator and latency probe for jukebox-server, and for any HTTP/ICY
//! stream (Icecast) so the two can be measured side by side.
//!
//! # Threads
//!
//! One. Every simulated listener is a state machine ([`native::Native`], [`icy::Icy`]) driven
//! by one mio event loop ([`driver`]); timers for the mixes sit in one heap. Thousands of
//! listeners therefore cost file descriptors, not threads: the machine's `pid_max` is left to
//! the server under test, which needs two threads per connection. The soak's hostile
//! connections ([`hostile::Hostile`]) are state machines on the same loop; [`soak`] holds what a
//! soak measured and how it reads.
//!
//! Each listener's audio goes through a virtual player ([`playout::Playout`]) that starts
//! after a prebuffer and then plays at real time, so "underrun" means what it would mean to a
//! person listening.
//!
//! Radio listeners (native TUNE, or ICY on a live mount) are also measured against the live
//! edge: how far behind the newest audio the server has released each one hears ([`live`]).
//! [`hop`] times what a relay adds: probes and listeners on an origin and on a relay of it at
//! once, on a small loop of its own, matched by the station time both give the same audio.

pub mod driver;
pub mod hop;
pub mod hostile;
pub mod icy;
pub mod live;
pub mod metrics;
pub mod native;
pub mod playout;
pub mod probe;
pub mod report;
pub mod soak;
pub mod stats;

pub use driver::{Mix, RunConfig, Target, run};
pub use report::Report;
