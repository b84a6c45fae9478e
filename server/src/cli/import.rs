//! `waypoint import`: streams a vector file into a running server with
//! `Points.UpsertStream`, one batch per message, ids `first_id..` in file
//! order (existing points with those ids are replaced),
//! with a progress bar; prints the points written and the rate. Speaks TLS
//! to an `https://` URL (trusting `--ca-cert` besides the public roots) and
//! sends `--api-key` with every call.

use std::io::{BufRead, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use tokio_stream::wrappers::ReceiverStream;
use waypoint_client::Client;
use waypoint_datasets::{Matrix, Reader};
use waypoint_index::Metric;
use waypoint_proto::v1 as pb;

use super::collections::metric_to_pb;
use super::load::progress_bar;
use super::payload;
use super::remote::{self, RemoteArgs};
use super::{parse_metric, CliError};

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Vectors to import: .fvecs, .bvecs or .npy (float32, or uint8
    /// converted to float32), one row per point.
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
    /// Payloads: a JSON Lines file, line i holding row i's payload as an
    /// object (strings, integers, floats, booleans, lists of strings).
    #[arg(long)]
    payloads: Option<PathBuf>,
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
    let reader = Rows::open(&args.vectors)?;
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
        let metric = metric_to_pb(args.metric.expect("clap requires --metric with --create"));
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
    mut reader: Rows,
) -> Result<(u64, f64), CliError> {
    let failed = |e| remote::failed(&args.url, e);
    let bar = progress_bar(reader.rows());
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::UpsertRequest>(4);
    let collection = args.collection.clone();
    let batch = args.batch.get();
    let first_id = args.first_id;
    let progress = bar.clone();
    let mut payloads = args.payloads.as_deref().map(Payloads::open).transpose()?;
    // Read and encode on a blocking thread while the stream sends.
    let producer = tokio::task::spawn_blocking(move || -> Result<(), CliError> {
        let mut next_id = first_id;
        while let Some(rows) = reader.read_rows(batch)? {
            let mut points = Vec::with_capacity(rows.rows());
            for v in rows.iter() {
                let id = next_id;
                // Checked up front: only the increment after the last
                // row can wrap, and that value is never used.
                next_id = next_id.wrapping_add(1);
                let payload = payloads.as_mut().map(Payloads::next).transpose()?;
                points.push(pb::Point {
                    id,
                    vector: v.to_vec(),
                    payload,
                });
            }
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
        payloads.map_or(Ok(()), Payloads::finish)
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

/// The vector file, float32 or uint8 (converted as `load` does).
enum Rows {
    F32(Reader<f32>),
    U8(Reader<u8>),
}

impl Rows {
    fn open(path: &Path) -> Result<Self, CliError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !["fvecs", "bvecs", "npy"].contains(&ext.to_ascii_lowercase().as_str()) {
            return Err(CliError::ImportFormat {
                path: path.to_path_buf(),
            });
        }
        match Reader::<f32>::open(path) {
            Ok(reader) => Ok(Rows::F32(reader)),
            Err(waypoint_datasets::Error::WrongDtype { found, .. }) => {
                match Reader::<u8>::open(path) {
                    Ok(reader) => Ok(Rows::U8(reader)),
                    Err(_) => Err(waypoint_datasets::Error::WrongDtype {
                        path: path.to_path_buf(),
                        found,
                        expected: "float32 or uint8".into(),
                    }
                    .into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn dim(&self) -> usize {
        match self {
            Rows::F32(r) => r.dim(),
            Rows::U8(r) => r.dim(),
        }
    }

    fn rows(&self) -> u64 {
        match self {
            Rows::F32(r) => r.rows(),
            Rows::U8(r) => r.rows(),
        }
    }

    /// The next at most `max_rows` rows as float32.
    fn read_rows(&mut self, max_rows: usize) -> Result<Option<Matrix<f32>>, CliError> {
        Ok(match self {
            Rows::F32(r) => r.read_rows(max_rows)?,
            Rows::U8(r) => r.read_rows(max_rows)?.map(Matrix::from),
        })
    }
}

/// The `--payloads` file, read one line per row.
struct Payloads {
    path: PathBuf,
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    line: usize,
}

impl Payloads {
    fn open(path: &Path) -> Result<Self, CliError> {
        let file = std::fs::File::open(path).map_err(|e| CliError::Payloads {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(Payloads {
            path: path.to_path_buf(),
            lines: std::io::BufReader::new(file).lines(),
            line: 0,
        })
    }

    fn fail(&self, reason: impl ToString) -> CliError {
        CliError::Payloads {
            path: self.path.clone(),
            reason: format!("line {}: {}", self.line, reason.to_string()),
        }
    }

    /// The next row's payload.
    fn next(&mut self) -> Result<pb::Payload, CliError> {
        self.line += 1;
        let text =
            match self.lines.next() {
                Some(line) => line.map_err(|e| self.fail(e))?,
                None => return Err(self.fail(
                    "no payload for this row: the file has fewer lines than the vectors have rows",
                )),
            };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| self.fail(e))?;
        let object = value
            .as_object()
            .ok_or_else(|| self.fail("expected a JSON object"))?;
        payload::from_json(object).map_err(|e| self.fail(e))
    }

    /// Checks that no payload is left over.
    fn finish(mut self) -> Result<(), CliError> {
        self.line += 1;
        match self.lines.next() {
            None => Ok(()),
            Some(_) => Err(self.fail("more payload lines than the vectors have rows")),
        }
    }
}
