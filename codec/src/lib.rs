//! The audio codecs of jukebox, in one crate because two programs need them.
//!
//! The client plays what the server streams: it decodes MP3 frames ([`FrameDecoder`]) and
//! converts them to the one format its sound card is opened with, 44.1 kHz stereo
//! ([`Resampler`]). The server's radio station does the same to every song of the library,
//! whatever its sample rate and channels, and re-encodes the result with LAME ([`Encoder`])
//! into one continuous constant-bitrate stream that every listener receives alike, with no gap
//! where one song joins the next. Both sides share this code so that they decode and convert
//! alike, and so that the only `unsafe` code of the workspace, the door to minimp3's C
//! decoder, lives in one module.
//!
//! LAME is LGPL-3.0 and is linked statically into the programs that encode (the server);
//! programs that only decode (the client) never reference it.

#![deny(unsafe_code)]

// The only unsafe code of the crate: two calls into minimp3's C decoder.
#[allow(unsafe_code)]
mod decode;
mod encode;
mod resample;

pub use decode::{Decoded, FrameDecoder};
pub use encode::{DEFAULT_BITRATE_KBPS, EncodeError, Encoder, FRAME_DURATION, SAMPLES_PER_FRAME};
pub use resample::{CHANNELS, Resampler, SAMPLE_RATE};
