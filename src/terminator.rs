//! The terminator: what ends the record a channel is collecting, and the
//! pure loop that cuts a byte stream into records.
//!
//! This module owns the algorithm of `asynchat.async_chat.handle_read`,
//! separated from any socket: [`run`] takes the bytes that arrived and a
//! [`Records`] sink (the channel and its handler), and returns how many bytes
//! it consumed. Everything else (reading, buffering what was not consumed) is
//! the caller's business, which is what lets the same loop be driven by a
//! socket, a test table or a fuzzer.

use std::borrow::Cow;
use std::fmt;

/// What ends the record being collected.
///
/// The terminator is re-read after every record, so a handler that changes it
/// inside `found_terminator` changes how the rest of the *same* buffer is cut.
#[derive(Clone, PartialEq, Eq)]
pub enum Terminator {
    /// Deliver data up to this byte string, drop the string, fire
    /// `found_terminator`. An empty string behaves like [`Terminator::None`].
    Bytes(Cow<'static, [u8]>),
    /// Deliver the next `n` bytes, then fire `found_terminator`. The count
    /// goes down as bytes arrive; it is 0 when the record is complete, and a
    /// count of 0 that is not reset collects forever.
    Count(u64),
    /// Deliver lines up to the first empty line that follows one, drop
    /// the empty line, fire `found_terminator`: the end of an HTTP or mail
    /// head, found with one search however many lines the head has.
    ///
    /// A line ends at `\n`, and an empty line is `\n` or `\r\n` (RFC 9112
    /// §2.2 lets a recipient accept a bare LF), so the record ends at
    /// `"\n\n"` or `"\n\r\n"`, keeping the `\n` of its last line: two string
    /// terminators searched at once. An empty line at the very start of a
    /// record is data of the record, for the handler to skip (HTTP ignores
    /// empty lines before a request). Not in Python's asynchat: no single
    /// string matches both ends.
    BlankLine,
    /// Deliver everything as it arrives and never fire `found_terminator`.
    None,
}

impl Terminator {
    /// A string terminator from static bytes, for example `Terminator::bytes(b"\r\n")`.
    pub const fn bytes(t: &'static [u8]) -> Terminator {
        Terminator::Bytes(Cow::Borrowed(t))
    }
}

impl From<&'static [u8]> for Terminator {
    fn from(t: &'static [u8]) -> Terminator {
        Terminator::bytes(t)
    }
}

impl<const N: usize> From<&'static [u8; N]> for Terminator {
    fn from(t: &'static [u8; N]) -> Terminator {
        Terminator::bytes(t)
    }
}

impl From<Vec<u8>> for Terminator {
    fn from(t: Vec<u8>) -> Terminator {
        Terminator::Bytes(Cow::Owned(t))
    }
}

impl From<u64> for Terminator {
    fn from(n: u64) -> Terminator {
        Terminator::Count(n)
    }
}

/// The error for a negative count, which CPython rejects with `ValueError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegativeCount(pub i64);

impl fmt::Display for NegativeCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "terminator count must not be negative, got {}", self.0)
    }
}

impl std::error::Error for NegativeCount {}

impl TryFrom<i64> for Terminator {
    type Error = NegativeCount;

    /// A count from a signed integer, as `set_terminator(-1)` would be in
    /// Python.
    ///
    /// # Errors
    ///
    /// A negative count is [`NegativeCount`].
    fn try_from(n: i64) -> Result<Terminator, NegativeCount> {
        u64::try_from(n)
            .map(Terminator::Count)
            .map_err(|_| NegativeCount(n))
    }
}

impl fmt::Debug for Terminator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Terminator::Bytes(t) => write!(f, "Bytes(\"{}\")", t.escape_ascii()),
            Terminator::Count(n) => write!(f, "Count({n})"),
            Terminator::BlankLine => f.write_str("BlankLine"),
            Terminator::None => f.write_str("None"),
        }
    }
}

impl fmt::Display for Terminator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Terminator::Bytes(t) => write!(f, "\"{}\"", t.escape_ascii()),
            Terminator::Count(n) => write!(f, "{n} bytes"),
            Terminator::BlankLine => f.write_str("blank line"),
            Terminator::None => f.write_str("none"),
        }
    }
}

/// The length of the longest proper prefix of `needle` that `haystack` ends
/// with: the part of a string terminator that may be completed by the next
/// read and so must be held back.
///
/// ```
/// use asynchat::find_prefix_at_end;
/// assert_eq!(find_prefix_at_end(b"qwerty\r", b"\r\n"), 1);
/// assert_eq!(find_prefix_at_end(b"qwertydkjf", b"\r\n"), 0);
/// assert_eq!(find_prefix_at_end(b"abc\r\n\r", b"\r\n\r\n"), 3);
/// ```
pub fn find_prefix_at_end(haystack: &[u8], needle: &[u8]) -> usize {
    let mut l = needle.len().saturating_sub(1).min(haystack.len());
    while l > 0 && !haystack.ends_with(&needle[..l]) {
        l -= 1;
    }
    l
}

/// Finds the string terminator `t` in `data`: `Ok` with where it starts
/// and its length, or `Err` with how many bytes at the end may start it
/// ([`find_prefix_at_end`]).
fn find_bytes(data: &[u8], t: &[u8]) -> Result<(usize, usize), usize> {
    // A one-byte terminator (a line end, as a chunk's size line has) is a
    // byte search, without the setup of a substring search.
    let found = match *t {
        [byte] => memchr::memchr(byte, data),
        _ => memchr::memmem::find(data, t),
    };
    found
        .map(|at| (at, t.len()))
        .ok_or_else(|| find_prefix_at_end(data, t))
}

/// Finds the first empty line after a line end in `data`: `Ok` with where
/// the empty line starts (just after the `\n` that ends the record's last
/// line, so at least 1) and its length, 1 or 2; or `Err` with how many
/// bytes at the end may start one (`\n` or `\n\r`). One pass of `memchr`
/// over the line ends.
fn find_blank_line(data: &[u8]) -> Result<(usize, usize), usize> {
    for end in memchr::memchr_iter(b'\n', data) {
        match &data[end + 1..] {
            [b'\n', ..] => return Ok((end + 1, 1)),
            [b'\r', b'\n', ..] => return Ok((end + 1, 2)),
            [] => return Err(1),
            [b'\r'] => return Err(2),
            _ => {}
        }
    }
    Err(0)
}

/// The receiving side of the terminator loop: the channel state plus its
/// handler. [`crate::Channel`] implements it for any [`crate::AsyncChat`];
/// tests implement it to record what the loop delivers.
pub trait Records {
    /// The terminator in force now. Read again before every step.
    fn terminator(&mut self) -> &mut Terminator;
    /// Data belonging to the current record. Never called with an empty slice.
    fn collect_incoming_data(&mut self, data: &[u8]);
    /// The current record is complete.
    fn found_terminator(&mut self);
    /// False stops delivery before the next step: the channel was closed, or
    /// its output queue is over its bound. The bytes not yet delivered are
    /// left unconsumed for the caller to keep.
    fn delivering(&self) -> bool {
        true
    }
    /// What the next step of the loop found, told before its data is
    /// delivered; for tracing. The default ignores it.
    fn searched(&mut self, _step: Step) {}
}

/// One step of the terminator loop, as [`Records::searched`] is told it.
/// Offsets count from the start of the bytes still to be cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A terminator of `len` bytes was found `at` bytes into `of`.
    Found {
        /// Where the terminator starts.
        at: usize,
        /// Its length: the bytes dropped after the record.
        len: usize,
        /// The bytes searched.
        of: usize,
    },
    /// No string terminator or empty line in `of` bytes; the last `held` of
    /// them may be its start and are kept for the next read.
    NotFound {
        /// The bytes searched.
        of: usize,
        /// The bytes held back.
        held: usize,
    },
    /// A count took `took` bytes and has `left` to go (0: it is complete).
    Counted {
        /// The bytes the count took from this read.
        took: usize,
        /// What is left of the count.
        left: u64,
    },
    /// No terminator (none, a zero count, an empty string): all `of` bytes
    /// are collected.
    CollectAll {
        /// The bytes collected.
        of: usize,
    },
}

/// Runs the terminator loop over `data`, delivering records to `sink`, and
/// returns how many bytes were consumed.
///
/// The bytes after the returned count must be kept by the caller and put in
/// front of the next read: they are either a held-back partial string
/// terminator (never longer than the terminator minus one byte: for
/// [`Terminator::BlankLine`], a `\n` or `\n\r`) or input left because `sink`
/// stopped delivering.
pub fn run(sink: &mut impl Records, data: &[u8]) -> usize {
    let mut pos = 0;
    while pos < data.len() && sink.delivering() {
        let rest = &data[pos..];
        let search = match sink.terminator() {
            Terminator::Count(n) if *n > 0 => {
                let n_now = *n;
                if (rest.len() as u64) < n_now {
                    let left = n_now - rest.len() as u64;
                    *n = left;
                    sink.searched(Step::Counted {
                        took: rest.len(),
                        left,
                    });
                    sink.collect_incoming_data(rest);
                    pos = data.len();
                } else {
                    // The count is 0 before `found_terminator` runs, so a
                    // handler that does not set a new terminator collects
                    // the rest forever, as in CPython.
                    *n = 0;
                    let n_now = n_now as usize;
                    sink.searched(Step::Counted {
                        took: n_now,
                        left: 0,
                    });
                    sink.collect_incoming_data(&rest[..n_now]);
                    pos += n_now;
                    sink.found_terminator();
                }
                continue;
            }
            Terminator::Bytes(t) if !t.is_empty() => find_bytes(rest, t),
            Terminator::BlankLine => find_blank_line(rest),
            // None, a count of 0, an empty string: collect everything.
            _ => {
                sink.searched(Step::CollectAll { of: rest.len() });
                sink.collect_incoming_data(rest);
                pos = data.len();
                continue;
            }
        };
        // A string or a blank line: the record ends at `at` and its
        // terminator is `len` bytes, or the last `held` bytes may start one.
        match search {
            Ok((at, len)) => {
                sink.searched(Step::Found {
                    at,
                    len,
                    of: rest.len(),
                });
                if at > 0 {
                    sink.collect_incoming_data(&rest[..at]);
                }
                pos += at + len;
                sink.found_terminator();
            }
            Err(held) => {
                let give = rest.len() - held;
                sink.searched(Step::NotFound {
                    of: rest.len(),
                    held,
                });
                if give > 0 {
                    sink.collect_incoming_data(&rest[..give]);
                }
                pos += give;
                break;
            }
        }
    }
    pos
}
