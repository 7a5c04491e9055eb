//! `src/http/range.rs` with arbitrary `Range` values, file lengths and range
//! limits: `parse` never panics, every satisfiable range lies inside the
//! file, the ranges are sorted, disjoint and not adjacent, there are never
//! more than the limit, and the answer is exactly that of an independent
//! reading of RFC 9110 §14.1 (the rules in the module documentation).
//!
//! Input layout: byte 0 picks how bytes 1 to 8 (little-endian) become the
//! length (`% 256`, `% 70000`, as is, or `u64::MAX - x % 256`), byte 9 is
//! the limit (`% 40`), the rest is the header value (lossy UTF-8).

#![no_main]

use std::ops::Range;

use asynchat::http::range::{self, RangeRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let raw = u64::from_le_bytes(data[1..9].try_into().expect("8 bytes"));
    let len = match data[0] % 4 {
        0 => raw % 256,
        1 => raw % 70_000,
        2 => raw,
        _ => u64::MAX - raw % 256,
    };
    let max_ranges = usize::from(data[9] % 40);
    let header = String::from_utf8_lossy(&data[10..]);
    check(&header, len, max_ranges);
});

fn check(header: &str, len: u64, max_ranges: usize) {
    let got = range::parse(header, len, max_ranges);
    if let RangeRequest::Ranges(rs) = &got {
        assert!(!rs.is_empty());
        assert!(
            rs.len() <= max_ranges,
            "{} ranges, limit {max_ranges}",
            rs.len()
        );
        for r in rs {
            assert!(r.start < r.end && r.end <= len, "{r:?} of {len}");
            let shown = range::content_range(r, len);
            assert_eq!(shown, format!("bytes {}-{}/{len}", r.start, r.end - 1));
        }
        for w in rs.windows(2) {
            assert!(w[0].end < w[1].start, "{rs:?}");
        }
    }
    assert_eq!(got, oracle(header, len, max_ranges), "{header:?} of {len}");
}

/// `1*DIGIT` as a `u64`.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// The answer spelled out: `None` from the parse means ignore the header.
fn oracle(header: &str, len: u64, max_ranges: usize) -> RangeRequest {
    let ows = |s: &str| s.trim_matches(|c| c == ' ' || c == '\t').to_string();
    let parsed = (|| {
        let header = ows(header);
        let eq = header.find('=')?;
        let (unit, set) = (&header[..eq], &header[eq + 1..]);
        if !unit.eq_ignore_ascii_case("bytes") {
            return None;
        }
        let elements: Vec<String> = set.split(',').map(ows).filter(|e| !e.is_empty()).collect();
        if elements.is_empty() || elements.len() > max_ranges {
            return None;
        }
        let mut wanted: Vec<(Option<u64>, Option<u64>)> = Vec::new();
        for e in &elements {
            let dash = e.find('-')?;
            let (first, last) = (&e[..dash], &e[dash + 1..]);
            match (first.is_empty(), last.is_empty()) {
                (true, true) => return None,
                (true, false) => wanted.push((None, Some(number(last)?))),
                (false, true) => wanted.push((Some(number(first)?), None)),
                (false, false) => {
                    let (a, b) = (number(first)?, number(last)?);
                    if a > b {
                        return None;
                    }
                    wanted.push((Some(a), Some(b)));
                }
            }
        }
        Some(wanted)
    })();
    let Some(wanted) = parsed else {
        return RangeRequest::Full;
    };
    // Satisfiable parts as half-open ranges.
    let mut parts: Vec<Range<u64>> = Vec::new();
    for w in wanted {
        match w {
            (Some(first), _) if first >= len => {}
            (Some(first), last) => {
                let end = match last {
                    Some(last) if last < len => last + 1,
                    _ => len,
                };
                parts.push(first..end);
            }
            (None, Some(0)) => {}
            (None, Some(n)) if len > 0 => parts.push(len.saturating_sub(n)..len),
            (None, _) => {}
        }
    }
    if parts.is_empty() {
        return RangeRequest::Unsatisfiable;
    }
    // The union, as maximal runs: a part joins the run it overlaps or
    // touches.
    parts.sort_by_key(|r| (r.start, r.end));
    let mut runs: Vec<Range<u64>> = Vec::new();
    for p in parts {
        if let Some(run) = runs.last_mut().filter(|run| p.start <= run.end) {
            run.end = run.end.max(p.end);
        } else {
            runs.push(p);
        }
    }
    RangeRequest::Ranges(runs)
}
