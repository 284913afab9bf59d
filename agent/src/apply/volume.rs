//! The volume operations of a plan: EnsureVolume makes (or attaches, or grows) the volume's
//! image on the host and binds its data directory into a Docker volume; RemoveVolume undoes it,
//! keeping the image when asked.

use minicloud_proto::v1::{EnsureVolume, RemoveVolume};

use super::{DEFAULT_FS_GROUP, Executor, require};
use crate::error::{Error, Result};
use crate::labels;
use crate::runtime::VolumeSpec;
use crate::storage::volumes::Attached;

impl Executor {
    /// Attaches (and grows) the volume's image, or makes it — filled from the snapshot when
    /// one is named — then binds its data directory into the Docker volume.
    pub(super) async fn ensure_volume(&self, op: &EnsureVolume) -> Result<()> {
        require(&op.tenant, "tenant")?;
        require(&op.name, "name")?;
        if op.size_bytes == 0 {
            return Err(Error::MissingField("size_bytes"));
        }
        let name = labels::volume_name(&op.tenant, &op.name);
        let existing = self.runtime.list_volumes().await?;
        if let Some(unlimited) = existing
            .iter()
            .find(|v| v.name == name && !v.labels.contains_key(labels::FS_GROUP))
        {
            return Err(Error::UnlimitedVolume(unlimited.name.clone()));
        }
        let attached = match self.volumes.attach(&op.tenant, &op.name).await? {
            Some(attached) => self.grow(attached, op.size_bytes, &name).await?,
            None => self.create_volume(op).await?,
        };
        let mut labels = labels::tenant_labels(&self.node, &op.tenant);
        labels.insert(labels::VOLUME.to_owned(), op.name.clone());
        labels.insert(labels::FS_GROUP.to_owned(), attached.fs_group.to_string());
        labels.insert(
            labels::SIZE_BYTES.to_owned(),
            attached.size_bytes.to_string(),
        );
        let device = attached.paths.data.display().to_string();
        let options = [("type", "none"), ("o", "bind"), ("device", device.as_str())];
        let spec = VolumeSpec {
            name,
            labels,
            options: options
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        self.runtime.ensure_volume(&spec).await?;
        Ok(())
    }

    /// Makes the volume's image: empty, or filled from `op.from_snapshot`.
    async fn create_volume(&self, op: &EnsureVolume) -> Result<Attached> {
        let fs_group = match op.fs_group {
            0 => DEFAULT_FS_GROUP,
            group => group,
        };
        let (tenant, name, size) = (&op.tenant, &op.name, op.size_bytes);
        let attached = match &op.from_snapshot {
            None => self.volumes.create(tenant, name, size, fs_group).await?,
            Some(archive) => {
                let filler = self.filler.clone();
                let fill =
                    |data: std::path::PathBuf| async move { filler.fill(archive, &data).await };
                let volumes = &self.volumes;
                volumes
                    .create_filled(tenant, name, size, fs_group, fill)
                    .await?
            }
        };
        Ok(attached)
    }

    /// Grows an attached volume to `size_bytes` unless it is that large already. Whether a
    /// running container mounts the Docker volume `name` decides whether it may grow where the
    /// host cannot grow a mounted filesystem.
    async fn grow(&self, attached: Attached, size_bytes: u64, name: &str) -> Result<Attached> {
        if !self.volumes.needs_growth(&attached, size_bytes) {
            return Ok(attached);
        }
        let containers = self.runtime.list_containers().await?;
        let mounted = containers
            .iter()
            .any(|c| c.state == "running" && c.mounts.iter().any(|m| m.volume == name));
        self.volumes.grow(&attached, size_bytes, mounted).await?;
        Ok(Attached {
            size_bytes,
            ..attached
        })
    }

    /// Removes the Docker volume first (Docker refuses while a container uses it), then
    /// detaches the image and deletes it unless `keep_data`.
    pub(super) async fn remove_volume(&self, op: &RemoveVolume) -> Result<()> {
        require(&op.tenant, "tenant")?;
        require(&op.name, "name")?;
        let name = labels::volume_name(&op.tenant, &op.name);
        if self
            .runtime
            .list_volumes()
            .await?
            .iter()
            .any(|v| v.name == name)
        {
            self.runtime.remove_volume(&name).await?;
        }
        if self.volumes.mechanism().is_available() {
            self.volumes
                .remove(&op.tenant, &op.name, op.keep_data)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use minicloud_proto::v1::operation::Op;

    use super::*;
    use crate::apply::tests::{errors, executor, executor_with_disk, network, plan, start};
    use crate::runtime::Runtime as _;
    use crate::runtime::fake::{Call, FakeRuntime};
    use crate::storage::disk::Disk as _;
    use crate::storage::fake::DiskCall;

    fn ensure(size_bytes: u64, fs_group: u32) -> Op {
        Op::EnsureVolume(EnsureVolume {
            tenant: "acme".into(),
            name: "data".into(),
            size_bytes,
            fs_group,
            from_snapshot: None,
        })
    }

    #[tokio::test]
    async fn an_ensured_volume_binds_its_mounted_data_directory_with_its_group_and_size() {
        let (fake, executor, disk, dir) = executor_with_disk();
        let result = executor.apply(&plan(vec![ensure(1 << 20, 0)])).await;
        assert_eq!(errors(&result), [""]);
        let volume = &fake.list_volumes().await.unwrap()[0];
        assert_eq!(volume.name, "mc-acme-data");
        assert_eq!(volume.labels[labels::FS_GROUP], "65534");
        assert_eq!(volume.labels[labels::SIZE_BYTES], "1048576");
        let mount = dir.path().join("volumes/acme/data/mnt");
        assert!(disk.is_mounted(&mount));
        let spec = fake.volume_spec("mc-acme-data").unwrap();
        let device = mount.join("data").display().to_string();
        assert_eq!(spec.options["device"], device);
        assert_eq!(
            (spec.options["type"].as_str(), spec.options["o"].as_str()),
            ("none", "bind")
        );
    }

    #[tokio::test]
    async fn a_container_gets_each_mounted_volumes_group_as_a_supplementary_group() {
        let (fake, executor, _dir) = executor();
        let ops = vec![network(), ensure(1 << 20, 1234), start("h1")];
        assert_eq!(errors(&executor.apply(&plan(ops)).await), ["", "", ""]);
        let created = fake.calls().into_iter().find_map(|c| match c {
            Call::CreateContainer(config) => Some(config),
            _ => None,
        });
        assert_eq!(created.unwrap().group_add, ["1234"]);
    }

    #[tokio::test]
    async fn a_larger_size_grows_the_volume_and_a_smaller_one_is_ignored() {
        let (_fake, executor, disk, dir) = executor_with_disk();
        executor.apply(&plan(vec![ensure(1 << 20, 0)])).await;
        disk.clear_calls();
        let smaller = executor.apply(&plan(vec![ensure(1 << 19, 0)])).await;
        assert_eq!(errors(&smaller), [""]);
        assert_eq!(disk.calls(), []);
        let larger = executor.apply(&plan(vec![ensure(2 << 20, 0)])).await;
        assert_eq!(errors(&larger), [""]);
        let image = dir.path().join("volumes/acme/data/disk.img");
        assert!(
            disk.calls()
                .contains(&DiskCall::GrowOffline(image, 2 << 20))
        );
    }

    #[tokio::test]
    async fn a_running_container_keeps_a_volume_from_growing_where_only_offline_growth_works() {
        let (_fake, executor, _dir) = executor();
        let ops = vec![
            network(),
            ensure(1 << 20, 0),
            start("h1"),
            ensure(2 << 20, 0),
        ];
        let result = executor.apply(&plan(ops)).await;
        assert!(
            result.results[3]
                .error
                .contains("while a container mounts it")
        );
    }

    #[tokio::test]
    async fn a_volume_from_a_snapshot_without_a_snapshot_store_is_refused_and_not_made() {
        let (fake, executor, _dir) = executor();
        let op = Op::EnsureVolume(EnsureVolume {
            from_snapshot: Some(minicloud_proto::v1::SnapshotArchive {
                location: "acme/data/s1".into(),
                sha256: "00".into(),
            }),
            ..match ensure(1 << 20, 0) {
                Op::EnsureVolume(op) => op,
                _ => unreachable!(),
            }
        });
        let result = executor.apply(&plan(vec![op])).await;
        let error = &result.results[0].error;
        assert!(
            error.contains("no snapshot store") && error.contains("acme/data/s1"),
            "{error}"
        );
        assert!(fake.list_volumes().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn removing_a_volume_deletes_its_image_unless_the_data_is_kept() {
        let (fake, executor, disk, dir) = executor_with_disk();
        let remove = |keep_data| {
            Op::RemoveVolume(RemoveVolume {
                tenant: "acme".into(),
                name: "data".into(),
                keep_data,
            })
        };
        let image = dir.path().join("volumes/acme/data/disk.img");
        executor
            .apply(&plan(vec![ensure(1 << 20, 0), remove(true)]))
            .await;
        assert!(image.is_file() && fake.list_volumes().await.unwrap().is_empty());
        disk.clear_calls();
        executor.apply(&plan(vec![ensure(1 << 20, 0)])).await;
        let formatted = disk
            .calls()
            .into_iter()
            .any(|c| matches!(c, DiskCall::MakeImage(..)));
        assert!(!formatted, "kept data is attached again, never formatted");
        executor.apply(&plan(vec![remove(false)])).await;
        assert!(!image.exists());
    }

    #[tokio::test]
    async fn a_docker_volume_without_a_size_limit_is_reported_not_reused() {
        let (fake, executor, _dir) = executor();
        let spec = VolumeSpec {
            name: "mc-acme-data".into(),
            labels: labels::tenant_labels("n1", "acme"),
            options: BTreeMap::new(),
        };
        fake.ensure_volume(&spec).await.unwrap();
        let result = executor.apply(&plan(vec![ensure(1 << 20, 0)])).await;
        let error = &result.results[0].error;
        assert!(error.contains("exists without a size limit"), "{error}");
    }

    #[tokio::test]
    async fn an_executor_without_storage_refuses_volumes_saying_why() {
        let executor = Executor::new(Arc::new(FakeRuntime::new()), "n1".into());
        let result = executor.apply(&plan(vec![ensure(1 << 20, 0)])).await;
        assert!(
            result.results[0]
                .error
                .contains("without a storage directory")
        );
    }
}
