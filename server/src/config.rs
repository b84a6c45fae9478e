//! `waypoint serve` settings: command-line flags override `WAYPOINT_*`
//! environment variables (both handled by clap), which override the TOML
//! file given with `--config`, which overrides the defaults.
//!
//! ```toml
//! data_dir = "./waypoint-data"
//! addr = "127.0.0.1:6543"
//! log = "info"                 # tracing filter, e.g. "waypoint=debug"
//! [limits]
//! max_message_bytes = 67108864 # largest request or response
//! max_batch = 10000            # points per upsert, queries per batch
//! max_k = 10000                # k of a search (k · group_size for groups)
//! max_dim = 4096               # dim of a new collection
//! ```

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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 << 20,
            max_batch: 10_000,
            max_k: 10_000,
            max_dim: 4096,
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
    /// Limits.
    pub limits: Limits,
}

impl FileConfig {
    /// Reads and parses `path`.
    ///
    /// # Errors
    /// A message naming the file and what is wrong with it.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
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
    /// Limits.
    pub limits: Limits,
}
