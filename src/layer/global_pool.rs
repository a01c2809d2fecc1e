//! Global average pooling: one mean per channel.

use super::{check_backward_shapes, ensure_shape, Layer, Shape};
use crate::{Dims, Error, LayerId, Real, Result, SeededRng};
use nalgebra::DMatrix;

pub(crate) const KIND: &str = "global_avg_pool";

/// Global average pooling: each channel's mean over the image, `C × H × W → C` (ResNet's last
/// spatial step, PyTorch's `AdaptiveAvgPool2d(1)` followed by a flatten).
///
/// # Formulas
/// - forward: `y[c] = (1 / (H·W)) · Σ_{h, w} x[c, h, w]`
/// - backward: `∂E/∂x[c, h, w] = ∂E/∂y[c] / (H·W)`
///
/// # Shapes
/// `x: N × (C·H·W)`, `y: N × C` (flat samples). No parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalAvgPool {
    /// `(channels, H·W)` once built.
    dims: Option<(usize, usize)>,
}

impl GlobalAvgPool {
    /// The layer, unbuilt.
    pub fn new() -> Self {
        GlobalAvgPool { dims: None }
    }

    fn check_input<T: Real>(&self, x: &DMatrix<T>) -> Result<(usize, usize)> {
        let (c, hw) = self.dims.ok_or(Error::NotBuilt { layer: LayerId::kind(KIND) })?;
        if x.ncols() != c * hw {
            return Err(Error::FeatureMismatch { layer: LayerId::kind(KIND), expected: c * hw, got: x.ncols() });
        }
        Ok((c, hw))
    }
}

impl<T: Real> Layer<T> for GlobalAvgPool {
    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        Some(Box::new(*self))
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&mut self, input: Shape, _rng: &mut SeededRng) -> Result<Shape> {
        self.dims = None;
        match input {
            Shape::Image { channels, height, width } if channels > 0 && height > 0 && width > 0 => {
                // C·H·W counts, so H·W and the products in forward do too.
                super::counted(input, KIND)?;
                self.dims = Some((channels, height * width));
                Ok(Shape::Flat(channels))
            }
            _ => Err(Error::InputShape {
                layer: LayerId::kind(KIND),
                expected: "an image CxHxW with no zero dimension".into(),
                got: input,
            }),
        }
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        let (c, hw) = self.check_input(x)?;
        let n = x.nrows();
        ensure_shape(y, n, c);
        if n == 0 {
            return Ok(());
        }
        let scale = T::one() / T::cast(hw as f64);
        for (mean, plane) in y.as_mut_slice().chunks_exact_mut(n).zip(x.as_slice().chunks_exact(n * hw)) {
            mean.fill(T::zero());
            for run in plane.chunks_exact(n) {
                super::window::add_assign(mean, run);
            }
            mean.iter_mut().for_each(|v| *v *= scale);
        }
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        let (c, hw) = self.check_input(x)?;
        check_backward_shapes(KIND, Dims::from(x), y, grad_y, c)?;
        let Some(dx) = grad_x else { return Ok(()) };
        let n = x.nrows();
        ensure_shape(dx, n, c * hw);
        if n == 0 {
            return Ok(());
        }
        let scale = T::one() / T::cast(hw as f64);
        for (plane, g) in dx.as_mut_slice().chunks_exact_mut(n * hw).zip(grad_y.as_slice().chunks_exact(n)) {
            for run in plane.chunks_exact_mut(n) {
                for (d, &gv) in run.iter_mut().zip(g) {
                    *d = gv * scale;
                }
            }
        }
        Ok(())
    }

    fn is_smooth(&self) -> bool {
        true
    }
}
