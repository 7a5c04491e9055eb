//! The reactor (asyncore): one thread, one [`polling::Poller`], a map of
//! dispatchers keyed by [`Token`], and per-dispatcher deadlines.
//!
//! The loop only routes events. A dispatcher says what it wants with
//! [`Dispatcher::readable`] and [`Dispatcher::writable`]; after every handler
//! the reactor asks again and touches the poller only if the answer changed.
//! Handlers return a [`Flow`] (go on, or close me) and the loop acts on it.
//!
//! Deviations from asyncore, on purpose:
//!
//! - Listeners are built in ([`Reactor::listen`] with an [`Acceptor`]), so the
//!   map holds one dispatcher type and accept errors are handled in one
//!   place: `EMFILE` and friends pause accepting for [`ACCEPT_BACKOFF`]
//!   instead of spinning, and are logged at most once per back-off.
//! - After a read, a dispatcher that became writable gets a write at once
//!   (an optimistic write): a request and its response cost one trip through
//!   the loop, and the poller is not asked for write interest unless the
//!   socket is actually full.
//! - Each dispatcher may have a deadline; a missed deadline calls
//!   [`Dispatcher::handle_timeout`]: never before it, and within about
//!   two milliseconds after (timers count whole milliseconds, rounded up,
//!   so that a deadline costs one `u64` in the set of timers).
//! - [`Stopper::stop`] (from any thread, for example a signal thread) starts
//!   a graceful shutdown: listeners close, every dispatcher gets
//!   [`Dispatcher::handle_stop`], and the loop ends when the last one closes
//!   or the grace period runs out.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroU64;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use polling::{Event, Events, PollMode, Poller};

/// How long accepting pauses after the process or system ran out of
/// descriptors or memory.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The size of the read buffer the reactor lends to every read handler.
pub const READ_BUFFER: usize = 64 * 1024;
/// The most connections accepted for one readiness event of a listener, so a
/// flood of connects cannot starve established channels.
const ACCEPTS_PER_EVENT: usize = 64;
/// The most rounds of wakes handled before the loop polls again.
const WAKE_ROUNDS: usize = 64;

/// Names one dispatcher in a [`Reactor`]. A token is never reused for another
/// dispatcher while the reactor lives, so a stale token is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token {
    /// The slot, below [`MAX_SLOTS`].
    index: u32,
    generation: u32,
}

impl Token {
    /// A token for tests and in-memory drivers, which have no reactor.
    pub const DETACHED: Token = Token {
        index: u32::MAX,
        generation: 0,
    };

    /// The slot number, which is unique among live dispatchers.
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// The token of slot `index` (below [`MAX_SLOTS`], so it fits).
    fn new(index: usize, generation: u32) -> Token {
        debug_assert!(index < MAX_SLOTS);
        Token {
            index: index as u32,
            generation,
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index)
    }
}

/// What a handler asks the loop to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep the dispatcher.
    Continue,
    /// Close it: deregister, call [`Dispatcher::handle_close`], drop it.
    Close,
}

/// Why a dispatcher was closed, passed to [`Dispatcher::handle_close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// A handler returned [`Flow::Close`].
    Done,
    /// [`Dispatcher::handle_timeout`] returned [`Flow::Close`].
    Timeout,
    /// A handler failed with an I/O error of this kind (a reset or broken
    /// pipe is the common case); [`Dispatcher::handle_error`] saw it first.
    Error(io::ErrorKind),
    /// The poller reported a hang-up on a dispatcher that wanted neither to
    /// read nor to write, so no handler could have noticed it.
    Hangup,
    /// The reactor shut down with the dispatcher still open.
    Shutdown,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Done => f.write_str("done"),
            CloseReason::Timeout => f.write_str("timeout"),
            CloseReason::Error(kind) => write!(f, "error: {kind}"),
            CloseReason::Hangup => f.write_str("hang-up"),
            CloseReason::Shutdown => f.write_str("shutdown"),
        }
    }
}

/// A channel in the reactor's map: a socket plus handlers.
///
/// Every handler gets a [`Context`] with the loop's clock, the dispatcher's
/// deadline and the shared read buffer.
pub trait Dispatcher {
    /// The socket to watch.
    fn fd(&self) -> BorrowedFd<'_>;

    /// True while the dispatcher wants read events. Returning false is
    /// back-pressure: the peer's data waits in the kernel.
    fn readable(&self) -> bool {
        true
    }

    /// True while the dispatcher has something to write. A dispatcher that is
    /// not writable gets no write events.
    fn writable(&self) -> bool {
        false
    }

    /// Called once, when the dispatcher joins the map.
    fn handle_connect(&mut self, _cx: &mut Context<'_>) -> Flow {
        Flow::Continue
    }

    /// The socket is readable.
    ///
    /// # Errors
    ///
    /// An error closes this dispatcher (after [`Dispatcher::handle_error`]),
    /// never the loop.
    fn handle_read(&mut self, cx: &mut Context<'_>) -> io::Result<Flow>;

    /// The socket is writable (or was just read from, and the dispatcher is
    /// writable).
    ///
    /// # Errors
    ///
    /// As for [`Dispatcher::handle_read`].
    fn handle_write(&mut self, _cx: &mut Context<'_>) -> io::Result<Flow> {
        Ok(Flow::Continue)
    }

    /// The deadline set with [`Context::set_deadline`] has passed. The
    /// default closes the dispatcher.
    fn handle_timeout(&mut self, _cx: &mut Context<'_>) -> Flow {
        Flow::Close
    }

    /// Another dispatcher called [`Context::wake`] with this one's token.
    fn handle_wake(&mut self, _cx: &mut Context<'_>) -> Flow {
        Flow::Continue
    }

    /// The reactor is shutting down. Finish what is in flight and return
    /// [`Flow::Close`] when idle; the default closes at once.
    fn handle_stop(&mut self, _cx: &mut Context<'_>) -> Flow {
        Flow::Close
    }

    /// A handler failed; the dispatcher is closed right after this. The
    /// default logs resets and broken pipes at debug level (they are the
    /// peer's business), anything else as a warning.
    fn handle_error(&mut self, err: &io::Error) {
        if is_disconnect(err) {
            log::debug!("channel error: {err}");
        } else {
            log::warn!("channel error: {err}");
        }
    }

    /// The dispatcher leaves the map. Called exactly once, whatever the
    /// reason; the socket closes when the dispatcher is dropped right after.
    /// Wakes asked for here are delivered (a chat member that leaves tells
    /// the others); the deadline no longer matters.
    fn handle_close(&mut self, _cx: &mut Context<'_>, _reason: CloseReason) {}
}

/// True for the errors that just mean the peer went away.
pub fn is_disconnect(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof
    )
}

/// Turns accepted sockets into dispatchers: the `handle_accept` of an
/// asyncore server. Any `FnMut(TcpStream, SocketAddr, &mut Context) ->
/// Option<D>` is an acceptor.
pub trait Acceptor<D> {
    /// A connection arrived from `peer`; the socket is already non-blocking.
    /// Return the dispatcher that serves it, or `None` to refuse it (the
    /// socket closes).
    fn handle_accept(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        cx: &mut Context<'_>,
    ) -> Option<D>;
}

impl<D, F> Acceptor<D> for F
where
    F: FnMut(TcpStream, SocketAddr, &mut Context<'_>) -> Option<D>,
{
    fn handle_accept(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        cx: &mut Context<'_>,
    ) -> Option<D> {
        self(stream, peer, cx)
    }
}

/// What a handler may ask of the loop while it runs.
pub struct Context<'a> {
    now: Instant,
    token: Token,
    epoch: Instant,
    deadline: &'a mut Deadline,
    read_buffer: &'a mut [u8],
    wakes: &'a mut Vec<Token>,
    stop: &'a AtomicBool,
}

impl Context<'_> {
    /// The loop's clock, read once after each wait.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The token of the dispatcher being called.
    pub fn token(&self) -> Token {
        self.token
    }

    /// The dispatcher's deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline.get(self.epoch)
    }

    /// Sets or clears the dispatcher's deadline. When it passes, the reactor
    /// calls [`Dispatcher::handle_timeout`].
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        *self.deadline = Deadline::new(self.epoch, deadline);
    }

    /// The reactor's read buffer ([`READ_BUFFER`] bytes), shared by every
    /// dispatcher so that an idle connection holds no buffer of its own.
    pub fn read_buffer(&mut self) -> &mut [u8] {
        self.read_buffer
    }

    /// Asks the reactor to call [`Dispatcher::handle_wake`] on `token` before
    /// it next waits. A token that is gone is ignored.
    pub fn wake(&mut self, token: Token) {
        self.wakes.push(token);
    }

    /// Asks the loop to shut down, as [`Stopper::stop`] does.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Stops a running [`Reactor`] from any thread. Cloneable and `Send`.
#[derive(Clone)]
pub struct Stopper {
    poller: Arc<Poller>,
    flag: Arc<AtomicBool>,
}

impl Stopper {
    /// Starts a graceful shutdown and wakes the loop if it is waiting.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::Release);
        if let Err(e) = self.poller.notify() {
            log::warn!("could not wake the reactor: {e}");
        }
    }
}

struct Listener<D> {
    socket: TcpListener,
    acceptor: Box<dyn Acceptor<D>>,
    /// Accepting is paused until the slot's deadline (descriptor exhaustion).
    paused: bool,
}

enum Entry<D> {
    Listener(Listener<D>),
    Channel(D),
}

struct Slot<D> {
    entry: Option<Entry<D>>,
    generation: u32,
    /// The interest registered with the poller: (read, write).
    interest: (bool, bool),
    /// The deadline the dispatcher asked for.
    deadline: Deadline,
    /// The slot's entry in the timer set; never later than `deadline`, so
    /// the set needs touching only when a deadline moves earlier.
    armed: Option<Timer>,
}

/// The most slots [`Reactor::set_max_channels`] reserves ahead.
pub const SLOTS_RESERVED: usize = 1 << 16;

/// The most dispatchers (channels and listeners) a reactor holds at once:
/// a slot's number is kept in the low 24 bits of its timer, so that the
/// timer is one `u64`.
pub const MAX_SLOTS: usize = 1 << Timer::SLOT_BITS;

/// A slot's entry in the timer set: the millisecond its deadline falls in,
/// counted from the reactor's epoch and rounded up (so a timer never fires
/// early), in the high 40 bits, and the slot's number in the low 24. One
/// `u64`, ordered by time: a set of them costs an idle connection about 15
/// bytes, and comparing two is one instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timer(NonZeroU64);

impl Timer {
    const SLOT_BITS: u32 = 24;
    /// The last millisecond a timer can name: about 34 years after the
    /// epoch. A deadline further off waits until then.
    const LAST_TICK: u64 = (1 << (64 - Timer::SLOT_BITS)) - 1;

    /// The timer of slot `index` for a deadline `nanos` after the epoch.
    fn new(nanos: u64, index: usize) -> Timer {
        Timer::at_tick(nanos.div_ceil(NANOS_PER_MS), index as u64)
    }

    /// The last timer due `nanos` after the epoch: every timer up to it is
    /// due.
    fn due_at(nanos: u64) -> Timer {
        Timer::at_tick(nanos / NANOS_PER_MS, MAX_SLOTS as u64 - 1)
    }

    fn at_tick(ms: u64, index: u64) -> Timer {
        // Tick 1 is the epoch's millisecond, so that no timer is zero.
        let tick = (ms + 1).min(Timer::LAST_TICK);
        let key = (tick << Timer::SLOT_BITS) | index;
        Timer(NonZeroU64::new(key).expect("a timer's tick is at least 1"))
    }

    /// When the timer falls due: the start of its millisecond, on or after
    /// the deadline it was made for.
    fn at(self, epoch: Instant) -> Instant {
        let tick = self.0.get() >> Timer::SLOT_BITS;
        epoch + Duration::from_millis(tick - 1)
    }

    /// The slot it is for.
    fn index(self) -> usize {
        (self.0.get() & (MAX_SLOTS as u64 - 1)) as usize
    }
}

const NANOS_PER_MS: u64 = 1_000_000;

/// A deadline as a slot keeps it: nanoseconds since the reactor's epoch,
/// eight bytes rather than an `Option<Instant>`'s sixteen. A deadline
/// before the epoch is kept as the epoch: either has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadline(u64);

impl Deadline {
    /// No deadline.
    const NONE: Deadline = Deadline(u64::MAX);

    fn new(epoch: Instant, at: Option<Instant>) -> Deadline {
        match at {
            None => Deadline::NONE,
            Some(at) => Deadline(nanos_since(epoch, at).min(u64::MAX - 1)),
        }
    }

    fn get(self, epoch: Instant) -> Option<Instant> {
        self.nanos().map(|n| epoch + Duration::from_nanos(n))
    }

    /// Nanoseconds after the epoch, if there is a deadline.
    fn nanos(self) -> Option<u64> {
        (self != Deadline::NONE).then_some(self.0)
    }
}

/// Nanoseconds from `epoch` to `t` (0 for a `t` before it; a `u64` lasts
/// 584 years).
fn nanos_since(epoch: Instant, t: Instant) -> u64 {
    let since = t.saturating_duration_since(epoch);
    since
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(since.subsec_nanos()))
}

/// The event loop: asyncore's socket map plus `loop()`.
pub struct Reactor<D: Dispatcher> {
    poller: Arc<Poller>,
    stop: Arc<AtomicBool>,
    slots: Vec<Slot<D>>,
    listeners: Vec<usize>,
    free: Vec<usize>,
    /// Slots closed during this turn; they rejoin `free` only after the turn,
    /// so an event still in the batch never reaches a newcomer.
    closed: Vec<usize>,
    timers: BTreeSet<Timer>,
    /// Where the timers' milliseconds are counted from: the reactor's birth.
    epoch: Instant,
    read_buffer: Box<[u8]>,
    wakes: Vec<Token>,
    now: Instant,
    channels: usize,
    max_channels: usize,
    grace: Duration,
    draining: Option<Instant>,
    last_accept_warning: Option<Instant>,
    before_wait: Option<Box<dyn FnMut(Instant) -> Option<Instant>>>,
    /// When the `before_wait` hook last asked to run again.
    hook_due: Option<Instant>,
    /// The event list [`Reactor::poll`] keeps from turn to turn.
    events: Option<Events>,
}

impl<D: Dispatcher> Reactor<D> {
    /// An empty reactor.
    ///
    /// # Errors
    ///
    /// The error from creating the poller.
    pub fn new() -> io::Result<Reactor<D>> {
        let now = Instant::now();
        Ok(Reactor {
            poller: Arc::new(Poller::new()?),
            stop: Arc::new(AtomicBool::new(false)),
            slots: Vec::new(),
            listeners: Vec::new(),
            free: Vec::new(),
            closed: Vec::new(),
            timers: BTreeSet::new(),
            epoch: now,
            read_buffer: vec![0; READ_BUFFER].into_boxed_slice(),
            wakes: Vec::new(),
            now,
            channels: 0,
            max_channels: usize::MAX,
            grace: Duration::from_secs(5),
            draining: None,
            last_accept_warning: None,
            before_wait: None,
            hook_due: None,
            events: None,
        })
    }

    /// What one dispatcher costs in the reactor's table, in bytes: the
    /// dispatcher itself, its deadline and the bookkeeping. A deadline also
    /// costs its timer, about 15 bytes, in the set of timers.
    pub const SLOT_BYTES: usize = std::mem::size_of::<Slot<D>>();

    /// Caps the number of open channels: listeners stop accepting at the cap
    /// and resume when a channel closes. Connections wait in the kernel's
    /// backlog meanwhile.
    ///
    /// Room for that many slots is reserved at once (up to
    /// [`SLOTS_RESERVED`]): the memory is only address space until slots
    /// are used, and the table never moves as it fills, so no copy of it is
    /// left behind in the heap (an idle connection costs its slot alone).
    pub fn set_max_channels(&mut self, max: usize) {
        self.max_channels = max;
        let want = max.min(SLOTS_RESERVED) + self.listeners.len() + 1;
        self.slots
            .reserve_exact(want.saturating_sub(self.slots.len()));
    }

    /// How long a graceful shutdown may take before the remaining channels
    /// are closed (default 5 s).
    pub fn set_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// Runs `f` each time the loop is about to wait, with the loop's clock:
    /// the place to flush output buffered during the turn, such as log
    /// lines, so it is written in batches under load and promptly when idle,
    /// and to do housekeeping that is due. `f` returns when it next needs to
    /// run (`None`: only when something else wakes the loop), and the loop
    /// wakes by then even if nothing else happens, so work owed to the clock
    /// (dropping expired cache entries, say) is done on a quiet server too.
    pub fn before_wait(&mut self, f: impl FnMut(Instant) -> Option<Instant> + 'static) {
        self.before_wait = Some(Box::new(f));
    }

    /// A handle that stops the loop from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            poller: Arc::clone(&self.poller),
            flag: Arc::clone(&self.stop),
        }
    }

    /// The number of open channels (listeners not counted).
    pub fn len(&self) -> usize {
        self.channels
    }

    /// True when no channel is open.
    pub fn is_empty(&self) -> bool {
        self.channels == 0
    }

    /// The channel behind `token`, if it is still open.
    pub fn get(&self, token: Token) -> Option<&D> {
        match self.slots.get(token.index()) {
            Some(Slot {
                entry: Some(Entry::Channel(d)),
                generation,
                ..
            }) if *generation == token.generation => Some(d),
            _ => None,
        }
    }

    /// Puts `entry` in a free slot.
    ///
    /// # Errors
    ///
    /// When [`MAX_SLOTS`] are in use.
    fn insert(&mut self, entry: Entry<D>) -> io::Result<Token> {
        let index = match self.free.pop() {
            Some(i) => i,
            None if self.slots.len() >= MAX_SLOTS => {
                return Err(io::Error::other(format!(
                    "the reactor holds its most dispatchers ({MAX_SLOTS})"
                )));
            }
            None => {
                self.slots.push(Slot {
                    entry: None,
                    generation: 0,
                    interest: (false, false),
                    deadline: Deadline::NONE,
                    armed: None,
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1);
        slot.entry = Some(entry);
        slot.interest = (false, false);
        slot.deadline = Deadline::NONE;
        slot.armed = None;
        Ok(Token::new(index, slot.generation))
    }

    /// Registers the socket of the entry in slot `token.index()` with the
    /// poller, with no interest yet; `rearm` sets the interest.
    fn register(&mut self, token: Token) -> io::Result<()> {
        let fd = match &self.slots[token.index()].entry {
            Some(Entry::Channel(d)) => d.fd().as_raw_fd(),
            Some(Entry::Listener(l)) => l.socket.as_raw_fd(),
            None => unreachable!("registered before insert"),
        };
        // SAFETY: the descriptor is owned by the slot's entry, and both
        // `close` and `Drop` delete it from the poller before the entry is
        // dropped.
        #[allow(unsafe_code)]
        let added = unsafe {
            self.poller
                .add_with_mode(fd, Event::none(token.index()), PollMode::Level)
        };
        if added.is_err() {
            self.slots[token.index()].entry = None;
            self.free.push(token.index());
        }
        added
    }

    /// Adds a listening socket; `acceptor` turns each accepted connection
    /// into a dispatcher. The socket is made non-blocking.
    ///
    /// # Errors
    ///
    /// The error from making the socket non-blocking or registering it, or
    /// the reactor's being full ([`MAX_SLOTS`]).
    pub fn listen(
        &mut self,
        socket: TcpListener,
        acceptor: impl Acceptor<D> + 'static,
    ) -> io::Result<Token> {
        socket.set_nonblocking(true)?;
        let token = self.insert(Entry::Listener(Listener {
            socket,
            acceptor: Box::new(acceptor),
            paused: false,
        }))?;
        self.register(token)?;
        self.listeners.push(token.index());
        self.settle(token.index(), Ok(Flow::Continue));
        Ok(token)
    }

    /// Adds a channel and calls its [`Dispatcher::handle_connect`].
    ///
    /// # Errors
    ///
    /// The error from registering its socket with the poller, or the
    /// reactor's being full ([`MAX_SLOTS`]).
    pub fn add(&mut self, dispatcher: D) -> io::Result<Token> {
        let token = self.insert(Entry::Channel(dispatcher))?;
        self.register(token)?;
        self.channels += 1;
        let flow = self.call(token.index(), |d, cx| Ok(d.handle_connect(cx)));
        self.settle(token.index(), flow.unwrap_or(Ok(Flow::Continue)));
        Ok(token)
    }

    /// Calls `f` on the channel in slot `index` with a context; `None` if the
    /// slot holds no channel.
    fn call<R>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut D, &mut Context<'_>) -> R,
    ) -> Option<R> {
        let slot = &mut self.slots[index];
        let Some(Entry::Channel(d)) = slot.entry.as_mut() else {
            return None;
        };
        let mut cx = Context {
            now: self.now,
            token: Token::new(index, slot.generation),
            epoch: self.epoch,
            deadline: &mut slot.deadline,
            read_buffer: &mut self.read_buffer,
            wakes: &mut self.wakes,
            stop: &self.stop,
        };
        Some(f(d, &mut cx))
    }

    /// Acts on a handler's outcome: close the dispatcher, or bring its
    /// poller interest and timer up to date with what it now wants.
    fn settle(&mut self, index: usize, flow: io::Result<Flow>) {
        match flow {
            Err(e) => {
                if let Some(Entry::Channel(d)) = self.slots[index].entry.as_mut() {
                    d.handle_error(&e);
                }
                self.close(index, CloseReason::Error(e.kind()));
            }
            Ok(Flow::Close) => self.close(index, CloseReason::Done),
            Ok(Flow::Continue) => self.rearm(index),
        }
    }

    fn rearm(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        let (want, fd) = match slot.entry.as_ref() {
            None => return,
            Some(Entry::Channel(d)) => ((d.readable(), d.writable()), d.fd()),
            Some(Entry::Listener(l)) => {
                let open =
                    !l.paused && self.channels < self.max_channels && self.draining.is_none();
                ((open, false), l.socket.as_fd())
            }
        };
        if want != slot.interest {
            let event = Event::new(index, want.0, want.1);
            match self.poller.modify_with_mode(fd, event, PollMode::Level) {
                Ok(()) => slot.interest = want,
                Err(e) => log::error!("poller modify failed for #{index}: {e}"),
            }
        }
        if let Some(deadline) = slot.deadline.nanos() {
            let timer = Timer::new(deadline, index);
            if slot.armed.is_none_or(|armed| timer < armed) {
                if let Some(armed) = slot.armed {
                    self.timers.remove(&armed);
                }
                self.timers.insert(timer);
                slot.armed = Some(timer);
            }
        }
    }

    fn close(&mut self, index: usize, reason: CloseReason) {
        let slot = &mut self.slots[index];
        let Some(entry) = slot.entry.take() else {
            return;
        };
        if let Some(armed) = slot.armed.take() {
            self.timers.remove(&armed);
        }
        slot.deadline = Deadline::NONE;
        let fd = match &entry {
            Entry::Channel(d) => d.fd(),
            Entry::Listener(l) => l.socket.as_fd(),
        };
        if let Err(e) = self.poller.delete(fd) {
            log::error!("poller delete failed for #{index}: {e}");
        }
        match entry {
            Entry::Channel(mut d) => {
                self.channels -= 1;
                let mut gone = Deadline::NONE;
                let mut cx = Context {
                    now: self.now,
                    token: Token::new(index, slot.generation),
                    epoch: self.epoch,
                    deadline: &mut gone,
                    read_buffer: &mut self.read_buffer,
                    wakes: &mut self.wakes,
                    stop: &self.stop,
                };
                d.handle_close(&mut cx, reason);
            }
            Entry::Listener(_) => self.listeners.retain(|&i| i != index),
        }
        self.closed.push(index);
    }

    /// Runs the loop until it is stopped and the shutdown has finished.
    ///
    /// # Errors
    ///
    /// Only a failure of the poller itself; every per-channel error closes
    /// that channel and the loop goes on.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::new();
        loop {
            self.now = Instant::now();
            if self.stop.load(Ordering::Acquire) && self.draining.is_none() {
                self.begin_shutdown();
            }
            if let Some(end) = self.draining
                && (self.channels == 0 || self.now >= end)
            {
                self.finish_shutdown();
                return Ok(());
            }
            self.turn(&mut events, None)?;
        }
    }

    /// Runs one turn of the loop, as asyncore's `poll()` does: waits for
    /// readiness, at most `timeout` (less when a deadline or a wake is due
    /// sooner), then dispatches the events, expires deadlines and delivers
    /// wakes.
    ///
    /// [`Reactor::run`] is this in a loop, plus the shutdown. A program that
    /// adds dispatchers as work appears calls it in its own loop instead,
    /// and adds them between turns: a client that opens connections
    /// ([`Connection::connect`](crate::Connection::connect)) while it has
    /// requests to make, and stops when it has none. The stop flag is
    /// [`Reactor::run`]'s business; `poll` does not look at it.
    ///
    /// # Errors
    ///
    /// Only a failure of the poller itself, as for [`Reactor::run`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asynchat::{Connection, Reactor};
    ///
    /// struct Nothing;
    /// impl asynchat::AsyncChat for Nothing {
    ///     fn collect_incoming_data(&mut self, _: &mut asynchat::Channel, _: &[u8]) {}
    ///     fn found_terminator(&mut self, _: &mut asynchat::Channel) {}
    /// }
    ///
    /// let mut reactor = Reactor::<Connection<Nothing>>::new()?;
    /// // Nothing to do: the turn ends when the timeout does.
    /// reactor.poll(Some(Duration::from_millis(1)))?;
    /// assert!(reactor.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.now = Instant::now();
        // One event list for every turn: a loop that polls allocates none.
        let mut events = self.events.take().unwrap_or_default();
        let turned = self.turn(&mut events, timeout);
        self.events = Some(events);
        turned
    }

    /// One turn: wait (at most `cap`, if given), dispatch, expire, wake.
    fn turn(&mut self, events: &mut Events, cap: Option<Duration>) -> io::Result<()> {
        if let Some(f) = self.before_wait.as_mut() {
            self.hook_due = f(self.now);
        }
        let timeout = match (self.next_timeout(), cap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        events.clear();
        match self.poller.wait(events, timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        self.now = Instant::now();
        for ev in events.iter() {
            self.dispatch(ev);
        }
        self.expire_timers();
        self.run_wakes();
        self.free.append(&mut self.closed);
        self.rearm_listeners();
        Ok(())
    }

    fn next_timeout(&self) -> Option<Duration> {
        if !self.wakes.is_empty() {
            return Some(Duration::ZERO);
        }
        let first_timer = self.timers.first().map(|t| t.at(self.epoch));
        let until = [first_timer, self.draining, self.hook_due]
            .into_iter()
            .flatten()
            .min();
        // Round up to the next millisecond so the wait does not end just
        // short of the deadline and spin for the rest of it.
        until.map(|t| t.saturating_duration_since(self.now) + Duration::from_micros(999))
    }

    fn dispatch(&mut self, ev: Event) {
        let index = ev.key;
        match self.slots.get_mut(index).and_then(|s| s.entry.as_mut()) {
            None => {} // closed earlier in this turn
            Some(Entry::Listener(_)) => self.accept(index),
            Some(Entry::Channel(d)) => {
                let (r, w) = (d.readable(), d.writable());
                if !(r && ev.readable || w && ev.writable) {
                    if !r && !w {
                        // Only a hang-up or error reaches a socket with no
                        // interest; nothing else would ever notice it.
                        self.close(index, CloseReason::Hangup);
                    }
                    return;
                }
                let flow = self
                    .call(index, |d, cx| {
                        let mut read = false;
                        if r && ev.readable {
                            read = true;
                            if d.handle_read(cx)? == Flow::Close {
                                return Ok(Flow::Close);
                            }
                        }
                        if d.writable() && (ev.writable || read) {
                            return d.handle_write(cx);
                        }
                        Ok(Flow::Continue)
                    })
                    .expect("slot holds a channel");
                self.settle(index, flow);
            }
        }
    }

    fn accept(&mut self, index: usize) {
        for _ in 0..ACCEPTS_PER_EVENT {
            if self.channels >= self.max_channels || self.draining.is_some() {
                break;
            }
            let Some(Entry::Listener(l)) = self.slots[index].entry.as_mut() else {
                return;
            };
            let (stream, peer) = match l.socket.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_resource_exhaustion(&e) => {
                    l.paused = true;
                    self.slots[index].deadline =
                        Deadline::new(self.epoch, Some(self.now + ACCEPT_BACKOFF));
                    let quiet = self
                        .last_accept_warning
                        .is_some_and(|t| self.now.duration_since(t) < Duration::from_secs(1));
                    if !quiet {
                        log::warn!("accept: {e}; pausing accepts for {ACCEPT_BACKOFF:?}");
                        self.last_accept_warning = Some(self.now);
                    }
                    break;
                }
                // The peer gave up before we accepted (ECONNABORTED and the
                // like): nothing to do but take the next one.
                Err(e) => {
                    log::debug!("accept: {e}");
                    continue;
                }
            };
            if let Err(e) = stream.set_nonblocking(true) {
                log::debug!("accept: {e}");
                continue;
            }
            let now = self.now;
            let slot = &mut self.slots[index];
            let generation = slot.generation;
            let Some(Entry::Listener(l)) = slot.entry.as_mut() else {
                return;
            };
            let mut scratch = Deadline::NONE;
            let mut cx = Context {
                now,
                token: Token::new(index, generation),
                epoch: self.epoch,
                deadline: &mut scratch,
                read_buffer: &mut self.read_buffer,
                wakes: &mut self.wakes,
                stop: &self.stop,
            };
            if let Some(d) = l.acceptor.handle_accept(stream, peer, &mut cx)
                && let Err(e) = self.add(d)
            {
                log::warn!("could not register a connection from {peer}: {e}");
            }
        }
        self.settle(index, Ok(Flow::Continue));
    }

    fn expire_timers(&mut self) {
        let now = nanos_since(self.epoch, self.now);
        let due = Timer::due_at(now);
        while let Some(&timer) = self.timers.first() {
            if timer > due {
                break;
            }
            self.timers.pop_first();
            let index = timer.index();
            let slot = &mut self.slots[index];
            slot.armed = None;
            match slot.deadline.nanos() {
                Some(d) if d <= now => {
                    slot.deadline = Deadline::NONE;
                    match slot.entry.as_mut() {
                        Some(Entry::Listener(l)) => {
                            l.paused = false;
                            self.rearm(index);
                        }
                        Some(Entry::Channel(_)) => {
                            let flow = self.call(index, |d, cx| d.handle_timeout(cx));
                            if flow == Some(Flow::Close) {
                                self.close(index, CloseReason::Timeout);
                            } else {
                                self.rearm(index);
                            }
                        }
                        None => {}
                    }
                }
                // The deadline moved later since it was armed: arm it anew.
                Some(_) => self.rearm(index),
                None => {}
            }
        }
    }

    fn run_wakes(&mut self) {
        for _ in 0..WAKE_ROUNDS {
            if self.wakes.is_empty() {
                return;
            }
            let wakes = std::mem::take(&mut self.wakes);
            for token in &wakes {
                if self.get(*token).is_some() {
                    let flow = self.call(token.index(), |d, cx| d.handle_wake(cx));
                    self.settle(token.index(), Ok(flow.expect("checked by get")));
                }
            }
            if self.wakes.is_empty() {
                self.wakes = wakes;
                self.wakes.clear();
            }
        }
    }

    fn rearm_listeners(&mut self) {
        for i in 0..self.listeners.len() {
            self.rearm(self.listeners[i]);
        }
    }

    fn begin_shutdown(&mut self) {
        self.draining = Some(self.now + self.grace);
        for index in 0..self.slots.len() {
            match self.slots[index].entry {
                Some(Entry::Listener(_)) => self.close(index, CloseReason::Shutdown),
                Some(Entry::Channel(_)) => {
                    let flow = self.call(index, |d, cx| d.handle_stop(cx));
                    self.settle(index, Ok(flow.expect("slot holds a channel")));
                }
                None => {}
            }
        }
    }

    fn finish_shutdown(&mut self) {
        for index in 0..self.slots.len() {
            self.close(index, CloseReason::Shutdown);
        }
        self.free.append(&mut self.closed);
    }
}

impl<D: Dispatcher> Drop for Reactor<D> {
    /// Removes every socket still registered from the poller before the
    /// sockets close, as `Poller::add` requires (the loop does this itself
    /// when it closes a dispatcher; this covers a reactor dropped without
    /// running, or after the poller failed).
    fn drop(&mut self) {
        for slot in &self.slots {
            let fd = match &slot.entry {
                Some(Entry::Channel(d)) => d.fd(),
                Some(Entry::Listener(l)) => l.socket.as_fd(),
                None => continue,
            };
            let _ = self.poller.delete(fd);
        }
    }
}

/// True for accept errors that mean "out of descriptors or memory": retrying
/// at once would spin.
fn is_resource_exhaustion(err: &io::Error) -> bool {
    use rustix::io::Errno;
    let errno = Errno::from_io_error(err);
    [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
        .into_iter()
        .any(|e| Some(e) == errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_never_falls_due_before_its_deadline() {
        let epoch = Instant::now();
        for nanos in [0, 1, 999_999, 1_000_000, 1_000_001, 30_000_000_123] {
            let deadline = epoch + Duration::from_nanos(nanos);
            let timer = Timer::new(nanos_since(epoch, deadline), 7);
            assert_eq!(timer.index(), 7);
            let at = timer.at(epoch);
            assert!(at >= deadline, "{nanos} ns: due at {:?}", at - epoch);
            assert!(at - deadline < Duration::from_millis(1), "{nanos} ns");
            // Due once its millisecond has begun, not a nanosecond before.
            let due = nanos_since(epoch, at);
            if let Some(just_before) = due.checked_sub(1) {
                assert!(timer > Timer::due_at(just_before), "{nanos} ns");
            }
            assert!(timer <= Timer::due_at(due), "{nanos} ns");
        }
    }

    #[test]
    fn timers_are_ordered_by_time_then_slot() {
        let ms = NANOS_PER_MS;
        let timers = [
            Timer::new(0, MAX_SLOTS - 1),
            Timer::new(ms, 0),
            Timer::new(ms, 1),
            Timer::new(2 * ms, 0),
        ];
        assert!(timers.windows(2).all(|w| w[0] < w[1]));
        // Every slot's timer for a millisecond is due by its end.
        assert!(Timer::new(ms, MAX_SLOTS - 1) <= Timer::due_at(ms));
        assert!(Timer::new(ms + 1, 0) > Timer::due_at(ms));
    }

    #[test]
    fn a_deadline_is_kept_to_the_nanosecond_in_eight_bytes() {
        assert_eq!(std::mem::size_of::<Deadline>(), 8);
        let epoch = Instant::now();
        let at = epoch + Duration::new(86_400, 123_456_789);
        assert_eq!(Deadline::new(epoch, Some(at)).get(epoch), Some(at));
        assert_eq!(Deadline::new(epoch, None).get(epoch), None);
        // Before the epoch is as passed as the epoch itself.
        if let Some(before) = epoch.checked_sub(Duration::from_secs(1)) {
            assert_eq!(Deadline::new(epoch, Some(before)).get(epoch), Some(epoch));
        }
    }
}
