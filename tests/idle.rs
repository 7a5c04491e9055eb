//! Idle connections: between events, a connection whose channel holds
//! nothing keeps a record of it (its terminator, id and peer) rather than
//! the channel, and its next event finds the channel as it was. Over a
//! real socket, with the reactor turned by the test.

use std::cell::RefCell;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use asynchat::http::conn::HttpChannel;
use asynchat::{AsyncChat, Channel, Connection, Limits, Reactor, Terminator, Token};

const PATIENCE: Duration = Duration::from_secs(5);

/// What the channel was like at each record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    record: Vec<u8>,
    id: u64,
    peer: Option<SocketAddr>,
}

/// Collects records ended by `"\r\n"`, then by `"qqq"` after the first.
struct Recorder {
    current: Vec<u8>,
    seen: Rc<RefCell<Vec<Seen>>>,
}

impl AsyncChat for Recorder {
    fn collect_incoming_data(&mut self, _chan: &mut Channel, data: &[u8]) {
        self.current.extend_from_slice(data);
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        self.seen.borrow_mut().push(Seen {
            record: std::mem::take(&mut self.current),
            id: chan.id(),
            peer: chan.peer(),
        });
        chan.set_terminator(b"qqq");
    }
}

/// A reactor with one connection to a listener of the test's, the test's
/// end of it, and what the handler saw.
struct Wired {
    reactor: Reactor<Connection<Recorder>>,
    token: Token,
    peer: TcpStream,
    seen: Rc<RefCell<Vec<Seen>>>,
}

fn connected(chan: Channel) -> Wired {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let handler = Recorder {
        current: Vec::new(),
        seen: Rc::clone(&seen),
    };
    let conn = Connection::connect(listener.local_addr().unwrap(), chan, handler).unwrap();
    let mut reactor = Reactor::new().unwrap();
    let token = reactor.add(conn).unwrap();
    let (peer, _) = listener.accept().unwrap();
    Wired {
        reactor,
        token,
        peer,
        seen,
    }
}

/// Turns the loop until `done` holds.
fn turn_until<D: asynchat::Dispatcher>(
    reactor: &mut Reactor<D>,
    done: impl Fn(&Reactor<D>) -> bool,
) {
    let end = Instant::now() + PATIENCE;
    while !done(reactor) {
        assert!(Instant::now() < end, "never happened");
        reactor.poll(Some(Duration::from_millis(10))).unwrap();
    }
}

/// True when the connection behind `token` is parked: it keeps no channel.
fn parked(reactor: &Reactor<Connection<Recorder>>, token: Token) -> bool {
    reactor.get(token).expect("open").channel().is_none()
}

#[test]
fn an_idle_connection_parks_and_its_next_event_finds_the_channel_as_it_was() {
    let Wired {
        mut reactor,
        token,
        mut peer,
        seen,
    } = connected(Channel::new(b"\r\n"));
    turn_until(&mut reactor, |r| parked(r, token));

    peer.write_all(b"one\r\n").unwrap();
    turn_until(&mut reactor, |_| seen.borrow().len() == 1);
    assert!(parked(&reactor, token), "a record delivered, nothing held");

    // The terminator set in the last record, and half of it held back: a
    // channel that holds input stays whole.
    peer.write_all(b"twoqq").unwrap();
    turn_until(&mut reactor, |r| !parked(r, token));
    let chan = reactor.get(token).unwrap().channel().unwrap();
    assert_eq!(chan.get_terminator(), &Terminator::from(b"qqq"));
    turn_until(&mut reactor, |r| {
        let conn = r.get(token).unwrap();
        conn.channel().is_some_and(|c| c.pending_input() == b"qq")
    });

    peer.write_all(b"q").unwrap();
    turn_until(&mut reactor, |_| seen.borrow().len() == 2);
    assert!(parked(&reactor, token));
    let seen = seen.borrow();
    assert_eq!(seen[0].record, b"one");
    assert_eq!(seen[1].record, b"two");
    assert_eq!(seen[0].id, seen[1].id, "the same connection id");
    assert!(seen[0].id > 0);
    assert_eq!(seen[0].peer, seen[1].peer, "the same peer");
    assert_eq!(seen[0].peer, Some(peer.local_addr().unwrap()));
}

#[test]
fn a_channel_with_bounds_of_its_own_stays_whole_and_keeps_them() {
    let limits = Limits {
        max_queued: 7,
        ..Limits::DEFAULT
    };
    let mut chan = Channel::new(b"\r\n");
    chan.set_limits(limits);
    let Wired {
        mut reactor,
        token,
        mut peer,
        seen,
    } = connected(chan);
    peer.write_all(b"one\r\n").unwrap();
    turn_until(&mut reactor, |_| seen.borrow().len() == 1);
    let chan = reactor.get(token).unwrap().channel().expect("whole");
    assert_eq!(chan.limits(), limits);
}

#[test]
fn an_idle_http_connection_costs_a_small_slot() {
    // 392 bytes before idle connections parked: the channel (232) and the
    // handler (104) in the slot, and 40 bytes of deadlines beside them.
    let slot = Reactor::<Connection<HttpChannel>>::SLOT_BYTES;
    assert!(slot <= 224, "a slot of {slot} bytes");
    let whole = std::mem::size_of::<Channel>() + std::mem::size_of::<HttpChannel>();
    assert!(slot < whole, "the slot holds no channel ({slot} bytes)");
}
