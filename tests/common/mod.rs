//! Shared by the HTTP integration tests: a server on 127.0.0.1:0 in its own
//! thread, a temporary document root, and a client that speaks raw bytes and
//! reads responses exactly as framed.
#![allow(dead_code)] // each test file uses a different part

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod ws;

use asynchat::Stopper;
use asynchat::http::{Config, Server};

/// How long any socket operation in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// The contents of `a.txt` in [`a_txt_root`].
pub const A_TXT: &str = "hello from a.txt\n";

/// A document root holding only `a.txt`.
pub fn a_txt_root(tag: &str) -> TempDir {
    let root = TempDir::new(tag);
    root.file("a.txt", A_TXT);
    root
}

/// `p` as a command-line argument (test paths are UTF-8).
pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new, empty directory.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("asynchat-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes a file (creating parent directories) and returns its path.
    pub fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// Creates a directory (and parents).
    pub fn dir(&self, rel: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server running in a background thread; stopped (gracefully) and joined
/// when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    stopper: Option<Stopper>,
    handle: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `config` on 127.0.0.1:0.
    pub fn start(config: Config) -> TestServer {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            let mut server = Server::bind(config, "127.0.0.1:0".parse().unwrap()).unwrap();
            tx.send((server.local_addr(), server.stopper())).unwrap();
            server.run().unwrap();
        });
        let (addr, stopper) = rx.recv_timeout(PATIENCE).expect("server started");
        TestServer {
            addr,
            stopper: Some(stopper),
            handle: Some(handle),
        }
    }

    /// Serves `root` with the default configuration.
    pub fn serve(root: &Path) -> TestServer {
        TestServer::start(Config::new(root).unwrap())
    }

    /// A new client connection.
    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Stops the server and waits for its thread to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stopper.take() {
            s.stop();
        }
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Field names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first field with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A blocking client with timeouts, reading responses as framed.
pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::over(TcpStream::connect(addr).unwrap())
    }

    /// A client over a stream connected some other way (socket options
    /// set before `connect`).
    pub fn over(s: TcpStream) -> Client {
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.set_write_timeout(Some(PATIENCE)).unwrap();
        s.set_nodelay(true).unwrap();
        Client {
            reader: BufReader::new(s),
        }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) -> &mut Client {
        self.stream().write_all(bytes.as_ref()).unwrap();
        self
    }

    /// Shuts down the write half (the server sees end of stream).
    pub fn half_close(&mut self) -> &mut Client {
        self.stream().shutdown(Shutdown::Write).unwrap();
        self
    }

    /// Reads one response to a request with method `method` (HEAD responses
    /// and 1xx/204/304 have no body). Skips nothing: a `100 Continue` is
    /// returned as its own response.
    pub fn read_response_to(&mut self, method: &str) -> io::Result<Response> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let status_line = line.trim_end().to_string();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        assert_eq!(version, "HTTP/1.1", "status line {status_line:?}");
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            assert!(line.ends_with("\r\n"), "header line without CRLF: {line:?}");
            let l = line.trim_end_matches("\r\n");
            if l.is_empty() {
                break;
            }
            let (name, value) = l.split_once(':').expect("header has a colon");
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let bodiless = method == "HEAD" || status < 200 || status == 204 || status == 304;
        if !bodiless {
            let len: usize = response
                .header("content-length")
                .expect("every response with a body has Content-Length")
                .parse()
                .unwrap();
            response.body = vec![0; len];
            self.reader.read_exact(&mut response.body)?;
        }
        Ok(response)
    }

    /// Reads one response to a GET.
    pub fn read_response(&mut self) -> Response {
        self.read_response_to("GET").expect("a response")
    }

    /// Sends a request and reads its response.
    pub fn request(&mut self, raw: impl AsRef<[u8]>) -> Response {
        let raw = raw.as_ref();
        let method = raw.split(|&b| b == b' ').next().unwrap_or(b"GET");
        let method = String::from_utf8_lossy(method).into_owned();
        self.send(raw);
        self.read_response_to(&method).expect("a response")
    }

    /// True if the server closed the connection (reads end of stream, or a
    /// reset) within the patience.
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0; 1];
        match self.reader.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
            ),
        }
    }

    /// Reads everything until the server closes.
    pub fn read_to_end(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        self.reader.read_to_end(&mut all).unwrap();
        all
    }
}

/// `GET path HTTP/1.1` with a Host field.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// `GET path HTTP/1.1` with extra fields (each ending in `\r\n`).
pub fn get_with(path: &str, fields: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{fields}\r\n")
}

// ------------------------------------------------------- this test process

/// This process's resident memory, in KiB (in-process servers count here).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Samples RSS until two readings 300 ms apart agree within 1 MiB (or
/// `limit` passes), and returns the last reading.
pub fn stable_rss_kib(limit: Duration) -> u64 {
    let deadline = std::time::Instant::now() + limit;
    let mut last = rss_kib();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = rss_kib();
        if now.abs_diff(last) < 1024 || std::time::Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Descriptors this process has open.
pub fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

// ------------------------------------------------------- the binary

/// The server binary that cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_asynchat-httpd");

/// Lines read from a pipe by a background thread.
pub fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts the binary with `args`, no `RUST_LOG` unless `env` sets it, and
/// these variables; returns it with its stdout and stderr lines.
pub fn spawn_binary(
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    std::process::Child,
    mpsc::Receiver<String>,
    mpsc::Receiver<String>,
) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    (child, out, err)
}

/// How long a spawned server may take to print its start-up line.
pub const START_PATIENCE: Duration = Duration::from_secs(10);

/// A running `asynchat-httpd` on a free port, killed when dropped.
pub struct Httpd {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: mpsc::Receiver<String>,
}

impl Httpd {
    /// Runs the binary with these arguments (`-p 0` is added; the bind
    /// address is 127.0.0.1 unless they say otherwise).
    pub fn start(args: &[&str]) -> Httpd {
        let mut all = vec!["-p", "0"];
        all.extend_from_slice(args);
        let (child, out, err) = spawn_binary(&all, &[]);
        Httpd::started(child, out, err)
    }

    /// The server `child` started: its address from the start-up line on
    /// `out`, its stderr lines from `err`.
    pub fn started(
        mut child: Child,
        out: mpsc::Receiver<String>,
        err: mpsc::Receiver<String>,
    ) -> Httpd {
        let line = match out.recv_timeout(START_PATIENCE) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let err: Vec<String> = err.try_iter().collect();
                panic!("no start-up line ({e:?}); stderr {err:?}");
            }
        };
        let addr = line
            .rsplit(" at http://")
            .next()
            .and_then(|s| s.strip_suffix('/'))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Httpd {
            child,
            addr,
            stderr: err,
        }
    }

    /// Stderr lines received so far, waiting up to `patience` for one that
    /// contains `want`.
    pub fn stderr_until(&self, want: &str, patience: Duration) -> Vec<String> {
        let deadline = Instant::now() + patience;
        let mut lines = Vec::new();
        while !lines.iter().any(|l: &String| l.contains(want)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
        }
        lines
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HTTP channel serving `config`, in memory: fed `input` as one read,
/// then given write events until it has nothing more to write. Returns how
/// many responses starting with `status_line` (`"HTTP/1.1 200"`) each write
/// event wrote: what the work bound lets one turn answer.
pub fn responses_per_turn(config: Config, input: &[u8], status_line: &str) -> Vec<usize> {
    use asynchat::http::Shared;
    use asynchat::http::conn::HttpChannel;
    use asynchat::{AsyncChat, Channel};
    let mut handler = HttpChannel::new(Shared::new(config).unwrap());
    let mut chan = Channel::new(HttpChannel::initial_terminator());
    handler.handle_connect(&mut chan);
    chan.feed(&mut handler, input);
    let (mut out, mut per_turn, mut seen) = (Vec::new(), Vec::new(), 0);
    while chan.writable() {
        assert!(per_turn.len() < 1000, "no progress");
        chan.send(&mut handler, &mut out).unwrap();
        let now = String::from_utf8_lossy(&out).matches(status_line).count();
        per_turn.push(now - seen);
        seen = now;
    }
    per_turn
}

/// Runs the binary with `args` (and no `RUST_LOG`) to its end, which must
/// come within 10 s, and returns its status, stdout and stderr.
pub fn run_binary(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    const WAIT: Duration = Duration::from_secs(10);
    let (mut child, out, err) = spawn_binary(args, &[]);
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let all = |rx: mpsc::Receiver<String>| rx.iter().collect::<Vec<_>>().join("\n");
    (status, all(out), all(err))
}

// ------------------------------------------------------- HTML

/// The text of each `<td>`/`<th>` cell of each row of the table with this
/// id (as the server writes it, or as a browser serialises it, with a
/// `<tbody>`), character references decoded.
pub fn html_table(html: &str, id: &str) -> Vec<Vec<String>> {
    let open = format!("<table id=\"{id}\">");
    let start = html
        .find(&open)
        .unwrap_or_else(|| panic!("no {open} in:\n{html}"));
    let body = &html[start + open.len()..];
    let body = &body[..body.find("</table>").expect("the table ends")];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            let mut cells = Vec::new();
            let mut rest = row;
            loop {
                let next = ["<td", "<th"]
                    .iter()
                    .filter_map(|t| rest.find(t).map(|i| (i, &t[1..])))
                    .min();
                let Some((i, tag)) = next else { break };
                let cell = &rest[i..];
                let gt = cell.find('>').unwrap();
                let close = format!("</{tag}>");
                let end = cell.find(&close).unwrap();
                cells.push(unescape_html(&cell[gt + 1..end]));
                rest = &cell[end + close.len()..];
            }
            cells
        })
        .collect()
}

/// Decodes the character references the server writes.
pub fn unescape_html(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

// ------------------------------------------------------------ the guide

/// The trace block of `src/guide.md` that follows the line `<!-- MARKER
/// -->`: its lines, without the fences.
pub fn guide_block(marker: &str) -> Vec<String> {
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/guide.md")).unwrap();
    let open = format!("<!-- {marker} -->");
    let mut lines = guide.lines().skip_while(|l| *l != open);
    assert_eq!(lines.next(), Some(open.as_str()), "no {open} in the guide");
    assert_eq!(lines.next(), Some("```text"), "a text block after {open}");
    lines
        .take_while(|l| *l != "```")
        .map(str::to_string)
        .collect()
}

/// Checks `got` against a guide block: line for line, or, where the block
/// has `...` lines, the block's other lines in the same order with
/// anything between them (and the same first line, unless the block
/// starts with `...`).
pub fn assert_trace_is(want: &[String], got: &[String]) {
    if !want.iter().any(|l| l == "...") {
        assert_eq!(got, want, "the trace, in full:\n{}", got.join("\n"));
        return;
    }
    let mut at = 0;
    for line in want.iter().filter(|l| *l != "...") {
        match got[at..].iter().position(|g| g == line) {
            Some(i) => at += i + 1,
            None => panic!("{line:?} is not in order in\n{}", got.join("\n")),
        }
    }
    if let Some(first) = want.first().filter(|l| *l != "...") {
        assert_eq!(got.first(), Some(first), "the trace starts differently");
    }
}

// ------------------------------------------------------------ captures

/// A copy of the demo site's `hello.txt`, `index.html` and `style.css`
/// (what the shipped captures ask for), each modified at the same fixed
/// time, so that `Last-Modified` and the field blocks' sizes are the same
/// on every checkout.
pub fn www_copy(tag: &str) -> TempDir {
    let root = TempDir::new(tag);
    let www = Path::new(env!("CARGO_MANIFEST_DIR")).join("www");
    let when = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
    for file in ["hello.txt", "index.html", "style.css"] {
        let to = root.0.join(file);
        std::fs::copy(www.join(file), &to).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&to)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    root
}

/// The replay example that cargo built for these tests.
pub fn replay_binary() -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop(); // the test binary
    path.pop(); // deps/
    path.push("examples");
    path.push("replay");
    path
}

/// Runs the replay example with `args` from the crate's directory; its exit
/// code, stdout and stderr.
pub fn run_replay(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(replay_binary())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the replay example was built by cargo test");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
