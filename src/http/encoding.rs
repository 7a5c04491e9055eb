//! Content codings and `Accept-Encoding` (RFC 9110 §8.4 and §12.5.3): which
//! precompressed copy of a file, if any, a client gets.
//!
//! The server compresses nothing itself. Beside `app.js` there may be
//! `app.js.br`, `app.js.zst` and `app.js.gz`, made ahead of time
//! (`brotli -k`, `zstd -k`, `gzip -k`); [`choose`] picks one of those that
//! exist, or none, from the request's `Accept-Encoding`:
//!
//! - each element is a coding name with an optional weight, `;q=0` to
//!   `;q=1` (three decimals at most); `q=0` refuses the coding, and an
//!   element that does not parse is ignored;
//! - `*` stands for every coding not named, `x-gzip` is `gzip`, and names
//!   are compared without regard to case;
//! - the copy with the highest weight is sent; at equal weights br is
//!   preferred to zstd, and zstd to gzip (smallest first);
//! - the file as it is (`identity`) is sent when no copy is acceptable, or
//!   when `identity` is named with a higher weight than any copy's. Unnamed,
//!   it counts as acceptable at the lowest weight, below every named coding;
//!   even `identity;q=0` with nothing else acceptable gets the file as it
//!   is, as most servers do, rather than a 406;
//! - a request without `Accept-Encoding` gets the file as it is. RFC 9110
//!   would allow any coding then, but a client that says nothing (curl
//!   without `--compressed`, a script) rarely decodes anything.

use super::ows;

/// A content coding this server can send precompressed copies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Brotli, `.br`.
    Br,
    /// Zstandard, `.zst`.
    Zstd,
    /// gzip, `.gz`.
    Gzip,
}

impl Coding {
    /// Every coding, in the order preferred at equal weights.
    pub const ALL: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// The coding's name, as `Content-Encoding` says it.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The suffix of its precompressed copy: `app.js` + `.br`.
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Br => ".br",
            Coding::Zstd => ".zst",
            Coding::Gzip => ".gz",
        }
    }

    fn named(name: &str) -> Option<Coding> {
        Coding::ALL
            .into_iter()
            .find(|c| name.eq_ignore_ascii_case(c.token()))
            .or_else(|| name.eq_ignore_ascii_case("x-gzip").then_some(Coding::Gzip))
    }
}

/// A weight in thousandths: `q=0.5` is 500.
pub(crate) type Weight = u16;

/// What one `Accept-Encoding` value says.
#[derive(Debug, Default)]
struct Weights {
    /// The weight of each coding of [`Coding::ALL`], when named.
    codings: [Option<Weight>; 3],
    identity: Option<Weight>,
    star: Option<Weight>,
}

/// Parses `;q=...` parameters: the weight, 1000 when there is none, `None`
/// when the element is malformed.
fn weight(params: &str) -> Option<Weight> {
    let mut q = 1000;
    for param in params.split(';').map(ows::trim).filter(|p| !p.is_empty()) {
        let (name, value) = param.split_once('=')?;
        if !ows::trim(name).eq_ignore_ascii_case("q") {
            return None;
        }
        q = qvalue(ows::trim(value))?;
    }
    Some(q)
}

/// RFC 9110 §12.4.2's `qvalue`: `0` to `0.999`, or `1` to `1.000`.
pub(crate) fn qvalue(v: &str) -> Option<Weight> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Thousandths: "5" is 500, "25" is 250, "125" is 125.
    let frac_value = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |n: Weight, d| n * 10 + Weight::from(d - b'0'));
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

impl Weights {
    fn parse(accept: &str) -> Weights {
        let mut w = Weights::default();
        for element in accept.split(',').map(ows::trim).filter(|e| !e.is_empty()) {
            let (name, params) = element.split_once(';').unwrap_or((element, ""));
            let Some(q) = weight(params) else { continue };
            let name = ows::trim(name);
            if name == "*" {
                w.star = Some(q);
            } else if name.eq_ignore_ascii_case("identity") {
                w.identity = Some(q);
            } else if let Some(c) = Coding::named(name) {
                let i = Coding::ALL.iter().position(|&k| k == c).unwrap_or(0);
                w.codings[i] = Some(q);
            }
        }
        w
    }
}

/// The coding whose precompressed copy to send, from the `Accept-Encoding`
/// value (`None` when the request has none) and the copies that exist;
/// `None` means the file as it is. See the [module documentation](self).
pub fn choose(accept: Option<&str>, available: &[Coding]) -> Option<Coding> {
    let w = Weights::parse(accept?);
    let mut best: Option<(Weight, Coding)> = None;
    for (i, &c) in Coding::ALL.iter().enumerate() {
        if !available.contains(&c) {
            continue;
        }
        let q = w.codings[i].or(w.star).unwrap_or(0);
        // Strictly greater: at equal weights the earlier (smaller) wins.
        if q > 0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, c));
        }
    }
    let (q, coding) = best?;
    match w.identity {
        Some(identity) if identity > q => None,
        _ => Some(coding),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::{Br, Gzip, Zstd};

    #[test]
    fn accept_encoding_table() {
        let all = [Br, Zstd, Gzip];
        let gz = [Gzip];
        let cases: &[(Option<&str>, &[Coding], Option<Coding>)] = &[
            // No field, or an empty one: the file as it is.
            (None, &all, None),
            (Some(""), &all, None),
            // Browsers: br preferred, then zstd, then gzip.
            (Some("gzip, deflate, br, zstd"), &all, Some(Br)),
            (Some("gzip, deflate, br"), &[Zstd, Gzip], Some(Gzip)),
            (Some("gzip, zstd"), &all, Some(Zstd)),
            (Some("gzip"), &all, Some(Gzip)),
            (Some("x-gzip"), &gz, Some(Gzip)),
            (Some("GZIP"), &gz, Some(Gzip)),
            (Some("br"), &gz, None),
            (Some("gzip"), &[], None),
            // Weights decide, then the order of preference.
            (Some("br;q=0.5, gzip;q=0.8"), &all, Some(Gzip)),
            (Some("br;q=0.8, gzip;q=0.8"), &all, Some(Br)),
            (Some("br;q=0, gzip"), &all, Some(Gzip)),
            (Some("gzip;q=0"), &gz, None),
            (Some("gzip ; q=0.001"), &gz, Some(Gzip)),
            (Some("gzip;Q=1.000"), &gz, Some(Gzip)),
            // `*` stands for what is not named.
            (Some("*"), &all, Some(Br)),
            (Some("*;q=0.5, br;q=0"), &all, Some(Zstd)),
            (Some("*;q=0"), &all, None),
            (Some("gzip;q=0.2, *;q=0.1"), &[Br, Gzip], Some(Gzip)),
            // identity named above a coding wins; unnamed, it is last.
            (Some("gzip;q=0.5, identity"), &gz, None),
            (Some("gzip;q=0.5, identity;q=0.5"), &gz, Some(Gzip)),
            (Some("gzip;q=0.5"), &gz, Some(Gzip)),
            (Some("identity;q=0"), &gz, None),
            (Some("identity;q=0, gzip"), &gz, Some(Gzip)),
            // Malformed elements are ignored, the rest still counts.
            (Some("gzip;q=2, br"), &all, Some(Br)),
            (Some("gzip;q=0.5x"), &gz, None),
            (Some("gzip;q=1.5"), &gz, None),
            (Some("gzip;q=0.1234"), &gz, None),
            (Some("gzip;q=.5"), &gz, None),
            (Some("gzip;level=9"), &gz, None),
            (Some(" , gzip ,,"), &gz, Some(Gzip)),
            (Some("gzip;q=0.5;q=0"), &gz, None),
        ];
        for &(accept, available, want) in cases {
            assert_eq!(
                choose(accept, available),
                want,
                "{accept:?} of {available:?}"
            );
        }
    }
}
