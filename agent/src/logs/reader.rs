//! Serves one read of the kept logs as a stream of line batches: the tail first when asked,
//! then every matching line after the reader's position, in pieces of [`PAGE`]; a following
//! read then waits for the writer's next commit and goes on from where it was.

use futures::stream::BoxStream;
use minicloud_proto::v1::{LogLine, LogLines};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::filter::Filter;
use super::store::{LogStore, LogStoreError, Page, ReadBudget};

/// What one read of the store looks at and answers with at most.
pub const PAGE: ReadBudget = ReadBudget {
    lines: 1000,
    scanned: 100_000,
};

/// What a reader asks for.
#[derive(Debug, Clone)]
pub struct Read {
    /// Which lines.
    pub filter: Filter,
    /// Only lines after this sequence number.
    pub after: u64,
    /// Start with the last this many lines (0: from `after` on).
    pub tail: usize,
    /// Keep sending new lines.
    pub follow: bool,
}

/// The batches of `read`, from `store`, waking on `commits` while following.
pub fn serve(
    store: LogStore,
    read: Read,
    commits: watch::Receiver<u64>,
) -> BoxStream<'static, Result<LogLines, Status>> {
    let (sender, receiver) = mpsc::channel(4);
    tokio::spawn(async move {
        if let Err(error) = send_lines(store, read, commits, &sender).await {
            let _ = sender.send(Err(Status::internal(error.to_string()))).await;
        }
    });
    Box::pin(ReceiverStream::new(receiver))
}

/// Sends the lines; stops quietly when the reader goes away.
async fn send_lines(
    store: LogStore,
    read: Read,
    mut commits: watch::Receiver<u64>,
    sender: &mpsc::Sender<Result<LogLines, Status>>,
) -> Result<(), LogStoreError> {
    let Read {
        filter,
        mut after,
        tail,
        follow,
    } = read;
    commits.borrow_and_update();
    if tail > 0 && after == 0 {
        let (lines, last_seq) = blocking(&store, &filter, move |store, filter| {
            store.tail(filter, tail)
        })
        .await?;
        if !send(sender, lines).await {
            return Ok(());
        }
        after = last_seq;
        if !follow {
            return Ok(());
        }
    }
    loop {
        let page: Page = blocking(&store, &filter, move |store, filter| {
            store.read(filter, after, PAGE)
        })
        .await?;
        after = page.last_seq;
        if !send(sender, page.lines).await {
            return Ok(());
        }
        if !page.at_end {
            continue;
        }
        if !follow {
            return Ok(());
        }
        tokio::select! {
            changed = commits.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                commits.borrow_and_update();
            }
            () = sender.closed() => return Ok(()),
        }
    }
}

/// Sends a non-empty batch; false when the reader went away.
async fn send(sender: &mpsc::Sender<Result<LogLines, Status>>, lines: Vec<LogLine>) -> bool {
    lines.is_empty() || sender.send(Ok(LogLines { lines })).await.is_ok()
}

/// Runs a read of the store off the async threads.
async fn blocking<T: Send + 'static>(
    store: &LogStore,
    filter: &Filter,
    read: impl FnOnce(&LogStore, &Filter) -> Result<T, LogStoreError> + Send + 'static,
) -> Result<T, LogStoreError> {
    let (store, filter) = (store.clone(), filter.clone());
    tokio::task::spawn_blocking(move || read(&store, &filter))
        .await
        .map_err(|e| LogStoreError::Interrupted(e.to_string()))?
}
