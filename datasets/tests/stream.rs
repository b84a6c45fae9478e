//! The streaming reader returns exactly the rows of a whole-file load, in
//! blocks of the requested size, for every format.

mod common;

use waypoint_datasets::{read, write, Element, Matrix, Reader};

fn stream_blocks<T: Element>(path: &std::path::Path, block: usize) -> (Vec<usize>, Vec<T>) {
    let mut reader = Reader::<T>::open(path).unwrap();
    let (mut sizes, mut values) = (Vec::new(), Vec::new());
    while let Some(m) = reader.read_rows(block).unwrap() {
        assert_eq!(m.dim(), reader.dim());
        sizes.push(m.rows());
        values.extend_from_slice(m.as_slice());
    }
    assert!(
        reader.read_rows(block).unwrap().is_none(),
        "stays at the end"
    );
    (sizes, values)
}

#[test]
fn stream_equals_whole_file_load_for_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let floats = Matrix::new(7, common::random_f32(10 * 7, 1)).unwrap();
    let bytes = Matrix::new(5, (0..50u8).collect()).unwrap();
    let ints = Matrix::new(3, (0..30i32).map(|i| i * 1000 - 7).collect()).unwrap();
    for ext in ["fvecs", "npy"] {
        let path = dir.path().join(format!("f.{ext}"));
        write(&path, &floats).unwrap();
        let (sizes, values) = stream_blocks::<f32>(&path, 4);
        assert_eq!(sizes, [4, 4, 2], "{ext}");
        assert_eq!(values, read::<f32>(&path).unwrap().into_vec(), "{ext}");
        assert_eq!(Reader::<f32>::open(&path).unwrap().rows(), 10);
    }
    for ext in ["bvecs", "npy"] {
        let path = dir.path().join(format!("b.{ext}"));
        write(&path, &bytes).unwrap();
        assert_eq!(stream_blocks::<u8>(&path, 3).1, bytes.as_slice(), "{ext}");
    }
    for ext in ["ivecs", "npy"] {
        let path = dir.path().join(format!("i.{ext}"));
        write(&path, &ints).unwrap();
        assert_eq!(stream_blocks::<i32>(&path, 100).0, [10], "{ext}");
        assert_eq!(stream_blocks::<i32>(&path, 1).1, ints.as_slice(), "{ext}");
    }
}
