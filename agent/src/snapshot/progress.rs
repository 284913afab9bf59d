//! Progress of a snapshot or restore, reported to the caller at most every 200 ms.

use std::time::Duration;

use minicloud_proto::v1::SnapshotProgress;
use tokio::sync::mpsc;

/// How often progress is reported.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// Where progress messages go; a slow reader misses some instead of slowing the work.
#[derive(Debug, Clone)]
pub struct Progress {
    sender: mpsc::Sender<Result<SnapshotProgress, tonic::Status>>,
}

impl Progress {
    /// Progress sent to `sender`.
    pub fn new(sender: mpsc::Sender<Result<SnapshotProgress, tonic::Status>>) -> Progress {
        Progress { sender }
    }

    /// Progress no one reads.
    pub fn discarded() -> Progress {
        Progress::new(mpsc::channel(1).0)
    }

    /// Reports `done` of `total` content bytes.
    pub fn report(&self, done: u64, total: u64) {
        let _ = self.sender.try_send(Ok(SnapshotProgress {
            bytes_done: done,
            bytes_total: total,
            ..SnapshotProgress::default()
        }));
    }

    /// A ticker for the reports, skipping ticks missed while the work was busy.
    pub fn ticker() -> tokio::time::Interval {
        let mut ticker = tokio::time::interval(INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        ticker
    }
}
