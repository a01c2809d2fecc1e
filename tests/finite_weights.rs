//! Property: for any finite input and any hyperparameters the constructors accept, every weight
//! after an update is finite — or the update returned an error and the weights are those before
//! it (the last finite ones).
//!
//! A plain seeded loop (no new dependency): each case draws a network (`f32` or `f64`), finite
//! inputs and targets on scales from 1e-30 to 1e30, an optimizer and its hyperparameters on log
//! scales up to 1e308 (whatever `validate` accepts), and trains. A failing case prints its seed.

use backprop::prelude::*;
use backprop::{seeded, Optimizer, Real, Stream};
use nalgebra::DMatrix;
use rand::RngExt;

type Rng = backprop::SeededRng;

/// 10^u for u uniform in [lo, hi).
fn log_uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    10f64.powf(rng.random_range(lo..hi))
}

/// An optimizer of a random kind with random hyperparameters, if its `validate` accepts them
/// (in `T`: a rate that `T` rounds to 0 or infinity is refused).
fn optimizer<T: Real>(rng: &mut Rng) -> Option<Box<dyn Optimizer<T>>> {
    let lr = log_uniform(rng, -60.0, 308.0);
    let rate = |rng: &mut Rng| 1.0 - log_uniform(rng, -17.0, 0.0);
    let decay = match rng.random_range(0..3) {
        0 => WeightDecay::None,
        1 => WeightDecay::L2(log_uniform(rng, -10.0, 308.0)),
        _ => WeightDecay::Decoupled(log_uniform(rng, -10.0, 308.0)),
    };
    let eps = log_uniform(rng, -60.0, 10.0);
    let o: Box<dyn Optimizer<T>> = match rng.random_range(0..6) {
        0 => Box::new(Sgd::new(lr).with_weight_decay(decay)),
        1 => Box::new(Momentum::new(lr).with_momentum(rate(rng)).with_weight_decay(decay)),
        2 => Box::new(AdaGrad::new(lr).with_eps(eps).with_weight_decay(decay)),
        3 => Box::new(RmsProp::new(lr).with_rho(rate(rng)).with_eps(eps).with_weight_decay(decay)),
        4 => Box::new(Adam::new(lr).with_betas(rate(rng), rate(rng)).with_eps(eps).with_weight_decay(decay)),
        _ => Box::new(AdamW::new(lr).with_weight_decay(decay.lambda()).with_eps(eps)),
    };
    o.validate().is_ok().then_some(o)
}

/// A small network: dense, an activation, dense.
fn network<T: Real>(rng: &mut Rng, seed: u64) -> Sequential<T> {
    let hidden = rng.random_range(1..6);
    let builder = Sequential::<T>::builder(3).add(Dense::new(3, hidden));
    let builder = match rng.random_range(0..4) {
        0 => builder.add(Tanh),
        1 => builder.add(Relu),
        2 => builder.add(Sigmoid),
        _ => builder.add(Identity),
    };
    builder.add(Dense::new(hidden, 2)).build(seed).unwrap()
}

/// Finite values on a random scale, exactly representable in `T`.
fn data<T: Real>(rng: &mut Rng, rows: usize, cols: usize) -> DMatrix<T> {
    let scale = log_uniform(rng, -30.0, 30.0);
    DMatrix::from_fn(rows, cols, |_, _| T::cast(rng.random_range(-1.0..1.0) * scale))
}

fn values<T: Real>(net: &Sequential<T>) -> Vec<DMatrix<T>> {
    net.params().iter().map(|p| p.value().clone()).collect()
}

fn all_finite<T: Real>(net: &Sequential<T>) -> bool {
    net.params().iter().all(|p| p.value().iter().all(|v| v.is_finite()))
}

/// One case: ten training steps, each of which must leave finite weights or fail and change
/// nothing; then `fit` for a few epochs, which must leave finite weights either way.
fn case<T: Real>(seed: u64) {
    let mut rng = seeded(seed, Stream::Train);
    let Some(mut opt) = optimizer::<T>(&mut rng) else { return };
    let mut net = network::<T>(&mut rng, seed);
    let x = data::<T>(&mut rng, 6, 3);
    let t = data::<T>(&mut rng, 6, 2);
    let loss = SquaredError::mean();
    let mut step_rng = seeded(seed, Stream::Shuffle);
    for step in 0..10 {
        let before = values(&net);
        match net.train_step(&x, &t, &loss, opt.as_mut(), &mut step_rng) {
            Ok(_) => assert!(all_finite(&net), "seed {seed} ({}), step {step}: non-finite weights", T::NAME),
            Err(e) => {
                assert_eq!(values(&net), before, "seed {seed} ({}), step {step}: {e} changed the weights", T::NAME);
                break;
            }
        }
    }

    let Some(opt) = optimizer::<T>(&mut seeded(seed, Stream::Train)) else { return };
    let mut net = network::<T>(&mut seeded(seed, Stream::Train), seed);
    let mut config = FitConfig::new(SquaredError::mean(), opt).epochs(5).batch_size(2).seed(seed);
    let result = net.fit(&x, &t, &mut config);
    assert!(all_finite(&net), "seed {seed} ({}): fit gave {:?} and non-finite weights", T::NAME, result.err());
}

#[test]
fn every_update_leaves_finite_weights_or_changes_nothing() {
    for seed in 0..300 {
        case::<f64>(seed);
        case::<f32>(seed);
    }
}
