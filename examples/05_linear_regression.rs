//! Linear regression: fitting y = a·x + b to noisy points of y = 2x + 3.
//!
//! One dense layer from 1 input to 1 output with a bias is exactly `y = x·a + b`; with the
//! identity activation and the mean squared error, gradient descent finds the least-squares line.
//!
//! The course compares two lines on its data with their mean squared errors ("MSE: 120" for a
//! bad line, "MSE: 10" for a good one). This example does the same on its own data: a bad line
//! chosen by hand (y = 0.5x + 1) and the line gradient descent fits, each with its MSE, drawn over
//! the points. The course's data are not these, so its numbers are not these either; what carries
//! over is the comparison — the fitted line's MSE is far below the bad line's.
//!
//! Run: `cargo run --release --features plot --example 05_linear_regression -- [path.svg] [seed]`

use backprop::plot::{xy_svg, Panel, Series};
use backprop::prelude::*;
use backprop::{seeded, Stream};
use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::{Distribution, Normal};
use std::path::PathBuf;

/// The mean squared error of the line y = a·x + b on the points (x, t).
fn mse(a: f64, b: f64, x: &DMatrix<f64>, t: &DMatrix<f64>) -> f64 {
    x.iter().zip(t.iter()).map(|(xi, ti)| (a * xi + b - ti).powi(2)).sum::<f64>() / x.len().max(1) as f64
}

mod common;

const USAGE: &str = "usage: cargo run --release --features plot --example 05_linear_regression [picture.svg] [seed]\n\nLinear regression y = 2x + 3 by gradient descent, drawn beside a bad line. seed: default 0.";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().unwrap_or_else(|| "linear_regression.svg".into()));
    let seed: u64 = common::parse("seed", args.next().as_deref(), 0)?;
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

    // The course's comparison: a bad line and the fitted one, each with its MSE.
    let (bad_a, bad_b) = (0.5, 1.0);
    let bad_mse = mse(bad_a, bad_b, &x, &t);
    println!("bad line:    y = {bad_a} x + {bad_b}   MSE: {bad_mse:.4}");
    println!("fitted line: y = {a:.4} x + {b:.4}   MSE: {loss:.4}");

    let ends = |a: f64, b: f64| vec![(-1.0, b - a), (1.0, a + b)];
    let panel = Panel {
        title: format!("y = {true_a}x + {true_b} + noise: bad line MSE {bad_mse:.2}, fitted MSE {loss:.4}"),
        series: vec![
            Series::points("data", x.iter().copied().zip(t.iter().copied()).collect()),
            Series::line(format!("bad: y = {bad_a}x + {bad_b}"), ends(bad_a, bad_b)),
            Series::line(format!("fitted: y = {a:.3}x + {b:.3}"), ends(a, b)),
        ],
    };
    xy_svg(&path, &[panel])?;
    println!("picture written to {}", path.display());
    println!(
        "result: a={a:.4} b={b:.4} loss={loss:.6} bad_mse={bad_mse:.4} epochs={} seed={seed} path={}",
        history.loss.len(),
        path.display()
    );
    Ok(())
}
