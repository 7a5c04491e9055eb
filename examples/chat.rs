//! A chat room: every line a client sends is broadcast to all the other
//! connected clients as `<peer address>: line`.
//!
//! ```text
//! cargo run --example chat -- 127.0.0.1:12346
//! ```
//!
//! Channels never touch each other. A line goes into the room's mailbox of
//! every other member, and [`Channel::wake`] asks the reactor to call that
//! member's `handle_wake`, where it pushes its mail: the single-threaded
//! version of Medusa's `trigger`.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::TcpListener;
use std::rc::Rc;

use asynchat::{AsyncChat, Channel, CloseReason, Connection, Context, Reactor, Token};

/// Everyone in the room, with the lines waiting for each.
#[derive(Default)]
struct Room {
    mailboxes: BTreeMap<Token, VecDeque<Vec<u8>>>,
}

/// One member of the room.
struct Member {
    room: Rc<RefCell<Room>>,
    line: Vec<u8>,
}

impl AsyncChat for Member {
    fn handle_connect(&mut self, chan: &mut Channel) {
        self.room
            .borrow_mut()
            .mailboxes
            .insert(chan.token(), VecDeque::new());
    }

    fn collect_incoming_data(&mut self, _chan: &mut Channel, data: &[u8]) {
        self.line.extend_from_slice(data);
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        let line = std::mem::take(&mut self.line);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        let peer = chan
            .peer()
            .map_or_else(|| "?".to_string(), |p| p.to_string());
        let message = [peer.as_bytes(), b": ", line, b"\n"].concat();
        let mut room = self.room.borrow_mut();
        for (&token, mailbox) in room.mailboxes.iter_mut() {
            if token != chan.token() {
                mailbox.push_back(message.clone());
                chan.wake(token);
            }
        }
    }

    fn handle_wake(&mut self, chan: &mut Channel) {
        let mail = self
            .room
            .borrow_mut()
            .mailboxes
            .get_mut(&chan.token())
            .map(std::mem::take);
        for message in mail.into_iter().flatten() {
            chan.push(message);
        }
        // A member whose output is over its bound is not reading: rather
        // than queue the room's talk for it without limit, let it go.
        if chan.is_paused() {
            chan.close();
        }
    }

    fn handle_close(&mut self, chan: &mut Channel, _reason: CloseReason) {
        self.room.borrow_mut().mailboxes.remove(&chan.token());
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:12346".into());
    let listener = TcpListener::bind(&addr)?;
    println!("chat server listening on {}", listener.local_addr()?);
    let room = Rc::new(RefCell::new(Room::default()));
    let mut reactor = Reactor::new()?;
    reactor.listen(listener, move |stream, _peer, _cx: &mut Context<'_>| {
        let member = Member {
            room: Rc::clone(&room),
            line: Vec::new(),
        };
        Some(Connection::new(stream, Channel::new(b"\n"), member))
    })?;
    reactor.run()
}
