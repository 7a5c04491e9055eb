//! Producers: lazy sources of output, in the tradition of Medusa's
//! `producers.py`.
//!
//! A producer has one job: [`Producer::more`] returns the next [`Piece`] of
//! its output, or `None` once it is exhausted. The output queue calls `more()`
//! only when the socket can take more, so a producer never holds more than the
//! piece it is asked for: a 4 GiB file costs one [`FileSpan`] (an offset and
//! a length), not 4 GiB.
//!
//! Responses are composed by wrapping: a [`Composite`] of a header and a
//! [`FileProducer`], wrapped in a [`Hooked`] that logs the byte total when it
//! is done, or a [`Chunked`] around anything of unknown length.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The largest span a [`FileProducer`] hands out at once. It bounds one
/// `sendfile` call, so a client fetching a large file cannot hold the reactor
/// for long; the socket's free buffer space bounds the call further. The
/// queue cuts each call at a TCP segment boundary (`Fifo`'s
/// `file_call_len`); with those cuts, on 2026-12-03 (Linux 6.18), 512 KiB
/// spans served 1 MiB files 1.4 times as fast as 256 KiB spans with
/// `benches/bigread.py`, as a 1 MiB response then takes two write events
/// rather than four or five, and 16 MiB files as fast (the README's
/// Benchmarks section). Without the cuts, 256 KiB had been the better size.
pub const FILE_SPAN_MAX: u64 = 512 * 1024;

/// The least a file span weighs in the output queue's byte bound
/// ([`Piece::weight`]): the descriptor it holds open is worth as much.
pub const FILE_SPAN_WEIGHT: u64 = 64 * 1024;

/// One piece of output: bytes in memory, or a span of an open file that the
/// output queue may hand to the kernel with `sendfile`.
pub enum Piece {
    /// Bytes to send as they are.
    Bytes(Cow<'static, [u8]>),
    /// Bytes shared with other responses (a cached small file, a rendered
    /// field block): queuing them is a reference-count increment.
    Shared(Rc<[u8]>),
    /// Part of bytes shared with other responses (a range of a cached small
    /// file): a reference-count increment too, never a copy. Made with
    /// [`Piece::slice`], so the range always lies inside the bytes.
    Slice(Rc<[u8]>, Range<u32>),
    /// A region of a file, sent without copying it through user space when
    /// the transport allows.
    File(FileSpan),
}

impl Piece {
    /// The bytes `range` of `bytes`, shared.
    ///
    /// # Panics
    ///
    /// If `range` does not lie inside `bytes`, or `bytes` are 4 GiB or more
    /// (the range is kept in 32 bits, so a piece stays small to move).
    pub fn slice(bytes: &Rc<[u8]>, range: Range<usize>) -> Piece {
        assert!(
            range.start <= range.end && range.end <= bytes.len(),
            "slice {range:?} of {} bytes",
            bytes.len()
        );
        let to_u32 = |n: usize| u32::try_from(n).expect("a slice of less than 4 GiB");
        Piece::Slice(Rc::clone(bytes), to_u32(range.start)..to_u32(range.end))
    }

    /// The number of bytes this piece stands for.
    pub fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Shared(b) => b.len() as u64,
            Piece::Slice(_, r) => u64::from(r.end - r.start),
            Piece::File(span) => span.len,
        }
    }

    /// What the piece holds while it is queued, in bytes, for
    /// back-pressure: its length, or more where it pins more. A slice pins
    /// the whole of the bytes it is cut from, and a file span an open
    /// descriptor, counted as [`FILE_SPAN_WEIGHT`] at least, so that a
    /// client pipelining one-byte ranges and never reading cannot make the
    /// server hold a copy or a descriptor per byte counted.
    pub fn weight(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Shared(b) | Piece::Slice(b, _) => b.len() as u64,
            Piece::File(span) => span.len.max(FILE_SPAN_WEIGHT),
        }
    }

    /// The bytes of an in-memory piece; `None` for a file span.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Piece::Bytes(b) => Some(b),
            Piece::Shared(b) => Some(b),
            Piece::Slice(b, r) => Some(&b[r.start as usize..r.end as usize]),
            Piece::File(_) => None,
        }
    }

    /// True when the piece stands for no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What kind of piece this is, for the trace: `bytes`, `shared`,
    /// `slice` or `file`.
    pub fn kind(&self) -> &'static str {
        match self {
            Piece::Bytes(_) => "bytes",
            Piece::Shared(_) => "shared",
            Piece::Slice(..) => "slice",
            Piece::File(_) => "file",
        }
    }
}

impl fmt::Debug for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Piece::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Piece::Shared(b) => write!(f, "Shared({} bytes)", b.len()),
            Piece::Slice(b, r) => write!(f, "Slice({r:?} of {} bytes)", b.len()),
            Piece::File(s) => write!(f, "File({}+{})", s.offset, s.len),
        }
    }
}

impl From<&'static [u8]> for Piece {
    fn from(b: &'static [u8]) -> Piece {
        Piece::Bytes(Cow::Borrowed(b))
    }
}

impl From<Vec<u8>> for Piece {
    fn from(b: Vec<u8>) -> Piece {
        Piece::Bytes(Cow::Owned(b))
    }
}

impl From<Rc<[u8]>> for Piece {
    fn from(b: Rc<[u8]>) -> Piece {
        Piece::Shared(b)
    }
}

impl From<String> for Piece {
    fn from(s: String) -> Piece {
        Piece::Bytes(Cow::Owned(s.into_bytes()))
    }
}

/// What tells one version of a file from another: which file it is (device
/// and inode, so a file replaced by another is told apart) and its length,
/// modification and change times to the nanosecond (so a file rewritten in
/// place is told apart, even at the same length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// The device the file is on.
    pub dev: u64,
    /// The inode number.
    pub ino: u64,
    /// The length in bytes.
    pub len: u64,
    /// The modification time.
    pub mtime: SystemTime,
    /// The status change time (moves on every write, every `chmod`, and
    /// cannot be set back by `touch`).
    pub ctime: SystemTime,
}

impl FileStamp {
    /// The stamp of an open file, from `fstat`.
    ///
    /// # Errors
    ///
    /// The error from `fstat`.
    pub fn of(file: &File) -> io::Result<FileStamp> {
        Ok(FileStamp::from(&rustix::fs::fstat(file)?))
    }
}

impl From<&rustix::fs::Stat> for FileStamp {
    fn from(st: &rustix::fs::Stat) -> FileStamp {
        FileStamp {
            dev: st.st_dev,
            ino: st.st_ino,
            len: st.st_size as u64,
            mtime: time_of(st.st_mtime, st.st_mtime_nsec),
            ctime: time_of(st.st_ctime, st.st_ctime_nsec),
        }
    }
}

/// A `stat` time (seconds, possibly before the epoch, and nanoseconds).
pub(crate) fn time_of(secs: i64, nanos: impl TryInto<u32>) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(nanos.try_into().unwrap_or(0)));
    match u64::try_from(secs) {
        Ok(secs) => UNIX_EPOCH + Duration::from_secs(secs) + nanos,
        Err(_) => UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + nanos,
    }
}

/// A region of an open file: `len` bytes from `offset`.
#[derive(Clone)]
pub struct FileSpan {
    /// The file, shared by every span of one producer.
    pub file: Rc<File>,
    /// Where the region starts.
    pub offset: u64,
    /// How many bytes it holds.
    pub len: u64,
    /// The version of the file the bytes must come from, when the response
    /// promised one (its `ETag`, its `Content-Length`): before each write
    /// of the span the file is checked, and a file that changed fails the
    /// write rather than sending bytes of another version.
    pub stamp: Option<Rc<FileStamp>>,
    /// Send the span by copying it through memory rather than with
    /// `sendfile`. `sendfile` hands the kernel references to the file's
    /// pages, which are read when the bytes are transmitted, so bytes
    /// already "sent" still change if the file is rewritten in place while
    /// they wait in the socket buffer. A copy is read, checked against the
    /// stamp after the read, and then fixed: the response carries exactly
    /// the stamped version, or fails.
    pub copy: bool,
}

impl FileSpan {
    /// Checks that the file is still the version the span was made for.
    ///
    /// # Errors
    ///
    /// An error from `fstat`, or [`file_changed`]'s error when it is not.
    pub fn verify(&self) -> io::Result<()> {
        match &self.stamp {
            Some(stamp) if FileStamp::of(&self.file)? != **stamp => Err(file_changed()),
            _ => Ok(()),
        }
    }

    /// Reads the start of the span into `buf` (as many bytes as fit), checks
    /// the file's stamp, and returns how many were read.
    ///
    /// # Errors
    ///
    /// An I/O error from the file, or `UnexpectedEof` if the file is now
    /// shorter than the span: it shrank after the span was made, and the
    /// response that promised these bytes cannot be completed.
    pub fn read_into(&self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.len).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        if n == 0 && want > 0 {
            return Err(file_shrank());
        }
        // After the read: a write that landed before or during it moved the
        // stamp, so bytes that pass are of the stamped version.
        self.verify()?;
        Ok(n)
    }
}

/// The error for a file that changed (was rewritten, truncated, replaced
/// in place) while a response promising one version of it was being sent.
pub fn file_changed() -> io::Error {
    io::Error::other("file changed while being sent")
}

/// The error for a file that ended before the span it promised.
pub(crate) fn file_shrank() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being sent")
}

/// A lazy source of output.
///
/// As in CPython, an empty piece means the producer is exhausted; `None`
/// says the same thing more plainly. Either way the producer is dropped and
/// never asked again, so a producer cannot make the output queue spin.
pub trait Producer {
    /// The next piece of output; `None` (or an empty piece) when there is
    /// no more.
    fn more(&mut self) -> Option<Piece>;

    /// The producer's name for the trace; the default is its type's name
    /// without the module path (`Chunked<FileProducer>`).
    fn name(&self) -> String {
        short_type_name(std::any::type_name::<Self>())
    }

    /// How many bytes are left to produce, when the producer knows; for
    /// the trace. The default does not know.
    fn size_hint(&self) -> Option<u64> {
        None
    }

    /// What the producer holds while it is queued, in bytes, for
    /// back-pressure ([`crate::Limits::max_queued_bytes`]): what it has
    /// left to make, or more where it pins more, as [`Piece::weight`]
    /// counts pieces (a producer with an open file pins a descriptor, one
    /// [`FILE_SPAN_WEIGHT`] at least). The default is
    /// [`Producer::size_hint`], or nothing when it does not know.
    fn weight(&self) -> u64 {
        self.size_hint().unwrap_or(0)
    }
}

/// `alloc::boxed::Box<asynchat::producer::Chunked<asynchat::producer::X>>`
/// as `Box<Chunked<X>>`.
fn short_type_name(full: &str) -> String {
    // Keep the last `::` segment of every path, and the punctuation.
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (i, c) in full.char_indices() {
        if matches!(c, '<' | '>' | ',' | ' ' | '(' | ')' | '&' | ';' | '[' | ']') {
            out.push_str(last_segment(&full[segment_start..i]));
            out.push(c);
            segment_start = i + c.len_utf8();
        }
    }
    out.push_str(last_segment(&full[segment_start..]));
    out
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// Asks `p` for more, folding an empty piece into `None`.
pub(crate) fn next_piece(p: &mut (impl Producer + ?Sized)) -> Option<Piece> {
    p.more().filter(|piece| !piece.is_empty())
}

/// A [`Producer`] that yields one piece: Medusa's `simple_producer`.
pub struct BytesProducer(Option<Piece>);

impl BytesProducer {
    /// A producer of these bytes.
    pub fn new(data: impl Into<Piece>) -> BytesProducer {
        BytesProducer(Some(data.into()))
    }
}

impl Producer for BytesProducer {
    fn more(&mut self) -> Option<Piece> {
        self.0.take()
    }

    fn size_hint(&self) -> Option<u64> {
        Some(self.0.as_ref().map_or(0, Piece::len))
    }
}

/// Streams a file, or a byte range of it, as [`FileSpan`] pieces of at most
/// [`FILE_SPAN_MAX`] bytes: Medusa's `file_producer`.
pub struct FileProducer {
    file: Rc<File>,
    offset: u64,
    remaining: u64,
    stamp: Option<Rc<FileStamp>>,
    copy: bool,
    /// True once a span has been made.
    made: bool,
}

impl FileProducer {
    /// Streams `len` bytes of `file` starting at `offset`. The length is
    /// taken as given (the caller knows the file's size from its metadata); if
    /// the file shrinks meanwhile, sending fails rather than sending short.
    pub fn new(file: impl Into<Rc<File>>, offset: u64, len: u64) -> FileProducer {
        FileProducer {
            file: file.into(),
            offset,
            remaining: len,
            stamp: None,
            copy: false,
            made: false,
        }
    }

    /// Sends every span by copying it through memory (see
    /// [`FileSpan::copy`]).
    pub fn copied(mut self) -> FileProducer {
        self.copy = true;
        self
    }

    /// Sends the bytes only while the file is the version `stamp` says
    /// (see [`FileSpan::stamp`]).
    pub fn stamped(mut self, stamp: Rc<FileStamp>) -> FileProducer {
        self.stamp = Some(stamp);
        self
    }

    /// Streams a whole file, from its current metadata length.
    ///
    /// # Errors
    ///
    /// The error from reading the file's metadata.
    pub fn whole(file: File) -> io::Result<FileProducer> {
        let len = file.metadata()?.len();
        Ok(FileProducer::new(file, 0, len))
    }
}

impl Producer for FileProducer {
    fn more(&mut self) -> Option<Piece> {
        if self.remaining == 0 {
            return None;
        }
        let len = self.remaining.min(FILE_SPAN_MAX);
        let span = FileSpan {
            file: Rc::clone(&self.file),
            offset: self.offset,
            len,
            stamp: self.stamp.clone(),
            copy: self.copy,
        };
        self.offset += len;
        self.remaining -= len;
        self.made = true;
        Some(Piece::File(span))
    }

    fn size_hint(&self) -> Option<u64> {
        Some(self.remaining)
    }

    fn weight(&self) -> u64 {
        // The descriptor is let go of with the producer, once it is done;
        // once it has made a span, that span carries the descriptor's
        // weight in the queue, so it is not counted twice.
        if self.remaining == 0 || self.made {
            self.remaining
        } else {
            self.remaining.max(FILE_SPAN_WEIGHT)
        }
    }
}

/// Runs several producers one after the other: Medusa's `composite_producer`.
#[derive(Default)]
pub struct Composite {
    parts: VecDeque<Box<dyn Producer>>,
}

impl Composite {
    /// An empty composite.
    pub fn new() -> Composite {
        Composite::default()
    }

    /// Appends a producer; returns `self` so a response reads as a chain.
    pub fn with(mut self, p: impl Producer + 'static) -> Composite {
        self.parts.push_back(Box::new(p));
        self
    }

    /// Appends a boxed producer.
    pub fn push(&mut self, p: Box<dyn Producer>) {
        self.parts.push_back(p);
    }
}

impl Producer for Composite {
    fn more(&mut self) -> Option<Piece> {
        while let Some(front) = self.parts.front_mut() {
            match next_piece(front.as_mut()) {
                Some(piece) => return Some(piece),
                None => {
                    self.parts.pop_front();
                }
            }
        }
        None
    }

    fn size_hint(&self) -> Option<u64> {
        self.parts.iter().map(|p| p.size_hint()).sum()
    }

    fn weight(&self) -> u64 {
        self.parts.iter().map(|p| p.weight()).sum()
    }
}

/// Wraps a producer in HTTP/1.1 chunked framing (`%x\r\n<data>\r\n`, ending
/// with `0\r\n\r\n`): Medusa's `chunked_producer`.
pub struct Chunked<P> {
    inner: Option<P>,
    queued: VecDeque<Piece>,
}

impl<P: Producer> Chunked<P> {
    /// Frames the output of `inner`.
    pub fn new(inner: P) -> Chunked<P> {
        Chunked {
            inner: Some(inner),
            queued: VecDeque::new(),
        }
    }
}

impl<P: Producer> Producer for Chunked<P> {
    fn more(&mut self) -> Option<Piece> {
        if let Some(piece) = self.queued.pop_front() {
            return Some(piece);
        }
        let inner = self.inner.as_mut()?;
        match next_piece(inner) {
            Some(piece) => {
                self.queued.push_back(piece);
                self.queued.push_back(Piece::from(&b"\r\n"[..]));
                Some(Piece::from(format!("{:x}\r\n", self.queued[0].len())))
            }
            // The inner producer is done (an empty chunk would end the body
            // anyway): the last chunk.
            None => {
                self.inner = None;
                Some(Piece::from(&b"0\r\n\r\n"[..]))
            }
        }
    }

    fn weight(&self) -> u64 {
        let queued: u64 = self.queued.iter().map(Piece::weight).sum();
        queued + self.inner.as_ref().map_or(0, P::weight)
    }
}

/// Calls a function with the total number of bytes produced once the
/// wrapped producer is exhausted: Medusa's `hooked_producer`, which is where
/// Medusa wrote its access log line.
pub struct Hooked<P> {
    inner: P,
    total: u64,
    hook: Option<Box<dyn FnOnce(u64)>>,
}

impl<P: Producer> Hooked<P> {
    /// Wraps `inner`; `hook` runs once, with the byte total, when it is done.
    pub fn new(inner: P, hook: impl FnOnce(u64) + 'static) -> Hooked<P> {
        Hooked {
            inner,
            total: 0,
            hook: Some(Box::new(hook)),
        }
    }
}

impl<P: Producer> Producer for Hooked<P> {
    fn more(&mut self) -> Option<Piece> {
        match next_piece(&mut self.inner) {
            Some(piece) => {
                self.total += piece.len();
                Some(piece)
            }
            None => {
                if let Some(hook) = self.hook.take() {
                    hook(self.total);
                }
                None
            }
        }
    }

    fn size_hint(&self) -> Option<u64> {
        self.inner.size_hint()
    }

    fn weight(&self) -> u64 {
        self.inner.weight()
    }
}

impl Producer for Box<dyn Producer> {
    fn more(&mut self) -> Option<Piece> {
        (**self).more()
    }

    fn size_hint(&self) -> Option<u64> {
        (**self).size_hint()
    }

    fn weight(&self) -> u64 {
        (**self).weight()
    }

    fn name(&self) -> String {
        (**self).name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_lose_their_module_paths() {
        let cases = [
            ("asynchat::producer::FileProducer", "FileProducer"),
            (
                "alloc::boxed::Box<asynchat::producer::Chunked<asynchat::producer::Composite>>",
                "Box<Chunked<Composite>>",
            ),
            ("a::B<c::D, e::F>", "B<D, F>"),
            ("&[u8]", "&[u8]"),
            ("Plain", "Plain"),
        ];
        for (full, short) in cases {
            assert_eq!(short_type_name(full), short, "{full}");
        }
        assert_eq!(
            Chunked::new(BytesProducer::new(&b"x"[..])).name(),
            "Chunked<BytesProducer>"
        );
    }

    #[test]
    fn size_hints_are_what_is_left() {
        let mut bytes = BytesProducer::new(&b"hello"[..]);
        assert_eq!(bytes.size_hint(), Some(5));
        bytes.more();
        assert_eq!(bytes.size_hint(), Some(0));
        let both = Composite::new()
            .with(BytesProducer::new(&b"ab"[..]))
            .with(BytesProducer::new(&b"cde"[..]));
        assert_eq!(both.size_hint(), Some(5));
        assert_eq!(Hooked::new(both, |_| {}).size_hint(), Some(5));
        let unknown = Composite::new().with(Chunked::new(BytesProducer::new(&b"x"[..])));
        assert_eq!(unknown.size_hint(), None);
    }
}
