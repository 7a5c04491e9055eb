//! The hot path allocates nothing: once a connection and the file cache are
//! warm, answering a GET for a small cached file costs no heap allocation,
//! one request at a time or pipelined, with the access log on. A large file
//! costs a few allocations per request (its producer), as many for 4 MB
//! as for 100 KB.
//!
//! A counting global allocator counts the allocations of the test's own
//! thread (test threads run side by side), while the real HTTP handler is
//! fed requests in memory through `Channel::feed` and `Channel::send`, or
//! over a socket by a reactor that this thread turns, whose connection
//! parks between requests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::Once;
use std::time::{Duration, Instant};

mod common;

use asynchat::http::Config;
use asynchat::http::Shared;
use asynchat::http::conn::HttpChannel;
use asynchat::{Channel, Connection, Context, Reactor, Transport};
use common::{PATIENCE, TempDir};

/// Counts allocations and reallocations made by the current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the counter may already be gone while a thread exits.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// only addition is a thread-local counter, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract is passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// The access log on, as the binary has it by default, written nowhere.
fn access_log_on() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        env_logger::Builder::new()
            .filter_level(log::LevelFilter::Info)
            .format(|out, record| {
                use std::io::Write;
                writeln!(out, "{}", record.args())
            })
            .target(env_logger::Target::Pipe(Box::new(io::sink())))
            .init();
    });
}

/// Takes every byte offered and counts them.
#[derive(Default)]
struct Discard {
    bytes: u64,
}

impl Transport for Discard {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n: usize = bufs.iter().map(|b| b.len()).sum();
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Allocations made by `rounds` calls of `round`, after 10 to warm up.
fn allocations_over(rounds: u64, mut round: impl FnMut()) -> u64 {
    for _ in 0..10 {
        round();
    }
    let before = allocations();
    for _ in 0..rounds {
        round();
    }
    allocations() - before
}

/// Allocations per request for `depth` pipelined GETs of `path`, fed and
/// answered `rounds` times after a warm-up of 10; checks that every request
/// was answered with a 200 carrying `body_len` bytes of body.
fn per_request(site: &TempDir, path: &str, depth: usize, body_len: u64, rounds: u64) -> f64 {
    let shared = Shared::new(Config::new(site.path()).expect("the site is servable"))
        .expect("the root opens");
    let mut handler = HttpChannel::new(shared);
    let mut chan = Channel::new(HttpChannel::initial_terminator());
    let one = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
    let requests = one.repeat(depth);

    // The first answer shows what one response weighs on the wire.
    let mut first = Vec::new();
    chan.feed(&mut handler, one.as_bytes());
    while !chan.fifo().is_empty() {
        chan.send(&mut handler, &mut first)
            .expect("memory never fails");
    }
    let text = String::from_utf8_lossy(&first);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:.200}");
    let head_len = text.find("\r\n\r\n").expect("a whole head") as u64 + 4;
    assert_eq!(first.len() as u64, head_len + body_len);

    let mut sink = Discard::default();
    let spent = allocations_over(rounds, || {
        chan.feed(&mut handler, requests.as_bytes());
        // In memory a file goes out 16 KiB per write, and one send stops
        // at the channel's write budget.
        while !chan.fifo().is_empty() {
            chan.send(&mut handler, &mut sink)
                .expect("discarding never fails");
        }
    });
    let answered = (rounds + 10) * depth as u64;
    assert_eq!(sink.bytes, answered * (head_len + body_len));
    assert!(!chan.is_closing());
    spent as f64 / (rounds * depth as u64) as f64
}

/// The least of three measurements. The clock renders the Date once a
/// second, which allocates; a slow (debug, loaded) run can span a second
/// and count that as per request. Three runs of a small fraction of a
/// second each: at most one of them holds a tick.
fn least(mut measure: impl FnMut() -> f64) -> f64 {
    (0..3).map(|_| measure()).fold(f64::INFINITY, f64::min)
}

#[test]
fn a_cached_small_file_costs_no_allocation_per_request() {
    access_log_on();
    let site = TempDir::new("allocations-small");
    site.file("index.html", vec![b'x'; 195]);
    for depth in [1, 16] {
        let n = least(|| per_request(&site, "/index.html", depth, 195, 100));
        assert_eq!(n, 0.0, "allocations per request, {depth} pipelined");
    }
    // The directory's index is found through the same cache.
    assert_eq!(least(|| per_request(&site, "/", 1, 195, 100)), 0.0);
}

#[test]
fn a_large_file_costs_the_same_few_allocations_whatever_its_size() {
    access_log_on();
    let site = TempDir::new("allocations-large");
    site.file("100k.bin", vec![b'x'; 100_000]);
    site.file("4m.bin", vec![b'x'; 4_000_000]);
    let small = least(|| per_request(&site, "/100k.bin", 1, 100_000, 20));
    let large = least(|| per_request(&site, "/4m.bin", 1, 4_000_000, 20));
    assert_eq!(
        small, large,
        "allocations per request do not grow with size"
    );
    assert!(small <= 3.0, "{small} allocations per request");
}

/// Allocations per request for `rounds` GETs of `/index.html`, one at a
/// time on one keep-alive connection, served by a reactor on this thread
/// after a warm-up of 10: between requests the connection is idle, so its
/// channel parks and is made whole again by the next request.
fn per_request_parked(site: &TempDir, body_len: usize, rounds: u64) -> f64 {
    let shared = Shared::new(Config::new(site.path()).expect("the site is servable"))
        .expect("the root opens");
    let mut reactor = Reactor::<Connection<HttpChannel>>::new().expect("a poller");
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("bound");
    reactor
        .listen(listener, move |stream, _peer, _cx: &mut Context<'_>| {
            let chan = Channel::new(HttpChannel::initial_terminator());
            let handler = HttpChannel::new(Rc::clone(&shared));
            Some(Connection::new(stream, chan, handler))
        })
        .expect("listening");
    let mut client = TcpStream::connect(addr).expect("connected");
    client.set_nonblocking(true).expect("non-blocking");
    let request = b"GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n";
    // The response's head, then the body: read until its whole length came.
    let mut wanted = None;
    let spent = allocations_over(rounds, || {
        client
            .write_all(request)
            .expect("the request fits the socket");
        let (mut got, mut buf) = (0, [0u8; 4096]);
        let end = Instant::now() + PATIENCE;
        while wanted.is_none_or(|w| got < w) {
            assert!(Instant::now() < end, "no whole response");
            reactor
                .poll(Some(Duration::from_millis(1)))
                .expect("polled");
            match client.read(&mut buf) {
                Ok(n) => {
                    if wanted.is_none() {
                        let head = buf[..n].windows(4).position(|w| w == b"\r\n\r\n");
                        let head = head.expect("a head in the first read") + 4;
                        wanted = Some(head + body_len);
                    }
                    got += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("reading the response: {e}"),
            }
        }
        assert_eq!(Some(got), wanted, "one response, exactly");
    });
    assert_eq!(reactor.len(), 1, "one connection, kept alive");
    spent as f64 / rounds as f64
}

#[test]
fn a_keep_alive_connection_parked_between_requests_costs_no_allocation_per_request() {
    access_log_on();
    let site = TempDir::new("allocations-parked");
    site.file("index.html", vec![b'x'; 195]);
    let n = least(|| per_request_parked(&site, 195, 100));
    assert_eq!(n, 0.0, "allocations per request");
}
