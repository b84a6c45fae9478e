//! The index file format, version 1: one little-endian file per index.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "WAYPOINT"
//! 8       4     format version (1)
//! 12      4     endianness tag 0x0A0B0C0D (reads as 0x0D0C0B0A if byte-swapped)
//! 16      4     header length (128)
//! 20      4     element type (1 = f32)
//! 24      4     dim
//! 28      4     metric (1 = L2Squared, 2 = Cosine, 3 = InnerProduct)
//! 32      4     M
//! 36      4     M0
//! 40      4     ef_construction
//! 44      4     default ef_search
//! 48      8     node count n (live + tombstoned)
//! 56      8     live count
//! 64      4     entry node (0xFFFFFFFF: empty index)
//! 68      4     max level
//! 72      8     seed
//! 80      8     level generator state (so inserts after a reload continue it)
//! 88      4     section count
//! 92      4     CRC32C of the section table
//! 96      28    reserved, zero
//! 124     4     CRC32C of bytes 0..124
//! 128     32·s  section table: kind u32, reserved u32, offset u64, length u64, CRC32C u32, reserved u32
//! ...           sections, each starting at a multiple of 64; the file ends where the last one does
//! ```
//!
//! Sections (all required, in this order):
//! - `vectors`: `n · dim` f32, row-major (unit length under cosine);
//! - `levels`: `n` u8, the top layer of each node;
//! - `links0`: `n · (1 + M0)` u32: per node a count, then `M0` slots;
//! - `upper_offsets`: `n + 1` u64: where each node's upper-layer table
//!   starts in `upper_links`, in u32 words; node `i` owns
//!   `level_i · (1 + M)` words (per layer 1..=level a count, then `M` slots);
//! - `upper_links`: the u32 words those offsets point into;
//! - `external_ids`: `n` u64;
//! - `tombstones`: a serialized roaring bitmap of node numbers.
//!
//! Files are written to a temporary file, fsynced, and renamed into place,
//! so a reader never sees a half-written file at the final path.

pub(crate) mod fault;
pub mod view;
pub(crate) mod write;

use crate::error::Error;
use std::path::Path;

pub(crate) const MAGIC: [u8; 8] = *b"WAYPOINT";
pub(crate) const VERSION: u32 = 1;
pub(crate) const ENDIAN_TAG: u32 = 0x0A0B_0C0D;
pub(crate) const HEADER_LEN: usize = 128;
pub(crate) const ELEMENT_F32: u32 = 1;
pub(crate) const SECTION_ENTRY_LEN: usize = 32;
pub(crate) const ALIGN: u64 = 64;
pub(crate) const NO_ENTRY: u32 = u32::MAX;

/// The sections, in file order. The discriminant is the kind code on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Section {
    Vectors = 1,
    Levels = 2,
    Links0 = 3,
    UpperOffsets = 4,
    UpperLinks = 5,
    ExternalIds = 6,
    Tombstones = 7,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Vectors,
        Section::Levels,
        Section::Links0,
        Section::UpperOffsets,
        Section::UpperLinks,
        Section::ExternalIds,
        Section::Tombstones,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Section::Vectors => "vectors",
            Section::Levels => "levels",
            Section::Links0 => "links0",
            Section::UpperOffsets => "upper_offsets",
            Section::UpperLinks => "upper_links",
            Section::ExternalIds => "external_ids",
            Section::Tombstones => "tombstones",
        }
    }
}

/// The fixed header, decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Header {
    pub dim: u32,
    pub metric: u32,
    pub m: u32,
    pub m0: u32,
    pub ef_construction: u32,
    pub ef_search: u32,
    pub node_count: u64,
    pub live_count: u64,
    pub entry_node: u32,
    pub max_level: u32,
    pub seed: u64,
    pub rng_state: u64,
    pub section_count: u32,
    pub table_crc: u32,
}

/// One row of the section table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SectionEntry {
    pub kind: u32,
    pub offset: u64,
    pub length: u64,
    pub crc: u32,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&MAGIC);
        put_u32(&mut b, 8, VERSION);
        put_u32(&mut b, 12, ENDIAN_TAG);
        put_u32(&mut b, 16, HEADER_LEN as u32);
        put_u32(&mut b, 20, ELEMENT_F32);
        put_u32(&mut b, 24, self.dim);
        put_u32(&mut b, 28, self.metric);
        put_u32(&mut b, 32, self.m);
        put_u32(&mut b, 36, self.m0);
        put_u32(&mut b, 40, self.ef_construction);
        put_u32(&mut b, 44, self.ef_search);
        put_u64(&mut b, 48, self.node_count);
        put_u64(&mut b, 56, self.live_count);
        put_u32(&mut b, 64, self.entry_node);
        put_u32(&mut b, 68, self.max_level);
        put_u64(&mut b, 72, self.seed);
        put_u64(&mut b, 80, self.rng_state);
        put_u32(&mut b, 88, self.section_count);
        put_u32(&mut b, 92, self.table_crc);
        let crc = crc32c::crc32c(&b[..124]);
        put_u32(&mut b, 124, crc);
        b
    }

    /// Decodes and checks the fixed fields (magic, version, endianness,
    /// header length, element type, header checksum).
    pub fn decode(path: &Path, b: &[u8]) -> Result<Header, Error> {
        let bad = |reason: String| corrupt(path, "header", reason);
        if b.len() < HEADER_LEN {
            return Err(bad(format!(
                "file is {} bytes, shorter than the {HEADER_LEN}-byte header (truncated, or not an index file)",
                b.len()
            )));
        }
        if b[0..8] != MAGIC {
            return Err(bad(format!(
                "magic is {:?}, expected {:?}: not a Waypoint index file",
                String::from_utf8_lossy(&b[0..8]),
                String::from_utf8_lossy(&MAGIC)
            )));
        }
        let tag = get_u32(b, 12);
        if tag == ENDIAN_TAG.swap_bytes() {
            return Err(bad(
                "file was written big-endian; only little-endian files are supported".into(),
            ));
        }
        if tag != ENDIAN_TAG {
            return Err(bad(format!(
                "endianness tag is {tag:#010x}, expected {ENDIAN_TAG:#010x}"
            )));
        }
        let version = get_u32(b, 8);
        let stored = get_u32(b, 124);
        let actual = crc32c::crc32c(&b[..124]);
        if stored != actual {
            // A later version may lay its header out differently, so a bad
            // checksum with a foreign version number is reported as both.
            return Err(bad(if version == VERSION {
                format!("header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})")
            } else {
                format!(
                    "header checksum mismatch and format version {version}: the file is corrupt, or from a Waypoint newer than this build (format {VERSION})"
                )
            }));
        }
        if version != VERSION {
            return Err(bad(if version > VERSION {
                format!("format version {version} is newer than this build supports ({VERSION}); upgrade Waypoint")
            } else {
                format!("unknown format version {version}")
            }));
        }
        let header_len = get_u32(b, 16);
        if header_len as usize != HEADER_LEN {
            return Err(bad(format!(
                "header length {header_len}, expected {HEADER_LEN} (32-bit or foreign layout?)"
            )));
        }
        let element = get_u32(b, 20);
        if element != ELEMENT_F32 {
            return Err(bad(format!(
                "element type {element} is not supported (1 = f32)"
            )));
        }
        Ok(Header {
            dim: get_u32(b, 24),
            metric: get_u32(b, 28),
            m: get_u32(b, 32),
            m0: get_u32(b, 36),
            ef_construction: get_u32(b, 40),
            ef_search: get_u32(b, 44),
            node_count: get_u64(b, 48),
            live_count: get_u64(b, 56),
            entry_node: get_u32(b, 64),
            max_level: get_u32(b, 68),
            seed: get_u64(b, 72),
            rng_state: get_u64(b, 80),
            section_count: get_u32(b, 88),
            table_crc: get_u32(b, 92),
        })
    }
}

impl SectionEntry {
    pub fn encode(&self) -> [u8; SECTION_ENTRY_LEN] {
        let mut b = [0u8; SECTION_ENTRY_LEN];
        put_u32(&mut b, 0, self.kind);
        put_u64(&mut b, 8, self.offset);
        put_u64(&mut b, 16, self.length);
        put_u32(&mut b, 24, self.crc);
        b
    }

    pub fn decode(b: &[u8]) -> SectionEntry {
        SectionEntry {
            kind: get_u32(b, 0),
            offset: get_u64(b, 8),
            length: get_u64(b, 16),
            crc: get_u32(b, 24),
        }
    }
}

pub(crate) fn corrupt(path: &Path, section: &'static str, reason: String) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        section,
        reason,
    }
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

pub(crate) fn align_up(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}
