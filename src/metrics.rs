//! Accuracy and the result of [`Network::evaluate`](crate::Network::evaluate).

use crate::check::check_rows;
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
        (_, 1) => (0..y.nrows()).filter(|&i| T::cast(argmax_row(y, i) as f64) == t[(i, 0)]).count(),
        _ => (0..y.nrows()).filter(|&i| argmax_row(y, i) == argmax_row(t, i)).count(),
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
            let expected = (0..rows).filter(|&i| argmax_row(&y, i) == (i * 7) % classes).count();
            assert!(expected > 0, "the case must count something");
            assert_eq!(count_right(&y, &labels).unwrap(), expected, "{rows}x{classes} labels");
            assert_eq!(count_right(&y, &one_hot).unwrap(), expected, "{rows}x{classes} one-hot");
        }
    }
}
