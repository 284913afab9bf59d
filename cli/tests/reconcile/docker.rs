//! The Docker side of the reconcile tests: what minicloud left on the engine for one tenant, and
//! a guard that removes all of it when a test ends, passed or failed.

use std::process::Command;

/// Runs `docker` with `args` and returns its stdout; the test fails if Docker is unreachable.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI");
    assert!(
        output.status.success(),
        "docker {args:?} failed: {} (these tests need a running Docker Engine; scripts/test.sh starts one)",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The ids of `kind` objects (`ps -a`, `network ls`, `volume ls`) carrying label `filter`.
fn ids(list: &[&str], filter: &str) -> Vec<String> {
    let mut args = list.to_vec();
    args.extend(["--filter", filter, "-q"]);
    docker(&args).lines().map(str::to_owned).collect()
}

/// Containers minicloud made for `tenant`, running or not.
pub fn containers(tenant: &str) -> Vec<String> {
    ids(&["ps", "-a"], &format!("label=minicloud.tenant={tenant}"))
}

/// Running containers minicloud made for `tenant`.
pub fn running_containers(tenant: &str) -> Vec<String> {
    let mut running = ids(&["ps"], &format!("label=minicloud.tenant={tenant}"));
    running.sort();
    running
}

/// Containers minicloud made for `app` of `tenant`, running or not, with their instance label.
pub fn app_containers(tenant: &str, app: &str) -> Vec<(String, String)> {
    let output = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=minicloud.tenant={tenant}"),
        "--filter",
        &format!("label=minicloud.app={app}"),
        "--format",
        "{{.ID}} {{.State}} {{.Label \"minicloud.instance\"}}",
    ]);
    output
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_id, state, instance) = (fields.next()?, fields.next()?, fields.next()?);
            Some((instance.to_owned(), state.to_owned()))
        })
        .collect()
}

/// Networks minicloud made for `tenant`.
pub fn networks(tenant: &str) -> Vec<String> {
    ids(
        &["network", "ls"],
        &format!("label=minicloud.tenant={tenant}"),
    )
}

/// Volumes minicloud made for `tenant`.
pub fn volumes(tenant: &str) -> Vec<String> {
    ids(
        &["volume", "ls"],
        &format!("label=minicloud.tenant={tenant}"),
    )
}

/// One field of `docker inspect` for a container, via a Go template.
pub fn inspect(id: &str, template: &str) -> String {
    docker(&["inspect", "--format", template, id])
        .trim()
        .to_owned()
}

/// Builds the example image `hello:1` when it is missing (scripts/images.sh does the work).
pub fn ensure_example_image() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/images.sh");
    let status = Command::new("bash")
        .arg(script)
        .status()
        .expect("run scripts/images.sh");
    assert!(
        status.success(),
        "scripts/images.sh could not build hello:1"
    );
}

/// Removes everything minicloud made for one tenant when dropped.
pub struct TenantCleanup(pub String);

impl Drop for TenantCleanup {
    fn drop(&mut self) {
        let label = format!("label=minicloud.tenant={}", self.0);
        let removals: [(&[&str], &[&str]); 3] = [
            (&["ps", "-a"], &["rm", "-f"]),
            (&["network", "ls"], &["network", "rm"]),
            (&["volume", "ls"], &["volume", "rm", "-f"]),
        ];
        for (list, remove) in removals {
            let mut args: Vec<String> = list.iter().map(|a| a.to_string()).collect();
            args.extend(["--filter".into(), label.clone(), "-q".into()]);
            let found = Command::new("docker").args(&args).output();
            let Ok(found) = found else { continue };
            let found = String::from_utf8_lossy(&found.stdout).into_owned();
            let targets: Vec<&str> = found.lines().collect();
            if !targets.is_empty() {
                let _ = Command::new("docker").args(remove).args(&targets).output();
            }
        }
    }
}
