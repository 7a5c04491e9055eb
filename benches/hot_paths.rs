//! Micro-benchmarks of the hot paths of a keep-alive, pipelined HTTP
//! connection, from the bytes of a read to the vectored write of the
//! responses. Everything runs in memory: no socket, no reactor.
//!
//! Run them with
//!
//! ```text
//! cargo bench --bench hot_paths            # all of them (about 30 s)
//! cargo bench --bench hot_paths -- fifo    # only those whose id matches
//! ```
//!
//! Every benchmark sets a throughput, so criterion prints a rate next to the
//! time: requests (or responses) per second, `elem/s`.
//!
//! - `terminator/pipelined_heads/{16,256}`: [`asynchat::terminator::run`]
//!   over one buffer holding 16 or 256 pipelined wrk-style requests
//!   (`GET /index.html HTTP/1.1`, `Host`, blank line), with a minimal
//!   [`Records`] sink that cuts lines with the terminator `"\n"` and sets it
//!   again after each head, as the HTTP channel does. The sink only counts,
//!   so nothing allocates: this is the cost of terminator scanning and of
//!   the loop itself.
//! - `terminator/content_length_switch/16`: the same loop over 16 POSTs
//!   with 100-byte bodies; the sink switches `"\n"` → `Count(100)` → `"\n"`
//!   for each request, so both kinds of terminator are exercised.
//! - `head/parse/{browser,wrk}`: [`asynchat::http::head::parse`] on a
//!   typical browser head (12 fields) and on the two-line wrk head, each
//!   ending in its blank line. One element is one head.
//! - `fifo/gather/16`: fills an [`asynchat::Fifo`] with 16 responses (a
//!   static head piece of about 200 bytes and a shared 195-byte body each)
//!   and sends it into a transport that takes everything and discards it.
//!   This is the cost of queuing and of gathering the pieces into one
//!   vectored write, which is checked once before timing.
//! - `channel/http_pipelined/16`: the real HTTP handler
//!   ([`asynchat::http::conn::HttpChannel`]) serving a 195-byte
//!   `index.html`: one `Channel::feed` of 16 pipelined requests, then one
//!   `Channel::send` into the discarding transport. This is the whole
//!   per-request path of a cached small file (line cutting, head parsing,
//!   cache lookup, response pieces, gathering); the channel's clock is not
//!   advanced, so the file cache entry never expires. No logger is
//!   installed, so the access log is off.

use std::hint::black_box;
use std::io::{self, IoSlice};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use asynchat::http::Shared;
use asynchat::http::conn::HttpChannel;
use asynchat::terminator::{self, Records, Terminator};
use asynchat::{Channel, Fifo, Piece, Transport};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};
use criterion::{criterion_group, criterion_main};

/// The request wrk sends by default.
const WRK_GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n";

/// A POST whose 100-byte body follows its head.
const POST_HEAD: &[u8] =
    b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Length: 100\r\n\r\n";
const POST_BODY_LEN: u64 = 100;

/// What a current browser sends for a page it has cached.
const BROWSER_HEAD: &[u8] = b"GET /index.html HTTP/1.1\r\n\
Host: 127.0.0.1:8000\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Connection: keep-alive\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: none\r\n\
If-None-Match: \"c3-18a3c4f2b1d\"\r\n\
\r\n";

/// A response head as the server would send it for `index.html`.
const RESPONSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
Date: Tue, 14 Apr 2026 12:00:00 GMT\r\n\
Last-Modified: Tue, 14 Apr 2026 11:59:00 GMT\r\n\
ETag: \"c3-18a3c4f2b1d\"\r\n\
Accept-Ranges: bytes\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Length: 195\r\n\
\r\n";

/// The size of the page served and of each response body.
const BODY_LEN: usize = 195;

/// Pipelined requests per read in the fifo and channel benchmarks.
const PIPELINE: usize = 16;

/// Short measurements, so the whole file runs in well under two minutes.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
}

/// `n` copies of `request`, back to back, as one read would hold them.
fn pipelined(request: &[u8], n: usize) -> Vec<u8> {
    request.repeat(n)
}

/// 16 POSTs with their bodies.
fn posts(n: usize) -> Vec<u8> {
    let mut one = POST_HEAD.to_vec();
    one.resize(POST_HEAD.len() + POST_BODY_LEN as usize, b'x');
    one.repeat(n)
}

/// A 195-byte HTML page.
fn page() -> Vec<u8> {
    let mut page =
        b"<!doctype html>\n<html><head><title>asynchat</title></head>\n<body><p>".to_vec();
    let tail = b"</p></body></html>\n";
    page.resize(BODY_LEN - tail.len(), b'.');
    page.extend_from_slice(tail);
    assert_eq!(page.len(), BODY_LEN);
    page
}

/// A [`Records`] sink that cuts heads into lines with `"\n"` and, at each
/// blank line, either reads `body_len` bytes with a count or sets `"\n"`
/// again for the next head, like the HTTP channel. It only counts.
struct LineSink {
    terminator: Terminator,
    /// The body length every head announces (0: no body).
    body_len: u64,
    in_body: bool,
    line_len: usize,
    last_byte: u8,
    lines: usize,
    requests: usize,
    body_bytes: u64,
}

impl LineSink {
    fn new(body_len: u64) -> LineSink {
        LineSink {
            terminator: Terminator::bytes(b"\n"),
            body_len,
            in_body: false,
            line_len: 0,
            last_byte: 0,
            lines: 0,
            requests: 0,
            body_bytes: 0,
        }
    }
}

impl Records for LineSink {
    fn terminator(&mut self) -> &mut Terminator {
        &mut self.terminator
    }

    fn collect_incoming_data(&mut self, data: &[u8]) {
        if self.in_body {
            self.body_bytes += data.len() as u64;
        } else {
            self.line_len += data.len();
            self.last_byte = data[data.len() - 1];
        }
    }

    fn found_terminator(&mut self) {
        if self.in_body {
            self.in_body = false;
            self.requests += 1;
            self.terminator = Terminator::bytes(b"\n");
            return;
        }
        self.lines += 1;
        let blank = self.line_len == 0 || (self.line_len == 1 && self.last_byte == b'\r');
        self.line_len = 0;
        if blank {
            if self.body_len > 0 {
                self.in_body = true;
                self.terminator = Terminator::Count(self.body_len);
            } else {
                self.requests += 1;
                self.terminator = Terminator::bytes(b"\n");
            }
        }
    }
}

/// Runs the terminator loop over `data` with a fresh sink.
fn cut(data: &[u8], body_len: u64) -> (usize, LineSink) {
    let mut sink = LineSink::new(body_len);
    let used = terminator::run(&mut sink, data);
    (used, sink)
}

fn bench_terminator(c: &mut Criterion) {
    let mut group = c.benchmark_group("terminator");
    configure(&mut group);

    for n in [16, 256] {
        let buf = pipelined(WRK_GET, n);
        let (used, sink) = cut(&buf, 0);
        assert_eq!(used, buf.len());
        assert_eq!(sink.requests, n);
        assert_eq!(sink.lines, 3 * n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("pipelined_heads", n), &buf, |b, buf| {
            b.iter(|| {
                let (used, sink) = cut(black_box(buf), 0);
                (used, sink.lines, sink.requests)
            });
        });
    }

    let buf = posts(PIPELINE);
    let (used, sink) = cut(&buf, POST_BODY_LEN);
    assert_eq!(used, buf.len());
    assert_eq!(sink.requests, PIPELINE);
    assert_eq!(sink.lines, 4 * PIPELINE);
    assert_eq!(sink.body_bytes, POST_BODY_LEN * PIPELINE as u64);
    assert_eq!(sink.terminator, Terminator::bytes(b"\n"));
    group.throughput(Throughput::Elements(PIPELINE as u64));
    group.bench_with_input(
        BenchmarkId::new("content_length_switch", PIPELINE),
        &buf,
        |b, buf| {
            b.iter(|| {
                let (used, sink) = cut(black_box(buf), POST_BODY_LEN);
                (used, sink.requests, sink.body_bytes)
            });
        },
    );

    group.finish();
}

fn bench_head(c: &mut Criterion) {
    use asynchat::http::head::parse;

    let mut group = c.benchmark_group("head");
    configure(&mut group);
    group.throughput(Throughput::Elements(1));

    for (name, head) in [("browser", BROWSER_HEAD), ("wrk", WRK_GET)] {
        let req = parse(head).expect("the benchmark heads are valid");
        assert_eq!(req.target, "/index.html");
        assert_eq!(
            req.persistence,
            asynchat::http::head::Persistence::KeepAlive
        );
        group.bench_with_input(BenchmarkId::new("parse", name), head, |b, head| {
            b.iter(|| parse(black_box(head)));
        });
    }

    group.finish();
}

/// A transport that takes every byte offered and throws it away, counting
/// calls and bytes.
#[derive(Default)]
struct Discard {
    calls: usize,
    bytes: u64,
}

impl Transport for Discard {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n: usize = black_box(bufs).iter().map(|b| b.len()).sum();
        self.calls += 1;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Queues `n` responses: a static head and a shared body each.
fn fill(fifo: &mut Fifo, body: &Rc<[u8]>, n: usize) {
    for _ in 0..n {
        fifo.push(Piece::from(RESPONSE_HEAD));
        fifo.push(Piece::Shared(Rc::clone(body)));
    }
}

fn bench_fifo(c: &mut Criterion) {
    let body: Rc<[u8]> = Rc::from(page());
    let response_len = (RESPONSE_HEAD.len() + BODY_LEN) as u64;

    // One send gathers all 16 responses into one vectored write.
    let mut fifo = Fifo::new();
    let mut sink = Discard::default();
    fill(&mut fifo, &body, PIPELINE);
    let sent = fifo
        .send(&mut sink, u64::MAX)
        .expect("discarding never fails");
    assert_eq!(sink.calls, 1, "one send, one write_vectored");
    assert_eq!(sent, response_len * PIPELINE as u64);
    assert_eq!(sink.bytes, sent);
    assert!(fifo.is_empty());

    let mut group = c.benchmark_group("fifo");
    configure(&mut group);
    group.throughput(Throughput::Elements(PIPELINE as u64));
    // The queue is reused, as a connection's is: after the first round its
    // storage is already big enough, so only the body's count changes.
    group.bench_function(BenchmarkId::new("gather", PIPELINE), |b| {
        b.iter(|| {
            fill(&mut fifo, &body, PIPELINE);
            fifo.send(&mut sink, u64::MAX)
                .expect("discarding never fails")
        });
    });
    group.finish();
}

/// A directory holding the page as `index.html`, removed when dropped.
struct Site(PathBuf);

impl Site {
    fn new() -> Site {
        let dir = std::env::temp_dir().join(format!("asynchat-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the bench directory");
        std::fs::write(dir.join("index.html"), page()).expect("write index.html");
        Site(dir)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How many times `needle` occurs in `haystack`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

fn bench_channel(c: &mut Criterion) {
    let site = Site::new();
    let config = asynchat::http::Config::new(&site.0).expect("the bench directory is servable");
    let shared = Shared::new(config).expect("the root opens");
    let mut handler = HttpChannel::new(shared);
    let mut chan = Channel::new(HttpChannel::initial_terminator());
    let requests = pipelined(WRK_GET, PIPELINE);

    // Once, before timing: 16 requests in, 16 complete 200s out.
    let mut wire = Vec::new();
    chan.feed(&mut handler, &requests);
    chan.send(&mut handler, &mut wire)
        .expect("memory never fails");
    assert_eq!(occurrences(&wire, b"HTTP/1.1 200 OK\r\n"), PIPELINE);
    assert_eq!(occurrences(&wire, b"HTTP/1.1 "), PIPELINE);
    assert_eq!(occurrences(&wire, &page()), PIPELINE);
    assert!(chan.pending_input().is_empty());
    assert!(chan.fifo().is_empty());
    assert!(!chan.is_closing());

    let mut sink = Discard::default();
    let mut group = c.benchmark_group("channel");
    configure(&mut group);
    group.throughput(Throughput::Elements(PIPELINE as u64));
    group.bench_function(BenchmarkId::new("http_pipelined", PIPELINE), |b| {
        b.iter(|| {
            chan.feed(&mut handler, black_box(&requests));
            chan.send(&mut handler, &mut sink)
                .expect("discarding never fails")
        });
    });
    group.finish();

    // Every round was answered in full and the connection is still usable.
    assert!(chan.pending_input().is_empty());
    assert!(chan.fifo().is_empty());
    assert!(!chan.is_closing());
    assert_eq!(sink.bytes % wire.len() as u64, 0);
}

criterion_group!(
    benches,
    bench_terminator,
    bench_head,
    bench_fifo,
    bench_channel
);
criterion_main!(benches);
