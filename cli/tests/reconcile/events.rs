//! `mini events`: the history of an App's instances, and `-w` printing what happens as it
//! happens — scheduled, ready, restarted, deleted.

use std::time::{Duration, Instant};

use crate::{World, eventually};

pub fn events_tell_what_happened_to_an_app() {
    let world = World::start(&[]);
    let watcher = world
        .server
        .watch(&["events", "-w", "--for", "app/crashy", "-t", &world.tenant]);
    let manifest = format!(
        "apiVersion: minicloud/v1\nkind: App\nmetadata:\n  name: crashy\n  tenant: {}\nspec:\n  image: hello:1\n  command: [\"sh\", \"-c\", \"sleep 1; exit 3\"]\n",
        world.tenant
    );
    world.apply(&manifest);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut wanted = vec!["Scheduled=True", "Restarted", "Available="];
    while !wanted.is_empty() {
        assert!(Instant::now() < deadline, "still waiting for {wanted:?}");
        let line = watcher.next_line();
        wanted.retain(|event| !line.contains(event));
        if line.contains("Restarted") {
            assert!(line.contains("last exit code 3"), "{line}");
        }
    }
    let history = eventually("the history lists the instance's scheduling", || {
        let out = world
            .server
            .run(&["events", "--for", "app/crashy", "-t", &world.tenant])
            .ok();
        out.contains("instance/crashy-").then_some(out)
    });
    assert!(
        history
            .lines()
            .next()
            .unwrap_or_default()
            .starts_with("AGE"),
        "{history}"
    );
    let missing = world
        .server
        .run(&["events", "--for", "app/ghost", "-t", &world.tenant]);
    assert!(
        !missing.status.success() && missing.stderr.contains("not found"),
        "{}",
        missing.stderr
    );
}
