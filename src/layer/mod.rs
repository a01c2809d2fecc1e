//! The [`Layer`] trait, the per-sample [`Shape`], trainable [`Param`]eters, and the built-in layers.
//!
//! # The contract
//! A network owns the matrix at every layer boundary and hands each layer its input `x` and its
//! output `y` (rows are samples). A training step is:
//! 1. [`Layer::forward_train`] writes `y` from `x` and caches what only the layer knows (a dropout
//!    mask, batch statistics);
//! 2. [`Layer::backward`] gets `x`, `y` and `∂E/∂y` back, *overwrites* the gradients of the
//!    layer's parameters and, when asked, writes `∂E/∂x`.
//!
//! Output buffers are reused from batch to batch: a layer resizes them with [`ensure_shape`],
//! which keeps the allocation when the shape has not changed.

pub(crate) mod batch_norm;
pub(crate) mod buffer_undo;
pub(crate) mod chain;
pub(crate) mod conv;
mod dense;
mod dropout;
mod elementwise;
pub(crate) mod folding;
pub(crate) mod global_pool;
pub(crate) mod parts;
pub(crate) mod pool;
mod reduce;
pub(crate) mod residual;
mod softmax;
pub(crate) mod walk;
mod window;

pub use batch_norm::{BatchNorm, BatchNormPreset};
pub use chain::Chain;
pub use conv::Conv2d;
pub use dense::Dense;
pub use dropout::{Dropout, DropoutScaling};
pub use global_pool::GlobalAvgPool;
pub use pool::{AvgPool2d, MaxPool2d};
pub use residual::Residual;
pub(crate) use softmax::softmax_rows;
pub use softmax::Softmax;

pub use crate::shape::Shape;
use crate::{Dims, Real, Result, SeededRng};
use folding::{Folding, Taken};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};
use std::any::Any;
use std::fmt::{self, Debug, Display};

/// Whether weight decay applies to a parameter: the layer that creates the parameter says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decay {
    /// Weight decay shrinks it (weights, convolution filters).
    Applies,
    /// Weight decay leaves it alone (biases, batch normalization's γ and β).
    Exempt,
}

/// A trainable parameter: its value and the gradient of the loss with respect to it.
///
/// The value's shape is fixed when the parameter is created; the mutable accessors hand out views,
/// which cannot change it. The gradient is "fresh" after [`grad_mut`](Param::grad_mut) (called by
/// `backward`) and consumed by the optimizer step, so a step without a backward pass before it is
/// an error rather than a silent re-use of an old gradient.
///
/// `==` compares everything a parameter holds — value, gradient buffer, freshness, role and
/// decay — so a trained network's parameters differ from those of its reloaded copy (whose
/// gradients are zero); compare [`value`](Param::value)s to compare the weights.
#[derive(Clone, PartialEq)]
pub struct Param<T: Real> {
    name: &'static str,
    value: DMatrix<T>,
    grad: DMatrix<T>,
    fresh: bool,
    decay: Decay,
    /// A training step's plan of gradient descent, which `backward` may take itself.
    folding: Folding<T>,
}

impl<T: Real> Param<T> {
    /// A parameter named by its role in its layer (`"weight"`, `"bias"`, ...) with this value,
    /// a zero gradient, and whether weight decay applies to it. The name is the last segment of
    /// the parameter's path (`"3.body.1.weight"`), so it must be unique within the layer and
    /// hold no `'.'`.
    pub fn new(name: &'static str, value: DMatrix<T>, decay: Decay) -> Self {
        let grad = DMatrix::zeros(value.nrows(), value.ncols());
        Param { name, value, grad, fresh: false, decay, folding: Folding::default() }
    }

    /// Whether weight decay applies to this parameter, as its layer declared.
    pub fn decay(&self) -> Decay {
        self.decay
    }

    /// Whether weight decay applies to this parameter ([`Decay::Applies`]).
    pub fn decays(&self) -> bool {
        self.decay == Decay::Applies
    }

    /// The parameter's role in its layer, e.g. `"weight"`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The current value.
    pub fn value(&self) -> &DMatrix<T> {
        &self.value
    }

    /// The value, writable in place (its shape cannot change).
    pub fn value_mut(&mut self) -> DMatrixViewMut<'_, T> {
        self.folding.forget_bound();
        self.value.as_view_mut()
    }

    /// Shape of the value (and of the gradient).
    pub fn dims(&self) -> Dims {
        Dims::from(&self.value)
    }

    /// Replaces the value with one of the same shape, finite (a file written from a NaN weight
    /// could not be loaded back).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes differ;
    /// [`Error::NonFinite`](crate::Error::NonFinite) for a NaN or infinite entry. The parameter
    /// is then unchanged.
    pub fn set_value(&mut self, value: &DMatrix<T>, layer: crate::LayerId) -> Result<()> {
        if value.shape() != self.value.shape() {
            return Err(crate::Error::ShapeMismatch {
                layer,
                what: self.name,
                expected: self.dims(),
                got: Dims::from(value),
            });
        }
        crate::check::check_finite(self.name, value)?;
        self.folding.forget_bound();
        self.value.copy_from(value);
        Ok(())
    }

    /// The gradient from the last backward pass, or `None` if it has been used by an optimizer
    /// step (or never computed).
    pub fn grad(&self) -> Option<&DMatrix<T>> {
        self.fresh.then_some(&self.grad)
    }

    /// The gradient buffer, for `backward` to overwrite — every element: what it holds before
    /// is unspecified (after an optimizer step, it may hold old values); marks the gradient fresh.
    pub fn grad_mut(&mut self) -> &mut DMatrix<T> {
        self.fresh = true;
        self.folding.clear();
        &mut self.grad
    }

    /// For the crate's training step: plans this step's update as gradient descent,
    /// `W ← W − η·g` (`λ = 0`) or `W ← W − η·(g + λ·W)`, with `plan = (η, λ)` — which the
    /// layer's `backward` may then take itself ([`descend`](Param::descend)), the optimizer
    /// only finishing it — or ends the plan (`None`), dropping a step the optimizer did not take.
    pub(crate) fn plan_descent(&mut self, plan: Option<(T, T)>) {
        if self.folding.plan(plan) {
            self.fresh = false;
        }
    }

    /// For a layer's `backward`, when a step of gradient descent is planned
    /// ([`plan_descent`](Param::plan_descent)) and the parameter's gradient is `op_a(a)·b`:
    /// takes the step if the crate's kernel computes that product ([`Folding::descend`]) and
    /// returns `true`; else returns `false`, and the caller writes the gradient.
    pub(crate) fn descend(&mut self, a: (&DMatrix<T>, crate::matmul::Op), b: &DMatrix<T>) -> bool {
        let taken = self.folding.descend(&self.value, &mut self.grad, a, b);
        self.fresh |= taken;
        taken
    }

    /// How the backward pass took the planned step ([`descend`](Param::descend)).
    pub(crate) fn folded(&self) -> Taken {
        self.folding.taken()
    }

    /// For the optimizer, once every other parameter's update has succeeded: writes a deferred
    /// step ([`Taken::Deferred`]) into the value.
    pub(crate) fn finish_deferred_step(&mut self) {
        self.folding.finish(&mut self.value);
    }

    /// For optimizers: the value to update and the fresh gradient, consuming the gradient.
    ///
    /// Returns `None` (and changes nothing) if there is no fresh gradient.
    pub fn take_update(&mut self) -> Option<(DMatrixViewMut<'_, T>, DMatrixView<'_, T>)> {
        self.folding.forget_bound();
        self.take_fresh().then(|| (self.value.as_view_mut(), self.grad.as_view()))
    }

    /// [`take_update`](Self::take_update) as flat slices of the column-major storage, value and
    /// gradient element for element: for elementwise update rules, one loop over contiguous
    /// memory (the slices cannot change the parameter's shape).
    pub fn take_update_flat(&mut self) -> Option<(&mut [T], &[T])> {
        self.folding.forget_bound();
        self.take_fresh().then(|| (self.value.as_mut_slice(), self.grad.as_slice()))
    }

    /// For the crate's optimizers: the value and the fresh gradient as flat slices, both
    /// writable, the gradient not consumed; `None` if there is no fresh gradient.
    pub(crate) fn value_and_grad_mut(&mut self) -> Option<(&mut [T], &mut [T])> {
        self.folding.forget_bound();
        self.fresh.then(|| (self.value.as_mut_slice(), self.grad.as_mut_slice()))
    }

    /// Exchanges the value and the gradient buffer: an optimizer that wrote the new values into
    /// the gradient's buffer makes them the value in O(1) (the old value then sits in the
    /// gradient's buffer, which the next `backward` overwrites), and a second exchange undoes it.
    pub(crate) fn swap_value_and_grad(&mut self) {
        self.folding.forget_bound();
        std::mem::swap(&mut self.value, &mut self.grad);
    }

    /// Marks the gradient used.
    pub(crate) fn consume_grad(&mut self) {
        self.fresh = false;
        self.folding.clear();
    }

    /// Whether the gradient was fresh; it is consumed either way.
    fn take_fresh(&mut self) -> bool {
        std::mem::replace(&mut self.fresh, false)
    }
}

impl<T: Real> Debug for Param<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Param({} {}, grad {})", self.name, self.dims(), if self.fresh { "fresh" } else { "used" })
    }
}

/// One layer of a network: forward and backward, its parameters, its shape.
///
/// Rows of every matrix are samples. The trait is object-safe: networks hold
/// `Box<dyn Layer<T>>`, and a layer written outside this crate works everywhere a built-in one
/// does (see the crate's `tests/custom_layer.rs`).
///
/// # Layers that hold layers
/// A layer may hold other layers — its *children* — as [`Chain`] (a sequence) and [`Residual`]
/// (`F(x) + S(x)`) do. It lists them, each with a name, in
/// [`visit_children`](Layer::visit_children) and
/// [`visit_children_mut`](Layer::visit_children_mut); leaf layers keep the default, none. Every
/// parameter and buffer then has a **path**: the names of the children leading to its layer and
/// its own name, joined by dots (`"3.body.1.weight"`: layer 3 of the network, its body, that
/// body's layer 1, the weight). The same path names it in files, in
/// [`Sequential::param`](crate::Sequential::param), in gradient-check reports, in optimizer
/// state and in error messages.
///
/// A layer with children holds its state in them: its own
/// [`visit_params`](Layer::visit_params) and [`visit_buffers`](Layer::visit_buffers) are not
/// consulted, and building a network refuses a layer that has both.
pub trait Layer<T: Real>: Any + Debug + Send + Sync {
    /// A short lowercase name of the layer's kind, e.g. `"dense"`, used in messages and files.
    fn kind(&self) -> &'static str;

    /// Connects the layer to inputs of shape `input`: checks that it fits, creates and
    /// initializes the parameters (drawing from `rng`), and returns the output shape.
    ///
    /// Building again re-initializes the parameters.
    ///
    /// # Errors
    /// [`Error::LayerChain`](crate::Error::LayerChain) when `input` does not fit the layer;
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) or
    /// [`Error::TooLarge`](crate::Error::TooLarge) for a bad configuration.
    fn build(&mut self, input: Shape, rng: &mut SeededRng) -> Result<Shape>;

    /// Inference: writes the output for input `x` into `y` (resizing it as needed).
    ///
    /// Changes nothing in the layer and draws no random numbers.
    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()>;

    /// Training forward pass: like [`forward`](Layer::forward), but may cache what
    /// [`backward`](Layer::backward) needs and may draw random numbers (dropout) from `rng`.
    fn forward_train(&mut self, x: &DMatrix<T>, y: &mut DMatrix<T>, _rng: &mut SeededRng) -> Result<()> {
        self.forward(x, y)
    }

    /// Backward pass for the last [`forward_train`](Layer::forward_train) of input `x` and output
    /// `y`, given `grad_y = ∂E/∂y`.
    ///
    /// Overwrites the gradient of every parameter and, if `grad_x` is given, writes `∂E/∂x` into
    /// it (resizing it as needed). The first layer of a network is not asked for `grad_x`.
    /// Calling it twice with the same arguments gives the same result.
    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()>;

    /// Whether [`forward_train_samples`](Layer::forward_train_samples) and
    /// [`backward_samples`](Layer::backward_samples) read their input as it is laid out, without
    /// a copy ([`Dense`] does, and a [`Chain`] whose first layer does). `fit` gathers minibatches
    /// sample by sample, and hands them over so when the network's first layer takes them;
    /// otherwise it transposes each batch first. Default: `false`.
    fn takes_samples(&self) -> bool {
        false
    }

    /// [`forward_train`](Layer::forward_train) on inputs given sample by sample: `xs` is
    /// `features × batch` (column `i` is sample `i`), the transpose of `forward_train`'s `x`. The
    /// output is `forward_train`'s on `xsᵀ`, up to rounding: a product reading `xs` in place may
    /// add its terms in another order (in `f32` on AVX2, the short-inner-dimension kernel takes
    /// only factors read as stored).
    ///
    /// The default transposes `xs` into a new matrix and calls `forward_train`; a layer that
    /// reads `xs` in place says so in [`takes_samples`](Layer::takes_samples).
    fn forward_train_samples(&mut self, xs: &DMatrix<T>, y: &mut DMatrix<T>, rng: &mut SeededRng) -> Result<()> {
        self.forward_train(&xs.transpose(), y, rng)
    }

    /// [`backward`](Layer::backward) after [`forward_train_samples`](Layer::forward_train_samples)
    /// of input `xs` (`features × batch`), for the first layer of a network: the parameters'
    /// gradients only, no `∂E/∂x`.
    ///
    /// The default transposes `xs` into a new matrix and calls `backward`.
    fn backward_samples(&mut self, xs: &DMatrix<T>, y: &DMatrix<T>, grad_y: &DMatrix<T>) -> Result<()> {
        self.backward(&xs.transpose(), y, grad_y, None)
    }

    /// Calls `f` on every child layer with its name (a path segment: `0`, `1`, ... in a
    /// [`Chain`], `body` and `shortcut` in a [`Residual`]), in a fixed order. Leaf layers have
    /// none (the default).
    fn visit_children<'a>(&'a self, _f: &mut dyn FnMut(&dyn Display, &'a dyn Layer<T>)) {}

    /// Calls `f` on every child layer, mutably, in the order of
    /// [`visit_children`](Layer::visit_children).
    fn visit_children_mut<'a>(&'a mut self, _f: &mut dyn FnMut(&dyn Display, &'a mut dyn Layer<T>)) {}

    /// Calls `f` on every child layer with its name and the output it gave in the last training
    /// forward pass ([`forward_train`](Layer::forward_train)), in the order of
    /// [`visit_children`](Layer::visit_children); `y` is this layer's own output of that pass
    /// (held by its parent). This is the one hook training diagnostics see layers through (see
    /// [`Diagnostics`](crate::diagnostics::Diagnostics)): every layer inside a [`Chain`] or a
    /// [`Residual`] is reported with its output, whoever wrote it. Leaf layers keep the default,
    /// none; a container written outside the crate that does not override it is seen as one
    /// layer, its children not.
    // Spelled out rather than aliased, so an implementation outside the crate reads it as is.
    #[allow(clippy::type_complexity)]
    fn visit_outputs<'a>(
        &'a self,
        _y: &'a DMatrix<T>,
        _f: &mut dyn FnMut(&dyn Display, &'a dyn Layer<T>, &'a DMatrix<T>),
    ) {
    }

    /// Whether the layer's function is differentiable at every input and parameter value (no
    /// kink such as ReLU's at 0). A [gradient check](crate::gradcheck) of a smooth layer fails
    /// when any probe looks like a kink, instead of skipping it. The default, `false`, lets kinks
    /// be skipped (and reported).
    fn is_smooth(&self) -> bool {
        false
    }

    /// The fewest samples a training batch may hold: 2 for batch normalization (a variance
    /// needs two), 1 (the default) for most layers. A layer with children need not combine
    /// theirs: [`fit`](crate::Network::fit) asks every layer of the tree, and never makes a
    /// trailing batch smaller than the largest answer (it joins it to the batch before).
    fn min_training_batch(&self) -> usize {
        1
    }

    /// Calls `f` on every trainable parameter of this layer (not of its children), in the
    /// layer's documented order.
    fn visit_params<'a>(&'a self, _f: &mut dyn FnMut(&'a Param<T>)) {}

    /// Calls `f` on every trainable parameter, mutably, in the same order as
    /// [`visit_params`](Layer::visit_params).
    fn visit_params_mut<'a>(&'a mut self, _f: &mut dyn FnMut(&'a mut Param<T>)) {}

    /// Calls `f` on every buffer: state that is saved with the layer but never optimized, such as
    /// batch normalization's running statistics, with its name.
    fn visit_buffers<'a>(&'a self, _f: &mut dyn FnMut(&'static str, &'a DMatrix<T>)) {}

    /// Calls `f` on every buffer, mutably, in the same order as
    /// [`visit_buffers`](Layer::visit_buffers) (used when loading a saved network).
    fn visit_buffers_mut<'a>(&'a mut self, _f: &mut dyn FnMut(&'static str, &'a mut DMatrix<T>)) {}

    /// A copy of the layer, parameters, buffers and all, boxed; `None` (the default) for a
    /// layer that cannot be copied. Every layer of the crate can; a custom layer that is
    /// `Clone` overrides it as `Some(Box::new(self.clone()))`.
    /// [`Sequential::try_clone`](crate::Sequential::try_clone) needs it of every layer.
    /// (A provided method returning `Option`, so that layers written before it still compile.)
    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        None
    }

    /// The layer's kind and settings: what a saved file records so the layer can be rebuilt
    /// without the code that made it. The default records the kind only.
    fn config(&self) -> LayerConfig {
        LayerConfig::new(self.kind())
    }
}

/// A layer's kind and its settings as text, e.g. `dense` with `in_dim = 2`, `out_dim = 3`,
/// `bias = false`: enough to rebuild the layer (its parameters are stored separately, and its
/// children, for a layer that has some, are described by their own configurations).
///
/// A saved file holds one per layer, under `layer.<path>` (`"dense bias=false in_dim=2 out_dim=3"`);
/// a [`Registry`](crate::Registry) turns it back into a layer.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct LayerConfig {
    /// The layer's kind, as [`Layer::kind`].
    pub kind: String,
    /// Settings by name, in name order.
    pub settings: std::collections::BTreeMap<String, String>,
    /// The metadata entry this configuration was read from (empty if made in code), for errors.
    #[cfg_attr(feature = "serde", serde(skip))]
    key: String,
}

impl PartialEq for LayerConfig {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.settings == other.settings
    }
}

impl Eq for LayerConfig {}

impl LayerConfig {
    /// A configuration of this kind with no settings.
    pub fn new(kind: &str) -> Self {
        LayerConfig { kind: kind.to_string(), settings: Default::default(), key: String::new() }
    }

    /// The same configuration with one more setting.
    pub fn with(mut self, name: &str, value: impl ToString) -> Self {
        self.settings.insert(name.to_string(), value.to_string());
        self
    }

    /// The same configuration, remembered as read from metadata entry `key` (errors name it).
    pub(crate) fn read_from(mut self, key: &str) -> Self {
        self.key = key.to_string();
        self
    }

    /// The metadata entry this configuration was read from (`"layer.3.body.1"`), or `""` if it
    /// was made in code.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Setting `name`, parsed as `V` (a number, `true`/`false`, a word): what a
    /// [`Registry`](crate::Registry) builder uses to rebuild a layer.
    ///
    /// # Errors
    /// [`FormatError::BadMetadata`](crate::FormatError::BadMetadata), naming the metadata entry,
    /// if the setting is missing or does not parse.
    pub fn setting<V: std::str::FromStr>(&self, name: &str) -> Result<V> {
        let bad = |value: String, expected| {
            crate::Error::Format(crate::FormatError::BadMetadata { key: self.key.clone(), value, expected })
        };
        let text = self
            .settings
            .get(name)
            .ok_or_else(|| bad(format!("{} without {name}", self.kind), "every setting of the layer"))?;
        text.parse().map_err(|_| bad(format!("{name}={text}"), "a value of the setting's type"))
    }
}

/// Makes `m` a `rows × cols` matrix, reusing its allocation when it is large enough.
///
/// The contents afterwards are unspecified (callers overwrite them); when the shape is already
/// right, nothing happens at all.
#[inline]
pub fn ensure_shape<T: Real>(m: &mut DMatrix<T>, rows: usize, cols: usize) {
    // The check is inlined into every layer; the rare resize is not.
    if m.shape() != (rows, cols) {
        reshape(m, rows, cols);
    }
}

#[cold]
#[inline(never)]
fn reshape<T: Real>(m: &mut DMatrix<T>, rows: usize, cols: usize) {
    let mut data: Vec<T> = std::mem::replace(m, DMatrix::zeros(0, 0)).data.into();
    data.resize(rows * cols, T::zero());
    *m = DMatrix::from_vec(rows, cols, data);
}

/// A batch of inputs as a first layer reads it: as stored (`batch × features`, a row per
/// sample), or sample by sample (`features × batch`, see [`Layer::takes_samples`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Input<'a, T: Real> {
    /// `batch × features`.
    Rows(&'a DMatrix<T>),
    /// `features × batch`.
    Samples(&'a DMatrix<T>),
}

impl<T: Real> Input<'_, T> {
    /// The samples in the batch.
    pub(crate) fn batch(&self) -> usize {
        match self {
            Input::Rows(x) => x.nrows(),
            Input::Samples(xs) => xs.ncols(),
        }
    }

    /// The features per sample.
    pub(crate) fn features(&self) -> usize {
        match self {
            Input::Rows(x) => x.ncols(),
            Input::Samples(xs) => xs.nrows(),
        }
    }
}

/// The values in a sample of shape `input` ([`Shape::checked_len`]), or [`Error::InputShape`]
/// naming `layer` (a kind) when `C·H·W` overflows: layers call it on their input when built.
pub(crate) fn counted(input: Shape, layer: &'static str) -> Result<usize> {
    input.checked_len().ok_or_else(|| crate::Error::InputShape {
        layer: crate::LayerId::kind(layer),
        expected: "samples whose C·H·W values can be counted (in a usize)".into(),
        got: input,
    })
}

/// Checks that `grad_y` matches the layer output `y`, and that both have a row per sample of the
/// input `x` (`batch × features`, as the layer reads it) and `out_dim` columns. When `y` and
/// `grad_y` agree with each other and with `out_dim` but not with `x`'s batch, `x` is the odd
/// one out, and the error names it.
#[inline]
pub(crate) fn check_backward_shapes<T: Real>(
    layer: &'static str,
    x: Dims,
    y: &DMatrix<T>,
    grad_y: &DMatrix<T>,
    out_dim: usize,
) -> Result<()> {
    let expected = (x.0, out_dim);
    if y.shape() == expected && grad_y.shape() == expected {
        return Ok(());
    }
    Err(backward_shape_error(layer, x, Dims::from(y), Dims::from(grad_y), out_dim))
}

/// [`check_backward_shapes`]' error, out of the way of every layer's backward pass.
#[cold]
#[inline(never)]
fn backward_shape_error(layer: &'static str, x: Dims, y: Dims, grad_y: Dims, out_dim: usize) -> crate::Error {
    let mismatch =
        |what, expected, got| crate::Error::ShapeMismatch { layer: crate::LayerId::kind(layer), what, expected, got };
    let Dims(batch, features) = x;
    if y == grad_y && y.1 == out_dim && y.0 != batch {
        return mismatch("x", Dims(y.0, features), x);
    }
    let expected = Dims(batch, out_dim);
    if y != expected {
        return mismatch("y", expected, y);
    }
    mismatch("grad_y", expected, grad_y)
}
