//! `waypoint import`: streams a vector file into a running server with
//! `Points.UpsertStream`, one batch per message, ids `first_id..` in file
//! order (existing points with those ids are replaced),
//! with a progress bar; prints the points written and the rate. Speaks TLS
//! to an `https://` URL (trusting `--ca-cert` besides the public roots) and
//! sends `--api-key` with every call.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use tokio_stream::wrappers::ReceiverStream;
use waypoint_client::Client;
use waypoint_datasets::Reader;
use waypoint_index::Metric;
use waypoint_proto::v1 as pb;

use super::load::progress_bar;
use super::remote::{self, RemoteArgs};
use super::{parse_metric, CliError};

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Vectors to import: .fvecs or .npy (float32), one row per point.
    vectors: PathBuf,
    /// Server URL, e.g. http://127.0.0.1:6543 (https:// for TLS).
    #[arg(long, env = "WAYPOINT_URL")]
    url: String,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Collection to write to.
    #[arg(long)]
    collection: String,
    /// Create the collection first (dimension from the file).
    #[arg(long, requires = "metric")]
    create: bool,
    /// Metric of a created collection: l2, cosine or ip.
    #[arg(long, value_parser = parse_metric)]
    metric: Option<Metric>,
    /// Points per batch (one stream message each).
    #[arg(long, default_value = "1000")]
    batch: NonZeroUsize,
    /// Id of the file's first row; row i gets id `first_id + i`. Points
    /// already in the collection with those ids are replaced, so give a
    /// second file of the same collection ids after the first one's.
    #[arg(long, default_value_t = 0)]
    first_id: u64,
}

pub(crate) fn run(args: ImportArgs, out: &mut impl Write) -> Result<(), CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let (points, seconds) = runtime.block_on(import(&args))?;
    writeln!(
        out,
        "imported {points} points into {} in {seconds:.2} s ({:.0} points/s)",
        args.collection,
        points as f64 / seconds.max(1e-9)
    )?;
    Ok(())
}

async fn import(args: &ImportArgs) -> Result<(u64, f64), CliError> {
    let reader = Reader::<f32>::open(&args.vectors)?;
    let dim = reader.dim();
    let room = u128::from(u64::MAX - args.first_id) + 1;
    if u128::from(reader.rows()) > room {
        return Err(CliError::IdsOverflow {
            path: args.vectors.clone(),
            first_id: args.first_id,
            rows: reader.rows(),
            room,
        });
    }
    let failed = |e| remote::failed(&args.url, e);
    let client = args.remote.connect(&args.url).await?;
    if args.create {
        let metric = match args.metric.expect("clap requires --metric with --create") {
            Metric::L2Squared => pb::Metric::L2,
            Metric::Cosine => pb::Metric::Cosine,
            Metric::InnerProduct => pb::Metric::Ip,
        };
        client
            .create_collection(pb::CreateCollectionRequest {
                name: args.collection.clone(),
                dim: dim as u32,
                metric: metric as i32,
                ..Default::default()
            })
            .await
            .map_err(failed)?;
    }
    let outcome = stream_rows(args, &client, reader).await;
    if outcome.is_err() && args.create {
        remove_if_empty(&client, &args.collection).await;
    }
    outcome
}

/// Streams every row of `reader` into the collection; returns the points
/// written and the seconds it took.
async fn stream_rows(
    args: &ImportArgs,
    client: &Client,
    mut reader: Reader<f32>,
) -> Result<(u64, f64), CliError> {
    let failed = |e| remote::failed(&args.url, e);
    let bar = progress_bar(reader.rows());
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::UpsertRequest>(4);
    let collection = args.collection.clone();
    let batch = args.batch.get();
    let first_id = args.first_id;
    let progress = bar.clone();
    // Read and encode on a blocking thread while the stream sends.
    let producer = tokio::task::spawn_blocking(move || -> Result<(), CliError> {
        let mut next_id = first_id;
        while let Some(rows) = reader.read_rows(batch)? {
            let points: Vec<pb::Point> = rows
                .iter()
                .map(|v| {
                    let id = next_id;
                    // Checked up front: only the increment after the last
                    // row can wrap, and that value is never used.
                    next_id = next_id.wrapping_add(1);
                    pb::Point {
                        id,
                        vector: v.to_vec(),
                        payload: None,
                    }
                })
                .collect();
            let n = points.len() as u64;
            let request = pb::UpsertRequest {
                collection: collection.clone(),
                points,
            };
            if tx.blocking_send(request).is_err() {
                return Ok(()); // the stream ended early; its status says why
            }
            progress.inc(n);
        }
        Ok(())
    });
    let start = Instant::now();
    let done = client
        .upsert_from_stream(ReceiverStream::new(rx))
        .await
        .map_err(failed)?;
    producer.await.expect("the reader does not panic")?;
    bar.finish_and_clear();
    Ok((done.points, start.elapsed().as_secs_f64()))
}

/// Deletes the collection this import created if nothing reached it (a
/// file rejected at its first batch), so the corrected file can be
/// imported with `--create` again. A collection holding points is kept.
async fn remove_if_empty(client: &Client, collection: &str) {
    let count = client
        .count(pb::CountRequest {
            collection: collection.to_string(),
            filter: None,
        })
        .await;
    if matches!(count, Ok(c) if c.count == 0) {
        let _ = client
            .delete_collection(pb::DeleteCollectionRequest {
                name: collection.to_string(),
            })
            .await;
    }
}
