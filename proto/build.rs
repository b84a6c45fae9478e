//! Generates the `waypoint.v1` messages, clients and servers with
//! tonic-prost-build, using the protoc shipped by `protoc-bin-vendored` (no
//! system protoc), and writes the file descriptor set that server
//! reflection serves. Clients and servers use
//! [`codec::WaypointCodec`](src/codec.rs).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        // INVALID_ARGUMENT for bad protobuf, and a memory check before decoding.
        .codec_path("crate::codec::WaypointCodec")
        .file_descriptor_set_path(out_dir.join("waypoint_v1_descriptor.bin"))
        .compile_protos(
            &[
                "waypoint/v1/common.proto",
                "waypoint/v1/collections.proto",
                "waypoint/v1/points.proto",
            ],
            &["."],
        )?;
    Ok(())
}
