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
