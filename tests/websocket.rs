//! The WebSocket chat example (`examples/websocket_chat`): its pure parts
//! by tables, its frame walk in memory, and the program over real sockets,
//! driven by the hand-written client in `common/ws.rs` and by the
//! `websockets` package from PyPI (`tests/websocket_client.py`).
//!
//! The Python run needs a Python with `websockets`: `$ASYNCHAT_PYTHON`
//! (set by `.ci/run` to the virtual environment it installs it into),
//! else `target/ci-venv/bin/python`, else `python3` if it has the package.
//! Without one the test prints `SKIPPED: ...` to stderr and passes.
//! `cargo test` builds the example before it runs this file.

mod common;

#[allow(dead_code)]
#[path = "../examples/websocket_chat/frame.rs"]
mod frame;
#[allow(dead_code)]
#[path = "../examples/websocket_chat/handshake.rs"]
mod handshake;
#[allow(dead_code)]
#[path = "../examples/websocket_chat/member.rs"]
mod member;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use asynchat::Channel;
use asynchat::trace::Trace;
use common::ws::{self, WsClient, masked_frame};
use common::{PATIENCE, TempDir};
use frame::{Length, Opcode, Start, Violation};
use handshake::HandshakeError;

// ------------------------------------------------------------ handshake

#[test]
fn the_accept_key_is_computed_as_rfc_6455_says() {
    let cases = [
        // RFC 6455 §1.3.
        ("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        // RFC 6455 §4.1's other example key, checked with Python's hashlib.
        ("x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="),
    ];
    for (key, accept) in cases {
        assert_eq!(handshake::accept_key(key), accept, "{key}");
        assert_eq!(ws::accept_of(key), accept, "the tests' own: {key}");
    }
}

const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
                    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                    Sec-WebSocket-Version: 13\r\n\r\n";

#[test]
fn upgrade_requests_are_checked_field_by_field() {
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let cases: &[(String, Result<(), HandshakeError>)] = &[
        (GOOD.to_string(), Ok(())),
        (GOOD.replace("\r\n", "\n"), Ok(())),
        (
            GOOD.replace("Upgrade: websocket", "upgrade: WebSocket"),
            Ok(()),
        ),
        (
            GOOD.replace("Connection: Upgrade", "Connection: keep-alive, Upgrade"),
            Ok(()),
        ),
        (GOOD.replace("GET", "POST"), Err(HandshakeError::NotGet)),
        (
            GOOD.replace("HTTP/1.1", "HTTP/1.0"),
            Err(HandshakeError::Http10),
        ),
        (GOOD.replace("Host: x\r\n", ""), Err(HandshakeError::Host)),
        (
            GOOD.replace("Host: x\r\n", "Host: x\r\nHost: y\r\n"),
            Err(HandshakeError::Host),
        ),
        (
            GOOD.replace("Upgrade: websocket\r\n", ""),
            Err(HandshakeError::NotUpgrade),
        ),
        (
            GOOD.replace("Upgrade: websocket", "Upgrade: h2c"),
            Err(HandshakeError::NotUpgrade),
        ),
        (
            GOOD.replace("Connection: Upgrade", "Connection: close"),
            Err(HandshakeError::NoConnectionUpgrade),
        ),
        (GOOD.replace(": 13", ": 8"), Err(HandshakeError::Version)),
        (
            GOOD.replace("Sec-WebSocket-Version: 13\r\n", ""),
            Err(HandshakeError::Version),
        ),
        (
            GOOD.replace(": 13\r\n", ": 13\r\nSec-WebSocket-Version: 13\r\n"),
            Err(HandshakeError::Version),
        ),
        (GOOD.replace(key, ""), Err(HandshakeError::Key)),
        (
            GOOD.replace(key, &format!("{key}{key}")),
            Err(HandshakeError::Key),
        ),
        // 15 bytes, and not base64 at all.
        (
            GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ"),
            Err(HandshakeError::Key),
        ),
        (
            GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAA"),
            Err(HandshakeError::Key),
        ),
        (
            GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "not base64 at all!"),
            Err(HandshakeError::Key),
        ),
        (
            "GET / HTTP/1.1\r\nHost x\r\n\r\n".to_string(),
            Err(HandshakeError::Malformed),
        ),
        (
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
                "a".repeat(9000)
            ),
            Err(HandshakeError::TooLarge),
        ),
    ];
    for (head, want) in cases {
        let got = handshake::parse(head.as_bytes()).map(|_| ());
        assert_eq!(got, *want, "{head:?}");
    }
    let up = handshake::parse(GOOD.as_bytes()).unwrap();
    assert_eq!(up.target, "/chat");
    let response = String::from_utf8(up.response()).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{response}"
    );
    assert!(response.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(response.ends_with("\r\n\r\n"), "{response}");
}

#[test]
fn each_refusal_has_its_status_and_the_fields_the_rfc_asks_for() {
    let cases: &[(HandshakeError, &str, &str)] = &[
        (
            HandshakeError::Version,
            "HTTP/1.1 400 Bad Request",
            "Sec-WebSocket-Version: 13",
        ),
        (
            HandshakeError::NotUpgrade,
            "HTTP/1.1 426 Upgrade Required",
            "Upgrade: websocket",
        ),
        (
            HandshakeError::NotGet,
            "HTTP/1.1 405 Method Not Allowed",
            "Allow: GET",
        ),
        (
            HandshakeError::TooLarge,
            "HTTP/1.1 431 Request Header Fields Too Large",
            "Connection: close",
        ),
        (
            HandshakeError::Key,
            "HTTP/1.1 400 Bad Request",
            "Connection: close",
        ),
    ];
    for (e, status, field) in cases {
        let r = String::from_utf8(e.response()).unwrap();
        assert!(r.starts_with(&format!("{status}\r\n")), "{r}");
        assert!(r.contains(&format!("\r\n{field}\r\n")), "{e:?}: {r}");
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{r}"
        );
        if *e != HandshakeError::Version {
            assert!(!r.contains("Sec-WebSocket-Version"), "{r}");
        }
    }
}

// ------------------------------------------------------------ frames

#[test]
fn a_frames_first_two_bytes_are_read_and_checked() {
    let start = |fin, opcode, length| {
        Ok(Start {
            fin,
            opcode,
            length,
        })
    };
    let cases: &[([u8; 2], Result<Start, Violation>)] = &[
        ([0x81, 0x85], start(true, Opcode::Text, Length::Is(5))),
        ([0x81, 0x80], start(true, Opcode::Text, Length::Is(0))),
        ([0x81, 0xfd], start(true, Opcode::Text, Length::Is(125))),
        ([0x01, 0xfe], start(false, Opcode::Text, Length::Next2)),
        (
            [0x80, 0xff],
            start(true, Opcode::Continuation, Length::Next8),
        ),
        ([0x82, 0x81], start(true, Opcode::Binary, Length::Is(1))),
        ([0x89, 0xfd], start(true, Opcode::Ping, Length::Is(125))),
        ([0x8a, 0x80], start(true, Opcode::Pong, Length::Is(0))),
        ([0x88, 0x82], start(true, Opcode::Close, Length::Is(2))),
        ([0xc1, 0x85], Err(Violation::ReservedBits)),
        ([0xa1, 0x85], Err(Violation::ReservedBits)),
        ([0x91, 0x85], Err(Violation::ReservedBits)),
        ([0x83, 0x85], Err(Violation::ReservedOpcode(3))),
        ([0x8b, 0x80], Err(Violation::ReservedOpcode(0xb))),
        ([0x81, 0x05], Err(Violation::Unmasked)),
        ([0x09, 0x80], Err(Violation::FragmentedControl)),
        ([0x89, 0xfe], Err(Violation::ControlTooLong)),
        ([0x88, 0xff], Err(Violation::ControlTooLong)),
    ];
    for (bytes, want) in cases {
        assert_eq!(frame::parse_start(*bytes), *want, "{bytes:02x?}");
    }
}

#[test]
fn extended_lengths_are_big_endian_and_63_bits_at_most() {
    let cases: &[(&[u8], Result<u64, Violation>)] = &[
        (&[0x00, 0x7e], Ok(126)),
        (&[0xff, 0xff], Ok(65535)),
        (&[0x00, 0x05], Ok(5)), // not the shortest form: accepted
        (&[0, 0, 0, 0, 0, 1, 0, 0], Ok(65536)),
        (
            &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            Ok(i64::MAX as u64),
        ),
        (&[0x80, 0, 0, 0, 0, 0, 0, 0], Err(Violation::LengthTooLarge)),
    ];
    for (bytes, want) in cases {
        assert_eq!(frame::parse_length(bytes), *want, "{bytes:02x?}");
    }
}

#[test]
fn server_frames_use_the_shortest_length_at_every_boundary() {
    // (payload length, header bytes before the payload)
    let cases: &[(usize, &[u8])] = &[
        (0, &[0x81, 0]),
        (1, &[0x81, 1]),
        (125, &[0x81, 125]),
        (126, &[0x81, 126, 0x00, 0x7e]),
        (127, &[0x81, 126, 0x00, 0x7f]),
        (65535, &[0x81, 126, 0xff, 0xff]),
        (65536, &[0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
    ];
    for (len, header) in cases {
        let payload = vec![b'a'; *len];
        let out = frame::encode(Opcode::Text, &payload);
        assert_eq!(&out[..header.len()], *header, "{len}");
        assert_eq!(out.len(), header.len() + len, "{len}");
    }
    let close = frame::close_frame(1000, &"é".repeat(100));
    // 123 bytes are left for the reason: 61 two-byte characters fit.
    assert_eq!(close[1], 2 + 122, "a close reason is cut to fit");
    assert!(
        std::str::from_utf8(&close[4..]).is_ok(),
        "on a character boundary"
    );
}

#[test]
fn unmasking_in_pieces_is_unmasking_whole() {
    // RFC 6455 §5.7: a masked "Hello".
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut hello = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
    frame::unmask(&mut hello, mask, 0);
    assert_eq!(&hello, b"Hello");
    let data: Vec<u8> = (0..23).collect();
    let mut whole = data.clone();
    frame::unmask(&mut whole, mask, 0);
    for cut in 0..=data.len() {
        for cut2 in cut..=data.len() {
            let mut pieces = data.clone();
            let (a, rest) = pieces.split_at_mut(cut);
            let (b, c) = rest.split_at_mut(cut2 - cut);
            frame::unmask(a, mask, 0);
            frame::unmask(b, mask, cut as u64);
            frame::unmask(c, mask, cut2 as u64);
            assert_eq!(pieces, whole, "cut at {cut} and {cut2}");
        }
    }
}

#[test]
fn close_payloads_and_codes_are_checked() {
    type Parsed = Result<Option<(u16, &'static str)>, Violation>;
    let cases: &[(&[u8], Parsed)] = &[
        (b"", Ok(None)),
        (b"\x03", Err(Violation::CloseTooShort)),
        (b"\x03\xe8", Ok(Some((1000, "")))),
        (b"\x03\xe8bye", Ok(Some((1000, "bye")))),
        (b"\x03\xe9", Ok(Some((1001, "")))),
        (b"\x03\xeb", Ok(Some((1003, "")))),
        (b"\x03\xec", Err(Violation::BadCloseCode(1004))),
        (b"\x03\xed", Err(Violation::BadCloseCode(1005))),
        (b"\x03\xee", Err(Violation::BadCloseCode(1006))),
        (b"\x03\xef", Ok(Some((1007, "")))),
        (b"\x03\xf6", Ok(Some((1014, "")))),
        (b"\x03\xf7", Err(Violation::BadCloseCode(1015))),
        (b"\x03\xe7", Err(Violation::BadCloseCode(999))),
        (b"\x0b\xb7", Err(Violation::BadCloseCode(2999))),
        (b"\x0b\xb8", Ok(Some((3000, "")))),
        (b"\x13\x87", Ok(Some((4999, "")))),
        (b"\x13\x88", Err(Violation::BadCloseCode(5000))),
        (b"\x03\xe8\xff", Err(Violation::InvalidUtf8)),
    ];
    for (payload, want) in cases {
        assert_eq!(frame::parse_close(payload), *want, "{payload:02x?}");
    }
}

#[test]
fn text_is_checked_as_it_arrives_and_a_split_character_waits() {
    let snowman = "☃".as_bytes(); // three bytes
    // (text so far, bytes known good before, result)
    let cases: &[(&[u8], usize, Result<usize, Violation>)] = &[
        (b"", 0, Ok(0)),
        (b"abc", 0, Ok(3)),
        (&snowman[..1], 0, Ok(0)),
        (&snowman[..2], 0, Ok(0)),
        (snowman, 0, Ok(3)),
        (b"ab\xe2\x98", 2, Ok(2)),
        (b"ab\xff", 0, Err(Violation::InvalidUtf8)),
        // Fails at once, without waiting for the rest of the message.
        (b"\xc3\x28", 0, Err(Violation::InvalidUtf8)),
        (b"\xed\xa0\x80", 0, Err(Violation::InvalidUtf8)), // a surrogate
    ];
    for (text, checked, want) in cases {
        assert_eq!(frame::check_utf8(text, *checked), *want, "{text:02x?}");
    }
}

#[test]
fn every_violation_has_its_close_code() {
    let cases = [
        (Violation::ReservedBits, 1002),
        (Violation::ReservedOpcode(3), 1002),
        (Violation::Unmasked, 1002),
        (Violation::FragmentedControl, 1002),
        (Violation::ControlTooLong, 1002),
        (Violation::LengthTooLarge, 1002),
        (Violation::NothingToContinue, 1002),
        (Violation::ExpectedContinuation, 1002),
        (Violation::CloseTooShort, 1002),
        (Violation::BadCloseCode(1005), 1002),
        (Violation::Binary, 1003),
        (Violation::InvalidUtf8, 1007),
        (Violation::BadName, 1008),
        (Violation::TooBig { limit: 1 }, 1009),
    ];
    for (v, code) in cases {
        assert_eq!(v.code(), code, "{v:?}");
        assert!(!v.to_string().is_empty());
    }
}

// ------------------------------------------------------------ in memory

/// A member on a channel with no socket: feeds it bytes in reads of the
/// given sizes and returns the trace and what it wrote.
fn walk(input: &[u8], reads: &[usize]) -> (Vec<String>, Vec<u8>) {
    let room = Rc::new(RefCell::new(member::Room::default()));
    let settings = Rc::new(member::Settings {
        max_message: 100,
        ..member::Settings::default()
    });
    let mut m = member::Member::new(room, settings);
    let mut chan = Channel::new(member::Member::initial_terminator());
    let (trace, lines) = Trace::collect("");
    chan.set_trace(Some(trace));
    let mut out = Vec::new();
    let mut at = 0;
    for &n in reads.iter().chain(std::iter::repeat(&usize::MAX)) {
        if at >= input.len() || chan.is_done() {
            break;
        }
        let end = at.saturating_add(n).min(input.len());
        chan.feed(&mut m, &input[at..end]);
        at = end;
        chan.send(&mut m, &mut out).unwrap();
    }
    let lines = lines.borrow().clone();
    (lines, out)
}

/// The frames in a server's output after its 101 response.
fn frames_after_handshake(out: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let at = memchr::memmem::find(out, b"\r\n\r\n").expect("a 101 response") + 4;
    assert!(out.starts_with(b"HTTP/1.1 101 "));
    let mut rest = &out[at..];
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let (len, header) = match rest[1] {
            126 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(rest[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        frames.push((rest[0], rest[header..header + len].to_vec()));
        rest = &rest[header + len..];
    }
    frames
}

/// A handshake, a name, a text message in two fragments with a ping
/// between them (which is answered at once), and a close.
fn conversation() -> Vec<u8> {
    let mut input = GOOD.as_bytes().to_vec();
    input.extend(masked_frame(0x81, b"alice"));
    input.extend(masked_frame(0x01, b"caf\xc3")); // é cut in two
    input.extend(masked_frame(0x89, b"ping!"));
    input.extend(masked_frame(0x80, b"\xa9"));
    input.extend(masked_frame(0x81, b""));
    input.extend(masked_frame(0x88, b"\x03\xe8bye"));
    input
}

#[test]
fn the_frame_walk_does_not_depend_on_how_reads_are_split() {
    let input = conversation();
    let (trace, whole) = walk(&input, &[usize::MAX]);
    let frames = frames_after_handshake(&whole);
    assert_eq!(
        frames,
        [
            (0x81, b"* welcome, alice: you are the first here".to_vec()),
            (0x8a, b"ping!".to_vec()),
            (0x88, b"\x03\xe8".to_vec()),
        ],
        "{trace:#?}"
    );
    assert!(
        trace.contains(&"message complete: text, 5 bytes".to_string()),
        "{trace:#?}"
    );
    assert!(
        trace.contains(&"message complete: text, 0 bytes".to_string()),
        "{trace:#?}"
    );
    // One byte at a time splits every header, length and mask; and a few
    // other cuttings.
    for reads in [&[1][..], &[2], &[3], &[7], &[5, 1, 9, 2]] {
        let mut cuts = reads.iter().copied().cycle();
        let many: Vec<usize> = (0..input.len()).map(|_| cuts.next().unwrap()).collect();
        let (_, out) = walk(&input, &many);
        assert_eq!(out, whole, "reads of {reads:?}");
    }
}

#[test]
fn an_empty_payload_never_becomes_count_zero() {
    let mut input = GOOD.as_bytes().to_vec();
    input.extend(masked_frame(0x81, b"bob"));
    input.extend(masked_frame(0x89, b""));
    input.extend(masked_frame(0x81, b""));
    let (trace, out) = walk(&input, &[usize::MAX]);
    assert!(
        !trace.iter().any(|l| l.ends_with("-> 0 bytes")),
        "{trace:#?}"
    );
    let frames = frames_after_handshake(&out);
    assert_eq!(
        frames.last(),
        Some(&(0x8a, Vec::new())),
        "the empty ping is answered"
    );
}

#[test]
fn violations_in_the_walk_close_with_their_codes() {
    let joined = |frames: &[Vec<u8>]| {
        let mut input = GOOD.as_bytes().to_vec();
        input.extend(masked_frame(0x81, b"eve"));
        for f in frames {
            input.extend_from_slice(f);
        }
        input
    };
    let mut too_long = vec![0x81, 0xff];
    too_long.extend_from_slice(&(101u64).to_be_bytes());
    let mut sixty_three = vec![0x81, 0xff];
    sixty_three.extend_from_slice(&u64::MAX.to_be_bytes());
    let cases: &[(Vec<u8>, u16)] = &[
        (joined(&[masked_frame(0x81, &[b'x'; 101])]), 1009),
        (
            joined(&[
                masked_frame(0x01, &[b'x'; 60]),
                masked_frame(0x80, &[b'x'; 41]),
            ]),
            1009,
        ),
        (joined(&[too_long]), 1009),
        (joined(&[sixty_three]), 1002),
        (
            joined(&[masked_frame(0x01, b"a"), masked_frame(0x81, b"b")]),
            1002,
        ),
        (joined(&[masked_frame(0x80, b"a")]), 1002),
        (joined(&[masked_frame(0x81, b"\xff")]), 1007),
        (joined(&[masked_frame(0x81, b"caf\xc3")]), 1007),
        (joined(&[masked_frame(0x88, b"\x03")]), 1002),
        (joined(&[masked_frame(0x88, b"\x03\xed")]), 1002),
        (joined(&[masked_frame(0x88, b"\x03\xe8\xff")]), 1007),
        (joined(&[masked_frame(0x82, b"bin")]), 1003),
        (joined(&[vec![0x81, 0x01, b'x']]), 1002),
    ];
    for (input, code) in cases {
        let (trace, out) = walk(input, &[usize::MAX]);
        let (b0, payload) = frames_after_handshake(&out).pop().unwrap();
        assert_eq!(b0, 0x88, "{trace:#?}");
        assert_eq!(
            u16::from_be_bytes([payload[0], payload[1]]),
            *code,
            "{trace:#?}"
        );
        // A 64-bit length over the limit is refused from its header: the
        // payload is never waited for.
        assert!(
            !trace.iter().any(|l| l.contains("-> 101 bytes")),
            "{trace:#?}"
        );
    }
}

// ------------------------------------------------------------ over sockets

/// The example, run as a program; killed when dropped.
struct Chat {
    child: Child,
    addr: SocketAddr,
}

impl Chat {
    fn start(args: &[&str]) -> Chat {
        let mut path: PathBuf = std::env::current_exe().unwrap();
        path.pop();
        path.pop();
        path.push("examples");
        path.push("websocket_chat");
        let mut child = Command::new(&path)
            .arg("127.0.0.1:0")
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.rsplit(' ').next().unwrap().trim().parse().unwrap();
        Chat { child, addr }
    }

    /// A client that has joined as `name`.
    fn join(&self, name: &str) -> WsClient {
        let mut c = WsClient::connect(self.addr, "/");
        c.send_text(name);
        let welcome = c.recv_text();
        assert!(
            welcome.starts_with(&format!("* welcome, {name}")),
            "{welcome}"
        );
        c
    }

    /// The peak resident memory of the server, in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn messages_of_every_boundary_length_arrive_whole_both_ways() {
    let chat = Chat::start(&["--max-message", "100000"]);
    let mut alice = chat.join("alice");
    let mut bob = chat.join("bob");
    assert_eq!(alice.recv_text(), "* bob joined");
    // "alice: " is 7 bytes, so 118 and 119 put bob's frames at 125 and 126,
    // 65528 and 65529 at 65535 and 65536; the others are alice's frames at
    // the boundaries.
    for n in [
        0, 1, 118, 119, 125, 126, 127, 65528, 65529, 65535, 65536, 100_000,
    ] {
        let text: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        alice.send_text(&text);
        let f = bob.recv().unwrap();
        assert_eq!(f.first, 0x81, "{n}");
        assert_eq!(f.payload.len(), n + 7, "{n}");
        let shortest = match n + 7 {
            0..=125 => 1,
            126..=65535 => 3,
            _ => 9,
        };
        assert_eq!(f.length_bytes, shortest, "{n}: the shortest length field");
        assert_eq!(f.text(), format!("alice: {text}"), "{n}");
    }
}

#[test]
fn headers_and_masks_split_across_reads_are_put_together() {
    let chat = Chat::start(&[]);
    let mut alice = chat.join("alice");
    let mut bob = chat.join("bob");
    assert_eq!(alice.recv_text(), "* bob joined");
    let text = "x".repeat(300); // a 16-bit length
    let frame = masked_frame(0x81, text.as_bytes());
    // Header, length and mask a byte at a time, then the payload in three.
    for b in &frame[..8] {
        alice.send_raw(&[*b]);
        alice.stream.flush().unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    for piece in frame[8..].chunks(100) {
        alice.send_raw(piece);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(bob.recv_text(), format!("alice: {text}"));
    // A fragmented message with a ping between its fragments and a
    // character split between them.
    alice.send_raw(&masked_frame(0x01, b"caf\xc3"));
    alice.send_raw(&masked_frame(0x89, b"still there?"));
    std::thread::sleep(Duration::from_millis(5));
    alice.send_raw(&masked_frame(0x80, b"\xa9"));
    let pong = alice.recv().unwrap();
    assert_eq!(
        (pong.first, pong.payload.as_slice()),
        (0x8a, &b"still there?"[..])
    );
    assert_eq!(bob.recv_text(), "alice: café");
}

#[test]
fn a_reset_in_the_middle_of_a_frame_closes_only_that_client() {
    let mut chat = Chat::start(&[]);
    let mut alice = chat.join("alice");
    let carol = chat.join("carol");
    assert_eq!(alice.recv_text(), "* carol joined");
    let mut carol = carol;
    let frame = masked_frame(0x81, &[b'z'; 1000]);
    carol.send_raw(&frame[..20]);
    std::thread::sleep(Duration::from_millis(20));
    rustix::net::sockopt::set_socket_linger(&carol.stream, Some(Duration::ZERO)).unwrap();
    drop(carol);
    assert_eq!(alice.recv_text(), "* carol left");
    let mut dave = chat.join("dave");
    assert_eq!(alice.recv_text(), "* dave joined");
    dave.send_text("hi");
    assert_eq!(alice.recv_text(), "dave: hi");
    assert!(chat.is_running());
}

/// Alice floods the room while bob does not read: 32 MiB for him, far
/// more than the kernel's buffers and the channel's 1 MiB bound hold, so
/// he is paused and most of it is dropped.
fn flood(alice: &mut WsClient) {
    let message = "m".repeat(256 * 1024);
    for _ in 0..128 {
        alice.send_text(&message);
    }
}

/// Keeps the room talking (alice sends a 256 KiB message every 20 ms, from
/// a second handle on her socket) until alice hears the next message, which
/// is returned, with how long it took.
///
/// The send timeout measures how long output *queued* for a member has not
/// moved. After a burst, the kernel may still find room for everything the
/// member has queued (the room it finds in loopback buffers depends on when
/// the kernel gets round to it, so on load), and then nothing is queued and
/// there is nothing to time out until more is said. A member who is not
/// reading is therefore dropped while the room goes on talking, not after
/// the room falls silent; a test that waits in silence depends on the
/// kernel's timing.
fn keep_talking_until_heard(alice: &mut WsClient) -> (String, Duration) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = alice.stream.try_clone().unwrap();
    let talker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let frame = masked_frame(0x81, "t".repeat(256 * 1024).as_bytes());
            while !stop.load(Ordering::Relaxed) {
                if writer.write_all(&frame).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    alice
        .stream
        .set_read_timeout(Some(PATIENCE + Duration::from_secs(5)))
        .unwrap();
    let heard = alice.recv_text();
    stop.store(true, Ordering::Relaxed);
    talker.join().unwrap();
    (heard, started.elapsed())
}

#[test]
fn a_client_that_stops_reading_is_paused_then_dropped_with_memory_bounded() {
    let chat = Chat::start(&["--max-message", "300000", "--send-timeout", "3"]);
    let mut alice = chat.join("alice");
    let bob = chat.join("bob"); // never reads again
    assert_eq!(alice.recv_text(), "* bob joined");
    let before = chat.peak_rss_kib();
    flood(&mut alice);
    let (heard, took) = keep_talking_until_heard(&mut alice);
    assert_eq!(heard, "* bob left", "dropped by the send timeout");
    assert!(took < PATIENCE + Duration::from_secs(5), "{took:?}");
    let grew = chat.peak_rss_kib().saturating_sub(before);
    assert!(
        grew < 12 * 1024,
        "peak RSS grew by {grew} KiB while 32 MiB was addressed to a client that did not read"
    );
    drop(bob);
}

#[test]
fn a_client_whose_queue_drains_after_a_burst_is_dropped_once_it_is_stuck_again() {
    // What load on the machine did at random to the test above, on
    // purpose: after the flood, bob takes everything the server still had
    // for him (what the kernel held, then his queue), so nothing is queued
    // for him and his send timeout is rightly disarmed, then he stops
    // reading for good. Waiting for "* bob left" in a silent room would
    // wait forever; the room talking fills his buffers again, and his
    // queue, and the send timeout drops him.
    let chat = Chat::start(&["--max-message", "300000", "--send-timeout", "3"]);
    let mut alice = chat.join("alice");
    let mut bob = chat.join("bob");
    assert_eq!(alice.recv_text(), "* bob joined");
    flood(&mut alice);
    bob.stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = vec![0; 1 << 16];
    let mut drained = 0;
    while let Ok(n @ 1..) = std::io::Read::read(&mut bob.stream, &mut buf) {
        drained += n;
    }
    assert!(drained > 1 << 20, "bob took only {drained} bytes");
    let (heard, took) = keep_talking_until_heard(&mut alice);
    assert_eq!(heard, "* bob left", "dropped by the send timeout");
    assert!(took < PATIENCE + Duration::from_secs(5), "{took:?}");
    drop(bob);
}

#[test]
fn bad_handshakes_are_answered_over_http_and_closed() {
    let chat = Chat::start(&[]);
    let cases = [
        (
            GOOD.replace(": 13", ": 8"),
            "HTTP/1.1 400 ",
            "Sec-WebSocket-Version: 13",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            "HTTP/1.1 426 ",
            "Upgrade: websocket",
        ),
        (
            GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "short"),
            "HTTP/1.1 400 ",
            "Connection: close",
        ),
    ];
    for (request, status, field) in cases {
        let mut s = std::net::TcpStream::connect(chat.addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut all = String::new();
        std::io::Read::read_to_string(&mut s, &mut all).unwrap();
        assert!(all.starts_with(status), "{all}");
        assert!(all.contains(&format!("\r\n{field}\r\n")), "{all}");
    }
}

#[test]
fn the_python_websockets_client_passes_every_check() {
    let Some(python) = python_with_websockets() else {
        eprintln!(
            "SKIPPED: no Python with the websockets package \
             ($ASYNCHAT_PYTHON, target/ci-venv/bin/python or python3); .ci/run installs it"
        );
        return;
    };
    let chat = Chat::start(&["--max-message", "70000"]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/websocket_client.py");
    let tmp = TempDir::new("websocket-python");
    let out_path = tmp.path().join("out.txt");
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(chat.addr.port().to_string())
        .arg("70000")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the websockets client did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read_to_string(&out_path).unwrap();
    eprintln!("{out}");
    assert!(status.success(), "{status:?}:\n{out}");
    for check in [
        "ok: handshake",
        "ok: broadcast",
        "ok: fragmented message reassembled",
        "ok: large message at the limit: 70000 bytes",
        "ok: ping answered with pong",
        "ok: normal close (1000)",
        "ok: close 1002: unmasked frame",
        "ok: close 1002: reserved bit set",
        "ok: close 1002: ping over 125 bytes",
        "ok: close 1003: binary message",
        "ok: close 1007: invalid UTF-8",
        "ok: close 1008: empty name",
        "ok: close 1009: message over the limit",
        "0 failed",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(check)),
            "{check:?} missing:\n{out}"
        );
    }
}

/// A Python that can import `websockets`, as the module docs say.
fn python_with_websockets() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv/bin/python");
    let candidates = std::env::var_os("ASYNCHAT_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([venv, PathBuf::from("python3")]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import websockets.sync.client"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
    }
    None
}

// ------------------------------------------------------------ the guide

/// The guide's WebSocket trace: a member that has upgraded and joined
/// receives RFC 6455 §5.7's masked "Hello" in two reads that cut its mask
/// in half, then a ping and a 300-byte message in one read.
fn guide_trace() -> Vec<String> {
    use asynchat::trace::Shown;
    let room = Rc::new(RefCell::new(member::Room::default()));
    let mut m = member::Member::new(room, Rc::new(member::Settings::default()));
    let mut chan = Channel::new(member::Member::initial_terminator());
    let mut setup = GOOD.as_bytes().to_vec();
    setup.extend(masked_frame(0x81, b"alice"));
    chan.feed(&mut m, &setup);
    let (trace, lines) = Trace::collect("");
    chan.set_trace(Some(trace.clone()));
    let hello: &[u8] = &[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let mut second = hello[4..].to_vec();
    second.extend(masked_frame(0x89, b"hi"));
    second.extend(masked_frame(0x81, &[b'x'; 300]));
    for read in [&hello[..4], &second[..]] {
        trace.event(format_args!("read {} bytes {}", read.len(), Shown(read)));
        chan.feed(&mut m, read);
    }
    lines.borrow().clone()
}

#[test]
fn the_guides_websocket_trace_is_what_the_frame_walk_does() {
    let got = guide_trace();
    common::assert_trace_is(&common::guide_block("websocket: hello"), &got);
}

#[test]
#[ignore = "prints the guide's WebSocket trace, to paste"]
fn print_the_guides_websocket_trace() {
    println!("{}", guide_trace().join("\n"));
}
