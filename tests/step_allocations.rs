//! A steady-state training step allocates nothing: after warm-up steps have sized every buffer,
//! `train_step` and `fit` make no heap allocation per step — for Dense, every activation, Softmax,
//! Dropout, every loss, every optimizer, both kinds of weight decay, in `f32` and `f64`, on one
//! thread and on two (products large enough to split across threads are included).
//!
//! A counting global allocator counts every allocation of the process. All cases run in one
//! `#[test]`, one after another, so that no other test allocates while one is counted.

use backprop::prelude::*;
use backprop::{seeded, threads, Init, LeakyRelu, Loss, Optimizer, Real, Softmax, Stream};
use nalgebra::DMatrix;

#[path = "support/counting_allocator.rs"]
mod counting_allocator;

use counting_allocator::allocations;

/// The optimizers, each with the weight decay given.
fn optimizers<T: Real>(decay: WeightDecay) -> Vec<(&'static str, Box<dyn Optimizer<T>>)> {
    let lr = 0.01;
    vec![
        ("sgd", Box::new(Sgd::new(lr).with_weight_decay(decay))),
        ("momentum", Box::new(Momentum::new(lr).with_weight_decay(decay))),
        ("nesterov", Box::new(Nesterov::new(lr).with_weight_decay(decay))),
        ("adagrad", Box::new(AdaGrad::new(lr).with_weight_decay(decay))),
        ("rmsprop", Box::new(RmsProp::new(lr).with_weight_decay(decay))),
        ("adam", Box::new(Adam::new(lr).with_weight_decay(decay))),
        ("adamw", Box::new(AdamW::new(lr).with_weight_decay(decay.lambda()))),
    ]
}

/// A network with every activation, Softmax and Dropout between Dense layers: `inputs` →
/// `hidden` → … → `classes` outputs.
fn network<T: Real>(inputs: usize, hidden: usize, classes: usize, softmax_layer: bool) -> Sequential<T> {
    let mut builder = Sequential::<T>::builder(inputs)
        .add(Dense::new(inputs, hidden))
        .add(Relu)
        .add(Dropout::new(0.2).expect("a valid rate"))
        .add(Dense::new(hidden, hidden))
        .add(Tanh)
        .add(Dense::new(hidden, hidden))
        .add(Sigmoid)
        .add(Dense::new(hidden, hidden))
        .add(LeakyRelu { alpha: 0.01 })
        .add(Dense::new(hidden, hidden))
        .add(Identity)
        .add(Dense::new(hidden, classes));
    if softmax_layer {
        builder = builder.add(Softmax);
    }
    builder.build(7).expect("the network builds")
}

/// A batch of `rows` inputs in [0, 1) and class targets (as indices) or one-hot rows.
fn data<T: Real>(rows: usize, inputs: usize, classes: usize, one_hot: bool) -> (DMatrix<T>, DMatrix<T>) {
    let mut rng = seeded(3, Stream::Init);
    let x = Init::Uniform { low: 0.0, high: 1.0 }.matrix(rows, inputs, &mut rng).expect("a small matrix");
    let t = if one_hot {
        DMatrix::from_fn(rows, classes, |r, c| if (r * 7) % classes == c { T::one() } else { T::zero() })
    } else {
        DMatrix::from_fn(rows, 1, |r, _| T::cast(((r * 7) % classes) as f64))
    };
    (x, t)
}

/// The fewest allocations in a window of 10 `train_step` calls, of three windows after three
/// warm-up steps, on `thread_count` threads (inside the crate's pool, as `fit` runs them).
///
/// The fewest, because the count is process-wide: a thread starting in the background (the
/// pool's, or the test harness's) may allocate once during a window. An allocation per step
/// shows in every window.
fn step_allocations<T: Real>(
    net: &mut Sequential<T>,
    (x, t): (&DMatrix<T>, &DMatrix<T>),
    loss: &dyn Loss<T>,
    optimizer: &mut dyn Optimizer<T>,
    thread_count: usize,
) -> usize {
    threads::set(thread_count);
    let mut rng = seeded(5, Stream::Train);
    threads::install(|| {
        for _ in 0..3 {
            net.train_step(x, t, loss, optimizer, &mut rng).expect("a warm-up step");
        }
        let mut fewest = usize::MAX;
        for _ in 0..3 {
            let before = allocations();
            for _ in 0..10 {
                net.train_step(x, t, loss, optimizer, &mut rng).expect("a step");
            }
            fewest = fewest.min(allocations() - before);
        }
        fewest
    })
}

/// A loss to train with: its name, the loss, whether the network ends with a Softmax layer, and
/// whether the targets are one-hot rows.
type LossCase<T> = (&'static str, Box<dyn Loss<T>>, bool, bool);

/// Every layer kind, loss and optimizer (with each weight decay): no allocation in 10 steps.
fn train_steps_allocate_nothing<T: Real>() {
    let mut failures = Vec::new();
    // Small (products on one thread) and large enough for the first layer's products to split
    // across two threads (batch 256, 784 → 256: 51 M multiply-adds).
    for (rows, inputs, hidden, thread_count) in [(16, 12, 10, 1), (16, 12, 10, 2), (256, 784, 256, 2)] {
        let cases: [LossCase<T>; 3] = [
            ("softmax-ce", Box::new(SoftmaxCrossEntropy), false, false),
            ("squared-error+softmax", Box::new(SquaredError::half_sum()), true, true),
            ("bce", Box::new(BinaryCrossEntropy), false, true),
        ];
        // The large shape once per optimizer: it is there for the split products.
        let large = rows > 16;
        for (loss_name, loss, softmax_layer, one_hot) in cases.into_iter().take(if large { 1 } else { 3 }) {
            let classes = if loss_name == "bce" { 1 } else { 4 };
            let (x, t) = data::<T>(rows, inputs, classes, one_hot);
            let t = if loss_name == "bce" { t.map(|v| if v > T::one() { T::one() } else { v }) } else { t };
            let decays = [WeightDecay::L2(1e-4), WeightDecay::None, WeightDecay::Decoupled(1e-4)];
            for decay in decays.into_iter().take(if large { 1 } else { 3 }) {
                for (name, mut optimizer) in optimizers::<T>(decay) {
                    let mut net = network::<T>(inputs, hidden, classes, softmax_layer);
                    let count = step_allocations(&mut net, (&x, &t), loss.as_ref(), optimizer.as_mut(), thread_count);
                    if count != 0 {
                        failures.push(format!(
                            "{} {rows}x{inputs}-{hidden} threads={thread_count} {loss_name} {name} {decay:?}: {count} allocations in 10 steps",
                            T::NAME
                        ));
                    }
                }
            }
        }
    }
    threads::set(0);
    assert!(failures.is_empty(), "steps that allocate:\n{}", failures.join("\n"));
}

/// `fit`'s allocations do not grow with its number of steps: 64 rows in batches of 4 (16 steps
/// an epoch) allocate exactly as often as in batches of 32 (2 steps an epoch), for 3 epochs.
fn fit_allocations_do_not_grow_with_steps<T: Real>() {
    fn check<T: Real, O: Optimizer<T> + 'static>(name: &str, optimizer: impl Fn() -> O) {
        let (x, t) = data::<T>(64, 12, 4, false);
        let fit_allocations = |batch: usize| {
            let mut net = network::<T>(12, 10, 4, false);
            let mut config = FitConfig::new(SoftmaxCrossEntropy, optimizer()).epochs(3).batch_size(batch).seed(1);
            let before = allocations();
            net.fit(&x, &t, &mut config).expect("fit");
            allocations() - before
        };
        // Once before counting: the first `fit` of a process sets up what every `fit` shares.
        fit_allocations(32);
        let (few, many) = (fit_allocations(32), fit_allocations(4));
        assert_eq!(many, few, "{} {name}: fit with 48 steps allocated {many} times, with 6 steps {few} times", T::NAME);
    }
    threads::set(1);
    let (lr, decay) = (0.01, WeightDecay::L2(1e-4));
    check::<T, _>("sgd", || Sgd::new(lr).with_weight_decay(decay));
    check::<T, _>("momentum", || Momentum::new(lr).with_weight_decay(decay));
    check::<T, _>("nesterov", || Nesterov::new(lr).with_weight_decay(decay));
    check::<T, _>("adagrad", || AdaGrad::new(lr).with_weight_decay(decay));
    check::<T, _>("rmsprop", || RmsProp::new(lr).with_weight_decay(decay));
    check::<T, _>("adam", || Adam::new(lr).with_weight_decay(decay));
    check::<T, _>("adamw", || AdamW::new(lr).with_weight_decay(1e-4));
    threads::set(0);
}

#[test]
fn steady_state_steps_allocate_nothing() {
    train_steps_allocate_nothing::<f32>();
    train_steps_allocate_nothing::<f64>();
    fit_allocations_do_not_grow_with_steps::<f32>();
    fit_allocations_do_not_grow_with_steps::<f64>();
    installs_allocate_only_queue_blocks();
}

/// `threads::install` itself allocates nothing once the pool is built (on 2 threads, where it
/// keeps the other thread awake): its helpers are jobs on the stack. Called from outside the
/// pool it hands its job to rayon's queue, which allocates a block of it every 63 jobs or so
/// (200 installs: 3 allocations) — far below one per install (5 each with a `rayon::scope` and
/// an uncached core count, tried). A loop of steps inside one install allocates nothing.
fn installs_allocate_only_queue_blocks() {
    threads::set(2);
    threads::install(|| ()); // builds the pool
    let before = allocations();
    for i in 0..200 {
        std::hint::black_box(threads::install(|| std::hint::black_box(i) * 2));
    }
    let allocated = allocations() - before;
    threads::set(0);
    assert!(allocated < 10, "200 installs allocated {allocated} times");
}
