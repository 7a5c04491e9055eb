//! Captures of live traffic: for each connection, every read exactly as it
//! returned (its bytes, its size, its time) and every write, in a file
//! that a replay feeds back through the same channel offline.
//!
//! A capture is made at the [`Connection`](crate::Connection) level, where
//! the socket is read and written, so it works for any protocol: the
//! library never looks inside the bytes. [`Connection::capture`](crate::Connection::capture) starts
//! one, with a [`Sink`] (the writer thread) that every captured connection
//! shares. The file format, versioned and documented, is [`format`](mod@format).
//!
//! Only the protocol knows which bytes are framing (a head, a length, a
//! chunk size) and which are *payload* (a message body). The handler says so: inside
//! `collect_incoming_data` it calls
//! [`Channel::mark_payload`](crate::Channel::mark_payload) for data that is
//! payload, and the capture can then leave payloads out
//! ([`Options::omit_payloads`], `--capture-no-bodies`), keeping their sizes,
//! and keep framing past the cap ([`Options::max`], `--capture-max`). The
//! channel follows the terminator loop's steps to know where in the stream
//! each delivered slice lies, so a read is recorded once every byte of it
//! has been delivered (usually at once; a read held back by back-pressure
//! or ending in part of a terminator waits, and the records after it wait
//! behind it, so the file stays in order).
//!
//! A capture never blocks the loop. Records go to a bounded buffer; a
//! thread writes them out. A connection whose records do not fit is not
//! waited for: its file gets a `truncated` record at that point, and
//! nothing more but its `end`. A file that cannot be written (a full disk)
//! is cut short, which the missing `end` record shows, and the log says
//! once. While capture is off a connection pays one `Option` test per
//! event, as for the trace.

pub mod format;
mod recorder;
mod writer;

use std::time::Duration;

pub(crate) use recorder::{InputMarks, Recorder};
pub use writer::{Dir, DirError, OPEN_FILES, Sink, Store};

use crate::trace::Filter;

/// The default cap on the data kept per connection (16 MiB).
pub const DEFAULT_MAX: u64 = 16 << 20;

/// The default room for records waiting to be written, all connections
/// together (8 MiB).
pub const DEFAULT_BUFFER: usize = 8 << 20;

/// How long the process waits at exit for captures to be written.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// How captures are made.
#[derive(Debug, Clone)]
pub struct Options {
    /// The most data kept per connection (`--capture-max`). Past it, the
    /// framing is still kept whole, but payloads and sent data keep only
    /// their sizes.
    pub max: u64,
    /// Keep only the sizes of payloads (`--capture-no-bodies`): a replay
    /// feeds zeros of the same length.
    pub omit_payloads: bool,
    /// Capture only the connections that pass one of these (all of them
    /// when it is empty): the `--trace-filter`s, shared with the trace.
    pub filters: Vec<Filter>,
    /// Room for records waiting to be written, all connections together.
    pub buffer: usize,
    /// Fields added to the header of every capture, such as the program
    /// and the directory it served.
    pub fields: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max: DEFAULT_MAX,
            omit_payloads: false,
            filters: Vec::new(),
            buffer: DEFAULT_BUFFER,
            fields: Vec::new(),
        }
    }
}
