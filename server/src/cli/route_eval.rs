//! `waypoint route-eval`: the GLIDER-style expert router on a routing set
//! (by default the bundled one, `datasets/data/routing_*`: 197 experts, 721
//! keys, 610 queries, all-MiniLM-L6-v2, 384-d). Registers the experts,
//! routes every query with both aggregations, exact, HNSW and the router's
//! own choice between them (`auto`), on the
//! embedded and the remote backend, and prints top-1 / top-3 accuracy, how
//! many queries give exactly the stored brute-force top-3 and exactly the
//! exact route's top-3, and p50 / p99 route latency. With `--synthetic N`
//! it also times routing over N random experts × 4 keys.
//!
//! The remote backend talks to `--url`, or to a `waypoint serve` this
//! command starts itself over a temporary directory. On `--url` it creates
//! the library `--library` (collections NAME-keys, NAME-means, NAME-meta,
//! which must not exist yet) and deletes it again when it ends.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use waypoint_client::router::{
    Aggregation, Embedding, Expert, ExpertFilter, ExpertLibrary, LibrarySpec, RouteOptions,
};
use waypoint_client::{pb, Client};
use waypoint_datasets::eval::percentile_us;
use waypoint_datasets::sample::bundled_data_dir;

use super::remote::{self, RemoteArgs};
use super::routing_set::{self, RoutingSet};
use super::CliError;

#[derive(Debug, Args)]
pub(crate) struct RouteEvalArgs {
    /// Directory holding the routing set [default: datasets/data in the
    /// source tree this binary was built from, where it is bundled].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// File name prefix of the set: PREFIX.json (with "model" and "dim"),
    /// PREFIX_experts.jsonl, PREFIX_keys.fvecs, PREFIX_keys_expert.ivecs,
    /// PREFIX_queries.fvecs, PREFIX_queries_expert.ivecs and, if present,
    /// PREFIX_baseline_top3_{max,mean}.ivecs.
    #[arg(long, default_value = "routing")]
    prefix: String,
    /// Route only among experts whose `base_model` (a field of the experts
    /// file) is this; accuracy is then over the queries of those experts.
    #[arg(long)]
    base_model: Option<String>,
    /// Server for the remote backend; without it a `waypoint serve` is
    /// started on 127.0.0.1 over a temporary directory.
    #[arg(long)]
    url: Option<String>,
    /// Name of the router library this run creates on the server
    /// (collections NAME-keys, NAME-means, NAME-meta, and NAME-synthetic-*
    /// with --synthetic). They must not exist yet; they are deleted when
    /// the run ends.
    #[arg(long, default_value = "route-eval")]
    library: String,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Skip the remote backend.
    #[arg(long)]
    embedded_only: bool,
    /// Also time routing on a synthetic library of this many experts × 4
    /// random keys (of the set's dimension), 200 random queries.
    #[arg(long)]
    synthetic: Option<usize>,
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

/// Per query, a list of expert ids, best first.
type TopLists = Vec<Vec<u64>>;

/// The queries one table routes, and what their answers are scored against.
struct Eval {
    model: String,
    filter: ExpertFilter,
    queries: Vec<Vec<f32>>,
    /// The true expert of each query (the routing set; not synthetic).
    truth: Option<Vec<u64>>,
    /// The stored brute-force top-3 per aggregation (max, mean), when
    /// present and routing is unfiltered.
    baselines: Option<(TopLists, TopLists)>,
}

/// One measured configuration.
struct Row {
    backend: &'static str,
    aggregation: Aggregation,
    /// Forced exact, forced HNSW, or the router's choice (`None`).
    exact: Option<bool>,
    /// Top-1 and top-3 accuracy.
    accuracy: Option<(f64, f64)>,
    /// Queries whose top-3 is exactly the stored baseline's.
    same_as_baseline: Option<usize>,
    /// Queries whose top-3 is exactly the exact route's (HNSW rows).
    same_as_exact: Option<usize>,
    p50_us: f64,
    p99_us: f64,
    queries: usize,
}

async fn measure(
    library: &ExpertLibrary,
    eval: &Eval,
    queries: &[Vec<f32>],
    options: &RouteOptions,
) -> Result<(Vec<Vec<u64>>, Vec<Duration>), CliError> {
    let mut routed = Vec::with_capacity(queries.len());
    let mut latencies = Vec::with_capacity(queries.len());
    for query in queries {
        let start = Instant::now();
        let answer = library
            .route(Embedding::new(&eval.model, query), options)
            .await?;
        latencies.push(start.elapsed());
        routed.push(answer.iter().map(|r| r.expert.id).collect());
    }
    latencies.sort_unstable();
    Ok((routed, latencies))
}

/// Queries whose routed list equals `expected`'s.
fn same(routed: &[Vec<u64>], expected: &[Vec<u64>]) -> usize {
    routed.iter().zip(expected).filter(|(r, e)| r == e).count()
}

async fn evaluate(
    backend: &'static str,
    library: &ExpertLibrary,
    eval: &Eval,
) -> Result<Vec<Row>, CliError> {
    let queries = &eval.queries;
    let mut rows = Vec::new();
    for aggregation in [Aggregation::MaxOverKeys, Aggregation::MeanOfKeys] {
        let mut exact_answers = Vec::new();
        for exact in [Some(true), Some(false), None] {
            let mut options = RouteOptions::default()
                .with_top_k(3)
                .with_aggregation(aggregation)
                .with_filter(eval.filter.clone());
            options.exact = exact;
            // One warm-up pass, then the measured one.
            measure(library, eval, &queries[..queries.len().min(20)], &options).await?;
            let (routed, latencies) = measure(library, eval, queries, &options).await?;
            let accuracy = eval.truth.as_ref().map(|truth| {
                let hit = |k: usize| {
                    routed
                        .iter()
                        .zip(truth)
                        .filter(|(r, t)| r.iter().take(k).any(|id| id == *t))
                        .count() as f64
                        / routed.len().max(1) as f64
                };
                (hit(1), hit(3))
            });
            let same_as_baseline = eval
                .baselines
                .as_ref()
                .map(|(max, mean)| match aggregation {
                    Aggregation::MaxOverKeys => same(&routed, max),
                    Aggregation::MeanOfKeys => same(&routed, mean),
                });
            let same_as_exact = (exact != Some(true)).then(|| same(&routed, &exact_answers));
            rows.push(Row {
                backend,
                aggregation,
                exact,
                accuracy,
                same_as_baseline,
                same_as_exact,
                p50_us: percentile_us(&latencies, 50.0),
                p99_us: percentile_us(&latencies, 99.0),
                queries: queries.len(),
            });
            if exact == Some(true) {
                exact_answers = routed;
            }
        }
    }
    Ok(rows)
}

fn print(out: &mut impl Write, title: &str, rows: &[Row]) -> Result<(), CliError> {
    writeln!(out, "{title}")?;
    writeln!(
        out,
        "{:<9} {:<12} {:<6} {:>7} {:>7} {:>10} {:>10} {:>10} {:>10}",
        "backend",
        "aggregation",
        "mode",
        "top-1",
        "top-3",
        "=baseline",
        "=exact",
        "p50 µs",
        "p99 µs"
    )?;
    for row in rows {
        let (top1, top3) = match row.accuracy {
            Some((a, b)) => (format!("{a:.4}"), format!("{b:.4}")),
            None => ("-".into(), "-".into()),
        };
        let of_all = |n: Option<usize>| n.map_or("-".into(), |n| format!("{n}/{}", row.queries));
        writeln!(
            out,
            "{:<9} {:<12} {:<6} {top1:>7} {top3:>7} {:>10} {:>10} {:>10.1} {:>10.1}",
            row.backend,
            format!("{:?}", row.aggregation),
            match row.exact {
                Some(true) => "exact",
                Some(false) => "hnsw",
                None => "auto",
            },
            of_all(row.same_as_baseline),
            of_all(row.same_as_exact),
            row.p50_us,
            row.p99_us
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// `experts` random experts × 4 random `dim`-d keys.
fn synthetic(experts: usize, dim: usize, seed: u64) -> Vec<(Expert, Vec<Vec<f32>>)> {
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
    model: &str,
    experts: &[(Expert, Vec<Vec<f32>>)],
) -> Result<(), CliError> {
    for chunk in experts.chunks(1000) {
        let batch = chunk
            .iter()
            .map(|(e, keys)| {
                (
                    e.clone(),
                    keys.iter().map(|k| Embedding::new(model, k)).collect(),
                )
            })
            .collect();
        library.add_many(batch).await?;
    }
    Ok(())
}

/// The collections of the remote library `name`.
fn library_collections(name: &str) -> [String; 3] {
    ["keys", "means", "meta"].map(|part| format!("{name}-{part}"))
}

/// The server side of a run: the client, and the libraries this run made
/// (deleted again by [`RemoteRun::clean_up`]).
struct RemoteRun {
    url: String,
    client: Client,
    created: Vec<String>,
}

impl RemoteRun {
    /// Creates the library `name`, refusing to touch collections that
    /// already exist.
    async fn create(&mut self, name: &str, spec: LibrarySpec) -> Result<ExpertLibrary, CliError> {
        let existing = self
            .client
            .list_collections()
            .await
            .map_err(|e| remote::failed(&self.url, e))?;
        let wanted = library_collections(name);
        let names = existing
            .collections
            .iter()
            .filter_map(|c| c.config.as_ref());
        if let Some(taken) = names.map(|c| &c.name).find(|n| wanted.contains(n)) {
            return Err(CliError::LibraryExists {
                url: self.url.clone(),
                collection: taken.clone(),
            });
        }
        self.created.push(name.to_string());
        Ok(ExpertLibrary::create_remote(self.client.clone(), name, spec).await?)
    }

    /// Deletes every collection of the libraries this run created.
    async fn clean_up(&self) -> Result<(), CliError> {
        for name in self.created.iter().flat_map(|n| library_collections(n)) {
            let deleted = self
                .client
                .delete_collection(pb::DeleteCollectionRequest { name })
                .await;
            match deleted {
                Ok(_) => {}
                Err(e) if e.code() == tonic::Code::NotFound => {}
                Err(e) => return Err(remote::failed(&self.url, e)),
            }
        }
        Ok(())
    }
}

/// The routing set's queries and answers, restricted to the experts that
/// pass `--base-model`.
fn routing_eval(args: &RouteEvalArgs, set: &RoutingSet) -> Result<Eval, CliError> {
    let Some(model) = &args.base_model else {
        return Ok(Eval {
            model: set.model.clone(),
            filter: ExpertFilter::default(),
            queries: set.queries.clone(),
            truth: Some(set.truth.clone()),
            baselines: set.top3_max.clone().zip(set.top3_mean.clone()),
        });
    };
    let filter = ExpertFilter::base_model(model.clone());
    let kept: std::collections::HashSet<u64> = set
        .experts
        .iter()
        .filter(|(e, _)| filter.matches(e))
        .map(|(e, _)| e.id)
        .collect();
    if kept.is_empty() {
        let mut present: Vec<&str> = set
            .experts
            .iter()
            .map(|(e, _)| e.base_model.as_str())
            .collect();
        present.sort_unstable();
        present.dedup();
        return Err(CliError::NoSuchBaseModel {
            base_model: model.clone(),
            present: present
                .iter()
                .map(|m| format!("{m:?}"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let (queries, truth) = set
        .queries
        .iter()
        .zip(&set.truth)
        .filter(|(_, t)| kept.contains(t))
        .map(|(q, t)| (q.clone(), *t))
        .unzip();
    Ok(Eval {
        model: set.model.clone(),
        filter,
        queries,
        truth: Some(truth),
        baselines: None,
    })
}

async fn run_async(args: &RouteEvalArgs, out: &mut impl Write) -> Result<(), CliError> {
    let dir = args.data_dir.clone().unwrap_or_else(bundled_data_dir);
    let set = routing_set::load(&dir, &args.prefix)?;
    let eval = routing_eval(args, &set)?;
    let (_server, url) = match (&args.url, args.embedded_only) {
        (_, true) => (None, None),
        (Some(url), false) => (None, Some(url.clone())),
        (None, false) => {
            let (server, url) = start_server()?;
            (Some(server), Some(url))
        }
    };
    let mut remote = match &url {
        Some(url) => Some(RemoteRun {
            url: url.clone(),
            client: args.remote.connect(url).await?,
            created: Vec::new(),
        }),
        None => None,
    };
    let outcome = evaluate_all(args, &set, &eval, remote.as_mut(), out).await;
    if let Some(remote) = &remote {
        remote.clean_up().await?;
    }
    outcome
}

async fn evaluate_all(
    args: &RouteEvalArgs,
    set: &RoutingSet,
    eval: &Eval,
    mut remote: Option<&mut RemoteRun>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let spec = LibrarySpec::new(set.model.clone(), set.dim);
    let mut embedded = ExpertLibrary::in_memory(spec.clone())?;
    register(&mut embedded, &set.model, &set.experts).await?;
    let mut rows = evaluate("embedded", &embedded, eval).await?;
    if let Some(remote) = remote.as_deref_mut() {
        let mut library = remote.create(&args.library, spec.clone()).await?;
        register(&mut library, &set.model, &set.experts).await?;
        rows.extend(evaluate("remote", &library, eval).await?);
    }
    let filtered = args
        .base_model
        .as_ref()
        .map(|m| format!(", base_model {m}"))
        .unwrap_or_default();
    print(
        out,
        &format!(
            "{}/{}_*: {} experts, {} queries{filtered}, {} ({}-d), top_k = 3, 1 client thread{}",
            args.data_dir
                .clone()
                .unwrap_or_else(bundled_data_dir)
                .display(),
            args.prefix,
            set.experts
                .iter()
                .filter(|(e, _)| eval.filter.matches(e))
                .count(),
            eval.queries.len(),
            set.model,
            set.dim,
            remote
                .as_ref()
                .map(|r| format!(", server {}", r.url))
                .unwrap_or_default()
        ),
        &rows,
    )?;

    if let Some(n) = args.synthetic {
        let dim = set.dim;
        let experts = synthetic(n, dim, 11);
        let synthetic_eval = Eval {
            model: set.model.clone(),
            filter: ExpertFilter::default(),
            queries: waypoint_datasets::synthetic::uniform_values(200 * dim, 12)
                .chunks_exact(dim)
                .map(<[f32]>::to_vec)
                .collect(),
            truth: None,
            baselines: None,
        };
        let mut embedded = ExpertLibrary::in_memory(spec.clone())?;
        register(&mut embedded, &set.model, &experts).await?;
        let mut rows = evaluate("embedded", &embedded, &synthetic_eval).await?;
        if let Some(remote) = remote {
            let name = format!("{}-synthetic", args.library);
            let mut library = remote.create(&name, spec.clone()).await?;
            register(&mut library, &set.model, &experts).await?;
            rows.extend(evaluate("remote", &library, &synthetic_eval).await?);
        }
        print(
            out,
            &format!("synthetic: {n} experts × 4 keys, {dim}-d, 200 queries, top_k = 3"),
            &rows,
        )?;
    }
    Ok(())
}

pub(crate) fn run(args: RouteEvalArgs, out: &mut impl Write) -> Result<(), CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(run_async(&args, out))
}
