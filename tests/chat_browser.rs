//! `www/chat.html` in a real browser: headless Chromium opens the page in
//! two tabs, a name and a message are typed into one (key events through
//! the DevTools protocol, as a person's typing arrives), and the message
//! must appear in the other.
//!
//! The page is served by asynchat-httpd (in this process) and talks to
//! the `websocket_chat` example (a child process). Chromium is driven
//! over its DevTools WebSocket with the hand-written client of
//! `common/ws.rs`: each step is one `Runtime.evaluate` or `Input` command,
//! and every wait is a promise in the page bounded by [`STEP`]; the whole
//! browser (its process group) is killed after [`CHROMIUM_PATIENCE`].
//! Without Chromium (`/usr/bin/chromium` or `chromium` on `PATH`) the test
//! prints `SKIPPED: chromium not installed` and passes.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::ws::WsClient;
use common::{PATIENCE, TempDir, TestServer};

/// How long the whole browser may live.
const CHROMIUM_PATIENCE: Duration = Duration::from_secs(60);
/// How long the page may take for one step (a connection, a message).
const STEP: Duration = Duration::from_secs(10);

fn chromium() -> Option<PathBuf> {
    let usual = PathBuf::from("/usr/bin/chromium");
    if usual.is_file() {
        return Some(usual);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
}

/// A child process in its own group, killed with the whole group when
/// dropped.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        use rustix::process::{Pid, Signal, kill_process_group};
        let _ = kill_process_group(Pid::from_child(&self.0), Signal::KILL);
        let _ = self.0.wait();
    }
}

/// The chat example on 127.0.0.1:0; returns it and its address.
fn start_chat() -> (Group, SocketAddr) {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    path.pop();
    path.push("examples");
    path.push("websocket_chat");
    let mut child = Command::new(&path)
        .arg("127.0.0.1:0")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.rsplit(' ').next().unwrap().trim().parse().unwrap();
    (Group(child), addr)
}

/// `s` as a JSON string.
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One tab, driven over its DevTools WebSocket.
struct Tab {
    ws: WsClient,
    next_id: u64,
}

impl Tab {
    /// Sends a command and returns its response (the JSON text), which
    /// may be an error.
    fn try_call(&mut self, method: &str, params: &str) -> String {
        self.next_id += 1;
        let id = self.next_id;
        self.ws.send_text(&format!(
            "{{\"id\":{id},\"method\":\"{method}\",\"params\":{params}}}"
        ));
        let mine = format!("{{\"id\":{id},");
        loop {
            let reply = self.ws.recv_text();
            if reply.starts_with(&mine) {
                return reply;
            }
        }
    }

    /// Sends a command that must succeed, and returns its response.
    fn call(&mut self, method: &str, params: &str) -> String {
        let reply = self.try_call(method, params);
        assert!(!reply.contains("\"error\":"), "{method}: {reply}");
        reply
    }

    /// Waits until the tab has navigated to the chat page and loaded it:
    /// a tab opens on `about:blank`, whose context the navigation destroys
    /// under any command sent too early.
    fn wait_loaded(&mut self) {
        let deadline = Instant::now() + STEP;
        let params = "{\"expression\":\"document.readyState + ' ' + location.pathname\",\"returnByValue\":true}";
        loop {
            let reply = self.try_call("Runtime.evaluate", params);
            if reply.contains("complete /chat.html") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the chat page never loaded: {reply}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Evaluates `expr` (which may be a promise) in the page and returns
    /// the response, which holds its value.
    fn eval(&mut self, expr: &str) -> String {
        let params = format!(
            "{{\"expression\":{},\"awaitPromise\":true,\"returnByValue\":true}}",
            json_string(expr)
        );
        self.call("Runtime.evaluate", &params)
    }

    /// Waits (in the page, at most [`STEP`]) until the chat log holds
    /// `line`; returns the log.
    fn wait_for_line(&mut self, line: &str) -> String {
        let expr = format!(
            "new Promise((done) => {{
               const end = Date.now() + {ms};
               const look = () => {{
                 const log = document.getElementById('log');
                 const text = log ? log.innerText : '';
                 if (text.split('\\n').includes({line})) done('FOUND\\n' + text);
                 else if (Date.now() > end) done('TIMEOUT\\n' + text + '\\nstatus: ' +
                   (document.getElementById('status') || {{}}).textContent);
                 else setTimeout(look, 50);
               }};
               look();
             }})",
            ms = STEP.as_millis(),
            line = json_string(line)
        );
        let reply = self.eval(&expr);
        assert!(reply.contains("FOUND"), "{line:?} never appeared: {reply}");
        reply
    }

    /// Types `text` into the input with this id and presses Enter.
    fn type_into(&mut self, id: &str, text: &str) {
        let expr = format!(
            "new Promise((done) => {{
               const end = Date.now() + {ms};
               const look = () => {{
                 const input = document.getElementById({id});
                 if (input && !input.closest('form').hidden) {{ input.focus(); done('FOCUSED'); }}
                 else if (Date.now() > end) done('TIMEOUT ' + document.readyState);
                 else setTimeout(look, 50);
               }};
               look();
             }})",
            ms = STEP.as_millis(),
            id = json_string(id)
        );
        let reply = self.eval(&expr);
        assert!(reply.contains("FOCUSED"), "#{id}: {reply}");
        self.call(
            "Input.insertText",
            &format!("{{\"text\":{}}}", json_string(text)),
        );
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                &format!(
                    "{{\"type\":\"{kind}\",\"key\":\"Enter\",\"code\":\"Enter\",\
                     \"windowsVirtualKeyCode\":13,\"text\":\"\\r\"}}"
                ),
            );
        }
    }
}

/// A plain HTTP request to the DevTools endpoint; returns the body.
fn devtools_http(port: u16, request_line: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        s,
        "{request_line} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // It keeps the connection open whatever the request says: read the
    // body by its Content-Length.
    let head = common::ws::read_head(&mut s).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Content-Length in\n{head}"));
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

/// Opens a tab on `url` and connects to it.
fn open_tab(port: u16, url: &str) -> Tab {
    let body = devtools_http(port, &format!("PUT /json/new?{url}"));
    let key = "\"webSocketDebuggerUrl\": \"ws://";
    let at = body.find(key).unwrap_or_else(|| panic!("no tab: {body}")) + key.len();
    let rest = &body[at..];
    let target = &rest[..rest.find('"').unwrap()];
    let (addr, path) = target.split_at(target.find('/').unwrap());
    let ws = WsClient::connect(addr.parse().unwrap(), path);
    let mut tab = Tab { ws, next_id: 0 };
    tab.wait_loaded();
    tab
}

#[test]
fn a_message_typed_in_one_tab_appears_in_the_other() {
    let Some(chromium) = chromium() else {
        eprintln!("SKIPPED: chromium not installed");
        return;
    };
    let www = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www");
    let site = TestServer::serve(&www);
    let (_chat, chat_addr) = start_chat();
    let tmp = TempDir::new("chat-browser");
    let err_path = tmp.path().join("chromium.stderr");
    let browser = Group(
        Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // Both tabs run at full speed although neither is in front.
                "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!(
                "--user-data-dir={}",
                tmp.path().join("profile").display()
            ))
            .arg("about:blank")
            .env("HOME", tmp.path())
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .env("XDG_CACHE_HOME", tmp.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&err_path).unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display())),
    );
    // The whole test, browser included, is bounded: a watchdog kills the
    // browser's group if it is still alive after its patience.
    let pgid = browser.0.id();
    std::thread::spawn(move || {
        std::thread::sleep(CHROMIUM_PATIENCE);
        if let Some(pid) = rustix::process::Pid::from_raw(pgid as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    });
    let active = tmp.path().join("profile/DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    let port: u16 = loop {
        if let Some(port) = std::fs::read_to_string(&active)
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.parse().ok()))
        {
            break port;
        }
        if Instant::now() > deadline {
            let err = std::fs::read_to_string(&err_path).unwrap_or_default();
            panic!("chromium never opened its DevTools port; stderr:\n{err}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };

    let page = format!("http://{}/chat.html?port={}", site.addr, chat_addr.port());
    let mut a = open_tab(port, &page);
    let mut b = open_tab(port, &page);
    a.type_into("name", "alice");
    a.wait_for_line("* welcome, alice: you are the first here");
    b.type_into("name", "bob");
    b.wait_for_line("* welcome, bob: here are alice");
    a.wait_for_line("* bob joined");

    a.type_into("text", "hello from the first tab ☃");
    let log = b.wait_for_line("alice: hello from the first tab ☃");
    // The sender shows its own line, and hears nothing back.
    a.wait_for_line("alice: hello from the first tab ☃");
    b.type_into("text", "and back");
    a.wait_for_line("bob: and back");
    assert!(!log.contains("TIMEOUT"), "{log}");
    drop(browser);
}
