//! `mini logs`: every instance's output merged with instance prefixes, `--tail`, and `-f`
//! following a container across its restarts.

use std::time::{Duration, Instant};

use crate::{World, eventually};

/// An App whose every run prints a numbered greeting, then `tick` lines, then exits 1 (so it
/// restarts in place).
fn chatty(world: &World, replicas: u32) {
    let manifest = format!(
        "apiVersion: minicloud/v1\nkind: App\nmetadata:\n  name: chatty\n  tenant: {}\nspec:\n  image: hello:1\n  replicas: {replicas}\n  command: [\"sh\", \"-c\", \"echo run $(hostname); echo oops >&2; for i in 1 2 3; do echo tick $i; sleep 1; done; exit 1\"]\n",
        world.tenant
    );
    world.apply(&manifest);
}

pub fn logs_merge_instances_with_prefixes() {
    let world = World::start(&[]);
    chatty(&world, 2);
    let instances: Vec<String> = eventually("two instances run", || {
        let names: Vec<String> = world
            .objects("instances")
            .iter()
            .filter(|i| i["status"]["containerId"].is_string())
            .map(|i| {
                i["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        (names.len() == 2).then_some(names)
    });
    let (stdout, stderr) = eventually("both instances wrote their first tick", || {
        let outcome = world.server.run(&["logs", "chatty", "-t", &world.tenant]);
        let both = instances
            .iter()
            .all(|name| outcome.stdout.contains(&format!("[{name}] tick 1")));
        both.then_some((outcome.stdout, outcome.stderr))
    });
    for name in &instances {
        assert!(stdout.contains(&format!("[{name}] run {name}")), "{stdout}");
        assert!(
            stderr.contains(&format!("[{name}] oops")),
            "stderr lines go to stderr: {stderr}"
        );
    }
    let tail = world
        .server
        .run(&["logs", "chatty", "--tail", "1", "-t", &world.tenant]);
    assert!(tail.status.success(), "{}", tail.stderr);
    // The last line may be a stderr line, which goes to stderr.
    let lines = tail.stdout.lines().count() + tail.stderr.lines().count();
    assert_eq!(
        lines, 1,
        "the last line of all: {} / {}",
        tail.stdout, tail.stderr
    );
    let missing = world.server.run(&["logs", "ghost", "-t", &world.tenant]);
    assert!(
        !missing.status.success() && missing.stderr.contains("not found"),
        "{}",
        missing.stderr
    );
}

pub fn following_logs_continue_across_restarts() {
    let world = World::start(&[]);
    chatty(&world, 1);
    let watcher = world
        .server
        .watch(&["logs", "chatty", "-f", "-t", &world.tenant]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut runs = 0;
    while runs < 3 {
        assert!(Instant::now() < deadline, "saw {runs} runs in 60 s");
        if watcher.next_line().contains("] run ") {
            runs += 1;
        }
    }
}
