//! The terminator loop, fed from memory: `find_prefix_at_end`, every
//! consequence 1-7 of the contract, the deliberate deviations from CPython
//! (close stops delivery, back-pressure, end of stream) and a split-invariance
//! property over random streams and random cuts.
//!
//! Every table row runs twice: through the pure `terminator::run` with a
//! recording `Records` sink (the caller keeps the unconsumed bytes, as the
//! contract's "input buffer"), and through `Channel::feed` with a recording
//! `AsyncChat` handler. Both must give the same events.

use std::collections::VecDeque;

use asynchat::terminator::{self, Records};
use asynchat::{AsyncChat, Channel, Limits, NegativeCount, Terminator, find_prefix_at_end};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Recording handlers
// ---------------------------------------------------------------------------

/// One callback, as the handler saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Collect(Vec<u8>),
    Found,
    /// `handle_eof` ran (only the channel driver records it).
    Eof,
}

use Ev::{Eof, Found as F};

fn c(data: &[u8]) -> Ev {
    Ev::Collect(data.to_vec())
}

/// How a handler picks the next terminator in `found_terminator`.
#[derive(Debug, Clone)]
enum Switch {
    /// Never changes it.
    Keep,
    /// Sets these terminators in turn, one per record, then keeps the last.
    Script(VecDeque<Terminator>),
    /// HTTP-like: a head collected under `"\r\n\r\n"` that is a decimal
    /// number of one or two digits switches to that count; the end of the
    /// body switches back to `"\r\n\r\n"`.
    Http { in_body: bool },
    /// The same under [`Terminator::BlankLine`]: a head of one line that
    /// is such a number switches to that count, and back.
    HttpBlank { in_body: bool },
}

fn script(ts: &[Terminator]) -> Switch {
    Switch::Script(ts.iter().cloned().collect())
}

const HEAD: Terminator = Terminator::bytes(b"\r\n\r\n");

/// The handler logic shared by both drivers.
#[derive(Debug)]
struct Logic {
    events: Vec<Ev>,
    record: Vec<u8>,
    records: Vec<Vec<u8>>,
    switch: Switch,
}

impl Logic {
    fn new(switch: Switch) -> Logic {
        Logic {
            events: Vec::new(),
            record: Vec::new(),
            records: Vec::new(),
            switch,
        }
    }

    fn collect(&mut self, data: &[u8]) {
        assert!(!data.is_empty(), "an empty chunk was delivered");
        self.events.push(Ev::Collect(data.to_vec()));
        self.record.extend_from_slice(data);
    }

    /// Records the end of a record; returns the terminator to switch to.
    fn found(&mut self) -> Option<Terminator> {
        self.events.push(Ev::Found);
        let record = std::mem::take(&mut self.record);
        let next = match &mut self.switch {
            Switch::Keep => None,
            Switch::Script(ts) => ts.pop_front(),
            Switch::Http { in_body } => http_switch(in_body, &record, HEAD),
            Switch::HttpBlank { in_body } => {
                let line = record.strip_suffix(b"\n").unwrap_or(&record);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                http_switch(in_body, line, Terminator::BlankLine)
            }
        };
        self.records.push(record);
        next
    }
}

/// The HTTP-like switch: a body's end switches back to `head`, a head
/// that is a number of one or two digits to that count.
fn http_switch(in_body: &mut bool, head_record: &[u8], head: Terminator) -> Option<Terminator> {
    if *in_body {
        *in_body = false;
        Some(head)
    } else if (1..=2).contains(&head_record.len()) && head_record.iter().all(u8::is_ascii_digit) {
        *in_body = true;
        let n: u64 = std::str::from_utf8(head_record).unwrap().parse().unwrap();
        Some(Terminator::Count(n))
    } else {
        None
    }
}

/// A `Records` sink for the pure loop.
struct Pure {
    term: Terminator,
    logic: Logic,
}

impl Records for Pure {
    fn terminator(&mut self) -> &mut Terminator {
        &mut self.term
    }

    fn collect_incoming_data(&mut self, data: &[u8]) {
        self.logic.collect(data);
    }

    fn found_terminator(&mut self) {
        if let Some(t) = self.logic.found() {
            self.term = t;
        }
    }
}

/// What a channel handler does with a complete record besides recording it.
type Hook = fn(&mut Channel, &[u8]);

/// An `AsyncChat` handler for `Channel::feed`.
struct Chat {
    logic: Logic,
    hook: Option<Hook>,
}

impl Chat {
    fn new(switch: Switch) -> Chat {
        Chat {
            logic: Logic::new(switch),
            hook: None,
        }
    }

    fn with_hook(hook: Hook) -> Chat {
        Chat {
            logic: Logic::new(Switch::Keep),
            hook: Some(hook),
        }
    }
}

impl AsyncChat for Chat {
    fn collect_incoming_data(&mut self, _chan: &mut Channel, data: &[u8]) {
        self.logic.collect(data);
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        if let Some(t) = self.logic.found() {
            chan.set_terminator(t);
        }
        if let Some(hook) = self.hook {
            let record = self.logic.records.last().unwrap().clone();
            hook(chan, &record);
        }
    }

    fn handle_eof(&mut self, chan: &mut Channel) {
        self.logic.events.push(Ev::Eof);
        chan.close_when_done();
    }
}

/// What a driver ends with.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Complete records (collected data joined between `found_terminator`s).
    records: Vec<Vec<u8>>,
    /// Data collected after the last record.
    trailing: Vec<u8>,
    /// Input held back (a partial terminator).
    held: Vec<u8>,
    /// The terminator in force at the end.
    terminator: Terminator,
}

/// Feeds `reads` to the pure loop, keeping what it does not consume in front
/// of the next read as a channel does.
fn drive_pure(term: Terminator, switch: Switch, reads: &[&[u8]]) -> (Vec<Ev>, Outcome) {
    let mut sink = Pure {
        term,
        logic: Logic::new(switch),
    };
    let mut buffer = Vec::new();
    for read in reads {
        buffer.extend_from_slice(read);
        let used = terminator::run(&mut sink, &buffer);
        assert!(used <= buffer.len());
        buffer.drain(..used);
    }
    let outcome = Outcome {
        records: sink.logic.records,
        trailing: sink.logic.record,
        held: buffer,
        terminator: sink.term,
    };
    (sink.logic.events, outcome)
}

/// Feeds `reads` to a channel (no end of stream).
fn drive_channel(term: Terminator, switch: Switch, reads: &[&[u8]]) -> (Vec<Ev>, Outcome) {
    let mut chan = Channel::new(term);
    let mut chat = Chat::new(switch);
    for read in reads {
        chan.feed(&mut chat, read);
    }
    let outcome = Outcome {
        records: chat.logic.records,
        trailing: chat.logic.record,
        held: chan.pending_input().to_vec(),
        terminator: chan.get_terminator().clone(),
    };
    (chat.logic.events, outcome)
}

// ---------------------------------------------------------------------------
// find_prefix_at_end
// ---------------------------------------------------------------------------

#[test]
fn find_prefix_at_end_table() {
    let table: &[(&[u8], &[u8], usize)] = &[
        // The contract's cases (CPython's test_find_prefix_at_end).
        (b"qwerty\r", b"\r\n", 1),
        (b"qwertydkjf", b"\r\n", 0),
        (b"abc\r\n\r", b"\r\n\r\n", 3),
        // Edge cases.
        (b"", b"\r\n", 0),
        (b"", b"", 0),
        (b"abc", b"", 0),
        (b"abc", b"c", 0), // a 1-byte needle has no proper prefix
        (b"c", b"c", 0),
        (b"\r", b"\r\n", 1), // the haystack is just the prefix
        (b"\r\n\r", b"\r\n\r\n", 3),
        (b"\r\n", b"\r\n\r\n", 2),
        (b"x\r\n", b"\r\n\r\n", 2),
        (b"q", b"qqq", 1), // haystack shorter than needle
        (b"qq", b"qqq", 2),
        (b"xqq", b"qqq", 2),
        (b"qqq", b"qqq", 2), // the full needle is not a proper prefix
        (b"qqqq", b"qqq", 2),
        (b"abc\r\n", b"\r\n", 0), // full needle at the end: not a proper prefix
        (b"abc\r\n\r\n", b"\r\n\r\n", 2), // a full needle; "\r\n" is a prefix
        (b"ab", b"abc", 2),
        (b"zab", b"abc", 2),
        (b"aba", b"abab", 3),
        (b"xab", b"abab", 2),
        (b"ba", b"abc", 1),
        (b"bc", b"abc", 0), // a suffix of the needle, not a prefix
        (b"hello", b"hello world", 5),
        (b"hell", b"hello world", 4),
    ];
    for &(haystack, needle, want) in table {
        assert_eq!(
            find_prefix_at_end(haystack, needle),
            want,
            "find_prefix_at_end({:?}, {:?})",
            haystack.escape_ascii().to_string(),
            needle.escape_ascii().to_string(),
        );
    }
}

proptest! {
    /// `find_prefix_at_end` against its definition: the longest `l <
    /// needle.len()` with `haystack.ends_with(&needle[..l])`.
    #[test]
    fn find_prefix_at_end_matches_its_definition(
        haystack in prop::collection::vec(prop::sample::select(b"ab".to_vec()), 0..8),
        needle in prop::collection::vec(prop::sample::select(b"ab".to_vec()), 0..6),
    ) {
        let want = (0..needle.len())
            .rev()
            .find(|&l| haystack.ends_with(&needle[..l]))
            .unwrap_or(0);
        prop_assert_eq!(find_prefix_at_end(&haystack, &needle), want);
    }
}

// ---------------------------------------------------------------------------
// The loop, table-driven
// ---------------------------------------------------------------------------

struct Case {
    name: &'static str,
    terminator: Terminator,
    switch: Switch,
    reads: &'static [&'static [u8]],
    events: Vec<Ev>,
    /// Input left held back at the end.
    held: &'static [u8],
    /// The terminator in force at the end.
    end: Terminator,
}

fn t(b: &'static [u8]) -> Terminator {
    Terminator::bytes(b)
}

fn cases() -> Vec<Case> {
    let crlf = t(b"\r\n");
    vec![
        // 1. A terminator split across two reads is found.
        Case {
            name: "1: \\r\\n split across reads",
            terminator: crlf.clone(),
            switch: Switch::Keep,
            reads: &[b"qwerty\r", b"\n"],
            events: vec![c(b"qwerty"), F],
            held: b"",
            end: crlf.clone(),
        },
        Case {
            name: "1: half a terminator is held back",
            terminator: crlf.clone(),
            switch: Switch::Keep,
            reads: &[b"qwerty\r"],
            events: vec![c(b"qwerty")],
            held: b"\r",
            end: crlf.clone(),
        },
        Case {
            name: "1: \\r\\n\\r\\n split over three reads",
            terminator: HEAD,
            switch: Switch::Keep,
            reads: &[b"ab\r", b"\n\r", b"\nc"],
            events: vec![c(b"ab"), F, c(b"c")],
            held: b"",
            end: HEAD,
        },
        Case {
            name: "1: a read that is all prefix delivers nothing",
            terminator: HEAD,
            switch: Switch::Keep,
            reads: &[b"\r\n\r"],
            events: vec![],
            held: b"\r\n\r",
            end: HEAD,
        },
        Case {
            name: "1: a held prefix that is not completed is delivered with the next read",
            terminator: crlf.clone(),
            switch: Switch::Keep,
            reads: &[b"ab\r", b"x"],
            events: vec![c(b"ab"), c(b"\rx")],
            held: b"",
            end: crlf.clone(),
        },
        Case {
            name: "1: terminator split one byte at a time",
            terminator: HEAD,
            switch: Switch::Keep,
            reads: &[b"\r", b"\n", b"\r", b"\n"],
            events: vec![F],
            held: b"",
            end: HEAD,
        },
        // 2. Several records in one read, all delivered.
        Case {
            name: "2: several records in one read",
            terminator: crlf.clone(),
            switch: Switch::Keep,
            reads: &[b"a\r\nb\r\n\r\nc"],
            events: vec![c(b"a"), F, c(b"b"), F, F, c(b"c")],
            held: b"",
            end: crlf.clone(),
        },
        Case {
            name: "2: empty records never deliver an empty chunk",
            terminator: crlf.clone(),
            switch: Switch::Keep,
            reads: &[b"\r\n\r\n", b"\r", b"\n"],
            events: vec![F, F, F],
            held: b"",
            end: crlf.clone(),
        },
        // 3. A terminator set inside found_terminator applies to the rest of
        //    the same buffer.
        Case {
            name: "3: HTTP-like head, body, head, body in one read",
            terminator: HEAD,
            switch: Switch::Http { in_body: false },
            reads: &[b"5\r\n\r\nhello3\r\n\r\nabcGET\r\n\r\n"],
            events: vec![
                c(b"5"),
                F,
                c(b"hello"),
                F,
                c(b"3"),
                F,
                c(b"abc"),
                F,
                c(b"GET"),
                F,
            ],
            held: b"",
            end: HEAD,
        },
        Case {
            name: "3: a body that contains the head terminator is counted, not cut",
            terminator: HEAD,
            switch: Switch::Http { in_body: false },
            reads: &[b"4\r\n\r\n\r\n\r\nnext\r\n\r\n6\r\n\r\nab"],
            events: vec![
                c(b"4"),
                F,
                c(b"\r\n\r\n"),
                F,
                c(b"next"),
                F,
                c(b"6"),
                F,
                c(b"ab"),
            ],
            held: b"",
            end: Terminator::Count(4),
        },
        Case {
            name: "3: switch from a line to a count to a string within one read",
            terminator: t(b"\n"),
            switch: script(&[Terminator::Count(3), t(b"qqq"), Terminator::None]),
            reads: &[b"ab\ncdeXqqqrest\n"],
            events: vec![c(b"ab"), F, c(b"cde"), F, c(b"X"), F, c(b"rest\n")],
            held: b"",
            end: Terminator::None,
        },
        Case {
            name: "3: the new string terminator applies to a held-back prefix of the old one",
            terminator: t(b"\n"),
            switch: script(&[t(b"\r\n\r\n")]),
            reads: &[b"a\nb\r\n\r", b"\nc"],
            events: vec![c(b"a"), F, c(b"b"), F, c(b"c")],
            held: b"",
            end: t(b"\r\n\r\n"),
        },
        // 4. Overlapping data.
        Case {
            name: "4: qqq with xqq + qq fires once and keeps one q",
            terminator: t(b"qqq"),
            switch: Switch::Keep,
            reads: &[b"xqq", b"qq"],
            events: vec![c(b"x"), F],
            held: b"q",
            end: t(b"qqq"),
        },
        Case {
            name: "4: qqqq in one read fires once and keeps one q",
            terminator: t(b"qqq"),
            switch: Switch::Keep,
            reads: &[b"qqqq"],
            events: vec![F],
            held: b"q",
            end: t(b"qqq"),
        },
        Case {
            name: "4: six qs fire twice",
            terminator: t(b"qqq"),
            switch: Switch::Keep,
            reads: &[b"q", b"qqqq", b"q"],
            events: vec![F, F],
            held: b"",
            end: t(b"qqq"),
        },
        // 5. A count larger than a read counts down across reads, then
        //    (not reset) collects forever.
        Case {
            name: "5: count 10 across reads of 3, 4, 5",
            terminator: Terminator::Count(10),
            switch: Switch::Keep,
            reads: &[b"abc", b"defg", b"hijkl"],
            events: vec![c(b"abc"), c(b"defg"), c(b"hij"), F, c(b"kl")],
            held: b"",
            end: Terminator::Count(0),
        },
        Case {
            name: "5: count equal to the read fires at its end",
            terminator: Terminator::Count(3),
            switch: Switch::Keep,
            reads: &[b"abc", b"def"],
            events: vec![c(b"abc"), F, c(b"def")],
            held: b"",
            end: Terminator::Count(0),
        },
        Case {
            name: "5: count reset in found_terminator takes the next record",
            terminator: Terminator::Count(2),
            switch: script(&[Terminator::Count(2), Terminator::Count(2)]),
            reads: &[b"abcde", b"f", b"g"],
            events: vec![c(b"ab"), F, c(b"cd"), F, c(b"e"), c(b"f"), F, c(b"g")],
            held: b"",
            end: Terminator::Count(0),
        },
        Case {
            name: "5: count 1 (CPython's numeric terminator 1)",
            terminator: Terminator::Count(1),
            switch: Switch::Keep,
            reads: &[b"hello"],
            events: vec![c(b"h"), F, c(b"ello")],
            held: b"",
            end: Terminator::Count(0),
        },
        // 7. End of stream: a held partial prefix is not delivered.
        Case {
            name: "7: partial terminator at the end is held, not delivered",
            terminator: HEAD,
            switch: Switch::Keep,
            reads: &[b"abc\r\n\r"],
            events: vec![c(b"abc")],
            held: b"\r\n\r",
            end: HEAD,
        },
        // None, count 0 and the empty string collect everything.
        Case {
            name: "none collects everything",
            terminator: Terminator::None,
            switch: Switch::Keep,
            reads: &[b"a\r\nb", b"\r"],
            events: vec![c(b"a\r\nb"), c(b"\r")],
            held: b"",
            end: Terminator::None,
        },
        Case {
            name: "count 0 collects everything",
            terminator: Terminator::Count(0),
            switch: Switch::Keep,
            reads: &[b"a\r\nb", b"\r"],
            events: vec![c(b"a\r\nb"), c(b"\r")],
            held: b"",
            end: Terminator::Count(0),
        },
        Case {
            name: "empty string collects everything",
            terminator: t(b""),
            switch: Switch::Keep,
            reads: &[b"a\r\nb", b"\r"],
            events: vec![c(b"a\r\nb"), c(b"\r")],
            held: b"",
            end: t(b""),
        },
        Case {
            name: "an empty read delivers nothing",
            terminator: crlf.clone(),
            switch: Switch::Keep,
            reads: &[b"", b"a", b""],
            events: vec![c(b"a")],
            held: b"",
            end: crlf.clone(),
        },
        Case {
            name: "switching to none inside found_terminator collects the rest",
            terminator: crlf.clone(),
            switch: script(&[Terminator::None]),
            reads: &[b"a\r\nb\r\nc"],
            events: vec![c(b"a"), F, c(b"b\r\nc")],
            held: b"",
            end: Terminator::None,
        },
        // BlankLine: the lines up to the first empty one after a line end.
        Case {
            name: "blank: a CRLF head, then the next record begins",
            terminator: Terminator::BlankLine,
            switch: Switch::Keep,
            reads: &[b"GET / HTTP/1.1\r\nHost: a\r\n\r\nnext"],
            events: vec![c(b"GET / HTTP/1.1\r\nHost: a\r\n"), F, c(b"next")],
            held: b"",
            end: Terminator::BlankLine,
        },
        Case {
            name: "blank: bare LF line ends, and an LF then CRLF",
            terminator: Terminator::BlankLine,
            switch: Switch::Keep,
            reads: &[b"a\nb\n\nc\n\r\n"],
            events: vec![c(b"a\nb\n"), F, c(b"c\n"), F],
            held: b"",
            end: Terminator::BlankLine,
        },
        Case {
            name: "blank: an empty line first is data of the record",
            terminator: Terminator::BlankLine,
            switch: Switch::Keep,
            reads: &[b"\r\n\nX\n\n"],
            events: vec![c(b"\r\n"), F, c(b"X\n"), F],
            held: b"",
            end: Terminator::BlankLine,
        },
        Case {
            name: "blank: an LF and a CR that may start the end are held back",
            terminator: Terminator::BlankLine,
            switch: Switch::Keep,
            reads: &[b"a\r\n\r"],
            events: vec![c(b"a\r")],
            held: b"\n\r",
            end: Terminator::BlankLine,
        },
        Case {
            name: "blank: an LF that ends a read is held back",
            terminator: Terminator::BlankLine,
            switch: Switch::Keep,
            reads: &[b"a\r\n"],
            events: vec![c(b"a\r")],
            held: b"\n",
            end: Terminator::BlankLine,
        },
        Case {
            name: "blank: a held LF and CR that no LF follows are data",
            terminator: Terminator::BlankLine,
            switch: Switch::Keep,
            reads: &[b"a\n\r", b"x\n\n"],
            events: vec![c(b"a"), c(b"\n\rx\n"), F],
            held: b"",
            end: Terminator::BlankLine,
        },
        Case {
            name: "blank: an empty first line split between reads is data",
            terminator: Terminator::BlankLine,
            switch: Switch::Keep,
            reads: &[b"\r", b"\nA\n\n"],
            events: vec![c(b"\r"), c(b"\nA\n"), F],
            held: b"",
            end: Terminator::BlankLine,
        },
        Case {
            name: "blank: a held LF and an LF end the record",
            terminator: Terminator::BlankLine,
            switch: Switch::Keep,
            reads: &[b"a\n", b"\nb"],
            events: vec![c(b"a"), c(b"\n"), F, c(b"b")],
            held: b"",
            end: Terminator::BlankLine,
        },
        Case {
            name: "blank: a CRLF after a line's CR ends the line, not the head",
            terminator: Terminator::BlankLine,
            switch: Switch::Keep,
            reads: &[b"a\r", b"\n\r\n"],
            events: vec![c(b"a\r"), c(b"\n"), F],
            held: b"",
            end: Terminator::BlankLine,
        },
        Case {
            name: "blank: a switch to a count applies to the same read",
            terminator: Terminator::BlankLine,
            switch: script(&[Terminator::Count(3), Terminator::BlankLine]),
            reads: &[b"h\r\n\r\nabc\r\nh2\n\n"],
            events: vec![c(b"h\r\n"), F, c(b"abc"), F, c(b"\r\nh2\n"), F],
            held: b"",
            end: Terminator::BlankLine,
        },
    ]
}

#[test]
fn the_loop_table() {
    for case in cases() {
        for (driver, (events, outcome)) in [
            (
                "run",
                drive_pure(case.terminator.clone(), case.switch.clone(), case.reads),
            ),
            (
                "Channel::feed",
                drive_channel(case.terminator.clone(), case.switch.clone(), case.reads),
            ),
        ] {
            assert_eq!(events, case.events, "{}: events via {driver}", case.name);
            assert_eq!(
                outcome.held.escape_ascii().to_string(),
                case.held.escape_ascii().to_string(),
                "{}: held input via {driver}",
                case.name
            );
            assert_eq!(
                outcome.terminator, case.end,
                "{}: final terminator via {driver}",
                case.name
            );
        }
    }
}

/// `run` returns exactly the number of bytes it consumed.
#[test]
fn run_returns_the_bytes_consumed() {
    let table: &[(Terminator, &[u8], usize)] = &[
        (t(b"qqq"), b"xqq", 1),
        (t(b"qqq"), b"qqqq", 3),
        (t(b"\r\n"), b"qwerty\r", 6),
        (t(b"\r\n"), b"qwerty\r\n", 8),
        (HEAD, b"\r\n\r", 0),
        (Terminator::Count(3), b"ab", 2),
        (Terminator::None, b"abc", 3),
        (t(b"\n"), b"", 0),
    ];
    for (term, data, want) in table {
        let mut sink = Pure {
            term: term.clone(),
            logic: Logic::new(Switch::Keep),
        };
        assert_eq!(
            terminator::run(&mut sink, data),
            *want,
            "run({term:?}, {:?})",
            data.escape_ascii().to_string()
        );
    }
}

/// 5: the count shown by `get_terminator` is what is left of it.
#[test]
fn a_count_counts_down_across_reads() {
    let mut chan = Channel::new(Terminator::Count(10));
    let mut chat = Chat::new(Switch::Keep);
    let mut left = Vec::new();
    for read in [&b"abc"[..], b"defg", b"", b"hi", b"jkl"] {
        chan.feed(&mut chat, read);
        left.push(chan.get_terminator().clone());
    }
    use Terminator::Count;
    assert_eq!(left, [Count(7), Count(3), Count(3), Count(1), Count(0)]);
    assert_eq!(
        chat.logic.events,
        [c(b"abc"), c(b"defg"), c(b"hi"), c(b"j"), F, c(b"kl")]
    );
    assert_eq!(chat.logic.records, [b"abcdefghij".to_vec()]);
}

/// 7: at end of stream a held partial prefix is not delivered and
/// `found_terminator` is not called; `handle_eof` runs.
#[test]
fn end_of_stream_drops_a_held_prefix() {
    for (term, reads, want) in [
        (t(b"\r\n"), &[&b"hello\r"[..]][..], vec![c(b"hello"), Eof]),
        (t(b"qqq"), &[b"xqq", b"qq"], vec![c(b"x"), F, Eof]),
        (HEAD, &[b"a\r\n", b"\r"], vec![c(b"a"), Eof]),
        (Terminator::Count(5), &[b"abc"], vec![c(b"abc"), Eof]),
        (Terminator::BlankLine, &[b"a\r\n\r"], vec![c(b"a\r"), Eof]),
    ] {
        let mut chan = Channel::new(term.clone());
        let mut chat = Chat::new(Switch::Keep);
        for read in reads {
            chan.feed(&mut chat, read);
        }
        chan.feed_eof(&mut chat);
        assert_eq!(chat.logic.events, want, "{term:?} {reads:?}");
        assert!(chan.at_eof());
        // The default handle_eof closes once the output is sent: nothing is.
        assert!(chan.is_closing());
        assert!(chan.is_done());
        // Nothing is delivered after the end of stream.
        chan.feed(&mut chat, b"\n\r\nqqq\r\n\r\n12345");
        assert_eq!(chat.logic.events, want, "{term:?}: delivered after eof");
    }
}

#[test]
fn a_negative_count_is_rejected() {
    assert_eq!(Terminator::try_from(-1i64), Err(NegativeCount(-1)));
    assert_eq!(Terminator::try_from(i64::MIN), Err(NegativeCount(i64::MIN)));
    assert_eq!(Terminator::try_from(5i64), Ok(Terminator::Count(5)));
    assert_eq!(Terminator::try_from(0i64), Ok(Terminator::Count(0)));
    assert_eq!(
        NegativeCount(-1).to_string(),
        "terminator count must not be negative, got -1"
    );
}

#[test]
fn terminator_conversions() {
    assert_eq!(Terminator::from(&b"\r\n"[..]), t(b"\r\n"));
    assert_eq!(Terminator::from(b"\r\n"), t(b"\r\n"));
    assert_eq!(Terminator::from(b"\r\n".to_vec()), t(b"\r\n"));
    assert_eq!(Terminator::from(7u64), Terminator::Count(7));
}

// ---------------------------------------------------------------------------
// Deviations from CPython
// ---------------------------------------------------------------------------

/// CPython keeps delivering the records after `close()`; here delivery stops
/// and the rest of the buffer is dropped.
#[test]
fn close_inside_found_terminator_stops_delivery() {
    let mut chan = Channel::new(b"\n");
    let mut chat = Chat::with_hook(|chan, record| {
        if record == b"quit" {
            chan.close();
        }
    });
    chan.feed(&mut chat, b"a\nquit\nb\nc\n");
    assert_eq!(chat.logic.events, [c(b"a"), F, c(b"quit"), F]);
    assert!(chan.is_closing());
    assert!(chan.is_done());
    assert_eq!(chan.pending_input(), b"");
    assert!(!chan.readable());
    chan.feed(&mut chat, b"d\n");
    chan.feed_eof(&mut chat);
    assert_eq!(
        chat.logic.events,
        [c(b"a"), F, c(b"quit"), F],
        "delivered after close"
    );
}

/// `close_when_done` stops delivery too; what was pushed before it is sent,
/// what is pushed after it is discarded.
#[test]
fn close_when_done_stops_delivery_and_discards_later_pushes() {
    let mut chan = Channel::new(b"\n");
    let mut chat = Chat::with_hook(|chan, record| {
        if record == b"quit" {
            chan.push(&b"bye\n"[..]);
            chan.close_when_done();
            chan.push(&b"after\n"[..]);
            chan.push_with_producer(asynchat::BytesProducer::new(&b"after2\n"[..]));
        } else {
            chan.push([b"echo ", record, b"\n"].concat());
        }
    });
    chan.feed(&mut chat, b"a\nquit\nb\nc\n");
    assert_eq!(chat.logic.events, [c(b"a"), F, c(b"quit"), F]);
    assert!(chan.is_closing());
    assert!(!chan.is_done(), "output is still queued");
    assert!(!chan.readable());
    assert!(chan.writable());
    // Pushes from outside a callback are discarded as well.
    chan.push(&b"later\n"[..]);
    chan.feed(&mut chat, b"d\n");
    assert_eq!(
        chat.logic.events.len(),
        4,
        "delivered after close_when_done"
    );

    let mut wire = Vec::new();
    chan.send(&mut chat, &mut wire).unwrap();
    assert_eq!(wire.escape_ascii().to_string(), "echo a\\nbye\\n");
    assert!(chan.is_done());
    assert!(!chan.writable());
}

fn echo(chan: &mut Channel, record: &[u8]) {
    chan.push([b"<", record, b">"].concat());
}

fn paused_limits() -> Limits {
    Limits {
        max_queued: 2,
        ..Limits::default()
    }
}

/// Sends until nothing more happens; returns how many calls it took.
fn send_until_idle(chan: &mut Channel, chat: &mut Chat, wire: &mut Vec<u8>) -> usize {
    for calls in 1..=100 {
        let before = (
            wire.len(),
            chan.pending_input().len(),
            chat.logic.events.len(),
        );
        chan.send(chat, wire).unwrap();
        let after = (
            wire.len(),
            chan.pending_input().len(),
            chat.logic.events.len(),
        );
        if before == after {
            return calls;
        }
    }
    panic!("send never went idle");
}

/// Back-pressure: while two answers are queued no record is delivered; the
/// rest waits in `pending_input()`; sending resumes delivery and every record
/// is answered, in order.
#[test]
fn back_pressure_pauses_delivery_and_send_resumes_it() {
    let mut chan = Channel::new(b"\n");
    chan.set_limits(paused_limits());
    let mut chat = Chat::with_hook(echo);
    chan.feed(&mut chat, b"1\n2\n3\n4\n5\n6\n7");
    assert_eq!(chat.logic.events, [c(b"1"), F, c(b"2"), F]);
    assert_eq!(chan.pending_input(), b"3\n4\n5\n6\n7");
    assert!(chan.is_paused());
    assert!(!chan.readable());
    assert_eq!(chan.fifo().len(), 2);

    // More input while paused is kept, not delivered.
    chan.feed(&mut chat, b"\n8\n");
    assert_eq!(chat.logic.events.len(), 4);
    assert_eq!(chan.pending_input(), b"3\n4\n5\n6\n7\n8\n");

    let mut wire = Vec::new();
    chan.send(&mut chat, &mut wire).unwrap();
    assert!(
        wire.starts_with(b"<1><2>"),
        "the first send writes the queued answers: {:?}",
        wire.escape_ascii().to_string()
    );
    send_until_idle(&mut chan, &mut chat, &mut wire);
    assert_eq!(wire, b"<1><2><3><4><5><6><7><8>");
    let records: Vec<&[u8]> = chat.logic.records.iter().map(Vec::as_slice).collect();
    assert_eq!(
        records,
        [&b"1"[..], b"2", b"3", b"4", b"5", b"6", b"7", b"8"]
    );
    assert_eq!(chan.pending_input(), b"");
    assert!(!chan.is_paused());
    assert!(chan.readable());
}

/// The byte bound pauses delivery as the count bound does.
#[test]
fn back_pressure_on_buffered_bytes() {
    let mut chan = Channel::new(b"\n");
    chan.set_limits(Limits {
        max_queued_bytes: 6,
        ..Limits::default()
    });
    let mut chat = Chat::with_hook(echo);
    chan.feed(&mut chat, b"ab\ncd\nef\n");
    // "<ab>" is 4 bytes, "<cd>" makes 8 >= 6: paused after two records.
    assert_eq!(chat.logic.records, [b"ab".to_vec(), b"cd".to_vec()]);
    assert_eq!(chan.fifo().queued_bytes(), 8);
    assert!(chan.is_paused());
    assert_eq!(chan.pending_input(), b"ef\n");
    let mut wire = Vec::new();
    send_until_idle(&mut chan, &mut chat, &mut wire);
    assert_eq!(wire, b"<ab><cd><ef>");
}

/// End of stream while paused: the buffered records are still delivered,
/// and `handle_eof` runs only after them.
#[test]
fn eof_while_paused_delivers_buffered_records_first() {
    let mut chan = Channel::new(b"\n");
    chan.set_limits(paused_limits());
    let mut chat = Chat::with_hook(echo);
    chan.feed(&mut chat, b"1\n2\n3\n4\n5\npartial");
    chan.feed_eof(&mut chat);
    assert!(chan.at_eof());
    assert_eq!(
        chat.logic.events,
        [c(b"1"), F, c(b"2"), F],
        "eof told too early"
    );
    assert!(!chan.is_closing());

    let mut wire = Vec::new();
    send_until_idle(&mut chan, &mut chat, &mut wire);
    assert_eq!(wire, b"<1><2><3><4><5>");
    assert_eq!(
        chat.logic.events,
        [
            c(b"1"),
            F,
            c(b"2"),
            F,
            c(b"3"),
            F,
            c(b"4"),
            F,
            c(b"5"),
            F,
            c(b"partial"),
            Eof
        ]
    );
    assert!(chan.is_done(), "default handle_eof closes once sent");
}

/// `handle_eof` runs exactly once, however often the end is reported.
#[test]
fn eof_is_told_once() {
    let mut chan = Channel::new(b"\n");
    let mut chat = Chat::new(Switch::Keep);
    chan.feed(&mut chat, b"a\n");
    chan.feed_eof(&mut chat);
    chan.feed_eof(&mut chat);
    let mut wire = Vec::new();
    chan.send(&mut chat, &mut wire).unwrap();
    assert_eq!(chat.logic.events, [c(b"a"), F, Eof]);
}

// ---------------------------------------------------------------------------
// Split invariance
// ---------------------------------------------------------------------------

/// The three handlers of the property.
#[derive(Debug, Clone, Copy)]
enum Proto {
    Http,
    Lines,
    Qqq,
    Blank,
    HttpBlank,
}

impl Proto {
    fn start(self) -> (Terminator, Switch) {
        match self {
            Proto::Http => (HEAD, Switch::Http { in_body: false }),
            Proto::Lines => (t(b"\n"), Switch::Keep),
            Proto::Qqq => (t(b"qqq"), Switch::Keep),
            Proto::Blank => (Terminator::BlankLine, Switch::Keep),
            Proto::HttpBlank => (Terminator::BlankLine, Switch::HttpBlank { in_body: false }),
        }
    }

    /// Tokens the random streams are made of, so that terminators, their
    /// prefixes and small numbers occur often.
    fn tokens(self) -> &'static [&'static [u8]] {
        match self {
            Proto::Http => &[
                b"\r\n\r\n",
                b"\r\n",
                b"\r",
                b"\n",
                b"1",
                b"2",
                b"5",
                b"12",
                b"0",
                b"a",
                b"b",
                b"ab",
            ],
            Proto::Lines => &[b"\n", b"\r\n", b"a", b"b", b"1"],
            Proto::Qqq => &[b"q", b"qq", b"qqq", b"x", b"\n"],
            Proto::Blank => &[b"\r\n", b"\n", b"\r", b"\n\r\n", b"a", b"b"],
            Proto::HttpBlank => &[b"\r\n", b"\n", b"\r", b"1", b"2", b"5", b"12", b"a"],
        }
    }
}

const PROTOS: [Proto; 5] = [
    Proto::Http,
    Proto::Lines,
    Proto::Qqq,
    Proto::Blank,
    Proto::HttpBlank,
];

fn stream(proto: Proto, max_tokens: usize, max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(proto.tokens()), 0..=max_tokens).prop_map(
        move |tokens| {
            let mut s = tokens.concat();
            s.truncate(max_len);
            s
        },
    )
}

fn split_at_cuts(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
    cuts.sort_unstable();
    let mut reads = Vec::new();
    let mut from = 0;
    for cut in cuts {
        reads.push(data[from..cut].to_vec());
        from = cut;
    }
    reads.push(data[from..].to_vec());
    reads
}

/// The outcome of feeding `reads`, checked to be the same through both
/// drivers.
fn outcome(proto: Proto, reads: &[Vec<u8>]) -> Outcome {
    let reads: Vec<&[u8]> = reads.iter().map(Vec::as_slice).collect();
    let (term, switch) = proto.start();
    let (_, pure) = drive_pure(term.clone(), switch.clone(), &reads);
    let (_, chan) = drive_channel(term, switch, &reads);
    assert_eq!(pure, chan, "run and Channel::feed disagree on {reads:?}");
    pure
}

fn check_split(proto: Proto, data: &[u8], reads: &[Vec<u8>], whole: &Outcome) {
    assert_eq!(reads.concat(), data);
    let got = outcome(proto, reads);
    assert_eq!(
        &got,
        whole,
        "{proto:?}: stream {:?} cut into {reads:?}",
        data.escape_ascii().to_string()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Short streams: every 2-read cut, and one byte at a time.
    #[test]
    fn records_do_not_depend_on_how_a_short_stream_is_cut(
        (proto, data) in (0..PROTOS.len()).prop_flat_map(|i| (Just(PROTOS[i]), stream(PROTOS[i], 20, 40))),
    ) {
        let whole = outcome(proto, std::slice::from_ref(&data));
        for cut in 0..=data.len() {
            check_split(proto, &data, &split_at_cuts(&data, &[cut]), &whole);
        }
        let bytes: Vec<Vec<u8>> = data.iter().map(|&b| vec![b]).collect();
        check_split(proto, &data, &bytes, &whole);
    }

    /// Long streams, random cuts.
    #[test]
    fn records_do_not_depend_on_how_a_long_stream_is_cut(
        (proto, data) in (0..PROTOS.len()).prop_flat_map(|i| (Just(PROTOS[i]), stream(PROTOS[i], 800, 2000))),
        cuts in prop::collection::vec(0..2001usize, 0..60),
    ) {
        let whole = outcome(proto, std::slice::from_ref(&data));
        check_split(proto, &data, &split_at_cuts(&data, &cuts), &whole);
    }
}

/// Records as a reader of lines finds them: lines ended by `\n`, each kept
/// with its end, up to an empty one (`"\n"` or `"\r\n"`) that follows a
/// line of the record, which is dropped; an empty first line is kept.
/// Returns the complete records and what is left of the next.
fn heads_line_by_line(data: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let (mut heads, mut head) = (Vec::new(), Vec::new());
    let mut rest = data;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..=end];
        rest = &rest[end + 1..];
        if matches!(line, b"\n" | b"\r\n") && !head.is_empty() {
            heads.push(std::mem::take(&mut head));
        } else {
            head.extend_from_slice(line);
        }
    }
    head.extend_from_slice(rest);
    (heads, head)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// One search for the empty line finds the records a line reader
    /// finds, however the stream is cut; what is held back is at most an
    /// LF and a CR.
    #[test]
    fn blank_line_records_are_the_heads_a_line_reader_finds(
        data in stream(Proto::Blank, 200, 400),
        cuts in prop::collection::vec(0..401usize, 0..30),
    ) {
        let (heads, partial) = heads_line_by_line(&data);
        let got = outcome(Proto::Blank, &split_at_cuts(&data, &cuts));
        prop_assert_eq!(&got.records, &heads);
        let mut left = got.trailing.clone();
        left.extend_from_slice(&got.held);
        prop_assert_eq!(left, partial);
        prop_assert!(matches!(&got.held[..], b"" | b"\n" | b"\n\r"), "held {:?}", got.held);
    }
}

/// The property's HTTP handler really switches: a hand-made stream with
/// pipelined heads and bodies gives the expected records under every 2-read
/// cut and one byte at a time.
#[test]
fn the_http_handler_switches_under_every_cut() {
    let data = b"5\r\n\r\nhello\r\n\r\n12\r\n\r\n\r\n\r\n\r\n\r\nabcdx\r\n\r\n2\r\n\r\nq";
    let want = Outcome {
        records: [
            &b"5"[..],
            b"hello",
            b"",
            b"12",
            b"\r\n\r\n\r\n\r\nabcd",
            b"x",
            b"2",
        ]
        .iter()
        .map(|r| r.to_vec())
        .collect(),
        trailing: b"q".to_vec(),
        held: Vec::new(),
        terminator: Terminator::Count(1),
    };
    assert_eq!(outcome(Proto::Http, &[data.to_vec()]), want);
    for cut in 0..=data.len() {
        check_split(Proto::Http, data, &split_at_cuts(data, &[cut]), &want);
    }
    let bytes: Vec<Vec<u8>> = data.iter().map(|&b| vec![b]).collect();
    check_split(Proto::Http, data, &bytes, &want);
}
