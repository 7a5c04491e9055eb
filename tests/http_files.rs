//! Serving files, directories and ranges, over real sockets with raw bytes.
//!
//! Every test builds its own document root and [`Config`], runs a server on
//! 127.0.0.1:0 in this process, and asserts exact statuses, fields and
//! bodies. Responses without a body (304, HEAD) are followed by a probe
//! request on the same connection, so a stray body byte shows up as a broken
//! status line.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{FileExt, symlink};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use asynchat::http::Config;
use common::*;

const A_TXT: &[u8] = b"hello from a.txt\n";

/// A known modification time: `Thu, 04 Mar 2021 05:06:07 GMT`.
const KNOWN_DATE: &str = "Thu, 04 Mar 2021 05:06:07 GMT";

fn at(date: &str) -> SystemTime {
    httpdate::parse_http_date(date).unwrap()
}

fn set_mtime(p: &Path, t: SystemTime) {
    File::open(p).unwrap().set_modified(t).unwrap();
}

fn config(root: &TempDir) -> Config {
    Config::new(root.path()).unwrap()
}

/// A response, shown for assertion messages (the body as lossy text, cut).
fn show(r: &Response) -> String {
    let text = r.text();
    let cut: String = text.chars().take(300).collect();
    format!("{} {:?} {cut:?}", r.status, r.headers)
}

/// Sends `raw` on a new connection and reads the response; unless the
/// server closes, a `HEAD` probe on the same connection must then get a
/// well-framed 404, which proves the response carried exactly the body its
/// head announced.
fn fetch(server: &TestServer, raw: impl AsRef<[u8]>) -> Response {
    let mut c = server.connect();
    let r = c.request(raw);
    if r.header("connection") != Some("close") {
        let probe = c.request("HEAD /no-such-probe-file HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!(probe.status, 404, "framing probe after {}", show(&r));
    }
    r
}

fn get_path(server: &TestServer, path: &str) -> Response {
    fetch(server, get(path))
}

/// A 200 whose body is exactly `body`.
#[track_caller]
fn assert_ok(r: &Response, body: &[u8]) {
    assert_eq!(r.status, 200, "{}", show(r));
    assert_eq!(r.body, body, "{}", show(r));
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );
}

/// An error page with this status and reason.
#[track_caller]
fn assert_error(r: &Response, status: u16, reason: &str) {
    assert_eq!(r.status, status, "{}", show(r));
    assert_eq!(
        r.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{}",
        show(r)
    );
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    let h1 = format!("<h1>{status} {reason}</h1>");
    assert!(r.text().contains(&h1), "{h1} in {}", show(r));
}

#[track_caller]
fn assert_404(server: &TestServer, path: &str) {
    let r = get_path(server, path);
    assert_error(&r, 404, "Not Found");
}

#[track_caller]
fn assert_400(server: &TestServer, path: &str) {
    let r = get_path(server, path);
    assert_error(&r, 400, "Bad Request");
}

/// True for an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
fn is_imf_fixdate(s: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    s.is_ascii()
        && b.len() == 29
        && DAYS.contains(&&s[..3])
        && &s[3..5] == ", "
        && digits(5..7)
        && b[7] == b' '
        && MONTHS.contains(&&s[8..11])
        && b[11] == b' '
        && digits(12..16)
        && b[16] == b' '
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
        && &s[25..] == " GMT"
}

/// True if `s` contains a substring shaped like `YYYY-MM-DD HH:MM`.
fn has_listing_time(s: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-dd dd:dd";
    s.as_bytes().windows(SHAPE.len()).any(|w| {
        w.iter().zip(SHAPE).all(|(&b, &p)| {
            if p == b'd' {
                b.is_ascii_digit()
            } else {
                b == p
            }
        })
    })
}

/// The link targets of a listing page's rows, in order (not the column
/// headers' links to the sort orders, `?sort=...`).
fn hrefs(page: &str) -> Vec<String> {
    page.split("<a href=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .filter(|href| !href.starts_with('?'))
        .collect()
}

/// The table row (`<tr>...</tr>`) that links to `href`.
fn row<'a>(page: &'a str, href: &str) -> &'a str {
    let link = format!("<a href=\"{href}\">");
    let at = page
        .find(&link)
        .unwrap_or_else(|| panic!("no row for {href:?}"));
    let start = page[..at].rfind("<tr>").unwrap();
    let end = at + page[at..].find("</tr>").unwrap() + "</tr>".len();
    &page[start..end]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `bytes first-last/len` as numbers.
fn parse_content_range(v: &str) -> (u64, u64, u64) {
    let rest = v.strip_prefix("bytes ").expect("Content-Range unit");
    let (span, len) = rest.split_once('/').unwrap();
    let (first, last) = span.split_once('-').unwrap();
    (
        first.parse().unwrap(),
        last.parse().unwrap(),
        len.parse().unwrap(),
    )
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug)]
struct Part {
    content_type: Option<String>,
    content_range: String,
    data: Vec<u8>,
}

/// The boundary of a `multipart/byteranges` Content-Type.
fn boundary(content_type: &str) -> String {
    let (kind, params) = content_type.split_once(';').expect("parameters");
    assert_eq!(kind.trim(), "multipart/byteranges");
    let b = params
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("boundary parameter");
    b.trim_matches('"').to_string()
}

/// Parses a multipart/byteranges body strictly (RFC 9110 §14.6, RFC 2046
/// §5.1.1): each part's length is taken from its Content-Range, and the
/// delimiter must follow it exactly.
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let mut rest = body.strip_prefix(b"\r\n").unwrap_or(body);
    rest = rest
        .strip_prefix(delimiter.as_bytes())
        .expect("the body starts with the first delimiter");
    let mut parts = Vec::new();
    loop {
        if let Some(epilogue) = rest.strip_prefix(b"--") {
            assert!(
                epilogue == b"\r\n" || epilogue.is_empty(),
                "epilogue {epilogue:?}"
            );
            return parts;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after a delimiter");
        let end = find(rest, b"\r\n\r\n").expect("end of a part's head");
        let head = std::str::from_utf8(&rest[..end]).unwrap();
        rest = &rest[end + 4..];
        let mut content_type = None;
        let mut content_range = None;
        for line in head.split("\r\n") {
            let (name, value) = line.split_once(':').expect("part field");
            match name.to_ascii_lowercase().as_str() {
                "content-type" => content_type = Some(value.trim().to_string()),
                "content-range" => content_range = Some(value.trim().to_string()),
                other => panic!("unexpected part field {other:?}"),
            }
        }
        let content_range = content_range.expect("each part has Content-Range");
        let (first, last, _) = parse_content_range(&content_range);
        let n = usize::try_from(last - first + 1).unwrap();
        assert!(rest.len() >= n, "part shorter than its Content-Range");
        let data = rest[..n].to_vec();
        rest = rest[n..]
            .strip_prefix(b"\r\n")
            .and_then(|r| r.strip_prefix(delimiter.as_bytes()))
            .expect("a delimiter right after the part's bytes");
        parts.push(Part {
            content_type,
            content_range,
            data,
        });
    }
}

/// The test process's resident set size, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

// ---------------------------------------------------------------- paths

#[test]
fn percent_decoding_happens_exactly_once() {
    let root = TempDir::new("files-pct");
    root.file("café.txt", "café file\n");
    root.file("%41.txt", "literal percent-41\n");
    root.file("a b.txt", "space\n");
    let server = TestServer::serve(root.path());

    assert_ok(
        &get_path(&server, "/caf%C3%A9.txt"),
        "café file\n".as_bytes(),
    );
    assert_ok(
        &get_path(&server, "/caf%c3%a9.txt"),
        "café file\n".as_bytes(),
    );
    assert_ok(&get_path(&server, "/%2541.txt"), b"literal percent-41\n");
    assert_ok(&get_path(&server, "/a%20b.txt"), b"space\n");
    // Decoding once: `%41` is `A`, and there is no A.txt.
    assert_404(&server, "/%41.txt");
    // Decoding once: `%252541` is `%2541`, which is not `%41.txt` either.
    assert_404(&server, "/%252541.txt");
}

#[test]
fn bad_escapes_controls_and_invalid_utf8_are_400() {
    let root = TempDir::new("files-bad-escape");
    root.file("a.txt", A_TXT);
    let server = TestServer::serve(root.path());
    for path in [
        "/%00",
        "/a%00.txt",
        "/a.txt%00",
        "/%zz",
        "/%",
        "/%4",
        "/a%2",
        "/%ff",
        "/%c3",
        "/%c0%ae",
        "/%c0%ae%c0%ae/a.txt",
        "/%c0%af",
        "/%0d%0aSet-Cookie:x",
    ] {
        assert_400(&server, path);
    }
    // The connection survives a 400 about the path.
    let mut c = server.connect();
    assert_eq!(c.request(get("/%zz")).status, 400);
    assert_ok(&c.request(get("/a.txt")), A_TXT);
}

#[test]
fn dot_segments_are_resolved_inside_the_root() {
    let root = TempDir::new("files-dots");
    root.file("a.txt", A_TXT);
    root.file("sub/b.txt", "b\n");
    let server = TestServer::serve(root.path());
    assert_ok(&get_path(&server, "/sub/../a.txt"), A_TXT);
    assert_ok(&get_path(&server, "/./a.txt"), A_TXT);
    assert_ok(&get_path(&server, "/sub/./b.txt"), b"b\n");
    assert_ok(&get_path(&server, "/sub/%2e%2e/a.txt"), A_TXT);
    assert_ok(&get_path(&server, "/sub/x/../b.txt"), b"b\n");
    assert_ok(&get_path(&server, "//sub//b.txt"), b"b\n");
    // A file asked for as a directory is not there.
    assert_404(&server, "/a.txt/");
    assert_404(&server, "/sub/b.txt/.");
}

#[test]
fn symlink_loops_and_special_files_are_404() {
    let root = TempDir::new("files-special");
    root.file("a.txt", A_TXT);
    symlink("loop", root.path().join("loop")).unwrap();
    symlink("pong", root.path().join("ping")).unwrap();
    symlink("ping", root.path().join("pong")).unwrap();
    symlink("nowhere", root.path().join("dangling")).unwrap();
    let fifo = Command::new("mkfifo")
        .arg(root.path().join("fifo"))
        .status()
        .is_ok_and(|s| s.success());
    let server = TestServer::serve(root.path());
    for path in ["/loop", "/ping", "/dangling", "/loop/x"] {
        assert_404(&server, path);
    }
    if fifo {
        // Neither served nor waited on: opening a FIFO would block.
        let started = Instant::now();
        assert_404(&server, "/fifo");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    // Dangling and looping links are left out of the listing.
    let page = get_path(&server, "/").text();
    let listed = hrefs(&page);
    assert!(
        !listed
            .iter()
            .any(|h| ["loop", "ping", "pong", "dangling"].contains(&h.as_str())),
        "{listed:?}"
    );
    assert!(listed.iter().any(|h| h == "a.txt"), "{listed:?}");
}

#[test]
fn climbing_above_the_root_is_400() {
    let parent = TempDir::new("files-climb");
    parent.file("x", "outside the root\n");
    parent.file("root/a.txt", A_TXT);
    let server = TestServer::serve(&parent.path().join("root"));
    for path in [
        "/../x",
        "/..",
        "/../",
        "/%2e%2e/x",
        "/%2E%2E/x",
        "/.%2e/x",
        "/a/../../x",
        "/a.txt/../../x",
        "/..%2fx",
        "/%2f..%2fx",
    ] {
        assert_400(&server, path);
    }
    let r = fetch(
        &server,
        "GET http://test/../x HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    assert_error(&r, 400, "Bad Request");
}

#[test]
fn backslash_is_not_a_separator() {
    let root = TempDir::new("files-backslash");
    root.file("sub/a.txt", "in sub\n");
    let server = TestServer::serve(root.path());
    assert_404(&server, "/sub\\a.txt");
    assert_404(&server, "/sub%5ca.txt");
    assert_404(&server, "/..\\..\\etc\\passwd");
    root.file("sub\\a.txt", "backslash in the name\n");
    assert_ok(
        &get_path(&server, "/sub\\a.txt"),
        b"backslash in the name\n",
    );
    assert_ok(
        &get_path(&server, "/sub%5Ca.txt"),
        b"backslash in the name\n",
    );
    // The real directory is still reached with a slash.
    assert_ok(&get_path(&server, "/sub/a.txt"), b"in sub\n");
}

#[test]
fn symlinks_never_reach_outside_the_root() {
    let outside = TempDir::new("files-outside");
    outside.file("secret.txt", "OUTSIDE SECRET\n");
    outside.file("dir/inner.txt", "OUTSIDE DIR\n");
    let root = TempDir::new("files-symlinks");
    root.file("a.txt", A_TXT);
    root.dir("sub");
    symlink(
        outside.path().join("secret.txt"),
        root.path().join("out.txt"),
    )
    .unwrap();
    symlink(outside.path().join("dir"), root.path().join("outdir")).unwrap();
    symlink("../../", root.path().join("sub/up")).unwrap();
    symlink("a.txt", root.path().join("in.txt")).unwrap();
    symlink("../a.txt", root.path().join("sub/in2.txt")).unwrap();
    symlink("sub", root.path().join("subdir-link")).unwrap();
    let server = TestServer::serve(root.path());

    assert_404(&server, "/out.txt");
    assert_404(&server, "/outdir");
    assert_404(&server, "/outdir/");
    assert_404(&server, "/outdir/inner.txt");
    assert_404(&server, "/sub/up/");
    assert_404(
        &server,
        &format!(
            "/sub/up/{}/secret.txt",
            outside.path().file_name().unwrap().to_str().unwrap()
        ),
    );

    let r = get_path(&server, "/in.txt");
    assert_ok(&r, A_TXT);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_ok(&get_path(&server, "/sub/in2.txt"), A_TXT);
    assert_ok(&get_path(&server, "/subdir-link/in2.txt"), A_TXT);
    for path in ["/out.txt", "/outdir/inner.txt"] {
        let r = get_path(&server, path);
        assert!(!r.text().contains("OUTSIDE"), "{path}: {}", show(&r));
    }
}

#[test]
fn dotfiles_are_404_by_default() {
    let root = TempDir::new("files-dot");
    root.file(".secret", "s\n");
    root.file(".git/config", "[core]\n");
    root.file("sub/.env", "KEY=1\n");
    root.file("sub/ok.txt", "ok\n");
    symlink(".secret", root.path().join("innocent.txt")).unwrap();
    let server = TestServer::serve(root.path());
    for path in [
        "/.secret",
        "/.git/config",
        "/.git/",
        "/.git",
        "/sub/.env",
        "/%2esecret",
        "/sub/../.secret",
        // A visible name that is a symlink to a dotfile is still hidden.
        "/innocent.txt",
    ] {
        assert_404(&server, path);
    }
    assert_ok(&get_path(&server, "/sub/ok.txt"), b"ok\n");
}

#[test]
fn dotfiles_are_served_with_hidden() {
    let root = TempDir::new("files-dot-hidden");
    root.file(".secret", "s\n");
    root.file(".git/config", "[core]\n");
    root.file("sub/.env", "KEY=1\n");
    let mut cfg = config(&root);
    cfg.hidden = true;
    let server = TestServer::start(cfg);
    assert_ok(&get_path(&server, "/.secret"), b"s\n");
    assert_ok(&get_path(&server, "/.git/config"), b"[core]\n");
    assert_ok(&get_path(&server, "/sub/.env"), b"KEY=1\n");
    let page = get_path(&server, "/").text();
    assert!(hrefs(&page).contains(&".secret".to_string()), "{page}");
    assert!(hrefs(&page).contains(&".git/".to_string()), "{page}");
}

#[test]
fn query_string_is_ignored_for_lookup() {
    let root = TempDir::new("files-query");
    root.file("a.txt", A_TXT);
    let server = TestServer::serve(root.path());
    assert_ok(&get_path(&server, "/a.txt?x=1"), A_TXT);
    assert_ok(&get_path(&server, "/a.txt?"), A_TXT);
    assert_ok(&get_path(&server, "/a.txt?x=/../../etc&y=%zz"), A_TXT);
}

#[test]
fn escaped_question_mark_is_part_of_the_name() {
    let root = TempDir::new("files-qmark");
    root.file("what?.jpg", b"\xff\xd8jpeg");
    root.file("what", "not me\n");
    let server = TestServer::serve(root.path());
    let r = get_path(&server, "/what%3f.jpg");
    assert_ok(&r, b"\xff\xd8jpeg");
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert_ok(&get_path(&server, "/what%3F.jpg?q=1"), b"\xff\xd8jpeg");
    assert_ok(&get_path(&server, "/what?.jpg"), b"not me\n");
}

// ---------------------------------------------------------- directories

#[test]
fn directory_without_slash_redirects() {
    let root = TempDir::new("files-redirect");
    root.file("sub/a.txt", A_TXT);
    root.dir("my docs");
    root.dir("café");
    let server = TestServer::serve(root.path());
    for (path, location) in [
        ("/sub", "/sub/"),
        ("/sub?x=1", "/sub/?x=1"),
        ("/sub?a=1&b=%20", "/sub/?a=1&b=%20"),
        ("/my%20docs", "/my%20docs/"),
        ("/sub/a.txt/../../sub", "/sub/"),
        ("/caf%C3%A9", "/caf%C3%A9/"),
        // An encoded slash does not make a directory URL: the listing's
        // relative links would resolve against the parent.
        ("/sub%2f", "/sub/"),
        ("/sub%2F?x=1", "/sub/?x=1"),
    ] {
        let r = get_path(&server, path);
        assert_error(&r, 301, "Moved Permanently");
        assert_eq!(r.header("location"), Some(location), "{path}");
    }
    // The target of the redirect is served.
    assert_eq!(get_path(&server, "/sub/").status, 200);
    // HEAD gets the same redirect.
    let r = fetch(&server, "HEAD /sub HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/sub/"));
}

#[test]
fn redirect_location_never_starts_with_two_slashes() {
    let root = TempDir::new("files-redirect-slashes");
    root.dir("sub");
    root.dir("evil.com");
    let server = TestServer::serve(root.path());
    for (target, want) in [
        ("//sub", "/sub/"),
        ("///sub", "/sub/"),
        ("//evil.com", "/evil.com/"),
        ("//evil.com?x=1", "/evil.com/?x=1"),
        ("/%2fevil.com", "/evil.com/"),
        ("/%2F%2Fevil.com", "/evil.com/"),
        ("/./evil.com", "/evil.com/"),
        ("/sub/..//evil.com", "/evil.com/"),
        ("http://test//evil.com", "/evil.com/"),
    ] {
        let r = fetch(
            &server,
            format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n"),
        );
        assert_eq!(r.status, 301, "{target}: {}", show(&r));
        let location = r.header("location").unwrap();
        assert!(!location.starts_with("//"), "{target}: {location}");
        assert!(!location.starts_with("/\\"), "{target}: {location}");
        assert_eq!(location, want, "{target}");
    }
}

#[test]
fn directory_with_index_serves_the_index() {
    let root = TempDir::new("files-index");
    root.file("index.html", "<p>root index</p>\n");
    root.file("sub/index.html", "<p>sub index</p>\n");
    root.file("sub/other.txt", "x\n");
    let server = TestServer::serve(root.path());
    let r = get_path(&server, "/sub/");
    assert_ok(&r, b"<p>sub index</p>\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.header("etag").is_some());
    assert_ok(&get_path(&server, "/"), b"<p>root index</p>\n");
    assert_ok(&get_path(&server, "/?x=1"), b"<p>root index</p>\n");
    assert_ok(&get_path(&server, "/sub/index.html"), b"<p>sub index</p>\n");
}

#[test]
fn directory_without_index_is_listed() {
    let root = TempDir::new("files-list-basic");
    root.file("sub/a.txt", A_TXT);
    let server = TestServer::serve(root.path());
    let r = get_path(&server, "/sub/");
    assert_eq!(r.status, 200, "{}", show(&r));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let page = r.text();
    assert!(page.contains("<title>Index of /sub/</title>"), "{page}");
    assert_eq!(hrefs(&page), ["../", "a.txt"]);
}

#[test]
fn listing_disabled_is_403() {
    let root = TempDir::new("files-nolist");
    root.file("sub/a.txt", A_TXT);
    root.file("withindex/index.html", "idx\n");
    let mut cfg = config(&root);
    cfg.listing = false;
    let server = TestServer::start(cfg);
    assert_error(&get_path(&server, "/sub/"), 403, "Forbidden");
    assert_error(&get_path(&server, "/"), 403, "Forbidden");
    // Files and index files are still served.
    assert_ok(&get_path(&server, "/sub/a.txt"), A_TXT);
    assert_ok(&get_path(&server, "/withindex/"), b"idx\n");
    // Redirects happen before the listing decision.
    assert_eq!(get_path(&server, "/sub").status, 301);
}

#[test]
fn custom_index_name_is_served() {
    let root = TempDir::new("files-home");
    root.file("sub/home.htm", "<p>home</p>\n");
    root.file("sub/index.html", "<p>not me</p>\n");
    root.file("other/index.html", "<p>index</p>\n");
    let mut cfg = config(&root);
    cfg.index = "home.htm".into();
    let server = TestServer::start(cfg);
    let r = get_path(&server, "/sub/");
    assert_ok(&r, b"<p>home</p>\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    // index.html is no longer special: that directory is listed.
    let page = get_path(&server, "/other/").text();
    assert_eq!(hrefs(&page), ["../", "index.html"]);
}

#[test]
fn listing_orders_parent_then_directories_then_files() {
    let root = TempDir::new("files-list-order");
    root.file("list/b.txt", "b");
    root.file("list/a.txt", "a");
    root.file("list/C.txt", "c");
    root.dir("list/zdir");
    root.dir("list/adir");
    root.dir("list/Mdir");
    root.file("list/m.txt", "m");
    root.file("top.txt", "t");
    let server = TestServer::serve(root.path());

    let page = get_path(&server, "/list/").text();
    assert_eq!(
        hrefs(&page),
        [
            "../", "adir/", "Mdir/", "zdir/", "a.txt", "b.txt", "C.txt", "m.txt"
        ]
    );
    // Directories show their slash in the text too.
    assert!(page.contains("<a href=\"adir/\">adir/</a>"), "{page}");
    assert!(page.contains("<a href=\"a.txt\">a.txt</a>"), "{page}");

    // At the root there is no parent link.
    let page = get_path(&server, "/").text();
    assert_eq!(hrefs(&page), ["list/", "top.txt"]);
    assert!(!page.contains("../"), "{page}");
}

#[test]
fn listing_escapes_names_and_encodes_hrefs() {
    let root = TempDir::new("files-list-escape");
    root.file("d/<b>&\"x'.txt", "tricky");
    root.file("d/a b.txt", "space");
    root.file("d/café.txt", "accent");
    root.file("d/what?.txt", "q");
    root.file("d/100%.txt", "pct");
    root.file("d/javascript:alert(1)", "js");
    root.dir("d/my dir");
    let server = TestServer::serve(root.path());
    let page = get_path(&server, "/d/").text();

    assert!(
        page.contains(">&lt;b&gt;&amp;&quot;x&#39;.txt</a>"),
        "{page}"
    );
    assert!(!page.contains("<b>"), "{page}");
    assert!(!page.contains("\"x'"), "{page}");
    assert!(page.contains("href=\"a%20b.txt\""), "{page}");
    assert!(page.contains(">a b.txt</a>"), "{page}");
    assert!(page.contains("href=\"caf%C3%A9.txt\""), "{page}");
    assert!(page.contains("href=\"what%3F.txt\""), "{page}");
    assert!(page.contains("href=\"100%25.txt\""), "{page}");
    assert!(page.contains("href=\"javascript%3Aalert(1)\""), "{page}");
    assert!(page.contains("href=\"my%20dir/\""), "{page}");

    // Every link in the listing leads to what it names.
    let links = hrefs(&page);
    assert_eq!(links.len(), 8, "{links:?}");
    for href in links {
        let r = get_path(&server, &format!("/d/{href}"));
        assert_eq!(r.status, 200, "/d/{href}: {}", show(&r));
    }
    assert_ok(&get_path(&server, "/d/%3Cb%3E%26%22x%27.txt"), b"tricky");
}

#[test]
fn listing_shows_sizes_and_times() {
    let root = TempDir::new("files-list-sizes");
    root.file("l/five.txt", "12345");
    root.file("l/kib.bin", vec![7u8; 1536]);
    root.file("l/zero", "");
    let mib = root.path().join("l/three-mib.bin");
    File::create(&mib).unwrap().set_len(3 << 20).unwrap();
    root.dir("l/dir");
    let t = at("Sat, 03 Feb 2001 04:05:06 GMT");
    set_mtime(&root.path().join("l/five.txt"), t);
    set_mtime(&root.path().join("l/dir"), t);
    let server = TestServer::serve(root.path());
    let page = get_path(&server, "/l/").text();

    assert!(row(&page, "five.txt").contains(">5 B<"), "{page}");
    assert!(row(&page, "kib.bin").contains(">1.5 KiB<"), "{page}");
    assert!(row(&page, "three-mib.bin").contains(">3.0 MiB<"), "{page}");
    assert!(row(&page, "zero").contains(">0 B<"), "{page}");
    assert!(
        row(&page, "five.txt").contains("2001-02-03 04:05"),
        "{page}"
    );
    assert!(row(&page, "dir/").contains("2001-02-03 04:05"), "{page}");
    assert!(!row(&page, "dir/").contains(" B<"), "{page}");
    for href in ["kib.bin", "zero", "three-mib.bin"] {
        assert!(has_listing_time(row(&page, href)), "{href}: {page}");
    }
}

#[test]
fn listing_is_an_html5_utf8_page() {
    let root = TempDir::new("files-list-doc");
    root.file("x/a.txt", "a");
    let server = TestServer::serve(root.path());
    let r = get_path(&server, "/x/");
    let page = r.text();
    assert!(page.starts_with("<!doctype html>"), "{page}");
    assert!(page.contains("charset=\"utf-8\""), "{page}");
    assert!(page.trim_end().ends_with("</html>"), "{page}");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
}

#[test]
fn listing_hides_dotfiles_by_default() {
    let root = TempDir::new("files-list-dot");
    root.file("d/.env", "x");
    root.file("d/.git/config", "x");
    root.file("d/seen.txt", "x");
    let server = TestServer::serve(root.path());
    let page = get_path(&server, "/d/").text();
    assert_eq!(hrefs(&page), ["../", "seen.txt"]);
    assert!(!page.contains(".env") && !page.contains(".git"), "{page}");
}

/// A listing should only offer links the server will follow: a symlink to a
/// file outside the root (or to a dotfile) is served as 404, so listing it
/// is a dead link and shows the outside file's size and time.
#[test]
fn listing_omits_entries_that_are_not_served() {
    let outside = TempDir::new("files-list-outside");
    outside.file("secret.bin", vec![0u8; 1536]);
    let root = TempDir::new("files-list-links");
    root.file("d/ok.txt", "ok");
    root.file("d/.hidden", "h");
    symlink(
        outside.path().join("secret.bin"),
        root.path().join("d/out.bin"),
    )
    .unwrap();
    symlink(outside.path(), root.path().join("d/outdir")).unwrap();
    symlink(".hidden", root.path().join("d/visible")).unwrap();
    let server = TestServer::serve(root.path());
    for href in ["out.bin", "outdir/", "visible"] {
        assert_eq!(
            get_path(&server, &format!("/d/{href}")).status,
            404,
            "{href}"
        );
    }
    let page = get_path(&server, "/d/").text();
    assert_eq!(hrefs(&page), ["../", "ok.txt"], "{page}");
    assert!(!page.contains("1.5 KiB"), "{page}");
}

// ---------------------------------------------------------------- files

#[test]
fn content_type_comes_from_the_extension() {
    let root = TempDir::new("files-types");
    for (name, want) in [
        ("page.html", "text/html; charset=utf-8"),
        ("PAGE.HTML", "text/html; charset=utf-8"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("image.png", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("style.css", "text/css; charset=utf-8"),
        ("data.qqqzzz", "application/octet-stream"),
        ("Makefile", "application/octet-stream"),
        ("archive.bin", "application/octet-stream"),
    ] {
        root.file(name, name);
        let server = TestServer::serve(root.path());
        let r = get_path(&server, &format!("/{name}"));
        assert_ok(&r, name.as_bytes());
        assert_eq!(r.header("content-type"), Some(want), "{name}");
    }
}

#[test]
fn file_responses_carry_validators_and_metadata() {
    let root = TempDir::new("files-fields");
    let p = root.file("a.txt", A_TXT);
    set_mtime(&p, at(KNOWN_DATE));
    let server = TestServer::serve(root.path());
    let before = SystemTime::now() - Duration::from_secs(2);
    let r = get_path(&server, "/a.txt");
    let after = SystemTime::now() + Duration::from_secs(2);
    assert_ok(&r, A_TXT);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("content-length"), Some("17"));
    assert_eq!(r.header("last-modified"), Some(KNOWN_DATE));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    let etag = r.header("etag").expect("ETag");
    assert!(
        etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
        "{etag}"
    );
    assert!(!etag.starts_with("W/"), "{etag}");
    assert!(!etag[1..etag.len() - 1].contains('"'), "{etag}");
    let date = r.header("date").expect("Date");
    assert!(is_imf_fixdate(date), "{date}");
    let date = at(date);
    assert!(before <= date && date <= after, "{date:?}");
    let server_field = r.header("server").expect("Server");
    assert!(
        server_field.starts_with("asynchat-httpd/"),
        "{server_field}"
    );
    // No field appears twice.
    for (i, (name, _)) in r.headers.iter().enumerate() {
        assert!(
            !r.headers[i + 1..].iter().any(|(n, _)| n == name),
            "{name} twice: {}",
            show(&r)
        );
    }

    // The same file gives the same ETag; a change gives another once the
    // file cache has looked at the disk again (within its TTL).
    assert_eq!(get_path(&server, "/a.txt").header("etag"), Some(etag));
    std::fs::write(&p, "changed!\n").unwrap();
    set_mtime(&p, at(KNOWN_DATE) + Duration::from_secs(1));
    std::thread::sleep(asynchat::http::cache::FileCache::TTL + Duration::from_millis(50));
    let r2 = get_path(&server, "/a.txt");
    assert_ok(&r2, b"changed!\n");
    assert_ne!(r2.header("etag"), Some(etag));
}

// ---------------------------------------------------------- conditional

/// A server for `a.txt` with a known mtime, and its ETag.
fn conditional_fixture(tag: &str) -> (TempDir, TestServer, String) {
    let root = TempDir::new(tag);
    let p = root.file("a.txt", A_TXT);
    set_mtime(&p, at(KNOWN_DATE));
    let server = TestServer::serve(root.path());
    let etag = get_path(&server, "/a.txt")
        .header("etag")
        .unwrap()
        .to_string();
    (root, server, etag)
}

#[track_caller]
fn assert_not_modified(r: &Response, etag: &str) {
    assert_eq!(r.status, 304, "{}", show(r));
    assert_eq!(r.header("content-length"), None, "{}", show(r));
    assert_eq!(r.header("transfer-encoding"), None, "{}", show(r));
    assert_eq!(r.header("etag"), Some(etag), "{}", show(r));
    assert_eq!(r.header("last-modified"), Some(KNOWN_DATE), "{}", show(r));
    assert!(r.header("date").is_some_and(is_imf_fixdate));
    assert!(r.body.is_empty());
}

fn conditional(server: &TestServer, fields: &str) -> Response {
    fetch(server, get_with("/a.txt", fields))
}

#[test]
fn if_none_match_with_the_etag_is_304() {
    let (_root, server, etag) = conditional_fixture("files-inm");
    for fields in [
        format!("If-None-Match: {etag}\r\n"),
        "If-None-Match: *\r\n".to_string(),
        format!("If-None-Match: \"nope\", {etag}\r\n"),
        format!("If-None-Match: \"nope\",{etag} , \"other\"\r\n"),
        format!("If-None-Match: W/{etag}\r\n"),
    ] {
        assert_not_modified(&conditional(&server, &fields), &etag);
    }
    // HEAD too.
    let r = fetch(
        &server,
        format!("HEAD /a.txt HTTP/1.1\r\nHost: test\r\nIf-None-Match: {etag}\r\n\r\n"),
    );
    assert_not_modified(&r, &etag);
}

#[test]
fn if_none_match_without_the_etag_is_200() {
    let (_root, server, etag) = conditional_fixture("files-inm-miss");
    let inner = &etag[1..etag.len() - 1];
    for fields in [
        "If-None-Match: \"nope\"\r\n".to_string(),
        "If-None-Match: W/\"nope\", \"other\"\r\n".to_string(),
        format!("If-None-Match: {inner}\r\n"),
        format!("If-None-Match: \"{inner}x\"\r\n"),
    ] {
        let r = conditional(&server, &fields);
        assert_ok(&r, A_TXT);
        assert_eq!(r.header("etag"), Some(etag.as_str()));
    }
}

#[test]
fn if_none_match_takes_precedence_over_if_modified_since() {
    let (_root, server, etag) = conditional_fixture("files-inm-ims");
    // A non-matching tag wins over a date that would say "not modified".
    let r = conditional(
        &server,
        "If-None-Match: \"nope\"\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n",
    );
    assert_ok(&r, A_TXT);
    let r = conditional(
        &server,
        &format!("If-Modified-Since: {KNOWN_DATE}\r\nIf-None-Match: \"nope\"\r\n"),
    );
    assert_ok(&r, A_TXT);
    // A matching tag wins over a date that would say "modified".
    let r = conditional(
        &server,
        &format!("If-None-Match: {etag}\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"),
    );
    assert_not_modified(&r, &etag);
}

#[test]
fn if_modified_since() {
    let (_root, server, etag) = conditional_fixture("files-ims");
    let r = conditional(&server, &format!("If-Modified-Since: {KNOWN_DATE}\r\n"));
    assert_not_modified(&r, &etag);
    // Later dates also mean "not modified".
    let r = conditional(
        &server,
        "If-Modified-Since: Thu, 04 Mar 2021 05:06:08 GMT\r\n",
    );
    assert_not_modified(&r, &etag);
    for date in [
        "Thu, 04 Mar 2021 05:06:06 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "garbage",
        "",
        "2021-03-04T05:06:07Z",
    ] {
        let r = conditional(&server, &format!("If-Modified-Since: {date}\r\n"));
        assert_ok(&r, A_TXT);
    }
}

// ---------------------------------------------------------------- ranges

fn thousand() -> Vec<u8> {
    (0..1000u32).map(|i| (i * 31 % 251) as u8).collect()
}

fn range_fixture(tag: &str, max_ranges: Option<usize>) -> (TempDir, TestServer, String) {
    let root = TempDir::new(tag);
    let p = root.file("data.bin", thousand());
    set_mtime(&p, at(KNOWN_DATE));
    let mut cfg = config(&root);
    if let Some(n) = max_ranges {
        cfg.max_ranges = n;
    }
    let server = TestServer::start(cfg);
    let etag = get_path(&server, "/data.bin")
        .header("etag")
        .unwrap()
        .to_string();
    (root, server, etag)
}

fn ranged(server: &TestServer, fields: &str) -> Response {
    fetch(server, get_with("/data.bin", fields))
}

#[track_caller]
fn assert_partial(r: &Response, first: usize, last: usize) {
    let data = thousand();
    assert_eq!(r.status, 206, "{}", show(r));
    let want = format!("bytes {first}-{last}/1000");
    assert_eq!(
        r.header("content-range"),
        Some(want.as_str()),
        "{}",
        show(r)
    );
    assert_eq!(
        r.header("content-length"),
        Some((last - first + 1).to_string().as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(r.header("etag").is_some() && r.header("last-modified").is_some());
    assert_eq!(r.body, &data[first..=last]);
}

#[track_caller]
fn assert_full(r: &Response) {
    assert_ok(r, &thousand());
    assert_eq!(r.header("content-range"), None, "{}", show(r));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
}

#[test]
fn single_ranges() {
    let (_root, server, _) = range_fixture("files-range", None);
    assert_partial(&ranged(&server, "Range: bytes=0-99\r\n"), 0, 99);
    assert_partial(&ranged(&server, "Range: bytes=900-\r\n"), 900, 999);
    assert_partial(&ranged(&server, "Range: bytes=-100\r\n"), 900, 999);
    assert_partial(&ranged(&server, "Range: bytes=990-2000\r\n"), 990, 999);
    assert_partial(&ranged(&server, "Range: bytes=0-0\r\n"), 0, 0);
    assert_partial(&ranged(&server, "Range: bytes=999-\r\n"), 999, 999);
    assert_partial(&ranged(&server, "Range: bytes=-5000\r\n"), 0, 999);
    assert_partial(&ranged(&server, "Range: bytes=0-\r\n"), 0, 999);
}

#[test]
fn unsatisfiable_range_is_416() {
    let (_root, server, _) = range_fixture("files-416", None);
    for value in [
        "bytes=1000-",
        "bytes=1000-1000",
        "bytes=5000-6000",
        "bytes=-0",
    ] {
        let r = ranged(&server, &format!("Range: {value}\r\n"));
        assert_eq!(r.status, 416, "{value}: {}", show(&r));
        assert_eq!(r.header("content-range"), Some("bytes */1000"), "{value}");
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str())
        );
    }
}

#[test]
fn if_range() {
    let (_root, server, etag) = range_fixture("files-if-range", None);
    let r = ranged(
        &server,
        &format!("Range: bytes=0-99\r\nIf-Range: {etag}\r\n"),
    );
    assert_partial(&r, 0, 99);
    // The fixture dated the file back to KNOWN_DATE: its Last-Modified,
    // but changed since (its change time is now), so that date no longer
    // validates it. A resumed download would splice other bytes.
    let r = ranged(
        &server,
        &format!("Range: bytes=0-99\r\nIf-Range: {KNOWN_DATE}\r\n"),
    );
    assert_full(&r);
    for if_range in [
        "\"different\"".to_string(),
        format!("W/{etag}"),
        "Thu, 04 Mar 2021 05:06:06 GMT".to_string(),
        "Thu, 04 Mar 2021 05:06:08 GMT".to_string(),
        "garbage".to_string(),
    ] {
        let r = ranged(
            &server,
            &format!("Range: bytes=0-99\r\nIf-Range: {if_range}\r\n"),
        );
        assert_full(&r);
    }
}

/// A date in If-Range validates a file unchanged since it, once a second
/// has gone by (two versions written in one second share a date).
#[test]
fn if_range_by_date_needs_a_file_unchanged_since() {
    let root = TempDir::new("files-if-range-date");
    root.file("f.bin", thousand());
    let server = TestServer::serve(root.path());
    let date = get_path(&server, "/f.bin")
        .header("last-modified")
        .unwrap()
        .to_string();
    std::thread::sleep(Duration::from_millis(1100));
    let r = fetch(
        &server,
        get_with(
            "/f.bin",
            &format!("Range: bytes=0-99\r\nIf-Range: {date}\r\n"),
        ),
    );
    assert_partial(&r, 0, 99);
}

#[test]
fn several_ranges_are_multipart() {
    let (_root, server, _) = range_fixture("files-multi", None);
    let data = thousand();
    for (value, want) in [
        ("bytes=0-9,20-29", vec![(0, 9), (20, 29)]),
        ("bytes=20-29, 0-9", vec![(0, 9), (20, 29)]),
        ("bytes=0-0,-1,500-501", vec![(0, 0), (500, 501), (999, 999)]),
    ] {
        let r = ranged(&server, &format!("Range: {value}\r\n"));
        assert_eq!(r.status, 206, "{value}: {}", show(&r));
        assert_eq!(r.header("content-range"), None, "{value}");
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str())
        );
        let ct = r.header("content-type").unwrap();
        assert!(ct.starts_with("multipart/byteranges; boundary="), "{ct}");
        let parts = parse_multipart(&r.body, &boundary(ct));
        assert_eq!(parts.len(), want.len(), "{value}: {parts:?}");
        for (part, &(first, last)) in parts.iter().zip(&want) {
            assert_eq!(
                part.content_range,
                format!("bytes {first}-{last}/1000"),
                "{value}"
            );
            assert_eq!(
                part.content_type.as_deref(),
                Some("application/octet-stream")
            );
            assert_eq!(part.data, &data[first..=last], "{value}");
        }
    }
}

#[test]
fn overlapping_ranges_are_merged() {
    let (_root, server, _) = range_fixture("files-overlap", None);
    let data = thousand();
    for value in ["bytes=0-50,40-99", "bytes=40-99,0-50", "bytes=0-49,50-99"] {
        let r = ranged(&server, &format!("Range: {value}\r\n"));
        assert_eq!(r.status, 206, "{value}: {}", show(&r));
        let ct = r.header("content-type").unwrap();
        if ct.starts_with("multipart/byteranges") {
            let parts = parse_multipart(&r.body, &boundary(ct));
            assert_eq!(parts.len(), 1, "{value}");
            assert_eq!(parts[0].content_range, "bytes 0-99/1000");
            assert_eq!(parts[0].data, &data[..100]);
        } else {
            assert_partial(&r, 0, 99);
        }
    }
}

#[test]
fn more_ranges_than_max_ranges_is_the_whole_file() {
    let (_root, server, _) = range_fixture("files-max-ranges", Some(3));
    let r = ranged(&server, "Range: bytes=0-0,2-2,4-4\r\n");
    assert_eq!(r.status, 206, "{}", show(&r));
    let parts = parse_multipart(&r.body, &boundary(r.header("content-type").unwrap()));
    assert_eq!(parts.len(), 3);
    assert_full(&ranged(&server, "Range: bytes=0-0,2-2,4-4,6-6\r\n"));
    // Counted before merging.
    assert_full(&ranged(&server, "Range: bytes=0-1,0-1,0-1,0-1\r\n"));
}

#[test]
fn malformed_ranges_are_ignored() {
    let (_root, server, _) = range_fixture("files-bad-range", None);
    for value in [
        "bytes=abc",
        "bits=0-1",
        "bytes=5-1",
        "bytes=0-1;2-3",
        "bytes=",
        "bytes=--1",
        "bytes=+1-2",
        "bytes 0-1",
    ] {
        let r = ranged(&server, &format!("Range: {value}\r\n"));
        assert_full(&r);
    }
    // Two Range fields cannot be combined.
    assert_full(&ranged(&server, "Range: bytes=0-1\r\nRange: bytes=5-6\r\n"));
}

// ------------------------------------------------------------ big files

#[test]
fn files_over_4_gib() {
    const LEN: u64 = 5 << 30;
    const MARK_AT: u64 = (4 << 30) + 16;
    let root = TempDir::new("files-huge");
    let p = root.path().join("huge.bin");
    let f = File::create(&p).unwrap();
    f.set_len(LEN).unwrap();
    f.write_all_at(b"above-4GiB-mark!", MARK_AT).unwrap();
    drop(f);
    let server = TestServer::serve(root.path());

    let r = fetch(&server, "HEAD /huge.bin HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(r.status, 200, "{}", show(&r));
    assert_eq!(r.header("content-length"), Some("5368709120"));

    let r = fetch(
        &server,
        get_with("/huge.bin", "Range: bytes=5368709000-\r\n"),
    );
    assert_eq!(r.status, 206, "{}", show(&r));
    assert_eq!(
        r.header("content-range"),
        Some("bytes 5368709000-5368709119/5368709120")
    );
    assert_eq!(r.header("content-length"), Some("120"));
    assert_eq!(r.body, vec![0u8; 120]);

    // An offset that a 32-bit truncation would turn into 16.
    let r = fetch(
        &server,
        get_with(
            "/huge.bin",
            &format!("Range: bytes={MARK_AT}-{}\r\n", MARK_AT + 15),
        ),
    );
    assert_eq!(r.status, 206, "{}", show(&r));
    assert_eq!(r.body, b"above-4GiB-mark!");

    let r = fetch(&server, get_with("/huge.bin", "Range: bytes=-4\r\n"));
    assert_eq!(
        r.header("content-range"),
        Some("bytes 5368709116-5368709119/5368709120")
    );
    let r = fetch(
        &server,
        get_with("/huge.bin", "Range: bytes=5368709120-\r\n"),
    );
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */5368709120"));

    let page = get_path(&server, "/").text();
    assert!(row(&page, "huge.bin").contains(">5.0 GiB<"), "{page}");
}

#[test]
fn modification_time_far_in_the_future() {
    let root = TempDir::new("files-future");
    let p = root.file("future.txt", "from the future\n");
    // 2200-01-01 00:00:00 UTC.
    let t = UNIX_EPOCH + Duration::from_secs(7_258_118_400);
    set_mtime(&p, t);
    assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), t);
    let server = TestServer::serve(root.path());

    let r = get_path(&server, "/future.txt");
    assert_ok(&r, b"from the future\n");
    let lm = r.header("last-modified").unwrap();
    assert!(is_imf_fixdate(lm), "{lm}");
    assert_eq!(lm, "Wed, 01 Jan 2200 00:00:00 GMT");
    assert_eq!(httpdate::parse_http_date(lm).unwrap(), t);

    // Its own Last-Modified, echoed back, is a date after the server's
    // clock: invalid, so the field is ignored (RFC 9110 §13.1.3); the
    // entity tag still validates the copy.
    let r = conditional_on(
        &server,
        "/future.txt",
        &format!("If-Modified-Since: {lm}\r\n"),
    );
    assert_eq!(r.status, 200, "{}", show(&r));
    let etag = r.header("etag").unwrap().to_string();
    let r = conditional_on(
        &server,
        "/future.txt",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(r.status, 304, "{}", show(&r));

    let page = get_path(&server, "/").text();
    assert!(
        row(&page, "future.txt").contains("2200-01-01 00:00"),
        "{page}"
    );
    // The server is still fine.
    assert_ok(&get_path(&server, "/future.txt"), b"from the future\n");
}

fn conditional_on(server: &TestServer, path: &str, fields: &str) -> Response {
    fetch(server, get_with(path, fields))
}

#[test]
fn memory_does_not_grow_with_file_size() {
    const LEN: u64 = 64 << 20;
    let root = TempDir::new("files-memory");
    File::create(root.path().join("big.bin"))
        .unwrap()
        .set_len(LEN)
        .unwrap();
    let server = TestServer::serve(root.path());
    // Warm up: one small exchange, so lazily allocated state exists.
    assert_eq!(get_path(&server, "/missing").status, 404);

    let before = rss();
    let deadline = Instant::now() + Duration::from_secs(15);
    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    let mut reader = BufReader::with_capacity(1 << 16, stream);
    reader
        .get_mut()
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "HTTP/1.1 200 OK\r\n");
    let mut len = None;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = Some(v.trim().parse::<u64>().unwrap());
        }
    }
    assert_eq!(len, Some(LEN));
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    let mut peak = before;
    while got < LEN {
        let n = reader.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {got} bytes");
        got += n as u64;
        if got % (8 << 20) < n as u64 {
            peak = peak.max(rss());
        }
        assert!(Instant::now() < deadline, "too slow: {got} bytes");
    }
    assert_eq!(got, LEN);
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{} bytes past Content-Length", rest.len());
    let after = rss().max(peak);
    let growth = after.saturating_sub(before);
    assert!(
        growth < 32 << 20,
        "RSS grew by {} MiB while serving 64 MiB",
        growth >> 20
    );
}

/// Large files go out in `sendfile` calls cut at the connection's segment
/// boundaries, with the spans of a file joined at the front of the queue:
/// whatever the cuts, a client with the smallest receive buffer the kernel
/// allows, reading as that buffer fills, gets every byte once and in
/// order: a whole file, ranges that start and end off page boundaries,
/// and a second response pipelined behind the first.
#[test]
fn large_files_arrive_whole_through_a_small_receive_buffer() {
    const LEN: usize = 3 * (256 << 10) + 4099;
    let data: Vec<u8> = (0..LEN)
        .map(|i| (i as u8).wrapping_mul(13) ^ (i >> 12) as u8)
        .collect();
    let root = TempDir::new("files-small-rcvbuf");
    root.file("big.bin", &data);
    let server = TestServer::serve(root.path());
    let connect = || {
        use rustix::net::{AddressFamily, SocketType, connect, socket, sockopt};
        let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        // The kernel rounds this up to its minimum, some 2 KiB.
        sockopt::set_socket_recv_buffer_size(&fd, 1).unwrap();
        connect(&fd, &server.addr).unwrap();
        Client::over(TcpStream::from(fd))
    };

    let mut c = connect();
    c.send(
        b"GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n\
          GET /big.bin HTTP/1.1\r\nHost: test\r\nRange: bytes=4095-700000\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(r.body == data, "the whole file differs");
    let r = c.read_response();
    assert_eq!(r.status, 206);
    assert!(r.body == data[4095..=700_000], "the range differs");

    // A range to the end, from an offset just past a page boundary.
    let r = connect().request("GET /big.bin HTTP/1.1\r\nHost: test\r\nRange: bytes=8193-\r\n\r\n");
    assert_eq!(r.status, 206);
    assert!(r.body == data[8193..], "the range to the end differs");
}

// ---------------------------------------------------------------- HEAD

#[test]
fn head_has_the_fields_of_get_and_no_body() {
    let root = TempDir::new("files-head");
    let p = root.file("a.txt", A_TXT);
    set_mtime(&p, at(KNOWN_DATE));
    root.file("d/x.txt", "x");
    let server = TestServer::serve(root.path());
    for path in ["/a.txt", "/d/", "/missing"] {
        let full = get_path(&server, path);
        let mut c = server.connect();
        let head = c.request(format!("HEAD {path} HTTP/1.1\r\nHost: test\r\n\r\n"));
        assert!(head.body.is_empty());
        let without_date = |r: &Response| {
            r.headers
                .iter()
                .filter(|(n, _)| n != "date")
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(head.status, full.status, "{path}");
        assert_eq!(without_date(&head), without_date(&full), "{path}");
        assert!(head.header("date").is_some_and(is_imf_fixdate));
        // Nothing follows the head: the next response on the connection is
        // well framed.
        assert_ok(&c.request(get("/a.txt")), A_TXT);
    }
    // HEAD with a range: the 206 fields, no body.
    let mut c = server.connect();
    let r = c.request("HEAD /a.txt HTTP/1.1\r\nHost: test\r\nRange: bytes=0-3\r\n\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 0-3/17"));
    assert_eq!(r.header("content-length"), Some("4"));
    assert_ok(&c.request(get("/a.txt")), A_TXT);
}

/// A file of `len` bytes whose every byte depends on its offset.
fn numbered(len: usize, salt: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(salt) >> 7) as u8)
        .collect()
}

/// What one pipelined request must get.
enum Want<'a> {
    Body(u16, &'a [u8]),
    Empty(u16),
    Parts(Vec<&'a [u8]>),
}

/// One connection's pipelined mix of small files, large ones, single and
/// multiple ranges of them, HEADs, 304s and 404s, the whole batch sent at
/// once (so a head often goes out at the end of one write event and its
/// file in the next, and the channel writes again after delivering
/// requests held back): every response is exactly its bytes, and the
/// connection is framed after them.
#[test]
fn pipelined_mixes_of_small_and_large_files_and_ranges_are_exact() {
    let root = TempDir::new("lead-mix");
    let small = numbered(300, 1);
    let mid = numbered(600_000, 2);
    let large = numbered(3_300_007, 3);
    for (name, data) in [("s.bin", &small), ("m.bin", &mid), ("l.bin", &large)] {
        let p = root.file(name, data);
        set_mtime(&p, at(KNOWN_DATE));
    }
    let server = TestServer::start(config(&root));
    let mut reqs: Vec<(String, &str, Want)> = Vec::new();
    for round in 0..4usize {
        for i in 0..(3 + round * 7) {
            reqs.push((get("/s.bin"), "GET", Want::Body(200, &small)));
            if i % 5 == 0 {
                reqs.push((get("/nope"), "GET", Want::Empty(404)));
            }
        }
        reqs.push((get("/l.bin"), "GET", Want::Body(200, &large)));
        reqs.push((
            "HEAD /l.bin HTTP/1.1\r\nHost: test\r\n\r\n".into(),
            "HEAD",
            Want::Empty(200),
        ));
        reqs.push((
            get_with("/l.bin", &format!("If-Modified-Since: {KNOWN_DATE}\r\n")),
            "GET",
            Want::Empty(304),
        ));
        let (a, b) = (1000 * round + 7, 200_000 + 300_000 * round);
        reqs.push((
            get_with("/l.bin", &format!("Range: bytes={a}-{b}\r\n")),
            "GET",
            Want::Body(206, &large[a..=b]),
        ));
        reqs.push((get("/m.bin"), "GET", Want::Body(200, &mid)));
        reqs.push((
            get_with("/m.bin", "Range: bytes=-70000\r\n"),
            "GET",
            Want::Body(206, &mid[mid.len() - 70_000..]),
        ));
        reqs.push((
            get_with("/l.bin", "Range: bytes=0-99,100000-1300000,3000000-\r\n"),
            "GET",
            Want::Parts(vec![
                &large[..100],
                &large[100_000..=1_300_000],
                &large[3_000_000..],
            ]),
        ));
        reqs.push((get("/s.bin"), "GET", Want::Body(200, &small)));
    }
    let batch: String = reqs.iter().map(|(r, _, _)| r.as_str()).collect();
    let mut c = server.connect();
    let mut writer = c.stream().try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(batch.as_bytes()).unwrap());
    // Read late and slowly at first, so the socket fills.
    std::thread::sleep(Duration::from_millis(50));
    for (n, (raw, method, want)) in reqs.iter().enumerate() {
        if n < 20 {
            std::thread::sleep(Duration::from_millis(2));
        }
        let r = c.read_response_to(method).unwrap();
        let what = format!("request {n}: {}", raw.lines().next().unwrap());
        match want {
            Want::Body(status, body) => {
                assert_eq!(r.status, *status, "{what}: {}", show(&r));
                assert!(r.body == *body, "{what}: the body differs");
            }
            Want::Empty(status) => assert_eq!(r.status, *status, "{what}: {}", show(&r)),
            Want::Parts(parts) => {
                assert_eq!(r.status, 206, "{what}: {}", show(&r));
                let b = boundary(r.header("content-type").unwrap());
                let got = parse_multipart(&r.body, &b);
                assert_eq!(got.len(), parts.len(), "{what}");
                for (g, w) in got.iter().zip(parts) {
                    assert!(g.data == **w, "{what}: a part differs");
                }
            }
        }
    }
    sender.join().unwrap();
    let probe = c.request("HEAD /no-such-probe-file HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(probe.status, 404, "framing probe");
}
