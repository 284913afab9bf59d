//! Label selectors, as in Kubernetes: `key=value`, `key==value`, `key!=value`, `key`, `!key`,
//! comma-separated, all of which must hold.

use super::{ApiError, Result};

/// One requirement on an object's labels.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses `text`; an error names the clause that is wrong.
    pub fn parse(text: &str) -> Result<Self> {
        let clauses = text
            .split(',')
            .map(str::trim)
            .filter(|clause| !clause.is_empty());
        clauses
            .map(parse_clause)
            .collect::<Result<_>>()
            .map(LabelSelector)
    }

    /// Whether labels satisfying every requirement are among `labels`.
    pub fn matches<'a>(&self, labels: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> bool {
        let value_of = |key: &str| labels.clone().find(|(k, _)| *k == key).map(|(_, v)| v);
        self.0.iter().all(|requirement| match requirement {
            Requirement::Equals(key, value) => value_of(key) == Some(value.as_str()),
            Requirement::NotEquals(key, value) => value_of(key) != Some(value.as_str()),
            Requirement::Exists(key) => value_of(key).is_some(),
            Requirement::Absent(key) => value_of(key).is_none(),
        })
    }
}

fn parse_clause(clause: &str) -> Result<Requirement> {
    let invalid = || {
        ApiError::BadRequest(format!(
            "label selector clause {clause:?} is not valid; use key=value, key!=value, key or !key"
        ))
    };
    let word = |text: &str| {
        let text = text.trim();
        let ok = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        ok.then(|| text.to_owned()).ok_or_else(invalid)
    };
    if let Some((key, value)) = clause.split_once("!=") {
        return Ok(Requirement::NotEquals(word(key)?, value.trim().to_owned()));
    }
    if let Some((key, value)) = clause.split_once("==").or_else(|| clause.split_once('=')) {
        return Ok(Requirement::Equals(word(key)?, value.trim().to_owned()));
    }
    match clause.strip_prefix('!') {
        Some(key) => Ok(Requirement::Absent(word(key)?)),
        None => Ok(Requirement::Exists(word(clause)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<(&'static str, &'static str)> {
        vec![("team", "blue"), ("tier", "web")]
    }

    #[test]
    fn every_clause_must_hold() {
        let selector = LabelSelector::parse("team=blue, tier==web").unwrap();
        assert!(selector.matches(labels().into_iter()));
        assert!(
            !LabelSelector::parse("team=blue,tier=db")
                .unwrap()
                .matches(labels().into_iter())
        );
    }

    #[test]
    fn existence_and_inequality_clauses_work() {
        assert!(
            LabelSelector::parse("team,!owner,tier!=db")
                .unwrap()
                .matches(labels().into_iter())
        );
        assert!(
            !LabelSelector::parse("!team")
                .unwrap()
                .matches(labels().into_iter())
        );
    }

    #[test]
    fn the_empty_selector_matches_everything() {
        assert!(
            LabelSelector::parse("")
                .unwrap()
                .matches(std::iter::empty())
        );
    }

    #[test]
    fn a_malformed_clause_is_named_in_the_error() {
        let error = LabelSelector::parse("team=blue,=x").unwrap_err();
        assert!(error.to_string().contains("\"=x\""), "{error}");
    }
}
