//! The crawling client (`examples/crawl`): its pure parts by tables, its
//! response walk in memory, and the program against real servers on
//! loopback: asynchat-httpd serving `www/` (the mirror must be the same
//! files, byte for byte), nginx and lighttpd where installed (skipped,
//! loudly, otherwise), and a test server here that answers with every
//! framing the client must read, closes in the middle of pipelines and
//! resets in the middle of a body. `cargo test` builds the example before
//! it runs this file.

mod common;

#[allow(dead_code)]
#[path = "../examples/crawl/crawl.rs"]
mod crawl;
#[allow(dead_code)]
#[path = "../examples/crawl/fetcher.rs"]
mod fetcher;
#[allow(dead_code)]
#[path = "../examples/crawl/links.rs"]
mod links;
#[allow(dead_code)]
#[path = "../examples/crawl/response.rs"]
mod response;
#[allow(dead_code)]
#[path = "../examples/crawl/url.rs"]
mod url;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use asynchat::trace::Trace;
use asynchat::{AsyncChat, Channel};
use common::{PATIENCE, TempDir, TestServer};
use response::{Body, Head, ResponseError};
use url::Url;

// ------------------------------------------------------------ URLs

#[test]
fn urls_are_parsed_with_their_origin() {
    let ok = |host: &str, port, path: &str| {
        Ok(Url {
            host: host.into(),
            port,
            path: path.into(),
        })
    };
    let cases: &[(&str, Result<Url, url::UrlError>)] = &[
        ("http://127.0.0.1:8000/", ok("127.0.0.1", 8000, "/")),
        ("http://127.0.0.1:8000", ok("127.0.0.1", 8000, "/")),
        (
            "HTTP://Example.COM/a/b?c=d#frag",
            ok("example.com", 80, "/a/b?c=d"),
        ),
        ("http://[::1]:8080/x", ok("[::1]", 8080, "/x")),
        ("http://[::1]/x", ok("[::1]", 80, "/x")),
        ("http://h:/x", ok("h", 80, "/x")),
        ("http://h/a b/é", ok("h", 80, "/a%20b/%C3%A9")),
        ("http://h/a/./b/../c", ok("h", 80, "/a/c")),
        ("http://h?q", ok("h", 80, "/?q")),
        ("https://h/", Err(url::UrlError::NotHttp)),
        ("ftp://h/", Err(url::UrlError::NotHttp)),
        ("127.0.0.1:8000/", Err(url::UrlError::NotHttp)),
        ("http:///x", Err(url::UrlError::BadAuthority)),
        ("http://user@h/", Err(url::UrlError::BadAuthority)),
        ("http://h:99999/", Err(url::UrlError::BadAuthority)),
        ("http://h:0/", Err(url::UrlError::BadAuthority)),
        ("http://h:x/", Err(url::UrlError::BadAuthority)),
    ];
    for (s, want) in cases {
        assert_eq!(Url::parse(s), *want, "{s}");
    }
    assert_eq!(Url::parse("http://h:8000/a").unwrap().authority(), "h:8000");
    assert_eq!(Url::parse("http://h:80/a").unwrap().authority(), "h");
}

#[test]
fn links_resolve_as_rfc_3986_section_5_4_says() {
    let base = Url::parse("http://a/b/c/d;p?q").unwrap();
    let cases: &[(&str, Option<&str>)] = &[
        // §5.4.1, normal examples.
        ("g", Some("http://a/b/c/g")),
        ("./g", Some("http://a/b/c/g")),
        ("g/", Some("http://a/b/c/g/")),
        ("/g", Some("http://a/g")),
        ("//g", Some("http://g/")),
        ("?y", Some("http://a/b/c/d;p?y")),
        ("g?y", Some("http://a/b/c/g?y")),
        ("g#s", Some("http://a/b/c/g")),
        ("g?y#s", Some("http://a/b/c/g?y")),
        (";x", Some("http://a/b/c/;x")),
        ("g;x", Some("http://a/b/c/g;x")),
        (".", Some("http://a/b/c/")),
        ("./", Some("http://a/b/c/")),
        ("..", Some("http://a/b/")),
        ("../", Some("http://a/b/")),
        ("../g", Some("http://a/b/g")),
        ("../..", Some("http://a/")),
        ("../../", Some("http://a/")),
        ("../../g", Some("http://a/g")),
        // §5.4.2, abnormal examples.
        ("../../../g", Some("http://a/g")),
        ("../../../../g", Some("http://a/g")),
        ("/./g", Some("http://a/g")),
        ("/../g", Some("http://a/g")),
        ("g.", Some("http://a/b/c/g.")),
        (".g", Some("http://a/b/c/.g")),
        ("g..", Some("http://a/b/c/g..")),
        ("..g", Some("http://a/b/c/..g")),
        ("./../g", Some("http://a/b/g")),
        ("./g/.", Some("http://a/b/c/g/")),
        ("g/./h", Some("http://a/b/c/g/h")),
        ("g/../h", Some("http://a/b/c/h")),
        // What a crawler does not follow, or tidies.
        ("#s", None),
        ("", None),
        ("  g  ", Some("http://a/b/c/g")),
        ("mailto:x@y", None),
        ("javascript:alert(1)", None),
        ("https://a/g", None),
        ("HTTP://A:80/g", Some("http://a/g")),
        ("a file.txt", Some("http://a/b/c/a%20file.txt")),
        ("a%20file.txt", Some("http://a/b/c/a%20file.txt")),
    ];
    for (reference, want) in cases {
        let got = base.join(reference).map(|u| u.to_string());
        assert_eq!(got.as_deref(), *want, "{reference:?}");
    }
}

#[test]
fn a_crawl_covers_its_origin_and_directory() {
    let start = Url::parse("http://h:8000/docs/index.html").unwrap();
    let cases = [
        ("http://h:8000/docs/", true),
        ("http://h:8000/docs/a/b.txt", true),
        ("http://h:8000/docs", false),
        ("http://h:8000/other/", false),
        ("http://h:8001/docs/", false),
        ("http://g:8000/docs/", false),
    ];
    for (u, want) in cases {
        assert_eq!(start.covers(&Url::parse(u).unwrap()), want, "{u}");
    }
}

#[test]
fn each_url_maps_to_a_file_inside_the_output_directory() {
    let cases: &[(&str, Result<&str, ()>)] = &[
        ("/", Ok("index.html")),
        ("/a.txt", Ok("a.txt")),
        ("/files/", Ok("files/index.html")),
        (
            "/files/a%20file%20with%20spaces.txt",
            Ok("files/a file with spaces.txt"),
        ),
        ("/%C3%A9t%C3%A9.txt", Ok("été.txt")),
        ("/list/?sort=name", Ok("list/index.html?sort=name")),
        ("/q?a/b", Ok("q?a%2Fb")),
        ("/%2e%2e/etc/passwd", Err(())),
        ("/a/%2E/b", Err(())),
        ("/a%2Fb", Err(())),
        ("/a%00b", Err(())),
        ("/a//b", Err(())),
    ];
    for (path, want) in cases {
        let u = Url {
            host: "h".into(),
            port: 80,
            path: path.to_string(),
        };
        let got = u.file().map_err(|_| ());
        assert_eq!(got, want.map(PathBuf::from), "{path}");
    }
}

// ------------------------------------------------------------ links

#[test]
fn links_are_the_href_and_src_values_in_document_order() {
    let cases: &[(&str, &[&str])] = &[
        (r#"<a href="a.html">a</a>"#, &["a.html"]),
        (r#"<A HREF='b.html'>"#, &["b.html"]),
        ("<a href=c.html>", &["c.html"]),
        ("<a href = \"d.html\" >", &["d.html"]),
        (r#"<img alt="x" src="logo.svg" width=72>"#, &["logo.svg"]),
        (
            r#"<link rel="stylesheet" href="style.css"><script src="s.js"></script>"#,
            &["style.css", "s.js"],
        ),
        (r#"<a href="x?a=1&amp;b=2">"#, &["x?a=1&b=2"]),
        (r#"<a href="&#47;slash&#x2F;">"#, &["/slash/"]),
        (r#"<a href="a&unknown;b">"#, &["a&unknown;b"]),
        (
            "<a href=\"a.txt\"/><br/><a\nhref=\"b.txt\">",
            &["a.txt", "b.txt"],
        ),
        (
            "<!-- <a href=\"hidden.html\"> --><a href=\"shown.html\">",
            &["shown.html"],
        ),
        (
            "<script>var s = '<a href=\"in-script.html\">';</script><a href=\"after.html\">",
            &["after.html"],
        ),
        ("<style>a[href=\"x\"] { }</style><a href=\"y\">", &["y"]),
        ("<p data-href=\"no\" title='href=\"no\"'>", &[]),
        ("<a hreflang=en href=\"yes\">", &["yes"]),
        ("a < b and <3 <a href=ok>", &["ok"]),
        ("<a href=\"unterminated", &["unterminated"]),
        // A listing's sort links: not followed.
        (r#"<a rel="nofollow" href="?sort=size">"#, &[]),
        (r#"<a href="?sort=size" REL='external NoFollow'>"#, &[]),
        (r#"<a rel="next" href="p2.html">"#, &["p2.html"]),
        (r#"<a rel=nofollow href=x><a href=y>"#, &["y"]),
        ("<a href", &[]),
        ("", &[]),
    ];
    for (html, want) in cases {
        assert_eq!(links::links(html), *want, "{html}");
    }
    // The demo site's front page, as a whole: every link the www test
    // finds with its own scan.
    let index = std::fs::read_to_string(www().join("index.html")).unwrap();
    let found = links::links(&index);
    for l in [
        "logo.svg",
        "style.css",
        "data.json",
        "hello.txt",
        "files/",
        "chat.html",
    ] {
        assert!(found.iter().any(|f| f == l), "{l} not in {found:?}");
    }
}

// ------------------------------------------------------------ responses

#[test]
fn response_heads_are_parsed() {
    let head = |s: &str| response::parse_head(s.as_bytes());
    let h = head(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        (h.status, h.content_length, h.closes, h.is_html()),
        (200, Some(5), false, true)
    );
    let h = head("HTTP/1.0 200 OK\n\n").unwrap();
    assert!(
        h.http10 && h.closes,
        "HTTP/1.0 closes unless it keeps alive"
    );
    let h = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").unwrap();
    assert!(!h.closes);
    let h = head("HTTP/1.1 200 OK\r\nConnection: foo, close\r\n\r\n").unwrap();
    assert!(h.closes);
    let h = head("HTTP/1.1 301 Moved\r\nLocation: /x/\r\n\r\n").unwrap();
    assert_eq!(h.location.as_deref(), Some("/x/"));
    let h = head("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n").unwrap();
    assert_eq!(h.content_length, Some(7));
    let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").unwrap();
    assert_eq!(h.chunked_last, Some(true));
    let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").unwrap();
    assert_eq!(h.chunked_last, Some(false));
    let h = head("HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n").unwrap();
    assert!(h.is_interim());
    assert!(
        !head("HTTP/1.1 101 Switching Protocols\r\n\r\n")
            .unwrap()
            .is_interim()
    );
    let errors: &[(&str, ResponseError)] = &[
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
            ResponseError::BadLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            ResponseError::BadLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
            ResponseError::BadLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            ResponseError::BadLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
            ResponseError::BadLength,
        ),
        ("HTTP/2 200\r\n\r\n", ResponseError::Malformed),
        ("HTTP/1.1 OK\r\n\r\n", ResponseError::Malformed),
        ("garbage\r\n\r\n", ResponseError::Malformed),
        (
            "HTTP/1.1 200 OK\r\nBad Field\r\n\r\n",
            ResponseError::Malformed,
        ),
    ];
    for (h, want) in errors {
        assert_eq!(head(h), Err(want.clone()), "{h:?}");
    }
}

#[test]
fn bodies_are_delimited_as_rfc_9112_section_6_3_says() {
    let h = |status, content_length, chunked_last| Head {
        status,
        content_length,
        chunked_last,
        ..Head::default()
    };
    // (to HEAD?, head, framing)
    let cases: &[(bool, Head, Result<Body, ResponseError>)] = &[
        // 1. HEAD, 1xx, 204 and 304: no body whatever the fields say.
        (true, h(200, Some(100), None), Ok(Body::None)),
        (true, h(200, None, Some(true)), Ok(Body::None)),
        (false, h(100, Some(10), None), Ok(Body::None)),
        (false, h(103, None, None), Ok(Body::None)),
        (false, h(204, Some(5), None), Ok(Body::None)),
        (false, h(304, Some(5), None), Ok(Body::None)),
        (false, h(304, None, Some(true)), Ok(Body::None)),
        // 3. Both: an error, not a guess.
        (
            false,
            h(200, Some(5), Some(true)),
            Err(ResponseError::LengthAndEncoding),
        ),
        // 4. chunked last; another coding last: until the close.
        (false, h(200, None, Some(true)), Ok(Body::Chunked)),
        (false, h(200, None, Some(false)), Ok(Body::UntilClose)),
        // 6. A length.
        (false, h(200, Some(5), None), Ok(Body::Length(5))),
        (false, h(404, Some(9), None), Ok(Body::Length(9))),
        (false, h(200, Some(0), None), Ok(Body::None)),
        // 8. Neither: until the server closes.
        (false, h(200, None, None), Ok(Body::UntilClose)),
        (false, h(500, None, None), Ok(Body::UntilClose)),
    ];
    for (head_request, head, want) in cases {
        assert_eq!(response::framing(*head_request, head), *want, "{head:?}");
    }
}

// ------------------------------------------------------------ in memory

/// A crawl from `start` into `out` and one of its
/// connections on a channel with no socket, traced.
type InMemory = (
    Rc<RefCell<crawl::Crawl>>,
    fetcher::Fetcher,
    Channel,
    Rc<RefCell<Vec<String>>>,
);

fn in_memory(out: &Path, start: &str) -> InMemory {
    let config = crawl::Config {
        start: Url::parse(start).unwrap(),
        outdir: out.to_path_buf(),
        connections: 1,
        pipeline: 8,
        max_size: 1000,
        max_redirects: 5,
        timeout: Duration::from_secs(30),
        max_attempts: 3,
    };
    let c = Rc::new(RefCell::new(crawl::Crawl::new(config)));
    let f = fetcher::Fetcher::new(Rc::clone(&c));
    let mut chan = Channel::new(fetcher::Fetcher::initial_terminator());
    let (trace, lines) = Trace::collect("");
    chan.set_trace(Some(trace));
    (c, f, chan, lines)
}

/// The front page of the in-memory site: links to pages that each come
/// back with another framing.
const FRONT: &str = "<a href=\"length.txt\"></a><a href=\"chunked.txt\"></a>\
                     <a href=\"nocontent\"></a><a href=\"close.txt\"></a>";

/// The responses to the in-memory crawl's requests, pipelined in one
/// stream: the front page, then (in link order) a Content-Length body
/// after a 103, a chunked body with an extension and a trailer, a 204 that
/// claims a length it does not have, and a body with no length at all,
/// read until the close.
fn responses() -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{FRONT}",
        FRONT.len()
    )
    .into_bytes();
    r.extend_from_slice(
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nlength\
          HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          4;ext=1\r\nchun\r\n3\r\nked\r\n0\r\nTrailer: x\r\n\r\n\
          HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n\
          HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close",
    );
    r
}

/// Feeds the responses in reads of `size`, then the end of stream;
/// returns the trace.
fn crawl_in_memory(out: &Path, size: usize) -> (Vec<String>, Rc<RefCell<crawl::Crawl>>) {
    let (c, mut f, mut chan, lines) = in_memory(out, "http://127.0.0.1:1/");
    f.handle_connect(&mut chan);
    let mut requests = Vec::new();
    chan.send(&mut f, &mut requests).unwrap();
    for piece in responses().chunks(size) {
        chan.feed(&mut f, piece);
        chan.send(&mut f, &mut requests).unwrap();
    }
    chan.feed_eof(&mut f);
    let lines = lines.borrow().clone();
    (lines, c)
}

#[test]
fn every_framing_is_walked_and_saved_however_reads_are_split() {
    for size in [usize::MAX, 1, 2, 3, 7, 64] {
        let out = TempDir::new("crawl-memory");
        let (trace, c) = crawl_in_memory(out.path(), size);
        let c = c.borrow();
        assert!(c.is_finished(), "reads of {size}: {trace:#?}");
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let files = tree(out.path());
        let want: BTreeMap<String, Vec<u8>> = [
            ("index.html", FRONT.as_bytes()),
            ("length.txt", b"length"),
            ("chunked.txt", b"chunked"),
            ("nocontent", b""),
            ("close.txt", b"until the close"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
        assert_eq!(files, want, "reads of {size}: {trace:#?}");
    }
}

#[test]
fn a_body_until_the_close_uses_the_none_terminator() {
    let out = TempDir::new("crawl-none");
    let (trace, _) = crawl_in_memory(out.path(), usize::MAX);
    let at = trace
        .iter()
        .position(|l| l == "response 200 OK: no length: body until the server closes")
        .unwrap_or_else(|| panic!("{trace:#?}"));
    assert_eq!(
        trace[at + 1],
        r#"set_terminator "\n" -> none"#,
        "{trace:#?}"
    );
    assert_eq!(
        trace[at + 2],
        "no terminator (none): collect all 15",
        "{trace:#?}"
    );
    assert!(trace.contains(&"end of stream: the body is complete".to_string()));
    // The 204's false length is not read as a body: the next response is
    // found right after its head.
    assert!(
        trace.contains(&"response 204 No Content: no body".to_string()),
        "{trace:#?}"
    );
}

// ------------------------------------------------------------ the program

fn www() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www")
}

fn crawl_binary() -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    path.pop();
    path.push("examples");
    path.push("crawl");
    path
}

/// Every file under `root`, by relative path, with its contents.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The crawl's exit code, stdout and stderr; it must end within a minute.
fn run_crawl(url: &str, out: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(crawl_binary())
        .arg(url)
        .arg(out)
        .args(extra)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the crawl of {url} did not end within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (
        status.code(),
        out_reader.join().unwrap(),
        err_reader.join().unwrap(),
    )
}

/// Checks a mirror of `www/`: every file of it, byte for byte, and nothing
/// else but the pages of directories that have no index file (listings).
fn assert_mirrors_www(mirror: &Path) {
    let site = tree(&www());
    let copy = tree(mirror);
    for (path, bytes) in &site {
        let got = copy
            .get(path)
            .unwrap_or_else(|| panic!("{path} was not mirrored: {:?}", copy.keys()));
        assert!(got == bytes, "{path} differs");
    }
    for path in copy.keys().filter(|p| !site.contains_key(*p)) {
        let dir = Path::new(path).parent().unwrap();
        assert!(
            path.ends_with("index.html")
                && !site.contains_key(&dir.join("index.html").to_string_lossy().into_owned()),
            "{path} is not in www/ nor a listing"
        );
    }
    assert!(
        copy.contains_key("files/index.html"),
        "the listing of files/"
    );
}

#[test]
fn a_crawl_of_our_server_mirrors_www_byte_for_byte() {
    let server = TestServer::serve(&www());
    let out = TempDir::new("crawl-ours");
    let url = format!("http://{}/", server.addr);
    let (code, stdout, stderr) = run_crawl(&url, out.path(), &[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_mirrors_www(out.path());
    let files = tree(&www()).len() + 2; // and the two listings
    assert!(stdout.starts_with(&format!("{files} files, ")), "{stdout}");
    assert!(stdout.contains(", 0 problems"), "{stdout}");
    // One request at a time on one connection gives the same mirror.
    let one = TempDir::new("crawl-ours-1");
    let (code, stdout, _) = run_crawl(&url, one.path(), &["--connections", "1", "--pipeline", "1"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(tree(one.path()), tree(out.path()));
}

// ------------------------------------------------------------ other servers

/// A server binary on a temporary configuration, killed when dropped.
struct Other {
    child: std::process::Child,
    port: u16,
}

impl Drop for Other {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn installed(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the server `spawn` makes for a free port (its stderr to `log`),
/// and waits until it listens. The port is free when picked but not held,
/// so another process may take it first: a server that exits (it could
/// not bind) is started again on another port. A connect that reaches
/// itself (source port = the port, which Linux allows when nothing
/// listens) does not count as the server listening.
fn start_other(log: &Path, spawn: impl Fn(u16) -> std::process::Child) -> Other {
    for _ in 0..5 {
        let port = free_port();
        let mut child = spawn(port);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            let listening = TcpStream::connect(("127.0.0.1", port))
                .is_ok_and(|s| s.local_addr().ok() != s.peer_addr().ok());
            if listening {
                return Other { child, port };
            }
            assert!(Instant::now() < deadline, "port {port} never opened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!(
        "exited five times: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn start_nginx(bin: &Path, tmp: &TempDir) -> Other {
    let dir = tmp.path();
    let mime = if Path::new("/etc/nginx/mime.types").is_file() {
        "include /etc/nginx/mime.types;".to_string()
    } else {
        "types { text/html html; text/css css; image/svg+xml svg; }".to_string()
    };
    let log = dir.join("nginx.out");
    start_other(&log, |port| {
        let conf = format!(
            "master_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log error;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off; {mime}\n\
               client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
               server {{ listen 127.0.0.1:{port}; root {www}; autoindex on; }} }}\n",
            d = dir.display(),
            www = www().display()
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap()
    })
}

fn start_lighttpd(bin: &Path, tmp: &TempDir) -> Other {
    let dir = tmp.path();
    let log = dir.join("lighttpd.out");
    start_other(&log, |port| {
        let conf = format!(
            "server.document-root = \"{www}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n\
             server.errorlog = \"{d}/error.log\"\nindex-file.names = ( \"index.html\" )\n\
             server.modules += ( \"mod_dirlisting\" )\ndir-listing.activate = \"enable\"\n\
             mimetype.assign = ( \".html\" => \"text/html\", \".css\" => \"text/css\", \
             \".svg\" => \"image/svg+xml\", \".txt\" => \"text/plain\", \".json\" => \"application/json\" )\n",
            d = dir.display(),
            www = www().display()
        );
        std::fs::write(dir.join("lighttpd.conf"), conf).unwrap();
        Command::new(bin)
            .arg("-D")
            .arg("-f")
            .arg(dir.join("lighttpd.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap()
    })
}

#[test]
fn a_crawl_of_nginx_mirrors_www() {
    let Some(bin) = installed("nginx") else {
        eprintln!("SKIPPED: nginx not installed");
        return;
    };
    let tmp = TempDir::new("crawl-nginx-conf");
    let nginx = start_nginx(&bin, &tmp);
    let out = TempDir::new("crawl-nginx");
    let url = format!("http://127.0.0.1:{}/", nginx.port);
    let (code, stdout, stderr) = run_crawl(&url, out.path(), &[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    eprintln!("nginx: {stdout}");
    assert_mirrors_www(out.path());
}

#[test]
fn a_crawl_of_lighttpd_mirrors_www() {
    let Some(bin) = installed("lighttpd") else {
        eprintln!("SKIPPED: lighttpd not installed");
        return;
    };
    let tmp = TempDir::new("crawl-lighttpd-conf");
    let lighttpd = start_lighttpd(&bin, &tmp);
    let out = TempDir::new("crawl-lighttpd");
    let url = format!("http://127.0.0.1:{}/", lighttpd.port);
    let (code, stdout, stderr) = run_crawl(&url, out.path(), &[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    eprintln!("lighttpd: {stdout}");
    assert_mirrors_www(out.path());
}

// ------------------------------------------------------------ every framing

/// What the test server does after a response.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    KeepAlive,
    /// Shut down writing, read what is left, close (a lingering close).
    Close,
    /// Close with a reset at once.
    Reset,
}

/// The body each plain page of the test site has.
fn body_of(path: &str) -> String {
    format!("the file at {path}\n").repeat(3)
}

/// The test site: each path answers with another framing or fault.
fn answer(path: &str, attempt: usize) -> (Vec<u8>, Then) {
    let plain = |path: &str| {
        let b = body_of(path);
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
    };
    let front = "<a href=\"length.txt\">x</a> <a href=chunked.txt>x</a> <a href='close.txt'>x</a>\
                 <a href=\"empty.txt\"></a><a href=\"early.txt\"></a><a href=\"nocontent\"></a>\
                 <a href=\"notmodified\"></a><a href=\"gzip.txt\"></a><a href=\"redirect\"></a>\
                 <a href=\"loop-a\"></a><a href=\"chain/0\"></a><a href=\"away\"></a>\
                 <a href=\"big.bin\"></a><a href=\"malformed\"></a><a href=\"missing\"></a>\
                 <a href=\"both\"></a><a href=\"flaky.txt\"></a><a href=\"sub/\"></a>\
                 <a href=\"a%20b.txt\"></a><a href=\"http://elsewhere.invalid/\"></a>";
    let r = match path {
        "/" => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{front}",
            front.len()
        ),
        "/chunked.txt" => {
            let b = body_of(path);
            let (a, z) = b.split_at(10);
            format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                 {:x};name=value\r\n{a}\r\n{:x}\r\n{z}\r\n0\r\nX-Trailer: yes\r\n\r\n",
                a.len(),
                z.len()
            )
        }
        "/close.txt" => {
            let b = body_of(path);
            return (
                format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n{b}").into_bytes(),
                Then::Close,
            );
        }
        "/gzip.txt" => {
            // A coding that is not chunked last: read until the close.
            let b = body_of(path);
            return (
                format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n{b}").into_bytes(),
                Then::Close,
            );
        }
        "/empty.txt" => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_string(),
        "/early.txt" => format!(
            "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n{}",
            plain(path)
        ),
        "/nocontent" => "HTTP/1.1 204 No Content\r\nContent-Length: 12\r\n\r\n".to_string(),
        "/notmodified" => "HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\n\r\n".to_string(),
        "/redirect" => {
            "HTTP/1.1 301 Moved\r\nLocation: /target.txt\r\nContent-Length: 0\r\n\r\n".to_string()
        }
        "/loop-a" => {
            "HTTP/1.1 302 Found\r\nLocation: loop-b\r\nContent-Length: 0\r\n\r\n".to_string()
        }
        "/loop-b" => {
            "HTTP/1.1 302 Found\r\nLocation: /loop-a\r\nContent-Length: 0\r\n\r\n".to_string()
        }
        "/away" => {
            "HTTP/1.1 302 Found\r\nLocation: http://elsewhere.invalid/\r\nContent-Length: 0\r\n\r\n"
                .to_string()
        }
        p if p.starts_with("/chain/") => {
            let n: u32 = p["/chain/".len()..].parse().unwrap_or(0);
            format!(
                "HTTP/1.1 302 Found\r\nLocation: /chain/{}\r\nContent-Length: 0\r\n\r\n",
                n + 1
            )
        }
        "/big.bin" => format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n{}",
            "b".repeat(200_000)
        ),
        "/malformed" => "HTTP/1.1 two hundred OK\r\n\r\n".to_string(),
        "/both" => {
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_string()
        }
        "/flaky.txt" if attempt == 1 => {
            let b = body_of(path);
            return (
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
                    b.len(),
                    &b[..5]
                )
                .into_bytes(),
                Then::Reset,
            );
        }
        "/sub/" => {
            let b = "<a href=\"../length.txt\">up</a><a href=\"deeper.txt\">down</a>";
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )
        }
        "/length.txt" | "/target.txt" | "/flaky.txt" | "/sub/deeper.txt" | "/a%20b.txt" => {
            plain(path)
        }
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n".to_string(),
    };
    (r.into_bytes(), Then::KeepAlive)
}

/// A blocking test server, a thread per connection, that answers at most
/// `per_connection` requests on each connection and then closes it,
/// however many more were pipelined, without saying so.
struct FramingServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<HashMap<String, usize>>>,
    handle: Option<JoinHandle<()>>,
}

impl FramingServer {
    fn start(per_connection: usize) -> FramingServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(HashMap::new()));
        let (s, c, r) = (
            Arc::clone(&stop),
            Arc::clone(&connections),
            Arc::clone(&requests),
        );
        let handle = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !s.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        c.fetch_add(1, Ordering::SeqCst);
                        let r = Arc::clone(&r);
                        std::thread::spawn(move || serve_connection(stream, per_connection, &r));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FramingServer {
            addr,
            stop,
            connections,
            requests,
            handle: Some(handle),
        }
    }
}

impl Drop for FramingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve_connection(
    stream: TcpStream,
    per_connection: usize,
    requests: &Mutex<HashMap<String, usize>>,
) {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    let mut then = Then::Close;
    for _ in 0..per_connection {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_string();
        loop {
            let mut field = String::new();
            if reader.read_line(&mut field).unwrap_or(0) == 0 || field.trim().is_empty() {
                break;
            }
        }
        let attempt = {
            let mut r = requests.lock().unwrap();
            let n = r.entry(path.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let (bytes, t) = answer(&path, attempt);
        if out.write_all(&bytes).is_err() {
            return;
        }
        then = t;
        if then != Then::KeepAlive {
            break;
        }
        then = Then::Close;
    }
    match then {
        Then::Reset => {
            let _ = rustix::net::sockopt::set_socket_linger(&out, Some(Duration::ZERO));
        }
        Then::Close | Then::KeepAlive => {
            let _ = out.shutdown(Shutdown::Write);
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        }
    }
}

#[test]
fn every_framing_fault_and_close_is_handled_by_the_crawl() {
    // Three answers per connection, eight requests pipelined on each: most
    // connections close with requests unanswered.
    let server = FramingServer::start(3);
    let out = TempDir::new("crawl-framings");
    let url = format!("http://{}/", server.addr);
    let (code, stdout, stderr) = run_crawl(
        &url,
        out.path(),
        &[
            "--connections",
            "2",
            "--pipeline",
            "8",
            "--max-size",
            "100000",
        ],
    );
    eprintln!("{stdout}{stderr}");
    assert_eq!(
        code,
        Some(2),
        "problems are reported in the exit status\n{stdout}\n{stderr}"
    );
    let files = tree(out.path());
    let mut want: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (file, path) in [
        ("length.txt", "/length.txt"),
        ("close.txt", "/close.txt"),
        ("gzip.txt", "/gzip.txt"),
        ("early.txt", "/early.txt"),
        ("target.txt", "/target.txt"),
        ("flaky.txt", "/flaky.txt"),
        ("chunked.txt", "/chunked.txt"),
        ("sub/deeper.txt", "/sub/deeper.txt"),
        ("a b.txt", "/a%20b.txt"),
    ] {
        want.insert(file.to_string(), body_of(path).into_bytes());
    }
    want.insert("empty.txt".into(), Vec::new());
    want.insert("nocontent".into(), Vec::new());
    let mut got = files.clone();
    assert!(got.remove("index.html").is_some());
    assert!(got.remove("sub/index.html").is_some());
    assert_eq!(got, want, "{stderr}");
    // Each problem reported, once, by URL.
    let base = format!("http://{}", server.addr);
    for (path, why) in [
        ("/notmodified", "304 Not Modified"),
        (
            "/away",
            "redirect out of the crawl to http://elsewhere.invalid/",
        ),
        ("/chain/5", "more than 5 redirects"),
        ("/big.bin", "body over the 100000-byte limit"),
        ("/malformed", "malformed response head"),
        ("/missing", "404 Not Found"),
        ("/both", "both Content-Length and Transfer-Encoding"),
    ] {
        let line = format!("crawl: {base}{path}: {why}");
        assert_eq!(
            stderr.lines().filter(|l| *l == line).count(),
            1,
            "{line:?} in\n{stderr}"
        );
    }
    assert_eq!(stderr.lines().count(), 7, "{stderr}");
    // The loop ended by itself: each of its URLs asked for once.
    let requests = server.requests.lock().unwrap().clone();
    assert_eq!(requests.get("/loop-a"), Some(&1), "{requests:?}");
    assert_eq!(requests.get("/loop-b"), Some(&1), "{requests:?}");
    assert_eq!(
        requests.get("/flaky.txt"),
        Some(&2),
        "reset, then retried: {requests:?}"
    );
    assert!(
        server.connections.load(Ordering::SeqCst) >= 8,
        "{requests:?}"
    );
    assert!(stdout.contains(", 7 problems"), "{stdout}");
    let retries: u64 = stdout
        .split(" retries")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retries > 0, "{stdout}");
}

#[test]
fn a_server_that_is_not_there_ends_the_crawl_with_a_report() {
    let port = free_port();
    let out = TempDir::new("crawl-refused");
    let (code, stdout, stderr) = run_crawl(&format!("http://127.0.0.1:{port}/"), out.path(), &[]);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("gave up after 3 attempts"), "{stderr}");
    assert!(tree(out.path()).is_empty());
    let (code, _, stderr) = run_crawl("https://127.0.0.1/", out.path(), &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "crawl: https://127.0.0.1/: only http:// URLs can be crawled"
    );
}

// ------------------------------------------------------------ the guide

/// The guide's trace of a body with no length: one request, an HTTP/1.0
/// response without Content-Length in two reads, then the close.
fn guide_trace() -> (Vec<String>, Vec<u8>) {
    use asynchat::trace::Shown;
    let out = TempDir::new("crawl-guide");
    let (_, mut f, mut chan, lines) = in_memory(out.path(), "http://127.0.0.1:8000/notes.txt");
    let trace = chan.tracer().unwrap().clone();
    f.handle_connect(&mut chan);
    let mut wire = Vec::new();
    chan.send(&mut f, &mut wire).unwrap();
    let reads: [&[u8]; 2] = [
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, ",
        b"world\n",
    ];
    for read in reads {
        trace.event(format_args!("read {} bytes {}", read.len(), Shown(read)));
        chan.feed(&mut f, read);
    }
    trace.event(format_args!("read: end of stream"));
    chan.feed_eof(&mut f);
    let saved = std::fs::read(out.path().join("notes.txt")).unwrap();
    let lines = lines.borrow().clone();
    (lines, saved)
}

#[test]
fn the_guides_crawl_trace_is_what_the_client_does() {
    let (got, saved) = guide_trace();
    assert_eq!(saved, b"hello, world\n");
    common::assert_trace_is(&common::guide_block("crawl: until-close"), &got);
}

#[test]
#[ignore = "prints the guide's crawl trace, to paste"]
fn print_the_guides_crawl_trace() {
    println!("{}", guide_trace().0.join("\n"));
}
