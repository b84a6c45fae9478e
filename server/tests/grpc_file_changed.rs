//! A sealed segment file truncated under a running `waypoint serve`: the
//! server stays up, the victim collection answers DATA_LOSS naming the file
//! and reports itself DAMAGED, and other collections keep serving.

mod grpc_support;

use grpc_support::{create, random_f32, Server};
use tonic::transport::Channel;
use tonic::Code;
use waypoint_proto::v1 as pb;
use waypoint_proto::v1::points_client::PointsClient;

const DIM: usize = 32;
const N: u64 = 300;

async fn fill(pts: &mut PointsClient<Channel>, name: &str) {
    let values = random_f32(N as usize * DIM, 5);
    let points: Vec<pb::Point> = (0..N)
        .map(|id| pb::Point {
            id,
            vector: values[id as usize * DIM..(id as usize + 1) * DIM].to_vec(),
            payload: None,
        })
        .collect();
    for chunk in points.chunks(50) {
        pts.upsert(pb::UpsertRequest {
            collection: name.into(),
            points: chunk.to_vec(),
        })
        .await
        .unwrap();
    }
}

fn search(name: &str, exact: bool, with_vectors: bool) -> pb::SearchRequest {
    pb::SearchRequest {
        collection: name.into(),
        vector: vec![0.1; DIM],
        k: 10,
        exact,
        with_vectors,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_truncated_under_the_server_fails_only_its_collection_with_data_loss() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let (mut collections, mut pts) = server.clients().await;
    for name in ["victim", "other"] {
        // Segments of 100 points: 300 points seal at least two.
        collections
            .create(create(name, DIM as u32, pb::Metric::L2, 100))
            .await
            .unwrap();
        fill(&mut pts, name).await;
    }
    let before = pts.search(search("victim", true, false)).await.unwrap();
    assert_eq!(before.into_inner().hits.len(), 10);

    let segment = dir.path().join("collections/victim/seg-000000.wpi");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.set_len(4096).unwrap();

    for (exact, with_vectors) in [(true, false), (false, false), (false, true)] {
        let err = pts
            .search(search("victim", exact, with_vectors))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::DataLoss, "{err:?}");
        assert!(
            err.message().contains("seg-000000.wpi"),
            "{}",
            err.message()
        );
        assert!(server.is_running(), "the server died");
    }
    let err = pts
        .get(pb::GetPointsRequest {
            collection: "victim".into(),
            ids: vec![1, 2],
            with_vectors: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DataLoss, "{err:?}");

    let info = collections
        .get(pb::GetCollectionRequest {
            name: "victim".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    assert_eq!(info.state(), pb::CollectionState::Damaged);
    assert!(
        info.state_reason.contains("seg-000000.wpi"),
        "{}",
        info.state_reason
    );

    // The other collection is untouched.
    let hits = pts.search(search("other", true, true)).await.unwrap();
    assert_eq!(hits.into_inner().hits.len(), 10);
    let hits = pts.search(search("other", false, false)).await.unwrap();
    assert_eq!(hits.into_inner().hits.len(), 10);
    assert!(server.is_running(), "the server died");
    assert!(server.stop(), "the server exits cleanly");
}
