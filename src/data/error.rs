//! What can be wrong with a data file.

use std::path::PathBuf;

/// What is wrong with a data file (see [`Error::Data`](crate::Error::Data)).
///
/// Every message names the file, and the byte offset (IDX) or the line and column (CSV) where
/// reading stopped, so it reads on its own: [`Error::Data`](crate::Error::Data) displays it
/// unchanged. A file that cannot be opened or read (permissions, corrupt gzip data) is an
/// [`Error::Io`](crate::Error::Io) instead; a missing one is [`DataError::DataFileNotFound`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A data file does not exist; the message says where to put it.
    #[error("{what} file {} not found; {hint}", .path.display())]
    DataFileNotFound {
        /// What kind of file, e.g. `"MNIST"` or `"digits"`.
        what: &'static str,
        /// The path looked at.
        path: PathBuf,
        /// Where to get the file or where to put it.
        hint: String,
    },
    /// A binary data file does not start with the magic number of its format.
    #[error("{}: magic number 0x{found:08x} at byte 0, expected 0x{expected:08x} ({format})", .path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The format expected, e.g. `"IDX images, u8, 3 dimensions"`.
        format: &'static str,
        /// The magic number of that format.
        expected: u32,
        /// The number found.
        found: u32,
    },
    /// A data file ends before the data its header announces (offsets count decompressed bytes).
    #[error("{} is truncated: {needed} bytes of {part} needed from byte {offset}, but only {available} are there", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Which part is cut short, e.g. `"pixel data"`.
        part: &'static str,
        /// Where that part starts.
        offset: u64,
        /// Bytes the part needs.
        needed: u64,
        /// Bytes present from `offset` on.
        available: u64,
    },
    /// A data file goes on after the end its header announces.
    #[error("{}: unexpected data after byte {offset}, where the header's dimensions end the file", .path.display())]
    TrailingData {
        /// The file.
        path: PathBuf,
        /// Where the file should end.
        offset: u64,
    },
    /// An IDX header whose dimensions overflow, or give a result (the matrix of values, or the
    /// labels) larger than the size limit; nothing was allocated.
    #[error("{}: the header's dimensions {} give more than the limit of {limit} bytes once read", .path.display(), join_dims(.dims))]
    IdxTooLarge {
        /// The file.
        path: PathBuf,
        /// The dimensions in the header.
        dims: Vec<u32>,
        /// The most bytes the result may take.
        limit: u64,
    },
    /// A (decompressed) text data file longer than the size limit.
    #[error("{} holds more than {limit} bytes (after decompression); it was not read further", .path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The most bytes allowed.
        limit: u64,
    },
    /// An image file and its label file hold different numbers of samples.
    #[error("{} holds {image_count} images but {} holds {label_count} labels", .images.display(), .labels.display())]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Images in it.
        image_count: usize,
        /// The label file.
        labels: PathBuf,
        /// Labels in it.
        label_count: usize,
    },
    /// A cell of a CSV file that cannot be read as what its column holds.
    #[error("{}, line {line}, column {column}: {text:?} is not {expected}", .path.display())]
    BadCell {
        /// The file.
        path: PathBuf,
        /// Line, counted from 1.
        line: usize,
        /// Column (cell), counted from 1.
        column: usize,
        /// The cell's text (cut to 40 characters).
        text: String,
        /// What the column holds, e.g. `"a finite number"`.
        expected: &'static str,
    },
    /// A CSV line with another number of cells than the rows before it.
    #[error("{}, line {line}: {got} cells, expected {expected}", .path.display())]
    RowWidth {
        /// The file.
        path: PathBuf,
        /// Line, counted from 1.
        line: usize,
        /// Cells expected.
        expected: usize,
        /// Cells found.
        got: usize,
    },
    /// A data file with no data rows.
    #[error("{} holds no data rows", .path.display())]
    EmptyDataFile {
        /// The file.
        path: PathBuf,
    },
    /// A CSV file whose lines hold a label and nothing else: no features to learn from.
    #[error("{}: line {line} holds only the label column; expected features beside it", .path.display())]
    NoFeatures {
        /// The file.
        path: PathBuf,
        /// The first data line (counted from 1).
        line: usize,
    },
}

/// Dimensions as `2x28x28` for error messages.
fn join_dims(dims: &[u32]) -> String {
    dims.iter().map(u32::to_string).collect::<Vec<_>>().join("x")
}
