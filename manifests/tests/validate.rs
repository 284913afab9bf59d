//! Validation rules, each with a passing and a failing case.

use minicloud_manifests::{ParseError, Resource, parse_and_validate, parse_documents, validate};

fn resource(yaml: &str) -> Resource {
    parse_documents(yaml)
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(0)
}

fn app(spec: &str) -> String {
    format!("kind: App\nmetadata: {{name: web, tenant: acme}}\nspec:\n  image: hello:1\n{spec}")
}

fn assert_valid(yaml: &str) {
    if let Err(errors) = validate(&resource(yaml)) {
        panic!("expected valid, got: {errors}\n{yaml}");
    }
}

fn assert_invalid(yaml: &str, path: &str, fragment: &str) {
    let errors = validate(&resource(yaml)).expect_err(yaml);
    let found = errors.0.iter().find(|e| e.path == path);
    let message = found
        .unwrap_or_else(|| panic!("no error at {path}: {errors}"))
        .message
        .clone();
    assert!(
        message.contains(fragment),
        "{path}: {message:?} lacks {fragment:?}"
    );
}

#[test]
fn names_must_be_dns_labels() {
    assert_valid(&app(""));
    let yaml = app("").replace("name: web", "name: Web_1");
    assert_invalid(&yaml, "metadata.name", "lowercase letters");
}

#[test]
fn tenant_names_must_be_dns_labels_and_not_reserved() {
    assert_valid("kind: Tenant\nmetadata: {name: acme}\nspec: {}\n");
    assert_invalid(
        "kind: Tenant\nmetadata: {name: system}\nspec: {}\n",
        "metadata.name",
        "reserved",
    );
    assert_invalid(
        &app("").replace("tenant: acme", "tenant: ACME"),
        "metadata.tenant",
        "tenant name",
    );
}

#[test]
fn a_tenants_alert_webhook_needs_an_http_url_and_a_secret_key() {
    let tenant = |url: &str, name: &str, key: &str| {
        format!(
            "kind: Tenant\nmetadata: {{name: acme}}\nspec:\n  alerts:\n    webhook:\n      \
             url: {url:?}\n      secret: {{name: {name:?}, key: {key:?}}}\n"
        )
    };
    assert_valid(&tenant(
        "https://hooks.acme.test/minicloud",
        "alerts",
        "hmac",
    ));
    assert_invalid(
        &tenant("ftp://hooks.acme.test", "alerts", "hmac"),
        "spec.alerts.webhook.url",
        "not an http:// or https:// URL",
    );
    assert_invalid(
        &tenant("http://", "alerts", "hmac"),
        "spec.alerts.webhook.url",
        "not an http:// or https:// URL",
    );
    assert_invalid(
        &tenant("http://hooks.acme.test", "Alerts!", "hmac"),
        "spec.alerts.webhook.secret.name",
        "",
    );
    assert_invalid(
        &tenant("http://hooks.acme.test", "alerts", "a key"),
        "spec.alerts.webhook.secret.key",
        "not a Secret key",
    );
}

#[test]
fn cluster_kinds_have_no_tenant() {
    let yaml = "kind: Node\nmetadata: {name: node-1.lan, tenant: acme}\nspec: {}\n";
    assert_invalid(yaml, "metadata.tenant", "cluster-scoped");
    assert_valid("kind: Node\nmetadata: {name: node-1.lan}\nspec: {}\n");
}

#[test]
fn admin_keys_are_cluster_keys() {
    assert_valid("kind: ApiKey\nmetadata: {name: ci, tenant: acme}\nspec: {role: tenant-read}\n");
    assert_valid("kind: ApiKey\nmetadata: {name: root}\nspec: {role: admin}\n");
    let yaml = "kind: ApiKey\nmetadata: {name: root, tenant: acme}\nspec: {role: admin}\n";
    assert_invalid(yaml, "spec.role", "cluster keys");
}

#[test]
fn label_keys_and_values_are_checked() {
    let good = app("").replace(
        "tenant: acme",
        "tenant: acme, labels: {minicloud.dev/tier: web_1}",
    );
    assert_valid(&good);
    let bad_key = app("").replace("tenant: acme", "tenant: acme, labels: {\"a b\": x}");
    assert_invalid(&bad_key, "metadata.labels[\"a b\"]", "label key");
    let bad_value = app("").replace(
        "tenant: acme",
        &format!("tenant: acme, labels: {{a: {}}}", "x".repeat(64)),
    );
    assert_invalid(&bad_value, "metadata.labels[\"a\"]", "label value");
}

#[test]
fn annotations_are_size_capped() {
    let small = app("").replace("tenant: acme", "tenant: acme, annotations: {note: hi}");
    assert_valid(&small);
    let big = app("").replace(
        "tenant: acme",
        &format!(
            "tenant: acme, annotations: {{note: {}}}",
            "x".repeat(300_000)
        ),
    );
    assert_invalid(&big, "metadata.annotations", "over the limit");
}

#[test]
fn apps_need_an_image_or_a_build() {
    let none = "kind: App\nmetadata: {name: web}\nspec: {}\n";
    assert_invalid(none, "spec.image", "needs an image");
    assert_valid("kind: App\nmetadata: {name: web}\nspec: {build: {context: .}}\n");
    assert_invalid(
        &app("").replace("hello:1", "\"hello 1\""),
        "spec.image",
        "image reference",
    );
}

#[test]
fn replicas_are_capped() {
    assert_valid(&app("  replicas: 100\n"));
    assert_invalid(&app("  replicas: 101\n"), "spec.replicas", "at most 100");
}

#[test]
fn env_names_are_checked_and_unique() {
    assert_valid(&app("  env: [{name: A_1, value: x}]\n"));
    assert_invalid(
        &app("  env: [{name: A, value: x}, {name: 1BAD}]\n"),
        "spec.env[1].name",
        "don't start with a digit",
    );
    assert_invalid(
        &app("  env: [{name: A}, {name: A}]\n"),
        "spec.env[1].name",
        "set twice",
    );
}

#[test]
fn env_values_come_from_one_source() {
    let both = "  env: [{name: A, value: x, valueFrom: {secret: {name: db, key: k}}}]\n";
    assert_invalid(&app(both), "spec.env[0]", "not both");
    let bad_ref = "  env: [{name: A, valueFrom: {secret: {name: DB, key: \"a/b\"}}}]\n";
    assert_invalid(
        &app(bad_ref),
        "spec.env[0].valueFrom.secret.name",
        "Secret name",
    );
    assert_invalid(
        &app(bad_ref),
        "spec.env[0].valueFrom.secret.key",
        "Secret key",
    );
}

#[test]
fn ports_are_in_range_named_well_and_unique() {
    assert_valid(&app(
        "  ports: [{name: http, port: 8080}, {port: 53, protocol: UDP}, {port: 53}]\n",
    ));
    assert_invalid(
        &app("  ports: [{port: 0}]\n"),
        "spec.ports[0].port",
        "1-65535",
    );
    assert_invalid(
        &app("  ports: [{name: HTTP, port: 80}]\n"),
        "spec.ports[0].name",
        "port name",
    );
    assert_invalid(
        &app("  ports: [{name: a, port: 80}, {name: a, port: 81}]\n"),
        "spec.ports[1].name",
        "used twice",
    );
    assert_invalid(
        &app("  ports: [{port: 80}, {port: 80}]\n"),
        "spec.ports[1].port",
        "declared twice",
    );
}

#[test]
fn ingress_port_must_be_declared() {
    assert_valid(&app(
        "  ports: [{name: http, port: 80}]\n  ingress: {port: 80, host: www.example.com}\n",
    ));
    assert_invalid(
        &app("  ports: [{name: http, port: 80}]\n  ingress: {port: web}\n"),
        "spec.ingress.port",
        "no port is named",
    );
    assert_invalid(
        &app("  ingress: {port: 8080}\n"),
        "spec.ingress.port",
        "not declared",
    );
    let udp = "  ports: [{name: dns, port: 53, protocol: UDP}]\n  ingress: {port: dns}\n";
    assert_invalid(&app(udp), "spec.ingress.port", "TCP");
    let host = "  ports: [{port: 80}]\n  ingress: {port: 80, host: Not_A_Host}\n";
    assert_invalid(&app(host), "spec.ingress.host", "host name");
}

#[test]
fn resources_are_positive_and_sane() {
    assert_valid(&app("  resources: {cpu: 100m, memory: 6Mi, pids: 1}\n"));
    assert_invalid(
        &app("  resources: {cpu: 0}\n"),
        "spec.resources.cpu",
        "more than 0",
    );
    assert_invalid(
        &app("  resources: {cpu: 65}\n"),
        "spec.resources.cpu",
        "at most 64",
    );
    assert_invalid(
        &app("  resources: {memory: 1Mi}\n"),
        "spec.resources.memory",
        "between 6Mi and 256Gi",
    );
    assert_invalid(
        &app("  resources: {pids: 0}\n"),
        "spec.resources.pids",
        "between 1 and",
    );
}

#[test]
fn mounts_are_absolute_unique_and_off_system_paths() {
    assert_valid(&app(
        "  volumes: [{name: a, mountPath: /data}, {volume: b, mountPath: /logs, readOnly: true}]\n",
    ));
    let refused = [
        ("data", "absolute"),
        ("/", "'/'"),
        ("/data/../etc", "'..'"),
        ("/data/./x", "'.'"),
        ("//proc", "empty segment"),
        ("/proc", "kernel and the container runtime"),
        ("/proc/x", "kernel and the container runtime"),
        ("/sys/fs/cgroup", "kernel and the container runtime"),
        ("/dev", "kernel and the container runtime"),
        ("/dev/shm/", "kernel and the container runtime"),
    ];
    for (path, fragment) in refused {
        assert_invalid(
            &app(&format!(
                "  volumes: [{{name: a, mountPath: \"{path}\"}}]\n"
            )),
            "spec.volumes[0].mountPath",
            fragment,
        );
    }
    assert_valid(&app("  volumes: [{name: a, mountPath: /devices}]\n"));
    let twice = "  volumes: [{name: a, mountPath: /d}, {name: b, mountPath: /d/}]\n";
    assert_invalid(
        &app(twice),
        "spec.volumes[1].mountPath",
        "used by two mounts, spec.volumes[0].mountPath and spec.volumes[1].mountPath",
    );
    let same = "  volumes: [{name: a, mountPath: /d}, {name: a, mountPath: /e}]\n";
    assert_invalid(&app(same), "spec.volumes[1].name", "mounted twice");
}

#[test]
fn mounts_inside_other_mounts_are_refused_naming_both() {
    let nested = "  volumes: [{name: a, mountPath: /data}, {name: b, mountPath: /data/x}]\n";
    assert_invalid(
        &app(nested),
        "spec.volumes[1].mountPath",
        "spec.volumes[0].mountPath \"/data\" and spec.volumes[1].mountPath \"/data/x\" overlap",
    );
    let outer_last =
        "  volumes: [{name: a, mountPath: /srv/app/cache}, {name: b, mountPath: /srv/}]\n";
    assert_invalid(
        &app(outer_last),
        "spec.volumes[1].mountPath",
        "spec.volumes[0].mountPath \"/srv/app/cache\" and spec.volumes[1].mountPath \"/srv\" overlap",
    );
    assert_valid(&app(
        "  volumes: [{name: a, mountPath: /data}, {name: b, mountPath: /data2}]\n",
    ));
}

#[test]
fn instances_follow_the_same_mount_rules() {
    let instance = "kind: Instance\nmetadata: {name: web-1-a, tenant: acme}\nspec:\n  app: web\n  release: web-1\n  container:\n    image: hello:1\n    resources: {cpu: 250m, memory: 128Mi, pids: 256}\n    volumes: [{name: a, mountPath: /data}, {name: b, mountPath: /data/x}]\n";
    assert_invalid(instance, "spec.container.volumes[1].mountPath", "overlap");
}

#[test]
fn health_checks_reference_ports_and_have_sane_timings() {
    let ports = "  ports: [{name: http, port: 8080}]\n";
    assert_valid(&app(&format!(
        "{ports}  healthCheck: {{http: {{path: /healthz, port: http}}, periodSeconds: 2}}\n"
    )));
    assert_valid(&app(&format!(
        "{ports}  healthCheck: {{http: {{path: /, port: 8080}}}}\n"
    )));
    let bad = format!(
        "{ports}  healthCheck: {{http: {{path: healthz, port: metrics}}, periodSeconds: 0}}\n"
    );
    assert_invalid(
        &app(&bad),
        "spec.healthCheck.http.path",
        "start it with '/'",
    );
    assert_invalid(&app(&bad), "spec.healthCheck.http.port", "no port is named");
    assert_invalid(
        &app(&bad),
        "spec.healthCheck.periodSeconds",
        "between 1 and",
    );
}

#[test]
fn updates_must_be_able_to_progress() {
    assert_valid(&app("  update: {maxSurge: 0, maxUnavailable: 1}\n"));
    assert_invalid(
        &app("  update: {maxSurge: 0}\n"),
        "spec.update",
        "never progress",
    );
    assert_invalid(
        &app("  update: {progressDeadlineSeconds: 0}\n"),
        "spec.update.progressDeadlineSeconds",
        "at least 1",
    );
}

#[test]
fn security_escalations_are_refused_with_clear_errors() {
    assert_valid(&app("  privileged: false\n  capabilities: {drop: [ALL]}\n"));
    assert_invalid(
        &app("  privileged: true\n"),
        "spec.privileged",
        "never runs privileged",
    );
    assert_invalid(
        &app("  hostNetwork: true\n"),
        "spec.hostNetwork",
        "host network",
    );
    assert_invalid(
        &app("  hostPID: true\n"),
        "spec.hostPID",
        "process or IPC namespaces",
    );
    assert_invalid(
        &app("  hostIPC: true\n"),
        "spec.hostIPC",
        "process or IPC namespaces",
    );
    assert_valid(&app("  capabilities: {add: [NET_BIND_SERVICE, CHOWN]}\n"));
    assert_invalid(
        &app("  capabilities: {add: [NET_BIND_SERVICE, NET_ADMIN]}\n"),
        "spec.capabilities.add[1]",
        "\"NET_ADMIN\" may not be added",
    );
    assert_invalid(
        &app("  capabilities: {add: [SYS_ADMIN]}\n"),
        "spec.capabilities.add[0]",
        "may get back only CHOWN",
    );
    assert_valid(&app("  volumes: [{volume: data, mountPath: /data}]\n"));
    assert_invalid(
        &app("  volumes: [{volume: data, mountPath: /data, hostPath: /etc}]\n"),
        "spec.volumes[0].hostPath",
        "never mount paths of the host",
    );
}

fn volume(spec: &str) -> String {
    format!("kind: Volume\nmetadata: {{name: data, tenant: acme}}\nspec: {spec}\n")
}

#[test]
fn volume_sizes_leave_room_for_a_filesystem_and_stay_sane() {
    assert_valid(&volume("{size: 16Mi}"));
    assert_valid(&volume("{size: 16Ti}"));
    assert_invalid(&volume("{size: 0}"), "spec.size", "needs a size");
    assert_invalid(&volume("{size: 1Mi}"), "spec.size", "at least 16Mi");
    assert_invalid(&volume("{size: 17Ti}"), "spec.size", "at most 16Ti");
}

#[test]
fn a_size_that_does_not_parse_is_reported_at_its_line_and_column() {
    let text = "kind: Volume\nmetadata: {name: data, tenant: acme}\nspec:\n  size: 1Gx\n";
    let message = parse_documents(text).unwrap_err().to_string();
    for fragment in ["spec.size at line 4, column 9", "\"1Gx\"", "Gi"] {
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    }
}

#[test]
fn snapshot_schedules_take_five_fields_or_six_with_seconds() {
    for schedule in ["*/30 2-4 * * MON-FRI", "*/5 * * * * *", "0 0 3 * * *"] {
        assert_valid(&volume(&format!(
            "{{size: 1Gi, snapshots: {{schedule: \"{schedule}\"}}}}"
        )));
    }
    for garbage in ["0 25 * * *", "every day", "* * *"] {
        assert_invalid(
            &volume(&format!(
                "{{size: 1Gi, snapshots: {{schedule: \"{garbage}\"}}}}"
            )),
            "spec.snapshots.schedule",
            "write 5 fields, minute hour day-of-month month day-of-week",
        );
    }
}

#[test]
fn snapshot_schedules_are_read_in_an_iana_zone() {
    let zoned = |zone: &str| {
        volume(&format!(
            "{{size: 1Gi, snapshots: {{schedule: \"0 3 * * *\", timeZone: \"{zone}\"}}}}"
        ))
    };
    assert_valid(&zoned("Europe/Berlin"));
    assert_valid(&zoned("UTC"));
    assert_invalid(
        &zoned("CEST+2"),
        "spec.snapshots.timeZone",
        "IANA time zone",
    );
    assert_invalid(
        &zoned("america/new_york"),
        "spec.snapshots.timeZone",
        "write \"America/New_York\"",
    );
}

#[test]
fn keep_rules_count_from_one_to_a_thousand() {
    assert_valid(&volume(
        "{size: 1Gi, snapshots: {schedule: \"0 3 * * *\", keep: {last: 7, daily: 30, weekly: 1000}}}",
    ));
    assert_invalid(
        &volume("{size: 1Gi, snapshots: {schedule: \"0 3 * * *\", keep: {daily: 0}}}"),
        "spec.snapshots.keep.daily",
        "between 1 and 1000",
    );
    assert_invalid(
        &volume("{size: 1Gi, snapshots: {schedule: \"0 3 * * *\", keep: {weekly: 1001}}}"),
        "spec.snapshots.keep.weekly",
        "between 1 and 1000",
    );
}

#[test]
fn restores_name_a_snapshot_and_an_rfc3339_time() {
    let restore = |snapshot: &str, at: &str| {
        volume(&format!(
            "{{size: 1Gi, restore: {{snapshot: {snapshot}, requestedAt: \"{at}\"}}}}"
        ))
    };
    assert_valid(&restore("nightly-1", "2026-12-03T12:00:00Z"));
    assert_valid(&restore("nightly-1", "2026-12-03T13:00:00.5+01:00"));
    assert_invalid(
        &restore("nightly-1", "2026-12-03 12:00"),
        "spec.restore.requestedAt",
        "RFC 3339",
    );
    assert_invalid(
        &restore("Nightly", "2026-12-03T12:00:00Z"),
        "spec.restore.snapshot",
        "Snapshot name",
    );
    assert_invalid(
        &volume("{size: 1Gi, fromSnapshot: Nightly}"),
        "spec.fromSnapshot",
        "Snapshot name",
    );
}

#[test]
fn the_root_group_cannot_own_a_volume() {
    assert_valid(&volume("{size: 1Gi, securityContext: {fsGroup: 1000}}"));
    assert_invalid(
        &volume("{size: 1Gi, securityContext: {fsGroup: 0}}"),
        "spec.securityContext.fsGroup",
        "root group",
    );
}

#[test]
fn snapshots_name_a_volume() {
    assert_valid("kind: Snapshot\nmetadata: {name: s1, tenant: acme}\nspec: {volume: data}\n");
    assert_invalid(
        "kind: Snapshot\nmetadata: {name: s1}\nspec: {volume: Data}\n",
        "spec.volume",
        "Volume name",
    );
}

#[test]
fn secret_keys_are_checked() {
    assert_valid("kind: Secret\nmetadata: {name: db}\ndata: {tls.crt: x, PASSWORD: y}\n");
    assert_invalid(
        "kind: Secret\nmetadata: {name: db}\ndata: {\"a/b\": x}\n",
        "data[\"a/b\"]",
        "Secret key",
    );
}

#[test]
fn nodes_have_http_agent_endpoints() {
    let node = |endpoint: &str| {
        format!("kind: Node\nmetadata: {{name: n1}}\nspec: {{agentEndpoint: \"{endpoint}\"}}\n")
    };
    assert_valid(&node("http://10.0.0.5:7071"));
    assert_invalid(&node("10.0.0.5:7071"), "spec.agentEndpoint", "http(s) URL");
}

#[test]
fn releases_validate_their_app_spec() {
    let release = "kind: Release\nmetadata: {name: web-1}\nspec: {app: web, revision: 1, specHash: h, appSpec: {replicas: 1}}\n";
    assert_invalid(release, "spec.appSpec.image", "needs an image");
    assert_valid(&release.replace("{replicas: 1}", "{image: hello:1}"));
}

#[test]
fn all_errors_are_collected() {
    let errors = validate(&resource(&app("  replicas: 500\n  privileged: true\n"))).unwrap_err();
    assert!(
        errors.has_path("spec.replicas") && errors.has_path("spec.privileged"),
        "{errors}"
    );
}

#[test]
fn parse_and_validate_points_at_the_offending_line() {
    let text = format!(
        "kind: Tenant\nmetadata: {{name: acme}}\nspec: {{}}\n---\n{}",
        app("  env:\n    - {name: A}\n    - {name: B}\n    - {name: 1BAD}\n")
    );
    let err = parse_and_validate(&text).unwrap_err();
    assert!(matches!(err, ParseError::Invalid { .. }));
    assert_eq!(
        err.to_string(),
        "document 2 (App \"web\"): spec.env[2].name at line 12, column 14: \"1BAD\" is not a valid \
         environment variable name; use letters, digits and '_' and don't start with a digit"
    );
}
