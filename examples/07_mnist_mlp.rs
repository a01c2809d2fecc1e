//! An MLP on MNIST (60000 training and 10000 test images of 28×28 handwritten digits).
//!
//! 784-256-128-10 with ReLU and dropout, He initialization, softmax cross-entropy, Adam with a
//! cosine learning-rate schedule, minibatches of 128, 12 epochs; 5000 training images are set
//! aside as validation data, shown after every epoch and used for early stopping (patience 3:
//! training stops after 3 epochs without a better validation loss, and the network keeps the
//! best epoch's weights; the program says which). With `--features progress-bar`, each epoch
//! shows a progress bar on a terminal.
//!
//! Run: `cargo run --release [--features progress-bar] --example 07_mnist_mlp [epochs]`
//! Data: `$BACKPROP_DATA/mnist/` with the four standard IDX files (gzip or raw).

use backprop::data::{data_dir, labels_column, load_mnist};
use backprop::prelude::*;
use std::time::Instant;

mod common;

const USAGE: &str = "usage: cargo run --release [--features progress-bar] --example 07_mnist_mlp [epochs]\n\n\
An MLP on MNIST, read from $BACKPROP_DATA/mnist/ (default data/mnist/). epochs: at most this\n\
many (default 12; early stopping may end sooner).";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let epochs: usize = common::arg(1, "epochs", 12)?;
    let mnist = load_mnist::<f32>(data_dir().join("mnist"))?;
    let (x_train, x_test) = (mnist.train_x / 255.0, mnist.test_x / 255.0);
    let (t_train, t_test) = (labels_column(&mnist.train_labels), labels_column(&mnist.test_labels));

    let mut net = Sequential::<f32>::builder(784)
        .add(Dense::new(784, 256).with_init(Init::HeNormal))
        .add(Relu)
        .add(Dropout::new(0.2)?)
        .add(Dense::new(256, 128).with_init(Init::HeNormal))
        .add(Relu)
        .add(Dropout::new(0.2)?)
        .add(Dense::new(128, 10).with_init(Init::HeNormal))
        .build(0)?;
    println!("{}", net.summary());

    let mut config = FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.001))
        .epochs(epochs)
        .batch_size(128)
        .validation_split(5000.0 / 60000.0)
        .early_stopping(3)
        .schedule(Schedule::Cosine { min_learning_rate: 0.0 })
        .progress(true);
    let start = Instant::now();
    let history = net.fit(&x_train, &t_train, &mut config)?;
    let seconds = start.elapsed().as_secs_f64();

    // Epochs are numbered from 1, as in the progress lines.
    if let Some(best) = history.best_epoch {
        let val = history.val_loss.get(best - history.first_epoch).copied().unwrap_or(f64::NAN);
        if history.epochs() < epochs {
            println!(
                "early stopping: stopped after epoch {} of {epochs}, {} epochs without a better validation loss",
                history.epochs(),
                history.first_epoch + history.epochs() - 1 - best
            );
        }
        println!("best epoch: {} (val_loss {val:.4}); the network keeps its weights", best + 1);
    }
    let test = net.evaluate_with(&x_test, &t_test, &config)?;
    let per_epoch = history.seconds.iter().sum::<f64>() / history.epochs() as f64;
    println!("test: {test}");
    println!(
        "result: test_accuracy={:.4} epochs={} seconds={seconds:.1} seconds_per_epoch={per_epoch:.2}",
        test.accuracy,
        history.epochs()
    );
    Ok(())
}
