//! The access log: one Common Log Format line per response.
//!
//! A line is rendered straight into bytes, with no `format!` machinery:
//! under pipelining the log is written as often as responses are, and
//! rendering it through `log`'s records and `fmt::Write` cost more than
//! answering the request did. Where the line goes is [`AccessLog`]: the
//! binary hands lines to its [`LogSink`] directly; a program using the
//! library gets them as `log` records with target `"access"`, as before.

use std::fmt;
use std::io::Write as _;
use std::net::IpAddr;

use super::head::{Request, Version};
use crate::logsink::LogSink;
use crate::trace::Escaped;

/// How much of a malformed request line the access log shows.
pub const MAX_LOGGED_LINE: usize = 200;

/// The lines of one turn of the loop are handed to a [`LogSink`] together
/// once they reach this many bytes, if the turn has not ended first.
pub const TURN_BATCH: usize = crate::logsink::BATCH;

/// The access log lines a worker has rendered and not yet written: a
/// sink's lines wait here for the end of the turn ([`Lines::hand_over`]),
/// which takes them in one piece, so a pipelined batch of requests costs
/// the sink's lock once rather than once a line. A line for the `log`
/// crate is written at once, a record each.
#[derive(Default)]
pub(crate) struct Lines(Vec<u8>);

impl Lines {
    /// Renders `entry` and writes it to `log`, or keeps it for the end of
    /// the turn when `log` is a sink.
    pub(crate) fn write(&mut self, log: &AccessLog, entry: &Entry<'_>) {
        match log {
            AccessLog::Off => {}
            AccessLog::Sink(sink) => {
                entry.render(&mut self.0);
                if self.0.len() >= TURN_BATCH {
                    sink.take(&self.0);
                    self.0.clear();
                }
            }
            AccessLog::Log => {
                self.0.clear();
                entry.render(&mut self.0);
                log.write(&self.0);
                self.0.clear();
            }
        }
    }

    /// Hands the lines kept so far to `log`'s sink: when the loop is about
    /// to wait, and when it has stopped.
    pub(crate) fn hand_over(&mut self, log: &AccessLog) {
        if let AccessLog::Sink(sink) = log
            && !self.0.is_empty()
        {
            sink.take(&self.0);
            self.0.clear();
        }
    }
}

/// Where access log lines go.
#[derive(Clone, Default)]
pub enum AccessLog {
    /// Nowhere (`--quiet`).
    Off,
    /// To the `log` crate, as `Info` records with target `"access"`, when
    /// its logger has that target enabled: what a program that embeds the
    /// server gets.
    #[default]
    Log,
    /// Straight to this sink, one line per write (the binary, whose
    /// logger writes to the same sink).
    Sink(LogSink),
}

impl fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccessLog::Off => "Off",
            AccessLog::Log => "Log",
            AccessLog::Sink(_) => "Sink",
        })
    }
}

impl AccessLog {
    /// True when a line written now would go somewhere.
    pub fn enabled(&self) -> bool {
        match self {
            AccessLog::Off => false,
            AccessLog::Log => log::log_enabled!(target: "access", log::Level::Info),
            AccessLog::Sink(_) => true,
        }
    }

    /// Writes one rendered line (with its `\n`), as [`Entry::render`] made
    /// it; to a sink, any number of them.
    pub fn write(&self, line: &[u8]) {
        match self {
            AccessLog::Off => {}
            AccessLog::Log => {
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                // The line is UTF-8: escaped text, ASCII fields.
                log::info!(target: "access", "{}", String::from_utf8_lossy(line));
            }
            AccessLog::Sink(sink) => sink.take(line),
        }
    }
}

/// The request as its access log line shows it, between the quotes.
pub enum Logged<'a> {
    /// A parsed request line: method, escaped target, version.
    Line(&'a Request<'a>),
    /// The start of a head that could not be parsed: its first line,
    /// escaped and cut to [`MAX_LOGGED_LINE`] bytes.
    Raw(&'a [u8]),
    /// A request line rendered earlier (kept while its body was read).
    Rendered(&'a [u8]),
}

impl Logged<'_> {
    /// Appends the request's rendering to `out`.
    pub fn render(&self, out: &mut Vec<u8>) {
        match *self {
            Logged::Line(req) => {
                // The method is a token (httparse checked), the target
                // anything a request line may hold: escaped, so one request
                // is one log line.
                out.extend_from_slice(req.method_token.as_bytes());
                out.push(b' ');
                Escaped(req.target).render(out);
                out.extend_from_slice(match req.version {
                    Version::Http10 => b" HTTP/1.0",
                    Version::Http11 => b" HTTP/1.1",
                });
            }
            Logged::Raw(head) => {
                let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let line = &line[..line.len().min(MAX_LOGGED_LINE)];
                if line.is_empty() {
                    // No request line at all (blank lines, then a timeout):
                    // `-`, as the Common Log Format shows what is missing.
                    out.push(b'-');
                } else {
                    // Escaped as a parsed target is, so a character looks
                    // the same in either; bytes that are not UTF-8 are
                    // shown as U+FFFD.
                    Escaped(&String::from_utf8_lossy(line)).render(out);
                }
            }
            Logged::Rendered(bytes) => out.extend_from_slice(bytes),
        }
    }
}

impl fmt::Display for Logged<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.render(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// What one access log line says.
pub struct Entry<'a> {
    /// The client's address.
    pub client: Option<IpAddr>,
    /// The time, in the Common Log Format (`03/Dec/2026:09:00:00 +0000`).
    pub time: &'a str,
    /// The request.
    pub request: Logged<'a>,
    /// The response's status.
    pub status: u16,
    /// The response's content length.
    pub body_len: u64,
    /// The body bytes an upload received (shown as ` received=N`, after
    /// the Common Log Format's fields, where log tools expect extras).
    pub received: Option<u64>,
}

impl Entry<'_> {
    /// Appends the line, with its `\n`, to `out`:
    /// `127.0.0.1 - - [03/Dec/2026:09:00:00 +0000] "GET / HTTP/1.1" 200 195`.
    pub fn render(&self, out: &mut Vec<u8>) {
        match self.client {
            Some(IpAddr::V4(ip)) => {
                let mut text = [0; 15];
                let len = dotted_quad(ip.octets(), &mut text);
                out.extend_from_slice(&text[..len]);
            }
            Some(ip @ IpAddr::V6(_)) => {
                let _ = write!(out, "{ip}");
            }
            None => out.push(b'-'),
        }
        out.extend_from_slice(b" - - [");
        out.extend_from_slice(self.time.as_bytes());
        out.extend_from_slice(b"] \"");
        self.request.render(out);
        out.extend_from_slice(b"\" ");
        let mut digits = itoa::Buffer::new();
        out.extend_from_slice(digits.format(self.status).as_bytes());
        out.push(b' ');
        out.extend_from_slice(digits.format(self.body_len).as_bytes());
        if let Some(n) = self.received {
            out.extend_from_slice(b" received=");
            out.extend_from_slice(digits.format(n).as_bytes());
        }
        out.push(b'\n');
    }
}

/// Writes `octets` as `a.b.c.d` into `text` and returns its length: the
/// client of every access line, without a formatter.
fn dotted_quad(octets: [u8; 4], text: &mut [u8; 15]) -> usize {
    let mut len = 0;
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::head;

    #[test]
    fn every_ipv4_octet_is_written_as_the_standard_library_writes_it() {
        for octet in 0..=255u8 {
            for ip in [[octet, 0, 255, 9], [10, octet, 100, octet]] {
                let mut text = [0; 15];
                let len = dotted_quad(ip, &mut text);
                let want = std::net::Ipv4Addr::from(ip).to_string();
                assert_eq!(std::str::from_utf8(&text[..len]), Ok(want.as_str()));
            }
        }
    }

    fn line(entry: &Entry<'_>) -> String {
        let mut out = Vec::new();
        entry.render(&mut out);
        String::from_utf8(out).expect("a line is ASCII")
    }

    #[test]
    fn lines_are_common_log_format() {
        let head = b"GET /a%20b?q=\"x\" HTTP/1.0\r\nHost: h\r\n\r\n";
        let req = head::parse(head).expect("parses");
        let time = "03/Dec/2026:09:00:00 +0000";
        let cases: &[(Entry<'_>, &str)] = &[
            (
                Entry {
                    client: Some("127.0.0.1".parse().unwrap()),
                    time,
                    request: Logged::Line(&req),
                    status: 200,
                    body_len: 195,
                    received: None,
                },
                "127.0.0.1 - - [03/Dec/2026:09:00:00 +0000] \"GET /a%20b?q=\\\"x\\\" HTTP/1.0\" 200 195\n",
            ),
            (
                Entry {
                    client: Some("::ffff:10.0.0.255".parse().unwrap()),
                    time,
                    request: Logged::Rendered(b"PUT /f HTTP/1.1"),
                    status: 201,
                    body_len: 0,
                    received: Some(18_446_744_073_709_551_615),
                },
                "::ffff:10.0.0.255 - - [03/Dec/2026:09:00:00 +0000] \"PUT /f HTTP/1.1\" 201 0 received=18446744073709551615\n",
            ),
            (
                Entry {
                    client: None,
                    time,
                    request: Logged::Raw(b"\x16\x03\x01\x02\x00\r\nrest"),
                    status: 400,
                    body_len: 11,
                    received: None,
                },
                "- - - [03/Dec/2026:09:00:00 +0000] \"\\x16\\x03\\x01\\x02\\x00\" 400 11\n",
            ),
        ];
        for (entry, want) in cases {
            assert_eq!(line(entry), *want);
        }
    }

    #[test]
    fn a_raw_line_is_escaped_as_a_target_is_and_nothing_is_a_dash() {
        let cases: &[(&[u8], &str)] = &[
            (b"\r\n", "-"),
            (b"", "-"),
            ("GET /\u{202e} HTTP/9".as_bytes(), "GET /\\u{202e} HTTP/9"),
            (b"\xff\"\\", "\u{fffd}\\\"\\\\"),
        ];
        for (raw, want) in cases {
            assert_eq!(Logged::Raw(raw).to_string(), *want, "{raw:?}");
        }
    }

    #[test]
    fn a_raw_line_is_cut_and_a_target_escaped() {
        let long = [b'A'; 300];
        let mut out = Vec::new();
        Logged::Raw(&long).render(&mut out);
        assert_eq!(out.len(), MAX_LOGGED_LINE);
        let head = "GET /\u{202e}x HTTP/1.1\r\nHost: h\r\n\r\n";
        let req = head::parse(head.as_bytes()).expect("parses");
        assert_eq!(Logged::Line(&req).to_string(), "GET /\\u{202e}x HTTP/1.1");
    }

    /// A sink's lines wait for the end of the turn, in order, unless they
    /// make a batch first; none is lost or doubled either way.
    #[test]
    fn a_sinks_lines_are_handed_over_at_the_end_of_the_turn_or_in_batches() {
        let dir = std::env::temp_dir().join(format!("access-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let file = std::fs::File::create(&path).unwrap();
        let sink = LogSink::for_output(file, 1 << 20).unwrap();
        let log = AccessLog::Sink(sink.clone());
        let written = || {
            sink.flush_now();
            std::fs::read_to_string(&path).unwrap()
        };
        let entry = |status| Entry {
            client: None,
            time: "03/Dec/2026:09:00:00 +0000",
            request: Logged::Rendered(b"GET / HTTP/1.1"),
            status,
            body_len: 0,
            received: None,
        };
        let mut lines = Lines::default();
        for status in 200..203 {
            lines.write(&log, &entry(status));
        }
        assert_eq!(written(), "", "taken before the turn ended");
        lines.hand_over(&log);
        lines.hand_over(&log);
        let three = written();
        let statuses: Vec<_> = three
            .lines()
            .map(|l| &l[l.len() - 5..l.len() - 2])
            .collect();
        assert_eq!(statuses, ["200", "201", "202"], "{three}");
        // A turn with more than a batch of lines hands them over as they
        // reach it.
        let line_len = three.len() / 3;
        let past = TURN_BATCH.div_ceil(line_len);
        for _ in 0..past {
            lines.write(&log, &entry(204));
        }
        let now = written();
        assert_eq!(
            now.len(),
            three.len() + past * line_len,
            "handed over at the batch"
        );
        lines.hand_over(&log);
        assert_eq!(written(), now, "nothing was left to hand over");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
