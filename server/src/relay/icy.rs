//! Relaying an Icecast/SHOUTcast station (placeholder until the ICY source lands).

use std::time::Duration;

use super::Piece;
use crate::http::client::Url;

/// Why an ICY station could not be used or was lost.
#[derive(Debug, thiserror::Error)]
pub enum IcyError {
    /// Not written yet.
    #[error("relaying ICY stations is not built yet")]
    Unsupported,
}

/// An ICY station's stream.
#[derive(Debug)]
pub struct IcySource;

impl IcySource {
    /// Connects to `url`.
    pub fn connect(_url: &Url, _timeout: Duration) -> Result<IcySource, IcyError> {
        Err(IcyError::Unsupported)
    }

    /// The next piece.
    pub fn piece(&mut self) -> Result<Piece, IcyError> {
        Err(IcyError::Unsupported)
    }

    /// The station's name.
    pub fn name(&self) -> Option<&str> {
        None
    }
}
