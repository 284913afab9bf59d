//! Syntax of names: DNS labels and subdomains, label keys and values, environment variable
//! names, port names, secret keys.

use super::Errors;

/// Tenant names nobody may create: they name minicloud's own components, or would read
/// confusingly in `<app>.<tenant>.<domain>` and `<app>.<tenant>.internal` host names.
pub const RESERVED_TENANT_NAMES: [&str; 6] = [
    "system",
    "minicloud",
    "internal",
    "kube-system",
    "kube-public",
    "localhost",
];

/// The advice attached to an invalid DNS label.
pub(crate) const DNS_LABEL_HELP: &str = "use at most 63 lowercase letters, digits and '-', \
                                         starting and ending with a letter or digit";

/// A DNS-1123 label: 1–63 of `[a-z0-9-]`, starting and ending alphanumeric.
pub fn is_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Records an error at `path` unless `name` is a valid name of a `what` (an object kind).
pub(super) fn name_ref(errors: &mut Errors, path: &str, what: &str, name: &str) {
    if !is_dns_label(name) {
        errors.add(
            path,
            format!("{name:?} is not a valid {what} name; {DNS_LABEL_HELP}"),
        );
    }
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// An IANA service name: 1–15 of `[a-z0-9-]`, with a letter, no leading, trailing or double
/// `-`.
pub(crate) fn is_port_name(name: &str) -> bool {
    name.len() <= 15
        && is_dns_label(name)
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.contains("--")
}

/// 0–63 of `[A-Za-z0-9-_.]`, starting and ending alphanumeric when not empty.
pub(crate) fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// `[prefix/]name`: an optional DNS subdomain prefix and a non-empty label-value name.
pub(crate) fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    prefix.is_none_or(|p| !p.is_empty() && is_dns_subdomain(p))
        && !name.is_empty()
        && is_label_value(name)
}

/// A Secret key: 1–253 of `[-._a-zA-Z0-9]`, not `.` or `..`.
pub(crate) fn is_secret_key(key: &str) -> bool {
    (1..=253).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && key != "."
        && key != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_are_short_lowercase_and_alphanumeric_at_the_ends() {
        assert!(is_dns_label("web-1"));
        for bad in ["", "Web", "web_1", "-web", "web-", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
    }

    #[test]
    fn dns_subdomains_are_dotted_labels() {
        assert!(is_dns_subdomain("node-1.example.com"));
        assert!(!is_dns_subdomain("node..example"));
    }

    #[test]
    fn env_names_start_with_a_letter_or_underscore() {
        assert!(is_env_name("_DB_PASSWORD2"));
        for bad in ["", "1BAD", "A-B", "A B"] {
            assert!(!is_env_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn port_names_need_a_letter_and_fit_in_15_characters() {
        assert!(is_port_name("http"));
        for bad in ["8080", "http--alt", "a-very-long-port-name", "HTTP"] {
            assert!(!is_port_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn label_keys_may_have_a_dns_prefix() {
        assert!(is_label_key("team"));
        assert!(is_label_key("minicloud.dev/app_name.v2"));
        for bad in ["", "/x", "a/", "Bad Prefix/x", "-x", "a/b/c"] {
            assert!(!is_label_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn label_values_may_be_empty_but_not_long_or_odd() {
        assert!(is_label_value(""));
        assert!(is_label_value("Blue_1.0"));
        assert!(!is_label_value(&"a".repeat(64)));
        assert!(!is_label_value("blue!"));
    }

    #[test]
    fn secret_keys_allow_dots_but_not_dot_dirs() {
        assert!(is_secret_key("tls.crt"));
        assert!(!is_secret_key(".."));
        assert!(!is_secret_key("a/b"));
    }
}
