//! `waypoint import` streams a vector file into a running server: every row
//! arrives as point `row` with its vector, and bad targets fail with one
//! clear line.

mod grpc_support;

use std::process::Command;

use grpc_support::Server;
use tonic::transport::Channel;
use waypoint_datasets::{synthetic::uniform, write};
use waypoint_proto::v1 as pb;
use waypoint_proto::v1::points_client::PointsClient;

/// Points in the collection "imported".
async fn imported_count(points: &mut PointsClient<Channel>) -> u64 {
    let request = pb::CountRequest {
        collection: "imported".into(),
        ..Default::default()
    };
    points.count(request).await.unwrap().into_inner().count
}

fn import(server_url: &str, file: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_waypoint"))
        .arg("import")
        .arg(file)
        .args(["--url", server_url, "--collection", "imported"])
        .args(extra)
        .output()
        .expect("run waypoint import")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_streams_every_row_as_its_point() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("points.fvecs");
    let rows = uniform(2_000, 16, 5);
    write(&file, &rows).unwrap();
    let server = Server::start(&dir.path().join("data"));
    let out = import(
        &server.url,
        &file,
        &["--create", "--metric", "l2", "--batch", "300"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 2000 points into imported"));

    let (_, mut points) = server.clients().await;
    assert_eq!(imported_count(&mut points).await, 2_000);
    // Row r is point r: an exact search with the row finds it at distance 0.
    for r in (0..2_000).step_by(97) {
        let hits = points
            .search(pb::SearchRequest {
                collection: "imported".into(),
                vector: rows.row(r).to_vec(),
                k: 1,
                exact: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .hits;
        assert_eq!((hits[0].id, hits[0].distance), (r as u64, 0.0));
    }
    // Without --create, an unknown collection is named in one line.
    let out = Command::new(env!("CARGO_BIN_EXE_waypoint"))
        .arg("import")
        .arg(&file)
        .args(["--url", &server.url, "--collection", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope") && err.lines().count() == 1, "{err}");
    assert!(server.stop());
}

#[test]
fn import_to_a_server_that_is_not_there_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("points.fvecs");
    write(&file, &uniform(10, 4, 1)).unwrap();
    // Port 9 (discard) on loopback: nothing of ours listens there.
    let out = import("http://127.0.0.1:9", &file, &["--create", "--metric", "l2"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: cannot connect to http://127.0.0.1:9"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_id_appends_a_second_file_instead_of_replacing_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.fvecs"), dir.path().join("b.fvecs"));
    write(&a, &uniform(500, 8, 1)).unwrap();
    let second = uniform(300, 8, 2);
    write(&b, &second).unwrap();
    let server = Server::start(&dir.path().join("data"));
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(import(&server.url, &a, &["--create", "--metric", "l2"]));
    ok(import(&server.url, &b, &["--first-id", "500"]));
    let (_, mut points) = server.clients().await;
    assert_eq!(imported_count(&mut points).await, 800);
    let hits = points
        .search(pb::SearchRequest {
            collection: "imported".into(),
            vector: second.row(7).to_vec(),
            k: 1,
            exact: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .hits;
    assert_eq!((hits[0].id, hits[0].distance), (507, 0.0));

    // Ids past u64::MAX and an empty batch are refused before anything is sent.
    let out = import(
        &server.url,
        &b,
        &["--first-id", &(u64::MAX - 10).to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("leaves room for 11 ids, but the file has 300 rows"),
        "{err}"
    );
    let out = import(&server.url, &b, &["--batch", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(server.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_collection_is_removed_again_only_if_the_import_wrote_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let (mut collections, mut points) = server.clients().await;
    let with_nan_at = |row: usize, name: &str| {
        let mut m = uniform(2_000, 8, 3);
        let dim = m.dim();
        let mut values = m.as_slice().to_vec();
        values[row * dim] = f32::NAN;
        m = waypoint_datasets::Matrix::new(dim, values).unwrap();
        let file = dir.path().join(name);
        write(&file, &m).unwrap();
        file
    };
    let create = ["--create", "--metric", "l2", "--batch", "1000"];

    // Rejected in the first batch: nothing written, the collection is gone,
    // and the corrected import can use --create again.
    let out = import(&server.url, &with_nan_at(5, "first.fvecs"), &create);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not finite"));
    let err = collections
        .get(pb::GetCollectionRequest {
            name: "imported".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    // Rejected in the second batch: the first is acknowledged and kept.
    let out = import(&server.url, &with_nan_at(1_500, "second.fvecs"), &create);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(imported_count(&mut points).await, 1_000);
    assert!(server.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_converts_uint8_bvecs_and_names_only_the_files_it_takes() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<u8> = waypoint_datasets::synthetic::uniform_values(300 * 8, 7)
        .iter()
        .map(|x| ((x + 1.0) * 127.0) as u8)
        .collect();
    let bytes = waypoint_datasets::Matrix::new(8, values).unwrap();
    let file = dir.path().join("points.bvecs");
    write(&file, &bytes).unwrap();
    let server = Server::start(&dir.path().join("data"));
    let out = import(&server.url, &file, &["--create", "--metric", "l2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, mut points) = server.clients().await;
    assert_eq!(imported_count(&mut points).await, 300);
    // Row r is point r, its bytes as floats.
    for r in (0..300).step_by(41) {
        let vector: Vec<f32> = bytes.row(r).iter().map(|&b| f32::from(b)).collect();
        let hits = points
            .search(pb::SearchRequest {
                collection: "imported".into(),
                vector,
                k: 1,
                exact: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .hits;
        assert_eq!((hits[0].id, hits[0].distance), (r as u64, 0.0));
    }
    for name in ["ids.ivecs", "points.txt"] {
        let other = dir.path().join(name);
        std::fs::write(&other, b"x").unwrap();
        let out = import(&server.url, &other, &[]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("import takes .fvecs, .bvecs or .npy") && !err.contains("ivecs or"),
            "{err}"
        );
    }
    assert!(server.stop());
}
