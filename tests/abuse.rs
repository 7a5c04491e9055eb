//! Hostile clients, at modest sizes: slowloris, readers that never read,
//! descriptor exhaustion, many idle keep-alive connections, resets,
//! half-closes and clients that vanish mid-`sendfile`.
//!
//! Timing is only ever checked for functional timeouts, with upper bounds
//! several times the configured timeout, and for liveness, with generous
//! bounds; nothing here measures performance.
//!
//! Resident memory and `/proc/self/fd` belong to the whole test process,
//! which runs the tests of this file in parallel threads. The two tests that
//! measure them take [`exclusive`], every other test takes [`shared`], so a
//! measurement never overlaps another test of this file.

mod common;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant};

use asynchat::http::Config;
use common::*;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

const A: &str = "hello from a.txt\n";
const BIG: u64 = 8 << 20;

static LOCK: RwLock<()> = RwLock::new(());

/// For tests that do not measure process-wide resources.
fn shared() -> RwLockReadGuard<'static, ()> {
    LOCK.read().unwrap_or_else(|e| e.into_inner())
}

/// For tests that measure RSS or descriptors: nothing else in this file
/// runs meanwhile.
fn exclusive() -> RwLockWriteGuard<'static, ()> {
    LOCK.write().unwrap_or_else(|e| e.into_inner())
}

/// A root with `a.txt` and an 8 MiB `big.bin` (served with `sendfile`).
fn docroot(tag: &str) -> TempDir {
    let root = TempDir::new(tag);
    root.file("a.txt", A);
    let big: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
    root.file("big.bin", big);
    root
}

/// Polls `/proc/self/fd` until at most `target` are open or `limit` passes;
/// returns the last count.
fn wait_for_descriptors(target: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let n = open_descriptors();
        if n <= target || Instant::now() > deadline {
            return n;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Raises this process's soft descriptor limit to the hard one, and returns
/// the soft limit in force.
fn raise_own_descriptor_limit() -> u64 {
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(soft), Some(hard)) = (limit.current, limit.maximum)
        && soft < hard
    {
        limit.current = Some(hard);
        let _ = setrlimit(Resource::Nofile, limit);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Reads one response's head (as if to HEAD) and then exactly its
/// Content-Length body into a sink, so a large body costs no memory.
/// Returns the status and the body length read.
fn read_response_into_sink(c: &mut Client) -> io::Result<(u16, u64)> {
    let r = c.read_response_to("HEAD")?;
    let len: u64 = r.header("content-length").map_or(0, |v| v.parse().unwrap());
    let got = io::copy(&mut (&mut c.reader).take(len), &mut io::sink())?;
    Ok((r.status, got))
}

/// Sends SO_LINGER 0 and drops the socket: the peer gets a RST, not a FIN.
fn reset(s: TcpStream) {
    rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO)).unwrap();
    drop(s);
}

// ---------------------------------------------------------------------------
// Slowloris
// ---------------------------------------------------------------------------

/// One connection trickling a head.
struct Trickler {
    s: TcpStream,
    sent: usize,
    first_byte: Option<Instant>,
    got: Vec<u8>,
    closed: Option<Instant>,
}

impl Trickler {
    /// Reads whatever is there; notes the close (end of stream or reset).
    fn poll_read(&mut self) {
        let mut buf = [0; 4096];
        while self.closed.is_none() {
            match self.s.read(&mut buf) {
                Ok(0) => self.closed = Some(Instant::now()),
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.closed = Some(Instant::now()),
            }
        }
    }

    /// Sends the next byte of `head`.
    fn trickle(&mut self, head: &[u8]) {
        if self.closed.is_some() || self.sent >= head.len() {
            return;
        }
        let before = Instant::now();
        match self.s.write(&head[self.sent..=self.sent]) {
            Ok(1) => {
                self.first_byte.get_or_insert(before);
                self.sent += 1;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => self.closed = Some(Instant::now()),
        }
    }
}

#[test]
fn slowloris_is_cut_by_the_header_timeout_while_others_are_served() {
    let _g = shared();
    const CONNECTIONS: usize = 200;
    const PERIOD: Duration = Duration::from_millis(150);
    let header_timeout = Duration::from_secs(1);
    let root = TempDir::new("abuse-slowloris");
    root.file("a.txt", A);
    let mut cfg = Config::new(root.path()).unwrap();
    cfg.header_timeout = header_timeout;
    let server = TestServer::start(cfg);
    // About 330 bytes: 50 s at one byte per 150 ms, if it were let through.
    let head = get_with("/a.txt", &format!("X-Padding: {}\r\n", "p".repeat(300)));
    let head = head.as_bytes();

    let mut ts: Vec<Trickler> = (0..CONNECTIONS)
        .map(|_| {
            let s = TcpStream::connect(server.addr).unwrap();
            s.set_nodelay(true).unwrap();
            s.set_nonblocking(true).unwrap();
            Trickler {
                s,
                sent: 0,
                first_byte: None,
                got: Vec::new(),
                closed: None,
            }
        })
        .collect();

    // Normal clients, on their own thread, while the trickle goes on.
    let addr = server.addr;
    let normal = thread::spawn(move || {
        let mut took = Vec::new();
        for _ in 0..3 {
            thread::sleep(Duration::from_millis(250));
            let started = Instant::now();
            let r = Client::connect(addr).request(get("/a.txt"));
            assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
            took.push(started.elapsed());
        }
        took
    });

    let started = Instant::now();
    let give_up = Duration::from_secs(12);
    loop {
        let round = Instant::now();
        for t in &mut ts {
            t.poll_read();
            t.trickle(head);
        }
        if ts.iter().all(|t| t.closed.is_some()) || started.elapsed() > give_up {
            break;
        }
        thread::sleep(PERIOD.saturating_sub(round.elapsed()));
    }

    let took = normal.join().expect("normal clients were served");
    for d in &took {
        // Liveness, not performance: generous for a loaded debug build.
        assert!(*d < Duration::from_secs(3), "a normal request took {d:?}");
    }
    let open = ts.iter().filter(|t| t.closed.is_none()).count();
    assert_eq!(
        open, 0,
        "{open} trickling connections still open after {give_up:?}"
    );
    let mut lives = Vec::new();
    for (i, t) in ts.iter().enumerate() {
        let life = t.closed.unwrap() - t.first_byte.expect("a byte was sent");
        lives.push(life);
        // The timeout runs from the first byte and is not reset by later
        // ones: closed no earlier than the timeout, and long before the
        // head could have been finished.
        assert!(life >= header_timeout, "#{i} closed after only {life:?}");
        assert!(
            life <= header_timeout * 5,
            "#{i} closed after {life:?} ({} bytes sent)",
            t.sent
        );
        assert!(
            t.sent > 1 && t.sent < head.len(),
            "#{i} sent {} bytes",
            t.sent
        );
        assert!(
            t.got.is_empty() || t.got.starts_with(b"HTTP/1.1 408 "),
            "#{i}: {:?}",
            String::from_utf8_lossy(&t.got)
        );
    }
    lives.sort();
    eprintln!(
        "slowloris: {CONNECTIONS} closed after {:?} .. {:?} (header timeout {header_timeout:?}); \
         normal requests took {took:?}",
        lives[0],
        lives[lives.len() - 1]
    );
    // And the server is still fine.
    let r = server.connect().request(get("/a.txt"));
    assert_eq!(r.status, 200);
}

// ---------------------------------------------------------------------------
// Slow readers
// ---------------------------------------------------------------------------

#[test]
fn readers_that_never_read_stay_bounded_and_are_cut_by_the_send_timeout() {
    let _g = exclusive();
    const HOGS: usize = 16;
    const PIPELINED: usize = 250;
    let send_timeout = Duration::from_secs(1);
    let root = docroot("abuse-slow-readers");
    let mut cfg = Config::new(root.path()).unwrap();
    cfg.send_timeout = send_timeout;
    let server = TestServer::start(cfg);

    // Warm up: the file opened and cached, the page cache filled.
    let mut warm = server.connect();
    assert_eq!(read_after(&mut warm, &get("/big.bin")), (200, BIG));
    drop(warm);
    let before = stable_rss_kib(Duration::from_secs(5));

    // Each hog asks for 250 x 8 MiB = 2 GiB and reads nothing.
    let burst = get("/big.bin").repeat(PIPELINED);
    let mut hogs: Vec<Client> = (0..HOGS).map(|_| server.connect()).collect();
    for hog in &mut hogs {
        hog.send(&burst);
    }
    let stalled_at = Instant::now();

    // Others are served meanwhile, small files and large.
    let mut peak = rss_kib();
    let started = Instant::now();
    let r = server.connect().request(get("/a.txt"));
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    let mut other = server.connect();
    assert_eq!(read_after(&mut other, &get("/big.bin")), (200, BIG));
    let served_in = started.elapsed();
    assert!(served_in < Duration::from_secs(10), "{served_in:?}");

    // Memory while the hogs are stalled, up to well past the send timeout.
    while stalled_at.elapsed() < send_timeout * 3 {
        peak = peak.max(rss_kib());
        thread::sleep(Duration::from_millis(100));
    }
    let grown_mib = peak.saturating_sub(before) / 1024;
    // Serving the hogs from memory would take 16 x 2 GiB.
    assert!(grown_mib < 48, "memory grew by {grown_mib} MiB");

    // By now the send timeout has closed every hog: draining one gives what
    // the socket buffers held, then end of stream, far short of 2 GiB.
    let asked = PIPELINED as u64 * BIG;
    let mut drained = Vec::new();
    for (i, hog) in hogs.iter_mut().enumerate() {
        let mut got = 0u64;
        let mut buf = vec![0; 256 << 10];
        let deadline = Instant::now() + PATIENCE;
        loop {
            match hog.reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got += n as u64,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("hog #{i}: {e} after {got} bytes: not closed"),
            }
            assert!(
                Instant::now() < deadline && got < 256 << 20,
                "hog #{i} is still being served ({got} bytes): the send timeout did not cut it"
            );
        }
        assert!(got < asked / 8, "hog #{i} got {got} bytes");
        drained.push(got >> 20);
    }
    eprintln!(
        "slow readers: RSS {before} KiB before, peak +{grown_mib} MiB; \
         others served in {served_in:?}; MiB drained per hog after the cut: {drained:?}"
    );
    let r = server.connect().request(get("/a.txt"));
    assert_eq!(r.status, 200);
}

/// Sends `raw` and reads its response into a sink.
fn read_after(c: &mut Client, raw: &str) -> (u16, u64) {
    c.send(raw);
    read_response_into_sink(c).unwrap()
}

// ---------------------------------------------------------------------------
// Descriptor exhaustion (the binary, with a low RLIMIT_NOFILE)
// ---------------------------------------------------------------------------

/// Lines from a pipe, each with the time it was read.
fn timed_lines(pipe: impl Read + Send + 'static) -> Receiver<(Instant, String)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    rx
}

/// The binary, killed and reaped when dropped.
struct Httpd(Child);

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU time (user + system) of a process, in clock ticks (USER_HZ, 100 on
/// Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses: state is
    // field 3, utime 14 and stime 15.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn descriptors_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn descriptor_exhaustion_does_not_spin_and_recovers() {
    let _g = shared();
    const NOFILE: u64 = 32;
    const CLIENTS: usize = 80;
    const WINDOW: Duration = Duration::from_secs(2);
    let root = TempDir::new("abuse-emfile");
    root.file("a.txt", A);
    let mut cmd = Command::new(BIN);
    cmd.args([root.path().to_str().unwrap(), "-p", "0", "-q"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let limit = Rlimit {
        current: Some(NOFILE),
        maximum: Some(NOFILE),
    };
    // SAFETY: the closure only calls setrlimit(2), which is
    // async-signal-safe, and converts its errno without allocating. Both
    // limits are lowered, since the binary raises its soft limit to the
    // hard one.
    unsafe {
        cmd.pre_exec(move || setrlimit(Resource::Nofile, limit).map_err(io::Error::from));
    }
    let mut child = Httpd(cmd.spawn().unwrap());
    let pid = child.0.id();
    let stdout = timed_lines(child.0.stdout.take().unwrap());
    let stderr = timed_lines(child.0.stderr.take().unwrap());
    let (_, line) = stdout.recv_timeout(PATIENCE).expect("a start-up line");
    let addr: SocketAddr = line
        .rsplit(" at http://")
        .next()
        .and_then(|s| s.strip_suffix('/'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert!(
        nofile.split_whitespace().nth(3) == Some(&NOFILE.to_string()),
        "{nofile}"
    );

    // More clients than the server has descriptors: the rest wait in the
    // listen backlog (connect succeeds, accept fails with EMFILE).
    let mut clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let warned = loop {
        match stderr.recv_timeout(PATIENCE) {
            Ok((at, l)) if l.contains("accept:") => break (at, l),
            Ok(_) => {}
            Err(e) => panic!("no EMFILE warning: {e:?}"),
        }
    };
    assert!(
        warned.1.contains("Too many open files") && warned.1.contains("WARN"),
        "{}",
        warned.1
    );
    assert!(descriptors_of(pid) as u64 >= NOFILE - 1, "not exhausted");

    // While exhausted: CPU time over the window is well under the window.
    let cpu_before = cpu_ticks(pid);
    let window_start = Instant::now();
    thread::sleep(WINDOW);
    let cpu_used = cpu_ticks(pid) - cpu_before;
    let window = window_start.elapsed();
    let window_ticks = window.as_millis() as u64 / 10;
    assert!(
        cpu_used * 2 < window_ticks,
        "the server used {cpu_used} ticks of CPU in {window:?}: it spins"
    );

    // Every client goes; a new one is served.
    for c in clients.drain(..) {
        drop(c);
    }
    let started = Instant::now();
    let mut c = Client::connect(addr);
    let r = c.request(get("/a.txt"));
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    let recovered_in = started.elapsed();
    drop(c);
    assert!(child.0.try_wait().unwrap().is_none(), "the server exited");

    // The warning is rate-limited: at most one a second over the whole
    // episode (a back-off every 100 ms would log ten a second).
    let mut warnings = vec![warned.0];
    let mut other = Vec::new();
    while let Ok((at, l)) = stderr.recv_timeout(Duration::from_millis(300)) {
        if l.contains("accept:") {
            warnings.push(at);
        } else {
            other.push(l);
        }
    }
    let span = warnings.last().unwrap().duration_since(warnings[0]);
    let episode = warned.0.elapsed();
    let most = episode.as_secs() as usize + 2;
    assert!(
        warnings.len() <= most,
        "{} EMFILE warnings in {episode:?}",
        warnings.len()
    );
    assert!(other.is_empty(), "unexpected stderr: {other:?}");
    eprintln!(
        "EMFILE: {cpu_used} ticks of CPU in {window:?}; {} warnings {span:?} apart \
         in an episode of {episode:?}; recovered in {recovered_in:?}",
        warnings.len()
    );
}

// ---------------------------------------------------------------------------
// Many idle keep-alive connections
// ---------------------------------------------------------------------------

#[test]
fn many_idle_keep_alive_connections_are_served_then_closed() {
    let _g = shared();
    let keep_alive = Duration::from_secs(3);
    // Two descriptors per connection in this process (client and server),
    // with room for the other tests of this file.
    let soft = raise_own_descriptor_limit();
    let n = 1000.min((soft.saturating_sub(1200) / 2) as usize);
    assert!(n >= 100, "descriptor limit {soft} is too low for this test");
    let root = TempDir::new("abuse-idle");
    root.file("a.txt", A);
    let mut cfg = Config::new(root.path()).unwrap();
    cfg.keep_alive_timeout = keep_alive;
    let server = TestServer::start(cfg);

    let started = Instant::now();
    // Each sends its request as soon as it is connected (a connection that
    // sends nothing for the keep-alive timeout is closed, rightly), and
    // reads its response later.
    let mut clients = Vec::with_capacity(n);
    let mut sent_at = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = server.connect();
        sent_at.push(Instant::now());
        c.send(get("/a.txt"));
        clients.push(c);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let r = c.read_response();
        assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()), "#{i}");
    }
    let setup = started.elapsed();

    // All of them idle at once: every connection whose keep-alive time has
    // not yet run out is open.
    let mut confirmed_open = 0;
    for (i, c) in clients.iter_mut().enumerate() {
        c.stream().set_nonblocking(true).unwrap();
        let mut buf = [0; 1];
        let open = match c.reader.read(&mut buf) {
            Ok(0) => false,
            Ok(_) => panic!("#{i}: unexpected bytes"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            Err(_) => false,
        };
        let checked = Instant::now();
        if open {
            confirmed_open += 1;
        } else {
            assert!(
                checked >= sent_at[i] + keep_alive,
                "#{i} closed {:?} after its request",
                checked - sent_at[i]
            );
        }
        c.stream().set_nonblocking(false).unwrap();
    }

    // Then the server closes every one of them, none before its time.
    let mut lives = Vec::with_capacity(n);
    for (i, c) in clients.iter_mut().enumerate() {
        assert!(c.is_closed(), "#{i} still open");
        let life = sent_at[i].elapsed();
        assert!(life >= keep_alive, "#{i} closed after {life:?}");
        lives.push(life);
    }
    let last = *lives.iter().max().unwrap();
    // Every close was seen by now: at most a few times the timeout after
    // the last request was sent.
    let after_last = sent_at[n - 1].elapsed();
    assert!(
        after_last <= keep_alive * 4,
        "the last connection closed {after_last:?} after its request"
    );
    eprintln!(
        "idle: {n} connections served in {setup:?}, {confirmed_open} confirmed open at once, \
         all closed by {last:?} (keep-alive {keep_alive:?})"
    );
    let r = server.connect().request(get("/a.txt"));
    assert_eq!(r.status, 200);
}

// ---------------------------------------------------------------------------
// Resets, half-closes, clients vanishing mid-response
// ---------------------------------------------------------------------------

#[test]
fn resets_half_closes_and_vanishing_clients_leak_nothing() {
    let _g = exclusive();
    let root = docroot("abuse-resets");
    let server = TestServer::serve(root.path());
    let addr = server.addr;

    // Warm up (the cache holds big.bin open from here on), then let the
    // server close the warm-up connection before counting.
    let mut warm = server.connect();
    assert_eq!(read_after(&mut warm, &get("/a.txt")), (200, A.len() as u64));
    assert_eq!(read_after(&mut warm, &get("/big.bin")), (200, BIG));
    drop(warm);
    let before = settle_descriptors();

    let connect = || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s
    };
    let mut head = [0; 64 << 10];

    // Resets in the middle of a large response.
    for _ in 0..30 {
        let mut s = connect();
        s.write_all(get("/big.bin").as_bytes()).unwrap();
        s.read_exact(&mut head).unwrap();
        assert!(head.starts_with(b"HTTP/1.1 200 "));
        reset(s);
    }
    // Resets in the middle of a request head, and of a body.
    for i in 0..20 {
        let mut s = connect();
        if i % 2 == 0 {
            s.write_all(b"GET /a.txt HTTP/1.1\r\nHo").unwrap();
        } else {
            s.write_all(b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nab")
                .unwrap();
        }
        thread::sleep(Duration::from_millis(5));
        reset(s);
    }
    // Resets of idle keep-alive connections.
    for _ in 0..20 {
        let mut c = Client::connect(addr);
        assert_eq!(c.request(get("/a.txt")).status, 200);
        reset(c.reader.into_inner());
    }
    // Half-closes: the whole response still arrives, then end of stream.
    for _ in 0..10 {
        let mut c = Client::connect(addr);
        c.send(format!("{}{}", get("/a.txt"), get("/big.bin")));
        c.half_close();
        assert_eq!(
            read_response_into_sink(&mut c).unwrap(),
            (200, A.len() as u64)
        );
        assert_eq!(read_response_into_sink(&mut c).unwrap(), (200, BIG));
        assert!(c.is_closed(), "not closed after a half-close");
    }
    // Clients vanishing (a plain close) during a large sendfile, some with
    // more responses pipelined behind it.
    for i in 0..30 {
        let mut s = connect();
        s.write_all(get("/big.bin").repeat(1 + i % 4).as_bytes())
            .unwrap();
        s.read_exact(&mut head).unwrap();
        drop(s);
    }
    // ... and before the first byte of the response was read.
    for _ in 0..30 {
        let mut s = connect();
        s.write_all(get("/big.bin").as_bytes()).unwrap();
        drop(s);
    }
    // A half-close with nothing sent, and a connect-and-go.
    for _ in 0..10 {
        let s = connect();
        s.shutdown(Shutdown::Write).unwrap();
        drop(connect());
        let mut s = s;
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }

    // No crash: the server still serves, large files included.
    let mut c = server.connect();
    assert_eq!(read_after(&mut c, &get("/a.txt")), (200, A.len() as u64));
    assert_eq!(read_after(&mut c, &get("/big.bin")), (200, BIG));
    drop(c);

    // No leak: once the server has noticed every close, the descriptors
    // are back where they were.
    let after = wait_for_descriptors(before, Duration::from_secs(10));
    assert!(
        after <= before,
        "{after} descriptors open, {before} before: {} leaked",
        after - before
    );
    eprintln!("resets: {before} descriptors before, {after} after");
}

/// Waits until this process's descriptor count stops changing (the server
/// has closed what its clients closed) and returns it.
fn settle_descriptors() -> usize {
    let mut last = open_descriptors();
    let deadline = Instant::now() + PATIENCE;
    loop {
        thread::sleep(Duration::from_millis(100));
        let now = open_descriptors();
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}
