//! Kept logs end to end: an App's output is readable and searchable after the App is deleted;
//! one tenant's flood, overlong line and invalid UTF-8 leave another tenant's lines intact
//! while retention drops the flooder's oldest; a follower sees every numbered line once across
//! an agent restart.

use crate::docker::TenantCleanup;
use crate::support::{Server, Watcher, free_port};
use crate::{World, eventually, unique};

/// An App manifest of `tenant` running `script` in busybox sh.
fn app(tenant: &str, name: &str, script: &str) -> String {
    format!(
        "apiVersion: minicloud/v1\nkind: App\nmetadata:\n  name: {name}\n  tenant: {tenant}\nspec:\n  image: hello:1\n  command: [\"sh\", \"-c\", {script:?}]\n"
    )
}

/// The lines `mini logs ARGS` prints on stdout.
fn logs(server: &Server, args: &[&str]) -> Vec<String> {
    let mut all = vec!["logs"];
    all.extend_from_slice(args);
    let outcome = server.run(&all);
    assert!(outcome.status.success(), "mini {all:?}: {}", outcome.stderr);
    outcome.stdout.lines().map(str::to_owned).collect()
}

fn lines_of(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

/// The numbers of lines `<prefix> N`, in order.
fn numbers(lines: &[String], prefix: &str) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|line| line.split_once(prefix)?.1.trim().parse().ok())
        .collect()
}

pub fn logs_of_a_deleted_app_are_still_readable_and_searchable() {
    let world = World::start(&[]);
    let script = "i=0; while [ $i -lt 50 ]; do i=$((i+1)); echo \"entry $i\"; done; sleep 1; echo 'fatal: disk on fire' >&2; while true; do sleep 1; done";
    world.apply(&app(&world.tenant, "diary", script));
    let tenant = world.tenant.as_str();
    eventually("the App's 50 entries are kept", || {
        let lines = logs(&world.server, &["diary", "-t", tenant]);
        (numbers(&lines, "] entry ").len() == 50).then_some(())
    });
    let instance = world.objects("instances")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    world
        .server
        .run(&["delete", "app", "diary", "-t", tenant])
        .ok();
    eventually("the App's container is gone", || {
        let left = crate::docker::containers(tenant);
        left.is_empty().then_some(())
    });

    let all = logs(&world.server, &["diary", "-t", tenant]);
    assert_eq!(numbers(&all, "] entry "), (1..=50).collect::<Vec<_>>());
    let grep = logs(
        &world.server,
        &["diary", "-t", tenant, "--grep", "entry 4[0-9]$"],
    );
    assert_eq!(numbers(&grep, "] entry "), (40..=49).collect::<Vec<_>>());
    let fatal = world
        .server
        .run(&["logs", "diary", "-t", tenant, "--grep", "fatal"]);
    assert!(
        fatal
            .stderr
            .contains(&format!("[{instance}] fatal: disk on fire")),
        "stderr lines go to stderr: {}",
        fatal.stderr
    );
    let tail = world
        .server
        .run(&["logs", "diary", "-t", tenant, "--tail", "3"]);
    assert_eq!(numbers(&lines_of(&tail.stdout), "] entry "), [49, 50]);
    assert!(tail.stderr.contains("fatal"), "the last line is on stderr");
    let of_instance = logs(
        &world.server,
        &["diary", "-t", tenant, "--instance", &instance],
    );
    assert_eq!(of_instance.len(), 50);
    assert!(
        logs(
            &world.server,
            &["diary", "-t", tenant, "--instance", "other"]
        )
        .is_empty()
    );
    assert_eq!(
        logs(&world.server, &["diary", "-t", tenant, "--release", "1"]).len(),
        50
    );
    assert!(logs(&world.server, &["diary", "-t", tenant, "--release", "2"]).is_empty());

    let bad = world
        .server
        .run(&["logs", "diary", "-t", tenant, "--grep", "(entry"]);
    assert!(
        !bad.status.success() && bad.stderr.contains("grep: ") && bad.stderr.contains("unclosed"),
        "{}",
        bad.stderr
    );
    let ghost = world.server.run(&["logs", "ghost", "-t", tenant]);
    assert!(
        !ghost.status.success() && ghost.stderr.contains("not found"),
        "{}",
        ghost.stderr
    );
}

pub fn a_flood_an_overlong_line_and_garbage_leave_other_tenants_intact() {
    let noisy = unique("n");
    // Declared before the world, so it runs after the server has stopped.
    let _noisy_cleanup = TenantCleanup(noisy.clone());
    let world = World::start(&["--log-retention-size", "2Mi"]);
    let quiet = world.tenant.clone();
    let steady = "i=0; while true; do i=$((i+1)); echo \"steady $i\"; sleep 0.1; done";
    world.apply(&app(&quiet, "steady", steady));
    let flood = "echo 'first line'; for r in 1 2 3 4 5; do seq 1 100000; sleep 1; done; sleep 5; \
                 head -c 10485760 /dev/zero | tr '\\0' x; echo; printf 'bad \\377\\376 bytes\\n'; \
                 echo 'flood over'; while true; do sleep 1; done";
    world.apply(&app(&noisy, "flood", flood));
    eventually("the flood is over and kept", || {
        let over = logs(
            &world.server,
            &["flood", "-t", &noisy, "--grep", "flood over"],
        );
        (!over.is_empty()).then_some(())
    });

    let kept = world.server.run(&["logs", "flood", "-t", &noisy]);
    assert!(kept.status.success(), "{}", kept.stderr);
    assert!(
        kept.stdout.len() < 3 * 1024 * 1024,
        "the flooder keeps about its 2 MiB, printed {} bytes",
        kept.stdout.len()
    );
    assert!(
        !kept.stdout.contains("] first line"),
        "its oldest lines were dropped"
    );
    let cut = kept
        .stdout
        .lines()
        .find(|line| line.contains("xxxx"))
        .expect("the 10 MB line is kept, cut");
    // The count is of the bytes the engine delivered: Docker's json-file rotation, which the
    // 10 MB line crosses, can lose part of a line a follower has not read yet.
    let delivered: usize = cut
        .rsplit_once(" [line cut: ")
        .and_then(|(_, tail)| tail.strip_suffix(" bytes in all]"))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "a cut line ends with its marker: {:?}",
                &cut[cut.len().saturating_sub(60)..]
            )
        });
    assert!(
        cut.len() < 20 * 1024 && (1024 * 1024..=10_485_760).contains(&delivered),
        "a cut line of {} bytes, of {delivered} delivered",
        cut.len()
    );
    assert!(
        kept.stdout.contains("] bad \u{fffd}\u{fffd} bytes"),
        "invalid UTF-8 is replaced"
    );

    let steady_lines = logs(&world.server, &["steady", "-t", &quiet]);
    let counted = numbers(&steady_lines, "] steady ");
    assert!(counted.len() > 50, "{} steady lines", counted.len());
    assert_eq!(
        counted,
        (1..=counted.len() as u64).collect::<Vec<_>>(),
        "every line of the quiet tenant is kept, in order"
    );
}

/// A standalone `mini agent` of `server` on a fixed port, keeping its logs under `dir`.
fn start_agent(server: &Server, node: &str, port: u16, dir: &std::path::Path) -> Watcher {
    let listen = format!("127.0.0.1:{port}");
    let storage = dir.join("storage");
    let agent = server.watch(&[
        "agent",
        "--listen",
        &listen,
        "--ingress-listen",
        "off",
        "--node-name",
        node,
        "--storage-dir",
        storage.to_str().unwrap(),
    ]);
    let line = agent.next_line();
    assert!(
        line.starts_with("minicloud agent listening on "),
        "{line:?}"
    );
    agent
}

pub fn following_across_an_agent_restart_has_no_gap_and_no_duplicate() {
    let tenant = unique("t");
    let _cleanup = TenantCleanup(tenant.clone());
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&[
        "--data-dir",
        data.path().join("server").to_str().unwrap(),
        "--no-agent",
    ]);
    let node = unique("node");
    let port = free_port();
    let agent = start_agent(&server, &node, port, data.path());
    let counter = "i=0; while true; do i=$((i+1)); echo \"n $i\"; sleep 0.05; done";
    server.run(&["tenant", "create", &tenant]).ok();
    let manifest = app(&tenant, "counter", counter);
    let file = crate::support::write_file(data.path(), "counter.yaml", &manifest);
    server.run(&["apply", "-f", &file]).ok();
    let follower = server.watch(&["logs", "counter", "-f", "-t", &tenant]);
    let mut seen = Vec::new();
    let read_until = |seen: &mut Vec<u64>, last: u64| {
        while seen.last().is_none_or(|n| *n < last) {
            let line = follower.next_line();
            seen.extend(numbers(std::slice::from_ref(&line), "] n "));
        }
    };
    read_until(&mut seen, 40);
    drop(agent);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let _agent = start_agent(&server, &node, port, data.path());
    let before = *seen.last().unwrap();
    read_until(&mut seen, before + 100);
    let first = seen[0];
    assert_eq!(
        seen,
        (first..first + seen.len() as u64).collect::<Vec<_>>(),
        "every line once, in order"
    );
}
