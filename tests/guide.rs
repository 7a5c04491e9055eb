//! The guide (`src/guide.md`) and the replay example it is built on.
//!
//! Every trace block in the guide that follows a `<!-- replay: CAPTURE
//! ARGS -->` marker is compared with what `examples/replay` prints for
//! that capture: line for line, or, where the block has `...` lines, as the
//! same lines in the same order with the rest left out. The captures'
//! responses are checked too, and that they do not depend on how the input
//! is split into reads. A block after `<!-- capture: FILE -->` must be
//! lines of that capture file, in order, and one after `<!--
//! replay-report: FILE -->` lines of what the replay concludes (its `---`
//! lines). `cargo test` builds the examples before it runs this file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn replay_binary() -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop(); // the test binary
    path.pop(); // deps/
    path.push("examples");
    path.push("replay");
    path
}

/// A copy of the files the captures ask for, with fixed modification times,
/// so that the `ETag` and `Last-Modified` fields (and so the field block's
/// size in the trace) are the same on every checkout.
struct FixedRoot(PathBuf);

impl FixedRoot {
    fn new(name: &str) -> FixedRoot {
        let dir =
            std::env::temp_dir().join(format!("asynchat-guide-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
        for file in ["hello.txt", "index.html", "style.css"] {
            let to = dir.join(file);
            fs::copy(manifest_dir().join("www").join(file), &to).unwrap();
            fs::File::options()
                .write(true)
                .open(&to)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
        FixedRoot(dir)
    }
}

impl Drop for FixedRoot {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn replay(root: &Path, args: &[&str]) -> Output {
    let out = Command::new(replay_binary())
        .arg("--root")
        .arg(root)
        .args(args)
        .current_dir(manifest_dir())
        .stdin(Stdio::null())
        .output()
        .expect("the replay example was built by cargo test");
    // A capture replayed against this copy differs from what was sent in
    // the files' identity (their ETags), which replay reports with exit 2.
    assert!(
        out.status.success()
            || (out.status.code() == Some(2) && args.iter().any(|a| a.ends_with(".cap"))),
        "replay {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The trace lines replay printed, and the bytes the channel wrote.
fn split_output(out: &[u8]) -> (Vec<String>, Vec<u8>) {
    let marker = b"\n--- ";
    let at = memchr::memmem::find(out, marker).expect("a '--- N bytes out:' line");
    let trace = String::from_utf8(out[..at].to_vec()).unwrap();
    let rest = &out[at + 1..];
    let eol = rest.iter().position(|&b| b == b'\n').unwrap();
    let count: usize = String::from_utf8_lossy(&rest[..eol])
        .strip_prefix("--- ")
        .and_then(|l| l.strip_suffix(" bytes out:"))
        .and_then(|n| n.parse().ok())
        .expect("'--- N bytes out:'");
    let written = &rest[eol + 1..eol + 1 + count];
    (
        trace.lines().map(str::to_string).collect(),
        written.to_vec(),
    )
}

fn capture(name: &str) -> String {
    format!("examples/captures/{name}")
}

/// The guide's replay blocks: (arguments, expected lines).
fn guide_blocks() -> Vec<(Vec<String>, Vec<String>)> {
    let guide = fs::read_to_string(manifest_dir().join("src/guide.md")).unwrap();
    let mut blocks = Vec::new();
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        let Some(spec) = line
            .strip_prefix("<!-- replay: ")
            .and_then(|s| s.strip_suffix(" -->"))
        else {
            continue;
        };
        let mut words = spec.split_whitespace();
        let file = words.next().expect("a capture name");
        let mut args: Vec<String> = words.map(str::to_string).collect();
        args.push(capture(file));
        assert_eq!(lines.next(), Some("```text"), "a text block after {line}");
        let block: Vec<String> = lines
            .by_ref()
            .take_while(|l| *l != "```")
            .map(str::to_string)
            .collect();
        blocks.push((args, block));
    }
    blocks
}

#[test]
fn the_guides_traces_are_what_replay_prints() {
    let root = FixedRoot::new("blocks");
    let blocks = guide_blocks();
    assert!(blocks.len() >= 4, "found {} replay blocks", blocks.len());
    for (args, want) in blocks {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (got, _) = split_output(&replay(&root.0, &args).stdout);
        if !want.iter().any(|l| l == "...") {
            assert_eq!(got, want, "replay {args:?}");
            continue;
        }
        // The block's lines, in order, with anything between them.
        let mut at = 0;
        for line in want.iter().filter(|l| *l != "...") {
            match got[at..].iter().position(|g| g == line) {
                Some(i) => at += i + 1,
                None => panic!(
                    "replay {args:?}: {line:?} is not in order in\n{}",
                    got.join("\n")
                ),
            }
        }
        if want.first().is_some_and(|l| l != "...") {
            assert_eq!(
                got.first(),
                want.first(),
                "replay {args:?} starts differently"
            );
        }
    }
}

/// The status lines of a byte stream of responses, in order.
fn statuses(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_capture_is_answered_as_the_guide_says() {
    let root = FixedRoot::new("answers");
    let cases: &[(&str, &[&str])] = &[
        (
            "pipelined-gets.http",
            &[
                "HTTP/1.1 200 OK",
                "HTTP/1.1 200 OK",
                "HTTP/1.1 206 Partial Content",
            ],
        ),
        (
            "post-then-get.http",
            &["HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 200 OK"],
        ),
        (
            "chunked-post-trailers.http",
            &["HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 200 OK"],
        ),
        (
            "medusa-content-length-zero.cap",
            &["HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 200 OK"],
        ),
        (
            "medusa-unread-body.cap",
            &["HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 200 OK"],
        ),
    ];
    let hello = fs::read(manifest_dir().join("www/hello.txt")).unwrap();
    let index = fs::read(manifest_dir().join("www/index.html")).unwrap();
    assert_eq!(
        index.len(),
        6355,
        "www/index.html changed: update this test"
    );
    for (name, want) in cases {
        let (trace, out) = split_output(&replay(&root.0, &[&capture(name)]).stdout);
        assert_eq!(statuses(&out), *want, "{name}");
        // The second answer of each two-request capture is hello.txt itself.
        if want.len() == 2 {
            assert!(out.ends_with(&hello), "{name}: does not end with hello.txt");
        }
        // The request smuggled in the unread body is never answered: no
        // response carries index.html.
        if *name == "medusa-unread-body.cap" {
            assert!(memchr::memmem::find(&out, &index).is_none(), "{name}");
            let index_length = format!("Content-Length: {}\r\n", index.len());
            assert!(!String::from_utf8_lossy(&out).contains(&index_length));
        }
        assert_eq!(
            trace.last().map(String::as_str),
            Some("close: done"),
            "{name}"
        );
    }
}

#[test]
fn the_chunked_capture_walks_the_chunk_framing() {
    let root = FixedRoot::new("chunked");
    let (trace, _) =
        split_output(&replay(&root.0, &[&capture("chunked-post-trailers.http")]).stdout);
    let walk: Vec<&str> = trace
        .iter()
        .map(String::as_str)
        .filter(|l| {
            l.starts_with("chunk")
                || l.starts_with("last chunk")
                || l.starts_with("end of")
                || l.starts_with("set_terminator")
        })
        .collect();
    assert_eq!(
        walk,
        [
            r#"set_terminator blank line -> "\n""#,
            "chunk of 5 bytes",
            r#"set_terminator "\n" -> 5 bytes"#,
            r#"set_terminator 0 bytes -> "\n""#,
            "chunk of 7 bytes",
            r#"set_terminator "\n" -> 7 bytes"#,
            r#"set_terminator 0 bytes -> "\n""#,
            "last chunk: trailer fields follow",
            "end of trailers: body complete",
            r#"set_terminator "\n" -> blank line"#,
        ]
    );
}

#[test]
fn responses_do_not_depend_on_how_reads_are_split() {
    let root = FixedRoot::new("splits");
    let names: Vec<String> = fs::read_dir(manifest_dir().join("examples/captures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".http") || n.ends_with(".cap"))
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    let mut args = vec!["--check".to_string()];
    args.extend(names.iter().map(|n| capture(n)));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = String::from_utf8(replay(&root.0, &args).stdout).unwrap();
    assert_eq!(out.lines().count(), names.len(), "{out}");
    for line in out.lines() {
        // A capture is replayed in its recorded reads and in one read too.
        let splits = if line.contains(".cap:") { 130 } else { 129 };
        assert!(
            line.ends_with(&format!("the same responses for {splits} splits")),
            "{line}"
        );
    }
    // And directly: a split into single bytes gives the same bytes as one
    // read (apart from the Date, which may tick between the two runs).
    for name in &names {
        let whole = split_output(&replay(&root.0, &[&capture(name)]).stdout).1;
        let bytes = split_output(&replay(&root.0, &["--chunk", "1", &capture(name)]).stdout).1;
        assert_eq!(without_dates(&whole), without_dates(&bytes), "{name}");
    }
}

fn without_dates(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.starts_with("Date: "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn replay_reads_standard_input_and_reports_bad_input() {
    let root = FixedRoot::new("stdin");
    let input = fs::read(manifest_dir().join(capture("post-then-get.http"))).unwrap();
    let mut child = Command::new(replay_binary())
        .args(["--root", root.0.to_str().unwrap(), "--random", "7", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let (trace, written) = split_output(&out.stdout);
    assert_eq!(statuses(&written).len(), 2);
    // Random reads of 1 to 32 bytes: more than one read, none larger.
    let reads: Vec<&String> = trace
        .iter()
        .filter(|l| l.starts_with("read ") && l.contains(" bytes "))
        .collect();
    assert!(reads.len() > 3, "{reads:?}");

    let missing = Command::new(replay_binary())
        .arg("examples/captures/no-such-capture.http")
        .current_dir(manifest_dir())
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.starts_with("replay: examples/captures/no-such-capture.http: "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// The guide's blocks after `<!-- KIND: FILE -->`: (file, lines).
fn marked_blocks(kind: &str) -> Vec<(String, Vec<String>)> {
    let guide = fs::read_to_string(manifest_dir().join("src/guide.md")).unwrap();
    let open = format!("<!-- {kind}: ");
    let mut blocks = Vec::new();
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        let Some(file) = line
            .strip_prefix(&open)
            .and_then(|s| s.strip_suffix(" -->"))
        else {
            continue;
        };
        assert_eq!(lines.next(), Some("```text"), "a text block after {line}");
        let block = lines
            .by_ref()
            .take_while(|l| *l != "```")
            .map(str::to_string)
            .collect();
        blocks.push((file.to_string(), block));
    }
    blocks
}

/// `got` has `want`'s lines in order, `...` standing for any lines.
fn assert_in_order(what: &str, want: &[String], got: &[String]) {
    let mut at = 0;
    for line in want.iter().filter(|l| *l != "...") {
        match got[at..].iter().position(|g| g == line) {
            Some(i) => at += i + 1,
            None => panic!("{what}: {line:?} is not in order in\n{}", got.join("\n")),
        }
    }
}

#[test]
fn the_guides_capture_excerpts_are_in_the_files() {
    let blocks = marked_blocks("capture");
    assert!(!blocks.is_empty());
    for (file, want) in blocks {
        let bytes = fs::read(manifest_dir().join(capture(&file))).unwrap();
        let got: Vec<String> = String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(want.first(), got.first(), "{file}");
        assert_in_order(&file, &want, &got);
    }
}

#[test]
fn the_guides_replay_reports_are_what_replay_says() {
    let root = FixedRoot::new("reports");
    let blocks = marked_blocks("replay-report");
    assert!(blocks.len() >= 2, "{} report blocks", blocks.len());
    for (file, want) in blocks {
        let out = replay(&root.0, &[&capture(&file)]);
        let got: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("--- ") && !l.ends_with(" bytes out:"))
            .map(str::to_string)
            .collect();
        assert_in_order(&file, &want, &got);
    }
}
