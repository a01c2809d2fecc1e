//! MLP training benchmarks with exactly the definitions of `../shared/bench/mlp_numpy.py`, so the
//! numbers compare with NumPy's `train_s`. Run: `cargo bench --bench mlp` (filter:
//! `cargo bench --bench mlp -- digits`).
//!
//! Both cases: `in-128-10`, ReLU, [`SoftmaxCrossEntropy`] (mean over the batch), He-normal
//! weights, zero biases, plain SGD with learning rate 0.1, `f32`, a fresh shuffle every epoch.
//! Only `net.fit_samples` is timed (NumPy's `train_s`); building the network and the
//! configuration is not, nor is transposing the training inputs once when the data loads (NumPy's
//! rows are sample by sample as they load). `<case>-rows` times `net.fit` on the rows instead,
//! on the default thread count: it copies the data set sample by sample at every call. Each case prints its bench line, then the test accuracy of a trained network
//! (`<case> test_accuracy=<x>`), to compare with NumPy's `metric=test_accuracy:<x>`.
//!
//! - `digits-mlp`: the 8×8 digits, pixels / 16, rows `0..1437` (file order) train,
//!   `1437..1797` test; batch 32, 30 epochs.
//! - `mnist-mlp`: MNIST, pixels / 255, the 60000 training images, the 10000 test images;
//!   batch 100, 5 epochs. Skipped, with a line saying so, when the files are missing.
//! - `gemm-mnist-mlp-f32`: the floor for `mnist-mlp` — nalgebra's `gemm` alone for the five
//!   products of one training step at batch 100 (`x·W1`, `h·W2`, `hᵀ·g2`, `g2·W2ᵀ`, `xᵀ·g1`),
//!   operands contiguous (transposed once, outside the timing); each timed run is 50 steps. A
//!   second line gives the rate (GFLOP/s, from the median) and the floor: the 5-epoch run's
//!   products, 122.7 GFLOP, at that rate, in seconds.
//! - `dense-mnist-mlp-f32`: the same five products as this crate computes them — the two
//!   [`Dense`] layers' forward and backward (with their bias sums, without the first layer's
//!   input gradient), nothing else: no activation, loss, optimizer or data. 50 steps per run,
//!   inside one [`threads::install`] as `fit` runs its steps; the second line gives the rate and
//!   the floor it sets, as above.
//!
//! Thread counts ([`backprop::threads`]): `digits-mlp`, `mnist-mlp` and `dense-mnist-mlp-f32`
//! run on the default count (`BACKPROP_THREADS`, else the machine's cores), then again as
//! `<case>-threads1` and `<case>-threads2`. And per thread count:
//! - `mnist-step-b1-f32-threads<n>`: 2000 training steps (`train_step`, SGD) of 784-128-10 on
//!   one sample, then `…-floor-threads<n>`: the same steps' Dense products alone (forward and
//!   backward of both layers). A line `mnist-step-b1-f32 threads=<n> step_us=… floor_us=…
//!   step_per_floor=… floor_share=… floor_gflops=… allocations_per_step=…` follows: per-step
//!   medians, their ratio, and the heap allocations per step over the timed runs (a counting
//!   global allocator, read around the steps inside the thread pool; the warm-up's first steps
//!   are not counted).
//! - `mnist-step-b256-784-1024-10-f32-threads<n>`: the same for 784-1024-10 at batch 256, 5 steps
//!   per run.
//!
//! Data comes from [`data_dir`] (`$BACKPROP_DATA`, else `data/`).

// The step benches' `allocations_per_step`: the same counting allocator as the allocation test.
#[path = "../tests/support/counting_allocator.rs"]
mod counting_allocator;
mod harness;

use backprop::data::{data_dir, labels_column, load_mnist, read_digits};
use backprop::prelude::*;
use backprop::{seeded, threads, Stream};
use counting_allocator::allocations;
use harness::{Harness, Runs};
use nalgebra::DMatrix;
use std::time::{Duration, Instant};

/// Thread counts of the `-threadsN` variants.
const THREAD_COUNTS: [usize; 2] = [1, 2];

const HIDDEN: usize = 128;
const CLASSES: usize = 10;
const LEARNING_RATE: f64 = 0.1;

/// The digits split of `mlp_numpy.py`: the first 1437 rows train, the rest test.
const DIGITS_TRAIN_ROWS: usize = 1437;

/// mnist-mlp's recipe: batch 100, 5 epochs over 60000 images.
const MNIST_BATCH: usize = 100;
const MNIST_EPOCHS: usize = 5;
const MNIST_IN: usize = 784;

/// FLOP (2 per multiply-add) of one mnist-mlp training step per sample: the forward products,
/// the weight gradients and the hidden layer's input gradient — not the first layer's, which is
/// not needed: `2·(784·128 + 128·10)·3 − 2·784·128 = 409 088`.
const MNIST_FLOP_PER_SAMPLE: f64 = (2 * (MNIST_IN * HIDDEN + HIDDEN * CLASSES) * 3 - 2 * MNIST_IN * HIDDEN) as f64;

/// The whole mnist-mlp run's matrix-product work: 409 088 FLOP × 60000 samples × 5 epochs
/// = 122.7 GFLOP.
const MNIST_RUN_FLOP: f64 = MNIST_FLOP_PER_SAMPLE * 60_000.0 * MNIST_EPOCHS as f64;

/// The network of `mlp_numpy.py`: `inputs-128-10`, ReLU, He-normal weights, zero biases.
fn mlp(inputs: usize) -> Sequential<f32> {
    Sequential::<f32>::builder(inputs)
        .add(Dense::new(inputs, HIDDEN).with_init(Init::HeNormal))
        .add(Relu)
        .add(Dense::new(HIDDEN, CLASSES).with_init(Init::HeNormal))
        .build(0)
        .expect("the MLP builds")
}

/// One data set of a case: training and test inputs with their class-index columns.
struct Task {
    name: &'static str,
    x_train: DMatrix<f32>,
    /// `x_train` transposed: sample by sample, for `fit_samples`.
    xs_train: DMatrix<f32>,
    t_train: DMatrix<f32>,
    x_test: DMatrix<f32>,
    t_test: DMatrix<f32>,
    batch: usize,
    epochs: usize,
}

/// Times `net.fit` from a fresh network each run, then prints the test accuracy of a trained one:
/// as `task.name` on the default thread count, then as `<name>-threads1` and `-threads2`.
fn bench_task(harness: &Harness, task: &Task, runs: Runs) {
    bench_task_named(harness, task.name, task, runs, false);
    for count in THREAD_COUNTS {
        threads::set(count);
        bench_task_named(harness, &format!("{}-threads{count}", task.name), task, runs, false);
        threads::set(0);
    }
    bench_task_named(harness, &format!("{}-rows", task.name), task, runs, true);
}

/// Times `fit_samples` on the samples, or `fit` on the rows when `by_rows`.
fn bench_task_named(harness: &Harness, name: &str, task: &Task, runs: Runs, by_rows: bool) {
    if !harness.selected(name) {
        return;
    }
    let mut trained: Option<Sequential<f32>> = None;
    harness.bench_with_setup(
        name,
        runs,
        || {
            let sgd = Sgd::new(LEARNING_RATE);
            let config = FitConfig::new(SoftmaxCrossEntropy, sgd).epochs(task.epochs).batch_size(task.batch);
            (mlp(task.x_train.ncols()), config)
        },
        |(mut net, mut config)| {
            let history = if by_rows {
                net.fit(&task.x_train, &task.t_train, &mut config)
            } else {
                net.fit_samples(&task.xs_train, &task.t_train, &mut config)
            };
            let history = history.expect("the MLP trains");
            assert_eq!(history.epochs(), task.epochs);
            // Keep the first trained network (runs are deterministic); the others are dropped
            // by the harness, outside the timing.
            if trained.is_none() {
                trained = Some(net);
                None
            } else {
                Some(net)
            }
        },
    );
    if let Some(net) = trained {
        let test = net.evaluate(&task.x_test, &task.t_test, &SoftmaxCrossEntropy).expect("the MLP evaluates");
        println!("{name} test_accuracy={:.4}", test.accuracy);
    }
}

fn digits_task() -> Task {
    let (x, labels) = read_digits::<f32>(data_dir().join("digits.csv.gz")).expect("the digits load");
    let x = x / 16.0;
    let n = x.nrows();
    Task {
        name: "digits-mlp",
        x_train: x.rows(0, DIGITS_TRAIN_ROWS).into_owned(),
        xs_train: x.rows(0, DIGITS_TRAIN_ROWS).transpose(),
        t_train: labels_column(&labels[..DIGITS_TRAIN_ROWS]),
        x_test: x.rows(DIGITS_TRAIN_ROWS, n - DIGITS_TRAIN_ROWS).into_owned(),
        t_test: labels_column(&labels[DIGITS_TRAIN_ROWS..]),
        batch: 32,
        epochs: 30,
    }
}

fn mnist_task() -> Result<Task, backprop::Error> {
    let mnist = load_mnist::<f32>(data_dir().join("mnist"))?;
    Ok(Task {
        name: "mnist-mlp",
        xs_train: mnist.train_x.transpose() / 255.0,
        x_train: mnist.train_x / 255.0,
        t_train: labels_column(&mnist.train_labels),
        x_test: mnist.test_x / 255.0,
        t_test: labels_column(&mnist.test_labels),
        batch: MNIST_BATCH,
        epochs: MNIST_EPOCHS,
    })
}

/// nalgebra's `gemm` for the five products of one mnist-mlp training step, on contiguous
/// operands.
fn bench_gemm_floor(harness: &Harness) {
    const NAME: &str = "gemm-mnist-mlp-f32";
    if !harness.selected(NAME) {
        return;
    }
    let mut rng = seeded(0, Stream::Init);
    let mut random = |rows, cols| -> DMatrix<f32> {
        Init::Uniform { low: -1.0, high: 1.0 }.matrix(rows, cols, &mut rng).expect("small matrix")
    };
    let (b, i, h, c) = (MNIST_BATCH, MNIST_IN, HIDDEN, CLASSES);
    let (x, w1, w2, g2, g1) = (random(b, i), random(i, h), random(h, c), random(b, c), random(b, h));
    let (xt, ht, w2t) = (x.transpose(), random(h, b), w2.transpose());
    let (mut z1, mut z2) = (DMatrix::<f32>::zeros(b, h), DMatrix::<f32>::zeros(b, c));
    let (mut dw2, mut dh, mut dw1) = (DMatrix::<f32>::zeros(h, c), DMatrix::<f32>::zeros(b, h), DMatrix::zeros(i, h));
    let step_flop = 2.0 * (b * i * h + b * h * c + h * b * c + b * c * h + i * b * h) as f64;
    assert_eq!(step_flop, MNIST_FLOP_PER_SAMPLE * b as f64);
    bench_floor(harness, NAME, || {
        z1.gemm(1.0, &x, &w1, 0.0); // forward, layer 1
        z2.gemm(1.0, &z1, &w2, 0.0); // forward, layer 2 (h = relu(z1) in a real step)
        dw2.gemm(1.0, &ht, &g2, 0.0); // ∂E/∂W2 = hᵀ·g2
        dh.gemm(1.0, &g2, &w2t, 0.0); // ∂E/∂h = g2·W2ᵀ
        dw1.gemm(1.0, &xt, &g1, 0.0); // ∂E/∂W1 = xᵀ·g1
        dw1[(0, 0)]
    });
}

/// The two Dense layers of mnist-mlp alone, forward and backward, as `train_step` calls them:
/// on the default thread count, then on 1 and 2 (`-threads1`, `-threads2`).
fn bench_dense_floor(harness: &Harness) {
    bench_dense_floor_named(harness, "dense-mnist-mlp-f32");
    for count in THREAD_COUNTS {
        threads::set(count);
        bench_dense_floor_named(harness, &format!("dense-mnist-mlp-f32-threads{count}"));
        threads::set(0);
    }
}

fn bench_dense_floor_named(harness: &Harness, name: &str) {
    if !harness.selected(name) {
        return;
    }
    let mut rng = seeded(0, Stream::Init);
    let (b, i, h, c) = (MNIST_BATCH, MNIST_IN, HIDDEN, CLASSES);
    let mut layer1 = Dense::<f32>::new(i, h);
    let mut layer2 = Dense::<f32>::new(h, c);
    layer1.build(Shape::Flat(i), &mut rng).expect("layer 1 builds");
    layer2.build(Shape::Flat(h), &mut rng).expect("layer 2 builds");
    let mut random = |rows, cols| -> DMatrix<f32> {
        Init::Uniform { low: -1.0, high: 1.0 }.matrix(rows, cols, &mut rng).expect("small matrix")
    };
    let (x, g2, g1) = (random(b, i), random(b, c), random(b, h));
    let (mut z1, mut z2, mut dh) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    bench_floor(harness, name, || {
        layer1.forward(&x, &mut z1).expect("forward 1"); // x·W1 + b1
        layer2.forward(&z1, &mut z2).expect("forward 2"); // h·W2 + b2 (h = relu(z1) in a real step)
        layer2.backward(&z1, &z2, &g2, Some(&mut dh)).expect("backward 2"); // hᵀ·g2, g2·W2ᵀ
        layer1.backward(&x, &z1, &g1, None).expect("backward 1"); // xᵀ·g1
        dh[(0, 0)]
    });
}

/// Times `step` — one mnist-mlp training step's products — 50 steps a run, and prints the bench
/// line, then the rate (GFLOP/s, from the median) and the floor it sets for the 5-epoch run.
fn bench_floor(harness: &Harness, name: &str, mut step: impl FnMut() -> f32 + Send) {
    const REPS: usize = 50;
    // The harness prints the line; the rate needs the median too, so the routine clocks itself.
    let mut times: Vec<Duration> = Vec::new();
    let runs = Runs { warmup: 5, timed: 41 };
    harness.bench(name, runs, || {
        let start = Instant::now();
        // Inside the crate's pool, as `fit` runs its steps (its other threads kept awake).
        let last = threads::install(|| {
            let mut last = 0.0;
            for _ in 0..REPS {
                last = step();
            }
            last
        });
        times.push(start.elapsed());
        last
    });
    let mut timed = times.split_off(runs.warmup);
    timed.sort_unstable();
    let median = timed[timed.len() / 2].as_secs_f64();
    let step_flop = MNIST_FLOP_PER_SAMPLE * MNIST_BATCH as f64;
    let gflops = step_flop * REPS as f64 / median / 1e9;
    println!(
        "{name} steps_per_run={REPS} step_flop={step_flop:.0} gflops={gflops:.1} run_gflop={:.1} floor_s={:.3}",
        MNIST_RUN_FLOP / 1e9,
        MNIST_RUN_FLOP / 1e9 / gflops
    );
}

fn main() {
    let harness = Harness::from_args();
    // A task loads when any of its cases is asked for (`-- mnist-mlp-threads2` alone, too).
    let wanted =
        |task: &str| ["", "-threads1", "-threads2", "-rows"].iter().any(|s| harness.selected(&format!("{task}{s}")));
    if wanted("digits-mlp") {
        bench_task(&harness, &digits_task(), Runs { warmup: 2, timed: 15 });
    }
    if wanted("mnist-mlp") {
        match mnist_task() {
            Ok(task) => bench_task(&harness, &task, Runs { warmup: 1, timed: 3 }),
            Err(e) => println!("mnist-mlp skipped: {e}"),
        }
    }
    bench_gemm_floor(&harness);
    bench_dense_floor(&harness);
    for count in THREAD_COUNTS {
        threads::set(count);
        bench_step(&harness, &STEP_B1, count);
        bench_step(&harness, &STEP_B256, count);
        threads::set(0);
    }
}

/// A training step's shape: `inputs-hidden-classes`, ReLU, softmax cross-entropy, SGD.
struct StepCase {
    name: &'static str,
    batch: usize,
    hidden: usize,
    /// Steps per timed run.
    steps: usize,
}

/// One MNIST sample per step (784-128-10).
const STEP_B1: StepCase = StepCase { name: "mnist-step-b1-f32", batch: 1, hidden: HIDDEN, steps: 2000 };

/// A wide hidden layer at batch 256 (784-1024-10): products dominate the step.
const STEP_B256: StepCase = StepCase { name: "mnist-step-b256-784-1024-10-f32", batch: 256, hidden: 1024, steps: 5 };

/// Times `case.steps` training steps (`Network::train_step`, inside the crate's pool as `fit`
/// runs them) as `<name>-threads<count>`, then the same steps' Dense products alone (forward and
/// backward of both layers, no activation, loss or update: `<name>-floor-threads<count>`), and
/// prints one line with both medians per step, the floor's share of the step and the heap
/// allocations per steady-state step (counted over the timed runs).
fn bench_step(harness: &Harness, case: &StepCase, count: usize) {
    let name = format!("{}-threads{count}", case.name);
    let floor_name = format!("{}-floor-threads{count}", case.name);
    if !harness.selected(&name) && !harness.selected(&floor_name) {
        return;
    }
    let mut rng = seeded(0, Stream::Init);
    let (b, i, h, c) = (case.batch, MNIST_IN, case.hidden, CLASSES);
    let x = Init::Uniform { low: 0.0, high: 1.0 }.matrix(b, i, &mut rng).expect("small matrix");
    let t = DMatrix::from_fn(b, 1, |r, _| ((r * 7) % c) as f32);
    let mut net = Sequential::<f32>::builder(i)
        .add(Dense::new(i, h).with_init(Init::HeNormal))
        .add(Relu)
        .add(Dense::new(h, c).with_init(Init::HeNormal))
        .build(0)
        .expect("the MLP builds");
    let mut sgd = Sgd::new(LEARNING_RATE);
    let mut train_rng = seeded(0, Stream::Train);
    let runs = Runs { warmup: 3, timed: 21 };
    let (mut step_times, mut step_allocations) = (Vec::new(), Vec::new());
    harness.bench(&name, runs, || {
        let start = Instant::now();
        // Counted inside the pool: entering it from outside may allocate (once per `install`,
        // as once per `fit`), which is not a step's.
        let (loss, allocated) = threads::install(|| {
            let (mut loss, before) = (0.0, allocations());
            for _ in 0..case.steps {
                loss = net.train_step(&x, &t, &SoftmaxCrossEntropy, &mut sgd, &mut train_rng).expect("a step");
            }
            (loss, allocations() - before)
        });
        let elapsed = start.elapsed();
        step_times.push(elapsed);
        step_allocations.push(allocated);
        loss
    });
    // Steady state: the timed runs only (the warm-up's first steps size the buffers).
    let timed_allocations: usize = step_allocations.iter().skip(runs.warmup).sum();
    let per_step = timed_allocations as f64 / (runs.timed * case.steps) as f64;

    let mut layer1 = Dense::<f32>::new(i, h);
    let mut layer2 = Dense::<f32>::new(h, c);
    layer1.build(Shape::Flat(i), &mut rng).expect("layer 1 builds");
    layer2.build(Shape::Flat(h), &mut rng).expect("layer 2 builds");
    let mut random = |rows, cols| -> DMatrix<f32> {
        Init::Uniform { low: -1.0, high: 1.0 }.matrix(rows, cols, &mut rng).expect("small matrix")
    };
    let (g2, g1) = (random(b, c), random(b, h));
    let (mut z1, mut z2, mut dh) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    let mut floor_times = Vec::new();
    harness.bench(&floor_name, runs, || {
        let start = Instant::now();
        let last = threads::install(|| {
            for _ in 0..case.steps {
                layer1.forward(&x, &mut z1).expect("forward 1");
                layer2.forward(&z1, &mut z2).expect("forward 2");
                layer2.backward(&z1, &z2, &g2, Some(&mut dh)).expect("backward 2");
                layer1.backward(&x, &z1, &g1, None).expect("backward 1");
            }
            dh[(0, 0)]
        });
        floor_times.push(start.elapsed());
        last
    });
    let median_us = |times: &mut Vec<Duration>| {
        let mut timed = times.split_off(runs.warmup.min(times.len()));
        timed.sort_unstable();
        timed.get(timed.len() / 2).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6 / case.steps as f64)
    };
    let (step_us, floor_us) = (median_us(&mut step_times), median_us(&mut floor_times));
    let flop = 2.0 * (b * i * h + b * h * c + h * b * c + b * c * h + i * b * h) as f64;
    println!(
        "{} threads={count} step_us={step_us:.2} floor_us={floor_us:.2} step_per_floor={:.2} floor_share={:.2} floor_gflops={:.1} allocations_per_step={per_step:.2}",
        case.name,
        step_us / floor_us,
        floor_us / step_us,
        flop / floor_us / 1e3,
    );
}
