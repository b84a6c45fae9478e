//! # waypoint-proto
//!
//! Waypoint's gRPC API, package `waypoint.v1`, generated from
//! `proto/waypoint/v1/*.proto` at build time (tonic + prost, with a vendored
//! protoc): the messages, the `Collections` and `Points` clients
//! (`collections_client`, `points_client`) and servers
//! (`collections_server`, `points_server`), and the encoded file descriptor
//! set that server reflection serves. The generated code decodes through
//! [`codec::WaypointCodec`]: bad protobuf is `INVALID_ARGUMENT`, and a
//! message that would decode into far more memory than its size is refused.
//!
//! The `.proto` files are the reference: every message and field is
//! documented there, and the same text is on the generated items.

pub mod codec;

/// The `waypoint.v1` package.
pub mod v1 {
    #![allow(missing_docs)] // documented in the .proto files; prost copies those comments
    tonic::include_proto!("waypoint.v1");

    /// The encoded `FileDescriptorSet` of `waypoint.v1`, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("waypoint_v1_descriptor");
}
