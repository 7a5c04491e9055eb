//! The body of a `206` with several ranges (`multipart/byteranges`, RFC 9110
//! §14.6), made lazily, one part at a time, under a boundary nobody can
//! predict.
//!
//! A response to `Range: bytes=0-9,1000-1009,...` holds a list of ranges
//! and a reference to the cached file, not its parts: each part's head is
//! written when the output queue asks for it, and its bytes are a shared
//! slice of a file kept in memory or spans of one sent from the disk. So a
//! client that pipelines such requests and never reads costs a few hundred
//! bytes per response, and the queue's byte bound counts each response for
//! the length it will send ([`Producer::size_hint`]).
//!
//! The boundary must not be something a file's content can contain: a file
//! holding its own boundary would make a two-part response parse as three,
//! the third forged. It was derived from the ETag, which anyone who can
//! write a file can set; now it is 128 bits from a keyed hash of a counter,
//! keyed once per thread from the operating system's randomness (the
//! standard library's `RandomState`), so neither a file nor an earlier
//! response can foretell the next one.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt::{self, Write as _};
use std::hash::BuildHasher;
use std::ops::Range;
use std::rc::Rc;

use super::cache::{Body, CachedFile, Part};
use super::range::content_range;
use crate::producer::{FILE_SPAN_WEIGHT, FileProducer, Piece, Producer};

thread_local! {
    static BOUNDARY_KEY: RandomState = RandomState::new();
    static BOUNDARY_COUNT: Cell<u64> = const { Cell::new(0) };
}

/// A fresh boundary: `asynchat-` and 32 hexadecimal digits, different for
/// every response and unpredictable from the ones before.
pub fn boundary() -> String {
    let n = BOUNDARY_COUNT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let (a, b) = BOUNDARY_KEY.with(|k| (k.hash_one((n, 0u8)), k.hash_one((n, 1u8))));
    format!("asynchat-{a:016x}{b:016x}")
}

/// Counts the bytes written to it, to size a part head without making it.
struct Count(u64);

impl fmt::Write for Count {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len() as u64;
        Ok(())
    }
}

/// The head of one part: the boundary line and the part's fields.
struct PartHead<'a> {
    boundary: &'a str,
    content_type: &'a str,
    range: &'a Range<u64>,
    len: u64,
}

impl fmt::Display for PartHead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\r\n--{}\r\nContent-Type: {}\r\nContent-Range: {}\r\n\r\n",
            self.boundary,
            self.content_type,
            content_range(self.range, self.len)
        )
    }
}

/// Where the producer is in the body.
enum Next {
    /// The head of part `i`.
    Head(usize),
    /// The bytes of part `i`: not begun, or the spans still to send of a
    /// file on disk.
    Data(usize, Option<FileProducer>),
    /// The closing boundary.
    End,
    /// Nothing more.
    Done,
}

/// The lazy `multipart/byteranges` body for some ranges of a cached file.
pub struct ByteRanges {
    file: Rc<CachedFile>,
    boundary: String,
    ranges: Vec<Range<u64>>,
    next: Next,
    /// Bytes still to produce.
    left: u64,
}

impl ByteRanges {
    /// The body for `ranges` (sorted, disjoint, inside the file, at least
    /// one) of `file`, under `boundary`.
    pub fn new(file: Rc<CachedFile>, ranges: Vec<Range<u64>>, boundary: String) -> ByteRanges {
        let mut len = Count(0);
        for r in &ranges {
            let _ = write!(len, "{}", head(&file, &boundary, r));
            len.0 += r.end - r.start;
        }
        let _ = write!(len, "\r\n--{boundary}--\r\n");
        ByteRanges {
            file,
            boundary,
            ranges,
            next: Next::Head(0),
            left: len.0,
        }
    }

    /// The body's length, for Content-Length.
    pub fn len(&self) -> u64 {
        self.left
    }

    /// True for a body with nothing in it (never, for a real response).
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

fn head<'a>(file: &'a CachedFile, boundary: &'a str, range: &'a Range<u64>) -> PartHead<'a> {
    PartHead {
        boundary,
        content_type: &file.content_type,
        range,
        len: file.len,
    }
}

impl Producer for ByteRanges {
    fn more(&mut self) -> Option<Piece> {
        let piece = loop {
            match std::mem::replace(&mut self.next, Next::Done) {
                Next::Head(i) if i == self.ranges.len() => self.next = Next::End,
                Next::Head(i) => {
                    let r = &self.ranges[i];
                    let text = head(&self.file, &self.boundary, r).to_string();
                    self.next = Next::Data(i, None);
                    break Piece::from(text);
                }
                Next::Data(i, None) => match self.file.exact_part(self.ranges[i].clone()) {
                    Part::Bytes(slice) => {
                        self.next = Next::Head(i + 1);
                        break slice;
                    }
                    Part::Spans(spans) => self.next = Next::Data(i, Some(spans)),
                },
                Next::Data(i, Some(mut spans)) => match spans.more() {
                    Some(span) => {
                        self.next = Next::Data(i, Some(spans));
                        break span;
                    }
                    None => self.next = Next::Head(i + 1),
                },
                Next::End => break Piece::from(format!("\r\n--{}--\r\n", self.boundary)),
                Next::Done => return None,
            }
        };
        self.left = self.left.saturating_sub(piece.len());
        Some(piece)
    }

    fn size_hint(&self) -> Option<u64> {
        Some(self.left)
    }

    fn weight(&self) -> u64 {
        // Until it is done it pins the file: its bytes, or its descriptor.
        // Once it has made a piece, the pieces it made carry that pin in
        // the queue (a slice weighs its whole file, a span a descriptor), so
        // counting it here too would count the file twice.
        match self.next {
            Next::Done => 0,
            Next::Head(0) => match self.file.body {
                Body::InMemory(_) => self.left.max(self.file.len),
                Body::OnDisk(_) => self.left.max(FILE_SPAN_WEIGHT),
            },
            _ => self.left,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_never_repeat_and_look_alike() {
        let all: std::collections::HashSet<String> = (0..1000).map(|_| boundary()).collect();
        assert_eq!(all.len(), 1000);
        for b in &all {
            let hex = b.strip_prefix("asynchat-").unwrap();
            assert_eq!(hex.len(), 32, "{b}");
            assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()), "{b}");
        }
    }
}
