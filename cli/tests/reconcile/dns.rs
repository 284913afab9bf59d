//! Internal DNS and isolation seen from inside tenant containers: `<app>` and
//! `<app>.<tenant>.internal` resolve within a tenant's network, and nothing of another tenant
//! resolves or answers.

use std::process::Command;

use crate::docker::{self, TenantCleanup, docker};
use crate::{World, eventually, unique};

/// The id of the running container of `app` in `tenant`.
fn container_of(tenant: &str, app: &str) -> Option<String> {
    let ids = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=minicloud.tenant={tenant}"),
        "--filter",
        &format!("label=minicloud.app={app}"),
    ]);
    ids.lines().next().map(str::to_owned)
}

/// Runs a command inside a container; its stdout and whether it succeeded.
fn exec(container: &str, command: &[&str]) -> (String, bool) {
    let output = Command::new("docker")
        .arg("exec")
        .arg(container)
        .args(command)
        .output()
        .expect("run docker exec");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        output.status.success(),
    )
}

/// An HTTP GET from inside `container` to `host`:8080 with busybox `nc`; the reply, if any.
fn http_get(container: &str, host: &str) -> Option<String> {
    let request =
        format!("printf 'GET / HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n' | nc -w 2 {host} 8080");
    let (reply, _) = exec(container, &["sh", "-c", &request]);
    (!reply.is_empty()).then_some(reply)
}

pub fn names_resolve_within_a_tenant_and_not_across() {
    let other = unique("u");
    // Declared before the world, so it runs after the server has stopped and cannot bring the
    // other tenant's container back.
    let _other_cleanup = TenantCleanup(other.clone());
    let world = World::start(&[]);
    world.apply_app("web", 1, "");
    world.apply_app("probe", 1, "");
    let manifest = format!(
        "apiVersion: minicloud/v1\nkind: App\nmetadata:\n  name: web\n  tenant: {other}\nspec:\n  image: hello:1\n  command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n  ports: [{{name: http, port: 8080}}]\n"
    );
    world.apply(&manifest);
    let tenant = world.tenant.clone();
    let (probe, web, foreign) = eventually("both tenants' containers run", || {
        Some((
            container_of(&tenant, "probe")?,
            container_of(&tenant, "web")?,
            container_of(&other, "web")?,
        ))
    });
    let web_ip = docker::inspect(
        &web,
        &format!("{{{{(index .NetworkSettings.Networks \"mc-{tenant}\").IPAddress}}}}"),
    );
    let foreign_ip = docker::inspect(
        &foreign,
        &format!("{{{{(index .NetworkSettings.Networks \"mc-{other}\").IPAddress}}}}"),
    );

    for name in ["web".to_owned(), format!("web.{tenant}.internal")] {
        let (answer, ok) = exec(&probe, &["nslookup", &name]);
        assert!(
            ok && answer.contains(&web_ip),
            "{name} should resolve to {web_ip}: {answer}"
        );
        let page = eventually(&format!("{name} answers"), || http_get(&probe, &name));
        assert!(page.contains("Hello from minicloud"), "{page}");
    }
    let (answer, ok) = exec(&probe, &["nslookup", &format!("web.{other}.internal")]);
    assert!(
        !ok && !answer.contains(&foreign_ip),
        "another tenant's name resolved: {answer}"
    );
    let (reply, _) = exec(
        &probe,
        &[
            "sh",
            "-c",
            &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {foreign_ip} 8080"),
        ],
    );
    assert!(
        reply.is_empty(),
        "another tenant's container answered: {reply}"
    );
}
