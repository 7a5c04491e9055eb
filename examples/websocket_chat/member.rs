//! One member of the chat room: the [`AsyncChat`] handler that reads the
//! upgrade request a line at a time, then walks every frame with byte
//! counts, and the [`Room`] that members broadcast through.
//!
//! The terminator of each phase:
//!
//! ```text
//!  Handshake  "\n"      head lines until a blank one; then 101, or an error and close
//!  Start      Count(2)  FIN, opcode, MASK, 7-bit length
//!  Length     Count(2)  16-bit length  } only when the 7-bit
//!             Count(8)  64-bit length  } length is 126 or 127
//!  Mask       Count(4)  masking key; a payload of 0 ends the frame here
//!  Payload    Count(n)  unmasked as it arrives, then back to Start
//! ```
//!
//! A count of 0 would mean "collect forever", so an empty payload never
//! switches to `Count(0)`: the frame ends when its mask has been read.
//!
//! Messages go to the others through the room's mailboxes and
//! [`Channel::wake`], as in `examples/chat.rs`. A member whose output is
//! over its bound (a client that stopped reading) is paused: messages for
//! it are dropped rather than queued, and the send timeout closes it when
//! nothing has been written for that long. The timeout runs only while
//! something is queued: if the kernel later finds room for all of it, the
//! member owes nothing, and a client that is still not reading is dropped
//! when what is said next gets stuck, not while the room is silent.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

use asynchat::trace::Shown;
use asynchat::{AsyncChat, Channel, CloseReason, Terminator, Token, trace};

use crate::frame::{self, Length, Opcode, Start, Violation, close};
use crate::handshake::{self, HandshakeError};

/// What every member shares: the limits and timeouts.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The largest message, reassembled, in bytes; larger is closed 1009.
    pub max_message: u64,
    /// How long queued output may make no progress before the member is
    /// dropped.
    pub send_timeout: Duration,
    /// How long the upgrade request may take.
    pub handshake_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_message: 1 << 20,
            send_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// The longest name, in characters.
pub const MAX_NAME: usize = 32;

/// Everyone in the room who has a name, with the frames waiting for each.
#[derive(Default)]
pub struct Room {
    members: BTreeMap<Token, Seat>,
}

struct Seat {
    name: String,
    mailbox: VecDeque<Rc<[u8]>>,
}

impl Room {
    /// Sends a text message to every member but `from`, as one frame
    /// shared by all of them.
    fn broadcast(&mut self, chan: &mut Channel, text: &str) {
        let frame: Rc<[u8]> = frame::encode(Opcode::Text, text.as_bytes()).into();
        let from = chan.token();
        for (&token, seat) in self.members.iter_mut() {
            if token != from {
                // One wake per burst: a member already woken will take
                // everything in its mailbox.
                if seat.mailbox.is_empty() {
                    chan.wake(token);
                }
                seat.mailbox.push_back(Rc::clone(&frame));
            }
        }
    }

    /// The names in the room, in order of arrival.
    fn names(&self) -> Vec<&str> {
        self.members.values().map(|s| s.name.as_str()).collect()
    }
}

/// Where in the protocol a member is, with what that step needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the upgrade request (terminator `"\n"`).
    Handshake,
    /// A frame's first two bytes (`Count(2)`).
    Start,
    /// The extended length (`Count(2)` or `Count(8)`).
    Length(Start),
    /// The masking key (`Count(4)`).
    Mask(Start, u64),
    /// The payload (`Count(n)`), with how much of it has arrived.
    Payload(Frame),
    /// A close frame was sent: nothing more is read.
    Closing,
}

/// A frame whose header has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame {
    start: Start,
    len: u64,
    mask: [u8; 4],
    /// Payload bytes received so far.
    at: u64,
}

/// One client of the chat.
pub struct Member {
    room: Rc<RefCell<Room>>,
    settings: Rc<Settings>,
    phase: Phase,
    /// The handshake head, or the header bytes of the frame part being read.
    record: Vec<u8>,
    /// The message being reassembled, its opcode once it has begun, and how
    /// much of it is known to be UTF-8.
    message: Vec<u8>,
    message_opcode: Option<Opcode>,
    checked: usize,
    /// The payload of the control frame being read.
    control: Vec<u8>,
    /// The name, once the first message has given it.
    name: Option<String>,
    /// When output last made progress (send timeout).
    last_sent: Instant,
    /// When the connection was accepted (handshake timeout).
    started: Instant,
    /// Messages dropped because the client was not reading.
    dropped: u64,
}

impl Member {
    /// A member of `room` that has not yet sent its upgrade request.
    pub fn new(room: Rc<RefCell<Room>>, settings: Rc<Settings>) -> Member {
        let now = Instant::now();
        Member {
            room,
            settings,
            phase: Phase::Handshake,
            record: Vec::new(),
            message: Vec::new(),
            message_opcode: None,
            checked: 0,
            control: Vec::new(),
            name: None,
            last_sent: now,
            started: now,
            dropped: 0,
        }
    }

    /// The terminator a new connection starts with.
    pub fn initial_terminator() -> Terminator {
        Terminator::bytes(b"\n")
    }

    /// The one deadline that matters now.
    fn update_deadline(&self, chan: &mut Channel) {
        let deadline = if !chan.fifo().is_empty() {
            Some(self.last_sent + self.settings.send_timeout)
        } else if self.phase == Phase::Handshake {
            Some(self.started + self.settings.handshake_timeout)
        } else {
            None
        };
        chan.set_deadline(deadline);
    }

    /// Pushes a frame, noting when output starts to wait.
    fn push_frame(&mut self, chan: &mut Channel, frame: impl Into<asynchat::Piece>) {
        if chan.fifo().is_empty() {
            self.last_sent = chan.now();
        }
        chan.push(frame);
    }

    /// Starts the closing handshake with `code`, and closes once it is sent.
    fn close_with(&mut self, chan: &mut Channel, code: u16, reason: &str) {
        trace!(chan.tracer(), "close {code} {reason:?}: closing when sent");
        self.push_frame(chan, frame::close_frame(code, reason));
        self.phase = Phase::Closing;
        chan.close_when_done();
    }

    fn violated(&mut self, chan: &mut Channel, v: Violation) {
        log::debug!("{}: {v}", peer(chan));
        self.close_with(chan, v.code(), &v.to_string());
    }

    /// A line of the upgrade request is complete; a blank one completes it.
    fn found_head_line(&mut self, chan: &mut Channel) {
        let line_start = self
            .record
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let blank = matches!(&self.record[line_start..], b"" | b"\r");
        self.record.push(b'\n');
        if !blank {
            return;
        }
        let head = std::mem::take(&mut self.record);
        match handshake::parse(&head) {
            Ok(upgrade) => {
                trace!(
                    chan.tracer(),
                    "handshake: GET {} upgraded, key {}", upgrade.target, upgrade.key
                );
                self.push_frame(chan, upgrade.response());
                self.phase = Phase::Start;
                chan.set_terminator(Terminator::Count(2));
            }
            Err(e) => self.refuse(chan, e),
        }
    }

    fn refuse(&mut self, chan: &mut Channel, e: HandshakeError) {
        let (code, _) = e.status();
        trace!(chan.tracer(), "handshake refused: {code} {e}");
        log::debug!("{}: handshake refused: {e}", peer(chan));
        self.push_frame(chan, e.response());
        self.phase = Phase::Closing;
        chan.close_when_done();
    }

    /// A frame's first two bytes are in.
    fn found_start(&mut self, chan: &mut Channel) {
        let bytes = [self.record[0], self.record[1]];
        self.record.clear();
        let start = match self.check_start(bytes) {
            Ok(start) => start,
            Err(v) => return self.violated(chan, v),
        };
        trace!(chan.tracer(), "frame: {start}");
        match start.length {
            Length::Is(len) => self.length_known(chan, start, len),
            Length::Next2 | Length::Next8 => {
                self.phase = Phase::Length(start);
                chan.set_terminator(Terminator::Count(start.length.extra_bytes()));
            }
        }
    }

    /// The frame's header on its own, and where it falls in a message.
    fn check_start(&self, bytes: [u8; 2]) -> Result<Start, Violation> {
        let start = frame::parse_start(bytes)?;
        match (start.opcode, self.message_opcode) {
            (Opcode::Continuation, None) => Err(Violation::NothingToContinue),
            (Opcode::Text | Opcode::Binary, Some(_)) => Err(Violation::ExpectedContinuation),
            (Opcode::Binary, None) => Err(Violation::Binary),
            _ => Ok(start),
        }
    }

    /// The payload length is known: check it, then read the mask.
    fn length_known(&mut self, chan: &mut Channel, start: Start, len: u64) {
        let limit = self.settings.max_message;
        if start.opcode.is_control() && len > frame::MAX_CONTROL {
            return self.violated(chan, Violation::ControlTooLong);
        }
        if !start.opcode.is_control() && (self.message.len() as u64).saturating_add(len) > limit {
            return self.violated(chan, Violation::TooBig { limit });
        }
        self.phase = Phase::Mask(start, len);
        chan.set_terminator(Terminator::Count(4));
    }

    /// The mask is in: read the payload, or end an empty frame here.
    fn found_mask(&mut self, chan: &mut Channel, start: Start, len: u64) {
        let mask = [
            self.record[0],
            self.record[1],
            self.record[2],
            self.record[3],
        ];
        self.record.clear();
        trace!(chan.tracer(), "mask {:08x}", u32::from_be_bytes(mask));
        let frame = Frame {
            start,
            len,
            mask,
            at: 0,
        };
        if len == 0 {
            // Count(0) would collect forever: the frame is complete now.
            self.frame_done(chan, frame);
        } else {
            self.phase = Phase::Payload(frame);
            chan.set_terminator(Terminator::Count(len));
        }
    }

    /// Payload bytes arrived: unmask them where they belong.
    fn collect_payload(&mut self, chan: &mut Channel, mut frame: Frame, data: &[u8]) {
        let target = if frame.start.opcode.is_control() {
            &mut self.control
        } else {
            &mut self.message
        };
        let from = target.len();
        target.extend_from_slice(data);
        frame::unmask(&mut target[from..], frame.mask, frame.at);
        trace!(chan.tracer(), "unmasked {}", Shown(&target[from..]));
        frame.at += data.len() as u64;
        self.phase = Phase::Payload(frame);
        if !frame.start.opcode.is_control()
            && self.message_opcode.unwrap_or(frame.start.opcode) == Opcode::Text
        {
            match frame::check_utf8(&self.message, self.checked) {
                Ok(checked) => self.checked = checked,
                Err(v) => self.violated(chan, v),
            }
        }
    }

    /// A whole frame has been read.
    fn frame_done(&mut self, chan: &mut Channel, frame: Frame) {
        let Start { fin, opcode, .. } = frame.start;
        if self.phase == Phase::Closing {
            return;
        }
        self.phase = Phase::Start;
        chan.set_terminator(Terminator::Count(2));
        match opcode {
            Opcode::Ping => {
                let payload = std::mem::take(&mut self.control);
                trace!(chan.tracer(), "ping of {} bytes: pong", payload.len());
                self.push_frame(chan, frame::encode(Opcode::Pong, &payload));
            }
            Opcode::Pong => {
                trace!(chan.tracer(), "pong of {} bytes", self.control.len());
                self.control.clear();
            }
            Opcode::Close => self.found_close(chan),
            Opcode::Text | Opcode::Continuation | Opcode::Binary => {
                let kind = self.message_opcode.unwrap_or(opcode);
                self.message_opcode = Some(kind);
                if !fin {
                    trace!(
                        chan.tracer(),
                        "fragment of {} bytes, message so far {}",
                        frame.len,
                        self.message.len()
                    );
                    return;
                }
                if self.checked != self.message.len() {
                    // A character cut off by the end of the message.
                    return self.violated(chan, Violation::InvalidUtf8);
                }
                let message = std::mem::take(&mut self.message);
                self.message_opcode = None;
                self.checked = 0;
                trace!(
                    chan.tracer(),
                    "message complete: {kind}, {} bytes",
                    message.len()
                );
                let text = String::from_utf8(message).expect("checked as it arrived");
                self.found_message(chan, text);
            }
        }
    }

    /// The client closed: answer with the same code, then close.
    fn found_close(&mut self, chan: &mut Channel) {
        let payload = std::mem::take(&mut self.control);
        match frame::parse_close(&payload) {
            Ok(Some((code, reason))) => {
                trace!(chan.tracer(), "client closed with {code} {reason:?}");
                self.close_with(chan, code, "");
            }
            Ok(None) => {
                trace!(chan.tracer(), "client closed without a code");
                self.close_with(chan, close::NORMAL, "");
            }
            Err(v) => self.violated(chan, v),
        }
    }

    /// A whole text message: the name, if it is the first; otherwise a line
    /// for everyone else.
    fn found_message(&mut self, chan: &mut Channel, text: String) {
        let Some(name) = &self.name else {
            return self.join(chan, text);
        };
        let line = format!("{name}: {text}");
        self.room.borrow_mut().broadcast(chan, &line);
    }

    fn join(&mut self, chan: &mut Channel, name: String) {
        let name = name.trim().to_string();
        let printable = !name.is_empty()
            && name.chars().count() <= MAX_NAME
            && !name.chars().any(char::is_control);
        if !printable {
            return self.violated(chan, Violation::BadName);
        }
        trace!(chan.tracer(), "joined as {name:?}");
        let room = Rc::clone(&self.room);
        let mut room = room.borrow_mut();
        let others = room.names().join(", ");
        let welcome = if others.is_empty() {
            format!("* welcome, {name}: you are the first here")
        } else {
            format!("* welcome, {name}: here are {others}")
        };
        self.push_frame(chan, frame::encode(Opcode::Text, welcome.as_bytes()));
        room.broadcast(chan, &format!("* {name} joined"));
        room.members.insert(
            chan.token(),
            Seat {
                name: name.clone(),
                mailbox: VecDeque::new(),
            },
        );
        self.name = Some(name);
    }
}

impl AsyncChat for Member {
    fn collect_incoming_data(&mut self, chan: &mut Channel, data: &[u8]) {
        match self.phase {
            Phase::Handshake => {
                self.record.extend_from_slice(data);
                if self.record.len() > handshake::MAX_HEAD {
                    self.refuse(chan, HandshakeError::TooLarge);
                }
            }
            Phase::Start | Phase::Length(_) | Phase::Mask(..) => {
                self.record.extend_from_slice(data);
            }
            Phase::Payload(frame) => self.collect_payload(chan, frame, data),
            Phase::Closing => {}
        }
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        match self.phase {
            Phase::Handshake => self.found_head_line(chan),
            Phase::Start => self.found_start(chan),
            Phase::Length(start) => match frame::parse_length(&self.record) {
                Ok(len) => {
                    self.record.clear();
                    trace!(chan.tracer(), "length {len}");
                    self.length_known(chan, start, len);
                }
                Err(v) => self.violated(chan, v),
            },
            Phase::Mask(start, len) => self.found_mask(chan, start, len),
            Phase::Payload(frame) => self.frame_done(chan, frame),
            Phase::Closing => {}
        }
        self.update_deadline(chan);
    }

    fn handle_connect(&mut self, chan: &mut Channel) {
        self.started = chan.now();
        self.update_deadline(chan);
    }

    fn handle_sent(&mut self, chan: &mut Channel, _sent: u64) {
        self.last_sent = chan.now();
        self.update_deadline(chan);
    }

    fn handle_wake(&mut self, chan: &mut Channel) {
        let mail = {
            let mut room = self.room.borrow_mut();
            room.members
                .get_mut(&chan.token())
                .map(|seat| std::mem::take(&mut seat.mailbox))
        };
        for frame in mail.into_iter().flatten() {
            if chan.is_paused() {
                // Not reading: queue no more for it than the bound.
                self.dropped += 1;
                trace!(
                    chan.tracer(),
                    "not reading: dropped a message of {} bytes",
                    frame.len()
                );
            } else {
                self.push_frame(chan, frame);
            }
        }
        self.update_deadline(chan);
    }

    fn handle_timeout(&mut self, chan: &mut Channel) {
        if chan.fifo().is_empty() {
            log::debug!("{}: handshake timed out", peer(chan));
        } else {
            log::debug!(
                "{}: not reading for {:?} ({} messages dropped): dropped",
                peer(chan),
                self.settings.send_timeout,
                self.dropped
            );
        }
        chan.close();
    }

    fn handle_stop(&mut self, chan: &mut Channel) {
        if self.phase == Phase::Handshake {
            chan.close();
        } else if self.phase != Phase::Closing {
            self.close_with(chan, close::GOING_AWAY, "server shutting down");
        }
    }

    fn handle_close(&mut self, chan: &mut Channel, reason: CloseReason) {
        let mut room = self.room.borrow_mut();
        if room.members.remove(&chan.token()).is_some()
            && let Some(name) = &self.name
        {
            log::debug!("{}: {name} left ({reason})", peer(chan));
            room.broadcast(chan, &format!("* {name} left"));
        }
    }
}

fn peer(chan: &Channel) -> String {
    chan.peer()
        .map_or_else(|| "-".to_string(), |p| p.to_string())
}
