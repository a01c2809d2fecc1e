//! The fully connected (affine) layer.

use super::{check_backward_shapes, ensure_shape, Decay, Layer, LayerConfig, Param, Shape};
use crate::matmul::{matmul, Op};
use crate::simd::wide_for;
use crate::{Dims, Error, Init, LayerId, Real, Result, SeededRng};
use nalgebra::DMatrix;

const KIND: &str = "dense";

/// A fully connected layer: `y = x·W + b`.
///
/// The weights are `in_dim × out_dim`, as the course writes `W_layer_1` (2 × 3 for two inputs
/// and three hidden units), and the bias is one row added to every sample's output.
///
/// # Formulas
/// - forward: `y = x·W + b`
/// - backward: `∂E/∂W = xᵀ·g`, `∂E/∂b = Σ_rows g`, `∂E/∂x = g·Wᵀ`, where `g = ∂E/∂y`
///
/// # Shapes
/// `x: batch × in_dim`, `W: in_dim × out_dim`, `b: 1 × out_dim`, `y: batch × out_dim`.
///
/// # Parameters, in order
/// `weight` (weight decay applies), then `bias` (if the layer has one; no weight decay).
///
/// # With gradient descent
/// In a training step with [`Sgd`](crate::Sgd) (see
/// [`Optimizer::plain_descent`](crate::Optimizer::plain_descent)), where `∂E/∂W` runs on the
/// crate's small-K kernel — `f32`, a CPU with AVX2 and FMA, at least 256 inputs (or 64 to 255 in
/// whole blocks of 16 with at least 2 samples), and one row or at most 64 samples given sample by
/// sample as `fit` hands them over ([`backward_samples`](Layer::backward_samples)): batch-1 or
/// small-batch MNIST, the digits MLP's batches of 32 — the product
/// writes the new weights `W − η·∂E/∂W` at once instead of the gradient, the same bits in one
/// pass where the gradient and the update made two; the weight's gradient is then not kept.
/// When a bound on `|W|` (read once, then carried from step to step) proves every new weight
/// finite, the step writes them over `W` itself, after every other parameter's update.
///
/// # Memory
/// `in_dim·out_dim + out_dim` parameters, each held twice (value and gradient): 16 bytes a
/// parameter in `f64`, 8 in `f32` — a 4096 × 4096 layer takes 256 MiB in `f64` once built. An
/// optimizer with state adds one copy (Momentum, AdaGrad, RMSProp) or two (Adam, AdamW); a batch
/// of `n` rows adds `n·out_dim` outputs and their gradients. The weight may have at most
/// [`max_elements`](crate::max_elements) elements (building refuses more with
/// [`Error::TooLarge`] before allocating).
///
/// # Example
/// ```
/// use backprop::{Dense, Init, Layer, Shape, seeded, Stream};
/// use nalgebra::DMatrix;
///
/// let mut dense = Dense::new(2, 3).with_init(Init::Constant(0.5));
/// dense.build(Shape::Flat(2), &mut seeded(0, Stream::Init))?;
/// let x = DMatrix::from_row_slice(1, 2, &[1.0_f64, 2.0]);
/// let mut y = DMatrix::zeros(0, 0);
/// dense.forward(&x, &mut y)?;
/// assert_eq!(y, DMatrix::from_row_slice(1, 3, &[1.5, 1.5, 1.5]));
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dense<T: Real> {
    in_dim: usize,
    out_dim: usize,
    init: Init,
    bias_init: Init,
    weight: Param<T>,
    bias: Option<Param<T>>,
}

impl<T: Real> Dense<T> {
    /// A layer from `in_dim` to `out_dim` features, with a bias, LeCun-normal weights and zero
    /// bias. Parameters are created when the layer is built (by itself or in a network).
    pub fn new(in_dim: usize, out_dim: usize) -> Self {
        Dense {
            in_dim,
            out_dim,
            init: Init::LeCunNormal,
            bias_init: Init::Constant(0.0),
            weight: Param::new("weight", DMatrix::zeros(0, 0), Decay::Applies),
            bias: Some(Param::new("bias", DMatrix::zeros(0, 0), Decay::Exempt)),
        }
    }

    /// The same layer with no bias: `y = x·W` (the course's networks have none).
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// The same layer with weights drawn from `init`.
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// The same layer with its bias drawn from `init` (zero by default).
    pub fn with_bias_init(mut self, init: Init) -> Self {
        self.bias_init = init;
        self
    }

    /// Input features.
    pub fn in_dim(&self) -> usize {
        self.in_dim
    }

    /// Output features.
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// Whether the layer adds a bias.
    pub fn has_bias(&self) -> bool {
        self.bias.is_some()
    }

    /// The weights, `in_dim × out_dim` (empty before the layer is built).
    pub fn weight(&self) -> &DMatrix<T> {
        self.weight.value()
    }

    /// The bias, `1 × out_dim`, if the layer has one.
    pub fn bias(&self) -> Option<&DMatrix<T>> {
        self.bias.as_ref().map(Param::value)
    }

    /// Replaces the weights (the course's 실습 2-1 transplant).
    ///
    /// # Errors
    /// [`Error::NotBuilt`] before the layer is built; [`Error::ShapeMismatch`] unless `w` is
    /// `in_dim × out_dim`. The layer is unchanged on error.
    pub fn set_weight(&mut self, w: &DMatrix<T>) -> Result<()> {
        self.check_built()?;
        self.weight.set_value(w, LayerId::kind(KIND))
    }

    /// Replaces the bias.
    ///
    /// # Errors
    /// [`Error::NotBuilt`] before the layer is built; [`Error::ShapeMismatch`] unless `b` is
    /// `1 × out_dim`, or if the layer has no bias (expected shape `0x0`).
    pub fn set_bias(&mut self, b: &DMatrix<T>) -> Result<()> {
        self.check_built()?;
        match &mut self.bias {
            Some(bias) => bias.set_value(b, LayerId::kind(KIND)),
            None => Err(Error::ShapeMismatch {
                layer: LayerId::kind(KIND),
                what: "bias (the layer has none)",
                expected: crate::Dims(0, 0),
                got: crate::Dims::from(b),
            }),
        }
    }

    fn check_built(&self) -> Result<()> {
        if self.weight.value().shape() == (self.in_dim, self.out_dim) && self.in_dim > 0 {
            Ok(())
        } else {
            Err(Error::NotBuilt { layer: LayerId::kind(KIND) })
        }
    }

    fn check_features(&self, features: usize) -> Result<()> {
        self.check_built()?;
        if features != self.in_dim {
            return Err(Error::FeatureMismatch { layer: LayerId::kind(KIND), expected: self.in_dim, got: features });
        }
        Ok(())
    }

    /// `y = op(x)·W + b`, for `x` as stored (`batch × in_dim`) or sample by sample
    /// (`in_dim × batch`, read transposed in place).
    fn affine(&self, x: &DMatrix<T>, op: Op, y: &mut DMatrix<T>) -> Result<()> {
        let (batch, features) = op.shape(x.shape());
        self.check_features(features)?;
        ensure_shape(y, batch, self.out_dim);
        matmul(y, x, op, self.weight.value(), Op::Plain);
        if let Some(bias) = &self.bias {
            add_bias(y, bias.value());
        }
        Ok(())
    }

    /// The parameters' gradients for input `op(x)`: `∂E/∂W = op(x)ᵀ·g` (for `x` given sample by
    /// sample, `x` itself as stored) and `∂E/∂b = Σ_rows g`.
    fn param_grads(&mut self, x: &DMatrix<T>, op: Op, y: &DMatrix<T>, grad_y: &DMatrix<T>) -> Result<()> {
        let (batch, features) = op.shape(x.shape());
        self.check_features(features)?;
        check_backward_shapes(KIND, Dims(batch, features), y, grad_y, self.out_dim)?;
        // A planned step of gradient descent folded into the weight gradient's product, where
        // the kernel takes it; else (or if a new weight is not finite) the gradient itself.
        if !self.weight.descend((x, op.transposed()), grad_y) {
            matmul(self.weight.grad_mut(), x, op.transposed(), grad_y, Op::Plain);
        }
        if let Some(bias) = &mut self.bias {
            column_sums(grad_y.as_slice(), grad_y.nrows(), bias.grad_mut().as_mut_slice());
        }
        Ok(())
    }
}

impl<T: Real> Layer<T> for Dense<T> {
    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        Some(Box::new(self.clone()))
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&mut self, input: Shape, rng: &mut SeededRng) -> Result<Shape> {
        for (name, value) in [("in_dim", self.in_dim), ("out_dim", self.out_dim)] {
            if value == 0 {
                return Err(Error::InvalidConfig { name, value: "0".into(), expected: ">= 1 (dense layer)" });
            }
        }
        if input.len() != self.in_dim {
            return Err(Error::LayerChain { layer: LayerId::kind(KIND), expected: self.in_dim, got: input.len() });
        }
        let weight = self.init.matrix(self.in_dim, self.out_dim, rng)?;
        let bias = match self.bias {
            Some(_) => Some(self.bias_init.matrix(1, self.out_dim, rng)?),
            None => None,
        };
        self.weight = Param::new("weight", weight, Decay::Applies);
        self.bias = bias.map(|b| Param::new("bias", b, Decay::Exempt));
        Ok(Shape::Flat(self.out_dim))
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        self.affine(x, Op::Plain, y)
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        self.param_grads(x, Op::Plain, y, grad_y)?;
        if let Some(dx) = grad_x {
            ensure_shape(dx, x.nrows(), self.in_dim);
            matmul(dx, grad_y, Op::Plain, self.weight.value(), Op::Transposed);
        }
        Ok(())
    }

    /// Reads a batch given sample by sample in place: the product `xsᵀ·W` takes `xs` as a
    /// transposed factor, and `∂E/∂W = xs·g` takes it as stored.
    fn takes_samples(&self) -> bool {
        true
    }

    fn forward_train_samples(&mut self, xs: &DMatrix<T>, y: &mut DMatrix<T>, _rng: &mut SeededRng) -> Result<()> {
        self.affine(xs, Op::Transposed, y)
    }

    fn backward_samples(&mut self, xs: &DMatrix<T>, y: &DMatrix<T>, grad_y: &DMatrix<T>) -> Result<()> {
        self.param_grads(xs, Op::Transposed, y, grad_y)
    }

    fn is_smooth(&self) -> bool {
        true
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::new(KIND)
            .with("in_dim", self.in_dim)
            .with("out_dim", self.out_dim)
            .with("bias", self.bias.is_some())
    }

    fn visit_params<'a>(&'a self, f: &mut dyn FnMut(&'a Param<T>)) {
        f(&self.weight);
        if let Some(bias) = &self.bias {
            f(bias);
        }
    }

    fn visit_params_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<T>)) {
        f(&mut self.weight);
        if let Some(bias) = &mut self.bias {
            f(bias);
        }
    }
}

/// Adds `bias[j]` to every element of column `j` of `y`.
///
/// Column-major storage: each output column is a contiguous slice sharing one bias value. A loop
/// over plain slices vectorizes; nalgebra's per-column `add_scalar_mut` does not.
fn add_bias<T: Real>(y: &mut DMatrix<T>, bias: &DMatrix<T>) {
    let rows = y.nrows().max(1);
    let add = |y: &mut [T]| {
        for (column, &b) in y.chunks_exact_mut(rows).zip(bias.as_slice()) {
            for v in column {
                *v += b;
            }
        }
    };
    // Wide vector instructions from WIDE_MIN values (a digits-mlp fit: 1.1% fewer instructions).
    let len = y.len();
    wide_for(len, || add(y.as_mut_slice()));
}

/// Writes the sum of each column of `g` (column-major, `rows` per column) into `sums`, one per
/// column: the bias gradient.
pub(crate) fn column_sums<T: Real>(g: &[T], rows: usize, sums: &mut [T]) {
    if rows == 0 {
        sums.fill(T::zero());
        return;
    }
    for (sum, column) in sums.iter_mut().zip(g.chunks_exact(rows)) {
        *sum = super::reduce::sum(column);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{seeded, Stream};

    /// Backward against the formulas written with nalgebra's plain operators, with tall and wide
    /// batches, tiny and odd shapes.
    #[test]
    fn backward_matches_the_formulas() {
        let shapes = [(4, 2, 3), (4, 3, 1), (10, 8, 7), (33, 17, 9), (7, 12, 9), (8, 40, 6), (5, 6, 6), (1, 1, 1)];
        for (batch, n_in, n_out) in shapes {
            let mut rng = seeded(3, Stream::Init);
            let mut dense = Dense::<f64>::new(n_in, n_out).with_bias_init(Init::HeNormal);
            dense.build(Shape::Flat(n_in), &mut rng).unwrap();
            let x: DMatrix<f64> = Init::HeNormal.matrix(batch, n_in, &mut rng).unwrap();
            let g: DMatrix<f64> = Init::HeNormal.matrix(batch, n_out, &mut rng).unwrap();
            let mut y = DMatrix::zeros(0, 0);
            dense.forward(&x, &mut y).unwrap();
            let w = dense.weight().clone();
            let b = dense.bias().unwrap().clone();
            let expected_y = &x * &w + DMatrix::from_fn(batch, n_out, |_, j| b[j]);
            assert!((&y - expected_y).amax() < 1e-12);

            let mut dx = DMatrix::zeros(0, 0);
            dense.backward(&x, &y, &g, Some(&mut dx)).unwrap();
            let mut grads = Vec::new();
            dense.visit_params(&mut |p| grads.push(p.grad().unwrap().clone()));
            assert!((&grads[0] - x.transpose() * &g).amax() < 1e-12);
            assert!((&grads[1] - DMatrix::from_fn(1, n_out, |_, j| g.column(j).sum())).amax() < 1e-12);
            assert!((&dx - &g * w.transpose()).amax() < 1e-12);
        }
    }

    /// The row-block transpose and the lane sums against nalgebra, on shapes with and without
    /// remainders (rows not a multiple of 4 or of 16), empty ones included.
    #[test]
    fn column_sums_match_nalgebra() {
        for (rows, cols) in [(0, 3), (3, 0), (1, 1), (3, 5), (4, 4), (7, 2), (16, 3), (17, 9), (33, 1), (100, 13)] {
            let m = DMatrix::<f64>::from_fn(rows, cols, |i, j| (i * 31 + j * 7) as f64 * 0.25 - 3.0);
            let mut sums = DMatrix::from_element(1, cols, f64::NAN);
            column_sums(m.as_slice(), rows, sums.as_mut_slice());
            let expected = DMatrix::from_fn(1, cols, |_, j| m.column(j).sum());
            assert!((&sums - expected).amax() < 1e-9, "{rows}x{cols}");
        }
    }

    /// The weight gradient in `f32`, at small shapes and at an MNIST first layer's.
    #[test]
    fn f32_weight_gradient_matches_the_formula() {
        for (batch, n_in, n_out) in [(5, 6, 6), (6, 6, 6), (100, 784, 16), (3, 40, 9)] {
            let mut rng = seeded(5, Stream::Init);
            let mut dense = Dense::<f32>::new(n_in, n_out);
            dense.build(Shape::Flat(n_in), &mut rng).unwrap();
            let x: DMatrix<f32> = Init::HeNormal.matrix(batch, n_in, &mut rng).unwrap();
            let g: DMatrix<f32> = Init::HeNormal.matrix(batch, n_out, &mut rng).unwrap();
            let mut y = DMatrix::zeros(0, 0);
            dense.forward(&x, &mut y).unwrap();
            dense.backward(&x, &y, &g, None).unwrap();
            let mut dw = DMatrix::zeros(0, 0);
            dense.visit_params(&mut |p| {
                if p.name() == "weight" {
                    dw = p.grad().unwrap().clone();
                }
            });
            assert!((&dw - x.transpose() * &g).amax() < 1e-4, "{batch}x{n_in}x{n_out}");
        }
    }
}
