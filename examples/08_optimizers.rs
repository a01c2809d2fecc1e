//! SGD, Momentum, AdaGrad and Adam side by side (*Deep Learning from Scratch* §6.1, figures 6-8
//! and 6-9).
//!
//! Part 1, the book's `optimizer_compare_naive.py`: 30 steps on f(x, y) = x²/20 + y² from
//! (−7, 2), whose gradient (x/10, 2y) is twenty times steeper along y than along x; learning
//! rates SGD 0.95, Momentum 0.1 (momentum 0.9), AdaGrad 1.5, Adam 0.3 (β₁ 0.9, β₂ 0.999). Each
//! optimizer steps a 1 × 2 [`Param`] holding (x, y) through the public `Optimizer::step`, the
//! gradient written with `Param::grad_mut`, exactly as a network's step does. The four paths are
//! drawn over contour lines of f.
//!
//! Part 2, the book's `optimizer_compare_mnist.py`: a 5-layer ReLU MLP (784-100-100-100-100-10,
//! He initialization, softmax cross-entropy) on MNIST, 2000 iterations of 128 images drawn at
//! random (with replacement, as the book's `np.random.choice`), pixels / 255, f32, the same
//! initial weights and batches for every optimizer; SGD, Momentum and AdaGrad with learning rate
//! 0.01, Adam 0.001. The batch losses every 100 iterations and their curves (a moving average of
//! 20 iterations) are drawn.
//!
//! What one run showed (seed 0): on f, SGD zigzags across the valley (y flips sign every step,
//! 1 − 0.95·2 = −0.9) while creeping along x, and ends at f = 0.0133; Momentum rolls past the
//! minimum and back like a ball in a bowl (f = 0.048); AdaGrad's steps shrink as squared
//! gradients add up and it slides in along the valley floor (f = 0.00072); Adam curves in
//! smoothly and is still on its way (f = 0.102). On MNIST SGD is clearly the slowest, as in the
//! book: mean batch loss over the last 100 of 2000 iterations SGD 0.228, Momentum 0.076, AdaGrad
//! 0.058, Adam 0.052 (the book's losses at iteration 1900: SGD 0.150, Momentum 0.050, Adam
//! 0.032, AdaGrad 0.016).
//!
//! Run: `cargo run --release --features plot --example 08_optimizers -- [iterations] [picture-prefix]`
//! (defaults 2000 and `optimizers`, which writes `optimizers_paths.svg` and
//! `optimizers_mnist.svg`). Data: `$BACKPROP_DATA/mnist/`.

use backprop::data::{data_dir, labels_column, load_mnist};
use backprop::plot::{grid_svg, Grid, GridPanel, Legend, Panel, Series};
use backprop::prelude::*;
use backprop::{seeded, Decay, Param, Stream};
use nalgebra::DMatrix;
use rand::RngExt;
use std::time::Instant;

mod common;

const USAGE: &str =
    "usage: cargo run --release --features plot --example 08_optimizers -- [iterations] [picture-prefix]\n\n\
SGD, Momentum, AdaGrad and Adam on f(x, y) = x^2/20 + y^2 from (-7, 2), then on an MNIST MLP\n\
(read from $BACKPROP_DATA/mnist/, default data/mnist/) for this many iterations of batch 128\n\
(default 2000). Pictures: <prefix>_paths.svg and <prefix>_mnist.svg (default prefix optimizers).";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

/// An optimizer's name, and it for `f` (in f64) and for the MNIST network (in f32).
type Named = (&'static str, Box<dyn Optimizer<f64>>, Box<dyn Optimizer<f32>>);

/// The four optimizers with the book's settings for `f` (part 1) or for MNIST (part 2).
fn optimizers(for_mnist: bool) -> Vec<Named> {
    let lr = |naive: f64, mnist: f64| if for_mnist { mnist } else { naive };
    vec![
        ("SGD", Box::new(Sgd::new(lr(0.95, 0.01))), Box::new(Sgd::new(lr(0.95, 0.01)))),
        ("Momentum", Box::new(Momentum::new(lr(0.1, 0.01))), Box::new(Momentum::new(lr(0.1, 0.01)))),
        ("AdaGrad", Box::new(AdaGrad::new(lr(1.5, 0.01))), Box::new(AdaGrad::new(lr(1.5, 0.01)))),
        ("Adam", Box::new(Adam::new(lr(0.3, 0.001))), Box::new(Adam::new(lr(0.3, 0.001)))),
    ]
}

/// f(x, y) = x²/20 + y².
fn f(x: f64, y: f64) -> f64 {
    x * x / 20.0 + y * y
}

/// The positions of 30 steps of `optimizer` on `f` from (−7, 2), the start included.
fn path(optimizer: &mut dyn Optimizer<f64>) -> Result<Vec<(f64, f64)>, backprop::Error> {
    let mut xy = Param::new("xy", DMatrix::from_row_slice(1, 2, &[-7.0, 2.0]), Decay::Exempt);
    let mut points = vec![(-7.0, 2.0)];
    for _ in 0..30 {
        let (x, y) = (xy.value()[(0, 0)], xy.value()[(0, 1)]);
        let grad = xy.grad_mut();
        grad[(0, 0)] = x / 10.0;
        grad[(0, 1)] = 2.0 * y;
        optimizer.step(&mut [&mut xy])?;
        points.push((xy.value()[(0, 0)], xy.value()[(0, 1)]));
    }
    Ok(points)
}

/// Contour lines of `f`: the ellipses x²/20 + y² = c.
fn contours() -> Vec<Vec<(f64, f64)>> {
    [0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
        .iter()
        .map(|&c: &f64| {
            (0..=200)
                .map(|k| {
                    let t = 2.0 * std::f64::consts::PI * k as f64 / 200.0;
                    ((20.0 * c).sqrt() * t.cos(), c.sqrt() * t.sin())
                })
                .collect()
        })
        .collect()
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = common::arg(1, "iterations", 2000)?;
    let prefix: String = common::arg(2, "picture-prefix", "optimizers".to_string())?;
    let start = Instant::now();

    // Part 1: the paths on f.
    let mut panels = Vec::new();
    let mut finals = Vec::new();
    println!("30 steps on f(x, y) = x^2/20 + y^2 from (-7, 2):");
    for (name, mut optimizer, _) in optimizers(false) {
        let points = path(optimizer.as_mut())?;
        let &(x, y) = points.last().ok_or("no path")?;
        println!("  {name:<8} lr {:<5} ends at ({x:+.4}, {y:+.4}), f = {:.6}", optimizer.learning_rate(), f(x, y));
        finals.push((name, f(x, y)));
        let series = vec![
            Series::points("minimum (0, 0)", vec![(0.0, 0.0)]),
            Series::line("path", points.clone()),
            Series::points("positions", points),
        ];
        panels.push(GridPanel {
            panel: Panel { title: format!("{name} (lr {})", optimizer.learning_rate()), series },
            guides: contours(),
        });
    }
    let mut grid = Grid::new(2, "x", "y");
    grid.x_range = Some((-10.0, 10.0));
    grid.y_range = Some((-5.0, 5.0));
    let paths_svg = format!("{prefix}_paths.svg");
    grid_svg(&paths_svg, &grid, &panels)?;
    println!("paths drawn to {paths_svg}");

    // Part 2: MNIST.
    let mnist = load_mnist::<f32>(data_dir().join("mnist"))?;
    let x_train = mnist.train_x / 255.0;
    let t_train = labels_column::<f32>(&mnist.train_labels);
    let n = x_train.nrows();
    let mut curves = Vec::new();
    for (name, _, mut optimizer) in optimizers(true) {
        let mut net = Sequential::<f32>::builder(784);
        for (fan_in, fan_out) in [(784, 100), (100, 100), (100, 100), (100, 100)] {
            net = net.add(Dense::new(fan_in, fan_out).with_init(Init::HeNormal)).add(Relu);
        }
        let mut net = net.add(Dense::new(100, 10).with_init(Init::HeNormal)).build(0)?;
        // The same batches for every optimizer.
        let mut batches = seeded(0, Stream::Shuffle);
        let mut unused = seeded(0, Stream::Train);
        let mut losses = Vec::with_capacity(iterations);
        let began = Instant::now();
        for _ in 0..iterations {
            let rows: Vec<usize> = (0..128).map(|_| batches.random_range(0..n)).collect();
            let (x, t) = (x_train.select_rows(&rows), t_train.select_rows(&rows));
            let loss = net.train_step(&x, &t, &SoftmaxCrossEntropy, optimizer.as_mut(), &mut unused)?;
            losses.push(f64::from(loss));
        }
        println!("{name}: {iterations} iterations in {:.1} s", began.elapsed().as_secs_f64());
        curves.push((name, losses));
    }
    println!("batch loss every 100 iterations:");
    println!("  iteration {}", curves.iter().map(|(name, _)| format!("{name:>9}")).collect::<String>());
    for i in (0..iterations).step_by(100) {
        println!("  {i:>9} {}", curves.iter().map(|(_, l)| format!("{:>9.4}", l[i])).collect::<String>());
    }
    // The mean of the last 100 batch losses: less noisy than one batch.
    let tail = |l: &[f64]| {
        let k = l.len().min(100);
        l[l.len() - k..].iter().sum::<f64>() / k as f64
    };
    println!("  last-100 {}", curves.iter().map(|(_, l)| format!("{:>9.4}", tail(l))).collect::<String>());

    let smoothed = |l: &[f64]| -> Vec<(f64, f64)> {
        let w = 20.min(l.len());
        (w..=l.len()).map(|end| (end as f64, l[end - w..end].iter().sum::<f64>() / w as f64)).collect()
    };
    let series = curves.iter().map(|(name, l)| Series::line(*name, smoothed(l))).collect();
    let mut grid = Grid::new(1, "iteration", "training loss (moving average of 20 batches)");
    grid.panel_size = (900, 520);
    grid.legend = Legend::UpperRight;
    let mnist_svg = format!("{prefix}_mnist.svg");
    let title = format!("MNIST, 5-layer ReLU MLP, batch 128, {iterations} iterations");
    grid_svg(&mnist_svg, &grid, &[Panel { title, series }.into()])?;
    println!("loss curves drawn to {mnist_svg}");

    let key = |name: &str| name.to_lowercase();
    let path_part: String = finals.iter().map(|(name, v)| format!(" {}_path_f={v:.5}", key(name))).collect();
    let loss_part: String = curves.iter().map(|(name, l)| format!(" {}_loss={:.4}", key(name), tail(l))).collect();
    println!("result:{path_part}{loss_part} iterations={iterations} seconds={:.1}", start.elapsed().as_secs_f64());
    Ok(())
}
