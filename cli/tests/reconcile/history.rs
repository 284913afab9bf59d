//! The reconcile history in `mini describe`: after a scale, the App's latest decisions say
//! what triggered each reconcile (the App changed, its Instances changed) and what it did.

use crate::{World, eventually_explained};

/// The `Reconciles:` section of a description, without its heading.
fn reconciles(description: &str) -> Vec<String> {
    let section = description
        .split("Reconciles:\n")
        .nth(1)
        .unwrap_or_default();
    section.lines().map(|l| l.trim().to_owned()).collect()
}

pub fn describe_shows_why_an_app_reconciled_and_what_it_did() {
    let world = World::start(&[]);
    world.apply_app("web", 1, "");
    let describe = || {
        world
            .server
            .run(&["describe", "app", "web", "-t", &world.tenant])
            .ok()
    };
    eventually_explained("the first Instance's creation is recorded", || {
        let description = describe();
        let rows = reconciles(&description);
        rows.iter()
            .any(|r| r.contains("created Instance web-") && r.contains("app/web changed"))
            .then_some(())
            .ok_or(description)
    });
    world.apply_app("web", 3, "");
    let rows = eventually_explained("the scale-up is recorded", || {
        let description = describe();
        let rows = reconciles(&description);
        let scaled = rows.iter().any(|r| {
            r.contains("app/web changed")
                && r.matches("created Instance web-").count() == 2
                // A rollout in progress asks to look again at its deadline.
                && (r.ends_with("done") || r.contains("requeue after"))
        });
        scaled.then_some(rows).ok_or(description)
    });
    assert!(rows[0].starts_with("AGE"), "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.contains(" app ") || r.starts_with("AGE")),
        "every decision names its controller: {rows:?}"
    );
    eventually_explained(
        "the instances' readiness is recorded as status writes",
        || {
            let description = describe();
            let rows = reconciles(&description);
            rows.iter()
                .any(|r| {
                    r.contains("instance/web-") && r.contains("wrote status: 3 instances, 3 ready")
                })
                .then_some(())
                .ok_or(description)
        },
    );
    let settled = reconciles(&describe()).len();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        reconciles(&describe()).len(),
        settled,
        "recording decisions triggers no further reconciles"
    );
}
