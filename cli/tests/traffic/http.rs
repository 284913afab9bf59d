//! A plain HTTP/1.1 client over TCP, as any user's client reaches the ingress (its address, and
//! the App's host name in `Host`), and a load of such clients running side by side that tallies
//! every answer and every failure.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long connecting to the ingress, or waiting for its answer, may take: generous, as
/// failing late is better than failing a slow machine.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests a load client sends over one connection before it opens a new one, so the load
/// mixes new connections with kept-alive ones.
const REQUESTS_PER_CONNECTION: u64 = 50;
/// Least time between the starts of one load client's requests: the load is steady but leaves
/// the machine's cores to the platform under test.
const PACE: Duration = Duration::from_millis(8);
/// Failures kept with their description; the rest are only counted.
const KEPT_FAILURES: usize = 20;

/// One answer: status code, body, and whether the server closes the connection after it.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: String,
    close: bool,
}

/// A connection to the ingress, reused for request after request.
pub struct Connection {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Connection {
    /// Connects to `ingress`, to talk to the App served at `host`.
    pub fn open(ingress: SocketAddr, host: &str) -> std::io::Result<Connection> {
        let stream = TcpStream::connect_timeout(&ingress, IO_TIMEOUT)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::new(stream),
            host: host.to_owned(),
        })
    }

    /// Sends `GET path` and reads the whole answer.
    pub fn get(&mut self, path: &str) -> std::io::Result<Answer> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.reader.get_mut().write_all(request.as_bytes())?;
        read_answer(&mut self.reader)
    }
}

/// One `GET path` on a connection of its own.
pub fn get(ingress: SocketAddr, host: &str, path: &str) -> std::io::Result<Answer> {
    Connection::open(ingress, host)?.get(path)
}

/// Reads a status line and headers; returns the status and the headers with lowercase names.
pub fn read_head(reader: &mut impl BufRead) -> std::io::Result<(u16, BTreeMap<String, String>)> {
    let status_line = read_line(reader)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(format!("not a status line: {status_line:?}")))?;
    let mut headers = BTreeMap::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            return Ok((status, headers));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("not a header: {line:?}")))?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
}

fn read_answer(reader: &mut impl BufRead) -> std::io::Result<Answer> {
    let (status, headers) = read_head(reader)?;
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|coding| coding.eq_ignore_ascii_case("chunked"))
    {
        read_chunked(reader)?
    } else {
        let length: usize = headers
            .get("content-length")
            .ok_or_else(|| invalid(format!("{status} with no length: {headers:?}")))?
            .parse()
            .map_err(|_| invalid(format!("bad content-length in {headers:?}")))?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    let close = headers
        .get("connection")
        .is_some_and(|value| value.eq_ignore_ascii_case("close"));
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        close,
    })
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(reader)?;
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_line(reader)?;
    }
}

/// One CRLF-terminated line without its terminator; an error at end of stream.
fn read_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the connection closed mid-answer",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// What a load has seen so far.
#[derive(Debug, Default)]
struct Seen {
    /// Bodies of 200 answers, trimmed, with how many times each came.
    bodies: BTreeMap<String, u64>,
    /// The first failures, described.
    failures: Vec<String>,
}

/// Counters shared by the clients of a load.
#[derive(Debug)]
struct Shared {
    started: Instant,
    stop: AtomicBool,
    requests: AtomicU64,
    failures: AtomicU64,
    seen: Mutex<Seen>,
}

/// Clients sending `GET /` to one App through the ingress, each on its own thread, one request
/// after another (at most one per [`PACE`]), until the load is stopped. A failure is any answer but a 200 whose body
/// `accept` takes, and any connection error.
pub struct Load {
    shared: Arc<Shared>,
    clients: Vec<JoinHandle<()>>,
}

/// A load's tally once it stopped.
#[derive(Debug)]
pub struct Tally {
    /// Requests sent.
    pub requests: u64,
    /// Requests that failed.
    pub failures: u64,
    /// The first failures, described.
    pub failure_samples: Vec<String>,
    /// Bodies of the answers, with how many times each came.
    pub bodies: BTreeMap<String, u64>,
}

impl Load {
    /// Starts `clients` clients of the App at `host`.
    pub fn start(
        ingress: SocketAddr,
        host: &str,
        clients: usize,
        accept: fn(&str) -> bool,
    ) -> Load {
        let shared = Arc::new(Shared {
            started: Instant::now(),
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            seen: Mutex::new(Seen::default()),
        });
        let clients = (0..clients)
            .map(|_| {
                let (shared, host) = (shared.clone(), host.to_owned());
                std::thread::spawn(move || client(ingress, &host, &shared, accept))
            })
            .collect();
        Load { shared, clients }
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests that failed so far.
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::SeqCst)
    }

    /// Stops every client and returns the tally.
    pub fn stop(mut self) -> Tally {
        self.shared.stop.store(true, Ordering::SeqCst);
        for client in self.clients.drain(..) {
            client.join().expect("a load client panicked");
        }
        let seen = std::mem::take(&mut *self.shared.seen.lock().unwrap());
        Tally {
            requests: self.requests(),
            failures: self.failures(),
            failure_samples: seen.failures,
            bodies: seen.bodies,
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

/// One client's loop: a request at a time, a new connection every
/// [`REQUESTS_PER_CONNECTION`] requests, after a failure, or when the ingress closes it.
fn client(ingress: SocketAddr, host: &str, shared: &Shared, accept: fn(&str) -> bool) {
    let mut connection: Option<(Connection, u64)> = None;
    let mut next = Instant::now();
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next = Instant::now() + PACE;
        shared.requests.fetch_add(1, Ordering::SeqCst);
        let answer = match connection.take() {
            Some((open, used)) => Ok((open, used)),
            None => Connection::open(ingress, host).map(|open| (open, 0)),
        }
        .and_then(|(mut open, used)| {
            let answer = open.get("/")?;
            Ok((open, used + 1, answer))
        });
        let outcome = match answer {
            Ok((open, used, answer)) => {
                if !answer.close && used < REQUESTS_PER_CONNECTION {
                    connection = Some((open, used));
                }
                let body = answer.body.trim();
                if answer.status == 200 && accept(body) {
                    Ok(body.to_owned())
                } else {
                    Err(format!("HTTP {}: {body}", answer.status))
                }
            }
            Err(error) => Err(format!("connection error: {error}")),
        };
        let mut seen = shared.seen.lock().unwrap();
        match outcome {
            Ok(body) => *seen.bodies.entry(body).or_default() += 1,
            Err(failure) => {
                shared.failures.fetch_add(1, Ordering::SeqCst);
                if seen.failures.len() < KEPT_FAILURES {
                    let at = shared.started.elapsed();
                    seen.failures
                        .push(format!("{failure} ({at:.1?} into the load)"));
                }
                connection = None;
            }
        }
    }
}
