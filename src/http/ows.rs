//! Optional whitespace (RFC 9110 §5.6.3): the one definition of which bytes
//! may surround a field value or a list element.
//!
//! `OWS = *( SP / HTAB )`. Only spaces and tabs: not form feeds, not
//! vertical tabs, not carriage returns, not the Unicode spaces that
//! [`str::trim`] removes (a no-break space in `Connection: \u{a0}close` is
//! part of the token, which then is not `close`). Every place that trims a
//! field value, a list element or a chunk extension's leading whitespace
//! uses these functions, so no copy can trim a different set.

/// True for the bytes of optional whitespace: space and horizontal tab.
pub fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without leading and trailing spaces and tabs.
///
/// ```
/// use asynchat::http::ows::trim;
/// assert_eq!(trim(" \tclose\t "), "close");
/// assert_eq!(trim("\u{a0}close"), "\u{a0}close");
/// ```
pub fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// `bytes` without leading spaces and tabs.
pub fn trim_start(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().take_while(|&&b| is_ows(b)).count();
    &bytes[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_spaces_and_tabs_are_trimmed() {
        // (input, trimmed, trimmed at the start only)
        let cases: &[(&str, &str, &str)] = &[
            ("", "", ""),
            ("a", "a", "a"),
            (" a ", "a", "a "),
            ("\ta\t", "a", "a\t"),
            (" \t a b \t ", "a b", "a b \t "),
            ("   ", "", ""),
            ("\x0ba\x0c", "\x0ba\x0c", "\x0ba\x0c"),
            ("\ra\n", "\ra\n", "\ra\n"),
            ("\u{a0}a\u{a0}", "\u{a0}a\u{a0}", "\u{a0}a\u{a0}"),
            ("\u{2003}a", "\u{2003}a", "\u{2003}a"),
        ];
        for &(input, both, start) in cases {
            assert_eq!(trim(input), both, "{input:?}");
            assert_eq!(trim_start(input.as_bytes()), start.as_bytes(), "{input:?}");
        }
    }
}
