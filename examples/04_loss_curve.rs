//! 실습 2-2: the loss curve.
//!
//! Trains the 실습 2 XOR network exactly as `02_xor` does and draws the error of every epoch
//! (the course's `Error_list`, here `History::loss`) to an SVG file.
//!
//! Run: `cargo run --release --features plot --example 04_loss_curve [path.svg] [seed]`
//!
//! The README's picture, `docs/loss_curve.svg`, is this example's output for seed 0.

use backprop::prelude::*;
use nalgebra::DMatrix;
use std::path::PathBuf;

mod common;

const USAGE: &str = "usage: cargo run --release --features plot --example 04_loss_curve [path.svg] [seed]\n\n\
Trains the XOR network of 02_xor and draws its loss per epoch (epochs from 1) to path.svg\n\
(default loss_curve.svg). seed: the weights' seed (default 0).";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = common::arg(1, "path", PathBuf::from("loss_curve.svg"))?;
    let seed: u64 = common::arg(2, "seed", 0)?;

    // The four input patterns and the XOR of each.
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);

    let uniform = Init::Uniform { low: 0.0, high: 1.0 };
    let mut net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 3).without_bias().with_init(uniform))
        .add(Sigmoid)
        .add(Dense::new(3, 1).without_bias().with_init(uniform))
        .add(Sigmoid)
        .build(seed)?;

    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1)).epochs(20_000);
    let history = net.fit(&x, &t, &mut config)?;

    let title = format!("XOR 2-3-1 sigmoid network, learning rate 0.1 (seed {seed})");
    backprop::plot::loss_curve_svg(&path, &title, &history.loss)?;
    println!("loss curve written to {}", path.display());

    let first = history.loss.first().copied().unwrap_or(f64::NAN);
    let last = history.final_loss().unwrap_or(f64::NAN);
    println!("result: path={} epochs={} first_loss={first:.4} last_loss={last:.4}", path.display(), history.loss.len());
    Ok(())
}
