//! Loss functions: the value of `E(y, t)` and its gradient `∂E/∂y`.
//!
//! `y` are the network's outputs and `t` the targets, one row per sample.

use crate::check::{check_finite, check_rows};
use crate::layer::{ensure_shape, softmax_rows};
use crate::{Dims, Error, Real, Result};
use nalgebra::DMatrix;
use std::fmt::Debug;

/// A loss: a number saying how far the outputs `y` are from the targets `t`, and its gradient.
pub trait Loss<T: Real>: Debug + Send + Sync {
    /// A short lowercase name, e.g. `"squared_error"`.
    fn name(&self) -> &'static str;

    /// A copy of the loss, boxed; `None` (the default) for one that cannot be copied. Every
    /// loss of the crate can; a loss of your own that is `Clone` overrides it as
    /// `Some(Box::new(self.clone()))`. [`FitConfig::try_clone`](crate::FitConfig::try_clone)
    /// needs it.
    fn clone_box(&self) -> Option<Box<dyn Loss<T>>> {
        None
    }

    /// Checks that targets `t` suit outputs of `width` columns: their shape and their values.
    ///
    /// # Errors
    /// [`Error::TargetShapeMismatch`], [`Error::NonFinite`], [`Error::LabelOutOfRange`] (class
    /// indices) or [`Error::TargetOutOfRange`] (e.g. binary cross-entropy targets outside [0, 1],
    /// or softmax cross-entropy probability rows with a negative entry or not summing to 1).
    fn check_targets(&self, width: usize, t: &DMatrix<T>) -> Result<()>;

    /// The loss `E(y, t)`.
    ///
    /// # Errors
    /// As [`check_targets`](Loss::check_targets), and [`Error::RowCountMismatch`].
    fn loss(&self, y: &DMatrix<T>, t: &DMatrix<T>) -> Result<T>;

    /// Writes `∂E/∂y` into `grad` (resizing it to the shape of `y`).
    ///
    /// # Errors
    /// As [`loss`](Loss::loss).
    fn grad(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<()>;

    /// The loss, and its gradient written into `grad`, in one call: what a training step needs.
    /// Losses override it to check and traverse the data once; the result must equal
    /// [`loss`](Loss::loss) and [`grad`](Loss::grad).
    ///
    /// # Errors
    /// As [`loss`](Loss::loss).
    fn loss_and_grad(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<T> {
        let value = self.loss(y, t)?;
        self.grad(y, t, grad)?;
        Ok(value)
    }

    /// [`loss_and_grad`](Loss::loss_and_grad) for targets whose values were already checked with
    /// [`check_targets`](Loss::check_targets) for outputs of this width — as
    /// [`fit`](crate::Network::fit) does once for the whole data set, before its first step.
    /// Only the shapes are checked again (a wrong one is an error, not a panic), not every
    /// target. The built-in losses override it; the default checks everything.
    ///
    /// # Errors
    /// [`Error::RowCountMismatch`], [`Error::TargetShapeMismatch`].
    fn loss_and_grad_prechecked(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<T> {
        self.loss_and_grad(y, t, grad)
    }
}

/// Checks that `t` has a row per row of `y` and the same number of columns (or, where
/// `indices` allows it, one column of class indices).
fn check_target_shape<T: Real>(loss: &'static str, y: &DMatrix<T>, t: &DMatrix<T>, indices: bool) -> Result<()> {
    check_rows("the predictions", y, t)?;
    if t.ncols() == y.ncols() || (indices && t.ncols() == 1) {
        return Ok(());
    }
    Err(Error::TargetShapeMismatch { loss, expected: format!("{} columns", y.ncols()), got: Dims::from(t) })
}

/// Checks rows, then the loss's own target rules.
fn check<T: Real, L: Loss<T> + ?Sized>(loss: &L, y: &DMatrix<T>, t: &DMatrix<T>) -> Result<()> {
    check_rows("the predictions", y, t)?;
    loss.check_targets(y.ncols(), t)
}

fn check_same_shape<T: Real>(loss: &'static str, width: usize, t: &DMatrix<T>) -> Result<()> {
    if t.ncols() != width {
        return Err(Error::TargetShapeMismatch {
            loss,
            expected: format!("{} columns (one per output)", width),
            got: Dims::from(t),
        });
    }
    check_finite("targets", t)
}

/// How [`SquaredError`] sums `(y − t)²` over the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// `E = ½ Σ (y − t)²` over every element of the batch: the course's loss. `∂E/∂y = y − t`.
    #[default]
    HalfSum,
    /// `E = Σ (y − t)²`. `∂E/∂y = 2(y − t)`.
    Sum,
    /// `E = Σ (y − t)² / N`, `N` = rows × columns (Keras' and PyTorch's MSE). `∂E/∂y = 2(y − t)/N`.
    Mean,
    /// `E = Σ (y − t)² / 2N` (scikit-learn's). `∂E/∂y = (y − t)/N`.
    HalfMean,
}

/// Squared error, `(y − t)²` summed or averaged as its [`Reduction`] says.
///
/// # Example: the course's loss
/// ```
/// use backprop::{Loss, SquaredError};
/// use nalgebra::DMatrix;
/// let y = DMatrix::from_row_slice(2, 1, &[0.5_f64, 1.0]);
/// let t = DMatrix::from_row_slice(2, 1, &[0.0, 0.0]);
/// assert_eq!(SquaredError::half_sum().loss(&y, &t)?, 0.625); // ½(0.25 + 1)
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SquaredError {
    /// How the squared differences are combined.
    pub reduction: Reduction,
}

impl SquaredError {
    /// `E = ½ Σ (y − t)²`, the course's loss.
    pub fn half_sum() -> Self {
        SquaredError { reduction: Reduction::HalfSum }
    }

    /// `E = Σ (y − t)² / N`, the mean squared error.
    pub fn mean() -> Self {
        SquaredError { reduction: Reduction::Mean }
    }

    /// `(E = scale · Σ (y − t)², ∂E/∂y = 2·scale·(y − t))` for `n` elements.
    fn scale<T: Real>(&self, n: usize) -> T {
        let n = n.max(1) as f64;
        T::cast(match self.reduction {
            Reduction::HalfSum => 0.5,
            Reduction::Sum => 1.0,
            Reduction::Mean => 1.0 / n,
            Reduction::HalfMean => 0.5 / n,
        })
    }
}

impl<T: Real> Loss<T> for SquaredError {
    fn clone_box(&self) -> Option<Box<dyn Loss<T>>> {
        Some(Box::new(*self))
    }

    fn name(&self) -> &'static str {
        "squared_error"
    }

    fn check_targets(&self, width: usize, t: &DMatrix<T>) -> Result<()> {
        check_same_shape(Loss::<T>::name(self), width, t)
    }

    fn loss(&self, y: &DMatrix<T>, t: &DMatrix<T>) -> Result<T> {
        check(self, y, t)?;
        let sum = y.as_slice().iter().zip(t.as_slice()).fold(T::zero(), |acc, (&yi, &ti)| acc + (yi - ti) * (yi - ti));
        Ok(self.scale::<T>(y.len()) * sum)
    }

    fn grad(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<()> {
        self.loss_and_grad(y, t, grad).map(|_| ())
    }

    fn loss_and_grad(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<T> {
        check(self, y, t)?;
        Ok(self.fused(y, t, grad))
    }

    fn loss_and_grad_prechecked(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<T> {
        check_target_shape(Loss::<T>::name(self), y, t, false)?;
        Ok(self.fused(y, t, grad))
    }
}

impl SquaredError {
    /// The loss, and the gradient into `grad`, in one pass (shapes checked by the caller).
    fn fused<T: Real>(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> T {
        let scale = self.scale::<T>(y.len());
        let c = scale * T::cast(2.0);
        ensure_shape(grad, y.nrows(), y.ncols());
        let mut sum = T::zero();
        for (g, (&yi, &ti)) in grad.as_mut_slice().iter_mut().zip(y.as_slice().iter().zip(t.as_slice())) {
            let d = yi - ti;
            sum += d * d;
            *g = c * d;
        }
        scale * sum
    }
}

/// Rows of a batch [`SoftmaxCrossEntropy::loss_and_grad`] handles at a time.
const ROW_BLOCK: usize = 64;

/// Softmax followed by cross-entropy, fused: `y` are logits (any real numbers).
///
/// `E = −(1/n) Σᵢ Σⱼ tᵢⱼ · log softmax(y)ᵢⱼ` (mean over the `n` samples), computed as
/// `log softmax(y)ᵢⱼ = yᵢⱼ − mᵢ − log Σₖ exp(yᵢₖ − mᵢ)` with `mᵢ` the row maximum, so it is finite
/// for any finite logits. Gradient: `∂E/∂y = (softmax(y) − t) / n`.
///
/// Targets are either one-hot rows (`n × classes`, any probability rows work) or class indices
/// (`n × 1`, each an integer in `0..classes`). With at least two classes the two forms cannot be
/// confused. Probability rows must be probabilities — the gradient `softmax(y) − t` is that of
/// the loss only for rows summing to 1: a negative entry, or a row whose sum differs from 1 by
/// more than [`SUM_TOLERANCE`](SoftmaxCrossEntropy::SUM_TOLERANCE), is an
/// [`Error::TargetOutOfRange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SoftmaxCrossEntropy;

impl SoftmaxCrossEntropy {
    /// How far from 1 the sum of a row of probability targets may be: `1e-3`, or
    /// `columns × f32::EPSILON` for rows of more than about 8 400 columns.
    ///
    /// Rows computed in `f32` are off by rounding: a softmax row by a few units in the last place
    /// (~1e-7), a row divided by its own `f32` sum by up to about `columns × 2⁻²⁴` (the sum's
    /// rounding). The tolerance covers both with a wide margin, while a row off by more (a
    /// label listed twice, a missed normalization) is refused: its gradient would be wrong by
    /// `(sum − 1)·softmax(y)`. One-hot rows are exact.
    pub const SUM_TOLERANCE: f64 = 1e-3;

    /// Checks rows of probability targets (already checked finite): entries ≥ 0, summing to 1
    /// within [`SUM_TOLERANCE`](Self::SUM_TOLERANCE) (or `columns × f32::EPSILON`, if larger).
    /// Rows in order; a negative entry is named by its column, a bad sum by the row's last.
    fn check_probabilities<T: Real>(loss: &'static str, t: &DMatrix<T>) -> Result<()> {
        let tolerance = Self::SUM_TOLERANCE.max(t.ncols() as f64 * f64::from(f32::EPSILON));
        for (row, r) in t.row_iter().enumerate() {
            let mut sum = 0.0;
            for (col, &v) in r.iter().enumerate() {
                let v = v.to_f64();
                if v < 0.0 {
                    return Err(Error::TargetOutOfRange { loss, row, col, value: v, expected: "probabilities >= 0" });
                }
                sum += v;
            }
            if (sum - 1.0).abs() > tolerance {
                return Err(Error::TargetOutOfRange {
                    loss,
                    row,
                    col: t.ncols().saturating_sub(1),
                    value: sum,
                    expected:
                        "rows of probabilities summing to 1 (the value given is the row's sum, at its last column)",
                });
            }
        }
        Ok(())
    }

    /// The target probability of class `j` in row `i`.
    #[inline]
    fn target<T: Real>(t: &DMatrix<T>, i: usize, j: usize) -> T {
        if t.ncols() == 1 {
            if t[(i, 0)] == T::cast(j as f64) {
                T::one()
            } else {
                T::zero()
            }
        } else {
            t[(i, j)]
        }
    }
}

impl<T: Real> Loss<T> for SoftmaxCrossEntropy {
    fn clone_box(&self) -> Option<Box<dyn Loss<T>>> {
        Some(Box::new(*self))
    }

    fn name(&self) -> &'static str {
        "softmax_cross_entropy"
    }

    fn check_targets(&self, width: usize, t: &DMatrix<T>) -> Result<()> {
        let name = Loss::<T>::name(self);
        if width < 2 {
            return Err(Error::TargetShapeMismatch {
                loss: name,
                expected: format!("a network with at least 2 outputs (it has {width})"),
                got: Dims::from(t),
            });
        }
        if t.ncols() == 1 {
            check_finite("targets", t)?;
            for (row, &label) in t.iter().enumerate() {
                let l = label.to_f64();
                if l < 0.0 || l.fract() != 0.0 || l >= width as f64 {
                    return Err(Error::LabelOutOfRange { row, label: l, classes: width });
                }
            }
            Ok(())
        } else if t.ncols() == width {
            check_finite("targets", t)?;
            Self::check_probabilities(name, t)
        } else {
            Err(Error::TargetShapeMismatch {
                loss: name,
                expected: format!("{width} columns (one-hot) or 1 column (class indices)"),
                got: Dims::from(t),
            })
        }
    }

    fn loss(&self, y: &DMatrix<T>, t: &DMatrix<T>) -> Result<T> {
        check(self, y, t)?;
        let mut total = T::zero();
        for i in 0..y.nrows() {
            let row = y.row(i);
            let max = row.max();
            let log_sum = row.iter().fold(T::zero(), |acc, &v| acc + (v - max).exp()).ln();
            for j in 0..y.ncols() {
                let tij = Self::target(t, i, j);
                if tij != T::zero() {
                    total -= tij * (y[(i, j)] - max - log_sum);
                }
            }
        }
        Ok(total / T::cast(y.nrows().max(1) as f64))
    }

    fn grad(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<()> {
        check(self, y, t)?;
        softmax_rows(y, grad);
        let inv_n = T::one() / T::cast(y.nrows().max(1) as f64);
        for j in 0..y.ncols() {
            for i in 0..y.nrows() {
                grad[(i, j)] = (grad[(i, j)] - Self::target(t, i, j)) * inv_n;
            }
        }
        Ok(())
    }

    /// One pass for both: the exponentials of the gradient's softmax also give the log-sum-exp of
    /// the loss. Rows are taken in blocks of 64, each loop running down the contiguous
    /// columns of `y` with the block's row maxima and sums on the stack (no allocation).
    fn loss_and_grad(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<T> {
        check(self, y, t)?;
        Ok(Self::fused(y, t, grad))
    }

    fn loss_and_grad_prechecked(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<T> {
        check_target_shape(Loss::<T>::name(self), y, t, y.ncols() >= 2)?;
        Ok(Self::fused(y, t, grad))
    }
}

impl SoftmaxCrossEntropy {
    /// The loss, and the gradient into `grad`, in one pass over rows in blocks (shapes checked
    /// by the caller; a class index out of range is skipped, never read out of bounds).
    // Hot loop kept indexed: rows ⊂ 0..n and j < classes, so column(j) lies inside y and grad
    // (n × classes), and t (n × classes or n × 1, checked by the caller); len ≤ ROW_BLOCK.
    #[allow(clippy::indexing_slicing)]
    fn fused<T: Real>(y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> T {
        let (n, classes) = y.shape();
        ensure_shape(grad, n, classes);
        let inv_n = T::one() / T::cast(n.max(1) as f64);
        let (ys, gs) = (y.as_slice(), grad.as_mut_slice());
        let mut total = T::zero();
        for first in (0..n).step_by(ROW_BLOCK) {
            let rows = first..(first + ROW_BLOCK).min(n);
            let len = rows.len();
            let column = |j: usize| rows.start + j * n..rows.end + j * n;
            // Row maxima, then e = exp(y − max) into `grad` and the row sums of e.
            let mut max = [T::zero(); ROW_BLOCK];
            max[..len].copy_from_slice(&ys[column(0)]);
            for j in 1..classes {
                for (m, &v) in max.iter_mut().zip(&ys[column(j)]) {
                    *m = m.max(v);
                }
            }
            let mut sum = [T::zero(); ROW_BLOCK];
            for j in 0..classes {
                let (g_column, y_column) = (&mut gs[column(j)], &ys[column(j)]);
                for (((g, s), &m), &v) in g_column.iter_mut().zip(sum.iter_mut()).zip(&max).zip(y_column) {
                    let e = (v - m).exp();
                    *g = e;
                    *s += e;
                }
            }
            // ∂E/∂y = (e / sum − t) / n; E = Σᵢ Σⱼ tᵢⱼ (log sumᵢ + maxᵢ − yᵢⱼ) / n.
            let mut scale = [T::zero(); ROW_BLOCK];
            for (c, &s) in scale.iter_mut().zip(&sum[..len]) {
                *c = inv_n / s;
            }
            for j in 0..classes {
                for (g, &c) in gs[column(j)].iter_mut().zip(&scale) {
                    *g *= c;
                }
            }
            let mut log_sum = [T::zero(); ROW_BLOCK];
            for ((l, &s), &m) in log_sum.iter_mut().zip(&sum[..len]).zip(&max) {
                *l = s.ln() + m;
            }
            if t.ncols() == 1 {
                // Class indices (checked: whole numbers in range): one entry per row.
                for (k, i) in rows.enumerate() {
                    let at = (t[(i, 0)].to_f64() as usize).saturating_mul(n).saturating_add(i);
                    if let (Some(&v), Some(g)) = (ys.get(at), gs.get_mut(at)) {
                        total += log_sum[k] - v;
                        *g -= inv_n;
                    }
                }
            } else {
                for j in 0..classes {
                    let (t_column, y_column) = (&t.as_slice()[column(j)], &ys[column(j)]);
                    for (((g, &tij), &v), &l) in gs[column(j)].iter_mut().zip(t_column).zip(y_column).zip(&log_sum) {
                        if tij != T::zero() {
                            total += tij * (l - v);
                            *g -= tij * inv_n;
                        }
                    }
                }
            }
        }
        total * inv_n
    }
}

/// Binary cross-entropy on probabilities: `E = −(1/N) Σ [t·ln p + (1 − t)·ln(1 − p)]` over all
/// `N` elements, for outputs `p` in (0, 1) (a sigmoid output layer) and targets in [0, 1].
///
/// `p` is clamped to `[ε, 1 − ε]` with `ε = 1e-7` so saturated outputs give a large finite
/// loss instead of infinity. Gradient: `∂E/∂p = (p − t) / (p(1 − p)) / N` (with the clamped `p`;
/// zero where the clamp is active).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BinaryCrossEntropy;

impl BinaryCrossEntropy {
    /// The clamp keeping `ln p` and `ln(1 − p)` finite.
    pub const EPS: f64 = 1e-7;
}

impl<T: Real> Loss<T> for BinaryCrossEntropy {
    fn clone_box(&self) -> Option<Box<dyn Loss<T>>> {
        Some(Box::new(*self))
    }

    fn name(&self) -> &'static str {
        "binary_cross_entropy"
    }

    fn check_targets(&self, width: usize, t: &DMatrix<T>) -> Result<()> {
        check_same_shape(Loss::<T>::name(self), width, t)?;
        match t.iter().position(|&v| v < T::zero() || v > T::one()) {
            None => Ok(()),
            Some(k) => Err(Error::TargetOutOfRange {
                loss: Loss::<T>::name(self),
                row: k % t.nrows(),
                col: k / t.nrows(),
                value: t[k].to_f64(),
                expected: "in [0, 1]",
            }),
        }
    }

    fn loss(&self, y: &DMatrix<T>, t: &DMatrix<T>) -> Result<T> {
        check(self, y, t)?;
        Ok(Self::value(y, t))
    }

    fn grad(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<()> {
        check(self, y, t)?;
        Self::gradient(y, t, grad);
        Ok(())
    }

    fn loss_and_grad_prechecked(&self, y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) -> Result<T> {
        check_target_shape(Loss::<T>::name(self), y, t, false)?;
        Self::gradient(y, t, grad);
        Ok(Self::value(y, t))
    }
}

impl BinaryCrossEntropy {
    /// The loss (shapes checked by the caller).
    fn value<T: Real>(y: &DMatrix<T>, t: &DMatrix<T>) -> T {
        let (lo, hi) = (T::cast(Self::EPS), T::one() - T::cast(Self::EPS));
        let sum = y.iter().zip(t.iter()).fold(T::zero(), |acc, (&p, &ti)| {
            let p = p.max(lo).min(hi);
            acc - (ti * p.ln() + (T::one() - ti) * (T::one() - p).ln())
        });
        sum / T::cast(y.len().max(1) as f64)
    }

    /// The gradient into `grad` (shapes checked by the caller).
    fn gradient<T: Real>(y: &DMatrix<T>, t: &DMatrix<T>, grad: &mut DMatrix<T>) {
        let (lo, hi) = (T::cast(Self::EPS), T::one() - T::cast(Self::EPS));
        let inv_n = T::one() / T::cast(y.len().max(1) as f64);
        ensure_shape(grad, y.nrows(), y.ncols());
        for ((g, &p), &ti) in grad.iter_mut().zip(y.iter()).zip(t.iter()) {
            *g = if p < lo || p > hi { T::zero() } else { (p - ti) / (p * (T::one() - p)) * inv_n };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `loss_and_grad` gives what `loss` and `grad` give, for both target forms.
    #[test]
    fn softmax_cross_entropy_fused_matches_separate() {
        // 7 rows: one partial block; 150 rows: two full blocks of 64 and a partial one.
        for n in [7, 150] {
            let y = DMatrix::<f64>::from_fn(n, 4, |i, j| {
                ((i * 5 + j * 3) % 11) as f64 * 0.7 - 3.0 + if j == 2 { 400.0 } else { 0.0 }
            });
            let labels = DMatrix::<f64>::from_fn(n, 1, |i, _| (i % 4) as f64);
            let one_hot = DMatrix::<f64>::from_fn(n, 4, |i, j| if j == i % 4 { 0.75 } else { 0.25 / 3.0 });
            for t in [&labels, &one_hot] {
                let loss = Loss::<f64>::loss(&SoftmaxCrossEntropy, &y, t).unwrap();
                let mut grad = DMatrix::zeros(0, 0);
                Loss::<f64>::grad(&SoftmaxCrossEntropy, &y, t, &mut grad).unwrap();
                let mut fused_grad = DMatrix::zeros(0, 0);
                let fused = Loss::<f64>::loss_and_grad(&SoftmaxCrossEntropy, &y, t, &mut fused_grad).unwrap();
                assert!((loss - fused).abs() < 1e-12 * loss.abs().max(1.0), "{loss} {fused}");
                assert!((&grad - &fused_grad).amax() < 1e-15, "{grad} {fused_grad}");
            }
        }
        let empty = DMatrix::<f64>::zeros(0, 4);
        // The prechecked path gives the same numbers, and refuses a wrong shape.
        let y = DMatrix::<f64>::from_fn(5, 3, |i, j| (i as f64 - j as f64) * 0.3);
        let labels = DMatrix::<f64>::from_fn(5, 1, |i, _| (i % 3) as f64);
        let probabilities = y.map(|v| 1.0 / (1.0 + (-v).exp()));
        type Case<'a> = (&'a dyn Loss<f64>, &'a DMatrix<f64>, &'a DMatrix<f64>);
        let cases: [Case<'_>; 3] = [
            (&SoftmaxCrossEntropy, &y, &labels),
            (&SquaredError::half_sum(), &y, &probabilities),
            (&BinaryCrossEntropy, &probabilities, &probabilities.map(|p| (p > 0.5) as u8 as f64)),
        ];
        for (loss, y, t) in cases {
            let (mut g1, mut g2) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
            let checked = loss.loss_and_grad(y, t, &mut g1).unwrap();
            let prechecked = loss.loss_and_grad_prechecked(y, t, &mut g2).unwrap();
            assert_eq!((checked, &g1), (prechecked, &g2), "{}", loss.name());
            assert!(loss.loss_and_grad_prechecked(y, &DMatrix::zeros(5, 2), &mut g2).is_err(), "{}", loss.name());
            assert!(loss.loss_and_grad_prechecked(y, &DMatrix::zeros(4, 3), &mut g2).is_err(), "{}", loss.name());
        }
        let mut g = DMatrix::zeros(3, 3);
        assert_eq!(
            Loss::<f64>::loss_and_grad(&SoftmaxCrossEntropy, &empty, &DMatrix::zeros(0, 1), &mut g).unwrap(),
            0.0
        );
        assert_eq!(g.shape(), (0, 4));
    }
}
