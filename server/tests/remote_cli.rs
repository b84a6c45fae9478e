//! The everyday remote commands against a real `waypoint serve`, as the
//! README walks a newcomer through them: import with payloads, list the
//! collection, query (checked against brute force), filter (readable and
//! JSON), count, get, delete; and the errors of a wrong URL, an unknown
//! collection, a bad request and a port in use, each one line saying what
//! to do.

mod common;
mod grpc_support;

use std::path::PathBuf;

use common::{fails_with, waypoint};
use grpc_support::Server;
use serde_json::Value;
use waypoint_datasets::sample::bundled_data_dir;

fn data(name: &str) -> PathBuf {
    bundled_data_dir().join(name)
}

/// Runs `waypoint ARGS` against the server; returns stdout.
fn ok(args: &[&str], url: &str) -> String {
    let output = waypoint().args(args).args(["--url", url]).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn json(text: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The routing keys (721 × 384, unit length) and their payload objects.
fn keys() -> (waypoint_datasets::Matrix<f32>, Vec<Value>) {
    let vectors = waypoint_datasets::read_f32(data("routing_keys.fvecs")).unwrap();
    let payloads = std::fs::read_to_string(data("routing_keys.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (vectors, payloads)
}

/// Ids of the `k` keys nearest to `query` by cosine among those `keep`
/// passes, nearest first (brute force, f64).
fn brute_force(
    keys: &waypoint_datasets::Matrix<f32>,
    query: &[f32],
    k: usize,
    keep: impl Fn(usize) -> bool,
) -> Vec<u64> {
    let dot =
        |a: &[f32], b: &[f32]| -> f64 { a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum() };
    let mut scored: Vec<(f64, usize)> = (0..keys.rows())
        .filter(|&i| keep(i))
        .map(|i| (1.0 - dot(keys.row(i), query) / dot(query, query).sqrt(), i))
        .collect();
    scored.sort_by(|a, b| a.partial_cmp(b).unwrap());
    scored.iter().take(k).map(|&(_, i)| i as u64).collect()
}

fn hit_ids(hits: &[Value]) -> Vec<u64> {
    hits.iter().map(|h| h["id"].as_u64().unwrap()).collect()
}

#[test]
fn import_query_filter_count_get_and_delete_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let url = server.url.as_str();
    let (vectors, payloads) = keys();
    let keys_file = data("routing_keys.fvecs");
    let payload_file = data("routing_keys.jsonl");
    ok(
        &[
            "import",
            keys_file.to_str().unwrap(),
            "--payloads",
            payload_file.to_str().unwrap(),
            "--collection",
            "prompts",
            "--create",
            "--metric",
            "cosine",
        ],
        url,
    );

    let listed = json(&ok(&["collections", "list", "--format", "json"], url));
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            &listed[0]["name"],
            &listed[0]["dim"],
            &listed[0]["metric"],
            &listed[0]["points"],
            &listed[0]["state"]
        ),
        (
            &"prompts".into(),
            &384.into(),
            &"cosine".into(),
            &721.into(),
            &"read-write".into()
        )
    );
    let table = ok(&["collections", "get", "prompts"], url);
    assert!(table.starts_with("name     dim  metric"), "{table}");

    // Query row 3 of the query file: the brute-force top 5.
    let queries = waypoint_datasets::read_f32(data("routing_queries.fvecs")).unwrap();
    let query_file = data("routing_queries.fvecs");
    let query = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec![
            "query",
            "--collection",
            "prompts",
            "--vectors",
            query_file.to_str().unwrap(),
            "--row",
            "3",
            "--k",
            "5",
            "--exact",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        json(&ok(&args, url))
    };
    let hits = query(&[]);
    assert_eq!(
        hit_ids(&hits),
        brute_force(&vectors, queries.row(3), 5, |_| true)
    );
    assert!(hits
        .iter()
        .all(|h| h["query"] == 3 && h.get("payload").is_none()));

    // Filtered, readable and JSON: the brute-force top 5 among that task's keys.
    let task = payloads[hit_ids(&hits)[2] as usize]["task"]
        .as_str()
        .unwrap()
        .to_string();
    let of_task = |i: usize| payloads[i]["task"] == task.as_str();
    let readable = format!("task=\"{task}\"");
    let filtered = query(&["--filter", &readable, "--with-payload"]);
    let expected = brute_force(&vectors, queries.row(3), 5, of_task);
    assert_eq!(hit_ids(&filtered), expected);
    for hit in &filtered {
        assert_eq!(
            hit["payload"],
            payloads[hit["id"].as_u64().unwrap() as usize]
        );
    }
    let as_json = format!(r#"{{"must": [{{"key": "task", "match": {{"value": "{task}"}}}}]}}"#);
    assert_eq!(hit_ids(&query(&["--filter", &as_json])), expected);

    // Every row of the file when --row is not given; CSV and table agree.
    let all = ok(
        &[
            "query",
            "--collection",
            "prompts",
            "--vectors",
            query_file.to_str().unwrap(),
            "--k",
            "2",
            "--format",
            "csv",
        ],
        url,
    );
    assert_eq!(all.lines().next(), Some("query,rank,id,distance"));
    assert_eq!(all.lines().count(), 1 + 2 * queries.rows());

    let count = |extra: &[&str]| -> u64 {
        let mut args = vec!["count", "--collection", "prompts"];
        args.extend_from_slice(extra);
        ok(&args, url).trim().parse().unwrap()
    };
    let n_task = (0..payloads.len()).filter(|&i| of_task(i)).count() as u64;
    assert_eq!(count(&["--filter", &readable]), n_task);
    assert_eq!(count(&[]), 721);

    let got = json(&ok(
        &[
            "get",
            "--collection",
            "prompts",
            "5,700",
            "--format",
            "json",
        ],
        url,
    ));
    assert_eq!(hit_ids(&got), [5, 700]);
    assert_eq!(got[1]["payload"], payloads[700]);

    let deleted = ok(
        &["delete", "--collection", "prompts", "--filter", &readable],
        url,
    );
    assert_eq!(deleted, format!("deleted {n_task} points from prompts\n"));
    assert_eq!(count(&[]), 721 - n_task);
    assert_eq!(count(&["--filter", &readable]), 0);
    ok(&["delete", "--collection", "prompts", "--ids", "0,1"], url);
    assert_eq!(count(&["--filter", "has_id=0|1|2"]), 1);

    ok(&["collections", "delete", "prompts"], url);
    assert_eq!(
        ok(&["collections", "list", "--format", "csv"], url)
            .lines()
            .count(),
        1
    );
    assert!(server.stop());
}

#[test]
fn remote_errors_say_what_went_wrong_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let url = server.url.as_str();
    let wordnet = data("wordnet-10k_query.fvecs");
    let wordnet = wordnet.to_str().unwrap();
    let create = [
        "collections",
        "create",
        "small",
        "--dim",
        "8",
        "--metric",
        "l2",
    ];
    ok(&create, url);

    // The server's own message, without tonic's description of the code.
    let query_row = |url: &str, collection: &str, row: &str| {
        let mut cmd = waypoint();
        cmd.args([
            "query",
            "--url",
            url,
            "--collection",
            collection,
            "--vectors",
            wordnet,
            "--row",
            row,
        ]);
        cmd
    };
    let query = |url: &str, collection: &str| query_row(url, collection, "0");
    let line = fails_with(
        &mut query(url, "nope"),
        &["collection \"nope\" does not exist", "(NotFound)"],
    );
    assert!(!line.contains("Some requested entity"), "{line}");
    let line = fails_with(
        &mut query(url, "small"),
        &["dimension", "(InvalidArgument)"],
    );
    assert!(
        !line.contains("Client specified an invalid argument"),
        "{line}"
    );
    fails_with(
        waypoint().args(create).args(["--url", url]),
        &["small", "(AlreadyExists)"],
    );
    fails_with(
        &mut query_row(url, "small", "200"),
        &["--row 200 is past the last row (200 rows"],
    );

    // https:// to a plaintext server.
    let https = url.replace("http://", "https://");
    fails_with(
        &mut query(&https, "small"),
        &["does not speak TLS", "use http:// instead of https://"],
    );

    // Nothing listening: which address, and no doubled text.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let line = fails_with(
        &mut query(&format!("http://{free}"), "small"),
        &[&format!(
            "no server is listening at {free} (connection refused)"
        )],
    );
    assert!(
        !line.contains("tcp connect error: tcp connect error"),
        "{line}"
    );
    assert!(server.stop());
}

#[test]
fn serve_on_a_port_in_use_leaves_no_data_directory_behind() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data_dir = dir.path().join("new-data");
    fails_with(
        waypoint()
            .args(["serve", "--log", "error", "--addr", &addr, "--data-dir"])
            .arg(&data_dir),
        &[&format!("cannot listen on {addr}")],
    );
    assert!(!data_dir.exists(), "serve created {}", data_dir.display());
}

#[test]
fn import_refuses_a_payload_file_that_does_not_fit_the_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let vectors = data("routing_keys.fvecs");
    let short = dir.path().join("short.jsonl");
    let text = std::fs::read_to_string(data("routing_keys.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&short, lines[..700].join("\n")).unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{}\n{{\"nested\": {{}}}}\n", lines[0])).unwrap();
    let import = |payloads: &PathBuf| {
        let mut cmd = waypoint();
        cmd.arg("import")
            .arg(&vectors)
            .arg("--payloads")
            .arg(payloads)
            .args([
                "--url",
                &server.url,
                "--collection",
                "p",
                "--create",
                "--metric",
                "cosine",
            ]);
        cmd
    };
    fails_with(
        &mut import(&short),
        &["short.jsonl: line 701: no payload for this row"],
    );
    fails_with(
        &mut import(&bad),
        &["bad.jsonl: line 2: \"nested\": expected a string"],
    );
    assert!(server.stop());
}
