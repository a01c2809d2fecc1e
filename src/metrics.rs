//! Accuracy and the result of [`Network::evaluate`](crate::Network::evaluate).

use crate::network::check_rows;
use crate::{Dims, Error, Real, Result};
use nalgebra::DMatrix;

/// How well a network does on a data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// The loss over the whole set.
    pub loss: f64,
    /// The share of samples classified right, in [0, 1].
    pub accuracy: f64,
}

/// The class of row `i`: the column of its largest value (the first one on ties).
pub fn argmax_row<T: Real>(m: &DMatrix<T>, i: usize) -> usize {
    let mut best = 0;
    for j in 1..m.ncols() {
        if m[(i, j)] > m[(i, best)] {
            best = j;
        }
    }
    best
}

/// The share of rows of `y` that match targets `t`.
///
/// With two or more columns, a row is right when its largest output is the target class
/// (`t` one-hot rows of the same width, or a column of class indices); with one column, when
/// `y` and `t` are on the same side of 0.5. An empty set has accuracy 0.
///
/// # Errors
/// [`Error::RowCountMismatch`]; [`Error::TargetShapeMismatch`] for targets of another width.
pub fn accuracy<T: Real>(y: &DMatrix<T>, t: &DMatrix<T>) -> Result<f64> {
    let right = count_right(y, t)?;
    Ok(if y.nrows() == 0 { 0.0 } else { right as f64 / y.nrows() as f64 })
}

/// The number of rows of `y` that match targets `t`, as [`accuracy`] counts them (and with its
/// errors). `fit` adds these up over an epoch's batches.
pub(crate) fn count_right<T: Real>(y: &DMatrix<T>, t: &DMatrix<T>) -> Result<usize> {
    check_rows(y, t)?;
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
        (_, 1) => count_in_blocks(y, |rows, classes| {
            rows.zip(classes).filter(|&(i, &class)| T::cast(class as f64) == t[(i, 0)]).count()
        }),
        _ => count_in_blocks(y, |rows, classes| {
            rows.zip(classes).filter(|&(i, &class)| class == argmax_row(t, i)).count()
        }),
    })
}

/// Rows of `y` taken together in [`count_in_blocks`].
const ROW_BLOCK: usize = 64;

/// Adds up `count(rows, classes)` over blocks of rows of `y`, where `classes` holds each row's
/// [`argmax_row`]. The classes are found going down `y`'s contiguous columns with the block's
/// running maxima on the stack: `fit` counts every training batch, and reading `y` row by row
/// would stride through memory.
fn count_in_blocks<T: Real>(y: &DMatrix<T>, count: impl Fn(std::ops::Range<usize>, &[usize]) -> usize) -> usize {
    let n = y.nrows();
    let ys = y.as_slice();
    let mut right = 0;
    for first in (0..n).step_by(ROW_BLOCK) {
        let rows = first..(first + ROW_BLOCK).min(n);
        let len = rows.len();
        let mut best = [T::zero(); ROW_BLOCK];
        best[..len].copy_from_slice(&ys[rows.clone()]);
        let mut classes = [0usize; ROW_BLOCK];
        for j in 1..y.ncols() {
            let column = &ys[rows.start + j * n..rows.end + j * n];
            for ((b, c), &v) in best.iter_mut().zip(classes.iter_mut()).zip(column) {
                // `>` as in `argmax_row`: the first of equal maxima wins. Selects, not a branch:
                // which row gains is unpredictable, and selects vectorize.
                let gain = v > *b;
                *b = if gain { v } else { *b };
                *c = if gain { j } else { *c };
            }
        }
        right += count(rows, &classes[..len]);
    }
    right
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
            let expected = (0..rows).filter(|&i| argmax_row(&y, i) == (i * 7) % classes).count();
            assert!(expected > 0, "the case must count something");
            assert_eq!(count_right(&y, &labels).unwrap(), expected, "{rows}x{classes} labels");
            assert_eq!(count_right(&y, &one_hot).unwrap(), expected, "{rows}x{classes} one-hot");
        }
    }
}
