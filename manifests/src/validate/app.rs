//! Rules for an App spec (also applied to a Release's `appSpec`).

use super::Errors;
use super::container;
use super::names::is_dns_subdomain;
use crate::kinds::{AppSpec, UpdateStrategy};

/// The capabilities an App may add back (`spec.capabilities.add`): binding ports below 1024, and
/// the file-ownership and user-switching steps many images run at start-up. None of them reaches
/// beyond the container.
pub const ALLOWED_CAPABILITIES: [&str; 7] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "KILL",
    "NET_BIND_SERVICE",
    "SETGID",
    "SETUID",
];

/// Most replicas one App may ask for.
pub(crate) const MAX_REPLICAS: u32 = 100;

pub(super) fn spec(errors: &mut Errors, base: &str, spec: &AppSpec) {
    source(errors, base, spec);
    if let Some(replicas) = spec.replicas
        && replicas > MAX_REPLICAS
    {
        errors.add(
            format!("{base}.replicas"),
            format!("{replicas} replicas is too many; use at most {MAX_REPLICAS}"),
        );
    }
    container::env(errors, base, &spec.env);
    container::ports(errors, base, &spec.ports);
    if let Some(ingress) = &spec.ingress {
        container::port_ref(
            errors,
            &format!("{base}.ingress.port"),
            &ingress.port,
            &spec.ports,
        );
        if let Some(host) = ingress.host.as_deref().filter(|h| !is_dns_subdomain(h)) {
            errors.add(
                format!("{base}.ingress.host"),
                format!(
                    "{host:?} is not a valid host name; use lowercase DNS labels separated by '.'"
                ),
            );
        }
    }
    if let Some(resources) = &spec.resources {
        container::resources(errors, &format!("{base}.resources"), resources);
    }
    container::mounts(errors, base, &spec.volumes);
    if let Some(check) = &spec.health_check {
        container::health_check(errors, &format!("{base}.healthCheck"), check, &spec.ports);
    }
    if let Some(update) = &spec.update {
        update_strategy(errors, &format!("{base}.update"), update);
    }
    security(errors, base, spec);
}

fn source(errors: &mut Errors, base: &str, spec: &AppSpec) {
    match (&spec.image, &spec.build) {
        (None, None) => errors.add(
            format!("{base}.image"),
            "an App needs an image; set spec.image (like \"nginx:1.27\") or spec.build",
        ),
        (Some(image), _) => container::image(errors, &format!("{base}.image"), image),
        (None, Some(_)) => {}
    }
    if let Some(build) = &spec.build
        && build.context.trim().is_empty()
    {
        errors.add(
            format!("{base}.build.context"),
            "the build context is empty; set it to the source directory, like \".\"",
        );
    }
}

fn update_strategy(errors: &mut Errors, path: &str, update: &UpdateStrategy) {
    if update.max_surge == Some(0) && update.max_unavailable.unwrap_or(0) == 0 {
        errors.add(
            path,
            "maxSurge and maxUnavailable are both 0, so an update could never progress; \
             raise one of them",
        );
    }
    if update.progress_deadline_seconds == Some(0) {
        errors.add(
            format!("{path}.progressDeadlineSeconds"),
            "a deadline of 0 seconds would roll back every update; use at least 1",
        );
    }
}

/// Requests minicloud refuses rather than silently ignoring.
fn security(errors: &mut Errors, base: &str, spec: &AppSpec) {
    if spec.privileged {
        errors.add(
            format!("{base}.privileged"),
            "minicloud never runs privileged containers; remove spec.privileged",
        );
    }
    if spec.host_network {
        errors.add(
            format!("{base}.hostNetwork"),
            "tenant containers never share the host network; remove spec.hostNetwork and \
             expose the app through spec.ingress",
        );
    }
    for (field, asked) in [("hostPID", spec.host_pid), ("hostIPC", spec.host_ipc)] {
        if asked {
            errors.add(
                format!("{base}.{field}"),
                format!(
                    "tenant containers never share the host's process or IPC namespaces; \
                     remove spec.{field}"
                ),
            );
        }
    }
    let added = spec
        .capabilities
        .iter()
        .flat_map(|c| c.add.iter().enumerate());
    for (index, capability) in added {
        if !ALLOWED_CAPABILITIES.contains(&capability.as_str()) {
            errors.add(
                format!("{base}.capabilities.add[{index}]"),
                format!(
                    "capability {capability:?} may not be added: tenant containers run with \
                     all capabilities dropped and may get back only {}",
                    ALLOWED_CAPABILITIES.join(", ")
                ),
            );
        }
    }
}
