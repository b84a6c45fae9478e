//! A visible note for a test that cannot run here (its data or tool is not
//! configured) and passes without checking anything.
//!
//! The test harness captures `print!` and `eprint!` of passing tests, so a
//! note written with them shows only under `--nocapture`. [`notice`] writes
//! to the process's standard error directly, which the harness does not
//! capture: the line appears in plain `cargo test` output, among the
//! `test … ok` lines.

use std::io::Write;

/// Writes `SKIPPED <test name>: <reason>` to standard error, uncaptured.
/// The test name is the harness's name for the current thread.
pub fn notice(reason: &str) {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {name}: {reason}");
}
