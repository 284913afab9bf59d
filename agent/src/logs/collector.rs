//! Collects one container's output into the log store: follows its log from the cursor the
//! store has for it, assembles lines, and hands them to the writer in batches of at most
//! [`BATCH_LINES`] lines or [`BATCH_DELAY`] of waiting. One pass ends when the container
//! stops (its log stream ends); the last batch is committed before the pass returns, so a
//! container stopped for removal has all its output kept.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use super::line::{Assembler, Line};
use super::store::{Batch, LogStore, Source};
use super::writer::LogWriter;
use crate::labels;
use crate::runtime::{ListedContainer, LogOptions, Runtime};

/// Lines in one batch at most.
pub const BATCH_LINES: usize = 2048;
/// How long a line waits for others to share its batch at most.
pub const BATCH_DELAY: Duration = Duration::from_millis(100);

/// Whose output a listed container writes; `None` for one without a tenant or an App.
pub fn source_of(container: &ListedContainer) -> Option<Source> {
    let label = |key: &str| container.labels.get(key).cloned().unwrap_or_default();
    let source = Source {
        container_id: container.id.clone(),
        tenant: label(labels::TENANT),
        app: label(labels::APP),
        release: label(labels::RELEASE),
        instance: label(labels::INSTANCE),
    };
    (!source.tenant.is_empty() && !source.app.is_empty()).then_some(source)
}

/// Follows `source`'s container until its log stream ends, keeping every line.
pub async fn collect(
    runtime: Arc<dyn Runtime>,
    store: LogStore,
    writer: LogWriter,
    source: Source,
) {
    let source = Arc::new(source);
    let cursor = {
        let (store, id) = (store.clone(), source.container_id.clone());
        match tokio::task::spawn_blocking(move || store.cursor(&id)).await {
            Ok(Ok(cursor)) => cursor,
            Ok(Err(error)) => {
                tracing::warn!(%error, container = %source.container_id, "cannot read a log cursor");
                return;
            }
            Err(_) => return,
        }
    };
    let options = LogOptions {
        follow: true,
        since: cursor.map(|c| c.since_seconds()),
    };
    let mut assembler = Assembler::resuming(cursor);
    let mut chunks = runtime.logs(&source.container_id, options);
    let mut pending: Vec<Line> = Vec::new();
    let mut flush_at: Option<Instant> = None;
    loop {
        let next = match flush_at {
            Some(at) => match tokio::time::timeout_at(at, chunks.next()).await {
                Ok(next) => next,
                Err(_) => {
                    writer.write(batch(&source, &mut pending, &assembler)).await;
                    flush_at = None;
                    continue;
                }
            },
            None => chunks.next().await,
        };
        match next {
            Some(Ok(chunk)) => pending.extend(assembler.push(&chunk)),
            Some(Err(error)) => {
                tracing::debug!(%error, container = %source.container_id, "a log stream ended");
                break;
            }
            None => break,
        }
        if pending.len() >= BATCH_LINES {
            writer.write(batch(&source, &mut pending, &assembler)).await;
            flush_at = None;
        } else if flush_at.is_none() && !pending.is_empty() {
            flush_at = Some(Instant::now() + BATCH_DELAY);
        }
    }
    pending.extend(assembler.finish());
    writer
        .write_and_wait(batch(&source, &mut pending, &assembler))
        .await;
}

fn batch(source: &Arc<Source>, pending: &mut Vec<Line>, assembler: &Assembler) -> Batch {
    Batch {
        source: source.clone(),
        lines: std::mem::take(pending),
        cursor: assembler.cursor(),
    }
}
