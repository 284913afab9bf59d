//! Convergence when things fail under minicloud: its controllers killed mid-way, and the Docker
//! Engine itself restarted.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use rand::Rng;

use crate::docker;
use crate::support::{ChildGuard, mini};
use crate::{World, eventually, eventually_explained};

/// `mini controllers` for `world`'s server, killed with SIGKILL when dropped.
fn start_controllers(world: &World) -> ChildGuard {
    let child = mini()
        .args(["controllers", "--server", &world.server.url])
        .env("MINI_KEY", &world.server.key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start mini controllers");
    ChildGuard(child)
}

/// Waits until Docker holds exactly `desired` running containers per app of the tenant, one per
/// Instance and no other, and the Instances say the same.
fn wait_for_exactly(world: &World, desired: &BTreeMap<&str, u32>) {
    eventually_explained(&format!("exactly {desired:?} containers run"), || {
        let containers: BTreeMap<&str, _> = desired
            .keys()
            .map(|app| (*app, docker::app_containers(&world.tenant, app)))
            .collect();
        let instances: Vec<(String, String)> = world
            .objects("instances")
            .iter()
            .map(|i| {
                (
                    i["metadata"]["name"].to_string(),
                    i["status"]["phase"].to_string(),
                )
            })
            .collect();
        let total: u32 = desired.values().sum();
        let converged = desired.iter().all(|(app, replicas)| {
            let running = containers[app]
                .iter()
                .filter(|(_, state)| state == "running")
                .count();
            containers[app].len() == *replicas as usize && running == *replicas as usize
        }) && docker::containers(&world.tenant).len() == total as usize
            && instances.len() == total as usize
            && instances.iter().all(|(_, phase)| phase == "\"Running\"");
        match converged {
            true => Ok(()),
            false => Err(format!(
                "containers {containers:?}, instances {instances:?}"
            )),
        }
    });
}

/// Asserts that no two containers of the tenant claim the same Instance.
fn assert_no_duplicates(world: &World, apps: &[&str]) {
    let mut seen = std::collections::BTreeSet::new();
    for app in apps {
        for (instance, _) in docker::app_containers(&world.tenant, app) {
            assert!(
                seen.insert(instance.clone()),
                "two containers for instance {instance}"
            );
        }
    }
}

pub fn controllers_killed_at_random_points_converge_exactly() {
    let world = World::start(&["--no-controllers"]);
    let mut rng = rand::rng();
    let mut desired = BTreeMap::from([("web", 1), ("api", 0)]);
    for round in 0..20 {
        let controllers = start_controllers(&world);
        if round % 2 == 0 {
            let web = rng.random_range(1..=4);
            let api = rng.random_range(1..=3);
            world.apply_app("web", web, "");
            world.apply_app("api", api, "");
            desired.insert("web", web);
            desired.insert("api", api);
        } else {
            world
                .server
                .run(&["delete", "app", "api", "-t", &world.tenant])
                .ok();
            let web = rng.random_range(0..=4);
            world.apply_app("web", web, "");
            desired.insert("api", 0);
            desired.insert("web", web);
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..2500)));
        drop(controllers);
    }
    let _controllers = start_controllers(&world);
    wait_for_exactly(&world, &desired);
    std::thread::sleep(Duration::from_secs(3));
    wait_for_exactly(&world, &desired);
    assert_no_duplicates(&world, &["web", "api"]);
    eprintln!("converged to {desired:?} after 20 kills");
}

pub fn the_system_converges_after_dockerd_restarts() {
    let world = World::start(&[]);
    world.apply_app("hello", 2, "");
    let desired = BTreeMap::from([("hello", 2)]);
    wait_for_exactly(&world, &desired);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/restart-dockerd.sh");
    let status = std::process::Command::new("bash")
        .arg(script)
        .status()
        .expect("run restart-dockerd.sh");
    assert!(status.success(), "scripts/restart-dockerd.sh failed");
    wait_for_exactly(&world, &desired);
    assert_no_duplicates(&world, &["hello"]);
    let removed = docker::running_containers(&world.tenant).remove(0);
    docker::docker(&["rm", "-f", &removed]);
    let started = std::time::Instant::now();
    wait_for_exactly(&world, &desired);
    eprintln!(
        "after the engine restart, a removed container came back in {:?}",
        started.elapsed()
    );
    let instance = &world.objects("instances")[0];
    let ip = instance["status"]["ip"]
        .as_str()
        .expect("the instance reports its IP")
        .to_owned();
    eventually("the app answers again", || {
        let out = std::process::Command::new("curl")
            .args(["-fsS", "--max-time", "2", &format!("http://{ip}:8080/")])
            .output()
            .ok()?;
        out.status.success().then_some(())
    });
}
