//! `asynchat-httpd [ROOT]`: serve a directory over HTTP/1.1.
//!
//! This file only turns flags into a [`Config`], sets up logging and
//! signals, and reports start-up errors as one line with exit status 1.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use asynchat::capture::{self, Sink};
use asynchat::http::Config;
use asynchat::http::access::AccessLog;
use asynchat::http::auth::Credentials;
use asynchat::http::workers::Workers;
use asynchat::logsink::LogSink;
use asynchat::trace::{self, Filter};
use clap::Parser;

/// Shown after the options by `--help`: one command for each common use.
const EXAMPLES: &str = "\
Examples:
  asynchat-httpd www                          serve www/ at http://127.0.0.1:8000/
  asynchat-httpd -b :: -p 8080 .              this directory to IPv4 and IPv6 clients
  asynchat-httpd --cors data                  data/ to pages of any origin (fetch())
  asynchat-httpd -H 'Cache-Control: no-store' www
  asynchat-httpd --spa dist                   a single-page app: routes get index.html
  asynchat-httpd --404 www/404.html www       a page of your own for every 404
  asynchat-httpd --auth alice:s3cret share    ask for a user and password
  gzip -k www/app.js && asynchat-httpd www    app.js.gz is sent to clients that accept gzip
  curl 'http://127.0.0.1:8000/files/?format=json&sort=size&order=desc'
                                              a listing as JSON, largest first
  asynchat-httpd --upload --auth me:pw inbox  accept uploads (the listing has a form)
  curl -T photo.jpg http://127.0.0.1:8000/    store photo.jpg (201; If-None-Match: * to never replace)";

/// Serve a directory over HTTP/1.1 from one thread (or one per worker): an
/// asyncore/asynchat reactor in Rust.
#[derive(Parser, Debug)]
#[command(name = "asynchat-httpd", version, about, after_help = EXAMPLES)]
struct Args {
    /// The directory to serve.
    #[arg(default_value = ".")]
    root: PathBuf,
    /// The port to listen on (0 picks a free one).
    #[arg(short, long, default_value_t = 8000)]
    port: u16,
    /// The address to listen on (IPv4 or IPv6; `::` serves both on one
    /// socket).
    #[arg(short, long, visible_alias = "addr", default_value = "127.0.0.1")]
    bind: String,
    /// The file served for a directory.
    #[arg(long, default_value = "index.html", value_name = "NAME")]
    index: String,
    /// Answer 403 for a directory without an index file instead of listing it.
    #[arg(long)]
    no_listing: bool,
    /// Serve files and directories whose names start with a dot.
    #[arg(long)]
    hidden: bool,
    /// The most connections open at once (with --workers, in all: each
    /// worker gets its share).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    max_connections: usize,
    /// Event loops, each on a thread of its own with its own listening
    /// socket on the port (SO_REUSEPORT: the kernel spreads connections
    /// over them), its own file cache and clock; `auto` is one for each
    /// core this process may run on.
    #[arg(long, default_value = "1", value_name = "N|auto", value_parser = parse_workers)]
    workers: usize,
    /// Header, body, keep-alive and send timeout, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// The largest request body accepted (read and discarded).
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    max_body: u64,
    /// Answer a live status page (HTML; JSON with ?format=json) at this
    /// path, for example /.status. Only to clients on loopback unless
    /// --status-public.
    #[arg(long, value_name = "PATH")]
    status: Option<String>,
    /// Answer the status page to clients from any address.
    #[arg(long, requires = "status")]
    status_public: bool,
    /// No access log.
    #[arg(short, long)]
    quiet: bool,
    /// Debug logging (RUST_LOG also works).
    #[arg(short, long, conflicts_with = "quiet")]
    verbose: bool,
    /// Print a line for every event of every connection: reads, terminator
    /// searches and switches, records, pushes, writes, closes
    /// (RUST_LOG=asynchat=trace also works).
    #[arg(long)]
    trace: bool,
    /// Trace only matching connections: a connection id (7 or #7), an IP
    /// address, or address:port. May be repeated; implies --trace.
    #[arg(long, value_name = "CONN")]
    trace_filter: Vec<Filter>,
    /// Add a field to every response, errors and listings included, for
    /// example -H 'Cache-Control: max-age=60'. May be repeated. The fields
    /// the server computes (Content-Length, Content-Range,
    /// Transfer-Encoding, Connection, Date) cannot be set.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'")]
    headers: Vec<String>,
    /// Let pages from any origin fetch these files (CORS): every response
    /// says Access-Control-Allow-Origin: *, and preflights (OPTIONS with
    /// Origin and Access-Control-Request-Method) get 204 with the methods
    /// and headers allowed.
    #[arg(long)]
    cors: bool,
    /// Do not serve precompressed copies (app.js.br, app.js.zst, app.js.gz
    /// beside app.js) to clients that accept them.
    #[arg(long)]
    no_precompressed: bool,
    /// A single-page app: a GET or HEAD of a missing path whose last segment
    /// has no extension (a client-side route, /users/42) gets the root's
    /// index file; a missing /app.js is still 404.
    #[arg(long)]
    spa: bool,
    /// The body of every 404: this file (under the root or anywhere), read
    /// again when it changes; for example --404 www/404.html.
    #[arg(long = "404", value_name = "FILE")]
    not_found: Option<PathBuf>,
    /// Ask every request for these credentials (Basic authentication), as
    /// USER:PASSWORD or USER:sha256:HEX (the password's SHA-256, so that it
    /// need not be typed: printf %s PASSWORD | sha256sum). Without TLS they
    /// cross the network in clear text.
    #[arg(long, value_name = "USER:PASSWORD")]
    auth: Option<String>,
    /// Store uploads: PUT writes its body to the path (curl -T FILE URL),
    /// and listings get a form that uploads files from a browser. Anyone who
    /// can reach the port can write under the root (use --auth).
    #[arg(long)]
    upload: bool,
    /// The largest upload stored, in bytes; larger is 413.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30, requires = "upload")]
    max_upload: u64,
    /// Capture every connection's traffic (only the --trace-filter ones,
    /// if any) to one file per connection in DIR, created if need be:
    /// each read as it returned, with its time, and what was sent. Replay
    /// one with `cargo run --example replay -- FILE`.
    #[arg(long, value_name = "DIR")]
    capture: Option<PathBuf>,
    /// The most data a capture keeps of one connection; past it, heads are
    /// still kept whole, bodies and responses by their sizes only.
    #[arg(long, value_name = "BYTES", default_value_t = capture::DEFAULT_MAX,
          requires = "capture")]
    capture_max: u64,
    /// Keep only the sizes of request bodies in captures (a replay feeds
    /// zeros in their place).
    #[arg(long, requires = "capture")]
    capture_no_bodies: bool,
}

/// `--workers`: a number from 1, or `auto` (the cores available to the
/// process, `std::thread::available_parallelism`).
fn parse_workers(s: &str) -> Result<usize, String> {
    if s == "auto" {
        return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    match s.parse::<usize>() {
        Ok(0) => Err("there must be at least one worker (or auto)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is neither a number of workers nor auto")),
    }
}

fn main() -> ExitCode {
    // No start-up path may panic on I/O (a panic aborts): clap's own
    // messages, like every line below, are written with errors ignored.
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let log = match LogSink::for_output(io::stderr(), LOG_BUFFER) {
        Ok(log) => log,
        Err(e) => {
            let _ = writeln!(io::stderr(), "asynchat-httpd: cannot start the log: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&args, log.clone());
    let result = serve(args, log.clone());
    log.finish(LOG_PATIENCE);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(io::stderr(), "asynchat-httpd: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Room for log lines waiting to be written; beyond it lines are dropped
/// and counted, never waited for (see [`LogSink`]).
const LOG_BUFFER: usize = 1 << 20;
/// How long the process waits at exit for its log to be written.
const LOG_PATIENCE: Duration = Duration::from_secs(2);

fn init_logging(args: &Args, sink: LogSink) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(if args.verbose {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    });
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    if args.quiet {
        builder.filter_module("access", log::LevelFilter::Off);
    }
    if args.trace || !args.trace_filter.is_empty() {
        builder.filter_module(trace::TARGET, log::LevelFilter::Trace);
    }
    trace::set_filters(args.trace_filter.clone());
    builder
        .format(|out, record| {
            if record.target() == "access" {
                // A Common Log Format line is complete as it is (it has its
                // own time), and log tools expect nothing around it.
                writeln!(out, "{}", record.args())
            } else if record.target() == trace::TARGET {
                // Trace lines carry their connection; the time is enough.
                let time = out.timestamp_micros();
                writeln!(out, "[{time}] {}", record.args())
            } else {
                let time = out.timestamp_millis();
                writeln!(
                    out,
                    "[{time} {} {}] {}",
                    record.level(),
                    record.target(),
                    record.args()
                )
            }
        })
        .target(env_logger::Target::Pipe(Box::new(sink)))
        .init();
}

fn serve(args: Args, log: LogSink) -> Result<(), String> {
    let ip: IpAddr = args.bind.trim_matches(['[', ']']).parse().map_err(|_| {
        format!(
            "bad address {:?}: expected an IPv4 or IPv6 address",
            args.bind
        )
    })?;
    let timeout = Duration::from_secs(args.timeout);
    let mut config = Config::new(&args.root)
        .and_then(|c| c.with_index(&args.index))
        .map_err(|e| e.to_string())?
        .with_timeout(timeout);
    // An idle keep-alive connection is cheap, but need not wait longer
    // than a slow request would.
    config.header_timeout = timeout
        .min(Duration::from_secs(10))
        .max(Duration::from_secs(1));
    config.listing = !args.no_listing;
    config.hidden = args.hidden;
    config.max_connections = args.max_connections.max(1);
    let workers = args.workers;
    if workers > config.max_connections {
        return Err(format!(
            "--workers {workers} is more than --max-connections {}: each worker needs a \
             share of at least one connection",
            config.max_connections
        ));
    }
    config.max_body = args.max_body;
    if let Some(path) = &args.status {
        config = config.with_status(path).map_err(|e| e.to_string())?;
        config.status_public = args.status_public;
    }
    for header in &args.headers {
        config = config.with_header(header).map_err(|e| e.to_string())?;
    }
    config.cors = args.cors;
    config.precompressed = !args.no_precompressed;
    config.spa = args.spa;
    if let Some(page) = &args.not_found {
        config = config
            .with_not_found_page(page)
            .map_err(|e| e.to_string())?;
    }
    if let Some(spec) = &args.auth {
        let credentials = Credentials::parse(spec).map_err(|e| format!("--auth: {e}"))?;
        config.auth = Some(credentials);
        if !ip.to_canonical().is_loopback() {
            log::warn!(
                "--auth on {ip}: Basic credentials cross the network in clear text; \
                 put the server behind TLS for anything public"
            );
        }
    }
    // Access lines go straight to the log's sink (the logger's format
    // adds nothing to them): rendered by hand, not through log records.
    config.access_log = if log::log_enabled!(target: "access", log::Level::Info) {
        AccessLog::Sink(log.clone())
    } else {
        AccessLog::Off
    };
    config.upload = args.upload;
    config.max_upload = args.max_upload;
    if args.upload && config.auth.is_none() && !ip.to_canonical().is_loopback() {
        log::warn!(
            "--upload on {ip} without --auth: anyone who can reach the port can write \
             files under {}",
            config.root.display()
        );
    }
    // A write past the file size limit (RLIMIT_FSIZE) is EFBIG, answered
    // 507, rather than SIGXFSZ, which would end the server.
    signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    )
    .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let capture = match &args.capture {
        Some(dir) => Some(start_capture(&args, dir, &config)?),
        None => None,
    };
    config.capture = capture.clone();
    raise_descriptor_limit(
        config.max_connections,
        workers,
        capture.is_some(),
        config.upload,
    );

    let root = config.root.clone();
    let addr = SocketAddr::new(ip, args.port);
    // Installed before the workers start serving: a signal from then on
    // waits for the thread below, which stops them, and never kills the
    // process in the middle of a response.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    // Every worker flushes the log lines it made before its loop waits.
    let server = Workers::start(config, addr, workers, move || log.flush_now())
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let stopper = server.stopper();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            log::info!("signal {signal}: finishing responses in flight, then exiting");
            stopper.stop();
        }
    });
    // stdout may be closed, full or a pipe nobody reads: the line is
    // information, not a reason to stop (or to block).
    // The URL stays last on the line, for scripts that read it.
    let bound = server.bound();
    let both = if bound.dual_stack() {
        " to IPv4 and IPv6 clients"
    } else {
        ""
    };
    let several = if workers > 1 {
        format!(" with {workers} workers")
    } else {
        String::new()
    };
    let line = format!(
        "Serving {}{both}{several} at {}\n",
        root.display(),
        bound.url()
    );
    if let Err(e) = io::stdout()
        .write_all(line.as_bytes())
        .and_then(|()| io::stdout().flush())
    {
        log::warn!("could not write the start-up line to stdout: {e}");
    }
    let result = server.join().map_err(|e| format!("event loop failed: {e}"));
    if let Some(sink) = &capture {
        sink.finish(capture::PATIENCE);
    }
    result
}

/// Checks the capture directory and starts the capture writer.
fn start_capture(args: &Args, dir: &std::path::Path, config: &Config) -> Result<Sink, String> {
    let store = capture::Dir::new(dir).map_err(|e| e.to_string())?;
    // A file grown past RLIMIT_FSIZE raises SIGXFSZ, which would end the
    // process: with a handler the write fails instead (EFBIG), and only
    // that capture is cut short, as on a full disk.
    signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    )
    .map_err(|e| format!("cannot install a SIGXFSZ handler: {e}"))?;
    let options = capture::Options {
        max: args.capture_max,
        omit_payloads: args.capture_no_bodies,
        filters: args.trace_filter.clone(),
        fields: vec![
            (
                "server".into(),
                format!("asynchat-httpd {}", env!("CARGO_PKG_VERSION")),
            ),
            ("root".into(), config.root.display().to_string()),
        ]
        .into_iter()
        .chain(config.capture_fields())
        .collect(),
        ..capture::Options::default()
    };
    log::info!("capturing connections to {}", store.path().display());
    Sink::spawn(options, store).map_err(|e| format!("cannot start the capture writer: {e}"))
}

/// Raises the soft descriptor limit towards the hard one, so the connection
/// cap rather than `EMFILE` is what limits connections (as nginx's
/// `worker_rlimit_nofile` does).
fn raise_descriptor_limit(max_connections: usize, workers: usize, capture: bool, upload: bool) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    // A socket per connection, a file being sent per connection, each
    // worker's file cache, and a few for the process itself (and for each
    // worker's poller, listener and root beyond the first's). The capture
    // writer keeps a bounded number of files open too.
    let workers = workers.max(1) as u64;
    let cache = (asynchat::http::cache::FileCache::CAPACITY as u64)
        .saturating_mul(workers)
        .saturating_add(8 * (workers - 1));
    let captures = if capture {
        capture::OPEN_FILES as u64
    } else {
        0
    };
    // An upload holds its directory and its temporary file besides.
    let per_connection = if upload { 4 } else { 2 };
    let want = (max_connections as u64)
        .saturating_mul(per_connection)
        .saturating_add(cache + captures + 64);
    let target = match limit.maximum {
        // Short of descriptors, accepting pauses until one is free, and an
        // upload fails (503): said with --verbose, as most machines' hard
        // limit is short of what the default 10,000 connections could use.
        Some(hard) if hard < want => {
            log::debug!(
                "the descriptor limit is {hard}, fewer than the {want} that {max_connections} \
                 connections may need: lower --max-connections or raise the hard limit \
                 (ulimit -Hn)"
            );
            hard
        }
        Some(hard) => want.min(hard),
        None => want,
    };
    if limit.current.is_some_and(|soft| soft < target) {
        limit.current = Some(target);
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            log::debug!("could not raise the descriptor limit: {e}");
        }
    }
}
