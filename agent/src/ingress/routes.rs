//! The route table: which backends serve which host, computed from Apps and Instances alone.
//!
//! An App with `spec.ingress` is served at `<app>.<tenant>.<domain>`, or at `spec.ingress.host`
//! when set; its backends are its Instances that run, pass their health check and have an
//! address, at the ingress port resolved by name (or number) among the Instance's own ports.
//! Requests are spread over the backends round robin.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use minicloud_manifests::hosts::{default_host, explicit_host, normalize_host};
use minicloud_manifests::{App, Instance, InstancePhase, Port, PortRef};

/// Hosts and the backends behind them; immutable once built (only the round-robin positions
/// move).
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: HashMap<String, Route>,
}

/// The backends of one App.
#[derive(Debug)]
pub struct Route {
    tenant: String,
    app: String,
    backends: Vec<SocketAddr>,
    /// Shared with the same host's route in earlier and later tables, so that rebuilding the
    /// table on every change does not send each first request to the first backend.
    next: Arc<AtomicUsize>,
}

impl RouteTable {
    /// The table for `apps` and `instances` under `domain` (`localhost`). Round-robin positions
    /// carry over from `previous` for hosts both tables serve.
    ///
    /// Each host goes to one App: default hosts (`<app>.<tenant>.<domain>`) first, then explicit
    /// `spec.ingress.host`s, oldest App first. An explicit host inside `domain` must end in the
    /// App's own `.<tenant>.<domain>`, so one tenant can never take another's names.
    pub fn build<'a>(
        domain: &str,
        apps: impl IntoIterator<Item = &'a App>,
        instances: impl IntoIterator<Item = &'a Instance>,
        previous: &RouteTable,
    ) -> RouteTable {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let mut apps: Vec<&App> = apps
            .into_iter()
            .filter(|app| app.spec.ingress.is_some() && app.metadata.tenant.is_some())
            .collect();
        apps.sort_by(|a, b| age_order(a).cmp(&age_order(b)));
        let mut ready: HashMap<(&str, &str), Vec<&Instance>> = HashMap::new();
        for instance in instances.into_iter().filter(|i| is_ready(i)) {
            if let Some(tenant) = instance.metadata.tenant.as_deref() {
                ready
                    .entry((tenant, instance.spec.app.as_str()))
                    .or_default()
                    .push(instance);
            }
        }
        let claims = apps
            .iter()
            .map(|app| (default_host(app, &domain), *app))
            .chain(apps.iter().filter_map(|app| {
                let host = explicit_host(app, &domain)?;
                Some((host, *app))
            }));
        let mut routes = HashMap::new();
        for (host, app) in claims {
            if routes.contains_key(&host) {
                continue;
            }
            let tenant = app.metadata.tenant.clone().unwrap_or_default();
            let found = ready.get(&(tenant.as_str(), app.metadata.name.as_str()));
            let next = previous
                .routes
                .get(&host)
                .map(|route| route.next.clone())
                .unwrap_or_default();
            let route = Route {
                backends: backends(app, found.map(Vec::as_slice).unwrap_or_default()),
                tenant,
                app: app.metadata.name.clone(),
                next,
            };
            routes.insert(host, route);
        }
        RouteTable { routes }
    }

    /// The route serving `host` as a client sent it (`Web.Acme.localhost:8080`): the port is
    /// ignored and case does not matter.
    pub fn lookup(&self, host: &str) -> Option<&Route> {
        self.routes.get(&normalize_host(host))
    }

    /// How many hosts the table serves.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether the table serves no host at all.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

impl Route {
    /// The App's tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The App's name.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The ready backends, in a stable order.
    pub fn backends(&self) -> &[SocketAddr] {
        &self.backends
    }

    /// Every backend once, starting with the next one in round-robin order: the first is where
    /// a request goes, the rest are where it may be retried. Empty when no instance is ready.
    pub fn candidates(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        let count = self.backends.len();
        let start = match count {
            0 => 0,
            _ => self.next.fetch_add(1, Ordering::Relaxed) % count,
        };
        (0..count).map(move |offset| self.backends[(start + offset) % count])
    }
}

/// Sort key putting older Apps first; ties (and missing timestamps) by tenant and name.
fn age_order(app: &App) -> (&str, Option<&str>, &str) {
    let meta = &app.metadata;
    (
        meta.creation_timestamp.as_deref().unwrap_or("~"),
        meta.tenant.as_deref(),
        meta.name.as_str(),
    )
}

/// Whether an Instance may take traffic: running, ready, addressed and not being deleted.
fn is_ready(instance: &Instance) -> bool {
    instance.metadata.deletion_timestamp.is_none()
        && instance.status.as_ref().is_some_and(|status| {
            status.phase == InstancePhase::Running && status.ready && status.ip.is_some()
        })
}

/// The addresses of `instances` at the App's ingress port, ordered by instance name.
fn backends(app: &App, instances: &[&Instance]) -> Vec<SocketAddr> {
    let Some(ingress) = &app.spec.ingress else {
        return Vec::new();
    };
    let mut named: Vec<(&str, SocketAddr)> = instances
        .iter()
        .filter_map(|instance| {
            let ip: IpAddr = instance.status.as_ref()?.ip.as_deref()?.parse().ok()?;
            let port = resolve_port(
                &ingress.port,
                &instance.spec.container.ports,
                &app.spec.ports,
            )?;
            Some((instance.metadata.name.as_str(), SocketAddr::new(ip, port)))
        })
        .collect();
    named.sort();
    named.into_iter().map(|(_, address)| address).collect()
}

/// The port number `port` names: among the Instance's own ports first (a release may have moved
/// it), then the App's.
fn resolve_port(port: &PortRef, instance_ports: &[Port], app_ports: &[Port]) -> Option<u16> {
    match port {
        PortRef::Number(number) => Some(*number),
        PortRef::Name(name) => instance_ports
            .iter()
            .chain(app_ports)
            .find(|declared| declared.name.as_deref() == Some(name.as_str()))
            .map(|declared| declared.port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_manifests::{
        AppSpec, ContainerSpec, Ingress, InstanceSpec, InstanceStatus, ObjectMeta, Resources,
    };

    fn port(name: &str, number: u16) -> Port {
        Port {
            name: Some(name.to_owned()),
            port: number,
            protocol: None,
        }
    }

    fn app(tenant: &str, name: &str, ingress: Option<PortRef>) -> App {
        let mut meta = ObjectMeta::named(name, Some(tenant));
        meta.creation_timestamp = Some("2025-01-01T00:00:00Z".to_owned());
        App::new(
            meta,
            AppSpec {
                image: Some("hello:1".to_owned()),
                ports: vec![port("http", 8080), port("admin", 9090)],
                ingress: ingress.map(|port| Ingress { port, host: None }),
                ..AppSpec::default()
            },
        )
    }

    fn with_host(mut app: App, host: &str, created: &str) -> App {
        app.spec.ingress.as_mut().unwrap().host = Some(host.to_owned());
        app.metadata.creation_timestamp = Some(created.to_owned());
        app
    }

    fn instance(tenant: &str, app: &str, name: &str, ip: &str, ready: bool) -> Instance {
        let spec = InstanceSpec {
            app: app.to_owned(),
            release: format!("{app}-r1"),
            node: Some("n1".to_owned()),
            container: ContainerSpec {
                image: "hello:1".to_owned(),
                command: Vec::new(),
                args: Vec::new(),
                env: Vec::new(),
                ports: vec![port("http", 8080), port("admin", 9090)],
                resources: Resources::default().resolve(),
                volumes: Vec::new(),
                health_check: None,
                user: None,
                capabilities: Vec::new(),
            },
        };
        let mut instance = Instance::new(ObjectMeta::named(name, Some(tenant)), spec);
        instance.status = Some(InstanceStatus {
            phase: InstancePhase::Running,
            ip: Some(ip.to_owned()),
            ready,
            ..InstanceStatus::default()
        });
        instance
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn table(apps: &[App], instances: &[Instance]) -> RouteTable {
        RouteTable::build("localhost", apps, instances, &RouteTable::default())
    }

    #[test]
    fn an_app_is_served_at_its_name_and_tenant_under_the_domain() {
        let apps = [app("acme", "web", Some(PortRef::Name("http".into())))];
        let instances = [instance("acme", "web", "web-a", "10.0.0.2", true)];
        let table = table(&apps, &instances);
        let route = table.lookup("web.acme.localhost").expect("a route");
        assert_eq!((route.tenant(), route.app()), ("acme", "web"));
        assert_eq!(route.backends(), [addr("10.0.0.2:8080")]);
        assert!(table.lookup("web.other.localhost").is_none());
        assert!(table.lookup("api.acme.localhost").is_none());
    }

    #[test]
    fn hosts_match_without_port_case_or_trailing_dot() {
        let apps = [app("acme", "web", Some(PortRef::Name("http".into())))];
        let table = table(&apps, &[]);
        for host in [
            "web.acme.localhost:8080",
            "WEB.Acme.LocalHost",
            "web.acme.localhost.",
        ] {
            assert!(table.lookup(host).is_some(), "{host} should match");
        }
        assert_eq!(normalize_host("[::1]:8080"), "[::1]");
    }

    #[test]
    fn only_running_ready_addressed_live_instances_are_backends() {
        let apps = [app("acme", "web", Some(PortRef::Name("http".into())))];
        let mut pending = instance("acme", "web", "web-p", "10.0.0.3", true);
        pending.status.as_mut().unwrap().phase = InstancePhase::Pending;
        let mut no_ip = instance("acme", "web", "web-n", "10.0.0.4", true);
        no_ip.status.as_mut().unwrap().ip = None;
        let mut deleting = instance("acme", "web", "web-d", "10.0.0.5", true);
        deleting.metadata.deletion_timestamp = Some("2025-01-01T00:00:00Z".to_owned());
        let mut unobserved = instance("acme", "web", "web-u", "10.0.0.6", true);
        unobserved.status = None;
        let instances = [
            instance("acme", "web", "web-a", "10.0.0.2", true),
            instance("acme", "web", "web-b", "10.0.0.7", false),
            pending,
            no_ip,
            deleting,
            unobserved,
        ];
        let table = table(&apps, &instances);
        let route = table.lookup("web.acme.localhost").unwrap();
        assert_eq!(route.backends(), [addr("10.0.0.2:8080")]);
    }

    #[test]
    fn an_app_without_ready_instances_keeps_its_route_with_no_backends() {
        let apps = [app("acme", "web", Some(PortRef::Name("http".into())))];
        let instances = [instance("acme", "web", "web-a", "10.0.0.2", false)];
        let table = table(&apps, &instances);
        let route = table.lookup("web.acme.localhost").unwrap();
        assert!(route.backends().is_empty());
        assert_eq!(route.candidates().count(), 0);
    }

    #[test]
    fn instances_of_another_tenant_or_app_are_not_backends() {
        let apps = [
            app("acme", "web", Some(PortRef::Name("http".into()))),
            app("other", "web", Some(PortRef::Name("http".into()))),
        ];
        let instances = [
            instance("other", "web", "web-a", "10.0.1.2", true),
            instance("acme", "api", "api-a", "10.0.0.9", true),
        ];
        let table = table(&apps, &instances);
        assert!(
            table
                .lookup("web.acme.localhost")
                .unwrap()
                .backends()
                .is_empty()
        );
        assert_eq!(
            table.lookup("web.other.localhost").unwrap().backends(),
            [addr("10.0.1.2:8080")]
        );
    }

    #[test]
    fn apps_without_ingress_get_no_route() {
        let apps = [app("acme", "worker", None)];
        let instances = [instance("acme", "worker", "worker-a", "10.0.0.2", true)];
        assert!(table(&apps, &instances).is_empty());
    }

    #[test]
    fn the_ingress_port_resolves_by_name_or_number() {
        let apps = [
            app("acme", "admin", Some(PortRef::Name("admin".into()))),
            app("acme", "raw", Some(PortRef::Number(7000))),
            app("acme", "typo", Some(PortRef::Name("nope".into()))),
        ];
        let instances = [
            instance("acme", "admin", "admin-a", "10.0.0.2", true),
            instance("acme", "raw", "raw-a", "10.0.0.3", true),
            instance("acme", "typo", "typo-a", "10.0.0.4", true),
        ];
        let table = table(&apps, &instances);
        let backends = |host: &str| table.lookup(host).unwrap().backends().to_vec();
        assert_eq!(backends("admin.acme.localhost"), [addr("10.0.0.2:9090")]);
        assert_eq!(backends("raw.acme.localhost"), [addr("10.0.0.3:7000")]);
        assert!(backends("typo.acme.localhost").is_empty());
    }

    #[test]
    fn a_port_name_follows_the_instances_own_release() {
        let apps = [app("acme", "web", Some(PortRef::Name("http".into())))];
        let mut moved = instance("acme", "web", "web-new", "10.0.0.3", true);
        moved.spec.container.ports = vec![port("http", 3000)];
        let instances = [instance("acme", "web", "web-old", "10.0.0.2", true), moved];
        let table = table(&apps, &instances);
        assert_eq!(
            table.lookup("web.acme.localhost").unwrap().backends(),
            [addr("10.0.0.3:3000"), addr("10.0.0.2:8080")]
        );
    }

    #[test]
    fn requests_go_round_robin_and_retries_visit_every_backend_once() {
        let apps = [app("acme", "web", Some(PortRef::Name("http".into())))];
        let instances = [
            instance("acme", "web", "web-a", "10.0.0.1", true),
            instance("acme", "web", "web-b", "10.0.0.2", true),
            instance("acme", "web", "web-c", "10.0.0.3", true),
        ];
        let table = table(&apps, &instances);
        let route = table.lookup("web.acme.localhost").unwrap();
        let firsts: Vec<SocketAddr> = (0..6).map(|_| route.candidates().next().unwrap()).collect();
        let [a, b, c] = [0, 1, 2].map(|i| route.backends()[i]);
        assert_eq!(firsts, [a, b, c, a, b, c]);
        let all: Vec<SocketAddr> = route.candidates().collect();
        assert_eq!(all, [a, b, c]);
        assert_eq!(route.candidates().collect::<Vec<_>>(), [b, c, a]);
    }

    #[test]
    fn round_robin_continues_across_rebuilds() {
        let apps = [app("acme", "web", Some(PortRef::Name("http".into())))];
        let instances = [
            instance("acme", "web", "web-a", "10.0.0.1", true),
            instance("acme", "web", "web-b", "10.0.0.2", true),
        ];
        let first = table(&apps, &instances);
        let picked = first
            .lookup("web.acme.localhost")
            .unwrap()
            .candidates()
            .next();
        let second = RouteTable::build("localhost", &apps, &instances, &first);
        let next = second
            .lookup("web.acme.localhost")
            .unwrap()
            .candidates()
            .next();
        assert_ne!(picked, next);
    }

    #[test]
    fn an_explicit_host_is_served_beside_the_default_one() {
        let apps = [with_host(
            app("acme", "web", Some(PortRef::Name("http".into()))),
            "www.example.com",
            "2025-01-01T00:00:00Z",
        )];
        let table = table(&apps, &[]);
        assert_eq!(table.lookup("WWW.example.com").unwrap().app(), "web");
        assert_eq!(table.lookup("web.acme.localhost").unwrap().app(), "web");
    }

    #[test]
    fn a_tenant_cannot_claim_a_host_in_another_tenants_zone() {
        let apps = [
            with_host(
                app("evil", "web", Some(PortRef::Name("http".into()))),
                "shop.acme.localhost",
                "2020-01-01T00:00:00Z",
            ),
            with_host(
                app("acme", "blog", Some(PortRef::Name("http".into()))),
                "news.acme.localhost",
                "2025-01-01T00:00:00Z",
            ),
        ];
        let table = table(&apps, &[]);
        assert!(table.lookup("shop.acme.localhost").is_none());
        assert_eq!(table.lookup("news.acme.localhost").unwrap().app(), "blog");
    }

    #[test]
    fn default_hosts_win_over_explicit_ones_and_older_apps_over_newer() {
        let apps = [
            with_host(
                app("acme", "blog", Some(PortRef::Name("http".into()))),
                "web.acme.localhost",
                "2020-01-01T00:00:00Z",
            ),
            app("acme", "web", Some(PortRef::Name("http".into()))),
            with_host(
                app("other", "late", Some(PortRef::Name("http".into()))),
                "www.example.com",
                "2026-01-01T00:00:00Z",
            ),
            with_host(
                app("acme", "early", Some(PortRef::Name("http".into()))),
                "www.example.com",
                "2024-01-01T00:00:00Z",
            ),
        ];
        let table = table(&apps, &[]);
        assert_eq!(table.lookup("web.acme.localhost").unwrap().app(), "web");
        assert_eq!(table.lookup("www.example.com").unwrap().app(), "early");
    }

    #[test]
    fn the_domain_is_configurable() {
        let apps = [app("acme", "web", Some(PortRef::Name("http".into())))];
        let table = RouteTable::build("Apps.Example.org.", &apps, &[], &RouteTable::default());
        assert!(table.lookup("web.acme.apps.example.org").is_some());
        assert!(table.lookup("web.acme.localhost").is_none());
    }
}
