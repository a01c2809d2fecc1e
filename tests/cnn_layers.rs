//! Convolution, pooling and batch normalization: f64 gradient checks (input and parameters,
//! training and inference mode, batches of 3 and more, inputs away from kinks), save/load round
//! trips with buffers, and what `fit` does with batch normalization's smallest batch.

use backprop::gradcheck::{check_layer, check_network, GradReport, Tolerance};
use backprop::prelude::*;
use backprop::{seeded, BatchNorm, Conv2d, GlobalAvgPool, Init, MaxPool2d, Stream};
use backprop::{AvgPool2d, BatchNormPreset};
use nalgebra::DMatrix;

/// Smooth layers in f64 should agree far more closely than the pass criterion demands.
const SMOOTH_REL: f64 = 1e-6;

fn image(c: usize, h: usize, w: usize) -> Shape {
    Shape::Image { channels: c, height: h, width: w }
}

/// A `rows × cols` matrix of values from U(low, high), fixed by `seed`.
fn uniform(rows: usize, cols: usize, low: f64, high: f64, seed: u64) -> DMatrix<f64> {
    Init::Uniform { low, high }.matrix(rows, cols, &mut seeded(seed, Stream::Init)).unwrap()
}

/// Passed, no kinks, every entry of every tensor compared, and tight agreement.
fn assert_smooth(report: &GradReport, sizes: &[usize], rel: f64) {
    assert!(report.passed(), "{report}");
    assert!(report.kinks.is_empty(), "{report}");
    let checked: Vec<usize> = report.tensors.iter().map(|t| t.checked).collect();
    assert_eq!(checked, sizes, "{report}");
    assert!(report.max_rel_error() <= rel, "{report}");
}

fn built<L: Layer<f64>>(mut layer: L, input: Shape, seed: u64) -> L {
    layer.build(input, &mut seeded(seed, Stream::Init)).unwrap();
    layer
}

/// Inference and training forward passes give the same output (for layers without a mode).
fn assert_same_modes<L: Layer<f64>>(layer: &mut L, x: &DMatrix<f64>) {
    let (mut a, mut b) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    layer.forward(x, &mut a).unwrap();
    layer.forward_train(x, &mut b, &mut seeded(0, Stream::Train)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn conv2d_with_stride_padding_and_bias() {
    let (c, h, w, f) = (2, 5, 6, 3);
    let mut conv = built(Conv2d::new(c, f, (3, 2)).with_stride(2).with_padding(1), image(c, h, w), 1);
    // A nonzero bias, so its gradient is checked around a generic point.
    conv.visit_params_mut(&mut |p| {
        if p.name() == "bias" {
            p.value_mut().copy_from(&DMatrix::from_row_slice(1, 3, &[0.1, -0.2, 0.3]));
        }
    });
    let x = uniform(3, c * h * w, -1.0, 1.0, 2);
    assert_same_modes(&mut conv, &x);
    let r = check_layer(&mut conv, &x, Tolerance::default()).unwrap();
    let names: Vec<&str> = r.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["input", "weight", "bias"]);
    // The layer is linear in x and in W: a coarse step leaves no truncation error.
    let coarse = Tolerance { eps: 1e-3, ..Tolerance::default() };
    let r = check_layer(&mut conv, &x, coarse).unwrap();
    assert_smooth(&r, &[3 * c * h * w, f * c * 3 * 2, f], SMOOTH_REL);
}

#[test]
fn conv2d_without_bias_and_a_one_by_one_strided_projection() {
    let mut conv = built(Conv2d::new(3, 2, (5, 5)).without_bias(), image(3, 6, 7), 3);
    let x = uniform(4, 3 * 6 * 7, -1.0, 1.0, 4);
    let coarse = Tolerance { eps: 1e-3, ..Tolerance::default() };
    assert_smooth(&check_layer(&mut conv, &x, coarse).unwrap(), &[4 * 126, 2 * 75], SMOOTH_REL);
    let mut proj = built(Conv2d::new(3, 4, (1, 1)).with_stride(2).without_bias(), image(3, 6, 7), 5);
    assert_smooth(&check_layer(&mut proj, &x, coarse).unwrap(), &[4 * 126, 4 * 3], SMOOTH_REL);
}

/// Distinct values far apart (at least 1e-3, ε = 1e-6): no window holds a tie, no probe
/// crosses one.
fn distinct(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut order: Vec<usize> = (0..rows * cols).collect();
    let mut rng = seeded(seed, Stream::Shuffle);
    use rand::seq::SliceRandom;
    order.shuffle(&mut rng);
    DMatrix::from_iterator(rows, cols, order.into_iter().map(|v| v as f64 * 1e-3 - 0.5))
}

#[test]
fn max_pool_away_from_ties_and_with_overlapping_windows() {
    for (pool, input) in [
        (MaxPool2d::new((2, 2)), image(2, 4, 6)),
        (MaxPool2d::new((3, 3)).with_stride(1).with_padding(1), image(2, 4, 5)),
        (MaxPool2d::new((2, 3)).with_stride(2), image(1, 5, 7)),
    ] {
        let mut pool = built(pool, input, 0);
        let x = distinct(3, input.len(), 6);
        assert_same_modes(&mut pool, &x);
        let r = check_layer(&mut pool, &x, Tolerance::default()).unwrap();
        assert_smooth(&r, &[3 * input.len()], SMOOTH_REL);
    }
}

#[test]
fn max_pool_reports_a_tie_as_a_kink() {
    let mut pool = built(MaxPool2d::new((2, 2)), image(1, 2, 2), 0);
    let mut x = distinct(3, 4, 7);
    x[(1, 3)] = x.row(1).max() + 0.1; // sample 1: two equal maxima
    x[(1, 0)] = x[(1, 3)];
    let r = check_layer(&mut pool, &x, Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    let at: Vec<(usize, usize)> = r.kinks.iter().map(|k| k.at).collect();
    assert_eq!(at, [(1, 0), (1, 3)], "{r}");
}

#[test]
fn avg_pool_and_global_avg_pool() {
    let mut avg = built(AvgPool2d::new((3, 2)).with_stride(1).with_padding(1), image(2, 4, 5), 0);
    let x = uniform(3, 40, -1.0, 1.0, 8);
    assert_same_modes(&mut avg, &x);
    assert_smooth(&check_layer(&mut avg, &x, Tolerance::default()).unwrap(), &[120], SMOOTH_REL);
    let mut global = built(GlobalAvgPool::new(), image(2, 4, 5), 0);
    assert_same_modes(&mut global, &x);
    assert_smooth(&check_layer(&mut global, &x, Tolerance::default()).unwrap(), &[120], SMOOTH_REL);
}

fn set_gamma_beta(bn: &mut BatchNorm<f64>, seed: u64) {
    bn.visit_params_mut(&mut |p| {
        let (rows, cols) = p.value().shape();
        p.value_mut().copy_from(&uniform(rows, cols, 0.5, 1.5, seed));
    });
}

/// Training mode for both presets, per feature and per channel; the running statistics are
/// restored by the check.
#[test]
fn batch_norm_in_training_mode() {
    for preset in [BatchNormPreset::Frameworks, BatchNormPreset::Book] {
        for (features, input, rows) in [(4, Shape::Flat(4), 5), (3, image(3, 2, 3), 3)] {
            let mut bn = built(BatchNorm::with_preset(features, preset), input, 0);
            set_gamma_beta(&mut bn, 9);
            let x = uniform(rows, input.len(), -2.0, 2.0, 10);
            let before = (bn.running_mean().clone(), bn.running_var().clone());
            let r = check_layer(&mut bn, &x, Tolerance::default()).unwrap();
            assert_eq!((bn.running_mean().clone(), bn.running_var().clone()), before, "buffers restored");
            assert_smooth(&r, &[rows * input.len(), features, features], 1e-5);
        }
    }
}

/// Inference mode: after some training the running statistics are nontrivial; frozen, the
/// training pass uses them, and agrees with inference.
#[test]
fn batch_norm_in_inference_mode() {
    for (features, input) in [(4, Shape::Flat(4)), (3, image(3, 2, 3))] {
        let mut bn = built(BatchNorm::new(features), input, 0);
        set_gamma_beta(&mut bn, 11);
        let mut y = DMatrix::zeros(0, 0);
        for seed in 0..5 {
            let x = uniform(6, input.len(), -1.0, 3.0, 20 + seed);
            bn.forward_train(&x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
        }
        assert!(bn.running_mean().iter().all(|&m| m > 0.1));
        bn.freeze_statistics(true);
        let x = uniform(3, input.len(), -2.0, 2.0, 12);
        assert_same_modes(&mut bn, &x);
        let r = check_layer(&mut bn, &x, Tolerance::default()).unwrap();
        assert_smooth(&r, &[3 * input.len(), features, features], SMOOTH_REL);
        // One sample is fine when the statistics are frozen.
        let one = x.rows(0, 1).into_owned();
        bn.forward_train(&one, &mut y, &mut seeded(0, Stream::Train)).unwrap();
    }
}

/// A residual CNN block whose shortcut is a strided 1×1 convolution, inside a small network
/// with batch norm, pooling and a dense head: the whole network's gradient.
fn residual_cnn(seed: u64) -> Sequential<f64> {
    let body = Chain::new()
        .add(Conv2d::new(2, 4, (3, 3)).with_stride(2).with_padding(1).without_bias())
        .add(BatchNorm::new(4))
        .add(Tanh)
        .add(Conv2d::new(4, 4, (3, 3)).with_padding(1));
    Sequential::builder_shaped(image(2, 6, 6))
        .add(Residual::projection(body, Conv2d::new(2, 4, (1, 1)).with_stride(2).without_bias()))
        .add(BatchNorm::new(4))
        .add(Tanh)
        .add(AvgPool2d::new((2, 2)).with_stride(1))
        .add(GlobalAvgPool::new())
        .add(Dense::new(4, 3))
        .build(seed)
        .unwrap()
}

#[test]
fn residual_cnn_network_gradient() {
    let mut net = residual_cnn(13);
    assert_eq!(net.output_width(), 3);
    assert!(net.param("0.shortcut.weight").is_some());
    assert_eq!(net.min_training_batch(), 2);
    let x = uniform(4, 72, -1.0, 1.0, 14);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 2.0, 1.0, 2.0]);
    let r = check_network(&mut net, &x, &t, &SoftmaxCrossEntropy, Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    assert!(r.kinks.is_empty(), "{r}");
}

#[test]
fn cnn_round_trips_with_buffers_bit_exactly() {
    let mut net = residual_cnn(15);
    let x = uniform(5, 72, -1.0, 1.0, 16);
    let t = DMatrix::from_row_slice(5, 1, &[0.0, 2.0, 1.0, 2.0, 0.0]);
    net.fit(&x, &t, &mut FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01)).epochs(3)).unwrap();
    let mut buffers = Vec::new();
    net.visit_buffers(&mut |path, m| buffers.push((path.to_string(), m.clone())));
    let names: Vec<&str> = buffers.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["0.body.1.running_mean", "0.body.1.running_var", "1.running_mean", "1.running_var"]);
    assert!(buffers.iter().all(|(_, m)| m.iter().any(|&v| v != 0.0 && v != 1.0)), "trained buffers");
    let copy = Sequential::<f64>::from_bytes(&net.to_bytes().unwrap()).unwrap();
    let mut copied = Vec::new();
    copy.visit_buffers(&mut |path, m| copied.push((path.to_string(), m.clone())));
    assert_eq!(copied, buffers);
    let values = |n: &Sequential<f64>| n.params().iter().map(|p| p.value().clone()).collect::<Vec<_>>();
    assert_eq!(values(&copy), values(&net));
    assert_eq!(copy.predict(&x).unwrap(), net.predict(&x).unwrap());
    let configs = |n: &Sequential<f64>| n.layers().map(|l| l.config()).collect::<Vec<_>>();
    assert_eq!(configs(&copy), configs(&net));
}

#[test]
fn every_cnn_kind_round_trips_in_f32() {
    let net = Sequential::<f32>::builder_shaped(image(1, 8, 8))
        .add(Conv2d::new(1, 3, (3, 3)).with_padding(1))
        .add(BatchNorm::book(3))
        .add(Relu)
        .add(MaxPool2d::new((2, 2)))
        .add(AvgPool2d::new((3, 3)).with_stride(1).with_padding(1))
        .add(Conv2d::new(3, 2, (2, 2)).with_stride(2).without_bias())
        .add(Dense::new(8, 4))
        .add(BatchNorm::new(4).with_eps(1e-3).with_momentum(0.2))
        .build(3)
        .unwrap();
    let x = DMatrix::from_fn(3, 64, |i, j| ((i * 64 + j) as f32 * 0.3).sin());
    let copy = Sequential::<f32>::from_bytes(&net.to_bytes().unwrap()).unwrap();
    assert_eq!(copy.params(), net.params());
    assert_eq!(copy.predict(&x).unwrap(), net.predict(&x).unwrap());
    let configs = |n: &Sequential<f32>| n.layers().map(|l| l.config()).collect::<Vec<_>>();
    assert_eq!(configs(&copy), configs(&net));
}

/// 10 rows in batches of 3 would leave a last batch of one: with batch norm it is joined to the
/// one before (3 + 3 + 4), without it stays (3 + 3 + 3 + 1); too few rows are a typed error.
#[test]
fn fit_never_makes_a_batch_of_one_with_batch_norm() {
    let x = uniform(10, 4, -1.0, 1.0, 17);
    let t = DMatrix::from_fn(10, 1, |i, _| (i % 2) as f64);
    let config = || FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(2).batch_size(3);
    let mut with_bn = Sequential::<f64>::builder(4)
        .add(Dense::new(4, 3))
        .add(BatchNorm::new(3))
        .add(Dense::new(3, 2))
        .build(0)
        .unwrap();
    let history = with_bn.fit(&x, &t, &mut config()).unwrap();
    assert_eq!(history.steps, 2 * 3);
    let mut plain = Sequential::<f64>::builder(4).add(Dense::new(4, 3)).add(Dense::new(3, 2)).build(0).unwrap();
    assert_eq!(plain.fit(&x, &t, &mut config()).unwrap().steps, 2 * 4);
    let one = x.rows(0, 1).into_owned();
    let err = with_bn.fit(&one, &t.rows(0, 1).into_owned(), &mut config());
    // The error names the layer that asks for two, by its path (it said "network layer").
    assert!(
        matches!(&err, Err(Error::BatchTooSmall { layer, min: 2, got: 1 }) if *layer == backprop::LayerId::at("1", "batch_norm")),
        "{err:?}"
    );
    // A batch size of one is raised to the smallest batch the network trains on.
    let history = with_bn.fit(&x, &t, &mut config().batch_size(1)).unwrap();
    assert_eq!(history.steps, 2 * 5);
}

/// A network of every image layer copies (`try_clone`): the copy predicts the same bits, saves
/// the same bytes, and trains on its own — the original is untouched.
#[test]
fn every_image_layer_copies() {
    let net = || {
        Sequential::<f64>::builder_shaped(image(1, 8, 8))
            .add(Conv2d::new(1, 4, (3, 3)).with_padding(1))
            .add(BatchNorm::new(4))
            .add(Relu)
            .add(MaxPool2d::new((2, 2)))
            .add(Conv2d::new(4, 4, (3, 3)).with_padding(1))
            .add(AvgPool2d::new((2, 2)))
            .add(GlobalAvgPool::new())
            .add(Dense::new(4, 3))
            .build(4)
            .unwrap()
    };
    let x = uniform(12, 64, 0.0, 1.0, 8);
    let t = DMatrix::from_fn(12, 1, |i, _| (i % 3) as f64);
    let mut original = net();
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01)).epochs(2).batch_size(4);
    original.fit(&x, &t, &mut config).unwrap();
    let mut copy = original.try_clone().unwrap();
    let bits = |m: DMatrix<f64>| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(copy.predict(&x).unwrap()), bits(original.predict(&x).unwrap()));
    let saved = original.to_bytes().unwrap();
    assert_eq!(copy.to_bytes().unwrap(), saved);
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01)).epochs(2).batch_size(4);
    copy.fit(&x, &t, &mut config).unwrap();
    assert_ne!(copy.to_bytes().unwrap(), saved, "the copy trained");
    assert_eq!(original.to_bytes().unwrap(), saved, "the original did not");
}
