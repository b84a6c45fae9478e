//! The body of the `index_file` fuzz target (`fuzz/` at the repository
//! root), kept here so that the nightly fuzzer and the stable test that
//! replays its corpus run the same code. Not part of the supported API.
//!
//! An input is the bytes of an index file. Most random bytes fail a
//! checksum long before the interesting checks, so each input is tried
//! twice: as given, and with every checksum recomputed ([`reseal`]), which
//! lets the fuzzer reach the graph, id and tombstone validation directly.
//!
//! Whatever the bytes, [`HnswView::open`] must return a [`Error::Corrupt`]
//! or a view; a view must then answer every call consistently (hits are
//! live, sorted and unique; exact search returns `min(k, len)` hits and the
//! same ones as the view copied into an [`Hnsw`]; that copy takes an insert
//! and saves to a file that opens again). A violated property panics,
//! which the fuzzer reports.
//!
//! The stable test lives in the server crate (`server/tests/fuzz_corpus.rs`)
//! so that one file replays every target's corpus.

use std::collections::HashSet;
use std::path::Path;

use roaring::RoaringTreemap;

use crate::error::Error;
use crate::format::{get_u64, Section, HEADER_LEN, SECTION_ENTRY_LEN};
use crate::search::{Filter, Neighbor, SearchParams};
use crate::{Hnsw, HnswParams, HnswView, Metric};

/// Runs one input: writes `data` into `scratch` (an existing directory the
/// caller owns), opens it as given and resealed, and checks every property.
///
/// # Panics
/// When a property above is violated (that is the finding).
pub fn index_file(scratch: &Path, data: &[u8]) {
    open_and_exercise(scratch, data);
    let mut resealed = data.to_vec();
    reseal(&mut resealed);
    if resealed != data {
        open_and_exercise(scratch, &resealed);
    }
}

/// Recomputes, in place, the checksum of every section whose table row
/// points inside `bytes`, then the section table's and the header's. Bytes
/// too short to hold a header are left alone.
pub fn reseal(bytes: &mut [u8]) {
    if bytes.len() < HEADER_LEN {
        return;
    }
    let table_end = HEADER_LEN + Section::ALL.len() * SECTION_ENTRY_LEN;
    if bytes.len() >= table_end {
        for row in (HEADER_LEN..table_end).step_by(SECTION_ENTRY_LEN) {
            let (offset, length) = (get_u64(bytes, row + 8), get_u64(bytes, row + 16));
            let end = offset
                .checked_add(length)
                .filter(|&e| e <= bytes.len() as u64);
            if let Some(end) = end {
                let crc = crc32c::crc32c(&bytes[offset as usize..end as usize]);
                bytes[row + 24..row + 28].copy_from_slice(&crc.to_le_bytes());
            }
        }
        let crc = crc32c::crc32c(&bytes[HEADER_LEN..table_end]);
        bytes[92..96].copy_from_slice(&crc.to_le_bytes());
    }
    let crc = crc32c::crc32c(&bytes[..124]);
    bytes[124..128].copy_from_slice(&crc.to_le_bytes());
}

fn open_and_exercise(scratch: &Path, data: &[u8]) {
    let path = scratch.join("fuzz.wpi");
    std::fs::write(&path, data).expect("the scratch directory is writable");
    match HnswView::open(&path) {
        Ok(view) => exercise(scratch, &view),
        Err(Error::Corrupt { reason, .. }) => assert!(!reason.is_empty()),
        Err(other) => panic!("a regular file must open or be Corrupt, got: {other}"),
    }
}

/// The checks run on a file that opened.
fn exercise(scratch: &Path, view: &HnswView) {
    assert_eq!(view.len() + view.deleted_count(), view.node_count());
    let copy = view.to_index().expect("a valid view copies into an index");
    let ids = copy.ids();
    assert_eq!(ids.len(), view.len(), "the copy holds the view's live ids");
    for &id in &ids {
        assert!(view.contains(id) && copy.contains(id));
        let stored = view.get_vector(id).expect("a live id has a vector");
        assert_eq!(stored.len(), view.dim());
        assert_eq!(copy.get_vector(id).as_deref(), Some(stored));
    }

    let allowed: RoaringTreemap = ids.iter().step_by(2).copied().collect();
    for query in queries(view, &ids) {
        for k in [1, 3, view.len() + 1] {
            let exact = SearchParams::default().with_exact(true);
            let truth = view.search(&query, k, &exact).expect("valid query");
            check_hits(view, &truth, k, None);
            assert_eq!(truth.len(), k.min(view.len()), "exact search is complete");
            let copied = copy.search(&query, k, &exact).expect("valid query");
            assert_eq!(ids_of(&copied), ids_of(&truth), "view and copy agree");
            for ef in [None, Some(1), Some(64)] {
                let params = SearchParams {
                    ef,
                    ..SearchParams::default()
                };
                check_hits(view, &view.search(&query, k, &params).unwrap(), k, None);
                let filtered = params.with_filter(Filter::AllowList(&allowed));
                let hits = view.search(&query, k, &filtered).unwrap();
                check_hits(view, &hits, k, Some(&allowed));
                check_hits(view, &copy.search(&query, k, &params).unwrap(), k, None);
            }
        }
    }
    // The copy takes a new point and round-trips through a file.
    let fresh = ids.iter().max().map_or(0, |&m| m.wrapping_add(1));
    if !copy.contains(fresh) {
        copy.insert(fresh, &vec![0.5; view.dim()])
            .expect("a valid vector inserts into a loaded copy");
    }
    let saved = scratch.join("fuzz-copy.wpi");
    copy.save(&saved).expect("the copy saves");
    let reopened = HnswView::open(&saved).expect("a saved copy opens again");
    assert_eq!(reopened.len(), copy.len());
    assert!(copy.ids().iter().all(|&id| reopened.contains(id)));
}

/// A few queries: an all-ones vector, a stored vector, and a varied one.
fn queries(view: &HnswView, ids: &[u64]) -> Vec<Vec<f32>> {
    let dim = view.dim();
    let mut out = vec![vec![1.0; dim]];
    if let Some(v) = ids.first().and_then(|&id| view.get_vector(id)) {
        if view.metric().prepare(v, dim).is_ok() {
            out.push(v.to_vec());
        }
    }
    out.push((0..dim).map(|i| (i % 7) as f32 - 2.5).collect());
    out
}

fn ids_of(hits: &[Neighbor]) -> Vec<u64> {
    hits.iter().map(|h| h.id).collect()
}

/// Hits are at most `k`, live, unique, allowed, and sorted by distance.
fn check_hits(view: &HnswView, hits: &[Neighbor], k: usize, allowed: Option<&RoaringTreemap>) {
    assert!(hits.len() <= k, "{} hits for k = {k}", hits.len());
    let mut seen = HashSet::new();
    for h in hits {
        assert!(view.contains(h.id), "hit {} is not live", h.id);
        assert!(seen.insert(h.id), "hit {} returned twice", h.id);
        assert!(
            allowed.is_none_or(|a| a.contains(h.id)),
            "hit {} filtered out",
            h.id
        );
    }
    assert!(
        hits.windows(2)
            .all(|w| w[0].distance.total_cmp(&w[1].distance).is_le()),
        "hits are not sorted by distance"
    );
}

/// Hand-made seeds, as `(name, file bytes)`: small valid index files of
/// each metric, with and without tombstones, and an empty one. `scratch` is
/// an existing directory the caller owns.
pub fn seeds(scratch: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for metric in [Metric::L2Squared, Metric::Cosine, Metric::InnerProduct] {
        for (points, deleted) in [(0u64, 0u64), (24, 0), (24, 5)] {
            if points == 0 && metric != Metric::L2Squared {
                continue;
            }
            let index =
                Hnsw::new(3, metric, HnswParams::default().with_m(2)).expect("valid parameters");
            for id in 0..points {
                let v = [id as f32, (id % 5) as f32 - 2.0, 1.0 + (id % 3) as f32];
                index.insert(id * 7, &v).expect("a valid vector");
            }
            for id in 0..deleted {
                index.delete(id * 14).expect("a live id");
            }
            let path = scratch.join("seed.wpi");
            index
                .save(&path)
                .expect("the scratch directory is writable");
            let name = format!("seed-{metric}-{points}-points-{deleted}-deleted");
            out.push((name, std::fs::read(&path).expect("just written")));
        }
    }
    out
}
