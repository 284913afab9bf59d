//! Following every object of one kind through the API server, as the controllers' caches and
//! the ingress' route table do: list, then watch from the list's revision. An expired revision
//! (compacted away, or a watcher that fell behind) is listed again at once; after a watch ends
//! or a call fails the list is made again after a pause, which doubles while the server does not
//! answer and starts over once it accepts a watch again.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

/// The pause after a watch ends or a call fails, while the server answers.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between attempts to reach the server.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// One change to the followed objects.
#[derive(Clone, Debug, PartialEq)]
pub enum Change<T> {
    /// A fresh list: these are all the objects.
    Listed(Vec<T>),
    /// The object was created or changed.
    Applied(T),
    /// The object is gone; this is how it was last stored.
    Deleted(T),
}

/// Objects of one kind and the version the list was read at.
#[derive(Clone, Debug)]
pub struct Listing<T> {
    /// The objects.
    pub items: Vec<T>,
    /// The store revision of the list; watch from here to follow on.
    pub resource_version: String,
}

/// A kind as the API server serves it: a list, and a watch from a list's revision.
pub trait Source: Sync {
    /// The objects followed.
    type Object: Send;
    /// Why a call failed.
    type Error: Display + Send;
    /// What a watch reports, until the server ends it (or it fails).
    type Changes: Stream<Item = Result<Change<Self::Object>, Self::Error>> + Send + Unpin;

    /// The kind followed, for the logs.
    fn kind(&self) -> &str;

    /// Every object of the kind.
    fn list(&self) -> impl Future<Output = Result<Listing<Self::Object>, Self::Error>> + Send;

    /// The changes after `resource_version`.
    fn watch(
        &self,
        resource_version: String,
    ) -> impl Future<Output = Result<Self::Changes, Self::Error>> + Send;

    /// Whether `error` says the revision to watch from is gone: list again at once.
    fn is_expired(&self, error: &Self::Error) -> bool;
}

/// Nobody takes the changes any more: following stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed;

/// What takes the changes of a followed kind.
pub trait Follower<T>: Send {
    /// Takes one change.
    fn take(&mut self, change: Change<T>) -> impl Future<Output = Result<(), Closed>> + Send;
}

/// A channel follows by passing each change on; it is closed once its receiver is gone.
impl<T: Send> Follower<T> for mpsc::Sender<Change<T>> {
    async fn take(&mut self, change: Change<T>) -> Result<(), Closed> {
        self.send(change).await.map_err(|_| Closed)
    }
}

/// Follows every object of `source`'s kind into `follower` until it is [`Closed`]; a server
/// that cannot be reached is tried again, for as long as it takes.
pub async fn follow<S: Source>(source: &S, mut follower: impl Follower<S::Object>) {
    let mut pause = FIRST_PAUSE;
    loop {
        match list_and_watch(source, &mut follower, &mut pause).await {
            Ok(Ended::Closed) => return,
            Ok(Ended::WatchEnded) => {}
            Err(error) if source.is_expired(&error) => {
                tracing::debug!(kind = source.kind(), %error, "watch expired; listing again");
                pause = FIRST_PAUSE;
                continue;
            }
            Err(error) => {
                tracing::warn!(kind = source.kind(), %error, "cannot follow the API server; retrying");
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// How a list-and-watch round ended without an error.
enum Ended {
    /// The server ended the watch: list again.
    WatchEnded,
    /// The follower is closed: stop.
    Closed,
}

/// One list, then one watch from the list's version, until the watch ends or fails. Starts
/// `pause` over once the server accepts the watch.
async fn list_and_watch<S: Source>(
    source: &S,
    follower: &mut impl Follower<S::Object>,
    pause: &mut Duration,
) -> Result<Ended, S::Error> {
    let listing = source.list().await?;
    if follower.take(Change::Listed(listing.items)).await.is_err() {
        return Ok(Ended::Closed);
    }
    let mut changes = source.watch(listing.resource_version).await?;
    *pause = FIRST_PAUSE;
    while let Some(change) = changes.next().await {
        if follower.take(change?).await.is_err() {
            return Ok(Ended::Closed);
        }
    }
    Ok(Ended::WatchEnded)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use futures::stream::{self, BoxStream};
    use tokio::time::Instant;

    use super::*;

    type Changes = Vec<Result<Change<u32>, &'static str>>;

    /// What the fake server answers to the next call.
    enum Answer {
        List(Result<Vec<u32>, &'static str>),
        Watch(Result<Changes, &'static str>),
    }

    /// A server answering from a script (and never again once it is over), recording which
    /// call came when, in milliseconds since the start.
    struct Scripted {
        start: Instant,
        answers: Mutex<VecDeque<Answer>>,
        calls: Mutex<Vec<(&'static str, u128)>>,
    }

    impl Scripted {
        fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
            Self {
                start: Instant::now(),
                answers: Mutex::new(answers.into_iter().collect()),
                calls: Mutex::new(Vec::new()),
            }
        }

        async fn answer(&self, call: &'static str) -> Answer {
            let at = self.start.elapsed().as_millis();
            self.calls.lock().unwrap().push((call, at));
            let next = self.answers.lock().unwrap().pop_front();
            match next {
                Some(answer) => answer,
                None => std::future::pending().await,
            }
        }

        fn calls(&self) -> Vec<(&'static str, u128)> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl Source for Scripted {
        type Object = u32;
        type Error = &'static str;
        type Changes = BoxStream<'static, Result<Change<u32>, &'static str>>;

        fn kind(&self) -> &str {
            "Number"
        }

        async fn list(&self) -> Result<Listing<u32>, &'static str> {
            let Answer::List(items) = self.answer("list").await else {
                panic!("a list was made where a watch was due");
            };
            items.map(|items| Listing {
                items,
                resource_version: "7".into(),
            })
        }

        async fn watch(&self, resource_version: String) -> Result<Self::Changes, &'static str> {
            assert_eq!(
                resource_version, "7",
                "a watch starts at its list's version"
            );
            let Answer::Watch(changes) = self.answer("watch").await else {
                panic!("a watch was made where a list was due");
            };
            changes.map(|changes| stream::iter(changes).boxed())
        }

        fn is_expired(&self, error: &&'static str) -> bool {
            *error == "expired"
        }
    }

    /// Follows `server` for a minute of (paused) time; what the follower took.
    async fn follow_for_a_minute(server: &Scripted) -> Vec<Change<u32>> {
        let (follower, mut taken) = mpsc::channel(64);
        let following = tokio::time::timeout(Duration::from_secs(60), follow(server, follower));
        assert!(following.await.is_err(), "following never stops by itself");
        let mut changes = Vec::new();
        while let Ok(change) = taken.try_recv() {
            changes.push(change);
        }
        changes
    }

    #[tokio::test(start_paused = true)]
    async fn a_list_is_followed_by_its_watch_and_made_again_when_the_watch_ends() {
        let server = Scripted::new([
            Answer::List(Ok(vec![1, 2])),
            Answer::Watch(Ok(vec![Ok(Change::Applied(3)), Ok(Change::Deleted(1))])),
            Answer::List(Ok(vec![2, 3])),
        ]);
        let changes = follow_for_a_minute(&server).await;
        assert_eq!(
            changes,
            [
                Change::Listed(vec![1, 2]),
                Change::Applied(3),
                Change::Deleted(1),
                Change::Listed(vec![2, 3]),
            ]
        );
        assert_eq!(
            server.calls(),
            [("list", 0), ("watch", 0), ("list", 100), ("watch", 100)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_revision_is_listed_again_at_once() {
        let server = Scripted::new([
            Answer::List(Ok(vec![1])),
            Answer::Watch(Err("expired")),
            Answer::List(Ok(vec![1])),
            Answer::Watch(Ok(vec![Err("expired")])),
        ]);
        follow_for_a_minute(&server).await;
        let calls = server.calls();
        assert!(calls.iter().all(|(_, at)| *at == 0), "{calls:?}");
        assert_eq!(calls.len(), 5, "{calls:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_doubling_until_the_server_accepts_a_watch() {
        let server = Scripted::new([
            Answer::List(Err("unreachable")),
            Answer::List(Err("unreachable")),
            Answer::List(Err("unreachable")),
            Answer::List(Ok(vec![1])),
            Answer::Watch(Ok(vec![Err("connection reset")])),
        ]);
        follow_for_a_minute(&server).await;
        assert_eq!(
            server.calls(),
            [
                ("list", 0),
                ("list", 100),
                ("list", 300),
                ("list", 700),
                ("watch", 700),
                ("list", 800),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_pause_stops_doubling_at_its_cap() {
        let server = Scripted::new((0..8).map(|_| Answer::List(Err("unreachable"))));
        follow_for_a_minute(&server).await;
        let at: Vec<_> = server.calls().iter().map(|(_, at)| *at).collect();
        assert_eq!(at, [0, 100, 300, 700, 1500, 3100, 6300, 11300, 16300]);
    }

    #[tokio::test(start_paused = true)]
    async fn following_stops_once_nobody_takes_the_changes() {
        let server = Scripted::new([Answer::List(Ok(vec![1]))]);
        let (follower, taken) = mpsc::channel(1);
        drop(taken);
        follow(&server, follower).await;
        assert_eq!(server.calls(), [("list", 0)]);
    }
}
