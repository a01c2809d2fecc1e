//! The [`Network`] trait, and the training loop behind [`Network::fit`].
//!
//! The loop lives beside the trait it drives: [`FitConfig`] (in `fit.rs`) only describes a run,
//! so the import runs one way, from here to there.

use crate::check::{check_finite, check_rows};
use crate::diagnostics::probe::Probe;
use crate::fit::{Control, FitConfig, Validation};
use crate::history::EpochClock;
use crate::layer::Input;
use crate::metrics::{accuracy, classes, count_right, probabilities, ConfusionMatrix, Evaluation};
use crate::progress::Progress;
use crate::{
    seeded, EpochStats, Error, Gradients, History, Layer, LayerId, Loss, Optimizer, Param, Real, Result, Schedule,
    SeededRng, Stream,
};
use nalgebra::DMatrix;
use rand::RngExt;
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
    /// [`Error::Diverged`] (with no epoch) if the loss or a gradient is not finite, or if the
    /// update would leave a non-finite parameter or optimizer state — the update is then not
    /// applied (parameters, the layers' buffers such as batch normalization's running
    /// statistics, and optimizer state are as before; the gradients are consumed; running
    /// statistics that overflow are a divergence too);
    /// for a [`Sequential`](crate::Sequential), [`Error::NonFinite`] instead when the step
    /// diverged on a batch holding a NaN or an infinity (in `x` or `t`, named by row and
    /// column: the batch is looked at only then); shape errors from the layers or the loss;
    /// optimizer errors.
    fn train_step(
        &mut self,
        x: &DMatrix<T>,
        t: &DMatrix<T>,
        loss: &dyn Loss<T>,
        optimizer: &mut dyn Optimizer<T>,
        rng: &mut SeededRng,
    ) -> Result<T>;

    /// Whether [`train_step_samples`](Network::train_step_samples) reads its batch as it is laid
    /// out, without a copy (a [`Sequential`](crate::Sequential) whose first layer
    /// [takes samples](crate::Layer::takes_samples), such as one starting with a
    /// [`Dense`](crate::Dense)). [`fit`](Network::fit) then hands it minibatches as it gathers
    /// them, sample by sample; otherwise it transposes each batch and calls
    /// [`train_step`](Network::train_step). Default: `false`.
    fn takes_samples(&self) -> bool {
        false
    }

    /// [`train_step`](Network::train_step) on a batch given sample by sample: `xs` is
    /// `input_width × batch` (column `i` is sample `i`), the transpose of `train_step`'s `x`;
    /// `t` is as in `train_step`. The result is `train_step`'s on `xsᵀ`, up to rounding (see
    /// [`Layer::forward_train_samples`](crate::Layer::forward_train_samples)); `fit` takes the
    /// same path for the same network every time, so a seeded run is still bit-identical.
    ///
    /// The default transposes `xs` into a new matrix and calls `train_step`.
    ///
    /// # Errors
    /// As [`train_step`](Network::train_step).
    fn train_step_samples(
        &mut self,
        xs: &DMatrix<T>,
        t: &DMatrix<T>,
        loss: &dyn Loss<T>,
        optimizer: &mut dyn Optimizer<T>,
        rng: &mut SeededRng,
    ) -> Result<T> {
        self.train_step(&xs.transpose(), t, loss, optimizer, rng)
    }

    /// The course's "1 step" without the update: forward on the batch `x`, the loss against the
    /// targets `t`, backward — and nothing else. Returns the loss and every parameter's gradient
    /// by path (like `loss.backward()` without `optimizer.step()` in PyTorch); the parameters'
    /// values are unchanged.
    ///
    /// Unlike [`train_step`](Network::train_step), everything is checked first, as
    /// [`fit`](Network::fit) checks it: a non-empty `x` of the right width, finite, as many rows
    /// as `t`, and targets that suit the loss. Layers that draw random numbers in training (a
    /// dropout mask) draw them from [`seeded`]`(0, Stream::Train)`, so two calls on the same
    /// batch agree. Buffers (batch-norm statistics) may move, as in a training step.
    ///
    /// It runs `train_step` with an optimizer that copies the gradients and moves nothing, so
    /// the gradients are exactly the ones a training step would apply.
    ///
    /// # Errors
    /// [`Error::EmptyInput`], [`Error::FeatureMismatch`], [`Error::RowCountMismatch`],
    /// [`Error::NonFinite`] and the loss's target errors for bad data; [`Error::Diverged`] (with
    /// no epoch) if the loss, a gradient or a layer's running statistics are not finite;
    /// [`Error::MissingGradient`] or
    /// [`Error::GradientShape`] if a layer's `backward` left a parameter without a gradient of
    /// its shape (as a training step would).
    ///
    /// # Example: 실습 2's gradients at NumPy's seed-0 weights
    /// ```
    /// use backprop::prelude::*;
    /// use nalgebra::DMatrix;
    ///
    /// let mut net = Sequential::<f64>::builder(2)
    ///     .add(Dense::new(2, 3).without_bias())
    ///     .add(Sigmoid)
    ///     .add(Dense::new(3, 1).without_bias())
    ///     .add(Sigmoid)
    ///     .build(0)?;
    /// let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    /// let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    /// let before = net.param("0.weight").cloned();
    /// let grads = net.gradients(&x, &t, &SquaredError::half_sum())?;
    /// let layer_1_w_grad = grads.get("0.weight").ok_or(Error::NoSuchParam { path: "0.weight".into() })?;
    /// assert_eq!(layer_1_w_grad.shape(), (2, 3));
    /// assert_eq!(net.param("0.weight").cloned(), before); // nothing moved
    /// # Ok::<(), backprop::Error>(())
    /// ```
    fn gradients(&mut self, x: &DMatrix<T>, t: &DMatrix<T>, loss: &dyn Loss<T>) -> Result<Gradients<T>> {
        gradients_with(self, x, t, loss, &mut seeded(0, Stream::Train))
    }

    /// Calls `f` on every parameter with its path (`"0.weight"`, `"3.body.1.bias"`), in order:
    /// layer by layer, depth first, each layer's in its documented order. This order is the
    /// optimizer's, and the paths are the names in files and gradient-check reports.
    fn visit_params<'a>(&'a self, f: &mut dyn FnMut(&str, &'a Param<T>));

    /// Calls `f` on every parameter, mutably, with its path, in the order of
    /// [`visit_params`](Network::visit_params).
    fn visit_params_mut(&mut self, f: &mut dyn FnMut(&str, &mut Param<T>));

    /// Calls `f` on every buffer (state saved but never optimized, such as batch-norm running
    /// statistics) with its path, in order. The default has none.
    fn visit_buffers<'a>(&'a self, _f: &mut dyn FnMut(&str, &'a DMatrix<T>)) {}

    /// Calls `f` on every buffer, mutably, with its path, in the order of
    /// [`visit_buffers`](Network::visit_buffers).
    fn visit_buffers_mut(&mut self, _f: &mut dyn FnMut(&str, &mut DMatrix<T>)) {}

    /// Whether every layer is [smooth](crate::Layer::is_smooth) (a gradient check then fails
    /// on any probe that looks like a kink). The default is `false`.
    fn is_smooth(&self) -> bool {
        false
    }

    /// The fewest samples a training batch may hold: the largest
    /// [`Layer::min_training_batch`](crate::Layer::min_training_batch) of its layers (2 with
    /// batch normalization). [`fit`](Network::fit) never makes a batch smaller. The default is 1.
    fn min_training_batch(&self) -> usize {
        1
    }

    /// The output of the last training step, if there was one (used for training accuracy).
    fn last_output(&self) -> Option<&DMatrix<T>> {
        None
    }

    /// Calls `f` on every layer with its path and its output in the last training step,
    /// parents before their children (see [`Layer::visit_outputs`]): what
    /// [diagnostics](crate::diagnostics) measure. The default has none.
    // Spelled out rather than aliased, so an implementation outside the crate reads it as is.
    #[allow(clippy::type_complexity)]
    fn visit_outputs<'a>(&'a self, _f: &mut dyn FnMut(&str, &'a dyn Layer<T>, &'a DMatrix<T>)) {}

    /// Every parameter, in the order of [`visit_params`](Network::visit_params).
    fn params(&self) -> Vec<&Param<T>> {
        let mut params = Vec::new();
        self.visit_params(&mut |_, p| params.push(p));
        params
    }

    /// Every parameter with its path, in the order of [`visit_params`](Network::visit_params).
    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        let mut params = Vec::new();
        self.visit_params(&mut |path, p| params.push((path.to_string(), p)));
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
    /// Minibatches are gathered from a sample-by-sample copy of `x`, made at every call (kept
    /// in `config` for the next call's copy); to train on the same large data set more than
    /// once, [`fit_samples`](Network::fit_samples) on `x.transpose()` makes no copy.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`], [`Error::EmptyInput`], [`Error::FeatureMismatch`],
    /// [`Error::RowCountMismatch`], [`Error::NonFinite`], target errors of the loss,
    /// [`Error::BatchTooSmall`] if there are fewer training rows than
    /// [`min_training_batch`](Network::min_training_batch), and [`Error::Diverged`] if training
    /// produces a non-finite loss or gradient, or an update that would make a parameter or the
    /// optimizer's state non-finite: parameters and optimizer state then hold the values before
    /// the failed step — with [early stopping](FitConfig::early_stopping), the parameters are
    /// those of the best epoch done, as when it stops (after any error of a step) — and the
    /// error carries the epoch, the
    /// step, the history of the epochs done (with its `best_epoch`) and the
    /// [cause](crate::Divergence).
    ///
    /// A [schedule](FitConfig::schedule) sets the optimizer's learning rate epoch by epoch from
    /// the rate it has when `fit` starts; when `fit` returns, with or without an error, the
    /// optimizer has that rate again, so a second `fit` with the same configuration schedules
    /// from the same base rate.
    fn fit(&mut self, x: &DMatrix<T>, t: &DMatrix<T>, config: &mut FitConfig<T>) -> Result<History>
    where
        Self: Sized,
    {
        // On the crate's threads: the steps' products split without per-step handoffs.
        crate::threads::install(|| fit(self, Input::Rows(x), t, config))
    }

    /// [`fit`](Network::fit) on inputs given sample by sample: `xs` is `input_width × samples`
    /// (column `i` is sample `i`), the transpose of `fit`'s `x`; `t` is as in `fit`.
    ///
    /// `fit` gathers its minibatches from such a sample-by-sample copy of `x`, which it makes at
    /// every call (`x` is column-major, so a sample's features lie a column apart). Here the
    /// minibatches are gathered from `xs` itself: transpose `x` once (`x.transpose()`), and
    /// every `fit_samples` on it copies nothing of the data set. For MNIST that copy is 188 MB
    /// per call.
    ///
    /// The result is `fit`'s on `xsᵀ`, bit for bit: the same batches, the same steps. Only a
    /// full-batch run (batch size at least the training samples), which trains on the rows
    /// themselves, transposes the training samples once per call; a
    /// [validation split](FitConfig::validation_split) takes the last samples, as `fit` takes
    /// the last rows, and transposes them once per call. Validation data given to the
    /// configuration ([`FitConfig::validation_data`]) is rows, as for `fit`.
    ///
    /// # Errors
    /// As [`fit`](Network::fit), naming `xs` where `fit` names `x`.
    fn fit_samples(&mut self, xs: &DMatrix<T>, t: &DMatrix<T>, config: &mut FitConfig<T>) -> Result<History>
    where
        Self: Sized,
    {
        crate::threads::install(|| fit(self, Input::Samples(xs), t, config))
    }

    /// The loss and the accuracy of the network's predictions for `x` against targets `t`.
    ///
    /// Accuracy: with two or more outputs, the share of rows whose largest output is the target
    /// class (targets one-hot or class indices); with one output, the share of rows on the same
    /// side of 0.5 as the target.
    ///
    /// # Errors
    /// As [`predict`](Network::predict), plus [`Error::EmptyInput`] for `x` without rows (there
    /// is nothing to measure), [`Error::RowCountMismatch`] and the loss's target errors.
    fn evaluate(&self, x: &DMatrix<T>, t: &DMatrix<T>, loss: &dyn Loss<T>) -> Result<Evaluation> {
        if x.nrows() == 0 {
            return Err(Error::EmptyInput { what: "x to evaluate on", got: x.into() });
        }
        check_rows("x", x, t)?;
        loss.check_targets(self.output_width(), t)?;
        let y = self.predict(x)?;
        Ok(Evaluation { loss: loss.loss(&y, t)?.to_f64(), accuracy: accuracy(&y, t)? })
    }

    /// [`evaluate`](Network::evaluate) with the loss the network is trained with: `config`'s.
    ///
    /// # Errors
    /// As [`evaluate`](Network::evaluate).
    ///
    /// # Example
    /// ```
    /// use backprop::prelude::*;
    /// use nalgebra::DMatrix;
    /// let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    /// let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    /// let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 4)).add(Tanh).add(Dense::new(4, 1)).add(Sigmoid).build(0)?;
    /// let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.5)).epochs(500);
    /// net.fit(&x, &t, &mut config)?;
    /// let e = net.evaluate_with(&x, &t, &config)?;
    /// assert_eq!(e, net.evaluate(&x, &t, &SquaredError::half_sum())?);
    /// println!("{e}"); // loss 0.001234  accuracy 1.0000
    /// # Ok::<(), backprop::Error>(())
    /// ```
    fn evaluate_with(&self, x: &DMatrix<T>, t: &DMatrix<T>, config: &FitConfig<T>) -> Result<Evaluation> {
        self.evaluate(x, t, config.loss())
    }

    /// The predicted class of every row of `x`: with two or more outputs the one with the
    /// largest output, with one output 1 where it is at least 0.5 (see [`classes`]).
    ///
    /// # Errors
    /// As [`predict`](Network::predict).
    ///
    /// # Example
    /// ```
    /// use backprop::prelude::*;
    /// use nalgebra::DMatrix;
    /// let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 3)).build(0)?;
    /// net.set_param("0.weight", &DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))?;
    /// let x = DMatrix::from_row_slice(2, 2, &[5.0, 1.0, 0.0, 2.0]);
    /// assert_eq!(net.predict_classes(&x)?, [0, 1]);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    fn predict_classes(&self, x: &DMatrix<T>) -> Result<Vec<usize>> {
        classes(&self.predict(x)?)
    }

    /// Class probabilities for `x`: the softmax of every row of the outputs, for a network whose
    /// outputs are logits — one trained with [`SoftmaxCrossEntropy`](crate::SoftmaxCrossEntropy),
    /// which applies the softmax inside the loss. With one output, the outputs as they are (a
    /// sigmoid's probability of class 1). See [`probabilities`].
    ///
    /// # Errors
    /// As [`predict`](Network::predict).
    ///
    /// # Example
    /// ```
    /// use backprop::prelude::*;
    /// use nalgebra::DMatrix;
    /// let net = Sequential::<f64>::builder(4).add(Dense::new(4, 3)).build(0)?;
    /// let p = net.predict_proba(&DMatrix::from_element(2, 4, 0.5))?;
    /// for row in p.row_iter() {
    ///     assert!((row.sum() - 1.0).abs() < 1e-12);
    /// }
    /// # Ok::<(), backprop::Error>(())
    /// ```
    fn predict_proba(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        Ok(probabilities(&self.predict(x)?))
    }

    /// The [`ConfusionMatrix`] of the network's classes for `x` against targets `t` (one-hot
    /// rows or a column of class indices).
    ///
    /// # Errors
    /// As [`predict`](Network::predict) and [`ConfusionMatrix::from_outputs`].
    fn confusion_matrix(&self, x: &DMatrix<T>, t: &DMatrix<T>) -> Result<ConfusionMatrix> {
        check_rows("x", x, t)?;
        ConfusionMatrix::from_outputs(&self.predict(x)?, t)
    }
}

/// Copies every parameter value of `net`, in order.
fn snapshot<T: Real, N: Network<T>>(net: &N) -> Vec<DMatrix<T>> {
    let mut values = Vec::new();
    net.visit_params(&mut |_, p| values.push(p.value().clone()));
    net.visit_buffers(&mut |_, m| values.push(m.clone()));
    values
}

/// Puts back values taken by [`snapshot`].
fn restore<T: Real, N: Network<T>>(net: &mut N, values: &[DMatrix<T>]) {
    let mut values = values.iter();
    net.visit_params_mut(&mut |_, p| {
        if let Some(v) = values.next() {
            p.value_mut().copy_from(v);
        }
    });
    net.visit_buffers_mut(&mut |_, m| {
        if let Some(v) = values.next() {
            m.copy_from(v);
        }
    });
}

/// Checks inputs and targets for `net` and `loss`: `x` (rows, or `fit_samples`'s samples) not
/// empty, as wide as the network's input and finite; its first `samples` samples as many as the
/// targets' rows (all of rows; `fit_samples` keeps the last columns of `xs` for a validation
/// split); targets that suit the loss. Errors name the inputs `what`; the count names their
/// layout, `"x"` or `"xs"`.
fn check_data<T: Real, N: Network<T> + ?Sized>(
    net: &N,
    loss: &dyn Loss<T>,
    what: &'static str,
    x: Input<'_, T>,
    samples: usize,
    t: &DMatrix<T>,
) -> Result<()> {
    let (stored, counted) = match x {
        Input::Rows(m) => (m, "x"),
        Input::Samples(m) => (m, "xs"),
    };
    if stored.nrows() == 0 || stored.ncols() == 0 {
        return Err(Error::EmptyInput { what, got: stored.into() });
    }
    if x.features() != net.input_width() {
        // predict reports the mismatch with the first layer's name.
        net.predict(&DMatrix::zeros(0, x.features()))?;
    }
    if samples != t.nrows() {
        return Err(Error::RowCountMismatch { what: counted, x_rows: samples, t_rows: t.nrows() });
    }
    check_finite(what, stored)?;
    loss.check_targets(net.output_width(), t)
}

/// [`Network::gradients`] with the generator that training-only randomness (dropout masks) is
/// drawn from: the data are checked, then one [`Network::train_step`] runs with a
/// [`GradientCopier`], which records the gradients and leaves every value as it was.
pub(crate) fn gradients_with<T: Real, N: Network<T> + ?Sized>(
    net: &mut N,
    x: &DMatrix<T>,
    t: &DMatrix<T>,
    loss: &dyn Loss<T>,
    rng: &mut SeededRng,
) -> Result<Gradients<T>> {
    check_data(net, loss, "x", Input::Rows(x), x.nrows(), t)?;
    let mut copier = GradientCopier::default();
    let value = net.train_step(x, t, loss, &mut copier, rng)?;
    let mut grads = Vec::with_capacity(copier.grads.len());
    let mut copied = copier.grads.into_iter();
    net.visit_params(&mut |path, p| {
        let grad = copied.next().filter(|g| g.shape() == p.value().shape());
        grads.push((path.to_string(), grad.unwrap_or_else(|| DMatrix::zeros(p.value().nrows(), p.value().ncols()))));
    });
    Ok(Gradients { loss: value, grads })
}

/// An optimizer that copies the gradients it is given and moves nothing: what turns a training
/// step into [`Network::gradients`]. A parameter without a fresh gradient of its own shape is
/// an error, as in any optimizer's step.
#[derive(Debug, Default)]
pub(crate) struct GradientCopier<T: Real> {
    /// One gradient per parameter, in the optimizer's order.
    pub(crate) grads: Vec<DMatrix<T>>,
}

impl<T: Real> Optimizer<T> for GradientCopier<T> {
    fn name(&self) -> &'static str {
        "gradient copier"
    }

    fn learning_rate(&self) -> f64 {
        0.0
    }

    fn set_learning_rate(&mut self, _learning_rate: f64) -> Result<()> {
        Ok(())
    }

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        // A gradient a layer did not write, or wrote in another shape, is the error a training
        // step gives, not zeros: the gradients are those a step would apply.
        crate::optim::check_gradients(params)?;
        self.grads = params.iter().filter_map(|p| p.grad().cloned()).collect();
        Ok(())
    }
}

/// [`Network::fit`] and [`Network::fit_samples`]: the training loop, then the optimizer's
/// learning rate as it was before the schedule changed it.
fn fit<T: Real, N: Network<T>>(
    net: &mut N,
    x: Input<'_, T>,
    t: &DMatrix<T>,
    config: &mut FitConfig<T>,
) -> Result<History> {
    let base_rate = config.optimizer.learning_rate();
    let result = run(net, x, t, config, base_rate);
    // The rate changed only through `set_learning_rate` after the configuration, this rate
    // included, was validated, so setting it back cannot fail.
    if config.optimizer.learning_rate().to_bits() != base_rate.to_bits() {
        let restored = config.optimizer.set_learning_rate(base_rate);
        debug_assert!(restored.is_ok(), "{restored:?}");
    }
    result
}

/// The training inputs of a run: rows (`fit`'s `x`, or the training part of it), or the first
/// `n` samples of `fit_samples`'s `xs` (the others are the validation split's).
enum TrainingInputs<'a, T: Real> {
    Rows(std::borrow::Cow<'a, DMatrix<T>>),
    Samples { xs: &'a DMatrix<T>, n: usize },
}

impl<T: Real> TrainingInputs<'_, T> {
    /// The training samples.
    fn len(&self) -> usize {
        match self {
            TrainingInputs::Rows(x) => x.nrows(),
            TrainingInputs::Samples { n, .. } => *n,
        }
    }

    /// The stored inputs, as the data checks read them.
    fn input(&self) -> Input<'_, T> {
        match self {
            TrainingInputs::Rows(x) => Input::Rows(x),
            TrainingInputs::Samples { xs, .. } => Input::Samples(xs),
        }
    }
}

/// The training loop behind [`Network::fit`], the learning rate scheduled from `base_rate`.
fn run<T: Real, N: Network<T>>(
    net: &mut N,
    inputs: Input<'_, T>,
    t: &DMatrix<T>,
    config: &mut FitConfig<T>,
    base_rate: f64,
) -> Result<History> {
    config.validate()?;
    let (what, all) = match inputs {
        Input::Rows(x) => ("x", x),
        Input::Samples(xs) => ("xs", xs),
    };
    if all.nrows() == 0 || all.ncols() == 0 {
        return Err(Error::EmptyInput { what, got: all.into() });
    }
    let samples = inputs.batch();
    // Set the validation samples apart before checking anything else (a split copies the
    // validation part, and the training part of rows: once per fit, not per batch).
    let split = match &config.validation {
        Some(Validation::Split(f)) => {
            let n_val = ((samples as f64) * f).round() as usize;
            if n_val == 0 || n_val >= samples {
                return Err(Error::InvalidConfig {
                    name: "validation_split",
                    value: format!("{} of {} samples", crate::check::number(*f), samples),
                    expected: "a fraction leaving at least one sample on each side",
                });
            }
            Some(samples - n_val)
        }
        _ => None,
    };
    let rows = |m: &DMatrix<T>, r: std::ops::Range<usize>| m.rows(r.start, r.len()).into_owned();
    let (training, t_train, val) = match (split, &config.validation) {
        (Some(n), _) => {
            if samples != t.nrows() {
                return Err(Error::RowCountMismatch { what, x_rows: samples, t_rows: t.nrows() });
            }
            let (training, xv) = match inputs {
                Input::Rows(x) => (TrainingInputs::Rows(std::borrow::Cow::Owned(rows(x, 0..n))), rows(x, n..samples)),
                Input::Samples(xs) => (TrainingInputs::Samples { xs, n }, xs.columns(n, samples - n).transpose()),
            };
            (training, std::borrow::Cow::Owned(rows(t, 0..n)), Some((xv, rows(t, n..samples))))
        }
        (None, validation) => {
            let training = match inputs {
                Input::Rows(x) => TrainingInputs::Rows(std::borrow::Cow::Borrowed(x)),
                Input::Samples(xs) => TrainingInputs::Samples { xs, n: samples },
            };
            let val = match validation {
                Some(Validation::Data(xv, tv)) => Some((xv.clone(), tv.clone())),
                _ => None,
            };
            (training, std::borrow::Cow::Borrowed(t), val)
        }
    };
    let t = t_train.as_ref();
    let n = training.len();
    check_data(net, config.loss.as_ref(), what, training.input(), n, t)?;
    if let Some((xv, tv)) = &val {
        check_data(net, config.loss.as_ref(), "validation x", Input::Rows(xv), xv.nrows(), tv)?;
    }

    let batch = config.batch_size.unwrap_or(n).min(n);
    // A trailing batch smaller than the network trains on (one sample, with batch
    // normalization) is joined to the batch before it.
    let min_batch = net.min_training_batch().max(1);
    if n < min_batch {
        // The layer that asks for it, by its path, where the network shows its layers.
        let mut layer = LayerId::kind("network");
        net.visit_outputs(&mut |path, l, _| {
            if layer.path.is_none() && l.min_training_batch() == min_batch {
                layer = LayerId::at(path, l.kind());
            }
        });
        return Err(Error::BatchTooSmall { layer, min: min_batch, got: n });
    }
    let batch = batch.max(min_batch);
    let tail = n % batch;
    let joined_tail = n > batch && tail > 0 && tail < min_batch;
    let mut shuffle_rng = seeded(config.seed, Stream::Shuffle);
    let mut train_rng = seeded(config.seed, Stream::Train);
    let mut order: Vec<usize> = (0..n).collect();
    // Minibatches are gathered sample by sample (see feed.rs): from `xs`, or from a copy of `x`
    // kept in the configuration. The full batch is the training rows themselves.
    let mut feed = std::mem::take(&mut config.feed);
    let (full, given) = match &training {
        TrainingInputs::Rows(x) if batch < n => {
            feed.load(x);
            (None, None)
        }
        TrainingInputs::Rows(x) => (Some(std::borrow::Cow::Borrowed(x.as_ref())), None),
        TrainingInputs::Samples { xs, n } if batch == *n => {
            (Some(std::borrow::Cow::Owned(xs.columns(0, *n).transpose())), None)
        }
        TrainingInputs::Samples { xs, .. } => (None, Some(*xs)),
    };
    // A first layer that reads samples in place gets the gathered batch as it is (feed.rs).
    let by_samples = net.takes_samples();
    let mut history = History::with_capacity(config.epochs - config.start_epoch);
    history.first_epoch = config.start_epoch;
    let mut best: Option<(f64, usize, Vec<DMatrix<T>>)> = None;

    // Progress lines, callbacks and early stopping look at every epoch's numbers as they come.
    let watched = config.progress || config.callback.is_some() || config.patience.is_some();
    let mut clock = EpochClock::new();
    let mut progress = Progress::new(config.progress);
    let batches = n.div_ceil(batch);
    let mut probe = config.diagnostics.as_ref().map(|d| {
        let mut paths = Vec::new();
        net.visit_params(&mut |path, _| paths.push(path.to_string()));
        Probe::new(d, paths)
    });
    for epoch in config.start_epoch..config.epochs {
        progress.start_epoch(epoch, config.epochs, batches);
        to_epoch_stream(&mut train_rng, epoch);
        let rate = config.schedule.rate(base_rate, epoch, config.epochs);
        if config.schedule != Schedule::Constant {
            config.optimizer.set_learning_rate(rate)?;
        }
        let mut tally = Tally::default();
        if let Some(x) = full.as_deref() {
            // Full batch: the training rows themselves.
            let measured = probe.as_mut().and_then(|p| p.select(epoch, 0, 1));
            let stepped = tally.step(net, config, Input::Rows(x), t, &mut train_rng, measured);
            if let Err(e) = stepped {
                config.feed = feed;
                return Err(with_best(net, in_run(e, epoch, &tally, &history), best));
            }
            if progress.wants_batches() {
                progress.batch(tally.loss / n as f64, tally.correct / n as f64);
            }
        } else {
            if config.shuffle {
                to_epoch_stream(&mut shuffle_rng, epoch);
                order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
                shuffle(&mut order, &mut shuffle_rng);
            }
            let mut batches: Vec<&[usize]> = order.chunks(batch).collect();
            // The short tail joins the last full batch (n > batch, so n ≥ batch + tail: `get`
            // always finds them; were it not to, the batches would stay as they are).
            if let Some(last) = order.get(n - batch - tail..).filter(|_| joined_tail) {
                batches.pop();
                batches.pop();
                batches.push(last);
            }
            let count = batches.len();
            for (index, rows) in batches.into_iter().enumerate() {
                let (inputs, targets) = feed.gather(given, t, rows, by_samples);
                let measured = probe.as_mut().and_then(|p| p.select(epoch, index, count));
                let stepped = tally.step(net, config, inputs, targets, &mut train_rng, measured);
                if let Err(e) = stepped {
                    config.feed = feed;
                    return Err(with_best(net, in_run(e, epoch, &tally, &history), best));
                }
                if progress.wants_batches() {
                    tally.rows += rows.len();
                    progress.batch(tally.loss / tally.rows as f64, tally.correct / tally.rows as f64);
                }
            }
        }
        history.steps += tally.steps;
        let (val_loss, val_accuracy) = match &val {
            Some((xv, tv)) => {
                let e = net.evaluate(xv, tv, config.loss.as_ref())?;
                (Some(e.loss), Some(e.accuracy))
            }
            None => (None, None),
        };
        let stats = EpochStats {
            epoch,
            loss: tally.loss / n as f64,
            accuracy: tally.correct / n as f64,
            val_loss,
            val_accuracy,
            learning_rate: config.optimizer.learning_rate(),
            seconds: clock.lap(watched, &mut history.seconds),
        };
        history.push(&stats);
        history.diagnostics.extend(probe.as_mut().and_then(Probe::take));
        progress.end_epoch(&stats);
        let mut stop = config.callback.as_mut().is_some_and(|cb| cb(&stats) == Control::Stop);
        if let Some(patience) = config.patience {
            let monitored = val_loss.unwrap_or(stats.loss);
            match &best {
                Some((value, _, _)) if monitored >= *value => {}
                _ => best = Some((monitored, epoch, snapshot(net))),
            }
            if best.as_ref().is_some_and(|(_, e, _)| epoch - e >= patience) {
                stop = true;
            }
        }
        if stop {
            break;
        }
        if watched {
            // The time the progress line, callback or snapshot took belongs to no epoch.
            clock.restart();
        }
    }
    config.feed = feed;
    clock.flush(&mut history.seconds);
    if let Some((_, epoch, values)) = best {
        restore(net, &values);
        history.best_epoch = Some(epoch);
    }
    Ok(history)
}

/// Loss and correct predictions summed over an epoch's batches.
#[derive(Default)]
struct Tally {
    loss: f64,
    correct: f64,
    steps: usize,
    /// Rows done so far (counted only for the progress bar).
    rows: usize,
}

impl Tally {
    fn step<T: Real, N: Network<T>>(
        &mut self,
        net: &mut N,
        config: &mut FitConfig<T>,
        x: Input<'_, T>,
        t: &DMatrix<T>,
        rng: &mut SeededRng,
        probe: Option<&mut Probe<T>>,
    ) -> Result<()> {
        let step = |net: &mut N, optimizer: &mut dyn Optimizer<T>, rng: &mut SeededRng| match x {
            Input::Rows(x) => net.train_step(x, t, config.loss.as_ref(), optimizer, rng),
            Input::Samples(xs) => net.train_step_samples(xs, t, config.loss.as_ref(), optimizer, rng),
        };
        let loss = match probe {
            None => step(net, config.optimizer.as_mut(), rng)?,
            // A measured step: the watched optimizer sees the gradients and the update; the
            // layers' outputs of the step are still in place afterwards.
            Some(probe) => {
                let loss = step(net, &mut probe.watch(config.optimizer.as_mut()), rng)?;
                net.visit_outputs(&mut |path, layer, y| probe.layer(path, layer, y));
                loss
            }
        };
        let rows = x.batch() as f64;
        self.loss += loss.to_f64() * rows;
        if let Some(y) = net.last_output() {
            self.correct += count_right(y, t)? as f64;
        }
        self.steps += 1;
        Ok(())
    }
}

/// A training step's error as `fit` reports it: a divergence gets the epoch, the step's index in
/// the run and the history of the epochs done.
fn in_run(e: Error, epoch: usize, tally: &Tally, history: &History) -> Error {
    match e {
        Error::Diverged { loss, cause, parameter, .. } => Error::Diverged {
            epoch: Some(epoch),
            step: Some(history.steps + tally.steps),
            loss,
            cause,
            parameter,
            history: Some(Box::new(history.clone())),
        },
        e => e,
    }
}

/// A run that fails with early stopping on ends as early stopping promises, with the best
/// epoch's parameters (a `Diverged` error's history names it in `best_epoch`).
fn with_best<T: Real, N: Network<T>>(net: &mut N, e: Error, best: Option<(f64, usize, Vec<DMatrix<T>>)>) -> Error {
    let Some((_, best_epoch, values)) = best else {
        return e;
    };
    restore(net, &values);
    match e {
        Error::Diverged { epoch, step, loss, cause, parameter, history } => {
            let history = history.map(|mut h| {
                h.best_epoch = Some(best_epoch);
                h
            });
            Error::Diverged { epoch, step, loss, cause, parameter, history }
        }
        e => e,
    }
}

/// Words of a generator's stream reserved for one epoch: 2³⁶ (enough for 2³⁴ `f64` draws).
const EPOCH_WORDS_LOG2: u32 = 36;

/// Points `rng`, made by [`seeded`]`(seed, stream)`, at the start of epoch `epoch`'s window of
/// its stream: word `epoch · 2³⁶`. The generator then draws what it would for that epoch
/// whatever it drew before. (ChaCha's word position has 68 bits, so 2³² epochs have windows.)
/// Moving the position is cheap; changing the stream number would cost more than a whole epoch
/// of the course's XOR network.
fn to_epoch_stream(rng: &mut SeededRng, epoch: usize) {
    rng.set_word_pos(((epoch as u64 & 0xffff_ffff) as u128) << EPOCH_WORDS_LOG2);
}

/// Fisher–Yates shuffle, drawing from the crate's seeded generator.
fn shuffle(order: &mut [usize], rng: &mut SeededRng) {
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
}
