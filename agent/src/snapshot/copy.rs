//! Copying a volume's image while its filesystem is frozen: only the extents that hold data
//! (SEEK_DATA / SEEK_HOLE), in the kernel (copy_file_range, which shares blocks instead on
//! filesystems that can), so the pause lasts as long as the data written, not the image size.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use rustix::fs::SeekFrom;

/// The most one copy_file_range call moves.
const STEP: u64 = 1 << 30;

/// Copies `from` to the new file `to`, keeping holes as holes.
pub fn sparse_copy(from: &Path, to: &Path) -> io::Result<()> {
    let source = File::open(from)?;
    let len = source.metadata()?.len();
    let target = OpenOptions::new().write(true).create_new(true).open(to)?;
    target.set_len(len)?;
    let mut pos = 0;
    while pos < len {
        let data = match rustix::fs::seek(&source, SeekFrom::Data(pos)) {
            Ok(data) => data,
            Err(rustix::io::Errno::NXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let hole = rustix::fs::seek(&source, SeekFrom::Hole(data))?;
        copy_range(&source, &target, data, hole - data)?;
        pos = hole;
    }
    Ok(())
}

fn copy_range(source: &File, target: &File, start: u64, len: u64) -> io::Result<()> {
    let (mut from, mut to) = (start, start);
    let end = start + len;
    while from < end {
        let step = (end - from).min(STEP) as usize;
        let copied =
            rustix::fs::copy_file_range(source, Some(&mut from), target, Some(&mut to), step)?;
        if copied == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the image ended at byte {from} while copying up to {end}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, Write};
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn data_is_copied_and_holes_stay_holes() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("a.img"), dir.path().join("b.img"));
        let mut file = File::create(&from).unwrap();
        file.set_len(64 << 20).unwrap();
        file.write_all(b"start").unwrap();
        file.seek(io::SeekFrom::Start(32 << 20)).unwrap();
        file.write_all(&[7u8; 8192]).unwrap();
        drop(file);
        sparse_copy(&from, &to).unwrap();
        assert_eq!(std::fs::read(&from).unwrap(), std::fs::read(&to).unwrap());
        let copy = std::fs::metadata(&to).unwrap();
        assert_eq!(copy.len(), 64 << 20);
        assert!(copy.blocks() * 512 < 1 << 20, "holes were filled: {copy:?}");
    }
}
