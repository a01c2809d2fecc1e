//! Overfitting, and two cures: weight decay and dropout (*Deep Learning from Scratch* §6.4,
//! figures 6-20 to 6-23; the book's `overfit_weight_decay.py` and `overfit_dropout.py`).
//!
//! A 7-layer MLP, 784-100-100-100-100-100-100-10 (six hidden ReLU layers, He initialization,
//! softmax cross-entropy), trained on only the first 300 MNIST training images (pixels / 255)
//! with SGD, learning rate 0.01, 3 random batches of 100 per epoch (drawn with replacement, as
//! the book's `np.random.choice`), 200 epochs, f32; after every epoch the accuracy on those 300
//! images and on the 10000 test images. Three runs from the same weights and batches:
//! - no regularization: training accuracy reaches 1.0, test accuracy stays far below — the gap
//!   is overfitting;
//! - weight decay λ = 0.1, coupled as the book's L2 (`WeightDecay::L2`: `½·λ·ΣW²` added to the
//!   loss, `λ·W` to each weight's gradient; biases exempt);
//! - dropout 0.2 after each hidden ReLU, by default the book's variant (units kept unscaled in
//!   training, outputs × 0.8 at inference: `DropoutScaling::AtInference`), or with `inverted`
//!   the frameworks' (kept units × 1/0.8 in training, nothing at inference).
//!
//! One panel per run shows both curves. What one run showed (seed 0, 200 epochs; train / test
//! accuracy after the last epoch, and the gap): no regularization 1.000 / 0.758 (gap 0.242);
//! weight decay 0.823 / 0.678 (0.145); dropout, the book's variant, 0.517 / 0.410 (0.107), the
//! frameworks' 0.890 / 0.700 (0.190). The gap narrows with either cure, as in the book. The
//! book's dropout also learns much more slowly here: unscaled in training, the signal shrinks to
//! 0.8 of itself at each of the six dropout layers (0.8⁶ ≈ 0.26), and with SGD 0.01 the network
//! needs some 150 epochs to get going; the inverted form keeps the scale and learns at the
//! unregularized pace.
//!
//! Run: `cargo run --release --features plot --example 11_regularization -- [epochs] [picture.svg] [book|inverted]`
//! (defaults 200, `regularization.svg`, `book`). Data: `$BACKPROP_DATA/mnist/`.

use backprop::data::{data_dir, labels_column, load_mnist};
use backprop::plot::{grid_svg, Grid, GridPanel, Panel, Series};
use backprop::prelude::*;
use backprop::{seeded, DropoutScaling, Stream};
use nalgebra::DMatrix;
use rand::RngExt;
use std::time::Instant;

mod common;

const USAGE: &str =
    "usage: cargo run --release --features plot --example 11_regularization -- [epochs] [picture.svg] [book|inverted]\n\n\
A 7-layer MLP on 300 MNIST images (from $BACKPROP_DATA/mnist/, default data/mnist/) without\n\
regularization, with weight decay 0.1 and with dropout 0.2, for this many epochs (default 200);\n\
training and test accuracy drawn to picture.svg (default regularization.svg). Dropout scales as\n\
the book does (default) or inverted, as frameworks do.";

const TRAIN: usize = 300;

/// Which regularization a run uses.
#[derive(Clone, Copy)]
enum Cure {
    None,
    WeightDecay(f64),
    Dropout(f64, DropoutScaling),
}

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn network(cure: Cure) -> Result<Sequential<f32>, backprop::Error> {
    let mut builder = Sequential::<f32>::builder(784);
    let mut fan_in = 784;
    for _ in 0..6 {
        builder = builder.add(Dense::new(fan_in, 100).with_init(Init::HeNormal)).add(Relu);
        if let Cure::Dropout(p, scaling) = cure {
            builder = builder.add(Dropout::new(p)?.with_scaling(scaling));
        }
        fan_in = 100;
    }
    builder.add(Dense::new(100, 10).with_init(Init::HeNormal)).build(0)
}

/// Training and test accuracy after each epoch.
fn train(
    cure: Cure,
    epochs: usize,
    (x, t): (&DMatrix<f32>, &DMatrix<f32>),
    (x_test, t_test): (&DMatrix<f32>, &DMatrix<f32>),
) -> Result<(Vec<f64>, Vec<f64>), backprop::Error> {
    let mut net = network(cure)?;
    let mut optimizer = match cure {
        Cure::WeightDecay(lambda) => Sgd::new(0.01).with_weight_decay(WeightDecay::L2(lambda)),
        _ => Sgd::new(0.01),
    };
    let mut batches = seeded(0, Stream::Shuffle);
    let mut masks = seeded(0, Stream::Train);
    let (mut train_acc, mut test_acc) = (Vec::with_capacity(epochs), Vec::with_capacity(epochs));
    for _ in 0..epochs {
        for _ in 0..TRAIN / 100 {
            let rows: Vec<usize> = (0..100).map(|_| batches.random_range(0..TRAIN)).collect();
            net.train_step(
                &x.select_rows(&rows),
                &t.select_rows(&rows),
                &SoftmaxCrossEntropy,
                &mut optimizer,
                &mut masks,
            )?;
        }
        train_acc.push(net.evaluate(x, t, &SoftmaxCrossEntropy)?.accuracy);
        test_acc.push(net.evaluate(x_test, t_test, &SoftmaxCrossEntropy)?.accuracy);
    }
    Ok((train_acc, test_acc))
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let epochs: usize = common::arg(1, "epochs", 200)?;
    let picture: String = common::arg(2, "picture.svg", "regularization.svg".to_string())?;
    let scaling = match common::arg(3, "dropout scaling", "book".to_string())?.as_str() {
        "book" => DropoutScaling::AtInference,
        "inverted" => DropoutScaling::Inverted,
        other => return Err(format!("dropout scaling {other:?}: expected book or inverted").into()),
    };
    if epochs == 0 {
        return Err("at least one epoch is needed".into());
    }
    let start = Instant::now();
    let mnist = load_mnist::<f32>(data_dir().join("mnist"))?;
    let x: DMatrix<f32> = mnist.train_x.rows(0, TRAIN) / 255.0;
    let t = labels_column::<f32>(&mnist.train_labels[..TRAIN]);
    let (x_test, t_test) = (mnist.test_x / 255.0, labels_column::<f32>(&mnist.test_labels));

    let runs = [
        ("no regularization", "none", Cure::None),
        ("weight decay 0.1 (L2)", "decay", Cure::WeightDecay(0.1)),
        ("dropout 0.2", "dropout", Cure::Dropout(0.2, scaling)),
    ];
    let (mut panels, mut summary) = (Vec::new(), Vec::new());
    println!("{TRAIN} training images, {epochs} epochs of 3 batches of 100, SGD 0.01:");
    println!("  {:<22} {:>6} {:>6} {:>6} {:>14}", "", "train", "test", "gap", "best test");
    for (title, key, cure) in runs {
        let began = Instant::now();
        let (train_acc, test_acc) = train(cure, epochs, (&x, &t), (&x_test, &t_test))?;
        let (tr, te) = (train_acc[epochs - 1], test_acc[epochs - 1]);
        let best = test_acc.iter().copied().fold(0.0, f64::max);
        println!(
            "  {title:<22} {tr:>6.3} {te:>6.3} {:>6.3} {best:>14.3}   ({:.1} s)",
            tr - te,
            began.elapsed().as_secs_f64()
        );
        let curve = |a: &[f64]| a.iter().enumerate().map(|(e, &v)| ((e + 1) as f64, v)).collect::<Vec<_>>();
        let series = vec![Series::line("train", curve(&train_acc)), Series::line("test", curve(&test_acc))];
        panels.push(GridPanel::from(Panel { title: title.to_string(), series }));
        summary.push(format!("{key}_train={tr:.3} {key}_test={te:.3} {key}_gap={:.3}", tr - te));
    }
    let mut grid = Grid::new(3, "epoch", "accuracy");
    grid.y_range = Some((0.0, 1.0));
    grid.x_range = Some((0.0, epochs as f64 + 1.0));
    grid.title = Some(format!("7-layer MLP on {TRAIN} MNIST images: training and test accuracy"));
    grid_svg(&picture, &grid, &panels)?;
    println!("curves drawn to {picture}");
    println!("result: {} epochs={epochs} seconds={:.1}", summary.join(" "), start.elapsed().as_secs_f64());
    Ok(())
}
