//! `asynchat-httpd --capture`: captures made over real sockets, read back,
//! and replayed with `examples/replay`.
//!
//! Most tests run the binary and talk to it with raw bytes; the one that
//! needs a capture writer that cannot keep up runs the server in this
//! process with a store whose writes wait for the test. Captures are
//! written when a connection closes and the loop next waits, so every check
//! first waits, with a bounded patience, for the files it needs. The
//! shipped captures in `examples/captures/*.cap` are made by
//! [`shipped_captures_come_from_live_connections`]: run it with
//! `ASYNCHAT_BLESS_CAPTURES=1` to make them again.

mod common;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use asynchat::capture::format::{self, Capture, Event};
use asynchat::capture::{Options, Sink, Store};
use asynchat::http::Config;
use common::{Httpd, PATIENCE, TempDir, TestServer, path_str, run_replay, www_copy};

/// How long to wait for a start, an exit or a capture file (generous: only
/// a failing test waits this long).
const WAIT: Duration = Duration::from_secs(10);

// ------------------------------------------------------------ the process

impl Httpd {
    /// As [`Httpd::start`], through `bash -c` with this `ulimit -f` (in KiB).
    fn start_limited(file_kib: u64, args: &[&str]) -> Httpd {
        let script = format!("ulimit -f {file_kib} && exec \"$0\" \"$@\"");
        let mut all = vec!["-c", script.as_str(), common::BIN];
        all.extend_from_slice(args);
        Httpd::spawn("bash", &all)
    }

    fn spawn(program: &str, args: &[&str]) -> Httpd {
        use std::process::{Command, Stdio};
        let mut all = vec![args[0], args[1], args[2], "-p", "0"];
        all.extend_from_slice(&args[3..]);
        let mut child = Command::new(program)
            .args(&all)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = common::lines_of(child.stdout.take().unwrap());
        let err = common::lines_of(child.stderr.take().unwrap());
        Httpd::started(child, out, err)
    }
}

/// Connects, sends `pieces` with `pause` between them, half-closes, and
/// reads everything the server sends until it closes.
fn converse(addr: SocketAddr, pieces: &[&[u8]], pause: Duration) -> (SocketAddr, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let local = s.local_addr().unwrap();
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        s.write_all(piece).unwrap();
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    (local, all)
}

/// `bytes` cut into `n` pieces of about the same size.
fn pieces(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let size = bytes.len().div_ceil(n);
    bytes.chunks(size).collect()
}

// ------------------------------------------------------------ the files

/// The captures in `dir`, read, once there are at least `n` and each has
/// its end record; by connection id.
fn complete_captures(dir: &Path, n: usize) -> Vec<(PathBuf, Capture)> {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "cap") {
                let bytes = std::fs::read(&path).unwrap();
                if let Ok(c) = format::parse(&bytes) {
                    found.push((path, c));
                }
            }
        }
        let complete = found.iter().filter(|(_, c)| c.end().is_some()).count();
        if found.len() >= n && complete == found.len() {
            found.sort_by_key(|(_, c)| c.header.connection);
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{} captures of {n}, {complete} complete, in {}",
            found.len(),
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The one capture of the connection from `peer`.
fn capture_of(captures: &[(PathBuf, Capture)], peer: SocketAddr) -> &(PathBuf, Capture) {
    captures
        .iter()
        .find(|(_, c)| c.header.peer == Some(peer))
        .unwrap_or_else(|| panic!("no capture from {peer}"))
}

/// The data of every read, in order.
fn reads(c: &Capture) -> Vec<&format::Data> {
    c.records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Read(d) => Some(d),
            _ => None,
        })
        .collect()
}

/// Everything sent, zeros where only sizes were kept.
fn sent(c: &Capture) -> Vec<u8> {
    c.records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Sent(d) => Some(d.bytes()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn scenario(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/captures")
            .join(name),
    )
    .unwrap()
}

// ------------------------------------------------------------ the tests

#[test]
fn a_live_capture_replays_to_the_same_responses_for_every_scenario() {
    let root = www_copy("capture-scenarios");
    let dir = TempDir::new("capture-scenarios-out");
    let httpd = Httpd::start(&[path_str(root.path()), "--capture", path_str(dir.path())]);
    // The shipped request streams, each cut in three with pauses, so each
    // piece is a read of its own; and a burst of pipelined requests that
    // the client reads only later, so that back-pressure holds input.
    let burst = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n".repeat(300);
    let mut cases = Vec::new();
    for name in [
        "pipelined-gets.http",
        "post-then-get.http",
        "chunked-post-trailers.http",
    ] {
        let input = scenario(name);
        let cut = pieces(&input, 3);
        let (peer, got) = converse(httpd.addr, &cut, Duration::from_millis(150));
        cases.push((
            name,
            input.clone(),
            cut.iter().map(|p| p.len()).collect::<Vec<_>>(),
            peer,
            got,
        ));
    }
    let (peer, got) = {
        let mut s = TcpStream::connect(httpd.addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let peer = s.local_addr().unwrap();
        s.write_all(&burst).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        (peer, all)
    };
    assert!(
        got.len() > 1 << 20,
        "{} bytes: more than the output bound",
        got.len()
    );
    cases.push((
        "a burst read late",
        burst.clone(),
        vec![burst.len() / 300; 300], // one write: a read may end after any request
        peer,
        got,
    ));

    let captures = complete_captures(dir.path(), cases.len());
    for (name, input, cut, peer, got) in &cases {
        let (path, c) = capture_of(&captures, *peer);
        // The bytes received, exactly, read by read: a read may hold more
        // than one piece, never part of one.
        let reads = reads(c);
        let kept: Vec<u8> = reads.iter().flat_map(|d| d.bytes()).collect();
        assert_eq!(&kept, input, "{name}: the bytes read");
        let mut boundaries: Vec<usize> = cut
            .iter()
            .scan(0, |at, n| {
                *at += n;
                Some(*at)
            })
            .collect();
        boundaries.insert(0, 0);
        let mut at = 0;
        for d in &reads {
            at += d.len as usize;
            assert!(
                boundaries.contains(&at),
                "{name}: a read ends at {at}, inside a piece {cut:?}"
            );
        }
        if name.ends_with(".http") {
            assert!(
                reads.len() >= 2,
                "{name}: pieces 150 ms apart in {} read",
                reads.len()
            );
        }
        assert_eq!(
            &sent(c),
            got,
            "{name}: the bytes sent are those the client received"
        );
        let (_, read, total_sent, reason) = c.end().unwrap();
        assert_eq!(
            (read, total_sent, reason),
            (input.len() as u64, got.len() as u64, "done"),
            "{name}"
        );
        // Replayed offline, as recorded: byte for byte the same answers.
        let (code, out, err) = run_replay(&["--root", path_str(root.path()), path_str(path)]);
        let want = format!(
            "--- the responses: identical to the {} bytes sent (Date fields aside)",
            got.len()
        );
        assert!(out.contains(&want), "{name}: {}{err}", tail(&out));
        assert_eq!(code, Some(0), "{name}");
    }
    // The burst was held by back-pressure: its read was settled only after
    // writes, and the file still has it first.
    let (_, burst_capture) = capture_of(&captures, cases[3].3);
    let first = burst_capture
        .records
        .iter()
        .position(|r| matches!(r.event, Event::Sent(_)));
    assert!(
        matches!(burst_capture.records[0].event, Event::Read(_)),
        "the read comes first"
    );
    let writes = burst_capture
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::Sent(_)))
        .count();
    assert!(first.is_some() && writes > 2, "{writes} writes");
}

/// The last lines of a replay's output, for a failure message.
fn tail(out: &str) -> String {
    let lines: Vec<&str> = out.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

#[test]
fn a_replay_against_another_root_blames_the_files_not_the_framing() {
    let root = www_copy("capture-other-root");
    let dir = TempDir::new("capture-other-root-out");
    let httpd = Httpd::start(&[path_str(root.path()), "--capture", path_str(dir.path())]);
    let input = scenario("pipelined-gets.http");
    let (peer, got) = converse(httpd.addr, &[&input], Duration::ZERO);
    let captures = complete_captures(dir.path(), 1);
    let (path, _) = capture_of(&captures, peer);
    let path = path_str(path);
    assert!(got.starts_with(b"HTTP/1.1 200 OK"));

    // Another copy: hello.txt changed (same length, another time), style.css
    // gone. Every difference is a file's.
    let other = www_copy("capture-other-root-2");
    let hello = std::fs::read(other.path().join("hello.txt")).unwrap();
    let mut changed = hello.clone();
    changed[0] = b'H';
    std::fs::write(other.path().join("hello.txt"), &changed).unwrap();
    std::fs::remove_file(other.path().join("style.css")).unwrap();
    let (code, out, _) = run_replay(&["--root", path_str(other.path()), path]);
    assert_eq!(code, Some(2), "{}", tail(&out));
    let report: Vec<&str> = out.lines().filter(|l| l.starts_with("--- ")).collect();
    let has = |s: &str| report.iter().any(|l| l.contains(s));
    assert!(has("first difference at byte"), "{report:#?}");
    assert!(has("response 1 (HTTP/1.1 200 OK):"), "{report:#?}");
    assert!(
        has("the bodies differ from byte 0 of 257 recorded, 257 replayed"),
        "{report:#?}"
    );
    assert!(
        has("etag: ") && has("modified at another time"),
        "{report:#?}"
    );
    assert!(
        has("response 3 (HTTP/1.1 206 Partial Content):")
            && has("replayed: the file is not in the replay's root"),
        "{report:#?}"
    );
    assert!(
        has("verdict: the responses differ only where the files served differ"),
        "{report:#?}"
    );
    assert!(!has("not only in files"), "{report:#?}");

    // The same root as served: identical.
    let (code, out, _) = run_replay(&["--root", path_str(root.path()), path]);
    assert_eq!(code, Some(0), "{}", tail(&out));
}

/// Capture files in memory, whose writes wait while the gate is shut.
#[derive(Clone, Default)]
struct Memory {
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    shut: Arc<(Mutex<bool>, Condvar)>,
}

impl Memory {
    fn set_shut(&self, shut: bool) {
        *self.shut.0.lock().unwrap() = shut;
        self.shut.1.notify_all();
    }
}

struct MemoryFile {
    name: String,
    store: Memory,
}

impl Store for Memory {
    fn open(&mut self, name: &str, new: bool) -> io::Result<Box<dyn Write + Send>> {
        let mut files = self.files.lock().unwrap();
        if new && files.contains_key(name) {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        files.entry(name.to_string()).or_default();
        Ok(Box::new(MemoryFile {
            name: name.to_string(),
            store: self.clone(),
        }))
    }
}

impl Write for MemoryFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (lock, cond) = &*self.store.shut;
        let mut shut = lock.lock().unwrap();
        while *shut {
            shut = cond.wait(shut).unwrap();
        }
        drop(shut);
        let mut files = self.store.files.lock().unwrap();
        files.get_mut(&self.name).unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_client_faster_than_the_capture_writer_never_blocks_the_loop_and_its_capture_says_truncated() {
    let store = Memory::default();
    store.set_shut(true); // the "disk" takes nothing until the test says
    let options = Options {
        buffer: 256 * 1024,
        ..Options::default()
    };
    let sink = Sink::spawn(options, store.clone()).unwrap();
    let root = common::a_txt_root("capture-truncated");
    let mut config = Config::new(root.path()).unwrap();
    config.max_body = 64 << 20;
    config.capture = Some(sink.clone());
    let server = TestServer::start(config);

    // A 16 MiB upload, as fast as the socket takes it.
    const BODY: usize = 16 << 20;
    let progress = Arc::new(AtomicU64::new(0));
    let addr = server.addr;
    let sending = Arc::clone(&progress);
    let uploader = std::thread::spawn(move || {
        let mut c = common::Client::connect(addr);
        let peer = c.stream().local_addr().unwrap();
        let head = format!("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY}\r\n\r\n");
        c.send(&head);
        let chunk = vec![b'u'; 64 * 1024];
        for _ in 0..BODY / chunk.len() {
            c.send(&chunk);
            sending.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        let r = c.read_response();
        (peer, head.len() + BODY, r.status)
    });
    // Once far more than the buffer has been sent, while the writer is
    // still stuck, another client is answered at once.
    let deadline = Instant::now() + WAIT;
    while progress.load(Ordering::Relaxed) < 4 << 20 {
        assert!(
            Instant::now() < deadline,
            "the upload stalled at {progress:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let asked = Instant::now();
    let r = server.connect().request(common::get("/a.txt"));
    assert_eq!((r.status, r.text().as_str()), (200, common::A_TXT));
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        asked.elapsed()
    );
    let (peer, uploaded, status) = uploader.join().unwrap();
    assert_eq!(status, 405, "the upload was read to its end and answered");

    store.set_shut(false);
    server.stop();
    sink.finish(WAIT);
    let files = store.files.lock().unwrap();
    let captures: Vec<(String, Capture)> = files
        .iter()
        .map(|(name, bytes)| (name.clone(), format::parse(bytes).unwrap()))
        .collect();
    let (name, c) = captures
        .iter()
        .find(|(_, c)| c.header.peer == Some(peer))
        .expect("the upload's capture");
    let (at, why) = c.truncated().expect("the capture says it was truncated");
    assert!(why.contains("did not keep up"), "{why}");
    let (end_at, read, _, reason) = c.end().expect("and still ends");
    assert!(end_at >= at);
    assert_eq!(
        (read, reason),
        (uploaded as u64, "done"),
        "the totals count what was lost"
    );
    let kept: u64 = reads(c).iter().map(|d| d.len).sum();
    assert!(kept < 1 << 20, "{kept} bytes kept of {uploaded}");

    // The replay says so too, and replays what the capture holds.
    let dir = TempDir::new("capture-truncated-file");
    let file = dir.file(name, &files[name]);
    let (code, out, err) = run_replay(&[path_str(&file)]);
    assert_eq!(code, Some(0), "{}{err}", tail(&out));
    assert!(
        out.lines()
            .any(|l| l.starts_with("--- TRUNCATED at ") && l.contains("the replay stops there")),
        "{}",
        tail(&out)
    );
    assert!(
        out.contains(&format!("the connection went on to read {uploaded} bytes")),
        "{}",
        tail(&out)
    );
}

#[test]
fn a_flood_of_connections_while_the_writer_is_stuck_is_captured_only_as_far_as_the_buffer_goes() {
    let store = Memory::default();
    store.set_shut(true);
    let options = Options {
        buffer: 4096,
        ..Options::default()
    };
    let sink = Sink::spawn(options, store.clone()).unwrap();
    let root = common::a_txt_root("capture-flood");
    let mut config = Config::new(root.path()).unwrap();
    config.capture = Some(sink.clone());
    let server = TestServer::start(config);
    for _ in 0..50 {
        let r = server.connect().request(common::get("/a.txt"));
        assert_eq!(r.status, 200);
    }
    store.set_shut(false);
    server.stop();
    sink.finish(WAIT);
    let files = store.files.lock().unwrap();
    // Each header is about 200 bytes: some fit in 4 KiB, not 50.
    assert!(
        !files.is_empty() && files.len() < 50,
        "{} files",
        files.len()
    );
    for (name, bytes) in files.iter() {
        let c = format::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(c.end().is_some(), "{name}: every capture begun is ended");
    }
}

/// A capture of traffic too large to hold in memory: only its sizes.
#[test]
fn a_replay_refuses_a_capture_too_large_to_hold() {
    let dir = TempDir::new("capture-huge");
    let text = "asynchat-capture 1\nconnection 1\nstarted t\n\n\
                sent 0.1 2199023255552 omit 0+2199023255552\n\nend 0.2 0 2199023255552 done\n";
    let file = dir.file("huge.cap", text);
    let (code, out, err) = run_replay(&[path_str(&file)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        err.contains("the capture records 2199023255552 bytes of traffic"),
        "{err}"
    );
}

#[test]
fn a_capture_of_a_newer_format_version_is_refused() {
    let shipped = scenario("medusa-unread-body.cap");
    let dir = TempDir::new("capture-newer");
    let newer = String::from_utf8(shipped).unwrap().replacen(
        "asynchat-capture 1\n",
        "asynchat-capture 2\n",
        1,
    );
    let file = dir.file("newer.cap", newer);
    let (code, out, err) = run_replay(&[path_str(&file)]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        err.trim_end(),
        format!(
            "replay: {}: this capture is format version 2, newer than this program reads \
             (version 1 and older): replay it with a newer asynchat",
            file.display()
        )
    );
    assert!(out.is_empty(), "nothing is replayed: {out}");
}

#[test]
fn a_capture_directory_that_cannot_be_written_stops_start_up_with_one_line() {
    let dir = TempDir::new("capture-bad-dir");
    let file = dir.file("a-file", "not a directory");
    let root = common::a_txt_root("capture-bad-dir-root");
    let cases = [
        (file.clone(), "cannot use it"),
        (file.join("below"), "cannot create it"),
        (PathBuf::from("/proc/1"), "cannot write in it"),
    ];
    for (path, what) in cases {
        let (status, out, err) = common::run_binary(&[
            path_str(root.path()),
            "-p",
            "0",
            "--capture",
            path_str(&path),
        ]);
        assert_eq!(status.code(), Some(1), "{path:?}: {err}");
        assert!(out.is_empty(), "{out}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.contains(" INFO ")).collect();
        let want = format!(
            "asynchat-httpd: capture directory {}: {what}: ",
            path.display()
        );
        assert!(
            lines.len() == 1 && lines[0].starts_with(&want),
            "{path:?}: {err}"
        );
    }
    // A directory that is not there yet is made.
    let fresh = dir.path().join("new/captures");
    let httpd = Httpd::start(&[path_str(root.path()), "--capture", path_str(&fresh)]);
    converse(
        httpd.addr,
        &[common::get("/a.txt").as_bytes()],
        Duration::ZERO,
    );
    assert_eq!(complete_captures(&fresh, 1).len(), 1);
}

#[test]
fn a_full_disk_cuts_captures_short_and_the_server_serves_on() {
    let root = common::a_txt_root("capture-full");
    let dir = TempDir::new("capture-full-out");
    // Files may not grow past 16 KiB, as on a disk that fills up.
    let httpd = Httpd::start_limited(
        16,
        &[path_str(root.path()), "--capture", path_str(dir.path())],
    );
    let body = vec![b'b'; 100_000];
    let mut upload = format!(
        "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    upload.extend_from_slice(&body);
    let (_, got) = converse(httpd.addr, &[&upload], Duration::ZERO);
    assert!(
        got.starts_with(b"HTTP/1.1 405 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    // The server goes on, and so do captures that fit.
    let (peer, got) = converse(
        httpd.addr,
        &[common::get("/a.txt").as_bytes()],
        Duration::ZERO,
    );
    assert!(got.ends_with(common::A_TXT.as_bytes()));
    // The writer's log lines wait in the log's buffer for the loop's next
    // turn (here, at the latest, the file cache's expiry a second later).
    let mut lines = httpd.stderr_until("capture: cannot write", WAIT);
    if !lines.iter().any(|l| l.contains("writing captures again")) {
        lines.extend(httpd.stderr_until("writing captures again", WAIT));
    }
    let warning = lines
        .iter()
        .find(|l| l.contains("capture: cannot write"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(
        warning.contains("File too large") && warning.contains("cut short"),
        "{warning}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("writing captures again; 1 were cut short")),
        "{lines:#?}"
    );
    let deadline = Instant::now() + WAIT;
    let (cut, whole) = loop {
        let mut all = Vec::new();
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let path = e.unwrap().path();
            all.push((
                path.clone(),
                format::parse(&std::fs::read(&path).unwrap()).unwrap(),
            ));
        }
        if let (Some(cut), Some(whole)) = (
            all.iter()
                .find(|(_, c)| c.header.peer != Some(peer))
                .cloned(),
            all.iter()
                .find(|(_, c)| c.header.peer == Some(peer) && c.end().is_some())
                .cloned(),
        ) {
            break (cut, whole);
        }
        assert!(Instant::now() < deadline, "{all:#?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(whole.1.cut.is_none());
    let size = std::fs::metadata(&cut.0).unwrap().len();
    assert!(size <= 16 * 1024, "{size}");
    assert_eq!(
        cut.1.cut.as_ref().map(|c| c.why),
        Some("the file ends inside a record")
    );
    let (code, out, _) = run_replay(&[path_str(&cut.0)]);
    assert_eq!(code, Some(0), "{}", tail(&out));
    assert!(
        out.lines().any(|l| l.starts_with("--- CUT SHORT at byte ")),
        "{}",
        tail(&out)
    );
}

#[test]
fn ipv6_peers_name_their_files_without_colons() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    }
    let root = common::a_txt_root("capture-ipv6");
    let dir = TempDir::new("capture-ipv6-out");
    let httpd = Httpd::start(&[
        path_str(root.path()),
        "-b",
        "::1",
        "--capture",
        path_str(dir.path()),
    ]);
    assert!(httpd.addr.is_ipv6());
    let (peer, got) = converse(
        httpd.addr,
        &[common::get("/a.txt").as_bytes()],
        Duration::ZERO,
    );
    assert!(got.ends_with(common::A_TXT.as_bytes()));
    let captures = complete_captures(dir.path(), 1);
    let (path, c) = capture_of(&captures, peer);
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.ends_with(&format!("_--1_{}.cap", peer.port())),
        "{name}"
    );
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
        "{name}"
    );
    assert_eq!(c.header.local, Some(httpd.addr));
    // What clients sent is for the server's owner only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

#[test]
fn a_reset_in_the_middle_of_a_body_still_ends_its_capture() {
    let root = common::a_txt_root("capture-reset");
    let dir = TempDir::new("capture-reset-out");
    let httpd = Httpd::start(&[path_str(root.path()), "--capture", path_str(dir.path())]);
    let s = TcpStream::connect(httpd.addr).unwrap();
    let peer = s.local_addr().unwrap();
    (&s).write_all(b"POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly some of it")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO)).unwrap();
    drop(s); // a reset
    let captures = complete_captures(dir.path(), 1);
    let (path, c) = capture_of(&captures, peer);
    let (_, read, sent, reason) = c.end().unwrap();
    assert_eq!((read, sent), (66, 0));
    assert!(
        reason.starts_with("error: ") || reason == "hang-up",
        "{reason}"
    );
    let (code, out, _) = run_replay(&[path_str(path)]);
    assert_eq!(code, Some(0), "{}", tail(&out));
    assert!(out.contains("count: took 15, 985 to go"), "{}", tail(&out));
    assert!(
        out.lines().any(|l| l.starts_with("--- ")
            && l.contains("; closed at ")
            && l.ends_with(&format!(" s: {reason}"))),
        "{}",
        tail(&out)
    );
}

#[test]
fn the_replay_answers_with_the_settings_the_server_had() {
    let root = common::a_txt_root("capture-settings");
    root.dir("sub");
    let dir = TempDir::new("capture-settings-out");
    let httpd = Httpd::start(&[
        path_str(root.path()),
        "--capture",
        path_str(dir.path()),
        "--max-body",
        "10",
        "--no-listing",
    ]);
    let input = format!(
        "{}POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n01234567890123456789",
        common::get("/sub/")
    );
    let (peer, got) = converse(httpd.addr, &[input.as_bytes()], Duration::ZERO);
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 403 ") && text.contains("HTTP/1.1 413 "),
        "{text}"
    );
    let captures = complete_captures(dir.path(), 1);
    let (path, c) = capture_of(&captures, peer);
    assert_eq!(c.header.field("max-body"), Some("10"));
    // With the defaults the replay would list the directory and take the
    // body: the capture's settings make it answer 403 and 413 again.
    let (code, out, _) = run_replay(&["--root", path_str(root.path()), path_str(path)]);
    assert_eq!(code, Some(0), "{}", tail(&out));
    assert!(
        out.contains("--- with the server's settings from the capture: max-body 10, listing no"),
        "{}",
        tail(&out)
    );
}

#[test]
fn trace_filters_choose_the_connections_captured() {
    let root = common::a_txt_root("capture-filter");
    let dir = TempDir::new("capture-filter-out");
    let httpd = Httpd::start(&[
        path_str(root.path()),
        "--capture",
        path_str(dir.path()),
        "--trace-filter",
        "2",
    ]);
    let mut peers = Vec::new();
    for _ in 0..3 {
        peers.push(
            converse(
                httpd.addr,
                &[common::get("/a.txt").as_bytes()],
                Duration::ZERO,
            )
            .0,
        );
    }
    // The trace of #2 ends when it closes, and so does its capture.
    httpd.stderr_until("#2 ", WAIT);
    let captures = complete_captures(dir.path(), 1);
    std::thread::sleep(Duration::from_millis(100));
    let captures_now = complete_captures(dir.path(), 1);
    assert_eq!(captures.len(), 1);
    assert_eq!(captures_now.len(), 1, "only connection 2");
    assert_eq!(captures[0].1.header.connection, 2);
    assert_eq!(captures[0].1.header.peer, Some(peers[1]));
}

#[test]
fn no_bodies_keeps_body_sizes_only_and_the_replay_feeds_zeros() {
    let root = common::a_txt_root("capture-no-bodies");
    let dir = TempDir::new("capture-no-bodies-out");
    let httpd = Httpd::start(&[
        path_str(root.path()),
        "--capture",
        path_str(dir.path()),
        "--capture-no-bodies",
    ]);
    let head = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 24\r\n\r\n";
    let body = b"user=me&password=hunter2";
    let chunked = b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nhunter2!\r\n0\r\n\r\n";
    let get = common::get("/a.txt");
    let mut input = head.to_vec();
    input.extend_from_slice(body);
    input.extend_from_slice(chunked);
    input.extend_from_slice(get.as_bytes());
    let (peer, got) = converse(httpd.addr, &[&input], Duration::ZERO);
    let captures = complete_captures(dir.path(), 1);
    let (path, c) = capture_of(&captures, peer);
    let file = std::fs::read(path).unwrap();
    assert!(
        memchr::memmem::find(&file, b"hunter2").is_none(),
        "a body is in the file"
    );
    assert_eq!(c.header.payloads, format::Payloads::Omitted);
    let read = reads(c);
    assert_eq!(read.len(), 1);
    let chunk_at =
        (head.len() + body.len() + chunked.len() - b"hunter2!\r\n0\r\n\r\n".len()) as u64;
    assert_eq!(
        read[0].omitted,
        [
            format::Span {
                at: head.len() as u64,
                len: body.len() as u64
            },
            format::Span {
                at: chunk_at,
                len: 8
            },
        ]
    );
    // Zeros in place of the bodies: the answers are the same.
    let (code, out, _) = run_replay(&[path_str(path), "--root", path_str(root.path())]);
    assert_eq!(code, Some(0), "{}", tail(&out));
    assert!(
        out.contains(&format!("identical to the {} bytes sent", got.len())),
        "{}",
        tail(&out)
    );
    assert!(
        out.contains("bodies were left out (--capture-no-bodies): the replay fed 32 zero bytes"),
        "{}",
        tail(&out)
    );
}

#[test]
fn past_the_cap_heads_are_kept_whole_and_bodies_and_responses_by_size() {
    let root = common::a_txt_root("capture-cap");
    let dir = TempDir::new("capture-cap-out");
    let httpd = Httpd::start(&[
        path_str(root.path()),
        "--capture",
        path_str(dir.path()),
        "--capture-max",
        "300",
    ]);
    let first = common::get("/a.txt");
    let mut post = b"POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n".to_vec();
    post.extend_from_slice(&[b'z'; 5000]);
    let last = common::get("/a.txt?after");
    let (peer, got) = converse(
        httpd.addr,
        &[first.as_bytes(), &post, last.as_bytes()],
        Duration::from_millis(150),
    );
    let captures = complete_captures(dir.path(), 1);
    let (path, c) = capture_of(&captures, peer);
    let capped = c
        .records
        .iter()
        .position(|r| r.event == Event::Capped)
        .expect("a capped record");
    // Before the cap, everything; after it, every head byte and no body byte.
    let kept: Vec<u8> = reads(c).iter().flat_map(|d| d.kept.clone()).collect();
    assert!(
        memchr::memmem::find(&kept, last.as_bytes()).is_some(),
        "the last head is kept"
    );
    assert!(
        memchr::memmem::find(&kept, b"zzz").is_none(),
        "the body is not"
    );
    let after_cap: Vec<&format::Data> = c.records[capped..]
        .iter()
        .filter_map(|r| match &r.event {
            Event::Sent(d) => Some(d),
            _ => None,
        })
        .collect();
    assert!(
        !after_cap.is_empty() && after_cap.iter().all(|d| d.kept.is_empty()),
        "{after_cap:?}"
    );
    let size = std::fs::metadata(path).unwrap().len();
    assert!(
        size < 2000,
        "{size} bytes for 5 KB of body and {} sent",
        got.len()
    );
    let (code, out, _) = run_replay(&[path_str(path), "--root", path_str(root.path())]);
    assert_eq!(code, Some(0), "{}", tail(&out));
    assert!(
        out.contains("left out of the capture and compared by length"),
        "{}",
        tail(&out)
    );
    assert!(out.contains("--- capped at "), "{}", tail(&out));
}

// ------------------------------------------------------- shipped captures

/// The shipped captures: name, the request stream, the server flags each
/// was made with, and how many responses the client waits for before it
/// closes.
fn shipped() -> Vec<(&'static str, Vec<u8>, &'static [&'static str], usize)> {
    // Medusa's two classic failures: a Content-Length of 0 (Medusa's count
    // of 0 collected forever), and a body the handler did not read (it
    // became the next request).
    let zero = b"POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n\
                 GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        .to_vec();
    let unread = b"POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Length: 45\r\n\r\n\
                   GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n\
                   GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        .to_vec();
    // The guide's "When a client misbehaves": an upload whose
    // Content-Length counted CRLF line endings, sent with LF ones.
    let notes = "Shopping list\n- bread\n- milk\n- eggs\n- coffee, the good one\n\
                 - apples (not the sour ones)\n- something for the weekend\n\
                 Thanks! See you at six.\n";
    let announced = notes.len() + notes.matches('\n').count();
    let upload = format!(
        "POST /notes HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: notes-sync/0.3\r\n\
         Content-Type: text/plain\r\nContent-Length: {announced}\r\n\r\n{notes}"
    )
    .into_bytes();
    vec![
        ("medusa-content-length-zero.cap", zero, &[], 2),
        ("medusa-unread-body.cap", unread, &[], 2),
        ("upload-that-hangs.cap", upload, &["--timeout", "2"], 1),
    ]
}

/// Captures `input`, sent in one write by a client that reads `responses`
/// responses and then closes, as a real client does: no end of stream
/// before its answers.
fn capture_live(root: &Path, flags: &[&str], input: &[u8], responses: usize) -> (PathBuf, TempDir) {
    let dir = TempDir::new("capture-shipped-out");
    let mut args = vec![path_str(root), "--capture", path_str(dir.path())];
    args.extend_from_slice(flags);
    let httpd = Httpd::start(&args);
    let mut c = common::Client::connect(httpd.addr);
    c.stream().set_read_timeout(Some(WAIT)).unwrap();
    c.send(input);
    for _ in 0..responses {
        c.read_response();
    }
    drop(c);
    let mut captures = complete_captures(dir.path(), 1);
    let (path, _) = captures.remove(0);
    (path, dir)
}

#[test]
fn shipped_captures_come_from_live_connections() {
    let root = www_copy("capture-shipped");
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/captures");
    if std::env::var_os("ASYNCHAT_BLESS_CAPTURES").is_some() {
        for (name, input, flags, responses) in shipped() {
            let (path, _dir) = capture_live(root.path(), flags, &input, responses);
            // The root of a temporary copy says nothing: name the demo site.
            let text = std::fs::read(&path).unwrap();
            let root_line = format!("root {}\n", root.path().canonicalize().unwrap().display());
            let at = memchr::memmem::find(&text, root_line.as_bytes()).expect("a root field");
            let mut fixed = text[..at].to_vec();
            fixed
                .extend_from_slice(b"root www (a copy, each file modified 2026-01-01T00:00:00Z)\n");
            fixed.extend_from_slice(&text[at + root_line.len()..]);
            std::fs::write(here.join(name), fixed).unwrap();
        }
    }
    for (name, input, _, _) in shipped() {
        let path = here.join(name);
        let c =
            format::parse(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            c.end().is_some() && c.cut.is_none() && c.truncated().is_none(),
            "{name}"
        );
        assert!(
            c.header
                .field("server")
                .is_some_and(|s| s.starts_with("asynchat-httpd ")),
            "{name}"
        );
        let read: Vec<u8> = reads(&c).iter().flat_map(|d| d.bytes()).collect();
        assert_eq!(read, input, "{name}: the request stream");
        // Replayed here, the answers are the same but for the files'
        // identity (another inode, another change time), which the replay
        // blames.
        let (code, out, err) = run_replay(&["--root", path_str(root.path()), path_str(&path)]);
        match code {
            Some(0) => assert!(
                out.contains("--- the responses: identical to the"),
                "{name}: {}",
                tail(&out)
            ),
            Some(2) => {
                assert!(
                    out.contains("differ only where the files served differ"),
                    "{name}: {}",
                    tail(&out)
                );
                assert!(
                    out.contains("but another version of the file"),
                    "{name}: {}",
                    tail(&out)
                );
            }
            _ => panic!("{name}: {code:?} {err}"),
        }
    }
}

/// An upload session (a PUT, then a form of two files) captured live
/// replays, with `--upload` against a fresh copy of the root, to the very
/// responses it got; without `--upload` the replay says the server stored
/// uploads and answers them 405, writing nothing.
#[test]
fn an_upload_captured_live_replays_to_the_same_responses() {
    let root = www_copy("capture-upload");
    let dir = TempDir::new("capture-upload-out");
    let httpd = Httpd::start(&[
        path_str(root.path()),
        "--upload",
        "--capture",
        path_str(dir.path()),
    ]);
    let mut input =
        b"PUT /new.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nfresh\n".to_vec();
    input.extend_from_slice(&scenario("form-upload.http"));
    let cut = pieces(&input, 3);
    let (peer, got) = converse(httpd.addr, &cut, Duration::from_millis(150));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 201 Created"), "{text}");
    assert!(text.contains("HTTP/1.1 303 See Other"), "{text}");
    assert_eq!(
        std::fs::read(root.path().join("new.txt")).unwrap(),
        b"fresh\n"
    );
    let captures = complete_captures(dir.path(), 1);
    let (path, _) = capture_of(&captures, peer);

    let scratch = www_copy("capture-upload-scratch");
    let (code, out, err) = run_replay(&[
        "--upload",
        "--root",
        path_str(scratch.path()),
        path_str(path),
    ]);
    let want = format!(
        "--- the responses: identical to the {} bytes sent (Date fields aside)",
        got.len()
    );
    assert!(out.contains(&want), "{}{err}", tail(&out));
    assert_eq!(code, Some(0));
    assert!(
        out.contains("form: close delimiter"),
        "the nested channel is traced"
    );
    assert_eq!(
        std::fs::read(scratch.path().join("notes.txt")).unwrap(),
        b"first line\r\nsecond line\r\n"
    );

    let untouched = www_copy("capture-upload-untouched");
    let (_, out, err) = run_replay(&["--root", path_str(untouched.path()), path_str(path)]);
    assert!(err.contains("the server stored uploads"), "{err}");
    assert!(out.contains("HTTP/1.1 405"), "{}", tail(&out));
    assert!(!untouched.path().join("new.txt").exists());
}
