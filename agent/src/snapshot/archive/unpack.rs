//! Unpacking an archive into an empty directory on blocking threads, hashing the compressed
//! bytes as they are read; an entry that would land outside the directory is refused.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

use sha2::{Digest, Sha256};
use tar::{Archive, EntryType};

use super::Counter;

/// Decompressed bytes handed from the decoding thread to the unpacker at once.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between them.
const IN_FLIGHT: usize = 8;

/// Unpacks the zstd-compressed tar in `archive` into `dir`, counting content bytes into
/// `counter`; returns the SHA-256 of every byte read from `archive`, hex (read to its end, so
/// trailing bytes count too). Reading, hashing and decompressing run on a thread of their own,
/// beside the unpacking, as `zstd -d | tar -x` would.
pub fn unpack(archive: impl Read + Send, dir: &Path, counter: &Counter) -> io::Result<String> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(IN_FLIGHT);
    std::thread::scope(|scope| {
        let decoding = scope.spawn(move || decode(archive, sender));
        let unpacked = unpack_entries(
            Pipe {
                receiver,
                chunk: io::Cursor::new(Vec::new()),
            },
            dir,
            counter,
        );
        let decoded = decoding
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the archive's decoder panicked")));
        match (unpacked, decoded) {
            (Ok(()), decoded) => decoded,
            (Err(e), _) => Err(e),
        }
    })
}

/// Decompresses `archive` into `sender` and reads it to its end; returns its SHA-256.
fn decode(
    archive: impl Read,
    sender: std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>,
) -> io::Result<String> {
    let mut hashed = Hashed {
        inner: archive,
        hasher: Sha256::new(),
    };
    let mut decoder = zstd::stream::read::Decoder::new(&mut hashed)?;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        match (&mut decoder).take(CHUNK as u64).read_to_end(&mut chunk) {
            Ok(0) => break,
            // The unpacker stopped (it failed, or the archive's end came): only the hash is
            // still needed.
            Ok(_) if sender.send(Ok(chunk)).is_err() => break,
            Ok(_) => {}
            Err(e) => {
                let _ = sender.send(Err(io::Error::new(e.kind(), e.to_string())));
                return Err(e);
            }
        }
    }
    drop(sender);
    drop(decoder);
    io::copy(&mut hashed, &mut io::sink())?;
    Ok(format!("{:x}", hashed.hasher.finalize()))
}

/// The unpacker's end of the decoded stream.
struct Pipe {
    receiver: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: io::Cursor<Vec<u8>>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.chunk.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            match self.receiver.recv() {
                Ok(chunk) => self.chunk = io::Cursor::new(chunk?),
                Err(_) => return Ok(0),
            }
        }
    }
}

fn unpack_entries(decoded: impl Read, dir: &Path, counter: &Counter) -> io::Result<()> {
    let mut archive = Archive::new(decoded);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(false);
    let mut directories = Vec::new();
    let mut root = None;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        check_inside(&path)?;
        let is_root = path.components().all(|c| c == Component::CurDir);
        if is_root {
            root = Some(entry.header().clone());
        } else if entry.header().entry_type() == EntryType::Directory {
            directories.push(entry);
        } else {
            counter.add(entry.size());
            entry.unpack_in(dir)?;
        }
    }
    // Directories last, deepest first, so a read-only directory does not stop its children.
    directories.sort_by(|a, b| b.path_bytes().cmp(&a.path_bytes()));
    for mut directory in directories {
        directory.unpack_in(dir)?;
    }
    if let Some(root) = root {
        apply_root(&root, dir)?;
    }
    Ok(())
}

/// Refuses a path that is absolute or climbs with `..`.
fn check_inside(path: &Path) -> io::Result<()> {
    let escapes = path.components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    });
    if escapes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "entry {} would be written outside the volume; the archive was not made by \
                 minicloud",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Gives `dir` the owner and mode of the archive's root entry.
fn apply_root(root: &tar::Header, dir: &Path) -> io::Result<()> {
    std::os::unix::fs::chown(dir, Some(root.uid()? as u32), Some(root.gid()? as u32))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(root.mode()?))
}

/// A reader that hashes what passes through it.
struct Hashed<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, symlink};

    use futures::StreamExt;

    use super::*;
    use crate::snapshot::archive::pack;

    /// Packs `dir` and collects the archive, as a store would.
    async fn pack_dir(dir: &Path) -> (Vec<u8>, pack::Packed) {
        let (packer, mut stream) = pack::channel();
        let dir = dir.to_path_buf();
        let task = tokio::task::spawn_blocking(move || packer.pack(&dir, &Counter::default(), 2));
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        (bytes, task.await.unwrap().unwrap())
    }

    #[tokio::test]
    async fn a_tree_round_trips_with_modes_symlinks_and_hard_links() {
        let source = tempfile::tempdir().unwrap();
        let s = source.path();
        fs::create_dir_all(s.join("sub/deep")).unwrap();
        fs::write(s.join("sub/deep/file"), b"content").unwrap();
        fs::set_permissions(s.join("sub/deep/file"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::hard_link(s.join("sub/deep/file"), s.join("link")).unwrap();
        symlink("sub/deep/file", s.join("sym")).unwrap();
        fs::set_permissions(s.join("sub"), fs::Permissions::from_mode(0o555)).unwrap();
        let (bytes, packed) = pack_dir(s).await;
        assert_eq!(packed.archive_bytes, bytes.len() as u64);
        let target = tempfile::tempdir().unwrap();
        let t = target.path();
        let counter = Counter::default();
        let sha = unpack(&bytes[..], t, &counter).unwrap();
        assert_eq!(sha, packed.sha256);
        assert_eq!(counter.get(), 7);
        assert_eq!(fs::read(t.join("link")).unwrap(), b"content");
        let file = fs::metadata(t.join("sub/deep/file")).unwrap();
        assert_eq!(file.mode() & 0o7777, 0o640);
        assert_eq!(file.ino(), fs::metadata(t.join("link")).unwrap().ino());
        assert_eq!(
            fs::read_link(t.join("sym")).unwrap(),
            Path::new("sub/deep/file")
        );
        assert_eq!(fs::metadata(t.join("sub")).unwrap().mode() & 0o7777, 0o555);
    }

    #[test]
    fn an_entry_climbing_out_is_refused() {
        let mut raw = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.as_old_mut().name[..7].copy_from_slice(b"../evil");
        header.set_cksum();
        raw.append(&header, &b"x"[..]).unwrap();
        let tar = raw.into_inner().unwrap();
        let compressed = zstd::encode_all(&tar[..], 3).unwrap();
        let target = tempfile::tempdir().unwrap();
        let inner = target.path().join("inner");
        fs::create_dir(&inner).unwrap();
        let error = unpack(&compressed[..], &inner, &Counter::default()).unwrap_err();
        assert!(error.to_string().contains("outside the volume"), "{error}");
        assert!(!target.path().join("evil").exists());
    }
}
