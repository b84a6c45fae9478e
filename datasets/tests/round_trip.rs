//! Every format written and read back gives the same values, bit for bit.

mod common;

use waypoint_datasets::{read, read_f32, write, Dtype, Error, Format, Matrix};

fn f32_bits(m: &Matrix<f32>) -> Vec<u32> {
    m.as_slice().iter().map(|v| v.to_bits()).collect()
}

fn awkward_f32() -> Matrix<f32> {
    let values = vec![
        0.0,
        -0.0,
        1.0,
        -1.5,
        f32::MIN_POSITIVE,
        f32::MIN_POSITIVE / 8.0, // subnormal
        f32::MAX,
        f32::MIN,
        std::f32::consts::PI,
        1e-30,
        123_456.79,
        -7.25,
    ];
    Matrix::new(3, values).unwrap()
}

#[test]
fn fvecs_round_trip_preserves_every_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.fvecs");
    let m = awkward_f32();
    write(&path, &m).unwrap();
    let back = read::<f32>(&path).unwrap();
    assert_eq!((back.rows(), back.dim()), (4, 3));
    assert_eq!(f32_bits(&back), f32_bits(&m));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 4 * (4 + 3 * 4));
}

#[test]
fn bvecs_round_trip_preserves_every_byte_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.bvecs");
    let m = Matrix::new(16, (0..=255u8).collect()).unwrap();
    write(&path, &m).unwrap();
    assert_eq!(read::<u8>(&path).unwrap(), m);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 16 * (4 + 16));
}

#[test]
fn ivecs_round_trip_preserves_extremes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.ivecs");
    let m = Matrix::new(2, vec![i32::MIN, i32::MAX, -1, 0, 7, 1 << 30]).unwrap();
    write(&path, &m).unwrap();
    assert_eq!(read::<i32>(&path).unwrap(), m);
}

#[test]
fn npy_round_trip_for_f32_u8_and_i32() {
    let dir = tempfile::tempdir().unwrap();
    let f = awkward_f32();
    write(dir.path().join("f.npy"), &f).unwrap();
    assert_eq!(
        f32_bits(&read::<f32>(dir.path().join("f.npy")).unwrap()),
        f32_bits(&f)
    );

    let b = Matrix::new(8, (0..=255u8).collect()).unwrap();
    write(dir.path().join("b.npy"), &b).unwrap();
    assert_eq!(read::<u8>(dir.path().join("b.npy")).unwrap(), b);

    let i = Matrix::new(1, vec![5, -3, i32::MAX]).unwrap();
    write(dir.path().join("i.npy"), &i).unwrap();
    assert_eq!(read::<i32>(dir.path().join("i.npy")).unwrap(), i);
}

#[test]
fn npy_writer_emits_numpy_v1_header_aligned_to_64_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.npy");
    write(&path, &Matrix::new(3, vec![1.0f32; 6]).unwrap()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0);
    let text = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert_eq!(
        text.trim_end(),
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    );
    assert!(text.ends_with('\n'));
    assert_eq!(bytes.len(), 10 + header_len + 6 * 4);
}

#[test]
fn npy_reader_accepts_other_valid_headers() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::f32_counting(6);
    // Old NumPy: 16-byte alignment; keys in another order, no trailing comma,
    // Python 2 long suffixes.
    let old = common::npy(
        "{'shape': (2L, 3L), 'fortran_order': False, 'descr': '<f4'}",
        16,
        &data,
    );
    let m = read::<f32>(common::put(dir.path(), "old.npy", &old)).unwrap();
    assert_eq!((m.rows(), m.dim()), (2, 3));
    assert_eq!(m.row(1), &[3.0, 4.0, 5.0]);

    // Version 2.0: a 4-byte header length.
    let dict = "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3, 2)}\n";
    let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
    v2.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    v2.extend_from_slice(dict.as_bytes());
    v2.extend_from_slice(&data);
    let m = read::<f32>(common::put(dir.path(), "v2.npy", &v2)).unwrap();
    assert_eq!((m.rows(), m.dim()), (3, 2));
    assert_eq!(m.row(2), &[4.0, 5.0]);
}

#[test]
fn read_f32_widens_bvecs_and_uint8_npy_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = Matrix::new(4, vec![0u8, 1, 128, 255, 9, 8, 7, 6]).unwrap();
    let expected = Matrix::new(4, vec![0.0f32, 1.0, 128.0, 255.0, 9.0, 8.0, 7.0, 6.0]).unwrap();
    for name in ["v.bvecs", "v.npy"] {
        let path = dir.path().join(name);
        write(&path, &bytes).unwrap();
        assert_eq!(read_f32(&path).unwrap(), expected, "{name}");
    }
}

#[test]
fn format_comes_from_the_extension_case_insensitively() {
    assert_eq!(Format::from_path("x/Base.FVECS").unwrap(), Format::Fvecs);
    assert_eq!(Format::from_path("b.bvecs").unwrap(), Format::Bvecs);
    assert_eq!(Format::Ivecs.texmex_dtype(), Some(Dtype::I32));
    assert_eq!(Format::from_path("q.npy").unwrap().texmex_dtype(), None);
    let err = Format::from_path("vectors.txt").unwrap_err();
    assert_eq!(
        err.to_string(),
        "vectors.txt: unknown extension; expected .fvecs, .bvecs, .ivecs or .npy"
    );
}

#[test]
fn writing_values_into_the_wrong_texmex_extension_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gt.fvecs");
    let err = write(&path, &Matrix::new(1, vec![1i32]).unwrap()).unwrap_err();
    assert!(matches!(err, Error::ExtensionMismatch { .. }));
    assert!(err.to_string().ends_with(
        "gt.fvecs: a .fvecs file holds float32 values and cannot store int32; use .ivecs or .npy"
    ));
    assert!(!path.exists());
}

#[test]
fn writing_an_empty_matrix_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["e.fvecs", "e.npy"] {
        let err = write(
            dir.path().join(name),
            &Matrix::<f32>::new(3, vec![]).unwrap(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::NothingToWrite { .. }), "{name}: {err}");
    }
}

#[test]
fn matrix_rejects_shapes_that_do_not_divide() {
    let err = Matrix::new(3, vec![1.0f32; 7]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "7 values do not form rows of dimension 3 (dim must be at least 1 and divide the length)"
    );
    assert!(Matrix::<u8>::new(0, vec![]).is_err());
}
