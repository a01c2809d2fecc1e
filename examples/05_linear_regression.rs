//! Linear regression: fitting y = a·x + b to noisy points of y = 2x + 3.
//!
//! One dense layer from 1 input to 1 output with a bias is exactly `y = x·a + b`; with the
//! identity activation and the mean squared error, gradient descent finds the least-squares line.
//!
//! Run: `cargo run --release --example 05_linear_regression [seed]`

use backprop::prelude::*;
use backprop::{seeded, Stream};
use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::{Distribution, Normal};

mod common;

const USAGE: &str = "usage: cargo run --release --example 05_linear_regression [seed]\n\nLinear regression y = 2x + 3 by gradient descent. seed: default 0.";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let (n, true_a, true_b, noise) = (100, 2.0, 3.0, 0.1);

    // 100 points with x uniform in [-1, 1) and y = 2x + 3 + N(0, 0.1²), drawn from the seed's
    // training stream (this network has no dropout, so nothing else reads it).
    let mut rng = seeded(seed, Stream::Train);
    let normal = Normal::new(0.0, noise)?;
    let x = DMatrix::from_fn(n, 1, |_, _| rng.random_range(-1.0..1.0));
    let t = x.map(|xi| true_a * xi + true_b + normal.sample(&mut rng));

    let mut net = Sequential::<f64>::builder(1)
        .add(Dense::new(1, 1)) // y = x·a + b: the weight is a, the bias is b
        .add(Identity)
        .build(seed)?;

    let mut config = FitConfig::new(SquaredError::mean(), Sgd::new(0.1)).epochs(500);
    let history = net.fit(&x, &t, &mut config)?;
    for (epoch, loss) in history.loss.iter().enumerate().step_by(50) {
        println!("epoch {epoch:>3}: mean squared error {loss:.6}");
    }

    let dense = net.layer::<Dense<f64>>(0).ok_or("layer 0 is dense")?;
    let a = dense.weight()[(0, 0)];
    let b = dense.bias().ok_or("the layer has a bias")?[(0, 0)];

    // The closed-form least-squares line through the same points, for comparison.
    let (mean_x, mean_t) = (x.mean(), t.mean());
    let cov = x.iter().zip(t.iter()).map(|(xi, ti)| (xi - mean_x) * (ti - mean_t)).sum::<f64>();
    let var = x.iter().map(|xi| (xi - mean_x).powi(2)).sum::<f64>();
    let (ls_a, ls_b) = (cov / var, mean_t - cov / var * mean_x);

    println!("true line:          y = {true_a:.4} x + {true_b:.4} (noise σ = {noise})");
    println!("least squares:      y = {ls_a:.4} x + {ls_b:.4}");
    println!("learned (a, b):     y = {a:.4} x + {b:.4}");
    let loss = net.evaluate(&x, &t, &SquaredError::mean())?.loss;
    println!("result: a={a:.4} b={b:.4} loss={loss:.6} epochs={} seed={seed}", history.loss.len());
    Ok(())
}
