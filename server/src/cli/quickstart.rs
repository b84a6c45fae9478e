//! `waypoint quickstart`: build the bundled real sample (wordnet-10k) into
//! an index file in a temporary directory, search it through the mmap view,
//! and print recall@10 and QPS for a few `ef` values.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::Args;
use waypoint_datasets::read_f32;
use waypoint_datasets::sample::{bundled_data_dir, WORDNET_10K};
use waypoint_index::{Hnsw, HnswParams, HnswView};

use super::files::{read_ground_truth, read_queries};
use super::load::build;
use super::report::{self, OutputFormat};
use super::search::{sweep, threads_label};
use super::{thread_pool, CliError};

const K: usize = 10;
const EFS: [usize; 4] = [16, 32, 64, 128];

#[derive(Debug, Args)]
pub(crate) struct QuickstartArgs {
    /// Directory holding the wordnet-10k files [default: datasets/data in
    /// the source tree this binary was built from].
    /// (`WAYPOINT_DATA_DIR` is the server's collections directory, not this.)
    #[arg(long, env = "WAYPOINT_SAMPLE_DIR")]
    sample_dir: Option<PathBuf>,
    /// Build threads [default: all cores]. Searches run on one thread.
    #[arg(long)]
    threads: Option<NonZeroUsize>,
}

pub(crate) fn run(args: QuickstartArgs, out: &mut impl Write) -> Result<(), CliError> {
    let sample = WORDNET_10K;
    let dir = args.sample_dir.unwrap_or_else(bundled_data_dir);
    let base_path = sample.base_path(&dir);
    let query_path = sample.query_path(&dir);
    let gt_path = sample.groundtruth_path(&dir);

    if !base_path.is_file() {
        return Err(CliError::SampleMissing { path: base_path });
    }
    let base = read_f32(&base_path)?;
    let queries = read_queries(&query_path, &base_path, base.dim(), sample.metric)?;
    let gt = read_ground_truth(&gt_path, &query_path, queries.rows(), K)?;
    let pool = thread_pool(args.threads.map(NonZeroUsize::get))?;
    writeln!(
        out,
        "{}: {} base vectors × {} ({}), {} queries, from {}",
        sample.name,
        base.rows(),
        base.dim(),
        sample.metric,
        queries.rows(),
        dir.display()
    )?;
    out.flush()?;

    let params = HnswParams::default();
    let index = Hnsw::with_capacity(base.dim(), sample.metric, params, base.rows())?;
    let ids: Vec<u64> = (0..base.rows() as u64).collect();
    let build_time = build(&index, &base_path, &base, &ids, &pool)?;
    let tmp = tempfile::tempdir().map_err(|e| CliError::Unwritable {
        path: std::env::temp_dir(),
        reason: e.to_string(),
    })?;
    let path = tmp.path().join(format!("{}.wpi", sample.name));
    index.save(&path)?;
    let view = HnswView::open(&path)?;
    writeln!(
        out,
        "built in {:.2} s on {} threads (M {}, ef_construction {}); index file {:.1} MiB",
        build_time.as_secs_f64(),
        pool.current_num_threads(),
        params.m,
        params.ef_construction,
        view.file_size() as f64 / (1 << 20) as f64
    )?;
    writeln!(out, "searching k {K}, {}:", threads_label(1))?;
    let rows = sweep(&view, &queries, Some(&gt), K, &EFS, 1)?;
    out.write_all(report::render(OutputFormat::Table, K, 1, &rows).as_bytes())?;
    Ok(())
}
