//! Sums over long contiguous runs, in interleaved partial sums.
//!
//! One running sum is a chain of dependent additions, which the compiler may not reorder into
//! SIMD lanes (it would change the rounding); [`LANES`] partial sums, added up at the end, are
//! independent and vectorize. The order is fixed, so a result is the same on every run.

use crate::Real;

/// Partial sums kept (one SIMD register of `f32` with AVX-512, two with AVX2).
const LANES: usize = 16;

/// `Σ f(a_i, b_i)` over two slices of equal length, in [`LANES`] partial sums.
#[inline(always)]
fn sum_pairs<T: Real>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    debug_assert_eq!(a.len(), b.len());
    let mut lanes = [T::zero(); LANES];
    let (mut ac, mut bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (ca, cb) in (&mut ac).zip(&mut bc) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(ca).zip(cb) {
            *lane += f(x, y);
        }
    }
    let tail = ac.remainder().iter().zip(bc.remainder()).fold(T::zero(), |s, (&x, &y)| s + f(x, y));
    lanes.iter().fold(T::zero(), |s, &v| s + v) + tail
}

/// `Σ x_i`.
pub(crate) fn sum<T: Real>(x: &[T]) -> T {
    sum_pairs(x, x, |v, _| v)
}

/// `Σ (x_i − mean)²`.
pub(crate) fn squared_deviations<T: Real>(x: &[T], mean: T) -> T {
    sum_pairs(x, x, |v, _| (v - mean) * (v - mean))
}

/// `Σ a_i·b_i`.
pub(crate) fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    sum_pairs(a, b, |x, y| x * y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_plain_sums_for_every_length_around_the_lanes() {
        for len in [0, 1, 15, 16, 17, 33, 100] {
            let a: Vec<f64> = (0..len).map(|i| (i as f64 * 0.7).sin()).collect();
            let b: Vec<f64> = (0..len).map(|i| (i as f64 * 0.3).cos()).collect();
            let plain: f64 = a.iter().sum();
            assert!((sum(&a) - plain).abs() < 1e-12, "len {len}");
            let mean = plain / len.max(1) as f64;
            let sq: f64 = a.iter().map(|v| (v - mean) * (v - mean)).sum();
            assert!((squared_deviations(&a, mean) - sq).abs() < 1e-12, "len {len}");
            let d: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - d).abs() < 1e-12, "len {len}");
        }
    }
}
