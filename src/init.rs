//! Weight initializers by name, and the seeded random number generator they draw from.

use crate::{Error, Real, Result};
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The crate's random number generator: ChaCha8, whose output for a seed is fixed by its
/// specification (unlike `StdRng`'s), so a seed means the same numbers on every platform and
/// version.
pub type SeededRng = rand_chacha::ChaCha8Rng;

/// Independent streams drawn from one seed, so that (for example) adding dropout to a network
/// does not change its initial weights or its shuffling order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Initial weights.
    Init = 0,
    /// The order of samples in each epoch.
    Shuffle = 1,
    /// Random masks during training (dropout).
    Train = 2,
}

/// A generator for `seed` and one of its independent streams.
pub fn seeded(seed: u64, stream: Stream) -> SeededRng {
    let mut rng = SeededRng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// The default of [`max_elements`], the most elements one parameter matrix may have:
/// 2²⁶ = 67 108 864.
///
/// # What a parameter costs
/// A parameter holds its value and its gradient, both `rows × cols` of the scalar type: **16
/// bytes per element in `f64`, 8 in `f32`**. At this limit that is 1 GiB (`f64`) or 512 MiB
/// (`f32`) per matrix before training starts; an optimizer with state adds one copy (Momentum,
/// AdaGrad, RMSProp) or two (Adam, AdamW), and a training batch `n` rows of activations and
/// their gradients per layer. So a layer the crate accepts fits a machine with a few GiB of
/// memory, where the former limit (2³⁰, 16 GiB in `f64` before training) could abort the
/// process instead of returning an error. Raise the limit with [`set_max_elements`] to build
/// larger layers.
pub const MAX_ELEMENTS: usize = 1 << 26;

/// The limit in force (see [`max_elements`]); changed by [`set_max_elements`].
static LIMIT: AtomicUsize = AtomicUsize::new(MAX_ELEMENTS);

/// The most elements one parameter matrix (or any matrix the crate sizes from its arguments,
/// such as a one-hot target matrix) may have, checked before anything is allocated because a
/// failed allocation aborts the process instead of returning an error. [`MAX_ELEMENTS`] unless
/// changed with [`set_max_elements`].
pub fn max_elements() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// Sets [`max_elements`] for the whole process (every thread, every network built afterwards);
/// returns the previous limit. Each element of a parameter costs 16 bytes in `f64` and 8 in `f32`
/// (value and gradient; see [`MAX_ELEMENTS`]), so set it from the memory you have.
///
/// # Errors
/// [`Error::InvalidConfig`] for 0.
///
/// # Example
/// ```
/// use backprop::{max_elements, set_max_elements, Dense, Sequential, MAX_ELEMENTS};
/// // 8192 × 16384 = 2²⁷ elements: over the default limit.
/// assert!(Sequential::<f32>::builder(8192).add(Dense::new(8192, 16384)).build(0).is_err());
/// let previous = set_max_elements(1 << 28)?;
/// assert_eq!((previous, max_elements()), (MAX_ELEMENTS, 1 << 28));
/// set_max_elements(previous)?;
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn set_max_elements(limit: usize) -> Result<usize> {
    if limit == 0 {
        return Err(Error::InvalidConfig { name: "max_elements", value: "0".into(), expected: ">= 1" });
    }
    Ok(LIMIT.swap(limit, Ordering::Relaxed))
}

/// Checks that a `rows × cols` matrix may be allocated.
pub(crate) fn check_size(what: &'static str, rows: usize, cols: usize) -> Result<()> {
    let limit = max_elements();
    match rows.checked_mul(cols) {
        Some(n) if n <= limit => Ok(()),
        _ => Err(Error::TooLarge { what, rows, cols, limit }),
    }
}

/// How to draw the initial values of a weight matrix of shape `fan_in × fan_out`.
///
/// | name | distribution |
/// |---|---|
/// | `Uniform { low, high }` | U(low, high); the course's 실습 2 uses U(0, 1) |
/// | `GlorotUniform` | U(−a, a), a = √(6 / (fan_in + fan_out)) (Glorot & Bengio 2010, "Xavier") |
/// | `GlorotNormal` | N(0, σ²), σ = √(2 / (fan_in + fan_out)) |
/// | `LeCunNormal` | N(0, σ²), σ = √(1 / fan_in) — what *Deep Learning from Scratch* calls "Xavier" |
/// | `HeNormal` | N(0, σ²), σ = √(2 / fan_in) (He et al. 2015), for ReLU |
/// | `HeUniform` | U(−a, a), a = √(6 / fan_in) |
/// | `Constant(c)` | every value is `c` (biases start at `Constant(0.0)`) |
///
/// Values are drawn in `f64` row by row (as NumPy fills an array), then rounded to the scalar
/// type, so `f32` and `f64` networks built from the same seed start from the same numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Init {
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower bound (included).
        low: f64,
        /// Upper bound (excluded).
        high: f64,
    },
    /// Glorot (Xavier) uniform.
    GlorotUniform,
    /// Glorot (Xavier) normal.
    GlorotNormal,
    /// LeCun normal, the book's "Xavier".
    LeCunNormal,
    /// He (Kaiming) normal.
    HeNormal,
    /// He (Kaiming) uniform.
    HeUniform,
    /// A constant.
    Constant(f64),
}

impl Init {
    /// Checks the initializer's own numbers.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a uniform range that is empty or not finite, or a
    /// non-finite constant.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Init::Uniform { low, high } if !(low.is_finite() && high.is_finite() && low < high) => {
                Err(Error::InvalidConfig {
                    name: "uniform init range",
                    value: format!("[{}, {})", crate::check::number(low), crate::check::number(high)),
                    expected: "finite bounds with low < high",
                })
            }
            Init::Constant(c) if !c.is_finite() => Err(Error::InvalidConfig {
                name: "constant init",
                value: crate::check::number(c),
                expected: "a finite number",
            }),
            _ => Ok(()),
        }
    }

    /// A `fan_in × fan_out` matrix drawn from this initializer.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (see [`validate`](Init::validate)); [`Error::TooLarge`] if the
    /// matrix would exceed [`max_elements`].
    ///
    /// # Example
    /// ```
    /// use backprop::{Init, seeded, Stream};
    /// let w = Init::Uniform { low: 0.0, high: 1.0 }.matrix::<f64>(2, 3, &mut seeded(0, Stream::Init))?;
    /// assert_eq!(w.shape(), (2, 3));
    /// assert!(w.iter().all(|&v| (0.0..1.0).contains(&v)));
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn matrix<T: Real>(&self, fan_in: usize, fan_out: usize, rng: &mut SeededRng) -> Result<DMatrix<T>> {
        self.validate()?;
        check_size("initialized matrix", fan_in, fan_out)?;
        let (fi, fo) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        let n = fan_in * fan_out;
        let values: Vec<T> = match *self {
            Init::Uniform { low, high } => uniform(n, low, high, rng),
            Init::GlorotUniform => symmetric_uniform(n, (6.0 / (fi + fo)).sqrt(), rng),
            Init::HeUniform => symmetric_uniform(n, (6.0 / fi).sqrt(), rng),
            Init::GlorotNormal => normal(n, (2.0 / (fi + fo)).sqrt(), rng),
            Init::LeCunNormal => normal(n, (1.0 / fi).sqrt(), rng),
            Init::HeNormal => normal(n, (2.0 / fi).sqrt(), rng),
            Init::Constant(c) => vec![T::cast(c); n],
        };
        Ok(DMatrix::from_row_slice(fan_in, fan_out, &values))
    }
}

fn uniform<T: Real>(n: usize, low: f64, high: f64, rng: &mut SeededRng) -> Vec<T> {
    (0..n).map(|_| T::cast(rng.random_range(low..high))).collect()
}

fn symmetric_uniform<T: Real>(n: usize, a: f64, rng: &mut SeededRng) -> Vec<T> {
    uniform(n, -a, a, rng)
}

fn normal<T: Real>(n: usize, std: f64, rng: &mut SeededRng) -> Vec<T> {
    (0..n)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            T::cast(std * z)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_weights_and_streams_differ() {
        let a: DMatrix<f64> = Init::HeNormal.matrix(4, 3, &mut seeded(7, Stream::Init)).unwrap();
        let b: DMatrix<f64> = Init::HeNormal.matrix(4, 3, &mut seeded(7, Stream::Init)).unwrap();
        let c: DMatrix<f64> = Init::HeNormal.matrix(4, 3, &mut seeded(7, Stream::Shuffle)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn spread_follows_fan_in() {
        let w: DMatrix<f64> = Init::HeNormal.matrix(200, 200, &mut seeded(1, Stream::Init)).unwrap();
        let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
        assert!((var - 2.0 / 200.0).abs() < 0.1 * 2.0 / 200.0, "variance {var}");
        let g: DMatrix<f64> = Init::GlorotUniform.matrix(100, 50, &mut seeded(1, Stream::Init)).unwrap();
        let a = (6.0_f64 / 150.0).sqrt();
        assert!(g.iter().all(|v| v.abs() < a));
        assert!(g.iter().any(|v| v.abs() > 0.9 * a));
    }

    #[test]
    fn bad_configs_are_errors() {
        let mut rng = seeded(0, Stream::Init);
        let bad = Init::Uniform { low: 1.0, high: 1.0 }.matrix::<f32>(2, 2, &mut rng);
        assert!(matches!(bad, Err(Error::InvalidConfig { .. })));
        let huge = Init::Constant(0.0).matrix::<f32>(1 << 32, 1 << 32, &mut rng);
        assert!(matches!(huge, Err(Error::TooLarge { .. })));
    }
}
