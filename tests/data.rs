//! The `data` module: real files (digits, MNIST when present), hostile files, splits, scaling.

use backprop::data::DataError;
use backprop::data::{
    self, labels_column, load_mnist, one_hot, read_digits, read_idx_images, read_idx_labels, read_labeled_csv,
    stratified_split, train_test_split, Standardizer, MAX_DATA_BYTES, MNIST_FILES,
};
use backprop::Error;
use flate2::write::GzEncoder;
use flate2::Compression;
use nalgebra::DMatrix;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------- helpers ----------

/// The shared data folder: `$BACKPROP_DATA`, else `../shared/data`.
fn shared_dir() -> PathBuf {
    match std::env::var_os("BACKPROP_DATA") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("../shared/data"),
    }
}

/// The digits file: in the shared folder if there, else the copy shipped in `data/`.
fn digits_path() -> PathBuf {
    let shared = shared_dir().join("digits.csv.gz");
    if shared.exists() {
        shared
    } else {
        PathBuf::from("data/digits.csv.gz")
    }
}

/// A file or folder in the temp dir, with a unique name, removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn unique(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("backprop-data-test-{}-{n}-{name}", std::process::id()))
}

fn temp_file(name: &str, bytes: &[u8]) -> Temp {
    let path = unique(name);
    std::fs::write(&path, bytes).unwrap();
    Temp(path)
}

fn temp_dir(name: &str) -> Temp {
    let path = unique(name);
    std::fs::create_dir_all(&path).unwrap();
    Temp(path)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v
}

/// `n` images of `rows × cols`, pixel value = (image·31 + position) mod 256.
fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut v = idx_header(0x0803, &[n, rows, cols]);
    let len = (n * rows * cols) as usize;
    for k in 0..len {
        let (img, pos) = (k / (rows * cols) as usize, k % (rows * cols) as usize);
        v.push(((img * 31 + pos) % 256) as u8);
    }
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = idx_header(0x0801, &[labels.len() as u32]);
    v.extend_from_slice(labels);
    v
}

fn err_text<T: std::fmt::Debug>(r: Result<T, Error>) -> (Error, String) {
    let e = r.expect_err("expected an error");
    let s = e.to_string();
    (e, s)
}

// ---------- real files ----------

#[test]
fn digits_real_file_shapes_and_values() {
    let path = digits_path();
    let start = Instant::now();
    let (x, labels) = read_digits::<f64>(&path).unwrap();
    println!("read_digits::<f64>({}) took {:?}", path.display(), start.elapsed());
    assert_eq!(x.shape(), (1797, 64));
    assert_eq!(labels.len(), 1797);
    let mut counts = [0usize; 10];
    for &k in &labels {
        counts[k] += 1; // panics (fails) on a label > 9
    }
    assert!(counts.iter().all(|&c| c > 150), "{counts:?}");
    assert!(x.iter().all(|&v| (0.0..=16.0).contains(&v) && v.fract() == 0.0));
    // The first row of the file, in reading order.
    let first: Vec<f64> = x.row(0).iter().take(8).copied().collect();
    assert_eq!(first, [0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
    assert_eq!(&labels[..3], &[0, 1, 2]);
    // f32 reads the same numbers.
    let (x32, labels32) = read_digits::<f32>(&path).unwrap();
    assert_eq!(labels32, labels);
    assert!(x32.iter().zip(x.iter()).all(|(&a, &b)| f64::from(a) == b));
}

#[test]
fn vendored_digits_match_the_shared_copy() {
    let vendored = std::fs::read("data/digits.csv.gz").expect("data/digits.csv.gz ships with the repository");
    let shared = shared_dir().join("digits.csv.gz");
    match std::fs::read(&shared) {
        Ok(s) => assert_eq!(s, vendored, "data/digits.csv.gz differs from {}", shared.display()),
        Err(_) => println!("note: {} not present; compared nothing", shared.display()),
    }
    assert!(Path::new("data/README.md").exists());
    let (x, _) = read_digits::<f32>("data/digits.csv.gz").unwrap();
    assert_eq!(x.shape(), (1797, 64));
}

#[test]
fn mnist_real_files_if_present() {
    let dir = shared_dir().join("mnist");
    if !MNIST_FILES.iter().all(|f| dir.join(format!("{f}.gz")).exists() || dir.join(f).exists()) {
        println!("note: MNIST not found in {}; skipping the MNIST checks", dir.display());
        return;
    }
    let start = Instant::now();
    let m = load_mnist::<f32>(&dir).unwrap();
    println!("load_mnist::<f32>({}) took {:?}", dir.display(), start.elapsed());
    assert_eq!(m.train_x.shape(), (60000, 784));
    assert_eq!(m.test_x.shape(), (10000, 784));
    let count = |labels: &[usize]| {
        let mut c = [0usize; 10];
        labels.iter().for_each(|&k| c[k] += 1);
        c
    };
    assert_eq!(count(&m.train_labels), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(count(&m.test_labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    assert!(m.train_x.iter().all(|&v| (0.0..=255.0).contains(&v)));
    assert_eq!(m.train_x.max(), 255.0);
    assert_eq!(m.train_x.min(), 0.0);
    // The first training image is a 5; its middle row has ink, its first row none.
    assert_eq!(m.train_labels[0], 5);
    assert!(m.train_x.row(0).iter().take(28).all(|&v| v == 0.0));
    assert!(m.train_x.row(0).iter().skip(14 * 28).take(28).any(|&v| v > 0.0));

    let start = Instant::now();
    let x = read_idx_images::<f64>(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    println!("read_idx_images::<f64>(t10k) took {:?}", start.elapsed());
    assert_eq!(x.shape(), (10000, 784));
    assert!(x.iter().zip(m.test_x.iter()).all(|(&a, &b)| a == f64::from(b)));
}

// ---------- IDX: valid files ----------

#[test]
fn idx_raw_and_gzip_read_the_same_row_major_images() {
    let bytes = idx_images(3, 2, 4);
    let raw = temp_file("img.idx", &bytes);
    let gz = temp_file("img.idx.gz", &gzip(&bytes));
    let a = read_idx_images::<f64>(raw.path()).unwrap();
    let b = read_idx_images::<f32>(gz.path()).unwrap();
    assert_eq!(a.shape(), (3, 8));
    for i in 0..3 {
        for j in 0..8 {
            // pixel j of image i is (r, c) = (j / 4, j % 4) in the image
            assert_eq!(a[(i, j)], ((i * 31 + j) % 256) as f64);
            assert_eq!(f64::from(b[(i, j)]), a[(i, j)]);
        }
    }
    let labels = temp_file("lab.idx.gz", &gzip(&idx_labels(&[7, 0, 255])));
    assert_eq!(read_idx_labels(labels.path()).unwrap(), [7, 0, 255]);
    // Zero images is a valid (empty) file.
    let empty = temp_file("empty.idx", &idx_images(0, 28, 28));
    assert_eq!(read_idx_images::<f32>(empty.path()).unwrap().shape(), (0, 784));
}

#[test]
fn load_mnist_accepts_raw_and_gz_names() {
    let dir = temp_dir("mnist-ok");
    let d = dir.path();
    std::fs::write(d.join("train-images-idx3-ubyte.gz"), gzip(&idx_images(4, 2, 2))).unwrap();
    std::fs::write(d.join("train-labels-idx1-ubyte"), idx_labels(&[1, 2, 3, 4])).unwrap();
    std::fs::write(d.join("t10k-images-idx3-ubyte"), idx_images(2, 2, 2)).unwrap();
    std::fs::write(d.join("t10k-labels-idx1-ubyte.gz"), gzip(&idx_labels(&[9, 8]))).unwrap();
    let m = load_mnist::<f64>(d).unwrap();
    assert_eq!(m.train_x.shape(), (4, 4));
    assert_eq!(m.train_labels, [1, 2, 3, 4]);
    assert_eq!(m.test_x.shape(), (2, 4));
    assert_eq!(m.test_labels, [9, 8]);
}

// ---------- IDX: hostile files ----------

#[test]
fn wrong_magic_names_the_value_found() {
    let images = temp_file("magic-img.idx", &idx_images(2, 2, 2));
    let labels = temp_file("magic-lab.idx", &idx_labels(&[1, 2]));
    let (e, s) = err_text(read_idx_labels(images.path()));
    assert!(matches!(e, Error::Data(DataError::BadMagic { expected: 0x801, found: 0x803, .. })), "{e:?}");
    assert!(s.contains("0x00000803") && s.contains(&images.path().display().to_string()), "{s}");
    let (e, _) = err_text(read_idx_images::<f32>(labels.path()));
    assert!(matches!(e, Error::Data(DataError::BadMagic { expected: 0x803, found: 0x801, .. })), "{e:?}");
    // A text file, and a gzip of a text file.
    let text = temp_file("magic.txt", b"hello world, not idx");
    let (e, _) = err_text(read_idx_images::<f32>(text.path()));
    assert!(matches!(e, Error::Data(DataError::BadMagic { found: 0x68656c6c, .. })), "{e:?}");
    let gz = temp_file("magic.txt.gz", &gzip(b"hello world, not idx"));
    assert!(matches!(read_idx_images::<f32>(gz.path()), Err(Error::Data(DataError::BadMagic { .. }))));
    // Another element type (0x0D = f32) with 3 dimensions.
    let float = temp_file("magic-f32.idx", &idx_header(0x0D03, &[1, 1, 1]));
    assert!(matches!(
        read_idx_images::<f32>(float.path()),
        Err(Error::Data(DataError::BadMagic { found: 0x0D03, .. }))
    ));
}

#[test]
fn every_prefix_of_a_valid_file_is_an_error() {
    let images = idx_images(3, 2, 3);
    let labels = idx_labels(&[1, 2, 3, 4, 5]);
    for cut in 0..images.len() {
        let f = temp_file("prefix-img.idx", &images[..cut]);
        match read_idx_images::<f64>(f.path()) {
            Err(Error::Data(DataError::Truncated { needed, available, offset, .. })) => {
                assert!(available < needed, "cut {cut}");
                assert_eq!(offset + available, cut as u64, "cut {cut}");
            }
            other => panic!("prefix {cut}: {other:?}"),
        }
        let g = temp_file("prefix-img.gz", &gzip(&images[..cut]));
        assert!(
            matches!(read_idx_images::<f64>(g.path()), Err(Error::Data(DataError::Truncated { .. }))),
            "gz of prefix {cut}"
        );
    }
    for cut in 0..labels.len() {
        let f = temp_file("prefix-lab.idx", &labels[..cut]);
        assert!(matches!(read_idx_labels(f.path()), Err(Error::Data(DataError::Truncated { .. }))), "prefix {cut}");
    }
    // Cutting the gzip stream itself: any error, never a panic or a wrong success.
    let gz = gzip(&images);
    for cut in 0..gz.len() {
        let f = temp_file("prefix.gz", &gz[..cut]);
        assert!(read_idx_images::<f64>(f.path()).is_err(), "gzip cut at {cut}");
    }
    // Examples of the messages.
    let f = temp_file("cut.idx", &images[..20]);
    let (_, s) = err_text(read_idx_images::<f64>(f.path()));
    assert!(s.contains("is truncated: 18 bytes of pixel data needed from byte 16, but only 4 are there"), "{s}");
    let f = temp_file("cut2.idx", &images[..6]);
    let (_, s) = err_text(read_idx_images::<f64>(f.path()));
    assert!(s.contains("12 bytes of dimensions needed from byte 4, but only 2"), "{s}");
}

#[test]
fn data_after_the_announced_end_is_an_error() {
    let mut bytes = idx_images(2, 2, 2);
    bytes.push(0);
    let raw = temp_file("trailing.idx", &bytes);
    let gz = temp_file("trailing.idx.gz", &gzip(&bytes));
    for f in [&raw, &gz] {
        let (e, _) = err_text(read_idx_images::<f32>(f.path()));
        assert!(matches!(e, Error::Data(DataError::TrailingData { offset: 24, .. })), "{e:?}");
    }
}

#[test]
fn corrupt_gzip_is_an_io_error_naming_the_file() {
    let mut gz = gzip(&idx_images(4, 4, 4));
    let n = gz.len();
    gz[n - 8] ^= 0xff; // the CRC
    let f = temp_file("crc.gz", &gz);
    let (e, s) = err_text(read_idx_images::<f32>(f.path()));
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(s.contains(&f.path().display().to_string()), "{s}");
    let mut gz = gzip(&idx_images(4, 4, 4));
    for b in gz.iter_mut().skip(10).take(20) {
        *b = 0xff;
    }
    let f = temp_file("garbage.gz", &gz);
    assert!(read_idx_images::<f32>(f.path()).is_err());
}

#[test]
fn overflowing_or_oversized_dims_are_refused_before_reading() {
    let f = temp_file("overflow.idx", &idx_header(0x0803, &[u32::MAX, u32::MAX, u32::MAX]));
    let (e, s) = err_text(read_idx_images::<f64>(f.path()));
    assert!(matches!(e, Error::Data(DataError::IdxTooLarge { .. })), "{e:?}");
    assert!(s.contains("4294967295x4294967295x4294967295"), "{s}");
    // No overflow, but past the limit.
    let f = temp_file("big.idx", &idx_header(0x0803, &[2, 1 << 15, 1 << 15]));
    let (e, _) = err_text(read_idx_images::<f64>(f.path()));
    assert!(matches!(e, Error::Data(DataError::IdxTooLarge { limit, .. }) if limit == MAX_DATA_BYTES), "{e:?}");
    let f = temp_file("big-lab.gz", &gzip(&idx_header(0x0801, &[u32::MAX])));
    assert!(matches!(read_idx_labels(f.path()), Err(Error::Data(DataError::IdxTooLarge { .. }))));
    // The limit counts what the reader produces: 200 M pixels (200 MB of bytes) are 1.6 GB as f64,
    // refused before reading; as f32 (800 MB) they are read, and found missing.
    let f = temp_file("big-out.idx.gz", &gzip(&idx_header(0x0803, &[2000, 100, 1000])));
    let (e, _) = err_text(read_idx_images::<f64>(f.path()));
    assert!(matches!(e, Error::Data(DataError::IdxTooLarge { .. })), "{e:?}");
    let (e, _) = err_text(read_idx_images::<f32>(f.path()));
    assert!(matches!(e, Error::Data(DataError::Truncated { needed: 200_000_000, available: 0, .. })), "{e:?}");
    // One label past 2^27 is more than 1 GiB as usize: refused; the limit is that of the result.
    let f = temp_file("big-lab2.gz", &gzip(&idx_header(0x0801, &[(1 << 27) + 1])));
    assert!(matches!(read_idx_labels(f.path()), Err(Error::Data(DataError::IdxTooLarge { .. }))));
}

#[test]
fn huge_claimed_count_in_a_tiny_file_fails_fast() {
    // 100 000 images of 28 × 28 = 78.4 MB claimed (627 MB as f64, under the limit), 16 bytes of
    // pixels given.
    let mut bytes = idx_header(0x0803, &[100_000, 28, 28]);
    bytes.extend([0u8; 16]);
    let raw = temp_file("huge.idx", &bytes);
    let gz = temp_file("huge.idx.gz", &gzip(&bytes));
    let labels = temp_file("huge-lab.idx.gz", &gzip(&idx_header(0x0801, &[1 << 26])));
    let start = Instant::now();
    let (e, _) = err_text(read_idx_images::<f64>(raw.path()));
    assert!(matches!(e, Error::Data(DataError::Truncated { needed: 78_400_000, available: 16, .. })), "{e:?}");
    let (e, _) = err_text(read_idx_images::<f64>(gz.path()));
    assert!(matches!(e, Error::Data(DataError::Truncated { needed: 78_400_000, available: 16, .. })), "{e:?}");
    let (e, _) = err_text(read_idx_labels(labels.path()));
    assert!(matches!(e, Error::Data(DataError::Truncated { available: 0, .. })), "{e:?}");
    assert!(start.elapsed() < Duration::from_millis(500), "took {:?}", start.elapsed());
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = temp_dir("mnist-mismatch");
    let d = dir.path();
    std::fs::write(d.join("train-images-idx3-ubyte.gz"), gzip(&idx_images(5, 2, 2))).unwrap();
    std::fs::write(d.join("train-labels-idx1-ubyte.gz"), gzip(&idx_labels(&[1, 2, 3, 4]))).unwrap();
    std::fs::write(d.join("t10k-images-idx3-ubyte.gz"), gzip(&idx_images(1, 2, 2))).unwrap();
    std::fs::write(d.join("t10k-labels-idx1-ubyte.gz"), gzip(&idx_labels(&[1]))).unwrap();
    let (e, s) = err_text(load_mnist::<f32>(d));
    assert!(matches!(e, Error::Data(DataError::CountMismatch { image_count: 5, label_count: 4, .. })), "{e:?}");
    assert!(s.contains("train-images-idx3-ubyte.gz") && s.contains("train-labels-idx1-ubyte.gz"), "{s}");
}

#[test]
fn missing_files_say_which_and_where() {
    let dir = temp_dir("mnist-missing");
    let (e, s) = err_text(load_mnist::<f32>(dir.path()));
    assert!(matches!(e, Error::Data(DataError::DataFileNotFound { what: "MNIST", .. })), "{e:?}");
    let expected = dir.path().join("train-images-idx3-ubyte.gz");
    assert!(s.contains(&format!("MNIST file {} not found", expected.display())), "{s}");
    // The folder was passed: the hint names it, not the environment variable.
    assert!(s.contains(&format!("into {} (the folder passed)", dir.path().display())), "{s}");
    assert!(!s.contains("BACKPROP_DATA"), "{s}");
    // With only the images present, the labels file is named.
    std::fs::write(dir.path().join("train-images-idx3-ubyte"), idx_images(1, 1, 1)).unwrap();
    let (_, s) = err_text(load_mnist::<f32>(dir.path()));
    assert!(s.contains("train-labels-idx1-ubyte.gz"), "{s}");

    let nowhere = unique("no-such-digits.csv.gz");
    let (e, s) = err_text(read_digits::<f32>(&nowhere));
    assert!(matches!(e, Error::Data(DataError::DataFileNotFound { .. })), "{e:?}");
    assert!(s.contains(&nowhere.display().to_string()) && s.contains("data/digits.csv.gz"), "{s}");
    let (_, s) = err_text(read_idx_labels(&nowhere));
    assert!(s.contains(&nowhere.display().to_string()), "{s}");
}

// ---------- CSV ----------

#[test]
fn csv_non_numeric_cell_names_line_column_and_text() {
    let f = temp_file("bad.csv", b"1,2,0\n3,4,1\n5,x7,1\n");
    let (e, s) = err_text(read_labeled_csv::<f64>(f.path()));
    assert!(matches!(e, Error::Data(DataError::BadCell { line: 3, column: 2, ref text, .. }) if text == "x7"), "{e:?}");
    assert!(s.contains("line 3, column 2") && s.contains("\"x7\""), "{s}");
    // Also through gzip, and for the label column.
    let g = temp_file("bad.csv.gz", &gzip(b"1,2,0\n3,4,-1\n"));
    let (e, _) = err_text(read_labeled_csv::<f32>(g.path()));
    assert!(matches!(e, Error::Data(DataError::BadCell { line: 2, column: 3, .. })), "{e:?}");
    let h = temp_file("frac.csv", b"1,2,0.5\n");
    assert!(matches!(read_labeled_csv::<f32>(h.path()), Err(Error::Data(DataError::BadCell { column: 3, .. }))));
    let nan = temp_file("nan.csv", b"1,2,0\nNaN,2,0\n");
    assert!(matches!(
        read_labeled_csv::<f32>(nan.path()),
        Err(Error::Data(DataError::BadCell { line: 2, column: 1, .. }))
    ));
    let bin = temp_file("bin.csv", b"1,2,0\n1,\xff\xfe,0\n");
    assert!(matches!(
        read_labeled_csv::<f32>(bin.path()),
        Err(Error::Data(DataError::BadCell { line: 2, column: 2, .. }))
    ));
}

#[test]
fn csv_shapes_header_blank_lines_and_widths() {
    let f = temp_file("ok.csv", b"a,b,label\n1, 2 ,3\r\n\n4,5,6.0\n");
    let (x, labels) = read_labeled_csv::<f64>(f.path()).unwrap();
    assert_eq!(x, DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 4.0, 5.0]));
    assert_eq!(labels, [3, 6]);
    let f = temp_file("width.csv", b"1,2,0\n1,2,3,0\n");
    let (e, _) = err_text(read_labeled_csv::<f64>(f.path()));
    assert!(matches!(e, Error::Data(DataError::RowWidth { line: 2, expected: 3, got: 4, .. })), "{e:?}");
    let f = temp_file("width-digits.csv", b"1,2,0\n");
    assert!(matches!(
        read_digits::<f64>(f.path()),
        Err(Error::Data(DataError::RowWidth { line: 1, expected: 65, got: 3, .. }))
    ));
    for (name, text) in [("empty.csv", &b""[..]), ("header-only.csv", b"a,b,c\n\n")] {
        let f = temp_file(name, text);
        assert!(
            matches!(read_labeled_csv::<f64>(f.path()), Err(Error::Data(DataError::EmptyDataFile { .. }))),
            "{name}"
        );
    }
    // Every prefix of a gzip CSV: errors or a valid shorter result, never a panic.
    let gz = gzip(b"1,2,0\n3,4,1\n5,6,2\n");
    for cut in 0..gz.len() {
        let f = temp_file("cut.csv.gz", &gz[..cut]);
        if let Ok((x, labels)) = read_labeled_csv::<f64>(f.path()) {
            assert_eq!(x.nrows(), labels.len());
        }
    }
}

// ---------- targets ----------

#[test]
fn one_hot_and_labels_column() {
    let t = one_hot::<f64>(&[2, 0, 1, 2], 3).unwrap();
    assert_eq!(t.shape(), (4, 3));
    assert_eq!(t, DMatrix::from_row_slice(4, 3, &[0., 0., 1., 1., 0., 0., 0., 1., 0., 0., 0., 1.]));
    let (e, s) = err_text(one_hot::<f32>(&[0, 1, 3], 3));
    assert!(matches!(e, Error::LabelOutOfRange { row: 2, classes: 3, .. }), "{e:?}");
    assert!(s.contains("row 2"), "{s}");
    assert!(matches!(one_hot::<f32>(&[0], 0), Err(Error::LabelOutOfRange { .. })));
    assert!(matches!(one_hot::<f32>(&[0], usize::MAX), Err(Error::TooLarge { .. })));
    assert_eq!(one_hot::<f32>(&[], 10).unwrap().shape(), (0, 10));
    let c = labels_column::<f32>(&[3, 1]);
    assert_eq!(c, DMatrix::from_row_slice(2, 1, &[3.0, 1.0]));
}

// ---------- splits ----------

fn check_disjoint_complete(s: &data::Split<f64>, x: &DMatrix<f64>, labels: &[usize]) {
    let mut all: Vec<usize> = s.train_indices.iter().chain(&s.test_indices).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
    for (part_x, part_labels, idx) in
        [(&s.train_x, &s.train_labels, &s.train_indices), (&s.test_x, &s.test_labels, &s.test_indices)]
    {
        assert_eq!(part_x.nrows(), idx.len());
        assert_eq!(part_labels.len(), idx.len());
        for (r, &i) in idx.iter().enumerate() {
            assert_eq!(part_x.row(r), x.row(i));
            assert_eq!(part_labels[r], labels[i]);
        }
    }
}

#[test]
fn split_is_seeded_sized_disjoint_and_complete() {
    let (x, labels) = read_digits::<f64>(digits_path()).unwrap();
    let a = train_test_split(&x, &labels, 0.2, 1).unwrap();
    let b = train_test_split(&x, &labels, 0.2, 1).unwrap();
    let c = train_test_split(&x, &labels, 0.2, 2).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.test_indices, c.test_indices);
    assert_eq!(a.test_x.nrows(), 359); // round(1797 · 0.2)
    assert_eq!(a.train_x.nrows(), 1438);
    check_disjoint_complete(&a, &x, &labels);
    // Shuffled, not the first rows.
    assert_ne!(a.test_indices, (0..359).collect::<Vec<_>>());
    // Tiny sets still give both parts a row.
    let x2 = DMatrix::from_row_slice(2, 1, &[1.0, 2.0]);
    for f in [0.01, 0.99] {
        let s = train_test_split(&x2, &[0, 1], f, 0).unwrap();
        assert_eq!((s.train_x.nrows(), s.test_x.nrows()), (1, 1));
    }
}

#[test]
fn stratified_split_keeps_class_proportions() {
    let (x, labels) = read_digits::<f64>(digits_path()).unwrap();
    for (fraction, seed) in [(0.2, 0), (0.25, 5), (0.5, 9), (0.9, 3)] {
        let s = stratified_split(&x, &labels, fraction, seed).unwrap();
        assert_eq!(s, stratified_split(&x, &labels, fraction, seed).unwrap());
        check_disjoint_complete(&s, &x, &labels);
        assert_eq!(s.test_x.nrows(), (1797.0 * fraction).round() as usize);
        for class in 0..10 {
            let n_c = labels.iter().filter(|&&k| k == class).count() as f64;
            let t_c = s.test_labels.iter().filter(|&&k| k == class).count() as f64;
            assert!((t_c - n_c * fraction).abs() <= 1.0, "class {class}: {t_c} of {n_c} at {fraction}");
        }
    }
    // Uneven classes, labels not 0..k.
    let labels: Vec<usize> = (0..23)
        .map(|i| {
            if i < 3 {
                100
            } else if i < 10 {
                7
            } else {
                42
            }
        })
        .collect();
    let x = DMatrix::from_fn(23, 2, |i, j| (i * 2 + j) as f64);
    let s = stratified_split(&x, &labels, 0.3, 11).unwrap();
    check_disjoint_complete(&s, &x, &labels);
    assert_eq!(s.test_x.nrows(), 7);
    for class in [100, 7, 42] {
        let n_c = labels.iter().filter(|&&k| k == class).count() as f64;
        let t_c = s.test_labels.iter().filter(|&&k| k == class).count() as f64;
        assert!((t_c - n_c * 0.3).abs() <= 1.0, "class {class}: {t_c} of {n_c}");
    }
}

#[test]
fn split_refuses_bad_arguments() {
    let x = DMatrix::<f64>::zeros(4, 2);
    for f in [0.0, 1.0, -0.5, f64::NAN, f64::INFINITY] {
        assert!(matches!(train_test_split(&x, &[0, 0, 1, 1], f, 0), Err(Error::InvalidConfig { .. })), "{f}");
        assert!(matches!(stratified_split(&x, &[0, 0, 1, 1], f, 0), Err(Error::InvalidConfig { .. })), "{f}");
    }
    assert!(matches!(train_test_split(&x, &[0, 1], 0.5, 0), Err(Error::RowCountMismatch { x_rows: 4, t_rows: 2, .. })));
    let one = DMatrix::<f64>::zeros(1, 2);
    assert!(matches!(stratified_split(&one, &[0], 0.5, 0), Err(Error::InvalidConfig { .. })));
}

// ---------- standardization ----------

#[test]
fn standardizer_centres_and_scales_training_columns() {
    let (x, labels) = read_digits::<f64>(digits_path()).unwrap();
    let s = stratified_split(&x, &labels, 0.2, 0).unwrap();
    let scaler = Standardizer::fit(&s.train_x).unwrap();
    let z = scaler.transform(&s.train_x).unwrap();
    let n = z.nrows() as f64;
    for (j, col) in z.column_iter().enumerate() {
        let mean = col.sum() / n;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let constant = s.train_x.column(j).iter().all(|&v| v == s.train_x[(0, j)]);
        assert!(mean.abs() < 1e-9, "column {j}: mean {mean}");
        if constant {
            assert_eq!(scaler.std()[j], 1.0);
            assert!(col.iter().all(|&v| v == 0.0), "constant column {j}");
        } else {
            assert!((var.sqrt() - 1.0).abs() < 1e-9, "column {j}: std {}", var.sqrt());
        }
    }
    // The digits have always-blank pixels (column 0 is one).
    assert_eq!(scaler.std()[0], 1.0);
    let zt = scaler.transform(&s.test_x).unwrap();
    assert!(zt.iter().all(|v| v.is_finite()));
    assert_eq!(scaler.mean().len(), 64);

    // f32 works too.
    let x32 = x.map(|v| v as f32);
    let z32 = Standardizer::fit(&x32).unwrap().transform(&x32).unwrap();
    assert!(z32.iter().all(|v| v.is_finite()));
}

#[test]
fn standardizer_constant_columns_stay_finite_and_widths_are_checked() {
    let x = DMatrix::<f64>::from_row_slice(3, 3, &[0.1, 7.0, 1e-300, 0.1, 8.0, 2e-300, 0.1, 9.0, 3e-300]);
    let scaler = Standardizer::fit(&x).unwrap();
    let z = scaler.transform(&x).unwrap();
    assert!(z.iter().all(|v| v.is_finite()), "{z}");
    assert_eq!(z.column(0).iter().copied().collect::<Vec<_>>(), [0.0, 0.0, 0.0]);
    // A test value off the constant training value is shifted, not blown up.
    let other = DMatrix::from_row_slice(1, 3, &[0.6, 8.0, 0.0]);
    assert!((scaler.transform(&other).unwrap()[(0, 0)] - 0.5).abs() < 1e-12);
    // f32 subnormal-scale column
    let tiny = DMatrix::from_row_slice(2, 1, &[0.0f32, 1e-44]);
    assert!(Standardizer::fit(&tiny).unwrap().transform(&tiny).unwrap().iter().all(|v| v.is_finite()));

    let (e, s) = err_text(scaler.transform(&DMatrix::zeros(2, 4)));
    assert!(matches!(e, Error::WidthMismatch { expected: 3, got: 4, .. }), "{e:?}");
    assert_eq!(s, "a standardizer fitted on the training data expects 3 columns, got 4");
    let nan = DMatrix::from_row_slice(1, 3, &[0.0, f64::NAN, 0.0]);
    assert!(matches!(scaler.transform(&nan), Err(Error::NonFinite { row: 0, col: 1, .. })));
    assert!(matches!(Standardizer::fit(&nan), Err(Error::NonFinite { .. })));
    assert!(matches!(Standardizer::<f64>::fit(&DMatrix::zeros(0, 3)), Err(Error::EmptyInput { .. })));
}

#[test]
fn data_dir_follows_the_environment() {
    let expected = match std::env::var_os("BACKPROP_DATA") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("data"),
    };
    assert_eq!(data::data_dir(), expected);
}

#[test]
fn directories_and_empty_files_are_errors_not_panics() {
    let dir = temp_dir("a-dir");
    assert!(read_idx_images::<f32>(dir.path()).is_err());
    assert!(read_labeled_csv::<f32>(dir.path()).is_err());
    let empty = temp_file("empty.bin", b"");
    assert!(matches!(
        read_idx_labels(empty.path()),
        Err(Error::Data(DataError::Truncated { needed: 4, available: 0, .. }))
    ));
    assert!(matches!(read_digits::<f32>(empty.path()), Err(Error::Data(DataError::EmptyDataFile { .. }))));
    let one = temp_file("one.bin", &[0x1f]);
    assert!(matches!(read_idx_labels(one.path()), Err(Error::Data(DataError::Truncated { available: 1, .. }))));
    let gz_magic_only = temp_file("magic-only.gz", &[0x1f, 0x8b]);
    assert!(read_idx_labels(gz_magic_only.path()).is_err());
}

// ---------- CSV options ----------

#[test]
fn scikit_learn_csv_files_load_as_they_are() {
    use backprop::data::{read_csv, CsvOptions, Header, LabelColumn};
    // The first lines of scikit-learn's iris.csv, wine_data.csv and breast_cancer.csv.
    let iris = temp_file(
        "iris.csv",
        b"150,4,setosa,versicolor,virginica\n5.1,3.5,1.4,0.2,0\n7.0,3.2,4.7,1.4,1\n6.3,3.3,6.0,2.5,2\n",
    );
    let (x, labels) = read_labeled_csv::<f64>(iris.path()).unwrap();
    assert_eq!((x.shape(), labels), ((3, 4), vec![0, 1, 2]));
    assert_eq!(x[(2, 3)], 2.5);
    let wine = temp_file(
        "wine.csv",
        b"178,13,class_0,class_1,class_2\n14.23,1.71,2.43,15.6,127,2.8,3.06,.28,2.29,5.64,1.04,3.92,1065,0\n",
    );
    let (x, labels) = read_labeled_csv::<f32>(wine.path()).unwrap();
    assert_eq!((x.shape(), labels), ((1, 13), vec![0]));
    let cancer = temp_file("cancer.csv", b"569,30,malignant,benign\n1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,0\n");
    assert_eq!(read_labeled_csv::<f32>(cancer.path()).unwrap().0.shape(), (1, 30));

    // Skip n lines whatever they hold; label first or at an index.
    let f = temp_file("opts.csv", b"# comment\n1,2,3\n2,5,6\n");
    let (x, labels) = read_csv::<f64>(f.path(), &CsvOptions::new().header(Header::Skip(2))).unwrap();
    assert_eq!((x, labels), (DMatrix::from_row_slice(1, 2, &[2.0, 5.0]), vec![6]));
    let first = CsvOptions::new().header(Header::Skip(1)).label_column(LabelColumn::First);
    let (x, labels) = read_csv::<f64>(f.path(), &first).unwrap();
    assert_eq!((x, labels), (DMatrix::from_row_slice(2, 2, &[2.0, 3.0, 5.0, 6.0]), vec![1, 2]));
    let middle = CsvOptions::new().header(Header::Skip(1)).label_column(LabelColumn::Index(1));
    assert_eq!(read_csv::<f64>(f.path(), &middle).unwrap().1, [2, 5]);
    let beyond = CsvOptions::new().header(Header::Skip(1)).label_column(LabelColumn::Index(3));
    assert!(matches!(read_csv::<f64>(f.path(), &beyond), Err(Error::InvalidConfig { name: "label column", .. })));
    // No header: a bad first line is an error naming it, not skipped.
    let none = CsvOptions::new().header(Header::None);
    assert!(matches!(
        read_csv::<f64>(iris.path(), &none),
        Err(Error::Data(DataError::BadCell { line: 1, column: 3, .. }))
    ));
    // Skipping every line leaves no data.
    let all = CsvOptions::new().header(Header::Skip(10));
    assert!(matches!(read_csv::<f64>(f.path(), &all), Err(Error::Data(DataError::EmptyDataFile { .. }))));
    // A missing file's message names the path passed.
    let nowhere = unique("no-such.csv");
    let (_, s) = err_text(read_csv::<f64>(&nowhere, &CsvOptions::new()));
    assert!(s.contains(&nowhere.display().to_string()), "{s}");
}
