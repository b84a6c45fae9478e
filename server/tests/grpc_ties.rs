//! Through the real server: results are ranked by (distance, id) across
//! segments, top-k is a prefix of top-(k+j), before and after a restart;
//! and a stored copy of the query is at exactly distance 0 under cosine.

mod grpc_support;

use grpc_support::{create, Server};
use tonic::transport::Channel;
use waypoint_proto::v1 as pb;
use waypoint_proto::v1::points_client::PointsClient;

async fn search(
    pts: &mut PointsClient<Channel>,
    q: &[f32],
    k: u32,
    exact: bool,
) -> Vec<(u64, f32)> {
    let req = pb::SearchRequest {
        collection: "c".into(),
        vector: q.to_vec(),
        k,
        exact,
        ..Default::default()
    };
    let hits = pts.search(req).await.unwrap().into_inner().hits;
    hits.iter().map(|h| (h.id, h.distance)).collect()
}

async fn upsert(pts: &mut PointsClient<Channel>, points: &[(u64, Vec<f32>)]) {
    pts.upsert(pb::UpsertRequest {
        collection: "c".into(),
        points: points
            .iter()
            .map(|(id, v)| pb::Point {
                id: *id,
                vector: v.clone(),
                payload: None,
            })
            .collect(),
    })
    .await
    .unwrap();
}

/// Every k from 1 to n + 1 is a prefix of the largest, which is in
/// (distance, id) order.
async fn assert_prefixes(pts: &mut PointsClient<Channel>, q: &[f32], n: u32, exact: bool) {
    let all = search(pts, q, n + 1, exact).await;
    assert!(
        all.windows(2)
            .all(|w| w[0].1 < w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0)),
        "exact = {exact}: not in (distance, id) order: {all:?}"
    );
    for k in 1..=n {
        let some = search(pts, q, k, exact).await;
        assert_eq!(
            some[..],
            all[..k as usize],
            "exact = {exact}: top-{k} vs top-{}",
            n + 1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ties_rank_by_id_across_segments_and_top_k_is_a_prefix_before_and_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    // Segments of 4 points: the ties below land in different segments.
    collections
        .create(create("c", 2, pb::Metric::L2, 4))
        .await
        .unwrap();
    // The reported case, one upsert per point.
    for (id, v) in [(10, [1.0, 0.0]), (5, [-1.0, 0.0]), (7, [0.0, 5.0])] {
        upsert(&mut pts, &[(id, v.to_vec())]).await;
    }
    for exact in [false, true] {
        let one = search(&mut pts, &[0.0, 0.0], 1, exact).await;
        let three = search(&mut pts, &[0.0, 0.0], 3, exact).await;
        assert_eq!(one, [(5, 1.0)], "exact = {exact}");
        assert_eq!(three, [(5, 1.0), (10, 1.0), (7, 25.0)], "exact = {exact}");
    }
    // Many more ties: a 5×5 grid under ids that decrease as they are written.
    let grid: Vec<(u64, Vec<f32>)> = (0..25u64)
        .map(|i| {
            (
                1000 - 7 * i,
                vec![(i % 5) as f32 - 2.0, (i / 5) as f32 - 2.0],
            )
        })
        .collect();
    for chunk in grid.chunks(3) {
        upsert(&mut pts, chunk).await;
    }
    let n = 28;
    for q in [[0.0, 0.0], [1.0, 0.0], [0.5, 0.5]] {
        for exact in [false, true] {
            assert_prefixes(&mut pts, &q, n, exact).await;
        }
    }
    assert!(server.stop());

    let server = Server::start(dir.path());
    let (_, mut pts) = server.clients().await;
    for q in [[0.0, 0.0], [1.0, 0.0], [0.5, 0.5]] {
        for exact in [false, true] {
            assert_prefixes(&mut pts, &q, n, exact).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_copy_of_the_query_is_at_exactly_zero_under_cosine() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    collections
        .create(create("c", 3, pb::Metric::Cosine, 1000))
        .await
        .unwrap();
    // The reported vectors, and every other one with components in 0..=3.
    let mut points = Vec::new();
    for x in 0..4u8 {
        for y in 0..4u8 {
            for z in 1..4u8 {
                let id = u64::from(x) * 16 + u64::from(y) * 4 + u64::from(z);
                points.push((id, vec![f32::from(x), f32::from(y), f32::from(z)]));
            }
        }
    }
    upsert(&mut pts, &points).await;
    for (id, v) in &points {
        for exact in [false, true] {
            let hits = search(&mut pts, v, points.len() as u32, exact).await;
            assert!(
                hits.iter().all(|h| h.1 >= 0.0),
                "negative distance: {hits:?}"
            );
            let own = hits.iter().find(|h| h.0 == *id).expect("own vector found");
            assert_eq!(
                own.1.to_bits(),
                0.0f32.to_bits(),
                "{v:?} at {:e} from itself",
                own.1
            );
        }
    }
}
