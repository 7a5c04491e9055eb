//! The connection trace of `asynchat-httpd --trace`, run as a process and
//! driven with raw bytes over real sockets.
//!
//! Trace lines go to stderr as `[TIME] #ID PEER event`. They arrive
//! asynchronously (the server flushes its log before its loop waits), so
//! every check first waits, with a bounded patience, for the line it needs,
//! and never assumes that a fixed sleep was long enough.
//!
//! Connection ids count from 1 in each process, in the order connections
//! are accepted: tests that need an id make their connections one after the
//! other.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use common::{A_TXT, Client, PATIENCE, a_txt_root, get, path_str, run_binary, spawn_binary};

/// How long to wait for a line, a start or an exit (generous: only a
/// failing test waits this long).
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- the process

/// A running `asynchat-httpd` on 127.0.0.1 and a free port, killed and
/// reaped when dropped, with every stderr line received so far.
struct Httpd {
    server: common::Httpd,
    addr: SocketAddr,
    /// Every stderr line received so far, in order.
    lines: Vec<String>,
}

impl Httpd {
    /// Serves `root` with these extra flags and no `RUST_LOG`.
    fn start(root: &Path, args: &[&str]) -> Httpd {
        Httpd::start_env(root, args, &[])
    }

    /// As [`Httpd::start`], with these variables in the environment.
    fn start_env(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Httpd {
        let all: Vec<&str> = [path_str(root), "-p", "0"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let (child, stdout, stderr) = spawn_binary(&all, env);
        let server = common::Httpd::started(child, stdout, stderr);
        Httpd {
            addr: server.addr,
            server,
            lines: Vec::new(),
        }
    }

    /// Receives stderr lines until `done` holds for all lines so far;
    /// panics, showing them, if it does not within [`WAIT`].
    #[track_caller]
    fn wait_until(&mut self, what: &str, done: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.lines) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.server.stderr.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(e) => panic!(
                    "waited {WAIT:?} for {what} ({e:?}); stderr so far:\n{}",
                    self.lines.join("\n")
                ),
            }
        }
    }

    /// Waits for an event of the connection from `peer` that starts with
    /// `prefix`, and returns that connection's events so far.
    #[track_caller]
    fn wait_event(&mut self, peer: SocketAddr, prefix: &str) -> Vec<String> {
        let what = format!("{prefix:?} from {peer}");
        self.wait_until(&what, |lines| {
            events_of(lines, peer).iter().any(|e| e.starts_with(prefix))
        });
        events_of(&self.lines, peer)
    }

    /// Sends SIGTERM, waits (bounded) for the exit, reads stderr to its end
    /// and returns the exit status.
    fn stop(&mut self) -> ExitStatus {
        use rustix::process::{Pid, Signal, kill_process};
        kill_process(Pid::from_child(&self.server.child), Signal::TERM).unwrap();
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.server.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit within {WAIT:?}");
            std::thread::sleep(Duration::from_millis(10));
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.server.stderr.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stderr still open after the exit"),
            }
        }
        status
    }

    /// The trace lines received so far.
    fn trace(&self) -> Vec<TraceLine> {
        self.lines.iter().filter_map(|l| parse_trace(l)).collect()
    }
}

// ------------------------------------------------------------ trace lines

/// One trace line: `[TIME] #ID PEER event`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TraceLine {
    id: u64,
    peer: String,
    event: String,
}

/// The trace line in `line`, if it is one. Other log lines start
/// `[TIME LEVEL target]`, and access lines with the client's address.
fn parse_trace(line: &str) -> Option<TraceLine> {
    let (time, rest) = line.strip_prefix('[')?.split_once("] ")?;
    if time.is_empty() || time.contains(' ') {
        return None;
    }
    let (id, rest) = rest.strip_prefix('#')?.split_once(' ')?;
    let (peer, event) = rest.split_once(' ')?;
    Some(TraceLine {
        id: id.parse().ok()?,
        peer: peer.to_string(),
        event: event.to_string(),
    })
}

/// The events of the connection from `peer`, in order.
fn events_of(lines: &[String], peer: SocketAddr) -> Vec<String> {
    let peer = peer.to_string();
    lines
        .iter()
        .filter_map(|l| parse_trace(l))
        .filter(|t| t.peer == peer)
        .map(|t| t.event)
        .collect()
}

fn numbered(events: &[String]) -> String {
    let mut out = String::new();
    for (i, e) in events.iter().enumerate() {
        out.push_str(&format!("{i:4}  {e}\n"));
    }
    out
}

/// Finds each of `wanted` (an event prefix) in `events`, in this order, each
/// after the one before; returns where each was found.
#[track_caller]
fn assert_in_order(events: &[String], wanted: &[&str]) -> Vec<usize> {
    let mut at = 0;
    let mut found = Vec::new();
    for want in wanted {
        match events[at..].iter().position(|e| e.starts_with(want)) {
            Some(i) => {
                found.push(at + i);
                at += i + 1;
            }
            None => panic!(
                "no event starting {want:?} at or after event {at}; events:\n{}",
                numbered(events)
            ),
        }
    }
    found
}

/// Checks that every trace line of the connection from `peer` carries one
/// id, that no other peer carries that id, and that its first event is the
/// accept; returns the id.
#[track_caller]
fn assert_one_tag(trace: &[TraceLine], peer: SocketAddr) -> u64 {
    let peer = peer.to_string();
    let mine: Vec<&TraceLine> = trace.iter().filter(|t| t.peer == peer).collect();
    assert!(!mine.is_empty(), "no trace line from {peer}: {trace:#?}");
    let id = mine[0].id;
    assert!(
        mine.iter().all(|t| t.id == id),
        "lines from {peer} carry different ids: {mine:#?}"
    );
    let others: Vec<&TraceLine> = trace
        .iter()
        .filter(|t| t.id == id && t.peer != peer)
        .collect();
    assert!(others.is_empty(), "#{id} is also {others:#?}");
    assert_eq!(
        mine[0].event, "accepted, terminator blank line",
        "{mine:#?}"
    );
    id
}

/// The bytes written in a `write, 1 piece: N of M bytes`, `write, K pieces
/// copied into one: N of M bytes`, `writev, K pieces gathered: N of M
/// bytes` or `sendfile: N of M bytes` event.
fn written(event: &str) -> Option<u64> {
    let (how, rest) = event.split_once(": ")?;
    if !(how.starts_with("write") || how == "sendfile") {
        return None;
    }
    rest.split(' ').next()?.parse().ok()
}

/// The total written to this connection, as its trace tells it.
fn total_written(events: &[String]) -> u64 {
    events.iter().filter_map(|e| written(e)).sum()
}

/// `read N bytes ...` as N.
fn read_bytes(event: &str) -> Option<usize> {
    event.strip_prefix("read ")?.split(' ').next()?.parse().ok()
}

// ---------------------------------------------------------------- clients

/// Reads one response to a request with a body (not HEAD, not 1xx/204/304);
/// returns its status and its size on the wire.
fn read_raw_response(c: &mut Client) -> (u16, usize) {
    let mut line = String::new();
    let mut size = c.reader.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut length = None;
    loop {
        line.clear();
        let n = c.reader.read_line(&mut line).unwrap();
        assert!(n > 0, "end of stream in a head");
        size += n;
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = Some(v.trim().parse::<usize>().unwrap());
        }
    }
    let length = length.expect("a Content-Length");
    let mut body = vec![0; length];
    c.reader.read_exact(&mut body).unwrap();
    (status, size + length)
}

/// A TCP socket bound to `ip` and a free port, not yet connected, and its
/// address (known before the server starts).
fn bound_socket(ip: Ipv4Addr) -> (OwnedFd, SocketAddr) {
    use rustix::net::{AddressFamily, SocketType, bind, getsockname, socket};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    bind(&fd, &SocketAddr::new(IpAddr::V4(ip), 0)).unwrap();
    let local: SocketAddr = getsockname(&fd).unwrap().try_into().unwrap();
    (fd, local)
}

/// Connects a socket from [`bound_socket`] to `addr`.
fn connect_socket(fd: OwnedFd, addr: SocketAddr) -> Client {
    rustix::net::connect(&fd, &addr).unwrap();
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_write_timeout(Some(PATIENCE)).unwrap();
    s.set_nodelay(true).unwrap();
    Client {
        reader: BufReader::new(s),
    }
}

/// A client whose local address is `ip` (any 127.x.y.z is loopback).
fn connect_from(ip: Ipv4Addr, addr: SocketAddr) -> Client {
    connect_socket(bound_socket(ip).0, addr)
}

fn local(c: &mut Client) -> SocketAddr {
    c.stream().local_addr().unwrap()
}

/// GETs `/a.txt`, checks the answer, closes, and returns the client's
/// address.
fn get_a_txt(mut c: Client) -> SocketAddr {
    let me = local(&mut c);
    let r = c.request(get("/a.txt"));
    assert_eq!((r.status, r.text().as_str()), (200, A_TXT));
    me
}

// ------------------------------------------------------------------ tests

#[test]
fn a_pipelined_post_and_get_are_traced_in_order() {
    let root = a_txt_root("trace-pipeline");
    let mut httpd = Httpd::start(root.path(), &["--trace"]);
    let mut c = Client::connect(httpd.addr);
    let me = local(&mut c);
    let post = "POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello";
    let both = format!("{post}{}", get("/a.txt"));
    c.send(&both);
    let (s1, n1) = read_raw_response(&mut c);
    let (s2, n2) = read_raw_response(&mut c);
    assert_eq!((s1, s2), (405, 200));
    drop(c);

    let events = httpd.wait_event(me, "close: ");
    let found = assert_in_order(
        &events,
        &[
            "accepted, terminator blank line",
            "read ",
            // The whole head is one record: its lines, without the empty one.
            "search blank line: found at 53 of ",
            "collect_incoming_data 53 bytes \"POST /a.txt HTTP/1.1\\r\\nHost: test\\r\\nContent-Length\"...+5",
            "found_terminator",
            "head POST /a.txt HTTP/1.1: body of Content-Length 5",
            "set_terminator blank line -> 5 bytes",
            "count: took 5, complete",
            "collect_incoming_data 5 bytes \"hello\"",
            "found_terminator",
            "respond 405, body ",
            "push ",
            "set_terminator 0 bytes -> blank line",
            "search blank line: found at 33 of ",
            "collect_incoming_data 33 bytes \"GET /a.txt HTTP/1.1\\r\\nHost: test\\r\\n\"",
            "found_terminator",
            "head GET /a.txt HTTP/1.1: no body",
            "respond 200, body 17 bytes, then keep alive",
            "push ",
            "write, ",
            "read: end of stream",
            "close: ",
        ],
    );
    let ev = |i: usize| events[found[i]].as_str();
    // The search for the head's end found it in the whole read.
    let first_read = read_bytes(ev(1)).unwrap();
    assert!(ev(2).ends_with(&format!(" of {first_read}")), "{}", ev(2));
    // Every byte sent was read; every byte received was written.
    let reads: usize = events.iter().filter_map(|e| read_bytes(e)).sum();
    assert_eq!(reads, both.len(), "{}", numbered(&events));
    assert_eq!(
        total_written(&events),
        (n1 + n2) as u64,
        "{}",
        numbered(&events)
    );
    // Both responses left in one gathered write (small pieces copied into
    // one buffer): as many pieces as were pushed before it.
    let writev = ev(19);
    let pushes = events[..found[19]]
        .iter()
        .filter(|e| e.starts_with("push "))
        .count();
    assert!(
        writev.starts_with(&format!(
            "write, {pushes} pieces copied into one: {} of ",
            n1 + n2
        )),
        "{pushes} pushes, then {writev:?}"
    );
    assert_eq!(ev(21), "close: done");
    // The close is the last event.
    assert_eq!(found[21], events.len() - 1, "{}", numbered(&events));
    assert_one_tag(&httpd.trace(), me);
}

#[test]
fn a_chunked_body_walks_its_framing_line_by_line() {
    let root = a_txt_root("trace-chunked");
    let mut httpd = Httpd::start(root.path(), &["--trace"]);
    let mut c = Client::connect(httpd.addr);
    let me = local(&mut c);
    c.send(
        "POST /a.txt HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
         1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: yes\r\n\r\n",
    );
    assert_eq!(read_raw_response(&mut c).0, 405);
    let events = httpd.wait_event(me, "respond 405");
    let found = assert_in_order(
        &events,
        &[
            "head POST /a.txt HTTP/1.1: chunked body",
            "set_terminator blank line -> \"\\n\"",
            // The chunk-size line, in hex.
            "collect_incoming_data 3 bytes \"1a\\r\"",
            "found_terminator",
            "set_terminator \"\\n\" -> 26 bytes",
            "count: took 26, complete",
            "collect_incoming_data 26 bytes \"abcdefghijklmnopqrstuvwxyz\"",
            "found_terminator",
            // The CRLF after the chunk data.
            "set_terminator 0 bytes -> \"\\n\"",
            "collect_incoming_data 1 bytes \"\\r\"",
            "found_terminator",
            // The last chunk, its trailer, the blank line.
            "collect_incoming_data 2 bytes \"0\\r\"",
            "found_terminator",
            "collect_incoming_data 15 bytes \"X-Trailer: yes\\r\"",
            "found_terminator",
            "collect_incoming_data 1 bytes \"\\r\"",
            "found_terminator",
            "respond 405, body ",
        ],
    );
    // From the CRLF line to the response the terminator stays "\n": every
    // line is found by a search, and nothing is counted.
    let tail = &events[found[8] + 1..found[17]];
    assert!(
        !tail
            .iter()
            .any(|e| e.starts_with("set_terminator") || e.starts_with("count")),
        "{}",
        numbered(&events)
    );
    let searches = tail.iter().filter(|e| e.starts_with("search ")).count();
    assert_eq!(
        searches,
        4,
        "CRLF, size 0, trailer, blank:\n{}",
        numbered(tail)
    );
    assert!(
        tail.iter()
            .filter(|e| e.starts_with("search "))
            .all(|e| e.starts_with("search \"\\n\": found at ")),
        "{}",
        numbered(tail)
    );
}

#[test]
fn long_data_is_shortened_and_control_bytes_escaped() {
    let root = a_txt_root("trace-shown");
    let mut httpd = Httpd::start(root.path(), &["--trace"]);
    let mut c = Client::connect(httpd.addr);
    let me = local(&mut c);
    // The head is exactly 48 bytes up to "Content-Length"; the body starts
    // with bytes that must be escaped.
    let mut body = b"\x00\x01\x1b\x7f\xff\t\"\\".to_vec();
    body.extend_from_slice(&[b'y'; 92]);
    let mut request = b"POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n".to_vec();
    request.extend_from_slice(&body);
    c.send(&request);
    assert_eq!(read_raw_response(&mut c).0, 405);
    let events = httpd.wait_event(me, "respond 405");

    let read = format!(
        "read {} bytes \"POST /a.txt HTTP/1.1\\r\\nHost: test\\r\\nContent-Length\"...+{}",
        request.len(),
        request.len() - 48
    );
    let collected = format!(
        "collect_incoming_data 100 bytes \"\\x00\\x01\\x1b\\x7f\\xff\\t\\\"\\\\{}\"...+52",
        "y".repeat(40)
    );
    assert_in_order(
        &events,
        &[&read, "head POST", &collected, "found_terminator"],
    );
    // Whatever was sent, every line is one line of printable text.
    for line in &httpd.lines {
        assert!(
            line.chars().all(|ch| !ch.is_control()),
            "a control character in {line:?}"
        );
    }
    // Short data is shown whole.
    c.send("POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(read_raw_response(&mut c).0, 405);
    let events = httpd.wait_event(me, "collect_incoming_data 3 bytes");
    assert_in_order(&events, &["collect_incoming_data 3 bytes \"abc\""]);
}

#[test]
fn a_large_file_goes_out_with_sendfile() {
    let root = a_txt_root("trace-sendfile");
    let data: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    root.file("big.bin", &data);
    let mut httpd = Httpd::start(root.path(), &["--trace"]);
    let mut c = Client::connect(httpd.addr);
    let me = local(&mut c);
    c.send(get("/big.bin"));
    let (status, size) = read_raw_response(&mut c);
    assert_eq!(status, 200);
    assert!(size > data.len());
    httpd.wait_event(me, "respond 200");
    let done = |lines: &[String]| total_written(&events_of(lines, me)) == size as u64;
    httpd.wait_until("every byte written", done);
    let events = events_of(&httpd.lines, me);
    assert_in_order(
        &events,
        &[
            &format!("respond 200, body {} bytes", data.len()),
            "push producer ",
            "sendfile: ",
        ],
    );
    let sent: u64 = events
        .iter()
        .filter(|e| e.starts_with("sendfile: "))
        .filter_map(|e| written(e))
        .sum();
    assert!(
        sent > 0 && sent <= data.len() as u64,
        "{}",
        numbered(&events)
    );
}

#[test]
fn back_pressure_turns_on_while_the_client_does_not_read_and_off_when_it_does() {
    let root = a_txt_root("trace-pressure");
    // Each listing is about 400 kB; twenty of them are far more than the
    // kernel buffers (the client's is small) and the 1 MiB of output a
    // channel holds before it stops reading.
    let long = "x".repeat(150);
    for i in 0..1000 {
        root.file(&format!("big/{long}-{i:04}.txt"), "");
    }
    let mut httpd = Httpd::start(root.path(), &["--trace", "-q"]);
    let (fd, me) = bound_socket(Ipv4Addr::LOCALHOST);
    rustix::net::sockopt::set_socket_recv_buffer_size(&fd, 16 * 1024).unwrap();
    let mut c = connect_socket(fd, httpd.addr);
    const REQUESTS: usize = 20;
    c.send(get("/big/").repeat(REQUESTS));

    let events = httpd.wait_event(me, "back-pressure on");
    let on = events
        .iter()
        .find(|e| e.starts_with("back-pressure on"))
        .unwrap();
    assert!(pressure_bytes(on) >= 1 << 20, "{on}");
    // It stays on while the client does not read: another client is
    // served meanwhile (its lines are a mark in the log), and the kernel's
    // buffers are far too small to take the rest.
    let other = get_a_txt(Client::connect(httpd.addr));
    httpd.wait_event(other, "close: ");
    let before: Vec<String> = events_of(&httpd.lines, me)
        .into_iter()
        .filter(|e| e.starts_with("back-pressure "))
        .collect();
    assert_eq!(
        before.len(),
        1,
        "pressure eased without a read: {before:#?}"
    );

    // Now read everything.
    for _ in 0..REQUESTS {
        assert_eq!(read_raw_response(&mut c).0, 200);
    }
    httpd.wait_until("the last back-pressure event to be off", |lines| {
        let events = events_of(lines, me);
        let last = events
            .iter()
            .rev()
            .find(|e| e.starts_with("back-pressure "));
        last.is_some_and(|e| e.starts_with("back-pressure off"))
    });
    // On and off alternate, starting with on.
    let events = events_of(&httpd.lines, me);
    let switches: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("back-pressure "))
        .collect();
    for (i, e) in switches.iter().enumerate() {
        let want = if i % 2 == 0 { "on" } else { "off" };
        assert!(
            e.starts_with(&format!("back-pressure {want}:")),
            "switch {i}: {e}\n{}",
            numbered(&events)
        );
        if want == "off" {
            assert!(pressure_bytes(e) < 1 << 20, "{e}");
        }
    }
    assert_one_tag(&httpd.trace(), me);
}

/// `back-pressure on: N items, B bytes queued` as B.
fn pressure_bytes(event: &str) -> u64 {
    event
        .rsplit(", ")
        .next()
        .and_then(|s| s.strip_suffix(" bytes queued"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no queued bytes in {event:?}"))
}

#[test]
fn an_idle_connection_times_out_and_closes() {
    let root = a_txt_root("trace-timeout");
    let mut httpd = Httpd::start(root.path(), &["--trace", "--timeout", "1"]);
    let mut idle = Client::connect(httpd.addr);
    let me = local(&mut idle);
    assert!(idle.is_closed(), "the server closes an idle connection");
    let events = httpd.wait_event(me, "close: ");
    let found = assert_in_order(&events, &["accepted", "timeout", "close: "]);
    assert_eq!(events[found[2]], "close: timeout", "{}", numbered(&events));
    assert!(
        !events.iter().any(|e| e.starts_with("read ")),
        "{}",
        numbered(&events)
    );
}

/// Serves two connections one after the other (ids 1 and 2) and a third
/// from 127.0.0.2, the second from the socket `second`; stops the server
/// and returns its trace, with the three clients' addresses.
fn three_connections(httpd: &mut Httpd, second: OwnedFd) -> (Vec<TraceLine>, [SocketAddr; 3]) {
    // Each is served, so accepted and numbered, before the next is made
    // (its end of stream may come later, which does not change ids).
    let first = get_a_txt(Client::connect(httpd.addr));
    let second = get_a_txt(connect_socket(second, httpd.addr));
    let third = get_a_txt(connect_from(Ipv4Addr::new(127, 0, 0, 2), httpd.addr));
    httpd.wait_until("three access lines", |lines| {
        lines.iter().filter(|l| l.contains("\"GET /a.txt")).count() == 3
    });
    // SIGTERM ends the process once every connection is closed; everything
    // it logged is then on stderr.
    assert!(httpd.stop().success());
    (httpd.trace(), [first, second, third])
}

#[test]
fn trace_filter_by_id_shows_only_that_connection() {
    let root = a_txt_root("trace-filter-id");
    let mut httpd = Httpd::start(root.path(), &["--trace-filter", "#2"]);
    let (fd, _) = bound_socket(Ipv4Addr::LOCALHOST);
    let (trace, [_, second, _]) = three_connections(&mut httpd, fd);
    let peer = second.to_string();
    assert!(!trace.is_empty(), "no trace at all: {:?}", httpd.lines);
    assert!(
        trace.iter().all(|t| t.id == 2 && t.peer == peer),
        "{trace:#?}"
    );
    assert!(trace.iter().any(|t| t.event.starts_with("close: ")));
    // `2` without `#` is the same filter.
    let mut httpd = Httpd::start(root.path(), &["--trace-filter", "2"]);
    let (fd, _) = bound_socket(Ipv4Addr::LOCALHOST);
    let (trace, [_, second, _]) = three_connections(&mut httpd, fd);
    assert!(!trace.is_empty());
    assert!(
        trace
            .iter()
            .all(|t| t.id == 2 && t.peer == second.to_string())
    );
}

#[test]
fn trace_filter_by_address_and_port_shows_only_that_connection() {
    let root = a_txt_root("trace-filter-peer");
    // The second client's port is known before the server starts.
    let (fd, second) = bound_socket(Ipv4Addr::LOCALHOST);
    let mut httpd = Httpd::start(root.path(), &["--trace-filter", &second.to_string()]);
    let (trace, clients) = three_connections(&mut httpd, fd);
    assert_eq!(clients[1], second);
    assert!(!trace.is_empty(), "no trace at all: {:?}", httpd.lines);
    assert!(
        trace
            .iter()
            .all(|t| t.id == 2 && t.peer == second.to_string()),
        "{trace:#?}"
    );
    assert!(trace.iter().any(|t| t.event.starts_with("head GET /a.txt")));
}

#[test]
fn trace_filter_by_ip_shows_only_connections_from_it() {
    let root = a_txt_root("trace-filter-ip");
    let mut httpd = Httpd::start(root.path(), &["--trace-filter", "127.0.0.2"]);
    let (fd, _) = bound_socket(Ipv4Addr::LOCALHOST);
    let (trace, [_, _, third]) = three_connections(&mut httpd, fd);
    assert!(!trace.is_empty(), "no trace at all: {:?}", httpd.lines);
    assert!(
        trace
            .iter()
            .all(|t| t.id == 3 && t.peer == third.to_string()),
        "{trace:#?}"
    );
}

#[test]
fn a_bad_trace_filter_is_a_usage_error() {
    let root = a_txt_root("trace-filter-bad");
    for bad in ["localhost", "#x", "127.0.0.1:"] {
        let (status, out, err) =
            run_binary(&[path_str(root.path()), "-p", "0", "--trace-filter", bad]);
        assert_eq!(status.code(), Some(2), "{bad}: {status:?} {err}");
        assert!(out.is_empty(), "{bad}: {out}");
        assert!(err.contains("--trace-filter"), "{bad}: {err}");
        assert!(
            err.contains(&format!(
                "{bad:?} is not a connection id (7 or #7), an IP address or an address:port"
            )),
            "{bad}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn rust_log_enables_the_trace_without_the_flag() {
    let root = a_txt_root("trace-rust-log");
    let mut httpd = Httpd::start_env(root.path(), &[], &[("RUST_LOG", "asynchat=trace")]);
    let me = get_a_txt(Client::connect(httpd.addr));
    let events = httpd.wait_event(me, "close: ");
    assert_in_order(
        &events,
        &[
            "accepted",
            "read ",
            "head GET /a.txt HTTP/1.1: no body",
            "respond 200",
            "close: ",
        ],
    );
}

#[test]
fn without_trace_there_are_no_trace_lines() {
    let root = a_txt_root("trace-off");
    let mut httpd = Httpd::start(root.path(), &[]);
    let mut c = Client::connect(httpd.addr);
    c.send("POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(read_raw_response(&mut c).0, 405);
    get_a_txt(c);
    get_a_txt(Client::connect(httpd.addr));
    httpd.wait_until("three access lines", |lines| {
        lines
            .iter()
            .filter(|l| l.contains("\" 405 ") || l.contains("\" 200 "))
            .count()
            == 3
    });
    assert!(httpd.stop().success());
    assert!(httpd.trace().is_empty(), "{:#?}", httpd.lines);
    assert!(
        !httpd
            .lines
            .iter()
            .any(|l| l.contains("search ") || l.contains("set_terminator")),
        "{:#?}",
        httpd.lines
    );
}

/// Regression (found when these tests were written): with `--bind ::` an IPv4 client's
/// peer is the IPv4-mapped `::ffff:127.0.0.1`, and `--trace-filter
/// 127.0.0.1` (a `Filter::Ip` compared with `==`) never matches it, so
/// nothing was traced. `Filter::matches` now compares canonical addresses
/// (`IpAddr::to_canonical`).
#[test]
fn trace_filter_by_ipv4_matches_ipv4_clients_of_a_dual_stack_server() {
    let root = a_txt_root("trace-filter-v6");
    let mut httpd = Httpd::spawn_on_any(root.path(), &["--trace-filter", "127.0.0.1"]);
    let Some(httpd) = httpd.as_mut() else {
        return;
    };
    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), httpd.addr.port());
    get_a_txt(Client::connect(v4));
    httpd.wait_until("the access line", |lines| {
        lines
            .iter()
            .any(|l| l.contains("\"GET /a.txt HTTP/1.1\" 200"))
    });
    assert!(httpd.stop().success());
    let trace = httpd.trace();
    assert!(
        trace.iter().any(|t| t.event.starts_with("head GET /a.txt")),
        "an IPv4 client of a server on :: is not traced by --trace-filter 127.0.0.1; stderr:\n{}",
        httpd.lines.join("\n")
    );
    // The tag names the client as IPv4, not as ::ffff:127.0.0.1.
    for t in &trace {
        assert!(t.peer.starts_with("127.0.0.1:"), "tag peer {:?}", t.peer);
    }
}

impl Httpd {
    /// A server on `::` (dual stack), or `None` (with a message) where the
    /// machine has no IPv6.
    fn spawn_on_any(root: &Path, args: &[&str]) -> Option<Httpd> {
        if std::net::TcpListener::bind("[::]:0").is_err() {
            eprintln!("SKIPPED: cannot bind [::]:0 (no IPv6)");
            return None;
        }
        let mut all = vec!["-b", "::"];
        all.extend_from_slice(args);
        Some(Httpd::start(root, &all))
    }
}
