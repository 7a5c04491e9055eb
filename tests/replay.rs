//! The replay example's comparison of responses (`examples/replay/compare.rs`):
//! pure functions over bytes, pinned by tables.

#[path = "../examples/replay/compare.rs"]
mod compare;

use compare::{Responded, Verdict};

const DATE_A: &str = "Date: Wed, 02 Dec 2026 13:43:41 GMT";
const DATE_B: &str = "Date: Thu, 03 Dec 2026 01:02:03 GMT";

/// A response of this server's shape.
fn response(status: &str, fields: &[&str], body: &str, date: &str) -> String {
    let mut s = format!("HTTP/1.1 {status}\r\nServer: asynchat-httpd/0.1.0\r\n{date}\r\n");
    for f in fields {
        s.push_str(f);
        s.push_str("\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s
}

#[test]
fn respond_lines_give_status_and_body_sent() {
    let cases = [
        (
            "respond 200, body 257 bytes, then keep alive",
            Some((200, 257)),
        ),
        ("respond 408, body 226 bytes, then close", Some((408, 226))),
        ("respond 200, body 0 bytes, then keep alive", Some((200, 0))),
        ("respond two, body 1 bytes", None),
        ("push bytes piece: 66 bytes", None),
        ("respond 200", None),
    ];
    for (line, want) in cases {
        let got = compare::responded(line).map(|r| (r.status, r.body));
        assert_eq!(got, want, "{line}");
    }
}

#[test]
fn date_values_are_masked_in_place() {
    let cases: &[(&str, &str)] = &[
        ("x\r\nDate: Wed, 02 Dec\r\ny", "x\r\nDate: ***********\r\ny"),
        ("no date here", "no date here"),
        (
            "a\r\nDate: 1\r\nDate: 22\r\n",
            "a\r\nDate: *\r\nDate: **\r\n",
        ),
        (
            "Date: at the start is not a field",
            "Date: at the start is not a field",
        ),
        ("x\r\nDate: to the end", "x\r\nDate: **********"),
    ];
    for (input, want) in cases {
        let got = compare::mask_dates(input.as_bytes());
        assert_eq!(String::from_utf8(got).unwrap(), *want);
    }
}

#[test]
fn the_first_difference_skips_what_the_capture_left_out() {
    /// Recorded, its omitted spans, replayed, the first difference.
    type Case<'a> = (&'a str, &'a [(u64, u64)], &'a str, Option<usize>);
    let cases: &[Case] = &[
        ("abc", &[], "abc", None),
        ("abc", &[], "abd", Some(2)),
        ("abc", &[(2, 1)], "abd", None),
        ("a\0\0d", &[(1, 2)], "axyd", None),
        ("a\0\0d", &[(1, 2)], "axye", Some(3)),
        ("abc", &[], "abcdef", Some(3)),
        ("abcdef", &[], "abc", Some(3)),
        ("", &[], "", None),
    ];
    for (rec, spans, rep, want) in cases {
        assert_eq!(
            compare::first_difference(rec.as_bytes(), spans, rep.as_bytes()),
            *want,
            "{rec:?} {spans:?} {rep:?}"
        );
    }
}

#[test]
fn responses_are_cut_by_the_bodies_sent_and_head_requests_are_told_apart() {
    let get = response("200 OK", &["ETag: \"5-1-00\""], "hello", DATE_A);
    let head = response("200 OK", &["ETag: \"5-1-00\""], "hello", DATE_A)
        .strip_suffix("hello")
        .unwrap()
        .to_string();
    let interim = "HTTP/1.1 100 Continue\r\n\r\n";
    let stream = format!("{get}{interim}{head}{get}");
    let said = [
        Responded {
            status: 200,
            body: 5,
        },
        Responded {
            status: 200,
            body: 0,
        },
        Responded {
            status: 200,
            body: 5,
        },
    ];
    let replayed = compare::split_replayed(stream.as_bytes(), &said);
    let shape: Vec<(u16, usize, bool)> = replayed
        .iter()
        .map(|r| (r.status, r.body_len, r.complete))
        .collect();
    assert_eq!(
        shape,
        [
            (200, 5, true),
            (100, 0, true),
            (200, 0, true),
            (200, 5, true)
        ]
    );
    // The recorded stream is cut the same way, its HEAD told from the
    // replay's response to the same request.
    let recorded = compare::split_recorded(stream.as_bytes(), &replayed);
    assert_eq!(recorded, replayed);
    // A stream that ends inside a body.
    let short = &stream[..get.len() - 2];
    let cut = compare::split_replayed(short.as_bytes(), &said);
    assert_eq!((cut.len(), cut[0].body_len, cut[0].complete), (1, 3, false));
}

#[test]
fn etags_say_what_changed_in_the_file() {
    let cases = [
        (
            "\"101-6b101d10-8957621e3393614d\"",
            "\"101-6b101d10-8957621e3393614d\"",
            "the same file",
        ),
        (
            "\"101-6b101d10-8957621e3393614d\"",
            "\"102-6b101d10-8957621e3393614d\"",
            "size differs (257 bytes served, 258 now)",
        ),
        (
            "\"101-6b101d10-8957621e3393614d\"",
            "\"101-6b10211a-8957621e3393614d\"",
            "modified at another time",
        ),
        (
            "\"101-6b101d10-8957621e3393614d\"",
            "\"101-6b101d10-0000000000000001\"",
            "but another version of the file",
        ),
        (
            "\"3e8--5f5e100-aa\"",
            "\"3e8--5f5e100-bb\"",
            "but another version of the file",
        ),
        ("W/\"weak\"", "\"101-6b101d10-89\"", "a different file"),
    ];
    for (a, b, want) in cases {
        let got = compare::explain_etags(a, b);
        assert!(got.contains(want), "{a} {b}: {got}");
    }
}

#[test]
fn comparisons_blame_files_only_when_only_files_differ() {
    let page = |status: &str, etag: &str, body: &str, date: &str| {
        response(
            status,
            &[&format!("ETag: {etag}"), "Content-Type: text/plain"],
            body,
            date,
        )
    };
    let error = |date: &str| {
        response(
            "405 Method Not Allowed",
            &["Allow: GET, HEAD, OPTIONS"],
            "<p>no</p>",
            date,
        )
    };
    let served = format!(
        "{}{}",
        error(DATE_A),
        page("200 OK", "\"5-1-aa\"", "hello", DATE_A)
    );
    let said = |body: u64| {
        [
            Responded {
                status: 405,
                body: 9,
            },
            Responded { status: 200, body },
        ]
    };
    /// What, the replay's output, its respond lines, the verdict, and
    /// what the report says.
    type Case<'a> = (&'a str, String, Vec<Responded>, Verdict, &'a [&'a str]);
    let cases: Vec<Case> = vec![
        (
            "the same but for the date",
            format!(
                "{}{}",
                error(DATE_B),
                page("200 OK", "\"5-1-aa\"", "hello", DATE_B)
            ),
            said(5).to_vec(),
            Verdict::Same,
            &["identical to the"],
        ),
        (
            "another copy of the file",
            format!(
                "{}{}",
                error(DATE_B),
                page("200 OK", "\"5-1-bb\"", "hello", DATE_B)
            ),
            said(5).to_vec(),
            Verdict::Files,
            &[
                "response 2 (HTTP/1.1 200 OK):",
                "but another version of the file",
                "the body is the same (5 bytes)",
            ],
        ),
        (
            "the file changed",
            format!(
                "{}{}",
                error(DATE_B),
                page("200 OK", "\"6-2-cc\"", "hello!", DATE_B)
            ),
            said(6).to_vec(),
            Verdict::Files,
            &[
                "content-length: \"5\" recorded, \"6\" replayed",
                "the bodies are the same for 5 bytes, then one ends",
            ],
        ),
        (
            "the file is gone",
            format!(
                "{}{}",
                error(DATE_B),
                response("404 Not Found", &[], "<p>gone</p>", DATE_B)
            ),
            [
                Responded {
                    status: 405,
                    body: 9,
                },
                Responded {
                    status: 404,
                    body: 11,
                },
            ]
            .to_vec(),
            Verdict::Files,
            &[
                "status \"HTTP/1.1 200 OK\" recorded, \"HTTP/1.1 404 Not Found\" replayed: the file is not in the replay's root",
            ],
        ),
        (
            "another answer to the first request",
            format!(
                "{}{}",
                response("400 Bad Request", &[], "<p>bad</p>", DATE_B),
                page("200 OK", "\"5-1-aa\"", "hello", DATE_B)
            ),
            [
                Responded {
                    status: 400,
                    body: 10,
                },
                Responded {
                    status: 200,
                    body: 5,
                },
            ]
            .to_vec(),
            Verdict::Answers,
            &[
                "first difference at byte 11 of the responses (response 1, its status line)",
                "not only in files",
            ],
        ),
        (
            "an answer field that is not the file's",
            format!(
                "{}{}",
                response(
                    "405 Method Not Allowed",
                    &["Allow: GET"],
                    "<p>no</p>",
                    DATE_B
                ),
                page("200 OK", "\"5-1-aa\"", "hello", DATE_B)
            ),
            said(5).to_vec(),
            Verdict::Answers,
            &[
                "(response 1, its Allow field)",
                "allow: \"GET, HEAD, OPTIONS\" recorded, \"GET\" replayed",
            ],
        ),
        (
            "one response missing",
            error(DATE_B),
            said(5)[..1].to_vec(),
            Verdict::Answers,
            &["2 responses recorded, 1 replayed"],
        ),
    ];
    for (what, replayed, said, verdict, want) in cases {
        let report = compare::compare(served.as_bytes(), &[], replayed.as_bytes(), &said);
        let text = report.lines.join("\n");
        assert_eq!(report.verdict, verdict, "{what}:\n{text}");
        for w in want {
            assert!(text.contains(w), "{what}: no {w:?} in\n{text}");
        }
        assert_eq!(
            report.first_difference.is_none(),
            verdict == Verdict::Same,
            "{what}"
        );
    }
}

#[test]
fn bytes_the_capture_left_out_are_compared_by_length() {
    let body = "x".repeat(40);
    let served = response("200 OK", &["ETag: \"28-1-aa\""], &body, DATE_A);
    let at = (served.len() - 40) as u64;
    let mut recorded = served.clone().into_bytes();
    recorded[at as usize..].fill(0);
    let replayed = response("200 OK", &["ETag: \"28-1-aa\""], &body, DATE_B);
    let said = [Responded {
        status: 200,
        body: 40,
    }];
    let report = compare::compare(&recorded, &[(at, 40)], replayed.as_bytes(), &said);
    assert_eq!(report.verdict, Verdict::Same, "{:?}", report.lines);
    assert!(report.lines[0].contains("40 of them left out of the capture and compared by length"));
    let longer = response(
        "200 OK",
        &["ETag: \"28-1-aa\""],
        &format!("{body}y"),
        DATE_B,
    );
    let report = compare::compare(
        &recorded,
        &[(at, 40)],
        longer.as_bytes(),
        &[Responded {
            status: 200,
            body: 41,
        }],
    );
    assert_ne!(report.verdict, Verdict::Same);
}
