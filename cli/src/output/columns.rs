//! Which columns `mini get` shows for each kind, and how each cell is read from an object.

use std::time::SystemTime;

use minicloud_manifests::{Kind, Scope};
use serde_json::Value;

use super::{age, units};
use crate::object;

/// What a cell shows.
#[derive(Clone, Copy)]
enum Cell {
    /// The value at a JSON pointer.
    Field(&'static str),
    /// The value at a JSON pointer, cut to a number of characters (container ids).
    Short(&'static str, usize),
    /// `ready/desired` replicas of an App.
    Ready,
    /// The status of a condition (`True`, `False`, `Unknown`).
    Condition(&'static str),
    /// How many keys a map holds (a Secret's data).
    Count(&'static str),
    /// Time since creation.
    Age,
    /// Time since the timestamp at a JSON pointer; empty when there is none.
    Since(&'static str),
    /// A byte count at a JSON pointer, in binary units (`23.5Gi`).
    Bytes(&'static str),
    /// A duration in milliseconds at a JSON pointer (`35ms`, `1.2s`).
    Millis(&'static str),
    /// The Apps that have a Volume mounted, each once.
    MountedBy,
}

/// A column: its title, what it shows, and whether only `-o wide` shows it.
struct Column(&'static str, Cell, bool);

/// Shown in every table.
const NARROW: bool = false;
/// Shown only with `-o wide`.
const WIDE: bool = true;

/// The columns after NAME, per kind; AGE comes last among the narrow ones.
fn kind_columns(kind: Kind) -> &'static [Column] {
    use Cell::*;
    match kind {
        Kind::App => &[
            Column("IMAGE", Field("/spec/image"), NARROW),
            Column("REPLICAS", Field("/spec/replicas"), NARROW),
            Column("READY", Ready, NARROW),
            Column("AGE", Age, NARROW),
            Column("URL", Field("/status/url"), WIDE),
            Column("RELEASE", Field("/status/currentRelease"), WIDE),
        ],
        Kind::Instance => &[
            Column("APP", Field("/spec/app"), NARROW),
            Column("PHASE", Field("/status/phase"), NARROW),
            Column("READY", Condition("Ready"), NARROW),
            Column("NODE", Field("/spec/node"), NARROW),
            Column("AGE", Age, NARROW),
            Column("CONTAINER", Short("/status/containerId", 12), WIDE),
            Column("IP", Field("/status/ip"), WIDE),
            Column("RESTARTS", Field("/status/restarts"), WIDE),
        ],
        Kind::Release => &[
            Column("APP", Field("/spec/app"), NARROW),
            Column("REVISION", Field("/spec/revision"), NARROW),
            Column("AGE", Age, NARROW),
            Column("IMAGE", Field("/spec/appSpec/image"), WIDE),
            Column("DIGEST", Field("/spec/imageDigest"), WIDE),
        ],
        Kind::Volume => &[
            Column("SIZE", Field("/spec/size"), NARROW),
            Column("USED", Bytes("/status/usedBytes"), NARROW),
            Column("PHASE", Field("/status/phase"), NARROW),
            Column("APP", MountedBy, NARROW),
            Column("AGE", Age, NARROW),
            Column("NODE", Field("/status/node"), WIDE),
            Column("ACCESS", Field("/spec/accessMode"), WIDE),
            Column("RECLAIM", Field("/spec/reclaimPolicy"), WIDE),
            Column("SCHEDULE", Field("/spec/snapshots/schedule"), WIDE),
            Column("LAST SNAPSHOT", Field("/status/lastSnapshot"), WIDE),
        ],
        Kind::Snapshot => &[
            Column("VOLUME", Field("/spec/volume"), NARROW),
            Column("SIZE", Bytes("/status/sizeBytes"), NARROW),
            Column("STATUS", Field("/status/phase"), NARROW),
            Column("TAKEN", Since("/status/completedAt"), NARROW),
            Column("ORIGIN", Field("/spec/origin"), WIDE),
            Column("CONTENT", Bytes("/status/contentBytes"), WIDE),
            Column("PAUSE", Millis("/status/pauseMillis"), WIDE),
            Column("SHA256", Short("/status/sha256", 12), WIDE),
        ],
        Kind::Secret => &[
            Column("KEYS", Count("/data"), NARROW),
            Column("AGE", Age, NARROW),
        ],
        Kind::Tenant => &[
            Column("CONTAINERS", Field("/spec/quota/containers"), NARROW),
            Column("CPU", Field("/spec/quota/cpu"), NARROW),
            Column("MEMORY", Field("/spec/quota/memory"), NARROW),
            Column("STORAGE", Field("/spec/quota/storage"), NARROW),
            Column("AGE", Age, NARROW),
        ],
        Kind::ApiKey => &[
            Column("ROLE", Field("/spec/role"), NARROW),
            Column("AGE", Age, NARROW),
            Column("PREFIX", Field("/status/prefix"), WIDE),
            Column("LAST USED", Field("/status/lastUsed"), WIDE),
            Column("DESCRIPTION", Field("/spec/description"), WIDE),
        ],
        Kind::Node => &[
            Column("READY", Condition("Ready"), NARROW),
            Column("AGE", Age, NARROW),
            Column("ADDRESS", Field("/spec/addresses/0/address"), WIDE),
            Column("CPU", Field("/status/capacity/cpu"), WIDE),
            Column("MEMORY", Field("/status/capacity/memory"), WIDE),
        ],
    }
}

/// The table layout of one `mini get`.
pub struct Columns {
    kind: Kind,
    wide: bool,
    tenant_column: bool,
}

impl Columns {
    /// The columns for `kind`; `wide` adds the wide ones; `all_tenants` adds TENANT.
    pub fn new(kind: Kind, wide: bool, all_tenants: bool) -> Self {
        let tenant_column = all_tenants && kind.scope() != Scope::Cluster;
        Self {
            kind,
            wide,
            tenant_column,
        }
    }

    fn shown(&self) -> impl Iterator<Item = &'static Column> + '_ {
        kind_columns(self.kind)
            .iter()
            .filter(|Column(_, _, wide_only)| self.wide || !wide_only)
    }

    /// The header line's cells.
    pub fn header(&self) -> Vec<String> {
        let mut titles = self.leading(|| "TENANT".to_owned(), || "NAME".to_owned());
        titles.extend(self.shown().map(|Column(title, _, _)| title.to_string()));
        titles
    }

    /// One object's cells, at time `now` (for AGE).
    pub fn row(&self, object: &Value, now: SystemTime) -> Vec<String> {
        let tenant = || object::text(object, "/metadata/tenant").to_owned();
        let mut cells = self.leading(tenant, || object::name(object).to_owned());
        cells.extend(
            self.shown()
                .map(|Column(_, cell, _)| render(*cell, object, now)),
        );
        cells
    }

    fn leading(&self, tenant: impl Fn() -> String, name: impl Fn() -> String) -> Vec<String> {
        match self.tenant_column {
            true => vec![tenant(), name()],
            false => vec![name()],
        }
    }
}

fn render(cell: Cell, object: &Value, now: SystemTime) -> String {
    let text = match cell {
        Cell::Field(pointer) => object::cell(object, pointer),
        Cell::Short(pointer, length) => {
            object::cell(object, pointer).chars().take(length).collect()
        }
        Cell::Ready => format!(
            "{}/{}",
            object
                .pointer("/status/readyReplicas")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            object
                .pointer("/spec/replicas")
                .and_then(Value::as_u64)
                .unwrap_or(1)
        ),
        Cell::Condition(kind) => condition_status(object, kind),
        Cell::Count(pointer) => object
            .pointer(pointer)
            .and_then(Value::as_object)
            .map_or(0, |map| map.len())
            .to_string(),
        Cell::Age => age::since(object::text(object, "/metadata/creationTimestamp"), now),
        Cell::Since(pointer) => match object::text(object, pointer) {
            "" => String::new(),
            timestamp => age::since(timestamp, now),
        },
        Cell::Bytes(pointer) => object
            .pointer(pointer)
            .and_then(Value::as_u64)
            .map(units::bytes)
            .unwrap_or_default(),
        Cell::Millis(pointer) => object
            .pointer(pointer)
            .and_then(Value::as_u64)
            .map(units::millis)
            .unwrap_or_default(),
        Cell::MountedBy => mounted_by_apps(object),
    };
    if text.is_empty() {
        "<none>".to_owned()
    } else {
        text
    }
}

/// The Apps among a Volume's `status.mountedBy`, each once, in order.
fn mounted_by_apps(object: &Value) -> String {
    let mut apps: Vec<&str> = Vec::new();
    let users = object
        .pointer("/status/mountedBy")
        .and_then(Value::as_array);
    for app in users.into_iter().flatten().map(|u| object::text(u, "/app")) {
        if !app.is_empty() && !apps.contains(&app) {
            apps.push(app);
        }
    }
    apps.join(",")
}

fn condition_status(object: &Value, kind: &str) -> String {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|condition| object::text(condition, "/type") == kind)
        .map(|condition| object::cell(condition, "/status"))
        .unwrap_or_else(|| "Unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> SystemTime {
        humantime::parse_rfc3339("2026-01-01T00:10:00Z").unwrap()
    }

    fn app() -> Value {
        json!({"kind": "App", "metadata": {"name": "web", "tenant": "acme",
               "creationTimestamp": "2026-01-01T00:00:00Z"},
               "spec": {"image": "hello:1", "replicas": 2},
               "status": {"readyReplicas": 1}})
    }

    #[test]
    fn an_app_row_shows_image_replicas_ready_and_age() {
        let columns = Columns::new(Kind::App, false, false);
        assert_eq!(
            columns.header(),
            ["NAME", "IMAGE", "REPLICAS", "READY", "AGE"]
        );
        assert_eq!(
            columns.row(&app(), now()),
            ["web", "hello:1", "2", "1/2", "10m"]
        );
    }

    #[test]
    fn all_tenants_adds_a_tenant_column_first() {
        let columns = Columns::new(Kind::App, false, true);
        assert_eq!(columns.header()[..2], ["TENANT", "NAME"]);
        assert_eq!(columns.row(&app(), now())[..2], ["acme", "web"]);
    }

    #[test]
    fn cluster_kinds_never_get_a_tenant_column() {
        let columns = Columns::new(Kind::Node, false, true);
        assert_eq!(columns.header(), ["NAME", "READY", "AGE"]);
    }

    #[test]
    fn wide_instances_show_a_short_container_id_ip_and_restarts() {
        let instance = json!({"kind": "Instance", "metadata": {"name": "web-1"},
            "spec": {"app": "web", "node": "n1"},
            "status": {"phase": "Running", "containerId": "0123456789abcdef", "restarts": 3,
                "conditions": [{"type": "Ready", "status": "False"}]}});
        let columns = Columns::new(Kind::Instance, true, false);
        assert_eq!(
            columns.header(),
            [
                "NAME",
                "APP",
                "PHASE",
                "READY",
                "NODE",
                "AGE",
                "CONTAINER",
                "IP",
                "RESTARTS"
            ]
        );
        assert_eq!(
            columns.row(&instance, now()),
            [
                "web-1",
                "web",
                "Running",
                "False",
                "n1",
                "<unknown>",
                "0123456789ab",
                "<none>",
                "3"
            ]
        );
    }

    #[test]
    fn a_node_is_ready_when_its_ready_condition_is_true() {
        let node = json!({"kind": "Node", "metadata": {"name": "n1"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let row = Columns::new(Kind::Node, false, false).row(&node, now());
        assert_eq!(row[1], "True");
    }

    #[test]
    fn a_volume_shows_its_size_use_phase_and_the_apps_mounting_it() {
        let volume = json!({"kind": "Volume", "metadata": {"name": "data",
                "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"size": "1Gi"},
            "status": {"phase": "Ready", "usedBytes": 25_690_112u64, "mountedBy": [
                {"app": "web", "instance": "web-1"}, {"app": "web", "instance": "web-2"},
                {"app": "cron", "instance": "cron-1", "readOnly": true}]}});
        let columns = Columns::new(Kind::Volume, false, false);
        assert_eq!(
            columns.header(),
            ["NAME", "SIZE", "USED", "PHASE", "APP", "AGE"]
        );
        assert_eq!(
            columns.row(&volume, now()),
            ["data", "1Gi", "24.5Mi", "Ready", "web,cron", "10m"]
        );
    }

    #[test]
    fn a_snapshot_shows_its_volume_size_status_and_when_it_was_taken() {
        let snapshot = json!({"kind": "Snapshot", "metadata": {"name": "data-1"},
            "spec": {"volume": "data"},
            "status": {"phase": "Ready", "sizeBytes": 3_145_728u64, "pauseMillis": 42,
                "completedAt": "2026-01-01T00:09:00Z"}});
        let row = Columns::new(Kind::Snapshot, true, false).row(&snapshot, now());
        assert_eq!(row[..5], ["data-1", "data", "3Mi", "Ready", "60s"]);
        assert_eq!(row[7], "42ms");
        let pending = json!({"kind": "Snapshot", "metadata": {"name": "data-2"},
            "spec": {"volume": "data"}});
        let row = Columns::new(Kind::Snapshot, false, false).row(&pending, now());
        assert_eq!(row[2..], ["<none>", "<none>", "<none>"]);
    }

    #[test]
    fn a_secret_shows_how_many_keys_it_holds() {
        let secret = json!({"kind": "Secret", "metadata": {"name": "db"},
            "data": {"user": "a", "password": "b"}});
        let row = Columns::new(Kind::Secret, false, false).row(&secret, now());
        assert_eq!(row[1], "2");
    }
}
