//! `mini top`: what the agent samples through Docker, joined with the Instances' limits — a
//! busy instance at about the core it may use, an idle one near zero, memory as `docker stats`
//! reads it, a tenant key seeing only its tenant, nodes for admins, and the same samples as
//! Prometheus series on `/metrics`.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

use crate::{World, eventually_explained};

/// An App running `script` in `sh`, with a one-core, 128 MiB limit.
fn app(world: &World, name: &str, script: &str) {
    let manifest = format!(
        "apiVersion: minicloud/v1\nkind: App\nmetadata:\n  name: {name}\n  tenant: {}\nspec:\n  image: hello:1\n  command: [\"sh\", \"-c\", {script:?}]\n  resources: {{cpu: \"1\", memory: 128Mi}}\n",
        world.tenant
    );
    world.apply(&manifest);
}

/// The rows of `mini top instances --once -o json` for this tenant, by App.
fn rows(world: &World, key: Option<&str>) -> Vec<Value> {
    let mut command = world.server.command(&[
        "top",
        "instances",
        "--once",
        "-o",
        "json",
        "-t",
        &world.tenant,
    ]);
    if let Some(key) = key {
        command.env("MINI_KEY", key);
    }
    let outcome = crate::support::run(command);
    let report: Value = serde_json::from_str(&outcome.stdout).unwrap_or(Value::Null);
    report["rows"].as_array().cloned().unwrap_or_default()
}

fn row<'a>(rows: &'a [Value], app: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["app"] == app)
}

/// The body of `GET /metrics` on the server, with the admin key.
fn scrape(world: &World) -> String {
    let address = world.server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connect to the server");
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        world.server.key
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// `docker stats`' MEM USAGE of the App's container, in bytes.
fn docker_memory(tenant: &str, app: &str) -> Option<u64> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=minicloud.tenant={tenant}"),
        ])
        .args(["--filter", &format!("label=minicloud.app={app}")])
        .output()
        .ok()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let out = std::process::Command::new("docker")
        .args(["stats", "--no-stream", "--format", "{{.MemUsage}}", &id])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_docker_bytes(text.split('/').next()?.trim())
}

/// `40.5MiB`, `512KiB`, `1.2GiB`, `900B` as bytes.
fn parse_docker_bytes(text: &str) -> Option<u64> {
    let units = [
        ("GiB", 1u64 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ];
    let (number, scale) = units
        .iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, *scale)))?;
    Some((number.parse::<f64>().ok()? * scale as f64) as u64)
}

pub fn top_shows_a_busy_instance_at_its_core_and_an_idle_one_near_zero() {
    let world = World::start(&["--metrics-interval", "1s"]);
    let created = world
        .server
        .run(&["tenant", "create", &world.tenant, "--containers", "5"])
        .ok();
    let tenant_key = created.lines().nth(1).expect("the key line").to_owned();
    app(&world, "burner", "while :; do :; done");
    // 40 MB held in the shell's memory, then nothing to do.
    app(
        &world,
        "idle",
        "x=$(yes | head -c 40000000); while :; do sleep 60; done",
    );
    let seen = eventually_explained(
        "top shows the burner near a core and the idle app near zero",
        || {
            let rows = rows(&world, None);
            let cpu = |app: &str| row(&rows, app).and_then(|r| r["cpuMillicores"].as_u64());
            match (cpu("burner"), cpu("idle")) {
                (Some(busy), Some(idle)) if busy >= 500 && idle < 50 => Ok(rows),
                seen => Err(format!("burner, idle millicores: {seen:?}")),
            }
        },
    );
    let burner = row(&seen, "burner").unwrap();
    assert!(
        burner["cpuMillicores"].as_u64().unwrap() <= 1100,
        "the burner is limited to one core: {burner}"
    );
    assert_eq!(burner["cpuLimitMillicores"], 1000, "{burner}");
    assert_eq!(burner["memoryLimitBytes"], 128u64 << 20, "{burner}");
    eventually_explained(
        "the idle app's memory matches docker stats within 10 %",
        || {
            let ours = row(&rows(&world, None), "idle")
                .and_then(|r| r["memoryBytes"].as_u64())
                .ok_or("no idle row")?;
            let theirs = docker_memory(&world.tenant, "idle").ok_or("no docker stats")?;
            let off = ours.abs_diff(theirs) as f64 / theirs as f64;
            match ours > 30_000_000 && off <= 0.10 {
                true => Ok(()),
                false => Err(format!("mini top {ours} B, docker stats {theirs} B")),
            }
        },
    );
    let as_tenant = rows(&world, Some(&tenant_key));
    assert!(
        row(&as_tenant, "burner").is_some(),
        "the tenant sees its own: {as_tenant:?}"
    );
    let mut everything = world
        .server
        .command(&["top", "instances", "--once", "-o", "json", "-A"]);
    everything.env("MINI_KEY", &tenant_key);
    let refused = crate::support::run(everything);
    assert!(
        !refused.status.success(),
        "a tenant key may not see every tenant: {}",
        refused.stdout
    );
    let mut nodes = world.server.command(&["top", "nodes", "--once"]);
    nodes.env("MINI_KEY", &tenant_key);
    let refused = crate::support::run(nodes);
    assert!(
        refused.stderr.contains("admin keys only"),
        "{}",
        refused.stderr
    );
    let table = world.server.run(&["top", "nodes", "--once"]).ok();
    assert!(table.contains("CPU-CAP") && table.contains("ok"), "{table}");
    let apps = world
        .server
        .run(&["top", "apps", "--once", "-t", &world.tenant])
        .ok();
    assert!(apps.contains("burner") && apps.contains("CPU%"), "{apps}");
    let metrics = scrape(&world);
    let labels = format!("tenant=\"{}\",app=\"burner\"", world.tenant);
    for name in [
        "minicloud_instance_cpu_seconds_total{",
        "minicloud_instance_memory_working_set_bytes{",
    ] {
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with(name) && line.contains(&labels)),
            "no {name}{labels}… in /metrics:\n{metrics}"
        );
    }
}
