//! Backpropagation against central differences: every built-in layer, every loss, a whole
//! network. All in f64 with the default tolerance (ε = 1e-6, atol = 1e-5, rtol = 1e-3), as
//! RELIABILITY.md §2.5 recommends.

use backprop::gradcheck::{check_layer, check_loss, check_network, GradReport, Tolerance};
use backprop::{
    seeded, Activation, BinaryCrossEntropy, Dense, Dropout, Identity, Init, Layer, LeakyRelu, Reduction, Relu,
    Sequential, Shape, Sigmoid, Softmax, SoftmaxCrossEntropy, SquaredError, Step, Stream, Tanh,
};
use nalgebra::DMatrix;

/// Smooth functions in f64 should agree far more closely than the pass criterion demands.
const SMOOTH_REL: f64 = 1e-6;

/// A `rows × cols` matrix of values from U(low, high), fixed by `seed`.
fn uniform(rows: usize, cols: usize, low: f64, high: f64, seed: u64) -> DMatrix<f64> {
    Init::Uniform { low, high }.matrix(rows, cols, &mut seeded(seed, Stream::Init)).unwrap()
}

/// Inputs in (-2, 2) pushed at least 1e-2 away from 0, so x ± ε never crosses a kink at 0.
fn away_from_zero(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    uniform(rows, cols, -2.0, 2.0, seed).map(|v| v + 0.01 * v.signum())
}

/// Passed, no kinks, every entry of every tensor compared, and tight agreement.
fn assert_smooth(report: &GradReport, sizes: &[usize]) {
    assert!(report.passed(), "{report}");
    assert!(report.kinks.is_empty(), "{report}");
    let checked: Vec<usize> = report.tensors.iter().map(|t| t.checked).collect();
    assert_eq!(checked, sizes, "{report}");
    assert!(report.max_rel_error() <= SMOOTH_REL, "{report}");
}

fn built_dense(n_in: usize, n_out: usize, bias: bool, seed: u64) -> Dense<f64> {
    let dense = Dense::new(n_in, n_out).with_bias_init(Init::HeNormal); // a nonzero bias
    let mut dense = if bias { dense } else { dense.without_bias() };
    dense.build(Shape::Flat(n_in), &mut seeded(seed, Stream::Init)).unwrap();
    dense
}

#[test]
fn dense_with_bias() {
    let mut dense = built_dense(4, 3, true, 1);
    let x = uniform(5, 4, -1.0, 1.0, 2);
    let r = check_layer(&mut dense, &x, Tolerance::default()).unwrap();
    let names: Vec<&str> = r.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["input", "weight", "bias"]);
    assert_smooth(&r, &[5 * 4, 4 * 3, 3]);
}

#[test]
fn dense_without_bias() {
    let mut dense = built_dense(2, 3, false, 3);
    let x = uniform(4, 2, -1.0, 1.0, 4);
    let r = check_layer(&mut dense, &x, Tolerance::default()).unwrap();
    assert_smooth(&r, &[4 * 2, 2 * 3]);
}

#[test]
fn dense_above_the_fast_product_threshold() {
    // nalgebra switches to its blocked matrix product for larger sizes; check that path too.
    let mut dense = built_dense(17, 9, true, 5);
    let x = uniform(33, 17, -1.0, 1.0, 6);
    let r = check_layer(&mut dense, &x, Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    assert!(r.kinks.is_empty(), "{r}");
    // At ε = 1e-6 the rounding error of E (a sum of 297 products) over 2ε is ~1e-8, which is
    // 1e-6 relative to the smallest gradient entries. Dense is affine, so a central difference
    // has no truncation error at any ε: a larger step shrinks only the rounding.
    let coarse = Tolerance { eps: 1e-3, ..Tolerance::default() };
    let r = check_layer(&mut dense, &x, coarse).unwrap();
    assert_smooth(&r, &[33 * 17, 17 * 9, 9]);
}

#[test]
fn smooth_activations() {
    let x = uniform(4, 5, -3.0, 3.0, 7);
    let reports = [
        ("sigmoid", check_layer(&mut Sigmoid, &x, Tolerance::default()).unwrap()),
        ("tanh", check_layer(&mut Tanh, &x, Tolerance::default()).unwrap()),
        ("identity", check_layer(&mut Identity, &x, Tolerance::default()).unwrap()),
    ];
    for (name, r) in &reports {
        eprintln!("{name}"); // captured; shown only if the assertion below fails
        assert_smooth(r, &[20]);
    }
}

#[test]
fn kinked_activations_away_from_the_kink() {
    let x = away_from_zero(4, 5, 8);
    assert!(x.iter().any(|&v| v < 0.0) && x.iter().any(|&v| v > 0.0), "both sides of the kink");
    for (name, r) in [
        ("relu", check_layer(&mut Relu, &x, Tolerance::default()).unwrap()),
        ("leaky_relu", check_layer(&mut LeakyRelu::default(), &x, Tolerance::default()).unwrap()),
        ("leaky_relu 0.3", check_layer(&mut LeakyRelu { alpha: 0.3 }, &x, Tolerance::default()).unwrap()),
    ] {
        assert!(r.passed(), "{name}: {r}");
        assert!(r.kinks.is_empty(), "{name}: {r}");
        assert_eq!(r.tensors[0].checked, 20, "{name}: {r}");
        // Piecewise linear: the differences are exact up to rounding.
        assert!(r.max_rel_error() <= SMOOTH_REL, "{name}: {r}");
    }
}

/// The input gradient a layer reports for `∂E/∂y = g`.
fn input_grad<L: Layer<f64>>(layer: &mut L, x: &DMatrix<f64>, g: &DMatrix<f64>) -> DMatrix<f64> {
    let mut y = DMatrix::zeros(0, 0);
    layer.forward_train(x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
    let mut dx = DMatrix::zeros(0, 0);
    layer.backward(x, &y, g, Some(&mut dx)).unwrap();
    dx
}

#[test]
fn step_has_zero_derivative_away_from_zero() {
    let x = away_from_zero(3, 4, 9);
    let dx = input_grad(&mut Step, &x, &uniform(3, 4, -1.0, 1.0, 10));
    assert_eq!(dx, DMatrix::zeros(3, 4));
    let r = check_layer(&mut Step, &x, Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    assert!(r.kinks.is_empty(), "{r}");
    assert_eq!(r.tensors[0].checked, 12);
    // Step is flat on both sides of every probe: the numerical derivative is exactly 0 too.
    assert_eq!(r.tensors[0].max_abs_error, 0.0, "{r}");
}

/// `x` with entry (1, 2) set to exactly 0; the check must flag that entry, and only it.
fn assert_kink_at_zero<L: Layer<f64>>(name: &str, layer: &mut L) {
    let mut x = away_from_zero(3, 4, 11);
    x[(1, 2)] = 0.0;
    let r = check_layer(layer, &x, Tolerance::default()).unwrap();
    let at: Vec<(usize, usize)> = r.kinks.iter().map(|k| k.at).collect();
    assert_eq!(at, [(1, 2)], "{name}: {r}");
    assert_eq!(r.kinks[0].name, "input");
    assert!(r.passed(), "{name}: the other entries still agree: {r}");
    assert_eq!(r.tensors[0].checked, 11, "{name}: {r}");
}

#[test]
fn kinks_at_zero_are_reported() {
    assert_kink_at_zero("step", &mut Step);
    assert_kink_at_zero("relu", &mut Relu);
    assert_kink_at_zero("leaky_relu", &mut LeakyRelu { alpha: 0.1 });
}

#[test]
fn softmax_layer() {
    let x = uniform(3, 4, -2.0, 2.0, 12);
    let r = check_layer(&mut Softmax, &x, Tolerance::default()).unwrap();
    assert_smooth(&r, &[12]);
}

#[test]
fn dropout_with_its_mask_frozen() {
    // Every forward pass of a check draws the same mask, so dropout is a fixed linear map.
    let x = uniform(4, 6, -2.0, 2.0, 30);
    let mut dropout = Dropout::<f64>::new(0.5).unwrap();
    let r = check_layer(&mut dropout, &x, Tolerance::default()).unwrap();
    assert_smooth(&r, &[24]);
    let dx = input_grad(&mut dropout, &x, &DMatrix::from_element(4, 6, 1.0));
    assert!(dx.iter().any(|&v| v == 0.0) && dx.iter().any(|&v| v == 2.0), "a real mask: {dx}");

    let mut net = Sequential::<f64>::builder(3)
        .add(Dense::new(3, 6))
        .add(Tanh)
        .add(Dropout::new(0.3).unwrap())
        .add(Dense::new(6, 2))
        .build(31)
        .unwrap();
    let x = uniform(3, 3, -1.0, 1.0, 32);
    let t = DMatrix::from_column_slice(3, 1, &[1.0, 0.0, 1.0]);
    let r = check_network(&mut net, &x, &t, &SoftmaxCrossEntropy, Tolerance::default()).unwrap();
    assert_smooth(&r, &[18, 6, 12, 2]);
}

/// An activation with a wrong derivative: the check must catch it, or the passing checks above
/// prove nothing.
#[derive(Debug, Clone, Copy)]
struct WrongSigmoid;

impl Activation for WrongSigmoid {
    fn name(&self) -> &'static str {
        "wrong_sigmoid"
    }
    fn f<T: backprop::Real>(&self, x: T) -> T {
        Sigmoid.f(x)
    }
    fn df<T: backprop::Real>(&self, _x: T, y: T) -> T {
        y // should be y(1 − y)
    }
}

#[test]
fn a_wrong_derivative_fails_the_check() {
    let x = uniform(3, 4, -2.0, 2.0, 13);
    let r = check_layer(&mut WrongSigmoid, &x, Tolerance::default()).unwrap();
    assert!(!r.passed(), "{r}");
    assert_eq!(r.tensors[0].failures, 12, "{r}");
}

#[test]
fn squared_error_every_reduction() {
    let y = uniform(4, 3, -1.0, 2.0, 14);
    let t = uniform(4, 3, 0.0, 1.0, 15);
    for reduction in [Reduction::HalfSum, Reduction::Sum, Reduction::Mean, Reduction::HalfMean] {
        let r = check_loss(&SquaredError { reduction }, &y, &t, Tolerance::default()).unwrap();
        assert!(r.passed(), "{reduction:?}: {r}");
        assert_smooth(&r, &[12]);
    }
}

#[test]
fn softmax_cross_entropy_one_hot_and_class_indices() {
    let y = uniform(5, 3, -3.0, 3.0, 16);
    let labels = [2.0, 0.0, 1.0, 1.0, 2.0];
    let indices = DMatrix::from_column_slice(5, 1, &labels);
    let one_hot = DMatrix::from_fn(5, 3, |i, j| if labels[i] == j as f64 { 1.0 } else { 0.0 });

    let r = check_loss(&SoftmaxCrossEntropy, &y, &one_hot, Tolerance::default()).unwrap();
    assert_smooth(&r, &[15]);
    let r = check_loss(&SoftmaxCrossEntropy, &y, &indices, Tolerance::default()).unwrap();
    assert_smooth(&r, &[15]);
}

#[test]
fn softmax_cross_entropy_soft_targets() {
    // Rows of probabilities (label smoothing) are documented to work too.
    let y = uniform(3, 4, -2.0, 2.0, 17);
    let t = DMatrix::from_row_slice(3, 4, &[0.7, 0.1, 0.1, 0.1, 0.25, 0.25, 0.25, 0.25, 0.0, 0.0, 0.5, 0.5]);
    let r = check_loss(&SoftmaxCrossEntropy, &y, &t, Tolerance::default()).unwrap();
    assert_smooth(&r, &[12]);
}

#[test]
fn binary_cross_entropy() {
    let p = uniform(4, 2, 0.05, 0.95, 18);
    let hard = DMatrix::from_row_slice(4, 2, &[0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
    let soft = uniform(4, 2, 0.0, 1.0, 19);
    for t in [hard, soft] {
        let r = check_loss(&BinaryCrossEntropy, &p, &t, Tolerance::default()).unwrap();
        assert_smooth(&r, &[8]);
    }
}

#[test]
fn whole_network_softmax_cross_entropy() {
    let mut net = Sequential::<f64>::builder(4)
        .add(Dense::new(4, 5).with_bias_init(Init::HeNormal))
        .add(Tanh)
        .add(Dense::new(5, 3).with_bias_init(Init::HeNormal))
        .build(20)
        .unwrap();
    let x = uniform(3, 4, -1.0, 1.0, 21);
    let t = DMatrix::from_column_slice(3, 1, &[0.0, 2.0, 1.0]);
    let r = check_network(&mut net, &x, &t, &SoftmaxCrossEntropy, Tolerance::default()).unwrap();
    let names: Vec<&str> = r.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert_smooth(&r, &[20, 5, 15, 3]);
}

#[test]
fn whole_network_sigmoid_softmax_layer_squared_error() {
    // A softmax *layer* (not the fused loss) inside a network, and sigmoid hidden units.
    let mut net = Sequential::<f64>::builder(3)
        .add(Dense::new(3, 4))
        .add(Sigmoid)
        .add(Dense::new(4, 3))
        .add(Softmax)
        .build(22)
        .unwrap();
    let x = uniform(3, 3, -1.0, 1.0, 23);
    let t = DMatrix::from_row_slice(3, 3, &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    let r = check_network(&mut net, &x, &t, &SquaredError::mean(), Tolerance::default()).unwrap();
    assert_smooth(&r, &[12, 4, 12, 3]);
}

/// The gradients of a Dense layer (weight, bias, input) for `∂E/∂y = g`.
fn dense_grads(dense: &mut Dense<f64>, x: &DMatrix<f64>, g: &DMatrix<f64>) -> Vec<DMatrix<f64>> {
    let mut y = DMatrix::zeros(0, 0);
    dense.forward_train(x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
    let mut dx = DMatrix::zeros(0, 0);
    dense.backward(x, &y, g, Some(&mut dx)).unwrap();
    let mut grads = Vec::new();
    dense.visit_params(&mut |p| grads.push(p.grad().expect("backward wrote a gradient").clone()));
    grads.push(dx);
    grads
}

fn bits(ms: &[DMatrix<f64>]) -> Vec<Vec<u64>> {
    ms.iter().map(|m| m.iter().map(|v| v.to_bits()).collect()).collect()
}

#[test]
fn dense_backward_is_reentrant() {
    // A tiny product and a larger one with odd sizes.
    for (batch, n_in, n_out) in [(3, 4, 2), (33, 17, 9)] {
        let mut dense = built_dense(n_in, n_out, true, 24);
        let x = uniform(batch, n_in, -1.0, 1.0, 25);
        let g = uniform(batch, n_out, -1.0, 1.0, 26);
        let first = dense_grads(&mut dense, &x, &g);
        let second = dense_grads(&mut dense, &x, &g);
        assert_eq!(bits(&first), bits(&second));
    }
}

#[test]
fn dense_backward_is_linear_in_grad_y() {
    for (batch, n_in, n_out) in [(3, 4, 2), (33, 17, 9)] {
        let mut dense = built_dense(n_in, n_out, true, 27);
        let x = uniform(batch, n_in, -1.0, 1.0, 28);
        let g = uniform(batch, n_out, -1.0, 1.0, 29);

        let zero = dense_grads(&mut dense, &x, &DMatrix::zeros(batch, n_out));
        assert!(zero.iter().all(|m| m.iter().all(|&v| v == 0.0)), "{zero:?}");

        let once = dense_grads(&mut dense, &x, &g);
        assert!(once.iter().all(|m| m.iter().any(|&v| v != 0.0)));
        let twice = dense_grads(&mut dense, &x, &(&g * 2.0));
        // Doubling is exact in floating point, so the sums double exactly too.
        let doubled: Vec<DMatrix<f64>> = once.iter().map(|m| m * 2.0).collect();
        assert_eq!(bits(&twice), bits(&doubled));
    }
}

/// |x|, declared smooth or not: a kink at 0 that only a declaration can make an error.
#[derive(Debug, Clone, Copy)]
struct Abs {
    claims_smooth: bool,
}

impl Activation for Abs {
    fn name(&self) -> &'static str {
        "abs"
    }
    fn f<T: backprop::Real>(&self, x: T) -> T {
        x.abs()
    }
    fn df<T: backprop::Real>(&self, x: T, _y: T) -> T {
        if x < T::zero() {
            -T::one()
        } else {
            T::one()
        }
    }
    fn is_smooth(&self) -> bool {
        self.claims_smooth
    }
}

/// A check where every probe straddles a kink compared nothing, so it does not pass; the report
/// says how much it skipped.
#[test]
fn a_check_that_compared_nothing_does_not_pass() {
    let mut relu = Relu;
    let r = check_layer(&mut relu, &DMatrix::zeros(3, 4), Tolerance::default()).unwrap();
    assert_eq!((r.tensors[0].checked, r.tensors[0].kinks), (0, 12), "{r}");
    assert!(!r.passed(), "{r}");
    assert_eq!(r.kink_fraction(), 1.0);
    assert!(r.to_string().contains("100.0% of probes skipped as kinks"), "{r}");
}

/// One kink among twelve probes: skipped and reported for a layer that allows kinks, a failure
/// for one declared smooth.
#[test]
fn a_kink_fails_a_layer_declared_smooth() {
    let mut x = uniform(3, 4, 0.2, 1.0, 40);
    x[(1, 2)] = 0.0;
    let mut kinked = Abs { claims_smooth: false };
    let r = check_layer(&mut kinked, &x, Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    assert_eq!((r.kinks.len(), r.tensors[0].checked), (1, 11), "{r}");
    assert!((r.kink_fraction() - 1.0 / 12.0).abs() < 1e-15);

    let mut smooth = Abs { claims_smooth: true };
    let r = check_layer(&mut smooth, &x, Tolerance::default()).unwrap();
    assert!(r.smooth && !r.passed(), "{r}");
    assert!(r.to_string().contains("declared smooth"), "{r}");
}

/// The built-in layers declare what they are.
#[test]
fn smoothness_declarations() {
    let smooth: [&dyn Layer<f64>; 5] = [&Sigmoid, &Tanh, &Identity, &Softmax, &Dense::new(2, 2)];
    assert!(smooth.iter().all(|l| l.is_smooth()));
    let kinked: [&dyn Layer<f64>; 3] = [&Relu, &Step, &LeakyRelu { alpha: 0.1 }];
    assert!(kinked.iter().all(|l| !l.is_smooth()));
}
