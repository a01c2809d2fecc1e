//! 실습 1: logic gates as perceptrons.
//!
//! AND, OR and NAND are each one perceptron, `y = step(x·w + b)`, with hand-set weights (the
//! book's values). XOR is not linearly separable, so no single perceptron computes it, but two
//! layers of gates do: XOR(a, b) = AND(NAND(a, b), OR(a, b)).
//!
//! Run: `cargo run --release --example 01_perceptron`

use backprop::prelude::*;
use nalgebra::DMatrix;

/// A 2-1 perceptron: a dense layer with bias, then the step function.
fn gate(w: [f64; 2], b: f64) -> Result<Sequential<f64>, Box<dyn std::error::Error>> {
    let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 1)).add(Step).build(0)?;
    let dense = net.layer_mut::<Dense<f64>>(0).ok_or("layer 0 is dense")?;
    dense.set_weight(&DMatrix::from_row_slice(2, 1, &w))?;
    dense.set_bias(&DMatrix::from_row_slice(1, 1, &[b]))?;
    Ok(net)
}

/// Prints the course's blocks for every input; returns the outputs and how many were right.
fn check(name: &str, net: &Sequential<f64>, x: &DMatrix<f64>, expected: [f64; 4]) -> Result<(String, usize), Error> {
    println!("=== {name} ===");
    let y = net.predict(x)?;
    let mut correct = 0;
    for i in 0..4 {
        println!("Input is [{}, {}]", x[(i, 0)], x[(i, 1)]);
        println!("expected output is {}", expected[i]);
        println!("actual output is {}", y[(i, 0)]);
        correct += usize::from(y[(i, 0)] == expected[i]);
    }
    println!();
    let outputs: Vec<String> = y.iter().map(|v| v.to_string()).collect();
    Ok((outputs.join(","), correct))
}

mod common;

const USAGE: &str = "usage: cargo run --release --example 01_perceptron\n\nAND, OR and NAND as perceptrons with hand-set weights, XOR from gates (실습 1).";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);

    // One perceptron per gate: (weights, bias, truth table).
    let gates = [
        ("AND", [0.5, 0.5], -0.7, [0.0, 0.0, 0.0, 1.0]),
        ("OR", [0.5, 0.5], -0.2, [0.0, 1.0, 1.0, 1.0]),
        ("NAND", [-0.5, -0.5], 0.7, [1.0, 1.0, 1.0, 0.0]),
    ];
    let mut summary = Vec::new();
    let mut correct = 0;
    for (name, w, b, expected) in gates {
        let (outputs, right) = check(name, &gate(w, b)?, &x, expected)?;
        summary.push(format!("{}={outputs}", name.to_lowercase()));
        correct += right;
    }

    // XOR as two layers of gates: the hidden layer is NAND and OR side by side (one column of
    // W and one bias each), the output layer is AND of the two.
    let mut xor =
        Sequential::<f64>::builder(2).add(Dense::new(2, 2)).add(Step).add(Dense::new(2, 1)).add(Step).build(0)?;
    let hidden = xor.layer_mut::<Dense<f64>>(0).ok_or("layer 0 is dense")?;
    hidden.set_weight(&DMatrix::from_row_slice(2, 2, &[-0.5, 0.5, -0.5, 0.5]))?; // [NAND | OR]
    hidden.set_bias(&DMatrix::from_row_slice(1, 2, &[0.7, -0.2]))?;
    let output = xor.layer_mut::<Dense<f64>>(2).ok_or("layer 2 is dense")?;
    output.set_weight(&DMatrix::from_row_slice(2, 1, &[0.5, 0.5]))?; // AND
    output.set_bias(&DMatrix::from_row_slice(1, 1, &[-0.7]))?;
    let (outputs, right) = check("XOR = AND(NAND, OR)", &xor, &x, [0.0, 1.0, 1.0, 0.0])?;
    summary.push(format!("xor={outputs}"));
    correct += right;

    println!("result: {} correct={correct}/16", summary.join(" "));
    Ok(())
}
