//! 실습 2: XOR by backpropagation.
//!
//! A 2-3-1 network, sigmoid on both layers, no bias, weights from U(0, 1), the loss
//! E = ½ Σ (y − t)², full-batch gradient descent with learning rate 0.1 for 20000 epochs. The
//! final outputs and weights are printed as the course prints them: NumPy blocks, 8 decimals.
//!
//! With `--numpy-start` the network starts from the weights NumPy draws after
//! `np.random.seed(0)` (the reference program `../shared/bench/xor_numpy.py`) instead of the
//! crate's seeded initializer, and must end where that program ends: outputs
//! `[0.07788788, 0.95009227, 0.95011258, 0.02602921]`, loss 0.0058617889. The largest difference
//! is printed (`numpy_max_diff` in the result line); it must stay below 1e-10.
//!
//! Run: `cargo run --release --example 02_xor -- [seed | --numpy-start]`

mod common;

use backprop::prelude::*;
use common::{block, numpy_w1, numpy_w2, xor_data};
use std::time::Instant;

/// Where `xor_numpy.py` ends after 20000 epochs from its seed-0 weights (outputs, final loss).
const NUMPY_OUTPUTS: [f64; 4] = [0.07788787854391309, 0.9500922708505923, 0.9501125787870458, 0.02602921462891865];
const NUMPY_FINAL_LOSS: f64 = 0.005861788931199508;

const USAGE: &str = "usage: cargo run --release --example 02_xor [seed | --numpy-start]\n\nXOR by backpropagation, 2-3-1 sigmoid network (실습 2). seed: the weights' seed (default 0); --numpy-start: start from NumPy's seed-0 weights.";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    let numpy_start = arg.as_deref() == Some("--numpy-start");
    let seed: u64 = if numpy_start { 0 } else { common::parse("seed", arg.as_deref(), 0)? };

    // The four input patterns and the XOR of each.
    let (x, t) = xor_data();

    let uniform = Init::Uniform { low: 0.0, high: 1.0 };
    let mut net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 3).without_bias().with_init(uniform))
        .add(Sigmoid)
        .add(Dense::new(3, 1).without_bias().with_init(uniform))
        .add(Sigmoid)
        .build(seed)?;
    if numpy_start {
        net.set_param("0.weight", &numpy_w1())?;
        net.set_param("2.weight", &numpy_w2())?;
        println!("starting from NumPy's seed-0 weights (xor_numpy.py)");
    }

    let weights = |net: &Sequential<f64>| -> Result<_, Error> {
        let get = |path: &str| net.param(path).cloned().ok_or(Error::NoSuchParam { path: path.into() });
        Ok((get("0.weight")?, get("2.weight")?))
    };
    let (w1, w2) = weights(&net)?;
    println!("W_layer_1 (initial) =\n{}\nW_layer_2 (initial) =\n{}", block(&w1, 8), block(&w2, 8));

    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1)).epochs(20_000);
    let start = Instant::now();
    let history = net.fit(&x, &t, &mut config)?;
    let seconds = start.elapsed().as_secs_f64();

    for (epoch, loss) in history.loss.iter().enumerate().step_by(2000) {
        println!("epoch {epoch:>5}: error {loss:.6}");
    }

    let y = net.predict(&x)?;
    let (w1, w2) = weights(&net)?;
    println!("W_layer_1 =\n{}\nW_layer_2 =\n{}", block(&w1, 8), block(&w2, 8));
    println!("Input is\n{}\nexpected output is\n{}\nactual output is\n{}", block(&x, 0), block(&t, 0), block(&y, 8));
    let loss = net.evaluate(&x, &t, &SquaredError::half_sum())?.loss;
    println!("E = {loss:.10}");

    let mut extra = String::new();
    if numpy_start {
        let output_diff = y.iter().zip(NUMPY_OUTPUTS).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        let loss_diff = (loss - NUMPY_FINAL_LOSS).abs();
        let diff = output_diff.max(loss_diff);
        println!("NumPy's outputs: {NUMPY_OUTPUTS:?}, final loss {NUMPY_FINAL_LOSS}");
        println!("largest difference from NumPy: outputs {output_diff:.1e}, loss {loss_diff:.1e}");
        extra = format!(" start=numpy numpy_max_diff={diff:.1e}");
    }
    println!(
        "result: outputs={} loss={loss:.10} epochs={} seed={seed}{extra} seconds={seconds:.4}",
        common::csv(&y, 8),
        history.loss.len()
    );
    Ok(())
}
