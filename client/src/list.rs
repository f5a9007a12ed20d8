//! The reply to LIST, put together page by page and checked as it comes (RFC §6.2.2): the
//! pages list every song exactly once, in ascending id order, and the last one says so. A
//! server that never sends the last page, or sends the same page again and again, would
//! otherwise make the client hold songs until memory runs out.

use jukebox_protocol::{ListPage, SongEntry, SongId};

/// The most songs one LIST reply may hold: ten times a very large music collection, and about
/// 100 MB of entries. A server that sends more without a last page is not listing a library.
pub const MAX_LIST_SONGS: usize = 1_000_000;

/// The most text (titles, artists and albums together) one LIST reply may hold. Each text may
/// be 1 KiB (RFC §5.3.2), so a million entries of long texts would take 3 GB; this keeps the
/// worst case near a quarter of that count's worth.
pub const MAX_LIST_TEXT: usize = 128 << 20;

/// Why a LIST reply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// A song id is not above the one before it: a song came twice, or out of order.
    #[error(
        "the server's song list is broken: song {came} came after song {after} \
         (a list names each song once, in ascending id order)"
    )]
    OutOfOrder {
        /// The id before.
        after: SongId,
        /// The id that should have been higher.
        came: SongId,
    },
    /// More than [`MAX_LIST_SONGS`] songs and no last page.
    #[error(
        "the server sent more than {MAX_LIST_SONGS} songs and still no last page; the client stops there"
    )]
    TooManySongs,
    /// More than [`MAX_LIST_TEXT`] bytes of text and no last page.
    #[error(
        "the server sent more than {} MiB of titles and still no last page; the client stops there",
        MAX_LIST_TEXT >> 20
    )]
    TooMuchText,
}

/// A LIST reply being received.
#[derive(Debug, Default)]
pub struct SongList {
    songs: Vec<SongEntry>,
    text: usize,
}

impl SongList {
    /// Adds one page; `Ok(true)` once the last page is in. After an error the list is useless:
    /// the reply is refused as a whole.
    pub fn add(&mut self, page: ListPage) -> Result<bool, ListError> {
        for song in page.songs {
            if let Some(previous) = self.songs.last()
                && song.id <= previous.id
            {
                return Err(ListError::OutOfOrder { after: previous.id, came: song.id });
            }
            if self.songs.len() == MAX_LIST_SONGS {
                return Err(ListError::TooManySongs);
            }
            self.text += song.title.len() + song.artist.len() + song.album.len();
            if self.text > MAX_LIST_TEXT {
                return Err(ListError::TooMuchText);
            }
            self.songs.push(song);
        }
        Ok(page.last)
    }

    /// The songs, in id order.
    pub fn into_songs(self) -> Vec<SongEntry> {
        self.songs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::RequestId;

    fn page(ids: &[u32], last: bool) -> ListPage {
        let songs = ids
            .iter()
            .map(|&id| SongEntry {
                id: SongId(id),
                duration_ms: 1,
                size: 1,
                title: "t".into(),
                artist: String::new(),
                album: String::new(),
            })
            .collect();
        ListPage { id: RequestId(1), last, songs }
    }

    #[test]
    fn pages_that_continue_in_order_make_a_list() {
        let mut list = SongList::default();
        assert_eq!(list.add(page(&[1, 2, 5], false)), Ok(false));
        assert_eq!(list.add(page(&[], false)), Ok(false));
        assert_eq!(list.add(page(&[6, 9], true)), Ok(true));
        let ids: Vec<u32> = list.into_songs().iter().map(|s| s.id.0).collect();
        assert_eq!(ids, [1, 2, 5, 6, 9]);
    }

    #[test]
    fn a_repeated_or_backward_id_is_refused() {
        let mut list = SongList::default();
        assert_eq!(list.add(page(&[1, 2], false)), Ok(false));
        assert_eq!(
            list.add(page(&[1, 2], false)),
            Err(ListError::OutOfOrder { after: SongId(2), came: SongId(1) })
        );
        let mut list = SongList::default();
        assert_eq!(
            list.add(page(&[4, 4], true)),
            Err(ListError::OutOfOrder { after: SongId(4), came: SongId(4) })
        );
    }

    #[test]
    fn the_song_count_is_capped() {
        let mut list = SongList::default();
        let ids: Vec<u32> = (1..=MAX_LIST_SONGS as u32).collect();
        for chunk in ids.chunks(50_000) {
            assert_eq!(list.add(page(chunk, false)), Ok(false));
        }
        assert_eq!(list.add(page(&[MAX_LIST_SONGS as u32 + 1], true)), Err(ListError::TooManySongs));
    }

    #[test]
    fn the_text_is_capped() {
        let mut list = SongList::default();
        let long = "x".repeat(1024);
        let mut id = 0;
        let result = loop {
            let songs = (0..60)
                .map(|_| {
                    id += 1;
                    SongEntry {
                        id: SongId(id),
                        duration_ms: 1,
                        size: 1,
                        title: long.clone(),
                        artist: long.clone(),
                        album: long.clone(),
                    }
                })
                .collect();
            match list.add(ListPage { id: RequestId(1), last: false, songs }) {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert_eq!(result, ListError::TooMuchText);
        assert!(id as usize * 3 * 1024 > MAX_LIST_TEXT);
    }
}
