//! The reactor's contract, over real sockets on 127.0.0.1:0: close once,
//! no unwanted write events, deadlines, stop, the connection cap.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use asynchat::{
    AsyncChat, Channel, CloseReason, Connection, Context, Dispatcher, Flow, Reactor, Stopper,
};

const PATIENCE: Duration = Duration::from_secs(5);

/// Starts a reactor in its own thread (it is not `Send`, so it is built
/// there) with one listener whose acceptor `make` builds.
fn serve<D, A>(make: impl FnOnce() -> A + Send + 'static) -> (SocketAddr, Stopper, JoinHandle<()>)
where
    D: Dispatcher + 'static,
    A: FnMut(TcpStream, SocketAddr, &mut Context<'_>) -> Option<D> + 'static,
{
    serve_with(|_| {}, make)
}

fn serve_with<D, A>(
    configure: impl FnOnce(&mut Reactor<D>) + Send + 'static,
    make: impl FnOnce() -> A + Send + 'static,
) -> (SocketAddr, Stopper, JoinHandle<()>)
where
    D: Dispatcher + 'static,
    A: FnMut(TcpStream, SocketAddr, &mut Context<'_>) -> Option<D> + 'static,
{
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut reactor = Reactor::new().unwrap();
        configure(&mut reactor);
        tx.send((listener.local_addr().unwrap(), reactor.stopper()))
            .unwrap();
        reactor.listen(listener, make()).unwrap();
        reactor.run().unwrap();
    });
    let (addr, stopper) = rx.recv_timeout(PATIENCE).unwrap();
    (addr, stopper, handle)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_write_timeout(Some(PATIENCE)).unwrap();
    s
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn stop(stopper: Stopper, handle: JoinHandle<()>) {
    stopper.stop();
    handle.join().unwrap();
}

/// A raw dispatcher that counts its handler calls.
struct Probe {
    stream: TcpStream,
    wants_write: bool,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    reads: AtomicUsize,
    writes: AtomicUsize,
    closes: AtomicUsize,
    reasons: Mutex<Vec<CloseReason>>,
}

impl Dispatcher for Probe {
    fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    fn writable(&self) -> bool {
        self.wants_write
    }

    fn handle_read(&mut self, _cx: &mut Context<'_>) -> io::Result<Flow> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        let mut buf = [0; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(Flow::Close),
            Ok(_) => Ok(Flow::Continue),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Flow::Continue),
            Err(e) => Err(e),
        }
    }

    fn handle_write(&mut self, _cx: &mut Context<'_>) -> io::Result<Flow> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        // Write once, then stop wanting to.
        self.stream.write_all(b"w")?;
        self.wants_write = false;
        Ok(Flow::Continue)
    }

    fn handle_close(&mut self, _cx: &mut Context<'_>, reason: CloseReason) {
        self.counts.closes.fetch_add(1, Ordering::SeqCst);
        self.counts.reasons.lock().unwrap().push(reason);
    }
}

fn probe_server(wants_write: bool) -> (SocketAddr, Stopper, JoinHandle<()>, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let c = Arc::clone(&counts);
    let (addr, stopper, handle) = serve(move || {
        move |stream, _peer, _cx: &mut Context<'_>| {
            Some(Probe {
                stream,
                wants_write,
                counts: Arc::clone(&c),
            })
        }
    });
    (addr, stopper, handle, counts)
}

#[test]
fn peer_close_gives_handle_close_once() {
    let (addr, stopper, handle, counts) = probe_server(false);
    let mut client = connect(addr);
    client.write_all(b"hello").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    drop(client);
    wait_until("handle_close", || counts.closes.load(Ordering::SeqCst) >= 1);
    thread::sleep(Duration::from_millis(50));
    stop(stopper, handle);
    assert_eq!(counts.closes.load(Ordering::SeqCst), 1);
    assert_eq!(*counts.reasons.lock().unwrap(), [CloseReason::Done]);
}

#[test]
fn a_channel_that_is_not_writable_gets_no_write_events() {
    let (addr, stopper, handle, counts) = probe_server(false);
    let mut client = connect(addr);
    for _ in 0..5 {
        client.write_all(b"ping").unwrap();
        thread::sleep(Duration::from_millis(10));
    }
    wait_until("reads", || counts.reads.load(Ordering::SeqCst) >= 1);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(counts.writes.load(Ordering::SeqCst), 0);
    drop(client);
    stop(stopper, handle);
}

#[test]
fn a_writable_channel_gets_a_write_event_and_then_no_more() {
    let (addr, stopper, handle, counts) = probe_server(true);
    let mut client = connect(addr);
    let mut byte = [0; 1];
    client.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"w");
    thread::sleep(Duration::from_millis(50));
    assert_eq!(counts.writes.load(Ordering::SeqCst), 1);
    drop(client);
    stop(stopper, handle);
}

/// An async_chat handler that sets a deadline when it connects and records
/// how it was closed.
struct Sleepy {
    after: Duration,
    reasons: Arc<Mutex<Vec<CloseReason>>>,
}

impl AsyncChat for Sleepy {
    fn collect_incoming_data(&mut self, _chan: &mut Channel, _data: &[u8]) {}

    fn found_terminator(&mut self, chan: &mut Channel) {
        // Activity moves the deadline later.
        chan.set_deadline(Some(chan.now() + self.after));
    }

    fn handle_connect(&mut self, chan: &mut Channel) {
        chan.set_deadline(Some(chan.now() + self.after));
    }

    fn handle_close(&mut self, _chan: &mut Channel, reason: CloseReason) {
        self.reasons.lock().unwrap().push(reason);
    }
}

fn sleepy_server(
    after: Duration,
) -> (
    SocketAddr,
    Stopper,
    JoinHandle<()>,
    Arc<Mutex<Vec<CloseReason>>>,
) {
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let r = Arc::clone(&reasons);
    let (addr, stopper, handle) = serve(move || {
        move |stream, _peer, _cx: &mut Context<'_>| {
            let h = Sleepy {
                after,
                reasons: Arc::clone(&r),
            };
            Some(Connection::new(stream, Channel::new(b"\n"), h))
        }
    });
    (addr, stopper, handle, reasons)
}

#[test]
fn a_deadline_fires_and_closes_the_channel() {
    let (addr, stopper, handle, reasons) = sleepy_server(Duration::from_millis(100));
    let mut client = connect(addr);
    let started = Instant::now();
    let mut buf = [0; 8];
    assert_eq!(client.read(&mut buf).unwrap(), 0, "the server closes");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(90),
        "closed after {waited:?}, before its deadline"
    );
    wait_until("handle_close", || !reasons.lock().unwrap().is_empty());
    assert_eq!(*reasons.lock().unwrap(), [CloseReason::Timeout]);
    stop(stopper, handle);
}

#[test]
fn a_later_deadline_replaces_an_earlier_one() {
    let (addr, stopper, handle, reasons) = sleepy_server(Duration::from_millis(150));
    let mut client = connect(addr);
    let started = Instant::now();
    // Keep the channel busy past its first deadline.
    for _ in 0..6 {
        thread::sleep(Duration::from_millis(50));
        client.write_all(b"still here\n").unwrap();
    }
    assert!(reasons.lock().unwrap().is_empty(), "closed while active");
    let mut buf = [0; 8];
    assert_eq!(client.read(&mut buf).unwrap(), 0);
    assert!(started.elapsed() >= Duration::from_millis(400));
    stop(stopper, handle);
}

#[test]
fn the_loop_stops_on_request() {
    let (addr, stopper, handle, _counts) = probe_server(false);
    let _idle = connect(addr);
    let started = Instant::now();
    stop(stopper, handle);
    assert!(started.elapsed() < PATIENCE);
    // The listener is gone with the loop.
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

/// Pushes a large reply on the first line; closes when the reactor stops only
/// after the reply is out (the default `handle_stop`).
struct Big;

impl AsyncChat for Big {
    fn collect_incoming_data(&mut self, _chan: &mut Channel, _data: &[u8]) {}

    fn found_terminator(&mut self, chan: &mut Channel) {
        chan.push(vec![b'x'; 8 << 20]);
    }
}

#[test]
fn stopping_lets_responses_in_flight_finish() {
    let (addr, stopper, handle) = serve(|| {
        |stream, _peer, _cx: &mut Context<'_>| {
            Some(Connection::new(stream, Channel::new(b"\n"), Big))
        }
    });
    let mut client = connect(addr);
    client.write_all(b"go\n").unwrap();
    let mut first = [0; 1];
    client.read_exact(&mut first).unwrap();
    // The reply is in flight and the client has not read most of it.
    stopper.stop();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert_eq!(rest.len() + 1, 8 << 20);
    handle.join().unwrap();
}

#[test]
fn the_connection_cap_defers_accepting() {
    let counts = Arc::new(Counts::default());
    let c = Arc::clone(&counts);
    let (addr, stopper, handle) = serve_with(
        |r: &mut Reactor<Probe>| r.set_max_channels(1),
        move || {
            move |stream, _peer, _cx: &mut Context<'_>| {
                Some(Probe {
                    stream,
                    wants_write: true,
                    counts: Arc::clone(&c),
                })
            }
        },
    );
    let mut first = connect(addr);
    let mut byte = [0; 1];
    first.read_exact(&mut byte).unwrap();
    // The second connection completes in the kernel's backlog, but is not
    // served while the first is open.
    let mut second = connect(addr);
    second
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let err = second.read_exact(&mut byte).unwrap_err();
    assert!(matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ));
    drop(first);
    second.set_read_timeout(Some(PATIENCE)).unwrap();
    second.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"w");
    stop(stopper, handle);
}

/// A raw dispatcher that counts every call the reactor makes on it:
/// `readable()`, `writable()` and every handler. It always wants to read,
/// and wants to write only until it has written once.
struct Tally {
    stream: TcpStream,
    wants_write: bool,
    calls: Arc<AtomicUsize>,
    connected: Arc<AtomicUsize>,
}

impl Tally {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl Dispatcher for Tally {
    fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    fn readable(&self) -> bool {
        self.count();
        true
    }

    fn writable(&self) -> bool {
        self.count();
        self.wants_write
    }

    fn handle_connect(&mut self, _cx: &mut Context<'_>) -> Flow {
        self.count();
        self.connected.fetch_add(1, Ordering::SeqCst);
        Flow::Continue
    }

    fn handle_read(&mut self, _cx: &mut Context<'_>) -> io::Result<Flow> {
        self.count();
        let mut buf = [0; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(Flow::Close),
            Ok(_) => Ok(Flow::Continue),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Flow::Continue),
            Err(e) => Err(e),
        }
    }

    fn handle_write(&mut self, _cx: &mut Context<'_>) -> io::Result<Flow> {
        self.count();
        self.stream.write_all(b"w")?;
        self.wants_write = false;
        Ok(Flow::Continue)
    }

    fn handle_timeout(&mut self, _cx: &mut Context<'_>) -> Flow {
        self.count();
        Flow::Close
    }

    fn handle_wake(&mut self, _cx: &mut Context<'_>) -> Flow {
        self.count();
        Flow::Continue
    }

    fn handle_stop(&mut self, _cx: &mut Context<'_>) -> Flow {
        self.count();
        Flow::Close
    }

    fn handle_error(&mut self, _err: &io::Error) {
        self.count();
    }

    fn handle_close(&mut self, _cx: &mut Context<'_>, _reason: CloseReason) {
        self.count();
    }
}

/// A server of [`Tally`] dispatchers; returns the call and connect counts.
fn tally_server(
    wants_write: bool,
) -> (
    SocketAddr,
    Stopper,
    JoinHandle<()>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let connected = Arc::new(AtomicUsize::new(0));
    let (c, n) = (Arc::clone(&calls), Arc::clone(&connected));
    let (addr, stopper, handle) = serve(move || {
        move |stream, _peer, _cx: &mut Context<'_>| {
            Some(Tally {
                stream,
                wants_write,
                calls: Arc::clone(&c),
                connected: Arc::clone(&n),
            })
        }
    });
    (addr, stopper, handle, calls, connected)
}

/// How long a quiet channel is watched, and the most calls it may get
/// meanwhile. With write interest registered for a socket that has room,
/// level-triggered polling reports it writable on every wait, and the loop
/// calls `readable()`/`writable()` thousands of times in this window.
const QUIET: Duration = Duration::from_millis(300);
const QUIET_CALLS: usize = 20;

/// The calls made on the server's dispatchers during [`QUIET`].
fn calls_while_quiet(calls: &AtomicUsize) -> usize {
    let before = calls.load(Ordering::SeqCst);
    thread::sleep(QUIET);
    calls.load(Ordering::SeqCst) - before
}

#[test]
fn an_idle_channel_does_not_spin() {
    let (addr, stopper, handle, calls, connected) = tally_server(false);
    let client = connect(addr);
    wait_until("handle_connect", || connected.load(Ordering::SeqCst) == 1);
    // Let the reactor finish the turn that added the channel.
    thread::sleep(Duration::from_millis(20));
    let during = calls_while_quiet(&calls);
    assert!(
        during < QUIET_CALLS,
        "{during} calls on an idle channel in {QUIET:?}: the loop spins"
    );
    drop(client);
    stop(stopper, handle);
}

#[test]
fn a_channel_stops_getting_woken_once_it_has_written() {
    let (addr, stopper, handle, calls, _connected) = tally_server(true);
    let mut client = connect(addr);
    let mut byte = [0; 1];
    client.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"w");
    thread::sleep(Duration::from_millis(20));
    let during = calls_while_quiet(&calls);
    assert!(
        during < QUIET_CALLS,
        "{during} calls in {QUIET:?} after the only write: write interest was kept"
    );
    drop(client);
    stop(stopper, handle);
}

/// Answers every line with [`RESET_REPLY`] bytes and records, per peer, how
/// its channel was closed.
struct Flood {
    closes: Closes,
}

/// Each closed channel's peer and why it closed, in order.
type Closes = Arc<Mutex<Vec<(Option<SocketAddr>, CloseReason)>>>;

const RESET_REPLY: usize = 4 << 20;

impl AsyncChat for Flood {
    fn collect_incoming_data(&mut self, _chan: &mut Channel, _data: &[u8]) {}

    fn found_terminator(&mut self, chan: &mut Channel) {
        chan.push(vec![b'x'; RESET_REPLY]);
    }

    fn handle_close(&mut self, chan: &mut Channel, reason: CloseReason) {
        self.closes.lock().unwrap().push((chan.peer(), reason));
    }
}

#[test]
fn a_reset_closes_only_that_channel() {
    let closes = Closes::default();
    let c = Arc::clone(&closes);
    let (addr, stopper, handle) = serve(move || {
        move |stream, _peer, _cx: &mut Context<'_>| {
            let h = Flood {
                closes: Arc::clone(&c),
            };
            Some(Connection::new(stream, Channel::new(b"\n"), h))
        }
    });
    let mut a = connect(addr);
    let mut b = connect(addr);
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());

    a.write_all(b"go\n").unwrap();
    let mut some = [0; 4096];
    a.read_exact(&mut some).unwrap();
    // Reset: with a zero linger time, close sends RST instead of FIN.
    rustix::net::sockopt::set_socket_linger(&a, Some(Duration::ZERO)).unwrap();
    drop(a);
    wait_until("A's handle_close", || !closes.lock().unwrap().is_empty());
    {
        let closes = closes.lock().unwrap();
        assert_eq!(closes.len(), 1, "only A is closed: {closes:?}");
        let (peer, reason) = closes[0];
        assert_eq!(peer, Some(a_addr), "{closes:?}");
        assert!(
            matches!(reason, CloseReason::Error(_) | CloseReason::Done),
            "A closed with {reason:?}"
        );
    }

    // B, connected all along, is served in full.
    b.write_all(b"go\n").unwrap();
    let mut reply = vec![0; RESET_REPLY];
    b.read_exact(&mut reply).unwrap();
    assert!(reply.iter().all(|&x| x == b'x'));
    assert!(!handle.is_finished(), "the loop ended");
    assert_eq!(closes.lock().unwrap().len(), 1, "B was closed");

    drop(b);
    wait_until("B's handle_close", || closes.lock().unwrap().len() == 2);
    assert_eq!(closes.lock().unwrap()[1].0, Some(b_addr));
    assert!(!handle.is_finished(), "the loop ended");
    stop(stopper, handle);
}

#[test]
fn the_listener_is_not_woken_without_connections() {
    let accepts = Arc::new(AtomicUsize::new(0));
    let counts = Arc::new(Counts::default());
    let (n, c) = (Arc::clone(&accepts), Arc::clone(&counts));
    let (addr, stopper, handle) = serve(move || {
        move |stream, _peer, _cx: &mut Context<'_>| {
            n.fetch_add(1, Ordering::SeqCst);
            Some(Probe {
                stream,
                wants_write: false,
                counts: Arc::clone(&c),
            })
        }
    });
    let clients: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
    wait_until("three accepts", || accepts.load(Ordering::SeqCst) >= 3);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(accepts.load(Ordering::SeqCst), 3);
    drop(clients);
    wait_until("three closes", || counts.closes.load(Ordering::SeqCst) == 3);
    assert_eq!(accepts.load(Ordering::SeqCst), 3);
    stop(stopper, handle);
}

/// The client side: a channel that connects out, driven by `poll` in the
/// caller's own loop.
mod outgoing {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Sends a line as soon as it joins, and closes once the answer is in.
    struct Asker {
        answer: Rc<RefCell<Vec<u8>>>,
        closed: Rc<RefCell<Option<CloseReason>>>,
        peer: Rc<RefCell<Option<SocketAddr>>>,
    }

    impl AsyncChat for Asker {
        fn handle_connect(&mut self, chan: &mut Channel) {
            *self.peer.borrow_mut() = chan.peer();
            chan.push(&b"ping\n"[..]);
        }
        fn collect_incoming_data(&mut self, _chan: &mut Channel, data: &[u8]) {
            self.answer.borrow_mut().extend_from_slice(data);
        }
        fn found_terminator(&mut self, chan: &mut Channel) {
            chan.close_when_done();
        }
        fn handle_close(&mut self, _chan: &mut Channel, reason: CloseReason) {
            *self.closed.borrow_mut() = Some(reason);
        }
    }

    type Shared<T> = Rc<RefCell<T>>;

    fn asker() -> (Asker, Shared<Vec<u8>>, Shared<Option<CloseReason>>) {
        let answer = Rc::new(RefCell::new(Vec::new()));
        let closed = Rc::new(RefCell::new(None));
        let a = Asker {
            answer: Rc::clone(&answer),
            closed: Rc::clone(&closed),
            peer: Rc::new(RefCell::new(None)),
        };
        (a, answer, closed)
    }

    /// Turns the loop until no channel is left (bounded by the patience).
    fn poll_until_empty(reactor: &mut Reactor<Connection<Asker>>) {
        let end = Instant::now() + PATIENCE;
        while !reactor.is_empty() {
            assert!(Instant::now() < end, "the client never finished");
            reactor.poll(Some(Duration::from_millis(50))).unwrap();
        }
    }

    #[test]
    fn a_connected_channel_sends_what_it_pushed_before_the_connect_completed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut line = [0; 5];
            s.read_exact(&mut line).unwrap();
            assert_eq!(&line, b"ping\n");
            s.write_all(b"pong\n").unwrap();
            // The client closes once it has its answer.
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).unwrap();
            rest
        });
        let mut reactor = Reactor::new().unwrap();
        let (a, answer, closed) = asker();
        let peer = Rc::clone(&a.peer);
        let conn = Connection::connect(addr, Channel::new(b"\n"), a).unwrap();
        let chan = conn.channel().expect("whole before it joins a reactor");
        assert_eq!(chan.peer(), Some(addr));
        reactor.add(conn).unwrap();
        assert_eq!(*peer.borrow(), Some(addr), "peer known in handle_connect");
        poll_until_empty(&mut reactor);
        assert_eq!(*answer.borrow(), b"pong");
        assert_eq!(*closed.borrow(), Some(CloseReason::Done));
        assert_eq!(server.join().unwrap(), b"", "nothing after the request");
    }

    #[test]
    fn a_refused_connect_closes_the_channel_with_the_error() {
        // A port that was free a moment ago and has no listener now.
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut reactor = Reactor::new().unwrap();
        let (a, answer, closed) = asker();
        match Connection::connect(addr, Channel::new(b"\n"), a) {
            Ok(conn) => {
                reactor.add(conn).unwrap();
                poll_until_empty(&mut reactor);
                assert_eq!(
                    *closed.borrow(),
                    Some(CloseReason::Error(io::ErrorKind::ConnectionRefused))
                );
            }
            // Refused at once: just as good, and said by the error.
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
        }
        assert!(answer.borrow().is_empty());
    }

    #[test]
    fn poll_returns_after_its_timeout_when_nothing_happens() {
        let mut reactor: Reactor<Connection<Asker>> = Reactor::new().unwrap();
        let start = Instant::now();
        reactor.poll(Some(Duration::from_millis(30))).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(29));
    }
}

/// Tells every other member when one leaves, from `handle_close`.
struct Leaver {
    members: std::rc::Rc<std::cell::RefCell<Vec<asynchat::Token>>>,
}

impl AsyncChat for Leaver {
    fn handle_connect(&mut self, chan: &mut Channel) {
        self.members.borrow_mut().push(chan.token());
    }
    fn collect_incoming_data(&mut self, _chan: &mut Channel, _data: &[u8]) {}
    fn found_terminator(&mut self, chan: &mut Channel) {
        chan.push(&b"ok\n"[..]);
    }
    fn handle_wake(&mut self, chan: &mut Channel) {
        chan.push(&b"someone left\n"[..]);
    }
    fn handle_close(&mut self, chan: &mut Channel, _reason: CloseReason) {
        let mut members = self.members.borrow_mut();
        members.retain(|&t| t != chan.token());
        for &t in members.iter() {
            chan.wake(t);
        }
    }
}

#[test]
fn a_wake_asked_for_in_handle_close_reaches_the_others() {
    let (addr, stopper, handle) = serve(|| {
        let members = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        move |stream, _peer, _cx: &mut Context<'_>| {
            let h = Leaver {
                members: std::rc::Rc::clone(&members),
            };
            Some(Connection::new(stream, Channel::new(b"\n"), h))
        }
    });
    let mut a = connect(addr);
    let mut b = connect(addr);
    let mut ok = [0; 3];
    for c in [&mut a, &mut b] {
        c.write_all(b"hi\n").unwrap();
        c.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"ok\n");
    }
    drop(a);
    let mut told = [0; 13];
    b.read_exact(&mut told).unwrap();
    assert_eq!(&told, b"someone left\n");
    drop(b);
    stop(stopper, handle);
}
