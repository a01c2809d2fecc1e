//! The scalar type of every matrix in the crate: `f32` or `f64`.

use nalgebra::RealField;
use rand_distr::uniform::SampleUniform;
use std::fmt::{Debug, Display};

/// A floating-point scalar the crate computes with: implemented for `f32` and `f64`.
///
/// It is nalgebra's [`RealField`] plus the two conversions the crate needs to write constants
/// and to report numbers in errors.
pub trait Real: RealField + Copy + Default + Debug + Display + SampleUniform + Send + Sync + 'static {
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
