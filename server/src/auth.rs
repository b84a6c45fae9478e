//! API-key authentication of every gRPC call, as a tower layer in front of
//! all services ([`AuthLayer`]).
//!
//! When a key is configured ([`ApiKeys::required`]), a call must carry
//! `authorization: Bearer <key>`: missing, malformed or unknown →
//! `UNAUTHENTICATED`. What a key may call is decided by [`METHODS`], one
//! table of full gRPC paths: the read-only key on a [`Access::Write`] method
//! → `PERMISSION_DENIED`; [`Access::Open`] methods (health) need no key; a
//! path missing from the table is refused for every key, so an RPC added
//! later is closed until someone classifies it. Keys are compared in
//! constant time and never logged or echoed.

use std::sync::Arc;
use std::task::{Context, Poll};

use subtle::ConstantTimeEq;
use tonic::body::Body;
use tonic::codegen::http::{header::AUTHORIZATION, HeaderMap, Request, Response};
use tonic::codegen::BoxFuture;
use tonic::Status;
use tower::{Layer, Service};

use crate::config::ApiKeys;

/// What a method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key (health checks, so load balancers need no secret).
    Open,
    /// Either key.
    Read,
    /// The read-write key.
    Write,
}

/// Every method the server answers, by full gRPC path, with what it needs.
pub const METHODS: &[(&str, Access)] = &[
    ("/grpc.health.v1.Health/Check", Access::Open),
    ("/grpc.health.v1.Health/Watch", Access::Open),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        Access::Read,
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        Access::Read,
    ),
    ("/waypoint.v1.Collections/Create", Access::Write),
    ("/waypoint.v1.Collections/Get", Access::Read),
    ("/waypoint.v1.Collections/List", Access::Read),
    ("/waypoint.v1.Collections/Delete", Access::Write),
    ("/waypoint.v1.Points/Upsert", Access::Write),
    ("/waypoint.v1.Points/UpsertStream", Access::Write),
    ("/waypoint.v1.Points/Delete", Access::Write),
    ("/waypoint.v1.Points/Get", Access::Read),
    ("/waypoint.v1.Points/Count", Access::Read),
    ("/waypoint.v1.Points/Search", Access::Read),
    ("/waypoint.v1.Points/SearchBatch", Access::Read),
    ("/waypoint.v1.Points/SearchGroups", Access::Read),
];

/// The access `path` needs; `None` for a path not in [`METHODS`].
pub fn access(path: &str) -> Option<Access> {
    METHODS
        .iter()
        .find(|(method, _)| *method == path)
        .map(|&(_, access)| access)
}

/// Which configured key a call carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    ReadWrite,
    ReadOnly,
}

/// Decides whether a call to `path` with `headers` may proceed.
///
/// # Errors
/// `UNAUTHENTICATED` (no, malformed or unknown key) or `PERMISSION_DENIED`
/// (read-only key on a write; a path not in [`METHODS`]); the message says
/// what was expected and never contains the key sent.
pub fn check(keys: &ApiKeys, path: &str, headers: &HeaderMap) -> Result<(), Status> {
    if !keys.required() {
        return Ok(());
    }
    let access = access(path);
    if access == Some(Access::Open) {
        return Ok(());
    }
    let role = role(keys, headers)?;
    match (access, role) {
        (Some(Access::Open | Access::Read), _) | (Some(Access::Write), Role::ReadWrite) => Ok(()),
        (Some(Access::Write), Role::ReadOnly) => Err(Status::permission_denied(format!(
            "{path} is a write; the read-only API key may only read (use the read-write key)"
        ))),
        (None, _) => Err(Status::permission_denied(format!(
            "{path} is not in the server's access table, so no key may call it"
        ))),
    }
}

/// The role of the key in `authorization: Bearer <key>`.
fn role(keys: &ApiKeys, headers: &HeaderMap) -> Result<Role, Status> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(Status::unauthenticated(
            "missing API key: send metadata `authorization: Bearer <api key>`",
        ));
    };
    let sent = bearer_token(value.as_bytes()).ok_or_else(|| {
        Status::unauthenticated("malformed `authorization` metadata: expected `Bearer <api key>`")
    })?;
    // Both comparisons always run, so timing does not tell which key matched.
    let read_write = matches(keys.read_write().map(|k| k.as_str().as_bytes()), sent);
    let read_only = matches(keys.read_only().map(|k| k.as_str().as_bytes()), sent);
    if read_write {
        Ok(Role::ReadWrite)
    } else if read_only {
        Ok(Role::ReadOnly)
    } else {
        Err(Status::unauthenticated(
            "invalid API key: the key in `authorization: Bearer <api key>` is not one of \
             this server's keys",
        ))
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive, RFC 7235), or
/// `None` for another shape.
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = value.split_at_checked(b"Bearer ".len())?;
    let token_ok = !token.is_empty() && token.iter().all(u8::is_ascii_graphic);
    (scheme.eq_ignore_ascii_case(b"Bearer ") && token_ok).then_some(token)
}

/// Constant-time equality of `sent` with a configured key (only the
/// lengths' equality is not hidden).
fn matches(key: Option<&[u8]>, sent: &[u8]) -> bool {
    key.is_some_and(|key| bool::from(key.ct_eq(sent)))
}

/// Applies [`check`] to every request before it reaches a service.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    keys: Arc<ApiKeys>,
}

impl AuthLayer {
    /// A layer enforcing `keys` (with no key configured it lets all through).
    pub fn new(keys: ApiKeys) -> Self {
        AuthLayer {
            keys: Arc::new(keys),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            inner,
            keys: Arc::clone(&self.keys),
        }
    }
}

/// A service behind [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct Authenticated<S> {
    inner: S,
    keys: Arc<ApiKeys>,
}

impl<S, B> Service<Request<B>> for Authenticated<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match check(&self.keys, request.uri().path(), request.headers()) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(status) => {
                tracing::debug!(
                    method = request.uri().path(),
                    code = ?status.code(),
                    "call refused by the API-key check"
                );
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;
    use tonic::codegen::http::HeaderValue;
    use tonic::Code;

    use super::*;
    use crate::config::ApiKey;

    const READ_WRITE: &str = "rw-key-0123";
    const READ_ONLY: &str = "ro-key-4567";

    fn keys() -> ApiKeys {
        ApiKeys::new(
            Some(ApiKey::from(READ_WRITE.to_string())),
            Some(ApiKey::from(READ_ONLY.to_string())),
        )
        .unwrap()
    }

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    /// Every method the server's services declare, from their descriptors.
    fn served_methods() -> BTreeSet<String> {
        let sets = [
            waypoint_proto::v1::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ];
        let mut methods = BTreeSet::new();
        for encoded in sets {
            let set = prost_types::FileDescriptorSet::decode(encoded).unwrap();
            for file in set.file {
                for service in &file.service {
                    for method in &service.method {
                        methods.insert(format!(
                            "/{}.{}/{}",
                            file.package(),
                            service.name(),
                            method.name()
                        ));
                    }
                }
            }
        }
        methods
    }

    #[test]
    fn the_access_table_lists_exactly_the_served_methods() {
        let served = served_methods();
        let table: BTreeSet<String> = METHODS.iter().map(|(m, _)| m.to_string()).collect();
        assert_eq!(table.len(), METHODS.len(), "a path is listed twice");
        let unclassified: Vec<_> = served.difference(&table).collect();
        assert!(
            unclassified.is_empty(),
            "classify these in auth::METHODS: {unclassified:?}"
        );
        let stale: Vec<_> = table.difference(&served).collect();
        assert!(stale.is_empty(), "no such methods: {stale:?}");
    }

    #[test]
    fn a_path_missing_from_the_table_is_refused_even_with_the_read_write_key() {
        for path in [
            "/waypoint.v1.Points/Compact",
            "/waypoint.v1.Admin/Shutdown",
            "/",
        ] {
            let err = check(&keys(), path, &bearer(&format!("Bearer {READ_WRITE}"))).unwrap_err();
            assert_eq!(err.code(), Code::PermissionDenied, "{path}");
            assert!(err.message().contains("access table"), "{}", err.message());
        }
        // Without keys configured the server is open, table or not.
        assert!(check(
            &ApiKeys::default(),
            "/waypoint.v1.Points/Compact",
            &HeaderMap::new()
        )
        .is_ok());
    }

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer abc"), Some(&b"abc"[..]));
        for malformed in [
            &b"abc"[..],
            b"Bearer ",
            b"Bearer  abc",
            b"Basic abc",
            b"Bearerabc",
            b"Bearer a b",
        ] {
            assert_eq!(bearer_token(malformed), None, "{malformed:?}");
        }
    }

    #[test]
    fn refusals_never_echo_the_key_sent() {
        let sent = "Bearer not-the-key-9999";
        let err = check(&keys(), "/waypoint.v1.Points/Search", &bearer(sent)).unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        assert!(
            !err.message().contains("not-the-key-9999"),
            "{}",
            err.message()
        );
        let err = check(
            &keys(),
            "/waypoint.v1.Points/Upsert",
            &bearer(&format!("Bearer {READ_ONLY}")),
        )
        .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        assert!(!err.message().contains(READ_ONLY), "{}", err.message());
    }
}
