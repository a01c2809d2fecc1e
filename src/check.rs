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

/// The largest magnitude in `values` (0 for none), or infinity if one is not finite ([`all_finite`]
/// first); the maximum in lanes, as [`all_finite`] sums, so that the loop vectorizes.
pub(crate) fn largest_magnitude<T: Real>(values: &[T]) -> T {
    const LANES: usize = 16;
    if !all_finite(values) {
        return T::cast(f64::INFINITY);
    }
    let larger = |acc: T, v: T| if v.abs() > acc { v.abs() } else { acc };
    let mut lanes = [T::zero(); LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = larger(*lane, v);
        }
    }
    lanes.iter().chain(chunks.remainder()).fold(T::zero(), |acc, &v| larger(acc, v))
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
    /// Against a plain loop, at lengths around the lanes, with the largest value anywhere; a NaN
    /// or an infinity anywhere gives infinity.
    #[test]
    fn largest_magnitude_is_the_largest_or_infinite() {
        use super::largest_magnitude;
        for len in [0usize, 1, 15, 16, 17, 40] {
            for at in 0..len {
                let mut values: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
                values[at] = -3.5;
                let expected = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                assert_eq!(expected, 3.5);
                assert_eq!(largest_magnitude(&values), expected, "len {len}, at {at}");
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut bad_values = values.clone();
                    bad_values[len - 1 - at] = bad;
                    assert_eq!(largest_magnitude(&bad_values), f32::INFINITY, "len {len}, {bad} at {}", len - 1 - at);
                }
            }
        }
        assert_eq!(largest_magnitude::<f64>(&[]), 0.0);
    }

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
