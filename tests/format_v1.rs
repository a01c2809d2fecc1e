//! Files written by format version 1 (flat networks, before nesting) still load and predict the
//! same. The fixtures in `tests/fixtures/` were written by the version-1 code and are committed
//! as they came out; `*_io` holds the inputs and the predictions that code made.

use backprop::io::load_matrices;
use backprop::{Network, Real, Sequential};
use nalgebra::DMatrix;

fn check<T: Real>(tag: &str) {
    let net = Sequential::<T>::load(format!("tests/fixtures/v1_mlp_{tag}.safetensors")).unwrap();
    let io: Vec<(String, DMatrix<T>)> = load_matrices(format!("tests/fixtures/v1_mlp_{tag}_io.safetensors")).unwrap();
    let (x, y) = (&io[0].1, &io[1].1);
    assert_eq!((io[0].0.as_str(), io[1].0.as_str()), ("x", "y"));
    assert_eq!(&net.predict(x).unwrap(), y, "{tag}: predictions differ from the version-1 code's");
    // Flat networks keep the version-1 names.
    let dims = net.param("0.weight").map(|w| w.shape());
    assert_eq!(dims, Some((4, 5)), "{tag}");
    assert_eq!(net.param("7.bias").map(|b| b.shape()), Some((1, 2)), "{tag}");
}

#[test]
fn version_1_file_loads_and_predicts_the_same_f32() {
    check::<f32>("f32");
}

#[test]
fn version_1_file_loads_and_predicts_the_same_f64() {
    check::<f64>("f64");
}

/// A checkpoint written by the version-1 code (Adam state named by parameter position,
/// `optimizer.0.m`) after 3 of 6 epochs resumes to exactly the parameters of 6 epochs in one go.
#[test]
fn version_1_checkpoint_resumes_bit_exactly() {
    use backprop::prelude::*;
    let x = DMatrix::<f64>::from_fn(8, 3, |i, j| ((i * 3 + j) as f64 * 0.41).sin());
    let t = DMatrix::<f64>::from_fn(8, 1, |i, _| (i % 3) as f64);
    let network =
        || Sequential::<f64>::builder(3).add(Dense::new(3, 5)).add(Tanh).add(Dense::new(5, 3)).build(21).unwrap();
    let config = || FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.05)).epochs(6).batch_size(3).seed(4);

    let mut resumed = network();
    let mut fit = config();
    let epoch = resumed.load_checkpoint("tests/fixtures/v1_checkpoint_adam_f64.safetensors", &mut fit).unwrap();
    assert_eq!(epoch, 3);
    resumed.fit(&x, &t, &mut fit.start_epoch(epoch)).unwrap();

    let mut straight = network();
    straight.fit(&x, &t, &mut config()).unwrap();
    let values = |n: &Sequential<f64>| -> Vec<DMatrix<f64>> { n.params().iter().map(|p| p.value().clone()).collect() };
    assert_eq!(values(&resumed), values(&straight));
}
