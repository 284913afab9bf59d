//! Setting typed status conditions so that `lastTransitionTime` moves only when the condition's
//! status or reason changes — rewriting the same condition leaves the status unchanged, so
//! nothing is written.

use minicloud_manifests::{Condition, ConditionStatus};

/// A condition as a controller decides it, before its transition time is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    /// The condition's type (`Available`).
    pub type_: &'static str,
    /// Whether it holds.
    pub status: ConditionStatus,
    /// Why, in PascalCase.
    pub reason: &'static str,
    /// Why, for people.
    pub message: String,
}

impl Decided {
    /// A condition that holds.
    pub fn yes(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: ConditionStatus::True,
            reason,
            message: message.into(),
        }
    }

    /// A condition that does not hold.
    pub fn no(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: ConditionStatus::False,
            ..Self::yes(type_, reason, message)
        }
    }
}

/// The condition of `type_` in `conditions`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Sets `decided` in `conditions`, keeping the previous transition time when neither status
/// nor reason changed, and stamping `now` otherwise.
pub fn set(conditions: &mut Vec<Condition>, decided: Decided, now: &str) {
    let previous = find(conditions, decided.type_);
    let unchanged =
        previous.is_some_and(|p| p.status == decided.status && p.reason == decided.reason);
    let time = match previous {
        Some(p) if unchanged => p.last_transition_time.clone(),
        _ => Some(now.to_owned()),
    };
    let condition = Condition {
        type_: decided.type_.into(),
        status: decided.status,
        reason: decided.reason.into(),
        message: decided.message,
        last_transition_time: time,
    };
    match conditions.iter_mut().find(|c| c.type_ == decided.type_) {
        Some(slot) => *slot = condition,
        None => conditions.push(condition),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_time_stays_while_status_and_reason_stay() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            Decided::no("Available", "Waiting", "0/1"),
            "t1",
        );
        set(
            &mut conditions,
            Decided::no("Available", "Waiting", "0/2"),
            "t2",
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time.as_deref(), Some("t1"));
        assert_eq!(conditions[0].message, "0/2");
    }

    #[test]
    fn a_new_status_or_reason_stamps_the_time() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            Decided::no("Available", "Waiting", ""),
            "t1",
        );
        set(
            &mut conditions,
            Decided::yes("Available", "Waiting", ""),
            "t2",
        );
        assert_eq!(conditions[0].last_transition_time.as_deref(), Some("t2"));
        set(
            &mut conditions,
            Decided::yes("Available", "Ready", ""),
            "t3",
        );
        assert_eq!(conditions[0].last_transition_time.as_deref(), Some("t3"));
    }
}
