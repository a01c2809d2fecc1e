//! Bad inputs give the right error and change nothing (RELIABILITY.md §8): the network's
//! parameters are bitwise as before, the caller's data is untouched, nothing panics.

use backprop::Decay;
use backprop::{
    seeded, Adam, BinaryCrossEntropy, Dense, Dims, Dropout, Error, FitConfig, Identity, Init, Layer, LayerId, Network,
    Optimizer, Param, Sequential, Sgd, Shape, Sigmoid, Softmax, SoftmaxCrossEntropy, SquaredError, Stream, Tanh,
    MAX_ELEMENTS,
};
use nalgebra::DMatrix;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// 2 features → 3 classes.
fn classifier() -> Sequential<f64> {
    Sequential::builder(2).add(Dense::new(2, 4)).add(Tanh).add(Dense::new(4, 3)).build(1).unwrap()
}

/// 2 features → 1 real output.
fn regressor() -> Sequential<f64> {
    Sequential::builder(2).add(Dense::new(2, 1)).add(Identity).build(2).unwrap()
}

/// Six samples of two features.
fn inputs() -> DMatrix<f64> {
    Init::Uniform { low: -1.0, high: 1.0 }.matrix(6, 2, &mut seeded(3, Stream::Init)).unwrap()
}

/// Class indices in 0..3 for [`inputs`].
fn labels() -> DMatrix<f64> {
    DMatrix::from_column_slice(6, 1, &[0.0, 1.0, 2.0, 2.0, 1.0, 0.0])
}

fn sce_config() -> FitConfig<f64> {
    FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(3)
}

/// Every parameter's shape and bits.
fn snapshot<N: Network<f64>>(net: &N) -> Vec<((usize, usize), Vec<u64>)> {
    net.params().iter().map(|p| (p.value().shape(), p.value().iter().map(|v| v.to_bits()).collect())).collect()
}

fn bits(m: &DMatrix<f64>) -> ((usize, usize), Vec<u64>) {
    (m.shape(), m.iter().map(|v| v.to_bits()).collect())
}

/// Runs `fit`, which must fail; checks that neither the network nor the data changed.
fn fit_err(net: &mut Sequential<f64>, x: &DMatrix<f64>, t: &DMatrix<f64>, config: &mut FitConfig<f64>) -> Error {
    let (before, x_before, t_before) = (snapshot(net), bits(x), bits(t));
    let err = net.fit(x, t, config).expect_err("fit must fail");
    assert_eq!(snapshot(net), before, "parameters changed by a failed fit ({err})");
    assert_eq!((bits(x), bits(t)), (x_before, t_before), "caller's data changed");
    err
}

/// Runs `predict`, which must fail; checks that neither the network nor the data changed.
fn predict_err(net: &Sequential<f64>, x: &DMatrix<f64>) -> Error {
    let (before, x_before) = (snapshot(net), bits(x));
    let err = net.predict(x).expect_err("predict must fail");
    assert_eq!(snapshot(net), before);
    assert_eq!(bits(x), x_before);
    err
}

// ---------------------------------------------------------------------------------------------
// Empty and misshapen data

#[test]
fn fit_on_no_rows_is_empty_input() {
    let mut net = classifier();
    let err = fit_err(&mut net, &DMatrix::zeros(0, 2), &DMatrix::zeros(0, 1), &mut sce_config());
    assert!(matches!(err, Error::EmptyInput { what: "x", got: Dims(0, 2) }), "{err:?}");
}

#[test]
fn predict_on_no_rows_is_an_empty_result() {
    let net = classifier();
    let before = snapshot(&net);
    let y = net.predict(&DMatrix::zeros(0, 2)).unwrap();
    assert_eq!(y.shape(), (0, 3));
    assert_eq!(snapshot(&net), before);
}

#[test]
fn wrong_feature_count() {
    let mut net = classifier();
    let x = DMatrix::from_element(6, 3, 0.5);
    let err = fit_err(&mut net, &x, &labels(), &mut sce_config());
    let expected = LayerId::at("0", "dense");
    assert!(matches!(&err, Error::FeatureMismatch { layer, expected: 2, got: 3 } if *layer == expected), "{err:?}");
    assert_eq!(err.to_string(), "layer 0 (dense) expects input with 2 features, got 3");

    let err = predict_err(&net, &x);
    assert!(matches!(&err, Error::FeatureMismatch { layer, expected: 2, got: 3 } if *layer == expected), "{err:?}");
    assert!(format!("{err}").contains("expects input with 2 features, got 3"), "{err}");

    // No columns at all, even with no rows.
    let err = predict_err(&net, &DMatrix::zeros(0, 0));
    assert!(matches!(err, Error::FeatureMismatch { expected: 2, got: 0, .. }), "{err:?}");
}

#[test]
fn rows_of_x_and_targets_differ() {
    let mut net = classifier();
    let t = DMatrix::from_column_slice(5, 1, &[0.0, 1.0, 2.0, 2.0, 1.0]);
    let err = fit_err(&mut net, &inputs(), &t, &mut sce_config());
    assert!(matches!(err, Error::RowCountMismatch { x_rows: 6, t_rows: 5, .. }), "{err:?}");
    assert_eq!(err.to_string(), "x: 6 samples, but the targets have 5 (one row per sample)");

    let err = net.evaluate(&inputs(), &t, &SoftmaxCrossEntropy).unwrap_err();
    assert!(matches!(err, Error::RowCountMismatch { x_rows: 6, t_rows: 5, .. }), "{err:?}");
}

#[test]
fn one_hot_targets_of_the_wrong_width() {
    let mut net = classifier();
    for width in [2, 4] {
        let t = DMatrix::from_fn(6, width, |i, j| if i % width == j { 1.0 } else { 0.0 });
        let err = fit_err(&mut net, &inputs(), &t, &mut sce_config());
        assert!(
            matches!(err, Error::TargetShapeMismatch { loss: "softmax_cross_entropy", got, .. } if got == Dims(6, width)),
            "{err:?}"
        );
    }
    // The same for a regression loss: one target column per output.
    let mut net = regressor();
    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1));
    let err = fit_err(&mut net, &inputs(), &DMatrix::zeros(6, 2), &mut config);
    assert!(matches!(err, Error::TargetShapeMismatch { loss: "squared_error", got: Dims(6, 2), .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Non-finite values and labels

#[test]
fn non_finite_inputs() {
    let mut net = classifier();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = inputs();
        x[(4, 1)] = bad;
        let err = fit_err(&mut net, &x, &labels(), &mut sce_config());
        assert!(matches!(err, Error::NonFinite { what: "x", row: 4, col: 1, .. }), "{err:?}");
        let Error::NonFinite { value, .. } = err else { unreachable!() };
        assert_eq!(value.to_bits(), bad.to_bits());

        let err = predict_err(&net, &x);
        assert!(matches!(err, Error::NonFinite { what: "x", row: 4, col: 1, .. }), "{err:?}");
    }
    let mut x = inputs();
    x[(2, 0)] = f64::NAN;
    assert_eq!(predict_err(&net, &x).to_string(), "x holds a non-finite value NaN at row 2, column 0");
}

#[test]
fn non_finite_targets() {
    // Regression targets.
    let mut net = regressor();
    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1));
    let mut t = DMatrix::from_element(6, 1, 0.5);
    t[(3, 0)] = f64::NAN;
    let err = fit_err(&mut net, &inputs(), &t, &mut config);
    assert!(matches!(err, Error::NonFinite { what: "targets", row: 3, col: 0, .. }), "{err:?}");

    // A class label that is NaN.
    let mut net = classifier();
    let mut t = labels();
    t[(5, 0)] = f64::NAN;
    let err = fit_err(&mut net, &inputs(), &t, &mut sce_config());
    assert!(matches!(err, Error::NonFinite { what: "targets", row: 5, col: 0, .. }), "{err:?}");

    // One-hot targets with an infinity.
    let mut t = DMatrix::from_fn(6, 3, |i, j| if labels()[i] == j as f64 { 1.0 } else { 0.0 });
    t[(1, 2)] = f64::INFINITY;
    let err = fit_err(&mut net, &inputs(), &t, &mut sce_config());
    assert!(matches!(err, Error::NonFinite { what: "targets", row: 1, col: 2, .. }), "{err:?}");
}

#[test]
fn class_labels_out_of_range_fractional_or_negative() {
    let mut net = classifier();
    for bad in [3.0, 7.0, 1.5, -1.0, 0.25] {
        let mut t = labels();
        t[(4, 0)] = bad;
        let err = fit_err(&mut net, &inputs(), &t, &mut sce_config());
        assert!(matches!(err, Error::LabelOutOfRange { row: 4, label, classes: 3 } if label == bad), "{err:?}");

        let err = net.evaluate(&inputs(), &t, &SoftmaxCrossEntropy).unwrap_err();
        assert!(matches!(err, Error::LabelOutOfRange { row: 4, classes: 3, .. }), "{err:?}");
    }
    let mut t = labels();
    t[(4, 0)] = 3.0;
    let err = fit_err(&mut net, &inputs(), &t, &mut sce_config());
    assert_eq!(err.to_string(), "label 3 at row 4 is not a class index in 0..3");
}

#[test]
fn binary_targets_outside_zero_one() {
    let mut net = Sequential::builder(2).add(Dense::new(2, 1)).add(Sigmoid).build(4).unwrap();
    let mut config = FitConfig::new(BinaryCrossEntropy, Sgd::new(0.1));
    let mut t = DMatrix::from_element(6, 1, 1.0);
    t[(2, 0)] = 1.5;
    let err = fit_err(&mut net, &inputs(), &t, &mut config);
    assert!(
        matches!(err, Error::TargetOutOfRange { loss: "binary_cross_entropy", row: 2, col: 0, value, .. } if value == 1.5),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "binary_cross_entropy: targets must be in [0, 1], got 1.5 at row 2, column 0");
    // The first bad value in memory order (column by column), with its column.
    let mut t = DMatrix::<f64>::from_element(3, 2, 0.5);
    t[(1, 1)] = -0.25;
    t[(2, 1)] = 2.0;
    let err = backprop::Loss::<f64>::check_targets(&BinaryCrossEntropy, 2, &t).unwrap_err();
    assert!(matches!(err, Error::TargetOutOfRange { row: 1, col: 1, value, .. } if value == -0.25), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn zero_epochs_or_batch_size() {
    let mut net = classifier();
    let err = fit_err(&mut net, &inputs(), &labels(), &mut sce_config().epochs(0));
    assert!(matches!(&err, Error::InvalidConfig { name: "epochs", value, .. } if value == "0"), "{err:?}");
    let err = fit_err(&mut net, &inputs(), &labels(), &mut sce_config().batch_size(0));
    assert!(matches!(&err, Error::InvalidConfig { name: "batch_size", value, .. } if value == "0"), "{err:?}");
}

#[test]
fn learning_rates_that_are_not_positive_and_finite() {
    for lr in [0.0, -0.1, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = Sgd::new(lr).validate().unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { name: "learning_rate", .. }), "{lr}: {err:?}");
        let err = Adam::new(lr).validate().unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { name: "learning_rate", .. }), "{lr}: {err:?}");
    }
    assert_eq!(
        Sgd::new(-1.0).validate().unwrap_err().to_string(),
        "invalid learning_rate: expected > 0 and finite, got -1"
    );

    // Changing the rate later is checked the same way, and a refused rate is not taken.
    let mut sgd = Sgd::new(0.5);
    let err = Optimizer::<f64>::set_learning_rate(&mut sgd, f64::NAN).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "learning_rate", .. }), "{err:?}");
    assert_eq!(sgd.learning_rate(), 0.5);
}

#[test]
fn layers_that_do_not_chain() {
    let err = Sequential::<f64>::builder(4).add(Dense::new(4, 8)).add(Dense::new(16, 2)).build(0).unwrap_err();
    let expected = LayerId::at("1", "dense");
    assert!(matches!(&err, Error::LayerChain { layer, expected: 16, got: 8 } if *layer == expected), "{err:?}");
    assert_eq!(err.to_string(), "layer 1 (dense) expects 16 input features, but the layers before it give 8");

    // The first layer against the network's input width.
    let err = Sequential::<f64>::builder(3).add(Sigmoid).add(Dense::new(2, 2)).build(0).unwrap_err();
    assert!(matches!(&err, Error::LayerChain { layer, expected: 2, got: 3 } if layer.path() == "1"), "{err:?}");
}

#[test]
fn a_network_without_layers() {
    let err = Sequential::<f64>::builder(3).build(0).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "layers", .. }), "{err:?}");
}

#[test]
fn zero_dimensions() {
    let err = Sequential::<f64>::builder(3).add(Dense::new(3, 0)).build(0).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "out_dim", .. }), "{err:?}");
    let err = Sequential::<f64>::builder(2).add(Dense::new(0, 2)).build(0).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "in_dim", .. }), "{err:?}");
    let err = Sequential::<f64>::builder(0).add(Dense::new(0, 2)).build(0).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "input width", .. }), "{err:?}");
    // A layer on its own.
    let err = Dense::<f32>::new(0, 0).build(Shape::Flat(0), &mut seeded(0, Stream::Init)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "in_dim", .. }), "{err:?}");
}

#[test]
#[cfg(target_pointer_width = "64")]
fn huge_layers_are_refused_before_allocating() {
    // 2⁶⁴ elements overflow usize; allocating would abort the process, so the test finishing
    // shows that nothing was allocated.
    let n = 1usize << 32;
    let err = Sequential::<f32>::builder(n).add(Dense::new(n, n)).build(0).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { rows, cols, limit, .. } if rows == n && cols == n && limit == MAX_ELEMENTS),
        "{err:?}"
    );
    assert!(err.to_string().contains("4294967296x4294967296"), "{err}");

    // No overflow, but over the cap: 2³¹ elements.
    let err = Sequential::<f64>::builder(1 << 15).add(Dense::new(1 << 15, 1 << 16)).build(0).unwrap_err();
    assert!(matches!(err, Error::TooLarge { rows: 32768, cols: 65536, .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Training that goes wrong

#[test]
fn diverging_training_keeps_the_last_finite_parameters() {
    let x = inputs();
    let t = DMatrix::from_fn(6, 1, |i, _| 3.0 * x[(i, 0)] - 2.0 * x[(i, 1)] + 1.0);
    let config = || FitConfig::new(SquaredError::mean(), Sgd::new(1e6)).epochs(10_000);

    let mut net = regressor();
    let initial = snapshot(&net);
    let err = net.fit(&x, &t, &mut config()).unwrap_err();
    let Error::Diverged { epoch: Some(epoch), step: Some(step), loss, history: Some(history), .. } = err else {
        panic!("expected Diverged at an epoch, got {err:?}")
    };
    assert!(!loss.is_finite(), "{loss}");
    assert!((1..10_000).contains(&epoch), "{epoch}");
    // Full batch: one step per epoch; the history holds the epochs done before the failed one.
    assert_eq!((step, history.epochs(), history.steps), (epoch, epoch, epoch));
    assert!(history.loss.iter().all(|l| l.is_finite()));
    assert!(net.params().iter().all(|p| p.value().iter().all(|v| v.is_finite())));
    assert_ne!(snapshot(&net), initial, "epochs before the divergence did train");

    // The failed update was not applied: the parameters are those after `epoch` good epochs.
    let mut replay = regressor();
    replay.fit(&x, &t, &mut config().epochs(epoch)).unwrap();
    assert_eq!(snapshot(&net), snapshot(&replay));
}

#[test]
fn a_batch_larger_than_the_data_is_one_step_per_epoch() {
    let (x, t) = (inputs(), labels());
    let mut net = classifier();
    let history = net.fit(&x, &t, &mut sce_config().epochs(5).batch_size(100)).unwrap();
    assert_eq!(history.steps, 5);
    assert_eq!(history.loss.len(), 5);

    // Exactly full-batch training.
    let mut full = classifier();
    let full_history = full.fit(&x, &t, &mut sce_config().epochs(5)).unwrap();
    assert_eq!(snapshot(&net), snapshot(&full));
    assert_eq!(history.loss, full_history.loss);

    // Whereas 4 of 6 rows makes two steps (4 + 2) per epoch.
    let history = classifier().fit(&x, &t, &mut sce_config().epochs(5).batch_size(4)).unwrap();
    assert_eq!(history.steps, 10);
}

#[test]
fn fit_after_a_failed_fit() {
    let (x, t) = (inputs(), labels());
    let mut bad_x = x.clone();
    bad_x[(0, 0)] = f64::NAN;
    // Adam keeps state created on its first step: a failed fit must not have created any.
    let config = || FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01)).epochs(20);

    let mut net = classifier();
    let mut reused = config();
    fit_err(&mut net, &bad_x, &t, &mut reused);
    fit_err(&mut net, &x, &t, &mut config().epochs(0));
    let history = net.fit(&x, &t, &mut reused).unwrap();

    let mut fresh = classifier();
    let fresh_history = fresh.fit(&x, &t, &mut config()).unwrap();
    assert_eq!(history.loss, fresh_history.loss);
    assert_eq!(history.steps, fresh_history.steps);
    assert_eq!(snapshot(&net), snapshot(&fresh));
}

// ---------------------------------------------------------------------------------------------
// Layers and optimizers used directly

#[test]
fn set_weight_with_the_wrong_shape() {
    let mut net = classifier();
    let before = snapshot(&net);
    let dense = net.layer_mut::<Dense<f64>>(0).unwrap();
    let err = dense.set_weight(&DMatrix::zeros(4, 2)).unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { what: "weight", expected: Dims(2, 4), got: Dims(4, 2), .. }),
        "{err:?}"
    );
    let err = dense.set_bias(&DMatrix::zeros(4, 1)).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { what: "bias", expected: Dims(1, 4), .. }), "{err:?}");
    assert_eq!(snapshot(&net), before);

    // The right shape is taken.
    let w = DMatrix::from_element(2, 4, 0.25);
    net.layer_mut::<Dense<f64>>(0).unwrap().set_weight(&w).unwrap();
    assert_eq!(net.layer::<Dense<f64>>(0).unwrap().weight(), &w);
}

#[test]
fn an_unbuilt_layer() {
    let mut dense = Dense::<f64>::new(2, 3);
    let err = dense.set_weight(&DMatrix::zeros(2, 3)).unwrap_err();
    assert!(matches!(err, Error::NotBuilt { layer: LayerId { path: None, kind: "dense" } }), "{err:?}");
    let mut y = DMatrix::zeros(0, 0);
    let err = dense.forward(&DMatrix::zeros(1, 2), &mut y).unwrap_err();
    assert!(matches!(err, Error::NotBuilt { .. }), "{err:?}");
}

/// Runs `backward` with a `grad_y` of the wrong shape: it must fail and write nothing.
fn backward_err<L: Layer<f64>>(layer: &mut L, x: &DMatrix<f64>, bad_grad_y: &DMatrix<f64>) -> Error {
    let mut y = DMatrix::zeros(0, 0);
    layer.forward_train(x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
    let mut dx = DMatrix::from_element(1, 1, 42.0);
    let err = layer.backward(x, &y, bad_grad_y, Some(&mut dx)).unwrap_err();
    assert_eq!(dx, DMatrix::from_element(1, 1, 42.0), "grad_x written by a failed backward");
    layer.visit_params(&mut |p| assert!(p.grad().is_none(), "a failed backward marked a gradient fresh"));
    err
}

#[test]
fn backward_with_the_wrong_grad_y_shape() {
    let x = inputs(); // 6 × 2
    let mut dense = Dense::<f64>::new(2, 3);
    dense.build(Shape::Flat(2), &mut seeded(5, Stream::Init)).unwrap();
    let err = backward_err(&mut dense, &x, &DMatrix::zeros(6, 4));
    assert!(
        matches!(err, Error::ShapeMismatch { what: "grad_y", expected: Dims(6, 3), got: Dims(6, 4), .. }),
        "{err:?}"
    );
    let err = backward_err(&mut dense, &x, &DMatrix::zeros(5, 3));
    assert!(matches!(err, Error::ShapeMismatch { what: "grad_y", got: Dims(5, 3), .. }), "{err:?}");

    let err = backward_err(&mut Sigmoid, &x, &DMatrix::zeros(2, 6));
    assert!(matches!(err, Error::ShapeMismatch { what: "grad_y", expected: Dims(6, 2), .. }), "{err:?}");
    let err = backward_err(&mut Softmax, &x, &DMatrix::zeros(6, 1));
    assert!(matches!(err, Error::ShapeMismatch { what: "grad_y", expected: Dims(6, 2), .. }), "{err:?}");
}

/// `backward` handed an `x` of another batch than the forward pass's `y` (and a `grad_y` that
/// matches `y`) names `x` as the odd one out, not `y`; nothing is written.
#[test]
fn backward_with_x_of_another_batch_names_x() {
    let x = inputs(); // 6 × 2
    let other = x.rows(0, 4).into_owned();
    let mut dense = Dense::<f64>::new(2, 3);
    dense.build(Shape::Flat(2), &mut seeded(5, Stream::Init)).unwrap();
    let mut y = DMatrix::zeros(0, 0);
    dense.forward_train(&x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
    let grad_y = DMatrix::from_element(6, 3, 0.5);
    let err = dense.backward(&other, &y, &grad_y, None).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { what: "x", expected: Dims(6, 2), got: Dims(4, 2), .. }), "{err:?}");
    dense.visit_params(&mut |p| assert!(p.grad().is_none(), "a failed backward marked a gradient fresh"));
    let mut y = DMatrix::zeros(0, 0);
    Sigmoid.forward_train(&x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
    let err = Sigmoid.backward(&other, &y, &DMatrix::zeros(6, 2), None).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { what: "x", got: Dims(4, 2), .. }), "{err:?}");
}

#[test]
fn backward_without_a_training_forward_pass() {
    // Dropout needs the mask of a training forward pass; inference leaves none.
    let x = inputs();
    let mut dropout = Dropout::<f64>::new(0.5).unwrap();
    let err = dropout.backward(&x, &x, &x, None).unwrap_err();
    assert!(matches!(err, Error::NoForwardCache { layer: LayerId { kind: "dropout", .. } }), "{err:?}");
    let mut y = DMatrix::zeros(0, 0);
    dropout.forward(&x, &mut y).unwrap();
    assert!(matches!(dropout.backward(&x, &y, &x, None), Err(Error::NoForwardCache { .. })));
}

fn values(params: &[&mut Param<f64>]) -> Vec<((usize, usize), Vec<u64>)> {
    params.iter().map(|p| bits(p.value())).collect()
}

#[test]
fn optimizer_step_without_a_fresh_gradient() {
    let x = inputs();
    let mut dense = Dense::<f64>::new(2, 3);
    dense.build(Shape::Flat(2), &mut seeded(6, Stream::Init)).unwrap();
    let mut y = DMatrix::zeros(0, 0);
    dense.forward_train(&x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
    dense.backward(&x, &y, &DMatrix::from_element(6, 3, 1.0), None).unwrap();

    let mut sgd = Sgd::new(0.1);
    let mut params = Vec::new();
    dense.visit_params_mut(&mut |p| params.push(p));
    let before = values(&params);
    sgd.step(&mut params).unwrap();
    let after_one = values(&params);
    assert_ne!(after_one, before);

    // The second step has no gradient to use.
    let err = sgd.step(&mut params).unwrap_err();
    assert!(matches!(err, Error::MissingGradient { index: 0, name: "weight" }), "{err:?}");
    assert_eq!(values(&params), after_one);
}

#[test]
fn optimizer_checks_every_gradient_before_moving_any() {
    // Only the weight has a fresh gradient: the step must refuse and move nothing, not even it.
    let mut weight = Param::new("weight", DMatrix::from_element(2, 2, 1.0_f64), Decay::Applies);
    let mut bias = Param::new("bias", DMatrix::from_element(1, 2, 1.0_f64), Decay::Exempt);
    weight.grad_mut().fill(1.0);
    for optimizer in [&mut Sgd::new(0.1) as &mut dyn Optimizer<f64>, &mut Adam::new(0.1)] {
        let mut params = [&mut weight, &mut bias];
        let err = optimizer.step(&mut params).unwrap_err();
        assert!(matches!(err, Error::MissingGradient { index: 1, name: "bias" }), "{err:?}");
        assert_eq!(weight.value(), &DMatrix::from_element(2, 2, 1.0));
        assert!(weight.grad().is_some(), "the weight's gradient is still there for a retry");
    }
}

/// A valid decaying schedule never reaches an invalid rate: the course's XOR run with
/// `Exponential { gamma: 0.96 }` (0.1·0.96^e underflows to 0 after about 18 200 epochs in f64)
/// trains all 20 000 epochs, the rate floored at `Schedule::MIN_RATE`.
#[test]
fn a_decaying_schedule_never_breaks_a_run() {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    let mut net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 3))
        .add(Sigmoid)
        .add(Dense::new(3, 1))
        .add(Sigmoid)
        .build(0)
        .unwrap();
    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1))
        .epochs(20_000)
        .schedule(backprop::Schedule::Exponential { gamma: 0.96 });
    let history = net.fit(&x, &t, &mut config).unwrap();
    assert_eq!(history.epochs(), 20_000);
    assert_eq!(*history.learning_rate.last().unwrap(), backprop::Schedule::MIN_RATE);
    assert!(backprop::Schedule::Exponential { gamma: 0.5 }.rate(1.0, 5_000, 10_000) > 0.0);
}

/// What the crate writes it can load back: non-finite weights, a NaN slope and the reserved
/// tensor name are refused where they enter, and nothing changes.
#[test]
fn values_a_file_could_not_hold_are_refused_where_they_enter() {
    let mut net = classifier();
    let before = snapshot(&net);
    let mut w = net.param("0.weight").unwrap().clone();
    w[(0, 1)] = f64::NAN;
    let err = net.set_param("0.weight", &w).unwrap_err();
    assert!(matches!(err, Error::NonFinite { row: 0, col: 1, .. }), "{err:?}");
    let dense = net.layer_mut::<Dense<f64>>(0).unwrap();
    w[(0, 1)] = f64::INFINITY;
    assert!(matches!(dense.set_weight(&w), Err(Error::NonFinite { .. })));
    let mut b = dense.bias().unwrap().clone();
    b[(0, 0)] = f64::NEG_INFINITY;
    assert!(matches!(dense.set_bias(&b), Err(Error::NonFinite { .. })));
    assert_eq!(snapshot(&net), before);

    let err = Sequential::<f64>::builder(2).add(backprop::LeakyRelu { alpha: f64::NAN }).build(0).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "leaky_relu alpha", .. }), "{err:?}");

    let path = std::env::temp_dir().join(format!("backprop-reserved-{}.safetensors", std::process::id()));
    let err = backprop::io::save_matrices(&path, &[("__metadata__", &DMatrix::<f64>::zeros(1, 1))]).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "matrix name", .. }), "{err:?}");
    assert!(!path.exists());
}

/// Same network, same bytes: two saves of one network, and of two networks built alike.
#[test]
fn the_same_network_gives_the_same_bytes() {
    let (a, b) = (classifier(), classifier());
    let bytes = a.to_bytes().unwrap();
    assert_eq!(a.to_bytes().unwrap(), bytes);
    assert_eq!(b.to_bytes().unwrap(), bytes);
}

/// Smaller edges: empty data is `EmptyInput` (also with a validation split, and for `evaluate`),
/// patience 0 is refused, and a tolerance that would pass anything is refused.
#[test]
fn empty_data_patience_zero_and_lax_tolerances_are_refused() {
    let mut net = classifier();
    let empty = DMatrix::<f64>::zeros(0, 2);
    let no_targets = DMatrix::<f64>::zeros(0, 1);
    let err = net.fit(&empty, &no_targets, &mut sce_config().validation_split(0.2)).unwrap_err();
    assert!(matches!(err, Error::EmptyInput { what: "x", .. }), "{err:?}");
    let err = net.evaluate(&empty, &no_targets, &SoftmaxCrossEntropy).unwrap_err();
    assert!(matches!(err, Error::EmptyInput { .. }), "{err:?}");
    let err = net.fit(&inputs(), &labels(), &mut sce_config().early_stopping(0)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "early_stopping patience", .. }), "{err:?}");

    use backprop::gradcheck::{check_layer, Tolerance};
    let mut dense = Dense::<f64>::new(2, 2);
    dense.build(backprop::Shape::Flat(2), &mut backprop::seeded(0, backprop::Stream::Init)).unwrap();
    let x = DMatrix::from_element(2, 2, 0.5);
    for tol in [
        Tolerance { eps: 0.0, ..Tolerance::default() },
        Tolerance { eps: f64::NAN, ..Tolerance::default() },
        Tolerance { atol: f64::INFINITY, ..Tolerance::default() },
        Tolerance { rtol: -1.0, ..Tolerance::default() },
    ] {
        assert!(matches!(check_layer(&mut dense, &x, tol), Err(Error::InvalidConfig { .. })), "{tol:?}");
    }
}

/// Hyperparameters are checked as the network's scalar type holds them: 1e39 is infinite and
/// 1e-50 is 0 in `f32`, so `fit` refuses them before any update; in `f64` they are fine.
#[test]
fn hyperparameters_are_checked_in_the_network_s_scalar_type() {
    let x = DMatrix::from_row_slice(2, 2, &[0.0f32, 1.0, 1.0, 0.0]);
    let t = DMatrix::from_row_slice(2, 1, &[1.0f32, 0.0]);
    let cases: Vec<(&str, Box<dyn Optimizer<f32>>)> = vec![
        ("learning_rate", Box::new(Sgd::new(1e39))),
        ("learning_rate", Box::new(Sgd::new(1e-50))),
        ("eps", Box::new(Adam::new(1e-3).with_eps(1e-50))),
        ("weight_decay", Box::new(Sgd::new(0.1).with_weight_decay(backprop::WeightDecay::Decoupled(1e39)))),
    ];
    for (setting, optimizer) in cases {
        let mut net = Sequential::<f32>::builder(2).add(Dense::new(2, 1)).build(3).unwrap();
        let before: Vec<DMatrix<f32>> = net.params().iter().map(|p| p.value().clone()).collect();
        let mut config = FitConfig::new(SquaredError::mean(), optimizer);
        let err = net.fit(&x, &t, &mut config).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { name, .. } if name == setting), "{setting}: {err:?}");
        let after: Vec<DMatrix<f32>> = net.params().iter().map(|p| p.value().clone()).collect();
        assert_eq!(after, before, "{setting}");
    }
    assert!(Optimizer::<f64>::validate(&Sgd::new(1e39)).is_ok());
    assert!(Optimizer::<f64>::validate(&Adam::new(1e-3).with_eps(1e-50)).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Issue 13: every reproduced case, with its exact error, and nothing lost

/// A matrix's shape and bits.
type Bits = ((usize, usize), Vec<u64>);

/// What must survive a refused call: the network's parameters and buffers, the optimizer's state,
/// the caller's data, and a file that was there.
struct Intact {
    net: Vec<Bits>,
    optimizer: Vec<(String, Bits)>,
    data: Vec<Bits>,
    file: Option<(std::path::PathBuf, Vec<u8>)>,
}

/// Parameters, then buffers, bit for bit.
fn state_bits<N: Network<f64>>(net: &N) -> Vec<Bits> {
    let mut out = snapshot(net);
    net.visit_buffers(&mut |_, m| out.push(bits(m)));
    out
}

impl Intact {
    fn of(
        net: &Sequential<f64>,
        config: &FitConfig<f64>,
        data: &[&DMatrix<f64>],
        file: Option<&std::path::Path>,
    ) -> Self {
        Intact {
            net: state_bits(net),
            optimizer: config.optimizer().state().into_iter().map(|(n, m)| (n, bits(&m))).collect(),
            data: data.iter().map(|m| bits(m)).collect(),
            file: file.map(|p| (p.to_path_buf(), std::fs::read(p).unwrap())),
        }
    }

    fn check(&self, case: &str, net: &Sequential<f64>, config: &FitConfig<f64>, data: &[&DMatrix<f64>]) {
        assert_eq!(state_bits(net), self.net, "{case}: the network changed");
        let optimizer: Vec<_> = config.optimizer().state().into_iter().map(|(n, m)| (n, bits(&m))).collect();
        assert_eq!(optimizer, self.optimizer, "{case}: the optimizer's state changed");
        assert_eq!(data.iter().map(|m| bits(m)).collect::<Vec<_>>(), self.data, "{case}: the caller's data changed");
        if let Some((path, bytes)) = &self.file {
            assert_eq!(&std::fs::read(path).unwrap(), bytes, "{case}: the file changed");
        }
    }
}

/// A classifier with buffers (batch normalization's running statistics), trained a little so
/// that the optimizer has state.
fn trained() -> (Sequential<f64>, FitConfig<f64>) {
    let mut net = Sequential::builder(2)
        .add(Dense::new(2, 4))
        .add(backprop::BatchNorm::new(4))
        .add(Tanh)
        .add(Dense::new(4, 3))
        .build(1)
        .unwrap();
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01)).epochs(2).batch_size(3);
    net.fit(&inputs(), &labels(), &mut config).unwrap();
    (net, config)
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("backprop-bad-inputs-{}-{name}", std::process::id()))
}

/// A safetensors file: `metadata` and the tensors' entries as JSON, then `data_len` zero bytes.
fn raw_file(metadata: &str, tensors: &str, data_len: usize) -> Vec<u8> {
    let mut header = format!("{{\"__metadata__\":{{{metadata}}}{tensors}}}").into_bytes();
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&header);
    bytes.resize(bytes.len() + data_len, 0);
    bytes
}

type Case =
    (&'static str, fn(&Error) -> bool, fn(&mut Sequential<f64>, &mut FitConfig<f64>, &std::path::Path) -> Error);

/// The cases of issue 13, each run on a trained network with a saved file beside it; each must
/// give its error and leave the network, the optimizer, the data and the file as they were.
#[test]
fn issue_13_cases_give_their_error_and_lose_nothing() {
    let cases: Vec<Case> = vec![
        // 3. Hyperparameters that the network's scalar type cannot hold are refused before any update.
        (
            "Adam with a negative eps is refused before any update",
            |e| matches!(e, Error::InvalidConfig { name: "eps", .. }),
            |net, config, _| {
                let mut c = FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01).with_eps(-1.0));
                let _ = config;
                net.fit(&inputs(), &labels(), &mut c).unwrap_err()
            },
        ),
        // 4. Values a file could not hold.
        (
            "set_param NaN",
            |e| matches!(e, Error::NonFinite { .. }),
            |net, _, _| {
                let mut w = net.param("0.weight").unwrap().clone();
                w[(1, 2)] = f64::NAN;
                net.set_param("0.weight", &w).unwrap_err()
            },
        ),
        (
            "set_bias infinite",
            |e| matches!(e, Error::NonFinite { .. }),
            |net, _, _| {
                let dense = net.layer_mut::<Dense<f64>>(3).unwrap();
                let b = DMatrix::from_element(1, 3, f64::INFINITY);
                dense.set_bias(&b).unwrap_err()
            },
        ),
        (
            "save_matrices __metadata__ over an existing file",
            |e| matches!(e, Error::InvalidConfig { name: "matrix name", .. }),
            |_, _, path| {
                backprop::io::save_matrices(path, &[("__metadata__", &DMatrix::<f64>::zeros(1, 1))]).unwrap_err()
            },
        ),
        // 6. argmax_row out of range.
        (
            "argmax_row out of range",
            |e| matches!(e, Error::IndexOutOfRange { index: 99, len: 6, .. }),
            |net, _, _| {
                let y = net.predict(&inputs()).unwrap();
                backprop::argmax_row(&y, 99).unwrap_err()
            },
        ),
        // 7. Loading: an F4 tensor, a path that never ends, a header promising more than the file.
        (
            "load_weights of a 4-bit tensor",
            |e| matches!(e, Error::Format(backprop::FormatError::WrongDtype { tensor, .. }) if tensor == "0.weight"),
            |net, _, _| {
                let bytes = raw_file("", r#","0.weight":{"dtype":"F4","shape":[2,4],"data_offsets":[0,4]}"#, 4);
                net.load_weights_from_bytes(&bytes).unwrap_err()
            },
        ),
        (
            "load_weights from /dev/zero",
            |e| matches!(e, Error::Format(backprop::FormatError::Safetensors(_))),
            |net, _, _| net.load_weights("/dev/zero").unwrap_err(),
        ),
        (
            "load_checkpoint of a file cut short",
            |e| matches!(e, Error::Format(backprop::FormatError::Safetensors(_))),
            |net, config, path| {
                let bytes = std::fs::read(path).unwrap();
                let cut = temp("cut.safetensors");
                std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
                let e = net.load_checkpoint(&cut, config).unwrap_err();
                std::fs::remove_file(&cut).unwrap();
                e
            },
        ),
        // 8. Smaller ones.
        (
            "fit on empty x with a validation split",
            |e| matches!(e, Error::EmptyInput { what: "x", .. }),
            |net, config, _| {
                let mut c = config.try_clone().unwrap().validation_split(0.2);
                net.fit(&DMatrix::zeros(0, 2), &DMatrix::zeros(0, 1), &mut c).unwrap_err()
            },
        ),
        (
            "evaluate on empty x",
            |e| matches!(e, Error::EmptyInput { .. }),
            |net, _, _| net.evaluate(&DMatrix::zeros(0, 2), &DMatrix::zeros(0, 1), &SoftmaxCrossEntropy).unwrap_err(),
        ),
        (
            "early_stopping(0)",
            |e| matches!(e, Error::InvalidConfig { name: "early_stopping patience", .. }),
            |net, config, _| {
                let mut c = config.try_clone().unwrap().early_stopping(0);
                net.fit(&inputs(), &labels(), &mut c).unwrap_err()
            },
        ),
        (
            "check_network with a zero eps",
            |e| matches!(e, Error::InvalidConfig { .. }),
            |net, _, _| {
                let tol = backprop::gradcheck::Tolerance { eps: 0.0, ..Default::default() };
                backprop::gradcheck::check_network(net, &inputs(), &labels(), &SoftmaxCrossEntropy, tol).unwrap_err()
            },
        ),
        (
            "check_network on empty x",
            |e| matches!(e, Error::EmptyInput { .. }),
            |net, _, _| {
                let tol = backprop::gradcheck::Tolerance::default();
                backprop::gradcheck::check_network(
                    net,
                    &DMatrix::zeros(0, 2),
                    &DMatrix::zeros(0, 1),
                    &SoftmaxCrossEntropy,
                    tol,
                )
                .unwrap_err()
            },
        ),
        (
            "check_network with a NaN input",
            |e| matches!(e, Error::NonFinite { what: "x", row: 1, col: 0, .. }),
            |net, _, _| {
                let mut x = inputs();
                x[(1, 0)] = f64::NAN;
                let tol = backprop::gradcheck::Tolerance::default();
                backprop::gradcheck::check_network(net, &x, &labels(), &SoftmaxCrossEntropy, tol).unwrap_err()
            },
        ),
        (
            "check_network with fewer targets than rows",
            |e| matches!(e, Error::RowCountMismatch { what: "x", x_rows: 6, t_rows: 5 }),
            |net, _, _| {
                let tol = backprop::gradcheck::Tolerance::default();
                backprop::gradcheck::check_network(
                    net,
                    &inputs(),
                    &labels().rows(0, 5).into_owned(),
                    &SoftmaxCrossEntropy,
                    tol,
                )
                .unwrap_err()
            },
        ),
        (
            "check_network with a label out of range",
            |e| matches!(e, Error::LabelOutOfRange { .. }),
            |net, _, _| {
                let mut t = labels();
                t[(2, 0)] = 7.0;
                let tol = backprop::gradcheck::Tolerance::default();
                backprop::gradcheck::check_network(net, &inputs(), &t, &SoftmaxCrossEntropy, tol).unwrap_err()
            },
        ),
        (
            "a tensor named twice in a header",
            |e| matches!(e, Error::Format(backprop::FormatError::DuplicateTensor { name }) if name == "0.weight"),
            |net, _, _| {
                let entry = r#","0.weight":{"dtype":"F64","shape":[2,4],"data_offsets":[0,64]}"#;
                net.load_weights_from_bytes(&raw_file("", &format!("{entry}{entry}"), 64)).unwrap_err()
            },
        ),
        (
            "a header entry whose bytes do not hold its shape",
            |e| matches!(e, Error::Format(backprop::FormatError::TensorEntry { name, .. }) if name == "0.bias"),
            |net, _, _| {
                let entries = r#","0.weight":{"dtype":"F64","shape":[2,4],"data_offsets":[0,64]},"0.bias":{"dtype":"F64","shape":[1,4],"data_offsets":[64,72]}"#;
                net.load_weights_from_bytes(&raw_file("", entries, 72)).unwrap_err()
            },
        ),
        (
            "1e300 in a message is short",
            |e| matches!(e, Error::InvalidConfig { value, .. } if value == "1e300"),
            |net, _, _| {
                let mut c = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).validation_split(1e300);
                net.fit(&inputs(), &labels(), &mut c).unwrap_err()
            },
        ),
        (
            "the loss names the predictions",
            |e| {
                matches!(e, Error::RowCountMismatch { what: "the predictions", .. })
                    && e.to_string().starts_with("the predictions: 6 samples")
            },
            |net, _, _| {
                let y = net.predict(&inputs()).unwrap();
                backprop::Loss::loss(&SoftmaxCrossEntropy, &y, &labels().rows(0, 4).into_owned()).unwrap_err()
            },
        ),
        (
            "a CSV with only a label column",
            |e| matches!(e, Error::Data(backprop::data::DataError::NoFeatures { line: 1, .. })),
            |_, _, _| {
                let csv = temp("labels-only.csv");
                std::fs::write(&csv, "0\n1\n2\n").unwrap();
                let e = backprop::data::read_labeled_csv::<f64>(&csv).unwrap_err();
                std::fs::remove_file(&csv).unwrap();
                e
            },
        ),
        // 9. A layer too large for the default limit is refused before anything is allocated.
        (
            "a dense layer over the size limit",
            |e| matches!(e, Error::TooLarge { rows: 8192, cols: 8193, .. }),
            |_, _, _| Sequential::<f64>::builder(8192).add(Dense::new(8192, 8193)).build(0).unwrap_err(),
        ),
    ];
    for (case, expected, run) in cases {
        let (mut net, mut config) = trained();
        let path = temp("existing.safetensors");
        net.save_checkpoint(&path, &config, 2).unwrap();
        let (x, t) = (inputs(), labels());
        let intact = Intact::of(&net, &config, &[&x, &t], Some(&path));
        let err = run(&mut net, &mut config, &path);
        assert!(expected(&err), "{case}: got {err:?}");
        assert!(err.to_string().len() < 400, "{case}: a long message: {err}");
        intact.check(case, &net, &config, &[&x, &t]);
        std::fs::remove_file(&path).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Gradient checks of layers and losses written outside the crate

/// A layer (written by a user) whose backward writes an input gradient with one row too many.
#[derive(Debug)]
struct MisshapenInputGradient;

impl Layer<f64> for MisshapenInputGradient {
    fn kind(&self) -> &'static str {
        "misshapen_input_gradient"
    }

    fn build(&mut self, input: Shape, _rng: &mut backprop::SeededRng) -> backprop::Result<Shape> {
        Ok(input)
    }

    fn forward(&self, x: &DMatrix<f64>, y: &mut DMatrix<f64>) -> backprop::Result<()> {
        y.clone_from(x);
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<f64>,
        _y: &DMatrix<f64>,
        _grad_y: &DMatrix<f64>,
        grad_x: Option<&mut DMatrix<f64>>,
    ) -> backprop::Result<()> {
        if let Some(dx) = grad_x {
            *dx = DMatrix::zeros(x.nrows() + 1, x.ncols());
        }
        Ok(())
    }
}

/// `check_layer` used to index the input by the gradient's entries and panic past its last row;
/// now a gradient not of the input's shape is a `ShapeMismatch`, and the input is unchanged.
#[test]
fn check_layer_of_an_input_gradient_of_the_wrong_shape_is_a_shape_mismatch() {
    use backprop::gradcheck::{check_layer, Tolerance};
    let x = inputs();
    let before = bits(&x);
    let err = check_layer(&mut MisshapenInputGradient, &x, Tolerance::default()).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::ShapeMismatch { what: "grad_input", expected: Dims(6, 2), got: Dims(7, 2), layer }
                if *layer == LayerId::kind("misshapen_input_gradient")
        ),
        "{err:?}"
    );
    assert_eq!(bits(&x), before);
}

/// A loss (written by a user) whose gradient has one column too many.
#[derive(Debug)]
struct MisshapenLossGradient;

impl backprop::Loss<f64> for MisshapenLossGradient {
    fn name(&self) -> &'static str {
        "misshapen_loss_gradient"
    }

    fn check_targets(&self, _width: usize, _t: &DMatrix<f64>) -> backprop::Result<()> {
        Ok(())
    }

    fn loss(&self, y: &DMatrix<f64>, _t: &DMatrix<f64>) -> backprop::Result<f64> {
        Ok(y.sum())
    }

    fn grad(&self, y: &DMatrix<f64>, _t: &DMatrix<f64>, grad: &mut DMatrix<f64>) -> backprop::Result<()> {
        *grad = DMatrix::from_element(y.nrows(), y.ncols() + 1, 1.0);
        Ok(())
    }
}

/// `check_loss` used to panic the same way on a gradient wider than the predictions; a training
/// step named the last layer's `grad_y` (or passed, if that layer did not check it). Both name
/// the loss now, and the step changes nothing.
#[test]
fn a_loss_gradient_of_the_wrong_shape_names_the_loss() {
    use backprop::gradcheck::{check_loss, Tolerance};
    let (y, t) = (inputs(), inputs());
    let err = check_loss(&MisshapenLossGradient, &y, &t, Tolerance::default()).unwrap_err();
    assert!(matches!(&err, Error::LossGradientShape { expected: Dims(6, 2), got: Dims(6, 3), .. }), "{err:?}");
    assert_eq!((bits(&y), bits(&t)), (bits(&inputs()), bits(&inputs())));

    let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 2)).build(0).unwrap();
    let before = net.to_bytes().unwrap();
    let mut rng = seeded(0, Stream::Train);
    let err = net.train_step(&y, &t, &MisshapenLossGradient, &mut Sgd::new(0.1), &mut rng).unwrap_err();
    assert!(matches!(&err, Error::LossGradientShape { expected: Dims(6, 2), got: Dims(6, 3), .. }), "{err:?}");
    assert_eq!(net.to_bytes().unwrap(), before);
}
