//! The crawl: what every connection shares. The queue of URLs to fetch,
//! the URLs already seen, the connections with nothing to do, and what
//! becomes of each response (saved, its links queued, a redirect
//! followed, or a problem reported). It touches files but no socket: the
//! connections (`fetcher.rs`) hand it whole responses.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use asynchat::Token;

use crate::links;
use crate::response::Head;
use crate::url::Url;

/// What a crawl is asked to do, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the crawl starts; its origin and directory are the scope.
    pub start: Url,
    /// Where the files are written.
    pub outdir: PathBuf,
    /// Connections kept open at once.
    pub connections: usize,
    /// Requests in flight on each connection.
    pub pipeline: usize,
    /// The largest body accepted.
    pub max_size: u64,
    /// The most redirects followed from one link.
    pub max_redirects: u32,
    /// How long a connection with requests in flight may make no progress.
    pub timeout: Duration,
    /// How many connections one request may fail on before it is given up.
    pub max_attempts: u32,
}

/// One URL to fetch, with its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// The URL.
    pub url: Url,
    /// Redirects followed to get here.
    pub redirects: u32,
    /// Connections it has failed on so far.
    pub attempts: u32,
}

impl Fetch {
    /// The request, as sent.
    pub fn request(&self) -> String {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: asynchat-crawl\r\nAccept: */*\r\n\r\n",
            self.url.path,
            self.url.authority()
        )
    }
}

/// Counters for the progress line and the summary.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Files written (each counted once).
    pub files: u64,
    /// Bytes in those files.
    pub bytes: u64,
    /// Requests sent again on a new connection.
    pub retries: u64,
    /// Connections opened.
    pub connections: u64,
}

/// The state every connection of a crawl shares.
pub struct Crawl {
    /// The configuration.
    pub config: Config,
    pending: VecDeque<Fetch>,
    seen: HashSet<Url>,
    /// Files written so far: `/` and `/index.html` are one file.
    written: HashSet<PathBuf>,
    idle: Vec<Token>,
    /// Fetches handed to connections and not yet finished.
    in_flight: usize,
    /// Connections open now.
    pub open: usize,
    /// Counters.
    pub stats: Stats,
    /// Every problem reported: the URL and what went wrong.
    pub problems: Vec<(String, String)>,
    /// When the crawl started.
    pub started: Instant,
}

impl Crawl {
    /// A crawl with its start URL queued.
    pub fn new(config: Config) -> Crawl {
        let start = Fetch {
            url: config.start.clone(),
            redirects: 0,
            attempts: 0,
        };
        let mut seen = HashSet::new();
        seen.insert(start.url.clone());
        Crawl {
            config,
            pending: VecDeque::from([start]),
            seen,
            written: HashSet::new(),
            idle: Vec::new(),
            in_flight: 0,
            open: 0,
            stats: Stats::default(),
            problems: Vec::new(),
            started: Instant::now(),
        }
    }

    /// True when nothing is left to fetch and nothing is in flight.
    pub fn is_finished(&self) -> bool {
        self.pending.is_empty() && self.in_flight == 0
    }

    /// True when another connection would have work: something waits, no
    /// idle connection could take it, and the cap allows one more.
    pub fn wants_connection(&self) -> bool {
        !self.pending.is_empty() && self.idle.is_empty() && self.open < self.config.connections
    }

    /// The next URL to request, if any.
    pub fn next_fetch(&mut self) -> Option<Fetch> {
        let fetch = self.pending.pop_front()?;
        self.in_flight += 1;
        Some(fetch)
    }

    /// Notes a connection with nothing to do, to be woken when work comes.
    pub fn park(&mut self, token: Token) {
        if !self.idle.contains(&token) {
            self.idle.push(token);
        }
    }

    /// Forgets a connection that closed.
    pub fn unpark(&mut self, token: Token) {
        self.idle.retain(|&t| t != token);
    }

    /// The idle connections to wake, when there is work for them.
    pub fn take_idle_if_work(&mut self) -> Vec<Token> {
        if self.pending.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut self.idle)
        }
    }

    /// Puts back a request that got no answer on its connection, to be sent
    /// on another; `failed` counts it against its attempts, and after the
    /// last one it is reported with `why`.
    pub fn retry(&mut self, mut fetch: Fetch, failed: bool, why: &str) {
        self.in_flight -= 1;
        if failed {
            fetch.attempts += 1;
            if fetch.attempts >= self.config.max_attempts {
                return self.problem(
                    &fetch.url,
                    format!("gave up after {} attempts: {why}", fetch.attempts),
                );
            }
        }
        self.stats.retries += 1;
        self.pending.push_front(fetch);
    }

    /// A connection could not be opened at all: counts against the next
    /// request, so that a server that is down ends the crawl.
    pub fn connect_failed(&mut self, why: &str) {
        if let Some(fetch) = self.next_fetch() {
            self.retry(fetch, true, why);
        }
    }

    /// A response that cannot be used, reported and skipped.
    pub fn unusable(&mut self, fetch: Fetch, why: &str) {
        self.in_flight -= 1;
        self.problem(&fetch.url, why.to_string());
    }

    fn problem(&mut self, url: &Url, why: String) {
        eprintln!("crawl: {url}: {why}");
        self.problems.push((url.to_string(), why));
    }

    /// A whole response to `fetch` arrived: save it and queue its links,
    /// follow its redirect, or report it.
    pub fn finish(&mut self, fetch: Fetch, head: &Head, body: &[u8]) {
        self.in_flight -= 1;
        match head.status {
            200..=299 => self.save(&fetch, head, body),
            301 | 302 | 303 | 307 | 308 => self.redirect(&fetch, head),
            status => self.problem(&fetch.url, format!("{status} {}", head.reason)),
        }
    }

    fn save(&mut self, fetch: &Fetch, head: &Head, body: &[u8]) {
        let url = &fetch.url;
        let file = match url.file() {
            Ok(file) => self.config.outdir.join(file),
            Err(e) => return self.problem(url, e),
        };
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&file, body));
        if let Err(e) = written {
            return self.problem(url, format!("cannot write {}: {e}", file.display()));
        }
        if self.written.insert(file) {
            self.stats.files += 1;
            self.stats.bytes += body.len() as u64;
        }
        let html = head.is_html()
            || head.content_type.is_none()
                && (url.path.ends_with('/') || url.path.ends_with(".html"));
        if html {
            for link in links::links(&String::from_utf8_lossy(body)) {
                if let Some(next) = url.join(&link) {
                    self.enqueue(next, 0);
                }
            }
        }
    }

    fn redirect(&mut self, fetch: &Fetch, head: &Head) {
        let Some(target) = head.location.as_deref().and_then(|l| fetch.url.join(l)) else {
            return self.problem(
                &fetch.url,
                format!("{} without a usable Location", head.status),
            );
        };
        if !self.config.start.covers(&target) {
            return self.problem(&fetch.url, format!("redirect out of the crawl to {target}"));
        }
        if fetch.redirects >= self.config.max_redirects {
            return self.problem(
                &fetch.url,
                format!("more than {} redirects", self.config.max_redirects),
            );
        }
        self.enqueue(target, fetch.redirects + 1);
    }

    /// Queues `url` if it is in scope and new.
    fn enqueue(&mut self, url: Url, redirects: u32) {
        if self.config.start.covers(&url) && self.seen.insert(url.clone()) {
            self.pending.push_back(Fetch {
                url,
                redirects,
                attempts: 0,
            });
        }
    }
}
