//! Training end to end: a golden run against an independent NumPy implementation, convergence
//! over seeds, determinism, f32, and a minibatch classifier.

use backprop::{
    seeded, Dense, FitConfig, Init, Network, Real, Sequential, Sgd, Sigmoid, SoftmaxCrossEntropy, SquaredError, Stream,
    Tanh,
};
use nalgebra::DMatrix;
use rand_distr::{Distribution, Uniform};

/// The four XOR patterns and their targets.
fn xor_data<T: Real>() -> (DMatrix<T>, DMatrix<T>) {
    let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0].map(T::cast);
    let t = [0.0, 1.0, 1.0, 0.0].map(T::cast);
    (DMatrix::from_row_slice(4, 2, &x), DMatrix::from_row_slice(4, 1, &t))
}

/// The course's 실습 2 network (examples/02_xor.rs): 2-3-1, sigmoid, no bias, U(0, 1) weights.
fn xor_net<T: Real>(seed: u64) -> Sequential<T> {
    let uniform = Init::Uniform { low: 0.0, high: 1.0 };
    Sequential::builder(2)
        .add(Dense::new(2, 3).without_bias().with_init(uniform))
        .add(Sigmoid)
        .add(Dense::new(3, 1).without_bias().with_init(uniform))
        .add(Sigmoid)
        .build(seed)
        .unwrap()
}

/// Full-batch gradient descent, lr 0.1, on E = ½Σ(y − t)².
fn xor_config<T: Real>(epochs: usize) -> FitConfig<T> {
    FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1)).epochs(epochs)
}

/// Outputs below 0.1 where the target is 0 and above 0.9 where it is 1.
fn solves_xor<T: Real>(y: &DMatrix<T>) -> bool {
    let y: Vec<f64> = y.iter().map(|v| v.to_f64()).collect();
    y[0] < 0.1 && y[1] > 0.9 && y[2] > 0.9 && y[3] < 0.1
}

fn bits<N: Network<f64>>(net: &N) -> Vec<Vec<u64>> {
    net.params().iter().map(|p| p.value().iter().map(|v| v.to_bits()).collect()).collect()
}

#[test]
fn xor_golden_run_matches_numpy() {
    // Expected numbers come from /work/shared/bench/xor_numpy.py, an independent NumPy float64
    // implementation of the same training, started from NumPy's seed-0 weights.
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
    let (x, t) = xor_data::<f64>();
    let mut net = xor_net::<f64>(0);
    net.layer_mut::<Dense<f64>>(0).unwrap().set_weight(&w1).unwrap();
    net.layer_mut::<Dense<f64>>(2).unwrap().set_weight(&w2).unwrap();

    // The script prints 17 digits (0.68585195855947645, 0.0058617889311995078); the constants
    // below are the same f64 values, written in their shortest form.
    let initial = net.evaluate(&x, &t, &SquaredError::half_sum()).unwrap().loss;
    assert!((initial - 0.6858519585594764).abs() <= 1e-12, "{initial:.17}");

    let history = net.fit(&x, &t, &mut xor_config(20_000)).unwrap();
    assert_eq!(history.loss.len(), 20_000);
    assert_eq!(history.steps, 20_000);
    // Each epoch reports the loss before its update: the first is the initial loss.
    assert!((history.loss[0] - initial).abs() <= 1e-15);

    let y = net.predict(&x).unwrap();
    let expected = DMatrix::from_column_slice(
        4,
        1,
        &[0.07788787854391309, 0.9500922708505923, 0.9501125787870458, 0.02602921462891865],
    );
    backprop::approx::assert_abs_diff_eq!(y, expected, epsilon = 1e-10);
    let last = net.evaluate(&x, &t, &SquaredError::half_sum()).unwrap().loss;
    assert!((last - 0.005861788931199508).abs() <= 1e-12, "{last:.17}");
}

#[test]
fn xor_converges_for_seeds_0_to_5() {
    // Seeds fixed in advance, not picked after a run. All of them converge within the course's
    // 20000 epochs.
    let (x, t) = xor_data::<f64>();
    for seed in 0..=5 {
        let mut net = xor_net::<f64>(seed);
        let history = net.fit(&x, &t, &mut xor_config(20_000)).unwrap();
        let y = net.predict(&x).unwrap();
        assert!(solves_xor(&y), "seed {seed}: outputs {:?}", y.as_slice());
        assert!(history.final_loss().unwrap() < history.loss[0] / 10.0, "seed {seed}");
    }
}

#[test]
fn xor_in_f32() {
    let (x, t) = xor_data::<f32>();
    let mut net = xor_net::<f32>(0);
    net.fit(&x, &t, &mut xor_config(20_000)).unwrap();
    let y = net.predict(&x).unwrap();
    assert!(solves_xor(&y), "outputs {:?}", y.as_slice());

    // It starts from the f64 network's weights, rounded (the initializer draws in f64).
    let w64 = xor_net::<f64>(0).layer::<Dense<f64>>(0).unwrap().weight().map(|v| v as f32);
    assert_eq!(xor_net::<f32>(0).layer::<Dense<f32>>(0).unwrap().weight(), &w64);
}

#[test]
fn same_seed_same_parameters() {
    let (x, t) = xor_data::<f64>();
    let train = |seed: u64| {
        let mut net = xor_net::<f64>(seed);
        let history = net.fit(&x, &t, &mut xor_config(500)).unwrap();
        // The losses, not the whole history: it also records wall-clock seconds.
        let losses: Vec<u64> = history.loss.iter().map(|v| v.to_bits()).collect();
        (bits(&net), losses)
    };
    let (a, losses_a) = train(3);
    let (b, losses_b) = train(3);
    assert_eq!(a, b);
    assert!(losses_a == losses_b, "the loss curves differ");
    let (c, _) = train(4);
    assert_ne!(a, c);
}

#[test]
fn minibatch_shuffling_is_deterministic() {
    let (x, t) = xor_data::<f64>();
    let train = |shuffle_seed: u64| {
        let mut net = xor_net::<f64>(0);
        let mut config = xor_config(300).batch_size(2).shuffle(true).seed(shuffle_seed);
        let history = net.fit(&x, &t, &mut config).unwrap();
        assert_eq!(history.steps, 600);
        bits(&net)
    };
    assert_eq!(train(11), train(11));
    // Another shuffling seed gives other batches, hence other parameters.
    assert_ne!(train(11), train(12));
}

/// Ten points around each of three well-separated centres, labelled by centre.
fn three_blobs() -> (DMatrix<f64>, DMatrix<f64>) {
    let centres = [(0.0, 0.0), (3.0, 0.0), (0.0, 3.0)];
    let noise = Uniform::new(-0.5, 0.5).unwrap();
    let mut rng = seeded(1, Stream::Init);
    let mut x = DMatrix::zeros(30, 2);
    let mut t = DMatrix::zeros(30, 1);
    for i in 0..30 {
        let class = i % 3;
        x[(i, 0)] = centres[class].0 + noise.sample(&mut rng);
        x[(i, 1)] = centres[class].1 + noise.sample(&mut rng);
        t[(i, 0)] = class as f64;
    }
    (x, t)
}

#[test]
fn minibatch_classifier_separates_three_blobs() {
    let (x, t) = three_blobs();
    let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 8)).add(Tanh).add(Dense::new(8, 3)).build(2).unwrap();
    let before = net.evaluate(&x, &t, &SoftmaxCrossEntropy).unwrap();
    assert!(before.accuracy < 1.0, "the untrained network must not already be perfect");

    let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(200).batch_size(5);
    let history = net.fit(&x, &t, &mut config).unwrap();
    assert_eq!(history.steps, 200 * 6);

    let after = net.evaluate(&x, &t, &SoftmaxCrossEntropy).unwrap();
    assert_eq!(after.accuracy, 1.0, "{after:?}");
    assert!(after.loss < before.loss / 10.0, "{before:?} -> {after:?}");
    // One-hot targets give the same evaluation as class indices.
    let one_hot = DMatrix::from_fn(30, 3, |i, j| if t[i] == j as f64 { 1.0 } else { 0.0 });
    let again = net.evaluate(&x, &one_hot, &SoftmaxCrossEntropy).unwrap();
    assert_eq!(again.accuracy, 1.0);
    assert!((again.loss - after.loss).abs() <= 1e-15);
}
