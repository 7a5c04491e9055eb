//! A crawling HTTP/1.1 client on the asynchat reactor: mirrors a site.
//!
//! ```text
//! cargo run --release -- www &                 # serve the demo site
//! cargo run --example crawl -- http://127.0.0.1:8000/ /tmp/mirror
//! ```
//!
//! It follows the links of HTML pages and directory listings within the
//! start URL's origin and directory, keeps `--connections` connections open
//! (default 4), pipelines up to `--pipeline` requests on each (default 8),
//! and writes every file under OUTDIR (a directory's page as its
//! `index.html`). Redirects within the crawl are followed (at most
//! `--max-redirects`); a response over `--max-size`, a malformed one, an
//! error status or a redirect elsewhere is reported and skipped; requests
//! a server left unanswered when it closed are sent again on a new
//! connection. On a terminal a progress line shows files, bytes and rate.
//! Exit status: 0 when every URL was saved, 1 for a bad command line, 2
//! when something was reported.
//!
//! The response side is terminator switching from the other end: lines
//! for the head, `Count(n)` for a Content-Length, the chunked walk, and
//! `None` until the server closes for a body with neither (`fetcher.rs`).
//! Pure parts: `url.rs`, `links.rs`, `response.rs`; what becomes of each
//! response: `crawl.rs`. The loop is the caller's own: it opens
//! connections between turns of [`Reactor::poll`] while there is work.

mod crawl;
mod fetcher;
mod links;
mod response;
mod url;

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asynchat::{Channel, Connection, Reactor, trace};
use clap::Parser;

use crawl::{Config, Crawl};
use fetcher::Fetcher;
use url::Url;

/// Mirror a site over HTTP/1.1: follow its links, pipeline the requests,
/// write every file.
#[derive(Parser)]
#[command(name = "crawl")]
struct Args {
    /// Where to start, for example http://127.0.0.1:8000/. Only URLs on
    /// its origin and under its directory are fetched.
    url: String,
    /// The directory the files are written to (created if need be).
    outdir: PathBuf,
    /// Connections open at once.
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    connections: u64,
    /// Requests in flight on each connection.
    #[arg(long, default_value_t = 8, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pipeline: u64,
    /// The largest response body accepted; larger is reported and skipped.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    max_size: u64,
    /// The most redirects followed from one link.
    #[arg(long, default_value_t = 5, value_name = "N")]
    max_redirects: u32,
    /// Seconds a connection may make no progress.
    #[arg(long, default_value_t = 30, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// No progress line, no summary.
    #[arg(short, long)]
    quiet: bool,
    /// Print a line for every event of every connection: each request,
    /// each terminator switch of each response, each write.
    #[arg(long)]
    trace: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut log = env_logger::Builder::new();
    log.filter_level(log::LevelFilter::Warn);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        log.parse_filters(&spec);
    }
    if args.trace {
        log.filter_module(trace::TARGET, log::LevelFilter::Trace);
    }
    log.format(|out, record| writeln!(out, "[{}] {}", out.timestamp_micros(), record.args()))
        .init();
    let (config, addr) = match configure(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("crawl: {e}");
            return ExitCode::FAILURE;
        }
    };
    let crawl = match run(config, addr, args.quiet) {
        Ok(crawl) => crawl,
        Err(e) => {
            eprintln!("crawl: event loop failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    if crawl.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// The command line as a [`Config`], and the address to connect to.
fn configure(args: &Args) -> Result<(Config, SocketAddr), String> {
    let start = Url::parse(&args.url).map_err(|e| format!("{}: {e}", args.url))?;
    let host = start.host.trim_start_matches('[').trim_end_matches(']');
    let addr = (host, start.port)
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", start.host))?
        .next()
        .ok_or_else(|| format!("{}: no address", start.host))?;
    std::fs::create_dir_all(&args.outdir)
        .map_err(|e| format!("cannot create {}: {e}", args.outdir.display()))?;
    let config = Config {
        start,
        outdir: args.outdir.clone(),
        connections: args.connections as usize,
        pipeline: args.pipeline as usize,
        max_size: args.max_size,
        max_redirects: args.max_redirects,
        timeout: Duration::from_secs(args.timeout),
        max_attempts: 3,
    };
    Ok((config, addr))
}

/// How often the progress line is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// Crawls until nothing is left; returns the crawl's final state.
fn run(config: Config, addr: SocketAddr, quiet: bool) -> std::io::Result<Crawl> {
    let crawl = Rc::new(RefCell::new(Crawl::new(config)));
    let mut reactor: Reactor<Connection<Fetcher>> = Reactor::new()?;
    let progress = !quiet && std::io::stderr().is_terminal();
    let mut drawn = Instant::now();
    loop {
        // Open connections between turns, while there is work for them.
        while crawl.borrow().wants_connection() {
            let fetcher = Fetcher::new(Rc::clone(&crawl));
            let connected =
                Connection::connect(addr, Channel::new(Fetcher::initial_terminator()), fetcher);
            let mut c = crawl.borrow_mut();
            match connected {
                Ok(conn) => {
                    c.open += 1;
                    c.stats.connections += 1;
                    drop(c);
                    if let Err(e) = reactor.add(conn) {
                        let mut c = crawl.borrow_mut();
                        c.open -= 1;
                        c.connect_failed(&format!("cannot watch a connection: {e}"));
                    }
                }
                Err(e) => c.connect_failed(&format!("connect {addr}: {e}")),
            }
        }
        if crawl.borrow().is_finished() {
            break;
        }
        reactor.poll(Some(PROGRESS_EVERY))?;
        if progress && drawn.elapsed() >= PROGRESS_EVERY {
            drawn = Instant::now();
            eprint!("\r{}\x1b[K", summary(&crawl.borrow()));
        }
    }
    drop(reactor);
    let crawl = Rc::try_unwrap(crawl)
        .map_err(|_| ())
        .expect("every connection is gone")
        .into_inner();
    if progress {
        eprint!("\r\x1b[K");
    }
    if !quiet {
        println!("{}", summary(&crawl));
    }
    Ok(crawl)
}

/// `12 files, 34567 bytes in 0.05 s (0.69 MB/s), 3 connections, 0 problems`.
fn summary(crawl: &Crawl) -> String {
    let secs = crawl.started.elapsed().as_secs_f64();
    let s = &crawl.stats;
    let rate = s.bytes as f64 / secs.max(1e-6) / 1e6;
    format!(
        "{} files, {} bytes in {secs:.2} s ({rate:.2} MB/s), {} connections, {} retries, {} problems",
        s.files,
        s.bytes,
        s.connections,
        s.retries,
        crawl.problems.len()
    )
}
