//! The live status page (`--status PATH`): every open channel with its
//! terminator, buffers and queue, and totals since the server started.
//!
//! The totals are counted always (a few integer increments per request).
//! The board of open channels is kept only when the page is on: after every
//! event, a channel copies what the page shows of it into its row
//! ([`Monitor::observe`]), because while one channel answers a request the
//! reactor holds the others where no callback can reach them.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
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

/// Counters since start, and (when the page is on) the board of channels.
#[derive(Debug)]
pub struct Monitor {
    started: Instant,
    /// Connections accepted.
    pub accepted: Cell<u64>,
    /// Connections closed.
    pub closed: Cell<u64>,
    /// Responses queued (error responses included, `100 Continue` not).
    pub requests: Cell<u64>,
    /// Bytes written to clients.
    pub bytes_out: Cell<u64>,
    /// Responses by status class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub by_class: [Cell<u64>; 5],
    /// Connections whose header, body, keep-alive or send timeout passed.
    pub timeouts: Cell<u64>,
    /// Requests refused as malformed (framing, syntax, limits).
    pub parse_errors: Cell<u64>,
    board: Option<RefCell<BTreeMap<u64, Row>>>,
}

impl Monitor {
    /// Counters only (`board` false), or counters and the board of open
    /// channels that the status page shows.
    pub fn new(board: bool) -> Monitor {
        Monitor {
            started: Instant::now(),
            accepted: Cell::new(0),
            closed: Cell::new(0),
            requests: Cell::new(0),
            bytes_out: Cell::new(0),
            by_class: Default::default(),
            timeouts: Cell::new(0),
            parse_errors: Cell::new(0),
            board: board.then(|| RefCell::new(BTreeMap::new())),
        }
    }

    /// Adds one to a counter.
    pub fn count(counter: &Cell<u64>) {
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
        let mut board = board.borrow_mut();
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
            board.borrow_mut().remove(&id);
        }
    }

    /// A copy of the board, in connection order.
    pub fn rows(&self) -> Vec<(u64, Row)> {
        self.board.as_ref().map_or_else(Vec::new, |b| {
            b.borrow().iter().map(|(id, r)| (*id, r.clone())).collect()
        })
    }

    fn totals(&self, now: Instant) -> [(&'static str, u64); 12] {
        let class = |i: usize| self.by_class[i].get();
        [
            ("uptime_secs", now.duration_since(self.started).as_secs()),
            ("connections_accepted", self.accepted.get()),
            (
                "connections_open",
                self.accepted.get().saturating_sub(self.closed.get()),
            ),
            ("requests", self.requests.get()),
            ("bytes_out", self.bytes_out.get()),
            ("responses_1xx", class(0)),
            ("responses_2xx", class(1)),
            ("responses_3xx", class(2)),
            ("responses_4xx", class(3)),
            ("responses_5xx", class(4)),
            ("timeouts", self.timeouts.get()),
            ("parse_errors", self.parse_errors.get()),
        ]
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
        // The board first: it is what changes.
        let rows = self.rows();
        let _ = write!(
            page,
            "<h2>Open channels ({})</h2>\n<table id=\"channels\">\n\
             <tr><th>id</th><th class=\"l\">peer</th><th>age</th><th>idle</th>\
             <th class=\"l\">phase</th><th class=\"l\">terminator</th>\
             <th>input bytes</th><th>queued</th><th>queued bytes</th>\
             <th>requests</th><th>paused</th></tr>\n",
            rows.len()
        );
        for (id, r) in rows.iter().take(HTML_ROWS) {
            let _ = writeln!(
                page,
                "<tr{}><td>{id}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
                 <td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td></tr>",
                if r.paused { " class=\"paused\"" } else { "" },
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
            .filter_map(|(id, r)| Some((id, r.upload.as_ref()?)))
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
        for (name, value) in self.totals(now) {
            let _ = writeln!(
                page,
                "<tr><th class=\"l\">{}</th><td>{value}</td></tr>",
                name.replace('_', " ")
            );
        }
        let _ = write!(
            page,
            "</table>\n<p><a href=\"?format=json\">JSON</a></p>\
             <hr><address>{SERVER}</address></body></html>\n"
        );
        page
    }

    /// The status page as JSON.
    pub fn json(&self, now: Instant) -> String {
        let mut out = String::with_capacity(1024);
        let _ = write!(out, "{{\"server\":{},\"totals\":{{", Json(SERVER));
        for (i, (name, value)) in self.totals(now).iter().enumerate() {
            let comma = if i > 0 { "," } else { "" };
            let _ = write!(out, "{comma}\"{name}\":{value}");
        }
        out.push_str("},\"channels\":[");
        for (i, (id, r)) in self.rows().iter().enumerate() {
            let comma = if i > 0 { "," } else { "" };
            let peer = r.peer.map(|p| p.to_string());
            let _ = write!(
                out,
                "{comma}{{\"id\":{id},\"peer\":{},\"age_secs\":{:.3},\"idle_secs\":{:.3},\
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
        let classes: Vec<u64> = m.by_class.iter().map(Cell::get).collect();
        assert_eq!(classes, [1, 2, 1, 2, 1]);
        assert_eq!(m.requests.get(), 10);
    }

    #[test]
    fn the_board_follows_channels_only_when_kept() {
        let off = Monitor::new(false);
        let chan = Channel::new(b"\n");
        off.observe(&chan, "idle", 0, None);
        assert!(off.rows().is_empty() && !off.keeps_board());

        let on = Monitor::new(true);
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
        let json = on.json(Instant::now());
        assert!(json.contains("\"terminator\":\"10 bytes\""), "{json}");
        assert!(json.contains("\"phase\":\"body\""), "{json}");
        let html = on.html(Instant::now());
        assert!(html.contains("Open channels (1)"), "{html}");
        on.forget(chan.id());
        assert!(on.rows().is_empty());
    }

    #[test]
    fn terminators_are_escaped_in_html() {
        let on = Monitor::new(true);
        let chan = Channel::new(b"<&>");
        on.observe(&chan, "idle", 0, None);
        let html = on.html(Instant::now());
        assert!(html.contains("&quot;&lt;&amp;&gt;&quot;"), "{html}");
    }
}
