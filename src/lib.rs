//! A Rust re-creation of Python's `asyncore` and `asynchat`: the reactor and
//! terminator-switching channel that Sam Rushing's Medusa web server was
//! built on.
//!
//! Three layers, each of which never looks upward:
//!
//! 1. [`Reactor`] (asyncore): one thread, one `polling::Poller`, a map of
//!    [`Dispatcher`]s whose `readable()`/`writable()` answers decide what the
//!    poller watches, plus per-dispatcher deadlines and graceful shutdown.
//! 2. [`Channel`] and [`AsyncChat`] (async_chat): input is cut into records
//!    by a [`Terminator`] (a byte string, a byte count, or none); output is a
//!    [`Fifo`] of lazy producers. [`Connection`] puts the two on a socket.
//! 3. [`producer`]: bytes, files (sent with `sendfile`), composites, chunked
//!    framing, hooks.
//!
//! # Terminator switching
//!
//! The terminator is re-read after every record, so a handler that changes
//! it inside `found_terminator` changes how the rest of the *same* buffer is
//! cut. That is all an HTTP server needs: collect the head up to
//! `"\r\n\r\n"`, switch to the body's length as a count, switch back. Here a
//! toy protocol sends a decimal length on a line, then that many bytes. The
//! first read holds one whole message and most of a second; the count
//! carries over to the next read:
//!
//! ```
//! use asynchat::{AsyncChat, Channel, Terminator};
//!
//! #[derive(Default)]
//! struct Framed {
//!     record: Vec<u8>,
//!     in_body: bool,
//! }
//!
//! impl AsyncChat for Framed {
//!     fn collect_incoming_data(&mut self, _chan: &mut Channel, data: &[u8]) {
//!         self.record.extend_from_slice(data);
//!     }
//!
//!     fn found_terminator(&mut self, chan: &mut Channel) {
//!         let record = std::mem::take(&mut self.record);
//!         if self.in_body {
//!             chan.push(format!("got {:?}\n", String::from_utf8_lossy(&record)));
//!             chan.set_terminator(b"\n"); // back to lines
//!         } else {
//!             let len: u64 = std::str::from_utf8(&record).unwrap().parse().unwrap();
//!             chan.set_terminator(Terminator::Count(len)); // now count bytes
//!         }
//!         self.in_body = !self.in_body;
//!     }
//! }
//!
//! let mut handler = Framed::default();
//! let mut chan = Channel::new(b"\n");
//! chan.feed(&mut handler, b"5\nhello12\nhello\nworld");
//! assert_eq!(chan.get_terminator(), &Terminator::Count(1)); // one byte to go
//! chan.feed(&mut handler, b"!");
//! assert_eq!(chan.get_terminator(), &Terminator::bytes(b"\n")); // switched back
//!
//! let mut wire = Vec::new();
//! chan.send(&mut handler, &mut wire).unwrap();
//! assert_eq!(wire, b"got \"hello\"\ngot \"hello\\nworld!\"\n");
//! ```
//!
//! The [guide] walks through a real HTTP connection's trace, terminator
//! switch by terminator switch, shows the classic bugs of Medusa-era
//! servers in the trace, and takes a [`capture`] of a misbehaving client
//! (every read as it returned, every write) to its diagnosis in an offline
//! replay through the same channel.
//!
//! On a socket, the same handler goes into a [`Connection`], and an
//! [`Acceptor`] given to [`Reactor::listen`] makes one per accepted client;
//! `examples/echo.rs` is the whole of such a server in forty lines. A
//! client makes its channels with [`Connection::connect`] and adds them
//! with [`Reactor::add`], turning the loop itself with [`Reactor::poll`]
//! so that it can open connections as work appears (`examples/crawl`).
//!
//! # Differences from CPython
//!
//! Each is deliberate and documented where it lives: a channel always has a
//! terminator, and a negative count is unrepresentable (`TryFrom<i64>`
//! rejects it); `close()` inside `found_terminator` stops delivery of the
//! remaining records; end of stream delivers what is buffered and lets the
//! output drain before closing; a producer signals exhaustion with `None`;
//! output is gathered into vectored writes and `sendfile`; delivery and
//! reading pause while the output queue is over its bound.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod capture;
pub mod channel;
pub mod fifo;
#[doc = include_str!("guide.md")]
pub mod guide {}
pub mod http;
pub mod logsink;
pub mod producer;
pub mod reactor;
pub mod spare;
pub mod terminator;
pub mod trace;

pub use channel::{AsyncChat, Channel, Connection, Limits};
pub use fifo::{Fifo, Transport};
pub use producer::{
    BytesProducer, Chunked, Composite, FileProducer, FileSpan, FileStamp, Hooked, Piece, Producer,
};
pub use reactor::{
    Acceptor, CloseReason, Context, Dispatcher, Flow, Reactor, Stopper, Token, is_disconnect,
};
pub use terminator::{NegativeCount, Terminator, find_prefix_at_end};
