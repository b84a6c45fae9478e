//! `waypoint check` and `waypoint repair`: verify every file of a data
//! directory without a server, and cut a damaged WAL at its first bad
//! record (keeping the cut-off bytes beside it) so the collection opens
//! read-write again.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::storage::check;

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The server's data directory (its `--data-dir`).
    data_dir: PathBuf,
    /// Check only this collection.
    #[arg(long)]
    collection: Option<String>,
}

/// Prints one line per collection, then one per problem (file, byte
/// offset, what is wrong); fails if any was found.
pub(crate) fn run_check(args: CheckArgs, out: &mut impl Write) -> Result<(), CliError> {
    let mut problems = 0;
    for (name, dir) in check::collections(&args.data_dir, args.collection.as_deref())? {
        let report = check::check_collection(&dir);
        if report.problems.is_empty() {
            write!(
                out,
                "{name}: OK ({} sealed segments, {} WAL records",
                report.segments, report.wal_records
            )?;
            if report.torn_bytes > 0 {
                write!(
                    out,
                    ", a torn tail of {} bytes: an interrupted write, never acknowledged, cut at the next open",
                    report.torn_bytes
                )?;
            }
            writeln!(out, ")")?;
        } else {
            writeln!(out, "{name}: {} problems", report.problems.len())?;
            for p in &report.problems {
                writeln!(out, "  {p}")?;
            }
        }
        problems += report.problems.len();
    }
    if problems > 0 {
        return Err(CliError::Damaged {
            data_dir: args.data_dir,
            problems,
        });
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct RepairArgs {
    /// The server's data directory (stop the server first).
    data_dir: PathBuf,
    /// Repair only this collection.
    #[arg(long)]
    collection: Option<String>,
}

/// Cuts each damaged WAL at its first bad record and prints what was cut
/// and where the cut-off bytes are; fails if a problem remains that a cut
/// cannot fix (a damaged segment, config or manifest).
pub(crate) fn run_repair(args: RepairArgs, out: &mut impl Write) -> Result<(), CliError> {
    let _lock = check::lock(&args.data_dir)?;
    let mut unrepaired = 0;
    for (name, dir) in check::collections(&args.data_dir, args.collection.as_deref())? {
        let repaired = check::repair_collection(&dir)?;
        for (damage, saved) in &repaired.cuts {
            writeln!(
                out,
                "{name}: cut {damage}; the {} cut-off bytes are in {}",
                std::fs::metadata(saved).map_or(0, |m| m.len()),
                saved.display()
            )?;
        }
        match repaired.points {
            Some(points) if repaired.cuts.is_empty() => {
                writeln!(out, "{name}: OK, nothing to repair ({points} points)")?;
            }
            Some(points) => writeln!(out, "{name}: opens read-write with {points} points")?,
            None => {
                writeln!(
                    out,
                    "{name}: cannot repair; restore these files from a backup:"
                )?;
                for p in &repaired.unrepaired {
                    writeln!(out, "  {p}")?;
                }
            }
        }
        unrepaired += repaired.unrepaired.len();
    }
    if unrepaired > 0 {
        return Err(CliError::Damaged {
            data_dir: args.data_dir,
            problems: unrepaired,
        });
    }
    Ok(())
}
