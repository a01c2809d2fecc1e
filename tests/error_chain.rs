//! Error chains read cleanly: a reporter that prints an error and then walks
//! `std::error::Error::source()` (as anyhow and eyre do) prints each cause once, while the error's
//! own message alone still says what happened and why.

use backprop::data::{read_digits, read_idx_images, DataError};
use backprop::{Error, FormatError, Sequential};
use std::error::Error as _;

/// The messages of `err` and of every source under it, outermost first.
fn chain(err: &Error) -> Vec<String> {
    let mut messages = vec![err.to_string()];
    let mut next = err.source();
    while let Some(cause) = next {
        messages.push(cause.to_string());
        next = cause.source();
    }
    messages
}

/// Asserts that no message in the chain repeats a later one, and that `detail` (the innermost
/// reason) appears exactly once in the report a chain-walking reporter prints.
fn assert_reads_once(err: &Error, detail: &str) {
    let messages = chain(err);
    for (i, outer) in messages.iter().enumerate() {
        for inner in &messages[i + 1..] {
            assert!(!outer.contains(inner.as_str()), "{outer:?} repeats its cause {inner:?}");
        }
    }
    let report = messages.join(": ");
    assert_eq!(report.matches(detail).count(), 1, "{detail:?} should appear once in {report:?}");
    assert!(err.to_string().contains(detail), "{err} should say {detail:?} on its own");
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("backprop-error-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn io_error_prints_the_operating_systems_message_once() {
    let path = temp_path("missing.safetensors");
    let os = std::fs::read(&path).unwrap_err().to_string();
    let err = Sequential::<f64>::load(&path).unwrap_err();
    let Error::Io { action: "read", path: ref p, ref error } = err else { panic!("{err:?}") };
    assert_eq!(p, &path);
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    assert_reads_once(&err, &os);
    assert!(err.to_string().starts_with(&format!("cannot read {}", path.display())), "{err}");
}

#[test]
fn io_error_from_a_data_file_prints_its_cause_once() {
    // A directory opens but cannot be read as a file.
    let dir = temp_path("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    let err = read_idx_images::<f32>(&dir).unwrap_err();
    let Error::Io { ref error, .. } = err else { panic!("{err:?}") };
    let os = error.to_string();
    assert_reads_once(&err, &os);
    assert!(err.to_string().contains(&dir.display().to_string()), "{err}");
}

#[test]
fn format_error_prints_its_detail_once() {
    let err = Sequential::<f32>::from_bytes(b"not a model file").unwrap_err();
    let Error::Format(ref inner) = err else { panic!("{err:?}") };
    assert!(matches!(inner, FormatError::Safetensors(_)), "{inner:?}");
    assert_reads_once(&err, &inner.to_string());
    assert_eq!(err.to_string(), format!("model file: {inner}"));
    // `?` still turns a `FormatError` into an `Error`.
    let converted: Error = FormatError::MissingMetadata { key: "format" }.into();
    assert_reads_once(&converted, "metadata entry \"format\" is missing");
}

#[test]
fn data_error_prints_its_detail_once() {
    let missing = temp_path("no-digits.csv.gz");
    let err = read_digits::<f32>(&missing).unwrap_err();
    let Error::Data(ref inner) = err else { panic!("{err:?}") };
    assert!(matches!(inner, DataError::DataFileNotFound { what: "digits", path, .. } if path == &missing));
    assert_reads_once(&err, &inner.to_string());
    assert_eq!(err.to_string(), inner.to_string());

    let bad = temp_path("bad-magic.idx");
    std::fs::write(&bad, [0, 0, 8, 1, 0, 0, 0, 0]).unwrap();
    let err = read_idx_images::<f32>(&bad).unwrap_err();
    let Error::Data(ref inner) = err else { panic!("{err:?}") };
    assert!(matches!(inner, DataError::BadMagic { expected: 0x803, found: 0x801, .. }), "{inner:?}");
    assert_reads_once(&err, "magic number 0x00000801 at byte 0, expected 0x00000803");
}
