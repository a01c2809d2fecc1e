//! The scalar type of every matrix in the crate: `f32` or `f64`.

use approx::{AbsDiffEq, RelativeEq, UlpsEq};
use nalgebra::RealField;
use rand_distr::uniform::SampleUniform;
use std::fmt::{Debug, Display};

/// A floating-point scalar the crate computes with: implemented for `f32` and `f64`.
///
/// It is nalgebra's [`RealField`] plus the two conversions the crate needs to write constants
/// and to report numbers in errors.
///
/// # Comparing numbers and matrices
/// As in nalgebra, a `Real` is comparable with [`approx`] ([`AbsDiffEq`], [`RelativeEq`],
/// [`UlpsEq`], with the scalar itself as epsilon), and so is every matrix of them: compare the
/// crate's outputs, parameters and gradients with approx's macros (re-exported as
/// [`backprop::approx`](crate::approx)), not with hand-written loops.
///
/// ```
/// use backprop::approx::assert_relative_eq;
/// use backprop::prelude::*;
/// use nalgebra::DMatrix;
///
/// // The same seed gives the same initial weights in f32 and f64 (drawn in f64, then rounded):
/// // their outputs, in [-1, 1], agree to f32's precision (about 7 digits) — absolutely: an
/// // output near 0 comes from a cancellation, where a relative comparison asks too much.
/// let x = DMatrix::from_row_slice(2, 2, &[0.5, -1.0, 2.0, 0.25]);
/// let net64 = Sequential::<f64>::builder(2).add(Dense::new(2, 3)).add(Tanh).build(4)?;
/// let net32 = Sequential::<f32>::builder(2).add(Dense::new(2, 3)).add(Tanh).build(4)?;
/// let y64 = net64.predict(&x)?;
/// let y32 = net32.predict(&x.map(|v| v as f32))?.map(f64::from);
/// assert_relative_eq!(y32, y64, epsilon = 1e-6);
/// # Ok::<(), backprop::Error>(())
/// ```
pub trait Real:
    RealField
    + AbsDiffEq<Epsilon = Self>
    + RelativeEq<Epsilon = Self>
    + UlpsEq<Epsilon = Self>
    + Copy
    + Default
    + Debug
    + Display
    + SampleUniform
    + Send
    + Sync
    + 'static
{
    /// The name of the type, as `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Converts an `f64` constant (rounding to the nearest `f32` where needed).
    fn cast(x: f64) -> Self;

    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;

    /// Bytes per value.
    const BYTES: usize;

    /// Appends the value's little-endian bytes to `out`.
    fn write_le(self, out: &mut Vec<u8>);

    /// The value of `Self::BYTES` little-endian bytes (`None` for any other length).
    fn read_le(bytes: &[u8]) -> Option<Self>;
}

impl Real for f32 {
    const NAME: &'static str = "f32";

    #[inline]
    fn cast(x: f64) -> Self {
        x as f32
    }

    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    const BYTES: usize = 4;

    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn read_le(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(f32::from_le_bytes)
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";

    #[inline]
    fn cast(x: f64) -> Self {
        x
    }

    #[inline]
    fn to_f64(self) -> f64 {
        self
    }

    const BYTES: usize = 8;

    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn read_le(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(f64::from_le_bytes)
    }
}
