//! The channel (async_chat): a terminator-driven input side and a producer
//! FIFO output side, with the user's callbacks in an [`AsyncChat`] handler.
//!
//! [`Channel`] is the state that CPython keeps on `self` (terminator, input
//! buffer, output queue); it is passed to every callback, so a handler reads
//! like an `async_chat` subclass: `chan.set_terminator(..)`,
//! `chan.push(..)`. [`Channel::feed`] runs the terminator loop and needs no
//! socket, which is how tests, replays and fuzzers drive a handler in memory;
//! [`Connection`] ties a channel and its handler to a `TcpStream`, accepted
//! or connected out with [`Connection::connect`], and makes them a
//! [`Dispatcher`].
//!
//! Deviations from CPython, on purpose:
//!
//! - A channel always has a terminator: it is given to [`Channel::new`], so
//!   a read can never arrive with none set.
//! - [`Channel::close`] (or [`Channel::close_when_done`]) inside a callback
//!   stops delivery of the records still in the buffer.
//! - Anything pushed after `close_when_done` is discarded, as the contract
//!   says; reading stops at the same moment.
//! - End of stream does not close at once: the records already buffered are
//!   delivered, then [`AsyncChat::handle_eof`] runs, whose default is
//!   `close_when_done`, so a request followed by a half-close still gets its
//!   whole response.
//! - Back-pressure: while the output queue is over its [`Limits`], delivery
//!   pauses between records and reading stops; it resumes as the queue
//!   drains. The input buffer therefore never holds more than one read plus
//!   a held-back partial terminator.

use std::io::{self, IoSlice, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use crate::capture::{InputMarks, Recorder, Sink};
use crate::fifo::{Fifo, Transport};
use crate::producer::{FILE_SPAN_MAX, FileSpan, Piece, Producer};
use crate::reactor::{CloseReason, Context, Dispatcher, Flow, Token};
use crate::spare;
use crate::terminator::{self, Records, Step, Terminator};
use crate::trace;
use crate::trace::{Searched, Shown, Size, Trace};

mod park;
use park::Held;

/// Bounds that keep one channel's memory in check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Delivery pauses (and reading stops) while this many pieces and
    /// producers are queued for output (an HTTP response is about five).
    pub max_queued: usize,
    /// ... or while this many bytes of output are queued, whatever their
    /// kind: pieces in memory, shared or not, file spans, and what queued
    /// producers promised ([`Fifo::queued_bytes`]). Counting all of them is
    /// what keeps a client that pipelines requests and never reads from
    /// making the server hold responses of any kind without bound.
    pub max_queued_bytes: u64,
    /// The most bytes written for one write event, so a client downloading a
    /// large file shares the loop fairly. The default is one
    /// [`FILE_SPAN_MAX`] span (512 KiB).
    pub write_budget: u64,
    /// The most work delivered for one event, in units: each record
    /// delivered is one, and a handler adds what a record cost it beyond
    /// that ([`Channel::charge`]). Past it, the records left wait for the
    /// channel's next turn, so that a client whose requests are each cheap
    /// to send and dear to answer cannot hold the loop by pipelining them.
    pub work_per_event: u64,
}

impl Limits {
    /// The defaults: see each field.
    pub const DEFAULT: Limits = Limits {
        max_queued: 256,
        max_queued_bytes: 1 << 20,
        write_budget: FILE_SPAN_MAX,
        work_per_event: WORK_PER_EVENT,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// The default [`Limits::work_per_event`]: some hundreds of ordinary
/// pipelined requests (a head of a few lines costs a few units), or a
/// dozen whose paths each take the walk's whole bound of steps.
pub const WORK_PER_EVENT: u64 = 4096;

/// The most reads done for one read event before other channels get a turn.
const READS_PER_EVENT: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Open,
    CloseWhenDone,
    Closed,
}

/// The state of one async_chat channel, passed to every [`AsyncChat`]
/// callback.
pub struct Channel {
    terminator: Terminator,
    /// Input not yet consumed: a held-back partial terminator, or records
    /// waiting while delivery is paused.
    inbox: Vec<u8>,
    fifo: Fifo,
    life: Life,
    /// The peer has finished sending.
    eof: bool,
    /// `handle_eof` has run.
    eof_told: bool,
    now: Instant,
    deadline: Option<Instant>,
    token: Token,
    peer: Option<SocketAddr>,
    /// Channels to wake after this callback (boxed: few channels wake
    /// others, and an idle channel is small).
    #[allow(clippy::box_collection)] // one pointer in the channel, not three
    wakes: Option<Box<Vec<Token>>>,
    /// The channel's bounds when they are not [`Limits::DEFAULT`] (boxed:
    /// most channels keep the defaults, and an idle channel is small).
    limits: Option<Box<Limits>>,
    /// The connection id (0 for a channel without a connection).
    id: u64,
    /// The connection trace, when this channel is traced (boxed: most
    /// channels are not).
    trace: Option<Box<Trace>>,
    /// Back-pressure as the trace last reported it.
    traced_pause: bool,
    /// The trace shows the data of records by size only ([`Channel::hide_data`]).
    hide_data: bool,
    /// Where each delivery lies in the input and which were payload, when
    /// the connection is captured.
    marks: Option<Box<InputMarks>>,
    /// Work delivered since the event began ([`Limits::work_per_event`]).
    work: u64,
    /// Delivery stopped with records left because the event's work was
    /// done: the channel asks for a write turn to come back for them, and
    /// reads nothing more meanwhile.
    held: bool,
}

impl Channel {
    /// A channel that starts collecting with `terminator`.
    pub fn new(terminator: impl Into<Terminator>) -> Channel {
        Channel::starting_at(terminator.into(), Instant::now())
    }

    /// A new channel whose clock reads `now`.
    fn starting_at(terminator: Terminator, now: Instant) -> Channel {
        Channel {
            terminator,
            inbox: Vec::new(),
            fifo: Fifo::new(),
            life: Life::Open,
            eof: false,
            eof_told: false,
            now,
            deadline: None,
            token: Token::DETACHED,
            peer: None,
            wakes: None,
            limits: None,
            id: 0,
            trace: None,
            traced_pause: false,
            hide_data: false,
            marks: None,
            work: 0,
            held: false,
        }
    }

    /// The connection id: 1, 2, 3, ... in the order connections were
    /// accepted (0 for a channel without a connection).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Traces this channel's events to `trace`, or stops tracing.
    pub fn set_trace(&mut self, trace: Option<Trace>) {
        self.trace = trace.map(Box::new);
    }

    /// The trace, when this channel is traced. Handlers add their own
    /// events with [`trace!`](crate::trace!): `trace!(chan.tracer(), "...")`.
    pub fn tracer(&self) -> Option<&Trace> {
        self.trace.as_deref()
    }

    /// Says that the data of the `collect_incoming_data` call now running
    /// is payload (a message body) rather than framing (a head, a length,
    /// a chunk size), for the capture: it may keep only the size of payloads
    /// ([`capture::Options::omit_payloads`](crate::capture::Options::omit_payloads)),
    /// and past its cap keeps framing whole but payloads by size alone. A
    /// handler calls it from `collect_incoming_data`; elsewhere it does
    /// nothing, as it does when the connection is not captured (one
    /// `Option` test).
    pub fn mark_payload(&mut self) {
        if let Some(marks) = &mut self.marks {
            marks.mark_payload();
        }
    }

    /// While `hide` is set, the trace shows the data read and the data
    /// handed to `collect_incoming_data` by its size alone, not its bytes:
    /// an upload's body, whose contents are the uploader's business.
    pub fn hide_data(&mut self, hide: bool) {
        self.hide_data = hide;
    }

    /// Tells the trace when back-pressure starts or stops.
    fn trace_pressure(&mut self) {
        if self.trace.is_none() {
            return;
        }
        let paused = self.output_full();
        if paused != self.traced_pause {
            self.traced_pause = paused;
            let (items, bytes) = (self.fifo.len(), self.fifo.queued_bytes());
            let state = if paused { "on" } else { "off" };
            trace!(
                &self.trace,
                "back-pressure {state}: {items} items, {bytes} bytes queued"
            );
        }
    }

    /// Replaces the terminator. Inside `found_terminator` it applies to the
    /// rest of the same buffer.
    pub fn set_terminator(&mut self, terminator: impl Into<Terminator>) {
        let new = terminator.into();
        trace!(&self.trace, "set_terminator {} -> {new}", self.terminator);
        self.terminator = new;
    }

    /// The terminator in force (a count shows what is left of it).
    pub fn get_terminator(&self) -> &Terminator {
        &self.terminator
    }

    /// Queues bytes for output. Ignored after `close_when_done` or `close`.
    pub fn push(&mut self, data: impl Into<Piece>) {
        if self.life == Life::Open {
            let piece = data.into();
            trace!(
                &self.trace,
                "push {} piece: {} bytes",
                piece.kind(),
                piece.len()
            );
            self.fifo.push(piece);
        }
    }

    /// Queues a producer; its `more()` is called only when the socket can
    /// take more. Ignored after `close_when_done` or `close`.
    pub fn push_with_producer(&mut self, producer: impl Producer + 'static) {
        if self.life == Life::Open {
            trace!(
                &self.trace,
                "push producer {}{}",
                producer.name(),
                Size(producer.size_hint())
            );
            self.fifo.push_producer(Box::new(producer));
        }
    }

    /// Closes the channel once everything queued so far has been sent.
    /// Stops reading and delivery at once; later pushes are discarded.
    pub fn close_when_done(&mut self) {
        if self.life == Life::Open {
            self.life = Life::CloseWhenDone;
        }
    }

    /// Closes the channel now, dropping queued output and buffered input.
    pub fn close(&mut self) {
        self.life = Life::Closed;
        self.fifo.clear();
        self.inbox.clear();
    }

    /// True once `close_when_done` or `close` was called.
    pub fn is_closing(&self) -> bool {
        self.life != Life::Open
    }

    /// True when the channel is finished: closed, or closing with nothing
    /// left to send.
    pub fn is_done(&self) -> bool {
        match self.life {
            Life::Open => false,
            Life::CloseWhenDone => self.fifo.is_empty(),
            Life::Closed => true,
        }
    }

    /// True once the peer has finished sending.
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    fn output_full(&self) -> bool {
        self.fifo.len() >= self.bounds().max_queued
            || self.fifo.queued_bytes() >= self.bounds().max_queued_bytes
    }

    /// True while delivery of records is paused: the output queue is over
    /// its bound, or the event's work bound put the records left off to the
    /// channel's next turn.
    pub fn is_paused(&self) -> bool {
        self.output_full() || self.held
    }

    /// True while the channel wants input: open, not at end of stream, and
    /// not paused by back-pressure.
    pub fn readable(&self) -> bool {
        self.life == Life::Open && !self.eof && !self.output_full() && !self.held
    }

    /// True while output is queued, or while records wait for the turn
    /// that the event's work bound put off ([`Limits::work_per_event`]): a
    /// write turn is how the reactor comes back for them.
    pub fn writable(&self) -> bool {
        (!self.fifo.is_empty() || self.held) && self.life != Life::Closed
    }

    /// Adds `units` to the work done for the current event, beyond the one
    /// unit each record costs: what answering the record took (the steps
    /// of a path's resolution, say). Once the event's work reaches
    /// [`Limits::work_per_event`], the records left wait for the channel's
    /// next turn.
    pub fn charge(&mut self, units: u64) {
        self.work = self.work.saturating_add(units);
    }

    /// Input held by the channel: a partial terminator, or records waiting
    /// for the output queue to drain.
    pub fn pending_input(&self) -> &[u8] {
        &self.inbox
    }

    /// The output queue.
    pub fn fifo(&self) -> &Fifo {
        &self.fifo
    }

    /// The back-pressure and fairness bounds.
    pub fn limits(&self) -> Limits {
        *self.bounds()
    }

    /// The bounds in force, read where the loop checks them (once per
    /// record delivered): a reference, not a copy.
    fn bounds(&self) -> &Limits {
        self.limits.as_deref().unwrap_or(&Limits::DEFAULT)
    }

    /// Replaces the back-pressure and fairness bounds.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = (limits != Limits::DEFAULT).then(|| Box::new(limits));
    }

    /// The loop's clock when the current callback started.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The channel's deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Sets or clears the deadline; when it passes,
    /// [`AsyncChat::handle_timeout`] runs.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// This channel's token in the reactor ([`Token::DETACHED`] without one).
    pub fn token(&self) -> Token {
        self.token
    }

    /// The peer's address, when the channel has a socket.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Asks the reactor to call [`AsyncChat::handle_wake`] on the channel
    /// with `token` (Medusa's `trigger`), for example after putting a
    /// message in a queue it shares with this one.
    pub fn wake(&mut self, token: Token) {
        self.wakes.get_or_insert_default().push(token);
    }

    /// Feeds bytes that arrived to the terminator loop, delivering every
    /// complete record to `handler`, and keeps what could not be consumed.
    /// With empty `data` it resumes delivery of input held while paused.
    /// Each call is a new event for [`Limits::work_per_event`].
    pub fn feed<H: AsyncChat + ?Sized>(&mut self, handler: &mut H, data: &[u8]) {
        self.work = 0;
        self.deliver(handler, data);
    }

    /// [`Channel::feed`] within the current event's work.
    fn deliver<H: AsyncChat + ?Sized>(&mut self, handler: &mut H, data: &[u8]) {
        self.held = false;
        if self.life != Life::Open {
            return;
        }
        if self.inbox.is_empty() {
            let used = terminator::run(
                &mut Delivery {
                    chan: self,
                    handler,
                },
                data,
            );
            if self.life == Life::Open && used < data.len() {
                if self.inbox.capacity() == 0 {
                    self.inbox = spare::take(&spare::BYTES);
                }
                self.inbox.extend_from_slice(&data[used..]);
            }
        } else {
            let mut buf = std::mem::take(&mut self.inbox);
            buf.extend_from_slice(data);
            let used = terminator::run(
                &mut Delivery {
                    chan: self,
                    handler,
                },
                &buf,
            );
            if self.life == Life::Open {
                buf.drain(..used);
                if buf.is_empty() {
                    // Nothing held: an idle channel keeps no input buffer.
                    spare::give(&spare::BYTES, buf, spare::BYTES_LARGEST);
                } else {
                    self.inbox = buf;
                }
            }
        }
        if self.life == Life::Open && !self.inbox.is_empty() && self.work_done() {
            self.held = true;
            trace!(
                &self.trace,
                "work bound: {} units this turn, {} bytes wait for the next",
                self.work,
                self.inbox.len()
            );
        }
        self.trace_pressure();
        self.tell_eof(handler);
    }

    fn work_done(&self) -> bool {
        self.work >= self.bounds().work_per_event
    }

    /// Marks the end of the peer's stream. Buffered records are still
    /// delivered; [`AsyncChat::handle_eof`] runs once they have been.
    pub fn feed_eof<H: AsyncChat + ?Sized>(&mut self, handler: &mut H) {
        self.eof = true;
        self.tell_eof(handler);
    }

    fn tell_eof<H: AsyncChat + ?Sized>(&mut self, handler: &mut H) {
        // Input left while delivering is a held partial record, which end of
        // stream will never complete; input left while paused still counts.
        if self.eof
            && !self.eof_told
            && self.life == Life::Open
            && !self.output_full()
            && !self.held
        {
            self.eof_told = true;
            handler.handle_eof(self);
        }
    }

    /// Writes queued output to `t` within the write budget, resuming the
    /// delivery of input held by back-pressure as the queue drains.
    ///
    /// On return, records can be left in the input buffer only while the
    /// output queue is non-empty, so a write event is sure to come back for
    /// them: the reactor waits for nothing else.
    ///
    /// # Errors
    ///
    /// The transport's errors, other than `WouldBlock` and `Interrupted`.
    pub fn send<H: AsyncChat + ?Sized>(
        &mut self,
        handler: &mut H,
        t: &mut impl Transport,
    ) -> io::Result<u64> {
        let mut sent = 0;
        self.work = 0;
        loop {
            let budget = self.bounds().write_budget.saturating_sub(sent);
            let n = self.fifo.send_traced(t, budget, self.trace.as_deref())?;
            if n > 0 {
                sent += n;
                handler.handle_sent(self, n);
            }
            if self.inbox.is_empty() || !Delivery::<H>::can_deliver(self) {
                // Records held by the work bound that can't be delivered
                // yet (the queue is full) wait for the queue to drain.
                self.held &= !self.inbox.is_empty() && self.life == Life::Open;
                break;
            }
            let held = self.inbox.len();
            self.deliver(handler, &[]);
            // No progress means what is left is a partial record, which only
            // more input can complete. Past the budget or the event's work,
            // what was just delivered (or `held`) keeps the channel
            // writable, so the rest waits for the next write event.
            if self.inbox.len() == held || sent >= self.bounds().write_budget || self.work_done() {
                break;
            }
        }
        self.trace_pressure();
        self.tell_eof(handler);
        Ok(sent)
    }

    /// True when the channel was closed with [`Channel::close`] (rather than
    /// finishing after `close_when_done`).
    pub fn is_closed(&self) -> bool {
        self.life == Life::Closed
    }

    /// Moves requests to the reactor after a callback and says whether the
    /// channel should close.
    fn leave(&mut self, cx: &mut Context<'_>) -> Flow {
        cx.set_deadline(self.deadline);
        for token in self.wakes.iter_mut().flat_map(|w| w.drain(..)) {
            cx.wake(token);
        }
        if self.is_done() {
            Flow::Close
        } else {
            Flow::Continue
        }
    }
}

/// The terminator loop's view of a channel and its handler.
struct Delivery<'a, H: ?Sized> {
    chan: &'a mut Channel,
    handler: &'a mut H,
}

impl<H: AsyncChat + ?Sized> Records for Delivery<'_, H> {
    fn terminator(&mut self) -> &mut Terminator {
        &mut self.chan.terminator
    }

    fn collect_incoming_data(&mut self, data: &[u8]) {
        if self.chan.hide_data {
            trace!(
                &self.chan.trace,
                "collect_incoming_data {} bytes, not shown",
                data.len()
            );
        } else {
            trace!(
                &self.chan.trace,
                "collect_incoming_data {} bytes {}",
                data.len(),
                Shown(data)
            );
        }
        self.handler.collect_incoming_data(self.chan, data);
    }

    fn found_terminator(&mut self) {
        trace!(&self.chan.trace, "found_terminator");
        self.chan.work += 1;
        self.handler.found_terminator(self.chan);
    }

    fn searched(&mut self, step: Step) {
        trace!(
            &self.chan.trace,
            "{}",
            Searched(&self.chan.terminator, step)
        );
        if let Some(marks) = &mut self.chan.marks {
            marks.step(step);
        }
    }

    fn delivering(&self) -> bool {
        Self::can_deliver(self.chan)
    }
}

impl<H: ?Sized> Delivery<'_, H> {
    /// Records are delivered while the channel is open, its output queue
    /// is under its bound, and the event's work is not done.
    fn can_deliver(chan: &Channel) -> bool {
        chan.life == Life::Open && !chan.output_full() && !chan.work_done()
    }
}

/// The callbacks of an async_chat channel: implement this where Python
/// would subclass `async_chat`.
pub trait AsyncChat {
    /// Data belonging to the current record arrived. Never called with an
    /// empty slice.
    fn collect_incoming_data(&mut self, chan: &mut Channel, data: &[u8]);

    /// The terminator was found: the current record is complete.
    fn found_terminator(&mut self, chan: &mut Channel);

    /// Output was written: `sent` bytes left the queue. A send timeout is
    /// refreshed here, so that a slow but steady reader is not cut off.
    fn handle_sent(&mut self, _chan: &mut Channel, _sent: u64) {}

    /// The channel joined a reactor (set a first deadline here).
    fn handle_connect(&mut self, _chan: &mut Channel) {}

    /// The peer finished sending and every complete record has been
    /// delivered. The default closes once the output is sent.
    fn handle_eof(&mut self, chan: &mut Channel) {
        chan.close_when_done();
    }

    /// The deadline passed. The default closes at once.
    fn handle_timeout(&mut self, chan: &mut Channel) {
        chan.close();
    }

    /// Another channel called [`Channel::wake`] with this one's token.
    fn handle_wake(&mut self, _chan: &mut Channel) {}

    /// The reactor is shutting down. The default closes once the output is
    /// sent.
    fn handle_stop(&mut self, chan: &mut Channel) {
        chan.close_when_done();
    }

    /// Called after every event with the state the event left behind, for
    /// statistics (the HTTP server's status page). The default does
    /// nothing.
    fn observe(&mut self, _chan: &Channel) {}

    /// The channel left the reactor; called exactly once. Nothing pushed
    /// here is sent, but [`Channel::wake`] still reaches the others.
    fn handle_close(&mut self, _chan: &mut Channel, _reason: CloseReason) {}
}

/// How long a connection that finished with `close_when_done` goes on
/// reading (and discarding) after it has shut down its sending side.
pub const LINGER: Duration = Duration::from_secs(2);

/// A socket driven by an [`AsyncChat`] handler: the [`Dispatcher`] for an
/// async_chat channel.
///
/// When a channel finishes after `close_when_done` while the peer may still
/// be sending (pipelined requests after an error, say), closing the socket
/// with unread input would make the kernel send a reset, which can destroy
/// the response still in flight. So the connection first shuts down its
/// sending side, then reads and discards until the peer closes or
/// [`LINGER`] passes: the "lingering close" of HTTP servers.
///
/// Between events, a connection whose channel is idle and holds nothing
/// keeps only a record of it, and makes it whole again at its next event
/// (`src/channel/park.rs`): an idle keep-alive connection costs its
/// socket, its handler and that record.
pub struct Connection<H> {
    stream: TcpStream,
    chan: Held,
    handler: H,
    lingering: bool,
    /// Made by [`Connection::connect`] rather than accepted.
    outgoing: bool,
    /// The capture of this connection's traffic, when it is captured.
    capture: Option<Box<Recorder>>,
}

impl<H: AsyncChat> Connection<H> {
    /// Wraps an accepted, non-blocking socket. Sets `TCP_NODELAY`: output is
    /// already gathered into as few writes as possible, so Nagle's delay
    /// would only add latency.
    pub fn new(stream: TcpStream, chan: Channel, handler: H) -> Connection<H> {
        let peer = stream.peer_addr().ok();
        Connection::with_peer(stream, peer, chan, handler, false)
    }

    /// Starts a non-blocking connect to `addr` and wraps the socket: the
    /// client side of a channel, asyncore's `create_socket` and `connect`.
    ///
    /// The connect completes in the background once the connection is
    /// added to a [`Reactor`](crate::Reactor). [`AsyncChat::handle_connect`]
    /// runs when it is added, before the connect has completed: output
    /// pushed there (a client's first requests) waits in the queue and
    /// leaves when the socket becomes writable, which is when the
    /// connection is established. A connect that fails (refused,
    /// unreachable) closes the channel with
    /// [`CloseReason::Error`], for example
    /// `CloseReason::Error(io::ErrorKind::ConnectionRefused)`, through the
    /// first read or write that reports it; a connect that never completes
    /// is the handler's deadline to catch. [`Channel::peer`] is `addr` from
    /// the start.
    ///
    /// # Errors
    ///
    /// The error from creating the socket, or a connect that failed at
    /// once.
    pub fn connect(addr: SocketAddr, chan: Channel, handler: H) -> io::Result<Connection<H>> {
        use rustix::net::{AddressFamily, SocketFlags, SocketType};
        let family = match addr {
            SocketAddr::V4(_) => AddressFamily::INET,
            SocketAddr::V6(_) => AddressFamily::INET6,
        };
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let socket = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
        match rustix::net::connect(&socket, &addr) {
            Ok(()) | Err(rustix::io::Errno::INPROGRESS) => {}
            Err(e) => return Err(e.into()),
        }
        let stream = TcpStream::from(socket);
        Ok(Connection::with_peer(
            stream,
            Some(addr),
            chan,
            handler,
            true,
        ))
    }

    fn with_peer(
        stream: TcpStream,
        peer: Option<SocketAddr>,
        mut chan: Channel,
        handler: H,
        outgoing: bool,
    ) -> Connection<H> {
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("TCP_NODELAY: {e}");
        }
        chan.peer = peer;
        chan.id = trace::next_id();
        if chan.trace.is_none() && trace::wanted(chan.id, chan.peer) {
            chan.trace = Some(Box::new(Trace::for_connection(chan.id, chan.peer)));
        }
        Connection {
            stream,
            chan: Held::new(chan),
            handler,
            lingering: false,
            outgoing,
            capture: None,
        }
    }

    /// Captures this connection's traffic to `sink`, if the sink's filters
    /// want it: every read as it returned, every write, the end of stream,
    /// timeouts and the close (see [`crate::capture`]). Returns whether it
    /// does: not when the filters leave it out, nor when the writer is so
    /// far behind that even the file's header does not fit (the writer
    /// logs how many connections it missed). Call it before the
    /// connection joins the reactor (an [`Acceptor`](crate::Acceptor)
    /// does), so that the capture starts with the first byte.
    pub fn capture(&mut self, sink: &Sink) -> bool {
        // Before it joins a reactor, a connection's channel is whole.
        let chan = self.chan.live();
        if self.capture.is_some() || !sink.wants(chan.id, chan.peer) {
            return false;
        }
        let local = self.stream.local_addr().ok();
        let Some(rec) = Recorder::start(sink, chan.id, chan.peer, local) else {
            return false;
        };
        self.capture = Some(Box::new(rec));
        chan.marks = Some(Box::default());
        true
    }

    /// The channel state: `None` between events while the connection is
    /// parked, which it never is before it joins a reactor.
    pub fn channel(&self) -> Option<&Channel> {
        self.chan.get()
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Makes the channel whole for an event, if it was parked.
    fn enter(&mut self, cx: &Context<'_>) {
        let chan = self.chan.unpark(cx.now(), || cx.deadline());
        chan.now = cx.now();
        chan.token = cx.token();
    }

    /// Hands the channel's requests to the reactor; a channel that finished
    /// gracefully before the peer did starts lingering instead of closing.
    /// An idle channel parks.
    fn leave(&mut self, cx: &mut Context<'_>) -> Flow {
        let chan = self.chan.live();
        let flow = chan.leave(cx);
        self.handler.observe(chan);
        if let Some(rec) = &mut self.capture {
            // A channel that is closing consumes no more of its input.
            let closing = chan.is_closing();
            rec.settle(chan.marks.as_deref_mut(), closing);
            rec.flush();
        }
        if flow == Flow::Close && !chan.is_closed() && !chan.at_eof() {
            if self.stream.shutdown(Shutdown::Write).is_err() {
                return Flow::Close;
            }
            trace!(&chan.trace, "all sent: shut down writing, lingering");
            self.lingering = true;
            cx.set_deadline(Some(cx.now() + LINGER));
            return Flow::Continue;
        }
        // A captured connection stays whole: its marks follow every byte.
        if flow == Flow::Continue && self.capture.is_none() {
            self.chan.park();
        }
        flow
    }

    /// Reads and discards until the peer closes.
    fn linger(&mut self, cx: &mut Context<'_>) -> io::Result<Flow> {
        let buf = cx.read_buffer();
        for _ in 0..READS_PER_EVENT {
            match self.stream.read(buf) {
                Ok(0) => {
                    if let Some(rec) = &mut self.capture {
                        rec.eof();
                    }
                    return Ok(Flow::Close);
                }
                Ok(n) => {
                    if let Some(rec) = &mut self.capture {
                        rec.discarded(n);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Flow::Continue)
    }
}

impl<H: AsyncChat> Dispatcher for Connection<H> {
    fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    fn readable(&self) -> bool {
        self.lingering || self.chan.readable()
    }

    fn writable(&self) -> bool {
        !self.lingering && self.chan.writable()
    }

    fn handle_connect(&mut self, cx: &mut Context<'_>) -> Flow {
        self.enter(cx);
        let chan = self.chan.live();
        let how = if self.outgoing {
            "connecting"
        } else {
            "accepted"
        };
        trace!(&chan.trace, "{how}, terminator {}", chan.terminator);
        self.handler.handle_connect(chan);
        self.leave(cx)
    }

    fn handle_read(&mut self, cx: &mut Context<'_>) -> io::Result<Flow> {
        if self.lingering {
            let flow = self.linger(cx);
            if let Some(rec) = &mut self.capture {
                rec.flush();
            }
            return flow;
        }
        self.enter(cx);
        let chan = self.chan.live();
        let buf = cx.read_buffer();
        for _ in 0..READS_PER_EVENT {
            if !chan.readable() {
                break;
            }
            match self.stream.read(buf) {
                Ok(0) => {
                    trace!(&chan.trace, "read: end of stream");
                    if let Some(rec) = &mut self.capture {
                        // Nothing held back can be completed now.
                        rec.settle(chan.marks.as_deref_mut(), true);
                        rec.eof();
                    }
                    chan.feed_eof(&mut self.handler);
                    break;
                }
                Ok(n) => {
                    if chan.hide_data {
                        // Inside an upload's body: by size alone, as below.
                        trace!(&chan.trace, "read {n} bytes, not shown");
                    } else {
                        trace!(&chan.trace, "read {n} bytes {}", Shown(&buf[..n]));
                    }
                    match &mut self.capture {
                        None => chan.feed(&mut self.handler, &buf[..n]),
                        Some(rec) => {
                            rec.read(&buf[..n]);
                            chan.feed(&mut self.handler, &buf[..n]);
                            rec.settle(chan.marks.as_deref_mut(), false);
                        }
                    }
                    if n < buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.leave(cx))
    }

    fn handle_write(&mut self, cx: &mut Context<'_>) -> io::Result<Flow> {
        self.enter(cx);
        let mut socket = Socket {
            stream: &mut self.stream,
            capture: self.capture.as_deref_mut(),
        };
        self.chan.live().send(&mut self.handler, &mut socket)?;
        Ok(self.leave(cx))
    }

    fn handle_timeout(&mut self, cx: &mut Context<'_>) -> Flow {
        if self.lingering {
            return Flow::Close;
        }
        self.enter(cx);
        let chan = self.chan.live();
        chan.deadline = None;
        trace!(&chan.trace, "timeout");
        if let Some(rec) = &mut self.capture {
            rec.timeout();
        }
        self.handler.handle_timeout(chan);
        self.leave(cx)
    }

    fn handle_wake(&mut self, cx: &mut Context<'_>) -> Flow {
        self.enter(cx);
        self.handler.handle_wake(self.chan.live());
        self.leave(cx)
    }

    fn handle_stop(&mut self, cx: &mut Context<'_>) -> Flow {
        if self.lingering {
            return Flow::Close;
        }
        self.enter(cx);
        self.handler.handle_stop(self.chan.live());
        self.leave(cx)
    }

    fn handle_close(&mut self, cx: &mut Context<'_>, reason: CloseReason) {
        // The channel itself finished before lingering began; how the
        // linger ended is the socket's business.
        let reason = if self.lingering {
            CloseReason::Done
        } else {
            reason
        };
        self.enter(cx);
        let chan = self.chan.live();
        trace!(&chan.trace, "close: {reason}");
        if let Some(rec) = self.capture.take() {
            rec.end(chan.marks.as_deref_mut(), &reason);
        }
        self.handler.handle_close(chan, reason);
        for token in chan.wakes.iter_mut().flat_map(|w| w.drain(..)) {
            cx.wake(token);
        }
        self.chan.release(cx.now());
    }
}

/// A connection's socket as the output queue writes to it: what it
/// writes is recorded as it is written, when the connection is captured.
/// One type whether or not it is, so that the write path is compiled once.
struct Socket<'a> {
    stream: &'a mut TcpStream,
    capture: Option<&'a mut Recorder>,
}

impl Transport for Socket<'_> {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = Transport::write_vectored(self.stream, bufs)?;
        if let Some(rec) = &mut self.capture {
            rec.sent(bufs, n);
        }
        Ok(n)
    }

    fn write_vectored_before_file(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = self.stream.write_vectored_before_file(bufs)?;
        if let Some(rec) = &mut self.capture {
            rec.sent(bufs, n);
        }
        Ok(n)
    }

    fn segment_size(&self) -> Option<u64> {
        self.stream.segment_size()
    }

    fn send_file(&mut self, span: &FileSpan) -> io::Result<usize> {
        let n = self.stream.send_file(span)?;
        if let Some(rec) = &mut self.capture {
            rec.sent_file(n);
        }
        Ok(n)
    }
}
