//! The optimizers: steps checked against values computed by hand from their formulas, weight
//! decay, hyperparameter checks, state checks (a failed step changes nothing), and training.
//!
//! The hand computations use one 1×2 parameter starting at `W = [1, −2]`, learning rate
//! `η = 0.1` and the gradients `g₁ = [0.3, −0.6]`, `g₂ = [0.4, 0.8]`, `g₃ = [−0.5, 0.2]`.

// The expected values are the exact decimal results of the hand computations, to 18 digits.
#![allow(clippy::excessive_precision)]

use backprop::prelude::*;
use backprop::{Decay, Dims, Param, StateMismatch};
use nalgebra::DMatrix;

const LR: f64 = 0.1;
const W0: [f64; 2] = [1.0, -2.0];
const G: [[f64; 2]; 3] = [[0.3, -0.6], [0.4, 0.8], [-0.5, 0.2]];
const TOL: f64 = 1e-12;
const NAMES: [&str; 7] = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"];

fn row(v: [f64; 2]) -> DMatrix<f64> {
    DMatrix::from_row_slice(1, 2, &v)
}

fn weight() -> Param<f64> {
    Param::new("weight", row(W0), Decay::Applies)
}

/// A bias starting where the weight does, so the two can be compared.
fn bias() -> Param<f64> {
    Param::new("bias", row(W0), Decay::Exempt)
}

fn values(p: &Param<f64>) -> [f64; 2] {
    [p.value()[(0, 0)], p.value()[(0, 1)]]
}

fn assert_close(got: [f64; 2], expected: [f64; 2], what: &str) {
    assert!(
        backprop::approx::abs_diff_eq!(got[..], expected[..], epsilon = TOL),
        "{what}: {got:?}, expected {expected:?}"
    );
}

/// An optimizer by name, learning rate 0.1, default hyperparameters, with `decay` (for AdamW,
/// only its strength counts: AdamW's decay is always decoupled).
fn make(name: &str, decay: WeightDecay) -> Box<dyn Optimizer<f64>> {
    match name {
        "sgd" => Box::new(Sgd::new(LR).with_weight_decay(decay)),
        "momentum" => Box::new(Momentum::new(LR).with_weight_decay(decay)),
        "nesterov" => Box::new(Nesterov::new(LR).with_weight_decay(decay)),
        "adagrad" => Box::new(AdaGrad::new(LR).with_weight_decay(decay)),
        "rmsprop" => Box::new(RmsProp::new(LR).with_weight_decay(decay)),
        "adam" => Box::new(Adam::new(LR).with_weight_decay(decay)),
        "adamw" => Box::new(AdamW::new(LR).with_weight_decay(decay.lambda())),
        _ => unreachable!("unknown optimizer {name}"),
    }
}

/// The weight's value after each of `steps` steps with the gradients `G`.
fn trajectory(opt: &mut dyn Optimizer<f64>, steps: usize) -> Vec<[f64; 2]> {
    let mut w = weight();
    G[..steps]
        .iter()
        .map(|&g| {
            *w.grad_mut() = row(g);
            opt.step(&mut [&mut w]).unwrap();
            values(&w)
        })
        .collect()
}

/// The weight's and the bias's values after each of `steps` steps, both with the gradients `G`.
fn trajectory_with_bias(opt: &mut dyn Optimizer<f64>, steps: usize) -> Vec<([f64; 2], [f64; 2])> {
    let (mut w, mut b) = (weight(), bias());
    G[..steps]
        .iter()
        .map(|&g| {
            *w.grad_mut() = row(g);
            *b.grad_mut() = row(g);
            opt.step(&mut [&mut w, &mut b]).unwrap();
            (values(&w), values(&b))
        })
        .collect()
}

fn check_trajectory(opt: &mut dyn Optimizer<f64>, expected: &[[f64; 2]]) {
    let name = opt.name();
    for (i, (got, want)) in trajectory(opt, expected.len()).into_iter().zip(expected).enumerate() {
        assert_close(got, *want, &format!("{name} step {}", i + 1));
    }
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Error>, expected_name: &str) {
    match result {
        Err(Error::InvalidConfig { name, .. }) => assert_eq!(name, expected_name),
        other => panic!("expected InvalidConfig for {expected_name}, got {other:?}"),
    }
}

// === Steps computed by hand ===

#[test]
fn sgd_steps_match_hand_computation() {
    // W ← W − η·g
    // step 1: W = [1 − 0.1·0.3, −2 − 0.1·(−0.6)] = [0.97, −1.94]
    // step 2: W = [0.97 − 0.1·0.4, −1.94 − 0.1·0.8] = [0.93, −2.02]
    check_trajectory(&mut Sgd::new(LR), &[[0.97, -1.94], [0.93, -2.02]]);
}

#[test]
fn momentum_steps_match_hand_computation() {
    // v ← 0.9·v − η·g, W ← W + v
    // step 1: v = −0.1·[0.3, −0.6] = [−0.03, 0.06];  W = [0.97, −1.94]
    // step 2: v = 0.9·[−0.03, 0.06] − 0.1·[0.4, 0.8] = [−0.027 − 0.04, 0.054 − 0.08]
    //           = [−0.067, −0.026];  W = [0.97 − 0.067, −1.94 − 0.026] = [0.903, −1.966]
    check_trajectory(&mut Momentum::new(LR), &[[0.97, -1.94], [0.903, -1.966]]);
}

#[test]
fn nesterov_steps_match_hand_computation() {
    // v ← 0.9·v − η·g, W ← W + 0.9·v − η·g (with the new v)
    // step 1: v = [−0.03, 0.06];  W = [1 + 0.9·(−0.03) − 0.03, −2 + 0.9·0.06 + 0.06]
    //           = [1 − 0.027 − 0.03, −2 + 0.054 + 0.06] = [0.943, −1.886]
    // step 2: v = [−0.067, −0.026];  W = [0.943 + 0.9·(−0.067) − 0.04, −1.886 + 0.9·(−0.026) − 0.08]
    //           = [0.943 − 0.0603 − 0.04, −1.886 − 0.0234 − 0.08] = [0.8427, −1.9894]
    // (the same as W + 0.81·v_old − 1.9·η·g = 0.943 − 0.81·0.03 − 1.9·0.04 = 0.943 − 0.0243 − 0.076)
    check_trajectory(&mut Nesterov::new(LR), &[[0.943, -1.886], [0.8427, -1.9894]]);
}

#[test]
fn adagrad_steps_match_hand_computation() {
    // h ← h + g², W ← W − η·g / (√h + 1e-7)
    // step 1: h = [0.09, 0.36], √h = [0.3, 0.6]
    //         W = [1 − 0.03/0.3000001, −2 + 0.06/0.6000001]
    //           = [1 − 0.0999999666666778, −2 + 0.0999999833333361]
    //           = [0.9000000333333322, −1.9000000166666639]
    // step 2: h = [0.09 + 0.16, 0.36 + 0.64] = [0.25, 1], √h = [0.5, 1]
    //         W = [0.9000000333333322 − 0.04/0.5000001, −1.9000000166666639 − 0.08/1.0000001]
    //           = [0.9000000333333322 − 0.0799999840000032, −1.9000000166666639 − 0.0799999920000008]
    //           = [0.8200000493333190, −1.9800000086666647]
    check_trajectory(
        &mut AdaGrad::new(LR),
        &[[0.900_000_033_333_332_2, -1.900_000_016_666_663_9], [0.820_000_049_333_319_0, -1.980_000_008_666_664_7]],
    );
}

#[test]
fn rmsprop_steps_match_hand_computation() {
    // h ← 0.99·h + 0.01·g², W ← W − η·g / (√h + 1e-7)
    // step 1: h = 0.01·[0.09, 0.36] = [0.0009, 0.0036], √h = [0.03, 0.06]
    //         W = [1 − 0.03/0.0300001, −2 + 0.06/0.0600001]
    //           = [1 − 0.9999966666777777, −2 + 0.9999983333361111]
    //           = [0.0000033333222223, −1.0000016666638889]
    // step 2: h = 0.99·[0.0009, 0.0036] + 0.01·[0.16, 0.64] = [0.002491, 0.009964]
    //         √h = [0.0499099188538711, 0.0998198377077422]
    //         W = [0.0000033333222223 − 0.04/0.0499100188538711,
    //              −1.0000016666638889 − 0.08/0.0998199377077422]
    //           = [0.0000033333222223 − 0.8014422939232675, −1.0000016666638889 − 0.8014430968112599]
    //           = [−0.8014389606010452, −1.8014447634751488]
    check_trajectory(
        &mut RmsProp::new(LR),
        &[
            [0.000_003_333_322_222_259_26, -1.000_001_666_663_888_893_5],
            [-0.801_438_960_601_045_21, -1.801_444_763_475_148_81],
        ],
    );
}

#[test]
fn adam_steps_match_hand_computation() {
    // m ← 0.9·m + 0.1·g, v ← 0.999·v + 0.001·g², m̂ = m/(1 − 0.9ᵗ), v̂ = v/(1 − 0.999ᵗ),
    // W ← W − η·m̂ / (√v̂ + 1e-8)
    // step 1: m = 0.1·g = [0.03, −0.06], v = 0.001·g² = [0.00009, 0.00036]
    //         m̂ = m/0.1 = [0.3, −0.6], v̂ = v/0.001 = [0.09, 0.36], √v̂ = [0.3, 0.6]
    //         W = [1 − 0.1·0.3/0.30000001, −2 + 0.1·0.6/0.60000001]
    //           = [1 − 0.0999999966666668, −2 + 0.0999999983333334]
    //           = [0.9000000033333332, −1.9000000016666666]
    // step 2: m = 0.9·[0.03, −0.06] + 0.1·[0.4, 0.8] = [0.067, 0.026]
    //         v = 0.999·[0.00009, 0.00036] + 0.001·[0.16, 0.64] = [0.00024991, 0.00099964]
    //         m̂ = m/0.19 = [0.3526315789473684, 0.1368421052631579]
    //         v̂ = v/0.001999 = [0.1250175087543772, 0.5000700350175088]
    //         √v̂ = [0.3535781508441623, 0.7071563016883246]
    //         W = [0.9000000033333332 − 0.1·0.3526315789473684/0.3535781608441623,
    //              −1.9000000016666666 − 0.1·0.1368421052631579/0.7071563116883246]
    //           = [0.9000000033333332 − 0.0997322849650742, −1.9000000016666666 − 0.0193510406400036]
    //           = [0.8002677183682590, −1.9193510423066702]
    // step 3: m = 0.9·[0.067, 0.026] + 0.1·[−0.5, 0.2] = [0.0103, 0.0434]
    //         v = 0.999·[0.00024991, 0.00099964] + 0.001·[0.25, 0.04] = [0.00049966009, 0.00103864036]
    //         m̂ = m/0.271 = [0.0380073800738007, 0.1601476014760148]
    //         v̂ = v/0.002997001 = [0.1667200277877785, 0.3465598977110785]
    //         √v̂ = [0.4083136389930889, 0.5886933817456066]
    //         W = [0.8002677183682590 − 0.1·0.0380073800738007/0.4083136489930889,
    //              −1.9193510423066702 − 0.1·0.1601476014760148/0.5886933917456066]
    //           = [0.8002677183682590 − 0.0093083785387845, −1.9193510423066702 − 0.0272039067741429]
    //           = [0.7909593398294745, −1.9465549490808131]
    check_trajectory(
        &mut Adam::new(LR),
        &[
            [0.900_000_003_333_333_222, -1.900_000_001_666_666_639],
            [0.800_267_718_368_259_002, -1.919_351_042_306_670_193],
            [0.790_959_339_829_474_458, -1.946_554_949_080_813_107],
        ],
    );
}

#[test]
fn adamw_steps_match_hand_computation() {
    // Adam's m, v, m̂, v̂ as in `adam_steps_match_hand_computation`, and
    // W ← W − η·(m̂/(√v̂ + 1e-8) + 0.01·W), with W the value before the step:
    // step 1: W = [1 − 0.0999999966666668 − 0.1·0.01·1, −2 + 0.0999999983333334 − 0.1·0.01·(−2)]
    //           = [1 − 0.0999999966666668 − 0.001, −2 + 0.0999999983333334 + 0.002]
    //           = [0.8990000033333332, −1.8980000016666666]
    // step 2: W = [0.8990000033333332 − 0.0997322849650742 − 0.001·0.8990000033333332,
    //              −1.8980000016666666 − 0.0193510406400036 + 0.001·1.8980000016666666]
    //           = [0.7983687183649257, −1.9154530423050035]
    // step 3: W = [0.7983687183649257 − 0.0093083785387845 − 0.001·0.7983687183649257,
    //              −1.9154530423050035 − 0.0272039067741429 + 0.001·1.9154530423050035]
    //           = [0.7882619711077762, −1.9407414960368414]
    check_trajectory(
        &mut AdamW::new(LR),
        &[
            [0.899_000_003_333_333_222, -1.898_000_001_666_666_639],
            [0.798_368_718_364_925_668, -1.915_453_042_305_003_526],
            [0.788_261_971_107_776_199, -1.940_741_496_036_841_437],
        ],
    );
}

#[test]
fn non_default_hyperparameters_are_used() {
    // Momentum 0.5: step 1 v = [−0.03, 0.06], W = [0.97, −1.94];
    // step 2 v = 0.5·[−0.03, 0.06] − [0.04, 0.08] = [−0.055, −0.05], W = [0.915, −1.99]
    check_trajectory(&mut Momentum::new(LR).with_momentum(0.5), &[[0.97, -1.94], [0.915, -1.99]]);
    // Momentum 0 is plain gradient descent.
    check_trajectory(&mut Momentum::new(LR).with_momentum(0.0), &[[0.97, -1.94], [0.93, -2.02]]);
    // Nesterov 0.5: step 1 v = [−0.03, 0.06], W = [1 − 0.015 − 0.03, −2 + 0.03 + 0.06] = [0.955, −1.91];
    // step 2 v = [−0.055, −0.05], W = [0.955 − 0.0275 − 0.04, −1.91 − 0.025 − 0.08] = [0.8875, −2.015]
    check_trajectory(&mut Nesterov::new(LR).with_momentum(0.5), &[[0.955, -1.91], [0.8875, -2.015]]);
    // AdaGrad, ε = 0.1: step 1 h = [0.09, 0.36], W = [1 − 0.03/0.4, −2 + 0.06/0.7]
    //   = [0.925, −1.9142857142857143]
    check_trajectory(&mut AdaGrad::new(LR).with_eps(0.1), &[[0.925, -2.0 + 0.06 / 0.7]]);
    // RMSProp, ρ = 0.75, ε = 0.1: step 1 h = 0.25·[0.09, 0.36] = [0.0225, 0.09], √h = [0.15, 0.3]
    //   W = [1 − 0.03/0.25, −2 + 0.06/0.4] = [0.88, −1.85]
    check_trajectory(&mut RmsProp::new(LR).with_rho(0.75).with_eps(0.1), &[[0.88, -1.85]]);
    // Adam, β₁ = 0.5, β₂ = 0.75, ε = 0.1:
    // step 1: m̂ = g, v̂ = g², W = [1 − 0.03/0.4, −2 + 0.06/0.7] = [0.925, −1.9142857142857143]
    // step 2: m = 0.5·[0.15, −0.3] + 0.5·[0.4, 0.8] = [0.275, 0.25], m̂ = m/0.75 = [0.36̅, 0.3̅]
    //         v = 0.75·[0.0225, 0.09] + 0.25·[0.16, 0.64] = [0.056875, 0.2275]
    //         v̂ = v/0.4375 = [0.13, 0.52], √v̂ = [0.3605551275463989, 0.7211102550927979]
    //         W = [0.925 − 0.1·0.36̅/0.4605551275463989, −1.9142857142857143 − 0.1·0.3̅/0.8211102550927979]
    let w1 = [0.925, -2.0 + 0.06 / 0.7];
    let w2 =
        [w1[0] - 0.1 * (0.275 / 0.75) / (0.13f64.sqrt() + 0.1), w1[1] - 0.1 * (0.25 / 0.75) / (0.52f64.sqrt() + 0.1)];
    check_trajectory(&mut Adam::new(LR).with_betas(0.5, 0.75).with_eps(0.1), &[w1, w2]);
}

#[test]
fn learning_rate_changes_apply_to_the_next_step() {
    for name in NAMES {
        let mut opt = make(name, WeightDecay::None);
        opt.set_learning_rate(0.05).unwrap();
        assert_eq!(opt.learning_rate(), 0.05, "{name}");
    }
    // SGD: step 1 at η = 0.1 gives [0.97, −1.94]; step 2 at η = 0.2: [0.97 − 0.08, −1.94 − 0.16]
    let mut sgd = Sgd::new(LR);
    let mut w = weight();
    *w.grad_mut() = row(G[0]);
    sgd.step(&mut [&mut w]).unwrap();
    Optimizer::<f64>::set_learning_rate(&mut sgd, 0.2).unwrap();
    *w.grad_mut() = row(G[1]);
    sgd.step(&mut [&mut w]).unwrap();
    assert_close(values(&w), [0.89, -2.1], "sgd after the change");
}

#[test]
fn defaults_and_names() {
    for name in NAMES {
        let opt = make(name, WeightDecay::None);
        assert_eq!(opt.name(), name);
        assert_eq!(opt.learning_rate(), LR);
    }
    assert_eq!(Sgd::new(LR).weight_decay(), WeightDecay::None);
    assert_eq!(Momentum::new(LR).momentum(), 0.9);
    assert_eq!(Nesterov::new(LR).momentum(), 0.9);
    assert_eq!(AdaGrad::new(LR).eps(), 1e-7);
    let rmsprop = RmsProp::new(LR);
    assert_eq!((rmsprop.rho(), rmsprop.eps()), (0.99, 1e-7));
    let adam = Adam::new(LR);
    assert_eq!((adam.betas(), adam.eps(), adam.weight_decay()), ((0.9, 0.999), 1e-8, WeightDecay::None));
    let adamw = AdamW::new(LR);
    assert_eq!((adamw.betas(), adamw.eps(), adamw.weight_decay()), ((0.9, 0.999), 1e-8, WeightDecay::Decoupled(0.01)));
    assert_eq!(Optimizer::<f64>::weight_decay(&adamw), WeightDecay::Decoupled(0.01));
}

// === Weight decay ===

#[test]
fn sgd_l2_decay_matches_hand_computation_and_spares_the_bias() {
    // g' = g + 0.1·W, W ← W − η·g'
    // step 1: g' = [0.3 + 0.1, −0.6 − 0.2] = [0.4, −0.8];  W = [0.96, −1.92]
    // step 2: g' = [0.4 + 0.096, 0.8 − 0.192] = [0.496, 0.608];  W = [0.9104, −1.9808]
    // The bias gets the plain steps: [0.97, −1.94], [0.93, −2.02].
    let mut sgd = Sgd::new(LR).with_weight_decay(WeightDecay::L2(0.1));
    let steps = trajectory_with_bias(&mut sgd, 2);
    assert_close(steps[0].0, [0.96, -1.92], "weight step 1");
    assert_close(steps[1].0, [0.9104, -1.9808], "weight step 2");
    assert_close(steps[0].1, [0.97, -1.94], "bias step 1");
    assert_close(steps[1].1, [0.93, -2.02], "bias step 2");
    // For SGD, decoupled decay takes the same steps.
    let mut decoupled = Sgd::new(LR).with_weight_decay(WeightDecay::Decoupled(0.1));
    for (a, b) in trajectory_with_bias(&mut decoupled, 2).into_iter().zip(steps) {
        assert_close(a.0, b.0, "decoupled weight");
        assert_close(a.1, b.1, "decoupled bias");
    }
}

#[test]
fn momentum_l2_and_decoupled_decay_match_hand_computation() {
    // L2 (0.1): g' = g + 0.1·W, v ← 0.9·v − η·g', W ← W + v
    // step 1: g' = [0.4, −0.8], v = [−0.04, 0.08], W = [0.96, −1.92]
    // step 2: g' = [0.4 + 0.096, 0.8 − 0.192] = [0.496, 0.608]
    //         v = 0.9·[−0.04, 0.08] − 0.1·[0.496, 0.608] = [−0.0856, 0.0112], W = [0.8744, −1.9088]
    let mut l2 = Momentum::new(LR).with_weight_decay(WeightDecay::L2(0.1));
    let steps = trajectory_with_bias(&mut l2, 2);
    assert_close(steps[0].0, [0.96, -1.92], "L2 weight step 1");
    assert_close(steps[1].0, [0.8744, -1.9088], "L2 weight step 2");
    assert_close(steps[1].1, [0.903, -1.966], "L2 bias step 2 (undecayed)");
    // Decoupled (0.1): v ← 0.9·v − η·g (undecayed), W ← W + v − η·0.1·W
    // step 1: v = [−0.03, 0.06], W = [1 − 0.03 − 0.01, −2 + 0.06 + 0.02] = [0.96, −1.92]
    // step 2: v = [−0.067, −0.026], W = [0.96 − 0.067 − 0.0096, −1.92 − 0.026 + 0.0192] = [0.8834, −1.9268]
    let mut decoupled = Momentum::new(LR).with_weight_decay(WeightDecay::Decoupled(0.1));
    let steps = trajectory_with_bias(&mut decoupled, 2);
    assert_close(steps[0].0, [0.96, -1.92], "decoupled weight step 1");
    assert_close(steps[1].0, [0.8834, -1.9268], "decoupled weight step 2");
    assert_close(steps[1].1, [0.903, -1.966], "decoupled bias step 2 (undecayed)");
}

#[test]
fn adam_l2_decay_matches_hand_computation() {
    // g' = g + 0.1·W goes into m and v (coupled L2, PyTorch's Adam(weight_decay=0.1)):
    // step 1: g' = [0.4, −0.8], m̂ = g', √v̂ = |g'| = [0.4, 0.8]
    //         W = [1 − 0.1·0.4/0.40000001, −2 + 0.1·0.8/0.80000001]
    //           = [0.9000000024999999, −1.9000000012500000]
    // step 2: g' = [0.4 + 0.09000000025, 0.8 − 0.190000000125] = [0.49000000025, 0.609999999875]
    //         m = 0.9·[0.04, −0.08] + 0.1·g' = [0.085000000025, −0.0110000000125]
    //         v = 0.999·[0.00016, 0.00064] + 0.001·g'² = [0.000399940000245, 0.0010114599998475]
    //         m̂ = m/0.19 = [0.4473684211842105, −0.0578947369078947]
    //         √v̂ = √(v/0.001999) = [0.4472918903133278, 0.7113248142863144]
    //         W = [0.9000000024999999 − 0.1000171075914474, −1.90000000125 + 0.0081390013298048]
    //           = [0.7999828949085526, −1.8918609999201952]
    let mut adam = Adam::new(LR).with_weight_decay(WeightDecay::L2(0.1));
    let steps = trajectory_with_bias(&mut adam, 2);
    assert_close(steps[0].0, [0.900_000_002_499_999_938, -1.900_000_001_249_999_984], "weight step 1");
    assert_close(steps[1].0, [0.799_982_894_908_552_572, -1.891_860_999_920_195_192], "weight step 2");
    // The bias takes plain Adam's steps.
    assert_close(steps[1].1, [0.800_267_718_368_259_002, -1.919_351_042_306_670_193], "bias step 2");
}

#[test]
fn every_optimizer_decays_the_weight_but_not_the_bias() {
    for decay in [WeightDecay::L2(0.1), WeightDecay::Decoupled(0.1)] {
        for name in NAMES {
            if name == "adamw" && matches!(decay, WeightDecay::L2(_)) {
                continue; // AdamW's decay is decoupled only
            }
            let plain = trajectory_with_bias(make(name, WeightDecay::None).as_mut(), 3);
            let decayed = trajectory_with_bias(make(name, decay).as_mut(), 3);
            for (step, (p, d)) in plain.iter().zip(&decayed).enumerate() {
                assert_eq!(p.1, d.1, "{name} {decay:?}: bias at step {} must not decay", step + 1);
                assert_ne!(p.0, d.0, "{name} {decay:?}: weight at step {} must decay", step + 1);
            }
            // Without decay, the weight and the bias (same start, same gradients) move alike.
            assert!(plain.iter().all(|(w, b)| w == b), "{name}");
        }
    }
}

#[test]
fn a_weight_marked_not_to_decay_is_not_decayed() {
    let mut adam = Adam::new(LR).with_weight_decay(WeightDecay::Decoupled(0.5));
    let mut w = Param::new("weight", row(W0), Decay::Exempt);
    *w.grad_mut() = row(G[0]);
    adam.step(&mut [&mut w]).unwrap();
    let plain = trajectory(&mut Adam::new(LR), 1);
    assert_eq!(values(&w), plain[0]);
}

#[test]
fn adamw_is_adam_with_decoupled_decay() {
    let mut adamw = AdamW::new(LR).with_weight_decay(0.05);
    let mut adam = Adam::new(LR).with_weight_decay(WeightDecay::Decoupled(0.05));
    assert_eq!(trajectory_with_bias(&mut adamw, 3), trajectory_with_bias(&mut adam, 3));
    assert_eq!((adamw.steps(), adam.steps()), (3, 3));
}

#[test]
fn penalty_is_half_lambda_sum_of_squared_decaying_weights() {
    let (w, b) = (weight(), bias());
    let params = [&w, &b];
    // ½·0.1·(1² + (−2)²) = 0.25; the bias is not counted.
    for name in ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"] {
        let opt = make(name, WeightDecay::L2(0.1));
        assert!((opt.penalty(&params) - 0.25).abs() < TOL, "{name}");
        assert_eq!(make(name, WeightDecay::None).penalty(&params), 0.0, "{name}");
        assert_eq!(make(name, WeightDecay::Decoupled(0.1)).penalty(&params), 0.0, "{name}");
    }
    assert_eq!(Optimizer::<f64>::penalty(&AdamW::new(LR), &params), 0.0);
    // A weight marked not to decay is not counted either.
    let w = Param::new("weight", row(W0), Decay::Exempt);
    assert_eq!(WeightDecay::L2(0.1).penalty(&[&w]), 0.0);
    // With two weights: ½·0.2·(5 + 5) = 1.
    let w2 = weight();
    assert!((WeightDecay::L2(0.2).penalty(&[&weight(), &w2]) - 1.0).abs() < TOL);
}

/// An optimizer written outside the crate, with only the required methods.
#[derive(Debug)]
struct Halve;

impl Optimizer<f64> for Halve {
    fn name(&self) -> &'static str {
        "halve"
    }

    fn learning_rate(&self) -> f64 {
        0.5
    }

    fn set_learning_rate(&mut self, _: f64) -> backprop::Result<()> {
        Ok(())
    }

    fn step(&mut self, params: &mut [&mut Param<f64>]) -> backprop::Result<()> {
        for p in params.iter_mut() {
            if let Some((mut value, grad)) = p.take_update() {
                value.zip_apply(&grad, |w, g| *w -= 0.5 * g);
            }
        }
        Ok(())
    }
}

#[test]
fn the_provided_methods_default_to_no_decay() {
    let (w, b) = (weight(), bias());
    assert_eq!(Halve.weight_decay(), WeightDecay::None);
    assert_eq!(Halve.penalty(&[&w, &b]), 0.0);
}

// === Hyperparameter checks ===

const BAD_LEARNING_RATES: [f64; 5] = [0.0, -0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
const BAD_RATES: [f64; 6] = [-0.1, 1.0, 1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
const BAD_EPS: [f64; 5] = [0.0, -1e-8, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
const BAD_LAMBDAS: [f64; 4] = [-0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];

#[test]
fn invalid_learning_rates_are_refused() {
    for lr in BAD_LEARNING_RATES {
        assert_invalid(Sgd::new(lr).validate(), "learning_rate");
        assert_invalid(Momentum::new(lr).validate(), "learning_rate");
        assert_invalid(Nesterov::new(lr).validate(), "learning_rate");
        assert_invalid(AdaGrad::new(lr).validate(), "learning_rate");
        assert_invalid(RmsProp::new(lr).validate(), "learning_rate");
        assert_invalid(Adam::new(lr).validate(), "learning_rate");
        assert_invalid(AdamW::new(lr).validate(), "learning_rate");
        for name in NAMES {
            let mut opt = make(name, WeightDecay::None);
            assert_invalid(opt.set_learning_rate(lr), "learning_rate");
            assert_eq!(opt.learning_rate(), LR, "{name}: the rate is unchanged");
        }
    }
}

#[test]
fn invalid_momentum_rates_and_betas_are_refused() {
    for rate in BAD_RATES {
        assert_invalid(Momentum::new(LR).with_momentum(rate).validate(), "momentum");
        assert_invalid(Nesterov::new(LR).with_momentum(rate).validate(), "momentum");
        assert_invalid(RmsProp::new(LR).with_rho(rate).validate(), "rho");
        assert_invalid(Adam::new(LR).with_betas(rate, 0.999).validate(), "beta1");
        assert_invalid(Adam::new(LR).with_betas(0.9, rate).validate(), "beta2");
        assert_invalid(AdamW::new(LR).with_betas(rate, 0.999).validate(), "beta1");
        assert_invalid(AdamW::new(LR).with_betas(0.9, rate).validate(), "beta2");
    }
    // The bounds: 0 is allowed, just below 1 too.
    assert!(Momentum::new(LR).with_momentum(0.0).validate().is_ok());
    assert!(Nesterov::new(LR).with_momentum(0.999).validate().is_ok());
    assert!(RmsProp::new(LR).with_rho(0.0).validate().is_ok());
    assert!(Adam::new(LR).with_betas(0.0, 0.0).validate().is_ok());
}

#[test]
fn invalid_eps_is_refused() {
    for eps in BAD_EPS {
        assert_invalid(AdaGrad::new(LR).with_eps(eps).validate(), "eps");
        assert_invalid(RmsProp::new(LR).with_eps(eps).validate(), "eps");
        assert_invalid(Adam::new(LR).with_eps(eps).validate(), "eps");
        assert_invalid(AdamW::new(LR).with_eps(eps).validate(), "eps");
    }
}

#[test]
fn invalid_weight_decay_is_refused() {
    for lambda in BAD_LAMBDAS {
        for decay in [WeightDecay::L2(lambda), WeightDecay::Decoupled(lambda)] {
            assert_invalid(decay.validate(), "weight_decay");
            assert_invalid(Sgd::new(LR).with_weight_decay(decay).validate(), "weight_decay");
            assert_invalid(Momentum::new(LR).with_weight_decay(decay).validate(), "weight_decay");
            assert_invalid(Nesterov::new(LR).with_weight_decay(decay).validate(), "weight_decay");
            assert_invalid(AdaGrad::new(LR).with_weight_decay(decay).validate(), "weight_decay");
            assert_invalid(RmsProp::new(LR).with_weight_decay(decay).validate(), "weight_decay");
            assert_invalid(Adam::new(LR).with_weight_decay(decay).validate(), "weight_decay");
        }
        assert_invalid(AdamW::new(LR).with_weight_decay(lambda).validate(), "weight_decay");
    }
    assert!(Adam::new(LR).with_weight_decay(WeightDecay::L2(0.0)).validate().is_ok());
    assert!(AdamW::new(LR).with_weight_decay(0.0).validate().is_ok());
}

#[test]
fn invalid_config_errors_say_what_and_why() {
    let message = Adam::new(LR).with_betas(0.9, 1.0).validate().unwrap_err().to_string();
    assert!(message.contains("beta2") && message.contains("[0, 1)") && message.contains('1'), "{message}");
}

/// Each optimizer's settings, in the order `validate` checks them.
fn settings(name: &str) -> &'static [&'static str] {
    match name {
        "sgd" => &["learning_rate", "weight_decay"],
        "momentum" | "nesterov" => &["learning_rate", "momentum", "weight_decay"],
        "adagrad" => &["learning_rate", "eps", "weight_decay"],
        "rmsprop" => &["learning_rate", "rho", "eps", "weight_decay"],
        _ => &["learning_rate", "beta1", "beta2", "eps", "weight_decay"],
    }
}

/// Invalid values of a setting.
fn bad_values(setting: &str) -> &'static [f64] {
    match setting {
        "learning_rate" => &BAD_LEARNING_RATES,
        "eps" => &BAD_EPS,
        "weight_decay" => &BAD_LAMBDAS,
        _ => &BAD_RATES,
    }
}

/// Optimizer `name` with learning rate 0.1 and its defaults, but for the settings in `set`
/// (weight decay as L2 of that strength; AdamW's decoupled).
fn configured(name: &str, set: &[(&str, f64)]) -> Box<dyn Optimizer<f64>> {
    let get = |setting: &str, default: f64| set.iter().find(|(s, _)| *s == setting).map_or(default, |&(_, v)| v);
    let (lr, decay) = (get("learning_rate", LR), WeightDecay::L2(get("weight_decay", 0.0)));
    let (beta1, beta2) = (get("beta1", 0.9), get("beta2", 0.999));
    match name {
        "sgd" => Box::new(Sgd::new(lr).with_weight_decay(decay)),
        "momentum" => Box::new(Momentum::new(lr).with_momentum(get("momentum", 0.9)).with_weight_decay(decay)),
        "nesterov" => Box::new(Nesterov::new(lr).with_momentum(get("momentum", 0.9)).with_weight_decay(decay)),
        "adagrad" => Box::new(AdaGrad::new(lr).with_eps(get("eps", 1e-7)).with_weight_decay(decay)),
        "rmsprop" => {
            Box::new(RmsProp::new(lr).with_rho(get("rho", 0.99)).with_eps(get("eps", 1e-7)).with_weight_decay(decay))
        }
        "adam" => Box::new(Adam::new(lr).with_betas(beta1, beta2).with_eps(get("eps", 1e-8)).with_weight_decay(decay)),
        "adamw" => Box::new(
            AdamW::new(lr)
                .with_betas(beta1, beta2)
                .with_eps(get("eps", 1e-8))
                .with_weight_decay(get("weight_decay", 0.01)),
        ),
        _ => unreachable!("unknown optimizer {name}"),
    }
}

#[test]
fn every_optimizer_refuses_each_bad_setting_in_validate() {
    for name in NAMES {
        assert!(configured(name, &[]).validate().is_ok(), "{name}: the defaults are valid");
        for &setting in settings(name) {
            for &value in bad_values(setting) {
                let opt = configured(name, &[(setting, value)]);
                match opt.validate() {
                    Err(Error::InvalidConfig { name: got, value: shown, .. }) => {
                        assert_eq!(got, setting, "{name}: {setting} = {value}");
                        assert_eq!(shown, value.to_string(), "{name}: {setting} = {value}");
                    }
                    other => panic!("{name}: {setting} = {value} gave {other:?}"),
                }
            }
        }
    }
}

#[test]
fn validate_names_the_first_bad_setting_in_order() {
    for name in NAMES {
        let all = settings(name);
        for first in 0..all.len() {
            // Settings before `first` valid, the rest invalid: `first` is reported.
            let bad: Vec<(&str, f64)> = all[first..].iter().map(|&s| (s, bad_values(s)[1])).collect();
            assert_invalid(configured(name, &bad).validate(), all[first]);
        }
    }
}

#[test]
fn constructors_and_setters_keep_what_they_are_given() {
    // Nothing is checked or changed when the settings are given: validate reports them as given.
    let adam = Adam::new(-1.0).with_betas(2.0, f64::NAN).with_eps(0.0).with_weight_decay(WeightDecay::L2(-3.0));
    assert_eq!((adam.learning_rate(), adam.betas().0, adam.eps()), (-1.0, 2.0, 0.0));
    assert!(adam.betas().1.is_nan());
    assert_eq!(adam.weight_decay(), WeightDecay::L2(-3.0));
    assert_eq!(Momentum::new(LR).with_momentum(7.0).momentum(), 7.0);
    assert_eq!(RmsProp::new(LR).with_rho(-1.0).rho(), -1.0);
    assert_eq!(AdamW::new(LR).with_weight_decay(-1.0).weight_decay(), WeightDecay::Decoupled(-1.0));
    // The inherent methods need no scalar type; the trait's give the same answers.
    let sgd = Sgd::new(f64::INFINITY);
    assert_eq!(format!("{:?}", sgd.validate()), format!("{:?}", Optimizer::<f32>::validate(&sgd)));
    let mut sgd = Sgd::new(LR);
    sgd.set_learning_rate(0.2).unwrap();
    assert_eq!(sgd.learning_rate(), 0.2);
    assert_invalid(sgd.set_learning_rate(-0.2), "learning_rate");
    assert_eq!(Optimizer::<f32>::learning_rate(&sgd), 0.2);
}

/// The bits of an optimizer's exported state, by name.
fn sorted_state_bits(opt: &dyn Optimizer<f64>) -> Vec<(String, Vec<u64>)> {
    let mut state: Vec<(String, Vec<u64>)> =
        opt.state().into_iter().map(|(n, m)| (n, m.iter().map(|v| v.to_bits()).collect())).collect();
    state.sort();
    state
}

#[test]
fn a_step_with_a_bad_setting_is_refused_and_changes_nothing() {
    for name in NAMES {
        // A valid optimizer's state after step 1, imported into one with a bad setting.
        let mut valid = configured(name, &[]);
        let (mut w, mut b) = first_step(valid.as_mut());
        let state = valid.state();
        let after_first = (values(&w), values(&b));
        for &setting in settings(name) {
            let mut opt = configured(name, &[(setting, bad_values(setting)[0])]);
            opt.set_state(state.clone()).unwrap();
            let before = sorted_state_bits(opt.as_ref());
            *w.grad_mut() = row(G[1]);
            *b.grad_mut() = row(G[1]);
            assert_invalid(opt.step(&mut [&mut w, &mut b]), setting);
            assert_eq!((values(&w), values(&b)), after_first, "{name}, {setting}: the parameters changed");
            assert!(w.grad().is_some() && b.grad().is_some(), "{name}, {setting}: gradients consumed");
            assert_eq!(sorted_state_bits(opt.as_ref()), before, "{name}, {setting}: the state changed");
            assert!(!before.is_empty() || name == "sgd");
        }
        // A new optimizer with a bad setting creates no state either.
        for &setting in settings(name) {
            let mut opt = configured(name, &[(setting, bad_values(setting)[2])]);
            let mut fresh = weight();
            *fresh.grad_mut() = row(G[0]);
            assert_invalid(opt.step(&mut [&mut fresh]), setting);
            assert_eq!(values(&fresh), W0, "{name}, {setting}");
            assert!(opt.state().is_empty(), "{name}, {setting}: state created");
        }
    }
}

#[test]
fn fit_with_a_bad_setting_fails_before_changing_the_network() {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    for name in NAMES {
        for &setting in settings(name) {
            let mut net =
                Sequential::<f64>::builder(2).add(Dense::new(2, 3)).add(Tanh).add(Dense::new(3, 1)).build(1).unwrap();
            let before: Vec<Vec<u64>> =
                net.params().iter().map(|p| p.value().iter().map(|v| v.to_bits()).collect()).collect();
            let optimizer = configured(name, &[(setting, bad_values(setting)[1])]);
            let mut config = FitConfig::new(SquaredError::mean(), optimizer);
            assert_invalid(net.fit(&x, &t, &mut config), setting);
            let after: Vec<Vec<u64>> =
                net.params().iter().map(|p| p.value().iter().map(|v| v.to_bits()).collect()).collect();
            assert_eq!(after, before, "{name}, {setting}: the network changed");
            assert!(config.optimizer().state().is_empty(), "{name}, {setting}: the optimizer took a step");
        }
    }
}

#[test]
fn an_outside_optimizer_validates_by_default() {
    assert!(Halve.validate().is_ok());
}

/// An optimizer written outside the crate whose settings are invalid but whose step does not
/// check them: only `fit`'s own check stops it.
#[derive(Debug)]
struct Unchecked;

impl Optimizer<f64> for Unchecked {
    fn name(&self) -> &'static str {
        "unchecked"
    }
    fn learning_rate(&self) -> f64 {
        -1.0
    }
    fn set_learning_rate(&mut self, _: f64) -> backprop::Result<()> {
        Ok(())
    }
    fn validate(&self) -> backprop::Result<()> {
        Err(Error::InvalidConfig { name: "learning_rate", value: "-1".into(), expected: "> 0 and finite" })
    }
    fn step(&mut self, params: &mut [&mut Param<f64>]) -> backprop::Result<()> {
        Halve.step(params)
    }
}

#[test]
fn fit_validates_the_optimizer_before_anything_else() {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 1)).build(1).unwrap();
    let before = net.params().iter().map(|p| p.value().clone()).collect::<Vec<_>>();
    // The step alone would train: fit's check is what refuses.
    let mut config = FitConfig::new(SquaredError::mean(), Unchecked).epochs(2);
    assert_invalid(net.fit(&x, &t, &mut config), "learning_rate");
    assert_eq!(net.params().iter().map(|p| p.value().clone()).collect::<Vec<_>>(), before);
    // Before the data: targets of the wrong width are not even looked at.
    let mut config = FitConfig::new(SquaredError::mean(), Sgd::new(f64::NAN));
    assert_invalid(net.fit(&x, &DMatrix::zeros(4, 3), &mut config), "learning_rate");
    let mut config = FitConfig::new(SquaredError::mean(), Sgd::new(0.1));
    assert!(matches!(net.fit(&x, &DMatrix::zeros(4, 3), &mut config), Err(Error::TargetShapeMismatch { .. })));
}

// === State checks: a failed step changes nothing ===

/// Takes step 1 with `G[0]` on `[w, b]`, returning them.
fn first_step(opt: &mut dyn Optimizer<f64>) -> (Param<f64>, Param<f64>) {
    let (mut w, mut b) = (weight(), bias());
    *w.grad_mut() = row(G[0]);
    *b.grad_mut() = row(G[0]);
    opt.step(&mut [&mut w, &mut b]).unwrap();
    (w, b)
}

/// Takes step 2 with `G[1]` on `[w, b]` and returns their values.
fn second_step(opt: &mut dyn Optimizer<f64>, w: &mut Param<f64>, b: &mut Param<f64>) -> ([f64; 2], [f64; 2]) {
    *w.grad_mut() = row(G[1]);
    *b.grad_mut() = row(G[1]);
    opt.step(&mut [&mut *w, &mut *b]).unwrap();
    (values(w), values(b))
}

fn assert_state_mismatch(result: backprop::Result<()>, expected_optimizer: &str, expected: StateMismatch) {
    match result {
        Err(Error::OptimizerState { optimizer, mismatch }) => {
            assert_eq!(optimizer, expected_optimizer);
            assert_eq!(mismatch, expected);
        }
        other => panic!("expected OptimizerState, got {other:?}"),
    }
}

#[test]
fn a_step_with_other_parameters_is_refused_and_changes_nothing() {
    for name in NAMES.into_iter().filter(|&n| n != "sgd") {
        // The reference: two good steps.
        let mut reference = make(name, WeightDecay::L2(0.1));
        let (mut rw, mut rb) = first_step(reference.as_mut());
        let expected = second_step(reference.as_mut(), &mut rw, &mut rb);

        let mut opt = make(name, WeightDecay::L2(0.1));
        let (mut w, mut b) = first_step(opt.as_mut());
        let after_first = (values(&w), values(&b));

        // Fewer parameters.
        *w.grad_mut() = row(G[2]);
        assert_state_mismatch(opt.step(&mut [&mut w]), name, StateMismatch::ParamCount { expected: 2, got: 1 });
        assert_eq!(values(&w), after_first.0, "{name}");
        assert!(w.grad().is_some(), "{name}: the gradient is not consumed");

        // More parameters.
        let mut extra = Param::new("weight", DMatrix::from_element(3, 1, 0.5), Decay::Applies);
        *b.grad_mut() = row(G[2]);
        *extra.grad_mut() = DMatrix::from_element(3, 1, 1.0);
        assert_state_mismatch(
            opt.step(&mut [&mut w, &mut b, &mut extra]),
            name,
            StateMismatch::ParamCount { expected: 2, got: 3 },
        );

        // Same number, another shape.
        let mut reshaped = Param::new("bias", DMatrix::from_row_slice(2, 1, &W0), Decay::Exempt);
        *reshaped.grad_mut() = DMatrix::from_row_slice(2, 1, &G[2]);
        assert_state_mismatch(
            opt.step(&mut [&mut w, &mut reshaped]),
            name,
            StateMismatch::ParamShape { index: 1, expected: Dims(1, 2), got: Dims(2, 1) },
        );

        // Nothing changed: the parameters, and the state (the next good step is the reference's).
        assert_eq!((values(&w), values(&b)), after_first, "{name}");
        assert_eq!(extra.value(), &DMatrix::from_element(3, 1, 0.5), "{name}");
        assert_eq!(reshaped.value(), &DMatrix::from_row_slice(2, 1, &W0), "{name}");
        assert_eq!(second_step(opt.as_mut(), &mut w, &mut b), expected, "{name}");
    }
}

#[test]
fn a_missing_gradient_is_refused_and_changes_nothing() {
    for name in NAMES {
        let mut reference = make(name, WeightDecay::Decoupled(0.1));
        let (mut rw, mut rb) = first_step(reference.as_mut());
        let expected = second_step(reference.as_mut(), &mut rw, &mut rb);

        let mut opt = make(name, WeightDecay::Decoupled(0.1));
        let (mut w, mut b) = first_step(opt.as_mut());
        let after_first = (values(&w), values(&b));

        // The weight has a fresh gradient, the bias's was used by step 1.
        *w.grad_mut() = row(G[2]);
        match opt.step(&mut [&mut w, &mut b]) {
            Err(Error::MissingGradient { index, name: param }) => assert_eq!((index, param), (1, "bias"), "{name}"),
            other => panic!("{name}: expected MissingGradient, got {other:?}"),
        }
        assert_eq!((values(&w), values(&b)), after_first, "{name}");
        assert!(w.grad().is_some(), "{name}: the weight's gradient is not consumed");

        assert_eq!(second_step(opt.as_mut(), &mut w, &mut b), expected, "{name}");
    }
}

#[test]
fn a_failed_first_step_creates_no_state() {
    for name in NAMES {
        let reference = trajectory_with_bias(make(name, WeightDecay::None).as_mut(), 2);

        let mut opt = make(name, WeightDecay::None);
        // A first step on one parameter without a gradient fails...
        let mut lone = weight();
        assert!(matches!(opt.step(&mut [&mut lone]), Err(Error::MissingGradient { index: 0, name: "weight" })));
        assert_eq!(values(&lone), W0);
        // ...and leaves the optimizer as new: it then takes two parameters as a fresh one does.
        assert_eq!(trajectory_with_bias(opt.as_mut(), 2), reference, "{name}");
    }
}

#[test]
fn a_gradient_of_the_wrong_shape_is_refused_and_changes_nothing() {
    for name in NAMES {
        let mut opt = make(name, WeightDecay::None);
        let mut w = weight();
        *w.grad_mut() = DMatrix::from_element(2, 1, 0.5);
        match opt.step(&mut [&mut w]) {
            Err(Error::GradientShape { index, name: param, expected, got }) => {
                assert_eq!((index, param, expected, got), (0, "weight", Dims(1, 2), Dims(2, 1)), "{name}")
            }
            other => panic!("{name}: expected GradientShape, got {other:?}"),
        }
        assert_eq!(values(&w), W0, "{name}");
        // The optimizer is still as new.
        assert_eq!(trajectory(opt.as_mut(), 2), trajectory(make(name, WeightDecay::None).as_mut(), 2), "{name}");
    }
}

#[test]
fn state_and_gradient_errors_read_cleanly() {
    let mut momentum = Momentum::new(LR);
    let (mut w, _) = first_step(&mut momentum);
    *w.grad_mut() = row(G[1]);
    let err = momentum.step(&mut [&mut w]).unwrap_err();
    assert_eq!(err.to_string(), "momentum state: it is for 2 parameters, but the step got 1");
    let err = Optimizer::<f64>::set_state(&mut momentum, vec![("0.v".into(), DMatrix::zeros(1, 2))]).unwrap_err();
    assert_eq!(err.to_string(), "momentum state: \"0.v\" is not a tensor of its state");
    let mut w = weight();
    *w.grad_mut() = DMatrix::from_element(2, 1, 0.5);
    let err = Sgd::new(LR).step(&mut [&mut w]).unwrap_err();
    assert_eq!(err.to_string(), "parameter 0 (weight) is 1x2 but its gradient is 2x1");
}

#[test]
fn state_is_for_one_scalar_type() {
    let mut adam = Adam::new(LR);
    let mut w = weight();
    *w.grad_mut() = row(G[0]);
    adam.step(&mut [&mut w]).unwrap();

    let mut w32 = Param::new("weight", DMatrix::from_row_slice(1, 2, &[1.0f32, -2.0]), Decay::Applies);
    *w32.grad_mut() = DMatrix::from_row_slice(1, 2, &[0.3f32, -0.6]);
    assert_state_mismatch(
        adam.step(&mut [&mut w32]),
        "adam",
        StateMismatch::ScalarType { expected: "f64", got: "f32" },
    );
    assert_eq!(w32.value()[(0, 0)], 1.0);
    assert_eq!(adam.steps(), 1);
}

#[test]
fn f32_parameters_follow_the_f64_steps() {
    for name in NAMES {
        let mut opt: Box<dyn Optimizer<f32>> = match name {
            "sgd" => Box::new(Sgd::new(LR)),
            "momentum" => Box::new(Momentum::new(LR)),
            "nesterov" => Box::new(Nesterov::new(LR)),
            "adagrad" => Box::new(AdaGrad::new(LR)),
            "rmsprop" => Box::new(RmsProp::new(LR)),
            "adam" => Box::new(Adam::new(LR)),
            _ => Box::new(AdamW::new(LR)),
        };
        let decay = if name == "adamw" { WeightDecay::Decoupled(0.01) } else { WeightDecay::None };
        let expected = trajectory(make(name, decay).as_mut(), 3);
        let mut w = Param::new("weight", DMatrix::from_row_slice(1, 2, &[1.0f32, -2.0]), Decay::Applies);
        for (g, want) in G.iter().zip(expected) {
            *w.grad_mut() = DMatrix::from_row_slice(1, 2, &[g[0] as f32, g[1] as f32]);
            opt.step(&mut [&mut w]).unwrap();
            for (k, want) in want.into_iter().enumerate() {
                assert!((f64::from(w.value()[(0, k)]) - want).abs() < 1e-5, "{name}");
            }
        }
    }
}

#[test]
fn a_cloned_optimizer_continues_from_the_same_state() {
    let mut adam = Adam::new(LR);
    let (mut w, mut b) = first_step(&mut adam);
    let mut copy = adam.clone();
    let (mut w2, mut b2) = (w.clone(), b.clone());
    assert_eq!(second_step(&mut adam, &mut w, &mut b), second_step(&mut copy, &mut w2, &mut b2));
}

// === Training ===

/// XOR with a 2-4-1 network (tanh, then sigmoid, both layers with biases) and binary
/// cross-entropy, full batch.
fn train_xor(optimizer: impl Optimizer<f64> + 'static, epochs: usize) -> (History, DMatrix<f64>) {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    let mut net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 4).with_init(Init::GlorotUniform))
        .add(Tanh)
        .add(Dense::new(4, 1).with_init(Init::GlorotUniform))
        .add(Sigmoid)
        .build(1)
        .unwrap();
    let mut config = FitConfig::new(BinaryCrossEntropy, optimizer).epochs(epochs);
    let history = net.fit(&x, &t, &mut config).unwrap();
    let y = net.predict(&x).unwrap();
    (history, y)
}

#[test]
fn every_optimizer_trains_xor() {
    type Run = Box<dyn FnOnce() -> (History, DMatrix<f64>)>;
    let runs: Vec<(&str, Run)> = vec![
        ("sgd", Box::new(|| train_xor(Sgd::new(0.5), 2000))),
        ("momentum", Box::new(|| train_xor(Momentum::new(0.1), 1000))),
        ("nesterov", Box::new(|| train_xor(Nesterov::new(0.1), 1000))),
        ("adagrad", Box::new(|| train_xor(AdaGrad::new(0.1), 1000))),
        ("rmsprop", Box::new(|| train_xor(RmsProp::new(0.01), 1000))),
        ("adam", Box::new(|| train_xor(Adam::new(0.05), 1000))),
        ("adamw", Box::new(|| train_xor(AdamW::new(0.05), 1000))),
    ];
    for (name, run) in runs {
        let (history, y) = run();
        let first = history.loss[0];
        let last = history.final_loss().unwrap();
        assert!(last < 0.05, "{name}: loss {first} → {last}");
        for (k, target) in [0.0, 1.0, 1.0, 0.0].into_iter().enumerate() {
            assert!((y[k] - target).abs() < 0.2, "{name}: output {k} is {}", y[k]);
        }
    }
}
