//! What SEARCH matches (RFC §6.1.14): a song's title, artist and album, and the query's words,
//! folded alike so that case and accents do not matter: "beyonce" finds "Beyoncé" and
//! "MOTORHEAD" finds "Motörhead". Folding is Unicode compatibility decomposition (NFKD, which
//! also makes "ﬁ" "fi" and a full-width "Ａ" "A"), without the combining marks, in lower case;
//! a few Latin letters that do not decompose (ø, ł, đ, ß, æ, œ) are spelt out in ASCII, as a
//! person types them.
//!
//! A song's folded text is made once per scan ([`SearchKey`], kept by the `Library`), so a
//! SEARCH costs one substring search per word and song.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::library::tags::Tags;

/// The most words of a query that are matched; further words are ignored (RFC §6.1.14). With
/// text fields of at most 1024 bytes, this bounds what one SEARCH costs the server.
pub const MAX_SEARCH_WORDS: usize = 32;

/// A song's title, artist and album, folded, one per line: a word of a query never matches
/// across two of them, because a word holds no line break.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchKey(String);

impl SearchKey {
    /// The key of a song with these tags.
    pub fn new(tags: &Tags) -> SearchKey {
        SearchKey(format!("{}\n{}\n{}", fold(&tags.title), fold(&tags.artist), fold(&tags.album)))
    }

    /// Whether every word (already folded, as [`words`] gives them) occurs in the key.
    pub fn matches(&self, words: &[String]) -> bool {
        words.iter().all(|word| self.0.contains(word.as_str()))
    }
}

/// The words of a query, folded, without repeats, at most [`MAX_SEARCH_WORDS`].
pub fn words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in query.split_whitespace().map(fold).filter(|w| !w.is_empty()) {
        if words.len() == MAX_SEARCH_WORDS {
            break;
        }
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// `text` without case, accents or compatibility variants.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.nfkd().filter(|c| !is_combining_mark(*c)) {
        match c {
            'ø' | 'Ø' => folded.push('o'),
            'ł' | 'Ł' => folded.push('l'),
            'đ' | 'Đ' => folded.push('d'),
            'ß' | 'ẞ' => folded.push_str("ss"),
            'æ' | 'Æ' => folded.push_str("ae"),
            'œ' | 'Œ' => folded.push_str("oe"),
            c => folded.extend(c.to_lowercase()),
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(title: &str, artist: &str, album: &str) -> SearchKey {
        SearchKey::new(&Tags { title: title.into(), artist: artist.into(), album: album.into() })
    }

    #[test]
    fn case_and_accents_do_not_matter() {
        let beyonce = key("Halo", "Beyoncé", "I Am... Sasha Fierce");
        assert!(beyonce.matches(&words("beyonce")));
        assert!(beyonce.matches(&words("BEYONCÉ halo")));
        assert!(key("Ace of Spades", "Motörhead", "").matches(&words("MOTORHEAD")));
        // A decomposed query finds a composed title, and the other way round.
        assert!(key("Cafe\u{301}", "", "").matches(&words("café")));
        assert!(key("Café", "", "").matches(&words("Cafe\u{301}")));
        assert!(key("Straße", "Sigur Rós", "Ágætis byrjun").matches(&words("strasse ros agaetis")));
        assert!(key("ﬁre", "", "").matches(&words("FIRE")));
    }

    #[test]
    fn every_word_must_match_somewhere() {
        let song = key("Morning Scale", "The Jukebox Synths", "Jukebox Sample Tunes");
        assert!(song.matches(&words("morning synths")));
        assert!(song.matches(&words("sampl")), "a word matches inside a longer one");
        assert!(!song.matches(&words("morning lullaby")));
        assert!(!song.matches(&words("scalethe")), "a word does not span two fields");
        assert!(song.matches(&words("")), "no words match everything");
        assert!(song.matches(&words(" \t ")));
    }

    #[test]
    fn a_long_query_is_cut_to_its_first_words() {
        let query: Vec<String> = (0..100).map(|n| format!("w{n}")).collect();
        let folded = words(&query.join(" "));
        assert_eq!(folded.len(), MAX_SEARCH_WORDS);
        assert_eq!(folded[0], "w0");
        assert_eq!(words("a A á"), ["a"], "repeats are matched once");
    }

    proptest! {
        #[test]
        fn folding_is_stable_and_never_panics(text in "\\PC{0,64}") {
            let once = fold(&text);
            prop_assert_eq!(fold(&once), once.clone());
            // A title always finds itself.
            let song = key(&text, "", "");
            prop_assert!(song.matches(&words(&text)));
        }
    }
}
