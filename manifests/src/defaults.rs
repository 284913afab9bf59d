//! Defaulting: fills what a user may omit, as a separate step after parsing so it can be
//! tested and so stored objects show the effective values. Idempotent. (`apiVersion` needs
//! no step here: it is defaulted while parsing, as the type can only hold `minicloud/v1`.)

use crate::kinds::{AppSpec, HealthCheck, Resources, UpdateStrategy};
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

/// Fills in defaults. The ingress host is left to the server, which knows the domain.
pub fn apply_defaults(resource: &mut Resource) {
    match resource {
        Resource::App(app) => app_spec(&mut app.spec),
        Resource::Release(release) => app_spec(&mut release.spec.app_spec),
        Resource::Instance(instance) => resources(&mut instance.spec.container.resources),
        _ => {}
    }
}

/// Fills in an App spec's defaults.
pub fn app_spec(spec: &mut AppSpec) {
    spec.replicas.get_or_insert(1);
    resources(spec.resources.get_or_insert_with(Resources::default));
    if let Some(check) = &mut spec.health_check {
        health_check(check);
    }
    let update = spec.update.get_or_insert_with(UpdateStrategy::default);
    update.max_surge.get_or_insert(DEFAULT_MAX_SURGE);
    update.max_unavailable.get_or_insert(0);
    update.progress_deadline_seconds.get_or_insert(120);
}

fn resources(resources: &mut Resources) {
    resources.cpu.get_or_insert(DEFAULT_CPU);
    resources.memory.get_or_insert(DEFAULT_MEMORY);
    resources.pids.get_or_insert(DEFAULT_PIDS);
}

fn health_check(check: &mut HealthCheck) {
    check.initial_delay_seconds.get_or_insert(0);
    check.period_seconds.get_or_insert(10);
    check.timeout_seconds.get_or_insert(1);
    check.failure_threshold.get_or_insert(3);
    check.success_threshold.get_or_insert(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{App, HttpProbe, PortRef};
    use crate::meta::ObjectMeta;

    fn app(spec: AppSpec) -> Resource {
        App::new(ObjectMeta::named("web", Some("acme")), spec).into()
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
            health_check: Some(HealthCheck {
                http: HttpProbe {
                    path: "/healthz".into(),
                    port: PortRef::Name("http".into()),
                },
                initial_delay_seconds: None,
                period_seconds: Some(2),
                timeout_seconds: None,
                failure_threshold: None,
                success_threshold: None,
            }),
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
}
