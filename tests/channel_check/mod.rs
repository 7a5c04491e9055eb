//! The properties of the HTTP channel, driven entirely in memory: shared by
//! the property test (`tests/channel_properties.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/http_channel.rs`), which both include this file by
//! path.
//!
//! [`check`] feeds the same input to an [`HttpChannel`] twice, once cut into
//! the reads (and interleaved sends, and back-pressure limits) of a [`Plan`]
//! and once as a single read with the default limits, driving each the way
//! the reactor does (a channel is read only while it is readable, a write
//! event comes while output is queued, end of stream is read only by a
//! readable channel), and panics when any of these fails:
//!
//! - **No panic** anywhere in the channel, the parser or the responses.
//! - **Back-pressure**: a record (the first callback of a terminator step)
//!   is delivered only to an open channel whose output queue is under its
//!   [`Limits`]; one step queues at most [`MAX_ITEMS_PER_RECORD`] items and
//!   [`MAX_BYTES_PER_RECORD`] bytes; so after every feed and send the queue
//!   holds fewer than `max_queued + MAX_ITEMS_PER_RECORD` items and
//!   `max_queued_bytes + MAX_BYTES_PER_RECORD` bytes. Input is held only while
//!   delivery is paused (by the queue's bound or the event's work bound),
//!   never more than the read just fed, and never while the channel is not
//!   writable (no write event would come back for it); the one exception is
//!   a partial terminator, the LF (and CR) that the next read may complete
//!   to the empty line ending a head.
//! - **Framing of the output**: it parses as a sequence of complete
//!   responses (Content-Length framing; no stray bytes, no CR or LF inside a
//!   field line), nothing follows a `Connection: close` response, and after
//!   end of stream the channel finishes with nothing left queued, nor held
//!   but such a partial terminator.
//! - **No more answers than requests**: final responses are at most the
//!   complete heads in the input (counted by [`complete_heads`], an
//!   independent upper bound), plus one 400/414/431 for a head that never
//!   ended (400: a request line that is not a token and a space);
//!   `100 Continue`s are at most the heads.
//! - **Split invariance**: both runs write the same bytes, once the `Date`
//!   values and the (random) multipart boundaries are normalised.
//! - **Containment**: no response carries [`CANARY`], the contents of a file
//!   next to the document root that symlinks inside it point to.

#![allow(dead_code)] // each includer uses a different part

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use asynchat::http::Config;
use asynchat::http::Shared;
use asynchat::http::conn::HttpChannel;
use asynchat::{AsyncChat, Channel, CloseReason, Limits, Terminator};

/// The contents of `outside/secret.txt`, next to the document root: must
/// never be sent.
pub const CANARY: &[u8] = b"canary-outside-the-root-5f1d0c";

/// The most output queue items one terminator step may push: a response is
/// at most six (status line, `Date`, fields, connection and blank line, and
/// a body of one piece, or two for a listing: its head and the rows it
/// shares with every path to the directory); `100 Continue` is pushed in a
/// step of its own.
pub const MAX_ITEMS_PER_RECORD: usize = 6;

/// The most output bytes one step may queue, each piece counted for what
/// it holds (`Piece::weight`): the largest response of [`Site`] (`big.bin`,
/// 40,000 bytes streamed from the disk, a span that weighs at least
/// `FILE_SPAN_WEIGHT`, 64 KiB) plus its head.
pub const MAX_BYTES_PER_RECORD: u64 = (64 + 4) * 1024;

/// A document root in a fresh temporary directory, with a secret next to
/// it; removed when dropped.
///
/// ```text
/// base/outside/secret.txt    CANARY
/// base/root/                 the document root
///   index.html, a.txt (1000 bytes), empty.txt, big.bin (40000 bytes,
///   streamed), "café menu.txt", .hidden, docs/index.html,
///   sub/note.txt, sub/deeper/x.txt (sub/ has no index: a listing),
///   link-out -> ../outside, secret-link -> ../outside/secret.txt
/// ```
///
/// No file contains `HTTP`, so no response body can start like a status
/// line: that is what lets [`parse_output`] tell a HEAD response (fields
/// with a Content-Length, no body) from a GET one without knowing the
/// requests.
pub struct Site {
    base: PathBuf,
    /// The document root.
    pub root: PathBuf,
}

impl Site {
    /// Creates the site under the system temporary directory.
    pub fn new(tag: &str) -> Site {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let base = std::env::temp_dir().join(format!("asynchat-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        let outside = base.join("outside");
        for dir in [&root.join("sub/deeper"), &root.join("docs"), &outside] {
            std::fs::create_dir_all(dir).expect("create the site");
        }
        let text: Vec<u8> = b"abcdefghijklmnopqrstuvwxyz0123456789\n"
            .iter()
            .copied()
            .cycle()
            .take(1000)
            .collect();
        // Consecutive bytes always differ, so "HTTP" cannot occur.
        let big: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let files: [(&str, &[u8]); 9] = [
            (
                "index.html",
                b"<!doctype html>\n<title>home</title>\n<p>the index page</p>\n",
            ),
            ("a.txt", &text),
            ("empty.txt", b""),
            ("big.bin", &big),
            ("caf\u{e9} menu.txt", b"soup of the day\n"),
            (".hidden", b"hidden\n"),
            ("docs/index.html", b"<!doctype html>\n<p>docs</p>\n"),
            ("sub/note.txt", b"a note\n"),
            ("sub/deeper/x.txt", b"x\n"),
        ];
        for (name, contents) in files {
            std::fs::write(root.join(name), contents).expect("write the site");
        }
        std::fs::write(outside.join("secret.txt"), CANARY).expect("write the secret");
        std::os::unix::fs::symlink("../outside", root.join("link-out")).expect("symlink");
        std::os::unix::fs::symlink("../outside/secret.txt", root.join("secret-link"))
            .expect("symlink");
        Site { base, root }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// One read of the input: `len` bytes (at least 1), then one send if
/// `send_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// Bytes in this read (clamped to what is left, at least 1).
    pub len: usize,
    /// Call `Channel::send` once after the read.
    pub send_after: bool,
}

/// How to deliver an input: its reads (cycled; none means one read of
/// everything) and the channel's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The reads, repeated until the input is used up.
    pub reads: Vec<Read>,
    /// The back-pressure bounds.
    pub limits: Limits,
}

impl Plan {
    /// The whole input as one read, with the default limits.
    pub fn one_read() -> Plan {
        Plan {
            reads: Vec::new(),
            limits: Limits::default(),
        }
    }
}

/// The handler under test, watched: every callback checks that the channel
/// keeps its side of the contract.
struct Watched {
    inner: HttpChannel,
    /// The queue (items, bytes) when the current terminator step began, or
    /// `None` between steps.
    step: Option<(usize, u64)>,
    /// `handle_eof` calls.
    eofs: usize,
}

impl Watched {
    /// The driver is between two calls into the channel: no step is open.
    fn between(&mut self) {
        self.step = None;
    }

    /// A callback that may begin a step: the first must find the channel
    /// open and under its bounds.
    fn enter(&mut self, chan: &Channel, what: &str) {
        if self.step.is_none() {
            assert!(!chan.is_closing(), "{what} delivered to a closing channel");
            assert!(
                !chan.is_paused(),
                "{what} delivered while the output queue is over its bound: {} items, {} bytes, {:?}",
                chan.fifo().len(),
                chan.fifo().queued_bytes(),
                chan.limits()
            );
            self.step = Some((chan.fifo().len(), chan.fifo().queued_bytes()));
        }
    }

    /// What the step queued so far stays within one record's worth.
    fn grown(&self, chan: &Channel) {
        let Some((items, bytes)) = self.step else {
            return;
        };
        let more_items = chan.fifo().len().saturating_sub(items);
        let more_bytes = chan.fifo().queued_bytes().saturating_sub(bytes);
        assert!(
            more_items <= MAX_ITEMS_PER_RECORD,
            "one step queued {more_items} items"
        );
        assert!(
            more_bytes <= MAX_BYTES_PER_RECORD,
            "one step queued {more_bytes} bytes"
        );
    }
}

impl AsyncChat for Watched {
    fn collect_incoming_data(&mut self, chan: &mut Channel, data: &[u8]) {
        assert!(!data.is_empty(), "collect_incoming_data with no data");
        self.enter(chan, "collect_incoming_data");
        self.inner.collect_incoming_data(chan, data);
        self.grown(chan);
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        self.enter(chan, "found_terminator");
        self.inner.found_terminator(chan);
        self.grown(chan);
        self.step = None;
    }

    fn handle_sent(&mut self, chan: &mut Channel, sent: u64) {
        self.step = None;
        self.inner.handle_sent(chan, sent);
    }

    fn handle_connect(&mut self, chan: &mut Channel) {
        self.inner.handle_connect(chan);
    }

    fn handle_eof(&mut self, chan: &mut Channel) {
        self.step = None;
        self.eofs += 1;
        assert_eq!(self.eofs, 1, "handle_eof ran twice");
        assert!(chan.at_eof(), "handle_eof before end of stream");
        assert!(!chan.is_paused(), "handle_eof while paused");
        self.inner.handle_eof(chan);
    }

    fn handle_timeout(&mut self, chan: &mut Channel) {
        self.inner.handle_timeout(chan);
    }

    fn handle_wake(&mut self, chan: &mut Channel) {
        self.inner.handle_wake(chan);
    }

    fn handle_stop(&mut self, chan: &mut Channel) {
        self.inner.handle_stop(chan);
    }

    fn handle_close(&mut self, chan: &mut Channel, reason: CloseReason) {
        self.inner.handle_close(chan, reason);
    }
}

/// The channel holds no input, or only the LF (and CR) that may start the
/// empty line ending a head: what the next read completes, not what a
/// write event should deliver.
fn holds_at_most_a_partial_terminator(chan: &Channel) -> bool {
    match chan.pending_input() {
        b"" => true,
        b"\n" | b"\n\r" => matches!(chan.get_terminator(), Terminator::BlankLine),
        _ => false,
    }
}

/// The channel, its watched handler and what it wrote.
struct Driver {
    chan: Channel,
    handler: Watched,
    output: Vec<u8>,
    sends: usize,
}

/// More sends than this without finishing means the channel is stuck.
const MAX_SENDS: usize = 1 << 20;

impl Driver {
    /// The bounds that hold after every feed and send; `read` is the most
    /// input the channel may hold now.
    fn check_bounds(&self, read: usize, when: &str) {
        let chan = &self.chan;
        let limits = chan.limits();
        let pending = chan.pending_input().len();
        let (items, bytes) = (chan.fifo().len(), chan.fifo().queued_bytes());
        // An LF and a CR held back from the read before may be held with
        // this one.
        let partial = if matches!(chan.get_terminator(), Terminator::BlankLine) {
            2
        } else {
            0
        };
        assert!(
            pending <= read + partial,
            "after {when}: {pending} bytes of input held, more than the {read} fed"
        );
        assert!(
            holds_at_most_a_partial_terminator(chan) || chan.is_paused(),
            "after {when}: {pending} bytes of input held while not paused ({items} items, {bytes} bytes queued)"
        );
        assert!(
            items < limits.max_queued + MAX_ITEMS_PER_RECORD,
            "after {when}: {items} items queued, limits {limits:?}"
        );
        assert!(
            bytes < limits.max_queued_bytes + MAX_BYTES_PER_RECORD,
            "after {when}: {bytes} bytes queued, limits {limits:?}"
        );
    }

    /// One write event.
    fn send(&mut self) {
        self.sends += 1;
        assert!(self.sends < MAX_SENDS, "the channel makes no progress");
        let held = self.chan.pending_input().len();
        self.handler.between();
        self.chan
            .send(&mut self.handler, &mut self.output)
            .expect("writing to a Vec cannot fail");
        self.handler.between();
        self.check_bounds(held, "send");
        assert!(
            holds_at_most_a_partial_terminator(&self.chan) || self.chan.writable(),
            "after send: input held by a channel that is not writable, so no write event would deliver it"
        );
    }

    /// Write events until the reactor would read again (or never will).
    fn until_readable(&mut self) {
        while !self.chan.readable() && !self.chan.is_closing() && !self.chan.at_eof() {
            self.send();
        }
    }
}

/// What one run wrote, and how much of the input it read.
pub struct Driven {
    /// Every byte the channel sent.
    pub output: Vec<u8>,
    /// Input bytes fed (the rest was never read: the channel was closing).
    pub fed: usize,
}

/// Drives a fresh [`HttpChannel`] serving `root` through `input` as `plan`
/// says, then end of stream, then write events until it is done; checks the
/// channel's bounds along the way.
pub fn drive(root: &Path, input: &[u8], plan: &Plan) -> Driven {
    let shared =
        Shared::new(Config::new(root).expect("the site is servable")).expect("the root opens");
    let mut chan = Channel::new(HttpChannel::initial_terminator());
    chan.set_limits(plan.limits);
    let mut d = Driver {
        chan,
        handler: Watched {
            inner: HttpChannel::new(shared),
            step: None,
            eofs: 0,
        },
        output: Vec::new(),
        sends: 0,
    };
    let mut reads = plan.reads.iter().cycle();
    let mut fed = 0;
    while fed < input.len() {
        d.until_readable();
        if !d.chan.readable() {
            break; // closing: the rest is never read
        }
        let read = reads.next().copied().unwrap_or(Read {
            len: usize::MAX,
            send_after: false,
        });
        let n = read.len.clamp(1, input.len() - fed);
        assert!(
            holds_at_most_a_partial_terminator(&d.chan),
            "a readable channel holds input: {:?}",
            d.chan.pending_input()
        );
        d.handler.between();
        d.chan.feed(&mut d.handler, &input[fed..fed + n]);
        fed += n;
        d.check_bounds(n, "feed");
        if read.send_after {
            d.send();
        }
    }
    // End of stream is seen only by a channel the reactor reads.
    d.until_readable();
    if d.chan.readable() {
        d.handler.between();
        d.chan.feed_eof(&mut d.handler);
        d.check_bounds(0, "feed_eof");
    }
    while d.chan.writable() {
        d.send();
    }
    // A partial terminator is all the end of stream may leave: a record
    // it will never complete.
    assert!(
        holds_at_most_a_partial_terminator(&d.chan),
        "finished with {} bytes of input held",
        d.chan.pending_input().len()
    );
    assert!(
        d.chan.is_done(),
        "after end of stream and all output sent, the channel is not done"
    );
    Driven {
        output: d.output,
        fed,
    }
}

/// One response as it was framed on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// It carried `Connection: close`.
    pub close: bool,
    /// Its body's length on the wire (0 for a HEAD response).
    pub body: usize,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn shown(bytes: &[u8]) -> String {
    let end = bytes.len().min(80);
    format!("\"{}\"", bytes[..end].escape_ascii())
}

/// Parses the output into responses, with Content-Length framing, and
/// returns them with the output as it would be with every `Date` value
/// and every multipart boundary replaced by `*`.
///
/// A response whose Content-Length is not followed by that many body bytes
/// but by the next status line (or the end of the output) is a HEAD
/// response: no body in [`Site`] starts with `HTTP/`.
///
/// # Errors
///
/// What is malformed, and where.
pub fn parse_output(out: &[u8]) -> Result<(Vec<Response>, Vec<u8>), String> {
    const STATUS_LINE: &[u8] = b"HTTP/1.1 ";
    let mut responses = Vec::new();
    let mut normal = Vec::with_capacity(out.len());
    let mut pos = 0;
    while pos < out.len() {
        let rest = &out[pos..];
        if !rest.starts_with(STATUS_LINE) {
            return Err(format!("at byte {pos}: no status line: {}", shown(rest)));
        }
        let head_len = find(rest, b"\r\n\r\n")
            .ok_or_else(|| format!("at byte {pos}: unterminated head: {}", shown(rest)))?
            + 4;
        let status = std::str::from_utf8(&rest[9..12.min(head_len)])
            .ok()
            .filter(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("at byte {pos}: bad status: {}", shown(rest)))?;
        let mut content_length = None;
        let mut close = false;
        // Each line of the head with its CRLF, the blank line excepted.
        let lines = &rest[..head_len - 2];
        let count = lines.iter().filter(|&&b| b == b'\n').count();
        for (i, line) in lines.split(|&b| b == b'\n').take(count).enumerate() {
            let Some(line) = line.strip_suffix(b"\r") else {
                return Err(format!("at byte {pos}: bare LF in the head"));
            };
            if line.contains(&b'\r') {
                return Err(format!("at byte {pos}: bare CR in {}", shown(line)));
            }
            if i == 0 {
                normal.extend_from_slice(line);
                normal.extend_from_slice(b"\r\n");
                continue;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return Err(format!(
                    "at byte {pos}: field without a colon: {}",
                    shown(line)
                ));
            };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"date") {
                normal.extend_from_slice(b"Date: *\r\n");
                continue;
            }
            normal.extend_from_slice(line);
            normal.extend_from_slice(b"\r\n");
            if name.eq_ignore_ascii_case(b"content-length") {
                let n = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok())
                    .ok_or_else(|| format!("at byte {pos}: bad Content-Length"))?;
                if content_length.replace(n).is_some() {
                    return Err(format!("at byte {pos}: two Content-Length fields"));
                }
            } else if name.eq_ignore_ascii_case(b"connection")
                && value.eq_ignore_ascii_case(b"close")
            {
                close = true;
            }
        }
        normal.extend_from_slice(b"\r\n");
        let after = &rest[head_len..];
        let body = if status < 200 || status == 304 {
            0
        } else {
            let n = content_length
                .ok_or_else(|| format!("at byte {pos}: {status} without Content-Length"))?;
            if after.is_empty() || after.starts_with(STATUS_LINE) {
                0 // a HEAD response (or an empty body)
            } else if after.len() < n {
                return Err(format!(
                    "at byte {pos}: {status} body of {} bytes, Content-Length {n}",
                    after.len()
                ));
            } else {
                n
            }
        };
        normal.extend_from_slice(&after[..body]);
        responses.push(Response {
            status,
            close,
            body,
        });
        pos += head_len + body;
    }
    Ok((responses, without_boundaries(&normal)))
}

/// `out` with every multipart boundary (`asynchat-` and 32 hex digits,
/// random for each response) written as `asynchat-*`.
fn without_boundaries(out: &[u8]) -> Vec<u8> {
    const PREFIX: &[u8] = b"asynchat-";
    let mut normal = Vec::with_capacity(out.len());
    let mut rest = out;
    while let Some(i) = find(rest, PREFIX) {
        let after = &rest[i + PREFIX.len()..];
        let hex = after.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        normal.extend_from_slice(&rest[..i + PREFIX.len()]);
        if hex == 32 {
            normal.push(b'*');
            rest = &after[32..];
        } else {
            rest = after;
        }
    }
    normal.extend_from_slice(rest);
    normal
}

/// An upper bound on the request heads the server can have completed in
/// `input`: the blank lines (`""` or `"\r"` before a `\n`) that follow a
/// non-blank line, lines being cut at every `\n` whatever the framing.
///
/// Each head the server completes ends in a blank line `L` that follows its
/// previous line `P`, which is non-blank and ends in `\n`. `L` lies between
/// two `\n`, so it is a line of this scan too; the line before it in this
/// scan ends where `P` ends and, since `P` holds no `\n`, has `P` as a
/// suffix, so it is non-blank too. Distinct heads have distinct `L`. Bodies
/// may add more blank lines here, never fewer.
pub fn complete_heads(input: &[u8]) -> usize {
    let terminated = input.iter().filter(|&&b| b == b'\n').count();
    let mut heads = 0;
    let mut after_text = false;
    for line in input.split(|&b| b == b'\n').take(terminated) {
        let blank = matches!(line, b"" | b"\r");
        if blank && after_text {
            heads += 1;
        }
        after_text = !blank;
    }
    heads
}

/// Where two outputs first differ, with some context.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(40);
    let mut s = String::new();
    let _ = write!(
        s,
        "outputs of {} and {} bytes differ at byte {at}:\n  split: {}\n  whole: {}",
        a.len(),
        b.len(),
        shown(&a[from..]),
        shown(&b[from..])
    );
    s
}

/// Runs `input` as `plan` says and as one read, and checks every property
/// listed in the module documentation; panics on the first that fails.
pub fn check(root: &Path, input: &[u8], plan: &Plan) {
    let split = drive(root, input, plan);
    let whole = drive(root, input, &Plan::one_read());
    let (responses, split_normal) =
        parse_output(&split.output).unwrap_or_else(|e| panic!("split output: {e}"));
    let (_, whole_normal) =
        parse_output(&whole.output).unwrap_or_else(|e| panic!("whole output: {e}"));
    assert!(
        split_normal == whole_normal,
        "split invariance: {}",
        first_difference(&split_normal, &whole_normal)
    );
    assert!(
        find(&split.output, CANARY).is_none(),
        "a file outside the root was sent"
    );

    if let Some(i) = responses.iter().position(|r| r.close) {
        assert_eq!(
            i + 1,
            responses.len(),
            "a response follows one with Connection: close"
        );
    }
    let heads = complete_heads(&input[..split.fed.max(whole.fed)]);
    let interim = responses.iter().filter(|r| r.status < 200).count();
    let finals = responses.len() - interim;
    assert!(
        interim <= heads,
        "{interim} interim responses for at most {heads} complete heads"
    );
    // A head that never ended gets one last response, then the close: 414
    // or 431 when it is too long, 400 when its request line does not start
    // with a token and a space (what is not HTTP is refused at once).
    let unfinished = responses
        .last()
        .is_some_and(|r| r.close && matches!(r.status, 400 | 414 | 431));
    assert!(
        finals <= heads + usize::from(unfinished),
        "{finals} responses for at most {heads} complete heads: {:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
}
