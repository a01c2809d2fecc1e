//! The IDX format of MNIST: a big-endian header, then unsigned bytes.

use super::source::{io_error, open, read_full, Missing, Source};
use super::DataError;
use super::MAX_DATA_BYTES;
use crate::{Error, Real, Result};
use nalgebra::DMatrix;
use std::path::{Path, PathBuf};

/// Magic number of an IDX file of `u8` images: type `0x08` (unsigned byte), 3 dimensions.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of `u8` labels: type `0x08` (unsigned byte), 1 dimension.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// The four MNIST files, in the order train images, train labels, test images, test labels.
///
/// [`load_mnist`] looks for each name with `.gz` first, then without.
pub const MNIST_FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// MNIST as read by [`load_mnist`]: 60 000 training and 10 000 test images of 28 × 28 pixels.
///
/// Each row of `train_x` and `test_x` is one image, its 784 pixels in reading order (row by row
/// of the image, i.e. flattened `(C, H, W) = (1, 28, 28)`), as read: `0` (background) to `255`
/// (ink). Divide by 255 (`x /= 255.0`) for values in [0, 1]. Labels are the digits 0 to 9.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist<T: Real> {
    /// Training images, `60000 × 784`.
    pub train_x: DMatrix<T>,
    /// The digit of each training image.
    pub train_labels: Vec<usize>,
    /// Test images, `10000 × 784`.
    pub test_x: DMatrix<T>,
    /// The digit of each test image.
    pub test_labels: Vec<usize>,
}

/// A mirror of the four MNIST files (the one torchvision downloads from), named in hints.
const MNIST_MIRROR: &str = "https://ossci-datasets.s3.amazonaws.com/mnist/";

fn plain_hint() -> String {
    "check the path".to_string()
}

/// Reads an IDX file of `u8` images (magic `0x00000803`), raw or gzip-compressed.
///
/// Gives an `n × (rows·cols)` matrix: one image per row, its pixels in reading order, values as
/// stored (`0..=255`).
///
/// # Errors
/// [`Error::Io`] for an unreadable file or corrupt gzip data; otherwise [`Error::Data`] holding
/// [`DataError::DataFileNotFound`]; [`DataError::BadMagic`]; [`DataError::IdxTooLarge`] when the
/// header's dimensions overflow or give a matrix of more than
/// [`MAX_DATA_BYTES`](super::MAX_DATA_BYTES) (the output counts: 128 Mi pixels in `f64`);
/// [`DataError::Truncated`] when the file ends early; [`DataError::TrailingData`] when it goes on
/// after the announced end. Sizes are checked before anything is allocated.
pub fn read_idx_images<T: Real>(path: impl AsRef<Path>) -> Result<DMatrix<T>> {
    let missing = Missing { what: "IDX", hint: &plain_hint };
    images(path.as_ref(), &missing)
}

/// Reads an IDX file of `u8` labels (magic `0x00000801`), raw or gzip-compressed.
///
/// # Errors
/// As [`read_idx_images`].
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<usize>> {
    let missing = Missing { what: "IDX", hint: &plain_hint };
    labels(path.as_ref(), &missing)
}

/// Reads the four MNIST files from `dir` (see [`MNIST_FILES`]; each `.gz` or raw).
///
/// The usual place is `data_dir().join("mnist")` (see [`data_dir`](super::data_dir)).
///
/// # Errors
/// [`Error::Data`] holding [`DataError::DataFileNotFound`] naming the first missing file and
/// where to put it, or [`DataError::CountMismatch`] when an image file and its label file
/// disagree on the number of samples; otherwise as [`read_idx_images`].
pub fn load_mnist<T: Real>(dir: impl AsRef<Path>) -> Result<Mnist<T>> {
    let dir = dir.as_ref();
    let hint = || {
        format!(
            "download the four MNIST files ({}, each .gz or raw; e.g. from {MNIST_MIRROR}) into {}",
            MNIST_FILES.join(", "),
            super::folder_hint(dir, "mnist")
        )
    };
    let missing = Missing { what: "MNIST", hint: &hint };
    let [train_images, train_labels, test_images, test_labels] = MNIST_FILES.map(|name| find(dir, name));
    let (train_x, train_labels) = pair(&train_images, &train_labels, &missing)?;
    let (test_x, test_labels) = pair(&test_images, &test_labels, &missing)?;
    Ok(Mnist { train_x, train_labels, test_x, test_labels })
}

/// `dir/name.gz` if it exists, else `dir/name` if that exists, else `dir/name.gz` (to report).
fn find(dir: &Path, name: &str) -> PathBuf {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    if !gz.exists() && raw.exists() {
        raw
    } else {
        gz
    }
}

fn pair<T: Real>(images_path: &Path, labels_path: &Path, missing: &Missing<'_>) -> Result<(DMatrix<T>, Vec<usize>)> {
    // Both files must exist before the big one is read.
    for path in [images_path, labels_path] {
        if !path.exists() {
            return Err(DataError::DataFileNotFound {
                what: missing.what,
                path: path.to_path_buf(),
                hint: (missing.hint)(),
            }
            .into());
        }
    }
    let x = images::<T>(images_path, missing)?;
    let labels = labels(labels_path, missing)?;
    if x.nrows() != labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path.to_path_buf(),
            image_count: x.nrows(),
            labels: labels_path.to_path_buf(),
            label_count: labels.len(),
        }
        .into());
    }
    Ok((x, labels))
}

fn images<T: Real>(path: &Path, missing: &Missing<'_>) -> Result<DMatrix<T>> {
    let mut src = open(path, missing)?;
    let dims = header(&mut src, IDX_IMAGES_MAGIC, "IDX images, u8, 3 dimensions")?;
    let &[count, rows, cols] = dims.as_slice() else {
        return Err(too_large(&src, dims)); // unreachable: the magic fixes 3 dimensions
    };
    let (n, width) = match (usize::try_from(count), usize::try_from(u64::from(rows) * u64::from(cols))) {
        (Ok(n), Ok(w)) => (n, w),
        _ => return Err(too_large(&src, dims)),
    };
    let bytes = body(&mut src, &dims, "pixel data", T::BYTES)?;
    // The matrix is allocated only once every byte has arrived (a short gzip stream claiming
    // many images costs what it holds); it is filled column by column from the row-major bytes.
    Ok(DMatrix::from_fn(n, width, |i, j| T::cast(f64::from(bytes.get(i * width + j).copied().unwrap_or(0)))))
}

fn labels(path: &Path, missing: &Missing<'_>) -> Result<Vec<usize>> {
    let mut src = open(path, missing)?;
    let dims = header(&mut src, IDX_LABELS_MAGIC, "IDX labels, u8, 1 dimension")?;
    let bytes = body(&mut src, &dims, "label data", std::mem::size_of::<usize>())?;
    Ok(bytes.into_iter().map(usize::from).collect())
}

/// Reads and checks the magic number, then reads the dimensions it announces.
fn header(src: &mut Source, magic: u32, format: &'static str) -> Result<Vec<u32>> {
    let mut word = [0u8; 4];
    let got = read_full(&mut src.reader, &mut word).map_err(|e| io_error("read", &src.path, e))?;
    if got < 4 {
        return Err(truncated(src, "magic number", 0, 4, got as u64));
    }
    let found = u32::from_be_bytes(word);
    if found != magic {
        return Err(DataError::BadMagic { path: src.path.clone(), format, expected: magic, found }.into());
    }
    let ndims = usize::from(word[3]);
    let mut raw = vec![0u8; 4 * ndims];
    let got = read_full(&mut src.reader, &mut raw).map_err(|e| io_error("read", &src.path, e))?;
    if got < raw.len() {
        return Err(truncated(src, "dimensions", 4, raw.len() as u64, got as u64));
    }
    Ok(raw.chunks_exact(4).map(|c| u32::from_be_bytes(c.try_into().unwrap_or_default())).collect())
}

/// Reads exactly the bytes the dimensions announce, and checks that nothing follows.
///
/// Each byte becomes a value of `out_bytes` bytes in the result, so the count is capped by the
/// output: `count × out_bytes ≤ MAX_DATA_BYTES` (a 1 MiB gzip stream cannot make the reader
/// produce gigabytes). The buffer grows only as (decompressed) bytes arrive, in steps of at
/// most 64 KiB beyond what has arrived, and never past the announced count.
fn body(src: &mut Source, dims: &[u32], part: &'static str, out_bytes: usize) -> Result<Vec<u8>> {
    let offset = 4 + 4 * dims.len() as u64;
    let needed = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
        .filter(|&n| n.checked_mul(out_bytes as u64).is_some_and(|out| out <= MAX_DATA_BYTES))
        .ok_or_else(|| too_large(src, dims.to_vec()))?;
    let needed_len = usize::try_from(needed).map_err(|_| too_large(src, dims.to_vec()))?;
    let mut bytes = Vec::new();
    if let Some(len) = src.raw_len {
        // A raw file's length is known: refuse before allocating anything.
        let available = len.saturating_sub(offset);
        if available < needed {
            return Err(truncated(src, part, offset, needed, available));
        }
        if available > needed {
            return Err(trailing(src, offset + needed));
        }
        bytes.try_reserve_exact(needed_len).map_err(|_| too_large(src, dims.to_vec()))?;
    }
    const STEP: usize = 1 << 16;
    while bytes.len() < needed_len {
        let want = (needed_len - bytes.len()).min(STEP);
        if bytes.capacity() - bytes.len() < want {
            // Double as data arrives, but never past the announced count.
            let target = needed_len.min(bytes.capacity().saturating_mul(2).max(bytes.len() + want));
            bytes.try_reserve_exact(target - bytes.len()).map_err(|_| too_large(src, dims.to_vec()))?;
        }
        let start = bytes.len();
        bytes.resize(start + want, 0);
        let got = read_full(&mut src.reader, bytes.get_mut(start..).unwrap_or_default())
            .map_err(|e| io_error("read", &src.path, e))?;
        bytes.truncate(start + got);
        if got < want {
            return Err(truncated(src, part, offset, needed, bytes.len() as u64));
        }
    }
    let mut extra = [0u8; 1];
    if read_full(&mut src.reader, &mut extra).map_err(|e| io_error("read", &src.path, e))? > 0 {
        return Err(trailing(src, offset + needed));
    }
    Ok(bytes)
}

fn truncated(src: &Source, part: &'static str, offset: u64, needed: u64, available: u64) -> Error {
    DataError::Truncated { path: src.path.clone(), part, offset, needed, available }.into()
}

fn trailing(src: &Source, offset: u64) -> Error {
    DataError::TrailingData { path: src.path.clone(), offset }.into()
}

fn too_large(src: &Source, dims: Vec<u32>) -> Error {
    DataError::IdxTooLarge { path: src.path.clone(), dims, limit: MAX_DATA_BYTES }.into()
}
