//! A view whose file is truncated or rewritten underneath it: searches fail
//! with `Error::FileChanged` naming the file, and never crash or panic. (A
//! `SIGBUS` here would kill this test binary, which fails the test.)

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use waypoint_index::{Error, Hnsw, HnswParams, HnswView, Metric, SearchParams};

const DIM: usize = 16;
const N: usize = 2000;

fn saved(dir: &Path) -> (std::path::PathBuf, Vec<f32>) {
    let vectors = common::Rng::new(3).vectors(N, DIM);
    let ids: Vec<u64> = (0..N as u64).collect();
    let index = Hnsw::build(
        DIM,
        Metric::L2Squared,
        HnswParams::default(),
        &ids,
        &vectors,
    )
    .unwrap();
    let path = dir.join("victim.wpi");
    index.save(&path).unwrap();
    (path, vectors)
}

fn assert_file_changed(result: waypoint_index::Result<Vec<waypoint_index::Neighbor>>, path: &Path) {
    match result {
        Err(e @ Error::FileChanged { .. }) => {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        }
        other => panic!("expected FileChanged, got {other:?}"),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn truncating_the_file_under_a_view_fails_its_searches_instead_of_killing_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let (path, vectors) = saved(dir.path());
    let view = HnswView::open(&path).unwrap();
    assert!(view.is_guarded());
    let other = HnswView::open(dir.path().join("victim.wpi")).unwrap();
    let q = &vectors[..DIM];
    assert_eq!(
        view.search(q, 1, &SearchParams::default()).unwrap()[0].id,
        0
    );

    // Another process truncating it, as far as the mapping can tell.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4096)
        .unwrap();
    // The exact scan reads every vector, far past the new end.
    let exact = SearchParams::default().with_exact(true);
    assert_file_changed(view.search(q, 10, &exact), &path);
    assert_file_changed(view.search(q, 10, &SearchParams::default()), &path);
    assert!(matches!(view.to_index(), Err(Error::FileChanged { .. })));
    let batch = view.search_batch(&[q, q], 5, &exact);
    assert!(matches!(batch, Err(Error::FileChanged { .. })), "{batch:?}");
    // The second view of the same file is told too, by its own check.
    assert_file_changed(other.search(q, 10, &exact), &path);
    drop((view, other));

    // A fresh, intact file opens and searches as before (the slot was
    // released and the handler stays harmless).
    let (path, _) = saved(dir.path());
    let view = HnswView::open(&path).unwrap();
    assert_eq!(view.search(q, 1, &exact).unwrap()[0].id, 0);
}

#[test]
fn rewriting_the_file_in_place_fails_searches_with_file_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (path, vectors) = saved(dir.path());
    let view = HnswView::open(&path).unwrap();
    let q = &vectors[..DIM];
    // Let the file system's clock tick past the save, so the rewrite gets a
    // new modification time.
    std::thread::sleep(Duration::from_millis(50));
    let len = std::fs::metadata(&path).unwrap().len();
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(len / 2)).unwrap();
    f.write_all(&vec![0xFF; 4096]).unwrap();
    f.sync_all().unwrap();
    assert_file_changed(view.search(q, 10, &SearchParams::default()), &path);
    assert!(matches!(
        view.check_intact(),
        Err(Error::FileChanged { .. })
    ));
}

#[test]
fn garbage_written_over_a_mapped_file_never_panics_a_search() {
    let dir = tempfile::tempdir().unwrap();
    let (path, vectors) = saved(dir.path());
    let original = std::fs::read(&path).unwrap();
    let len = original.len();
    let mut rng = common::Rng::new(11);
    for round in 0..20 {
        let view = HnswView::open(&path).unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        // Overwrite a random stretch past the header (links, offsets,
        // vectors or ids) with random bytes, keeping size and mtime, so the
        // change goes unnoticed by the stamp and the reads must cope.
        let start = 128 + (rng.next_u64() as usize % (len - 128));
        let garbage: Vec<u8> = (0..(len - start).min(8192))
            .map(|_| rng.next_u64() as u8)
            .collect();
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(start as u64)).unwrap();
        f.write_all(&garbage).unwrap();
        f.set_modified(modified).unwrap();
        let q = &vectors[(round % N) * DIM..(round % N + 1) * DIM];
        for params in [
            SearchParams::default(),
            SearchParams::default().with_exact(true),
        ] {
            // Any answer or any error, but no panic.
            let _ = view.search(q, 10, &params);
        }
        drop(view);
        std::fs::write(&path, &original).unwrap();
    }
}
