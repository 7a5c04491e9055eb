//! Properties of the HTTP channel, driven in memory with requests from a
//! grammar of realistic-but-mutated client input (GET, HEAD and friends,
//! pipelined bursts, Content-Length bodies, chunked bodies with extensions
//! and trailers, bare LF line endings, garbage, truncation, byte edits) cut
//! into random reads with random sends and back-pressure limits.
//!
//! The checks live in `channel_check` (shared with the fuzz target
//! `fuzz/fuzz_targets/http_channel.rs`): no panic, no more responses than
//! complete heads, input and output within the channel's limits, the same
//! output however the input is split, nothing from outside the root.

mod channel_check;

use asynchat::Limits;
use channel_check::{Plan, Read, Site, check, complete_heads, drive, parse_output};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const METHODS: &[&str] = &[
    "GET", "GET", "GET", "GET", "HEAD", "HEAD", "OPTIONS", "POST", "PUT", "BREW",
];

/// Targets that name something (or nothing) in the site.
const TARGETS: &[&str] = &[
    "/",
    "/index.html",
    "/a.txt",
    "/a.txt?x=1",
    "/big.bin",
    "/empty.txt",
    "/sub",
    "/sub/",
    "/sub/note.txt",
    "/sub/deeper/",
    "/docs",
    "/docs/",
    "/caf%C3%A9%20menu.txt",
    "/.hidden",
    "/link-out/secret.txt",
    "/secret-link",
    "http://h/a.txt",
    "*",
    "/nope",
];

/// Targets that are refused, some of them trying to climb out.
const BAD_TARGETS: &[&str] = &[
    "/%2e%2e/outside/secret.txt",
    "/sub/../../outside/secret.txt",
    "/a%00",
    "/%c0%ae",
    "a.txt",
];

const BAD_VERSIONS: &[&str] = &["HTTP/2.0", "HTTP/1.2", "HTP/1.1", "HTTP/1.1 "];

/// Fields that keep a request servable.
const FIELDS: &[&str] = &[
    "Range: bytes=0-9",
    "Range: bytes=0-1,5-9,-3",
    "Range: bytes=30000-30099,0-0",
    "Range: bytes=100000-",
    "Range: bytes=x",
    "If-Range: \"nope\"",
    "If-None-Match: \"x\"",
    "If-None-Match: *",
    "If-Modified-Since: Sun, 06 Nov 2050 08:49:37 GMT",
    "Connection: keep-alive",
    "Expect: 100-continue",
    "User-Agent: proptest",
    "Accept: */*",
];

/// Fields that end the connection or make the request an error.
const BAD_FIELDS: &[&str] = &[
    "Connection: close",
    "X-Folded: a\r\n b",
    "Host: second",
    "Content-Length: 2",
    "Content-Length: x",
    "Transfer-Encoding: gzip",
    "Bad Field: x",
];

const EXTENSIONS: &[&str] = &["", "", ";a=b", " ; name=\"v\"", ";x", "\t;y"];

const TRAILERS: &[&str] = &["X-Sum: 1", "Trailer: yes", "bad trailer"];

/// How a request's body is framed.
#[derive(Debug, Clone)]
enum Body {
    None,
    /// The body, and the Content-Length announced (a little off, sometimes).
    Length(Vec<u8>, i64),
    /// The chunks with their extensions, and the trailer lines.
    Chunked(Vec<(Vec<u8>, &'static str)>, Vec<&'static str>),
}

/// Line endings.
#[derive(Debug, Clone, Copy)]
enum Eol {
    Crlf,
    Lf,
    Mixed,
}

#[derive(Debug, Clone)]
struct Request {
    method: &'static str,
    target: &'static str,
    version: &'static str,
    hosts: usize,
    fields: Vec<&'static str>,
    body: Body,
    eol: Eol,
}

impl Request {
    fn render(&self, out: &mut Vec<u8>) {
        let mut n = 0;
        let mut line = |out: &mut Vec<u8>, text: &[u8]| {
            out.extend_from_slice(text);
            n += 1;
            let crlf = match self.eol {
                Eol::Crlf => true,
                Eol::Lf => false,
                Eol::Mixed => n % 2 == 0,
            };
            out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        };
        let request_line = format!("{} {} {}", self.method, self.target, self.version);
        line(out, request_line.as_bytes());
        for _ in 0..self.hosts {
            line(out, b"Host: a");
        }
        for field in &self.fields {
            line(out, field.as_bytes());
        }
        match &self.body {
            Body::None => line(out, b""),
            Body::Length(body, delta) => {
                let declared = (body.len() as i64 + delta).max(0);
                line(out, format!("Content-Length: {declared}").as_bytes());
                line(out, b"");
                out.extend_from_slice(body);
            }
            Body::Chunked(chunks, trailers) => {
                line(out, b"Transfer-Encoding: chunked");
                line(out, b"");
                for (data, ext) in chunks {
                    line(out, format!("{:x}{ext}", data.len()).as_bytes());
                    out.extend_from_slice(data);
                    line(out, b"");
                }
                line(out, b"0");
                for trailer in trailers {
                    line(out, trailer.as_bytes());
                }
                line(out, b"");
            }
        }
    }
}

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(options)
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..max),
        prop::collection::vec(prop::sample::select(&b"ab\r\n"[..]), 0..max),
    ]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        3 => Just(Body::None),
        2 => (bytes(40), prop_oneof![40 => Just(0i64), 1 => -3i64..3])
            .prop_map(|(b, d)| Body::Length(b, d)),
        2 => (
            prop::collection::vec((bytes(20), pick(EXTENSIONS)), 0..4),
            prop::collection::vec(pick(TRAILERS), 0..3),
        )
            .prop_map(|(c, t)| Body::Chunked(c, t)),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (
        pick(METHODS),
        prop_oneof![40 => pick(TARGETS), 1 => pick(BAD_TARGETS)],
        prop_oneof![50 => Just("HTTP/1.1"), 6 => Just("HTTP/1.0"), 1 => pick(BAD_VERSIONS)],
        prop_oneof![80 => Just(1usize), 1 => Just(0usize), 1 => Just(2usize)],
        (
            prop::collection::vec(pick(FIELDS), 0..3),
            prop_oneof![40 => Just(None), 1 => pick(BAD_FIELDS).prop_map(Some)],
        ),
        body(),
        prop_oneof![6 => Just(Eol::Crlf), 2 => Just(Eol::Lf), 1 => Just(Eol::Mixed)],
    )
        .prop_map(
            |(method, target, version, hosts, (mut fields, bad), body, eol)| {
                fields.extend(bad);
                Request {
                    method,
                    target,
                    version,
                    hosts,
                    fields,
                    body,
                    eol,
                }
            },
        )
}

/// A byte edit: overwrite, insert or delete at a position.
#[derive(Debug, Clone)]
enum Edit {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![any::<u8>(), prop::sample::select(&b"\r\n :;,0-9aG/%"[..])];
    prop_oneof![
        (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Edit::Delete),
    ]
}

/// What the client sends: leading blank lines or garbage, a burst of
/// requests, then edits and perhaps a truncation.
fn client_input() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            4 => Just(Vec::new()),
            1 => Just(b"\r\n\n".to_vec()),
            1 => bytes(12),
        ],
        prop::collection::vec(request(), 1..8),
        prop_oneof![5 => Just(Vec::new()), 1 => prop::collection::vec(edit(), 1..4)],
        prop_oneof![5 => Just(None), 1 => any::<prop::sample::Index>().prop_map(Some)],
    )
        .prop_map(|(prefix, requests, edits, cut)| {
            let mut input = prefix;
            for r in &requests {
                r.render(&mut input);
            }
            for e in edits {
                match e {
                    Edit::Set(i, b) if !input.is_empty() => {
                        let i = i.index(input.len());
                        input[i] = b;
                    }
                    Edit::Insert(i, b) => {
                        let i = i.index(input.len() + 1);
                        input.insert(i, b);
                    }
                    Edit::Delete(i) if !input.is_empty() => {
                        let i = i.index(input.len());
                        input.remove(i);
                    }
                    _ => {}
                }
            }
            if let Some(cut) = cut {
                input.truncate(cut.index(input.len() + 1));
            }
            input
        })
}

fn plan() -> impl Strategy<Value = Plan> {
    let read = (
        prop_oneof![3 => 1usize..8, 2 => 8usize..200],
        prop::bool::weighted(0.3),
    )
        .prop_map(|(len, send_after)| Read { len, send_after });
    let limits = prop_oneof![
        1 => Just(Limits::default()),
        3 => (1usize..24, 1u64..4096, 1u64..4096, 1u64..48).prop_map(|(q, b, w, u)| Limits {
            max_queued: q,
            max_queued_bytes: b,
            write_budget: w,
            work_per_event: u,
        }),
    ];
    (prop::collection::vec(read, 0..6), limits).prop_map(|(reads, limits)| Plan { reads, limits })
}

#[test]
fn the_channel_keeps_its_properties_under_mutated_requests() {
    let site = Site::new("channel-properties");
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&(client_input(), plan()), |(input, plan)| {
        std::panic::catch_unwind(|| check(&site.root, &input, &plan))
            .map_err(|e| TestCaseError::fail(panic_message(&e)))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn panic_message(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".to_string())
}

// The checker itself must see what it claims to: these pin it down on
// inputs whose answers are known.

/// Every read one byte long, a send after each, tiny limits.
fn bytewise() -> Plan {
    Plan {
        reads: vec![Read {
            len: 1,
            send_after: true,
        }],
        limits: Limits {
            max_queued: 1,
            max_queued_bytes: 1,
            write_budget: 7,
            work_per_event: 1,
        },
    }
}

#[test]
fn the_checker_counts_pipelined_responses() {
    let site = Site::new("channel-properties-count");
    let input = b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n\
                  HEAD /a.txt HTTP/1.1\r\nHost: a\r\n\r\n\
                  GET /a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1,5-9\r\n\r\n\
                  POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nab\r\n\r\n\
                  GET /big.bin HTTP/1.0\n\n";
    assert_eq!(complete_heads(input), 6, "the body's blank lines count too");
    let run = drive(&site.root, input, &bytewise());
    let (responses, _) = parse_output(&run.output).unwrap();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 206, 405, 200]);
    assert_eq!(responses[1].body, 0, "HEAD has no body");
    assert_eq!(responses[4].body, 40_000);
    assert!(responses[4].close && !responses[3].close);
    check(&site.root, input, &bytewise());
}

#[test]
fn a_head_that_never_ends_gets_one_431() {
    let site = Site::new("channel-properties-431");
    let mut input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nX: ".to_vec();
    input.resize(input.len() + 20_000, b'a');
    let run = drive(&site.root, &input, &bytewise());
    let (responses, _) = parse_output(&run.output).unwrap();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 431]);
    assert!(run.fed < input.len(), "nothing is read after the 431");
    check(&site.root, &input, &bytewise());
}

#[test]
fn the_output_parser_refuses_misframed_output() {
    let ok = b"HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 2\r\n\r\nab";
    let (responses, normal) = parse_output(ok).unwrap();
    assert_eq!(responses.len(), 1);
    assert_eq!(
        normal,
        b"HTTP/1.1 200 OK\r\nDate: *\r\nContent-Length: 2\r\n\r\nab"
    );
    for bad in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
        b"HTTP/1.1 200 OK\r\nX: a\nContent-Length: 1\r\n\r\na",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n",
        b"200 OK\r\n\r\n",
    ] {
        assert!(
            parse_output(bad).is_err(),
            "{:?}",
            bad.escape_ascii().to_string()
        );
    }
}

/// CI found this one: a multipart range response counted its file twice
/// while the producer had a piece of it queued (once in the piece, once in
/// the producer), so the queue seemed to hold two files' worth at once.
#[test]
fn a_range_response_counts_its_file_once() {
    let site = Site::new("channel-properties-ranges");
    let plan = Plan {
        reads: vec![Read {
            len: 1,
            send_after: false,
        }],
        limits: Limits {
            max_queued: 6,
            max_queued_bytes: 311,
            write_budget: 1,
            work_per_event: 1,
        },
    };
    for path in ["/big.bin", "/a.txt", "/index.html"] {
        for range in ["0-1,5-9,-3", "0-1", "-3", "0-0,2-2,4-4,6-6"] {
            let input = format!("GET {path} HTTP/1.1\r\nHost: a\r\nRange: bytes={range}\r\n\r\n");
            check(&site.root, input.as_bytes(), &plan);
        }
    }
}
