//! `waypoint query`, `count`, `get` and `delete`: a running server's points,
//! through `Points.Search`, `Count`, `Get` and `Delete`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};
use waypoint_client::pb;

use super::payload;
use super::records::{self, Format};
use super::remote::ServerArgs;
use super::{filter, CliError};

/// `--filter`, readable or JSON (see `waypoint query --help`).
fn parse_filter(text: &str) -> Result<pb::Filter, String> {
    filter::parse(text)
}

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Collection to search.
    #[arg(long)]
    collection: String,
    /// Query vectors: .fvecs, .bvecs or .npy, one query per row.
    #[arg(long)]
    vectors: PathBuf,
    /// Search only this row of the file (from 0) [default: every row].
    #[arg(long)]
    row: Option<usize>,
    /// Nearest points per query.
    #[arg(long, default_value_t = 10)]
    k: u32,
    /// HNSW ef (candidate list size) [default: the server's].
    #[arg(long)]
    ef: Option<u32>,
    /// Brute force instead of the HNSW graph.
    #[arg(long)]
    exact: bool,
    /// Only points whose payload passes: readable, e.g.
    /// `lang=en and year!=2020 and tag=a|b` (`has_id=1|2` for ids; quote a
    /// value to make it a keyword), or JSON in Qdrant's shape,
    /// `{"must": [{"key": "lang", "match": {"value": "en"}}]}`.
    #[arg(long, value_parser = parse_filter)]
    filter: Option<pb::Filter>,
    /// Print each hit's payload.
    #[arg(long)]
    with_payload: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct CountArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Collection to count.
    #[arg(long)]
    collection: String,
    /// Count only points passing this filter (as `query --filter`).
    #[arg(long, value_parser = parse_filter)]
    filter: Option<pb::Filter>,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Collection to read.
    #[arg(long)]
    collection: String,
    /// Point ids, e.g. `3 17 42` or `3,17,42`.
    #[arg(required = true, value_delimiter = ',')]
    ids: Vec<u64>,
    /// Print the stored vectors too (unit length under cosine).
    #[arg(long)]
    with_vectors: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("selector").required(true).args(["ids", "filter"])))]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Collection to delete from.
    #[arg(long)]
    collection: String,
    /// Point ids to delete, e.g. `3,17,42`.
    #[arg(long, value_delimiter = ',')]
    ids: Vec<u64>,
    /// Delete every point passing this filter (as `query --filter`).
    #[arg(long, value_parser = parse_filter)]
    filter: Option<pb::Filter>,
}

/// An f32 as the shortest decimal that reads back as it (`0.12832642`,
/// not the f64 widening `0.128326416015625`).
fn shortest(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .map_or(Value::Null, Value::from)
}

/// The query rows: `(row number, vector)`.
fn queries(args: &QueryArgs) -> Result<Vec<(usize, Vec<f32>)>, CliError> {
    let m = waypoint_datasets::read_f32(&args.vectors)?;
    match args.row {
        Some(row) if row >= m.rows() => Err(CliError::NoSuchRow {
            path: args.vectors.clone(),
            row,
            rows: m.rows(),
        }),
        Some(row) => Ok(vec![(row, m.row(row).to_vec())]),
        None => Ok(m.iter().map(<[f32]>::to_vec).enumerate().collect()),
    }
}

pub(crate) fn query(args: QueryArgs, out: &mut impl Write) -> Result<(), CliError> {
    let queries = queries(&args)?;
    let request = |vector: Vec<f32>| pb::SearchRequest {
        collection: args.collection.clone(),
        vector,
        k: args.k,
        ef: args.ef.unwrap_or(0),
        exact: args.exact,
        filter: args.filter.clone(),
        with_payload: args.with_payload,
        with_vectors: false,
    };
    let answers = args.server.run(|c| async move {
        let mut answers = Vec::with_capacity(queries.len());
        for (row, vector) in queries {
            answers.push((row, c.search(request(vector)).await?.hits));
        }
        Ok(answers)
    })?;
    let mut header = vec!["query", "rank", "id", "distance"];
    if args.with_payload {
        header.push("payload");
    }
    let mut rows = Vec::new();
    for (row, hits) in &answers {
        for (rank, hit) in hits.iter().enumerate() {
            let mut record = vec![
                json!(row),
                json!(rank + 1),
                json!(hit.id),
                shortest(hit.distance),
            ];
            if args.with_payload {
                record.push(payload::to_json(hit.payload.as_ref()));
            }
            rows.push(record);
        }
    }
    out.write_all(records::render(args.format, &header, &rows).as_bytes())?;
    Ok(())
}

pub(crate) fn count(args: CountArgs, out: &mut impl Write) -> Result<(), CliError> {
    let request = pb::CountRequest {
        collection: args.collection,
        filter: args.filter,
    };
    let counted = args.server.run(|c| async move { c.count(request).await })?;
    writeln!(out, "{}", counted.count)?;
    Ok(())
}

pub(crate) fn get(args: GetArgs, out: &mut impl Write) -> Result<(), CliError> {
    let request = pb::GetPointsRequest {
        collection: args.collection,
        ids: args.ids.clone(),
        with_vectors: args.with_vectors,
        with_payload: true,
    };
    let got = args
        .server
        .run(|c| async move { c.get_points(request).await })?;
    let mut header = vec!["id", "payload"];
    if args.with_vectors {
        header.push("vector");
    }
    let rows: Vec<Vec<Value>> = got
        .points
        .iter()
        .map(|p| {
            let mut record = vec![json!(p.id), payload::to_json(p.payload.as_ref())];
            if args.with_vectors {
                record.push(json!(p.vector.as_ref().map_or(&[][..], |v| &v.values)));
            }
            record
        })
        .collect();
    out.write_all(records::render(args.format, &header, &rows).as_bytes())?;
    let missing: Vec<String> = args
        .ids
        .iter()
        .filter(|id| !got.points.iter().any(|p| p.id == **id))
        .map(u64::to_string)
        .collect();
    if !missing.is_empty() {
        // A note beside the records, not part of them.
        eprintln!("not found: {}", missing.join(", "));
    }
    Ok(())
}

pub(crate) fn delete(args: DeleteArgs, out: &mut impl Write) -> Result<(), CliError> {
    let selector = match args.filter {
        Some(filter) => pb::delete_points_request::Selector::Filter(filter),
        None => pb::delete_points_request::Selector::Ids(pb::PointIds { ids: args.ids }),
    };
    let request = pb::DeletePointsRequest {
        collection: args.collection.clone(),
        selector: Some(selector),
    };
    let deleted = args
        .server
        .run(|c| async move { c.delete_points(request).await })?;
    writeln!(
        out,
        "deleted {} points from {}",
        deleted.deleted, args.collection
    )?;
    Ok(())
}
