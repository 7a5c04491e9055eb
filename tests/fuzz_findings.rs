//! Regression tests for what the fuzz targets (`fuzz/`) and their oracles
//! found, one test per finding, named after it.

mod channel_check;

use asynchat::Limits;
use channel_check::{Plan, Site, drive, parse_output};

/// The status of each response to `input`, sent as one read.
fn statuses(site: &Site, input: &[u8]) -> (Vec<u16>, Vec<u8>) {
    let plan = Plan {
        reads: Vec::new(),
        limits: Limits::default(),
    };
    let run = drive(&site.root, input, &plan);
    let (responses, _) = parse_output(&run.output).expect("well-framed output");
    (responses.iter().map(|r| r.status).collect(), run.output)
}

/// Found while writing the `head` target's oracle: `parse` kept only the
/// last of several `If-None-Match` fields, which RFC 9110 §5.3 makes one
/// list, so a tag matched by the first of two fields got a 200 instead of a
/// 304 (fixed in b211655: the fields are joined with `, `).
#[test]
fn if_none_match_fields_are_combined() {
    let site = Site::new("finding-inm");
    let (_, first) = statuses(&site, b"GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    let text = String::from_utf8_lossy(&first);
    let etag = text
        .lines()
        .find_map(|l| l.strip_prefix("ETag: "))
        .expect("an ETag")
        .trim()
        .to_string();
    for fields in [
        format!("If-None-Match: \"other\"\r\nIf-None-Match: {etag}\r\n"),
        format!("If-None-Match: {etag}\r\nIf-None-Match: \"other\"\r\n"),
    ] {
        let request = format!("GET /a.txt HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
        let (got, _) = statuses(&site, request.as_bytes());
        assert_eq!(got, [304], "{fields:?}");
    }
}
