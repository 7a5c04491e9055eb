//! The HTTP/1.1 protocol of `asynchat-httpd`, over real sockets: every test
//! writes raw request bytes to a server on 127.0.0.1:0 and checks the exact
//! statuses, fields and bodies that come back, and whether the connection
//! stays open.
//!
//! One group per requirement: methods; framing (bodies read and discarded);
//! framing errors that fail closed; the request line and head; connections;
//! limits and timeouts; error pages; graceful shutdown.

mod common;

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use asynchat::http::Config;
use common::*;

/// The contents of `a.txt`.
const A: &str = "hello";
/// The contents of `b.txt`.
const B: &str = "bravo, this is b.txt\n";
/// The contents of `secret`, which only a smuggled request would ask for.
const SECRET: &str = "SECRET";
/// The one `Allow` value.
const ALLOW: &str = "GET, HEAD, OPTIONS";

/// A server and its document root (dropped in this order).
struct Fixture {
    server: TestServer,
    root: TempDir,
}

/// A document root with `a.txt`, `b.txt` and `secret`.
fn docroot(tag: &str) -> TempDir {
    let root = TempDir::new(tag);
    root.file("a.txt", A);
    root.file("b.txt", B);
    root.file("secret", SECRET);
    root
}

/// The default configuration for `root`.
fn config(root: &TempDir) -> Config {
    Config::new(root.path()).unwrap()
}

/// Serves a fresh [`docroot`] with the defaults.
fn serve(tag: &str) -> Fixture {
    serve_with(tag, |_| {})
}

/// Serves a fresh [`docroot`] with a configuration adjusted by `tweak`.
fn serve_with(tag: &str, tweak: impl FnOnce(&mut Config)) -> Fixture {
    let root = docroot(tag);
    let mut cfg = config(&root);
    tweak(&mut cfg);
    Fixture {
        server: TestServer::start(cfg),
        root,
    }
}

/// Request bytes, shortened and escaped for a failure message.
fn show(raw: &[u8]) -> String {
    let s = raw.escape_ascii().to_string();
    if s.len() > 120 {
        format!("{}... ({} bytes)", &s[..120], raw.len())
    } else {
        s
    }
}

/// A patterned body, so that a misplaced byte shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Asserts an error page: small HTML, its Content-Length equal to its length.
fn assert_error_page(r: &Response, status: u16) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(
        r.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{r:?}"
    );
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str()),
        "{r:?}"
    );
    let text = r.text();
    assert!(text.starts_with("<!doctype html>"), "{text:?}");
    assert!(text.contains(&format!("<title>{status} ")), "{text:?}");
    assert!(text.trim_end().ends_with("</html>"), "{text:?}");
    assert!(r.body.len() < 1024, "error page of {} bytes", r.body.len());
}

/// Sends `raw` on a new connection and asserts that it is answered with the
/// error page for `status`, `Connection: close`, and then end of stream.
fn assert_fails_closed(server: &TestServer, raw: impl AsRef<[u8]>, status: u16) {
    let raw = raw.as_ref();
    let mut c = server.connect();
    c.send(raw);
    let r = c
        .read_response_to("GET")
        .unwrap_or_else(|e| panic!("no response to {}: {e}", show(raw)));
    assert_eq!(r.status, status, "status for {}: {r:?}", show(raw));
    assert_eq!(
        r.header("connection"),
        Some("close"),
        "for {}: {r:?}",
        show(raw)
    );
    assert_error_page(&r, status);
    assert!(c.is_closed(), "connection left open after {}", show(raw));
}

/// True if nothing (neither data nor end of stream) arrives within `d`.
fn quiet_for(c: &mut Client, d: Duration) -> bool {
    c.stream().set_read_timeout(Some(d)).unwrap();
    let quiet = match c.reader.fill_buf() {
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
    };
    c.stream().set_read_timeout(Some(PATIENCE)).unwrap();
    quiet
}

/// Reads until end of stream (or a reset), returning what came.
fn drain(c: &mut Client) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = vec![0; 256 * 1024];
    loop {
        match c.reader.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                ) =>
            {
                return all;
            }
            Err(e) => panic!("read after {} bytes: {e}", all.len()),
        }
    }
}

/// Headers without `Date`, which may tick between two responses.
fn without_date(r: &Response) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|(n, _)| n != "date")
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------
// Methods: GET and HEAD are served; HEAD has GET's fields (Content-Length
// included) and no body; OPTIONS is 200 with Allow and an empty body; POST,
// PUT, DELETE and PATCH are 405 with Allow; other tokens are 501, and
// methods are case-sensitive.
// ---------------------------------------------------------------------------

#[test]
fn get_serves_the_file() {
    let f = serve("get");
    let mut c = f.server.connect();
    let r = c.request(get("/a.txt"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("5"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.body, A.as_bytes());
    let r = c.request(get("/b.txt"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, B.as_bytes());
}

#[test]
fn head_has_gets_fields_and_no_body() {
    let f = serve("head");
    let mut c = f.server.connect();
    let g = c.request(get("/b.txt"));
    let h = c.request("HEAD /b.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(h.status, 200);
    assert_eq!(
        h.header("content-length"),
        Some(B.len().to_string().as_str())
    );
    assert!(h.body.is_empty());
    assert_eq!(without_date(&h), without_date(&g));
}

#[test]
fn head_then_pipelined_get_parses_right() {
    let f = serve("head-pipe");
    let mut c = f.server.connect();
    c.send(format!(
        "HEAD /b.txt HTTP/1.1\r\nHost: test\r\n\r\n{}{}",
        get("/a.txt"),
        get("/b.txt")
    ));
    let h = c.read_response_to("HEAD").unwrap();
    assert_eq!(h.status, 200);
    assert_eq!(
        h.header("content-length"),
        Some(B.len().to_string().as_str())
    );
    // Had the HEAD response carried a body, these would read it as a head.
    let a = c.read_response();
    assert_eq!((a.status, a.body.as_slice()), (200, A.as_bytes()));
    let b = c.read_response();
    assert_eq!((b.status, b.body.as_slice()), (200, B.as_bytes()));
    assert!(quiet_for(&mut c, Duration::from_millis(100)));
}

#[test]
fn head_of_a_missing_file_has_the_error_fields_and_no_body() {
    let f = serve("head-404");
    let mut c = f.server.connect();
    let g = c.request(get("/missing"));
    assert_error_page(&g, 404);
    c.send(format!(
        "HEAD /missing HTTP/1.1\r\nHost: test\r\n\r\n{}",
        get("/a.txt")
    ));
    let h = c.read_response_to("HEAD").unwrap();
    assert_eq!(h.status, 404);
    assert_eq!(without_date(&h), without_date(&g));
    let a = c.read_response();
    assert_eq!((a.status, a.body.as_slice()), (200, A.as_bytes()));
}

#[test]
fn options_is_200_with_allow_and_no_body() {
    let f = serve("options");
    for target in ["/a.txt", "*", "/missing"] {
        let mut c = f.server.connect();
        c.send(format!(
            "OPTIONS {target} HTTP/1.1\r\nHost: test\r\n\r\n{}",
            get("/a.txt")
        ));
        let r = c.read_response_to("OPTIONS").unwrap();
        assert_eq!(r.status, 200, "OPTIONS {target}: {r:?}");
        assert_eq!(r.header("allow"), Some(ALLOW), "OPTIONS {target}");
        assert_eq!(r.header("content-length"), Some("0"), "OPTIONS {target}");
        assert!(r.body.is_empty());
        // Nothing after the head: the next response starts right there.
        let a = c.read_response();
        assert_eq!((a.status, a.body.as_slice()), (200, A.as_bytes()));
    }
}

#[test]
fn post_put_delete_patch_are_405_with_allow() {
    let f = serve("405");
    let mut c = f.server.connect();
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = c.request(format!("{method} /a.txt HTTP/1.1\r\nHost: test\r\n\r\n"));
        assert_error_page(&r, 405);
        assert_eq!(r.header("allow"), Some(ALLOW), "{method}");
    }
    // The file is untouched and the connection still serves.
    let r = c.request(get("/a.txt"));
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
}

#[test]
fn unknown_methods_are_501() {
    let f = serve("501");
    for method in ["BREW", "PROPFIND", "CONNECT", "TRACE"] {
        let mut c = f.server.connect();
        let r = c.request(format!("{method} /a.txt HTTP/1.1\r\nHost: test\r\n\r\n"));
        assert_error_page(&r, 501);
        assert_eq!(r.header("allow"), None, "{method}");
    }
}

#[test]
fn methods_are_case_sensitive() {
    let f = serve("case");
    for method in ["get", "Get", "head", "options", "gET"] {
        let mut c = f.server.connect();
        let r = c.request(format!("{method} /a.txt HTTP/1.1\r\nHost: test\r\n\r\n"));
        assert_error_page(&r, 501);
    }
}

// ---------------------------------------------------------------------------
// Framing (RFC 9112 §6): the body of every request is read and discarded,
// so the request after it, in the same write, is parsed from the right
// byte; a body is never answered as a request.
// ---------------------------------------------------------------------------

#[test]
fn content_length_body_then_get_in_one_write() {
    let f = serve("cl-pipe");
    let mut c = f.server.connect();
    c.send(format!(
        "POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhello world{}",
        get("/b.txt")
    ));
    let r = c.read_response();
    assert_error_page(&r, 405);
    assert_eq!(r.header("allow"), Some(ALLOW));
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
    assert!(quiet_for(&mut c, Duration::from_millis(100)));
}

#[test]
fn get_with_a_body_is_served_and_the_body_discarded() {
    let f = serve("get-body");
    let mut c = f.server.connect();
    c.send(format!(
        "GET /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\nxxxx{}",
        get("/b.txt")
    ));
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
}

#[test]
fn zero_content_length_post_then_get() {
    // Medusa waited for a body of length 0 here and hung.
    let f = serve("cl0");
    let mut c = f.server.connect();
    c.send(format!(
        "POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n{}",
        get("/b.txt")
    ));
    let r = c.read_response();
    assert_error_page(&r, 405);
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
}

#[test]
fn chunked_body_with_extensions_and_trailers_then_get() {
    let f = serve("chunked-pipe");
    let mut c = f.server.connect();
    c.send(format!(
        "POST /a.txt HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
         5;name=value;quoted=\"a;b\"\r\nhello\r\n\
         6 ; e\r\n world\r\n\
         A\r\n0123456789\r\n\
         0;last\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n{}",
        get("/b.txt")
    ));
    let r = c.read_response();
    assert_error_page(&r, 405);
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
    assert!(quiet_for(&mut c, Duration::from_millis(100)));
}

#[test]
fn chunked_body_sent_piecewise_then_get() {
    let f = serve("chunked-slow");
    let mut c = f.server.connect();
    c.send("GET /a.txt HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
    for piece in ["3\r", "\nab", "c\r\n", "0\r\n", "X-T: 1\r\n", "\r\n"] {
        assert!(
            quiet_for(&mut c, Duration::from_millis(20)),
            "answered early"
        );
        c.send(piece);
    }
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    let r = c.request(get("/b.txt"));
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
}

#[test]
fn a_body_that_looks_like_a_request_is_not_answered() {
    let f = serve("smuggle");
    let smuggled = "GET /secret HTTP/1.1\r\nHost: test\r\n\r\n";
    // As a Content-Length body...
    let mut c = f.server.connect();
    c.send(format!(
        "POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{smuggled}{}",
        smuggled.len(),
        get_with("/a.txt", "Connection: close\r\n")
    ));
    let r = c.read_response();
    assert_error_page(&r, 405);
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(show(&drain(&mut c)), "", "a third response");

    // ... and as chunk data.
    let mut c = f.server.connect();
    c.send(format!(
        "POST /a.txt HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{smuggled}\r\n0\r\n\r\n{}",
        smuggled.len(),
        get_with("/a.txt", "Connection: close\r\n")
    ));
    let r = c.read_response();
    assert_error_page(&r, 405);
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    assert_eq!(show(&drain(&mut c)), "", "a third response");
}

#[test]
fn trailer_fields_do_not_count_against_the_next_request() {
    let f = serve("trailer-count");
    let mut chunked = String::from(CHUNKED);
    chunked.push_str("5\r\nhello\r\n0\r\n");
    for i in 0..60 {
        chunked.push_str(&format!("X-T{i}: t\r\n"));
    }
    chunked.push_str("\r\n");

    // 60 trailer fields, then a request with 46 fields: each under 100.
    let fields: String = (0..45).map(|i| format!("X-{i}: y\r\n")).collect();
    let mut c = f.server.connect();
    c.send(format!("{chunked}{}", get_with("/b.txt", &fields)));
    let r = c.read_response();
    assert_error_page(&r, 405);
    let r = c.read_response();
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, B),
        "a head of 46 fields after 60 trailer fields"
    );

    // The same count turns an over-long request line's 414 into a 431.
    let mut c = f.server.connect();
    c.send(format!(
        "{chunked}{}",
        get(&format!("/{}", "u".repeat(17 * 1024)))
    ));
    let r = c.read_response();
    assert_error_page(&r, 405);
    let r = c.read_response();
    assert_error_page(&r, 414);
}

#[test]
fn a_body_of_exactly_max_body_is_accepted() {
    let f = serve_with("max-body-ok", |cfg| cfg.max_body = 10);
    let mut c = f.server.connect();
    c.send(format!(
        "GET /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n0123456789{}",
        get("/b.txt")
    ));
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
    c.send(
        "GET /a.txt HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
}

// ---------------------------------------------------------------------------
// Framing errors fail closed: the error status, `Connection: close`, then
// end of stream, since the rest of the input cannot be delimited.
// ---------------------------------------------------------------------------

const POST: &str = "POST /a.txt HTTP/1.1\r\nHost: test\r\n";
const CHUNKED: &str = "POST /a.txt HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";

#[test]
fn content_length_with_transfer_encoding_is_400() {
    let f = serve("cl-te");
    assert_fails_closed(
        &f.server,
        format!("{POST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        400,
    );
    assert_fails_closed(
        &f.server,
        format!("{POST}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"),
        400,
    );
}

#[test]
fn two_different_content_lengths_are_400() {
    let f = serve("cl-two");
    assert_fails_closed(
        &f.server,
        format!("{POST}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        400,
    );
    assert_fails_closed(
        &f.server,
        format!("{POST}Content-Length: 5, 6\r\n\r\nhello!"),
        400,
    );
}

#[test]
fn bad_content_length_values_are_400() {
    let f = serve("cl-bad");
    for value in [
        "abc",
        "-1",
        "+5",
        "0x5",
        "5 5",
        "5a",
        "",
        "99999999999999999999",
        "18446744073709551616",
    ] {
        assert_fails_closed(
            &f.server,
            format!("{POST}Content-Length: {value}\r\n\r\nhello"),
            400,
        );
    }
}

#[test]
fn transfer_codings_other_than_final_chunked_are_501() {
    let f = serve("te-501");
    for value in ["gzip", "identity", "deflate"] {
        assert_fails_closed(
            &f.server,
            format!("{POST}Transfer-Encoding: {value}\r\n\r\nhello"),
            501,
        );
    }
}

#[test]
fn transfer_encoding_in_http10_is_400() {
    let f = serve("te-10");
    assert_fails_closed(
        &f.server,
        "POST /a.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn malformed_chunk_sizes_are_400() {
    let f = serve("chunk-size");
    for line in [
        "",
        "10000000000000000",
        "-1",
        "+1",
        " 5",
        "5 5",
        "0x5",
        "g",
        "5 ",
    ] {
        assert_fails_closed(
            &f.server,
            format!("{CHUNKED}{line}\r\nhello\r\n0\r\n\r\n"),
            400,
        );
    }
}

#[test]
fn chunk_data_without_crlf_is_400() {
    let f = serve("chunk-crlf");
    assert_fails_closed(
        &f.server,
        format!("{CHUNKED}5\r\nhelloXX\r\n0\r\n\r\n"),
        400,
    );
}

#[test]
fn oversized_chunk_extension_is_400() {
    let f = serve("chunk-ext");
    let ext = "x".repeat(5000);
    assert_fails_closed(
        &f.server,
        format!("{CHUNKED}5;{ext}\r\nhello\r\n0\r\n\r\n"),
        400,
    );
}

#[test]
fn oversized_trailers_are_400() {
    let f = serve("trailers");
    // 17 trailer fields of about 1 KiB: over 16 KiB in all, each well under
    // the line limit. No blank line follows, so nothing is left unread.
    let mut raw = format!("{CHUNKED}5\r\nhello\r\n0\r\n");
    for i in 0..17 {
        raw.push_str(&format!("X-T{i:02}: {}\r\n", "t".repeat(1000)));
    }
    assert_fails_closed(&f.server, raw, 400);
}

#[test]
fn content_length_over_max_body_is_413() {
    let f = serve_with("413-cl", |cfg| cfg.max_body = 10);
    assert_fails_closed(
        &f.server,
        format!("{POST}Content-Length: 11\r\n\r\n0123456789A"),
        413,
    );
    assert_fails_closed(
        &f.server,
        "GET /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 18446744073709551615\r\n\r\n",
        413,
    );
}

#[test]
fn chunked_body_over_max_body_is_413() {
    let f = serve_with("413-chunked", |cfg| cfg.max_body = 10);
    assert_fails_closed(
        &f.server,
        format!("{CHUNKED}8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n"),
        413,
    );
    // One huge chunk size is refused before any of its data.
    assert_fails_closed(&f.server, format!("{CHUNKED}ffffffffffffffff\r\n"), 413);
}

#[test]
fn requests_pipelined_after_a_framing_error_are_not_answered() {
    let f = serve("after-error");
    for bad in [
        format!("{POST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
        format!("{POST}Content-Length: 1x\r\n\r\n"),
        format!("{CHUNKED}zz\r\n"),
        format!("{CHUNKED}1\r\nab\r\n0\r\n\r\n"),
        "GET /a.txt HTTP/1.1\r\n\r\n".to_string(),
    ] {
        let mut c = f.server.connect();
        c.send(format!("{bad}{}", get("/secret")));
        let r = c.read_response();
        assert_error_page(&r, 400);
        assert_eq!(r.header("connection"), Some("close"));
        assert_eq!(show(&drain(&mut c)), "", "after {}", show(bad.as_bytes()));
    }
}

// ---------------------------------------------------------------------------
// Request line and head: versions, request-line syntax, Host, target
// forms, leading blank lines, bare-LF line endings, size limits.
// ---------------------------------------------------------------------------

#[test]
fn http10_and_http11_are_both_served() {
    let f = serve("versions");
    let mut c = f.server.connect();
    let r = c.request("GET /a.txt HTTP/1.0\r\nHost: test\r\n\r\n");
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    let mut c = f.server.connect();
    let r = c.request(get("/a.txt"));
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
}

#[test]
fn http2_request_line_is_505() {
    let f = serve("505");
    assert_fails_closed(&f.server, "GET /a.txt HTTP/2.0\r\nHost: test\r\n\r\n", 505);
    assert_fails_closed(&f.server, "GET /a.txt HTTP/3\r\nHost: test\r\n\r\n", 505);
}

#[test]
fn http2_preface_is_505() {
    let f = serve("preface");
    assert_fails_closed(&f.server, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
}

#[test]
fn malformed_versions_are_400() {
    let f = serve("bad-version");
    for version in [
        "HTTP/1",
        "http/1.1",
        "HTTP/1.1 ",
        "HTTP/1.x",
        "HTTP/01.1",
        "HTTP1.1",
    ] {
        assert_fails_closed(
            &f.server,
            format!("GET /a.txt {version}\r\nHost: test\r\n\r\n"),
            400,
        );
    }
}

#[test]
fn double_spaces_in_the_request_line_are_400() {
    let f = serve("spaces");
    for line in [
        "GET  /a.txt HTTP/1.1",
        "GET /a.txt  HTTP/1.1",
        " GET /a.txt HTTP/1.1",
    ] {
        assert_fails_closed(&f.server, format!("{line}\r\nHost: test\r\n\r\n"), 400);
    }
}

#[test]
fn control_bytes_in_the_target_are_400() {
    let f = serve("ctl");
    for target in [
        &b"/a\x01.txt"[..],
        b"/a\x00.txt",
        b"/a\t.txt",
        b"/a\x1b.txt",
    ] {
        let mut raw = b"GET ".to_vec();
        raw.extend_from_slice(target);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_fails_closed(&f.server, raw, 400);
    }
}

#[test]
fn http11_without_host_is_400() {
    let f = serve("no-host");
    assert_fails_closed(&f.server, "GET /a.txt HTTP/1.1\r\n\r\n", 400);
}

#[test]
fn two_host_fields_are_400() {
    let f = serve("two-hosts");
    assert_fails_closed(
        &f.server,
        "GET /a.txt HTTP/1.1\r\nHost: test\r\nHost: other\r\n\r\n",
        400,
    );
    assert_fails_closed(
        &f.server,
        "GET /a.txt HTTP/1.0\r\nHost: test\r\nHost: other\r\n\r\n",
        400,
    );
}

#[test]
fn http10_without_host_is_served() {
    let f = serve("10-no-host");
    let mut c = f.server.connect();
    let r = c.request("GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
}

#[test]
fn absolute_form_target_is_served() {
    let f = serve("absolute");
    let mut c = f.server.connect();
    let r = c.request("GET http://test/a.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    let r = c.request("GET http://test/b.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
}

#[test]
fn leading_blank_lines_are_ignored() {
    let f = serve("blank-lines");
    let mut c = f.server.connect();
    let r = c.request(format!("\r\n\r\n{}", get("/a.txt")));
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    // Also between pipelined requests, and as bare LFs.
    c.send(format!("{}\r\n\n{}", get("/b.txt"), get("/a.txt")));
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
}

#[test]
fn bare_lf_heads_are_answered() {
    let f = serve("bare-lf");
    let mut c = f.server.connect();
    let r = c.request("GET /a.txt HTTP/1.1\nHost: x\n\n");
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    // Two bare-LF requests in one write, with a CRLF one between.
    c.send(format!(
        "GET /b.txt HTTP/1.1\nHost: x\n\n{}GET /a.txt HTTP/1.1\nHost: x\n\n",
        get("/b.txt")
    ));
    for body in [B, B, A] {
        let r = c.read_response();
        assert_eq!((r.status, r.body.as_slice()), (200, body.as_bytes()));
    }
}

#[test]
fn mixed_line_endings_are_answered() {
    let f = serve("mixed-lf");
    for raw in [
        "GET /a.txt HTTP/1.1\r\nHost: x\n\n",
        "GET /a.txt HTTP/1.1\nHost: x\r\n\r\n",
        "GET /a.txt HTTP/1.1\r\nHost: x\n\r\n",
        "GET /a.txt HTTP/1.1\nHost: x\r\n\n",
    ] {
        let mut c = f.server.connect();
        let r = c.request(raw);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, A.as_bytes()),
            "{raw:?}"
        );
    }
}

#[test]
fn head_over_16k_is_431() {
    let f = serve("431");
    // One large field.
    assert_fails_closed(
        &f.server,
        get_with("/a.txt", &format!("X-Big: {}\r\n", "b".repeat(17 * 1024))),
        431,
    );
    // Many fields, each small, fewer than the field limit.
    let mut fields = String::new();
    for i in 0..50 {
        fields.push_str(&format!("X-F{i:02}: {}\r\n", "f".repeat(400)));
    }
    assert_fails_closed(&f.server, get_with("/a.txt", &fields), 431);
}

#[test]
fn request_line_over_16k_is_414() {
    let f = serve("414");
    assert_fails_closed(&f.server, get(&format!("/{}", "a".repeat(17 * 1024))), 414);
}

#[test]
fn more_than_100_fields_is_431() {
    let f = serve("fields");
    // Host plus 100 more: 101 fields.
    let fields: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
    assert_fails_closed(&f.server, get_with("/a.txt", &fields), 431);
    // Host plus 99: exactly 100, served.
    let fields: String = (0..99).map(|i| format!("X-{i}: y\r\n")).collect();
    let mut c = f.server.connect();
    let r = c.request(get_with("/a.txt", &fields));
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
}

/// More than 100 fields are refused as they arrive: a head that never ends
/// is not kept until the header timeout (the client would give up first).
#[test]
fn too_many_fields_are_refused_before_the_head_ends() {
    let f = serve_with("fields-early", |c| {
        c.header_timeout = Duration::from_secs(60)
    });
    let fields: String = (0..150).map(|i| format!("X-{i}: v\r\n")).collect();
    let unended = format!("GET /a.txt HTTP/1.1\r\nHost: t\r\n{fields}");
    assert_fails_closed(&f.server, unended, 431);
}

/// The head's bound counts its lines with their ends but not the empty
/// line after them, so CRLF and bare-LF heads with the same lines have
/// the same bound; the request line's counts its bytes without its end.
#[test]
fn the_head_bound_is_the_same_for_crlf_and_bare_lf_heads() {
    const MAX: usize = 256;
    let f = serve_with("head-bound", |c| c.max_head = MAX);
    for eol in ["\r\n", "\n"] {
        // Request line, Host and a padding field of `lines` bytes in all.
        let head = |lines: usize| {
            let fixed = "GET /a.txt HTTP/1.1".len() + "Host: t".len() + "X-Pad: ".len();
            let pad = "p".repeat(lines - fixed - 3 * eol.len());
            format!("GET /a.txt HTTP/1.1{eol}Host: t{eol}X-Pad: {pad}{eol}{eol}")
        };
        let mut c = f.server.connect();
        let r = c.request(head(MAX));
        assert_eq!(r.status, 200, "{eol:?}: lines of exactly {MAX} bytes");
        assert_fails_closed(&f.server, head(MAX + 1), 431);
        // A request line of the bound itself: the head is too large, not
        // the line; one byte more is the line.
        let line = |len: usize| {
            let target = format!("/a.txt?{}", "q".repeat(len - "GET /a.txt? HTTP/1.1".len()));
            format!("GET {target} HTTP/1.1{eol}Host: t{eol}{eol}")
        };
        assert_fails_closed(&f.server, line(MAX), 431);
        assert_fails_closed(&f.server, line(MAX + 1), 414);
    }
}

/// A CR that may begin an empty line before a request starts the header
/// timeout, as any byte of a request does: 408, not a silent close at the
/// keep-alive timeout.
#[test]
fn a_lone_cr_before_a_request_starts_the_header_timeout() {
    let f = serve_with("lone-cr", |c| {
        c.header_timeout = Duration::from_millis(300);
        c.keep_alive_timeout = Duration::from_secs(60);
    });
    for (before, answered) in [
        ("\r", 0),
        ("\r\n\r", 0),
        ("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n\r", 1),
    ] {
        let mut c = f.server.connect();
        c.send(before);
        for _ in 0..answered {
            assert_eq!(c.read_response_to("GET").unwrap().status, 200);
        }
        let r = c
            .read_response_to("GET")
            .unwrap_or_else(|e| panic!("{before:?}: {e}"));
        assert_eq!(r.status, 408, "{before:?}");
    }
}

// ---------------------------------------------------------------------------
// Connections: HTTP/1.1 persists, `Connection: close` closes after the
// response, HTTP/1.0 closes unless it asks for keep-alive, pipelined
// requests are answered in order, a half-close still gets its response,
// and `Expect: 100-continue` neither deadlocks nor answers twice.
// ---------------------------------------------------------------------------

#[test]
fn http11_connections_persist() {
    let f = serve("persist");
    let mut c = f.server.connect();
    for (path, body) in [
        ("/a.txt", A),
        ("/b.txt", B),
        ("/missing", ""),
        ("/a.txt", A),
    ] {
        let r = c.request(get(path));
        if body.is_empty() {
            assert_error_page(&r, 404);
        } else {
            assert_eq!((r.status, r.body.as_slice()), (200, body.as_bytes()));
        }
        assert_eq!(r.header("connection"), None, "{path}");
    }
    assert!(quiet_for(&mut c, Duration::from_millis(100)));
}

#[test]
fn connection_close_is_honoured() {
    let f = serve("conn-close");
    let mut c = f.server.connect();
    let r = c.request(get_with("/a.txt", "Connection: close\r\n"));
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
    // A request pipelined after the close is not answered.
    let mut c = f.server.connect();
    c.send(format!(
        "{}{}",
        get_with("/a.txt", "Connection: close\r\n"),
        get("/b.txt")
    ));
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    assert_eq!(show(&drain(&mut c)), "");
}

#[test]
fn http10_closes_by_default() {
    let f = serve("10-close");
    let mut c = f.server.connect();
    let r = c.request("GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    assert_ne!(r.header("connection"), Some("keep-alive"));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
}

#[test]
fn http10_keep_alive_stays_open() {
    let f = serve("10-keep");
    let mut c = f.server.connect();
    for (path, body) in [("/a.txt", A), ("/b.txt", B)] {
        let r = c.request(format!(
            "GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        ));
        assert_eq!((r.status, r.body.as_slice()), (200, body.as_bytes()));
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
    assert!(quiet_for(&mut c, Duration::from_millis(100)));
    // Without it, the next 1.0 request closes.
    let r = c.request("GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
}

#[test]
fn fifty_pipelined_requests_are_answered_in_order() {
    let root = docroot("pipeline50");
    let bodies: Vec<String> = (0..50)
        .map(|i| format!("file number {i}\n").repeat(i + 1))
        .collect();
    let mut raw = String::new();
    for (i, body) in bodies.iter().enumerate() {
        root.file(&format!("p/{i:02}.txt"), body);
        raw.push_str(&get(&format!("/p/{i:02}.txt")));
    }
    let server = TestServer::start(config(&root));
    let mut c = server.connect();
    c.send(raw);
    for (i, body) in bodies.iter().enumerate() {
        let r = c.read_response();
        assert_eq!(r.status, 200, "response {i}");
        assert_eq!(r.text(), *body, "response {i}");
    }
    assert!(quiet_for(&mut c, Duration::from_millis(100)));
}

#[test]
fn half_close_after_a_request_still_gets_the_whole_response() {
    let root = docroot("half-close");
    // Larger than the socket buffers and the per-event write budget, and
    // not read for a while: most of it is still queued when the server
    // reads the end of stream.
    let big = pattern(8 << 20);
    root.file("big.bin", &big);
    let server = TestServer::start(config(&root));
    let mut c = server.connect();
    c.send(get("/big.bin")).half_close();
    thread::sleep(Duration::from_millis(100));
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), big.len());
    assert!(r.body == big, "the body differs from the file");
    assert!(c.is_closed());
}

#[test]
fn half_close_after_pipelined_requests_answers_them_all() {
    let f = serve("half-close-pipe");
    let mut c = f.server.connect();
    c.send(format!(
        "{}{}{}",
        get("/a.txt"),
        get("/b.txt"),
        get("/a.txt")
    ))
    .half_close();
    for body in [A, B, A] {
        let r = c.read_response();
        assert_eq!((r.status, r.body.as_slice()), (200, body.as_bytes()));
    }
    assert!(c.is_closed());
}

#[test]
fn expect_continue_on_get_gets_100_then_200() {
    let f = serve("expect-get");
    let mut c = f.server.connect();
    c.send(
        "GET /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let r = c.read_response_to("GET").unwrap();
    assert_eq!(r.status, 100, "{r:?}");
    assert!(r.headers.is_empty(), "{r:?}");
    // Nothing more until the body is sent.
    assert!(quiet_for(&mut c, Duration::from_millis(150)));
    c.send("abcde");
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    // The connection is still in sync.
    let r = c.request(get("/b.txt"));
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
}

#[test]
fn expect_continue_on_post_gets_405_without_100_and_closes() {
    let f = serve("expect-post");
    let mut c = f.server.connect();
    c.send(
        "POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let r = c.read_response();
    assert_error_page(&r, 405);
    assert_eq!(r.header("allow"), Some(ALLOW));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
}

#[test]
fn hundreds_of_pipelined_requests_then_half_close_are_all_answered() {
    // More responses than the output queue holds: reading pauses and
    // resumes, and end of stream waits for the last of them.
    let f = serve("pipeline-many");
    let n = 400;
    let mut raw = String::new();
    for i in 0..n {
        raw.push_str(&get(if i % 2 == 0 { "/a.txt" } else { "/b.txt" }));
    }
    let mut c = f.server.connect();
    let writer = {
        let mut s = c.stream().try_clone().unwrap();
        thread::spawn(move || {
            s.write_all(raw.as_bytes()).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    for i in 0..n {
        let r = c.read_response();
        let body = if i % 2 == 0 { A } else { B };
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, body.as_bytes()),
            "response {i}"
        );
    }
    writer.join().unwrap();
    assert!(c.is_closed());
}

#[test]
fn expect_continue_in_http10_is_ignored() {
    let f = serve("expect-10");
    let mut c = f.server.connect();
    c.send(
        "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\
         Expect: 100-continue\r\n\r\n",
    );
    assert!(
        quiet_for(&mut c, Duration::from_millis(150)),
        "an HTTP/1.0 client got an interim response"
    );
    c.send("abcde");
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
    assert_eq!(r.header("connection"), Some("keep-alive"));
}

#[test]
fn expect_continue_with_a_body_over_max_body_is_413_without_100() {
    let f = serve_with("expect-413", |cfg| cfg.max_body = 10);
    let mut c = f.server.connect();
    c.send(
        "GET /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    );
    let r = c.read_response();
    assert_error_page(&r, 413);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
}

#[test]
fn expect_continue_for_a_missing_file_is_refused_without_100() {
    let f = serve("expect-404");
    let mut c = f.server.connect();
    c.send(
        "GET /missing HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let r = c.read_response();
    assert_error_page(&r, 404);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
}

// ---------------------------------------------------------------------------
// Limits and timeouts: the header timeout runs from a request's first byte
// and is not reset by later bytes; idle keep-alive connections, stalled
// bodies and clients that stop reading are closed; at most
// `max_connections` are served at once.
// ---------------------------------------------------------------------------

#[test]
fn header_timeout_is_not_reset_by_each_byte() {
    let f = serve_with("slowloris", |cfg| {
        cfg.header_timeout = Duration::from_millis(300)
    });
    let mut c = f.server.connect();
    // About 100 bytes at one per 50 ms: 5 s if it were let through.
    let head = get_with("/a.txt", &format!("X-Padding: {}\r\n", "p".repeat(60)));
    c.stream()
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut sent = 0;
    let mut buf = [0; 4096];
    'trickle: for &b in head.as_bytes() {
        if c.stream().write_all(&[b]).is_err() {
            break;
        }
        sent += 1;
        match c.stream().read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                c.stream().set_read_timeout(Some(PATIENCE)).unwrap();
                loop {
                    match c.stream().read(&mut buf) {
                        Ok(0) | Err(_) => break 'trickle,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
        if start.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let elapsed = start.elapsed();
    assert!(
        sent < head.len(),
        "the whole head was trickled in without a close ({elapsed:?})"
    );
    assert!(
        elapsed < Duration::from_millis(1500),
        "closed after {elapsed:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(250),
        "closed too early: {elapsed:?}"
    );
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 408 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn header_timeout_starts_at_the_first_byte_not_at_accept() {
    let f = serve_with("header-start", |cfg| {
        cfg.header_timeout = Duration::from_millis(200);
    });
    let mut c = f.server.connect();
    thread::sleep(Duration::from_millis(400));
    let r = c.request(get("/a.txt"));
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let f = serve_with("keep-alive-timeout", |cfg| {
        cfg.keep_alive_timeout = Duration::from_millis(300);
    });
    let mut c = f.server.connect();
    let r = c.request(get("/a.txt"));
    assert_eq!(r.status, 200);
    // Within the timeout the connection still serves, and the timer restarts.
    thread::sleep(Duration::from_millis(100));
    let r = c.request(get("/b.txt"));
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
    let start = Instant::now();
    assert!(c.is_closed(), "not closed");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200),
        "closed too early: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(2), "closed after {elapsed:?}");
}

#[test]
fn connection_that_never_sends_is_closed_after_keep_alive_timeout() {
    let f = serve_with("silent", |cfg| {
        cfg.keep_alive_timeout = Duration::from_millis(300);
    });
    let start = Instant::now();
    let mut c = f.server.connect();
    assert!(c.is_closed(), "not closed");
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn stalled_content_length_body_is_closed() {
    let f = serve_with("body-timeout", |cfg| {
        cfg.body_timeout = Duration::from_millis(300);
    });
    let mut c = f.server.connect();
    let start = Instant::now();
    c.send("GET /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc");
    let r = c.read_response();
    let elapsed = start.elapsed();
    assert_error_page(&r, 408);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn stalled_chunked_body_is_closed() {
    let f = serve_with("chunk-timeout", |cfg| {
        cfg.body_timeout = Duration::from_millis(300);
    });
    let mut c = f.server.connect();
    let start = Instant::now();
    c.send(format!("{CHUNKED}5\r\nhel"));
    let r = c.read_response();
    let elapsed = start.elapsed();
    assert_error_page(&r, 408);
    assert!(c.is_closed());
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn body_timeout_is_not_reset_by_each_byte() {
    let f = serve_with("body-trickle", |cfg| {
        cfg.body_timeout = Duration::from_millis(300);
    });
    let mut c = f.server.connect();
    c.send("GET /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n");
    let start = Instant::now();
    let mut sent = 0;
    // One byte per 50 ms: 5 s for the whole body if it were let through.
    while sent < 100 && quiet_for(&mut c, Duration::from_millis(50)) {
        if c.stream().write_all(b"x").is_err() {
            break;
        }
        sent += 1;
        assert!(start.elapsed() < Duration::from_secs(3), "never closed");
    }
    let elapsed = start.elapsed();
    assert!(sent < 100, "the whole body was trickled in ({elapsed:?})");
    let r = c.read_response();
    assert_error_page(&r, 408);
    assert!(c.is_closed());
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

#[test]
fn client_that_never_reads_is_closed_after_send_timeout() {
    let root = docroot("send-timeout");
    let len: u64 = 32 << 20;
    File::create(root.path().join("big.bin"))
        .unwrap()
        .set_len(len)
        .unwrap();
    let mut cfg = config(&root);
    cfg.send_timeout = Duration::from_millis(300);
    let server = TestServer::start(cfg);
    let mut c = server.connect();
    c.send(get("/big.bin"));
    // The socket buffers fill within milliseconds; then no progress for
    // send_timeout, and the server gives up.
    thread::sleep(Duration::from_millis(1200));
    let start = Instant::now();
    let got = drain(&mut c);
    assert!(start.elapsed() < PATIENCE, "{:?}", start.elapsed());
    assert!(
        got.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{:?}",
        show(&got[..got.len().min(64)])
    );
    assert!(
        (got.len() as u64) < len,
        "all {} bytes were sent: the connection was not cut",
        got.len()
    );
}

#[test]
fn connection_cap_holds_the_next_client_until_one_closes() {
    let f = serve_with("cap", |cfg| cfg.max_connections = 2);
    let mut c1 = f.server.connect();
    let mut c2 = f.server.connect();
    for c in [&mut c1, &mut c2] {
        let r = c.request(get("/a.txt"));
        assert_eq!(r.status, 200);
    }
    let mut c3 = f.server.connect();
    c3.send(get("/b.txt"));
    assert!(
        quiet_for(&mut c3, Duration::from_millis(400)),
        "a third connection was served"
    );
    drop(c1);
    let r = c3.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, B.as_bytes()));
    let r = c2.request(get("/a.txt"));
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
}

// ---------------------------------------------------------------------------
// Errors: small HTML pages, `Content-Type: text/html; charset=utf-8`, and a
// Content-Length equal to the body (the next response, or end of stream,
// follows at once).
// ---------------------------------------------------------------------------

#[test]
fn error_pages_on_a_kept_connection_are_exactly_framed() {
    let f = serve("error-pages");
    let mut c = f.server.connect();
    c.send(format!(
        "{}DELETE /a.txt HTTP/1.1\r\nHost: test\r\n\r\nBREW /pot HTTP/1.1\r\nHost: test\r\n\r\n{}",
        get("/missing"),
        get("/a.txt")
    ));
    for status in [404, 405, 501] {
        let r = c.read_response();
        assert_error_page(&r, status);
    }
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, A.as_bytes()));
}

#[test]
fn error_pages_on_a_closed_connection_are_exactly_framed() {
    let f = serve_with("error-close", |cfg| cfg.max_body = 10);
    for (raw, status) in [
        ("GET /a.txt HTTP/1.1\r\n\r\n".to_string(), 400),
        (format!("{POST}Content-Length: 99\r\n\r\n"), 413),
        (get(&format!("/{}", "u".repeat(17 * 1024))), 414),
        (
            get_with("/a.txt", &format!("X-Big: {}\r\n", "b".repeat(17 * 1024))),
            431,
        ),
        (format!("{POST}Transfer-Encoding: gzip\r\n\r\n"), 501),
        ("GET / HTTP/2.0\r\n\r\n".to_string(), 505),
    ] {
        let mut c = f.server.connect();
        c.send(&raw);
        let r = c.read_response();
        assert_error_page(&r, status);
        // Nothing after the announced length but end of stream.
        assert_eq!(show(&drain(&mut c)), "", "after {status}");
    }
}

// ---------------------------------------------------------------------------
// Shutdown: `Stopper::stop` is graceful: a response in flight is completed,
// idle connections are closed, then the server exits.
// ---------------------------------------------------------------------------

#[test]
fn graceful_shutdown_completes_responses_in_flight() {
    let root = docroot("shutdown");
    // Larger than the socket buffers, so most of it is still in flight.
    let big = pattern(24 << 20);
    root.file("big.bin", &big);
    let server = TestServer::start(config(&root));

    let mut idle = server.connect();
    let r = idle.request(get("/a.txt"));
    assert_eq!(r.status, 200);

    let mut busy = server.connect();
    busy.send(get("/big.bin"));
    let mut head = String::new();
    loop {
        let before = head.len();
        busy.reader.read_line(&mut head).unwrap();
        if head[before..] == *"\r\n" {
            break;
        }
    }
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head:?}");
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", big.len())),
        "{head:?}"
    );
    let mut body = vec![0; 64 * 1024];
    busy.reader.read_exact(&mut body).unwrap();

    let stopping = thread::spawn(move || server.stop());

    // The idle connection is closed at once.
    assert!(idle.is_closed(), "idle connection left open");
    // The server waits for the response in flight.
    thread::sleep(Duration::from_millis(200));
    assert!(
        !stopping.is_finished(),
        "the server exited with a response in flight"
    );

    // Read the rest slowly.
    let mut buf = vec![0; 1 << 20];
    while body.len() < big.len() {
        let want = buf.len().min(big.len() - body.len());
        let n = busy.reader.read(&mut buf[..want]).unwrap();
        assert!(n > 0, "end of stream after {} body bytes", body.len());
        body.extend_from_slice(&buf[..n]);
        thread::sleep(Duration::from_millis(2));
    }
    assert!(body == big, "the body differs from the file");
    assert!(busy.is_closed(), "connection left open after shutdown");
    // The server may linger for the clients' end of stream; give it that.
    drop((busy, idle));

    let start = Instant::now();
    while !stopping.is_finished() {
        assert!(start.elapsed() < PATIENCE, "the server did not exit");
        thread::sleep(Duration::from_millis(10));
    }
    stopping.join().unwrap();
}

#[test]
fn graceful_shutdown_finishes_requests_already_started() {
    let f = serve("shutdown-started");
    // One request stopped in its head, one in its body.
    let mut in_head = f.server.connect();
    in_head.send("GET /a.txt HTTP/1.1\r\nHo");
    let mut in_body = f.server.connect();
    in_body.send("GET /b.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\nab");
    // Make sure both have been read.
    assert!(quiet_for(&mut in_body, Duration::from_millis(100)));
    let Fixture { server, root } = f;
    let start = Instant::now();
    let stopping = thread::spawn(move || server.stop());
    thread::sleep(Duration::from_millis(100));
    assert!(!stopping.is_finished(), "the server exited mid-request");
    in_head.send("st: test\r\n\r\n");
    in_body.send("cd");
    for (c, body) in [(&mut in_head, A), (&mut in_body, B)] {
        let r = c.read_response();
        assert_eq!((r.status, r.text().as_str()), (200, body));
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.is_closed());
    }
    drop((in_head, in_body));
    while !stopping.is_finished() {
        assert!(start.elapsed() < PATIENCE, "the server did not exit");
        thread::sleep(Duration::from_millis(10));
    }
    stopping.join().unwrap();
    drop(root);
}

#[test]
fn graceful_shutdown_closes_idle_connections_and_exits() {
    let f = serve("shutdown-idle");
    // One connection idle between requests, one that never sent a byte.
    let mut used = f.server.connect();
    let r = used.request(get("/a.txt"));
    assert_eq!(r.status, 200);
    let mut fresh = f.server.connect();
    thread::sleep(Duration::from_millis(50));
    let Fixture { server, root } = f;
    let start = Instant::now();
    let stopping = thread::spawn(move || server.stop());
    assert!(used.is_closed(), "idle connection left open");
    assert!(fresh.is_closed(), "fresh connection left open");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // The server may linger for the clients' end of stream; give it that.
    drop((used, fresh));
    while !stopping.is_finished() {
        assert!(start.elapsed() < PATIENCE, "the server did not exit");
        thread::sleep(Duration::from_millis(10));
    }
    stopping.join().unwrap();
    drop(root);
}
