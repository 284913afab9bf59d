//! Which kept lines a read wants: one App of one tenant, optionally one Release, one
//! Instance, a start time and a regular expression the text must match.

use minicloud_common::grep;
use minicloud_proto::v1::AppLogsRequest;
use regex::Regex;

/// Why a read's filter cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    /// A field that must be given is empty.
    #[error("{0} is required")]
    Missing(&'static str),
    /// The `grep` expression does not compile.
    #[error(transparent)]
    BadExpression(#[from] grep::BadExpression),
}

/// A read's filter.
#[derive(Debug, Clone)]
pub struct Filter {
    tenant: String,
    app: String,
    release: Option<String>,
    instance: Option<String>,
    since_unix_nanos: i64,
    grep: Option<Regex>,
}

impl Filter {
    /// The filter a request asks for. A Release given by number (`3`) means the App's
    /// Release of that number (`web-3`).
    pub fn from_request(request: &AppLogsRequest) -> Result<Filter, FilterError> {
        if request.tenant.is_empty() {
            return Err(FilterError::Missing("tenant"));
        }
        if request.app.is_empty() {
            return Err(FilterError::Missing("app"));
        }
        let release = match request.release.as_str() {
            "" => None,
            number if number.bytes().all(|b| b.is_ascii_digit()) => {
                Some(format!("{}-{number}", request.app))
            }
            name => Some(name.to_owned()),
        };
        let grep = match request.grep.as_str() {
            "" => None,
            expression => Some(grep::compile(expression)?),
        };
        Ok(Filter {
            tenant: request.tenant.clone(),
            app: request.app.clone(),
            release,
            instance: (!request.instance.is_empty()).then(|| request.instance.clone()),
            since_unix_nanos: request.since.saturating_mul(1_000_000_000),
            grep,
        })
    }

    /// The tenant whose lines are read.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Whether a kept line is wanted.
    pub fn matches(&self, time: i64, app: &str, release: &str, instance: &str, text: &str) -> bool {
        app == self.app
            && time >= self.since_unix_nanos
            && self
                .release
                .as_deref()
                .is_none_or(|wanted| wanted == release)
            && self
                .instance
                .as_deref()
                .is_none_or(|wanted| wanted == instance)
            && self.grep.as_ref().is_none_or(|grep| grep.is_match(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(release: &str, instance: &str, grep: &str, since: i64) -> AppLogsRequest {
        AppLogsRequest {
            tenant: "acme".into(),
            app: "web".into(),
            release: release.into(),
            instance: instance.into(),
            grep: grep.into(),
            since,
            ..AppLogsRequest::default()
        }
    }

    #[test]
    fn every_given_field_must_match() {
        let filter = Filter::from_request(&request("2", "web-2-a", "err(or)?", 10)).unwrap();
        let at = 10_000_000_000;
        assert!(filter.matches(at, "web", "web-2", "web-2-a", "an error"));
        assert!(
            !filter.matches(at, "api", "web-2", "web-2-a", "an error"),
            "app"
        );
        assert!(
            !filter.matches(at, "web", "web-1", "web-2-a", "an error"),
            "release"
        );
        assert!(
            !filter.matches(at, "web", "web-2", "web-2-b", "an error"),
            "instance"
        );
        assert!(
            !filter.matches(at, "web", "web-2", "web-2-a", "fine"),
            "grep"
        );
        assert!(
            !filter.matches(at - 1, "web", "web-2", "web-2-a", "an error"),
            "since"
        );
    }

    #[test]
    fn empty_fields_match_everything_of_the_app() {
        let filter = Filter::from_request(&request("", "", "", 0)).unwrap();
        assert!(filter.matches(0, "web", "web-9", "any", ""));
        let named = Filter::from_request(&request("web-3", "", "", 0)).unwrap();
        assert!(named.matches(0, "web", "web-3", "any", ""));
    }

    #[test]
    fn a_bad_expression_says_what_is_wrong() {
        let error = Filter::from_request(&request("", "", "(unclosed", 0)).unwrap_err();
        assert!(matches!(error, FilterError::BadExpression(_)), "{error:?}");
        let mut no_app = request("", "", "", 0);
        no_app.app.clear();
        assert_eq!(
            Filter::from_request(&no_app).unwrap_err(),
            FilterError::Missing("app")
        );
    }
}
