//! An MLP on the 8×8 handwritten digits (1797 images, 10 classes).
//!
//! Pixels 0..16 scaled to 0..1, a stratified 80/20 train/test split, then 15% of the training
//! rows (stratified again) set aside as validation data for the curves; 64-128-64-10 with ReLU
//! and dropout, softmax cross-entropy, AdamW, minibatches of 32, 60 epochs. The test set is only
//! looked at once, at the end (its accuracy and confusion matrix).
//!
//! Run: `cargo run --release --example 06_digits`
//! Data: `$BACKPROP_DATA/digits.csv.gz` (default `data/`, which holds a copy).

use backprop::data::{data_dir, labels_column, read_digits, stratified_split};
use backprop::prelude::*;
use std::time::Instant;

mod common;

const USAGE: &str = "usage: cargo run --release --example 06_digits\n\n\
An MLP on the 8x8 digits, read from $BACKPROP_DATA/digits.csv.gz (default data/).";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (x, labels) = read_digits::<f32>(data_dir().join("digits.csv.gz"))?;
    let x = x / 16.0;
    let split = stratified_split(&x, &labels, 0.2, 0)?;
    let t_test = labels_column(&split.test_labels);
    // Validation rows come out of the training rows: the test set chooses nothing.
    let fit_split = stratified_split(&split.train_x, &split.train_labels, 0.15, 1)?;
    let (t_train, t_val) = (labels_column(&fit_split.train_labels), labels_column(&fit_split.test_labels));
    println!(
        "train {} rows, validation {} rows, test {} rows",
        fit_split.train_x.nrows(),
        fit_split.test_x.nrows(),
        split.test_x.nrows()
    );

    let mut net = Sequential::<f32>::builder(64)
        .add(Dense::new(64, 128).with_init(Init::HeNormal))
        .add(Relu)
        .add(Dropout::new(0.2)?)
        .add(Dense::new(128, 64).with_init(Init::HeNormal))
        .add(Relu)
        .add(Dropout::new(0.2)?)
        .add(Dense::new(64, 10).with_init(Init::HeNormal))
        .build(0)?;

    println!("{}", net.summary());

    let mut config = FitConfig::new(SoftmaxCrossEntropy, AdamW::new(0.001))
        .epochs(60)
        .batch_size(32)
        .validation_data(&fit_split.test_x, &t_val)
        .progress(true);
    let start = Instant::now();
    let history = net.fit(&fit_split.train_x, &t_train, &mut config)?;
    let seconds = start.elapsed().as_secs_f64();

    let test = net.evaluate_with(&split.test_x, &t_test, &config)?;
    println!("test: {test}");
    println!("{}", net.confusion_matrix(&split.test_x, &t_test)?);
    let csv = std::env::temp_dir().join("digits_history.csv");
    history.write_csv(&csv)?;
    println!("history written to {}", csv.display());
    #[cfg(feature = "plot")]
    {
        let svg = std::env::temp_dir().join("digits_history.svg");
        backprop::plot::history_svg(&svg, "digits MLP", &history)?;
        println!("curves drawn to {}", svg.display());
    }
    println!("result: test_accuracy={:.4} epochs={} seconds={seconds:.2}", test.accuracy, history.epochs());
    Ok(())
}
