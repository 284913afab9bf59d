//! A Secret end to end: its value reaches the App's container as an env var (and nowhere the
//! CLI shows), and `mini secret rotate-key` re-encrypts it without the App noticing.

use crate::docker::{self, docker};
use crate::world::unique;
use crate::{World, eventually};

pub fn a_secret_reaches_the_container_only_as_an_env_var() {
    let world = World::start(&[]);
    let canary = unique("canary");
    let manifest = format!(
        "apiVersion: minicloud/v1\nkind: Secret\nmetadata: {{name: db, tenant: {tenant}}}\ndata: {{password: {canary}}}\n",
        tenant = world.tenant
    );
    world.apply(&manifest);
    let env =
        "  env:\n    - name: DB_PASSWORD\n      valueFrom: {secret: {name: db, key: password}}\n";
    world.apply_app("web", 1, env);
    let id = eventually("the app's container runs", || {
        docker::running_containers(&world.tenant).into_iter().next()
    });
    let seen = docker(&["exec", &id, "/bin/busybox", "env"]);
    assert!(
        seen.lines()
            .any(|line| line == format!("DB_PASSWORD={canary}")),
        "the container's env: {seen}"
    );
    let shown = world
        .server
        .run(&["get", "secret", "db", "-t", &world.tenant, "-o", "yaml"])
        .ok();
    assert!(shown.contains("password: \"********\""), "{shown}");
    assert!(!shown.contains(&canary), "{shown}");
    let described = world
        .server
        .run(&["describe", "secret", "db", "-t", &world.tenant])
        .ok();
    assert!(!described.contains(&canary), "{described}");
    let rotated = world.server.run(&["secret", "rotate-key"]).ok();
    assert!(rotated.starts_with("1 secret(s) re-encrypted"), "{rotated}");
    world
        .server
        .run(&["restart", "web", "-t", &world.tenant])
        .ok();
    let restarted = eventually("a new container runs after the restart", || {
        let running = docker::running_containers(&world.tenant);
        (running.len() == 1 && running[0] != id).then(|| running[0].clone())
    });
    let seen = docker(&["exec", &restarted, "/bin/busybox", "env"]);
    assert!(
        seen.contains(&format!("DB_PASSWORD={canary}")),
        "the value survives the rotation: {seen}"
    );
}
