//! Batches given sample by sample (`features × batch`, as `fit` gathers them): a first layer that
//! reads them in place gives what it gives on the same batch as rows, and a network says whether
//! its first layer does.

use backprop::{
    seeded, Chain, Conv2d, Dense, Error, Init, Layer, Network, Relu, Sequential, Sgd, Shape, Sigmoid,
    SoftmaxCrossEntropy, Stream,
};
use nalgebra::DMatrix;

/// `rows × cols` irregular values in [−1, 1].
fn values(rows: usize, cols: usize, phase: f64) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |i, j| (i as f64 * 0.7548776662 + j as f64 * 0.5698402910 + phase).sin())
}

/// Every parameter's gradient after `backward`, children's included.
fn grads(layer: &dyn Layer<f64>) -> Vec<DMatrix<f64>> {
    let mut out = Vec::new();
    layer.visit_params(&mut |p| out.push(p.grad().expect("a fresh gradient").clone()));
    layer.visit_children(&mut |_, child| out.extend(grads(child)));
    out
}

/// Largest absolute difference, over matrices of equal shapes.
fn gap(a: &[DMatrix<f64>], b: &[DMatrix<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(a, b)| (a - b).amax()).fold(0.0, f64::max)
}

/// Forward and backward of `layer` on `x` as rows and as samples: the outputs and the gradients.
fn both_ways(layer: &mut dyn Layer<f64>, x: &DMatrix<f64>, g_phase: f64) -> [(DMatrix<f64>, Vec<DMatrix<f64>>); 2] {
    let mut rng = seeded(0, Stream::Train);
    let mut y = DMatrix::zeros(0, 0);
    layer.forward_train(x, &mut y, &mut rng).unwrap();
    let g = values(y.nrows(), y.ncols(), g_phase);
    layer.backward(x, &y, &g, None).unwrap();
    let rows = (y.clone(), grads(layer));

    let xs = x.transpose();
    let mut y_s = DMatrix::from_element(3, 3, f64::NAN);
    layer.forward_train_samples(&xs, &mut y_s, &mut rng).unwrap();
    layer.backward_samples(&xs, &y_s, &g).unwrap();
    [rows, (y_s, grads(layer))]
}

/// Dense reads samples in place; outputs and gradients match the rows path, at shapes on the
/// plain loop and on the product kernels.
#[test]
fn dense_reads_samples_as_it_reads_rows() {
    for (batch, n_in, n_out) in [(4, 2, 3), (1, 1, 1), (33, 17, 9), (100, 64, 30), (300, 20, 7)] {
        let mut dense = Dense::<f64>::new(n_in, n_out).with_bias_init(Init::HeNormal);
        dense.build(Shape::Flat(n_in), &mut seeded(1, Stream::Init)).unwrap();
        assert!(Layer::<f64>::takes_samples(&dense));
        let x = values(batch, n_in, 0.3);
        let [(y, g), (y_s, g_s)] = both_ways(&mut dense, &x, 1.1);
        assert_eq!(y_s.shape(), (batch, n_out));
        assert!((&y - &y_s).amax() < 1e-12, "{batch}x{n_in}x{n_out}: outputs differ");
        assert!(gap(&g, &g_s) < 1e-12, "{batch}x{n_in}x{n_out}: gradients differ");
    }
}

/// A layer that does not read samples in place still takes them (by a transpose), with the same
/// results; a chain takes them as its first layer does.
#[test]
fn other_layers_and_chains_take_samples_too() {
    let mut sigmoid = Sigmoid;
    assert!(!Layer::<f64>::takes_samples(&sigmoid));
    let x = values(5, 4, 0.0);
    let [(y, _), (y_s, _)] = both_ways(&mut sigmoid, &x, 0.5);
    assert_eq!(y, y_s);

    let mut chain = Chain::<f64>::new().add(Dense::new(6, 5)).add(Relu).add(Dense::new(5, 3));
    chain.build(Shape::Flat(6), &mut seeded(2, Stream::Init)).unwrap();
    assert!(chain.takes_samples());
    let [(y, g), (y_s, g_s)] = both_ways(&mut chain, &values(7, 6, 0.2), 0.9);
    assert!((&y - &y_s).amax() < 1e-12);
    assert_eq!(g.len(), 4);
    assert!(gap(&g, &g_s) < 1e-12);

    let mut starts_with_relu = Chain::<f64>::new().add(Relu).add(Dense::new(6, 2));
    starts_with_relu.build(Shape::Flat(6), &mut seeded(2, Stream::Init)).unwrap();
    assert!(!starts_with_relu.takes_samples());
    let [(y, g), (y_s, g_s)] = both_ways(&mut starts_with_relu, &values(3, 6, 0.4), 0.1);
    assert_eq!(y, y_s);
    assert!(gap(&g, &g_s) < 1e-12);
}

fn mlp(seed: u64) -> Sequential<f64> {
    Sequential::<f64>::builder(8).add(Dense::new(8, 16)).add(Relu).add(Dense::new(16, 3)).build(seed).unwrap()
}

/// A training step on samples moves the parameters as a step on rows does, and a wrong number
/// of features is an error that changes nothing.
#[test]
fn a_step_on_samples_is_a_step_on_rows() {
    assert!(mlp(0).takes_samples());
    let cnn = Sequential::<f64>::builder_shaped(Shape::Image { channels: 1, height: 6, width: 6 })
        .add(Conv2d::new(1, 2, (3, 3)))
        .build(0)
        .unwrap();
    assert!(!cnn.takes_samples(), "a convolution reads rows");

    let x = values(10, 8, 0.7);
    let t = DMatrix::from_fn(10, 1, |i, _| (i % 3) as f64);
    let (mut on_rows, mut on_samples) = (mlp(3), mlp(3));
    let (mut sgd_rows, mut sgd_samples) = (Sgd::new(0.1), Sgd::new(0.1));
    let (mut rng_rows, mut rng_samples) = (seeded(0, Stream::Train), seeded(0, Stream::Train));
    for _ in 0..5 {
        let a = on_rows.train_step(&x, &t, &SoftmaxCrossEntropy, &mut sgd_rows, &mut rng_rows).unwrap();
        let b = on_samples
            .train_step_samples(&x.transpose(), &t, &SoftmaxCrossEntropy, &mut sgd_samples, &mut rng_samples)
            .unwrap();
        assert!((a - b).abs() < 1e-12, "losses {a} and {b}");
    }
    let params = |net: &Sequential<f64>| net.params().iter().map(|p| p.value().clone()).collect::<Vec<_>>();
    assert!(gap(&params(&on_rows), &params(&on_samples)) < 1e-12);

    let before = params(&on_samples);
    let wrong = values(7, 10, 0.0);
    let err = on_samples.train_step_samples(&wrong, &t, &SoftmaxCrossEntropy, &mut sgd_samples, &mut rng_samples);
    assert!(matches!(err, Err(Error::FeatureMismatch { expected: 8, got: 7, .. })), "{err:?}");
    assert_eq!(params(&on_samples), before);
}

/// In `f32` at an MNIST first layer's shapes, where the weight gradient `xs·g` (a short inner
/// dimension, read as stored) may run on another kernel than `xᵀ·g`: equal within rounding.
#[test]
fn dense_f32_samples_match_rows_within_rounding() {
    for (batch, n_in, n_out) in [(32, 784, 64), (256, 64, 30)] {
        let mut dense = Dense::<f32>::new(n_in, n_out);
        dense.build(Shape::Flat(n_in), &mut seeded(4, Stream::Init)).unwrap();
        let x = values(batch, n_in, 0.1).map(|v| v as f32);
        let g = values(batch, n_out, 0.6).map(|v| v as f32);
        let mut rng = seeded(0, Stream::Train);
        let (mut y, mut y_s) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
        dense.forward_train(&x, &mut y, &mut rng).unwrap();
        dense.backward(&x, &y, &g, None).unwrap();
        let weight_grad = |d: &Dense<f32>| {
            let mut first = None;
            Layer::<f32>::visit_params(d, &mut |p| first = first.take().or_else(|| p.grad().cloned()));
            first.expect("the weight's gradient")
        };
        let dw = weight_grad(&dense);
        let xs = x.transpose();
        dense.forward_train_samples(&xs, &mut y_s, &mut rng).unwrap();
        dense.backward_samples(&xs, &y_s, &g).unwrap();
        let scale = y.amax().max(dw.amax());
        assert!((&y - &y_s).amax() <= 1e-5 * scale, "{batch}x{n_in}x{n_out}: outputs");
        assert!((&dw - weight_grad(&dense)).amax() <= 1e-5 * scale, "{batch}x{n_in}x{n_out}: gradients");
    }
}
