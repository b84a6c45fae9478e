//! `grpc-load`: N concurrent clients against a running `waypoint serve`,
//! bounded by a request count and a time limit, reporting QPS and latency
//! percentiles (p50 / p99 / p99.9) for search or for upsert.
//!
//! It only talks to loopback addresses: it is a local benchmark, never a
//! load test of somebody else's host.
//!
//! ```sh
//! waypoint serve --data-dir /tmp/wp --addr 127.0.0.1:6543 &
//! waypoint import base.fvecs --url http://127.0.0.1:6543 --collection bench --create --metric cosine
//! cargo run --release -p waypoint-benches --bin grpc-load -- --url http://127.0.0.1:6543 \
//!     --collection bench --queries query.fvecs --clients 8 --requests 20000 --seconds 30
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use waypoint_datasets::eval::percentile_us;
use waypoint_datasets::read_f32;
use waypoint_proto::v1::points_client::PointsClient;
use waypoint_proto::v1::{Point, SearchRequest, UpsertRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// One `Search` per request.
    Search,
    /// One `Upsert` of `--batch` points per request (ids from `--first-id`).
    Upsert,
}

#[derive(Debug, Parser)]
#[command(about = "Concurrent gRPC load against a local waypoint server")]
struct Args {
    /// Server URL; must be a loopback address (127.0.0.0/8, localhost, `[::1]`).
    #[arg(long)]
    url: String,
    /// Collection to search or write.
    #[arg(long)]
    collection: String,
    /// Vectors to send (.fvecs/.bvecs/.npy): queries, or points to upsert.
    #[arg(long)]
    queries: PathBuf,
    /// What each request does.
    #[arg(long, value_enum, default_value_t = Workload::Search)]
    workload: Workload,
    /// Concurrent clients, each with its own connection.
    #[arg(long, default_value = "8")]
    clients: usize,
    /// Stop after this many requests in total.
    #[arg(long, default_value = "10000")]
    requests: u64,
    /// Stop after this many seconds, whatever the count.
    #[arg(long, default_value = "30")]
    seconds: u64,
    /// Neighbours per search.
    #[arg(long, default_value = "10")]
    k: u32,
    /// Search ef (0: the collection default).
    #[arg(long, default_value = "64")]
    ef: u32,
    /// Points per upsert request.
    #[arg(long, default_value = "100")]
    batch: usize,
    /// First point id written by the upsert workload.
    #[arg(long, default_value = "1000000000")]
    first_id: u64,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let result = runtime
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(run(args)));
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Whether `url` names this machine.
fn is_loopback(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn run(args: Args) -> Result<(), String> {
    if !is_loopback(&args.url) {
        return Err(format!(
            "{} is not a loopback address; grpc-load only targets this machine",
            args.url
        ));
    }
    if args.clients == 0 || args.batch == 0 {
        return Err("--clients and --batch must be at least 1".into());
    }
    let vectors = read_f32(&args.queries).map_err(|e| e.to_string())?;
    let rows: Arc<Vec<Vec<f32>>> = Arc::new(vectors.iter().map(<[f32]>::to_vec).collect());
    if rows.is_empty() {
        return Err(format!("{}: no vectors", args.queries.display()));
    }
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let args = Arc::new(args);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let mut client = PointsClient::connect(args.url.clone())
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", args.url))?
            .max_decoding_message_size(64 << 20);
        let (rows, issued, args) = (Arc::clone(&rows), Arc::clone(&issued), Arc::clone(&args));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= args.requests || Instant::now() >= deadline {
                    return Ok::<_, String>(latencies);
                }
                let t = Instant::now();
                match args.workload {
                    Workload::Search => {
                        let vector = rows[n as usize % rows.len()].clone();
                        let request = SearchRequest {
                            collection: args.collection.clone(),
                            vector,
                            k: args.k,
                            ef: args.ef,
                            ..Default::default()
                        };
                        client
                            .search(request)
                            .await
                            .map_err(|s| s.message().to_string())?;
                    }
                    Workload::Upsert => {
                        let points = (0..args.batch)
                            .map(|i| {
                                let row = (n as usize * args.batch + i) % rows.len();
                                Point {
                                    id: args.first_id + n * args.batch as u64 + i as u64,
                                    vector: rows[row].clone(),
                                    payload: None,
                                }
                            })
                            .collect();
                        let request = UpsertRequest {
                            collection: args.collection.clone(),
                            points,
                        };
                        client
                            .upsert(request)
                            .await
                            .map_err(|s| s.message().to_string())?;
                    }
                }
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.map_err(|e| e.to_string())??);
    }
    let wall = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let per_request = match args.workload {
        Workload::Search => 1,
        Workload::Upsert => args.batch,
    };
    println!(
        "{:?}: {} clients, {} requests in {wall:.2} s: {:.0} requests/s ({:.0} points/s); latency p50 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs",
        args.workload,
        args.clients,
        latencies.len(),
        latencies.len() as f64 / wall,
        (latencies.len() * per_request) as f64 / wall,
        percentile_us(&latencies, 50.0),
        percentile_us(&latencies, 99.0),
        percentile_us(&latencies, 99.9),
    );
    Ok(())
}
