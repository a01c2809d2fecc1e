//! A sequence of layers that is itself a layer.

use super::{Input, Layer, LayerConfig, Shape};
use crate::{Dims, Error, LayerId, Real, Result, SeededRng};
use nalgebra::DMatrix;
use std::fmt::Display;

pub(crate) const KIND: &str = "chain";

/// Layers applied one after another, as one layer: `y = fₙ(… f₂(f₁(x)))`. Nest it anywhere a
/// layer goes — as the body of a [`Residual`](crate::Residual) block, inside another chain.
/// ([`Sequential`](crate::Sequential) is a chain with an input shape and a training loop.)
///
/// # Formulas
/// - forward: `h₀ = x`, `hᵢ = fᵢ(hᵢ₋₁)`, `y = hₙ`
/// - backward (the chain rule): `gₙ = ∂E/∂y`, `gᵢ₋₁ = ∂E/∂hᵢ₋₁ = fᵢ'ᵀ(gᵢ)`, `∂E/∂x = g₀`
///
/// # Shapes
/// `x: batch × input`, `y: batch × output`, where each layer's output shape is the next one's
/// input shape (checked when built).
///
/// # Children
/// Layer `i` is named `i`: in a network, the weight of layer 1 of the chain at path `3.body` is
/// `3.body.1.weight`.
///
/// The chain owns the matrices between its layers (each layer's output and the gradient there)
/// and reuses them from batch to batch.
///
/// # Example: a residual MLP block
/// ```
/// use backprop::prelude::*;
///
/// let block = Chain::new().add(Dense::new(8, 8)).add(Relu).add(Dense::new(8, 8));
/// let net = Sequential::<f64>::builder(8).add(Residual::identity(block)).add(Relu).add(Dense::new(8, 2)).build(0)?;
/// assert!(net.param("0.body.2.weight").is_some());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug)]
pub struct Chain<T: Real> {
    layers: Vec<Box<dyn Layer<T>>>,
    /// `outputs[i]`: the output of layer `i` in the last training pass (the last layer writes
    /// into the caller's `y` instead, so this holds one matrix fewer than there are layers).
    outputs: Vec<DMatrix<T>>,
    /// `grads[i]`: `∂E/∂outputs[i]` in the last backward pass.
    grads: Vec<DMatrix<T>>,
    /// `shapes[i]`: the sample shape layer `i` outputs, once built.
    shapes: Vec<Shape>,
}

impl<T: Real> Default for Chain<T> {
    fn default() -> Self {
        Chain::new()
    }
}

impl<T: Real> Chain<T> {
    /// An empty chain; [`add`](Chain::add) layers to it. (A chain without layers does not build:
    /// [`Error::EmptyChain`].)
    pub fn new() -> Self {
        Chain { layers: Vec::new(), outputs: Vec::new(), grads: Vec::new(), shapes: Vec::new() }
    }

    /// The same chain with `layer` appended (any [`Layer`], including any
    /// [`Activation`](crate::Activation) and other chains).
    #[allow(clippy::should_implement_trait)] // named like Keras' `model.add`, not `+`
    pub fn add<L: Layer<T>>(self, layer: L) -> Self {
        self.add_boxed(Box::new(layer))
    }

    /// The same chain with a boxed layer appended.
    pub fn add_boxed(mut self, layer: Box<dyn Layer<T>>) -> Self {
        self.layers.push(layer);
        self
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the chain has no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layers, in order.
    pub fn layers(&self) -> impl Iterator<Item = &dyn Layer<T>> {
        self.layers.iter().map(|l| l.as_ref())
    }

    /// Layer `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&dyn Layer<T>> {
        self.layers.get(index).map(|l| l.as_ref())
    }

    /// Layer `index`, mutably, if there is one.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut dyn Layer<T>> {
        match self.layers.get_mut(index) {
            Some(l) => Some(l.as_mut()),
            None => None,
        }
    }

    /// The layers, in order, mutably.
    pub(crate) fn layers_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn Layer<T>>> {
        self.layers.iter_mut()
    }

    /// The sample shape every layer outputs, in order (empty until built).
    pub(crate) fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    fn check_built(&self) -> Result<()> {
        if self.layers.is_empty() || self.outputs.len() + 1 != self.layers.len() {
            return Err(Error::NotBuilt { layer: LayerId::kind(KIND) });
        }
        Ok(())
    }

    /// The training forward pass from `input`.
    pub(crate) fn forward_train_from(
        &mut self,
        input: Input<'_, T>,
        y: &mut DMatrix<T>,
        rng: &mut SeededRng,
    ) -> Result<()> {
        self.check_built()?;
        // Built: `outputs` has one matrix fewer than there are layers, so layer i reads
        // `outputs[i - 1]` (the first reads the input) and writes `outputs[i]` (the last `y`).
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let (before, rest) = self.outputs.split_at_mut(i);
            let output = match rest.first_mut() {
                Some(output) => output,
                None => &mut *y,
            };
            let result = match (before.last(), input) {
                (Some(h), _) => layer.forward_train(h, output, rng),
                (None, Input::Rows(x)) => layer.forward_train(x, output, rng),
                (None, Input::Samples(xs)) => layer.forward_train_samples(xs, output, rng),
            };
            if let Err(e) = result {
                // A layer before that wrote another output than it declared makes this one
                // fail: name that one. Looked at only now, so a pass that succeeds pays nothing.
                return Err(self.misshapen_output(input.batch(), i).unwrap_or_else(|| e.within(i)));
            }
        }
        // The last layer's output, which no layer after it reads.
        let last = self.layers.len() - 1;
        match self.layers.get(last) {
            Some(layer) => {
                check_output(&self.shapes, last, layer.as_ref(), input.batch(), y).map_err(|e| e.within(last))
            }
            None => Ok(()),
        }
    }

    /// The first of layers `0..end` whose kept output (of the last training pass, on `batch`
    /// samples) is not what it declared when built, as the error that names it.
    fn misshapen_output(&self, batch: usize, end: usize) -> Option<Error> {
        let kept = self.layers.iter().zip(&self.outputs).take(end).enumerate();
        kept.map(|(k, (layer, out))| check_output(&self.shapes, k, layer.as_ref(), batch, out).map_err(|e| e.within(k)))
            .find_map(Result::err)
    }

    /// The backward pass after [`forward_train_from`](Chain::forward_train_from) of `input`.
    pub(crate) fn backward_from(
        &mut self,
        input: Input<'_, T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        mut grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        self.check_built()?;
        // As in forward_train_from: the chain's input and y (and grad_y) stand at the two ends.
        for (i, layer) in self.layers.iter_mut().enumerate().rev() {
            let (inputs, outputs) = self.outputs.split_at(i);
            let output = outputs.first().unwrap_or(y);
            let (before, rest) = self.grads.split_at_mut(i);
            let grad_output = rest.first().unwrap_or(grad_y);
            let result = match (inputs.last(), input) {
                (Some(h), _) => layer.backward(h, output, grad_output, before.last_mut()),
                // The first layer writes ∂E/∂x only if the caller wants it.
                (None, Input::Rows(x)) => layer.backward(x, output, grad_output, grad_x.as_deref_mut()),
                (None, Input::Samples(xs)) => layer.backward_samples(xs, output, grad_output),
            };
            result.map_err(|e| e.within(i))?;
        }
        Ok(())
    }
}

/// Checks that layer `i` wrote the output it declared when built: a row per sample of the
/// `batch` and the values of its output shape `shapes[i]`. A layer written outside the crate may
/// not, and the layer after it (or the loss) would be blamed.
#[inline]
fn check_output<T: Real>(shapes: &[Shape], i: usize, layer: &dyn Layer<T>, batch: usize, y: &DMatrix<T>) -> Result<()> {
    let columns = shapes.get(i).map_or(y.ncols(), |s| s.len());
    if y.shape() == (batch, columns) {
        return Ok(());
    }
    Err(output_error(layer.kind(), Dims(batch, columns), Dims::from(y)))
}

/// [`check_output`]'s error, out of the way of every pass.
#[cold]
#[inline(never)]
fn output_error(kind: &'static str, expected: Dims, got: Dims) -> Error {
    Error::ShapeMismatch { layer: LayerId::kind(kind), what: "its output", expected, got }
}

impl<T: Real> Layer<T> for Chain<T> {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        let layers = self.layers.iter().map(|l| l.clone_box()).collect::<Option<Vec<_>>>()?;
        let fresh = |n: usize| (0..n).map(|_| DMatrix::zeros(0, 0)).collect();
        Some(Box::new(Chain {
            layers,
            outputs: fresh(self.outputs.len()),
            grads: fresh(self.grads.len()),
            shapes: self.shapes.clone(),
        }))
    }

    fn build(&mut self, input: Shape, rng: &mut SeededRng) -> Result<Shape> {
        if self.layers.is_empty() {
            return Err(Error::EmptyChain { layer: LayerId::kind(KIND) });
        }
        let mut shape = input;
        self.shapes.clear();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            shape = layer.build(shape, rng).map_err(|e| e.within(i))?;
            self.shapes.push(shape);
        }
        let boundaries = self.layers.len() - 1;
        self.outputs = (0..boundaries).map(|_| DMatrix::zeros(0, 0)).collect();
        self.grads = (0..boundaries).map(|_| DMatrix::zeros(0, 0)).collect();
        Ok(shape)
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        self.check_built()?;
        // Two matrices in turn: layer i writes into `y` when an even number of layers follow
        // it, so the last one writes into `y`.
        let n = self.layers.len();
        let mut other = DMatrix::zeros(0, 0);
        for (i, layer) in self.layers.iter().enumerate() {
            let into_y = (n - 1 - i).is_multiple_of(2);
            let result = match (i, into_y) {
                (0, true) => layer.forward(x, y),
                (0, false) => layer.forward(x, &mut other),
                (_, true) => layer.forward(&other, y),
                (_, false) => layer.forward(y, &mut other),
            };
            let output = if into_y { &*y } else { &other };
            result
                .and_then(|()| check_output(&self.shapes, i, layer.as_ref(), x.nrows(), output))
                .map_err(|e| e.within(i))?;
        }
        Ok(())
    }

    fn forward_train(&mut self, x: &DMatrix<T>, y: &mut DMatrix<T>, rng: &mut SeededRng) -> Result<()> {
        self.forward_train_from(Input::Rows(x), y, rng)
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        self.backward_from(Input::Rows(x), y, grad_y, grad_x)
    }

    /// Whether the first layer does.
    fn takes_samples(&self) -> bool {
        self.layers.first().is_some_and(|l| l.takes_samples())
    }

    fn forward_train_samples(&mut self, xs: &DMatrix<T>, y: &mut DMatrix<T>, rng: &mut SeededRng) -> Result<()> {
        self.forward_train_from(Input::Samples(xs), y, rng)
    }

    fn backward_samples(&mut self, xs: &DMatrix<T>, y: &DMatrix<T>, grad_y: &DMatrix<T>) -> Result<()> {
        self.backward_from(Input::Samples(xs), y, grad_y, None)
    }

    fn visit_children<'a>(&'a self, f: &mut dyn FnMut(&dyn Display, &'a dyn Layer<T>)) {
        for (i, layer) in self.layers.iter().enumerate() {
            f(&i, layer.as_ref());
        }
    }

    fn visit_children_mut<'a>(&'a mut self, f: &mut dyn FnMut(&dyn Display, &'a mut dyn Layer<T>)) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            f(&i, layer.as_mut());
        }
    }

    fn visit_outputs<'a>(
        &'a self,
        y: &'a DMatrix<T>,
        f: &mut dyn FnMut(&dyn Display, &'a dyn Layer<T>, &'a DMatrix<T>),
    ) {
        // Layer i's output is `outputs[i]`, the last layer's the chain's own `y`.
        for (i, layer) in self.layers.iter().enumerate() {
            f(&i, layer.as_ref(), self.outputs.get(i).unwrap_or(y));
        }
    }

    fn is_smooth(&self) -> bool {
        self.layers.iter().all(|l| l.is_smooth())
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::new(KIND).with("layers", self.layers.len())
    }
}
