//! Path traversal, every known class of it, over real sockets.
//!
//! The fixture is a temporary directory holding a secret file with a unique
//! marker *next to* the document root:
//!
//! ```text
//! tmp/secret.txt          the marker; must never be sent
//! tmp/root/               the document root
//!   public.txt, sub/public.txt, sub/deeper/public.txt
//!   inlink.txt -> public.txt          (inside: served)
//!   leak.txt   -> ../secret.txt       (relative, out of the root)
//!   leak-abs.txt -> tmp/secret.txt    (absolute, out of the root)
//!   outlink    -> tmp                 (a directory out of the root)
//!   outlink-rel -> ..                 (the same, relative)
//!   passwd     -> /etc/passwd
//!   chain      -> outlink/secret.txt  (a link through a link)
//!   sub/up     -> ../..               (= tmp)
//!   sub/back   -> ..                  (= root: inside, served)
//!   abs-in.txt -> tmp/root/public.txt (absolute, inside: served)
//! tmp/rootlink -> root    (a root that is itself a symlink)
//! ```
//!
//! Each row is a request-target sent as raw bytes (no client library
//! normalises it) with the status the server must answer, and every
//! response, whatever its status, must carry neither the marker nor
//! `root:` from `/etc/passwd`. The statuses follow `src/http/path.rs` and
//! `src/http/response.rs`: what [`resolve`] refuses (a `..` above the root,
//! `%00` and other control bytes, bad escapes, invalid UTF-8 such as
//! overlong forms, a target that is neither origin- nor absolute-form) is
//! 400; what resolves to a name that does not exist under the root, or whose
//! resolution leaves the root at any step, is 404; a request line that is not
//! UTF-8 at all is refused by the head parser, also 400.
//!
//! The second half is a table test of the pure resolver, which is public.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Component, Path};
use std::time::{SystemTime, UNIX_EPOCH};

use asynchat::http::Config;
use asynchat::http::path::{PathError, resolve};
use common::*;

const PUBLIC: &str = "public file in the root\n";
const SUB_PUBLIC: &str = "public file in sub\n";
const DEEPER_PUBLIC: &str = "public file in sub/deeper\n";

/// The document root and the secret next to it.
struct Fixture {
    tmp: TempDir,
    /// A string found only in the secret file.
    marker: String,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let tmp = TempDir::new(tag);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let marker = format!("SECRET-MARKER-{}-{nanos:x}", std::process::id());
        tmp.file("secret.txt", format!("{marker}\n"));
        tmp.file("root/public.txt", PUBLIC);
        tmp.file("root/sub/public.txt", SUB_PUBLIC);
        tmp.file("root/sub/deeper/public.txt", DEEPER_PUBLIC);
        let root = tmp.path().join("root");
        symlink("public.txt", root.join("inlink.txt")).unwrap();
        symlink("../secret.txt", root.join("leak.txt")).unwrap();
        symlink(tmp.path().join("secret.txt"), root.join("leak-abs.txt")).unwrap();
        symlink(tmp.path(), root.join("outlink")).unwrap();
        symlink("..", root.join("outlink-rel")).unwrap();
        symlink("/etc/passwd", root.join("passwd")).unwrap();
        symlink("outlink/secret.txt", root.join("chain")).unwrap();
        symlink("../..", root.join("sub/up")).unwrap();
        symlink("..", root.join("sub/back")).unwrap();
        symlink(root.join("public.txt"), root.join("abs-in.txt")).unwrap();
        symlink(&root, tmp.path().join("rootlink")).unwrap();
        Fixture { tmp, marker }
    }

    fn root(&self) -> std::path::PathBuf {
        self.tmp.path().join("root")
    }

    fn root_link(&self) -> std::path::PathBuf {
        self.tmp.path().join("rootlink")
    }
}

/// One request-target and what the server must answer.
struct Row {
    target: &'static [u8],
    status: u16,
    /// The exact body of a 200.
    body: Option<&'static str>,
}

const fn row(target: &'static [u8], status: u16) -> Row {
    Row {
        target,
        status,
        body: None,
    }
}

const fn ok(target: &'static [u8], body: &'static str) -> Row {
    Row {
        target,
        status: 200,
        body: Some(body),
    }
}

/// Every traversal class, each row sent as raw bytes.
const ROWS: &[Row] = &[
    // Controls: the fixture is served at all.
    ok(b"/public.txt", PUBLIC),
    ok(b"/sub/public.txt", SUB_PUBLIC),
    ok(b"/sub/deeper/public.txt", DEEPER_PUBLIC),
    row(b"/secret.txt", 404),
    // `..`, plain: climbing above the root is refused outright.
    row(b"/../secret.txt", 400),
    row(b"/..", 400),
    row(b"/../", 400),
    row(b"/../../../../../../etc/passwd", 400),
    row(b"/sub/../../secret.txt", 400),
    row(b"/sub/deeper/../../../secret.txt", 400),
    row(b"/public.txt/../../secret.txt", 400),
    row(b"/./../secret.txt", 400),
    row(b"/sub/./../.././secret.txt", 400),
    // `..` inside the root is resolved, not refused.
    ok(b"/sub/../public.txt", PUBLIC),
    ok(b"/sub/deeper/../../public.txt", PUBLIC),
    // `..` percent-encoded, in every case mix.
    row(b"/%2e%2e/secret.txt", 400),
    row(b"/%2E%2E/secret.txt", 400),
    row(b"/%2e%2E/secret.txt", 400),
    row(b"/%2E%2e/secret.txt", 400),
    row(b"/.%2e/secret.txt", 400),
    row(b"/.%2E/secret.txt", 400),
    row(b"/%2e./secret.txt", 400),
    row(b"/%2E./secret.txt", 400),
    row(b"/sub/%2e%2e/%2e%2e/secret.txt", 400),
    row(b"/%2e/%2e%2e/secret.txt", 400),
    ok(b"/sub/%2e%2e/public.txt", PUBLIC),
    ok(b"/%2e/public.txt", PUBLIC),
    // Encoded slashes: `%2f` is a separator after decoding, so containment
    // is checked on exactly what is joined.
    row(b"/..%2fsecret.txt", 400),
    row(b"/..%2Fsecret.txt", 400),
    row(b"/%2e%2e%2fsecret.txt", 400),
    row(b"/%2E%2E%2Fsecret.txt", 400),
    row(b"/%2f..%2fsecret.txt", 400),
    row(b"/sub%2f..%2f..%2fsecret.txt", 400),
    row(b"/sub/..%2f..%2fsecret.txt", 400),
    ok(b"/sub%2fpublic.txt", SUB_PUBLIC),
    ok(b"/sub%2Fdeeper%2Fpublic.txt", DEEPER_PUBLIC),
    // Backslashes are ordinary bytes in a Unix name: never separators.
    row(b"/..\\secret.txt", 404),
    row(b"/..\\..\\secret.txt", 404),
    row(b"/sub\\..\\..\\secret.txt", 404),
    row(b"/sub\\public.txt", 404),
    row(b"/..%5csecret.txt", 404),
    row(b"/..%5Csecret.txt", 404),
    row(b"/%5c..%5c..%5csecret.txt", 404),
    row(b"/%2e%2e%5csecret.txt", 404),
    row(b"/sub%5c..%5c..%5csecret.txt", 404),
    // NUL and other controls, encoded: 400, never a truncated name.
    row(b"/secret.txt%00", 400),
    row(b"/public.txt%00", 400),
    row(b"/public.txt%00.html", 400),
    row(b"/../secret.txt%00.txt", 400),
    row(b"/%00/../secret.txt", 400),
    row(b"/public.txt%0d%0aX-Injected:%201", 400),
    row(b"/%0a", 400),
    // Double encoding: decoded exactly once, so `%2e%2e` is a name.
    row(b"/%252e%252e/secret.txt", 404),
    row(b"/%252E%252E/secret.txt", 404),
    row(b"/%252e%252e%252fsecret.txt", 404),
    row(b"/..%252fsecret.txt", 404),
    row(b"/%25%32%65%25%32%65/secret.txt", 404),
    row(b"/%252e%252e%255csecret.txt", 404),
    // Overlong UTF-8 spellings of `.` and `/`: invalid UTF-8, 400.
    row(b"/%c0%ae%c0%ae/secret.txt", 400),
    row(b"/%C0%AE%C0%AE/secret.txt", 400),
    row(b"/%e0%80%ae%e0%80%ae/secret.txt", 400),
    row(b"/%f0%80%80%ae%f0%80%80%ae/secret.txt", 400),
    row(b"/..%c0%afsecret.txt", 400),
    row(b"/..%e0%80%afsecret.txt", 400),
    row(b"/%c1%9c..%c1%9csecret.txt", 400),
    // ... and sent raw, not escaped: the request line is not UTF-8.
    row(b"/\xc0\xae\xc0\xae/secret.txt", 400),
    row(b"/..\xc0\xafsecret.txt", 400),
    // Other encodings some servers decode: none of them is `..` here.
    row(b"/%u002e%u002e/secret.txt", 400),
    row(b"/%ef%bc%8e%ef%bc%8e/secret.txt", 404),
    row(b"/%e2%80%a4%e2%80%a4/secret.txt", 404),
    row(b"/..;/secret.txt", 404),
    row(b"/.../secret.txt", 404),
    row(b"/....//secret.txt", 404),
    row(b"/secret.txt.", 404),
    row(b"/%2e%2e%2e/secret.txt", 404),
    // Absolute paths after decoding stay under the root.
    row(b"//etc/passwd", 404),
    row(b"///etc/passwd", 404),
    row(b"/%2fetc/passwd", 404),
    row(b"/%2Fetc%2Fpasswd", 404),
    row(b"/%2f%2fetc%2fpasswd", 404),
    row(b"//secret.txt", 404),
    ok(b"//public.txt", PUBLIC),
    ok(b"/%2fpublic.txt", PUBLIC),
    // Queries and fragments are not part of the path.
    ok(b"/public.txt?/../../secret.txt", PUBLIC),
    ok(b"/public.txt?file=../secret.txt", PUBLIC),
    ok(b"/public.txt#/../../secret.txt", PUBLIC),
    row(b"/../secret.txt?public.txt", 400),
    // Absolute-form targets get exactly the same treatment.
    ok(b"http://host/public.txt", PUBLIC),
    ok(b"HTTP://HOST/sub/public.txt", SUB_PUBLIC),
    row(b"http://host/../secret.txt", 400),
    row(b"https://host/../secret.txt", 400),
    row(b"http://host/%2e%2e/secret.txt", 400),
    row(b"http://host/..%2fsecret.txt", 400),
    row(b"http://host/sub/../../secret.txt", 400),
    row(b"http://host//etc/passwd", 404),
    row(b"http://host/%2fetc/passwd", 404),
    row(b"http://host/..%5csecret.txt", 404),
    row(b"http://host/%c0%ae%c0%ae/secret.txt", 400),
    row(b"http://host/secret.txt%00", 400),
    row(b"http://..%2f/secret.txt", 404),
    row(b"http://user@host/../secret.txt", 400),
    row(b"http:///../secret.txt", 400),
    row(b"file:///etc/passwd", 400),
    row(b"ftp://host/../secret.txt", 400),
    // Neither origin- nor absolute-form.
    row(b"../secret.txt", 400),
    row(b"secret.txt", 400),
    row(b"*", 400),
    row(b"%2e%2e/secret.txt", 400),
    row(b"\\..\\secret.txt", 400),
    // Symlinks inside the root are followed only while they stay inside,
    // at every step: `sub/up` leaves the root, so a path through it is
    // refused even where it would come back in (as `RESOLVE_BENEATH`).
    ok(b"/inlink.txt", PUBLIC),
    ok(b"/sub/back/public.txt", PUBLIC),
    ok(b"/sub/back/sub/back/inlink.txt", PUBLIC),
    ok(b"/abs-in.txt", PUBLIC),
    row(b"/sub/up/root/public.txt", 404),
    row(b"/leak.txt", 404),
    row(b"/leak-abs.txt", 404),
    row(b"/chain", 404),
    row(b"/outlink", 404),
    row(b"/outlink/", 404),
    row(b"/outlink/secret.txt", 404),
    row(b"/outlink/root/../secret.txt", 404),
    row(b"/outlink-rel/secret.txt", 404),
    row(b"/outlink-rel/", 404),
    row(b"/sub/up/secret.txt", 404),
    row(b"/sub/up/", 404),
    row(b"/passwd", 404),
    row(b"/passwd/", 404),
    row(b"/%6ceak.txt", 404),
    row(b"/outlink%2fsecret.txt", 404),
    row(b"/sub/up%2fsecret.txt", 404),
];

fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Sends `GET target` on a fresh connection and reads the response.
fn fetch(server: &TestServer, target: &[u8]) -> Response {
    let mut raw = b"GET ".to_vec();
    raw.extend_from_slice(target);
    raw.extend_from_slice(b" HTTP/1.1\r\nHost: host\r\nConnection: close\r\n\r\n");
    let mut c = server.connect();
    c.send(&raw);
    c.read_response_to("GET")
        .unwrap_or_else(|e| panic!("GET {}: no response: {e}", show(target)))
}

/// Neither the secret nor `/etc/passwd` is anywhere in the response.
#[track_caller]
fn assert_no_leak(fx: &Fixture, what: &str, r: &Response) {
    let mut everything = r.body.clone();
    for (name, value) in &r.headers {
        everything.extend_from_slice(format!("{name}: {value}\n").as_bytes());
    }
    assert!(
        !contains(&everything, fx.marker.as_bytes()),
        "{what}: the secret leaked: {r:?}"
    );
    assert!(
        !contains(&everything, b"root:"),
        "{what}: /etc/passwd leaked: {r:?}"
    );
}

/// Runs every row against `server` and reports all mismatches at once.
fn check_rows(fx: &Fixture, server: &TestServer, rows: &[Row]) {
    let mut wrong = Vec::new();
    for row in rows {
        let what = format!("GET {}", show(row.target));
        let r = fetch(server, row.target);
        assert_no_leak(fx, &what, &r);
        if r.status != row.status {
            wrong.push(format!("{what}: {} (expected {})", r.status, row.status));
        } else if let Some(body) = row.body
            && r.body != body.as_bytes()
        {
            wrong.push(format!("{what}: body {:?}", r.text()));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} rows wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn traversal_table_over_sockets() {
    let fx = Fixture::new("path-safety");
    // The secret is really there, next to the root, for the rows to miss.
    let secret = std::fs::read_to_string(fx.tmp.path().join("secret.txt")).unwrap();
    assert!(secret.contains(&fx.marker));
    assert!(fx.root().join("outlink/secret.txt").exists());
    let server = TestServer::serve(&fx.root());
    check_rows(&fx, &server, ROWS);
}

#[test]
fn traversal_table_with_head_requests() {
    // HEAD takes the same path through the resolver; its statuses match GET.
    let fx = Fixture::new("path-safety-head");
    let server = TestServer::serve(&fx.root());
    for row in ROWS {
        let mut raw = b"HEAD ".to_vec();
        raw.extend_from_slice(row.target);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: host\r\nConnection: close\r\n\r\n");
        let mut c = server.connect();
        c.send(&raw);
        let r = c.read_response_to("HEAD").unwrap();
        let what = format!("HEAD {}", show(row.target));
        assert_no_leak(&fx, &what, &r);
        assert_eq!(r.status, row.status, "{what}");
        // No body, even where the head parser refused the request line
        // (see the regression test below).
        let rest = c.read_to_end();
        assert!(rest.is_empty(), "{what}: a body after HEAD");
    }
}

/// Regression (found by this file): when a HEAD request failed to parse (a
/// request line that is not UTF-8, a missing Host, Content-Length with
/// Transfer-Encoding, ...), the error response carried its HTML body
/// although the method was HEAD, and a response to HEAD never has content
/// (RFC 9110 §9.3.2). `HttpChannel::fail_for` now drops the body when the
/// request line starts with `HEAD `.
#[test]
fn head_request_that_fails_to_parse_gets_no_body() {
    let fx = Fixture::new("path-safety-head-bug");
    let server = TestServer::serve(&fx.root());
    for (raw, status) in [
        (&b"HEAD /\xc0\xae HTTP/1.1\r\nHost: host\r\n\r\n"[..], 400),
        (b"HEAD /public.txt HTTP/1.1\r\n\r\n", 400),
        // The error comes while reading the body: a bad chunk size.
        (
            b"HEAD /public.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
        // A body over the limit.
        (
            b"HEAD /public.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n",
            413,
        ),
    ] {
        let mut c = server.connect();
        c.send(raw);
        let r = c.read_response_to("HEAD").unwrap();
        assert_eq!(r.status, status, "{}", show(raw));
        let rest = c.read_to_end();
        assert!(
            rest.is_empty(),
            "{}: {} body bytes after HEAD",
            show(raw),
            rest.len()
        );
    }
}

#[test]
fn every_row_on_one_keep_alive_connection() {
    // Path errors are not framing errors: a client may send all of them on
    // one connection, pipelined, and each gets its own answer, in order.
    // (The rows with a request line that is not UTF-8 fail the head parser,
    // which closes; they are left out here.)
    let fx = Fixture::new("path-safety-pipelined");
    let server = TestServer::serve(&fx.root());
    let rows: Vec<&Row> = ROWS
        .iter()
        .filter(|r| std::str::from_utf8(r.target).is_ok())
        .collect();
    let mut raw = Vec::new();
    for row in &rows {
        raw.extend_from_slice(b"GET ");
        raw.extend_from_slice(row.target);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: host\r\n\r\n");
    }
    let mut c = server.connect();
    c.send(&raw);
    for row in rows {
        let what = format!("pipelined GET {}", show(row.target));
        let r = c.read_response();
        assert_no_leak(&fx, &what, &r);
        assert_eq!(r.status, row.status, "{what}");
        if let Some(body) = row.body {
            assert_eq!(r.text(), body, "{what}");
        }
    }
}

#[test]
fn listings_show_no_link_that_leaves_the_root() {
    let fx = Fixture::new("path-safety-listing");
    let server = TestServer::serve(&fx.root());
    for path in ["/", "/sub/"] {
        let r = fetch(&server, path.as_bytes());
        assert_eq!(r.status, 200, "{path}");
        assert_no_leak(&fx, path, &r);
        let page = r.text();
        for name in [
            "leak.txt",
            "leak-abs.txt",
            "outlink",
            "passwd",
            "chain",
            "\"up",
        ] {
            assert!(!page.contains(name), "{path} lists {name}: {page}");
        }
    }
    let page = fetch(&server, b"/").text();
    for name in ["public.txt", "inlink.txt", "sub/"] {
        assert!(page.contains(name), "/ does not list {name}: {page}");
    }
}

#[test]
fn a_root_that_is_a_symlink_serves_inside_and_nothing_outside() {
    let fx = Fixture::new("path-safety-rootlink");
    let link = fx.root_link();
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    let config = Config::new(&link).unwrap();
    // The configuration holds the real directory, which containment uses.
    assert_eq!(config.root, fx.root().canonicalize().unwrap());
    let server = TestServer::start(config);
    check_rows(&fx, &server, ROWS);
    // `rootlink` is a sibling of the root, not a name inside it.
    for target in [&b"/rootlink/public.txt"[..], b"/../rootlink/public.txt"] {
        let r = fetch(&server, target);
        assert_no_leak(&fx, &show(target), &r);
        assert!(
            matches!(r.status, 400 | 404),
            "{}: {}",
            show(target),
            r.status
        );
    }
}

/// The binary, killed and reaped when dropped.
struct Httpd(std::process::Child);

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_started_on_a_symlinked_root_serves_inside_and_nothing_outside() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let fx = Fixture::new("path-safety-binary");
    let link = fx.root_link();
    let mut child = Httpd(
        Command::new(BIN)
            .args([link.to_str().unwrap(), "-p", "0", "-q"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // It says what it really serves: the canonical root, not the link.
    let real = fx.root().canonicalize().unwrap();
    assert!(
        line.starts_with(&format!("Serving {} at http://", real.display())),
        "{line:?}"
    );
    let addr = line
        .trim_end()
        .rsplit(" at http://")
        .next()
        .and_then(|s| s.strip_suffix('/'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let rows = [
        ok(b"/public.txt", PUBLIC),
        ok(b"/inlink.txt", PUBLIC),
        ok(b"/sub/back/public.txt", PUBLIC),
        row(b"/sub/up/root/public.txt", 404),
        row(b"/../secret.txt", 400),
        row(b"/%2e%2e/secret.txt", 400),
        row(b"/leak.txt", 404),
        row(b"/leak-abs.txt", 404),
        row(b"/outlink/secret.txt", 404),
        row(b"/sub/up/secret.txt", 404),
        row(b"/passwd", 404),
        row(b"/rootlink/public.txt", 404),
    ];
    for row in &rows {
        let mut raw = b"GET ".to_vec();
        raw.extend_from_slice(row.target);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: host\r\nConnection: close\r\n\r\n");
        let mut c = Client::connect(addr);
        c.send(&raw);
        let r = c.read_response();
        let what = format!("binary: GET {}", show(row.target));
        assert_no_leak(&fx, &what, &r);
        assert_eq!(r.status, row.status, "{what}");
        if let Some(body) = row.body {
            assert_eq!(r.text(), body, "{what}");
        }
    }
}

#[test]
fn a_root_reached_through_a_symlinked_parent_is_contained_too() {
    // tmp/rootlink/sub is the real tmp/root/sub; serving it must not let
    // `..` or `sub/up` out of *it* either.
    let fx = Fixture::new("path-safety-subroot");
    let server = TestServer::serve(&fx.root_link().join("sub"));
    let rows = [
        ok(b"/public.txt", SUB_PUBLIC),
        ok(b"/deeper/public.txt", DEEPER_PUBLIC),
        row(b"/../public.txt", 400),
        row(b"/%2e%2e/public.txt", 400),
        row(b"/up/secret.txt", 404),
        row(b"/up/root/public.txt", 404),
        row(b"/deeper/../../secret.txt", 400),
    ];
    check_rows(&fx, &server, &rows);
}

// ---------------------------------------------------------------------------
// The pure resolver: the same classes, without a server.
// ---------------------------------------------------------------------------

/// What `resolve` returns for a row: the segments, or the error.
type Expected = Result<&'static [&'static str], PathError>;

const RESOLVE_ROWS: &[(&str, Expected)] = &[
    ("/public.txt", Ok(&["public.txt"])),
    ("/sub/../public.txt", Ok(&["public.txt"])),
    // `..`, plain and encoded.
    ("/../secret.txt", Err(PathError::AboveRoot)),
    ("/..", Err(PathError::AboveRoot)),
    ("/sub/../../secret.txt", Err(PathError::AboveRoot)),
    ("/%2e%2e/secret.txt", Err(PathError::AboveRoot)),
    ("/%2E%2E/secret.txt", Err(PathError::AboveRoot)),
    ("/%2e%2E/secret.txt", Err(PathError::AboveRoot)),
    ("/.%2e/secret.txt", Err(PathError::AboveRoot)),
    ("/%2e./secret.txt", Err(PathError::AboveRoot)),
    ("/sub/%2e%2e/public.txt", Ok(&["public.txt"])),
    // Encoded slashes.
    ("/..%2fsecret.txt", Err(PathError::AboveRoot)),
    ("/..%2Fsecret.txt", Err(PathError::AboveRoot)),
    ("/sub%2f..%2f..%2fsecret.txt", Err(PathError::AboveRoot)),
    ("/sub%2fpublic.txt", Ok(&["sub", "public.txt"])),
    // Backslashes.
    ("/..\\secret.txt", Ok(&["..\\secret.txt"])),
    ("/..%5csecret.txt", Ok(&["..\\secret.txt"])),
    ("/..%5C..%5Csecret.txt", Ok(&["..\\..\\secret.txt"])),
    // NUL and controls.
    ("/secret.txt%00", Err(PathError::ControlByte)),
    ("/%00/../x", Err(PathError::ControlByte)),
    ("/a%0d%0ab", Err(PathError::ControlByte)),
    ("/a\0b", Err(PathError::BadTarget)),
    // Double encoding.
    ("/%252e%252e/secret.txt", Ok(&["%2e%2e", "secret.txt"])),
    ("/..%252fsecret.txt", Ok(&["..%2fsecret.txt"])),
    ("/%25%32%65%25%32%65/x", Ok(&["%2e%2e", "x"])),
    // Overlong UTF-8.
    ("/%c0%ae%c0%ae/secret.txt", Err(PathError::BadUtf8)),
    ("/%e0%80%ae%e0%80%ae/secret.txt", Err(PathError::BadUtf8)),
    ("/%f0%80%80%ae/x", Err(PathError::BadUtf8)),
    ("/..%c0%afsecret.txt", Err(PathError::BadUtf8)),
    // Other spellings that are only names here.
    ("/%u002e%u002e/x", Err(PathError::BadEscape)),
    ("/%ef%bc%8e%ef%bc%8e/x", Ok(&["．．", "x"])),
    ("/..;/x", Ok(&["..;", "x"])),
    ("/.../x", Ok(&["...", "x"])),
    // Absolute paths after decoding.
    ("//etc/passwd", Ok(&["etc", "passwd"])),
    ("/%2fetc/passwd", Ok(&["etc", "passwd"])),
    ("/%2F%2Fetc%2Fpasswd", Ok(&["etc", "passwd"])),
    // Queries and fragments.
    ("/public.txt?/../../secret.txt", Ok(&["public.txt"])),
    ("/public.txt#/../../secret.txt", Ok(&["public.txt"])),
    // Absolute-form.
    ("http://host/../secret.txt", Err(PathError::AboveRoot)),
    ("http://host/%2e%2e/secret.txt", Err(PathError::AboveRoot)),
    ("http://host//etc/passwd", Ok(&["etc", "passwd"])),
    ("http://..%2f/secret.txt", Ok(&["secret.txt"])),
    ("http://user@host/x", Err(PathError::BadTarget)),
    ("file:///etc/passwd", Err(PathError::BadTarget)),
    ("../secret.txt", Err(PathError::BadTarget)),
    ("*", Err(PathError::BadTarget)),
];

/// True if every component of `p` below `root` is a plain name, so the
/// path cannot leave `root` lexically (symlinks are the server's concern).
fn lexically_inside(root: &Path, p: &Path) -> bool {
    p.strip_prefix(root)
        .is_ok_and(|rest| rest.components().all(|c| matches!(c, Component::Normal(_))))
}

#[test]
fn resolver_table() {
    let root = Path::new("/srv/root");
    let mut wrong = Vec::new();
    for &(target, expected) in RESOLVE_ROWS {
        let got = resolve(target);
        let got_segments = got.as_ref().map(|r| r.segments.clone()).map_err(|e| *e);
        let want = expected.map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        if got_segments != want {
            wrong.push(format!(
                "resolve({target:?}) = {got_segments:?}, want {want:?}"
            ));
        }
        if let Ok(r) = got {
            let mut joined = root.to_path_buf();
            joined.extend(&r.segments);
            assert!(lexically_inside(root, &joined), "{target:?} -> {joined:?}");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every spelling of `..` (3 x 3 case and encoding mixes), joined by every
/// spelling of `/`, climbing one level more than the path descends, is
/// refused; climbing exactly as far as it descends lands at the root.
#[test]
fn resolver_refuses_every_spelling_of_climbing_out() {
    let dots = [".", "%2e", "%2E"];
    let slashes = ["/", "%2f", "%2F"];
    let mut checked = 0;
    for a in dots {
        for b in dots {
            let dotdot = format!("{a}{b}");
            for sep in slashes {
                for depth in 0..4 {
                    let down = "d/".repeat(depth);
                    let up_out = format!("{dotdot}{sep}").repeat(depth + 1);
                    let target = format!("/{down}{up_out}secret.txt");
                    assert_eq!(
                        resolve(&target).map(|r| r.segments),
                        Err(PathError::AboveRoot),
                        "{target}"
                    );
                    let up_level = format!("{dotdot}{sep}").repeat(depth);
                    let target = format!("/{down}{up_level}public.txt");
                    assert_eq!(
                        resolve(&target).map(|r| r.segments),
                        Ok(vec!["public.txt".to_string()]),
                        "{target}"
                    );
                    checked += 2;
                }
            }
        }
    }
    assert_eq!(checked, 3 * 3 * 3 * 4 * 2);
}

/// Whatever the resolver accepts is safe to join: no segment is empty,
/// `.`, `..`, contains `/` or NUL, and the join stays under the root. The
/// inputs are every short string over an alphabet of traversal pieces.
#[test]
fn resolver_output_is_always_safe_to_join() {
    let pieces = [
        "/", ".", "..", "%2e", "%2f", "%5c", "\\", "%25", "%00", "%c0%ae", "a", "?", "#",
    ];
    let root = Path::new("/srv/root");
    let mut accepted = 0;
    let mut total = 0;
    let mut target = String::new();
    // Every sequence of up to four pieces after a leading '/'.
    let n = pieces.len();
    for len in 0..=4u32 {
        for mut code in 0..n.pow(len) {
            target.clear();
            target.push('/');
            for _ in 0..len {
                target.push_str(pieces[code % n]);
                code /= n;
            }
            total += 1;
            let Ok(r) = resolve(&target) else { continue };
            accepted += 1;
            for s in &r.segments {
                assert!(!matches!(s.as_str(), "" | "." | ".."), "{target:?}: {s:?}");
                assert!(!s.contains(['/', '\0']), "{target:?}: {s:?}");
            }
            let mut joined = root.to_path_buf();
            joined.extend(&r.segments);
            assert!(lexically_inside(root, &joined), "{target:?} -> {joined:?}");
        }
    }
    assert!(accepted > 0 && accepted < total, "{accepted} of {total}");
}
