//! The access log: one Common Log Format line per answered request, logged
//! at `Info` with target `"access"`.
//!
//! This file is its own test binary, so it installs its own global logger
//! that captures every record. Tests here take `SERIAL` so that each sees
//! only the records of its own requests.

mod common;

use std::sync::{Mutex, MutexGuard, Once};

use common::*;
use log::{Level, Log, Metadata, Record};

/// A captured record: target, level, message.
type Captured = (String, Level, String);

static RECORDS: Mutex<Vec<Captured>> = Mutex::new(Vec::new());
static SERIAL: Mutex<()> = Mutex::new(());

struct Capture;

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        RECORDS.lock().unwrap().push((
            record.target().to_string(),
            record.level(),
            record.args().to_string(),
        ));
    }

    fn flush(&self) {}
}

/// Installs the capturing logger (once) and serialises the tests.
fn setup() -> MutexGuard<'static, ()> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_boxed_logger(Box::new(Capture)).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    RECORDS.lock().unwrap().clear();
    guard
}

/// The `"access"` records captured so far.
fn access_records() -> Vec<(Level, String)> {
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(target, _, _)| target == "access")
        .map(|(_, level, msg)| (*level, msg.clone()))
        .collect()
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// True for a CLF time: `dd/Mon/yyyy:HH:MM:SS +0000`.
fn is_clf_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 26 || !s.is_ascii() {
        return false;
    }
    let num = |r: std::ops::Range<usize>, max: u32| {
        b[r.clone()].iter().all(u8::is_ascii_digit) && s[r].parse::<u32>().unwrap() <= max
    };
    num(0..2, 31)
        && b[2] == b'/'
        && MONTHS.contains(&&s[3..6])
        && b[6] == b'/'
        && num(7..11, 9999)
        && b[11] == b':'
        && num(12..14, 23)
        && b[14] == b':'
        && num(15..17, 59)
        && b[17] == b':'
        && num(18..20, 60)
        && &s[20..] == " +0000"
}

/// Splits `127.0.0.1 - - [time] rest` into time and rest, asserting the
/// fixed parts.
fn split_clf(line: &str) -> (&str, &str) {
    let rest = line
        .strip_prefix("127.0.0.1 - - [")
        .unwrap_or_else(|| panic!("not a CLF line from 127.0.0.1: {line:?}"));
    let (time, rest) = rest
        .split_once("] ")
        .unwrap_or_else(|| panic!("no closing bracket: {line:?}"));
    assert!(is_clf_time(time), "not a CLF time: {time:?} in {line:?}");
    (time, rest)
}

/// Serves, runs `exchange` with a client, stops the server (so that every
/// record has been written), and returns the access records.
fn logged(exchange: impl FnOnce(&mut Client)) -> Vec<(Level, String)> {
    let root = TempDir::new("log");
    root.file("a.txt", "hello");
    let server = TestServer::serve(root.path());
    let mut c = server.connect();
    exchange(&mut c);
    drop(c);
    server.stop();
    access_records()
}

#[test]
fn get_logs_one_common_log_format_line() {
    let _serial = setup();
    let records = logged(|c| {
        let r = c.request(get("/a.txt"));
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    });
    assert_eq!(records.len(), 1, "{records:?}");
    let (level, line) = &records[0];
    assert_eq!(*level, Level::Info, "{line:?}");
    let (_, rest) = split_clf(line);
    assert_eq!(rest, "\"GET /a.txt HTTP/1.1\" 200 5", "{line:?}");
}

#[test]
fn each_request_on_a_connection_logs_its_own_line() {
    let _serial = setup();
    let records = logged(|c| {
        c.send(format!(
            "{}GET /missing HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            get("/a.txt")
        ));
        assert_eq!(c.read_response().status, 200);
        let r = c.read_response();
        assert_eq!(r.status, 404);
    });
    assert_eq!(records.len(), 2, "{records:?}");
    let (_, first) = split_clf(&records[0].1);
    assert_eq!(first, "\"GET /a.txt HTTP/1.1\" 200 5");
    let (_, second) = split_clf(&records[1].1);
    let (request_status, size) = second.rsplit_once(' ').unwrap();
    assert_eq!(request_status, "\"GET /missing HTTP/1.0\" 404");
    assert!(
        size.parse::<u64>().is_ok_and(|n| n > 0),
        "{second:?}: the 404 page's size"
    );
}

#[test]
fn head_logs_no_body_bytes() {
    let _serial = setup();
    let records = logged(|c| {
        let r = c.request("HEAD /a.txt HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!(r.status, 200);
    });
    assert_eq!(records.len(), 1, "{records:?}");
    let (_, rest) = split_clf(&records[0].1);
    assert!(
        rest == "\"HEAD /a.txt HTTP/1.1\" 200 0" || rest == "\"HEAD /a.txt HTTP/1.1\" 200 -",
        "{rest:?}"
    );
}

#[test]
fn error_responses_are_logged_too() {
    let _serial = setup();
    let records = logged(|c| {
        // A framing error: answered 400, then the connection closes.
        let r = c.request("POST /a.txt HTTP/1.1\r\nHost: test\r\nContent-Length: x\r\n\r\n");
        assert_eq!(r.status, 400);
    });
    assert_eq!(records.len(), 1, "{records:?}");
    let (_, rest) = split_clf(&records[0].1);
    let (request_status, _size) = rest.rsplit_once(' ').unwrap();
    assert_eq!(request_status, "\"POST /a.txt HTTP/1.1\" 400");
}

#[test]
fn a_malformed_request_line_is_logged_escaped() {
    let _serial = setup();
    let records = logged(|c| {
        let r = c.request("GET /\"x HTTP/x\r\n\r\n");
        assert_eq!(r.status, 400);
    });
    assert_eq!(records.len(), 1, "{records:?}");
    let (_, rest) = split_clf(&records[0].1);
    let (request_status, _size) = rest.rsplit_once(' ').unwrap();
    assert_eq!(request_status, "\"GET /\\\"x HTTP/x\" 400");
}
