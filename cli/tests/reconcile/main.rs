//! Reconciliation end to end against the real Docker Engine: a `mini server` child process (API,
//! controllers and agent in one) turns applied Apps into running, isolated containers, with
//! Secret values as env vars, and keeps them that way. Each test works in a tenant of its own on
//! a node of its own, and removes every Docker object of that tenant when it ends, so the tests
//! run in parallel safely.

// Shared with the e2e tests, which use parts these tests do not.
#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;

mod agent_access;
mod dns;
mod docker;
mod events;
mod history;
mod kept_logs;
mod logs;
mod resilience;
mod scenarios;
mod secrets;
mod storage;
mod top;
mod usage;
mod world;

use std::time::Duration;

use serde_json::Value;

pub use world::{World, unique};

/// How long convergence may take before a test fails.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(120);

impl World {
    /// Applies an App of this tenant.
    pub fn apply_app(&self, name: &str, replicas: u32, extra_spec: &str) {
        let manifest = format!(
            "apiVersion: minicloud/v1\nkind: App\nmetadata:\n  name: {name}\n  tenant: {tenant}\nspec:\n  image: hello:1\n  replicas: {replicas}\n  command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n  ports: [{{name: http, port: 8080}}]\n{extra_spec}",
            tenant = self.tenant
        );
        self.apply(&manifest);
    }

    /// This tenant's objects of a kind, as JSON.
    pub fn objects(&self, kind: &str) -> Vec<Value> {
        let out = self
            .server
            .run(&["get", kind, "-t", &self.tenant, "-o", "json"])
            .ok();
        let list: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        list["items"].as_array().cloned().unwrap_or_default()
    }
}

/// Polls `check` until it returns `Some`, failing with `what` after [`CONVERGE_TIMEOUT`].
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    eventually_explained(what, || check().ok_or_else(String::new))
}

/// Polls `check` until it returns `Ok`, failing with `what` and the last `Err` (what was seen
/// instead) after [`CONVERGE_TIMEOUT`].
pub fn eventually_explained<T>(what: &str, check: impl FnMut() -> Result<T, String>) -> T {
    world::poll(what, CONVERGE_TIMEOUT, check)
}

#[test]
fn a_secret_reaches_the_container_only_as_an_env_var() {
    secrets::a_secret_reaches_the_container_only_as_an_env_var();
}

#[test]
fn an_applied_app_runs_and_serves() {
    scenarios::an_applied_app_runs_and_serves();
}

#[test]
fn describe_shows_why_an_app_reconciled_and_what_it_did() {
    history::describe_shows_why_an_app_reconciled_and_what_it_did();
}

#[test]
fn scaling_follows_replicas_up_and_down() {
    scenarios::scaling_follows_replicas_up_and_down();
}

#[test]
fn deleting_the_app_leaves_nothing_behind() {
    scenarios::deleting_the_app_leaves_nothing_behind();
}

#[test]
fn a_standalone_agent_answers_admin_keys_only() {
    agent_access::a_standalone_agent_answers_admin_keys_only();
}

#[test]
fn deleting_the_tenant_leaves_nothing_behind() {
    scenarios::deleting_the_tenant_leaves_nothing_behind();
}

#[test]
fn a_removed_container_comes_back_within_five_seconds() {
    scenarios::a_removed_container_comes_back_within_five_seconds();
}

#[test]
fn an_exiting_container_is_restarted_and_reported() {
    scenarios::an_exiting_container_is_restarted_and_reported();
}

#[test]
fn a_container_minicloud_did_not_make_is_never_touched() {
    scenarios::a_container_minicloud_did_not_make_is_never_touched();
}

#[test]
fn tenant_containers_carry_every_security_default() {
    scenarios::tenant_containers_carry_every_security_default();
}

#[test]
fn controllers_killed_at_random_points_converge_exactly() {
    resilience::controllers_killed_at_random_points_converge_exactly();
}

/// Restarts the Docker Engine: .config/nextest.toml runs it alone, with no other test running.
#[test]
fn the_system_converges_after_dockerd_restarts() {
    resilience::the_system_converges_after_dockerd_restarts();
}

#[test]
fn names_resolve_within_a_tenant_and_not_across() {
    dns::names_resolve_within_a_tenant_and_not_across();
}

#[test]
fn logs_merge_instances_with_prefixes() {
    logs::logs_merge_instances_with_prefixes();
}

#[test]
fn logs_of_a_deleted_app_are_still_readable_and_searchable() {
    kept_logs::logs_of_a_deleted_app_are_still_readable_and_searchable();
}

#[test]
fn a_flood_an_overlong_line_and_garbage_leave_other_tenants_intact() {
    kept_logs::a_flood_an_overlong_line_and_garbage_leave_other_tenants_intact();
}

#[test]
fn following_across_an_agent_restart_has_no_gap_and_no_duplicate() {
    kept_logs::following_across_an_agent_restart_has_no_gap_and_no_duplicate();
}

#[test]
fn following_logs_continue_across_restarts() {
    logs::following_logs_continue_across_restarts();
}

#[test]
fn events_tell_what_happened_to_an_app() {
    events::events_tell_what_happened_to_an_app();
}

#[test]
fn volume_data_survives_the_app_and_a_server_crash() {
    storage::data_survives_the_app_and_a_server_crash_and_the_app_user_can_write();
}

#[test]
fn a_write_past_a_volumes_size_fails_with_enospc() {
    storage::a_write_past_the_size_fails_inside_the_container_and_another_volume_works();
}

#[test]
fn a_restored_snapshot_has_the_bytes_it_archived() {
    storage::a_restored_snapshot_has_the_bytes_it_archived();
}

#[test]
fn a_snapshot_schedule_fires_and_retention_prunes() {
    storage::a_schedule_fires_and_retention_keeps_the_newest();
}

#[test]
fn a_server_killed_mid_snapshot_leaves_no_half_snapshot() {
    storage::a_server_killed_mid_snapshot_leaves_no_half_snapshot();
}

#[test]
fn reclaim_policy_snapshot_leaves_a_restorable_snapshot() {
    storage::a_volume_deleted_with_reclaim_snapshot_can_be_restored_into_a_new_one();
}

#[test]
fn top_shows_what_instances_use() {
    top::top_shows_a_busy_instance_at_its_core_and_an_idle_one_near_zero();
}

#[test]
fn usage_records_count_core_seconds_once() {
    usage::usage_records_match_a_burning_apps_core_seconds_and_survive_a_restart();
}
