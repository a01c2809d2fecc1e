//! The memory-bound passes of the CNN layers (element-wise functions, pooling, im2col and
//! col2im, batch norm) split across threads give bit-identical results to one thread.
//!
//! One test in this file: the thread count is a setting of the whole program.

use backprop::prelude::*;
use backprop::{seeded, threads, AvgPool2d, BatchNorm, Stream};
use nalgebra::DMatrix;
use rand::RngExt;

/// Large enough that every layer's pass splits (each is ≥ 2¹⁵ values at batch 64).
fn network() -> Sequential<f64> {
    Sequential::<f64>::builder_shaped(Shape::Image { channels: 1, height: 28, width: 28 })
        .add(Conv2d::new(1, 8, (5, 5)).with_padding(1))
        .add(Relu)
        .add(MaxPool2d::new((2, 2)))
        .add(Conv2d::new(8, 8, (3, 3)).with_stride(2).without_bias())
        .add(BatchNorm::new(8))
        .add(Tanh)
        .add(AvgPool2d::new((2, 2)).with_stride(1))
        .add(MaxPool2d::new((3, 3)).with_stride(1))
        .add(GlobalAvgPool::new())
        .add(Dense::new(8, 10))
        .build(7)
        .unwrap()
}

#[test]
fn two_threads_give_the_bits_of_one() {
    let mut rng = seeded(3, Stream::Train);
    let x = DMatrix::<f64>::from_fn(64, 28 * 28, |_, _| rng.random_range(-1.0..1.0));
    let t = DMatrix::<f64>::from_fn(64, 1, |i, _| (i % 10) as f64);
    let run = |threads: usize| {
        threads::set(threads);
        let mut net = network();
        let grads = net.gradients(&x, &t, &SoftmaxCrossEntropy).unwrap();
        let mut config = FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01)).epochs(2).batch_size(16);
        net.fit(&x, &t, &mut config).unwrap();
        let y = net.predict(&x).unwrap();
        let grads: Vec<(String, DMatrix<f64>)> = grads.iter().map(|(p, g)| (p.to_string(), g.clone())).collect();
        (grads, y)
    };
    let (grads1, y1) = run(1);
    let (grads2, y2) = run(2);
    threads::set(0);
    assert!(!grads1.is_empty());
    for ((path, g1), (_, g2)) in grads1.iter().zip(&grads2) {
        let same = g1.iter().zip(g2.iter()).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "gradient {path} differs between one and two threads");
    }
    let same = y1.iter().zip(y2.iter()).all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(same, "predictions after training differ between one and two threads");
}
