//! The output queue: a FIFO of pieces and lazy producers, and the code that
//! writes it to a transport.
//!
//! The bytes on the wire are exactly those of CPython's one-piece-at-a-time
//! algorithm; only the number of system calls differs. [`Fifo::send`]
//! gathers the leading byte pieces into one vectored write, and hands a file
//! span at the front to [`Transport::send_file`] (`sendfile` on a socket).
//! Producers are asked for more only while the gathered total is under
//! [`GATHER_MAX`], so laziness survives gathering.
//!
//! A file goes out in `sendfile` calls that end where the connection's TCP
//! segments end ([`Transport::segment_size`]), not where the producer's
//! spans do: the spans that continue a file are joined at the front of the
//! queue, and each call is cut at the last segment boundary it reaches
//! ([`file_call_len`]). A call that ends a little past a boundary leaves
//! the kernel a sliver of a segment right behind one it has just sent,
//! and TCP's pacing then arms a timer to send that sliver on its own
//! (the README's Benchmarks section has the measurements).

use std::cell::{OnceCell, RefCell};
use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::net::TcpStream;
use std::rc::Rc;

use crate::producer::{FILE_SPAN_MAX, FileSpan, Piece, Producer, file_shrank, next_piece};
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

    /// The size of the segments the transport sends data in, when it has
    /// them: a TCP socket's maximum segment size. With it, the queue ends
    /// each `sendfile` call on a segment boundary ([`file_call_len`]); the
    /// default has none, and file spans go out as they are.
    fn segment_size(&self) -> Option<u64> {
        None
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

    fn segment_size(&self) -> Option<u64> {
        tcp_maxseg(self)
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

/// The socket's maximum segment size (`TCP_MAXSEG`): the bytes of data
/// one TCP segment carries on this connection (65,483 on loopback, whose
/// MTU is 64 KiB; 1,448 on Ethernet with timestamps). `None` if the
/// socket will not say.
fn tcp_maxseg(socket: &TcpStream) -> Option<u64> {
    use std::ffi::{c_int, c_void};
    use std::os::fd::AsRawFd;
    // From <netinet/in.h> and <netinet/tcp.h> (Linux).
    const IPPROTO_TCP: c_int = 6;
    const TCP_MAXSEG: c_int = 2;
    #[allow(unsafe_code)]
    unsafe extern "C" {
        fn getsockopt(
            fd: c_int,
            level: c_int,
            name: c_int,
            value: *mut c_void,
            len: *mut u32,
        ) -> c_int;
    }
    let mut mss: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as u32;
    // SAFETY: `value` points to a c_int and `len` holds its size, so the
    // kernel writes at most that many bytes there; the descriptor is the
    // stream's own, open for the borrow. A failure is a -1 return.
    #[allow(unsafe_code)]
    let r = unsafe {
        getsockopt(
            socket.as_raw_fd(),
            IPPROTO_TCP,
            TCP_MAXSEG,
            (&raw mut mss).cast(),
            &raw mut len,
        )
    };
    u64::try_from(mss).ok().filter(|&mss| r == 0 && mss > 0)
}

/// How many bytes of a file span of `len` to hand to one `sendfile`, so
/// that the call ends on a segment boundary: a segment holds `segment`
/// bytes, `lead` bytes of the current one are queued already (a response
/// head, written just before), and the call should send about `room`
/// bytes at most.
///
/// - A span that ends within a segment past `room` is sent whole: its end
///   is the file's, and a call of its own for the rest would be smaller
///   still.
/// - Otherwise a call after a lead ends with the lead's segment, and any
///   other sends the whole segments that fit in `room`.
/// - When `room` reaches no boundary: 0, so that the span waits for the
///   next write rather than leave a sliver of a segment behind; or, when
///   the call `must_send` (nothing was written yet: the budget is smaller
///   than a segment, or it is the little a channel has left of its event
///   when it writes again after delivering held requests), the rest of
///   the lead's segment, or one segment, at most [`FILE_SPAN_MAX`]: the
///   call still ends on a boundary, and passes `room` by a segment at most.
///
/// Why a lead's segment is a call of its own: the kernel moves a file
/// through `sendfile` in rounds of 64 KiB (a pipe of 16 pages), and a
/// round that starts on a page boundary ends a few bytes past a segment
/// boundary (on loopback, 65,536 bytes are a segment of 65,483 and 53
/// more), leaving the same sliver at every round. A file sent from its
/// start begins on a page boundary; a first call of one segment less the
/// head puts the calls after it off page boundaries.
pub fn file_call_len(len: u64, lead: u64, room: u64, segment: u64, must_send: bool) -> u64 {
    if segment == 0 || len <= room.saturating_add(segment) {
        return len;
    }
    // The rest of the segment under way: a whole one after no lead.
    let rest = segment - lead % segment;
    let count = if rest < segment {
        if rest <= room { rest } else { 0 }
    } else {
        room - room % segment
    };
    if count == 0 && must_send {
        rest.min(FILE_SPAN_MAX)
    } else {
        count
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
    /// Bytes written with `MSG_MORE` right before a file span and not yet
    /// followed by it: the start of the segment the span's first
    /// `sendfile` continues ([`file_call_len`]'s `lead`). Kept across
    /// writes and events, as the kernel keeps the bytes: a head written in
    /// one event and its file in the next are one segment.
    lead: u64,
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
        self.lead = 0;
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
                Item::Producer(..) => {
                    self.ask_producer(i);
                }
            }
        }
        i
    }

    /// Asks the producer at `i` for a piece and queues it just before the
    /// producer; false when the producer is done, and dropped.
    /// Inline: [`Fifo::fill`] calls it for every piece a producer makes,
    /// and out of line it cost 8 instructions a pipelined request
    /// (`benches/callgrind.sh`).
    #[inline(always)]
    fn ask_producer(&mut self, i: usize) -> bool {
        let Some(Item::Producer(p, counted)) = self.items.get_mut(i) else {
            unreachable!("a producer is at {i}");
        };
        match next_piece(p.as_mut()) {
            Some(piece) => {
                // The piece is counted as ready, and the producer for what
                // it holds now: the total moves only by what making the
                // piece changed.
                let now = p.weight();
                self.queued = self.queued + piece.weight() + now - *counted;
                *counted = now;
                self.items.insert(i, Item::Ready(piece));
                true
            }
            None => {
                self.queued -= *counted;
                self.items.remove(i);
                false
            }
        }
    }

    /// Lengthens the file span at the front, while it is shorter than
    /// `want`, with the spans that continue it: the next ones from the
    /// producer behind it, when they are of the same file, stamp and way of
    /// sending and start where it ends. A `sendfile` call can then end on a
    /// segment boundary rather than where a span does. Only the producer
    /// right behind the span is asked, and only for as much as `want`
    /// takes: once it is done, what follows is another's, which waits as
    /// it would for [`Fifo::fill`]. Returns the front span's length.
    fn extend_front_span(&mut self, want: u64) -> u64 {
        loop {
            let (Some(Item::Ready(Piece::File(front))), next) =
                (self.items.front(), self.items.get(1))
            else {
                unreachable!("the front is a file span");
            };
            if front.len >= want {
                return front.len;
            }
            match next {
                Some(Item::Ready(Piece::File(span))) if continues(front, span) => {
                    self.join_second_span();
                }
                Some(Item::Producer(..)) => {
                    if !self.ask_producer(1) {
                        // Done: what follows is another producer's.
                        return self.front_span().len;
                    }
                }
                _ => return front.len,
            }
        }
    }

    /// The file span at the front.
    fn front_span(&self) -> &FileSpan {
        match self.items.front() {
            Some(Item::Ready(Piece::File(span))) => span,
            _ => unreachable!("the front is a file span"),
        }
    }

    /// Joins the file span second in the queue to the one at the front,
    /// which it continues.
    fn join_second_span(&mut self) {
        let (Some(Item::Ready(next @ Piece::File(_))), Some(Item::Ready(front))) =
            (self.items.remove(1), self.items.front_mut())
        else {
            unreachable!("two file spans lead the queue");
        };
        let before = front.weight() + next.weight();
        if let (Piece::File(front), Piece::File(next)) = (&mut *front, next) {
            front.len += next.len;
        }
        self.queued = self.queued - before + front.weight();
    }

    /// How much of the file span at the front to hand to one `sendfile`
    /// ([`file_call_len`]), with at most `room` bytes left of the write
    /// budget, 0 for none now: the span is first joined with those that
    /// continue it, as far as the call could reach. The transport's segment
    /// size is asked (once for `segment`, one [`Fifo::send`]'s) only when
    /// the rest of the file does not fit in `room`, as it does for a small
    /// file, which goes in one call whatever the segments.
    fn file_call(
        &mut self,
        t: &impl Transport,
        segment: &OnceCell<Option<u64>>,
        room: u64,
        must_send: bool,
    ) -> u64 {
        let room = FILE_SPAN_MAX.min(room);
        let len = self.extend_front_span(room + 1);
        if len <= room {
            return len;
        }
        match *segment.get_or_init(|| t.segment_size()) {
            Some(segment) => {
                let len = self.extend_front_span(room.saturating_add(segment) + 1);
                file_call_len(len, self.lead, room, segment, must_send)
            }
            None => len.min(FILE_SPAN_MAX),
        }
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
        // The transport's segment size, asked once a call when a file
        // span comes to the front.
        let segment = OnceCell::new();
        while sent < budget {
            let k = self.fill();
            // The gathered pieces were copied into one buffer.
            let mut copied = false;
            // They are the start of the segment a file span continues.
            let mut before_file = false;
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
                before_file = file_next;
                written.map(|n| (n, total))
            } else if let Some(Item::Ready(Piece::File(span))) = self.items.front() {
                let count = if span.copy {
                    span.len
                } else {
                    self.file_call(t, &segment, budget - sent, sent == 0)
                };
                // No segment boundary within what is left of the budget:
                // the span waits for the next write.
                if count == 0 {
                    break;
                }
                let Some(Item::Ready(Piece::File(span))) = self.items.front() else {
                    unreachable!("the front is still the span");
                };
                self.lead = 0;
                let wanted = usize::try_from(count).unwrap_or(usize::MAX);
                if count == span.len {
                    t.send_file(span)
                } else {
                    t.send_file(&FileSpan {
                        len: count,
                        ..span.clone()
                    })
                }
                .map(|n| (n, wanted))
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
                        self.lead = if before_file { self.lead + n as u64 } else { 0 };
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

/// True when `next` is the part of the file that follows `span`, to be
/// sent the same way.
fn continues(span: &FileSpan, next: &FileSpan) -> bool {
    let same_stamp = match (&span.stamp, &next.stamp) {
        (None, None) => true,
        (Some(a), Some(b)) => Rc::ptr_eq(a, b),
        _ => false,
    };
    Rc::ptr_eq(&span.file, &next.file)
        && span.offset + span.len == next.offset
        && span.copy == next.copy
        && same_stamp
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

    #[test]
    fn file_calls_are_cut_at_segment_boundaries() {
        const LO: u64 = 65_483; // loopback's segment
        const MIB: u64 = 1 << 20;
        const SPAN: u64 = 256 * 1024; // a write budget's room
        // (span length, lead, room, segment, must send) -> bytes for one
        // sendfile
        let cases = [
            // No segment size: the span as it is.
            ((MIB, 261, SPAN, 0, false), MIB),
            // A small file goes in one call, head or no head.
            ((65_536, 258, SPAN, LO, false), 65_536),
            ((1000, 0, SPAN, LO, false), 1000),
            // After a head, the head's segment, then whole segments.
            ((MIB, 261, SPAN, LO, false), LO - 261),
            ((MIB - (LO - 261), 0, SPAN - LO, LO, false), 3 * LO),
            ((MIB, 0, SPAN, LO, false), 4 * LO),
            // A lead of a segment and more counts from its last segment.
            ((MIB, LO + 10, SPAN, LO, false), LO - 10),
            // The end of the file within a segment past the room: all of it.
            ((SPAN + LO, 0, SPAN, LO, false), SPAN + LO),
            ((SPAN + LO + 1, 0, SPAN, LO, false), 4 * LO),
            // No boundary within the room: wait for the next write.
            ((MIB, 0, 212, LO, false), 0),
            ((MIB, 261, 1000, LO, false), 0),
            // ... unless nothing was written yet: the rest of the lead's
            // segment, or one segment, still ending on a boundary.
            ((MIB, 0, 212, LO, true), LO),
            ((MIB, 261, 1000, LO, true), LO - 261),
            ((MIB, 0, SPAN, LO, true), 4 * LO),
            // Ethernet's segments, with timestamps.
            ((MIB, 0, SPAN, 1448, false), SPAN - SPAN % 1448),
            ((MIB, 300, SPAN, 1448, false), 1148),
        ];
        for ((len, lead, room, segment, must_send), want) in cases {
            assert_eq!(
                file_call_len(len, lead, room, segment, must_send),
                want,
                "len {len}, lead {lead}, room {room}, segment {segment}, must send {must_send}"
            );
        }
    }

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
