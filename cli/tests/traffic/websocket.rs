//! A WebSocket server for the example image (a script for [`super::servers::script_spec`]),
//! and the client side of RFC 6455 the test needs: the opening handshake and text and close
//! frames.

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::http;

/// The handshake key of RFC 6455 section 1.3; the server must answer it with [`ACCEPT`].
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The `Sec-WebSocket-Accept` that RFC 6455 section 1.3 computes for [`KEY`].
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The masking key of the client's frames.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// How long any read or write on the socket may take.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The server, one connection at a time: it reads the request head; a WebSocket handshake gets
/// `101` with the accept value computed from the key (SHA-1, then base64) and then has each
/// frame it sends echoed, unmasked, until a close frame; any other request (the health check)
/// gets `200 ok`. Frames are read a byte at a time with `dd`, and are at most 125 bytes long.
pub const SERVER_SCRIPT: &str = r#"cr=$(printf '\r')
key=
while IFS= read -r line; do
    line=${line%"$cr"}
    [ -z "$line" ] && break
    case $line in
        [Ss]ec-[Ww]eb[Ss]ocket-[Kk]ey:*) key=${line#*:}; key=${key# } ;;
    esac
done
if [ -z "$key" ]; then
    printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n'
    exit 0
fi
accept=$(printf '%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11' "$key" | sha1sum | cut -c1-40 | xxd -r -p | base64)
printf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n' "$accept"
byte() { dd bs=1 count=1 2>/dev/null | od -An -tu1 | tr -d ' \n'; }
while :; do
    first=$(byte)
    [ -n "$first" ] || exit 0
    len=$(( $(byte) & 127 ))
    m0=$(byte); m1=$(byte); m2=$(byte); m3=$(byte)
    out=$(printf '\\%03o\\%03o' "$first" "$len")
    i=0
    while [ "$i" -lt "$len" ]; do
        eval "mask=\$m$((i % 4))"
        out="$out$(printf '\\%03o' $(( $(byte) ^ mask )))"
        i=$((i + 1))
    done
    printf "$out"
    [ $((first & 15)) -eq 8 ] && exit 0
done
"#;

/// A frame's first byte: FIN and a text payload.
pub const TEXT: u8 = 0x81;
/// A frame's first byte: FIN and close.
pub const CLOSE: u8 = 0x88;

/// A client's WebSocket after the opening handshake.
pub struct Socket {
    reader: BufReader<TcpStream>,
}

/// The answer to an opening handshake: status, headers (lowercase names), and the socket.
pub struct Handshake {
    /// The status code.
    pub status: u16,
    /// The headers, by lowercase name.
    pub headers: std::collections::BTreeMap<String, String>,
    /// The connection, to exchange frames on after a `101`.
    pub socket: Socket,
}

/// Sends the opening handshake for `path` of the App at `host` to the ingress, with [`KEY`].
pub fn connect(ingress: SocketAddr, host: &str, path: &str) -> std::io::Result<Handshake> {
    let stream = TcpStream::connect_timeout(&ingress, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(stream);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    reader.get_mut().write_all(request.as_bytes())?;
    let (status, headers) = http::read_head(&mut reader)?;
    Ok(Handshake {
        status,
        headers,
        socket: Socket { reader },
    })
}

impl Socket {
    /// Sends one masked frame (`first` is FIN plus the opcode) of at most 125 bytes.
    pub fn send(&mut self, first: u8, payload: &[u8]) -> std::io::Result<()> {
        assert!(payload.len() <= 125, "only short frames");
        let mut frame = vec![first, 0x80 | payload.len() as u8];
        frame.extend(MASK);
        frame.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
        self.reader.get_mut().write_all(&frame)
    }

    /// Reads one unmasked frame of at most 125 bytes: its first byte and its payload.
    pub fn receive(&mut self) -> std::io::Result<(u8, Vec<u8>)> {
        let mut head = [0; 2];
        self.reader.read_exact(&mut head)?;
        assert_eq!(head[1] & 0x80, 0, "a server's frames are not masked");
        assert!(head[1] < 126, "only short frames");
        let mut payload = vec![0; usize::from(head[1] & 0x7f)];
        self.reader.read_exact(&mut payload)?;
        Ok((head[0], payload))
    }
}
