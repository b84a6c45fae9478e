//! `waypoint route-eval`: the GLIDER-style expert router on the shared
//! routing set (`routing_*` files: 197 experts, 721 keys, 610 queries,
//! all-MiniLM-L6-v2, 384-d). Registers the experts, routes every query with
//! both aggregations, exact and HNSW, on the embedded and the remote
//! backend, and prints top-1 / top-3 accuracy, how many queries give exactly
//! the stored brute-force top-3, and p50 / p99 route latency. With
//! `--synthetic N` it also times routing over N random experts × 4 keys.
//!
//! The remote backend talks to `--url`, or to a `waypoint serve` this
//! command starts itself over a temporary directory.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use waypoint_client::router::{
    Aggregation, Embedding, Expert, ExpertLibrary, LibrarySpec, RouteOptions,
};
use waypoint_client::{pb, Client};
use waypoint_datasets::eval::percentile_us;

use super::remote::RemoteArgs;
use super::CliError;

const MODEL: &str = "all-MiniLM-L6-v2";

#[derive(Debug, Args)]
pub(crate) struct RouteEvalArgs {
    /// Directory holding the routing_* files.
    #[arg(long, env = "WAYPOINT_SHARED_DATA")]
    data_dir: PathBuf,
    /// Server for the remote backend; without it a `waypoint serve` is
    /// started on 127.0.0.1 over a temporary directory.
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Skip the remote backend.
    #[arg(long)]
    embedded_only: bool,
    /// Also time routing on a synthetic library of this many experts × 4
    /// random keys (384-d), 200 random queries.
    #[arg(long)]
    synthetic: Option<usize>,
}

/// The routing set as stored.
struct RoutingSet {
    experts: Vec<(Expert, Vec<Vec<f32>>)>,
    queries: Vec<Vec<f32>>,
    truth: Vec<u64>,
    top3_max: Vec<Vec<u64>>,
    top3_mean: Vec<Vec<u64>>,
}

fn bad_file(path: &Path, reason: impl ToString) -> CliError {
    CliError::RoutingSet {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn ids(path: &Path) -> Result<Vec<Vec<u64>>, CliError> {
    let m = waypoint_datasets::read::<i32>(path)?;
    Ok(m.iter()
        .map(|row| row.iter().map(|&v| v as u64).collect())
        .collect())
}

fn rows(path: &Path) -> Result<Vec<Vec<f32>>, CliError> {
    Ok(waypoint_datasets::read_f32(path)?
        .iter()
        .map(<[f32]>::to_vec)
        .collect())
}

fn load(dir: &Path) -> Result<RoutingSet, CliError> {
    let path = dir.join("routing_experts.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| bad_file(&path, e))?;
    let keys = rows(&dir.join("routing_keys.fvecs"))?;
    let key_expert = ids(&dir.join("routing_keys_expert.ivecs"))?;
    let mut experts = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad_file(&path, e))?;
        let (Some(id), Some(task), Some(uri)) = (
            v["expert_id"].as_u64(),
            v["task"].as_str(),
            v["adapter_uri"].as_str(),
        ) else {
            return Err(bad_file(
                &path,
                "a record lacks expert_id, task or adapter_uri",
            ));
        };
        let own = keys
            .iter()
            .zip(&key_expert)
            .filter(|(_, e)| e[0] == id)
            .map(|(k, _)| k.clone())
            .collect();
        let expert = Expert::new(id, task)
            .with_adapter_uri(uri)
            .with_base_model("t5-xl-lm-adapt");
        experts.push((expert, own));
    }
    Ok(RoutingSet {
        experts,
        queries: rows(&dir.join("routing_queries.fvecs"))?,
        truth: ids(&dir.join("routing_queries_expert.ivecs"))?
            .into_iter()
            .map(|r| r[0])
            .collect(),
        top3_max: ids(&dir.join("routing_baseline_top3_max.ivecs"))?,
        top3_mean: ids(&dir.join("routing_baseline_top3_mean.ivecs"))?,
    })
}

/// A `waypoint serve` started by this command; killed when dropped.
struct OwnServer {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Result<(OwnServer, String), CliError> {
    let fail = |reason: String| CliError::Connect {
        url: "a server started by route-eval".into(),
        reason,
    };
    let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    let exe = std::env::current_exe().map_err(|e| fail(e.to_string()))?;
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--log",
            "warn",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| fail("no stdout".into()))?;
    let server = OwnServer { child, _dir: dir };
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(addr) = line.strip_prefix("listening on ") {
            return Ok((server, format!("http://{addr}")));
        }
    }
    Err(fail("the server exited before listening".into()))
}

/// One measured configuration.
struct Row {
    backend: &'static str,
    aggregation: Aggregation,
    exact: bool,
    accuracy: Option<(f64, f64, usize)>,
    p50_us: f64,
    p99_us: f64,
    queries: usize,
}

async fn measure(
    library: &ExpertLibrary,
    queries: &[Vec<f32>],
    options: &RouteOptions,
) -> Result<(Vec<Vec<u64>>, Vec<Duration>), CliError> {
    let mut routed = Vec::with_capacity(queries.len());
    let mut latencies = Vec::with_capacity(queries.len());
    for query in queries {
        let start = Instant::now();
        let answer = library.route(Embedding::new(MODEL, query), options).await?;
        latencies.push(start.elapsed());
        routed.push(answer.iter().map(|r| r.expert.id).collect());
    }
    latencies.sort_unstable();
    Ok((routed, latencies))
}

async fn evaluate(
    backend: &'static str,
    library: &ExpertLibrary,
    set: Option<&RoutingSet>,
    queries: &[Vec<f32>],
) -> Result<Vec<Row>, CliError> {
    let mut rows = Vec::new();
    for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
        for exact in [true, false] {
            let options = RouteOptions::default()
                .with_top_k(3)
                .with_aggregation(aggregation)
                .with_exact(exact);
            // One warm-up pass, then the measured one.
            measure(library, &queries[..queries.len().min(20)], &options).await?;
            let (routed, latencies) = measure(library, queries, &options).await?;
            let accuracy = set.map(|set| {
                let expected = match aggregation {
                    Aggregation::MaxOverKeys => &set.top3_max,
                    Aggregation::MeanOfKeys => &set.top3_mean,
                };
                let hit = |k: usize| {
                    routed
                        .iter()
                        .zip(&set.truth)
                        .filter(|(r, t)| r.iter().take(k).any(|id| id == *t))
                        .count() as f64
                        / routed.len() as f64
                };
                let same = routed.iter().zip(expected).filter(|(r, e)| r == e).count();
                (hit(1), hit(3), same)
            });
            rows.push(Row {
                backend,
                aggregation,
                exact,
                accuracy,
                p50_us: percentile_us(&latencies, 50.0),
                p99_us: percentile_us(&latencies, 99.0),
                queries: queries.len(),
            });
        }
    }
    Ok(rows)
}

fn print(out: &mut impl Write, title: &str, rows: &[Row]) -> Result<(), CliError> {
    writeln!(out, "{title}")?;
    writeln!(
        out,
        "{:<9} {:<12} {:<6} {:>7} {:>7} {:>13} {:>10} {:>10}",
        "backend", "aggregation", "mode", "top-1", "top-3", "=baseline", "p50 µs", "p99 µs"
    )?;
    for row in rows {
        let (top1, top3, same) = match row.accuracy {
            Some((a, b, s)) => (
                format!("{a:.4}"),
                format!("{b:.4}"),
                format!("{s}/{}", row.queries),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        writeln!(
            out,
            "{:<9} {:<12} {:<6} {top1:>7} {top3:>7} {same:>13} {:>10.1} {:>10.1}",
            row.backend,
            format!("{:?}", row.aggregation),
            if row.exact { "exact" } else { "hnsw" },
            row.p50_us,
            row.p99_us
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// `experts` random experts × 4 random 384-d keys.
fn synthetic(experts: usize, seed: u64) -> Vec<(Expert, Vec<Vec<f32>>)> {
    let dim = 384;
    let values = waypoint_datasets::synthetic::uniform_values(experts * 4 * dim, seed);
    (0..experts)
        .map(|e| {
            let keys = (0..4)
                .map(|j| values[(e * 4 + j) * dim..(e * 4 + j + 1) * dim].to_vec())
                .collect();
            (Expert::new(e as u64, format!("synthetic-{e}")), keys)
        })
        .collect()
}

async fn register(
    library: &mut ExpertLibrary,
    experts: &[(Expert, Vec<Vec<f32>>)],
) -> Result<(), CliError> {
    for chunk in experts.chunks(1000) {
        let batch = chunk
            .iter()
            .map(|(e, keys)| {
                (
                    e.clone(),
                    keys.iter().map(|k| Embedding::new(MODEL, k)).collect(),
                )
            })
            .collect();
        library.add_many(batch).await?;
    }
    Ok(())
}

async fn remote_library(client: &Client, name: &str) -> Result<ExpertLibrary, CliError> {
    // A library left by an interrupted run is replaced.
    for part in ["keys", "means", "meta"] {
        let _ = client
            .delete_collection(pb::DeleteCollectionRequest {
                name: format!("{name}-{part}"),
            })
            .await;
    }
    Ok(ExpertLibrary::create_remote(client.clone(), name, LibrarySpec::new(MODEL, 384)).await?)
}

async fn run_async(args: &RouteEvalArgs, out: &mut impl Write) -> Result<(), CliError> {
    let set = load(&args.data_dir)?;
    let (_server, url) = match (&args.url, args.embedded_only) {
        (_, true) => (None, None),
        (Some(url), false) => (None, Some(url.clone())),
        (None, false) => {
            let (server, url) = start_server()?;
            (Some(server), Some(url))
        }
    };
    let client = match &url {
        Some(url) => Some(args.remote.connect(url).await?),
        None => None,
    };

    let mut embedded = ExpertLibrary::in_memory(LibrarySpec::new(MODEL, 384))?;
    register(&mut embedded, &set.experts).await?;
    let mut rows = evaluate("embedded", &embedded, Some(&set), &set.queries).await?;
    if let Some(client) = &client {
        let mut remote = remote_library(client, "route-eval").await?;
        register(&mut remote, &set.experts).await?;
        rows.extend(evaluate("remote", &remote, Some(&set), &set.queries).await?);
    }
    print(
        out,
        &format!(
            "routing set: {} experts, {} queries, top_k = 3, 1 client thread{}",
            set.experts.len(),
            set.queries.len(),
            url.as_ref()
                .map(|u| format!(", server {u}"))
                .unwrap_or_default()
        ),
        &rows,
    )?;

    if let Some(n) = args.synthetic {
        let experts = synthetic(n, 11);
        let queries: Vec<Vec<f32>> = waypoint_datasets::synthetic::uniform_values(200 * 384, 12)
            .chunks_exact(384)
            .map(<[f32]>::to_vec)
            .collect();
        let mut embedded = ExpertLibrary::in_memory(LibrarySpec::new(MODEL, 384))?;
        register(&mut embedded, &experts).await?;
        let mut rows = evaluate("embedded", &embedded, None, &queries).await?;
        if let Some(client) = &client {
            let mut remote = remote_library(client, "route-eval-synthetic").await?;
            register(&mut remote, &experts).await?;
            rows.extend(evaluate("remote", &remote, None, &queries).await?);
        }
        print(
            out,
            &format!("synthetic: {n} experts × 4 keys, 384-d, 200 queries, top_k = 3"),
            &rows,
        )?;
    }
    Ok(())
}

pub(crate) fn run(args: RouteEvalArgs, out: &mut impl Write) -> Result<(), CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(run_async(&args, out))
}
