//! 실습 2: XOR by backpropagation.
//!
//! A 2-3-1 network, sigmoid on both layers, no bias, weights from U(0, 1), the loss
//! E = ½ Σ (y − t)², full-batch gradient descent with learning rate 0.1 for 20000 epochs.
//!
//! Run: `cargo run --release --example 02_xor [seed]`

use backprop::prelude::*;
use nalgebra::DMatrix;
use std::time::Instant;

mod common;

const USAGE: &str = "usage: cargo run --release --example 02_xor [seed]\n\nXOR by backpropagation, 2-3-1 sigmoid network (실습 2). seed: the weights' seed (default 0).";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(0);

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

    let w1 = net.layer::<Dense<f64>>(0).ok_or("layer 0 is dense")?.weight().clone();
    let w2 = net.layer::<Dense<f64>>(2).ok_or("layer 2 is dense")?.weight().clone();
    println!("W_layer_1 (initial) ={w1}W_layer_2 (initial) ={w2}");

    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1)).epochs(20_000);
    let start = Instant::now();
    let history = net.fit(&x, &t, &mut config)?;
    let seconds = start.elapsed().as_secs_f64();

    for (epoch, loss) in history.loss.iter().enumerate().step_by(2000) {
        println!("epoch {epoch:>5}: error {loss:.6}");
    }

    let y = net.predict(&x)?;
    for i in 0..4 {
        println!(
            "Input is {:?}, expected output is {}, actual output is {:.4}",
            [x[(i, 0)], x[(i, 1)]],
            t[(i, 0)],
            y[(i, 0)]
        );
    }
    let loss = net.evaluate(&x, &t, &SquaredError::half_sum())?.loss;
    let outputs: Vec<String> = y.iter().map(|v| format!("{v:.2}")).collect();
    println!(
        "result: outputs={} loss={loss:.4} epochs={} seed={seed} seconds={seconds:.4}",
        outputs.join(","),
        history.loss.len()
    );
    Ok(())
}
