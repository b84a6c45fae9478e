//! Concurrency stress on one in-process [`Collection`]: writer threads
//! upsert, delete by id and delete by filter (small segments, so seals run
//! all the time) while searcher threads run plain, filtered and exact
//! searches, for `WAYPOINT_STRESS_SECS` seconds (default 12) in phases.
//!
//! Checked throughout: no search returns an id whose delete was
//! acknowledged before the search started unless it was upserted again
//! since, nor an id never written; hits are sorted by distance, unique,
//! `k` of them (static points keep at least `k` live, in every bucket),
//! and pass the filter; the distance of a static point is its true
//! distance; deletes report the number of points the model says they
//! remove. At the end of each phase (writers stopped): count, filtered
//! counts and every point's vector and payload match the model. A watchdog
//! fails the test if it does not finish (a deadlock).
//!
//! Each id above the static ones belongs to one writer, which runs its
//! operations one after another, so "acknowledged before" is well defined
//! per id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use waypoint_index::Metric;
use waypoint_server::storage::collection::{Collection, Config, Query, WalSync};
use waypoint_server::storage::filter::{Condition, Filter};
use waypoint_server::storage::payload::{Payload, Term, Value};
use waypoint_server::storage::wal::PointWrite;

const DIM: usize = 8;
const K: usize = 10;
/// Ids `0..STATIC` are written once and never change.
const STATIC: u64 = 400;
/// Ids `STATIC..STATIC + DYNAMIC` are upserted and deleted by their writer.
const DYNAMIC: u64 = 2000;
const WRITERS: u64 = 2;
const SEARCHERS: u64 = 2;
/// Payload `bucket = id % BUCKETS`; static points fill every bucket.
const BUCKETS: u64 = 8;
const SEGMENT_MAX_POINTS: u64 = 1000;
/// Phases (writers stopped and the model checked in between).
const PHASES: u32 = 4;

fn vector(id: u64, version: u64) -> Vec<f32> {
    waypoint_datasets::synthetic::uniform_values(DIM, (version << 24) | id)
}

fn point(id: u64, version: u64) -> PointWrite {
    PointWrite {
        id,
        vector: vector(id, version),
        payload: Payload::from([
            ("v".to_string(), Value::Integer(version as i64)),
            ("bucket".to_string(), Value::Integer((id % BUCKETS) as i64)),
            ("owner".to_string(), Value::Integer(owner(id) as i64)),
        ]),
    }
}

/// The writer that owns `id`; static points belong to none (`WRITERS`).
fn owner(id: u64) -> u64 {
    if id < STATIC {
        WRITERS
    } else {
        id % WRITERS
    }
}

fn matches(key: &str, value: u64) -> Condition {
    Condition::Match {
        key: key.into(),
        terms: vec![Term::Integer(value as i64)],
    }
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// What searchers need to know about the writers' progress.
struct Shared {
    collection: Collection,
    /// A logical clock: every event below takes a distinct tick.
    clock: AtomicU64,
    /// Per dynamic id: tick before its latest upsert started (0: never).
    upsert_started: Vec<AtomicU64>,
    /// Per dynamic id: tick after its latest delete was acknowledged.
    delete_acked: Vec<AtomicU64>,
    stop: AtomicBool,
}

impl Shared {
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn slot(id: u64) -> usize {
        (id - STATIC) as usize
    }
}

/// A writer's live points: id → version.
type Model = HashMap<u64, u64>;

#[derive(Default)]
struct Counts {
    upserts: u64,
    deletes: u64,
    filter_deletes: u64,
    searches: u64,
}

fn write(
    shared: &Shared,
    me: u64,
    model: &mut Model,
    rng: &mut StdRng,
    version: &mut u64,
) -> Counts {
    let c = &shared.collection;
    let mut counts = Counts::default();
    let mine: Vec<u64> = (STATIC..STATIC + DYNAMIC)
        .filter(|&id| owner(id) == me)
        .collect();
    while !shared.stop.load(Ordering::SeqCst) {
        let n = rng.random_range(1..=20);
        let mut ids: Vec<u64> = (0..n)
            .map(|_| mine[rng.random_range(0..mine.len())])
            .collect();
        ids.sort_unstable();
        ids.dedup();
        match rng.random_range(0..100) {
            0..60 => {
                *version += 1;
                for &id in &ids {
                    let t = shared.tick();
                    shared.upsert_started[Shared::slot(id)].store(t, Ordering::SeqCst);
                }
                c.upsert(ids.iter().map(|&id| point(id, *version)).collect())
                    .expect("upsert");
                for &id in &ids {
                    model.insert(id, *version);
                }
                counts.upserts += 1;
            }
            60..92 => {
                let gone = ids
                    .iter()
                    .copied()
                    .filter(|id| model.contains_key(id))
                    .collect();
                let (deleted, _) = c.delete_ids(&ids).expect("delete by id");
                acknowledge_delete(shared, model, deleted, gone);
                counts.deletes += 1;
            }
            _ => {
                let bucket = rng.random_range(0..BUCKETS);
                let filter = Filter {
                    must: vec![matches("owner", me), matches("bucket", bucket)],
                    ..Filter::default()
                };
                let gone = model
                    .keys()
                    .copied()
                    .filter(|id| id % BUCKETS == bucket)
                    .collect();
                let (deleted, _) = c.delete_filtered(&filter).expect("delete by filter");
                acknowledge_delete(shared, model, deleted, gone);
                counts.filter_deletes += 1;
            }
        }
    }
    counts
}

/// After a delete that the server says removed `deleted` points: checks
/// that these are the model's `gone` ones, drops them from the model and
/// stamps their acknowledgement.
fn acknowledge_delete(shared: &Shared, model: &mut Model, deleted: u64, gone: Vec<u64>) {
    assert_eq!(
        deleted,
        gone.len() as u64,
        "the delete removed {deleted} points, the model says {gone:?}"
    );
    let t = shared.tick();
    for id in gone {
        model.remove(&id);
        shared.delete_acked[Shared::slot(id)].store(t, Ordering::SeqCst);
    }
}

fn search(shared: &Shared, rng: &mut StdRng) -> Counts {
    let c = &shared.collection;
    let mut counts = Counts::default();
    while !shared.stop.load(Ordering::SeqCst) {
        let bucket = rng.random_bool(0.3).then(|| rng.random_range(0..BUCKETS));
        let query = Query {
            vector: waypoint_datasets::synthetic::uniform_values(DIM, rng.random()),
            k: K,
            ef: [None, Some(16), Some(64)][rng.random_range(0..3)],
            exact: rng.random_bool(0.1),
            filter: bucket.map(|b| Filter {
                must: vec![matches("bucket", b)],
                ..Filter::default()
            }),
            with_payload: bucket.is_some(),
            with_vectors: false,
            cancel: Default::default(),
        };
        let started = shared.tick();
        let hits = c.search(&query).expect("search");
        assert_eq!(
            hits.len(),
            K,
            "{query:?}: at least {K} points are always live"
        );
        for pair in hits.windows(2) {
            assert!(pair[0].distance <= pair[1].distance, "unsorted: {hits:?}");
        }
        let mut ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), K, "a repeated id: {hits:?}");
        for hit in &hits {
            if let Some(b) = bucket {
                let payload = hit.payload.as_ref().expect("payload asked for");
                assert_eq!(
                    payload.get("bucket"),
                    Some(&Value::Integer(b as i64)),
                    "id {} fails the filter bucket = {b}",
                    hit.id
                );
            }
            if hit.id < STATIC {
                let truth = l2(&query.vector, &vector(hit.id, 0));
                assert!(
                    (hit.distance - truth).abs() <= 1e-4 * truth.max(1.0),
                    "static id {}: distance {} but truly {truth}",
                    hit.id,
                    hit.distance
                );
                continue;
            }
            assert!(hit.id < STATIC + DYNAMIC, "an id never written: {}", hit.id);
            let slot = Shared::slot(hit.id);
            // Read after the search: an upsert that began during it counts.
            let upserted = shared.upsert_started[slot].load(Ordering::SeqCst);
            let deleted = shared.delete_acked[slot].load(Ordering::SeqCst);
            assert!(upserted > 0, "id {} was never upserted", hit.id);
            assert!(
                !(deleted < started && upserted < deleted),
                "id {} returned, but its delete was acknowledged (tick {deleted}) before the search began (tick {started}) and no upsert followed (last began at tick {upserted})",
                hit.id
            );
        }
        counts.searches += 1;
    }
    counts
}

/// With the writers stopped: count, per-bucket counts and every dynamic
/// point against the models.
fn check_quiescent(c: &Collection, models: &[Model], phase: u32) {
    let live: Model = models.iter().flatten().map(|(&id, &v)| (id, v)).collect();
    assert_eq!(
        c.count(None),
        STATIC + live.len() as u64,
        "phase {phase}: count"
    );
    for b in 0..BUCKETS {
        let filter = Filter {
            must: vec![matches("bucket", b)],
            ..Filter::default()
        };
        let expected =
            STATIC / BUCKETS + live.keys().filter(|id| *id % BUCKETS == b).count() as u64;
        assert_eq!(
            c.count(Some(&filter)),
            expected,
            "phase {phase}: bucket {b}"
        );
    }
    let ids: Vec<u64> = (STATIC..STATIC + DYNAMIC).collect();
    let records = c.get(&ids, true, true).unwrap();
    assert_eq!(records.len(), live.len(), "phase {phase}: points present");
    for r in records {
        let version = live[&r.id];
        assert_eq!(
            r.payload,
            Some(point(r.id, version).payload),
            "phase {phase}: id {}",
            r.id
        );
        assert_eq!(
            r.vector,
            Some(vector(r.id, version)),
            "phase {phase}: id {}",
            r.id
        );
    }
}

fn run(secs: u64, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        name: "stress".into(),
        dim: DIM,
        metric: Metric::L2Squared,
        m: 8,
        ef_construction: 64,
        segment_max_points: SEGMENT_MAX_POINTS,
        wal_sync: WalSync::Never,
        wal_sync_interval_ms: 0,
    };
    Collection::create(dir.path(), &config).unwrap();
    let collection = Collection::open(dir.path()).unwrap();
    collection
        .upsert((0..STATIC).map(|id| point(id, 0)).collect())
        .unwrap();
    let shared = Arc::new(Shared {
        collection,
        clock: AtomicU64::new(0),
        upsert_started: (0..DYNAMIC).map(|_| AtomicU64::new(0)).collect(),
        delete_acked: (0..DYNAMIC).map(|_| AtomicU64::new(0)).collect(),
        stop: AtomicBool::new(false),
    });
    let mut models: Vec<Model> = vec![Model::new(); WRITERS as usize];
    let mut rngs: Vec<StdRng> = (0..WRITERS + SEARCHERS)
        .map(|t| StdRng::seed_from_u64(seed.wrapping_add(t)))
        .collect();
    let mut versions = vec![0u64; WRITERS as usize];
    let phase_len = Duration::from_millis(secs * 1000 / u64::from(PHASES));
    let mut ops: Vec<Counts> = Vec::new();
    for phase in 0..PHASES {
        shared.stop.store(false, Ordering::SeqCst);
        std::thread::scope(|s| {
            let mut rest = rngs.iter_mut();
            let mut threads = Vec::new();
            for ((me, model), version) in models.iter_mut().enumerate().zip(versions.iter_mut()) {
                let (shared, rng) = (&shared, rest.next().unwrap());
                threads.push(s.spawn(move || write(shared, me as u64, model, rng, version)));
            }
            for rng in rest {
                let shared = &shared;
                threads.push(s.spawn(move || search(shared, rng)));
            }
            std::thread::sleep(phase_len);
            shared.stop.store(true, Ordering::SeqCst);
            for t in threads {
                match t.join() {
                    Ok(counts) => ops.push(counts),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        check_quiescent(&shared.collection, &models, phase);
    }
    let stats = shared.collection.stats();
    let total = |f: fn(&Counts) -> u64| ops.iter().map(f).sum::<u64>();
    let per_sec = |n: u64| n as f64 / secs as f64;
    println!(
        "stress: {secs} s, seed {seed}: {:.0} upserts/s, {:.0} deletes by id/s, {:.0} deletes by filter/s, {:.0} searches/s; {} segments at the end",
        per_sec(total(|c| c.upserts)),
        per_sec(total(|c| c.deletes)),
        per_sec(total(|c| c.filter_deletes)),
        per_sec(total(|c| c.searches)),
        stats.segments
    );
    assert!(
        stats.segments > 2,
        "too few seals to stress them: {stats:?}"
    );
}

#[test]
fn concurrent_upserts_deletes_searches_and_seals_keep_every_invariant() {
    let secs: u64 = std::env::var("WAYPOINT_STRESS_SECS")
        .map(|s| {
            s.parse()
                .expect("WAYPOINT_STRESS_SECS is a whole number of seconds")
        })
        .unwrap_or(12);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("stress: seed {seed}");
    // The watchdog: a deadlock fails the test instead of hanging CI.
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        run(secs, seed);
        let _ = done.send(());
    });
    let limit = Duration::from_secs(secs + 120);
    match finished.recv_timeout(limit) {
        Ok(()) => worker.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // `run` panicked: report its panic.
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("no progress: the stress run did not finish within {limit:?} (deadlock?)")
        }
    }
}
