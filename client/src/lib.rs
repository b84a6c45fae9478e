//! # waypoint-client
//!
//! Everything a program needs to use Waypoint from outside the server:
//!
//! - [`Client`]: a typed async wrapper over every RPC of `waypoint.v1`
//!   (`http://` or `https://` with a custom CA, API key, per-call timeout,
//!   retry with backoff on `Unavailable` only). Errors are
//!   [`ClientError`], which keeps the gRPC status code and message.
//! - [`router`]: the GLIDER-style expert router — register experts
//!   (adapters) by task-instruction embeddings, route a query to the best
//!   experts with scores and weights, get the dense routing bias, combine it
//!   with a per-layer local router. Embedded (in process) or remote (over a
//!   [`Client`]), same API and same answers.
//!
//! The generated messages are re-exported as [`pb`], so depending on this
//! crate alone is enough.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use waypoint_client::router::{
//!     combine, Aggregation, Embedding, Expert, ExpertFilter, ExpertLibrary, LibrarySpec,
//!     RouteOptions,
//! };
//!
//! let model = "all-MiniLM-L6-v2";
//! let mut library = ExpertLibrary::in_memory(LibrarySpec::new(model, 3))?;
//! let expert = |id, name: &str| Expert::new(id, name).with_base_model("t5-xl");
//! library.add(expert(1, "qa"), &[Embedding::new(model, &[1.0, 0.0, 0.0])]).await?;
//! library.add(expert(2, "summarise"), &[Embedding::new(model, &[0.0, 1.0, 0.0])]).await?;
//! library.add(expert(3, "nli"), &[Embedding::new(model, &[0.0, 0.0, 1.0])]).await?;
//!
//! // Global routing: the two best experts and their softmax weights.
//! let query = Embedding::new(model, &[0.8, 0.6, 0.0]);
//! let routed = library.route(query, &RouteOptions::default().with_top_k(2)).await?;
//! assert_eq!(routed[0].expert.name, "qa");
//! assert!((routed[0].score - 0.8).abs() < 1e-6);
//!
//! // Per-layer: GLIDER's softmax(local + s · global), top-2, renormalised.
//! let bias = library
//!     .global_scores(query, Aggregation::MaxOverKeys, &ExpertFilter::base_model("t5-xl"))
//!     .await?;
//! let chosen = combine(&[0.0, 2.0, 0.0], &bias, 3.0, 2)?;
//! assert_eq!(chosen[0].expert_id, 2);
//! # Ok::<(), waypoint_client::router::RouterError>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

mod client;
mod error;
pub mod router;

pub use client::{Client, ClientBuilder, RetryPolicy};
pub use error::ClientError;
pub use tonic::Code;
/// The `waypoint.v1` messages (requests, responses, payloads, filters).
pub use waypoint_proto::v1 as pb;
