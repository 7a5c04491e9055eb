//! Replays a capture through the HTTP channel, offline: prints every
//! callback of the terminator machinery, the responses, and how they
//! compare with the ones the server sent.
//!
//! ```text
//! cargo run --example replay -- CAPTURE.cap                # as it happened, compared
//! cargo run --example replay -- --times CAPTURE.cap        # ... with each event's time
//! cargo run --example replay -- examples/captures/post-then-get.http
//! cargo run --example replay -- --chunk 7 examples/captures/chunked-post-trailers.http
//! cargo run --example replay -- --random 42 examples/captures/pipelined-gets.http
//! cargo run --example replay -- --check examples/captures/*
//! ```
//!
//! A capture made by `asynchat-httpd --capture DIR` (see
//! `asynchat::capture::format`) is replayed as it happened: its reads, with
//! their recorded boundaries, its timeouts and its end of stream go to the
//! channel in order, and the output is written as the socket took it (each
//! recorded write lets as many bytes out). The responses are then compared
//! with the recorded ones, `Date` values aside, and the first byte where
//! they differ is shown. When they differ, each response is compared with
//! its recorded one, so that a replay against another root names the files
//! that differ (status, validators, length, body) as the cause. A file that
//! does not start with `asynchat-capture` is a plain byte stream from a
//! client, as the `.http` files here are: it is fed in one read.
//!
//! `--chunk N` and `--random SEED` cut the input into reads of N bytes or of
//! random sizes instead; `--check` replays each input in many splits (the
//! recorded reads, one read, every size from 1 to 64 bytes, 64 random
//! splits) and says whether every one answered byte for byte the same. The
//! lines printed are the ones `asynchat-httpd --trace` prints for a real
//! connection, without the connection tag.
//!
//! Exit status: 0 when the responses are the same, 2 when they differ from
//! the recorded ones (or between splits), 1 for input that cannot be read,
//! such as a capture of a newer format version.
//!
//! This is an example rather than a subcommand of `asynchat-httpd` because
//! it is a debugging tool for the channel: it prints the channel's inner
//! workings and compares HTTP responses, none of which the server itself
//! needs, and it keeps the server's command line (`asynchat-httpd [ROOT]`)
//! free of a word that could be a directory's name.

mod compare;

use std::io::{self, IoSlice, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use asynchat::capture::format::{self, Capture, Event, Payloads};
use asynchat::http::Config;
use asynchat::http::Shared;
use asynchat::http::conn::HttpChannel;
use asynchat::trace::{Shown, Trace};
use asynchat::{AsyncChat, Channel, Transport};
use clap::Parser;

use compare::{Responded, Verdict};

/// Replay a capture, or a client's byte stream, through the HTTP channel.
#[derive(Parser)]
#[command(name = "replay")]
struct Args {
    /// Captures (`asynchat-httpd --capture`), or client bytes (`-` for
    /// standard input).
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// Feed the input in reads of this many bytes.
    #[arg(long, value_name = "N", conflicts_with = "random",
          value_parser = clap::value_parser!(u64).range(1..))]
    chunk: Option<u64>,
    /// Feed the input in reads of random sizes (1 to 32 bytes) from this seed.
    #[arg(long, value_name = "SEED")]
    random: Option<u64>,
    /// The directory the requests are served from. By default, the one the
    /// capture was served from if it is still there, else the demo site.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Print no trace, only whether the responses are the same for many
    /// splits of the input.
    #[arg(long, conflicts_with_all = ["chunk", "random"])]
    check: bool,
    /// Start each trace line of a capture with the time (seconds since the
    /// connection was accepted) of the recorded event it follows.
    #[arg(long)]
    times: bool,
    /// Store uploads (PUT, forms) as `asynchat-httpd --upload` would, under
    /// `--root`, which must be given: a replay never writes to the root a
    /// capture was served from unless told to. Without it an upload is
    /// answered as by a server without `--upload` (405).
    #[arg(long, requires = "root")]
    upload: bool,
}

/// The most traffic a capture may record for a replay: the replay holds a
/// connection's input, its output and the recorded output in memory, with
/// zeros for what the capture left out (a download sent with `sendfile`
/// is all zeros), so a larger one is refused rather than exhausting it.
const MAX_TRAFFIC: u64 = 1 << 30;

/// The demo site, the root when nothing says otherwise.
const WWW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www");

/// How the input is cut into reads.
#[derive(Clone, Copy)]
enum Split {
    /// As the capture recorded them (one read for a plain byte stream).
    Recorded,
    Whole,
    Chunk(usize),
    Random(u64),
}

impl Split {
    /// The read sizes for `len` bytes of input.
    fn sizes(self, len: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut left = len;
        let mut state = match self {
            Split::Random(seed) => seed ^ 0x9e37_79b9_7f4a_7c15,
            _ => 0,
        };
        while left > 0 {
            let n = match self {
                Split::Recorded | Split::Whole => left,
                Split::Chunk(n) => n,
                Split::Random(_) => {
                    // xorshift64*: small, fast and the same everywhere.
                    state ^= state >> 12;
                    state ^= state << 25;
                    state ^= state >> 27;
                    let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
                    (r >> 59) as usize + 1
                }
            };
            let n = n.min(left);
            sizes.push(n);
            left -= n;
        }
        sizes
    }
}

/// One thing that happens to the connection in a replay.
enum Step {
    /// A read returned these bytes.
    Read(Vec<u8>),
    /// The socket took this many bytes (the recorded writes in a row).
    Send(u64),
    Eof,
    Timeout,
}

/// What a replay does, in order, with the time each step happened.
struct Plan {
    steps: Vec<(Duration, Step)>,
    /// Output leaves only as the recorded writes let it; otherwise all of
    /// it leaves after every step, as into memory.
    as_recorded: bool,
}

/// The input: a capture, or a plain byte stream.
enum Input {
    Raw(Vec<u8>),
    Capture(Capture),
}

impl Input {
    /// The bytes the client sent, with the stream offset of each timeout
    /// and end of stream, up to where the capture stops (a truncation).
    fn stream(&self) -> (Vec<u8>, Vec<(usize, Duration, Step)>) {
        match self {
            Input::Raw(bytes) => (
                bytes.clone(),
                vec![(bytes.len(), Duration::ZERO, Step::Eof)],
            ),
            Input::Capture(c) => {
                let mut bytes = Vec::new();
                let mut events = Vec::new();
                for r in &c.records {
                    match &r.event {
                        Event::Read(d) => bytes.extend_from_slice(&d.bytes()),
                        Event::Eof => events.push((bytes.len(), r.at, Step::Eof)),
                        Event::Timeout => events.push((bytes.len(), r.at, Step::Timeout)),
                        Event::Truncated(_) | Event::End { .. } => break,
                        Event::Sent(_) | Event::Capped => {}
                    }
                }
                (bytes, events)
            }
        }
    }

    fn plan(&self, split: Split) -> Plan {
        if let (Input::Capture(c), Split::Recorded) = (self, split) {
            let mut steps: Vec<(Duration, Step)> = Vec::new();
            for r in &c.records {
                let step = match &r.event {
                    Event::Read(d) => Step::Read(d.bytes()),
                    Event::Sent(d) => {
                        if let Some((_, Step::Send(n))) = steps.last_mut() {
                            *n += d.len;
                            continue;
                        }
                        Step::Send(d.len)
                    }
                    Event::Eof => Step::Eof,
                    Event::Timeout => Step::Timeout,
                    Event::Capped => continue,
                    Event::Truncated(_) | Event::End { .. } => break,
                };
                steps.push((r.at, step));
            }
            return Plan {
                steps,
                as_recorded: true,
            };
        }
        // Cut the stream into reads, each piece between two events on its
        // own, so that a timeout comes after the same bytes as it did.
        let (bytes, events) = self.stream();
        let mut steps = Vec::new();
        let mut at = 0;
        let mut events = events.into_iter().peekable();
        let mut end_at = Duration::ZERO;
        loop {
            let until = events.peek().map_or(bytes.len(), |e| e.0);
            for n in split.sizes(until - at) {
                steps.push((end_at, Step::Read(bytes[at..at + n].to_vec())));
                at += n;
            }
            match events.next() {
                Some((_, t, step)) => {
                    end_at = t;
                    steps.push((t, step));
                }
                None => break,
            }
        }
        Plan {
            steps,
            as_recorded: false,
        }
    }
}

/// A socket that takes only so many bytes, then would block.
struct Allowance<'a> {
    out: &'a mut Vec<u8>,
    left: u64,
}

impl Transport for Allowance<'_> {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut n = 0;
        for b in bufs {
            let take = b
                .len()
                .min(usize::try_from(self.left).unwrap_or(usize::MAX) - n);
            self.out.extend_from_slice(&b[..take]);
            n += take;
            if n as u64 == self.left {
                break;
            }
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// What a replay did.
struct Replayed {
    /// The trace lines, with the time of the step each one follows.
    lines: Vec<(Duration, String)>,
    /// The bytes written.
    out: Vec<u8>,
    /// Bytes still queued at the end.
    queued: u64,
}

impl Replayed {
    fn responded(&self) -> Vec<Responded> {
        self.lines
            .iter()
            .filter_map(|(_, l)| compare::responded(l))
            .collect()
    }
}

/// Sends everything queued, as into memory.
fn drain(chan: &mut Channel, handler: &mut HttpChannel, out: &mut Vec<u8>) {
    while !chan.fifo().is_empty() {
        let sent = chan.send(handler, out).expect("memory never fails");
        if sent == 0 {
            break;
        }
    }
}

/// Feeds `plan` through a fresh HTTP channel serving `config`.
fn replay(config: &Config, plan: &Plan) -> Replayed {
    let mut handler = HttpChannel::new(Shared::new(config.clone()).expect("the root opens"));
    let mut chan = Channel::new(HttpChannel::initial_terminator());
    // Always traced: the `respond` lines say where each response ends.
    let (trace, lines) = Trace::collect("");
    chan.set_trace(Some(trace.clone()));
    let mut marks: Vec<(usize, Duration)> = Vec::new();
    let mut out = Vec::new();
    for (at, step) in &plan.steps {
        marks.push((lines.borrow().len(), *at));
        match step {
            Step::Read(data) => {
                // Reads after the channel finished were the lingering
                // close's, which the channel never sees.
                if chan.is_done() {
                    continue;
                }
                trace.event(format_args!("read {} bytes {}", data.len(), Shown(data)));
                chan.feed(&mut handler, data);
            }
            Step::Send(n) => {
                let mut allowance = Allowance {
                    out: &mut out,
                    left: *n,
                };
                while allowance.left > 0 && !chan.fifo().is_empty() {
                    let sent = chan
                        .send(&mut handler, &mut allowance)
                        .expect("memory never fails");
                    if sent == 0 {
                        break;
                    }
                }
            }
            Step::Eof => {
                if chan.is_done() {
                    continue;
                }
                trace.event(format_args!("read: end of stream"));
                chan.feed_eof(&mut handler);
            }
            Step::Timeout => {
                if chan.is_done() {
                    continue;
                }
                trace.event(format_args!("timeout"));
                handler.handle_timeout(&mut chan);
            }
        }
        // A reactor would write as soon as the socket can take more; the
        // memory transport always can.
        if !plan.as_recorded {
            drain(&mut chan, &mut handler, &mut out);
        }
    }
    if !plan.as_recorded && !chan.is_done() && !matches!(plan.steps.last(), Some((_, Step::Eof))) {
        trace.event(format_args!("read: end of stream"));
        chan.feed_eof(&mut handler);
        drain(&mut chan, &mut handler, &mut out);
    }
    if chan.is_done() {
        trace.event(format_args!("close: done"));
    }
    let queued = chan.fifo().queued_bytes();
    let lines: Vec<String> = lines.borrow().clone();
    let mut timed = Vec::with_capacity(lines.len());
    let mut mark = marks.iter().peekable();
    let mut time = Duration::ZERO;
    for (i, line) in lines.into_iter().enumerate() {
        while let Some(&&(from, at)) = mark.peek() {
            if from > i {
                break;
            }
            time = at;
            mark.next();
        }
        timed.push((time, line));
    }
    Replayed {
        lines: timed,
        out,
        queued,
    }
}

/// The bytes the capture recorded as sent, zeros where it kept only their
/// size, and those spans.
fn recorded_sent(c: &Capture) -> (Vec<u8>, Vec<(u64, u64)>) {
    let mut bytes = Vec::new();
    let mut spans = Vec::new();
    for r in &c.records {
        if let Event::Sent(d) = &r.event {
            for s in &d.omitted {
                spans.push((bytes.len() as u64 + s.at, s.len));
            }
            bytes.extend_from_slice(&d.bytes());
        }
    }
    (bytes, spans)
}

fn read_input(path: &Path) -> Result<Input, String> {
    let show = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let bytes = if path.as_os_str() == "-" {
        let mut input = Vec::new();
        io::stdin().read_to_end(&mut input).map_err(|e| show(&e))?;
        input
    } else {
        std::fs::read(path).map_err(|e| show(&e))?
    };
    if bytes.starts_with(format::MAGIC.as_bytes()) {
        let c = format::parse(&bytes).map_err(|e| show(&e))?;
        let traffic: u64 = c
            .records
            .iter()
            .map(|r| match &r.event {
                Event::Read(d) | Event::Sent(d) => d.len,
                _ => 0,
            })
            .fold(0, u64::saturating_add);
        if traffic > MAX_TRAFFIC {
            return Err(show(&format!(
                "the capture records {traffic} bytes of traffic, more than the {MAX_TRAFFIC} \
                 a replay holds in memory"
            )));
        }
        Ok(Input::Capture(c))
    } else {
        Ok(Input::Raw(bytes))
    }
}

/// The root to serve: `--root`, or the capture's own if it is still there,
/// or the demo site.
fn root_for(args: &Args, input: &Input) -> PathBuf {
    if let Some(root) = &args.root {
        return root.clone();
    }
    if let Input::Capture(c) = input
        && let Some(root) = c.header.field("root")
        && Path::new(root).is_dir()
    {
        return PathBuf::from(root);
    }
    PathBuf::from(WWW)
}

fn seconds(d: Duration) -> String {
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

/// What the capture says about its connection, as report lines.
fn describe(c: &Capture, root: &Path, split: Split) -> Vec<String> {
    let h = &c.header;
    let peer = h
        .peer
        .map_or_else(|| "an unknown peer".to_string(), |p| p.to_string());
    let mut by = Vec::new();
    if let Some(server) = h.field("server") {
        by.push(server.to_string());
    }
    if let Some(r) = h.field("root") {
        by.push(format!("root {r}"));
    }
    let by = if by.is_empty() {
        String::new()
    } else {
        format!(" ({})", by.join(", "))
    };
    let mut lines = vec![format!(
        "capture: connection {} from {peer}, accepted {}{by}",
        h.connection, h.started
    )];
    let (mut reads, mut read_bytes, mut writes, mut sent_bytes, mut zeros) = (0, 0, 0, 0, 0);
    for r in &c.records {
        match &r.event {
            Event::Read(d) => {
                reads += 1;
                read_bytes += d.len;
                zeros += d.omitted_len();
            }
            Event::Sent(d) => {
                writes += 1;
                sent_bytes += d.len;
            }
            _ => {}
        }
    }
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut story = format!(
        "{} of {read_bytes} bytes, {} of {sent_bytes} bytes",
        plural(reads, "read", "reads"),
        plural(writes, "write", "writes")
    );
    for r in &c.records {
        match &r.event {
            Event::Eof => story.push_str(&format!("; end of stream at {} s", seconds(r.at))),
            Event::Timeout => story.push_str(&format!("; a timeout at {} s", seconds(r.at))),
            Event::End { reason, .. } => {
                story.push_str(&format!("; closed at {} s: {reason}", seconds(r.at)))
            }
            _ => {}
        }
    }
    lines.push(story);
    for r in &c.records {
        match &r.event {
            Event::Capped => lines.push(format!(
                "capped at {} s: past {} bytes the capture kept heads whole, bodies and responses by their sizes",
                seconds(r.at),
                h.max
            )),
            Event::Truncated(why) => lines.push(format!(
                "TRUNCATED at {} s: {why}; the replay stops there",
                seconds(r.at)
            )),
            _ => {}
        }
    }
    if let Some((_, read, sent, _)) = c.end()
        && c.truncated().is_some()
    {
        lines.push(format!(
            "the connection went on to read {read} bytes and send {sent} in all; the capture holds {read_bytes} and {sent_bytes}"
        ));
    }
    if let Some(cut) = &c.cut {
        lines.push(format!(
            "CUT SHORT at byte {}: {} (the server stopped before it finished the capture, \
             or could not write it: a full disk); the replay stops there",
            cut.at, cut.why
        ));
    }
    if zeros > 0 {
        let why = if h.payloads == Payloads::Omitted {
            "bodies were left out (--capture-no-bodies)"
        } else {
            "bodies past the cap were left out"
        };
        lines.push(format!(
            "{why}: the replay fed {zeros} zero bytes in their place"
        ));
    }
    let how = match split {
        Split::Recorded => "in the recorded reads".to_string(),
        Split::Whole => "in one read".to_string(),
        Split::Chunk(n) => format!("in reads of {n} bytes"),
        Split::Random(seed) => format!("in reads of random sizes (seed {seed})"),
    };
    lines.push(format!("replayed against {}, {how}", root.display()));
    let defaults = Config::new(root)
        .map(|c| c.capture_fields())
        .unwrap_or_default();
    let settings: Vec<String> = h
        .extra
        .iter()
        .filter(|(n, v)| defaults.iter().any(|(d, dv)| d == n && dv != v))
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    if !settings.is_empty() {
        lines.push(format!(
            "with the server's settings from the capture: {}",
            settings.join(", ")
        ));
    }
    lines
}

/// Replays one capture as asked and compares; the report lines and the
/// verdict.
fn report(c: &Capture, replayed: &Replayed) -> (Vec<String>, Verdict) {
    let (sent, spans) = recorded_sent(c);
    let complete = c.cut.is_none() && c.truncated().is_none();
    let sent_is = if complete {
        "bytes sent"
    } else {
        "bytes of responses the capture holds"
    };
    let mut out = &replayed.out[..];
    let mut lines = Vec::new();
    if !complete && out.len() > sent.len() {
        lines.push(format!(
            "the replay sent {} bytes more than the capture holds: compared as far as it goes",
            out.len() - sent.len()
        ));
        out = &out[..sent.len()];
    }
    let r = compare::compare(&sent, &spans, out, &replayed.responded());
    let mut first = true;
    for line in r.lines {
        let line = line.replace("bytes sent", sent_is);
        if first {
            lines.insert(0, format!("the responses: {line}"));
            first = false;
        } else {
            lines.push(line);
        }
    }
    if replayed.queued > 0
        && complete
        && let Some((_, _, _, reason)) = c.end()
    {
        lines.push(format!(
            "{} bytes were still queued when the connection closed ({reason}): the replay did not send them either",
            replayed.queued
        ));
    }
    (lines, r.verdict)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let split = match (args.chunk, args.random) {
        (Some(n), _) => Split::Chunk(usize::try_from(n).unwrap_or(usize::MAX)),
        (_, Some(seed)) => Split::Random(seed),
        _ => Split::Recorded,
    };
    let mut stdout = io::stdout().lock();
    let mut all_same = true;
    for path in &args.captures {
        let input = match read_input(path) {
            Ok(input) => input,
            Err(e) => {
                eprintln!("replay: {e}");
                return ExitCode::FAILURE;
            }
        };
        let root = root_for(&args, &input);
        // The server's settings, as the capture recorded them.
        let fields = match &input {
            Input::Capture(c) => c.header.extra.clone(),
            Input::Raw(_) => Vec::new(),
        };
        let mut config = match Config::new(&root).and_then(|c| c.with_capture_fields(&fields)) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("replay: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        if config.upload && !args.upload {
            eprintln!(
                "replay: {}: the server stored uploads; here they are answered 405 \
                 (pass --upload --root DIR, a scratch copy, to store them)",
                path.display()
            );
        }
        config.upload = args.upload;
        if args.check {
            let (stream, _) = input.stream();
            let base = compare::mask_dates(&replay(&config, &input.plan(Split::Recorded)).out);
            // One read is how a plain byte stream is recorded.
            let mut splits = match input {
                Input::Capture(_) => vec![Split::Whole],
                Input::Raw(_) => Vec::new(),
            };
            splits.extend((1..=64).map(Split::Chunk));
            splits.extend((0..64).map(Split::Random));
            let mut tried = 1;
            let mut differ = 0;
            for split in splits {
                tried += 1;
                if compare::mask_dates(&replay(&config, &input.plan(split)).out) != base {
                    differ += 1;
                }
            }
            let verdict = if differ == 0 {
                "the same responses".to_string()
            } else {
                all_same = false;
                format!("DIFFERENT responses in {differ}")
            };
            let _ = writeln!(
                stdout,
                "{}: {} bytes in, {} bytes out; {verdict} for {tried} splits",
                path.display(),
                stream.len(),
                base.len()
            );
            continue;
        }
        let replayed = replay(&config, &input.plan(split));
        let times = args.times && matches!(input, Input::Capture(_));
        for (at, line) in &replayed.lines {
            let _ = if times {
                writeln!(stdout, "[+{}] {line}", seconds(*at))
            } else {
                writeln!(stdout, "{line}")
            };
        }
        let _ = writeln!(stdout, "--- {} bytes out:", replayed.out.len());
        let _ = stdout.write_all(&replayed.out);
        let _ = writeln!(stdout);
        if let Input::Capture(c) = &input {
            let (lines, verdict) = report(c, &replayed);
            for line in describe(c, &root, split).iter().chain(&lines) {
                let _ = writeln!(stdout, "--- {line}");
            }
            all_same &= verdict == Verdict::Same;
        }
    }
    if all_same {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
