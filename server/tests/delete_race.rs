//! Delete and re-create a collection while an upsert that seals is still
//! running on it, through the real server, many times; after each round
//! the server restarts and the re-created collection must open and hold
//! exactly what it acknowledged: none of its predecessor's points, all of
//! its own. Rounds alternate a predecessor of the same dimension (its
//! points would come back) and of another one (its segment files would
//! make the successor fail to open).

mod grpc_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use grpc_support::{count_all, create, list_names, random_f32, Server};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use waypoint_proto::v1 as pb;

const NAME: &str = "r";
/// The successor's dimension.
const DIM: usize = 8;
/// Every upsert of the predecessor fills a segment, so it seals.
const SEGMENT: u64 = 256;
/// Points the successor writes and acknowledges.
const MARKERS: u64 = 20;
const ROUNDS: u64 = 16;

fn points(ids: std::ops::Range<u64>, dim: usize, seed: u64) -> Vec<pb::Point> {
    let n = ids.clone().count();
    ids.zip(random_f32(n * dim, seed).chunks(dim))
        .map(|(id, v)| pb::Point {
            id,
            vector: v.to_vec(),
            payload: None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_collection_holds_exactly_its_own_acknowledged_points() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(17);
    let mut server = Server::start(dir.path());
    for round in 0..ROUNDS {
        let old_dim = if round % 2 == 0 { DIM } else { 128 };
        let (mut collections, pts) = server.clients().await;
        collections
            .create(create(NAME, old_dim as u32, pb::Metric::L2, SEGMENT))
            .await
            .unwrap();

        // The predecessor's writer: full-segment upserts until stopped or
        // refused. Ids from 1000 up, each remembered with whether its
        // acknowledgement came before the delete was sent.
        let delete_sent = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (mut pts, delete_sent, stop) =
                (pts.clone(), Arc::clone(&delete_sent), Arc::clone(&stop));
            tokio::spawn(async move {
                let (mut before, mut after) = (Vec::new(), Vec::new());
                for batch in 0u64..200 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let ids = 1000 + batch * SEGMENT..1000 + (batch + 1) * SEGMENT;
                    let request = pb::UpsertRequest {
                        collection: NAME.into(),
                        points: points(ids.clone(), old_dim, round << 32 | batch),
                    };
                    if pts.upsert(request).await.is_err() {
                        break;
                    }
                    let acked = if delete_sent.load(Ordering::SeqCst) {
                        &mut after
                    } else {
                        &mut before
                    };
                    acked.extend(ids);
                }
                (before, after)
            })
        };
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..60))).await;
        delete_sent.store(true, Ordering::SeqCst);
        collections
            .delete(pb::DeleteCollectionRequest { name: NAME.into() })
            .await
            .unwrap();
        collections
            .create(create(NAME, DIM as u32, pb::Metric::L2, SEGMENT))
            .await
            .unwrap();
        let markers = points(0..MARKERS, DIM, 7 + round);
        pts.clone()
            .upsert(pb::UpsertRequest {
                collection: NAME.into(),
                points: markers.clone(),
            })
            .await
            .unwrap();
        // Under the same dimension the writer's later upserts land in the
        // successor (acknowledged by it, so counted there).
        stop.store(true, Ordering::SeqCst);
        let (before, after) = tokio::time::timeout(Duration::from_secs(60), writer)
            .await
            .expect("the writer ends within 60 s")
            .unwrap();

        assert!(server.stop(), "round {round}: clean shutdown");
        server = Server::start(dir.path());
        let (mut collections, mut pts) = server.clients().await;
        let listed = list_names(&mut collections).await;
        assert_eq!(
            listed,
            [NAME],
            "round {round} (old dim {old_dim}): the successor opens"
        );
        let got = |ids: Vec<u64>| {
            let mut pts = pts.clone();
            async move {
                pts.get(pb::GetPointsRequest {
                    collection: NAME.into(),
                    ids,
                    with_vectors: true,
                    with_payload: false,
                })
                .await
                .unwrap()
                .into_inner()
                .points
            }
        };
        let found = got((0..MARKERS).collect()).await;
        assert_eq!(
            found.len() as u64,
            MARKERS,
            "round {round}: every marker survives"
        );
        for (record, sent) in found.iter().zip(&markers) {
            assert_eq!(
                record.vector.as_ref().unwrap().values,
                sent.vector,
                "round {round}: id {}",
                sent.id
            );
        }
        let resurrected = got(before.clone()).await;
        assert!(
            resurrected.is_empty(),
            "round {round} (old dim {old_dim}): {} points of the deleted collection are back",
            resurrected.len()
        );
        let late = got(after.clone()).await.len() as u64;
        let count = count_all(&mut pts, NAME).await;
        assert_eq!(
            count,
            MARKERS + late,
            "round {round}: only markers and writes acknowledged by the successor"
        );
        collections
            .delete(pb::DeleteCollectionRequest { name: NAME.into() })
            .await
            .unwrap();
    }
}
