//! Splits a stream of output chunks into lines, keeping a partial line until its end arrives.

/// The unfinished line of one output stream.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// The complete lines in `chunk` (with what was left before), without their newlines.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.partial.extend_from_slice(chunk);
        let Some(last_newline) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(last_newline + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        complete[..complete.len() - 1]
            .split(|b| *b == b'\n')
            .map(|line| {
                String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned()
            })
            .collect()
    }

    /// The last line when the output ended without a newline.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.partial);
        (!rest.is_empty()).then(|| String::from_utf8_lossy(&rest).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_come_out_whole() {
        let mut splitter = LineSplitter::default();
        assert_eq!(splitter.push(b"one\ntw"), ["one"]);
        assert!(splitter.push(b"o").is_empty());
        assert_eq!(splitter.push(b"\nthree\r\n\nfour"), ["two", "three", ""]);
        assert_eq!(splitter.finish().as_deref(), Some("four"));
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut splitter = LineSplitter::default();
        assert_eq!(splitter.push(b"a\xffb\n"), ["a\u{fffd}b"]);
    }
}
