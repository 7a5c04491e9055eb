//! Parking: an idle connection keeps a record of its channel, not the
//! channel.
//!
//! Between requests a keep-alive connection's channel holds nothing that a
//! new channel would not: no input, no output, the same bounds, no trace.
//! What it knows that a new one would not is its terminator, its id and
//! its peer; the rest (the deadline, the clock, the token) comes back with
//! the next event. So once an event leaves the channel idle, the connection
//! keeps that [`Parked`] record and gives the channel's box back as a spare
//! for the next connection that has something to do, and takes one again
//! at its own next event. Ten thousand idle connections then hold ten
//! thousand records and a few spare boxes (at most
//! [`SPARES`](crate::spare::SPARES)), and a connection that answers
//! request after request takes back the box it gave: no allocation.
//!
//! Only the connection parks ([`super::Connection`]): a channel driven in
//! memory with [`Channel::feed`] stays whole.

use std::cell::RefCell;
use std::mem;
use std::net::SocketAddr;
use std::time::Instant;

use super::{Channel, Life};
use crate::spare::{self, Spare};
use crate::terminator::Terminator;

thread_local! {
    /// Boxes that parked or closed channels left, hollow. The boxes are the
    /// point: each is handed whole to the next channel that wakes.
    #[allow(clippy::vec_box)]
    static BOXES: RefCell<Vec<Box<Channel>>> = const { RefCell::new(Vec::new()) };
}

/// What an idle channel knows that a new one would not.
pub(super) struct Parked {
    terminator: Terminator,
    id: u64,
    peer: Option<SocketAddr>,
}

/// A connection's channel: whole, in a box of its own, while the connection
/// has something to do, and a record of it while the connection is idle.
pub(super) enum Held {
    /// Handling an event, or holding input, output or something rare (a
    /// trace, a capture's marks, bounds of its own, channels to wake).
    Live(Box<Channel>),
    /// Idle, and holding nothing.
    Parked(Parked),
}

impl Held {
    /// `chan`, whole, in a spare box if the thread has one.
    pub(super) fn new(chan: Channel) -> Held {
        let boxed = match spare::pop(&BOXES) {
            Some(mut spare) => {
                *spare = chan;
                spare
            }
            None => Box::new(chan),
        };
        Held::Live(boxed)
    }

    /// The channel, made whole again at `now` if it was parked, with the
    /// deadline the reactor kept for it (asked for only then).
    pub(super) fn unpark(
        &mut self,
        now: Instant,
        deadline: impl FnOnce() -> Option<Instant>,
    ) -> &mut Channel {
        if let Held::Parked(parked) = self {
            let parked = mem::replace(parked, Parked::HOLLOW);
            *self = Held::rebuilt(parked, now, deadline());
        }
        self.live()
    }

    /// A channel rebuilt from its record. Kept out of line, so that the
    /// event handlers stay small for the compiler to inline what they call.
    #[inline(never)]
    fn rebuilt(parked: Parked, now: Instant, deadline: Option<Instant>) -> Held {
        let mut chan = Channel::starting_at(parked.terminator, now);
        chan.id = parked.id;
        chan.peer = parked.peer;
        chan.deadline = deadline;
        Held::new(chan)
    }

    /// The channel, which is whole: the connection is handling an event, or
    /// has not joined a reactor yet.
    ///
    /// # Panics
    ///
    /// When the channel is parked.
    pub(super) fn live(&mut self) -> &mut Channel {
        match self {
            Held::Live(chan) => chan,
            Held::Parked(_) => unreachable!("a parked channel is made whole before it is used"),
        }
    }

    /// The channel, when it is whole.
    pub(super) fn get(&self) -> Option<&Channel> {
        match self {
            Held::Live(chan) => Some(chan),
            Held::Parked(_) => None,
        }
    }

    /// True while the channel wants input: a parked channel always does.
    pub(super) fn readable(&self) -> bool {
        self.get().is_none_or(Channel::readable)
    }

    /// True while the channel has output (or records put off): a parked one
    /// has none.
    pub(super) fn writable(&self) -> bool {
        self.get().is_some_and(Channel::writable)
    }

    /// Keeps only the record of the channel if it is idle and holds
    /// nothing, and gives its box back as a spare.
    #[inline(never)]
    pub(super) fn park(&mut self) {
        if let Held::Live(chan) = self
            && let Some(parked) = chan.park()
        {
            let Held::Live(hollow) = mem::replace(self, Held::Parked(parked)) else {
                unreachable!("the channel was live")
            };
            give(hollow);
        }
    }

    /// Gives the box back as a spare once the connection has closed, at
    /// `now`: what the channel held is dropped now (its buffers become
    /// spares), not when the box is next used.
    pub(super) fn release(&mut self, now: Instant) {
        if let Held::Live(chan) = self {
            chan.fifo.clear();
            spare::give(
                &spare::BYTES,
                mem::take(&mut chan.inbox),
                spare::BYTES_LARGEST,
            );
            **chan = Channel::starting_at(Terminator::None, now);
            let Held::Live(hollow) = mem::replace(self, Held::Parked(Parked::HOLLOW)) else {
                unreachable!("the channel was live")
            };
            give(hollow);
        }
    }
}

impl Parked {
    /// A record of nothing, left behind while one is moved out.
    const HOLLOW: Parked = Parked {
        terminator: Terminator::None,
        id: 0,
        peer: None,
    };
}

/// Keeps a hollow box as a spare, unless there are enough.
fn give(hollow: Box<Channel>) {
    spare::give(&BOXES, hollow, 1);
}

// A box holds one channel, and is given back hollow (by `Held::park` and
// `Held::release`): there is nothing to empty.
impl Spare for Box<Channel> {
    fn capacity(&self) -> usize {
        1
    }

    fn clear(&mut self) {}
}

impl Channel {
    /// The record of an idle channel that holds nothing a new one would
    /// not, leaving the channel hollow; `None` (and the channel untouched)
    /// otherwise.
    fn park(&mut self) -> Option<Parked> {
        // Every field is named, so that one added to the channel must say
        // here whether an idle channel can do without it.
        let Channel {
            terminator,
            inbox,
            fifo,
            life,
            eof,
            eof_told: _, // only at end of stream
            now: _,      // the next event's
            deadline: _, // kept by the reactor
            token: _,    // the next event's
            peer,
            wakes,
            limits,
            id,
            trace,
            traced_pause: _, // only when traced
            hide_data,
            marks,
            work: _, // counted per event
            held,
        } = self;
        let idle = *life == Life::Open
            && !*eof
            && !*held
            && !*hide_data
            && inbox.is_empty()
            && fifo.is_empty()
            && wakes.is_none()
            && limits.is_none()
            && trace.is_none()
            && marks.is_none();
        if !idle {
            return None;
        }
        // An empty input buffer has gone back to the spares already; if
        // this one has not, it goes now.
        spare::give(&spare::BYTES, mem::take(inbox), spare::BYTES_LARGEST);
        Some(Parked {
            terminator: mem::replace(terminator, Terminator::None),
            id: *id,
            peer: *peer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{AsyncChat, Limits};
    use crate::reactor::Token;
    use std::time::Duration;

    struct Nothing;

    impl AsyncChat for Nothing {
        fn collect_incoming_data(&mut self, _chan: &mut Channel, _data: &[u8]) {}
        fn found_terminator(&mut self, _chan: &mut Channel) {}
    }

    #[test]
    fn a_parked_channel_keeps_its_record_and_takes_back_the_box_it_gave() {
        let peer: SocketAddr = "[::1]:4711".parse().unwrap();
        let mut chan = Channel::new(b"qqq".to_vec());
        (chan.id, chan.peer) = (7, Some(peer));
        let mut held = Held::new(chan);
        let home: *const Channel = held.get().expect("whole");
        held.park();
        assert!(held.get().is_none(), "idle and holding nothing: parked");
        assert!(held.readable() && !held.writable());
        let now = Instant::now();
        let deadline = Some(now + Duration::from_secs(30));
        let chan = held.unpark(now, || deadline);
        assert!(std::ptr::eq(chan, home), "the box it gave, taken back");
        assert_eq!(chan.get_terminator(), &Terminator::from(b"qqq".to_vec()));
        assert_eq!((chan.id(), chan.peer()), (7, Some(peer)));
        assert_eq!((chan.now(), chan.deadline()), (now, deadline));
        assert!(chan.readable() && !chan.writable() && !chan.is_closing());
    }

    #[test]
    fn a_channel_that_holds_something_stays_whole() {
        type Make = fn(&mut Channel);
        let cases: [(&str, Make); 6] = [
            ("half a terminator", |c| c.feed(&mut Nothing, b"x\r")),
            ("output", |c| c.push(&b"out"[..])),
            ("closing", Channel::close_when_done),
            ("at end of stream", |c| c.feed_eof(&mut Nothing)),
            ("bounds of its own", |c| {
                c.set_limits(Limits {
                    max_queued: 3,
                    ..Limits::DEFAULT
                });
            }),
            ("channels to wake", |c| c.wake(Token::DETACHED)),
        ];
        for (what, make) in cases {
            let mut chan = Channel::new(b"\r\n");
            make(&mut chan);
            let mut held = Held::new(chan);
            held.park();
            assert!(held.get().is_some(), "{what}: whole");
        }
    }
}
