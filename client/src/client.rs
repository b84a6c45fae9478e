//! [`Client`]: a typed async wrapper over every RPC of `waypoint.v1`.
//!
//! One method per RPC, taking and returning the generated messages. Every
//! call carries the API key (`authorization: Bearer <key>`) when one is set,
//! is bounded by the per-call timeout when one is set, and is retried with
//! exponential backoff when — and only when — the answer is `Unavailable`
//! (the server is down, restarting or unreachable). Other codes come back at
//! once, as [`ClientError::Status`] with the server's code and message.
//!
//! This module never interprets the messages: routing lives in
//! [`crate::router`].

use std::future::Future;
use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use waypoint_proto::v1 as pb;
use waypoint_proto::v1::collections_client::CollectionsClient;
use waypoint_proto::v1::points_client::PointsClient;

use crate::error::ClientError;

/// Largest message the client encodes or decodes: a grouped search over
/// thousands of experts with payloads is far past tonic's 4 MiB default.
const MAX_MESSAGE_BYTES: usize = 1 << 30;

/// When and how often a call answered `Unavailable` is tried again.
///
/// Attempt `n` (from 1) that fails with `Unavailable` waits
/// `min(initial_backoff · multiplier^(n−1), max_backoff)` before attempt
/// `n + 1`; after `max_attempts` attempts the last error is returned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first; 1 disables retrying.
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub initial_backoff: Duration,
    /// Upper bound of any wait.
    pub max_backoff: Duration,
    /// Growth factor of the wait from one attempt to the next.
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    /// 4 attempts, waiting 100 ms, 200 ms, 400 ms (at most 2 s).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            multiplier: 2.0,
        }
    }
}

impl RetryPolicy {
    /// No retry: one attempt.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait after failed attempt `attempt` (from 1).
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = self
            .multiplier
            .max(1.0)
            .powi(attempt.saturating_sub(1) as i32);
        self.initial_backoff
            .mul_f64(factor.min(1e6))
            .min(self.max_backoff)
    }
}

/// Settings of a [`Client`]; start from [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    api_key: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    retry: RetryPolicy,
    ca_pem: Option<Vec<u8>>,
    domain_name: Option<String>,
}

impl ClientBuilder {
    /// Sends `authorization: Bearer <key>` with every call.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Bounds every call (each attempt) by `timeout`; the server is told the
    /// deadline too (`grpc-timeout`). Default: none.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Bounds the TCP (and TLS) connection set-up. Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retry policy for `Unavailable` answers. Default: [`RetryPolicy::default`].
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Trusts this PEM-encoded CA certificate for an `https://` endpoint, in
    /// addition to the public web roots (for servers with a private CA).
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// The name the server's certificate must carry, when it differs from
    /// the URL's host (e.g. connecting by IP address).
    pub fn tls_domain_name(mut self, name: impl Into<String>) -> Self {
        self.domain_name = Some(name.into());
        self
    }

    fn endpoint(&self) -> Result<Endpoint, ClientError> {
        let invalid = |reason: String| ClientError::InvalidEndpoint {
            url: self.url.clone(),
            reason,
        };
        let https = if self.url.starts_with("https://") {
            true
        } else if self.url.starts_with("http://") {
            false
        } else {
            return Err(invalid("the scheme must be http:// or https://".into()));
        };
        let mut endpoint = Endpoint::from_shared(self.url.clone())
            .map_err(|e| invalid(e.to_string()))?
            .connect_timeout(self.connect_timeout);
        if https {
            let mut tls = ClientTlsConfig::new().with_webpki_roots();
            if let Some(pem) = &self.ca_pem {
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            if let Some(name) = &self.domain_name {
                tls = tls.domain_name(name.clone());
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| ClientError::Connect {
                url: self.url.clone(),
                reason: format!("TLS configuration: {e}"),
            })?;
        }
        Ok(endpoint)
    }

    fn finish(self, channel: Channel) -> Result<Client, ClientError> {
        let auth = match &self.api_key {
            Some(key) => Some(
                format!("Bearer {key}")
                    .parse::<MetadataValue<_>>()
                    .map_err(|_| ClientError::InvalidApiKey)?,
            ),
            None => None,
        };
        Ok(Client {
            collections: CollectionsClient::new(channel.clone()),
            points: PointsClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            auth,
            timeout: self.timeout,
            retry: self.retry,
        })
    }

    /// Connects now.
    ///
    /// # Errors
    /// [`ClientError::InvalidEndpoint`] for a malformed URL,
    /// [`ClientError::InvalidApiKey`], [`ClientError::Connect`] when the
    /// server cannot be reached or the TLS handshake fails.
    pub async fn connect(self) -> Result<Client, ClientError> {
        let channel = self
            .endpoint()?
            .connect()
            .await
            .map_err(|e| ClientError::Connect {
                url: self.url.clone(),
                reason: connect_failure(&self.url, &e),
            })?;
        self.finish(channel)
    }

    /// A client that connects on its first call (and reconnects after a
    /// failure), so a server that is not up yet is waited for by the retry
    /// policy rather than refused here.
    ///
    /// # Errors
    /// [`ClientError::InvalidEndpoint`], [`ClientError::InvalidApiKey`].
    pub fn connect_lazy(self) -> Result<Client, ClientError> {
        let channel = self.endpoint()?.connect_lazy();
        self.finish(channel)
    }
}

/// Why the first connection to `url` failed, said so that the reader knows
/// what to do: no server at the address, or TLS spoken to a plaintext
/// server; otherwise the transport's cause chain, without tonic's generic
/// "transport error" and without repeated links.
fn connect_failure(url: &str, e: &(dyn std::error::Error + 'static)) -> String {
    let mut links: Vec<String> = Vec::new();
    let mut refused = false;
    let mut source = Some(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        let text = cause.to_string();
        // Each layer tends to repeat its cause's text after its own.
        if text != "transport error" && !links.iter().any(|l| l.contains(&text)) {
            links.retain(|l| !text.contains(l.as_str()));
            links.push(text);
        }
        source = cause.source();
    }
    let address = url.split_once("://").map_or(url, |(_, rest)| rest);
    let address = address.trim_end_matches('/');
    let chain = links.join(": ");
    if refused {
        format!("no server is listening at {address} (connection refused); start one with `waypoint serve --addr {address}` or check the URL")
    } else if url.starts_with("https://") && chain.contains("InvalidContentType") {
        format!("the server at {address} does not speak TLS (it answered in plaintext); use http:// instead of https://")
    } else if chain.contains("UnknownIssuer") {
        format!("{chain}: the server's certificate is not signed by a CA this client trusts; pass the CA's PEM file (e.g. `--ca-cert ca.pem`, or `ClientBuilder::ca_certificate_pem`)")
    } else {
        chain
    }
}

/// A connection to a `waypoint serve`, cheap to clone (clones share the
/// HTTP/2 channel).
///
/// ```no_run
/// # async fn demo() -> Result<(), waypoint_client::ClientError> {
/// use std::time::Duration;
/// use waypoint_client::{pb, Client};
///
/// let client = Client::builder("http://127.0.0.1:6334")
///     .timeout(Duration::from_secs(5))
///     .connect()
///     .await?;
/// let all = client.list_collections().await?;
/// println!("{} collections", all.collections.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    collections: CollectionsClient<Channel>,
    points: PointsClient<Channel>,
    auth: Option<MetadataValue<tonic::metadata::Ascii>>,
    timeout: Option<Duration>,
    retry: RetryPolicy,
}

impl Client {
    /// Settings for a client of the server at `url` (`http://host:port` or
    /// `https://host:port`): no API key, no timeout, default retry.
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            api_key: None,
            timeout: None,
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            ca_pem: None,
            domain_name: None,
        }
    }

    /// Connects to `url` with default settings.
    ///
    /// # Errors
    /// As [`ClientBuilder::connect`].
    pub async fn connect(url: impl Into<String>) -> Result<Client, ClientError> {
        Self::builder(url).connect().await
    }

    /// `message` as a request carrying the API key, if one is set.
    fn request<M>(&self, message: M) -> tonic::Request<M> {
        let mut request = tonic::Request::new(message);
        if let Some(auth) = &self.auth {
            request.metadata_mut().insert("authorization", auth.clone());
        }
        request
    }

    /// Runs one RPC under the key, timeout and retry policy. `rpc` is called
    /// once per attempt with a fresh request carrying a clone of `message`.
    async fn call<M, R, F, Fut>(&self, message: M, rpc: F) -> Result<R, ClientError>
    where
        M: Clone,
        F: Fn(tonic::Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let mut attempt = 1;
        loop {
            let mut request = self.request(message.clone());
            let answer = match self.timeout {
                Some(limit) => {
                    request.set_timeout(limit);
                    tokio::time::timeout(limit, rpc(request))
                        .await
                        .map_err(|_| ClientError::Timeout(limit))?
                }
                None => rpc(request).await,
            };
            match answer {
                Ok(response) => return Ok(response.into_inner()),
                Err(status)
                    if status.code() == tonic::Code::Unavailable
                        && attempt < self.retry.max_attempts =>
                {
                    tokio::time::sleep(self.retry.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(status) => return Err(status.into()),
            }
        }
    }

    /// `Collections.Create`: creates a collection.
    ///
    /// # Errors
    /// `AlreadyExists` if the name is taken; `InvalidArgument` for a bad name or parameter.
    pub async fn create_collection(
        &self,
        request: pb::CreateCollectionRequest,
    ) -> Result<pb::CreateCollectionResponse, ClientError> {
        self.call(request, |r| {
            let mut rpc = self.collections.clone();
            async move { rpc.create(r).await }
        })
        .await
    }

    /// `Collections.Get`: a collection's config and stats.
    ///
    /// # Errors
    /// `NotFound` if it does not exist; `DataLoss` if it failed to open.
    pub async fn get_collection(
        &self,
        request: pb::GetCollectionRequest,
    ) -> Result<pb::GetCollectionResponse, ClientError> {
        self.call(request, |r| {
            let mut rpc = self.collections.clone();
            async move { rpc.get(r).await }
        })
        .await
    }

    /// `Collections.List`: every collection that opened, in name order.
    ///
    /// # Errors
    /// Transport failures only.
    pub async fn list_collections(&self) -> Result<pb::ListCollectionsResponse, ClientError> {
        self.call(pb::ListCollectionsRequest {}, |r| {
            let mut rpc = self.collections.clone();
            async move { rpc.list(r).await }
        })
        .await
    }

    /// `Collections.Delete`: deletes a collection and all its files.
    ///
    /// # Errors
    /// `NotFound` if it does not exist.
    pub async fn delete_collection(
        &self,
        request: pb::DeleteCollectionRequest,
    ) -> Result<pb::DeleteCollectionResponse, ClientError> {
        self.call(request, |r| {
            let mut rpc = self.collections.clone();
            async move { rpc.delete(r).await }
        })
        .await
    }

    /// `Points.Upsert`: inserts or replaces a batch of points, all or nothing.
    ///
    /// # Errors
    /// `NotFound` for an unknown collection; `InvalidArgument` naming the bad point.
    pub async fn upsert(
        &self,
        request: pb::UpsertRequest,
    ) -> Result<pb::UpsertResponse, ClientError> {
        self.call(request, |r| {
            let mut rpc = self.points.clone();
            async move { rpc.upsert(r).await }
        })
        .await
    }

    /// `Points.UpsertStream`: bulk import, one streamed request per batch,
    /// each applied (all or nothing) as it arrives. On `Unavailable` the
    /// whole stream is sent again, which is safe because upserting a point
    /// twice leaves the same state.
    ///
    /// # Errors
    /// As [`Client::upsert`]; on an error the batches before the bad one
    /// stay written.
    pub async fn upsert_stream(
        &self,
        batches: Vec<pb::UpsertRequest>,
    ) -> Result<pb::UpsertStreamResponse, ClientError> {
        self.call(batches, |r| {
            let mut rpc = self.points.clone();
            async move {
                let (metadata, extensions, batches) = r.into_parts();
                let stream =
                    tonic::Request::from_parts(metadata, extensions, tokio_stream::iter(batches));
                rpc.upsert_stream(stream).await
            }
        })
        .await
    }

    /// `Points.UpsertStream` fed from `batches` as they are produced, so an
    /// import larger than memory is never held whole. Sent once: a consumed
    /// stream cannot be replayed, so `Unavailable` comes back rather than
    /// being retried, and the per-call timeout does not apply (an import
    /// may rightly take long).
    ///
    /// # Errors
    /// As [`Client::upsert_stream`]; the batches before a failure stay written.
    pub async fn upsert_from_stream<S>(
        &self,
        batches: S,
    ) -> Result<pb::UpsertStreamResponse, ClientError>
    where
        S: tokio_stream::Stream<Item = pb::UpsertRequest> + Send + 'static,
    {
        let mut rpc = self.points.clone();
        Ok(rpc.upsert_stream(self.request(batches)).await?.into_inner())
    }

    /// `Points.Delete`: deletes points by id or by filter.
    ///
    /// # Errors
    /// `NotFound` for an unknown collection; `InvalidArgument` for a malformed selector.
    pub async fn delete_points(
        &self,
        request: pb::DeletePointsRequest,
    ) -> Result<pb::DeletePointsResponse, ClientError> {
        self.call(request, |r| {
            let mut rpc = self.points.clone();
            async move { rpc.delete(r).await }
        })
        .await
    }

    /// `Points.Get`: fetches points by id (absent ids are left out).
    ///
    /// # Errors
    /// `NotFound` for an unknown collection.
    pub async fn get_points(
        &self,
        request: pb::GetPointsRequest,
    ) -> Result<pb::GetPointsResponse, ClientError> {
        self.call(request, |r| {
            let mut rpc = self.points.clone();
            async move { rpc.get(r).await }
        })
        .await
    }

    /// `Points.Count`: counts points, optionally those passing a filter.
    ///
    /// # Errors
    /// `NotFound` for an unknown collection; `InvalidArgument` for a malformed filter.
    pub async fn count(&self, request: pb::CountRequest) -> Result<pb::CountResponse, ClientError> {
        self.call(request, |r| {
            let mut rpc = self.points.clone();
            async move { rpc.count(r).await }
        })
        .await
    }

    /// `Points.Search`: the k nearest points to a query vector.
    ///
    /// # Errors
    /// `NotFound` for an unknown collection; `InvalidArgument` for a bad vector, `k` or filter.
    pub async fn search(
        &self,
        request: pb::SearchRequest,
    ) -> Result<pb::SearchResponse, ClientError> {
        self.call(request, |r| {
            let mut rpc = self.points.clone();
            async move { rpc.search(r).await }
        })
        .await
    }

    /// `Points.SearchBatch`: several searches of one collection, answered in order.
    ///
    /// # Errors
    /// As [`Client::search`], for the first bad search.
    pub async fn search_batch(
        &self,
        request: pb::SearchBatchRequest,
    ) -> Result<pb::SearchBatchResponse, ClientError> {
        self.call(request, |r| {
            let mut rpc = self.points.clone();
            async move { rpc.search_batch(r).await }
        })
        .await
    }

    /// `Points.SearchGroups`: nearest points grouped by a payload key.
    ///
    /// # Errors
    /// As [`Client::search`]; `InvalidArgument` when `k · group_size` exceeds the server's max k.
    pub async fn search_groups(
        &self,
        request: pb::SearchGroupsRequest,
    ) -> Result<pb::SearchGroupsResponse, ClientError> {
        self.call(request, |r| {
            let mut rpc = self.points.clone();
            async move { rpc.search_groups(r).await }
        })
        .await
    }
}
