//! Names of the Snapshots the controllers create: deterministic, so two controllers (or one
//! restarted) make the same name and the store keeps one object, and always a valid DNS label.

use chrono::{DateTime, Utc};
use minicloud_manifests::Volume;

/// Longest object name.
const MAX_NAME: usize = 63;

/// `<volume>-<suffix>`, the volume's part shortened so that the whole fits a name.
fn with_suffix(volume: &str, suffix: &str) -> String {
    let room = MAX_NAME - suffix.len() - 1;
    let stem: String = volume.chars().take(room).collect();
    format!("{}-{suffix}", stem.trim_end_matches('-'))
}

/// The scheduled snapshot of `volume` for the slot at `slot`: `<volume>-<YYYYMMDD-HHMMSS>` (UTC).
pub fn scheduled(volume: &str, slot: DateTime<Utc>) -> String {
    with_suffix(volume, &slot.format("%Y%m%d-%H%M%S").to_string())
}

/// The final snapshot of a deleted `volume`: `<volume>-final-<first 8 of its uid>`.
pub fn final_snapshot(volume: &Volume) -> String {
    let uid: String = volume
        .metadata
        .uid
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    with_suffix(&volume.metadata.name, &format!("final-{uid}"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::fixtures;

    #[test]
    fn a_scheduled_name_carries_its_slot_in_utc() {
        let slot = Utc.with_ymd_and_hms(2024, 3, 5, 3, 0, 0).unwrap();
        assert_eq!(scheduled("data", slot), "data-20240305-030000");
    }

    #[test]
    fn long_volume_names_are_shortened_to_fit() {
        let slot = Utc.with_ymd_and_hms(2024, 3, 5, 3, 0, 0).unwrap();
        let name = scheduled(&"v".repeat(63), slot);
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("-20240305-030000"));
    }

    #[test]
    fn a_final_name_carries_the_volumes_uid() {
        let mut volume = fixtures::volume("data");
        volume.metadata.uid = Some("3F2A9C1B-0000-4000-8000-000000000000".into());
        assert_eq!(final_snapshot(&volume), "data-final-3f2a9c1b");
    }
}
