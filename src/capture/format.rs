//! The capture file format, version 1: pure functions that write and read
//! it, with no file and no socket.
//!
//! A capture is text lines with raw data between them, so that it reads in
//! a pager when the traffic is text and stays exact when it is not. It
//! starts with a header:
//!
//! ```text
//! asynchat-capture 1
//! connection 7
//! started 2026-11-25T12:46:53.677553Z
//! peer 127.0.0.1:50312
//! local 127.0.0.1:8000
//! max 16777216
//! payloads kept
//! server asynchat-httpd 0.1.0
//!
//! ```
//!
//! The first line names the format and its version. Then one field per line,
//! `NAME VALUE`, up to a blank line: the connection id, when it was
//! accepted (UTC), the peer's and the local address (`-` when unknown), the
//! cap on kept data (`--capture-max`), whether payloads were kept or only
//! their sizes (`--capture-no-bodies`), and any fields the program adds
//! (`asynchat-httpd` adds `server` and `root`). Readers ignore fields they
//! do not know.
//!
//! Then one record per event, each a line `KIND TIME ...`, where `TIME` is
//! seconds since `started`, to the microsecond:
//!
//! | record | meaning |
//! | --- | --- |
//! | `read TIME LEN [omit SPANS]` | one read returned `LEN` bytes; the data follows |
//! | `sent TIME LEN [omit SPANS]` | one write sent `LEN` bytes; the data follows |
//! | `eof TIME` | a read returned end of stream |
//! | `timeout TIME` | the channel's deadline passed |
//! | `capped TIME` | the data kept reached `max`: from here, payloads and sent data keep only their sizes |
//! | `truncated TIME WHY` | the capture could not keep up: the events after this one were lost |
//! | `end TIME READ SENT REASON` | the connection closed, having read and sent this many bytes in all, for `REASON` (`done`, `timeout`, `error: connection reset`, ...) |
//!
//! A `read` or `sent` line is followed by its data, raw, then a newline
//! (which is not part of the data). Spans of the data that were left out are
//! listed after `omit` as `OFFSET+LENGTH`, comma-separated, in order: the
//! bytes that follow are the data without them, `LEN` less their lengths.
//! A replay feeds zeros in their place. Spans are left out for payloads
//! (request bodies) under `--capture-no-bodies` or past the cap, for file
//! data sent with `sendfile` (which never passes through the server's
//! memory), for sent data past the cap, and for what is read and discarded
//! after the channel has finished (the lingering close).
//!
//! Here a POST with an 11-byte body and a GET arrive in one read, under
//! `--capture-no-bodies` (`␤` stands for the line feeds of the data, and
//! the `...` for the rest of it):
//!
//! ```text
//! read 0.000120 115 omit 60+11
//! POST /form HTTP/1.1␤Host: localhost␤Content-Length: 11␤␤GET /hello.txt ...
//! sent 0.000405 938
//! HTTP/1.1 405 Method Not Allowed␤Server: asynchat-httpd/0.1.0␤...
//! eof 0.000912
//! end 0.001030 115 938 done
//! ```
//!
//! A capture whose last record is not `end` was cut short: the server was
//! killed, or its disk filled. [`parse`] says so in [`Capture::cut`] and
//! returns the records before the cut, so what was captured can still be
//! replayed. A capture of a newer version is refused: its records may mean
//! what this version cannot know.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The first word of every capture.
pub const MAGIC: &str = "asynchat-capture";

/// The format version written, and the newest one read.
pub const VERSION: u32 = 1;

/// A part of a record's data that was left out: where it starts in the
/// data, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The offset in the record's data.
    pub at: u64,
    /// The length.
    pub len: u64,
}

/// The data of a `read` or `sent` record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Data {
    /// The length of the data as it was read or sent.
    pub len: u64,
    /// The bytes kept: the data without its omitted spans.
    pub kept: Vec<u8>,
    /// The spans left out, in order, neither overlapping nor empty.
    pub omitted: Vec<Span>,
}

impl Data {
    /// Data kept whole.
    pub fn whole(bytes: &[u8]) -> Data {
        Data {
            len: bytes.len() as u64,
            kept: bytes.to_vec(),
            omitted: Vec::new(),
        }
    }

    /// Data of which only the length was kept.
    pub fn sized(len: u64) -> Data {
        let omitted = if len == 0 {
            Vec::new()
        } else {
            vec![Span { at: 0, len }]
        };
        Data {
            len,
            kept: Vec::new(),
            omitted,
        }
    }

    /// How many bytes were left out.
    pub fn omitted_len(&self) -> u64 {
        self.omitted.iter().map(|s| s.len).sum()
    }

    /// The data, with zeros where spans were left out.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        let mut kept = &self.kept[..];
        let mut at = 0u64;
        for span in &self.omitted {
            let before = usize::try_from(span.at - at).unwrap_or(usize::MAX);
            out.extend_from_slice(&kept[..before]);
            kept = &kept[before..];
            out.resize(out.len() + usize::try_from(span.len).unwrap_or(0), 0);
            at = span.at + span.len;
        }
        out.extend_from_slice(kept);
        out
    }
}

/// One event of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// One read, with what it returned.
    Read(Data),
    /// One write, with what it sent.
    Sent(Data),
    /// A read returned end of stream.
    Eof,
    /// The channel's deadline passed.
    Timeout,
    /// The data kept reached the cap: later payloads and sent data keep
    /// only their sizes.
    Capped,
    /// The capture could not keep up, and the events after this one were
    /// lost; why.
    Truncated(String),
    /// The connection closed.
    End {
        /// Bytes read in all, captured or not.
        read: u64,
        /// Bytes sent in all, captured or not.
        sent: u64,
        /// Why it closed, as [`CloseReason`](crate::CloseReason) shows it.
        reason: String,
    },
}

/// An event and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The time since the connection was accepted.
    pub at: Duration,
    /// What happened.
    pub event: Event,
}

/// Whether payloads were kept, or only their sizes (`--capture-no-bodies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payloads {
    /// Payloads were kept, up to the cap.
    Kept,
    /// Only the sizes of payloads were kept.
    Omitted,
}

/// What a capture says about its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The connection id.
    pub connection: u64,
    /// When it was accepted, in UTC, as RFC 3339 text.
    pub started: String,
    /// The peer's address.
    pub peer: Option<SocketAddr>,
    /// The local address.
    pub local: Option<SocketAddr>,
    /// The cap on kept data, in bytes.
    pub max: u64,
    /// Whether payloads were kept.
    pub payloads: Payloads,
    /// Fields added by the program (`server`, `root`), or unknown to this
    /// version: name and value.
    pub extra: Vec<(String, String)>,
}

impl Header {
    /// The value of an extra field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A capture file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// The version it was written in.
    pub version: u32,
    /// The header.
    pub header: Header,
    /// The records, in order.
    pub records: Vec<Record>,
    /// Where and why the file ends before its `end` record, if it does.
    pub cut: Option<Cut>,
}

/// A capture that ends before its `end` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The byte offset where the file ends, or where the unfinished record
    /// starts.
    pub at: usize,
    /// What is missing.
    pub why: &'static str,
}

impl Capture {
    /// The `truncated` record, if the capture could not keep up: when, and
    /// why.
    pub fn truncated(&self) -> Option<(Duration, &str)> {
        self.records.iter().find_map(|r| match &r.event {
            Event::Truncated(why) => Some((r.at, why.as_str())),
            _ => None,
        })
    }

    /// The `end` record's fields: bytes read and sent in all, and the
    /// reason, with its time.
    pub fn end(&self) -> Option<(Duration, u64, u64, &str)> {
        match self.records.last() {
            Some(Record {
                at,
                event: Event::End { read, sent, reason },
            }) => Some((*at, *read, *sent, reason.as_str())),
            _ => None,
        }
    }
}

/// Why a capture could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The byte offset of the line at fault.
    pub at: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What is wrong with a capture that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// It does not start with [`MAGIC`].
    NotACapture,
    /// It is of a newer version than [`VERSION`].
    Newer(u32),
    /// The version is not a number.
    BadVersion(String),
    /// A header field is malformed or missing.
    Header(String),
    /// A record is malformed.
    Record(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::NotACapture => {
                write!(f, "not a capture: it does not start with {MAGIC:?}")
            }
            ErrorKind::Newer(v) => write!(
                f,
                "this capture is format version {v}, newer than this program reads \
                 (version {VERSION} and older): replay it with a newer asynchat"
            ),
            ErrorKind::BadVersion(v) => write!(f, "byte {}: bad format version {v:?}", self.at),
            ErrorKind::Header(what) => write!(f, "byte {}: header: {what}", self.at),
            ErrorKind::Record(what) => write!(f, "byte {}: {what}", self.at),
        }
    }
}

impl std::error::Error for ParseError {}

// ------------------------------------------------------------------ writing

/// `d` as the format writes times: seconds, to the microsecond.
fn time_text(d: Duration) -> String {
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

/// A value as one line of a header: control characters become `?`.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Writes the header, ending with its blank line.
pub fn write_header(out: &mut Vec<u8>, h: &Header) {
    use std::fmt::Write as _;
    let addr = |a: Option<SocketAddr>| a.map_or_else(|| "-".to_string(), |a| a.to_string());
    let payloads = match h.payloads {
        Payloads::Kept => "kept",
        Payloads::Omitted => "omitted",
    };
    let mut s = format!(
        "{MAGIC} {VERSION}\nconnection {}\nstarted {}\npeer {}\nlocal {}\nmax {}\npayloads {payloads}\n",
        h.connection,
        one_line(&h.started),
        addr(h.peer),
        addr(h.local),
        h.max,
    );
    for (name, value) in &h.extra {
        let name: String = name
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { '-' })
            .collect();
        let _ = writeln!(s, "{name} {}", one_line(value));
    }
    s.push('\n');
    out.extend_from_slice(s.as_bytes());
}

/// Writes the line of a `read` or `sent` record (`name`) of `len` bytes with
/// these spans left out; the caller appends the kept bytes and a newline.
pub(crate) fn write_data_line(
    out: &mut Vec<u8>,
    name: &str,
    at: Duration,
    len: u64,
    omitted: &[Span],
) {
    use std::io::Write as _;
    let _ = write!(out, "{name} {} {len}", time_text(at));
    for (i, s) in omitted.iter().enumerate() {
        let sep = if i == 0 { " omit " } else { "," };
        let _ = write!(out, "{sep}{}+{}", s.at, s.len);
    }
    out.push(b'\n');
}

/// Writes one record.
pub fn write_record(out: &mut Vec<u8>, r: &Record) {
    let t = time_text(r.at);
    let line = match &r.event {
        Event::Read(d) | Event::Sent(d) => {
            let name = if matches!(r.event, Event::Read(_)) {
                "read"
            } else {
                "sent"
            };
            write_data_line(out, name, r.at, d.len, &d.omitted);
            out.extend_from_slice(&d.kept);
            out.push(b'\n');
            return;
        }
        Event::Eof => format!("eof {t}\n"),
        Event::Timeout => format!("timeout {t}\n"),
        Event::Capped => format!("capped {t}\n"),
        Event::Truncated(why) => format!("truncated {t} {}\n", one_line(why)),
        Event::End { read, sent, reason } => {
            format!("end {t} {read} {sent} {}\n", one_line(reason))
        }
    };
    out.extend_from_slice(line.as_bytes());
}

/// A whole capture as bytes.
pub fn write(c: &Capture) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(&mut out, &c.header);
    for r in &c.records {
        write_record(&mut out, r);
    }
    out
}

// ------------------------------------------------------------------ reading

/// Reads a capture.
///
/// # Errors
///
/// [`ParseError`] for input that is not a capture, is of a newer version,
/// or has a malformed header or record. A file that merely ends early is
/// not an error: see [`Capture::cut`].
///
/// # Examples
///
/// ```
/// use asynchat::capture::format::{self, ErrorKind, Event};
///
/// let file = b"asynchat-capture 1\nconnection 3\nstarted 2026-01-01T00:00:00.000000Z\n\n\
///              read 0.000100 5\nhello\neof 0.000200\nend 0.000300 5 0 done\n";
/// let capture = format::parse(file).unwrap();
/// assert_eq!(capture.header.connection, 3);
/// assert!(matches!(&capture.records[0].event, Event::Read(d) if d.kept == b"hello"));
/// assert!(capture.cut.is_none());
///
/// let newer = format::parse(b"asynchat-capture 2\n").unwrap_err();
/// assert_eq!(newer.kind, ErrorKind::Newer(2));
/// ```
pub fn parse(input: &[u8]) -> Result<Capture, ParseError> {
    let mut r = Reader { input, pos: 0 };
    let (version, header) = r.header()?;
    let mut records = Vec::new();
    let mut cut = None;
    loop {
        if r.pos == input.len() {
            cut = Some(Cut {
                at: r.pos,
                why: "the file ends without its end record",
            });
            break;
        }
        let start = r.pos;
        match r.record()? {
            Some(record) => {
                let end = matches!(record.event, Event::End { .. });
                records.push(record);
                if end {
                    if r.pos != input.len() {
                        return Err(r.error(r.pos, "data after the end record"));
                    }
                    break;
                }
            }
            None => {
                cut = Some(Cut {
                    at: start,
                    why: "the file ends inside a record",
                });
                break;
            }
        }
    }
    Ok(Capture {
        version,
        header,
        records,
        cut,
    })
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, at: usize, what: impl Into<String>) -> ParseError {
        ParseError {
            at,
            kind: ErrorKind::Record(what.into()),
        }
    }

    /// The next line, without its newline; `None` when the input ends first.
    fn line(&mut self) -> Option<(usize, &'a [u8])> {
        let input: &'a [u8] = self.input;
        let rest = &input[self.pos..];
        let i = memchr::memchr(b'\n', rest)?;
        let start = self.pos;
        self.pos += i + 1;
        Some((start, &rest[..i]))
    }

    fn text_line(&mut self) -> Result<Option<(usize, &'a str)>, ParseError> {
        match self.line() {
            None => Ok(None),
            Some((at, bytes)) => match std::str::from_utf8(bytes) {
                Ok(s) => Ok(Some((at, s))),
                Err(_) => Err(self.error(at, "a record line that is not text")),
            },
        }
    }

    /// The format version on the magic line, which must be one this
    /// reader knows.
    fn version(&mut self) -> Result<u32, ParseError> {
        let Some((at, first)) = self.line() else {
            return Err(ParseError {
                at: self.input.len(),
                kind: ErrorKind::Header("the file ends in its first line".to_string()),
            });
        };
        let version_text = String::from_utf8_lossy(&first[MAGIC.len()..]).into_owned();
        let kind = match version_text.strip_prefix(' ').map(str::parse) {
            Some(Ok(v)) if v > VERSION => ErrorKind::Newer(v),
            Some(Ok(v)) if v > 0 => return Ok(v),
            _ => ErrorKind::BadVersion(version_text.trim().to_string()),
        };
        Err(ParseError { at, kind })
    }

    fn header(&mut self) -> Result<(u32, Header), ParseError> {
        let header_error = |at, what: &str| ParseError {
            at,
            kind: ErrorKind::Header(what.to_string()),
        };
        if !self.input.starts_with(MAGIC.as_bytes()) {
            return Err(ParseError {
                at: 0,
                kind: ErrorKind::NotACapture,
            });
        }
        let version = self.version()?;
        let mut h = Header {
            connection: 0,
            started: String::new(),
            peer: None,
            local: None,
            max: u64::MAX,
            payloads: Payloads::Kept,
            extra: Vec::new(),
        };
        let (mut seen_connection, mut seen_started) = (false, false);
        loop {
            let Some((at, line)) = self.line() else {
                return Err(header_error(
                    self.input.len(),
                    "the file ends inside the header",
                ));
            };
            if line.is_empty() {
                break;
            }
            let line = std::str::from_utf8(line)
                .map_err(|_| header_error(at, "a field that is not text"))?;
            let (name, value) = line.split_once(' ').unwrap_or((line, ""));
            let addr = |v: &str| -> Result<Option<SocketAddr>, ParseError> {
                if v == "-" {
                    return Ok(None);
                }
                v.parse()
                    .map(Some)
                    .map_err(|_| header_error(at, &format!("{name} {v:?} is not an address")))
            };
            match name {
                "connection" => {
                    h.connection = value
                        .parse()
                        .map_err(|_| header_error(at, "the connection id is not a number"))?;
                    seen_connection = true;
                }
                "started" => {
                    h.started = value.to_string();
                    seen_started = true;
                }
                "peer" => h.peer = addr(value)?,
                "local" => h.local = addr(value)?,
                "max" => {
                    h.max = value
                        .parse()
                        .map_err(|_| header_error(at, "max is not a number"))?;
                }
                "payloads" => {
                    h.payloads = match value {
                        "kept" => Payloads::Kept,
                        "omitted" => Payloads::Omitted,
                        _ => return Err(header_error(at, "payloads is neither kept nor omitted")),
                    };
                }
                _ => h.extra.push((name.to_string(), value.to_string())),
            }
        }
        if !seen_connection || !seen_started {
            return Err(header_error(
                self.pos,
                "the connection and started fields are required",
            ));
        }
        Ok((version, h))
    }

    /// The next record; `None` when the input ends inside it.
    fn record(&mut self) -> Result<Option<Record>, ParseError> {
        let Some((at, line)) = self.text_line()? else {
            return Ok(None);
        };
        let mut words = line.splitn(3, ' ');
        let kind = words.next().unwrap_or_default();
        let time = words
            .next()
            .ok_or_else(|| self.error(at, format!("{kind:?}: no time")))?;
        let time = parse_time(time).ok_or_else(|| self.error(at, format!("bad time {time:?}")))?;
        let rest = words.next();
        let no_more = |this: &Self, event: Event| match rest {
            None => Ok(event),
            Some(r) => Err(this.error(at, format!("{kind}: unexpected {r:?}"))),
        };
        let event = match kind {
            "read" | "sent" => {
                let rest = rest.unwrap_or_default();
                let data = match self.data(at, rest)? {
                    Some(data) => data,
                    None => return Ok(None),
                };
                if kind == "read" {
                    Event::Read(data)
                } else {
                    Event::Sent(data)
                }
            }
            "eof" => no_more(self, Event::Eof)?,
            "timeout" => no_more(self, Event::Timeout)?,
            "capped" => no_more(self, Event::Capped)?,
            "truncated" => Event::Truncated(rest.unwrap_or_default().to_string()),
            "end" => {
                let mut f = rest.unwrap_or_default().splitn(3, ' ');
                let mut count = |what| {
                    f.next()
                        .and_then(|n| n.parse::<u64>().ok())
                        .ok_or_else(|| self.error(at, format!("end: bytes {what} is not a number")))
                };
                let read = count("read")?;
                let sent = count("sent")?;
                Event::End {
                    read,
                    sent,
                    reason: f.next().unwrap_or_default().to_string(),
                }
            }
            other => {
                return Err(self.error(at, format!("unknown record {other:?}")));
            }
        };
        Ok(Some(Record { at: time, event }))
    }

    /// The data of a `read` or `sent` record whose line ends with `rest`
    /// (`LEN [omit SPANS]`); `None` when the input ends inside it.
    fn data(&mut self, at: usize, rest: &str) -> Result<Option<Data>, ParseError> {
        let (len, spans) = match rest.split_once(' ') {
            Some((len, spans)) => (len, Some(spans)),
            None => (rest, None),
        };
        let len: u64 = len
            .parse()
            .map_err(|_| self.error(at, format!("bad length {len:?}")))?;
        let mut omitted = Vec::new();
        if let Some(spans) = spans {
            let list = spans
                .strip_prefix("omit ")
                .ok_or_else(|| self.error(at, format!("unexpected {spans:?}")))?;
            let mut end = 0u64;
            for s in list.split(',') {
                let span = s
                    .split_once('+')
                    .and_then(|(a, l)| {
                        Some(Span {
                            at: a.parse().ok()?,
                            len: l.parse().ok()?,
                        })
                    })
                    .ok_or_else(|| self.error(at, format!("bad span {s:?}")))?;
                let span_end = span.at.checked_add(span.len);
                if span.len == 0 || span.at < end || span_end.is_none_or(|e| e > len) {
                    return Err(self.error(
                        at,
                        format!("span {s:?} is empty, out of order or past the data's {len} bytes"),
                    ));
                }
                end = span.at + span.len;
                omitted.push(span);
            }
        }
        let omitted_len: u64 = omitted.iter().map(|s| s.len).sum();
        let kept_len =
            usize::try_from(len - omitted_len).map_err(|_| self.error(at, "data too large"))?;
        let rest = &self.input[self.pos..];
        if rest.len() <= kept_len {
            return Ok(None);
        }
        if rest[kept_len] != b'\n' {
            return Err(self.error(
                self.pos + kept_len,
                format!("the {kept_len} bytes of data are not followed by a newline"),
            ));
        }
        let kept = rest[..kept_len].to_vec();
        self.pos += kept_len + 1;
        Ok(Some(Data { len, kept, omitted }))
    }
}

/// Seconds with a fraction of up to nine digits.
fn parse_time(s: &str) -> Option<Duration> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32)
    };
    Some(Duration::new(secs.parse().ok()?, nanos))
}

// --------------------------------------------------------------- naming

/// A time as a UTC calendar date and time: year, month, day, hour, minute,
/// second, microsecond. Times before 1970 count as 1970.
fn utc(t: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, in_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60,
        d.subsec_micros(),
    )
}

/// A time as the header's `started` shows it:
/// `2026-11-25T12:46:53.677553Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, us) = utc(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z")
}

/// The name of a capture file: start time, connection id and peer, in an
/// order that sorts by time, with only characters that every file system
/// and shell takes as they are. An IPv6 address has its colons turned into
/// dashes (`--1` is `::1`), an IPv4 client of a dual-stack server shows as
/// IPv4.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use asynchat::capture::format::file_name;
///
/// let t = UNIX_EPOCH + Duration::from_micros(1_795_610_813_677_553);
/// let peer = "127.0.0.1:50312".parse().ok();
/// assert_eq!(file_name(7, peer, t), "20261125T124653.677553Z_c7_127.0.0.1_50312.cap");
/// ```
pub fn file_name(id: u64, peer: Option<SocketAddr>, started: SystemTime) -> String {
    let (y, mo, d, h, mi, s, us) = utc(started);
    let peer = match peer {
        Some(p) => format!(
            "{}_{}",
            p.ip().to_canonical().to_string().replace(':', "-"),
            p.port()
        ),
        None => "nopeer".to_string(),
    };
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}.{us:06}Z_c{id}_{peer}.cap")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            connection: 7,
            started: "2026-11-25T12:46:53.677553Z".into(),
            peer: "127.0.0.1:50312".parse().ok(),
            local: "[::1]:8000".parse().ok(),
            max: 16 << 20,
            payloads: Payloads::Omitted,
            extra: vec![("root".into(), "/srv/www".into())],
        }
    }

    fn at(us: u64) -> Duration {
        Duration::from_micros(us)
    }

    fn rec(us: u64, event: Event) -> Record {
        Record { at: at(us), event }
    }

    #[test]
    fn every_record_reads_back_as_it_was_written() {
        let data_cases = [
            Data::whole(b""),
            Data::whole(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Data::whole(b"\n\n\nasynchat-capture 1\nend 0.1 0 0 done\n"),
            Data::whole(&[0, 255, b'\n', b'\r', 7]),
            Data::sized(1 << 40),
            Data {
                len: 20,
                kept: b"head\nmore.".to_vec(),
                omitted: vec![Span { at: 5, len: 4 }, Span { at: 14, len: 6 }],
            },
        ];
        let mut records = Vec::new();
        for (i, d) in data_cases.iter().enumerate() {
            records.push(rec(i as u64, Event::Read(d.clone())));
            records.push(rec(i as u64 * 1000, Event::Sent(d.clone())));
        }
        records.extend([
            rec(1_000_001, Event::Eof),
            rec(2_500_000, Event::Timeout),
            rec(2_500_001, Event::Capped),
            rec(
                3_000_000,
                Event::Truncated("the capture writer did not keep up".into()),
            ),
            rec(
                4_000_000,
                Event::End {
                    read: 123,
                    sent: 4567,
                    reason: "error: connection reset".into(),
                },
            ),
        ]);
        let capture = Capture {
            version: VERSION,
            header: header(),
            records,
            cut: None,
        };
        let bytes = write(&capture);
        assert_eq!(parse(&bytes), Ok(capture));
    }

    #[test]
    fn data_with_omitted_spans_has_zeros_in_their_place() {
        let d = Data {
            len: 9,
            kept: b"abcd".to_vec(),
            omitted: vec![Span { at: 1, len: 2 }, Span { at: 6, len: 3 }],
        };
        assert_eq!(d.bytes(), b"a\0\0bcd\0\0\0");
        assert_eq!(d.omitted_len(), 5);
        assert_eq!(Data::sized(3).bytes(), [0, 0, 0]);
        assert_eq!(Data::sized(0).omitted, []);
    }

    #[test]
    fn a_file_that_ends_early_is_cut_not_wrong() {
        let mut full = Vec::new();
        write_header(&mut full, &header());
        let header_len = full.len();
        write_record(&mut full, &rec(10, Event::Read(Data::whole(b"hello"))));
        let after_read = full.len();
        write_record(&mut full, &rec(20, Event::Eof));
        // Every prefix from the end of the header on reads, as far as it
        // goes, and says it was cut.
        for len in header_len..full.len() {
            let c = parse(&full[..len]).unwrap_or_else(|e| panic!("{len}: {e}"));
            let cut = c.cut.expect("cut");
            let want = if len < after_read { 0 } else { 1 };
            assert_eq!(c.records.len(), want, "{len}");
            if len == header_len || len == after_read {
                assert_eq!(cut.why, "the file ends without its end record");
            } else {
                assert_eq!(cut.why, "the file ends inside a record", "{len}");
            }
        }
    }

    #[test]
    fn newer_and_foreign_files_are_refused_with_a_reason() {
        let cases: &[(&[u8], ErrorKind)] = &[
            (b"asynchat-capture 2\nconnection 1\n", ErrorKind::Newer(2)),
            (b"asynchat-capture 99\n", ErrorKind::Newer(99)),
            (b"asynchat-capture x\n", ErrorKind::BadVersion("x".into())),
            (b"asynchat-capture 0\n", ErrorKind::BadVersion("0".into())),
            (b"asynchat-capture1\n", ErrorKind::BadVersion("1".into())),
            (b"GET / HTTP/1.1\r\n\r\n", ErrorKind::NotACapture),
            (b"", ErrorKind::NotACapture),
        ];
        for (input, want) in cases {
            let got = parse(input).map(|_| ()).unwrap_err();
            assert_eq!(&got.kind, want, "{:?}", String::from_utf8_lossy(input));
        }
        let newer = parse(b"asynchat-capture 2\n").unwrap_err().to_string();
        assert!(
            newer.contains("version 2, newer than this program reads (version 1"),
            "{newer}"
        );
    }

    #[test]
    fn malformed_headers_and_records_say_where() {
        let head = "asynchat-capture 1\nconnection 1\nstarted x\n\n";
        let cases: &[(&str, usize, &str)] = &[
            ("asynchat-capture 1\nstarted x\n\n", 30, "required"),
            ("asynchat-capture 1\nconnection one\n", 19, "not a number"),
            (
                "asynchat-capture 1\nconnection 1\nstarted x\npeer nowhere\n\n",
                42,
                "not an address",
            ),
            (
                "asynchat-capture 1\nconnection 1\nstarted x\npayloads some\n\n",
                42,
                "neither",
            ),
            (
                "asynchat-capture 1\nconnection 1\n",
                32,
                "ends inside the header",
            ),
            (
                &format!("{head}jump 0.1\n"),
                head.len(),
                "unknown record \"jump\"",
            ),
            (&format!("{head}eof\n"), head.len(), "no time"),
            (&format!("{head}eof soon\n"), head.len(), "bad time"),
            (&format!("{head}eof 1.5 x\n"), head.len(), "unexpected"),
            (&format!("{head}read 1 three\n"), head.len(), "bad length"),
            (
                &format!("{head}read 1 3\nabcd\n"),
                head.len() + 12,
                "not followed by a newline",
            ),
            (
                &format!("{head}read 1 3 skip 0+1\nab\n"),
                head.len(),
                "unexpected",
            ),
            (
                &format!("{head}read 1 3 omit 2+2\na\n"),
                head.len(),
                "past the data",
            ),
            (
                &format!("{head}read 1 9 omit 4+1,2+1\n"),
                head.len(),
                "out of order",
            ),
            (&format!("{head}read 1 9 omit 4+0\n"), head.len(), "empty"),
            (&format!("{head}end 1 x 0 done\n"), head.len(), "bytes read"),
            (
                &format!("{head}end 1 0 0 done\neof 2\n"),
                head.len() + 15,
                "after the end",
            ),
        ];
        for (input, at, what) in cases {
            let e = parse(input.as_bytes()).map(|_| ()).unwrap_err();
            assert_eq!(e.at, *at, "{input:?}: {e}");
            assert!(e.to_string().contains(what), "{input:?}: {e}");
        }
    }

    #[test]
    fn unknown_header_fields_are_kept_and_times_read_to_the_nanosecond() {
        let c = parse(b"asynchat-capture 1\nconnection 2\nstarted t\nlater-field some value\n\nend 1.5 0 0 done\n")
            .unwrap();
        assert_eq!(c.header.field("later-field"), Some("some value"));
        assert_eq!(c.end(), Some((Duration::from_millis(1500), 0, 0, "done")));
        let cases = [
            ("0", Some(Duration::ZERO)),
            ("12.000001", Some(at(12_000_001))),
            ("1.123456789", Some(Duration::new(1, 123_456_789))),
            ("1.", Some(Duration::from_secs(1))),
            ("1.1234567891", None),
            ("-1", None),
            (".5", None),
            ("1e3", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_time(text), want, "{text}");
        }
    }

    #[test]
    fn times_are_written_in_utc_to_the_microsecond() {
        let cases: &[(u64, &str)] = &[
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400_000_001, "2000-02-29T00:00:00.000001Z"),
            (1_795_610_813_677_553, "2026-11-25T12:46:53.677553Z"),
            (4_102_444_799_999_999, "2099-12-31T23:59:59.999999Z"),
        ];
        for &(us, want) in cases {
            assert_eq!(rfc3339(UNIX_EPOCH + at(us)), want);
        }
    }

    #[test]
    fn file_names_hold_no_character_a_shell_or_file_system_minds() {
        let t = UNIX_EPOCH + at(1_795_610_813_677_553);
        let cases: &[(Option<&str>, &str)] = &[
            (
                Some("127.0.0.1:50312"),
                "20261125T124653.677553Z_c7_127.0.0.1_50312.cap",
            ),
            (
                Some("[::1]:8000"),
                "20261125T124653.677553Z_c7_--1_8000.cap",
            ),
            (
                Some("[2001:db8::5%3]:9"),
                "20261125T124653.677553Z_c7_2001-db8--5_9.cap",
            ),
            (
                Some("[::ffff:10.0.0.1]:80"),
                "20261125T124653.677553Z_c7_10.0.0.1_80.cap",
            ),
            (None, "20261125T124653.677553Z_c7_nopeer.cap"),
        ];
        for (peer, want) in cases {
            let peer = peer.map(|p| p.parse().unwrap());
            let name = file_name(7, peer, t);
            assert_eq!(name, *want);
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{name}"
            );
        }
    }
}
