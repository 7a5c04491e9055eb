//! `src/http/head.rs` with arbitrary bytes: `parse` and `parse_chunk_size`
//! never panic, and what they return agrees with an independent reading:
//! httparse on the same bytes for heads, and a spelled-out grammar for
//! chunk-size lines.

#![no_main]

use asynchat::http::error::HttpError;
use asynchat::http::head::{self, Framing, MAX_HEADERS, Persistence, USED_FIELDS, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_chunk_size(data);
    check_head(data);
});

/// `parse_chunk_size` against the grammar its documentation gives: an
/// optional final CR dropped, one or more hex digits whose value fits in 64
/// bits, then nothing, or spaces and tabs and a `;` (extensions, ignored).
fn check_chunk_size(line: &[u8]) {
    let got = head::parse_chunk_size(line);
    let body = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = body.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let (hex, rest) = body.split_at(digits);
    let ws = rest.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    let after_ws = &rest[ws..];
    let shape_ok = !hex.is_empty() && (rest.is_empty() || after_ws.first() == Some(&b';'));
    let value = hex.iter().try_fold(0u64, |acc, &b| {
        let d = u64::from((b as char).to_digit(16).expect("hex digit"));
        acc.checked_mul(16)?.checked_add(d)
    });
    match (got, shape_ok, value) {
        (Ok(n), true, Some(v)) => assert_eq!(n, v, "chunk size of {:?}", line.escape_ascii()),
        (Err(HttpError::ChunkSizeMalformed), false, _)
        | (Err(HttpError::ChunkSizeOverflow), true, None) => {}
        (got, _, _) => panic!(
            "parse_chunk_size({:?}) = {got:?}; shape ok {shape_ok}, value {value:?}",
            line.escape_ascii().to_string()
        ),
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The values of the fields called `name`, which must be UTF-8.
fn named<'a, 'b: 'a>(
    headers: &'a [httparse::Header<'b>],
    name: &'static str,
) -> impl Iterator<Item = &'b str> + 'a {
    headers
        .iter()
        .filter(move |h| eq(h.name, name))
        .map(|h| std::str::from_utf8(h.value).expect("read fields are UTF-8"))
}

/// `parse` against httparse (with the same limit of fields) and the rules
/// of RFC 9112 the module documents.
fn check_head(data: &[u8]) {
    let got = head::parse(data);
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let theirs = req.parse(data);
    let first_line = data.split(|&b| b == b'\n').next().unwrap_or(data);
    let first_line = first_line.strip_suffix(b"\r").unwrap_or(first_line);
    let version_token = first_line
        .iter()
        .rposition(|&b| b == b' ')
        .map(|i| &first_line[i + 1..]);

    let r = match got {
        Err(e) => {
            assert!(
                matches!(e.status(), 400 | 431 | 501 | 505),
                "status {} ({e})",
                e.status(),
            );
            if e == HttpError::TooManyFields {
                assert_eq!(theirs, Err(httparse::Error::TooManyHeaders));
            }
            if e == HttpError::VersionUnsupported {
                let v = version_token.expect("505 needs a version");
                assert!(
                    v.starts_with(b"HTTP/") && v != b"HTTP/1.0" && v != b"HTTP/1.1",
                    "505 for {:?}",
                    v.escape_ascii().to_string()
                );
            }
            if e == HttpError::UnsupportedCoding {
                assert!(matches!(theirs, Ok(httparse::Status::Complete(_))));
            }
            return;
        }
        Ok(r) => r,
    };

    // A head that parses is one httparse finds complete, read the same way.
    let Ok(httparse::Status::Complete(end)) = theirs else {
        panic!("parsed, but httparse says {theirs:?}");
    };
    assert!(
        data[..end].ends_with(b"\n\n") || data[..end].ends_with(b"\n\r\n"),
        "a head ends with a blank line"
    );
    assert_eq!(Some(r.method_token), req.method);
    assert_eq!(Some(r.target), req.path);
    match r.version {
        Version::Http10 => assert_eq!(version_token, Some(&b"HTTP/1.0"[..])),
        Version::Http11 => assert_eq!(version_token, Some(&b"HTTP/1.1"[..])),
    }
    assert_eq!(
        req.version,
        Some(if r.version == Version::Http10 { 0 } else { 1 })
    );
    let headers = &*req.headers;
    assert!(headers.len() <= MAX_HEADERS);

    let named = |name: &'static str| named(headers, name);
    // Every field the server reads is UTF-8 in a head it accepts.
    for &name in USED_FIELDS {
        named(name).for_each(drop);
    }

    let hosts = named("host").count();
    assert!(hosts <= 1, "{hosts} Host fields");
    if r.version == Version::Http11 {
        assert_eq!(hosts, 1, "HTTP/1.1 without Host");
    }

    let lengths: Vec<&str> = named("content-length").collect();
    let codings: Vec<&str> = named("transfer-encoding").collect();
    let length_values = || {
        lengths
            .iter()
            .flat_map(|v| v.split(','))
            .map(|p| p.trim_matches([' ', '\t']))
    };
    match r.framing {
        Framing::Chunked => {
            assert!(lengths.is_empty(), "chunked with Content-Length");
            assert_eq!(r.version, Version::Http11);
            let last = codings
                .iter()
                .flat_map(|v| v.split(','))
                .map(|c| c.trim_matches([' ', '\t']))
                .rfind(|c| !c.is_empty())
                .expect("a coding");
            let name = last.split(';').next().unwrap_or("").trim_end();
            assert!(eq(name, "chunked"), "final coding {last:?}");
            let chunked = codings
                .iter()
                .flat_map(|v| v.split(','))
                .map(|c| c.trim_matches([' ', '\t']))
                .filter(|c| eq(c.split(';').next().unwrap_or("").trim_end(), "chunked"))
                .count();
            assert_eq!(chunked, 1, "chunked once");
        }
        Framing::Length(n) => {
            assert!(n > 0);
            assert!(codings.is_empty(), "Content-Length with Transfer-Encoding");
            assert!(!lengths.is_empty());
            for v in length_values() {
                assert!(v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty());
                assert_eq!(v.parse::<u64>().ok(), Some(n), "Content-Length {v:?}");
            }
        }
        Framing::None => {
            assert!(codings.is_empty(), "Transfer-Encoding without a body");
            for v in length_values() {
                assert_eq!(v.parse::<u64>().ok(), Some(0), "Content-Length {v:?}");
            }
        }
    }

    // Tokens are trimmed of spaces and tabs (RFC 9110 §5.6.3 OWS).
    let tokens = || {
        named("connection")
            .flat_map(|v| v.split(','))
            .map(|t| t.trim_matches([' ', '\t']))
    };
    let close = tokens().any(|t| eq(t, "close"));
    let keep_alive = tokens().any(|t| eq(t, "keep-alive"));
    let expected = match (close, r.version, keep_alive) {
        (true, _, _) => Persistence::Close,
        (false, Version::Http11, _) => Persistence::KeepAlive,
        (false, Version::Http10, true) => Persistence::KeepAliveHttp10,
        (false, Version::Http10, false) => Persistence::Close,
    };
    assert_eq!(r.persistence, expected, "persistence");

    let expect = named("expect").last();
    assert_eq!(
        r.expect_continue,
        expect.is_some_and(|v| eq(v.trim_matches([' ', '\t']), "100-continue"))
    );
    let ranges: Vec<&str> = named("range").collect();
    assert_eq!(
        r.range,
        if ranges.len() == 1 {
            Some(ranges[0])
        } else {
            None
        }
    );
    assert_eq!(r.if_range, named("if-range").last());
    assert_eq!(r.if_modified_since, named("if-modified-since").last());
    // Several If-None-Match fields are one list (RFC 9110 §5.3).
    let tags: Vec<&str> = named("if-none-match").collect();
    let joined = (!tags.is_empty()).then(|| tags.join(", "));
    assert_eq!(r.if_none_match.as_deref(), joined.as_deref());
}
