//! WebSocket frames (RFC 6455 §5), as pure functions: reading the parts of
//! a client's frame one count at a time, unmasking, checking close
//! payloads and UTF-8, and writing the server's frames. [`Violation`] is
//! every way a client can break the protocol, with its close code in one
//! `match`. The tables that pin these functions are in `tests/websocket.rs`.
//!
//! A frame on the wire is a chain of byte counts, which is why the channel
//! walks it with `Count` terminators:
//!
//! ```text
//!  2 bytes      FIN, RSV1-3, opcode | MASK, 7-bit length
//!  0, 2 or 8    extended length (7-bit length 126: 16 bits; 127: 64 bits)
//!  4 bytes      masking key (every client frame is masked)
//!  n bytes      payload, XORed with the key
//! ```

use std::fmt;

/// A frame's opcode (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// 0x0: more of a fragmented message.
    Continuation,
    /// 0x1: a text message (UTF-8).
    Text,
    /// 0x2: a binary message.
    Binary,
    /// 0x8: the closing handshake.
    Close,
    /// 0x9: ping; answered with a pong carrying the same payload.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl Opcode {
    /// The opcode's four bits, or `None` for a reserved opcode.
    pub fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    /// The opcode's four bits.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Close, ping and pong: at most 125 bytes, never fragmented, allowed
    /// between the fragments of a message.
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Opcode::Continuation => "continuation",
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
        })
    }
}

/// The largest payload of a control frame.
pub const MAX_CONTROL: u64 = 125;

/// What the 7-bit length field says comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// The payload length itself (0 to 125).
    Is(u64),
    /// A 16-bit length follows (the field was 126).
    Next2,
    /// A 64-bit length follows (the field was 127).
    Next8,
}

impl Length {
    /// How many bytes of extended length follow.
    pub fn extra_bytes(self) -> u64 {
        match self {
            Length::Is(_) => 0,
            Length::Next2 => 2,
            Length::Next8 => 8,
        }
    }
}

/// A frame's first two bytes, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The final fragment of a message (or an unfragmented one).
    pub fin: bool,
    /// The opcode.
    pub opcode: Opcode,
    /// What the 7-bit length field says.
    pub length: Length,
}

impl fmt::Display for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fin = if self.fin { "FIN " } else { "" };
        write!(f, "{fin}{}, masked, ", self.opcode)?;
        match self.length {
            Length::Is(n) => write!(f, "length {n}"),
            Length::Next2 => f.write_str("16-bit length follows"),
            Length::Next8 => f.write_str("64-bit length follows"),
        }
    }
}

/// Every way a client can break the protocol (or this server's rules),
/// each with the close code it earns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// RSV1, RSV2 or RSV3 set, with no extension agreed.
    ReservedBits,
    /// A reserved opcode.
    ReservedOpcode(u8),
    /// A client frame without a mask (§5.1).
    Unmasked,
    /// A control frame without FIN.
    FragmentedControl,
    /// A control frame longer than 125 bytes.
    ControlTooLong,
    /// A 64-bit length with its most significant bit set.
    LengthTooLarge,
    /// A continuation frame with no message to continue.
    NothingToContinue,
    /// A new text or binary frame in the middle of a fragmented message.
    ExpectedContinuation,
    /// A close frame with a 1-byte payload.
    CloseTooShort,
    /// A close code that may not be sent (§7.4).
    BadCloseCode(u16),
    /// Text (or a close reason) that is not UTF-8.
    InvalidUtf8,
    /// A message over the limit.
    TooBig {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A binary message: this chat takes text only.
    Binary,
    /// A name that is empty, too long or holds control characters.
    BadName,
}

impl Violation {
    /// The close code sent for it (§7.4.1): the one mapping.
    pub fn code(self) -> u16 {
        match self {
            Violation::ReservedBits
            | Violation::ReservedOpcode(_)
            | Violation::Unmasked
            | Violation::FragmentedControl
            | Violation::ControlTooLong
            | Violation::LengthTooLarge
            | Violation::NothingToContinue
            | Violation::ExpectedContinuation
            | Violation::CloseTooShort
            | Violation::BadCloseCode(_) => close::PROTOCOL_ERROR,
            Violation::Binary => close::UNSUPPORTED_DATA,
            Violation::InvalidUtf8 => close::INVALID_DATA,
            Violation::BadName => close::POLICY,
            Violation::TooBig { .. } => close::TOO_BIG,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::ReservedBits => f.write_str("reserved bits set"),
            Violation::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Violation::Unmasked => f.write_str("client frame not masked"),
            Violation::FragmentedControl => f.write_str("fragmented control frame"),
            Violation::ControlTooLong => f.write_str("control frame over 125 bytes"),
            Violation::LengthTooLarge => f.write_str("64-bit length with the top bit set"),
            Violation::NothingToContinue => f.write_str("continuation with no message"),
            Violation::ExpectedContinuation => f.write_str("new message inside a fragmented one"),
            Violation::CloseTooShort => f.write_str("close payload of 1 byte"),
            Violation::BadCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Violation::InvalidUtf8 => f.write_str("text is not UTF-8"),
            Violation::TooBig { limit } => write!(f, "message over {limit} bytes"),
            Violation::Binary => f.write_str("this chat takes text messages only"),
            Violation::BadName => f.write_str("a name is 1 to 32 printable characters"),
        }
    }
}

/// Close codes (§7.4.1).
pub mod close {
    /// 1000: the purpose of the connection is fulfilled.
    pub const NORMAL: u16 = 1000;
    /// 1001: the server is going away (shutting down).
    pub const GOING_AWAY: u16 = 1001;
    /// 1002: a protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1003: a kind of data the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// 1007: data not consistent with the message type (not UTF-8).
    pub const INVALID_DATA: u16 = 1007;
    /// 1008: a message that violates the endpoint's policy.
    pub const POLICY: u16 = 1008;
    /// 1009: a message too big to process.
    pub const TOO_BIG: u16 = 1009;
}

/// Reads a frame's first two bytes.
///
/// # Errors
///
/// Reserved bits or opcode, an unmasked frame, a fragmented control frame,
/// or a control frame whose length field is over 125.
pub fn parse_start(bytes: [u8; 2]) -> Result<Start, Violation> {
    let [b0, b1] = bytes;
    if b0 & 0x70 != 0 {
        return Err(Violation::ReservedBits);
    }
    let opcode = Opcode::from_bits(b0 & 0x0f).ok_or(Violation::ReservedOpcode(b0 & 0x0f))?;
    if b1 & 0x80 == 0 {
        return Err(Violation::Unmasked);
    }
    let fin = b0 & 0x80 != 0;
    let length = match b1 & 0x7f {
        126 => Length::Next2,
        127 => Length::Next8,
        n => Length::Is(u64::from(n)),
    };
    if opcode.is_control() {
        if !fin {
            return Err(Violation::FragmentedControl);
        }
        if !matches!(length, Length::Is(_)) {
            return Err(Violation::ControlTooLong);
        }
    }
    Ok(Start {
        fin,
        opcode,
        length,
    })
}

/// Reads an extended length: 2 or 8 bytes, big-endian. Lengths that could
/// have been written shorter are accepted (the rule to use the shortest
/// form binds the sender).
///
/// # Errors
///
/// [`Violation::LengthTooLarge`] for a 64-bit length with its top bit set.
pub fn parse_length(bytes: &[u8]) -> Result<u64, Violation> {
    let mut n: u64 = 0;
    for &b in bytes {
        n = (n << 8) | u64::from(b);
    }
    if bytes.len() == 8 && n >> 63 != 0 {
        return Err(Violation::LengthTooLarge);
    }
    Ok(n)
}

/// Unmasks `data` in place: the bytes of a payload from byte `offset` on,
/// so that a payload that arrives in pieces is unmasked piece by piece.
pub fn unmask(data: &mut [u8], mask: [u8; 4], offset: u64) {
    let shift = (offset % 4) as usize;
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[(i + shift) % 4];
    }
}

/// True for the close codes a peer may send (§7.4): 1000 to 1003, 1007
/// to 1014 (1012 to 1014 were registered after the RFC), and 3000 to 4999
/// for libraries and applications.
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Reads a close frame's payload: nothing, or a code and a UTF-8 reason.
///
/// # Errors
///
/// A 1-byte payload, a code that may not be sent, or a reason that is
/// not UTF-8.
pub fn parse_close(payload: &[u8]) -> Result<Option<(u16, &str)>, Violation> {
    match payload {
        [] => Ok(None),
        [_] => Err(Violation::CloseTooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !valid_close_code(code) {
                return Err(Violation::BadCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| Violation::InvalidUtf8)?;
            Ok(Some((code, reason)))
        }
    }
}

/// Checks text as it arrives: `checked` bytes of `text` are known to be
/// valid UTF-8; returns how many are now. A character cut off at the end
/// is left for the next piece to complete.
///
/// # Errors
///
/// [`Violation::InvalidUtf8`] as soon as a byte cannot be part of UTF-8,
/// without waiting for the end of the message.
pub fn check_utf8(text: &[u8], checked: usize) -> Result<usize, Violation> {
    match std::str::from_utf8(&text[checked..]) {
        Ok(_) => Ok(text.len()),
        Err(e) if e.error_len().is_none() => Ok(checked + e.valid_up_to()),
        Err(_) => Err(Violation::InvalidUtf8),
    }
}

/// A server frame: FIN set, not masked (§5.1: a server never masks), with
/// the shortest length field.
pub fn encode(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | opcode.bits());
    let len = payload.len() as u64;
    match len {
        0..=125 => out.push(len as u8),
        126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// A close frame with `code` and `reason` (cut to fit 125 bytes, on a
/// character boundary).
pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_CONTROL as usize - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    encode(Opcode::Close, &payload)
}
