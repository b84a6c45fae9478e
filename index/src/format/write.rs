//! Writes a mutable index as a v1 file: temporary file, fsync, rename.

use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::graph::GraphRead;
use crate::hnsw::store::NodeStore;
use crate::hnsw::{Hnsw, Liveness};

use super::{align_up, Header, Section, SectionEntry, HEADER_LEN, NO_ENTRY, SECTION_ENTRY_LEN};

/// Counts and checksums what passes through to the file.
struct SectionWriter<W: Write> {
    inner: W,
    pos: u64,
    crc: u32,
}

impl<W: Write> SectionWriter<W> {
    fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, b);
        self.pos += b.len() as u64;
        self.inner.write_all(b)
    }

    fn u32s(&mut self, v: &[u32]) -> std::io::Result<()> {
        if cfg!(target_endian = "little") {
            self.bytes(bytemuck::cast_slice(v))
        } else {
            v.iter().try_for_each(|x| self.bytes(&x.to_le_bytes()))
        }
    }

    fn u64s(&mut self, v: &[u64]) -> std::io::Result<()> {
        if cfg!(target_endian = "little") {
            self.bytes(bytemuck::cast_slice(v))
        } else {
            v.iter().try_for_each(|x| self.bytes(&x.to_le_bytes()))
        }
    }

    fn f32s(&mut self, v: &[f32]) -> std::io::Result<()> {
        if cfg!(target_endian = "little") {
            self.bytes(bytemuck::cast_slice(v))
        } else {
            v.iter().try_for_each(|x| self.bytes(&x.to_le_bytes()))
        }
    }

    /// Zero-pads to the next 64-byte boundary (outside any checksum).
    fn pad(&mut self) -> std::io::Result<()> {
        let pad = (align_up(self.pos) - self.pos) as usize;
        self.pos += pad as u64;
        self.inner.write_all(&[0u8; 64][..pad])
    }

    fn begin(&mut self) -> std::io::Result<u64> {
        self.pad()?;
        self.crc = 0;
        Ok(self.pos)
    }
}

/// Saves `index` (whose store and liveness the caller has locked) to `path`.
pub(crate) fn save(path: &Path, index: &Hnsw, store: &NodeStore, live: &Liveness) -> Result<()> {
    let tmp = temp_path(path);
    // Errors name the destination, the path the caller knows.
    let result = write_file(&tmp, index, store, live)
        .map_err(|e| match e {
            Error::Io { source, .. } => Error::io(path, source),
            other => other,
        })
        .and_then(|()| {
            fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
            sync_parent(path)
        });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

fn sync_parent(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(parent, e))
}

fn write_file(tmp: &Path, index: &Hnsw, store: &NodeStore, live: &Liveness) -> Result<()> {
    let io = |e| Error::io(tmp, e);
    let file = File::create(tmp).map_err(io)?;
    let n = store.node_count();
    let params = index.params();
    let m = params.m;
    let table_len = Section::ALL.len() * SECTION_ENTRY_LEN;
    let mut w = SectionWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        pos: 0,
        crc: 0,
    };
    // Placeholder header and table; rewritten once the checksums are known.
    w.bytes(&vec![0u8; HEADER_LEN + table_len]).map_err(io)?;

    let mut entries = Vec::with_capacity(Section::ALL.len());
    let mut finish = |w: &mut SectionWriter<_>, kind: Section, offset: u64| {
        entries.push(SectionEntry {
            kind: kind as u32,
            offset,
            length: w.pos - offset,
            crc: w.crc,
        });
    };

    let start = w.begin().map_err(io)?;
    for node in 0..n as u32 {
        w.f32s(store.vector(node)).map_err(io)?;
    }
    finish(&mut w, Section::Vectors, start);

    let start = w.begin().map_err(io)?;
    let levels: Vec<u8> = (0..n as u32).map(|i| store.level(i) as u8).collect();
    w.bytes(&levels).map_err(io)?;
    finish(&mut w, Section::Levels, start);

    let start = w.begin().map_err(io)?;
    let mut words = Vec::new();
    for node in 0..n as u32 {
        words.clear();
        words.extend(store.layer0_words(node));
        w.u32s(&words).map_err(io)?;
    }
    finish(&mut w, Section::Links0, start);

    let start = w.begin().map_err(io)?;
    let mut offset = 0u64;
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0u64);
    for &level in &levels {
        offset += level as u64 * (1 + m as u64);
        offsets.push(offset);
    }
    w.u64s(&offsets).map_err(io)?;
    finish(&mut w, Section::UpperOffsets, start);

    let start = w.begin().map_err(io)?;
    for node in 0..n as u32 {
        words.clear();
        words.extend(store.upper_table(node));
        w.u32s(&words).map_err(io)?;
    }
    finish(&mut w, Section::UpperLinks, start);

    let start = w.begin().map_err(io)?;
    let ids: Vec<u64> = (0..n as u32).map(|i| store.external_id(i)).collect();
    w.u64s(&ids).map_err(io)?;
    finish(&mut w, Section::ExternalIds, start);

    let start = w.begin().map_err(io)?;
    let mut tomb = Vec::with_capacity(live.tombstones.serialized_size());
    live.tombstones.serialize_into(&mut tomb).map_err(io)?;
    w.bytes(&tomb).map_err(io)?;
    finish(&mut w, Section::Tombstones, start);

    let mut table = Vec::with_capacity(table_len);
    for e in &entries {
        table.extend_from_slice(&e.encode());
    }
    let (entry_node, max_level) = index
        .entry()
        .map_or((NO_ENTRY, 0), |(node, level)| (node, level as u32));
    let header = Header {
        dim: index.dim() as u32,
        metric: index.metric().code(),
        m: m as u32,
        m0: params.m0() as u32,
        ef_construction: params.ef_construction as u32,
        ef_search: params.ef_search as u32,
        node_count: n as u64,
        live_count: live.ids.len() as u64,
        entry_node,
        max_level,
        seed: params.seed,
        rng_state: index.rng_state(),
        section_count: entries.len() as u32,
        table_crc: crc32c::crc32c(&table),
    };
    let mut file = w.inner.into_inner().map_err(|e| io(e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(&header.encode()).map_err(io)?;
    file.write_all(&table).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(())
}
