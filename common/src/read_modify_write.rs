//! Read-modify-write against a store that only offers compare-and-swap: each attempt reads,
//! decides and writes on the version it read; an attempt that loses the race to another writer
//! is made again from a fresh read, a bounded number of times, so that no concurrent change is
//! lost and no writer spins forever.

use std::future::Future;

/// Attempts one read-modify-write makes before it reports that its object kept changing:
/// enough to outlast a burst of writers to one object, few enough to answer promptly.
pub const ATTEMPTS: usize = 8;

/// An error that may be a lost compare-and-swap, which an attempt from a fresh read may win.
/// Its [`KeptChanging`] form is what a caller sees when every attempt lost.
pub trait Conflicting: From<KeptChanging> {
    /// Whether the write lost a race with another writer.
    fn is_conflict(&self) -> bool;
}

/// Every attempt of a read-modify-write lost the race to another writer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} kept changing while it was being {verb}; {advice}")]
pub struct KeptChanging {
    what: String,
    verb: &'static str,
    advice: &'static str,
}

/// One read-modify-write: what it changes, for the error when it keeps losing, and whether a
/// lost race is tried again.
#[derive(Clone, Debug)]
#[must_use]
pub struct ReadModifyWrite {
    gave_up: KeptChanging,
    retry_conflicts: bool,
}

impl ReadModifyWrite {
    /// A read-modify-write of `what` (`App "web" in tenant "acme"`), which is being `verb`
    /// (`applied`) — the words of the error when it keeps losing, which advises to try again.
    pub fn new(what: impl Into<String>, verb: &'static str) -> Self {
        Self {
            gave_up: KeptChanging {
                what: what.into(),
                verb,
                advice: "try again",
            },
            retry_conflicts: true,
        }
    }

    /// What the error advises when the object keeps changing, instead of trying again.
    pub fn advice(mut self, advice: &'static str) -> Self {
        self.gave_up.advice = advice;
        self
    }

    /// Whether a lost race is tried again: not when the caller pinned the version to write
    /// on, for then the conflict is the answer.
    pub fn retry_conflicts(mut self, retry: bool) -> Self {
        self.retry_conflicts = retry;
        self
    }

    /// Runs `attempt` — read, decide, compare-and-swap — until it does not fail with a
    /// conflict, at most [`ATTEMPTS`] times; what it returned, or [`KeptChanging`].
    pub async fn run<T, E, Attempt>(self, mut attempt: impl FnMut() -> Attempt) -> Result<T, E>
    where
        E: Conflicting,
        Attempt: Future<Output = Result<T, E>>,
    {
        for _ in 0..ATTEMPTS {
            match attempt().await {
                Err(error) if self.retry_conflicts && error.is_conflict() => continue,
                outcome => return outcome,
            }
        }
        Err(self.gave_up.into())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[derive(Debug, PartialEq)]
    enum Error {
        Conflict(String),
        Broken,
    }

    impl From<KeptChanging> for Error {
        fn from(error: KeptChanging) -> Self {
            Error::Conflict(error.to_string())
        }
    }

    impl Conflicting for Error {
        fn is_conflict(&self) -> bool {
            matches!(self, Error::Conflict(_))
        }
    }

    fn lost() -> Error {
        Error::Conflict("lost".into())
    }

    #[tokio::test]
    async fn a_lost_race_is_tried_again_from_a_fresh_read() {
        let attempts = Cell::new(0);
        let outcome = ReadModifyWrite::new("app/web", "updated")
            .run(|| {
                attempts.set(attempts.get() + 1);
                let outcome = if attempts.get() < 3 {
                    Err(lost())
                } else {
                    Ok(attempts.get())
                };
                async move { outcome }
            })
            .await;
        assert_eq!(outcome, Ok(3));
    }

    #[tokio::test]
    async fn a_write_that_keeps_losing_says_what_kept_changing() {
        let attempts = Cell::new(0);
        let outcome: Result<(), _> = ReadModifyWrite::new("app/web", "updated")
            .run(|| {
                attempts.set(attempts.get() + 1);
                async { Err(lost()) }
            })
            .await;
        assert_eq!(attempts.get(), ATTEMPTS);
        assert_eq!(
            outcome,
            Err(Error::Conflict(
                "app/web kept changing while it was being updated; try again".into()
            ))
        );
    }

    #[tokio::test]
    async fn the_advice_can_be_the_callers_own() {
        let outcome: Result<(), _> = ReadModifyWrite::new("acme/db", "re-encrypted")
            .advice("run the rotation again")
            .run(|| async { Err(lost()) })
            .await;
        let Err(Error::Conflict(message)) = outcome else {
            panic!("expected a conflict, got {outcome:?}");
        };
        assert!(message.ends_with("; run the rotation again"), "{message}");
    }

    #[tokio::test]
    async fn a_pinned_write_answers_its_first_conflict() {
        let attempts = Cell::new(0);
        let outcome: Result<(), _> = ReadModifyWrite::new("app/web", "applied")
            .retry_conflicts(false)
            .run(|| {
                attempts.set(attempts.get() + 1);
                async { Err(lost()) }
            })
            .await;
        assert_eq!((attempts.get(), outcome), (1, Err(lost())));
    }

    #[tokio::test]
    async fn other_errors_end_the_write_at_once() {
        let attempts = Cell::new(0);
        let outcome: Result<(), _> = ReadModifyWrite::new("app/web", "applied")
            .run(|| {
                attempts.set(attempts.get() + 1);
                async { Err(Error::Broken) }
            })
            .await;
        assert_eq!((attempts.get(), outcome), (1, Err(Error::Broken)));
    }
}
