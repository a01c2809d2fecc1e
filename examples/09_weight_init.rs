//! Why weight initialization matters (*Deep Learning from Scratch* §6.2, figures 6-10 to 6-15).
//!
//! 1. Activations: 1000 random inputs (100 features, N(0, 1)) through five 100-unit layers
//!    without biases, each weight drawn from N(0, σ²) with σ = 0.01, σ = 1, Xavier (σ = 1/√n,
//!    the book's) or He (σ = √(2/n)), n = 100 inputs per unit, for sigmoid and for ReLU. Each
//!    layer's output histogram, as [`diagnostics::activations`] measures it, is drawn in a grid
//!    (one row per activation and initialization): with σ = 1 sigmoid outputs pile up at 0 and
//!    1 (saturated: the gradient vanishes), with σ = 0.01 around 0.5 (every unit says the same:
//!    no expressiveness); Xavier keeps them spread for sigmoid, He for ReLU.
//! 2. MNIST: a 5-layer ReLU network (784-100-100-100-100-10) trained with SGD (learning rate
//!    0.01, batches of 128) for 2000 iterations — 20 epochs over the first 12800 training
//!    images — from σ = 0.01, Xavier and He. σ = 0.01 does not learn (the loss stays at ln 10 ≈
//!    2.30: the signal and the gradient vanish on the way through the layers); Xavier and He
//!    do. The losses are drawn, and the diagnostics of the σ = 0.01 and He runs (output spread,
//!    dead units, gradient norms, update ratios per layer).
//!
//! Run: `cargo run --release --features plot --example 09_weight_init [iterations] [out-dir]`
//! (defaults 2000, `.`). Data: `$BACKPROP_DATA/mnist/`.

use backprop::data::{data_dir, labels_column, load_mnist};
use backprop::diagnostics::{activations, Diagnostics, LayerStats};
use backprop::plot::{compare_svg, diagnostics_svg, histograms_svg, HistogramRow};
use backprop::prelude::*;
use backprop::{seeded, Real, Stream};
use nalgebra::DMatrix;
use rand_distr::{Distribution, StandardNormal};
use std::path::PathBuf;
use std::time::Instant;

mod common;

const USAGE: &str = "usage: cargo run --release --features plot --example 09_weight_init [iterations] [out-dir]\n\n\
Activation histograms of a 5-layer net for four weight scales (sigmoid and ReLU), then MNIST\n\
training of a 5-layer ReLU net from three of them. iterations: SGD steps of 128 images (default\n\
2000, a multiple of 100); out-dir: where the pictures go (default .).";

/// Units per hidden layer, and layers, of both experiments.
const UNITS: usize = 100;
const LAYERS: usize = 5;
/// MNIST: batch size, batches per epoch (the training images used are their product).
const BATCH: usize = 128;
const BATCHES_PER_EPOCH: usize = 100;

/// How the weights are drawn: N(0, σ²) with σ fixed or from the fan-in n.
#[derive(Debug, Clone, Copy)]
enum Scale {
    Fixed(f64),
    Xavier,
    He,
}

impl Scale {
    fn name(self) -> String {
        match self {
            Scale::Fixed(s) => format!("std {s}"),
            Scale::Xavier => "Xavier".into(),
            Scale::He => "He".into(),
        }
    }

    fn std(self, fan_in: usize) -> f64 {
        match self {
            Scale::Fixed(s) => s,
            Scale::Xavier => (1.0 / fan_in as f64).sqrt(),
            Scale::He => (2.0 / fan_in as f64).sqrt(),
        }
    }
}

/// Redraws every weight (`*.weight`, fan-in × fan-out) from N(0, σ²) for `scale`: the crate's
/// [`Init::LeCunNormal`] draws N(0, 1/n), scaled by σ·√n.
fn set_weights<T: Real>(net: &mut Sequential<T>, scale: Scale) -> Result<(), Error> {
    let weights: Vec<(String, DMatrix<T>)> = net
        .named_params()
        .into_iter()
        .filter(|(p, _)| p.ends_with("weight"))
        .map(|(p, w)| (p, w.value().clone()))
        .collect();
    for (path, w) in weights {
        let factor = scale.std(w.nrows()) * (w.nrows() as f64).sqrt();
        net.set_param(&path, &w.map(|v| T::cast(v.to_f64() * factor)))?;
    }
    Ok(())
}

/// Five bias-free 100-unit layers, each followed by `activation`, weights for `scale`.
fn random_input_net<A: Activation>(activation: A, scale: Scale) -> Result<Sequential<f64>, Error> {
    let mut builder = Sequential::<f64>::builder(UNITS);
    for _ in 0..LAYERS {
        builder = builder.add(Dense::new(UNITS, UNITS).without_bias().with_init(Init::LeCunNormal)).add(activation);
    }
    let mut net = builder.build(0)?;
    set_weights(&mut net, scale)?;
    Ok(net)
}

/// The activation layers' statistics (every second layer: the dense layers' outputs are left out).
fn activation_layers(stats: Vec<LayerStats>) -> Vec<LayerStats> {
    stats.into_iter().skip(1).step_by(2).collect()
}

/// Part 1: returns the grid rows and, per row, the last layer's statistics.
fn histograms(x: &DMatrix<f64>) -> Result<(Vec<HistogramRow>, Vec<LayerStats>), Error> {
    // The book's bins: 30 over [0, 1]. For ReLU only the positive outputs are binned (0 itself
    // falls below the range: half the outputs, a bar that would flatten the rest; the book cuts
    // it off too), and the share of exact zeros is printed instead.
    let sigmoid_bins = Diagnostics::every_epoch().histograms(30).histogram_range(0.0, 1.0);
    let relu_bins = Diagnostics::every_epoch().histograms(30).histogram_range(f64::MIN_POSITIVE, 1.0);
    let mut rows = Vec::new();
    let mut last_layer: Vec<LayerStats> = Vec::new();
    let scales = [Scale::Fixed(1.0), Scale::Fixed(0.01), Scale::Xavier, Scale::He];
    println!("part 1: 1000 random inputs through {LAYERS} layers of {UNITS} units; per layer: output std, saturated or zero share");
    for (name, relu) in [("sigmoid", false), ("ReLU", true)] {
        for scale in scales {
            let stats = if relu {
                activations(&random_input_net(Relu, scale)?, x, &relu_bins)?
            } else {
                activations(&random_input_net(Sigmoid, scale)?, x, &sigmoid_bins)?
            };
            let layers = activation_layers(stats);
            let title = format!("{name}, {}", scale.name());
            let describe = |l: &LayerStats| match (l.saturated, &l.histogram) {
                (Some(s), _) => format!("{:.3} ({:.0}% sat.)", l.std, 100.0 * s),
                (None, Some(h)) => format!("{:.2e} ({:.0}% zero)", l.std, 100.0 * h.below as f64 / total(h) as f64),
                (None, None) => format!("{:.3}", l.std),
            };
            println!("  {title:<17} {}", layers.iter().map(describe).collect::<Vec<_>>().join("  "));
            last_layer.extend(layers.last().cloned());
            let mut row = HistogramRow::new(title, &layers);
            for (k, (cell, h)) in row.cells.iter_mut().enumerate() {
                // ReLU with σ = 1 grows past the range: say how much.
                let above = h.above as f64 / total(h) as f64;
                *cell = match above >= 0.005 {
                    true => format!("layer {}, {:.0}% > 1", k + 1, 100.0 * above),
                    false => format!("layer {}", k + 1),
                };
            }
            rows.push(row);
        }
    }
    Ok((rows, last_layer))
}

/// Every value a histogram saw, binned or not.
fn total(h: &backprop::diagnostics::Histogram) -> u64 {
    h.total() + h.below + h.above
}

/// Part 2's network: 784-100-100-100-100-10, ReLU, biases from 0.
fn mnist_net(scale: Scale) -> Result<Sequential<f32>, Error> {
    let mut builder =
        Sequential::<f32>::builder(784).add(Dense::new(784, UNITS).with_init(Init::LeCunNormal)).add(Relu);
    for _ in 0..LAYERS - 2 {
        builder = builder.add(Dense::new(UNITS, UNITS).with_init(Init::LeCunNormal)).add(Relu);
    }
    let mut net = builder.add(Dense::new(UNITS, 10).with_init(Init::LeCunNormal)).build(0)?;
    set_weights(&mut net, scale)?;
    Ok(net)
}

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = common::arg(1, "iterations", 2000)?;
    let out = PathBuf::from(common::arg(2, "out-dir", ".".to_string())?);
    if iterations == 0 || !iterations.is_multiple_of(BATCHES_PER_EPOCH) {
        return Err(format!("iterations {iterations}: expected a positive multiple of {BATCHES_PER_EPOCH}").into());
    }
    let start = Instant::now();

    // Part 1: the book's x = np.random.randn(1000, 100).
    let mut rng = seeded(0, Stream::Train);
    let x = DMatrix::from_fn(1000, UNITS, |_, _| StandardNormal.sample(&mut rng));
    let (rows, last_layer) = histograms(&x)?;
    let picture = out.join("weight_init_histograms.svg");
    histograms_svg(&picture, "Activations of 5 layers on random input, by weight initialization", &rows)?;
    println!("picture: {}", picture.display());

    // Part 2: MNIST.
    let mnist = load_mnist::<f32>(data_dir().join("mnist"))?;
    let n_train = BATCH * BATCHES_PER_EPOCH;
    let x_train = mnist.train_x.rows(0, n_train) / 255.0;
    let t_train = labels_column(&mnist.train_labels[..n_train]);
    let (x_test, t_test) = (mnist.test_x / 255.0, labels_column(&mnist.test_labels));
    let epochs = iterations / BATCHES_PER_EPOCH;
    println!("\npart 2: MNIST, 784-100-100-100-100-10 ReLU, SGD lr 0.01, batch {BATCH}, {iterations} iterations ({epochs} epochs of {n_train} images)");
    let mut runs = Vec::new();
    for scale in [Scale::Fixed(0.01), Scale::Xavier, Scale::He] {
        let mut net = mnist_net(scale)?;
        let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.01))
            .epochs(epochs)
            .batch_size(BATCH)
            .diagnostics(Diagnostics::every_epoch());
        let history = net.fit(&x_train, &t_train, &mut config)?;
        let test = net.evaluate_with(&x_test, &t_test, &config)?;
        let at = |iteration: usize| history.loss[iteration / BATCHES_PER_EPOCH - 1];
        let marks = [BATCHES_PER_EPOCH, iterations / 4, iterations / 2, iterations];
        let losses: Vec<String> = marks.iter().map(|&i| format!("{i}: {:.3}", at(i))).collect();
        // The first weight's gradient and update, and the dead units of the first hidden layer, at the start.
        let first = &history.diagnostics[0];
        let grad = first.param("0.weight").map_or(f64::NAN, |p| p.grad_norm);
        let ratio = first.param("0.weight").and_then(|p| p.update_ratio).unwrap_or(f64::NAN);
        let last_std = first.layer("7").map_or(f64::NAN, |l| l.std);
        println!(
            "  {:<9} mean loss of the epoch ending at iteration {}; test accuracy {:.4}",
            scale.name(),
            losses.join(", "),
            test.accuracy
        );
        println!(
            "            at the start: |dE/dW| of layer 0 {grad:.2e}, update/weight {ratio:.2e}, std of the last hidden layer's output {last_std:.2e}"
        );
        if !matches!(scale, Scale::Xavier) {
            let name = if matches!(scale, Scale::He) { "he" } else { "std0.01" };
            let picture = out.join(format!("weight_init_diagnostics_{name}.svg"));
            diagnostics_svg(&picture, &format!("MNIST, {}", scale.name()), &history)?;
            println!("            picture: {}", picture.display());
        }
        runs.push((scale.name(), history, test.accuracy));
    }
    let curves: Vec<(&str, &History)> = runs.iter().map(|(n, h, _)| (n.as_str(), h)).collect();
    let picture = out.join("weight_init_mnist.svg");
    compare_svg(&picture, "MNIST, 5-layer ReLU net, SGD 0.01", &curves)?;
    println!("picture: {}", picture.display());

    let final_loss = |i: usize| runs[i].1.final_loss().unwrap_or(f64::NAN);
    // Rows: sigmoid with std 1, std 0.01, Xavier, He, then ReLU with the same.
    let saturated = |i: usize| last_layer.get(i).and_then(|l| l.saturated).unwrap_or(f64::NAN);
    let std = |i: usize| last_layer.get(i).map_or(f64::NAN, |l| l.std);
    println!(
        "result: layer5_sigmoid_std1_saturated={:.3} layer5_sigmoid_std0.01_std={:.3} layer5_sigmoid_xavier_saturated={:.3} \
         layer5_relu_std0.01_std={:.1e} layer5_relu_xavier_std={:.3} layer5_relu_he_std={:.3} \
         loss_std0.01={:.3} loss_xavier={:.3} loss_he={:.3} accuracy_std0.01={:.4} accuracy_xavier={:.4} accuracy_he={:.4} seconds={:.1}",
        saturated(0),
        std(1),
        saturated(2),
        std(5),
        std(6),
        std(7),
        final_loss(0),
        final_loss(1),
        final_loss(2),
        runs[0].2,
        runs[1].2,
        runs[2].2,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
