//! Bit-for-bit regression: seeded runs of every optimizer (with and without weight decay), in
//! `f32` and `f64`, with minibatches (a short last batch), full batch, batch 1, dropout and a
//! validation split, must end with exactly the parameters, optimizer state and losses they had
//! before the data feeding and the checked update were rewritten.
//!
//! The expected fingerprints were printed by this file on the code of commit 7f7413c, before the
//! rewrite; a change that moves any bit of any run fails. They were printed again when the
//! products moved from the `gemm` crate to faer, whose sums run in another order (the runs at
//! batch 1, whose products are matrix-vector ones, kept their bits); the rest of the suite
//! (NumPy golden values, gradient checks, accuracies) checked that move. (Adam's flush of subnormal moments to
//! zero, made since, changes none of these runs: no moment gets that small in 4 epochs.)

use backprop::prelude::*;
use backprop::{seeded, Real, Stream};
use nalgebra::DMatrix;
use rand::RngExt;

/// FNV-1a over 64-bit words.
struct Fingerprint(u64);

impl Fingerprint {
    fn new() -> Self {
        Fingerprint(0xcbf2_9ce4_8422_2325)
    }
    fn add(&mut self, word: u64) {
        for byte in word.to_le_bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Random inputs in [-1, 1) and labels from a fixed rule, `rows × features`.
fn data<T: Real>(rows: usize, features: usize, classes: usize) -> (DMatrix<T>, DMatrix<T>) {
    let mut rng = seeded(11, Stream::Init);
    let x = DMatrix::from_fn(rows, features, |_, _| T::cast(rng.random_range(-1.0..1.0)));
    let t = DMatrix::from_fn(rows, 1, |i, _| {
        let s: f64 = (0..features).map(|j| x[(i, j)].to_f64() * (j as f64 - 2.5)).sum();
        T::cast(((s.abs() * 3.0) as usize % classes) as f64)
    });
    (x, t)
}

fn optimizer<T: Real>(name: &str) -> Box<dyn Optimizer<T>> {
    match name {
        "sgd" => Box::new(Sgd::new(0.1)),
        "sgd-l2" => Box::new(Sgd::new(0.1).with_weight_decay(WeightDecay::L2(1e-3))),
        "sgd-decoupled" => Box::new(Sgd::new(0.1).with_weight_decay(WeightDecay::Decoupled(1e-3))),
        "momentum" => Box::new(Momentum::new(0.05).with_weight_decay(WeightDecay::L2(1e-3))),
        "nesterov" => Box::new(Nesterov::new(0.05).with_weight_decay(WeightDecay::Decoupled(1e-3))),
        "adagrad" => Box::new(AdaGrad::new(0.05).with_weight_decay(WeightDecay::L2(1e-3))),
        "rmsprop" => Box::new(RmsProp::new(0.01)),
        "adam" => Box::new(Adam::new(0.01)),
        "adam-l2" => Box::new(Adam::new(0.01).with_weight_decay(WeightDecay::L2(1e-3))),
        "adamw" => Box::new(AdamW::new(0.01)),
        _ => unreachable!("{name}"),
    }
}

/// One seeded run's fingerprint: parameters, optimizer state and every epoch's losses.
fn run<T: Real>(name: &str, batch: Option<usize>, dropout: bool, split: bool) -> u64 {
    let (x, t) = data::<T>(203, 7, 4);
    let mut builder = Sequential::<T>::builder(7).add(Dense::new(7, 16)).add(Tanh);
    if dropout {
        builder = builder.add(Dropout::new(0.2).unwrap());
    }
    let mut net = builder.add(Dense::new(16, 4)).build(5).unwrap();
    let mut config = FitConfig::new(SoftmaxCrossEntropy, optimizer::<T>(name)).epochs(4).seed(9);
    if let Some(b) = batch {
        config = config.batch_size(b);
    }
    if split {
        config = config.validation_split(0.2);
    }
    let history = net.fit(&x, &t, &mut config).unwrap();
    let mut f = Fingerprint::new();
    for p in net.params() {
        p.value().iter().for_each(|v| f.add(v.to_f64().to_bits()));
    }
    for (_, m) in config.optimizer().state() {
        m.iter().for_each(|v| f.add(v.to_f64().to_bits()));
    }
    history.loss.iter().chain(&history.val_loss).for_each(|l| f.add(l.to_bits()));
    f.0
}

const NAMES: [&str; 10] =
    ["sgd", "sgd-l2", "sgd-decoupled", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adam-l2", "adamw"];

/// Every case's fingerprint, one line each.
fn fingerprints() -> Vec<String> {
    let mut lines = Vec::new();
    for name in NAMES {
        for (case, batch, dropout, split) in [
            ("batch32", Some(32), false, false),
            ("full", None, false, false),
            ("batch1", Some(1), false, false),
            ("dropout-split", Some(16), true, true),
        ] {
            lines.push(format!("{name} {case} f32 {:016x}", run::<f32>(name, batch, dropout, split)));
            lines.push(format!("{name} {case} f64 {:016x}", run::<f64>(name, batch, dropout, split)));
        }
    }
    lines
}

/// The fingerprints of commit 7f7413c (before the rewrite), as this file printed them there.
const BEFORE: [&str; 80] = [
    "sgd batch32 f32 fdd3e766a18f1ed2",
    "sgd batch32 f64 f5d264df55d0f223",
    "sgd full f32 c63bc87c6c06efd3",
    "sgd full f64 ffadc87dfb8cc874",
    "sgd batch1 f32 5448e132aaff1e66",
    "sgd batch1 f64 58b299a489e47f6a",
    "sgd dropout-split f32 57a25af3f1b6e3da",
    "sgd dropout-split f64 4718e70f35960eff",
    "sgd-l2 batch32 f32 f4afe6b1def9859d",
    "sgd-l2 batch32 f64 b5c2683ccbe65e63",
    "sgd-l2 full f32 fe039486e957981f",
    "sgd-l2 full f64 6483a12341a9aaaa",
    "sgd-l2 batch1 f32 ac8a4ab9d96ce350",
    "sgd-l2 batch1 f64 ce963c59e07aaed0",
    "sgd-l2 dropout-split f32 b9e912b2861f588a",
    "sgd-l2 dropout-split f64 c6e96d2ef85f9a16",
    "sgd-decoupled batch32 f32 8efe734e1ffbca86",
    "sgd-decoupled batch32 f64 0035f3b6751282e4",
    "sgd-decoupled full f32 76d43d2054b3e7ac",
    "sgd-decoupled full f64 4f8d94ec51d57b60",
    "sgd-decoupled batch1 f32 c144b7f32587627c",
    "sgd-decoupled batch1 f64 7f256247bc3d06d5",
    "sgd-decoupled dropout-split f32 9f501f00c3bce4af",
    "sgd-decoupled dropout-split f64 5d42323bac7d40b3",
    "momentum batch32 f32 b4bffa97daba7b79",
    "momentum batch32 f64 dfda36b0e3ec008d",
    "momentum full f32 3bd1b92e8dd66de6",
    "momentum full f64 232e9da2dd929ceb",
    "momentum batch1 f32 1c627e4853b96210",
    "momentum batch1 f64 7b95b8e054faaeef",
    "momentum dropout-split f32 d00da19f6e97d993",
    "momentum dropout-split f64 c26003da159a573f",
    "nesterov batch32 f32 141c237a53335e9f",
    "nesterov batch32 f64 d7e327cf073ebafe",
    "nesterov full f32 b8d51608fd1c423c",
    "nesterov full f64 37e4b709f04645bf",
    "nesterov batch1 f32 84956f21ffc4dbe3",
    "nesterov batch1 f64 73168f27ba4a1f9a",
    "nesterov dropout-split f32 19932b531faaf4de",
    "nesterov dropout-split f64 a7713310982cc680",
    "adagrad batch32 f32 715dc370cba0af22",
    "adagrad batch32 f64 6cac0eae31698f63",
    "adagrad full f32 3726d0dc87532097",
    "adagrad full f64 fa8ba856dcf45cc6",
    "adagrad batch1 f32 d6bed89fe398365f",
    "adagrad batch1 f64 daced2121b94d843",
    "adagrad dropout-split f32 9597e3a89faa2f93",
    "adagrad dropout-split f64 c4c5aa30b36736b8",
    "rmsprop batch32 f32 886aa2fa5928399a",
    "rmsprop batch32 f64 6efdc7a35c6a5474",
    "rmsprop full f32 b2e487143f140e68",
    "rmsprop full f64 31e1e6dc7e45ea60",
    "rmsprop batch1 f32 6bfac3aa47e9e1a1",
    "rmsprop batch1 f64 96b9950fcf90587a",
    "rmsprop dropout-split f32 6a5e32fb35623d2d",
    "rmsprop dropout-split f64 d091dd9c8c525db2",
    "adam batch32 f32 10f450360d010182",
    "adam batch32 f64 02dbe7ca90f6d973",
    "adam full f32 024a3e409b905a3d",
    "adam full f64 2f8004ef8e793dcb",
    "adam batch1 f32 b4f28aad7f71391b",
    "adam batch1 f64 fc0e77da5beaf67f",
    "adam dropout-split f32 432bf6aac365cda4",
    "adam dropout-split f64 2c2fc302ff5a8ad1",
    "adam-l2 batch32 f32 d4667a5aabdea09c",
    "adam-l2 batch32 f64 af4f32ea640bbe33",
    "adam-l2 full f32 f56a5116c7428ea8",
    "adam-l2 full f64 e075e6560b7f96c7",
    "adam-l2 batch1 f32 3fea10077da7600a",
    "adam-l2 batch1 f64 070f034dbc2a882f",
    "adam-l2 dropout-split f32 2bb04cd0a8f67acf",
    "adam-l2 dropout-split f64 f716c9c7fc894fcd",
    "adamw batch32 f32 7211f18ab1eeccad",
    "adamw batch32 f64 069e71d1cbbe0158",
    "adamw full f32 202f51db8e737f3b",
    "adamw full f64 de57decba9afa5ee",
    "adamw batch1 f32 e41798c538243690",
    "adamw batch1 f64 14c103526b52899f",
    "adamw dropout-split f32 a6898e54af55776b",
    "adamw dropout-split f64 8f5229475b5f1a03",
];

#[test]
fn every_run_ends_bit_for_bit_as_before() {
    let now = fingerprints();
    let changed: Vec<String> = now
        .iter()
        .zip(BEFORE)
        .filter(|(now, before)| now.as_str() != *before)
        .map(|(now, before)| format!("{before} -> {now}"))
        .collect();
    assert_eq!(now.len(), BEFORE.len());
    assert!(changed.is_empty(), "runs changed:\n{}", changed.join("\n"));
}

/// Adam sets moments below the smallest normal value to 0: gradients of 1e-18 and 1e-20 in `f32`
/// give first moments `(1 − β₁)·g` of 1e-19 and 1e-21 (normal, kept) and second moments
/// `(1 − β₂)·g·g` of 1e-39 and 1e-43 (subnormal: flushed; before the flush they were kept).
#[test]
fn adam_flushes_subnormal_moments() {
    let mut w = backprop::Param::new("weight", DMatrix::from_element(1, 2, 1.0f32), backprop::Decay::Applies);
    *w.grad_mut() = DMatrix::from_row_slice(1, 2, &[1e-18, 1e-20]);
    let mut adam = Adam::new(1e-3);
    Optimizer::<f32>::step(&mut adam, &mut [&mut w]).unwrap();
    let state = Optimizer::<f32>::state(&adam);
    let get = |name: &str| state.iter().find(|(n, _)| n == name).map(|(_, m)| m.clone()).unwrap();
    let (m, v) = (get("0.m"), get("0.v"));
    assert!(m.iter().all(|x| x.is_normal()), "{m}");
    assert_eq!((v[(0, 0)], v[(0, 1)]), (0.0, 0.0), "{v:?}");
    // A gradient of 1e-10 keeps its (normal) second moment 1e-23.
    *w.grad_mut() = DMatrix::from_row_slice(1, 2, &[1e-10, 1e-10]);
    Optimizer::<f32>::step(&mut adam, &mut [&mut w]).unwrap();
    let v = Optimizer::<f32>::state(&adam).into_iter().find(|(n, _)| n == "0.v").unwrap().1;
    assert!(v.iter().all(|x| x.is_normal()), "{v}");
}
