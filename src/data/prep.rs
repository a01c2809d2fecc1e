//! Preparing data for training: label encodings, train/test splits, standardization.

use super::Preprocessor;
use crate::check::check_finite;
use crate::init::check_size;
use crate::{seeded, Dims, Error, Real, Result, SeededRng, Stream};
use nalgebra::DMatrix;
use rand::RngExt;
use std::collections::BTreeMap;

/// One-hot rows: row `i` has a 1 in column `labels[i]` and 0 elsewhere (`n × classes`).
///
/// # Errors
/// [`Error::LabelOutOfRange`] for a label `≥ classes` (naming its row); [`Error::TooLarge`]
/// when `n × classes` exceeds [`max_elements`](crate::max_elements).
///
/// # Example
/// ```
/// let t = backprop::data::one_hot::<f32>(&[2, 0], 3)?;
/// assert_eq!(t.row(0).iter().copied().collect::<Vec<_>>(), [0.0, 0.0, 1.0]);
/// assert!(backprop::data::one_hot::<f32>(&[3], 3).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn one_hot<T: Real>(labels: &[usize], classes: usize) -> Result<DMatrix<T>> {
    if let Some((row, &label)) = labels.iter().enumerate().find(|&(_, &k)| k >= classes) {
        return Err(Error::LabelOutOfRange { row, label: label as f64, classes });
    }
    check_size("one-hot matrix", labels.len(), classes)?;
    let mut t = DMatrix::zeros(labels.len(), classes);
    for (row, &k) in labels.iter().enumerate() {
        if let Some(v) = t.get_mut((row, k)) {
            *v = T::one();
        }
    }
    Ok(t)
}

/// The labels as an `n × 1` column of class indices, the other target form that
/// [`SoftmaxCrossEntropy`](crate::SoftmaxCrossEntropy) and [`accuracy`](crate::accuracy) accept.
///
/// Labels are exact in `f32` up to 2²⁴ and in `f64` up to 2⁵³.
pub fn labels_column<T: Real>(labels: &[usize]) -> DMatrix<T> {
    DMatrix::from_iterator(labels.len(), 1, labels.iter().map(|&k| T::cast(k as f64)))
}

/// A data set cut in two by [`train_test_split`] or [`stratified_split`].
#[derive(Debug, Clone, PartialEq)]
pub struct Split<T: Real> {
    /// The training rows.
    pub train_x: DMatrix<T>,
    /// Their labels.
    pub train_labels: Vec<usize>,
    /// The test rows.
    pub test_x: DMatrix<T>,
    /// Their labels.
    pub test_labels: Vec<usize>,
    /// Which rows of the input went to training, in the order of `train_x`.
    pub train_indices: Vec<usize>,
    /// Which rows of the input went to test, in the order of `test_x`.
    pub test_indices: Vec<usize>,
}

/// Shuffles the rows (seeded) and puts `round(n · test_fraction)` of them in the test part.
///
/// Both parts get at least one row. The same seed gives the same split; the generator is
/// `seeded(seed, Stream::Shuffle)`. Both parts are in shuffled order.
///
/// # Errors
/// [`Error::RowCountMismatch`] when `x` and `labels` differ in length;
/// [`Error::InvalidConfig`] for a `test_fraction` outside (0, 1) or fewer than 2 rows.
pub fn train_test_split<T: Real>(x: &DMatrix<T>, labels: &[usize], test_fraction: f64, seed: u64) -> Result<Split<T>> {
    let n_test = test_count(x, labels, test_fraction)?;
    let mut rng = seeded(seed, Stream::Shuffle);
    let mut test: Vec<usize> = (0..labels.len()).collect();
    shuffle(&mut test, &mut rng);
    let train = test.split_off(n_test);
    Ok(gather(x, labels, train, test))
}

/// Like [`train_test_split`], but keeps each class's share: class `c` with `n_c` rows puts
/// `n_c · test_fraction` of them, rounded down or up, in the test part, so that the test part has
/// `round(n · test_fraction)` rows in all (largest remainders round up).
///
/// # Errors
/// As [`train_test_split`].
///
/// # Example
/// ```
/// use nalgebra::DMatrix;
/// let x = DMatrix::<f64>::from_fn(10, 1, |i, _| i as f64);
/// let labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
/// let s = backprop::data::stratified_split(&x, &labels, 0.5, 7)?;
/// assert_eq!(s.test_labels.iter().filter(|&&k| k == 1).count(), 2);
/// assert_eq!(s.train_x.nrows() + s.test_x.nrows(), 10);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn stratified_split<T: Real>(x: &DMatrix<T>, labels: &[usize], test_fraction: f64, seed: u64) -> Result<Split<T>> {
    let n_test = test_count(x, labels, test_fraction)?;
    let mut rng = seeded(seed, Stream::Shuffle);
    let mut classes: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &k) in labels.iter().enumerate() {
        classes.entry(k).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = classes.into_values().collect();
    for g in &mut groups {
        shuffle(g, &mut rng);
    }
    // Largest remainder: floor(n_c · f) each, then one more for the largest fractions.
    let exact: Vec<f64> = groups.iter().map(|g| g.len() as f64 * test_fraction).collect();
    let mut quota: Vec<usize> = groups.iter().zip(&exact).map(|(g, &e)| (e.floor() as usize).min(g.len())).collect();
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| {
        let frac = |c: usize| exact.get(c).map_or(0.0, |e| e - e.floor());
        frac(b).total_cmp(&frac(a)).then(a.cmp(&b))
    });
    let mut assigned: usize = quota.iter().sum();
    for &c in order.iter().cycle().take(2 * order.len()) {
        if assigned >= n_test {
            break;
        }
        if let (Some(q), Some(g)) = (quota.get_mut(c), groups.get(c)) {
            if *q < g.len() {
                *q += 1;
                assigned += 1;
            }
        }
    }
    for &c in order.iter().rev().cycle().take(2 * order.len()) {
        if assigned <= n_test {
            break;
        }
        if let Some(q) = quota.get_mut(c).filter(|q| **q > 0) {
            *q -= 1;
            assigned -= 1;
        }
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (g, &q) in groups.iter().zip(&quota) {
        let (t, r) = g.split_at(q.min(g.len()));
        test.extend_from_slice(t);
        train.extend_from_slice(r);
    }
    shuffle(&mut train, &mut rng);
    shuffle(&mut test, &mut rng);
    Ok(gather(x, labels, train, test))
}

/// Checks the inputs of a split and gives the size of its test part.
fn test_count<T: Real>(x: &DMatrix<T>, labels: &[usize], test_fraction: f64) -> Result<usize> {
    if x.nrows() != labels.len() {
        return Err(Error::RowCountMismatch { what: "x", x_rows: x.nrows(), t_rows: labels.len() });
    }
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::InvalidConfig {
            name: "test_fraction",
            value: crate::check::number(test_fraction),
            expected: "a number between 0 and 1 (both excluded)",
        });
    }
    let n = labels.len();
    if n < 2 {
        return Err(Error::InvalidConfig {
            name: "number of rows to split",
            value: n.to_string(),
            expected: "at least 2",
        });
    }
    Ok(((n as f64 * test_fraction).round() as usize).clamp(1, n - 1))
}

/// Fisher–Yates, drawing from the end as NumPy's `shuffle` does.
fn shuffle(v: &mut [usize], rng: &mut SeededRng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

fn gather<T: Real>(x: &DMatrix<T>, labels: &[usize], train: Vec<usize>, test: Vec<usize>) -> Split<T> {
    let pick = |idx: &[usize]| idx.iter().filter_map(|&i| labels.get(i).copied()).collect();
    Split {
        train_x: x.select_rows(&train),
        train_labels: pick(&train),
        test_x: x.select_rows(&test),
        test_labels: pick(&test),
        train_indices: train,
        test_indices: test,
    }
}

/// Scales each column to mean 0 and standard deviation 1, with the numbers of the training set.
///
/// [`fit`](Standardizer::fit) learns each column's mean and (population) standard deviation;
/// [`transform`](Standardizer::transform) maps `x ↦ (x − mean) / std` and
/// [`inverse_transform`](Standardizer::inverse_transform) back. Fit on the training part only
/// and transform both parts with it, so that the test set stays unseen. It is a
/// [`Preprocessor`] (with nothing to set), as the [`Whitener`](super::Whitener) is.
///
/// **Constant columns** (every value the same, such as the always-blank corner pixels of the
/// digits) have standard deviation 0; they get `std = 1` instead, so they transform to
/// `x − mean` (0 on the training set) and never to NaN. Columns whose computed deviation is not
/// a positive number whose reciprocal is finite in `T` (0, NaN, subnormal) are treated the same way.
///
/// # Example
/// ```
/// use backprop::data::Standardizer;
/// use nalgebra::DMatrix;
/// let train = DMatrix::<f64>::from_row_slice(3, 2, &[1.0, 5.0, 2.0, 5.0, 3.0, 5.0]);
/// let s = Standardizer::fit(&train)?;
/// assert_eq!(s.mean(), [2.0, 5.0]);
/// assert_eq!(s.std()[1], 1.0); // the constant column
/// let z = s.transform(&train)?;
/// assert!((z[(2, 0)] - 1.224744871391589).abs() < 1e-12);
/// assert_eq!(z[(0, 1)], 0.0);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer<T: Real> {
    mean: Vec<T>,
    std: Vec<T>,
}

impl<T: Real> Standardizer<T> {
    /// Learns each column's mean and standard deviation from `train` (computed in `f64`).
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for a matrix without rows; [`Error::NonFinite`] for a NaN or
    /// infinite value, or for a column whose mean or variance overflows `f64` (`f64` values
    /// beyond about ±1e154; never `f32` data), as [`Whitener`](super::Whitener) refuses an
    /// overflowing covariance: `row` 0 and the column, as if the means (then the deviations)
    /// were a row.
    pub fn fit(train: &DMatrix<T>) -> Result<Self> {
        if train.nrows() == 0 {
            return Err(Error::EmptyInput { what: "data to fit a standardizer on", got: Dims::from(train) });
        }
        check_finite("data to fit a standardizer on", train)?;
        let n = train.nrows() as f64;
        let (mut mean, mut std) = (Vec::with_capacity(train.ncols()), Vec::with_capacity(train.ncols()));
        for (j, col) in train.column_iter().enumerate() {
            let first = col.iter().next().map_or(0.0, |v| v.to_f64());
            let m0 = col.iter().map(|v| v.to_f64()).sum::<f64>() / n;
            // A second pass corrects the rounding of the first (exact for constant columns).
            let m = m0 + col.iter().map(|v| v.to_f64() - m0).sum::<f64>() / n;
            let var = col.iter().map(|v| (v.to_f64() - m).powi(2)).sum::<f64>() / n;
            let constant = col.iter().all(|v| v.to_f64() == first);
            let s = T::cast(var.sqrt());
            let m = if constant { T::cast(first) } else { T::cast(m) };
            // Sums that overflow give an infinite or NaN mean or deviation (as Whitener refuses
            // an overflowing covariance); an infinite deviation would map the column to 0.
            for (what, v) in [
                ("mean of the data to fit a standardizer on", m),
                ("standard deviation of the data to fit a standardizer on", s),
            ] {
                if !v.is_finite() {
                    return Err(Error::NonFinite { what, row: 0, col: j, value: v.to_f64() });
                }
            }
            mean.push(m);
            // 1 / s overflows for 0 and subnormal deviations.
            let usable = s > T::zero() && (T::one() / s).to_f64().is_finite();
            std.push(if constant || !usable { T::one() } else { s });
        }
        Ok(Standardizer { mean, std })
    }

    /// `(x − mean) / std`, column by column (computed in `f64`).
    ///
    /// # Errors
    /// [`Error::WidthMismatch`] when `x` has another number of columns than the training
    /// data; [`Error::NonFinite`] for a NaN or infinite value.
    pub fn transform(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        check_width("a standardizer fitted on the training data", self.mean.len(), x)?;
        check_finite("data to standardize", x)?;
        let mut z = x.clone();
        for ((mut col, m), s) in z.column_iter_mut().zip(&self.mean).zip(&self.std) {
            let (m, s) = (m.to_f64(), s.to_f64());
            for v in col.iter_mut() {
                *v = T::cast((v.to_f64() - m) / s);
            }
        }
        Ok(z)
    }

    /// The original features of standardized rows `z`: `z · std + mean`, column by column
    /// (computed in `f64`).
    ///
    /// # Errors
    /// As [`transform`](Standardizer::transform).
    pub fn inverse_transform(&self, z: &DMatrix<T>) -> Result<DMatrix<T>> {
        check_width("a standardizer fitted on the training data", self.mean.len(), z)?;
        check_finite("standardized data", z)?;
        let mut x = z.clone();
        for ((mut col, m), s) in x.column_iter_mut().zip(&self.mean).zip(&self.std) {
            let (m, s) = (m.to_f64(), s.to_f64());
            for v in col.iter_mut() {
                *v = T::cast(v.to_f64() * s + m);
            }
        }
        Ok(x)
    }

    /// The mean of each training column.
    pub fn mean(&self) -> &[T] {
        &self.mean
    }

    /// The standard deviation of each training column (1 for constant columns).
    pub fn std(&self) -> &[T] {
        &self.std
    }
}

impl<T: Real> Preprocessor<T> for Standardizer<T> {
    /// A standardizer has nothing to choose.
    type Settings = ();

    fn fit_with(train: &DMatrix<T>, _settings: ()) -> Result<Self> {
        Standardizer::fit(train)
    }

    fn transform(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        Standardizer::transform(self, x)
    }

    fn inverse_transform(&self, z: &DMatrix<T>) -> Result<DMatrix<T>> {
        Standardizer::inverse_transform(self, z)
    }
}

/// Refuses `x` unless it has the `expected` number of columns that `what` was fitted on.
pub(super) fn check_width<T: Real>(what: &'static str, expected: usize, x: &DMatrix<T>) -> Result<()> {
    if x.ncols() != expected {
        return Err(Error::WidthMismatch { what, expected, got: x.ncols() });
    }
    Ok(())
}
