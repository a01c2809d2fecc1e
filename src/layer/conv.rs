//! The 2-D convolution layer, through im2col and one matrix product per batch.

use super::window::Windows;
use super::{ensure_shape, Decay, Layer, LayerConfig, Param, Shape};
use crate::matmul::{matmul_views, Op, View, ViewMut};
use crate::{Dims, Error, Init, LayerId, Real, Result, SeededRng};
use nalgebra::DMatrix;

pub(crate) const KIND: &str = "conv2d";

/// Inference on more samples than fit an im2col matrix of this many elements (16 MiB of `f32`)
/// runs in slices of rows; a training batch is always one product.
const INFERENCE_COL_ELEMENTS: usize = 1 << 22;

/// A 2-D convolution (strictly, a cross-correlation, as in every framework): `F` filters of
/// `C × KH × KW` slide over a `C × H × W` image with stride `S` and zero padding `P`, giving an
/// `F × OH × OW` image, `OH = (H + 2P − KH) / S + 1`, `OW = (W + 2P − KW) / S + 1`.
///
/// # Formulas
/// With `X` the im2col matrix of the input — one row per (output position, sample), holding the
/// `C·KH·KW` input values under the window there (zeros in the padding):
/// - forward: `Y = X·Wᵀ + b`, each `Y[(p, n), f]` being output `(f, p)` of sample `n`;
/// - backward: `∂E/∂W = Gᵀ·X`, `∂E/∂b = Σ_rows G`, `∂E/∂x = col2im(G·W)`, where `G = ∂E/∂Y`
///   and col2im adds each window's gradient back onto the pixels it was read from.
///
/// Forward is one matrix product per batch (`(OH·OW·N × C·KH·KW) · (C·KH·KW × F)`), backward
/// two. With a bias, the im2col matrix gets one more column of ones and the weights the bias as
/// one more column, so the products also add `b` and sum `∂E/∂b` (`[X | 1]·[W | b]ᵀ`,
/// `Gᵀ·[X | 1]`): no separate passes over the output for them; the im2col matrix of the last training batch is kept for the weight gradient, and every
/// buffer is reused from batch to batch. (*Deep Learning from Scratch* §7.4 orders the im2col
/// rows sample-major and transposes the product's result back; here rows are position-major,
/// sample-fastest, so the product lands directly in the output's storage.)
///
/// # Shapes
/// `x: N × (C·H·W)` (each row an image, channel-first: pixel `(c, h, w)` is column
/// `(c·H + h)·W + w`), `W: F × (C·KH·KW)` (row `f` is filter `f` as PyTorch's and the book's
/// `(F, C, KH, KW)` array, flattened), `b: 1 × F`, `y: N × (F·OH·OW)`.
///
/// # Parameters, in order
/// `weight` (weight decay applies), then `bias` (if the layer has one; no weight decay).
/// Weights start He-normal (`σ = √(2 / (C·KH·KW))`, for ReLU), the bias at zero. (PyTorch's
/// default is Kaiming-uniform with `a = √5`, i.e. U(±1/√fan_in), and a uniform bias; the book's
/// SimpleConvNet draws N(0, 0.01²).)
///
/// # Memory
/// `F·C·KH·KW + F` parameters, each held twice (value and gradient): 16 bytes a parameter in
/// `f64`, 8 in `f32`; an optimizer with state adds one or two copies. A training batch of `N`
/// images also keeps its im2col matrix and that matrix's gradient, `OH·OW·N × C·KH·KW` each —
/// usually far more than the weights. The weight, one sample's output (`F·OH·OW`) and one
/// sample's im2col matrix (`OH·OW × C·KH·KW`, plus a column with a bias) may each have at most
/// [`max_elements`](crate::max_elements) elements, checked when built.
///
/// # Example
/// ```
/// use backprop::prelude::*;
/// use backprop::Conv2d;
///
/// // The book's SimpleConvNet: 30 filters of 5×5 over 1×28×28 images.
/// let net = Sequential::<f32>::builder_shaped(Shape::Image { channels: 1, height: 28, width: 28 })
///     .add(Conv2d::new(1, 30, (5, 5)))
///     .add(Relu)
///     .build(0)?;
/// assert_eq!(net.output_shape(), Shape::Image { channels: 30, height: 24, width: 24 });
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Conv2d<T: Real> {
    in_channels: usize,
    filters: usize,
    kernel: (usize, usize),
    stride: usize,
    padding: usize,
    init: Init,
    weight: Param<T>,
    bias: Option<Param<T>>,
    windows: Option<Windows>,
    /// The im2col matrix of the last training batch (kept for the weight gradient).
    col: Vec<T>,
    /// Rows of the batch `col` holds, `None` before a training pass.
    col_batch: Option<usize>,
    /// `∂E/∂X`, the im2col matrix's gradient, before col2im.
    dcol: Vec<T>,
    /// `[W | b]` (`F × (K + 1)`), the weights with the bias as one more column, for the forward
    /// product; and `[∂E/∂W | ∂E/∂b]` from the backward one. Empty without a bias.
    extended: Vec<T>,
}

impl<T: Real> Conv2d<T> {
    /// `filters` filters of `kernel = (KH, KW)` over images of `in_channels` channels, stride 1,
    /// no padding, with a bias (as PyTorch's `nn.Conv2d(in_channels, filters, kernel)`).
    pub fn new(in_channels: usize, filters: usize, kernel: (usize, usize)) -> Self {
        Conv2d {
            in_channels,
            filters,
            kernel,
            stride: 1,
            padding: 0,
            init: Init::HeNormal,
            weight: Param::new("weight", DMatrix::zeros(0, 0), Decay::Applies),
            bias: Some(Param::new("bias", DMatrix::zeros(0, 0), Decay::Exempt)),
            windows: None,
            col: Vec::new(),
            col_batch: None,
            dcol: Vec::new(),
            extended: Vec::new(),
        }
    }

    /// The same layer with stride `stride` (≥ 1, checked when built).
    pub fn with_stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// The same layer with `padding` zeros on every side of the input.
    pub fn with_padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// The same layer without a bias (as before a batch normalization, whose β takes its place).
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// The same layer with weights drawn from `init` (fan-in `C·KH·KW`, fan-out `F`).
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Number of filters (output channels).
    pub fn filters(&self) -> usize {
        self.filters
    }

    /// The filters, `F × (C·KH·KW)` (empty before the layer is built).
    pub fn weight(&self) -> &DMatrix<T> {
        self.weight.value()
    }

    /// The bias, `1 × F`, if the layer has one.
    pub fn bias(&self) -> Option<&DMatrix<T>> {
        self.bias.as_ref().map(Param::value)
    }

    fn built(&self) -> Result<Windows> {
        self.windows.ok_or(Error::NotBuilt { layer: LayerId::kind(KIND) })
    }

    /// The geometry, once `x` is checked to be a batch of the layer's input images.
    fn check_input(&self, x: &DMatrix<T>) -> Result<Windows> {
        let g = self.built()?;
        if x.ncols() != g.input_len() {
            return Err(Error::FeatureMismatch { layer: LayerId::kind(KIND), expected: g.input_len(), got: x.ncols() });
        }
        Ok(g)
    }

    /// Columns of the im2col matrix: `C·KH·KW`, and one more column of ones with a bias, so that
    /// the products carry the bias (`[X | 1]·[W | b]ᵀ = X·Wᵀ + b`) and its gradient
    /// (`Gᵀ·[X | 1] = [Gᵀ·X | Σ_rows G]`) instead of two more passes over the output.
    fn col_len(&self, g: &Windows) -> usize {
        g.patch_len() + usize::from(self.bias.is_some())
    }

    /// The im2col matrix of the `n` images in `x` into `col` (resized), with the bias's column of
    /// ones.
    fn im2col(&self, g: &Windows, x: &[T], n: usize, col: &mut Vec<T>) {
        let rows = g.positions() * n;
        col.resize(rows * self.col_len(g), T::zero());
        let (patches, ones) = col.split_at_mut(rows * g.patch_len());
        g.im2col(x, n, patches);
        ones.fill(T::one());
    }

    /// Writes the output for the im2col matrix `col` of `n` images into `y`; `extended` is
    /// scratch space for `[W | b]`.
    fn product(&self, g: &Windows, col: &[T], n: usize, y: &mut DMatrix<T>, extended: &mut Vec<T>) {
        let rows = g.positions() * n;
        ensure_shape(y, n, self.filters * g.positions());
        let weights = match &self.bias {
            None => self.weight.value().as_slice(),
            Some(bias) => {
                // Column-major: `[W | b]` is W's storage followed by b's.
                extended.clear();
                extended.extend_from_slice(self.weight.value().as_slice());
                extended.extend_from_slice(bias.value().as_slice());
                extended
            }
        };
        let k = self.col_len(g);
        matmul_views(
            ViewMut::new(y.as_mut_slice(), rows, self.filters),
            View::new(col, rows, k),
            Op::Plain,
            View::new(weights, self.filters, k),
            Op::Transposed,
        );
    }
}

impl<T: Real> Layer<T> for Conv2d<T> {
    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        Some(Box::new(self.clone()))
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&mut self, input: Shape, rng: &mut SeededRng) -> Result<Shape> {
        self.windows = None;
        if self.filters == 0 || self.in_channels == 0 {
            return Err(Error::InvalidConfig {
                name: "conv2d channels",
                value: format!("{} in, {} filters", self.in_channels, self.filters),
                expected: ">= 1 each",
            });
        }
        let g = Windows::new(KIND, input, self.kernel, self.stride, self.padding)?;
        if g.channels != self.in_channels {
            return Err(Error::InputShape {
                layer: LayerId::kind(KIND),
                expected: format!("an image of {} channels", self.in_channels),
                got: input,
            });
        }
        let k = g.patch_len();
        crate::init::check_size("conv2d weight", self.filters, k)?;
        // Checked now, not when `predict` allocates them (an allocation failure aborts).
        crate::init::check_size("conv2d output per sample (filters x OH·OW)", self.filters, g.positions())?;
        crate::init::check_size("conv2d im2col per sample (OH·OW x C·KH·KW + bias)", g.positions(), self.col_len(&g))?;
        let weight = self.init.matrix::<T>(k, self.filters, rng)?.transpose();
        let bias = match self.bias {
            Some(_) => Some(DMatrix::zeros(1, self.filters)),
            None => None,
        };
        self.weight = Param::new("weight", weight, Decay::Applies);
        self.bias = bias.map(|b| Param::new("bias", b, Decay::Exempt));
        self.col_batch = None;
        self.windows = Some(g);
        Ok(g.output(self.filters))
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        let g = self.check_input(x)?;
        let n = x.nrows();
        let per_sample = (g.positions() * self.col_len(&g)).max(1);
        let chunk = (INFERENCE_COL_ELEMENTS / per_sample).max(1);
        let (mut col, mut extended) = (Vec::new(), Vec::new());
        if n <= chunk {
            self.im2col(&g, x.as_slice(), n, &mut col);
            self.product(&g, &col, n, y, &mut extended);
            return Ok(());
        }
        // A large inference batch (a whole test set) in slices of rows, so the im2col matrix
        // stays small: the slice is copied out (samples are the fast index of the storage).
        ensure_shape(y, n, self.filters * g.positions());
        let mut y_part = DMatrix::zeros(0, 0);
        for start in (0..n).step_by(chunk) {
            let rows = chunk.min(n - start);
            let x_part = x.rows(start, rows).into_owned();
            self.im2col(&g, x_part.as_slice(), rows, &mut col);
            self.product(&g, &col, rows, &mut y_part, &mut extended);
            y.rows_mut(start, rows).copy_from(&y_part);
        }
        Ok(())
    }

    fn forward_train(&mut self, x: &DMatrix<T>, y: &mut DMatrix<T>, _rng: &mut SeededRng) -> Result<()> {
        let g = self.check_input(x)?;
        let n = x.nrows();
        let (mut col, mut extended) = (std::mem::take(&mut self.col), std::mem::take(&mut self.extended));
        self.im2col(&g, x.as_slice(), n, &mut col);
        self.product(&g, &col, n, y, &mut extended);
        (self.col, self.extended) = (col, extended);
        self.col_batch = Some(n);
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        let g = self.check_input(x)?;
        let n = x.nrows();
        if self.col_batch != Some(n) {
            return Err(Error::NoForwardCache { layer: LayerId::kind(KIND) });
        }
        super::check_backward_shapes(KIND, Dims::from(x), y, grad_y, self.filters * g.positions())?;
        let (rows, k) = (g.positions() * n, g.patch_len());
        let grad = View::new(grad_y.as_slice(), rows, self.filters);
        let col = View::new(&self.col, rows, self.col_len(&g));
        match &mut self.bias {
            None => {
                let dw = ViewMut::new(self.weight.grad_mut().as_mut_slice(), self.filters, k);
                matmul_views(dw, grad, Op::Transposed, col, Op::Plain);
            }
            Some(bias) => {
                self.extended.resize(self.filters * (k + 1), T::zero());
                let dw = ViewMut::new(&mut self.extended, self.filters, k + 1);
                matmul_views(dw, grad, Op::Transposed, col, Op::Plain);
                let (dw, db) = self.extended.split_at(self.filters * k);
                self.weight.grad_mut().as_mut_slice().copy_from_slice(dw);
                bias.grad_mut().as_mut_slice().copy_from_slice(db);
            }
        }
        if let Some(dx) = grad_x {
            self.dcol.resize(rows * k, T::zero());
            matmul_views(ViewMut::new(&mut self.dcol, rows, k), grad, Op::Plain, self.weight.value().into(), Op::Plain);
            ensure_shape(dx, n, g.input_len());
            g.col2im(&self.dcol, n, dx.as_mut_slice());
        }
        Ok(())
    }

    fn is_smooth(&self) -> bool {
        true
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::new(KIND)
            .with("in_channels", self.in_channels)
            .with("filters", self.filters)
            .with("kernel_h", self.kernel.0)
            .with("kernel_w", self.kernel.1)
            .with("stride", self.stride)
            .with("padding", self.padding)
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

/// The tensors a `conv2d` configuration holds once built, weight `filters × (C·kh·kw)` and bias
/// `1 × filters` (for loaders to check a file before allocating).
pub(crate) fn declared_tensors(c: &LayerConfig) -> Result<Vec<(&'static str, (usize, usize))>> {
    let (cin, f, kh, kw): (usize, usize, usize, usize) =
        (c.setting("in_channels")?, c.setting("filters")?, c.setting("kernel_h")?, c.setting("kernel_w")?);
    let patch = cin.saturating_mul(kh).saturating_mul(kw);
    let mut tensors = vec![("weight", (f, patch))];
    if c.setting("bias")? {
        tensors.push(("bias", (1, f)));
    }
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{seeded, Stream};

    /// The convolution against its definition, element by element, with stride and padding.
    #[test]
    fn forward_and_backward_match_the_definition() {
        let (c, h, w, f, kh, kw, s, p, n) = (2, 5, 6, 3, 3, 2, 2, 1, 4);
        let mut conv = Conv2d::<f64>::new(c, f, (kh, kw)).with_stride(s).with_padding(p);
        let out = conv.build(Shape::Image { channels: c, height: h, width: w }, &mut seeded(1, Stream::Init)).unwrap();
        let Shape::Image { height: oh, width: ow, .. } = out else { panic!("{out}") };
        let bias = DMatrix::from_fn(1, f, |_, j| j as f64 * 0.5 - 0.3);
        conv.visit_params_mut(&mut |p| {
            if p.name() == "bias" {
                p.value_mut().copy_from(&bias);
            }
        });
        let x = DMatrix::from_fn(n, c * h * w, |i, j| ((i * 13 + j * 7) as f64 * 0.1).sin());
        let wt = conv.weight().clone();
        let pix = |s: usize, ci: usize, ih: isize, iw: isize| {
            if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                0.0
            } else {
                x[(s, (ci * h + ih as usize) * w + iw as usize)]
            }
        };
        let mut y = DMatrix::zeros(0, 0);
        conv.forward_train(&x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
        let g = DMatrix::from_fn(n, f * oh * ow, |i, j| ((i * 5 + j * 3) as f64 * 0.2).cos());
        let mut dw = DMatrix::<f64>::zeros(f, c * kh * kw);
        let mut dx = DMatrix::<f64>::zeros(n, c * h * w);
        for sample in 0..n {
            for fi in 0..f {
                for a in 0..oh {
                    for b in 0..ow {
                        let mut sum = bias[fi];
                        let go = g[(sample, (fi * oh + a) * ow + b)];
                        for ci in 0..c {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let (ih, iw) =
                                        ((a * s + i) as isize - p as isize, (b * s + j) as isize - p as isize);
                                    let k = (ci * kh + i) * kw + j;
                                    sum += wt[(fi, k)] * pix(sample, ci, ih, iw);
                                    dw[(fi, k)] += go * pix(sample, ci, ih, iw);
                                    if ih >= 0 && iw >= 0 && ih < h as isize && iw < w as isize {
                                        dx[(sample, (ci * h + ih as usize) * w + iw as usize)] += go * wt[(fi, k)];
                                    }
                                }
                            }
                        }
                        assert!((y[(sample, (fi * oh + a) * ow + b)] - sum).abs() < 1e-12);
                    }
                }
            }
        }
        let mut got_dx = DMatrix::zeros(0, 0);
        conv.backward(&x, &y, &g, Some(&mut got_dx)).unwrap();
        let mut grads = Vec::new();
        conv.visit_params(&mut |p| grads.push(p.grad().unwrap().clone()));
        assert!((&grads[0] - dw).amax() < 1e-12);
        let db = DMatrix::from_fn(1, f, |_, fi| {
            (0..n).map(|s| (0..oh * ow).map(|q| g[(s, fi * oh * ow + q)]).sum::<f64>()).sum()
        });
        assert!((&grads[1] - db).amax() < 1e-12);
        assert!((got_dx - dx).amax() < 1e-12);
        let mut y2 = DMatrix::zeros(0, 0);
        conv.forward(&x, &mut y2).unwrap();
        assert_eq!(y, y2);
    }

    /// Inference on a batch too large for one im2col matrix runs in slices of rows, and agrees
    /// with the training pass's single product.
    #[test]
    fn inference_in_slices_matches_one_product() {
        let mut conv = Conv2d::<f64>::new(1, 3, (9, 9));
        conv.build(Shape::Image { channels: 1, height: 40, width: 40 }, &mut seeded(2, Stream::Init)).unwrap();
        let n = 2 * INFERENCE_COL_ELEMENTS / (32 * 32 * 81) + 7;
        let x = DMatrix::from_fn(n, 1600, |i, j| ((i * 1600 + j) as f64 * 0.013).sin());
        let (mut y, mut y_train) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
        conv.forward(&x, &mut y).unwrap();
        conv.forward_train(&x, &mut y_train, &mut seeded(0, Stream::Train)).unwrap();
        assert!((y - y_train).amax() < 1e-12);
    }

    #[test]
    fn build_errors_are_typed() {
        let mut rng = seeded(0, Stream::Init);
        let img = |c, h, w| Shape::Image { channels: c, height: h, width: w };
        let err = Conv2d::<f32>::new(1, 4, (5, 5)).build(img(1, 4, 4), &mut rng);
        assert!(matches!(err, Err(Error::WindowMismatch { .. })), "{err:?}");
        let err = Conv2d::<f32>::new(1, 4, (3, 3)).with_stride(0).build(img(1, 4, 4), &mut rng);
        assert!(matches!(err, Err(Error::InvalidConfig { .. })), "{err:?}");
        let err = Conv2d::<f32>::new(2, 4, (3, 3)).build(img(1, 4, 4), &mut rng);
        assert!(matches!(err, Err(Error::InputShape { .. })), "{err:?}");
        let err = Conv2d::<f32>::new(1, 4, (3, 3)).build(Shape::Flat(16), &mut rng);
        assert!(matches!(err, Err(Error::InputShape { .. })), "{err:?}");
        let err = Conv2d::<f32>::new(1, 0, (3, 3)).build(img(1, 4, 4), &mut rng);
        assert!(matches!(err, Err(Error::InvalidConfig { .. })), "{err:?}");
        let mut conv = Conv2d::<f32>::new(1, 2, (3, 3));
        let mut y = DMatrix::zeros(0, 0);
        assert!(matches!(conv.forward(&DMatrix::zeros(2, 16), &mut y), Err(Error::NotBuilt { .. })));
        conv.build(img(1, 4, 4), &mut rng).unwrap();
        assert!(matches!(conv.forward(&DMatrix::zeros(2, 15), &mut y), Err(Error::FeatureMismatch { .. })));
        let x = DMatrix::zeros(2, 16);
        conv.forward(&x, &mut y).unwrap();
        assert!(matches!(conv.backward(&x, &y, &y.clone(), None), Err(Error::NoForwardCache { .. })));
    }
}
