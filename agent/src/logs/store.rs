//! The node's log store: one redb file holding every tenant's kept lines, each collection's
//! cursor, and how many bytes each tenant keeps. A batch of lines and the cursor that follows
//! it commit in one transaction, so a collection that restarts neither loses nor repeats a
//! line. Lines are keyed by tenant and a sequence number of the whole node, so a tenant's
//! lines are one range in collection order: retention drops from its start, and never
//! touches another tenant's range.
//!
//! redb because it is an embedded, pure-Rust store with ACID transactions that survive a
//! crash mid-write (copy-on-write B-trees, checksummed commits), ordered range scans and a
//! stable file format, and it needs no server, no C++ toolchain and no tuning.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use minicloud_proto::v1::LogLine;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::filter::Filter;
use super::line::{Cursor, Line};
use super::retention::Retention;
use crate::runtime::LogStream;

/// A kept line's key: `(tenant, seq)`.
type LineKey = (&'static str, u64);
/// A kept line: `(time, stream, app, release, instance, text)`.
type LineValue = (
    i64,
    u8,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);
/// The kept lines, in one range per tenant.
const LINES: TableDefinition<LineKey, LineValue> = TableDefinition::new("lines");
/// The kept lines open for writing.
type LinesTable<'txn> = redb::Table<'txn, LineKey, LineValue>;
/// tenant → the bytes its kept lines take.
const KEPT_BYTES: TableDefinition<&str, u64> = TableDefinition::new("kept_bytes");
/// container id → how far its log was taken: `(time, messages taken at that time)`.
const CURSORS: TableDefinition<&str, (i64, u32)> = TableDefinition::new("cursors");
/// `"next_seq"` → the sequence number the next line gets.
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
const NEXT_SEQ: &str = "next_seq";

/// What the bookkeeping of one kept line costs beside its strings (key, time, stream).
const LINE_OVERHEAD: u64 = 32;

/// Why the log store failed.
#[derive(Debug, thiserror::Error)]
pub enum LogStoreError {
    /// The file could not be created or opened.
    #[error("cannot open the log store {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: redb::Error,
    },
    /// A read or a write failed.
    #[error("the log store failed: {0}")]
    Store(#[from] redb::Error),
    /// The task reading the store ended before answering.
    #[error("a read of the log store stopped: {0}")]
    Interrupted(String),
}

/// Whose output a batch of lines is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The container.
    pub container_id: String,
    /// Its tenant.
    pub tenant: String,
    /// Its App.
    pub app: String,
    /// The Release it runs.
    pub release: String,
    /// Its Instance.
    pub instance: String,
}

/// Lines of one container and how far into its log they reach.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Whose lines.
    pub source: Arc<Source>,
    /// The lines, in the order written.
    pub lines: Vec<Line>,
    /// The container's cursor after them.
    pub cursor: Cursor,
}

/// Lines read, and where the next read starts.
#[derive(Debug, Default)]
pub struct Page {
    /// The lines that matched.
    pub lines: Vec<LogLine>,
    /// The last sequence number looked at: the next read's `after`.
    pub last_seq: u64,
    /// Whether the tenant's range was read to its end.
    pub at_end: bool,
}

/// How much one read looks at before answering, so a search through much text answers in
/// pieces (and notices a reader that went away).
#[derive(Debug, Clone, Copy)]
pub struct ReadBudget {
    /// Lines to answer with at most.
    pub lines: usize,
    /// Lines to look at at most.
    pub scanned: usize,
}

/// The log store; cheap to clone.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

impl LogStore {
    /// Opens (creating when missing) the store in `dir/logs.redb`.
    pub fn open(dir: &Path) -> Result<LogStore, LogStoreError> {
        let path = dir.join("logs.redb");
        let open = || -> Result<Database, redb::Error> {
            std::fs::create_dir_all(dir)?;
            let db = Database::create(&path)?;
            let txn = db.begin_write()?;
            txn.open_table(LINES)?;
            txn.open_table(KEPT_BYTES)?;
            txn.open_table(CURSORS)?;
            txn.open_table(COUNTERS)?;
            txn.commit()?;
            Ok(db)
        };
        let db = open().map_err(|source| LogStoreError::Open { path, source })?;
        Ok(LogStore { db: Arc::new(db) })
    }

    /// Keeps the batches' lines and cursors in one transaction, then drops each touched
    /// tenant's oldest lines beyond `retention`; the last sequence number given.
    pub fn append(&self, batches: &[Batch], retention: &Retention) -> Result<u64, LogStoreError> {
        let txn = self.db.begin_write().map_err(redb::Error::from)?;
        let last_seq = {
            let mut lines = txn.open_table(LINES).map_err(redb::Error::from)?;
            let mut kept = txn.open_table(KEPT_BYTES).map_err(redb::Error::from)?;
            let mut cursors = txn.open_table(CURSORS).map_err(redb::Error::from)?;
            let mut counters = txn.open_table(COUNTERS).map_err(redb::Error::from)?;
            let mut seq = counters
                .get(NEXT_SEQ)
                .map_err(redb::Error::from)?
                .map_or(1, |v| v.value());
            let mut added: Vec<(&str, u64)> = Vec::new();
            for batch in batches {
                let source = &batch.source;
                let mut bytes = 0;
                for line in &batch.lines {
                    let value = (
                        line.time_unix_nanos,
                        stream_code(line.stream),
                        source.app.as_str(),
                        source.release.as_str(),
                        source.instance.as_str(),
                        line.text.as_str(),
                    );
                    lines
                        .insert((source.tenant.as_str(), seq), value)
                        .map_err(redb::Error::from)?;
                    bytes += line_bytes(&source.app, &source.release, &source.instance, &line.text);
                    seq += 1;
                }
                match added
                    .iter_mut()
                    .find(|(tenant, _)| *tenant == source.tenant)
                {
                    Some((_, total)) => *total += bytes,
                    None => added.push((&source.tenant, bytes)),
                }
                let cursor = (batch.cursor.time_unix_nanos, batch.cursor.taken_at_time);
                cursors
                    .insert(source.container_id.as_str(), cursor)
                    .map_err(redb::Error::from)?;
            }
            counters.insert(NEXT_SEQ, seq).map_err(redb::Error::from)?;
            for (tenant, bytes) in added {
                let before = kept
                    .get(tenant)
                    .map_err(redb::Error::from)?
                    .map_or(0, |v| v.value());
                let now = trim_to_size(&mut lines, tenant, before + bytes, retention.max_bytes)?;
                kept.insert(tenant, now).map_err(redb::Error::from)?;
            }
            seq - 1
        };
        txn.commit().map_err(redb::Error::from)?;
        Ok(last_seq)
    }

    /// Drops every tenant's lines older than `retention.max_age` at `now`; how many.
    pub fn expire(&self, retention: &Retention, now: SystemTime) -> Result<u64, LogStoreError> {
        let cutoff = unix_nanos(now.checked_sub(retention.max_age).unwrap_or(UNIX_EPOCH));
        let txn = self.db.begin_write().map_err(redb::Error::from)?;
        let mut dropped = 0;
        {
            let mut lines = txn.open_table(LINES).map_err(redb::Error::from)?;
            let mut kept = txn.open_table(KEPT_BYTES).map_err(redb::Error::from)?;
            let tenants: Vec<(String, u64)> = kept
                .iter()
                .map_err(redb::Error::from)?
                .map(|entry| entry.map(|(k, v)| (k.value().to_owned(), v.value())))
                .collect::<Result<_, _>>()
                .map_err(redb::Error::from)?;
            for (tenant, bytes) in tenants {
                let (count, freed) = drop_oldest(&mut lines, &tenant, |time, _| time < cutoff)?;
                dropped += count;
                match bytes.saturating_sub(freed) {
                    0 => kept.remove(tenant.as_str()).map(drop),
                    left => kept.insert(tenant.as_str(), left).map(drop),
                }
                .map_err(redb::Error::from)?;
            }
        }
        txn.commit().map_err(redb::Error::from)?;
        Ok(dropped)
    }

    /// Where the collection of `container_id` stands, if it ever started.
    pub fn cursor(&self, container_id: &str) -> Result<Option<Cursor>, LogStoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let cursors = txn.open_table(CURSORS).map_err(redb::Error::from)?;
        let cursor = cursors.get(container_id).map_err(redb::Error::from)?;
        Ok(cursor.map(|v| {
            let (time_unix_nanos, taken_at_time) = v.value();
            Cursor {
                time_unix_nanos,
                taken_at_time,
            }
        }))
    }

    /// Forgets the cursors of containers that are not in `live` (they were removed); their
    /// lines stay.
    pub fn forget_cursors_except(&self, live: &[&str]) -> Result<usize, LogStoreError> {
        let gone: Vec<String> = {
            let txn = self.db.begin_read().map_err(redb::Error::from)?;
            let cursors = txn.open_table(CURSORS).map_err(redb::Error::from)?;
            let mut gone = Vec::new();
            for entry in cursors.iter().map_err(redb::Error::from)? {
                let (id, _) = entry.map_err(redb::Error::from)?;
                if !live.contains(&id.value()) {
                    gone.push(id.value().to_owned());
                }
            }
            gone
        };
        if gone.is_empty() {
            return Ok(0);
        }
        let txn = self.db.begin_write().map_err(redb::Error::from)?;
        {
            let mut cursors = txn.open_table(CURSORS).map_err(redb::Error::from)?;
            for id in &gone {
                cursors.remove(id.as_str()).map_err(redb::Error::from)?;
            }
        }
        txn.commit().map_err(redb::Error::from)?;
        Ok(gone.len())
    }

    /// The last sequence number given (0 for an empty store).
    pub fn last_seq(&self) -> Result<u64, LogStoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let counters = txn.open_table(COUNTERS).map_err(redb::Error::from)?;
        let next = counters.get(NEXT_SEQ).map_err(redb::Error::from)?;
        Ok(next.map_or(0, |v| v.value().saturating_sub(1)))
    }

    /// The bytes `tenant` keeps.
    pub fn kept_bytes(&self, tenant: &str) -> Result<u64, LogStoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let kept = txn.open_table(KEPT_BYTES).map_err(redb::Error::from)?;
        let bytes = kept.get(tenant).map_err(redb::Error::from)?;
        Ok(bytes.map_or(0, |v| v.value()))
    }

    /// The lines after `after` that `filter` matches, in collection order, within `budget`.
    pub fn read(
        &self,
        filter: &Filter,
        after: u64,
        budget: ReadBudget,
    ) -> Result<Page, LogStoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let lines = txn.open_table(LINES).map_err(redb::Error::from)?;
        let tenant = filter.tenant();
        let range = lines
            .range((tenant, after.saturating_add(1))..=(tenant, u64::MAX))
            .map_err(redb::Error::from)?;
        let mut page = Page {
            last_seq: after,
            at_end: true,
            ..Page::default()
        };
        for (scanned, entry) in range.enumerate() {
            if scanned >= budget.scanned || page.lines.len() >= budget.lines {
                page.at_end = false;
                break;
            }
            let (key, value) = entry.map_err(redb::Error::from)?;
            let seq = key.value().1;
            page.last_seq = seq;
            if let Some(line) = matching_line(filter, seq, value.value()) {
                page.lines.push(line);
            }
        }
        Ok(page)
    }

    /// The last `count` lines `filter` matches, and the tenant's last sequence number (where a
    /// follower goes on from).
    pub fn tail(
        &self,
        filter: &Filter,
        count: usize,
    ) -> Result<(Vec<LogLine>, u64), LogStoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let lines = txn.open_table(LINES).map_err(redb::Error::from)?;
        let tenant = filter.tenant();
        let range = lines
            .range((tenant, 0)..=(tenant, u64::MAX))
            .map_err(redb::Error::from)?;
        let mut last_seq = 0;
        let mut found = Vec::new();
        for entry in range.rev() {
            let (key, value) = entry.map_err(redb::Error::from)?;
            let seq = key.value().1;
            last_seq = last_seq.max(seq);
            if found.len() == count {
                break;
            }
            if let Some(line) = matching_line(filter, seq, value.value()) {
                found.push(line);
            }
        }
        found.reverse();
        Ok((found, last_seq))
    }
}

/// The proto line for a stored one, when `filter` matches it.
fn matching_line(
    filter: &Filter,
    seq: u64,
    (time, stream, app, release, instance, text): (i64, u8, &str, &str, &str, &str),
) -> Option<LogLine> {
    filter
        .matches(time, app, release, instance, text)
        .then(|| LogLine {
            instance: instance.to_owned(),
            stream: stream_name(stream).to_owned(),
            text: text.to_owned(),
            time_unix_nanos: time,
            release: release.to_owned(),
            seq,
        })
}

/// Drops `tenant`'s oldest lines until it keeps at most `max_bytes` (and then a tenth more,
/// so a busy tenant trims in steps, not on every line); the bytes it keeps after.
fn trim_to_size(
    lines: &mut LinesTable<'_>,
    tenant: &str,
    bytes: u64,
    max_bytes: u64,
) -> Result<u64, LogStoreError> {
    if bytes <= max_bytes {
        return Ok(bytes);
    }
    let target = max_bytes - max_bytes / 10;
    let mut over = bytes - target;
    let (_, freed) = drop_oldest(lines, tenant, |_, size| {
        let drop = over > 0;
        over = over.saturating_sub(size);
        drop
    })?;
    Ok(bytes.saturating_sub(freed))
}

/// Drops `tenant`'s lines from its oldest on, while `keep_dropping(time, bytes)` says so;
/// how many lines and bytes.
fn drop_oldest(
    lines: &mut LinesTable<'_>,
    tenant: &str,
    mut keep_dropping: impl FnMut(i64, u64) -> bool,
) -> Result<(u64, u64), LogStoreError> {
    let mut doomed = Vec::new();
    let mut freed = 0;
    for entry in lines
        .range((tenant, 0)..=(tenant, u64::MAX))
        .map_err(redb::Error::from)?
    {
        let (key, value) = entry.map_err(redb::Error::from)?;
        let (time, _, app, release, instance, text) = value.value();
        let size = line_bytes(app, release, instance, text);
        if !keep_dropping(time, size) {
            break;
        }
        doomed.push(key.value().1);
        freed += size;
    }
    for seq in &doomed {
        lines.remove((tenant, *seq)).map_err(redb::Error::from)?;
    }
    Ok((doomed.len() as u64, freed))
}

/// What a kept line counts against its tenant's retention.
fn line_bytes(app: &str, release: &str, instance: &str, text: &str) -> u64 {
    (app.len() + release.len() + instance.len() + text.len()) as u64 + LINE_OVERHEAD
}

fn stream_code(stream: LogStream) -> u8 {
    match stream {
        LogStream::Stdout => 1,
        LogStream::Stderr => 2,
    }
}

fn stream_name(code: u8) -> &'static str {
    match code {
        2 => "stderr",
        _ => "stdout",
    }
}

fn unix_nanos(time: SystemTime) -> i64 {
    let nanos = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos();
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use minicloud_proto::v1::AppLogsRequest;

    use super::*;

    fn source(tenant: &str, app: &str, instance: &str) -> Arc<Source> {
        Arc::new(Source {
            container_id: format!("c-{instance}"),
            tenant: tenant.into(),
            app: app.into(),
            release: format!("{app}-1"),
            instance: instance.into(),
        })
    }

    fn batch(source: &Arc<Source>, texts: &[&str], time: i64) -> Batch {
        let lines = texts
            .iter()
            .map(|text| Line {
                stream: LogStream::Stdout,
                time_unix_nanos: time,
                text: (*text).into(),
            })
            .collect();
        Batch {
            source: source.clone(),
            lines,
            cursor: Cursor {
                time_unix_nanos: time,
                taken_at_time: 1,
            },
        }
    }

    fn filter(tenant: &str, app: &str, grep: &str) -> Filter {
        Filter::from_request(&AppLogsRequest {
            tenant: tenant.into(),
            app: app.into(),
            grep: grep.into(),
            ..AppLogsRequest::default()
        })
        .unwrap()
    }

    const ALL: ReadBudget = ReadBudget {
        lines: usize::MAX,
        scanned: usize::MAX,
    };

    fn texts(lines: &[LogLine]) -> Vec<&str> {
        lines.iter().map(|line| line.text.as_str()).collect()
    }

    #[test]
    fn lines_are_read_back_in_order_after_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        let web = source("acme", "web", "web-a");
        let api = source("acme", "api", "api-a");
        let retention = Retention::default();
        store
            .append(
                &[batch(&web, &["one", "two"], 1), batch(&api, &["other"], 2)],
                &retention,
            )
            .unwrap();
        let last = store
            .append(&[batch(&web, &["three"], 3)], &retention)
            .unwrap();
        assert_eq!(last, 4);
        let page = store.read(&filter("acme", "web", ""), 0, ALL).unwrap();
        assert_eq!(texts(&page.lines), ["one", "two", "three"]);
        assert!(page.at_end);
        assert_eq!(page.last_seq, 4);
        let after_two = store.read(&filter("acme", "web", ""), 2, ALL).unwrap();
        assert_eq!(texts(&after_two.lines), ["three"]);
        let grep = store.read(&filter("acme", "web", "^t"), 0, ALL).unwrap();
        assert_eq!(texts(&grep.lines), ["two", "three"]);
        let (tail, end) = store.tail(&filter("acme", "web", ""), 2).unwrap();
        assert_eq!((texts(&tail), end), (vec!["two", "three"], 4));
        assert_eq!(store.cursor("c-web-a").unwrap().unwrap().time_unix_nanos, 3);
        drop(store);
        let reopened = LogStore::open(dir.path()).unwrap();
        assert_eq!(reopened.last_seq().unwrap(), 4, "numbers are never reused");
    }

    #[test]
    fn a_read_answers_within_its_budget_and_says_where_to_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        let web = source("acme", "web", "web-a");
        let texts_in: Vec<String> = (0..10).map(|n| n.to_string()).collect();
        let refs: Vec<&str> = texts_in.iter().map(String::as_str).collect();
        store
            .append(&[batch(&web, &refs, 1)], &Retention::default())
            .unwrap();
        let budget = ReadBudget {
            lines: 100,
            scanned: 4,
        };
        let first = store
            .read(&filter("acme", "web", "[02468]"), 0, budget)
            .unwrap();
        assert_eq!(
            (texts(&first.lines), first.last_seq, first.at_end),
            (vec!["0", "2"], 4, false)
        );
        let next = store
            .read(&filter("acme", "web", "[02468]"), first.last_seq, budget)
            .unwrap();
        assert_eq!(texts(&next.lines), ["4", "6"]);
    }

    #[test]
    fn retention_drops_a_tenants_oldest_lines_and_no_one_elses() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        let quiet = source("quiet", "web", "web-q");
        let noisy = source("noisy", "web", "web-n");
        let retention = Retention {
            max_bytes: 10_000,
            ..Retention::default()
        };
        store
            .append(&[batch(&quiet, &["kept"], 1)], &retention)
            .unwrap();
        let line = "x".repeat(100);
        for round in 0..50 {
            let numbered: Vec<String> = (0..10).map(|n| format!("{round}-{n} {line}")).collect();
            let refs: Vec<&str> = numbered.iter().map(String::as_str).collect();
            store
                .append(&[batch(&noisy, &refs, round)], &retention)
                .unwrap();
        }
        let kept = store.kept_bytes("noisy").unwrap();
        assert!(kept <= 10_000, "{kept}");
        let noisy_lines = store
            .read(&filter("noisy", "web", ""), 0, ALL)
            .unwrap()
            .lines;
        assert!(noisy_lines.len() < 100, "{} lines", noisy_lines.len());
        assert!(
            noisy_lines.last().unwrap().text.starts_with("49-9 "),
            "the newest stay"
        );
        assert!(
            noisy_lines[0].text.starts_with("4"),
            "{}",
            noisy_lines[0].text
        );
        let quiet_lines = store
            .read(&filter("quiet", "web", ""), 0, ALL)
            .unwrap()
            .lines;
        assert_eq!(texts(&quiet_lines), ["kept"]);
    }

    #[test]
    fn lines_older_than_the_age_limit_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        let web = source("acme", "web", "web-a");
        let retention = Retention {
            max_age: Duration::from_secs(60),
            ..Retention::default()
        };
        let second = 1_000_000_000;
        store
            .append(
                &[
                    batch(&web, &["old"], 100 * second),
                    batch(&web, &["new"], 170 * second),
                ],
                &retention,
            )
            .unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(200);
        assert_eq!(store.expire(&retention, now).unwrap(), 1);
        let lines = store
            .read(&filter("acme", "web", ""), 0, ALL)
            .unwrap()
            .lines;
        assert_eq!(texts(&lines), ["new"]);
        assert_eq!(
            store
                .expire(&retention, UNIX_EPOCH + Duration::from_secs(300))
                .unwrap(),
            1
        );
        assert_eq!(store.kept_bytes("acme").unwrap(), 0);
    }

    #[test]
    fn cursors_of_removed_containers_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        let retention = Retention::default();
        let (a, b) = (source("acme", "web", "a"), source("acme", "web", "b"));
        store
            .append(&[batch(&a, &["1"], 1), batch(&b, &["2"], 2)], &retention)
            .unwrap();
        assert_eq!(store.forget_cursors_except(&["c-a"]).unwrap(), 1);
        assert!(store.cursor("c-a").unwrap().is_some());
        assert!(store.cursor("c-b").unwrap().is_none());
        let lines = store
            .read(&filter("acme", "web", ""), 0, ALL)
            .unwrap()
            .lines;
        assert_eq!(lines.len(), 2, "lines outlive their container");
    }
}
