//! [`Sequential`]: a chain of layers with an input shape, trained as a whole.

use crate::check::check_finite;
use crate::layer::buffer_undo::BufferUndo;
use crate::layer::{walk, Input};
use crate::matmul::can_descend;
use crate::optim::{checked_step, Undo};
use crate::Residual;
use crate::{
    seeded, Chain, Dims, Divergence, Error, Layer, LayerId, Loss, Network, Optimizer, Param, PlainDescent, Real,
    Result, SeededRng, Shape, Stream, WeightDecay,
};
use nalgebra::DMatrix;
use std::any::Any;
use std::fmt;

/// Layers applied one after another, built from the input shape: a [`Chain`] with the input's
/// shape, the loss's side of a training step, and the [`Network`] API (`fit`, `predict`,
/// `evaluate`, saving and loading).
///
/// Rows of every matrix are samples. The network owns the matrix at every layer boundary and
/// the gradient there, and reuses them from batch to batch.
///
/// Layers may hold layers ([`Chain`], [`Residual`](crate::Residual)); every parameter then has
/// a path, such as `"3.body.1.weight"` (see [`Layer`]). In a flat network the path is
/// `"<layer index>.<role>"`, e.g. `"0.weight"`.
///
/// # Example: the course's XOR network (실습 2)
/// ```
/// use backprop::prelude::*;
/// use nalgebra::DMatrix;
///
/// let mut net = Sequential::<f64>::builder(2)
///     .add(Dense::new(2, 3).without_bias().with_init(Init::Uniform { low: 0.0, high: 1.0 }))
///     .add(Sigmoid)
///     .add(Dense::new(3, 1).without_bias().with_init(Init::Uniform { low: 0.0, high: 1.0 }))
///     .add(Sigmoid)
///     .build(0)?;
/// assert_eq!(net.num_params(), 9);
/// assert_eq!(net.param("2.weight").map(|w| w.shape()), Some((3, 1))); // W_layer_2
/// let y = net.predict(&DMatrix::from_row_slice(1, 2, &[1.0, 0.0]))?;
/// assert_eq!(y.shape(), (1, 1));
/// # Ok::<(), backprop::Error>(())
/// ```
pub struct Sequential<T: Real> {
    input: Shape,
    chain: Chain<T>,
    output: Shape,
    /// The output of the last training step.
    y: DMatrix<T>,
    /// `∂E/∂y` in the last training step.
    grad_y: DMatrix<T>,
    /// Always empty: the allocation of the parameter list handed to the optimizer, kept from
    /// step to step (see [`recycle`]).
    param_list: Vec<&'static mut Param<T>>,
    /// Always empty: the allocation of the list [`Optimizer::penalty`] reads, kept likewise.
    penalty_list: Vec<&'static Param<T>>,
    /// The values before a step of an optimizer that does not check its own updates (see
    /// [`Optimizer::checks_updates`]), kept from step to step.
    undo: Undo<T>,
    /// The layers' buffers before a step, put back if it fails.
    buffer_undo: BufferUndo<T>,
}

/// Short: the shapes, each layer's path and kind, and the parameter count — not the matrices
/// (cached activations and gradients would be megabytes for MNIST). [`Sequential::summary`] has
/// the table.
impl<T: Real> fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Layers(Vec<(String, &'static str)>);
        impl fmt::Debug for Layers {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map().entries(self.0.iter().map(|(p, k)| (p, k))).finish()
            }
        }
        f.debug_struct("Sequential")
            .field("input", &format_args!("{}", self.input))
            .field("output", &format_args!("{}", self.output))
            .field("layers", &Layers(self.layer_kinds()))
            .field("params", &self.num_params())
            .finish()
    }
}

/// One line of a [`Summary`]: a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// The layer's path (`"2"`, `"3.body.1"`).
    pub path: String,
    /// Its kind (`"dense"`).
    pub kind: &'static str,
    /// The shape of one sample of its output; `None` inside a custom container layer, whose
    /// children's shapes the network does not see.
    pub output: Option<Shape>,
    /// The numbers in its parameters (for a container, in all the layers below it).
    pub params: usize,
}

/// A network's layers with their output shapes and parameter counts, as Keras's
/// `model.summary()` shows them; `Display` prints the table. Made by [`Sequential::summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The shape of one input sample.
    pub input: Shape,
    /// Every layer, parents before their children (as [`Layer`] paths are walked).
    pub rows: Vec<SummaryRow>,
    /// The numbers the optimizer trains (all parameters).
    pub trainable: usize,
    /// The numbers saved but never trained (buffers, such as running statistics).
    pub non_trainable: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let indent = |path: &str| "  ".repeat(path.matches('.').count());
        let path_w = self.rows.iter().map(|r| indent(&r.path).len() + r.path.len()).max().unwrap_or(0).max(5);
        let kind_w = self.rows.iter().map(|r| r.kind.len()).max().unwrap_or(0).max(5);
        let shape = |s: Option<Shape>| s.map_or_else(|| "?".to_string(), |s| format!("(batch, {s})"));
        let shape_w = self.rows.iter().map(|r| shape(r.output).len()).max().unwrap_or(0).max(12);
        let rule = path_w + kind_w + shape_w + 10 + 6;
        writeln!(f, "input: (batch, {})", self.input)?;
        writeln!(f, "{:<path_w$}  {:<kind_w$}  {:<shape_w$}  {:>10}", "layer", "kind", "output shape", "params")?;
        writeln!(f, "{}", "=".repeat(rule))?;
        for r in &self.rows {
            let path = format!("{}{}", indent(&r.path), r.path);
            writeln!(f, "{path:<path_w$}  {:<kind_w$}  {:<shape_w$}  {:>10}", r.kind, shape(r.output), r.params)?;
        }
        writeln!(f, "{}", "=".repeat(rule))?;
        writeln!(f, "total params: {}", self.trainable + self.non_trainable)?;
        writeln!(f, "trainable params: {}", self.trainable)?;
        write!(f, "non-trainable params: {}", self.non_trainable)
    }
}

/// Collects layers for a [`Sequential`] network; [`build`](SequentialBuilder::build) checks the
/// chain of shapes and initializes the parameters.
#[derive(Debug)]
pub struct SequentialBuilder<T: Real> {
    input: Shape,
    chain: Chain<T>,
}

impl<T: Real> SequentialBuilder<T> {
    /// Appends a layer (any [`Layer`], including any [`Activation`](crate::Activation), a
    /// [`Chain`] or a [`Residual`](crate::Residual) block).
    #[allow(clippy::should_implement_trait)] // named like Keras' `model.add`, not `+`
    pub fn add<L: Layer<T>>(self, layer: L) -> Self {
        self.add_boxed(Box::new(layer))
    }

    /// Appends a boxed layer.
    pub fn add_boxed(mut self, layer: Box<dyn Layer<T>>) -> Self {
        self.chain = self.chain.add_boxed(layer);
        self
    }

    /// Builds the network: connects every layer to the shape the one before it gives, and
    /// initializes the parameters in path order from `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a network without layers, or a layer with both children and
    /// parameters of its own; [`Error::LayerChain`] (naming the layer by its path) where two
    /// layers do not fit; [`Error::BranchMismatch`] for a residual block whose branches differ;
    /// the layers' own configuration errors.
    pub fn build(self, seed: u64) -> Result<Sequential<T>> {
        let SequentialBuilder { input, mut chain } = self;
        if chain.is_empty() {
            return Err(Error::InvalidConfig { name: "layers", value: "none".into(), expected: "at least one layer" });
        }
        if input.is_empty() {
            let expected = match input {
                Shape::Flat(_) => ">= 1",
                Shape::Image { .. } => "channels, height and width >= 1",
            };
            return Err(Error::InvalidConfig { name: "input width", value: input.to_string(), expected });
        }
        // Every layer may count a sample's values: an image whose C·H·W overflows is refused
        // here, whatever the first layer (model files are built through here too).
        if input.checked_len().is_none() {
            return Err(Error::InvalidConfig {
                name: "input shape",
                value: input.to_string(),
                expected: "samples whose C·H·W values can be counted (in a usize)",
            });
        }
        let output = chain.build(input, &mut seeded(seed, Stream::Init))?;
        walk::check_tree(&chain)?;
        Ok(Sequential {
            input,
            output,
            y: DMatrix::zeros(0, 0),
            grad_y: DMatrix::zeros(0, 0),
            param_list: Vec::new(),
            penalty_list: Vec::new(),
            undo: Undo::default(),
            buffer_undo: BufferUndo::new(&chain),
            chain,
        })
    }
}

/// Empties `list` and returns its allocation as an empty list of references of another lifetime,
/// so a training step can fill it without allocating.
///
/// No element survives (the list is empty, and `map_while` keeps none anyway), so no reference
/// outlives its borrow; the standard library collects a vector's `into_iter` in place when the
/// element layout is the same, keeping the allocation.
fn recycle<'b, P>(mut list: Vec<&mut P>) -> Vec<&'b mut P> {
    list.clear();
    list.into_iter().map_while(|_| None).collect()
}

/// A training step's divergence: `cause`, at a step whose loss is `loss`.
fn diverged<T: Real>(loss: T, cause: Divergence) -> Error {
    diverged_at(loss, cause, None)
}

/// [`diverged`] with the path of the parameter `cause` names.
fn diverged_at<T: Real>(loss: T, cause: Divergence, parameter: Option<String>) -> Error {
    Error::Diverged { epoch: None, step: None, loss: loss.to_f64(), cause, parameter, history: None }
}

/// [`recycle`] for a list of shared references.
fn recycle_shared<'b, P>(mut list: Vec<&P>) -> Vec<&'b P> {
    list.clear();
    list.into_iter().map_while(|_| None).collect()
}

impl<T: Real> Sequential<T> {
    /// Starts a network whose samples have `input` features.
    pub fn builder(input: usize) -> SequentialBuilder<T> {
        Self::builder_shaped(Shape::Flat(input))
    }

    /// Starts a network whose samples have shape `input` (e.g. an image).
    pub fn builder_shaped(input: Shape) -> SequentialBuilder<T> {
        SequentialBuilder { input, chain: Chain::new() }
    }

    /// The shape of one input sample.
    pub fn input_shape(&self) -> Shape {
        self.input
    }

    /// The shape of one output sample.
    pub fn output_shape(&self) -> Shape {
        self.output
    }

    /// The top-level layers, in order (a nested block is one of them; see
    /// [`layer_at`](Sequential::layer_at) to reach inside).
    pub fn layers(&self) -> impl Iterator<Item = &dyn Layer<T>> {
        self.chain.layers()
    }

    /// The layers as the chain they form: the root of every path.
    pub fn chain(&self) -> &Chain<T> {
        &self.chain
    }

    /// Number of top-level layers.
    pub fn len(&self) -> usize {
        self.chain.len()
    }

    /// Whether the network has no layers (never true for a built network).
    pub fn is_empty(&self) -> bool {
        self.chain.is_empty()
    }

    /// Top-level layer `index` as its concrete type, e.g. `net.layer::<Dense<f64>>(0)` to read
    /// its weights; `None` if there is no such layer or it is of another type.
    pub fn layer<L: Layer<T>>(&self, index: usize) -> Option<&L> {
        let layer: &dyn Any = self.chain.get(index)?;
        layer.downcast_ref()
    }

    /// Top-level layer `index` as its concrete type, mutably (e.g. to
    /// [`set_weight`](crate::Dense::set_weight)).
    pub fn layer_mut<L: Layer<T>>(&mut self, index: usize) -> Option<&mut L> {
        let layer: &mut dyn Any = self.chain.get_mut(index)?;
        layer.downcast_mut()
    }

    /// The layer at `path` (`"2"`, `"3.body.0"`) as its concrete type; `None` if there is no
    /// such layer or it is of another type.
    pub fn layer_at<L: Layer<T>>(&self, path: &str) -> Option<&L> {
        let mut found: Option<&L> = None;
        walk::layers(&self.chain, &mut String::new(), &mut |p, layer| {
            if p == path {
                let layer: &dyn Any = layer;
                found = layer.downcast_ref::<L>();
            }
        });
        found
    }

    /// The value of the parameter at `path` (`"0.weight"`, `"3.body.1.bias"`), the name it is
    /// saved under; `None` if there is no such parameter.
    pub fn param(&self, path: &str) -> Option<&DMatrix<T>> {
        let mut found = None;
        walk::params(&self.chain, &mut String::new(), &mut |p, param| {
            if p == path {
                found = Some(param.value());
            }
        });
        found
    }

    /// Replaces the parameter at `path` (the course's 실습 2-1 transplant, for any layer kind).
    ///
    /// # Errors
    /// [`Error::NoSuchParam`] if there is no parameter at `path`; [`Error::ShapeMismatch`] if
    /// `value` has another shape. The network is unchanged on error.
    pub fn set_param(&mut self, path: &str, value: &DMatrix<T>) -> Result<()> {
        let mut result = Err(Error::NoSuchParam { path: path.to_string() });
        let kinds = self.layer_kinds();
        walk::params_mut(&mut self.chain, &mut String::new(), &mut |p, param| {
            if p == path {
                let layer = p.rsplit_once('.').map_or("", |(l, _)| l);
                let kind = kinds.iter().find(|(l, _)| l == layer).map_or("layer", |(_, k)| *k);
                result = param.set_value(value, LayerId::at(layer, kind));
            }
        });
        result
    }

    /// The layers with their output shapes and parameter counts, and the totals, in the shape of
    /// Keras's `model.summary()` (`println!("{}", net.summary())`).
    ///
    /// # Example
    /// ```
    /// use backprop::prelude::*;
    /// let net = Sequential::<f32>::builder(64)
    ///     .add(Dense::new(64, 32))
    ///     .add(Relu)
    ///     .add(Residual::identity(Chain::new().add(Dense::new(32, 32)).add(Relu)))
    ///     .add(Dense::new(32, 10))
    ///     .build(0)?;
    /// let summary = net.summary();
    /// assert_eq!(summary.trainable, 64 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10);
    /// assert_eq!(summary.rows[2].path, "2");
    /// assert_eq!(summary.rows[3].path, "2.body");
    /// assert_eq!(summary.rows[4].path, "2.body.0");
    /// println!("{summary}");
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn summary(&self) -> Summary {
        let mut rows = Vec::new();
        summary_rows(&self.chain, &mut String::new(), &mut rows);
        let mut non_trainable = 0;
        self.visit_buffers(&mut |_, m| non_trainable += m.len());
        Summary { input: self.input, rows, trainable: self.num_params(), non_trainable }
    }

    /// A copy of the network: its layers with their parameters and buffers (through
    /// [`Layer::clone_box`]), not the last training step's matrices.
    ///
    /// `Sequential` is not `Clone`: its layers are trait objects, and a custom layer may not
    /// be copyable (its [`clone_box`](Layer::clone_box) then gives `None`); every layer of the
    /// crate is.
    ///
    /// # Errors
    /// [`Error::NotCloneable`] naming a layer that cannot be copied.
    ///
    /// # Example
    /// ```
    /// use backprop::prelude::*;
    /// use nalgebra::DMatrix;
    /// let net = Sequential::<f64>::builder(3).add(Dense::new(3, 2)).add(Tanh).build(7)?;
    /// let copy = net.try_clone()?;
    /// let x = DMatrix::from_element(1, 3, 0.5);
    /// assert_eq!(copy.predict(&x)?, net.predict(&x)?);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Self> {
        let chain = match Layer::clone_box(&self.chain) {
            Some(boxed) => {
                let any: Box<dyn Any> = boxed;
                *any.downcast::<Chain<T>>().map_err(|_| Error::NotCloneable { layer: LayerId::kind("chain") })?
            }
            None => {
                // The first layer that cannot be copied in itself: a container that cannot is
                // passed over for the child that stops it (the walk visits a container first).
                let mut failed: Option<(String, &'static str)> = None;
                walk::layers(&self.chain, &mut String::new(), &mut |p, layer| {
                    let within =
                        |(path, _): &(String, &str)| p.strip_prefix(path.as_str()).is_some_and(|r| r.starts_with('.'));
                    if layer.clone_box().is_none() && failed.as_ref().is_none_or(within) {
                        failed = Some((p.to_string(), layer.kind()));
                    }
                });
                let layer = failed.map_or_else(|| LayerId::kind("layer"), |(path, kind)| LayerId::at(&path, kind));
                return Err(Error::NotCloneable { layer });
            }
        };
        Ok(Sequential {
            input: self.input,
            chain,
            output: self.output,
            y: DMatrix::zeros(0, 0),
            grad_y: DMatrix::zeros(0, 0),
            param_list: Vec::new(),
            penalty_list: Vec::new(),
            undo: Undo::default(),
            buffer_undo: self.buffer_undo.clone(),
        })
    }

    /// Every layer's path and kind.
    fn layer_kinds(&self) -> Vec<(String, &'static str)> {
        let mut kinds = Vec::new();
        walk::layers(&self.chain, &mut String::new(), &mut |p, layer| kinds.push((p.to_string(), layer.kind())));
        kinds
    }

    /// The layers as the chain they form, mutably (for loading saved parameters).
    pub(crate) fn chain_mut(&mut self) -> &mut Chain<T> {
        &mut self.chain
    }

    /// One training step ([`Network::train_step`]) on a batch in either layout.
    fn step_on(
        &mut self,
        input: Input<'_, T>,
        t: &DMatrix<T>,
        loss: &dyn Loss<T>,
        optimizer: &mut dyn Optimizer<T>,
        rng: &mut SeededRng,
    ) -> Result<T> {
        if input.features() != self.input_width() {
            return match input {
                Input::Rows(x) => self.check_input(x),
                // The error names the features as train_step's would (a copy on this path only).
                Input::Samples(xs) => self.check_input(&xs.transpose()),
            }
            .map(|_| T::zero());
        }
        // Plain gradient descent may be folded into the layers' weight-gradient products (see
        // `Optimizer::plain_descent`): planned before the passes, and ended whatever happens.
        let descent = optimizer.plain_descent().filter(|_| can_descend::<T>());
        self.buffer_undo.save(&self.chain);
        let result = if descent.is_none() {
            self.step_body(input, t, loss, optimizer, rng)
        } else {
            self.plan_descent(descent);
            let result = self.step_body(input, t, loss, optimizer, rng);
            self.plan_descent(None);
            result
        };
        if result.is_err() {
            // A failed step changes nothing: batch normalization's running statistics moved in
            // the forward pass.
            self.buffer_undo.restore(&mut self.chain);
        }
        self.buffer_undo.after_step(&self.chain);
        match result {
            // train_step takes its batch as checked; when a step diverges on a batch that holds
            // a NaN or an infinity, that value is named rather than the learning rate blamed.
            // Checked on this path only, so a step that succeeds pays nothing.
            Err(diverged @ Error::Diverged { .. }) => Err(non_finite_in(input, t).err().unwrap_or(diverged)),
            result => result,
        }
    }

    /// [`step_on`](Sequential::step_on) after its input check: forward, loss, backward, update.
    fn step_body(
        &mut self,
        input: Input<'_, T>,
        t: &DMatrix<T>,
        loss: &dyn Loss<T>,
        optimizer: &mut dyn Optimizer<T>,
        rng: &mut SeededRng,
    ) -> Result<T> {
        self.chain.forward_train_from(input, &mut self.y, rng)?;
        // The targets' values were checked once for the whole set (train_step's contract).
        let value = loss.loss_and_grad_prechecked(&self.y, t, &mut self.grad_y)?;
        if self.grad_y.shape() != self.y.shape() {
            // A loss written outside the crate; the last layer would blame its own grad_y.
            let (expected, got) = (Dims::from(&self.y), Dims::from(&self.grad_y));
            return Err(Error::LossGradientShape { loss: loss.name(), expected, got });
        }
        if !value.is_finite() {
            return Err(diverged(value, Divergence::Loss));
        }
        if !self.buffer_undo.all_finite(&self.chain) {
            return Err(diverged(value, Divergence::Statistics));
        }
        // The first layer is not asked for ∂E/∂x: nobody needs it.
        self.chain.backward_from(input, &self.y, &self.grad_y, None)?;
        self.update(value, optimizer)
    }

    /// Plans a step of `descent` ([`Param::plan_descent`]) on every parameter that only the
    /// crate's containers hold, or ends the plan (`None`).
    fn plan_descent(&mut self, descent: Option<PlainDescent>) {
        for layer in self.chain.layers_mut() {
            plan_descent(layer.as_mut(), descent);
        }
    }

    /// The step's update after the backward pass, for a batch loss `value`: the loss returned
    /// (with the L2 penalty, if any).
    fn update(&mut self, mut value: T, optimizer: &mut dyn Optimizer<T>) -> Result<T> {
        // Every gradient is there now; the update below checks them as it goes.
        let mut params = recycle(std::mem::take(&mut self.param_list));
        // The root is a chain: its layers directly, without asking it whether it has children.
        for layer in self.chain.layers_mut() {
            walk::collect_params_mut(layer.as_mut(), &mut params);
        }
        // The book's L2 weight decay adds ½λΣW² (of the values before the step) to the loss.
        if matches!(optimizer.weight_decay(), WeightDecay::L2(_)) {
            let mut weights = recycle_shared(std::mem::take(&mut self.penalty_list));
            weights.extend(params.iter().map(|p| &**p));
            value += T::cast(optimizer.penalty(&weights));
            self.penalty_list = recycle_shared(weights);
        }
        let stepped = if value.is_finite() {
            checked_step(optimizer, &mut params, &mut self.undo)
        } else {
            Err(diverged(value, Divergence::Penalty))
        };
        self.param_list = recycle(params);
        match stepped {
            Ok(()) => Ok(value),
            // The optimizer knows neither the loss nor the parameter's path.
            Err(Error::Diverged { cause, .. }) => {
                // Cold: the paths are made only for the error.
                let parameter = cause.parameter_index().and_then(|i| self.named_params().into_iter().nth(i));
                Err(diverged_at(value, cause, parameter.map(|(path, _)| path)))
            }
            Err(e) => Err(e),
        }
    }

    /// Checks inputs: width and finiteness.
    fn check_input(&self, x: &DMatrix<T>) -> Result<()> {
        if x.ncols() != self.input_width() {
            let first = self.chain.get(0).map_or("layer", |l| l.kind());
            return Err(Error::FeatureMismatch {
                layer: LayerId::at("0", first),
                expected: self.input_width(),
                got: x.ncols(),
            });
        }
        check_finite("x", x)
    }
}

/// The first NaN or infinity of a batch's inputs (`"x"`, at its row and column as `train_step`'s
/// `x`) or of its targets, as an [`Error::NonFinite`].
fn non_finite_in<T: Real>(input: Input<'_, T>, t: &DMatrix<T>) -> Result<()> {
    match input {
        Input::Rows(x) => check_finite("x", x)?,
        Input::Samples(xs) => check_finite("x", xs).map_err(|e| match e {
            // xs is the transpose of x: its row is x's column.
            Error::NonFinite { what, row, col, value } => Error::NonFinite { what, row: col, col: row, value },
            e => e,
        })?,
    }
    check_finite("targets", t)
}

/// Plans `descent` on the parameters of `layer` and of the layers below it, through the crate's
/// containers ([`Chain`], [`Residual`]) only: a container of another kind may read or change
/// its children's gradients after their `backward` (to tie or scale them), which must then hold
/// gradients, so its layers keep theirs.
fn plan_descent<T: Real>(layer: &mut dyn Layer<T>, descent: Option<PlainDescent>) {
    let any: &dyn Any = layer;
    if any.is::<Chain<T>>() || any.is::<Residual<T>>() {
        layer.visit_children_mut(&mut |_, child| plan_descent(child, descent));
    } else if !walk::has_children(layer) {
        layer.visit_params_mut(&mut |p| p.plan_descent(descent.map(|d| d.for_param(p.decays()))));
    }
}

/// The summary rows of the children of `layer` (whose path is `prefix`), depth first.
fn summary_rows<T: Real>(layer: &dyn Layer<T>, prefix: &mut String, rows: &mut Vec<SummaryRow>) {
    let any: &dyn Any = layer;
    // A chain knows its layers' output shapes; a residual block's branches both give its own.
    let shapes: Option<&[Shape]> = any.downcast_ref::<Chain<T>>().map(|c| c.shapes());
    let residual = any.downcast_ref::<Residual<T>>().and_then(|r| r.output());
    let mut index = 0;
    layer.visit_children(&mut |name, child| {
        let len = prefix.len();
        if len > 0 {
            prefix.push('.');
        }
        prefix.push_str(&name.to_string());
        let output = shapes.and_then(|s| s.get(index).copied()).or(residual);
        let mut params = 0;
        walk::params(child, &mut String::new(), &mut |_, p| params += p.value().len());
        rows.push(SummaryRow { path: prefix.clone(), kind: child.kind(), output, params });
        summary_rows(child, prefix, rows);
        prefix.truncate(len);
        index += 1;
    });
}

impl<T: Real> Network<T> for Sequential<T> {
    fn input_width(&self) -> usize {
        self.input.len()
    }

    fn output_width(&self) -> usize {
        self.output.len()
    }

    fn predict(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.check_input(x)?;
        let mut y = DMatrix::zeros(0, 0);
        self.chain.forward(x, &mut y)?;
        Ok(y)
    }

    fn train_step(
        &mut self,
        x: &DMatrix<T>,
        t: &DMatrix<T>,
        loss: &dyn Loss<T>,
        optimizer: &mut dyn Optimizer<T>,
        rng: &mut SeededRng,
    ) -> Result<T> {
        self.step_on(Input::Rows(x), t, loss, optimizer, rng)
    }

    fn takes_samples(&self) -> bool {
        self.chain.takes_samples()
    }

    fn train_step_samples(
        &mut self,
        xs: &DMatrix<T>,
        t: &DMatrix<T>,
        loss: &dyn Loss<T>,
        optimizer: &mut dyn Optimizer<T>,
        rng: &mut SeededRng,
    ) -> Result<T> {
        self.step_on(Input::Samples(xs), t, loss, optimizer, rng)
    }

    fn visit_params<'a>(&'a self, f: &mut dyn FnMut(&str, &'a Param<T>)) {
        walk::params(&self.chain, &mut String::new(), f);
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(&str, &mut Param<T>)) {
        walk::params_mut(&mut self.chain, &mut String::new(), f);
    }

    fn visit_buffers<'a>(&'a self, f: &mut dyn FnMut(&str, &'a DMatrix<T>)) {
        walk::buffers(&self.chain, &mut String::new(), f);
    }

    fn visit_buffers_mut(&mut self, f: &mut dyn FnMut(&str, &mut DMatrix<T>)) {
        walk::buffers_mut(&mut self.chain, &mut String::new(), f);
    }

    fn is_smooth(&self) -> bool {
        self.chain.is_smooth()
    }

    fn min_training_batch(&self) -> usize {
        let mut min = 1;
        walk::layers(&self.chain, &mut String::new(), &mut |_, l| min = min.max(l.min_training_batch()));
        min
    }

    fn last_output(&self) -> Option<&DMatrix<T>> {
        Some(&self.y).filter(|y| y.nrows() > 0)
    }

    fn visit_outputs<'a>(&'a self, f: &mut dyn FnMut(&str, &'a dyn Layer<T>, &'a DMatrix<T>)) {
        walk::outputs(&self.chain, &self.y, &mut String::new(), f);
    }
}
