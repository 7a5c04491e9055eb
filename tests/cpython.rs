//! CPython's `test_asynchat`, re-created over real sockets on 127.0.0.1:0.
//!
//! A `Reactor<Connection<Collector>>` runs in its own thread; a blocking
//! `TcpStream` client sends the data 1, 2 and 3 bytes at a time, shuts down
//! its write half and reads to end of stream. The default `handle_eof`
//! closes the channel once its output is sent, and `handle_close` reports
//! the data collected after the last record (the "leftover"), as CPython's
//! test server does with its `contents` and `buffer`.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use asynchat::{
    AsyncChat, BytesProducer, Channel, CloseReason, Connection, Context, FileProducer, Limits,
    Piece, Reactor, Stopper, Terminator,
};

const PATIENCE: Duration = Duration::from_secs(5);
const CHUNK_SIZES: [usize; 3] = [1, 2, 3];

/// What a server's connections report back to the test thread.
#[derive(Default, Clone)]
struct Shared {
    records: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Set by `handle_close`: the data collected after the last record.
    leftover: Arc<Mutex<Option<Vec<u8>>>>,
    reasons: Arc<Mutex<Vec<CloseReason>>>,
}

/// What the handler does with a complete record besides recording it.
type Hook = Arc<dyn Fn(&mut Channel, &[u8]) + Send + Sync>;

/// CPython's test server channel: collects records, and optionally answers.
struct Collector {
    shared: Shared,
    current: Vec<u8>,
    hook: Option<Hook>,
}

impl AsyncChat for Collector {
    fn collect_incoming_data(&mut self, _chan: &mut Channel, data: &[u8]) {
        assert!(!data.is_empty(), "an empty chunk was delivered");
        self.current.extend_from_slice(data);
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        let record = std::mem::take(&mut self.current);
        self.shared.records.lock().unwrap().push(record.clone());
        if let Some(hook) = &self.hook {
            hook(chan, &record);
        }
    }

    fn handle_close(&mut self, _chan: &mut Channel, reason: CloseReason) {
        self.shared.reasons.lock().unwrap().push(reason);
        *self.shared.leftover.lock().unwrap() = Some(std::mem::take(&mut self.current));
    }
}

struct Server {
    addr: SocketAddr,
    stopper: Stopper,
    handle: JoinHandle<()>,
    shared: Shared,
}

impl Server {
    fn stop(self) {
        self.stopper.stop();
        self.handle.join().unwrap();
    }

    /// The leftover reported by `handle_close`, waiting for it.
    fn leftover(&self) -> Vec<u8> {
        wait_until("handle_close", || {
            self.shared.leftover.lock().unwrap().is_some()
        });
        self.shared.leftover.lock().unwrap().clone().unwrap()
    }

    fn records(&self) -> Vec<Vec<u8>> {
        self.shared.records.lock().unwrap().clone()
    }
}

/// Starts a reactor thread whose connections collect under `terminator`.
fn serve(terminator: Terminator, hook: Option<Hook>, limits: Option<Limits>) -> Server {
    let shared = Shared::default();
    let for_server = shared.clone();
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut reactor = Reactor::new().unwrap();
        reactor.set_grace(Duration::from_millis(200));
        tx.send((listener.local_addr().unwrap(), reactor.stopper()))
            .unwrap();
        reactor
            .listen(listener, move |stream, _peer, _cx: &mut Context<'_>| {
                let mut chan = Channel::new(terminator.clone());
                if let Some(limits) = limits {
                    chan.set_limits(limits);
                }
                let handler = Collector {
                    shared: for_server.clone(),
                    current: Vec::new(),
                    hook: hook.clone(),
                };
                Some(Connection::new(stream, chan, handler))
            })
            .unwrap();
        reactor.run().unwrap();
    });
    let (addr, stopper) = rx.recv_timeout(PATIENCE).unwrap();
    Server {
        addr,
        stopper,
        handle,
        shared,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_write_timeout(Some(PATIENCE)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Reads to end of stream; a timeout fails the test.
fn read_to_eof(client: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    match client.read_to_end(&mut got) {
        Ok(_) => got,
        Err(e) => panic!("reading to end of stream: {e} after {} bytes", got.len()),
    }
}

/// CPython's client: sends `data` `chunk` bytes at a time, half-closes, and
/// reads the server's answer to end of stream. Returns (records, leftover,
/// answer).
fn exchange(terminator: Terminator, data: &[u8], chunk: usize) -> (Vec<Vec<u8>>, Vec<u8>, Vec<u8>) {
    exchange_with(terminator, None, data, chunk)
}

fn exchange_with(
    terminator: Terminator,
    hook: Option<Hook>,
    data: &[u8],
    chunk: usize,
) -> (Vec<Vec<u8>>, Vec<u8>, Vec<u8>) {
    let server = serve(terminator, hook, None);
    let mut client = connect(server.addr);
    for piece in data.chunks(chunk) {
        client.write_all(piece).unwrap();
    }
    client.shutdown(Shutdown::Write).unwrap();
    let answer = read_to_eof(&mut client);
    let leftover = server.leftover();
    let records = server.records();
    assert_eq!(
        *server.shared.reasons.lock().unwrap(),
        [CloseReason::Done],
        "the channel closes once, after end of stream"
    );
    server.stop();
    (records, leftover, answer)
}

fn show(records: &[Vec<u8>]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// test_line_terminator1/2/3 (with 1, 2 and 3 bytes per send)
// ---------------------------------------------------------------------------

#[test]
fn line_terminators() {
    for term in [&b"\n"[..], b"\r\n", b"qqq"] {
        for chunk in CHUNK_SIZES {
            let data = [&b"hello world"[..], term, b"I'm not dead yet!", term].concat();
            let (records, leftover, answer) = exchange(Terminator::bytes(term), &data, chunk);
            assert_eq!(
                show(&records),
                ["hello world", "I'm not dead yet!"],
                "terminator {:?}, {chunk} bytes per send",
                term.escape_ascii().to_string()
            );
            assert_eq!(leftover, b"");
            assert_eq!(answer, b"");
        }
    }
}

// ---------------------------------------------------------------------------
// test_numeric_terminator1/2
// ---------------------------------------------------------------------------

const DATA: &[u8] = b"hello world, I'm not dead yet!\n";

#[test]
fn numeric_terminators() {
    for n in [1usize, 6] {
        for chunk in CHUNK_SIZES {
            let (records, leftover, _) = exchange(Terminator::Count(n as u64), DATA, chunk);
            assert_eq!(
                records,
                [DATA[..n].to_vec()],
                "count {n}, {chunk} bytes per send"
            );
            // The count reached 0 and was not reset: the rest is collected.
            assert_eq!(
                leftover.escape_ascii().to_string(),
                DATA[n..].escape_ascii().to_string(),
                "count {n}, {chunk} bytes per send"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// test_none_terminator
// ---------------------------------------------------------------------------

#[test]
fn none_terminator() {
    for chunk in CHUNK_SIZES {
        let (records, leftover, _) = exchange(Terminator::None, DATA, chunk);
        assert!(
            records.is_empty(),
            "{chunk} bytes per send: {:?}",
            show(&records)
        );
        assert_eq!(leftover, DATA, "{chunk} bytes per send");
    }
}

// ---------------------------------------------------------------------------
// test_empty_line
// ---------------------------------------------------------------------------

#[test]
fn empty_line_is_an_empty_record() {
    for chunk in CHUNK_SIZES {
        let (records, leftover, _) = exchange(
            Terminator::bytes(b"\n"),
            b"hello world\n\nI'm not dead yet!\n",
            chunk,
        );
        assert_eq!(
            show(&records),
            ["hello world", "", "I'm not dead yet!"],
            "{chunk} bytes per send"
        );
        assert_eq!(leftover, b"");
    }
}

/// A partial terminator at end of stream is neither a record nor leftover
/// data (contract consequence 7, over a socket).
#[test]
fn partial_terminator_at_end_of_stream_is_dropped() {
    for chunk in CHUNK_SIZES {
        let (records, leftover, _) = exchange(Terminator::bytes(b"qqq"), b"abcqqqdefqq", chunk);
        assert_eq!(show(&records), ["abc"], "{chunk} bytes per send");
        assert_eq!(leftover, b"def", "{chunk} bytes per send");
    }
}

// ---------------------------------------------------------------------------
// test_push: every byte-like input
// ---------------------------------------------------------------------------

#[test]
fn push_accepts_every_byte_like_input() {
    let hook: Hook = Arc::new(|chan, record| {
        if record == b"go" {
            chan.push(&b"static,"[..]);
            chan.push(b"vec,".to_vec());
            chan.push(String::from("string,"));
            chan.push(Piece::from(&b"piece,"[..]));
            chan.push(Piece::from(b"owned piece,".to_vec()));
            chan.push(Vec::new()); // an empty push sends nothing
            chan.push(format!("{}!", record.escape_ascii()));
        }
    });
    for chunk in CHUNK_SIZES {
        let (records, _, answer) =
            exchange_with(Terminator::bytes(b"\n"), Some(hook.clone()), b"go\n", chunk);
        assert_eq!(show(&records), ["go"]);
        assert_eq!(
            answer.escape_ascii().to_string(),
            "static,vec,string,piece,owned piece,go!",
            "{chunk} bytes per send"
        );
    }
}

// ---------------------------------------------------------------------------
// test_close_when_done (and test_simple_producer / test_string_producer)
// ---------------------------------------------------------------------------

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "asynchat-cpython-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Bytes whose every position differs from its neighbours', so a slip of an
/// offset shows.
fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ ((i >> 8) as u8) ^ salt)
        .collect()
}

#[test]
fn close_when_done_flushes_everything_queued_before_it() {
    let big = pattern(1 << 20, 0x55);
    let file_data = pattern(200_000, 0xAA);
    let file = TempFile::with(&file_data);
    let path = file.0.clone();
    let big_for_hook = big.clone();
    let hook: Hook = Arc::new(move |chan, record| {
        if record != b"go" {
            return;
        }
        chan.push(&b"head,"[..]);
        chan.push_with_producer(BytesProducer::new(big_for_hook.clone()));
        chan.push(&b",mid,"[..]);
        chan.push_with_producer(FileProducer::whole(File::open(&path).unwrap()).unwrap());
        chan.push_with_producer(BytesProducer::new(&b",tail"[..]));
        chan.close_when_done();
        chan.push(&b"AFTER"[..]);
        chan.push_with_producer(BytesProducer::new(&b"AFTER2"[..]));
        chan.close_when_done(); // a second call changes nothing
    });
    let server = serve(Terminator::bytes(b"\n"), Some(hook), None);
    // The client does not half-close: the server closes by itself once the
    // output is flushed.
    let mut client = connect(server.addr);
    client.write_all(b"go\n").unwrap();
    let answer = read_to_eof(&mut client);
    let want = [&b"head,"[..], &big, b",mid,", &file_data, b",tail"].concat();
    assert_eq!(answer.len(), want.len(), "byte count");
    assert!(answer == want, "the bytes differ");
    assert_eq!(server.leftover(), b"");
    assert_eq!(show(&server.records()), ["go"]);
    assert_eq!(*server.shared.reasons.lock().unwrap(), [CloseReason::Done]);
    server.stop();
}

/// CPython's test_simple_producer: the answer comes from a producer, in
/// small pieces, and the server closes once it is sent.
#[test]
fn answer_from_producers_then_close() {
    struct Pieces(Vec<&'static [u8]>);
    impl asynchat::Producer for Pieces {
        fn more(&mut self) -> Option<Piece> {
            if self.0.is_empty() {
                None
            } else {
                Some(Piece::from(self.0.remove(0)))
            }
        }
    }
    let hook: Hook = Arc::new(|chan, record| {
        // An empty piece ends a producer, as in CPython: "never" is not sent.
        chan.push_with_producer(Pieces(vec![b"hello", b" world", b", I'm", b"", b"never"]));
        chan.push_with_producer(BytesProducer::new(record.to_vec()));
        chan.close_when_done();
    });
    for chunk in CHUNK_SIZES {
        let (records, _, answer) = exchange_with(
            Terminator::bytes(b"\n"),
            Some(hook.clone()),
            b" not dead yet!\n",
            chunk,
        );
        assert_eq!(show(&records), [" not dead yet!"]);
        assert_eq!(
            answer, b"hello world, I'm not dead yet!",
            "{chunk} bytes per send"
        );
    }
}

// ---------------------------------------------------------------------------
// Beyond CPython: pipelined records under back-pressure, over a socket
// ---------------------------------------------------------------------------

/// The client pipelines many lines in one write and waits for all answers
/// without sending anything more. With `max_queued: 2` the channel pauses
/// delivery after two answers and keeps the rest in its input buffer; every
/// record must still be answered, in order, with no further input.
#[test]
fn pipelined_records_beyond_the_output_bound_are_all_answered() {
    let hook: Hook = Arc::new(|chan, record| {
        chan.push([b"<", record, b">"].concat());
    });
    let limits = Limits {
        max_queued: 2,
        ..Limits::default()
    };
    let server = serve(Terminator::bytes(b"\n"), Some(hook), Some(limits));
    let mut client = connect(server.addr);
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let lines: Vec<String> = (0..20).map(|i| format!("{i}\n")).collect();
    client.write_all(lines.concat().as_bytes()).unwrap();
    let want: String = (0..20).map(|i| format!("<{i}>")).collect();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() < want.len() {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let delivered = server.records().len();
    server.stop();
    assert_eq!(
        String::from_utf8_lossy(&got),
        want,
        "{delivered} of 20 records were delivered"
    );
}

/// The same pipelining with the default limits and more records than
/// `max_queued` (256) in one read.
#[test]
fn pipelined_records_beyond_the_default_bound_are_all_answered() {
    let hook: Hook = Arc::new(|chan, record| {
        chan.push([b"<", record, b">"].concat());
    });
    let server = serve(Terminator::bytes(b"\n"), Some(hook), None);
    let mut client = connect(server.addr);
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let n = 1000;
    let lines: String = (0..n).map(|i| format!("{i}\n")).collect();
    client.write_all(lines.as_bytes()).unwrap();
    let want: String = (0..n).map(|i| format!("<{i}>")).collect();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want.len() {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let delivered = server.records().len();
    server.stop();
    assert!(
        got == want.as_bytes(),
        "{delivered} of {n} records were delivered, {} of {} answer bytes received",
        got.len(),
        want.len()
    );
}

/// A client that sends one more line after the request that made the server
/// call `close_when_done` (a pipelining HTTP client does exactly this) must
/// still receive the whole answer. The extra line is never read (reading
/// stopped at `close_when_done`), so closing the socket with it unread makes
/// the kernel send RST and discard the part of the answer still in the send
/// buffer: the client gets "connection reset" part-way through.
#[test]
fn close_when_done_with_unread_input_still_delivers_the_answer() {
    let answer_len = 4 << 20;
    let hook: Hook = Arc::new(move |chan, record| {
        if record == b"go" {
            chan.push(pattern(answer_len, 1));
            chan.close_when_done();
        }
    });
    let server = serve(Terminator::bytes(b"\n"), Some(hook), None);
    let mut client = connect(server.addr);
    client.write_all(b"go\n").unwrap();
    wait_until("the request", || server.records().len() == 1);
    client.write_all(b"more\n").unwrap();
    thread::sleep(Duration::from_millis(100));
    let mut got = Vec::new();
    let result = client.read_to_end(&mut got);
    server.stop();
    assert!(
        result.is_ok() && got == pattern(answer_len, 1),
        "{result:?} after {} of {answer_len} bytes",
        got.len()
    );
}
