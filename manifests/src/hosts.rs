//! The host names an App is served at by the ingress proxy: `<app>.<tenant>.<domain>` always,
//! and `spec.ingress.host` when the App may use it. Shared by the proxy's route table and the
//! App controller, which shows the URL in App.status.url.

use crate::App;

/// The URL users reach `app` at through an ingress serving `domain` on `port`: its explicit host
/// when it may use it, else its default host; `None` when the App has no `spec.ingress`.
pub fn app_url(app: &App, domain: &str, port: u16) -> Option<String> {
    app.spec.ingress.as_ref()?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let host = explicit_host(app, &domain).unwrap_or_else(|| default_host(app, &domain));
    Some(match port {
        80 => format!("http://{host}"),
        port => format!("http://{host}:{port}"),
    })
}

/// The App's default host: `<app>.<tenant>.<domain>`.
pub fn default_host(app: &App, domain: &str) -> String {
    format!(
        "{}.{}.{}",
        app.metadata.name,
        app.metadata.tenant.as_deref().unwrap_or_default(),
        domain.trim_end_matches('.'),
    )
    .to_ascii_lowercase()
}

/// The App's `spec.ingress.host`, when it has one it may use: a host inside `domain` must end in
/// the App's own `.<tenant>.<domain>`.
pub fn explicit_host(app: &App, domain: &str) -> Option<String> {
    let host = normalize_host(app.spec.ingress.as_ref()?.host.as_deref()?);
    let tenant = app.metadata.tenant.as_deref()?;
    let inside_domain = host == domain || host.ends_with(&format!(".{domain}"));
    let own_zone = host.ends_with(&format!(".{tenant}.{domain}"));
    (!inside_domain || own_zone).then_some(host)
}

/// A Host header (or URI authority) reduced to the name routes are keyed by: no port, no
/// trailing dot, lowercase. `[::1]:8080` becomes `[::1]`.
pub fn normalize_host(raw: &str) -> String {
    let raw = raw.trim();
    let name = if raw.starts_with('[') {
        raw.split_inclusive(']').next().unwrap_or(raw)
    } else {
        raw.rsplit_once(':').map_or(raw, |(name, _port)| name)
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppSpec, Ingress, ObjectMeta, PortRef};

    fn app(tenant: &str, name: &str, host: Option<&str>) -> App {
        let spec = AppSpec {
            ingress: Some(Ingress {
                port: PortRef::Name("http".into()),
                host: host.map(Into::into),
            }),
            ..AppSpec::default()
        };
        App::new(ObjectMeta::named(name, Some(tenant)), spec)
    }

    #[test]
    fn the_url_names_the_default_host_and_a_port_other_than_80() {
        let web = app("acme", "Web", None);
        let url = app_url(&web, "LocalHost.", 8080);
        assert_eq!(url.as_deref(), Some("http://web.acme.localhost:8080"));
        let url = app_url(&web, "apps.example.com", 80);
        assert_eq!(url.as_deref(), Some("http://web.acme.apps.example.com"));
    }

    #[test]
    fn an_explicit_host_is_used_only_when_the_app_may_use_it() {
        let own = app("acme", "web", Some("shop.acme.localhost"));
        let url = app_url(&own, "localhost", 8080);
        assert_eq!(url.as_deref(), Some("http://shop.acme.localhost:8080"));
        let outside = app("acme", "web", Some("www.acme-shop.com"));
        let url = app_url(&outside, "localhost", 80);
        assert_eq!(url.as_deref(), Some("http://www.acme-shop.com"));
        let foreign = app("acme", "web", Some("web.globex.localhost"));
        let url = app_url(&foreign, "localhost", 8080);
        assert_eq!(url.as_deref(), Some("http://web.acme.localhost:8080"));
    }

    #[test]
    fn an_app_without_ingress_has_no_url() {
        let mut web = app("acme", "web", None);
        web.spec.ingress = None;
        assert_eq!(app_url(&web, "localhost", 8080), None);
    }
}
