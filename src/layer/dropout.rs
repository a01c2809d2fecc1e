//! Dropout: randomly silencing units while training.

use super::{check_backward_shapes, ensure_shape, Layer, LayerConfig, Shape};
use crate::{Dims, Error, LayerId, Real, Result, SeededRng};
use nalgebra::DMatrix;
use rand::RngExt;

const KIND: &str = "dropout";

/// Where [`Dropout`] compensates for the units it drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DropoutScaling {
    /// Scale kept units by `1/(1 − p)` while training; inference is the identity (what the
    /// common frameworks do). The default.
    #[default]
    Inverted,
    /// Keep units unscaled while training and multiply by `1 − p` at inference (the book's
    /// variant, *Deep Learning from Scratch* §6.4.3).
    AtInference,
}

/// Dropout (Srivastava et al. 2014, <https://jmlr.org/papers/v15/srivastava14a.html>): while
/// training, each element is dropped (set to 0) with probability `p`, drawn afresh each batch
/// from the network's seeded generator.
///
/// # Formulas
/// With mask `mᵢⱼ = 0` (probability `p`) or `s` (otherwise), where `s = 1/(1 − p)` for
/// [`DropoutScaling::Inverted`] and `s = 1` for [`DropoutScaling::AtInference`]:
/// - training forward: `y = x ⊙ m`
/// - backward: `∂E/∂x = g ⊙ m`, `g = ∂E/∂y`
/// - inference: `y = x` (inverted) or `y = (1 − p)·x` (at inference)
///
/// # Shapes
/// `x`, `y`, `g`: `batch × width`, any width; the sample shape passes through.
///
/// Caches the mask of the last training forward pass (backward without one is
/// [`Error::NoForwardCache`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Dropout<T: Real> {
    p: f64,
    scaling: DropoutScaling,
    mask: DMatrix<T>,
    has_mask: bool,
}

impl<T: Real> Dropout<T> {
    /// Inverted dropout with drop probability `p`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `p` is in `[0, 1)`.
    pub fn new(p: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::InvalidConfig {
                name: "dropout probability",
                value: crate::check::number(p),
                expected: "in [0, 1)",
            });
        }
        Ok(Dropout { p, scaling: DropoutScaling::Inverted, mask: DMatrix::zeros(0, 0), has_mask: false })
    }

    /// The same layer with the given scaling.
    pub fn with_scaling(mut self, scaling: DropoutScaling) -> Self {
        self.scaling = scaling;
        self
    }

    /// The drop probability `p`.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The scaling variant.
    pub fn scaling(&self) -> DropoutScaling {
        self.scaling
    }
}

impl<T: Real> Layer<T> for Dropout<T> {
    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        Some(Box::new(self.clone()))
    }

    fn is_smooth(&self) -> bool {
        true
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&mut self, input: Shape, _rng: &mut SeededRng) -> Result<Shape> {
        self.has_mask = false;
        Ok(input)
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        ensure_shape(y, x.nrows(), x.ncols());
        let scale = match self.scaling {
            DropoutScaling::Inverted => T::one(),
            DropoutScaling::AtInference => T::cast(1.0 - self.p),
        };
        y.zip_apply(x, |yi, xi| *yi = xi * scale);
        Ok(())
    }

    fn forward_train(&mut self, x: &DMatrix<T>, y: &mut DMatrix<T>, rng: &mut SeededRng) -> Result<()> {
        let keep = match self.scaling {
            DropoutScaling::Inverted => T::cast(1.0 / (1.0 - self.p)),
            DropoutScaling::AtInference => T::one(),
        };
        ensure_shape(&mut self.mask, x.nrows(), x.ncols());
        let p = self.p;
        self.mask.apply(|m| *m = if rng.random::<f64>() < p { T::zero() } else { keep });
        self.has_mask = true;
        ensure_shape(y, x.nrows(), x.ncols());
        y.zip_zip_apply(x, &self.mask, |yi, xi, mi| *yi = xi * mi);
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        if !self.has_mask || self.mask.shape() != x.shape() {
            return Err(Error::NoForwardCache { layer: LayerId::kind(KIND) });
        }
        check_backward_shapes(KIND, Dims::from(x), y, grad_y, x.ncols())?;
        if let Some(dx) = grad_x {
            ensure_shape(dx, x.nrows(), x.ncols());
            dx.zip_zip_apply(grad_y, &self.mask, |d, g, m| *d = g * m);
        }
        Ok(())
    }

    fn config(&self) -> LayerConfig {
        let scaling = match self.scaling {
            DropoutScaling::Inverted => "inverted",
            DropoutScaling::AtInference => "at_inference",
        };
        LayerConfig::new(KIND).with("p", self.p).with("scaling", scaling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{seeded, Stream};

    #[test]
    fn drops_about_p_and_keeps_the_mean() {
        let mut layer = Dropout::<f64>::new(0.3).unwrap();
        let x = DMatrix::from_element(200, 50, 1.0);
        let mut y = DMatrix::zeros(0, 0);
        layer.forward_train(&x, &mut y, &mut seeded(1, Stream::Train)).unwrap();
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        assert!((dropped - 0.3).abs() < 0.02, "dropped {dropped}");
        assert!((y.mean() - 1.0).abs() < 0.03, "mean {}", y.mean());
        layer.forward(&x, &mut y).unwrap();
        assert_eq!(y, x, "inverted dropout is the identity at inference");
    }

    #[test]
    fn book_variant_scales_at_inference() {
        let layer = Dropout::<f64>::new(0.5).unwrap().with_scaling(DropoutScaling::AtInference);
        let mut y = DMatrix::zeros(0, 0);
        layer.forward(&DMatrix::from_element(1, 2, 4.0), &mut y).unwrap();
        assert_eq!(y, DMatrix::from_element(1, 2, 2.0));
    }

    #[test]
    fn bad_probability_and_missing_mask_are_errors() {
        for p in [-0.1, 1.0, f64::NAN] {
            assert!(matches!(Dropout::<f32>::new(p), Err(Error::InvalidConfig { .. })));
        }
        let mut layer = Dropout::<f64>::new(0.5).unwrap();
        let x = DMatrix::from_element(2, 2, 1.0);
        let err = layer.backward(&x, &x, &x, None).unwrap_err();
        assert!(matches!(err, Error::NoForwardCache { .. }));
    }
}
