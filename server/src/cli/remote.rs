//! How CLI commands reach a running server: `--url` with `--api-key` and
//! `--ca-cert`, shared by every command that talks to one, and the mapping
//! of client errors to [`CliError`] naming the URL.

use std::future::Future;
use std::path::PathBuf;

use clap::Args;
use waypoint_client::{Client, ClientError};

use super::CliError;
use crate::config::ApiKey;

/// Credentials and trust for a server URL.
#[derive(Debug, Args)]
pub(crate) struct RemoteArgs {
    /// API key of a server that requires one (sent as
    /// `authorization: Bearer <key>`); writes need the read-write key.
    #[arg(long, env = "WAYPOINT_API_KEY", hide_env_values = true)]
    api_key: Option<ApiKey>,
    /// PEM CA certificate to trust for an https:// URL, besides the public
    /// web roots (for a server with a private CA).
    #[arg(long, env = "WAYPOINT_CA_CERT")]
    ca_cert: Option<PathBuf>,
}

/// A running server to talk to: its URL and credentials.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Server URL, e.g. http://127.0.0.1:6543 (https:// for TLS).
    #[arg(long, env = "WAYPOINT_URL")]
    url: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

impl ServerArgs {
    /// Connects, then runs `calls` with the client on a fresh runtime;
    /// a failed call becomes a [`CliError`] naming the URL.
    pub(crate) fn run<T, F, Fut>(&self, calls: F) -> Result<T, CliError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
        runtime.block_on(async {
            let client = self.remote.connect(&self.url).await?;
            calls(client).await.map_err(|e| failed(&self.url, e))
        })
    }
}

impl RemoteArgs {
    /// A client of `url` with these credentials.
    ///
    /// # Errors
    /// [`CliError::CaCert`] if the CA file cannot be read,
    /// [`CliError::Connect`] if the server cannot be reached.
    pub(crate) async fn connect(&self, url: &str) -> Result<Client, CliError> {
        let mut builder = Client::builder(url);
        if let Some(key) = &self.api_key {
            builder = builder.api_key(key.as_str());
        }
        if let Some(path) = &self.ca_cert {
            let pem = std::fs::read(path).map_err(|source| CliError::CaCert {
                path: path.clone(),
                source,
            })?;
            builder = builder.ca_certificate_pem(pem);
        }
        builder.connect().await.map_err(|e| failed(url, e))
    }
}

/// A client error as a [`CliError`] naming `url`.
pub(crate) fn failed(url: &str, e: ClientError) -> CliError {
    match e {
        // A plaintext call to a TLS server fails in the transport, with
        // one of several codes and texts; the server's first bytes tell.
        ClientError::Status { code, message }
            if matches!(
                code,
                tonic::Code::Unknown
                    | tonic::Code::Internal
                    | tonic::Code::Cancelled
                    | tonic::Code::Unavailable
            ) && speaks_tls(url) =>
        {
            CliError::Connect {
                url: url.to_string(),
                reason: format!("the server speaks TLS, not plaintext HTTP/2 ({message}); use https:// (with --ca-cert for a private CA)"),
            }
        }
        ClientError::Status { code, message } => CliError::Remote {
            url: url.to_string(),
            status: tonic::Status::new(code, message),
        },
        ClientError::Connect { reason, .. } => CliError::Connect {
            url: url.to_string(),
            reason,
        },
        other => CliError::Connect {
            url: url.to_string(),
            reason: other.to_string(),
        },
    }
}

/// Whether the server behind an `http://` URL answers the HTTP/2 preface
/// with a TLS record (an alert or a handshake): it wants `https://`.
fn speaks_tls(url: &str) -> bool {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;

    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let Some(addr) = authority.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return false;
    };
    let limit = Duration::from_secs(2);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, limit) else {
        return false;
    };
    let mut first = [0u8; 1];
    stream.set_read_timeout(Some(limit)).is_ok()
        && stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").is_ok()
        && stream.read_exact(&mut first).is_ok()
        // TLS record types: 0x15 alert, 0x16 handshake.
        && matches!(first[0], 0x15 | 0x16)
}
