//! `mini usage`: usage records integrated by the server from what the agent samples through
//! Docker — a 3-replica App burning its CPU limit shows, within 5 %, the core-seconds the
//! kernel counted for its containers (which is its limits × time on a host with the cores to
//! spare, and never more), and allocated core-seconds exactly as limits × time; the records
//! survive a server crash without counting anything twice; requests through the ingress and
//! their response bytes are counted exactly; a tenant key reads only its tenant; bad ranges are
//! refused with what to give instead.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::{World, eventually_explained};

/// Replicas of the burning App, and the CPU limit of each, in cores.
const REPLICAS: f64 = 3.0;
const CPU_LIMIT: f64 = 0.25;
/// How long the use is measured over, between two reports.
const WINDOW: Duration = Duration::from_secs(60);

/// The size of the example image's `index.html`, which every request below fetches.
const INDEX_BYTES: u64 = 181;

/// `GET /` of `host` through the ingress at `ingress`: the status line's code.
fn get(ingress: SocketAddr, host: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(ingress).ok()?;
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// The ingress requests and response bytes the report gives the App `app`.
fn traffic(world: &World, range: &(String, String), app: &str) -> (u64, u64) {
    let report = report(world, range);
    let row = report["records"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["app"] == app))
        .cloned()
        .unwrap_or(Value::Null);
    (
        row["ingressRequests"].as_u64().unwrap_or(0),
        row["ingressBytes"].as_u64().unwrap_or(0),
    )
}

/// Requests through the ingress are metered exactly, response bytes included.
fn ingress_traffic_is_counted_exactly(world: &World, range: &(String, String)) {
    world.apply_app("web", 1, "  ingress: {port: http}\n");
    let host = format!("web.{}.localhost", world.tenant);
    eventually_explained("the web app answers through the ingress", || {
        match get(world.ingress, &host) {
            Some(200) => Ok(()),
            seen => Err(format!("{seen:?}")),
        }
    });
    // Two metering rounds, so the waiting requests are all in the baseline.
    std::thread::sleep(Duration::from_secs(3));
    let before = traffic(world, range, "web");
    for _ in 0..20 {
        assert_eq!(get(world.ingress, &host), Some(200));
    }
    let expected = (before.0 + 20, before.1 + 20 * INDEX_BYTES);
    eventually_explained(
        "the report counts the 20 requests and their bytes",
        || match traffic(world, range, "web") {
            seen if seen == expected => Ok(()),
            seen => Err(format!("{seen:?}, expected {expected:?}")),
        },
    );
    println!(
        "ingress: 20 requests of {INDEX_BYTES} bytes counted as {expected:?} (from {before:?})"
    );
}

/// What a report says of the App over the test's range, how far it is integrated, and the
/// CPU time the kernel counted for the App's containers just after.
#[derive(Debug, Clone, Copy)]
struct Totals {
    used: f64,
    allocated: f64,
    instance_hours: f64,
    integrated_to_millis: i64,
    kernel: f64,
}

/// The range of whole hours around now: from the hour before to two hours after.
fn range() -> (String, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let hour = now - now % 3_600;
    let stamp = |seconds: u64| {
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds)).to_string()
    };
    (stamp(hour - 3_600), stamp(hour + 2 * 3_600))
}

fn report(world: &World, (from, to): &(String, String)) -> Value {
    let out = world
        .server
        .run(&[
            "usage",
            "-t",
            &world.tenant,
            "--from",
            from,
            "--to",
            to,
            "-o",
            "json",
        ])
        .ok();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn totals(world: &World, range: &(String, String)) -> Totals {
    let report = report(world, range);
    let burner = report["records"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["app"] == "burner"))
        .cloned()
        .unwrap_or(Value::Null);
    let number = |field: &str| burner[field].as_f64().unwrap_or(0.0);
    Totals {
        used: number("cpuUsedCoreSeconds"),
        allocated: number("cpuAllocatedCoreSeconds"),
        instance_hours: number("instanceHours"),
        integrated_to_millis: report["integratedToMillis"].as_i64().unwrap_or(0),
        kernel: kernel_core_seconds(&world.tenant),
    }
}

/// The CPU time of the burner's running containers as their cgroups count it (v1's
/// `cpuacct.usage` or v2's `cpu.stat`), in core-seconds.
fn kernel_core_seconds(tenant: &str) -> f64 {
    let docker = |args: &[&str]| {
        let out = std::process::Command::new("docker")
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let ids = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=minicloud.tenant={tenant}"),
        "--filter",
        "label=minicloud.app=burner",
    ]);
    ids.lines()
        .map(|id| {
            let pid = docker(&["inspect", "-f", "{{.State.Pid}}", id]);
            let groups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
            let v1 = groups.lines().find_map(|line| {
                let (_, rest) = line.split_once(':')?;
                let (controllers, path) = rest.split_once(':')?;
                controllers
                    .split(',')
                    .any(|c| c == "cpuacct")
                    .then_some(path)
            });
            match v1 {
                Some(path) => {
                    let file = format!("/sys/fs/cgroup/cpuacct{path}/cpuacct.usage");
                    let nanos: f64 = std::fs::read_to_string(file)
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    nanos / 1e9
                }
                None => {
                    let path = groups.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
                    let stat =
                        std::fs::read_to_string(format!("/sys/fs/cgroup{path}/cpu.stat")).unwrap();
                    let micros: f64 = stat
                        .lines()
                        .find_map(|l| l.strip_prefix("usage_usec "))
                        .unwrap()
                        .parse()
                        .unwrap();
                    micros / 1e6
                }
            }
        })
        .sum()
}

/// Checks the use between two reports: allocated exactly the limits × the time between their
/// watermarks; used within 5 % of what the kernel counted, and not above the limits.
fn check_window(before: Totals, after: Totals, what: &str) {
    let seconds = (after.integrated_to_millis - before.integrated_to_millis) as f64 / 1_000.0;
    let limits = REPLICAS * CPU_LIMIT * seconds;
    let allocated = after.allocated - before.allocated;
    let used = after.used - before.used;
    let kernel = after.kernel - before.kernel;
    let instance_seconds = (after.instance_hours - before.instance_hours) * 3_600.0;
    println!(
        "{what}: {seconds:.3} s integrated; allocated {allocated:.3} core-s (limits x time {limits:.3}); used {used:.3} core-s, the kernel counted {kernel:.3} ({:+.2} %), {:.1} % of the limits",
        (used - kernel) / kernel * 100.0,
        used / limits * 100.0
    );
    assert!(
        (allocated - limits).abs() < 1e-6 * limits.max(1.0),
        "{what}: allocated {allocated} core-s, limits x time give {limits}"
    );
    assert!(
        (instance_seconds - REPLICAS * seconds).abs() < 1e-3,
        "{what}: {instance_seconds} instance-seconds over {seconds} s"
    );
    assert!(
        (used - kernel).abs() <= 0.05 * kernel,
        "{what}: used {used} core-s, the kernel counted {kernel}: not within 5 %"
    );
    assert!(
        used <= 1.05 * limits,
        "{what}: used {used} core-s, more than the limits allow ({limits})"
    );
}

pub fn usage_records_match_a_burning_apps_core_seconds_and_survive_a_restart() {
    let mut world = World::start(&["--metrics-interval", "1s", "--metering-interval", "1s"]);
    let created = world
        .server
        .run(&["tenant", "create", &world.tenant, "--containers", "5"])
        .ok();
    let tenant_key = created.lines().nth(1).expect("the key line").to_owned();
    let manifest = format!(
        "apiVersion: minicloud/v1\nkind: App\nmetadata:\n  name: burner\n  tenant: {}\nspec:\n  image: hello:1\n  replicas: 3\n  command: [\"sh\", \"-c\", \"while :; do :; done\"]\n  resources: {{cpu: 250m, memory: 32Mi}}\n",
        world.tenant
    );
    world.apply(&manifest);
    let range = range();
    eventually_explained("three burning instances are metered", || {
        let running = world
            .objects("instances")
            .iter()
            .filter(|i| i["status"]["phase"] == "Running")
            .count();
        let seen = totals(&world, &range);
        match running == 3 && seen.allocated > 0.0 && seen.used > 0.0 {
            true => Ok(()),
            false => Err(format!("{running} running, {seen:?}")),
        }
    });
    // Every instance read at least twice more, so each is counted from a cursor.
    std::thread::sleep(Duration::from_secs(4));
    let start = totals(&world, &range);
    std::thread::sleep(WINDOW);
    let before_crash = totals(&world, &range);
    check_window(start, before_crash, "running");

    world.restart_server();
    eventually_explained("the restarted server meters again", || {
        let seen = totals(&world, &range);
        match seen.integrated_to_millis > before_crash.integrated_to_millis + 20_000 {
            true => Ok(()),
            false => Err(format!("{seen:?}")),
        }
    });
    let after_restart = totals(&world, &range);
    check_window(before_crash, after_restart, "across the restart");

    ingress_traffic_is_counted_exactly(&world, &range);

    let mut as_tenant = world.server.command(&["usage", "--by", "day", "-o", "csv"]);
    as_tenant.env("MINI_KEY", &tenant_key);
    let own = crate::support::run(as_tenant).ok();
    assert!(own.starts_with("day,period_start"), "{own}");
    assert!(own.lines().count() >= 2, "a line per day: {own}");
    let mut other = world.server.command(&["usage", "-t", "default"]);
    other.env("MINI_KEY", &tenant_key);
    let refused = crate::support::run(other);
    assert!(
        !refused.status.success() && !refused.stderr.is_empty(),
        "a tenant key may not read another tenant's usage: {}",
        refused.stdout
    );

    let (from, to) = &range;
    for (args, says) in [
        (
            vec!["--from", "yesterday"],
            "\"yesterday\" is neither a date (2026-12-01",
        ),
        (
            vec!["--from", "2026-12-03T17:30:00Z", "--to", "2026-12-04"],
            "--from 2026-12-03T17:30:00Z is not on a whole hour; usage is recorded per hour: use 2026-12-03T17:00:00Z or 2026-12-03T18:00:00Z",
        ),
        (vec!["--from", to, "--to", from], "is not after --from"),
        (
            vec!["--from", "2024-01-01", "--to", "2026-01-01"],
            "longer than 400 days",
        ),
    ] {
        let mut command = vec!["usage", "-t", &world.tenant];
        command.extend(args.iter().copied());
        let outcome = world.server.run(&command);
        assert!(
            !outcome.status.success() && outcome.stderr.contains(says),
            "mini {command:?} should say {says:?}; said {}",
            outcome.stderr
        );
    }
    let table = world
        .server
        .run(&["usage", "-t", &world.tenant, "--from", from, "--to", to])
        .ok();
    assert!(
        table.contains("burner") && table.contains("TOTAL") && table.contains("CPU-USED"),
        "{table}"
    );
}
