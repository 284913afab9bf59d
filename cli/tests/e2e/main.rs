//! End-to-end tests of the `mini` binary, run as a user runs it: a real `mini server` child
//! process (on the embedded store, and on etcd), and client commands whose output and exit
//! status are checked.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Etcd, Server, Watcher, example, free_port, mini, run, write_file};

/// The variable naming a shared etcd for tests (scripts/test.sh starts one and sets it).
const SHARED_ETCD_VAR: &str = "MINICLOUD_TEST_ETCD";

/// A `mini server` with only the API: these tests check the API and the CLI, and apply Apps that
/// must not start containers (the reconcile tests cover that).
fn start_api(args: &[&str]) -> Server {
    let mut all = args.to_vec();
    all.extend(["--no-agent", "--no-controllers"]);
    Server::start(&all)
}

#[test]
fn the_user_journey_works_on_the_embedded_store() {
    let data = tempfile::tempdir().unwrap();
    let server = start_api(&["--data-dir", &data.path().display().to_string()]);
    user_journey(&server);
}

#[test]
fn the_user_journey_works_on_etcd() {
    let private = std::env::var(SHARED_ETCD_VAR).is_err().then(Etcd::start);
    let endpoint = match &private {
        Some(etcd) => etcd.endpoint.clone(),
        None => std::env::var(SHARED_ETCD_VAR).unwrap(),
    };
    let prefix = format!("/cli-e2e-{}-{}", std::process::id(), nanos());
    let data = tempfile::tempdir().unwrap();
    let server = start_api(&[
        "--etcd",
        &endpoint,
        "--etcd-prefix",
        &prefix,
        "--data-dir",
        &data.path().display().to_string(),
    ]);
    user_journey(&server);
}

#[test]
fn sigterm_stops_the_server_promptly_even_with_an_open_watch() {
    let data = tempfile::tempdir().unwrap();
    let mut server = start_api(&["--data-dir", &data.path().display().to_string()]);
    let watcher = server.watch(&["get", "apps", "-w"]);
    assert!(watcher.next_line().starts_with("NAME"), "the watch is open");
    let started = Instant::now();
    server.process.terminate();
    let status = server
        .process
        .wait_timeout(Duration::from_secs(10))
        .expect("mini server exits within 10 s of SIGTERM");
    assert!(status.success(), "mini server exited with {status}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn an_unreachable_server_is_one_clear_line() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let config_home = tempfile::tempdir().unwrap();
    let mut command = mini();
    command
        .args(["get", "apps", "--server", &url])
        .env("MINI_KEY", "mc_-_00000000_00000000000000000000000000000000")
        .env("XDG_CONFIG_HOME", config_home.path());
    let outcome = run(command);
    assert!(!outcome.status.success());
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.starts_with(&format!(
            "error: cannot reach the minicloud server at {url}: "
        )) && outcome.stderr.contains("is `mini server` running?"),
        "{}",
        outcome.stderr
    );
}

/// Apply, watch, change, inspect, resume, delete and fail, in that order.
fn user_journey(server: &Server) {
    let hello = example("hello.yaml");
    let files = tempfile::tempdir().unwrap();
    let changed = std::fs::read_to_string(&hello)
        .unwrap()
        .replace("replicas: 1", "replicas: 2");
    let changed = write_file(files.path(), "hello-2.yaml", &changed);

    assert_eq!(
        server.run(&["apply", "-f", &hello]).ok(),
        "app/hello created\n"
    );
    let watcher = server.watch(&["get", "apps", "-w", "-o", "json"]);
    let added = expect_event(&watcher, "ADDED");
    let first_version = added["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        server.run(&["apply", "-f", &hello]).ok(),
        "app/hello unchanged\n"
    );

    check_diff_and_dry_run(server, &hello, &changed);
    assert_eq!(
        server.run(&["apply", "-f", &changed]).ok(),
        "app/hello configured\n"
    );
    let modified = expect_event(&watcher, "MODIFIED");
    assert_eq!(modified["spec"]["replicas"], 2);
    assert_eq!(modified["metadata"]["generation"], 2);

    check_reads(server);
    check_resume(server, &first_version);
    check_config_file(server);

    assert_eq!(
        server.run(&["delete", "app", "hello"]).ok(),
        "app/hello deleted\n"
    );
    expect_event(&watcher, "DELETED");
    check_not_found(server);
    check_bad_manifest(server, files.path());
}

/// The next event of the JSON watcher: of type `kind`, about `hello`; returns its object.
fn expect_event(watcher: &Watcher, kind: &str) -> Value {
    let event = watcher.next_event();
    assert_eq!(event["type"], kind, "{event}");
    assert_eq!(event["object"]["metadata"]["name"], "hello", "{event}");
    event["object"].clone()
}

fn check_diff_and_dry_run(server: &Server, hello: &str, changed: &str) {
    let same = server.run(&["diff", "-f", hello]);
    assert_eq!((same.status.code(), same.stdout.as_str()), (Some(0), ""));
    let differs = server.run(&["diff", "-f", changed]);
    assert_eq!(differs.status.code(), Some(1), "{}", differs.stderr);
    assert!(
        differs
            .stdout
            .starts_with("--- app/hello (live)\n+++ app/hello (applied)\n")
    );
    assert!(
        differs
            .stdout
            .contains("\n-  replicas: 1\n+  replicas: 2\n"),
        "{}",
        differs.stdout
    );
    let dry = server.run(&["apply", "-f", changed, "--dry-run"]).ok();
    assert!(
        dry.starts_with("app/hello configured (dry run)\n--- live\n"),
        "{dry}"
    );
}

fn check_reads(server: &Server) {
    let table = server.run(&["get", "apps"]).ok();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("IMAGE"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("hello ") && lines[1].contains("hello:1"),
        "{table}"
    );
    let all = server.run(&["get", "apps", "-A"]).ok();
    assert!(
        all.starts_with("TENANT") && all.contains("\ndefault "),
        "{all}"
    );

    let yaml = server.run(&["get", "apps", "-o", "yaml"]).ok();
    let parsed = minicloud_manifests::parse_documents(&yaml).expect("the YAML parses back");
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].name(), "hello");

    let json: Value =
        serde_json::from_str(&server.run(&["get", "app", "hello", "-o", "json"]).ok()).unwrap();
    assert_eq!(json["spec"]["replicas"], 2);

    let described = server.run(&["describe", "app", "hello"]).ok();
    assert!(
        described.starts_with("Name:             hello\n"),
        "{described}"
    );
    assert!(described.contains("Generation:       2 "), "{described}");
}

/// A watch resumed after the first version replays the change made since, and nothing older.
fn check_resume(server: &Server, first_version: &str) {
    let args = [
        "get",
        "apps",
        "-w",
        "-o",
        "json",
        "--resource-version",
        first_version,
    ];
    let resumed = server.watch(&args);
    let event = resumed.next_event();
    assert_eq!(event["type"], "MODIFIED", "{event}");
    assert_eq!(event["object"]["metadata"]["generation"], 2, "{event}");
}

/// Without --server or MINI_SERVER, the config file names the server.
fn check_config_file(server: &Server) {
    let dir = server.config_home.path().join("minicloud");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "config",
        &format!("server: {}\ntenant: default\n", server.url),
    );
    let mut command = server.command(&["get", "apps"]);
    command.env_remove("MINI_SERVER");
    assert!(run(command).ok().contains("\nhello "));
    std::fs::remove_file(dir.join("config")).unwrap();
}

fn check_not_found(server: &Server) {
    for args in [["get", "app", "hello"], ["delete", "app", "hello"]] {
        let outcome = server.run(&args);
        assert!(!outcome.status.success(), "{args:?} succeeded");
        assert_eq!(
            outcome.stderr, "error: App \"hello\" in tenant \"default\" not found\n",
            "{args:?}"
        );
    }
}

/// A file with a good and a bad document: the error is located and nothing is applied.
fn check_bad_manifest(server: &Server, dir: &std::path::Path) {
    let good = std::fs::read_to_string(example("hello.yaml"))
        .unwrap()
        .replace("name: hello", "name: other");
    let bad = "---\napiVersion: minicloud/v1\nkind: App\nmetadata:\n  name: broken\nspec:\n  image: x:1\n  replicaz: 2\n";
    let path = write_file(dir, "bad.yaml", &format!("{good}{bad}"));
    let good_lines = good.lines().count();
    let outcome = server.run(&["apply", "-f", &path]);
    assert!(!outcome.status.success());
    let location = format!("error: {path}:{}:3: ", good_lines + 8);
    assert!(outcome.stderr.starts_with(&location), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("replicaz"), "{}", outcome.stderr);
    let listed = server.run(&["get", "apps"]);
    assert!(!listed.stdout.contains("other"), "nothing was applied");
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// An admin creates a tenant and gets its key; that key works in its tenant only, `mini login`
/// saves it (0600), `mini key list` names it, and once revoked it is refused at once.
/// The example App without its `tenant:` line, so it lands in the tenant of the key applying it.
fn hello_in_the_keys_tenant(dir: &std::path::Path) -> String {
    let manifest = std::fs::read_to_string(example("hello.yaml")).unwrap();
    let manifest: String = manifest
        .lines()
        .filter(|line| !line.trim_start().starts_with("tenant:"))
        .map(|line| format!("{line}\n"))
        .collect();
    write_file(dir, "hello.yaml", &manifest)
}

#[test]
fn tenant_keys_are_issued_listed_saved_and_revoked() {
    let data = tempfile::tempdir().unwrap();
    let server = start_api(&["--data-dir", &data.path().display().to_string()]);
    let key_file = data.path().join("admin.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&key_file.metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap().trim(),
        server.key
    );
    let created = server
        .run(&[
            "tenant",
            "create",
            "acme",
            "--cpu",
            "2",
            "--memory",
            "2Gi",
            "--containers",
            "10",
        ])
        .ok();
    let tenant_key = created.lines().nth(1).expect("the key line").to_owned();
    assert!(tenant_key.starts_with("mc_acme_"), "{created}");
    let as_tenant = |args: &[&str]| {
        let mut command = server.command(args);
        command.env("MINI_KEY", &tenant_key);
        run(command)
    };
    let file = hello_in_the_keys_tenant(data.path());
    as_tenant(&["apply", "-f", &file]).ok();
    let apps = server.run(&["get", "apps", "-t", "acme"]).ok();
    assert!(apps.contains("hello"), "{apps}");
    let elsewhere = as_tenant(&["get", "apps", "-t", "default"]);
    assert!(!elsewhere.status.success());
    assert!(
        elsewhere.stderr.contains("works in tenant \"acme\" only"),
        "{}",
        elsewhere.stderr
    );
    let mut login = server.command(&["login"]);
    login.env("MINI_KEY", &tenant_key);
    let said = run(login).ok();
    assert!(said.contains("tenant-admin of tenant acme"), "{said}");
    let config = server.config_home.path().join("minicloud/config");
    let mode = std::os::unix::fs::PermissionsExt::mode(&config.metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains(&tenant_key)
    );
    let listed = server.run(&["key", "list"]).ok();
    let prefix = &tenant_key[..tenant_key.rfind('_').unwrap()];
    assert!(
        listed.contains(prefix) && listed.contains("tenant-admin"),
        "{listed}"
    );
    assert!(
        !listed.contains(&tenant_key),
        "key list showed a secret: {listed}"
    );
    server.run(&["key", "revoke", prefix]).ok();
    let refused = as_tenant(&["get", "apps"]);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("not valid"), "{}", refused.stderr);
    let keyless = {
        let mut command = mini();
        command
            .args(["get", "apps", "--server", &server.url])
            .env("XDG_CONFIG_HOME", tempfile::tempdir().unwrap().path());
        run(command)
    };
    assert!(keyless.stderr.contains("no API key"), "{}", keyless.stderr);
}

#[test]
fn quota_shows_usage_and_a_refusal_names_used_requested_and_limit() {
    let data = tempfile::tempdir().unwrap();
    let server = start_api(&["--data-dir", &data.path().display().to_string()]);
    server
        .run(&[
            "tenant",
            "create",
            "acme",
            "--containers",
            "3",
            "--memory",
            "1Gi",
        ])
        .ok();
    let app = |replicas: u32| {
        format!(
            "apiVersion: minicloud/v1\nkind: App\nmetadata:\n  name: web\n  tenant: acme\n\
             spec:\n  image: hello:1\n  replicas: {replicas}\n  resources:\n    memory: 256Mi\n"
        )
    };
    let two = write_file(data.path(), "two.yaml", &app(2));
    server.run(&["apply", "-f", &two]).ok();
    let quota = server.run(&["quota", "-t", "acme"]).ok();
    // 2 replicas count 2 containers: an App counts its steady state; no rollout runs, so no
    // surge.
    assert_eq!(
        quota,
        "tenant acme\n\
         RESOURCE     USED    LIMIT         SURGE\n\
         containers   2       3             0\n\
         cpu          500m    unlimited     0\n\
         memory       512Mi   1Gi           0\n\
         storage      0       unlimited     -\n\
         snapshots    0       not counted   -\n"
    );
    let four = write_file(data.path(), "four.yaml", &app(4));
    let refused = server.run(&["apply", "-f", &four]);
    assert!(!refused.status.success());
    assert!(
        refused
            .stderr
            .contains("containers: used 2, requested 2, limit 3"),
        "{}",
        refused.stderr
    );
    let json = server.run(&["quota", "-t", "acme", "-o", "json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["usage"]["containers"], 2, "{json}");
    let missing = server.run(&["quota", "-t", "nobody"]);
    assert!(
        missing.stderr.contains("has no Tenant object")
            && missing.stderr.contains("mini tenant create nobody"),
        "{}",
        missing.stderr
    );
}

/// `mini audit` shows who changed what and who was refused: everything to an admin, its own
/// tenant's records to a tenant-admin, as a table or as JSON.
#[test]
fn the_audit_log_shows_who_did_what() {
    let data = tempfile::tempdir().unwrap();
    let server = start_api(&["--data-dir", &data.path().display().to_string()]);
    let created = server.run(&["tenant", "create", "acme"]).ok();
    let acme_key = created.lines().nth(1).expect("the key line").to_owned();
    server.run(&["tenant", "create", "beta"]).ok();
    let as_acme = |args: &[&str]| {
        let mut command = server.command(args);
        command.env("MINI_KEY", &acme_key);
        run(command)
    };
    let file = hello_in_the_keys_tenant(data.path());
    as_acme(&["apply", "-f", &file]).ok();
    assert!(!as_acme(&["get", "apps", "-t", "beta"]).status.success());

    let table = server.run(&["audit"]).ok();
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("TIME") && header.contains("RESULT"),
        "{table}"
    );
    let acme_prefix = &acme_key[..acme_key.rfind('_').unwrap()];
    let applied = table
        .lines()
        .find(|line| line.contains("app/hello"))
        .unwrap_or_else(|| panic!("no record of the apply: {table}"));
    for part in [acme_prefix, "acme", "apply", "OK", "created"] {
        assert!(applied.contains(part), "{applied}");
    }
    assert!(
        table
            .lines()
            .any(|line| line.contains(" list ") && line.contains("Forbidden")),
        "{table}"
    );
    assert!(
        !table.contains(&acme_key),
        "the audit log showed a key: {table}"
    );

    let json = server.run(&["audit", "--since", "1h", "-o", "json"]).ok();
    let records: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert!(records.iter().any(|r| r["verb"] == "create-key"), "{json}");

    let own: Vec<Value> = serde_json::from_str(&as_acme(&["audit", "-o", "json"]).ok()).unwrap();
    assert!(own.iter().any(|r| r["name"] == "hello"));
    assert!(
        own.iter().all(|r| r["tenant"] == "acme"
            || r["key"].as_str().is_some_and(|k| k.starts_with("mc_acme_"))),
        "{own:?}"
    );
    let other = as_acme(&["audit", "-t", "beta"]);
    assert!(!other.status.success());
    assert!(
        other
            .stderr
            .contains("reads the audit log of tenant \"acme\" only"),
        "{}",
        other.stderr
    );
    let bad = server.run(&["audit", "--since", "yesterday"]);
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("--since"), "{}", bad.stderr);
}

#[test]
fn a_large_apply_with_a_tenant_key_waits_out_the_rate_limit() {
    let data = tempfile::tempdir().unwrap();
    let server = start_api(&[
        "--data-dir",
        &data.path().display().to_string(),
        "--rate-limit",
        "10/s",
        "--burst",
        "5",
    ]);
    let created = server.run(&["tenant", "create", "acme"]).ok();
    let key = created.lines().nth(1).expect("the key line").to_owned();
    let many: String = (0..30)
        .map(|i| {
            format!(
                "---\napiVersion: minicloud/v1\nkind: Secret\nmetadata: {{name: s{i}}}\n\
                 data: {{v: x}}\n"
            )
        })
        .collect();
    let file = write_file(data.path(), "many.yaml", &many);
    let mut apply = server.command(&["apply", "-f", &file]);
    apply.env("MINI_KEY", &key);
    let applied = run(apply).ok();
    assert_eq!(applied.matches("created").count(), 30, "{applied}");
}
