//! A WebSocket client written by hand for the tests, with nothing shared
//! with the example it tests: the handshake as bytes, frames built and
//! read byte by byte. It speaks to the chat example, and to Chromium's
//! DevTools endpoint in the browser test.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use base64::Engine;
use sha1::{Digest, Sha1};

use super::PATIENCE;

/// The key every test handshake sends (RFC 6455 §1.3's example).
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The mask every test frame uses.
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// `Sec-WebSocket-Accept` for `key`, computed here (RFC 6455 §4.2.2).
pub fn accept_of(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// An upgrade request for `path` on `host`.
pub fn upgrade_request(host: &str, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// A client frame: the first byte as given (FIN, RSV, opcode), masked
/// with [`MASK`], with the shortest length field.
pub fn masked_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let len = payload.len();
    if len <= 125 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// A frame as received: its first byte, its payload, and how many bytes
/// its length field took (1, 3 or 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub first: u8,
    pub payload: Vec<u8>,
    pub length_bytes: usize,
}

impl Received {
    pub fn opcode(&self) -> u8 {
        self.first & 0x0f
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.payload.clone()).expect("a UTF-8 text frame")
    }

    /// The close code of a close frame.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode() == 0x8 && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// A connected WebSocket client.
pub struct WsClient {
    pub stream: TcpStream,
}

impl WsClient {
    /// Connects to `addr`, upgrades `path`, and checks the 101 response and
    /// its accept key.
    pub fn connect(addr: SocketAddr, path: &str) -> WsClient {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .write_all(upgrade_request(&addr.to_string(), path).as_bytes())
            .unwrap();
        let head = read_head(&mut stream).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 101 "),
            "not switched to WebSocket:\n{head}"
        );
        let accept = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-accept")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no Sec-WebSocket-Accept in\n{head}"));
        assert_eq!(accept, accept_of(KEY), "{head}");
        WsClient { stream }
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a whole text message in one masked frame.
    pub fn send_text(&mut self, text: &str) {
        self.send_raw(&masked_frame(0x81, text.as_bytes()));
    }

    /// Reads one frame, as it is on the wire (a fragment is one frame).
    pub fn recv(&mut self) -> io::Result<Received> {
        let mut start = [0; 2];
        self.stream.read_exact(&mut start)?;
        let (len, length_bytes) = match start[1] & 0x7f {
            126 => {
                let mut b = [0; 2];
                self.stream.read_exact(&mut b)?;
                (u64::from(u16::from_be_bytes(b)), 3)
            }
            127 => {
                let mut b = [0; 8];
                self.stream.read_exact(&mut b)?;
                (u64::from_be_bytes(b), 9)
            }
            n => (u64::from(n), 1),
        };
        let mask = if start[1] & 0x80 != 0 {
            let mut m = [0; 4];
            self.stream.read_exact(&mut m)?;
            Some(m)
        } else {
            None
        };
        let mut payload = vec![0; len as usize];
        self.stream.read_exact(&mut payload)?;
        if let Some(m) = mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= m[i % 4];
            }
        }
        Ok(Received {
            first: start[0],
            payload,
            length_bytes,
        })
    }

    /// Reads the next text message, reassembling fragments and answering
    /// pings on the way.
    pub fn recv_text(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let f = self.recv().expect("a frame");
            match f.opcode() {
                0x9 => self.send_raw(&masked_frame(0x8a, &f.payload)),
                0x1 | 0x0 => {
                    message.extend_from_slice(&f.payload);
                    if f.first & 0x80 != 0 {
                        return String::from_utf8(message).expect("UTF-8 text");
                    }
                }
                0x8 => panic!("closed with {:?}", f.close_code()),
                op => panic!("unexpected opcode {op:#x}"),
            }
        }
    }

    /// Reads frames until a close frame, and returns its code (skipping
    /// the messages before it).
    pub fn close_code(&mut self) -> Option<u16> {
        loop {
            let f = self.recv().expect("a close frame");
            if f.opcode() == 0x8 {
                return f.close_code();
            }
        }
    }

    /// True when the server has closed the TCP connection (end of stream
    /// or reset) within the patience.
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0; 64];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => {
                    return matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                    );
                }
            }
        }
    }
}

/// Reads an HTTP head up to its blank line.
pub fn read_head(stream: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}
