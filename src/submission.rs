//! The plain data one submission passes between the layers: the records read
//! for sending (store → policy, which groups them into the Kinesis records of
//! a request → transport), the service's answer, per Kinesis record or for
//! the whole call (transport → policy), and how each record of the batch was
//! settled (policy → store).
//!
//! Data only, no behaviour and no imports from the crate: it sits at the
//! bottom of the dependency graph, so `store`, `transport` and `policy` share
//! these types without importing each other.

/// A record read back for submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredRecord {
    pub id: i64,
    pub partition_key: String,
    /// The recorder made the partition key up (the app gave none): the record
    /// may travel under another made-up key.
    pub key_generated: bool,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    pub size: u64,
    pub attempts: u32,
}

/// One Kinesis record of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A stored record, sent as it was saved.
    Plain(StoredRecord),
    /// Several stored records in one KPL aggregated record, sent under the
    /// first one's partition key and explicit hash key, which every
    /// sub-record carries too: the upload policy groups only records that
    /// may share them.
    Aggregate(Vec<StoredRecord>),
}

impl Entry {
    /// The stored records this Kinesis record carries.
    pub fn records(&self) -> &[StoredRecord] {
        match self {
            Entry::Plain(record) => std::slice::from_ref(record),
            Entry::Aggregate(records) => records,
        }
    }
}

/// The service's answer for one Kinesis record of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryResult {
    Accepted,
    Rejected { code: String, message: String },
}

/// Why a call produced no per-record results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallFailure {
    /// Connection refused or reset, DNS, TLS, timeout, body cut short.
    Network(String),
    /// A non-2xx answer; `code` is the service's error type, when it gave one.
    Service {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// A 2xx answer whose body could not be read as the API's output.
    Malformed(String),
    /// The credentials provider failed.
    Credentials(String),
}

/// How one submitted batch ended, record by record. Built by the upload
/// policy, applied by the store in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Settlement {
    /// Acknowledged by the service: (id, size), marked delivered.
    pub delivered: Vec<(i64, u64)>,
    /// Rejected but retryable: the attempt counts.
    pub retry: Vec<i64>,
    /// Throttled: kept as they are and sent again, no attempt spent (a busy
    /// shard says nothing about the record).
    pub throttled: Vec<i64>,
    /// Rejected for the last allowed time: (id, size), deleted and reported.
    pub exhausted: Vec<(i64, u64)>,
    /// Kinesis records acknowledged: `delivered` counts an aggregate's
    /// records, this counts the aggregate once.
    pub kinesis_records: u64,
}
