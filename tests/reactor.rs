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

    fn handle_close(&mut self, reason: CloseReason) {
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
