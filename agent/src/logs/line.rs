//! Turns a container's logged messages into whole lines: pieces of a long line joined, an
//! overlong line cut with a marker, invalid UTF-8 replaced. Also tracks how far into the
//! container's log the lines reach (the [`Cursor`]), so collection resumes exactly there.

use crate::runtime::{LogChunk, LogStream};

/// Lines longer than this are cut, keeping their start and a marker with their full length.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// How far a container's log has been taken: the time of the last message taken and how many
/// messages logged at exactly that time were taken (the engine's clock has nanoseconds, so
/// that count is almost always 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The last message's time, in nanoseconds since the Unix epoch.
    pub time_unix_nanos: i64,
    /// Messages with exactly that time already taken.
    pub taken_at_time: u32,
}

impl Cursor {
    /// The cursor after taking a message logged at `time_unix_nanos`.
    fn after(self, time_unix_nanos: i64) -> Cursor {
        if time_unix_nanos == self.time_unix_nanos {
            Cursor {
                taken_at_time: self.taken_at_time + 1,
                ..self
            }
        } else {
            Cursor {
                time_unix_nanos,
                taken_at_time: 1,
            }
        }
    }

    /// The whole second to ask the engine for output from (it takes seconds only).
    pub fn since_seconds(self) -> i64 {
        self.time_unix_nanos.div_euclid(1_000_000_000)
    }
}

/// One whole line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Where it was written.
    pub stream: LogStream,
    /// When its first piece was logged, in nanoseconds since the Unix epoch.
    pub time_unix_nanos: i64,
    /// The text, without its newline.
    pub text: String,
}

/// The unfinished line of one stream.
#[derive(Default)]
struct Partial {
    bytes: Vec<u8>,
    /// Its length in all, kept beyond [`MAX_LINE_BYTES`].
    length: usize,
    time_unix_nanos: i64,
}

impl Partial {
    fn push(&mut self, time_unix_nanos: i64, data: &[u8]) {
        if self.length == 0 {
            self.time_unix_nanos = time_unix_nanos;
        }
        self.length += data.len();
        let room = MAX_LINE_BYTES.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
    }

    fn take(&mut self, stream: LogStream) -> Line {
        let partial = std::mem::take(self);
        let mut text = String::from_utf8_lossy(&partial.bytes).into_owned();
        if partial.length > partial.bytes.len() {
            text.push_str(&format!(" [line cut: {} bytes in all]", partial.length));
        }
        Line {
            stream,
            time_unix_nanos: partial.time_unix_nanos,
            text,
        }
    }
}

/// Assembles one container's messages into lines, skipping the messages a previous
/// collection already took.
pub struct Assembler {
    cursor: Cursor,
    /// Messages still to skip: those up to the cursor collection resumes from.
    resume_from: Option<Cursor>,
    stdout: Partial,
    stderr: Partial,
}

impl Assembler {
    /// An assembler resuming after `cursor` (from the start when `None`).
    pub fn resuming(cursor: Option<Cursor>) -> Assembler {
        Assembler {
            cursor: cursor.unwrap_or_default(),
            resume_from: cursor,
            stdout: Partial::default(),
            stderr: Partial::default(),
        }
    }

    /// How far the messages taken so far reach.
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// Takes one message; the lines it completes.
    pub fn push(&mut self, chunk: &LogChunk) -> Vec<Line> {
        if self.already_taken(chunk.time_unix_nanos) {
            return Vec::new();
        }
        self.cursor = self.cursor.after(chunk.time_unix_nanos);
        let stream = chunk.stream;
        let partial = match stream {
            LogStream::Stdout => &mut self.stdout,
            LogStream::Stderr => &mut self.stderr,
        };
        let mut lines = Vec::new();
        let mut rest = chunk.data.as_slice();
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
            let piece = &rest[..newline];
            partial.push(
                chunk.time_unix_nanos,
                piece.strip_suffix(b"\r").unwrap_or(piece),
            );
            lines.push(partial.take(stream));
            rest = &rest[newline + 1..];
        }
        if !rest.is_empty() {
            partial.push(chunk.time_unix_nanos, rest);
        }
        lines
    }

    /// The unfinished lines, when the output ended without a newline.
    pub fn finish(&mut self) -> Vec<Line> {
        let mut lines = Vec::new();
        for (stream, partial) in [
            (LogStream::Stdout, &mut self.stdout),
            (LogStream::Stderr, &mut self.stderr),
        ] {
            if partial.length > 0 {
                lines.push(partial.take(stream));
            }
        }
        lines.sort_by_key(|line| line.time_unix_nanos);
        lines
    }

    /// Whether a message logged at `time` was taken by the collection being resumed: every
    /// message before the cursor's time, and the first `taken_at_time` at that time.
    fn already_taken(&mut self, time: i64) -> bool {
        let Some(resume) = &mut self.resume_from else {
            return false;
        };
        if time < resume.time_unix_nanos {
            return true;
        }
        if time == resume.time_unix_nanos && resume.taken_at_time > 0 {
            resume.taken_at_time -= 1;
            return true;
        }
        self.resume_from = None;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(stream: LogStream, time: i64, data: &[u8]) -> LogChunk {
        LogChunk {
            stream,
            time_unix_nanos: time,
            data: data.to_vec(),
        }
    }

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|line| line.text.as_str()).collect()
    }

    #[test]
    fn pieces_of_a_line_are_joined_and_streams_kept_apart() {
        let mut assembler = Assembler::resuming(None);
        assert!(
            assembler
                .push(&chunk(LogStream::Stdout, 1, b"one "))
                .is_empty()
        );
        let err = assembler.push(&chunk(LogStream::Stderr, 2, b"oops\r\n"));
        assert_eq!(texts(&err), ["oops"]);
        assert_eq!(err[0].stream, LogStream::Stderr);
        let out = assembler.push(&chunk(LogStream::Stdout, 3, b"line\ntwo\n\nrest"));
        assert_eq!(texts(&out), ["one line", "two", ""]);
        assert_eq!(
            out[0].time_unix_nanos, 1,
            "a line is dated by its first piece"
        );
        assert_eq!(texts(&assembler.finish()), ["rest"]);
        assert!(assembler.finish().is_empty());
    }

    #[test]
    fn an_overlong_line_is_cut_with_its_full_length() {
        let mut assembler = Assembler::resuming(None);
        let piece = vec![b'x'; MAX_LINE_BYTES];
        for time in 0..640 {
            assert!(
                assembler
                    .push(&chunk(LogStream::Stdout, time, &piece))
                    .is_empty()
            );
        }
        let lines = assembler.push(&chunk(LogStream::Stdout, 640, b"\nnext\n"));
        assert_eq!(lines.len(), 2);
        let total = 640 * MAX_LINE_BYTES;
        assert!(lines[0].text.starts_with(&"x".repeat(MAX_LINE_BYTES)));
        assert!(
            lines[0]
                .text
                .ends_with(&format!(" [line cut: {total} bytes in all]")),
            "{}",
            &lines[0].text[MAX_LINE_BYTES..]
        );
        assert_eq!(lines[1].text, "next");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut assembler = Assembler::resuming(None);
        let lines = assembler.push(&chunk(LogStream::Stdout, 1, b"a\xff\xfeb\n\x00\x01\n"));
        assert_eq!(texts(&lines), ["a\u{fffd}\u{fffd}b", "\u{0}\u{1}"]);
    }

    #[test]
    fn resuming_skips_exactly_what_was_taken() {
        let messages = [
            chunk(LogStream::Stdout, 10, b"a\n"),
            chunk(LogStream::Stdout, 20, b"b\n"),
            chunk(LogStream::Stderr, 20, b"c\n"),
            chunk(LogStream::Stdout, 20, b"d\n"),
            chunk(LogStream::Stdout, 30, b"e\n"),
        ];
        let mut first = Assembler::resuming(None);
        let taken: Vec<Line> = messages[..3].iter().flat_map(|m| first.push(m)).collect();
        assert_eq!(texts(&taken), ["a", "b", "c"]);
        let cursor = first.cursor();
        assert_eq!(
            cursor,
            Cursor {
                time_unix_nanos: 20,
                taken_at_time: 2
            }
        );
        let mut resumed = Assembler::resuming(Some(cursor));
        let rest: Vec<Line> = messages.iter().flat_map(|m| resumed.push(m)).collect();
        assert_eq!(texts(&rest), ["d", "e"]);
    }

    #[test]
    fn since_rounds_down_to_the_second() {
        let cursor = Cursor {
            time_unix_nanos: 5_999_999_999,
            taken_at_time: 1,
        };
        assert_eq!(cursor.since_seconds(), 5);
    }
}
