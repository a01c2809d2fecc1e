//! Checks that every module uses on the data it is handed: rows, finiteness.
//!
//! This module imports nothing of the crate but its error and scalar types, so any module may
//! use it without an import loop.

use crate::{Error, Real, Result};
use nalgebra::DMatrix;

/// Checks that `x` (the inputs, or whatever `what` names: `"the predictions"`) and the targets
/// `t` have one row per sample each, the same number.
pub(crate) fn check_rows<T: Real>(what: &'static str, x: &DMatrix<T>, t: &DMatrix<T>) -> Result<()> {
    if x.nrows() != t.nrows() {
        return Err(Error::RowCountMismatch { what, x_rows: x.nrows(), t_rows: t.nrows() });
    }
    Ok(())
}

pub(crate) use crate::error::number;

/// Whether every value is finite. No early exit, so the loop vectorizes: `0·v` is 0 for a finite
/// `v` and NaN for an infinite or NaN one, and a NaN survives the sums.
pub(crate) fn all_finite<T: Real>(values: &[T]) -> bool {
    const LANES: usize = 16;
    let zero = T::zero();
    let mut lanes = [zero; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += zero * v;
        }
    }
    let tail = chunks.remainder().iter().fold(zero, |acc, &v| acc + zero * v);
    (lanes.iter().fold(T::zero(), |acc, &v| acc + v) + tail).is_finite()
}

/// The first non-finite value of `m`, as an error about `what`.
pub(crate) fn check_finite<T: Real>(what: &'static str, m: &DMatrix<T>) -> Result<()> {
    if all_finite(m.as_slice()) {
        return Ok(());
    }
    // Column-major order; report the first bad value found.
    match m.as_slice().iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(k) => Err(Error::NonFinite { what, row: k % m.nrows(), col: k / m.nrows(), value: m[k].to_f64() }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_in_messages_stay_short() {
        use super::number;
        assert_eq!(number(1e300), "1e300");
        assert_eq!(number(-2.5e-30), "-2.5e-30");
        assert_eq!(number(0.001), "0.001");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::MAX).len(), "1.7976931348623157e308".len());
    }
}
