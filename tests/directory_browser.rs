//! What a browser makes of `--cors` and of the sortable directory listing:
//! headless Chromium loads the pages, and the test reads the DOM it built
//! (`--dump-dom`).
//!
//! For CORS, a page served from one port fetches a file from another: it
//! gets the file from a server started with `--cors`, and a `TypeError`
//! from one without. For the listing, the rows come in the order asked for,
//! the active column header is marked, and its link (followed as a person
//! would, from the DOM) flips the order.
//!
//! Without Chromium (`/usr/bin/chromium` or `chromium` on `PATH`) each test
//! prints `SKIPPED: chromium not installed` to stderr and passes; `.ci/run`
//! installs it. Every Chromium run is bounded (its whole process group is
//! killed after [`CHROMIUM_PATIENCE`]), and what Chromium prints on stderr
//! is kept in a file and only shown when a run fails.

mod common;

use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use asynchat::http::Config;
use asynchat::http::listing::human_size;
use common::*;

/// How long one Chromium run may take before it is killed.
const CHROMIUM_PATIENCE: Duration = Duration::from_secs(60);

/// How much virtual time a page's scripts get before the DOM is dumped:
/// Chromium lets the clock run only while nothing is loading, so a fetch
/// settles first however long it takes (within the patience).
const VIRTUAL_TIME: &str = "--virtual-time-budget=5000";

/// The Chromium binary, if installed.
fn chromium() -> Option<PathBuf> {
    let usual = PathBuf::from("/usr/bin/chromium");
    if usual.is_file() {
        return Some(usual);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
}

/// Runs headless Chromium with `args` and then `url`, with a fresh profile
/// under `tmp`; returns its stdout. Panics (with Chromium's stderr) if it
/// fails or outlives its patience.
fn run_chromium(chromium: &Path, tmp: &TempDir, tag: &str, args: &[&str], url: &str) -> String {
    let profile = tmp.dir(&format!("profile-{tag}"));
    let err_path = tmp.path().join(format!("chromium-{tag}.stderr"));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        // Nothing of it lands in the real home directory.
        .env("HOME", tmp.path())
        .env("XDG_CONFIG_HOME", tmp.path().join("config"))
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(&err_path).unwrap())
        // Its own process group, so that a run that hangs is killed with
        // every helper process it started.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + CHROMIUM_PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            use rustix::process::{Pid, Signal, kill_process_group};
            let _ = kill_process_group(Pid::from_child(&child), Signal::KILL);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let Some(status) = status else {
        panic!(
            "chromium {args:?} {url} did not finish within {CHROMIUM_PATIENCE:?}; stderr:\n{err}"
        );
    };
    assert!(
        status.success(),
        "chromium {args:?} {url}: {status:?}; stderr:\n{err}"
    );
    reader.join().unwrap()
}

/// The DOM Chromium built for `url`, after its scripts had their time.
fn dump_dom(chromium: &Path, tmp: &TempDir, tag: &str, url: &str) -> String {
    run_chromium(chromium, tmp, tag, &["--dump-dom", VIRTUAL_TIME], url)
}

// ------------------------------------------------------------------ CORS

/// The file fetched across origins.
const DATA: &str = "cross-origin data\n";

/// A page that fetches `data.txt` from the port in its query
/// (`page.html?port=N`) and writes what came of it into `#out`:
/// `ok:` and the text, or `error:` and the error's name.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>cross-origin fetch</title></head>
<body>
<pre id="out">pending</pre>
<script>
const out = document.getElementById("out");
const port = new URLSearchParams(location.search).get("port");
fetch(`http://127.0.0.1:${port}/data.txt`)
  .then((r) => r.text())
  .then(
    (text) => { out.textContent = "ok:" + text; },
    (e) => { out.textContent = "error:" + e.name; },
  );
</script>
</body>
</html>
"#;

/// The text of `<pre id="out">` in a dumped DOM, decoded.
fn out_text(dom: &str) -> String {
    let open = "<pre id=\"out\">";
    let start = dom
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in:\n{dom}"))
        + open.len();
    let end = start + dom[start..].find("</pre>").expect("the pre ends");
    unescape_html(&dom[start..end])
}

/// The `requests` total of a status page.
fn requests_served(server: &TestServer) -> u64 {
    let page = server.connect().request(get("/.status")).text();
    let totals = html_table(&page, "totals");
    let row = totals.iter().find(|r| r[0] == "requests").unwrap();
    row[1].parse().unwrap()
}

#[test]
fn a_page_on_one_port_can_fetch_from_another_only_with_cors() {
    let Some(chromium) = chromium() else {
        eprintln!("SKIPPED: chromium not installed");
        return;
    };
    let tmp = TempDir::new("cors-browser-chromium");
    let pages = TempDir::new("cors-browser-pages");
    pages.file("page.html", PAGE);
    let data = TempDir::new("cors-browser-data");
    data.file("data.txt", DATA);

    // A serves the page; B and C serve the same file, B with --cors. C has
    // a status page, to show that the browser did ask it.
    let a = TestServer::serve(pages.path());
    let mut config = Config::new(data.path()).unwrap();
    config.cors = true;
    let b = TestServer::start(config);
    let c = TestServer::start(
        Config::new(data.path())
            .unwrap()
            .with_status("/.status")
            .unwrap(),
    );

    // What the browser will see, as plain HTTP.
    let from_b = b.connect().request(get("/data.txt"));
    assert_eq!(from_b.status, 200);
    assert_eq!(from_b.text(), DATA);
    assert_eq!(from_b.header("access-control-allow-origin"), Some("*"));
    let from_c = c.connect().request(get("/data.txt"));
    assert_eq!(from_c.status, 200);
    assert_eq!(from_c.text(), DATA);
    assert_eq!(from_c.header("access-control-allow-origin"), None);

    let page = |port: u16| format!("http://{}/page.html?port={port}", a.addr);

    let dom = dump_dom(&chromium, &tmp, "cors", &page(b.addr.port()));
    assert_eq!(out_text(&dom), format!("ok:{DATA}"), "{dom}");

    let before = requests_served(&c);
    let dom = dump_dom(&chromium, &tmp, "no-cors", &page(c.addr.port()));
    assert_eq!(out_text(&dom), "error:TypeError", "{dom}");
    // The request reached C (its answer, not the network, was refused):
    // more than the one status request since the count before.
    let after = requests_served(&c);
    assert!(
        after >= before + 2,
        "C served {before} requests before the page and {after} after"
    );
}

// --------------------------------------------------------------- listing

/// A column header of a listing, as the browser holds it.
#[derive(Debug)]
struct Header {
    label: String,
    aria_sort: Option<String>,
    href: String,
    /// What follows the link: ` ▲`, ` ▼` or nothing.
    mark: String,
}

/// A row of a listing: the link's text and the size cell.
#[derive(Debug)]
struct Row {
    name: String,
    size: String,
}

/// The value of attribute `name` in a start tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(unescape_html(&tag[start..end]))
}

/// The part of `html` between `open` and the following `close`.
fn between<'a>(html: &'a str, open: &str, close: &str) -> &'a str {
    let start = html
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in:\n{html}"))
        + open.len();
    let end = start
        + html[start..]
            .find(close)
            .unwrap_or_else(|| panic!("no {close} after {open} in:\n{html}"));
    &html[start..end]
}

/// The column headers of the listing in a dumped DOM.
fn headers(dom: &str) -> Vec<Header> {
    let head = between(dom, "<thead>", "</thead>");
    head.split("<th")
        .skip(1)
        .map(|cell| {
            let cell = &cell[..cell.find("</th>").expect("the th ends")];
            let gt = cell.find('>').unwrap();
            let (tag, inner) = (&cell[..gt], &cell[gt + 1..]);
            let a_end = inner.find('>').unwrap();
            let a_tag = &inner[..a_end];
            let rest = &inner[a_end + 1..];
            let close = rest.find("</a>").expect("the link ends");
            Header {
                label: unescape_html(&rest[..close]),
                aria_sort: attr(tag, "aria-sort"),
                href: attr(a_tag, "href").expect("a header has a link"),
                mark: unescape_html(&rest[close + "</a>".len()..]),
            }
        })
        .collect()
}

/// The rows of the listing in a dumped DOM.
fn rows(dom: &str) -> Vec<Row> {
    let body = between(dom, "<tbody>", "</tbody>");
    body.split("<tr")
        .skip(1)
        .map(|row| {
            let name = between(row, "\">", "</a>");
            let size = between(row, "<td class=\"size\">", "</td>");
            Row {
                name: unescape_html(name),
                size: unescape_html(size),
            }
        })
        .collect()
}

fn names(rows: &[Row]) -> Vec<&str> {
    rows.iter().map(|r| r.name.as_str()).collect()
}

/// `href`, a link on the page at `base`, as an absolute URL: the listing's
/// header links are query-only references, which keep the base's path.
fn resolve(base: &str, href: &str) -> String {
    assert!(href.starts_with('?'), "a query-only link: {href:?}");
    let path = base.split_once('?').map_or(base, |(p, _)| p);
    format!("{path}{href}")
}

/// The header the page marks as the active sort: its label and mark. There
/// must be exactly one.
fn active(headers: &[Header]) -> &Header {
    let marked: Vec<&Header> = headers.iter().filter(|h| h.aria_sort.is_some()).collect();
    assert_eq!(marked.len(), 1, "{headers:#?}");
    marked[0]
}

#[test]
fn the_sortable_listing_renders_and_sorts() {
    let Some(chromium) = chromium() else {
        eprintln!("SKIPPED: chromium not installed");
        return;
    };
    let tmp = TempDir::new("listing-browser-chromium");
    let root = TempDir::new("listing-browser");
    // Sizes and times such that each order asked for below is a different
    // sequence; `a.txt` before `B.txt` is without regard to case, `file2`
    // before `file10` by the numbers' values.
    let epoch = SystemTime::UNIX_EPOCH;
    for (name, size, secs) in [
        ("file2.txt", 300, 4_000_000),
        ("file10.txt", 10, 2_000_000),
        ("B.txt", 2000, 1_000_000),
        ("a.txt", 1000, 3_000_000),
    ] {
        let path = root.file(name, vec![b'x'; size]);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(epoch + Duration::from_secs(secs))
            .unwrap();
    }
    root.dir("sub");
    root.file("sub/inner.txt", "not listed at the root");
    let server = TestServer::serve(root.path());
    let base = format!("http://{}/", server.addr);

    // The default: by name, ascending, directories first.
    let dom = dump_dom(&chromium, &tmp, "default", &base);
    assert!(dom.contains("<title>Index of /</title>"), "{dom}");
    let listed = rows(&dom);
    assert_eq!(
        names(&listed),
        ["sub/", "a.txt", "B.txt", "file2.txt", "file10.txt"],
        "{dom}"
    );
    let sizes: Vec<&str> = listed.iter().map(|r| r.size.as_str()).collect();
    let want: Vec<String> = [1000, 2000, 300, 10].map(human_size).into();
    assert_eq!(sizes[0], "-");
    assert_eq!(sizes[1..], want, "{listed:#?}");
    let heads = headers(&dom);
    let labels: Vec<&str> = heads.iter().map(|h| h.label.as_str()).collect();
    assert_eq!(labels, ["Name", "Size", "Modified"]);
    let name = active(&heads);
    assert_eq!(name.label, "Name");
    assert_eq!(name.aria_sort.as_deref(), Some("ascending"));
    assert_eq!(name.mark, " \u{25b2}");
    assert_eq!(name.href, "?sort=name&order=desc", "its link flips");
    // The others link to their column, ascending, and are not marked.
    for (h, sort) in heads[1..].iter().zip(["size", "mtime"]) {
        assert_eq!(h.href, format!("?sort={sort}&order=asc"), "{h:?}");
        assert_eq!(h.mark, "", "{h:?}");
    }

    // Following the active header's link: by name, descending.
    let url = resolve(&base, &name.href);
    assert_eq!(url, format!("{base}?sort=name&order=desc"));
    let dom = dump_dom(&chromium, &tmp, "name-desc", &url);
    assert_eq!(
        names(&rows(&dom)),
        ["sub/", "file10.txt", "file2.txt", "B.txt", "a.txt"],
        "{dom}"
    );
    let heads = headers(&dom);
    let name = active(&heads);
    assert_eq!(name.label, "Name");
    assert_eq!(name.aria_sort.as_deref(), Some("descending"));
    assert_eq!(name.mark, " \u{25bc}");
    assert_eq!(name.href, "?sort=name&order=asc", "its link flips back");

    // By size, descending, asked for directly.
    let url = format!("{base}?sort=size&order=desc");
    let dom = dump_dom(&chromium, &tmp, "size-desc", &url);
    assert_eq!(
        names(&rows(&dom)),
        ["sub/", "B.txt", "a.txt", "file2.txt", "file10.txt"],
        "{dom}"
    );
    let heads = headers(&dom);
    let size = active(&heads);
    assert_eq!(size.label, "Size");
    assert_eq!(size.aria_sort.as_deref(), Some("descending"));
    assert_eq!(size.mark, " \u{25bc}");
    assert_eq!(heads[0].href, "?sort=name&order=asc", "{heads:#?}");
    let modified = &heads[2];

    // Its link flips it: by size, ascending.
    let flipped = resolve(&url, &size.href);
    assert_eq!(flipped, format!("{base}?sort=size&order=asc"));
    let dom = dump_dom(&chromium, &tmp, "size-asc", &flipped);
    assert_eq!(
        names(&rows(&dom)),
        ["sub/", "file10.txt", "file2.txt", "a.txt", "B.txt"],
        "{dom}"
    );
    let heads = headers(&dom);
    let size = active(&heads);
    assert_eq!(size.label, "Size");
    assert_eq!(size.aria_sort.as_deref(), Some("ascending"));
    assert_eq!(size.mark, " \u{25b2}");

    // And the Modified header's link from there: oldest first.
    let url = resolve(&url, &modified.href);
    assert_eq!(url, format!("{base}?sort=mtime&order=asc"));
    let dom = dump_dom(&chromium, &tmp, "mtime-asc", &url);
    assert_eq!(
        names(&rows(&dom)),
        ["sub/", "B.txt", "file10.txt", "a.txt", "file2.txt"],
        "{dom}"
    );
    let modified = active(&headers(&dom)).label.clone();
    assert_eq!(modified, "Modified");
}

// ---------------------------------------------------------------- uploads

/// A page that opens the listing of `/inbox/` in a frame (same origin),
/// picks two files in its upload form as a person would (a script cannot
/// type a path, but it may hand the input files through a `DataTransfer`,
/// as a drag and drop does), submits the form, and once the frame has
/// followed the 303 back to the listing, writes into `#out` where it ended
/// and the names the listing shows.
const PICKER: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>upload from a browser</title></head>
<body>
<pre id="out">pending</pre>
<iframe id="frame" src="/inbox/"></iframe>
<script>
const out = document.getElementById("out");
const frame = document.getElementById("frame");
let submitted = false;
frame.addEventListener("load", () => {
  const doc = frame.contentDocument;
  if (!submitted) {
    submitted = true;
    const form = doc.querySelector("form.upload");
    if (!form) { out.textContent = "no form"; return; }
    const picked = new DataTransfer();
    picked.items.add(new File(["picked in a browser\n"], "from-chromium.txt", { type: "text/plain" }));
    picked.items.add(new File(["second\n"], "second file.txt"));
    form.querySelector("input[type=file]").files = picked.files;
    form.requestSubmit();
  } else {
    const names = [...doc.querySelectorAll("tbody a")].map((a) => a.textContent);
    out.textContent = "after:" + doc.location.pathname + ":" + names.join("|");
  }
});
</script>
</body>
</html>
"#;

#[test]
fn a_file_picked_in_the_listing_form_is_stored_and_listed() {
    let Some(chromium) = chromium() else {
        eprintln!("SKIPPED: chromium not installed");
        return;
    };
    let tmp = TempDir::new("upload-browser-chromium");
    let root = TempDir::new("upload-browser-root");
    root.file("picker.html", PICKER);
    root.dir("inbox");
    let mut config = Config::new(root.path()).unwrap();
    config.upload = true;
    let server = TestServer::start(config);
    let dom = dump_dom(
        &chromium,
        &tmp,
        "upload",
        &format!("http://{}/picker.html", server.addr),
    );
    assert_eq!(
        out_text(&dom),
        "after:/inbox/:../|from-chromium.txt|second file.txt"
    );
    let inbox = root.path().join("inbox");
    assert_eq!(
        std::fs::read_to_string(inbox.join("from-chromium.txt")).unwrap(),
        "picked in a browser\n"
    );
    assert_eq!(
        std::fs::read_to_string(inbox.join("second file.txt")).unwrap(),
        "second\n"
    );
}
