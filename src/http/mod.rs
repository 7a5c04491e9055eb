//! `asynchat-httpd`: a single-threaded HTTP/1.1 static-file server on the
//! asynchat core (or several such servers on one port, one thread each:
//! [`workers`]).
//!
//! The layers, each of which never looks upward:
//!
//! - pure functions over bytes and strings: [`head`] (request heads and
//!   framing), [`path`] (targets to safe relative paths), [`range`],
//!   [`conditional`], [`date`], [`mime`], [`listing`], [`ows`], and
//!   [`error`], the one error type with its mapping to status codes;
//! - [`response`]: from a parsed request to a [`response::Answer`],
//!   touching the file system but no socket;
//! - [`conn`]: the [`conn::HttpChannel`] handler that walks each request's
//!   framing with terminator switches;
//! - [`Server`]: a [`Reactor`] with one listener, the connection cap and
//!   graceful shutdown;
//! - [`workers::Workers`]: several servers on one port, each on a thread of
//!   its own (`--workers N`).
//!
//! Tests build a [`Config`] directly and run a [`Server`] on `127.0.0.1:0`;
//! `main.rs` only turns flags into a `Config`.

pub mod access;
pub mod auth;
pub mod beneath;
pub mod byteranges;
pub mod cache;
pub mod conditional;
pub mod conn;
pub mod date;
pub mod encoding;
pub mod error;
pub mod head;
pub mod listing;
mod memory;
pub mod mime;
pub mod monitor;
pub mod ows;
mod pages;
pub mod path;
pub mod range;
pub mod response;
pub mod status;
pub mod upload;
pub mod workers;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capture::Sink;
use crate::channel::{Channel, Connection, Limits};
use crate::reactor::{Context, Reactor, Stopper};
use access::AccessLog;
use beneath::Root;
use cache::FileCache;
use conn::{Clock, HttpChannel};
use monitor::{Monitor, Monitors};

/// Everything the server needs to know, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory served, canonical (absolute, no symlinks).
    pub root: PathBuf,
    /// The file served for a directory request, if present.
    pub index: String,
    /// List directories that have no index file (otherwise 403).
    pub listing: bool,
    /// How long reading a directory for its listing may take; the entries
    /// not read by then are counted, not shown, and the page says so
    /// ([`listing::LISTING_BUDGET`], 50 ms, by default). The loop serves
    /// no one else meanwhile.
    pub listing_budget: Duration,
    /// Serve files and directories whose names start with a dot.
    pub hidden: bool,
    /// The most connections open at once; more wait in the listen backlog.
    /// For [`workers::Workers`], the total over every worker.
    pub max_connections: usize,
    /// From the first byte of a request to the end of its head.
    pub header_timeout: Duration,
    /// From the end of a head to the end of its body.
    pub body_timeout: Duration,
    /// How long an idle keep-alive connection is kept.
    pub keep_alive_timeout: Duration,
    /// How long queued output may make no progress (a client that stopped
    /// reading).
    pub send_timeout: Duration,
    /// The largest request body accepted (it is read and discarded); larger
    /// is 413.
    pub max_body: u64,
    /// The largest request head, its lines with their line ends but not
    /// the empty line that ends it (so a CRLF head and a bare-LF one with
    /// the same lines have the same bound); larger is 431 (414 if the
    /// request line alone, without its line end, is larger).
    pub max_head: usize,
    /// The most ranges in one Range field; more are ignored (200).
    pub max_ranges: usize,
    /// How long a graceful shutdown waits for responses in flight.
    pub grace: Duration,
    /// Per-connection back-pressure bounds.
    pub limits: Limits,
    /// Where the live status page is answered (`/.status`, say); `None`
    /// turns it off. The path is matched as sent, before the query.
    pub status_path: Option<String>,
    /// Answer the status page to clients from any address, not only from
    /// loopback.
    pub status_public: bool,
    /// Capture the traffic of every connection (or of those the sink's
    /// filters pass) to this writer (`--capture`); request bodies are
    /// marked as payload ([`crate::Channel::mark_payload`]).
    pub capture: Option<Sink>,
    /// Fields added to every response (`--header`), in order, each checked
    /// by [`Config::with_header`].
    pub headers: Vec<(String, String)>,
    /// Allow every origin (`Access-Control-Allow-Origin: *` on every
    /// response) and answer CORS preflights (`--cors`).
    pub cors: bool,
    /// Serve a file's precompressed copy (`.br`, `.zst`, `.gz` beside it)
    /// to a client that accepts its coding.
    pub precompressed: bool,
    /// A single-page app (`--spa`): a GET or HEAD of a missing path whose
    /// last segment has no extension gets the root's index file.
    pub spa: bool,
    /// The body of every 404 comes from this file (`--404`).
    pub not_found_page: Option<PathBuf>,
    /// Every request must present these credentials (`--auth`).
    pub auth: Option<auth::Credentials>,
    /// Store PUT bodies and form uploads (`--upload`); without it PUT and
    /// POST are 405.
    pub upload: bool,
    /// The largest upload stored (`--max-upload`); larger is 413.
    pub max_upload: u64,
    /// Where the access log goes: by default, `log` records.
    pub access_log: AccessLog,
}

/// Fields the server computes for each response: `--header` may not set
/// them.
pub const COMPUTED_FIELDS: &[&str] = &[
    "content-length",
    "content-range",
    "transfer-encoding",
    "connection",
    "date",
];

/// A configuration that cannot be served.
#[derive(Debug)]
pub enum ConfigError {
    /// The root does not exist or cannot be resolved.
    Root(PathBuf, io::Error),
    /// The root is not a directory.
    NotADirectory(PathBuf),
    /// The index name is not a plain file name.
    BadIndex(String),
    /// The status page path is not an absolute URL path.
    BadStatusPath(String),
    /// A setting from a capture's header has a value that is not one
    /// ([`Config::with_capture_fields`]).
    BadCaptureField(String, String),
    /// A `--header` that is not `Name: value` with a token name and a value
    /// without CR, LF or NUL, or that names a field the server computes.
    BadHeader(String, &'static str),
    /// The `--404` file cannot be read.
    NotFoundPage(PathBuf, io::Error),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Root(p, e) => write!(f, "root {}: {e}", p.display()),
            ConfigError::NotADirectory(p) => write!(f, "root {} is not a directory", p.display()),
            ConfigError::BadIndex(name) => {
                write!(
                    f,
                    "index {name:?} must be a plain file name (no '/', not '.' or '..')"
                )
            }
            ConfigError::BadStatusPath(path) => write!(
                f,
                "status path {path:?} must start with '/' and hold no '?', '#' or spaces"
            ),
            ConfigError::BadCaptureField(name, value) => {
                write!(f, "the capture's {name} {value:?} is not a setting")
            }
            ConfigError::BadHeader(spec, why) => write!(f, "--header {spec:?}: {why}"),
            ConfigError::NotFoundPage(p, e) => write!(f, "--404 {}: {e}", p.display()),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The defaults for serving `root`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if `root` does not exist or is not a directory.
    pub fn new(root: impl Into<PathBuf>) -> Result<Config, ConfigError> {
        let root = root.into();
        let canonical = root
            .canonicalize()
            .map_err(|e| ConfigError::Root(root.clone(), e))?;
        if !canonical.is_dir() {
            return Err(ConfigError::NotADirectory(root));
        }
        Ok(Config {
            root: canonical,
            index: "index.html".into(),
            listing: true,
            listing_budget: listing::LISTING_BUDGET,
            hidden: false,
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(30),
            max_body: 1 << 20,
            max_head: 16 * 1024,
            max_ranges: 32,
            grace: Duration::from_secs(5),
            limits: Limits::default(),
            status_path: None,
            status_public: false,
            capture: None,
            headers: Vec::new(),
            cors: false,
            precompressed: true,
            spa: false,
            not_found_page: None,
            auth: None,
            upload: false,
            max_upload: 1 << 30,
            access_log: AccessLog::default(),
        })
    }

    /// Adds a field to every response, from `Name: value`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::BadHeader`] for a name that is not a token, a value
    /// with CR, LF or NUL, no colon, or a field the server computes
    /// ([`COMPUTED_FIELDS`]).
    pub fn with_header(mut self, spec: &str) -> Result<Config, ConfigError> {
        let bad = |why| ConfigError::BadHeader(spec.to_string(), why);
        let (name, value) = spec
            .split_once(':')
            .ok_or_else(|| bad("expected Name: value"))?;
        if name.is_empty() || !name.bytes().all(head::is_tchar) {
            return Err(bad(
                "the name must be a token (letters, digits, !#$%&'*+-.^_`|~)",
            ));
        }
        if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
            return Err(bad("the value may not hold CR, LF or NUL"));
        }
        if COMPUTED_FIELDS.iter().any(|f| name.eq_ignore_ascii_case(f)) {
            return Err(bad("the server computes this field for each response"));
        }
        self.headers
            .push((name.to_string(), ows::trim(value).to_string()));
        Ok(self)
    }

    /// Serves `path` as the body of every 404.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NotFoundPage`] when the file cannot be read now.
    pub fn with_not_found_page(mut self, path: impl Into<PathBuf>) -> Result<Config, ConfigError> {
        let path = path.into();
        match std::fs::File::open(&path).and_then(|f| {
            let meta = f.metadata()?;
            if meta.is_file() {
                Ok(())
            } else {
                Err(io::Error::other("not a regular file"))
            }
        }) {
            Ok(()) => {
                self.not_found_page = Some(path);
                Ok(self)
            }
            Err(e) => Err(ConfigError::NotFoundPage(path, e)),
        }
    }

    /// The fields added to every response: `--header`s, and
    /// `Access-Control-Allow-Origin: *` for `--cors`; rendered once.
    fn extra_fields(&self) -> Option<Rc<[u8]>> {
        let mut out = String::new();
        if self.cors {
            out.push_str("Access-Control-Allow-Origin: *\r\n");
        }
        for (name, value) in &self.headers {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        (!out.is_empty()).then(|| Rc::from(out.into_bytes()))
    }

    /// Sets the index file name.
    ///
    /// # Errors
    ///
    /// [`ConfigError::BadIndex`] for a name with a `/`, an empty name, `.`
    /// or `..`.
    pub fn with_index(mut self, name: &str) -> Result<Config, ConfigError> {
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains('/')
            || name.contains('\0')
        {
            return Err(ConfigError::BadIndex(name.to_string()));
        }
        self.index = name.to_string();
        Ok(self)
    }

    /// Answers the live status page at `path`, which must start with `/`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::BadStatusPath`] for a path that does not start with
    /// `/` or holds a `?`, `#` or whitespace.
    pub fn with_status(mut self, path: &str) -> Result<Config, ConfigError> {
        if !path.starts_with('/') || path.contains(['?', '#']) || path.contains(char::is_whitespace)
        {
            return Err(ConfigError::BadStatusPath(path.to_string()));
        }
        self.status_path = Some(path.to_string());
        Ok(self)
    }

    /// The settings that decide how a request is answered, as capture
    /// header fields (`max-body`, `index`, `listing`, `hidden`, `status`,
    /// `status-public`, `upload`, `max-upload`), so that a replay can
    /// answer as this server did.
    /// Timeouts are left out: a capture records when they fired.
    pub fn capture_fields(&self) -> Vec<(String, String)> {
        let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
        vec![
            ("max-body".into(), self.max_body.to_string()),
            ("index".into(), self.index.clone()),
            ("listing".into(), yes(self.listing)),
            ("hidden".into(), yes(self.hidden)),
            (
                "status".into(),
                self.status_path.clone().unwrap_or_else(|| "-".into()),
            ),
            ("status-public".into(), yes(self.status_public)),
            ("upload".into(), yes(self.upload)),
            ("max-upload".into(), self.max_upload.to_string()),
        ]
    }

    /// Applies the settings of [`Config::capture_fields`] found among
    /// `fields` (others are ignored).
    ///
    /// # Errors
    ///
    /// [`ConfigError::BadCaptureField`] for a value that is not a setting,
    /// and the errors of [`Config::with_index`] and [`Config::with_status`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchat::http::Config;
    ///
    /// let mut served = Config::new(".").unwrap();
    /// served.max_body = 4096;
    /// served.listing = false;
    /// let replayed = Config::new(".").unwrap().with_capture_fields(&served.capture_fields()).unwrap();
    /// assert_eq!((replayed.max_body, replayed.listing), (4096, false));
    /// ```
    pub fn with_capture_fields(
        mut self,
        fields: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        for (name, value) in fields {
            let bad = || ConfigError::BadCaptureField(name.clone(), value.clone());
            let yes = || match value.as_str() {
                "yes" => Ok(true),
                "no" => Ok(false),
                _ => Err(bad()),
            };
            match name.as_str() {
                "max-body" => self.max_body = value.parse().map_err(|_| bad())?,
                "index" => self = self.with_index(value)?,
                "listing" => self.listing = yes()?,
                "hidden" => self.hidden = yes()?,
                "status" if value == "-" => self.status_path = None,
                "status" => self = self.with_status(value)?,
                "status-public" => self.status_public = yes()?,
                "upload" => self.upload = yes()?,
                "max-upload" => self.max_upload = value.parse().map_err(|_| bad())?,
                _ => {}
            }
        }
        Ok(self)
    }

    /// Sets every timeout (header, body, keep-alive, send) to `t`.
    pub fn with_timeout(mut self, t: Duration) -> Config {
        self.header_timeout = t;
        self.body_timeout = t;
        self.keep_alive_timeout = t;
        self.send_timeout = t;
        self
    }
}

/// What the server's channels share: the configuration, the file cache,
/// the clock and the counters. Each worker has its own (it is not `Send`),
/// and only the counters are seen by the other workers.
pub struct Shared {
    /// The configuration.
    pub config: Config,
    /// The root directory, held open: every file is opened beneath it.
    pub root: Root,
    pub(crate) cache: RefCell<FileCache>,
    pub(crate) clock: RefCell<Clock>,
    /// The access log lines of this turn of the loop.
    pub(crate) access_lines: RefCell<access::Lines>,
    /// This worker's counters, and the board the status page shows.
    pub monitor: Arc<Monitor>,
    /// Every worker's counters and board, this one's among them: what the
    /// status page shows.
    pub monitors: Monitors,
    /// The housekeeping's own state.
    chores: Cell<Chores>,
    /// The fields added to every response, rendered once (`None`: none).
    pub(crate) extra_fields: Option<Rc<[u8]>>,
    /// The `--404` page, read again when it changes.
    pub(crate) not_found_page: Option<RefCell<pages::Page>>,
}

/// When the housekeeping last gave memory back, and how many connections
/// had closed by then.
#[derive(Clone, Copy, Default)]
struct Chores {
    trimmed_at: Option<Instant>,
    closed: u64,
}

impl Shared {
    /// Shares `config` among channels, opening its root.
    ///
    /// # Errors
    ///
    /// The error from opening the root directory.
    pub fn new(config: Config) -> io::Result<Rc<Shared>> {
        let monitors = Monitors::new(1, config.status_path.is_some());
        Shared::for_worker(config, monitors, 0)
    }

    /// As [`Shared::new`], for worker `worker` of those `monitors` count
    /// for.
    ///
    /// # Errors
    ///
    /// The error from opening the root directory.
    ///
    /// # Panics
    ///
    /// When `monitors` has no monitor for `worker`.
    pub fn for_worker(config: Config, monitors: Monitors, worker: usize) -> io::Result<Rc<Shared>> {
        Ok(Rc::new(Shared {
            root: Root::new(&config.root, config.hidden)?,
            cache: RefCell::new(FileCache::new()),
            clock: RefCell::new(Clock::default()),
            access_lines: RefCell::default(),
            monitor: Arc::clone(monitors.get(worker)),
            monitors,
            chores: Cell::new(Chores::default()),
            extra_fields: config.extra_fields(),
            not_found_page: config
                .not_found_page
                .as_ref()
                .map(|p| RefCell::new(pages::Page::new(p.clone()))),
            config,
        }))
    }

    /// Hands the access log lines made since the last call to the log's
    /// sink, which takes them in one piece rather than one at a time.
    /// [`Server`] calls this before its loop waits and when it stops; a
    /// program that runs [`HttpChannel`]s on a reactor of its own, with an
    /// [`AccessLog::Sink`], calls it before its loop waits (the lines are
    /// also handed over whenever they make a batch, and when the `Shared`
    /// is dropped).
    pub fn hand_over_access_lines(&self) {
        let log = &self.config.access_log;
        self.access_lines.borrow_mut().hand_over(log);
    }

    /// The work owed to the clock, done before the loop waits: cache entries
    /// past their lifetime are dropped even on a quiet server (a file
    /// deleted on disk is not held open), and once connections have closed,
    /// memory their buffers used is given back to the system, at most once
    /// a second. Returns when it is next due.
    pub fn housekeep(&self, now: Instant) -> Option<Instant> {
        let purge = self.cache.borrow_mut().purge(now);
        let mut chores = self.chores.get();
        let closed = self.monitor.closed.get();
        let trim = if closed == chores.closed {
            None
        } else {
            match chores.trimmed_at {
                Some(at) if now.duration_since(at) < TRIM_EVERY => Some(at + TRIM_EVERY),
                _ => {
                    memory::release_free_memory();
                    chores = Chores {
                        trimmed_at: Some(now),
                        closed,
                    };
                    self.chores.set(chores);
                    None
                }
            }
        };
        [purge, trim].into_iter().flatten().min()
    }
}

/// How often, at most, freed memory is given back to the system.
const TRIM_EVERY: Duration = Duration::from_secs(1);

/// An HTTP server bound to an address, ready to run.
pub struct Server {
    reactor: Reactor<Connection<HttpChannel>>,
    addr: SocketAddr,
    shared: Rc<Shared>,
}

/// Where a server listens, as its start-up line reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound(pub SocketAddr);

impl Bound {
    /// The address actually bound (the real port when 0 was asked for).
    pub fn addr(self) -> SocketAddr {
        self.0
    }

    /// True when a socket on it serves IPv4 and IPv6 clients (bound to
    /// `::`, with `IPV6_V6ONLY` off).
    pub fn dual_stack(self) -> bool {
        is_dual_stack(self.0)
    }

    /// The URL to print: `http://127.0.0.1:8000/`, with brackets for IPv6.
    pub fn url(self) -> String {
        format!("http://{}/", self.0)
    }
}

/// The most connections waiting to be accepted.
const BACKLOG: i32 = 1024;

/// A listening socket on `addr`. The IPv6 unspecified address (`::`) is
/// bound with `IPV6_V6ONLY` off, so one socket serves IPv4 clients too
/// (they show as `::ffff:a.b.c.d`; see [`Bound::dual_stack`]).
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    if !is_dual_stack(addr) {
        return TcpListener::bind(addr);
    }
    listen_with(addr, false)
}

/// True for the address one socket serves IPv4 and IPv6 clients on: `::`.
fn is_dual_stack(addr: SocketAddr) -> bool {
    addr.is_ipv6() && addr.ip().is_unspecified()
}

/// A listening socket on `addr` with `SO_REUSEADDR` (as the standard
/// library's), `SO_REUSEPORT` when `shared` (so that other sockets of this
/// user can listen on the same port, and the kernel spreads connections
/// over them), and `IPV6_V6ONLY` off on `::`.
fn listen_with(addr: SocketAddr, shared: bool) -> io::Result<TcpListener> {
    use rustix::net::{listen, sockopt};
    let fd = socket_for(addr)?;
    if shared {
        sockopt::set_socket_reuseport(&fd, true)?;
    }
    rustix::net::bind(&fd, &addr)?;
    listen(&fd, BACKLOG)?;
    Ok(TcpListener::from(fd))
}

/// A TCP socket, not yet bound, for `addr`: `SO_REUSEADDR` on, and
/// `IPV6_V6ONLY` off on `::`.
fn socket_for(addr: SocketAddr) -> io::Result<std::os::fd::OwnedFd> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socket_with, sockopt};
    let family = if addr.is_ipv6() {
        AddressFamily::INET6
    } else {
        AddressFamily::INET
    };
    let fd = socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    if is_dual_stack(addr) {
        sockopt::set_ipv6_v6only(&fd, false)?;
    }
    sockopt::set_socket_reuseaddr(&fd, true)?;
    Ok(fd)
}

impl Drop for Shared {
    /// Hands over the access log lines not yet handed over.
    fn drop(&mut self) {
        self.hand_over_access_lines();
    }
}

impl Server {
    /// Binds a listener and prepares the loop.
    ///
    /// # Errors
    ///
    /// The error from binding (address in use, not available, ...).
    pub fn bind(config: Config, addr: SocketAddr) -> io::Result<Server> {
        let listener = listen(addr)?;
        let monitors = Monitors::new(1, config.status_path.is_some());
        Server::on(config, listener, monitors, 0)
    }

    /// Prepares the loop of worker `worker` on a socket already listening;
    /// the channels count in that worker's monitor.
    fn on(
        config: Config,
        listener: TcpListener,
        monitors: Monitors,
        worker: usize,
    ) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let mut reactor = Reactor::new()?;
        reactor.set_max_channels(config.max_connections);
        reactor.set_grace(config.grace);
        let limits = config.limits;
        let capture = config.capture.clone();
        let shared = Shared::for_worker(config, monitors, worker)?;
        let for_channels = Rc::clone(&shared);
        reactor.listen(listener, move |stream, _peer, _cx: &mut Context<'_>| {
            let mut chan = Channel::new(HttpChannel::initial_terminator());
            chan.set_limits(limits);
            let mut conn =
                Connection::new(stream, chan, HttpChannel::new(Rc::clone(&for_channels)));
            if let Some(sink) = &capture {
                conn.capture(sink);
            }
            Some(conn)
        })?;
        let mut server = Server {
            reactor,
            addr,
            shared,
        };
        server.before_wait(|| {});
        Ok(server)
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where it listens: the address, whether IPv4 clients share it, the
    /// URL.
    pub fn bound(&self) -> Bound {
        Bound(self.addr)
    }

    /// Runs `f` whenever the loop is about to wait (see
    /// [`Reactor::before_wait`]), before the server's own housekeeping; the
    /// binary flushes its buffered log here.
    pub fn before_wait(&mut self, mut f: impl FnMut() + 'static) {
        let shared = Rc::clone(&self.shared);
        let capture = self.shared.config.capture.clone();
        self.reactor.before_wait(move |now| {
            // The turn's access lines first, then the caller's flush of
            // the log they went to.
            shared.hand_over_access_lines();
            f();
            if let Some(sink) = &capture {
                sink.flush_now();
            }
            shared.housekeep(now)
        });
    }

    /// A handle that starts a graceful shutdown from any thread.
    pub fn stopper(&self) -> Stopper {
        self.reactor.stopper()
    }

    /// Serves until stopped and the shutdown has finished.
    ///
    /// # Errors
    ///
    /// Only a failure of the poller itself.
    pub fn run(&mut self) -> io::Result<()> {
        let ran = self.reactor.run();
        // The lines of the last turn, which no wait followed.
        self.shared.hand_over_access_lines();
        ran
    }
}
