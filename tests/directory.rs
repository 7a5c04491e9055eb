//! Serving a directory as its users expect (issue 12), each rule tried
//! over a real socket: added headers and CORS, precompressed copies chosen
//! by `Accept-Encoding`, listings as JSON and sorted, single-page apps and
//! a custom not-found page, Basic authentication, and a dual-stack bind.

mod common;

use std::os::unix::fs::symlink;
use std::time::{Duration, SystemTime};

use asynchat::http::Config;
use asynchat::http::auth::Credentials;
use common::*;

fn config(root: &TempDir) -> Config {
    Config::new(root.path()).unwrap()
}

/// Requests that reach every kind of response: a file, a range, a
/// conditional, a listing, a missing file, a refused method, a bad head.
fn every_kind(server: &TestServer) -> Vec<(&'static str, Response)> {
    let mut c = server.connect();
    let etag = c.request(get("/a.txt")).header("etag").unwrap().to_string();
    vec![
        ("200", c.request(get("/a.txt"))),
        ("206", c.request(get_with("/a.txt", "Range: bytes=0-0\r\n"))),
        (
            "304",
            c.request(get_with("/a.txt", &format!("If-None-Match: {etag}\r\n"))),
        ),
        ("listing", c.request(get("/d/"))),
        ("404", c.request(get("/missing"))),
        (
            "405",
            c.request("DELETE /a.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
        ),
        (
            "400",
            server
                .connect()
                .request("GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        ),
    ]
}

fn site(tag: &str) -> TempDir {
    let root = a_txt_root(tag);
    root.file("d/x.txt", "x");
    root
}

#[test]
fn added_headers_are_on_every_response() {
    let root = site("dir-headers");
    let cfg = config(&root)
        .with_header("Cache-Control: no-store")
        .unwrap()
        .with_header("X-Frame-Options:DENY")
        .unwrap();
    let server = TestServer::start(cfg);
    for (kind, r) in every_kind(&server) {
        assert_eq!(r.header("cache-control"), Some("no-store"), "{kind}: {r:?}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{kind}");
        assert_eq!(r.header("access-control-allow-origin"), None, "{kind}");
    }
}

#[test]
fn a_header_that_is_not_a_field_or_is_computed_is_refused() {
    let root = site("dir-bad-headers");
    for spec in [
        "No colon",
        "Bad Name: x",
        ": empty name",
        "X-A: a\rb",
        "X-A: a\nb",
        "X-A: a\0b",
        "Content-Length: 5",
        "content-range: bytes 0-0/1",
        "Transfer-Encoding: chunked",
        "Connection: close",
        "DATE: today",
    ] {
        assert!(config(&root).with_header(spec).is_err(), "{spec:?} taken");
    }
    // At start-up: one line, exit 1.
    for spec in ["Bad Name: x", "Date: today", "X-A: a\rb"] {
        let (status, out, err) = run_binary(&[path_str(root.path()), "-p", "0", "-H", spec]);
        assert_eq!(status.code(), Some(1), "{spec:?}: {out} {err}");
        assert_eq!(err.lines().count(), 1, "{spec:?}: {err}");
        assert!(err.contains("--header"), "{err}");
    }
}

#[test]
fn cors_allows_every_origin_and_answers_preflights() {
    let root = site("dir-cors");
    let mut cfg = config(&root);
    cfg.cors = true;
    let server = TestServer::start(cfg);
    for (kind, r) in every_kind(&server) {
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("*"),
            "{kind}: {r:?}"
        );
    }
    let preflight = |fields: &str| {
        server.connect().request(format!(
            "OPTIONS /a.txt HTTP/1.1\r\nHost: a\r\nOrigin: http://other.example\r\n\
             Access-Control-Request-Method: GET\r\n{fields}\r\n"
        ))
    };
    let r = preflight("Access-Control-Request-Headers: X-Custom, content-type\r\n");
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("X-Custom, content-type")
    );
    assert_eq!(r.header("access-control-max-age"), Some("86400"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.body.is_empty());
    // Several field lines are one list: every header asked for is allowed.
    let r = preflight(
        "Access-Control-Request-Headers: x-one\r\nAccess-Control-Request-Headers: x-two\r\n",
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("x-one, x-two")
    );
    // Empty list elements are ignored (RFC 9110 §5.6.1).
    let r = preflight(
        "Access-Control-Request-Headers: \r\nAccess-Control-Request-Headers: ,, x-b , \r\n",
    );
    assert_eq!(r.header("access-control-allow-headers"), Some("x-b"));
    // Requested headers that are not tokens are not echoed.
    let r = preflight("Access-Control-Request-Headers: a b, <c>\r\n");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-headers"), None);
    // Not a preflight (no Origin): OPTIONS is what it always was.
    let plain = server
        .connect()
        .request("OPTIONS /a.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_ne!(plain.status, 204, "{plain:?}");
}

#[test]
fn without_cors_a_preflight_is_not_answered_as_one() {
    let root = site("dir-no-cors");
    let server = TestServer::serve(root.path());
    let r = server.connect().request(
        "OPTIONS /a.txt HTTP/1.1\r\nHost: a\r\nOrigin: http://o\r\n\
         Access-Control-Request-Method: GET\r\n\r\n",
    );
    assert_ne!(r.status, 204, "{r:?}");
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("access-control-allow-methods"), None);
}

// ------------------------------------------------------------------------
// Precompressed copies
// ------------------------------------------------------------------------

const APP: &str = "console.log('the original');\n";

/// `app.js` with `.br` and `.gz` copies (their bytes only need to differ;
/// the server never decodes them), and `plain.js` with none.
fn compressed_site(tag: &str) -> TempDir {
    let root = TempDir::new(tag);
    root.file("app.js", APP);
    root.file("app.js.br", "BR-BYTES-OF-APP");
    root.file("app.js.gz", "GZ-BYTES-OF-APP!!");
    root.file("plain.js", APP);
    root
}

fn get_enc(c: &mut Client, path: &str, accept: &str, more: &str) -> Response {
    c.request(get_with(
        path,
        &format!("Accept-Encoding: {accept}\r\n{more}"),
    ))
}

#[test]
fn a_precompressed_copy_is_chosen_by_accept_encoding() {
    let root = compressed_site("dir-precompressed");
    let server = TestServer::serve(root.path());
    let mut c = server.connect();
    let cases: &[(&str, Option<&str>)] = &[
        ("gzip, deflate, br", Some("br")),
        ("gzip", Some("gzip")),
        ("br;q=0, gzip", Some("gzip")),
        ("gzip;q=1, br;q=0.5", Some("gzip")),
        ("br;q=0.5, gzip;q=0.5", Some("br")),
        ("*", Some("br")),
        ("*;q=0.1, br;q=0", Some("gzip")),
        ("identity", None),
        ("deflate", None),
        ("", None),
        ("gzip;q=0, br;q=0", None),
    ];
    let want_body = |coding: Option<&str>| match coding {
        Some("br") => "BR-BYTES-OF-APP",
        Some("gzip") => "GZ-BYTES-OF-APP!!",
        _ => APP,
    };
    for &(accept, coding) in cases {
        let r = get_enc(&mut c, "/app.js", accept, "");
        assert_eq!(r.status, 200, "{accept:?}");
        assert_eq!(r.header("content-encoding"), coding, "{accept:?}");
        assert_eq!(r.text(), want_body(coding), "{accept:?}");
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{accept:?}");
        assert!(
            r.header("content-type").unwrap().contains("javascript"),
            "{accept:?}: the original's type: {r:?}"
        );
    }
    // No Accept-Encoding at all: the original, still with Vary.
    let r = c.request(get("/app.js"));
    assert_eq!(
        (r.header("content-encoding"), r.text().as_str()),
        (None, APP)
    );
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    // A file without copies varies on nothing.
    let r = get_enc(&mut c, "/plain.js", "br, gzip", "");
    assert_eq!(
        (r.header("content-encoding"), r.header("vary")),
        (None, None)
    );
}

#[test]
fn each_representation_has_its_own_validator_and_ranges_and_conditionals() {
    let root = compressed_site("dir-precompressed-validators");
    let server = TestServer::serve(root.path());
    let mut c = server.connect();
    let br = get_enc(&mut c, "/app.js", "br", "");
    let gz = get_enc(&mut c, "/app.js", "gzip", "");
    let plain = get_enc(&mut c, "/app.js", "identity", "");
    let tags: Vec<&str> = [&br, &gz, &plain]
        .iter()
        .map(|r| r.header("etag").unwrap())
        .collect();
    assert_ne!(tags[0], tags[1]);
    assert_ne!(tags[0], tags[2]);
    assert_ne!(tags[1], tags[2]);
    // A range is of the compressed bytes.
    let r = get_enc(&mut c, "/app.js", "br", "Range: bytes=3-7\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.text(), "BYTES");
    assert_eq!(r.header("content-range"), Some("bytes 3-7/15"));
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    // A conditional matches only its own representation's tag.
    let r = get_enc(
        &mut c,
        "/app.js",
        "br",
        &format!("If-None-Match: {}\r\n", tags[0]),
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("etag"), Some(tags[0]));
    let r = get_enc(
        &mut c,
        "/app.js",
        "gzip",
        &format!("If-None-Match: {}\r\n", tags[0]),
    );
    assert_eq!(r.status, 200, "the gzip copy is not the br copy");
    assert_eq!(r.text(), "GZ-BYTES-OF-APP!!");
    // If-Range with another representation's tag: the whole of this one.
    let r = get_enc(
        &mut c,
        "/app.js",
        "br",
        &format!("Range: bytes=0-1\r\nIf-Range: {}\r\n", tags[2]),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "BR-BYTES-OF-APP"));
    // HEAD: the copy's length, no body.
    c.send("HEAD /app.js HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n");
    let r = c.read_response_to("HEAD").unwrap();
    assert_eq!(r.header("content-length"), Some("17"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.body.is_empty());
}

#[test]
fn a_copy_that_is_older_outside_the_root_or_not_a_file_is_not_served() {
    let tmp = TempDir::new("dir-precompressed-bad");
    tmp.file("outside/secret.gz", "OUTSIDE");
    let root = tmp.dir("root");
    let write = |rel: &str, body: &str| std::fs::write(root.join(rel), body).unwrap();
    // old.js.gz is older than old.js.
    write("old.js.gz", "STALE");
    write("old.js", APP);
    let past = SystemTime::now() - Duration::from_secs(3600);
    let f = std::fs::File::options()
        .write(true)
        .open(root.join("old.js.gz"))
        .unwrap();
    f.set_modified(past).unwrap();
    // link.js.gz leads out of the root.
    write("link.js", APP);
    symlink(
        tmp.path().join("outside/secret.gz"),
        root.join("link.js.gz"),
    )
    .unwrap();
    // dir.js.br is a directory.
    write("dir.js", APP);
    std::fs::create_dir(root.join("dir.js.br")).unwrap();
    // inside.js.gz is a symlink that stays inside: it works.
    write("inside.js", APP);
    write("real.gz", "INSIDE-GZ");
    symlink("real.gz", root.join("inside.js.gz")).unwrap();
    let server = TestServer::serve(&root);
    let mut c = server.connect();
    for path in ["/old.js", "/link.js", "/dir.js"] {
        let r = get_enc(&mut c, path, "gzip, br", "");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.text(), APP, "{path}");
        assert_eq!(r.header("content-encoding"), None, "{path}");
    }
    let r = get_enc(&mut c, "/inside.js", "gzip", "");
    assert_eq!(
        (r.header("content-encoding"), r.text().as_str()),
        (Some("gzip"), "INSIDE-GZ")
    );
}

#[test]
fn precompressed_copies_can_be_turned_off() {
    let root = compressed_site("dir-precompressed-off");
    let mut cfg = config(&root);
    cfg.precompressed = false;
    let server = TestServer::start(cfg);
    let r = get_enc(&mut server.connect(), "/app.js", "br, gzip", "");
    assert_eq!((r.text().as_str(), r.header("vary")), (APP, None));
    assert_eq!(r.header("content-encoding"), None);
    // The copy itself is still a file like any other.
    let r = server.connect().request(get("/app.js.gz"));
    assert_eq!(r.text(), "GZ-BYTES-OF-APP!!");
}

/// `curl --compressed` gets the gzip copy and prints the original bytes.
#[test]
fn curl_compressed_gets_the_copy_and_prints_the_original() {
    use std::process::Command;
    if Command::new("curl").arg("--version").output().is_err()
        || Command::new("gzip").arg("--version").output().is_err()
    {
        eprintln!("SKIPPED: curl or gzip not installed");
        return;
    }
    let root = TempDir::new("dir-curl-compressed");
    let original = "let greeting = 'hello';\n".repeat(200);
    let p = root.file("app.js", &original);
    let ok = Command::new("gzip").arg("-k").arg(&p).status().unwrap();
    assert!(ok.success());
    let server = TestServer::serve(root.path());
    let url = format!("http://{}/app.js", server.addr);
    let out = Command::new("curl")
        .args(["-sS", "--compressed", "-D", "-", "--max-time", "10", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    assert_eq!(body, original);
    let gz_len = std::fs::metadata(root.path().join("app.js.gz"))
        .unwrap()
        .len();
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {gz_len}")),
        "{head}"
    );
}

// ------------------------------------------------------------------------
// Listings for scripts and people
// ------------------------------------------------------------------------

fn listing_site(tag: &str) -> TempDir {
    let root = TempDir::new(tag);
    root.file("file2.txt", "x".repeat(300));
    root.file("file10.txt", "x".repeat(10));
    root.file("B.txt", "x".repeat(2000));
    root.file("a \"q\" <&>.txt", "x");
    root.dir("sub");
    symlink("file2.txt", root.path().join("link")).unwrap();
    root
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

fn names(doc: &serde_json::Value) -> Vec<String> {
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_listing_is_json_for_format_json_or_accept_json() {
    let root = listing_site("dir-json");
    let server = TestServer::serve(root.path());
    let mut c = server.connect();
    for r in [
        c.request(get("/?format=json")),
        c.request(get_with("/", "Accept: application/json\r\n")),
        c.request(get_with(
            "/",
            "Accept: application/json, text/plain, */*\r\n",
        )),
    ] {
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("vary"), Some("Accept"));
        let doc = json(&r);
        assert_eq!(doc["path"], "/");
        assert_eq!(
            names(&doc),
            [
                "sub",
                "a \"q\" <&>.txt",
                "B.txt",
                "file2.txt",
                "file10.txt",
                "link"
            ]
        );
        let entries = doc["entries"].as_array().unwrap();
        assert_eq!(entries[0]["type"], "directory");
        assert_eq!(entries[0]["size"], serde_json::Value::Null);
        assert_eq!(entries[0]["href"], "sub/");
        assert_eq!(entries[1]["href"], "a%20%22q%22%20%3C%26%3E.txt");
        assert_eq!(entries[2]["size"], 2000);
        assert_eq!(entries[5]["type"], "symlink");
        assert_eq!(entries[5]["target"], "file");
        assert_eq!(entries[5]["size"], 300);
        let modified = entries[2]["modified"].as_str().unwrap();
        assert!(
            modified.len() == 20 && modified.ends_with('Z') && modified.as_bytes()[10] == b'T',
            "RFC 3339: {modified}"
        );
        assert_eq!(doc["omitted"], 0);
    }
    // A browser's Accept gets HTML.
    let r = c.request(get_with(
        "/",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n",
    ));
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(r.header("vary"), Some("Accept"));
    // An href in the JSON resolves to the file.
    let href = "a%20%22q%22%20%3C%26%3E.txt";
    assert_eq!(c.request(get(&format!("/{href}"))).text(), "x");
}

#[test]
fn a_listing_sorts_by_name_size_and_time_with_directories_first() {
    let root = listing_site("dir-sort");
    let old = SystemTime::now() - Duration::from_secs(7200);
    let f = std::fs::File::options()
        .write(true)
        .open(root.path().join("file10.txt"))
        .unwrap();
    f.set_modified(old).unwrap();
    let server = TestServer::serve(root.path());
    let mut c = server.connect();
    let order =
        |c: &mut Client, q: &str| names(&json(&c.request(get(&format!("/?format=json&{q}")))));
    assert_eq!(
        order(&mut c, "sort=name&order=desc"),
        [
            "sub",
            "link",
            "file10.txt",
            "file2.txt",
            "B.txt",
            "a \"q\" <&>.txt"
        ]
    );
    assert_eq!(
        order(&mut c, "sort=size&order=desc"),
        // Equal sizes (the link is its target's) go by name, in the order
        // asked for.
        [
            "sub",
            "B.txt",
            "link",
            "file2.txt",
            "file10.txt",
            "a \"q\" <&>.txt"
        ]
    );
    let by_time = order(&mut c, "sort=mtime&order=asc");
    assert_eq!(by_time[0], "sub");
    assert_eq!(by_time[1], "file10.txt", "the oldest first: {by_time:?}");
    // Bad values are 400; unknown keys are ignored.
    for q in ["sort=colour", "order=up", "format=xml", "sort="] {
        let r = c.request(get(&format!("/?{q}")));
        assert_eq!(r.status, 400, "{q}");
    }
    assert_eq!(c.request(get("/?utm_source=x")).status, 200);
    // The HTML page's headers link to the sorts and mark the active one.
    let html = c.request(get("/?sort=size&order=desc")).text();
    assert!(html.contains("aria-sort=\"descending\""), "{html}");
    assert!(html.contains("href=\"?sort=size&amp;order=asc\""), "{html}");
    assert!(html.contains("href=\"?sort=name&amp;order=asc\""), "{html}");
    assert!(html.contains("rel=\"nofollow\""), "{html}");
    // Its rows are in the same order: the largest file first.
    let at = |name: &str| {
        html.find(&format!(">{name}</a>"))
            .unwrap_or_else(|| panic!("{name}: {html}"))
    };
    assert!(at("sub/") < at("B.txt"), "{html}");
    assert!(at("B.txt") < at("file2.txt"), "{html}");
    assert!(at("file2.txt") < at("file10.txt"), "{html}");
}

// ------------------------------------------------------------------------
// Single-page apps and a custom not-found page
// ------------------------------------------------------------------------

#[test]
fn a_single_page_app_gets_its_index_for_routes_but_not_for_files() {
    let root = TempDir::new("dir-spa");
    root.file("index.html", "<p>app</p>");
    root.file("real.txt", "real");
    let mut cfg = config(&root);
    cfg.spa = true;
    let server = TestServer::start(cfg);
    let mut c = server.connect();
    for route in ["/users/42", "/settings", "/a/b/c/"] {
        let r = c.request(get(route));
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "<p>app</p>"),
            "{route}"
        );
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    c.send("HEAD /users/7 HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.read_response_to("HEAD").unwrap();
    assert_eq!(r.status, 200);
    // A file's name, or a hidden path, is not a route.
    for missing in [
        "/app.js",
        "/img/logo.png",
        "/v1.2",
        "/.git/config",
        "/.env/x",
    ] {
        assert_eq!(c.request(get(missing)).status, 404, "{missing}");
    }
    assert_eq!(c.request(get("/real.txt")).text(), "real");
    // Without --spa, a route is a 404.
    let server = TestServer::serve(root.path());
    assert_eq!(server.connect().request(get("/users/42")).status, 404);
}

#[test]
fn a_custom_not_found_page_is_every_404_and_follows_its_file() {
    let tmp = TempDir::new("dir-404");
    let root = tmp.dir("root");
    let page = tmp.file("missing.html", "<h1>Not here</h1>");
    let cfg = Config::new(&root)
        .unwrap()
        .with_not_found_page(&page)
        .unwrap();
    let server = TestServer::start(cfg);
    let mut c = server.connect();
    let r = c.request(get("/nope"));
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "<h1>Not here</h1>");
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    c.send("HEAD /nope HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.read_response_to("HEAD").unwrap();
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    // Changed on disk: the next 404s carry the new page.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&page, "<h1>Moved on</h1>").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = c.request(get("/nope")).text();
        if text == "<h1>Moved on</h1>" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {text:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A missing page is a one-line start-up error.
    assert!(
        Config::new(&root)
            .unwrap()
            .with_not_found_page(tmp.path().join("no.html"))
            .is_err()
    );
    let no = tmp.path().join("no.html");
    let (status, _, err) = run_binary(&[path_str(&root), "-p", "0", "--404", path_str(&no)]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no.html"), "{err}");
}

// ------------------------------------------------------------------------
// Basic authentication
// ------------------------------------------------------------------------

fn basic(user_pass: &str) -> String {
    use base64::Engine as _;
    format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

#[test]
fn basic_authentication_guards_every_request() {
    let root = site("dir-auth");
    for spec in [
        "alice:s3cret",
        // printf %s s3cret | sha256sum
        "alice:sha256:1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0",
    ] {
        let mut cfg = config(&root);
        cfg.auth = Some(Credentials::parse(spec).unwrap());
        cfg.status_path = Some("/.status".into());
        let server = TestServer::start(cfg);
        let mut c = server.connect();
        for target in ["/a.txt", "/d/", "/missing", "/.status"] {
            for fields in [
                String::new(),
                basic("alice:wrong"),
                basic("bob:s3cret"),
                basic("alice:s3cret") + &basic("alice:s3cret"),
                "Authorization: Bearer x\r\n".to_string(),
                "Authorization: Basic !!!\r\n".to_string(),
            ] {
                let r = c.request(get_with(target, &fields));
                assert_eq!(r.status, 401, "{spec} {target} {fields:?}");
                assert_eq!(
                    r.header("www-authenticate"),
                    Some("Basic realm=\"asynchat-httpd\", charset=\"UTF-8\""),
                );
            }
        }
        let ok = basic("alice:s3cret");
        assert_eq!(c.request(get_with("/a.txt", &ok)).status, 200, "{spec}");
        assert_eq!(c.request(get_with("/missing", &ok)).status, 404);
        assert_eq!(c.request(get_with("/.status", &ok)).status, 200);
    }
}

#[test]
fn auth_on_a_public_address_warns_and_bad_specs_are_refused() {
    for spec in ["nocolon", ":pw", "u:", "u:sha256:abc", "u:sha256:zz"] {
        assert!(Credentials::parse(spec).is_err(), "{spec:?} taken");
    }
    let root = site("dir-auth-warn");
    let httpd = Httpd::start(&[path_str(root.path()), "-b", "0.0.0.0", "--auth", "u:p"]);
    let warning = httpd.stderr.recv_timeout(START_PATIENCE).unwrap();
    assert!(
        warning.contains("clear text") && warning.contains("TLS"),
        "{warning}"
    );
    drop(httpd);
    let (status, _, err) = run_binary(&[path_str(root.path()), "-p", "0", "--auth", "nocolon"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

// ------------------------------------------------------------------------
// Dual-stack bind
// ------------------------------------------------------------------------

#[test]
fn a_dual_stack_bind_serves_ipv4_and_ipv6_clients() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    }
    let root = site("dir-dual-stack");
    let (mut child, out, _err) = spawn_binary(&[path_str(root.path()), "-b", "::", "-p", "0"], &[]);
    let line = out.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(line.contains("to IPv4 and IPv6 clients"), "{line}");
    let port: u16 = line
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    for addr in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        let mut c = Client::connect(addr.parse().unwrap());
        assert_eq!(c.request(get("/a.txt")).status, 200, "{addr}");
    }
    let _ = child.kill();
    let _ = child.wait();
}
