//! The line echo server from the seed article: every line `L` is answered
//! with `Echo: L`, and the line `exit` closes the connection.
//!
//! ```text
//! cargo run --example echo -- 127.0.0.1:12345
//! ```

use std::net::TcpListener;

use asynchat::{AsyncChat, Channel, Connection, Reactor};

/// One client: collects a line, answers it.
#[derive(Default)]
struct Echo {
    line: Vec<u8>,
}

impl AsyncChat for Echo {
    fn collect_incoming_data(&mut self, _chan: &mut Channel, data: &[u8]) {
        self.line.extend_from_slice(data);
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        let line = std::mem::take(&mut self.line);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line == b"exit" {
            chan.close_when_done();
        } else {
            chan.push([&b"Echo: "[..], line, b"\n"].concat());
        }
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:12345".into());
    let listener = TcpListener::bind(&addr)?;
    println!("echo server listening on {}", listener.local_addr()?);
    let mut reactor = Reactor::new()?;
    reactor.listen(
        listener,
        |stream, _peer, _cx: &mut asynchat::Context<'_>| {
            Some(Connection::new(
                stream,
                Channel::new(b"\n"),
                Echo::default(),
            ))
        },
    )?;
    reactor.run()
}
