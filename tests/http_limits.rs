//! Resource bounds that a hostile client must not break, found by review:
//! memory per connection stays bounded when large generated pages are
//! pipelined to a client that never reads, and request spellings cannot
//! make the file cache hold descriptors.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn pipelined_listings_to_a_client_that_never_reads_stay_bounded() {
    let root = TempDir::new("limits-listing");
    root.file("a.txt", "hello");
    let long = "x".repeat(150);
    for i in 0..2000 {
        root.file(&format!("big/{long}-{i:04}.txt"), "");
    }
    let server = TestServer::serve(root.path());
    // Each listing is about 0.7 MB; 3 x 100 of them would be 200 MB if the
    // server generated every page it was asked for.
    let mut probe = server.connect();
    let page = probe.request(get("/big/"));
    assert_eq!(page.status, 200);
    assert!(page.body.len() > 500_000, "{} bytes", page.body.len());

    let before = rss_kib();
    let mut hogs: Vec<Client> = (0..3).map(|_| server.connect()).collect();
    let burst = get("/big/").repeat(100);
    for hog in &mut hogs {
        hog.send(&burst);
    }
    // While the hogs are being answered, everyone else is still served: the
    // reactor takes turns rather than generating every page for one client.
    // (A liveness bound, generous for a debug build on a loaded machine.)
    let started = Instant::now();
    let r = server.connect().request(get("/a.txt"));
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Once every hog's socket buffers are full, generation stops: memory
    // levels off well below what 300 pages would take.
    let settled = stable_rss_kib(Duration::from_secs(20));
    let grown_mib = settled.saturating_sub(before) / 1024;
    assert!(grown_mib < 48, "memory grew by {grown_mib} MiB");
    drop(hogs);
}

#[test]
fn spellings_of_one_file_do_not_fill_the_cache_with_descriptors() {
    let root = TempDir::new("limits-cache");
    // Larger than the cache keeps in memory, so an entry would hold it open.
    root.file("big.bin", vec![7u8; 100_000]);
    let server = TestServer::serve(root.path());
    let mut c = server.connect();
    assert_eq!(c.request(get("/big.bin")).status, 200);
    let before = open_descriptors();
    for i in 0..300 {
        let spelling = match i % 3 {
            0 => format!("/big.bin#{i}"),
            1 => format!("/{}big.bin", "./".repeat(i % 7 + 1)),
            _ => format!("/%62ig.bin?{i}"),
        };
        let r = c.request(get(&spelling));
        assert_eq!((r.status, r.body.len()), (200, 100_000), "{spelling}");
    }
    let grown = open_descriptors().saturating_sub(before);
    assert!(grown < 10, "{grown} more descriptors open");
}

#[test]
fn small_cached_files_hold_no_descriptor() {
    let root = TempDir::new("limits-small");
    for i in 0..50 {
        root.file(&format!("f{i}.txt"), format!("file {i}"));
    }
    let server = TestServer::serve(root.path());
    let mut c = server.connect();
    assert_eq!(c.request(get("/f0.txt")).status, 200);
    let before = open_descriptors();
    for i in 0..50 {
        let r = c.request(get(&format!("/f{i}.txt")));
        assert_eq!(r.body, format!("file {i}").as_bytes());
    }
    // Served again from the cache, from memory.
    for i in 0..50 {
        assert_eq!(c.request(get(&format!("/f{i}.txt"))).status, 200);
    }
    let grown = open_descriptors().saturating_sub(before);
    assert!(
        grown < 5,
        "{grown} more descriptors open for 50 cached small files"
    );
}
