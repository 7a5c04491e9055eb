//! Response heads and how their bodies are delimited, as pure functions:
//! [`parse_head`] reads a status line and fields, [`framing`] is RFC 9112
//! §6.3 from the client's side, and [`ResponseError`] names every way a
//! response can be unusable. The tables that pin them are in
//! `tests/crawl.rs`.

use std::fmt;

/// The largest response head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// The most fields in a response head.
const MAX_FIELDS: usize = 100;

/// A parsed response head: what the crawler reads from it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// HTTP/1.0 (rather than 1.1).
    pub http10: bool,
    /// Content-Length, if sent (several identical values are one).
    pub content_length: Option<u64>,
    /// Transfer-Encoding was sent; `Some(true)` when `chunked` is its
    /// last coding.
    pub chunked_last: Option<bool>,
    /// The connection ends after this response (`Connection: close`, or
    /// HTTP/1.0 without `keep-alive`).
    pub closes: bool,
    /// Location, if sent.
    pub location: Option<String>,
    /// Content-Type, if sent.
    pub content_type: Option<String>,
}

impl Head {
    /// An interim response (1xx other than 101): another head follows for
    /// the same request.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    /// True when the body is HTML, whose links are followed.
    pub fn is_html(&self) -> bool {
        self.content_type.as_deref().is_some_and(|t| {
            let t = t.trim_start().to_ascii_lowercase();
            t.starts_with("text/html") || t.starts_with("application/xhtml+xml")
        })
    }
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body at all, whatever the fields say.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::None => f.write_str("no body"),
            Body::Length(n) => write!(f, "body of Content-Length {n}"),
            Body::Chunked => f.write_str("chunked body"),
            Body::UntilClose => f.write_str("no length: body until the server closes"),
        }
    }
}

/// Why a response cannot be used. Every one closes the connection, as its
/// framing can no longer be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// The status line or a field is not HTTP/1.x.
    Malformed,
    /// The head is over [`MAX_HEAD`] or has too many fields.
    HeadTooLarge,
    /// Content-Length is not a number, or two of them differ.
    BadLength,
    /// Both Transfer-Encoding and Content-Length (RFC 9112 §6.3, item 3).
    LengthAndEncoding,
    /// A chunk-size line that is not hex, or a chunk not followed by CRLF.
    BadChunk,
    /// The body is over the size limit.
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The server sent a response no request was waiting for.
    Unsolicited,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Malformed => f.write_str("malformed response head"),
            ResponseError::HeadTooLarge => f.write_str("response head too large"),
            ResponseError::BadLength => f.write_str("bad Content-Length"),
            ResponseError::LengthAndEncoding => {
                f.write_str("both Content-Length and Transfer-Encoding")
            }
            ResponseError::BadChunk => f.write_str("bad chunked framing"),
            ResponseError::TooLarge { limit } => write!(f, "body over the {limit}-byte limit"),
            ResponseError::Unsolicited => f.write_str("a response to no request"),
        }
    }
}

/// Parses a response head: from the status line to the blank line that
/// ends it (lines end in `\n`, with or without `\r`).
///
/// # Errors
///
/// [`ResponseError::Malformed`], [`ResponseError::HeadTooLarge`] or
/// [`ResponseError::BadLength`].
pub fn parse_head(bytes: &[u8]) -> Result<Head, ResponseError> {
    if bytes.len() > MAX_HEAD {
        return Err(ResponseError::HeadTooLarge);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut r = httparse::Response::new(&mut fields);
    match r.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::HeadTooLarge),
        Ok(httparse::Status::Partial) | Err(_) => return Err(ResponseError::Malformed),
    }
    let http10 = r.version == Some(0);
    let mut head = Head {
        status: r.code.ok_or(ResponseError::Malformed)?,
        reason: r.reason.unwrap_or("").to_string(),
        http10,
        ..Head::default()
    };
    let (mut close, mut keep_alive) = (false, false);
    for field in r.headers.iter() {
        let value = String::from_utf8_lossy(field.value);
        let value = value.trim_matches([' ', '\t']);
        let name = field.name;
        if name.eq_ignore_ascii_case("content-length") {
            for part in value.split(',').map(|p| p.trim_matches([' ', '\t'])) {
                let ok = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
                let n: u64 = part
                    .parse()
                    .ok()
                    .filter(|_| ok)
                    .ok_or(ResponseError::BadLength)?;
                if head.content_length.is_some_and(|m| m != n) {
                    return Err(ResponseError::BadLength);
                }
                head.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value
                .split(',')
                .map(|c| c.split(';').next().unwrap_or("").trim_matches([' ', '\t']))
                .rfind(|c| !c.is_empty());
            if let Some(last) = last {
                head.chunked_last = Some(last.eq_ignore_ascii_case("chunked"));
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(|t| t.trim_matches([' ', '\t'])) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("location") {
            head.location = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("content-type") {
            head.content_type = Some(value.to_string());
        }
    }
    head.closes = close || (http10 && !keep_alive);
    Ok(head)
}

/// How the body of `head` is delimited, in a response to a request whose
/// method was HEAD or not: RFC 9112 §6.3, in its order.
///
/// 1. A response to HEAD, and every 1xx, 204 and 304, has no body, whatever
///    its fields say.
/// 2. (A 2xx to CONNECT: never sent here.)
/// 3. Transfer-Encoding and Content-Length together "ought to be handled as
///    an error": it is one.
/// 4. Transfer-Encoding with `chunked` last: chunked. With another coding
///    last: read until the server closes.
/// 5. and 6. A valid Content-Length: that many bytes (an invalid one was
///    refused by [`parse_head`]).
/// 7. (Requests only.)
/// 8. Otherwise: everything until the server closes the connection. This
///    is the one body an HTTP server never reads, and the one terminator
///    the crawler's channel uses that the server's never does: `None`.
///
/// # Errors
///
/// [`ResponseError::LengthAndEncoding`].
pub fn framing(head_request: bool, head: &Head) -> Result<Body, ResponseError> {
    let s = head.status;
    if head_request || (100..200).contains(&s) || s == 204 || s == 304 {
        return Ok(Body::None);
    }
    match (head.chunked_last, head.content_length) {
        (Some(_), Some(_)) => Err(ResponseError::LengthAndEncoding),
        (Some(true), None) => Ok(Body::Chunked),
        (Some(false), None) => Ok(Body::UntilClose),
        (None, Some(0)) => Ok(Body::None),
        (None, Some(n)) => Ok(Body::Length(n)),
        (None, None) => Ok(Body::UntilClose),
    }
}
