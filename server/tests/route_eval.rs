//! `waypoint route-eval` as a newcomer runs it: on the bundled routing set
//! from any directory, with model and dimension read from the data, a
//! `--base-model` filter taken from the experts file, and on a `--url` it
//! leaves the server as it found it.

mod common;
mod grpc_support;

use std::path::Path;

use common::{fails_with, waypoint};
use grpc_support::Server;
use waypoint_client::pb;
use waypoint_datasets::sample::bundled_data_dir;

/// Runs route-eval with `args` from a directory that is not the source
/// tree; returns its stdout.
fn route_eval(args: &[&str]) -> String {
    let cwd = tempfile::tempdir().unwrap();
    let output = waypoint()
        .current_dir(cwd.path())
        .arg("route-eval")
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The table rows of `backend` in `mode` (`exact` or `hnsw`).
fn rows<'a>(table: &'a str, backend: &str, mode: &str) -> Vec<&'a str> {
    table
        .lines()
        .filter(|l| l.starts_with(backend) && l.split_whitespace().nth(2) == Some(mode))
        .collect()
}

#[test]
fn route_eval_reproduces_the_bundled_baseline_from_any_directory() {
    let table = route_eval(&["--embedded-only"]);
    assert!(
        table.contains("197 experts, 610 queries") && table.contains("all-MiniLM-L6-v2 (384-d)"),
        "{table}"
    );
    let exact = rows(&table, "embedded", "exact");
    assert_eq!(exact.len(), 2, "{table}");
    // Exact routing is the stored brute-force top-3 for every query.
    assert!(exact[0].contains("0.5967  0.7590    610/610"), "{table}");
    assert!(exact[1].contains("0.6164  0.7705    610/610"), "{table}");
}

/// A copy of the bundled set under prefix `mixed`, with `base_model` "a"
/// for even expert ids and "b" for odd ones, and a model named `my-model`.
fn mixed_set(dir: &Path) -> (usize, usize) {
    let data = bundled_data_dir();
    for suffix in [
        "_keys.fvecs",
        "_keys_expert.ivecs",
        "_queries.fvecs",
        "_queries_expert.ivecs",
    ] {
        std::fs::copy(
            data.join(format!("routing{suffix}")),
            dir.join(format!("mixed{suffix}")),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("mixed.json"),
        r#"{"model": "my-model (a note)", "dim": 384}"#,
    )
    .unwrap();
    let text = std::fs::read_to_string(data.join("routing_experts.jsonl")).unwrap();
    let mut even = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = v["expert_id"].as_u64().unwrap();
            even += usize::from(id.is_multiple_of(2));
            v["base_model"] = if id.is_multiple_of(2) { "a" } else { "b" }.into();
            v.to_string()
        })
        .collect();
    std::fs::write(dir.join("mixed_experts.jsonl"), lines.join("\n")).unwrap();
    let truth = waypoint_datasets::read::<i32>(data.join("routing_queries_expert.ivecs")).unwrap();
    let even_queries = truth.iter().filter(|r| r[0] % 2 == 0).count();
    (even, even_queries)
}

#[test]
fn base_model_comes_from_the_experts_file_and_filters_routing() {
    let dir = tempfile::tempdir().unwrap();
    let (experts, queries) = mixed_set(dir.path());
    let data_dir = dir.path().to_str().unwrap();
    let table = route_eval(&[
        "--data-dir",
        data_dir,
        "--prefix",
        "mixed",
        "--base-model",
        "a",
        "--embedded-only",
    ]);
    assert!(
        table.contains(&format!(
            "{experts} experts, {queries} queries, base_model a, my-model (384-d)"
        )),
        "{table}"
    );
    // No stored baseline for a filtered run, and no baseline files here.
    assert!(
        rows(&table, "embedded", "exact")[0].contains("  -  "),
        "{table}"
    );

    fails_with(
        waypoint().args([
            "route-eval",
            "--data-dir",
            data_dir,
            "--prefix",
            "mixed",
            "--base-model",
            "c",
            "--embedded-only",
        ]),
        &["no expert has base_model \"c\"", "\"a\", \"b\""],
    );
    fails_with(
        waypoint().args(["route-eval", "--data-dir", data_dir, "--embedded-only"]),
        &["routing.json"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_eval_on_a_url_deletes_what_it_created_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client().await;
    let create = |name: &str| pb::CreateCollectionRequest {
        name: name.into(),
        dim: 4,
        metric: pb::Metric::L2 as i32,
        ..Default::default()
    };
    client.create_collection(create("mine")).await.unwrap();
    client
        .create_collection(create("route-eval-keys"))
        .await
        .unwrap();
    let names = |list: pb::ListCollectionsResponse| -> Vec<String> {
        list.collections
            .into_iter()
            .map(|c| c.config.unwrap().name)
            .collect()
    };

    // A collection of the default library's name is refused, not replaced.
    fails_with(
        waypoint().args(["route-eval", "--url", &server.url]),
        &["already has a collection route-eval-keys", "--library"],
    );
    assert_eq!(
        names(client.list_collections().await.unwrap()),
        ["mine", "route-eval-keys"]
    );

    let table = route_eval(&["--url", &server.url, "--library", "trial"]);
    assert_eq!(rows(&table, "remote", "exact").len(), 2, "{table}");
    assert!(
        rows(&table, "remote", "exact")[0].contains("610/610"),
        "{table}"
    );
    assert_eq!(
        names(client.list_collections().await.unwrap()),
        ["mine", "route-eval-keys"]
    );
    assert!(server.stop());
}
