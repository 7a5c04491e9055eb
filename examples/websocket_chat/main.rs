//! A WebSocket chat room (RFC 6455) on the asynchat reactor and channel:
//! the seed's chat, spoken by browsers.
//!
//! ```text
//! cargo run --example websocket_chat -- 127.0.0.1:8001
//! cargo run --release -- www      # then open http://127.0.0.1:8000/chat.html
//! ```
//!
//! A client upgrades an HTTP/1.1 GET on the same connection. Its first
//! text message is its name; every message after that goes to everyone
//! else as `name: text`, and arrivals and departures are announced as
//! `* name joined` and `* name left`. `--trace` prints every event of every
//! connection, every count switch of the frame walk among them.
//!
//! The channel's terminator does all the framing: `"\n"` for the lines of
//! the upgrade request, then `Count(2)`, `Count(2)` or `Count(8)`,
//! `Count(4)`, `Count(n)` for each frame (see `member.rs`). Pure parts:
//! `handshake.rs` (the upgrade request, `Sec-WebSocket-Accept`) and
//! `frame.rs` (frame headers, close codes, UTF-8, writing frames).

mod frame;
mod handshake;
mod member;

use std::cell::RefCell;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use asynchat::trace;
use asynchat::{Channel, Connection, Context, Reactor};
use clap::Parser;

use member::{Member, Room, Settings};

/// A WebSocket chat room: the first message names you, the rest go to
/// everyone else.
#[derive(Parser)]
#[command(name = "websocket_chat")]
struct Args {
    /// The address to listen on (port 0 picks a free one).
    #[arg(default_value = "127.0.0.1:8001")]
    addr: SocketAddr,
    /// The largest message accepted, reassembled from its fragments;
    /// larger is closed with 1009.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    max_message: u64,
    /// Drop a client whose output has not moved for this long (it stopped
    /// reading).
    #[arg(long, default_value_t = 30, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    send_timeout: u64,
    /// Print a line for every event of every connection: reads, each
    /// count of the frame walk, frames, messages, writes, closes.
    #[arg(long)]
    trace: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut log = env_logger::Builder::new();
    log.filter_level(log::LevelFilter::Info);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        log.parse_filters(&spec);
    }
    if args.trace {
        log.filter_module(trace::TARGET, log::LevelFilter::Trace);
    }
    log.format(|out, record| {
        let time = out.timestamp_micros();
        writeln!(out, "[{time}] {}", record.args())
    })
    .init();
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("websocket_chat: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &Args) -> std::io::Result<()> {
    let listener = TcpListener::bind(args.addr)?;
    println!(
        "websocket chat server listening on {}",
        listener.local_addr()?
    );
    let settings = Rc::new(Settings {
        max_message: args.max_message,
        send_timeout: Duration::from_secs(args.send_timeout),
        ..Settings::default()
    });
    let room = Rc::new(RefCell::new(Room::default()));
    let mut reactor = Reactor::new()?;
    reactor.listen(listener, move |stream, _peer, _cx: &mut Context<'_>| {
        let member = Member::new(Rc::clone(&room), Rc::clone(&settings));
        Some(Connection::new(
            stream,
            Channel::new(Member::initial_terminator()),
            member,
        ))
    })?;
    reactor.run()
}
