//! Where a node keeps its volumes: one directory per volume under the agent's storage
//! directory, holding the volume's image and the directory its filesystem is mounted on.
//!
//! ```text
//! <storage>/volumes/<tenant>/<volume>/disk.img   the sparse ext4 image (the volume's data)
//! <storage>/volumes/<tenant>/<volume>/mnt/       where the image is mounted on the host
//! <storage>/volumes/<tenant>/<volume>/mnt/data/  what containers see (Docker binds this)
//! <storage>/staging/<tenant>/<volume>/           a new volume being filled, same layout
//! ```
//!
//! A volume's directory under `volumes/` is complete: a new one is prepared (and filled from a
//! snapshot) under `staging/` and moved into place only when done.
//!
//! Containers get `mnt/data`, which exists only inside the mounted filesystem: if the image is
//! not mounted, the bind fails instead of writing to the host's disk.

use std::path::{Path, PathBuf};

/// The paths of the volumes under one storage directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

/// The paths of one volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumePaths {
    /// The volume's own directory.
    pub dir: PathBuf,
    /// Its image.
    pub image: PathBuf,
    /// Where the image is mounted.
    pub mount: PathBuf,
    /// The directory containers mount.
    pub data: PathBuf,
}

impl Layout {
    /// The layout under `storage_dir`.
    pub fn new(storage_dir: impl Into<PathBuf>) -> Layout {
        Layout {
            root: storage_dir.into(),
        }
    }

    /// The storage directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of every volume.
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// The paths of `tenant`'s volume `name`.
    pub fn volume(&self, tenant: &str, name: &str) -> VolumePaths {
        VolumePaths::under(self.volumes().join(tenant).join(name))
    }

    /// The directory of volumes being prepared.
    pub fn staging_root(&self) -> PathBuf {
        self.root.join("staging")
    }

    /// The paths where `tenant`'s new volume `name` is prepared before it is moved into place.
    pub fn staging(&self, tenant: &str, name: &str) -> VolumePaths {
        VolumePaths::under(self.staging_root().join(tenant).join(name))
    }
}

impl VolumePaths {
    /// The paths of a volume whose directory is `dir`.
    fn under(dir: PathBuf) -> VolumePaths {
        let mount = dir.join("mnt");
        VolumePaths {
            image: dir.join("disk.img"),
            data: mount.join("data"),
            mount,
            dir,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_and_its_staging_twin_have_the_same_shape_in_different_trees() {
        let layout = Layout::new("/s");
        let live = layout.volume("acme", "data");
        assert_eq!(live.image, Path::new("/s/volumes/acme/data/disk.img"));
        assert_eq!(live.data, Path::new("/s/volumes/acme/data/mnt/data"));
        let staged = layout.staging("acme", "data");
        assert_eq!(staged.dir, Path::new("/s/staging/acme/data"));
        assert_eq!(staged.mount, Path::new("/s/staging/acme/data/mnt"));
    }
}
