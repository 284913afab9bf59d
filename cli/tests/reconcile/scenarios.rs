//! The reconcile scenarios: each starts a world, changes desired or actual state, and waits for
//! Docker to match.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::docker::{self, docker};
use crate::{World, eventually};

/// Waits until exactly `count` containers of the tenant run and as many Instances report it.
fn wait_for_running(world: &World, count: usize) -> Vec<String> {
    eventually(&format!("{count} containers run"), || {
        let running = docker::running_containers(&world.tenant);
        let instances = world.objects("instances");
        let ready = instances
            .iter()
            .filter(|i| i["status"]["phase"] == "Running")
            .count();
        let all = docker::containers(&world.tenant);
        (running.len() == count && all.len() == count && instances.len() == count && ready == count)
            .then_some(running)
    })
}

pub fn an_applied_app_runs_and_serves() {
    let world = World::start(&[]);
    world.apply_app("hello", 1, "");
    let running = wait_for_running(&world, 1);
    let instance = &world.objects("instances")[0];
    assert_eq!(
        instance["status"]["containerId"]
            .as_str()
            .map(|id| id.starts_with(&running[0][..12])),
        Some(true)
    );
    let ip = instance["status"]["ip"]
        .as_str()
        .expect("the instance reports its IP")
        .to_owned();
    let page = eventually("the app answers on its IP", || {
        let out = std::process::Command::new("curl")
            .args(["-fsS", "--max-time", "2", &format!("http://{ip}:8080/")])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert!(page.contains("Hello from minicloud"), "{page}");
    let app = &world.objects("apps")[0];
    eventually("the app reports one ready replica", || {
        let app = &world.objects("apps")[0];
        (app["status"]["readyReplicas"] == 1).then_some(())
    });
    assert_eq!(app["metadata"]["name"], "hello");
    let table = world
        .server
        .run(&["get", "instances", "-o", "wide", "-t", &world.tenant])
        .ok();
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    for column in [
        "NAME",
        "PHASE",
        "READY",
        "NODE",
        "CONTAINER",
        "IP",
        "RESTARTS",
    ] {
        assert!(header.contains(&column), "{column} is missing from {table}");
    }
    assert!(
        table.contains(&ip) && table.contains(&running[0][..12]),
        "{table}"
    );
    let description = world
        .server
        .run(&["describe", "app", "hello", "-t", &world.tenant])
        .ok();
    assert!(description.contains("Available     True"), "{description}");
    let events = description.split("Events:").nth(1).unwrap_or_default();
    assert!(
        events.contains("instance/hello-") && events.contains("Ready=True"),
        "{description}"
    );
}

pub fn scaling_follows_replicas_up_and_down() {
    let world = World::start(&[]);
    for replicas in [1, 3, 0, 2] {
        world.apply_app("hello", replicas, "");
        wait_for_running(&world, replicas as usize);
    }
}

pub fn deleting_the_app_leaves_nothing_behind() {
    let world = World::start(&[]);
    world.apply_app("hello", 2, "");
    wait_for_running(&world, 2);
    assert!(
        !docker::networks(&world.tenant).is_empty(),
        "the tenant network exists while the app runs"
    );
    world
        .server
        .run(&["delete", "app", "hello", "-t", &world.tenant])
        .ok();
    eventually(
        "no container, network or volume of the tenant is left",
        || {
            let left = docker::containers(&world.tenant).len()
                + docker::networks(&world.tenant).len()
                + docker::volumes(&world.tenant).len();
            (left == 0 && world.objects("instances").is_empty()).then_some(())
        },
    );
}

pub fn deleting_the_tenant_leaves_nothing_behind() {
    let world = World::start(&[]);
    let created = world
        .server
        .run(&["tenant", "create", &world.tenant, "--containers", "5"])
        .ok();
    let tenant_key = created.lines().nth(1).expect("the key line").to_owned();
    let others = format!(
        "apiVersion: minicloud/v1\nkind: Secret\nmetadata:\n  name: db\n  tenant: {tenant}\n\
         data:\n  password: hunter2\n---\napiVersion: minicloud/v1\nkind: Volume\nmetadata:\n  \
         name: data\n  tenant: {tenant}\nspec:\n  size: 64Mi\n",
        tenant = world.tenant
    );
    world.apply(&others);
    world.apply_app("web", 2, "");
    world.apply_app("api", 1, "");
    wait_for_running(&world, 3);
    world.server.run(&["delete", "tenant", &world.tenant]).ok();
    let kinds = [
        "apps",
        "releases",
        "instances",
        "volumes",
        "snapshots",
        "secrets",
        "apikeys",
    ];
    crate::eventually_explained(
        "nothing of the tenant is left, in Docker or in the API",
        || {
            let docker = (
                docker::containers(&world.tenant),
                docker::networks(&world.tenant),
                docker::volumes(&world.tenant),
            );
            let objects: Vec<usize> = kinds.iter().map(|kind| world.objects(kind).len()).collect();
            let docker_empty = docker.0.is_empty() && docker.1.is_empty() && docker.2.is_empty();
            match docker_empty && objects.iter().all(|n| *n == 0) {
                true => Ok(()),
                false => Err(format!(
                    "left: containers/networks/volumes {docker:?}, {kinds:?} {objects:?}"
                )),
            }
        },
    );
    let mut as_tenant = world.server.command(&["get", "apps"]);
    as_tenant.env("MINI_KEY", &tenant_key);
    let refused = crate::support::run(as_tenant);
    assert!(
        refused.stderr.contains("not valid"),
        "the tenant's key went with it: {}",
        refused.stderr
    );
    let quota = world.server.run(&["quota", "-t", &world.tenant]);
    assert!(
        quota.stderr.contains("has no Tenant object"),
        "the Tenant and its usage are gone: {}",
        quota.stderr
    );
}

pub fn a_removed_container_comes_back_within_five_seconds() {
    let world = World::start(&[]);
    world.apply_app("hello", 1, "");
    let before = wait_for_running(&world, 1);
    docker(&["rm", "-f", &before[0]]);
    let removed_at = Instant::now();
    let deadline = removed_at + Duration::from_secs(5);
    loop {
        let running = docker::running_containers(&world.tenant);
        if running.len() == 1 && running != before {
            eprintln!("recreated in {:?}", removed_at.elapsed());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the container was not recreated within 5 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn an_exiting_container_is_restarted_and_reported() {
    let world = World::start(&[]);
    let manifest = "apiVersion: minicloud/v1\nkind: App\nmetadata:\n  name: crashy\n  tenant: TENANT\nspec:\n  image: hello:1\n  replicas: 1\n  command: [\"sh\", \"-c\", \"sleep 1; exit 3\"]\n".replace("TENANT", &world.tenant);
    world.apply(&manifest);
    let status = eventually("the instance reports a restart and exit code 3", || {
        let instance = world.objects("instances").into_iter().next()?;
        let status = instance["status"].clone();
        (status["restarts"].as_u64()? >= 1 && status["lastExitCode"] == 3).then_some(status)
    });
    assert_eq!(
        docker::containers(&world.tenant).len(),
        1,
        "restarted in place, not duplicated: {status}"
    );
}

pub fn a_container_minicloud_did_not_make_is_never_touched() {
    let world = World::start(&[]);
    let name = crate::unique("foreign");
    docker(&["run", "-d", "--name", &name, "hello:1"]);
    world.apply_app("hello", 2, "");
    wait_for_running(&world, 2);
    world
        .server
        .run(&["delete", "app", "hello", "-t", &world.tenant])
        .ok();
    eventually("the app is gone", || {
        docker::containers(&world.tenant).is_empty().then_some(())
    });
    let state = docker::inspect(&name, "{{.State.Running}}");
    docker(&["rm", "-f", &name]);
    assert_eq!(
        state, "true",
        "a container without minicloud's labels must survive"
    );
}

pub fn tenant_containers_carry_every_security_default() {
    let world = World::start(&[]);
    world.apply_app("hello", 1, "");
    let id = wait_for_running(&world, 1).remove(0);
    let field = |template: &str| docker::inspect(&id, template);
    assert_eq!(field("{{json .HostConfig.CapDrop}}"), "[\"ALL\"]");
    assert!(field("{{json .HostConfig.SecurityOpt}}").contains("no-new-privileges"));
    assert_eq!(field("{{.HostConfig.ReadonlyRootfs}}"), "true");
    assert_eq!(field("{{.HostConfig.Init}}"), "true");
    assert!(field("{{json .HostConfig.Tmpfs}}").contains("/tmp"));
    assert_ne!(field("{{.HostConfig.Memory}}"), "0");
    assert_ne!(field("{{.HostConfig.NanoCpus}}"), "0");
    assert_ne!(field("{{.HostConfig.PidsLimit}}"), "<nil>");
    assert_eq!(field("{{.HostConfig.Privileged}}"), "false");
    assert_eq!(
        field("{{json .HostConfig.PortBindings}}").replace("null", "{}"),
        "{}"
    );
    assert_ne!(field("{{.Config.User}}"), "");
    assert_eq!(
        field("{{.HostConfig.NetworkMode}}"),
        format!("mc-{}", world.tenant)
    );
    assert_eq!(
        field("{{index .HostConfig.LogConfig.Config \"max-size\"}}"),
        "10m"
    );
    for label in ["tenant", "app", "instance", "release", "node"] {
        let value = field(&format!(
            "{{{{index .Config.Labels \"minicloud.{label}\"}}}}"
        ));
        assert!(
            !value.is_empty() && value != "<no value>",
            "label minicloud.{label} is missing"
        );
    }
    let json: Value = serde_json::from_str(&docker(&["inspect", &id])).unwrap();
    let aliases = json[0]["NetworkSettings"]["Networks"][format!("mc-{}", world.tenant)]["Aliases"]
        .to_string();
    assert!(
        aliases.contains(&format!("hello.{}.internal", world.tenant)),
        "{aliases}"
    );
}
