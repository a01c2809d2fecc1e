//! Every [`Activation`] is a layer.

use super::parts;
use super::{check_backward_shapes, ensure_shape, Layer, LayerConfig, Shape};
use crate::{Activation, Real, Result, SeededRng};
use nalgebra::DMatrix;

/// An activation `f` as a layer, applied to every element: push `Sigmoid`, `Relu`, ... straight
/// into a network.
///
/// # Formulas
/// - forward: `yᵢⱼ = f(xᵢⱼ)`
/// - backward: `∂E/∂xᵢⱼ = gᵢⱼ · f'(xᵢⱼ)`, where `g = ∂E/∂y` (sigmoid: `g·y(1 − y)`)
///
/// # Shapes
/// `x`, `y` and `g`: `batch × width`, any width; the sample shape passes through unchanged.
///
/// No parameters and no cache: backward reads `x` and `y` from the network.
impl<T: Real, A: Activation> Layer<T> for A {
    fn kind(&self) -> &'static str {
        self.name()
    }

    fn build(&mut self, input: Shape, _rng: &mut SeededRng) -> Result<Shape> {
        Activation::validate(self)?;
        Ok(input)
    }

    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        Some(Box::new(*self))
    }

    fn config(&self) -> LayerConfig {
        self.layer_config()
    }

    fn is_smooth(&self) -> bool {
        Activation::is_smooth(self)
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        ensure_shape(y, x.nrows(), x.ncols());
        // Owned matrices are contiguous: plain slices iterate (and vectorize) far better than
        // nalgebra's strided element iterators. Large batches split across threads.
        let x = x.as_slice();
        // `y` has x's shape, so every part's `offset` is inside `x`.
        parts::for_each_part(y.as_mut_slice(), 1, |offset, ys| {
            for (yi, &xi) in ys.iter_mut().zip(x.get(offset..).unwrap_or_default()) {
                *yi = self.f(xi);
            }
        });
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        check_backward_shapes(self.name(), x.nrows(), y, grad_y, x.ncols())?;
        if let Some(dx) = grad_x {
            ensure_shape(dx, x.nrows(), x.ncols());
            let (x, y, g) = (x.as_slice(), y.as_slice(), grad_y.as_slice());
            // All four have x's shape (checked above), so every part's `offset` is inside each.
            parts::for_each_part(dx.as_mut_slice(), 1, |offset, dxs| {
                let inputs = tail(x, offset).iter().zip(tail(y, offset)).zip(tail(g, offset));
                for (dxi, ((&xi, &yi), &gi)) in dxs.iter_mut().zip(inputs) {
                    *dxi = gi * self.df(xi, yi);
                }
            });
        }
        Ok(())
    }
}

/// `m` from `offset` on (empty past its end).
fn tail<T>(m: &[T], offset: usize) -> &[T] {
    m.get(offset..).unwrap_or_default()
}
