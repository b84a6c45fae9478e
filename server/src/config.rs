//! `waypoint serve` settings: command-line flags override `WAYPOINT_*`
//! environment variables (both handled by clap), which override the TOML
//! file given with `--config`, which overrides the defaults. Each key is
//! resolved on its own; relative paths are taken from the working
//! directory. Without `tls_cert`/`tls_key` the server speaks plaintext;
//! without API keys it accepts every call (`grpc.health.v1` is always open).
//!
//! ```toml
//! data_dir = "./waypoint-data"
//! addr = "127.0.0.1:6543"
//! log = "info"                 # tracing filter, e.g. "waypoint=debug"
//! tls_cert = "server.crt"      # PEM certificate chain; TLS needs both files
//! tls_key = "server.key"       # PEM private key (PKCS#8, PKCS#1 or SEC1)
//! api_key = "..."              # read-write key (`authorization: Bearer <key>`)
//! read_only_api_key = "..."    # key for reads only; writes get PERMISSION_DENIED
//! [limits]
//! max_message_bytes = 67108864 # largest request or response
//! max_batch = 10000            # points per upsert, queries per batch
//! max_k = 10000                # k of a search (k · group_size for groups)
//! max_dim = 4096               # dim of a new collection
//! max_collections = 1000       # collections the server holds
//! max_connections = 512        # open connections; more are closed on accept
//! max_concurrent_streams = 100 # calls at once per HTTP/2 connection
//! idle_timeout_ms = 60000      # close a connection with no call in flight
//! keepalive_interval_ms = 30000 # HTTP/2 PING; no answer in 10 s closes it
//! max_buffered_bytes = 268435456 # unfinished request bytes, whole server
//! max_buffered_bytes_per_connection = 67108864
//! request_body_timeout_ms = 30000 # a request (stream: each message) arrives within
//! max_concurrent_work = 8      # storage calls running at once (default 4 per core)
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:6543";

/// Request limits; a request above one is refused with a status that says
/// which limit and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest encoded request or response, in bytes.
    pub max_message_bytes: usize,
    /// Most points in one upsert batch (or stream message), ids in one
    /// get/delete, and queries in one batch search.
    pub max_batch: usize,
    /// Largest `k` (for grouped search, `k · group_size`).
    pub max_k: usize,
    /// Largest `dim` of a new collection.
    pub max_dim: usize,
    /// Most collections the server holds; a create beyond it is refused
    /// with `RESOURCE_EXHAUSTED`. Collections already on disk all open.
    pub max_collections: usize,
    /// Connections open at once; one more is closed as soon as accepted.
    pub max_connections: usize,
    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`: calls at once per connection.
    pub max_concurrent_streams: u32,
    /// A connection without a call in flight for this long is closed, in ms.
    pub idle_timeout_ms: u64,
    /// Interval of HTTP/2 PINGs on a connection, in ms; a PING unanswered
    /// for 10 s closes it (a vanished peer).
    pub keepalive_interval_ms: u64,
    /// Request bytes the whole server buffers for calls at once.
    pub max_buffered_bytes: usize,
    /// Request bytes one connection buffers at once.
    pub max_buffered_bytes_per_connection: usize,
    /// A unary request must arrive within this many ms of its headers; a
    /// message of a client stream within this many ms of its first byte.
    pub request_body_timeout_ms: u64,
    /// Storage calls (searches, writes...) running at once; more wait
    /// their turn (within their deadline).
    pub max_concurrent_work: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 << 20,
            max_batch: 10_000,
            max_k: 10_000,
            max_dim: 4096,
            max_collections: 1000,
            max_connections: 512,
            max_concurrent_streams: 100,
            idle_timeout_ms: 60_000,
            keepalive_interval_ms: 30_000,
            max_buffered_bytes: 256 << 20,
            max_buffered_bytes_per_connection: 64 << 20,
            request_body_timeout_ms: 30_000,
            max_concurrent_work: 4 * std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The config file's contents; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Listen address.
    pub addr: Option<SocketAddr>,
    /// `tracing` filter directive.
    pub log: Option<String>,
    /// PEM certificate chain of the server.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the server.
    pub tls_key: Option<PathBuf>,
    /// Read-write API key.
    pub api_key: Option<ApiKey>,
    /// Read-only API key.
    pub read_only_api_key: Option<ApiKey>,
    /// Limits.
    pub limits: Limits,
}

impl Limits {
    /// Smallest `max_message_bytes` accepted: room for a request of one
    /// small vector and its envelope.
    pub const MIN_MESSAGE_BYTES: usize = 1024;

    /// Checks that every request can still succeed under these limits.
    ///
    /// # Errors
    /// A message naming the first limit out of range and its bounds.
    pub fn validate(&self) -> Result<(), String> {
        let at_least = |name: &str, value: usize, min: usize| {
            if value < min {
                Err(format!(
                    "limits.{name} = {value} would refuse every request; it must be at least {min}"
                ))
            } else {
                Ok(())
            }
        };
        at_least(
            "max_message_bytes",
            self.max_message_bytes,
            Self::MIN_MESSAGE_BYTES,
        )?;
        at_least("max_batch", self.max_batch, 1)?;
        at_least("max_k", self.max_k, 1)?;
        at_least("max_dim", self.max_dim, 1)?;
        at_least("max_collections", self.max_collections, 1)?;
        at_least("max_connections", self.max_connections, 1)?;
        at_least(
            "max_concurrent_streams",
            self.max_concurrent_streams as usize,
            1,
        )?;
        at_least("idle_timeout_ms", self.idle_timeout_ms as usize, 1)?;
        at_least(
            "keepalive_interval_ms",
            self.keepalive_interval_ms as usize,
            1,
        )?;
        at_least(
            "max_buffered_bytes",
            self.max_buffered_bytes,
            Self::MIN_MESSAGE_BYTES,
        )?;
        at_least(
            "max_buffered_bytes_per_connection",
            self.max_buffered_bytes_per_connection,
            Self::MIN_MESSAGE_BYTES,
        )?;
        for (name, value) in [
            ("max_buffered_bytes", self.max_buffered_bytes),
            (
                "max_buffered_bytes_per_connection",
                self.max_buffered_bytes_per_connection,
            ),
        ] {
            if value < self.max_message_bytes {
                return Err(format!(
                    "limits.{name} = {value} is below limits.max_message_bytes = {}, so a \
                     request of that size could never be taken; raise it or lower \
                     max_message_bytes",
                    self.max_message_bytes
                ));
            }
        }
        at_least(
            "request_body_timeout_ms",
            self.request_body_timeout_ms as usize,
            1,
        )?;
        at_least("max_concurrent_work", self.max_concurrent_work, 1)?;
        if self.max_dim > waypoint_index::MAX_DIM {
            return Err(format!(
                "limits.max_dim = {} is above the engine's largest dimension, {}",
                self.max_dim,
                waypoint_index::MAX_DIM
            ));
        }
        Ok(())
    }
}

impl FileConfig {
    /// Reads and parses `path`, and checks its limits.
    ///
    /// # Errors
    /// A message naming the file and what is wrong with it.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let config: FileConfig =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config
            .limits
            .validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(config)
    }
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Data directory (collections live in `data_dir/collections/`).
    pub data_dir: PathBuf,
    /// Listen address.
    pub addr: SocketAddr,
    /// `tracing` filter directive.
    pub log: String,
    /// TLS identity; `None` serves plaintext.
    pub tls: Option<TlsFiles>,
    /// Keys every call must carry; none configured leaves the server open.
    pub api_keys: ApiKeys,
    /// Limits.
    pub limits: Limits,
}

/// The server's TLS identity: two PEM files, both given or neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key of the leaf certificate.
    pub key: PathBuf,
}

impl TlsFiles {
    /// The pair, or `None` when neither file is given.
    ///
    /// # Errors
    /// A message when only one of the two is given.
    pub fn from_pair(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<Self>, String> {
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(
                "a TLS certificate was given without its private key; TLS needs both \
                 --tls-cert and --tls-key (env WAYPOINT_TLS_CERT/WAYPOINT_TLS_KEY, \
                 config tls_cert/tls_key)"
                    .into(),
            ),
            (None, Some(_)) => Err(
                "a TLS private key was given without its certificate; TLS needs both \
                 --tls-cert and --tls-key (env WAYPOINT_TLS_CERT/WAYPOINT_TLS_KEY, \
                 config tls_cert/tls_key)"
                    .into(),
            ),
        }
    }
}

/// A secret API key. Its `Debug` output is redacted, so a key never reaches
/// a log through a printed config; it is only ever compared, in constant
/// time, by [`crate::auth`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct ApiKey(String);

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        ApiKey(key)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl ApiKey {
    /// The key, as sent after `Bearer `.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks that the key can travel in an HTTP header; `setting` names
    /// where it came from. The message never contains the key.
    fn check(&self, setting: &str) -> Result<(), String> {
        if self.0.is_empty() {
            return Err(format!("{setting} is empty; an API key must not be empty"));
        }
        if !self.0.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "{setting} holds a space, control or non-ASCII character; an API key must be \
                 printable ASCII without spaces (it travels in the `authorization` header)"
            ));
        }
        Ok(())
    }
}

/// The API keys the server accepts. With neither key every call is allowed;
/// with either, every call except `grpc.health.v1` must carry one of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeys {
    read_write: Option<ApiKey>,
    read_only: Option<ApiKey>,
}

impl ApiKeys {
    /// Checks and pairs the keys.
    ///
    /// # Errors
    /// A message (without the key) when a key is empty, has characters a
    /// header cannot carry, or both keys are the same.
    pub fn new(read_write: Option<ApiKey>, read_only: Option<ApiKey>) -> Result<Self, String> {
        if let Some(key) = &read_write {
            key.check("the read-write API key (--api-key, WAYPOINT_API_KEY, api_key)")?;
        }
        if let Some(key) = &read_only {
            key.check(
                "the read-only API key (--read-only-api-key, WAYPOINT_READ_ONLY_API_KEY, \
                 read_only_api_key)",
            )?;
        }
        if read_write.is_some() && read_write == read_only {
            return Err("the read-write and read-only API keys are the same; \
                        give them different values"
                .into());
        }
        Ok(ApiKeys {
            read_write,
            read_only,
        })
    }

    /// Whether any key is configured (calls must then authenticate).
    pub fn required(&self) -> bool {
        self.read_write.is_some() || self.read_only.is_some()
    }

    /// The read-write key, if configured.
    pub fn read_write(&self) -> Option<&ApiKey> {
        self.read_write.as_ref()
    }

    /// The read-only key, if configured.
    pub fn read_only(&self) -> Option<&ApiKey> {
        self.read_only.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    #[test]
    fn limits_that_would_refuse_every_request_are_config_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        for (body, says) in [
            ("max_batch = 0", "limits.max_batch = 0 would refuse every request; it must be at least 1"),
            ("max_k = 0", "limits.max_k = 0 would refuse every request"),
            ("max_dim = 0", "limits.max_dim = 0 would refuse every request"),
            ("max_collections = 0", "limits.max_collections = 0 would refuse every request"),
            ("max_message_bytes = 100", "limits.max_message_bytes = 100 would refuse every request; it must be at least 1024"),
            ("max_dim = 100000", "limits.max_dim = 100000 is above the engine's largest dimension"),
            ("max_connections = 0", "limits.max_connections = 0 would refuse every request"),
            ("max_concurrent_streams = 0", "limits.max_concurrent_streams = 0 would refuse every request"),
            ("max_buffered_bytes = 10", "limits.max_buffered_bytes = 10 would refuse every request; it must be at least 1024"),
            ("request_body_timeout_ms = 0", "limits.request_body_timeout_ms = 0 would refuse every request"),
            ("max_concurrent_work = 0", "limits.max_concurrent_work = 0 would refuse every request"),
        ] {
            std::fs::write(&path, format!("[limits]\n{body}\n")).unwrap();
            let err = FileConfig::load(&path).unwrap_err();
            assert!(err.starts_with(&path.display().to_string()) && err.contains(says), "{err}");
        }
        std::fs::write(&path, "[limits]\nmax_buffered_bytes = 1048576\n").unwrap();
        let err = FileConfig::load(&path).unwrap_err();
        assert!(err.contains("below limits.max_message_bytes"), "{err}");
        std::fs::write(&path, "[limits]\nmax_batch = 1\nmax_message_bytes = 1024\n").unwrap();
        assert_eq!(FileConfig::load(&path).unwrap().limits.max_batch, 1);
    }

    #[test]
    fn debug_output_never_shows_a_key() {
        let keys = ApiKeys::new(
            Some(ApiKey::from("rw-secret-1".to_string())),
            Some(ApiKey::from("ro-secret-2".to_string())),
        )
        .unwrap();
        let cli = Cli::try_parse_from([
            "waypoint",
            "serve",
            "--api-key",
            "rw-secret-1",
            "--read-only-api-key",
            "ro-secret-2",
        ])
        .unwrap();
        for text in [format!("{keys:?}"), format!("{cli:?}")] {
            assert!(!text.contains("secret"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }
}
