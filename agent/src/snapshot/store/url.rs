//! The `--snapshot-store` value: which store a node keeps its archives in.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::contract::StoreError;

/// Where the snapshot store is, parsed from `file:///path`, an absolute path, or
/// `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotStoreUrl {
    /// A directory on this host.
    Local(PathBuf),
    /// A bucket of an S3-compatible service, archives under `prefix` (may be empty).
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix, without leading or trailing `/`.
        prefix: String,
    },
}

impl SnapshotStoreUrl {
    /// The default: `<storage_dir>/snapshots`.
    pub fn default_for(storage_dir: &Path) -> SnapshotStoreUrl {
        SnapshotStoreUrl::Local(storage_dir.join("snapshots"))
    }
}

impl FromStr for SnapshotStoreUrl {
    type Err = StoreError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| StoreError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("the bucket is missing"));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|s| s == "." || s == "..") {
                return Err(bad("the prefix has `.` or `..` segments"));
            }
            return Ok(SnapshotStoreUrl::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        let path = match url.strip_prefix("file://") {
            Some(path) => path,
            None if url.contains("://") => return Err(bad("the scheme is not file or s3")),
            None => url,
        };
        if !path.starts_with('/') {
            return Err(bad("the path is not absolute"));
        }
        Ok(SnapshotStoreUrl::Local(PathBuf::from(path)))
    }
}

impl fmt::Display for SnapshotStoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotStoreUrl::Local(path) => write!(f, "file://{}", path.display()),
            SnapshotStoreUrl::S3 { bucket, prefix } if prefix.is_empty() => {
                write!(f, "s3://{bucket}")
            }
            SnapshotStoreUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> SnapshotStoreUrl {
        url.parse().unwrap()
    }

    #[test]
    fn file_urls_and_plain_paths_name_a_local_directory() {
        let local = SnapshotStoreUrl::Local("/var/lib/mini/snapshots".into());
        assert_eq!(parse("file:///var/lib/mini/snapshots"), local);
        assert_eq!(parse("/var/lib/mini/snapshots"), local);
        assert_eq!(local.to_string(), "file:///var/lib/mini/snapshots");
    }

    #[test]
    fn s3_urls_name_a_bucket_and_a_prefix() {
        let s3 = parse("s3://backups/minicloud/node-1/");
        assert_eq!(
            s3,
            SnapshotStoreUrl::S3 {
                bucket: "backups".into(),
                prefix: "minicloud/node-1".into(),
            }
        );
        assert_eq!(s3.to_string(), "s3://backups/minicloud/node-1");
        let bare = parse("s3://backups");
        assert_eq!(bare.to_string(), "s3://backups");
    }

    #[test]
    fn other_forms_are_refused_with_what_to_use() {
        for bad in [
            "gs://bucket",
            "relative/dir",
            "s3://",
            "s3:///prefix",
            "file://rel",
        ] {
            let error = bad.parse::<SnapshotStoreUrl>().unwrap_err().to_string();
            assert!(error.contains("s3://bucket/prefix"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_default_is_beside_the_volumes() {
        let url = SnapshotStoreUrl::default_for(Path::new("/var/lib/mini"));
        assert_eq!(
            url,
            SnapshotStoreUrl::Local("/var/lib/mini/snapshots".into())
        );
    }
}
