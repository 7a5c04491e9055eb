//! Finding 1 of the trust review, alone in its test binary so that no other
//! test's memory moves the figures: range requests pipelined to a server by
//! clients that never read must not pin memory.
//!
//! Before the fix, 200 such clients with 400 requests each for a 32 KiB
//! file (`Range: bytes=1-`) grew the server by 1.3 GB, and it stayed that
//! size after they left: every range of a file kept in memory was copied
//! into its response, and the output bound did not count bytes held by
//! producers. This test runs a quarter of that load (in the test process,
//! which the in-process server shares) in both forms the review used, one
//! range and 32 small ranges per request. `benches/attacks/ranges.py` runs
//! the full load against the binary.

mod common;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

const CLIENTS: usize = 50;
const REQUESTS: usize = 400;

/// RSS growth (KiB) with the clients connected and after they left, for
/// `CLIENTS` clients each pipelining `REQUESTS` requests with `range`.
fn attack(server: &TestServer, range: &str) -> (u64, u64) {
    use rustix::net::sockopt;
    let burst = format!("GET /small.bin HTTP/1.1\r\nHost: x\r\nRange: {range}\r\n\r\n")
        .repeat(REQUESTS)
        .into_bytes();
    let before = stable_rss_kib(Duration::from_secs(10));
    let mut clients: Vec<(TcpStream, usize)> = (0..CLIENTS)
        .map(|_| {
            let s = TcpStream::connect(server.addr).unwrap();
            sockopt::set_socket_recv_buffer_size(&s, 4096).unwrap();
            s.set_nonblocking(true).unwrap();
            (s, 0)
        })
        .collect();
    // Send what the kernel takes, round robin, for a few seconds: the one
    // burst is shared, so the clients cost this process nothing.
    let end = Instant::now() + Duration::from_secs(4);
    while Instant::now() < end && clients.iter().any(|(_, at)| *at < burst.len()) {
        for (s, at) in &mut clients {
            match s.write(&burst[*at..]) {
                Ok(n) => *at += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("send: {e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let connected = stable_rss_kib(Duration::from_secs(20));
    drop(clients);
    // The housekeeping gives freed memory back within a second of closes.
    std::thread::sleep(Duration::from_millis(2500));
    let after = stable_rss_kib(Duration::from_secs(10));
    (
        connected.saturating_sub(before),
        after.saturating_sub(before),
    )
}

#[test]
fn finding_1_range_requests_to_clients_that_never_read_do_not_pin_memory() {
    let root = TempDir::new("trust-ranges");
    root.file(
        "small.bin",
        (0..32 * 1024u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let server = TestServer::serve(root.path());
    let many: Vec<String> = (0..32)
        .map(|i| format!("{}-{}", i * 1000, i * 1000 + 9))
        .collect();
    for range in ["bytes=1-".to_string(), format!("bytes={}", many.join(","))] {
        let (connected, after) = attack(&server, &range);
        let what = &range[..range.len().min(24)];
        // The full load measured +1.3 GB before the fix; a quarter of it
        // must stay within a quarter of the 64 MiB.
        assert!(connected < 16 * 1024, "{what}: RSS grew {connected} KiB");
        assert!(
            after < 6 * 1024,
            "{what}: {after} KiB still held after the clients left"
        );
        // And the server still answers.
        let r = server
            .connect()
            .request(get_with("/small.bin", "Range: bytes=0-3\r\n"));
        assert_eq!((r.status, r.body.as_slice()), (206, &[0u8, 7, 14, 21][..]));
    }
}
