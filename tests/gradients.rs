//! `Network::gradients`: the course's "1 step" without the update. The weights stay as they were,
//! the gradients are the numerical derivatives of the loss, the ones the course's formulas give
//! by hand, and the ones a training step applies.

use backprop::gradcheck::{check_network, Tolerance};
use backprop::prelude::*;
use backprop::Gradients;
use nalgebra::DMatrix;

/// The XOR patterns and targets of 실습 2.
fn xor_data() -> (DMatrix<f64>, DMatrix<f64>) {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    (x, t)
}

/// 실습 2's network at NumPy's seed-0 starting weights (../shared/bench/README.md).
fn numpy_start() -> (Sequential<f64>, DMatrix<f64>, DMatrix<f64>) {
    let w1 = DMatrix::from_row_slice(
        2,
        3,
        &[
            0.5488135039273248,
            0.7151893663724195,
            0.6027633760716439,
            0.5448831829968969,
            0.4236547993389047,
            0.6458941130666561,
        ],
    );
    let w2 = DMatrix::from_row_slice(3, 1, &[0.4375872112626925, 0.8917730007820798, 0.9636627605010293]);
    let mut net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 3).without_bias())
        .add(Sigmoid)
        .add(Dense::new(3, 1).without_bias())
        .add(Sigmoid)
        .build(0)
        .unwrap();
    net.set_param("0.weight", &w1).unwrap();
    net.set_param("2.weight", &w2).unwrap();
    (net, w1, w2)
}

/// A network with biases, tanh and a nested block, so paths have more than one dot.
fn nested_net() -> Sequential<f64> {
    Sequential::<f64>::builder(2)
        .add(Dense::new(2, 4))
        .add(Tanh)
        .add(Chain::new().add(Dense::new(4, 3)).add(Sigmoid))
        .add(Dense::new(3, 1))
        .build(7)
        .unwrap()
}

fn values(net: &Sequential<f64>) -> Vec<(String, Vec<u64>)> {
    net.named_params().into_iter().map(|(path, p)| (path, p.value().iter().map(|v| v.to_bits()).collect())).collect()
}

/// Central differences of the loss of `net` at every parameter entry, computed here with
/// `set_param` and `evaluate` alone.
fn numerical(net: &mut Sequential<f64>, x: &DMatrix<f64>, t: &DMatrix<f64>, loss: &dyn Loss<f64>) -> Gradients<f64> {
    let eps = 1e-6;
    let mut grads = Vec::new();
    let params: Vec<(String, DMatrix<f64>)> =
        net.named_params().into_iter().map(|(path, p)| (path, p.value().clone())).collect();
    for (path, value) in params {
        let mut grad = DMatrix::zeros(value.nrows(), value.ncols());
        for i in 0..value.nrows() {
            for j in 0..value.ncols() {
                let mut probe = value.clone();
                probe[(i, j)] = value[(i, j)] + eps;
                net.set_param(&path, &probe).unwrap();
                let plus = net.evaluate(x, t, loss).unwrap().loss;
                probe[(i, j)] = value[(i, j)] - eps;
                net.set_param(&path, &probe).unwrap();
                let minus = net.evaluate(x, t, loss).unwrap().loss;
                grad[(i, j)] = (plus - minus) / (2.0 * eps);
            }
        }
        net.set_param(&path, &value).unwrap();
        grads.push((path, grad));
    }
    Gradients { loss: net.evaluate(x, t, loss).unwrap().loss, grads }
}

#[test]
fn weights_are_unchanged_and_calls_repeat_exactly() {
    let (x, t) = xor_data();
    let mut net = nested_net();
    let before = values(&net);
    let first = net.gradients(&x, &t, &SquaredError::half_sum()).unwrap();
    assert_eq!(values(&net), before, "gradients() moved a parameter");
    let second = net.gradients(&x, &t, &SquaredError::half_sum()).unwrap();
    assert_eq!(first, second);
    let paths: Vec<&str> = first.paths().collect();
    assert_eq!(paths, ["0.weight", "0.bias", "2.0.weight", "2.0.bias", "3.weight", "3.bias"]);
    for (path, p) in net.named_params() {
        assert_eq!(first.get(&path).map(|g| g.shape()), Some(p.value().shape()), "{path}");
    }
    // The loss is the loss at the current weights.
    let loss = net.evaluate(&x, &t, &SquaredError::half_sum()).unwrap().loss;
    assert!((first.loss - loss).abs() <= 1e-15);
}

#[test]
fn equal_to_numerical_derivatives_and_gradcheck_agrees() {
    let (x, t) = xor_data();
    let losses: [(&str, Box<dyn Loss<f64>>); 2] =
        [("½Σ", Box::new(SquaredError::half_sum())), ("bce", Box::new(BinaryCrossEntropy))];
    for (name, loss) in losses {
        let mut net = nested_net();
        let analytical = net.gradients(&x, &t, loss.as_ref()).unwrap();
        let numerical = numerical(&mut net, &x, &t, loss.as_ref());
        assert_eq!(analytical.len(), numerical.len());
        for ((path, a), (_, n)) in analytical.iter().zip(numerical.iter()) {
            let worst = a.iter().zip(n.iter()).map(|(a, n)| (a - n).abs()).fold(0.0, f64::max);
            assert!(worst <= 1e-8, "{name} {path}: analytical {a} numerical {n}");
        }
        let report = check_network(&mut net, &x, &t, loss.as_ref(), Tolerance::default()).unwrap();
        assert!(report.passed(), "{report}");
    }
}

#[test]
fn the_course_formulas_by_hand_give_the_same_numbers() {
    // 실습 2's "1 step" as the slides write it, at NumPy's seed-0 weights.
    let (x, t) = xor_data();
    let (mut net, w1, w2) = numpy_start();
    let sigmoid = |m: DMatrix<f64>| m.map(|v| 1.0 / (1.0 + (-v).exp()));
    let layer_1 = sigmoid(&x * &w1);
    let layer_2 = sigmoid(&layer_1 * &w2);
    let layer_2_error = &layer_2 - &t;
    let e = 0.5 * layer_2_error.norm_squared();
    let layer_2_delta = layer_2_error.component_mul(&layer_2.map(|v| v * (1.0 - v)));
    let layer_1_delta = (&layer_2_delta * w2.transpose()).component_mul(&layer_1.map(|v| v * (1.0 - v)));
    let layer_2_w_grad = layer_1.transpose() * &layer_2_delta;
    let layer_1_w_grad = x.transpose() * &layer_1_delta;

    let grads = net.gradients(&x, &t, &SquaredError::half_sum()).unwrap();
    assert!((grads.loss - e).abs() <= 1e-12);
    assert!((e - 0.6858519585594764).abs() <= 1e-12, "NumPy's initial loss, {e}");
    let diff = |a: &DMatrix<f64>, b: &DMatrix<f64>| (a - b).amax();
    assert!(diff(grads.get("0.weight").unwrap(), &layer_1_w_grad) <= 1e-12);
    assert!(diff(grads.get("2.weight").unwrap(), &layer_2_w_grad) <= 1e-12);
}

#[test]
fn a_training_step_applies_exactly_these_gradients() {
    let (x, t) = xor_data();
    let mut net = nested_net();
    let grads = net.gradients(&x, &t, &SquaredError::half_sum()).unwrap();
    let before: Vec<(String, DMatrix<f64>)> =
        net.named_params().into_iter().map(|(path, p)| (path, p.value().clone())).collect();
    let lr = 0.1;
    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(lr)).epochs(1);
    let history = net.fit(&x, &t, &mut config).unwrap();
    assert!((history.loss[0] - grads.loss).abs() <= 1e-15);
    for (path, old) in before {
        let g = grads.get(&path).unwrap();
        let new = net.param(&path).unwrap();
        let worst = (new - (&old - g * lr)).amax();
        assert!(worst <= 1e-15, "{path}: off by {worst}");
    }
}

#[test]
fn bad_data_is_a_typed_error_and_changes_nothing() {
    let (x, t) = xor_data();
    let mut net = nested_net();
    let before = values(&net);
    let loss = SquaredError::half_sum();
    let wide = DMatrix::<f64>::zeros(4, 3);
    assert!(matches!(net.gradients(&wide, &t, &loss), Err(Error::FeatureMismatch { .. })));
    let short = DMatrix::<f64>::zeros(3, 1);
    assert!(matches!(net.gradients(&x, &short, &loss), Err(Error::RowCountMismatch { .. })));
    let mut nan = x.clone();
    nan[(1, 1)] = f64::NAN;
    assert!(matches!(net.gradients(&nan, &t, &loss), Err(Error::NonFinite { .. })));
    let empty = DMatrix::<f64>::zeros(0, 2);
    assert!(matches!(net.gradients(&empty, &DMatrix::zeros(0, 1), &loss), Err(Error::EmptyInput { .. })));
    let wrong_targets = DMatrix::from_row_slice(4, 1, &[0.0, 2.0, 1.0, 0.0]);
    assert!(net.gradients(&x, &wrong_targets, &BinaryCrossEntropy).is_err());
    assert_eq!(values(&net), before);
}
