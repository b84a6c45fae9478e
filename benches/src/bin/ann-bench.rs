//! `ann-bench`: the recall/QPS sweep. Builds a Waypoint index from base
//! vectors, saves it, opens the file as an mmap view, and for each `ef`
//! measures recall@k, QPS and latency in the modes of `peers.py`: `single`
//! (one query per call on one thread, as ann-benchmarks measures) and
//! `batch` (all queries at once, on one thread and on all threads). Writes CSV (the schema of `peers.py`) and a PNG plot
//! that can include peers' CSVs.
//!
//! ```sh
//! cargo run --release -p waypoint-benches --bin ann-bench -- \
//!     --base base.fvecs --queries query.fvecs --gt groundtruth.ivecs --metric cosine \
//!     --ef 10,20,40,80,160,320 --csv out.csv --plot out.png --peers peers.csv
//! ```

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use waypoint_benches::plot::recall_qps_png;
use waypoint_benches::row::{read_points, write_csv, PlotPoint, Row};
use waypoint_benches::rss::peak_rss_bytes;
use waypoint_datasets::eval::{self, SweepRow};
use waypoint_datasets::{read, read_f32};
use waypoint_index::{Hnsw, HnswParams, HnswView, Metric, SearchParams};

#[derive(Debug, Parser)]
#[command(about = "Recall/QPS sweep of Waypoint's HNSW on TEXMEX or .npy files")]
struct Args {
    /// Base vectors (.fvecs, .bvecs or .npy).
    #[arg(long)]
    base: PathBuf,
    /// Query vectors.
    #[arg(long)]
    queries: PathBuf,
    /// Ground truth ids (.ivecs or int32 .npy), nearest first.
    #[arg(long)]
    gt: PathBuf,
    /// l2, cosine or ip.
    #[arg(long, default_value = "cosine")]
    metric: Metric,
    /// Links per node (M).
    #[arg(long, default_value = "16")]
    m: usize,
    /// ef_construction.
    #[arg(long, default_value = "200")]
    ef_construction: usize,
    /// ef values to sweep.
    #[arg(long, value_delimiter = ',', default_value = "10,20,40,80,160,320")]
    ef: Vec<usize>,
    /// Neighbours per query.
    #[arg(long, default_value = "10")]
    k: usize,
    /// Build and batch-search threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Rounds per mode; QPS is the median.
    #[arg(long, default_value = "3")]
    rounds: usize,
    /// Dataset name for the CSV (default: the base file's stem).
    #[arg(long)]
    dataset: Option<String>,
    /// Where to write the CSV.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Where to write the PNG plot.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Search the in-memory index instead of the saved file's mmap view.
    #[arg(long)]
    in_memory: bool,
    /// Further CSVs (peers, earlier runs) to draw on the same plot.
    #[arg(long)]
    peers: Vec<PathBuf>,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let threads = args
        .threads
        .unwrap_or_else(rayon::current_num_threads)
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    let base = read_f32(&args.base).map_err(|e| e.to_string())?;
    let queries = read_f32(&args.queries).map_err(|e| e.to_string())?;
    let gt = read::<i32>(&args.gt).map_err(|e| e.to_string())?;
    if gt.rows() != queries.rows() || gt.dim() < args.k {
        return Err(format!(
            "{}: {} rows of {} ids, need {} rows of at least k = {}",
            args.gt.display(),
            gt.rows(),
            gt.dim(),
            queries.rows(),
            args.k
        ));
    }
    let dataset = args.dataset.clone().unwrap_or_else(|| {
        let stem = args.base.file_stem().unwrap_or_default().to_string_lossy();
        stem.trim_end_matches("_base").to_string()
    });
    let (n, dim) = (base.rows(), base.dim());
    eprintln!(
        "{dataset}: {n} × {dim}, {} queries, {}, M {}, ef_construction {}, {threads} threads",
        queries.rows(),
        args.metric,
        args.m,
        args.ef_construction
    );

    let params = HnswParams::default()
        .with_m(args.m)
        .with_ef_construction(args.ef_construction);
    let ids: Vec<u64> = (0..n as u64).collect();
    let start = Instant::now();
    let index = pool
        .install(|| Hnsw::build(dim, args.metric, params, &ids, base.as_slice()))
        .map_err(|e| e.to_string())?;
    let build_s = start.elapsed().as_secs_f64();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("index.wpi");
    index.save(&path).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let view = HnswView::open(&path).map_err(|e| e.to_string())?;
    let open_ms = start.elapsed().as_secs_f64() * 1e3;
    let index_bytes = view.file_size();
    eprintln!("build {build_s:.2} s, file {index_bytes} bytes, mmap open {open_ms:.1} ms");

    let search = |q: &[f32], k, ef| {
        let params = SearchParams::default().with_ef(ef);
        if args.in_memory {
            index.search(q, k, &params)
        } else {
            view.search(q, k, &params)
        }
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| e.to_string())?;
    let mut modes = vec![("single", None, 1), ("batch", Some(&one), 1)];
    if threads > 1 {
        modes.push(("batch", Some(&pool), threads));
    }
    let mut rows = Vec::new();
    for (mode, mode_pool, mode_threads) in modes {
        let rounds: Vec<Vec<SweepRow>> = (0..args.rounds.max(1))
            .map(|_| eval::sweep(search, &queries, Some(&gt), args.k, &args.ef, mode_pool))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        for (i, &ef) in args.ef.iter().enumerate() {
            let mut at_ef: Vec<SweepRow> = rounds.iter().map(|r| r[i]).collect();
            at_ef.sort_by(|a, b| a.qps.total_cmp(&b.qps));
            let median = at_ef[at_ef.len() / 2];
            let row = Row {
                lib: if args.in_memory {
                    "waypoint-mem"
                } else {
                    "waypoint"
                }
                .into(),
                m: args.m,
                efc: args.ef_construction,
                efs: ef,
                threads: mode_threads,
                mode: mode.into(),
                recall: median.recall.unwrap_or(0.0),
                qps: median.qps,
                p50_us: Some(median.p50_us),
                p99_us: Some(median.p99_us),
                build_s,
                index_bytes,
                peak_rss_bytes: peak_rss_bytes(),
                k: args.k,
                metric: args.metric.to_string(),
                dataset: dataset.clone(),
                n,
                dim,
                nq: queries.rows(),
                version: env!("CARGO_PKG_VERSION").into(),
            };
            println!(
                "{:<6} t{:<2} ef {:>4}  recall@{} {:.4}  QPS {:>9.0}  p50 {:>7.1} µs  p99 {:>7.1} µs",
                row.mode, row.threads, ef, args.k, row.recall, row.qps, median.p50_us, median.p99_us
            );
            rows.push(row);
        }
    }
    if let Some(csv) = &args.csv {
        write_csv(csv, &rows)?;
    }
    if let Some(png) = &args.plot {
        let mut points: Vec<PlotPoint> = rows.iter().map(PlotPoint::from).collect();
        for peer in &args.peers {
            points.extend(read_points(peer)?);
        }
        let title = format!(
            "{dataset}: M {}, ef_construction {}, k {}",
            args.m, args.ef_construction, args.k
        );
        recall_qps_png(png, &title, &points)?;
    }
    Ok(())
}
