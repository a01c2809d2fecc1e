//! An MLP on the 8×8 handwritten digits (1797 images, 10 classes).
//!
//! Pixels 0..16 scaled to 0..1, a stratified 80/20 split, 64-128-64-10 with ReLU and dropout,
//! softmax cross-entropy, AdamW, minibatches of 32, 60 epochs. The test set is only looked at
//! once, at the end.
//!
//! Run: `cargo run --release --example 06_digits`
//! Data: `$BACKPROP_DATA/digits.csv.gz` (default `data/`, which holds a copy).

use backprop::data::{data_dir, labels_column, read_digits, stratified_split};
use backprop::prelude::*;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (x, labels) = read_digits::<f32>(data_dir().join("digits.csv.gz"))?;
    let x = x / 16.0;
    let split = stratified_split(&x, &labels, 0.2, 0)?;
    let (t_train, t_test) = (labels_column(&split.train_labels), labels_column(&split.test_labels));
    println!("train {} rows, test {} rows", split.train_x.nrows(), split.test_x.nrows());

    let mut net = Sequential::<f32>::builder(64)
        .add(Dense::new(64, 128).with_init(Init::HeNormal))
        .add(Relu)
        .add(Dropout::new(0.2)?)
        .add(Dense::new(128, 64).with_init(Init::HeNormal))
        .add(Relu)
        .add(Dropout::new(0.2)?)
        .add(Dense::new(64, 10).with_init(Init::HeNormal))
        .build(0)?;

    // The test rows serve as validation data for the curves only: nothing is chosen by them.
    let mut config = FitConfig::new(SoftmaxCrossEntropy, AdamW::new(0.001))
        .epochs(60)
        .batch_size(32)
        .validation_data(&split.test_x, &t_test)
        .progress(true);
    let start = Instant::now();
    let history = net.fit(&split.train_x, &t_train, &mut config)?;
    let seconds = start.elapsed().as_secs_f64();

    let test = net.evaluate(&split.test_x, &t_test, &SoftmaxCrossEntropy)?;
    println!("test loss {:.4}", test.loss);
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
