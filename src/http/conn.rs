//! The HTTP channel: an [`AsyncChat`] handler whose terminator walks the
//! framing of each request and switches back for the next one. Its states
//! and the terminator of each are drawn in the
//! [guide](crate::guide#the-http-channels-states).
//!
//! Every record is handled as it is found, and a terminator set in
//! `found_terminator` applies to the rest of the same buffer, so pipelined
//! requests are parsed from one read in order, and their responses, pushed
//! in the same order, leave in that order. What to answer is decided by
//! [`response::answer`]; this module only walks the framing, keeps the
//! timeouts, and logs.
//!
//! The head is read up to its empty line ([`Terminator::BlankLine`]), in
//! one record however many lines it has, rather than up to `"\r\n\r\n"`:
//! RFC 9112 §2.2 lets a recipient accept a bare LF as a line ending, and a
//! single string terminator cannot match both `"\r\n\r\n"` and `"\n\n"`.
//! An empty line before a request line is skipped as it arrives. An
//! over-long request line (414) is told from an over-long head (431) when
//! the head passes its bound, and a head with too many lines is refused as
//! they arrive, before its end.

use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::access::{Entry, Logged};
use super::error::HttpError;
use super::head::{self, Framing, MAX_HEADERS, Method, Persistence, Request};
use super::monitor::Monitor;
use super::response::{self, Answer, Reply};
use super::status::{reason, status_line};
use super::upload::Store;
use super::{Config, Shared, date};
use crate::channel::{AsyncChat, Channel};
use crate::reactor::CloseReason;
use crate::spare;
use crate::terminator::Terminator;
use crate::trace;

/// The longest chunk-size line (with extensions) or trailer line accepted.
pub const MAX_LINE: usize = 4096;

/// The time as responses and the access log show it, rendered at most once
/// per second and shared by every response in that second.
#[derive(Default)]
pub(crate) struct Clock {
    /// The second since the epoch shown, or `None` before the first tick.
    second: Option<u64>,
    /// When, on the loop's clock, the second shown ends.
    next: Option<Instant>,
    /// `Date` field value with its CRLF.
    date_line: Rc<[u8]>,
    /// The start of every 200: status line, `Server`, `Date` and its value,
    /// one piece rather than two for the most common status.
    ok_start: Rc<[u8]>,
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
            self.ok_start = [status_line(200), &self.date_line[..]].concat().into();
            self.second = Some(second);
        }
        self
    }

    /// Brings the rendered time up to date when the second shown has ended
    /// by `now`, the loop's clock: the wall clock is read once a second,
    /// not for every response.
    fn tick_at(&mut self, now: Instant) -> &Clock {
        if self.next.is_none_or(|next| now >= next) {
            let wall = SystemTime::now();
            let into = wall
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            self.next = Some(now + Duration::from_nanos(u64::from(1_000_000_000 - into)));
            self.tick(wall);
        }
        self
    }

    /// Pushes the start of a response with `status`: its status line and
    /// `Server` field, then `Date` with its value.
    pub(crate) fn push_start(&self, chan: &mut Channel, status: u16) {
        if status == 200 {
            chan.push(Rc::clone(&self.ok_start));
        } else {
            chan.push(status_line(status));
            chan.push(Rc::clone(&self.date_line));
        }
    }
}

/// Where in the framing of a request the channel is, with what that step
/// needs to know. A channel that answered an error or its last response is
/// closing ([`Channel::is_closing`]), whatever its phase: that one flag says
/// nothing more is read.
enum Phase {
    /// Between requests (terminator [`Terminator::BlankLine`]): the
    /// keep-alive timeout runs from `since`, when the connection last
    /// became idle.
    Idle { since: Instant },
    /// Collecting a head (terminator [`Terminator::BlankLine`]): the
    /// header timeout runs from `started`, the request's first byte, and
    /// is not reset by later bytes (slowloris).
    Head { started: Instant },
    /// Reading a request body: discarding it, or storing it. Boxed: an
    /// idle connection does not carry a waiting reply's size.
    Body(Box<Body>),
}

/// A request body being read; its response waits for the end.
struct Body {
    step: BodyStep,
    /// When the body started, or an upload's last made progress (the body
    /// timeout runs from here).
    started: Instant,
    /// Body bytes announced by chunk sizes so far: against `--max-body`,
    /// or `--max-upload` for an upload.
    announced: u64,
    waiting: Waiting,
    /// The current chunk-size, chunk-end or trailer line.
    line: Vec<u8>,
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

/// What answers a request once its body has been read.
enum Outcome {
    /// This reply, decided from the head (the body is discarded).
    Reply(Reply),
    /// What storing the body comes to (`--upload`), boxed: a connection
    /// that is not uploading does not carry its size.
    Store(Box<Store>),
}

/// A response held until the request body has been read.
struct Waiting {
    outcome: Outcome,
    persistence: Persistence,
    /// The request line for the access log (empty when the log is off).
    request: Vec<u8>,
    /// The request was HEAD: an error while reading its body has no
    /// content either.
    head_only: bool,
}

/// The head being collected. Its buffer is a spare ([`crate::spare`])
/// taken at the head's first byte and given back once the head is parsed:
/// a request whose head fits costs no allocation (`tests/allocations.rs`),
/// and an idle connection holds no buffer.
#[derive(Default)]
struct HeadLines {
    /// The lines as received, each ended by `\n`, without an empty line
    /// before them.
    buf: Vec<u8>,
    /// The request line's method has ended (a space, or the line's end,
    /// was seen).
    method_done: bool,
    /// Line ends in `buf[..counted]`, counted once the head is long enough
    /// to hold more lines than a head may have.
    lines: u32,
    counted: u32,
}

/// A head this long may hold more lines than [`MAX_HEADERS`] fields and a
/// request line (a line is at least a byte and its `\n`); a shorter one
/// need not be counted.
const COUNT_LINES_FROM: usize = 2 * (MAX_HEADERS + 2);

impl HeadLines {
    /// Empties the head for the next request.
    fn clear(&mut self) {
        self.buf.clear();
        self.method_done = false;
        self.lines = 0;
        self.counted = 0;
    }

    /// Appends `data` to the head, less an empty line that starts it, and
    /// returns what was appended. Empty lines before a request line are
    /// ignored (RFC 9112 §2.2; Medusa closed the connection here):
    /// [`Terminator::BlankLine`] leaves at most one at the start of a
    /// record, perhaps split between two reads.
    fn append<'d>(&mut self, data: &'d [u8]) -> &'d [u8] {
        let data = match (self.buf.as_slice(), data) {
            ([], [b'\r', b'\n', rest @ ..] | [b'\n', rest @ ..]) => rest,
            ([b'\r'], [b'\n', rest @ ..]) => {
                self.buf.clear();
                rest
            }
            _ => data,
        };
        self.buf.extend_from_slice(data);
        data
    }

    /// The complete lines so far, counted from [`COUNT_LINES_FROM`] bytes
    /// on (each byte once).
    fn lines(&mut self) -> usize {
        if self.buf.len() >= COUNT_LINES_FROM {
            let new = &self.buf[self.counted as usize..];
            self.lines += memchr::memchr_iter(b'\n', new).count() as u32;
            // The head's bound (`max_head`, checked as bytes arrive) keeps
            // it far below 4 GiB.
            self.counted = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        }
        self.lines as usize
    }

    /// Checks the method of the request line as its bytes arrive: token
    /// characters up to the first space. What is not HTTP at all (a TLS
    /// ClientHello starts with 0x16, binary bytes) is refused at once,
    /// rather than after a line end that may never come; once a token and a
    /// space have come, the line is parsed with the head, as any other.
    fn plausible_request_line(&mut self, data: &[u8]) -> bool {
        if self.method_done {
            return true;
        }
        for &b in data {
            match b {
                b' ' | b'\n' => {
                    self.method_done = true;
                    return true;
                }
                // A CR ends a request line that has only a method; the
                // parse refuses it.
                b'\r' => {}
                b if !head::is_tchar(b) => return false,
                _ => {}
            }
        }
        true
    }

    /// The request line, ended or not, is longer than `max` bytes without
    /// its line end: asked only of a head past its bound, to tell 414 from
    /// 431.
    fn request_line_longer_than(&self, max: usize) -> bool {
        match memchr::memchr(b'\n', &self.buf) {
            Some(end) => end - usize::from(end > 0 && self.buf[end - 1] == b'\r') > max,
            None => true,
        }
    }
}

/// One HTTP/1.1 connection's handler.
pub struct HttpChannel {
    shared: Rc<Shared>,
    phase: Phase,
    head: HeadLines,
    /// When output last made progress (send timeout).
    last_sent: Instant,
    /// The server is shutting down: the next response closes.
    stopping: bool,
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
            head: HeadLines::default(),
            last_sent: now,
            stopping: false,
            served: 0,
        }
    }

    /// The terminator a new connection starts with: a head's empty line.
    pub fn initial_terminator() -> Terminator {
        Terminator::BlankLine
    }

    fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Recomputes the one deadline that matters now.
    fn update_deadline(&mut self, chan: &mut Channel) {
        let cfg = &self.shared.config;
        let deadline = if !chan.fifo().is_empty() || chan.is_closing() {
            self.last_sent + cfg.send_timeout
        } else {
            match &self.phase {
                Phase::Idle { since } => *since + cfg.keep_alive_timeout,
                Phase::Head { started } => *started + cfg.header_timeout,
                Phase::Body(body) => body.started + cfg.body_timeout,
            }
        };
        chan.set_deadline(Some(deadline));
    }

    /// Answers with an error and closes once it is sent.
    fn fail(&mut self, chan: &mut Channel, e: HttpError) {
        let head = std::mem::take(&mut self.head.buf);
        self.fail_for(chan, e, &head);
        self.head.buf = head;
    }

    /// Answers with an error for the request whose head (complete or not)
    /// is `head`, logging it with as much of its request line as arrived.
    fn fail_for(&mut self, chan: &mut Channel, e: HttpError, head: &[u8]) {
        let status = e.status();
        log::debug!("{}: {status} {}: {e}", peer(chan), reason(status));
        if e != HttpError::Timeout {
            Monitor::count(&self.shared.monitor.parse_errors);
        }
        trace!(chan.tracer(), "http error {status}: {e}; close when sent");
        let phase = std::mem::replace(&mut self.phase, Phase::Idle { since: chan.now() });
        let (head_only, request) = match &phase {
            Phase::Body(body) => (
                body.waiting.head_only,
                Logged::Rendered(&body.waiting.request),
            ),
            _ => (head.starts_with(b"HEAD "), Logged::Raw(head)),
        };
        // A response to HEAD has no content, even an error page (RFC 9110
        // §9.3.2), when the method can be told.
        let mut reply = Reply::from_error(e);
        if head_only {
            reply.drop_body();
        }
        self.queue(chan, reply, Persistence::Close, request);
        self.update_deadline(chan);
    }

    /// Pushes a reply onto the FIFO and logs it; closes the connection after
    /// it unless `persistence` keeps it open (and the server is not
    /// stopping).
    fn queue(
        &mut self,
        chan: &mut Channel,
        reply: Reply,
        persistence: Persistence,
        request: Logged<'_>,
    ) {
        let persistence = if self.stopping {
            Persistence::Close
        } else {
            persistence
        };
        let mut clock = self.shared.clock.borrow_mut();
        let clock = clock.tick_at(chan.now());
        let access = &self.shared.config.access_log;
        if access.enabled() {
            let entry = Entry {
                client: chan.peer().map(|peer| peer.ip()),
                time: &clock.clf,
                request,
                status: reply.status,
                body_len: reply.body_len,
                received: reply.received,
            };
            self.shared.access_lines.borrow_mut().write(access, &entry);
        }
        if chan.fifo().is_empty() {
            self.last_sent = chan.now();
        }
        self.served += 1;
        self.shared.monitor.response(reply.status);
        trace!(
            chan.tracer(),
            "respond {}, body {} bytes, then {}",
            reply.status,
            reply.body_len,
            match persistence {
                Persistence::Close => "close",
                Persistence::KeepAlive | Persistence::KeepAliveHttp10 => "keep alive",
            }
        );
        let extra = self.shared.extra_fields.as_ref();
        reply.push_onto(chan, clock, extra, persistence);
        if persistence == Persistence::Close {
            chan.close_when_done();
        }
    }

    /// Data of a head arrived.
    fn collect_head(&mut self, chan: &mut Channel, data: &[u8]) {
        if let Phase::Idle { .. } = self.phase {
            // The first byte of a request starts the header timeout.
            self.phase = Phase::Head {
                started: chan.now(),
            };
            self.update_deadline(chan);
        }
        if self.head.buf.capacity() == 0 {
            self.head.buf = spare::take(&spare::BYTES);
        }
        let data = self.head.append(data);
        if !self.head.plausible_request_line(data) {
            return self.fail(chan, HttpError::RequestLineMalformed);
        }
        if self.head.lines() > MAX_HEADERS + 1 {
            return self.fail(chan, HttpError::TooManyFields);
        }
        let max = self.config().max_head;
        if self.head.buf.len() > max {
            let e = if self.head.request_line_longer_than(max) {
                HttpError::RequestLineTooLong
            } else {
                HttpError::HeadTooLarge
            };
            self.fail(chan, e);
        }
    }

    /// A head is complete: its lines were collected, and the empty line
    /// that ends them dropped.
    fn found_head(&mut self, chan: &mut Channel) {
        if self.head.buf.is_empty() {
            // Only an empty line before a request line came, ignored.
            return;
        }
        // The parse sees the head whole, with its empty line.
        self.head.buf.extend_from_slice(b"\r\n");
        let head = std::mem::take(&mut self.head.buf);
        self.answer_head(chan, &head);
        // Between requests a connection holds no head buffer: the next head
        // takes this one back, or another spare.
        spare::give(&spare::BYTES, head, spare::BYTES_LARGEST);
        self.head.clear();
    }

    /// A complete head: parse it, decide the answer, and switch the
    /// terminator to its body's framing.
    fn answer_head(&mut self, chan: &mut Channel, head: &[u8]) {
        let req = match head::parse(head) {
            Ok(req) => req,
            Err(e) => return self.fail_for(chan, e, head),
        };
        trace!(
            chan.tracer(),
            "head {}: {}",
            Logged::Line(&req),
            req.framing
        );
        let work = self.shared.root.work();
        let answer = response::answer(&self.shared, &req, chan.peer(), chan.now());
        // A path that took many steps to resolve costs its sender as much
        // of the loop: pipelined, such requests wait for later turns.
        chan.charge(self.shared.root.work() - work);
        match answer {
            Answer::Fail(e) => self.fail_for(chan, e, head),
            Answer::RefuseBody(reply) => {
                self.queue(chan, reply, Persistence::Close, Logged::Line(&req));
            }
            Answer::AfterBody {
                reply,
                send_continue,
            } => self.take_body(chan, &req, Outcome::Reply(reply), send_continue),
            Answer::Store {
                store,
                send_continue,
            } => self.take_body(chan, &req, Outcome::Store(store), send_continue),
        }
    }

    /// Answers `req` at once when it has no body; otherwise switches the
    /// terminator to the body's framing and holds `outcome` until the body
    /// has been read.
    fn take_body(
        &mut self,
        chan: &mut Channel,
        req: &Request<'_>,
        mut outcome: Outcome,
        send_continue: bool,
    ) {
        if let Outcome::Store(store) = &mut outcome {
            store.trace_with(chan.tracer());
        }
        // An upload's body is traced by size alone, stored or refused.
        if self.config().upload && matches!(req.method, Method::Put | Method::Post) {
            chan.hide_data(true);
        }
        let step = match req.framing {
            Framing::None => {
                let reply = self.outcome(chan, outcome);
                self.queue(chan, reply, req.persistence, Logged::Line(req));
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
        if send_continue {
            chan.push(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]);
        }
        let mut request = Vec::new();
        if self.config().access_log.enabled() {
            Logged::Line(req).render(&mut request);
        }
        self.phase = Phase::Body(Box::new(Body {
            step,
            started: chan.now(),
            announced: 0,
            waiting: Waiting {
                outcome,
                persistence: req.persistence,
                request,
                head_only: req.method == Method::Head,
            },
            line: Vec::new(),
        }));
    }

    /// The phase's name on the status page.
    fn phase_name(&self, chan: &Channel) -> &'static str {
        if chan.is_closing() {
            return "closing";
        }
        match &self.phase {
            Phase::Idle { .. } => "idle",
            Phase::Head { .. } => "head",
            Phase::Body(_) => "body",
        }
    }

    /// The reply a request's body has come to: the one decided from the
    /// head, or what storing the body gave.
    fn outcome(&self, chan: &mut Channel, outcome: Outcome) -> Reply {
        match outcome {
            Outcome::Reply(reply) => reply,
            Outcome::Store(store) => (*store).finish(chan, &self.shared),
        }
    }

    /// The body has been read: answer, and go back to reading heads.
    fn body_done(&mut self, chan: &mut Channel) {
        let idle = Phase::Idle { since: chan.now() };
        if let Phase::Body(body) = std::mem::replace(&mut self.phase, idle) {
            let w = body.waiting;
            let reply = self.outcome(chan, w.outcome);
            self.queue(chan, reply, w.persistence, Logged::Rendered(&w.request));
        }
        self.next_request(chan);
    }

    /// Back to waiting for a head, unless the connection is closing.
    fn next_request(&mut self, chan: &mut Channel) {
        chan.hide_data(false);
        if !chan.is_closing() {
            self.phase = Phase::Idle { since: chan.now() };
            chan.set_terminator(Terminator::BlankLine);
        }
    }

    /// A record of the body is complete: the count of a Content-Length
    /// body, or a line or chunk of the chunked walk.
    fn found_body_record(&mut self, chan: &mut Channel, step: BodyStep) {
        match step {
            BodyStep::Length => self.body_done(chan),
            BodyStep::ChunkSize => self.found_chunk_size(chan),
            BodyStep::ChunkData => {
                self.set_body_step(BodyStep::ChunkEnd);
                chan.set_terminator(b"\n");
            }
            BodyStep::ChunkEnd => {
                if matches!(self.line(), b"" | b"\r") {
                    self.clear_line();
                    self.set_body_step(BodyStep::ChunkSize);
                } else {
                    self.fail(chan, HttpError::ChunkNotTerminated);
                }
            }
            BodyStep::Trailers { bytes, lines } => self.found_trailer(chan, bytes, lines),
        }
    }

    /// The current chunk-size, chunk-end or trailer line (empty outside a
    /// body).
    fn line(&self) -> &[u8] {
        match &self.phase {
            Phase::Body(body) => &body.line,
            _ => &[],
        }
    }

    fn clear_line(&mut self) {
        if let Phase::Body(body) = &mut self.phase {
            body.line.clear();
        }
    }

    fn set_body_step(&mut self, step: BodyStep) {
        if let Phase::Body(body) = &mut self.phase {
            body.step = step;
        }
    }

    fn found_chunk_size(&mut self, chan: &mut Channel) {
        let size = match head::parse_chunk_size(self.line()) {
            Ok(size) => size,
            Err(e) => return self.fail(chan, e),
        };
        self.clear_line();
        let cfg = &self.shared.config;
        let Phase::Body(body) = &mut self.phase else {
            return;
        };
        body.announced = body.announced.saturating_add(size);
        let (limit, too_large) = match body.waiting.outcome {
            Outcome::Store(_) => (cfg.max_upload, HttpError::UploadTooLarge),
            Outcome::Reply(_) => (cfg.max_body, HttpError::BodyTooLarge),
        };
        if body.announced > limit {
            return self.fail(chan, too_large);
        }
        if size == 0 {
            trace!(chan.tracer(), "last chunk: trailer fields follow");
            body.step = BodyStep::Trailers { bytes: 0, lines: 0 };
        } else {
            trace!(chan.tracer(), "chunk of {size} bytes");
            body.step = BodyStep::ChunkData;
            chan.set_terminator(Terminator::Count(size));
        }
    }

    fn found_trailer(&mut self, chan: &mut Channel, bytes: usize, lines: usize) {
        if matches!(self.line(), b"" | b"\r") {
            self.clear_line();
            trace!(chan.tracer(), "end of trailers: body complete");
            return self.body_done(chan);
        }
        let (bytes, lines) = (bytes + self.line().len() + 1, lines + 1);
        self.clear_line();
        if bytes > self.config().max_head || lines > MAX_HEADERS {
            return self.fail(chan, HttpError::TooManyTrailers);
        }
        self.set_body_step(BodyStep::Trailers { bytes, lines });
    }
}

impl AsyncChat for HttpChannel {
    fn collect_incoming_data(&mut self, chan: &mut Channel, data: &[u8]) {
        if chan.is_closing() {
            return; // an error was answered: nothing more is read
        }
        match &mut self.phase {
            Phase::Idle { .. } | Phase::Head { .. } => self.collect_head(chan, data),
            Phase::Body(body) => match body.step {
                // Discarded or stored, and a capture may keep only its size.
                BodyStep::Length | BodyStep::ChunkData => {
                    chan.mark_payload();
                    if let Outcome::Store(store) = &mut body.waiting.outcome {
                        store.write(chan, data);
                        // An upload times out when it stops making progress.
                        body.started = chan.now();
                        self.update_deadline(chan);
                    }
                }
                BodyStep::ChunkSize | BodyStep::ChunkEnd | BodyStep::Trailers { .. } => {
                    body.line.extend_from_slice(data);
                    if body.line.len() > MAX_LINE {
                        self.fail(chan, HttpError::ChunkLineTooLong);
                    }
                }
            },
        }
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        if !chan.is_closing() {
            match &self.phase {
                Phase::Idle { .. } | Phase::Head { .. } => self.found_head(chan),
                Phase::Body(body) => {
                    let step = body.step;
                    self.found_body_record(chan, step);
                }
            }
        }
        self.update_deadline(chan);
    }

    fn handle_connect(&mut self, chan: &mut Channel) {
        Monitor::count(&self.shared.monitor.accepted);
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
        if chan.fifo().is_empty() && mid_request && !chan.is_closing() {
            log::debug!("{}: request timed out", peer(chan));
            self.fail(chan, HttpError::Timeout);
        } else {
            // Idle keep-alive, or a client that stopped reading: close.
            log::debug!("{}: timed out", peer(chan));
            chan.close();
        }
    }

    fn handle_stop(&mut self, chan: &mut Channel) {
        self.stopping = true;
        if let Phase::Idle { .. } = self.phase
            && !chan.is_closing()
        {
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
            let upload = match &self.phase {
                Phase::Body(body) => match &body.waiting.outcome {
                    Outcome::Store(store) => Some(store.progress()),
                    Outcome::Reply(_) => None,
                },
                _ => None,
            };
            self.shared
                .monitor
                .observe(chan, self.phase_name(chan), self.served, upload);
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
        assert_eq!(
            &*next.ok_start,
            [status_line(200), b"Sun, 06 Nov 1994 08:49:38 GMT\r\n"].concat()
        );
    }

    #[test]
    fn the_loop_clock_reads_the_wall_clock_once_a_second() {
        let mut clock = Clock::default();
        let start = Instant::now();
        let first = Rc::clone(&clock.tick_at(start).date_line);
        let next = clock.next.expect("the end of the second is known");
        assert!(next > start && next <= start + Duration::from_secs(1));
        // Until the second ends, the same bytes, whatever the wall clock.
        clock.second = Some(0);
        let same = Rc::clone(&clock.tick_at(next - Duration::from_nanos(1)).date_line);
        assert!(Rc::ptr_eq(&first, &same));
        // Then the wall clock is read again, and rendered anew.
        let later = Rc::clone(&clock.tick_at(next).date_line);
        assert!(!Rc::ptr_eq(&first, &later));
        assert!(clock.next.expect("known") >= next);
    }

    #[test]
    fn between_requests_a_connection_holds_no_head_buffer() {
        let shared = Shared::new(Config::new(".").unwrap()).unwrap();
        let mut handler = HttpChannel::new(shared);
        let mut chan = Channel::new(HttpChannel::initial_terminator());
        // A head in pieces: the buffer is held while it is collected...
        chan.feed(&mut handler, b"GET /Cargo.toml HTTP/1.1\r\nHo");
        assert!(handler.head.buf.capacity() > 0);
        // ... and given back once it has been answered.
        chan.feed(&mut handler, b"st: x\r\n\r\n");
        assert_eq!(handler.head.buf.capacity(), 0);
        let mut wire = Vec::new();
        chan.send(&mut handler, &mut wire).unwrap();
        assert!(wire.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(chan.fifo().is_empty() && chan.pending_input().is_empty());
    }

    #[test]
    fn a_200_starts_with_one_piece_and_others_with_two() {
        let mut clock = Clock::default();
        clock.tick(UNIX_EPOCH + Duration::from_secs(784_111_777));
        for (status, pieces) in [(200, 1), (404, 2), (206, 2)] {
            let mut chan = Channel::new(b"\n");
            clock.push_start(&mut chan, status);
            assert_eq!(chan.fifo().len(), pieces, "{status}");
            let mut wire = Vec::new();
            let mut handler = HttpChannel::new(Shared::new(Config::new(".").unwrap()).unwrap());
            chan.send(&mut handler, &mut wire).unwrap();
            let want = [status_line(status), b"Sun, 06 Nov 1994 08:49:37 GMT\r\n"].concat();
            assert_eq!(wire, want, "{status}");
        }
    }
}
