//! [`CliError`]: every way a command can fail, each rendered as one line that
//! names the file (and row) at fault.

use std::path::PathBuf;

/// A command's failure; `main` prints it as `error: <message>` and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A dataset file could not be read or written (the message names it).
    #[error(transparent)]
    Data(#[from] waypoint_datasets::Error),
    /// The engine refused: a bad parameter, or an index file that is
    /// missing or fails verification (the message names it).
    #[error(transparent)]
    Index(#[from] waypoint_index::Error),
    /// A vector file the engine refuses as a whole (e.g. a dimension above
    /// its maximum).
    #[error("{}: {source}", path.display())]
    Vectors {
        path: PathBuf,
        #[source]
        source: waypoint_index::Error,
    },
    /// A vector the metric rejects (non-finite, zero under cosine).
    #[error("{}: record {record}: {source}", path.display())]
    BadRow {
        path: PathBuf,
        record: usize,
        #[source]
        source: waypoint_index::Error,
    },
    /// Two files whose vectors must have the same dimension do not.
    #[error(
        "{} has dimension {got}, but {} has dimension {expected}",
        path.display(),
        reference.display()
    )]
    DimensionMismatch {
        path: PathBuf,
        got: usize,
        reference: PathBuf,
        expected: usize,
    },
    /// Ground truth with another number of rows than there are queries.
    #[error(
        "{}: {rows} rows of ground truth, but {} holds {queries} queries",
        path.display(),
        queries_path.display()
    )]
    GroundTruthRows {
        path: PathBuf,
        rows: usize,
        queries_path: PathBuf,
        queries: usize,
    },
    /// `k` above the ground truth's ids per query.
    #[error("{}: k = {k} is larger than the {width} ids per query it holds", path.display())]
    KAboveGroundTruth {
        path: PathBuf,
        k: usize,
        width: usize,
    },
    /// `k` above the number of base vectors.
    #[error("{}: k = {k} is larger than the {rows} vectors it holds", path.display())]
    KAboveBase {
        path: PathBuf,
        k: usize,
        rows: usize,
    },
    /// Ground truth that failed for another reason.
    #[error("{}: {source}", path.display())]
    GroundTruth {
        path: PathBuf,
        #[source]
        source: waypoint_datasets::GroundTruthError,
    },
    /// An ids file that is not one column.
    #[error("{}: ids must be one column (an n × 1 file), found {dim} columns", path.display())]
    IdsShape { path: PathBuf, dim: usize },
    /// An ids file whose length differs from the vectors'.
    #[error("{}: {ids} ids for the {rows} vectors of {}", path.display(), vectors.display())]
    IdsCount {
        path: PathBuf,
        ids: usize,
        rows: usize,
        vectors: PathBuf,
    },
    /// A negative id.
    /// `--first-id` plus the row count passes the largest id.
    #[error(
        "{}: --first-id {first_id} leaves room for {room} ids, but the file has {rows} rows",
        path.display()
    )]
    IdsOverflow {
        path: PathBuf,
        first_id: u64,
        rows: u64,
        room: u128,
    },
    #[error("{}: record {record}: id {id} is negative", path.display())]
    NegativeId {
        path: PathBuf,
        record: usize,
        id: i32,
    },
    /// An id given twice.
    #[error("{}: record {record}: id {id} already appears at record {first}", path.display())]
    DuplicateId {
        path: PathBuf,
        record: usize,
        first: usize,
        id: i32,
    },
    /// An output path that cannot be created.
    #[error("{}: cannot write here: {reason}", path.display())]
    Unwritable { path: PathBuf, reason: String },
    /// Ground truth asked to go into a float file.
    #[error("{}: ground truth is int32 ids; write it to a .ivecs or .npy file", path.display())]
    GroundTruthFormat { path: PathBuf },
    /// The written index's size could not be read.
    #[error("{}: cannot read the file size: {source}", path.display())]
    Stat {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The thread pool could not start.
    #[error("{}: the bundled sample is not there; pass --sample-dir (or set WAYPOINT_SAMPLE_DIR) to the directory that holds it", path.display())]
    SampleMissing { path: PathBuf },

    #[error("--threads {threads} is more than the {max} allowed")]
    TooManyThreads { threads: usize, max: usize },

    #[error("cannot start a pool of {threads} threads: {source}")]
    ThreadPool {
        threads: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// The server's settings are invalid (file, env or flags).
    /// `check` or `repair` found problems (printed above the error).
    #[error("{problems} problems in data directory {} (listed above)", data_dir.display())]
    Damaged { data_dir: PathBuf, problems: usize },
    /// A storage failure outside a collection's files (listing the data
    /// directory, its lock held by a running server, a failed cut).
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("config: {0}")]
    Config(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The server could not start or failed while serving.
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    /// The expert router refused or failed (`route-eval`).
    #[error(transparent)]
    Router(#[from] waypoint_client::router::RouterError),
    /// A routing-set file that cannot be read (`route-eval`).
    #[error("{}: {reason}", path.display())]
    RoutingSet { path: PathBuf, reason: String },
    /// `route-eval --url` would reuse a collection it did not create.
    #[error("{url} already has a collection {collection}; route-eval only deletes what it creates, so pass another --library name (or delete that collection)")]
    LibraryExists { url: String, collection: String },
    /// `route-eval --base-model` that no expert has.
    #[error("no expert has base_model {base_model:?}; the experts file has {present}")]
    NoSuchBaseModel { base_model: String, present: String },
    /// `import` given a file it cannot stream.
    #[error("{}: import takes .fvecs, .bvecs or .npy vector files (float32, or uint8 converted to float32)", path.display())]
    ImportFormat { path: PathBuf },
    /// A `--payloads` file or line that cannot be read or used.
    #[error("{}: {reason}", path.display())]
    Payloads { path: PathBuf, reason: String },
    /// `--row` past the end of a vector file.
    #[error("{}: --row {row} is past the last row ({rows} rows, numbered from 0)", path.display())]
    NoSuchRow {
        path: PathBuf,
        row: usize,
        rows: usize,
    },
    /// A CA certificate file (`--ca-cert`) that cannot be read.
    #[error("{}: cannot read the CA certificate: {source}", path.display())]
    CaCert {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The server at `url` cannot be reached.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The server at `url` refused a request: its own message (which names
    /// what was wrong), then the gRPC code.
    #[error("{url}: {} ({:?})", status.message(), status.code())]
    Remote { url: String, status: tonic::Status },
    /// Standard output could not be written.
    #[error("cannot write to standard output: {0}")]
    Stdout(#[from] std::io::Error),
}

impl CliError {
    /// Whether this is a write to a closed pipe (`waypoint ... | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Stdout(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
