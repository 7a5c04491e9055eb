//! Dates: the HTTP formats (RFC 9110 §5.6.7) and the short form used in
//! directory listings.
//!
//! This module owns every conversion between [`SystemTime`] and text. The
//! HTTP formats come from the `httpdate` crate; this module adds what it
//! lacks: clamping so that times outside the years 1970 to 9999 cannot
//! panic, and [`listing_time`], which handles any time a [`SystemTime`] can
//! hold. (The `Date` field is rendered once a second by the HTTP channel's
//! clock, from [`fmt_http_date`].)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::ows;

/// The last second `httpdate` can format: 9999-12-31 23:59:59 UTC.
const MAX_HTTP_SECS: u64 = 253_402_300_799;

/// Moves `t` into the range `httpdate` can format, 1970-01-01 00:00:00 to
/// 9999-12-31 23:59:59 UTC, and returns it with its whole seconds since the
/// epoch.
fn clamp(t: SystemTime) -> (SystemTime, u64) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.as_secs() <= MAX_HTTP_SECS => (t, d.as_secs()),
        Ok(_) => (
            UNIX_EPOCH + Duration::from_secs(MAX_HTTP_SECS),
            MAX_HTTP_SECS,
        ),
        Err(_) => (UNIX_EPOCH, 0),
    }
}

/// Formats `t` as an IMF-fixdate, such as `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// Fractions of a second are dropped. HTTP dates cannot express times before
/// 1970 or after 9999, so such times are clamped to the nearest end of that
/// range (1970-01-01 00:00:00 or 9999-12-31 23:59:59) instead of panicking:
/// a file with a nonsensical modification time still gets a valid header.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use asynchat::http::date::fmt_http_date;
///
/// let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(fmt_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn fmt_http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(clamp(t).0)
}

/// Parses an HTTP date in any of the three formats of RFC 9110 §5.6.7:
/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
/// (`Sunday, 06-Nov-94 08:49:37 GMT`, two-digit years read as 1970 to 2069)
/// and asctime (`Sun Nov  6 08:49:37 1994`).
///
/// Surrounding spaces and tabs are ignored. Returns `None` for anything else,
/// including a weekday that does not match the date.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(ows::trim(s)).ok()
}

/// Formats `t` in UTC as `YYYY-MM-DD HH:MM`, for directory listings.
///
/// Any time a [`SystemTime`] can hold is accepted: times before 1970 are
/// rounded down to the minute like any other, years past 9999 get more
/// digits, and years before 1 BC get a minus sign (astronomical numbering,
/// so `0000` is 1 BC).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use asynchat::http::date::listing_time;
///
/// assert_eq!(listing_time(UNIX_EPOCH), "1970-01-01 00:00");
/// assert_eq!(listing_time(UNIX_EPOCH - Duration::from_secs(60)), "1969-12-31 23:59");
/// ```
pub fn listing_time(t: SystemTime) -> String {
    let secs = unix_seconds_floor(t);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let second_of_day = secs.rem_euclid(86_400);
    format!(
        "{}{:04}-{month:02}-{day:02} {:02}:{:02}",
        if year < 0 { "-" } else { "" },
        year.unsigned_abs(),
        second_of_day / 3600,
        second_of_day % 3600 / 60,
    )
}

/// Formats `t` as RFC 3339 in UTC to the second, such as
/// `1994-11-06T08:49:37Z`, for the JSON listing. RFC 3339 has four-digit
/// years, so times outside the years 0000 to 9999 are clamped to the
/// nearest end of that range.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use asynchat::http::date::rfc3339;
///
/// let t = UNIX_EPOCH + Duration::from_millis(784_111_777_900);
/// assert_eq!(rfc3339(t), "1994-11-06T08:49:37Z");
/// assert_eq!(rfc3339(UNIX_EPOCH - Duration::from_secs(1)), "1969-12-31T23:59:59Z");
/// ```
pub fn rfc3339(t: SystemTime) -> String {
    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const FIRST: i64 = -62_167_219_200;
    const LAST: i64 = MAX_HTTP_SECS as i64;
    let secs = unix_seconds_floor(t).clamp(FIRST, LAST);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let second_of_day = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
    )
}

/// Whole seconds since the epoch, rounded towards negative infinity so that
/// half a second before 1970 is in 1969.
fn unix_seconds_floor(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(d.subsec_nanos() > 0)
        }
    }
}

/// The proleptic Gregorian (year, month, day) of a count of days since
/// 1970-01-01, by Howard Hinnant's `civil_from_days`
/// (<https://howardhinnant.github.io/date_algorithms.html>).
///
/// The calendar repeats every 400 years (146 097 days), counted from
/// 0000-03-01 so that the leap day is the last day of each year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The time `secs` seconds after (or before, if negative) the epoch.
    fn at(secs: i64) -> SystemTime {
        let d = Duration::from_secs(secs.unsigned_abs());
        if secs >= 0 {
            UNIX_EPOCH + d
        } else {
            UNIX_EPOCH - d
        }
    }

    /// Seconds since the epoch and the listing time, checked against
    /// Python's `datetime`.
    const LISTING: &[(i64, &str)] = &[
        (0, "1970-01-01 00:00"),
        (59, "1970-01-01 00:00"),
        (60, "1970-01-01 00:01"),
        (86_399, "1970-01-01 23:59"),
        (86_400, "1970-01-02 00:00"),
        (784_111_777, "1994-11-06 08:49"),
        (951_868_740, "2000-02-29 23:59"),
        (999_999_960, "2001-09-09 01:46"),
        (1_709_208_000, "2024-02-29 12:00"),
        (2_147_483_647, "2038-01-19 03:14"),
        (4_107_542_400, "2100-03-01 00:00"),
        (13_574_586_600, "2400-02-29 06:30"),
        (13_601_087_940, "2400-12-31 23:59"),
        (253_402_300_740, "9999-12-31 23:59"),
        (253_402_300_799, "9999-12-31 23:59"),
        (253_402_300_800, "10000-01-01 00:00"),
        (-1, "1969-12-31 23:59"),
        (-60, "1969-12-31 23:59"),
        (-61, "1969-12-31 23:58"),
        (-86_400, "1969-12-31 00:00"),
        (-31_536_000, "1969-01-01 00:00"),
        (-2_203_845_960, "1900-03-01 12:34"),
        (-11_670_998_400, "1600-02-29 00:00"),
        (-62_135_596_800, "0001-01-01 00:00"),
        (-62_167_219_200, "0000-01-01 00:00"),
        (-62_167_219_201, "-0001-12-31 23:59"),
    ];

    #[test]
    fn listing_time_table() {
        for &(secs, want) in LISTING {
            assert_eq!(listing_time(at(secs)), want, "listing_time({secs})");
        }
    }

    #[test]
    fn listing_time_rounds_down_before_the_epoch() {
        const CASES: &[(Duration, &str)] = &[
            (Duration::from_millis(500), "1969-12-31 23:59"),
            (Duration::from_nanos(1), "1969-12-31 23:59"),
            (Duration::from_secs(60), "1969-12-31 23:59"),
            (Duration::from_nanos(60_000_000_001), "1969-12-31 23:58"),
        ];
        for &(before, want) in CASES {
            assert_eq!(listing_time(UNIX_EPOCH - before), want, "{before:?} before");
        }
    }

    #[test]
    fn listing_time_survives_extremes() {
        for secs in [i64::MAX, i64::MAX / 2, i64::MIN + 1, i64::MIN / 2] {
            let Some(t) = (if secs >= 0 {
                UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
            } else {
                UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
            }) else {
                continue;
            };
            let s = listing_time(t);
            assert!(s.len() >= 16 && s.is_ascii(), "{secs}: {s}");
            let r = rfc3339(t);
            let want = if secs > 0 {
                "9999-12-31T23:59:59Z"
            } else {
                "0000-01-01T00:00:00Z"
            };
            assert_eq!(r, want, "{secs}");
        }
    }

    #[test]
    fn rfc3339_table() {
        const CASES: &[(i64, &str)] = &[
            (0, "1970-01-01T00:00:00Z"),
            (784_111_777, "1994-11-06T08:49:37Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
            (253_402_300_800, "9999-12-31T23:59:59Z"),
            (-62_167_219_200, "0000-01-01T00:00:00Z"),
            (-62_167_219_201, "0000-01-01T00:00:00Z"),
        ];
        for &(secs, want) in CASES {
            assert_eq!(rfc3339(at(secs)), want, "{secs}");
        }
    }

    #[test]
    fn civil_from_days_table() {
        const CASES: &[(i64, (i64, u32, u32))] = &[
            (0, (1970, 1, 1)),
            (-1, (1969, 12, 31)),
            (59, (1970, 3, 1)),
            (10_957, (2000, 1, 1)),
            (11_016, (2000, 2, 29)),
            (11_017, (2000, 3, 1)),
            (-719_468, (0, 3, 1)),
            (-719_469, (0, 2, 29)),
            (2_932_896, (9999, 12, 31)),
            (2_932_897, (10000, 1, 1)),
        ];
        for &(days, want) in CASES {
            assert_eq!(civil_from_days(days), want, "civil_from_days({days})");
        }
    }

    #[test]
    fn fmt_http_date_table() {
        const CASES: &[(i64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_868_740, "Tue, 29 Feb 2000 23:59:00 GMT"),
            (13_574_586_600, "Tue, 29 Feb 2400 06:30:00 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
            // Clamped rather than panicking.
            (253_402_300_800, "Fri, 31 Dec 9999 23:59:59 GMT"),
            (i64::MAX / 2, "Fri, 31 Dec 9999 23:59:59 GMT"),
            (-1, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (-62_135_596_800, "Thu, 01 Jan 1970 00:00:00 GMT"),
        ];
        for &(secs, want) in CASES {
            assert_eq!(fmt_http_date(at(secs)), want, "fmt_http_date({secs})");
        }
        let just_before_10000 = at(253_402_300_799) + Duration::from_millis(999);
        assert_eq!(
            fmt_http_date(just_before_10000),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn parse_http_date_table() {
        const CASES: &[(&str, Option<i64>)] = &[
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(784_111_777)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(784_111_777)),
            ("Sun Nov  6 08:49:37 1994", Some(784_111_777)),
            (" Sun, 06 Nov 1994 08:49:37 GMT\t", Some(784_111_777)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Fri, 31 Dec 9999 23:59:59 GMT", Some(253_402_300_799)),
            ("Tue, 29 Feb 2000 23:59:00 GMT", Some(951_868_740)),
            ("Thursday, 01-Jan-70 00:00:00 GMT", Some(0)),
            ("", None),
            ("garbage", None),
            ("0", None),
            ("784111777", None),
            ("Mon, 06 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37 UTC", None),
            ("Sun, 06 Nov 1994 08:49:37", None),
            ("Sun, 6 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 24:00:00 GMT", None),
            ("Wed, 31 Dec 1969 23:59:59 GMT", None),
            ("Wed, 30 Feb 2000 00:00:00 GMT", None),
            ("1994-11-06T08:49:37Z", None),
        ];
        for &(s, want) in CASES {
            assert_eq!(parse_http_date(s), want.map(at), "parse_http_date({s:?})");
        }
    }

    #[test]
    fn formatting_then_parsing_round_trips_whole_seconds() {
        for &(secs, _) in LISTING
            .iter()
            .filter(|(s, _)| (0..=253_402_300_799).contains(s))
        {
            let t = at(secs);
            assert_eq!(parse_http_date(&fmt_http_date(t)), Some(t), "{secs}");
        }
    }
}
