//! The numbers an App's rollout follows, defaults applied: replicas, how far above and below
//! them an update may go, and how long a new Release may take to become available.

use std::time::Duration;

use minicloud_manifests::App;

/// An App's rollout numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strategy {
    /// Instances wanted.
    pub replicas: usize,
    /// Instances allowed above `replicas` while Instances are replaced.
    pub max_surge: usize,
    /// Instances allowed below `replicas` ready while Instances are replaced.
    pub max_unavailable: usize,
    /// How long a new Release may take to have every replica ready.
    pub progress_deadline: Duration,
}

impl Strategy {
    /// The numbers of `app`. A strategy allowing neither surge nor unavailability could never
    /// replace anything (validation refuses it); it is read as one unavailable, as Kubernetes
    /// does.
    pub fn of(app: &App) -> Strategy {
        let update = app.spec.resolved_update();
        let max_surge = update.max_surge as usize;
        let max_unavailable = update.max_unavailable as usize;
        Strategy {
            replicas: app.spec.replica_count() as usize,
            max_surge,
            max_unavailable: match (max_surge, max_unavailable) {
                (0, 0) => 1,
                _ => max_unavailable,
            },
            progress_deadline: Duration::from_secs(u64::from(update.progress_deadline_seconds)),
        }
    }

    /// The numbers for an App mounting a ReadWriteOnce volume read-write: no surge and one
    /// unavailable, so the old instance stops before the new one starts and the new one never
    /// waits for a volume the old one holds.
    pub fn exclusive(self) -> Strategy {
        Strategy {
            max_surge: 0,
            max_unavailable: 1,
            ..self
        }
    }

    /// Ready Instances a rollout never goes below.
    pub fn min_available(&self) -> usize {
        self.replicas.saturating_sub(self.max_unavailable)
    }

    /// Instances a rollout never goes above.
    pub fn max_total(&self) -> usize {
        self.replicas + self.max_surge
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use minicloud_manifests::UpdateStrategy;

    fn app(update: Option<UpdateStrategy>) -> App {
        let mut app = fixtures::app("hello:1", 3);
        app.spec.update = update;
        app
    }

    #[test]
    fn the_defaults_surge_by_one_and_keep_every_replica_available() {
        let strategy = Strategy::of(&app(None));
        assert_eq!((strategy.max_surge, strategy.max_unavailable), (1, 0));
        assert_eq!((strategy.min_available(), strategy.max_total()), (3, 4));
        assert_eq!(strategy.progress_deadline, Duration::from_secs(120));
    }

    #[test]
    fn neither_surge_nor_unavailability_reads_as_one_unavailable() {
        let update = UpdateStrategy {
            max_surge: Some(0),
            max_unavailable: Some(0),
            progress_deadline_seconds: Some(3),
        };
        let strategy = Strategy::of(&app(Some(update)));
        assert_eq!((strategy.max_surge, strategy.max_unavailable), (0, 1));
        assert_eq!(strategy.progress_deadline, Duration::from_secs(3));
    }

    #[test]
    fn an_exclusive_volume_stops_the_old_instance_first() {
        let strategy = Strategy::of(&app(None)).exclusive();
        assert_eq!((strategy.max_surge, strategy.max_unavailable), (0, 1));
        assert_eq!((strategy.min_available(), strategy.max_total()), (2, 3));
    }

    #[test]
    fn more_unavailable_than_replicas_means_none_need_stay() {
        let update = UpdateStrategy {
            max_unavailable: Some(5),
            ..UpdateStrategy::default()
        };
        assert_eq!(Strategy::of(&app(Some(update))).min_available(), 0);
    }
}
