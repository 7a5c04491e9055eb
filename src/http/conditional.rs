//! Validators and conditional requests (RFC 9110 §8.8 and §13).
//!
//! This module owns the entity tag of a file and the three comparisons a
//! static file server needs: `If-None-Match` and `If-Modified-Since` (which
//! turn a `GET` into `304 Not Modified`) and `If-Range` (which decides
//! whether a `Range` is honoured). Each function takes a header value and the
//! file's validators and answers yes or no; the order in which the headers
//! are evaluated (RFC 9110 §13.2.2) is the caller's.
//!
//! Times are compared at the resolution of HTTP dates: a modification time is
//! truncated to whole seconds before it is compared with a date.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::date::parse_http_date;
use super::ows;

/// A strong entity tag for a file of `len` bytes last modified at `mtime`,
/// such as `"3e8-5f5e0ff-1dcd6500"` (with the quotes): the length, the whole
/// seconds since the epoch and the nanoseconds, in lowercase hexadecimal.
///
/// A modification time before the epoch gives negative seconds, written with
/// a `-` (`"a--3c-0"`), so different times never share a tag.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use asynchat::http::conditional::etag;
///
/// let t = UNIX_EPOCH + Duration::new(100_000_000, 500_000_000);
/// assert_eq!(etag(1000, t), "\"3e8-5f5e100-1dcd6500\"");
/// ```
pub fn etag(len: u64, mtime: SystemTime) -> String {
    match mtime.duration_since(UNIX_EPOCH) {
        Ok(d) => format!("\"{len:x}-{:x}-{:x}\"", d.as_secs(), d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            format!("\"{len:x}--{:x}-{:x}\"", d.as_secs(), d.subsec_nanos())
        }
    }
}

/// One entity tag: `W/"..."` or `"..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntityTag<'a> {
    /// True for a weak tag (`W/` prefix).
    weak: bool,
    /// The opaque tag, quotes included.
    opaque: &'a str,
}

impl<'a> EntityTag<'a> {
    /// Parses exactly one entity tag (RFC 9110 §8.8.3), with nothing around
    /// it; `None` when malformed.
    fn parse(s: &'a str) -> Option<EntityTag<'a>> {
        let (weak, opaque) = match s.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let inner = opaque.strip_prefix('"')?.strip_suffix('"')?;
        // etagc = %x21 / %x23-7E / obs-text: no quote, space or control.
        let valid = inner
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80);
        valid.then_some(EntityTag { weak, opaque })
    }

    /// The weak comparison: the opaque tags are equal, whatever `W/` says.
    fn weak_eq(self, other: EntityTag<'_>) -> bool {
        self.opaque == other.opaque
    }

    /// The strong comparison: both tags are strong and equal.
    fn strong_eq(self, other: EntityTag<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }
}

/// The well-formed entity tags of a comma-separated list; malformed entries
/// are skipped. Commas inside quotes do not split, since `,` is a valid
/// character of an opaque tag.
fn entity_tags(header: &str) -> impl Iterator<Item = EntityTag<'_>> {
    let mut rest = Some(header);
    std::iter::from_fn(move || {
        let s = rest?;
        let mut in_quotes = false;
        let end = s.bytes().position(|b| {
            in_quotes ^= b == b'"';
            b == b',' && !in_quotes
        });
        let (element, next) = match end {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        rest = next;
        Some(element)
    })
    .filter_map(|element| EntityTag::parse(ows::trim(element)))
}

/// True when an `If-None-Match` value matches `etag`, so that a `GET` or
/// `HEAD` should be answered with `304 Not Modified`.
///
/// The comparison is weak (RFC 9110 §13.1.2): `W/` is ignored on both sides.
/// A value of `*` matches any existing file. Entries are separated by commas
/// with optional whitespace, and malformed entries are ignored; a `*` inside
/// a list is malformed.
pub fn if_none_match_matches(header: &str, etag: &str) -> bool {
    let header = ows::trim(header);
    if header == "*" {
        return true;
    }
    let Some(ours) = EntityTag::parse(etag) else {
        return false;
    };
    entity_tags(header).any(|theirs| theirs.weak_eq(ours))
}

/// `t` rounded down to a whole second since the epoch, the resolution of an
/// HTTP date.
fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(e) => {
            let d = e.duration();
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            UNIX_EPOCH
                .checked_sub(Duration::from_secs(secs))
                .unwrap_or(t)
        }
    }
}

/// True when an `If-Modified-Since` value shows the client's copy is current:
/// `mtime`, truncated to whole seconds, is at or before the date.
///
/// An unparseable date gives `false`, so the full response is sent, as
/// RFC 9110 §13.1.3 requires. (The further rule that a date in the future is
/// invalid needs the current time and is left to the caller.)
pub fn not_modified_since(header: &str, mtime: SystemTime) -> bool {
    parse_http_date(header).is_some_and(|date| whole_seconds(mtime) <= date)
}

/// True when an `If-Range` value still describes the file, so that the
/// `Range` header is honoured; `false` means "send the whole file".
///
/// An entity tag must match `etag` by the strong comparison, so a weak tag
/// (`W/"..."`) on either side never matches. A date must equal `mtime`
/// truncated to whole seconds exactly (RFC 9110 §13.1.5). Anything else is
/// `false`.
pub fn if_range_allows(header: &str, etag: &str, mtime: SystemTime) -> bool {
    let header = ows::trim(header);
    if header.starts_with('"') || header.starts_with("W/") {
        match (EntityTag::parse(header), EntityTag::parse(etag)) {
            (Some(theirs), Some(ours)) => theirs.strong_eq(ours),
            _ => false,
        }
    } else {
        parse_http_date(header) == Some(whole_seconds(mtime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"3e8-5f5e100-0\"";

    #[test]
    fn etag_table() {
        const CASES: &[(u64, i64, u32, &str)] = &[
            (0, 0, 0, "\"0-0-0\""),
            (1000, 100_000_000, 0, ETAG),
            (1000, 100_000_000, 500_000_000, "\"3e8-5f5e100-1dcd6500\""),
            (1000, 100_000_000, 1, "\"3e8-5f5e100-1\""),
            (
                5_000_000_000,
                784_111_777,
                999_999_999,
                "\"12a05f200-2ebc98a1-3b9ac9ff\"",
            ),
            (u64::MAX, 0, 0, "\"ffffffffffffffff-0-0\""),
            (10, -60, 0, "\"a--3c-0\""),
        ];
        for &(len, secs, nanos, want) in CASES {
            let t = if secs >= 0 {
                UNIX_EPOCH + Duration::new(secs as u64, nanos)
            } else {
                UNIX_EPOCH - Duration::new(secs.unsigned_abs(), nanos)
            };
            let tag = etag(len, t);
            assert_eq!(tag, want, "etag({len}, {secs}.{nanos})");
            assert!(
                EntityTag::parse(&tag).is_some_and(|t| !t.weak),
                "{tag} is strong"
            );
        }
    }

    #[test]
    fn if_none_match_table() {
        const CASES: &[(&str, &str, bool)] = &[
            ("\"3e8-5f5e100-0\"", ETAG, true),
            ("W/\"3e8-5f5e100-0\"", ETAG, true),
            ("\"3e8-5f5e100-0\"", "W/\"3e8-5f5e100-0\"", true),
            ("W/\"x\"", "W/\"x\"", true),
            ("*", ETAG, true),
            (" * ", ETAG, true),
            ("\"other\"", ETAG, false),
            ("\"other\", \"3e8-5f5e100-0\"", ETAG, true),
            ("\"a\",\"b\",\"3e8-5f5e100-0\"", ETAG, true),
            ("\"a\" ,\t\"3e8-5f5e100-0\" ", ETAG, true),
            ("\"a\", , ,\"3e8-5f5e100-0\"", ETAG, true),
            ("junk, \"3e8-5f5e100-0\"", ETAG, true),
            ("\"3e8-5f5e100-0\", junk", ETAG, true),
            ("\"a,b\", \"3e8-5f5e100-0\"", ETAG, true),
            ("\"a,b\"", "\"a,b\"", true),
            ("\"a,b\"", "\"a\"", false),
            ("*, \"a\"", "\"a\"", true),
            ("*, \"a\"", ETAG, false),
            ("3e8-5f5e100-0", ETAG, false),
            ("\"3e8-5f5e100-0", ETAG, false),
            ("3e8-5f5e100-0\"", ETAG, false),
            ("w/\"3e8-5f5e100-0\"", ETAG, false),
            ("W/ \"3e8-5f5e100-0\"", ETAG, false),
            ("\"3E8-5F5E100-0\"", ETAG, false),
            ("\"3e8-5f5e100-0 \"", ETAG, false),
            ("\"\"", "\"\"", true),
            ("\"\"", ETAG, false),
            ("", ETAG, false),
            (",", ETAG, false),
            ("\"x\"", "x", false),
            ("\"x\"", "", false),
        ];
        for &(header, etag, want) in CASES {
            assert_eq!(
                if_none_match_matches(header, etag),
                want,
                "{header:?} vs {etag:?}"
            );
        }
    }

    /// 1994-11-06 08:49:37 UTC, with and without a fraction of a second.
    const SECS: u64 = 784_111_777;
    const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

    fn mtime(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn not_modified_since_table() {
        let cases: &[(&str, SystemTime, bool)] = &[
            (DATE, mtime(SECS, 0), true),
            (DATE, mtime(SECS, 999_999_999), true),
            (DATE, mtime(SECS - 1, 0), true),
            (DATE, mtime(0, 0), true),
            (DATE, mtime(SECS + 1, 0), false),
            (DATE, mtime(SECS + 86_400, 0), false),
            (" Sun, 06 Nov 1994 08:49:37 GMT ", mtime(SECS, 0), true),
            ("Sunday, 06-Nov-94 08:49:37 GMT", mtime(SECS, 0), true),
            ("Sun Nov  6 08:49:37 1994", mtime(SECS, 0), true),
            ("Sun Nov  6 08:49:36 1994", mtime(SECS, 0), false),
            (
                "Thu, 01 Jan 1970 00:00:00 GMT",
                UNIX_EPOCH - Duration::from_secs(5),
                true,
            ),
            (
                "Thu, 01 Jan 1970 00:00:00 GMT",
                UNIX_EPOCH - Duration::from_millis(5),
                true,
            ),
            ("", mtime(SECS, 0), false),
            ("garbage", mtime(SECS, 0), false),
            ("784111777", mtime(SECS, 0), false),
            ("Mon, 06 Nov 1994 08:49:37 GMT", mtime(SECS, 0), false),
        ];
        for &(header, t, want) in cases {
            assert_eq!(not_modified_since(header, t), want, "{header:?} vs {t:?}");
        }
    }

    #[test]
    fn if_range_table() {
        let cases: &[(&str, &str, SystemTime, bool)] = &[
            // Entity tags: strong comparison only.
            (ETAG, ETAG, mtime(SECS, 0), true),
            (" \"3e8-5f5e100-0\" ", ETAG, mtime(SECS, 0), true),
            ("\"other\"", ETAG, mtime(SECS, 0), false),
            ("W/\"3e8-5f5e100-0\"", ETAG, mtime(SECS, 0), false),
            (ETAG, "W/\"3e8-5f5e100-0\"", mtime(SECS, 0), false),
            ("W/\"x\"", "W/\"x\"", mtime(SECS, 0), false),
            ("\"a\", \"3e8-5f5e100-0\"", ETAG, mtime(SECS, 0), false),
            ("\"3e8-5f5e100-0", ETAG, mtime(SECS, 0), false),
            ("*", ETAG, mtime(SECS, 0), false),
            // Dates: exact equality at whole seconds.
            (DATE, ETAG, mtime(SECS, 0), true),
            (DATE, ETAG, mtime(SECS, 999_999_999), true),
            (DATE, ETAG, mtime(SECS - 1, 0), false),
            (DATE, ETAG, mtime(SECS + 1, 0), false),
            ("Sunday, 06-Nov-94 08:49:37 GMT", ETAG, mtime(SECS, 0), true),
            ("Sun Nov  6 08:49:37 1994", ETAG, mtime(SECS, 0), true),
            (
                "Thu, 01 Jan 1970 00:00:00 GMT",
                ETAG,
                UNIX_EPOCH - Duration::from_secs(1),
                false,
            ),
            // Neither.
            ("", ETAG, mtime(SECS, 0), false),
            ("garbage", ETAG, mtime(SECS, 0), false),
            ("784111777", ETAG, mtime(SECS, 0), false),
        ];
        for &(header, etag, t, want) in cases {
            assert_eq!(
                if_range_allows(header, etag, t),
                want,
                "{header:?} vs {etag:?}, {t:?}"
            );
        }
    }

    #[test]
    fn whole_seconds_table() {
        let cases: &[(SystemTime, SystemTime)] = &[
            (mtime(5, 0), mtime(5, 0)),
            (mtime(5, 1), mtime(5, 0)),
            (mtime(5, 999_999_999), mtime(5, 0)),
            (
                UNIX_EPOCH - Duration::from_millis(1),
                UNIX_EPOCH - Duration::from_secs(1),
            ),
            (
                UNIX_EPOCH - Duration::from_secs(2),
                UNIX_EPOCH - Duration::from_secs(2),
            ),
        ];
        for &(t, want) in cases {
            assert_eq!(whole_seconds(t), want, "{t:?}");
        }
    }
}
