//! The audio codecs of jukebox, in one crate because two programs need them.
//!
//! The client plays what the server streams: it decodes MP3 frames ([`FrameDecoder`]) and
//! converts them to the one format its sound card is opened with, 44.1 kHz stereo
//! ([`Resampler`]). The server's station does the same to every song of the library, whatever
//! its sample rate and channels, before it re-encodes them into one continuous stream. Both
//! sides share this code so that they decode and convert alike, and so that the only `unsafe`
//! code of the workspace, the door to minimp3's C decoder, lives in one module.

#![deny(unsafe_code)]

// The only unsafe code of the crate: two calls into minimp3's C decoder.
#[allow(unsafe_code)]
mod decode;
mod resample;

pub use decode::{Decoded, FrameDecoder};
pub use resample::{CHANNELS, Resampler, SAMPLE_RATE};
