//! The thread count changes speed, never results: training on 1, 2 and 3 threads gives the
//! same bits, for dense and convolutional networks, with SGD and Adam, in `f32` and `f64`; and
//! the count is set as documented.

use backprop::{
    threads, Adam, Conv2d, Dense, FitConfig, MaxPool2d, Network, Optimizer, Real, Relu, Sequential, Sgd, Shape,
    SoftmaxCrossEntropy,
};
use nalgebra::DMatrix;
use std::sync::Mutex;

/// The tests of this file one at a time: the thread count is the whole program's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// `rows` samples of `cols` irregular inputs in [−1, 1] and class indices of `classes` classes.
fn data<T: Real>(rows: usize, cols: usize, classes: usize) -> (DMatrix<T>, DMatrix<T>) {
    let x = DMatrix::from_fn(rows, cols, |i, j| T::cast((i as f64 * 0.7548776662 + j as f64 * 0.5698402910).sin()));
    let t = DMatrix::from_fn(rows, 1, |i, _| T::cast(((i * 7 + i / 3) % classes) as f64));
    (x, t)
}

/// Every parameter's bits after training.
fn bits<T: Real, N: Network<T>>(net: &N) -> Vec<u64> {
    net.params().iter().flat_map(|p| p.value().iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>()).collect()
}

/// The optimizers trained with: one without state (one pass per parameter) and one with two
/// buffers (a checking pass and a writing one).
fn optimizer<T: Real>(adam: bool) -> Box<dyn Optimizer<T>> {
    if adam {
        Box::new(Adam::new(0.001))
    } else {
        Box::new(Sgd::new(0.05))
    }
}

/// Trains a fresh network from `build` on `threads_count` threads; its parameters' bits.
fn trained<T: Real, N: Network<T>>(
    threads_count: usize,
    adam: bool,
    build: &dyn Fn() -> N,
    x: &DMatrix<T>,
    t: &DMatrix<T>,
) -> Vec<u64> {
    threads::set(threads_count);
    let mut net = build();
    let mut config = FitConfig::new(SoftmaxCrossEntropy, optimizer::<T>(adam)).epochs(2).batch_size(100).seed(3);
    net.fit(x, t, &mut config).expect("training runs");
    bits(&net)
}

/// 400-200-10: its products (100×400·400×200 and the gradients) are large enough to split, and
/// so are the optimizer's passes over its first weight (80 000 values).
fn dense<T: Real>() -> Sequential<T> {
    Sequential::builder(400).add(Dense::new(400, 200)).add(Relu).add(Dense::new(200, 10)).build(1).expect("builds")
}

/// A LeNet-like convolution: its im2col product at batch 100 (57600×25·25×8) and its weight
/// gradient (a long inner dimension, 57600) split.
fn conv<T: Real>() -> Sequential<T> {
    Sequential::builder_shaped(Shape::Image { channels: 1, height: 28, width: 28 })
        .add(Conv2d::new(1, 8, (5, 5)))
        .add(Relu)
        .add(MaxPool2d::new((2, 2)))
        .add(Dense::new(8 * 12 * 12, 10))
        .build(1)
        .expect("builds")
}

fn same_bits_on_any_thread_count<T: Real, N: Network<T>>(build: &dyn Fn() -> N, x: &DMatrix<T>, t: &DMatrix<T>) {
    for adam in [false, true] {
        let one = trained(1, adam, build, x, t);
        assert_ne!(one, bits(&build()), "training moved the parameters");
        for threads_count in [2, 3] {
            let many = trained(threads_count, adam, build, x, t);
            let differ = one.iter().zip(&many).filter(|(a, b)| a != b).count();
            assert_eq!((differ, many.len()), (0, one.len()), "{} adam={adam} on {threads_count} threads", T::NAME);
        }
    }
}

#[test]
fn dense_training_is_bit_identical_on_any_thread_count() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (x, t) = data::<f32>(300, 400, 10);
    same_bits_on_any_thread_count(&dense::<f32>, &x, &t);
    let (x, t) = data::<f64>(300, 400, 10);
    same_bits_on_any_thread_count(&dense::<f64>, &x, &t);
    threads::set(0);
}

#[test]
fn convolution_training_is_bit_identical_on_any_thread_count() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (x, t) = data::<f32>(200, 784, 10);
    same_bits_on_any_thread_count(&conv::<f32>, &x, &t);
    let (x, t) = data::<f64>(200, 784, 10);
    same_bits_on_any_thread_count(&conv::<f64>, &x, &t);
    threads::set(0);
}

#[test]
fn the_count_is_set_in_code_and_falls_back_to_the_default() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    threads::set(0);
    let default = threads::get();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let from_env =
        std::env::var(threads::ENV_VAR).ok().and_then(|v| v.trim().parse::<usize>().ok()).filter(|&n| n >= 1);
    assert_eq!(default, from_env.unwrap_or(cores).min(threads::max()), "BACKPROP_THREADS, else the machine's cores");
    // A count past max() is lowered to it (a million threads took minutes to start, or aborted).
    assert_eq!(threads::max(), (4 * cores).max(64));
    threads::set(usize::MAX);
    assert_eq!(threads::get(), threads::max());
    threads::set(3);
    assert_eq!(threads::get(), 3);
    assert_eq!(threads::install(|| 6 * 7), 42, "install runs the closure and returns its result");
    threads::set(1);
    assert_eq!(threads::get(), 1);
    threads::set(0);
    assert_eq!(threads::get(), default);
}
