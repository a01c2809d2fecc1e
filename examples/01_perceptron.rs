//! 실습 1: perceptrons — the course's bias-free step network, then logic gates with biases.
//!
//! **The matrix product first.** The course's slide multiplies `[[1,2],[3,4]]·[[5,6],[7,8]]`;
//! here the crate's own product computes it: a dense layer without bias whose weight is the
//! second matrix computes `X·W` for the first. The answer is `[[19,22],[43,50]]` (the slide has
//! a typo in its answer; the lower left entry is 3·5 + 4·7 = 43).
//!
//! **실습 1 as the course writes it.** `X` holds the four input pairs, `Y` the targets, and two
//! layers of step functions without any bias compute
//! `step(step(X·W_layer_1)·W_layer_2)` with `W_layer_1` (2 × 3) and `W_layer_2` (3 × 1) set by
//! hand. The output is printed in the course's three blocks (`Input is`, `expected output is`,
//! `actual output is`), each a whole matrix in NumPy's layout.
//!
//! Two things to know when reading the slide:
//! - The course comments `Y` as "and 데이터", but `Y = [[0],[1],[1],[1]]` is the truth table of
//!   **OR** (AND would be `[[0],[0],[0],[1]]`). The network below computes the `Y` the slide
//!   gives, OR. The weights are one choice that works (`W_layer_1 = [[1,0,1],[0,1,1]]`,
//!   `W_layer_2 = [[1],[1],[1]]`), chosen for this example.
//! - Without a bias, **NAND is impossible** for any weights: at input `[0, 0]` every
//!   pre-activation is `0·w + 0·w = 0`, the step function gives `step(0) = 0`, so every layer
//!   outputs 0 there — but `NAND(0, 0) = 1`. (The same holds for NOR and for any target that is 1
//!   at `[0, 0]`.) That is why today's perceptrons have a bias: `y = step(x·w + b)`.
//!
//! **Gates with biases.** AND, OR and NAND are each one perceptron with hand-set weights and
//! bias (the book's values). XOR is not linearly separable, so no single perceptron computes it,
//! but two layers of gates do: XOR(a, b) = AND(NAND(a, b), OR(a, b)).
//!
//! Run: `cargo run --release --example 01_perceptron`

mod common;

use backprop::prelude::*;
use common::block;
use nalgebra::DMatrix;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// `a·b` computed by the crate: a bias-free dense layer with weight `b`, applied to `a`.
fn product(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Res<DMatrix<f64>> {
    let mut net =
        Sequential::<f64>::builder(b.nrows()).add(Dense::new(b.nrows(), b.ncols()).without_bias()).build(0)?;
    net.set_param("0.weight", b)?;
    Ok(net.predict(a)?)
}

/// A 2-1 perceptron: a dense layer with bias, then the step function.
fn gate(w: [f64; 2], b: f64) -> Res<Sequential<f64>> {
    let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 1)).add(Step).build(0)?;
    net.set_param("0.weight", &DMatrix::from_row_slice(2, 1, &w))?;
    net.set_param("0.bias", &DMatrix::from_row_slice(1, 1, &[b]))?;
    Ok(net)
}

/// Prints the course's three blocks; returns the outputs (comma-separated) and how many rows
/// were right.
fn check(name: &str, net: &Sequential<f64>, x: &DMatrix<f64>, expected: &DMatrix<f64>) -> Res<(String, usize)> {
    println!("=== {name} ===");
    let y = net.predict(x)?;
    println!("Input is\n{}", block(x, 0));
    println!("expected output is\n{}", block(expected, 0));
    println!("actual output is\n{}", block(&y, 0));
    println!();
    let correct = y.iter().zip(expected.iter()).filter(|(a, b)| a == b).count();
    Ok((common::csv(&y, 0), correct))
}

const USAGE: &str = "usage: cargo run --release --example 01_perceptron\n\nThe matrix-product slide, 실습 1 (a bias-free two-layer step network), then AND, OR and NAND perceptrons with hand-set weights and XOR from gates.";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Res<()> {
    // The course's matrix-product slide, by the crate's own product.
    let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
    let b = DMatrix::from_row_slice(2, 2, &[5.0, 6.0, 7.0, 8.0]);
    let ab = product(&a, &b)?;
    println!("np.dot(A, B) =\n{}", block(&ab, 0));
    let expected_ab = DMatrix::from_row_slice(2, 2, &[19.0, 22.0, 43.0, 50.0]);
    if ab != expected_ab {
        return Err(format!("the product is {ab}, not [[19, 22], [43, 50]]").into());
    }
    println!("(lower left: 3·5 + 4·7 = 43; the slide has a typo there)\n");

    // 실습 1 as the course writes it: no bias, two layers of step functions.
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let y_course = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 1.0]); // "and 데이터" — it is OR
    let w_layer_1 = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 1.0, 0.0, 1.0, 1.0]);
    let w_layer_2 = DMatrix::from_row_slice(3, 1, &[1.0, 1.0, 1.0]);
    let mut course = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 3).without_bias())
        .add(Step)
        .add(Dense::new(3, 1).without_bias())
        .add(Step)
        .build(0)?;
    course.set_param("0.weight", &w_layer_1)?; // W_layer_1
    course.set_param("2.weight", &w_layer_2)?; // W_layer_2
    println!("W_layer_1 =\n{}\nW_layer_2 =\n{}\n", block(&w_layer_1, 0), block(&w_layer_2, 0));
    let (course_outputs, course_right) = check("실습 1: Y labelled \"and\", holding OR", &course, &x, &y_course)?;
    // A bias-free network outputs 0 at [0, 0] whatever its weights: NAND(0, 0) = 1 is out of reach.
    let at_origin = course.predict(&DMatrix::zeros(1, 2))?[(0, 0)];
    println!("without a bias, input [0, 0] gives {at_origin} for any weights, so NAND (1 at [0, 0]) is impossible\n");

    // Today's perceptrons: one per gate, with bias.
    let gates = [
        ("AND", [0.5, 0.5], -0.7, [0.0, 0.0, 0.0, 1.0]),
        ("OR", [0.5, 0.5], -0.2, [0.0, 1.0, 1.0, 1.0]),
        ("NAND", [-0.5, -0.5], 0.7, [1.0, 1.0, 1.0, 0.0]),
    ];
    let mut summary = vec![format!("matmul={}", common::csv(&ab, 0)), format!("course_or={course_outputs}")];
    let mut correct = 0;
    for (name, w, bias, expected) in gates {
        let (outputs, right) = check(name, &gate(w, bias)?, &x, &DMatrix::from_row_slice(4, 1, &expected))?;
        summary.push(format!("{}={outputs}", name.to_lowercase()));
        correct += right;
    }

    // XOR as two layers of gates: the hidden layer is NAND and OR side by side (one column of
    // W and one bias each), the output layer is AND of the two.
    let mut xor =
        Sequential::<f64>::builder(2).add(Dense::new(2, 2)).add(Step).add(Dense::new(2, 1)).add(Step).build(0)?;
    xor.set_param("0.weight", &DMatrix::from_row_slice(2, 2, &[-0.5, 0.5, -0.5, 0.5]))?; // [NAND | OR]
    xor.set_param("0.bias", &DMatrix::from_row_slice(1, 2, &[0.7, -0.2]))?;
    xor.set_param("2.weight", &DMatrix::from_row_slice(2, 1, &[0.5, 0.5]))?; // AND
    xor.set_param("2.bias", &DMatrix::from_row_slice(1, 1, &[-0.7]))?;
    let (outputs, right) =
        check("XOR = AND(NAND, OR)", &xor, &x, &DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]))?;
    summary.push(format!("xor={outputs}"));
    correct += right;

    println!("result: {} course_correct={course_right}/4 correct={correct}/16", summary.join(" "));
    Ok(())
}
