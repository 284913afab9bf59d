//! Rollouts end to end against the real Docker Engine: a `mini server` child process (API,
//! controllers and agent in one) rolls an App from release to release while `mini rollout
//! status` follows, rolls back a release whose containers never pass their health check, and
//! `mini rollout history`, `mini rollout undo` and `mini restart` do what they say to the
//! containers. The test works in a tenant of its own on a node of its own, and removes every
//! Docker object of that tenant when it ends.

// Shared with the other end-to-end tests, which use parts this test does not.
#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;

#[allow(dead_code)]
#[path = "../reconcile/docker.rs"]
mod docker;
#[allow(dead_code)]
#[path = "../reconcile/world.rs"]
mod world;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::Outcome;
use world::World;

/// The progress deadline of the release that never becomes ready, in seconds.
const DEADLINE_SECS: u32 = 10;
/// The progress deadline of the other releases: long, as a loaded machine can be slow to
/// start containers.
const PATIENT_SECS: u32 = 600;
/// How long `mini rollout status` follows a rollout before the test fails.
const ROLLOUT_TIMEOUT: &str = "150s";
/// How long containers may take to settle after a rollout reports its end (old ones stop
/// within their grace period).
const SETTLE: Duration = Duration::from_secs(60);

impl World {
    /// Applies App `web`: `replicas` of the example image serving HTTP, with `extra` lines of
    /// spec and a progress deadline of `deadline` seconds.
    fn apply_web(&self, replicas: u32, extra: &str, deadline: u32) {
        let manifest = format!(
            "apiVersion: minicloud/v1
kind: App
metadata:
  name: web
  tenant: {tenant}
spec:
  image: hello:1
  replicas: {replicas}
  command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]
  ports: [{{name: http, port: 8080}}]
  update: {{progressDeadlineSeconds: {deadline}}}
{extra}",
            tenant = self.tenant
        );
        self.apply(&manifest);
    }

    /// `mini ARGS… -t TENANT`.
    fn mini(&self, args: &[&str]) -> Outcome {
        let mut all = args.to_vec();
        all.extend(["-t", &self.tenant]);
        self.server.run(&all)
    }

    /// `mini rollout status web`, given up after [`ROLLOUT_TIMEOUT`] (a loaded machine can
    /// take long to start containers).
    fn rollout_status(&self) -> Outcome {
        let mut command = self
            .server
            .command(&["rollout", "status", "web", "-t", &self.tenant]);
        command.args(["--timeout", ROLLOUT_TIMEOUT]);
        let output = command.output().expect("run mini rollout status");
        Outcome {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The running containers of `web`, by id, with the Release each runs.
    fn containers(&self) -> BTreeSet<(String, String)> {
        let output = docker::docker(&[
            "ps",
            "--filter",
            &format!("label=minicloud.tenant={}", self.tenant),
            "--filter",
            "label=minicloud.app=web",
            "--format",
            "{{.ID}} {{.Label \"minicloud.release\"}}",
        ]);
        output
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(id, release)| (id.to_owned(), release.to_owned()))
            .collect()
    }

    /// The running containers of `web` once they are `replicas`, all of one Release.
    fn settled_containers(&self, replicas: usize) -> BTreeSet<(String, String)> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let containers = self.containers();
            if containers.len() == replicas && releases(&containers).len() == 1 {
                return containers;
            }
            assert!(
                Instant::now() < deadline,
                "containers never settled: {containers:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until no container of `release` is left, running or not.
    fn wait_gone(&self, release: &str) {
        let deadline = Instant::now() + SETTLE;
        let filters = [
            format!("label=minicloud.tenant={}", self.tenant),
            format!("label=minicloud.release={release}"),
        ];
        loop {
            let args = [
                "ps",
                "-a",
                "-q",
                "--filter",
                &filters[0],
                "--filter",
                &filters[1],
            ];
            let left = docker::docker(&args);
            if left.trim().is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{release} left containers: {left}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The rows of `mini rollout history web`, without the header, as (revision, status).
    fn history(&self) -> Vec<(String, String)> {
        let table = self.mini(&["rollout", "history", "web"]).ok();
        table
            .lines()
            .skip(1)
            .map(|row| {
                let cells: Vec<&str> = row.split("   ").map(str::trim).collect();
                let cells: Vec<&str> = cells.into_iter().filter(|c| !c.is_empty()).collect();
                (cells[0].to_owned(), cells[cells.len() - 1].to_owned())
            })
            .collect()
    }
}

fn ids(containers: &BTreeSet<(String, String)>) -> BTreeSet<String> {
    containers.iter().map(|(id, _)| id.clone()).collect()
}

fn releases(containers: &BTreeSet<(String, String)>) -> BTreeSet<String> {
    containers
        .iter()
        .map(|(_, release)| release.clone())
        .collect()
}

const GREETING: &str = "  env: [{name: GREETING, value: hi}]\n";

#[test]
fn a_release_that_never_becomes_ready_is_rolled_back_and_undo_keeps_what_runs() {
    let world = World::start(&[]);
    world.apply_web(2, "", PATIENT_SECS);
    let first = world.rollout_status().ok();
    assert!(
        first.ends_with("app/web successfully rolled out (release web-1 (revision 1))\n"),
        "{first}"
    );

    world.apply_web(2, GREETING, PATIENT_SECS);
    let second = world.rollout_status().ok();
    assert!(
        second.starts_with("Waiting for app/web rollout to finish"),
        "{second}"
    );
    assert!(
        second.ends_with("(release web-2 (revision 2))\n"),
        "{second}"
    );
    let v2 = world.settled_containers(2);
    assert_eq!(releases(&v2), BTreeSet::from(["web-2".into()]));

    // It runs, but its health check never passes: it never becomes ready.
    let unready = "  healthCheck: {http: {path: /missing, port: http}, periodSeconds: 1}\n";
    let broken = format!("{GREETING}{unready}");
    world.apply_web(2, &broken, DEADLINE_SECS);
    let failed = world.rollout_status();
    assert!(
        !failed.status.success(),
        "a release that never becomes ready fails"
    );
    assert!(
        failed
            .stderr
            .contains("release web-3 (revision 3) was not available within 10 s")
            && failed
                .stderr
                .contains("rolled back to release web-2 (revision 2)"),
        "{}",
        failed.stderr
    );
    world.wait_gone("web-3");
    assert_eq!(
        world.settled_containers(2),
        v2,
        "the ready containers are kept"
    );
    let statuses = [("1", "superseded"), ("2", "current"), ("3", "rolled back")];
    let expected: Vec<(String, String)> = statuses
        .iter()
        .map(|(r, s)| (r.to_string(), s.to_string()))
        .collect();
    assert_eq!(world.history(), expected);

    // The same spec with another deadline is the failed release still: nothing is tried again.
    world.apply_web(2, &broken, PATIENT_SECS);
    let again = world.rollout_status();
    assert!(!again.status.success() && again.stderr.contains("rolled back"));
    assert_eq!(world.history(), expected);
    assert_eq!(world.containers(), v2);

    let undone = world.mini(&["rollout", "undo", "web"]).ok();
    assert_eq!(
        undone,
        "app/web rolled back to revision 2 (web-2, image hello:1)\n"
    );
    let adopted = world.rollout_status().ok();
    assert!(
        adopted.ends_with("(release web-4 (revision 4))\n"),
        "{adopted}"
    );
    assert_eq!(
        world.containers(),
        v2,
        "revision 4 has revision 2's spec, so it keeps revision 2's containers"
    );
}

#[test]
fn undo_to_a_revision_and_restart_replace_every_container() {
    let world = World::start(&[]);
    world.apply_web(1, "", PATIENT_SECS);
    world.rollout_status().ok();
    world.apply_web(1, GREETING, PATIENT_SECS);
    world.rollout_status().ok();
    let v2 = world.settled_containers(1);

    let undone = world
        .mini(&["rollout", "undo", "web", "--to-revision", "1"])
        .ok();
    assert_eq!(
        undone,
        "app/web rolled back to revision 1 (web-1, image hello:1)\n"
    );
    let back = world.rollout_status().ok();
    assert!(back.ends_with("(release web-3 (revision 3))\n"), "{back}");
    let v3 = world.settled_containers(1);
    assert_eq!(releases(&v3), BTreeSet::from(["web-3".into()]));
    assert!(ids(&v3).is_disjoint(&ids(&v2)));
    for (id, _) in &v3 {
        let env = docker::inspect(id, "{{json .Config.Env}}");
        assert!(
            !env.contains("GREETING"),
            "revision 1 has no GREETING: {env}"
        );
    }

    assert_eq!(world.mini(&["restart", "web"]).ok(), "app/web restarted\n");
    let restarted = world.rollout_status().ok();
    assert!(
        restarted.ends_with("(release web-4 (revision 4))\n"),
        "{restarted}"
    );
    let v4 = world.settled_containers(1);
    assert_eq!(releases(&v4), BTreeSet::from(["web-4".into()]));
    assert!(
        ids(&v4).is_disjoint(&ids(&v3)),
        "every container was replaced"
    );
    let statuses: Vec<String> = world.history().into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        statuses,
        ["superseded", "superseded", "superseded", "current"]
    );
}
