//! The echo and chat examples, run as programs and driven over real sockets.
//! `cargo test` builds the examples before it runs this file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(5);

/// A running example, killed when dropped.
struct Example {
    child: Child,
    addr: SocketAddr,
}

impl Example {
    /// Starts `target/<profile>/examples/<name> 127.0.0.1:0` and reads the
    /// address it printed.
    fn start(name: &str) -> Example {
        let mut path: PathBuf = std::env::current_exe().unwrap();
        path.pop(); // the test binary
        path.pop(); // deps/
        path.push("examples");
        path.push(name);
        let mut child = Command::new(&path)
            .arg("127.0.0.1:0")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.rsplit(' ').next().unwrap().trim().parse().unwrap();
        Example { child, addr }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_line(r: &mut impl BufRead) -> String {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    line
}

#[test]
fn echo_answers_each_line_and_closes_on_exit() {
    let server = Example::start("echo");
    let mut client = server.connect();
    // A line split across writes, two lines in one write, then exit with
    // something after it that must not be answered.
    client.write_all(b"hel").unwrap();
    client.flush().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    client
        .write_all(b"lo\nsecond\r\nthird\nexit\nafter\n")
        .unwrap();
    let mut all = String::new();
    client.read_to_string(&mut all).unwrap();
    assert_eq!(all, "Echo: hello\nEcho: second\nEcho: third\n");
}

#[test]
fn echo_serves_clients_independently() {
    let server = Example::start("echo");
    let mut a = BufReader::new(server.connect());
    let mut b = BufReader::new(server.connect());
    b.get_mut().write_all(b"from b\n").unwrap();
    a.get_mut().write_all(b"from a\n").unwrap();
    assert_eq!(read_line(&mut a), "Echo: from a\n");
    assert_eq!(read_line(&mut b), "Echo: from b\n");
}

#[test]
fn chat_broadcasts_to_everyone_else() {
    let server = Example::start("chat");
    let mut alice = BufReader::new(server.connect());
    let mut bob = BufReader::new(server.connect());
    let mut carol = BufReader::new(server.connect());
    // Make sure all three have joined before anyone speaks: each says hello
    // and the others must hear it.
    let names = [&mut alice, &mut bob, &mut carol];
    let addrs: Vec<String> = names
        .iter()
        .map(|c| c.get_ref().local_addr().unwrap().to_string())
        .collect();
    std::thread::sleep(Duration::from_millis(100));

    alice.get_mut().write_all(b"hi all\n").unwrap();
    assert_eq!(read_line(&mut bob), format!("{}: hi all\n", addrs[0]));
    assert_eq!(read_line(&mut carol), format!("{}: hi all\n", addrs[0]));

    bob.get_mut().write_all(b"one\ntwo\n").unwrap();
    assert_eq!(read_line(&mut alice), format!("{}: one\n", addrs[1]));
    assert_eq!(read_line(&mut alice), format!("{}: two\n", addrs[1]));
    assert_eq!(read_line(&mut carol), format!("{}: one\n", addrs[1]));
    assert_eq!(read_line(&mut carol), format!("{}: two\n", addrs[1]));

    // The sender does not hear itself: after carol speaks, bob's next line
    // is carol's, not its own.
    drop(alice);
    carol.get_mut().write_all(b"bye\n").unwrap();
    assert_eq!(read_line(&mut bob), format!("{}: bye\n", addrs[2]));
    bob.get_mut()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut extra = String::new();
    assert!(
        bob.read_line(&mut extra).is_err() || extra.is_empty(),
        "unexpected {extra:?}"
    );
}
