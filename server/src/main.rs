//! The `waypoint` binary: run the gRPC server (`serve`), stream a file into
//! it (`import`), bulk-load vector files into HNSW index files,
//! search them (recall@k, QPS, latency), compute exact ground truth, inspect
//! and verify index files, and a one-command quickstart on the bundled
//! sample. Run `waypoint --help`.
//!
//! Results go to stdout, progress bars to stderr (only on a terminal), and
//! every failure to stderr as one line `error: <message>` with exit code 1
//! (usage errors keep clap's exit code 2).

use std::process::ExitCode;

use clap::Parser;
use waypoint_server::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    match cli.run(&mut stdout) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`waypoint ... | head`): not an error.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
