//! Rendering a search sweep as a table (for people), CSV or JSON (for
//! scripts). Pure formatting: no I/O, no measurement.

use std::fmt::Write;

use clap::ValueEnum;
use waypoint_datasets::eval::SweepRow;

/// How `waypoint search` prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Aligned columns, with a header describing the run.
    Table,
    /// `ef,k,threads,recall,qps,p50_us,p95_us,p99_us` (recall empty without
    /// ground truth).
    Csv,
    /// An array of objects with the CSV's fields (recall null without
    /// ground truth).
    Json,
}

/// The rows in `format`, newline-terminated.
pub(crate) fn render(format: OutputFormat, k: usize, threads: usize, rows: &[SweepRow]) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = match format {
        OutputFormat::Table => table(&mut s, k, rows),
        OutputFormat::Csv => csv(&mut s, k, threads, rows),
        OutputFormat::Json => json(&mut s, k, threads, rows),
    };
    s
}

fn table(s: &mut String, k: usize, rows: &[SweepRow]) -> std::fmt::Result {
    let recall_head = format!("recall@{k}");
    writeln!(
        s,
        "{:>6}  {recall_head:>10}  {:>10}  {:>8}  {:>8}  {:>8}",
        "ef", "QPS", "p50 us", "p95 us", "p99 us"
    )?;
    for row in rows {
        let recall = row.recall.map_or("-".to_string(), |r| format!("{r:.4}"));
        writeln!(
            s,
            "{:>6}  {recall:>10}  {:>10.1}  {:>8.1}  {:>8.1}  {:>8.1}",
            row.ef, row.qps, row.p50_us, row.p95_us, row.p99_us
        )?;
    }
    Ok(())
}

fn csv(s: &mut String, k: usize, threads: usize, rows: &[SweepRow]) -> std::fmt::Result {
    writeln!(s, "ef,k,threads,recall,qps,p50_us,p95_us,p99_us")?;
    for row in rows {
        let recall = row.recall.map_or(String::new(), |r| format!("{r:.6}"));
        writeln!(
            s,
            "{},{k},{threads},{recall},{:.1},{:.1},{:.1},{:.1}",
            row.ef, row.qps, row.p50_us, row.p95_us, row.p99_us
        )?;
    }
    Ok(())
}

/// Every field is a number (or null), so no string escaping is needed.
fn json(s: &mut String, k: usize, threads: usize, rows: &[SweepRow]) -> std::fmt::Result {
    writeln!(s, "[")?;
    for (i, row) in rows.iter().enumerate() {
        let recall = row.recall.map_or("null".to_string(), |r| format!("{r:.6}"));
        let comma = if i + 1 < rows.len() { "," } else { "" };
        writeln!(
            s,
            "  {{\"ef\": {}, \"k\": {k}, \"threads\": {threads}, \"recall\": {recall}, \"qps\": {:.1}, \"p50_us\": {:.1}, \"p95_us\": {:.1}, \"p99_us\": {:.1}}}{comma}",
            row.ef, row.qps, row.p50_us, row.p95_us, row.p99_us
        )?;
    }
    writeln!(s, "]")
}
