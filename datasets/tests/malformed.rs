//! Every malformed input gives its own error naming the file and, for a bad
//! record, the record index and byte offset. Each case is checked through
//! the whole-file loader and the streaming reader.

mod common;

use std::path::Path;

use common::{f32_counting, fvecs, npy, put};
use waypoint_datasets::{read, read_f32, Error, Reader};

/// The message of the whole-file load, checked to equal the streaming
/// reader's (opening and reading every row).
fn load_error(path: &Path) -> String {
    let whole = read::<f32>(path).unwrap_err().to_string();
    let streamed = stream_all(path).unwrap_err().to_string();
    assert_eq!(whole, streamed, "loader and stream disagree");
    whole
}

fn stream_all(path: &Path) -> waypoint_datasets::Result<usize> {
    let mut reader = Reader::<f32>::open(path)?;
    let mut rows = 0;
    while let Some(block) = reader.read_rows(2)? {
        rows += block.rows();
    }
    Ok(rows)
}

#[test]
fn empty_files_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["e.fvecs", "e.npy"] {
        let path = put(dir.path(), name, &[]);
        assert_eq!(
            load_error(&path),
            format!("{}: empty file: it holds no records", path.display())
        );
    }
    let zero_rows = put(
        dir.path(),
        "zero.npy",
        &npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }",
            64,
            &[],
        ),
    );
    assert!(matches!(read::<f32>(&zero_rows), Err(Error::Empty { .. })));
}

#[test]
fn truncated_last_record_names_record_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = fvecs(&[
        vec![1.0, 2.0, 3.0],
        vec![4.0, 5.0, 6.0],
        vec![7.0, 8.0, 9.0],
    ]);
    bytes.truncate(bytes.len() - 6); // record 2 starts at byte 32 and is 16 bytes long
    let path = put(dir.path(), "t.fvecs", &bytes);
    assert_eq!(
        load_error(&path),
        format!(
            "{}: record 2 at byte 32 is truncated: it needs 16 bytes, the file has 10 left",
            path.display()
        )
    );
}

#[test]
fn truncated_dimension_field_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = fvecs(&[vec![1.0, 2.0]]);
    bytes.extend_from_slice(&[2, 0, 0]);
    let path = put(dir.path(), "t.fvecs", &bytes);
    assert_eq!(
        load_error(&path),
        format!(
            "{}: record 1 at byte 12 is truncated: it needs 4 bytes, the file has 3 left",
            path.display()
        )
    );
}

#[test]
fn record_with_another_dimension_names_record_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = fvecs(&[
        vec![1.0, 2.0, 3.0],
        vec![4.0, 5.0, 6.0],
        vec![7.0, 8.0, 9.0],
        vec![1.0, 2.0, 3.0, 4.0],
    ]);
    let path = put(dir.path(), "d.fvecs", &bytes);
    assert_eq!(
        load_error(&path),
        format!(
            "{}: record 3 at byte 48 has dimension 4, but record 0 has dimension 3",
            path.display()
        )
    );
}

#[test]
fn stream_returns_the_rows_before_a_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = fvecs(&[vec![1.0], vec![2.0], vec![3.0], vec![4.0, 4.0]]);
    let path = put(dir.path(), "d.fvecs", &bytes);
    let mut reader = Reader::<f32>::open(&path).unwrap();
    assert_eq!(
        reader.read_rows(3).unwrap().unwrap().as_slice(),
        &[1.0, 2.0, 3.0]
    );
    let err = reader.read_rows(3).unwrap_err();
    assert!(matches!(
        err,
        Error::DimensionChanged {
            record: 3,
            offset: 24,
            expected: 1,
            got: 2,
            ..
        }
    ));
}

#[test]
fn non_positive_first_dimension_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(dir.path(), "neg.fvecs", &(-1i32).to_le_bytes());
    assert_eq!(
        load_error(&path),
        format!(
            "{}: record 0 at byte 0 declares dimension -1; it must be at least 1 (is this really a TEXMEX file?)",
            path.display()
        )
    );
}

#[test]
fn wrong_dtype_for_the_extension_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let ivecs = put(dir.path(), "ids.ivecs", &fvecs(&[vec![1.0]]));
    assert_eq!(
        read_f32(&ivecs).unwrap_err().to_string(),
        format!(
            "{}: holds int32 values (.ivecs), but float32 or uint8 is needed here",
            ivecs.display()
        )
    );
    assert!(matches!(
        Reader::<f32>::open(&ivecs),
        Err(Error::WrongDtype { .. })
    ));

    let f8 = put(
        dir.path(),
        "f8.npy",
        &npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }",
            64,
            &[0; 16],
        ),
    );
    assert_eq!(
        load_error(&f8),
        format!(
            "{}: holds dtype '<f8', but float32 ('<f4'), uint8 ('|u1') or int32 ('<i4') is needed here",
            f8.display()
        )
    );

    let f4 = put(
        dir.path(),
        "f4.npy",
        &npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
            64,
            &[0; 8],
        ),
    );
    assert_eq!(
        read::<i32>(&f4).unwrap_err().to_string(),
        format!(
            "{}: holds float32 values (dtype '<f4'), but int32 is needed here",
            f4.display()
        )
    );

    let big_endian = put(
        dir.path(),
        "be.npy",
        &npy(
            "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }",
            64,
            &[0; 8],
        ),
    );
    assert!(matches!(
        read_f32(&big_endian),
        Err(Error::WrongDtype { .. })
    ));
}

#[test]
fn npy_that_is_not_two_dimensional_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for (shape, shown) in [("(6,)", "(6,)"), ("(1, 2, 3)", "(1, 2, 3)"), ("()", "()")] {
        let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        let path = put(dir.path(), "s.npy", &npy(&dict, 64, &f32_counting(6)));
        assert_eq!(
            load_error(&path),
            format!(
                "{}: array of shape {shown} is not 2-D; expected (rows, columns)",
                path.display()
            )
        );
    }
}

#[test]
fn fortran_ordered_npy_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(
        dir.path(),
        "f.npy",
        &npy(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
            64,
            &f32_counting(6),
        ),
    );
    assert_eq!(
        load_error(&path),
        format!(
            "{}: array is in Fortran (column-major) order; save it in C order (numpy.ascontiguousarray)",
            path.display()
        )
    );
}

#[test]
fn npy_shorter_or_longer_than_its_shape_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    // A 60-byte dict padded to 128 bytes of header: the rows start at byte 128.
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
    let short = put(dir.path(), "short.npy", &npy(dict, 64, &f32_counting(5)));
    assert_eq!(
        load_error(&short),
        format!(
            "{}: record 2 at byte 144 is truncated: it needs 8 bytes, the file has 4 left",
            short.display()
        )
    );
    let long = put(dir.path(), "long.npy", &npy(dict, 64, &f32_counting(7)));
    assert_eq!(
        load_error(&long),
        format!(
            "{}: 4 bytes follow the last record (record 3 would start at byte 152); the header declares 3 rows",
            long.display()
        )
    );
}

#[test]
fn npy_with_a_broken_header_names_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let not_npy = put(dir.path(), "text.npy", b"hello, world");
    assert_eq!(
        load_error(&not_npy),
        format!(
            "{}: malformed .npy header at byte 0: missing the \\x93NUMPY magic: not a .npy file",
            not_npy.display()
        )
    );
    // The dict starts at byte 10; the unquoted key is at byte 11.
    let bad_dict = put(
        dir.path(),
        "dict.npy",
        &npy(
            "{descr: '<f4', 'fortran_order': False, 'shape': (1, 1)}",
            64,
            &[0; 4],
        ),
    );
    assert_eq!(
        load_error(&bad_dict),
        format!(
            "{}: malformed .npy header at byte 11: expected a quoted string, found 'd'",
            bad_dict.display()
        )
    );
    let missing = put(
        dir.path(),
        "missing.npy",
        &npy("{'descr': '<f4', 'shape': (1, 1)}", 64, &[0; 4]),
    );
    assert!(load_error(&missing).ends_with("the header has no 'fortran_order'"));
    let cut = put(dir.path(), "cut.npy", b"\x93NUMPY\x01\x00\x76\x00{'descr'");
    assert!(load_error(&cut).contains("header length 118 runs past the end of the 18-byte file"));
}

#[test]
fn missing_file_and_directory_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.fvecs");
    let err = load_error(&missing);
    assert!(
        err.starts_with(&format!("{}: cannot open: ", missing.display())),
        "{err}"
    );
    let folder = dir.path().join("folder.fvecs");
    std::fs::create_dir(&folder).unwrap();
    assert_eq!(
        load_error(&folder),
        format!(
            "{}: not a regular file (is it a directory?)",
            folder.display()
        )
    );
}
