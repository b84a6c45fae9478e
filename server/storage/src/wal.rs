//! The write-ahead log of one collection.
//!
//! Every write is appended here, and made durable per the sync policy,
//! before it is applied and acknowledged. A record is
//!
//! ```text
//! u32 len    little-endian: bytes of lsn + operation
//! u32 crc    CRC32C of lsn + operation
//! u64 lsn    log sequence number, strictly increasing
//! [u8] op    the Operation, postcard-encoded
//! ```
//!
//! On open every record is checked. A damaged record that reaches the end
//! of the file is a *torn tail*: a write the crash interrupted, never
//! acknowledged; it is cut off. A damaged record followed by more bytes is
//! corruption of acknowledged data: the records before it are returned with
//! a [`Damage`] naming the file, the record's offset and why, the file is
//! left as it is, and nothing is repaired silently ([`cut`] does it on
//! request, keeping the cut-off bytes).
//!
//! After a checkpoint (every operation is in sealed segments named by the
//! manifest) the log is truncated; records at or below the checkpoint LSN
//! that survive a crash before truncation are skipped on replay.
//!
//! **Descriptors.** The file is open only during an append, sync or
//! truncation, so an idle collection holds no file descriptor and a server
//! with thousands of collections needs no raised `ulimit -n` (an open
//! costs microseconds; the fsync beside it, milliseconds). An fsync through
//! a new descriptor flushes what earlier ones wrote: durability is a
//! property of the file, not of the descriptor.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::payload::Payload;
use super::StorageError;

/// Bytes before a record's body: length and checksum.
const HEADER: usize = 8;

/// Largest accepted record body (1 GiB); a longer length field is damage.
const MAX_BODY: usize = 1 << 30;

/// One point as written to the log: the vector as the client sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointWrite {
    /// External id.
    pub id: u64,
    /// The vector, unnormalised.
    pub vector: Vec<f32>,
    /// The payload.
    pub payload: Payload,
}

/// A logged write, applied all or nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Operation {
    /// Insert or replace these points (distinct ids, each point checked as
    /// the write path checks it, also again on replay).
    Upsert(Vec<PointWrite>),
    /// Delete these ids (distinct; those present when it was logged).
    Delete(Vec<u64>),
}

/// The open log, positioned at its end.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    /// Bytes of whole records: where the next record starts.
    len: u64,
    next_lsn: u64,
    /// Why appends are refused (see [`Wal::stop`]); `None` while healthy.
    stopped: Option<String>,
    /// Tests: open the file read-only, so that writes and cuts fail.
    #[cfg(test)]
    read_only: bool,
}

/// One record read back from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    /// Its log sequence number.
    pub lsn: u64,
    /// Byte offset of the record in the log file.
    pub offset: u64,
    /// The operation, decoded but not yet checked against the collection.
    pub op: Operation,
}

/// What [`Wal::open`] found.
#[derive(Debug)]
pub struct Recovered {
    /// The open log.
    pub wal: Wal,
    /// Records after the checkpoint, in LSN order (those before `damage`).
    pub records: Vec<Logged>,
    /// Bytes of a torn tail that were cut off (0 if none).
    pub torn_bytes: u64,
    /// The first damaged record, if one is followed by more bytes.
    pub damage: Option<Damage>,
}

/// The first record of a log that is not replayed; every record before it
/// is. Found reading the log (framing, checksum, LSN order, decoding) or by the
/// collection (an operation the write path refuses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The log file.
    pub path: PathBuf,
    /// Byte offset of the record.
    pub offset: u64,
    /// The record's LSN, if its frame was intact enough to read it.
    pub lsn: Option<u64>,
    /// The last good LSN before it (0 if none).
    pub after_lsn: u64,
    /// What was wrong.
    pub reason: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: record at byte {}", self.path.display(), self.offset)?;
        match self.lsn {
            Some(lsn) => write!(f, " (LSN {lsn})")?,
            None => write!(f, " (after LSN {})", self.after_lsn)?,
        }
        write!(f, ": {}", self.reason)
    }
}

impl Damage {
    /// A whole record of the log at `path`, at `offset` with `lsn`, that
    /// replay refuses: `reason` says why.
    pub fn refused(path: &Path, offset: u64, lsn: u64, reason: String) -> Self {
        Damage {
            path: path.to_path_buf(),
            offset,
            lsn: Some(lsn),
            after_lsn: 0,
            reason,
        }
    }
}

/// What [`inspect`] found in a log, without changing it.
#[derive(Debug)]
pub struct Inspected {
    /// Records after the checkpoint before any damage, in LSN order.
    pub records: Vec<Logged>,
    /// Bytes of a torn tail (0 if none).
    pub torn_bytes: u64,
    /// The first damaged record followed by more bytes, if any.
    pub damage: Option<Damage>,
    /// The last good LSN (0 if none).
    pub last_lsn: u64,
}

/// Reads and checks the log at `path` like [`Wal::open`], but changes
/// nothing (a missing log is an empty one).
///
/// # Errors
/// [`StorageError::Io`] if it cannot be read.
pub fn inspect(path: &Path, checkpoint_lsn: u64) -> Result<Inspected, StorageError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(StorageError::io(path, e)),
    };
    Ok(scan(path, &bytes, checkpoint_lsn))
}

/// Cuts the log at `path` at byte `offset` (the start of a damaged
/// record), first saving the bytes from there on to
/// `<log>.cut-at-<offset>` beside it (fsynced), so nothing is thrown away
/// silently. Returns the saved file's path. For `waypoint repair`, with no
/// server running.
///
/// # Errors
/// [`StorageError::Io`] or [`StorageError::DiskFull`]; on error the log is
/// unchanged.
pub fn cut(path: &Path, offset: u64) -> Result<PathBuf, StorageError> {
    let bytes = std::fs::read(path).map_err(|e| StorageError::io(path, e))?;
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let mut saved_name = path.file_name().unwrap_or_default().to_os_string();
    saved_name.push(format!(".cut-at-{offset}"));
    let saved = path.with_file_name(saved_name);
    super::fsio::write_atomic(&saved, &bytes[start..])?;
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io(path, e))?;
    file.set_len(start as u64)
        .and_then(|()| file.sync_all())
        .map_err(|e| StorageError::io(path, e))?;
    Ok(saved)
}

impl Wal {
    /// Opens (or creates) the log at `path`, checks every record and returns
    /// those with an LSN above `checkpoint_lsn`. A torn tail is truncated
    /// away (and the truncation fsynced). A damaged record that is not the
    /// tail (or does not decode) ends the records returned and is reported
    /// in [`Recovered::damage`]; the file is left as it is, and the caller
    /// must not append to it.
    ///
    /// # Errors
    /// [`StorageError::Io`].
    pub fn open(path: &Path, checkpoint_lsn: u64) -> Result<Recovered, StorageError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| StorageError::io(path, e))?;
        let scanned = scan(path, &bytes, checkpoint_lsn);
        let good_len = bytes.len() as u64 - scanned.torn_bytes;
        if scanned.torn_bytes > 0 {
            file.set_len(good_len)
                .and_then(|()| file.sync_all())
                .map_err(|e| StorageError::io(path, e))?;
        }
        Ok(Recovered {
            wal: Wal {
                path: path.to_path_buf(),
                len: good_len,
                next_lsn: scanned.last_lsn.max(checkpoint_lsn) + 1,
                stopped: None,
                #[cfg(test)]
                read_only: false,
            },
            records: scanned.records,
            torn_bytes: scanned.torn_bytes,
            damage: scanned.damage,
        })
    }

    /// The LSN the next append will get.
    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// Bytes in the log.
    #[cfg(test)]
    fn len(&self) -> u64 {
        self.len
    }

    /// Appends `op` as one record and returns its LSN; with `sync` the
    /// record is fsynced before returning. A failed append is rolled back
    /// (the file is cut back to its previous length). If the rollback fails
    /// too, the file may end in a partial record that a later record would
    /// turn from a torn tail into mid-log corruption, so the log stops:
    /// this and every later append fail until the log is reopened (at
    /// restart, where the partial record is cut off as a torn tail).
    ///
    /// # Errors
    /// [`StorageError::DiskFull`] or [`StorageError::Io`] when the append
    /// failed and was rolled back (the log is as before the call);
    /// [`StorageError::WritesStopped`] when it could not be rolled back, or
    /// the log was stopped before.
    pub fn append(&mut self, op: &Operation, sync: bool) -> Result<u64, StorageError> {
        self.check_writable()?;
        let lsn = self.next_lsn;
        let record = encode(lsn, op);
        let mut file = self.open_for_write()?;
        let written =
            file.write_all(&record)
                .and_then(|()| if sync { file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            let failed = StorageError::io(&self.path, e);
            if let Err(rollback) = file.set_len(self.len) {
                self.stop(format!(
                    "an append failed ({failed}) and cutting the partial record off failed too ({rollback})"
                ));
                // Stopped now: this reports it.
                self.check_writable()?;
            }
            return Err(failed);
        }
        self.len += record.len() as u64;
        self.next_lsn += 1;
        Ok(lsn)
    }

    /// `Ok` unless the log was stopped.
    ///
    /// # Errors
    /// [`StorageError::WritesStopped`] with the reason given to [`Wal::stop`].
    fn check_writable(&self) -> Result<(), StorageError> {
        match &self.stopped {
            None => Ok(()),
            Some(reason) => Err(StorageError::WritesStopped {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
        }
    }

    /// Refuses every later append with [`StorageError::WritesStopped`]
    /// giving `reason`, until the log is reopened. For failures after which
    /// the log, or the state built from it, can no longer be trusted.
    pub(crate) fn stop(&mut self, reason: String) {
        tracing::error!(wal = %self.path.display(), %reason, "writes stopped until restart");
        self.stopped.get_or_insert(reason);
    }

    /// fsyncs everything appended so far.
    ///
    /// # Errors
    /// [`StorageError::Io`].
    pub fn sync(&self) -> Result<(), StorageError> {
        self.open_for_write()?
            .sync_data()
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// The log file, opened for appending (it exists since [`Wal::open`]).
    fn open_for_write(&self) -> Result<File, StorageError> {
        let mut options = OpenOptions::new();
        options.append(true);
        #[cfg(test)]
        if self.read_only {
            options.append(false).read(true);
        }
        options
            .open(&self.path)
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// Empties the log after a checkpoint covering every record in it.
    /// LSNs continue where they were.
    ///
    /// # Errors
    /// [`StorageError::Io`].
    pub fn truncate(&mut self) -> Result<(), StorageError> {
        let file = self.open_for_write()?;
        file.set_len(0)
            .map_err(|e| StorageError::io(&self.path, e))?;
        // The file is empty now even if the fsync below fails: a rollback
        // must never cut it back to (extend it to) the old length.
        self.len = 0;
        file.sync_all().map_err(|e| StorageError::io(&self.path, e))
    }
}

/// The bytes of one record, as [`Wal::append`] writes it.
pub fn encode(lsn: u64, op: &Operation) -> Vec<u8> {
    let op = postcard::to_stdvec(op).expect("operations always encode");
    let body_len = 8 + op.len();
    let mut record = Vec::with_capacity(HEADER + body_len);
    record.extend_from_slice(&(body_len as u32).to_le_bytes());
    record.extend_from_slice(&[0; 4]);
    record.extend_from_slice(&lsn.to_le_bytes());
    record.extend_from_slice(&op);
    let crc = crc32c::crc32c(&record[HEADER..]);
    record[4..8].copy_from_slice(&crc.to_le_bytes());
    record
}

/// Checks every record's framing of `bytes`; whether an operation makes
/// sense for the collection is the replayer's check. Stops at the first
/// damaged record that is not the tail.
fn scan(path: &Path, bytes: &[u8], checkpoint: u64) -> Inspected {
    let mut records = Vec::new();
    let mut offset = 0usize;
    let mut last_lsn = 0u64;
    let damage = |offset: usize, lsn: Option<u64>, last_lsn: u64, reason: String| Damage {
        path: path.to_path_buf(),
        offset: offset as u64,
        lsn,
        after_lsn: last_lsn,
        reason,
    };
    let mut found = None;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        if rest.len() < HEADER + 8 {
            // Too short for any record: only a torn tail ends like this.
            break;
        }
        let body_len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        if !(8..=MAX_BODY).contains(&body_len) {
            // A crash can leave zeroed space at the end of a file; any other
            // impossible length is damage, and nothing after it can be framed.
            if rest.iter().all(|&b| b == 0) {
                break;
            }
            let reason = format!("record length {body_len} is outside 8..={MAX_BODY}");
            found = Some(damage(offset, None, last_lsn, reason));
            break;
        }
        let end = offset + HEADER + body_len;
        if end > bytes.len() {
            // The record claims more bytes than the file holds: torn.
            break;
        }
        let stored = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        let body = &rest[HEADER..HEADER + body_len];
        if crc32c::crc32c(body) != stored {
            if end == bytes.len() {
                // The last record, partly written when the crash came.
                break;
            }
            let reason = "checksum mismatch in a record followed by others".to_string();
            found = Some(damage(offset, None, last_lsn, reason));
            break;
        }
        let lsn = u64::from_le_bytes(body[..8].try_into().expect("8 bytes"));
        if lsn <= last_lsn {
            let reason = format!("LSN {lsn} does not follow LSN {last_lsn}");
            found = Some(damage(offset, Some(lsn), last_lsn, reason));
            break;
        }
        let op: Operation = match postcard::from_bytes(&body[8..]) {
            Ok(op) => op,
            Err(e) => {
                let reason = format!("operation does not decode: {e}");
                found = Some(damage(offset, Some(lsn), last_lsn, reason));
                break;
            }
        };
        last_lsn = lsn;
        if lsn > checkpoint {
            records.push(Logged {
                lsn,
                offset: offset as u64,
                op,
            });
        }
        offset = end;
    }
    let torn_bytes = if found.is_some() {
        0
    } else {
        (bytes.len() - offset) as u64
    };
    Inspected {
        records,
        torn_bytes,
        damage: found,
        last_lsn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(id: u64) -> Operation {
        Operation::Upsert(vec![PointWrite {
            id,
            vector: vec![id as f32, 1.0],
            payload: Payload::new(),
        }])
    }

    fn write_three(path: &Path) -> Vec<u64> {
        let mut wal = Wal::open(path, 0).unwrap().wal;
        let mut ends = Vec::new();
        for id in 1..=3 {
            wal.append(&upsert(id), true).unwrap();
            ends.push(wal.len());
        }
        ends
    }

    #[test]
    fn records_replay_in_order_above_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        write_three(&path);
        let all = Wal::open(&path, 0).unwrap();
        assert_eq!(
            all.records.iter().map(|r| r.lsn).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(all.records[1].op, upsert(2));
        assert_eq!(all.wal.next_lsn(), 4);
        drop(all);
        let after = Wal::open(&path, 2).unwrap();
        assert_eq!(after.records.len(), 1);
        assert_eq!(after.records[0].lsn, 3);
    }

    #[test]
    fn every_torn_tail_is_cut_and_earlier_records_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let ends = write_three(&path);
        let full = std::fs::read(&path).unwrap();
        // Cut the last record at every possible byte.
        for cut in ends[1] + 1..ends[2] {
            std::fs::write(&path, &full[..cut as usize]).unwrap();
            let r = Wal::open(&path, 0).unwrap();
            assert_eq!(r.records.len(), 2, "cut at {cut}");
            assert_eq!(r.torn_bytes, cut - ends[1]);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), ends[1]);
            drop(r);
        }
        // A last record whose bytes never reached the disk (zeros).
        let mut zeroed = full.clone();
        zeroed[ends[1] as usize..].fill(0);
        std::fs::write(&path, &zeroed).unwrap();
        assert_eq!(Wal::open(&path, 0).unwrap().records.len(), 2);
        // A damaged last record (checksum mismatch).
        let mut flipped = full.clone();
        *flipped.last_mut().unwrap() ^= 0xff;
        std::fs::write(&path, &flipped).unwrap();
        let mut r = Wal::open(&path, 0).unwrap();
        assert_eq!(r.records.len(), 2);
        // The log goes on from there with the next LSN.
        assert_eq!(r.wal.append(&upsert(9), true).unwrap(), 3);
        drop(r);
        assert_eq!(Wal::open(&path, 0).unwrap().records.len(), 3);
    }

    #[test]
    fn damage_before_the_tail_names_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let ends = write_three(&path);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[ends[0] as usize + 12] ^= 0x01; // inside record 2's body
        std::fs::write(&path, &bytes).unwrap();
        let r = Wal::open(&path, 0).unwrap();
        assert_eq!(r.records.len(), 1, "the record before the damage is kept");
        let damage = r.damage.expect("damage reported");
        assert_eq!((damage.offset, damage.after_lsn), (ends[0], 1));
        let msg = damage.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("at byte {}", ends[0])), "{msg}");
        drop(r.wal);
        // The file is left as it was for inspection.
        assert_eq!(std::fs::read(&path).unwrap(), bytes);

        // Cutting it there keeps the tail beside it and leaves a good log.
        let saved = cut(&path, ends[0]).unwrap();
        assert_eq!(std::fs::read(&saved).unwrap(), &bytes[ends[0] as usize..]);
        let r = Wal::open(&path, 0).unwrap();
        assert_eq!((r.records.len(), r.damage), (1, None));
        assert_eq!(r.wal.next_lsn(), 2);
    }

    #[test]
    fn truncate_keeps_lsns_increasing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let mut wal = Wal::open(&path, 0).unwrap().wal;
        wal.append(&Operation::Delete(vec![1]), false).unwrap();
        wal.truncate().unwrap();
        assert_eq!(wal.append(&Operation::Delete(vec![2]), true).unwrap(), 2);
        drop(wal);
        let r = Wal::open(&path, 1).unwrap();
        assert_eq!(r.records.len(), 1);
        assert_eq!(
            (r.records[0].lsn, r.records[0].offset, &r.records[0].op),
            (2, 0, &Operation::Delete(vec![2]))
        );
    }

    #[test]
    fn an_append_that_cannot_be_rolled_back_stops_the_log_until_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let ends = write_three(&path);
        // A read-only handle: the write fails, and so does cutting it back.
        let mut wal = Wal::open(&path, 0).unwrap().wal;
        wal.read_only = true;
        for attempt in 0..2 {
            let err = wal.append(&upsert(4), true).unwrap_err();
            assert!(
                matches!(err, StorageError::WritesStopped { .. }),
                "attempt {attempt}: {err}"
            );
            let msg = err.to_string();
            assert!(msg.contains("until the server restarts"), "{msg}");
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
        assert_eq!(wal.next_lsn(), 4, "no LSN was used by the failed appends");
        drop(wal);
        // Reopening (a restart) recovers every acknowledged record.
        let mut r = Wal::open(&path, 0).unwrap();
        assert_eq!(r.records.len(), 3);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), ends[2]);
        assert_eq!(r.wal.append(&upsert(4), true).unwrap(), 4);
    }
}
