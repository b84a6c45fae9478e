//! TLS and API keys against the real `waypoint serve`: certificates are made
//! here with rcgen (a private CA signing a leaf for `localhost` and
//! `127.0.0.1`), keys are passed by flag, env or config file, and each call
//! is checked for the status code and message the docs promise — and, for a
//! refused write, that nothing changed.

mod common;
mod grpc_support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use grpc_support::{create, random_f32, Server};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use waypoint_client::{pb, Client, ClientError, RetryPolicy};
use waypoint_proto::v1::collections_client::CollectionsClient;
use waypoint_proto::v1::points_client::PointsClient;

const READ_WRITE: &str = "rw-7f3a9c1e5b";
const READ_ONLY: &str = "ro-2d8e4b6f0a";
const DIM: usize = 8;

/// A private CA and a server certificate it signed, as PEM files in `dir`.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "waypoint test CA");
        let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("server.crt");
        let key = dir.path().join("server.key");
        std::fs::write(&cert, leaf.pem()).unwrap();
        std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
        Pki {
            dir,
            ca_pem,
            cert,
            key,
        }
    }

    /// A file in the PKI directory holding `contents`.
    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// A client of `url` that trusts this CA and sends `key`, if given.
    async fn connect(&self, url: &str, key: Option<&str>) -> Client {
        let mut builder = client(url).ca_certificate_pem(self.ca_pem.clone());
        if let Some(key) = key {
            builder = builder.api_key(key);
        }
        builder
            .connect()
            .await
            .expect("TLS handshake with the private CA")
    }

    fn flags(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            path_arg(&self.cert),
            "--tls-key".into(),
            path_arg(&self.key),
        ]
    }
}

fn path_arg(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

fn key_flags() -> Vec<String> {
    ["--api-key", READ_WRITE, "--read-only-api-key", READ_ONLY]
        .map(String::from)
        .to_vec()
}

fn start(data_dir: &Path, flags: &[String]) -> Server {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Server::start_with(data_dir, &flags)
}

/// A server with TLS and both keys; returns it and its `https://` URL.
fn start_secured(pki: &Pki, data_dir: &Path) -> (Server, String) {
    let mut flags = pki.flags();
    flags.extend(key_flags());
    let server = start(data_dir, &flags);
    let url = https(&server);
    (server, url)
}

fn https(server: &Server) -> String {
    server.url.replacen("http://", "https://", 1)
}

/// A `waypoint_client` that gives up at once (no retry) and within 20 s.
fn client(url: &str) -> waypoint_client::ClientBuilder {
    Client::builder(url)
        .retry(RetryPolicy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(20))
}

fn points(ids: std::ops::Range<u64>) -> Vec<pb::Point> {
    let values = random_f32(ids.clone().count() * DIM, ids.start);
    ids.zip(values.chunks(DIM))
        .map(|(id, v)| pb::Point {
            id,
            vector: v.to_vec(),
            payload: None,
        })
        .collect()
}

/// Creates collection `c` with points 0..20 and checks that a search for
/// point 7's vector finds point 7 first.
async fn create_upsert_search(client: &Client) {
    client
        .create_collection(create("c", DIM as u32, pb::Metric::L2, 1000))
        .await
        .unwrap();
    let batch = points(0..20);
    let query = batch[7].vector.clone();
    client
        .upsert(pb::UpsertRequest {
            collection: "c".into(),
            points: batch,
        })
        .await
        .unwrap();
    let hits = client
        .search(pb::SearchRequest {
            collection: "c".into(),
            vector: query,
            k: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .hits;
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].id, 7);
}

fn assert_status(err: &ClientError, code: Code, fragment: &str) {
    assert_eq!(err.code(), code, "{err}");
    assert!(
        err.to_string().contains(fragment),
        "{fragment:?} not in {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_a_client_that_trusts_the_private_ca() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &pki.flags());
    let client = pki.connect(&https(&server), None).await;
    create_upsert_search(&client).await;
    assert!(server.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_and_untrusting_clients_fail_against_the_tls_port() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &pki.flags());

    // Plaintext HTTP/2 to a TLS port: the server's TLS alert is not HTTP/2,
    // so the client fails at once instead of hanging; the outer timeout only
    // guards the test. Which transport code the client reports depends on
    // when the connection breaks (seen: Internal, Unknown, Unavailable,
    // Cancelled); it is never a success nor a status the server sent.
    let plaintext = async {
        match client(&server.url).connect().await {
            Ok(client) => client.list_collections().await.map(drop),
            Err(e) => Err(e),
        }
    };
    let err = tokio::time::timeout(Duration::from_secs(60), plaintext)
        .await
        .expect("a plaintext client is answered, not left hanging")
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::Unavailable | Code::Internal | Code::Unknown | Code::Cancelled
        ),
        "{err}"
    );

    // TLS without trusting the CA: the server's certificate is refused.
    let err = client(&https(&server)).connect().await.unwrap_err();
    assert_status(&err, Code::Unavailable, "UnknownIssuer");

    // The server is unharmed and still serves a trusting client.
    let trusting = pki.connect(&https(&server), None).await;
    assert!(trusting
        .list_collections()
        .await
        .unwrap()
        .collections
        .is_empty());
    assert!(server.stop());
}

#[test]
fn unusable_tls_files_stop_the_server_before_it_listens() {
    let pki = Pki::new();
    let other = Pki::new();
    let not_pem = pki.file("not-pem.txt", "hello\n");
    let cert_pem = std::fs::read_to_string(&pki.cert).unwrap();
    let broken = pki.file(
        "broken.crt",
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    );
    let missing = pki.dir.path().join("missing.crt");
    let cert = path_arg(&pki.cert);
    let key = path_arg(&pki.key);
    // (certificate file, key file, fragments of the one-line error)
    let cases: Vec<(String, String, Vec<String>)> = vec![
        (
            path_arg(&missing),
            key.clone(),
            vec![format!(
                "TLS certificate {}: cannot read",
                missing.display()
            )],
        ),
        (
            path_arg(&not_pem),
            key.clone(),
            vec![
                format!("TLS certificate {}", not_pem.display()),
                "no PEM `CERTIFICATE` block".into(),
            ],
        ),
        (
            path_arg(&broken),
            key.clone(),
            vec![
                format!("TLS certificate {}", broken.display()),
                "not valid PEM".into(),
            ],
        ),
        (
            // A certificate where the key belongs.
            cert.clone(),
            path_arg(&pki.file("cert-as.key", &cert_pem)),
            vec!["TLS private key".into(), "no PEM private key found".into()],
        ),
        (
            // Another certificate's key.
            cert.clone(),
            path_arg(&other.key),
            vec![
                format!(
                    "TLS certificate {} with key {}",
                    pki.cert.display(),
                    other.key.display()
                ),
                "the private key does not belong to the certificate".into(),
            ],
        ),
    ];
    for (cert, key, fragments) in cases {
        let data_dir = tempfile::tempdir().unwrap();
        let data = data_dir.path().join("data");
        let fragments: Vec<&str> = fragments.iter().map(String::as_str).collect();
        common::fails_with(
            common::waypoint()
                .args(["serve", "--addr", "127.0.0.1:0"])
                .args(["--tls-cert", &cert, "--tls-key", &key])
                .arg("--data-dir")
                .arg(&data),
            &fragments,
        );
        assert!(
            !data.exists(),
            "the data directory was created before the TLS check"
        );
    }
    // Half a pair.
    common::fails_with(
        common::waypoint().args(["serve", "--tls-cert", &cert]),
        &["config:", "without its private key", "--tls-key"],
    );
    common::fails_with(
        common::waypoint().args(["serve", "--tls-key", &key]),
        &["config:", "without its certificate", "--tls-cert"],
    );
}

/// Raw generated clients, each request carrying `authorization` as given.
struct Raw {
    collections: CollectionsClient<Channel>,
    points: PointsClient<Channel>,
    channel: Channel,
}

impl Raw {
    async fn connect(server: &Server) -> Raw {
        let (collections, points) = server.clients().await;
        let channel = Channel::from_shared(server.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        Raw {
            collections,
            points,
            channel,
        }
    }

    /// Every read RPC of `waypoint.v1`; each outcome, in table order.
    async fn reads(&mut self, auth: Option<&str>) -> Vec<(&'static str, Result<(), Status>)> {
        let c = || "c".to_string();
        vec![
            (
                "Collections/Get",
                self.collections
                    .get(with(auth, pb::GetCollectionRequest { name: c() }))
                    .await
                    .map(drop),
            ),
            (
                "Collections/List",
                self.collections
                    .list(with(auth, pb::ListCollectionsRequest::default()))
                    .await
                    .map(drop),
            ),
            (
                "Points/Get",
                self.points
                    .get(with(
                        auth,
                        pb::GetPointsRequest {
                            collection: c(),
                            ids: vec![1],
                            ..Default::default()
                        },
                    ))
                    .await
                    .map(drop),
            ),
            ("Points/Count", self.count(auth).await.map(drop)),
            (
                "Points/Search",
                self.points.search(with(auth, search())).await.map(drop),
            ),
            (
                "Points/SearchBatch",
                self.points
                    .search_batch(with(
                        auth,
                        pb::SearchBatchRequest {
                            collection: c(),
                            searches: vec![search()],
                        },
                    ))
                    .await
                    .map(drop),
            ),
            (
                "Points/SearchGroups",
                self.points
                    .search_groups(with(
                        auth,
                        pb::SearchGroupsRequest {
                            collection: c(),
                            vector: vec![0.5; DIM],
                            group_by: "g".into(),
                            k: 2,
                            group_size: 1,
                            ..Default::default()
                        },
                    ))
                    .await
                    .map(drop),
            ),
            (
                "ServerReflection/ServerReflectionInfo",
                self.raw(
                    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                    auth,
                )
                .await,
            ),
            (
                "ServerReflection/ServerReflectionInfo (v1alpha)",
                self.raw(
                    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                    auth,
                )
                .await,
            ),
        ]
    }

    /// Every write RPC of `waypoint.v1`, each of which would change
    /// collection `c` (or the collection list).
    async fn writes(&mut self, auth: Option<&str>) -> Vec<(&'static str, Result<(), Status>)> {
        vec![
            (
                "Collections/Create",
                self.collections
                    .create(with(
                        auth,
                        create("other", DIM as u32, pb::Metric::L2, 1000),
                    ))
                    .await
                    .map(drop),
            ),
            (
                "Points/Upsert",
                self.points
                    .upsert(with(
                        auth,
                        pb::UpsertRequest {
                            collection: "c".into(),
                            points: points(100..110),
                        },
                    ))
                    .await
                    .map(drop),
            ),
            (
                "Points/UpsertStream",
                self.points
                    .upsert_stream(with(
                        auth,
                        tokio_stream::iter(vec![pb::UpsertRequest {
                            collection: "c".into(),
                            points: points(200..210),
                        }]),
                    ))
                    .await
                    .map(drop),
            ),
            (
                "Points/Delete",
                self.points
                    .delete(with(
                        auth,
                        pb::DeletePointsRequest {
                            collection: "c".into(),
                            selector: Some(pb::delete_points_request::Selector::Ids(
                                pb::PointIds {
                                    ids: (0..5).collect(),
                                },
                            )),
                        },
                    ))
                    .await
                    .map(drop),
            ),
            (
                "Collections/Delete",
                self.collections
                    .delete(with(auth, pb::DeleteCollectionRequest { name: "c".into() }))
                    .await
                    .map(drop),
            ),
        ]
    }

    async fn count(&mut self, auth: Option<&str>) -> Result<u64, Status> {
        let request = pb::CountRequest {
            collection: "c".into(),
            ..Default::default()
        };
        Ok(self
            .points
            .count(with(auth, request))
            .await?
            .into_inner()
            .count)
    }

    async fn collection_names(&mut self) -> Vec<String> {
        let list = self
            .collections
            .list(with(
                Some(&bearer(READ_ONLY)),
                pb::ListCollectionsRequest::default(),
            ))
            .await
            .unwrap()
            .into_inner();
        list.collections
            .into_iter()
            .map(|c| c.config.unwrap().name)
            .collect()
    }

    /// A call to `path` with an empty message: reaches the auth check
    /// whatever the method expects.
    async fn raw(&self, path: &'static str, auth: Option<&str>) -> Result<(), Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let codec = tonic_prost::ProstCodec::<(), ()>::default();
        grpc.unary(with(auth, ()), PathAndQuery::from_static(path), codec)
            .await
            .map(drop)
    }
}

fn search() -> pb::SearchRequest {
    pb::SearchRequest {
        collection: "c".into(),
        vector: vec![0.5; DIM],
        k: 3,
        ..Default::default()
    }
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// `message` with `authorization: <auth>` when given.
fn with<T>(auth: Option<&str>, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(value) = auth {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    request
}

/// Collection `c` with points 0..20, created with the read-write key.
async fn seed(raw: &mut Raw) {
    let rw = Some(bearer(READ_WRITE));
    raw.collections
        .create(with(
            rw.as_deref(),
            create("c", DIM as u32, pb::Metric::L2, 1000),
        ))
        .await
        .unwrap();
    raw.points
        .upsert(with(
            rw.as_deref(),
            pb::UpsertRequest {
                collection: "c".into(),
                points: points(0..20),
            },
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_gate_every_call_by_role() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &key_flags());
    let mut raw = Raw::connect(&server).await;
    seed(&mut raw).await;

    // No key, a wrong key, a malformed header: UNAUTHENTICATED on reads and
    // writes alike, with a message saying what was expected.
    let wrong = bearer("wrong-key-31337");
    let refusals = [
        (None, "missing API key"),
        (Some(wrong.as_str()), "invalid API key"),
        (Some(READ_WRITE), "malformed `authorization` metadata"),
        (Some("Basic cnc6a2V5"), "malformed `authorization` metadata"),
    ];
    for (auth, expected) in refusals {
        let mut outcomes = raw.reads(auth).await;
        outcomes.extend(raw.writes(auth).await);
        for (method, outcome) in outcomes {
            let status = outcome.expect_err(method);
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "{method} with {auth:?}: {status:?}"
            );
            assert!(status.message().contains(expected), "{method}: {status:?}");
            assert!(
                status.message().contains("Bearer <api key>"),
                "{method}: {status:?}"
            );
            assert!(
                !status.message().contains("31337"),
                "{method} echoed the key: {status:?}"
            );
        }
    }
    assert_eq!(raw.count(Some(&bearer(READ_ONLY))).await.unwrap(), 20);

    // The read-only key: every read passes, every write is PERMISSION_DENIED
    // and changes nothing.
    let read_only = bearer(READ_ONLY);
    for (method, outcome) in raw.reads(Some(&read_only)).await {
        match outcome {
            Ok(()) => {}
            // An empty message is not a reflection request; what matters is
            // that the call got past the key check to the service.
            Err(status) if method.starts_with("ServerReflection") => assert!(
                !matches!(
                    status.code(),
                    Code::Unauthenticated | Code::PermissionDenied
                ),
                "{method} with the read-only key: {status:?}"
            ),
            Err(status) => panic!("{method} with the read-only key: {status:?}"),
        }
    }
    for (method, outcome) in raw.writes(Some(&read_only)).await {
        let status = outcome.expect_err(method);
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{method}: {status:?}"
        );
        assert!(status.message().contains("read-only API key"), "{status:?}");
        assert!(status.message().contains(method), "{status:?}");
    }
    assert_eq!(raw.count(Some(&read_only)).await.unwrap(), 20);
    assert_eq!(raw.collection_names().await, ["c"]);

    // Health needs no key.
    grpc_support::assert_serving(raw.channel.clone()).await;

    // A path the server has not classified is refused even for the
    // read-write key, before any service sees it.
    let status = raw
        .raw("/waypoint.v1.Points/Compact", Some(&bearer(READ_WRITE)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("access table"), "{status:?}");

    // The read-write key: every write goes through (scheme case-insensitive).
    for (method, outcome) in raw.writes(Some(&format!("bearer {READ_WRITE}"))).await {
        outcome.unwrap_or_else(|status| panic!("{method} with the read-write key: {status:?}"));
    }
    assert_eq!(raw.collection_names().await, ["other"]);
    assert!(server.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_api_keys_together() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = start_secured(&pki, dir.path());
    let writer = pki.connect(&url, Some(READ_WRITE)).await;
    create_upsert_search(&writer).await;

    let keyless = pki.connect(&url, None).await;
    let err = keyless.list_collections().await.unwrap_err();
    assert_status(&err, Code::Unauthenticated, "missing API key");

    let reader = pki.connect(&url, Some(READ_ONLY)).await;
    let count = |c: &Client| {
        let c = c.clone();
        async move {
            c.count(pb::CountRequest {
                collection: "c".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .count
        }
    };
    assert_eq!(count(&reader).await, 20);
    let err = reader
        .upsert(pb::UpsertRequest {
            collection: "c".into(),
            points: points(500..501),
        })
        .await
        .unwrap_err();
    assert_status(&err, Code::PermissionDenied, "read-only API key");
    assert_eq!(count(&reader).await, 20);
    assert!(server.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let data = dir.path().join("data");
    let wrong = "wrong-key-8c4e2a";
    let server = Server::start_full(
        &data,
        &key_flags().iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
        "debug",
        Stdio::from(File::create(&log_path).unwrap()),
    );
    let mut raw = Raw::connect(&server).await;
    seed(&mut raw).await;
    for auth in [
        Some(bearer(READ_WRITE)),
        Some(bearer(READ_ONLY)),
        Some(bearer(wrong)),
        Some(READ_ONLY.to_string()),
        None,
    ] {
        let _ = raw.reads(auth.as_deref()).await;
        let _ = raw.writes(auth.as_deref()).await;
    }
    assert!(server.stop());
    let log = std::fs::read_to_string(&log_path).unwrap();
    // The debug log did record the refusals, so it was written at all.
    assert!(log.contains("call refused by the API-key check"), "{log}");
    for key in [READ_WRITE, READ_ONLY, wrong] {
        assert!(!log.contains(key), "key {key:?} in the log:\n{log}");
    }
}

#[test]
fn keys_come_from_flags_env_or_config_file_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("waypoint.toml");
    std::fs::write(
        &config,
        "api_key = \"file-rw-key\"\nread_only_api_key = \"file-ro-key\"\n",
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Which key each source leaves in force: flag > env > file.
    struct Case {
        flags: &'static [&'static str],
        env: &'static [(&'static str, &'static str)],
        accepted: &'static str,
        refused: &'static str,
    }
    let env_key = &[("WAYPOINT_API_KEY", "env-rw-key")];
    let cases = [
        Case {
            flags: &[],
            env: &[],
            accepted: "file-rw-key",
            refused: "flag-rw-key",
        },
        Case {
            flags: &[],
            env: env_key,
            accepted: "env-rw-key",
            refused: "file-rw-key",
        },
        Case {
            flags: &["--api-key", "flag-rw-key"],
            env: env_key,
            accepted: "flag-rw-key",
            refused: "env-rw-key",
        },
    ];
    for Case {
        flags,
        env,
        accepted,
        refused,
    } in cases
    {
        let data = tempfile::tempdir().unwrap();
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend(flags);
        let server = Server::start_full(data.path(), &args, env, "warn", Stdio::inherit());
        runtime.block_on(async {
            let ok = client(&server.url)
                .api_key(accepted)
                .connect()
                .await
                .unwrap();
            ok.create_collection(create("c", 4, pb::Metric::L2, 100))
                .await
                .unwrap();
            let read_only = client(&server.url)
                .api_key("file-ro-key")
                .connect()
                .await
                .unwrap();
            let err = read_only
                .delete_collection(pb::DeleteCollectionRequest { name: "c".into() })
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::PermissionDenied, "{err}");
            let stale = client(&server.url)
                .api_key(refused)
                .connect()
                .await
                .unwrap();
            let err = stale.list_collections().await.unwrap_err();
            assert_status(&err, Code::Unauthenticated, "invalid API key");
        });
        assert!(server.stop());
    }

    // Keys that cannot be right are config errors that do not echo them.
    common::fails_with(
        common::waypoint().args(["serve", "--api-key", ""]),
        &["config:", "read-write API key", "must not be empty"],
    );
    // An empty variable (e.g. `WAYPOINT_API_KEY=$UNSET`) must not leave the
    // server open.
    common::fails_with(
        common::waypoint()
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("WAYPOINT_API_KEY", ""),
        &["config:", "read-write API key", "must not be empty"],
    );
    common::fails_with(
        common::waypoint().args(["serve", "--read-only-api-key", "has space"]),
        &[
            "config:",
            "read-only API key",
            "printable ASCII without spaces",
        ],
    );
    common::fails_with(
        common::waypoint().args([
            "serve",
            "--api-key",
            "same-key",
            "--read-only-api-key",
            "same-key",
        ]),
        &["config:", "are the same"],
    );
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "read_only_api_key = \"\"\n").unwrap();
    common::fails_with(
        common::waypoint().args(["serve", "--config", empty.to_str().unwrap()]),
        &["config:", "read-only API key", "must not be empty"],
    );
    // `--help` names the env variables but never shows their values.
    let help = common::waypoint()
        .args(["serve", "--help"])
        .env("WAYPOINT_API_KEY", "env-secret-1")
        .env("WAYPOINT_READ_ONLY_API_KEY", "env-secret-2")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("WAYPOINT_API_KEY"), "{help}");
    assert!(!help.contains("env-secret"), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_speaks_tls_to_a_private_ca_and_sends_the_api_key() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = start_secured(&pki, &dir.path().join("data"));
    let file = dir.path().join("points.fvecs");
    waypoint_datasets::write(&file, &waypoint_datasets::synthetic::uniform(300, DIM, 3)).unwrap();
    let ca = path_arg(&pki.file("ca.pem", &pki.ca_pem));
    let import = |extra: &[&str]| {
        let mut command = common::waypoint();
        command
            .arg("import")
            .arg(&file)
            .args(["--url", &url, "--collection", "imported"])
            .args(["--create", "--metric", "l2"])
            .args(extra);
        command
    };
    common::fails_with(&mut import(&["--ca-cert", &ca]), &[&url, "missing API key"]);
    common::fails_with(
        &mut import(&["--ca-cert", &ca, "--api-key", READ_ONLY]),
        &[&url, "read-only API key"],
    );
    common::fails_with(
        &mut import(&["--api-key", READ_WRITE]),
        &[
            &format!("cannot connect to {url}"),
            "UnknownIssuer",
            "--ca-cert",
        ],
    );
    // Plaintext to the TLS server: told to use https://.
    let plain = url.replace("https://", "http://");
    common::fails_with(
        common::waypoint().args(["collections", "list", "--url", &plain]),
        &[
            &format!("cannot connect to {plain}"),
            "the server speaks TLS",
            "use https://",
        ],
    );
    let out = import(&["--ca-cert", &ca])
        .env("WAYPOINT_API_KEY", READ_WRITE)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = pki.connect(&url, Some(READ_ONLY)).await;
    let count = reader
        .count(pb::CountRequest {
            collection: "imported".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .count;
    assert_eq!(count, 300);
    assert!(server.stop());
}
