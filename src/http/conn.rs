//! The HTTP channel: an [`AsyncChat`] handler whose terminator walks the
//! framing of each request and switches back for the next one.
//!
//! ```text
//! Idle / Head   terminator "\n"      one record per line; a blank line ends the head
//!   ├─ no body ─────────────────────▶ respond, back to Idle
//!   ├─ Content-Length: n ───────────▶ Body(Length)     Count(n) ──▶ respond, Idle
//!   └─ chunked ─────────────────────▶ Body(ChunkSize)  "\n"  ──▶ Body(ChunkData) Count(size)
//!                                     Body(ChunkEnd)   "\n"  ──▶ Body(ChunkSize) ... size 0
//!                                     Body(Trailers)   "\n"  ──▶ blank line: respond, Idle
//! Any framing error: respond, then Done (nothing more is read; close when sent).
//! ```
//!
//! Every record is handled as it is found, and a terminator set in
//! `found_terminator` applies to the rest of the same buffer, so pipelined
//! requests are parsed from one read in order, and their responses, pushed
//! in the same order, leave in that order.
//!
//! The head is read line by line (terminator `"\n"`) rather than up to
//! `"\r\n\r\n"`: RFC 9112 §2.2 lets a recipient accept a bare LF as a line
//! ending, and a single string terminator cannot match both `"\r\n\r\n"` and
//! `"\n\n"`. Reading lines also skips leading blank lines and tells an
//! over-long request line (414) from an over-long head (431).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::Config;
use super::cache::FileCache;
use super::date;
use super::head::{self, Framing, HttpError, MAX_HEADERS, Method, Request, Version};
use super::monitor::Monitor;
use super::response::{self, Reply};
use crate::channel::{AsyncChat, Channel};
use crate::reactor::CloseReason;
use crate::terminator::Terminator;

/// The longest chunk-size line (with extensions) or trailer line accepted.
pub const MAX_LINE: usize = 4096;
/// How much of a malformed request line the access log shows.
const MAX_LOGGED_LINE: usize = 200;

/// What the server's channels share: the configuration, the file cache and
/// the clock.
pub struct Shared {
    /// The configuration.
    pub config: Config,
    cache: RefCell<FileCache>,
    clock: RefCell<Clock>,
    /// Counters, and the board the status page shows.
    pub monitor: Monitor,
}

impl Shared {
    /// Shares `config` among channels.
    pub fn new(config: Config) -> Rc<Shared> {
        Rc::new(Shared {
            cache: RefCell::new(FileCache::new()),
            clock: RefCell::new(Clock::default()),
            monitor: Monitor::new(config.status_path.is_some()),
            config,
        })
    }
}

/// The time as responses and the access log show it, rendered at most once
/// per second and shared by every response in that second.
#[derive(Default)]
struct Clock {
    /// The second since the epoch shown, or `None` before the first tick.
    second: Option<u64>,
    /// `Date` field value with its CRLF.
    date_line: Rc<[u8]>,
    /// Common Log Format time.
    clf: String,
}

impl Clock {
    /// Brings the rendered time up to `now`.
    fn tick(&mut self, now: SystemTime) -> &Clock {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if self.second != Some(second) {
            let date = date::fmt_http_date(now);
            self.clf = clf_time(&date);
            self.date_line = Rc::from(format!("{date}\r\n").into_bytes());
            self.second = Some(second);
        }
        self
    }
}

/// A parsed request line, as the access log shows it.
struct RequestLine<'a>(&'a Request<'a>);

impl fmt::Display for RequestLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = match self.0.version {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        };
        let (method, target) = (self.0.method_token, self.0.target);
        if target.contains(['"', '\\']) {
            write!(f, "{method} {} {version}", target.escape_debug())
        } else {
            write!(f, "{method} {target} {version}")
        }
    }
}

/// The start of a head that could not be parsed, as the access log shows it:
/// its first line, escaped and shortened.
struct RawLine<'a>(&'a [u8]);

impl fmt::Display for RawLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.0.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        write!(
            f,
            "{}",
            line[..line.len().min(MAX_LOGGED_LINE)].escape_ascii()
        )
    }
}

/// Where in the framing of a request the channel is, with what that step
/// needs to know.
enum Phase {
    /// Between requests (terminator `"\n"`): the keep-alive timeout runs
    /// from `since`, when the connection last became idle.
    Idle { since: Instant },
    /// Collecting head lines (terminator `"\n"`): the header timeout runs
    /// from `started`, the request's first byte, and is not reset by later
    /// bytes (slowloris).
    Head { started: Instant },
    /// Reading a request body and discarding it.
    Body(Body),
    /// An error was answered; nothing more is read.
    Done,
}

/// A request body being read and discarded; its response waits for the end.
struct Body {
    step: BodyStep,
    /// When the body started (the body timeout runs from here).
    started: Instant,
    /// Body bytes announced by chunk sizes so far (against `max_body`).
    announced: u64,
    waiting: Waiting,
}

/// Where in a body the channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyStep {
    /// A Content-Length body (terminator `Count(n)`).
    Length,
    /// A chunk-size line (terminator `"\n"`).
    ChunkSize,
    /// Chunk data (terminator `Count(n)`).
    ChunkData,
    /// The empty line after chunk data (terminator `"\n"`).
    ChunkEnd,
    /// Trailer lines until a blank one (terminator `"\n"`), with their size
    /// and number so far.
    Trailers { bytes: usize, lines: usize },
}

/// A response held until the request body has been read.
struct Waiting {
    reply: Reply,
    keep_alive: bool,
    http10: bool,
    /// The request line for the access log (empty when the log is off).
    request: String,
    /// The request was HEAD: an error while reading its body has no
    /// content either.
    head_only: bool,
}

/// One HTTP/1.1 connection's handler.
pub struct HttpChannel {
    shared: Rc<Shared>,
    phase: Phase,
    /// The head being collected: lines as received, each ended by `\n`.
    head: Vec<u8>,
    /// Where the current head line starts in `head`.
    line_start: usize,
    /// Lines in the head so far (the request line included).
    lines: usize,
    /// The current chunk-size, chunk-end or trailer line.
    line: Vec<u8>,
    /// When output last made progress (send timeout).
    last_sent: Instant,
    /// The server is shutting down: the next response closes.
    stopping: bool,
    /// The client's address as the access log shows it, rendered once.
    client: String,
    /// Responses queued on this connection.
    served: u64,
}

impl HttpChannel {
    /// A handler for a new connection.
    pub fn new(shared: Rc<Shared>) -> HttpChannel {
        let now = Instant::now();
        HttpChannel {
            shared,
            phase: Phase::Idle { since: now },
            head: Vec::new(),
            line_start: 0,
            lines: 0,
            line: Vec::new(),
            last_sent: now,
            stopping: false,
            client: "-".to_string(),
            served: 0,
        }
    }

    /// The terminator a new connection starts with.
    pub fn initial_terminator() -> Terminator {
        Terminator::bytes(b"\n")
    }

    fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Recomputes the one deadline that matters now.
    fn update_deadline(&mut self, chan: &mut Channel) {
        let cfg = &self.shared.config;
        let deadline = if !chan.fifo().is_empty() {
            self.last_sent + cfg.send_timeout
        } else {
            match &self.phase {
                Phase::Idle { since } => *since + cfg.keep_alive_timeout,
                Phase::Head { started } => *started + cfg.header_timeout,
                Phase::Body(body) => body.started + cfg.body_timeout,
                Phase::Done => self.last_sent + cfg.send_timeout,
            }
        };
        chan.set_deadline(Some(deadline));
    }

    /// The body step, when a body is being read.
    fn body_step(&self) -> Option<BodyStep> {
        match &self.phase {
            Phase::Body(body) => Some(body.step),
            _ => None,
        }
    }

    fn set_body_step(&mut self, step: BodyStep) {
        if let Phase::Body(body) = &mut self.phase {
            body.step = step;
        }
    }

    /// Answers with an error and closes once it is sent.
    fn fail(&mut self, chan: &mut Channel, e: HttpError) {
        let head = std::mem::take(&mut self.head);
        self.fail_for(chan, e, &head);
        self.head = head;
    }

    /// Answers with an error for the request whose head (complete or not)
    /// is `head`, logging it with as much of its request line as arrived.
    fn fail_for(&mut self, chan: &mut Channel, e: HttpError, head: &[u8]) {
        log::debug!("{}: {e}", peer(chan));
        if e.status != 408 {
            Monitor::count(&self.shared.monitor.parse_errors);
        }
        if let Some(t) = chan.tracer() {
            let (status, why) = (e.status, e.why);
            t.event(format_args!("http error {status}: {why}; close when sent"));
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        let raw = RawLine(head);
        let (head_only, request): (bool, &dyn fmt::Display) = match &phase {
            Phase::Body(body) => (body.waiting.head_only, &body.waiting.request),
            _ => (head.starts_with(b"HEAD "), &raw),
        };
        // A response to HEAD has no content, even an error page (RFC 9110
        // §9.3.2), when the method can be told.
        let mut reply = Reply::from_error(e);
        if head_only {
            reply = reply.without_body();
        }
        self.queue(chan, reply, false, false, request);
        chan.close_when_done();
        self.update_deadline(chan);
    }

    /// Pushes a reply onto the FIFO and logs it; closes the connection after
    /// it unless it is kept alive.
    fn queue(
        &mut self,
        chan: &mut Channel,
        reply: Reply,
        keep_alive: bool,
        http10: bool,
        request: &dyn fmt::Display,
    ) {
        let keep_alive = keep_alive && !self.stopping;
        let mut clock = self.shared.clock.borrow_mut();
        let clock = clock.tick(SystemTime::now());
        if log::log_enabled!(target: "access", log::Level::Info) {
            log::info!(
                target: "access",
                "{} - - [{}] \"{request}\" {} {}",
                self.client,
                clock.clf,
                reply.status,
                reply.body_len
            );
        }
        if chan.fifo().is_empty() {
            self.last_sent = chan.now();
        }
        self.served += 1;
        self.shared.monitor.response(reply.status);
        if let Some(t) = chan.tracer() {
            let (status, len) = (reply.status, reply.body_len);
            let after = if keep_alive { "keep alive" } else { "close" };
            t.event(format_args!(
                "respond {status}, body {len} bytes, then {after}"
            ));
        }
        reply.push_onto(chan, &clock.date_line, keep_alive, http10);
        if !keep_alive {
            chan.close_when_done();
            self.phase = Phase::Done;
        }
    }

    /// A complete head has been collected.
    fn found_head(&mut self, chan: &mut Channel) {
        let head = std::mem::take(&mut self.head);
        self.answer_head(chan, &head);
        self.head = head;
        self.head.clear();
        self.line_start = 0;
        self.lines = 0;
    }

    fn answer_head(&mut self, chan: &mut Channel, head: &[u8]) {
        let req = match head::parse(head) {
            Ok(req) => req,
            Err(e) => return self.fail_for(chan, e, head),
        };
        if let Some(t) = chan.tracer() {
            let framing = match req.framing {
                Framing::None => "no body".to_string(),
                Framing::Length(n) => format!("body of Content-Length {n}"),
                Framing::Chunked => "chunked body".to_string(),
            };
            t.event(format_args!("head {}: {framing}", RequestLine(&req)));
        }
        if let Framing::Length(n) = req.framing
            && n > self.config().max_body
        {
            return self.fail_for(
                chan,
                HttpError::new(413, "the request body is too large"),
                head,
            );
        }
        let reply = match self.status_page(chan, &req) {
            Some(page) => page,
            None => {
                let mut cache = self.shared.cache.borrow_mut();
                response::respond(self.config(), &mut cache, &req, chan.now())
            }
        };
        let http10 = req.version == Version::Http10;
        let keep_alive = req.keep_alive;
        let step = match req.framing {
            Framing::None => {
                self.queue(chan, reply, keep_alive, http10, &RequestLine(&req));
                return self.next_request(chan);
            }
            Framing::Length(n) => {
                chan.set_terminator(Terminator::Count(n));
                BodyStep::Length
            }
            Framing::Chunked => {
                chan.set_terminator(b"\n");
                BodyStep::ChunkSize
            }
        };
        if req.expect_continue && req.version == Version::Http11 {
            if reply.status >= 400 || matches!(req.method, Method::NotAllowed | Method::Unknown) {
                // Refuse before the body is sent, and close: the client may
                // or may not send the body now, so the connection cannot be
                // trusted to stay in sync.
                return self.queue(chan, reply, false, http10, &RequestLine(&req));
            }
            chan.push(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]);
        }
        let request = if log::log_enabled!(target: "access", log::Level::Info) {
            RequestLine(&req).to_string()
        } else {
            String::new()
        };
        self.phase = Phase::Body(Body {
            step,
            started: chan.now(),
            announced: 0,
            waiting: Waiting {
                reply,
                keep_alive,
                http10,
                request,
                head_only: req.method == Method::Head,
            },
        });
    }

    /// The status page, when `req` asks for it: GET or HEAD of the status
    /// path, from loopback unless the page is public. Anything else is
    /// served as if the page did not exist.
    fn status_page(&self, chan: &Channel, req: &Request<'_>) -> Option<Reply> {
        let cfg = self.config();
        let want = cfg.status_path.as_deref()?;
        let target = super::path::path_and_query(req.target)?;
        let target = target.split('#').next().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        // An IPv4 client of a server bound to `::` shows as `::ffff:a.b.c.d`.
        let allowed = cfg.status_public
            || chan
                .peer()
                .is_none_or(|p| p.ip().to_canonical().is_loopback());
        if path != want || !matches!(req.method, Method::Get | Method::Head) || !allowed {
            return None;
        }
        let json = query.split('&').any(|q| q == "format=json");
        let monitor = &self.shared.monitor;
        let reply = if json {
            Reply::generated("application/json", monitor.json(chan.now()))
        } else {
            Reply::generated("text/html; charset=utf-8", monitor.html(chan.now()))
        };
        Some(if req.method == Method::Head {
            reply.without_body()
        } else {
            reply
        })
    }

    /// The phase's name on the status page.
    fn phase_name(&self) -> &'static str {
        match &self.phase {
            Phase::Idle { .. } => "idle",
            Phase::Head { .. } => "head",
            Phase::Body(_) => "body",
            Phase::Done => "closing",
        }
    }

    /// The body has been read: answer, and go back to reading heads.
    fn body_done(&mut self, chan: &mut Channel) {
        let idle = Phase::Idle { since: chan.now() };
        if let Phase::Body(body) = std::mem::replace(&mut self.phase, idle) {
            let w = body.waiting;
            self.queue(chan, w.reply, w.keep_alive, w.http10, &w.request);
        }
        self.next_request(chan);
    }

    /// Back to waiting for a head, unless the connection is closing.
    fn next_request(&mut self, chan: &mut Channel) {
        if !matches!(self.phase, Phase::Done) {
            self.phase = Phase::Idle { since: chan.now() };
            chan.set_terminator(b"\n");
        }
    }

    fn found_chunk_size(&mut self, chan: &mut Channel) {
        let size = match head::parse_chunk_size(&self.line) {
            Ok(size) => size,
            Err(e) => return self.fail(chan, e),
        };
        self.line.clear();
        let max_body = self.config().max_body;
        let Phase::Body(body) = &mut self.phase else {
            return;
        };
        body.announced = body.announced.saturating_add(size);
        if body.announced > max_body {
            return self.fail(chan, HttpError::new(413, "the request body is too large"));
        }
        if let Some(t) = chan.tracer() {
            match size {
                0 => t.event(format_args!("last chunk: trailer fields follow")),
                n => t.event(format_args!("chunk of {n} bytes")),
            }
        }
        if size == 0 {
            body.step = BodyStep::Trailers { bytes: 0, lines: 0 };
        } else {
            body.step = BodyStep::ChunkData;
            chan.set_terminator(Terminator::Count(size));
        }
    }

    fn found_trailer(&mut self, chan: &mut Channel, bytes: usize, lines: usize) {
        if matches!(self.line.as_slice(), b"" | b"\r") {
            self.line.clear();
            if let Some(t) = chan.tracer() {
                t.event(format_args!("end of trailers: body complete"));
            }
            return self.body_done(chan);
        }
        let (bytes, lines) = (bytes + self.line.len() + 1, lines + 1);
        self.line.clear();
        if bytes > self.config().max_head || lines > MAX_HEADERS {
            return self.fail(chan, HttpError::new(400, "too many trailer fields"));
        }
        self.set_body_step(BodyStep::Trailers { bytes, lines });
    }
}

impl AsyncChat for HttpChannel {
    fn collect_incoming_data(&mut self, chan: &mut Channel, data: &[u8]) {
        match &self.phase {
            Phase::Idle { .. } | Phase::Head { .. } => {
                if let Phase::Idle { .. } = self.phase {
                    // The first byte of a request starts the header timeout.
                    self.phase = Phase::Head {
                        started: chan.now(),
                    };
                    self.update_deadline(chan);
                }
                self.head.extend_from_slice(data);
                if self.head.len() > self.config().max_head {
                    let e = if self.lines == 0 {
                        HttpError::new(414, "the request line is too long")
                    } else {
                        HttpError::new(431, "the request head is too large")
                    };
                    self.fail(chan, e);
                }
            }
            Phase::Body(body) => match body.step {
                BodyStep::Length | BodyStep::ChunkData => {} // discarded
                BodyStep::ChunkSize | BodyStep::ChunkEnd | BodyStep::Trailers { .. } => {
                    self.line.extend_from_slice(data);
                    if self.line.len() > MAX_LINE {
                        self.fail(chan, HttpError::new(400, "chunk line too long"));
                    }
                }
            },
            Phase::Done => {}
        }
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        match self.body_step() {
            None if matches!(self.phase, Phase::Done) => {}
            None => {
                let line = &self.head[self.line_start..];
                let blank = matches!(line, b"" | b"\r");
                if blank && self.lines == 0 {
                    // Blank lines before a request line are ignored
                    // (RFC 9112 §2.2); Medusa closed the connection here.
                    self.head.clear();
                    return;
                }
                if let Phase::Idle { .. } = self.phase {
                    self.phase = Phase::Head {
                        started: chan.now(),
                    };
                }
                self.head.push(b'\n');
                if blank {
                    self.found_head(chan);
                } else {
                    self.lines += 1;
                    self.line_start = self.head.len();
                    if self.lines > MAX_HEADERS + 1 {
                        self.fail(chan, HttpError::new(431, "too many header fields"));
                    }
                }
            }
            Some(BodyStep::Length) => self.body_done(chan),
            Some(BodyStep::ChunkSize) => self.found_chunk_size(chan),
            Some(BodyStep::ChunkData) => {
                self.set_body_step(BodyStep::ChunkEnd);
                chan.set_terminator(b"\n");
            }
            Some(BodyStep::ChunkEnd) => {
                if matches!(self.line.as_slice(), b"" | b"\r") {
                    self.line.clear();
                    self.set_body_step(BodyStep::ChunkSize);
                } else {
                    let e = HttpError::new(400, "chunk data is not followed by CRLF");
                    self.fail(chan, e);
                }
            }
            Some(BodyStep::Trailers { bytes, lines }) => self.found_trailer(chan, bytes, lines),
        }
        self.update_deadline(chan);
    }

    fn handle_connect(&mut self, chan: &mut Channel) {
        Monitor::count(&self.shared.monitor.accepted);
        if let Some(peer) = chan.peer() {
            self.client = peer.ip().to_string();
        }
        self.phase = Phase::Idle { since: chan.now() };
        self.update_deadline(chan);
    }

    fn handle_sent(&mut self, chan: &mut Channel, sent: u64) {
        let out = &self.shared.monitor.bytes_out;
        out.set(out.get() + sent);
        self.last_sent = chan.now();
        if chan.fifo().is_empty()
            && let Phase::Idle { since } = &mut self.phase
        {
            // The keep-alive timeout runs from the end of the last response.
            *since = chan.now();
        }
        self.update_deadline(chan);
    }

    fn handle_timeout(&mut self, chan: &mut Channel) {
        Monitor::count(&self.shared.monitor.timeouts);
        let mid_request = matches!(self.phase, Phase::Head { .. } | Phase::Body(_));
        if chan.fifo().is_empty() && mid_request {
            log::debug!("{}: request timed out", peer(chan));
            self.fail(chan, HttpError::new(408, "the request took too long"));
        } else {
            // Idle keep-alive, or a client that stopped reading: close.
            log::debug!("{}: timed out", peer(chan));
            chan.close();
        }
    }

    fn handle_stop(&mut self, chan: &mut Channel) {
        self.stopping = true;
        if let Phase::Idle { .. } = self.phase {
            if chan.fifo().is_empty() {
                // An idle keep-alive connection has nothing to lose.
                chan.close();
            } else {
                // Responses still going out: send them, then close.
                chan.close_when_done();
            }
        }
        // Mid-request: the response to it will carry Connection: close.
    }

    fn observe(&mut self, chan: &Channel) {
        if self.shared.monitor.keeps_board() {
            self.shared
                .monitor
                .observe(chan, self.phase_name(), self.served);
        }
    }

    fn handle_close(&mut self, chan: &mut Channel, _reason: CloseReason) {
        Monitor::count(&self.shared.monitor.closed);
        self.shared.monitor.forget(chan.id());
    }
}

fn peer(chan: &Channel) -> String {
    chan.peer()
        .map_or_else(|| "-".to_string(), |p| p.to_string())
}

/// Common Log Format time (`10/Oct/2000:13:55:36 +0000`) from an IMF-fixdate
/// (`Tue, 10 Oct 2000 13:55:36 GMT`). Always UTC, and says so: Medusa's log
/// claimed a zone it did not use.
fn clf_time(imf: &str) -> String {
    let parts: Vec<&str> = imf.split(' ').collect();
    match parts.as_slice() {
        [_, day, month, year, time, _] => format!("{day}/{month}/{year}:{time} +0000"),
        _ => imf.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_clock_renders_once_per_second() {
        let mut clock = Clock::default();
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let first = Rc::clone(&clock.tick(t).date_line);
        assert_eq!(&*first, b"Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        assert_eq!(clock.tick(t).clf, "06/Nov/1994:08:49:37 +0000");
        // Within the same second every response shares the same bytes.
        let same = Rc::clone(&clock.tick(t + Duration::from_millis(999)).date_line);
        assert!(Rc::ptr_eq(&first, &same));
        // A new second is rendered anew.
        let next = clock.tick(t + Duration::from_secs(1));
        assert_eq!(&*next.date_line, b"Sun, 06 Nov 1994 08:49:38 GMT\r\n");
        assert_eq!(next.clf, "06/Nov/1994:08:49:38 +0000");
    }
}
