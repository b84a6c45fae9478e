//! Hostile clients against the real `waypoint serve` (loopback, every
//! attack bounded in count and time, each test its own server): bad
//! protobuf, requests that decode or answer far larger than they are,
//! stalled bodies, idle and excess connections, abandoned and reset work.
//! Each checks the server's memory (`VmHWM` of /proc/PID/status) or CPU
//! time (/proc/PID/stat) and that a normal search still answers.

mod grpc_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use grpc_support::{create, random_f32, Server};
use prost::bytes::{Buf, BufMut, Bytes};
use prost::Message;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};
use waypoint_proto::v1 as pb;

/// A normal client's search must answer within this long during an attack
/// (generous for a shared 2-core machine; the report gives measured times).
const ANSWER_WITHIN: Duration = Duration::from_secs(3);

/// A value of /proc/PID/status in KiB (`VmHWM`: peak RSS, `VmRSS`).
fn status_kib(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// User plus system CPU seconds of the process so far.
fn cpu_seconds(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &text[text.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; `after` starts at 3.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Starts a server whose config file has `limits` under `[limits]`.
fn start(dir: &Path, limits: &str) -> Server {
    let config: PathBuf = dir.join("waypoint.toml");
    std::fs::write(&config, format!("[limits]\n{limits}\n")).unwrap();
    let data = dir.join("data");
    Server::start_with(&data, &["--config", config.to_str().unwrap()])
}

async fn channel(server: &Server) -> Channel {
    Channel::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Creates collection `c` (`dim`, segments of `segment` points) holding
/// `n` points, each with a payload `tag`.
async fn seed(server: &Server, dim: u32, n: u64, segment: u64) {
    let (mut cols, mut pts) = server.clients().await;
    let mut config = create("c", dim, pb::Metric::L2, segment);
    config.m = 8;
    config.ef_construction = 32;
    cols.create(config).await.unwrap();
    for start in (0..n).step_by(2000) {
        let points = (start..n.min(start + 2000))
            .map(|id| pb::Point {
                id,
                vector: random_f32(dim as usize, id),
                payload: Some(pb::Payload {
                    fields: [("tag".to_string(), grpc_support::integer(id as i64 % 7))].into(),
                }),
            })
            .collect();
        pts.upsert(pb::UpsertRequest {
            collection: "c".into(),
            points,
        })
        .await
        .unwrap();
    }
}

/// A normal client's k = 10 search on `c`; panics unless it answers within
/// [`ANSWER_WITHIN`]. Returns how long it took.
async fn normal_search(server: &Server, dim: usize) -> Duration {
    let started = Instant::now();
    let answer = tokio::time::timeout(ANSWER_WITHIN, async {
        let (_, mut pts) = server.clients().await;
        pts.search(pb::SearchRequest {
            collection: "c".into(),
            vector: random_f32(dim, 99),
            k: 10,
            ..Default::default()
        })
        .await
    })
    .await
    .expect("a normal search answers during the attack")
    .unwrap()
    .into_inner();
    assert_eq!(answer.hits.len(), 10);
    started.elapsed()
}

/// Asserts that `err` has `code` and a message containing `fragment`.
fn assert_status(err: &Status, code: Code, fragment: &str) {
    assert_eq!(err.code(), code, "{err:?}");
    assert!(err.message().contains(fragment), "{}", err.message());
}

/// Sends bytes as they are and returns the answer's bytes.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

/// A unary call to `path` whose request message is `body`, as is.
async fn raw_unary(channel: Channel, path: &'static str, body: Bytes) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_encoding_message_size(usize::MAX)
        .max_decoding_message_size(usize::MAX);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(body), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_protobuf_is_invalid_argument() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "");
    let channel = channel(&server).await;
    for body in [
        &[0x0a, 0x05, b'a'][..],       // truncated
        &[0x0a, 0x02, 0xff, 0xfe][..], // invalid UTF-8
        &[0x0f][..],                   // bad wire type
    ] {
        let err = raw_unary(
            channel.clone(),
            "/waypoint.v1.Collections/Get",
            Bytes::from_static(body),
        )
        .await
        .unwrap_err();
        assert_status(&err, Code::InvalidArgument, "not a valid protobuf message");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_decode_far_larger_than_they_are_cost_little() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "");
    seed(&server, 8, 1000, 100_000).await;
    let channel = channel(&server).await;

    // 16 MiB of empty points (2 bytes each, ~100 bytes decoded).
    let mut empty_points = pb::UpsertRequest {
        collection: "c".into(),
        points: Vec::new(),
    }
    .encode_to_vec();
    empty_points.extend(std::iter::repeat_n([0x12u8, 0x00], 8 << 20).flatten());
    let err = raw_unary(
        channel.clone(),
        "/waypoint.v1.Points/Upsert",
        empty_points.into(),
    )
    .await
    .unwrap_err();
    assert_status(&err, Code::ResourceExhausted, "UpsertRequest");

    // A has_id filter of 6.7M ids (16 MiB packed).
    let ids: Vec<u64> = (0..6_700_000u64).map(|i| i * 1013).collect();
    let count = pb::CountRequest {
        collection: "c".into(),
        filter: Some(pb::Filter {
            must: vec![pb::Condition {
                condition: Some(pb::condition::Condition::HasId(pb::HasId { ids })),
            }],
            ..Default::default()
        }),
    };
    let started = Instant::now();
    let err = raw_unary(
        channel.clone(),
        "/waypoint.v1.Points/Count",
        count.encode_to_vec().into(),
    )
    .await
    .unwrap_err();
    assert_status(&err, Code::ResourceExhausted, "has_id ids");
    let took = started.elapsed();

    let peak_mib = status_kib(server.pid(), "VmHWM") / 1024;
    let search = normal_search(&server, 8).await;
    eprintln!("decode amplification: peak RSS {peak_mib} MiB, has_id refused in {took:?}, normal search {search:?}");
    assert!(peak_mib < 400, "peak RSS {peak_mib} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_far_larger_than_the_request_are_refused_before_they_are_built() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "max_message_bytes = 8388608");
    let (mut cols, mut pts) = server.clients().await;
    cols.create(create("c", 8, pb::Metric::L2, 100_000))
        .await
        .unwrap();
    // Twelve points with 1 MB payloads (two per upsert, under the limit).
    let big = "x".repeat(1_000_000);
    for pair in (0..12u64).collect::<Vec<_>>().chunks(2) {
        pts.upsert(pb::UpsertRequest {
            collection: "c".into(),
            points: pair
                .iter()
                .map(|&id| pb::Point {
                    id,
                    vector: random_f32(8, id),
                    payload: Some(pb::Payload {
                        fields: [("big".to_string(), grpc_support::keyword(&big))].into(),
                    }),
                })
                .collect(),
        })
        .await
        .unwrap();
    }
    let one = pts
        .get(pb::GetPointsRequest {
            collection: "c".into(),
            ids: vec![3; 10_000],
            with_payload: true,
            with_vectors: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        one.points.len(),
        1,
        "an id asked for twice is answered once"
    );
    let err = pts
        .get(pb::GetPointsRequest {
            collection: "c".into(),
            ids: (0..12).cycle().take(10_000).collect(),
            with_payload: true,
            with_vectors: false,
        })
        .await
        .unwrap_err();
    assert_status(&err, Code::ResourceExhausted, "max_message_bytes");

    // Searches asking for those payloads: refused once the answer passes
    // the limit, not after building 12 MB per search.
    let with_payload = |i| pb::SearchRequest {
        vector: random_f32(8, i),
        k: 12,
        with_payload: true,
        ..Default::default()
    };
    let err = pts
        .search(pb::SearchRequest {
            collection: "c".into(),
            ..with_payload(0)
        })
        .await
        .unwrap_err();
    assert_status(&err, Code::ResourceExhausted, "max_message_bytes");
    let err = pts
        .search_batch(pb::SearchBatchRequest {
            collection: "c".into(),
            searches: (0..10_000).map(with_payload).collect(),
        })
        .await
        .unwrap_err();
    assert_status(&err, Code::ResourceExhausted, "max_message_bytes");

    // 10,000 searches of k = 10,000 over 12 points fit; over 2,000 points not.
    let searches = |n| pb::SearchBatchRequest {
        collection: "c".into(),
        searches: (0..n)
            .map(|i| pb::SearchRequest {
                vector: random_f32(8, i),
                k: 10_000,
                ..Default::default()
            })
            .collect(),
    };
    let small = pts
        .search_batch(searches(10_000))
        .await
        .unwrap()
        .into_inner();
    assert!(small.results.iter().all(|r| r.hits.len() == 12));
    pts.upsert(pb::UpsertRequest {
        collection: "c".into(),
        points: (100..2100)
            .map(|id| pb::Point {
                id,
                vector: random_f32(8, id),
                payload: None,
            })
            .collect(),
    })
    .await
    .unwrap();
    let started = Instant::now();
    let err = pts.search_batch(searches(10_000)).await.unwrap_err();
    let took = started.elapsed();
    assert_status(&err, Code::ResourceExhausted, "up to about");
    let peak_mib = status_kib(server.pid(), "VmHWM") / 1024;
    eprintln!("oversized answers: peak RSS {peak_mib} MiB, batch refused in {took:?}");
    assert!(peak_mib < 400, "peak RSS {peak_mib} MiB");
}

/// An HTTP/2 connection to `server` without any gRPC library.
async fn h2_connect(url: &str) -> h2::client::SendRequest<Bytes> {
    let tcp = TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    send.ready().await.unwrap()
}

/// The headers of a gRPC call to `path`.
fn grpc_headers(url: &str, path: &str) -> http::Request<()> {
    http::Request::post(format!("{url}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

/// The 5-byte prefix of a gRPC message of `len` bytes.
fn message_prefix(len: u32) -> Bytes {
    let mut prefix = vec![0u8];
    prefix.extend(len.to_be_bytes());
    prefix.into()
}

/// A framed `HealthCheckRequest` for the whole server.
fn pb_health_request() -> Bytes {
    let message = tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    }
    .encode_to_vec();
    let mut framed = message_prefix(message.len() as u32).to_vec();
    framed.extend(message);
    framed.into()
}

/// The `grpc-status` a call ended with (headers or trailers), `None` if
/// the stream ended without one.
async fn grpc_status(response: h2::client::ResponseFuture) -> Option<i32> {
    let response = response.await.ok()?;
    let code = |headers: &http::HeaderMap| {
        headers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok()?.parse().ok())
    };
    if let Some(code) = code(response.headers()) {
        return Some(code);
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let _ = chunk.ok()?;
    }
    code(&body.trailers().await.ok()??)
}

/// Opens `streams` calls to `path` on each of `connections` connections,
/// each declaring a 4 MiB message and sending all of it but its last
/// byte; returns the status each call ended with (within 30 s).
async fn stalled_calls(url: &str, path: &str, connections: usize, streams: usize) -> Vec<i32> {
    const LEN: usize = 4 << 20;
    let body = Bytes::from(vec![0u8; LEN - 1]);
    let mut calls = Vec::new();
    for _ in 0..connections {
        let mut send = h2_connect(url).await;
        for _ in 0..streams {
            send = send.ready().await.unwrap();
            let (response, mut stream) = send.send_request(grpc_headers(url, path), false).unwrap();
            stream.send_data(message_prefix(LEN as u32), false).unwrap();
            stream.send_data(body.clone(), false).unwrap();
            calls.push(tokio::spawn(async move {
                let _keep_open = stream;
                grpc_status(response).await
            }));
        }
    }
    let mut codes = Vec::new();
    for call in calls {
        let code = tokio::time::timeout(Duration::from_secs(30), call)
            .await
            .expect("every stalled call ends within 30 s")
            .unwrap();
        codes.push(code.unwrap_or(-1));
    }
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_are_bounded_and_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        "max_message_bytes = 16777216\nmax_buffered_bytes = 33554432\n\
         max_buffered_bytes_per_connection = 16777216\n\
         request_body_timeout_ms = 1000",
    );
    seed(&server, 8, 1000, 100_000).await;
    let before = status_kib(server.pid(), "VmRSS") / 1024;

    // The open health service takes a few bytes per call, not 4 MiB.
    let health = stalled_calls(&server.url, "/grpc.health.v1.Health/Check", 4, 16).await;
    assert!(
        health.iter().all(|&c| c == Code::OutOfRange as i32),
        "{health:?}"
    );

    // Without API keys every service is open: 64 calls x 4 MiB to Upsert.
    let url = server.url.clone();
    let attack =
        tokio::spawn(async move { stalled_calls(&url, "/waypoint.v1.Points/Upsert", 4, 16).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let search = normal_search(&server, 8).await;
    let codes = attack.await.unwrap();
    let exhausted = codes
        .iter()
        .filter(|&&c| c == Code::ResourceExhausted as i32)
        .count();
    let timed_out = codes
        .iter()
        .filter(|&&c| c == Code::DeadlineExceeded as i32)
        .count();
    assert_eq!(exhausted + timed_out, codes.len(), "{codes:?}");
    // 32 MiB of budget holds at most 8 of the 4 MiB messages at once.
    assert!(exhausted >= 40 && timed_out >= 1, "{codes:?}");
    let peak = status_kib(server.pid(), "VmHWM") / 1024;
    eprintln!("stalled bodies: RSS {before} MiB before, peak {peak} MiB; {exhausted} refused, {timed_out} timed out; normal search {search:?}");
    assert!(
        peak < before + 160,
        "peak RSS {peak} MiB (from {before} MiB)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_excess_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        "max_connections = 20\nidle_timeout_ms = 1000\nmax_concurrent_streams = 7",
    );
    seed(&server, 8, 100, 100_000).await;
    // The server announces its stream limit.
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let (_send, mut h2) = h2::client::handshake(tcp).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(300), &mut h2).await;
    assert_eq!(h2.max_concurrent_send_streams(), 7);
    drop(h2);

    // A connection with a call in flight (a health Watch) outlives the
    // idle timeout, and takes another call afterwards.
    let mut send = h2_connect(&server.url).await;
    let watch = pb_health_request();
    let (watching, mut stream) = send
        .send_request(
            grpc_headers(&server.url, "/grpc.health.v1.Health/Watch"),
            false,
        )
        .unwrap();
    stream.send_data(watch.clone(), true).unwrap();
    let watching = watching.await.unwrap();
    assert_eq!(watching.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    send = send
        .ready()
        .await
        .expect("the busy connection is still open");
    let (check, mut stream) = send
        .send_request(
            grpc_headers(&server.url, "/grpc.health.v1.Health/Check"),
            false,
        )
        .unwrap();
    stream.send_data(watch, true).unwrap();
    assert_eq!(grpc_status(check).await, Some(0));
    drop((send, watching));

    // 30 silent sockets: those past the limit are closed at once, the
    // rest once idle; every one ends within 10 s.
    let started = Instant::now();
    let mut sockets = Vec::new();
    for _ in 0..30 {
        sockets.push(TcpStream::connect(server.addr()).await.unwrap());
    }
    let waits: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                let end = tokio::time::timeout(Duration::from_secs(10), async {
                    // Until EOF or an error; data is the server's SETTINGS.
                    while let Ok(1..) = socket.read(&mut buf).await {}
                })
                .await;
                assert!(end.is_ok(), "an idle connection stayed open 10 s");
                started.elapsed()
            })
        })
        .collect();
    let mut closed_at = Vec::new();
    for wait in waits {
        closed_at.push(wait.await.unwrap());
    }
    let early = closed_at
        .iter()
        .filter(|t| **t < Duration::from_millis(900))
        .count();
    assert!(
        early >= 10,
        "connections past the limit closed at once: {closed_at:?}"
    );
    // Slots are free again for a normal client.
    let search = normal_search(&server, 8).await;
    eprintln!("idle connections: closed at {closed_at:?}; normal search after {search:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_at_the_connection_limit_do_not_lock_out_a_new_client() {
    // The default idle timeout (60 s): only eviction can make room in time.
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "max_connections = 20");
    seed(&server, 8, 100, 100_000).await;
    // Twice the limit of silent sockets, each taking the slot of the one
    // idle longest.
    let mut sockets = Vec::new();
    for _ in 0..40 {
        sockets.push(TcpStream::connect(server.addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A real client still gets in and is answered at once (normal_search
    // fails past ANSWER_WITHIN).
    let search = normal_search(&server, 8).await;
    // The oldest sockets were closed; the newest 19 (the client took one
    // slot) still hold theirs.
    let mut closed = 0;
    for socket in &mut sockets {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_millis(50), async {
            while let Ok(1..) = socket.read(&mut buf).await {}
        })
        .await;
        closed += usize::from(read.is_ok());
    }
    assert!(closed >= 20, "only {closed} of 40 idle sockets were closed");
    eprintln!("40 idle sockets at max_connections 20: {closed} closed; normal search {search:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_does_not_spin_the_accept_loop() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("waypoint.toml");
    std::fs::write(&config, "[limits]\nmax_connections = 1000\n").unwrap();
    let server = Server::start_with_fd_limit(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
        64,
    );
    seed(&server, 8, 100, 100_000).await;
    // 100 idle sockets: more than the server has descriptors for.
    let mut sockets = Vec::new();
    for _ in 0..100 {
        sockets.push(TcpStream::connect(server.addr()).await.unwrap());
    }
    let cpu_before = cpu_seconds(server.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu = cpu_seconds(server.pid()) - cpu_before;
    drop(sockets);
    let search = normal_search(&server, 8).await;
    eprintln!("descriptors exhausted: {cpu:.2} CPU-s in 2 s; normal search after {search:?}");
    assert!(cpu < 0.5, "{cpu:.2} CPU-s in 2 s with no descriptors left");
}

/// A batch of `n` exact searches of k = 100 on `c`.
fn heavy_batch(n: u64, dim: usize) -> pb::SearchBatchRequest {
    pb::SearchBatchRequest {
        collection: "c".into(),
        searches: (0..n)
            .map(|i| pb::SearchRequest {
                vector: random_f32(dim, 1000 + i),
                k: 100,
                exact: true,
                ..Default::default()
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_and_reset_calls_stop_their_work() {
    const DIM: usize = 64;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "");
    seed(&server, DIM as u32, 20_000, 2_000).await;
    let pid = server.pid();
    let (_, pts) = server.clients().await;

    // Six heavy batches with a 100 ms deadline.
    let cpu_before = cpu_seconds(pid);
    let mut calls = Vec::new();
    for _ in 0..6 {
        let mut pts = pts.clone();
        let mut request = tonic::Request::new(heavy_batch(2_000, DIM));
        request.set_timeout(Duration::from_millis(100));
        calls.push(tokio::spawn(async move { pts.search_batch(request).await }));
    }
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        // The client's own timer may fire first (CANCELLED).
        assert!(
            matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled),
            "{err:?}"
        );
    }
    let search = normal_search(&server, DIM).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let deadline_cpu = cpu_seconds(pid) - cpu_before;

    // 300 calls reset right after they are sent (the "rapid reset" pattern).
    let cpu_before = cpu_seconds(pid);
    let body = heavy_batch(2_000, DIM).encode_to_vec();
    let mut framed = message_prefix(body.len() as u32).to_vec();
    framed.extend(body);
    let framed = Bytes::from(framed);
    let mut send = h2_connect(&server.url).await;
    for _ in 0..300 {
        send = match send.ready().await {
            Ok(send) => send,
            Err(_) => h2_connect(&server.url).await, // a GOAWAY for the resets
        };
        let request = grpc_headers(&server.url, "/waypoint.v1.Points/SearchBatch");
        let Ok((_, mut stream)) = send.send_request(request, false) else {
            continue;
        };
        let _ = stream.send_data(framed.clone(), true);
        stream.send_reset(h2::Reason::CANCEL);
    }
    let reset_search = normal_search(&server, DIM).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let reset_cpu = cpu_seconds(pid) - cpu_before;
    eprintln!(
        "abandoned work: deadline calls {deadline_cpu:.2} CPU-s, search {search:?}; \
         rapid reset {reset_cpu:.2} CPU-s, search {reset_search:?}"
    );
    // One heavy batch run to the end costs several CPU-seconds here.
    assert!(
        deadline_cpu < 4.0,
        "{deadline_cpu:.2} CPU-s after the deadlines"
    );
    assert!(reset_cpu < 4.0, "{reset_cpu:.2} CPU-s after the resets");
}
