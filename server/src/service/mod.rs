//! The gRPC services over the storage layer: [`collections`] and
//! [`points`] implement `waypoint.v1`, `convert` translates messages to
//! storage types (checking every field), `status` maps errors to gRPC
//! statuses and runs storage work off the async runtime under the
//! request's deadline.

pub mod collections;
mod convert;
pub mod points;
mod status;

pub use status::Work;
