//! The `Store` conformance suite, run against every backend: the embedded store and etcd.
//!
//! etcd tests use the shared etcd named by `MINICLOUD_TEST_ETCD` (scripts/test.sh starts one),
//! each in its own key namespace; tests that compact history get a private etcd, because
//! compaction is cluster-wide. Without the variable every etcd test starts a private etcd.

#[path = "../common/backends.rs"]
mod backends;
#[path = "../common/etcd_server.rs"]
mod etcd_server;
mod suite;

/// Instantiates every suite test for one backend; `$private` makes a store no other test shares.
macro_rules! conformance {
    ($backend:ident, $shared:path, $private:path) => {
        mod $backend {
            conformance!(@tests $shared;
                get_of_a_missing_key_is_none,
                create_stores_the_value_at_a_new_revision,
                create_of_an_existing_key_fails_with_already_exists,
                update_with_the_current_revision_replaces_the_value,
                stale_update_is_rejected_with_conflict,
                update_of_a_missing_key_is_not_found,
                delete_honours_the_expected_revision,
                recreating_a_deleted_key_starts_a_new_life,
                list_returns_the_prefix_in_key_order_at_one_revision,
                range_reads_a_bounded_page_either_way_and_counts_the_whole_range,
                revisions_strictly_increase_across_operations,
                txn_applies_every_op_at_one_revision,
                txn_with_a_failed_compare_writes_nothing,
                txn_naming_a_key_twice_is_invalid,
                concurrent_incrementers_lose_no_update,
                concurrent_transactions_are_atomic,
                watch_replays_history_then_follows_live_changes,
                watch_events_carry_the_previous_value,
                watch_from_zero_sees_only_later_changes,
                watch_resumes_exactly_from_every_revision,
                a_slow_watcher_neither_blocks_writers_nor_loses_events,
            );
            conformance!(@tests $private; watch_from_a_compacted_revision_fails_with_compacted,);
        }
    };
    (@tests $make:path; $($name:ident,)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let backend = $make().await;
                crate::suite::$name(backend.store.clone()).await;
            }
        )+
    };
}

conformance!(
    embedded,
    crate::backends::embedded,
    crate::backends::embedded
);
conformance!(etcd, crate::backends::etcd, crate::backends::etcd_private);
