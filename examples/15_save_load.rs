//! Saving and loading a trained network: train an MLP on the 8×8 digits, save it as a
//! safetensors file, load it back without any code describing the architecture, and check that
//! the predictions are identical.
//!
//! Run: `cargo run --release --example 15_save_load [output-dir]`
//! Data: `$BACKPROP_DATA/digits.csv.gz` (default `data/`, which holds a copy).
//!
//! Besides the model it writes `digits_mlp_io_<dtype>.safetensors` (test inputs and the crate's
//! predictions) so `tests/interop/forward.py` can check the file from Python. The same for a
//! small residual CNN with batch normalization (`digits_cnn_<dtype>.safetensors`): the 8×8
//! digits as 1×8×8 images, so the file holds convolutions, pooling, batch-norm buffers and a
//! residual block with a strided 1×1 projection.

use backprop::data::{data_dir, read_digits, stratified_split};
use backprop::io::save_matrices;
use backprop::prelude::*;
use backprop::Real;
use nalgebra::DMatrix;
use std::path::Path;

/// Trains a 64-32-10 network in scalar type `T`, saves it and its predictions into `dir`,
/// reloads it; returns (test accuracy, file size in bytes, whether predictions are identical).
fn train_save_load<T: Real>(dir: &Path) -> Result<(f64, u64, bool), Box<dyn std::error::Error>> {
    let (x, labels) = read_digits::<T>(data_dir().join("digits.csv.gz"))?;
    let x = x / T::cast(16.0);
    let split = stratified_split(&x, &labels, 0.2, 0)?;
    let t_train = backprop::data::labels_column::<T>(&split.train_labels);
    let t_test = backprop::data::labels_column::<T>(&split.test_labels);

    let mut net = Sequential::<T>::builder(64)
        .add(Dense::new(64, 32).with_init(Init::HeNormal))
        .add(Relu)
        .add(Dense::new(32, 10).with_init(Init::HeNormal))
        .build(0)?;
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01)).epochs(30).batch_size(32);
    net.fit(&split.train_x, &t_train, &mut config)?;
    let accuracy = net.evaluate(&split.test_x, &t_test, &SoftmaxCrossEntropy)?.accuracy;

    let path = dir.join(format!("digits_mlp_{}.safetensors", T::NAME));
    net.save(&path)?;
    let size = std::fs::metadata(&path)?.len();
    let loaded = Sequential::<T>::load(&path)?; // no architecture given: it is in the file
    let (before, after): (DMatrix<T>, DMatrix<T>) = (net.predict(&split.test_x)?, loaded.predict(&split.test_x)?);
    save_matrices(dir.join(format!("digits_mlp_io_{}.safetensors", T::NAME)), &[("x", &split.test_x), ("y", &after)])?;
    println!(
        "{}: test accuracy {accuracy:.4}, saved {} ({size} bytes), reloaded predictions identical: {}",
        T::NAME,
        path.display(),
        before == after
    );
    Ok((accuracy, size, before == after))
}

/// The residual CNN of the example: conv 8 3×3 → batch norm → ReLU → a residual block (conv 3×3
/// stride 2 → batch norm → ReLU → conv 3×3, beside a 1×1 stride-2 projection) → ReLU → max-pool
/// 2×2 → average pool 2×2 stride 1 padding 1 → global average pooling → dense 10.
fn digits_cnn<T: Real>() -> Result<Sequential<T>, backprop::Error> {
    let body = Chain::new()
        .add(Conv2d::new(8, 16, (3, 3)).with_stride(2).with_padding(1).without_bias())
        .add(BatchNorm::new(16))
        .add(Relu)
        .add(Conv2d::new(16, 16, (3, 3)).with_padding(1));
    Sequential::<T>::builder_shaped(Shape::Image { channels: 1, height: 8, width: 8 })
        .add(Conv2d::new(1, 8, (3, 3)).with_padding(1).without_bias())
        .add(BatchNorm::new(8))
        .add(Relu)
        .add(Residual::projection(body, Conv2d::new(8, 16, (1, 1)).with_stride(2).without_bias()))
        .add(Relu)
        .add(MaxPool2d::new((2, 2)))
        .add(AvgPool2d::new((2, 2)).with_stride(1).with_padding(1))
        .add(GlobalAvgPool::new())
        .add(Dense::new(16, 10))
        .build(0)
}

/// Trains the residual CNN on the digits in scalar type `T`, saves it and its predictions into
/// `dir`, reloads it; returns (test accuracy, whether predictions are identical).
fn train_save_load_cnn<T: Real>(dir: &Path) -> Result<(f64, bool), Box<dyn std::error::Error>> {
    let (x, labels) = read_digits::<T>(data_dir().join("digits.csv.gz"))?;
    let x = x / T::cast(16.0);
    let split = stratified_split(&x, &labels, 0.2, 0)?;
    let t_train = backprop::data::labels_column::<T>(&split.train_labels);
    let t_test = backprop::data::labels_column::<T>(&split.test_labels);
    let mut net = digits_cnn::<T>()?;
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01)).epochs(15).batch_size(32);
    net.fit(&split.train_x, &t_train, &mut config)?;
    let accuracy = net.evaluate(&split.test_x, &t_test, &SoftmaxCrossEntropy)?.accuracy;
    let path = dir.join(format!("digits_cnn_{}.safetensors", T::NAME));
    net.save(&path)?;
    let loaded = Sequential::<T>::load(&path)?;
    let (before, after): (DMatrix<T>, DMatrix<T>) = (net.predict(&split.test_x)?, loaded.predict(&split.test_x)?);
    save_matrices(dir.join(format!("digits_cnn_io_{}.safetensors", T::NAME)), &[("x", &split.test_x), ("y", &after)])?;
    println!(
        "{} residual CNN: test accuracy {accuracy:.4}, saved {}, reloaded predictions identical: {}",
        T::NAME,
        path.display(),
        before == after
    );
    Ok((accuracy, before == after))
}

mod common;

const USAGE: &str = "usage: cargo run --release --example 15_save_load [output-dir]\n\n\
Trains a digits MLP and a residual CNN in f32 and f64, saves, reloads and compares them;\n\
writes the files into output-dir (default .).";

fn main() -> std::process::ExitCode {
    common::main(USAGE, run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir: String = common::arg(1, "output-dir", ".".to_string())?;
    std::fs::create_dir_all(&dir)?;
    let (acc32, size32, same32) = train_save_load::<f32>(Path::new(&dir))?;
    let (acc64, size64, same64) = train_save_load::<f64>(Path::new(&dir))?;
    let (cnn32, cnn_same32) = train_save_load_cnn::<f32>(Path::new(&dir))?;
    let (cnn64, cnn_same64) = train_save_load_cnn::<f64>(Path::new(&dir))?;
    if !(same32 && same64 && cnn_same32 && cnn_same64) {
        return Err("predictions changed after loading".into());
    }
    println!(
        "result: identical=true test_accuracy_f32={acc32:.4} test_accuracy_f64={acc64:.4} bytes_f32={size32} bytes_f64={size64} cnn_test_accuracy_f32={cnn32:.4} cnn_test_accuracy_f64={cnn64:.4}"
    );
    Ok(())
}
