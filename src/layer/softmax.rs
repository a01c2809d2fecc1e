//! The softmax layer.

use super::{check_backward_shapes, ensure_shape, Layer, Shape};
use crate::{Dims, Real, Result, SeededRng};
use nalgebra::DMatrix;

const KIND: &str = "softmax";

/// Softmax over each row: `yᵢⱼ = exp(xᵢⱼ − mᵢ) / Σₖ exp(xᵢₖ − mᵢ)`, with `mᵢ` the row's maximum
/// (subtracting it changes nothing mathematically and keeps `exp` from overflowing).
///
/// # Formulas
/// - forward: as above; every row of `y` sums to 1
/// - backward: `∂E/∂xᵢⱼ = yᵢⱼ · (gᵢⱼ − Σₖ gᵢₖ·yᵢₖ)`, where `g = ∂E/∂y`
///
/// # Shapes
/// `x`, `y`, `g`: `batch × classes`.
///
/// For training a classifier, prefer ending the network with its logits and using the fused
/// [`SoftmaxCrossEntropy`](crate::SoftmaxCrossEntropy) loss: its gradient is simply
/// `(y − t) / batch` and it is stable for any logits. This layer is for networks whose output
/// must be probabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Softmax;

/// Writes the row-wise softmax of `x` into `y` (same shape).
pub(crate) fn softmax_rows<T: Real>(x: &DMatrix<T>, y: &mut DMatrix<T>) {
    ensure_shape(y, x.nrows(), x.ncols());
    for i in 0..x.nrows() {
        let row = x.row(i);
        let max = row.max();
        let mut sum = T::zero();
        for j in 0..x.ncols() {
            let e = (x[(i, j)] - max).exp();
            y[(i, j)] = e;
            sum += e;
        }
        for j in 0..x.ncols() {
            y[(i, j)] /= sum;
        }
    }
}

impl<T: Real> Layer<T> for Softmax {
    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        Some(Box::new(*self))
    }

    fn is_smooth(&self) -> bool {
        true
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&mut self, input: Shape, _rng: &mut SeededRng) -> Result<Shape> {
        Ok(Shape::Flat(input.len()))
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        softmax_rows(x, y);
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        check_backward_shapes(KIND, Dims::from(x), y, grad_y, x.ncols())?;
        if let Some(dx) = grad_x {
            ensure_shape(dx, x.nrows(), x.ncols());
            for i in 0..y.nrows() {
                let dot = y.row(i).dot(&grad_y.row(i));
                for j in 0..y.ncols() {
                    dx[(i, j)] = y[(i, j)] * (grad_y[(i, j)] - dot);
                }
            }
        }
        Ok(())
    }
}
