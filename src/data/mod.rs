//! Data sets from files, and preparing them for training.
//!
//! - **Reading**: MNIST's IDX files ([`read_idx_images`], [`read_idx_labels`], [`load_mnist`]) and
//!   CSV files of features and a label ([`read_digits`], [`read_labeled_csv`], [`read_csv`] with
//!   [`CsvOptions`] for headers and the label's column), each raw or
//!   gzip-compressed (recognized by its first bytes `1f 8b`, whatever its name).
//! - **Preparing**: [`one_hot`] and [`labels_column`] targets, [`train_test_split`] and
//!   [`stratified_split`]; transforms fitted on the training rows and applied to any, behind one
//!   trait [`Preprocessor`] (`fit`, `transform`, `inverse_transform`): [`Standardizer`] (each
//!   column to mean 0, deviation 1) and [`Whitener`] (PCA or ZCA whitening: decorrelated
//!   features of unit variance; [`covariance`] to check).
//!
//! As everywhere in the crate, **rows are samples**: an image is one row of pixels in reading
//! order (row by row), i.e. flattened `(C, H, W) = (1, H, W)`. Pixels keep the values stored in
//! the file (MNIST 0 to 255, digits 0 to 16); scale them with `x /= 255.0` or a
//! [`Standardizer`].
//!
//! Files are untrusted: every size is checked against the bytes present and against
//! [`MAX_DATA_BYTES`] before memory is allocated for it, so a damaged or hostile file gives a typed
//! [`DataError`] (inside [`Error::Data`](crate::Error::Data)) naming the file and the byte offset
//! (IDX) or the line and column (CSV), never a panic or an unbounded allocation.
//!
//! Where the files live: [`data_dir`] is `$BACKPROP_DATA`, or `data/` (the repository's folder,
//! which ships `digits.csv.gz`; MNIST goes in `data/mnist/`, see `data/README.md`).
//!
//! ```
//! use backprop::data::{read_idx_images, one_hot, stratified_split, Standardizer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A tiny IDX file: magic 0x00000803, 2 images of 2 × 3 pixels.
//! let path = std::env::temp_dir().join(format!("backprop-doc-{}.idx", std::process::id()));
//! let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
//! bytes.extend([0, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 255]);
//! std::fs::write(&path, &bytes)?;
//! let x = read_idx_images::<f32>(&path);
//! std::fs::remove_file(&path)?;
//! let x = x?;
//! assert_eq!(x.shape(), (2, 6)); // one image per row
//! assert_eq!(x[(0, 3)], 3.0); // image 0, pixel row 1, column 0
//! assert_eq!(x[(1, 5)], 255.0);
//!
//! let labels = [1, 0];
//! assert_eq!(one_hot::<f32>(&labels, 2)?.shape(), (2, 2));
//! let split = stratified_split(&x, &labels, 0.5, 42)?;
//! let scaler = Standardizer::fit(&split.train_x)?;
//! let test_x = scaler.transform(&split.test_x)?;
//! assert!(test_x.iter().all(|v| v.is_finite()));
//! # Ok(())
//! # }
//! ```

mod csv;
mod error;
mod idx;
mod prep;
mod preprocessor;
mod source;
mod whiten;

use std::path::PathBuf;

pub use csv::{read_csv, read_digits, read_labeled_csv, CsvOptions, Header, LabelColumn};
pub use error::DataError;
pub use idx::{load_mnist, read_idx_images, read_idx_labels, Mnist, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, MNIST_FILES};
pub use prep::{labels_column, one_hot, stratified_split, train_test_split, Split, Standardizer};
pub use preprocessor::Preprocessor;
pub use whiten::{covariance, Whitener, Whitening, WhiteningKind, DEFAULT_WHITENING_EPSILON};

/// The most bytes of data one file may hold after decompression, and the most an IDX file's
/// result may take (1 GiB).
///
/// An IDX header announcing more is refused before anything is read, counting what the reader
/// will produce: `images × pixels × size_of::<T>()` for images (128 Mi pixels in `f64`), `8 ×
/// count` for labels. Its bytes are then read as they arrive, so a gzip stream's decompressed
/// size, unknown until it is read, costs at most the result and its bytes (1.125 GiB in `f64`);
/// a short stream claiming much costs what it holds. A CSV file is read only up to this size.
pub const MAX_DATA_BYTES: u64 = 1 << 30;

/// The environment variable naming the folder of data files (see [`data_dir`]).
pub const DATA_ENV: &str = "BACKPROP_DATA";

/// Where the hint of a missing file in `dir` should send the user: `dir` itself when the caller
/// named it, and also `BACKPROP_DATA` when `dir` is [`data_dir`]`/sub` (the caller went through
/// the default, so the variable is what they can change).
pub(crate) fn folder_hint(dir: &std::path::Path, sub: &str) -> String {
    let default = if sub.is_empty() { data_dir() } else { data_dir().join(sub) };
    if dir == default {
        let via = match std::env::var_os(DATA_ENV) {
            Some(v) if !v.is_empty() => format!("{DATA_ENV}={}", PathBuf::from(v).display()),
            _ => format!("the default data/, {DATA_ENV} being unset"),
        };
        let sub = if sub.is_empty() { String::new() } else { format!(" whose {sub}/ subfolder holds them") };
        format!("{} (from {via}), or set {DATA_ENV} to another folder{sub}", dir.display())
    } else {
        format!("{} (the folder passed)", dir.display())
    }
}

/// The folder of data files: the environment variable `BACKPROP_DATA` if it is set and not
/// empty, otherwise `data` (relative to the working directory; `cargo run` and `cargo test`
/// from the repository find the shipped `data/digits.csv.gz` there).
///
/// The digits are at `data_dir().join("digits.csv.gz")`, MNIST in `data_dir().join("mnist")`.
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_variable_only_for_the_default_folder() {
        let default = folder_hint(&data_dir().join("mnist"), "mnist");
        assert!(default.contains(DATA_ENV) && default.contains("mnist/ subfolder"), "{default}");
        let passed = folder_hint(std::path::Path::new("/my/mnist"), "mnist");
        assert_eq!(passed, "/my/mnist (the folder passed)");
    }
}
