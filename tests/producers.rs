//! Producers and the output FIFO, in memory: what each producer yields, the
//! exact bytes the FIFO writes, laziness (`more()` only when the transport
//! can take more, never far beyond `GATHER_MAX`), partial writes that resume
//! exactly, and `sendfile` to a real TCP socket.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice, Read};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use asynchat::fifo::{GATHER_MAX, GATHER_PIECES};
use asynchat::producer::FILE_SPAN_MAX;
use asynchat::{
    AsyncChat, BytesProducer, Channel, Chunked, Composite, Fifo, FileProducer, Hooked, Piece,
    Producer, Transport,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "asynchat-producers-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }

    fn open(&self) -> File {
        File::open(&self.0).unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Bytes whose every position differs from its neighbours', so a slip of an
/// offset shows.
fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ ((i >> 8) as u8) ^ ((i >> 16) as u8) ^ salt)
        .collect()
}

/// A producer that yields the given pieces in order.
struct Pieces(VecDeque<Piece>);

impl Pieces {
    fn of(pieces: &[&'static [u8]]) -> Pieces {
        Pieces(pieces.iter().map(|&p| Piece::from(p)).collect())
    }
}

impl Producer for Pieces {
    fn more(&mut self) -> Option<Piece> {
        self.0.pop_front()
    }
}

/// The bytes a piece stands for (file spans are read back).
fn piece_bytes(piece: &Piece) -> Vec<u8> {
    match piece {
        Piece::Bytes(b) => b.to_vec(),
        Piece::Shared(b) => b.to_vec(),
        Piece::Slice(b, r) => b[r.start as usize..r.end as usize].to_vec(),
        Piece::File(span) => {
            let mut buf = vec![0; span.len as usize];
            let mut at = 0;
            while at < buf.len() {
                let sub = asynchat::FileSpan {
                    stamp: None,
                    copy: false,
                    file: Rc::clone(&span.file),
                    offset: span.offset + at as u64,
                    len: span.len - at as u64,
                };
                at += sub.read_into(&mut buf[at..]).unwrap();
            }
            buf
        }
    }
}

/// Everything a producer yields, piece by piece, until `None`.
fn all_pieces(p: &mut impl Producer) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for _ in 0..100_000 {
        match p.more() {
            Some(piece) => pieces.push(piece),
            None => return pieces,
        }
    }
    panic!("the producer never ends");
}

fn concat(pieces: &[Piece]) -> Vec<u8> {
    pieces.iter().flat_map(piece_bytes).collect()
}

/// Sends the whole queue to `t`, however many calls it takes.
fn drain(fifo: &mut Fifo, t: &mut impl Transport) -> io::Result<u64> {
    drain_by(fifo, t, u64::MAX)
}

/// Sends the whole queue to `t`, `budget` bytes a call.
fn drain_by(fifo: &mut Fifo, t: &mut impl Transport, budget: u64) -> io::Result<u64> {
    let mut total = 0;
    for _ in 0..10_000_000 {
        if fifo.is_empty() {
            return Ok(total);
        }
        total += fifo.send(&mut *t, budget)?;
    }
    panic!("the queue never drained");
}

fn wire_of(fifo: &mut Fifo) -> Vec<u8> {
    let mut wire = Vec::new();
    drain(fifo, &mut wire).unwrap();
    wire
}

fn text(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

// ---------------------------------------------------------------------------
// Pieces and simple producers
// ---------------------------------------------------------------------------

#[test]
fn piece_conversions_and_lengths() {
    let p = Piece::from(&b"abc"[..]);
    assert_eq!((p.len(), p.is_empty()), (3, false));
    assert_eq!(format!("{p:?}"), "Bytes(3 bytes)");
    assert_eq!(piece_bytes(&Piece::from(b"xy".to_vec())), b"xy");
    assert_eq!(piece_bytes(&Piece::from(String::from("zz"))), b"zz");
    assert!(Piece::from(Vec::new()).is_empty());
}

#[test]
fn bytes_producer_yields_one_piece_then_none() {
    let mut p = BytesProducer::new(&b"hello"[..]);
    let first = p.more().expect("one piece");
    assert_eq!(piece_bytes(&first), b"hello");
    assert!(p.more().is_none());
    assert!(p.more().is_none());
}

#[test]
fn file_producer_small_file_is_one_span() {
    let data = pattern(1000, 3);
    let file = TempFile::with(&data);
    let mut p = FileProducer::whole(file.open()).unwrap();
    let pieces = all_pieces(&mut p);
    assert_eq!(pieces.len(), 1);
    let Piece::File(span) = &pieces[0] else {
        panic!("not a file span: {:?}", pieces[0]);
    };
    assert_eq!((span.offset, span.len), (0, 1000));
    assert_eq!(format!("{:?}", pieces[0]), "File(0+1000)");
    assert_eq!(concat(&pieces), data);
    assert!(p.more().is_none());
}

#[test]
fn file_producer_empty_file_yields_nothing() {
    let file = TempFile::with(b"");
    let mut p = FileProducer::whole(file.open()).unwrap();
    assert!(p.more().is_none());
}

/// A file larger than `FILE_SPAN_MAX` comes as several spans, none longer
/// than `FILE_SPAN_MAX`, contiguous, and the bytes sent are the file's.
#[test]
fn file_producer_large_file_is_several_spans() {
    let max = FILE_SPAN_MAX as usize;
    let data = pattern(2 * max + 12_345, 7);
    let file = TempFile::with(&data);
    let mut p = FileProducer::whole(file.open()).unwrap();
    let spans: Vec<(u64, u64)> = all_pieces(&mut p)
        .iter()
        .map(|piece| match piece {
            Piece::File(s) => (s.offset, s.len),
            other => panic!("not a file span: {other:?}"),
        })
        .collect();
    let m = FILE_SPAN_MAX;
    assert_eq!(spans, [(0, m), (m, m), (2 * m, 12_345)]);

    let mut fifo = Fifo::new();
    fifo.push_producer(Box::new(FileProducer::whole(file.open()).unwrap()));
    let wire = wire_of(&mut fifo);
    assert_eq!(wire.len(), data.len());
    assert!(wire == data, "the bytes sent differ from the file");
}

/// A byte range of a file: spans start at the offset and the bytes sent are
/// exactly that range.
#[test]
fn file_producer_byte_range() {
    let max = FILE_SPAN_MAX as usize;
    let data = pattern(max + 1000, 9);
    let file = TempFile::with(&data);
    let (offset, len) = (100u64, FILE_SPAN_MAX + 7);
    let mut p = FileProducer::new(file.open(), offset, len);
    let spans: Vec<(u64, u64)> = all_pieces(&mut p)
        .iter()
        .map(|piece| match piece {
            Piece::File(s) => (s.offset, s.len),
            other => panic!("not a file span: {other:?}"),
        })
        .collect();
    assert_eq!(spans, [(100, FILE_SPAN_MAX), (100 + FILE_SPAN_MAX, 7)]);

    for (offset, len) in [(100u64, FILE_SPAN_MAX + 7), (0, 1), (5, 0), (999, 20_000)] {
        let mut fifo = Fifo::new();
        fifo.push(Piece::from(&b"<"[..]));
        fifo.push_producer(Box::new(FileProducer::new(file.open(), offset, len)));
        fifo.push(Piece::from(&b">"[..]));
        let wire = wire_of(&mut fifo);
        let want = [
            &b"<"[..],
            &data[offset as usize..(offset + len) as usize],
            b">",
        ]
        .concat();
        assert!(wire == want, "range {offset}+{len}");
    }
}

/// A file that is shorter than the span promised fails the send rather
/// than sending short.
#[test]
fn a_file_shorter_than_promised_fails_the_send() {
    let data = pattern(5000, 1);
    let file = TempFile::with(&data);
    let mut fifo = Fifo::new();
    fifo.push_producer(Box::new(FileProducer::new(file.open(), 0, 6000)));
    let mut wire = Vec::new();
    let err = drain(&mut fifo, &mut wire).expect_err("sending past the end of the file");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(wire, data, "the bytes that exist are sent first");
}

#[test]
fn composite_runs_its_parts_in_order() {
    let inner = Composite::new()
        .with(BytesProducer::new(&b"b"[..]))
        .with(Pieces::of(&[b"c", b"", b"d"]));
    let mut p = Composite::new()
        .with(BytesProducer::new(&b"a"[..]))
        .with(Composite::new())
        .with(inner)
        .with(Pieces::of(&[]));
    p.push(Box::new(BytesProducer::new(&b"e"[..])));
    let pieces = all_pieces(&mut p);
    let got: Vec<String> = pieces.iter().map(|p| text(&piece_bytes(p))).collect();
    // As in CPython, an empty piece ends its producer: "d" is never asked for.
    assert_eq!(got, ["a", "b", "c", "e"]);
    assert!(p.more().is_none());
    assert!(Composite::new().more().is_none());
}

// ---------------------------------------------------------------------------
// Chunked and Hooked
// ---------------------------------------------------------------------------

#[test]
fn chunked_framing_exact_bytes() {
    let table: &[(&[&[u8]], &str)] = &[
        // An empty piece ends the inner producer, so the body ends there.
        (&[b"hello", b"", b"world!"], "5\r\nhello\r\n0\r\n\r\n"),
        (
            &[b"hello", b"world!"],
            "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n",
        ),
        (&[], "0\r\n\r\n"),
        (&[b""], "0\r\n\r\n"),
        (
            &[b"0123456789abcdef"],
            "10\r\n0123456789abcdef\r\n0\r\n\r\n",
        ),
        (&[b"a", b"b"], "1\r\na\r\n1\r\nb\r\n0\r\n\r\n"),
    ];
    for &(pieces, want) in table {
        let mut p = Chunked::new(Pieces::of(pieces));
        let got = concat(&all_pieces(&mut p));
        assert_eq!(text(&got), text(want.as_bytes()), "{pieces:?}");
        assert!(p.more().is_none(), "{pieces:?}: more after the end");
    }
    // Chunk sizes in lowercase hex, and through a FIFO.
    let big: &'static [u8] = Box::leak(vec![b'z'; 300].into_boxed_slice());
    let mut fifo = Fifo::new();
    fifo.push_producer(Box::new(Chunked::new(Pieces::of(&[big]))));
    let want = [&b"12c\r\n"[..], big, b"\r\n0\r\n\r\n"].concat();
    assert_eq!(wire_of(&mut fifo), want);
}

#[test]
fn chunked_frames_a_file_span() {
    let data = pattern(70_000, 5);
    let file = TempFile::with(&data);
    let mut fifo = Fifo::new();
    fifo.push_producer(Box::new(Chunked::new(
        FileProducer::whole(file.open()).unwrap(),
    )));
    let want = [&b"11170\r\n"[..], &data, b"\r\n0\r\n\r\n"].concat();
    assert!(wire_of(&mut fifo) == want);
}

#[test]
fn hooked_reports_the_total_once() {
    let data = pattern(30_000, 2);
    let file = TempFile::with(&data);
    let calls = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&calls);
    let inner = Composite::new()
        .with(BytesProducer::new(&b"HTTP/1.0 200 OK\r\n\r\n"[..]))
        .with(FileProducer::whole(file.open()).unwrap())
        .with(Pieces::of(&[b"tail", b"", b"never"]));
    let mut fifo = Fifo::new();
    fifo.push_producer(Box::new(Hooked::new(inner, move |total| {
        log.borrow_mut().push(total)
    })));
    fifo.push(Piece::from(&b"next"[..]));
    let wire = wire_of(&mut fifo);
    assert_eq!(wire.len(), 19 + 30_000 + 4 + 4);
    assert_eq!(*calls.borrow(), [19 + 30_000 + 4]);

    // Directly: asking again after the end does not call the hook again.
    let calls = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&calls);
    let mut p = Hooked::new(Pieces::of(&[b"ab", b"cde"]), move |total| {
        log.borrow_mut().push(total)
    });
    assert_eq!(concat(&all_pieces(&mut p)), b"abcde");
    assert_eq!(
        *calls.borrow(),
        [5],
        "the hook runs when the inner producer ends"
    );
    assert!(p.more().is_none());
    assert!(p.more().is_none());
    assert_eq!(*calls.borrow(), [5]);

    // An empty producer reports 0.
    let calls = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&calls);
    let mut p = Hooked::new(Pieces::of(&[]), move |total| log.borrow_mut().push(total));
    assert!(p.more().is_none());
    assert_eq!(*calls.borrow(), [0]);
}

/// The hook does not run before the last piece has been asked for.
#[test]
fn hooked_waits_for_the_end() {
    let calls = Rc::new(Cell::new(0));
    let log = Rc::clone(&calls);
    let mut p = Hooked::new(Pieces::of(&[b"a", b"b"]), move |_| log.set(log.get() + 1));
    p.more();
    p.more();
    assert_eq!(calls.get(), 0);
    assert!(p.more().is_none());
    assert_eq!(calls.get(), 1);
}

// ---------------------------------------------------------------------------
// The FIFO: ordering, bookkeeping, laziness, partial writes
// ---------------------------------------------------------------------------

#[test]
fn fifo_bookkeeping() {
    let mut fifo = Fifo::new();
    assert!(fifo.is_empty());
    fifo.push(Piece::from(Vec::new())); // dropped
    assert!(fifo.is_empty());
    fifo.push(Piece::from(&b"abc"[..]));
    fifo.push_producer(Box::new(BytesProducer::new(&b"defg"[..])));
    fifo.push(Piece::from(b"hi".to_vec()));
    assert_eq!(fifo.len(), 3);
    assert_eq!(
        fifo.queued_bytes(),
        9,
        "producers are counted for what they promise"
    );
    let mut t = Budget::new(2);
    assert_eq!(fifo.send(&mut t, u64::MAX).unwrap(), 2);
    assert_eq!(fifo.queued_bytes(), 9 - 2);
    t.left = 100;
    fifo.send(&mut t, u64::MAX).unwrap();
    assert_eq!(t.taken, b"abcdefghi");
    assert!(fifo.is_empty());
    assert_eq!(fifo.queued_bytes(), 0);
    fifo.push(Piece::from(&b"x"[..]));
    fifo.push_producer(Box::new(BytesProducer::new(&b"y"[..])));
    fifo.clear();
    assert!(fifo.is_empty());
    assert_eq!(fifo.queued_bytes(), 0);
}

/// `send` stops once it has written the budget, after finishing the write
/// it started.
#[test]
fn fifo_send_respects_the_budget() {
    let mut fifo = Fifo::new();
    for i in 0..5u8 {
        fifo.push(Piece::from(vec![i; 100_000]));
    }
    let mut t = Greedy::default();
    // The first write gathers three pieces (300 000 >= GATHER_MAX).
    assert_eq!(fifo.send(&mut t, 250_000).unwrap(), 300_000);
    assert_eq!(fifo.len(), 2);
    assert_eq!(fifo.send(&mut t, 1).unwrap(), 200_000);
    assert!(fifo.is_empty());
    let want: Vec<u8> = (0..5u8).flat_map(|i| vec![i; 100_000]).collect();
    assert!(t.0 == want);
}

/// A transport that takes everything, file spans whole.
#[derive(Default)]
struct Greedy(Vec<u8>);

impl Transport for Greedy {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            self.0.extend_from_slice(b);
            n += b.len();
        }
        Ok(n)
    }

    fn send_file(&mut self, span: &asynchat::FileSpan) -> io::Result<usize> {
        let bytes = piece_bytes(&Piece::File(span.clone()));
        self.0.extend_from_slice(&bytes);
        Ok(bytes.len())
    }
}

/// Budget over file spans: a greedy transport takes a whole span per call.
#[test]
fn fifo_send_budget_over_file_spans() {
    let data = pattern(3 * FILE_SPAN_MAX as usize, 12);
    let file = TempFile::with(&data);
    let mut fifo = Fifo::new();
    fifo.push_producer(Box::new(FileProducer::whole(file.open()).unwrap()));
    let mut t = Greedy::default();
    assert_eq!(fifo.send(&mut t, 1).unwrap(), FILE_SPAN_MAX);
    assert_eq!(
        fifo.send(&mut t, FILE_SPAN_MAX + 1).unwrap(),
        2 * FILE_SPAN_MAX
    );
    assert_eq!(fifo.send(&mut t, u64::MAX).unwrap(), 0);
    assert!(fifo.is_empty());
    assert!(t.0 == data);
}

/// A transport with TCP's segments, of `segment` bytes: it takes
/// everything, and notes where in what it took each `sendfile` call ended.
struct Segmented {
    segment: u64,
    out: Vec<u8>,
    call_ends: Vec<u64>,
}

impl Segmented {
    fn new(segment: u64) -> Segmented {
        Segmented {
            segment,
            out: Vec::new(),
            call_ends: Vec::new(),
        }
    }

    /// Checks that each of `ends`, places in the stream where a call
    /// ended, is `from` plus whole segments.
    fn assert_on_boundaries(&self, ends: impl IntoIterator<Item = u64>, from: u64, what: &str) {
        for end in ends {
            assert_eq!(
                (end - from) % self.segment,
                0,
                "{what}: a call ended {} past {from}: {:?}",
                end - from,
                self.call_ends
            );
        }
    }

    /// Checks every call but the last, which ends the file.
    fn assert_calls_on_boundaries(&self, what: &str) {
        let (_, rest) = self.call_ends.split_last().expect("sendfile calls");
        self.assert_on_boundaries(rest.iter().copied(), 0, what);
    }
}

impl Transport for Segmented {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        bufs.iter().for_each(|b| self.out.extend_from_slice(b));
        Ok(bufs.iter().map(|b| b.len()).sum())
    }

    fn segment_size(&self) -> Option<u64> {
        Some(self.segment)
    }

    fn send_file(&mut self, span: &asynchat::FileSpan) -> io::Result<usize> {
        self.out.extend(piece_bytes(&Piece::File(span.clone())));
        self.call_ends.push(self.out.len() as u64);
        Ok(span.len as usize)
    }
}

/// Writes `chan` to `t`, a write event at a time, until it has nothing
/// left to write; the bytes each event wrote.
fn drain_channel(chan: &mut Channel, server: &mut impl AsyncChat, t: &mut Segmented) -> Vec<u64> {
    let mut events = Vec::new();
    for _ in 0..100 {
        if !chan.writable() {
            break;
        }
        let before = t.out.len() as u64;
        chan.send(server, &mut *t).unwrap();
        events.push(t.out.len() as u64 - before);
    }
    assert!(!chan.writable(), "the queue never drained");
    events
}

/// A head of `head` bytes and a file producer over the whole of `file`,
/// queued.
fn head_and_file(head: usize, file: &TempFile, len: usize) -> Fifo {
    let mut fifo = Fifo::new();
    fifo.push(Piece::from(vec![b'h'; head]));
    fifo.push_producer(Box::new(FileProducer::new(file.open(), 0, len as u64)));
    fifo
}

/// A file goes out in `sendfile` calls that end on segment boundaries of
/// the stream, the head's bytes counted: after a head, the first call ends
/// with the head's segment, the others carry whole segments, and only the
/// last ends where the file does. The bytes are the head's and the
/// file's, whatever the budget of each write, and the queue's count of
/// bytes comes back to nothing.
#[test]
fn file_calls_end_on_segment_boundaries() {
    let data = pattern(3 * FILE_SPAN_MAX as usize + 12_345, 21);
    let file = TempFile::with(&data);
    let whole = data.len() as u64;
    // (segment, range offset, range length, head length, budget per write)
    let cases = [
        (65_483, 0, whole, 261, FILE_SPAN_MAX),
        (65_483, 0, whole, 0, FILE_SPAN_MAX),
        (65_483, 4095, whole - 4095, 300, FILE_SPAN_MAX),
        (65_483, 0, whole, 261, 100_000),
        (65_483, 0, whole, 261, u64::MAX),
        (1448, 7, whole - 7, 512, FILE_SPAN_MAX),
        (32_768, 0, 2 * FILE_SPAN_MAX, 70_000, FILE_SPAN_MAX),
    ];
    for (segment, offset, len, head, budget) in cases {
        let case = format!("segment {segment}, {offset}+{len}, head {head}, budget {budget}");
        let mut fifo = Fifo::new();
        fifo.push(Piece::from(vec![b'h'; head]));
        fifo.push_producer(Box::new(FileProducer::new(file.open(), offset, len)));
        let mut t = Segmented::new(segment);
        drain_by(&mut fifo, &mut t, budget).unwrap();
        assert_eq!(fifo.queued_bytes(), 0, "{case}");
        let want = [
            &vec![b'h'; head][..],
            &data[offset as usize..(offset + len) as usize],
        ]
        .concat();
        assert!(t.out == want, "{case}: the bytes sent differ");
        assert_eq!(
            t.call_ends.last().copied(),
            Some(want.len() as u64),
            "{case}: the last call ends the file"
        );
        t.assert_calls_on_boundaries(&case);
        if !(head as u64).is_multiple_of(segment) {
            assert_eq!(
                t.call_ends[0],
                (head as u64 / segment + 1) * segment,
                "{case}"
            );
        }
        // Every call but the first and the last carries the whole segments
        // a write's budget holds.
        let room = budget.min(FILE_SPAN_MAX);
        let calls = t.call_ends.len() as u64;
        let most = want.len() as u64 / (room - room % segment) + 2;
        assert!(calls <= most, "{case}: {calls} calls, {most} at most");
    }
}

/// Answers the `n`th line with a head of `head` bytes and the whole of
/// the `n`th file (the last one for every line after).
struct FileServer {
    files: Vec<(Rc<File>, u64)>,
    head: usize,
    next: usize,
}

impl FileServer {
    fn new(head: usize, files: &[(&TempFile, usize)]) -> FileServer {
        FileServer {
            files: files
                .iter()
                .map(|(file, len)| (Rc::new(file.open()), *len as u64))
                .collect(),
            head,
            next: 0,
        }
    }
}

impl AsyncChat for FileServer {
    fn collect_incoming_data(&mut self, _chan: &mut Channel, _data: &[u8]) {}
    fn found_terminator(&mut self, chan: &mut Channel) {
        let (file, len) = &self.files[self.next.min(self.files.len() - 1)];
        self.next += 1;
        chan.push(vec![b'h'; self.head]);
        chan.push_with_producer(FileProducer::new(Rc::clone(file), 0, *len));
    }
}

/// A channel's write event can call the queue more than once: after a
/// call that left a file span waiting (no segment boundary in the little
/// left of the budget), the channel delivers a request that back-pressure
/// held and writes again with what is left. That second call, with nothing
/// written yet but only a few hundred bytes of budget, still ends on a
/// segment boundary: it is not a span's worth cut anywhere, which leaves a
/// sliver of a segment and sends twice the budget in one event.
#[test]
fn file_calls_end_on_segment_boundaries_when_the_channel_writes_again() {
    const SEGMENT: u64 = 65_483;
    const HEAD: usize = 261;
    let data = pattern(2 * FILE_SPAN_MAX as usize + 1, 9);
    let file = TempFile::with(&data);
    let mut server = FileServer::new(HEAD, &[(&file, data.len())]);
    let mut chan = Channel::new(b"\n");
    // Two pipelined requests: the first response fills the queue (1 MiB),
    // so the second waits in the input buffer until some of it is sent.
    chan.feed(&mut server, b"1\n2\n");
    let mut t = Segmented::new(SEGMENT);
    let budget = chan.limits().write_budget;
    let events = drain_channel(&mut chan, &mut server, &mut t);
    assert_eq!(chan.fifo().queued_bytes(), 0);
    let response = [&vec![b'h'; HEAD][..], &data].concat();
    assert!(
        t.out == [&response[..], &response].concat(),
        "the bytes sent differ"
    );
    // The first response's calls end on segment boundaries, but for the
    // one that ends its file (the second's are what
    // a_channel_that_writes_again_after_a_head_ends_the_heads_segment
    // checks).
    let size = response.len() as u64;
    let first: Vec<u64> = t
        .call_ends
        .iter()
        .copied()
        .filter(|&end| end < size)
        .collect();
    t.assert_on_boundaries(first, 0, "the first response");
    assert!(t.call_ends.contains(&size), "a call ends the first file");
    // No write event sends more than its budget and a segment.
    for n in &events {
        assert!(*n <= budget + SEGMENT, "{n} bytes in one event: {events:?}");
    }
}

/// The bytes written before a file span count toward its first segment
/// even when the span goes out in a later write event: pipelined small
/// responses and a large file's head take what the first event's budget
/// holds (sent with `MSG_MORE`, so the kernel keeps them for the segment
/// that follows), and the file's calls in the next events still end on
/// the stream's segment boundaries.
#[test]
fn a_head_written_in_one_event_counts_toward_its_files_first_segment() {
    const SEGMENT: u64 = 65_483;
    let data = pattern(3 * FILE_SPAN_MAX as usize + 77, 5);
    let file = TempFile::with(&data);
    // Three small responses before the head, each its own piece.
    let before: Vec<Vec<u8>> = (0..3).map(|i| vec![b'a' + i; 300 + i as usize]).collect();
    let head = vec![b'h'; 261];
    let ahead = before.iter().map(Vec::len).sum::<usize>() + head.len();
    let mut fifo = Fifo::new();
    for piece in &before {
        fifo.push(Piece::from(piece.clone()));
    }
    fifo.push(Piece::from(head.clone()));
    fifo.push_producer(Box::new(FileProducer::new(
        file.open(),
        0,
        data.len() as u64,
    )));
    let mut t = Segmented::new(SEGMENT);
    // The first event's budget holds the pieces and a few bytes more, not
    // a segment: the span waits.
    fifo.send(&mut t, ahead as u64 + 10).unwrap();
    assert_eq!(t.out.len(), ahead, "the pieces and the head, no more");
    assert!(t.call_ends.is_empty(), "no sendfile in the first event");
    drain_by(&mut fifo, &mut t, FILE_SPAN_MAX).unwrap();
    let want = [before.concat(), head, data].concat();
    assert!(t.out == want, "the bytes sent differ");
    assert_eq!(
        t.call_ends[0], SEGMENT,
        "the first call ends the first segment"
    );
    t.assert_calls_on_boundaries("pieces, head and file");
}

/// The lead kept across calls meets the queue's other way to a first
/// call: when a call has written nothing yet and its budget reaches no
/// segment boundary (the little a channel has left of its event when it
/// writes again), one segment goes. After a head written with `MSG_MORE`,
/// that one segment is the rest of the head's segment, not a segment from
/// the file's start: the call ends on the stream's boundary, and so do all
/// the calls after it.
#[test]
fn a_head_then_a_call_with_little_budget_ends_the_heads_segment() {
    const SEGMENT: u64 = 65_483;
    let data = pattern(2 * FILE_SPAN_MAX as usize + 99, 3);
    let file = TempFile::with(&data);
    for head in [1usize, 261, 4000, SEGMENT as usize + 5] {
        let what = format!("head {head}");
        let mut fifo = head_and_file(head, &file, data.len());
        let mut t = Segmented::new(SEGMENT);
        // The head, and too little budget for the rest of its segment.
        fifo.send(&mut t, head as u64 + 10).unwrap();
        assert_eq!(t.out.len(), head, "{what}: the head alone");
        // A call with nothing written yet and a few hundred bytes of budget.
        fifo.send(&mut t, 300).unwrap();
        drain_by(&mut fifo, &mut t, FILE_SPAN_MAX).unwrap();
        let want = [vec![b'h'; head], data.clone()].concat();
        assert!(t.out == want, "{what}: the bytes sent differ");
        t.assert_calls_on_boundaries(&what);
    }
}

/// The same through a channel: an event's first call writes a small
/// file's response and the head of a large one, whose file waits (the
/// budget left reaches no boundary); the channel then delivers a request
/// the work bound held, and writes again with the little left of its
/// budget. That call, and every one after it, ends on a segment boundary
/// of the stream.
#[test]
fn a_channel_that_writes_again_after_a_head_ends_the_heads_segment() {
    const SEGMENT: u64 = 65_483;
    const HEAD: usize = 261;
    let small = pattern(FILE_SPAN_MAX as usize - 2 * HEAD - 500, 4);
    let large = pattern(2 * FILE_SPAN_MAX as usize + 1, 5);
    let (small_file, large_file) = (TempFile::with(&small), TempFile::with(&large));
    let mut server = FileServer::new(
        HEAD,
        &[(&small_file, small.len()), (&large_file, large.len())],
    );
    let mut chan = Channel::new(b"\n");
    chan.set_limits(asynchat::Limits {
        work_per_event: 2,
        max_queued_bytes: 64 << 20,
        ..asynchat::Limits::DEFAULT
    });
    // The small file, the large one, and one more large one held by the
    // work bound.
    chan.feed(&mut server, b"1\n2\n3\n");
    let mut t = Segmented::new(SEGMENT);
    drain_channel(&mut chan, &mut server, &mut t);
    let h = vec![b'h'; HEAD];
    let want = [&h[..], &small, &h, &large, &h, &large].concat();
    assert!(t.out == want, "the bytes sent differ");
    // The first large file's calls, but the one that ends it.
    let start = (HEAD + small.len()) as u64;
    let end = start + HEAD as u64 + large.len() as u64;
    let calls: Vec<u64> = t
        .call_ends
        .iter()
        .copied()
        .filter(|&c| c > start && c < end)
        .collect();
    t.assert_on_boundaries(calls, start, "the first large response");
}

/// A small file is one `sendfile` call, whatever the segments, and the
/// transport is not asked for its segment size.
#[test]
fn a_small_file_is_one_call() {
    let data = pattern(65_536, 4);
    let file = TempFile::with(&data);
    struct Unasked(Vec<u8>, usize);
    impl Transport for Unasked {
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let n = bufs.iter().map(|b| b.len()).sum();
            bufs.iter().for_each(|b| self.0.extend_from_slice(b));
            Ok(n)
        }
        fn segment_size(&self) -> Option<u64> {
            panic!("asked for the segment size of a small file");
        }
        fn send_file(&mut self, span: &asynchat::FileSpan) -> io::Result<usize> {
            self.0.extend(piece_bytes(&Piece::File(span.clone())));
            self.1 += 1;
            Ok(span.len as usize)
        }
    }
    let mut fifo = Fifo::new();
    fifo.push(Piece::from(vec![b'h'; 258]));
    fifo.push_producer(Box::new(
        Composite::new().with(FileProducer::whole(file.open()).unwrap()),
    ));
    let mut t = Unasked(Vec::new(), 0);
    fifo.send(&mut t, FILE_SPAN_MAX).unwrap();
    assert!(fifo.is_empty());
    assert_eq!(t.1, 1, "sendfile calls");
    assert!(t.0 == [&[b'h'; 258][..], &data].concat());
}

/// A transport that takes `left` bytes, then says `WouldBlock`.
struct Budget {
    taken: Vec<u8>,
    left: usize,
    writes: usize,
}

impl Budget {
    fn new(left: usize) -> Budget {
        Budget {
            taken: Vec::new(),
            left,
            writes: 0,
        }
    }
}

impl Transport for Budget {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.writes += 1;
        if self.left == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut n = 0;
        for b in bufs {
            let k = b.len().min(self.left - n);
            self.taken.extend_from_slice(&b[..k]);
            n += k;
            if n == self.left {
                break;
            }
        }
        self.left -= n;
        Ok(n)
    }
}

/// A producer of `pieces` pieces of `size` bytes that counts its `more()`
/// calls; piece `i` is filled with byte `i`.
struct Counting {
    calls: Rc<Cell<usize>>,
    made: usize,
    pieces: usize,
    size: usize,
}

impl Counting {
    fn new(pieces: usize, size: usize) -> (Counting, Rc<Cell<usize>>) {
        let calls = Rc::new(Cell::new(0));
        let p = Counting {
            calls: Rc::clone(&calls),
            made: 0,
            pieces,
            size,
        };
        (p, calls)
    }

    fn expected(pieces: usize, size: usize) -> Vec<u8> {
        (0..pieces).flat_map(|i| vec![i as u8; size]).collect()
    }
}

impl Producer for Counting {
    fn more(&mut self) -> Option<Piece> {
        self.calls.set(self.calls.get() + 1);
        if self.made == self.pieces {
            return None;
        }
        self.made += 1;
        Some(Piece::from(vec![(self.made - 1) as u8; self.size]))
    }
}

struct Quiet;

impl AsyncChat for Quiet {
    fn collect_incoming_data(&mut self, _chan: &mut Channel, _data: &[u8]) {}
    fn found_terminator(&mut self, _chan: &mut Channel) {}
}

/// `push_with_producer` does not call `more()`; `send` does.
#[test]
fn a_producer_is_lazy_until_send() {
    let (p, calls) = Counting::new(3, 10);
    let mut chan = Channel::new(b"\n");
    chan.push_with_producer(p);
    assert_eq!(calls.get(), 0, "more() was called by push_with_producer");
    assert!(chan.writable());
    assert_eq!(chan.fifo().len(), 1);
    let mut wire = Vec::new();
    chan.send(&mut Quiet, &mut wire).unwrap();
    assert_eq!(wire, Counting::expected(3, 10));
    assert_eq!(calls.get(), 4, "three pieces and the None");
    assert!(!chan.writable());
}

/// With a transport that takes only a few bytes, `send` asks a producer for
/// no more than `GATHER_MAX` bytes beyond what was written.
#[test]
fn send_does_not_run_ahead_of_the_transport() {
    let size = 16 * 1024;
    let pieces = 1000;
    let ahead = (GATHER_MAX as usize).div_ceil(size) + 1;
    let (p, calls) = Counting::new(pieces, size);
    let mut fifo = Fifo::new();
    fifo.push_producer(Box::new(p));
    let mut t = Budget::new(10);
    assert_eq!(fifo.send(&mut t, u64::MAX).unwrap(), 10);
    assert!(
        calls.get() <= ahead,
        "{} more() calls for 10 bytes written (at most {ahead})",
        calls.get()
    );
    assert!(calls.get() >= 1);

    let mut total = 10;
    for budget in [100_000usize, 1, 300_000, 5] {
        t.left = budget;
        total += budget;
        assert_eq!(fifo.send(&mut t, u64::MAX).unwrap(), budget as u64);
        let bound = total.div_ceil(size) + ahead;
        assert!(
            calls.get() <= bound,
            "{} more() calls after {total} bytes written (at most {bound})",
            calls.get()
        );
        assert!(calls.get() >= total.div_ceil(size));
    }
    assert_eq!(t.taken, Counting::expected(pieces, size)[..total]);

    // Tiny pieces: gathering stops at GATHER_PIECES.
    let (p, calls) = Counting::new(10_000, 1);
    let mut fifo = Fifo::new();
    fifo.push_producer(Box::new(p));
    let mut t = Budget::new(10);
    assert_eq!(fifo.send(&mut t, u64::MAX).unwrap(), 10);
    assert!(
        calls.get() <= GATHER_PIECES + 1,
        "{} more() calls for 10 one-byte pieces",
        calls.get()
    );
}

/// A producer behind a file span is not asked for more while the span is
/// being sent.
#[test]
fn a_producer_behind_a_file_is_not_asked_early() {
    let data = pattern(100_000, 4);
    let file = TempFile::with(&data);
    let (p, calls) = Counting::new(2, 5);
    let mut fifo = Fifo::new();
    fifo.push_producer(Box::new(FileProducer::whole(file.open()).unwrap()));
    fifo.push_producer(Box::new(p));
    let mut t = Budget::new(50_000);
    fifo.send(&mut t, u64::MAX).unwrap();
    assert_eq!(calls.get(), 0);
    t.left = usize::MAX;
    drain(&mut fifo, &mut t).unwrap();
    assert!(t.taken == [data, Counting::expected(2, 5)].concat());
    assert_eq!(calls.get(), 3);
}

/// A transport that takes 1, 2, ... 7 bytes per call, and now and then is
/// interrupted or would block.
#[derive(Default)]
struct Dribble {
    taken: Vec<u8>,
    calls: usize,
}

impl Transport for Dribble {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(11) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.calls.is_multiple_of(13) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut want = self.calls % 7 + 1;
        let mut n = 0;
        for b in bufs {
            let k = b.len().min(want);
            self.taken.extend_from_slice(&b[..k]);
            n += k;
            want -= k;
            if want == 0 {
                break;
            }
        }
        Ok(n)
    }
}

/// The output of a mixed queue (bytes, producers, file spans, framing),
/// with the expected bytes.
fn mixed_queue(file: &TempFile, data: &[u8]) -> (Fifo, Vec<u8>) {
    let mut fifo = Fifo::new();
    let mut want = Vec::new();
    fifo.push(Piece::from(&b"HTTP/1.1 200 OK\r\n\r\n"[..]));
    want.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
    fifo.push_producer(Box::new(
        Composite::new()
            .with(BytesProducer::new(&b"[head]"[..]))
            .with(FileProducer::new(file.open(), 10, 20_000))
            .with(Pieces::of(&[b"[tail]", b"", b"[never]"])),
    ));
    want.extend_from_slice(b"[head]");
    want.extend_from_slice(&data[10..20_010]);
    want.extend_from_slice(b"[tail]");
    fifo.push_producer(Box::new(Chunked::new(Pieces::of(&[
        b"hello", b"world!", b"", b"never",
    ]))));
    want.extend_from_slice(b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n");
    fifo.push(Piece::from(pattern(3000, 8)));
    want.extend_from_slice(&pattern(3000, 8));
    fifo.push_producer(Box::new(FileProducer::new(file.open(), 0, 700)));
    want.extend_from_slice(&data[..700]);
    for i in 0..100u8 {
        fifo.push(Piece::from(vec![i; 3]));
        want.extend_from_slice(&[i; 3]);
    }
    (fifo, want)
}

/// Partial writes resume exactly: a transport that takes a few bytes at a
/// time gets the same stream as one that takes everything.
#[test]
fn partial_writes_resume_exactly() {
    let data = pattern(30_000, 6);
    let file = TempFile::with(&data);

    let (mut fifo, want) = mixed_queue(&file, &data);
    let whole = wire_of(&mut fifo);
    assert!(
        whole == want,
        "the whole-write stream differs from the expected"
    );

    let (mut fifo, _) = mixed_queue(&file, &data);
    let mut t = Dribble::default();
    let sent = drain(&mut fifo, &mut t).unwrap();
    assert_eq!(sent as usize, want.len());
    assert_eq!(t.taken.len(), want.len());
    assert!(t.taken == want, "the dribbled stream differs");
    assert!(t.calls > want.len() / 7, "the transport really was partial");
}

// ---------------------------------------------------------------------------
// sendfile to a real socket
// ---------------------------------------------------------------------------

/// `Fifo::send` to a non-blocking `TcpStream` sends a file with `sendfile`
/// and the receiver gets exactly the file's bytes, with the byte pieces
/// around it. That `sendfile` was used shows in the size of one `send`: the
/// copying fallback of `Transport::send_file` moves 16 KiB per call and
/// `Fifo::send` stops at its first short write, so one call moves at most
/// about 32 KiB; `sendfile` fills the (enlarged) socket buffer at once.
#[test]
fn fifo_sends_a_file_to_a_tcp_socket() {
    let data = pattern(3 << 20, 11);
    let file = TempFile::with(&data);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut reader = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (mut writer, _) = listener.accept().unwrap();
    writer.set_nonblocking(true).unwrap();
    // A send buffer well over 16 KiB, so one sendfile call can show it.
    rustix::net::sockopt::set_socket_send_buffer_size(&writer, 1 << 20).unwrap();

    let receiving = thread::spawn(move || {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).map(|_| got)
    });

    let mut fifo = Fifo::new();
    fifo.push(Piece::from(&b"<"[..]));
    fifo.push_producer(Box::new(FileProducer::whole(file.open()).unwrap()));
    fifo.push(Piece::from(&b">"[..]));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut biggest = 0;
    while !fifo.is_empty() {
        assert!(Instant::now() < deadline, "sending timed out");
        let n = fifo.send(&mut writer, u64::MAX).unwrap();
        biggest = biggest.max(n);
        if n == 0 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    drop(writer);
    let got = receiving.join().unwrap().expect("reading the socket");
    let want = [&b"<"[..], &data, b">"].concat();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the bytes received differ from the file");
    assert!(
        biggest > 64 * 1024,
        "one send moved at most {biggest} bytes: the file was copied, not sent with sendfile"
    );
}
