//! Rules shared by an App's spec and an Instance's container: env, ports, resources, mounts
//! and health checks.

use std::collections::HashSet;

use super::Errors;
use super::names::{DNS_LABEL_HELP, is_dns_label, is_env_name, is_port_name, is_secret_key};
use crate::kinds::{
    EnvVar, HealthCheck, Port, PortRef, Protocol, Resources, SecretKeyRef, VolumeMount,
};
use crate::quantity::{Bytes, Cpu};

/// Most CPU one container may ask for.
pub(crate) const MAX_CPU: Cpu = Cpu::from_millis(64_000);
/// Least memory Docker accepts for a container.
pub(crate) const MIN_MEMORY: Bytes = Bytes::mebibytes(6);
/// Most memory one container may ask for.
pub(crate) const MAX_MEMORY: Bytes = Bytes::gibibytes(256);
/// Most processes one container may ask for.
pub(crate) const MAX_PIDS: u32 = 32_768;
/// Longest probe period, delay or timeout, in seconds.
const MAX_PROBE_SECONDS: u32 = 3_600;
/// Paths the kernel or runtime owns, which volumes may not cover.
const SYSTEM_PATHS: [&str; 3] = ["/proc", "/sys", "/dev"];

pub(super) fn image(errors: &mut Errors, path: &str, image: &str) {
    if image.is_empty() || image.contains(|c: char| c.is_whitespace() || c.is_control()) {
        errors.add(
            path,
            format!(
                "{image:?} is not a valid image reference; write it like \"nginx:1.27\" or \
             \"registry.example.com/team/app@sha256:…\""
            ),
        );
    }
}

pub(super) fn env(errors: &mut Errors, base: &str, env: &[EnvVar]) {
    let mut seen = HashSet::new();
    for (i, var) in env.iter().enumerate() {
        let path = format!("{base}.env[{i}]");
        if !is_env_name(&var.name) {
            errors.add(
                format!("{path}.name"),
                format!(
                    "{:?} is not a valid environment variable name; use letters, digits and '_' \
                     and don't start with a digit",
                    var.name
                ),
            );
        } else if !seen.insert(var.name.as_str()) {
            errors.add(
                format!("{path}.name"),
                format!("environment variable {:?} is set twice; keep one", var.name),
            );
        }
        if var.value.is_some() && var.value_from.is_some() {
            errors.add(&path, "set either value or valueFrom, not both");
        }
        if let Some(source) = &var.value_from {
            secret_ref(errors, &format!("{path}.valueFrom.secret"), &source.secret);
        }
    }
}

fn secret_ref(errors: &mut Errors, path: &str, secret: &SecretKeyRef) {
    if !is_dns_label(&secret.name) {
        errors.add(
            format!("{path}.name"),
            format!(
                "{:?} is not a valid Secret name; {DNS_LABEL_HELP}",
                secret.name
            ),
        );
    }
    if !is_secret_key(&secret.key) {
        errors.add(
            format!("{path}.key"),
            format!(
                "{:?} is not a valid Secret key; use letters, digits, '-', '_' and '.'",
                secret.key
            ),
        );
    }
}

pub(super) fn ports(errors: &mut Errors, base: &str, ports: &[Port]) {
    let mut names = HashSet::new();
    let mut numbers = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let path = format!("{base}.ports[{i}]");
        if port.port == 0 {
            errors.add(format!("{path}.port"), "port 0 is not a port; use 1-65535");
        } else if !numbers.insert((port.port, port.protocol.unwrap_or(Protocol::Tcp))) {
            errors.add(
                format!("{path}.port"),
                format!(
                    "port {} is declared twice; declare each port once",
                    port.port
                ),
            );
        }
        let Some(name) = &port.name else { continue };
        if !is_port_name(name) {
            errors.add(
                format!("{path}.name"),
                format!(
                    "{name:?} is not a valid port name; use at most 15 lowercase letters, digits \
                 and '-', with at least one letter"
                ),
            );
        } else if !names.insert(name.as_str()) {
            errors.add(
                format!("{path}.name"),
                format!("port name {name:?} is used twice; give each port its own name"),
            );
        }
    }
}

/// Checks that `port` names or numbers a TCP port in `ports`.
pub(super) fn port_ref(errors: &mut Errors, path: &str, port: &PortRef, ports: &[Port]) {
    let found = ports.iter().find(|p| match port {
        PortRef::Number(n) => p.port == *n,
        PortRef::Name(name) => p.name.as_deref() == Some(name.as_str()),
    });
    match (found, port) {
        (None, PortRef::Name(name)) => errors.add(
            path,
            format!(
                "no port is named {name:?}; name one of spec.ports {name:?} or use a port number"
            ),
        ),
        (None, PortRef::Number(0)) => errors.add(path, "port 0 is not a port; use 1-65535"),
        (None, PortRef::Number(n)) => errors.add(
            path,
            format!("port {n} is not declared; add it to spec.ports"),
        ),
        (Some(p), _) if p.protocol == Some(Protocol::Udp) => {
            errors.add(path, format!("port {port} is UDP; HTTP needs a TCP port"))
        }
        (Some(_), _) => {}
    }
}

pub(super) fn resources(errors: &mut Errors, path: &str, resources: &Resources) {
    if let Some(cpu) = resources.cpu
        && (cpu == Cpu::ZERO || cpu > MAX_CPU)
    {
        errors.add(
            format!("{path}.cpu"),
            format!("cpu {cpu} is out of range; use more than 0 and at most {MAX_CPU} cores"),
        );
    }
    if let Some(memory) = resources.memory
        && (memory < MIN_MEMORY || memory > MAX_MEMORY)
    {
        errors.add(
            format!("{path}.memory"),
            format!("memory {memory} is out of range; use between {MIN_MEMORY} and {MAX_MEMORY}"),
        );
    }
    if let Some(pids) = resources.pids
        && !(1..=MAX_PIDS).contains(&pids)
    {
        errors.add(
            format!("{path}.pids"),
            format!("pids {pids} is out of range; use between 1 and {MAX_PIDS}"),
        );
    }
}

pub(super) fn mounts(errors: &mut Errors, base: &str, mounts: &[VolumeMount]) {
    let mut volumes = HashSet::new();
    let mut placed: Vec<(usize, &str)> = Vec::new();
    for (i, mount) in mounts.iter().enumerate() {
        let path = format!("{base}.volumes[{i}]");
        if !is_dns_label(&mount.name) {
            errors.add(
                format!("{path}.name"),
                format!(
                    "{:?} is not a valid Volume name; {DNS_LABEL_HELP}",
                    mount.name
                ),
            );
        } else if !volumes.insert(mount.name.as_str()) {
            errors.add(
                format!("{path}.name"),
                format!(
                    "volume {:?} is mounted twice; mount each volume once",
                    mount.name
                ),
            );
        }
        if mount.host_path.is_some() {
            errors.add(
                format!("{path}.hostPath"),
                "tenant containers never mount paths of the host; remove hostPath and mount a \
                 Volume of the tenant (`name: VOLUME`) instead",
            );
        }
        if let Some(problem) = mount_path_problem(&mount.mount_path) {
            errors.add(format!("{path}.mountPath"), problem);
            continue;
        }
        let here = mount.mount_path.trim_end_matches('/');
        if let Some(problem) = placed
            .iter()
            .find_map(|&(j, there)| clash(base, (j, there), (i, here)))
        {
            errors.add(format!("{path}.mountPath"), problem);
        }
        placed.push((i, here));
    }
}

/// Why mounting at `here` (mount `i`) clashes with the earlier mount `j` at `there`, if it does:
/// the same path, or one inside the other, which would hide part of a volume behind another.
fn clash(base: &str, (j, there): (usize, &str), (i, here): (usize, &str)) -> Option<String> {
    let inside = |inner: &str, outer: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
    };
    let (earlier, later) = (
        format!("{base}.volumes[{j}].mountPath"),
        format!("{base}.volumes[{i}].mountPath"),
    );
    if here == there {
        Some(format!(
            "{here:?} is used by two mounts, {earlier} and {later}; give each mount its own path"
        ))
    } else if inside(here, there) || inside(there, here) {
        Some(format!(
            "{earlier} {there:?} and {later} {here:?} overlap: one is inside the other, so one \
             volume would hide part of the other; mount them side by side, like \"/data\" and \
             \"/cache\""
        ))
    } else {
        None
    }
}

fn mount_path_problem(path: &str) -> Option<String> {
    let trimmed = path.trim_end_matches('/');
    if !path.starts_with('/') {
        Some(format!(
            "{path:?} is not an absolute path; start it with '/', like \"/data\""
        ))
    } else if trimmed.is_empty() {
        Some("a volume cannot be mounted on '/'; use a directory like \"/data\"".into())
    } else if trimmed
        .split('/')
        .skip(1)
        .any(|part| part.is_empty() || part == ".." || part == ".")
    {
        Some(format!(
            "{path:?} contains '.', '..' or an empty segment ('//'); write the plain absolute \
             path, like \"/data\""
        ))
    } else if SYSTEM_PATHS
        .iter()
        .any(|p| trimmed == *p || trimmed.starts_with(&format!("{p}/")))
    {
        Some(format!(
            "{path:?} is owned by the kernel and the container runtime ({}); mount somewhere \
             else, like \"/data\"",
            SYSTEM_PATHS.join(", ")
        ))
    } else {
        None
    }
}

pub(super) fn health_check(errors: &mut Errors, path: &str, check: &HealthCheck, ports: &[Port]) {
    if !check.http.path.starts_with('/') {
        errors.add(
            format!("{path}.http.path"),
            format!(
                "{:?} is not an absolute URL path; start it with '/', like \"/healthz\"",
                check.http.path
            ),
        );
    }
    port_ref(
        errors,
        &format!("{path}.http.port"),
        &check.http.port,
        ports,
    );
    let ranges = [
        ("initialDelaySeconds", check.initial_delay_seconds, 0),
        ("periodSeconds", check.period_seconds, 1),
        ("timeoutSeconds", check.timeout_seconds, 1),
        ("failureThreshold", check.failure_threshold, 1),
        ("successThreshold", check.success_threshold, 1),
    ];
    for (field, value, min) in ranges {
        if let Some(value) = value
            && !(min..=MAX_PROBE_SECONDS).contains(&value)
        {
            errors.add(
                format!("{path}.{field}"),
                format!("{value} is out of range; use between {min} and {MAX_PROBE_SECONDS}"),
            );
        }
    }
}
