//! The `waypoint` command line: arguments (clap derive) and dispatch to one
//! module per subcommand. Subcommands write their results to the `out` they
//! are given and return [`CliError`]; only `main` prints errors.

mod check;
mod collections;
mod error;
mod files;
mod filter;
mod gt;
mod import;
mod inspect;
mod load;
mod payload;
mod points;
mod quickstart;
mod records;
mod remote;
mod report;
mod route_eval;
mod routing_set;
mod search;
mod serve;

use std::io::Write;

use clap::{Parser, Subcommand};
use rayon::ThreadPool;
use waypoint_index::Metric;

pub use error::CliError;

/// Waypoint: HNSW approximate nearest-neighbour search.
#[derive(Debug, Parser)]
#[command(name = "waypoint", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build an HNSW index file from a vector file.
    Load(load::LoadArgs),
    /// Search an index file with a query file: recall@k, QPS, latency per ef.
    Search(search::SearchArgs),
    /// Compute exact ground truth (brute force) for a query file.
    Gt(gt::GtArgs),
    /// Print an index file's header, sections and level histogram.
    Inspect(inspect::InspectArgs),
    /// Run the gRPC server (collections with WAL, segments, payload filters).
    Serve(serve::ServeArgs),
    /// Stream a vector file into a running server.
    Import(import::ImportArgs),
    /// A running server's collections: list, get, create, delete.
    Collections(collections::CollectionsArgs),
    /// Search a running server's collection with vectors from a file.
    Query(points::QueryArgs),
    /// Count a running server's points (optionally those passing a filter).
    Count(points::CountArgs),
    /// Fetch points of a running server by id, with their payloads.
    Get(points::GetArgs),
    /// Delete points of a running server by id or by filter.
    Delete(points::DeleteArgs),
    /// Route a routing set (the bundled one by default) with the expert router: accuracy and latency.
    RouteEval(route_eval::RouteEvalArgs),
    /// Build and search the bundled real sample (wordnet-10k).
    Quickstart(quickstart::QuickstartArgs),
    /// Verify every file of a data directory (no server needed): each
    /// problem with its file and byte offset.
    Check(check::CheckArgs),
    /// Cut damaged WALs at their first bad record, keeping the cut-off
    /// bytes beside them (stop the server first).
    Repair(check::RepairArgs),
}

impl Cli {
    /// Runs the chosen subcommand, writing its results to `out`.
    ///
    /// # Errors
    /// Whatever the subcommand reports; see [`CliError`].
    pub fn run(self, out: &mut impl Write) -> Result<(), CliError> {
        match self.command {
            Command::Load(args) => load::run(args, out),
            Command::Search(args) => search::run(args, out),
            Command::Gt(args) => gt::run(args, out),
            Command::Inspect(args) => inspect::run(args, out),
            Command::Quickstart(args) => quickstart::run(args, out),
            Command::Serve(args) => serve::run(args, out),
            Command::Import(args) => import::run(args, out),
            Command::Collections(args) => collections::run(args, out),
            Command::Query(args) => points::query(args, out),
            Command::Count(args) => points::count(args, out),
            Command::Get(args) => points::get(args, out),
            Command::Delete(args) => points::delete(args, out),
            Command::RouteEval(args) => route_eval::run(args, out),
            Command::Check(args) => check::run_check(args, out),
            Command::Repair(args) => check::run_repair(args, out),
        }
    }
}

/// `--metric`: `l2` (squared Euclidean), `cosine` (1 − cos) or `ip`
/// (1 − dot), plus the engine's aliases (`euclidean`, `angular`, `dot`).
fn parse_metric(s: &str) -> Result<Metric, String> {
    s.parse().map_err(|e: waypoint_index::Error| e.to_string())
}

/// Most worker threads a command may start: far past any useful count, low
/// enough that a typo (`--threads 10000`) fails at once instead of
/// thrashing the machine.
const MAX_THREADS: usize = 1024;

/// A rayon pool of `threads` workers (`None`: one per core).
fn thread_pool(threads: Option<usize>) -> Result<ThreadPool, CliError> {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads > MAX_THREADS {
        return Err(CliError::TooManyThreads {
            threads,
            max: MAX_THREADS,
        });
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|source| CliError::ThreadPool { threads, source })
}
