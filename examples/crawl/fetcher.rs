//! One connection of the crawl: the [`AsyncChat`] handler that pipelines
//! requests and walks each response's framing with terminator switches,
//! the server's walk seen from the other end.
//!
//! ```text
//!  Head        "\n"       status line and fields until a blank line
//!                         (a 1xx is skipped: another head follows)
//!  Length      Count(n)   a Content-Length body
//!  ChunkSize   "\n"       } the chunked walk, as the server reads a
//!  ChunkData   Count(k)   } chunked request body: size line, data,
//!  ChunkEnd    "\n"       } CRLF, ..., size 0, trailer lines, blank line
//!  Trailers    "\n"       }
//!  UntilClose  None       no length: everything until the server closes,
//!                         the one terminator a server never uses
//! ```
//!
//! Responses come back in request order, so the requests in flight are a
//! queue and each response completes the one at its front. When the
//! server closes with requests unanswered (mid-pipeline, or mid-body),
//! they go back to the crawl to be sent on another connection: all of
//! them are GETs, which may be repeated.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use asynchat::{AsyncChat, Channel, CloseReason, Terminator, trace};

use crate::crawl::{Crawl, Fetch};
use crate::response::{self, Body, Head, ResponseError};

/// The longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Where in a response the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Status line and fields (terminator `"\n"`).
    Head,
    /// A Content-Length body (`Count(n)`).
    Length,
    /// A chunk-size line (`"\n"`).
    ChunkSize,
    /// Chunk data (`Count(k)`).
    ChunkData,
    /// The CRLF after chunk data (`"\n"`).
    ChunkEnd,
    /// Trailer lines until a blank one (`"\n"`).
    Trailers,
    /// Everything until the server closes (`None`).
    UntilClose,
}

/// One connection's handler.
pub struct Fetcher {
    crawl: Rc<RefCell<Crawl>>,
    /// Requests sent (or queued to be), in order, awaiting responses.
    in_flight: VecDeque<Fetch>,
    reading: Reading,
    /// The head being collected, or the current chunk or trailer line.
    head: Vec<u8>,
    line: Vec<u8>,
    /// The response head, once read.
    response: Option<Head>,
    body: Vec<u8>,
    /// No more requests go on this connection: the server said it closes,
    /// or a body runs until the close.
    last: bool,
    /// Responses completed on this connection.
    answered: u64,
    /// When data last moved either way (the timeout).
    last_progress: Instant,
}

impl Fetcher {
    /// A connection for `crawl`; it takes its first requests when it joins
    /// the reactor.
    pub fn new(crawl: Rc<RefCell<Crawl>>) -> Fetcher {
        Fetcher {
            crawl,
            in_flight: VecDeque::new(),
            reading: Reading::Head,
            head: Vec::new(),
            line: Vec::new(),
            response: None,
            body: Vec::new(),
            last: false,
            answered: 0,
            last_progress: Instant::now(),
        }
    }

    /// The terminator a connection starts with.
    pub fn initial_terminator() -> Terminator {
        Terminator::bytes(b"\n")
    }

    /// Fills the pipeline from the crawl's queue; a connection left with
    /// nothing to do waits to be woken.
    fn top_up(&mut self, chan: &mut Channel) {
        let mut crawl = self.crawl.borrow_mut();
        while !self.last && self.in_flight.len() < crawl.config.pipeline {
            let Some(fetch) = crawl.next_fetch() else {
                break;
            };
            trace!(
                chan.tracer(),
                "request GET {} ({} in flight)",
                fetch.url.path,
                self.in_flight.len() + 1
            );
            if self.in_flight.is_empty() {
                self.last_progress = chan.now();
            }
            chan.push(fetch.request());
            self.in_flight.push_back(fetch);
        }
        if self.in_flight.is_empty() {
            crawl.park(chan.token());
        }
        drop(crawl);
        self.update_deadline(chan);
    }

    fn update_deadline(&self, chan: &mut Channel) {
        let timeout = self.crawl.borrow().config.timeout;
        let deadline = (!self.in_flight.is_empty()).then(|| self.last_progress + timeout);
        chan.set_deadline(deadline);
    }

    /// The response can no longer be trusted: report it, skip its URL, and
    /// close; the requests behind it go to another connection.
    fn fail(&mut self, chan: &mut Channel, e: ResponseError) {
        trace!(chan.tracer(), "unusable response: {e}; closing");
        if let Some(fetch) = self.in_flight.pop_front() {
            self.crawl.borrow_mut().unusable(fetch, &e.to_string());
        }
        self.answered += 1; // the server did answer, if badly
        chan.close();
    }

    /// A head line is complete; a blank one completes the head.
    fn found_head_line(&mut self, chan: &mut Channel) {
        let line_start = self
            .head
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let blank = matches!(&self.head[line_start..], b"" | b"\r");
        if blank && line_start == 0 {
            self.head.clear(); // blank lines before a status line
            return;
        }
        self.head.push(b'\n');
        if !blank {
            return;
        }
        let head = match response::parse_head(&self.head) {
            Ok(head) => head,
            Err(e) => return self.fail(chan, e),
        };
        self.head.clear();
        if head.is_interim() {
            trace!(
                chan.tracer(),
                "interim {} {}: the response follows", head.status, head.reason
            );
            return;
        }
        if self.in_flight.is_empty() {
            return self.fail(chan, ResponseError::Unsolicited);
        }
        let body = match response::framing(false, &head) {
            Ok(body) => body,
            Err(e) => return self.fail(chan, e),
        };
        trace!(
            chan.tracer(),
            "response {} {}: {body}", head.status, head.reason
        );
        self.last |= head.closes;
        let limit = self.crawl.borrow().config.max_size;
        self.response = Some(head);
        match body {
            Body::None => self.complete(chan),
            Body::Length(n) if n > limit => self.fail(chan, ResponseError::TooLarge { limit }),
            Body::Length(n) => {
                self.reading = Reading::Length;
                chan.set_terminator(Terminator::Count(n));
            }
            Body::Chunked => self.reading = Reading::ChunkSize,
            Body::UntilClose => {
                self.last = true;
                self.reading = Reading::UntilClose;
                chan.set_terminator(Terminator::None);
            }
        }
    }

    /// Body bytes arrived.
    fn collect_body(&mut self, chan: &mut Channel, data: &[u8]) {
        let limit = self.crawl.borrow().config.max_size;
        if self.body.len() as u64 + data.len() as u64 > limit {
            return self.fail(chan, ResponseError::TooLarge { limit });
        }
        self.body.extend_from_slice(data);
    }

    /// A chunk-size, chunk-end or trailer line is complete.
    fn found_chunk_line(&mut self, chan: &mut Channel) {
        let line = std::mem::take(&mut self.line);
        match self.reading {
            Reading::ChunkSize => match asynchat::http::head::parse_chunk_size(&line) {
                Ok(0) => {
                    trace!(chan.tracer(), "last chunk: trailer fields follow");
                    self.reading = Reading::Trailers;
                }
                Ok(size) => {
                    trace!(chan.tracer(), "chunk of {size} bytes");
                    self.reading = Reading::ChunkData;
                    chan.set_terminator(Terminator::Count(size));
                }
                Err(_) => self.fail(chan, ResponseError::BadChunk),
            },
            Reading::ChunkEnd if matches!(line.as_slice(), b"" | b"\r") => {
                self.reading = Reading::ChunkSize;
            }
            Reading::ChunkEnd => self.fail(chan, ResponseError::BadChunk),
            Reading::Trailers if matches!(line.as_slice(), b"" | b"\r") => self.complete(chan),
            _ => {} // a trailer field: ignored
        }
    }

    /// The response at the front is complete: hand it to the crawl, and go
    /// on with the next one (or stop, if this was the last).
    fn complete(&mut self, chan: &mut Channel) {
        let head = self.response.take().expect("a head was read");
        let body = std::mem::take(&mut self.body);
        let fetch = self
            .in_flight
            .pop_front()
            .expect("checked when the head came");
        trace!(
            chan.tracer(),
            "complete: {} {}, {} bytes",
            head.status,
            fetch.url.path,
            body.len()
        );
        self.answered += 1;
        let woken = {
            let mut crawl = self.crawl.borrow_mut();
            crawl.finish(fetch, &head, &body);
            crawl.take_idle_if_work()
        };
        for token in woken {
            chan.wake(token);
        }
        self.reading = Reading::Head;
        chan.set_terminator(b"\n");
        if self.last {
            trace!(chan.tracer(), "the server closes after this response");
            chan.close();
        } else {
            self.top_up(chan);
        }
    }
}

impl AsyncChat for Fetcher {
    fn collect_incoming_data(&mut self, chan: &mut Channel, data: &[u8]) {
        self.last_progress = chan.now();
        match self.reading {
            Reading::Head => {
                self.head.extend_from_slice(data);
                if self.head.len() > response::MAX_HEAD {
                    self.fail(chan, ResponseError::HeadTooLarge);
                }
            }
            Reading::Length | Reading::ChunkData | Reading::UntilClose => {
                self.collect_body(chan, data);
            }
            Reading::ChunkSize | Reading::ChunkEnd | Reading::Trailers => {
                self.line.extend_from_slice(data);
                if self.line.len() > MAX_LINE {
                    self.fail(chan, ResponseError::BadChunk);
                }
            }
        }
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        match self.reading {
            Reading::Head => self.found_head_line(chan),
            Reading::Length => self.complete(chan),
            Reading::ChunkData => {
                self.reading = Reading::ChunkEnd;
                chan.set_terminator(b"\n");
            }
            Reading::ChunkSize | Reading::ChunkEnd | Reading::Trailers => {
                self.found_chunk_line(chan);
            }
            Reading::UntilClose => {} // never: None has no terminator
        }
        if !chan.is_closing() {
            self.update_deadline(chan);
        }
    }

    fn handle_connect(&mut self, chan: &mut Channel) {
        self.top_up(chan);
    }

    fn handle_sent(&mut self, chan: &mut Channel, _sent: u64) {
        self.last_progress = chan.now();
        self.update_deadline(chan);
    }

    fn handle_wake(&mut self, chan: &mut Channel) {
        if !chan.is_closing() {
            self.top_up(chan);
        }
    }

    fn handle_eof(&mut self, chan: &mut Channel) {
        if self.reading == Reading::UntilClose {
            trace!(chan.tracer(), "end of stream: the body is complete");
            self.complete(chan);
        } else {
            trace!(
                chan.tracer(),
                "the server closed with {} requests unanswered",
                self.in_flight.len()
            );
            chan.close();
        }
    }

    fn handle_timeout(&mut self, chan: &mut Channel) {
        trace!(chan.tracer(), "no progress: closing");
        chan.close();
    }

    fn handle_close(&mut self, chan: &mut Channel, reason: CloseReason) {
        let mut crawl = self.crawl.borrow_mut();
        crawl.open -= 1;
        crawl.unpark(chan.token());
        // The first request unanswered counts as failed when the
        // connection broke (an error, a timeout) or answered nothing: a
        // connection that closed cleanly after answering made progress, so
        // a server that closes after every few responses, announced or
        // not, is crawled to the end, and one that never answers is given
        // up on after a few attempts.
        let (broke, why) = match reason {
            CloseReason::Error(kind) => (true, format!("connection error: {kind}")),
            CloseReason::Timeout => (true, "no progress before the timeout".to_string()),
            _ => (false, "the server closed the connection".to_string()),
        };
        let mut failed = broke || self.answered == 0;
        if !self.in_flight.is_empty() {
            trace!(
                chan.tracer(),
                "{} requests to retry: {why}",
                self.in_flight.len()
            );
        }
        for fetch in self.in_flight.drain(..) {
            crawl.retry(fetch, failed, &why);
            failed = false;
        }
        for token in crawl.take_idle_if_work() {
            chan.wake(token);
        }
    }
}
