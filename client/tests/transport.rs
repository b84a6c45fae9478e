//! The client's transport options against a real TLS server made here: a
//! private CA is trusted only when given, and the API key travels as
//! `authorization: Bearer <key>`. The stand-in server serves only
//! `grpc.health.v1` behind an auth check, so a Waypoint RPC that passes
//! the check is answered `UNIMPLEMENTED`, one that fails it
//! `UNAUTHENTICATED`: the answer shows which side of the check it reached.

use std::time::Duration;

use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Code, Request, Status};
use waypoint_client::{Client, RetryPolicy};

const KEY: &str = "s3cret-key";

fn require_key(request: Request<()>) -> Result<Request<()>, Status> {
    let expected = format!("Bearer {KEY}");
    match request.metadata().get("authorization") {
        Some(value) if value == expected.as_str() => Ok(request),
        _ => Err(Status::unauthenticated("missing or wrong API key")),
    }
}

/// Starts the TLS stand-in on 127.0.0.1; returns its port and CA (the
/// self-signed certificate itself, for "localhost").
async fn tls_server() -> (u16, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = certified.cert.pem();
    let key_pem = certified.signing_key.serialize_pem();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_, health) = tonic_health::server::health_reporter();
    let tls = ServerTlsConfig::new().identity(Identity::from_pem(&cert_pem, key_pem));
    let server = Server::builder()
        .tls_config(tls)
        .unwrap()
        .layer(tonic::service::InterceptorLayer::new(require_key))
        .add_service(health)
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    (port, cert_pem)
}

fn no_retry() -> RetryPolicy {
    RetryPolicy::none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_and_an_api_key_reaches_the_server() {
    let (port, ca) = tls_server().await;
    let url = format!("https://127.0.0.1:{port}");
    let client = Client::builder(&url)
        .ca_certificate_pem(ca.clone())
        .tls_domain_name("localhost")
        .api_key(KEY)
        .timeout(Duration::from_secs(10))
        .retry(no_retry())
        .connect()
        .await
        .expect("TLS handshake with the private CA");
    let err = client.list_collections().await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err}");

    // The same connection without the key is stopped at the check.
    let keyless = Client::builder(&url)
        .ca_certificate_pem(ca)
        .tls_domain_name("localhost")
        .retry(no_retry())
        .connect()
        .await
        .unwrap();
    let err = keyless.list_collections().await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_an_unknown_ca_is_refused() {
    let (port, _) = tls_server().await;
    let result = Client::builder(format!("https://127.0.0.1:{port}"))
        .tls_domain_name("localhost")
        .api_key(KEY)
        .retry(no_retry())
        .connect()
        .await;
    let err = match result {
        Ok(client) => client.list_collections().await.unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.code(), Code::Unavailable, "{err}");
}
