//! A webhook receiver on 127.0.0.1 for the alert tests: it answers each POST with the next of
//! its scripted status codes (the last one for ever after) and hands every request it got —
//! answered code, headers and body — to the test.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The status it was answered with.
    pub answered: u16,
    /// Its headers, names in lower case.
    pub headers: HashMap<String, String>,
    /// Its body.
    pub body: Vec<u8>,
}

/// The receiver: where it listens and what it got.
pub struct Webhook {
    /// Where it listens.
    pub address: SocketAddr,
    got: Receiver<Received>,
}

impl Webhook {
    /// Starts a receiver answering `codes` in turn.
    pub fn start(codes: Vec<u16>) -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (sender, got) = channel();
        std::thread::spawn(move || {
            let mut codes = codes.into_iter();
            let mut last = 200;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some((headers, body)) = read_request(&mut stream) else {
                    continue;
                };
                let answered = match codes.next() {
                    Some(code) => {
                        last = code;
                        code
                    }
                    None => last,
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {answered} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let received = Received {
                    answered,
                    headers,
                    body,
                };
                if sender.send(received).is_err() {
                    return;
                }
            }
        });
        Webhook { address, got }
    }

    /// The next request, waiting at most `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<Received> {
        self.got.recv_timeout(timeout).ok()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<(HashMap<String, String>, Vec<u8>)> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}
