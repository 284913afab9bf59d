//! The resource API end to end — a real server on a loopback port, driven over gRPC and REST —
//! against both store backends.

mod access;
mod audit;
#[path = "../common/backends.rs"]
mod backends;
mod canary;
#[path = "../common/etcd_server.rs"]
mod etcd_server;
mod fixture;
mod flood;
mod limits;
mod metrics;
mod quota;
mod restart;
mod secrets;
mod semantics;
mod volumes;
mod watch;

/// Instantiates every API test for one backend.
macro_rules! api_tests {
    ($backend:ident, $shared:path, $private:path) => {
        mod $backend {
            api_tests!(@server $shared; semantics::apply_creates_with_server_owned_fields,
                semantics::reapplying_the_same_manifest_writes_nothing,
                semantics::generation_moves_only_when_the_spec_changes,
                semantics::status_has_its_own_path_and_never_bumps_generation,
                semantics::dry_run_reports_the_diff_and_writes_nothing,
                semantics::a_stale_resource_version_is_a_conflict,
                semantics::invalid_and_malformed_requests_say_what_and_where,
                semantics::list_filters_by_label_selector_and_tenant,
                semantics::delete_waits_for_finalizers,
                semantics::delete_cascades_to_owned_objects,
                semantics::a_dependent_of_a_gone_owner_is_never_created,
                semantics::deleting_a_tenant_removes_every_object_of_it,
                semantics::deleting_a_missing_object_is_not_found,
                semantics::root_runs_only_in_tenants_that_allow_it,
                watch::watch_starts_with_current_objects_then_follows_changes,
                watch::watch_resumes_after_any_resource_version,
                watch::selector_watches_see_objects_enter_and_leave,
                limits::an_oversized_grpc_message_is_resource_exhausted,
                limits::an_oversized_rest_body_is_refused_from_its_length,
                limits::a_streamed_oversized_body_is_not_buffered,
                limits::rest_serves_the_same_resources,
                limits::rest_watch_streams_json_lines,
                access::every_call_is_checked_for_every_kind_of_key,
                access::a_tenant_key_sees_only_its_tenant_in_lists_and_watches,
                quota::concurrent_creates_never_overshoot_the_quota,
                quota::usage_stays_exact_through_scaling_resizing_refusals_and_deletes,
                quota::a_tenant_created_after_its_objects_shows_their_usage,
                quota::an_app_counts_its_replicas_not_its_rolling_update_surge,
                quota::concurrent_volumes_and_growth_fill_the_storage_quota_exactly,
                quota::a_volume_keeps_its_storage_until_its_finalizers_let_it_go,
                quota::usage_is_recounted_for_objects_stored_before_quotas,
                volumes::a_volume_is_made_only_from_a_live_snapshot_of_its_tenant,
                volumes::a_restore_names_a_live_snapshot_when_it_is_asked_for,
                volumes::a_snapshot_archives_an_existing_volume_and_keeps_it,
                volumes::a_volume_never_shrinks_and_keeps_its_source,
                secrets::secret_values_are_masked_in_every_answer,
                secrets::rest_masks_secret_values_too,
                secrets::an_unchanged_secret_is_unchanged_and_a_diff_hides_values,
                secrets::only_admin_keys_resolve_values,
                secrets::rotating_the_key_reseals_every_value_and_keeps_it_readable,
                secrets::a_value_copied_to_another_secret_does_not_open,
                secrets::a_value_that_is_not_a_string_is_refused_without_being_repeated,
                audit::mutations_and_refusals_are_recorded_once_with_their_fields,
                audit::tenant_admins_read_only_their_own_tenants_records,
                audit::a_change_and_its_record_are_stored_in_one_transaction,
            );
            api_tests!(@server $private; watch::an_expired_resource_version_tells_the_client_to_relist,);
            api_tests!(@store $shared; audit::the_log_keeps_the_newest_records_within_its_limits,);
            api_tests!(@backend $shared; watch::a_thousand_watchers_share_one_store_watch,
                watch::a_slow_watcher_is_cut_off_without_delaying_others,);
        }
    };
    (@server $make:path; $($module:ident :: $name:ident,)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let server = crate::fixture::TestServer::start($make().await).await;
                crate::$module::$name(server).await;
            }
        )+
    };
    (@store $make:path; $($module:ident :: $name:ident,)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let backend = $make().await;
                crate::$module::$name(backend.store.clone()).await;
            }
        )+
    };
    (@backend $make:path; $($module:ident :: $name:ident,)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                crate::$module::$name($make().await).await;
            }
        )+
    };
}

api_tests!(
    embedded,
    crate::backends::embedded,
    crate::backends::embedded
);
api_tests!(etcd, crate::backends::etcd, crate::backends::etcd_private);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_watch_resumes_across_a_server_restart() {
    restart::embedded_watch_resumes_across_a_server_restart().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_watch_resumes_across_a_server_restart() {
    restart::etcd_watch_resumes_across_a_server_restart().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_canary_never_reaches_stored_bytes_or_logs() {
    canary::a_canary_never_reaches_the_embedded_stores_bytes_or_the_logs().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_canary_never_reaches_stored_bytes_or_logs() {
    canary::a_canary_never_reaches_etcds_bytes_or_the_logs().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_audit_records_survive_a_restart() {
    audit::records_survive_a_restart_of_the_embedded_store().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooding_tenant_does_not_starve_another() {
    flood::a_flooding_tenant_does_not_starve_another().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_bad_keys_is_cut_off_by_address() {
    flood::a_flood_of_bad_keys_is_cut_off_by_address().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_requests_refusals_watches_store_and_rate_limits() {
    metrics::metrics_count_requests_refusals_watches_store_and_rate_limits().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_admin_keys_and_the_scrape_token_read_metrics() {
    metrics::only_admin_keys_and_the_scrape_token_read_metrics().await;
}
