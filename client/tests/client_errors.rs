//! `Client` behaviour that needs no server: endpoint and key checks, and
//! retry with backoff on `Unavailable` (a closed port answers
//! `Unavailable`).

use std::time::{Duration, Instant};

use waypoint_client::{pb, Client, ClientError, Code, RetryPolicy};

/// A local port with nobody listening.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn unavailable_is_retried_with_exponential_backoff_then_reported() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        multiplier: 2.0,
    };
    let client = Client::builder(&url).retry(retry).connect_lazy().unwrap();
    let start = Instant::now();
    let err = client.list_collections().await.unwrap_err();
    // Two waits: 100 ms then 200 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(err.code(), Code::Unavailable);
    assert!(matches!(
        err,
        ClientError::Status {
            code: Code::Unavailable,
            ..
        }
    ));

    let once = Client::builder(&url)
        .retry(RetryPolicy::none())
        .connect_lazy()
        .unwrap();
    let start = Instant::now();
    assert_eq!(
        once.count(pb::CountRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::Unavailable
    );
    assert!(start.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn a_closed_port_fails_to_connect_eagerly() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let err = Client::connect(url.clone()).await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.to_string().contains(&url));
}

#[tokio::test]
async fn bad_endpoints_and_keys_are_refused() {
    for url in ["127.0.0.1:6334", "ftp://host:1", "http://"] {
        let err = Client::builder(url).connect_lazy().unwrap_err();
        assert!(
            matches!(err, ClientError::InvalidEndpoint { .. }),
            "{url}: {err}"
        );
        assert_eq!(err.code(), Code::InvalidArgument);
    }
    let err = Client::builder("http://127.0.0.1:1")
        .api_key("bad\nkey")
        .connect_lazy();
    assert!(matches!(err, Err(ClientError::InvalidApiKey)));
}
