//! Max and average pooling over sliding windows.

use super::parts;
use super::window::{add_assign, Windows};
use super::{check_backward_shapes, ensure_shape, Layer, LayerConfig, Shape};
use crate::{Dims, Error, LayerId, Real, Result, SeededRng};
use nalgebra::DMatrix;

pub(crate) const MAX_KIND: &str = "max_pool2d";
pub(crate) const AVG_KIND: &str = "avg_pool2d";

/// Window, stride and padding of a pooling layer, and its geometry once built.
#[derive(Debug, Clone)]
struct Pooling {
    kind: &'static str,
    window: (usize, usize),
    stride: usize,
    padding: usize,
    windows: Option<Windows>,
    /// The input columns under each output's window (padding left out), all windows in output
    /// order, each in window order (row by row): output `o`'s are `inputs[starts[o]..starts[o + 1]]`.
    inputs: Vec<u32>,
    starts: Vec<u32>,
    /// Whether the windows tile the input: every input column under exactly one window.
    tiles: bool,
}

impl Pooling {
    fn new(kind: &'static str, window: (usize, usize)) -> Self {
        Pooling {
            kind,
            window,
            stride: window.0,
            padding: 0,
            windows: None,
            inputs: Vec::new(),
            starts: Vec::new(),
            tiles: false,
        }
    }

    /// The input columns of output `out`'s window.
    // Hot (once per output column), kept indexed: `build` writes one start per output and one
    // more, each a position in `inputs`, and callers pass outputs of the geometry it built.
    #[allow(clippy::indexing_slicing)]
    #[inline(always)]
    fn window(&self, out: usize) -> &[u32] {
        &self.inputs[self.starts[out] as usize..self.starts[out + 1] as usize]
    }

    fn build(&mut self, input: Shape) -> Result<Shape> {
        self.windows = None;
        let g = Windows::new(self.kind, input, self.window, self.stride, self.padding)?;
        if self.padding >= g.kh || self.padding >= g.kw {
            return Err(Error::WindowMismatch {
                layer: LayerId::kind(self.kind),
                window: format!("{}x{}", g.kh, g.kw),
                stride: self.stride,
                padding: self.padding,
                height: g.height,
                width: g.width,
                why: "pooling needs padding smaller than the window, so that every window holds a pixel",
            });
        }
        if input.len() > u32::MAX as usize / 2 {
            let limit = u32::MAX as usize / 2;
            return Err(Error::TooLarge { what: "pooling input", rows: 1, cols: input.len(), limit });
        }
        let (output, index) = match self.kind {
            MAX_KIND => ("max_pool2d output per sample (C x OH·OW)", "max_pool2d window index (outputs x KH·KW)"),
            _ => ("avg_pool2d output per sample (C x OH·OW)", "avg_pool2d window index (outputs x KH·KW)"),
        };
        crate::init::check_size(output, g.channels, g.positions())?;
        // `inputs` holds up to KH·KW columns per output, indexed by u32 `starts`: bound it before
        // building it (both products count: Windows::new and the check above).
        let (outputs, area) = (g.channels * g.positions(), g.kh * g.kw);
        let limit = crate::max_elements().min(u32::MAX as usize);
        if outputs.checked_mul(area).is_none_or(|n| n > limit) {
            return Err(Error::TooLarge { what: index, rows: outputs, cols: area, limit });
        }
        self.inputs.clear();
        self.starts.clear();
        self.starts.push(0);
        Pooling::for_each_window(&g, |_, inputs| {
            self.inputs.extend(inputs.iter().map(|&i| i as u32));
            self.starts.push(self.inputs.len() as u32);
        });
        let mut seen = vec![0u8; g.input_len()];
        // Window columns are input columns, so `get_mut` finds every one.
        for &i in &self.inputs {
            if let Some(count) = seen.get_mut(i as usize) {
                *count = count.saturating_add(1);
            }
        }
        self.tiles = seen.iter().all(|&c| c == 1);
        self.windows = Some(g);
        Ok(g.output(g.channels))
    }

    fn check_input<T: Real>(&self, x: &DMatrix<T>) -> Result<Windows> {
        let g = self.windows.ok_or(Error::NotBuilt { layer: LayerId::kind(self.kind) })?;
        if x.ncols() != g.input_len() {
            return Err(Error::FeatureMismatch {
                layer: LayerId::kind(self.kind),
                expected: g.input_len(),
                got: x.ncols(),
            });
        }
        Ok(g)
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::new(self.kind)
            .with("kernel_h", self.window.0)
            .with("kernel_w", self.window.1)
            .with("stride", self.stride)
            .with("padding", self.padding)
    }

    /// Calls `f(out, inputs)` for every output column `out` (channel, position) with the input
    /// columns its window covers (padding left out), in window order (row by row).
    fn for_each_window(g: &Windows, mut f: impl FnMut(usize, &[usize])) {
        let mut inputs = Vec::with_capacity(g.kh * g.kw);
        for c in 0..g.channels {
            for oh in 0..g.out_h {
                for ow in 0..g.out_w {
                    inputs.clear();
                    for i in 0..g.kh {
                        let Some(ih) = g.source(oh, i, g.height) else { continue };
                        for j in 0..g.kw {
                            if let Some(iw) = g.source(ow, j, g.width) {
                                inputs.push((c * g.height + ih) * g.width + iw);
                            }
                        }
                    }
                    f((c * g.out_h + oh) * g.out_w + ow, &inputs);
                }
            }
        }
    }
}

macro_rules! pooling_builders {
    () => {
        /// The same layer with stride `stride` (≥ 1, checked when built), down and across;
        /// the default is the window's height (PyTorch's is the window itself, the same for a
        /// square window; the book's `Pooling` defaults to 1).
        pub fn with_stride(mut self, stride: usize) -> Self {
            self.pool.stride = stride;
            self
        }

        /// The same layer with `padding` on every side (smaller than the window, checked when
        /// built).
        pub fn with_padding(mut self, padding: usize) -> Self {
            self.pool.padding = padding;
            self
        }
    };
}

/// Max pooling: each output is the largest input under its window, per channel.
///
/// # Formulas
/// - forward: `y[c, oh, ow] = max_{i, j} x[c, oh·S + i − P, ow·S + j − P]` over the window's
///   pixels inside the image (padding never wins, as in PyTorch, whose padding is −∞);
/// - backward: `∂E/∂x` is `∂E/∂y` routed to the position of each window's maximum, summed where
///   windows overlap. **Ties** go to the first maximum in window order (row by row), as NumPy's
///   `argmax` in the book's `Pooling` and PyTorch's CPU kernel. At a tie the function has a
///   kink, and a gradient check reports it as one.
///
/// `OH = (H + 2P − KH) / S + 1`, and across, `OW = (W + 2P − KW) / S + 1` with the same stride:
/// the stride defaults to the window height (PyTorch's default is the window itself, the same for
/// a square window; the book's `Pooling(pool_h, pool_w, stride=1)` defaults to 1 and its
/// SimpleConvNet passes 2).
///
/// # Shapes
/// `x: N × (C·H·W)`, `y: N × (C·OH·OW)`. No parameters.
///
/// # Example
/// ```
/// use backprop::{Layer, MaxPool2d, Shape, seeded, Stream};
/// let mut pool = MaxPool2d::<f32>::new((2, 2));
/// let out = pool.build(Shape::Image { channels: 30, height: 24, width: 24 }, &mut seeded(0, Stream::Init))?;
/// assert_eq!(out, Shape::Image { channels: 30, height: 12, width: 12 });
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MaxPool2d<T: Real> {
    pool: Pooling,
    /// For every output of the last training batch, the input column its maximum came from.
    argmax: Vec<u32>,
    /// Rows of that batch, `None` before a training pass.
    argmax_batch: Option<usize>,
    _scalar: std::marker::PhantomData<T>,
}

impl<T: Real> MaxPool2d<T> {
    /// Max pooling over `window = (KH, KW)`, stride `KH`, no padding.
    pub fn new(window: (usize, usize)) -> Self {
        MaxPool2d {
            pool: Pooling::new(MAX_KIND, window),
            argmax: Vec::new(),
            argmax_batch: None,
            _scalar: Default::default(),
        }
    }

    pooling_builders!();

    /// Writes the maxima of `x` into `y`, and their input columns into `argmax` if given.
    fn pool(pool: &Pooling, g: &Windows, x: &DMatrix<T>, y: &mut DMatrix<T>, argmax: Option<&mut [u32]>) {
        let n = x.nrows();
        ensure_shape(y, n, g.channels * g.positions());
        let (x, y) = (x.as_slice(), y.as_mut_slice());
        // Parts of whole output runs (`n` values: one window position, every sample).
        match argmax {
            Some(argmax) => parts::for_each_part2(y, argmax, n, |offset, ys, args| {
                max_with_argmax(pool, n, offset / n.max(1), x, ys, args)
            }),
            None => parts::for_each_part(y, n, |offset, ys| max_only(pool, n, offset / n.max(1), x, ys)),
        }
    }
}

/// The `n` samples' values of input column `column` in the column-major `x`.
#[inline(always)]
fn samples<T>(x: &[T], column: u32, n: usize) -> Option<&[T]> {
    let start = column as usize * n;
    x.get(start..start + n)
}

/// Each output's maximum and the input column it came from (the first, at a tie).
// Hot loop kept indexed (checked access measured 5% more instructions): every window holds a
// pixel (padding < window, checked in `build`), and its columns' runs of n samples are inside x
// (x's width checked in `check_input`).
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn max_with_argmax<T: Real>(pool: &Pooling, n: usize, first_out: usize, x: &[T], y: &mut [T], argmax: &mut [u32]) {
    for (out, (best, arg)) in y.chunks_exact_mut(n.max(1)).zip(argmax.chunks_exact_mut(n.max(1))).enumerate() {
        let inputs = pool.window(first_out + out);
        let first = inputs[0] as usize;
        best.copy_from_slice(&x[first * n..(first + 1) * n]);
        arg.fill(inputs[0]);
        for &index in &inputs[1..] {
            let run = &x[index as usize * n..(index as usize + 1) * n];
            // Masks rather than branches or selects: baseline SSE2 has no blend, and selects
            // became scalar conditional stores (14% of an MNIST CNN epoch); these vectorize.
            for ((b, a), &v) in best.iter_mut().zip(arg.iter_mut()).zip(run) {
                let mask = 0u32.wrapping_sub(u32::from(v > *b));
                *a = (*a & !mask) | (index & mask);
                *b = if v > *b { v } else { *b }; // maxps
            }
        }
    }
}

/// Each output's maximum.
// Hot loop kept indexed, as `max_with_argmax`: windows are never empty, their runs inside x.
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn max_only<T: Real>(pool: &Pooling, n: usize, first_out: usize, x: &[T], y: &mut [T]) {
    for (out, best) in y.chunks_exact_mut(n.max(1)).enumerate() {
        let inputs = pool.window(first_out + out);
        let first = inputs[0] as usize;
        best.copy_from_slice(&x[first * n..(first + 1) * n]);
        for &index in &inputs[1..] {
            for (b, &v) in best.iter_mut().zip(&x[index as usize * n..(index as usize + 1) * n]) {
                *b = if v > *b { v } else { *b };
            }
        }
    }
}

impl<T: Real> Layer<T> for MaxPool2d<T> {
    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        Some(Box::new(self.clone()))
    }

    fn kind(&self) -> &'static str {
        MAX_KIND
    }

    fn build(&mut self, input: Shape, _rng: &mut SeededRng) -> Result<Shape> {
        self.argmax_batch = None;
        let out = self.pool.build(input)?;
        if input.len() > u32::MAX as usize {
            return Err(Error::TooLarge {
                what: "max-pool input",
                rows: 1,
                cols: input.len(),
                limit: u32::MAX as usize,
            });
        }
        Ok(out)
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        let g = self.pool.check_input(x)?;
        Self::pool(&self.pool, &g, x, y, None);
        Ok(())
    }

    fn forward_train(&mut self, x: &DMatrix<T>, y: &mut DMatrix<T>, _rng: &mut SeededRng) -> Result<()> {
        let g = self.pool.check_input(x)?;
        self.argmax.resize(x.nrows() * g.channels * g.positions(), 0);
        Self::pool(&self.pool, &g, x, y, Some(&mut self.argmax));
        self.argmax_batch = Some(x.nrows());
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        let g = self.pool.check_input(x)?;
        let n = x.nrows();
        if self.argmax_batch != Some(n) {
            return Err(Error::NoForwardCache { layer: LayerId::kind(MAX_KIND) });
        }
        check_backward_shapes(MAX_KIND, Dims::from(x), y, grad_y, g.channels * g.positions())?;
        let Some(dx) = grad_x else { return Ok(()) };
        ensure_shape(dx, n, g.input_len());
        // Each channel's windows read and write only that channel's inputs: parts of whole
        // channels split across threads.
        let (plane, positions) = (g.height * g.width * n, g.positions());
        let (pool, argmax, grad_y) = (&self.pool, &self.argmax, grad_y.as_slice());
        // Hot loop kept indexed (checked access measured 5% more instructions): `argmax` and
        // `grad_y` hold every channel's outputs (checked above), `dx` this part's channels, and a
        // window's columns (and so its argmax) lie in its own channel.
        #[allow(clippy::indexing_slicing)]
        parts::for_each_part(dx.as_mut_slice(), plane, |offset, dx| {
            let channels = offset / plane.max(1)..(offset + dx.len()) / plane.max(1);
            let outs = channels.start * positions * n..channels.end * positions * n;
            let (args, grads) = (argmax[outs.clone()].chunks_exact(n.max(1)), grad_y[outs].chunks_exact(n.max(1)));
            let first_out = channels.start * positions;
            if pool.tiles {
                // Every input is under exactly one window: each is written once, no zeroing first.
                for (out, (args, grads)) in args.zip(grads).enumerate() {
                    for &index in pool.window(first_out + out) {
                        let start = index as usize * n - offset;
                        for ((d, &a), &gv) in dx[start..start + n].iter_mut().zip(args).zip(grads) {
                            *d = if a == index { gv } else { T::zero() };
                        }
                    }
                }
            } else {
                dx.fill(T::zero());
                for (args, grads) in args.zip(grads) {
                    for (s, (&a, &gv)) in args.iter().zip(grads).enumerate() {
                        dx[a as usize * n + s - offset] += gv;
                    }
                }
            }
        });
        Ok(())
    }

    fn config(&self) -> LayerConfig {
        self.pool.config()
    }
}

/// Average pooling: each output is the mean of its window, per channel.
///
/// # Formulas
/// - forward: `y[c, oh, ow] = (1 / (KH·KW)) · Σ_{i, j} x[c, oh·S + i − P, ow·S + j − P]`, padding
///   counting as zeros (PyTorch's default `count_include_pad=True`; the book has no average
///   pooling layer);
/// - backward: every input under a window gets `∂E/∂y / (KH·KW)` of it, summed over windows.
///
/// # Shapes
/// `x: N × (C·H·W)`, `y: N × (C·OH·OW)`. No parameters. The stride defaults to the window
/// height.
#[derive(Debug, Clone)]
pub struct AvgPool2d<T: Real> {
    pool: Pooling,
    _scalar: std::marker::PhantomData<T>,
}

impl<T: Real> AvgPool2d<T> {
    /// Average pooling over `window = (KH, KW)`, stride `KH`, no padding.
    pub fn new(window: (usize, usize)) -> Self {
        AvgPool2d { pool: Pooling::new(AVG_KIND, window), _scalar: Default::default() }
    }

    pooling_builders!();
}

impl<T: Real> Layer<T> for AvgPool2d<T> {
    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        Some(Box::new(self.clone()))
    }

    fn kind(&self) -> &'static str {
        AVG_KIND
    }

    fn build(&mut self, input: Shape, _rng: &mut SeededRng) -> Result<Shape> {
        self.pool.build(input)
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        let g = self.pool.check_input(x)?;
        let n = x.nrows();
        ensure_shape(y, n, g.channels * g.positions());
        let scale = T::one() / T::cast((g.kh * g.kw) as f64);
        let xs = x.as_slice();
        for (out, sum) in y.as_mut_slice().chunks_exact_mut(n.max(1)).enumerate() {
            sum.fill(T::zero());
            // A window's columns are inside x (its width checked above).
            for &input in self.pool.window(out) {
                add_assign(sum, samples(xs, input, n).unwrap_or_default());
            }
            sum.iter_mut().for_each(|v| *v *= scale);
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
        let g = self.pool.check_input(x)?;
        let n = x.nrows();
        check_backward_shapes(AVG_KIND, Dims::from(x), y, grad_y, g.channels * g.positions())?;
        let Some(dx) = grad_x else { return Ok(()) };
        ensure_shape(dx, n, g.input_len());
        let scale = T::one() / T::cast((g.kh * g.kw) as f64);
        let (dxs, gs) = (dx.as_mut_slice(), grad_y.as_slice());
        dxs.fill(T::zero());
        for (out, g_out) in gs.chunks_exact(n.max(1)).enumerate() {
            for &input in self.pool.window(out) {
                let start = input as usize * n;
                for (d, &gv) in dxs.get_mut(start..start + n).unwrap_or_default().iter_mut().zip(g_out) {
                    *d += gv * scale;
                }
            }
        }
        Ok(())
    }

    fn is_smooth(&self) -> bool {
        true
    }

    fn config(&self) -> LayerConfig {
        self.pool.config()
    }
}

/// Rebuilds a pooling layer's window, stride and padding from its configuration.
pub(crate) fn settings(c: &LayerConfig) -> Result<((usize, usize), usize, usize)> {
    Ok(((c.setting("kernel_h")?, c.setting("kernel_w")?), c.setting("stride")?, c.setting("padding")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{seeded, Stream};

    fn image(c: usize, h: usize, w: usize) -> Shape {
        Shape::Image { channels: c, height: h, width: w }
    }

    /// Max pooling against its definition, and ties: the gradient goes to the first maximum.
    #[test]
    fn max_pool_matches_the_definition_and_ties_go_first() {
        let mut pool = MaxPool2d::<f64>::new((2, 2));
        pool.build(image(1, 2, 4), &mut seeded(0, Stream::Init)).unwrap();
        // Two samples: the first with a tie in the left window (positions 1 and 4 hold 5).
        let x = DMatrix::from_row_slice(2, 8, &[1., 5., 0., 2., 5., 3., 7., 7., 0., 1., 2., 3., 4., 5., 6., 8.]);
        let mut y = DMatrix::zeros(0, 0);
        pool.forward_train(&x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
        assert_eq!(y, DMatrix::from_row_slice(2, 2, &[5., 7., 5., 8.]));
        let g = DMatrix::from_row_slice(2, 2, &[10., 20., 30., 40.]);
        let mut dx = DMatrix::zeros(0, 0);
        pool.backward(&x, &y, &g, Some(&mut dx)).unwrap();
        assert_eq!(
            dx,
            DMatrix::from_row_slice(2, 8, &[0., 10., 0., 0., 0., 0., 20., 0., 0., 0., 0., 0., 0., 30., 0., 40.])
        );
        let mut y2 = DMatrix::zeros(0, 0);
        pool.forward(&x, &mut y2).unwrap();
        assert_eq!(y, y2);
    }

    #[test]
    fn avg_pool_with_padding_counts_the_padding() {
        let mut pool = AvgPool2d::<f64>::new((2, 2)).with_padding(1);
        let out = pool.build(image(1, 2, 2), &mut seeded(0, Stream::Init)).unwrap();
        assert_eq!(out, image(1, 2, 2));
        let x = DMatrix::from_row_slice(1, 4, &[4., 8., 12., 16.]);
        let mut y = DMatrix::zeros(0, 0);
        pool.forward(&x, &mut y).unwrap();
        assert_eq!(y, DMatrix::from_row_slice(1, 4, &[1., 2., 3., 4.]));
    }

    #[test]
    fn bad_windows_are_typed_errors() {
        let mut rng = seeded(0, Stream::Init);
        let err = MaxPool2d::<f32>::new((2, 2)).with_padding(2).build(image(1, 4, 4), &mut rng);
        assert!(matches!(err, Err(Error::WindowMismatch { .. })), "{err:?}");
        let err = MaxPool2d::<f32>::new((5, 5)).build(image(1, 4, 4), &mut rng);
        assert!(matches!(err, Err(Error::WindowMismatch { .. })), "{err:?}");
        let err = AvgPool2d::<f32>::new((2, 2)).with_stride(0).build(image(1, 4, 4), &mut rng);
        assert!(matches!(err, Err(Error::InvalidConfig { .. })), "{err:?}");
        let err = AvgPool2d::<f32>::new((2, 2)).build(Shape::Flat(4), &mut rng);
        assert!(matches!(err, Err(Error::InputShape { .. })), "{err:?}");
    }
}
