//! The demonstration site in `www/`, served as `cargo run -- www` would: the
//! page, every link on it, the listing it points to.

mod common;

use std::path::PathBuf;

use common::*;

fn www() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www")
}

/// The values of every `href="..."` and `src="..."` attribute in `html`.
fn links(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for attr in [" href=\"", " src=\""] {
        for piece in html.split(attr).skip(1) {
            let value = piece.split('"').next().unwrap();
            out.push(value);
        }
    }
    out
}

/// True for a link that leaves the site or stays on the page.
fn is_external_or_anchor(link: &str) -> bool {
    let scheme = link
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && !s.contains('/'));
    scheme || link.starts_with("//") || link.starts_with('#')
}

/// The target for a relative link on `/index.html`, without its fragment.
fn target_of(link: &str) -> String {
    let link = link.split('#').next().unwrap();
    if link.starts_with('/') {
        link.to_string()
    } else {
        format!("/{link}")
    }
}

#[test]
fn the_front_page_is_html() {
    let server = TestServer::serve(&www());
    let r = server.connect().request(get("/"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{r:?}"
    );
    assert!(r.text().contains("asynchat"), "{}", r.text());
    assert_eq!(
        r.body,
        std::fs::read(www().join("index.html")).unwrap(),
        "/ serves index.html"
    );
}

#[test]
fn every_link_on_the_front_page_resolves() {
    let html = std::fs::read_to_string(www().join("index.html")).unwrap();
    let relative: Vec<&str> = links(&html)
        .into_iter()
        .filter(|l| !is_external_or_anchor(l))
        .collect();
    assert!(
        relative.len() >= 5,
        "too few links found, is the scan broken? {relative:?}"
    );
    let server = TestServer::serve(&www());
    let mut c = server.connect();
    for link in relative {
        let target = target_of(link);
        let mut r = c.request(get(&target));
        if r.status == 301 {
            let location = r
                .header("location")
                .unwrap_or_else(|| panic!("{link}: 301 without Location: {r:?}"))
                .to_string();
            assert!(location.starts_with('/'), "{link}: Location {location:?}");
            r = c.request(get(&location));
        }
        assert_eq!(r.status, 200, "{link} ({target}): {r:?}");
        assert!(!r.body.is_empty(), "{link} ({target}) is empty");
    }
}

#[test]
fn the_files_directory_is_listed() {
    let server = TestServer::serve(&www());
    let r = server.connect().request(get("/files/"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let page = r.text();
    for entry in [
        "href=\"notes.md\"",
        "href=\"nested/\"",
        "href=\"data.csv\"",
        "href=\"a%20file%20with%20spaces.txt\"",
    ] {
        assert!(page.contains(entry), "{entry} missing from:\n{page}");
    }
    // And the entries it links to are served.
    let mut c = server.connect();
    let r = c.request(get("/files"));
    assert_eq!(r.status, 301, "{r:?}");
    assert_eq!(r.header("location"), Some("/files/"));
    assert_eq!(c.request(get("/files/notes.md")).status, 200);
    assert_eq!(c.request(get("/files/nested/deep.txt")).status, 200);
    assert_eq!(
        c.request(get("/files/a%20file%20with%20spaces.txt")).status,
        200
    );
}

#[test]
fn hello_txt_is_utf8_text() {
    let server = TestServer::serve(&www());
    let r = server.connect().request(get("/hello.txt"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        r.body,
        std::fs::read(www().join("hello.txt")).unwrap(),
        "the file, byte for byte"
    );
    assert!(std::str::from_utf8(&r.body).is_ok());
}
