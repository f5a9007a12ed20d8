//! Text from a peer made safe to show: every text field of the protocol (titles, error
//! messages, goodbye texts) and every file name a hostile music folder holds may carry control
//! characters, terminal escape sequences or bidirectional overrides (RFC §12). A terminal obeys
//! them (retitle the window, clear the screen, reorder what follows) and a log line with a
//! newline in it forges a second line, so anything a peer or a file chose passes through
//! [`printable`] before it reaches a terminal or a log.

use std::borrow::Cow;

/// Whether `c` would do something other than show itself: C0 and C1 controls (ESC, CR, LF,
/// BEL, CSI...), DEL, and the Unicode format characters that reorder or hide text (bidi
/// embeddings, overrides and isolates, the directional marks, zero-width characters, and the
/// line and paragraph separators).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'              // ARABIC LETTER MARK
            | '\u{200B}'..='\u{200F}' // zero-width space, joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}' // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, bidi isolates
            | '\u{FEFF}'            // zero-width no-break space (BOM)
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        )
}

/// `text` with every character that [`is_unsafe`] replaced: whitespace controls (tab, line
/// breaks) by a space, so words stay apart, and the rest removed. Borrows when there is
/// nothing to replace, which is the common case.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .filter_map(|c| match c {
                '\t' | '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => Some(' '),
                c if is_unsafe(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

/// "1st", "2nd", "3rd", "4th", ..., "11th", "12th", "13th", ..., "21st": a place in the station's
/// queue (QUEUED's Place) as the server's messages and the client both word it.
pub fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_read_as_english() {
        let got: Vec<String> = [1, 2, 3, 4, 10, 11, 12, 13, 14, 21, 22, 23, 101, 111, 112, 1000]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "10th", "11th", "12th", "13th", "14th", "21st", "22nd", "23rd",
                "101st", "111th", "112th", "1000th"
            ]
        );
    }
    use proptest::prelude::*;

    #[test]
    fn escape_sequences_lose_their_escape() {
        assert_eq!(printable("Song\x1b]0;pwned\x07\x1b[2J"), "Song]0;pwned[2J");
        assert_eq!(printable("a\u{9b}31mb"), "a31mb");
    }

    #[test]
    fn a_newline_cannot_forge_a_log_line() {
        assert_eq!(printable("bye\n2026-11-23T00:00:00Z  INFO fake"), "bye 2026-11-23T00:00:00Z  INFO fake");
    }

    #[test]
    fn bidi_overrides_are_removed_and_ordinary_text_is_borrowed() {
        assert_eq!(printable("evil\u{202E}3pm.exe"), "evil3pm.exe");
        assert_eq!(printable("\u{2067}x\u{2069}"), "x");
        assert!(matches!(printable("Lanterns in the Rain — Ünïcödé ♪"), Cow::Borrowed(_)));
    }

    proptest! {
        #[test]
        fn nothing_unsafe_survives(text in any::<String>()) {
            let shown = printable(&text);
            prop_assert!(!shown.chars().any(is_unsafe), "{:?}", shown);
            // Safe characters are kept, in order.
            let kept: String = text.chars().filter(|c| !is_unsafe(*c)).collect();
            let shown_without_spaces: String = shown.chars().filter(|c| !is_unsafe(*c)).collect();
            prop_assert_eq!(shown_without_spaces.replace(' ', ""), kept.replace(' ', ""));
        }
    }
}
