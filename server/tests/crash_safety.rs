//! Crash safety through the real server: a client drives a random mix of
//! upsert batches, deletes by id and deletes by filter (small segments, so
//! seals are frequent) while the server is `kill -9`ed at a random moment;
//! then the server is restarted on the same data directory and checked:
//! - it starts, and the collection opens;
//! - every acknowledged write is there at its acknowledged version (each
//!   point's vector and payload are derived from `(id, version)`), every
//!   acknowledged delete is absent;
//! - the one operation in flight at the kill is all-or-nothing;
//! - the count matches, and an exact search for each point's own vector
//!   finds it first (the graph search finds nearly all: see `MIN_RECALL`).
//!
//! State carries over: one data directory and one model for all
//! iterations. `WAYPOINT_CRASH_ITERATIONS` (default 20) sets the number of
//! kills, `WAYPOINT_CRASH_SEED` replays a run (the seed is printed; it fixes
//! the operations and the kill delays, the exact kill point also depends
//! on the machine's speed).

mod grpc_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grpc_support::{integer, keyword, random_f32, Server};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use waypoint_client::{pb, Client, ClientError};

const COLLECTION: &str = "crash";
const DIM: usize = 8;
/// Ids are drawn from `0..IDS`, so points are replaced and deleted often.
const IDS: u64 = 400;
/// Small segments: a seal every few upserts.
const SEGMENT_MAX_POINTS: u64 = 64;
/// Largest upsert or delete batch.
const MAX_BATCH: usize = 24;
/// Delete-by-filter targets one of this many groups (`id % GROUPS`).
const GROUPS: u64 = 16;
/// The kill comes this long (uniform, ms) after the writer starts.
const MAX_KILL_DELAY_MS: u64 = 300;
/// Share of points a graph search (ef 64, k 10) must find by their own
/// vector; the exact search must find every one.
const MIN_RECALL: f64 = 0.99;

/// Live points of the model: id → version.
type Model = BTreeMap<u64, u64>;

/// One write of the harness.
#[derive(Debug, Clone)]
enum Op {
    /// Upsert `ids` (distinct), every point at `version`.
    Upsert { ids: Vec<u64>, version: u64 },
    /// Delete these ids (present or not).
    DeleteIds(Vec<u64>),
    /// Delete every point of group `g` (payload `g = "g<id % GROUPS>"`).
    DeleteGroup(u64),
}

fn vector(id: u64, version: u64) -> Vec<f32> {
    random_f32(DIM, (version << 20) | id)
}

fn group(id: u64) -> String {
    format!("g{}", id % GROUPS)
}

fn point(id: u64, version: u64) -> pb::Point {
    pb::Point {
        id,
        vector: vector(id, version),
        payload: Some(pb::Payload {
            fields: [
                ("v".to_string(), integer(version as i64)),
                ("g".to_string(), keyword(&group(id))),
            ]
            .into(),
        }),
    }
}

impl Op {
    fn random(rng: &mut StdRng, version: u64) -> Op {
        let n = rng.random_range(1..=MAX_BATCH);
        let mut ids: Vec<u64> = (0..n).map(|_| rng.random_range(0..IDS)).collect();
        ids.sort_unstable();
        ids.dedup();
        match rng.random_range(0..100) {
            0..60 => Op::Upsert { ids, version },
            60..95 => Op::DeleteIds(ids),
            _ => Op::DeleteGroup(rng.random_range(0..GROUPS)),
        }
    }

    /// The ids whose state this op changes, given the model before it.
    fn touched(&self, model: &Model) -> Vec<u64> {
        match self {
            Op::Upsert { ids, .. } => ids.clone(),
            Op::DeleteIds(ids) => ids
                .iter()
                .copied()
                .filter(|id| model.contains_key(id))
                .collect(),
            Op::DeleteGroup(g) => model
                .keys()
                .copied()
                .filter(|id| id % GROUPS == *g)
                .collect(),
        }
    }

    fn apply(&self, model: &mut Model) {
        match self {
            Op::Upsert { ids, version } => {
                for &id in ids {
                    model.insert(id, *version);
                }
            }
            Op::DeleteIds(_) | Op::DeleteGroup(_) => {
                for id in self.touched(model) {
                    model.remove(&id);
                }
            }
        }
    }

    /// Sends the op; returns how many points the server says it upserted
    /// or deleted.
    async fn send(&self, client: &Client) -> Result<u64, ClientError> {
        let delete = |selector| pb::DeletePointsRequest {
            collection: COLLECTION.into(),
            selector: Some(selector),
        };
        Ok(match self {
            Op::Upsert { ids, version } => {
                client
                    .upsert(pb::UpsertRequest {
                        collection: COLLECTION.into(),
                        points: ids.iter().map(|&id| point(id, *version)).collect(),
                    })
                    .await?
                    .upserted
            }
            Op::DeleteIds(ids) => {
                use pb::delete_points_request::Selector;
                let ids = Selector::Ids(pb::PointIds { ids: ids.clone() });
                client.delete_points(delete(ids)).await?.deleted
            }
            Op::DeleteGroup(g) => {
                use pb::delete_points_request::Selector;
                let filter = Selector::Filter(pb::Filter {
                    must: vec![grpc_support::match_keyword("g", &format!("g{g}"))],
                    ..Default::default()
                });
                client.delete_points(delete(filter)).await?.deleted
            }
        })
    }
}

/// What the writer leaves when the server dies under it.
struct Driven {
    model: Model,
    rng: StdRng,
    next_version: u64,
    /// Operations acknowledged in this iteration.
    acked: u64,
    /// The operation that got no answer (the one in flight at the kill).
    in_flight: Op,
}

/// Sends random operations until one fails, which must be after `killed`
/// was set; keeps `model` equal to the acknowledged writes.
async fn drive(
    client: Client,
    mut model: Model,
    mut rng: StdRng,
    mut next_version: u64,
    killed: Arc<AtomicBool>,
) -> Driven {
    let mut acked = 0;
    loop {
        let op = Op::random(&mut rng, next_version);
        next_version += 1;
        match op.send(&client).await {
            Ok(changed) => {
                let expected = match &op {
                    Op::Upsert { ids, .. } => ids.len(),
                    _ => op.touched(&model).len(),
                };
                assert_eq!(
                    changed, expected as u64,
                    "{op:?}: the server counted {changed} points, the model {expected}"
                );
                op.apply(&mut model);
                acked += 1;
            }
            Err(e) => {
                assert!(
                    killed.load(Ordering::SeqCst),
                    "{op:?} failed while the server was up: {e}"
                );
                return Driven {
                    model,
                    rng,
                    next_version,
                    acked,
                    in_flight: op,
                };
            }
        }
    }
}

/// Reads every id back and checks it against `model` with `in_flight`
/// either wholly applied or wholly not; returns the model that matched.
async fn check_points(client: &Client, model: &Model, in_flight: &Op, label: &str) -> Model {
    let all = client
        .get_points(pb::GetPointsRequest {
            collection: COLLECTION.into(),
            ids: (0..IDS).collect(),
            with_vectors: true,
            with_payload: true,
        })
        .await
        .unwrap_or_else(|e| panic!("{label}: get failed: {e}"))
        .points;
    let mut observed = Model::new();
    for p in all {
        let payload = p.payload.expect("payload asked for").fields;
        let Some(pb::value::Kind::Integer(version)) = payload["v"].kind else {
            panic!("{label}: id {} has no integer version: {payload:?}", p.id);
        };
        let version = version as u64;
        assert_eq!(payload["g"], keyword(&group(p.id)), "{label}: id {}", p.id);
        assert_eq!(
            p.vector.expect("vector asked for").values,
            vector(p.id, version),
            "{label}: id {} carries another vector than its version {version}",
            p.id
        );
        assert!(
            observed.insert(p.id, version).is_none(),
            "{label}: id {} twice",
            p.id
        );
    }
    let touched = in_flight.touched(model);
    for id in 0..IDS {
        if !touched.contains(&id) {
            assert_eq!(
                observed.get(&id),
                model.get(&id),
                "{label}: id {id} (not in the op in flight) differs from the acknowledged state"
            );
        }
    }
    let mut applied = model.clone();
    in_flight.apply(&mut applied);
    let matches = |m: &Model| touched.iter().all(|id| observed.get(id) == m.get(id));
    if matches(&applied) {
        applied
    } else {
        let partial: Vec<_> = touched
            .iter()
            .map(|id| (id, model.get(id), applied.get(id), observed.get(id)))
            .collect();
        assert!(
            matches(model),
            "{label}: the op in flight {in_flight:?} is half-applied; (id, before, after, observed): {partial:?}"
        );
        model.clone()
    }
}

/// Count, and a search for every point's own vector: exact must find it
/// first at distance 0; the graph must find at least `MIN_RECALL` of them.
/// Every result list is sorted and free of repeats.
async fn check_search(client: &Client, model: &Model, label: &str) {
    let count = client
        .count(pb::CountRequest {
            collection: COLLECTION.into(),
            filter: None,
        })
        .await
        .unwrap()
        .count;
    assert_eq!(count, model.len() as u64, "{label}: count");
    let points: Vec<(u64, u64)> = model.iter().map(|(&id, &v)| (id, v)).collect();
    let mut graph_found = 0;
    for chunk in points.chunks(100) {
        for exact in [true, false] {
            let searches = chunk
                .iter()
                .map(|&(id, version)| pb::SearchRequest {
                    collection: COLLECTION.into(),
                    vector: vector(id, version),
                    k: 10,
                    ef: 64,
                    exact,
                    ..Default::default()
                })
                .collect();
            let results = client
                .search_batch(pb::SearchBatchRequest {
                    collection: COLLECTION.into(),
                    searches,
                })
                .await
                .unwrap()
                .results;
            for (&(id, _), result) in chunk.iter().zip(results) {
                let hits = result.hits;
                assert!(
                    hits.windows(2).all(|w| w[0].distance <= w[1].distance),
                    "{label}: unsorted hits for id {id}"
                );
                let mut ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
                assert!(
                    ids.iter().all(|h| model.contains_key(h)),
                    "{label}: a hit is not a live point: {ids:?}"
                );
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(ids.len(), hits.len(), "{label}: repeated hit for id {id}");
                assert_eq!(hits.len(), 10.min(model.len()), "{label}: short result");
                if exact {
                    assert_eq!(
                        (hits[0].id, hits[0].distance),
                        (id, 0.0),
                        "{label}: exact search for id {id}'s vector"
                    );
                } else if hits.iter().any(|h| h.id == id) {
                    graph_found += 1;
                }
            }
        }
    }
    let recall = graph_found as f64 / points.len().max(1) as f64;
    assert!(
        points.is_empty() || recall >= MIN_RECALL,
        "{label}: the graph search found {graph_found} of {} points by their own vector",
        points.len()
    );
}

/// The temporary files (names with `.tmp-`) in `dir`.
fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp-"))
        .collect()
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a whole number")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_no_acknowledged_write_and_applies_no_half_batch() {
    let iterations = env_u64("WAYPOINT_CRASH_ITERATIONS").unwrap_or(20);
    let seed = env_u64("WAYPOINT_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    println!("crash_safety: seed {seed} (replay with WAYPOINT_CRASH_SEED={seed}), {iterations} iterations");
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut op_rng = StdRng::seed_from_u64(seed);
    let mut kill_rng = StdRng::seed_from_u64(!seed);
    let mut model = Model::new();
    let mut next_version = 1;
    let (mut total_acked, mut applied_in_flight, mut mid_file_write) = (0, 0, 0);
    let collection_dir = dir.path().join("collections").join(COLLECTION);

    let server = Server::start(dir.path());
    server
        .client()
        .await
        .create_collection(pb::CreateCollectionRequest {
            name: COLLECTION.into(),
            dim: DIM as u32,
            metric: pb::Metric::L2 as i32,
            segment_max_points: SEGMENT_MAX_POINTS,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut server = Some(server);
    for iteration in 0..iterations {
        let label = format!("seed {seed}, iteration {iteration}");
        let running = server.take().unwrap();
        let killed = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn(drive(
            running.client().await,
            model.clone(),
            op_rng,
            next_version,
            Arc::clone(&killed),
        ));
        let delay = kill_rng.random_range(0..=MAX_KILL_DELAY_MS);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        killed.store(true, Ordering::SeqCst);
        running.kill9();
        let driven = tokio::time::timeout(Duration::from_secs(60), writer)
            .await
            .unwrap_or_else(|_| panic!("{label}: the writer hung after the kill"))
            .unwrap_or_else(|e| panic!("{label}: the writer failed: {e}"));
        op_rng = driven.rng;
        next_version = driven.next_version;
        total_acked += driven.acked;
        if !temp_files(&collection_dir).is_empty() {
            mid_file_write += 1; // the kill hit a seal writing a file
        }

        let restarted = Server::start(dir.path());
        let client = restarted.client().await;
        client
            .get_collection(pb::GetCollectionRequest {
                name: COLLECTION.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("{label}: the collection did not open: {e}"));
        let leftovers = temp_files(&collection_dir);
        assert!(
            leftovers.is_empty(),
            "{label}: temporary files survive a restart: {leftovers:?}"
        );
        let before = driven.model.clone();
        model = check_points(&client, &driven.model, &driven.in_flight, &label).await;
        if model != before {
            applied_in_flight += 1;
        }
        check_search(&client, &model, &label).await;
        server = Some(restarted);
    }
    let server = server.unwrap();
    let segments = server
        .client()
        .await
        .get_collection(pb::GetCollectionRequest {
            name: COLLECTION.into(),
        })
        .await
        .unwrap()
        .info
        .unwrap()
        .stats
        .unwrap()
        .segments;
    println!(
        "crash_safety: {iterations} kills ({mid_file_write} during a seal's file write), {total_acked} acknowledged operations, {applied_in_flight} in-flight operations found applied, {} live points in {segments} segments, {:.1} s",
        model.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        total_acked >= iterations,
        "the writer got little done: {total_acked} acknowledged operations"
    );
    assert!(segments > 1, "no segment was ever sealed");
    assert!(server.stop(), "graceful shutdown after the last restart");
}
