//! The opening handshake (RFC 6455 §4.2), as pure functions over the bytes
//! of the request head: [`parse`] checks an upgrade request, [`accept_key`]
//! computes `Sec-WebSocket-Accept`, and [`HandshakeError::response`] is the
//! one place that maps a refusal to its HTTP response. The channel collects
//! the head line by line, as the HTTP server does, and hands it over here
//! whole. The tables that pin these functions are in `tests/websocket.rs`.

use std::fmt;

use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID that RFC 6455 §1.3 appends to the client's key.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The largest upgrade request head accepted; larger is 431.
pub const MAX_HEAD: usize = 8 * 1024;

/// The most header fields in an upgrade request.
const MAX_FIELDS: usize = 64;

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: the base64 of the
/// SHA-1 of the key (as sent, trimmed) followed by [`GUID`].
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// An upgrade request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The request target, as sent.
    pub target: String,
    /// `Sec-WebSocket-Key`, trimmed.
    pub key: String,
}

impl Upgrade {
    /// The `101 Switching Protocols` response that completes the handshake.
    /// No subprotocol or extension is agreed to: the chat speaks plain
    /// RFC 6455, so a client's `permessage-deflate` offer goes unanswered
    /// and no frame may set a reserved bit.
    pub fn response(&self) -> Vec<u8> {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&self.key)
        )
        .into_bytes()
    }
}

/// Why an upgrade request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// The head is not an HTTP/1.x request.
    Malformed,
    /// The head is over [`MAX_HEAD`].
    TooLarge,
    /// HTTP/1.0: the handshake needs HTTP/1.1 (§4.2.1, item 1).
    Http10,
    /// A method other than GET.
    NotGet,
    /// No Host field, or more than one.
    Host,
    /// No `Upgrade: websocket`: a plain HTTP request.
    NotUpgrade,
    /// No `upgrade` token in the Connection field.
    NoConnectionUpgrade,
    /// `Sec-WebSocket-Version` missing, repeated or not 13.
    Version,
    /// `Sec-WebSocket-Key` missing, repeated, or not the base64 of 16 bytes.
    Key,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandshakeError::Malformed => "not an HTTP/1.1 request head",
            HandshakeError::TooLarge => "request head too large",
            HandshakeError::Http10 => "the handshake needs HTTP/1.1",
            HandshakeError::NotGet => "the handshake is a GET request",
            HandshakeError::Host => "exactly one Host field is required",
            HandshakeError::NotUpgrade => "this is a WebSocket server: send Upgrade: websocket",
            HandshakeError::NoConnectionUpgrade => "Connection must include upgrade",
            HandshakeError::Version => "Sec-WebSocket-Version must be 13",
            HandshakeError::Key => "Sec-WebSocket-Key must be the base64 of 16 bytes",
        })
    }
}

impl HandshakeError {
    /// The status code: the one mapping from refusal to status.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            HandshakeError::TooLarge => (431, "Request Header Fields Too Large"),
            HandshakeError::NotGet => (405, "Method Not Allowed"),
            // RFC 9110 §15.5.22: the server must say what to upgrade to.
            HandshakeError::NotUpgrade => (426, "Upgrade Required"),
            HandshakeError::Malformed
            | HandshakeError::Http10
            | HandshakeError::Host
            | HandshakeError::NoConnectionUpgrade
            | HandshakeError::Version
            | HandshakeError::Key => (400, "Bad Request"),
        }
    }

    /// The whole HTTP response, after which the connection closes. A bad
    /// or missing version carries `Sec-WebSocket-Version: 13`, the version
    /// this server speaks (RFC 6455 §4.4, whose example answers 400).
    pub fn response(self) -> Vec<u8> {
        let (code, reason) = self.status();
        let body = format!("{self}\n");
        let extra = match self {
            HandshakeError::Version => "Sec-WebSocket-Version: 13\r\n",
            HandshakeError::NotUpgrade => "Upgrade: websocket\r\n",
            HandshakeError::NotGet => "Allow: GET\r\n",
            _ => "",
        };
        format!(
            "HTTP/1.1 {code} {reason}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\n\
             Connection: close\r\n\
             {extra}\r\n\
             {body}",
            body.len()
        )
        .into_bytes()
    }
}

/// True when the comma-separated list `value` holds `token`, compared
/// without regard to case.
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
}

/// Checks an upgrade request head: the bytes as received, from the request
/// line up to and including the blank line that ends it (lines end in
/// `\n`, with or without a `\r` before it).
///
/// # Errors
///
/// The [`HandshakeError`] to refuse it with.
pub fn parse(head: &[u8]) -> Result<Upgrade, HandshakeError> {
    if head.len() > MAX_HEAD {
        return Err(HandshakeError::TooLarge);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut fields);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::TooLarge),
        Ok(httparse::Status::Partial) | Err(_) => return Err(HandshakeError::Malformed),
    }
    if req.version != Some(1) {
        return Err(HandshakeError::Http10);
    }
    if req.method != Some("GET") {
        return Err(HandshakeError::NotGet);
    }
    let (mut hosts, mut upgrade, mut connection) = (0, false, false);
    let (mut versions, mut keys) = (Vec::new(), Vec::new());
    for field in req.headers.iter() {
        let value = std::str::from_utf8(field.value)
            .map_err(|_| HandshakeError::Malformed)?
            .trim_matches([' ', '\t']);
        let name = field.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(value, "websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection |= has_token(value, "upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            versions.push(value);
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            keys.push(value);
        }
    }
    if !upgrade {
        return Err(HandshakeError::NotUpgrade);
    }
    if hosts != 1 {
        return Err(HandshakeError::Host);
    }
    if !connection {
        return Err(HandshakeError::NoConnectionUpgrade);
    }
    if versions != ["13"] {
        return Err(HandshakeError::Version);
    }
    let [key] = keys.as_slice() else {
        return Err(HandshakeError::Key);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|_| HandshakeError::Key)?;
    if decoded.len() != 16 {
        return Err(HandshakeError::Key);
    }
    Ok(Upgrade {
        target: req.path.unwrap_or("/").to_string(),
        key: key.to_string(),
    })
}
