//! Request heads: parsing and every check that decides whether, and how, a
//! request can be served (RFC 9112), as pure functions over bytes.
//!
//! [`parse`] takes the head as the channel collected it (lines joined by
//! `\n`, each possibly still ending in `\r`) and returns a [`Request`] that
//! borrows from it, or the [`HttpError`] to answer with. The framing decision
//! ([`framing`]) is the one that keeps a connection in sync: the body of
//! every request is read and discarded, so it must be delimited exactly or
//! the connection closed.

use std::borrow::Cow;
use std::fmt;
use std::mem::MaybeUninit;

use super::error::HttpError;
use super::ows;

/// The fields whose values this server reads.
pub const USED_FIELDS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
    "if-none-match",
    "if-match",
    "content-type",
    "if-modified-since",
    "range",
    "if-range",
    "accept",
    "accept-encoding",
    "authorization",
    "origin",
    "access-control-request-method",
    "access-control-request-headers",
];

/// A field this server reads (the names of [`USED_FIELDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Expect,
    IfNoneMatch,
    IfMatch,
    ContentType,
    IfModifiedSince,
    Range,
    IfRange,
    Accept,
    AcceptEncoding,
    Authorization,
    Origin,
    CorsMethod,
    CorsHeaders,
}

/// Which field `name` is, if one this server reads: one comparison for most
/// names, since names are told apart by their length first.
fn field_of(name: &str) -> Option<Field> {
    let is = |known: &str| name.eq_ignore_ascii_case(known);
    Some(match name.len() {
        4 if is("host") => Field::Host,
        5 if is("range") => Field::Range,
        6 if is("expect") => Field::Expect,
        6 if is("accept") => Field::Accept,
        6 if is("origin") => Field::Origin,
        8 if is("if-range") => Field::IfRange,
        8 if is("if-match") => Field::IfMatch,
        12 if is("content-type") => Field::ContentType,
        10 if is("connection") => Field::Connection,
        13 if is("if-none-match") => Field::IfNoneMatch,
        13 if is("authorization") => Field::Authorization,
        14 if is("content-length") => Field::ContentLength,
        15 if is("accept-encoding") => Field::AcceptEncoding,
        17 if is("transfer-encoding") => Field::TransferEncoding,
        17 if is("if-modified-since") => Field::IfModifiedSince,
        29 if is("access-control-request-method") => Field::CorsMethod,
        30 if is("access-control-request-headers") => Field::CorsHeaders,
        _ => return None,
    })
}

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
    /// `PUT`: stores the body at the target, with `--upload` (405
    /// otherwise).
    Put,
    /// `POST`: stores the files of a `multipart/form-data` body in the
    /// target directory, with `--upload` (405 otherwise).
    Post,
    /// A method this server knows but does not allow (`DELETE`, `PATCH`):
    /// 405.
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
            "PUT" => Method::Put,
            "POST" => Method::Post,
            "DELETE" | "PATCH" => Method::NotAllowed,
            _ => Method::Unknown,
        }
    }
}

/// The protocol version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: closes after the response unless it asked for keep-alive.
    Http10,
    /// HTTP/1.1: persistent unless it asked to close.
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

/// The framing as the trace shows it: `no body`, `body of Content-Length
/// 11`, `chunked body`.
impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Framing::None => f.write_str("no body"),
            Framing::Length(n) => write!(f, "body of Content-Length {n}"),
            Framing::Chunked => f.write_str("chunked body"),
        }
    }
}

/// How the connection continues after the response (RFC 9112 §9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Close once the response is sent; it says `Connection: close`.
    Close,
    /// Stay open for the next request: HTTP/1.1's default, which needs no
    /// field.
    KeepAlive,
    /// Stay open because an HTTP/1.0 client asked to; the response says
    /// `Connection: keep-alive`, or the client would wait for the close.
    KeepAliveHttp10,
}

/// The last transfer coding of a request's Transfer-Encoding fields, which
/// is all [`framing`] needs to know of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastCoding {
    /// `chunked`, once and last: the body can be delimited.
    Chunked,
    /// Any other coding (`gzip`, `identity`, ...).
    Other,
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
    /// How the connection continues after the response.
    pub persistence: Persistence,
    /// The client sent `Expect: 100-continue`.
    pub expect_continue: bool,
    /// `If-None-Match`, if sent (several fields are joined with commas).
    pub if_none_match: Option<Cow<'a, str>>,
    /// `If-Match`, if sent (several fields are joined with commas).
    pub if_match: Option<Cow<'a, str>>,
    /// `Content-Type`, if sent: a form's boundary.
    pub content_type: Option<&'a str>,
    /// `If-Modified-Since`, if sent.
    pub if_modified_since: Option<&'a str>,
    /// `Range`, if sent exactly once.
    pub range: Option<&'a str>,
    /// `If-Range`, if sent.
    pub if_range: Option<&'a str>,
    /// `Accept`, if sent (the last field).
    pub accept: Option<&'a str>,
    /// `Accept-Encoding`, if sent (several fields are joined with commas).
    pub accept_encoding: Option<Cow<'a, str>>,
    /// `Authorization`, if sent exactly once.
    pub authorization: Option<&'a str>,
    /// A CORS preflight's fields: `Origin` was sent, and
    /// `Access-Control-Request-Method`.
    pub cors_preflight: bool,
    /// `Access-Control-Request-Headers`, if sent: every field line of it,
    /// joined as one list.
    pub cors_headers: Option<Cow<'a, str>>,
}

/// Checks the version token of a request line before `httparse` sees it,
/// so that HTTP/2 (including its connection preface, `PRI * HTTP/2.0`) is
/// answered 505 rather than 400.
fn check_version(request_line: &[u8]) -> Result<Version, HttpError> {
    let line = request_line.strip_suffix(b"\r").unwrap_or(request_line);
    let version = match line.iter().rposition(|&b| b == b' ') {
        Some(i) => &line[i + 1..],
        None => return Err(HttpError::RequestLineMalformed),
    };
    match version {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        // Well-formed but unsupported: HTTP/1.2 and later minor versions
        // (which `httparse` rejects, and no client sends), HTTP/2 and up.
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'0'..=b'9']
        | [b'H', b'T', b'T', b'P', b'/', b'2'..=b'9']
        | [b'H', b'T', b'T', b'P', b'/', b'2'..=b'9', b'.', b'0'..=b'9'] => {
            Err(HttpError::VersionUnsupported)
        }
        _ => Err(HttpError::RequestLineMalformed),
    }
}

/// A request with its request line and nothing known yet from its
/// fields: [`parse`] fills those in.
fn unframed_request<'a>(method_token: &'a str, target: &'a str, version: Version) -> Request<'a> {
    Request {
        method: Method::from_token(method_token),
        method_token,
        target,
        version,
        framing: Framing::None,
        persistence: Persistence::Close,
        expect_continue: false,
        if_none_match: None,
        if_match: None,
        content_type: None,
        if_modified_since: None,
        range: None,
        if_range: None,
        accept: None,
        accept_encoding: None,
        authorization: None,
        cors_preflight: false,
        cors_headers: None,
    }
}

/// Parses a head: the bytes as received, from the request line up to and
/// including the blank line that ends it (lines end in `\n`, with or without
/// a `\r` before it).
///
/// # Errors
///
/// The [`HttpError`] to answer with: a malformed request line or field,
/// too many fields, a missing or repeated Host, or framing that
/// [`framing`] refuses.
pub fn parse(head: &[u8]) -> Result<Request<'_>, HttpError> {
    // Left uninitialised: httparse writes the fields it parses, and 100
    // empty ones would cost more to set up than a small head to parse.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let parsed = req.parse_with_uninit_headers(head, &mut fields);
    // A head httparse takes has a request line `method SP target SP
    // HTTP/1.x`; a request line that is wrong says why before any error of
    // the rest does.
    let first_line = || memchr::memchr(b'\n', head).map_or(head, |end| &head[..end]);
    let version = match parsed {
        Ok(httparse::Status::Complete(_)) => match req.version {
            Some(0) => Version::Http10,
            _ => Version::Http11,
        },
        Ok(httparse::Status::Partial) => {
            check_version(first_line())?;
            return Err(HttpError::HeadIncomplete);
        }
        Err(e) => {
            check_version(first_line())?;
            return Err(match e {
                httparse::Error::TooManyHeaders => HttpError::TooManyFields,
                _ => HttpError::HeadMalformed,
            });
        }
    };
    debug_assert_eq!(check_version(first_line()), Ok(version));
    let mut r = unframed_request(
        req.method.expect("complete"),
        req.path.expect("complete"),
        version,
    );

    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut last_coding: Option<LastCoding> = None;
    let mut ranges = 0;
    let (mut close, mut keep_alive) = (false, false);
    let (mut origin, mut cors_method, mut authorizations) = (false, false, 0);
    for field in req.headers.iter() {
        let Some(which) = field_of(field.name) else {
            continue;
        };
        if which == Field::Host {
            // Checked as bytes, with no UTF-8 pass first (every request
            // has one): a Host that is not UTF-8 is not a host.
            hosts += 1;
            if !valid_host(field.value) {
                return Err(HttpError::HostInvalid);
            }
            continue;
        }
        // RFC 9110 allows other bytes (obs-text) in field values; they
        // matter only in a field this server reads.
        let value = std::str::from_utf8(field.value).map_err(|_| HttpError::FieldNotUtf8)?;
        match which {
            Field::Host => unreachable!("a Host field is checked above"),
            Field::ContentLength => {
                let n = parse_content_length(value)?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(HttpError::ConflictingLengths);
                }
                content_length = Some(n);
            }
            Field::TransferEncoding => {
                last_coding = Some(transfer_codings(value, last_coding)?);
            }
            Field::Connection => {
                for token in value.split(',').map(ows::trim) {
                    close |= token.eq_ignore_ascii_case("close");
                    keep_alive |= token.eq_ignore_ascii_case("keep-alive");
                }
            }
            Field::Expect => {
                r.expect_continue = ows::trim(value).eq_ignore_ascii_case("100-continue");
            }
            // Several field lines are one comma-separated list (RFC 9110
            // §5.3); only the rare second one costs an allocation.
            Field::IfNoneMatch => joined_list(&mut r.if_none_match, value),
            Field::IfMatch => joined_list(&mut r.if_match, value),
            Field::ContentType => r.content_type = Some(value),
            Field::AcceptEncoding => joined_list(&mut r.accept_encoding, value),
            Field::IfModifiedSince => r.if_modified_since = Some(value),
            Field::Range => {
                ranges += 1;
                r.range = Some(value);
            }
            Field::IfRange => r.if_range = Some(value),
            Field::Accept => r.accept = Some(value),
            Field::Authorization => {
                authorizations += 1;
                r.authorization = Some(value);
            }
            Field::Origin => origin = true,
            Field::CorsMethod => cors_method = true,
            Field::CorsHeaders => joined_list(&mut r.cors_headers, value),
        }
    }
    r.cors_preflight = origin && cors_method;
    if authorizations > 1 {
        // Two sets of credentials are none: the request is not authorized.
        r.authorization = None;
    }
    // A close requested anywhere wins; HTTP/1.0 stays open only on request.
    r.persistence = match version {
        _ if close => Persistence::Close,
        Version::Http11 => Persistence::KeepAlive,
        Version::Http10 if keep_alive => Persistence::KeepAliveHttp10,
        Version::Http10 => Persistence::Close,
    };
    if ranges > 1 {
        // Two Range fields cannot be combined; ignore both (serve 200).
        r.range = None;
    }
    match hosts {
        0 if version == Version::Http11 => return Err(HttpError::HostMissing),
        0 | 1 => {}
        _ => return Err(HttpError::HostRepeated),
    }
    r.framing = framing(version, content_length, last_coding)?;
    Ok(r)
}

/// True for a Host field value that is `uri-host [ ":" port ]` (RFC 9112
/// §3.2, RFC 3986 §3.2.2), or empty (the Host of a target without an
/// authority): a bracketed IPv6 address (or `IPvFuture`), or a name made
/// of unreserved characters, percent-escapes and sub-delimiters (an IPv4
/// address is such a name), then optionally `:` and digits. Spaces,
/// userinfo (`@`), a path, and any byte a host cannot hold are refused,
/// and so is a value that is not UTF-8.
///
/// Bytes, not `&str`: the common value is checked without first being
/// proved UTF-8, a pass that cost as much again as the check.
pub fn valid_host(value: &[u8]) -> bool {
    // The common case in one pass: a name or IPv4 address of plain
    // characters, then perhaps ':' and digits.
    let plain = match value.iter().position(|&b| !REG_NAME[usize::from(b)]) {
        None => true,
        Some(i) => value[i] == b':' && value[i + 1..].iter().all(u8::is_ascii_digit),
    };
    plain || std::str::from_utf8(value).is_ok_and(valid_host_slowly)
}

/// [`valid_host`] for IP literals and names with percent-escapes, and
/// for every value the common case refuses.
fn valid_host_slowly(value: &str) -> bool {
    let (host_ok, port) = match value.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((literal, after)) => (
                literal.parse::<std::net::Ipv6Addr>().is_ok() || ip_future(literal),
                match after {
                    "" => "",
                    // Anything after the literal but a port: `x` is no port.
                    _ => after.strip_prefix(':').unwrap_or("x"),
                },
            ),
            None => (false, ""),
        },
        None => {
            // A reg-name holds no ':', so the port starts after the last.
            let colon = value.bytes().rposition(|b| b == b':');
            let (host, port) = match colon {
                Some(i) => (&value[..i], &value[i + 1..]),
                None => (value, ""),
            };
            (reg_name(host), port)
        }
    };
    host_ok && port.bytes().all(|b| b.is_ascii_digit())
}

/// A table of 256 flags: the bytes of `set`, and ASCII letters and
/// digits.
const fn byte_table(set: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < set.len() {
        table[set[i] as usize] = true;
        i += 1;
    }
    table
}

/// RFC 9110's `tchar`: the characters of a token, such as a method.
const TCHAR: [bool; 256] = byte_table(b"!#$%&'*+-.^_`|~");
/// RFC 3986's unreserved characters and sub-delimiters: what a `reg-name`
/// holds besides percent-escapes.
const REG_NAME: [bool; 256] = byte_table(b"-._~!$&'()*+,;=");

/// True for a byte of a token (RFC 9110 §5.6.2).
pub fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// RFC 3986's `reg-name` (an IPv4 address is one too): unreserved
/// characters, percent-escapes and sub-delimiters.
fn reg_name(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if REG_NAME[usize::from(b[i])] {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// RFC 3986's `IPvFuture`: `v`, hex digits, `.`, then unreserved,
/// sub-delimiters or `:`.
fn ip_future(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(['v', 'V']) else {
        return false;
    };
    let Some((version, tail)) = rest.split_once('.') else {
        return false;
    };
    !version.is_empty()
        && version.bytes().all(|b| b.is_ascii_hexdigit())
        && !tail.is_empty()
        && tail
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:".contains(&b))
}

/// Decides how a request's body is delimited, from its version, its
/// Content-Length (several identical values are one) and the last of its
/// transfer codings: RFC 9112 §6.3, as it applies to a request, failing
/// closed wherever the RFC allows a choice. The steps, in the RFC's order:
///
/// 1. and 2. are about responses (to HEAD, 1xx, 204, 304 and CONNECT).
/// 3. Both Transfer-Encoding and Content-Length: "ought to be handled as an
///    error" (request smuggling). 400.
/// 4. Transfer-Encoding with `chunked` last: the chunked body. In an
///    HTTP/1.0 request Transfer-Encoding is faulty framing whatever it says
///    (§6.1): 400. Codings that do not end in `chunked` cannot be
///    delimited; §6.1 makes a coding the server does not understand a 501,
///    which is what a lone `gzip` gets. (A coding after `chunked` was
///    refused with 400 while the fields were read.)
/// 5. An invalid Content-Length is an unrecoverable error (400); a list of
///    identical valid values counts as one. Both were checked while the
///    fields were read.
/// 6. A valid Content-Length: that many bytes (0 is no body).
/// 7. Otherwise a request has no body.
/// 8. (Read until close) is for responses only.
///
/// # Errors
///
/// [`HttpError::LengthAndEncoding`], [`HttpError::EncodingInHttp10`] or
/// [`HttpError::UnsupportedCoding`].
pub fn framing(
    version: Version,
    content_length: Option<u64>,
    last_coding: Option<LastCoding>,
) -> Result<Framing, HttpError> {
    match (last_coding, content_length) {
        (Some(_), Some(_)) => Err(HttpError::LengthAndEncoding),
        (Some(_), None) if version == Version::Http10 => Err(HttpError::EncodingInHttp10),
        (Some(LastCoding::Other), None) => Err(HttpError::UnsupportedCoding),
        (Some(LastCoding::Chunked), None) => Ok(Framing::Chunked),
        (None, Some(0) | None) => Ok(Framing::None),
        (None, Some(n)) => Ok(Framing::Length(n)),
    }
}

/// Adds `value` to a list field that may come in several field lines.
fn joined_list<'a>(list: &mut Option<Cow<'a, str>>, value: &'a str) {
    *list = Some(match list.take() {
        None => Cow::Borrowed(value),
        Some(first) => Cow::Owned(format!("{first}, {value}")),
    });
}

/// Parses a Content-Length value: digits only, or a list of identical digit
/// strings (RFC 9110 §8.6 lets a recipient accept `5, 5`).
fn parse_content_length(value: &str) -> Result<u64, HttpError> {
    let mut result = None;
    for part in value.split(',').map(ows::trim) {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HttpError::LengthMalformed);
        }
        let n: u64 = part.parse().map_err(|_| HttpError::LengthOverflow)?;
        if result.is_some_and(|m| m != n) {
            return Err(HttpError::ConflictingLengths);
        }
        result = Some(n);
    }
    result.ok_or(HttpError::LengthMalformed)
}

/// Reads one Transfer-Encoding field, given the last coding of the fields
/// before it; returns the last coding now.
fn transfer_codings(value: &str, mut last: Option<LastCoding>) -> Result<LastCoding, HttpError> {
    let mut any = false;
    for coding in value.split(',').map(ows::trim) {
        if coding.is_empty() {
            continue;
        }
        any = true;
        if last == Some(LastCoding::Chunked) {
            // Anything after chunked (including chunked twice) cannot be
            // delimited.
            return Err(HttpError::ChunkedNotLast);
        }
        let name = ows::trim(coding.split(';').next().unwrap_or(""));
        last = Some(if name.eq_ignore_ascii_case("chunked") {
            LastCoding::Chunked
        } else {
            LastCoding::Other
        });
    }
    match last {
        Some(last) if any => Ok(last),
        _ => Err(HttpError::EncodingEmpty),
    }
}

/// Parses a chunk-size line (without its line ending): hex digits, then
/// optional extensions after `;`, which are ignored. Returns the size.
///
/// # Errors
///
/// [`HttpError::ChunkSizeMalformed`] for an empty line, a non-hex digit
/// (signs, `0x`, spaces inside or before the number), a control byte in an
/// extension;
/// [`HttpError::ChunkSizeOverflow`] for a size that does not fit in 64
/// bits.
pub fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    const BAD: HttpError = HttpError::ChunkSizeMalformed;
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
    let ext = ows::trim_start(rest);
    if !rest.is_empty() && ext.first() != Some(&b';') {
        return Err(BAD); // another byte, or trailing whitespace alone
    }
    // Extensions are ignored, but a control byte (NUL included) has no
    // place in one: such a line is not framing this server can trust.
    if ext.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(BAD);
    }
    let digits = std::str::from_utf8(digits).map_err(|_| BAD)?;
    u64::from_str_radix(digits, 16).map_err(|_| HttpError::ChunkSizeOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head as the channel hands it over: with its blank line.
    fn head(s: &str) -> Vec<u8> {
        format!("{s}\r\n").into_bytes()
    }

    /// (head, what it parses to: its framing and how the connection goes on,
    /// or the cause of the error)
    type Parsed = Result<(Framing, Persistence), HttpError>;

    const CASES: &[(&str, Parsed)] = &[
        (
            "GET / HTTP/1.1\r\nHost: a\r\n",
            Ok((Framing::None, Persistence::KeepAlive)),
        ),
        (
            "GET / HTTP/1.1\nHost: a\n",
            Ok((Framing::None, Persistence::KeepAlive)),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\n",
            Ok((Framing::None, Persistence::KeepAlive)),
        ),
        (
            "GET / HTTP/1.0\r\n",
            Ok((Framing::None, Persistence::Close)),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: \u{a0}close\r\n",
            Ok((Framing::None, Persistence::KeepAlive)),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive,\t close \r\n",
            Ok((Framing::None, Persistence::Close)),
        ),
        (
            "GET / HTTP/1.0\r\nConnection: keep-alive\r\n",
            Ok((Framing::None, Persistence::KeepAliveHttp10)),
        ),
        (
            "GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n",
            Ok((Framing::None, Persistence::Close)),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n",
            Ok((Framing::None, Persistence::Close)),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n",
            Ok((Framing::None, Persistence::Close)),
        ),
        (
            "GET / HTTP/1.2\r\nHost: a\r\n",
            Err(HttpError::VersionUnsupported),
        ),
        (
            "GET http://a/x HTTP/1.1\r\nHost: a\r\n",
            Ok((Framing::None, Persistence::KeepAlive)),
        ),
        (
            "OPTIONS * HTTP/1.1\r\nHost: a\r\n",
            Ok((Framing::None, Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n",
            Ok((Framing::None, Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n",
            Ok((Framing::Length(12), Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n",
            Ok((Framing::Length(5), Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n",
            Ok((Framing::Length(5), Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n",
            Err(HttpError::ConflictingLengths),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n",
            Err(HttpError::ConflictingLengths),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n",
            Err(HttpError::LengthMalformed),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n",
            Err(HttpError::LengthMalformed),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n",
            Err(HttpError::LengthMalformed),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n",
            Err(HttpError::LengthMalformed),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n",
            Err(HttpError::LengthMalformed),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n",
            Err(HttpError::LengthOverflow),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n",
            Ok((Framing::Length(u64::MAX), Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n",
            Ok((Framing::Chunked, Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n",
            Ok((Framing::Chunked, Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n",
            Ok((Framing::Chunked, Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            Ok((Framing::Chunked, Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n",
            Err(HttpError::UnsupportedCoding),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n",
            Err(HttpError::ChunkedNotLast),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n",
            Err(HttpError::ChunkedNotLast),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            Err(HttpError::ChunkedNotLast),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n",
            Err(HttpError::UnsupportedCoding),
        ),
        // A no-break space is not whitespace in HTTP: this is not chunked.
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\u{a0}\r\n",
            Err(HttpError::UnsupportedCoding),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t;x=1\r\n",
            Ok((Framing::Chunked, Persistence::KeepAlive)),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n",
            Err(HttpError::EncodingEmpty),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n",
            Err(HttpError::LengthAndEncoding),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n",
            Err(HttpError::LengthAndEncoding),
        ),
        (
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n",
            Err(HttpError::EncodingInHttp10),
        ),
        ("GET / HTTP/1.1\r\n", Err(HttpError::HostMissing)),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n",
            Err(HttpError::HostRepeated),
        ),
        (
            "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n",
            Err(HttpError::HostRepeated),
        ),
        (
            "GET / HTTP/2.0\r\nHost: a\r\n",
            Err(HttpError::VersionUnsupported),
        ),
        (
            "GET / HTTP/2\r\nHost: a\r\n",
            Err(HttpError::VersionUnsupported),
        ),
        (
            "GET / HTTP/3\r\nHost: a\r\n",
            Err(HttpError::VersionUnsupported),
        ),
        ("PRI * HTTP/2.0\r\n", Err(HttpError::VersionUnsupported)),
        (
            "GET / HTTP/1.1 \r\nHost: a\r\n",
            Err(HttpError::RequestLineMalformed),
        ),
        (
            "GET / http/1.1\r\nHost: a\r\n",
            Err(HttpError::RequestLineMalformed),
        ),
        (
            "GET / HTTP/01.1\r\nHost: a\r\n",
            Err(HttpError::RequestLineMalformed),
        ),
        (
            "GET / HTTP/1\r\nHost: a\r\n",
            Err(HttpError::RequestLineMalformed),
        ),
        (
            "GET / HTTP/1.x\r\nHost: a\r\n",
            Err(HttpError::RequestLineMalformed),
        ),
        (
            "GET  / HTTP/1.1\r\nHost: a\r\n",
            Err(HttpError::HeadMalformed),
        ),
        (
            "GET /\tx HTTP/1.1\r\nHost: a\r\n",
            Err(HttpError::HeadMalformed),
        ),
        (
            "GET /\x01 HTTP/1.1\r\nHost: a\r\n",
            Err(HttpError::HeadMalformed),
        ),
        ("GET\r\n", Err(HttpError::RequestLineMalformed)),
        ("/ HTTP/1.1\r\nHost: a\r\n", Err(HttpError::HeadMalformed)),
        (
            "GET / HTTP/1.1\r\nHost a\r\n",
            Err(HttpError::HeadMalformed),
        ),
        (
            "GET / HTTP/1.1\r\nHost : a\r\n",
            Err(HttpError::HeadMalformed),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n",
            Err(HttpError::HeadMalformed),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\x00b\r\n",
            Err(HttpError::HeadMalformed),
        ),
    ];

    #[test]
    fn head_table() {
        for (input, expected) in CASES {
            let bytes = head(input);
            let got = parse(&bytes).map(|r| (r.framing, r.persistence));
            assert_eq!(got, *expected, "{input:?}");
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
        assert_eq!(parse(bad).unwrap_err(), HttpError::FieldNotUtf8);
        // A Host is checked as bytes: one that is not UTF-8 is no host.
        let host = b"GET / HTTP/1.1\r\nHost: caf\xe9\r\n\r\n";
        assert_eq!(parse(host).unwrap_err(), HttpError::HostInvalid);
    }

    #[test]
    fn methods_are_case_sensitive() {
        for (line, method) in [
            ("GET", Method::Get),
            ("HEAD", Method::Head),
            ("OPTIONS", Method::Options),
            ("POST", Method::Post),
            ("PUT", Method::Put),
            ("put", Method::Unknown),
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
        assert_eq!(parse(&head(&s)).unwrap_err(), HttpError::TooManyFields);
    }

    #[test]
    fn two_range_fields_are_ignored() {
        let bytes = head("GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n");
        assert_eq!(parse(&bytes).unwrap().range, None);
    }

    #[test]
    fn chunk_size_table() {
        const BAD: HttpError = HttpError::ChunkSizeMalformed;
        let cases: &[(&[u8], Result<u64, HttpError>)] = &[
            (b"0", Ok(0)),
            (b"a", Ok(10)),
            (b"A", Ok(10)),
            (b"000F", Ok(15)),
            (b"10\r", Ok(16)),
            (b"ffffffffffffffff", Ok(u64::MAX)),
            (b"5;name=value", Ok(5)),
            (b"5 ;ext", Ok(5)),
            (b"5\t;ext", Ok(5)),
            (b"5;", Ok(5)),
            (b"", Err(BAD)),
            (b"\r", Err(BAD)),
            (b"10000000000000000", Err(HttpError::ChunkSizeOverflow)),
            (b"-5", Err(BAD)),
            (b"+5", Err(BAD)),
            (b"0x5", Err(BAD)),
            (b" 5", Err(BAD)),
            (b"5 ", Err(BAD)),
            (b"5 5", Err(BAD)),
            (b"g", Err(BAD)),
            (b"5x", Err(BAD)),
            // Only spaces and tabs may come before the extensions.
            (b"5\x0c;ext", Err(BAD)),
            (b"5\r;ext", Err(BAD)),
            (b"5\n;ext", Err(BAD)),
            // Control bytes in an extension.
            (b"5;a\x00b", Err(BAD)),
            (b"5;a=\x01", Err(BAD)),
            (b"5;a\x7f", Err(BAD)),
            (b"5;a=\"\x1b\"", Err(BAD)),
            (b"5;a=\"x\ty\"", Ok(5)),
        ];
        for &(line, expected) in cases {
            assert_eq!(
                parse_chunk_size(line),
                expected,
                "{:?}",
                line.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn framing_table() {
        use LastCoding::{Chunked, Other};
        use Version::{Http10, Http11};
        // (version, Content-Length, last transfer coding, framing)
        type Row = (
            Version,
            Option<u64>,
            Option<LastCoding>,
            Result<Framing, HttpError>,
        );
        let cases: &[Row] = &[
            // 3. both: an error, whatever the values
            (
                Http11,
                Some(3),
                Some(Chunked),
                Err(HttpError::LengthAndEncoding),
            ),
            (
                Http11,
                Some(0),
                Some(Other),
                Err(HttpError::LengthAndEncoding),
            ),
            (
                Http10,
                Some(3),
                Some(Chunked),
                Err(HttpError::LengthAndEncoding),
            ),
            // 4. Transfer-Encoding alone
            (Http11, None, Some(Chunked), Ok(Framing::Chunked)),
            (Http11, None, Some(Other), Err(HttpError::UnsupportedCoding)),
            (
                Http10,
                None,
                Some(Chunked),
                Err(HttpError::EncodingInHttp10),
            ),
            (Http10, None, Some(Other), Err(HttpError::EncodingInHttp10)),
            // 6. Content-Length alone
            (Http11, Some(12), None, Ok(Framing::Length(12))),
            (Http10, Some(12), None, Ok(Framing::Length(12))),
            (Http11, Some(u64::MAX), None, Ok(Framing::Length(u64::MAX))),
            (Http11, Some(0), None, Ok(Framing::None)),
            // 7. neither
            (Http11, None, None, Ok(Framing::None)),
            (Http10, None, None, Ok(Framing::None)),
        ];
        for &(version, length, coding, expected) in cases {
            assert_eq!(
                framing(version, length, coding),
                expected,
                "{version:?} {length:?} {coding:?}"
            );
        }
    }

    #[test]
    fn host_values_table() {
        for (value, ok) in [
            ("a", true),
            ("example.com", true),
            ("example.com:8080", true),
            ("127.0.0.1", true),
            ("127.0.0.1:80", true),
            ("[::1]", true),
            ("[::1]:8000", true),
            ("[2001:db8::7]:1", true),
            ("[v1.fe:x]", true),
            ("xn--caf-dma.example", true),
            ("a%41b", true),
            ("host:", true),
            ("", true),
            ("a b", false),
            (" a", false),
            ("user@host", false),
            ("host/path", false),
            ("host?q", false),
            ("host#f", false),
            ("host:80:81", false),
            ("host:8x", false),
            ("[::1", false),
            ("[::1]x", false),
            ("[::1]:x", false),
            ("[nonsense]", false),
            ("::1", false),
            ("a%4", false),
            ("a%zz", false),
            ("caf\u{e9}", false),
            ("a\\b", false),
            ("a\"b", false),
            ("<a>", false),
        ] {
            assert_eq!(valid_host(value.as_bytes()), ok, "{value:?}");
        }
        // Bytes that are not UTF-8, in the plain part and after an escape.
        for value in [&b"caf\xe9"[..], b"a%41\xe9", b"[::1]:\xff", b"\xff:80"] {
            assert!(!valid_host(value), "{value:?}");
        }
    }

    #[test]
    fn every_used_field_is_told_and_no_other() {
        for name in USED_FIELDS {
            assert!(field_of(name).is_some(), "{name}");
            assert_eq!(field_of(&name.to_uppercase()), field_of(name), "{name}");
        }
        for other in [
            "hostx",
            "hos",
            "user-agent",
            "accept-language",
            "x-range",
            "",
        ] {
            assert_eq!(field_of(other), None, "{other}");
        }
    }
}
