//! One connection's capture: the records of its reads and writes, held
//! until it is known which of their bytes were payload, then handed to the
//! [`Sink`].

use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use super::format::{self, Header, Payloads, Span};
use super::writer::Sink;
use crate::terminator::Step;

/// What the terminator loop tells a capture: where in the input stream the
/// data of each `collect_incoming_data` lies, and which of it the handler
/// marked as payload ([`Channel::mark_payload`](crate::Channel::mark_payload)).
///
/// The loop consumes its input from the front, a step at a time, and each
/// step delivers data that starts where the step starts; so following the
/// steps gives the stream offset of every delivery without the loop having
/// to say it.
#[derive(Debug, Default)]
pub(crate) struct InputMarks {
    /// The stream offset of the next byte the loop will cut.
    cursor: u64,
    /// The data the current step delivers to `collect_incoming_data`:
    /// offset, length.
    delivering: Option<(u64, u64)>,
    /// Payload marked and not yet settled: stream offsets, start and end,
    /// in order, merged when they touch.
    payload: Vec<(u64, u64)>,
}

impl InputMarks {
    /// A step of the terminator loop, told before its data is delivered.
    /// The data the step delivers, if any, starts where the step does; a
    /// terminator found is skipped after it.
    pub(crate) fn step(&mut self, step: Step) {
        let (data, consumed) = match step {
            Step::Found { at, len, .. } => (at, at + len),
            Step::NotFound { of, held } => (of - held, of - held),
            Step::Counted { took, .. } => (took, took),
            Step::CollectAll { of } => (of, of),
        };
        self.delivering = Some((self.cursor, data as u64));
        self.cursor += consumed as u64;
    }

    /// The data being delivered is payload.
    pub(crate) fn mark_payload(&mut self) {
        let Some((start, len)) = self.delivering else {
            return;
        };
        let end = start + len;
        match self.payload.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => self.payload.push((start, end)),
        }
    }

    /// The spans of `start..end` that were marked payload, relative to
    /// `start`; forgets the marks that end before `end`.
    fn take_payload(&mut self, start: u64, end: u64) -> Vec<Span> {
        let spans = self
            .payload
            .iter()
            .filter_map(|&(a, b)| {
                let (lo, hi) = (a.max(start), b.min(end));
                (lo < hi).then(|| Span {
                    at: lo - start,
                    len: hi - lo,
                })
            })
            .collect();
        self.payload.retain(|&(_, b)| b > end);
        spans
    }
}

/// A record held back behind a read that has not been settled.
enum Held {
    /// A read of this many bytes (in `Recorder::held`), at this time.
    Read(Duration, usize),
    /// An encoded record of this many bytes (in `Recorder::held`).
    Encoded(usize),
}

/// The capture of one connection.
pub(crate) struct Recorder {
    sink: Sink,
    id: u64,
    started: Instant,
    /// Records ready for the sink.
    out: Vec<u8>,
    /// Reads not yet settled, and the records after them, in order; their
    /// bytes are in `held`.
    queue: VecDeque<Held>,
    held: Vec<u8>,
    /// The stream offset of the first unsettled read.
    held_at: u64,
    /// Data kept so far, against the cap.
    kept: u64,
    max: u64,
    omit_payloads: bool,
    capped: bool,
    /// The sink could not take the records: nothing more is recorded but
    /// the end.
    lost: bool,
    read: u64,
    sent: u64,
}

impl Recorder {
    /// Starts the capture of connection `id` and creates its file; `None`
    /// when the writer has no room for it.
    pub(crate) fn start(
        sink: &Sink,
        id: u64,
        peer: Option<SocketAddr>,
        local: Option<SocketAddr>,
    ) -> Option<Recorder> {
        let options = sink.options();
        let now = SystemTime::now();
        let header = Header {
            connection: id,
            started: format::rfc3339(now),
            peer,
            local,
            max: options.max,
            payloads: if options.omit_payloads {
                Payloads::Omitted
            } else {
                Payloads::Kept
            },
            extra: options.fields.clone(),
        };
        let mut bytes = Vec::new();
        format::write_header(&mut bytes, &header);
        if !sink.open(id, format::file_name(id, peer, now), &bytes) {
            return None;
        }
        Some(Recorder {
            sink: sink.clone(),
            id,
            started: Instant::now(),
            out: Vec::new(),
            queue: VecDeque::new(),
            held: Vec::new(),
            held_at: 0,
            kept: 0,
            max: options.max,
            omit_payloads: options.omit_payloads,
            capped: false,
            lost: false,
            read: 0,
            sent: 0,
        })
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Where a record goes: behind the unsettled reads, or out.
    fn record_buf(&mut self) -> &mut Vec<u8> {
        if self.queue.is_empty() {
            &mut self.out
        } else {
            &mut self.held
        }
    }

    /// Appends a record made by `f`, in order.
    fn record(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        let held = !self.queue.is_empty();
        let buf = self.record_buf();
        let before = buf.len();
        f(buf);
        let len = buf.len() - before;
        if held {
            self.queue.push_back(Held::Encoded(len));
        }
    }

    /// Whether keeping `more` bytes goes past the cap. The first time it
    /// does, the `capped` record is made: in order behind held records, or
    /// (while settling them) straight out.
    fn capped_by(&mut self, more: u64, in_order: bool) -> bool {
        if !self.capped && self.kept + more > self.max {
            self.capped = true;
            let record = format::Record {
                at: self.now(),
                event: format::Event::Capped,
            };
            if in_order {
                self.record(|out| format::write_record(out, &record));
            } else {
                format::write_record(&mut self.out, &record);
            }
        }
        self.capped
    }

    /// One read returned `data`. It is held until the loop has consumed it
    /// all, so that its payload is known.
    pub(crate) fn read(&mut self, data: &[u8]) {
        self.read += data.len() as u64;
        if self.lost {
            return;
        }
        let at = self.now();
        self.held.extend_from_slice(data);
        self.queue.push_back(Held::Read(at, data.len()));
    }

    /// A read of `n` bytes that the channel will never see (it has
    /// finished, and the connection reads only to let the peer close).
    pub(crate) fn discarded(&mut self, n: usize) {
        self.read += n as u64;
        if self.lost {
            return;
        }
        let at = self.now();
        self.record(|out| sized(out, "read", at, n as u64));
    }

    fn simple(&mut self, event: format::Event) {
        if self.lost {
            return;
        }
        let at = self.now();
        self.record(|out| format::write_record(out, &format::Record { at, event }));
    }

    /// A read returned end of stream.
    pub(crate) fn eof(&mut self) {
        self.simple(format::Event::Eof);
    }

    /// The deadline passed.
    pub(crate) fn timeout(&mut self) {
        self.simple(format::Event::Timeout);
    }

    /// A write sent the first `n` bytes of `bufs`.
    pub(crate) fn sent(&mut self, bufs: &[IoSlice<'_>], n: usize) {
        self.sent += n as u64;
        if self.lost || n == 0 {
            return;
        }
        let at = self.now();
        if self.capped_by(n as u64, true) {
            return self.record(|out| sized(out, "sent", at, n as u64));
        }
        self.kept += n as u64;
        self.record(|out| {
            format::write_data_line(out, "sent", at, n as u64, &[]);
            let mut left = n;
            for b in bufs {
                let take = left.min(b.len());
                out.extend_from_slice(&b[..take]);
                left -= take;
                if left == 0 {
                    break;
                }
            }
            out.push(b'\n');
        });
    }

    /// `sendfile` sent `n` bytes of a file: only their count is recorded.
    pub(crate) fn sent_file(&mut self, n: usize) {
        self.sent += n as u64;
        if self.lost || n == 0 {
            return;
        }
        let at = self.now();
        self.record(|out| sized(out, "sent", at, n as u64));
    }

    /// Settles the reads the loop has consumed (all of them, when `all`:
    /// the channel will consume no more), leaving out their payload where
    /// the options or the cap say so.
    pub(crate) fn settle(&mut self, marks: Option<&mut InputMarks>, all: bool) {
        let Some(marks) = marks else {
            return;
        };
        if self.lost {
            // Nothing more is recorded: the marks must not pile up either.
            marks.payload.clear();
            return;
        }
        let mut used = 0;
        while let Some(held) = self.queue.front() {
            match *held {
                Held::Read(at, len) => {
                    let end = self.held_at + len as u64;
                    if !all && end > marks.cursor {
                        break;
                    }
                    let payload = marks.take_payload(self.held_at, end);
                    let capped = self.capped_by(len as u64, false);
                    let omitted = if self.omit_payloads || capped {
                        payload
                    } else {
                        Vec::new()
                    };
                    let data = &self.held[used..used + len];
                    format::write_data_line(&mut self.out, "read", at, len as u64, &omitted);
                    let mut from = 0;
                    for span in &omitted {
                        let (a, b) = (span.at as usize, (span.at + span.len) as usize);
                        self.out.extend_from_slice(&data[from..a]);
                        from = b;
                    }
                    self.out.extend_from_slice(&data[from..]);
                    self.out.push(b'\n');
                    self.kept += len as u64 - omitted.iter().map(|s| s.len).sum::<u64>();
                    self.held_at = end;
                    used += len;
                }
                Held::Encoded(len) => {
                    self.out.extend_from_slice(&self.held[used..used + len]);
                    used += len;
                }
            }
            self.queue.pop_front();
        }
        self.held.drain(..used);
    }

    /// Hands the records ready to the sink. Records that do not fit are
    /// dropped, and the capture says so: a `truncated` record, after which
    /// only the end is recorded.
    pub(crate) fn flush(&mut self) {
        if self.out.is_empty() || self.lost {
            return;
        }
        if !self.sink.append(self.id, &self.out) {
            self.lose("the capture writer did not keep up: records were dropped from here");
        }
        self.out.clear();
    }

    fn lose(&mut self, why: &str) {
        self.lost = true;
        self.queue.clear();
        self.held = Vec::new();
        self.out = Vec::new();
        log::warn!("capture of connection #{}: truncated: {why}", self.id);
        let mut record = Vec::new();
        let at = self.now();
        format::write_record(
            &mut record,
            &format::Record {
                at,
                event: format::Event::Truncated(why.to_string()),
            },
        );
        self.sink.append_always(self.id, &record);
    }

    /// The connection closed for `reason`: settles everything, writes the
    /// `end` record and closes the file.
    pub(crate) fn end(mut self, marks: Option<&mut InputMarks>, reason: &dyn std::fmt::Display) {
        self.settle(marks, true);
        self.flush();
        let at = self.now();
        let mut record = Vec::new();
        format::write_record(
            &mut record,
            &format::Record {
                at,
                event: format::Event::End {
                    read: self.read,
                    sent: self.sent,
                    reason: reason.to_string(),
                },
            },
        );
        self.sink.close(self.id, &record);
    }
}

/// A `read` or `sent` record of `n` bytes of which only the size is kept.
fn sized(out: &mut Vec<u8>, name: &str, at: Duration, n: u64) {
    format::write_data_line(out, name, at, n, &[Span { at: 0, len: n }]);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminator::{self, Records, Terminator};

    /// A loop sink that marks every collected chunk delivered under a count
    /// as payload: the HTTP channel's rule, for a toy protocol of a length
    /// line and that many bytes.
    struct Toy {
        marks: InputMarks,
        terminator: Terminator,
        line: Vec<u8>,
    }

    impl Records for Toy {
        fn terminator(&mut self) -> &mut Terminator {
            &mut self.terminator
        }
        fn collect_incoming_data(&mut self, data: &[u8]) {
            if matches!(self.terminator, Terminator::Count(_)) {
                self.marks.mark_payload();
            } else {
                self.line.extend_from_slice(data);
            }
        }
        fn found_terminator(&mut self) {
            if let Terminator::Count(_) = self.terminator {
                self.terminator = Terminator::bytes(b"\n");
            } else {
                let n = std::str::from_utf8(&self.line).unwrap().parse().unwrap();
                self.line.clear();
                self.terminator = Terminator::Count(n);
            }
        }
        fn searched(&mut self, step: Step) {
            self.marks.step(step);
        }
    }

    #[test]
    fn a_truncated_capture_keeps_no_marks() {
        struct Nowhere;
        impl super::super::Store for Nowhere {
            fn open(
                &mut self,
                _: &str,
                _: bool,
            ) -> std::io::Result<Box<dyn std::io::Write + Send>> {
                Ok(Box::new(std::io::sink()))
            }
        }
        let sink = Sink::spawn(super::super::Options::default(), Nowhere).unwrap();
        let mut rec = Recorder::start(&sink, 1, None, None).expect("room for a header");
        let mut marks = InputMarks::default();
        rec.read(b"0123456789");
        marks.step(Step::Counted { took: 10, left: 5 });
        marks.mark_payload();
        rec.lose("a test");
        for _ in 0..3 {
            rec.read(b"abcde");
            marks.step(Step::Counted { took: 5, left: 0 });
            marks.mark_payload();
            marks.step(Step::Found {
                at: 0,
                len: 1,
                of: 3,
            });
            rec.settle(Some(&mut marks), false);
        }
        assert!(marks.payload.is_empty(), "{:?}", marks.payload);
        assert!(rec.queue.is_empty() && rec.held.is_empty());
        sink.finish(std::time::Duration::from_secs(5));
    }

    #[test]
    fn payload_marks_land_on_the_payload_bytes_however_the_input_is_cut() {
        let input = b"5\nhello12\nhello\nworld!3\nabc";
        let want = [(2, 7), (10, 22), (24, 27)];
        for cut in 1..=input.len() {
            let mut toy = Toy {
                marks: InputMarks::default(),
                terminator: Terminator::bytes(b"\n"),
                line: Vec::new(),
            };
            let mut held = Vec::new();
            for piece in input.chunks(cut) {
                held.extend_from_slice(piece);
                let used = terminator::run(&mut toy, &held);
                held.drain(..used);
            }
            assert_eq!(toy.marks.cursor, input.len() as u64, "reads of {cut}");
            assert_eq!(toy.marks.payload, want, "reads of {cut}");
            let spans = toy.marks.take_payload(8, 12);
            assert_eq!(spans, [Span { at: 2, len: 2 }], "reads of {cut}");
            assert_eq!(toy.marks.payload, want[1..], "reads of {cut}");
        }
    }
}
