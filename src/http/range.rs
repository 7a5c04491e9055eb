//! The `Range` request header (RFC 9110 §14), parsed against a file length.
//!
//! This module owns the decision between a whole `200`, a `206` with one or
//! more parts, and a `416`. [`parse`] is pure: it takes the header value, the
//! length of the representation and a limit on the number of ranges, and
//! returns a [`RangeRequest`]. Formatting the `Content-Range` values is here
//! too ([`content_range`], [`unsatisfied_range`]).
//!
//! The rules, with RFC 9110 §14.1 and §14.2 as the reference:
//!
//! - The unit must be `bytes`, compared case-insensitively; any other unit,
//!   or a value that does not parse, means "ignore the header" and the whole
//!   file is served ([`RangeRequest::Full`]).
//! - Each element is `first-last`, `first-` or `-suffix`, with decimal
//!   digits only (no sign, no hex, no spaces inside). A `last` past the end is
//!   clamped, a `suffix` larger than the file means the whole file, and
//!   `first > last` makes the whole header malformed.
//! - An element whose `first` is at or past the end, or a suffix of 0, is
//!   unsatisfiable and dropped; if every element is dropped the answer is
//!   [`RangeRequest::Unsatisfiable`]. A file of length 0 therefore satisfies
//!   no range at all.
//! - Elements are separated by commas with optional spaces or tabs around
//!   them, and empty elements (`0-1,,2-3`) are skipped, as the list syntax of
//!   RFC 9110 §5.6.1 requires of a recipient.
//! - The satisfiable ranges are sorted and merged when they overlap or touch,
//!   so a client cannot make the server send the same bytes twice.
//! - More than `max_ranges` elements (counted before merging) means
//!   [`RangeRequest::Full`]. RFC 9110 §14.2 allows a server to ignore a
//!   `Range` it finds abusive, and serving the file once is always correct,
//!   whereas thousands of tiny parts cost far more than the bytes they carry.

use std::ops::Range;

use super::ows;

/// What a `Range` header asks for, given the length of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// Serve the whole file with `200`: the header is malformed, uses a unit
    /// other than `bytes`, or has more ranges than allowed.
    Full,
    /// Answer `416 Range Not Satisfiable` with
    /// `Content-Range: bytes */len` (see [`unsatisfied_range`]).
    Unsatisfiable,
    /// Answer `206 Partial Content` with these ranges: never empty, each
    /// non-empty and within `0..len`, sorted, and neither overlapping nor
    /// adjacent. One range may cover the whole file; a `206` is still correct.
    Ranges(Vec<Range<u64>>),
}

/// One element of the range set, before it meets the file length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-last` (`last` is `None` for `first-`), both inclusive.
    From(u64, Option<u64>),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// Parses a `Range` header value for a file of `len` bytes.
///
/// See the [module documentation](self) for the rules.
///
/// # Examples
///
/// ```
/// use asynchat::http::range::{RangeRequest, parse};
///
/// assert_eq!(parse("bytes=0-99", 1000, 8), RangeRequest::Ranges(vec![0..100]));
/// assert_eq!(parse("bytes=-100", 1000, 8), RangeRequest::Ranges(vec![900..1000]));
/// assert_eq!(parse("bytes=5-6,0-1,2-4", 1000, 8), RangeRequest::Ranges(vec![0..7]));
/// assert_eq!(parse("bytes=1000-", 1000, 8), RangeRequest::Unsatisfiable);
/// assert_eq!(parse("bytes=2-1", 1000, 8), RangeRequest::Full);
/// ```
pub fn parse(header: &str, len: u64, max_ranges: usize) -> RangeRequest {
    let Some(specs) = parse_specs(header, max_ranges) else {
        return RangeRequest::Full;
    };
    let mut ranges: Vec<Range<u64>> = specs.iter().filter_map(|s| satisfy(*s, len)).collect();
    if ranges.is_empty() {
        return RangeRequest::Unsatisfiable;
    }
    ranges.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    RangeRequest::Ranges(merged)
}

/// Reads the unit and the range set, or `None` when the header is to be
/// ignored (malformed, another unit, too many ranges).
fn parse_specs(header: &str, max_ranges: usize) -> Option<Vec<Spec>> {
    let (unit, set) = ows::trim(header).split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::new();
    for element in set.split(',').map(ows::trim).filter(|e| !e.is_empty()) {
        if specs.len() == max_ranges {
            return None;
        }
        specs.push(parse_spec(element)?);
    }
    // `1#range-spec`: at least one element is required.
    if specs.is_empty() { None } else { Some(specs) }
}

/// Parses one `first-last`, `first-` or `-suffix` element.
fn parse_spec(element: &str) -> Option<Spec> {
    let (first, last) = element.split_once('-')?;
    match (first, last) {
        ("", "") => None,
        ("", n) => Some(Spec::Suffix(digits(n)?)),
        (a, "") => Some(Spec::From(digits(a)?, None)),
        (a, b) => {
            let (a, b) = (digits(a)?, digits(b)?);
            // RFC 9110 §14.1.1: a last-pos below first-pos is invalid.
            (a <= b).then_some(Spec::From(a, Some(b)))
        }
    }
}

/// Parses `1*DIGIT` into a `u64`; a sign, any other character or overflow
/// gives `None`. (`str::parse` alone would accept a leading `+`.)
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The half-open range an element selects in a file of `len` bytes, or
/// `None` when it selects nothing.
fn satisfy(spec: Spec, len: u64) -> Option<Range<u64>> {
    match spec {
        Spec::From(first, _) if first >= len => None,
        Spec::From(first, last) => {
            let end = last.map_or(len, |last| last.saturating_add(1).min(len));
            Some(first..end)
        }
        Spec::Suffix(0) => None,
        Spec::Suffix(_) if len == 0 => None,
        Spec::Suffix(n) => Some(len - n.min(len)..len),
    }
}

/// The `Content-Range` value for one satisfied range, such as
/// `bytes 0-99/1000`.
///
/// `r` must be non-empty, as every range in [`RangeRequest::Ranges`] is; the
/// printed last position is `r.end - 1`.
pub fn content_range(r: &Range<u64>, len: u64) -> String {
    debug_assert!(r.start < r.end, "empty range {r:?}");
    format!("bytes {}-{}/{}", r.start, r.end.saturating_sub(1), len)
}

/// The `Content-Range` value sent with `416`, such as `bytes */1000`.
pub fn unsatisfied_range(len: u64) -> String {
    format!("bytes */{len}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short name for a `Ranges` answer.
    macro_rules! ranges {
        ($($r:expr),* $(,)?) => { RangeRequest::Ranges(vec![$($r),*]) };
    }

    use RangeRequest::{Full, Unsatisfiable};

    const BIG: u64 = 5_000_000_000;

    /// Header, file length, expected answer; `max_ranges` is 8 throughout.
    fn cases() -> Vec<(&'static str, u64, RangeRequest)> {
        vec![
            // The three forms.
            ("bytes=0-99", 1000, ranges![0..100]),
            ("bytes=0-0", 1000, ranges![0..1]),
            ("bytes=999-999", 1000, ranges![999..1000]),
            ("bytes=500-", 1000, ranges![500..1000]),
            ("bytes=0-", 1000, ranges![0..1000]),
            ("bytes=-100", 1000, ranges![900..1000]),
            ("bytes=-1", 1000, ranges![999..1000]),
            ("bytes=-1000", 1000, ranges![0..1000]),
            // Clamping to the end.
            ("bytes=0-999", 1000, ranges![0..1000]),
            ("bytes=0-1000", 1000, ranges![0..1000]),
            ("bytes=900-5000", 1000, ranges![900..1000]),
            ("bytes=0-18446744073709551615", 1000, ranges![0..1000]),
            ("bytes=-5000", 1000, ranges![0..1000]),
            ("bytes=-18446744073709551615", 1000, ranges![0..1000]),
            // Unsatisfiable.
            ("bytes=1000-", 1000, Unsatisfiable),
            ("bytes=1000-1000", 1000, Unsatisfiable),
            ("bytes=2000-3000", 1000, Unsatisfiable),
            ("bytes=-0", 1000, Unsatisfiable),
            ("bytes=-00", 1000, Unsatisfiable),
            ("bytes=1000-,2000-", 1000, Unsatisfiable),
            ("bytes=-0,1000-1001", 1000, Unsatisfiable),
            // Unsatisfiable elements are dropped from a list.
            ("bytes=0-1,1000-1001", 1000, ranges![0..2]),
            ("bytes=2000-,-0,5-", 1000, ranges![5..1000]),
            // Several ranges: sorted, overlapping and adjacent ones merged.
            ("bytes=0-1, 5-6,3-4", 1000, ranges![0..2, 3..7]),
            ("bytes=0-1,2-3", 1000, ranges![0..4]),
            ("bytes=0-1,3-4", 1000, ranges![0..2, 3..5]),
            ("bytes=5-6,0-1,2-4", 1000, ranges![0..7]),
            ("bytes=0-10,5-6", 1000, ranges![0..11]),
            ("bytes=0-10,5-20", 1000, ranges![0..21]),
            ("bytes=0-1,0-1,0-1", 1000, ranges![0..2]),
            ("bytes=-100,0-99", 1000, ranges![0..100, 900..1000]),
            ("bytes=-500,0-", 1000, ranges![0..1000]),
            ("bytes=900-,-50", 1000, ranges![900..1000]),
            ("bytes=10-19,30-39,20-29", 1000, ranges![10..40]),
            (
                "bytes=0-0,2-2,4-4,6-6",
                1000,
                ranges![0..1, 2..3, 4..5, 6..7],
            ),
            // Whitespace and empty list elements.
            ("bytes=0-1 , 3-4", 1000, ranges![0..2, 3..5]),
            ("bytes= 0-1", 1000, ranges![0..2]),
            ("bytes=0-1\t,\t3-4 ", 1000, ranges![0..2, 3..5]),
            ("  bytes=0-1  ", 1000, ranges![0..2]),
            ("bytes=0-1,,2-3", 1000, ranges![0..4]),
            ("bytes=,0-1", 1000, ranges![0..2]),
            ("bytes=0-1,", 1000, ranges![0..2]),
            ("bytes=, ,0-1, ,", 1000, ranges![0..2]),
            // The unit.
            ("Bytes=0-1", 1000, ranges![0..2]),
            ("BYTES=0-1", 1000, ranges![0..2]),
            ("items=0-1", 1000, Full),
            ("byte=0-1", 1000, Full),
            ("bytes =0-1", 1000, Full),
            ("bytes0-1", 1000, Full),
            ("bytes", 1000, Full),
            ("=0-1", 1000, Full),
            ("", 1000, Full),
            // Junk anywhere means the header is ignored.
            ("bytes=", 1000, Full),
            ("bytes=,", 1000, Full),
            ("bytes=abc", 1000, Full),
            ("bytes=-", 1000, Full),
            ("bytes= -", 1000, Full),
            ("bytes=1-2-3", 1000, Full),
            ("bytes=--1", 1000, Full),
            ("bytes=+1-2", 1000, Full),
            ("bytes=1-+2", 1000, Full),
            ("bytes=-+2", 1000, Full),
            ("bytes=-1-", 1000, Full),
            ("bytes=0x1-2", 1000, Full),
            ("bytes=1 -2", 1000, Full),
            ("bytes=1- 2", 1000, Full),
            ("bytes=1", 1000, Full),
            ("bytes=1.5-2", 1000, Full),
            ("bytes=١-٢", 1000, Full),
            ("bytes=0-1;3-4", 1000, Full),
            ("bytes=0-1,junk", 1000, Full),
            ("bytes=0-1,2-1", 1000, Full),
            ("bytes=2-1", 1000, Full),
            ("bytes=2000-1000", 1000, Full),
            ("bytes=18446744073709551616-", 1000, Full),
            ("bytes=0-18446744073709551616", 1000, Full),
            ("bytes=-18446744073709551616", 1000, Full),
            ("bytes=99999999999999999999999-", 1000, Full),
            // A file of length 0 satisfies nothing, but junk is still junk.
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=0-0", 0, Unsatisfiable),
            ("bytes=0-99", 0, Unsatisfiable),
            ("bytes=-1", 0, Unsatisfiable),
            ("bytes=-0", 0, Unsatisfiable),
            ("bytes=0-1,-5", 0, Unsatisfiable),
            ("bytes=1-0", 0, Full),
            ("bytes=abc", 0, Full),
            ("items=0-", 0, Full),
            // A file of length 1.
            ("bytes=0-", 1, ranges![0..1]),
            ("bytes=0-0", 1, ranges![0..1]),
            ("bytes=0-5", 1, ranges![0..1]),
            ("bytes=-1", 1, ranges![0..1]),
            ("bytes=-9", 1, ranges![0..1]),
            ("bytes=1-", 1, Unsatisfiable),
            ("bytes=0-0,0-0", 1, ranges![0..1]),
            // Past 4 GiB.
            ("bytes=4294967296-", BIG, ranges![4_294_967_296..BIG]),
            ("bytes=0-4294967296", BIG, ranges![0..4_294_967_297]),
            ("bytes=-1000000000", BIG, ranges![4_000_000_000..BIG]),
            ("bytes=4999999999-", BIG, ranges![4_999_999_999..BIG]),
            ("bytes=5000000000-", BIG, Unsatisfiable),
            (
                "bytes=4999999990-9999999999",
                BIG,
                ranges![4_999_999_990..BIG],
            ),
            (
                "bytes=0-0,4999999999-",
                BIG,
                ranges![0..1, 4_999_999_999..BIG],
            ),
            // The range limit counts elements before merging.
            ("bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7", 1000, ranges![0..8]),
            ("bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8", 1000, Full),
            ("bytes=0-1,0-1,0-1,0-1,0-1,0-1,0-1,0-1,0-1", 1000, Full),
            ("bytes=0-1,,,,,,,,,,,,,,,,,2-3", 1000, ranges![0..4]),
        ]
    }

    #[test]
    fn parse_table() {
        for (header, len, want) in cases() {
            assert_eq!(parse(header, len, 8), want, "parse({header:?}, {len})");
        }
    }

    /// Every `Ranges` answer keeps its promises, whatever the row expects.
    #[test]
    fn ranges_are_sorted_disjoint_and_in_bounds() {
        for (header, len, _) in cases() {
            if let RangeRequest::Ranges(rs) = parse(header, len, 8) {
                assert!(!rs.is_empty(), "{header:?}");
                for r in &rs {
                    assert!(r.start < r.end && r.end <= len, "{header:?}: {r:?}");
                }
                for w in rs.windows(2) {
                    assert!(w[0].end < w[1].start, "{header:?}: {rs:?}");
                }
            }
        }
    }

    #[test]
    fn max_ranges_table() {
        const CASES: &[(&str, usize, bool)] = &[
            ("bytes=0-1", 0, false),
            ("bytes=0-1", 1, true),
            ("bytes=0-1,3-4", 1, false),
            ("bytes=0-1,3-4", 2, true),
            ("bytes=0-1,,3-4", 2, true),
            ("bytes=0-1,2-3", 1, false),
            ("bytes=0-1,5000-", 1, false),
        ];
        for &(header, max, allowed) in CASES {
            let got = parse(header, 1000, max);
            assert_eq!(
                got != Full,
                allowed,
                "parse({header:?}, 1000, {max}) = {got:?}"
            );
        }
    }

    #[test]
    fn content_range_table() {
        const CASES: &[(Range<u64>, u64, &str)] = &[
            (0..100, 1000, "bytes 0-99/1000"),
            (0..1, 1, "bytes 0-0/1"),
            (999..1000, 1000, "bytes 999-999/1000"),
            (
                4_294_967_296..BIG,
                BIG,
                "bytes 4294967296-4999999999/5000000000",
            ),
        ];
        for (r, len, want) in CASES {
            assert_eq!(content_range(r, *len), *want);
        }
    }

    #[test]
    fn unsatisfied_range_table() {
        const CASES: &[(u64, &str)] = &[
            (0, "bytes */0"),
            (1000, "bytes */1000"),
            (BIG, "bytes */5000000000"),
        ];
        for &(len, want) in CASES {
            assert_eq!(unsatisfied_range(len), want);
        }
    }
}
