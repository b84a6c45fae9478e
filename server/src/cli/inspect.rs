//! `waypoint inspect`: print an index file's header fields, section table
//! and level histogram. Opening the file is its full verification (magic,
//! version, sizes, every section's CRC32C, every link id), so a file that
//! fails is an error whether or not `--verify` is given.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use waypoint_index::HnswView;

use super::CliError;

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Index file written by `waypoint load`.
    index: PathBuf,
    /// Also print the verification verdict ("verified: OK"). The engine
    /// verifies every file it opens, so this adds no work.
    #[arg(long)]
    verify: bool,
}

pub(crate) fn run(args: InspectArgs, out: &mut impl Write) -> Result<(), CliError> {
    let view = HnswView::open(&args.index)?;
    let params = view.params();
    writeln!(
        out,
        "file             {} ({} bytes)",
        args.index.display(),
        view.file_size()
    )?;
    writeln!(out, "dim              {}", view.dim())?;
    writeln!(out, "metric           {}", view.metric())?;
    writeln!(out, "M                {}", params.m)?;
    writeln!(out, "M0               {}", params.m0())?;
    writeln!(out, "ef_construction  {}", params.ef_construction)?;
    writeln!(out, "default ef       {}", params.ef_search)?;
    writeln!(out, "seed             {:#018x}", params.seed)?;
    writeln!(out, "nodes            {}", view.node_count())?;
    writeln!(out, "live             {}", view.len())?;
    writeln!(out, "deleted          {}", view.deleted_count())?;
    writeln!(out, "max level        {}", view.max_level())?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<16}  {:>12}  {:>12}  {:>10}",
        "section", "offset", "length", "crc32c"
    )?;
    for s in view.sections() {
        writeln!(
            out,
            "{:<16}  {:>12}  {:>12}  {:#010x}",
            s.name, s.offset, s.length, s.crc32c
        )?;
    }
    writeln!(out)?;
    writeln!(out, "{:<6}  {:>12}", "level", "nodes")?;
    for (level, nodes) in view.level_histogram().iter().enumerate() {
        writeln!(out, "{level:<6}  {nodes:>12}")?;
    }
    if args.verify {
        writeln!(out)?;
        writeln!(out, "verified: OK")?;
    }
    Ok(())
}
