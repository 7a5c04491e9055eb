//! The output queue: a FIFO of pieces and lazy producers, and the code that
//! writes it to a transport.
//!
//! The bytes on the wire are exactly those of CPython's one-piece-at-a-time
//! algorithm; only the number of system calls differs. [`Fifo::send`]
//! gathers the leading byte pieces into one vectored write, and hands a file
//! span at the front to [`Transport::send_file`] (`sendfile` on a socket).
//! Producers are asked for more only while the gathered total is under
//! [`GATHER_MAX`], so laziness survives gathering.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::net::TcpStream;

use crate::producer::{FileSpan, Piece, Producer, file_shrank, next_piece};
use crate::spare;
use crate::trace::Trace;

/// The most pieces gathered into one vectored write.
pub const GATHER_PIECES: usize = 128;
/// The most bytes gathered before a write; producers are not asked for more
/// once this much is ready.
pub const GATHER_MAX: u64 = 256 * 1024;

/// Gathered pieces of at most this many bytes in all are copied into one
/// buffer and written as one, rather than as a vectored write.
pub const COALESCE_MAX: usize = 16 * 1024;

thread_local! {
    /// Spare buffers of queues that emptied ([`Fifo::release_if_empty`]).
    static SPARE_QUEUES: RefCell<Vec<VecDeque<Item>>> = const { RefCell::new(Vec::new()) };
    /// Where gathered pieces are copied ([`COALESCE_MAX`]): one buffer per
    /// thread, kept at its size, so a write allocates nothing.
    static STAGING: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// How much of a span sent by copying ([`FileSpan::copy`]) is read and
/// written at once.
const COPY_CHUNK: usize = 64 * 1024;

/// Where the queue writes: a socket, or memory in tests and replays.
pub trait Transport {
    /// Writes some of `bufs`, in order, and returns how many bytes were
    /// written, like [`Write::write_vectored`].
    ///
    /// # Errors
    ///
    /// As [`Write::write_vectored`]; `WouldBlock` means "try later".
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;

    /// Writes like [`Transport::write_vectored`], knowing that a file span
    /// follows at once, so a socket may hold these bytes back and send them
    /// in the same segments as the file (`MSG_MORE`): a response head then
    /// costs no packet of its own. The default just writes.
    ///
    /// # Errors
    ///
    /// As [`Transport::write_vectored`].
    fn write_vectored_before_file(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_vectored(bufs)
    }

    /// Sends the start of a file span and returns how many bytes were sent.
    /// The default copies through a buffer; sockets override it with
    /// `sendfile`.
    ///
    /// # Errors
    ///
    /// As [`Transport::write_vectored`], plus the file's read errors.
    fn send_file(&mut self, span: &FileSpan) -> io::Result<usize> {
        let mut buf = [0u8; 16 * 1024];
        let n = span.read_into(&mut buf)?;
        self.write_vectored(&[IoSlice::new(&buf[..n])])
    }
}

impl Transport for TcpStream {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Write::write_vectored(self, bufs)
    }

    fn write_vectored_before_file(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        use rustix::net::{SendAncillaryBuffer, SendFlags, sendmsg};
        let mut no_control = SendAncillaryBuffer::default();
        Ok(sendmsg(&*self, bufs, &mut no_control, SendFlags::MORE)?)
    }

    fn send_file(&mut self, span: &FileSpan) -> io::Result<usize> {
        if span.copy {
            let mut buf = [0u8; COPY_CHUNK];
            let n = span.read_into(&mut buf)?;
            return Write::write(self, &buf[..n]);
        }
        span.verify()?;
        let mut offset = span.offset;
        let count = usize::try_from(span.len).unwrap_or(usize::MAX);
        let n = rustix::fs::sendfile(&*self, &*span.file, Some(&mut offset), count)?;
        if n == 0 && count > 0 {
            return Err(file_shrank());
        }
        Ok(n)
    }
}

impl Transport for Vec<u8> {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Write::write_vectored(self, bufs)
    }
}

enum Item {
    Ready(Piece),
    /// A producer, with the bytes it is counted for: its
    /// [`Producer::weight`] when it last made a piece (or was queued).
    Producer(Box<dyn Producer>, u64),
}

impl Item {
    /// The bytes of a ready in-memory piece.
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Item::Ready(piece) => piece.as_bytes(),
            Item::Producer(..) => None,
        }
    }
}

/// The output queue of a channel.
#[derive(Default)]
pub struct Fifo {
    items: VecDeque<Item>,
    /// Bytes of the front item already sent (byte pieces only; a file span
    /// is advanced in place).
    front_sent: usize,
    /// Bytes queued, for back-pressure: every ready piece (in memory or a
    /// file span) and what producers said they would make, counting the
    /// front piece whole.
    queued: u64,
}

impl Fifo {
    /// An empty queue.
    pub fn new() -> Fifo {
        Fifo::default()
    }

    /// Queues a piece. Empty pieces are dropped.
    pub fn push(&mut self, piece: Piece) {
        if piece.is_empty() {
            return;
        }
        self.queued += piece.weight();
        self.reserve();
        self.items.push_back(Item::Ready(piece));
    }

    /// Queues a producer, counted for the bytes its
    /// [`size_hint`](Producer::size_hint) promises (nothing when it does not
    /// know: such a producer is bounded by the count of queued items alone).
    pub fn push_producer(&mut self, producer: Box<dyn Producer>) {
        let weight = producer.weight();
        self.queued += weight;
        self.reserve();
        self.items.push_back(Item::Producer(producer, weight));
    }

    /// An empty queue holds no buffer: before its first item it takes a
    /// spare one ([`crate::spare`]), which costs no allocation once the
    /// thread has spares. Inline, and the taking out of line: every piece
    /// queued passes here, and only the first of a batch takes a buffer.
    #[inline]
    fn reserve(&mut self) {
        if self.items.capacity() == 0 {
            self.take_spare();
        }
    }

    #[cold]
    #[inline(never)]
    fn take_spare(&mut self) {
        self.items = spare::take(&SPARE_QUEUES);
    }

    /// Gives the queue's buffer back as a spare once everything is sent, so
    /// that an idle channel holds none.
    fn release_if_empty(&mut self) {
        if self.items.is_empty() && self.items.capacity() > 0 {
            let items = std::mem::take(&mut self.items);
            spare::give(&SPARE_QUEUES, items, GATHER_PIECES * 2);
        }
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many pieces and producers are queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Bytes queued and not yet sent, whatever their kind, each piece
    /// counted for what it holds ([`Piece::weight`]): pieces in memory,
    /// shared or not, file spans, and what queued producers said they would
    /// make. This is what back-pressure bounds
    /// ([`crate::Limits::max_queued_bytes`]): a response costs at least its
    /// length here whether it is a page, a range of a cached file or a file
    /// sent with `sendfile`.
    pub fn queued_bytes(&self) -> u64 {
        self.queued - self.front_sent as u64
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        self.items.clear();
        self.front_sent = 0;
        self.queued = 0;
        self.release_if_empty();
    }

    /// Makes sure the leading items are ready pieces, asking producers for
    /// more as needed, and returns how many leading byte pieces can be
    /// gathered into one write (0 when the front is a file span or the queue
    /// is empty).
    fn fill(&mut self) -> usize {
        let (mut i, mut bytes) = (0, 0u64);
        while i < self.items.len() && i < GATHER_PIECES && bytes < GATHER_MAX {
            match &mut self.items[i] {
                Item::Ready(Piece::File(_)) => break,
                Item::Ready(piece) => {
                    bytes += piece.len();
                    i += 1;
                }
                Item::Producer(p, counted) => match next_piece(p.as_mut()) {
                    Some(piece) => {
                        // The piece is counted as ready, and the producer
                        // for what it holds now: the total moves only by
                        // what making the piece changed.
                        let now = p.weight();
                        self.queued = self.queued + piece.weight() + now - *counted;
                        *counted = now;
                        self.items.insert(i, Item::Ready(piece));
                    }
                    None => {
                        self.queued -= *counted;
                        self.items.remove(i);
                    }
                },
            }
        }
        i
    }

    /// Removes `n` sent bytes from the leading byte pieces.
    fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some(b) = self.items.front().and_then(Item::bytes) else {
                unreachable!("consumed more than was gathered");
            };
            let left = b.len() - self.front_sent;
            if n < left {
                self.front_sent += n;
                return;
            }
            n -= left;
            let weight = self.items.front().map_or(0, |i| match i {
                Item::Ready(piece) => piece.weight(),
                Item::Producer(..) => 0,
            });
            self.queued -= weight;
            self.front_sent = 0;
            self.items.pop_front();
        }
    }

    /// Writes as much of the queue as the transport takes, up to about
    /// `budget` bytes, and returns the number of bytes written. Stops quietly
    /// at `WouldBlock` or a short write (the transport is full), retries
    /// `Interrupted`.
    ///
    /// # Errors
    ///
    /// Any other error from the transport or from a file being sent.
    pub fn send(&mut self, t: &mut impl Transport, budget: u64) -> io::Result<u64> {
        self.send_traced(t, budget, None)
    }

    /// [`Fifo::send`], telling `trace` about every write: the bytes written
    /// of those offered, and how many pieces were gathered, or `sendfile`.
    ///
    /// # Errors
    ///
    /// As for [`Fifo::send`].
    pub fn send_traced(
        &mut self,
        t: &mut impl Transport,
        budget: u64,
        trace: Option<&Trace>,
    ) -> io::Result<u64> {
        let mut sent = 0u64;
        while sent < budget {
            let k = self.fill();
            // The gathered pieces were copied into one buffer.
            let mut copied = false;
            let result = if k > 0 {
                let mut iov = [IoSlice::new(&[]); GATHER_PIECES];
                let mut total = 0;
                for (j, (slot, item)) in iov.iter_mut().zip(&self.items).take(k).enumerate() {
                    let Some(b) = item.bytes() else {
                        unreachable!("fill counts only in-memory pieces")
                    };
                    let start = if j == 0 { self.front_sent } else { 0 };
                    *slot = IoSlice::new(&b[start..]);
                    total += b.len() - start;
                }
                let file_next = matches!(self.items.get(k), Some(Item::Ready(Piece::File(_))));
                let write = |t: &mut _, bufs: &[IoSlice<'_>]| {
                    if file_next {
                        Transport::write_vectored_before_file(t, bufs)
                    } else {
                        Transport::write_vectored(t, bufs)
                    }
                };
                copied = k > 1 && total <= COALESCE_MAX;
                let written = if copied {
                    // Many small pieces (pipelined responses are four or
                    // five each) cost the kernel more as separate iovecs
                    // than a copy into one buffer costs here.
                    STAGING.with_borrow_mut(|staging| {
                        staging.clear();
                        for b in &iov[..k] {
                            staging.extend_from_slice(b);
                        }
                        write(t, &[IoSlice::new(staging)])
                    })
                } else {
                    write(t, &iov[..k])
                };
                written.map(|n| (n, total))
            } else if let Some(Item::Ready(Piece::File(span))) = self.items.front() {
                t.send_file(span).map(|n| (n, span.len as usize))
            } else {
                break;
            };
            if let Some(trace) = trace {
                trace_write(trace, &result, k, copied);
            }
            match result {
                Ok((0, _)) => return Err(io::ErrorKind::WriteZero.into()),
                Ok((n, wanted)) => {
                    sent += n as u64;
                    if k > 0 {
                        self.consume(n);
                    } else if let Some(Item::Ready(piece @ Piece::File(_))) = self.items.front_mut()
                    {
                        let before = piece.weight();
                        if let Piece::File(span) = piece {
                            span.offset += n as u64;
                            span.len -= n as u64;
                        }
                        let done = piece.is_empty();
                        self.queued -= if done {
                            before
                        } else {
                            before - piece.weight()
                        };
                        if done {
                            self.items.pop_front();
                        }
                    }
                    if n < wanted {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        self.release_if_empty();
        Ok(sent)
    }
}

/// One trace line for one write: `k` gathered pieces, or a file span when
/// `k` is 0.
fn trace_write(trace: &Trace, result: &io::Result<(usize, usize)>, k: usize, copied: bool) {
    let how = match k {
        0 => "sendfile".to_string(),
        1 => "write, 1 piece".to_string(),
        k if copied => format!("write, {k} pieces copied into one"),
        k => format!("writev, {k} pieces gathered"),
    };
    match result {
        Ok((n, wanted)) => trace.event(format_args!("{how}: {n} of {wanted} bytes")),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            trace.event(format_args!("{how}: would block"));
        }
        Err(e) => trace.event(format_args!("{how}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// A transport that records the slices of every write it takes.
    #[derive(Default)]
    struct Recorded {
        writes: Vec<usize>,
        out: Vec<u8>,
    }

    impl Transport for Recorded {
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.writes.push(bufs.len());
            Write::write_vectored(&mut self.out, bufs)
        }
    }

    #[test]
    fn small_pieces_leave_in_one_slice_and_large_ones_as_they_are() {
        let big: Rc<[u8]> = vec![b'x'; COALESCE_MAX].into();
        let cases: &[(&[&[u8]], usize)] = &[
            (
                &[b"HTTP/1.1 200 OK\r\n", b"Date: x\r\n", b"\r\n", b"body"],
                1,
            ),
            (&[b"only one"], 1),
            (&[b"head\r\n\r\n", &big], 2),
        ];
        for (pieces, slices) in cases {
            let mut fifo = Fifo::new();
            for p in *pieces {
                fifo.push(Piece::Shared(Rc::from(*p)));
            }
            let mut t = Recorded::default();
            fifo.send(&mut t, u64::MAX).unwrap();
            assert_eq!(t.writes, [*slices], "{} pieces", pieces.len());
            assert_eq!(t.out, pieces.concat(), "the bytes, in order");
        }
    }

    #[test]
    fn an_emptied_queue_gives_its_buffer_back_and_takes_it_again() {
        let mut fifo = Fifo::new();
        fifo.push(Piece::Shared(Rc::from(&b"a"[..])));
        fifo.push(Piece::Shared(Rc::from(&b"b"[..])));
        assert!(fifo.items.capacity() > 0);
        let spares = SPARE_QUEUES.with_borrow(Vec::len);
        fifo.send(&mut Vec::new(), u64::MAX).unwrap();
        assert_eq!(fifo.items.capacity(), 0, "an idle queue holds no buffer");
        assert_eq!(SPARE_QUEUES.with_borrow(Vec::len), spares + 1);
        fifo.push(Piece::Shared(Rc::from(&b"c"[..])));
        assert!(fifo.items.capacity() > 0);
        assert_eq!(
            SPARE_QUEUES.with_borrow(Vec::len),
            spares,
            "the spare, taken back"
        );
    }
}
