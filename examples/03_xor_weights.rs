//! 실습 2-1: reading the learned weights and running them with the step function.
//!
//! Trains the 실습 2 XOR network exactly as `02_xor` does, prints W_layer_1 and W_layer_2, then
//! copies them into a network of the same shape whose activations are the perceptron's step
//! function. Sigmoid outputs above 0.5 are pre-activations above 0, where the step gives 1.
//!
//! **The course's own weights.** The course prints the weights its run learned (실습 2-1's
//! `W_layer_1`, `W_layer_2`, 8 digits) and the outputs they give,
//! `[[0.07607478] [0.95087552] [0.95083983] [0.02672599]]`. Those weights are not in this
//! repository, so they are not written into this example; pass them as they are printed on the
//! slide, row by row:
//!
//! ```text
//! cargo run --release --example 03_xor_weights -- --course-weights w11,w12,w13,w21,w22,w23 w1,w2,w3
//! ```
//!
//! and the example transplants them into the sigmoid network (its outputs must match the
//! course's printed ones within 1e-5: the weights were printed to 8 digits) and into the step
//! network (which must print `[0, 1, 1, 0]`).
//!
//! Run: `cargo run --release --example 03_xor_weights -- [seed] [--course-weights W1 W2]`

use backprop::prelude::*;
use nalgebra::DMatrix;

/// The outputs the course prints for 실습 2 (8 decimals, NumPy's block).
const COURSE_OUTPUTS: [f64; 4] = [0.07607478, 0.95087552, 0.95083983, 0.02672599];

/// `rows × cols` numbers, comma-separated, row by row.
fn parse_matrix(text: &str, rows: usize, cols: usize) -> Result<DMatrix<f64>, Box<dyn std::error::Error>> {
    let values = text.split(',').map(|v| v.trim().parse::<f64>()).collect::<Result<Vec<_>, _>>()?;
    if values.len() != rows * cols || values.iter().any(|v| !v.is_finite()) {
        return Err(
            format!("expected {} finite numbers ({rows} × {cols}, row by row), got {text:?}", rows * cols).into()
        );
    }
    Ok(DMatrix::from_row_slice(rows, cols, &values))
}

/// Runs `(W_layer_1, W_layer_2)` in the sigmoid and the step network; returns the sigmoid
/// outputs and the step outputs.
fn transplant(w1: &DMatrix<f64>, w2: &DMatrix<f64>, x: &DMatrix<f64>) -> Result<(DMatrix<f64>, DMatrix<f64>), Error> {
    let mut sigmoid_net = xor_net(Sigmoid, 0)?;
    let mut step_net = xor_net(Step, 0)?;
    for net in [&mut sigmoid_net, &mut step_net] {
        net.set_param("0.weight", w1)?;
        net.set_param("2.weight", w2)?;
    }
    Ok((sigmoid_net.predict(x)?, step_net.predict(x)?))
}

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

const USAGE: &str = "usage: cargo run --release --example 03_xor_weights [seed] [--course-weights W_LAYER_1 W_LAYER_2]\n\nThe learned XOR weights, transplanted into a step network (실습 2-1). seed: default 0. --course-weights: the course's printed weights, 6 and 3 numbers separated by commas.";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (seed, course_args) = match args.iter().position(|a| a == "--course-weights") {
        Some(i) => (args[..i].first(), Some(&args[i + 1..])),
        None => (args.first(), None),
    };
    let seed: u64 = common::parse("seed", seed.map(String::as_str), 0)?;
    let course = match course_args {
        Some([w1, w2]) => Some((parse_matrix(w1, 2, 3)?, parse_matrix(w2, 3, 1)?)),
        Some(_) => {
            return Err("--course-weights takes two arguments: W_layer_1 (6 numbers), W_layer_2 (3 numbers)".into())
        }
        None => None,
    };

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
    // The course's own printed weights, if given.
    let mut course_summary = String::from(" course_weights=not_given");
    match &course {
        Some((w1, w2)) => {
            let (course_sigmoid, course_step) = transplant(w1, w2, &x)?;
            let diff = course_sigmoid.iter().zip(COURSE_OUTPUTS).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            let steps: Vec<String> = course_step.iter().map(|v| v.to_string()).collect();
            println!("the course's W_layer_1 =\n{w1}the course's W_layer_2 =\n{w2}");
            println!("sigmoid network with the course's weights: {:.8?}", course_sigmoid.as_slice());
            println!("the course prints:                          {COURSE_OUTPUTS:?}");
            println!("largest difference: {diff:.1e} (within 1e-5: {})", diff <= 1e-5);
            println!("step network with the course's weights: [{}]", steps.join(", "));
            course_summary = format!(" course_max_diff={diff:.1e} course_step={}", steps.join(","));
        }
        None => println!(
            "the course's printed weights are not in this repository; pass them with --course-weights W1 W2 to check its outputs"
        ),
    }

    let sigmoid_outputs: Vec<String> = sigmoid_y.iter().map(|v| format!("{v:.2}")).collect();
    println!(
        "result: step_outputs={} sigmoid_outputs={} seed={seed}{course_summary}",
        step_outputs.join(","),
        sigmoid_outputs.join(",")
    );
    Ok(())
}
