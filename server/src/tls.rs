//! The server's TLS identity (`--tls-cert`, `--tls-key`): reads both PEM
//! files and checks that they hold a certificate chain and a matching private
//! key, so that a bad file stops the server before it binds, with a message
//! naming the file. Handshakes themselves are tonic's (rustls, ring).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::config::TlsFiles;

/// Longest a client may take to finish its TLS handshake; a peer that
/// connects and stays silent (e.g. a plaintext client) is dropped after it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TLS identity cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// One of the two files is unreadable or holds no usable PEM block.
    #[error("TLS {role} {}: {problem}", path.display())]
    File {
        /// `certificate` or `private key`.
        role: &'static str,
        /// The file given.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Both files parse, but rustls refuses them as a pair (e.g. the key does
    /// not belong to the certificate, or the key type is unsupported).
    #[error("TLS certificate {} with key {}: {problem}", cert.display(), key.display())]
    Identity {
        /// Certificate file.
        cert: PathBuf,
        /// Key file.
        key: PathBuf,
        /// rustls's reason.
        problem: String,
    },
}

/// A server builder that terminates TLS with the identity in `files`.
///
/// # Errors
/// [`TlsError::File`] for an unreadable file, invalid PEM, a certificate
/// file without a `CERTIFICATE` block or a key file without a private key;
/// [`TlsError::Identity`] when rustls rejects the pair.
pub fn server_builder(files: &TlsFiles) -> Result<Server, TlsError> {
    let cert = read_pem(&files.cert, "certificate", |pem| {
        let chain = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
        if chain.is_empty() {
            return Err(pem::Error::NoItemsFound);
        }
        Ok(())
    })?;
    let key = read_pem(&files.key, "private key", |pem| {
        PrivateKeyDer::from_pem_slice(pem).map(drop)
    })?;
    let config = ServerTlsConfig::new()
        .identity(Identity::from_pem(cert, key))
        .timeout(HANDSHAKE_TIMEOUT);
    Server::builder()
        .tls_config(config)
        .map_err(|e| TlsError::Identity {
            cert: files.cert.clone(),
            key: files.key.clone(),
            problem: identity_problem(&e),
        })
}

/// Reads `path` and runs `parse` on it; the error says which file and why.
fn read_pem(
    path: &Path,
    role: &'static str,
    parse: impl FnOnce(&[u8]) -> Result<(), pem::Error>,
) -> Result<Vec<u8>, TlsError> {
    let file_error = |problem: String| TlsError::File {
        role,
        path: path.to_path_buf(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| file_error(format!("cannot read: {e}")))?;
    parse(&bytes).map_err(|e| {
        file_error(match e {
            pem::Error::NoItemsFound if role == "certificate" => {
                "no PEM `CERTIFICATE` block found (expected the server's certificate chain)".into()
            }
            pem::Error::NoItemsFound => "no PEM private key found (expected a `PRIVATE KEY`, \
                                         `RSA PRIVATE KEY` or `EC PRIVATE KEY` block)"
                .into(),
            other => format!("not valid PEM: {other}"),
        })
    })?;
    Ok(bytes)
}

/// rustls's reason for refusing the pair, in words (tonic itself says only
/// "transport error").
fn identity_problem(e: &tonic::transport::Error) -> String {
    let Some(source) = std::error::Error::source(e) else {
        return e.to_string();
    };
    match source.downcast_ref::<rustls::Error>() {
        Some(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            "the private key does not belong to the certificate (their public keys differ)".into()
        }
        _ => source.to_string(),
    }
}
