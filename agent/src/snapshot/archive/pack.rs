//! Packing a directory into an archive on a blocking thread, handing the compressed bytes to
//! an async consumer through a bounded channel, so memory stays bounded whatever the size.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tar::{Builder, EntryType, Header, HeaderMode};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::Counter;
use crate::snapshot::store::ByteStream;

/// The zstd level: the `zstd` tool's default, fast with a good ratio.
const LEVEL: i32 = 3;
/// Bytes handed to the store at once.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the packer and the store.
const IN_FLIGHT: usize = 8;

/// What a finished archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The archive's size.
    pub archive_bytes: u64,
    /// SHA-256 of the archive, hex.
    pub sha256: String,
}

/// The packer's side: call [`Packer::pack`] on a blocking thread.
pub struct Packer {
    sender: mpsc::Sender<io::Result<Bytes>>,
    finished: Arc<AtomicBool>,
}

/// Starts an archive: the packer to run on a blocking thread, and the stream of its bytes,
/// which ends with an error unless the packer finished.
pub fn channel() -> (Packer, ByteStream) {
    let (sender, receiver) = mpsc::channel(IN_FLIGHT);
    let finished = Arc::new(AtomicBool::new(false));
    let done = finished.clone();
    let tail = futures::stream::once(async move {
        (!done.load(Ordering::SeqCst))
            .then(|| Err(io::Error::other("the archive stopped before its end")))
    })
    .filter_map(futures::future::ready);
    let stream = ReceiverStream::new(receiver).chain(tail).boxed();
    (Packer { sender, finished }, stream)
}

impl Packer {
    /// Archives `dir` (which becomes the archive's root `.`), counting content bytes into
    /// `counter`, with `threads` compression workers. A failure is also sent down the stream,
    /// so the store abandons the write.
    pub fn pack(self, dir: &Path, counter: &Counter, threads: u32) -> io::Result<Packed> {
        let sink = Sink {
            sender: self.sender.clone(),
            buffer: BytesMut::with_capacity(CHUNK),
            hasher: Sha256::new(),
            written: 0,
        };
        let result = write_archive(dir, sink, counter, threads);
        match &result {
            Ok(_) => self.finished.store(true, Ordering::SeqCst),
            Err(e) => {
                let _ = self
                    .sender
                    .blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
            }
        }
        result
    }
}

fn write_archive(dir: &Path, sink: Sink, counter: &Counter, threads: u32) -> io::Result<Packed> {
    let mut encoder = zstd::stream::write::Encoder::new(sink, LEVEL)?;
    encoder.multithread(threads)?;
    let mut builder = Builder::new(encoder);
    builder.mode(HeaderMode::Complete);
    let mut walk = Walk {
        builder: &mut builder,
        counter,
        links: HashMap::new(),
    };
    walk.entry(dir, Path::new("."))?;
    let sink = builder.into_inner()?.finish()?;
    sink.finish()
}

/// A depth-first walk appending every entry below a root.
struct Walk<'a, W: Write> {
    builder: &'a mut Builder<W>,
    counter: &'a Counter,
    /// (device, inode) of files with several links, to the archive path of the first one.
    links: HashMap<(u64, u64), std::path::PathBuf>,
}

impl<W: Write> Walk<'_, W> {
    fn entry(&mut self, path: &Path, name: &Path) -> io::Result<()> {
        let meta = fs::symlink_metadata(path)?;
        let mut header = Header::new_gnu();
        header.set_metadata_in_mode(&meta, HeaderMode::Complete);
        let kind = meta.file_type();
        if kind.is_dir() {
            header.set_size(0);
            self.builder.append_data(&mut header, name, io::empty())?;
            let mut children: Vec<_> = fs::read_dir(path)?.collect::<io::Result<_>>()?;
            children.sort_by_key(|c| c.file_name());
            for child in children {
                self.entry(&child.path(), &name.join(child.file_name()))?;
            }
        } else if kind.is_symlink() {
            header.set_size(0);
            let target = fs::read_link(path)?;
            self.builder.append_link(&mut header, name, target)?;
        } else if kind.is_file() && meta.nlink() > 1 {
            self.file_with_links(path, name, &meta, header)?;
        } else if kind.is_file() {
            self.file(path, name, header)?;
        } else {
            header.set_size(0);
            self.builder.append_data(&mut header, name, io::empty())?;
        }
        Ok(())
    }

    fn file(&mut self, path: &Path, name: &Path, mut header: Header) -> io::Result<()> {
        let file = fs::File::open(path)?;
        let reader = Counted {
            inner: file,
            counter: self.counter,
        };
        self.builder.append_data(&mut header, name, reader)
    }

    fn file_with_links(
        &mut self,
        path: &Path,
        name: &Path,
        meta: &fs::Metadata,
        mut header: Header,
    ) -> io::Result<()> {
        match self.links.get(&(meta.dev(), meta.ino())) {
            Some(first) => {
                header.set_entry_type(EntryType::Link);
                header.set_size(0);
                let first = first.clone();
                self.builder.append_link(&mut header, name, first)
            }
            None => {
                self.links
                    .insert((meta.dev(), meta.ino()), name.to_path_buf());
                self.file(path, name, header)
            }
        }
    }
}

/// A file's reader that counts its bytes as content done.
struct Counted<'a> {
    inner: fs::File,
    counter: &'a Counter,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.add(n as u64);
        Ok(n)
    }
}

/// Where the compressed bytes go: hashed, counted and sent in chunks.
struct Sink {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: BytesMut,
    hasher: Sha256,
    written: u64,
}

impl Sink {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.buffer.reserve(CHUNK);
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the snapshot store stopped taking the archive",
            )
        })
    }

    fn finish(mut self) -> io::Result<Packed> {
        self.send()?;
        Ok(Packed {
            archive_bytes: self.written,
            sha256: format!("{:x}", self.hasher.finalize()),
        })
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hasher.update(buf);
        self.written += buf.len() as u64;
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
