//! No update ever leaves a non-finite weight or optimizer state (issue 13, item 3): a step whose
//! update would is not applied — weights and optimizer state stay as before it — and `fit`
//! returns `Diverged` with the epoch, the step, the history so far and the cause, whose hint
//! names what to change.
//!
//! Reproductions first: before the checked update, each of these runs returned `Ok` with
//! infinite weights (or an infinite Adam moment), or `Diverged` with the weights already
//! infinite.

use backprop::prelude::*;
use backprop::{Divergence, Param};
use nalgebra::DMatrix;
use proptest::prelude::*;

/// 2 features → 1 output, weights `[3, −2]` (`λ·W` overflows for `λ` = 1e308), bias 0.
fn regressor() -> Sequential<f64> {
    let mut net = Sequential::builder(2).add(Dense::new(2, 1)).build(2).unwrap();
    net.set_param("0.weight", &DMatrix::from_column_slice(2, 1, &[3.0, -2.0])).unwrap();
    net
}

/// Four samples whose targets (100 apart from the outputs) give gradients far above 1.
fn data() -> (DMatrix<f64>, DMatrix<f64>) {
    let x = DMatrix::from_row_slice(4, 2, &[0.5, -1.0, 1.0, 0.25, -0.75, 0.5, 0.2, 0.9]);
    let t = DMatrix::from_column_slice(4, 1, &[100.0, -100.0, 50.0, 80.0]);
    (x, t)
}

/// Every parameter's bits, and every state matrix's name and bits.
type Bits = (Vec<Vec<u64>>, Vec<(String, Vec<u64>)>);

/// The [`Bits`] of a network and its optimizer.
fn bits(net: &Sequential<f64>, optimizer: &dyn Optimizer<f64>) -> Bits {
    let params = net.params().iter().map(|p| p.value().iter().map(|v| v.to_bits()).collect()).collect();
    let state = optimizer.state().into_iter().map(|(n, m)| (n, m.iter().map(|v| v.to_bits()).collect())).collect();
    (params, state)
}

/// The path of parameter `index` in the network's parameter order.
fn path_of(net: &Sequential<f64>, index: usize) -> String {
    let mut paths = Vec::new();
    net.visit_params(&mut |path, _| paths.push(path.to_string()));
    paths.get(index).cloned().unwrap_or_else(|| panic!("no parameter {index} in {paths:?}"))
}

/// A divergence in a nested layer names the parameter by its path inside the containers, in
/// `fit` and in a lone `train_step`.
#[test]
fn a_divergence_names_the_parameter_by_its_path() {
    let (x, t) = data();
    let build = || {
        Sequential::<f64>::builder(2)
            .add(Residual::identity(Chain::new().add(Dense::new(2, 2)).add(Tanh)))
            .add(Dense::new(2, 1))
            .build(4)
            .unwrap()
    };
    let mut net = build();
    let err = net.fit(&x, &t, &mut FitConfig::new(SquaredError::mean(), Sgd::new(1e308)).epochs(3)).unwrap_err();
    let Error::Diverged { cause, parameter: Some(parameter), .. } = &err else { panic!("{err:?}") };
    let index = cause.parameter_index().expect("an update's cause names a parameter");
    assert_eq!(*parameter, path_of(&net, index), "{err}");
    assert!(parameter.starts_with("0.") && parameter.matches('.').count() >= 2, "nested: {parameter}");
    assert!(err.to_string().contains(&format!("(the parameter at `{parameter}`)")), "{err}");

    let mut net = build();
    let mut sgd = Sgd::new(1e308);
    let mut rng = backprop::seeded(0, backprop::Stream::Train);
    let err = net.train_step(&x, &t, &SquaredError::mean(), &mut sgd, &mut rng).unwrap_err();
    let Error::Diverged { cause, parameter: Some(parameter), epoch: None, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*parameter, path_of(&net, cause.parameter_index().unwrap()), "{err}");

    // A loss that is not finite names no parameter.
    let nan_t = DMatrix::from_element(4, 1, 1e300);
    let err = build().fit(&x, &nan_t, &mut FitConfig::new(SquaredError::mean(), Sgd::new(0.1)).epochs(1)).unwrap_err();
    assert!(matches!(&err, Error::Diverged { cause: Divergence::Loss, parameter: None, .. }), "{err:?}");
}

fn all_finite(net: &Sequential<f64>, optimizer: &dyn Optimizer<f64>) -> bool {
    net.params().iter().all(|p| p.value().iter().all(|v| v.is_finite()))
        && optimizer.state().iter().all(|(_, m)| m.iter().all(|v| v.is_finite()))
}

/// Fits `epochs` full-batch epochs with `optimizer`, which must diverge: checks that the weights
/// and the state are those of a run stopped just before the failed step, and returns the cause.
fn diverges(optimizer: impl Optimizer<f64> + Clone + 'static, epochs: usize) -> (Divergence, usize, String) {
    let (x, t) = data();
    let mut net = regressor();
    let mut config = FitConfig::new(SquaredError::mean(), optimizer.clone()).epochs(epochs);
    let err = net.fit(&x, &t, &mut config).expect_err("the run diverges");
    let message = err.to_string();
    let Error::Diverged { epoch: Some(epoch), step: Some(step), loss, cause, parameter, history: Some(history) } = err
    else {
        panic!("expected Diverged in fit, got {err:?}")
    };
    assert!(loss.is_finite(), "the loss was fine, the update was not: {loss}");
    // The parameter the cause names by index, by its path too.
    assert_eq!(parameter, cause.parameter_index().map(|i| path_of(&net, i)), "{message}");
    if let Some(path) = &parameter {
        assert!(message.contains(&format!("`{path}`")), "{message}");
    }
    assert_eq!((step, history.epochs()), (epoch, epoch));
    assert!(all_finite(&net, config.optimizer()), "{message}");
    // The same as a run of the epochs before the failed one.
    let mut replay = regressor();
    let mut replay_config = FitConfig::new(SquaredError::mean(), optimizer).epochs(epoch.max(1));
    if epoch > 0 {
        replay.fit(&x, &t, &mut replay_config).unwrap();
    }
    assert_eq!(bits(&net, config.optimizer()), bits(&replay, replay_config.optimizer()), "{message}");
    (cause, epoch, message)
}

/// A run that diverges after its first epoch under a schedule: the message numbers the epoch
/// and the step from 1, as everything printed does (the fields count from 0), and the optimizer
/// is left at its base learning rate, as before `fit`, not at the failed epoch's.
#[test]
fn a_divergence_is_printed_from_1_and_leaves_the_base_rate() {
    let (x, t) = data();
    let base = 1e300;
    let schedule = Schedule::Exponential { gamma: 0.5 };
    let mut config = FitConfig::new(SquaredError::mean(), Sgd::new(base)).epochs(4).schedule(schedule);
    let err = regressor().fit(&x, &t, &mut config).expect_err("the run diverges");
    let Error::Diverged { epoch: Some(epoch), step: Some(step), .. } = &err else {
        panic!("expected Diverged, got {err:?}")
    };
    // After the first epoch: the failed epoch's rate was not the base rate.
    assert!(*epoch >= 1, "{err}");
    let message = err.to_string();
    assert!(message.contains(&format!("at epoch {}, step {}:", epoch + 1, step + 1)), "{message}");
    assert_eq!(config.optimizer().learning_rate(), base);
}

#[test]
fn a_huge_learning_rate_in_f64_is_refused_and_blamed() {
    for epochs in [1, 3] {
        let (cause, epoch, message) = diverges(Sgd::new(1e308), epochs);
        assert_eq!(epoch, 0);
        assert!(matches!(cause, Divergence::LearningRate { .. }), "{cause:?}");
        assert!(message.contains("learning rate too large"), "{message}");
    }
    let (cause, _, _) = diverges(Momentum::new(1e308), 3);
    assert!(matches!(cause, Divergence::LearningRate { index: 0, name: "weight" }), "{cause:?}");
}

#[test]
fn a_huge_weight_decay_in_f64_is_refused_and_blamed() {
    let sgd = Sgd::new(0.1).with_weight_decay(WeightDecay::Decoupled(1e308));
    let (cause, _, message) = diverges(sgd, 3);
    assert!(matches!(cause, Divergence::WeightDecay { index: 0, name: "weight" }), "{cause:?}");
    assert!(message.contains("weight decay too strong"), "{message}");
    assert!(!message.contains("learning rate too large"), "{message}");

    let (cause, _, _) = diverges(AdamW::new(0.1).with_weight_decay(1e308), 3);
    assert!(matches!(cause, Divergence::WeightDecay { .. }), "{cause:?}");
    let (x, t) = data();
    let mut net = regressor();
    let mut config = FitConfig::new(SquaredError::mean(), Adam::new(0.1).with_weight_decay(WeightDecay::L2(1e308)));
    let before = bits(&net, config.optimizer());
    // ½·λ·ΣW² is infinite before any update: the loss reported with it is.
    let err = net.fit(&x, &t, &mut config).unwrap_err();
    assert!(matches!(err, Error::Diverged { cause: Divergence::Penalty, .. }), "{err:?}");
    assert!(err.to_string().contains("weight decay too strong"), "{err}");
    assert_eq!(bits(&net, config.optimizer()), before);
}

/// A gradient whose square overflows made Adam's second moment infinite, while the weight moved
/// by 0 (`m/√∞`): `fit` returned Ok with an infinite state.
#[test]
fn an_overflowing_moment_is_refused_and_blames_the_gradient() {
    // Outputs near 1e100: the loss (near 1e200) is finite, the gradient's square is not.
    let x = DMatrix::from_row_slice(2, 2, &[1e100, -1e100, 1e100, 1e100]);
    let t = DMatrix::from_column_slice(2, 1, &[0.0, 1.0]);
    for optimizer in [
        Box::new(Adam::new(1e-3)) as Box<dyn Optimizer<f64>>,
        Box::new(RmsProp::new(1e-3)),
        Box::new(AdaGrad::new(1e-3)),
    ] {
        let name = optimizer.name();
        let mut net = regressor();
        let before = bits(&net, optimizer.as_ref());
        let mut config = FitConfig::new(SquaredError::mean(), optimizer).epochs(2);
        let err = net.fit(&x, &t, &mut config).expect_err(name);
        assert!(
            matches!(err, Error::Diverged { cause: Divergence::Gradient { .. }, epoch: Some(0), .. }),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains("standardize"), "{err}");
        assert_eq!(bits(&net, config.optimizer()), before, "{name}");
    }
}

/// A failed step puts back the state the optimizer had before it — Momentum's velocity and
/// Adam's moments and step count after one good step.
#[test]
fn a_refused_step_keeps_the_optimizer_state() {
    let (x, t) = data();
    let loss = SquaredError::mean();
    for name in ["momentum", "adam"] {
        let mut optimizer: Box<dyn Optimizer<f64>> =
            if name == "adam" { Box::new(Adam::new(0.01)) } else { Box::new(Momentum::new(0.01)) };
        let mut net = regressor();
        let mut rng = backprop::seeded(0, backprop::Stream::Train);
        net.train_step(&x, &t, &loss, optimizer.as_mut(), &mut rng).unwrap();
        let before = bits(&net, optimizer.as_ref());
        assert!(!before.1.is_empty());
        // Momentum overflows with a huge rate; Adam's step is bounded by its rate, so it is
        // given a gradient whose square overflows instead.
        let x = if name == "adam" { &x * 1e100 } else { x.clone() };
        optimizer.set_learning_rate(if name == "adam" { 0.01 } else { 1e308 }).unwrap();
        let err = net.train_step(&x, &t, &loss, optimizer.as_mut(), &mut rng).unwrap_err();
        assert!(matches!(err, Error::Diverged { epoch: None, .. }), "{err:?}");
        assert_eq!(bits(&net, optimizer.as_ref()), before, "{name}");
    }
}

/// `train_step` takes its batch as checked, but a step that diverges on a NaN or an infinity in
/// its batch names that value (row and column as `x`'s, or the targets'), not the learning rate;
/// nothing is applied. A finite batch that diverges is still `Diverged`.
#[test]
fn a_step_diverging_on_a_bad_batch_names_the_value() {
    let (x, t) = data();
    let loss = SquaredError::mean();
    let mut rng = backprop::seeded(0, backprop::Stream::Train);
    for (bad_x, row, col) in [(true, 2, 1), (false, 3, 0)] {
        let (mut x, mut t) = (x.clone(), t.clone());
        if bad_x {
            x[(row, col)] = f64::NAN;
        } else {
            t[(row, col)] = f64::INFINITY;
        }
        // As rows, and sample by sample (fit's path: the transpose, named as x).
        for samples in [false, true] {
            let mut net = regressor();
            let mut optimizer = Sgd::new(0.01);
            let before = bits(&net, &optimizer);
            let err = if samples {
                net.train_step_samples(&x.transpose(), &t, &loss, &mut optimizer, &mut rng).unwrap_err()
            } else {
                net.train_step(&x, &t, &loss, &mut optimizer, &mut rng).unwrap_err()
            };
            let what = if bad_x { "x" } else { "targets" };
            assert!(
                matches!(err, Error::NonFinite { what: w, row: r, col: c, .. } if w == what && r == row && c == col),
                "{what}, samples {samples}: {err:?}"
            );
            assert_eq!(bits(&net, &optimizer), before, "{what}");
        }
    }
    let mut optimizer = Sgd::new(1e308);
    let err = regressor().train_step(&(&x * 1e10), &t, &loss, &mut optimizer, &mut rng).unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }), "{err:?}");
}

/// A dense network with batch normalization: 2 → 3 → BN → 1.
fn normalized<T: backprop::Real>() -> Sequential<T> {
    Sequential::builder(2)
        .add(Dense::new(2, 3))
        .add(backprop::BatchNorm::new(3))
        .add(Dense::new(3, 1))
        .build(1)
        .unwrap()
}

/// Batch normalization's running statistics move in the forward pass. A step that fails after
/// them puts them back, and statistics that overflow (inputs on a huge, finite scale: their
/// variance passes f32's range while the normalized outputs stay finite) are a divergence:
/// the network is as before — it saves, loads and predicts as before — where it was left
/// predicting constants or NaN, in files it could not read back.
#[test]
fn a_failed_step_puts_the_running_statistics_back() {
    let (x, t) = data();
    // f32, inputs around 1e20: the loss is finite, the running variance overflows.
    let mut net = normalized::<f32>();
    let before = net.to_bytes().unwrap();
    let x32 = x.map(|v| v as f32 * 1e20);
    let t32 = t.map(|v| v as f32);
    let mut config = FitConfig::new(SquaredError::mean(), Sgd::new(0.01)).epochs(2);
    let err = net.fit(&x32, &t32, &mut config).unwrap_err();
    assert!(matches!(err, Error::Diverged { cause: Divergence::Statistics, epoch: Some(0), .. }), "{err:?}");
    assert!(err.to_string().contains("standardize"), "{err}");
    assert_eq!(net.to_bytes().unwrap(), before);
    Sequential::<f32>::from_bytes(&net.to_bytes().unwrap()).unwrap();

    // f64, a step whose loss is not finite after the forward pass moved the statistics.
    let mut net = normalized::<f64>();
    let before = net.to_bytes().unwrap();
    let err =
        net.fit(&(&x * 1e300), &(&t * 1e300), &mut FitConfig::new(SquaredError::mean(), Sgd::new(0.01))).unwrap_err();
    assert!(matches!(err, Error::Diverged { epoch: Some(0), .. }), "{err:?}");
    assert_eq!(net.to_bytes().unwrap(), before);
    // A step that succeeds does move them.
    net.fit(&x, &t, &mut FitConfig::new(SquaredError::mean(), Sgd::new(0.01)).epochs(1)).unwrap();
    assert_ne!(net.to_bytes().unwrap(), before);
}

/// A layer written outside the crate that makes its buffer in its first training pass: a
/// running mean of its inputs, `y = x`.
#[derive(Debug, Clone, Default)]
struct LazyMean {
    mean: Option<DMatrix<f64>>,
}

impl Layer<f64> for LazyMean {
    fn kind(&self) -> &'static str {
        "lazy_mean"
    }
    fn build(&mut self, input: backprop::Shape, _rng: &mut backprop::SeededRng) -> backprop::Result<backprop::Shape> {
        Ok(input)
    }
    fn forward(&self, x: &DMatrix<f64>, y: &mut DMatrix<f64>) -> backprop::Result<()> {
        backprop::ensure_shape(y, x.nrows(), x.ncols());
        y.copy_from(x);
        Ok(())
    }
    fn forward_train(
        &mut self,
        x: &DMatrix<f64>,
        y: &mut DMatrix<f64>,
        _: &mut backprop::SeededRng,
    ) -> backprop::Result<()> {
        let batch_mean = x.row_mean();
        let mean = self.mean.get_or_insert_with(|| DMatrix::zeros(1, x.ncols()));
        for (m, b) in mean.iter_mut().zip(batch_mean.iter()) {
            *m = 0.9 * *m + 0.1 * b;
        }
        self.forward(x, y)
    }
    fn backward(
        &mut self,
        _x: &DMatrix<f64>,
        _y: &DMatrix<f64>,
        grad_y: &DMatrix<f64>,
        grad_x: Option<&mut DMatrix<f64>>,
    ) -> backprop::Result<()> {
        if let Some(dx) = grad_x {
            backprop::ensure_shape(dx, grad_y.nrows(), grad_y.ncols());
            dx.copy_from(grad_y);
        }
        Ok(())
    }
    fn visit_buffers<'a>(&'a self, f: &mut dyn FnMut(&'static str, &'a DMatrix<f64>)) {
        if let Some(m) = &self.mean {
            f("mean", m);
        }
    }
    fn visit_buffers_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'static str, &'a mut DMatrix<f64>)) {
        if let Some(m) = &mut self.mean {
            f("mean", m);
        }
    }
}

/// A buffer that a layer of your own makes in its first training pass is put back after a
/// later failed step, as batch normalization's are: it was counted only when the network was
/// built, when it did not exist yet, so a failed step left it moved.
#[test]
fn a_failed_step_puts_back_a_buffer_made_in_the_first_pass() {
    let (x, t) = data();
    let mut net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 2))
        .add(LazyMean::default())
        .add(Dense::new(2, 1))
        .build(3)
        .unwrap();
    let mut sgd = Sgd::new(0.01);
    let mut rng = backprop::seeded(0, backprop::Stream::Train);
    net.train_step(&x, &t, &SquaredError::mean(), &mut sgd, &mut rng).unwrap();
    let mean = |net: &Sequential<f64>| {
        let mut found = Vec::new();
        net.visit_buffers(&mut |path, m| found.push((path.to_string(), m.clone())));
        found
    };
    let before = mean(&net);
    assert_eq!(before.len(), 1, "the first pass made the buffer");
    // A step that moves the mean and then diverges (the loss of targets at 1e300 overflows).
    let huge = &t * 1e300;
    let err = net.train_step(&(&x * 3.0), &huge, &SquaredError::mean(), &mut sgd, &mut rng).unwrap_err();
    assert!(matches!(err, Error::Diverged { cause: Divergence::Loss, .. }), "{err:?}");
    assert_eq!(mean(&net), before, "the failed step's running mean was put back");
    // A step that succeeds moves it.
    net.train_step(&(&x * 3.0), &t, &SquaredError::mean(), &mut sgd, &mut rng).unwrap();
    assert_ne!(mean(&net), before);
}

/// A huge finite loss prints short, as every number in a message does (it printed 251 digits).
#[test]
fn a_diverged_message_prints_a_huge_loss_short() {
    let cause = Divergence::Gradient { index: 0, name: "weight" };
    let err = Error::Diverged { epoch: Some(0), step: Some(0), loss: 1.5e250, cause, parameter: None, history: None };
    assert!(err.to_string().starts_with("training diverged at epoch 1, step 1: loss 1.5e250; "), "{err}");
}

/// An optimizer written outside the crate that sends a weight to infinity: the training step
/// puts the values and its exported state back, and blames the update.
#[derive(Debug, Clone, Default)]
struct Wild {
    steps: u64,
}

impl Optimizer<f64> for Wild {
    fn name(&self) -> &'static str {
        "wild"
    }
    fn learning_rate(&self) -> f64 {
        1.0
    }
    fn set_learning_rate(&mut self, _: f64) -> backprop::Result<()> {
        Ok(())
    }
    fn step(&mut self, params: &mut [&mut Param<f64>]) -> backprop::Result<()> {
        self.steps += 1;
        for p in params.iter_mut() {
            let Some((mut w, g)) = p.take_update() else { continue };
            // Finite for two steps, then far too large.
            let scale = if self.steps > 2 { 1e308 } else { 0.1 };
            for (w, &g) in w.iter_mut().zip(g.iter()) {
                *w -= scale * g * 1e10;
            }
        }
        Ok(())
    }
    fn state(&self) -> Vec<(String, DMatrix<f64>)> {
        vec![("steps".into(), DMatrix::from_element(1, 1, self.steps as f64))]
    }
    fn set_state(&mut self, state: Vec<(String, DMatrix<f64>)>) -> backprop::Result<()> {
        self.steps = state.first().map_or(0, |(_, m)| m[(0, 0)] as u64);
        Ok(())
    }
}

#[test]
fn an_optimizer_of_your_own_is_checked_and_undone() {
    let (x, t) = data();
    let mut net = regressor();
    let mut config = FitConfig::new(SquaredError::mean(), Wild::default()).epochs(10);
    let err = net.fit(&x, &t, &mut config).unwrap_err();
    assert!(
        matches!(err, Error::Diverged { cause: Divergence::Update { .. }, epoch: Some(2), step: Some(2), .. }),
        "{err:?}"
    );
    assert!(all_finite(&net, config.optimizer()));
    assert_eq!(config.optimizer().state()[0].1[(0, 0)], 2.0, "the state is put back too");
    let mut replay = regressor();
    replay.fit(&x, &t, &mut FitConfig::new(SquaredError::mean(), Wild::default()).epochs(2)).unwrap();
    assert_eq!(bits(&net, config.optimizer()).0, bits(&replay, &Wild::default()).0);
}

/// An optimizer written outside the crate that breaks its contract on its second step: it
/// replaces parameter 0 with one of another shape (or role), or updates it and then fails.
#[derive(Debug, Clone)]
struct Rogue {
    steps: u64,
    fault: Fault,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    Reshape,
    ReshapeNan,
    Rename,
    FailPartWay,
    /// Reorders the slice of references (allowed: the parameters stay as they are), then sends
    /// the value now first to NaN.
    SwapNan,
    /// Only reorders the slice.
    Swap,
}

impl Optimizer<f64> for Rogue {
    fn name(&self) -> &'static str {
        "rogue"
    }
    fn learning_rate(&self) -> f64 {
        0.01
    }
    fn set_learning_rate(&mut self, _: f64) -> backprop::Result<()> {
        Ok(())
    }
    fn step(&mut self, params: &mut [&mut Param<f64>]) -> backprop::Result<()> {
        self.steps += 1;
        for p in params.iter_mut() {
            let Some((mut w, g)) = p.take_update() else { continue };
            for (w, &g) in w.iter_mut().zip(g.iter()) {
                *w -= 0.01 * g;
            }
        }
        if self.steps < 2 {
            return Ok(());
        }
        let (rows, cols) = params[0].value().shape();
        let value = if self.fault == Fault::ReshapeNan { f64::NAN } else { 1.0 };
        match self.fault {
            Fault::Reshape | Fault::ReshapeNan => {
                *params[0] = Param::new("weight", DMatrix::from_element(rows + 1, cols, value), params[0].decay())
            }
            Fault::Rename => *params[0] = Param::new("other", params[0].value().clone(), params[0].decay()),
            Fault::FailPartWay => return Err(Error::InvalidConfig { name: "rogue", value: "2".into(), expected: "1" }),
            Fault::SwapNan => {
                params.swap(0, 1);
                params[0].value_mut()[0] = f64::NAN;
            }
            Fault::Swap => params.swap(0, 1),
        }
        Ok(())
    }
    fn state(&self) -> Vec<(String, DMatrix<f64>)> {
        vec![("steps".into(), DMatrix::from_element(1, 1, self.steps as f64))]
    }
    fn set_state(&mut self, state: Vec<(String, DMatrix<f64>)>) -> backprop::Result<()> {
        self.steps = state.first().map_or(0, |(_, m)| m[(0, 0)] as u64);
        Ok(())
    }
}

/// An optimizer that replaces a parameter rather than updating it, or fails part way through
/// its step, has the step undone: the network's values (and shapes) and the optimizer's state
/// are those before it, and the network still predicts, saves and trains.
#[test]
fn an_optimizer_that_breaks_its_contract_is_undone() {
    let (x, t) = data();
    let loss = SquaredError::mean();
    for fault in [Fault::Reshape, Fault::ReshapeNan, Fault::Rename, Fault::FailPartWay, Fault::SwapNan] {
        let mut net = regressor();
        let mut optimizer = Rogue { steps: 0, fault };
        let mut rng = backprop::seeded(0, backprop::Stream::Train);
        net.train_step(&x, &t, &loss, &mut optimizer, &mut rng).unwrap();
        let before = bits(&net, &optimizer);
        let err = net.train_step(&x, &t, &loss, &mut optimizer, &mut rng).unwrap_err();
        match fault {
            Fault::FailPartWay => assert!(matches!(err, Error::InvalidConfig { name: "rogue", .. }), "{err:?}"),
            // The bias (now first in the slice) is named by its place in the network's order.
            Fault::SwapNan => assert!(
                matches!(err, Error::Diverged { cause: Divergence::Update { index: 1, name: "bias" }, .. }),
                "{err:?}"
            ),
            Fault::Rename => assert!(
                matches!(err, Error::ParamReplaced { index: 0, name: "weight", replacement: "other", .. }),
                "{err:?}"
            ),
            _ => assert!(
                matches!(
                    err,
                    Error::ParamReplaced {
                        index: 0,
                        name: "weight",
                        expected: backprop::Dims(2, 1),
                        got: backprop::Dims(3, 1),
                        ..
                    }
                ),
                "{fault:?}: {err:?}"
            ),
        }
        assert_eq!(bits(&net, &optimizer), before, "{fault:?}");
        assert_eq!(net.params()[0].name(), "weight");
        net.predict(&x).unwrap();
        net.to_bytes().unwrap();
        net.train_step(&x, &t, &loss, &mut Sgd::new(0.01), &mut rng).unwrap();
        // In fit with early stopping (which restores a snapshot at the end), the same: the run
        // ends with the parameters of its one epoch done, the best, as a lone first step leaves
        // them (the failed second step undone, nothing replaced).
        let mut net = regressor();
        let mut config = FitConfig::new(loss, Rogue { steps: 0, fault }).epochs(5).early_stopping(3);
        let err = net.fit(&x, &t, &mut config).expect_err("the second epoch's step fails");
        if let Error::Diverged { history: Some(history), .. } = &err {
            assert_eq!((history.epochs(), history.best_epoch), (1, Some(0)), "{fault:?}");
        }
        let mut first_step = regressor();
        first_step.train_step(&x, &t, &loss, &mut Rogue { steps: 0, fault }, &mut rng).unwrap();
        assert_eq!(bits(&net, &Sgd::new(0.01)).0, bits(&first_step, &Sgd::new(0.01)).0, "{fault:?}: {err}");
        net.predict(&x).unwrap();
    }
    // Reordering the slice of references alone is allowed: the steps stand, as with plain descent.
    let (mut net, mut plain) = (regressor(), regressor());
    let mut rng = backprop::seeded(0, backprop::Stream::Train);
    let mut optimizer = Rogue { steps: 0, fault: Fault::Swap };
    for _ in 0..3 {
        net.train_step(&x, &t, &loss, &mut optimizer, &mut rng).unwrap();
        plain.train_step(&x, &t, &loss, &mut Sgd::new(0.01), &mut rng).unwrap();
    }
    assert_eq!(bits(&net, &Sgd::new(0.01)).0, bits(&plain, &Sgd::new(0.01)).0);
}

/// Gradient descent that overshoots after three steps (a rate far too large, still finite) and
/// overflows at its sixth.
#[derive(Debug, Clone, Default)]
struct Overshoot {
    steps: u64,
}

impl Optimizer<f64> for Overshoot {
    fn name(&self) -> &'static str {
        "overshoot"
    }
    fn learning_rate(&self) -> f64 {
        0.05
    }
    fn set_learning_rate(&mut self, _: f64) -> backprop::Result<()> {
        Ok(())
    }
    fn step(&mut self, params: &mut [&mut Param<f64>]) -> backprop::Result<()> {
        self.steps += 1;
        let rate = match self.steps {
            1..=3 => 0.05,
            4 | 5 => 3.0,
            _ => 1e308,
        };
        for p in params.iter_mut() {
            let Some((mut w, g)) = p.take_update() else { continue };
            for (w, &g) in w.iter_mut().zip(g.iter()) {
                *w -= rate * g;
            }
        }
        Ok(())
    }
}

/// Early stopping promises the best epoch's parameters "in any case": a run that diverges after
/// its best epoch ends with them, as the same run stopped before the failed step does.
#[test]
fn a_diverged_run_with_early_stopping_ends_at_its_best_epoch() {
    let (x, t) = data();
    let config = |epochs| {
        FitConfig::new(SquaredError::mean(), Overshoot::default())
            .epochs(epochs)
            .validation_data(&x, &t)
            .early_stopping(100)
    };
    let mut net = regressor();
    let err = net.fit(&x, &t, &mut config(10)).unwrap_err();
    let Error::Diverged { epoch: Some(5), history: Some(history), .. } = err else { panic!("{err:?}") };
    let mut replay = regressor();
    let replayed = replay.fit(&x, &t, &mut config(5)).unwrap();
    let best = replayed.best_epoch.unwrap();
    // The overshooting steps made the last epochs worse: the best is before them.
    assert!(best < 4, "best epoch {best}, losses {:?}", replayed.val_loss);
    assert_eq!(history.best_epoch, Some(best));
    assert_eq!(bits(&net, &Sgd::new(0.1)).0, bits(&replay, &Sgd::new(0.1)).0);
}

/// An optimizer by index, with learning rate `lr` and weight decay `decay`.
fn any_optimizer(which: usize, lr: f64, decay: WeightDecay) -> Box<dyn Optimizer<f64>> {
    match which {
        0 => Box::new(Sgd::new(lr).with_weight_decay(decay)),
        1 => Box::new(Momentum::new(lr).with_weight_decay(decay)),
        2 => Box::new(Nesterov::new(lr).with_weight_decay(decay)),
        3 => Box::new(AdaGrad::new(lr).with_weight_decay(decay)),
        4 => Box::new(RmsProp::new(lr).with_weight_decay(decay)),
        5 => Box::new(Adam::new(lr).with_weight_decay(decay)),
        _ => Box::new(AdamW::new(lr).with_weight_decay(decay.lambda())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// For any finite inputs and any hyperparameters the optimizers accept, every weight and
    /// state value after `fit` is finite — or `fit` returned an error, and they are the last
    /// finite ones.
    #[test]
    fn weights_stay_finite(
        which in 0usize..7,
        lr_exp in -4.0f64..308.0,
        decay_exp in -4.0f64..308.0,
        decay_kind in 0usize..3,
        x_exp in -10.0f64..200.0,
        batch in 1usize..5,
    ) {
        let (x, t) = data();
        let x = x * 10f64.powf(x_exp);
        let lambda = 10f64.powf(decay_exp);
        let decay = [WeightDecay::None, WeightDecay::L2(lambda), WeightDecay::Decoupled(lambda)][decay_kind];
        let mut net = Sequential::builder(2).add(Dense::new(2, 3)).add(Tanh).add(Dense::new(3, 1)).build(4).unwrap();
        let mut config = FitConfig::new(SquaredError::mean(), any_optimizer(which, 10f64.powf(lr_exp), decay))
            .epochs(4)
            .batch_size(batch);
        match net.fit(&x, &t, &mut config) {
            Ok(_) | Err(Error::Diverged { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
        let finite = net.params().iter().all(|p| p.value().iter().all(|v| v.is_finite()))
            && config.optimizer().state().iter().all(|(_, m)| m.iter().all(|v| v.is_finite()));
        prop_assert!(finite);
    }
}
