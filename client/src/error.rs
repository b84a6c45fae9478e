//! The client's error type: what a call to the server can fail with.
//!
//! A server's answer keeps its gRPC status code and message unchanged, so a
//! caller can match on [`tonic::Code`] (`NotFound`, `InvalidArgument`, …)
//! exactly as the `.proto` files document them.

use std::time::Duration;

/// Everything a [`crate::Client`] call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server (or the transport under it) answered with a gRPC status.
    /// `Unavailable` here means every retry was spent.
    #[error("{code:?}: {message}")]
    Status {
        /// The gRPC status code.
        code: tonic::Code,
        /// The status message, as the server wrote it.
        message: String,
    },
    /// No answer within the per-call timeout (the call may still have been
    /// applied by the server).
    #[error("DeadlineExceeded: no answer within {0:?}")]
    Timeout(Duration),
    /// The endpoint URL is not a valid `http://` or `https://` URI.
    #[error("invalid endpoint {url:?}: {reason}")]
    InvalidEndpoint {
        /// The URL that was given.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The channel could not be set up (TLS configuration, first connection).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL that was given.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The API key cannot be sent as an HTTP/2 header value.
    #[error("the API key is not a valid header value (printable ASCII only)")]
    InvalidApiKey,
}

impl ClientError {
    /// The gRPC status code of this error: the server's code for
    /// [`ClientError::Status`], `DeadlineExceeded` for a timeout,
    /// `InvalidArgument` for a bad endpoint or key, `Unavailable` when the
    /// channel could not be set up.
    pub fn code(&self) -> tonic::Code {
        match self {
            ClientError::Status { code, .. } => *code,
            ClientError::Timeout(_) => tonic::Code::DeadlineExceeded,
            ClientError::InvalidEndpoint { .. } | ClientError::InvalidApiKey => {
                tonic::Code::InvalidArgument
            }
            ClientError::Connect { .. } => tonic::Code::Unavailable,
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        ClientError::Status {
            code: status.code(),
            message: status.message().to_string(),
        }
    }
}
