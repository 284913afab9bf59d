//! The etcd backend: the [`Store`](super::Store) contract mapped onto etcd's MVCC key space.
//!
//! Revisions are etcd's own (`mod_revision` is an object's resourceVersion). Every
//! compare-and-swap is one etcd transaction whose `else` branch reads the key back, so a failed
//! write reports NotFound versus Conflict from the same consistent read. An optional namespace
//! prefixes every key, which lets several stores (or test runs) share one etcd cluster.

mod convert;
mod watch;

use async_trait::async_trait;
use etcd_client::{
    Client, CompactionOptions, Compare as EtcdCompare, CompareOp, ConnectOptions, GetOptions,
    KeyValue as EtcdKeyValue, SortOrder, SortTarget, TxnOp as EtcdTxnOp, TxnOpResponse,
    TxnResponse,
};
use std::time::Duration;

use self::convert::{convert_key_value, header_revision, is_compacted_error};
use super::{
    Compare, KeyRange, KeyValue, KvRead, KvWatch, KvWrite, Listing, Page, Result, Revision,
    StoreError, Txn, TxnOp, TxnOutcome, WatchStream,
};

/// A [`Store`](super::Store) backed by an etcd cluster.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    namespace: String,
}

impl EtcdStore {
    /// Connects to `endpoints` (e.g. `http://127.0.0.1:2379`) and checks that the cluster
    /// answers. Every key is stored under `namespace` (use `""` for none).
    pub async fn connect(endpoints: &[String], namespace: &str) -> Result<Self> {
        let unreachable = |source| StoreError::EtcdUnreachable {
            endpoints: endpoints.join(","),
            source,
        };
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(3))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        let mut client = Client::connect(endpoints, Some(options))
            .await
            .map_err(unreachable)?;
        tokio::time::timeout(Duration::from_secs(5), client.status())
            .await
            .map_err(|_| StoreError::EtcdUnreachable {
                endpoints: endpoints.join(","),
                source: etcd_client::Error::Internal("no answer within 5 s".into()),
            })?
            .map_err(unreachable)?;
        Ok(Self {
            client,
            namespace: namespace.to_owned(),
        })
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.namespace)
    }

    fn to_key_value(&self, kv: &EtcdKeyValue) -> Result<KeyValue> {
        convert_key_value(&self.namespace, kv)
    }

    fn to_key_values(&self, kvs: &[EtcdKeyValue]) -> Result<Vec<KeyValue>> {
        kvs.iter().map(|kv| self.to_key_value(kv)).collect()
    }

    /// Reads the key back from a failed transaction's `else` branch.
    fn current_from_else(&self, response: &TxnResponse) -> Result<Option<KeyValue>> {
        let found = response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => get.kvs().first().cloned(),
            _ => None,
        });
        found.map(|kv| self.to_key_value(&kv)).transpose()
    }

    /// Runs a compare-and-swap on one key and turns a failed compare into NotFound/Conflict.
    async fn guarded_write(
        &self,
        key: &str,
        expected: Option<Revision>,
        write: EtcdTxnOp,
    ) -> Result<Revision> {
        let full = self.full_key(key);
        let mut compares = vec![EtcdCompare::version(full.clone(), CompareOp::Greater, 0)];
        if let Some(revision) = expected {
            compares.push(EtcdCompare::mod_revision(
                full.clone(),
                CompareOp::Equal,
                revision,
            ));
        }
        let txn = etcd_client::Txn::new()
            .when(compares)
            .and_then(vec![write])
            .or_else(vec![EtcdTxnOp::get(full, None)]);
        let response = self.client.clone().txn(txn).await?;
        if response.succeeded() {
            return Ok(header_revision(response.header()));
        }
        match self.current_from_else(&response)? {
            None => Err(StoreError::NotFound {
                key: key.to_owned(),
            }),
            Some(current) => Err(StoreError::Conflict {
                key: key.to_owned(),
                expected: expected.unwrap_or_default(),
                actual: current.mod_revision,
            }),
        }
    }
}

#[async_trait]
impl KvRead for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let response = self.client.clone().get(self.full_key(key), None).await?;
        response
            .kvs()
            .first()
            .map(|kv| self.to_key_value(kv))
            .transpose()
    }

    async fn list(&self, prefix: &str) -> Result<Listing> {
        let options = GetOptions::new().with_prefix();
        let response = self
            .client
            .clone()
            .get(self.full_key(prefix), Some(options))
            .await?;
        let items = self.to_key_values(response.kvs())?;
        Ok(Listing {
            items,
            revision: header_revision(response.header()),
        })
    }

    async fn range(&self, range: &KeyRange) -> Result<Page> {
        if range.start >= range.end {
            let response = self
                .client
                .clone()
                .get(self.full_key(&range.start), None)
                .await?;
            return Ok(Page {
                items: Vec::new(),
                total: 0,
                revision: header_revision(response.header()),
            });
        }
        let order = if range.reverse {
            SortOrder::Descend
        } else {
            SortOrder::Ascend
        };
        let options = GetOptions::new()
            .with_range(self.full_key(&range.end))
            .with_limit(i64::try_from(range.limit).unwrap_or(i64::MAX))
            .with_sort(SortTarget::Key, order);
        let response = self
            .client
            .clone()
            .get(self.full_key(&range.start), Some(options))
            .await?;
        let items = self.to_key_values(response.kvs())?;
        Ok(Page {
            items,
            total: u64::try_from(response.count()).unwrap_or_default(),
            revision: header_revision(response.header()),
        })
    }
}

#[async_trait]
impl KvWrite for EtcdStore {
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision> {
        let full = self.full_key(key);
        let txn = etcd_client::Txn::new()
            .when(vec![EtcdCompare::version(
                full.clone(),
                CompareOp::Equal,
                0,
            )])
            .and_then(vec![EtcdTxnOp::put(full, value, None)]);
        let response = self.client.clone().txn(txn).await?;
        if !response.succeeded() {
            return Err(StoreError::AlreadyExists {
                key: key.to_owned(),
            });
        }
        Ok(header_revision(response.header()))
    }

    async fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision> {
        let put = EtcdTxnOp::put(self.full_key(key), value, None);
        self.guarded_write(key, Some(expected), put).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Revision> {
        let delete = EtcdTxnOp::delete(self.full_key(key), None);
        self.guarded_write(key, expected, delete).await
    }

    async fn txn(&self, txn: Txn) -> Result<TxnOutcome> {
        txn.check_shape()?;
        let compares: Vec<EtcdCompare> = txn
            .compares
            .iter()
            .flat_map(|c| self.compares_for(c))
            .collect();
        let ops: Vec<EtcdTxnOp> = txn
            .ops
            .into_iter()
            .map(|op| match op {
                TxnOp::Put(key, value) => EtcdTxnOp::put(self.full_key(&key), value, None),
                TxnOp::Delete(key) => EtcdTxnOp::delete(self.full_key(&key), None),
            })
            .collect();
        let request = etcd_client::Txn::new().when(compares).and_then(ops);
        let response = self.client.clone().txn(request).await?;
        Ok(TxnOutcome {
            succeeded: response.succeeded(),
            revision: header_revision(response.header()),
        })
    }
}

impl EtcdStore {
    fn compares_for(&self, compare: &Compare) -> Vec<EtcdCompare> {
        match compare {
            Compare::Absent(key) => {
                vec![EtcdCompare::version(
                    self.full_key(key),
                    CompareOp::Equal,
                    0,
                )]
            }
            Compare::Present(key) => {
                vec![EtcdCompare::version(
                    self.full_key(key),
                    CompareOp::Greater,
                    0,
                )]
            }
            Compare::ModRevision(key, revision) => vec![
                EtcdCompare::version(self.full_key(key), CompareOp::Greater, 0),
                EtcdCompare::mod_revision(self.full_key(key), CompareOp::Equal, *revision),
            ],
        }
    }
}

#[async_trait]
impl KvWatch for EtcdStore {
    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream> {
        watch::open(
            self.client.clone(),
            self.namespace.clone(),
            self.full_key(prefix),
            from_revision,
        )
        .await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let options = CompactionOptions::new().with_physical();
        match self.client.clone().compact(revision, Some(options)).await {
            Ok(_) => Ok(()),
            Err(error) if is_compacted_error(&error) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}
