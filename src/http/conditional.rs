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
use crate::producer::FileStamp;

/// A strong entity tag for one version of a file, such as
/// `"3e8-5f5e100-6f3b0c1d2e4a5b69"` (with the quotes): the length, the
/// whole seconds of the modification time, and 64 bits of a digest (FNV-1a)
/// of what tells versions of the file apart beyond those: the device and
/// inode (a file replaced by another: a rename over it, an editor's save),
/// and the nanoseconds of the modification time and the change time (a file
/// rewritten in place at the same length, even when its modification time
/// is set back with `touch`). All in lowercase hexadecimal, the digest
/// always 16 digits; the tag is the same on every run for the same file.
///
/// A modification time before the epoch gives negative seconds, written
/// with a `-` (`"a--3c-..."`), so different times never share a tag.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use asynchat::FileStamp;
/// use asynchat::http::conditional::etag;
///
/// let t = UNIX_EPOCH + Duration::new(100_000_000, 500_000_000);
/// let stamp = FileStamp { dev: 0x801, ino: 0x2c5f, len: 1000, mtime: t, ctime: t };
/// let tag = etag(&stamp);
/// assert!(tag.starts_with("\"3e8-5f5e100-") && tag.len() == 30, "{tag}");
/// assert_ne!(etag(&FileStamp { ino: 0x2c60, ..stamp }), tag);
/// ```
pub fn etag(stamp: &FileStamp) -> String {
    let (secs, sign, nanos) = split_time(stamp.mtime);
    let (csecs, csign, cnanos) = split_time(stamp.ctime);
    let mut digest = Fnv1a::new();
    for word in [
        stamp.dev,
        stamp.ino,
        u64::from(nanos),
        csecs,
        u64::from(csign),
        u64::from(cnanos),
    ] {
        digest.write(word);
    }
    let sign = if sign { "-" } else { "" };
    format!("\"{:x}-{sign}{secs:x}-{:016x}\"", stamp.len, digest.0)
}

/// Seconds since the epoch, whether the time is before it, and nanoseconds.
fn split_time(t: SystemTime) -> (u64, bool, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs(), false, d.subsec_nanos()),
        Err(e) => (e.duration().as_secs(), true, e.duration().subsec_nanos()),
    }
}

/// The 64-bit FNV-1a hash: simple, stable across runs and Rust versions
/// (unlike the standard library's hasher), and plenty to tell versions of
/// one file apart.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, word: u64) {
        for b in word.to_le_bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
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

/// True when an `If-Match` value allows a change to the file whose tag is
/// `etag` (`None`: there is no such file): `*` matches any file that
/// exists, a list matches when one of its tags is the file's, compared
/// strongly (RFC 9110 §13.1.1: a weak tag never matches).
pub fn if_match_matches(header: &str, etag: Option<&str>) -> bool {
    let Some(ours) = etag.and_then(EntityTag::parse) else {
        return false;
    };
    ows::trim(header) == "*" || entity_tags(header).any(|theirs| theirs.strong_eq(ours))
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
/// RFC 9110 §13.1.3 requires, and so does a date later than `now`, the
/// server's current time: such a date is invalid and the field is ignored
/// (a clock that runs ahead must not turn every later change into a 304).
///
/// This is the comparison every server makes, and a date is a weak
/// validator: a file rewritten with its modification time set back (`touch
/// -d`) passes it. The entity tag does not ([`etag`] covers the change
/// time and the inode), and `If-None-Match` takes precedence.
pub fn not_modified_since(header: &str, mtime: SystemTime, now: SystemTime) -> bool {
    parse_http_date(header).is_some_and(|date| date <= now && whole_seconds(mtime) <= date)
}

/// The validators a date in `If-Range` is compared with: the file's
/// modification and status change times, and the server's clock.
#[derive(Debug, Clone, Copy)]
pub struct DateValidators {
    /// The modification time (what Last-Modified shows).
    pub mtime: SystemTime,
    /// The status change time, which no one can set back.
    pub ctime: SystemTime,
    /// The server's current time.
    pub now: SystemTime,
}

/// True when an `If-Range` value still describes the file, so that the
/// `Range` header is honoured; `false` means "send the whole file".
///
/// An entity tag must match `etag` by the strong comparison, so a weak tag
/// (`W/"..."`) on either side never matches. A date must be a strong
/// validator (RFC 9110 §13.1.5, §8.8.2.2): equal to the modification time
/// truncated to whole seconds, with nothing changed since (the change time
/// in the same second or before: a file dated back with `touch -d` does not
/// match), and at least a second in the past (two versions written within
/// one second share a date). Anything else is `false`.
pub fn if_range_allows(header: &str, etag: &str, dates: DateValidators) -> bool {
    let header = ows::trim(header);
    if header.starts_with('"') || header.starts_with("W/") {
        match (EntityTag::parse(header), EntityTag::parse(etag)) {
            (Some(theirs), Some(ours)) => theirs.strong_eq(ours),
            _ => false,
        }
    } else {
        let DateValidators { mtime, ctime, now } = dates;
        parse_http_date(header).is_some_and(|date| {
            date == whole_seconds(mtime)
                && whole_seconds(ctime) <= date
                && date + Duration::from_secs(1) <= whole_seconds(now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"3e8-5f5e100-0\"";

    #[test]
    fn etag_table() {
        let at = |secs: i64, nanos: u32| {
            if secs >= 0 {
                UNIX_EPOCH + Duration::new(secs as u64, nanos)
            } else {
                UNIX_EPOCH - Duration::new(secs.unsigned_abs(), nanos)
            }
        };
        let stamp = |len, m: (i64, u32)| FileStamp {
            dev: 0x801,
            ino: 7,
            len,
            mtime: at(m.0, m.1),
            ctime: at(100, 0),
        };
        // The readable part: length and whole seconds; then 16 digits.
        for (s, prefix) in [
            (stamp(1000, (100_000_000, 0)), "\"3e8-5f5e100-"),
            (stamp(0, (0, 0)), "\"0-0-"),
            (
                stamp(u64::MAX, (784_111_777, 999_999_999)),
                "\"ffffffffffffffff-2ebc98a1-",
            ),
            (stamp(10, (-60, 0)), "\"a--3c-"),
        ] {
            let tag = etag(&s);
            assert!(tag.starts_with(prefix), "{tag} for {s:?}");
            assert_eq!(tag.len(), prefix.len() + 17, "{tag}");
            assert!(
                EntityTag::parse(&tag).is_some_and(|t| !t.weak),
                "{tag} is strong"
            );
        }
        // Stable: the same stamp gives the same tag on every run (the digest
        // checked against a separate FNV-1a in Python).
        assert_eq!(
            etag(&stamp(1000, (100_000_000, 0))),
            "\"3e8-5f5e100-e0495edf4d93838f\""
        );
        // Every part of the stamp changes the tag: a replaced file (another
        // inode or device), one rewritten in place (the nanoseconds, the
        // change time), one of another length, one set back with touch.
        let base = stamp(1000, (100_000_000, 0));
        let changed = [
            FileStamp { ino: 8, ..base },
            FileStamp { dev: 0x802, ..base },
            FileStamp { len: 1001, ..base },
            FileStamp {
                mtime: at(100_000_000, 1),
                ..base
            },
            FileStamp {
                mtime: at(99_999_999, 0),
                ..base
            },
            FileStamp {
                ctime: at(101, 0),
                ..base
            },
            FileStamp {
                ctime: at(100, 1),
                ..base
            },
            FileStamp {
                ctime: at(-100, 0),
                ..base
            },
        ];
        for other in changed {
            assert_ne!(etag(&other), etag(&base), "{other:?}");
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
        let now = mtime(SECS + 3600, 0);
        for &(header, t, want) in cases {
            assert_eq!(
                not_modified_since(header, t, now),
                want,
                "{header:?} vs {t:?}"
            );
        }
        // A date after the server's clock is invalid: ignored, whatever the
        // file's time (RFC 9110 §13.1.3).
        let tomorrow = "Mon, 07 Nov 1994 08:49:37 GMT";
        assert!(!not_modified_since(tomorrow, mtime(SECS, 0), now));
        assert!(not_modified_since(
            tomorrow,
            mtime(SECS, 0),
            mtime(SECS + 86_400, 0)
        ));
        assert!(!not_modified_since(
            DATE,
            mtime(SECS, 0),
            mtime(SECS - 1, 0)
        ));
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
        let later = mtime(SECS + 3600, 0);
        for &(header, etag, t, want) in cases {
            let dates = DateValidators {
                mtime: t,
                ctime: t,
                now: later,
            };
            assert_eq!(
                if_range_allows(header, etag, dates),
                want,
                "{header:?} vs {etag:?}, {t:?}"
            );
        }
        // A date is strong only with nothing changed since, and a second
        // gone by.
        let at = |ctime, now| DateValidators {
            mtime: mtime(SECS, 0),
            ctime,
            now,
        };
        assert!(if_range_allows(
            DATE,
            ETAG,
            at(mtime(SECS, 900_000_000), later)
        ));
        assert!(
            !if_range_allows(DATE, ETAG, at(mtime(SECS + 1, 0), later)),
            "dated back"
        );
        assert!(
            !if_range_allows(DATE, ETAG, at(mtime(SECS, 0), mtime(SECS, 500))),
            "same second"
        );
        assert!(if_range_allows(
            DATE,
            ETAG,
            at(mtime(SECS, 0), mtime(SECS + 1, 0))
        ));
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
