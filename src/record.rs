//! Validation of what callers save: stream names, partition keys, explicit
//! hash keys and sizes, by the rules of the configured service. A record that
//! passes is a [`NewRecord`], ready for the store.

use crate::config::RecorderConfig;
use crate::error::{Error, Result};
use crate::service::Service;

/// A validated record on its way to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewRecord {
    pub stream: String,
    pub partition_key: String,
    /// No key was given: `partition_key` is a random UUID.
    pub key_generated: bool,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    /// When it was saved: boot-clock milliseconds while queued, turned into
    /// the stored (wall-clock) frame by the writer (`recorder::clock`).
    pub created_at_ms: i64,
}

impl NewRecord {
    /// Bytes counted against the service's and the store's limits: data (its
    /// newline included) plus partition key (none on Firehose), as the
    /// services count them.
    pub fn size(&self) -> u64 {
        record_size(self.data.len(), &self.partition_key)
    }
}

pub(crate) fn record_size(data_len: usize, partition_key: &str) -> u64 {
    (data_len + partition_key.len()) as u64
}

/// Stream names: 1 to 128 of `[a-zA-Z0-9_.-]` (Firehose delivery streams: 1 to 64).
pub(crate) fn validate_stream_name(name: &str, service: Service) -> Result<()> {
    let max = service.max_stream_name();
    if name.is_empty() || name.len() > max {
        return Err(Error::invalid(
            "stream name",
            format!("must be 1 to {max} characters for {service}, got {}", name.len()),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(Error::invalid(
            "stream name",
            format!("{bad:?} is not allowed (use letters, digits, '_', '.', '-')"),
        ));
    }
    Ok(())
}

/// Partition keys: 1 to 256 characters, counted as the service counts them
/// (UTF-16 code units: an emoji counts two).
pub(crate) fn validate_partition_key(key: &str) -> Result<()> {
    let chars = key.encode_utf16().count();
    if chars == 0 || chars > 256 {
        return Err(Error::invalid(
            "partition key",
            format!("must be 1 to 256 characters, got {chars}"),
        ));
    }
    Ok(())
}

/// Explicit hash keys: a decimal integer in [0, 2^128 - 1] without leading
/// zeros (the service's pattern is `0|([1-9]\d{0,38})`).
pub(crate) fn validate_explicit_hash_key(key: &str) -> Result<()> {
    let valid = !key.is_empty()
        && (key == "0" || !key.starts_with('0'))
        && key.len() <= 39
        && key.bytes().all(|b| b.is_ascii_digit())
        && key.parse::<u128>().is_ok();
    if !valid {
        return Err(Error::invalid(
            "explicit hash key",
            format!("{key:?} is not a decimal integer between 0 and 2^128-1"),
        ));
    }
    Ok(())
}

/// Validates everything about a save by the rules of `config.service` and
/// builds the record. On Kinesis a missing partition key becomes a random
/// UUID, so retries keep the same key; Firehose records have no key (stored
/// as an empty one). With `newline_delimited`, the data gets its `\n` here.
pub(crate) fn new_record(
    config: &RecorderConfig,
    mut data: Vec<u8>,
    stream: &str,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
    created_at_ms: i64,
) -> Result<NewRecord> {
    let service = config.service;
    validate_stream_name(stream, service)?;
    let key_generated = partition_key.is_none();
    let partition_key = if service.takes_partition_keys() {
        match partition_key {
            Some(key) => {
                validate_partition_key(&key)?;
                key
            }
            None => uuid::Uuid::new_v4().to_string(),
        }
    } else if partition_key.is_some() || explicit_hash_key.is_some() {
        let field = if partition_key.is_some() {
            "partition key"
        } else {
            "explicit hash key"
        };
        return Err(Error::invalid(
            field,
            format!("{service} records take neither partition keys nor explicit hash keys: save the data alone"),
        ));
    } else {
        String::new()
    };
    if let Some(key) = &explicit_hash_key {
        validate_explicit_hash_key(key)?;
    }
    if data.is_empty() {
        return Err(Error::invalid("data", "must not be empty"));
    }
    let newline = usize::from(config.newline_delimited);
    let size = record_size(data.len() + newline, &partition_key);
    if size > config.max_record_bytes {
        let key = if service.takes_partition_keys() {
            " + partition key"
        } else {
            ""
        };
        let newline = if newline > 0 { " + newline" } else { "" };
        return Err(Error::invalid(
            "data",
            format!(
                "record is {size} bytes (data{newline}{key}), the limit is {}",
                config.max_record_bytes
            ),
        ));
    }
    if newline > 0 {
        data.push(b'\n');
    }
    Ok(NewRecord {
        stream: stream.to_owned(),
        partition_key,
        key_generated,
        explicit_hash_key,
        data,
        created_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(service: Service) -> RecorderConfig {
        RecorderConfig {
            max_record_bytes: 1000,
            ..RecorderConfig::for_service(service, "t.db", "us-east-1")
        }
    }

    fn save_to(
        config: &RecorderConfig,
        data: &[u8],
        stream: &str,
        key: Option<&str>,
        hash: Option<&str>,
    ) -> Result<NewRecord> {
        new_record(
            config,
            data.to_vec(),
            stream,
            key.map(str::to_owned),
            hash.map(str::to_owned),
            0,
        )
    }

    fn save(data: &[u8], stream: &str, key: Option<&str>, hash: Option<&str>) -> Result<NewRecord> {
        save_to(&config(Service::KinesisDataStreams), data, stream, key, hash)
    }

    #[test]
    fn accepts_valid_records_and_generates_keys() {
        let record = save(b"x", "a-b_c.1", None, None).unwrap();
        assert_eq!(record.partition_key.len(), 36);
        assert!(record.key_generated);
        assert!(!save(b"x", "s", Some("k"), None).unwrap().key_generated);
        let other = save(b"x", "s", None, None).unwrap();
        assert_ne!(record.partition_key, other.partition_key);
        assert!(save(b"x", &"s".repeat(128), Some(&"é".repeat(256)), Some("0")).is_ok());
        assert!(save(b"x", "s", Some(&"😀".repeat(128)), None).is_ok());
        assert!(save(b"x", "s", Some("k"), Some(&u128::MAX.to_string())).is_ok());
    }

    #[test]
    fn rejects_bad_stream_names() {
        for name in ["", "a b", "a/b", "ü", &"s".repeat(129)] {
            assert!(
                matches!(
                    save(b"x", name, None, None),
                    Err(Error::InvalidInput {
                        field: "stream name",
                        ..
                    })
                ),
                "{name:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_partition_keys() {
        for key in ["".to_owned(), "k".repeat(257), "é".repeat(257), "😀".repeat(129)] {
            assert!(matches!(
                save(b"x", "s", Some(&key), None),
                Err(Error::InvalidInput {
                    field: "partition key",
                    ..
                })
            ));
        }
    }

    #[test]
    fn rejects_bad_explicit_hash_keys() {
        let too_big = "340282366920938463463374607431768211456"; // 2^128
        for key in ["", "-1", "1.0", " 1", "abc", too_big, "+5", "00", "007"] {
            assert!(
                matches!(
                    save(b"x", "s", Some("k"), Some(key)),
                    Err(Error::InvalidInput {
                        field: "explicit hash key",
                        ..
                    })
                ),
                "{key:?}"
            );
        }
    }

    #[test]
    fn rejects_empty_and_oversize_data() {
        assert!(matches!(
            save(b"", "s", Some("k"), None),
            Err(Error::InvalidInput { field: "data", .. })
        ));
        assert!(save(&[0; 999], "s", Some("k"), None).is_ok());
        assert!(matches!(
            save(&[0; 1000], "s", Some("k"), None),
            Err(Error::InvalidInput { field: "data", .. })
        ));
    }

    #[test]
    fn firehose_records_have_no_keys() {
        let firehose = config(Service::Firehose);
        let record = save_to(&firehose, b"x", "delivery", None, None).unwrap();
        assert_eq!((record.partition_key.as_str(), record.size()), ("", 1));
        for (key, hash, field) in [
            (Some("k"), None, "partition key"),
            (None, Some("1"), "explicit hash key"),
            (Some("k"), Some("1"), "partition key"),
        ] {
            let error = save_to(&firehose, b"x", "delivery", key, hash).unwrap_err();
            assert!(
                matches!(&error, Error::InvalidInput { field: f, reason } if *f == field && reason.contains("Firehose")),
                "{error}"
            );
        }
        // Delivery stream names stop at 64 characters.
        assert!(save_to(&firehose, b"x", &"d".repeat(64), None, None).is_ok());
        let error = save_to(&firehose, b"x", &"d".repeat(65), None, None).unwrap_err();
        assert!(error.to_string().contains("1 to 64"), "{error}");
        assert!(save(b"x", &"d".repeat(65), None, None).is_ok());
    }

    #[test]
    fn the_newline_is_part_of_the_record_and_its_size() {
        for service in [Service::KinesisDataStreams, Service::Firehose] {
            let config = RecorderConfig {
                newline_delimited: true,
                ..config(service)
            };
            let key = service.takes_partition_keys().then_some("k");
            let record = save_to(&config, b"{}", "s", key, None).unwrap();
            assert_eq!(record.data, b"{}\n");
            assert_eq!(record.size(), 3 + key.map_or(0, |_| 1));
            // The newline counts against the limit of 1000: data + key of 999
            // bytes fit, of 1000 bytes (which fit without a newline) do not.
            let at_limit = vec![b'a'; 999 - key.map_or(0, |_| 1)];
            assert!(save_to(&config, &at_limit, "s", key, None).is_ok());
            let over = vec![b'a'; 1000 - key.map_or(0, |_| 1)];
            let error = save_to(&config, &over, "s", key, None).unwrap_err();
            assert!(error.to_string().contains("newline"), "{error}");
        }
    }
}
