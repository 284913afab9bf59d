//! The reconcile history: each reconcile that acted (made a note) or failed becomes a
//! [`Decision`] — what triggered it, what it did, how it ended — handed to a [`HistorySink`]
//! with the object it was about. Reconciles that changed nothing are not recorded: that keeps
//! the history about decisions, and a history write can never feed another reconcile.

use std::time::Duration;

/// The object a decision was about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// Its kind, as the API names it (`App`).
    pub kind: &'static str,
    /// Its tenant; `None` for cluster kinds.
    pub tenant: Option<String>,
    /// Its name.
    pub name: String,
}

/// One recorded reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The controller that made it.
    pub controller: &'static str,
    /// What it was about.
    pub subject: Subject,
    /// Why it ran.
    pub triggers: Vec<String>,
    /// What it did.
    pub actions: Vec<String>,
    /// `done`, `requeue after 5s` or `error`.
    pub outcome: String,
    /// The error, when it failed.
    pub error: Option<String>,
    /// How long it took.
    pub took: Duration,
}

/// Where decisions go; must not wait (the worker calls it between reconciles).
pub trait HistorySink: Send + Sync + 'static {
    /// Takes one decision.
    fn record(&self, decision: Decision);
}

/// The decision to record of a run with `actions` that ended with `outcome` (`Err`: the
/// error's text), or `None` when it changed nothing.
pub fn decision(
    (controller, subject): (&'static str, Subject),
    triggers: Vec<String>,
    actions: Vec<String>,
    outcome: Result<Option<Duration>, String>,
    took: Duration,
) -> Option<Decision> {
    if actions.is_empty() && outcome.is_ok() {
        return None;
    }
    let (outcome, error) = match outcome {
        Ok(None) => ("done".to_owned(), None),
        Ok(Some(after)) => (
            format!("requeue after {}", humantime::format_duration(round(after))),
            None,
        ),
        Err(error) => ("error".to_owned(), Some(error)),
    };
    Some(Decision {
        controller,
        subject,
        triggers,
        actions,
        outcome,
        error,
        took,
    })
}

/// `d` to whole seconds, or milliseconds below one.
fn round(d: Duration) -> Duration {
    match d.as_secs() {
        0 => Duration::from_millis(d.as_millis() as u64),
        secs => Duration::from_secs(secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> (&'static str, Subject) {
        let subject = Subject {
            kind: "App",
            tenant: Some("acme".into()),
            name: "web".into(),
        };
        ("app", subject)
    }

    #[test]
    fn a_run_that_changed_nothing_is_not_recorded() {
        let run = decision(
            subject(),
            vec!["resync".into()],
            vec![],
            Ok(None),
            Duration::ZERO,
        );
        assert_eq!(run, None);
    }

    #[test]
    fn a_run_that_acted_is_recorded_with_its_trigger_and_outcome() {
        let actions = vec!["created Instance web-x1".to_owned()];
        let after = Some(Duration::from_millis(5_300));
        let run = decision(
            subject(),
            vec!["app/web changed".into()],
            actions,
            Ok(after),
            Duration::ZERO,
        );
        let run = run.unwrap();
        assert_eq!(run.outcome, "requeue after 5s");
        assert_eq!(run.triggers, ["app/web changed"]);
        assert_eq!(run.error, None);
    }

    #[test]
    fn a_failed_run_is_recorded_with_its_error() {
        let failed = Err("cannot list the App's Instances".to_owned());
        let run = decision(subject(), vec![], vec![], failed, Duration::ZERO).unwrap();
        assert_eq!(run.outcome, "error");
        assert_eq!(
            run.error.as_deref(),
            Some("cannot list the App's Instances")
        );
    }
}
