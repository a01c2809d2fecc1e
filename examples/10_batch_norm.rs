//! Batch normalization against the initial weight scale (*Deep Learning from Scratch* §6.3.2,
//! figure 6-19, the book's `batch_norm_test.py`).
//!
//! For each of 16 weight scales w = 10⁰ … 10⁻⁴ (NumPy's `logspace(0, -4, 16)`), two networks
//! start from the same weights W ~ w·N(0, 1) (biases 0) and see the same batches: a plain MLP
//! 784-100-100-100-100-100-10 with ReLU, and the same with [`BatchNorm`] (the book's preset)
//! between each hidden dense layer and its ReLU. Training as the book's: the first 1000 MNIST
//! training images (pixels / 255), SGD with learning rate 0.01, 10 random batches of 100 per
//! "epoch" (drawn with replacement, as `np.random.choice`), 20 epochs, f64; after each epoch the
//! accuracy on those 1000 images, in inference mode (batch norm with its running statistics).
//! One panel per scale shows both learning curves.
//!
//! What one run showed (16 scales, seeds 0–15): the plain network diverged (non-finite loss)
//! at w = 1 and 0.54, learned at 0.29 (0.999) and 0.16 (0.891), and stalled at ≈ 0.117 — chance
//! — for every w from 0.046 down to 1e-4, its signals vanishing through five layers. Batch norm
//! learned at every scale: ≥ 0.90 for w from 0.046 to 0.0012 (1.000 at 0.0136 and 0.0074),
//! 0.39–0.65 at the largest three and 0.50–0.68 at the smallest four; 14 of 16 panels favour it.
//! Unlike the book's figure, the plain network beat it at w = 0.29 and 0.16 (near He's
//! √(2/100) = 0.14, where the plain network is well initialized anyway).
//!
//! Run: `cargo run --release --features plot --example 10_batch_norm -- [scales] [picture.svg]`
//! (defaults 16 and `batch_norm.svg`). Data: `$BACKPROP_DATA/mnist/`.

use backprop::data::{data_dir, labels_column, load_mnist};
use backprop::plot::{grid_svg, Grid, GridPanel, Legend, Panel, Series};
use backprop::prelude::*;
use backprop::{seeded, BatchNorm, BatchNormPreset, Stream};
use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::StandardNormal;
use std::time::Instant;

mod common;

const USAGE: &str = "usage: cargo run --release --features plot --example 10_batch_norm -- [scales] [picture.svg]\n\n\
Plain MLP against the same with batch normalization, on 1000 MNIST images (from $BACKPROP_DATA/mnist/,\n\
default data/mnist/), for this many initial weight scales from 1 to 1e-4 (default 16); learning\n\
curves drawn to picture.svg (default batch_norm.svg).";

const EPOCHS: usize = 20;
const HIDDEN: usize = 5;

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

/// The network, with or without batch norm, every dense weight drawn as `scale`·N(0, 1) from
/// `seed` (the same numbers for both kinds).
fn network(batch_norm: bool, scale: f64, seed: u64) -> Result<Sequential<f64>, backprop::Error> {
    let mut builder = Sequential::<f64>::builder(784);
    let mut fan_in = 784;
    for _ in 0..HIDDEN {
        builder = builder.add(Dense::new(fan_in, 100));
        if batch_norm {
            builder = builder.add(BatchNorm::with_preset(100, BatchNormPreset::Book));
        }
        builder = builder.add(Relu);
        fan_in = 100;
    }
    let mut net = builder.add(Dense::new(100, 10)).build(0)?;
    let mut weights = Vec::new();
    net.visit_params(&mut |path, param| {
        if path.ends_with(".weight") {
            weights.push((path.to_string(), param.value().shape()));
        }
    });
    let mut rng = seeded(seed, Stream::Init);
    for (path, (rows, cols)) in weights {
        let w = DMatrix::from_fn(rows, cols, |_, _| scale * rng.sample::<f64, _>(StandardNormal));
        net.set_param(&path, &w)?;
    }
    Ok(net)
}

/// The training accuracy after each epoch; shorter than `EPOCHS` if training diverged.
fn train(
    net: &mut Sequential<f64>,
    x: &DMatrix<f64>,
    t: &DMatrix<f64>,
    seed: u64,
) -> Result<Vec<f64>, backprop::Error> {
    let mut optimizer = Sgd::new(0.01);
    let mut batches = seeded(seed, Stream::Shuffle);
    let mut unused = seeded(seed, Stream::Train);
    let mut accuracies = Vec::with_capacity(EPOCHS);
    for _ in 0..EPOCHS {
        for _ in 0..x.nrows() / 100 {
            let rows: Vec<usize> = (0..100).map(|_| batches.random_range(0..x.nrows())).collect();
            match net.train_step(
                &x.select_rows(&rows),
                &t.select_rows(&rows),
                &SoftmaxCrossEntropy,
                &mut optimizer,
                &mut unused,
            ) {
                Ok(_) => {}
                Err(backprop::Error::Diverged { .. }) => return Ok(accuracies),
                Err(e) => return Err(e),
            }
        }
        accuracies.push(net.evaluate(x, t, &SoftmaxCrossEntropy)?.accuracy);
    }
    Ok(accuracies)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = common::arg(1, "scales", 16)?;
    let picture: String = common::arg(2, "picture.svg", "batch_norm.svg".to_string())?;
    if count < 2 {
        return Err("at least 2 scales are needed to span 1 to 1e-4".into());
    }
    let start = Instant::now();
    let mnist = load_mnist::<f64>(data_dir().join("mnist"))?;
    let x: DMatrix<f64> = mnist.train_x.rows(0, 1000) / 255.0;
    let t = labels_column::<f64>(&mnist.train_labels[..1000]);

    println!("final training accuracy after {EPOCHS} epochs (1000 images, SGD 0.01, batch 100):");
    println!("  {:>3} {:>10} {:>10} {:>10}", "", "w", "plain", "batch norm");
    let (mut panels, mut finals) = (Vec::new(), Vec::new());
    for k in 0..count {
        let scale = 10f64.powf(-4.0 * k as f64 / (count - 1) as f64);
        let seed = k as u64;
        let plain = train(&mut network(false, scale, seed)?, &x, &t, seed)?;
        let normed = train(&mut network(true, scale, seed)?, &x, &t, seed)?;
        let last = |a: &[f64]| a.last().copied().unwrap_or(f64::NAN);
        let note =
            |a: &[f64]| if a.len() < EPOCHS { format!(" (diverged after epoch {})", a.len()) } else { String::new() };
        println!(
            "  {:>3} {scale:>10.2e} {:>10.3} {:>10.3}{}{}",
            k + 1,
            last(&plain),
            last(&normed),
            note(&plain),
            note(&normed)
        );
        let curve = |a: &[f64]| a.iter().enumerate().map(|(e, &v)| ((e + 1) as f64, v)).collect::<Vec<_>>();
        // Both series always, so the colours stay put; a diverged run's curve ends early.
        let series = vec![Series::line("plain", curve(&plain)), Series::line("batch norm", curve(&normed))];
        let diverged = if plain.len() < EPOCHS { " (plain diverged)" } else { "" };
        panels.push(GridPanel::from(Panel { title: format!("w = {scale:.2e}{diverged}"), series }));
        finals.push((scale, last(&plain), last(&normed)));
    }
    let mut grid = Grid::new(4, "epoch", "training accuracy");
    grid.panel_size = (420, 300);
    grid.x_range = Some((0.0, EPOCHS as f64 + 1.0));
    grid.y_range = Some((0.0, 1.0));
    grid.legend = Legend::Hidden;
    grid.title = Some(format!(
        "training accuracy of a {HIDDEN}-hidden-layer MLP on 1000 MNIST images: plain (black) and with batch norm (blue), by initial weight scale w"
    ));
    grid_svg(&picture, &grid, &panels)?;
    println!("learning curves drawn to {picture}");

    // "Stalled": at most 0.2 after 20 epochs (chance is 0.1); "learns": at least 0.8. A diverged
    // run (NaN) is counted apart.
    let stalled_at = |f: &&(f64, f64, f64)| f.1 <= 0.2;
    let stalled = finals.iter().filter(stalled_at).count();
    let diverged = finals.iter().filter(|f| f.1.is_nan()).count();
    let rescued = finals.iter().filter(stalled_at).filter(|f| f.2 >= 0.8).count();
    let bn_better = finals.iter().filter(|f| f.2 > f.1 || f.1.is_nan()).count();
    let mean = |pick: fn(&(f64, f64, f64)) -> f64| {
        finals.iter().map(pick).map(|v| if v.is_nan() { 0.0 } else { v }).sum::<f64>() / count as f64
    };
    println!(
        "result: scales={count} plain_stalled={stalled} plain_diverged={diverged} bn_learns_where_plain_stalled={rescued} bn_better={bn_better} mean_plain_accuracy={:.3} mean_bn_accuracy={:.3} seconds={:.1}",
        mean(|f| f.1),
        mean(|f| f.2),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
