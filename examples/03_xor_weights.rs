//! 실습 2-1: reading the learned weights and running them with the step function.
//!
//! Trains the 실습 2 XOR network exactly as `02_xor` does, prints W_layer_1 and W_layer_2, then
//! copies them into a network of the same shape whose activations are the perceptron's step
//! function. Sigmoid outputs above 0.5 are pre-activations above 0, where the step gives 1.
//!
//! Run: `cargo run --release --example 03_xor_weights [seed]`

use backprop::prelude::*;
use nalgebra::DMatrix;

/// The 실습 2 network shape, 2-3-1 without bias, with activation `A` on both layers.
fn xor_net<A: Activation>(activation: A, seed: u64) -> Result<Sequential<f64>, Error> {
    let uniform = Init::Uniform { low: 0.0, high: 1.0 };
    Sequential::<f64>::builder(2)
        .add(Dense::new(2, 3).without_bias().with_init(uniform))
        .add(activation)
        .add(Dense::new(3, 1).without_bias().with_init(uniform))
        .add(activation)
        .build(seed)
}

mod common;

const USAGE: &str = "usage: cargo run --release --example 03_xor_weights [seed]\n\nThe learned XOR weights, transplanted into a step network (실습 2-1). seed: default 0.";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(0);

    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);

    // 실습 2, as in 02_xor.
    let mut net = xor_net(Sigmoid, seed)?;
    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1)).epochs(20_000);
    net.fit(&x, &t, &mut config)?;
    let sigmoid_y = net.predict(&x)?;

    let w1 = net.layer::<Dense<f64>>(0).ok_or("layer 0 is dense")?.weight().clone();
    let w2 = net.layer::<Dense<f64>>(2).ok_or("layer 2 is dense")?.weight().clone();
    println!("W_layer_1 (learned) ={w1}W_layer_2 (learned) ={w2}");

    // The same weights in a network of step functions.
    let mut step_net = xor_net(Step, seed)?;
    step_net.layer_mut::<Dense<f64>>(0).ok_or("layer 0 is dense")?.set_weight(&w1)?;
    step_net.layer_mut::<Dense<f64>>(2).ok_or("layer 2 is dense")?.set_weight(&w2)?;
    let step_y = step_net.predict(&x)?;

    // What the output unit sees in each network: the hidden values times W_layer_2.
    let sigmoid_hidden = (&x * &w1).map(|v| Sigmoid.f(v));
    let step_hidden = (&x * &w1).map(|v| Step.f(v));
    let (sigmoid_pre, step_pre) = (&sigmoid_hidden * &w2, &step_hidden * &w2);
    for i in 0..4 {
        println!(
            "Input is [{}, {}]: sigmoid output {:.4} (pre-activation {:+.3}), step output {} (pre-activation {:+.3})",
            x[(i, 0)],
            x[(i, 1)],
            sigmoid_y[(i, 0)],
            sigmoid_pre[(i, 0)],
            step_y[(i, 0)],
            step_pre[(i, 0)]
        );
    }

    let step_outputs: Vec<String> = step_y.iter().map(|v| v.to_string()).collect();
    println!("step network outputs: [{}]", step_outputs.join(", "));
    // Without bias, input [0, 0] gives pre-activation exactly 0 everywhere, and step(0) = 0.
    println!("note: for [0, 0] every pre-activation is exactly 0 (no bias), and step(0) = 0 by definition");
    if step_y != t {
        println!("the step network does NOT reproduce XOR with these weights (targets [0, 1, 1, 0])");
    }
    let sigmoid_outputs: Vec<String> = sigmoid_y.iter().map(|v| format!("{v:.2}")).collect();
    println!(
        "result: step_outputs={} sigmoid_outputs={} seed={seed}",
        step_outputs.join(","),
        sigmoid_outputs.join(",")
    );
    Ok(())
}
