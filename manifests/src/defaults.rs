//! Defaulting, in one place: what a user may omit, resolved to the values minicloud runs with.
//!
//! The resolved types ([`ResolvedResources`], [`ResolvedHealthCheck`], [`ResolvedUpdate`] and
//! the Instance's [`ContainerSpec`]) have no optional fields, so admission, quota, controllers
//! and agent take their values as they are and never default anything themselves.
//! [`apply_defaults`] writes the same values back into a written object, so stored objects show
//! the effective values — among them a Volume's snapshot retention, which controllers read
//! from the stored object. Idempotent. (`apiVersion` needs no step here: it is defaulted while
//! parsing, as the type can only hold `minicloud/v1`.)

use crate::kinds::{
    AppSpec, ContainerSpec, HealthCheck, KeepPolicy, ResolvedHealthCheck, ResolvedResources,
    ResolvedUpdate, Resources, SnapshotSchedule, UpdateStrategy, VolumeSpec,
};
use crate::quantity::{Bytes, Cpu};
use crate::resource::Resource;

/// CPU limit of a container whose App sets none.
pub const DEFAULT_CPU: Cpu = Cpu::from_millis(250);
/// Memory limit of a container whose App sets none.
pub const DEFAULT_MEMORY: Bytes = Bytes::mebibytes(128);
/// Process limit of a container whose App sets none.
pub const DEFAULT_PIDS: u32 = 256;
/// Instances a rolling update may add above `replicas` when an App sets no `maxSurge`.
pub const DEFAULT_MAX_SURGE: u32 = 1;
/// Scheduled snapshots kept when a Volume's schedule has no keep rule at all: the newest this
/// many, a week of daily snapshots.
pub const DEFAULT_KEEP_LAST: u32 = 7;

/// Fills in defaults. The ingress host is left to the server, which knows the domain.
pub fn apply_defaults(resource: &mut Resource) {
    match resource {
        Resource::App(app) => app.spec = app.spec.with_defaults(),
        Resource::Release(release) => release.spec.app_spec = release.spec.app_spec.with_defaults(),
        Resource::Volume(volume) => volume.spec = volume.spec.with_defaults(),
        _ => {}
    }
}

impl Resources {
    /// The limits these resolve to: each one given, or its default.
    pub fn resolve(&self) -> ResolvedResources {
        ResolvedResources {
            cpu: self.cpu.unwrap_or(DEFAULT_CPU),
            memory: self.memory.unwrap_or(DEFAULT_MEMORY),
            pids: self.pids.unwrap_or(DEFAULT_PIDS),
        }
    }
}

impl From<ResolvedResources> for Resources {
    fn from(resolved: ResolvedResources) -> Self {
        Resources {
            cpu: Some(resolved.cpu),
            memory: Some(resolved.memory),
            pids: Some(resolved.pids),
        }
    }
}

impl HealthCheck {
    /// The check with every timing and threshold given or defaulted; the port stays as written.
    pub fn resolve(&self) -> ResolvedHealthCheck {
        ResolvedHealthCheck {
            http: self.http.clone(),
            initial_delay_seconds: self.initial_delay_seconds.unwrap_or(0),
            period_seconds: self.period_seconds.unwrap_or(10),
            timeout_seconds: self.timeout_seconds.unwrap_or(1),
            failure_threshold: self.failure_threshold.unwrap_or(3),
            success_threshold: self.success_threshold.unwrap_or(1),
        }
    }
}

impl From<ResolvedHealthCheck> for HealthCheck {
    fn from(resolved: ResolvedHealthCheck) -> Self {
        HealthCheck {
            http: resolved.http,
            initial_delay_seconds: Some(resolved.initial_delay_seconds),
            period_seconds: Some(resolved.period_seconds),
            timeout_seconds: Some(resolved.timeout_seconds),
            failure_threshold: Some(resolved.failure_threshold),
            success_threshold: Some(resolved.success_threshold),
        }
    }
}

impl UpdateStrategy {
    /// The rolling-update numbers these resolve to.
    pub fn resolve(&self) -> ResolvedUpdate {
        ResolvedUpdate {
            max_surge: self.max_surge.unwrap_or(DEFAULT_MAX_SURGE),
            max_unavailable: self.max_unavailable.unwrap_or(0),
            progress_deadline_seconds: self.progress_deadline_seconds.unwrap_or(120),
        }
    }
}

impl From<ResolvedUpdate> for UpdateStrategy {
    fn from(resolved: ResolvedUpdate) -> Self {
        UpdateStrategy {
            max_surge: Some(resolved.max_surge),
            max_unavailable: Some(resolved.max_unavailable),
            progress_deadline_seconds: Some(resolved.progress_deadline_seconds),
        }
    }
}

impl AppSpec {
    /// Instances wanted (default 1).
    pub fn replica_count(&self) -> u32 {
        self.replicas.unwrap_or(1)
    }

    /// Each instance's limits.
    pub fn resolved_resources(&self) -> ResolvedResources {
        self.resources.clone().unwrap_or_default().resolve()
    }

    /// How a rolling update replaces instances.
    pub fn resolved_update(&self) -> ResolvedUpdate {
        self.update.clone().unwrap_or_default().resolve()
    }

    /// The spec as written with every default filled in: what is stored, and what a Release
    /// records.
    pub fn with_defaults(&self) -> AppSpec {
        AppSpec {
            replicas: Some(self.replica_count()),
            resources: Some(self.resolved_resources().into()),
            health_check: self.health_check.as_ref().map(|c| c.resolve().into()),
            update: Some(self.resolved_update().into()),
            ..self.clone()
        }
    }

    /// The container each instance runs.
    pub fn container(&self) -> ContainerSpec {
        ContainerSpec {
            image: self.image.clone().unwrap_or_default(),
            command: self.command.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            ports: self.ports.clone(),
            volumes: self.volumes.clone(),
            user: self.user,
            resources: self.resolved_resources(),
            health_check: self.health_check.as_ref().map(HealthCheck::resolve),
            capabilities: self
                .capabilities
                .as_ref()
                .map(|c| c.add.clone())
                .unwrap_or_default(),
        }
    }
}

impl VolumeSpec {
    /// The spec with its snapshot retention resolved: what is stored.
    pub fn with_defaults(&self) -> VolumeSpec {
        VolumeSpec {
            snapshots: self.snapshots.as_ref().map(SnapshotSchedule::with_defaults),
            ..self.clone()
        }
    }
}

impl SnapshotSchedule {
    /// The schedule with a keep rule: its own, or, when it has none at all, the newest
    /// [`DEFAULT_KEEP_LAST`].
    pub fn with_defaults(&self) -> SnapshotSchedule {
        let keep = if self.keep == KeepPolicy::default() {
            KeepPolicy {
                last: Some(DEFAULT_KEEP_LAST),
                ..KeepPolicy::default()
            }
        } else {
            self.keep
        };
        SnapshotSchedule {
            keep,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{App, HttpProbe, PortRef, Volume};
    use crate::meta::ObjectMeta;

    fn app(spec: AppSpec) -> Resource {
        App::new(ObjectMeta::named("web", Some("acme")), spec).into()
    }

    /// A check of port `http` every 2 s, with nothing else set.
    fn every_two_seconds() -> HealthCheck {
        HealthCheck {
            http: HttpProbe {
                path: "/healthz".into(),
                port: PortRef::Name("http".into()),
            },
            initial_delay_seconds: None,
            period_seconds: Some(2),
            timeout_seconds: None,
            failure_threshold: None,
            success_threshold: None,
        }
    }

    fn spec_of(resource: &Resource) -> &AppSpec {
        match resource {
            Resource::App(app) => &app.spec,
            _ => unreachable!("built as an App"),
        }
    }

    #[test]
    fn an_app_without_settings_gets_one_limited_replica() {
        let mut resource = app(AppSpec {
            image: Some("hello:1".into()),
            ..AppSpec::default()
        });
        apply_defaults(&mut resource);
        let spec = spec_of(&resource);
        assert_eq!(spec.replicas, Some(1));
        let resources = spec.resources.as_ref().unwrap();
        assert_eq!(
            (resources.cpu, resources.memory, resources.pids),
            (Some(DEFAULT_CPU), Some(DEFAULT_MEMORY), Some(256))
        );
        let update = spec.update.as_ref().unwrap();
        assert_eq!(
            (
                update.max_surge,
                update.max_unavailable,
                update.progress_deadline_seconds
            ),
            (Some(1), Some(0), Some(120))
        );
        assert_eq!(spec.ingress, None);
    }

    #[test]
    fn given_values_are_kept_and_missing_ones_filled() {
        let mut resource = app(AppSpec {
            replicas: Some(3),
            resources: Some(Resources {
                cpu: Some(Cpu::from_millis(500)),
                ..Resources::default()
            }),
            health_check: Some(every_two_seconds()),
            ..AppSpec::default()
        });
        apply_defaults(&mut resource);
        let spec = spec_of(&resource);
        assert_eq!(spec.replicas, Some(3));
        let resources = spec.resources.as_ref().unwrap();
        assert_eq!(
            (resources.cpu, resources.memory),
            (Some(Cpu::from_millis(500)), Some(DEFAULT_MEMORY))
        );
        let check = spec.health_check.as_ref().unwrap();
        let timings = (
            check.initial_delay_seconds,
            check.period_seconds,
            check.timeout_seconds,
        );
        assert_eq!(timings, (Some(0), Some(2), Some(1)));
        assert_eq!(
            (check.failure_threshold, check.success_threshold),
            (Some(3), Some(1))
        );
    }

    #[test]
    fn defaulting_twice_equals_defaulting_once() {
        let mut once = app(AppSpec::default());
        apply_defaults(&mut once);
        let mut twice = once.clone();
        apply_defaults(&mut twice);
        assert_eq!(once, twice);
    }

    #[test]
    fn the_container_of_an_app_has_every_limit_and_timing_set() {
        let spec = AppSpec {
            image: Some("hello:1".into()),
            resources: Some(Resources {
                memory: Some(Bytes::mebibytes(64)),
                ..Resources::default()
            }),
            health_check: Some(every_two_seconds()),
            ..AppSpec::default()
        };
        let container = spec.container();
        assert_eq!(
            container.resources,
            ResolvedResources {
                cpu: DEFAULT_CPU,
                memory: Bytes::mebibytes(64),
                pids: DEFAULT_PIDS,
            }
        );
        let check = container.health_check.unwrap();
        assert_eq!(check.http.port, PortRef::Name("http".into()));
        assert_eq!(
            (
                check.period_seconds,
                check.timeout_seconds,
                check.failure_threshold
            ),
            (2, 1, 3)
        );
    }

    #[test]
    fn a_defaulted_spec_resolves_to_the_same_container() {
        let spec = AppSpec {
            image: Some("hello:1".into()),
            ..AppSpec::default()
        };
        assert_eq!(spec.with_defaults().container(), spec.container());
        assert_eq!(
            spec.with_defaults().resolved_update(),
            spec.resolved_update()
        );
    }

    fn volume(snapshots: Option<SnapshotSchedule>) -> VolumeSpec {
        let spec = VolumeSpec {
            snapshots,
            ..VolumeSpec::new(Bytes::gibibytes(1))
        };
        let mut resource: Resource =
            Volume::new(ObjectMeta::named("data", Some("acme")), spec).into();
        apply_defaults(&mut resource);
        match resource {
            Resource::Volume(volume) => volume.spec,
            _ => unreachable!("built as a Volume"),
        }
    }

    fn nightly(keep: KeepPolicy) -> SnapshotSchedule {
        SnapshotSchedule {
            schedule: "0 3 * * *".into(),
            time_zone: None,
            keep,
        }
    }

    #[test]
    fn a_schedule_without_a_keep_rule_keeps_the_newest_seven() {
        let spec = volume(Some(nightly(KeepPolicy::default())));
        let keep = spec.snapshots.unwrap().keep;
        assert_eq!(
            keep,
            KeepPolicy {
                last: Some(DEFAULT_KEEP_LAST),
                daily: None,
                weekly: None
            }
        );
        assert_eq!(DEFAULT_KEEP_LAST, 7);
    }

    #[test]
    fn a_schedule_with_any_keep_rule_keeps_only_its_own() {
        let weekly = KeepPolicy {
            weekly: Some(4),
            ..KeepPolicy::default()
        };
        assert_eq!(
            volume(Some(nightly(weekly))).snapshots.unwrap().keep,
            weekly
        );
        assert_eq!(volume(None).snapshots, None, "no schedule, no retention");
    }
}
