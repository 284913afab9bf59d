//! Header rewriting between client and backend: hop-by-hop headers stay on their own hop (except
//! an upgrade's), and the backend learns who asked, over what, for which host
//! (`X-Forwarded-For`, `-Proto`, `-Host`).

use std::net::IpAddr;

use hyper::HeaderMap;
use hyper::header::{
    CONNECTION, HOST, HeaderName, HeaderValue, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE,
    TRAILER, TRANSFER_ENCODING, UPGRADE,
};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the
/// non-standard ones clients still send.
const HOP_BY_HOP: [HeaderName; 9] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// The protocol a request asks to switch to (`websocket`), when its `Connection` header lists
/// `upgrade` and it names one in `Upgrade`.
pub fn requested_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    connection_tokens(headers)
        .any(|token| token.eq_ignore_ascii_case("upgrade"))
        .then(|| headers.get(UPGRADE).cloned())
        .flatten()
}

/// Rewrites a client's request headers for the backend: hop-by-hop headers go (an upgrade's
/// `Connection` and `Upgrade` are kept), `Host` is the client's, and the `X-Forwarded-*` headers
/// record the client's address (appended to any chain it sent), `http` and the host.
pub fn to_backend(
    headers: &mut HeaderMap,
    host: &HeaderValue,
    client: IpAddr,
    upgrade: Option<&HeaderValue>,
) {
    remove_hop_by_hop(headers);
    if let Some(protocol) = upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, protocol.clone());
    }
    let client = client.to_canonical().to_string();
    let chain = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .chain(std::iter::once(client.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let chain = HeaderValue::try_from(chain).unwrap_or_else(|_| {
        HeaderValue::try_from(client).expect("an IP address is a valid header value")
    });
    headers.insert(X_FORWARDED_FOR, chain);
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    headers.insert(X_FORWARDED_HOST, host.clone());
    headers.insert(HOST, host.clone());
}

/// Rewrites a backend's response headers for the client: hop-by-hop headers go, except the
/// `Connection` and `Upgrade` of a switch of protocols the client asked for (`switched`).
pub fn to_client(headers: &mut HeaderMap, switched: bool) {
    let switched = switched.then(|| headers.get(UPGRADE).cloned()).flatten();
    remove_hop_by_hop(headers);
    if let Some(protocol) = switched {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, protocol);
    }
}

/// Removes the hop-by-hop headers and every header `Connection` names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|token| HeaderName::try_from(token).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP) {
        headers.remove(name);
    }
}

/// The comma-separated tokens of every `Connection` header.
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const HOST_VALUE: HeaderValue = HeaderValue::from_static("web.acme.localhost:8080");

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_do_not_reach_the_backend() {
        let mut map = headers(&[
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("proxy-authorization", "Basic x"),
            ("accept", "text/html"),
        ]);
        to_backend(&mut map, &HOST_VALUE, "10.1.2.3".parse().unwrap(), None);
        for gone in [
            "connection",
            "keep-alive",
            "x-secret",
            "te",
            "transfer-encoding",
            "proxy-authorization",
        ] {
            assert!(!map.contains_key(gone), "{gone} should be removed");
        }
        assert_eq!(map["accept"], "text/html");
    }

    #[test]
    fn the_backend_learns_the_client_protocol_and_host() {
        let mut map = headers(&[("host", "ignored")]);
        to_backend(&mut map, &HOST_VALUE, "10.1.2.3".parse().unwrap(), None);
        assert_eq!(map["x-forwarded-for"], "10.1.2.3");
        assert_eq!(map["x-forwarded-proto"], "http");
        assert_eq!(map["x-forwarded-host"], "web.acme.localhost:8080");
        assert_eq!(map["host"], "web.acme.localhost:8080");
    }

    #[test]
    fn the_client_address_is_appended_to_a_forwarded_chain() {
        let mut map = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "2.2.2.2, 3.3.3.3"),
        ]);
        to_backend(
            &mut map,
            &HOST_VALUE,
            "::ffff:10.1.2.3".parse().unwrap(),
            None,
        );
        assert_eq!(
            map["x-forwarded-for"],
            "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.1.2.3"
        );
    }

    #[test]
    fn an_upgrade_keeps_its_connection_and_upgrade_headers_both_ways() {
        let request = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
        ]);
        let upgrade = requested_upgrade(&request).expect("an upgrade");
        assert_eq!(upgrade, "websocket");
        let mut forwarded = request.clone();
        to_backend(
            &mut forwarded,
            &HOST_VALUE,
            "10.1.2.3".parse().unwrap(),
            Some(&upgrade),
        );
        assert_eq!(forwarded["connection"], "upgrade");
        assert_eq!(forwarded["upgrade"], "websocket");
        let mut response = headers(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        to_client(&mut response, true);
        assert_eq!(response["connection"], "upgrade");
        assert_eq!(response["upgrade"], "websocket");
    }

    #[test]
    fn an_upgrade_header_without_connection_upgrade_is_no_upgrade() {
        let request = headers(&[("upgrade", "websocket")]);
        assert_eq!(requested_upgrade(&request), None);
        let mut response = headers(&[("upgrade", "h2c"), ("content-type", "text/plain")]);
        to_client(&mut response, false);
        assert!(!response.contains_key("upgrade"));
        assert_eq!(response["content-type"], "text/plain");
    }
}
