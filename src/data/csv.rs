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
    read(path, &Missing { what: "digits", hint: &hint }, Some(DIGITS_CELLS), &CsvOptions::new())
}

/// Which lines of a CSV file are a header, not data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// The first non-empty line is a header when any of its cells is not a number, as in
    /// `sepal length,sepal width,...,label` and in scikit-learn's data files, whose first line
    /// `150,4,setosa,versicolor,virginica` gives the numbers of samples and features and the
    /// class names. (A first line of data with a typo is then skipped too: use
    /// [`Header::None`] where every line is data.)
    #[default]
    Auto,
    /// No header: every line is data.
    None,
    /// The first `n` lines (empty ones included) are skipped, whatever they hold.
    Skip(usize),
}

/// Which column holds the class label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelColumn {
    /// The last column (scikit-learn's files, the digits).
    #[default]
    Last,
    /// The first column (e.g. UCI's `wine.data`).
    First,
    /// Column `i`, counted from 0.
    Index(usize),
}

/// How [`read_csv`] reads a file: its [`Header`] and its [`LabelColumn`]. The default
/// (`CsvOptions::new()`) is what [`read_labeled_csv`] uses: header detected, label last.
///
/// # Example: scikit-learn's `iris.csv`
/// ```
/// use backprop::data::{read_csv, CsvOptions, Header, LabelColumn};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let path = std::env::temp_dir().join(format!("backprop-doc-iris-{}.csv", std::process::id()));
/// std::fs::write(&path, "150,4,setosa,versicolor,virginica\n5.1,3.5,1.4,0.2,0\n7.0,3.2,4.7,1.4,1\n")?;
/// let (x, labels) = read_csv::<f64>(&path, &CsvOptions::new())?;
/// assert_eq!((x.shape(), labels), ((2, 4), vec![0, 1]));
/// // The same with the label first and one line skipped whatever it holds:
/// std::fs::write(&path, "class,a,b\n2,0.5,1.5\n")?;
/// let options = CsvOptions::new().header(Header::Skip(1)).label_column(LabelColumn::First);
/// let (x, labels) = read_csv::<f64>(&path, &options)?;
/// assert_eq!((x[(0, 1)], labels), (1.5, vec![2]));
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CsvOptions {
    header: Header,
    label: LabelColumn,
}

impl CsvOptions {
    /// Header detected ([`Header::Auto`]), label in the last column.
    pub fn new() -> Self {
        Self::default()
    }

    /// Which lines are a header.
    pub fn header(mut self, header: Header) -> Self {
        self.header = header;
        self
    }

    /// Which column holds the label.
    pub fn label_column(mut self, label: LabelColumn) -> Self {
        self.label = label;
        self
    }
}

/// Reads a numeric CSV file with a class label in one column, raw or gzip-compressed, as
/// `options` say; otherwise as [`read_labeled_csv`] (which is `read_csv` with the default
/// options).
///
/// # Errors
/// As [`read_labeled_csv`]; [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a
/// [`LabelColumn::Index`] beyond the file's columns.
pub fn read_csv<T: Real>(path: impl AsRef<Path>, options: &CsvOptions) -> Result<(DMatrix<T>, Vec<usize>)> {
    let hint = || "check the path (relative paths start at the working directory)".to_string();
    read(path.as_ref(), &Missing { what: "CSV", hint: &hint }, None, options)
}

/// Reads a numeric CSV file whose last column is a class label, raw or gzip-compressed.
///
/// Every line is one sample: its features, then its label (an integer ≥ 0). All lines must have
/// as many cells as the first. Cells may be surrounded by spaces; empty lines are skipped; a first
/// line in which a cell is not a number is taken as a header and skipped ([`Header::Auto`]; see
/// [`read_csv`] for other headers and label columns). scikit-learn's `iris.csv`, `wine_data.csv`
/// and `breast_cancer.csv` read as they are. Lines and columns in
/// errors are counted from 1. The (decompressed) file may hold at most
/// [`MAX_DATA_BYTES`](super::MAX_DATA_BYTES).
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) for an unreadable file or corrupt gzip data; otherwise
/// [`Error::Data`](crate::Error::Data) holding [`DataError::DataFileNotFound`];
/// [`DataError::BadCell`] (with line, column and text) for a feature that is not a finite number
/// in `T` (`inf`, or `1e300` when reading `f32`) or a label that is not an integer ≥ 0;
/// [`DataError::RowWidth`]; [`DataError::NoFeatures`] for lines of one cell (a label alone); [`DataError::EmptyDataFile`] when no line holds data;
/// [`DataError::FileTooLarge`].
pub fn read_labeled_csv<T: Real>(path: impl AsRef<Path>) -> Result<(DMatrix<T>, Vec<usize>)> {
    read_csv(path, &CsvOptions::new())
}

fn read<T: Real>(
    path: &Path,
    missing: &Missing<'_>,
    cells: Option<usize>,
    options: &CsvOptions,
) -> Result<(DMatrix<T>, Vec<usize>)> {
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
        if let Header::Skip(n) = options.header {
            if line_no <= n {
                continue;
            }
        }
        let text = String::from_utf8_lossy(&raw);
        let line = text.trim();
        if line.is_empty() {
            continue;
        }
        let first = !seen_line;
        seen_line = true;
        if first && options.header == Header::Auto && line.split(',').any(|c| c.trim().parse::<f64>().is_err()) {
            continue; // a header
        }
        let got = line.split(',').count();
        let expected = *width.get_or_insert(got);
        if expected < 2 {
            return Err(DataError::NoFeatures { path: path.to_path_buf(), line: line_no }.into());
        }
        if got != expected {
            return Err(DataError::RowWidth { path: path.to_path_buf(), line: line_no, expected, got }.into());
        }
        let label_at = match options.label {
            LabelColumn::Last => expected - 1,
            LabelColumn::First => 0,
            LabelColumn::Index(i) if i < expected => i,
            LabelColumn::Index(i) => {
                return Err(crate::Error::InvalidConfig {
                    name: "label column",
                    value: i.to_string(),
                    expected: "a column of the file (counted from 0)",
                })
            }
        };
        for (j, cell) in line.split(',').enumerate() {
            let cell = cell.trim();
            let bad = |expected| DataError::BadCell {
                path: path.to_path_buf(),
                line: line_no,
                column: j + 1,
                text: cell.chars().take(40).collect(),
                expected,
            };
            if j != label_at {
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => {
                        // Finite in f64 may still overflow a smaller `T` (1e300 in f32).
                        let v = T::cast(v);
                        if !v.is_finite() {
                            return Err(
                                bad("a finite number in the range of the type read into (±3.4e38 for f32)").into()
                            );
                        }
                        values.push(v);
                    }
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
