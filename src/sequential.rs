//! [`Sequential`]: a chain of layers with an input shape, trained as a whole.

use crate::check::{all_finite, check_finite};
use crate::layer::walk;
use crate::{
    seeded, Chain, Error, Layer, LayerId, Loss, Network, Optimizer, Param, Real, Result, SeededRng, Shape, Stream,
    WeightDecay,
};
use nalgebra::DMatrix;
use std::any::Any;

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
#[derive(Debug)]
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
            return Err(Error::InvalidConfig { name: "input width", value: "0".into(), expected: ">= 1" });
        }
        let output = chain.build(input, &mut seeded(seed, Stream::Init))?;
        walk::check_tree(&chain)?;
        Ok(Sequential {
            input,
            chain,
            output,
            y: DMatrix::zeros(0, 0),
            grad_y: DMatrix::zeros(0, 0),
            param_list: Vec::new(),
        })
    }
}

/// Empties `list` and returns its allocation as an empty list of references of another lifetime,
/// so a training step can fill it without allocating.
///
/// No element survives, so no reference outlives its borrow; the standard library collects a
/// vector's `into_iter` in place when the element layout is the same, keeping the allocation.
fn recycle<'b, P>(mut list: Vec<&mut P>) -> Vec<&'b mut P> {
    list.clear();
    list.into_iter().map(|_| unreachable!("the list is empty")).collect()
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
        if x.ncols() != self.input_width() {
            return self.check_input(x).map(|_| T::zero());
        }
        self.chain.forward_train(x, &mut self.y, rng)?;
        // The targets' values were checked once for the whole set (train_step's contract).
        let value = loss.loss_and_grad_prechecked(&self.y, t, &mut self.grad_y)?;
        if !value.is_finite() {
            return Err(Error::Diverged { epoch: None, loss: value.to_f64() });
        }
        // The first layer is not asked for ∂E/∂x: nobody needs it.
        self.chain.backward(x, &self.y, &self.grad_y, None)?;
        let mut params = recycle(std::mem::take(&mut self.param_list));
        // The root is a chain: its layers directly, without asking it whether it has children.
        for layer in self.chain.layers_mut() {
            walk::collect_params_mut(layer.as_mut(), &mut params);
        }
        // The book's L2 weight decay adds ½λΣW² to the loss; only then is the list needed.
        let penalty = if matches!(optimizer.weight_decay(), WeightDecay::L2(_)) {
            let weights: Vec<&Param<T>> = params.iter().map(|p| &**p).collect();
            optimizer.penalty(&weights)
        } else {
            0.0
        };
        let value = value + T::cast(penalty);
        let finite = value.is_finite() && params.iter().all(|p| p.grad().is_none_or(|g| all_finite(g.as_slice())));
        let stepped = if finite {
            optimizer.step(&mut params)
        } else {
            Err(Error::Diverged { epoch: None, loss: value.to_f64() })
        };
        self.param_list = recycle(params);
        stepped.map(|()| value)
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
}
