//! The live status page (`--status PATH`): every open channel with its
//! terminator, buffers and queue, and totals since the server started.
//!
//! The totals are counted always (a few integer increments per request).
//! The board of open channels is kept only when the page is on: after every
//! event, a channel copies what the page shows of it into its row
//! ([`Monitor::observe`]), because while one channel answers a request the
//! reactor holds the others where no callback can reach them.
//!
//! Each worker (`--workers N`) has a [`Monitor`] of its own, written only
//! by its own thread: its counters are atomics written with a plain load
//! and store ([`Counter`]), which cost what a `Cell` does, and its board is
//! behind a lock that nobody else takes except to render the page. The page
//! is answered by whichever worker got the request, from every worker's
//! monitor ([`Monitors`]): the totals summed, the channels of all of them
//! in connection order, each with its worker.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::listing::escape_html;
use super::status::SERVER;
use crate::channel::Channel;
use crate::terminator::Terminator;

/// How often the HTML page reloads itself, in seconds.
pub const REFRESH_SECS: u32 = 2;

/// The most channels the HTML page lists (the JSON lists all of them).
pub const HTML_ROWS: usize = 1000;

/// The page's style sheet: bordered tables with numbers on the right,
/// terminators in a monospace font, and paused channels in red.
const STYLE: &str = "\
body{font-family:sans-serif;margin:1.5em}\
table{border-collapse:collapse}h2{font-size:1.1em;margin-top:1.5em}\
th,td{border:1px solid #ccc;padding:.2em .6em;text-align:right}\
th{background:#eee}.l{text-align:left}\
td.l{font-family:monospace,monospace;font-size:.95em}\
tr.paused td{background:#fdd}";

/// What the page shows of one open channel.
#[derive(Debug, Clone)]
pub struct Row {
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// When the connection was accepted.
    pub accepted: Instant,
    /// When the connection last had an event.
    pub active: Instant,
    /// Where the HTTP channel is: idle, head, body, closing.
    pub phase: &'static str,
    /// The terminator in force.
    pub terminator: Terminator,
    /// Input bytes held: a partial terminator, or records held back.
    pub input: usize,
    /// Pieces and producers queued for output.
    pub queued: usize,
    /// Bytes of output queued, whatever their kind (see [`crate::Fifo::queued_bytes`]).
    pub queued_bytes: u64,
    /// Responses queued on this connection so far.
    pub requests: u64,
    /// Reading and delivery are paused by back-pressure.
    pub paused: bool,
    /// The upload in flight, if the connection is storing a body.
    pub upload: Option<UploadProgress>,
}

/// How far an upload in flight has come, for the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadProgress {
    /// Where it goes: a file's path, or a form's directory.
    pub target: String,
    /// Body bytes stored so far.
    pub received: u64,
    /// The body's length, when its Content-Length announced it.
    pub announced: Option<u64>,
}

/// A counter that one thread writes and any thread may read.
///
/// Only the worker that owns it writes it, so it is written with a load
/// and a store rather than an atomic read-modify-write (`fetch_add`, a
/// locked instruction): on x86-64 and AArch64 that is the same code as for
/// a `Cell<u64>`. A reader on another thread sees every value it held, in
/// order, but counters read one after another are not one instant's
/// snapshot.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the count; only the counter's own worker may (another
    /// thread's write could be lost).
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

/// Counters since start, and (when the page is on) the board of channels,
/// of one worker.
#[derive(Debug)]
pub struct Monitor {
    started: Instant,
    worker: usize,
    /// Connections accepted.
    pub accepted: Counter,
    /// Connections closed.
    pub closed: Counter,
    /// Responses queued (error responses included, `100 Continue` not).
    pub requests: Counter,
    /// Bytes written to clients.
    pub bytes_out: Counter,
    /// Responses by status class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub by_class: [Counter; 5],
    /// Connections whose header, body, keep-alive or send timeout passed.
    pub timeouts: Counter,
    /// Requests refused as malformed (framing, syntax, limits).
    pub parse_errors: Counter,
    board: Option<Mutex<BTreeMap<u64, Row>>>,
}

impl Monitor {
    /// Counters only (`board` false), or counters and the board of open
    /// channels that the status page shows; of a server's only worker.
    pub fn new(board: bool) -> Monitor {
        Monitor::for_worker(0, board)
    }

    /// As [`Monitor::new`], for worker number `worker` (from 0).
    pub fn for_worker(worker: usize, board: bool) -> Monitor {
        Monitor {
            started: Instant::now(),
            worker,
            accepted: Counter::default(),
            closed: Counter::default(),
            requests: Counter::default(),
            bytes_out: Counter::default(),
            by_class: Default::default(),
            timeouts: Counter::default(),
            parse_errors: Counter::default(),
            board: board.then(|| Mutex::new(BTreeMap::new())),
        }
    }

    /// The worker this monitor counts for (0 for a server's only worker).
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Adds one to a counter of this thread's worker.
    pub fn count(counter: &Counter) {
        counter.set(counter.get() + 1);
    }

    /// Counts a response with this status.
    pub fn response(&self, status: u16) {
        Monitor::count(&self.requests);
        if let Some(class) = self.by_class.get(usize::from(status / 100).wrapping_sub(1)) {
            Monitor::count(class);
        }
    }

    /// True when the board of open channels is kept.
    pub fn keeps_board(&self) -> bool {
        self.board.is_some()
    }

    /// Copies what the page shows of `chan` into its row.
    pub fn observe(
        &self,
        chan: &Channel,
        phase: &'static str,
        requests: u64,
        upload: Option<UploadProgress>,
    ) {
        let Some(board) = &self.board else { return };
        let mut board = lock(board);
        let row = board.entry(chan.id()).or_insert_with(|| Row {
            peer: chan.peer(),
            accepted: chan.now(),
            active: chan.now(),
            phase,
            terminator: Terminator::None,
            input: 0,
            queued: 0,
            queued_bytes: 0,
            requests: 0,
            paused: false,
            upload: None,
        });
        row.active = chan.now();
        row.phase = phase;
        if row.terminator != *chan.get_terminator() {
            row.terminator = chan.get_terminator().clone();
        }
        row.input = chan.pending_input().len();
        row.queued = chan.fifo().len();
        row.queued_bytes = chan.fifo().queued_bytes();
        row.requests = requests;
        row.paused = chan.is_paused();
        row.upload = upload;
    }

    /// Removes a closed channel's row.
    pub fn forget(&self, id: u64) {
        if let Some(board) = &self.board {
            lock(board).remove(&id);
        }
    }

    /// A copy of the board, in connection order.
    pub fn rows(&self) -> Vec<(u64, Row)> {
        self.board.as_ref().map_or_else(Vec::new, |b| {
            lock(b).iter().map(|(id, r)| (*id, r.clone())).collect()
        })
    }

    /// The counters as they are now.
    fn counts(&self) -> Counts {
        Counts {
            accepted: self.accepted.get(),
            closed: self.closed.get(),
            requests: self.requests.get(),
            bytes_out: self.bytes_out.get(),
            by_class: std::array::from_fn(|i| self.by_class[i].get()),
            timeouts: self.timeouts.get(),
            parse_errors: self.parse_errors.get(),
        }
    }
}

/// The board's lock. A thread that panicked while holding it (only in
/// tests: the release build aborts) left a board that is still a board.
fn lock(board: &Mutex<BTreeMap<u64, Row>>) -> MutexGuard<'_, BTreeMap<u64, Row>> {
    board.lock().unwrap_or_else(|e| e.into_inner())
}

/// A worker's counters, read, or the sum of several workers'.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    accepted: u64,
    closed: u64,
    requests: u64,
    bytes_out: u64,
    by_class: [u64; 5],
    timeouts: u64,
    parse_errors: u64,
}

impl Counts {
    fn add(mut self, other: Counts) -> Counts {
        self.accepted += other.accepted;
        self.closed += other.closed;
        self.requests += other.requests;
        self.bytes_out += other.bytes_out;
        for (a, b) in self.by_class.iter_mut().zip(other.by_class) {
            *a += b;
        }
        self.timeouts += other.timeouts;
        self.parse_errors += other.parse_errors;
        self
    }

    /// Connections open: accepted and not closed. (Read one after the
    /// other, the two may be a moment apart, so never below 0.)
    fn open(&self) -> u64 {
        self.accepted.saturating_sub(self.closed)
    }

    /// The page's totals, by name, in the order it shows them.
    fn totals(&self, uptime: Duration) -> [(&'static str, u64); 12] {
        let class = |i: usize| self.by_class[i];
        [
            ("uptime_secs", uptime.as_secs()),
            ("connections_accepted", self.accepted),
            ("connections_open", self.open()),
            ("requests", self.requests),
            ("bytes_out", self.bytes_out),
            ("responses_1xx", class(0)),
            ("responses_2xx", class(1)),
            ("responses_3xx", class(2)),
            ("responses_4xx", class(3)),
            ("responses_5xx", class(4)),
            ("timeouts", self.timeouts),
            ("parse_errors", self.parse_errors),
        ]
    }
}

/// Every worker's monitor, in worker order: what the status page shows.
/// Cheap to clone; every worker's [`Shared`](super::Shared) holds one.
#[derive(Debug, Clone)]
pub struct Monitors(Arc<[Arc<Monitor>]>);

impl Monitors {
    /// Monitors for `workers` workers (at least one), each keeping a board
    /// when `board` is true.
    pub fn new(workers: usize, board: bool) -> Monitors {
        Monitors(
            (0..workers.max(1))
                .map(|i| Arc::new(Monitor::for_worker(i, board)))
                .collect(),
        )
    }

    /// The monitor of worker `worker`.
    ///
    /// # Panics
    ///
    /// When there is no such worker.
    pub fn get(&self, worker: usize) -> &Arc<Monitor> {
        &self.0[worker]
    }

    /// How many workers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none (never: [`Monitors::new`] makes one at
    /// least).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The open channels of every worker, with their worker, in
    /// connection order (connection ids are unique across workers).
    pub fn rows(&self) -> Vec<(u64, usize, Row)> {
        let mut rows: Vec<_> = self
            .0
            .iter()
            .flat_map(|m| m.rows().into_iter().map(|(id, r)| (id, m.worker, r)))
            .collect();
        rows.sort_unstable_by_key(|(id, ..)| *id);
        rows
    }

    /// Every worker's counters, and their sum.
    fn counts(&self) -> (Vec<Counts>, Counts) {
        let each: Vec<Counts> = self.0.iter().map(|m| m.counts()).collect();
        let sum = each.iter().fold(Counts::default(), |a, &b| a.add(b));
        (each, sum)
    }

    /// How long the server has run: since the first monitor was made.
    fn uptime(&self, now: Instant) -> Duration {
        let started = self.0.iter().map(|m| m.started).min();
        started.map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }

    /// The status page as HTML; it reloads itself every
    /// [`REFRESH_SECS`] seconds.
    pub fn html(&self, now: Instant) -> String {
        let mut page = String::with_capacity(4096);
        let _ = write!(
            page,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
             <title>asynchat-httpd status</title>\n<style>{STYLE}</style></head>\n<body>\
             <h1>asynchat-httpd status</h1>\n<p>{SERVER} at {}</p>\n",
            super::date::fmt_http_date(SystemTime::now()),
        );
        // The board first: it is what changes. With one worker there is
        // no worker column (the page is as it was before workers).
        let rows = self.rows();
        let several = self.len() > 1;
        let _ = write!(
            page,
            "<h2>Open channels ({})</h2>\n<table id=\"channels\">\n\
             <tr><th>id</th>{}<th class=\"l\">peer</th><th>age</th><th>idle</th>\
             <th class=\"l\">phase</th><th class=\"l\">terminator</th>\
             <th>input bytes</th><th>queued</th><th>queued bytes</th>\
             <th>requests</th><th>paused</th></tr>\n",
            rows.len(),
            if several { "<th>worker</th>" } else { "" },
        );
        for (id, worker, r) in rows.iter().take(HTML_ROWS) {
            let _ = writeln!(
                page,
                "<tr{}><td>{id}</td>{}<td class=\"l\">{}</td><td>{}</td><td>{}</td>\
                 <td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td></tr>",
                if r.paused { " class=\"paused\"" } else { "" },
                if several {
                    format!("<td>{worker}</td>")
                } else {
                    String::new()
                },
                r.peer.map_or_else(|| "-".to_string(), |p| p.to_string()),
                Secs(now.saturating_duration_since(r.accepted)),
                Secs(now.saturating_duration_since(r.active)),
                r.phase,
                escape_html(&r.terminator.to_string()),
                r.input,
                r.queued,
                r.queued_bytes,
                r.requests,
                if r.paused { "yes" } else { "no" },
            );
        }
        page.push_str("</table>\n");
        let uploads: Vec<_> = rows
            .iter()
            .filter_map(|(id, _, r)| Some((id, r.upload.as_ref()?)))
            .collect();
        if !uploads.is_empty() {
            let _ = write!(
                page,
                "<h2>Uploads in flight ({})</h2>\n<table id=\"uploads\">\n\
                 <tr><th>id</th><th class=\"l\">target</th><th>received</th>\
                 <th>announced</th></tr>\n",
                uploads.len()
            );
            for (id, u) in uploads.iter().take(HTML_ROWS) {
                let _ = writeln!(
                    page,
                    "<tr><td>{id}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
                    escape_html(&u.target),
                    u.received,
                    u.announced
                        .map_or_else(|| "chunked".to_string(), |n| n.to_string()),
                );
            }
            page.push_str("</table>\n");
        }
        if rows.len() > HTML_ROWS {
            let _ = writeln!(
                page,
                "<p>and {} more; the JSON lists them all.</p>",
                rows.len() - HTML_ROWS
            );
        }
        page.push_str(
            "<p>requests: responses queued on the connection; paused: reading \
             stopped until its queued output drains.</p>\n\
             <h2>Totals since start</h2>\n<table id=\"totals\">\n",
        );
        let (each, sum) = self.counts();
        for (name, value) in sum.totals(self.uptime(now)) {
            let _ = writeln!(
                page,
                "<tr><th class=\"l\">{}</th><td>{value}</td></tr>",
                name.replace('_', " ")
            );
        }
        page.push_str("</table>\n");
        if several {
            page.push_str(
                "<h2>Workers</h2>\n<table id=\"workers\">\n<tr><th>worker</th>\
                 <th>connections accepted</th><th>connections open</th>\
                 <th>requests</th><th>bytes out</th></tr>\n",
            );
            for (worker, c) in each.iter().enumerate() {
                let _ = writeln!(
                    page,
                    "<tr><td>{worker}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    c.accepted,
                    c.open(),
                    c.requests,
                    c.bytes_out
                );
            }
            page.push_str("</table>\n");
        }
        let _ = writeln!(
            page,
            "<p><a href=\"?format=json\">JSON</a></p>\
             <hr><address>{SERVER}</address></body></html>"
        );
        page
    }

    /// The status page as JSON.
    pub fn json(&self, now: Instant) -> String {
        let mut out = String::with_capacity(1024);
        let _ = write!(out, "{{\"server\":{},\"totals\":{{", Json(SERVER));
        let (each, sum) = self.counts();
        for (i, (name, value)) in sum.totals(self.uptime(now)).iter().enumerate() {
            let comma = if i > 0 { "," } else { "" };
            let _ = write!(out, "{comma}\"{name}\":{value}");
        }
        out.push_str("},\"workers\":[");
        for (worker, c) in each.iter().enumerate() {
            let comma = if worker > 0 { "," } else { "" };
            let _ = write!(
                out,
                "{comma}{{\"worker\":{worker},\"connections_accepted\":{},\
                 \"connections_open\":{},\"requests\":{},\"bytes_out\":{}}}",
                c.accepted,
                c.open(),
                c.requests,
                c.bytes_out
            );
        }
        out.push_str("],\"channels\":[");
        for (i, (id, worker, r)) in self.rows().iter().enumerate() {
            let comma = if i > 0 { "," } else { "" };
            let peer = r.peer.map(|p| p.to_string());
            let _ = write!(
                out,
                "{comma}{{\"id\":{id},\"worker\":{worker},\"peer\":{},\"age_secs\":{:.3},\"idle_secs\":{:.3},\
                 \"phase\":{},\"terminator\":{},\"input_bytes\":{},\"queued\":{},\
                 \"queued_bytes\":{},\"requests\":{},\"paused\":{},\"upload\":{}}}",
                peer.as_deref()
                    .map_or_else(|| "null".to_string(), |p| Json(p).to_string()),
                now.saturating_duration_since(r.accepted).as_secs_f64(),
                now.saturating_duration_since(r.active).as_secs_f64(),
                Json(r.phase),
                Json(&r.terminator.to_string()),
                r.input,
                r.queued,
                r.queued_bytes,
                r.requests,
                r.paused,
                r.upload.as_ref().map_or_else(
                    || "null".to_string(),
                    |u| format!(
                        "{{\"target\":{},\"received\":{},\"announced\":{}}}",
                        Json(&u.target),
                        u.received,
                        u.announced
                            .map_or_else(|| "null".to_string(), |n| n.to_string())
                    )
                ),
            );
        }
        out.push_str("]}\n");
        out
    }
}

/// A duration as seconds with one decimal: `12.3s`.
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}s", self.0.as_secs_f64())
    }
}

/// A string as a JSON string literal.
struct Json<'a>(&'a str);

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let cases = [
            ("plain", "\"plain\""),
            ("\"\\n\"", r#""\"\\n\"""#),
            ("a\r\nb\tc", r#""a\r\nb\tc""#),
            ("\u{1}\u{1f}", r#""\u0001\u001f""#),
            ("é ✓", "\"é ✓\""),
        ];
        for (s, want) in cases {
            assert_eq!(Json(s).to_string(), want, "{s:?}");
        }
    }

    #[test]
    fn responses_are_counted_by_class() {
        let m = Monitor::new(false);
        for status in [100, 200, 206, 304, 404, 400, 503, 0, 600, 99] {
            m.response(status);
        }
        let classes: Vec<u64> = m.by_class.iter().map(Counter::get).collect();
        assert_eq!(classes, [1, 2, 1, 2, 1]);
        assert_eq!(m.requests.get(), 10);
    }

    #[test]
    fn the_board_follows_channels_only_when_kept() {
        let off = Monitor::new(false);
        let chan = Channel::new(b"\n");
        off.observe(&chan, "idle", 0, None);
        assert!(off.rows().is_empty() && !off.keeps_board());

        let page = Monitors::new(1, true);
        let on = page.get(0);
        let mut chan = Channel::new(b"\r\n\r\n");
        on.observe(&chan, "idle", 0, None);
        chan.set_terminator(Terminator::Count(10));
        chan.push(&b"queued"[..]);
        on.observe(&chan, "body", 3, None);
        let rows = on.rows();
        assert_eq!(rows.len(), 1);
        let (id, row) = &rows[0];
        assert_eq!(*id, chan.id());
        assert_eq!(row.terminator, Terminator::Count(10));
        assert_eq!((row.phase, row.queued, row.queued_bytes), ("body", 1, 6));
        assert_eq!((row.requests, row.paused), (3, false));
        let json = page.json(Instant::now());
        assert!(json.contains("\"terminator\":\"10 bytes\""), "{json}");
        assert!(json.contains("\"phase\":\"body\""), "{json}");
        assert!(json.contains("\"worker\":0,\"peer\""), "{json}");
        let html = page.html(Instant::now());
        assert!(html.contains("Open channels (1)"), "{html}");
        assert!(!html.contains("worker"), "one worker has no column: {html}");
        on.forget(chan.id());
        assert!(on.rows().is_empty());
    }

    #[test]
    fn terminators_are_escaped_in_html() {
        let page = Monitors::new(1, true);
        let chan = Channel::new(b"<&>");
        page.get(0).observe(&chan, "idle", 0, None);
        let html = page.html(Instant::now());
        assert!(html.contains("&quot;&lt;&amp;&gt;&quot;"), "{html}");
    }

    #[test]
    fn the_page_sums_every_worker_and_names_the_worker_of_each_channel() {
        let page = Monitors::new(2, true);
        let (w0, w1) = (page.get(0), page.get(1));
        assert_eq!((w0.worker(), w1.worker(), page.len()), (0, 1, 2));
        for m in [w0, w1, w1] {
            Monitor::count(&m.accepted);
        }
        w0.response(200);
        w1.response(200);
        w1.response(404);
        w1.bytes_out.set(100);
        Monitor::count(&w1.closed);
        w1.observe(&Channel::new(b"\n"), "idle", 2, None);

        let json = page.json(Instant::now());
        for want in [
            "\"connections_accepted\":3,\"connections_open\":2,\"requests\":3,\"bytes_out\":100,",
            "\"responses_2xx\":2,",
            "\"responses_4xx\":1,",
            "\"workers\":[{\"worker\":0,\"connections_accepted\":1,\"connections_open\":1,\
             \"requests\":1,\"bytes_out\":0},{\"worker\":1,\"connections_accepted\":2,\
             \"connections_open\":1,\"requests\":2,\"bytes_out\":100}]",
            "\"channels\":[{\"id\":0,\"worker\":1,",
        ] {
            assert!(json.contains(want), "{want} not in {json}");
        }
        let html = page.html(Instant::now());
        for want in [
            "<th>id</th><th>worker</th>",
            "<tr><td>0</td><td>1</td><td class=\"l\">-</td>",
            "<tr><th class=\"l\">requests</th><td>3</td></tr>",
            "<table id=\"workers\">",
            "<tr><td>1</td><td>2</td><td>1</td><td>2</td><td>100</td></tr>",
        ] {
            assert!(html.contains(want), "{want} not in {html}");
        }
    }
}
