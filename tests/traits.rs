//! Auto traits the crate promises (RELIABILITY.md §8, row 38): networks can move between and be
//! shared across threads, and the error type fits in `Box<dyn Error + Send + Sync>`. These are
//! checked when the test compiles; a field that broke them would stop the build.

use backprop::{Dense, Error, Layer, Network, Sequential, Sigmoid, Tanh};
use nalgebra::DMatrix;

fn assert_send_sync<T: Send + Sync>() {}
fn assert_static<T: 'static>() {}

#[test]
fn error_and_networks_are_send_and_sync() {
    assert_send_sync::<Error>();
    assert_static::<Error>();
    assert_send_sync::<Sequential<f32>>();
    assert_send_sync::<Sequential<f64>>();
    assert_send_sync::<Box<dyn Layer<f64>>>();

    // The error converts into the usual boxed error, and keeps its message.
    let err: Box<dyn std::error::Error + Send + Sync + 'static> =
        Sequential::<f64>::builder(3).build(0).unwrap_err().into();
    assert!(err.to_string().contains("at least one layer"), "{err}");
}

#[test]
fn boxed_layers_are_usable() {
    let layers: Vec<Box<dyn Layer<f64>>> = vec![Box::new(Dense::<f64>::new(2, 3)), Box::new(Tanh), Box::new(Sigmoid)];
    let kinds: Vec<&str> = layers.iter().map(|l| l.kind()).collect();
    assert_eq!(kinds, ["dense", "tanh", "sigmoid"]);

    let net = layers.into_iter().fold(Sequential::<f64>::builder(2), |b, l| b.add_boxed(l)).build(0).unwrap();
    let y = net.predict(&DMatrix::from_element(4, 2, 0.5)).unwrap();
    assert_eq!(y.shape(), (4, 3));
    // tanh then sigmoid: every output in (σ(−1), σ(1)).
    assert!(y.iter().all(|&v| v > 0.26 && v < 0.74), "{y}");
}

#[test]
fn a_network_moves_to_another_thread() {
    let net = Sequential::<f32>::builder(2).add(Dense::new(2, 1)).build(0).unwrap();
    let x = DMatrix::from_element(1, 2, 1.0_f32);
    let here = net.predict(&x).unwrap();
    let there = std::thread::spawn(move || net.predict(&x).unwrap()).join().unwrap();
    assert_eq!(here, there);
}
