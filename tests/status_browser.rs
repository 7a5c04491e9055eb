//! The status page in a real browser: headless Chromium renders it, the
//! test reads the DOM it built and checks a screenshot.
//!
//! Without Chromium (`/usr/bin/chromium` or `chromium` on `PATH`) the test
//! prints `SKIPPED: chromium not installed` to stderr and passes; `.ci/run`
//! installs it. Every Chromium run is bounded (its whole process group is
//! killed after [`CHROMIUM_PATIENCE`]), and what Chromium prints on stderr
//! (D-Bus and GPU complaints, mostly) is kept in a file and only shown
//! when a run fails.

mod common;

use std::fs::File;
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use asynchat::http::Config;
use common::*;

const STATUS: &str = "/.status";

/// How long one Chromium run may take before it is killed.
const CHROMIUM_PATIENCE: Duration = Duration::from_secs(60);

/// The Chromium binary, if installed.
fn chromium() -> Option<PathBuf> {
    let usual = PathBuf::from("/usr/bin/chromium");
    if usual.is_file() {
        return Some(usual);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
}

/// Runs headless Chromium with `args` and then `url`, with a fresh profile
/// under `tmp`; returns its stdout. Panics (with Chromium's stderr) if it
/// fails or outlives its patience.
fn run_chromium(chromium: &Path, tmp: &TempDir, tag: &str, args: &[&str], url: &str) -> String {
    let profile = tmp.dir(&format!("profile-{tag}"));
    let err_path = tmp.path().join(format!("chromium-{tag}.stderr"));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        // Nothing of it lands in the real home directory.
        .env("HOME", tmp.path())
        .env("XDG_CONFIG_HOME", tmp.path().join("config"))
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(&err_path).unwrap())
        // Its own process group, so that a run that hangs is killed with
        // every helper process it started.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + CHROMIUM_PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            use rustix::process::{Pid, Signal, kill_process_group};
            let _ = kill_process_group(Pid::from_child(&child), Signal::KILL);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let Some(status) = status else {
        panic!("chromium {args:?} did not finish within {CHROMIUM_PATIENCE:?}; stderr:\n{err}");
    };
    assert!(
        status.success(),
        "chromium {args:?}: {status:?}; stderr:\n{err}"
    );
    reader.join().unwrap()
}

/// A PNG's width and height, from its IHDR chunk (which must come first).
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 33, "{} bytes", png.len());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "the PNG signature");
    assert_eq!(&png[8..16], b"\x00\x00\x00\x0dIHDR", "IHDR first");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

fn local(c: &mut Client) -> SocketAddr {
    c.stream().local_addr().unwrap()
}

#[test]
fn chromium_renders_the_status_page() {
    let Some(chromium) = chromium() else {
        eprintln!("SKIPPED: chromium not installed");
        return;
    };
    let root = TempDir::new("status-browser");
    root.file("a.txt", "hello");
    let tmp = TempDir::new("status-browser-chromium");
    let config = Config::new(root.path())
        .unwrap()
        .with_status(STATUS)
        .unwrap();
    let server = TestServer::start(config);
    let url = format!("http://{}{STATUS}", server.addr);

    // Connections for the board: one idle, one kept alive after a request,
    // one in the middle of a body.
    let mut idle = server.connect();
    let mut kept = server.connect();
    assert_eq!(kept.request(get("/a.txt")).status, 200);
    let mut body = server.connect();
    body.send("POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789");
    let mine = [local(&mut idle), local(&mut kept), local(&mut body)];
    // The page shows a channel as of its last event: wait until the body
    // has been read, so the browser sees what is checked.
    let mut probe = server.connect();
    let deadline = Instant::now() + PATIENCE;
    while !probe.request(get(STATUS)).text().contains(">90 bytes<") {
        assert!(Instant::now() < deadline, "the body was never read");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(probe);

    let dom = run_chromium(&chromium, &tmp, "dom", &["--dump-dom"], &url);
    assert!(
        dom.contains("<title>asynchat-httpd status</title>"),
        "{dom}"
    );
    let totals = html_table(&dom, "totals");
    let names: Vec<&str> = totals.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "uptime secs",
            "connections accepted",
            "connections open",
            "requests",
            "bytes out",
            "responses 1xx",
            "responses 2xx",
            "responses 3xx",
            "responses 4xx",
            "responses 5xx",
            "timeouts",
            "parse errors"
        ]
    );
    let total = |name: &str| -> u64 {
        let row = totals.iter().find(|r| r[0] == name).unwrap();
        assert_eq!(row.len(), 2, "{row:?}");
        row[1].parse().unwrap()
    };
    // Our four, and at least the browser's own.
    assert!(total("connections accepted") >= 5, "{totals:?}");
    assert!(total("requests") >= 2, "{totals:?}");

    let rows = html_table(&dom, "channels");
    assert_eq!(rows[0].len(), 11, "{:?}", rows[0]);
    assert_eq!(&rows[0][..2], ["id", "peer"]);
    let channels = &rows[1..];
    // One row per open channel: ours, and the browser's connection(s).
    let open = total("connections open");
    assert_eq!(channels.len() as u64, open, "{channels:#?}");
    assert!(
        dom.contains(&format!("<h2>Open channels ({open})</h2>")),
        "{dom}"
    );
    for peer in mine {
        let n = channels.iter().filter(|r| r[1] == peer.to_string()).count();
        assert_eq!(n, 1, "{peer} in {channels:#?}");
    }
    let row_of = |peer: SocketAddr| channels.iter().find(|r| r[1] == peer.to_string()).unwrap();
    // id, peer, age, idle, phase, terminator, input, queued, queued bytes,
    // requests, paused
    assert_eq!(&row_of(mine[0])[4..6], ["idle", "blank line"]);
    assert_eq!(row_of(mine[1])[9], "1");
    assert_eq!(&row_of(mine[2])[4..6], ["body", "90 bytes"]);
    assert!(channels.iter().all(|r| r[10] == "no"), "{channels:#?}");

    let png_path = tmp.path().join("status.png");
    run_chromium(
        &chromium,
        &tmp,
        "png",
        &[
            &format!("--screenshot={}", png_path.display()),
            "--window-size=1200,800",
        ],
        &url,
    );
    let png = std::fs::read(&png_path).expect("the screenshot was written");
    assert!(
        png.len() > 5_000 && png.len() < 10_000_000,
        "a {} byte screenshot",
        png.len()
    );
    assert_eq!(png_size(&png), (1200, 800));
    // Kept for a look by hand: ASYNCHAT_SCREENSHOT=path cargo test ...
    if let Some(keep) = std::env::var_os("ASYNCHAT_SCREENSHOT") {
        std::fs::copy(&png_path, keep).unwrap();
    }
    drop((idle, kept, body));
}
