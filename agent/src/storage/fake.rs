//! A recording [`Disk`] for tests: images are plain files of the asked length in a real
//! (temporary) directory, so the volume logic's files and renames are real, but "mounted" is
//! only remembered, data directories are plain directories (their group kept in a file beside
//! them) and no root is needed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::disk::Disk;
use super::host::{HostError, HostResult};

/// A call the fake received that changes something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskCall {
    /// `make_image(image, size, fs_group)`.
    MakeImage(PathBuf, u64, u32),
    /// `mount(image, dir)`.
    Mount(PathBuf, PathBuf),
    /// `unmount(dir)`.
    Unmount(PathBuf),
    /// `grow_online(image, size)`.
    GrowOnline(PathBuf, u64),
    /// `grow_offline(image, size)`.
    GrowOffline(PathBuf, u64),
}

#[derive(Default)]
struct State {
    mounted: BTreeMap<PathBuf, PathBuf>,
    calls: Vec<DiskCall>,
    failures: HashMap<&'static str, String>,
}

/// The fake host.
#[derive(Clone, Default)]
pub struct FakeDisk {
    state: Arc<Mutex<State>>,
}

impl FakeDisk {
    /// A host with nothing mounted.
    pub fn new() -> FakeDisk {
        FakeDisk::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The changing calls so far, oldest first.
    pub fn calls(&self) -> Vec<DiskCall> {
        self.lock().calls.clone()
    }

    /// Forgets the recorded calls.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Makes the next call of `method` (`"mount"`, `"grow_online"`, ...) fail with `message`.
    pub fn fail_next(&self, method: &'static str, message: &str) {
        self.lock().failures.insert(method, message.to_owned());
    }

    /// Forgets every mount, as a host reboot does.
    pub fn reboot(&self) {
        self.lock().mounted.clear();
    }

    /// Records `call`, then fails if a failure is scripted for `method`.
    fn enter(&self, method: &'static str, call: DiskCall) -> HostResult<MutexGuard<'_, State>> {
        let mut state = self.lock();
        state.calls.push(call);
        match state.failures.remove(method) {
            Some(output) => Err(HostError {
                command: method.to_owned(),
                output,
            }),
            None => Ok(state),
        }
    }
}

fn io_error(command: &str, path: &Path, e: std::io::Error) -> HostError {
    HostError {
        command: format!("{command} {}", path.display()),
        output: e.to_string(),
    }
}

fn group_record(dir: &Path) -> PathBuf {
    dir.with_extension("group")
}

fn set_len(image: &Path, size_bytes: u64) -> HostResult<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(image)
        .and_then(|f| f.set_len(size_bytes))
        .map_err(|e| io_error("truncate", image, e))
}

#[async_trait]
impl Disk for FakeDisk {
    async fn make_image(&self, image: &Path, size_bytes: u64, fs_group: u32) -> HostResult<()> {
        let call = DiskCall::MakeImage(image.to_path_buf(), size_bytes, fs_group);
        let _state = self.enter("make_image", call)?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(image)
            .and_then(|f| f.set_len(size_bytes))
            .map_err(|e| io_error("create", image, e))
    }

    async fn mount(&self, image: &Path, dir: &Path) -> HostResult<()> {
        let call = DiskCall::Mount(image.to_path_buf(), dir.to_path_buf());
        let mut state = self.enter("mount", call)?;
        if !image.is_file() || !dir.is_dir() || state.mounted.contains_key(dir) {
            return Err(HostError {
                command: format!("mount {} {}", image.display(), dir.display()),
                output: "no image, no mount point, or already mounted".to_owned(),
            });
        }
        state.mounted.insert(dir.to_path_buf(), image.to_path_buf());
        Ok(())
    }

    async fn unmount(&self, dir: &Path) -> HostResult<()> {
        let mut state = self.enter("unmount", DiskCall::Unmount(dir.to_path_buf()))?;
        match state.mounted.remove(dir) {
            Some(_) => Ok(()),
            None => Err(HostError {
                command: format!("umount {}", dir.display()),
                output: "not mounted".to_owned(),
            }),
        }
    }

    fn is_mounted(&self, dir: &Path) -> bool {
        self.lock().mounted.contains_key(dir)
    }

    async fn grow_online(&self, image: &Path, size_bytes: u64) -> HostResult<()> {
        let call = DiskCall::GrowOnline(image.to_path_buf(), size_bytes);
        let _state = self.enter("grow_online", call)?;
        set_len(image, size_bytes)
    }

    async fn grow_offline(&self, image: &Path, size_bytes: u64) -> HostResult<()> {
        let call = DiskCall::GrowOffline(image.to_path_buf(), size_bytes);
        let state = self.enter("grow_offline", call)?;
        if state.mounted.values().any(|i| i == image) {
            return Err(HostError {
                command: format!("resize2fs {}", image.display()),
                output: "the filesystem is mounted".to_owned(),
            });
        }
        set_len(image, size_bytes)
    }

    /// Creates the directory and keeps its group in a file beside it (`data.group`), so the
    /// group moves with the volume's directory as a real owner would.
    fn make_data_dir(&self, data: &Path, fs_group: u32) -> HostResult<()> {
        std::fs::create_dir(data).map_err(|e| io_error("mkdir", data, e))?;
        let record = group_record(data);
        std::fs::write(&record, fs_group.to_string()).map_err(|e| io_error("write", &record, e))
    }

    fn group_of(&self, dir: &Path) -> HostResult<u32> {
        let record = group_record(dir);
        let text = std::fs::read_to_string(&record).map_err(|e| io_error("read", &record, e))?;
        text.trim().parse().map_err(|e| HostError {
            command: format!("read {}", record.display()),
            output: format!("not a group id: {e}"),
        })
    }

    fn usage(&self, dir: &Path) -> HostResult<Option<(u64, u64)>> {
        let state = self.lock();
        let Some(image) = state.mounted.get(dir) else {
            return Ok(None);
        };
        let size = std::fs::metadata(image)
            .map_err(|e| io_error("stat", image, e))?
            .len();
        Ok(Some((size, 0)))
    }
}
