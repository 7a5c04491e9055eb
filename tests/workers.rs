//! `--workers N`, over real sockets against the binary: connections are
//! spread over the workers, the status page sums them and names the worker
//! of each channel, a signal stops every worker gracefully with transfers
//! in flight on each, `--max-connections` is the total, and the flag's
//! errors.
//!
//! Which worker gets a connection is the kernel's choice (a hash of the
//! connection's addresses and ports), so each test opens connections
//! until it has what it needs on every worker, within a bound.

mod common;

use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const STATUS: &str = "/.status";

/// More connections than any test should need to reach both workers (the
/// chance that 40 fresh connections all land on one of two is 2^-39).
const MOST_CONNECTIONS: usize = 40;

/// The status page's JSON, fetched on `c` (one connection for every
/// page, so that the page's own connections are one, always open).
fn status(c: &mut Client) -> Value {
    let r = c.request(get(&format!("{STATUS}?format=json")));
    assert_eq!(r.status, 200, "{r:?}");
    serde_json::from_slice(&r.body).expect("the page is JSON")
}

/// The worker of the channel whose peer is `peer`, on the page `page`.
fn worker_of(page: &Value, peer: SocketAddr) -> Option<u64> {
    let peer = peer.to_string();
    page["channels"]
        .as_array()?
        .iter()
        .find(|c| c["peer"] == peer.as_str())
        .and_then(|c| c["worker"].as_u64())
}

/// A total of the page.
fn total(page: &Value, name: &str) -> u64 {
    page["totals"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no total {name} in {page}"))
}

/// A count of each worker, from the page's `workers` list.
fn per_worker(page: &Value, name: &str) -> Vec<u64> {
    page["workers"]
        .as_array()
        .expect("a workers list")
        .iter()
        .map(|w| w[name].as_u64().expect("a count"))
        .collect()
}

/// The binary serving `root` with two workers, no access log, and `more`
/// flags.
fn two_workers(root: &TempDir, more: &[&str]) -> Httpd {
    let mut args = vec![path_str(root.path()), "-q", "--workers", "2"];
    args.extend_from_slice(more);
    Httpd::start(&args)
}

#[test]
fn connections_spread_over_workers_and_the_page_sums_them() {
    let root = a_txt_root("workers-spread");
    let httpd = two_workers(&root, &["--status", STATUS]);
    let mut pager = Client::connect(httpd.addr);
    // Fresh connections, each kept open after its request, until both
    // workers hold some (bounded).
    let mut open = Vec::new();
    let mut pages = 0;
    let page = loop {
        for _ in 0..8 {
            let mut c = Client::connect(httpd.addr);
            assert_eq!(c.request(get("/a.txt")).status, 200);
            open.push(c);
        }
        let page = status(&mut pager);
        pages += 1;
        let held = per_worker(&page, "connections_open");
        if held.iter().all(|&n| n > 0) || open.len() >= MOST_CONNECTIONS {
            break page;
        }
    };
    let sent = open.len() as u64;
    let held = per_worker(&page, "connections_open");
    assert_eq!(held.len(), 2, "{page}");
    assert!(
        held.iter().all(|&n| n > 0),
        "{sent} connections, all on one worker: {page}"
    );

    // The totals are the sums of the workers' counts, and count what was
    // sent: the earlier pages among the requests (a page is counted once it
    // is queued, after it was made), and the page's own connection.
    let requests = per_worker(&page, "requests");
    assert_eq!(
        requests.iter().sum::<u64>(),
        total(&page, "requests"),
        "{page}"
    );
    assert_eq!(total(&page, "requests"), sent + pages - 1, "{page}");
    assert_eq!(total(&page, "responses_2xx"), sent + pages - 1, "{page}");
    let accepted = per_worker(&page, "connections_accepted");
    assert_eq!(
        accepted.iter().sum::<u64>(),
        total(&page, "connections_accepted")
    );
    assert_eq!(held.iter().sum::<u64>(), total(&page, "connections_open"));
    assert_eq!(total(&page, "connections_open"), sent + 1, "{page}");

    // Every open channel is listed once, with its worker, which is the one
    // that counts it.
    let channels = page["channels"].as_array().unwrap();
    assert_eq!(channels.len() as u64, sent + 1, "{page}");
    for (worker, &held) in held.iter().enumerate() {
        let listed = channels
            .iter()
            .filter(|c| c["worker"].as_u64() == Some(worker as u64))
            .count();
        assert_eq!(listed as u64, held, "worker {worker}: {page}");
    }
    for c in &mut open {
        let peer = c.stream().local_addr().unwrap();
        assert!(
            worker_of(&page, peer).is_some(),
            "{peer} not listed: {page}"
        );
    }
    let ids: Vec<u64> = channels.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    assert!(ids.is_sorted(), "channels in connection order: {ids:?}");

    // The HTML page has a worker column and a table of workers.
    let html = pager.request(get(STATUS)).text();
    let rows = html_table(&html, "channels");
    assert_eq!(rows[0][..2], ["id", "worker"], "{html}");
    let workers = html_table(&html, "workers");
    assert_eq!(workers.len(), 3, "a heading and two workers: {html}");
}

#[test]
fn trace_lines_name_the_worker() {
    let root = a_txt_root("workers-trace");
    let httpd = two_workers(&root, &["--trace"]);
    let mut c = Client::connect(httpd.addr);
    assert_eq!(c.request(get("/a.txt")).status, 200);
    let peer = c.stream().local_addr().unwrap();
    let lines = httpd.stderr_until("respond 200", PATIENCE);
    let line = lines
        .iter()
        .find(|l| l.contains(&peer.to_string()))
        .unwrap_or_else(|| panic!("no trace of {peer}: {lines:?}"));
    let tag = format!(" w0 {peer} ");
    let other = format!(" w1 {peer} ");
    assert!(line.contains(&tag) || line.contains(&other), "{line}");
}

/// A file large enough to stay in flight past the socket buffers.
const BIG: usize = 24 << 20;

#[test]
fn a_signal_stops_every_worker_after_its_transfers_in_flight() {
    let root = TempDir::new("workers-stop");
    let body: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
    root.file("big.bin", &body);
    let mut httpd = two_workers(&root, &["--status", STATUS]);
    let mut pager = Client::connect(httpd.addr);
    // Downloads that have begun, until both workers have some (bounded).
    let mut downloads: Vec<(Client, u64, Vec<u8>)> = Vec::new();
    let mut seen = [false; 2];
    while !(seen[0] && seen[1]) {
        assert!(
            downloads.len() < MOST_CONNECTIONS,
            "every download on one worker"
        );
        let mut c = Client::connect(httpd.addr);
        c.send(get("/big.bin"));
        // Read the head and a little of the body: the transfer has begun.
        let mut start = vec![0; 4096];
        c.reader.read_exact(&mut start).unwrap();
        let peer = c.stream().local_addr().unwrap();
        let page = status(&mut pager);
        let worker = worker_of(&page, peer).unwrap_or_else(|| panic!("{peer}: {page}"));
        seen[worker as usize] = true;
        downloads.push((c, worker, start));
    }
    let pid = rustix::process::Pid::from_child(&httpd.child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    // Each download is read to its end at full speed, all at once, and is
    // whole; then the server exits 0.
    let readers: Vec<_> = downloads
        .into_iter()
        .map(|(mut c, worker, mut got)| {
            std::thread::spawn(move || {
                c.reader.read_to_end(&mut got).unwrap();
                (worker, got)
            })
        })
        .collect();
    for reader in readers {
        let (worker, got) = reader.join().unwrap();
        let at = got
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head")
            + 4;
        assert!(got.starts_with(b"HTTP/1.1 200 "), "worker {worker}");
        assert!(
            got[at..] == body[..],
            "worker {worker}: {} of {BIG} body bytes",
            got.len() - at
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = httpd.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// True if `c` gets a response within `wait`.
fn answered_within(c: &mut Client, wait: Duration) -> bool {
    use std::io::BufRead;
    c.stream().set_read_timeout(Some(wait)).unwrap();
    let answered = match c.reader.fill_buf() {
        Ok(buf) => !buf.is_empty(),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("{e}"),
    };
    c.stream().set_read_timeout(Some(PATIENCE)).unwrap();
    answered
}

#[test]
fn max_connections_is_the_total_over_the_workers() {
    let root = a_txt_root("workers-max");
    let httpd = two_workers(&root, &["--max-connections", "2"]);
    // Each worker holds one connection. A connection the kernel gives a
    // worker that holds its one waits in that worker's backlog, even while
    // the other has room; so connections are opened until two are
    // answered.
    let wait = Duration::from_millis(300);
    let (mut served, mut waiting) = (Vec::new(), Vec::new());
    while served.len() < 2 {
        assert!(waiting.len() < MOST_CONNECTIONS, "never two answered");
        let mut c = Client::connect(httpd.addr);
        c.send(get("/a.txt"));
        if answered_within(&mut c, wait) {
            assert_eq!(c.read_response().status, 200);
            served.push(c);
        } else {
            waiting.push(c);
        }
    }
    // Both workers are full: a third connection is not answered, wherever
    // the kernel puts it.
    let mut third = Client::connect(httpd.addr);
    third.send(get("/a.txt"));
    assert!(
        !answered_within(&mut third, wait),
        "a third connection was served"
    );
    waiting.push(third);
    // A connection closed makes room on its worker, for one that waits
    // there (the waiting ones may all be on one worker).
    served.clear();
    let deadline = Instant::now() + PATIENCE;
    let mut answered = None;
    while answered.is_none() && Instant::now() < deadline {
        answered = waiting
            .iter_mut()
            .position(|c| answered_within(c, Duration::from_millis(20)));
    }
    let i = answered.expect("a waiting connection is served once the others close");
    assert_eq!(waiting[i].read_response().status, 200);
}

#[test]
fn auto_is_one_worker_per_core() {
    let root = a_txt_root("workers-auto");
    let cores = std::thread::available_parallelism().unwrap().get();
    let (mut child, out, err) = spawn_binary(
        &[path_str(root.path()), "-q", "-p", "0", "--workers", "auto"],
        &[],
    );
    let line = out.recv_timeout(START_PATIENCE).unwrap_or_else(|e| {
        let _ = child.kill();
        panic!("{e:?}: {:?}", err.try_iter().collect::<Vec<_>>())
    });
    let _ = child.kill();
    let _ = child.wait();
    let named = line.contains(&format!(" with {cores} workers at http://"));
    assert_eq!(named, cores > 1, "{cores} cores: {line}");
}

#[test]
fn bad_worker_counts_are_refused() {
    let root = a_txt_root("workers-bad");
    let dir = path_str(root.path());
    for (bad, says) in [
        ("0", "at least one worker"),
        ("two", "neither a number of workers nor auto"),
        ("-1", "'-1'"),
        ("", "--workers"),
    ] {
        let (status, _, err) = run_binary(&[dir, "-p", "0", "--workers", bad]);
        assert_eq!(status.code(), Some(2), "--workers {bad:?}: {err}");
        assert!(err.contains(says), "--workers {bad:?}: {err}");
    }
    let (status, _, err) =
        run_binary(&[dir, "-p", "0", "--workers", "3", "--max-connections", "2"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("--workers 3 is more than --max-connections 2"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn a_port_in_use_is_refused_with_several_workers_too() {
    let root = a_txt_root("workers-in-use");
    let dir = path_str(root.path());
    let first = two_workers(&root, &[]);
    // The other server's sockets have SO_REUSEPORT too, and would share
    // the port with these if binding alone decided.
    let port = first.addr.port().to_string();
    let (status, _, err) = run_binary(&[dir, "-p", &port, "--workers", "2"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("cannot listen on"), "{err}");
    let mut c = Client::connect(first.addr);
    assert_eq!(c.request(get("/a.txt")).status, 200);
}

#[test]
fn the_unspecified_ipv6_address_serves_both_families_with_workers() {
    let root = a_txt_root("workers-dual");
    let (child, out, err) = spawn_binary(
        &[
            path_str(root.path()),
            "-q",
            "-b",
            "::",
            "-p",
            "0",
            "--workers",
            "2",
        ],
        &[],
    );
    let httpd = Httpd::started(child, out, err);
    let port = httpd.addr.port();
    for ip in ["127.0.0.1", "::1"] {
        let addr = SocketAddr::new(ip.parse().unwrap(), port);
        match std::net::TcpStream::connect(addr) {
            Ok(_) => {}
            Err(e) if ip == "::1" => {
                println!("skipped ::1: {e}");
                continue;
            }
            Err(e) => panic!("{addr}: {e}"),
        }
        let mut c = Client::connect(addr);
        assert_eq!(c.request(get("/a.txt")).status, 200, "{addr}");
    }
}

/// Conditional PUTs that name the same version, sent at the same moment
/// on connections the kernel spreads over two workers: exactly one
/// replaces it, and every other gets 412. (One worker's check of the
/// target and its rename are one step for the other workers, as they are
/// on one thread: no update is lost between them.)
#[test]
fn if_match_puts_racing_on_two_workers_lose_no_update() {
    use std::sync::{Arc, Barrier};
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 20;
    let root = TempDir::new("workers-if-match");
    root.file("doc.txt", "v0\n");
    let httpd = two_workers(&root, &["--upload"]);
    let mut current = "v0\n".to_string();
    for round in 0..ROUNDS {
        // The version the last round's winner wrote, with its ETag. The
        // worker that did not store it may show the one before for up to
        // a second (each worker caches a small file for a second, as the
        // README says): the PUTs would then all name a stale version.
        let deadline = Instant::now() + Duration::from_secs(3);
        let etag = loop {
            let r = Client::connect(httpd.addr).request(get("/doc.txt"));
            if r.text() == current {
                break r.header("etag").unwrap().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: still {:?}",
                r.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let barrier = Arc::new(Barrier::new(CLIENTS));
        let puts: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (addr, barrier, etag) = (httpd.addr, Arc::clone(&barrier), etag.clone());
                std::thread::spawn(move || {
                    let body = format!("round {round} client {i}\n");
                    let req = format!(
                        "PUT /doc.txt HTTP/1.1\r\nHost: t\r\nIf-Match: {etag}\r\n\
                         Content-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let (head, last) = req.as_bytes().split_at(req.len() - 1);
                    let mut c = Client::connect(addr);
                    c.send(head);
                    barrier.wait();
                    c.send(last);
                    (c.read_response_to("PUT").unwrap().status, body)
                })
            })
            .collect();
        let results: Vec<(u16, String)> = puts.into_iter().map(|t| t.join().unwrap()).collect();
        let mut statuses: Vec<u16> = results.iter().map(|(status, _)| *status).collect();
        statuses.sort_unstable();
        let mut want = vec![412; CLIENTS];
        want[0] = 204;
        assert_eq!(statuses, want, "round {round}");
        current = results.into_iter().find(|(s, _)| *s == 204).unwrap().1;
    }
}
