//! Uploads (`--upload`) over real sockets: PUT and multipart forms, each
//! answer, every framing, and the promises that nothing half-done is left
//! behind and nothing is stored outside the root. The in-memory tests at
//! the end cut bodies at every offset.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::*;

fn upload_config(root: &TempDir) -> asynchat::http::Config {
    let mut cfg = asynchat::http::Config::new(root.path()).unwrap();
    cfg.upload = true;
    cfg
}

fn put(path: &str, body: &[u8], fields: &str) -> Vec<u8> {
    let mut req = format!(
        "PUT {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n{fields}\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// The names in `dir`, sorted, temporary files included.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// True when `dir` holds a temporary upload file.
fn has_temp(dir: &Path) -> bool {
    names(dir).iter().any(|n| n.starts_with(".upload-"))
}

#[test]
fn without_upload_put_and_post_are_405_and_nothing_is_written() {
    let root = a_txt_root("up-off");
    let server = TestServer::serve(root.path());
    let mut c = server.connect();
    let r = c.request(put("/new.txt", b"abc", ""));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    let r = c.request(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=x\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    assert_eq!(names(root.path()), ["a.txt"]);
}

#[test]
fn put_creates_replaces_and_answers_each_case() {
    let root = a_txt_root("up-put");
    root.dir("inbox");
    root.file("afile", "x");
    let server = TestServer::start(upload_config(&root));
    let mut c = server.connect();
    assert!(!c.request(get("/inbox/")).text().contains("y.txt"));
    let r = c.request(put("/inbox/y.txt", b"first", ""));
    assert_eq!(r.status, 201, "{r:?}");
    // The listing, kept for a second, shows the new file at once.
    assert!(c.request(get("/inbox/")).text().contains("y.txt"));
    assert_eq!(r.header("location"), Some("/inbox/y.txt"));
    assert_eq!(fs::read(root.path().join("inbox/y.txt")).unwrap(), b"first");
    let r = c.request(put("/inbox/y.txt", b"second!", ""));
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(
        r.header("content-length"),
        None,
        "a 204 has no Content-Length"
    );
    assert_eq!(c.request(get("/inbox/y.txt")).body, b"second!");
    // An encoded name is stored decoded, and found by its link.
    let r = c.request(put("/inbox/caf%C3%A9%20menu.txt", b"soup", ""));
    assert_eq!(r.status, 201);
    assert_eq!(r.header("location"), Some("/inbox/caf%C3%A9%20menu.txt"));
    assert!(root.path().join("inbox/café menu.txt").exists());
    // Empty body: an empty file.
    assert_eq!(c.request(put("/inbox/empty", b"", "")).status, 201);
    assert_eq!(fs::read(root.path().join("inbox/empty")).unwrap(), b"");

    let cases: &[(&str, u16)] = &[
        ("/inbox/", 405),        // a directory: curl -T adds the name itself
        ("/inbox", 405),         // names a directory
        ("/", 405),              // the root
        ("/nope/y.txt", 409),    // no such directory
        ("/afile/y.txt", 409),   // a component is a file
        ("/.hidden", 403),       // hidden, without --hidden
        ("/.git/config", 403),   // in a hidden directory
        ("/inbox/a%01b", 400),   // a control byte
        ("/../escape.txt", 400), // above the root
    ];
    for &(path, status) in cases {
        let mut c = server.connect();
        let r = c.request(put(path, b"data", ""));
        assert_eq!(r.status, status, "{path}: {r:?}");
    }
    let r = server.connect().request(put("/inbox/", b"data", ""));
    assert_eq!(
        r.header("allow"),
        Some("GET, HEAD, OPTIONS, POST"),
        "a 405 says what is allowed"
    );
    let long = format!("/inbox/{}", "n".repeat(256));
    assert_eq!(server.connect().request(put(&long, b"d", "")).status, 400);
    let just = format!("/inbox/{}", "n".repeat(255));
    assert_eq!(server.connect().request(put(&just, b"d", "")).status, 201);
    assert_eq!(
        names(&root.path().join("inbox")).len(),
        4,
        "{:?}",
        names(&root.path().join("inbox"))
    );
    assert!(!root.path().join(".hidden").exists());
    assert!(!has_temp(&root.path().join("inbox")) && !has_temp(root.path()));
}

#[test]
fn with_hidden_a_dotfile_may_be_uploaded() {
    let root = a_txt_root("up-hidden");
    let mut cfg = upload_config(&root);
    cfg.hidden = true;
    let server = TestServer::start(cfg);
    assert_eq!(
        server.connect().request(put("/.env", b"K=V", "")).status,
        201
    );
    assert_eq!(fs::read(root.path().join(".env")).unwrap(), b"K=V");
}

/// A reader during an upload gets the old file whole, never part of the
/// new one, and the new one whole once the upload has been answered.
#[test]
fn a_reader_never_sees_a_partial_file() {
    let root = a_txt_root("up-reader");
    let server = TestServer::start(upload_config(&root));
    let new = vec![b'n'; 200_000];
    let req = put("/a.txt", &new, "");
    let mut writer = server.connect();
    let mut reader = server.connect();
    let (head, body) = req.split_at(req.len() - new.len());
    writer.send(head);
    let pieces: Vec<&[u8]> = body.chunks(50_000).collect();
    for (i, piece) in pieces.iter().enumerate() {
        writer.send(piece);
        if i + 1 < pieces.len() {
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(reader.request(get("/a.txt")).text(), A_TXT, "mid-upload");
        }
    }
    assert_eq!(writer.read_response_to("PUT").unwrap().status, 204);
    assert_eq!(reader.request(get("/a.txt")).body, new);
}

#[test]
fn pipelined_put_then_get_returns_the_new_bytes() {
    let root = a_txt_root("up-pipelined");
    let server = TestServer::start(upload_config(&root));
    let mut c = server.connect();
    // The old bytes are in the file cache first.
    assert_eq!(c.request(get("/a.txt")).text(), A_TXT);
    let mut both = put("/a.txt", b"new bytes", "");
    both.extend_from_slice(get("/a.txt").as_bytes());
    c.send(&both);
    assert_eq!(c.read_response_to("PUT").unwrap().status, 204);
    assert_eq!(c.read_response().text(), "new bytes");
}

#[test]
fn every_framing_stores_the_body() {
    let root = a_txt_root("up-framing");
    let server = TestServer::start(upload_config(&root));
    let mut c = server.connect();
    // Chunked, with extensions and trailers.
    let r = c.request(
        "PUT /chunked.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
         5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Checksum: abc\r\n\r\n",
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        fs::read(root.path().join("chunked.txt")).unwrap(),
        b"hello world"
    );
    // Expect: 100-continue is answered before the body is read.
    c.send(
        "PUT /later.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(c.read_response_to("PUT").unwrap().status, 100);
    c.send("body");
    assert_eq!(c.read_response_to("PUT").unwrap().status, 201);
    assert_eq!(fs::read(root.path().join("later.txt")).unwrap(), b"body");
    // Refused at the head with Expect: no 100, no body read, closed.
    let mut c = server.connect();
    c.send("PUT /nope/x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    let r = c.read_response_to("PUT").unwrap();
    assert_eq!(r.status, 409);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
}

#[test]
fn too_large_uploads_are_413_and_leave_nothing() {
    let root = a_txt_root("up-413");
    let mut cfg = upload_config(&root);
    cfg.max_upload = 1000;
    let server = TestServer::start(cfg);
    // Announced: refused before the body is read, and closed.
    let mut c = server.connect();
    c.send("PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
    let r = c.read_response_to("PUT").unwrap();
    assert_eq!(r.status, 413);
    assert!(c.is_closed());
    // Exactly the limit is stored.
    let r = server.connect().request(put("/edge", &[b'e'; 1000], ""));
    assert_eq!(r.status, 201);
    // Chunked: refused once the chunk sizes pass the limit.
    let mut c = server.connect();
    c.send("PUT /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(format!("258\r\n{}\r\n", "a".repeat(600)));
    c.send(format!("258\r\n{}\r\n", "a".repeat(600)));
    assert_eq!(c.read_response_to("PUT").unwrap().status, 413);
    assert!(c.is_closed());
    assert_eq!(names(root.path()), ["a.txt", "edge"]);
    // --max-body still bounds bodies that are discarded.
    let mut c = server.connect();
    c.send("GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n");
    assert_eq!(c.read_response().status, 413);
}

#[test]
fn a_client_that_leaves_mid_body_leaves_no_file() {
    let root = a_txt_root("up-disconnect");
    let server = TestServer::start(upload_config(&root));
    for cut in [0, 1, 500, 99_999] {
        let mut c = server.connect();
        let req = put("/gone.bin", &vec![7u8; 100_000], "");
        let head = req.len() - 100_000;
        c.send(&req[..head + cut]);
        drop(c);
    }
    // Chunked, cut inside a chunk.
    let mut c = server.connect();
    c.send("PUT /gone.bin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc");
    drop(c);
    // The server has seen every close once it answers the next request.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.connect().request(get("/a.txt")).status, 200);
    assert_eq!(
        names(root.path()),
        ["a.txt"],
        "nothing at the name, no temporary file"
    );
}

#[test]
fn a_body_that_breaks_its_framing_or_times_out_leaves_no_file() {
    let root = a_txt_root("up-malformed");
    let mut cfg = upload_config(&root);
    cfg.body_timeout = Duration::from_millis(300);
    let server = TestServer::start(cfg);
    let mut c = server.connect();
    let r = c.request(
        "PUT /bad.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nhelloXX0\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    let mut c = server.connect();
    c.send("PUT /slow.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    let r = c.read_response_to("PUT").unwrap();
    assert_eq!(r.status, 408);
    assert_eq!(names(root.path()), ["a.txt"]);
    // Progress keeps an upload alive past the body timeout: six pieces,
    // 100 ms apart, take longer than 300 ms in all.
    let mut c = server.connect();
    c.send("PUT /steady.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n");
    for b in b"steady" {
        std::thread::sleep(Duration::from_millis(100));
        c.send([*b]);
    }
    assert_eq!(c.read_response_to("PUT").unwrap().status, 201);
}

#[test]
fn conditional_puts_lose_no_update() {
    let root = a_txt_root("up-conditional");
    let server = TestServer::start(upload_config(&root));
    let mut c = server.connect();
    let create_only = "If-None-Match: *\r\n";
    assert_eq!(
        c.request(put("/a.txt", b"clobber", create_only)).status,
        412
    );
    assert_eq!(
        fs::read_to_string(root.path().join("a.txt")).unwrap(),
        A_TXT
    );
    assert_eq!(c.request(put("/fresh", b"1", create_only)).status, 201);
    let etag = c.request(get("/a.txt")).header("etag").unwrap().to_string();
    let stale = "If-Match: \"0000000000000000\"\r\n";
    assert_eq!(c.request(put("/a.txt", b"x", stale)).status, 412);
    assert_eq!(
        c.request(put("/missing", b"x", "If-Match: *\r\n")).status,
        412
    );
    let matching = format!("If-Match: {etag}\r\n");
    assert_eq!(c.request(put("/a.txt", b"v2", &matching)).status, 204);
    assert_eq!(fs::read(root.path().join("a.txt")).unwrap(), b"v2");
    // The tag named is the old version's now: a second writer loses.
    assert_eq!(c.request(put("/a.txt", b"v3", &matching)).status, 412);
    // If-None-Match with the current tag: 412 (RFC 9110 §13.1.2); with
    // another: stored.
    let etag = c.request(get("/a.txt")).header("etag").unwrap().to_string();
    let current = format!("If-None-Match: \"other\", {etag}\r\n");
    assert_eq!(c.request(put("/a.txt", b"no", &current)).status, 412);
    let other = "If-None-Match: \"other\"\r\n";
    assert_eq!(c.request(put("/a.txt", b"v2", other)).status, 204);
    // A weak tag never matches (RFC 9110 §13.1.1).
    let etag = c.request(get("/a.txt")).header("etag").unwrap().to_string();
    let weak = format!("If-Match: W/{etag}\r\n");
    assert_eq!(c.request(put("/a.txt", b"v4", &weak)).status, 412);
    assert_eq!(fs::read(root.path().join("a.txt")).unwrap(), b"v2");
}

/// The condition is checked when the file is renamed, not only at the head:
/// two create-only uploads of one name whose bodies interleave end with one
/// 201 and one 412.
#[test]
fn create_only_is_checked_at_the_rename() {
    let root = a_txt_root("up-race");
    let server = TestServer::start(upload_config(&root));
    let mut a = server.connect();
    let mut b = server.connect();
    let head = |n| {
        format!("PUT /once HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\nContent-Length: {n}\r\n\r\n")
    };
    a.send(head(3));
    b.send(head(3));
    a.send("aa");
    b.send("bbb");
    assert_eq!(b.read_response_to("PUT").unwrap().status, 201);
    a.send("a");
    assert_eq!(a.read_response_to("PUT").unwrap().status, 412);
    assert_eq!(fs::read(root.path().join("once")).unwrap(), b"bbb");
    assert_eq!(names(root.path()), ["a.txt", "once"]);
}

#[test]
fn concurrent_puts_of_one_name_end_with_one_whole_body() {
    let root = a_txt_root("up-concurrent");
    let server = TestServer::start(upload_config(&root));
    let addr = server.addr;
    let writers: Vec<_> = (0..6u8)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let body = vec![b'a' + i; 300_000];
                let req = put("/same.bin", &body, "");
                // In pieces, so that the uploads interleave.
                for piece in req.chunks(7_000) {
                    c.send(piece);
                }
                c.read_response_to("PUT").unwrap().status
            })
        })
        .collect();
    for w in writers {
        assert!(matches!(w.join().unwrap(), 201 | 204));
    }
    let got = fs::read(root.path().join("same.bin")).unwrap();
    assert_eq!(got.len(), 300_000);
    assert!(got.iter().all(|&b| b == got[0]), "a mix of bodies");
    assert_eq!(names(root.path()), ["a.txt", "same.bin"]);
}

#[test]
fn a_symlink_at_the_name_is_replaced_not_followed() {
    let root = a_txt_root("up-symlink");
    let outside = TempDir::new("up-symlink-outside");
    outside.file("target.txt", "outside");
    std::os::unix::fs::symlink(outside.path().join("target.txt"), root.path().join("link"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
    let server = TestServer::start(upload_config(&root));
    let mut c = server.connect();
    assert_eq!(c.request(put("/link", b"inside", "")).status, 204);
    assert_eq!(
        fs::read(outside.path().join("target.txt")).unwrap(),
        b"outside"
    );
    let link = root.path().join("link");
    assert!(fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(fs::read(link).unwrap(), b"inside");
    // A directory through a symlink out of the root: no.
    assert_eq!(c.request(put("/out/new.txt", b"x", "")).status, 403);
    assert_eq!(names(outside.path()), ["target.txt"]);
}

#[test]
fn a_stop_waits_for_uploads_in_flight_then_removes_what_is_unfinished() {
    let root = a_txt_root("up-stop");
    let mut cfg = upload_config(&root);
    cfg.grace = Duration::from_millis(700);
    let server = TestServer::start(cfg);
    let (mut done, mut never) = (server.connect(), server.connect());
    done.send("PUT /done.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nfirst");
    never.send("PUT /never.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nfirst");
    std::thread::sleep(Duration::from_millis(100));
    assert!(has_temp(root.path()), "both uploads have begun");
    let stopping = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(100));
    done.send("-half");
    let r = done.read_response_to("PUT").unwrap();
    assert_eq!(
        r.status, 201,
        "an upload finished within the grace is stored"
    );
    assert_eq!(r.header("connection"), Some("close"));
    stopping.join().unwrap();
    assert_eq!(
        names(root.path()),
        ["a.txt", "done.bin"],
        "the unfinished one is gone"
    );
    assert_eq!(
        fs::read(root.path().join("done.bin")).unwrap(),
        b"first-half"
    );
    drop(never);
}

#[test]
fn the_status_page_shows_uploads_in_flight_and_the_log_what_they_received() {
    let root = a_txt_root("up-status");
    let cfg = upload_config(&root).with_status("/.status").unwrap();
    let server = TestServer::start(cfg);
    let mut c = server.connect();
    c.send("PUT /inbox.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
    std::thread::sleep(Duration::from_millis(100));
    let page = server.connect().request(get("/.status?format=json"));
    let v: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
    let uploads: Vec<_> = v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|ch| !ch["upload"].is_null())
        .collect();
    assert_eq!(uploads.len(), 1, "{v}");
    let u = &uploads[0]["upload"];
    assert_eq!(u["target"], "/inbox.bin");
    assert_eq!(u["received"], 10);
    assert_eq!(u["announced"], 100);
    let html = server.connect().request(get("/.status")).text();
    assert!(
        html.contains("Uploads in flight (1)") && html.contains("/inbox.bin"),
        "{html}"
    );

    // The binary's access log ends an upload's line with what it received.
    let httpd = Httpd::start(&[path_str(root.path()), "--upload"]);
    let mut c = Client::connect(httpd.addr);
    assert_eq!(c.request(put("/logged.txt", b"12345", "")).status, 201);
    let line = httpd.stderr.recv_timeout(START_PATIENCE).unwrap();
    assert!(
        line.ends_with("\"PUT /logged.txt HTTP/1.1\" 201 0 received=5"),
        "{line}"
    );
    drop(httpd);

    // With --trace, no line shows an upload's bytes: not the reads, not
    // the chunks, not a form's fields.
    let httpd = Httpd::start(&[path_str(root.path()), "--upload", "--trace"]);
    let mut c = Client::connect(httpd.addr);
    c.send("PUT /traced.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(20));
        c.send("c\r\nSECRET-CHUNK\r\n");
    }
    c.send("0\r\n\r\n");
    assert_eq!(c.read_response_to("PUT").unwrap().status, 201);
    let mut body = b"SECRET-PREAMBLE ".to_vec();
    body.extend(form_body(
        "bb",
        &[
            ("field", None, b"SECRET-FIELD"),
            ("f", Some("filename=\"t.bin\""), b"SECRET-FILE"),
        ],
    ));
    body.extend_from_slice(b" SECRET-EPILOGUE");
    assert_eq!(c.request(post("/", "bb", &body)).status, 303);
    // Refused, the body is still read, and still not shown.
    assert_eq!(c.request(put("/nope/x", b"SECRET-REFUSED", "")).status, 409);
    assert_eq!(c.request(get("/a.txt")).status, 200);
    let lines = httpd.stderr_until("\"GET /a.txt HTTP/1.1\" 200", START_PATIENCE);
    assert!(
        lines.iter().any(|l| l.contains("upload:")),
        "traced: {lines:?}"
    );
    for l in &lines {
        assert!(!l.contains("SECRET"), "an upload's bytes in the trace: {l}");
    }
}

#[test]
fn upload_on_a_public_address_without_auth_warns() {
    let root = a_txt_root("up-warn");
    let httpd = Httpd::start(&[path_str(root.path()), "-b", "0.0.0.0", "--upload"]);
    let warning = httpd.stderr.recv_timeout(START_PATIENCE).unwrap();
    assert!(
        warning.contains("--upload") && warning.contains("--auth"),
        "{warning}"
    );
    drop(httpd);
    let (status, _, err) = run_binary(&[path_str(root.path()), "-p", "0", "--max-upload", "5"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--upload"), "{err}");
}

/// A `multipart/form-data` body of `files` (name, file name, contents)
/// under `boundary`.
fn form_body(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = b"preamble to ignore\r\n".to_vec();
    for (field, file, contents) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match file {
            Some(file) => format!("form-data; name=\"{field}\"; {file}"),
            None => format!("form-data; name=\"{field}\""),
        };
        body.extend_from_slice(
            format!("Content-Disposition: {disposition}\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(contents);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\nepilogue").as_bytes());
    body
}

fn post(path: &str, boundary: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

#[test]
fn a_form_stores_its_files_and_sends_the_browser_back() {
    let root = a_txt_root("up-form");
    root.dir("inbox");
    let server = TestServer::start(upload_config(&root));
    let mut c = server.connect();
    let listing = c.request(get("/inbox/")).text();
    assert!(
        listing.contains("enctype=\"multipart/form-data\""),
        "{listing}"
    );
    let boundary = "----x7MA4YWxkTrZu0gW";
    // The content holds the boundary, but not the delimiter (CRLF, `--`,
    // the boundary), which a sender must keep out of its parts (RFC 2046
    // §5.1.1).
    let tricky = format!(
        "line\n--{boundary}\r\nx--{boundary}--\r\n--{}",
        &boundary[..5]
    );
    let body = form_body(
        boundary,
        &[
            ("file", Some("filename=\"one.txt\""), b"1"),
            ("note", None, b"a field, not a file"),
            (
                "file",
                Some("filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve%20caf%C3%A9.txt"),
                b"utf-8 name",
            ),
            ("file", Some("filename=\"../../x.txt\""), tricky.as_bytes()),
            (
                "file",
                Some("filename=\"C:\\\\Users\\\\me\\\\win.txt\""),
                b"win",
            ),
            ("file", Some("filename=\"\""), b""), // no file chosen
        ],
    );
    let r = c.request(post("/inbox/", boundary, &body));
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/inbox/"));
    assert!(r.text().contains("one.txt"), "{}", r.text());
    let inbox = root.path().join("inbox");
    assert_eq!(
        names(&inbox),
        ["naïve café.txt", "one.txt", "win.txt", "x.txt"]
    );
    assert_eq!(fs::read(inbox.join("one.txt")).unwrap(), b"1");
    assert_eq!(fs::read(inbox.join("x.txt")).unwrap(), tricky.as_bytes());
    assert_eq!(names(root.path()), ["a.txt", "inbox"], "nothing above");
    // The listing shows them at once.
    let listing = c.request(get("/inbox/")).text();
    assert!(listing.contains("one.txt") && listing.contains("win.txt"));
}

/// A form of thousands of tiny files held the loop for seconds (an fsync
/// each, all in one turn); now a form stores at most 100 files.
#[test]
fn a_form_stores_at_most_100_files() {
    let root = a_txt_root("up-form-many");
    root.dir("d");
    let server = TestServer::start(upload_config(&root));
    let names: Vec<String> = (0..150).map(|i| format!("filename=\"p{i}\"")).collect();
    let parts: Vec<(&str, Option<&str>, &[u8])> = names
        .iter()
        .map(|n| ("f", Some(n.as_str()), &b"x"[..]))
        .collect();
    let r = server
        .connect()
        .request(post("/d/", "b", &form_body("b", &parts[..100])));
    assert_eq!(r.status, 303);
    assert_eq!(names_in(&root, "d"), 100);
    let r = server
        .connect()
        .request(post("/d/", "b", &form_body("b", &parts)));
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("at most 100 files"), "{}", r.text());
    assert_eq!(
        names_in(&root, "d"),
        100,
        "the first 100 stored, the rest not"
    );
    assert!(!has_temp(&root.path().join("d")));
}

fn names_in(root: &TempDir, dir: &str) -> usize {
    names(&root.path().join(dir)).len()
}

#[test]
fn a_broken_form_keeps_what_it_stored_and_says_so() {
    let root = a_txt_root("up-form-broken");
    let server = TestServer::start(upload_config(&root));
    let b = "BOUNDARY";
    // The second part never ends: the body stops inside it.
    let mut body = form_body(b, &[("file", Some("filename=\"ok.txt\""), b"ok")]);
    body.truncate(body.len() - format!("--{b}--\r\nepilogue").len());
    body.extend_from_slice(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"cut.txt\"\r\n\r\npartial").as_bytes(),
    );
    let r = server.connect().request(post("/", b, &body));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("Stored ok.txt"), "{}", r.text());
    assert_eq!(names(root.path()), ["a.txt", "ok.txt"]);
    // Not multipart at all.
    let r = server.connect().request(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert_eq!(r.status, 415);
    // A file name that is nothing once cut to its last component: 400,
    // not a part skipped in silence.
    let body = form_body(b, &[("file", Some("filename=\"evil/\""), b"x")]);
    assert_eq!(server.connect().request(post("/", b, &body)).status, 400);
    // A hidden file name in a form is refused, and nothing else of it kept.
    let body = form_body(b, &[("file", Some("filename=\".bashrc\""), b"x")]);
    assert_eq!(server.connect().request(post("/", b, &body)).status, 403);
    assert_eq!(names(root.path()), ["a.txt", "ok.txt"]);
}

/// Disk full, for real: a 1 MiB tmpfs where the test may mount one (as
/// root), otherwise the file size limit (`RLIMIT_FSIZE`, `EFBIG`) of a
/// server process of its own. Either way: 507, the temporary file removed,
/// the connection still in step, and a smaller upload stored afterwards.
#[test]
fn a_full_disk_is_507_and_leaves_nothing() {
    let root = a_txt_root("up-full");
    let mount = root.path().join("small");
    fs::create_dir(&mount).unwrap();
    // ASYNCHAT_NO_TMPFS=1 tries the fallback where a tmpfs could be had.
    let mounted = std::env::var_os("ASYNCHAT_NO_TMPFS").is_none()
        && std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&mount)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    /// Unmounts the tmpfs however the test ends.
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    if mounted {
        let _unmount = Unmount(&mount);
        eprintln!("disk full: a 1 MiB tmpfs (ENOSPC)");
        let server = TestServer::start(upload_config(&root));
        let mut c = server.connect();
        let r = c.request(put("/small/big.bin", &vec![1u8; 2 << 20], ""));
        assert_eq!(r.status, 507, "{r:?}");
        assert_eq!(names(&mount), Vec::<String>::new(), "no temporary file");
        // The rest of the body was read: the connection is in step.
        assert_eq!(c.request(get("/a.txt")).status, 200);
        assert_eq!(
            c.request(put("/small/ok.bin", &[2u8; 1000], "")).status,
            201
        );
        drop(c);
        server.stop();
    } else {
        eprintln!("disk full: no tmpfs here; RLIMIT_FSIZE of 64 KiB (EFBIG)");
        file_size_limit(&root);
    }
}

/// The fallback of [`a_full_disk_is_507_and_leaves_nothing`].
fn file_size_limit(root: &TempDir) {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_asynchat-httpd"));
    cmd.args(["--port", "0", "--quiet", "--upload"])
        .arg(root.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs here.
    unsafe {
        cmd.pre_exec(|| {
            let limit = rustix::process::Rlimit {
                current: Some(64 * 1024),
                maximum: Some(64 * 1024),
            };
            rustix::process::setrlimit(rustix::process::Resource::Fsize, limit)?;
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let url = line.split_whitespace().last().unwrap().to_string();
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let mut c = Client::connect(addr);
    let r = c.request(put("/big.bin", &vec![1u8; 200_000], ""));
    assert_eq!(r.status, 507, "{r:?}");
    assert_eq!(c.request(get("/a.txt")).status, 200);
    assert_eq!(c.request(put("/ok.bin", &[2u8; 1000], "")).status, 201);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(names(root.path()), ["a.txt", "ok.bin", "small"]);
}

/// With `--upload` an upload holds its directory and its temporary file
/// besides its socket, so the descriptor limit is raised for four per
/// connection (two without): 1500 uploaders no longer run the server out.
#[test]
fn upload_raises_the_descriptor_limit_for_its_files() {
    use std::os::unix::process::CommandExt;
    let root = a_txt_root("up-nofile");
    let soft_limit = |upload: bool| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args([
            path_str(root.path()),
            "-p",
            "0",
            "-q",
            "--max-connections",
            "1000",
        ]);
        if upload {
            cmd.arg("--upload");
        }
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        // SAFETY: setrlimit is async-signal-safe; nothing else runs here.
        unsafe {
            cmd.pre_exec(|| {
                use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
                let hard = getrlimit(Resource::Nofile).maximum;
                setrlimit(
                    Resource::Nofile,
                    Rlimit {
                        current: Some(256),
                        maximum: hard,
                    },
                )?;
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        let (out, err) = (
            lines_of(child.stdout.take().unwrap()),
            lines_of(child.stderr.take().unwrap()),
        );
        let httpd = Httpd::started(child, out, err);
        let limits = fs::read_to_string(format!("/proc/{}/limits", httpd.child.id())).unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        let soft: u64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
        soft
    };
    let (without, with) = (soft_limit(false), soft_limit(true));
    // 2 or 4 per connection, the file cache's 1024 and a few more.
    assert_eq!(without, 2 * 1000 + 1024 + 64, "without --upload");
    assert_eq!(with, 4 * 1000 + 1024 + 64, "with --upload");
}

// In memory: the whole HTTP channel, fed as the reactor would feed it.

mod in_memory {
    use super::*;
    use asynchat::http::conn::HttpChannel;
    use asynchat::http::{Config, Shared};
    use asynchat::{AsyncChat, Channel};

    /// Feeds `reads` to a fresh channel serving `root` with uploads on,
    /// sends what it answers, then drops it (the client left); returns the
    /// bytes it sent.
    fn run(root: &Path, reads: &[&[u8]]) -> Vec<u8> {
        let mut cfg = Config::new(root).unwrap();
        cfg.upload = true;
        let shared = Shared::new(cfg).unwrap();
        let mut handler = HttpChannel::new(shared);
        let mut chan = Channel::new(HttpChannel::initial_terminator());
        handler.handle_connect(&mut chan);
        let mut out = Vec::new();
        for read in reads {
            chan.feed(&mut handler, read);
            while chan.writable() {
                chan.send(&mut handler, &mut out).unwrap();
            }
        }
        out
    }

    /// A PUT cut at every byte of its body, and dropped there, stores
    /// nothing and leaves no temporary file; whole, it stores the body.
    #[test]
    fn a_put_cut_anywhere_stores_all_or_nothing() {
        let root = a_txt_root("up-cut-put");
        let body: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
        for framing in ["length", "chunked"] {
            let req = match framing {
                "length" => put("/f.bin", &body, ""),
                _ => {
                    let mut r =
                        b"PUT /f.bin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                            .to_vec();
                    for chunk in body.chunks(64) {
                        r.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                        r.extend_from_slice(chunk);
                        r.extend_from_slice(b"\r\n");
                    }
                    r.extend_from_slice(b"0\r\n\r\n");
                    r
                }
            };
            for cut in 0..req.len() {
                let out = run(root.path(), &[&req[..cut]]);
                assert!(
                    out.is_empty() || !out.starts_with(b"HTTP/1.1 20"),
                    "{framing} {cut}"
                );
                assert_eq!(names(root.path()), ["a.txt"], "{framing} cut at {cut}");
            }
            let out = run(root.path(), &[&req]);
            assert!(out.starts_with(b"HTTP/1.1 201"), "{framing}");
            assert_eq!(fs::read(root.path().join("f.bin")).unwrap(), body);
            fs::remove_file(root.path().join("f.bin")).unwrap();
        }
    }

    /// The trace shows where the body goes, each piece (its size and the
    /// running total, never its bytes), the fsync and the rename; a form's
    /// nested channel traces its terminator switches too.
    #[test]
    fn the_trace_follows_the_body_to_the_file() {
        let root = a_txt_root("up-trace");
        let mut cfg = Config::new(root.path()).unwrap();
        cfg.upload = true;
        let shared = Shared::new(cfg).unwrap();
        let mut handler = HttpChannel::new(shared);
        let mut chan = Channel::new(HttpChannel::initial_terminator());
        let (trace, lines) = asynchat::trace::Trace::collect("#1");
        chan.set_trace(Some(trace));
        handler.handle_connect(&mut chan);
        let req = put("/t.txt", b"secret-bytes", "");
        let (head, body) = req.split_at(req.len() - 12);
        chan.feed(&mut handler, head);
        chan.feed(&mut handler, &body[..6]);
        chan.feed(&mut handler, &body[6..]);
        let lines = lines.borrow().join("\n");
        for want in [
            "upload: the body goes to the temporary file .upload-",
            "renamed to /t.txt when complete",
            "upload: 6 bytes to the temporary file, 6 in all",
            "upload: 6 bytes to the temporary file, 12 in all",
            "upload: 12 bytes fsynced",
            "respond 201",
        ] {
            assert!(lines.contains(want), "{want:?} not in\n{lines}");
        }
        assert!(
            !lines.contains("secret"),
            "the trace shows no body bytes:\n{lines}"
        );
    }

    /// An upload's fsync is dear: pipelined PUTs cost their connection an
    /// eighth of a turn each, so a turn answers at most 8 of them (and
    /// writes at most what two turns made), however many were sent.
    #[test]
    fn pipelined_puts_are_stored_some_at_a_time() {
        let root = a_txt_root("up-turns");
        let mut cfg = Config::new(root.path()).unwrap();
        cfg.upload = true;
        let input: Vec<u8> = (0..40)
            .flat_map(|i| put(&format!("/f{i}"), b"x", ""))
            .collect();
        let per_turn = responses_per_turn(cfg, &input, "HTTP/1.1 201");
        assert_eq!(per_turn.iter().sum::<usize>(), 40, "every PUT is answered");
        assert!(per_turn.iter().all(|&n| n <= 16), "{per_turn:?}");
        assert!(per_turn.len() >= 3, "{per_turn:?}");
    }

    /// A form split into two reads at every offset (the boundary's
    /// delimiter split every way) stores the same files.
    #[test]
    fn a_form_split_anywhere_stores_the_same_files() {
        let root = a_txt_root("up-split-form");
        let b = "xyzzy";
        let body = form_body(
            b,
            &[
                ("file", Some("filename=\"a.bin\""), b"\r\n--xyzz\r\n-"),
                ("file", Some("filename=\"b.bin\""), b"second"),
                ("file", Some("filename=\"c.bin\""), b""),
            ],
        );
        let req = post("/", b, &body);
        for split in 0..=req.len() {
            let out = run(root.path(), &[&req[..split], &req[split..]]);
            assert!(out.starts_with(b"HTTP/1.1 303"), "split at {split}");
            assert_eq!(
                fs::read(root.path().join("a.bin")).unwrap(),
                b"\r\n--xyzz\r\n-"
            );
            assert_eq!(fs::read(root.path().join("b.bin")).unwrap(), b"second");
            assert_eq!(fs::read(root.path().join("c.bin")).unwrap(), b"");
            for f in ["a.bin", "b.bin", "c.bin"] {
                fs::remove_file(root.path().join(f)).unwrap();
            }
            assert_eq!(names(root.path()), ["a.txt"]);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, failure_persistence: None, ..Default::default() })]
        /// A form cut into any reads stores the same bytes.
        #[test]
        fn a_form_read_in_any_pieces_stores_the_same_bytes(
            content in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            cuts in proptest::collection::vec(0usize..2000, 0..12),
        ) {
            let root = a_txt_root("up-prop-form");
            let body = form_body("b0undary", &[("f", Some("filename=\"p.bin\""), &content)]);
            let req = post("/", "b0undary", &body);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (req.len() + 1)).collect();
            cuts.sort_unstable();
            let mut reads = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([req.len()]) {
                reads.push(&req[at..c]);
                at = c;
            }
            let out = run(root.path(), &reads);
            proptest::prop_assert!(out.starts_with(b"HTTP/1.1 303"));
            proptest::prop_assert_eq!(fs::read(root.path().join("p.bin")).unwrap(), content);
        }
    }
}
