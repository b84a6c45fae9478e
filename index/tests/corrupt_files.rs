//! Damaged, truncated, foreign and crafted index files are refused with a
//! clear error naming the section — never a panic, hang or huge allocation.

mod common;

use std::path::Path;

use waypoint_index::{Error, Hnsw, HnswParams, HnswView, Metric};

/// A small saved index with tombstones and several levels, and its bytes.
fn sample(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let mut rng = common::Rng::new(31);
    let data = rng.vectors(600, 8);
    let ids: Vec<u64> = (0..600).collect();
    let index = Hnsw::build(
        8,
        Metric::L2Squared,
        HnswParams::default().with_m(4),
        &ids,
        &data,
    )
    .unwrap();
    index.delete(5).unwrap();
    index.delete(6).unwrap();
    let path = dir.join("good.wpi");
    index.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

fn open_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Result<HnswView, Error> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    HnswView::open(&path)
}

fn corrupt_section(err: Error) -> (&'static str, String) {
    match err {
        Error::Corrupt {
            section, reason, ..
        } => (section, reason),
        other => panic!("expected a Corrupt error, got {other}"),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// (name, offset, length) of each section from the table.
fn sections(b: &[u8]) -> Vec<(String, usize, usize)> {
    let view_names = [
        "vectors",
        "levels",
        "links0",
        "upper_offsets",
        "upper_links",
        "external_ids",
        "tombstones",
    ];
    (0..7)
        .map(|i| {
            let row = 128 + 32 * i;
            (
                view_names[i].to_string(),
                u64_at(b, row + 8) as usize,
                u64_at(b, row + 16) as usize,
            )
        })
        .collect()
}

/// Recomputes section `i`'s checksum, then the table's and the header's,
/// after an edit inside that section.
fn reseal_section(b: &mut [u8], i: usize) {
    let (_, off, len) = sections(b)[i].clone();
    let crc = crc32c(&b[off..off + len]);
    let row = 128 + 32 * i;
    b[row + 24..row + 28].copy_from_slice(&crc.to_le_bytes());
    let table_crc = crc32c(&b[128..128 + 7 * 32]);
    b[92..96].copy_from_slice(&table_crc.to_le_bytes());
    reseal_header(b);
}

/// Recomputes the header checksum after an edit of the header.
fn reseal_header(b: &mut [u8]) {
    let crc = crc32c(&b[..124]);
    b[124..128].copy_from_slice(&crc.to_le_bytes());
}

/// CRC32C (Castagnoli), bitwise: an independent check of the file's sums.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn the_sample_opens_and_matches_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = sample(dir.path());
    let view = HnswView::open(&path).unwrap();
    assert_eq!(
        (view.len(), view.deleted_count(), view.node_count()),
        (598, 2, 600)
    );
    assert!(
        view.max_level() >= 1,
        "the sample should exercise upper layers"
    );
}

#[test]
fn truncation_at_every_section_boundary_and_mid_section_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample(dir.path());
    let mut cuts = vec![0, 1, 64, 127, 128, 200, 128 + 7 * 32];
    for (_, off, len) in sections(&bytes) {
        cuts.extend([off, off + len / 2, off + len.saturating_sub(1)]);
    }
    cuts.push(bytes.len() - 1);
    for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
        let err = open_bytes(dir.path(), "cut.wpi", &bytes[..cut])
            .expect_err(&format!("cut at {cut} opened"));
        let (section, reason) = corrupt_section(err);
        assert!(
            !reason.is_empty(),
            "cut at {cut}: empty reason in {section}"
        );
    }
}

#[test]
fn one_flipped_byte_in_each_section_names_that_section() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample(dir.path());
    for (name, off, len) in sections(&bytes) {
        for at in [off, off + len / 2, off + len - 1] {
            let mut b = bytes.clone();
            b[at] ^= 0x40;
            let (section, reason) =
                corrupt_section(open_bytes(dir.path(), "flip.wpi", &b).unwrap_err());
            assert_eq!(section, name, "flip at {at}: {reason}");
            assert!(
                reason.contains("checksum"),
                "flip at {at} in {name}: {reason}"
            );
        }
    }
    // A flip in the header or the table is caught by their checksums.
    for at in [30, 100, 128 + 8] {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        let (section, _) = corrupt_section(open_bytes(dir.path(), "flip.wpi", &b).unwrap_err());
        assert_eq!(section, "header");
    }
}

#[test]
fn wrong_magic_is_not_an_index_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut bytes) = sample(dir.path());
    bytes[0..8].copy_from_slice(b"NOTANIDX");
    let (section, reason) =
        corrupt_section(open_bytes(dir.path(), "magic.wpi", &bytes).unwrap_err());
    assert_eq!(section, "header");
    assert!(reason.contains("not a Waypoint index file"), "{reason}");
    let (_, reason) =
        corrupt_section(open_bytes(dir.path(), "text.wpi", &[b'x'; 4000]).unwrap_err());
    assert!(reason.contains("magic"), "{reason}");
}

#[test]
fn a_future_format_version_asks_for_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut bytes) = sample(dir.path());
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    reseal_header(&mut bytes);
    let (section, reason) = corrupt_section(open_bytes(dir.path(), "v2.wpi", &bytes).unwrap_err());
    assert_eq!(section, "header");
    // What was found, what this build reads, and what to do.
    assert!(
        reason.contains("format version 2")
            && reason.contains("supports (1)")
            && reason.contains("upgrade"),
        "{reason}"
    );
}

/// The header as a big-endian writer would lay it out: every field of the
/// documented layout byte-swapped, the checksum computed over those bytes
/// and stored big-endian too.
fn big_endian_header(le: &[u8]) -> Vec<u8> {
    let mut be = le.to_vec();
    let u32_fields = [8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 64, 68, 88, 92];
    for at in u32_fields {
        be[at..at + 4].reverse();
    }
    for at in [48, 56, 72, 80] {
        be[at..at + 8].reverse();
    }
    let crc = crc32c(&be[..124]);
    be[124..128].copy_from_slice(&crc.to_be_bytes());
    be
}

#[test]
fn big_endian_and_32_bit_layouts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample(dir.path());
    // Only the tag swapped, with a valid checksum.
    let mut tag_only = bytes.clone();
    tag_only[12..16].copy_from_slice(&0x0A0B_0C0Du32.to_be_bytes());
    reseal_header(&mut tag_only);
    // A whole header written big-endian (its version reads as 2^24).
    let whole = big_endian_header(&bytes);
    for (name, file) in [("tag.wpi", &tag_only), ("be.wpi", &whole)] {
        let (section, reason) = corrupt_section(open_bytes(dir.path(), name, file).unwrap_err());
        assert_eq!(section, "header");
        assert!(
            reason.contains("written big-endian") && reason.contains("only little-endian"),
            "{name}: {reason}"
        );
    }
    // A 32-bit layout: 4-byte counts make a shorter header. Found and
    // expected lengths are both named.
    let mut short = bytes.clone();
    short[16..20].copy_from_slice(&96u32.to_le_bytes());
    reseal_header(&mut short);
    let (section, reason) = corrupt_section(open_bytes(dir.path(), "h96.wpi", &short).unwrap_err());
    assert_eq!(section, "header");
    assert!(
        reason.contains("header length 96, expected 128") && reason.contains("32-bit"),
        "{reason}"
    );
}

#[test]
fn a_crafted_out_of_range_link_with_valid_checksums_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut bytes) = sample(dir.path());
    let (_, off, _) = sections(&bytes)[2].clone();
    let n = u64_at(&bytes, 48) as u32;
    // Node 0's first layer-0 link (after its count word) now names node n.
    assert!(u32_at(&bytes, off) >= 1);
    bytes[off + 4..off + 8].copy_from_slice(&n.to_le_bytes());
    reseal_section(&mut bytes, 2);
    let (section, reason) =
        corrupt_section(open_bytes(dir.path(), "link.wpi", &bytes).unwrap_err());
    assert_eq!(section, "links0");
    assert!(reason.contains(&format!("links to node {n}")), "{reason}");
}

#[test]
fn a_crafted_huge_node_count_is_refused_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut bytes) = sample(dir.path());
    bytes[48..56].copy_from_slice(&(u32::MAX as u64 - 2).to_le_bytes());
    bytes[56..64].copy_from_slice(&0u64.to_le_bytes());
    reseal_header(&mut bytes);
    let (section, reason) =
        corrupt_section(open_bytes(dir.path(), "huge.wpi", &bytes).unwrap_err());
    assert_eq!(section, "vectors", "{reason}");
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = HnswView::open("/no/such/index.wpi").unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("/no/such/index.wpi"));
}

#[test]
fn a_directory_is_not_an_index_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = HnswView::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn non_zero_padding_between_sections_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut bytes) = sample(dir.path());
    // The table ends at 128 + 7·32 = 352; the first section starts at 384.
    assert_eq!(sections(&bytes)[0].1, 384);
    bytes[360] = 1;
    let (section, reason) = corrupt_section(open_bytes(dir.path(), "pad.wpi", &bytes).unwrap_err());
    assert_eq!(section, "vectors");
    assert!(reason.contains("padding"), "{reason}");
}

#[test]
fn a_crafted_duplicate_live_id_with_valid_checksums_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut bytes) = sample(dir.path());
    let (_, off, _) = sections(&bytes)[5].clone();
    // Node 1 now carries node 0's external id (both are live).
    let id0 = bytes[off..off + 8].to_vec();
    bytes[off + 8..off + 16].copy_from_slice(&id0);
    reseal_section(&mut bytes, 5);
    let (section, reason) = corrupt_section(open_bytes(dir.path(), "dup.wpi", &bytes).unwrap_err());
    assert_eq!(section, "external_ids");
    assert!(reason.contains("is live at nodes 0 and 1"), "{reason}");
}

#[test]
fn a_corrupt_version_field_is_not_mistaken_for_a_newer_format() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut bytes) = sample(dir.path());
    bytes[9] ^= 0x10; // version 1 → 4097, checksum left stale
    let (_, reason) = corrupt_section(open_bytes(dir.path(), "ver.wpi", &bytes).unwrap_err());
    assert!(
        reason.contains("checksum mismatch") && reason.contains("corrupt"),
        "{reason}"
    );
}

/// Found by the `index_file` fuzz target: writers never repeat a node in one
/// link list, but a crafted file that does must not get a hit returned twice.
#[test]
fn a_crafted_link_list_naming_a_node_twice_returns_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut bytes) = sample(dir.path());
    let (_, off, len) = sections(&bytes)[2].clone();
    let stride = 4 * (1 + 2 * u32_at(&bytes, 32) as usize);
    // Each node's first two layer-0 slots now name the same neighbour.
    let mut doubled = 0;
    for block in (off..off + len).step_by(stride) {
        if u32_at(&bytes, block) >= 2 {
            let first = bytes[block + 4..block + 8].to_vec();
            bytes[block + 8..block + 12].copy_from_slice(&first);
            doubled += 1;
        }
    }
    assert!(doubled > 500, "{doubled} of 600 lists doubled");
    reseal_section(&mut bytes, 2);
    let view = open_bytes(dir.path(), "twice.wpi", &bytes).unwrap();
    let query = vec![0.5; 8];
    for ef in [1, 16, 600] {
        let params = waypoint_index::SearchParams::default().with_ef(ef);
        let hits = view.search(&query, 50, &params).unwrap();
        let mut ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), hits.len(), "ef {ef}: a hit came back twice");
    }
}

/// Found by the `index_file` fuzz target: a NaN vector with valid checksums
/// opened, and its distances could not be ordered. Every stored vector must
/// now be one the writer could have stored.
#[test]
fn crafted_vectors_the_writer_never_stores_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample(dir.path());
    let (_, off, _) = sections(&bytes)[0].clone();
    let row = off + 4 * 3 * 8; // node 3
    for value in [f32::NAN, f32::INFINITY, f32::MAX] {
        let mut bad = bytes.clone();
        bad[row + 8..row + 12].copy_from_slice(&value.to_le_bytes()); // component 2
        reseal_section(&mut bad, 0);
        // The reason is the write path's own refusal of that vector.
        let stored: Vec<f32> = bad[row..row + 32]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let refusal = Metric::L2Squared.prepare(&stored, 8).unwrap_err();
        let (section, reason) =
            corrupt_section(open_bytes(dir.path(), "vec.wpi", &bad).unwrap_err());
        assert_eq!(section, "vectors");
        assert!(
            reason.starts_with(&format!("node 3: {refusal}")),
            "{value}: {reason}"
        );
    }
    // Under cosine, stored vectors are unit length.
    let index = Hnsw::new(2, Metric::Cosine, HnswParams::default()).unwrap();
    index.insert(1, &[3.0, 4.0]).unwrap();
    let path = dir.path().join("cos.wpi");
    index.save(&path).unwrap();
    let mut cos = std::fs::read(&path).unwrap();
    let (_, off, _) = sections(&cos)[0].clone();
    cos[off..off + 4].copy_from_slice(&3.0f32.to_le_bytes());
    reseal_section(&mut cos, 0);
    let (section, reason) = corrupt_section(open_bytes(dir.path(), "cos.wpi", &cos).unwrap_err());
    assert_eq!(section, "vectors");
    assert!(reason.contains("expected 1"), "{reason}");
}
