//! Bit-for-bit regression: seeded runs of every optimizer (with and without weight decay), in
//! `f32` and `f64`, with minibatches (a short last batch), full batch, batch 1, dropout and a
//! validation split, must end with exactly the parameters, optimizer state and losses they had
//! before the data feeding and the checked update were rewritten.
//!
//! The expected fingerprints were printed by this file (`cargo test --test same_results -- --nocapture`)
//! on the code of commit 7f7413c, before the rewrite; a change that moves any bit of any run fails.
//! Adam's and AdamW's runs changed on purpose afterwards (subnormal moments flushed to zero, see
//! CHANGELOG.md): their fingerprints are the new ones, and `adam_flush_changes_nothing_here`
//! shows where the old ones still hold.

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

/// An optimizer passed on by reference count (FitConfig takes one by value).
#[derive(Debug)]
struct Boxed<T: Real>(Box<dyn Optimizer<T>>);

impl<T: Real> Optimizer<T> for Boxed<T> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn learning_rate(&self) -> f64 {
        self.0.learning_rate()
    }
    fn set_learning_rate(&mut self, rate: f64) -> backprop::Result<()> {
        self.0.set_learning_rate(rate)
    }
    fn validate(&self) -> backprop::Result<()> {
        self.0.validate()
    }
    fn step(&mut self, params: &mut [&mut backprop::Param<T>]) -> backprop::Result<()> {
        self.0.step(params)
    }
    fn weight_decay(&self) -> WeightDecay {
        self.0.weight_decay()
    }
    fn penalty(&self, params: &[&backprop::Param<T>]) -> f64 {
        self.0.penalty(params)
    }
    fn state(&self) -> Vec<(String, DMatrix<T>)> {
        self.0.state()
    }
    fn set_state(&mut self, state: Vec<(String, DMatrix<T>)>) -> backprop::Result<()> {
        self.0.set_state(state)
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
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Boxed(optimizer::<T>(name))).epochs(4).seed(9);
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

#[test]
fn print_fingerprints() {
    for line in fingerprints() {
        println!("{line}");
    }
}
