//! Helpers for the gRPC tests: start the real `waypoint` binary on a free
//! 127.0.0.1 port over a data directory, connect the generated clients,
//! stop it gracefully (SIGTERM) or with `kill -9`. Every server is killed
//! when its handle drops, so no test leaves one running.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tonic::transport::Channel;
use waypoint_proto::v1 as pb;
use waypoint_proto::v1::collections_client::CollectionsClient;
use waypoint_proto::v1::points_client::PointsClient;

/// A running `waypoint serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `waypoint serve` over `data_dir` on a free port, with extra
    /// arguments, and waits (at most 60 s) until it listens.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_full(data_dir, extra, &[], "warn", Stdio::inherit())
    }

    /// [`Server::start_with`] with environment variables `env` set for the
    /// server only, the log filter `log`, and its log (stderr) going to
    /// `stderr`.
    pub fn start_full(
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        log: &str,
        stderr: Stdio,
    ) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_waypoint"));
        command.envs(env.iter().copied()).stderr(stderr);
        Self::spawn(command, data_dir, extra, log)
    }

    /// [`Server::start_with`] under `ulimit -n fd_limit` (soft and hard).
    pub fn start_with_fd_limit(data_dir: &Path, extra: &[&str], fd_limit: u64) -> Server {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {fd_limit} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_waypoint"));
        Self::spawn(command, data_dir, extra, "warn")
    }

    /// Runs `command` with `serve` and its arguments and waits (at most
    /// 60 s) for the address it reports.
    fn spawn(mut command: Command, data_dir: &Path, extra: &[&str], log: &str) -> Server {
        let mut child = command
            .args(["serve", "--addr", "127.0.0.1:0", "--log", log, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start waypoint serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("waypoint serve did not report its address within 60 s");
            }
        };
        Server {
            child,
            url: format!("http://{addr}"),
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// A field of `/proc/PID/status` (e.g. `VmRSS` in KiB, `Threads`).
    pub fn status_field(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }

    /// Starts `waypoint serve` over `data_dir` with default settings.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &[])
    }

    /// Connected Collections and Points clients.
    pub async fn clients(&self) -> (CollectionsClient<Channel>, PointsClient<Channel>) {
        let channel = Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .expect("connect to the server");
        (
            CollectionsClient::new(channel.clone()),
            PointsClient::new(channel)
                .max_decoding_message_size(usize::MAX)
                .max_encoding_message_size(usize::MAX),
        )
    }

    /// A [`waypoint_client::Client`] that never retries (a test must see
    /// every failure as it happened), with a 60 s bound on each call.
    pub async fn client(&self) -> waypoint_client::Client {
        waypoint_client::Client::builder(self.url.clone())
            .retry(waypoint_client::RetryPolicy::none())
            .timeout(Duration::from_secs(60))
            .connect()
            .await
            .expect("connect to the server")
    }

    /// Whether the process is still running (it has not exited or died).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `kill -9`: no chance to flush or clean up.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits (at most 30 s) for a clean exit; returns whether
    /// it exited with status 0.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("send SIGTERM");
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the server did not exit within 30 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Asserts that the server on `channel` reports `waypoint.v1.Points` as
/// SERVING (the health check carries no API key).
pub async fn assert_serving(channel: Channel) {
    let health = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "waypoint.v1.Points".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn random_f32(n: usize, seed: u64) -> Vec<f32> {
    waypoint_datasets::synthetic::uniform_values(n, seed)
}

/// A create request with the given segment size limit.
pub fn create(
    name: &str,
    dim: u32,
    metric: pb::Metric,
    segment_max_points: u64,
) -> pb::CreateCollectionRequest {
    pb::CreateCollectionRequest {
        name: name.into(),
        dim,
        metric: metric as i32,
        segment_max_points,
        ..Default::default()
    }
}

/// A keyword payload value.
pub fn keyword(s: &str) -> pb::Value {
    pb::Value {
        kind: Some(pb::value::Kind::Keyword(s.into())),
    }
}

/// An integer payload value.
pub fn integer(i: i64) -> pb::Value {
    pb::Value {
        kind: Some(pb::value::Kind::Integer(i)),
    }
}

/// A keyword match condition.
pub fn match_keyword(key: &str, value: &str) -> pb::Condition {
    pb::Condition {
        condition: Some(pb::condition::Condition::Match(pb::Match {
            key: key.into(),
            value: Some(pb::r#match::Value::Keyword(value.into())),
        })),
    }
}

/// The names `List` reports, in its order.
pub async fn list_names(collections: &mut CollectionsClient<Channel>) -> Vec<String> {
    collections
        .list(pb::ListCollectionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .collections
        .into_iter()
        .map(|c| c.config.unwrap().name)
        .collect()
}

/// Every live point of `collection`.
pub async fn count_all(points: &mut PointsClient<Channel>, collection: &str) -> u64 {
    points
        .count(pb::CountRequest {
            collection: collection.into(),
            filter: None,
        })
        .await
        .unwrap()
        .into_inner()
        .count
}
