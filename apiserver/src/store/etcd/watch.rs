//! etcd watches as [`WatchStream`]s: creation, the compacted-start check, and the translation
//! of etcd's batched responses into one event per item.

use etcd_client::{Client, EventType, GetOptions, WatchOptions, WatchResponse};
use futures::StreamExt;
use futures::stream;
use std::collections::VecDeque;
use std::time::Duration;

use super::convert::{convert_key_value, is_compacted_error};
use crate::store::{EventKind, Result, Revision, StoreError, WatchEvent, WatchStream};

/// How long to wait for etcd to name its compaction point once a start revision is known to be
/// compacted.
const COMPACTION_REPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// The state carried between items of the stream.
struct Follow {
    /// The etcd watch; dropping it (with the stream) cancels the watch on the server.
    responses: etcd_client::WatchStream,
    namespace: String,
    pending: VecDeque<Result<WatchEvent>>,
    /// The revision the next event must have at least; reported when history runs out.
    next_revision: Revision,
    finished: bool,
}

/// Opens a watch on `full_prefix` from `from_revision` (0: from now).
pub(super) async fn open(
    mut client: Client,
    namespace: String,
    full_prefix: String,
    from_revision: Revision,
) -> Result<WatchStream> {
    if from_revision > 0 {
        reject_if_compacted(&mut client, &full_prefix, from_revision).await?;
    }
    let mut options = WatchOptions::new().with_prefix().with_prev_key();
    if from_revision > 0 {
        options = options.with_start_revision(from_revision);
    }
    let mut responses = client.watch(full_prefix, Some(options)).await?;
    let created = responses
        .message()
        .await?
        .ok_or_else(|| StoreError::WatchEnded("etcd closed the watch before creating it".into()))?;
    if let Some(error) = cancellation(&created, from_revision) {
        return Err(error);
    }
    let follow = Follow {
        responses,
        namespace,
        pending: VecDeque::new(),
        next_revision: from_revision,
        finished: false,
    };
    Ok(stream::unfold(follow, next_item).boxed())
}

/// Fails with [`StoreError::Compacted`] when `from_revision` is below etcd's compaction point.
///
/// etcd only reports a compacted watch start asynchronously, so the check reads the prefix at
/// that revision (which fails the same way) and then asks a watch for the exact point.
async fn reject_if_compacted(
    client: &mut Client,
    full_prefix: &str,
    from_revision: Revision,
) -> Result<()> {
    let probe = GetOptions::new()
        .with_prefix()
        .with_revision(from_revision)
        .with_count_only();
    match client.get(full_prefix, Some(probe)).await {
        Err(error) if is_compacted_error(&error) => {}
        _ => return Ok(()),
    }
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(from_revision);
    let mut responses = client.watch(full_prefix, Some(options)).await?;
    let compacted = tokio::time::timeout(COMPACTION_REPORT_TIMEOUT, async {
        while let Some(response) = responses.message().await? {
            if response.compact_revision() > 0 {
                return Ok(response.compact_revision());
            }
        }
        Ok::<_, StoreError>(from_revision + 1)
    })
    .await
    .unwrap_or(Ok(from_revision + 1))?;
    Err(StoreError::Compacted {
        requested: from_revision,
        compacted,
    })
}

/// The error a cancelled watch response stands for, if it is one.
fn cancellation(response: &WatchResponse, next_revision: Revision) -> Option<StoreError> {
    if response.compact_revision() > 0 {
        return Some(StoreError::Compacted {
            requested: next_revision,
            compacted: response.compact_revision(),
        });
    }
    response
        .canceled()
        .then(|| StoreError::WatchEnded(format!("etcd cancelled it: {}", response.cancel_reason())))
}

async fn next_item(mut follow: Follow) -> Option<(Result<WatchEvent>, Follow)> {
    loop {
        if let Some(item) = follow.pending.pop_front() {
            return Some((item, follow));
        }
        if follow.finished {
            return None;
        }
        follow.finished = !refill(&mut follow).await;
    }
}

/// Reads the next etcd response into `pending`; returns false once the stream is over (after
/// queueing the error that ended it).
async fn refill(follow: &mut Follow) -> bool {
    let response = match follow.responses.message().await {
        Ok(Some(response)) => response,
        Ok(None) => {
            let ended = StoreError::WatchEnded("etcd closed the watch stream".into());
            follow.pending.push_back(Err(ended));
            return false;
        }
        Err(error) => {
            follow.pending.push_back(Err(error.into()));
            return false;
        }
    };
    for event in response.events() {
        let converted = convert_event(&follow.namespace, event);
        if let Ok(event) = &converted {
            follow.next_revision = event.revision() + 1;
        }
        follow.pending.push_back(converted);
    }
    match cancellation(&response, follow.next_revision) {
        Some(error) => {
            follow.pending.push_back(Err(error));
            false
        }
        None => true,
    }
}

fn convert_event(namespace: &str, event: &etcd_client::Event) -> Result<WatchEvent> {
    let kv = event
        .kv()
        .ok_or_else(|| StoreError::WatchEnded("etcd sent an event without a key".into()))?;
    let kind = match event.event_type() {
        EventType::Put => EventKind::Put,
        EventType::Delete => EventKind::Delete,
    };
    let prev = event
        .prev_kv()
        .map(|kv| convert_key_value(namespace, kv))
        .transpose()?;
    Ok(WatchEvent {
        kind,
        kv: convert_key_value(namespace, kv)?,
        prev,
    })
}
