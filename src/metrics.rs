//! Classification metrics: accuracy, top-k accuracy, the [`ConfusionMatrix`], classes and
//! probabilities from a network's outputs, and [`Evaluation`], the result of
//! [`Network::evaluate`](crate::Network::evaluate).

use crate::check::{check_finite, check_rows};
use crate::init::check_size;
use crate::layer::softmax_rows;
use crate::{Dims, Error, Real, Result};
use nalgebra::DMatrix;
use std::fmt;

/// How well a network does on a data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// The loss over the whole set.
    pub loss: f64,
    /// The share of samples classified right, in [0, 1].
    pub accuracy: f64,
}

/// `loss 0.061234  accuracy 0.9750`.
impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loss {:.6}  accuracy {:.4}", self.loss, self.accuracy)
    }
}

/// The class of row `i`: the column of its largest value (the first one on ties; NaN values
/// never win unless the first value is NaN).
///
/// # Errors
/// [`Error::IndexOutOfRange`] if `m` has no row `i`; [`Error::EmptyInput`] if `m` has no
/// columns.
///
/// # Example
/// ```
/// use nalgebra::DMatrix;
/// let y = DMatrix::from_row_slice(2, 3, &[0.1, 0.7, 0.2, 2.0, -1.0, 0.5]);
/// assert_eq!(backprop::argmax_row(&y, 0)?, 1);
/// assert_eq!(backprop::argmax_row(&y, 1)?, 0);
/// assert!(backprop::argmax_row(&y, 99).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn argmax_row<T: Real>(m: &DMatrix<T>, i: usize) -> Result<usize> {
    if i >= m.nrows() {
        return Err(Error::IndexOutOfRange { what: "row", index: i, len: m.nrows() });
    }
    if m.ncols() == 0 {
        return Err(Error::EmptyInput { what: "argmax_row's matrix", got: Dims::from(m) });
    }
    Ok(argmax(m, i))
}

/// [`argmax_row`] for a row known to exist (0 for a matrix without columns).
fn argmax<T: Real>(m: &DMatrix<T>, i: usize) -> usize {
    let mut row = m.row(i).into_iter();
    let Some(&first) = row.next() else {
        return 0;
    };
    let (mut best, mut best_value) = (0, first);
    for (j, &v) in row.enumerate() {
        let j = j + 1;
        // Selects, not a branch: which column wins is unpredictable, and `fit` counts every batch.
        let gain = v > best_value;
        best = if gain { j } else { best };
        best_value = if gain { v } else { best_value };
    }
    best
}

/// The class of every row of a network's outputs `y`: with two or more columns the column of
/// the largest value (as [`argmax_row`]); with one column 1 where the output is at least 0.5,
/// else 0 (a sigmoid output). What [`Network::predict_classes`](crate::Network::predict_classes)
/// returns.
///
/// # Errors
/// [`Error::EmptyInput`] if `y` has no columns.
///
/// # Example
/// ```
/// use nalgebra::DMatrix;
/// let logits = DMatrix::from_row_slice(2, 3, &[0.1, 0.7, 0.2, 2.0, -1.0, 0.5]);
/// assert_eq!(backprop::classes(&logits)?, [1, 0]);
/// let sigmoid = DMatrix::from_row_slice(3, 1, &[0.2, 0.5, 0.9]);
/// assert_eq!(backprop::classes(&sigmoid)?, [0, 1, 1]);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn classes<T: Real>(y: &DMatrix<T>) -> Result<Vec<usize>> {
    match y.ncols() {
        0 => Err(Error::EmptyInput { what: "outputs", got: Dims::from(y) }),
        1 => Ok(y.iter().map(|&v| usize::from(v >= T::cast(0.5))).collect()),
        _ => Ok((0..y.nrows()).map(|i| argmax(y, i)).collect()),
    }
}

/// Class probabilities from a network's outputs `y`: with two or more columns the softmax of
/// every row (for outputs that are logits, as those of a network trained with
/// [`SoftmaxCrossEntropy`](crate::SoftmaxCrossEntropy)); with one column the outputs as they are
/// (the probability of class 1 of a sigmoid output, as trained with
/// [`BinaryCrossEntropy`](crate::BinaryCrossEntropy)). Computed stably (the row's maximum is
/// subtracted before `exp`).
///
/// A network that already ends with a [`Softmax`](crate::Softmax) layer outputs probabilities:
/// use its outputs directly (a second softmax would flatten them).
///
/// # Example
/// ```
/// use nalgebra::DMatrix;
/// let logits = DMatrix::from_row_slice(1, 2, &[0.0f64, 2.0f64.ln()]);
/// let p = backprop::probabilities(&logits);
/// assert!((p[(0, 0)] - 1.0 / 3.0).abs() < 1e-12 && (p[(0, 1)] - 2.0 / 3.0).abs() < 1e-12);
/// ```
pub fn probabilities<T: Real>(y: &DMatrix<T>) -> DMatrix<T> {
    if y.ncols() < 2 {
        return y.clone();
    }
    let mut p = DMatrix::zeros(y.nrows(), y.ncols());
    softmax_rows(y, &mut p);
    p
}

/// The class index of every row of targets `t` for outputs of `k` columns: one-hot rows (their
/// argmax), a column of class indices, or for `k == 1` a column of 0/1 targets (at least 0.5 is
/// class 1). Refuses a class index that is not an integer in `0..k` (NaN included) and a
/// non-finite value in the other forms.
fn target_classes<T: Real>(k: usize, t: &DMatrix<T>, what: &'static str) -> Result<Vec<usize>> {
    match (k, t.ncols()) {
        (1, 1) => {
            check_finite("targets", t)?;
            Ok(t.iter().map(|&v| usize::from(v >= T::cast(0.5))).collect())
        }
        (k, 1) if k >= 2 => (0..t.nrows())
            .map(|row| {
                let v = t[(row, 0)];
                let label = v.to_f64();
                if label >= 0.0 && label.fract() == 0.0 && label < k as f64 {
                    Ok(label as usize)
                } else {
                    Err(Error::LabelOutOfRange { row, label, classes: k })
                }
            })
            .collect(),
        (k, c) if c == k => {
            check_finite("targets", t)?;
            Ok((0..t.nrows()).map(|i| argmax(t, i)).collect())
        }
        _ => Err(Error::TargetShapeMismatch {
            loss: what,
            expected: format!("{k} columns or 1 column of class indices"),
            got: Dims::from(t),
        }),
    }
}

/// The share of rows whose target class is among the `k` largest outputs of `y` (ties count in
/// the row's favour). Targets `t` as for [`accuracy`]: one-hot rows or a column of class
/// indices. `k = 1` is [`accuracy`]; `k` at least the number of classes gives 1. An empty set
/// has top-k accuracy 0.
///
/// # Errors
/// [`Error::InvalidConfig`] for `k = 0` or outputs of fewer than two columns;
/// [`Error::RowCountMismatch`]; [`Error::TargetShapeMismatch`]; [`Error::LabelOutOfRange`] for
/// a class index that is not an integer in `0..classes` (NaN included); [`Error::NonFinite`]
/// for a NaN or infinite value in one-hot rows.
///
/// # Example
/// ```
/// use nalgebra::DMatrix;
/// let y = DMatrix::from_row_slice(2, 3, &[0.5, 0.3, 0.2, 0.1, 0.2, 0.7]);
/// let labels = DMatrix::from_row_slice(2, 1, &[1.0, 0.0]);
/// assert_eq!(backprop::top_k_accuracy(&y, &labels, 1)?, 0.0);
/// assert_eq!(backprop::top_k_accuracy(&y, &labels, 2)?, 0.5);
/// assert_eq!(backprop::top_k_accuracy(&y, &labels, 3)?, 1.0);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn top_k_accuracy<T: Real>(y: &DMatrix<T>, t: &DMatrix<T>, k: usize) -> Result<f64> {
    if k == 0 {
        return Err(Error::InvalidConfig { name: "top-k accuracy's k", value: "0".into(), expected: ">= 1" });
    }
    if y.ncols() < 2 {
        return Err(Error::InvalidConfig {
            name: "top-k accuracy's outputs",
            value: format!("{} column(s)", y.ncols()),
            expected: "at least 2 columns, one per class",
        });
    }
    check_rows("the predictions", y, t)?;
    let targets = target_classes(y.ncols(), t, "top_k_accuracy")?;
    let right = targets
        .iter()
        .enumerate()
        .filter(|&(i, &c)| {
            let score = y[(i, c)];
            !score.to_f64().is_nan() && y.row(i).iter().filter(|&&v| v > score).count() < k
        })
        .count();
    Ok(if y.nrows() == 0 { 0.0 } else { right as f64 / y.nrows() as f64 })
}

/// Counts of (actual class, predicted class) pairs, with per-class precision, recall and F1.
///
/// Rows are the actual classes, columns the predicted ones (scikit-learn's layout). `Display`
/// prints the matrix, then one line per class (precision, recall, F1, support) and the accuracy.
///
/// # Example
/// ```
/// use backprop::ConfusionMatrix;
/// let actual = [0, 0, 1, 1, 2, 2];
/// let predicted = [0, 1, 1, 1, 2, 0];
/// let m = ConfusionMatrix::new(3, &actual, &predicted)?;
/// assert_eq!(m.count(0, 1), Some(1)); // one 0 taken for a 1
/// assert_eq!(m.precision(1), Some(2.0 / 3.0));
/// assert_eq!(m.recall(1), Some(1.0));
/// assert_eq!(m.f1(1), Some(0.8));
/// assert!((m.accuracy() - 4.0 / 6.0).abs() < 1e-12);
/// println!("{m}");
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// `counts[actual * classes + predicted]`.
    counts: Vec<usize>,
}

impl ConfusionMatrix {
    /// Counts `actual` against `predicted` (class indices in `0..classes`, one pair per sample).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for 0 classes; [`Error::TooLarge`] when the `classes × classes`
    /// counts would exceed [`max_elements`](crate::max_elements); [`Error::RowCountMismatch`] if
    /// the slices differ in length; [`Error::LabelOutOfRange`] (naming the position) for an index
    /// not below `classes`.
    pub fn new(classes: usize, actual: &[usize], predicted: &[usize]) -> Result<Self> {
        if classes == 0 {
            return Err(Error::InvalidConfig { name: "classes", value: "0".into(), expected: ">= 1" });
        }
        // Before allocating: a failed allocation aborts the process.
        check_size("confusion matrix", classes, classes)?;
        if actual.len() != predicted.len() {
            return Err(Error::RowCountMismatch {
                what: "the predicted labels",
                x_rows: predicted.len(),
                t_rows: actual.len(),
            });
        }
        let mut counts = vec![0; classes.saturating_mul(classes)];
        for (row, (&a, &p)) in actual.iter().zip(predicted).enumerate() {
            if let Some(&label) = [a, p].iter().find(|&&c| c >= classes) {
                return Err(Error::LabelOutOfRange { row, label: label as f64, classes });
            }
            if let Some(count) = counts.get_mut(a * classes + p) {
                *count += 1; // always: a, p < classes
            }
        }
        Ok(ConfusionMatrix { classes, counts })
    }

    /// The confusion matrix of a network's outputs `y` (classes as [`classes`] finds them)
    /// against targets `t` (one-hot rows or a column of class indices; for a single output, a
    /// column of 0/1 targets).
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for outputs without columns; [`Error::RowCountMismatch`];
    /// [`Error::TargetShapeMismatch`]; [`Error::LabelOutOfRange`] for a class index that is not
    /// an integer in `0..classes` (NaN included); [`Error::NonFinite`] for a NaN or infinite
    /// value in other targets; [`Error::TooLarge`] as [`new`](Self::new).
    pub fn from_outputs<T: Real>(y: &DMatrix<T>, t: &DMatrix<T>) -> Result<Self> {
        check_rows("the predictions", y, t)?;
        let predicted = classes(y)?;
        let actual = target_classes(y.ncols(), t, "confusion matrix")?;
        Self::new(y.ncols().max(2), &actual, &predicted)
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// How many samples of class `actual` were predicted as `predicted`; `None` for a class out
    /// of range.
    pub fn count(&self, actual: usize, predicted: usize) -> Option<usize> {
        (actual < self.classes && predicted < self.classes)
            .then(|| self.counts.get(actual * self.classes + predicted).copied())
            .flatten()
    }

    /// The number of samples.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// The number of samples of class `class` (0 for a class out of range).
    pub fn support(&self, class: usize) -> usize {
        (0..self.classes).filter_map(|p| self.count(class, p)).sum()
    }

    /// The number of samples predicted as `class`.
    fn predicted(&self, class: usize) -> usize {
        (0..self.classes).filter_map(|a| self.count(a, class)).sum()
    }

    /// The share of samples predicted as `class` that are of that class; `None` if no sample
    /// was predicted as it (or it is out of range).
    pub fn precision(&self, class: usize) -> Option<f64> {
        let right = self.count(class, class)?;
        let predicted = self.predicted(class);
        (predicted > 0).then(|| right as f64 / predicted as f64)
    }

    /// The share of samples of `class` predicted as it; `None` if there is no sample of it (or
    /// it is out of range).
    pub fn recall(&self, class: usize) -> Option<f64> {
        let right = self.count(class, class)?;
        let support = self.support(class);
        (support > 0).then(|| right as f64 / support as f64)
    }

    /// The harmonic mean of [`precision`](Self::precision) and [`recall`](Self::recall); `None`
    /// if either is undefined; 0 when both are 0.
    pub fn f1(&self, class: usize) -> Option<f64> {
        let (p, r) = (self.precision(class)?, self.recall(class)?);
        Some(if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 })
    }

    /// The unweighted mean F1 over the classes, an undefined F1 counting as 0 (scikit-learn's
    /// `f1_score(average="macro")` with its default `zero_division`).
    pub fn macro_f1(&self) -> f64 {
        (0..self.classes).map(|c| self.f1(c).unwrap_or(0.0)).sum::<f64>() / self.classes as f64
    }

    /// The share of samples on the diagonal (0 for no samples).
    pub fn accuracy(&self) -> f64 {
        let total = self.total();
        let right: usize = (0..self.classes).filter_map(|c| self.count(c, c)).sum();
        if total == 0 {
            0.0
        } else {
            right as f64 / total as f64
        }
    }
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.classes;
        let width = self.counts.iter().max().map_or(1, |m| m.to_string().len()).max(k.to_string().len()).max(3);
        let label = "actual\\predicted".len().max(6);
        write!(f, "{:>label$}", "actual\\predicted")?;
        for p in 0..k {
            write!(f, " {p:>width$}")?;
        }
        writeln!(f)?;
        for (a, row) in self.counts.chunks_exact(k.max(1)).enumerate() {
            write!(f, "{a:>label$}")?;
            for count in row {
                write!(f, " {count:>width$}")?;
            }
            writeln!(f)?;
        }
        writeln!(f)?;
        writeln!(f, "{:>6}  {:>9}  {:>6}  {:>6}  {:>7}", "class", "precision", "recall", "f1", "support")?;
        let cell = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
        for c in 0..k {
            writeln!(
                f,
                "{c:>6}  {:>9}  {:>6}  {:>6}  {:>7}",
                cell(self.precision(c)),
                cell(self.recall(c)),
                cell(self.f1(c)),
                self.support(c)
            )?;
        }
        write!(f, "accuracy {:.4} of {} samples, macro F1 {:.4}", self.accuracy(), self.total(), self.macro_f1())
    }
}

/// The share of rows of `y` that match targets `t`.
///
/// With two or more columns, a row is right when its largest output is the target class
/// (`t` one-hot rows of the same width, or a column of class indices); with one column, when
/// `y` and `t` are on the same side of 0.5. An empty set has accuracy 0.
///
/// # Errors
/// [`Error::RowCountMismatch`]; [`Error::TargetShapeMismatch`] for targets of another width;
/// [`Error::LabelOutOfRange`] for a class index that is not an integer in `0..classes` (NaN
/// included), as [`top_k_accuracy`]; [`Error::NonFinite`] for a NaN or infinite value in
/// one-hot rows or in the 0/1 targets of a single output.
pub fn accuracy<T: Real>(y: &DMatrix<T>, t: &DMatrix<T>) -> Result<f64> {
    let right = count_right(y, t)?;
    // The targets' values, checked as top_k_accuracy checks them.
    target_classes(y.ncols(), t, "accuracy")?;
    Ok(if y.nrows() == 0 { 0.0 } else { right as f64 / y.nrows() as f64 })
}

/// The number of rows of `y` that match targets `t`, as [`accuracy`] counts them (with its shape
/// errors; the targets' values are not checked: `fit` adds these up over an epoch's batches,
/// whose targets its loss has checked, and a regression's single output takes any target).
pub(crate) fn count_right<T: Real>(y: &DMatrix<T>, t: &DMatrix<T>) -> Result<usize> {
    check_rows("the predictions", y, t)?;
    let k = y.ncols();
    if t.ncols() != k && !(t.ncols() == 1 && k >= 2) {
        return Err(Error::TargetShapeMismatch {
            loss: "accuracy",
            expected: format!("{k} columns or 1 column of class indices"),
            got: Dims::from(t),
        });
    }
    let half = T::cast(0.5);
    Ok(match (k, t.ncols()) {
        // One output (and one target column): both are contiguous slices. `fit` calls this
        // every training step, so the common case of a binary classifier stays cheap.
        (1, _) => y.as_slice().iter().zip(t.as_slice()).filter(|&(&yi, &ti)| (yi >= half) == (ti >= half)).count(),
        (_, 1) => (0..y.nrows()).filter(|&i| T::cast(argmax(y, i) as f64) == t[(i, 0)]).count(),
        _ => (0..y.nrows()).filter(|&i| argmax(y, i) == argmax(t, i)).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocked count against `argmax_row` row by row: ties, NaN, more rows than a block.
    #[test]
    fn blocked_count_matches_row_by_row() {
        for (rows, classes) in [(1, 2), (3, 10), (64, 3), (65, 4), (200, 10)] {
            // Values repeat often, so rows have ties; every 7th value is NaN.
            let y = DMatrix::<f64>::from_fn(rows, classes, |i, j| {
                if (i + 3 * j) % 7 == 0 {
                    f64::NAN
                } else {
                    ((i * 5 + j * 3) % 4) as f64
                }
            });
            let labels = DMatrix::<f64>::from_fn(rows, 1, |i, _| ((i * 7) % classes) as f64);
            let one_hot = DMatrix::<f64>::from_fn(rows, classes, |i, j| f64::from(j == (i * 7) % classes));
            let expected = (0..rows).filter(|&i| argmax_row(&y, i).unwrap() == (i * 7) % classes).count();
            assert!(expected > 0, "the case must count something");
            assert_eq!(count_right(&y, &labels).unwrap(), expected, "{rows}x{classes} labels");
            assert_eq!(count_right(&y, &one_hot).unwrap(), expected, "{rows}x{classes} one-hot");
        }
    }
}
