//! Socket helpers that the native protocol's writers and the HTTP side share.

use std::io::{self, IoSlice, Write};

/// Writes every byte of `slices`, as few `writev` calls as the socket allows. Returns the bytes
/// written.
pub(crate) fn write_all_vectored(mut out: impl Write, mut slices: &mut [IoSlice<'_>]) -> io::Result<usize> {
    let total = slices.iter().map(|s| s.len()).sum();
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}
