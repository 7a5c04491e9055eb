//! The live status page (`Config::with_status`, `--status PATH`), over real
//! sockets: the board of open channels, the totals, HTML and JSON, who may
//! see it, and the configuration errors.
//!
//! The page shows each channel as it was after its last event, and a
//! channel's events are asynchronous to the test, so every check of the
//! board polls the page until it shows what was set up (bounded), and then
//! checks everything else against that one snapshot.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use asynchat::Stopper;
use asynchat::http::{Config, ConfigError, Server};
use common::*;

const STATUS: &str = "/.status";
const A_TXT: &str = "hello";

/// How long a poll of the page waits for the board to show a state.
const WAIT: Duration = Duration::from_secs(10);

fn docroot(tag: &str) -> TempDir {
    let root = TempDir::new(tag);
    root.file("a.txt", A_TXT);
    root
}

fn with_status(root: &TempDir) -> Config {
    Config::new(root.path())
        .unwrap()
        .with_status(STATUS)
        .unwrap()
}

// ------------------------------------------------------------- responses

/// Reads one response to `method` and returns it with its size on the wire.
fn read_raw(c: &mut Client, method: &str) -> (Response, u64) {
    let mut line = String::new();
    let mut size = c.reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 "), "status line {line:?}");
    let status = line[9..12].parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        let n = c.reader.read_line(&mut line).unwrap();
        assert!(n > 0 && line.ends_with("\r\n"), "head line {line:?}");
        size += n;
        let l = line.trim_end_matches("\r\n");
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':').unwrap();
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut r = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if method != "HEAD" && status >= 200 && status != 204 && status != 304 {
        let len: usize = r.header("content-length").unwrap().parse().unwrap();
        r.body = vec![0; len];
        c.reader.read_exact(&mut r.body).unwrap();
        size += len;
    }
    (r, size as u64)
}

/// Sends `raw` (one request by `method`) and reads the response with its
/// size on the wire.
fn exchange(c: &mut Client, method: &str, raw: &str) -> (Response, u64) {
    c.send(raw);
    read_raw(c, method)
}

// ------------------------------------------------------------------ JSON

/// The page as JSON, read by Python's `json` module (the reference parser
/// here): totals by name, and channels.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    totals: BTreeMap<String, u64>,
    channels: Vec<Chan>,
}

/// One row of the board.
#[derive(Debug, Clone, PartialEq)]
struct Chan {
    id: u64,
    peer: String,
    phase: String,
    terminator: String,
    input_bytes: u64,
    queued: u64,
    queued_bytes: u64,
    requests: u64,
    paused: bool,
}

impl Snapshot {
    fn total(&self, name: &str) -> u64 {
        *self
            .totals
            .get(name)
            .unwrap_or_else(|| panic!("no total {name:?} in {:?}", self.totals))
    }

    fn channel(&self, peer: SocketAddr) -> Option<&Chan> {
        let peer = peer.to_string();
        self.channels.iter().find(|c| c.peer == peer)
    }
}

/// Checks and flattens the page's JSON, one line per total and per channel,
/// fields separated by tabs (no value holds one: terminators are escaped).
const FLATTEN: &str = r#"
import json, sys
d = json.load(sys.stdin)
assert isinstance(d["server"], str) and d["server"], d
assert set(d) == {"server", "totals", "workers", "channels"}, sorted(d)
# One worker: its own totals are the totals.
assert [w["worker"] for w in d["workers"]] == [0], d["workers"]
for k, v in d["workers"][0].items():
    assert k == "worker" or v == d["totals"][k], (k, v, d["totals"])
for k, v in d["totals"].items():
    assert type(v) is int and v >= 0, (k, v)
    print("T", k, v, sep="\t")
for c in d["channels"]:
    for k in ("id", "input_bytes", "queued", "queued_bytes", "requests"):
        assert type(c[k]) is int and c[k] >= 0, (k, c)
    for k in ("age_secs", "idle_secs"):
        assert type(c[k]) in (int, float) and 0 <= c[k] <= c["age_secs"] + 0.001, (k, c)
    assert type(c["paused"]) is bool, c
    assert c["worker"] == 0, c
    print("C", c["id"], c["peer"], c["phase"], c["terminator"], c["input_bytes"],
          c["queued"], c["queued_bytes"], c["requests"], "yes" if c["paused"] else "no",
          sep="\t")
"#;

/// Runs `python3 -c FLATTEN` on `json` (bounded) and reads its lines.
fn parse_json(json: &[u8]) -> Snapshot {
    let mut child = Command::new("python3")
        .args(["-c", FLATTEN])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    // The page is small: python reads all of it before it writes a line.
    child.stdin.take().unwrap().write_all(json).unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut err = String::new();
        let _ = err_pipe.read_to_string(&mut err);
        err
    });
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let err = err_reader.join().unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "python3 rejects the JSON: {err}\n{}",
        String::from_utf8_lossy(json)
    );
    let mut snap = Snapshot {
        totals: BTreeMap::new(),
        channels: Vec::new(),
    };
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        match f[0] {
            "T" => {
                snap.totals.insert(f[1].to_string(), n(2));
            }
            "C" => snap.channels.push(Chan {
                id: n(1),
                peer: f[2].to_string(),
                phase: f[3].to_string(),
                terminator: f[4].to_string(),
                input_bytes: n(5),
                queued: n(6),
                queued_bytes: n(7),
                requests: n(8),
                paused: f[9] == "yes",
            }),
            _ => panic!("{line:?}"),
        }
    }
    snap
}

/// GETs the JSON page on `c`; returns it read, and its size on the wire.
fn json_page(c: &mut Client) -> (Snapshot, u64) {
    let (r, size) = exchange(c, "GET", &get(&format!("{STATUS}?format=json")));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    (parse_json(&r.body), size)
}

/// What [`poll`] saw: the page that showed the state waited for, and the
/// pages fetched before it (their number and their size on the wire).
struct Polled {
    snap: Snapshot,
    earlier: u64,
    earlier_bytes: u64,
}

/// Polls the JSON page on `c` until `ready` holds (bounded).
#[track_caller]
fn poll(c: &mut Client, what: &str, ready: impl Fn(&Snapshot) -> bool) -> Polled {
    let deadline = Instant::now() + WAIT;
    let (mut earlier, mut earlier_bytes) = (0, 0);
    loop {
        let (snap, size) = json_page(c);
        if ready(&snap) {
            return Polled {
                snap,
                earlier,
                earlier_bytes,
            };
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed {what} within {WAIT:?}; last: {snap:#?}"
        );
        earlier += 1;
        earlier_bytes += size;
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------ HTML

/// The HTML page on `c`, with its size on the wire.
fn html_page(c: &mut Client) -> (String, u64) {
    let (r, size) = exchange(c, "GET", &get(STATUS));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    (r.text(), size)
}

/// The totals table: name (with spaces, as shown) to value.
fn html_totals(html: &str) -> BTreeMap<String, u64> {
    html_table(html, "totals")
        .into_iter()
        .map(|row| {
            assert_eq!(row.len(), 2, "{row:?}");
            (row[0].replace(' ', "_"), row[1].parse().unwrap())
        })
        .collect()
}

/// The channels table as rows of `Chan`, checked against its header.
fn html_channels(html: &str) -> Vec<Chan> {
    let rows = html_table(html, "channels");
    let header = &rows[0];
    assert_eq!(
        header,
        &[
            "id",
            "peer",
            "age",
            "idle",
            "phase",
            "terminator",
            "input bytes",
            "queued",
            "queued bytes",
            "requests",
            "paused"
        ]
    );
    rows[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), header.len(), "{r:?}");
            let n = |i: usize| r[i].parse::<u64>().unwrap();
            for age in [&r[2], &r[3]] {
                let secs = age.strip_suffix('s').expect("seconds");
                assert!(secs.parse::<f64>().is_ok_and(|s| s >= 0.0), "{age}");
            }
            assert!(matches!(r[10].as_str(), "yes" | "no"), "{r:?}");
            Chan {
                id: n(0),
                peer: r[1].clone(),
                phase: r[4].clone(),
                terminator: r[5].clone(),
                input_bytes: n(6),
                queued: n(7),
                queued_bytes: n(8),
                requests: n(9),
                paused: r[10] == "yes",
            }
        })
        .collect()
}

/// A client whose receive buffer is small, so that the kernel takes little
/// of what it does not read.
fn small_window_client(addr: SocketAddr) -> Client {
    use rustix::net::{AddressFamily, SocketType, connect, socket, sockopt};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    sockopt::set_socket_recv_buffer_size(&fd, 16 * 1024).unwrap();
    connect(&fd, &addr).unwrap();
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_write_timeout(Some(PATIENCE)).unwrap();
    Client {
        reader: BufReader::new(s),
    }
}

fn local(c: &mut Client) -> SocketAddr {
    c.stream().local_addr().unwrap()
}

// ------------------------------------------------------------------ tests

#[test]
fn the_page_lists_every_open_channel() {
    let root = docroot("status-board");
    // A file the hog asks for again and again: large enough that the
    // kernel takes little of it, sparse so it costs nothing.
    File::create(root.path().join("big.bin"))
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let server = TestServer::start(with_status(&root));

    let mut idle = server.connect();
    let mut kept = server.connect();
    assert_eq!(kept.request(get("/a.txt")).status, 200);
    let mut body = server.connect();
    body.send(format!(
        "POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n{}",
        "b".repeat(40)
    ));
    let mut head = server.connect();
    head.send("GET /a.txt HTTP/1.1\r\nHost: test\r\nX-Partial: ");
    // Pipelined requests for a large file, never read: once a megabyte of
    // responses is queued (a file counts for its length, though it is sent
    // with sendfile) the channel stops reading and holds the rest of its
    // input.
    let mut hog = small_window_client(server.addr);
    hog.send(get("/big.bin").repeat(300));
    let peers = [
        local(&mut idle),
        local(&mut kept),
        local(&mut body),
        local(&mut head),
        local(&mut hog),
    ];
    let [p_idle, p_kept, p_body, p_head, p_hog] = peers;

    let mut page = server.connect();
    let snap = poll(&mut page, "the five channels as set up", |s| {
        let ch = |p| s.channel(p);
        ch(p_idle).is_some_and(|c| c.phase == "idle")
            && ch(p_kept).is_some_and(|c| c.requests == 1)
            && ch(p_body).is_some_and(|c| c.terminator == "60 bytes")
            && ch(p_head).is_some_and(|c| c.phase == "head")
            && ch(p_hog).is_some_and(|c| c.paused)
    })
    .snap;
    let ch = |p| snap.channel(p).unwrap();
    let blank = "blank line";
    // peer, phase, terminator, input bytes, queued, queued bytes, requests
    let want = [
        (p_idle, "idle", blank, 0, 0, 0, 0),
        (p_kept, "idle", blank, 0, 0, 0, 1),
        (p_body, "body", "60 bytes", 0, 0, 0, 0),
        (p_head, "head", blank, 0, 0, 0, 0),
    ];
    for (peer, phase, terminator, input, queued, queued_bytes, requests) in want {
        let c = ch(peer);
        assert_eq!(
            (
                c.phase.as_str(),
                c.terminator.as_str(),
                c.input_bytes,
                c.queued,
                c.queued_bytes,
                c.requests,
                c.paused
            ),
            (
                phase,
                terminator,
                input,
                queued,
                queued_bytes,
                requests,
                false
            ),
            "{peer}: {c:?}"
        );
    }
    let h = ch(p_hog);
    assert!(h.paused && h.queued_bytes >= 1 << 20, "{h:?}");
    assert!(
        h.input_bytes > 0,
        "the hog's unread requests are held: {h:?}"
    );
    assert!(h.requests >= 1 && h.requests < 10, "{h:?}");
    assert_eq!(h.terminator, blank, "{h:?}");
    // Every open channel, the page's own included, and nothing else.
    assert_eq!(snap.channels.len(), 6, "{snap:#?}");
    assert!(snap.channel(local(&mut page)).is_some(), "{snap:#?}");
    assert_eq!(snap.total("connections_open"), 6);
    assert_eq!(snap.total("connections_accepted"), 6);
    let ids: Vec<u64> = snap.channels.iter().map(|c| c.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in connection order: {ids:?}"
    );

    // The HTML page shows the same board (only the hog moves meanwhile).
    let (html, _) = html_page(&mut page);
    assert!(html.contains("<h2>Open channels (6)</h2>"), "{html}");
    assert!(
        html.contains("<meta http-equiv=\"refresh\" content=\"2\">"),
        "{html}"
    );
    let rows = html_channels(&html);
    assert_eq!(rows.len(), 6, "{html}");
    for peer in peers {
        let row = rows
            .iter()
            .find(|r| r.peer == peer.to_string())
            .unwrap_or_else(|| panic!("no row for {peer}: {html}"));
        if peer == p_hog {
            // The hog still moves a little as the kernel takes a piece.
            assert!(
                row.paused && row.queued_bytes >= 1 << 20 && row.input_bytes > 0,
                "{row:?}"
            );
            assert_eq!((row.id, row.phase.as_str()), (h.id, h.phase.as_str()));
            assert_eq!(row.terminator, h.terminator);
        } else {
            assert_eq!(row, ch(peer), "{peer}");
        }
    }
    assert_eq!(html.matches("<tr class=\"paused\">").count(), 1, "{html}");
    let totals = html_totals(&html);
    assert_eq!(totals["connections_open"], 6);
    assert_eq!(totals["connections_accepted"], 6);

    // Closed channels leave the board.
    drop((idle, kept, body, head, hog));
    let snap = poll(&mut page, "only the page's own channel", |s| {
        s.channels.len() == 1
    })
    .snap;
    assert_eq!(snap.channels[0].peer, local(&mut page).to_string());
    assert_eq!(snap.total("connections_open"), 1);
    assert_eq!(snap.total("connections_accepted"), 6);
}

#[test]
fn totals_count_connections_responses_timeouts_and_parse_errors() {
    let root = docroot("status-totals");
    let mut config = with_status(&root);
    config.header_timeout = Duration::from_secs(1);
    let server = TestServer::start(config);
    let mut out = 0; // bytes the server has sent, as the clients count them

    let mut c = server.connect();
    let (r, n) = exchange(&mut c, "GET", &get("/a.txt"));
    assert_eq!(r.status, 200);
    out += n;
    drop(c);
    let mut c = server.connect();
    let (r, n) = exchange(&mut c, "GET", &get("/missing"));
    assert_eq!(r.status, 404);
    out += n;
    drop(c);
    let mut c = server.connect();
    let (r, n) = exchange(&mut c, "GET", "NONSENSE\r\n\r\n");
    assert_eq!(r.status, 400);
    out += n;
    assert!(c.is_closed());
    drop(c);
    // Half a head, then nothing: 408 once the header timeout passes.
    let mut c = server.connect();
    let (r, n) = exchange(&mut c, "GET", "GET /a.txt HTTP/1.1\r\n");
    assert_eq!(r.status, 408);
    out += n;
    assert!(c.is_closed());
    drop(c);

    let mut page = server.connect();
    let polled = poll(&mut page, "four connections closed", |s| {
        s.total("connections_open") == 1
    });
    let snap = &polled.snap;
    // Each page fetched before this one was a 200 of its own.
    let pages = polled.earlier;
    out += polled.earlier_bytes;
    let want = [
        ("connections_accepted", 5),
        ("connections_open", 1),
        ("requests", 4 + pages),
        ("responses_1xx", 0),
        ("responses_2xx", 1 + pages),
        ("responses_3xx", 0),
        ("responses_4xx", 3),
        ("responses_5xx", 0),
        ("timeouts", 1),
        ("parse_errors", 1),
    ];
    for (name, value) in want {
        assert_eq!(snap.total(name), value, "{name}: {:#?}", snap.totals);
    }
    assert!(snap.total("uptime_secs") < 600);
    let names: Vec<&str> = snap.totals.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    expected.extend(["bytes_out", "uptime_secs"]);
    expected.sort_unstable();
    assert_eq!(names, expected);
    // Every byte the clients received, and no more.
    assert_eq!(snap.total("bytes_out"), out, "{:#?}", snap.totals);

    // The JSON answer counts as a 200, and its bytes as bytes out; the
    // HTML page shows the same totals otherwise.
    let (json, json_size) = json_page(&mut page);
    let (html, _) = html_page(&mut page);
    let shown = html_totals(&html);
    assert_eq!(
        shown.keys().collect::<Vec<_>>(),
        json.totals.keys().collect::<Vec<_>>()
    );
    for (name, value) in &json.totals {
        let want = match name.as_str() {
            "requests" | "responses_2xx" => value + 1,
            "bytes_out" => value + json_size,
            _ => *value,
        };
        if name == "uptime_secs" {
            assert!(shown[name] >= *value && shown[name] <= value + 60);
        } else {
            assert_eq!(
                shown[name], want,
                "{name}: json {value}, html {}",
                shown[name]
            );
        }
    }
}

#[test]
fn head_gives_the_fields_only() {
    let root = docroot("status-head");
    let server = TestServer::start(with_status(&root));
    let mut c = server.connect();
    for (target, kind) in [
        (STATUS.to_string(), "text/html; charset=utf-8"),
        (format!("{STATUS}?format=json"), "application/json"),
    ] {
        let (r, _) = exchange(
            &mut c,
            "HEAD",
            &format!("HEAD {target} HTTP/1.1\r\nHost: t\r\n\r\n"),
        );
        assert_eq!(r.status, 200, "{target}: {r:?}");
        assert_eq!(r.header("content-type"), Some(kind), "{target}");
        assert!(r.body.is_empty());
        let len: usize = r.header("content-length").unwrap().parse().unwrap();
        assert!(len > 100, "{target}: Content-Length {len}");
    }
    // No body followed: the next response on the connection is intact.
    let r = c.request(get("/a.txt"));
    assert_eq!((r.status, r.text().as_str()), (200, A_TXT));
    // The page's other spellings are other paths.
    for other in ["/.status/", "/.statusx", "/.STATUS", "/.status%20"] {
        assert_eq!(c.request(get(other)).status, 404, "{other}");
    }
    // Any query is the HTML page, but format=json.
    let r = c.request(get("/.status?x=1&format=jsonx"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = c.request(get("/.status?x=1&format=json"));
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn other_methods_on_the_page_are_answered_as_on_any_path() {
    let root = docroot("status-post");
    let server = TestServer::start(with_status(&root));
    let mut c = server.connect();
    for method in ["POST", "PUT", "DELETE"] {
        let on = |path: &str| {
            format!("{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
        };
        let page = c.request(on(STATUS));
        let file = c.request(on("/a.txt"));
        assert_eq!(page.status, 405, "{method}: {page:?}");
        assert_eq!(page.header("allow"), Some("GET, HEAD, OPTIONS"));
        assert_eq!(
            (
                page.header("allow"),
                page.header("content-type"),
                &page.body
            ),
            (
                file.header("allow"),
                file.header("content-type"),
                &file.body
            ),
            "{method}"
        );
        let json = c.request(on(&format!("{STATUS}?format=json")));
        assert_eq!(json.status, 405, "{method}");
    }
    // The connection is still good.
    assert_eq!(c.request(get(STATUS)).status, 200);
}

#[test]
fn without_status_the_path_is_not_found() {
    let root = docroot("status-off");
    let server = TestServer::serve(root.path());
    let mut c = server.connect();
    for target in [STATUS, "/.status?format=json"] {
        assert_eq!(c.request(get(target)).status, 404, "{target}");
    }
    // Even a real file of that name stays hidden (dot files are not served).
    root.file(".status", "a file");
    assert_eq!(c.request(get(STATUS)).status, 404);
}

/// A server bound to `addr` in its own thread, stopped when dropped.
struct BoundServer {
    addr: SocketAddr,
    stopper: Option<Stopper>,
    handle: Option<JoinHandle<()>>,
}

impl BoundServer {
    /// Serves `config` on `addr`; `Err` if it cannot be bound there.
    fn start(config: Config, addr: SocketAddr) -> Result<BoundServer, String> {
        let (tx, rx) = mpsc::channel();
        // A Server holds its channels' shared state in an Rc: it is made
        // and run in its own thread.
        let handle = std::thread::spawn(move || match Server::bind(config, addr) {
            Ok(mut server) => {
                tx.send(Ok((server.local_addr(), server.stopper())))
                    .unwrap();
                server.run().unwrap();
            }
            Err(e) => tx.send(Err(format!("cannot bind {addr}: {e}"))).unwrap(),
        });
        match rx
            .recv_timeout(PATIENCE)
            .expect("the server thread answers")
        {
            Ok((addr, stopper)) => Ok(BoundServer {
                addr,
                stopper: Some(stopper),
                handle: Some(handle),
            }),
            Err(e) => {
                handle.join().unwrap();
                Err(e)
            }
        }
    }
}

impl Drop for BoundServer {
    fn drop(&mut self) {
        if let Some(s) = self.stopper.take() {
            s.stop();
        }
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
    }
}

/// This machine's address on its default route, if it has one that is not
/// loopback. Connecting a UDP socket sends nothing; it only picks the
/// route and so the local address.
fn non_loopback_ipv4() -> Option<IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("10.255.255.255:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// GETs the page (HTML and JSON) from a client of `server` and returns the
/// two statuses.
fn page_statuses(addr: SocketAddr) -> (u16, u16) {
    let mut c = Client::connect(addr);
    let html = c.request(get(STATUS)).status;
    let json = c.request(get(&format!("{STATUS}?format=json"))).status;
    (html, json)
}

#[test]
fn only_loopback_clients_see_the_page_unless_it_is_public() {
    let Some(ip) = non_loopback_ipv4() else {
        eprintln!("SKIPPED: this machine has no non-loopback IPv4 address");
        return;
    };
    let root = docroot("status-public");
    let addr = SocketAddr::new(ip, 0);
    let private = match BoundServer::start(with_status(&root), addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
    };
    // The client's address is the server's own non-loopback address.
    let mut c = Client::connect(private.addr);
    assert_eq!(local(&mut c).ip(), ip);
    let r = c.request(get(STATUS));
    assert_eq!(r.status, 404, "{r:?}");
    // ... the very answer any missing path gets.
    let missing = c.request(get("/.missing"));
    assert_eq!(
        (r.header("content-type"), &r.body),
        (missing.header("content-type"), &missing.body)
    );
    assert_eq!(page_statuses(private.addr), (404, 404));
    let r = c.request(format!("HEAD {STATUS} HTTP/1.1\r\nHost: t\r\n\r\n"));
    assert_eq!(r.status, 404);
    // Files are served to it as usual.
    assert_eq!(c.request(get("/a.txt")).status, 200);

    let mut config = with_status(&root);
    config.status_public = true;
    let public = BoundServer::start(config, addr).unwrap();
    assert_eq!(page_statuses(public.addr), (200, 200));
}

/// Regression (found when these tests were written): a request-target in absolute form
/// (`GET http://host/.status`, which RFC 9112 §3.2.2 says a server must
/// accept, and which this server accepts for files) does not reach the
/// page: `status_page` compared the raw target with the path, so it was
/// answered as a file, 404. The page is now matched on the target's path.
#[test]
fn the_page_answers_an_absolute_form_target() {
    let root = docroot("status-absolute");
    let server = TestServer::start(with_status(&root));
    let mut c = server.connect();
    let absolute = |path: &str| {
        format!(
            "GET http://{}{path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            server.addr, server.addr
        )
    };
    // Files are served to an absolute-form target...
    let r = c.request(absolute("/a.txt"));
    assert_eq!((r.status, r.text().as_str()), (200, A_TXT));
    // ... and so must the page be.
    let r = c.request(absolute(STATUS));
    assert_eq!(
        r.status,
        200,
        "GET http://{}{STATUS}: {}",
        server.addr,
        r.text()
    );
}

/// Regression (found when these tests were written): on a dual-stack server (`--bind ::`)
/// an IPv4 client's peer address is IPv4-mapped (`::ffff:127.0.0.1`),
/// which `Ipv6Addr::is_loopback` does not count as loopback, so a client
/// on 127.0.0.1 was refused the page (404) that a client on ::1 got. The
/// check now uses `ip().to_canonical().is_loopback()`.
#[test]
fn an_ipv4_loopback_client_of_a_dual_stack_server_sees_the_page() {
    let root = docroot("status-dual-stack");
    let any = SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0);
    let server = match BoundServer::start(with_status(&root), any) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
    };
    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), server.addr.port());
    if TcpStream::connect(v4).is_err() {
        eprintln!("SKIPPED: [::] does not take IPv4 connections here (IPV6_V6ONLY)");
        return;
    }
    let v6 = SocketAddr::new(
        IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        server.addr.port(),
    );
    if TcpStream::connect(v6).is_ok() {
        assert_eq!(page_statuses(v6), (200, 200), "from ::1");
    }
    assert_eq!(
        page_statuses(v4),
        (200, 200),
        "from 127.0.0.1 to a server on [::] (peer ::ffff:127.0.0.1)"
    );
}

#[test]
fn a_status_path_must_be_an_absolute_url_path() {
    let root = docroot("status-config");
    for bad in [
        "nope", "", ".status", "/a b", "/a?b", "/a#b", "/a\tb", "status/",
    ] {
        match Config::new(root.path()).unwrap().with_status(bad) {
            Err(e @ ConfigError::BadStatusPath(_)) => {
                let text = e.to_string();
                assert!(text.contains(&format!("{bad:?}")), "{text}");
                assert!(text.contains("must start with '/'"), "{text}");
            }
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
    for good in ["/", "/.status", "/server/status", "/%7Estatus"] {
        let config = Config::new(root.path()).unwrap().with_status(good).unwrap();
        assert_eq!(config.status_path.as_deref(), Some(good));
    }
    assert_eq!(Config::new(root.path()).unwrap().status_path, None);
    assert!(!Config::new(root.path()).unwrap().status_public);
}

#[test]
fn the_binary_refuses_a_bad_status_path_in_one_line() {
    let root = docroot("status-cli");
    let dir = root.path().to_str().unwrap();
    let (status, out, err) = run_binary(&[dir, "-p", "0", "--status", "nope"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(out.is_empty(), "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("asynchat-httpd: status path \"nope\""),
        "{err}"
    );

    let (status, out, err) = run_binary(&[dir, "-p", "0", "--status-public"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("--status <PATH>"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
