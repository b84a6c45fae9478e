//! `waypoint collections list|get|create|delete`: a running server's
//! collections, through `Collections.*`.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use waypoint_client::pb;
use waypoint_index::Metric;

use super::records::{self, Format};
use super::remote::ServerArgs;
use super::{parse_metric, CliError};

#[derive(Debug, Args)]
pub(crate) struct CollectionsArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Every collection: name, dim, metric, HNSW settings, points, size.
    List {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// One collection's settings and size.
    Get {
        /// Collection name.
        name: String,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Create an empty collection.
    Create {
        /// Collection name: 1 to 64 characters from [A-Za-z0-9_-].
        name: String,
        /// Vector dimension.
        #[arg(long)]
        dim: u32,
        /// Metric: l2, cosine or ip.
        #[arg(long, value_parser = parse_metric)]
        metric: Metric,
        /// HNSW M (links per node) [default: the server's, 16].
        #[arg(long)]
        m: Option<u32>,
        /// HNSW ef_construction [default: the server's, 200].
        #[arg(long)]
        ef_construction: Option<u32>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a collection and all its points.
    Delete {
        /// Collection name.
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// The API's metric for the engine's.
pub(crate) fn metric_to_pb(metric: Metric) -> pb::Metric {
    match metric {
        Metric::L2Squared => pb::Metric::L2,
        Metric::Cosine => pb::Metric::Cosine,
        Metric::InnerProduct => pb::Metric::Ip,
    }
}

const HEADER: [&str; 11] = [
    "name",
    "dim",
    "metric",
    "m",
    "ef_construction",
    "points",
    "deleted",
    "segments",
    "bytes",
    "state",
    "reason",
];

fn row(info: &pb::CollectionInfo) -> Vec<Value> {
    let config = info.config.clone().unwrap_or_default();
    let stats = info.stats.unwrap_or_default();
    let metric = match config.metric() {
        pb::Metric::L2 => "l2",
        pb::Metric::Cosine => "cosine",
        pb::Metric::Ip => "ip",
        pb::Metric::Unspecified => "unspecified",
    };
    // READ_ONLY / DAMAGED come with the reason (file, offset, LSN).
    let state = match info.state() {
        pb::CollectionState::ReadWrite => "read-write",
        pb::CollectionState::ReadOnly => "read-only",
        pb::CollectionState::Damaged => "damaged",
        pb::CollectionState::Unspecified => "unspecified",
    };
    vec![
        json!(config.name),
        json!(config.dim),
        json!(metric),
        json!(config.m),
        json!(config.ef_construction),
        json!(stats.points),
        json!(stats.deleted),
        json!(stats.segments),
        json!(stats.bytes),
        json!(state),
        json!(info.state_reason),
    ]
}

pub(crate) fn run(args: CollectionsArgs, out: &mut impl Write) -> Result<(), CliError> {
    match args.action {
        Action::List { server, format } => {
            let list = server.run(|c| async move { c.list_collections().await })?;
            let rows: Vec<_> = list.collections.iter().map(row).collect();
            out.write_all(records::render(format, &HEADER, &rows).as_bytes())?;
        }
        Action::Get {
            name,
            server,
            format,
        } => {
            let got = server.run(|c| async move {
                c.get_collection(pb::GetCollectionRequest { name }).await
            })?;
            let rows: Vec<_> = got.info.iter().map(row).collect();
            out.write_all(records::render(format, &HEADER, &rows).as_bytes())?;
        }
        Action::Create {
            name,
            dim,
            metric,
            m,
            ef_construction,
            server,
        } => {
            let request = pb::CreateCollectionRequest {
                name: name.clone(),
                dim,
                metric: metric_to_pb(metric) as i32,
                m: m.unwrap_or(0),
                ef_construction: ef_construction.unwrap_or(0),
                ..Default::default()
            };
            server.run(|c| async move { c.create_collection(request).await })?;
            writeln!(out, "created {name} ({dim}-d, {metric})")?;
        }
        Action::Delete { name, server } => {
            let request = pb::DeleteCollectionRequest { name: name.clone() };
            server.run(|c| async move { c.delete_collection(request).await })?;
            writeln!(out, "deleted {name}")?;
        }
    }
    Ok(())
}
