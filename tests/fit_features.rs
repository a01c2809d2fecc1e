//! What `fit` offers beyond the loop: validation, early stopping, callbacks, schedules, history.

use backprop::prelude::*;
use backprop::{Control, Schedule};
use nalgebra::DMatrix;
use std::sync::{Arc, Mutex};

/// Two noisy blobs, class 0 around (-1, -1) and class 1 around (1, 1); rows alternate classes.
fn blobs(n: usize, seed: u64) -> (DMatrix<f64>, DMatrix<f64>) {
    let noise: DMatrix<f64> = Init::HeNormal.matrix(n, 2, &mut backprop::seeded(seed, backprop::Stream::Init)).unwrap();
    let x = DMatrix::from_fn(n, 2, |i, j| if i % 2 == 0 { -1.0 } else { 1.0 } + noise[(i, j)]);
    let t = DMatrix::from_fn(n, 1, |i, _| (i % 2) as f64);
    (x, t)
}

fn classifier(seed: u64) -> Sequential<f64> {
    Sequential::builder(2).add(Dense::new(2, 8)).add(Tanh).add(Dense::new(8, 2)).build(seed).unwrap()
}

#[test]
fn validation_data_is_measured_every_epoch() {
    let (x, t) = blobs(80, 1);
    let (xv, tv) = blobs(40, 2);
    let mut net = classifier(0);
    let mut config =
        FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(30).batch_size(16).validation_data(&xv, &tv);
    let h = net.fit(&x, &t, &mut config).unwrap();
    assert_eq!((h.val_loss.len(), h.val_accuracy.len(), h.accuracy.len()), (30, 30, 30));
    let last = net.evaluate(&xv, &tv, &SoftmaxCrossEntropy).unwrap();
    assert_eq!(h.val_loss[29], last.loss, "the last validation loss is that of the final network");
    assert!(h.val_accuracy[29] > 0.9, "validation accuracy {}", h.val_accuracy[29]);
    assert!(h.accuracy[29] > 0.9);
}

#[test]
fn validation_split_takes_the_last_rows_and_bad_fractions_are_errors() {
    let (x, t) = blobs(100, 3);
    let mut net = classifier(0);
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(3).validation_split(0.2);
    let h = net.fit(&x, &t, &mut config).unwrap();
    let tail = net.evaluate(&x.rows(80, 20).into_owned(), &t.rows(80, 20).into_owned(), &SoftmaxCrossEntropy).unwrap();
    assert_eq!(h.val_loss[2], tail.loss);
    for bad in [0.0, 1.0, -0.5, f64::NAN, 0.001] {
        let before: Vec<_> = net.params().iter().map(|p| p.value().clone()).collect();
        let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).validation_split(bad);
        assert!(matches!(net.fit(&x, &t, &mut config), Err(Error::InvalidConfig { .. })), "{bad}");
        let after: Vec<_> = net.params().iter().map(|p| p.value().clone()).collect();
        assert_eq!(before, after);
    }
}

#[test]
fn early_stopping_stops_and_restores_the_best_parameters() {
    // Labels that are pure noise: the network can only memorize them, so validation loss rises
    // and patience runs out.
    let (x, _) = blobs(40, 4);
    let (xv, _) = blobs(40, 5);
    let coin = |seed| {
        let u: DMatrix<f64> = Init::Uniform { low: 0.0, high: 2.0 }
            .matrix(40, 1, &mut backprop::seeded(seed, backprop::Stream::Init))
            .unwrap();
        u.map(f64::floor)
    };
    let (t, tv) = (coin(10), coin(11));
    let mut net = Sequential::builder(2).add(Dense::new(2, 32)).add(Tanh).add(Dense::new(32, 2)).build(1).unwrap();
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.5))
        .epochs(500)
        .batch_size(5)
        .validation_data(&xv, &tv)
        .early_stopping(5);
    let h = net.fit(&x, &t, &mut config).unwrap();
    let best = h.best_epoch.unwrap();
    assert!(h.epochs() < 500, "stopped after {} epochs", h.epochs());
    assert_eq!(h.epochs(), best + 6, "stops `patience` epochs after the best");
    let best_loss = h.val_loss.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(h.val_loss[best], best_loss);
    let now = net.evaluate(&xv, &tv, &SoftmaxCrossEntropy).unwrap().loss;
    assert_eq!(now, best_loss, "the network ends with the best epoch's parameters");
}

#[test]
fn a_callback_sees_every_epoch_and_can_stop() {
    let (x, t) = blobs(40, 6);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(100).on_epoch(move |s| {
        log.lock().unwrap().push(s.epoch);
        if s.epoch == 6 {
            Control::Stop
        } else {
            Control::Continue
        }
    });
    let h = classifier(0).fit(&x, &t, &mut config).unwrap();
    assert_eq!(h.epochs(), 7);
    assert_eq!(*seen.lock().unwrap(), (0..7).collect::<Vec<_>>());
}

#[test]
fn schedules_follow_their_formulas_and_reach_the_optimizer() {
    assert_eq!(Schedule::Step { every: 2, gamma: 0.5 }.rate(1.0, 5, 10), 0.25);
    assert_eq!(Schedule::Exponential { gamma: 0.5 }.rate(2.0, 3, 10), 0.25);
    let cosine = Schedule::Cosine { min_learning_rate: 0.0 };
    assert_eq!(cosine.rate(1.0, 0, 10), 1.0);
    assert!((cosine.rate(1.0, 5, 10) - 0.5).abs() < 1e-15);
    let (x, t) = blobs(20, 7);
    let mut config =
        FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.4)).epochs(4).schedule(Schedule::Step { every: 1, gamma: 0.5 });
    let h = classifier(0).fit(&x, &t, &mut config).unwrap();
    assert_eq!(h.learning_rate, vec![0.4, 0.2, 0.1, 0.05]);
    // The optimizer is back at its base rate: a second fit with the same configuration
    // schedules from it again, not from the last epoch's rate.
    assert_eq!(config.optimizer().learning_rate(), 0.4);
    let again = classifier(0).fit(&x, &t, &mut config).unwrap();
    assert_eq!(again.learning_rate, h.learning_rate);
    let bad = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.4)).schedule(Schedule::Exponential { gamma: 0.0 });
    let mut bad = bad;
    assert!(matches!(classifier(0).fit(&x, &t, &mut bad), Err(Error::InvalidConfig { .. })));
}

#[test]
fn history_writes_csv() {
    let (x, t) = blobs(20, 8);
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(3).progress(true);
    let h = classifier(0).fit(&x, &t, &mut config).unwrap();
    let csv = h.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds");
    assert!(lines[1].starts_with(&format!("1,{},", h.loss[0])));
    let path = std::env::temp_dir().join(format!("backprop-history-{}.csv", std::process::id()));
    h.write_csv(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), csv);
}

#[test]
fn l2_weight_decay_is_part_of_the_reported_loss() {
    let (x, t) = blobs(10, 9);
    let mut net = classifier(2);
    let lambda = 0.3;
    // ½λΣW² over the weights only (biases do not decay), before the update.
    let penalty: f64 = 0.5
        * lambda
        * net
            .params()
            .iter()
            .filter(|p| p.name() == "weight")
            .flat_map(|p| p.value().iter())
            .map(|w| w * w)
            .sum::<f64>();
    let data_loss = net.evaluate(&x, &t, &SoftmaxCrossEntropy).unwrap().loss;
    let sgd = Sgd::new(0.1).with_weight_decay(backprop::WeightDecay::L2(lambda));
    let h = net.fit(&x, &t, &mut FitConfig::new(SoftmaxCrossEntropy, sgd)).unwrap();
    assert!((h.loss[0] - (data_loss + penalty)).abs() < 1e-12, "{} vs {}", h.loss[0], data_loss + penalty);
}

#[test]
fn every_epoch_gets_a_time_even_when_timed_in_blocks() {
    let (x, t) = blobs(4, 12);
    // Tiny epochs are timed in blocks; a stop in the middle of a block must still fill it.
    for epochs in [1, 2, 3, 1000, 3001] {
        let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(epochs);
        let h = classifier(0).fit(&x, &t, &mut config).unwrap();
        assert_eq!(h.seconds.len(), epochs);
        assert!(h.seconds.iter().all(|s| s.is_finite() && *s >= 0.0), "{epochs} epochs");
    }
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(3001).on_epoch(|s| {
        if s.epoch == 1500 {
            Control::Stop
        } else {
            Control::Continue
        }
    });
    let h = classifier(0).fit(&x, &t, &mut config).unwrap();
    assert_eq!(h.seconds.len(), 1501);
    assert!(h.seconds.iter().all(|s| s.is_finite()));
}
