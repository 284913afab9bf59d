//! The byte encoding shared by the log and the snapshot: little-endian integers,
//! length-prefixed byte strings, and CRC32-checked frames.
//!
//! A frame is `len: u32 | crc: u32 | payload[len]`, where `crc` covers the length bytes and the
//! payload, so a torn or flipped length is caught as surely as a damaged payload.

use crate::store::{KeyValue, Revision};

/// Bytes in a frame header: the length and the checksum.
pub(super) const FRAME_HEADER: usize = 8;

/// Why a byte string could not be decoded.
pub(super) type Malformed = String;

/// Wraps `payload` in a frame.
pub(super) fn frame(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("a record larger than 4 GiB");
    let len = len.to_le_bytes();
    let mut out = Vec::with_capacity(FRAME_HEADER + payload.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&checksum(&len, payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of the intact frame starting at `offset` and the offset just past it, or `None`
/// when the bytes there are incomplete or fail the checksum.
pub(super) fn parse_frame(buf: &[u8], offset: usize) -> Option<(&[u8], usize)> {
    let header = buf.get(offset..offset.checked_add(FRAME_HEADER)?)?;
    let len: [u8; 4] = header[..4].try_into().ok()?;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    let start = offset + FRAME_HEADER;
    let end = start.checked_add(u32::from_le_bytes(len) as usize)?;
    let payload = buf.get(start..end)?;
    (checksum(&len, payload) == crc).then_some((payload, end))
}

fn checksum(len: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(len);
    hasher.update(payload);
    hasher.finalize()
}

/// Appends encoded values to a buffer.
#[derive(Default)]
pub(super) struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub(super) fn u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub(super) fn count(&mut self, value: usize) {
        let value = u32::try_from(value).expect("a count larger than u32");
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub(super) fn revision(&mut self, value: Revision) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub(super) fn bytes(&mut self, value: &[u8]) {
        self.count(value.len());
        self.buf.extend_from_slice(value);
    }

    pub(super) fn key_value(&mut self, kv: &KeyValue) {
        self.bytes(kv.key.as_bytes());
        self.bytes(&kv.value);
        self.revision(kv.create_revision);
        self.revision(kv.mod_revision);
    }

    pub(super) fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads encoded values from a buffer, failing instead of panicking on short or bad input.
pub(super) struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], Malformed> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.buf.len());
        let end =
            end.ok_or_else(|| format!("truncated at byte {} of {}", self.pos, self.buf.len()))?;
        let slice = &self.buf[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    pub(super) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn count(&mut self) -> Result<usize, Malformed> {
        let bytes = self.take(4)?.try_into().expect("four bytes");
        Ok(u32::from_le_bytes(bytes) as usize)
    }

    pub(super) fn revision(&mut self) -> Result<Revision, Malformed> {
        let bytes = self.take(8)?.try_into().expect("eight bytes");
        Ok(Revision::from_le_bytes(bytes))
    }

    pub(super) fn bytes(&mut self) -> Result<Vec<u8>, Malformed> {
        let len = self.count()?;
        Ok(self.take(len)?.to_vec())
    }

    pub(super) fn string(&mut self) -> Result<String, Malformed> {
        String::from_utf8(self.bytes()?).map_err(|_| "a key is not UTF-8".to_string())
    }

    pub(super) fn key_value(&mut self) -> Result<KeyValue, Malformed> {
        Ok(KeyValue {
            key: self.string()?,
            value: self.bytes()?,
            create_revision: self.revision()?,
            mod_revision: self.revision()?,
        })
    }

    /// Fails when bytes are left over: a record that decodes short is not the record written.
    pub(super) fn finish(self) -> Result<(), Malformed> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            extra => Err(format!("{extra} unexpected bytes after the record")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_its_payload() {
        let framed = frame(b"hello");
        assert_eq!(parse_frame(&framed, 0), Some((&b"hello"[..], framed.len())));
    }

    #[test]
    fn a_flipped_bit_or_a_short_frame_is_rejected() {
        let mut framed = frame(b"hello");
        assert_eq!(parse_frame(&framed[..framed.len() - 1], 0), None);
        framed[9] ^= 1;
        assert_eq!(parse_frame(&framed, 0), None);
    }

    #[test]
    fn a_key_value_round_trips_and_trailing_bytes_are_refused() {
        let kv = KeyValue {
            key: "/k".into(),
            value: vec![0, 255],
            create_revision: 3,
            mod_revision: 9,
        };
        let mut encoder = Encoder::default();
        encoder.key_value(&kv);
        encoder.u8(7);
        let bytes = encoder.into_inner();
        let mut decoder = Decoder::new(&bytes);
        assert_eq!(decoder.key_value().unwrap(), kv);
        assert!(decoder.finish().is_err());
    }
}
