//! Every [`Activation`] is a layer.

use super::parts;
use super::{check_backward_shapes, ensure_shape, Layer, LayerConfig, Shape};
use crate::simd::{wide, WIDE_MIN};
use crate::{Activation, Dims, Real, Result, SeededRng};
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
        // Wide vector instructions from WIDE_MIN values on.
        let (x, y) = (x.as_slice(), y.as_mut_slice());
        if y.len() < WIDE_MIN {
            values(self, x, y);
            return Ok(());
        }
        // `y` has x's shape, so every part's `offset` is inside `x`.
        parts::for_each_part(y, 1, |offset, ys| wide(|| values(self, tail(x, offset), ys)));
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        check_backward_shapes(self.name(), Dims::from(x), y, grad_y, x.ncols())?;
        if let Some(dx) = grad_x {
            ensure_shape(dx, x.nrows(), x.ncols());
            let (x, y, g, dx) = (x.as_slice(), y.as_slice(), grad_y.as_slice(), dx.as_mut_slice());
            if dx.len() < WIDE_MIN {
                gradients(self, (x, y, g), dx);
                return Ok(());
            }
            // All four have x's shape (checked above), so every part's `offset` is inside each.
            parts::for_each_part(dx, 1, |offset, dxs| {
                wide(|| gradients(self, (tail(x, offset), tail(y, offset), tail(g, offset)), dxs))
            });
        }
        Ok(())
    }
}

/// `y = f(x)`, value by value.
#[inline(always)]
fn values<T: Real, A: Activation>(activation: &A, x: &[T], y: &mut [T]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = activation.f(xi);
    }
}

/// `∂E/∂x = g·f'(x)`, value by value.
#[inline(always)]
fn gradients<T: Real, A: Activation>(activation: &A, (x, y, g): (&[T], &[T], &[T]), dx: &mut [T]) {
    for (dxi, ((&xi, &yi), &gi)) in dx.iter_mut().zip(x.iter().zip(y).zip(g)) {
        *dxi = gi * activation.df(xi, yi);
    }
}

/// `m` from `offset` on (empty past its end).
fn tail<T>(m: &[T], offset: usize) -> &[T] {
    m.get(offset..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Identity, LeakyRelu, Relu, Sigmoid, Step, Tanh};

    /// Forward and backward give, bit for bit, `f` and `g·f'` computed one value at a time —
    /// below [`WIDE_MIN`] values (plain loops) and above it (wide loops), including negative
    /// zeros, values at the kinks, and a NaN gradient.
    fn check<A: Activation, T: Real>(activation: A) {
        for len in [1, WIDE_MIN - 1, WIDE_MIN, 3 * WIDE_MIN + 5] {
            let value = |i: usize, scale: f64| match i % 17 {
                0 => T::zero(),
                1 => -T::zero(),
                _ => T::cast(((i * 37 % 101) as f64 - 50.0) * scale),
            };
            let x = DMatrix::from_fn(len, 1, |i, _| value(i, 0.0731));
            let g = DMatrix::from_fn(len, 1, |i, _| if i == 5 { T::cast(f64::NAN) } else { value(i + 3, 0.0113) });
            let (mut y, mut dx) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
            Layer::<T>::forward(&activation, &x, &mut y).unwrap();
            let mut layer = activation;
            Layer::<T>::backward(&mut layer, &x, &y, &g, Some(&mut dx)).unwrap();
            let bits = |v: T| v.to_f64().to_bits();
            for i in 0..len {
                let expected_y = activation.f(x[i]);
                assert_eq!(bits(y[i]), bits(expected_y), "{} y[{i}] of {len} ({})", activation.name(), T::NAME);
                let expected_dx = g[i] * activation.df(x[i], y[i]);
                assert_eq!(bits(dx[i]), bits(expected_dx), "{} dx[{i}] of {len} ({})", activation.name(), T::NAME);
            }
        }
    }

    #[test]
    fn passes_give_the_bits_of_the_formulas_value_by_value() {
        fn all<T: Real>() {
            check::<_, T>(Relu);
            check::<_, T>(Sigmoid);
            check::<_, T>(Tanh);
            check::<_, T>(LeakyRelu { alpha: 0.03 });
            check::<_, T>(Identity);
            check::<_, T>(Step);
        }
        all::<f32>();
        all::<f64>();
    }
}
