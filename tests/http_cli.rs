//! The `asynchat-httpd` binary, run as a process: its start-up line, its
//! one-line errors, its flags, its signals and its access log.
//!
//! Every process is killed when its guard is dropped, and every wait is
//! bounded.

mod common;

use std::io::BufRead;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::*;

/// How long a process may take to exit after it was told to.
const EXIT_PATIENCE: Duration = Duration::from_secs(5);

/// A running `asynchat-httpd`, killed and reaped when dropped.
struct Httpd {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Httpd {
    /// Spawns the binary with `args`, stdout and stderr piped, and no
    /// `RUST_LOG` from the environment.
    fn spawn(args: &[&str]) -> Httpd {
        Httpd::spawn_env(args, &[])
    }

    /// As [`Httpd::spawn`], with these variables set in its environment
    /// (`RUST_LOG` included).
    fn spawn_env(args: &[&str], env: &[(&str, &str)]) -> Httpd {
        let (child, stdout, stderr) = spawn_binary(args, env);
        Httpd {
            child,
            stdout,
            stderr,
        }
    }

    /// The first line on stdout, or `Err` with whatever stderr said if the
    /// process ended (or said nothing) first.
    fn first_line(&mut self) -> Result<String, String> {
        match self.stdout.recv_timeout(PATIENCE) {
            Ok(line) => Ok(line),
            Err(e) => {
                let status = self.wait_exit(EXIT_PATIENCE);
                let err: Vec<String> = drain(&self.stderr);
                Err(format!(
                    "no start-up line ({e:?}); {status:?}; stderr {err:?}"
                ))
            }
        }
    }

    /// Starts a server and returns it with its address, parsed from the
    /// start-up line.
    fn start(args: &[&str]) -> (Httpd, SocketAddr, String) {
        Httpd::start_env(args, &[])
    }

    /// As [`Httpd::start`], with these variables in its environment.
    fn start_env(args: &[&str], env: &[(&str, &str)]) -> (Httpd, SocketAddr, String) {
        let mut httpd = Httpd::spawn_env(args, env);
        let line = httpd.first_line().unwrap();
        let addr = addr_of(&line);
        (httpd, addr, line)
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Sends a signal with `kill(1)`.
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid()])
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -{name} failed: {status:?}");
    }

    /// Waits for the process to exit, at most `patience`; kills it and
    /// panics if it does not.
    fn wait_exit(&mut self, patience: Duration) -> ExitStatus {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("asynchat-httpd did not exit within {patience:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for a stderr line containing `needle`, at most the patience.
    fn stderr_line_with(&self, needle: &str) -> Option<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything left on a pipe until its writer closes (bounded: the process
/// has exited, or the patience runs out).
fn drain(rx: &Receiver<String>) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(RecvTimeoutError::Disconnected) => return lines,
            Err(RecvTimeoutError::Timeout) => panic!("pipe still open; got {lines:?}"),
        }
    }
}

/// Runs the binary to completion (bounded) and returns its exit status,
/// stdout lines and stderr lines.
fn run(args: &[&str]) -> (ExitStatus, Vec<String>, Vec<String>) {
    let mut httpd = Httpd::spawn(args);
    let status = httpd.wait_exit(EXIT_PATIENCE);
    (status, drain(&httpd.stdout), drain(&httpd.stderr))
}

/// Runs the binary, expecting a start-up failure: exit status 1, exactly one
/// line on stderr starting with `asynchat-httpd:`, nothing on stdout.
/// Returns that line.
#[track_caller]
fn assert_fails(args: &[&str]) -> String {
    let (status, out, err) = run(args);
    assert_eq!(status.code(), Some(1), "{args:?}: {status:?} {err:?}");
    assert!(out.is_empty(), "{args:?}: stdout {out:?}");
    assert_eq!(err.len(), 1, "{args:?}: stderr {err:?}");
    assert!(err[0].starts_with("asynchat-httpd:"), "{args:?}: {err:?}");
    assert!(!err[0].contains("panicked"), "{args:?}: {err:?}");
    err[0].clone()
}

/// The address in `Serving ROOT at http://ADDR/`.
fn addr_of(line: &str) -> SocketAddr {
    let url = line.rsplit(" at ").next().unwrap();
    let host_port = url
        .strip_prefix("http://")
        .and_then(|s| s.strip_suffix('/'))
        .unwrap_or_else(|| panic!("no URL in {line:?}"));
    host_port
        .parse()
        .unwrap_or_else(|e| panic!("{host_port:?} in {line:?}: {e}"))
}

/// GETs `/a.txt` with a raw request and checks the answer.
#[track_caller]
fn assert_serves_a_txt(addr: SocketAddr) {
    let mut c = Client::connect(addr);
    let r = c.request("GET /a.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), A_TXT);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

#[test]
fn prints_one_line_with_the_canonical_root_and_real_port() {
    let root = a_txt_root("cli-start");
    root.dir("sub");
    // A root spelled with `..`: the line shows the canonical path.
    let spelled = root.path().join("sub").join("..");
    let canonical = root.path().canonicalize().unwrap();
    let (mut httpd, addr, line) = Httpd::start(&[path_str(&spelled), "-p", "0"]);
    let prefix = format!("Serving {} at http://127.0.0.1:", canonical.display());
    let port = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("{line:?} should start with {prefix:?}"));
    assert!(port.bytes().all(|b| b.is_ascii_digit()), "{line:?}");
    assert_ne!(addr.port(), 0, "{line:?}");
    assert_eq!(port, addr.port().to_string());
    assert_serves_a_txt(addr);

    // Exactly one line on stdout, start to finish.
    httpd.signal("TERM");
    assert!(httpd.wait_exit(EXIT_PATIENCE).success());
    assert_eq!(drain(&httpd.stdout), Vec::<String>::new());
}

#[test]
fn serves_on_ipv6_loopback() {
    let root = a_txt_root("cli-ipv6");
    let mut httpd = Httpd::spawn(&[path_str(root.path()), "-b", "::1", "-p", "0"]);
    let line = match httpd.first_line() {
        Ok(line) => line,
        Err(why) if why.contains("cannot listen") => {
            println!("skipped: cannot bind ::1 (IPv6 unavailable): {why}");
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let canonical = root.path().canonicalize().unwrap();
    let prefix = format!("Serving {} at http://[::1]:", canonical.display());
    assert!(line.starts_with(&prefix), "{line:?}");
    assert!(line.ends_with('/'), "{line:?}");
    let addr = addr_of(&line);
    assert!(addr.is_ipv6() && addr.port() != 0, "{line:?}");
    assert_serves_a_txt(addr);
    // Brackets are accepted too.
    let (_httpd, addr, line) = Httpd::start(&[path_str(root.path()), "-b", "[::1]", "-p", "0"]);
    assert!(line.contains("http://[::1]:"), "{line:?}");
    assert_serves_a_txt(addr);
}

#[test]
fn missing_root_is_one_line_and_status_1() {
    let parent = TempDir::new("cli-missing");
    let missing = parent.path().join("does-not-exist");
    let line = assert_fails(&[path_str(&missing), "-p", "0"]);
    assert!(line.contains("does-not-exist"), "{line}");
}

#[test]
fn root_that_is_a_file_is_one_line_and_status_1() {
    let root = a_txt_root("cli-file-root");
    let line = assert_fails(&[path_str(&root.path().join("a.txt")), "-p", "0"]);
    assert!(line.contains("not a directory"), "{line}");
}

#[test]
fn port_in_use_is_one_line_and_status_1() {
    let root = a_txt_root("cli-port-in-use");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let line = assert_fails(&[path_str(root.path()), "-p", &port]);
    assert!(line.contains(&port), "{line}");
    drop(taken);
}

#[test]
fn bad_address_is_one_line_and_status_1() {
    let root = a_txt_root("cli-bad-addr");
    let line = assert_fails(&[path_str(root.path()), "-b", "not-an-ip", "-p", "0"]);
    assert!(line.contains("not-an-ip"), "{line}");
    assert_fails(&[path_str(root.path()), "-b", "localhost", "-p", "0"]);
    assert_fails(&[path_str(root.path()), "-b", "127.0.0.1:80", "-p", "0"]);
}

#[test]
fn bad_index_name_is_one_line_and_status_1() {
    let root = a_txt_root("cli-bad-index");
    for index in ["../x", "a/b", "..", "."] {
        let line = assert_fails(&[path_str(root.path()), "--index", index, "-p", "0"]);
        assert!(line.contains("index"), "{line}");
    }
}

#[test]
fn help_lists_every_flag() {
    let (status, out, err) = run(&["--help"]);
    assert!(status.success(), "{status:?} {err:?}");
    let help = out.join("\n");
    for flag in [
        "--port",
        "--bind",
        "--index",
        "--no-listing",
        "--hidden",
        "--max-connections",
        "--workers",
        "--timeout",
        "--max-body",
        "--quiet",
        "--verbose",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert!(help.contains("addr"), "the --addr alias is shown:\n{help}");
}

#[test]
fn addr_is_an_alias_of_bind() {
    let root = a_txt_root("cli-addr");
    let (_httpd, addr, line) =
        Httpd::start(&[path_str(root.path()), "--addr", "127.0.0.1", "-p", "0"]);
    assert!(line.contains("http://127.0.0.1:"), "{line}");
    assert_serves_a_txt(addr);
}

#[test]
fn flags_change_what_is_served() {
    let root = a_txt_root("cli-flags");
    root.file(".secret", "s\n");
    root.file("d/home.htm", "home\n");
    root.file("e/x.txt", "x\n");
    let (_httpd, addr, _) = Httpd::start(&[
        path_str(root.path()),
        "-p",
        "0",
        "--hidden",
        "--no-listing",
        "--index",
        "home.htm",
        "-q",
    ]);
    let mut c = Client::connect(addr);
    let r = c.request(get("/.secret"));
    assert_eq!((r.status, r.text().as_str()), (200, "s\n"));
    let r = c.request(get("/d/"));
    assert_eq!((r.status, r.text().as_str()), (200, "home\n"));
    assert_eq!(c.request(get("/e/")).status, 403);
}

/// Starts a server with an idle keep-alive connection open, sends `signal`
/// and expects exit status 0. The server closes the idle connection at
/// once; a client that then closes its end (as browsers do) lets the
/// process exit within a few seconds, and one that holds its end open is
/// bounded by the lingering close and the grace period.
fn exits_cleanly_on(signal: &str, client_closes: bool) {
    let root = a_txt_root(&format!("cli-sig{signal}"));
    let (mut httpd, addr, _) = Httpd::start(&[path_str(root.path()), "-p", "0", "-q"]);
    let mut idle = Client::connect(addr);
    assert_eq!(idle.request(get("/a.txt")).status, 200);
    let started = Instant::now();
    httpd.signal(signal);
    assert!(idle.is_closed(), "{signal}: the idle connection is closed");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{signal}: the idle connection took {:?} to close",
        started.elapsed()
    );
    if client_closes {
        drop(idle);
    }
    let status = httpd.wait_exit(EXIT_PATIENCE);
    assert_eq!(status.code(), Some(0), "{signal}: {status:?}");
    if client_closes {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{signal}: took {:?}",
            started.elapsed()
        );
    }
    let err = drain(&httpd.stderr);
    assert!(
        !err.iter().any(|l| l.contains("panicked")),
        "{signal}: {err:?}"
    );
    assert!(
        err.iter()
            .any(|l| l.contains("finishing responses in flight")),
        "{signal}: {err:?}"
    );
}

#[test]
fn sigterm_exits_with_status_0() {
    exits_cleanly_on("TERM", true);
}

#[test]
fn sigint_exits_with_status_0() {
    exits_cleanly_on("INT", true);
}

#[test]
fn sigterm_exits_while_a_client_holds_its_connection() {
    exits_cleanly_on("TERM", false);
}

#[test]
fn access_log_has_one_line_per_request() {
    let root = a_txt_root("cli-access");
    let (mut httpd, addr, _) = Httpd::start(&[path_str(root.path()), "-p", "0"]);
    assert_serves_a_txt(addr);
    let line = httpd
        .stderr_line_with("\"GET /a.txt HTTP/1.1\" 200")
        .expect("an access line on stderr");
    assert!(line.contains("127.0.0.1"), "{line}");
    assert!(line.contains("200 17"), "status and body length: {line}");
    httpd.signal("TERM");
    assert!(httpd.wait_exit(EXIT_PATIENCE).success());
    let rest = drain(&httpd.stderr);
    assert!(
        !rest.iter().any(|l| l.contains("\"GET /a.txt")),
        "a second access line: {rest:?}"
    );
}

/// The access lines of a turn of the loop are handed to the log together,
/// before the loop waits and once more after it stops: every response
/// sent has its line, the last turn's too, and in the order sent. Each
/// round sends a pipelined batch in one write and the signal at once, so
/// the stop lands in the middle of the batch or just after it; the last
/// round's request is cut in two around the signal, so that its response
/// is the last turn's work, which no wait follows.
#[test]
fn every_response_has_its_access_line_though_a_signal_stops_the_server() {
    use std::io::{Read, Write};
    let root = a_txt_root("cli-access-turns");
    for (requests, cut) in [(1, false), (40, false), (400, false), (1, true)] {
        let (mut httpd, addr, _) = Httpd::start(&[path_str(root.path()), "-p", "0"]);
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(PATIENCE)).unwrap();
        let batch: String = (0..requests)
            .map(|i| format!("GET /a.txt?{i} HTTP/1.1\r\nHost: x\r\n\r\n"))
            .collect();
        if cut {
            let (head, end) = batch.split_at(batch.len() - 2);
            conn.write_all(head.as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            httpd.signal("TERM");
            assert!(
                httpd.stderr_line_with("finishing responses").is_some(),
                "the stop began"
            );
            conn.write_all(end.as_bytes()).unwrap();
        } else {
            conn.write_all(batch.as_bytes()).unwrap();
            httpd.signal("TERM");
        }
        let mut got = Vec::new();
        // Until the server closes the connection, having answered what it
        // took before it stopped.
        let _ = conn.read_to_end(&mut got);
        let got = String::from_utf8_lossy(&got);
        let answered = got.matches("HTTP/1.1 200 OK\r\n").count();
        assert!(httpd.wait_exit(EXIT_PATIENCE).success());
        let lines: Vec<String> = drain(&httpd.stderr)
            .into_iter()
            .filter(|l| l.contains("\"GET /a.txt?"))
            .collect();
        assert!(answered > 0, "{requests} sent, none answered");
        assert_eq!(lines.len(), answered, "{requests} sent: {lines:?}");
        for (i, line) in lines.iter().enumerate() {
            assert!(
                line.contains(&format!("\"GET /a.txt?{i} HTTP/1.1\" 200 17")),
                "{line}"
            );
        }
    }
}

#[test]
fn quiet_suppresses_the_access_log() {
    let root = a_txt_root("cli-quiet");
    let (mut httpd, addr, _) = Httpd::start(&[path_str(root.path()), "-p", "0", "-q"]);
    assert_serves_a_txt(addr);
    let mut c = Client::connect(addr);
    assert_eq!(c.request(get("/missing")).status, 404);
    drop(c);
    httpd.signal("TERM");
    assert!(httpd.wait_exit(EXIT_PATIENCE).success());
    let err = drain(&httpd.stderr);
    assert!(
        !err.iter().any(|l| l.contains("\"GET ")),
        "access lines despite -q: {err:?}"
    );
}

/// `curl` with a time limit; `None` if it is not installed.
fn curl(args: &[&str]) -> Option<Vec<u8>> {
    let out = match Command::new("curl")
        .args(["-s", "--max-time", "5"])
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run curl: {e}"),
    };
    assert!(out.status.success(), "curl {args:?}: {:?}", out.status);
    Some(out.stdout)
}

#[test]
fn curl_smoke() {
    if Command::new("curl").arg("--version").output().is_err() {
        println!("skipped: curl not installed");
        return;
    }
    let root = a_txt_root("cli-curl");
    let (_httpd, addr, _) = Httpd::start(&[path_str(root.path()), "-p", "0", "-q"]);
    let url = format!("http://{addr}/a.txt");

    let out = String::from_utf8(curl(&["-i", &url]).unwrap()).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    let head = format!("{}\r\n", head.to_ascii_lowercase());
    assert!(head.contains("\r\ncontent-length: 17\r\n"), "{out}");
    assert!(
        head.contains("\r\ncontent-type: text/plain; charset=utf-8\r\n"),
        "{out}"
    );
    assert!(head.contains("\r\naccept-ranges: bytes\r\n"), "{out}");
    assert_eq!(body, A_TXT);

    assert_eq!(curl(&["-r", "0-1", &url]).unwrap(), b"he");
    let out = String::from_utf8(curl(&["-i", "-r", "0-1", &url]).unwrap()).unwrap();
    assert!(out.starts_with("HTTP/1.1 206 Partial Content\r\n"), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("\r\ncontent-range: bytes 0-1/17\r\n"),
        "{out}"
    );
    assert!(out.ends_with("\r\n\r\nhe"), "{out}");
    // HEAD and a listing through curl.
    let out = String::from_utf8(curl(&["-I", &url]).unwrap()).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    let listing = String::from_utf8(curl(&[&format!("http://{addr}/")]).unwrap()).unwrap();
    assert!(listing.contains("href=\"a.txt\""), "{listing}");
}

/// `POST /a.txt` with a body of `len` bytes, announced by Content-Length.
fn post(len: usize) -> String {
    format!(
        "POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: {len}\r\n\r\n{}",
        "b".repeat(len)
    )
}

#[test]
fn max_body_sets_the_largest_body_accepted() {
    let root = a_txt_root("cli-max-body");
    let (_httpd, addr, _) =
        Httpd::start(&[path_str(root.path()), "-p", "0", "-q", "--max-body", "10"]);
    let mut c = Client::connect(addr);
    let r = c.request(post(11));
    assert_eq!(r.status, 413, "{r:?}");
    // At the limit the body is read (and discarded), and the method is what
    // is refused.
    let mut c = Client::connect(addr);
    let r = c.request(post(10));
    assert_eq!(r.status, 405, "{r:?}");
}

#[test]
fn timeout_closes_an_idle_connection() {
    let root = a_txt_root("cli-timeout");
    let (_httpd, addr, _) =
        Httpd::start(&[path_str(root.path()), "-p", "0", "-q", "--timeout", "1"]);
    let mut idle = Client::connect(addr);
    let idle_since = Instant::now();
    let mut kept = Client::connect(addr);
    assert_eq!(kept.request(get("/a.txt")).status, 200);
    let kept_since = Instant::now();
    for (name, client, since) in [
        ("a connection with no request", &mut idle, idle_since),
        ("an idle keep-alive connection", &mut kept, kept_since),
    ] {
        assert!(client.is_closed(), "{name} is closed");
        let waited = since.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited <= Duration::from_secs(3),
            "{name} closed after {waited:?} with --timeout 1"
        );
    }
}

#[test]
fn max_connections_makes_the_next_client_wait() {
    let root = a_txt_root("cli-max-conn");
    let (_httpd, addr, _) = Httpd::start(&[
        path_str(root.path()),
        "-p",
        "0",
        "-q",
        "--max-connections",
        "1",
    ]);
    let mut first = Client::connect(addr);
    assert_eq!(first.request(get("/a.txt")).status, 200);
    // The second connection completes in the kernel's backlog, and its
    // request waits there while the first holds its connection open.
    let mut second = Client::connect(addr);
    second.send(get("/a.txt"));
    second
        .stream()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let err = second
        .reader
        .fill_buf()
        .map(|b| b.to_vec())
        .expect_err("the second client is not answered while the first is open");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    drop(first);
    second.stream().set_read_timeout(Some(PATIENCE)).unwrap();
    let r = second.read_response();
    assert_eq!((r.status, r.text().as_str()), (200, A_TXT));
}

/// Sends a request that cannot be parsed and checks it gets 400; returns the
/// client's address, which only a debug line shows (the access log shows
/// the IP alone).
fn send_malformed_request(addr: SocketAddr) -> String {
    let mut c = Client::connect(addr);
    let peer = c.stream().local_addr().unwrap().to_string();
    let r = c.request("NONSENSE\r\n\r\n");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(c.is_closed(), "a 400 closes the connection");
    peer
}

#[test]
fn verbose_logs_a_malformed_request_at_debug_level() {
    let root = a_txt_root("cli-verbose");
    let (httpd, addr, _) = Httpd::start(&[path_str(root.path()), "-p", "0", "-v"]);
    let peer = send_malformed_request(addr);
    let line = httpd_line(&httpd, &peer);
    assert!(line.contains("DEBUG"), "{line}");
    assert!(line.contains("asynchat::http::conn"), "{line}");
    assert!(line.contains(&format!("{peer}: 400")), "{line}");
}

/// The stderr line of `httpd` that mentions `needle`.
#[track_caller]
fn httpd_line(httpd: &Httpd, needle: &str) -> String {
    httpd
        .stderr_line_with(needle)
        .unwrap_or_else(|| panic!("no stderr line with {needle:?}"))
}

#[test]
fn without_verbose_a_malformed_request_logs_no_debug_line() {
    let root = a_txt_root("cli-not-verbose");
    let (mut httpd, addr, _) = Httpd::start(&[path_str(root.path()), "-p", "0"]);
    let peer = send_malformed_request(addr);
    // The access line shows the request was handled (and the log flushed)
    // before the process is told to stop.
    httpd_line(&httpd, "\"NONSENSE\" 400");
    httpd.signal("TERM");
    assert!(httpd.wait_exit(EXIT_PATIENCE).success());
    let err = drain(&httpd.stderr);
    assert!(
        !err.iter().any(|l| l.contains("DEBUG") || l.contains(&peer)),
        "debug lines without -v: {err:?}"
    );
}

#[test]
fn rust_log_off_silences_the_access_log() {
    let root = a_txt_root("cli-rust-log-off");
    let (mut httpd, addr, _) =
        Httpd::start_env(&[path_str(root.path()), "-p", "0"], &[("RUST_LOG", "off")]);
    assert_serves_a_txt(addr);
    let mut c = Client::connect(addr);
    assert_eq!(c.request(get("/missing")).status, 404);
    drop(c);
    send_malformed_request(addr);
    httpd.signal("TERM");
    assert!(httpd.wait_exit(EXIT_PATIENCE).success());
    let err = drain(&httpd.stderr);
    assert_eq!(err, Vec::<String>::new(), "stderr with RUST_LOG=off");
}
