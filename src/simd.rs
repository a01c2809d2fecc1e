//! Running elementwise loops with the CPU's widest vector instructions.
//!
//! The crate is compiled for baseline x86-64, whose SSE2 handles four `f32` per instruction.
//! [`wide`] runs a closure inside a function compiled for AVX-512 or AVX2 when the CPU has them
//! (checked at run time), so the closure's loops, inlined there, run 16 or 8 lanes wide. The
//! results are the same bit for bit: Rust never fuses a multiply and an add on its own.
//!
//! Used where it measured faster: the SGD update (the digits-mlp bench went from 15.4 to
//! 14.8 ms). Wrapping the finiteness check's lane sums the same way measured slower (17.5 ms),
//! so it is not used there; each new use needs its own measurement.

/// From this many values a pass is worth running [`wide`]: below, the call's dispatch costs
/// more than it saves (the XOR network's passes of 4 and 12 values).
pub(crate) const WIDE_MIN: usize = 64;

/// Runs `f`, compiled for the widest vector instructions this CPU has.
#[inline]
pub(crate) fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            #[allow(unsafe_code)]
            return unsafe { avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            #[allow(unsafe_code)]
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// Runs `f` for a pass over `len` values: [`wide`] from [`WIDE_MIN`] values on, else as it is.
#[inline]
pub(crate) fn wide_for<R>(len: usize, f: impl FnOnce() -> R) -> R {
    if len < WIDE_MIN {
        f()
    } else {
        wide(f)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SGD's update run wide gives the same bits as run plain, in `f32` and `f64`.
    #[test]
    fn wide_update_is_bit_identical() {
        fn check<T: crate::Real>() {
            let values: Vec<T> = (0..1000).map(|i| T::cast(((i * 37 % 101) as f64 - 50.0) * 0.0137)).collect();
            let grads: Vec<T> = (0..1000).map(|i| T::cast(((i * 53 % 97) as f64 - 48.0) * 0.0711)).collect();
            let lr = T::cast(0.1);
            let update = |w: &mut [T]| w.iter_mut().zip(&grads).for_each(|(w, &g)| *w -= lr * g);
            let (mut plain, mut vectorized) = (values.clone(), values.clone());
            update(&mut plain);
            wide(|| update(&mut vectorized));
            assert_ne!(plain, values, "the update must change something");
            let bits = |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&plain), bits(&vectorized), "{}", T::NAME);
        }
        check::<f32>();
        check::<f64>();
    }
}
