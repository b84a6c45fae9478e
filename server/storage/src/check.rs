//! Offline verification and repair of a data directory, for `waypoint
//! check` and `waypoint repair` (no server running).
//!
//! [`check_collection`] reads every file of a collection (config, manifest,
//! each segment's index, points and tombstones files, the WAL's framing
//! and every logged operation against the config) and changes nothing.
//! [`repair_collection`] cuts a damaged WAL at its first bad record, after
//! saving the cut-off bytes beside it ([`wal::cut`]); damaged segments or
//! metadata it only reports, since their data is not in the log.

use std::path::{Path, PathBuf};

use super::collection::{Collection, Config, CONFIG_FILE, MANIFEST_FILE, WAL_FILE};
use super::manifest::Manifest;
use super::segment::{self, Sealed};
use super::wal::{self, Damage};
use super::{fsio, StorageError};

/// One problem found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// Byte offset of the damage, when known.
    pub offset: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(offset) = self.offset {
            write!(f, ": at byte {offset}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl Problem {
    /// The file, offset and reason of an error met reading `fallback`.
    fn of(e: StorageError, fallback: &Path) -> Self {
        match e {
            StorageError::Corrupt {
                path,
                offset,
                reason,
            } => Problem {
                path,
                offset: Some(offset),
                reason,
            },
            StorageError::Engine {
                source:
                    waypoint_index::Error::Corrupt {
                        path,
                        section,
                        reason,
                    },
                ..
            } => Problem {
                path,
                offset: None,
                reason: format!("section {section}: {reason}"),
            },
            StorageError::Io { ref path, .. } => Problem {
                path: path.clone(),
                offset: None,
                reason: e.to_string(),
            },
            other => Problem {
                path: fallback.to_path_buf(),
                offset: None,
                reason: other.to_string(),
            },
        }
    }
}

impl From<Damage> for Problem {
    fn from(d: Damage) -> Self {
        let reason = match d.lsn {
            Some(lsn) => format!("record LSN {lsn}: {}", d.reason),
            None => format!("record after LSN {}: {}", d.after_lsn, d.reason),
        };
        Problem {
            path: d.path,
            offset: Some(d.offset),
            reason,
        }
    }
}

/// What [`check_collection`] found.
#[derive(Debug, Default)]
pub struct Report {
    /// Every problem, in the order the files were read.
    pub problems: Vec<Problem>,
    /// Sealed segments read.
    pub segments: usize,
    /// WAL records above the checkpoint, before any damage.
    pub wal_records: usize,
    /// Bytes of a torn WAL tail (an interrupted, never acknowledged write
    /// that the next open cuts off): not a problem.
    pub torn_bytes: u64,
}

/// The collection directories under `data_dir/collections/` (only `only`,
/// if given), by name.
///
/// # Errors
/// [`StorageError::NotFound`] if `only` is not there; [`StorageError::Io`]
/// if the directory cannot be listed.
pub fn collections(
    data_dir: &Path,
    only: Option<&str>,
) -> Result<Vec<(String, PathBuf)>, StorageError> {
    let root = data_dir.join("collections");
    if let Some(name) = only {
        let dir = root.join(name);
        return if dir.is_dir() {
            Ok(vec![(name.to_string(), dir)])
        } else {
            Err(StorageError::NotFound(name.to_string()))
        };
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&root).map_err(|e| StorageError::io(&root, e))? {
        let entry = entry.map_err(|e| StorageError::io(&root, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.path().is_dir() {
            found.push((name, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Reads every file of the collection in `dir` and reports what is wrong;
/// changes nothing.
pub fn check_collection(dir: &Path) -> Report {
    let mut report = Report::default();
    let config_path = dir.join(CONFIG_FILE);
    let config = match fsio::read_toml::<Config>(&config_path) {
        Ok(Some(config)) => match config.validate() {
            Ok(()) => Some(config),
            Err(e) => {
                report.problems.push(Problem {
                    path: config_path,
                    offset: None,
                    reason: e.to_string(),
                });
                None
            }
        },
        Ok(None) => {
            report.problems.push(Problem {
                path: config_path,
                offset: None,
                reason: "missing: a collection directory must hold its config".into(),
            });
            None
        }
        Err(e) => {
            report.problems.push(Problem::of(e, &config_path));
            None
        }
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = Manifest::load(&manifest_path)
        .map_err(|e| report.problems.push(Problem::of(e, &manifest_path)))
        .ok();
    for &n in manifest.iter().flat_map(|m| &m.segments) {
        let index = segment::index_path(dir, n);
        match Sealed::open(dir, n) {
            Ok((sealed, _)) => {
                report.segments += 1;
                let view = &sealed.view;
                if let Some(c) = config
                    .as_ref()
                    .filter(|c| view.dim() != c.dim || view.metric() != c.metric)
                {
                    report.problems.push(Problem {
                        path: index,
                        offset: Some(0),
                        reason: format!(
                            "segment is {}-d {}, the collection {}-d {}",
                            view.dim(),
                            view.metric(),
                            c.dim,
                            c.metric
                        ),
                    });
                }
            }
            Err(e) => report.problems.push(Problem::of(e, &index)),
        }
    }
    let checkpoint = manifest.as_ref().map_or(0, |m| m.checkpoint_lsn);
    let wal_path = dir.join(WAL_FILE);
    match wal::inspect(&wal_path, checkpoint) {
        Ok(inspected) => {
            report.torn_bytes = inspected.torn_bytes;
            let refused = config
                .as_ref()
                .and_then(|c| first_refused(c, &wal_path, &inspected));
            report.wal_records = refused
                .as_ref()
                .map_or(inspected.records.len(), |(i, _)| *i);
            let damage = refused.map(|(_, d)| d).or(inspected.damage);
            report.problems.extend(damage.map(Problem::from));
        }
        Err(e) => report.problems.push(Problem::of(e, &wal_path)),
    }
    report
}

/// The first logged operation the write path refuses, with its position.
fn first_refused(
    config: &Config,
    path: &Path,
    inspected: &wal::Inspected,
) -> Option<(usize, Damage)> {
    inspected
        .records
        .iter()
        .enumerate()
        .find_map(|(i, logged)| {
            let e = config.check_operation(&logged.op).err()?;
            let reason = format!("not a valid write: {e}");
            Some((i, Damage::refused(path, logged.offset, logged.lsn, reason)))
        })
}

/// Takes the data directory's lock, as the server does at start, so that
/// no server runs while repair works; held until the file is dropped.
///
/// # Errors
/// [`StorageError::InUse`] if a server (or another repair) holds it.
pub fn lock(data_dir: &Path) -> Result<std::fs::File, StorageError> {
    super::catalog::lock_data_dir(data_dir)
}

/// What [`repair_collection`] did.
#[derive(Debug, Default)]
pub struct Repaired {
    /// Each cut: where the log was cut, and the file holding the cut-off bytes.
    pub cuts: Vec<(Damage, PathBuf)>,
    /// Live points once it opens read-write (`None` if it still does not open).
    pub points: Option<u64>,
    /// Problems repair cannot fix (a damaged segment, config or manifest:
    /// restore those files from a backup).
    pub unrepaired: Vec<Problem>,
}

/// Cuts the WAL of the collection in `dir` at its first bad record,
/// saving the cut-off bytes beside it, until the collection opens
/// read-write; reports what else is wrong. The caller holds the data
/// directory's lock.
///
/// # Errors
/// [`StorageError::Io`] or [`StorageError::DiskFull`] if a cut fails (the
/// log is then unchanged).
pub fn repair_collection(dir: &Path) -> Result<Repaired, StorageError> {
    let mut repaired = Repaired::default();
    let wal_path = dir.join(WAL_FILE);
    let report = check_collection(dir);
    repaired.unrepaired = report
        .problems
        .into_iter()
        .filter(|p| p.path != wal_path)
        .collect();
    if !repaired.unrepaired.is_empty() {
        return Ok(repaired);
    }
    // Opening replays the log as the server does, so it also finds a
    // record that checks but does not apply; each pass cuts one record.
    loop {
        match Collection::open(dir) {
            Ok(c) => match c.wal_damage().cloned() {
                None => {
                    repaired.points = Some(c.count(None));
                    return Ok(repaired);
                }
                Some(damage) => {
                    drop(c);
                    let saved = wal::cut(&wal_path, damage.offset)?;
                    repaired.cuts.push((damage, saved));
                }
            },
            Err(e) => {
                repaired.unrepaired.push(Problem::of(e, dir));
                return Ok(repaired);
            }
        }
    }
}
