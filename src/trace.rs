//! The connection trace: one line for every event of a traced channel.
//!
//! A traced [`Channel`](crate::Channel) carries a [`Trace`]: a tag (the
//! connection id and the peer) and a [`Sink`] the lines go to. Every event
//! of the terminator machinery is a line: bytes read, each terminator
//! search and where it matched, every `set_terminator` with the old and new
//! terminator, each `collect_incoming_data` and `found_terminator`, each
//! piece or producer pushed, each write (bytes, pieces gathered, `sendfile`
//! or not), back-pressure on and off, timeouts, and the close with its
//! reason. The HTTP channel adds the request heads it parsed and its framing
//! decision.
//!
//! ```text
//! #1 127.0.0.1:50312 read 37 bytes "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
//! #1 127.0.0.1:50312 search "\n": found at 14 of 37
//! #1 127.0.0.1:50312 collect_incoming_data 15 bytes "GET / HTTP/1.1\r"
//! #1 127.0.0.1:50312 found_terminator
//! ```
//!
//! A channel without a trace pays one `Option` test per event, nothing
//! more. Connections decide once, when they are accepted, from
//! [`wanted`]: the `asynchat::trace` log target must be enabled at trace
//! level (`--trace`, or `RUST_LOG=asynchat=trace`), and the connection must
//! pass the [`Filter`]s set with [`set_filters`] (`--trace-filter`).
//! Drivers without a socket (tests, `examples/replay`, the guide) attach
//! a trace with their own sink through
//! [`Channel::set_trace`](crate::Channel::set_trace). Events are recorded
//! with the [`trace!`](crate::trace!) macro.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::terminator::{Step, Terminator};

/// Records one event on a channel's trace, when it has one: the trace is
/// an `Option<&Trace>` (such as `chan.tracer()`), the rest is a format
/// string and its arguments, formatted only when the channel is traced.
///
/// ```
/// use asynchat::{Channel, trace};
/// use asynchat::trace::Trace;
///
/// let mut chan = Channel::new(b"\n");
/// trace!(chan.tracer(), "not traced: {}", "never formatted");
/// let (t, lines) = Trace::collect("#1");
/// chan.set_trace(Some(t));
/// trace!(chan.tracer(), "head {}: {}", "GET /", "no body");
/// assert_eq!(*lines.borrow(), ["head GET /: no body"]);
/// ```
#[macro_export]
macro_rules! trace {
    ($trace:expr, $($arg:tt)+) => {
        if let Some(t) = $trace {
            $crate::trace::Trace::event(t, format_args!($($arg)+));
        }
    };
}

/// The log target trace lines are written to.
pub const TARGET: &str = "asynchat::trace";

/// How many bytes of data a trace line shows before it shortens them.
pub const SHOWN: usize = 48;

/// Where trace lines go.
#[derive(Clone, Default)]
pub enum Sink {
    /// To the `log` crate, target [`TARGET`], level trace.
    #[default]
    Log,
    /// To a list of lines (without the tag), for tests and replays.
    Lines(Rc<RefCell<Vec<String>>>),
}

/// The trace of one channel: its tag and where its lines go.
#[derive(Clone)]
pub struct Trace {
    tag: Box<str>,
    sink: Sink,
    /// What a nested channel's lines are marked with where the sink keeps
    /// no tag ([`Trace::nested`]); empty for a connection's own trace.
    inner: Box<str>,
}

impl Trace {
    /// A trace whose lines start with `tag` and go to `sink`.
    pub fn new(tag: impl Into<String>, sink: Sink) -> Trace {
        Trace {
            tag: tag.into().into_boxed_str(),
            sink,
            inner: Box::default(),
        }
    }

    /// The trace of an accepted connection, to the log: tagged
    /// `#ID PEER`, or `#ID wN PEER` on a thread that [`set_worker`] named
    /// worker N.
    pub fn for_connection(id: u64, peer: Option<SocketAddr>) -> Trace {
        let mut tag = format!("#{id}");
        if let Some(worker) = WORKER.get() {
            let _ = write!(tag, " w{worker}");
        }
        if let Some(peer) = peer {
            // An IPv4 client of a server bound to `::` shows as IPv4.
            let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
            let _ = write!(tag, " {peer}");
        }
        Trace::new(tag, Sink::Log)
    }

    /// A trace that collects its lines into a list, returned with it.
    pub fn collect(tag: impl Into<String>) -> (Trace, Rc<RefCell<Vec<String>>>) {
        let lines = Rc::new(RefCell::new(Vec::new()));
        (Trace::new(tag, Sink::Lines(Rc::clone(&lines))), lines)
    }

    /// A trace to the same place, tagged with this one's tag and `what`:
    /// a channel inside this one's channel (an upload form's parts). Where
    /// the lines keep no tag ([`Trace::collect`]), they start `what: `.
    pub fn nested(&self, what: &str) -> Trace {
        Trace {
            tag: format!("{} {what}", self.tag).into_boxed_str(),
            sink: self.sink.clone(),
            inner: format!("{what}: ").into_boxed_str(),
        }
    }

    /// The tag that starts every line.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Records one event.
    pub fn event(&self, what: fmt::Arguments<'_>) {
        match &self.sink {
            Sink::Log => log::trace!(target: TARGET, "{} {what}", self.tag),
            Sink::Lines(lines) if self.inner.is_empty() => {
                lines.borrow_mut().push(what.to_string())
            }
            Sink::Lines(lines) => lines.borrow_mut().push(format!("{}{what}", self.inner)),
        }
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace").field("tag", &self.tag).finish()
    }
}

/// Bytes as a quoted, escaped string, shortened to [`SHOWN`] bytes with
/// the number left out: `"GET / HTTP/1.1\r\n"...+120`.
pub struct Shown<'a>(pub &'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (head, rest) = self.0.split_at(self.0.len().min(SHOWN));
        f.write_char('"')?;
        for &b in head {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                b'\r' => f.write_str("\\r")?,
                b'\n' => f.write_str("\\n")?,
                b'\t' => f.write_str("\\t")?,
                0x20..=0x7e => f.write_char(b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_char('"')?;
        if !rest.is_empty() {
            write!(f, "...+{}", rest.len())?;
        }
        Ok(())
    }
}

/// Text from a request (a target, say) as a log line or the trace may show
/// it: one line, whatever it holds. Every character that could end a line
/// or pass for the end of one in some reader is escaped: C0 controls and
/// DEL as `\xNN`, C1 controls (U+0085 NEL, U+009B CSI among them) and the
/// Unicode line and paragraph separators (U+2028, U+2029) and the format
/// characters that reorder or hide text (U+202E, U+200B, ...) as
/// `\u{NNNN}`;
/// `"` and `\` are escaped too, so the text can sit between quotes (the
/// request of a Common Log Format line). Anything else is shown as it is.
///
/// ```
/// use asynchat::trace::Escaped;
/// assert_eq!(Escaped("/a b\n\u{2028}\"").to_string(), r#"/a b\x0a\u{2028}\""#);
/// ```
pub struct Escaped<'a>(pub &'a str);

/// The bytes [`Escaped`] shows as they are: printable ASCII but `"` and
/// `\\`. A table, since every access-log line asks of each byte of its
/// target.
static PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        plain[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    plain
};

impl Escaped<'_> {
    /// True when the text is printable ASCII with nothing to escape, as
    /// most targets are.
    fn is_plain(&self) -> bool {
        self.0.as_bytes().iter().all(|&b| PLAIN[usize::from(b)])
    }

    /// Appends the escaped text to `out`, as `Display` shows it.
    pub fn render(&self, out: &mut Vec<u8>) {
        if self.is_plain() {
            out.extend_from_slice(self.0.as_bytes());
        } else {
            // Writing to a Vec cannot fail.
            let _ = std::io::Write::write_fmt(out, format_args!("{self}"));
        }
    }
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_plain() {
            return f.write_str(self.0);
        }
        let needs = |c: char| c.is_control() || matches!(c, '"' | '\\') || is_format(c);
        let mut rest = self.0;
        while let Some(i) = rest.find(needs) {
            f.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().unwrap_or_default();
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x80 => write!(f, "\\x{:02x}", c as u32)?,
                c => write!(f, "\\u{{{:04x}}}", c as u32)?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// Unicode's line and paragraph separators (Zl, Zp) and every format
/// character (Cf), which change how a terminal shows the text around them
/// or hide themselves: bidirectional overrides and isolates, zero-width
/// joiners and spaces, the soft hyphen, the byte-order mark, the musical
/// and Egyptian formatting controls, the tag characters. Escaped, so that
/// a log line reads as it is. The table is Unicode 15.1's
/// `DerivedGeneralCategory.txt` for Cf.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{2028}'
            | '\u{2029}'
            | '\u{00ad}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061c}'
            | '\u{06dd}'
            | '\u{070f}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// A producer's size for the trace: `: N bytes` when it is known, nothing
/// when it is not.
pub(crate) struct Size(pub Option<u64>);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, ": {n} bytes"),
            None => Ok(()),
        }
    }
}

/// One step of the terminator loop, with the terminator it searched for,
/// as the trace shows it.
pub(crate) struct Searched<'a>(pub &'a Terminator, pub Step);

impl fmt::Display for Searched<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let term = self.0;
        match self.1 {
            Step::Found { at, of, .. } => write!(f, "search {term}: found at {at} of {of}"),
            Step::NotFound { of, held: 0 } => write!(f, "search {term}: not in {of}"),
            Step::NotFound { of, held } => write!(
                f,
                "search {term}: not in {of}, holding {held} that may start it"
            ),
            Step::Counted { took, left: 0 } => write!(f, "count: took {took}, complete"),
            Step::Counted { took, left } => write!(f, "count: took {took}, {left} to go"),
            Step::CollectAll { of } => write!(f, "no terminator ({term}): collect all {of}"),
        }
    }
}

/// Which connections to trace: `--trace-filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// The connection with this id (`7` or `#7`).
    Id(u64),
    /// Every connection from this address (`127.0.0.1`, `::1`).
    Ip(IpAddr),
    /// The connection from this address and port (`127.0.0.1:50312`).
    Peer(SocketAddr),
}

impl Filter {
    /// True when the connection `id` from `peer` passes this filter.
    pub fn matches(&self, id: u64, peer: Option<SocketAddr>) -> bool {
        // An IPv4 client of a server bound to `::` shows as
        // `::ffff:a.b.c.d`; it matches `a.b.c.d`.
        let same_ip = |a: IpAddr, b: IpAddr| a.to_canonical() == b.to_canonical();
        match *self {
            Filter::Id(want) => id == want,
            Filter::Ip(ip) => peer.is_some_and(|p| same_ip(p.ip(), ip)),
            Filter::Peer(want) => {
                peer.is_some_and(|p| same_ip(p.ip(), want.ip()) && p.port() == want.port())
            }
        }
    }
}

/// A `--trace-filter` that is neither a connection id nor an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFilter(pub String);

impl fmt::Display for BadFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a connection id (7 or #7), an IP address or an address:port",
            self.0
        )
    }
}

impl std::error::Error for BadFilter {}

impl FromStr for Filter {
    type Err = BadFilter;

    fn from_str(s: &str) -> Result<Filter, BadFilter> {
        let id = s.strip_prefix('#').unwrap_or(s);
        if let Ok(id) = id.parse() {
            return Ok(Filter::Id(id));
        }
        if let Ok(peer) = s.parse() {
            return Ok(Filter::Peer(peer));
        }
        // `[::1]` is how an IPv6 address appears in URLs and in the trace.
        let bare = s.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
        match bare.unwrap_or(s).parse() {
            Ok(ip) => Ok(Filter::Ip(ip)),
            Err(_) => Err(BadFilter(s.to_string())),
        }
    }
}

static FILTERS: OnceLock<Vec<Filter>> = OnceLock::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The worker this thread runs, when a server has several.
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Names the worker this thread runs (`Some(1)`: worker 1), so that the
/// connections it traces from now on are tagged `#ID w1 PEER`; `None`, as
/// threads start, leaves the tag `#ID PEER`. A server with one worker
/// leaves it so.
pub fn set_worker(worker: Option<usize>) {
    WORKER.set(worker);
}

/// Limits the trace to connections that pass any of `filters` (all
/// connections when it is empty, or when this is never called). Only the
/// first call has an effect; returns false for the others.
pub fn set_filters(filters: Vec<Filter>) -> bool {
    FILTERS.set(filters).is_ok()
}

/// A new connection id: 1, 2, 3, ... in the order connections are made.
pub fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Whether the connection `id` from `peer` is to be traced: the trace
/// target is enabled and the connection passes the filters.
pub fn wanted(id: u64, peer: Option<SocketAddr>) -> bool {
    log::log_enabled!(target: TARGET, log::Level::Trace)
        && FILTERS
            .get()
            .is_none_or(|f| f.is_empty() || f.iter().any(|f| f.matches(id, peer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_escaped_and_shortened() {
        let cases: &[(&[u8], &str)] = &[
            (b"", r#""""#),
            (b"GET / HTTP/1.1\r\n", r#""GET / HTTP/1.1\r\n""#),
            (b"a\"b\\c\td\x00\xff", r#""a\"b\\c\td\x00\xff""#),
            (&[b'x'; SHOWN], &format!("\"{}\"", "x".repeat(SHOWN))),
            (
                &[b'x'; SHOWN + 5],
                &format!("\"{}\"...+5", "x".repeat(SHOWN)),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(Shown(bytes).to_string(), *want, "{bytes:?}");
        }
    }

    #[test]
    fn request_text_is_one_line_in_every_reader() {
        let cases: &[(&str, &str)] = &[
            ("/plain/path?q=1", "/plain/path?q=1"),
            ("/caf\u{e9}/\u{1f600}", "/caf\u{e9}/\u{1f600}"),
            ("a\nb\rc\td\x00e\x1b", "a\\x0ab\\x0dc\\x09d\\x00e\\x1b"),
            ("del\x7f", "del\\x7f"),
            ("nel\u{85}csi\u{9b}", "nel\\u{0085}csi\\u{009b}"),
            ("ls\u{2028}ps\u{2029}", "ls\\u{2028}ps\\u{2029}"),
            ("rlo\u{202e}txt.exe", "rlo\\u{202e}txt.exe"),
            (
                "zw\u{200b}j\u{200d}bom\u{feff}",
                "zw\\u{200b}j\\u{200d}bom\\u{feff}",
            ),
            ("q\"b\\", "q\\\"b\\\\"),
            ("soft\u{ad}hyphen", "soft\\u{00ad}hyphen"),
            ("tag\u{e0041}\u{e007f}", "tag\\u{e0041}\\u{e007f}"),
            ("beam\u{1d173}", "beam\\u{1d173}"),
            ("arabic\u{600}\u{6dd}", "arabic\\u{0600}\\u{06dd}"),
            ("", ""),
        ];
        for &(input, want) in cases {
            assert_eq!(Escaped(input).to_string(), want, "{input:?}");
        }
    }

    #[test]
    fn filters_parse_ids_addresses_and_peers() {
        let peer: SocketAddr = "127.0.0.1:50312".parse().unwrap();
        let v6: SocketAddr = "[::1]:8000".parse().unwrap();
        let cases: &[(&str, Filter)] = &[
            ("7", Filter::Id(7)),
            ("#7", Filter::Id(7)),
            ("127.0.0.1", Filter::Ip(peer.ip())),
            ("127.0.0.1:50312", Filter::Peer(peer)),
            ("::1", Filter::Ip(v6.ip())),
            ("[::1]", Filter::Ip(v6.ip())),
            ("[::1]:8000", Filter::Peer(v6)),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Filter>().as_ref(), Ok(want), "{text}");
        }
        for bad in ["", "#", "#x", "localhost", "127.0.0.1:", "-1", "1.2.3"] {
            assert!(bad.parse::<Filter>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn filters_match_by_id_ip_or_peer() {
        let peer: SocketAddr = "127.0.0.1:50312".parse().unwrap();
        let other: SocketAddr = "127.0.0.2:50312".parse().unwrap();
        let id7 = Filter::Id(7);
        assert!(id7.matches(7, Some(peer)) && !id7.matches(8, Some(peer)));
        let ip = Filter::Ip(peer.ip());
        assert!(ip.matches(1, Some(peer)) && !ip.matches(1, Some(other)));
        assert!(!ip.matches(1, None));
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:50312".parse().unwrap();
        assert!(
            ip.matches(1, Some(mapped)),
            "an IPv4-mapped peer is its IPv4 address"
        );
        assert!(Filter::Peer(peer).matches(1, Some(mapped)));
        assert!(Filter::Peer(mapped).matches(1, Some(peer)));
        let exact = Filter::Peer(peer);
        let next_port: SocketAddr = "127.0.0.1:50313".parse().unwrap();
        assert!(exact.matches(9, Some(peer)) && !exact.matches(9, Some(next_port)));
    }

    #[test]
    fn a_worker_s_connections_are_tagged_with_it() {
        let peer: SocketAddr = "[::ffff:127.0.0.1]:50312".parse().unwrap();
        let tags = std::thread::spawn(move || {
            let alone = Trace::for_connection(12, Some(peer)).tag().to_string();
            set_worker(Some(1));
            let named = Trace::for_connection(12, Some(peer)).tag().to_string();
            let no_peer = Trace::for_connection(13, None).tag().to_string();
            (alone, named, no_peer)
        })
        .join()
        .unwrap();
        assert_eq!(tags.0, "#12 127.0.0.1:50312");
        assert_eq!(tags.1, "#12 w1 127.0.0.1:50312");
        assert_eq!(tags.2, "#13 w1");
    }

    #[test]
    fn collected_lines_leave_the_tag_out() {
        let (trace, lines) = Trace::collect("#1");
        trace.event(format_args!("read {} bytes", 3));
        assert_eq!(trace.tag(), "#1");
        assert_eq!(*lines.borrow(), ["read 3 bytes"]);
    }
}
