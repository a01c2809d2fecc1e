//! Numeric CSV files whose last column is a class label, such as the 8×8 digits.

use super::source::{io_error, open, Missing};
use super::DataError;
use super::MAX_DATA_BYTES;
use crate::{Real, Result};
use nalgebra::DMatrix;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Where the digits file can be downloaded.
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// Cells of a digits row: 64 pixels, then the label.
const DIGITS_CELLS: usize = 65;

/// Reads the 8×8 digits (`digits.csv.gz`): 1797 images of handwritten digits.
///
/// Each line holds 64 pixels, row by row of the 8 × 8 image (i.e. flattened
/// `(C, H, W) = (1, 8, 8)`), each an integer `0..=16`, then the digit `0..=9`. Gives the
/// `1797 × 64` pixel matrix, values as stored (divide by 16 for [0, 1]), and the labels. The
/// file ships with the repository as `data/digits.csv.gz` but not with the crates.io package (it
/// is CC BY 4.0, not the crate's licence); see `data/README.md` in the repository for its origin
/// and licence. The format is that of [`read_labeled_csv`], with exactly 65 cells per line.
///
/// # Errors
/// As [`read_labeled_csv`]; [`DataError::RowWidth`] (in [`Error::Data`](crate::Error::Data)) for
/// a line without exactly 65 cells.
pub fn read_digits<T: Real>(path: impl AsRef<Path>) -> Result<(DMatrix<T>, Vec<usize>)> {
    let path = path.as_ref();
    let hint = || {
        let dir = path.parent().map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
        format!(
            "the repository {REPOSITORY} ships it as data/digits.csv.gz (CC BY 4.0, so not in the crates.io package); put it into {}",
            super::folder_hint(&dir, "")
        )
    };
    read(path, &Missing { what: "digits", hint: &hint }, Some(DIGITS_CELLS))
}

/// Reads a numeric CSV file whose last column is a class label, raw or gzip-compressed.
///
/// Every line is one sample: its features, then its label (an integer ≥ 0). All lines must have
/// as many cells as the first. Cells may be surrounded by spaces; empty lines are skipped; a first
/// line in which no cell is a number is taken as a header and skipped. Lines and columns in
/// errors are counted from 1. The (decompressed) file may hold at most
/// [`MAX_DATA_BYTES`](super::MAX_DATA_BYTES).
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) for an unreadable file or corrupt gzip data; otherwise
/// [`Error::Data`](crate::Error::Data) holding [`DataError::DataFileNotFound`];
/// [`DataError::BadCell`] (with line, column and text) for a feature that is not a finite number
/// or a label that is not an integer ≥ 0; [`DataError::RowWidth`]; [`DataError::EmptyDataFile`]
/// when no line holds data; [`DataError::FileTooLarge`].
pub fn read_labeled_csv<T: Real>(path: impl AsRef<Path>) -> Result<(DMatrix<T>, Vec<usize>)> {
    let hint = || "check the path".to_string();
    read(path.as_ref(), &Missing { what: "CSV", hint: &hint }, None)
}

fn read<T: Real>(path: &Path, missing: &Missing<'_>, cells: Option<usize>) -> Result<(DMatrix<T>, Vec<usize>)> {
    let src = open(path, missing)?;
    let mut reader = BufReader::with_capacity(1 << 16, src.reader.take(MAX_DATA_BYTES + 1));
    let mut width = cells;
    let mut values: Vec<T> = Vec::new();
    let mut labels: Vec<usize> = Vec::new();
    let mut raw = Vec::new();
    let (mut total, mut line_no, mut seen_line) = (0u64, 0usize, false);
    loop {
        raw.clear();
        let n = reader.read_until(b'\n', &mut raw).map_err(|e| io_error("read", path, e))?;
        if n == 0 {
            break;
        }
        total = total.saturating_add(n as u64);
        if total > MAX_DATA_BYTES {
            return Err(DataError::FileTooLarge { path: path.to_path_buf(), limit: MAX_DATA_BYTES }.into());
        }
        line_no += 1;
        let text = String::from_utf8_lossy(&raw);
        let line = text.trim();
        if line.is_empty() {
            continue;
        }
        let first = !seen_line;
        seen_line = true;
        if first && line.split(',').all(|c| c.trim().parse::<f64>().is_err()) {
            continue; // a header
        }
        let got = line.split(',').count();
        let expected = *width.get_or_insert(got);
        if got != expected {
            return Err(DataError::RowWidth { path: path.to_path_buf(), line: line_no, expected, got }.into());
        }
        for (j, cell) in line.split(',').enumerate() {
            let cell = cell.trim();
            let bad = |expected| DataError::BadCell {
                path: path.to_path_buf(),
                line: line_no,
                column: j + 1,
                text: cell.chars().take(40).collect(),
                expected,
            };
            if j + 1 < expected {
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => values.push(T::cast(v)),
                    _ => return Err(bad("a finite number").into()),
                }
            } else {
                labels.push(parse_label(cell).ok_or_else(|| bad("a class label (an integer >= 0)"))?);
            }
        }
    }
    let features = match width {
        Some(w) if !labels.is_empty() => w.saturating_sub(1),
        _ => return Err(DataError::EmptyDataFile { path: path.to_path_buf() }.into()),
    };
    Ok((DMatrix::from_row_iterator(labels.len(), features, values), labels))
}

/// A label: `7`, or a float with no fraction such as `7.0`.
fn parse_label(cell: &str) -> Option<usize> {
    if let Ok(k) = cell.parse::<usize>() {
        return Some(k);
    }
    let v = cell.parse::<f64>().ok()?;
    // 2^53: every integer below it is exact in f64, and fits usize on 64-bit targets.
    ((0.0..9_007_199_254_740_992.0).contains(&v) && v.fract() == 0.0)
        .then_some(v as u64)
        .and_then(|k| usize::try_from(k).ok())
}
