//! WatchObserved: a snapshot now, then a fresh one shortly after each change the event follower
//! announces. Changes arriving within [`DEBOUNCE`] of each other cost one snapshot.

use minicloud_proto::v1::ObservedState;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::Error;
use crate::events::DEBOUNCE;
use crate::observe::Observer;

/// The stream a WatchObserved client reads; it ends with an error status when a snapshot fails.
pub type SnapshotStream = ReceiverStream<Result<ObservedState, tonic::Status>>;

/// Starts sending snapshots of `observer` to a new stream.
pub fn watch_observed(observer: Observer) -> SnapshotStream {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(send_snapshots(observer, tx));
    ReceiverStream::new(rx)
}

async fn send_snapshots(
    observer: Observer,
    tx: mpsc::Sender<Result<ObservedState, tonic::Status>>,
) {
    let mut changes = observer.hub().subscribe();
    changes.borrow_and_update();
    loop {
        let snapshot = observer.snapshot().await;
        let failed = snapshot.is_err();
        let item = snapshot.map_err(|e| Error::from(e).to_status());
        if tx.send(item).await.is_err() || failed {
            return;
        }
        tokio::select! {
            () = tx.closed() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
        tokio::time::sleep(DEBOUNCE).await;
        changes.borrow_and_update();
    }
}
