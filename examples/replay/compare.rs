//! Comparing the responses a replay wrote with the ones a capture
//! recorded: the first byte where they differ, and why.
//!
//! Pure functions over bytes. A `Date` field always differs (the clock
//! moved), so its value is masked in both streams first (it is always the
//! 29 characters of an IMF-fixdate, so offsets stay aligned). Bytes the
//! capture left out (file data sent with `sendfile`, or past its cap) are
//! compared by length alone.
//!
//! When the streams differ, both are cut into responses and compared
//! response by response, so that a replay against a different root reports
//! what differs in the files (a status, an `ETag`, a `Content-Length`, a
//! body) as the cause, rather than as bytes out of step.

#![allow(dead_code)] // tests use parts the replayer does not

use std::fmt::Write as _;

/// A `respond` line of the replay's trace: status and body bytes sent (0
/// for a response to HEAD, whatever its Content-Length says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Responded {
    pub status: u16,
    pub body: u64,
}

/// Reads a trace line `respond 200, body 257 bytes, then keep alive`.
pub fn responded(line: &str) -> Option<Responded> {
    let rest = line.strip_prefix("respond ")?;
    let (status, rest) = rest.split_once(", body ")?;
    let (body, _) = rest.split_once(" bytes")?;
    Some(Responded {
        status: status.parse().ok()?,
        body: body.parse().ok()?,
    })
}

/// `stream` with the value of every `Date` field replaced by `*`s of the
/// same length.
pub fn mask_dates(stream: &[u8]) -> Vec<u8> {
    let mut out = stream.to_vec();
    let key = b"\r\nDate: ";
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&out[from..], key) {
        let start = from + i + key.len();
        let end = out[start..]
            .iter()
            .position(|&b| b == b'\r')
            .map_or(out.len(), |e| start + e);
        out[start..end].fill(b'*');
        from = end;
    }
    out
}

/// True when byte `i` of the recorded stream was left out of the capture.
fn omitted(spans: &[(u64, u64)], i: usize) -> bool {
    let i = i as u64;
    spans.iter().any(|&(at, len)| i >= at && i < at + len)
}

/// The first offset where `recorded` and `replayed` differ, bytes the
/// capture left out (`omitted`: offset and length) matching anything; the
/// length of the shorter when one is the start of the other; `None` when
/// they are the same.
pub fn first_difference(
    recorded: &[u8],
    omitted_spans: &[(u64, u64)],
    replayed: &[u8],
) -> Option<usize> {
    let n = recorded.len().min(replayed.len());
    let differ = (0..n).find(|&i| recorded[i] != replayed[i] && !omitted(omitted_spans, i));
    match differ {
        Some(i) => Some(i),
        None if recorded.len() != replayed.len() => Some(n),
        None => None,
    }
}

/// One response found in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Where it starts in the stream.
    pub at: usize,
    /// The status code.
    pub status: u16,
    /// The status line, without its CRLF.
    pub status_line: String,
    /// Field names (lower case) and values, in order.
    pub fields: Vec<(String, String)>,
    /// Where the body starts in the stream, and its length (as much of it
    /// as the stream holds).
    pub body_at: usize,
    pub body_len: usize,
    /// The stream holds the whole response.
    pub complete: bool,
}

impl Response {
    /// The value of the first field with this name (lower case).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Its declared Content-Length.
    pub fn content_length(&self) -> Option<u64> {
        self.field("content-length")?.parse().ok()
    }

    /// An interim (1xx) response, which has no body and no `respond` line.
    pub fn interim(&self) -> bool {
        (100..200).contains(&self.status)
    }
}

/// Cuts `stream` into responses. `body(k, response)` says how long the
/// body of the `k`th final (non-1xx) response is. Stops at the first head
/// that is not complete or not a response.
pub fn split(stream: &[u8], mut body: impl FnMut(usize, &Response) -> u64) -> Vec<Response> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut finals = 0;
    while at < stream.len() {
        let rest = &stream[at..];
        let Some(end) = memchr::memmem::find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..end]);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default().to_string();
        let Some(status) = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
        else {
            break;
        };
        let fields = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut r = Response {
            at,
            status,
            status_line,
            fields,
            body_at: at + end + 4,
            body_len: 0,
            complete: true,
        };
        if !r.interim() {
            let want = usize::try_from(body(finals, &r)).unwrap_or(usize::MAX);
            finals += 1;
            let have = stream.len() - r.body_at;
            r.body_len = want.min(have);
            r.complete = want <= have;
        }
        at = r.body_at + r.body_len;
        out.push(r);
    }
    out
}

/// Cuts the replay's output, whose bodies the trace's `respond` lines give.
pub fn split_replayed(stream: &[u8], responded: &[Responded]) -> Vec<Response> {
    split(stream, |k, _| responded.get(k).map_or(0, |r| r.body))
}

/// Cuts the recorded stream, using the replay's responses to tell which
/// requests were HEAD (a body of 0 bytes under a Content-Length that is
/// not): the same request has no body in either.
pub fn split_recorded(stream: &[u8], replayed: &[Response]) -> Vec<Response> {
    let finals: Vec<&Response> = replayed.iter().filter(|r| !r.interim()).collect();
    split(stream, |k, r| {
        let head_only = finals
            .get(k)
            .is_some_and(|p| p.body_len == 0 && p.complete && p.content_length().unwrap_or(0) > 0);
        if head_only || matches!(r.status, 204 | 304) {
            0
        } else {
            r.content_length().unwrap_or(0)
        }
    })
}

/// The statuses a file's presence, kind or validators decide.
const FILE_STATUSES: &[u16] = &[200, 206, 301, 304, 404, 412, 416];

/// The fields that describe the file served rather than the server's
/// answer.
const FILE_FIELDS: &[&str] = &[
    "etag",
    "last-modified",
    "content-length",
    "content-range",
    "content-type",
    "location",
];

/// How two streams of responses compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Byte for byte the same, `Date` values aside.
    Same,
    /// They differ only where the files served differ: a status, the
    /// validators, a length, a body.
    Files,
    /// They differ in the server's answers or their framing.
    Answers,
}

/// The comparison, as lines to print.
#[derive(Debug, Clone)]
pub struct Report {
    pub verdict: Verdict,
    pub first_difference: Option<usize>,
    pub lines: Vec<String>,
}

/// Bytes around `at`, escaped, for showing where two streams part.
fn around(stream: &[u8], at: usize) -> String {
    let start = at.saturating_sub(24);
    let end = (at + 24).min(stream.len());
    let mut s = String::new();
    if start > 0 {
        s.push_str("...");
    }
    s.push('"');
    for &b in &stream[start..end] {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    if end < stream.len() {
        s.push_str("...");
    }
    if at >= stream.len() {
        s.push_str(" (ends here)");
    }
    s
}

/// Which part of `r` byte `at` of the stream falls in.
fn part_of(r: &Response, stream: &[u8], at: usize) -> String {
    if at >= r.body_at {
        return format!("its body, byte {}", at - r.body_at);
    }
    let line_start = stream[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
        .max(r.at);
    if line_start == r.at {
        return "its status line".into();
    }
    let line = String::from_utf8_lossy(&stream[line_start..at.max(line_start)]);
    match line.split_once(':') {
        Some((name, _)) => format!("its {name} field"),
        None => {
            let end = stream[line_start..]
                .iter()
                .position(|&b| b == b':' || b == b'\r')
                .map_or(stream.len(), |e| line_start + e);
            format!(
                "its {} field",
                String::from_utf8_lossy(&stream[line_start..end])
            )
        }
    }
}

/// What an ETag of this server (`"SIZE-MTIME-DIGEST"`, hex) says changed.
pub fn explain_etags(recorded: &str, replayed: &str) -> String {
    let parts = |t: &str| -> Option<(String, String, String)> {
        let t = t.trim_matches('"');
        let mut p = t.splitn(3, '-');
        let size = p.next()?.to_string();
        let rest: Vec<&str> = p.collect();
        // A time before 1970 has a '-' of its own: "3e8--5f5e100-digest".
        match rest.as_slice() {
            [mtime, digest] => Some((size, mtime.to_string(), digest.to_string())),
            _ => None,
        }
    };
    match (parts(recorded), parts(replayed)) {
        (Some((s1, m1, d1)), Some((s2, m2, d2))) => {
            let size =
                |h: &str| u64::from_str_radix(h, 16).map_or(h.to_string(), |n| n.to_string());
            if s1 != s2 {
                format!(
                    "the file's size differs ({} bytes served, {} now)",
                    size(&s1),
                    size(&s2)
                )
            } else if m1 != m2 {
                "the same size, modified at another time".into()
            } else if d1 != d2 {
                "the same size and modification time to the second, but another version \
                 of the file (another device or inode, or another change time: a copy of the root, say)"
                    .into()
            } else {
                "the same file".into()
            }
        }
        _ => "a different file".into(),
    }
}

/// Compares one recorded response with the replayed one: the differences,
/// and whether all of them are the file's.
fn compare_one(
    k: usize,
    rec: &Response,
    rep: &Response,
    rec_stream: &[u8],
    rep_stream: &[u8],
    omitted_spans: &[(u64, u64)],
    lines: &mut Vec<String>,
) -> bool {
    let mut file_only = true;
    let mut notes = Vec::new();
    if rec.status != rep.status {
        let both_file = FILE_STATUSES.contains(&rec.status) && FILE_STATUSES.contains(&rep.status);
        let why = match (rec.status, rep.status) {
            (_, 404) => ": the file is not in the replay's root",
            (404, _) => ": the file was not there when the capture was made",
            (304, _) | (_, 304) | (412, _) | (_, 412) => {
                ": the file's validators differ, so the condition comes out differently"
            }
            (301, _) | (_, 301) => ": a directory in one root is a file in the other",
            _ if both_file => ": the files differ",
            _ => "",
        };
        // The fields and body of another status differ as a matter of
        // course: the status is the difference.
        lines.push(format!("response {} ({}):", k + 1, rec.status_line));
        lines.push(format!(
            "  status {:?} recorded, {:?} replayed{why}",
            rec.status_line, rep.status_line
        ));
        return both_file;
    }
    let names: Vec<&str> = rec
        .fields
        .iter()
        .chain(&rep.fields)
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != "date")
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let (a, b) = (rec.field(name), rep.field(name));
        if a == b {
            continue;
        }
        file_only &= FILE_FIELDS.contains(&name) && FILE_STATUSES.contains(&rep.status);
        let show = |v: Option<&str>| v.map_or_else(|| "none".to_string(), |v| format!("{v:?}"));
        let mut note = format!("{name}: {} recorded, {} replayed", show(a), show(b));
        if name == "etag"
            && let (Some(a), Some(b)) = (a, b)
        {
            let _ = write!(note, ": {}", explain_etags(a, b));
        }
        notes.push(note);
    }
    let rec_body = &rec_stream[rec.body_at..rec.body_at + rec.body_len];
    let rep_body = &rep_stream[rep.body_at..rep.body_at + rep.body_len];
    let body_spans: Vec<(u64, u64)> = omitted_spans
        .iter()
        .filter_map(|&(at, len)| {
            let (lo, hi) = (
                (at as usize).max(rec.body_at),
                ((at + len) as usize).min(rec.body_at + rec.body_len),
            );
            (lo < hi).then(|| ((lo - rec.body_at) as u64, (hi - lo) as u64))
        })
        .collect();
    if let Some(i) = first_difference(rec_body, &body_spans, rep_body) {
        file_only &= FILE_STATUSES.contains(&rep.status);
        if i < rec_body.len().min(rep_body.len()) {
            notes.push(format!(
                "the bodies differ from byte {i} of {} recorded, {} replayed",
                rec_body.len(),
                rep_body.len()
            ));
        } else {
            notes.push(format!(
                "the bodies are the same for {i} bytes, then one ends: {} recorded, {} replayed",
                rec_body.len(),
                rep_body.len()
            ));
        }
    } else if rec.body_len > 0 && !notes.is_empty() {
        let left_out: u64 = body_spans.iter().map(|s| s.1).sum();
        let how = if left_out == rec.body_len as u64 {
            ", by length: the capture kept only its size"
        } else {
            ""
        };
        notes.push(format!(
            "the body is the same ({} bytes{how})",
            rec.body_len
        ));
    }
    if !notes.is_empty() {
        lines.push(format!("response {} ({}):", k + 1, rec.status_line));
        lines.extend(notes.into_iter().map(|n| format!("  {n}")));
    }
    file_only
}

/// Compares the recorded stream of responses (`omitted`: the spans the
/// capture left out) with the replay's output, cut as the replay's trace
/// says (`responded`).
pub fn compare(
    recorded: &[u8],
    omitted_spans: &[(u64, u64)],
    replayed: &[u8],
    responded: &[Responded],
) -> Report {
    let rec = mask_dates(recorded);
    let rep = mask_dates(replayed);
    let left_out: u64 = omitted_spans.iter().map(|s| s.1).sum();
    let by_length = if left_out > 0 {
        format!(", {left_out} of them left out of the capture and compared by length")
    } else {
        String::new()
    };
    let Some(first) = first_difference(&rec, omitted_spans, &rep) else {
        return Report {
            verdict: Verdict::Same,
            first_difference: None,
            lines: vec![format!(
                "identical to the {} bytes sent (Date fields aside{by_length})",
                recorded.len()
            )],
        };
    };
    let rep_responses = split_replayed(&rep, responded);
    let rec_responses = split_recorded(&rec, &rep_responses);
    let mut lines = Vec::new();
    let which = rec_responses
        .iter()
        .enumerate()
        .rev()
        .find(|(_, r)| r.at <= first)
        .map(|(k, r)| format!(" (response {}, {})", k + 1, part_of(r, &rec, first)))
        .unwrap_or_default();
    lines.push(format!(
        "first difference at byte {first} of the responses{which}: {} bytes sent, {} replayed",
        recorded.len(),
        replayed.len()
    ));
    lines.push(format!("  recorded: {}", around(&rec, first)));
    lines.push(format!("  replayed: {}", around(&rep, first)));
    let mut file_only = true;
    for (k, (a, b)) in rec_responses.iter().zip(&rep_responses).enumerate() {
        file_only &= compare_one(k, a, b, &rec, &rep, omitted_spans, &mut lines);
    }
    let (n, m) = (rec_responses.len(), rep_responses.len());
    if n != m {
        file_only = false;
        lines.push(format!("{n} responses recorded, {m} replayed"));
    }
    let rec_end = rec_responses.last().map_or(0, |r| r.body_at + r.body_len);
    let rep_end = rep_responses.last().map_or(0, |r| r.body_at + r.body_len);
    if rec_end < rec.len() || rep_end < rep.len() {
        file_only = false;
        lines.push(format!(
            "{} bytes recorded and {} replayed are not whole responses",
            rec.len() - rec_end,
            rep.len() - rep_end
        ));
    }
    let verdict = if file_only {
        Verdict::Files
    } else {
        Verdict::Answers
    };
    lines.push(match verdict {
        Verdict::Files => format!(
            "verdict: the responses differ only where the files served differ, not in their framing: \
             {}; the replay's root is not the one the capture was made from, or its files have changed since",
            if n == 1 {
                "1 response to the same request".to_string()
            } else {
                format!("{n} responses to the same requests")
            }
        ),
        _ => "verdict: the responses differ in the server's answers or their framing, not only in files".to_string(),
    });
    Report {
        verdict,
        first_difference: Some(first),
        lines,
    }
}
