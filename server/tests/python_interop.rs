//! A client nobody here wrote: Python `grpcio` compiles `proto/` with
//! `grpcio-tools` and runs create → upsert → search → delete against the
//! real server, then lists the services through reflection
//! (`server/tests/python/interop.py`). Runs when `WAYPOINT_PYTHON` names a
//! Python with grpcio and grpcio-tools (`.ci/run` sets it up); otherwise
//! writes a visible skip notice.

mod grpc_support;

use grpc_support::Server;

#[test]
fn python_grpcio_client_round_trips_and_lists_services_by_reflection() {
    let Some(python) = std::env::var_os("WAYPOINT_PYTHON") else {
        waypoint_datasets::skip::notice(
            "WAYPOINT_PYTHON is not set (a python with grpcio and grpcio-tools)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/interop.py");
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(server.url.trim_start_matches("http://"))
        .output()
        .expect("run the python interop script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "interop.py failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("python interop ok"), "{stdout}");
    assert!(server.stop());
}
