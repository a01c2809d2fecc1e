//! The [`Network`] trait and [`Sequential`], a stack of layers.

use crate::fit::{self, FitConfig};
use crate::loss::{all_finite, check_finite};
use crate::metrics::{accuracy, Evaluation};
use crate::History;
use crate::{
    seeded, Error, Layer, LayerId, Loss, Optimizer, Param, Real, Result, SeededRng, Shape, Stream, WeightDecay,
};
use nalgebra::DMatrix;
use std::any::Any;
use std::fmt::Debug;

/// A trainable network: inference, one training step, and its parameters; `fit` and `evaluate`
/// are built on those.
pub trait Network<T: Real>: Debug + Send + Sync {
    /// Features per input sample (columns of `x`).
    fn input_width(&self) -> usize;

    /// Outputs per sample (columns of the prediction).
    fn output_width(&self) -> usize;

    /// The network's outputs for inputs `x` (`batch × input_width`), without changing anything.
    ///
    /// `x` with no rows gives an empty `0 × output_width` result.
    ///
    /// # Errors
    /// [`Error::FeatureMismatch`] for the wrong number of columns, [`Error::NonFinite`] for NaN
    /// or infinite inputs.
    fn predict(&self, x: &DMatrix<T>) -> Result<DMatrix<T>>;

    /// One training step on one batch: forward, loss, backward, then the optimizer's update.
    /// Returns the batch's loss before the update.
    ///
    /// Inputs and targets are assumed checked (as [`fit`](Network::fit) does once for the whole
    /// set); shapes are still checked, so a wrong one is an error, not a panic.
    ///
    /// # Errors
    /// [`Error::Diverged`] (with epoch 0) if the loss or a gradient is not finite — the update is
    /// then not applied; shape errors from the layers or the loss; optimizer errors.
    fn train_step(
        &mut self,
        x: &DMatrix<T>,
        t: &DMatrix<T>,
        loss: &dyn Loss<T>,
        optimizer: &mut dyn Optimizer<T>,
        rng: &mut SeededRng,
    ) -> Result<T>;

    /// Calls `f` on every parameter, in order: layer by layer, each in its documented order.
    fn visit_params<'a>(&'a self, f: &mut dyn FnMut(&'a Param<T>));

    /// Calls `f` on every parameter, mutably, in the order of
    /// [`visit_params`](Network::visit_params).
    fn visit_params_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<T>));

    /// Calls `f` on every buffer (state saved but never optimized, such as batch-norm running
    /// statistics), layer by layer. The default has none.
    fn visit_buffers<'a>(&'a self, _f: &mut dyn FnMut(&'static str, &'a DMatrix<T>)) {}

    /// Calls `f` on every buffer, mutably, in the order of
    /// [`visit_buffers`](Network::visit_buffers).
    fn visit_buffers_mut<'a>(&'a mut self, _f: &mut dyn FnMut(&'static str, &'a mut DMatrix<T>)) {}

    /// The output of the last training step, if there was one (used for training accuracy).
    fn last_output(&self) -> Option<&DMatrix<T>> {
        None
    }

    /// Every parameter, in the order of [`visit_params`](Network::visit_params).
    fn params(&self) -> Vec<&Param<T>> {
        let mut params = Vec::new();
        self.visit_params(&mut |p| params.push(p));
        params
    }

    /// Number of trainable numbers in the network.
    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.value().len()).sum()
    }

    /// Trains the network on inputs `x` and targets `t` as `config` says, and returns the loss
    /// of every epoch.
    ///
    /// Everything is checked before the first update: the configuration, the shapes, that `x`
    /// and `t` are finite, and that the targets suit the loss. On such an error the network is
    /// unchanged. A batch size larger than the data means one batch per epoch.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`], [`Error::EmptyInput`], [`Error::FeatureMismatch`],
    /// [`Error::RowCountMismatch`], [`Error::NonFinite`], target errors of the loss, and
    /// [`Error::Diverged`] if training produces a non-finite loss (parameters then hold the last
    /// finite values).
    fn fit(&mut self, x: &DMatrix<T>, t: &DMatrix<T>, config: &mut FitConfig<T>) -> Result<History>
    where
        Self: Sized,
    {
        fit::fit(self, x, t, config)
    }

    /// The loss and the accuracy of the network's predictions for `x` against targets `t`.
    ///
    /// Accuracy: with two or more outputs, the share of rows whose largest output is the target
    /// class (targets one-hot or class indices); with one output, the share of rows on the same
    /// side of 0.5 as the target.
    ///
    /// # Errors
    /// As [`predict`](Network::predict), plus [`Error::RowCountMismatch`] and the loss's target
    /// errors.
    fn evaluate(&self, x: &DMatrix<T>, t: &DMatrix<T>, loss: &dyn Loss<T>) -> Result<Evaluation> {
        check_rows(x, t)?;
        loss.check_targets(self.output_width(), t)?;
        let y = self.predict(x)?;
        Ok(Evaluation { loss: loss.loss(&y, t)?.to_f64(), accuracy: accuracy(&y, t)? })
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

pub(crate) fn check_rows<T: Real>(x: &DMatrix<T>, t: &DMatrix<T>) -> Result<()> {
    if x.nrows() != t.nrows() {
        return Err(Error::RowCountMismatch { x_rows: x.nrows(), t_rows: t.nrows() });
    }
    Ok(())
}

/// Layers applied one after another, built from the input shape.
///
/// Rows of every matrix are samples. The network owns the matrix at every layer boundary and
/// the gradient there, and reuses them from batch to batch.
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
/// let y = net.predict(&DMatrix::from_row_slice(1, 2, &[1.0, 0.0]))?;
/// assert_eq!(y.shape(), (1, 1));
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug)]
pub struct Sequential<T: Real> {
    input: Shape,
    layers: Vec<Box<dyn Layer<T>>>,
    output: Shape,
    /// `outputs[i]`: the output of layer `i` in the last training step.
    outputs: Vec<DMatrix<T>>,
    /// `grads[i]`: `∂E/∂outputs[i]` in the last training step.
    grads: Vec<DMatrix<T>>,
    /// Always empty: the allocation of the parameter list handed to the optimizer, kept from
    /// step to step (see [`recycle`]).
    param_list: Vec<&'static mut Param<T>>,
}

/// Collects layers for a [`Sequential`] network; [`build`](SequentialBuilder::build) checks the
/// chain of shapes and initializes the parameters.
#[derive(Debug)]
pub struct SequentialBuilder<T: Real> {
    input: Shape,
    layers: Vec<Box<dyn Layer<T>>>,
}

impl<T: Real> SequentialBuilder<T> {
    /// Appends a layer (any [`Layer`], including any [`Activation`](crate::Activation)).
    #[allow(clippy::should_implement_trait)] // named like Keras' `model.add`, not `+`
    pub fn add<L: Layer<T>>(mut self, layer: L) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer.
    pub fn add_boxed(mut self, layer: Box<dyn Layer<T>>) -> Self {
        self.layers.push(layer);
        self
    }

    /// Builds the network: connects every layer to the shape the one before it gives, and
    /// initializes the parameters in layer order from `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a network without layers; [`Error::LayerChain`] (naming the
    /// layer) where two layers do not fit; the layers' own configuration errors.
    pub fn build(mut self, seed: u64) -> Result<Sequential<T>> {
        if self.layers.is_empty() {
            return Err(Error::InvalidConfig { name: "layers", value: "none".into(), expected: "at least one layer" });
        }
        if self.input.is_empty() {
            return Err(Error::InvalidConfig { name: "input width", value: "0".into(), expected: ">= 1" });
        }
        let mut rng = seeded(seed, Stream::Init);
        let mut shape = self.input;
        for (i, layer) in self.layers.iter_mut().enumerate() {
            shape = layer.build(shape, &mut rng).map_err(|e| e.at_layer(i))?;
        }
        let n = self.layers.len();
        Ok(Sequential {
            input: self.input,
            layers: self.layers,
            output: shape,
            outputs: (0..n).map(|_| DMatrix::zeros(0, 0)).collect(),
            grads: (0..n).map(|_| DMatrix::zeros(0, 0)).collect(),
            param_list: Vec::new(),
        })
    }
}

impl<T: Real> Sequential<T> {
    /// Starts a network whose samples have `input` features.
    pub fn builder(input: usize) -> SequentialBuilder<T> {
        Self::builder_shaped(Shape::Flat(input))
    }

    /// Starts a network whose samples have shape `input` (e.g. an image).
    pub fn builder_shaped(input: Shape) -> SequentialBuilder<T> {
        SequentialBuilder { input, layers: Vec::new() }
    }

    /// The shape of one input sample.
    pub fn input_shape(&self) -> Shape {
        self.input
    }

    /// The shape of one output sample.
    pub fn output_shape(&self) -> Shape {
        self.output
    }

    /// The layers, in order.
    pub fn layers(&self) -> impl Iterator<Item = &dyn Layer<T>> {
        self.layers.iter().map(|l| l.as_ref())
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the network has no layers (never true for a built network).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Layer `index` as its concrete type, e.g. `net.layer::<Dense<f64>>(0)` to read its weights;
    /// `None` if there is no such layer or it is of another type.
    pub fn layer<L: Layer<T>>(&self, index: usize) -> Option<&L> {
        let layer: &dyn Any = self.layers.get(index)?.as_ref();
        layer.downcast_ref()
    }

    /// Layer `index` as its concrete type, mutably (e.g. to [`set_weight`](crate::Dense::set_weight)).
    pub fn layer_mut<L: Layer<T>>(&mut self, index: usize) -> Option<&mut L> {
        let layer: &mut dyn Any = self.layers.get_mut(index)?.as_mut();
        layer.downcast_mut()
    }

    /// The value of parameter `name` (`"weight"`, `"bias"`, ...) of layer `layer`, as saved in a
    /// model file under `"<layer>.<name>"`; `None` if there is no such parameter.
    pub fn param(&self, layer: usize, name: &str) -> Option<&DMatrix<T>> {
        let mut found = None;
        self.layers.get(layer)?.visit_params(&mut |p| {
            if p.name() == name && found.is_none() {
                found = Some(p.value());
            }
        });
        found
    }

    /// Replaces parameter `name` of layer `layer` (the course's 실습 2-1 transplant, for any
    /// layer kind).
    ///
    /// # Errors
    /// [`Error::NoSuchParam`] if the layer has no such parameter; [`Error::ShapeMismatch`] if
    /// `value` has another shape. The network is unchanged on error.
    pub fn set_param(&mut self, layer: usize, name: &str, value: &DMatrix<T>) -> Result<()> {
        let mut result = Err(Error::NoSuchParam { layer, name: name.to_string() });
        if let Some(l) = self.layers.get_mut(layer) {
            let id = LayerId { index: Some(layer), kind: l.kind() };
            let mut done = false;
            l.visit_params_mut(&mut |p| {
                if p.name() == name && !done {
                    done = true;
                    result = p.set_value(value, id);
                }
            });
        }
        result
    }

    /// The layers, in order, mutably (for loading saved parameters).
    pub(crate) fn layers_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn Layer<T>>> {
        self.layers.iter_mut()
    }

    /// Checks inputs: width and finiteness.
    fn check_input(&self, x: &DMatrix<T>) -> Result<()> {
        if x.ncols() != self.input_width() {
            return Err(Error::FeatureMismatch {
                layer: LayerId { index: Some(0), kind: self.layers[0].kind() },
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
        let (mut a, mut b) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
        for (i, layer) in self.layers.iter().enumerate() {
            let input = if i == 0 { x } else { &a };
            layer.forward(input, &mut b).map_err(|e| e.at_layer(i))?;
            std::mem::swap(&mut a, &mut b);
        }
        Ok(a)
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
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let (before, rest) = self.outputs.split_at_mut(i);
            let input = if i == 0 { x } else { &before[i - 1] };
            layer.forward_train(input, &mut rest[0], rng).map_err(|e| e.at_layer(i))?;
        }
        let y = &self.outputs[last];
        let value = loss.loss_and_grad(y, t, &mut self.grads[last])?;
        if !value.is_finite() {
            return Err(Error::Diverged { epoch: 0, loss: value.to_f64() });
        }
        for (i, layer) in self.layers.iter_mut().enumerate().rev() {
            let input = if i == 0 { x } else { &self.outputs[i - 1] };
            let (before, rest) = self.grads.split_at_mut(i);
            let grad_x = before.last_mut(); // none for the first layer: nobody needs ∂E/∂x
            layer.backward(input, &self.outputs[i], &rest[0], grad_x).map_err(|e| e.at_layer(i))?;
        }
        let mut params = recycle(std::mem::take(&mut self.param_list));
        for layer in &mut self.layers {
            layer.visit_params_mut(&mut |p| params.push(p));
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
        let stepped =
            if finite { optimizer.step(&mut params) } else { Err(Error::Diverged { epoch: 0, loss: value.to_f64() }) };
        self.param_list = recycle(params);
        stepped.map(|()| value)
    }

    fn visit_params<'a>(&'a self, f: &mut dyn FnMut(&'a Param<T>)) {
        for layer in &self.layers {
            layer.visit_params(f);
        }
    }

    fn visit_params_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<T>)) {
        for layer in &mut self.layers {
            layer.visit_params_mut(f);
        }
    }

    fn visit_buffers<'a>(&'a self, f: &mut dyn FnMut(&'static str, &'a DMatrix<T>)) {
        for layer in &self.layers {
            layer.visit_buffers(f);
        }
    }

    fn visit_buffers_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'static str, &'a mut DMatrix<T>)) {
        for layer in &mut self.layers {
            layer.visit_buffers_mut(f);
        }
    }

    fn last_output(&self) -> Option<&DMatrix<T>> {
        self.outputs.last().filter(|y| y.nrows() > 0)
    }
}
