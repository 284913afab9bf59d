//! A Volume's recent events (`status.events`): appended newest last, at most
//! [`VOLUME_EVENTS_KEPT`], the oldest dropped first.

use minicloud_manifests::{VOLUME_EVENTS_KEPT, VolumeEvent};

/// Appends an event of `reason` with `message` at `now`, dropping the oldest beyond the limit.
pub fn push(events: &mut Vec<VolumeEvent>, reason: &str, message: String, now: &str) {
    events.push(VolumeEvent {
        time: now.into(),
        reason: reason.into(),
        message,
    });
    let excess = events.len().saturating_sub(VOLUME_EVENTS_KEPT);
    events.drain(..excess);
}

/// The reason of the newest event, if any.
pub fn last_reason(events: &[VolumeEvent]) -> Option<&str> {
    events.last().map(|e| e.reason.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_kept_newest_last_up_to_the_limit() {
        let mut events = Vec::new();
        for n in 0..VOLUME_EVENTS_KEPT + 3 {
            push(&mut events, "Restored", format!("event {n}"), "t");
        }
        assert_eq!(events.len(), VOLUME_EVENTS_KEPT);
        assert_eq!(events[0].message, "event 3");
        assert_eq!(
            events.last().map(|e| e.message.clone()),
            Some(format!("event {}", VOLUME_EVENTS_KEPT + 2))
        );
        assert_eq!(last_reason(&events), Some("Restored"));
    }
}
