//! Running `mini` as a user would: a server child process, one-shot commands with a deadline,
//! a watcher whose output lines arrive on a channel, and a private etcd. Every child process is
//! killed when its guard drops, also when a test fails half-way.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// How long any one step may take before the test fails.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The `mini` binary under test.
pub fn mini() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mini"))
}

/// A child process that is killed and reaped on drop.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Waits for the process to exit, up to `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().expect("poll the child") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Sends SIGTERM, as a service manager stopping the process would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines a child prints on stdout, read by a thread so the child never blocks on a full pipe.
fn lines_of(child: &mut Child) -> Receiver<String> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// A running `mini server` and the private directories the clients use.
pub struct Server {
    /// The URL it printed.
    pub url: String,
    /// The admin key it printed.
    pub key: String,
    /// The server process.
    pub process: ChildGuard,
    /// `XDG_CONFIG_HOME` of the clients, so no real config file interferes.
    pub config_home: tempfile::TempDir,
    lines: Receiver<String>,
}

impl Server {
    /// Starts `mini server --listen 127.0.0.1:0` with `args` and reads the address it prints.
    pub fn start(args: &[&str]) -> Server {
        let child = mini()
            .args(["server", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mini server");
        let mut process = ChildGuard(child);
        let lines = lines_of(&mut process.0);
        let mut first = lines
            .recv_timeout(STEP_TIMEOUT)
            .expect("mini server printed its admin key or address");
        let mut key = None;
        if first.starts_with("minicloud admin key") {
            let (_, printed) = first.rsplit_once(": ").expect("the key after a colon");
            key = Some(printed.to_owned());
            first = lines
                .recv_timeout(STEP_TIMEOUT)
                .expect("mini server printed its address");
        }
        let url = first
            .strip_prefix("minicloud API listening on ")
            .unwrap_or_else(|| panic!("unexpected line {first:?}"))
            .to_owned();
        let key = key.or_else(|| kept_admin_key(args));
        Server {
            url,
            key: key.expect("a fresh data directory gets an admin key"),
            process,
            config_home: tempfile::tempdir().expect("config directory"),
            lines,
        }
    }

    /// The next line the server prints after its address (the ingress's address, when it runs
    /// one).
    #[allow(dead_code)] // The e2e tests run no ingress; the traffic tests read its address.
    pub fn next_line(&self) -> String {
        self.lines
            .recv_timeout(STEP_TIMEOUT)
            .expect("mini server printed another line in time")
    }

    /// A client command against this server.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = mini();
        command
            .args(args)
            .env("MINI_SERVER", &self.url)
            .env("MINI_KEY", &self.key)
            .env("XDG_CONFIG_HOME", self.config_home.path())
            .env("NO_COLOR", "1");
        command
    }

    /// Runs a client command to completion.
    pub fn run(&self, args: &[&str]) -> Outcome {
        run(self.command(args))
    }

    /// Starts a long-running client command (a watch) whose stdout lines can be read.
    pub fn watch(&self, args: &[&str]) -> Watcher {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the watcher");
        let mut process = ChildGuard(child);
        let lines = lines_of(&mut process.0);
        Watcher {
            _process: process,
            lines,
        }
    }
}

/// The admin key a restarted server keeps in its `--data-dir` (it prints one only when it
/// makes it).
fn kept_admin_key(args: &[&str]) -> Option<String> {
    let dir = args
        .iter()
        .position(|a| *a == "--data-dir")
        .map(|i| args[i + 1])?;
    let key = std::fs::read_to_string(Path::new(dir).join("admin.key")).ok()?;
    Some(key.trim().to_owned())
}

/// A `mini get -w` child.
pub struct Watcher {
    _process: ChildGuard,
    lines: Receiver<String>,
}

impl Watcher {
    /// The next line it prints.
    pub fn next_line(&self) -> String {
        self.lines
            .recv_timeout(STEP_TIMEOUT)
            .expect("the watcher printed a line in time")
    }

    /// The next line as JSON.
    pub fn next_event(&self) -> serde_json::Value {
        let line = self.next_line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
    }
}

/// What a finished command printed and how it exited.
pub struct Outcome {
    /// Its exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Outcome {
    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert!(
            self.status.success(),
            "failed ({}): {}",
            self.status,
            self.stderr
        );
        self.stdout
    }
}

/// Runs `command`, failing the test if it takes longer than [`STEP_TIMEOUT`].
pub fn run(mut command: Command) -> Outcome {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mini");
    let mut guard = ChildGuard(child);
    let stdout = read_all(guard.0.stdout.take());
    let stderr = read_all(guard.0.stderr.take());
    let status = guard
        .wait_timeout(STEP_TIMEOUT)
        .unwrap_or_else(|| panic!("{command:?} did not finish in {STEP_TIMEOUT:?}"));
    Outcome {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn read_all(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    let mut pipe = pipe.expect("the pipe is there");
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write_file(dir: &Path, name: &str, text: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).expect("write a test file");
    path.display().to_string()
}

/// The example manifest every scenario applies.
pub fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// A private etcd member on free loopback ports, killed on drop.
pub struct Etcd {
    /// The client URL.
    pub endpoint: String,
    _process: ChildGuard,
    _data_dir: tempfile::TempDir,
}

impl Etcd {
    /// Starts etcd and waits until it reports itself healthy.
    pub fn start() -> Etcd {
        let data_dir = tempfile::tempdir().expect("etcd data directory");
        let (client_port, peer_port) = (free_port(), free_port());
        let client = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let child = Command::new("etcd")
            .args(["--name", "cli-e2e", "--data-dir"])
            .arg(data_dir.path())
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("cli-e2e={peer}")])
            .args(["--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start etcd ({e}): install etcd-server so `etcd` is on PATH")
            });
        let etcd = Etcd {
            endpoint: client,
            _process: ChildGuard(child),
            _data_dir: data_dir,
        };
        etcd.wait_healthy(client_port);
        etcd
    }

    fn wait_healthy(&self, port: u16) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while !healthy(port) {
            assert!(
                Instant::now() < deadline,
                "etcd at {} did not become healthy",
                self.endpoint
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether etcd's `/health` endpoint answers `"health":"true"`.
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut answer = String::new();
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.contains("\"health\":\"true\"")
}
