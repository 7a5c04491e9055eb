//! Request heads: parsing and every check that decides whether, and how, a
//! request can be served (RFC 9112), as pure functions over bytes.
//!
//! [`parse`] takes the head as the channel collected it (lines joined by
//! `\n`, each possibly still ending in `\r`) and returns a [`Request`] that
//! borrows from it, or the [`HttpError`] to answer with. The framing decision
//! ([`Framing`]) is the one that keeps a connection in sync: the body of
//! every request is read and discarded, so it must be delimited exactly or
//! the connection closed.

use std::borrow::Cow;
use std::fmt;

use super::ows;
use super::status::reason;

/// The fields whose values this server reads.
pub const USED_FIELDS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
    "if-none-match",
    "if-modified-since",
    "range",
    "if-range",
];

/// The most header fields in one head; one more is 431.
pub const MAX_HEADERS: usize = 100;

/// A request method. Methods are case-sensitive: `get` is not `GET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`: GET's headers, no body.
    Head,
    /// `OPTIONS`: says which methods are allowed.
    Options,
    /// A method this server knows but does not allow (`POST`, `PUT`,
    /// `DELETE`, `PATCH`): 405.
    NotAllowed,
    /// Any other method token: 501.
    Unknown,
}

impl Method {
    fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            "POST" | "PUT" | "DELETE" | "PATCH" => Method::NotAllowed,
            _ => Method::Unknown,
        }
    }
}

/// The protocol version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: closes after the response unless it asked for keep-alive.
    Http10,
    /// HTTP/1.1 (or any later 1.x minor version): persistent unless it
    /// asked to close.
    Http11,
}

/// How the request body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (no Content-Length, or `Content-Length: 0`).
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
}

/// A parsed request head, borrowing from the collected bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The method as sent, for logs.
    pub method_token: &'a str,
    /// The request target as sent (origin-form, absolute-form or `*`).
    pub target: &'a str,
    /// The protocol version.
    pub version: Version,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// The client sent `Expect: 100-continue`.
    pub expect_continue: bool,
    /// `If-None-Match`, if sent (several fields are joined with commas).
    pub if_none_match: Option<Cow<'a, str>>,
    /// `If-Modified-Since`, if sent.
    pub if_modified_since: Option<&'a str>,
    /// `Range`, if sent exactly once.
    pub range: Option<&'a str>,
    /// `If-Range`, if sent.
    pub if_range: Option<&'a str>,
}

/// A request that cannot be served; the connection is closed after the
/// error response, since the rest of its input can no longer be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpError {
    /// The status code to answer with.
    pub status: u16,
    /// What was wrong, in a few words, for the error page and the log.
    pub why: &'static str,
}

impl HttpError {
    /// An error with this status and explanation.
    pub const fn new(status: u16, why: &'static str) -> HttpError {
        HttpError { status, why }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, reason(self.status), self.why)
    }
}

impl std::error::Error for HttpError {}

/// Checks the version token of a request line before `httparse` sees it,
/// so that HTTP/2 (including its connection preface, `PRI * HTTP/2.0`) is
/// answered 505 rather than 400.
fn check_version(request_line: &[u8]) -> Result<Version, HttpError> {
    const BAD: HttpError = HttpError::new(400, "malformed request line");
    const UNSUPPORTED: HttpError = HttpError::new(505, "only HTTP/1.0 and HTTP/1.1 are supported");
    let line = request_line.strip_suffix(b"\r").unwrap_or(request_line);
    let version = match line.iter().rposition(|&b| b == b' ') {
        Some(i) => &line[i + 1..],
        None => return Err(BAD),
    };
    match version {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        // Well-formed but unsupported: HTTP/1.2 and later minor versions
        // (which `httparse` rejects, and no client sends), HTTP/2 and up.
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'0'..=b'9'] => Err(UNSUPPORTED),
        [b'H', b'T', b'T', b'P', b'/', b'2'..=b'9']
        | [b'H', b'T', b'T', b'P', b'/', b'2'..=b'9', b'.', b'0'..=b'9'] => Err(UNSUPPORTED),
        _ => Err(BAD),
    }
}

/// Parses a head: the bytes as received, from the request line up to and
/// including the blank line that ends it (lines end in `\n`, with or without
/// a `\r` before it).
///
/// # Errors
///
/// The [`HttpError`] to answer with: 400 for malformed heads and framing,
/// 431 for too many fields, 501 for a transfer coding other than a final
/// `chunked`, 505 for HTTP/2 and later.
pub fn parse(head: &[u8]) -> Result<Request<'_>, HttpError> {
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let version = check_version(first_line)?;

    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HttpError::new(400, "incomplete head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::new(431, "too many header fields"));
        }
        Err(_) => return Err(HttpError::new(400, "malformed head")),
    }
    let method_token = req.method.expect("complete");
    let mut r = Request {
        method: Method::from_token(method_token),
        method_token,
        target: req.path.expect("complete"),
        version,
        framing: Framing::None,
        keep_alive: version == Version::Http11,
        expect_continue: false,
        if_none_match: None,
        if_modified_since: None,
        range: None,
        if_range: None,
    };

    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut ranges = 0;
    for field in req.headers.iter() {
        let name = field.name;
        let Ok(value) = std::str::from_utf8(field.value) else {
            // RFC 9110 allows other bytes (obs-text) in field values; they
            // matter only in a field this server reads.
            if USED_FIELDS.iter().any(|f| name.eq_ignore_ascii_case(f)) {
                return Err(HttpError::new(400, "header value is not UTF-8"));
            }
            continue;
        };
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(value)?;
            if content_length.is_some_and(|m| m != n) {
                return Err(HttpError::new(400, "conflicting Content-Length values"));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            chunked = transfer_codings(value, chunked)?;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(ows::trim) {
                if token.eq_ignore_ascii_case("close") {
                    r.keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") && version == Version::Http10 {
                    r.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            r.expect_continue = ows::trim(value).eq_ignore_ascii_case("100-continue");
        } else if name.eq_ignore_ascii_case("if-none-match") {
            // Several field lines are one comma-separated list (RFC 9110
            // §5.3); only the rare second one costs an allocation.
            r.if_none_match = Some(match r.if_none_match.take() {
                None => Cow::Borrowed(value),
                Some(first) => Cow::Owned(format!("{first}, {value}")),
            });
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            r.if_modified_since = Some(value);
        } else if name.eq_ignore_ascii_case("range") {
            ranges += 1;
            r.range = Some(value);
        } else if name.eq_ignore_ascii_case("if-range") {
            r.if_range = Some(value);
        }
    }
    // A close requested on a 1.0 connection wins over keep-alive.
    if version == Version::Http10
        && req.headers.iter().any(|f| {
            f.name.eq_ignore_ascii_case("connection")
                && std::str::from_utf8(f.value)
                    .unwrap_or_default()
                    .split(',')
                    .any(|t| ows::trim(t).eq_ignore_ascii_case("close"))
        })
    {
        r.keep_alive = false;
    }
    if ranges > 1 {
        // Two Range fields cannot be combined; ignore both (serve 200).
        r.range = None;
    }
    if version == Version::Http11 && hosts != 1 {
        return Err(HttpError::new(400, "HTTP/1.1 needs exactly one Host field"));
    }
    if hosts > 1 {
        return Err(HttpError::new(400, "more than one Host field"));
    }
    r.framing = match (transfer_encoding, content_length) {
        (true, Some(_)) => {
            return Err(HttpError::new(
                400,
                "both Content-Length and Transfer-Encoding",
            ));
        }
        (true, None) if version == Version::Http10 => {
            return Err(HttpError::new(
                400,
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        (true, None) if !chunked => {
            return Err(HttpError::new(
                501,
                "the final transfer coding must be chunked",
            ));
        }
        (true, None) => Framing::Chunked,
        (false, Some(0) | None) => Framing::None,
        (false, Some(n)) => Framing::Length(n),
    };
    Ok(r)
}

/// Parses a Content-Length value: digits only, or a list of identical digit
/// strings (RFC 9110 §8.6 lets a recipient accept `5, 5`).
fn parse_content_length(value: &str) -> Result<u64, HttpError> {
    let mut result = None;
    for part in value.split(',') {
        let part = ows::trim(part);
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HttpError::new(400, "Content-Length is not a number"));
        }
        let n: u64 = part
            .parse()
            .map_err(|_| HttpError::new(400, "Content-Length is too large"))?;
        if result.is_some_and(|m| m != n) {
            return Err(HttpError::new(400, "conflicting Content-Length values"));
        }
        result = Some(n);
    }
    result.ok_or(HttpError::new(400, "empty Content-Length"))
}

/// Reads one Transfer-Encoding field, given whether an earlier field ended
/// in `chunked`; returns whether the codings now end in `chunked`.
fn transfer_codings(value: &str, mut chunked: bool) -> Result<bool, HttpError> {
    let mut any = false;
    for coding in value.split(',').map(ows::trim) {
        if coding.is_empty() {
            continue;
        }
        any = true;
        if chunked {
            // Anything after chunked (including chunked twice) cannot be
            // delimited.
            return Err(HttpError::new(
                400,
                "chunked must be the final coding, once",
            ));
        }
        let name = ows::trim(coding.split(';').next().unwrap_or(""));
        chunked = name.eq_ignore_ascii_case("chunked");
    }
    if !any {
        return Err(HttpError::new(400, "empty Transfer-Encoding"));
    }
    Ok(chunked)
}

/// Parses a chunk-size line (without its line ending): hex digits, then
/// optional extensions after `;`, which are ignored. Returns the size.
///
/// # Errors
///
/// 400 for an empty line, a non-hex digit (signs, `0x`, spaces inside or
/// before the number), or a size that does not fit in 64 bits.
pub fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    const BAD: HttpError = HttpError::new(400, "malformed chunk size");
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits_end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (digits, rest) = line.split_at(digits_end);
    if digits.is_empty() {
        return Err(BAD);
    }
    // After the digits: nothing, or optional whitespace (BWS: spaces and
    // tabs only, RFC 9112 §7.1.1) then `;` extensions.
    let rest = ows::trim_start(rest);
    if !rest.is_empty() && rest[0] != b';' {
        return Err(BAD);
    }
    if rest.len() < line.len() - digits.len() && rest.is_empty() {
        return Err(BAD); // trailing whitespace with no extension
    }
    let digits = std::str::from_utf8(digits).map_err(|_| BAD)?;
    u64::from_str_radix(digits, 16).map_err(|_| HttpError::new(400, "chunk size too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head as the channel hands it over: with its blank line.
    fn head(s: &str) -> Vec<u8> {
        format!("{s}\r\n").into_bytes()
    }

    /// (head, expected status or 0 for success, expected framing, keep-alive)
    const CASES: &[(&str, u16, Framing, bool)] = &[
        ("GET / HTTP/1.1\r\nHost: a\r\n", 0, Framing::None, true),
        ("GET / HTTP/1.1\nHost: a\n", 0, Framing::None, true),
        ("GET / HTTP/1.1\r\nHost: a\n", 0, Framing::None, true),
        ("GET / HTTP/1.0\r\n", 0, Framing::None, false),
        // A no-break space is not whitespace in HTTP: not a close token.
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: \u{a0}close\r\n",
            0,
            Framing::None,
            true,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive,\t close \r\n",
            0,
            Framing::None,
            false,
        ),
        (
            "GET / HTTP/1.0\r\nConnection: keep-alive\r\n",
            0,
            Framing::None,
            true,
        ),
        (
            "GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n",
            0,
            Framing::None,
            false,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n",
            0,
            Framing::None,
            false,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n",
            0,
            Framing::None,
            false,
        ),
        ("GET / HTTP/1.2\r\nHost: a\r\n", 505, Framing::None, false),
        (
            "GET http://a/x HTTP/1.1\r\nHost: a\r\n",
            0,
            Framing::None,
            true,
        ),
        ("OPTIONS * HTTP/1.1\r\nHost: a\r\n", 0, Framing::None, true),
        // Content-Length
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n",
            0,
            Framing::None,
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n",
            0,
            Framing::Length(12),
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n",
            0,
            Framing::Length(5),
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n",
            0,
            Framing::Length(5),
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n",
            0,
            Framing::Length(u64::MAX),
            true,
        ),
        // Transfer-Encoding
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n",
            0,
            Framing::Chunked,
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n",
            0,
            Framing::Chunked,
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n",
            0,
            Framing::Chunked,
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            0,
            Framing::Chunked,
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n",
            501,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n",
            501,
            Framing::None,
            false,
        ),
        // A no-break space is not whitespace in HTTP: this is not chunked.
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\u{a0}\r\n",
            501,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n",
            400,
            Framing::None,
            false,
        ),
        // Host
        ("GET / HTTP/1.1\r\n", 400, Framing::None, false),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n",
            400,
            Framing::None,
            false,
        ),
        // Request line and versions
        ("GET / HTTP/2.0\r\nHost: a\r\n", 505, Framing::None, false),
        ("GET / HTTP/2\r\nHost: a\r\n", 505, Framing::None, false),
        ("GET / HTTP/3\r\nHost: a\r\n", 505, Framing::None, false),
        ("PRI * HTTP/2.0\r\n", 505, Framing::None, false),
        ("GET / HTTP/1.1 \r\nHost: a\r\n", 400, Framing::None, false),
        ("GET / http/1.1\r\nHost: a\r\n", 400, Framing::None, false),
        ("GET / HTTP/01.1\r\nHost: a\r\n", 400, Framing::None, false),
        ("GET / HTTP/1\r\nHost: a\r\n", 400, Framing::None, false),
        ("GET / HTTP/1.x\r\nHost: a\r\n", 400, Framing::None, false),
        ("GET  / HTTP/1.1\r\nHost: a\r\n", 400, Framing::None, false),
        (
            "GET /\tx HTTP/1.1\r\nHost: a\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "GET /\x01 HTTP/1.1\r\nHost: a\r\n",
            400,
            Framing::None,
            false,
        ),
        ("GET\r\n", 400, Framing::None, false),
        ("/ HTTP/1.1\r\nHost: a\r\n", 400, Framing::None, false),
        ("GET / HTTP/1.1\r\nHost a\r\n", 400, Framing::None, false),
        ("GET / HTTP/1.1\r\nHost : a\r\n", 400, Framing::None, false),
        (
            "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n",
            400,
            Framing::None,
            false,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\x00b\r\n",
            400,
            Framing::None,
            false,
        ),
    ];

    #[test]
    fn head_table() {
        for &(input, status, framing, keep_alive) in CASES {
            let bytes = head(input);
            match parse(&bytes) {
                Ok(r) => {
                    assert_eq!(status, 0, "{input:?} parsed, expected {status}");
                    assert_eq!(r.framing, framing, "{input:?}");
                    assert_eq!(r.keep_alive, keep_alive, "{input:?}");
                }
                Err(e) => assert_eq!(e.status, status, "{input:?}: {e}"),
            }
        }
    }

    #[test]
    fn fields_are_borrowed_from_the_head() {
        let bytes = head(
            "GET /a?b HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nIf-None-Match: \"e\"\r\n\
             If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nIf-Range: \"e\"\r\nExpect: 100-Continue\r\n",
        );
        let r = parse(&bytes).unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.target, "/a?b");
        assert_eq!(r.range, Some("bytes=0-1"));
        assert_eq!(r.if_none_match.as_deref(), Some("\"e\""));
        assert_eq!(r.if_modified_since, Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert_eq!(r.if_range, Some("\"e\""));
        assert!(r.expect_continue);
    }

    #[test]
    fn several_if_none_match_fields_are_one_list() {
        let bytes = head(
            "GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"a\"\r\nIf-None-Match: \"b\", \"c\"\r\n",
        );
        let r = parse(&bytes).unwrap();
        assert_eq!(r.if_none_match.as_deref(), Some("\"a\", \"b\", \"c\""));
    }

    #[test]
    fn obs_text_is_allowed_where_it_is_not_read() {
        let ok = [&b"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: caf\xe9\r\n\r\n"[..]];
        assert!(parse(ok[0]).is_ok());
        let bad = b"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=\xe9\r\n\r\n";
        assert_eq!(parse(bad).unwrap_err().status, 400);
    }

    #[test]
    fn methods_are_case_sensitive() {
        for (line, method) in [
            ("GET", Method::Get),
            ("HEAD", Method::Head),
            ("OPTIONS", Method::Options),
            ("POST", Method::NotAllowed),
            ("PUT", Method::NotAllowed),
            ("DELETE", Method::NotAllowed),
            ("PATCH", Method::NotAllowed),
            ("get", Method::Unknown),
            ("BREW", Method::Unknown),
        ] {
            let bytes = head(&format!("{line} / HTTP/1.1\r\nHost: a\r\n"));
            assert_eq!(parse(&bytes).unwrap().method, method, "{line}");
        }
    }

    #[test]
    fn too_many_fields_is_431() {
        let mut s = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..MAX_HEADERS {
            s.push_str(&format!("X-{i}: y\r\n"));
        }
        assert_eq!(parse(&head(&s)).unwrap_err().status, 431);
    }

    #[test]
    fn two_range_fields_are_ignored() {
        let bytes = head("GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n");
        assert_eq!(parse(&bytes).unwrap().range, None);
    }

    #[test]
    fn chunk_size_table() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"0", Some(0)),
            (b"a", Some(10)),
            (b"A", Some(10)),
            (b"000F", Some(15)),
            (b"10\r", Some(16)),
            (b"ffffffffffffffff", Some(u64::MAX)),
            (b"5;name=value", Some(5)),
            (b"5 ;ext", Some(5)),
            (b"5\t;ext", Some(5)),
            (b"5;", Some(5)),
            (b"", None),
            (b"\r", None),
            (b"10000000000000000", None),
            (b"-5", None),
            (b"+5", None),
            (b"0x5", None),
            (b" 5", None),
            (b"5 ", None),
            (b"5 5", None),
            (b"g", None),
            (b"5x", None),
            // Only spaces and tabs may come before the extensions.
            (b"5\x0c;ext", None),
            (b"5\r;ext", None),
            (b"5\n;ext", None),
        ];
        for &(line, expected) in cases {
            assert_eq!(
                parse_chunk_size(line).ok(),
                expected,
                "{:?}",
                line.escape_ascii().to_string()
            );
        }
    }
}
