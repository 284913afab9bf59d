//! One metering round for one tenant, as a pure decision: from the state it left last time and
//! what it sees now, what to add to which hour and the state to leave. Allocations (limits and
//! sizes × time) are counted over `[watermark, now)`, never before an object's creation; CPU use
//! is the growth of each container's cumulative counter since its last read (a counter that went
//! down belongs to a restarted container and counts from zero), spread over the time between the
//! two reads; ingress traffic is the growth of each node's totals per App the same way (totals
//! of a new ingress start count from zero). Intervals are cut exactly at hour boundaries, and since the new state and the
//! additions are written in one transaction, no interval or counter growth is counted twice.

use std::collections::BTreeMap;

use super::hours::{HOUR_MILLIS, hour_of, split, spread};
use super::observation::{CpuReading, TenantView, TrafficReading};
use super::record::{Bucket, CpuCursor, MeterState, TrafficCursor};

/// The longest stretch one round integrates. After a longer outage, what ran before it is not
/// guessed from what runs now; CPU use, which the counters keep, is counted whole but spread
/// over at most this much time before its read.
pub const MAX_CATCH_UP_MILLIS: i64 = 6 * HOUR_MILLIS;

/// What to add to each hour, by App.
pub type Additions = BTreeMap<i64, BTreeMap<String, Bucket>>;

/// A round's outcome for one tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Integration {
    /// The state to leave.
    pub state: MeterState,
    /// What to add to the hour records.
    pub additions: Additions,
    /// Whether writing it would record nothing new: no additions and the same counters, or,
    /// for a tenant never metered, nothing to meter.
    pub idle: bool,
}

/// The round at `now` for a tenant that left `before` (`None`: never metered, so nothing
/// before `now` is counted and the counters read now are the baseline) and shows `view`.
pub fn integrate(before: Option<&MeterState>, view: &TenantView, now: i64) -> Integration {
    let prior = before.cloned().unwrap_or_default();
    let from = match before {
        None => now,
        Some(state) => state.integrated_to_millis.max(now - MAX_CATCH_UP_MILLIS),
    };
    let to = now.max(prior.integrated_to_millis);
    let mut additions = Additions::new();
    for instance in &view.running {
        for (hour, millis) in split(from.max(instance.created_millis), to) {
            let bucket = bucket(&mut additions, hour, &instance.app);
            let millis = millis as u128;
            bucket.cpu_allocated_millicore_millis += u128::from(instance.cpu_millicores) * millis;
            bucket.memory_allocated_byte_millis += u128::from(instance.memory_bytes) * millis;
            bucket.instance_millis += millis;
        }
    }
    for volume in &view.volumes {
        for (hour, millis) in split(from.max(volume.created_millis), to) {
            bucket(&mut additions, hour, &volume.app).storage_byte_millis +=
                u128::from(volume.size_bytes) * millis as u128;
        }
    }
    let mut containers = BTreeMap::new();
    for reading in &view.readings {
        let cursor = match prior.containers.get(&reading.container_id) {
            Some(last) if reading.at_millis <= last.at_millis => last.clone(),
            last => {
                if before.is_some() {
                    count_cpu(&mut additions, reading, last, from, now);
                }
                CpuCursor {
                    app: reading.app.clone(),
                    cpu_nanos: reading.cpu_nanos,
                    at_millis: reading.at_millis,
                }
            }
        };
        containers.insert(reading.container_id.clone(), cursor);
    }
    for (id, cursor) in &prior.containers {
        if view.named_containers.contains(id) && !containers.contains_key(id) {
            containers.insert(id.clone(), cursor.clone());
        }
    }
    record_peaks(&mut additions, &view.readings);
    let ingress = count_traffic(&mut additions, &prior, view, (before.is_some(), from, now));
    let idle = match before {
        Some(_) => {
            additions.is_empty() && containers == prior.containers && ingress == prior.ingress
        }
        None => {
            view.running.is_empty()
                && view.volumes.is_empty()
                && view.readings.is_empty()
                && view.traffic.is_empty()
        }
    };
    Integration {
        state: MeterState {
            integrated_to_millis: to,
            containers,
            ingress,
        },
        additions,
        idle,
    }
}

/// Adds the growth of `reading`'s counter since `last` (or since zero, for a container not
/// read before or restarted), spread over the time since that read.
fn count_cpu(
    additions: &mut Additions,
    reading: &CpuReading,
    last: Option<&CpuCursor>,
    from: i64,
    now: i64,
) {
    let (base, since) = match last {
        Some(last) if reading.cpu_nanos >= last.cpu_nanos => (last.cpu_nanos, last.at_millis),
        Some(last) => (0, last.at_millis),
        None => (0, from.max(reading.since_millis.unwrap_or(from))),
    };
    let since = since.max(now - MAX_CATCH_UP_MILLIS).min(reading.at_millis);
    let used = u128::from(reading.cpu_nanos - base);
    if used == 0 {
        return;
    }
    for (hour, share) in spread(used, since, reading.at_millis) {
        bucket(additions, hour, &reading.app).cpu_used_nanos += share;
    }
}

/// Adds the growth of each node's ingress totals since their last read (`counting` is false
/// in a tenant's first round, which takes them as the baseline), and returns the cursors to
/// keep: those read now, and those of nodes that did not answer.
fn count_traffic(
    additions: &mut Additions,
    prior: &MeterState,
    view: &TenantView,
    (counting, from, now): (bool, i64, i64),
) -> BTreeMap<String, TrafficCursor> {
    let mut cursors: BTreeMap<String, TrafficCursor> = prior
        .ingress
        .iter()
        .filter(|(key, _)| {
            let node = key.split('/').next().unwrap_or_default();
            !view.answered_nodes.contains(node)
        })
        .map(|(key, cursor)| (key.clone(), cursor.clone()))
        .collect();
    for reading in &view.traffic {
        let key = format!("{}/{}", reading.node, reading.app);
        let last = prior.ingress.get(&key);
        let cursor = match last {
            Some(last) if unchanged(last, reading) => last.clone(),
            last => {
                if counting {
                    add_traffic(
                        additions,
                        reading,
                        last,
                        from.max(now - MAX_CATCH_UP_MILLIS),
                        now,
                    );
                }
                TrafficCursor {
                    epoch: reading.epoch,
                    requests: reading.requests,
                    bytes: reading.bytes,
                    at_millis: now,
                }
            }
        };
        cursors.insert(key, cursor);
    }
    cursors
}

fn unchanged(last: &TrafficCursor, reading: &TrafficReading) -> bool {
    (last.epoch, last.requests, last.bytes) == (reading.epoch, reading.requests, reading.bytes)
}

/// Adds `reading`'s growth since `last` (from zero for a new ingress start), spread over the
/// time since `last` was read (or since `from`).
fn add_traffic(
    additions: &mut Additions,
    reading: &TrafficReading,
    last: Option<&TrafficCursor>,
    from: i64,
    now: i64,
) {
    let (requests, bytes, since) = match last {
        Some(last)
            if last.epoch == reading.epoch
                && reading.requests >= last.requests
                && reading.bytes >= last.bytes =>
        {
            (
                reading.requests - last.requests,
                reading.bytes - last.bytes,
                last.at_millis.max(from),
            )
        }
        Some(last) => (reading.requests, reading.bytes, last.at_millis.max(from)),
        None => (reading.requests, reading.bytes, from),
    };
    let since = since.min(now);
    for (hour, share) in spread(u128::from(requests), since, now) {
        bucket(additions, hour, &reading.app).ingress_requests += share as u64;
    }
    for (hour, share) in spread(u128::from(bytes), since, now) {
        bucket(additions, hour, &reading.app).ingress_bytes += share as u64;
    }
}

/// Each App's working sets added up over its readings, as a peak in the hour of the latest.
fn record_peaks(additions: &mut Additions, readings: &[CpuReading]) {
    let mut apps: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    for reading in readings {
        let (bytes, at) = apps.entry(&reading.app).or_default();
        *bytes += reading.working_set_bytes;
        *at = (*at).max(reading.at_millis);
    }
    for (app, (bytes, at)) in apps {
        if bytes > 0 {
            let peak = &mut bucket(additions, hour_of(at), app).memory_peak_bytes;
            *peak = (*peak).max(bytes);
        }
    }
}

fn bucket<'a>(additions: &'a mut Additions, hour: i64, app: &str) -> &'a mut Bucket {
    additions
        .entry(hour)
        .or_default()
        .entry(app.to_owned())
        .or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::observation::{RunningInstance, VolumeSize};
    use super::*;

    const H: i64 = HOUR_MILLIS;
    /// An hour well after the epoch.
    const T: i64 = 500_000 * H;

    fn web(cpu_millicores: u64) -> RunningInstance {
        RunningInstance {
            app: "web".into(),
            created_millis: 0,
            cpu_millicores,
            memory_bytes: 1 << 30,
        }
    }

    fn reading(id: &str, cpu_nanos: u64, at_millis: i64) -> CpuReading {
        CpuReading {
            container_id: id.into(),
            app: "web".into(),
            cpu_nanos,
            working_set_bytes: 100,
            at_millis,
            since_millis: None,
        }
    }

    fn state(at: i64, cursors: &[(&str, u64, i64)]) -> MeterState {
        MeterState {
            integrated_to_millis: at,
            containers: cursors
                .iter()
                .map(|&(id, cpu_nanos, at_millis)| {
                    let cursor = CpuCursor {
                        app: "web".into(),
                        cpu_nanos,
                        at_millis,
                    };
                    (id.to_owned(), cursor)
                })
                .collect(),
            ingress: BTreeMap::new(),
        }
    }

    fn traffic(node: &str, epoch: u64, requests: u64) -> TrafficReading {
        TrafficReading {
            node: node.into(),
            epoch,
            app: "web".into(),
            requests,
            bytes: requests * 100,
        }
    }

    fn with_traffic(mut state: MeterState, node: &str, epoch: u64, requests: u64) -> MeterState {
        let cursor = TrafficCursor {
            epoch,
            requests,
            bytes: requests * 100,
            at_millis: state.integrated_to_millis,
        };
        state.ingress.insert(format!("{node}/web"), cursor);
        state
    }

    fn web_bucket(outcome: &Integration, hour: i64) -> Bucket {
        outcome.additions[&hour]["web"].clone()
    }

    #[test]
    fn a_first_round_counts_nothing_and_takes_the_counters_as_baseline() {
        let view = TenantView {
            running: vec![web(500)],
            readings: vec![reading("c1", 7_000_000_000, T + 10)],
            ..TenantView::default()
        };
        let outcome = integrate(None, &view, T + 20);
        assert_eq!(
            outcome.state,
            state(T + 20, &[("c1", 7_000_000_000, T + 10)])
        );
        assert!(
            outcome
                .additions
                .values()
                .flat_map(|apps| apps.values())
                .all(|b| { b.cpu_used_nanos == 0 && b.cpu_allocated_millicore_millis == 0 })
        );
    }

    #[test]
    fn allocations_are_limits_times_the_time_since_the_watermark() {
        let view = TenantView {
            running: vec![web(500), web(250)],
            ..TenantView::default()
        };
        let outcome = integrate(Some(&state(T, &[])), &view, T + 10_000);
        let bucket = web_bucket(&outcome, T / H);
        assert_eq!(bucket.cpu_allocated_millicore_millis, 750 * 10_000);
        assert_eq!(bucket.memory_allocated_byte_millis, 2 * (1 << 30) * 10_000);
        assert_eq!(bucket.instance_millis, 20_000);
        assert_eq!(outcome.state.integrated_to_millis, T + 10_000);
    }

    #[test]
    fn an_interval_across_an_hour_boundary_is_cut_exactly_there() {
        let view = TenantView {
            running: vec![web(1000)],
            ..TenantView::default()
        };
        let outcome = integrate(Some(&state(T + H - 4_000, &[])), &view, T + H + 6_000);
        assert_eq!(web_bucket(&outcome, T / H).instance_millis, 4_000);
        assert_eq!(web_bucket(&outcome, T / H + 1).instance_millis, 6_000);
    }

    #[test]
    fn nothing_is_allocated_before_an_instance_was_created() {
        let view = TenantView {
            running: vec![RunningInstance {
                created_millis: T + 8_000,
                ..web(1000)
            }],
            ..TenantView::default()
        };
        let outcome = integrate(Some(&state(T, &[])), &view, T + 10_000);
        assert_eq!(web_bucket(&outcome, T / H).instance_millis, 2_000);
    }

    #[test]
    fn a_volume_accrues_its_size_over_time() {
        let view = TenantView {
            volumes: vec![VolumeSize {
                app: String::new(),
                created_millis: 0,
                size_bytes: 1 << 30,
            }],
            ..TenantView::default()
        };
        let outcome = integrate(Some(&state(T, &[])), &view, T + 1_000);
        assert_eq!(
            outcome.additions[&(T / H)][""].storage_byte_millis,
            (1 << 30) * 1_000
        );
    }

    #[test]
    fn cpu_use_is_the_counter_growth_spread_over_the_time_between_reads() {
        let view = TenantView {
            readings: vec![reading("c1", 5_000, T + H + 1_000)],
            ..TenantView::default()
        };
        let before = state(T + H, &[("c1", 1_000, T + H - 1_000)]);
        let outcome = integrate(Some(&before), &view, T + H + 2_000);
        assert_eq!(web_bucket(&outcome, T / H).cpu_used_nanos, 2_000);
        assert_eq!(web_bucket(&outcome, T / H + 1).cpu_used_nanos, 2_000);
        assert_eq!(outcome.state.containers["c1"].cpu_nanos, 5_000);
    }

    #[test]
    fn a_counter_that_went_down_is_a_restarted_container_counted_from_zero() {
        let view = TenantView {
            readings: vec![reading("c1", 300, T + 2_000)],
            ..TenantView::default()
        };
        let before = state(T + 1_000, &[("c1", 9_000, T + 1_000)]);
        let outcome = integrate(Some(&before), &view, T + 2_000);
        assert_eq!(web_bucket(&outcome, T / H).cpu_used_nanos, 300);
    }

    #[test]
    fn the_same_reading_seen_again_counts_nothing_more() {
        let view = TenantView {
            readings: vec![reading("c1", 5_000, T + 1_000)],
            ..TenantView::default()
        };
        let before = state(T + 1_000, &[("c1", 5_000, T + 1_000)]);
        let outcome = integrate(Some(&before), &view, T + 3_000);
        assert!(
            outcome
                .additions
                .values()
                .flat_map(|apps| apps.values())
                .all(|b| b.cpu_used_nanos == 0)
        );
    }

    #[test]
    fn running_the_round_again_on_its_own_state_counts_nothing_twice() {
        let view = TenantView {
            running: vec![web(500)],
            readings: vec![reading("c1", 5_000, T + 1_000)],
            ..TenantView::default()
        };
        let once = integrate(Some(&state(T, &[("c1", 1_000, T)])), &view, T + 2_000);
        let again = integrate(Some(&once.state), &view, T + 2_000);
        assert!(
            again
                .additions
                .values()
                .flat_map(|apps| apps.values())
                .all(|b| { b.cpu_used_nanos == 0 && b.instance_millis == 0 })
        );
        assert_eq!(again.state, once.state);
    }

    #[test]
    fn a_new_container_counts_from_zero_but_not_before_its_instance() {
        let view = TenantView {
            readings: vec![CpuReading {
                since_millis: Some(T + 4_000),
                ..reading("c2", 6_000, T + 10_000)
            }],
            ..TenantView::default()
        };
        let outcome = integrate(Some(&state(T, &[])), &view, T + 10_000);
        assert_eq!(web_bucket(&outcome, T / H).cpu_used_nanos, 6_000);
    }

    #[test]
    fn a_long_outage_allocates_only_the_last_stretch_but_keeps_all_cpu_use() {
        let view = TenantView {
            running: vec![web(1000)],
            readings: vec![reading("c1", 2_000_000, T + 10 * H)],
            ..TenantView::default()
        };
        let outcome = integrate(Some(&state(T, &[("c1", 0, T)])), &view, T + 10 * H);
        let instance: u128 = outcome
            .additions
            .values()
            .map(|apps| apps["web"].instance_millis)
            .sum();
        let used: u128 = outcome
            .additions
            .values()
            .map(|apps| apps["web"].cpu_used_nanos)
            .sum();
        assert_eq!(instance, MAX_CATCH_UP_MILLIS as u128);
        assert_eq!(used, 2_000_000);
        assert!(outcome.additions.keys().all(|&hour| hour >= T / H + 4));
    }

    #[test]
    fn a_counter_is_kept_while_its_instance_names_it_and_dropped_after() {
        let before = state(T, &[("kept", 5, T), ("gone", 5, T)]);
        let view = TenantView {
            running: vec![web(100)],
            named_containers: BTreeSet::from(["kept".to_owned()]),
            ..TenantView::default()
        };
        let outcome = integrate(Some(&before), &view, T + 1_000);
        assert_eq!(
            outcome.state.containers.keys().collect::<Vec<_>>(),
            vec!["kept"]
        );
    }

    #[test]
    fn the_peak_is_the_largest_sum_of_an_apps_working_sets() {
        let view = TenantView {
            readings: vec![reading("a", 0, T + 5), reading("b", 0, T + 6)],
            ..TenantView::default()
        };
        let outcome = integrate(Some(&state(T, &[])), &view, T + 10);
        assert_eq!(web_bucket(&outcome, T / H).memory_peak_bytes, 200);
    }

    #[test]
    fn a_round_with_nothing_new_is_idle() {
        let outcome = integrate(Some(&state(T, &[])), &TenantView::default(), T + 1_000);
        assert!(outcome.idle);
        assert!(integrate(None, &TenantView::default(), T).idle);
    }

    #[test]
    fn a_tenant_first_seen_running_starts_its_record() {
        let view = TenantView {
            running: vec![web(100)],
            ..TenantView::default()
        };
        assert!(!integrate(None, &view, T).idle);
    }

    #[test]
    fn ingress_traffic_is_the_growth_of_each_nodes_totals() {
        let before = with_traffic(state(T, &[]), "n1", 1, 10);
        let view = TenantView {
            traffic: vec![traffic("n1", 1, 25), traffic("n2", 9, 5)],
            answered_nodes: BTreeSet::from(["n1".into(), "n2".into()]),
            ..TenantView::default()
        };
        let outcome = integrate(Some(&before), &view, T + 1_000);
        let web = web_bucket(&outcome, T / H);
        assert_eq!((web.ingress_requests, web.ingress_bytes), (20, 2_000));
        assert_eq!(outcome.state.ingress["n1/web"].requests, 25);
    }

    #[test]
    fn a_new_ingress_start_counts_from_zero() {
        let before = with_traffic(state(T, &[]), "n1", 1, 10);
        let view = TenantView {
            traffic: vec![traffic("n1", 2, 3)],
            answered_nodes: BTreeSet::from(["n1".into()]),
            ..TenantView::default()
        };
        let outcome = integrate(Some(&before), &view, T + 1_000);
        assert_eq!(web_bucket(&outcome, T / H).ingress_requests, 3);
    }

    #[test]
    fn a_node_that_did_not_answer_keeps_its_totals_for_later() {
        let before = with_traffic(state(T, &[]), "n1", 1, 10);
        let silent = integrate(Some(&before), &TenantView::default(), T + 1_000);
        assert_eq!(silent.state.ingress, before.ingress);
        assert!(silent.idle);
        let back = TenantView {
            traffic: vec![traffic("n1", 1, 12)],
            answered_nodes: BTreeSet::from(["n1".into()]),
            ..TenantView::default()
        };
        let outcome = integrate(Some(&silent.state), &back, T + 2_000);
        assert_eq!(web_bucket(&outcome, T / H).ingress_requests, 2);
    }

    #[test]
    fn unchanged_totals_write_nothing() {
        let before = with_traffic(state(T, &[]), "n1", 1, 10);
        let view = TenantView {
            traffic: vec![traffic("n1", 1, 10)],
            answered_nodes: BTreeSet::from(["n1".into()]),
            ..TenantView::default()
        };
        assert!(integrate(Some(&before), &view, T + 5_000).idle);
    }
}
