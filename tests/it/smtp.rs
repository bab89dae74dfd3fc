//! An in-process SMTP server (mailin-embedded) that keeps what it receives,
//! so tests can check the mail lettre's SMTP transport really sent.

use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::{Handler, Response, Server, response};

/// Messages received, as raw RFC 5322 text.
pub type Inbox = Arc<Mutex<Vec<String>>>;

#[derive(Clone, Default)]
struct Sink {
    inbox: Inbox,
    current: Arc<Mutex<Vec<u8>>>,
}

impl Handler for Sink {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.current.lock().expect("lock").clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.lock().expect("lock").extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let message = String::from_utf8_lossy(&self.current.lock().expect("lock")).into_owned();
        self.inbox.lock().expect("lock").push(message);
        response::OK
    }
}

/// A free loopback port (nothing listens on it yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts an SMTP server on `port` in a background thread; returns its inbox.
pub fn start_smtp_server(port: u16) -> Inbox {
    let sink = Sink::default();
    let inbox = sink.inbox.clone();
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind SMTP port");
    let mut server = Server::new(sink);
    server
        .with_name("smtp.test")
        .with_tcp_listener(listener)
        .with_num_threads(2);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    inbox
}

/// Waits (up to 15 s) for `n` messages.
pub async fn wait_for_messages(inbox: &Inbox, n: usize) -> Vec<String> {
    for _ in 0..150 {
        let messages = inbox.lock().expect("lock").clone();
        if messages.len() >= n {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "expected {n} message(s), got {}",
        inbox.lock().expect("lock").len()
    );
}

/// Decodes a quoted-printable body enough to read links and text from it.
pub fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::with_capacity(joined.len());
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
